/*
 * test-dns.c - the dns module without an authoritative server: record
 * parsers fed valid, malformed and truncated data (every prefix of every
 * valid record), reverse names, and the resolver's query lifecycle
 * (timeout, cancel before and inside callbacks, cancel while the answer
 * waits in libunbound's pipe, destroy with queries pending, errors
 * delivered from the loop) against a loopback socket that never answers
 * and libunbound's built-in local zones. Answers from a real nsd are
 * tested in tests/integration/test_dns.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "net/dns-private.h"
#include "net/dns.h"

/* ---- record parsers ---- */

struct rr {
	const char *data;
	int len;
};

#define RR(s) {s, (int)sizeof(s) - 1}

/* fill: parse one record; 0 / -1. */
static int fill1(struct dns_result *res, enum dns_type type, const char *data, int len)
{
	char *copy = malloc(len > 0 ? (size_t)len : 1);
	memcpy(copy, data, (size_t)len);
	char *d[1] = {copy};
	int l[1] = {len};
	const char *err = NULL;
	int r = dns_rdata_fill(res, type, d, l, 1, &err);
	if (r < 0)
		assert_non_null(err);
	free(copy);
	return r;
}

static void test_name_parse(void **state)
{
	static const struct {
		const char *wire;
		size_t len;
		int ok;
		const char *text;
		size_t used;
	} cases[] = {
		{"\0", 1, 1, ".", 1},
		{"\x02mx\x07" "example\x04test\0", 17, 1, "mx.example.test", 17},
		{"\x02mx\x07" "example\x04test\0" "junk", 21, 1, "mx.example.test", 17},
		{"\x03" "a.b\0", 5, 1, "a\\.b", 5},
		{"\x03" "a\\b\0", 5, 1, "a\\\\b", 5},
		{"\x02" "a\x01\0", 4, 1, "a\\001", 4},
		{"\x02" "a \0", 4, 1, "a\\032", 4},
		{"\x01\xff\0", 3, 1, "\\255", 3},
		{"", 0, 0, NULL, 0},
		{"\x02mx", 3, 0, NULL, 0},		     /* no root label */
		{"\x05mx", 3, 0, NULL, 0},		     /* label past the end */
		{"\xc0\x0c", 2, 0, NULL, 0},		     /* compression pointer */
		{"\x02mx\xc0\x0c", 5, 0, NULL, 0},	     /* pointer after a label */
		{"\x40" "a\0", 3, 0, NULL, 0},		     /* extended label type */
		{"\x80" "a\0", 3, 0, NULL, 0},		     /* unknown label type */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = BUF_INIT;
		buf_append_str(&b, "keep:");
		size_t used = 0;
		const char *err = NULL;
		int r = dns_name_parse((const uint8_t *)cases[i].wire, cases[i].len, &used, &b, &err);
		if (cases[i].ok) {
			assert_int_equal(r, 0);
			assert_int_equal(used, cases[i].used);
			assert_string_equal(buf_cstr(&b) + 5, cases[i].text);
		} else {
			assert_int_equal(r, -1);
			assert_non_null(err);
			assert_string_equal(buf_cstr(&b), "keep:"); /* nothing left behind */
		}
		buf_free(&b);
	}
}

static void test_name_length_limit(void **state)
{
	/* 4 labels of 63 octets: 4 * 64 + 1 = 257 octets on the wire: too long.
	 * 3 labels of 63 and one of 61: 3 * 64 + 62 + 1 = 255: the maximum. */
	uint8_t w[300];
	size_t o = 0;
	for (int l = 0; l < 4; l++) {
		w[o++] = 63;
		memset(w + o, 'a' + l, 63);
		o += 63;
	}
	w[o++] = 0;
	struct buf b = BUF_INIT;
	size_t used;
	const char *err;
	assert_int_equal(dns_name_parse(w, o, &used, &b, &err), -1);
	assert_int_equal(b.len, 0);

	o = 0;
	for (int l = 0; l < 4; l++) {
		int n = l < 3 ? 63 : 61;
		w[o++] = (uint8_t)n;
		memset(w + o, 'a' + l, (size_t)n);
		o += (size_t)n;
	}
	w[o++] = 0;
	assert_int_equal(o, 255);
	assert_int_equal(dns_name_parse(w, o, &used, &b, &err), 0);
	assert_int_equal(used, 255);
	assert_int_equal(b.len, 63 * 3 + 61 + 3);
	buf_free(&b);
}

