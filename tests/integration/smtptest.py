"""smtptest.py - helpers for the SMTP (port 25) integration tests.

    from smtptest import make_mx, Raw, maildir_files, tls_cert

make_mx(vmaild_factory, smtpd={...}, config={...}, accounts=[...]) makes a
vmaild with an SMTP listener on a free loopback port (v.smtp_port), the
domain example.test, the accounts asked for (password "pw") and the mail
root <root>/vmail (the static prefix of [mail] home must exist), and
starts it. By default the DNS-based restrictions are off (they need a
resolver); 127.0.0.1 is in mynetworks unless smtpd says otherwise
(STRANGER is a mynetworks value that leaves 127.0.0.0/8 out).

Raw is a plain-socket SMTP client for what smtplib cannot do (pipelining,
BDAT, talking early, overlong lines): cmd() sends one line and returns
(code, text), reply() reads one (possibly multi-line) reply, closed()
says whether the server hung up.

maildir_files(v, address) lists the message files of an account's INBOX
(new/ and cur/); queue_files(v) the queue's env/ and msg/ entries.

tls_cert is a pytest fixture (import it into the test module): a
self-signed P-256 certificate for CN=mx.test made once per session,
(cert path, key path).
"""
import os
import re
import smtplib
import socket
import subprocess
import time

import pytest

from vmaildtest import free_port

DOMAIN = "example.test"
PASSWORD = "pw"
STRANGER = "192.0.2.0/24"  # a mynetworks value without 127.0.0.1
QUEUED_RE = re.compile(r"queued as ([0-9A-Za-z]+)")


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    key, cert = str(d / "k.pem"), str(d / "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=mx.test", "-days", "2",
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
    return cert, key


def make_mx(factory, smtpd=None, config=None, accounts=("demo",), allowed_errors=(),
            tls=None, start=True, root=None):
    """A vmaild with SMTP on a free port, example.test and accounts.

    accounts: local parts, or (local part, extra vmailctl args) pairs.
    tls: (cert, key) to offer STARTTLS.
    """
    port = free_port()
    cfg = {
        "listen": {"smtp": "127.0.0.1:%d" % port},
        "smtpd": {"reject_unknown_client_hostname": "no", "reject_unknown_helo_hostname": "no"},
    }
    if tls is not None:
        cfg["tls"] = {"cert": tls[0], "key": tls[1]}
    cfg["smtpd"].update(smtpd or {})
    for sec, kv in (config or {}).items():
        cfg.setdefault(sec, {}).update(kv)
    kw = {"config": cfg, "allowed_errors": allowed_errors}
    if root is not None:
        kw["root"] = root
    v = factory(**kw)
    v.smtp_port = port
    os.makedirs(os.path.join(v.root, "vmail"), exist_ok=True)
    v.init_directory()
    v.ctl("domain", "add", DOMAIN)
    for a in accounts:
        local, extra = (a, ()) if isinstance(a, str) else a
        v.ctl("account", "add", "%s@%s" % (local, DOMAIN), "--password-stdin", *extra,
              input=PASSWORD + "\n")
    if start:
        v.start()
    return v


def maildir(v, address):
    local, dom = address.split("@")
    return os.path.join(v.root, "vmail", dom, local, "mail")


def maildir_files(v, address, subdirs=("new", "cur")):
    out = []
    md = maildir(v, address)
    for sd in subdirs:
        d = os.path.join(md, sd)
        if os.path.isdir(d):
            out += sorted(os.path.join(d, f) for f in os.listdir(d))
    return out


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def all_mail_files(v):
    """Every file under new/ or cur/ anywhere in the mail tree."""
    out = []
    for dp, dns, fns in os.walk(os.path.join(v.root, "vmail")):
        if os.path.basename(dp) in ("new", "cur"):
            out += [os.path.join(dp, f) for f in fns]
    return out


def queue_files(v):
    """(names in queue/env, names in queue/msg)."""
    res = []
    for sub in ("env", "msg"):
        d = os.path.join(v.state, "queue", sub)
        res.append(sorted(f for f in os.listdir(d) if not f.startswith(".")) if os.path.isdir(d)
                   else [])
    return tuple(res)


def queued_id(text):
    """The queue id from a '250 ... queued as QID' reply text."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    m = QUEUED_RE.search(text)
    assert m, "no queue id in %r" % text
    return m.group(1)


def message(subject="test", body="hello\r\n", frm="sender@remote.test", to="demo@example.test",
            extra=""):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n%s\r\n%s"
            % (frm, to, subject, extra, body)).encode()


def smtp(v, helo="client.example.net", source=None, timeout=15):
    """An smtplib client, EHLO done."""
    s = smtplib.SMTP("127.0.0.1", v.smtp_port, timeout=timeout,
                     source_address=(source, 0) if source else None)
    s.ehlo(helo)
    return s


def send(v, rcpts, msg=None, sender="sender@remote.test", helo="client.example.net",
         source=None):
    """One transaction with smtplib; returns (code, text) of the DATA reply.
    Every RCPT must be accepted."""
    if isinstance(rcpts, str):
        rcpts = [rcpts]
    s = smtp(v, helo=helo, source=source)
    try:
        code, text = s.mail(sender)
        assert code == 250, (code, text)
        for r in rcpts:
            code, text = s.rcpt(r)
            assert code == 250, (r, code, text)
        code, text = s.data(msg if msg is not None else message(to=rcpts[0]))
        return code, text.decode("utf-8", "replace")
    finally:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            pass


class Raw:
    """An SMTP client on a bare socket."""

    def __init__(self, port, source=None, greet=True, timeout=15):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buf = b""
        self.greeting = self.reply() if greet else None

    def close(self):
        self.sock.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection; buffered %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """(code, text): text of a multi-line reply joined with \\n."""
        lines = []
        while True:
            line = self._line()
            assert re.match(r"^\d{3}[ -]", line) or re.match(r"^\d{3}$", line), \
                "bad reply line %r" % line
            lines.append(line[4:])
            if len(line) == 3 or line[3] == " ":
                return int(line[:3]), "\n".join(lines)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def closed(self, timeout=10):
        """True when the server closed the connection (EOF, or reset)
        within timeout; data still arriving is collected in buf."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def rest(self):
        return self.buf.decode("utf-8", "replace")


def wait_for(pred, timeout=10, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = pred()
        if r:
            return r
        time.sleep(0.05)
    raise AssertionError("timeout waiting for " + what)
