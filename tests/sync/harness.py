"""tests/sync/harness.py - what the sync integration tests share: a real
minqing-server process on loopback (a free port picked by the kernel, ready
when /v1/health answers 200), real `minqing` processes as tablets, each with
its own store, and helpers to compare replicas by scope.

Every test script is run by ctest as
    python3 test_X.py MINQING MINQING_SERVER GEN_CARDS
and works in a fresh temporary folder that is removed when it passes.
"""
import atexit
import json
import os
import random
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

MINQING, SERVER, GEN = (os.path.abspath(p) for p in sys.argv[1:4])
# Loopback never goes through a proxy, whatever the machine's environment says.
for _v in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_v, None)
os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"
WORK = tempfile.mkdtemp(prefix="mq-sync-")
SEED = int(os.environ.get("MQ_TEST_SEED", str(random.randrange(1 << 30))))
rng = random.Random(SEED)


def log(*a):
    print(*a, flush=True)


def fail(msg):
    log("FAIL:", msg)
    log("seed:", SEED, "work folder kept:", WORK)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def done():
    log("ok (seed %d)" % SEED)
    shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(0)


def dataset(households, name=None):
    """Writes gen_cards.py's data set of `households` and returns its path."""
    path = os.path.join(WORK, name or "cards-%d.jsonl" % households)
    if not os.path.exists(path):
        with open(path, "w") as f:
            subprocess.run([sys.executable, GEN, "--households", str(households)],
                           stdout=f, check=True)
    return path


def read_jsonl(text):
    return [json.loads(l) for l in text.splitlines() if l.strip()]


class Server:
    def __init__(self, name="server", env=None):
        self.db = os.path.join(WORK, name + ".db")
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.url = None
        self.log = os.path.join(WORK, name + ".log")
        self.tls = None
        self.listen = "127.0.0.1:0"

    def cli(self, *args, input=None, check=True):
        p = subprocess.run([SERVER, "--db", self.db] + list(args), input=input,
                           capture_output=True, text=True)
        if check and p.returncode != 0:
            fail("minqing-server %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr))
        return p

    def start(self, tls=None, env=None, options=None):
        """Starts `serve`; on a restart, listens on the same port as before.
        `options` are more words for `serve` (e.g. ["--head-timeout", "3"]),
        kept for a restart."""
        if options is not None:
            self.options = list(options)
        args = [SERVER, "--db", self.db, "serve", "--listen", self.listen]
        args += getattr(self, "options", [])
        if tls:
            self.tls = tls
            args += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        elif self.tls:
            args += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        e = dict(self.env, **(env or {}))
        out = open(self.log, "a")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=out, text=True, env=e)
        atexit.register(self._reap, self.proc)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.wait(5)
            fail("server did not start: %r (see %s)" % (line, self.log))
        self.url = line.split("listening on ")[1].split()[0]
        self.listen = "127.0.0.1:" + self.url.rsplit(":", 1)[1]
        self.wait_healthy()
        return self.url

    @staticmethod
    def _reap(proc):
        """Never leaves a server behind, even when a test fails."""
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    def wait_healthy(self, timeout=10):
        ctx = None
        if self.url.startswith("https"):
            ctx = ssl.create_default_context(cafile=self.tls[2]) if len(self.tls) > 2 else None
        end = time.time() + timeout
        while time.time() < end:
            try:
                with urllib.request.urlopen(self.url + "/v1/health", timeout=2,
                                            context=ctx) as r:
                    if r.status == 200:
                        return
            except Exception:
                time.sleep(0.05)
        fail("server never became healthy")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()
                fail("server did not stop on SIGTERM")
            check(self.proc.returncode == 0, "server exited %d on SIGTERM" % self.proc.returncode)

    def enroll(self, device, areas, cadre=None):
        args = ["device", "add", device]
        for a in areas:
            args += ["--area", a]
        if cadre:
            args += ["--cadre", cadre]
        tok = self.cli(*args).stdout.strip()
        check(tok.startswith("mqt_") and len(tok) == 68, "token looks wrong: %r" % tok)
        return tok

    def export(self):
        return {r["id"]: r for r in read_jsonl(self.cli("export").stdout)}

    def versions(self):
        """Every version in the server's change log (read with `minqing`)."""
        return replica_versions(self.db)


def replica_versions(db):
    p = subprocess.run([MINQING, "--db", db, "changes"], capture_output=True, text=True)
    if p.returncode != 0:
        fail("changes on %s: %s" % (db, p.stderr))
    return [c["v"] for c in read_jsonl(p.stdout) if "v" in c]


