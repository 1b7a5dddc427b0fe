"""The outbound queue between two real vmaild instances.

A is the sending side (domain example.test, account demo); B is the remote
MX (domain b.test, account user), each on its own loopback port. Mail
enters A's queue by relay from 127.0.0.1 (in mynetworks) and leaves it by
[transport], [queue] relayhost or MX records served by a real nsd.

Proved here: delivery and its log line, connection reuse (RSET on one
session) and STARTTLS; MX preference order with a dead first MX, null MX
(5.1.10) and a domain that does not exist (5.4.4) bounced at once;
retries after the destination comes up; a 5xx at RCPT bounced with an
RFC 3464 report that the queue delivers locally to the sender (through a
local alias); lifetime expiry; no report for a null sender; a failed
report going to the postmaster, and dropped when that fails too; a queue
process killed with SIGKILL during delivery loses nothing.
"""
import email
import email.policy
import os
import signal
import time

from nsd import Nsd, zone_text
from smtptest import (Raw, make_mx, maildir_files, message, queue_files, read_file, send,
                      tls_cert, wait_for)  # noqa: F401 (tls_cert is a fixture)
from vmaildtest import SAN

FAST = {"minimal_backoff_time": "1s", "maximal_backoff_time": "2s", "queue_run_delay": "1s"}
T = 30 * (3 if SAN else 1)


def make_b(factory, users=("user",), tls=None, smtpd=None, start=True, domains=("b.test",)):
    b = make_mx(factory, accounts=(), start=False, tls=tls, smtpd=smtpd)
    for d in domains:
        b.ctl("domain", "add", d)
        for u in users:
            b.ctl("account", "add", "%s@%s" % (u, d), "--password-stdin", input="pw\n")
    if start:
        b.start()
    return b


def make_a(factory, queue=None, transport=None, config=None, **kw):
    cfg = {"queue": dict(FAST, **(queue or {}))}
    if transport:
        cfg["transport"] = transport
    for sec, kv in (config or {}).items():
        cfg.setdefault(sec, {}).update(kv)
    return make_mx(factory, config=cfg, **kw)


def relay(a, rcpts, sender="demo@example.test", subject="test", body="hello\r\n"):
    """Hand a message to A's port 25 from 127.0.0.1; returns its queue id."""
    if isinstance(rcpts, str):
        rcpts = [rcpts]
    r = Raw(a.smtp_port)
    try:
        assert r.cmd("EHLO client.example.net")[0] == 250
        code, text = r.cmd("MAIL FROM:<%s>" % sender)
        assert code == 250, text
        for rc in rcpts:
            code, text = r.cmd("RCPT TO:<%s>" % rc)
            assert code == 250, (rc, code, text)
        assert r.cmd("DATA")[0] == 354
        msg = "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\n%s." % (
            sender or "mailer-daemon@example.test", rcpts[0], subject, body)
        code, text = r.cmd(msg)
        assert code == 250, text
        return text.split("queued as ")[1].strip()
    finally:
        r.cmd("QUIT")
        r.close()


def wait_queue_empty(v):
    wait_for(lambda: queue_files(v) == ([], []), timeout=T, what="empty queue in " + v.root)


def reports(v, address):
    """The delivery reports in a mailbox, parsed."""
    out = []
    for p in maildir_files(v, address):
        m = email.message_from_bytes(read_file(p), policy=email.policy.compat32)
        if m.get_content_type() == "multipart/report":
            out.append(m)
    return out


def report_parts(rep):
    """(text, list of per-message + per-recipient field dicts, headers text)."""
    assert rep.get_content_type() == "multipart/report"
    assert rep.get_param("report-type") == "delivery-status"
    parts = rep.get_payload()
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "message/delivery-status", "text/rfc822-headers"]
    blocks = [dict(b.items()) for b in parts[1].get_payload()]
    return parts[0].get_payload(), blocks, parts[2].get_payload()


def by_recipient(blocks):
    return {str(b["Final-Recipient"]).split(";", 1)[1].strip(): {k: str(v) for k, v in b.items()}
            for b in blocks[1:]}


# ---- delivery ----

