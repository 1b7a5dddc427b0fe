"""The process model: start, stop, restart of children, reload, --dev."""
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from vmaildtest import VMAILD, VMAILCTL, LookupClient, ctl, me


def roles(v):
    return sorted(r for r in v.children().values())


def wait_for(pred, timeout=20, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = pred()
        if r:
            return r
        time.sleep(0.05)
    raise AssertionError("timeout waiting for " + what)


def test_start_and_graceful_stop(vmaild_factory):
    v = vmaild_factory(config={"server": {"workers": "3"}})
    v.start()
    wait_for(lambda: roles(v) == ["lookup", "queue", "worker", "worker", "worker"],
             what="all children")
    assert len(v.log_lines("vmaild[worker]", "event=ready")) == 3
    pid_file = os.path.join(v.state, "run", "vmaild.pid")
    assert int(open(pid_file).read()) == v.proc.pid
    kids = list(v.children())
    assert v.stop() == 0
    # every child stopped, the master said so, and the runtime files are gone
    assert len(v.log_lines("vmaild[master]", "event=child_stop")) == 5
    assert v.log_lines("vmaild[master]", "event=stopped")
    for p in kids:
        assert not os.path.exists("/proc/%d" % p) or \
            open("/proc/%d/stat" % p).read().split()[2] == "Z"
    assert not os.path.exists(pid_file)
    assert not os.path.exists(v.lookup_socket)


def test_log_lines_are_key_value(vmaild):
    vmaild.lookup().ping()
    for line in vmaild.log().splitlines():
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z vmaild\[(master|lookup|queue|worker)\] "
                        r"pid=\d+ level=(debug|info|warn|error) event=\w+( \w+=\S+)*$", line), line


@pytest.mark.parametrize("role", ["lookup", "queue", "worker"])
def test_dead_child_is_restarted(vmaild, role):
    v = vmaild
    victim = wait_for(lambda: [p for p, r in v.children().items() if r == role], what=role)[0]
    os.kill(victim, signal.SIGKILL)
    line = v.wait_log("event=child_exit", "role=" + role, "child_pid=%d" % victim)[0]
    assert "signal=9" in line and "restart_in=1s" in line and "level=warn" in line
    wait_for(lambda: [p for p, r in v.children().items() if r == role and p != victim],
             what="new " + role)
    # the restarted set still answers
    c = LookupClient(v.lookup_socket)
    assert c.ping()["status"] == "ok"


def test_restart_backoff_grows(vmaild):
    v = vmaild
    delays = []
    for i in range(3):
        pids = wait_for(lambda: [p for p, r in v.children().items() if r == "lookup"],
                        what="lookup")
        # wait until it is serving before killing it again
        wait_for(lambda: os.path.exists(v.lookup_socket) and LookupClient(v.lookup_socket).ping(),
                 what="ping")
        os.kill(pids[0], signal.SIGKILL)
        line = v.wait_log("event=child_exit", "child_pid=%d" % pids[0])[0]
        delays.append(re.search(r"restart_in=(\d+)s", line).group(1))
    assert delays == ["1", "2", "4"]


def test_reload_replaces_children_and_keeps_sockets(vmaild):
    v = vmaild
    before = wait_for(lambda: v.children() if len(v.children()) == 4 else None, what="children")
    ino = os.stat(v.lookup_socket).st_ino
    # a connection made before the reload keeps working until its process
    # goes, and connections during and after the reload are accepted
    with open(v.conf, "a") as f:
        f.write("\n")
    v.signal(signal.SIGHUP)
    v.wait_log("vmaild[master]", "event=reload")
    after = wait_for(lambda: v.children() if len(v.children()) == 4 and
                     not set(v.children()) & set(before) else None, what="new children")
    assert sorted(after.values()) == ["lookup", "queue", "worker", "worker"]
    assert os.stat(v.lookup_socket).st_ino == ino
    assert LookupClient(v.lookup_socket).ping()["status"] == "ok"
    assert len(v.log_lines("event=child_stop")) == 4


def test_reload_applies_new_settings(vmaild):
    v = vmaild
    text = open(v.conf).read().replace("workers = 2", "workers = 3")
    open(v.conf, "w").write(text)
    v.signal(signal.SIGHUP)
    v.wait_log("vmaild[master]", "event=reload")
    wait_for(lambda: sorted(v.children().values()) ==
             ["lookup", "queue", "worker", "worker", "worker"], what="3 workers")


