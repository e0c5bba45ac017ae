#!/usr/bin/env python3
"""Fails when a C file of the project calls one of the banned functions:
sprintf, strcpy, strcat, strtok, gets (unbounded writes, or hidden state).
snprintf, memcpy with a checked length, strtok_r (or a loop of its own) and
fgets are what to use instead.  A word match: `vsprintf` or `fgets` do not
count, nor a mention in a comment or a string.

    scripts/banned.py [--root DIR] [FOLDER...]

FOLDERs default to core sync platform apps include tests bench.  Prints
PATH:LINE: findings and exits 1 when there are any."""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import c_source  # noqa: E402

BANNED = ("sprintf", "strcpy", "strcat", "strtok", "gets")
WORD = re.compile(r"\b(" + "|".join(BANNED) + r")\b")
FOLDERS = ("core", "sync", "platform", "apps", "include", "tests", "bench")


def findings(root, folders):
    for rel in c_source.c_files(root, folders):
        text = c_source.blank(c_source.read(root, rel), literals=True)
        for lineno, line in enumerate(text.split("\n"), 1):
            for m in WORD.finditer(line):
                yield "%s:%d: %s() is banned" % (rel, lineno, m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("folders", nargs="*", default=list(FOLDERS))
    args = ap.parse_args()
    found = list(findings(args.root, args.folders))
    for f in found:
        print(f)
    if found:
        print("banned calls: %d" % len(found))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
