"""vmailctl's directory commands on SQLite: init, domain, account, alias,
tlspolicy, lookup; every refusal with its exit status (1 refused, 2
usage, 3 temporary failure), --json output, and the rows as the guide's
schema holds them (read back with Python's sqlite3). Stored passwords are
checked with Dovecot's own `doveadm pw -t`.
"""
import json
import os
import pathlib
import shutil
import sqlite3
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("VMAILD_BUILD", os.path.join(REPO, "build"))
VMAILCTL = os.path.join(BUILD, "vmailctl")
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"

GUIDE_COLUMNS = {
    "domains": ["id", "domain"],
    "accounts": ["id", "username", "domain", "password", "quota", "enabled", "sendonly"],
    "aliases": ["id", "source_username", "source_domain", "destination_username",
                "destination_domain", "enabled"],
    "tlspolicies": ["id", "domain", "policy", "params"],
}


class Env:
    def __init__(self, tmp_path):
        self.dir = tmp_path
        self.db = tmp_path / "vmail.sqlite"
        self.conf = tmp_path / "vmaild.conf"
        self.conf.write_text("[directory]\ndriver = sqlite\npath = %s\ntimeout = 2s\n"
                             "[mail]\nrecipient_delimiter = +\n" % self.db)
        self.dovecot_conf = tmp_path / "dovecot.conf"
        self.dovecot_conf.write_text("")

    def run(self, *args, input=None):
        return subprocess.run([VMAILCTL, "-c", str(self.conf)] + [str(a) for a in args],
                              input=input, capture_output=True, text=True, timeout=60)

    def ok(self, *args, input=None):
        r = self.run(*args, input=input)
        assert r.returncode == 0, "%s: %d\n%s%s" % (args, r.returncode, r.stdout, r.stderr)
        return r

    def refused(self, *args, input=None, code=1, msg=None):
        r = self.run(*args, input=input)
        assert r.returncode == code, "%s: want %d, got %d\n%s%s" % (
            args, code, r.returncode, r.stdout, r.stderr)
        assert r.stderr.startswith("vmailctl") or r.stderr.startswith("usage"), r.stderr
        if msg is not None:
            assert msg in r.stderr, r.stderr
        return r

    def json(self, *args, input=None):
        return json.loads(self.ok("--json", *args, input=input).stdout)

    def rows(self, sql, *params):
        con = sqlite3.connect(str(self.db))
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    def verify_password(self, stored, plain):
        r = subprocess.run([DOVEADM, "-c", str(self.dovecot_conf), "pw", "-t", stored, "-p",
                            plain], capture_output=True, timeout=60)
        return r.returncode == 0


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    e.ok("init")
    return e


@pytest.fixture
def fresh(tmp_path):
    return Env(tmp_path)


# ---- init ---------------------------------------------------------------

def test_init_creates_the_schema(fresh):
    r = fresh.ok("init")
    assert str(fresh.db) in r.stdout
    assert oct(os.stat(fresh.db).st_mode & 0o777) == "0o640"
    for table, cols in GUIDE_COLUMNS.items():
        info = fresh.rows("PRAGMA table_info(%s)" % table)
        assert [c[1] for c in info] == cols
    assert fresh.rows("PRAGMA journal_mode") == [("wal",)]
    fks = {t: fresh.rows("PRAGMA foreign_key_list(%s)" % t) for t in GUIDE_COLUMNS}
    assert [(f[2], f[3], f[4]) for f in fks["accounts"]] == [("domains", "domain", "domain")]
    assert [(f[2], f[3], f[4]) for f in fks["aliases"]] == [("domains", "source_domain",
                                                            "domain")]
    # a second init keeps the data
    fresh.ok("domain", "add", "example.org")
    fresh.ok("init")
    assert fresh.rows("SELECT domain FROM domains") == [("example.org",)]