def test_invalid_reload_is_refused(vmaild_factory):
    v = vmaild_factory(allowed_errors=["event=reload_refused"])
    v.start()
    before = wait_for(lambda: v.children() if len(v.children()) == 4 else None, what="children")
    good = open(v.conf).read()
    open(v.conf, "w").write(good + "[server]\nbogus = 1\n")
    v.signal(signal.SIGHUP)
    line = v.wait_log("event=reload_refused")[0]
    assert "vmaild.conf:" in line and "bogus" in line and "unknown" in line
    time.sleep(0.5)
    assert v.children() == before
    assert LookupClient(v.lookup_socket).ping()["status"] == "ok"
    # a good file afterwards is taken
    open(v.conf, "w").write(good)
    v.signal(signal.SIGHUP)
    v.wait_log("vmaild[master]", "event=reload ")


def test_malformed_ipc_closes_only_that_connection(vmaild_factory):
    v = vmaild_factory(allowed_errors=["event=ipc_error"])
    v.start()
    bad = socket.socket(socket.AF_UNIX)
    bad.connect(v.lookup_socket)
    # version 7 frame, then a frame claiming 100 MB
    bad.sendall(b"\x00\x00\x00\x00\x01\x00\x07\x00\x01\x00\x00\x00")
    assert bad.recv(10) == b""
    bad2 = socket.socket(socket.AF_UNIX)
    bad2.connect(v.lookup_socket)
    bad2.sendall(b"\x00\x00\x00\x10\x01\x00\x01\x00\x01\x00\x00\x00")
    assert bad2.recv(10) == b""
    # a request with a missing argument
    bad3 = socket.socket(socket.AF_UNIX)
    bad3.connect(v.lookup_socket)
    bad3.sendall(b"\x00\x00\x00\x00\x01\x00\x01\x00\x01\x00\x00\x00")
    assert bad3.recv(10) == b""
    assert LookupClient(v.lookup_socket).ping()["status"] == "ok"
    assert not v.log_lines("event=child_exit")


def test_privileges_dropped(vmaild_factory, tmp_path):
    if os.geteuid() != 0:
        # started by an ordinary user every role runs as that user
        v = vmaild_factory()
        v.start()
        for pid in v.children():
            assert os.stat("/proc/%d" % pid).st_uid == os.geteuid()
        return
    # outside pytest's private (0700) temp tree, as /var/lib would be
    import tempfile
    import shutil
    root = tempfile.mkdtemp(prefix="vmaild-priv-")
    os.chmod(root, 0o755)
    v = vmaild_factory(root=root, config={"server": {"user": "nobody", "group": "nogroup",
                                                     "lookup_user": "daemon"}})
    v.init_directory()
    db = v.sections["directory"]["path"]
    for f in os.listdir(v.root):
        if f.startswith("vmail.sqlite"):
            os.chmod(os.path.join(v.root, f), 0o644)
    v.start()
    kids = wait_for(lambda: v.children() if len(v.children()) == 4 else None, what="children")
    uid_of = {"lookup": "daemon", "queue": "nobody", "worker": "nobody"}
    import pwd
    for pid, role in kids.items():
        status = open("/proc/%d/status" % pid).read()
        uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", status, re.M).groups()
        assert set(uids) == {str(pwd.getpwnam(uid_of[role]).pw_uid)}, (role, uids)
        groups = re.search(r"^Groups:\s*(.*)$", status, re.M).group(1).split()
        assert "0" not in groups
    assert os.stat("/proc/%d" % v.proc.pid).st_uid == 0
    assert LookupClient(v.lookup_socket).ping()["status"] == "ok", db
    v.close()
    shutil.rmtree(root)