class Tablet:
    def __init__(self, name, env=None, prefix=None):
        self.name = name
        self.db = os.path.join(WORK, name + ".db")
        self.env = dict(os.environ, **(env or {}))
        self.env.pop("MINQING_DB", None)
        self.prefix = prefix or []
        self.last = None
        self.run("init", "--site", name)

    def run(self, *args, input=None, check_rc=0, env=None, prefix=None):
        e = dict(self.env, **(env or {}))
        cmd = (self.prefix if prefix is None else prefix) + [MINQING, "--db", self.db] + list(args)
        p = subprocess.run(cmd, input=input, capture_output=True, text=True, env=e)
        self.last = p
        if check_rc is not None and p.returncode != check_rc:
            fail("%s: minqing %s: exit %d (expected %d)\nstdout: %s\nstderr: %s" %
                 (self.name, " ".join(args), p.returncode, check_rc, p.stdout[-2000:],
                  p.stderr[-3000:]))
        return p

    def sync(self, server=None, token=None, cacert=None, expect=0, env=None, prefix=None):
        args = ["sync"]
        if server:
            args += ["--server", server]
        if token:
            args += ["--token", token]
        if cacert:
            args += ["--cacert", cacert]
        p = self.run(*args, check_rc=expect, env=env, prefix=prefix)
        lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
        rep = json.loads(lines[-1]) if lines else {}
        rep["stderr"] = p.stderr
        return rep

    def put(self, type_, fields, id_=None):
        args = ["put", type_] + (["--id", id_] if id_ else [])
        return self.run(*args, input=json.dumps(fields, ensure_ascii=False)).stdout.strip()

    def delete(self, id_):
        self.run("delete", id_)

    def get(self, id_):
        p = self.run("get", id_, check_rc=None)
        return json.loads(p.stdout) if p.returncode == 0 else None

    def export(self):
        return {r["id"]: r for r in read_jsonl(self.run("export").stdout)}

    def versions(self):
        return replica_versions(self.db)

    def check_store(self):
        self.run("check")

    def conflicts(self):
        return read_jsonl(self.run("conflicts").stdout)

    def rejected(self):
        return read_jsonl(self.run("rejected").stdout)


class Scope:
    """Which records fall in a set of areas, by the default schema's scope paths."""

    def __init__(self, records):
        self.recs = records

    def area_of(self, r):
        t, f = r["type"], r["fields"]
        if t == "area":
            return r["id"]
        if t in ("household", "village_income"):
            return f.get("area")
        if t in ("member", "need", "visit", "contact_card"):
            h = self.recs.get(f.get("household"))
            return h and h["fields"].get("area")
        if t == "need_action":
            n = self.recs.get(f.get("need"))
            return n and self.area_of(n)
        return None  # cadres belong to no area

    def within(self, area, roots):
        seen = 0
        while area is not None and seen < 10:
            if area in roots:
                return True
            a = self.recs.get(area)
            area = a and a["fields"].get("parent")
            seen += 1
        return False

    def filter(self, roots):
        out = {}
        for rid, r in self.recs.items():
            if r["type"] == "cadre" or self.within(self.area_of(r), set(roots)):
                out[rid] = r
        return out


def by_type(records, t):
    return [r for r in records.values() if r["type"] == t]


def diff(a, b, label):
    """Fails with a short report unless record sets `a` and `b` are equal."""
    if a == b:
        return
    only_a = sorted(set(a) - set(b))
    only_b = sorted(set(b) - set(a))
    changed = [k for k in set(a) & set(b) if a[k] != b[k]]
    msg = "%s differ: %d only left, %d only right, %d different" % (
        label, len(only_a), len(only_b), len(changed))
    for k in only_a[:3]:
        msg += "\n  only left: %s" % json.dumps(a[k], ensure_ascii=False)
    for k in only_b[:3]:
        msg += "\n  only right: %s" % json.dumps(b[k], ensure_ascii=False)
    for k in changed[:3]:
        msg += "\n  left:  %s\n  right: %s" % (json.dumps(a[k], ensure_ascii=False),
                                               json.dumps(b[k], ensure_ascii=False))
    fail(msg)


def no_duplicates(versions, label):
    check(len(versions) == len(set(versions)),
          "%s: %d versions, %d distinct: a change was applied twice" %
          (label, len(versions), len(set(versions))))
