"""Shared helpers of the IMAP integration tests: a vmaild with IMAP
(143 and 993) and accounts, raw and logged-in clients."""
from smtptest import make_mx, PASSWORD  # noqa: F401
from vmaildtest import RawImap, free_port


USER = "alice@example.test"
ACCOUNTS = ("alice", "bob", ("blog", ("--sendonly",)), ("gone", ("--disabled",)),
            ("carol", ("--quota", "10")))
FAIL = "NO [AUTHENTICATIONFAILED] Authentication failed."


def make_imap(factory, tls_cert, imap=None, **kw):
    ports = {"imap": free_port(), "imaps": free_port()}
    im = {"auth_failure_delay": "1s", "auth_failure_max_delay": "2s"}
    im.update(imap or {})
    v = make_mx(factory, tls=tls_cert,
                config={"listen": {"imap": "127.0.0.1:%d" % ports["imap"],
                                   "imaps": "127.0.0.1:%d" % ports["imaps"]},
                        "imap": im},
                accounts=ACCOUNTS, **kw)
    v.imap_port, v.imaps_port = ports["imap"], ports["imaps"]
    return v


def raw(v):
    r = RawImap(v.imap_port)
    r.greeting = r.line()
    return r


def login(v, user=USER):
    r = raw(v)
    _, t = r.cmd("l", "LOGIN %s %s" % (user, PASSWORD))
    assert t.startswith("l OK [CAPABILITY "), t
    return r


def caps(line):
    return line.split("[CAPABILITY ", 1)[1].split("]", 1)[0].split()
