"""vmailctl dns against a real nsd: every record type, NXDOMAIN, no data,
timeouts, forwarders, and DNSSEC secure / insecure / bogus.

One nsd (tests/integration/nsd.py) serves, on 127.0.0.1 and a free port:
  example.test              unsigned: A, AAAA, CNAME, MX, null MX, TXT (SPF
                            split in strings, several records, escapes, one
                            long enough to need TCP), TLSA
  2.0.192.in-addr.arpa,
  8.b.d.0.1.0.0.2.ip6.arpa  PTR (both are zones libunbound would answer
                            itself if the stub did not take precedence)
  signed.test               signed with ldns-signzone; its DS is trusted
  expired.test              signed with signatures that ran out in 2001
  tampered.test             signed, then an A record changed
  fwd.example               reached through [dns] forwarders
A BlackHole port takes queries for blackhole.test and never answers.
"""
import json
import os
import subprocess

import pytest

from nsd import BlackHole, Nsd, sign_zone, zone_text
from vmaildtest import BAD_LOG, VMAILCTL

TLSA_HASH = "8d02536c887482bc34ff54e41d2ba659bf85b341a0a20afadb5813dcc7ad6d2e"
LONG_PARTS = ["v=DKIM1; k=rsa; p=", "A" * 255, "B" * 255, "C" * 100]
HUGE_PARTS = [chr(ord("a") + i) * 255 for i in range(12)]  # 3060 octets: TCP


def q(s):
    return '"' + s + '"'


def v6_reverse_rel(addr_nibbles, zone_nibbles=8):
    """Relative owner name in 8.b.d.0.1.0.0.2.ip6.arpa for a 32-nibble address."""
    rev = list(reversed(addr_nibbles))
    return ".".join(rev[: 32 - zone_nibbles])


@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    d = tmp_path_factory.mktemp("dns")
    example = zone_text("example.test", [
        "@ A 192.0.2.10",
        "@ A 192.0.2.11",
        "@ AAAA 2001:db8::10",
        "www CNAME @",
        "@ MX 20 mx2",
        "@ MX 10 mx1",
        "@ MX 30 mx3.other.test.",
        "mx1 A 192.0.2.25",
        "mx1 AAAA 2001:db8::25",
        "nullmx MX 0 .",
        '@ TXT "v=spf1 " "ip4:192.0.2.0/24 " "-all"',
        'multi TXT "first record"',
        'multi TXT "second" " record"',
        'esc TXT "say \\"hi\\"" " back\\\\slash" "\\007"',
        "dkim._domainkey TXT " + " ".join(q(p) for p in LONG_PARTS),
        "huge TXT " + " ".join(q(p) for p in HUGE_PARTS),
        f"_25._tcp.mx1 TLSA 3 1 1 {TLSA_HASH}",
        f"_25._tcp.mx1 TLSA 2 0 1 {'00' * 32}",
        "onlya A 192.0.2.30",
    ])
    rev4 = zone_text("2.0.192.in-addr.arpa", [
        "10 PTR example.test.",
        "25 PTR mx1.example.test.",
    ])
    nib = list("20010db8000000000000000000000010")
    rev6 = zone_text("8.b.d.0.1.0.0.2.ip6.arpa", [
        f"{v6_reverse_rel(nib)} PTR example.test.",
    ])
    signed, ds_signed = sign_zone(str(d), "signed.test", zone_text("signed.test", [
        "@ A 192.0.2.50",
        "@ MX 10 mx",
        "mx A 192.0.2.51",
        f"_25._tcp.mx TLSA 3 1 1 {TLSA_HASH}",
        '@ TXT "v=spf1 mx -all"',
    ]))
    expired, ds_expired = sign_zone(str(d), "expired.test",
                                    zone_text("expired.test", ["@ A 192.0.2.60"]),
                                    expired=True)
    tampered, ds_tampered = sign_zone(str(d), "tampered.test",
                                      zone_text("tampered.test", ["@ A 192.0.2.70"]),
                                      tamper=("192.0.2.70", "192.0.2.71"))
    fwd = zone_text("fwd.example", ["@ A 192.0.2.99"])
    zones = {
        "example.test": example,
        "2.0.192.in-addr.arpa": rev4,
        "8.b.d.0.1.0.0.2.ip6.arpa": rev6,
        "signed.test": signed,
        "expired.test": expired,
        "tampered.test": tampered,
        "fwd.example": fwd,
    }
    ta = d / "trust-anchors"
    ta.write_text(ds_signed + ds_expired + ds_tampered)
    ns = Nsd(str(d), zones).start()
    hole = BlackHole()
    main = ns.stub_zones(["example.test", "2.0.192.in-addr.arpa", "8.b.d.0.1.0.0.2.ip6.arpa"])
    main += f" blackhole.test={hole.addr()}"
    sec = ns.stub_zones(["signed.test", "expired.test", "tampered.test", "example.test"])
    cfgs = {
        "stub": f"[dns]\nstub_zones = {main}\ntrust_anchor_file = {ta}\ntimeout = 2s\n",
        "sec": f"[dns]\nstub_zones = {sec}\ntrust_anchor_file = {ta}\ntimeout = 5s\n",
        "nodnssec": f"[dns]\nstub_zones = {sec}\ndnssec = no\ntimeout = 5s\n",
        "fwd": f"[dns]\nforwarders = {ns.addr()}\ndnssec = no\ntimeout = 5s\n",
    }
    for text in cfgs.values():
        # libinih reads lines of at most 199 characters.
        assert max(len(l) for l in text.splitlines()) < 200, text
    paths = {}
    for name, text in cfgs.items():
        p = d / f"{name}.conf"
        p.write_text(text)
        paths[name] = str(p)
    try:
        yield paths
    finally:
        hole.close()
        ns.stop()


