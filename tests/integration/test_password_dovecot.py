"""vmailctl pw against Dovecot's own doveadm pw, in both directions.

For every scheme a hash made by `doveadm pw -s` verifies with
`vmailctl pw -t` (and a wrong password fails), and a hash made by
`vmailctl pw -s` verifies with `doveadm pw -t` (and a wrong password
fails there too). doveadm runs with `-c` pointing at an empty file in
the test's temp dir, so it never reads /etc/dovecot and starts nothing.
Also: the password from a pipe, from a terminal (prompted twice, never
echoed), -V, -l, --json and the refusals.
"""
import json
import os
import pty
import select
import shutil
import subprocess
import time

import pytest

from vmaildtest import VMAILCTL

DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"

PASSWORDS = ["test", "Pa55 w\u00f6rd!\u20ac with spaces", "x" * 100]

# Schemes doveadm creates that vmailctl must verify.
FROM_DOVECOT = [
    ("SHA512-CRYPT", None), ("SHA512-CRYPT", 10000), ("SHA256-CRYPT", None),
    ("SHA256-CRYPT", 1000), ("BLF-CRYPT", None), ("BLF-CRYPT", 6), ("CRYPT", None),
    ("DES-CRYPT", None), ("MD5-CRYPT", None), ("ARGON2ID", None), ("ARGON2I", None),
    ("SSHA512", None), ("SSHA256", None), ("SSHA512.HEX", None), ("SSHA256.B64", None),
    ("SHA512", None), ("SHA256", None), ("SHA256.HEX", None), ("PLAIN", None),
    ("PLAIN.B64", None), ("CLEARTEXT", None), ("ssha512", None), ("blf-crypt", None),
]

# Schemes vmailctl creates that doveadm must verify.
TO_DOVECOT = [
    ("SHA512-CRYPT", None), ("SHA512-CRYPT", 20000), ("SHA256-CRYPT", None),
    ("BLF-CRYPT", None), ("BLF-CRYPT", 7), ("CRYPT", None), ("ARGON2ID", None),
    ("ARGON2ID", 1), ("ARGON2I", None), ("SSHA512", None), ("SSHA256", None),
    ("SSHA512.HEX", None), ("SSHA256.B64", None), ("ssha256.hex", None),
    ("sha512-crypt", None),
]


@pytest.fixture
def env(tmp_path):
    conf = tmp_path / "vmaild.conf"
    conf.write_text("[directory]\npath = %s\n" % (tmp_path / "x.sqlite"))
    dconf = tmp_path / "dovecot.conf"
    dconf.write_text("")
    return {"conf": str(conf), "dconf": str(dconf)}


def doveadm(env, *args):
    return subprocess.run([DOVEADM, "-c", env["dconf"], "pw"] + [str(a) for a in args],
                          capture_output=True, timeout=120)


def vmailctl(env, *args, input=None, json_out=False):
    cmd = [VMAILCTL, "-c", env["conf"]] + (["--json"] if json_out else []) + ["pw"]
    return subprocess.run(cmd + [str(a) for a in args], input=input, capture_output=True,
                          timeout=120)


def rounds_args(rounds):
    return [] if rounds is None else ["-r", rounds]


def test_doveadm_runs_without_system_config(env):
    r = doveadm(env, "-s", "SHA512-CRYPT", "-p", "test")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"{SHA512-CRYPT}$6$")


@pytest.mark.parametrize("scheme,rounds", FROM_DOVECOT,
                         ids=["%s-%s" % s for s in FROM_DOVECOT])
def test_doveadm_hash_verifies_in_vmailctl(env, scheme, rounds):
    for pw in PASSWORDS:
        r = doveadm(env, "-s", scheme, *rounds_args(rounds), "-p", pw)
        assert r.returncode == 0, r.stderr
        stored = r.stdout.decode().strip()
        assert stored.upper().startswith("{" + scheme.upper() + "}")

        v = vmailctl(env, "-t", stored, "-p", pw)
        assert v.returncode == 0, (stored, v.stderr)
        assert v.stdout.decode() == stored + " (verified)\n"

        # change the first byte: DES-crypt reads 8 bytes, bcrypt 72
        bad = vmailctl(env, "-t", stored, "-p", "#" + pw[1:])
        assert bad.returncode == 1, (stored, bad.stdout)
        assert b"mismatch" in bad.stderr
        assert b"verified" not in bad.stdout


