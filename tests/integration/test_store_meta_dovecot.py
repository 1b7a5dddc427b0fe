"""Dovecot's Maildir metadata files, shared with Debian's Dovecot 2.3.

UIDs, UIDVALIDITY, the next UID and the mailbox GUID (dovecot-uidlist),
keywords (dovecot-keywords and the letters in file names), subscriptions
(~/mail/subscriptions), the UIDVALIDITY counter (dovecot-uidvalidity) and
the dovecot-uidlist.lock protocol must be the same for vmaild and Dovecot,
so that a user can switch in either direction. Dovecot's tools run without
a Dovecot daemon, configured as in the guide (see test_store_dovecot.py,
whose Env this test reuses: mail_location = maildir:~/mail:LAYOUT=fs, as
"nobody" through setpriv when the test runs as root).

Our side is driven through the helper modes of tests/unit/test-store-meta.c
(read, sync, keywords, keyword-add, subs, subscribe, unsubscribe, lock) and
test-maildir deliver.
"""
import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from test_store_dovecot import BUILD, Env

META = os.path.join(BUILD, "tests", "test-store-meta")


def mutf7_decode(s):
    """IMAP's modified UTF-7 (RFC 3501 5.1.3) to str."""
    out, i = [], 0
    while i < len(s):
        if s[i] != "&":
            out.append(s[i])
            i += 1
            continue
        j = s.index("-", i)
        if j == i + 1:
            out.append("&")
        else:
            b64 = s[i + 1:j].replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            out.append(base64.b64decode(b64).decode("utf-16-be"))
        i = j + 1
    return "".join(out)


def msg(n):
    return ("Subject: message %d\nFrom: a@example.org\n\nbody %d\n" % (n, n)).encode()


class Meta:
    """Our helpers and Dovecot's views of one mail tree."""

    def __init__(self, env):
        self.env = env

    def box(self, name):
        """The directory of a mailbox (name as stored: modified UTF-7)."""
        return self.env.root if name == "INBOX" else os.path.join(self.env.root, name)

    def ours(self, *args, check=True):
        p = self.env.run([META] + list(args), check=check)
        return p.stdout.decode()

    def read(self, name):
        """Our uidlist of mailbox: (uidvalidity, next, guid, {uid: (base, file)})."""
        return self.parse(self.ours("read", self.box(name)))

    def sync(self, name, drop=False):
        out = self.ours("sync", self.env.root, self.box(name), *(["drop"] if drop else []))
        first, rest = out.split("\n", 1)
        assert first.startswith("added ")
        return int(first.split()[1]), self.parse(rest)

    @staticmethod
    def parse(out):
        lines = out.splitlines()
        uv = int(lines[0].split()[1])
        nxt = int(lines[1].split()[1])
        guid = lines[2].split()[1] if len(lines[2].split()) > 1 else ""
        recs = {}
        for line in lines[3:]:
            uid, base, f = line.split(" ")
            recs[int(uid)] = (base, None if f == "-" else f)
        return uv, nxt, guid, recs

    def keywords(self, name):
        out = self.ours("keywords", self.box(name))
        return dict(line.split(" ", 1) for line in out.splitlines())

    def subs(self):
        return self.ours("subs", self.env.root).splitlines()

    def deliver(self, data, mailboxes):
        res = self.env.deliver(data, mailboxes)
        assert [r[0] for r in res] == ["ok"] * len(mailboxes), res
        return [os.path.basename(r[1]) for r in res]

    # --- Dovecot's views (mailbox names in UTF-8)
    def status(self, *opts):
        rows = self.env.doveadm(*opts, "mailbox", "status", "messages uidnext uidvalidity guid",
                                "*")
        return {r["mailbox"]: r for r in rows}

    def fetch(self, *opts):
        """{mailbox: {uid: (guid = base name, [keywords], [system flags])}}"""
        rows = self.env.doveadm(*opts, "fetch", "mailbox uid guid flags", "all")
        boxes = {}
        for r in rows:
            flags = r["flags"].split()
            kws = sorted(f for f in flags if not f.startswith("\\"))
            sys_flags = sorted(f for f in flags if f.startswith("\\") and f != "\\Recent")
            boxes.setdefault(r["mailbox"], {})[int(r["uid"])] = (r["guid"], kws, sys_flags)
        return boxes

    def dovecot_subs(self):
        return [r["mailbox"] for r in self.env.doveadm("mailbox", "list", "-s")]

    def our_keywords_of(self, name, recs):
        """{uid: [keywords]} from the letters in our files' names."""
        kw = self.keywords(name)
        out = {}
        for uid, (_, f) in recs.items():
            if f is None:
                continue
            flags = f.split(":2,", 1)[1] if ":2," in f else ""
            out[uid] = sorted(kw[c] for c in flags if "a" <= c <= "z")
        return out

    def assert_same(self, name):
        """Our reading of mailbox name (as stored) equals Dovecot's."""
        vname = mutf7_decode(name)
        uv, nxt, guid, recs = self.read(name)
        st = self.status()[vname]
        assert uv == int(st["uidvalidity"]), (name, uv, st)
        assert nxt == int(st["uidnext"]), (name, nxt, st)
        assert guid == st["guid"], (name, guid, st)
        theirs = self.fetch().get(vname, {})
        present = {uid: base for uid, (base, f) in recs.items() if f is not None}
        assert present == {uid: g for uid, (g, _, _) in theirs.items()}, (name, recs, theirs)
        ours_kw = self.our_keywords_of(name, recs)
        assert ours_kw == {uid: k for uid, (_, k, _) in theirs.items()}, (name, ours_kw, theirs)
        return recs, theirs


