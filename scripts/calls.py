#!/usr/bin/env python3
"""The calls between the files of one static library, read from its objects.

    scripts/calls.py [--nm NM] LIBRARY.a

File A calls file B when A's object leaves undefined an mq_ or mq__ symbol
that B's object defines.  The files of core/ must not call each other in a
circle (docs/ARCHITECTURE.md, "Inside core/"): this prints each file's floor
(1 + the highest floor of what it calls) and exits 1, naming the circle, if
there is one.  It reads symbols, not text, so a call hidden in a macro is
seen and a comment is not.
"""
import argparse
import subprocess
import sys


def members(nm, archive):
    """{member: (defined, undefined)} of the mq symbols of each object."""
    out = subprocess.run([nm, archive], capture_output=True, text=True, check=True).stdout
    table, cur = {}, None
    for line in out.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            cur = line[:-1]
            for suffix in (".c.o", ".o"):
                if cur.endswith(suffix):
                    cur = cur[: -len(suffix)]
                    break
            table[cur] = (set(), set())
            continue
        parts = line.split()
        if cur is None or not parts or not parts[-1].startswith("mq"):
            continue
        if len(parts) == 2 and parts[0] == "U":
            table[cur][1].add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDRBC":
            table[cur][0].add(parts[2])
    return table


def floors(graph):
    """{file: floor}, or raises ValueError with a circle."""
    floor, state = {}, {}

    def visit(n, path):
        if state.get(n) == "open":
            i = path.index(n)
            raise ValueError(" -> ".join(path[i:] + [n]))
        if n in floor:
            return floor[n]
        state[n] = "open"
        f = 1 + max([visit(m, path + [n]) for m in sorted(graph[n])] or [0])
        state[n] = "done"
        floor[n] = f
        return f

    for n in sorted(graph):
        visit(n, [])
    return floor


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nm", default="nm")
    ap.add_argument("archive")
    a = ap.parse_args()
    table = members(a.nm, a.archive)
    owner = {}
    for m, (defined, _) in table.items():
        for s in defined:
            owner[s] = m
    graph = {m: {owner[s] for s in und if s in owner and owner[s] != m}
             for m, (_, und) in table.items()}
    try:
        fl = floors(graph)
    except ValueError as e:
        print("calls.py: a circle of calls: %s" % e, file=sys.stderr)
        return 1
    for f in sorted(set(fl.values()), reverse=True):
        print("%2d  %s" % (f, " ".join(sorted(m for m in fl if fl[m] == f))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
