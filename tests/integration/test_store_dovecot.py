"""Our Maildir store side by side with Dovecot 2.3 (the guide's settings).

Dovecot's own tools run against the same mail home, configured as in the
guide: mail_home = <tmp>/home/%d/%n, mail_location = maildir:~/mail:LAYOUT=fs,
quota = maildir with a "*:storage=<N>M" rule. No Dovecot daemon is needed:
doveadm and dovecot-lda run as a plain (non-root) user with USER and HOME
set, which is what they do without an auth socket. When the test runs as
root, every program (ours and Dovecot's) runs as "nobody" through setpriv,
as mail programs must not run as root.

Our side is driven through the helper modes of the unit test programs:
  test-maildir deliver BASE ROOT QUOTA_MB FILE [FLAGS:]MAILBOX...
  test-quota get ROOT QUOTA_MB
"""
import math
import os
import pwd
import shutil
import subprocess
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("VMAILD_BUILD", os.path.join(REPO, "build"))
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"
LDA = "/usr/lib/dovecot/dovecot-lda"
USER = "u@example.test"

MSG_LF = b"Subject: lf\nFrom: a@example.org\n\nbody line\nline2\n"
MSG_CRLF = b"Subject: crlf\r\nFrom: a@example.org\r\n\r\nbody\r\n"
MSG_MIXED = b"Subject: mixed\r\n\r\none\ntwo\r\nthree\n"


def vsize(data):
    """Size with every bare LF counted as CRLF (Dovecot's W=)."""
    bare = 0
    prev = None
    for c in data:
        if c == 0x0A and prev != 0x0D:
            bare += 1
        prev = c
    return len(data) + bare


class Env:
    def __init__(self, tmp):
        self.tmp = tmp
        self.base = os.path.join(tmp, "home")
        self.home = os.path.join(self.base, "example.test", "u")
        self.root = os.path.join(self.home, "mail")
        self.conf = os.path.join(tmp, "dovecot.conf")
        self.wrap = []
        self.uid, self.gid = os.geteuid(), os.getegid()
        if self.uid == 0:
            pw = pwd.getpwnam("nobody")
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
            self.wrap = ["setpriv", "--reuid=%d" % self.uid, "--regid=%d" % self.gid,
                         "--clear-groups", "--"]
        os.makedirs(self.base)
        for d in ("run", "state"):
            os.makedirs(os.path.join(tmp, d))
        with open(os.path.join(tmp, "users"), "w") as f:
            f.write("%s:{PLAIN}x:%d:%d::%s::\n" % (USER, self.uid, self.gid, self.home))
        self.write_conf(10)
        for dirpath, dirnames, filenames in os.walk(tmp):
            for n in dirnames + filenames:
                os.chown(os.path.join(dirpath, n), self.uid, self.gid)
        os.chown(tmp, self.uid, self.gid)
        os.chmod(tmp, 0o755)

    def write_conf(self, quota_mb):
        t = self.tmp
        with open(self.conf, "w") as f:
            f.write(f"""
base_dir = {t}/run
state_dir = {t}/state
log_path = {t}/dovecot.log
ssl = no
protocols =
first_valid_uid = 1
mail_home = {t}/home/%d/%n
mail_location = maildir:~/mail:LAYOUT=fs
mail_plugins = quota
lda_mailbox_autocreate = yes
userdb {{
  driver = passwd-file
  args = {t}/users
}}
passdb {{
  driver = passwd-file
  args = {t}/users
}}
plugin {{
  quota = maildir:User quota
  quota_rule = *:storage={quota_mb}M
}}
""")
        os.chmod(self.conf, 0o644)

    def run(self, argv, data=None, check=True):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.home, "USER": USER}
        p = subprocess.run(self.wrap + argv, input=data, capture_output=True, env=env,
                           timeout=60)
        if check and p.returncode != 0:
            raise AssertionError("%s: rc=%d\n%s\n%s" % (argv, p.returncode,
                                                         p.stdout.decode(), p.stderr.decode()))
        return p

    def msgfile(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o644)
        return path

    # --- ours
    def deliver(self, data, mailboxes, quota_mb=10, check=True):
        path = self.msgfile("msg-ours", data)
        p = self.run([os.path.join(BUILD, "tests", "test-maildir"), "deliver", self.base,
                      self.root, str(quota_mb), path] + mailboxes, check=check)
        return [line.split(" ", 1) for line in p.stdout.decode().splitlines()]

    def our_usage(self, quota_mb=10):
        p = self.run([os.path.join(BUILD, "tests", "test-quota"), "get", self.root,
                      str(quota_mb)])
        b, c = p.stdout.split()
        return int(b), int(c)

    # --- Dovecot's
    def doveadm(self, *args):
        p = self.run([DOVEADM, "-c", self.conf, "-f", "tab"] + list(args))
        lines = p.stdout.decode().splitlines()
        head = lines[0].split("\t")
        return [dict(zip(head, line.split("\t"))) for line in lines[1:]]

    def lda(self, data, mailbox="INBOX", check=True):
        path = self.msgfile("msg-lda", data)
        with open(path, "rb") as f:
            return self.run([LDA, "-c", self.conf, "-f", "a@example.org", "-m", mailbox],
                            data=f.read(), check=check)

    def quota(self):
        rows = {r["Type"]: r for r in self.doveadm("quota", "get")}
        return rows["STORAGE"], rows["MESSAGE"]

    def fetch(self):
        return self.doveadm("fetch", "mailbox guid size.physical size.virtual flags", "all")

    def maildirsize(self):
        with open(os.path.join(self.root, "maildirsize")) as f:
            return f.read()

    def disk_usage(self):
        """Bytes and count of every message file, walked like Dovecot does."""
        total = count = 0
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "tmp"]
            if os.path.basename(dirpath) in ("new", "cur"):
                for n in filenames:
                    if not n.startswith("."):
                        total += os.path.getsize(os.path.join(dirpath, n))
                        count += 1
        return total, count