@pytest.fixture
def env():
    tmp = tempfile.mkdtemp(prefix="vmaild-meta-")
    try:
        yield Env(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_we_read_what_dovecot_writes(env):
    m = Meta(env)
    for i in range(3):
        env.lda(msg(i))
    env.lda(msg(10), "Foo/Bar")
    env.lda(msg(20), "Entwürfe")
    env.lda(msg(21), "Entwürfe")
    env.doveadm("mailbox", "create", "Spam")
    env.doveadm("mailbox", "subscribe", "Spam", "Foo/Bar", "INBOX", "Entwürfe", "Gone/Away")
    env.doveadm("flags", "add", "\\Seen $Forwarded Junk", "mailbox", "INBOX", "uid", "2")
    env.doveadm("flags", "add", "NonJunk", "mailbox", "INBOX", "uid", "3")
    env.doveadm("flags", "add", "$Forwarded", "mailbox", "Foo/Bar", "uid", "1")
    env.doveadm("flags", "add", "\\Flagged $Label2", "mailbox", "Entwürfe", "uid", "2")

    # The file as Dovecot 2.3 wrote it.
    with open(os.path.join(env.root, "dovecot-uidlist")) as f:
        lines = f.read().splitlines()
    assert re.fullmatch(r"3 V\d+ N\d+ G[0-9a-f]{32}", lines[0]), lines
    assert all(re.fullmatch(r"\d+ :\d+\.M\d+P\d+\.[^:]+,S=\d+,W=\d+", l) for l in lines[1:])
    assert os.path.isdir(os.path.join(env.root, "Entw&APw-rfe"))

    for name in ("INBOX", "Foo/Bar", "Spam", "Entw&APw-rfe"):
        m.assert_same(name)
    uv, nxt, _, recs = m.read("INBOX")
    assert sorted(recs) == [1, 2, 3] and nxt == 4
    assert m.keywords("INBOX") == {"a": "$Forwarded", "b": "Junk", "c": "NonJunk"}
    assert m.our_keywords_of("INBOX", recs) == {1: [], 2: ["$Forwarded", "Junk"], 3: ["NonJunk"]}
    assert m.keywords("Foo/Bar") == {"a": "$Forwarded"}
    assert m.keywords("Spam") == {}

    # Every mailbox has its own UIDVALIDITY from dovecot-uidvalidity.
    uvs = sorted(m.read(n)[0] for n in ("INBOX", "Foo/Bar", "Spam", "Entw&APw-rfe"))
    assert len(set(uvs)) == 4
    with open(os.path.join(env.root, "dovecot-uidvalidity")) as f:
        assert int(f.read(), 16) == uvs[-1]
    assert os.path.exists(os.path.join(env.root, "dovecot-uidvalidity.%08x" % uvs[-1]))

    # Subscriptions: the names Dovecot lists (UTF-8) are ours (modified
    # UTF-7), in the file's order, including one without a mailbox.
    ours = m.subs()
    assert ours == ["Spam", "Foo/Bar", "INBOX", "Entw&APw-rfe", "Gone/Away"]
    assert [mutf7_decode(n) for n in ours] == m.dovecot_subs()


def test_dovecot_sees_our_uids(env):
    m = Meta(env)
    env.lda(msg(1))
    env.lda(msg(2))
    env.doveadm("mailbox", "create", "Spam")
    env.doveadm("flags", "add", "$Label1", "mailbox", "INBOX", "uid", "1")
    with open(os.path.join(env.root, "dovecot-uidvalidity")) as f:
        last_uv = int(f.read(), 16)

    # Ours: two more for INBOX, one into Spam, one into a folder only we
    # have seen; UIDs by our sync.
    a = m.deliver(msg(3), ["INBOX", "New", "Spam"])
    b = m.deliver(msg(4), ["INBOX"])
    added, (uv, nxt, guid, recs) = m.sync("INBOX")
    assert added == 2
    assert {recs[3][0], recs[4][0]} == {a[0], b[0]}
    # In Dovecot's order: by the time in the name.
    assert [recs[u][0] for u in (3, 4)] == sorted([a[0], b[0]], key=lambda n: (
        int(n.split(".")[0]), int(re.search(r"\.M(\d+)", n).group(1))))
    added, (new_uv, new_next, new_guid, new_recs) = m.sync("New")
    assert added == 1 and new_recs == {1: (a[1], "new/" + a[1])} and new_next == 2
    assert new_uv == last_uv + 1  # the shared counter, as Dovecot would
    added, (_, _, _, spam_recs) = m.sync("Spam")
    assert added == 1 and list(spam_recs) == [1]

    # Dovecot agrees on every UID, UIDVALIDITY and next UID.
    for name in ("INBOX", "New", "Spam"):
        m.assert_same(name)
    st = m.status()
    assert int(st["New"]["uidvalidity"]) == new_uv and st["New"]["guid"] == new_guid
    assert int(st["INBOX"]["uidnext"]) == 5 and int(st["INBOX"]["messages"]) == 4

    # Dovecot goes on from there, and we read what it adds.
    env.lda(msg(5))
    env.lda(msg(6), "New")
    recs, theirs = m.assert_same("INBOX")
    assert sorted(recs) == [1, 2, 3, 4, 5]
    recs, theirs = m.assert_same("New")
    assert sorted(recs) == [1, 2]
    env.doveadm("mailbox", "create", "Later")
    assert int(m.status()["Later"]["uidvalidity"]) == new_uv + 1

    # And we go on after Dovecot again.
    c = m.deliver(msg(7), ["INBOX"])
    added, (_, nxt, _, recs) = m.sync("INBOX")
    assert added == 1 and recs[6][0] == c[0] and nxt == 7
    m.assert_same("INBOX")

    # Keywords: ours adds one, a file gets its letter; Dovecot shows it.
    out = m.ours("keyword-add", m.box("INBOX"), "Important").strip()
    assert out == "b"
    assert m.ours("keyword-add", m.box("INBOX"), "$label1").strip() == "a"
    assert m.keywords("INBOX") == {"a": "$Label1", "b": "Important"}
    src = os.path.join(env.root, "new", c[0])
    os.rename(src, os.path.join(env.root, "cur", c[0] + ":2,Sab"))
    theirs = m.fetch()["INBOX"]
    assert theirs[6] == (c[0], ["$Label1", "Important"], ["\\Seen"])
    m.assert_same("INBOX")
    # Dovecot adds the next keyword after ours.
    env.doveadm("flags", "add", "Later1", "mailbox", "INBOX", "uid", "6")
    assert m.keywords("INBOX") == {"a": "$Label1", "b": "Important", "c": "Later1"}
    m.assert_same("INBOX")

    # Subscriptions both ways; lines of the other side are kept.
    env.doveadm("mailbox", "subscribe", "INBOX", "Spam")
    assert m.ours("subscribe", env.root, "New").strip() == "changed"
    assert m.ours("subscribe", env.root, "New").strip() == "unchanged"
    assert m.ours("subscribe", env.root, "Entw&APw-rfe/Sub").strip() == "changed"
    assert m.ours("unsubscribe", env.root, "inbox").strip() == "changed"
    assert m.dovecot_subs() == ["Spam", "New", "Entwürfe/Sub"]
    env.doveadm("mailbox", "subscribe", "Later")
    assert m.subs() == ["Spam", "New", "Entw&APw-rfe/Sub", "Later"]
    with open(os.path.join(env.root, "subscriptions"), "rb") as f:
        assert f.read() == b"V\t2\n\nSpam\nNew\nEntw&APw-rfe\tSub\nLater\n"


def test_expunge_and_drop(env):
    m = Meta(env)
    names = [m.deliver(msg(i), ["INBOX"])[0] for i in range(3)]
    added, (uv, _, _, _) = m.sync("INBOX")
    assert added == 3
    m.assert_same("INBOX")
    # Dovecot expunges the middle one; our drop of vanished files agrees.
    env.doveadm("expunge", "mailbox", "INBOX", "uid", "2")
    added, (uv2, nxt, _, recs) = m.sync("INBOX", drop=True)
    assert added == 0 and uv2 == uv
    assert {u: b for u, (b, _) in recs.items()} == {1: names[0], 3: names[2]}
    assert nxt == 4
    m.assert_same("INBOX")
    # We remove one ourselves (an expunge of ours) and drop it.
    os.unlink(os.path.join(env.root, "new", names[0]))
    added, (_, nxt, _, recs) = m.sync("INBOX", drop=True)
    assert list(recs) == [3] and nxt == 4
    recs, theirs = m.assert_same("INBOX")
    assert list(theirs) == [3]
    # UIDs are never given again.
    d = m.deliver(msg(9), ["INBOX"])
    added, (_, nxt, _, recs) = m.sync("INBOX")
    assert recs[4][0] == d[0] and nxt == 5
    m.assert_same("INBOX")


def wait_gone(pid):
    """Until the process no longer exists (not a timing assertion)."""
    for _ in range(600):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError("process %d does not go away" % pid)


def test_locks_shared_with_dovecot(env):
    m = Meta(env)
    lockfile = os.path.join(env.root, "dovecot-uidlist.lock")
    env.lda(msg(1))

    # We hold the lock: Dovecot cannot give our new file a UID.
    holder = subprocess.Popen(env.wrap + [META, "lock", env.root], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == b"locked\n"
        with open(lockfile) as f:  # setpriv execs: the pid is the helper's
            assert f.read() == "%d:%s" % (holder.pid, socket.gethostname())
        a = m.deliver(msg(2), ["INBOX"])[0]
        seen = [g for g, _, _ in m.fetch("-o", "mail_max_lock_timeout=1s")["INBOX"].values()]
        assert seen and a not in seen
        with open(os.path.join(env.root, "dovecot-uidlist")) as f:
            assert a not in f.read()
    finally:
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0
    assert not os.path.exists(lockfile)
    theirs = m.fetch()["INBOX"]
    assert theirs[2][0] == a
    m.assert_same("INBOX")

    # A lock left by a dead Dovecot process ("<pid>:<host>", written by
    # Dovecot's own dotlock code) is broken by our sync.
    # maildirlock's parent prints the pid of the child that holds the lock
    # and exits; the child is stopped here (in 2.3.19 it even panics).
    p = subprocess.run(env.wrap + ["/usr/lib/dovecot/maildirlock", env.root, "60"],
                       capture_output=True, timeout=60,
                       env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    assert p.returncode == 0, p.stderr
    child = int(p.stdout.split()[0])
    try:
        os.kill(child, signal.SIGKILL)
    except ProcessLookupError:
        pass
    wait_gone(child)
    with open(lockfile) as f:
        content = f.read()
    assert content == "%d:%s" % (child, socket.gethostname()), content
    b = m.deliver(msg(3), ["INBOX"])[0]
    added, (_, _, _, recs) = m.sync("INBOX")
    assert added == 1 and recs[3][0] == b
    assert not os.path.exists(lockfile)
    m.assert_same("INBOX")

    # A lock left by a dead process of ours is broken by Dovecot.
    holder = subprocess.Popen(env.wrap + [META, "lock", env.root], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
    assert holder.stdout.readline() == b"locked\n"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    holder.stdin.close()
    assert os.path.exists(lockfile)
    # dovecot-lda only tries the lock and leaves the UID to the next
    # sync; doveadm waits for it, finds the pid dead and breaks it.
    env.lda(msg(4))
    theirs = m.fetch()["INBOX"]
    assert sorted(theirs) == [1, 2, 3, 4]
    assert not os.path.exists(lockfile)
    recs, theirs = m.assert_same("INBOX")
    assert sorted(recs) == [1, 2, 3, 4]
