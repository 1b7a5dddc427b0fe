"""bench/imap/imapbench.py - the parts of bench/imap that run and measure servers.

Dovecot: a private instance (DovecotInstance) in a directory of its own:
its own dovecot.conf, base_dir, state_dir, log, passwd-file; it listens on
127.0.0.1 only and never reads /etc/dovecot or touches /run/dovecot.

Memory: tree_memory(pid) sums VmRSS and PSS (smaps_rollup) over a process
and all its descendants; idle_memory() holds N IDLE connections open with
imap-load and measures the server's tree before and with them.

Everything raises BenchFailure when the measurement itself fails.
"""

import os
import pwd
import grp
import resource
import shutil
import socket
import subprocess
import time

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"
TICK = os.sysconf("SC_CLK_TCK")


class BenchFailure(Exception):
    pass


# ---- processes -------------------------------------------------------------

def _stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()


def descendants(pid):
    """pid and every process below it."""
    children = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            ppid = int(_stat(int(p))[1])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(p))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            f = _stat(pid)
            total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])  # + waited-for children
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total / TICK


def tree_memory(pid):
    """(processes, RSS bytes, PSS bytes) summed over pid's tree."""
    n = rss = pss = 0
    for p in descendants(pid):
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                got = False
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1]) * 1024
                        got = True
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
            n += got
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return n, rss, pss


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want and os.geteuid() == 0:
        hard = want
    new_soft = want if hard == resource.RLIM_INFINITY else min(want, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, new_soft), hard))
    except (ValueError, OSError):
        pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def greeting(port, timeout=2.0):
    """The server's first line on 127.0.0.1:port, or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            data = b""
            while b"\n" not in data:
                chunk = s.recv(512)
                if not chunk:
                    break
                data += chunk
            return data.split(b"\n", 1)[0].decode(errors="replace").strip() or None
    except OSError:
        return None


# ---- Dovecot ---------------------------------------------------------------

class DovecotInstance:
    """A private Dovecot in DIR serving USER with its mail under HOME.

    Runs as the current user, or - when that is root - with the master as
    root (it binds and forks), logins as dovenull, internal services as
    dovecot, and the mail processes as MAIL_USER (an unprivileged system
    user that owns HOME), which is how a packaged install runs it.
    """

    def __init__(self, d, port, user, password, home, mail_owner, process_limit, client_limit,
                 hibernate=None):
        self.dir, self.port, self.user = d, port, user
        self.conf = os.path.join(d, "dovecot.conf")
        self.log_path = os.path.join(d, "dovecot.log")
        self.proc = None
        base = os.path.join(d, "run")
        state = os.path.join(d, "state")
        os.makedirs(state, exist_ok=True)
        passwd = os.path.join(d, "passwd")
        uid, gid = mail_owner
        if os.geteuid() == 0:
            login_user, internal_user = "dovenull", "dovecot"
        else:
            login_user = internal_user = pwd.getpwuid(os.geteuid()).pw_name
        # a hash of the scheme vmailctl writes, so both check the same
        h = subprocess.run([DOVEADM, "-c", "/dev/null", "pw", "-s", "SHA512-CRYPT", "-p",
                            password], capture_output=True, text=True, timeout=30)
        if h.returncode != 0 or not h.stdout.startswith("{SHA512-CRYPT}"):
            raise BenchFailure("doveadm pw failed: %s%s" % (h.stdout, h.stderr))
        with open(passwd, "w") as f:
            f.write("%s:%s:%d:%d::%s::\n" % (user, h.stdout.strip(), uid, gid, home))
        os.chmod(passwd, 0o640)
        if os.geteuid() == 0:
            os.chown(passwd, 0, grp.getgrnam(internal_user).gr_gid)
        conf = """# bench/imap: a private Dovecot, written by bench/imap/run
instance_name = vmbench-imap-%(port)d
base_dir = %(base)s
state_dir = %(state)s
log_path = %(log)s
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
login_trusted_networks = 127.0.0.0/8
auth_mechanisms = plain login
default_login_user = %(login_user)s
default_internal_user = %(internal_user)s
default_internal_group = %(internal_group)s
# enough for the idle test's connections and processes (Debian: 1000)
default_client_limit = %(dcl)d
first_valid_uid = 1

passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT %(passwd)s
}
userdb {
  driver = passwd-file
  args = %(passwd)s
}

# the guide's mail settings (refstack): Maildir++ LAYOUT=fs under ~/mail,
# mail_fsync and the index settings left at their defaults
mail_location = maildir:~/mail:LAYOUT=fs
namespace inbox {
  inbox = yes
}

