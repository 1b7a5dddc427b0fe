"""SMTP server on port 25: the protocol (RFC 5321 and the extensions we offer).

EHLO keywords, HELO, PIPELINING (also past the output cap), CHUNKING
(BDAT), SMTPUTF8, the small commands (VRFY, NOOP, RSET, QUIT), unknown
commands, MAIL before HELO, clients that vanish mid-transaction, the
graceful stop, and the end-of-data sequence (no SMTP smuggling). Each
test starts its own vmaild (smtptest.make_mx) and talks to it with
smtplib or a raw socket.
"""
import pytest

from smtptest import (Raw, make_mx, maildir_files, message, queued_id, read_file, send,
                      tls_cert)  # noqa: F401 (tls_cert is a fixture)


def ehlo_keywords(text):
    return [l.strip() for l in text.split("\n")[1:]]


def test_ehlo_lists_extensions(vmaild_factory, tls_cert):
    v = make_mx(vmaild_factory, tls=tls_cert)
    r = Raw(v.smtp_port)
    assert r.greeting[0] == 220 and r.greeting[1].startswith("mx.test")
    code, text = r.cmd("EHLO client.example.net")
    assert code == 250
    assert text.split("\n")[0].startswith("mx.test")
    kw = ehlo_keywords(text)
    for k in ("PIPELINING", "SIZE 52428800", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES",
              "STARTTLS", "CHUNKING"):
        assert k in kw, (k, kw)
    # the guide: disable_vrfy_command = yes, and port 25 offers no AUTH
    assert "VRFY" not in kw and not any(k.startswith("AUTH") for k in kw)
    assert r.cmd("QUIT")[0] == 221


def test_no_starttls_without_certificate(vmaild_factory):
    v = make_mx(vmaild_factory)
    r = Raw(v.smtp_port)
    code, text = r.cmd("EHLO client.example.net")
    assert code == 250
    assert "STARTTLS" not in ehlo_keywords(text)
    code, _ = r.cmd("STARTTLS")
    assert code == 502


