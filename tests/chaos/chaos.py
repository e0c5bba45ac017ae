#!/usr/bin/env python3
"""tests/chaos/chaos.py - a real minqing-server and real `minqing` tablets
through randomised rounds of edits, deletes, need actions and syncs while
faults strike, then a check that every replica holds what the changes say.

    python3 chaos.py MINQING MINQING_SERVER GEN_CARDS
            [--seed S] [--rounds N] [--tablets N] [--hours H] [--threads]
            [--disk auto|tmpfs|ulimit] [--moves] [--keep]

The data: three villages of gen_cards.py's county, 12 households each.  Six
tablets with overlapping areas: two of village A, one of B, one of two
groups of A plus village C, one of C, one of the county.

The faults:
  - each tablet syncs through its own fault proxy on loopback (proxy.py):
    resets, uploads cut short, truncated and reset answers, stalls (one of
    them past the client's 30 s low-speed time-out), 502 Bad Gateway;
  - kill -9 of tablet commands (syncs, edits, imports) at random instants,
    and of the server in the middle of a tablet's sync, restarted after a
    random pause on the same port, now and then with its clock off by
    hours or a day; two syncs of one tablet at once, now and then;
  - a full disk on two tablets and on the server: their files live in a
    small tmpfs that is filled up (when root: mount -t tmpfs, inside a
    private mount namespace so that nothing stays mounted), or else the
    process runs with RLIMIT_FSIZE just past its write-ahead log and
    SIGXFSZ ignored, so writes fail with EFBIG; the run says which;
  - clocks off by days (libfaketime, preloaded): a tablet three days
    ahead, one two days behind, one whose clock jumps between rounds.

Every round, each tablet makes a few changes, each through one `minqing`
command, and usually syncs.  The tablets take turns, so that a seed replays
the run: the same plan of faults, the same choices of changes, the same
draws of the proxies (reseeded at each sync); only what depends on timing
(how far a process got when it was killed) can differ.  With --threads they
run at once, one thread each, and the server serves them concurrently: the
seed then replays the plan, not the interleaving.

What is checked, along the way:
  - after every command, the new changes of the tablet's log (`changes
    --since`): a command that failed (not killed) wrote none; a killed
    import wrote all its changes or none; a sync wrote no local change;
    the versions a tablet makes only grow, whatever its clock does; no
    version arrives twice; every exit code is one the faults explain, and
    no process dies of a signal it was not sent;
and after a last fault-free sync of every tablet, twice:
  - every change a command reported committed (exit 0) is in the server's
    log, and in the log of every tablet whose areas hold its record; no log
    holds a version twice, and a version means the same change in every
    log that holds it; no change was refused;
  - the oracle (oracle.py) folds the union of every replica's log; each
    replica's export equals it within the replica's areas, its conflict
    list equals the oracle's conflicts of its records, and it holds no
    change outside its areas;
  - replicas enrolled for the same areas export the same records; every
    store passes `minqing check`; the needs' folded status agrees between
    the server and every tablet;
  - the check is not blind: a copy of a tablet's store with one field
    changed behind its back differs from the oracle and fails `check`.

--moves also moves households between groups, into and out of tablets'
areas: what a tablet holds of a record that left its areas is not decided
yet (issue 8), so this finds that and is left out of CI.

A failing run prints its seed and the command that replays it, and keeps
its work folder (the stores of a tmpfs are copied out to kept/).  CI runs a
bounded number of rounds; --hours runs one run after another (seeds S,
S+1, ...) until the time is up.
"""
import argparse
import atexit
import json
import os
import random
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import oracle  # noqa: E402
from proxy import FaultProxy  # noqa: E402

for _v in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_v, None)
os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"
os.environ.pop("MINQING_DB", None)

# In a sanitizer build, libfaketime is preloaded ahead of the ASan runtime.
os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"

FAULTS = {"reset": 0.05, "cut_up": 0.05, "truncate": 0.06, "rst_down": 0.04, "stall": 0.05,
          "bad_gw": 0.05}
CMD_TIMEOUT = 180  # no command may take longer: a hang is a finding
PHONES = "3456789"


def _faketime_lib():
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
              "/usr/local/lib"):
        p = os.path.join(d, "faketime", "libfaketime.so.1")
        if os.path.exists(p):
            return p
    return None


FAKETIME_LIB = _faketime_lib()
TAGS = ["低保户", "五保户", "脱贫户", "监测户", "残疾人户", "留守老人", "留守儿童", "军属", "特困户"]


class Finding(Exception):
    """Something the store, the server or the client got wrong."""


def log(*a):
    print(*a, flush=True)


def read_jsonl(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def id_number(rng):
    """A resident identity number with a valid GB 11643 check digit."""
    body = "532327%04d%02d%02d%03d" % (rng.randint(1940, 2000), rng.randint(1, 12),
                                       rng.randint(1, 28), rng.randint(1, 999))
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(body, weights))
    return body + "10X98765432"[total % 11]


def phone(rng):
    return "1%s%09d" % (rng.choice(PHONES), rng.randrange(10 ** 9))


def day(rng):
    return "2012-%02d-%02d" % (rng.randint(1, 12), rng.randint(1, 28))


# ---------------------------------------------------------------- processes


def run(cmd, input=None, env=None, kill_after=None, fsize=None, timeout=CMD_TIMEOUT):
    """Runs one command; returns (rc, stdout, stderr, killed).  kill_after:
    kill -9 it after that many seconds if it is still running.  fsize: run it
    with RLIMIT_FSIZE at that many bytes and SIGXFSZ ignored."""

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env,
                         preexec_fn=limit if fsize is not None else None)
    data = input.encode() if isinstance(input, str) else input
    killed = False
    try:
        out, err = p.communicate(data, timeout=kill_after if kill_after is not None else timeout)
    except subprocess.TimeoutExpired:
        if kill_after is None:
            p.kill()
            p.communicate()
            raise Finding("hang: %s ran past %d s" % (" ".join(cmd[-4:]), timeout))
        p.send_signal(signal.SIGKILL)
        out, err = p.communicate()
        killed = p.returncode == -signal.SIGKILL
    return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), killed


