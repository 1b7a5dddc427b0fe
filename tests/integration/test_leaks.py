"""No leaks and no memory errors over a full session of each protocol.

Under the normal build vmaild runs under valgrind (memcheck follows the
forked children); under `make check SAN=1` LeakSanitizer does the same job
at every process exit and the harness fails on its report.
"""
import glob
import os
import re
import signal
import smtplib
import ssl
import subprocess
import time

from vmaildtest import VMAILD, SAN, LookupClient, free_port


def make_cert(d):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=mx.test", "-days", "2",
                    "-keyout", os.path.join(d, "k.pem"), "-out", os.path.join(d, "c.pem")],
                   check=True, capture_output=True)
    return os.path.join(d, "c.pem"), os.path.join(d, "k.pem")


def session(v, port):
    lc = v.lookup()
    assert lc.rcpt("leak@example.test")["kind"] == "account"
    assert lc.auth("leak@example.test", "pw")["status"] == "ok"
    assert lc.auth("leak@example.test", "bad")["status"] == "denied"
    lc.close()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as s:
        s.ehlo("client.example.org")
        s.starttls(context=ctx)
        s.ehlo("client.example.org")
        s.mail("a@example.org")
        assert s.rcpt("nobody@example.test")[0] == 550
        assert s.rcpt("leak@example.test")[0] == 250
        assert s.rcpt("alias@example.test")[0] == 250
        s.data(b"Subject: leak test\r\n\r\nbody\r\n.. dot\r\n")
        s.rset()
        assert s.docmd("VRFY", "leak@example.test")[0] == 502
        s.noop()
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as s:  # a plain one, BDAT
        s.ehlo("client.example.org")
        s.mail("")
        s.rcpt("leak@example.test")
        s.send(b"BDAT 8 LAST\r\nx: y\r\n\r\n")
        assert s.getreply()[0] == 250
    # submission: AUTH, a refused sender, a delivery with header clean-up
    with smtplib.SMTP_SSL("127.0.0.1", v.smtps_port, timeout=120, context=ctx) as s:
        s.ehlo("laptop")
        s.login("leak@example.test", "pw")
        assert s.docmd("MAIL", "FROM:<other@example.test>")[0] == 553
        s.sendmail("leak@example.test", ["leak@example.test"],
                   b"X-Mailer: x\r\nSubject: sub\r\n\r\nbody\r\n")
    with smtplib.SMTP_SSL("127.0.0.1", v.smtps_port, timeout=120, context=ctx) as s:
        s.ehlo("laptop")
        try:
            s.login("leak@example.test", "wrong")
        except smtplib.SMTPAuthenticationError:
            pass
    # a client that goes away in the middle of DATA
    s = smtplib.SMTP("127.0.0.1", port, timeout=120)
    s.ehlo("x.example.org")
    s.mail("a@example.org")
    s.rcpt("leak@example.test")
    s.putcmd("DATA")
    s.getreply()
    s.send(b"Subject: half\r\n")
    s.close()  # closes the socket and smtplib's file on it


def test_no_leaks(vmaild_factory, tmp_path):
    cert, key = make_cert(str(tmp_path))
    port = free_port()
    sport = free_port()
    v = vmaild_factory(config={"listen": {"smtp": "127.0.0.1:%d" % port,
                                          "smtps": "127.0.0.1:%d" % sport},
                               "tls": {"cert": cert, "key": key},
                               "server": {"workers": "1"},
                               "directory": {"timeout": "30s"},
                               "smtpd": {"reject_unknown_client_hostname": "no",
                                         "reject_unknown_helo_hostname": "no",
                                         "mynetworks": "192.0.2.0/24",
                                         "auth_failure_delay": "1s"}})
    v.smtps_port = sport
    v.init_directory()
    v.ctl("domain", "add", "example.test")
    v.ctl("account", "add", "leak@example.test", "--password-stdin", input="pw\n")
    v.ctl("alias", "add", "alias@example.test", "leak@example.test")
    if SAN:
        v.start()
        session(v, port)
        return  # the factory stops it; LeakSanitizer reports fail the log check
    vg = tmp_path / "vg"
    vg.mkdir()
    cmd = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
           "--errors-for-leak-kinds=definite,indirect", "--track-fds=no",
           "--log-file=%s/vg.%%p" % vg, VMAILD, "-c", v.conf]
    logf = open(v.log_path, "ab")
    v.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
    v.logf = logf
    v.wait_log("vmaild[lookup]", "event=ready", timeout=120)
    v.wait_log("vmaild[worker]", "event=ready", timeout=120)
    deadline = time.time() + 60
    while not os.path.exists(v.lookup_socket):
        assert time.time() < deadline
        time.sleep(0.1)
    session(v, port)
    v.wait_log("event=disconnect", count=5, timeout=60)
    assert v.stop(timeout=120) == 0
    reports = glob.glob(str(vg / "vg.*"))
    assert len(reports) >= 4, reports  # master, lookup, queue, worker
    for r in reports:
        text = open(r).read()
        m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        assert m, "valgrind report incomplete: %s\n%s" % (r, text[-3000:])
        assert m.group(1) == "0", "valgrind found errors in %s:\n%s" % (r, text[-6000:])


