"""SMTP server on port 25: recipient lookup, local delivery and quota.

Lookup outcomes (account, user+tag, alias, catch-all, explicit alias over
catch-all, alias to a remote address, alias chains, sendonly, disabled,
unknown, directory down), what a delivered file looks like (Return-Path,
Delivered-To, Received, the S= size, modes, hard links for several
recipients, one copy per mailbox), the log trail of a queue id, and the
guide's quota (Maildir++ maildirsize): 452 4.2.2 at RCPT when already
full, 552 5.2.2 when the message would not fit.
"""
import os
import re
import stat
import time

from smtptest import (STRANGER, Raw, all_mail_files, make_mx, maildir, maildir_files, message,
                      queue_files, queued_id, read_file, send, smtp)


def rcpt_reply(v, rcpt, source=None):
    s = smtp(v, source=source)
    try:
        assert s.mail("sender@remote.test")[0] == 250
        code, text = s.rcpt(rcpt)
        return code, text.decode("utf-8", "replace")
    finally:
        s.quit()


def only_file(v, address):
    files = maildir_files(v, address)
    assert len(files) == 1, (address, files)
    return files[0]


# ---- lookup outcomes ----

def test_account(vmaild_factory):
    v = make_mx(vmaild_factory)
    code, text = send(v, "demo@example.test", message(subject="to account"))
    assert code == 250, text
    assert b"Subject: to account\n" in read_file(only_file(v, "demo@example.test"))


def test_recipient_delimiter(vmaild_factory):
    v = make_mx(vmaild_factory)
    code, text = send(v, "demo+lists@example.test")
    assert code == 250, text
    data = read_file(only_file(v, "demo@example.test"))
    assert b"\nDelivered-To: demo@example.test\n" in data
    assert b"for <demo+lists@example.test>" in data
    assert not os.path.exists(os.path.join(v.root, "vmail", "example.test", "demo+lists"))


def test_alias(vmaild_factory):
    v = make_mx(vmaild_factory)
    v.ctl("alias", "add", "info@example.test", "demo@example.test")
    code, text = send(v, "info@example.test")
    assert code == 250, text
    data = read_file(only_file(v, "demo@example.test"))
    assert b"\nDelivered-To: demo@example.test\n" in data
    assert not os.path.exists(os.path.join(v.root, "vmail", "example.test", "info"))


def test_catchall(vmaild_factory):
    v = make_mx(vmaild_factory, accounts=("demo", "boss"))
    v.ctl("alias", "add", "@example.test", "boss@example.test")
    code, text = send(v, "anything-at-all@example.test")
    assert code == 250, text
    only_file(v, "boss@example.test")
    assert maildir_files(v, "demo@example.test") == []
    # an account still gets its own mail
    assert send(v, "demo@example.test")[0] == 250
    only_file(v, "demo@example.test")
    assert len(maildir_files(v, "boss@example.test")) == 1


def test_explicit_alias_beats_catchall(vmaild_factory):
    v = make_mx(vmaild_factory, accounts=("demo", "boss"))
    v.ctl("alias", "add", "@example.test", "boss@example.test")
    v.ctl("alias", "add", "info@example.test", "demo@example.test")
    code, text = send(v, "info@example.test")
    assert code == 250, text
    only_file(v, "demo@example.test")
    assert maildir_files(v, "boss@example.test") == []


def test_alias_to_remote_address_from_stranger_is_queued(vmaild_factory):
    v = make_mx(vmaild_factory, smtpd={"mynetworks": STRANGER})
    v.ctl("alias", "add", "fwd@example.test", "someone@other.net")
    code, text = send(v, "fwd@example.test", message(subject="forward me"))
    assert code == 250, text
    qid = queued_id(text)
    env, msg = queue_files(v)
    assert env == [qid] and msg == [qid]
    with open(os.path.join(v.state, "queue", "env", qid)) as f:
        envelope = f.read()
    assert "\nrcpt someone@other.net\n" in envelope
    assert b"Subject: forward me\n" in read_file(os.path.join(v.state, "queue", "msg", qid))
    assert all_mail_files(v) == []


def test_alias_to_alias(vmaild_factory):
    v = make_mx(vmaild_factory)
    v.ctl("alias", "add", "first@example.test", "second@example.test")
    v.ctl("alias", "add", "second@example.test", "demo@example.test")
    code, text = send(v, "first@example.test")
    assert code == 250, text
    data = read_file(only_file(v, "demo@example.test"))
    assert b"\nDelivered-To: demo@example.test\n" in data