static void test_a_aaaa(void **state)
{
	struct dns_result res = {0};
	assert_int_equal(fill1(&res, DNS_T_A, "\xc0\x00\x02\x01", 4), 0);
	assert_int_equal(res.n, 1);
	assert_int_equal(res.addr[0].family, AF_INET);
	assert_string_equal(res.addr[0].str, "192.0.2.1");
	struct sockaddr_storage ss;
	socklen_t sl = dns_addr_sockaddr(&res.addr[0], 25, &ss);
	assert_int_equal(sl, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 25);
	assert_int_equal(fill1(&res, DNS_T_A, "\xc0\x00\x02", 3), -1);
	assert_int_equal(res.n, 0);
	assert_null(res.addr);
	assert_int_equal(fill1(&res, DNS_T_A, "\xc0\x00\x02\x01\x00", 5), -1);

	static const char v6[] = "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x10";
	assert_int_equal(fill1(&res, DNS_T_AAAA, v6, 16), 0);
	assert_string_equal(res.addr[0].str, "2001:db8::10");
	assert_int_equal(res.addr[0].family, AF_INET6);
	sl = dns_addr_sockaddr(&res.addr[0], 587, &ss);
	assert_int_equal(sl, sizeof(struct sockaddr_in6));
	assert_int_equal(fill1(&res, DNS_T_AAAA, v6, 15), -1);
	assert_int_equal(fill1(&res, DNS_T_AAAA, v6, 4), -1);
	dns_result_clear(&res);
}

static void test_mx_sorted(void **state)
{
	static const struct rr rrs[] = {
		RR("\x00\x14\x03mx2\x07" "example\x04test\x00"),
		RR("\x00\x0a\x03mxb\x07" "example\x04test\x00"),
		RR("\x00\x0a\x03mxa\x07" "example\x04test\x00"),
		RR("\xff\xff\x00"),
	};
	char *d[4];
	int l[4];
	for (int i = 0; i < 4; i++) {
		d[i] = (char *)rrs[i].data;
		l[i] = rrs[i].len;
	}
	struct dns_result res = {0};
	res.type = DNS_T_MX;
	res.status = DNS_OK;
	const char *err;
	assert_int_equal(dns_rdata_fill(&res, DNS_T_MX, d, l, 4, &err), 0);
	assert_int_equal(res.n, 4);
	assert_int_equal(res.mx[0].preference, 10);
	assert_string_equal(res.mx[0].host, "mxa.example.test");
	assert_string_equal(res.mx[1].host, "mxb.example.test");
	assert_int_equal(res.mx[2].preference, 20);
	assert_int_equal(res.mx[3].preference, 65535);
	assert_string_equal(res.mx[3].host, ".");
	assert_false(dns_result_is_null_mx(&res));

	/* One bad record fails the whole answer and leaves nothing behind. */
	l[1] = 5;
	assert_int_equal(dns_rdata_fill(&res, DNS_T_MX, d, l, 4, &err), -1);
	assert_int_equal(res.n, 0);
	assert_null(res.mx);

	assert_int_equal(fill1(&res, DNS_T_MX, "\x00\x00\x00", 3), 0);
	assert_true(dns_result_is_null_mx(&res));
	assert_int_equal(fill1(&res, DNS_T_MX, "\x00\x00\x00\x00", 4), -1); /* trailing octet */
	assert_int_equal(fill1(&res, DNS_T_MX, "\x00\x00", 2), -1);
	dns_result_clear(&res);
}

