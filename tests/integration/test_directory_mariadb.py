"""The directory on a real MariaDB server (started by the test, unix
socket only): `vmailctl init` makes the guide's schema, the core commands
work, the daemon's read path sends nothing but SELECT and works with the
guide's SELECT-only user, that user cannot write, and a stopped, wedged
or restarted server is a temporary failure that heals by itself.
"""
import json
import os
import re
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mariadb import MariaDB, READER_USER, ADMIN_USER, DATABASE  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("VMAILD_BUILD", os.path.join(REPO, "build"))
VMAILCTL = os.path.join(BUILD, "vmailctl")

# The guide's four CREATE TABLE statements, as it prints them.
GUIDE_DDL = """
CREATE TABLE `domains` (
    `id` int unsigned NOT NULL AUTO_INCREMENT,
    `domain` varchar(255) NOT NULL,
    PRIMARY KEY (`id`),
    UNIQUE KEY (`domain`)
);

CREATE TABLE `accounts` (
    `id` int unsigned NOT NULL AUTO_INCREMENT,
    `username` varchar(64) NOT NULL,
    `domain` varchar(255) NOT NULL,
    `password` varchar(255) NOT NULL,
    `quota` int unsigned DEFAULT '0',
    `enabled` boolean DEFAULT '0',
    `sendonly` boolean DEFAULT '0',
    PRIMARY KEY (id),
    UNIQUE KEY (`username`, `domain`),
    FOREIGN KEY (`domain`) REFERENCES `domains` (`domain`)
);

CREATE TABLE `aliases` (
    `id` int unsigned NOT NULL AUTO_INCREMENT,
    `source_username` varchar(64),
    `source_domain` varchar(255) NOT NULL,
    `destination_username` varchar(64) NOT NULL,
    `destination_domain` varchar(255) NOT NULL,
    `enabled` boolean DEFAULT '0',
    PRIMARY KEY (`id`),
    UNIQUE KEY (`source_username`, `source_domain`, `destination_username`, `destination_domain`),
    FOREIGN KEY (`source_domain`) REFERENCES `domains` (`domain`)
);

CREATE TABLE `tlspolicies` (
    `id` int unsigned NOT NULL AUTO_INCREMENT,
    `domain` varchar(255) NOT NULL,
    `policy` enum('none', 'may', 'encrypt', 'dane', 'dane-only', 'fingerprint', 'verify', 'secure') NOT NULL,
    `params` varchar(255),
    PRIMARY KEY (`id`),
    UNIQUE KEY (`domain`)
);
"""

TABLES = ("domains", "accounts", "aliases", "tlspolicies")


@pytest.fixture(scope="module")
def server():
    with MariaDB() as db:
        db.setup_vmail()
        yield db


@pytest.fixture
def db(server):
    """The module's server with an empty vmail database (the users and
    grants stay), running, and its general log off."""
    if server.proc is None:
        server.start()
    server.general_log_path = None
    server.sql("SET GLOBAL general_log = 0;")
    server.sql(f"DROP DATABASE IF EXISTS `{DATABASE}`; "
               f"CREATE DATABASE `{DATABASE}` CHARACTER SET 'utf8';")
    yield server
    if server.proc is None:
        server.start()


def write_conf(path, db, admin=True, timeout="2s"):
    path.write_text(db.config_section(admin=admin, timeout=timeout) +
                    "[mail]\nrecipient_delimiter = +\n")
    return path


def ctl(conf, *args, input=None, timeout=60):
    return subprocess.run([VMAILCTL, "-c", str(conf)] + [str(a) for a in args], input=input,
                          capture_output=True, text=True, timeout=timeout)


def ok(conf, *args, input=None):
    r = ctl(conf, *args, input=input)
    assert r.returncode == 0, "%s: %d %s%s" % (args, r.returncode, r.stdout, r.stderr)
    return r


def lookup(conf, address, *extra):
    r = ok(conf, "--json", "lookup", address, *extra)
    return json.loads(r.stdout)


def normalized_create(db, database, table):
    rows = db.sql(f"SHOW CREATE TABLE `{database}`.`{table}`;")
    text = rows[0][1].replace("\\n", "\n")
    return re.sub(r" AUTO_INCREMENT=\d+", "", text)