def test_alias_loop_is_not_accepted(vmaild_factory):
    v = make_mx(vmaild_factory)
    v.ctl("alias", "add", "ping@example.test", "pong@example.test")
    v.ctl("alias", "add", "pong@example.test", "ping@example.test")
    code, text = rcpt_reply(v, "ping@example.test")
    assert code // 100 in (4, 5), (code, text)
    assert all_mail_files(v) == []


def test_sendonly(vmaild_factory):
    v = make_mx(vmaild_factory, accounts=("demo", ("noreply", ("--sendonly",))))
    code, text = rcpt_reply(v, "noreply@example.test")
    assert code == 550 and text.startswith("5.7.1"), (code, text)


def test_disabled(vmaild_factory):
    v = make_mx(vmaild_factory, accounts=("demo", ("gone", ("--disabled",))))
    code, text = rcpt_reply(v, "gone@example.test")
    assert code == 550 and text.startswith("5.1.1"), (code, text)


def test_unknown(vmaild_factory):
    v = make_mx(vmaild_factory)
    code, text = rcpt_reply(v, "nobody@example.test")
    assert code == 550 and text.startswith("5.1.1"), (code, text)
    assert "nobody@example.test" in text


def test_directory_unavailable(vmaild_factory):
    v = make_mx(vmaild_factory, allowed_errors=["event=directory_down"])
    assert rcpt_reply(v, "demo@example.test")[0] == 250
    time.sleep(1.5)  # past [directory] cache_ttl = 1s
    with open(v.sections["directory"]["path"], "r+b") as f:
        f.write(b"this is not a database, " * 4096)
    code, text = rcpt_reply(v, "demo@example.test")
    assert code == 451, (code, text)
    assert text.startswith("4.")
    assert v.log_lines("event=lookup_tempfail")


# ---- what a delivered message looks like ----

def test_delivered_file(vmaild_factory):
    v = make_mx(vmaild_factory)
    code, text = send(v, "demo@example.test", message(subject="look at me", body="last line\r\n"),
                      helo="helo.example.net")
    assert code == 250, text
    qid = queued_id(text)
    path = only_file(v, "demo@example.test")
    assert os.path.basename(os.path.dirname(path)) == "new"
    data = read_file(path)
    head = data.split(b"\nFrom: <sender@remote.test>\n")[0].decode()
    lines = head.split("\n")
    assert lines[0] == "Return-Path: <sender@remote.test>"
    assert lines[1] == "Delivered-To: demo@example.test"
    received = "\n".join(lines[2:])
    assert received.startswith("Received: from helo.example.net (unknown [127.0.0.1])\n"), head
    assert re.search(r"\n\tby mx\.test \(vmaild\) with ESMTP id %s\n\tfor <demo@example\.test>; "
                     r"\w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}" % qid, received), head
    assert data.endswith(b"\n\nlast line\n") and b"\r" not in data
    # the Maildir name: S= is the file's size
    m = re.search(r",S=(\d+)", os.path.basename(path))
    assert m and int(m.group(1)) == os.path.getsize(path) == len(data)
    # modes: directories 0700, the file 0600
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600
    md = maildir(v, "demo@example.test")
    for d in (os.path.join(v.root, "vmail", "example.test"), os.path.dirname(md), md,
              os.path.join(md, "new"), os.path.join(md, "cur"), os.path.join(md, "tmp")):
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, d
    assert os.listdir(os.path.join(md, "tmp")) == []
    assert os.listdir(os.path.join(v.state, "queue", "incoming")) == []
    # the log trail of the queue id
    trail = v.log_lines("qid=" + qid)
    for ev in ("event=mail ", "event=rcpt ", "event=delivered ", "event=accepted "):
        assert any(ev in l for l in trail), (ev, trail)
    delivered = [l for l in trail if "event=delivered " in l][0]
    assert "to=<demo@example.test>" in delivered and "status=sent" in delivered


def test_two_local_recipients_share_one_file(vmaild_factory):
    v = make_mx(vmaild_factory, accounts=("demo", "other"))
    code, text = send(v, ["demo@example.test", "other@example.test"])
    assert code == 250, text
    a, b = only_file(v, "demo@example.test"), only_file(v, "other@example.test")
    sa, sb = os.stat(a), os.stat(b)
    assert (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)
    data = read_file(a)
    assert b"Delivered-To:" not in data
    assert b"\n\tfor <" not in data  # several recipients: no "for" clause


