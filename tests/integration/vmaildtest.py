"""Helpers to run vmaild and vmailctl in tests and speak the lookup protocol."""
import os
import pwd
import grp
import signal
import socket
import struct
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("VMAILD_BUILD", os.path.join(REPO, "build"))
VMAILD = os.path.join(BUILD, "vmaild")
VMAILCTL = os.path.join(BUILD, "vmailctl")
SAN = os.environ.get("VMAILD_SAN") == "1"

# Log lines a test must never see unless it asks for them.
BAD_LOG = ("level=fatal", "AddressSanitizer", "runtime error:", "LeakSanitizer")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def me():
    return pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name


def write_config(path, sections):
    """sections: {"server": {"key": "value"}, ...} -> INI file."""
    with open(path, "w") as f:
        for sec, kv in sections.items():
            f.write("[%s]\n" % sec)
            for k, v in kv.items():
                f.write("%s = %s\n" % (k, v))
            f.write("\n")
    return path


def ctl(config, *args, input=None, check=True, json_out=False):
    cmd = [VMAILCTL, "-c", str(config)]
    if json_out:
        cmd.append("--json")
    cmd += [str(a) for a in args]
    r = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError("%s failed (%d): %s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r


class Vmaild:
    """One vmaild instance in its own directory.

    config: extra sections merged over the defaults (dicts of strings).
    The directory is SQLite in the instance's directory unless the
    caller passes a [directory] section.
    """

    def __init__(self, root, config=None, allowed_errors=()):
        self.root = str(root)
        os.makedirs(self.root, exist_ok=True)
        self.state = os.path.join(self.root, "state")
        self.conf = os.path.join(self.root, "vmaild.conf")
        self.log_path = os.path.join(self.root, "vmaild.log")
        self.allowed_errors = list(allowed_errors)
        user, group = me()
        sections = {
            "server": {"hostname": "mx.test", "state_dir": self.state, "user": user,
                       "group": group, "lookup_user": user, "workers": "2"},
            "directory": {"driver": "sqlite", "path": os.path.join(self.root, "vmail.sqlite"),
                          "cache_ttl": "1s", "timeout": "2s"},
            "mail": {"home": os.path.join(self.root, "vmail", "%d", "%n")},
            # tests never ask the internet: names outside a test's own stub
            # zones go to a loopback port where nothing answers
            "dns": {"forwarders": "127.0.0.1@9", "timeout": "3s"},
        }
        for sec, kv in (config or {}).items():
            sections.setdefault(sec, {}).update(kv)
        self.sections = sections
        write_config(self.conf, sections)
        # the mail root exists on a real install (/var/vmail/mailboxes); the
        # per-domain and per-user directories below it are vmaild's to make
        os.makedirs(os.path.join(self.root, "vmail"), exist_ok=True)
        self.proc = None
        self.logf = None

    # -- directory through vmailctl --
    def ctl(self, *args, **kw):
        return ctl(self.conf, *args, **kw)

    def init_directory(self):
        self.ctl("init")

    @property
    def lookup_socket(self):
        return os.path.join(self.state, "run", "lookup.sock")

    # -- process --
    def start(self, wait=True):
        if self.sections["directory"].get("driver", "sqlite") == "sqlite" and \
                not os.path.exists(self.sections["directory"]["path"]):
            self.init_directory()
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([VMAILD, "-c", self.conf], stdout=self.logf,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if wait:
            self.wait_log("vmaild[lookup]", "event=ready")
            self.wait_log("vmaild[master]", "event=ready")
            deadline = time.time() + 20
            while time.time() < deadline:
                if os.path.exists(self.lookup_socket):
                    return self
                time.sleep(0.05)
            raise AssertionError("lookup socket did not appear\n" + self.log())
        return self

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_lines(self, *needles):
        return [l for l in self.log().splitlines() if all(n in l for n in needles)]

    def wait_log(self, *needles, count=1, timeout=20):
        deadline = time.time() + timeout * (3 if SAN else 1)
        while time.time() < deadline:
            if len(self.log_lines(*needles)) >= count:
                return self.log_lines(*needles)
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError("vmaild exited (%s) while waiting for %r\n%s"
                                     % (self.proc.returncode, needles, self.log()))
            time.sleep(0.05)
        raise AssertionError("timeout waiting for %r in log\n%s" % (needles, self.log()))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def children(self):
        """{pid: role} of the master's children, from /proc."""
        out = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) != self.proc.pid:
                    continue
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            out[int(pid)] = None
        # roles from the log: child_start lines name role and pid
        for l in self.log_lines("event=child_start"):
            kv = dict(p.split("=", 1) for p in l.split() if "=" in p)
            p = int(kv["child_pid"])
            if p in out:
                out[p] = kv["role"]
        return out

    def stop(self, timeout=40):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("vmaild did not stop within %ss\n%s" % (timeout, self.log()))
        rc = self.proc.returncode
        self.proc = None
        if self.logf:
            self.logf.close()
            self.logf = None
        return rc

    def check_log(self):
        bad = []
        for line in self.log().splitlines():
            if any(b in line for b in BAD_LOG) or "level=error" in line:
                if not any(a in line for a in self.allowed_errors):
                    bad.append(line)
        return bad

    def close(self):
        running = self.proc is not None
        rc = self.stop()
        bad = self.check_log()
        assert not bad, "unexpected log lines in %s:\n%s" % (self.root, "\n".join(bad))
        if running:
            assert rc == 0, "vmaild exited with %s\n%s" % (rc, self.log())

    def lookup(self):
        return LookupClient(self.lookup_socket)


# ---- the lookup protocol (src/directory/lookup.h), spoken from Python ----

RCPT, DOMAIN, AUTH, SENDAS, TLSPOLICY, USER, PING = range(1, 8)
KINDS = ["account", "alias", "catchall", "sendonly", "disabled", "unknown", "nodomain"]
STATUS = {0: "ok", 1: "tempfail", 2: "denied"}


def _s(x):
    if x is None:
        return struct.pack("<I", 0xFFFFFFFF)
    b = x.encode() if isinstance(x, str) else x
    return struct.pack("<I", len(b)) + b + b"\0"


class _Reader:
    def __init__(self, data):
        self.d, self.p = data, 0

    def u8(self):
        v = self.d[self.p]
        self.p += 1
        return v

    def u32(self):
        v = struct.unpack_from("<I", self.d, self.p)[0]
        self.p += 4
        return v

    def s(self):
        n = self.u32()
        if n == 0xFFFFFFFF:
            return None
        v = self.d[self.p:self.p + n].decode()
        self.p += n + 1
        return v


class LookupClient:
    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.next_id = 1

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def request(self, t, *args):
        payload = b"".join(_s(a) for a in args)
        rid = self.next_id
        self.next_id += 1
        self.sock.sendall(struct.pack("<IHHI", len(payload), t, 1, rid) + payload)
        hdr = self._recv(12)
        plen, rtype, ver, got = struct.unpack("<IHHI", hdr)
        assert (rtype, ver, got) == (t, 1, rid)
        return self._decode(t, self._recv(plen))

    def _recv(self, n):
        b = b""
        while len(b) < n:
            c = self.sock.recv(n - len(b))
            if not c:
                raise ConnectionError("lookup process closed the connection")
            b += c
        return b

    def _decode(self, t, data):
        r = _Reader(data)
        out = {"status": STATUS[r.u8()]}
        if out["status"] == "tempfail":
            out["error"] = r.s()
            return out
        if t == RCPT:
            out["kind"] = KINDS[r.u8()]
            out["address"] = r.s()
            out["quota_mb"] = r.u32()
            out["dest"] = [r.s() for _ in range(r.u32())]
        elif t in (AUTH, USER):
            out["found"] = bool(r.u8())
            out["address"] = r.s()
            out["quota_mb"] = r.u32()
            out["sendonly"] = bool(r.u8())
        elif t == TLSPOLICY:
            out["found"] = bool(r.u8())
            out["policy"] = r.s()
            out["params"] = r.s()
        else:
            out["found"] = bool(r.u8())
        assert r.p == len(data), "trailing bytes in reply"
        return out

    def rcpt(self, a):
        return self.request(RCPT, a)

    def domain(self, d):
        return self.request(DOMAIN, d)

    def auth(self, login, pw):
        return self.request(AUTH, login, pw)

    def sendas(self, login, addr):
        return self.request(SENDAS, login, addr)

    def tlspolicy(self, d):
        return self.request(TLSPOLICY, d)

    def user(self, a):
        return self.request(USER, a)

    def ping(self):
        return self.request(PING)


# ---- IMAP ----

def imap_connect(port, tls=False, timeout=30):
    """An imaplib client on 127.0.0.1:port; tls=True: implicit TLS (993),
    certificates not checked."""
    import imaplib
    import ssl
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx, timeout=timeout)
    return imaplib.IMAP4("127.0.0.1", port, timeout=timeout)


class RawImap:
    """A plain-socket IMAP client for exact replies: line() reads one
    line, cmd(tag, text) sends "<tag> <text>" and returns (untagged lines,
    tagged line)."""

    def __init__(self, port, timeout=30, sock=None):
        self.sock = sock or socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.greeting = None

    def line(self):
        while b"\r\n" not in self.buf:
            c = self.sock.recv(65536)
            if not c:
                raise ConnectionError("closed; pending %r" % self.buf)
            self.buf += c
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l.decode("utf-8", "replace")

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def cmd(self, tag, text):
        self.send("%s %s\r\n" % (tag, text))
        return self.until(tag)

    def until(self, tag):
        untagged = []
        while True:
            l = self.line()
            if l.startswith(tag + " "):
                return untagged, l
            untagged.append(l)

    def closed(self, timeout=10):
        self.sock.settimeout(timeout)
        try:
            while True:
                c = self.sock.recv(65536)
                if not c:
                    return True
                self.buf += c
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()
