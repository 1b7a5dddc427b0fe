"""SMTP server on port 25: the [smtpd] and [mail] limits.

line_length_limit, recipient_limit, message_size_limit (SIZE= and while
streaming), timeout, hard_error_limit, client_connection_limit,
messages_per_connection, hopcount_limit.
"""
import os
import time

from smtptest import (STRANGER, Raw, all_mail_files, make_mx, maildir_files, message, read_file,
                      send, smtp)


def test_overlong_line_is_refused_and_session_goes_on(vmaild_factory):
    v = make_mx(vmaild_factory, smtpd={"line_length_limit": "1000"})
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    code, text = r.cmd("NOOP " + "x" * 1200)
    assert code == 500, text
    assert r.cmd("NOOP " + "y" * 900)[0] == 250
    # an overlong MAIL is not taken half
    code, _ = r.cmd("MAIL FROM:<" + "a" * 1100 + "@remote.test>")
    assert code == 500
    assert r.cmd("RCPT TO:<demo@example.test>")[0] == 503
    # a very long line sent in pieces without a line end
    r.send("NOOP " + "z" * 5000)
    time.sleep(0.2)
    r.send("z" * 5000 + "\r\n")
    code, _ = r.reply()
    assert code == 500
    assert r.cmd("NOOP")[0] == 250
    assert r.cmd("MAIL FROM:<sender@remote.test>")[0] == 250
    assert r.cmd("RCPT TO:<demo@example.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    assert r.cmd("Subject: still alive\r\n\r\nx\r\n.")[0] == 250


def test_recipient_limit(vmaild_factory):
    v = make_mx(vmaild_factory, smtpd={"recipient_limit": "3"})
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    assert r.cmd("MAIL FROM:<sender@remote.test>")[0] == 250
    for tag in ("a", "b", "c"):
        assert r.cmd("RCPT TO:<demo+%s@example.test>" % tag)[0] == 250
    code, text = r.cmd("RCPT TO:<demo+d@example.test>")
    assert code == 452 and text.startswith("4.5.3"), text
    assert r.cmd("DATA")[0] == 354
    assert r.cmd("Subject: three\r\n\r\nx\r\n.")[0] == 250
    assert len(maildir_files(v, "demo@example.test")) == 1


def test_size_parameter_over_limit(vmaild_factory):
    v = make_mx(vmaild_factory, config={"mail": {"message_size_limit": "20000"}})
    r = Raw(v.smtp_port)
    code, text = r.cmd("EHLO client.example.net")
    assert "SIZE 20000" in text.split("\n")
    code, text = r.cmd("MAIL FROM:<sender@remote.test> SIZE=20001")
    assert code == 552, text
    code, text = r.cmd("MAIL FROM:<sender@remote.test> SIZE=19000")
    assert code == 250, text


def test_streamed_body_over_limit(vmaild_factory):
    v = make_mx(vmaild_factory, config={"mail": {"message_size_limit": "20000"}})
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    # the client lies about the size (or gives none): the limit holds anyway
    assert r.cmd("MAIL FROM:<sender@remote.test> SIZE=1000")[0] == 250
    assert r.cmd("RCPT TO:<demo@example.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    line = "x" * 76 + "\r\n"
    r.send("Subject: big\r\n\r\n" + line * 400)  # about 31 kB
    code, text = r.cmd(".")
    assert code == 552, text
    # BDAT the same
    assert r.cmd("MAIL FROM:<sender@remote.test>")[0] == 250
    assert r.cmd("RCPT TO:<demo@example.test>")[0] == 250
    body = (line * 400).encode()
    r.send(b"BDAT %d\r\n" % len(body) + body)
    code1, _ = r.reply()
    code2, text = r.cmd("BDAT 0 LAST")
    assert code2 == 552 or code1 == 552, (code1, code2, text)
    assert r.cmd("NOOP")[0] == 250
    assert all_mail_files(v) == []
    assert os.listdir(os.path.join(v.state, "queue", "incoming")) == []
    # just under the limit passes
    code, text = send(v, "demo@example.test", message(body=line * 200))
    assert code == 250, text
    assert len(maildir_files(v, "demo@example.test")) == 1


def test_timeout(vmaild_factory):
    v = make_mx(vmaild_factory, smtpd={"timeout": "2s"})
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    r.sock.settimeout(20)
    code, text = r.reply()
    assert code == 421 and "4.4.2" in text, text
    assert r.closed()
    v.wait_log("event=timeout")


def test_hard_error_limit(vmaild_factory):
    v = make_mx(vmaild_factory, smtpd={"hard_error_limit": "3"})
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    assert r.cmd("BOGUS1")[0] == 500
    assert r.cmd("BOGUS2")[0] == 500
    r.send("BOGUS3\r\n")
    assert r.reply()[0] == 500
    code, text = r.reply()
    assert code == 421, text
    assert r.closed()


def test_client_connection_limit(vmaild_factory):
    v = make_mx(vmaild_factory, smtpd={"client_connection_limit": "2", "mynetworks": STRANGER})
    a, b = Raw(v.smtp_port), Raw(v.smtp_port)
    assert a.greeting[0] == 220 and b.greeting[0] == 220
    c = Raw(v.smtp_port)
    assert c.greeting[0] == 421, c.greeting
    assert c.closed()
    # the first two still work; when one leaves, a new one gets in
    assert a.cmd("NOOP")[0] == 250 and b.cmd("NOOP")[0] == 250
    assert a.cmd("QUIT")[0] == 221
    assert a.closed()
    v.wait_log("event=disconnect", "quit=1")
    d = Raw(v.smtp_port)
    assert d.greeting[0] == 220, d.greeting


def test_connection_limit_does_not_apply_to_mynetworks(vmaild_factory):
    v = make_mx(vmaild_factory, smtpd={"client_connection_limit": "2"})
    conns = [Raw(v.smtp_port) for _ in range(4)]
    assert [c.greeting[0] for c in conns] == [220] * 4


def test_messages_per_connection(vmaild_factory):
    v = make_mx(vmaild_factory, smtpd={"messages_per_connection": "2"})
    s = smtp(v)
    for i in range(2):
        assert s.mail("sender@remote.test")[0] == 250
        assert s.rcpt("demo@example.test")[0] == 250
        assert s.data(message(subject="m%d" % i))[0] == 250
    code, text = s.mail("sender@remote.test")
    assert code == 452, text
    s.quit()
    assert len(maildir_files(v, "demo@example.test")) == 2
    # a new connection may send again
    assert send(v, "demo@example.test")[0] == 250


def received_headers(n):
    return "".join("Received: from h%d.remote.test by h%d.remote.test; "
                   "Mon, 1 Jan 2024 00:00:0%d +0000\r\n" % (i, i + 1, i % 10) for i in range(n))


def test_hopcount_limit(vmaild_factory):
    v = make_mx(vmaild_factory, smtpd={"hopcount_limit": "5"})
    code, text = send(v, "demo@example.test", message(subject="loop", extra=received_headers(6)))
    assert code == 554 and text.startswith("5.4.6"), (code, text)
    assert maildir_files(v, "demo@example.test") == []
    # a "Received:" in the body does not count, five in the header pass
    body = received_headers(10)
    code, text = send(v, "demo@example.test",
                      message(subject="ok", extra=received_headers(5), body=body))
    assert code == 250, text
    files = maildir_files(v, "demo@example.test")
    assert len(files) == 1 and read_file(files[0]).count(b"\nReceived: ") == 16


def test_data_timeout(vmaild_factory):
    v = make_mx(vmaild_factory, smtpd={"data_timeout": "2s"})
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    assert r.cmd("MAIL FROM:<sender@remote.test>")[0] == 250
    assert r.cmd("RCPT TO:<demo@example.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send("Subject: stalled\r\n\r\nthe rest never comes")
    r.sock.settimeout(20)
    code, text = r.reply()
    assert code == 421 and "4.4.2" in text, text
    assert r.closed()
    v.wait_log("event=disconnect")
    assert maildir_files(v, "demo@example.test") == []
    assert os.listdir(os.path.join(v.state, "queue", "incoming")) == []