def test_init_print_sql(fresh):
    r = fresh.ok("init", "--print-sql")
    assert "CREATE TABLE `domains` (" in r.stdout
    assert "`policy` enum('none', 'may', 'encrypt', 'dane', 'dane-only', 'fingerprint', " \
        "'verify', 'secure') NOT NULL," in r.stdout
    assert r.stdout.count("CREATE TABLE") == 4
    assert not fresh.db.exists()
    r = fresh.ok("init", "--print-sql", "--driver", "sqlite")
    assert r.stdout.count("CREATE TABLE") == 4
    # the printed SQLite DDL makes a working database
    con = sqlite3.connect(str(fresh.dir / "other.sqlite"))
    con.executescript(r.stdout)
    con.close()
    fresh.refused("init", "--print-sql", "--driver", "oracle", code=2)
    fresh.refused("init", "--driver", "sqlite", code=2)
    fresh.refused("init", "extra", code=2)


def test_commands_before_init_are_temporary_failures(fresh):
    fresh.refused("domain", "add", "example.org", code=3, msg="vmailctl init")
    fresh.refused("lookup", "a@example.org", code=3)
    assert not fresh.db.exists()


# ---- domains --------------------------------------------------------------

def test_domain_add_list_del(env):
    r = env.ok("domain", "add", "Example.ORG")
    assert r.stdout == "domain example.org added\n"
    env.ok("domain", "add", "xn--mller-kva.example")
    assert env.rows("SELECT domain FROM domains ORDER BY id") == [
        ("example.org",), ("xn--mller-kva.example",)]
    assert env.json("domain", "list") == [
        {"domain": "example.org", "accounts": 0, "aliases": 0},
        {"domain": "xn--mller-kva.example", "accounts": 0, "aliases": 0}]
    # --json also after the command
    assert json.loads(env.ok("domain", "list", "--json").stdout)[0]["domain"] == "example.org"
    text = env.ok("domain", "list").stdout.splitlines()
    assert text[0].split()[0] == "example.org" and len(text) == 2
    env.ok("domain", "del", "xn--mller-kva.example")
    assert env.json("domain", "list") == [{"domain": "example.org", "accounts": 0,
                                           "aliases": 0}]


@pytest.mark.parametrize("domain,msg", [
    ("example.org", "exists"),
    ("EXAMPLE.org", "exists"),
    ("exa mple.org", "white space"),
    ("example.org.", "ends with a dot"),
    ("example-.org", "hyphen"),
    ("a.-b.org", "hyphen"),
    ("exa_mple.org", "letters, digits and hyphens"),
    ("a" * 64 + ".org", "63"),
    (".".join(["a" * 63] * 4) + "x", "255"),
    ("192.0.2.1", "IP address"),
    ("[192.0.2.1]", "literal"),
    ("müller.example", "xn--"),
])
def test_domain_add_refused(env, domain, msg):
    env.ok("domain", "add", "example.org")
    env.refused("domain", "add", domain, msg=msg)
    assert env.rows("SELECT COUNT(*) FROM domains") == [(1,)]


def test_domain_del_refusals_and_force(env):
    env.refused("domain", "del", "nowhere.example", msg="not one of ours")
    env.ok("domain", "add", "example.org")
    env.ok("domain", "add", "keep.example")
    env.ok("account", "add", "a@example.org", "--password-stdin", input="pw\n")
    env.ok("account", "add", "k@keep.example", "--password-stdin", input="pw\n")
    env.ok("alias", "add", "b@example.org", "a@example.org")
    env.ok("alias", "add", "@example.org", "a@example.org")
    env.ok("alias", "add", "x@keep.example", "a@example.org")
    assert env.json("domain", "list")[0] == {"domain": "example.org", "accounts": 1,
                                             "aliases": 2}
    env.refused("domain", "del", "example.org",
                msg="domain example.org still has 1 account and 2 aliases (--force")
    assert env.rows("SELECT COUNT(*) FROM accounts") == [(2,)]
    env.ok("domain", "del", "example.org", "--force")
    assert env.rows("SELECT domain FROM domains") == [("keep.example",)]
    assert env.rows("SELECT username FROM accounts") == [("k",)]
    assert env.rows("SELECT source_username FROM aliases") == [("x",)]
    env.refused("domain", "add", "--force", "x.example", code=2)