def vmailctl(cfg, *args, as_json=False):
    cmd = [VMAILCTL, "-c", cfg] + (["--json"] if as_json else []) + ["dns"] + list(args)
    r = subprocess.run(cmd, capture_output=True, timeout=120)
    out = r.stdout.decode("utf-8", "replace")
    err = r.stderr.decode("utf-8", "replace")
    for bad in BAD_LOG:
        assert bad not in err, err
    return r.returncode, out, err


def answer(dns, qtype, name, cfg="stub"):
    """(exit code, answer lines, dnssec line, stderr) of the text output."""
    rc, out, err = vmailctl(dns[cfg], qtype, name)
    lines = out.splitlines()
    sec = [l for l in lines if l.startswith("dnssec: ")]
    assert len(sec) == 1, out
    recs = [l for l in lines if not l.startswith(("dnssec: ", "canonical: "))]
    return rc, recs, sec[0][len("dnssec: "):], err


def as_json(dns, qtype, name, cfg="stub"):
    rc, out, err = vmailctl(dns[cfg], qtype, name, as_json=True)
    return rc, json.loads(out), err


def test_a(dns):
    rc, recs, sec, _ = answer(dns, "A", "example.test")
    assert rc == 0
    assert sorted(recs) == ["192.0.2.10", "192.0.2.11"]
    assert sec == "insecure"


def test_aaaa(dns):
    rc, recs, _, _ = answer(dns, "AAAA", "mx1.example.test")
    assert (rc, recs) == (0, ["2001:db8::25"])


def test_cname_followed(dns):
    rc, out, _ = vmailctl(dns["stub"], "AAAA", "www.example.test")
    assert rc == 0
    assert out.splitlines() == ["2001:db8::10", "canonical: example.test", "dnssec: insecure"]
    rc, j, _ = as_json(dns, "A", "WWW.example.test.")
    assert j["canonical"] == "example.test"
    assert sorted(j["answers"]) == ["192.0.2.10", "192.0.2.11"]


def test_mx_sorted_by_preference(dns):
    rc, recs, _, _ = answer(dns, "MX", "example.test")
    assert rc == 0
    assert recs == ["10 mx1.example.test", "20 mx2.example.test", "30 mx3.other.test"]
    rc, j, _ = as_json(dns, "mx", "example.test")
    assert j["status"] == "ok" and j["rcode"] == "NOERROR" and j["type"] == "MX"
    assert j["answers"][0] == {"preference": 10, "host": "mx1.example.test"}
    assert j["ttl"] == 300


def test_null_mx(dns):
    rc, recs, _, _ = answer(dns, "MX", "nullmx.example.test")
    assert (rc, recs) == (0, ["0 ."])


