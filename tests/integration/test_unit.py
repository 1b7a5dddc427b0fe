"""Runs every cmocka unit test program (tests/unit/test-*.c) as one test."""
import glob
import os
import subprocess

import pytest

from vmaildtest import BUILD, REPO

UNITS = sorted(os.path.basename(p)[:-2] for p in glob.glob(os.path.join(REPO, "tests", "unit", "test-*.c")))


@pytest.mark.parametrize("name", UNITS)
def test_unit(name, tmp_path):
    exe = os.path.join(BUILD, "tests", name)
    assert os.path.exists(exe), "%s was not built (make tests)" % exe
    r = subprocess.run([exe], capture_output=True, text=True, timeout=600, cwd=tmp_path,
                       env=dict(os.environ, TMPDIR=str(tmp_path)))
    assert r.returncode == 0, r.stdout + r.stderr