def test_domain_usage(env):
    env.refused("domain", code=2)
    env.refused("domain", "rename", "a.example", code=2)
    env.refused("domain", "add", code=2)
    env.refused("domain", "add", "a.example", "b.example", code=2)
    env.refused("domain", "list", "extra", code=2)
    env.refused("domain", "add", "a.example", "--bogus", code=2)


# ---- accounts -------------------------------------------------------------

@pytest.fixture
def dom(env):
    env.ok("domain", "add", "example.org")
    return env


def test_account_add_random_password(dom):
    r = dom.ok("account", "add", "User.One@Example.org")
    lines = r.stdout.splitlines()
    assert lines[0] == "account user.one@example.org added"
    assert lines[1].startswith("password for user.one@example.org: ")
    plain = lines[1].split(": ", 1)[1]
    assert len(plain) == 20 and plain.isalnum()
    (row,) = dom.rows("SELECT username, domain, password, quota, enabled, sendonly "
                      "FROM accounts")
    assert row[:2] == ("user.one", "example.org")
    assert row[2].startswith("{SHA512-CRYPT}$6$")
    assert row[3:] == (0, 1, 0)
    assert dom.verify_password(row[2], plain)
    assert not dom.verify_password(row[2], plain + "x")
    # a second one gets another password
    r2 = dom.ok("account", "add", "two@example.org")
    assert r2.stdout.splitlines()[1].split(": ", 1)[1] != plain


def test_account_add_options_and_json(dom):
    j = dom.json("account", "add", "a@example.org", "--quota", "2048", "--sendonly",
                 "--disabled")
    assert j["address"] == "a@example.org" and len(j["password"]) == 20
    dom.ok("account", "add", "b@example.org", "--password-stdin", input="correct horse\r\n")
    rows = dom.rows("SELECT username, quota, enabled, sendonly, password FROM accounts "
                    "ORDER BY id")
    assert [r[:4] for r in rows] == [("a", 2048, 0, 1), ("b", 0, 1, 0)]
    assert dom.verify_password(rows[0][4], j["password"])
    assert dom.verify_password(rows[1][4], "correct horse")
    # --password-stdin prints no password
    r = dom.ok("account", "add", "c@example.org", "--password-stdin", input="pw\n")
    assert "password" not in r.stdout
    assert dom.json("account", "list") == [
        {"address": "a@example.org", "username": "a", "domain": "example.org",
         "quota_mb": 2048, "enabled": False, "sendonly": True},
        {"address": "b@example.org", "username": "b", "domain": "example.org",
         "quota_mb": 0, "enabled": True, "sendonly": False},
        {"address": "c@example.org", "username": "c", "domain": "example.org",
         "quota_mb": 0, "enabled": True, "sendonly": False}]
    text = dom.ok("account", "list", "example.org").stdout.splitlines()
    assert text[0].split() == ["a@example.org", "2048", "MB", "disabled", "sendonly"]
    assert text[1].split() == ["b@example.org", "unlimited", "enabled"]


