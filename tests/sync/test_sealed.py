"""Sealed bundles (docs/BUNDLES.md), tablet to office, with real processes.

A tablet enrolled with a bundle key syncs once, goes offline, records a
household and seals its changes (`minqing changes --seal`); the office
opens the file with `minqing-server apply`.  The sealed file holds none of
the plaintext.  Every damaged, cut, forged, foreign, replayed or misdirected
file is refused whole with exit 2 and a message that names what is wrong,
and the server's replica and counters are then exactly as before."""
import sqlite3

from harness import *

srv = Server()
srv.cli("import", dataset(1200))
recs = srv.export()
areas = by_type(recs, "area")
villages = sorted(a["id"] for a in areas if a["fields"]["level"] == "village")
v1, v2 = villages
county = [a["id"] for a in areas if a["fields"]["level"] == "county"][0]
scope = Scope(recs)
v1_groups = sorted(a["id"] for a in areas if a["fields"].get("parent") == v1)
v2_groups = sorted(a["id"] for a in areas if a["fields"].get("parent") == v2)


def enroll_sealed(server, device, area):
    out = server.cli("device", "add", device, "--area", area, "--bundle-key").stdout.split()
    check(len(out) == 2 and out[0].startswith("mqt_") and out[1].startswith("mqk1:"),
          "device add --bundle-key printed %r" % out)
    return out


tok1, key1 = enroll_sealed(srv, "t1", v1)
check(key1.split(":")[2] == "t1" and len(key1.split(":")[3]) == 64, "key: %r" % key1)
url = srv.start()
a = Tablet("t1")
a.sync(url, tok1)
srv.stop()  # the tablet is in the village from here on, the stick its only link

# The key goes in through stdin; a malformed one is refused and nothing kept.
a.run("changes", "--seal", "-o", os.path.join(WORK, "nokey.mqs"), check_rc=2)
check("no bundle key" in a.last.stderr and "minqing key set" in a.last.stderr,
      "changes --seal without a key: %r" % a.last.stderr)
check(not os.path.exists(os.path.join(WORK, "nokey.mqs")), "a file was left without a key")
for bad, why in ((key1[:-1], "64 lowercase hex"), ("mqk1:zz:t1:" + "0" * 64, "office"),
                 ("token", "begin with mqk1:"), (key1.upper(), "begin with mqk1:")):
    a.run("key", "set", input=bad + "\n", check_rc=2)
    check(why in a.last.stderr and key1[-64:] not in a.last.stderr,
          "key set %r: %r" % (bad[:20], a.last.stderr))
a.run("key", "show", check_rc=2)
a.run("key", "set", input=key1 + "\n")
shown = json.loads(a.run("key", "show").stdout)
office = key1.split(":")[1]
check(shown == {"office": office, "device": "t1", "sealed": 0}, "key show: %r" % shown)
check(key1[-64:] not in a.last.stdout + a.last.stderr, "key show printed the key")

HEAD_NAME, HEAD_ID, PHONE = "封存测试户主", "532327198001010015", "13912345678"
new_house = a.put("household", {"area": v1_groups[0], "head_name": HEAD_NAME,
                                "head_id_number": HEAD_ID, "phone": PHONE})
old_house = sorted(h["id"] for h in by_type(recs, "household")
                   if scope.within(h["fields"]["area"], {v1}))[0]
old_name = recs[old_house]["fields"]["head_name"]
b1 = os.path.join(WORK, "b1.mqs")
p = a.run("changes", "--seal", "-o", b1)
check("sealed bundle 1 for office %s as device t1" % office in p.stderr, p.stderr)
raw = open(b1, "rb").read()

# A lost stick discloses nothing: no name, id number, phone, id or JSON.
head, _, body = raw.partition(b"\n")
check(head.startswith(b"minqing-sealed-bundle 1 office=%s device=t1 seq=1 " % office.encode()),
      "header: %r" % head[:120])
for secret in (HEAD_NAME, HEAD_ID, PHONE, new_house, old_name, old_house, v1,
               '"minqing"', '{"v"', "household", '"site"'):
    check(secret.encode() not in body, "the sealed bundle shows %r" % secret)
plain = a.run("changes").stdout
check(HEAD_ID in plain and HEAD_NAME in plain, "the plain bundle lacks the household")


def server_state():
    """What a refused bundle must leave as it was: every row of every table
    of the server's file (the replica, its log, the devices' counters and
    sites, the bundle keys and their sequences)."""
    db = sqlite3.connect(srv.db)
    try:
        tables = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: db.execute('SELECT * FROM "%s" ORDER BY 1' % t).fetchall() for t in tables}
    finally:
        db.close()