class Disk:
    """A folder whose file system can be made full: a small tmpfs that is
    filled up (mode tmpfs) or, for mode ulimit, a file size limit that the
    processes writing there get while the disk is full."""

    def __init__(self, run_, name, mode, size_mb):
        self.path = os.path.join(run_.work, name)
        os.makedirs(self.path)
        self.mode = mode
        self.full = False
        self.filler = os.path.join(self.path, "filler")
        self.episodes = 0
        if mode == "tmpfs":
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % size_mb, "tmpfs",
                                self.path], capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("mount tmpfs: " + r.stderr.strip())
            run_.mounts.append(self.path)

    def fill(self, rng):
        self.full = True
        self.episodes += 1
        if self.mode != "tmpfs":
            return
        chunk = b"\0" * 65536
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            while os.write(fd, chunk) > 0:
                pass
        except OSError:
            pass  # ENOSPC: full
        finally:
            os.close(fd)
        # Leave a little room, sometimes: some writes succeed, the next fail.
        size = os.path.getsize(self.filler)
        os.truncate(self.filler, max(0, size - rng.choice([0, 0, 4096, 32768])))

    def free(self):
        self.full = False
        if os.path.exists(self.filler):
            os.unlink(self.filler)

    def fsize(self, db, rng):
        """The RLIMIT_FSIZE of a process writing store `db` here now, or
        None: a little past the end of its write-ahead log, where a commit
        writes (the limit holds for every file the process writes: the
        store itself, whose checkpoint writes past it, fails too)."""
        if self.mode != "ulimit" or not self.full:
            return None
        wal = os.path.join(self.path, db + "-wal")
        size = os.path.getsize(wal) if os.path.exists(wal) else 0
        return size + rng.choice([0, 4096, 16384, 65536])


# ---------------------------------------------------------------- server


class Server:
    def __init__(self, run_, disk):
        self.r = run_
        self.disk = disk
        self.db = os.path.join(disk.path, "server.db")
        self.log = os.path.join(run_.work, "server.log")
        self.proc = None
        self.port = 0
        self.url = None
        self.lock = threading.Lock()
        self.kills = 0
        self.restarts_refused = 0
        self.stopped = False  # stopped by SIGTERM, on purpose

    def cli(self, *args):
        rc, out, err, _ = run([self.r.server_bin, "--db", self.db] + list(args))
        if rc != 0:
            raise Finding("minqing-server %s: exit %d: %s" % (" ".join(args), rc, err))
        return out

    def start(self, rng=None, clock=None):
        """Starts `serve` on the same port as before, its clock off by
        `clock` (a libfaketime offset) if given.  Returns False when the
        server would not start (on a full disk), True when it is healthy."""
        limit = self.disk.fsize("server.db", rng or random.Random(0))
        env = dict(os.environ)
        if clock:
            env.update(LD_PRELOAD=FAKETIME_LIB, FAKETIME=clock)
        args = [self.r.server_bin, "--db", self.db, "serve", "--listen",
                "127.0.0.1:%d" % self.port]

        def pre():
            if limit is not None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        for attempt in range(50):
            out = open(self.log, "a")
            p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=out, stdin=subprocess.DEVNULL,
                                 preexec_fn=pre, env=env)
            out.close()
            line = p.stdout.readline().decode()
            if "listening on" in line:
                break
            p.wait()
            if self.disk.full:
                self.restarts_refused += 1
                return False
            # The port may linger a moment after a kill -9.
            time.sleep(0.1)
        else:
            raise Finding("the server does not start: %r (see %s)" % (line, self.log))
        self.stopped = False
        # Drain stdout so that the server never blocks on a full pipe.
        threading.Thread(target=p.stdout.read, daemon=True).start()
        self.proc = p
        atexit.register(self._reap, p)
        self.url = line.split("listening on ")[1].split()[0]
        self.port = int(self.url.rsplit(":", 1)[1])
        end = time.time() + 20
        while time.time() < end:
            try:
                with urllib.request.urlopen(self.url + "/v1/health", timeout=2) as resp:
                    if resp.status == 200:
                        return True
            except Exception:
                time.sleep(0.05)
        raise Finding("the server never became healthy")

    @staticmethod
    def _reap(p):
        if p.poll() is None:
            p.kill()
            p.wait()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.kills += 1

    def crashed(self):
        """A server that died by itself is a finding."""
        if self.proc is not None and self.proc.poll() is not None and \
                self.proc.returncode != -signal.SIGKILL and not self.stopped:
            raise Finding("the server exited by itself with %d (see %s)" %
                          (self.proc.returncode, self.log))

    def kill_and_restart(self, down_s, rng):
        """kill -9, and a restart after down_s seconds; now and then the
        server comes back with its clock off (a county server whose clock
        was set wrong), until its next restart."""
        with self.lock:
            self.crashed()
            self.kill9()
            time.sleep(down_s)
            clock = rng.choice([None, None, None, "-1d", "+1d", "-2h", "+6h"])
            if clock:
                self.r.count("server_clock_off")
            self.start(rng, clock)

    def ensure_up(self, rng):
        with self.lock:
            self.crashed()
            if not self.running():
                self.start(rng)

    def restart(self, rng):
        with self.lock:
            self.crashed()
            self.kill9()
            self.start(rng)

    def stop(self):
        with self.lock:
            self.crashed()
            if self.running():
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(20)
                except subprocess.TimeoutExpired:
                    self.kill9()
                    raise Finding("the server did not stop on SIGTERM")
                if self.proc.returncode != 0:
                    raise Finding("the server exited %d on SIGTERM" % self.proc.returncode)
                self.stopped = True

    def enroll(self, device, areas):
        args = ["device", "add", device]
        for a in areas:
            args += ["--area", a]
        tok = self.cli(*args).strip()
        if not tok.startswith("mqt_"):
            raise Finding("device add printed %r" % tok)
        return tok


# ---------------------------------------------------------------- tablets