@pytest.mark.parametrize("address,msg", [
    ("a@unknown.example", "domain unknown.example is not one of ours"),
    ("taken@example.org", "exists"),
    ("TAKEN@EXAMPLE.ORG", "exists"),
    ("a" * 65 + "@example.org", "local part longer than 64"),
    ("a" * 64 + "@" + ".".join(["b" * 63, "c" * 63, "d" * 61]) + ".org",
     "longer than 254"),
    ("a b@example.org", "white space"),
    ("a\x01b@example.org", "control character"),
    ("no-at-sign.example.org", "no @"),
    ("@example.org", "empty local part"),
    ("a@", "empty domain"),
    ("a..b@example.org", "two dots"),
    ('"q"@example.org', "quoted"),
    ("a<b@example.org", "not allowed"),
    ("jürgen@example.org", "non-ASCII"),
])
def test_account_add_refused(dom, address, msg):
    dom.ok("account", "add", "taken@example.org", "--password-stdin", input="pw\n")
    dom.refused("account", "add", address, "--password-stdin", input="pw\n", msg=msg)
    assert dom.rows("SELECT COUNT(*) FROM accounts") == [(1,)]


def test_account_add_password_stdin_refusals(dom):
    dom.refused("account", "add", "a@example.org", "--password-stdin", input="",
                msg="no password")
    dom.refused("account", "add", "a@example.org", "--password-stdin", input="\n",
                msg="empty")
    dom.refused("account", "add", "a@example.org", "--password-stdin",
                input="x" * 5000 + "\n", msg="too long")
    assert dom.rows("SELECT COUNT(*) FROM accounts") == [(0,)]


def test_account_usage(dom):
    dom.refused("account", code=2)
    dom.refused("account", "add", code=2)
    dom.refused("account", "add", "a@example.org", "--quota", code=2)
    dom.refused("account", "add", "a@example.org", "--quota", "lots", code=2)
    dom.refused("account", "add", "a@example.org", "--quota", "-5", code=2)
    dom.refused("account", "add", "a@example.org", "--quota", "99999999999", code=2)
    dom.refused("account", "add", "a@example.org", "--colour", code=2)
    dom.refused("account", "quota", "a@example.org", code=2)
    dom.refused("account", "quota", "a@example.org", "1.5", code=2)
    dom.refused("account", "sendonly", "a@example.org", "perhaps", code=2)
    dom.refused("account", "enable", "a@example.org", "--sendonly", code=2)
    dom.refused("account", "del", "a@example.org", "--password-stdin", code=2)
    dom.refused("account", "frobnicate", "a@example.org", code=2)
    dom.refused("account", "list", "a", "b", code=2)
    assert dom.rows("SELECT COUNT(*) FROM accounts") == [(0,)]


def test_account_changes(dom):
    dom.ok("account", "add", "a@example.org", "--password-stdin", input="old\n")
    (old,) = dom.rows("SELECT password FROM accounts")[0]

    dom.ok("account", "passwd", "A@example.org", "--password-stdin", input="new\n")
    (new,) = dom.rows("SELECT password FROM accounts")[0]
    assert new != old and dom.verify_password(new, "new")
    r = dom.ok("account", "passwd", "a@example.org")
    plain = r.stdout.splitlines()[-1].split(": ", 1)[1]
    assert dom.verify_password(dom.rows("SELECT password FROM accounts")[0][0], plain)
    j = dom.json("account", "passwd", "a@example.org")
    assert dom.verify_password(dom.rows("SELECT password FROM accounts")[0][0], j["password"])

    dom.ok("account", "quota", "a@example.org", "512")
    assert dom.rows("SELECT quota FROM accounts") == [(512,)]
    dom.ok("account", "quota", "a@example.org", "0")
    assert dom.rows("SELECT quota FROM accounts") == [(0,)]
    dom.ok("account", "disable", "a@example.org")
    dom.ok("account", "disable", "a@example.org")  # no change is no error
    assert dom.rows("SELECT enabled FROM accounts") == [(0,)]
    dom.ok("account", "enable", "a@example.org")
    assert dom.rows("SELECT enabled FROM accounts") == [(1,)]
    dom.ok("account", "sendonly", "a@example.org", "yes")
    assert dom.rows("SELECT sendonly FROM accounts") == [(1,)]
    dom.ok("account", "sendonly", "a@example.org", "no")
    assert dom.rows("SELECT sendonly FROM accounts") == [(0,)]
    dom.ok("account", "del", "a@example.org")
    assert dom.rows("SELECT COUNT(*) FROM accounts") == [(0,)]

    for args in (("passwd", "x@example.org", "--password-stdin"),
                 ("quota", "x@example.org", "1"), ("enable", "x@example.org"),
                 ("disable", "x@example.org"), ("sendonly", "x@example.org", "yes"),
                 ("del", "x@example.org")):
        dom.refused("account", *args, input="pw\n", msg="no account x@example.org")
    dom.refused("account", "del", "bad address@example.org", msg="invalid address")