def test_transport_delivery_reuse_and_starttls(vmaild_factory, tls_cert):
    b = make_b(vmaild_factory, tls=tls_cert)
    a = make_a(vmaild_factory, queue={"destination_concurrency_limit": "1",
                                      "connection_cache_time": "4s"},
               transport={"b.test": "127.0.0.1:%d" % b.smtp_port})
    qids = [relay(a, "user@b.test", subject="msg %d" % i, body="line\r\n..dot\r\nend\r\n")
            for i in range(3)]
    wait_for(lambda: len(maildir_files(b, "user@b.test")) == 3, timeout=T, what="3 deliveries")
    wait_queue_empty(a)
    for qid in qids:
        line = a.wait_log("qid=" + qid, "event=delivery", "status=sent")[0]
        assert "to=<user@b.test>" in line
        assert "relay=127.0.0.1[127.0.0.1]:%d" % b.smtp_port in line
        assert "dsn=2.0.0" in line and 'reason="250 2.0.0 Ok: queued as ' in line
        assert a.log_lines("qid=" + qid, "event=removed")
    bodies = [read_file(p) for p in maildir_files(b, "user@b.test")]
    assert sorted(d.split(b"\nSubject: ")[1].split(b"\n")[0] for d in bodies) == [
        b"msg 0", b"msg 1", b"msg 2"]
    for data in bodies:
        assert data.endswith(b"\n\nline\n.dot\nend\n") and b"\r" not in data
        assert b"Return-Path: <demo@example.test>\n" in data
    # one session (destination_concurrency_limit 1, connection kept for reuse), with TLS
    assert len(a.log_lines("vmaild[queue]", "event=connect relay=")) == 1
    a.wait_log("vmaild[queue]", "event=tls relay=")
    b.wait_log("event=starttls")
    line = b.wait_log("event=disconnect", "mail=3", timeout=T)[0]
    assert "rset=2" in line and "starttls=1" in line and "quit=1" in line


def test_mx_lookup_order_null_mx_and_nxdomain(vmaild_factory, tmp_path):
    b = make_b(vmaild_factory, domains=("b.test", "implicit.test"))
    zones = {
        "b.test": zone_text("b.test", ["@ MX 10 mx1", "@ MX 20 mx2", "mx1 A 127.0.0.3",
                                       "mx2 A 127.0.0.1"]),
        "null.test": zone_text("null.test", ["@ MX 0 ."]),
        "implicit.test": zone_text("implicit.test", ["@ A 127.0.0.1"]),  # no MX
    }
    with Nsd(str(tmp_path), zones) as ns:
        a = make_a(vmaild_factory, queue={"smtp_port": str(b.smtp_port)},
                   config={"dns": {"stub_zones": ns.stub_zones(), "dnssec": "no"}})
        qid = relay(a, "user@b.test")
        wait_for(lambda: maildir_files(b, "user@b.test"), timeout=T, what="delivery")
        wait_queue_empty(a)
        # mx1 (preference 10) refuses; mx2 takes it
        assert a.log_lines("event=connect relay=mx1.b.test[127.0.0.3]:%d" % b.smtp_port)
        assert a.log_lines("qid=" + qid, "relay=mx2.b.test[127.0.0.1]:%d" % b.smtp_port,
                           "status=sent")
        # no MX: the domain's own address
        qi = relay(a, "user@implicit.test")
        wait_for(lambda: maildir_files(b, "user@implicit.test"), timeout=T, what="implicit MX")
        assert a.wait_log("qid=" + qi, "relay=implicit.test[127.0.0.1]:%d" % b.smtp_port,
                          "status=sent")
        # a null MX and a name that does not exist: bounced at once, one report
        qid2 = relay(a, ["x@null.test", "y@nosuch.b.test"], subject="never")
        wait_for(lambda: reports(a, "demo@example.test"), timeout=T, what="report")
    wait_queue_empty(a)
    rep = reports(a, "demo@example.test")
    assert len(rep) == 1
    text, blocks, headers = report_parts(rep[0])
    f = by_recipient(blocks)
    assert f["x@null.test"]["Status"] == "5.1.10" and f["x@null.test"]["Action"] == "failed"
    assert "does not accept mail" in f["x@null.test"]["Diagnostic-Code"]
    assert f["y@nosuch.b.test"]["Status"] == "5.4.4"
    assert "Subject: never" in headers
    assert len(a.log_lines("qid=" + qid2, "status=bounced")) == 2
    assert not a.log_lines("qid=" + qid2, "status=deferred")