def test_same_mailbox_twice_gets_one_copy(vmaild_factory):
    v = make_mx(vmaild_factory)
    v.ctl("alias", "add", "info@example.test", "demo@example.test")
    code, text = send(v, ["info@example.test", "demo@example.test", "DEMO+x@example.test"])
    assert code == 250, text
    only_file(v, "demo@example.test")
    qid = queued_id(text)
    assert len(v.log_lines("qid=" + qid, "event=delivered ")) == 1


def test_distribution_list_alias(vmaild_factory):
    v = make_mx(vmaild_factory, accounts=("demo", "other"))
    v.ctl("alias", "add", "team@example.test", "demo@example.test")
    v.ctl("alias", "add", "team@example.test", "other@example.test")
    code, text = send(v, "team@example.test")
    assert code == 250, text
    only_file(v, "demo@example.test")
    only_file(v, "other@example.test")


# ---- quota ----

def make_maildir(v, address):
    md = maildir(v, address)
    for sd in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(md, sd), mode=0o700, exist_ok=True)
    return md


def test_quota_full_at_rcpt(vmaild_factory):
    v = make_mx(vmaild_factory, accounts=("demo", ("small", ("--quota", "1"))))
    md = make_maildir(v, "small@example.test")
    with open(os.path.join(md, "maildirsize"), "w") as f:
        f.write("1048576S\n2000000 1\n")
    code, text = rcpt_reply(v, "small@example.test")
    assert code == 452 and text.startswith("4.2.2"), (code, text)
    # others are not affected
    assert rcpt_reply(v, "demo@example.test")[0] == 250


def test_quota_filled_exactly_then_full_at_rcpt(vmaild_factory):
    v = make_mx(vmaild_factory, accounts=(("small", ("--quota", "1")),),
                config={"mail": {"message_size_limit": "4m"}})
    first = message(subject="first")
    assert send(v, "small@example.test", first)[0] == 250
    size1 = os.path.getsize(only_file(v, "small@example.test"))
    head_len = size1 - len(first.replace(b"\r\n", b"\n"))
    # the second message fills the 1 MiB exactly (our header fields are
    # the same length: same sender, recipient and client)
    room = 1048576 - size1 - head_len
    stub = message(subject="fill", body="")
    pad = room - len(stub.replace(b"\r\n", b"\n"))
    line = "y" * 99 + "\r\n"
    rest = pad % 100
    body = line * (pad // 100) + ("y" * (rest - 1) + "\r\n" if rest else "")
    second = message(subject="fill", body=body)
    code, text = send(v, "small@example.test", second)
    assert code == 250, text
    sizes = [os.path.getsize(p) for p in maildir_files(v, "small@example.test")]
    assert sum(sizes) == 1048576, sizes
    code, text = rcpt_reply(v, "small@example.test")
    assert code == 452 and text.startswith("4.2.2"), (code, text)


def test_message_over_quota(vmaild_factory):
    v = make_mx(vmaild_factory, accounts=("demo", ("small", ("--quota", "1"))),
                config={"mail": {"message_size_limit": "4m"}})
    line = "z" * 98 + "\r\n"
    s = smtp(v)
    assert s.mail("sender@remote.test")[0] == 250
    assert s.rcpt("small@example.test")[0] == 250
    assert s.rcpt("demo@example.test")[0] == 250
    code, text = s.data(message(body=line * 12000))  # ~1.2 MB
    text = text.decode("utf-8", "replace")
    assert code == 552 and text.startswith("5.2.2"), (code, text)
    assert "User small@example.test has exhausted allowed storage space" in text
    s.quit()
    # all or nothing: no copy for anyone
    assert all_mail_files(v) == []
    # a small message still fits
    assert send(v, "small@example.test")[0] == 250
    only_file(v, "small@example.test")


def test_bare_postmaster_goes_to_the_configured_address(vmaild_factory):
    """RFC 5321 section 4.5.1: <Postmaster> without a domain is always
    taken; [mail] postmaster says where it goes."""
    v = make_mx(vmaild_factory, smtpd={"mynetworks": STRANGER},
                config={"mail": {"postmaster": "demo@example.test"}})
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    assert r.cmd("MAIL FROM:<sender@remote.test>")[0] == 250
    code, text = r.cmd("RCPT TO:<Postmaster>")
    assert code == 250, text
    assert r.cmd("DATA")[0] == 354
    assert r.cmd("Subject: hello postmaster\r\n\r\nx\r\n.")[0] == 250
    assert b"Subject: hello postmaster\n" in read_file(only_file(v, "demo@example.test"))


def test_recipient_domain_not_fully_qualified(vmaild_factory):
    v = make_mx(vmaild_factory)
    code, text = rcpt_reply(v, "demo@example")
    assert code == 504 and text.startswith("5.5.2"), (code, text)

