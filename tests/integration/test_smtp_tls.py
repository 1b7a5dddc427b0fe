"""SMTP server on port 25: STARTTLS (RFC 3207).

openssl s_client sees TLS >= 1.2 and the configured certificate, TLS 1.1
is refused, smtplib delivers over TLS (the Received: field names the TLS
version), EHLO after TLS no longer offers STARTTLS, the session state is
reset by STARTTLS, and data pipelined behind STARTTLS (the CVE-2011-0411
command injection) closes the session.
"""
import re
import ssl
import subprocess

from smtptest import (Raw, make_mx, maildir_files, message, queued_id, read_file, smtp,
                      tls_cert)  # noqa: F401 (tls_cert is a fixture)


def s_client(port, *args):
    return subprocess.run(
        ["openssl", "s_client", "-starttls", "smtp", "-connect", "127.0.0.1:%d" % port,
         "-servername", "mx.test", "-brief", *args],
        input="QUIT\n", capture_output=True, text=True, timeout=30)


def client_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_s_client_sees_tls12_or_better_and_our_certificate(vmaild_factory, tls_cert):
    v = make_mx(vmaild_factory, tls=tls_cert)
    r = s_client(v.smtp_port)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    m = re.search(r"Protocol version: (TLSv[\d.]+)", out)
    assert m and m.group(1) in ("TLSv1.2", "TLSv1.3"), out
    assert re.search(r"Peer certificate: CN\s*=\s*mx\.test", out), out
    # forced 1.2 works too
    r = s_client(v.smtp_port, "-tls1_2")
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "Protocol version: TLSv1.2" in out, out
    v.wait_log("event=tls ", "version=TLSv1.2")


def test_tls11_is_refused(vmaild_factory, tls_cert):
    v = make_mx(vmaild_factory, tls=tls_cert)
    # the client is willing (security level 0 allows TLS 1.1): the server refuses
    r = s_client(v.smtp_port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "Protocol version: TLSv1.1" not in out
    v.wait_log("event=tls_error")
    # a client that tries 1.1 first is still greeted over plain text afterwards
    assert Raw(v.smtp_port).greeting[0] == 220


def test_smtplib_starttls_delivers(vmaild_factory, tls_cert):
    v = make_mx(vmaild_factory, tls=tls_cert)
    s = smtp(v)
    assert s.has_extn("starttls")
    code, _ = s.starttls(context=client_context())
    assert code == 220
    code, text = s.ehlo("client.example.net")
    assert code == 250
    assert "STARTTLS" not in text.decode().upper().split("\n")
    assert not s.has_extn("starttls")
    assert s.has_extn("pipelining") and s.has_extn("chunking")
    assert s.mail("sender@remote.test")[0] == 250
    assert s.rcpt("demo@example.test")[0] == 250
    code, text = s.data(message(subject="over tls"))
    assert code == 250, text
    qid = queued_id(text)
    version = s.sock.version()
    s.close()  # QUIT over TLS: test_quit_over_tls
    files = maildir_files(v, "demo@example.test")
    assert len(files) == 1
    data = read_file(files[0]).decode()
    m = re.search(r"\n\t\(using (TLSv1\.[23]) with cipher \S+ \(\d+/\d+ bits\)\)\n"
                  r"\tby mx\.test \(vmaild\) with ESMTPS id %s\n" % qid, data)
    assert m, data
    assert m.group(1) == version


def test_starttls_twice_and_state_reset(vmaild_factory, tls_cert):
    v = make_mx(vmaild_factory, tls=tls_cert)
    s = smtp(v)
    assert s.mail("sender@remote.test")[0] == 250  # forgotten by STARTTLS
    assert s.starttls(context=client_context())[0] == 220
    # before EHLO again: MAIL needs HELO/EHLO (everything was forgotten)
    code, _ = s.docmd("MAIL FROM:<sender@remote.test>")
    assert code == 503
    s.ehlo("client.example.net")
    code, _ = s.docmd("STARTTLS")
    assert code == 554
    assert s.mail("sender@remote.test")[0] == 250
    s.close()


def test_quit_over_tls(vmaild_factory, tls_cert):
    """QUIT after STARTTLS: the 221 arrives (encrypted) before the close."""
    v = make_mx(vmaild_factory, tls=tls_cert)
    s = smtp(v)
    assert s.starttls(context=client_context())[0] == 220
    s.ehlo("client.example.net")
    assert s.noop()[0] == 250
    code, text = s.docmd("QUIT")
    assert code == 221, text
    s.close()


def test_timeout_over_tls_sends_421(vmaild_factory, tls_cert):
    v = make_mx(vmaild_factory, tls=tls_cert, smtpd={"timeout": "2s"})
    s = smtp(v, timeout=30)
    assert s.starttls(context=client_context())[0] == 220
    s.ehlo("client.example.net")
    code, text = s.getreply()
    assert code == 421, text
    s.close()


def test_starttls_with_pipelined_data_is_dropped(vmaild_factory, tls_cert):
    v = make_mx(vmaild_factory, tls=tls_cert)
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    r.send("STARTTLS\r\nRSET\r\n")
    code, text = r.reply()
    assert code == 554, text
    assert r.closed()
    v.wait_log("reason=starttls_injection")


def test_starttls_with_argument(vmaild_factory, tls_cert):
    v = make_mx(vmaild_factory, tls=tls_cert)
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    assert r.cmd("STARTTLS now")[0] == 501
    assert r.cmd("NOOP")[0] == 250


def test_tls_handshake_failure_leaves_server_working(vmaild_factory, tls_cert):
    v = make_mx(vmaild_factory, tls=tls_cert)
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    assert r.cmd("STARTTLS")[0] == 220
    r.send(b"this is not a TLS client hello\r\n" * 4)
    assert r.closed()
    s = smtp(v)
    s.starttls(context=client_context())
    s.ehlo("client.example.net")
    assert s.noop()[0] == 250
    s.close()
