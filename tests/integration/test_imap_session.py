"""The IMAP session core: greeting, CAPABILITY, STARTTLS and implicit
TLS, LOGIN / AUTHENTICATE through the lookup process, ID, ENABLE,
NAMESPACE, the mailbox-list commands on a real Maildir tree, quota,
limits, timeouts and shutdown. Real vmaild, imaplib, openssl s_client."""
import base64
import imaplib
import os
import signal
import subprocess
import time

import pytest

from smtptest import make_mx, maildir, tls_cert, PASSWORD  # noqa: F401
from vmaildtest import RawImap, free_port, imap_connect  # noqa: F401
from imaptest import ACCOUNTS, FAIL, USER, caps, login, make_imap, raw  # noqa: F401

def test_greeting_and_capability(vmaild_factory, tls_cert):
    v = make_imap(vmaild_factory, tls_cert)
    r = raw(v)
    assert r.greeting.startswith("* OK [CAPABILITY IMAP4rev1 ") and r.greeting.endswith(
        "] vmaild ready.")
    pre = caps(r.greeting)
    # loopback counts as secure by default: plaintext auth offered
    for c in ("SASL-IR", "LITERAL+", "ID", "ENABLE", "STARTTLS", "AUTH=PLAIN", "AUTH=LOGIN"):
        assert c in pre
    assert "LOGINDISABLED" not in pre and "NAMESPACE" not in pre
    u, t = r.cmd("c1", "CAPABILITY")
    assert u == ["* CAPABILITY " + " ".join(pre)] and t == "c1 OK Capability completed."
    _, t = r.cmd("l", "LOGIN %s %s" % (USER, PASSWORD))
    post = caps(t)
    for c in ("IMAP4rev1", "NAMESPACE", "CHILDREN", "LIST-EXTENDED", "SPECIAL-USE",
              "CREATE-SPECIAL-USE", "QUOTA", "ID", "ENABLE", "LITERAL+"):
        assert c in post
    for c in ("STARTTLS", "AUTH=PLAIN", "LOGINDISABLED", "SASL-IR"):
        assert c not in post
    u, t = r.cmd("c2", "CAPABILITY")
    assert u == ["* CAPABILITY " + " ".join(post)]
    _, t = r.cmd("c3", "LOGIN x y")
    assert t == "c3 BAD Command not allowed after login."
    u, t = r.cmd("z", "LOGOUT")
    assert u == ["* BYE Logging out"] and t == "z OK Logout completed."
    assert r.closed()
    v.wait_log("event=logout", "user=%s" % USER)
    v.wait_log("event=disconnect", "user=%s" % USER)


def test_plaintext_needs_tls_when_loopback_not_trusted(vmaild_factory, tls_cert):
    v = make_imap(vmaild_factory, tls_cert, imap={"loopback_secure": "no"})
    r = raw(v)
    pre = caps(r.greeting)
    assert "LOGINDISABLED" in pre and "STARTTLS" in pre
    assert not any(c.startswith("AUTH=") for c in pre)
    _, t = r.cmd("a", "LOGIN %s %s" % (USER, PASSWORD))
    assert t == ("a NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure "
                 "(SSL/TLS) connections.")
    _, t = r.cmd("b", "AUTHENTICATE PLAIN " + base64.b64encode(
        b"\0" + USER.encode() + b"\0pw").decode())
    assert t.startswith("b NO [PRIVACYREQUIRED]")
    # command injection after STARTTLS is refused
    r.send("c STARTTLS\r\nd NOOP\r\n")
    assert r.line() == "c BAD STARTTLS followed by more commands."
    assert r.line().startswith("* BYE")
    assert r.closed()
    # imaplib: STARTTLS, then the capabilities change and LOGIN works
    c = imap_connect(v.imap_port)
    assert "LOGINDISABLED" in c.capabilities
    c.starttls(ssl_context=_ctx())
    assert "LOGINDISABLED" not in c.capabilities and "AUTH=PLAIN" in c.capabilities
    assert c.login(USER, PASSWORD)[0] == "OK"
    assert c.noop()[0] == "OK"
    c.logout()
    v.wait_log("event=starttls")


