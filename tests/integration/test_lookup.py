"""The lookup process: the guide's lookup semantics through the running
daemon, the cache TTL, and a database that breaks while vmaild runs."""
import os
import signal
import threading
import time

import pytest

from mariadb import MariaDB
from vmaildtest import LookupClient


def populate(v):
    c = v.ctl
    c("domain", "add", "example.test")
    c("domain", "add", "other.test")
    c("account", "add", "alice@example.test", "--password-stdin", "--quota", "2048", input="alicepw\n")
    c("account", "add", "bob@example.test", "--password-stdin", input="bobpw\n")
    c("account", "add", "blog@example.test", "--password-stdin", "--sendonly", input="blogpw\n")
    c("account", "add", "gone@example.test", "--password-stdin", "--disabled", input="gonepw\n")
    c("account", "add", "catch@other.test", "--password-stdin", input="catchpw\n")
    c("alias", "add", "info@example.test", "alice@example.test")
    c("alias", "add", "info@example.test", "bob@example.test")
    c("alias", "add", "fwd@example.test", "someone@remote.example")
    c("alias", "add", "@other.test", "catch@other.test")
    c("alias", "add", "sales@other.test", "bob@example.test")
    c("tlspolicy", "set", "gmx.de", "secure", "match=.gmx.net")


def check_semantics(lc):
    r = lc.rcpt("alice@example.test")
    assert (r["status"], r["kind"], r["address"], r["quota_mb"]) == ("ok", "account", "alice@example.test", 2048)
    # case-insensitive, and the tag after the delimiter is dropped
    assert lc.rcpt("Alice+Lists@EXAMPLE.test")["address"] == "alice@example.test"
    r = lc.rcpt("info@example.test")
    assert r["kind"] == "alias" and sorted(r["dest"]) == ["alice@example.test", "bob@example.test"]
    assert lc.rcpt("fwd@example.test")["dest"] == ["someone@remote.example"]
    # the catch-all catches what is not there; an explicit alias wins over it
    r = lc.rcpt("whoever@other.test")
    assert r["kind"] == "catchall" and r["dest"] == ["catch@other.test"]
    assert lc.rcpt("sales@other.test") == {"status": "ok", "kind": "alias", "address": "sales@other.test",
                                           "quota_mb": 0, "dest": ["bob@example.test"]}
    # an account wins over the catch-all too
    assert lc.rcpt("catch@other.test")["kind"] == "account"
    assert lc.rcpt("blog@example.test")["kind"] == "sendonly"
    assert lc.rcpt("gone@example.test")["kind"] == "disabled"
    assert lc.rcpt("nobody@example.test")["kind"] == "unknown"
    assert lc.rcpt("x@elsewhere.example")["kind"] == "nodomain"
    assert lc.domain("EXAMPLE.TEST") == {"status": "ok", "found": True}
    assert lc.domain("elsewhere.example") == {"status": "ok", "found": False}

    # logins: the full address, lower-cased; enabled accounts only
    r = lc.auth("Alice@Example.Test", "alicepw")
    assert r["status"] == "ok" and r["address"] == "alice@example.test" and not r["sendonly"]
    assert lc.auth("alice@example.test", "wrong")["status"] == "denied"
    assert lc.auth("nobody@example.test", "x")["status"] == "denied"
    assert lc.auth("gone@example.test", "gonepw")["status"] == "denied"
    r = lc.auth("blog@example.test", "blogpw")  # sendonly may log in and send
    assert r["status"] == "ok" and r["sendonly"]
    # the three refusals look the same
    a, b, c = (lc.auth("alice@example.test", "wrong"), lc.auth("nobody@example.test", "x"),
               lc.auth("gone@example.test", "gonepw"))
    assert a == b == c

    # sender-login-maps
    assert lc.sendas("alice@example.test", "alice@example.test")["found"]
    assert lc.sendas("alice@example.test", "info@example.test")["found"]
    assert lc.sendas("alice@example.test", "alice+x@example.test")["found"]
    assert not lc.sendas("alice@example.test", "bob@example.test")["found"]
    assert not lc.sendas("alice@example.test", "fwd@example.test")["found"]
    # the guide's user_query: sendonly accounts have no mailbox
    assert lc.user("bob@example.test")["found"]
    assert not lc.user("blog@example.test")["found"]
    assert not lc.user("gone@example.test")["found"]
    r = lc.tlspolicy("gmx.de")
    assert (r["found"], r["policy"], r["params"]) == (True, "secure", "match=.gmx.net")
    assert not lc.tlspolicy("web.de")["found"]
    assert lc.ping()["status"] == "ok"


def test_semantics_sqlite(vmaild_factory):
    v = vmaild_factory()
    v.init_directory()
    populate(v)
    v.start()
    check_semantics(v.lookup())