class Tablet:
    def __init__(self, run_, idx, name, roots, folder, disk=None, clock=None):
        self.r = run_
        self.idx = idx
        self.name = name
        self.roots = set(roots)
        self.disk = disk
        self.db = os.path.join(folder, name + ".db")
        self.clock = clock  # None, a fixed faketime offset, or "jump"
        self.now_clock = None if clock == "jump" else clock
        self.rng = random.Random("%d-%s" % (run_.seed, name))
        self.proxy = FaultProxy(run_.server.port, "%d-%s-proxy" % (run_.seed, name))
        self.token = None
        self.cursor = 0
        self.log = {}  # every change seen in this tablet's log, by version
        self.committed = {}  # version -> what committed it
        self.view = {}
        self.batch = self.rng.choice(["7", "40", "500"])
        self.stats = {}
        self.unread = []  # commands whose changes are not looked at yet
        self.absorbing = threading.Lock()
        self.last_local = ""  # the greatest version made here so far
        self.made = set()  # every version made here

    def count(self, key):
        self.stats[key] = self.stats.get(key, 0) + 1

    def note(self, text):
        """Something worth telling, once per run."""
        with self.r.lock:
            self.r.notes.setdefault(text, self.name)

    def env(self):
        e = dict(os.environ)
        e.update({"MINQING_SYNC_BATCH": self.batch, "MINQING_SYNC_RETRY_MS": "6000",
                  "MINQING_SYNC_BACKOFF_MS": "100"})
        return e

    def cmd(self, args, input=None, kill_after=None, faults=True):
        """One `minqing` command on this tablet, with this round's clock and
        disk; returns (rc, out, err, killed, new_local_changes)."""
        env = self.env()
        if faults and self.now_clock:
            # libfaketime preloaded, not the faketime program: that one forks,
            # and a kill -9 would reach it and not minqing.
            env["LD_PRELOAD"] = FAKETIME_LIB
            env["FAKETIME"] = self.now_clock
            # A date set by hand moves the wall clock only.
            env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
        fsize = self.disk.fsize(self.name + ".db", self.rng) if (faults and self.disk) else None
        rc, out, err, killed = run([self.r.minqing, "--db", self.db] + list(args),
                                   input=input, env=env, kill_after=kill_after, fsize=fsize)
        if rc < 0 and not killed:
            raise Finding("%s: minqing %s died of signal %d\n%s" %
                          (self.name, " ".join(args[:2]), -rc, err[-2000:]))
        return rc, out, err, killed, self.absorb((args[0], rc, killed))

    def quiet(self, *args, input=None):
        """A command that must work (no faults): returns stdout."""
        rc, out, err, _ = run([self.r.minqing, "--db", self.db] + list(args), input=input,
                              env=self.env())
        if rc != 0:
            raise Finding("%s: minqing %s: exit %d: %s" % (self.name, " ".join(args), rc,
                                                            err[-2000:]))
        return out

    def absorb(self, command=None):
        """Reads the changes that reached this tablet's log since the last
        look; returns the new ones made here by `command` (name, rc,
        killed), or None when that cannot be told: the store could not be
        read on a full disk, and the changes of the commands run meanwhile
        are looked at together once it can be."""
        with self.absorbing:
            return self._absorb(command)

    def _absorb(self, command):
        try:
            out = self.quiet("changes", "--since", str(self.cursor))
        except Finding as e:
            if not (self.disk and self.disk.full) or command is None:
                raise
            self.unread.append(command)
            self.count("read_failed_full_disk")
            self.note("on a full disk, changes fails: %s" %
                      str(e).splitlines()[-1].split(": ", 2)[-1])
            return None
        lines = read_jsonl(out)
        if not lines or lines[0].get("minqing") != "bundle" or not lines[-1].get("end"):
            raise Finding("%s: changes printed no whole bundle" % self.name)
        mine = []
        for c in lines[1:-1]:
            v = c["v"]
            if v in self.log:
                raise Finding("%s: version %s arrived twice in its log" % (self.name, v))
            self.log[v] = c
            if v.split("-", 1)[1] == self.name:
                # A version is never made twice.  The stamps may step back
                # once sync has corrected a clock that ran ahead (STORE.md,
                # "Clocks"), but never onto a version already made here.
                if v in self.made:
                    raise Finding("%s: version %s was made twice" % (self.name, v))
                self.made.add(v)
                self.last_local = max(self.last_local, v)
                mine.append(c)
        if lines[-1]["changes"] != len(lines) - 2:
            raise Finding("%s: bundle end line counts %d changes, %d given" %
                          (self.name, lines[-1]["changes"], len(lines) - 2))
        self.cursor = lines[-1]["next"]
        if self.unread:
            group = self.unread + ([command] if command else [])
            self.unread = []
            if mine and not any(rc == 0 or killed for _, rc, killed in group):
                raise Finding("%s: commands that failed on a full disk %s wrote %d changes" %
                              (self.name, group, len(mine)))
            for c in mine:
                self.committed[c["v"]] = "%s: one of %s on a full disk" % (self.name, group)
            return None
        return mine

    def read(self, *args):
        """A command that reads: its lines, or None when it failed on a full disk."""
        try:
            return read_jsonl(self.quiet(*args))
        except Finding:
            if self.disk and self.disk.full:
                self.count("read_failed_full_disk")
                return None
            raise

    def refresh(self):
        recs = self.read("export")
        if recs is None:
            return False
        self.view = {r["id"]: r for r in recs}
        return True

    def of_type(self, t):
        return sorted(rid for rid, r in self.view.items() if r["type"] == t)

    # ---- the changes a cadre makes

    def op(self):
        rng = self.rng
        kind = rng.choices(
            ["hh_edit", "member_new", "member_edit", "member_delete", "need_new", "need_action",
             "visit", "import", "hh_delete", "hh_new", "resolve", "hh_move"],
            [30, 8, 10, 5, 6, 14, 6, 5, 1, 2, 4, 3 if self.r.o.moves else 0])[0]
        hh = self.of_type("household")
        hot = [h for h in hh if h in self.r.hot]
        cadres = self.of_type("cadre")
        if not hh or not cadres:
            return
        target = rng.choice(hot if hot and rng.random() < 0.7 else hh)
        args, body, expect = None, None, 1
        if kind == "hh_edit":
            f = rng.choice(["phone", "size", "labor", "income_per_capita_yuan", "address", "tags"])
            v = {"phone": phone(rng), "size": rng.randint(1, 9), "labor": rng.randint(0, 9),
                 "income_per_capita_yuan": rng.randint(1000, 9000),
                 "address": "永仁县%d号" % rng.randint(1, 500),
                 "tags": sorted(rng.sample(TAGS, rng.randint(0, 3)))}[f]
            args, body = ["put", "household", "--id", target], {f: v}
        elif kind == "member_new":
            args = ["put", "member"]
            body = {"household": target, "name": "新成员%d" % rng.randint(1, 999),
                    "relation": rng.choice(["子", "女", "配偶"]), "sex": rng.choice("MF")}
        elif kind in ("member_edit", "member_delete"):
            ms = self.of_type("member")
            if not ms:
                return
            m = rng.choice(ms)
            if kind == "member_delete":
                args = ["delete", m]
            else:
                f = rng.choice(["phone", "occupation", "health"])
                v = {"phone": phone(rng), "occupation": rng.choice(["务农", "外出务工", "无"]),
                     "health": rng.choice(["健康", "慢性病", "大病"])}[f]
                args, body = ["put", "member", "--id", m], {f: v}
        elif kind == "need_new":
            args = ["put", "need"]
            rec = day(rng)
            body = {"household": target, "category": rng.choice(["housing", "medical", "other"]),
                    "description": "混沌测试 %s" % self.name, "recorded_by": rng.choice(cadres),
                    "recorded_at": rec, "deadline": "2013-01-%02d" % rng.randint(1, 28)}
        elif kind == "need_action":
            needs = self.of_type("need")
            if not needs:
                return
            act = rng.choice(["accept", "progress", "resolve", "reopen", "transfer"])
            body = {"need": rng.choice(needs), "action": act, "by": rng.choice(cadres),
                    "at": day(rng), "note": "%s 第%d轮" % (self.name, self.r.round)}
            if act == "resolve":
                body["satisfaction"] = rng.choice(["satisfied", "unsatisfied"])
            args = ["put", "need_action"]
        elif kind == "visit":
            args = ["put", "visit"]
            body = {"household": target, "cadre": rng.choice(cadres), "at": day(rng),
                    "kind": rng.choice(["home_visit", "talk"]), "notes": "走访 %s" % self.name}
        elif kind == "import":
            if not self.refresh():
                return
            hh = self.of_type("household")
            picks = rng.sample(hh, min(len(hh), rng.randint(2, 5)))
            path = os.path.join(self.r.work, "%s-import.jsonl" % self.name)
            with open(path, "w") as f:
                for h in picks:
                    r = self.view[h]
                    r["fields"]["phone"] = phone(rng)
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
            args, expect = ["import", path], len(picks)
        elif kind == "hh_delete":
            args = ["delete", rng.choice(hh)]
        elif kind == "hh_move":
            groups = [a for a in self.of_type("area")
                      if self.view[a]["fields"]["level"] == "group"]
            args, body = ["put", "household", "--id", target], {"area": rng.choice(groups)}
        elif kind == "hh_new":
            groups = [a for a in self.of_type("area")
                      if self.view[a]["fields"]["level"] == "group"]
            if not groups:
                return
            args = ["put", "household"]
            body = {"area": rng.choice(groups), "head_name": "新户%d" % rng.randint(1, 999),
                    "head_id_number": id_number(rng), "size": 1}
        elif kind == "resolve":
            cs = self.read("conflicts")
            if not cs:
                return
            c = rng.choice(cs)
            keep = rng.choice(c["candidates"])["value"]
            args = ["resolve", c["conflict"], "--keep", json.dumps(keep, ensure_ascii=False)]
        kill = rng.uniform(0.0, 0.06) if rng.random() < 0.04 else None
        data = json.dumps(body, ensure_ascii=False) if body is not None else None
        rc, out, err, killed, mine = self.cmd(args, input=data, kill_after=kill)
        self.judge_op(kind, args, rc, err, killed, mine, expect)
        if rc == 0 and kind in ("member_new", "need_new", "hh_new") and mine:
            rid = out.strip()
            self.view[rid] = {"type": mine[0]["type"], "id": rid, "fields": body}
        if rc == 0 and args[0] == "delete":
            self.view.pop(args[1], None)

    def judge_op(self, kind, args, rc, err, killed, mine, expect):
        what = "%s r%d %s" % (self.name, self.r.round, kind)
        if mine is None:  # not known yet: looked at with the next commands
            mine = []
            self.count("op_on_unreadable_store")
            if killed or rc == 0:
                return
        elif killed:
            self.count("op_killed")
            if kind == "import" and len(mine) not in (0, expect):
                raise Finding("%s: an import killed -9 left %d of its %d changes" %
                              (what, len(mine), expect))
            self.count("op_killed_%s" % ("after_commit" if mine else "before_commit"))
            return
        if rc == 0:
            self.count("op_ok")
            if kind == "import" and len(mine) != expect:
                raise Finding("%s: import of %d edits committed %d changes" %
                              (what, expect, len(mine)))
            for c in mine:
                self.committed[c["v"]] = what
            return
        if mine:
            raise Finding("%s: exit %d, yet it wrote %d changes: %s\n%s" %
                          (what, rc, len(mine), [c["v"] for c in mine], err[-1500:]))
        disk_full = self.disk is not None and self.disk.full
        if disk_full and rc == 1:
            self.count("op_disk_full")
            self.note("on a full disk, %s exits 1 saying: %s" % (kind, err.strip()[-200:]))
            return
        # The tablet's view is as of the round's start: the record, or the
        # one it refers to, may have been deleted since (by this tablet).
        if (rc == 1 and "is deleted" in err) or (rc == 2 and "which is deleted" in err):
            self.count("op_refused_deleted")
            return
        raise Finding("%s: minqing %s: exit %d\n%s" % (what, " ".join(args[:3]), rc, err[-2000:]))

    def sync(self, url=None, kill_after=None, server_kill=None, faults=True, seed=None):
        args = ["sync", "--server", url or self.proxy.url, "--token", self.token]
        self.proxy.reseed(self.rng.randrange(1 << 30) if seed is None else seed)
        timer, errors = None, []
        if server_kill:
            timer = threading.Thread(target=self._kill_server_after, args=server_kill + (errors,))
            timer.start()
        rc, out, err, killed, mine = self.cmd(args, kill_after=kill_after, faults=faults)
        if timer:
            timer.join()
            if errors:
                raise errors[0]
        if mine:
            raise Finding("%s: sync wrote %d local changes" % (self.name, len(mine)))
        return rc, out, err, killed

    def _kill_server_after(self, delay, down, rng_seed, errors):
        time.sleep(delay)
        try:
            self.r.server.kill_and_restart(down, random.Random(rng_seed))
            self.r.count("server_kill9")
        except Exception as e:  # noqa: BLE001 - raised again by sync()
            errors.append(e)

    def round_sync(self, plan):
        rng = self.rng
        kill = rng.uniform(0.02, 1.5) if rng.random() < 0.15 else None
        twin = None
        if rng.random() < 0.06:
            # A second sync of the same store at the same time (a cadre who
            # taps twice): both must end well, and nothing goes twice.
            twin_kill = rng.uniform(0.02, 1.5) if rng.random() < 0.3 else None
            twin_seed = rng.randrange(1 << 30)
            res = []
            twin = threading.Thread(target=lambda: res.append(
                self.sync(kill_after=twin_kill, seed=twin_seed)))
            twin.start()
            self.count("sync_twins")
        rc, out, err, killed = self.sync(kill_after=kill, server_kill=plan.get("server_kill"))
        self.judge_sync(rc, out, err, killed)
        if twin:
            twin.join()
            if not res:
                raise Finding("%s r%d: the twin sync broke the harness" % (self.name, self.r.round))
            self.judge_sync(*res[0])

    def judge_sync(self, rc, out, err, killed):
        if killed:
            self.count("sync_killed")
            return
        self.count("sync_exit_%d" % rc)
        reps = [line for line in out.splitlines() if line.startswith("{")]
        if reps:
            rep = json.loads(reps[-1])
            for k in ("retries", "pushed", "pulled", "push_duplicate", "pull_duplicate"):
                self.stats["sync_" + k] = self.stats.get("sync_" + k, 0) + rep.get(k, 0)
            if rc == 0:
                for way in ("push", "pull"):
                    n = sum(rep[way + "_" + k] for k in ("applied", "duplicate", "rejected"))
                    if n != rep[way + "ed"]:
                        raise Finding("%s r%d: sync report does not add up (%s): %r" %
                                      (self.name, self.r.round, way, rep))
        if rc == 0:
            return
        # The server's full disk is a 500, retried (exit 3); exit 1 is for
        # the tablet's own full disk only.
        disk_full = self.disk is not None and self.disk.full
        last = err.strip().splitlines()[-1] if err.strip() else ""
        if rc == 3:
            self.note("sync exit 3: %s" % re.sub(r"[0-9]+", "N", last)[-160:])
            return  # past the retry budget: nothing lost, run again
        if rc == 4 and self.r.o.moves:
            # A record moved out of this tablet's areas by another one: the
            # server refuses this tablet's later changes of it.
            reasons = {r["reason"].split(":")[0] for r in self.read("rejected") or []}
            if reasons <= {"out of scope"}:
                self.note("sync exit 4 after moves: changes of a record that left the areas")
                return
        if rc == 1 and disk_full:
            self.note("sync exit 1 on a full disk: %s" % re.sub(r"[0-9]+", "N", last)[-160:])
            return
        raise Finding("%s r%d: sync exit %d (%s)\n%s" % (self.name, self.r.round, rc,
                                                          self.r.disk_states(), err[-3000:]))

    def round(self, plan):
        self.now_clock = plan["clocks"].get(self.name, self.now_clock)
        self.refresh()
        for _ in range(plan["ops"][self.name]):
            self.op()
        if plan["sync"][self.name]:
            self.round_sync(plan)


