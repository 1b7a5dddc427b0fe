"""The queue's SMTP client against a scripted server (what vmaild as the
remote side cannot show): the exact bytes on the wire, HELO after a 5xx to
EHLO, no pipelining unless offered, SIZE= and BODY=8BITMIME, the server's
SIZE limit (5.3.4) and a missing SMTPUTF8 (5.6.7) bounced without sending,
a 4xx at RCPT retried, an overlong multi-line reply, a TLS handshake that
fails (delivered in plain text on the next connection), RSET before the
second message of a reused session.

FakeSMTP listens on 127.0.0.1 and a free port in a thread and writes
down every line it gets, per connection; `script` changes its answers.
"""
import os
import select
import socket
import threading

from smtptest import Raw, make_mx, maildir_files, queue_files, read_file, wait_for
from test_queue import T, by_recipient, report_parts, reports
from vmaildtest import free_port

FAST = {"minimal_backoff_time": "1s", "maximal_backoff_time": "2s", "queue_run_delay": "1s"}


class FakeSMTP:
    """A scripted SMTP server. script keys (all optional):
    ehlo: reply to EHLO (default 250 with caps), caps: EHLO keywords,
    rcpt: function(address, n) -> reply (n counts RCPTs over all sessions),
    greeting: the greeting, starttls: "garbage" to break the handshake."""

    def __init__(self, **script):
        self.script = script
        self.port = free_port()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(8)
        self.sessions = []     # per connection: list of (line, more bytes were waiting)
        self.messages = []     # raw DATA bytes, dot-stuffing and CRLF as received
        self.nrcpt = 0
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self):
        self.stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes accept()
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)

    def _serve(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(c,), daemon=True).start()

    def _session(self, c):
        lines = []
        self.sessions.append(lines)
        buf = b""
        c.settimeout(20)
        s = self.script

        def send(text):
            c.sendall(text.encode() if isinstance(text, str) else text)

        def readline():
            nonlocal buf
            while b"\n" not in buf:
                chunk = c.recv(65536)
                if not chunk:
                    raise ConnectionError
                buf += chunk
            line, buf = buf.split(b"\n", 1)
            waiting = bool(buf) or bool(select.select([c], [], [], 0.05)[0])
            lines.append((line + b"\n", waiting))
            return line + b"\n"

        try:
            send(s.get("greeting", "220 fake.test ESMTP\r\n"))
            while True:
                line = readline()
                u = line.upper()
                if u.startswith(b"EHLO"):
                    if "ehlo" in s:
                        send(s["ehlo"])
                        continue
                    caps = s.get("caps", ["PIPELINING", "SIZE 1000000", "8BITMIME", "SMTPUTF8"])
                    out = ["250-fake.test"] + ["250-" + k for k in caps]
                    out[-1] = "250 " + out[-1][4:]
                    send("\r\n".join(out) + "\r\n")
                elif u.startswith(b"HELO"):
                    send("250 fake.test\r\n")
                elif u.startswith(b"STARTTLS"):
                    send("220 2.0.0 go ahead\r\n")
                    if s.get("starttls") == "garbage":
                        send(b"this is not TLS at all\r\n" * 4)
                        c.close()
                        return
                elif u.startswith(b"RCPT"):
                    self.nrcpt += 1
                    addr = line.split(b"<", 1)[1].split(b">", 1)[0].decode("utf-8")
                    send(s.get("rcpt", lambda a, n: "250 2.1.5 ok\r\n")(addr, self.nrcpt))
                elif u.startswith(b"DATA"):
                    send("354 go\r\n")
                    data = b""
                    while True:
                        dl = readline()
                        if dl == b".\r\n":
                            break
                        data += dl
                    self.messages.append(data)
                    send("250 2.0.0 Ok: queued as FAKE%d\r\n" % len(self.messages))
                elif u.startswith(b"QUIT"):
                    send("221 2.0.0 bye\r\n")
                    c.close()
                    return
                else:
                    send("250 2.0.0 ok\r\n")
        except (ConnectionError, OSError):
            pass
        finally:
            c.close()

    def commands(self, n):
        """The command lines of session n (without DATA content)."""
        out, in_data = [], False
        for line, _ in self.sessions[n]:
            if in_data:
                in_data = line != b".\r\n"
                continue
            out.append(line.rstrip(b"\r\n").decode("utf-8", "replace"))
            in_data = line.upper().startswith(b"DATA")
        return out


def make_a(factory, fake, queue=None):
    return make_mx(factory, config={"queue": dict(FAST, **(queue or {})),
                                    "transport": {"b.test": "127.0.0.1:%d" % fake.port}})


