#!/usr/bin/env python3
"""tests/lint/test_layers.py - scripts/layers.py passes a tree that keeps
the layering rule and fails each way of breaking it, naming the file, the
line and the rule.  Each case is a small temporary tree.

    python3 test_layers.py [path/to/layers.py]"""

import os
import subprocess
import sys
import tempfile
import unittest

LAYERS = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                         os.path.join(os.path.dirname(__file__), "../../scripts/layers.py"))

# A tree that keeps the rule: every floor includes what it may.
CLEAN = {
    "platform/platform.h": "#include <stddef.h>\n",
    "platform/posix.c": '#include "platform.h"\n#include <unistd.h>\n#include <sys/stat.h>\n'
                        '#include <signal.h>\n',
    "include/minqing/error.h": "#include <stdarg.h>\n",
    "include/minqing/store.h": '#include "error.h"\n#include <stdio.h>\n',
    "include/minqing/version.h.in": "#define MQ_VERSION_STRING \"@V@\"\n",
    "include/minqing/minqing.h": '#include "store.h"\n#include "minqing/version.h"\n',
    "core/internal.h": '#include "minqing/store.h"\n#include <sqlite3.h>\n'
                       "#include <cjson/cJSON.h>\n",
    "core/store.c": '#include "internal.h"\n#include "platform.h"\n#include <math.h>\n'
                    "// #include <unistd.h> in a comment does not count\n"
                    '/* nor\n#include "cli.h"\n in a block */\n',
    "sync/proto/proto.h": '#include "minqing/error.h"\n',
    "sync/proto/proto.c": '#include "proto.h"\n#include "platform.h"\n#include <zlib.h>\n'
                          "#include <openssl/evp.h>\n",
    "sync/client/client.c": '#include "proto.h"\n#include <minqing/store.h>\n'
                            "#include <curl/curl.h>\n",
    "sync/server/http.c": '#include "proto.h"\n#include <microhttpd.h>\n#include <libpq-fe.h>\n',
    "sync/server/server.h": '#include "minqing/store.h"\n',
    "web/office.c": '#include "server.h"\n#include "platform.h"\n#include <openssl/evp.h>\n',
    "apps/cli/cli.h": '#include "minqing/minqing.h"\n',
    "apps/cli/main.c": '#include "cli.h"\n#include "proto.h"\n#include "platform.h"\n'
                       "#include <xlsxwriter.h>\n#include <string.h>\n",
}


def run(tree):
    with tempfile.TemporaryDirectory() as root:
        for rel, text in tree.items():
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        p = subprocess.run([sys.executable, LAYERS, "--root", root], capture_output=True,
                           text=True)
        # The findings, one a line, without the closing count.
        found = [l for l in p.stdout.splitlines() if not l.startswith("layering:")]
        return p.returncode, "".join(l + "\n" for l in found)


def with_line(rel, line):
    tree = dict(CLEAN)
    tree[rel] = tree.get(rel, "") + line + "\n"
    return tree


class Layers(unittest.TestCase):
    def fails(self, rel, line, *words):
        rc, out = run(with_line(rel, line))
        self.assertEqual(rc, 1, "expected a finding for %s in %s, got none" % (line, rel))
        lines = out.strip().split("\n")
        self.assertEqual(len(lines), 1, out)
        self.assertTrue(lines[0].startswith(rel + ":"), out)
        for w in words:
            self.assertIn(w, lines[0])

    def test_clean_tree_passes(self):
        rc, out = run(CLEAN)
        self.assertEqual((rc, out), (0, ""))

    def test_core_includes_a_front_end(self):
        self.fails("core/store.c", '#include "cli.h"', "apps/cli/cli.h", "a floor above core/")

    def test_core_includes_sync(self):
        self.fails("core/store.c", '#include "proto.h"', "a floor above core/")

    def test_platform_includes_the_public_api(self):
        self.fails("platform/posix.c", '#include "minqing/store.h"', "a floor above platform/")

    def test_sync_includes_apps(self):
        self.fails("sync/client/client.c", '#include "cli.h"', "a floor above sync/")

    def test_sync_includes_a_core_private_header(self):
        self.fails("sync/server/http.c", '#include "internal.h"', "private to core/")

    def test_apps_include_a_core_private_header(self):
        self.fails("apps/cli/main.c", '#include "internal.h"', "private to core/")

    def test_web_includes_apps(self):
        self.fails("web/office.c", '#include "cli.h"', "a floor above web/")

    def test_web_includes_a_private_sync_header(self):
        self.fails("web/office.c", '#include "proto.h"', "private to sync/")

    def test_sync_includes_web(self):
        self.fails("sync/server/http.c", '#include "office.c"', "a floor above sync/")

    def test_public_header_includes_platform(self):
        self.fails("include/minqing/store.h", '#include "platform.h"', "only public headers")

    def test_public_header_includes_core(self):
        self.fails("include/minqing/store.h", '#include "internal.h"', "private to core/")

    def test_os_header_in_core(self):
        self.fails("core/store.c", "#include <unistd.h>", "an OS header")

    def test_os_header_in_sync(self):
        self.fails("sync/server/http.c", "#include <pthread.h>", "an OS header")

    def test_signal_h_outside_platform(self):
        self.fails("sync/server/http.c", "#include <signal.h>", "an OS header")

    def test_sys_header_in_apps(self):
        self.fails("apps/cli/main.c", "#  include <sys/stat.h>", "an OS header")

    def test_os_header_in_a_public_header(self):
        self.fails("include/minqing/error.h", "#include <sys/types.h>", "an OS header")

    def test_undeclared_dependency(self):
        self.fails("core/store.c", "#include <lua.h>", "an OS header")

    def test_ambiguous_name(self):
        tree = with_line("core/store.c", '#include "common.h"')
        tree["platform/common.h"] = ""
        tree["apps/cli/common.h"] = ""
        rc, out = run(tree)
        self.assertEqual(rc, 1)
        self.assertIn("ambiguous", out)

    def test_every_finding_is_reported(self):
        tree = with_line("core/store.c", "#include <fcntl.h>")
        tree = {**tree, **{"sync/client/client.c": tree["sync/client/client.c"] +
                           '#include "internal.h"\n'}}
        rc, out = run(tree)
        self.assertEqual(rc, 1)
        self.assertEqual(len(out.strip().split("\n")), 2, out)
        self.assertIn("core/store.c:8:", out)
        self.assertIn("sync/client/client.c:4:", out)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