# ---------------------------------------------------------------- the data set


def dataset(gen, path, per_village, seed):
    """Three villages of gen_cards.py's county, `per_village` households of
    each (from the first three groups), and what refers to them."""
    p = subprocess.run([sys.executable, gen, "--households", "1800"], capture_output=True,
                       text=True, check=True)
    recs = read_jsonl(p.stdout)
    areas = {r["id"]: r for r in recs if r["type"] == "area"}
    villages = [a for a in areas.values() if a["fields"]["level"] == "village"]
    groups_of = {v["id"]: [g["id"] for g in areas.values() if g["fields"].get("parent") == v["id"]]
                 for v in villages}
    first_groups = {g for gs in groups_of.values() for g in gs[:3]}
    keep_hh = []
    count = {}
    for r in recs:
        if r["type"] == "household" and r["fields"]["area"] in first_groups:
            v = areas[r["fields"]["area"]]["fields"]["parent"]
            if count.get(v, 0) < per_village:
                count[v] = count.get(v, 0) + 1
                keep_hh.append(r["id"])
    hh = set(keep_hh)
    needs = {r["id"] for r in recs if r["type"] == "need" and r["fields"]["household"] in hh}
    out = []
    cadres_used = set()
    for r in recs:
        t, f = r["type"], r["fields"]
        keep = (t in ("area", "village_income") or (t == "household" and r["id"] in hh) or
                (t in ("member", "need", "visit", "contact_card") and f["household"] in hh) or
                (t == "need_action" and f["need"] in needs))
        if keep:
            out.append(r)
            for k in ("paired_cadre", "recorded_by", "by", "cadre"):
                if k in f:
                    cadres_used.add(f[k])
    cadres = [r for r in recs if r["type"] == "cadre" and r["id"] in cadres_used]
    with open(path, "w") as fh:
        for r in [r for r in out if r["type"] == "area"] + cadres + \
                [r for r in out if r["type"] != "area"]:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return {r["id"]: r for r in out + cadres}, villages, groups_of


