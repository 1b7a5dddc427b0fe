"""SMTP server on port 25: no acknowledged message is lost or doubled
when the whole daemon dies (kill -9) at random moments.

Two client threads send a stream of messages (each to one account, a
unique Subject and Message-ID, sizes from 1 kB to 300 kB) with smtplib,
while the test SIGKILLs vmaild's whole process group several times and
starts it again. Then:
  - every message that got 250 is in the Maildir exactly once;
  - a message that got no 250 is there at most once;
  - no file in new/ or cur/ is partial: its size is its S= and it ends
    with the message's last line;
  - after the final start the queue process cleaned tmp/ (event=clean_tmp)
    and tmp/ holds no stale file.
"""
import os
import random
import re
import signal
import smtplib
import subprocess
import threading
import time

from smtptest import all_mail_files, make_mx, maildir, read_file
from vmaildtest import SAN, VMAILD

KILLS = 4
SENDERS = 2
ACCOUNTS = ("demo", "other")


def body_for(mid, size):
    line = ("%s " % mid + "0123456789abcdef" * 5)[:70] + "\r\n"
    n = max(1, size // len(line))
    return line * n + "END %s\r\n" % mid


def msg_for(mid, to, size):
    return ("From: <sender@remote.test>\r\nTo: <%s>\r\nSubject: %s\r\n"
            "Message-ID: <%s@remote.test>\r\n\r\n%s" % (to, mid, mid, body_for(mid, size))).encode()


def _stat(path):
    try:
        with open(path) as f:
            return f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def group_alive(pgid):
    """Processes of process group pgid with a thread that has not ended.
    (A killed multi-threaded process shows its first thread as a zombie
    while the others still hold its files, the listening sockets too.)"""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        fields = _stat("/proc/%s/stat" % pid)
        if fields is None or int(fields[2]) != pgid:
            continue
        try:
            tids = os.listdir("/proc/%s/task" % pid)
        except FileNotFoundError:
            continue
        states = [_stat("/proc/%s/task/%s/stat" % (pid, t)) for t in tids]
        if any(st is not None and st[0] != "Z" for st in states):
            out.append(int(pid))
    return out


def kill_group(p):
    """SIGKILL every process of the daemon at once; return when all are
    dead (their sockets closed), as after a crash of the machine's
    service manager's unit."""
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    deadline = time.time() + 30
    while group_alive(p.pid):
        assert time.time() < deadline, "processes survived SIGKILL: %s" % group_alive(p.pid)
        time.sleep(0.01)


def plant_tmp_leftovers(v, dead_pid):
    """What a delivery killed half-way leaves: a file in tmp/ named by the
    Maildir rule (time.M<usec>P<pid>.<host>) of a process that is gone."""
    host = None
    for path in all_mail_files(v):
        host = os.path.basename(path).split(",")[0].split(".", 2)[2]
        break
    assert host, "nothing delivered yet"
    out = []
    for a in ACCOUNTS:
        tmp = os.path.join(maildir(v, "%s@example.test" % a), "tmp")
        os.makedirs(tmp, exist_ok=True)
        name = os.path.join(tmp, "%d.M4711P%d.%s" % (time.time(), dead_pid, host))
        with open(name, "wb") as f:
            f.write(b"Subject: half\n\npartial")
        out.append(name)
    return out


class Sender(threading.Thread):
    def __init__(self, port, prefix, stop):
        super().__init__(daemon=True)
        self.port, self.prefix, self.stop = port, prefix, stop
        self.results = {}  # mid -> (recipient, "acked" | "sent" | "refused NNN")
        self.acks = 0
        self.rng = random.Random(prefix)

    def run(self):
        i = 0
        while not self.stop.is_set():
            try:
                s = smtplib.SMTP("127.0.0.1", self.port, timeout=20)
            except OSError:
                time.sleep(0.05)
                continue
            try:
                s.ehlo("client.example.net")
                for _ in range(self.rng.randint(1, 6)):
                    if self.stop.is_set():
                        break
                    i += 1
                    mid = "%s-%05d" % (self.prefix, i)
                    to = "%s@example.test" % self.rng.choice(ACCOUNTS)
                    size = self.rng.choice([1000, 4000, 20000, 100000, 300000])
                    self.results[mid] = (to, "sent")
                    code, text = s.mail("sender@remote.test")
                    if code != 250:
                        self.results[mid] = (to, "refused %d" % code)
                        break
                    code, text = s.rcpt(to)
                    if code != 250:
                        self.results[mid] = (to, "refused %d" % code)
                        s.rset()
                        continue
                    code, text = s.data(msg_for(mid, to, size))
                    if code == 250:
                        self.results[mid] = (to, "acked")
                        self.acks += 1
                    else:
                        self.results[mid] = (to, "refused %d" % code)
                s.quit()
            except (OSError, smtplib.SMTPException):
                pass  # the daemon died under us: the message in flight stays "sent"
            finally:
                s.close()


def test_kill9_loses_no_acknowledged_message(vmaild_factory):
    v = make_mx(vmaild_factory, accounts=ACCOUNTS, start=False)
    logf = open(v.log_path, "ab")
    starts = [0]

    def start():
        starts[0] += 1
        p = subprocess.Popen([VMAILD, "-c", v.conf], stdout=logf, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        v.wait_log("vmaild[master]", "event=ready", count=starts[0], timeout=30)
        v.wait_log("vmaild[queue]", "event=clean_tmp ", count=starts[0], timeout=30)
        return p

    p = start()
    stop = threading.Event()
    senders = [Sender(v.smtp_port, "s%d" % k, stop) for k in range(SENDERS)]
    for s in senders:
        s.start()
    rng = random.Random()
    try:
        for k in range(KILLS + 1):
            # this life of the daemon must accept mail before it dies
            before = sum(s.acks for s in senders)
            deadline = time.time() + (90 if SAN else 30)
            while sum(s.acks for s in senders) == before:
                assert time.time() < deadline, "no message accepted after start %d\n%s" % (
                    starts[0], v.log()[-5000:])
                time.sleep(0.02)
            if k == KILLS:
                break
            time.sleep(rng.uniform(0.2, 2.5))
            kill_group(p)
            if k == KILLS - 1:
                planted = plant_tmp_leftovers(v, p.pid)
            p = start()
        time.sleep(0.5)
    finally:
        stop.set()
        for s in senders:
            s.join(timeout=60)
        # hand the last daemon to the fixture: it stops it and checks the log
        v.proc, v.logf = p, logf
    assert not any(s.is_alive() for s in senders)

    results = {}
    for s in senders:
        results.update(s.results)
    acked = {m for m, (_, st) in results.items() if st == "acked"}
    assert len(acked) > KILLS

    # every file in new/ and cur/: complete, and whose it is
    found = {}
    for path in all_mail_files(v):
        name = os.path.basename(path)
        data = read_file(path)
        m = re.search(r",S=(\d+)", name)
        assert m, name
        assert int(m.group(1)) == len(data), (path, len(data))
        mid = re.search(rb"\nSubject: (s\d-\d{5})\n", data)
        assert mid, path
        mid = mid.group(1).decode()
        assert data.endswith(("\nEND %s\n" % mid).encode()), path
        assert mid in results, mid
        to = results[mid][0]
        assert path.startswith(maildir(v, to) + os.sep), (mid, to, path)
        found.setdefault(mid, []).append(path)

    lost = sorted(acked - set(found))
    assert not lost, "acknowledged but not delivered: %s" % lost
    doubled = {m: p for m, p in found.items() if len(p) > 1}
    assert not doubled, "delivered more than once: %s" % doubled

    # the final start cleaned tmp/ of what the kills left behind
    cleans = v.log_lines("vmaild[queue]", "event=clean_tmp ")
    assert len(cleans) == KILLS + 1
    removed = int(re.search(r" removed=(\d+)", cleans[-1]).group(1))
    assert removed >= len(planted), cleans[-1]
    assert not any(os.path.exists(f) for f in planted)
    for a in ACCOUNTS:
        tmp = os.path.join(maildir(v, "%s@example.test" % a), "tmp")
        assert os.listdir(tmp) == [], (tmp, os.listdir(tmp))