static void test_txt(void **state)
{
	struct dns_result res = {0};
	static const char spf[] = "\x07v=spf1 \x10ip4:192.0.2.0/24\x05 -all";
	assert_int_equal(fill1(&res, DNS_T_TXT, spf, (int)sizeof(spf) - 1), 0);
	assert_int_equal(res.n, 1);
	assert_int_equal(res.txt[0].len, strlen("v=spf1 ip4:192.0.2.0/24 -all"));
	assert_string_equal(res.txt[0].data, "v=spf1 ip4:192.0.2.0/24 -all");

	/* Empty strings, NUL bytes, a 255-octet string. */
	assert_int_equal(fill1(&res, DNS_T_TXT, "\x00", 1), 0);
	assert_int_equal(res.txt[0].len, 0);
	assert_string_equal(res.txt[0].data, "");
	assert_int_equal(fill1(&res, DNS_T_TXT, "\x03" "a\0b\x00", 5), 0);
	assert_int_equal(res.txt[0].len, 3);
	assert_memory_equal(res.txt[0].data, "a\0b", 3);
	char big[1 + 255 + 1 + 255];
	big[0] = (char)255;
	memset(big + 1, 'x', 255);
	big[256] = (char)255;
	memset(big + 257, 'y', 255);
	assert_int_equal(fill1(&res, DNS_T_TXT, big, (int)sizeof(big)), 0);
	assert_int_equal(res.txt[0].len, 510);
	assert_int_equal(res.txt[0].data[254], 'x');
	assert_int_equal(res.txt[0].data[255], 'y');

	assert_int_equal(fill1(&res, DNS_T_TXT, "", 0), -1);
	assert_int_equal(fill1(&res, DNS_T_TXT, "\x05" "abc", 4), -1);
	assert_int_equal(fill1(&res, DNS_T_TXT, "\x01" "a\x02" "b", 4), -1);
	dns_result_clear(&res);
}

static void test_ptr_tlsa(void **state)
{
	struct dns_result res = {0};
	static const char ptr[] = "\x04mail\x07" "example\x04test\x00";
	assert_int_equal(fill1(&res, DNS_T_PTR, ptr, (int)sizeof(ptr) - 1), 0);
	assert_string_equal(res.ptr[0], "mail.example.test");
	assert_int_equal(fill1(&res, DNS_T_PTR, "\xc0\x0c", 2), -1);

	static const char tlsa[] = "\x03\x01\x01\xde\xad\xbe\xef";
	assert_int_equal(fill1(&res, DNS_T_TLSA, tlsa, 7), 0);
	assert_int_equal(res.tlsa[0].usage, 3);
	assert_int_equal(res.tlsa[0].selector, 1);
	assert_int_equal(res.tlsa[0].mtype, 1);
	assert_int_equal(res.tlsa[0].len, 4);
	assert_memory_equal(res.tlsa[0].data, "\xde\xad\xbe\xef", 4);
	assert_int_equal(fill1(&res, DNS_T_TLSA, tlsa, 2), -1);

	/* Types we do not parse, negative lengths, NULL data. */
	assert_int_equal(fill1(&res, (enum dns_type)2, ptr, 5), -1);
	char *d[1] = {NULL};
	int l[1] = {0};
	const char *err;
	assert_int_equal(dns_rdata_fill(&res, DNS_T_A, d, l, 1, &err), -1);
	d[0] = (char *)tlsa;
	l[0] = -1;
	assert_int_equal(dns_rdata_fill(&res, DNS_T_TLSA, d, l, 1, &err), -1);
	assert_int_equal(dns_rdata_fill(&res, DNS_T_TLSA, d, l, 0, &err), 0);
	assert_int_equal(res.n, 0);
	dns_result_clear(&res);
}

/* Every prefix of every valid record, in an exactly sized heap block so
 * that ASan sees any read past the end. A/AAAA/MX/PTR prefixes must fail;
 * TXT and TLSA prefixes may be valid records themselves. */