@pytest.mark.parametrize("scheme,rounds", TO_DOVECOT, ids=["%s-%s" % s for s in TO_DOVECOT])
def test_vmailctl_hash_verifies_in_doveadm(env, scheme, rounds):
    for pw in PASSWORDS:
        v = vmailctl(env, "-s", scheme, *rounds_args(rounds), "-p", pw)
        assert v.returncode == 0, v.stderr
        stored = v.stdout.decode().strip()
        assert stored.startswith("{" + scheme.upper() + "}")
        if rounds is not None and "CRYPT" in scheme.upper() and "BLF" not in scheme.upper() \
                and scheme.upper() != "CRYPT":
            assert "$rounds=%d$" % rounds in stored
        if rounds is not None and scheme.upper() in ("BLF-CRYPT", "CRYPT"):
            assert "$2y$%02d$" % rounds in stored

        r = doveadm(env, "-t", stored, "-p", pw)
        assert r.returncode == 0, (stored, r.stderr)
        assert b"(verified)" in r.stdout

        bad = doveadm(env, "-t", stored, "-p", "#" + pw[1:])
        assert bad.returncode != 0, stored
        assert b"(verified)" not in bad.stdout


def test_default_scheme_and_bare_hash(env):
    """No -s: SHA512-CRYPT; a stored string without {SCHEME} is SHA512-CRYPT
    (the guide's default_pass_scheme) for vmailctl."""
    v = vmailctl(env, "-p", "secret")
    assert v.returncode == 0
    stored = v.stdout.decode().strip()
    assert stored.startswith("{SHA512-CRYPT}$6$")
    assert doveadm(env, "-t", stored, "-p", "secret").returncode == 0
    bare = stored[len("{SHA512-CRYPT}"):]
    assert vmailctl(env, "-t", bare, "-p", "secret").returncode == 0
    assert vmailctl(env, "-t", bare, "-p", "Secret").returncode == 1
    # doveadm's own bare $6$ hash too
    d = doveadm(env, "-s", "SHA512-CRYPT", "-p", "secret").stdout.decode().strip()
    assert vmailctl(env, "-t", d.split("}", 1)[1], "-p", "secret").returncode == 0


def test_verified_flag_and_json(env):
    v = vmailctl(env, "-s", "SSHA256", "-V", "-p", "pw1")
    assert v.returncode == 0
    out = v.stdout.decode()
    assert out.endswith(" (verified)\n")
    assert doveadm(env, "-t", out.split()[0], "-p", "pw1").returncode == 0

    j = vmailctl(env, "-s", "BLF-CRYPT", "-p", "pw2", json_out=True)
    assert j.returncode == 0
    obj = json.loads(j.stdout)
    assert obj["password"].startswith("{BLF-CRYPT}$2y$05$")
    assert doveadm(env, "-t", obj["password"], "-p", "pw2").returncode == 0
    ok = vmailctl(env, "-t", obj["password"], "-p", "pw2", json_out=True)
    assert ok.returncode == 0 and json.loads(ok.stdout) == {"verified": True}
    no = vmailctl(env, "-t", obj["password"], "-p", "pw3", json_out=True)
    assert no.returncode == 1 and json.loads(no.stdout) == {"verified": False}