def test_txt_strings_concatenated(dns):
    rc, recs, _, _ = answer(dns, "TXT", "example.test")
    assert (rc, recs) == (0, ['"v=spf1 ip4:192.0.2.0/24 -all"'])
    rc, recs, _, _ = answer(dns, "TXT", "multi.example.test")
    assert rc == 0
    assert sorted(recs) == ['"first record"', '"second record"']


def test_txt_long_and_over_udp_size(dns):
    rc, j, _ = as_json(dns, "TXT", "dkim._domainkey.example.test")
    assert rc == 0
    assert j["answers"] == ["".join(LONG_PARTS)]
    # 3 KB does not fit the resolver's EDNS buffer: nsd truncates, TCP follows.
    rc, j, _ = as_json(dns, "TXT", "huge.example.test")
    assert rc == 0
    assert j["answers"] == ["".join(HUGE_PARTS)]


def test_txt_escapes(dns):
    rc, recs, _, _ = answer(dns, "TXT", "esc.example.test")
    assert (rc, recs) == (0, ['"say \\"hi\\" back\\\\slash\\007"'])
    rc, j, _ = as_json(dns, "TXT", "esc.example.test")
    assert j["answers"] == ['say "hi" back\\slash\x07']


def test_ptr_from_ipv4_ipv6_and_name(dns):
    rc, recs, _, _ = answer(dns, "PTR", "192.0.2.25")
    assert (rc, recs) == (0, ["mx1.example.test"])
    rc, recs, _, _ = answer(dns, "PTR", "2001:db8::10")
    assert (rc, recs) == (0, ["example.test"])
    rc, recs, _, _ = answer(dns, "PTR", "10.2.0.192.in-addr.arpa")
    assert (rc, recs) == (0, ["example.test"])
    rc, j, _ = as_json(dns, "PTR", "::ffff:192.0.2.10")
    assert j["name"] == "::ffff:192.0.2.10"
    assert j["query"] == "10.2.0.192.in-addr.arpa"
    assert j["answers"] == ["example.test"]
    rc, recs, _, err = answer(dns, "PTR", "192.0.2.99")
    assert rc == 1 and recs == [] and "NXDOMAIN" in err


def test_tlsa(dns):
    rc, recs, _, _ = answer(dns, "TLSA", "_25._tcp.mx1.example.test")
    assert rc == 0
    assert sorted(recs) == [f"2 0 1 {'00' * 32}", f"3 1 1 {TLSA_HASH}"]
    rc, j, _ = as_json(dns, "TLSA", "_25._tcp.mx1.example.test")
    dane_ee = [a for a in j["answers"] if a["usage"] == 3]
    assert dane_ee == [{"usage": 3, "selector": 1, "mtype": 1, "data": TLSA_HASH}]


def test_nxdomain(dns):
    rc, recs, sec, err = answer(dns, "A", "nosuch.example.test")
    assert (rc, recs, sec) == (1, [], "insecure")
    assert "no such domain (NXDOMAIN)" in err
    rc, j, _ = as_json(dns, "MX", "nosuch.example.test")
    assert (rc, j["status"], j["rcode"], j["answers"]) == (1, "nxdomain", "NXDOMAIN", [])


def test_no_data(dns):
    rc, recs, _, err = answer(dns, "MX", "onlya.example.test")
    assert (rc, recs) == (1, [])
    assert "no MX record" in err
    rc, j, _ = as_json(dns, "TLSA", "onlya.example.test")
    assert (rc, j["status"]) == (1, "nodata")
    rc, j, _ = as_json(dns, "AAAA", "onlya.example.test")
    assert (rc, j["status"], j["rcode"]) == (1, "nodata", "NOERROR")


def test_timeout_is_temporary_failure(dns):
    rc, recs, _, err = answer(dns, "A", "www.blackhole.test")
    assert (rc, recs) == (3, [])
    assert "temporary failure: timed out" in err
    rc, j, _ = as_json(dns, "MX", "blackhole.test")
    assert rc == 3
    assert j["status"] == "tempfail" and j["timed_out"] is True and j["rcode"] == "none"