static void test_every_prefix(void **state)
{
	static const struct {
		enum dns_type type;
		struct rr rr;
		int prefix_valid;
	} recs[] = {
		{DNS_T_A, RR("\x7f\x00\x00\x01"), 0},
		{DNS_T_AAAA, RR("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"), 0},
		{DNS_T_MX, RR("\x00\x0a\x03mx1\x07" "example\x04test\x00"), 0},
		{DNS_T_PTR, RR("\x04mail\x07" "example\x04test\x00"), 0},
		{DNS_T_TXT, RR("\x05hello\x00\x03" "abc"), 1},
		{DNS_T_TLSA, RR("\x03\x01\x01\x01\x02\x03"), 1},
	};
	for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		struct dns_result res = {0};
		assert_int_equal(fill1(&res, recs[i].type, recs[i].rr.data, recs[i].rr.len), 0);
		for (int cut = 0; cut < recs[i].rr.len; cut++) {
			int r = fill1(&res, recs[i].type, recs[i].rr.data, cut);
			if (!recs[i].prefix_valid)
				assert_int_equal(r, -1);
			if (r < 0)
				assert_int_equal(res.n, 0);
		}
		dns_result_clear(&res);
	}
}

static void test_reverse_names(void **state)
{
	char out[DNS_REVERSE_NAME_MAX];
	assert_int_equal(dns_reverse_name("192.0.2.1", out, sizeof(out)), 0);
	assert_string_equal(out, "1.2.0.192.in-addr.arpa");
	assert_int_equal(dns_reverse_name("::ffff:192.0.2.77", out, sizeof(out)), 0);
	assert_string_equal(out, "77.2.0.192.in-addr.arpa");
	assert_int_equal(dns_reverse_name("2001:db8::567:89ab", out, sizeof(out)), 0);
	assert_string_equal(out, "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
				 "ip6.arpa");
	assert_int_equal(strlen(out) + 1, 73);
	assert_int_equal(dns_reverse_name("example.test", out, sizeof(out)), -1);
	assert_int_equal(dns_reverse_name("192.0.2", out, sizeof(out)), -1);
	assert_int_equal(dns_reverse_name("", out, sizeof(out)), -1);
	assert_int_equal(dns_reverse_name("2001:db8::1", out, 72), -1); /* too small */
	assert_int_equal(dns_reverse_name("255.255.255.255", out, 29), 0);
	assert_int_equal(dns_reverse_name("255.255.255.255", out, 28), -1);

	struct sockaddr_in6 sin6 = {0};
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::1", &sin6.sin6_addr);
	assert_int_equal(dns_reverse_name_sa((struct sockaddr *)&sin6, out, sizeof(out)), 0);
	assert_string_equal(out, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
				 "ip6.arpa");
	struct sockaddr_in sin = {0};
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "10.1.2.3", &sin.sin_addr);
	assert_int_equal(dns_reverse_name_sa((struct sockaddr *)&sin, out, sizeof(out)), 0);
	assert_string_equal(out, "3.2.1.10.in-addr.arpa");
	struct sockaddr sa = {0};
	sa.sa_family = AF_UNIX;
	assert_int_equal(dns_reverse_name_sa(&sa, out, sizeof(out)), -1);
}

static void test_names(void **state)
{
	enum dns_type t;
	assert_int_equal(dns_type_parse("aaaa", &t), 0);
	assert_int_equal(t, DNS_T_AAAA);
	assert_int_equal(dns_type_parse("TLSA", &t), 0);
	assert_int_equal(t, DNS_T_TLSA);
	assert_int_equal(dns_type_parse("NS", &t), -1);
	assert_string_equal(dns_type_name(DNS_T_MX), "MX");
	assert_string_equal(dns_status_name(DNS_NODATA), "nodata");
	assert_string_equal(dns_sec_name(DNS_SEC_BOGUS), "bogus");
	assert_string_equal(dns_rcode_name(2), "SERVFAIL");
	assert_string_equal(dns_rcode_name(-1), "none");
	assert_string_equal(dns_rcode_name(99), "UNKNOWN");
}

/* ---- the resolver against loopback sockets ---- */

/* A UDP socket and a TCP listener on one port that never answer. */
struct hole {
	int udp, tcp;
	unsigned port;
};

