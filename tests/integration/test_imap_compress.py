"""COMPRESS=DEFLATE (RFC 4978): advertised after login only; after the
OK every byte in both directions is raw DEFLATE, over plain TCP and over
TLS; a second COMPRESS is refused; commands pipelined behind COMPRESS
are refused with BYE; a corrupt stream ends the session without harm to
the server."""
import socket
import ssl
import zlib

from smtptest import tls_cert, PASSWORD  # noqa: F401
from imaptest import USER, caps, login, make_imap, raw


class Deflated:
    """Talks IMAP through raw DEFLATE over an existing socket."""

    def __init__(self, sock, pending=b""):
        self.sock = sock
        self.z_out = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.z_in = zlib.decompressobj(-15)
        self.buf = self.z_in.decompress(pending)

    def send(self, text):
        data = text.encode() if isinstance(text, str) else text
        self.sock.sendall(self.z_out.compress(data) + self.z_out.flush(zlib.Z_SYNC_FLUSH))

    def line(self):
        while b"\r\n" not in self.buf:
            c = self.sock.recv(65536)
            if not c:
                raise ConnectionError("closed; pending %r" % self.buf)
            self.buf += self.z_in.decompress(c)
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l.decode()

    def cmd(self, tag, text):
        self.send("%s %s\r\n" % (tag, text))
        out = []
        while True:
            l = self.line()
            if l.startswith(tag + " "):
                return out, l
            out.append(l)


def test_compress_plain(vmaild_factory, tls_cert):
    v = make_imap(vmaild_factory, tls_cert)
    r = raw(v)
    assert "COMPRESS=DEFLATE" not in caps(r.greeting)
    _, t = r.cmd("c0", "COMPRESS DEFLATE")
    assert t.startswith("c0 BAD"), t  # not before login
    _, t = r.cmd("l", "LOGIN %s %s" % (USER, PASSWORD))
    assert "COMPRESS=DEFLATE" in caps(t)
    _, t = r.cmd("c1", "COMPRESS SNAPPY")
    assert t.startswith("c1 NO"), t
    _, t = r.cmd("c2", "COMPRESS DEFLATE")
    assert t == "c2 OK DEFLATE active"
    d = Deflated(r.sock, r.buf)
    u, t = d.cmd("n1", "NOOP")
    assert t.startswith("n1 OK"), t
    u, t = d.cmd("l1", 'LIST "" "*"')
    assert t.startswith("l1 OK"), t
    assert any('"Trash"' in x or " Trash" in x for x in u), u
    # big enough to span several deflate blocks: 300 LIST replies at once
    d.send("".join("p%d NOOP\r\n" % i for i in range(300)))
    for i in range(300):
        while True:
            l = d.line()
            if l.startswith("p%d " % i):
                assert "OK" in l
                break
    u, t = d.cmd("c3", "COMPRESS DEFLATE")
    assert t.startswith("c3 NO [COMPRESSIONACTIVE]"), t
    u, t = d.cmd("z", "LOGOUT")
    assert u[0].startswith("* BYE") and t.startswith("z OK"), (u, t)


def test_compress_over_tls(vmaild_factory, tls_cert):
    v = make_imap(vmaild_factory, tls_cert)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", v.imaps_port), timeout=30))
    from vmaildtest import RawImap
    r = RawImap(0, sock=s)
    r.greeting = r.line()
    _, t = r.cmd("l", "LOGIN %s %s" % (USER, PASSWORD))
    assert t.startswith("l OK"), t
    _, t = r.cmd("c", "COMPRESS DEFLATE")
    assert t == "c OK DEFLATE active"
    d = Deflated(s, r.buf)
    u, t = d.cmd("q", 'GETQUOTAROOT "INBOX"')
    assert t.startswith("q OK"), t
    u, t = d.cmd("z", "LOGOUT")
    assert t.startswith("z OK"), t


def test_compress_pipelined_and_corrupt(vmaild_factory, tls_cert):
    v = make_imap(vmaild_factory, tls_cert)
    r = login(v)
    # a command right behind COMPRESS, in the same packet: refused, BYE
    r.send("c COMPRESS DEFLATE\r\nn NOOP\r\n")
    t = r.line()
    assert t.startswith("c BAD"), t
    assert r.line().startswith("* BYE")
    assert r.closed()
    # garbage instead of DEFLATE: the session ends, the server lives on
    r = login(v)
    _, t = r.cmd("c", "COMPRESS DEFLATE")
    assert t == "c OK DEFLATE active"
    r.send(b"\xff\xff\xff\xff\x13\x37garbage\r\n")
    assert r.closed()
    r = login(v)
    _, t = r.cmd("n", "NOOP")
    assert t.startswith("n OK")
    v.wait_log("event=compress ")