def test_unknown_user_is_a_clear_error(vmaild_factory):
    if os.geteuid() != 0:
        return  # without root no user is switched to; see test_privileges_dropped
    v = vmaild_factory(config={"server": {"user": "no-such-user-x"}})
    v.init_directory()
    r = subprocess.run([VMAILD, "-c", v.conf], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "user 'no-such-user-x' does not exist" in r.stderr


def test_dev_mode(tmp_path):
    d = tmp_path / "dev"
    p = subprocess.Popen([VMAILD, "--dev", str(d)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        out = ""
        while "manage it with" not in out:
            line = p.stdout.readline()
            assert line, "vmaild --dev printed no login info: " + out + p.stderr.read()
            out += line
        password = re.search(r"password:\s+(\S+)", out).group(1)
        assert "demo@example.test" in out
        conf = d / "vmaild.conf"
        assert conf.exists() and (d / "tls" / "cert.pem").exists()
        assert oct(os.stat(d / "tls" / "key.pem").st_mode & 0o777) == "0o600"
        r = ctl(conf, "lookup", "demo@example.test", json_out=True)
        assert '"account"' in r.stdout
        sock = d / "state" / "run" / "lookup.sock"
        wait_for(lambda: sock.exists(), what="lookup socket")
        c = wait_for(lambda: _try_connect(str(sock)), what="lookup process")
        assert c.auth("demo@example.test", password)["status"] == "ok"
        assert c.auth("demo@example.test", password + "x")["status"] == "denied"
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=40) == 0
    err = p.stderr.read()
    assert "level=error" not in err and "level=fatal" not in err, err
    # a second start keeps the account and its password
    r = subprocess.run([VMAILD, "--dev", str(d), "-t"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    assert "password:      %s" % password in r.stdout


def _try_connect(path):
    try:
        c = LookupClient(path)
        return c if c.ping()["status"] == "ok" else None
    except OSError:
        return None


def test_sigterm_lets_a_transaction_finish(vmaild_factory):
    """In-flight transactions get their grace period: a message in the
    middle of DATA when SIGTERM comes is still accepted and delivered,
    new connections are refused, and then vmaild exits 0."""
    from vmaildtest import free_port
    import smtplib
    port = free_port()
    v = vmaild_factory(config={"listen": {"smtp": "127.0.0.1:%d" % port},
                               "smtpd": {"reject_unknown_client_hostname": "no",
                                         "reject_unknown_helo_hostname": "no"}})
    v.init_directory()
    v.ctl("domain", "add", "example.test")
    v.ctl("account", "add", "u@example.test", "--password-stdin", input="pw\n")
    v.start()
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    s.ehlo("client.example.org")
    s.mail("a@example.org")
    assert s.rcpt("u@example.test")[0] == 250
    s.putcmd("DATA")
    assert s.getreply()[0] == 354
    s.send(b"Subject: in flight\r\n\r\nfirst half\r\n")
    v.signal(signal.SIGTERM)
    v.wait_log("vmaild[worker]", "event=stopping")
    time.sleep(0.5)
    assert v.proc.poll() is None  # still waiting for us
    s.send(b"second half\r\n.\r\n")
    code, msg = s.getreply()
    assert code == 250, msg
    # the server says goodbye at the next command
    code, _ = s.docmd("MAIL FROM:<a@example.org>")
    assert code == 421
    s.close()
    assert v.proc.wait(timeout=30) == 0
    new = os.path.join(v.root, "vmail", "example.test", "u", "mail", "new")
    files = os.listdir(new)
    assert len(files) == 1
    assert b"second half" in open(os.path.join(new, files[0]), "rb").read()


def test_make_install(tmp_path):
    from vmaildtest import REPO
    dest = tmp_path / "root"
    r = subprocess.run(["make", "-s", "install", "PREFIX=/usr", "DESTDIR=%s" % dest],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    for p in ("usr/sbin/vmaild", "usr/sbin/vmailctl", "etc/vmaild/vmaild.conf",
              "lib/systemd/system/vmaild.service"):
        assert (dest / p).exists(), p
    unit = (dest / "lib/systemd/system/vmaild.service").read_text()
    assert "ExecStart=/usr/sbin/vmaild -c /etc/vmaild/vmaild.conf" in unit
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit
    assert os.access(dest / "usr/sbin/vmaild", os.X_OK)


def test_tls_certificate_by_sni(vmaild_factory, tmp_path):
    """[tls] sni: the certificate follows the name the client asks for."""
    from vmaildtest import free_port

    def cert(cn):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=" + cn, "-days", "2",
                        "-keyout", str(tmp_path / (cn + ".key")),
                        "-out", str(tmp_path / (cn + ".pem"))], check=True, capture_output=True)
        return str(tmp_path / (cn + ".pem")), str(tmp_path / (cn + ".key"))
    dc, dk = cert("mail.one.test")
    oc, ok = cert("mail.other.test")
    wc, wk = cert("star.wild.test")
    port = free_port()
    v = vmaild_factory(config={"listen": {"smtp": "127.0.0.1:%d" % port},
                               "tls": {"cert": dc, "key": dk,
                                       "sni": "mail.other.test:%s:%s" % (oc, ok)}})
    # a second item on an indented line, and a wildcard
    with open(v.conf) as f:
        text = f.read()
    text = text.replace("sni = mail.other.test:%s:%s\n" % (oc, ok),
                        "sni = mail.other.test:%s:%s\n  *.wild.test:%s:%s\n" % (oc, ok, wc, wk))
    with open(v.conf, "w") as f:
        f.write(text)
    v.start()

    def subject(name):
        args = ["openssl", "s_client", "-starttls", "smtp", "-connect", "127.0.0.1:%d" % port]
        if name:
            args += ["-servername", name]
        r = subprocess.run(args, input="QUIT\n", capture_output=True, text=True, timeout=30)
        m = re.search(r"subject=CN ?= ?(\S+)", r.stdout)
        assert m, r.stdout + r.stderr
        return m.group(1)
    assert subject("mail.other.test") == "mail.other.test"
    assert subject("MAIL.OTHER.TEST") == "mail.other.test"
    assert subject("mx.wild.test") == "star.wild.test"
    assert subject("a.b.wild.test") == "mail.one.test"
    assert subject("unknown.test") == "mail.one.test"
    assert subject(None) == "mail.one.test"


def test_tls_sni_config_errors(tmp_path):
    from vmaildtest import write_config
    p = write_config(tmp_path / "c.conf", {"tls": {"cert": "/a.pem", "key": "/a.key",
                                                   "sni": "mail.x.test:/only-two"}})
    r = subprocess.run([VMAILD, "-c", str(p), "-t"], capture_output=True, text=True)
    assert r.returncode == 1 and "[tls] sni: 'mail.x.test:/only-two' is not NAME:CERT:KEY" in r.stderr


def _listen_inode(port):
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.split(":")[1], 16) == port:
                return inode
    return None


def test_reload_keeps_tcp_listener_and_takes_new_certificate(vmaild_factory, tmp_path):
    from vmaildtest import free_port
    import smtplib

    def cert(cn):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=" + cn, "-days", "2",
                        "-keyout", str(tmp_path / "k.pem"), "-out", str(tmp_path / "c.pem")],
                       check=True, capture_output=True)
    cert("before.test")
    port = free_port()
    v = vmaild_factory(config={"listen": {"smtp": "127.0.0.1:%d" % port},
                               "tls": {"cert": str(tmp_path / "c.pem"), "key": str(tmp_path / "k.pem")},
                               "smtpd": {"reject_unknown_client_hostname": "no",
                                         "reject_unknown_helo_hostname": "no"}})
    v.start()
    inode = _listen_inode(port)
    assert inode is not None

    def subject():
        r = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                            "127.0.0.1:%d" % port], input="QUIT\n", capture_output=True,
                           text=True, timeout=30)
        return re.search(r"subject=CN ?= ?(\S+)", r.stdout).group(1)
    assert subject() == "before.test"
    # a session open across the reload is served to its end by the old worker
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    assert s.ehlo("client.example.org")[0] == 250
    cert("after.test")
    v.signal(signal.SIGHUP)
    v.wait_log("vmaild[master]", "event=reload")
    assert _listen_inode(port) == inode  # the same socket, never closed
    assert s.noop()[0] == 250
    s.quit()
    assert subject() == "after.test"


