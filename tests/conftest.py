"""Shared pytest fixtures: binaries, a running vmaild, the lookup protocol.

Every test that needs the daemon starts its own on loopback in a temp
directory and stops it at the end; a test fails if the daemon crashed,
did not stop cleanly, or logged an error the test did not expect.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "integration"))

import pytest  # noqa: E402

from vmaildtest import Vmaild, BUILD, write_config  # noqa: E402


@pytest.fixture
def build():
    return BUILD


@pytest.fixture
def vmaild_factory(tmp_path):
    """Make Vmaild instances; every one still running is stopped and its
    log checked at the end of the test."""
    made = []

    def make(root=None, **kw):
        v = Vmaild(root or tmp_path / ("v%d" % len(made)), **kw)
        made.append(v)
        return v

    yield make
    errors = []
    for v in made:
        try:
            v.close()
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


@pytest.fixture
def vmaild(vmaild_factory):
    v = vmaild_factory()
    v.start()
    return v
