"""kill -9 in the middle of a sync, of the client and of the server, then a
rerun: every replica ends complete (exports equal to the server's), passes
`check`, and holds no change twice.  The server is slowed down
(MINQING_SERVER_DELAY_MS) so that the kills land mid-transfer."""
from harness import *


def edits(tablet, n, tag):
    """Changes n households in one import: n local changes in the queue."""
    recs = [r for r in tablet.export().values() if r["type"] == "household"]
    rng.shuffle(recs)
    path = os.path.join(WORK, "edits-%s.jsonl" % tag)
    with open(path, "w") as f:
        for i, r in enumerate(recs[:n]):
            r["fields"]["phone"] = "136%08d" % (i + n * 1000)
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    tablet.run("import", path)


def sync_in_background(tablet, env, *args):
    e = dict(tablet.env, **env)
    return subprocess.Popen([MINQING, "--db", tablet.db, "sync"] + list(args), env=e,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def device(name):
    for d in read_jsonl(srv.cli("device", "list").stdout):
        if d["name"] == name:
            return d
    return {}


def kill_when(what, cond, proc, timeout=60):
    """Waits until cond() holds (the transfer has begun), then runs what()."""
    end = time.time() + timeout
    while time.time() < end and not cond():
        check(proc.poll() is None, "the sync ended before it could be interrupted")
        time.sleep(0.05)
    check(cond(), "the sync never got going")
    check(proc.poll() is None, "the sync ended before it could be interrupted")
    what()


srv = Server(env={"MINQING_SERVER_DELAY_MS": "120"})
srv.cli("import", dataset(1200))
county = [a["id"] for a in by_type(srv.export(), "area") if a["fields"]["level"] == "county"][0]
url = srv.start()
slow = {"MINQING_SYNC_BATCH": "250", "MINQING_SYNC_RETRY_MS": "30000",
        "MINQING_SYNC_BACKOFF_MS": "200"}

# 1. The client killed while pulling its first pages.
k = Tablet("k")
tok = srv.enroll("k", [county])
p = sync_in_background(k, slow, "--server", url, "--token", tok)
kill_when(p.kill, lambda: device("k").get("pulled", 0) >= 500, p)
p.wait()
k.check_store()
partial = len(k.export())
rep = k.sync(env=slow)
log("client killed mid-pull with %d records; the rerun pulled %d changes" %
    (partial, rep["pulled"]))
check(rep["pull_duplicate"] == 0, "the rerun pulled pages it had applied: %r" % rep)
diff(k.export(), srv.export(), "k after a killed pull, and the server")

# 2. The client killed while pushing.
edits(k, 300, "k")
pushed_before = device("k").get("pushed", 0)
p = sync_in_background(k, dict(slow, MINQING_SYNC_BATCH="20"))
kill_when(p.kill, lambda: device("k").get("pushed", 0) >= pushed_before + 40, p)
p.wait()
k.check_store()
rep = k.sync(env=dict(slow, MINQING_SYNC_BATCH="20"))
log("client killed mid-push; the rerun sent %d changes (%d new, %d duplicate)" %
    (rep["pushed"], rep["push_applied"], rep["push_duplicate"]))
check(rep["pushed"] < 300, "the rerun sent everything again")
diff(k.export(), srv.export(), "k after a killed push, and the server")

# 3. The server killed while a tablet pushes and pulls; the client's retries
#    carry it over the restart.
l = Tablet("l")
l.sync(url, srv.enroll("l", [county]), env={"MINQING_SYNC_BATCH": "5000"})
edits(l, 200, "l")
pushed_before = device("l").get("pushed", 0)
p = sync_in_background(l, dict(slow, MINQING_SYNC_BATCH="20"))
kill_when(srv.kill9, lambda: device("l").get("pushed", 0) >= pushed_before + 20, p)
time.sleep(1.0)
srv.start()
out, err = p.communicate(timeout=120)
check(p.returncode == 0, "sync across a server restart: exit %d\n%s" % (p.returncode, err))
rep = json.loads(out.splitlines()[-1])
check(rep["retries"] >= 1, "the client did not retry: %r" % rep)
log("server killed mid-push: %d retries, the sync completed" % rep["retries"])

# 4. A server killed mid-pull, with the client giving up: exit 3, then a rerun.
m = Tablet("m")
p = sync_in_background(m, dict(slow, MINQING_SYNC_RETRY_MS="1000"), "--server", url,
                       "--token", srv.enroll("m", [county]))
kill_when(srv.kill9, lambda: device("m").get("pulled", 0) >= 500, p)
out, err = p.communicate(timeout=60)
check(p.returncode == 3, "client should give up with exit 3, got %d: %s" % (p.returncode, err))
srv.start()
m.sync(env=slow)

for t in (k, l, m):
    t.sync(env={"MINQING_SYNC_BATCH": "5000"})
final = srv.export()
for t in (k, l, m):
    diff(t.export(), final, "%s and the server" % t.name)
    t.check_store()
    no_duplicates(t.versions(), t.name)
srv.stop()
vs = srv.versions()
no_duplicates(vs, "server")
check(sum(1 for v in vs if v.endswith("-k")) == 300, "server lacks some of k's 300 changes")
check(sum(1 for v in vs if v.endswith("-l")) == 200, "server lacks some of l's 200 changes")
subprocess.run([MINQING, "--db", srv.db, "check"], check=True, capture_output=True)
done()