static void hole_open(struct hole *h)
{
	struct sockaddr_in sin = {0};
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int tries = 0; tries < 100; tries++) {
		h->udp = socket(AF_INET, SOCK_DGRAM, 0);
		assert_true(h->udp >= 0);
		sin.sin_port = 0;
		assert_int_equal(bind(h->udp, (struct sockaddr *)&sin, sizeof(sin)), 0);
		socklen_t sl = sizeof(sin);
		assert_int_equal(getsockname(h->udp, (struct sockaddr *)&sin, &sl), 0);
		h->tcp = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(h->tcp >= 0);
		if (bind(h->tcp, (struct sockaddr *)&sin, sizeof(sin)) == 0 && listen(h->tcp, 8) == 0) {
			h->port = ntohs(sin.sin_port);
			return;
		}
		close(h->udp);
		close(h->tcp);
	}
	fail_msg("no port free for UDP and TCP");
}

static void hole_close(struct hole *h)
{
	close(h->udp);
	close(h->tcp);
}

struct env {
	struct event_base *base;
	struct config_dns cfg;
	char *stubs[1];
	struct hole hole;
};

static int env_setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	hole_open(&e->hole);
	e->base = event_base_new();
	assert_non_null(e->base);
	assert_true(asprintf(&e->stubs[0], "hole.test=127.0.0.1@%u", e->hole.port) > 0);
	e->cfg.stub_zones.v = e->stubs;
	e->cfg.stub_zones.n = 1;
	e->cfg.trust_anchor_file = (char *)"";
	e->cfg.dnssec = false;
	e->cfg.timeout = 1;
	*state = e;
	return 0;
}

static int env_teardown(void **state)
{
	struct env *e = *state;
	event_base_free(e->base);
	hole_close(&e->hole);
	free(e->stubs[0]);
	free(e);
	return 0;
}

struct seen {
	int calls;
	enum dns_status status;
	bool timed_out;
	struct dns_query **cancel_in_cb; /* cancel this one from the callback */
	struct dns_query **self;	 /* this query's own handle */
};

static void on_result(const struct dns_result *res, void *ctx)
{
	struct seen *s = ctx;
	s->calls++;
	s->status = res->status;
	s->timed_out = res->timed_out;
	if (s->cancel_in_cb != NULL)
		dns_query_cancel(s->cancel_in_cb);
	if (s->self != NULL)
		dns_query_cancel(s->self); /* its own: a no-op that clears the handle */
}

static void run_until(struct event_base *base, const int *calls, int want)
{
	for (int i = 0; *calls < want && i < 1000; i++)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(*calls, want);
}

static void test_create_errors(void **state)
{
	struct env *e = *state;
	const char *err = NULL;
	struct config_dns c = e->cfg;

	char *fwd[] = {(char *)"not-an-address"};
	c.forwarders.v = fwd;
	c.forwarders.n = 1;
	assert_null(dns_create(e->base, &c, &err));
	assert_non_null(strstr(err, "[dns] forwarders: 'not-an-address'"));

	c = e->cfg;
	char *stub[] = {(char *)"example.test=1.2.3.4.5"};
	c.stub_zones.v = stub;
	c.stub_zones.n = 1;
	assert_null(dns_create(e->base, &c, &err));
	assert_non_null(strstr(err, "[dns] stub_zones"));

	c = e->cfg;
	c.trust_anchor_file = (char *)"/nonexistent/ta.key";
	assert_null(dns_create(e->base, &c, &err));
	assert_non_null(strstr(err, "trust_anchor_file"));
	assert_non_null(strstr(err, "No such file"));

	/* A trust anchor file that libunbound cannot parse. */
	char path[512];
	snprintf(path, sizeof(path), "%s/test-dns-ta-XXXXXX",
		 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "this is not a DS record\n", 24), 24);
	close(fd);
	c.trust_anchor_file = path;
	struct dns *d = dns_create(e->base, &c, &err);
	unlink(path);
	assert_null(d);
	assert_non_null(strstr(err, "not accepted"));

	/* The same zone twice (two servers) is fine. */
	c = e->cfg;
	char *two[] = {(char *)"x.test=127.0.0.1@5353", (char *)"X.test.=127.0.0.2@5353"};
	c.stub_zones.v = two;
	c.stub_zones.n = 2;
	d = dns_create(e->base, &c, &err);
	assert_non_null(d);
	dns_destroy(&d);
	assert_null(d);
}

