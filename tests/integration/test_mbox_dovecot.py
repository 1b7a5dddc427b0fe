"""The IMAP mailbox engine (src/store/mbox*.c) against Debian's Dovecot 2.3.

Dovecot's imap binary runs standalone (PREAUTH on stdin/stdout) with the
guide's mail_location = maildir:~/mail:LAYOUT=fs (the Env of
test_store_dovecot.py: a temporary config, as "nobody" when the test runs
as root). Dovecot creates folders, appends, sets flags and keywords and
expunges; our engine (tests/unit/test-mbox.c helper modes: dump, append,
store, expunge) must then report exactly Dovecot's UIDs, UIDVALIDITY,
UIDNEXT, flags and keywords (FETCH 1:* (UID FLAGS)), and the folder list.
The other way round: our engine appends, changes flags and keywords and
expunges, and Dovecot must report the same as our engine.
"""
import datetime
import os
import re
import shutil
import tempfile

import pytest

from test_store_dovecot import BUILD, Env

MBOX = os.path.join(BUILD, "tests", "test-mbox")
IMAP = "/usr/lib/dovecot/imap"
SYSTEM = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"]


def msg(n):
    return ("Subject: message %d\r\nFrom: a@example.org\r\n\r\nbody %d\r\n" % (n, n)).encode()


class Box:
    def __init__(self, env):
        self.env = env
        self.tag = 0

    def path(self, name):
        return self.env.root if name == "INBOX" else os.path.join(self.env.root, name)

    # --- Dovecot
    def imap(self, commands):
        """Run one PREAUTH session with commands (bytes or str items); the
        tagged replies must all be OK. Returns the whole output."""
        script = b""
        tags = []
        for c in commands:
            self.tag += 1
            t = "t%d" % self.tag
            tags.append(t)
            script += t.encode() + b" " + (c if isinstance(c, bytes) else c.encode()) + b"\r\n"
        self.tag += 1
        script += b"t%d LOGOUT\r\n" % self.tag
        p = self.env.run([IMAP, "-c", self.env.conf], data=script)
        out = p.stdout.decode("utf-8", "replace")
        for t in tags:
            m = re.search(r"^%s (OK|NO|BAD)" % t, out, re.M)
            assert m and m.group(1) == "OK", (t, out)
        return out

    def append_cmd(self, box, data, flags="", date=None):
        d = b' "%s"' % date.encode() if date else b""
        return b'APPEND "%s" (%s)%s {%d+}\r\n%s' % (box.encode(), flags.encode(), d, len(data),
                                                     data)

    def dovecot_view(self, box):
        """(uidvalidity, uidnext, {uid: (sorted system flags, sorted keywords,
        RFC822.SIZE, INTERNALDATE as a Unix time)})"""
        out = self.imap(['STATUS "%s" (UIDVALIDITY UIDNEXT)' % box, 'EXAMINE "%s"' % box,
                         "UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)"])
        st = re.search(r"^\* STATUS .*$", out, re.M).group(0)
        uv = int(re.search(r"UIDVALIDITY (\d+)", st).group(1))
        nxt = int(re.search(r"UIDNEXT (\d+)", st).group(1))
        msgs = {}
        for line in out.splitlines():
            if " FETCH " not in line or not line.startswith("* "):
                continue
            uid = int(re.search(r"UID (\d+)", line).group(1))
            fl = re.search(r"FLAGS \(([^)]*)\)", line).group(1).split()
            fl = [f for f in fl if f != "\\Recent"]
            size = int(re.search(r"RFC822.SIZE (\d+)", line).group(1))
            date = re.search(r'INTERNALDATE "([^"]+)"', line).group(1)
            t = int(datetime.datetime.strptime(date.strip(), "%d-%b-%Y %H:%M:%S %z").timestamp())
            msgs[uid] = (sorted(f for f in fl if f.startswith("\\")),
                         sorted(f for f in fl if not f.startswith("\\")), size, t)
        return uv, nxt, msgs

    def dovecot_list(self):
        out = self.imap(['LIST "" "*"'])
        names = []
        for line in out.splitlines():
            m = re.match(r'\* LIST \(([^)]*)\) "/" "?([^"]*)"?$', line)
            if m and m.group(2) != "INBOX":
                names.append((m.group(2), "\\Noselect" in m.group(1)))
        return sorted(names)

    # --- ours
    def ours(self, *args):
        return self.env.run([MBOX] + list(args)).stdout.decode()

    def our_view(self, box):
        out = self.ours("dump", self.env.root, self.path(box)).splitlines()
        uv = int(out[0].split()[1])
        nxt = int(out[1].split()[1])
        msgs = {}
        for line in out[2:]:
            uid, fl, kw, vsize, idate = line.split(" ")
            msgs[int(uid)] = (sorted([] if fl == "-" else fl.split(",")),
                              sorted([] if kw == "-" else kw.split(",")), int(vsize), int(idate))
        return uv, nxt, msgs

    def assert_same(self, box):
        ours = self.our_view(box)
        theirs = self.dovecot_view(box)
        assert ours == theirs, (box, ours, theirs)
        return ours