# ---------------------------------------------------------------- one run


class Run:
    def __init__(self, opts, seed):
        self.o = opts
        self.seed = seed
        self.rng = random.Random(seed)
        self.minqing, self.server_bin, self.gen = opts.minqing, opts.server, opts.gen
        self.work = tempfile.mkdtemp(prefix="mq-chaos-%d-" % seed)
        self.mounts = []
        self.round = 0
        self.stats = {}
        self.hot = set()
        self.notes = {}
        self.timers = []  # threads that end a fault during the round
        self.errors = []  # what went wrong in them
        self.lock = threading.Lock()

    def count(self, key, n=1):
        with self.lock:
            self.stats[key] = self.stats.get(key, 0) + n

    def disk_mode(self):
        if self.o.disk != "auto":
            return self.o.disk
        if os.geteuid() != 0 or not os.environ.get("MQ_CHAOS_NAMESPACE"):
            return "ulimit"
        return "tmpfs"

    def setup(self):
        mode = self.disk_mode()
        try:
            self.server_disk = Disk(self, "server-disk", mode, 48)
        except RuntimeError as e:
            log("tmpfs not available (%s): full disks by RLIMIT_FSIZE" % e)
            mode = "ulimit"
            self.server_disk = Disk(self, "server-disk", mode, 48)
        self.mode = mode
        log("full disk by %s" % ("a small tmpfs filled up (mount -t tmpfs)" if mode == "tmpfs"
                                 else "RLIMIT_FSIZE (ulimit -f) with SIGXFSZ ignored"))
        recs, villages, groups_of = dataset(self.gen, os.path.join(self.work, "cards.jsonl"),
                                            self.o.households, self.seed)
        county = [r["id"] for r in recs.values()
                  if r["type"] == "area" and r["fields"]["level"] == "county"][0]
        vs = sorted(v["id"] for v in villages)
        A, B, C = vs[0], vs[1], vs[2]
        gA = groups_of[A]
        # Overlapping scopes: two tablets of one village, a tablet of two
        # groups of A plus village C, a county tablet.
        scopes = [("t0", [A]), ("t1", [A]), ("t2", [B]), ("t3", gA[:2] + [C]), ("t4", [C]),
                  ("t5", [county])]
        clocks = {"t2": "+3d", "t3": "-2d", "t5": "jump"}
        disk_tablets = {"t1", "t4"}
        while len(scopes) < self.o.tablets:
            n = len(scopes)
            scopes.append(("t%d" % n, scopes[n % 6][1]))
        scopes = scopes[: self.o.tablets]
        self.hot = {rid for rid, r in recs.items() if r["type"] == "household" and
                    r["fields"]["area"] in set(gA[:2]) | set(groups_of[C][:1])}

        self.server = Server(self, self.server_disk)
        self.server.cli("import", os.path.join(self.work, "cards.jsonl"))
        self.server.start()
        log("server %s, %d records: 3 villages, %d households" %
            (self.server.url, len(recs), sum(1 for r in recs.values() if r["type"] == "household")))
        self.tablets = []
        for i, (name, roots) in enumerate(scopes):
            disk = None
            folder = self.work
            if name in disk_tablets:
                disk = Disk(self, name + "-disk", mode, 24)
                folder = disk.path
            t = Tablet(self, i, name, roots, folder, disk, clocks.get(name))
            self.tablets.append(t)
            t.token = self.server.enroll(name, roots)
            t.quiet("init", "--site", name)
            t.absorb()
            rc, out, err, _ = t.sync()
            if rc != 0:
                raise Finding("%s: first sync exit %d: %s" % (name, rc, err))
            t.refresh()
            log("  %s: areas %s, %d records, clock %s, disk %s, batch %s" %
                (name, ",".join(a[:8] for a in roots), len(t.view), clocks.get(name, "right"),
                 "full at times" if disk else "-", t.batch))

    def disk_states(self):
        ds = [("server", self.server_disk)] + [(t.name, t.disk) for t in self.tablets if t.disk]
        return ", ".join("%s disk %s (%d episodes)" % (n, "full" if d.full else "free", d.episodes)
                         for n, d in ds)

    def plan(self):
        """What happens in this round: decided by the run's generator alone."""
        rng = self.rng
        p = {"ops": {}, "sync": {}, "clocks": {}}
        for t in self.tablets:
            p["ops"][t.name] = rng.choice([0, 1, 2, 3, 3, 4, 5, 6])
            p["sync"][t.name] = rng.random() < 0.8
            if t.clock == "jump":
                # Jumps of four days: a receiver refuses stamps more than a
                # week in its future (STORE.md, "Clocks"), and a jump to +4
                # after a sync at -4 must stamp at +4, not at +8 (the
                # offset that sync measured no longer applies).
                p["clocks"][t.name] = rng.choice([None, None, "+4d", "-4d", "+1d"])
            calm = rng.random() < 0.3
            long_stalls = 0
            if self.long_stalls > 0 and rng.random() < 0.15:
                self.long_stalls -= 1
                long_stalls = 1
            t.proxy.set_faults({} if calm else FAULTS, long_stalls)
        syncing = [t for t in self.tablets if p["sync"][t.name]]
        if syncing and rng.random() < 0.35:
            victim = rng.choice(syncing)
            p["server_kill"] = (victim.name, (rng.uniform(0.0, 1.2), rng.uniform(0.05, 1.5),
                                              rng.randrange(1 << 30)))
        return p

    def disks(self):
        """Starts and ends the full-disk episodes, between rounds."""
        rng = self.rng
        for d in [t.disk for t in self.tablets if t.disk]:
            if d.full and rng.random() < 0.5:
                d.free()
            elif not d.full and rng.random() < 0.12:
                d.fill(rng)
                self.count("tablet_disk_full")
        # The server's disk fills up at the start of a round and is freed
        # a few seconds later, while tablets retry their pushes.
        d = self.server_disk
        if rng.random() < 0.1:
            # A clean stop first: SQLite removes the write-ahead log, so the
            # next write must grow a new one (in a log it had, it would
            # write over old frames, and a full disk would not show).
            self.server.stop()
            d.fill(rng)
            self.count("server_disk_full")
            if not self.server.start(rng):
                self.count("server_start_refused_on_full_disk")
            th = threading.Thread(target=self._free_server_disk,
                                  args=(rng.uniform(3.0, 10.0), rng.randrange(1 << 30)))
            th.start()
            self.timers.append(th)

    def _free_server_disk(self, after, seed):
        time.sleep(after)
        try:
            self.server_disk.free()
            if self.server_disk.mode == "ulimit":
                self.server.restart(random.Random(seed))
            else:
                self.server.ensure_up(random.Random(seed))
        except Exception as e:  # noqa: BLE001 - raised by the main thread
            self.errors.append(e)

    def end_round(self):
        for th in self.timers:
            th.join()
        self.timers = []
        if self.errors:
            raise self.errors[0]
        self.server.crashed()
        if not self.server.running():
            if not self.server.start(self.rng):
                raise Finding("the server does not start on a free disk (see %s)" %
                              self.server.log)

    def rounds(self):
        self.long_stalls = self.o.long_stalls
        for r in range(self.o.rounds):
            self.round = r
            self.disks()
            p = self.plan()
            kill = p.pop("server_kill", None)
            if kill:
                p_for = {kill[0]: dict(p, server_kill=kill[1])}
            else:
                p_for = {}
            if not self.o.threads:
                for t in self.tablets:
                    t.round(p_for.get(t.name, p))
            else:
                errors = []

                def go(t):
                    try:
                        t.round(p_for.get(t.name, p))
                    except BaseException as e:  # noqa: B036 - reported by the main thread
                        errors.append((t.name, e, traceback.format_exc()))

                threads = [threading.Thread(target=go, args=(t,)) for t in self.tablets]
                for th in threads:
                    th.start()
                for th in threads:
                    th.join()
                if errors:
                    name, e, tb = errors[0]
                    if isinstance(e, Finding):
                        raise e
                    raise RuntimeError("%s: %s\n%s" % (name, e, tb))
            self.end_round()

    def settle(self):
        """Faults off, disks free, server up; then every tablet syncs twice,
        straight to the server: the first pass pushes everything, the second
        pulls what the others pushed."""
        for t in self.tablets:
            if t.disk:
                t.disk.free()
        self.server_disk.free()
        self.server.restart(self.rng)
        for p in range(2):
            for t in self.tablets:
                rc, out, err, _ = t.sync(url=self.server.url, faults=False)
                if rc != 0:
                    raise Finding("%s: fault-free sync %d exit %d\n%s" % (t.name, p + 1, rc,
                                                                            err[-3000:]))
                rep = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
                if p == 1 and rep["pushed"]:
                    raise Finding("%s: still pushing %d changes on the second pass: %r" %
                                  (t.name, rep["pushed"], rep))
        self.server.stop()

    # ---- the oracle

    def replica_log(self, db, label):
        rc, out, err, _ = run([self.minqing, "--db", db, "changes"])
        if rc != 0:
            raise Finding("%s: changes: %s" % (label, err))
        lines = read_jsonl(out)[1:-1]
        logd = {}
        for c in lines:
            if c["v"] in logd:
                raise Finding("%s: version %s twice in its log: a change applied twice" %
                              (label, c["v"]))
            logd[c["v"]] = c
        return logd

    def verify(self):
        srv_log = self.replica_log(self.server.db, "server")
        logs = {"server": srv_log}
        for t in self.tablets:
            logs[t.name] = self.replica_log(t.db, t.name)
            if set(logs[t.name]) != set(t.log):
                raise Finding("%s: its log changed between looks: %d versions then, %d now" %
                              (t.name, len(t.log), len(logs[t.name])))
        # Changes the server refused stay on their tablet, in `rejected`.
        # Nothing in these rounds is out of a tablet's areas, so a refusal
        # is a finding; with --moves a record may leave a tablet's areas
        # and its later changes there are refused: they are left out.
        refused, refused_rids = {}, set()
        for t in self.tablets:
            for r in read_jsonl(t.quiet("rejected")):
                refused[r["change"]["v"]] = "%s: %s" % (t.name, r["reason"])
                refused_rids.add(r["change"]["id"])
        if refused and not self.o.moves:
            v = sorted(refused)[0]
            raise Finding("%d changes refused, e.g. %s (%s)" % (len(refused), v, refused[v]))
        union = {}
        for label, lg in logs.items():
            for v, c in lg.items():
                if v in refused:
                    continue
                if v in union and oracle.canon(union[v][1]) != oracle.canon(c):
                    raise Finding("version %s differs between %s and %s:\n  %s\n  %s" %
                                  (v, union[v][0], label, oracle.canon(union[v][1]),
                                   oracle.canon(c)))
                union.setdefault(v, (label, c))
        changes = {v: c[1] for v, c in union.items()}
        records, conflicts = oracle.fold(changes)
        scope = oracle.Scope(records)
        committed = {}
        for t in self.tablets:
            committed.update((v, w) for v, w in t.committed.items() if v not in refused)
        missing = [v for v in committed if v not in srv_log]
        if missing:
            raise Finding("%d committed changes never reached the server, e.g. %s (%s)" %
                          (len(missing), missing[0], committed[missing[0]]))
        expect_all = oracle.live(records)
        srv_export = self.export(self.server.db, "server")
        self.diff(srv_export, expect_all, "server export and the oracle")
        self.check_conflicts(self.server.db, "server", conflicts, lambda rid: True)
        self.check_store(self.server.db, "server")
        srv_needs = self.needs(self.server.db, "server")
        for t in self.tablets:
            lg = logs[t.name]
            for v, c in changes.items():
                if scope.holds(c["id"], t.roots) and v not in lg:
                    raise Finding("%s lacks %s of record %s in its areas (%s)" %
                                  (t.name, v, c["id"], committed.get(v, "pulled")))
            for v, c in lg.items():
                if not scope.holds(c["id"], t.roots) and c["id"] not in refused_rids:
                    raise Finding("%s holds %s of record %s outside its areas" %
                                  (t.name, v, c["id"]))
            want = {rid: r for rid, r in expect_all.items()
                    if scope.holds(rid, t.roots) and rid not in refused_rids}
            have = {rid: r for rid, r in self.export(t.db, t.name).items()
                    if rid not in refused_rids}
            self.diff(have, want, "%s export and the oracle" % t.name)
            self.check_conflicts(t.db, t.name, conflicts, lambda rid: scope.holds(rid, t.roots))
            self.check_store(t.db, t.name)
            mine = self.needs(t.db, t.name)
            for nid, st in mine.items():
                if srv_needs.get(nid) != st:
                    raise Finding("%s: need %s is %r here, %r on the server" %
                                  (t.name, nid, st, srv_needs.get(nid)))
        by_roots = {}
        for t in self.tablets:
            by_roots.setdefault(tuple(sorted(t.roots)), []).append(t)
        for ts in by_roots.values():
            for t in ts[1:]:
                self.diff(self.export(t.db, t.name), self.export(ts[0].db, ts[0].name),
                          "%s and %s (same areas)" % (t.name, ts[0].name))
        self.figures = {"versions": len(changes), "committed": len(committed),
                        "records": len(expect_all), "conflicts": len(conflicts),
                        "needs": len(srv_needs)}
        self.not_blind(self.tablets[0], {rid: r for rid, r in expect_all.items()
                                         if scope.holds(rid, self.tablets[0].roots)})

    def not_blind(self, t, want):
        """The comparison sees one field changed behind the store's back: a
        copy of a tablet's store with one household's size altered in its
        record row differs from the oracle (and fails `check`).  The
        household is one with several changes: a record changed only by its
        creation keeps its fields in the record row alone (M7), where no
        check can tell them wrong."""
        n = {}
        for c in t.log.values():
            n[c["id"]] = n.get(c["id"], 0) + 1
        hh = sorted(rid for rid, r in want.items() if r["type"] == "household" and n.get(rid, 0) > 1)
        if not hh:
            return
        copy = os.path.join(self.work, "tampered.db")
        src, dst = sqlite3.connect(t.db), sqlite3.connect(copy)
        src.backup(dst)
        src.close()
        size = 48 if want[hh[0]]["fields"].get("size") == 49 else 49
        dst.execute("UPDATE record SET fields = json_set(fields, '$.size', ?) WHERE id = ?",
                    (size, hh[0]))
        dst.commit()
        dst.close()
        try:
            self.diff(self.export(copy, "tampered"), want, "tampered")
        except Finding:
            pass
        else:
            raise Finding("the oracle did not see a household's size changed in the store")
        rc, out, err, _ = run([self.minqing, "--db", copy, "check"])
        if rc == 0:
            raise Finding("check passed a store whose record row disagrees with its log")
        self.figures["tamper_seen"] = True

    def export(self, db, label):
        rc, out, err, _ = run([self.minqing, "--db", db, "export"])
        if rc != 0:
            raise Finding("%s: export: %s" % (label, err))
        return {r["id"]: {"type": r["type"], "fields": oracle.strip(r["fields"])}
                for r in read_jsonl(out)}

    def check_store(self, db, label):
        rc, out, err, _ = run([self.minqing, "--db", db, "check"])
        if rc != 0:
            raise Finding("%s: check failed: %s %s" % (label, out[-1000:], err[-1000:]))

    def check_conflicts(self, db, label, conflicts, holds):
        rc, out, err, _ = run([self.minqing, "--db", db, "conflicts"])
        if rc != 0:
            raise Finding("%s: conflicts: %s" % (label, err))
        seen = {}
        for c in read_jsonl(out):
            seen[(c["id"], c["field"])] = sorted({oracle.canon(x["value"])
                                                  for x in c["candidates"]})
        want = {k: v for k, v in conflicts.items() if holds(k[0])}
        if seen != want:
            extra = sorted(set(seen) - set(want))[:3]
            lack = sorted(set(want) - set(seen))[:3]
            diff = [k for k in set(seen) & set(want) if seen[k] != want[k]][:3]
            raise Finding("%s: conflicts differ from the oracle's: %d extra %s, %d missing %s, "
                          "other values %s" % (label, len(set(seen) - set(want)), extra,
                                               len(set(want) - set(seen)), lack,
                                               [(k, seen[k], want[k]) for k in diff]))

    def needs(self, db, label):
        rc, out, err, _ = run([self.minqing, "--db", db, "needs", "--as-of", "2012-12-31",
                               "--format", "json"])
        if rc != 0:
            raise Finding("%s: needs: %s" % (label, err))
        keys = ("status", "overdue", "accepted", "accepted_by", "resolved_at", "satisfaction",
                "actions")
        return {n["id"]: {k: n.get(k) for k in keys} for n in read_jsonl(out)}

    @staticmethod
    def diff(a, b, label):
        if a == b:
            return
        only_a = sorted(set(a) - set(b))
        only_b = sorted(set(b) - set(a))
        changed = sorted(k for k in set(a) & set(b) if a[k] != b[k])
        msg = "%s differ: %d only left, %d only right, %d different" % (
            label, len(only_a), len(only_b), len(changed))
        for k in only_a[:3]:
            msg += "\n  only left: %s %s" % (k, json.dumps(a[k], ensure_ascii=False))
        for k in only_b[:3]:
            msg += "\n  only right: %s %s" % (k, json.dumps(b[k], ensure_ascii=False))
        for k in changed[:3]:
            msg += "\n  %s\n    left:  %s\n    right: %s" % (
                k, json.dumps(a[k], ensure_ascii=False), json.dumps(b[k], ensure_ascii=False))
        raise Finding(msg)

    def report(self, elapsed):
        tot = {}
        for t in self.tablets:
            for k, v in t.stats.items():
                tot[k] = tot.get(k, 0) + v
        proxy = {}
        for t in self.tablets:
            for k, v in t.proxy.counts.items():
                proxy[k] = proxy.get(k, 0) + v
        log("figures: %d rounds, %d tablets, %.1f s" % (self.o.rounds, len(self.tablets), elapsed))
        log("  commands: %s" % json.dumps(dict(sorted(tot.items()))))
        log("  proxy connections: %s" % json.dumps(proxy))
        with open(self.server.log, errors="replace") as f:
            full = sum(1 for line in f if "disk is full" in line or "disk I/O" in line)
        log("  faults: %s; the server answered %d requests on a full disk" %
            (json.dumps(self.stats), full))
        log("  oracle: %s" % json.dumps(self.figures))
        for text, who in sorted(self.notes.items()):
            log("  seen (%s): %s" % (who, text))

    def cleanup(self, keep):
        for t in getattr(self, "tablets", []):
            t.proxy.close()
        if getattr(self, "server", None) and self.server.running():
            self.server.kill9()
        if keep:
            kept = os.path.join(self.work, "kept")
            os.makedirs(kept, exist_ok=True)
            for m in self.mounts:
                for f in os.listdir(m):
                    if f != "filler":
                        shutil.copy2(os.path.join(m, f), kept)
        for m in self.mounts:
            subprocess.run(["umount", "-l", m], capture_output=True)
        if not keep:
            shutil.rmtree(self.work, ignore_errors=True)


