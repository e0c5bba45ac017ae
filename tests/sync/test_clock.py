"""Clocks lie (libfaketime): a tablet whose clock runs three days ahead is
told so at its sync, stamps its later changes on the server's time, does not
win a conflict against an edit made after its own, and loses none of its
edits, not even one stamped three days ahead before the sync corrected it;
and a date set right by hand after a sync is not corrected a second time."""
import shutil

from harness import *

# libfaketime is preloaded through env(1), not through the faketime wrapper:
# the wrapper keeps a semaphore per process id in /dev/shm, and one that a
# killed wrapper left behind makes a later wrapper of the same id fail.
LIBFAKETIME = next((p for p in ("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                                "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
                                "/usr/lib/faketime/libfaketime.so.1") if os.path.exists(p)),
                   None)
if LIBFAKETIME is None:
    log("libfaketime is not installed: apt-get install faketime")
    sys.exit(1)
# A date set by hand moves the wall clock, not the uptime clock: faketime
# leaves the monotonic clocks alone, as the system does.
AHEAD = ["env", "LD_PRELOAD=" + LIBFAKETIME, "FAKETIME=+3d", "FAKETIME_DONT_FAKE_MONOTONIC=1"]
BEHIND = ["env", "LD_PRELOAD=" + LIBFAKETIME, "FAKETIME=-3d", "FAKETIME_DONT_FAKE_MONOTONIC=1"]
# In a sanitizer build, libfaketime is preloaded ahead of the ASan runtime.
ASAN_ENV = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
DAY = 86400000

srv = Server()
srv.cli("import", dataset(88))
recs = srv.export()
village = [a["id"] for a in by_type(recs, "area") if a["fields"]["level"] == "village"][0]
hh = sorted(r["id"] for r in by_type(recs, "household"))
url = srv.start()


def last_version_ms(tablet, rid):
    hist = read_jsonl(tablet.run("history", rid).stdout)
    return int(hist[-1]["v"][:12], 16)


a = Tablet("ahead", prefix=AHEAD, env=ASAN_ENV)
rep = a.sync(url, srv.enroll("ahead", [village]))
check(rep["clock_warning"], "no clock warning for a clock 3 days ahead: %r" % rep)
check(abs(rep["clock_skew_ms"] + 3 * DAY) < 60000, "skew %d ms" % rep["clock_skew_ms"])
check("clock" in rep["stderr"] and "ahead" in rep["stderr"], "user not told: " + rep["stderr"])
log("warning shown: " + [l for l in rep["stderr"].splitlines() if "clock" in l][0])
b = Tablet("right")
rep = b.sync(url, srv.enroll("right", [village]))
check(not rep["clock_warning"], "a right clock was warned about")

# After the sync, the tablet stamps its changes on the server's time.
h = hh[0]
a.put("household", {"phone": "13300000001"}, h)
stamped = last_version_ms(a, h)
check(abs(stamped - time.time() * 1000) < 5 * 60000,
      "the tablet stamped its edit %.1f days off" % ((stamped - time.time() * 1000) / DAY))
a.sync()
b.sync()

# A tablet three days behind is corrected by its sync; then the cadre sets
# the date right by hand.  The offset the sync measured no longer applies:
# its edits are stamped now, not three days ahead (which a receiver would
# refuse past a week, STORE.md "Clocks").
d = Tablet("behind", prefix=BEHIND, env=ASAN_ENV)
d.sync(url, srv.enroll("behind", [village]))
d.run("put", "household", "--id", hh[2], input='{"labor": 3}')
check(abs(last_version_ms(d, hh[2]) - time.time() * 1000) < 5 * 60000,
      "the tablet behind did not stamp on the server's time")
d.run("put", "household", "--id", hh[2], input='{"labor": 4}', prefix=[])
off = (last_version_ms(d, hh[2]) - time.time() * 1000) / DAY
check(abs(off) < 0.01, "after the date was set by hand, an edit was stamped %.2f days off" % off)
d.sync(prefix=[])

# Concurrent edits: the tablet days ahead edits first, the other one later;
# the later edit wins everywhere, and the conflict is on record.
a.put("household", {"size": 13}, h)
time.sleep(0.05)
b.put("household", {"size": 14}, h)
a.sync()
b.sync()
a.sync()
for name, rec in (("ahead", a.get(h)), ("right", b.get(h)), ("server", srv.export()[h])):
    check(rec["fields"]["size"] == 14, "%s: size %r, the tablet days ahead won" %
          (name, rec["fields"]["size"]))
check(any(c["id"] == h and c["field"] == "size" for c in b.conflicts()),
      "the concurrent edit is not recorded as a conflict")

# A tablet whose clock jumps ahead after a sync writes changes stamped three
# days ahead; its next sync warns, and the edit is kept, not lost ...
c = Tablet("jumped", env=ASAN_ENV)
c.sync(url, srv.enroll("jumped", [village]))
h2 = hh[1]
c.run("put", "household", "--id", h2, input='{"labor": 15}', prefix=AHEAD)
check(last_version_ms(c, h2) - time.time() * 1000 > 2 * DAY, "the jump did not happen")
rep = c.sync(prefix=AHEAD)
check(rep["clock_warning"] and rep["push_applied"] == 1, "jumped sync: %r" % rep)
check(srv.export()[h2]["fields"]["labor"] == 15, "the edit stamped ahead was lost")
# ... and an edit made after it, by a tablet with a right clock, still wins.
b.sync()
b.put("household", {"labor": 16}, h2)
b.sync()
c.sync(prefix=AHEAD)
check(srv.export()[h2]["fields"]["labor"] == 16, "the later edit lost to the clock ahead")
check(c.get(h2)["fields"]["labor"] == 16, "the tablet ahead kept its stale value")
srv.stop()
done()
