#!/usr/bin/env python3
"""The layering rule of docs/ARCHITECTURE.md, checked on every #include of
the project's C code.  From the bottom floor up:

    0  platform/         the OS layer, the only code that includes OS headers
    1  core/, include/   the portable core and its public headers
    2  sync/             protocol, client, server, over the public API
    3  web/              the web app's JSON API, assets and both hosts
    4  apps/             the front ends

A file fails when it includes
  - a project header of a folder on a floor above its own;
  - a core-private header (core/*.h) from outside core/: everything else
    stands on include/minqing/;
  - from web/, a header of sync/ other than its public ones (SYNC_PUBLIC);
  - from include/minqing/, a header that is not itself public: the public
    headers are installed and must stand alone;
  - outside platform/, a header that is not the project's, not a C11
    standard header and not one of the declared dependencies' (ALLOWED):
    that is an OS header.

An include is the project's when it names a file of the tree: beside the
including file (for "..."), or under any folder of the tree (as the -I
paths make it), including a header generated from NAME.in (minqing/version.h).

    scripts/layers.py [--root DIR]

Prints PATH:LINE: findings and exits 1 when there are any."""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import c_source  # noqa: E402

FLOORS = {"platform": 0, "core": 1, "include": 1, "sync": 2, "web": 3, "apps": 4}
# What web/ may include of sync/: its public headers only.
SYNC_PUBLIC = {"sync/server/server.h"}

# The C11 standard headers, less signal.h: signals are the operating
# system's, and the architecture lists signal.h among the headers that only
# platform/ includes.
C11 = {
    "assert.h", "complex.h", "ctype.h", "errno.h", "fenv.h", "float.h", "inttypes.h",
    "iso646.h", "limits.h", "locale.h", "math.h", "setjmp.h", "stdalign.h",
    "stdarg.h", "stdatomic.h", "stdbool.h", "stddef.h", "stdint.h", "stdio.h",
    "stdlib.h", "stdnoreturn.h", "string.h", "tgmath.h", "threads.h", "time.h",
    "uchar.h", "wchar.h", "wctype.h",
}
# The declared dependencies (Debian -dev packages): a name, or a prefix
# ending in '/' or '*'.
DEPENDENCIES = ("sqlite3.h", "cjson/", "curl/", "microhttpd.h", "zlib.h", "openssl/",
                "xlsxwriter*", "libpq-fe.h")

INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"\n]+)[>"]', re.M)


def allowed(name):
    if name in C11:
        return True
    for dep in DEPENDENCIES:
        if dep.endswith(("/", "*")):
            if name.startswith(dep.rstrip("*")):
                return True
        elif name == dep:
            return True
    return False


def folder_of(rel):
    """The floor's folder of a tree path: 'core', 'include', ... or None."""
    top = rel.split("/", 1)[0]
    return top if top in FLOORS else None


class Tree:
    def __init__(self, root):
        self.root = root
        self.files = set(c_source.c_files(root, FLOORS))
        # Headers generated at build time from NAME.in (minqing/version.h).
        self.generated = set()
        self.dirs = set()
        for folder in FLOORS:
            for dirpath, _, filenames in os.walk(os.path.join(root, folder)):
                rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
                self.dirs.add(rel)
                for name in filenames:
                    if name.endswith(".h.in"):
                        self.generated.add(rel + "/" + name[: -len(".in")])

    def exists(self, rel):
        return rel in self.files or rel in self.generated

    def resolve(self, including, quote, name):
        """The tree paths an include names: its own folder first for "...",
        else every folder of the tree where the name is found."""
        if quote == '"':
            local = os.path.normpath(os.path.join(os.path.dirname(including), name))
            local = local.replace(os.sep, "/")
            if self.exists(local):
                return [local]
        found = []
        for d in sorted(self.dirs):
            cand = os.path.normpath(d + "/" + name).replace(os.sep, "/")
            if self.exists(cand) and cand not in found:
                found.append(cand)
        return found


def check_file(tree, rel):
    here = folder_of(rel)
    text = c_source.blank(c_source.read(tree.root, rel))
    for m in INCLUDE.finditer(text):
        quote, name = m.group(1), m.group(2).strip()
        line = text.count("\n", 0, m.start()) + 1
        where = "%s:%d: #include %s%s%s" % (rel, line, quote, name, ">" if quote == "<" else '"')
        targets = tree.resolve(rel, quote, name)
        if not targets:
            if here != "platform" and not allowed(name):
                yield where + ": an OS header; only platform/ includes those"
            continue
        if len(targets) > 1:
            yield where + ": ambiguous, names %s" % " and ".join(targets)
            continue
        target = targets[0]
        there = folder_of(target)
        if FLOORS[there] > FLOORS[here]:
            yield where + ": %s is in %s/, a floor above %s/" % (target, there, here)
        elif there == "core" and here != "core":
            yield where + ": %s is private to core/; use include/minqing/" % target
        elif here == "web" and there == "sync" and target not in SYNC_PUBLIC:
            yield where + ": %s is private to sync/; web/ uses %s" % (
                target, " ".join(sorted(SYNC_PUBLIC)))
        elif here == "include" and there != "include":
            yield where + ": a public header may include only public headers, not %s" % target


def main():
    ap = argparse.ArgumentParser(description="the layering rule, checked on every #include")
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    args = ap.parse_args()
    tree = Tree(args.root)
    found = [f for rel in sorted(tree.files) for f in check_file(tree, rel)]
    for f in found:
        print(f)
    if found:
        files = {f.split(":")[0] for f in found}
        print("layering: %d findings in %d files" % (len(found), len(files)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