def refused(data, words, label, path=None):
    path = path or os.path.join(WORK, "try.mqs")
    if data is not None:
        with open(path, "wb") as f:
            f.write(data)
    before = server_state()
    p = srv.cli("apply", path, check=False)
    check(p.returncode == 2, "%s: exit %d, expected 2: %s" % (label, p.returncode, p.stderr))
    for w in words:  # a tuple: any one of its words
        check(any(x in p.stderr for x in (w if isinstance(w, tuple) else (w,))),
              "%s: the message lacks %r: %s" % (label, w, p.stderr))
    check("nothing applied" in p.stderr, "%s: %s" % (label, p.stderr))
    check(server_state() == before, "%s: the server changed" % label)
    log("refused, %s: %s" % (label, p.stderr.strip().splitlines()[-1][:150]))


def flip(data, at, bit=0):
    b = bytearray(data)
    b[at] ^= 1 << bit
    return bytes(b)


hl = len(head) + 1
fld = lambda name: head.index(b" " + name + b"=") + len(name) + 2
# A flipped bit anywhere: in every field of the header, the ciphertext, the tag.
refused(flip(raw, 0), ["not a sealed minqing bundle"], "bit 0 of the magic")
# A flipped hex digit may stop being one: "damaged"; else it names another.
refused(flip(raw, fld(b"office") + 3), [("sealed for office " , "damaged (office=)")],
        "a bit of office=")
refused(flip(raw, fld(b"device"), 2), ["not enrolled"], "a bit of device=")
refused(raw.replace(b"seq=1 ", b"seq=3 ", 1), ["does not authenticate"], "seq=")
# A length one more or one less: the tag is looked for elsewhere.
refused(flip(raw, head.index(b" salt=") - 1), [("cut short", "1 byte after the end")],
        "a bit of length=")
refused(flip(raw, fld(b"length")), [("damaged", "cut short", "bytes after the end")],
        "the first digit of length=")
for name in (b"salt", b"nonce"):
    for at in range(4):
        refused(flip(raw, fld(name) + at), [("does not authenticate", "damaged")],
                "a bit of %s=" % name.decode())
