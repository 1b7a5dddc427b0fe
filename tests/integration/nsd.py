"""nsd.py - a real NSD on loopback, and DNS test zones, for the integration tests.

Any suite that needs DNS answers (MX for the queue, SPF/DKIM/DMARC TXT,
PTR checks, DANE TLSA, DNSSEC) starts its own authoritative server here
and points vmaild's resolver at it with [dns] stub_zones:

    from nsd import Nsd, zone_text, sign_zone

    zones = {"example.test": zone_text("example.test", ["@ A 192.0.2.1"])}
    with Nsd(tmpdir, zones) as ns:
        cfg = f"[dns]\\nstub_zones = {ns.stub_zones()}\\ndnssec = no\\n"

Nsd runs `nsd -d -c CONF` (Debian's nsd, foreground, no nsd.db, no
remote control, no privilege drop) on 127.0.0.1 and a free high port,
with everything (config, zones, pid, log, state) inside its own
directory. start() returns when the server answers a query; stop() ends
it and waits. Nothing is sent outside 127.0.0.1.

sign_zone() signs a zone with ldns-keygen + ldns-signzone (ldnsutils)
and returns the signed zone text and the DS records to use as a trust
anchor; `expired=True` makes signatures that ran out in 2001, `tamper`
changes record data after signing: both make the zone bogus to a
validator that trusts the DS.

BlackHole binds a UDP and a TCP socket on one port and never answers:
a server that times out. free_port() finds a port free for UDP and TCP.
"""

import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import time

NSD = shutil.which("nsd") or "/usr/sbin/nsd"
NSD_CHECKCONF = shutil.which("nsd-checkconf") or "/usr/sbin/nsd-checkconf"
LDNS_KEYGEN = shutil.which("ldns-keygen") or "/usr/bin/ldns-keygen"
LDNS_SIGNZONE = shutil.which("ldns-signzone") or "/usr/bin/ldns-signzone"
LDNS_KEY2DS = shutil.which("ldns-key2ds") or "/usr/bin/ldns-key2ds"


def free_port():
    """A port on 127.0.0.1 that is free for both UDP and TCP right now."""
    for _ in range(200):
        port = random.randint(20000, 60000)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            u.bind(("127.0.0.1", port))
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise RuntimeError("no free port found")


def zone_text(origin, records, ttl=300, serial=1):
    """A zone file for origin: SOA, NS ns.<origin> (127.0.0.1) and records.

    records are zone-file lines relative to $ORIGIN, e.g. "@ MX 10 mx1",
    "www CNAME @", 'txt TXT "a" "b"'.
    """
    origin = origin.rstrip(".")
    lines = [
        f"$ORIGIN {origin}.",
        f"$TTL {ttl}",
        f"@ IN SOA ns.{origin}. hostmaster.{origin}. ({serial} 3600 900 604800 {ttl})",
        f"@ IN NS ns.{origin}.",
        "ns IN A 127.0.0.1",
    ]
    lines += list(records)
    return "\n".join(lines) + "\n"


def _run(args, cwd):
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def sign_zone(workdir, origin, text, expired=False, tamper=None, algorithm="ECDSAP256SHA256"):
    """Sign the zone text; return (signed zone text, DS records text).

    expired: signatures valid from 2001-01-01 to 2001-02-01 only.
    tamper: (old, new) replaced in the signed text after signing.
    Keys and files go into workdir/<origin>-keys/.
    """
    origin = origin.rstrip(".")
    d = os.path.join(workdir, f"{origin}-keys")
    os.makedirs(d, exist_ok=True)
    zsk = _run([LDNS_KEYGEN, "-a", algorithm, origin], d).strip()
    ksk = _run([LDNS_KEYGEN, "-a", algorithm, "-k", origin], d).strip()
    zf = os.path.join(d, f"{origin}.zone")
    with open(zf, "w") as f:
        f.write(text)
    args = [LDNS_SIGNZONE]
    if expired:
        args += ["-i", "20010101000000", "-e", "20010201000000"]
    args += ["-f", zf + ".signed", zf, zsk, ksk]
    _run(args, d)
    with open(zf + ".signed") as f:
        signed = f.read()
    if tamper is not None:
        old, new = tamper
        if old not in signed:
            raise RuntimeError(f"tamper: {old!r} not in the signed zone")
        signed = signed.replace(old, new, 1)
    ds = _run([LDNS_KEY2DS, "-n", "-2", ksk + ".key"], d)
    return signed, ds