def relay(a, rcpts, body="hello\r\n", mail_params="", sender="demo@example.test"):
    r = Raw(a.smtp_port)
    try:
        assert r.cmd("EHLO client.example.net")[0] == 250
        assert r.cmd("MAIL FROM:<%s>%s" % (sender, mail_params))[0] == 250
        for rc in rcpts:
            code, text = r.cmd("RCPT TO:<%s>" % rc)
            assert code == 250, (rc, code, text)
        assert r.cmd("DATA")[0] == 354
        code, text = r.cmd("Subject: t\r\n\r\n%s." % body)
        assert code == 250, text
        return text.split("queued as ")[1].strip()
    finally:
        r.cmd("QUIT")
        r.close()


def test_wire_format_pipelining_size_8bitmime(vmaild_factory):
    fake = FakeSMTP()
    try:
        a = make_a(vmaild_factory, fake)
        # as sent to A (dot-stuffed): the message holds ".leading dot" and "..two"
        body = "caf\u00e9\r\n..leading dot\r\n...two\r\nlast\r\n"
        qid = relay(a, ["one@b.test", "two@b.test"], body=body, mail_params=" BODY=8BITMIME")
        wait_for(lambda: fake.messages, timeout=T, what="message")
        wait_for(lambda: queue_files(a) == ([], []), timeout=T, what="empty queue")
        cmds = fake.commands(0)
        assert cmds[0] == "EHLO mx.test"
        mail = [c for c in cmds if c.startswith("MAIL")][0]
        size = int(mail.split("SIZE=")[1].split()[0])
        assert mail.startswith("MAIL FROM:<demo@example.test> SIZE=") and "BODY=8BITMIME" in mail
        assert cmds[cmds.index(mail):cmds.index(mail) + 4] == [
            mail, "RCPT TO:<one@b.test>", "RCPT TO:<two@b.test>", "DATA"]
        # MAIL and the RCPTs came in one go (PIPELINING); DATA waited for their replies
        lines = fake.sessions[0]
        i = [l for l, _ in lines].index((mail + "\r\n").encode())
        assert lines[i][1] and lines[i + 1][1] and not lines[i + 2][1]
        data = fake.messages[0]
        assert data.endswith(("\r\n\r\ncaf\u00e9\r\n..leading dot\r\n...two\r\nlast\r\n")
                             .encode())
        assert b"\n" not in data.replace(b"\r\n", b"")
        assert size == len(data) - data.count(b"\r\n..")  # SIZE= is before stuffing
        assert len(a.log_lines("qid=" + qid, "status=sent")) == 2
    finally:
        fake.close()


def test_helo_fallback_without_pipelining(vmaild_factory):
    fake = FakeSMTP(ehlo="502 5.5.2 what is EHLO\r\n")
    try:
        a = make_a(vmaild_factory, fake)
        relay(a, ["one@b.test", "two@b.test"])
        wait_for(lambda: fake.messages, timeout=T, what="message")
        cmds = fake.commands(0)
        assert cmds[:5] == ["EHLO mx.test", "HELO mx.test", "MAIL FROM:<demo@example.test>",
                            "RCPT TO:<one@b.test>", "RCPT TO:<two@b.test>"]
        # one command at a time: nothing else was sent before each reply
        assert not any(waiting for _, waiting in fake.sessions[0][:6])
    finally:
        fake.close()


def test_server_size_limit_and_missing_smtputf8_bounce(vmaild_factory):
    fake = FakeSMTP(caps=["PIPELINING", "SIZE 300", "8BITMIME"])
    try:
        a = make_a(vmaild_factory, fake)
        relay(a, ["big@b.test"], body="x" * 400 + "\r\n")
        relay(a, ["\u00fcser@b.test"], mail_params=" SMTPUTF8")
        wait_for(lambda: len(reports(a, "demo@example.test")) == 2, timeout=T, what="2 reports")
        wait_for(lambda: queue_files(a) == ([], []), timeout=T, what="empty queue")
        assert fake.messages == []
        assert not any(c.startswith("MAIL") for n in range(len(fake.sessions))
                       for c in fake.commands(n))
        got = {}
        for rep in reports(a, "demo@example.test"):
            got.update(by_recipient(report_parts(rep)[1]))
        assert got["big@b.test"]["Status"] == "5.3.4"
        assert "exceeds size limit 300" in got["big@b.test"]["Diagnostic-Code"]
        assert sorted(f["Status"] for f in got.values()) == ["5.3.4", "5.6.7"]
        raw = [read_file(p) for p in maildir_files(a, "demo@example.test")]
        assert any(b"Final-Recipient: utf-8; \xc3\xbcser@b.test" in r for r in raw)
        assert any(b"Content-Transfer-Encoding: 8bit" in r for r in raw)
    finally:
        fake.close()