def test_account_list_by_domain(dom):
    dom.ok("domain", "add", "other.example")
    dom.ok("account", "add", "z@example.org", "--password-stdin", input="pw\n")
    dom.ok("account", "add", "a@other.example", "--password-stdin", input="pw\n")
    assert [a["address"] for a in dom.json("account", "list")] == [
        "z@example.org", "a@other.example"]
    assert [a["address"] for a in dom.json("account", "list", "OTHER.example")] == [
        "a@other.example"]
    dom.refused("account", "list", "unknown.example", msg="not one of ours")
    assert dom.json("domain", "list") == [
        {"domain": "example.org", "accounts": 1, "aliases": 0},
        {"domain": "other.example", "accounts": 1, "aliases": 0}]


# ---- aliases --------------------------------------------------------------

def test_alias_commands(dom):
    r = dom.ok("alias", "add", "Team@Example.org", "One@Example.org")
    assert r.stdout == "alias team@example.org -> one@example.org added\n"
    dom.ok("alias", "add", "team@example.org", "friend@remote.example")
    dom.ok("alias", "add", "@example.org", "catch@remote.example")
    assert dom.rows("SELECT source_username, source_domain, destination_username, "
                    "destination_domain, enabled FROM aliases ORDER BY id") == [
        ("team", "example.org", "one", "example.org", 1),
        ("team", "example.org", "friend", "remote.example", 1),
        (None, "example.org", "catch", "remote.example", 1)]
    assert dom.json("alias", "list") == [
        {"source": "@example.org", "destination": "catch@remote.example", "catchall": True,
         "enabled": True},
        {"source": "team@example.org", "destination": "one@example.org", "catchall": False,
         "enabled": True},
        {"source": "team@example.org", "destination": "friend@remote.example",
         "catchall": False, "enabled": True}]
    dom.ok("alias", "disable", "team@example.org", "friend@remote.example")
    assert dom.rows("SELECT enabled FROM aliases WHERE destination_username = 'friend'") == [
        (0,)]
    text = dom.ok("alias", "list", "example.org").stdout
    assert "friend@remote.example (disabled)" in text
    dom.ok("alias", "enable", "team@example.org", "friend@remote.example")
    dom.ok("alias", "del", "@example.org", "catch@remote.example")
    dom.ok("alias", "del", "team@example.org", "one@example.org")
    assert dom.json("alias", "list", "example.org") == [
        {"source": "team@example.org", "destination": "friend@remote.example",
         "catchall": False, "enabled": True}]


