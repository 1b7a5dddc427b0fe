"""The configuration file: errors name file, line and key; -t prints it."""
import os
import re
import subprocess

import pytest

from vmaildtest import VMAILD, REPO, write_config


def run(*args):
    return subprocess.run([VMAILD] + list(args), capture_output=True, text=True, timeout=30)


def check(path):
    return run("-c", str(path), "-t")


def test_missing_file(tmp_path):
    r = check(tmp_path / "nope.conf")
    assert r.returncode == 1
    assert "nope.conf: cannot open: No such file or directory" in r.stderr


BAD = [
    ("[server]\nhostname = a\n[bogus]\nx = 1\n", 4, "[bogus]: unknown section"),
    ("[server]\nhostname = a\nfoo = 1\n", 3, "[server] foo: unknown key"),
    ("[server]\nworkers = lots\n", 2, "[server] workers: 'lots' is not auto or a number"),
    ("[server]\nworkers = 0\n", 2, "[server] workers"),
    ("[server]\nlog = file\n", 2, "[server] log: 'file' is not one of: stderr syslog"),
    ("[directory]\ndriver = postgres\n", 2, "[directory] driver: 'postgres' is not one of"),
    ("[directory]\ncache_ttl = 5 minutes\n", 2, "[directory] cache_ttl: '5 minutes' is not a duration"),
    ("[directory]\nport = -1\n", 2, "[directory] port: '-1' is not a whole number"),
    ("[mail]\nmessage_size_limit = 50x\n", 2, "[mail] message_size_limit: '50x' is not a size"),
    ("[dns]\ndnssec = maybe\n", 2, "[dns] dnssec: 'maybe' is not yes or no"),
    ("[listen]\nsmtp = 127.0.0.1\n", 2, "[listen] smtp: '127.0.0.1': expected ip:port"),
    ("[listen]\nsmtp = 127.0.0.1:99999\n", 2, "[listen] smtp: '127.0.0.1:99999': port must be"),
    ("[listen]\nsmtp = mail.example.com:25\n", 2, "not a numeric IPv4 or IPv6 address"),
    ("[server]\nuser = a\nuser = b\n", 3, "[server] user: given twice"),
    ("hostname = a\n", 1, "hostname: key outside of any section"),
    ("[server]\nthis line is wrong\n", 2, "syntax error"),
    ("[server\nuser = a\n", 1, "syntax error"),
]


@pytest.mark.parametrize("text,line,msg", BAD)
def test_bad_config(tmp_path, text, line, msg):
    p = tmp_path / "bad.conf"
    p.write_text("# comment\n" + text)
    r = check(p)
    assert r.returncode == 1, r.stdout
    assert r.stdout == ""
    assert "%s:%d:" % (p, line + 1) in r.stderr, r.stderr
    assert msg in r.stderr, r.stderr


def test_cross_key_errors(tmp_path):
    p = write_config(tmp_path / "c.conf", {"tls": {"cert": "/x.pem"}})
    r = check(p)
    assert r.returncode == 1 and "[tls] key: must be set when cert is set" in r.stderr
    p = write_config(tmp_path / "d.conf", {"dns": {"stub_zones": "example.test"}})
    r = check(p)
    assert r.returncode == 1 and "[dns] stub_zones: 'example.test' is not zone=addr" in r.stderr
    p = write_config(tmp_path / "e.conf", {"tls": {"cert": str(tmp_path / "none.pem"),
                                                   "key": str(tmp_path / "none.key")}})
    r = check(p)
    assert r.returncode == 1 and "[tls] cert" in r.stderr and "none.pem" in r.stderr


def test_effective_config(tmp_path):
    p = write_config(tmp_path / "ok.conf", {
        "server": {"hostname": "mail.mysystems.tld", "workers": "3"},
        "directory": {"driver": "mysql", "password": "vmaildbpass", "cache_ttl": "2m"},
        "mail": {"message_size_limit": "50m"},
    })
    r = check(p)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "[server]\nhostname = mail.mysystems.tld\n" in out
    assert "workers = 3\n" in out
    assert "cache_ttl = 120s\n" in out
    assert "message_size_limit = 52428800\n" in out
    # defaults are printed too: the guide's values
    assert "home = /var/vmail/mailboxes/%d/%n\n" in out
    assert "recipient_delimiter = +\n" in out
    assert "socket = /run/mysqld/mysqld.sock\n" in out
    # secrets never
    assert "vmaildbpass" not in out
    assert "password = ********\n" in out
    # the printed configuration is itself a valid file with the same meaning
    p2 = tmp_path / "printed.conf"
    p2.write_text(out.replace("password = ********", "password = vmaildbpass"))
    r2 = check(p2)
    assert r2.returncode == 0, r2.stderr
    assert r2.stdout == out


def test_every_key_documented():
    ref = run("--config-reference").stdout.strip().splitlines()
    assert len(ref) > 30
    with open(os.path.join(REPO, "docs", "configuration.md")) as f:
        doc = f.read()
    for line in ref:
        key = re.match(r"\| `(\[\w+\] \w+)`", line).group(1)
        assert line in doc, "docs/configuration.md lacks or misstates %s:\n%s" % (key, line)


def test_long_line_is_an_error_not_a_split(tmp_path):
    p = tmp_path / "long.conf"
    p.write_text("[dns]\nforwarders = " + " ".join("127.0.0.%d" % i for i in range(1, 40)) + "\n")
    r = check(p)
    assert r.returncode == 1
    assert "%s:2: line too long" % p in r.stderr


def test_list_continues_on_indented_lines(tmp_path):
    p = tmp_path / "cont.conf"
    p.write_text("[smtpd]\nmynetworks = 127.0.0.0/8\n  192.0.2.0/24,\n\t[2001:db8::]/32\n"
                 "helo_required = no\n")
    r = check(p)
    assert r.returncode == 0, r.stderr
    assert "mynetworks = 127.0.0.0/8 192.0.2.0/24 [2001:db8::]/32\n" in r.stdout
    assert "helo_required = no\n" in r.stdout
    # an indented line after a non-list key is still "given twice"
    p.write_text("[server]\nuser = a\n  b\n")
    r = check(p)
    assert r.returncode == 1 and "[server] user: given twice" in r.stderr
    p.write_text("[smtpd]\nmynetworks = 127.0.0.0/8\n  300.1.1.1\n")
    r = check(p)
    assert r.returncode == 1 and ":3: [smtpd] mynetworks: '300.1.1.1' is not an address" in r.stderr