static void test_timeout(void **state)
{
	struct env *e = *state;
	const char *err;
	struct dns *d = dns_create(e->base, &e->cfg, &err);
	assert_non_null(d);
	struct seen s = {0};
	struct dns_query *q = dns_query(d, "www.hole.test", DNS_T_A, on_result, &s);
	s.self = &q;
	assert_non_null(q);
	assert_int_equal(dns_pending(d), 1);
	run_until(e->base, &s.calls, 1);
	assert_int_equal(s.status, DNS_TEMPFAIL);
	assert_true(s.timed_out);
	assert_null(q); /* cleared by the cancel inside the callback */
	assert_int_equal(dns_pending(d), 0);
	dns_destroy(&d);
}

static void test_cancel(void **state)
{
	struct env *e = *state;
	const char *err;
	struct dns *d = dns_create(e->base, &e->cfg, &err);
	assert_non_null(d);
	struct seen s1 = {0}, s2 = {0}, s3 = {0};
	struct dns_query *q2 = dns_query(d, "two.hole.test", DNS_T_MX, on_result, &s2);
	struct dns_query *q3 = dns_query(d, "three.hole.test", DNS_T_TXT, on_result, &s3);
	s1.cancel_in_cb = &q3;
	s3.self = &q3; /* so that q3's handle is cleared if its callback runs first */
	struct dns_query *q1 = dns_query(d, "one.hole.test", DNS_T_A, on_result, &s1);
	assert_non_null(q1);
	assert_int_equal(dns_pending(d), 3);
	dns_query_cancel(&q2);
	assert_null(q2);
	dns_query_cancel(&q2); /* NULL: nothing */
	assert_int_equal(dns_pending(d), 2);
	/* q1 and q3 time out at the same moment; whichever runs first,
	 * q1's callback cancels q3 if it has not run yet. */
	for (int i = 0; s1.calls == 0 && i < 1000; i++)
		event_base_loop(e->base, EVLOOP_ONCE);
	assert_int_equal(s1.calls, 1);
	assert_int_equal(s2.calls, 0);
	assert_true(s3.calls == 0 || q3 == NULL);
	assert_null(q3);
	assert_int_equal(dns_pending(d), 0);
	/* Nothing more comes, however long the loop runs. */
	struct timeval tv = {1, 500000};
	event_base_loopexit(e->base, &tv);
	event_base_dispatch(e->base);
	assert_int_equal(s1.calls, 1);
	assert_int_equal(s2.calls, 0);
	assert_true(s3.calls <= 1);
	dns_destroy(&d);
}

/* Answers that already wait in libunbound's pipe when the query is
 * cancelled must not call back. libunbound answers "localhost" and names
 * under "invalid." from its built-in local zones at once, so sleeping
 * without running the loop leaves their answers in the pipe. */
static void test_cancel_with_answer_waiting(void **state)
{
	struct env *e = *state;
	const char *err;
	struct dns *d = dns_create(e->base, &e->cfg, &err);
	assert_non_null(d);
	struct seen s1 = {0}, s2 = {0}, s3 = {0};
	struct dns_query *q2 = dns_query(d, "localhost", DNS_T_AAAA, on_result, &s2);
	struct dns_query *q1 = dns_query(d, "localhost", DNS_T_A, on_result, &s1);
	struct dns_query *q3 = dns_query(d, "nothing.invalid", DNS_T_MX, on_result, &s3);
	s1.self = &q1;
	s3.self = &q3;
	usleep(500 * 1000);
	dns_query_cancel(&q2);
	run_until(e->base, &s1.calls, 1);
	run_until(e->base, &s3.calls, 1);
	assert_int_equal(s1.status, DNS_OK);
	assert_false(s1.timed_out);
	assert_int_equal(s3.status, DNS_NXDOMAIN);
	assert_int_equal(s2.calls, 0);
	assert_int_equal(dns_pending(d), 0);
	struct timeval tv = {0, 300000};
	event_base_loopexit(e->base, &tv);
	event_base_dispatch(e->base);
	assert_int_equal(s2.calls, 0);
	dns_destroy(&d);
}