def _query_packet(name, qtype=6, qid=None):
    qid = random.randint(0, 0xFFFF) if qid is None else qid
    header = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0)  # RD clear: ask the authority
    q = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".") if l)
    return qid, header + q + b"\x00" + struct.pack("!HH", qtype, 1)


def udp_query(port, name, qtype=6, timeout=0.5):
    """Send one query to 127.0.0.1:port; the raw answer or None."""
    qid, pkt = _query_packet(name, qtype)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(pkt, ("127.0.0.1", port))
        data, _ = s.recvfrom(65535)
        if len(data) >= 12 and struct.unpack("!H", data[:2])[0] == qid:
            return data
    except OSError:
        return None
    finally:
        s.close()
    return None


class Nsd:
    """A real nsd serving zones {origin: zone text} on 127.0.0.1:port."""

    def __init__(self, workdir, zones, port=None):
        self.dir = os.path.join(workdir, "nsd")
        self.zones = dict(zones)
        self.port = port or free_port()
        self.proc = None
        self.log = os.path.join(self.dir, "nsd.log")

    def _write(self):
        os.makedirs(self.dir, exist_ok=True)
        zdir = os.path.join(self.dir, "zones")
        os.makedirs(zdir, exist_ok=True)
        conf = [
            "server:",
            "    ip-address: 127.0.0.1",
            f"    port: {self.port}",
            "    do-ip6: no",
            "    server-count: 1",
            "    reuseport: no",
            '    username: ""',
            '    chroot: ""',
            '    database: ""',
            f'    zonesdir: "{zdir}"',
            f'    zonelistfile: "{self.dir}/zone.list"',
            f'    xfrdfile: "{self.dir}/xfrd.state"',
            f'    xfrdir: "{self.dir}"',
            f'    pidfile: "{self.dir}/nsd.pid"',
            f'    logfile: "{self.log}"',
            "    verbosity: 1",
            "    hide-version: yes",
            "    answer-cookie: no",
            "remote-control:",
            "    control-enable: no",
        ]
        for origin, text in self.zones.items():
            origin = origin.rstrip(".")
            fn = f"{origin}.zone"
            with open(os.path.join(zdir, fn), "w") as f:
                f.write(text)
            conf += ["zone:", f"    name: {origin}", f"    zonefile: {fn}"]
        self.conf = os.path.join(self.dir, "nsd.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")

    def start(self, wait=30.0):
        self._write()
        r = subprocess.run([NSD_CHECKCONF, self.conf], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"nsd-checkconf: {r.stdout}{r.stderr}")
        self.proc = subprocess.Popen(
            [NSD, "-d", "-c", self.conf],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "nsd.stderr"), "w"),
        )
        first = next(iter(self.zones))
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nsd exited ({self.proc.returncode}): {self.logs()}")
            if udp_query(self.port, first) is not None:
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nsd did not answer within {wait}s: {self.logs()}")

    def logs(self):
        out = ""
        for fn in ("nsd.log", "nsd.stderr"):
            p = os.path.join(self.dir, fn)
            if os.path.exists(p):
                with open(p) as f:
                    out += f.read()
        return out

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def addr(self):
        return f"127.0.0.1@{self.port}"

    def stub_zones(self, names=None):
        """The [dns] stub_zones value sending names (default: every zone) here."""
        names = names if names is not None else self.zones.keys()
        return " ".join(f"{n.rstrip('.')}={self.addr()}" for n in names)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()



class BlackHole:
    """UDP and TCP on one loopback port that take queries and never answer."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(16)

    def addr(self):
        return f"127.0.0.1@{self.port}"

    def close(self):
        self.udp.close()
        self.tcp.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