def test_rcpt_4xx_is_retried(vmaild_factory):
    fake = FakeSMTP(rcpt=lambda a, n: "450 4.2.1 try later\r\n" if n == 1 else "250 ok\r\n")
    try:
        a = make_a(vmaild_factory, fake)
        qid = relay(a, ["slow@b.test"])
        line = a.wait_log("qid=" + qid, "status=deferred", timeout=T)[0]
        assert "dsn=4.2.1" in line and 'reason="450 4.2.1 try later"' in line
        wait_for(lambda: fake.messages, timeout=T, what="delivery on retry")
        wait_for(lambda: queue_files(a) == ([], []), timeout=T, what="empty queue")
        assert a.log_lines("qid=" + qid, "tries=2", "status=sent")
        # the first transaction had no DATA: no recipient was accepted; the
        # retry went over the same session (kept for reuse), after RSET
        cmds = [c for n in range(len(fake.sessions)) for c in fake.commands(n)]
        first = cmds[:cmds.index("RSET")] if "RSET" in cmds else fake.commands(0)
        assert "DATA" not in first and "RCPT TO:<slow@b.test>" in first
    finally:
        fake.close()


def test_overlong_reply_defers(vmaild_factory):
    greeting = "".join("220-line %d\r\n" % i for i in range(150)) + "220 done\r\n"
    fake = FakeSMTP(greeting=greeting)
    try:
        a = make_a(vmaild_factory, fake)
        qid = relay(a, ["x@b.test"])
        line = a.wait_log("qid=" + qid, "status=deferred", timeout=T)[0]
        assert "too many reply lines" in line
        assert fake.commands(0) == []
    finally:
        fake.close()


def test_silent_server_times_out(vmaild_factory):
    fake = FakeSMTP(greeting="")  # accepts, never greets
    try:
        a = make_a(vmaild_factory, fake, queue={"command_timeout": "1s"})
        qid = relay(a, ["x@b.test"])
        line = a.wait_log("qid=" + qid, "status=deferred", timeout=T)[0]
        assert "timed out while receiving the initial server greeting" in line
    finally:
        fake.close()


def test_failed_tls_handshake_falls_back_to_plain_text(vmaild_factory):
    fake = FakeSMTP(caps=["PIPELINING", "STARTTLS", "SIZE 100000"], starttls="garbage")
    try:
        a = make_a(vmaild_factory, fake)
        qid = relay(a, ["x@b.test"])
        wait_for(lambda: fake.messages, timeout=T, what="delivery in plain text")
        assert fake.commands(0)[-1] == "STARTTLS"
        assert "STARTTLS" not in fake.commands(1)
        assert a.log_lines("event=connect", "tls=no")
        assert a.log_lines("qid=" + qid, "status=sent")
    finally:
        fake.close()


def test_reused_session_sends_rset(vmaild_factory):
    fake = FakeSMTP(caps=["SIZE 100000"])  # no PIPELINING: every command waits
    try:
        a = make_a(vmaild_factory, fake, queue={"destination_concurrency_limit": "1",
                                                 "connection_cache_time": "5s"})
        relay(a, ["one@b.test"])
        wait_for(lambda: len(fake.messages) == 1, timeout=T, what="first")
        relay(a, ["two@b.test"])
        wait_for(lambda: len(fake.messages) == 2, timeout=T, what="second")
        assert len(fake.sessions) == 1
        cmds = fake.commands(0)
        i = cmds.index("RSET")
        assert cmds[i + 1:i + 3] == ["MAIL FROM:<demo@example.test> SIZE=%s" %
                                     cmds[i + 1].split("SIZE=")[1], "RCPT TO:<two@b.test>"]
        assert cmds.count("EHLO mx.test") == 1
    finally:
        fake.close()


def test_at_most_fifty_recipients_per_transaction(vmaild_factory):
    fake = FakeSMTP()
    try:
        a = make_a(vmaild_factory, fake)
        rcpts = ["r%02d@b.test" % i for i in range(60)]
        qid = relay(a, rcpts)
        wait_for(lambda: len(fake.messages) == 2, timeout=T, what="two transactions")
        wait_for(lambda: queue_files(a) == ([], []), timeout=T, what="empty queue")
        per_tx = []
        for n in range(len(fake.sessions)):
            for c in fake.commands(n):
                if c.startswith("MAIL"):
                    per_tx.append(0)
                elif c.startswith("RCPT"):
                    per_tx[-1] += 1
        assert sorted(per_tx) == [10, 50]
        assert len(a.log_lines("qid=" + qid, "status=sent")) == 60
    finally:
        fake.close()