protocol imap {
  # the guide has 20; the bench opens up to a few thousand from 127.0.0.1
  mail_max_userip_connections = %(maxconn)d
  imap_idle_notify_interval = 29 mins
}

# login processes in Dovecot's "high-performance" mode, as a busy install
# runs them: long-lived, one per CPU, each serving many logins
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %(port)d
  }
  inet_listener imaps {
    port = 0
  }
  service_count = 0
  process_min_avail = %(ncpu)d
}

# the mail processes as packaged: one process per connection
# (client_limit = 1); process_limit raised from 1024 for the idle test
service imap {
  process_limit = %(plimit)d
  client_limit = %(climit)d
%(imap_extra)s}
""" % {"port": port, "base": base, "state": state, "log": self.log_path,
       "login_user": login_user, "internal_user": internal_user,
       "internal_group": grp.getgrgid(pwd.getpwnam(internal_user).pw_gid).gr_name,
       "passwd": passwd, "maxconn": process_limit * max(1, client_limit) + 100,
       "ncpu": os.cpu_count() or 1, "plimit": process_limit, "climit": client_limit,
       "dcl": max(10000, 2 * process_limit),
       "imap_extra": "" if not hibernate else
       "  unix_listener imap-master {\n    user = $default_internal_user\n  }\n"
       "  extra_groups = $default_internal_group\n"}
        if hibernate:
            # Dovecot's answer to many idle clients (off by default): after
            # imap_hibernate_timeout in IDLE, the imap process hands the connection to
            # the shared imap-hibernate process and exits
            conf += """
imap_hibernate_timeout = %s
service imap-hibernate {
  unix_listener imap-hibernate {
    mode = 0660
    group = $default_internal_group
  }
}
""" % hibernate
        with open(self.conf, "w") as f:
            f.write(conf)

    def start(self):
        self.logf = open(os.path.join(self.dir, "dovecot.out"), "ab")
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchFailure("dovecot exited (%s):\n%s" % (self.proc.returncode,
                                                                self.output()))
            g = greeting(self.port, timeout=1)
            if g is not None and g.startswith("* OK"):
                return
            time.sleep(0.1)
        raise BenchFailure("dovecot did not greet on 127.0.0.1:%d\n%s" % (self.port,
                                                                          self.output()))

    def output(self):
        out = ""
        for p in (os.path.join(self.dir, "dovecot.out"), self.log_path):
            try:
                with open(p, errors="replace") as f:
                    out += f.read()[-3000:]
            except FileNotFoundError:
                pass
        return out

    def bad_log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return [l.rstrip() for l in f if "Panic:" in l or "Fatal:" in l or
                        "Error:" in l]
        except FileNotFoundError:
            return []

    def stop(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        rc, self.proc = self.proc.returncode, None
        return rc


# ---- idle connections ------------------------------------------------------

def idle_memory(imap_load, port, user, password, server_pid, n, timeout=240, settle=2.0):
    """Opens N connections in IDLE with imap-load and measures server_pid's
    tree before and while they are open. Returns a dict."""
    time.sleep(0.5)
    before = tree_memory(server_pid)
    p = subprocess.Popen([imap_load, "idle", str(port), user, password, str(n), "8"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        t0 = time.monotonic()
        line = _readline_timeout(p, timeout)
        if not line.startswith("ready"):
            raise BenchFailure("imap-load idle: %r\n%s" % (line, _drain(p)))
        kv = dict(x.split("=", 1) for x in line.split() if "=" in x)
        if int(kv["errors"]) != 0:
            p.stdin.close()
            raise BenchFailure("imap-load idle: %s connections failed to reach IDLE:\n%s"
                               % (kv["errors"], _drain(p)))
        setup = time.monotonic() - t0
        time.sleep(settle)  # let the server settle (login processes, hibernation)
        during = tree_memory(server_pid)
        p.stdin.write("release\n")
        p.stdin.flush()
        p.stdin.close()
        out = p.stdout.read()
        err = p.stderr.read()
        rc = p.wait(timeout=120)
        if rc != 0:
            raise BenchFailure("imap-load idle release failed (%d): %s %s" % (rc, out, err))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return {"n": n, "setup_s": setup, "before": before, "during": during,
            "rss_per_conn": (during[1] - before[1]) / n,
            "pss_per_conn": (during[2] - before[2]) / n}


def _readline_timeout(p, timeout):
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    if not sel.select(timeout):
        p.kill()
        raise BenchFailure("imap-load idle: no answer within %d s" % timeout)
    return p.stdout.readline()


def _drain(p):
    try:
        p.kill()
    except OSError:
        pass
    try:
        return (p.stdout.read() or "") + (p.stderr.read() or "")
    except (OSError, ValueError):
        return ""
