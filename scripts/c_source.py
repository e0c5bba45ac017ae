"""What scripts/layers.py and scripts/banned.py share: the project's C
files, and their text with comments (and, if asked, string and character
literals) blanked out, lines kept, so that a finding's line number is the
file's."""

import os

# The folders of the project's own C code, from the bottom floor up.
CODE_FOLDERS = ("platform", "core", "include", "sync", "web", "apps")


def c_files(root, folders):
    """Every .c and .h under root/FOLDER for each folder, sorted, as paths
    relative to root with '/' separators."""
    out = []
    for folder in folders:
        base = os.path.join(root, folder)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in filenames:
                if name.endswith((".c", ".h")):
                    rel = os.path.relpath(os.path.join(dirpath, name), root)
                    out.append(rel.replace(os.sep, "/"))
    return sorted(out)


def blank(text, literals=False):
    """text with every comment replaced by spaces (newlines kept); with
    literals=True, the insides of "..." and '...' as well.  A small lexer:
    it knows comments, literals with backslash escapes, and that a comment
    opener inside a literal is not one."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if c == "/" and nxt == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c == "/" and nxt == "*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            if literals:
                out.append(c + " " * max(j - i - 2, 0) + (c if j - i >= 2 else ""))
            else:
                out.append(text[i:j])
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def read(root, rel):
    with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
        return f.read()