refused(flip(raw, hl - 1), ["header", "damaged"], "the header's newline")
for at in (hl, hl + len(body) // 2, len(raw) - 17, len(raw) - 1):
    for bit in (0, 7):
        refused(flip(raw, at, bit), ["does not authenticate", "device t1"],
                "bit %d of byte %d of %d" % (bit, at, len(raw)))
# Cut short, or grown.
for n in (0, hl - 1, hl, hl + 100, len(raw) - 16, len(raw) - 1):
    words = (["empty input"] if n == 0 else ["damaged"] if n < hl else ["cut short"])
    refused(raw[:n], words, "cut to %d bytes" % n)
refused(raw + b"\n", ["1 byte after the end"], "a byte after the tag")
refused(raw + raw, ["bytes after the end"], "the file twice")
# Not sealed at all, or not a bundle.
refused(plain.encode(), ["a plain bundle, not a sealed one"], "a plain bundle")
refused(b"\x00" * 4096, ["not a sealed minqing bundle"], "NUL bytes")
refused(b"minqing-sealed-bundle 2 office=" + raw[fld(b"office"):], ["format 2"],
        "a later format")
# Forged: the right office and device, another key (a forger who knows the format).
forger = Tablet("forger")
forger.run("key", "set", input="mqk1:%s:t1:%s\n" % (office, "ab" * 32))
forged = os.path.join(WORK, "forged.mqs")
forger.run("changes", "--seal", "-o", forged)
refused(None, ["does not authenticate with the key of device t1"], "a forged bundle",
        forged)
# Misdirected: another device's name on t1's bundle, an unknown device.
tok2, key2 = enroll_sealed(srv, "t2", v2)
refused(raw.replace(b"device=t1 ", b"device=t2 ", 1),
        ["does not authenticate with the key of device t2"], "relabelled for t2")
refused(raw.replace(b"device=t1 ", b"device=t9 ", 1), ["device t9", "not enrolled"],
        "an unknown device")
# Sealed for another office: a second server with a device t1 of its own.
other = Server("other")
other.cli("import", dataset(1200))
enroll_sealed(other, "t1", v1)
before = other.export()
p = other.cli("apply", b1, check=False)
check(p.returncode == 2 and "sealed for office %s" % office in p.stderr and
      "another office" in p.stderr, "another office opened it: %d %s" % (p.returncode, p.stderr))
check(other.export() == before, "the other office changed")

# The round trip: the office opens it and has the household, once.
p = srv.cli("apply", b1)
check("bundle 1 of device t1" in p.stderr and "applied" in p.stderr, p.stderr)
got = srv.export()
check(new_house in got and got[new_house]["fields"]["head_id_number"] == HEAD_ID,
      "the household did not arrive")
check(got[new_house]["fields"]["head_name"] == HEAD_NAME, "the name did not arrive")
no_duplicates(srv.versions(), "the server after the sealed bundle")
dev = [d for d in map(json.loads, srv.cli("device", "list").stdout.splitlines())
       if d["name"] == "t1"][0]
check(dev["site"] == "t1", "the bundle's site was not bound to the device: %r" % dev)

# A replay of an opened bundle is refused, and says so.
refused(None, ["bundle 1 of device t1 was opened here before", "replay"], "a replay", b1)
# The next bundle opens; then the first is still a replay.
a.put("household", {"phone": "13900000009"}, new_house)
b2 = os.path.join(WORK, "b2.mqs")
a.run("changes", "--seal", "-o", b2)
check("sealed bundle 2" in a.last.stderr, a.last.stderr)
srv.cli("apply", b2)
check(srv.export()[new_house]["fields"]["phone"] == "13900000009", "bundle 2 not applied")
refused(None, ["bundle 1 of device t1 was opened here before"], "bundle 1 after 2", b1)
refused(None, ["bundle 2 of device t1 was opened here before"], "bundle 2 again", b2)

# Out of scope: a change into village 2 that reached t1 on a plain stick is
# refused as a push would refuse it; --skip-invalid applies the rest and
# keeps it in the office's rejected list.
f = Tablet("county")
cur = f.run("changes", "-o", os.path.join(WORK, "skip.jsonl")).stderr.split()[-1]
f.run("import", dataset(1200))
cur = f.run("changes", "-o", os.path.join(WORK, "skip.jsonl")).stderr.split()[-1]
v2_house = sorted(h["id"] for h in by_type(recs, "household")
                  if scope.within(h["fields"]["area"], {v2}))[0]
f.put("household", {"phone": "13800000001"}, v2_house)
usb = os.path.join(WORK, "usb.jsonl")
f.run("changes", "--since", cur, "-o", usb)
a.run("apply", usb, check_rc=None)
a.put("household", {"phone": "13900000010"}, new_house)
b3 = os.path.join(WORK, "b3.mqs")
cur_a = a.run("changes", "--seal", "-o", b3).stderr.split()[-1]
refused(None, ["out of scope", "outside the areas of device t1"], "an out-of-scope change",
        b3)
p = srv.cli("apply", "--skip-invalid", b3)
check("1 rejected" in p.stderr, p.stderr)
got = srv.export()
check(got[v2_house]["fields"].get("phone") != "13800000001", "an out-of-scope edit applied")
check(got[new_house]["fields"]["phone"] == "13900000010", "the in-scope edit did not apply")

# A revoked device's bundles are refused; so are those of a replaced key.
t2 = Tablet("t2")
t2.run("key", "set", input=key2 + "\n")
b4 = os.path.join(WORK, "b4.mqs")
t2.run("changes", "--seal", "-o", b4)
srv.cli("device", "revoke", "t2")
refused(None, ["device t2", "revoked"], "a revoked device", b4)
a.put("household", {"phone": "13900000011"}, new_house)
b5 = os.path.join(WORK, "b5.mqs")
a.run("changes", "--seal", "--since", cur_a, "-o", b5)
key1b = srv.cli("device", "key", "t1").stdout.strip()
check(key1b.startswith("mqk1:%s:t1:" % office) and key1b != key1, "device key: %r" % key1b)
refused(None, ["does not authenticate"], "a bundle of the replaced key", b5)
# The new key starts its numbers again, on the tablet and at the office.
a.run("key", "set", input=key1b + "\n")
check(json.loads(a.run("key", "show").stdout)["sealed"] == 0, "the count did not restart")
a.run("changes", "--seal", "--since", cur_a, "-o", b5)
check("sealed bundle 1" in a.last.stderr, a.last.stderr)
srv.cli("apply", b5)
check(srv.export()[new_house]["fields"]["phone"] == "13900000011", "bundle of the new key")
# The same key given again keeps the count: its next bundle is no replay.
a.run("key", "set", input=key1b + "\n")
check(json.loads(a.run("key", "show").stdout)["sealed"] == 1, "the count was reset")

# From stdin, as from a file.
a.put("household", {"phone": "13900000012"}, new_house)
data = subprocess.run([MINQING, "--db", a.db, "changes", "--seal", "--since", cur_a],
                      capture_output=True, check=True).stdout
p = subprocess.run([SERVER, "--db", srv.db, "apply", "-"], input=data, capture_output=True)
check(p.returncode == 0 and b"bundle 2 of device t1" in p.stderr, p.stderr)
a.check_store()
done()
