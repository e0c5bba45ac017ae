#!/usr/bin/env python3
"""scripts/calls.py on small libraries made here: a chain of calls has
floors, and a circle of calls fails naming its files."""
import os
import subprocess
import sys
import tempfile

calls = sys.argv[1]
cc = os.environ.get("CC", "cc")
failures = 0


def library(d, name, sources):
    objs = []
    for fname, text in sources.items():
        src = os.path.join(d, fname)
        with open(src, "w") as f:
            f.write(text)
        obj = src[:-2] + ".c.o"
        subprocess.run([cc, "-c", src, "-o", obj], check=True)
        objs.append(obj)
    lib = os.path.join(d, name)
    subprocess.run(["ar", "rcs", lib] + objs, check=True)
    return lib


def check(what, ok):
    global failures
    if not ok:
        failures += 1
        print("FAIL: " + what)


with tempfile.TemporaryDirectory() as d:
    chain = library(d, "chain.a", {
        "top.c": "int mq_mid(void);\nint mq_top(void) { return mq_mid(); }\n",
        "mid.c": "int mq__low(void);\nint mq_mid(void) { return mq__low(); }\n",
        "low.c": "int mq__low(void) { return 1; }\n",
    })
    r = subprocess.run([sys.executable, calls, chain], capture_output=True, text=True)
    check("a chain passes", r.returncode == 0)
    check("floors are printed from the top", r.stdout.split() == ["3", "top", "2", "mid", "1", "low"])

    circle = library(d, "circle.a", {
        "a.c": "int mq__b(void);\nint mq__a(void) { return mq__b(); }\n",
        "b.c": "int mq__c(void);\nint mq__b(void) { return mq__c(); }\n",
        "c.c": "int mq__a(void);\nint mq__c(void) { return mq__a(); }\n",
    })
    r = subprocess.run([sys.executable, calls, circle], capture_output=True, text=True)
    check("a circle fails", r.returncode == 1)
    check("the circle is named", "a -> b -> c -> a" in r.stderr)

print("%d passed, %d failed" % (4 - failures, failures))
sys.exit(1 if failures else 0)
