#!/usr/bin/env python3
"""tests/lint/test_banned.py - scripts/banned.py passes code that uses the
bounded calls and only mentions the banned ones in comments and strings,
and fails each banned call, naming the file and the line.

    python3 test_banned.py [path/to/banned.py]"""

import os
import subprocess
import sys
import tempfile
import unittest

BANNED = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                         os.path.join(os.path.dirname(__file__), "../../scripts/banned.py"))

CLEAN = r'''/* Never sprintf() or strcpy() here: see STYLE.md. */
#include <stdio.h>
#include <string.h>
// strcat and gets are banned too
static const char *why = "strtok keeps hidden state; gets has no bound";
static const char q = '"';
int f(char *buf, size_t n, FILE *in)
{
    char *save = NULL;
    snprintf(buf, n, "%s", why);
    vsnprintf_like_name(buf);
    if (fgets(buf, (int)n, in) == NULL)
        return q;
    (void)strtok_r(buf, ",", &save);
    return my_strcpy_safe(buf) + sprintf_count;
}
'''


def run(files):
    with tempfile.TemporaryDirectory() as root:
        for rel, text in files.items():
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        p = subprocess.run([sys.executable, BANNED, "--root", root], capture_output=True,
                           text=True)
        # The findings, one a line, without the closing count.
        found = [l for l in p.stdout.splitlines() if not l.startswith("banned calls:")]
        return p.returncode, "".join(l + "\n" for l in found)


class Banned(unittest.TestCase):
    def test_clean_code_passes(self):
        self.assertEqual(run({"core/a.c": CLEAN}), (0, ""))

    def test_each_banned_call_fails(self):
        for call in ("sprintf(buf, \"%d\", 1);", "strcpy(buf, s);", "strcat(buf, s);",
                     "tok = strtok(buf, \",\");", "gets(buf);", "n = sprintf (buf, \"x\");"):
            with self.subTest(call=call):
                rc, out = run({"sync/b.c": CLEAN + call + "\n"})
                self.assertEqual(rc, 1, call)
                self.assertIn("sync/b.c:17:", out)
                self.assertEqual(len(out.strip().split("\n")), 1, out)

    def test_every_folder_is_searched(self):
        for folder in ("core", "sync", "platform", "apps", "include", "tests", "bench"):
            with self.subTest(folder=folder):
                rc, out = run({folder + "/x/y.h": "#define COPY strcpy\n"})
                self.assertEqual(rc, 1)
                self.assertIn(folder + "/x/y.h:1: strcpy() is banned", out)

    def test_code_after_a_comment_on_the_same_line(self):
        rc, out = run({"apps/m.c": "/* a */ strcat(a, b); // sprintf\n"})
        self.assertEqual(rc, 1)
        self.assertIn("strcat", out)
        self.assertNotIn("sprintf", out)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
