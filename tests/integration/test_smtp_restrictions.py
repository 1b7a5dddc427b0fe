"""SMTP server on port 25: the guide's restrictions.

smtpd_helo_required, the HELO checks (invalid 501, non-FQDN 504, unknown
450 through DNS), the client name check (PTR + forward A, 450 4.7.25,
the without_ptr exceptions) against a real nsd, greet_pause and early
talkers, reject_unauth_pipelining, no open relay (the battery of odd
address forms), and relaying for mynetworks into the queue.

A "stranger" is a client outside mynetworks: these tests set
[smtpd] mynetworks = 192.0.2.0/24 so that 127.0.0.1 is not trusted.
"""
import os

import pytest

from nsd import Nsd, zone_text
from smtptest import (STRANGER, Raw, all_mail_files, make_mx, maildir_files, queue_files,
                      queued_id, read_file)


def stranger(factory, **kw):
    smtpd = {"mynetworks": STRANGER}
    smtpd.update(kw.pop("smtpd", {}))
    return make_mx(factory, smtpd=smtpd, **kw)


def rcpt_after_helo(v, helo, rcpt="demo@example.test", source=None):
    r = Raw(v.smtp_port, source=source)
    assert r.greeting[0] == 220, r.greeting
    assert r.cmd("EHLO " + helo)[0] == 250
    assert r.cmd("MAIL FROM:<sender@remote.test>")[0] == 250
    return r, r.cmd("RCPT TO:<%s>" % rcpt)


# ---- HELO syntax ----

def test_invalid_helo_name_from_stranger(vmaild_factory):
    v = stranger(vmaild_factory)
    r, (code, text) = rcpt_after_helo(v, "bad_name!")
    assert code == 501 and "Helo command rejected" in text, (code, text)


def test_non_fqdn_helo_from_stranger(vmaild_factory):
    v = stranger(vmaild_factory)
    r, (code, text) = rcpt_after_helo(v, "localhost")
    assert code == 504 and "need fully-qualified hostname" in text, (code, text)


def test_helo_address_literal_and_fqdn_pass(vmaild_factory):
    v = stranger(vmaild_factory)
    for helo in ("[127.0.0.1]", "client.example.net"):
        r, (code, text) = rcpt_after_helo(v, helo)
        assert code == 250, (helo, code, text)


@pytest.mark.parametrize("helo", ["bad_name!", "localhost"])
def test_helo_checks_skipped_for_mynetworks(vmaild_factory, helo):
    v = make_mx(vmaild_factory)
    r, (code, text) = rcpt_after_helo(v, helo)
    assert code == 250, (code, text)
    assert r.cmd("DATA")[0] == 354
    assert r.cmd("Subject: trusted\r\n\r\nx\r\n.")[0] == 250
    assert len(maildir_files(v, "demo@example.test")) == 1


# ---- greeting and pipelining ----

def test_early_talker_is_dropped(vmaild_factory):
    v = stranger(vmaild_factory, smtpd={"greet_pause": "1s"})
    r = Raw(v.smtp_port, greet=False)
    r.send("EHLO client.example.net\r\n")
    code, text = r.reply()
    assert code == 554, text
    assert r.closed()
    v.wait_log("reason=early_talker")
    # a patient client is greeted
    r = Raw(v.smtp_port)
    assert r.greeting[0] == 220
    assert r.cmd("EHLO client.example.net")[0] == 250


def test_pipelining_after_helo_is_dropped(vmaild_factory):
    v = stranger(vmaild_factory)
    r = Raw(v.smtp_port)
    assert r.cmd("HELO client.example.net")[0] == 250
    r.send("MAIL FROM:<sender@remote.test>\r\nRCPT TO:<demo@example.test>\r\n")
    code, text = r.reply()
    assert code == 554, text
    assert r.closed()
    v.wait_log("reason=unauth_pipelining")