def populate(conf):
    ok(conf, "domain", "add", "example.org")
    ok(conf, "domain", "add", "catch.example")
    ok(conf, "account", "add", "User1@Example.org", "--password-stdin", "--quota", "2048",
       input="secret1\n")
    ok(conf, "account", "add", "noreply@example.org", "--sendonly", "--password-stdin",
       input="secret2\n")
    ok(conf, "account", "add", "gone@example.org", "--disabled", "--password-stdin",
       input="secret3\n")
    ok(conf, "account", "add", "boss@catch.example", "--password-stdin", input="secret4\n")
    ok(conf, "alias", "add", "team@example.org", "user1@example.org")
    ok(conf, "alias", "add", "team@example.org", "friend@remote.example")
    ok(conf, "alias", "add", "@catch.example", "boss@catch.example")
    ok(conf, "alias", "add", "sales@catch.example", "user1@example.org")
    ok(conf, "tlspolicy", "set", "gmx.de", "secure", "match=.gmx.net")


def test_init_makes_the_guides_schema(db, tmp_path):
    conf = write_conf(tmp_path / "vmaild.conf", db)
    # --print-sql is the guide's text
    r = ok(conf, "init", "--print-sql")
    assert r.stdout.split() == GUIDE_DDL.split()
    ok(conf, "init")
    ok(conf, "init")  # idempotent
    # the tables are what the guide's own statements make on this server
    db.sql("DROP DATABASE IF EXISTS guide; CREATE DATABASE guide CHARACTER SET 'utf8';")
    db.sql(GUIDE_DDL, database="guide")
    for t in TABLES:
        assert normalized_create(db, DATABASE, t) == normalized_create(db, "guide", t)
    db.sql("DROP DATABASE guide;")


def test_init_without_rights_fails(db, tmp_path):
    conf = write_conf(tmp_path / "vmaild.conf", db, admin=False)
    r = ctl(conf, "init")
    assert r.returncode == 3
    assert "CREATE command denied" in r.stderr
    assert db.sql(f"SHOW TABLES FROM `{DATABASE}`;") == []


