"""Runs every libFuzzer target for a few seconds over its seed corpus.

`make fuzz` runs them longer. A crash, leak or sanitizer report fails.
"""
import glob
import os
import shutil
import subprocess

import pytest

from vmaildtest import REPO

FUZZ = os.environ.get("VMAILD_FUZZ", os.path.join(REPO, "build-fuzz"))
TARGETS = sorted(os.path.basename(p)[:-2] for p in glob.glob(os.path.join(REPO, "tests", "fuzz", "fuzz-*.c")))


@pytest.mark.parametrize("name", TARGETS)
def test_fuzz_smoke(name, tmp_path):
    exe = os.path.join(FUZZ, name)
    assert os.path.exists(exe), "%s was not built (make fuzz-build)" % exe
    seeds = os.path.join(REPO, "tests", "fuzz", "corpus", name)
    work = tmp_path / "corpus"
    work.mkdir()
    args = [exe, "-max_total_time=5", "-rss_limit_mb=2048", "-timeout=10", str(work)]
    if os.path.isdir(seeds):
        args.append(seeds)
    r = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-5000:]