def test_logs_to_syslog_facility_mail(vmaild_factory, tmp_path):
    """[server] log = syslog: the same key=value lines, to facility mail
    through /dev/log. Where the machine has no /dev/log the test binds its
    own there for the run; where it has one, vmaild runs in a private
    mount namespace with the test's socket mounted over it."""
    import socket as sk
    sockpath = str(tmp_path / "devlog")
    rx = sk.socket(sk.AF_UNIX, sk.SOCK_DGRAM)
    rx.bind(sockpath)
    rx.settimeout(20)
    v = vmaild_factory(config={"server": {"log": "syslog"}})
    v.init_directory()
    own = not os.path.exists("/dev/log")
    if own:
        os.symlink(sockpath, "/dev/log")
        cmd = [VMAILD, "-c", v.conf]
    else:
        cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
               'mount --bind "$0" /dev/log && exec "$1" -c "$2"', sockpath, VMAILD, v.conf]
    import threading
    got = []
    done = threading.Event()

    def drain():
        # read every datagram until vmaild is gone: a full socket queue
        # would block its syslog() calls
        rx.settimeout(0.2)
        while not done.is_set():
            try:
                got.append(rx.recv(4096).decode())
            except OSError:
                pass
    reader = threading.Thread(target=drain)
    reader.start()
    try:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 20
        while time.time() < deadline and not any("[master] level=info event=ready" in g
                                                  for g in list(got)):
            time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=40) == 0
        out, err = p.communicate()
    finally:
        done.set()
        reader.join()
        if own:
            os.unlink("/dev/log")
        rx.close()
    ready = [g for g in got if "[master] level=info event=ready" in g]
    assert ready, got
    # <22> = facility mail (2) * 8 + info (6); ident vmaild with the pid
    assert re.match(r"<22>.*vmaild\[\d+\]: \[master\] level=info event=ready", ready[0]), ready[0]
    assert any("[lookup] level=info event=ready" in g for g in got)
    assert b"event=" not in err  # nothing went to stderr