def test_alias_refusals(dom):
    dom.ok("alias", "add", "a@example.org", "b@example.org")
    dom.ok("alias", "add", "@example.org", "b@example.org")
    for args, msg in (
            (("add", "a@example.org", "B@example.org"), "exists"),
            (("add", "@example.org", "b@example.org"), "exists"),
            (("add", "x@unknown.example", "b@example.org"), "not one of ours"),
            (("add", "@unknown.example", "b@example.org"), "not one of ours"),
            (("add", "x@example.org", "@example.org"), "empty local part"),
            (("add", "x@example.org", "not-an-address"), "no @"),
            (("add", "x y@example.org", "b@example.org"), "white space"),
            (("add", "x@example.org", "b@exa mple.org"), "white space"),
            (("add", "me@example.org", "ME@example.org"), "to itself"),
            (("del", "a@example.org", "c@example.org"), "no alias"),
            (("del", "@example.org", "c@example.org"), "no alias"),
            (("enable", "q@example.org", "b@example.org"), "no alias"),
            (("disable", "q@example.org", "b@example.org"), "no alias"),
            (("list", "unknown.example"), "not one of ours")):
        dom.refused("alias", *args, msg=msg)
    assert dom.rows("SELECT COUNT(*) FROM aliases") == [(2,)]
    dom.refused("alias", code=2)
    dom.refused("alias", "add", "a@example.org", code=2)
    dom.refused("alias", "add", "a@example.org", "b@example.org", "c@example.org", code=2)
    dom.refused("alias", "rename", "a@example.org", "b@example.org", code=2)
    dom.refused("alias", "add", "--x", "a@example.org", code=2)


# ---- TLS policies ---------------------------------------------------------

def test_tlspolicy_commands(env):
    env.ok("tlspolicy", "set", "GMX.de", "secure", "match=.gmx.net")
    env.ok("tlspolicy", "set", "mailbox.org", "dane-only")
    for p in ("none", "may", "encrypt", "dane", "fingerprint", "verify"):
        env.ok("tlspolicy", "set", "p-%s.example" % p, p)
    assert env.rows("SELECT domain, policy, params FROM tlspolicies WHERE domain "
                    "NOT LIKE 'p-%' ORDER BY id") == [
        ("gmx.de", "secure", "match=.gmx.net"), ("mailbox.org", "dane-only", None)]
    listing = env.json("tlspolicy", "list")
    assert listing[0] == {"domain": "gmx.de", "policy": "secure", "params": "match=.gmx.net"}
    assert listing[1] == {"domain": "mailbox.org", "policy": "dane-only", "params": None}
    assert len(listing) == 8
    # set again replaces
    env.ok("tlspolicy", "set", "mailbox.org", "encrypt", "x=y")
    assert env.rows("SELECT policy, params FROM tlspolicies WHERE domain = 'mailbox.org'") \
        == [("encrypt", "x=y")]
    assert "mailbox.org" in env.ok("tlspolicy", "list").stdout
    env.ok("tlspolicy", "del", "mailbox.org")
    assert env.rows("SELECT COUNT(*) FROM tlspolicies WHERE domain = 'mailbox.org'") == [(0,)]


def test_tlspolicy_refusals(env):
    for args, msg in ((("set", "web.de", "strict"), "unknown TLS policy 'strict'"),
                      (("set", "web.de", ""), "unknown TLS policy"),
                      (("set", "web.de", "secure", "x" * 256), "255"),
                      (("set", "web.de", "secure", "a\nb"), "control character"),
                      (("set", "bad domain", "secure"), "invalid domain"),
                      (("del", "web.de"), "no TLS policy for web.de")):
        env.refused("tlspolicy", *args, msg=msg)
    assert env.rows("SELECT COUNT(*) FROM tlspolicies") == [(0,)]
    env.refused("tlspolicy", code=2)
    env.refused("tlspolicy", "set", "web.de", code=2)
    env.refused("tlspolicy", "del", code=2)
    env.refused("tlspolicy", "list", "x", code=2)


# ---- lookup ---------------------------------------------------------------

@pytest.fixture
def populated(env):
    env.ok("domain", "add", "example.org")
    env.ok("domain", "add", "catch.example")
    pw = {"input": "pw\n"}
    env.ok("account", "add", "user1@example.org", "--password-stdin", "--quota", "100", **pw)
    env.ok("account", "add", "user2@example.org", "--password-stdin", **pw)
    env.ok("account", "add", "noreply@example.org", "--password-stdin", "--sendonly", **pw)
    env.ok("account", "add", "gone@example.org", "--password-stdin", "--disabled", **pw)
    env.ok("account", "add", "boss@catch.example", "--password-stdin", **pw)
    env.ok("alias", "add", "team@example.org", "user1@example.org")
    env.ok("alias", "add", "team@example.org", "friend@remote.example")
    env.ok("alias", "add", "user2@example.org", "user1@example.org")  # account wins
    env.ok("alias", "add", "@catch.example", "boss@catch.example")
    env.ok("alias", "add", "sales@catch.example", "user2@example.org")
    env.ok("alias", "add", "old@catch.example", "user2@example.org")
    env.ok("alias", "disable", "old@catch.example", "user2@example.org")
    return env