def test_password_from_pipe(env):
    v = vmailctl(env, "-s", "SHA256-CRYPT", input=b"piped pass\nsecond line\n")
    assert v.returncode == 0, v.stderr
    stored = v.stdout.decode().strip()
    assert doveadm(env, "-t", stored, "-p", "piped pass").returncode == 0
    # CRLF and a missing final newline are both one line
    assert vmailctl(env, "-t", stored, input=b"piped pass\r\n").returncode == 0
    assert vmailctl(env, "-t", stored, input=b"piped pass").returncode == 0
    assert vmailctl(env, "-t", stored, input=b"piped pas\n").returncode == 1
    empty = vmailctl(env, "-s", "SHA256-CRYPT", input=b"")
    assert empty.returncode == 1 and b"no password" in empty.stderr
    blank = vmailctl(env, "-s", "SHA256-CRYPT", input=b"\n")
    assert blank.returncode == 1 and b"empty password" in blank.stderr
    long = vmailctl(env, "-s", "SSHA512", input=b"a" * 5000 + b"\n")
    assert long.returncode == 1 and b"longer than 4096" in long.stderr


def read_until(fd, want, deadline=30.0):
    """Read the pty master until want appears (or the deadline passes)."""
    buf = b""
    end = time.monotonic() + deadline
    while want not in buf and time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return buf


def run_on_tty(env, args, lines):
    """Run vmailctl pw with stdin/stderr on a pty; answer each prompt."""
    master, slave = pty.openpty()
    p = subprocess.Popen([VMAILCTL, "-c", env["conf"], "pw"] + args, stdin=slave,
                         stdout=subprocess.PIPE, stderr=slave, close_fds=True)
    os.close(slave)
    seen = b""
    try:
        for prompt, answer in lines:
            got = read_until(master, prompt)
            seen += got
            assert prompt in got, seen
            os.write(master, answer + b"\n")
        out, _ = p.communicate(timeout=60)
        seen += read_until(master, b"\x00", deadline=0.5)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    return p.returncode, out, seen


def test_password_from_terminal(env):
    rc, out, tty = run_on_tty(env, ["-s", "SSHA512"], [
        (b"Enter new password:", b"tty secret"), (b"Retype new password:", b"tty secret")])
    assert rc == 0, tty
    assert b"tty secret" not in tty  # echo was off
    stored = out.decode().strip()
    assert stored.startswith("{SSHA512}")
    assert doveadm(env, "-t", stored, "-p", "tty secret").returncode == 0

    rc, out, tty = run_on_tty(env, ["-t", stored], [(b"Enter password to verify:", b"tty secret")])
    assert rc == 0 and out.decode() == stored + " (verified)\n"
    assert b"tty secret" not in tty

    rc, out, tty = run_on_tty(env, [], [
        (b"Enter new password:", b"one"), (b"Retype new password:", b"two")])
    assert rc == 1 and out == b""
    assert b"don't match" in tty


def test_listing_and_refusals(env):
    l = vmailctl(env, "-l")
    assert l.returncode == 0
    names = l.stdout.decode().split("\n")
    for s in ("SHA512-CRYPT", "SHA256-CRYPT", "BLF-CRYPT", "CRYPT", "ARGON2ID", "SSHA512",
              "SSHA256", "PLAIN (verify only)"):
        assert s in names

    r = vmailctl(env, "-s", "PLAIN", "-p", "x")
    assert r.returncode == 1 and b"only be verified" in r.stderr
    r = vmailctl(env, "-s", "NOSUCH", "-p", "x")
    assert r.returncode == 1 and b"unknown password scheme" in r.stderr
    r = vmailctl(env, "-t", "{NOSUCH}abc", "-p", "x")
    assert r.returncode == 1 and b"unknown password scheme" in r.stderr
    r = vmailctl(env, "-t", "{SHA512-CRYPT}$6$short", "-p", "x")
    assert r.returncode == 1 and b"malformed" in r.stderr
    r = vmailctl(env, "-t", "{BLF-CRYPT}$2y$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
                 "-p", "x")
    assert r.returncode == 1 and b"limit" in r.stderr
    r = vmailctl(env, "-s", "BLF-CRYPT", "-r", "17", "-p", "x")
    assert r.returncode == 1
    r = vmailctl(env, "-r", "abc", "-p", "x")
    assert r.returncode == 2
    r = vmailctl(env, "-q")
    assert r.returncode == 2 and b"usage" in r.stderr