def test_retry_when_the_destination_comes_up(vmaild_factory):
    b = make_b(vmaild_factory, start=False)
    a = make_a(vmaild_factory, queue={"relayhost": "[127.0.0.1]:%d" % b.smtp_port})
    qid = relay(a, "user@b.test")
    line = a.wait_log("qid=" + qid, "status=deferred", timeout=T)[0]
    assert "Connection refused" in line and "dsn=4.4.1" in line
    env, msg = queue_files(a)
    assert env == [qid] and msg == [qid]
    with open(os.path.join(a.state, "queue", "env", qid)) as f:
        assert "\nstate deferred 1 " in f.read()
    b.start()
    wait_for(lambda: maildir_files(b, "user@b.test"), timeout=T, what="delivery after retry")
    wait_queue_empty(a)
    assert a.log_lines("qid=" + qid, "status=sent")


# ---- bounces ----

def test_5xx_bounces_with_a_report_delivered_locally(vmaild_factory):
    b = make_b(vmaild_factory)
    a = make_a(vmaild_factory, transport={"b.test": "127.0.0.1:%d" % b.smtp_port})
    # the sender is a local alias of demo: the report reaches demo through it
    a.ctl("alias", "add", "info@example.test", "demo@example.test")
    qid = relay(a, ["user@b.test", "nobody@b.test"], sender="info@example.test",
                subject="half of it")
    wait_for(lambda: reports(a, "demo@example.test"), timeout=T, what="report")
    wait_queue_empty(a)
    assert len(maildir_files(b, "user@b.test")) == 1
    line = a.wait_log("qid=" + qid, "to=<nobody@b.test>", "status=bounced")[0]
    assert "dsn=5.1.1" in line
    rep = reports(a, "demo@example.test")
    assert len(rep) == 1
    r = rep[0]
    assert r["To"] == "<info@example.test>"
    assert r["Subject"] == "Undelivered Mail Returned to Sender"
    assert r["Auto-Submitted"] == "auto-replied"
    assert r["From"] == "Mail Delivery System <MAILER-DAEMON@mx.test>"
    raw = read_file(maildir_files(a, "demo@example.test")[0])
    assert raw.startswith(b"Return-Path: <>\nDelivered-To: demo@example.test\n")
    text, blocks, headers = report_parts(r)
    assert blocks[0]["Reporting-MTA"] == "dns; mx.test"
    assert blocks[0]["X-Vmaild-Queue-ID"] == qid
    assert "Arrival-Date" in blocks[0]
    f = by_recipient(blocks)
    assert list(f) == ["nobody@b.test"]  # the delivered one is not reported
    assert f["nobody@b.test"]["Action"] == "failed"
    assert f["nobody@b.test"]["Status"] == "5.1.1"
    assert f["nobody@b.test"]["Remote-MTA"] == "dns; 127.0.0.1"
    assert f["nobody@b.test"]["Diagnostic-Code"].startswith("smtp; 550 5.1.1 ")
    assert "<nobody@b.test>: host 127.0.0.1[127.0.0.1]" in text
    assert "Subject: half of it" in headers and "From: <info@example.test>" in headers
    # the report went through the queue: expanded alias, local delivery
    bq = a.wait_log("qid=" + qid, "event=bounce ")[0].split("bounce_qid=")[1].split()[0]
    assert a.log_lines("qid=" + bq, "to=<info@example.test>", "status=expanded")
    assert a.log_lines("qid=" + bq, "to=<demo@example.test>", "relay=local", "status=sent")