LOOKUPS = [
    ("user1@example.org", "account", "user1@example.org", []),
    ("User1+News@EXAMPLE.org", "account", "user1@example.org", []),
    ("user2@example.org", "account", "user2@example.org", []),
    ("team@example.org", "alias", "team@example.org",
     ["user1@example.org", "friend@remote.example"]),
    ("team+x@example.org", "alias", "team@example.org",
     ["user1@example.org", "friend@remote.example"]),
    ("noreply@example.org", "sendonly", "noreply@example.org", []),
    ("gone@example.org", "disabled", "gone@example.org", []),
    ("nobody@example.org", "unknown", "nobody@example.org", []),
    ("sales@catch.example", "alias", "sales@catch.example", ["user2@example.org"]),
    ("anyone@catch.example", "catchall", "@catch.example", ["boss@catch.example"]),
    ("old@catch.example", "catchall", "@catch.example", ["boss@catch.example"]),
    ("x@elsewhere.example", "nodomain", "x@elsewhere.example", []),
]


@pytest.mark.parametrize("address,kind,matched,dest", LOOKUPS)
def test_lookup_json(populated, address, kind, matched, dest):
    j = populated.json("lookup", address)
    assert j["address"] == address.lower()
    assert (j["kind"], j["matched"], j["destinations"]) == (kind, matched, dest)
    if kind in ("account", "sendonly", "disabled"):
        assert j["account"]["address"] == matched
        assert j["account"]["enabled"] == (kind != "disabled")
        assert j["account"]["sendonly"] == (kind == "sendonly")
    else:
        assert j["account"] is None
    assert "may_send_as" not in j


def test_lookup_text(populated):
    def out(address):
        return populated.ok("lookup", address).stdout

    assert out("user1@example.org") == "user1@example.org: account, quota 100 MB\n"
    assert out("user1+x@example.org") == \
        "user1+x@example.org: account (matched user1@example.org), quota 100 MB\n"
    assert out("team@example.org") == \
        "team@example.org: alias -> user1@example.org, friend@remote.example\n"
    assert out("anyone@catch.example") == \
        "anyone@catch.example: catch-all (matched @catch.example) -> boss@catch.example\n"
    assert "send-only" in out("noreply@example.org")
    assert "disabled" in out("gone@example.org")
    assert "unknown" in out("nobody@example.org")
    assert "not one of our domains" in out("x@elsewhere.example")


def test_lookup_may_send_as(populated):
    def may(login, address):
        j = populated.json("lookup", address, "--login", login)
        assert j["login"] == login.lower()
        return j["may_send_as"]

    assert may("user1@example.org", "user1@example.org")
    assert may("User1@Example.org", "user1+tag@example.org")
    assert may("user1@example.org", "team@example.org")
    assert may("user1@example.org", "user2@example.org")  # alias user2 -> user1
    assert not may("user2@example.org", "team@example.org")
    assert not may("gone@example.org", "gone@example.org")
    assert may("noreply@example.org", "noreply@example.org")
    assert not may("boss@catch.example", "anyone@catch.example")
    assert not may("user2@example.org", "old@catch.example")
    r = populated.ok("lookup", "team@example.org", "--login", "user2@example.org")
    assert r.stdout.splitlines()[1] == "user2@example.org may not send as team@example.org"