def test_dnssec_secure(dns):
    rc, recs, sec, _ = answer(dns, "A", "signed.test", cfg="sec")
    assert (rc, recs, sec) == (0, ["192.0.2.50"], "secure")
    rc, recs, sec, _ = answer(dns, "TLSA", "_25._tcp.mx.signed.test", cfg="sec")
    assert (rc, recs, sec) == (0, [f"3 1 1 {TLSA_HASH}"], "secure")
    rc, recs, sec, _ = answer(dns, "MX", "signed.test", cfg="sec")
    assert (rc, recs, sec) == (0, ["10 mx.signed.test"], "secure")
    # Denial of existence is proven too.
    rc, j, _ = as_json(dns, "A", "nosuch.signed.test", cfg="sec")
    assert (rc, j["status"], j["dnssec"]) == (1, "nxdomain", "secure")
    rc, j, _ = as_json(dns, "AAAA", "signed.test", cfg="sec")
    assert (rc, j["status"], j["dnssec"]) == (1, "nodata", "secure")


def test_dnssec_insecure(dns):
    # The trust anchors cover only the signed zones.
    rc, recs, sec, _ = answer(dns, "A", "mx1.example.test", cfg="sec")
    assert (rc, recs, sec) == (0, ["192.0.2.25"], "insecure")
    # Validation off: even the signed zone is only insecure.
    rc, recs, sec, _ = answer(dns, "A", "signed.test", cfg="nodnssec")
    assert (rc, recs, sec) == (0, ["192.0.2.50"], "insecure")


def test_dnssec_bogus_expired(dns):
    rc, recs, sec, err = answer(dns, "A", "expired.test", cfg="sec")
    assert (rc, recs) == (3, [])
    assert sec.startswith("bogus: ") and "expired" in sec
    assert "DNSSEC validation failed" in err
    rc, j, _ = as_json(dns, "A", "expired.test", cfg="sec")
    assert (j["status"], j["dnssec"], j["answers"]) == ("tempfail", "bogus", [])
    assert "expired" in j["why_bogus"]
    # Without validation the same data is served as it is.
    rc, recs, sec, _ = answer(dns, "A", "expired.test", cfg="nodnssec")
    assert (rc, recs, sec) == (0, ["192.0.2.60"], "insecure")


def test_dnssec_bogus_tampered(dns):
    rc, recs, sec, _ = answer(dns, "A", "tampered.test", cfg="sec")
    assert (rc, recs) == (3, [])
    assert sec.startswith("bogus: ") and len(sec) > len("bogus: ")
    rc, recs, sec, _ = answer(dns, "A", "tampered.test", cfg="nodnssec")
    assert (rc, recs, sec) == (0, ["192.0.2.71"], "insecure")


def test_forwarders(dns):
    rc, recs, sec, _ = answer(dns, "A", "fwd.example", cfg="fwd")
    assert (rc, recs, sec) == (0, ["192.0.2.99"], "insecure")
    rc, recs, _, _ = answer(dns, "MX", "fwd.example", cfg="fwd")
    assert (rc, recs) == (1, [])
    rc, recs, _, _ = answer(dns, "A", "nosuch.fwd.example", cfg="fwd")
    assert (rc, recs) == (1, [])


def test_bad_name_is_refused(dns):
    rc, recs, _, err = answer(dns, "A", "a..b.example.test")
    assert (rc, recs) == (1, [])
    assert "cannot be asked" in err


def test_usage_errors(dns):
    rc, _, err = vmailctl(dns["stub"], "NS", "example.test")
    assert rc == 2 and "unknown type 'NS'" in err
    rc, _, err = vmailctl(dns["stub"], "A")
    assert rc == 2 and "usage" in err


@pytest.mark.parametrize("text,needle", [
    ("[dns]\nforwarders = not-an-address\n", "[dns] forwarders: 'not-an-address'"),
    ("[dns]\nstub_zones = example.test=300.1.1.1\n", "[dns] stub_zones: 'example.test=300.1.1.1'"),
    ("[dns]\ntrust_anchor_file = /nonexistent/ta\n", "'/nonexistent/ta': No such file"),
])
def test_bad_dns_config(tmp_path, text, needle):
    p = tmp_path / "bad.conf"
    p.write_text(text)
    rc, out, err = vmailctl(str(p), "A", "example.test")
    assert rc == 1
    assert needle in err