def imap_session(v):
    from vmaildtest import RawImap, imap_connect
    c = imap_connect(v.imaps_port, tls=True, timeout=120)
    c.login("leak@example.test", "pw")
    c.create("A/B")
    c.subscribe("A/B")
    c.list('""', "*")
    c.lsub('""', "*")
    c.rename("A", "C")
    c.delete("C/B")
    c.getquotaroot("INBOX")
    c.logout()
    r = RawImap(v.imap_port, timeout=120)
    r.line()
    r.cmd("a", "ID NIL")
    r.send("b AUTHENTICATE PLAIN\r\n")
    r.line()
    r.send("*\r\n")
    r.until("b")
    r.cmd("c", "LOGIN leak@example.test wrong")
    r.cmd("d", "FROB")
    r.cmd("e", "STARTTLS")  # then the client goes away in the handshake
    r.close()
    r = RawImap(v.imap_port, timeout=120)
    r.line()
    r.cmd("f", "LOGIN leak@example.test pw")
    r.send("g LIST \"\" *\r\n")
    r.close()  # gone while the pool job may run


def test_no_leaks_imap(vmaild_factory, tmp_path):
    cert, key = make_cert(str(tmp_path))
    iport, isport = free_port(), free_port()
    v = vmaild_factory(config={"listen": {"imap": "127.0.0.1:%d" % iport,
                                          "imaps": "127.0.0.1:%d" % isport},
                               "tls": {"cert": cert, "key": key},
                               "server": {"workers": "1"},
                               "directory": {"timeout": "30s"},
                               "imap": {"auth_failure_delay": "1s"}})
    v.imap_port, v.imaps_port = iport, isport
    v.init_directory()
    v.ctl("domain", "add", "example.test")
    v.ctl("account", "add", "leak@example.test", "--password-stdin", "--quota", "5",
          input="pw\n")
    if SAN:
        v.start()
        imap_session(v)
        v.wait_log("event=disconnect", count=3, timeout=60)
        return
    vg = tmp_path / "vg"
    vg.mkdir()
    cmd = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
           "--errors-for-leak-kinds=definite,indirect", "--track-fds=no",
           "--log-file=%s/vg.%%p" % vg, VMAILD, "-c", v.conf]
    logf = open(v.log_path, "ab")
    v.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
    v.logf = logf
    v.wait_log("vmaild[lookup]", "event=ready", timeout=120)
    v.wait_log("vmaild[worker]", "event=ready", timeout=120)
    deadline = time.time() + 60
    while not os.path.exists(v.lookup_socket):
        assert time.time() < deadline
        time.sleep(0.1)
    imap_session(v)
    v.wait_log("event=disconnect", count=3, timeout=60)
    assert v.stop(timeout=120) == 0
    reports = glob.glob(str(vg / "vg.*"))
    assert len(reports) >= 4, reports
    for r in reports:
        text = open(r).read()
        m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        assert m, "valgrind report incomplete: %s\n%s" % (r, text[-3000:])
        assert m.group(1) == "0", "valgrind found errors in %s:\n%s" % (r, text[-6000:])