def test_change_seen_within_cache_ttl(vmaild_factory):
    v = vmaild_factory(config={"directory": {"cache_ttl": "2s"}})
    v.init_directory()
    v.ctl("domain", "add", "example.test")
    v.start()
    lc = v.lookup()
    assert lc.rcpt("new@example.test")["kind"] == "unknown"
    t0 = time.time()
    v.ctl("account", "add", "new@example.test", "--password-stdin", input="pw\n")
    # the cached answer is still served right after the change ...
    assert lc.rcpt("new@example.test")["kind"] == "unknown"
    # ... and the change shows once the TTL has passed, without a reload
    while lc.rcpt("new@example.test")["kind"] != "account":
        assert time.time() - t0 < 2 + 3, "change not seen within the cache TTL"
        time.sleep(0.1)
    # a password check is never cached
    assert lc.auth("new@example.test", "pw")["status"] == "ok"
    v.ctl("account", "passwd", "new@example.test", "--password-stdin", input="pw2\n")
    assert lc.auth("new@example.test", "pw")["status"] == "denied"
    assert lc.auth("new@example.test", "pw2")["status"] == "ok"
    assert not v.log_lines("event=reload")


def test_corrupt_sqlite_is_a_temporary_failure(vmaild_factory):
    v = vmaild_factory(config={"directory": {"cache_ttl": "0s", "timeout": "2s"}},
                       allowed_errors=["event=directory_down"])
    v.init_directory()
    populate(v)
    db = v.sections["directory"]["path"]
    v.ctl("domain", "list")  # checkpoints the WAL: the file alone holds everything
    good = open(db, "rb").read()
    # a damaged file (a bad restore, a broken disk) under a running daemon
    with open(db, "wb") as f:
        f.write(b"this is not an sqlite database" * 300)
    v.start()
    lc = v.lookup()
    for _ in range(20):
        t = time.time()
        r = lc.rcpt("alice@example.test")
        assert r["status"] == "tempfail", r
        assert time.time() - t < 2 + 1.5
    assert len(v.log_lines("event=directory_down")) == 1
    assert not v.log_lines("event=child_exit")
    with open(db, "wb") as f:
        f.write(good)
    deadline = time.time() + 10
    while lc.rcpt("alice@example.test")["status"] != "ok":
        assert time.time() < deadline
        time.sleep(0.2)
    assert v.log_lines("event=directory_up")


@pytest.fixture(scope="module")
def mariadb():
    db = MariaDB()
    db.setup_vmail()
    yield db
    db.close()


def mysql_config(db):
    sec = {}
    for line in db.config_section(timeout="2s").splitlines()[1:]:
        k, _, val = line.partition("=")
        sec[k.strip()] = val.strip()
    sec["cache_ttl"] = "0s"
    return {"directory": sec}


def test_semantics_mariadb_select_only(vmaild_factory, mariadb):
    v = vmaild_factory(config=mysql_config(mariadb))
    v.ctl("init")
    populate(v)
    log = mariadb.enable_general_log()
    v.start()
    check_semantics(v.lookup())
    # the daemon connected only as the SELECT-only user and only read
    entries = mariadb.general_log()
    daemon_threads = {t for t, cmd, arg in entries if cmd == "Connect" and arg.startswith("vmail@")}
    assert daemon_threads, "the daemon never connected as vmail"
    stmts = [arg.strip().split()[0].upper() for t, cmd, arg in entries
             if t in daemon_threads and cmd in ("Query", "Execute", "Prepare") and arg.strip()]
    assert stmts and set(stmts) <= {"SELECT", "SET"}, set(stmts)
    assert not any(cmd == "Connect" and arg.startswith("vmailadmin@") and t in daemon_threads
                   for t, cmd, arg in entries)
    mariadb.sql("SET GLOBAL general_log = 0")
    assert os.path.exists(log)


def test_mariadb_down_and_back(vmaild_factory, mariadb):
    v = vmaild_factory(config=mysql_config(mariadb), allowed_errors=["event=directory_down"])
    v.ctl("init")
    v.start()
    lc = v.lookup()
    v.ctl("domain", "add", "down.test")
    v.ctl("account", "add", "x@down.test", "--password-stdin", input="pw\n")
    assert lc.rcpt("x@down.test")["kind"] == "account"
    mariadb.stop()
    try:
        # queries in parallel, as workers send them: each answered as a
        # temporary failure within the timeout, none hangs
        results = []

        def ask():
            c = LookupClient(v.lookup_socket)
            for _ in range(5):
                t = time.time()
                r = c.rcpt("x@down.test")
                results.append((r["status"], time.time() - t))
        threads = [threading.Thread(target=ask) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(results) == 20
        assert all(st == "tempfail" for st, _ in results), results
        assert max(d for _, d in results) < 2 + 1.5, results
        # one log line per outage, not per query
        assert len(v.log_lines("event=directory_down")) == 1
    finally:
        mariadb.start()
    deadline = time.time() + 15
    while lc.rcpt("x@down.test")["status"] != "ok":
        assert time.time() < deadline, "no reconnect after the database came back"
        time.sleep(0.2)
    assert lc.rcpt("x@down.test")["kind"] == "account"
    assert len(v.log_lines("event=directory_up")) == 1
    assert not v.log_lines("event=child_exit")