def _ctx():
    import ssl
    x = ssl.create_default_context()
    x.check_hostname = False
    x.verify_mode = ssl.CERT_NONE
    return x


def test_imaps_implicit_tls(vmaild_factory, tls_cert):
    v = make_imap(vmaild_factory, tls_cert, imap={"loopback_secure": "no"})
    c = imap_connect(v.imaps_port, tls=True)
    assert "STARTTLS" not in c.capabilities and "AUTH=PLAIN" in c.capabilities
    assert c.login(USER, PASSWORD)[0] == "OK"
    typ, data = c.namespace()
    assert data == [b'(("" "/")) NIL NIL']
    c.logout()
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % v.imaps_port,
                        "-quiet"],
                       input=b"a CAPABILITY\r\nb LOGIN alice@example.test pw\r\nc LOGOUT\r\n",
                       capture_output=True, timeout=60)
    out = p.stdout.decode()
    assert "* OK [CAPABILITY IMAP4rev1" in out and "vmaild ready." in out
    assert "a OK Capability completed." in out
    assert "b OK [CAPABILITY" in out and "c OK Logout completed." in out
    v.wait_log("event=tls", "version=TLS")


def test_login_failures_are_identical(vmaild_factory, tls_cert):
    v = make_imap(vmaild_factory, tls_cert)
    r = raw(v)
    replies = []
    for i, (u, p) in enumerate([(USER, "wrong"), ("nobody@example.test", PASSWORD),
                                ("gone@example.test", PASSWORD),
                                ("blog@example.test", PASSWORD)]):
        _, t = r.cmd("f%d" % i, "LOGIN %s %s" % (u, p))
        replies.append(t.split(" ", 1)[1])
    assert replies == [FAIL] * 4
    # the delay doubles with the failures counted for the address (1s, 2s, capped 2s)
    log = v.log_lines("event=auth_failed")
    assert len(log) == 4
    assert "failures=1 delay=1s" in log[0] and "failures=2 delay=2s" in log[1]
    assert "failures=4 delay=2s" in log[3]
    assert "reason=sendonly" in log[3]
    assert "pw" not in " ".join(log).replace("pw=", "")
    # and a good login on the same connection still works, mixed case
    _, t = r.cmd("ok", "LOGIN Alice@Example.TEST %s" % PASSWORD)
    assert t.startswith("ok OK [CAPABILITY")
    v.wait_log("event=login", "user=alice@example.test")


def test_authenticate(vmaild_factory, tls_cert):
    v = make_imap(vmaild_factory, tls_cert)
    plain = base64.b64encode(b"\0" + USER.encode() + b"\0" + PASSWORD.encode()).decode()
    # SASL-IR
    r = raw(v)
    _, t = r.cmd("a", "AUTHENTICATE PLAIN " + plain)
    assert t.startswith("a OK [CAPABILITY")
    # without an initial response
    r = raw(v)
    r.send("b AUTHENTICATE PLAIN\r\n")
    assert r.line() == "+ "
    r.send(plain + "\r\n")
    assert r.until("b")[1].startswith("b OK [CAPABILITY")
    # cancelled
    r = raw(v)
    r.send("c AUTHENTICATE PLAIN\r\n")
    assert r.line() == "+ "
    r.send("*\r\n")
    assert r.until("c")[1] == "c BAD Authentication aborted by client."
    # LOGIN mechanism, mixed case login
    r.send("d AUTHENTICATE LOGIN\r\n")
    assert r.line() == "+ VXNlcm5hbWU6"
    r.send(base64.b64encode(b"ALICE@example.test").decode() + "\r\n")
    assert r.line() == "+ UGFzc3dvcmQ6"
    r.send(base64.b64encode(PASSWORD.encode()).decode() + "\r\n")
    assert r.until("d")[1].startswith("d OK [CAPABILITY")
    # wrong password through AUTHENTICATE: same answer as LOGIN
    r = raw(v)
    bad = base64.b64encode(b"\0" + USER.encode() + b"\0nope").decode()
    assert r.cmd("e", "AUTHENTICATE PLAIN " + bad)[1] == "e " + FAIL
    assert r.cmd("f", "AUTHENTICATE CRAM-MD5")[1].startswith("f NO ")
    # imaplib's authenticate
    c = imap_connect(v.imap_port)
    typ, _ = c.authenticate("PLAIN", lambda _: b"\0" + USER.encode() + b"\0" + b"pw")
    assert typ == "OK"
    c.logout()