/* A whole answer through libunbound without any server. */
static void test_local_answer(void **state)
{
	struct env *e = *state;
	struct dns_result *res = NULL;
	const char *err = NULL;
	assert_int_equal(dns_resolve_sync(&e->cfg, "localhost.", DNS_T_A, &res, &err), 0);
	assert_int_equal(res->status, DNS_OK);
	assert_int_equal(res->rcode, DNS_RCODE_NOERROR);
	assert_int_equal(res->sec, DNS_SEC_INSECURE);
	assert_int_equal(res->n, 1);
	assert_non_null(res->addr);
	assert_string_equal(res->addr[0].str, "127.0.0.1");
	assert_null(res->canonname);
	dns_result_free(&res);
	assert_int_equal(dns_resolve_sync(&e->cfg, "localhost", DNS_T_MX, &res, &err), 0);
	assert_int_equal(res->status, DNS_NODATA);
	assert_int_equal(res->n, 0);
	dns_result_free(&res);
}

/* Errors found before libunbound sees the query come from the loop. */
static void test_early_errors(void **state)
{
	struct env *e = *state;
	const char *err;
	struct dns *d = dns_create(e->base, &e->cfg, &err);
	assert_non_null(d);
	struct seen s1 = {0}, s2 = {0}, s3 = {0};
	dns_query(d, "", DNS_T_A, on_result, &s1);
	dns_query(d, "example.test", (enum dns_type)99, on_result, &s2);
	dns_query(d, "a..b.test", DNS_T_A, on_result, &s3);
	assert_int_equal(s1.calls + s2.calls + s3.calls, 0);
	run_until(e->base, &s1.calls, 1);
	run_until(e->base, &s2.calls, 1);
	run_until(e->base, &s3.calls, 1);
	assert_int_equal(s1.status, DNS_PERMFAIL);
	assert_int_equal(s2.status, DNS_PERMFAIL);
	assert_int_equal(s3.status, DNS_PERMFAIL);
	dns_destroy(&d);
}

/* dns_destroy with queries pending: no callbacks, no leaks (ASan). */
static void test_destroy_pending(void **state)
{
	struct env *e = *state;
	const char *err;
	struct dns *d = dns_create(e->base, &e->cfg, &err);
	assert_non_null(d);
	struct seen s = {0};
	for (int i = 0; i < 20; i++)
		dns_query(d, "many.hole.test", DNS_T_AAAA, on_result, &s);
	dns_query(d, "", DNS_T_A, on_result, &s); /* an early answer, never delivered */
	dns_destroy(&d);
	struct timeval tv = {0, 200000};
	event_base_loopexit(e->base, &tv);
	event_base_dispatch(e->base);
	assert_int_equal(s.calls, 0);
}

static void test_sync(void **state)
{
	struct env *e = *state;
	struct dns_result *res = NULL;
	const char *err = NULL;
	assert_int_equal(dns_resolve_sync(&e->cfg, "sync.hole.test", DNS_T_MX, &res, &err), 0);
	assert_non_null(res);
	assert_int_equal(res->status, DNS_TEMPFAIL);
	assert_true(res->timed_out);
	assert_int_equal(res->rcode, -1);
	assert_string_equal(res->name, "sync.hole.test");
	assert_non_null(res->error);
	dns_result_free(&res);
	assert_null(res);

	struct config_dns c = e->cfg;
	c.trust_anchor_file = (char *)"/nonexistent";
	assert_int_equal(dns_resolve_sync(&c, "x.test", DNS_T_A, &res, &err), -1);
	assert_null(res);
	assert_non_null(strstr(err, "/nonexistent"));
}

int main(void)
{
	log_open("test", false, getenv("TEST_DNS_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_parse),
		cmocka_unit_test(test_name_length_limit),
		cmocka_unit_test(test_a_aaaa),
		cmocka_unit_test(test_mx_sorted),
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_ptr_tlsa),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_reverse_names),
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_create_errors, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_timeout, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_cancel, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_cancel_with_answer_waiting, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_local_answer, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_early_errors, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_destroy_pending, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_sync, env_setup, env_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