def test_lookup_follows_changes(populated):
    populated.ok("account", "enable", "gone@example.org")
    assert populated.json("lookup", "gone@example.org")["kind"] == "account"
    populated.ok("account", "del", "user2@example.org")
    j = populated.json("lookup", "user2@example.org")
    assert (j["kind"], j["destinations"]) == ("alias", ["user1@example.org"])
    populated.ok("alias", "del", "@catch.example", "boss@catch.example")
    assert populated.json("lookup", "anyone@catch.example")["kind"] == "unknown"


def test_lookup_batch(populated):
    r = populated.ok("--json", "lookup", "-",
                     input="user1@example.org\n\nteam@example.org\nx@elsewhere.example\n")
    kinds = [json.loads(line)["kind"] for line in r.stdout.splitlines()]
    assert kinds == ["account", "alias", "nodomain"]
    r = populated.run("lookup", "-", input="user1@example.org\nnot an address\n")
    assert r.returncode == 1
    assert r.stdout.splitlines()[1].startswith("not an address: invalid address")


def test_lookup_refusals(populated):
    populated.refused("lookup", "not-an-address", msg="invalid address")
    populated.refused("lookup", "a b@example.org", msg="white space")
    populated.refused("lookup", code=2)
    populated.refused("lookup", "a@example.org", "b@example.org", code=2)
    populated.refused("lookup", "a@example.org", "--login", code=2)
    populated.refused("lookup", "a@example.org", "--verbose", code=2)


def test_lookup_needs_read_access_only(tmp_path):
    """The daemon's lookup user may only read the database files: lookup
    opens the file read-only, and the -wal/-shm files that WAL needs are
    kept by the writers, so the reader never has to create them."""
    d = tempfile.mkdtemp(prefix="vmctl.", dir="/tmp")
    try:
        os.chmod(d, 0o755)
        e = Env(pathlib.Path(d))
        os.chmod(e.conf, 0o644)
        e.ok("init")
        e.ok("domain", "add", "example.org")
        e.ok("account", "add", "a@example.org", "--password-stdin", input="pw\n")
        names = sorted(os.listdir(d))
        assert "vmail.sqlite-wal" in names and "vmail.sqlite-shm" in names
        if os.geteuid() == 0:
            # an unprivileged user with read access to the files only
            for n in ("vmail.sqlite", "vmail.sqlite-wal", "vmail.sqlite-shm"):
                os.chmod(os.path.join(d, n), 0o644)
            prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        else:
            # ourselves, with the write bits gone
            for n in ("vmail.sqlite", "vmail.sqlite-wal", "vmail.sqlite-shm"):
                os.chmod(os.path.join(d, n), 0o444)
            os.chmod(d, 0o555)
            prefix = []

        def reader(*args):
            return subprocess.run(prefix + [VMAILCTL, "-c", str(e.conf), "--json"] + list(args),
                                  capture_output=True, text=True, timeout=60)

        r = reader("lookup", "a@example.org")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["kind"] == "account"
        # a writer's change is seen by the next read
        if os.geteuid() == 0:
            e.ok("account", "disable", "a@example.org")
            r = reader("lookup", "a@example.org")
            assert json.loads(r.stdout)["kind"] == "disabled"
        # and the reader cannot write
        r = reader("domain", "add", "other.example")
        assert r.returncode == 3
    finally:
        os.chmod(d, 0o755)
        shutil.rmtree(d, ignore_errors=True)


# ---- the program -----------------------------------------------------------

def test_unknown_command_and_config(env, tmp_path):
    env.refused("frobnicate", code=2, msg="unknown command")
    r = subprocess.run([VMAILCTL, "-c", str(tmp_path / "missing.conf"), "domain", "list"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "missing.conf" in r.stderr
    r = subprocess.run([VMAILCTL, "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    for cmd in ("init", "domain", "account", "alias", "tlspolicy", "lookup", "pw", "dns"):
        assert "\n  %s" % cmd in r.stdout