def test_core_commands_and_lookup(db, tmp_path):
    conf = write_conf(tmp_path / "vmaild.conf", db)
    ok(conf, "init")
    populate(conf)

    # rows as the guide would have written them
    rows = db.sql("SELECT username, domain, quota, enabled, sendonly, password FROM accounts "
                  "ORDER BY id;", database=DATABASE)
    assert [r[:5] for r in rows] == [
        ["user1", "example.org", "2048", "1", "0"],
        ["noreply", "example.org", "0", "1", "1"],
        ["gone", "example.org", "0", "0", "0"],
        ["boss", "catch.example", "0", "1", "0"],
    ]
    assert all(r[5].startswith("{SHA512-CRYPT}$6$") for r in rows)
    assert db.sql("SELECT source_username, source_domain, destination_username, "
                  "destination_domain, enabled FROM aliases ORDER BY id;",
                  database=DATABASE) == [
        ["team", "example.org", "user1", "example.org", "1"],
        ["team", "example.org", "friend", "remote.example", "1"],
        [None, "catch.example", "boss", "catch.example", "1"],
        ["sales", "catch.example", "user1", "example.org", "1"],
    ]
    assert db.sql("SELECT domain, policy, params FROM tlspolicies;", database=DATABASE) == [
        ["gmx.de", "secure", "match=.gmx.net"]]

    expect = {
        "user1@example.org": ("account", "user1@example.org", []),
        "USER1+news@EXAMPLE.org": ("account", "user1@example.org", []),
        "team@example.org": ("alias", "team@example.org",
                             ["user1@example.org", "friend@remote.example"]),
        "noreply@example.org": ("sendonly", "noreply@example.org", []),
        "gone@example.org": ("disabled", "gone@example.org", []),
        "nobody@example.org": ("unknown", "nobody@example.org", []),
        "sales@catch.example": ("alias", "sales@catch.example", ["user1@example.org"]),
        "anything@catch.example": ("catchall", "@catch.example", ["boss@catch.example"]),
        "boss@catch.example": ("account", "boss@catch.example", []),
        "x@elsewhere.example": ("nodomain", "x@elsewhere.example", []),
    }
    for address, (kind, matched, dest) in expect.items():
        j = lookup(conf, address)
        assert (j["kind"], j["matched"], j["destinations"]) == (kind, matched, dest), address
    assert lookup(conf, "user1@example.org")["account"]["quota_mb"] == 2048
    assert lookup(conf, "team@example.org", "--login", "user1@example.org")["may_send_as"]
    assert not lookup(conf, "sales@catch.example", "--login", "boss@catch.example")[
        "may_send_as"]

    # refusals come from our checks and, under them, the guide's keys
    assert ctl(conf, "domain", "add", "EXAMPLE.org").returncode == 1
    r = ctl(conf, "account", "add", "user1@example.org", "--password-stdin", input="x\n")
    assert r.returncode == 1 and "exists" in r.stderr
    r = ctl(conf, "account", "add", "a@unknown.example", "--password-stdin", input="x\n")
    assert r.returncode == 1 and "not one of ours" in r.stderr
    assert ctl(conf, "alias", "add", "@catch.example", "boss@catch.example").returncode == 1
    assert ctl(conf, "tlspolicy", "set", "web.de", "bogus").returncode == 1
    r = ctl(conf, "domain", "del", "catch.example")
    assert r.returncode == 1 and "--force" in r.stderr

    # changes show in the next lookup
    ok(conf, "account", "disable", "user1@example.org")
    assert lookup(conf, "user1@example.org")["kind"] == "disabled"
    ok(conf, "account", "enable", "user1@example.org")
    ok(conf, "account", "sendonly", "user1@example.org", "yes")
    assert lookup(conf, "user1@example.org")["kind"] == "sendonly"
    ok(conf, "alias", "disable", "sales@catch.example", "user1@example.org")
    assert lookup(conf, "sales@catch.example")["kind"] == "catchall"
    ok(conf, "domain", "del", "catch.example", "--force")
    assert lookup(conf, "sales@catch.example")["kind"] == "nodomain"
    assert db.sql("SELECT COUNT(*) FROM aliases WHERE source_domain = 'catch.example';",
                  database=DATABASE) == [["0"]]

    listing = json.loads(ok(conf, "--json", "account", "list").stdout)
    assert [a["address"] for a in listing] == ["gone@example.org", "noreply@example.org",
                                               "user1@example.org"]
    pols = json.loads(ok(conf, "--json", "tlspolicy", "list").stdout)
    assert pols == [{"domain": "gmx.de", "policy": "secure", "params": "match=.gmx.net"}]


def statements_by_user(entries):
    """{user: [statement, ...]} of Query/Prepare/Execute lines."""
    users = {}
    out = {}
    for tid, cmd, arg in entries:
        if cmd == "Connect":
            users[tid] = arg.split("@")[0]
        elif cmd in ("Query", "Prepare", "Execute") and tid in users:
            out.setdefault(users[tid], []).append(arg.strip())
    return out


def test_read_path_sends_only_select(db, tmp_path):
    conf = write_conf(tmp_path / "vmaild.conf", db)
    ok(conf, "init")
    populate(conf)
    db.enable_general_log()
    for address in ("user1@example.org", "user1+x@example.org", "team@example.org",
                    "anything@catch.example", "noreply@example.org", "x@elsewhere.example",
                    "nobody@example.org"):
        lookup(conf, address, "--login", "user1@example.org")
    ok(conf, "lookup", "-", input="gone@example.org\nboss@catch.example\n")
    db.sql("SET GLOBAL general_log = 0;")
    by_user = statements_by_user(db.general_log())
    # every lookup ran as the daemon's user, never as the admin
    assert ADMIN_USER not in by_user
    stmts = by_user[READER_USER]
    assert len(stmts) >= 20
    for s in stmts:
        assert re.match(r"(?i)^select\s", s), s
    # and every value travelled as a parameter of a prepared statement
    prepared = [s for s in stmts if "?" in s]
    assert prepared and all("'" not in p for p in prepared)


