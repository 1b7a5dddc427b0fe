"""vmailctl queue: list (text and --json), show, hold, release, flush and
delete against a running vmaild whose destination is down, then up.

Retries are far apart (1 h), so only flush and release make the queue try
again; a held message is not tried by a flush; a deleted message is gone
without a report; every change goes through the queue process (its log
shows it) and the commands' errors have their exit codes.
"""
import json
import os

from smtptest import maildir_files, queue_files, read_file, wait_for
from test_queue import T, make_a, make_b, relay

SLOW = {"minimal_backoff_time": "1h", "maximal_backoff_time": "1h", "queue_run_delay": "1h"}


def test_queue_commands(vmaild_factory):
    b = make_b(vmaild_factory, start=False)  # down for now
    a = make_a(vmaild_factory, queue=SLOW,
               transport={"b.test": "127.0.0.1:%d" % b.smtp_port,
                          "c.test": "127.0.0.1:%d" % b.smtp_port})
    q1 = relay(a, "user@b.test", subject="first")
    q2 = relay(a, "user@b.test", subject="second")
    for q in (q1, q2):
        a.wait_log("qid=" + q, "status=deferred", timeout=T)

    out = a.ctl("queue", "list").stdout
    assert q1 in out and q2 in out
    assert "<demo@example.test>" in out
    assert "<user@b.test> deferred tries=1" in out and "Connection refused" in out
    data = json.loads(a.ctl("queue", "list", "--json").stdout)
    assert sorted(m["qid"] for m in data) == sorted([q1, q2])
    m1 = [m for m in data if m["qid"] == q1][0]
    assert m1["sender"] == "demo@example.test" and not m1["held"] and m1["size"] > 0
    assert m1["kind"] == "normal"
    r = m1["recipients"][0]
    assert r["address"] == "user@b.test" and r["state"] == "deferred" and r["tries"] == 1
    assert r["status"] == "4.4.1" and r["next"] > m1["arrival"]

    show = a.ctl("queue", "show", q1).stdout
    assert "Subject: first\n" in show and "<user@b.test> deferred" in show
    shown = json.loads(a.ctl("--json", "queue", "show", q1).stdout)
    assert shown["qid"] == q1 and "Subject: first\n" in shown["headers"]

    # hold q1: a flush tries q2 only, once B is up
    assert a.ctl("queue", "hold", q1).stdout.strip() == "message %s held" % q1
    a.wait_log("qid=" + q1, "event=hold")
    assert "[held]" in [l for l in a.ctl("queue", "list").stdout.splitlines() if q1 in l][0]
    with open(os.path.join(a.state, "queue", "env", q1)) as f:
        assert "\nhold yes\n" in f.read()
    b.start()
    assert a.ctl("queue", "flush").returncode == 0
    a.wait_log("vmaild[queue]", "event=flush")
    wait_for(lambda: len(maildir_files(b, "user@b.test")) == 1, timeout=T, what="q2 delivered")
    a.wait_log("qid=" + q2, "event=removed")
    assert b"Subject: second\n" in read_file(maildir_files(b, "user@b.test")[0])
    assert queue_files(a) == ([q1], [q1])
    assert len(a.log_lines("qid=" + q1, "event=delivery")) == 1  # not tried again

    # release: tried at once
    a.ctl("queue", "release", q1)
    wait_for(lambda: len(maildir_files(b, "user@b.test")) == 2, timeout=T, what="q1 delivered")
    wait_for(lambda: queue_files(a) == ([], []), timeout=T, what="empty queue")
    assert a.ctl("queue", "list").stdout.strip() == "the queue is empty"
    assert json.loads(a.ctl("queue", "list", "--json").stdout) == []

    # delete: c.test has no account on B: hold it first so it stays put
    b.stop()
    q3 = relay(a, "someone@c.test", subject="doomed")
    a.wait_log("qid=" + q3, "status=deferred", timeout=T)
    assert a.ctl("queue", "delete", q3).stdout.strip() == "message %s deleted" % q3
    a.wait_log("qid=" + q3, "event=deleted")
    assert queue_files(a) == ([], [])
    assert not a.log_lines("qid=" + q3, "event=bounce")
    assert maildir_files(a, "demo@example.test") == []

    # errors
    r = a.ctl("queue", "show", "NOSUCHID", check=False)
    assert r.returncode == 1 and "no such message" in r.stderr
    for cmd in ("delete", "hold", "release"):
        r = a.ctl("queue", cmd, "NOSUCHID", check=False)
        assert r.returncode == 1 and "no such message" in r.stderr, (cmd, r.stderr)
    r = a.ctl("queue", "hold", "../etc", check=False)
    assert r.returncode == 1 and "not a queue id" in r.stderr
    assert a.ctl("queue", check=False).returncode == 2
    assert a.ctl("queue", "show", check=False).returncode == 2
    assert a.ctl("queue", "bogus", check=False).returncode == 2


def test_queue_process_down(vmaild_factory):
    a = make_a(vmaild_factory, start=False)
    r = a.ctl("queue", "flush", check=False)
    assert r.returncode == 3 and "not reachable" in r.stderr
    assert a.ctl("queue", "list").stdout.strip() == "the queue is empty"