def one_run(opts, seed):
    r = Run(opts, seed)
    start = time.time()
    log("chaos: seed %d, %d rounds, %d tablets, %s" %
        (seed, opts.rounds, opts.tablets, "threads" if opts.threads else "tablets in turn"))
    ok = False
    try:
        r.setup()
        r.rounds()
        r.settle()
        r.verify()
        r.report(time.time() - start)
        ok = True
    except Finding as e:
        log("FAIL: %s" % e)
    except Exception:
        log("FAIL: the harness broke:\n" + traceback.format_exc())
    finally:
        r.cleanup(keep=not ok or opts.keep)
    if not ok:
        log("seed: %d (round %d); work folder kept: %s" % (seed, r.round, r.work))
        log("replay: python3 %s %s %s %s --seed %d --rounds %d --tablets %d%s" % (
            os.path.abspath(__file__), opts.minqing, opts.server, opts.gen, seed, opts.rounds,
            opts.tablets, (" --threads" if opts.threads else "") +
            (" --moves" if opts.moves else "")))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("minqing")
    ap.add_argument("server")
    ap.add_argument("gen")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=25)
    ap.add_argument("--tablets", type=int, default=6)
    ap.add_argument("--hours", type=float, default=0.0,
                    help="run one run after another (seeds S, S+1, ...) for this long")
    ap.add_argument("--threads", action="store_true",
                    help="tablets run at once, one thread each (else they take turns)")
    ap.add_argument("--disk", choices=["auto", "tmpfs", "ulimit"], default="auto")
    ap.add_argument("--households", type=int, default=12, help="households per village")
    ap.add_argument("--long-stalls", type=int, default=1,
                    help="stalls past the client's 30 s low-speed time-out, per run")
    ap.add_argument("--moves", action="store_true",
                    help="also move households between groups, into and out of tablets' areas")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    opts = ap.parse_args()
    for k in ("minqing", "server", "gen"):
        setattr(opts, k, os.path.abspath(getattr(opts, k)))
    if opts.tablets < 5:
        ap.error("--tablets takes 5 or more")
    if FAKETIME_LIB is None:
        log("libfaketime is not installed: apt-get install faketime")
        sys.exit(1)
    # As root, rerun in a private mount namespace: the tmpfs disks vanish
    # with the process, however it ends.
    if opts.disk != "ulimit" and os.geteuid() == 0 and not os.environ.get("MQ_CHAOS_NAMESPACE") \
            and shutil.which("unshare"):
        env = dict(os.environ, MQ_CHAOS_NAMESPACE="1")
        probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                               capture_output=True)
        if probe.returncode == 0:
            os.execvpe("unshare", ["unshare", "-m", "--propagation", "private", sys.executable,
                                   os.path.abspath(__file__)] + sys.argv[1:], env)
    # SIGTERM (a time-out, a ^C from a script) ends the run through its
    # clean-up: no server, proxy or mount is left behind.
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    seed = opts.seed if opts.seed is not None else random.randrange(1 << 30)
    if opts.hours <= 0:
        sys.exit(0 if one_run(opts, seed) else 1)
    end = time.time() + opts.hours * 3600
    runs = 0
    while time.time() < end:
        if not one_run(opts, seed + runs):
            sys.exit(1)
        runs += 1
    log("ok: %d runs in %.1f h, seeds %d to %d" % (runs, opts.hours, seed, seed + runs - 1))


if __name__ == "__main__":
    main()