@pytest.fixture
def box():
    tmp = tempfile.mkdtemp(prefix="vmaild-mbox-")
    try:
        yield Box(Env(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_we_read_what_dovecot_writes(box):
    cmds = ["CREATE Foo", "CREATE Foo/Bar", "CREATE Other"]
    cmds += [box.append_cmd("INBOX", msg(i), "\\Seen" if i == 1 else "") for i in range(3)]
    cmds += [box.append_cmd("Foo", msg(10 + i), "$Label1 Work" if i % 2 else "\\Flagged")
             for i in range(5)]
    cmds += [box.append_cmd("Foo/Bar", msg(20 + i), "\\Draft", "01-Jan-2020 10:00:0%d +0100" % i)
             for i in range(2)]
    cmds += ["SELECT Foo", "STORE 2 +FLAGS (\\Deleted)", "EXPUNGE",
             "UID STORE 3 +FLAGS (\\Answered Extra)", "STORE 1 -FLAGS (\\Flagged)",
             "UID STORE 5 +FLAGS (\\Seen $Label1)"]
    box.imap(cmds)

    _, _, inbox = box.assert_same("INBOX")
    assert len(inbox) == 3
    uv, nxt, foo = box.assert_same("Foo")
    assert sorted(foo) == [1, 3, 4, 5] and nxt == 6
    assert foo[1][:2] == ([], [])
    assert foo[3][:2] == (["\\Answered", "\\Flagged"], ["Extra"])
    assert foo[4][:2] == ([], ["$Label1", "Work"])
    assert foo[5][:2] == (["\\Flagged", "\\Seen"], ["$Label1"])
    _, _, bar = box.assert_same("Foo/Bar")
    assert bar[1][3] == 1577869200 and bar[1][2] == len(msg(20))
    box.assert_same("Other")
    # Our folder list is Dovecot's.
    ours = box.ours("dump", box.env.root, box.path("Foo"))  # still readable after our sync
    assert ours
    assert box.dovecot_list() == [("Foo", False), ("Foo/Bar", False), ("Other", False)]
    # And after our engine synced everything, Dovecot still agrees.
    for name in ("INBOX", "Foo", "Foo/Bar", "Other"):
        box.assert_same(name)


def test_dovecot_reads_what_we_write(box):
    box.imap(["CREATE Work", box.append_cmd("Work", msg(1), "\\Seen $Label2"),
              box.append_cmd("Work", msg(2))])
    path = box.path("Work")
    f = box.env.msgfile("m3", msg(3))
    # Our APPEND: UID 3, with flags and a keyword Dovecot has not seen.
    assert box.ours("append", box.env.root, path, f, "\\Flagged,\\Draft", "Ours",
                    "$Label2").strip() == "3"
    assert box.ours("append", box.env.root, path, f, "-").strip() == "4"
    # Our STORE on Dovecot's messages, with a new keyword.
    box.ours("store", box.env.root, path, "1", "+", "\\Answered", "NewKw")
    box.ours("store", box.env.root, path, "2", "=", "\\Deleted,\\Seen")
    box.ours("store", box.env.root, path, "1", "-", "\\Seen", "$Label2")
    assert box.ours("expunge", box.env.root, path).split() == ["2"]
    uv, nxt, msgs = box.assert_same("Work")
    assert nxt == 5
    assert {u: m[:2] for u, m in msgs.items()} == {
        1: (["\\Answered"], ["NewKw"]),
        3: (["\\Draft", "\\Flagged"], ["$Label2", "Ours"]),
        4: ([], [])}
    assert msgs[3][2] == len(msg(3))
    # Dovecot keeps going from there: its next UID follows ours.
    out = box.imap([box.append_cmd("Work", msg(5), "Ours")])
    assert "[APPENDUID %d 5]" % uv in out
    box.assert_same("Work")
    # INBOX: our append into a fresh tree is read by Dovecot too.
    assert box.ours("append", box.env.root, box.env.root, f, "\\Seen", "Zeta").strip() == "1"
    box.assert_same("INBOX")