def test_id_enable_namespace(vmaild_factory, tls_cert):
    v = make_imap(vmaild_factory, tls_cert)
    r = raw(v)
    u, t = r.cmd("i", 'ID ("name" "pytest" "version" "1")')
    assert u == ['* ID ("name" "vmaild")'] and t == "i OK ID completed."
    v.wait_log("event=id", "pytest")
    assert r.cmd("i2", "ID NIL")[0] == ['* ID ("name" "vmaild")']
    assert r.cmd("i3", "ID (\"odd\")")[1].startswith("i3 BAD")
    assert r.cmd("e0", "ENABLE CONDSTORE")[1] == "e0 BAD Command not allowed before login."
    r.cmd("l", "LOGIN %s %s" % (USER, PASSWORD))
    u, t = r.cmd("e", "ENABLE CONDSTORE X-UNKNOWN")
    assert u == ["* ENABLED"] and t == "e OK Enabled."
    u, t = r.cmd("n", "NAMESPACE")
    assert u == ['* NAMESPACE (("" "/")) NIL NIL'] and t == "n OK Namespace completed."


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_special_use_folders_on_first_login(vmaild_factory, tls_cert):
    v = make_imap(vmaild_factory, tls_cert)
    md = maildir(v, USER)
    assert not os.path.exists(md)
    r = login(v)
    for f in ("Spam", "Trash", "Drafts", "Sent"):
        for sub in ("cur", "new", "tmp"):
            assert os.path.isdir(os.path.join(md, f, sub))
        assert os.path.exists(os.path.join(md, f, "maildirfolder"))
    for sub in ("cur", "new", "tmp"):
        assert os.path.isdir(os.path.join(md, sub))
    subs = read(os.path.join(md, "subscriptions"))
    assert subs.startswith(b"V\t2\n\n")
    assert sorted(subs[5:].split(b"\n")[:-1]) == [b"Drafts", b"Sent", b"Spam", b"Trash"]
    u, t = r.cmd("a", 'LIST "" "*"')
    assert t == "a OK List completed."
    assert u == ['* LIST (\\HasNoChildren) "/" "INBOX"',
                 '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
                 '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
                 '* LIST (\\HasNoChildren \\Junk) "/" "Spam"',
                 '* LIST (\\HasNoChildren \\Trash) "/" "Trash"']
    # a folder the user deleted and unsubscribed comes back at the next login
    assert r.cmd("d", "DELETE Trash")[1] == "d OK Delete completed."
    assert r.cmd("u", "UNSUBSCRIBE Trash")[1] == "u OK Unsubscribe completed."
    r.cmd("z", "LOGOUT")
    login(v)
    assert os.path.isdir(os.path.join(md, "Trash", "cur"))
    assert b"Trash" in read(os.path.join(md, "subscriptions"))


def names(untagged):
    return [l.rsplit(' "/" ', 1)[1] for l in untagged]