def test_select_only_user_reads_but_cannot_write(db, tmp_path):
    admin_conf = write_conf(tmp_path / "admin.conf", db)
    ok(admin_conf, "init")
    populate(admin_conf)
    # no admin_user: vmailctl's writes go out with the daemon's SELECT-only user
    conf = write_conf(tmp_path / "reader.conf", db, admin=False)
    assert lookup(conf, "team@example.org")["kind"] == "alias"
    for args, verb in ((("domain", "add", "new.example"), "INSERT"),
                       (("account", "disable", "user1@example.org"), "UPDATE"),
                       (("alias", "del", "team@example.org", "user1@example.org"), "DELETE"),
                       (("tlspolicy", "del", "gmx.de"), "DELETE")):
        r = ctl(conf, *args)
        assert r.returncode == 3, args
        assert "%s command denied to user 'vmail'" % verb in r.stderr, r.stderr
    assert db.sql("SELECT domain FROM domains ORDER BY domain;", database=DATABASE) == [
        ["catch.example"], ["example.org"]]
    assert db.sql("SELECT enabled FROM accounts WHERE username = 'user1';",
                  database=DATABASE) == [["1"]]
    assert lookup(conf, "team@example.org")["destinations"] == ["user1@example.org",
                                                               "friend@remote.example"]
    # listing reads only: fine as the reader too
    assert json.loads(ok(conf, "--json", "domain", "list").stdout)[0]["domain"] == \
        "catch.example"


def test_stopped_server_is_a_temporary_failure(db, tmp_path):
    conf = write_conf(tmp_path / "vmaild.conf", db, timeout="2s")
    ok(conf, "init")
    populate(conf)
    db.stop()
    r = ctl(conf, "lookup", "user1@example.org", timeout=30)
    assert r.returncode == 3
    assert "temporary failure" in r.stderr
    r = ctl(conf, "domain", "add", "x.example", timeout=30)
    assert r.returncode == 3
    db.start()
    assert lookup(conf, "user1@example.org")["kind"] == "account"


def test_wedged_server_times_out(db, tmp_path):
    conf = write_conf(tmp_path / "vmaild.conf", db, timeout="1s")
    ok(conf, "init")
    populate(conf)
    db.pause()
    try:
        # the connect succeeds in the kernel, the handshake never comes:
        # the [directory] timeout ends the wait (the subprocess timeout is
        # only a guard against a hang)
        r = ctl(conf, "lookup", "user1@example.org", timeout=60)
    finally:
        db.resume()
    assert r.returncode == 3
    assert "temporary failure" in r.stderr
    assert lookup(conf, "user1@example.org")["kind"] == "account"


class Batch:
    """`vmailctl lookup -`: one process, one connection, many lookups."""

    def __init__(self, conf):
        self.p = subprocess.Popen([VMAILCTL, "-c", str(conf), "--json", "lookup", "-"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, bufsize=1)

    def ask(self, address):
        self.p.stdin.write(address + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        assert line, "vmailctl lookup - ended: " + self.p.stderr.read()
        return json.loads(line)

    def close(self):
        self.p.stdin.close()
        rc = self.p.wait(timeout=30)
        self.p.stdout.close()
        self.p.stderr.close()
        return rc


def test_one_connection_survives_restarts(db, tmp_path):
    conf = write_conf(tmp_path / "vmaild.conf", db, timeout="2s")
    ok(conf, "init")
    populate(conf)
    b = Batch(conf)
    try:
        assert b.ask("user1@example.org")["kind"] == "account"
        # restarted between two lookups: the dead connection is noticed and
        # replaced within the same call, the answer is right
        db.stop()
        db.start()
        assert b.ask("team@example.org")["kind"] == "alias"
        # down: a temporary failure, not "unknown"
        db.kill()
        j = b.ask("user1@example.org")
        assert "error" in j and "kind" not in j
        j = b.ask("team@example.org")
        assert "error" in j
        # back: the next lookup connects again
        db.start()
        assert b.ask("user1@example.org")["kind"] == "account"
        assert b.ask("nobody@example.org")["kind"] == "unknown"
    finally:
        rc = b.close()
    assert rc == 3  # some lines failed
