"""Submission (465 implicit TLS, 587 STARTTLS) with SASL, the guide's MUA
restrictions and its privacy header clean-up."""
import os
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from smtptest import (Raw, maildir_files, make_mx, queue_files, read_file, tls_cert,  # noqa: F401
                      STRANGER, PASSWORD)
from vmaildtest import free_port


def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def make_sub(factory, tls_cert, smtpd=None, **kw):
    ports = {"submission": free_port(), "smtps": free_port()}
    sd = {"mynetworks": STRANGER, "auth_failure_delay": "1s", "auth_failure_max_delay": "4s"}
    sd.update(smtpd or {})
    v = make_mx(factory, tls=tls_cert, smtpd=sd,
                config={"listen": {"submission": "127.0.0.1:%d" % ports["submission"],
                                   "smtps": "127.0.0.1:%d" % ports["smtps"]}},
                accounts=kw.pop("accounts", ("alice", "bob", ("blog", ("--sendonly",)),
                                             ("gone", ("--disabled",)))), **kw)
    v.sub_port, v.smtps_port = ports["submission"], ports["smtps"]
    v.ctl("alias", "add", "sales@example.test", "alice@example.test")
    v.ctl("alias", "add", "team@example.test", "bob@example.test")
    return v


def smtps(v, timeout=30):
    s = smtplib.SMTP_SSL("127.0.0.1", v.smtps_port, timeout=timeout, context=ctx())
    s.ehlo("laptop")
    return s


MSG = (b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: hello\r\n"
       b"Received: from laptop (dsl-1-2-3-4.example.net [192.0.2.55])\r\n"
       b"X-Originating-IP: [192.0.2.55]\r\nX-Mailer: Thunderbird 115\r\n"
       b"User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n\tThunderbird/115.0\r\n"
       b"X-Keep: yes\r\n\r\nbody line\r\nReceived: in the body stays\r\n")


def test_smtps_delivers_and_cleans_headers(vmaild_factory, tls_cert):
    v = make_sub(vmaild_factory, tls_cert)
    s = smtps(v)
    assert "PLAIN" in s.esmtp_features["auth"] and "LOGIN" in s.esmtp_features["auth"]
    assert "starttls" not in s.esmtp_features
    s.login("alice@example.test", PASSWORD)
    s.sendmail("alice@example.test", ["bob@example.test"], MSG)
    s.quit()
    files = maildir_files(v, "bob@example.test")
    assert len(files) == 1
    data = read_file(files[0])
    head, body = data.split(b"\n\n", 1)
    assert b"Received:" not in head  # neither the client's nor ours
    assert b"192.0.2.55" not in head and b"127.0.0.1" not in head
    assert b"X-Mailer" not in head and b"User-Agent" not in head and b"Thunderbird" not in head
    assert b"X-Originating-IP" not in head
    assert b"X-Keep: yes" in head and b"Subject: hello" in head
    assert b"Received: in the body stays" in body
    # the guide: Message-ID and Date are added when missing
    assert b"\nMessage-ID: <" in head and b"@mx.test>" in head
    assert b"\nDate: " in head
    assert head.startswith(b"Return-Path: <alice@example.test>\nDelivered-To: bob@example.test\n")


def test_existing_message_id_and_date_are_kept(vmaild_factory, tls_cert):
    v = make_sub(vmaild_factory, tls_cert)
    s = smtps(v)
    s.login("alice@example.test", PASSWORD)
    s.sendmail("alice@example.test", ["bob@example.test"],
               b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-Id: <x@y>\r\n\r\nb\r\n")
    s.quit()
    head = read_file(maildir_files(v, "bob@example.test")[0]).split(b"\n\n")[0]
    assert head.count(b"Date:") == 1 and b"Mon, 1 Jan 2024" in head
    assert head.lower().count(b"message-id:") == 1 and b"<x@y>" in head


def test_587_requires_starttls_before_auth(vmaild_factory, tls_cert):
    v = make_sub(vmaild_factory, tls_cert)
    s = smtplib.SMTP("127.0.0.1", v.sub_port, timeout=30)
    s.ehlo("laptop")
    assert "starttls" in s.esmtp_features
    assert "auth" not in s.esmtp_features  # smtpd_tls_auth_only
    code, msg = s.docmd("AUTH", "PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABwdw==")
    assert code == 538, msg
    code, msg = s.docmd("MAIL", "FROM:<alice@example.test>")
    assert code == 530 and b"STARTTLS" in msg
    s.starttls(context=ctx())
    s.ehlo("laptop")
    assert "PLAIN" in s.esmtp_features["auth"]
    s.login("alice@example.test", PASSWORD)
    s.sendmail("alice@example.test", ["bob@example.test"], b"Subject: via 587\r\n\r\nx\r\n")
    s.quit()
    assert len(maildir_files(v, "bob@example.test")) == 1


def test_unauthenticated_client_cannot_send(vmaild_factory, tls_cert):
    v = make_sub(vmaild_factory, tls_cert)
    s = smtps(v)
    code, msg = s.docmd("MAIL", "FROM:<alice@example.test>")
    assert code == 530, msg
    s.quit()


def _auth_plain(s, user, pw):
    import base64
    tok = base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode()).decode()
    return s.docmd("AUTH", "PLAIN " + tok)