def test_list_patterns_and_extended(vmaild_factory, tls_cert):
    v = make_imap(vmaild_factory, tls_cert)
    r = login(v)
    for n in ("Work", "Work/Project", "Work/Old/2020", "Archive", "Entw&APw-rfe"):
        assert r.cmd("c", "CREATE \"%s\"" % n)[1] == "c OK Create completed.", n
    u, _ = r.cmd("a", 'LIST "" "%"')
    assert names(u) == ['"INBOX"', '"Archive"', '"Drafts"', '"Entw&APw-rfe"', '"Sent"',
                        '"Spam"', '"Trash"', '"Work"']
    assert '* LIST (\\HasChildren) "/" "Work"' in u
    u, _ = r.cmd("b", 'LIST "" "Work/*"')
    assert u == ['* LIST (\\HasNoChildren) "/" "Work/Old/2020"',
                 '* LIST (\\Noselect \\HasChildren) "/" "Work/Old"',
                 '* LIST (\\HasNoChildren) "/" "Work/Project"'] or sorted(u) == sorted(
        ['* LIST (\\HasNoChildren) "/" "Work/Old/2020"',
         '* LIST (\\Noselect \\HasChildren) "/" "Work/Old"',
         '* LIST (\\HasNoChildren) "/" "Work/Project"'])
    # reference + pattern, % does not cross the separator
    u, _ = r.cmd("c", 'LIST "Work/" "%"')
    assert sorted(names(u)) == ['"Work/Old"', '"Work/Project"']
    # INBOX in any case
    u, _ = r.cmd("d", 'LIST "" "inbox"')
    assert u == ['* LIST (\\HasNoChildren) "/" "INBOX"']
    # the separator
    u, _ = r.cmd("e", 'LIST "" ""')
    assert u == ['* LIST (\\Noselect) "/" ""']
    # no match
    assert r.cmd("f", 'LIST "" "Nope*"')[0] == []
    # LIST-EXTENDED: SUBSCRIBED selection, multiple patterns, return options
    assert r.cmd("s", "SUBSCRIBE Work/Project")[1] == "s OK Subscribe completed."
    assert r.cmd("s2", "SUBSCRIBE Gone")[1] == "s2 OK Subscribe completed."
    u, _ = r.cmd("g", 'LIST (SUBSCRIBED) "" ("Work/*" "Gone" "Sent")')
    assert sorted(u) == sorted(['* LIST (\\HasNoChildren \\Subscribed) "/" "Work/Project"',
                                '* LIST (\\NonExistent \\Subscribed) "/" "Gone"',
                                '* LIST (\\HasNoChildren \\Subscribed \\Sent) "/" "Sent"'])
    u, _ = r.cmd("h", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
    assert '* LIST (\\HasChildren) "/" "Work" ("CHILDINFO" ("SUBSCRIBED"))' in u
    assert '* LIST (\\NonExistent \\Subscribed) "/" "Gone"' in u
    assert not any('"Archive"' in l for l in u)
    u, _ = r.cmd("i", 'LIST "" "*" RETURN (SUBSCRIBED CHILDREN SPECIAL-USE)')
    assert '* LIST (\\HasNoChildren \\Subscribed \\Junk) "/" "Spam"' in u
    assert '* LIST (\\HasNoChildren) "/" "Archive"' in u
    u, _ = r.cmd("j", 'LIST (SPECIAL-USE) "" "*"')
    assert sorted(names(u)) == ['"Drafts"', '"Sent"', '"Spam"', '"Trash"']
    assert r.cmd("k", 'LIST (RECURSIVEMATCH) "" "*"')[1].startswith("k BAD")
    assert r.cmd("k2", 'LIST (BOGUS) "" "*"')[1].startswith("k2 BAD")
    assert r.cmd("k3", 'LIST "" "*" RETURN (STATUS (MESSAGES))')[1].startswith("k3 BAD")
    # LSUB: subscribed names; a % match of an unsubscribed parent is \Noselect
    u, t = r.cmd("l", 'LSUB "" "*"')
    assert t == "l OK Lsub completed."
    assert sorted(u) == sorted(['* LSUB () "/" "%s"' % n for n in
                                ("Drafts", "Gone", "Sent", "Spam", "Trash", "Work/Project")])
    u, _ = r.cmd("m", 'LSUB "" "%"')
    assert '* LSUB (\\Noselect) "/" "Work"' in u
    # imaplib agrees
    c = imap_connect(v.imap_port)
    c.login(USER, PASSWORD)
    typ, data = c.list('""', '"Entw&APw-rfe"')
    assert typ == "OK" and data == [b'(\\HasNoChildren) "/" "Entw&APw-rfe"']
    c.logout()


def test_create_delete_rename_subscribe_on_disk(vmaild_factory, tls_cert):
    v = make_imap(vmaild_factory, tls_cert)
    md = maildir(v, USER)
    r = login(v)
    assert r.cmd("a", "CREATE A/B/C")[1] == "a OK Create completed."
    assert os.path.isdir(os.path.join(md, "A", "B", "C", "cur"))
    assert not os.path.exists(os.path.join(md, "A", "cur"))  # a \Noselect parent
    assert r.cmd("a2", "CREATE A/B/C")[1] == "a2 NO [ALREADYEXISTS] Mailbox already exists"
    assert r.cmd("a3", "CREATE inbox")[1].startswith("a3 NO [ALREADYEXISTS]")
    assert r.cmd("a4", "CREATE A/")[1] == "a4 OK Create completed."  # trailing separator
    assert os.path.isdir(os.path.join(md, "A", "cur"))
    # names: modified UTF-7 checked, store rules applied
    for bad in ('"&Jjo"', '"a&AGE-"', '"&-&AOQ-&AOQ-"', ".hidden", "A/cur", '"x\\\\y"'):
        _, t = r.cmd("b", "CREATE %s" % bad)
        assert t.startswith("b NO") or t.startswith("b BAD"), (bad, t)
    assert r.cmd("b2", 'CREATE "&AOQ-&-x"')[1] == "b2 OK Create completed."
    assert os.path.isdir(os.path.join(md, "&AOQ-&-x", "cur"))
    # CREATE-SPECIAL-USE
    assert r.cmd("u1", "CREATE Foo (USE (\\Junk))")[1].startswith("u1 NO [USEATTR]")
    assert r.cmd("u2", "DELETE Spam")[1] == "u2 OK Delete completed."
    assert r.cmd("u3", "CREATE Spam (USE (\\Junk))")[1] == "u3 OK Create completed."
    # a message in A/B/C, then DELETE A/B: it has a child: stays as \Noselect
    assert r.cmd("d0", "CREATE A/B")[1] == "d0 OK Create completed."
    with open(os.path.join(md, "A", "B", "cur", "1.M1.host,S=5:2,S"), "w") as f:
        f.write("x\n\nx")
    assert r.cmd("d", "DELETE A/B")[1] == "d OK Delete completed."
    assert os.path.isdir(os.path.join(md, "A", "B", "C", "cur"))
    assert not os.path.exists(os.path.join(md, "A", "B", "cur"))
    u, _ = r.cmd("d1", 'LIST "" "A/B"')
    assert u == ['* LIST (\\Noselect \\HasChildren) "/" "A/B"']
    assert r.cmd("d2", "DELETE A/B")[1].startswith("d2 NO")  # \Noselect with children
    assert r.cmd("d3", "DELETE A/B/C")[1] == "d3 OK Delete completed."
    assert not os.path.exists(os.path.join(md, "A", "B", "C"))
    assert r.cmd("d4", "DELETE A/B")[1] == "d4 OK Delete completed."
    assert not os.path.exists(os.path.join(md, "A", "B"))
    assert r.cmd("d5", "DELETE INBOX")[1].startswith("d5 NO")
    assert r.cmd("d6", "DELETE Nope")[1] == "d6 NO [NONEXISTENT] Mailbox doesn't exist."
    # RENAME with children and subscriptions
    r.cmd("r0", "CREATE P/Q")
    r.cmd("r1", "SUBSCRIBE P/Q")
    assert r.cmd("r", "RENAME P Z/P2")[1] == "r OK Rename completed."
    assert os.path.isdir(os.path.join(md, "Z", "P2", "Q", "cur"))
    assert not os.path.exists(os.path.join(md, "P"))
    subs = read(os.path.join(md, "subscriptions"))
    assert b"Z\tP2\tQ\n" in subs and b"P\tQ\n" not in subs
    assert r.cmd("r2", "RENAME Nope X")[1].startswith("r2 NO [NONEXISTENT]")
    assert r.cmd("r3", "RENAME Sent Drafts")[1].startswith("r3 NO [ALREADYEXISTS]")
    assert r.cmd("r4", "RENAME Z Z/Y")[1].startswith("r4 NO")
    # RENAME INBOX: its messages move, INBOX stays
    with open(os.path.join(md, "new", "2.M2.host,S=3"), "w") as f:
        f.write("a\n\n")
    with open(os.path.join(md, "cur", "3.M3.host,S=3:2,S"), "w") as f:
        f.write("b\n\n")
    assert r.cmd("r5", "RENAME INBOX Old-Inbox")[1] == "r5 OK Rename completed."
    assert os.listdir(os.path.join(md, "Old-Inbox", "new")) == ["2.M2.host,S=3"]
    assert os.listdir(os.path.join(md, "Old-Inbox", "cur")) == ["3.M3.host,S=3:2,S"]
    assert os.listdir(os.path.join(md, "new")) == [] and os.listdir(os.path.join(md, "cur")) == []
    # SUBSCRIBE / UNSUBSCRIBE in the file, Dovecot's format
    assert r.cmd("s", 'SUBSCRIBE "Entw&APw-rfe"')[1] == "s OK Subscribe completed."
    assert b"Entw&APw-rfe\n" in read(os.path.join(md, "subscriptions"))
    assert r.cmd("s2", 'UNSUBSCRIBE "Entw&APw-rfe"')[1] == "s2 OK Unsubscribe completed."
    assert b"Entw&APw-rfe" not in read(os.path.join(md, "subscriptions"))
    assert r.cmd("s3", "CREATE")[1].startswith("s3 BAD")


def test_getquotaroot(vmaild_factory, tls_cert):
    v = make_imap(vmaild_factory, tls_cert)
    carol = "carol@example.test"
    md = maildir(v, carol)
    os.makedirs(os.path.join(md, "cur"))
    with open(os.path.join(md, "cur", "1.M1.host,S=4096:2,S"), "w") as f:
        f.write("x" * 4096)
    r = login(v, carol)
    u, t = r.cmd("q", "GETQUOTAROOT INBOX")
    assert u == ['* QUOTAROOT "INBOX" "User quota"',
                 '* QUOTA "User quota" (STORAGE 4 10240)'] and t == "q OK Getquotaroot completed."
    u, t = r.cmd("q2", 'GETQUOTA "User quota"')
    assert u == ['* QUOTA "User quota" (STORAGE 4 10240)'] and t == "q2 OK Getquota completed."
    assert r.cmd("q3", 'GETQUOTA "other"')[1].startswith("q3 NO")
    assert r.cmd("q4", "GETQUOTAROOT Nope")[1].startswith("q4 NO [NONEXISTENT]")
    assert os.path.exists(os.path.join(md, "maildirsize"))
    # no quota: no resources
    r2 = login(v)
    assert r2.cmd("q", "GETQUOTAROOT Sent")[0][1] == '* QUOTA "User quota" ()'
    c = imap_connect(v.imap_port)
    c.login(carol, PASSWORD)
    typ, data = c.getquotaroot("INBOX")
    assert typ == "OK"
    c.logout()


def test_bad_input(vmaild_factory, tls_cert):
    v = make_imap(vmaild_factory, tls_cert)
    r = raw(v)
    assert r.cmd("a1", "FROB")[1] == "a1 BAD Unknown command."
    assert r.cmd("a2", 'LIST "" "*"')[1] == "a2 BAD Command not allowed before login."
    assert r.cmd("a3", "UID FETCH 1 FLAGS")[1].startswith("a3 BAD")
    # garbage: an unbalanced quote
    assert r.cmd("a4", 'LOGIN "x')[1].startswith("a4 BAD")
    # nesting: before login only 4 levels
    assert r.cmd("a5", "ID " + "(" * 10 + ")" * 10)[1] == "a5 BAD Nesting too deep"
    # too long before login (16 KiB)
    assert r.cmd("a6", "NOOP " + "x" * 20000)[1] == "a6 BAD Command line too long"
    # a literal too large before login
    r.send("a7 LOGIN {100000}\r\n")
    assert r.line().startswith("a7 BAD [TOOBIG]")
    assert r.cmd("a8", "NOOP")[1] == "a8 OK NOOP completed."
    # a literal that fits is accepted with +
    r.send("a9 LOGIN {%d}\r\n" % len(USER))
    assert r.line().startswith("+ ")
    r.send(USER + " {2+}\r\npw\r\n")
    assert r.until("a9")[1].startswith("a9 OK [CAPABILITY")
    # after login: [imap] max_line (64k)
    assert r.cmd("b1", "NOOP " + "x" * 70000)[1] == "b1 BAD Command line too long"
    assert r.cmd("b2", "ID " + "(" * 25 + ")" * 25)[1] == "b2 BAD Nesting too deep"
    assert r.cmd("b3", "NOOP")[1] == "b3 OK NOOP completed."
    v.wait_log("event=bad", "Nesting\\x20too\\x20deep")


def test_too_many_bad_commands(vmaild_factory, tls_cert):
    v = make_imap(vmaild_factory, tls_cert)
    r = raw(v)
    r.send("".join("x%d FROB\r\n" % i for i in range(25)))
    lines = []
    while True:
        try:
            lines.append(r.line())
        except ConnectionError:
            break
    assert lines[-1] == "* BYE Too many invalid IMAP commands."
    assert len([l for l in lines if "BAD" in l]) == 20


def test_idle_timeouts(vmaild_factory, tls_cert):
    v = make_imap(vmaild_factory, tls_cert, imap={"login_timeout": "1s", "timeout": "2s"})
    r = raw(v)
    assert r.line() == "* BYE Disconnected for inactivity."
    assert r.closed()
    r = raw(v)
    _, t = r.cmd("l", "LOGIN %s %s" % (USER, PASSWORD))
    assert t.startswith("l OK")
    assert r.line() == "* BYE Disconnected for inactivity."
    v.wait_log("event=timeout", "state=authenticated", "user=%s" % USER)


def test_max_userip_connections(vmaild_factory, tls_cert):
    v = make_imap(vmaild_factory, tls_cert, imap={"max_userip_connections": "2"})
    a, b = login(v), login(v)
    r = raw(v)
    _, t = r.cmd("l", "LOGIN %s %s" % (USER, PASSWORD))
    assert t == ("l NO [LIMIT] Maximum number of connections from user+IP exceeded "
                 "(mail_max_userip_connections=2)")
    # another user is not affected; the same one after a logout again
    login(v, "bob@example.test")
    a.cmd("z", "LOGOUT")
    assert a.closed()
    deadline = time.time() + 10
    while True:
        _, t = r.cmd("m", "LOGIN %s %s" % (USER, PASSWORD))
        if t.startswith("m OK") or time.time() > deadline:
            break
        time.sleep(0.2)
    assert t.startswith("m OK [CAPABILITY"), t
    b.close()


def test_shutdown_says_bye(vmaild_factory, tls_cert):
    v = make_imap(vmaild_factory, tls_cert)
    r = login(v)
    r2 = raw(v)
    v.stop()
    assert r.line() == "* BYE Server shutting down."
    assert r2.line() == "* BYE Server shutting down."


def test_pipelined_output_backpressure(vmaild_factory, tls_cert):
    """50 000 pipelined commands from a client that reads nothing until it
    has sent them all: the server stops reading while its output is full
    and answers every one, in order."""
    import threading
    v = make_imap(vmaild_factory, tls_cert)
    r = login(v)
    n = 50000
    data = "".join("p%d NOOP\r\n" % i for i in range(n)).encode()
    t = threading.Thread(target=r.sock.sendall, args=(data,))
    t.start()
    time.sleep(1)
    for i in range(n):
        assert r.line() == "p%d OK NOOP completed." % i
    t.join()
    assert r.cmd("z", "NOOP")[1] == "z OK NOOP completed."