def test_data_must_end_a_pipelined_group(vmaild_factory):
    v = stranger(vmaild_factory)
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    r.send("MAIL FROM:<sender@remote.test>\r\nRCPT TO:<demo@example.test>\r\n"
           "DATA\r\nSubject: too early\r\n\r\nx\r\n.\r\n")
    assert r.reply()[0] == 250
    assert r.reply()[0] == 250
    code, text = r.reply()
    assert code == 554, text
    assert r.closed()
    assert maildir_files(v, "demo@example.test") == []


# ---- relaying ----

def test_no_open_relay(vmaild_factory):
    v = stranger(vmaild_factory)
    r, (code, text) = rcpt_after_helo(v, "client.example.net", rcpt="someone@other.net")
    assert code == 554 and text == "5.7.1 <someone@other.net>: Relay access denied", text
    assert queue_files(v) == ([], [])


def test_mynetworks_may_relay_into_the_queue(vmaild_factory):
    v = make_mx(vmaild_factory)
    r, (code, text) = rcpt_after_helo(v, "client.example.net", rcpt="someone@other.net")
    assert code == 250, text
    assert r.cmd("RCPT TO:<demo@example.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    code, text = r.cmd("Subject: relayed\r\n\r\nto the world\r\n.")
    assert code == 250, text
    qid = queued_id(text)
    env, msg = queue_files(v)
    assert env == [qid] and msg == [qid]
    with open(os.path.join(v.state, "queue", "env", qid)) as f:
        envelope = f.read()
    assert "rcpt someone@other.net\n" in envelope
    assert "sender sender@remote.test\n" in envelope
    assert "demo@example.test" not in envelope
    queued = read_file(os.path.join(v.state, "queue", "msg", qid))
    assert queued.endswith(b"\nto the world\n")
    # the local copy is in the mailbox, without Delivered-To (two destinations)
    files = maildir_files(v, "demo@example.test")
    assert len(files) == 1
    assert b"\nDelivered-To:" not in read_file(files[0])
    v.wait_log("qid=" + qid, "vmaild[queue]", "event=queued")


# the relay battery: a stranger tries odd forms that some MTAs route elsewhere
RELAY_FORMS = [
    ("user%other.net@example.test", False),
    ('"user@other.net"@example.test', False),
    ("@example.test:user@other.net", False),
    ("other.net!user@example.test", False),
    ("user@other.net", False),
    ("user@[127.0.0.1]", False),
    ("demo@example.test.", False),
    ("User@OTHER.Net", False),
    ("üser@other.net", False),
    ("üser@other.net", True),
    ("demo%other.net@example.test", False),
    ("demo@other.net@example.test", False),
]


@pytest.mark.parametrize("rcpt,utf8", RELAY_FORMS,
                         ids=["%s%s" % (a, "-smtputf8" if u else "") for a, u in RELAY_FORMS])
def test_relay_battery(vmaild_factory, rcpt, utf8):
    v = stranger(vmaild_factory)
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    assert r.cmd("MAIL FROM:<sender@remote.test>%s" % (" SMTPUTF8" if utf8 else ""))[0] == 250
    code, text = r.cmd("RCPT TO:<%s>" % rcpt)
    if code == 250:
        # show the damage: finish the message
        r.cmd("DATA")
        r.cmd("Subject: relay\r\n\r\nx\r\n.")
    assert 500 <= code < 600, (code, text)
    assert queue_files(v) == ([], [])
    assert all_mail_files(v) == []


def test_mixed_case_local_recipient_is_delivered(vmaild_factory):
    v = stranger(vmaild_factory)
    r = Raw(v.smtp_port)
    assert r.cmd("EHLO client.example.net")[0] == 250
    assert r.cmd("MAIL FROM:<sender@remote.test>")[0] == 250
    assert r.cmd("RCPT TO:<DEMO@EXAMPLE.TEST>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    assert r.cmd("Subject: caps\r\n\r\nx\r\n.")[0] == 250
    files = maildir_files(v, "demo@example.test")
    assert len(files) == 1
    assert b"\nDelivered-To: demo@example.test\n" in read_file(files[0])


# ---- DNS: client name and HELO name, against a real nsd ----

@pytest.fixture
def dns_mx(vmaild_factory, tmp_path):
    """A stranger-facing vmaild with both DNS checks on, nsd serving:
    127.0.0.2 -> client2.ptr.test -> 127.0.0.2 (verified),
    127.0.0.3 no PTR, 127.0.0.4 no PTR but in without_ptr,
    127.0.0.5 -> liar.ptr.test -> 127.0.0.9 (does not point back),
    helo-a.ptr.test A, helo-mx.ptr.test MX, noname.ptr.test nothing."""
    rev = zone_text("0.0.127.in-addr.arpa", [
        "2 PTR client2.ptr.test.",
        "4 PTR nowhere.ptr.test.",
        "5 PTR liar.ptr.test.",
    ])
    fwd = zone_text("ptr.test", [
        "client2 A 127.0.0.2",
        "liar A 127.0.0.9",
        "helo-a A 192.0.2.10",
        "helo-mx MX 10 client2",
    ])
    ns = Nsd(str(tmp_path), {"0.0.127.in-addr.arpa": rev, "ptr.test": fwd})
    ns.start()
    wp = tmp_path / "without_ptr"
    wp.write_text("# exempt\n127.0.0.4 OK\n")
    v = make_mx(vmaild_factory, smtpd={
        "mynetworks": STRANGER, "reject_unknown_client_hostname": "yes",
        "reject_unknown_helo_hostname": "yes", "without_ptr": str(wp)},
        config={"dns": {"stub_zones": ns.stub_zones(), "dnssec": "no", "timeout": "3s"}})
    yield v
    ns.stop()


def test_client_with_verified_ptr_passes(dns_mx):
    r, (code, text) = rcpt_after_helo(dns_mx, "client2.ptr.test", source="127.0.0.2")
    assert code == 250, text
    assert r.cmd("DATA")[0] == 354
    assert r.cmd("Subject: dns\r\n\r\nx\r\n.")[0] == 250
    data = read_file(maildir_files(dns_mx, "demo@example.test")[0])
    assert b"Received: from client2.ptr.test (client2.ptr.test [127.0.0.2])" in data


def test_client_without_ptr_is_refused(dns_mx):
    r, (code, text) = rcpt_after_helo(dns_mx, "client2.ptr.test", source="127.0.0.3")
    assert code == 450 and text.startswith("4.7.25"), (code, text)
    assert "127.0.0.3" in text


def test_client_whose_ptr_does_not_point_back_is_refused(dns_mx):
    r, (code, text) = rcpt_after_helo(dns_mx, "client2.ptr.test", source="127.0.0.5")
    assert code == 450 and text.startswith("4.7.25"), (code, text)


def test_client_in_without_ptr_passes(dns_mx):
    r, (code, text) = rcpt_after_helo(dns_mx, "client2.ptr.test", source="127.0.0.4")
    assert code == 250, text


def test_helo_without_a_or_mx_is_refused(dns_mx):
    r, (code, text) = rcpt_after_helo(dns_mx, "noname.ptr.test", source="127.0.0.2")
    assert code == 450 and text.startswith("4.7.1"), (code, text)
    assert "noname.ptr.test" in text


@pytest.mark.parametrize("helo", ["helo-a.ptr.test", "helo-mx.ptr.test"])
def test_helo_with_a_or_mx_passes(dns_mx, helo):
    r, (code, text) = rcpt_after_helo(dns_mx, helo, source="127.0.0.2")
    assert code == 250, (helo, code, text)


def test_dns_checks_skipped_for_mynetworks(vmaild_factory, tmp_path):
    """127.0.0.3 has no PTR and noname has no A: both fine when trusted."""
    ns = Nsd(str(tmp_path), {"ptr.test": zone_text("ptr.test", ["x A 192.0.2.1"])})
    ns.start()
    try:
        v = make_mx(vmaild_factory, smtpd={
            "mynetworks": "127.0.0.0/8", "reject_unknown_client_hostname": "yes",
            "reject_unknown_helo_hostname": "yes"},
            config={"dns": {"stub_zones": ns.stub_zones(), "dnssec": "no", "timeout": "3s"}})
        r, (code, text) = rcpt_after_helo(v, "noname.ptr.test", source="127.0.0.3")
        assert code == 250, text
    finally:
        ns.stop()