def test_lifetime_expiry_bounces(vmaild_factory):
    b = make_b(vmaild_factory, start=False)  # its port: nobody listens there
    a = make_a(vmaild_factory, queue={"maximal_queue_lifetime": "3s"},
               transport={"b.test": "127.0.0.1:%d" % b.smtp_port})
    qid = relay(a, "user@b.test", subject="too late")
    wait_for(lambda: reports(a, "demo@example.test"), timeout=T, what="expiry report")
    wait_queue_empty(a)
    assert len(a.log_lines("qid=" + qid, "status=deferred")) >= 2
    line = a.wait_log("qid=" + qid, "event=expired")[0]
    assert "to=<user@b.test>" in line and "status=bounced" in line
    text, blocks, headers = report_parts(reports(a, "demo@example.test")[0])
    f = by_recipient(blocks)["user@b.test"]
    assert f["Action"] == "failed" and f["Status"] == "4.4.1"
    assert "Connection refused" in f["Diagnostic-Code"]
    assert "could not be delivered in the time allowed" in text
    assert "Subject: too late" in headers


def test_no_report_for_null_sender_and_failed_reports(vmaild_factory):
    b = make_b(vmaild_factory)
    # the postmaster address does not exist either: reports about reports are dropped
    a = make_a(vmaild_factory, transport={"b.test": "127.0.0.1:%d" % b.smtp_port},
               config={"mail": {"postmaster": "pm@example.test"}})
    q1 = relay(a, "nobody@b.test", sender="")
    q2 = relay(a, "nobody@b.test", sender="ghost@b.test")
    a.wait_log("qid=" + q1, "event=bounce_dropped", timeout=T)
    # q2: report to ghost@b.test (refused by B), then to pm@example.test (unknown), dropped
    line = a.wait_log("event=bounce_dropped", "to=<pm@example.test>", timeout=T)[0]
    assert "kind=double" in line
    wait_queue_empty(a)
    assert a.log_lines("qid=" + q2, "event=bounce ")
    assert "kind=normal" in a.log_lines("qid=" + q1, "event=bounce_dropped")[0]
    assert not a.log_lines("qid=" + q1, "event=bounce ")
    assert maildir_files(a, "demo@example.test") == []
    assert maildir_files(b, "user@b.test") == []


def test_failed_report_goes_to_the_postmaster(vmaild_factory):
    b = make_b(vmaild_factory)
    a = make_a(vmaild_factory, transport={"b.test": "127.0.0.1:%d" % b.smtp_port},
               config={"mail": {"postmaster": "demo@example.test"}})
    relay(a, "nobody@b.test", sender="ghost@b.test", subject="from a ghost")
    wait_for(lambda: reports(a, "demo@example.test"), timeout=T, what="postmaster copy")
    wait_queue_empty(a)
    rep = reports(a, "demo@example.test")
    assert len(rep) == 1 and rep[0]["Subject"] == "Undeliverable delivery report"
    text, blocks, headers = report_parts(rep[0])
    assert list(by_recipient(blocks)) == ["ghost@b.test"]
    assert "Subject: Undelivered Mail Returned to Sender" in headers


# ---- durability ----

def test_sigkill_during_delivery_loses_nothing(vmaild_factory):
    # B waits 3 s before its greeting: the queue is killed while it waits
    b = make_b(vmaild_factory, smtpd={"greet_pause": "3s"})
    a = make_a(vmaild_factory, transport={"b.test": "127.0.0.1:%d" % b.smtp_port})
    qid = relay(a, "user@b.test", subject="survivor")
    a.wait_log("vmaild[queue]", "event=connect relay=")
    victim = [p for p, r in a.children().items() if r == "queue"]
    assert len(victim) == 1
    os.kill(victim[0], signal.SIGKILL)
    a.wait_log("event=child_exit", "role=queue", "signal=9")
    a.wait_log("event=child_start", "role=queue", count=2)
    wait_for(lambda: maildir_files(b, "user@b.test"), timeout=T, what="delivery after restart")
    wait_queue_empty(a)
    got = maildir_files(b, "user@b.test")
    assert 1 <= len(got) <= 2
    assert b"Subject: survivor\n" in read_file(got[0])
    assert a.log_lines("qid=" + qid, "status=sent")
    # the restarted queue found the message on disk
    assert a.log_lines("vmaild[queue]", "event=queue_scan messages=1")