def test_refusals_look_the_same_and_are_delayed(vmaild_factory, tls_cert):
    v = make_sub(vmaild_factory, tls_cert)
    replies = []
    for user, pw in (("alice@example.test", "wrong"), ("nobody@example.test", "pw"),
                     ("gone@example.test", PASSWORD)):
        s = smtps(v)
        t = time.time()
        code, msg = _auth_plain(s, user, pw)
        took = time.time() - t
        replies.append((code, msg))
        # the answer of a failure never comes before [smtpd] auth_failure_delay
        assert took >= 1.0, took
        s.close()
    assert replies[0] == replies[1] == replies[2]
    assert replies[0][0] == 535 and replies[0][1].startswith(b"5.7.8")
    # each further failure from this address waits longer (1s, 2s, 4s, capped)
    s = smtps(v)
    t = time.time()
    assert _auth_plain(s, "alice@example.test", "wrong-again")[0] == 535
    assert time.time() - t >= 4.0
    # and the right password still works
    assert _auth_plain(s, "alice@example.test", PASSWORD)[0] == 235
    s.close()
    lines = v.log_lines("event=auth_failed")
    assert len(lines) == 4
    assert all("wrong" not in l and PASSWORD not in l.split("user=")[0] for l in lines)
    assert "delay=4s" in lines[-1]


def test_sendonly_may_send_disabled_may_not(vmaild_factory, tls_cert):
    v = make_sub(vmaild_factory, tls_cert)
    s = smtps(v)
    s.login("blog@example.test", PASSWORD)
    s.sendmail("blog@example.test", ["bob@example.test"], b"Subject: from the blog\r\n\r\nx\r\n")
    s.quit()
    assert len(maildir_files(v, "bob@example.test")) == 1
    s = smtps(v)
    with pytest.raises(smtplib.SMTPAuthenticationError):
        s.login("gone@example.test", PASSWORD)
    s.close()


def test_sender_login_maps(vmaild_factory, tls_cert):
    v = make_sub(vmaild_factory, tls_cert)
    s = smtps(v)
    s.login("alice@example.test", PASSWORD)
    # someone else's address: the guide's reject_sender_login_mismatch
    code, msg = s.docmd("MAIL", "FROM:<bob@example.test>")
    assert code == 553 and b"not owned by user alice@example.test" in msg
    # an alias whose destination is the login may be used
    assert s.docmd("MAIL", "FROM:<sales@example.test>")[0] == 250
    s.rset()
    # ... but not an alias of someone else
    assert s.docmd("MAIL", "FROM:<team@example.test>")[0] == 553
    # the login with a +tag is the login
    assert s.docmd("MAIL", "FROM:<Alice+news@Example.TEST>")[0] == 250
    s.rset()
    # reject_non_fqdn_sender
    assert s.docmd("MAIL", "FROM:<alice@localhost>")[0] == 504
    s.quit()


def test_auth_login_mechanism_and_abort(vmaild_factory, tls_cert):
    import base64
    v = make_sub(vmaild_factory, tls_cert)
    r = smtps(v)
    code, msg = r.docmd("AUTH", "LOGIN")
    assert (code, msg) == (334, b"VXNlcm5hbWU6")
    assert r.docmd(base64.b64encode(b"alice@example.test").decode())[0] == 334
    assert r.docmd(base64.b64encode(PASSWORD.encode()).decode())[0] == 235
    r.close()
    r = smtps(v)
    assert r.docmd("AUTH", "PLAIN")[0] == 334
    assert r.docmd("*")[0] == 501
    assert r.docmd("AUTH", "CRAM-MD5")[0] == 504
    assert r.docmd("AUTH", "PLAIN !!notbase64")[0] == 501
    r.close()


def test_authenticated_client_relays_to_the_queue(vmaild_factory, tls_cert):
    v = make_sub(vmaild_factory, tls_cert)
    s = smtps(v)
    s.login("alice@example.test", PASSWORD)
    s.mail("alice@example.test")
    assert s.rcpt("friend@elsewhere.example")[0] == 250
    code, msg = s.data(b"Subject: out\r\n\r\nx\r\n")
    assert code == 250
    s.quit()
    env, msg_files = queue_files(v)
    assert len(env) == 1 and len(msg_files) == 1
    text = open(os.path.join(v.state, "queue", "env", env[0])).read()
    assert "rcpt friend@elsewhere.example" in text and "sender alice@example.test" in text
    # without AUTH on port 25 the same is relaying: refused
    p = smtplib.SMTP("127.0.0.1", v.smtp_port, timeout=30)
    p.ehlo("mx.elsewhere.example")
    p.mail("alice@example.test")
    assert p.rcpt("friend@elsewhere.example")[0] == 554
    p.quit()


def test_port_25_offers_no_auth(vmaild_factory, tls_cert):
    v = make_sub(vmaild_factory, tls_cert)
    s = smtplib.SMTP("127.0.0.1", v.smtp_port, timeout=30)
    s.ehlo("x.example.org")
    s.starttls(context=ctx())
    s.ehlo("x.example.org")
    assert "auth" not in s.esmtp_features
    assert _auth_plain(s, "alice@example.test", PASSWORD)[0] == 503
    s.quit()


def test_swaks_submission(vmaild_factory, tls_cert):
    v = make_sub(vmaild_factory, tls_cert)
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(v.smtps_port),
                        "--tlsc", "--auth", "LOGIN", "--auth-user", "alice@example.test",
                        "--auth-password", PASSWORD, "--from", "alice@example.test",
                        "--to", "bob@example.test", "--helo", "laptop", "--header",
                        "X-Mailer: swaks"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "235 2.7.0 Authentication successful" in r.stdout
    data = read_file(maildir_files(v, "bob@example.test")[0])
    assert b"X-Mailer" not in data
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(v.sub_port), "--tls",
                        "--auth", "PLAIN", "--auth-user", "alice@example.test",
                        "--auth-password", "wrong", "--from", "alice@example.test",
                        "--to", "bob@example.test"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 28, r.stdout  # swaks: authentication failed