def test_helo_then_a_message(vmaild_factory):
    v = make_mx(vmaild_factory)
    r = Raw(v.smtp_port)
    code, text = r.cmd("HELO client.example.net")
    assert code == 250 and text == "mx.test"
    assert r.cmd("MAIL FROM:<sender@remote.test>")[0] == 250
    assert r.cmd("RCPT TO:<demo@example.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    code, text = r.cmd("Subject: helo\r\n\r\nvia HELO\r\n.")
    assert code == 250, text
    qid = queued_id(text)
    files = maildir_files(v, "demo@example.test")
    assert len(files) == 1
    data = read_file(files[0])
    assert b"with SMTP id " + qid.encode() in data
    assert data.endswith(b"\nvia HELO\n")


def test_pipelining_replies_in_order(vmaild_factory):
    v = make_mx(vmaild_factory, accounts=("demo", "other"))
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    r.send("MAIL FROM:<sender@remote.test>\r\nRCPT TO:<demo@example.test>\r\n"
           "RCPT TO:<nobody@example.test>\r\nRCPT TO:<other@example.test>\r\nDATA\r\n")
    replies = [r.reply() for _ in range(5)]
    assert [c for c, _ in replies] == [250, 250, 550, 250, 354], replies
    assert "nobody@example.test" in replies[2][1]
    r.send("Subject: pipelined\r\n\r\nline 1\r\n..dot line\r\n.\r\nNOOP\r\nQUIT\r\n")
    code, text = r.reply()
    assert code == 250, text
    assert r.reply()[0] == 250
    assert r.reply()[0] == 221
    assert r.closed()
    for a in ("demo@example.test", "other@example.test"):
        files = maildir_files(v, a)
        assert len(files) == 1, (a, files)
        assert read_file(files[0]).endswith(b"\nline 1\n.dot line\n")


def test_bdat_chunks_and_last(vmaild_factory):
    v = make_mx(vmaild_factory)
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    assert r.cmd("MAIL FROM:<sender@remote.test> BODY=8BITMIME")[0] == 250
    assert r.cmd("RCPT TO:<demo@example.test>")[0] == 250
    # a CR LF pair split over two chunks, a dot at a line start (no
    # stuffing in BDAT), a lone CR inside a line
    chunks = [b"Subject: chunked\r\nX-Test: 1\r", b"\n\r\nfirst line\r\n.not stuffed\r\n",
              b"cr\rinside\r\nlast line\r\n"]
    for i, ch in enumerate(chunks):
        last = i == len(chunks) - 1
        r.send(b"BDAT %d%s\r\n" % (len(ch), b" LAST" if last else b"") + ch)
        code, text = r.reply()
        assert code == 250, (i, text)
    qid = queued_id(text)
    files = maildir_files(v, "demo@example.test")
    assert len(files) == 1
    data = read_file(files[0])
    assert b"id " + qid.encode() in data
    body = data.split(b"\nSubject: chunked\n", 1)[1]
    assert body == b"X-Test: 1\n\nfirst line\n.not stuffed\ncr\rinside\nlast line\n"
    assert b"\r\n" not in data
    # the session goes on after BDAT LAST
    assert r.cmd("NOOP")[0] == 250


def test_bdat_zero_size_last(vmaild_factory):
    v = make_mx(vmaild_factory)
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    assert r.cmd("MAIL FROM:<sender@remote.test>")[0] == 250
    assert r.cmd("RCPT TO:<demo@example.test>")[0] == 250
    ch = b"Subject: zero last\r\n\r\nbody\r\n"
    r.send(b"BDAT %d\r\n" % len(ch) + ch)
    assert r.reply()[0] == 250
    code, text = r.cmd("BDAT 0 LAST")
    assert code == 250 and "queued as" in text, text
    files = maildir_files(v, "demo@example.test")
    assert len(files) == 1
    assert read_file(files[0]).endswith(b"\nSubject: zero last\n\nbody\n")


def test_bdat_pipelined_in_one_send(vmaild_factory):
    v = make_mx(vmaild_factory)
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    ch1, ch2 = b"Subject: one send\r\n\r\n", b"all at once\r\n"
    r.send(b"MAIL FROM:<sender@remote.test>\r\nRCPT TO:<demo@example.test>\r\n"
           b"BDAT %d\r\n%sBDAT %d LAST\r\n%sQUIT\r\n" % (len(ch1), ch1, len(ch2), ch2))
    codes = [r.reply()[0] for _ in range(5)]
    assert codes == [250, 250, 250, 250, 221]
    files = maildir_files(v, "demo@example.test")
    assert len(files) == 1 and read_file(files[0]).endswith(b"\n\nall at once\n")


def test_smtputf8_address_needs_the_parameter(vmaild_factory):
    v = make_mx(vmaild_factory)
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    code, text = r.cmd("MAIL FROM:<jürgen@remote.test>")
    assert code == 553, text
    code, text = r.cmd("MAIL FROM:<jürgen@remote.test> SMTPUTF8")
    assert code == 250, text
    assert r.cmd("RCPT TO:<demo@example.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    code, text = r.cmd("Subject: Grüße\r\n\r\nÄrger über Öl\r\n.")
    assert code == 250, text
    files = maildir_files(v, "demo@example.test")
    assert len(files) == 1
    data = read_file(files[0])
    assert data.startswith("Return-Path: <jürgen@remote.test>\n".encode())
    assert b"with UTF8SMTP id" in data
    assert data.endswith("\nÄrger über Öl\n".encode())
    # without SMTPUTF8 on MAIL, a UTF-8 recipient is refused too
    assert r.cmd("MAIL FROM:<sender@remote.test>")[0] == 250
    code, text = r.cmd("RCPT TO:<jürgen@example.test>")
    assert code == 553, text


def test_vrfy_and_expn_disabled(vmaild_factory):
    v = make_mx(vmaild_factory)
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    code, text = r.cmd("VRFY demo@example.test")
    assert code == 502, text
    assert r.cmd("EXPN staff")[0] == 502
    code, text = r.cmd("VRFY nobody@example.test")
    assert code == 502, text  # the same answer for unknown users: nothing to probe


def test_unknown_command(vmaild_factory):
    v = make_mx(vmaild_factory)
    r = Raw(v.smtp_port)
    code, text = r.cmd("FOOBAR baz")
    assert code == 500, text
    assert text.startswith("5.5.")
    assert r.cmd("EHLO client.example.net")[0] == 250


def test_mail_before_helo(vmaild_factory):
    v = make_mx(vmaild_factory)
    r = Raw(v.smtp_port)
    code, text = r.cmd("MAIL FROM:<sender@remote.test>")
    assert code == 503, text
    assert r.cmd("HELO client.example.net")[0] == 250
    assert r.cmd("MAIL FROM:<sender@remote.test>")[0] == 250


def test_helo_not_required_when_configured(vmaild_factory):
    v = make_mx(vmaild_factory, smtpd={"helo_required": "no"})
    r = Raw(v.smtp_port)
    assert r.cmd("MAIL FROM:<sender@remote.test>")[0] == 250


def test_rset_noop_quit(vmaild_factory):
    v = make_mx(vmaild_factory)
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    assert r.cmd("NOOP")[0] == 250
    assert r.cmd("MAIL FROM:<sender@remote.test>")[0] == 250
    assert r.cmd("RCPT TO:<demo@example.test>")[0] == 250
    assert r.cmd("MAIL FROM:<again@remote.test>")[0] == 503  # nested MAIL
    code, text = r.cmd("RSET")
    assert code == 250, text
    # the transaction is gone: RCPT and DATA need a new MAIL
    assert r.cmd("RCPT TO:<demo@example.test>")[0] == 503
    assert r.cmd("DATA")[0] == 503
    assert r.cmd("MAIL FROM:<again@remote.test>")[0] == 250
    assert r.cmd("RCPT TO:<demo@example.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    code, text = r.cmd("Subject: after rset\r\n\r\nx\r\n.")
    assert code == 250, text
    code, text = r.cmd("QUIT")
    assert code == 221
    assert r.closed()
    files = maildir_files(v, "demo@example.test")
    assert len(files) == 1
    assert read_file(files[0]).startswith(b"Return-Path: <again@remote.test>\n")


def test_data_without_recipients(vmaild_factory):
    v = make_mx(vmaild_factory)
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    assert r.cmd("MAIL FROM:<sender@remote.test>")[0] == 250
    assert r.cmd("RCPT TO:<nobody@example.test>")[0] == 550
    code, _ = r.cmd("DATA")
    assert code == 554
    assert r.cmd("NOOP")[0] == 250


def test_null_sender_and_smtplib(vmaild_factory):
    v = make_mx(vmaild_factory)
    code, text = send(v, "demo@example.test", sender="")
    assert code == 250, text
    files = maildir_files(v, "demo@example.test")
    assert len(files) == 1 and read_file(files[0]).startswith(b"Return-Path: <>\n")


def test_bdat_without_transaction_is_read_and_dropped(vmaild_factory):
    v = make_mx(vmaild_factory)
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    # RFC 3030: the chunk is consumed even when the command is refused
    r.send("BDAT 16\r\nNOOP\r\nQUIT\r\nxxxx")
    code, text = r.reply()
    assert code == 503, text
    code, text = r.cmd("NOOP")
    assert code == 250, text
    assert r.cmd("MAIL FROM:<sender@remote.test>")[0] == 250
    assert r.cmd("RCPT TO:<demo@example.test>")[0] == 250
    r.send("BDAT 6 LAST\r\nx: y\r\n")
    code, text = r.reply()
    assert code == 250, text
    assert r.cmd("DATA")[0] == 503  # no transaction any more
    assert len(maildir_files(v, "demo@example.test")) == 1


def test_data_after_bdat_is_refused(vmaild_factory):
    v = make_mx(vmaild_factory)
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    assert r.cmd("MAIL FROM:<sender@remote.test>")[0] == 250
    assert r.cmd("RCPT TO:<demo@example.test>")[0] == 250
    r.send("BDAT 5\r\nab: c")
    assert r.reply()[0] == 250
    code, _ = r.cmd("DATA")
    assert code == 503
    r.send("BDAT 2 LAST\r\n\r\n")
    assert r.reply()[0] == 250
    assert r.cmd("NOOP")[0] == 250
    assert read_file(maildir_files(v, "demo@example.test")[0]).endswith(b"\nab: c\n")


def test_clients_that_vanish_mid_transaction(vmaild_factory):
    """A client that leaves during RCPT, during DATA, or right after the
    final dot (delivery running): the server goes on serving others, and
    a message that got no 250 is delivered at most once."""
    v = make_mx(vmaild_factory)
    # during the RCPT lookup
    r = Raw(v.smtp_port)
    r.send("EHLO client.example.net\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<demo@example.test>\r\n")
    r.close()
    # in the middle of the data
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    assert r.cmd("MAIL FROM:<b@remote.test>")[0] == 250
    assert r.cmd("RCPT TO:<demo@example.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send("Subject: half\r\n\r\n" + "x" * 100000)
    r.close()
    # right after the end of the data, before the reply
    for i in range(5):
        r = Raw(v.smtp_port)
        assert r.cmd("EHLO client.example.net")[0] == 250
        assert r.cmd("MAIL FROM:<c@remote.test>")[0] == 250
        assert r.cmd("RCPT TO:<demo@example.test>")[0] == 250
        assert r.cmd("DATA")[0] == 354
        r.send("Subject: gone %d\r\n\r\n%s\r\n.\r\n" % (i, "y" * 200000))
        r.close()
    v.wait_log("event=disconnect", count=7)
    code, text = send(v, "demo@example.test", message(subject="still here"))
    assert code == 250, text
    subjects = [read_file(f).split(b"\nSubject: ", 1)[1].split(b"\n")[0]
                for f in maildir_files(v, "demo@example.test")]
    assert b"half" not in subjects
    assert subjects.count(b"still here") == 1
    for i in range(5):
        assert subjects.count(b"gone %d" % i) <= 1


def test_graceful_stop(vmaild_factory):
    """SIGTERM: an idle session is told 421 at once; a message being sent
    is finished and accepted, the next MAIL gets 421; then vmaild exits."""
    import signal
    v = make_mx(vmaild_factory)
    busy = Raw(v.smtp_port)
    assert busy.cmd("EHLO client.example.net")[0] == 250
    assert busy.cmd("MAIL FROM:<sender@remote.test>")[0] == 250
    assert busy.cmd("RCPT TO:<demo@example.test>")[0] == 250
    assert busy.cmd("DATA")[0] == 354
    busy.send("Subject: during stop\r\n\r\nfirst half\r\n")
    idle = Raw(v.smtp_port)
    assert idle.cmd("EHLO client.example.net")[0] == 250
    v.signal(signal.SIGTERM)
    code, text = idle.reply()
    assert code == 421 and "4.3.2" in text, text
    assert idle.closed()
    code, text = busy.cmd("second half\r\n.")
    assert code == 250, text
    code, text = busy.cmd("MAIL FROM:<sender@remote.test>")
    assert code == 421, text
    assert busy.closed()
    assert v.stop() == 0
    files = maildir_files(v, "demo@example.test")
    assert len(files) == 1 and read_file(files[0]).endswith(b"first half\nsecond half\n")


def test_many_pipelined_commands(vmaild_factory):
    """More pipelined commands than fit in the server's output cap: the
    server stops reading while its replies wait, and goes on when the
    client reads them; every command gets its reply, in order."""
    import threading
    v = make_mx(vmaild_factory)
    r = Raw(v.smtp_port, timeout=60)
    assert r.cmd("EHLO client.example.net")[0] == 250
    n = 30000
    t = threading.Thread(target=r.send, args=("NOOP\r\n" * n + "QUIT\r\n",), daemon=True)
    t.start()
    codes = [r.reply()[0] for _ in range(n + 1)]
    t.join(timeout=60)
    assert codes == [250] * n + [221]
    assert r.closed()


# End of data is <CRLF>.<CRLF> (RFC 5321 section 4.1.1.4). A server that
# also ends the data at <LF>.<CRLF> or <CRLF>.<LF> lets a sender smuggle a
# second message, with any envelope, through a relay that passes such a
# line on inside the first message (SMTP smuggling, CVE-2023-51764).
SMUGGLE_ENDS = {"lf-dot-crlf": "\n.\r\n", "crlf-dot-lf": "\r\n.\n", "lf-dot-lf": "\n.\n"}


@pytest.mark.parametrize("name", sorted(SMUGGLE_ENDS))
def test_no_smtp_smuggling(vmaild_factory, name):
    v = make_mx(vmaild_factory)
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    assert r.cmd("MAIL FROM:<sender@remote.test>")[0] == 250
    assert r.cmd("RCPT TO:<demo@example.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    hidden = "Subject: smuggled %s\r\n\r\nspoofed\r\n" % name
    r.send("Subject: carrier %s\r\n\r\ntext%s" % (name, SMUGGLE_ENDS[name]) +
           "MAIL FROM:<boss@example.test>\r\nRCPT TO:<demo@example.test>\r\n"
           "BDAT %d LAST\r\n%s" % (len(hidden), hidden) +
           "\r\n.\r\nQUIT\r\n")
    try:
        while True:
            r.reply()
    except (ConnectionError, OSError):
        pass
    r.close()
    v.wait_log("event=disconnect")
    files = maildir_files(v, "demo@example.test")
    assert len(files) <= 1, files  # the carrier, whole, or nothing
    for f in files:
        data = read_file(f)
        assert data.startswith(b"Return-Path: <sender@remote.test>\n"), data
        assert b"\nSubject: smuggled" not in data.split(b"\n\n", 1)[0], data
