#!/usr/bin/env python3
"""Rewrite the key table of docs/configuration.md from `vmaild --config-reference`.

Run after adding or changing a key (test_config.py checks the two agree).
"""
import os
import subprocess
import sys

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
build = os.environ.get("VMAILD_BUILD", os.path.join(repo, "build"))
ref = subprocess.run([os.path.join(build, "vmaild"), "--config-reference"],
                     capture_output=True, text=True, check=True).stdout
path = os.path.join(repo, "docs", "configuration.md")
text = open(path).read()
head = "| key | default | meaning |\n|---|---|---|\n"
start = text.index(head) + len(head)
end = text.index("\n\n", start)
open(path, "w").write(text[:start] + ref.rstrip("\n") + text[end:])
print("docs/configuration.md: %d keys" % len(ref.splitlines()), file=sys.stderr)