@pytest.fixture
def env():
    tmp = tempfile.mkdtemp(prefix="vmaild-store-")
    try:
        yield Env(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_dovecot_reads_our_deliveries(env):
    # One message to three mailboxes with one write, two more with flags.
    res = env.deliver(MSG_LF, ["INBOX", "Spam", "Foo/Bar"])
    assert [r[0] for r in res] == ["ok"] * 3, res
    inodes = {os.stat(r[1]).st_ino for r in res}
    assert len(inodes) == 1
    ours = {r[1] for r in res}
    for data, boxes in ((MSG_CRLF, ["INBOX"]), (MSG_MIXED, ["S:INBOX", "FS:Spam"])):
        res = env.deliver(data, boxes)
        assert [r[0] for r in res] == ["ok"] * len(boxes), res
        ours |= {r[1] for r in res}
    for p in ours:
        assert os.stat(p).st_mode & 0o777 == 0o600
    for d in (env.root, os.path.join(env.root, "new"), os.path.join(env.root, "Foo", "Bar")):
        assert os.stat(d).st_mode & 0o777 == 0o700

    # Dovecot sees each file with our sizes and flags.
    rows = env.fetch()
    assert len(rows) == 6
    by_guid = {}
    for p in ours:
        name = os.path.basename(p).split(":", 1)[0]
        box = os.path.relpath(os.path.dirname(os.path.dirname(p)), env.root)
        by_guid[(box if box != "." else "INBOX", name)] = p
    seen = set()
    for r in rows:
        key = (r["mailbox"], r["guid"])
        assert key in by_guid, (key, by_guid)
        seen.add(key)
        with open(by_guid[key], "rb") as f:
            data = f.read()
        assert int(r["size.physical"]) == len(data)
        assert int(r["size.virtual"]) == vsize(data)
        if data == MSG_MIXED and r["mailbox"] == "INBOX":
            assert "\\Seen" in r["flags"] and "\\Flagged" not in r["flags"]
        elif data == MSG_MIXED:
            assert "\\Seen" in r["flags"] and "\\Flagged" in r["flags"]
        else:
            assert "\\Seen" not in r["flags"]
    assert seen == set(by_guid)

    status = {r["mailbox"]: int(r["messages"])
              for r in env.doveadm("mailbox", "status", "messages", "*")}
    assert status["INBOX"] == 3 and status["Spam"] == 2 and status["Foo/Bar"] == 1

    # Our maildirsize is Dovecot's quota.
    total = 3 * len(MSG_LF) + len(MSG_CRLF) + 2 * len(MSG_MIXED)
    assert env.disk_usage() == (total, 6)
    assert env.maildirsize().splitlines()[0] == "10485760S"
    storage, messages = env.quota()
    assert int(storage["Value"]) == math.ceil(total / 1024)  # doveadm shows KiB, rounded up
    assert int(storage["Limit"]) == 10 * 1024
    assert int(messages["Value"]) == 6
    assert env.our_usage() == (total, 6)

    # A recalculation by Dovecot writes exactly what ours writes.
    env.doveadm("quota", "recalc")
    theirs = env.maildirsize()
    assert theirs == "10485760S\n%d 6\n" % total
    os.unlink(os.path.join(env.root, "maildirsize"))
    assert env.our_usage() == (total, 6)
    assert env.maildirsize() == theirs


def test_we_read_dovecot_deliveries(env):
    env.lda(MSG_LF)
    env.lda(MSG_CRLF)
    env.lda(MSG_MIXED, "Foo")
    lines = env.maildirsize().splitlines()
    assert lines[0] == "10485760S" and len(lines) >= 3  # Dovecot appended its deltas
    total, count = env.disk_usage()
    assert count == 3
    assert env.our_usage() == (total, count)
    names = []
    for dirpath, _, filenames in os.walk(env.root):
        if os.path.basename(dirpath) == "new":
            names += filenames
    assert all(",S=" in n and ",W=" in n for n in names), names

    # Ours appends to Dovecot's file; Dovecot sums both.
    res = env.deliver(MSG_LF, ["INBOX", "Foo"])
    assert [r[0] for r in res] == ["ok", "ok"], res
    assert env.maildirsize().splitlines()[:len(lines)] == lines
    total2, count2 = env.disk_usage()
    assert (total2, count2) == (total + 2 * len(MSG_LF), 5)
    storage, messages = env.quota()
    assert int(messages["Value"]) == 5
    assert int(storage["Value"]) == math.ceil(total2 / 1024)
    assert env.our_usage() == (total2, 5)
    status = {r["mailbox"]: int(r["messages"])
              for r in env.doveadm("mailbox", "status", "messages", "*")}
    assert status == {"INBOX": 3, "Foo": 2}


def test_quota_limit_shared(env):
    env.write_conf(1)
    big = b"Subject: big\n\n" + (b"x" * 99 + b"\n") * 6000  # ~600 KB
    env.lda(big)
    # The same message no longer fits: ours says quota (552), so does Dovecot.
    res = env.deliver(big, ["INBOX"], quota_mb=1, check=False)
    assert res[0][0] == "quota", res
    assert "quota exceeded" in res[0][1]
    p = env.lda(big, check=False)
    assert p.returncode != 0
    assert env.disk_usage()[1] == 1
    small = env.deliver(MSG_LF, ["INBOX"], quota_mb=1)
    assert small[0][0] == "ok"

    # The account's quota grows: our first line follows, Dovecot agrees.
    assert env.our_usage(quota_mb=2) == env.disk_usage()
    assert env.maildirsize().splitlines()[0] == "2097152S"
    env.write_conf(2)
    storage, messages = env.quota()
    assert int(storage["Limit"]) == 2048
    assert int(messages["Value"]) == 2
    assert env.maildirsize().splitlines()[0] == "2097152S"
    res = env.deliver(big, ["INBOX"], quota_mb=2)
    assert res[0][0] == "ok"
