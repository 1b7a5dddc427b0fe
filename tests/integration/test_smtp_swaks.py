"""SMTP server on port 25 driven by Debian's swaks: deliveries (plain and
pipelined) and rejections, judged by swaks' exit codes (0 ok, 24 no RCPT
accepted, 26 message refused after DATA). swaks --tls needs Net::SSLeay
(libnet-ssleay-perl), which is not installed: STARTTLS is tested with
openssl s_client and smtplib in test_smtp_tls.py."""
import subprocess

from smtptest import STRANGER, all_mail_files, make_mx, maildir_files, read_file

SWAKS = "/usr/bin/swaks"


def swaks(v, *args):
    cmd = [SWAKS, "--server", "127.0.0.1", "--port", str(v.smtp_port),
           "--helo", "client.example.net", "--from", "sender@remote.test",
           "--timeout", "20", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_swaks_delivers(vmaild_factory):
    v = make_mx(vmaild_factory)
    r = swaks(v, "--to", "demo@example.test", "--header", "Subject: from swaks",
              "--body", "swaks was here")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "queued as" in r.stdout
    files = maildir_files(v, "demo@example.test")
    assert len(files) == 1
    data = read_file(files[0])
    assert b"\nSubject: from swaks\n" in data and b"swaks was here" in data


def test_swaks_pipelining(vmaild_factory):
    v = make_mx(vmaild_factory, accounts=("demo", "other"))
    r = swaks(v, "--pipeline", "--to", "demo@example.test,other@example.test")
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(maildir_files(v, "demo@example.test")) == 1
    assert len(maildir_files(v, "other@example.test")) == 1


def test_swaks_unknown_user_rejected(vmaild_factory):
    v = make_mx(vmaild_factory)
    r = swaks(v, "--to", "nobody@example.test")
    assert r.returncode == 24, r.stdout + r.stderr
    assert "<** 550 5.1.1" in r.stdout
    assert all_mail_files(v) == []


def test_swaks_relay_rejected(vmaild_factory):
    v = make_mx(vmaild_factory, smtpd={"mynetworks": STRANGER})
    r = swaks(v, "--to", "someone@other.net")
    assert r.returncode == 24, r.stdout + r.stderr
    assert "<** 554 5.7.1" in r.stdout and "Relay access denied" in r.stdout


def test_swaks_message_refused_after_data(vmaild_factory):
    v = make_mx(vmaild_factory, config={"mail": {"message_size_limit": "2000"}})
    r = swaks(v, "--to", "demo@example.test", "--body", "x" * 5000)
    assert r.returncode == 26, r.stdout + r.stderr
    assert "<** 552" in r.stdout
    assert all_mail_files(v) == []
