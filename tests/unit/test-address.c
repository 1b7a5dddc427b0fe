/*
 * test-address.c - SMTP path parser (mail/address.h) and strict UTF-8
 * (mail/utf8.h): a table of paths with the expected local part, domain,
 * flags or error - RFC 5321 forms, the relay-attack battery (percent
 * hack, bang path, quoted '@', source route, IP literals, trailing dot),
 * length limits at and over the boundary, 8-bit with and without
 * SMTPUTF8, ill-formed UTF-8 - then the helpers: reply codes, routing
 * test, FQDN test, canonical form, formatting round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mail/address.h"
#include "mail/utf8.h"

#define NUL_OK ADDRESS_PARSE_ALLOW_NULL
#define PM     ADDRESS_PARSE_ALLOW_POSTMASTER
#define U8     ADDRESS_PARSE_UTF8
#define NB     ADDRESS_PARSE_BRACKETS_OPTIONAL

struct path_case {
	const char *in;
	unsigned int pflags;
	enum address_error err; /* ADDRESS_OK: success expected */
	const char *local;
	const char *domain;
	unsigned int flags;
};

static const struct path_case path_cases[] = {
    /* plain forms */
    {"<user@example.com>", 0, ADDRESS_OK, "user", "example.com", 0},
    {"<First.Last@Example.COM>", 0, ADDRESS_OK, "First.Last", "Example.COM", 0},
    {"<user+tag@example.com>", 0, ADDRESS_OK, "user+tag", "example.com", 0},
    {"<a!#$%&'*+-/=?^_`{|}~z@x.example>", 0, ADDRESS_OK, "a!#$%&'*+-/=?^_`{|}~z", "x.example", 0},
    {"<u@1.2.3.4>", 0, ADDRESS_OK, "u", "1.2.3.4", 0},
    {"<u@xn--bcher-kva.example>", 0, ADDRESS_OK, "u", "xn--bcher-kva.example", 0},
    {"<u@localhost>", 0, ADDRESS_OK, "u", "localhost", 0},
    /* null path */
    {"<>", NUL_OK, ADDRESS_OK, "", "", ADDRESS_NULL},
    {"<>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<>", PM, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"", NUL_OK | NB, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"< >", NUL_OK, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    /* postmaster without domain (RFC 5321 section 4.5.1) */
    {"<postmaster>", PM, ADDRESS_OK, "postmaster", "", ADDRESS_POSTMASTER},
    {"<PostMaster>", PM, ADDRESS_OK, "PostMaster", "", ADDRESS_POSTMASTER},
    {"postmaster", PM | NB, ADDRESS_OK, "postmaster", "", ADDRESS_POSTMASTER | ADDRESS_NO_BRACKETS},
    {"<postmaster>", 0, ADDRESS_ERR_NO_DOMAIN, NULL, NULL, 0},
    {"<\"postmaster\">", PM, ADDRESS_ERR_NO_DOMAIN, NULL, NULL, 0},
    {"<@a.example:postmaster>", PM, ADDRESS_ERR_NO_DOMAIN, NULL, NULL, 0},
    {"<postmaster@example.com>", PM, ADDRESS_OK, "postmaster", "example.com", 0},
    {"<user>", PM, ADDRESS_ERR_NO_DOMAIN, NULL, NULL, 0},
    {"<user>", 0, ADDRESS_ERR_NO_DOMAIN, NULL, NULL, 0},
    /* relay-attack battery: all parse, the flags tell */
    {"<user%other.net@ours.example>", 0, ADDRESS_OK, "user%other.net", "ours.example", 0},
    {"<other.net!user@ours.example>", 0, ADDRESS_OK, "other.net!user", "ours.example", 0},
    {"<\"user@other.net\"@ours.example>", 0, ADDRESS_OK, "user@other.net", "ours.example",
     ADDRESS_QUOTED},
    {"<@ours.example:user@other.net>", 0, ADDRESS_OK, "user", "other.net", ADDRESS_SOURCE_ROUTE},
    {"<@a.example,@b.example:user@domain.example>", 0, ADDRESS_OK, "user", "domain.example",
     ADDRESS_SOURCE_ROUTE},
    {"<@[192.0.2.1],@b.example:user@domain.example>", 0, ADDRESS_OK, "user", "domain.example",
     ADDRESS_SOURCE_ROUTE},
    {"@ours.example:user@other.net", NB, ADDRESS_OK, "user", "other.net",
     ADDRESS_SOURCE_ROUTE | ADDRESS_NO_BRACKETS},
    {"<user@ours.example.>", 0, ADDRESS_OK, "user", "ours.example.", ADDRESS_TRAILING_DOT},
    {"<user@ours.>", 0, ADDRESS_OK, "user", "ours.", ADDRESS_TRAILING_DOT},
    {"<USER@OURS.EXAMPLE>", 0, ADDRESS_OK, "USER", "OURS.EXAMPLE", 0},
    {"<user@[192.0.2.1]>", 0, ADDRESS_OK, "user", "[192.0.2.1]", ADDRESS_LITERAL},
    {"<user@[127.0.0.1]>", 0, ADDRESS_OK, "user", "[127.0.0.1]", ADDRESS_LITERAL},
    {"<user@[IPv6:2001:db8::1]>", 0, ADDRESS_OK, "user", "[IPv6:2001:db8::1]",
     ADDRESS_LITERAL | ADDRESS_LITERAL_IPV6},
    {"<user@[ipv6:::1]>", 0, ADDRESS_OK, "user", "[ipv6:::1]",
     ADDRESS_LITERAL | ADDRESS_LITERAL_IPV6},
    {"<user@[IPv6:::ffff:192.0.2.1]>", 0, ADDRESS_OK, "user", "[IPv6:::ffff:192.0.2.1]",
     ADDRESS_LITERAL | ADDRESS_LITERAL_IPV6},
    /* quoted local parts */
    {"<\"john doe\"@example.com>", 0, ADDRESS_OK, "john doe", "example.com", ADDRESS_QUOTED},
    {"<\"a\\\"b\\\\c\"@example.com>", 0, ADDRESS_OK, "a\"b\\c", "example.com", ADDRESS_QUOTED},
    {"<\"plain\"@example.com>", 0, ADDRESS_OK, "plain", "example.com", ADDRESS_QUOTED},
    {"<\"a>b\"@example.com>", 0, ADDRESS_OK, "a>b", "example.com", ADDRESS_QUOTED},
    {"<\"\"@example.com>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<\"open@example.com>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<\"tab\there\"@example.com>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<\"bs\\\x01\"@example.com>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<\"x\"y@example.com>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    /* loose dots (taken, flagged) */
    {"<a..b@docomo.example>", 0, ADDRESS_OK, "a..b", "docomo.example", ADDRESS_LOOSE_DOTS},
    {"<.a@x.example>", 0, ADDRESS_OK, ".a", "x.example", ADDRESS_LOOSE_DOTS},
    {"<a.@x.example>", 0, ADDRESS_OK, "a.", "x.example", ADDRESS_LOOSE_DOTS},
    /* brackets */
    {"user@example.com", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"user@example.com", NB, ADDRESS_OK, "user", "example.com", ADDRESS_NO_BRACKETS},
    {"<user@example.com", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@example.com", NB, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"user@example.com>", NB, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@example.com>>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"< user@example.com>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@example.com >", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<<user@example.com>>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    /* bad syntax */
    {"<us er@example.com>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@exa mple.com>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<@example.com>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@@example.com>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<a@b@example.com>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@.example.com>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@example..com>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@example.com..>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@.>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@-ours.example>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@ours-.example>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@ou_rs.example>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@[256.1.1.1]>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@[1.2.3]>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@[1.2.3.4.5]>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@[1.2.3.1234]>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@[IPv6:zz::1]>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@[IPv6:1:2:3:4:5:6:7:8:9]>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@[IPv6:]>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@[x-tag:foo]>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@[192.0.2.1>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@[192.0.2.1].example>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<@a.example,b.example:user@c.example>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<@a.example:>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<@a.example user@c.example>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user\x01@example.com>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@example.com\x7f>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<(comment)user@example.com>", 0, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    /* 8-bit: SMTPUTF8 or not */
    {"<j\xc3\xb6rg@example.com>", 0, ADDRESS_ERR_8BIT, NULL, NULL, 0},
    {"<j\xc3\xb6rg@example.com>", U8, ADDRESS_OK, "j\xc3\xb6rg", "example.com", ADDRESS_UTF8},
    {"<user@b\xc3\xbc"
     "cher.example>",
     0, ADDRESS_ERR_8BIT, NULL, NULL, 0},
    {"<user@b\xc3\xbc"
     "cher.example>",
     U8, ADDRESS_OK, "user",
     "b\xc3\xbc"
     "cher.example",
     ADDRESS_UTF8},
    {"<\"j\xc3\xb6 rg\"@example.com>", 0, ADDRESS_ERR_8BIT, NULL, NULL, 0},
    {"<\"j\xc3\xb6 rg\"@example.com>", U8, ADDRESS_OK, "j\xc3\xb6 rg", "example.com",
     ADDRESS_UTF8 | ADDRESS_QUOTED},
    {"<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\x85\xac\xe5\x8f\xb8>", U8, ADDRESS_OK,
     "\xe7\x94\xa8\xe6\x88\xb7", "\xe4\xbe\x8b\xe5\xad\x90.\xe5\x85\xac\xe5\x8f\xb8", ADDRESS_UTF8},
    {"<\xf0\x9f\x98\x80@example.com>", U8, ADDRESS_OK, "\xf0\x9f\x98\x80", "example.com",
     ADDRESS_UTF8},
    {"<j\xf6rg@example.com>", U8, ADDRESS_ERR_BAD_UTF8, NULL, NULL, 0},          /* latin-1 */
    {"<j\xc3@example.com>", U8, ADDRESS_ERR_BAD_UTF8, NULL, NULL, 0},            /* cut */
    {"<\xc0\xaf@example.com>", U8, ADDRESS_ERR_BAD_UTF8, NULL, NULL, 0},         /* overlong */
    {"<\xe0\x80\xaf@example.com>", U8, ADDRESS_ERR_BAD_UTF8, NULL, NULL, 0},     /* overlong */
    {"<\xed\xa0\x80@example.com>", U8, ADDRESS_ERR_BAD_UTF8, NULL, NULL, 0},     /* surrogate */
    {"<\xf4\x90\x80\x80@example.com>", U8, ADDRESS_ERR_BAD_UTF8, NULL, NULL, 0}, /* > 10FFFF */
    {"<\x80@example.com>", U8, ADDRESS_ERR_BAD_UTF8, NULL, NULL, 0},
    {"<user@\xff.example>", U8, ADDRESS_ERR_BAD_UTF8, NULL, NULL, 0},
    {"<\"a\\\xc3\xb6\"@example.com>", U8, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
    {"<user@[\xc3\xb6]>", U8, ADDRESS_ERR_SYNTAX, NULL, NULL, 0},
};

static void test_path_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *c = &path_cases[i];
		struct address a;
		enum address_error err;
		int ret = address_parse_path(c->in, strlen(c->in), c->pflags, &a, NULL, &err);
		if (err != c->err) {
			fprintf(stderr, "case %zu \"%s\": error %s, expected %s\n", i, c->in,
			        address_error_str(err), address_error_str(c->err));
			fail();
		}
		if (c->err != ADDRESS_OK) {
			assert_int_equal(ret, -1);
			assert_string_equal(a.local, "");
			continue;
		}
		assert_int_equal(ret, 0);
		if (strcmp(a.local, c->local) != 0 || strcmp(a.domain, c->domain) != 0 ||
		    a.flags != c->flags) {
			fprintf(stderr, "case %zu \"%s\": got [%s] [%s] %#x\n", i, c->in, a.local,
			        a.domain, a.flags);
			fail();
		}
	}
}

/* The parser must never read past len: the input is a copy without NUL. */
static void test_path_exact_buffer(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *c = &path_cases[i];
		size_t n = strlen(c->in);
		for (size_t cut = 0; cut <= n; cut++) {
			char *copy = malloc(cut > 0 ? cut : 1);
			memcpy(copy, c->in, cut);
			struct address a;
			enum address_error err;
			size_t used = 0;
			(void)address_parse_path(copy, cut, c->pflags, &a, NULL, &err);
			if (address_parse_path(copy, cut, c->pflags, &a, &used, &err) == 0)
				assert_true(used <= cut);
			free(copy);
		}
	}
}

static void test_consumed(void **state)
{
	(void)state;
	struct address a;
	enum address_error err;
	size_t used;
	const char *s = "<a@b.example> SIZE=10";
	assert_int_equal(address_parse_path(s, strlen(s), 0, &a, &used, &err), 0);
	assert_int_equal(used, 13);
	s = "a@b.example SIZE=10";
	assert_int_equal(address_parse_path(s, strlen(s), NB, &a, &used, &err), 0);
	assert_int_equal(used, 11);
	assert_int_equal(a.flags, ADDRESS_NO_BRACKETS);
	s = "<>BODY=8BITMIME";
	assert_int_equal(address_parse_path(s, strlen(s), NUL_OK, &a, &used, &err), 0);
	assert_int_equal(used, 2);
	/* without consumed_r trailing text is an error */
	assert_int_equal(address_parse_path(s, strlen(s), NUL_OK, &a, NULL, &err), -1);
	assert_int_equal(err, ADDRESS_ERR_SYNTAX);
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static int parse_str(const char *s, unsigned int pflags, struct address *a, enum address_error *err)
{
	return address_parse_path(s, strlen(s), pflags, a, NULL, err);
}

static void test_limits(void **state)
{
	(void)state;
	struct address a;
	enum address_error err;
	char path[1200];

	/* local part: 64 octets fine, 65 too long */
	char *l64 = repeat('l', 64), *l65 = repeat('l', 65);
	snprintf(path, sizeof(path), "<%s@example.com>", l64);
	assert_int_equal(parse_str(path, 0, &a, &err), 0);
	assert_string_equal(a.local, l64);
	snprintf(path, sizeof(path), "<%s@example.com>", l65);
	assert_int_equal(parse_str(path, 0, &a, &err), -1);
	assert_int_equal(err, ADDRESS_ERR_LOCAL_TOO_LONG);

	/* quoted: 64 octets with the quotes */
	char *q62 = repeat('q', 62), *q63 = repeat('q', 63);
	snprintf(path, sizeof(path), "<\"%s\"@example.com>", q62);
	assert_int_equal(parse_str(path, 0, &a, &err), 0);
	assert_string_equal(a.local, q62);
	snprintf(path, sizeof(path), "<\"%s\"@example.com>", q63);
	assert_int_equal(parse_str(path, 0, &a, &err), -1);
	assert_int_equal(err, ADDRESS_ERR_LOCAL_TOO_LONG);
	/* backslashes count on the wire */
	snprintf(path, sizeof(path), "<\"%.60s\\\\\\\\\"@example.com>", q62);
	assert_int_equal(parse_str(path, 0, &a, &err), -1);
	assert_int_equal(err, ADDRESS_ERR_LOCAL_TOO_LONG);
	/* UTF-8 is counted in octets */
	snprintf(path, sizeof(path), "<%.62s\xc3\xb6@example.com>", l64);
	assert_int_equal(parse_str(path, U8, &a, &err), 0);
	snprintf(path, sizeof(path), "<%.63s\xc3\xb6@example.com>", l64);
	assert_int_equal(parse_str(path, U8, &a, &err), -1);
	assert_int_equal(err, ADDRESS_ERR_LOCAL_TOO_LONG);

	/* labels: 63 fine, 64 is not a label */
	char *lab63 = repeat('d', 63), *lab64 = repeat('d', 64);
	snprintf(path, sizeof(path), "<u@%s.example>", lab63);
	assert_int_equal(parse_str(path, 0, &a, &err), 0);
	snprintf(path, sizeof(path), "<u@%s.example>", lab64);
	assert_int_equal(parse_str(path, 0, &a, &err), -1);
	assert_int_equal(err, ADDRESS_ERR_SYNTAX);

	/* domain: 255 octets is a domain, 256 is not */
	char dom255[300], dom256[300];
	snprintf(dom255, sizeof(dom255), "%s.%s.%s.%s", lab63, lab63, lab63, lab63);
	assert_int_equal(strlen(dom255), 255);
	snprintf(dom256, sizeof(dom256), "%s.%s.%s.%.62s.a", lab63, lab63, lab63, lab63);
	assert_int_equal(strlen(dom256), 256);
	unsigned int flags;
	assert_int_equal(address_parse_domain(dom255, 255, 0, &flags, &err), 0);
	assert_int_equal(address_parse_domain(dom256, 256, 0, &flags, &err), -1);
	assert_int_equal(err, ADDRESS_ERR_DOMAIN_TOO_LONG);
	snprintf(path, sizeof(path), "<u@%s>", dom256);
	assert_int_equal(parse_str(path, 0, &a, &err), -1);
	assert_int_equal(err, ADDRESS_ERR_DOMAIN_TOO_LONG);

	/* path: 256 octets with brackets fine, 257 too long */
	char dom252[300], dom253[300];
	snprintf(dom252, sizeof(dom252), "%s.%s.%s.%.60s", lab63, lab63, lab63, lab63);
	snprintf(dom253, sizeof(dom253), "%s.%s.%s.%.61s", lab63, lab63, lab63, lab63);
	snprintf(path, sizeof(path), "<u@%s>", dom252);
	assert_int_equal(strlen(path), 256);
	assert_int_equal(parse_str(path, 0, &a, &err), 0);
	assert_string_equal(a.domain, dom252);
	snprintf(path, sizeof(path), "<u@%s>", dom253);
	assert_int_equal(parse_str(path, 0, &a, &err), -1);
	assert_int_equal(err, ADDRESS_ERR_PATH_TOO_LONG);
	/* without brackets they are counted as if present */
	snprintf(path, sizeof(path), "u@%s", dom252);
	assert_int_equal(parse_str(path, NB, &a, &err), 0);
	snprintf(path, sizeof(path), "u@%s", dom253);
	assert_int_equal(parse_str(path, NB, &a, &err), -1);
	assert_int_equal(err, ADDRESS_ERR_PATH_TOO_LONG);
	/* a long source route makes the path too long */
	size_t n = 0;
	n += (size_t)snprintf(path + n, sizeof(path) - n, "<");
	for (int k = 0; k < 20; k++)
		n += (size_t)snprintf(path + n, sizeof(path) - n, "%s@hop%d.example", k ? "," : "",
		                      k);
	snprintf(path + n, sizeof(path) - n, ":u@example.com>");
	assert_int_equal(parse_str(path, 0, &a, &err), -1);
	assert_int_equal(err, ADDRESS_ERR_PATH_TOO_LONG);

	free(l64);
	free(l65);
	free(q62);
	free(q63);
	free(lab63);
	free(lab64);
}

static void test_parse_domain(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		unsigned int pflags;
		int ret;
		unsigned int flags;
	} cases[] = {
	    {"mail.example.com", 0, 0, 0},
	    {"localhost", 0, 0, 0},
	    {"mail.example.com.", 0, 0, ADDRESS_TRAILING_DOT},
	    {"[192.0.2.1]", 0, 0, ADDRESS_LITERAL},
	    {"[IPv6:2001:db8::25]", 0, 0, ADDRESS_LITERAL | ADDRESS_LITERAL_IPV6},
	    {"b\xc3\xbc"
	     "cher.example",
	     U8, 0, ADDRESS_UTF8},
	    {"b\xc3\xbc"
	     "cher.example",
	     0, -1, 0},
	    {"", 0, -1, 0},
	    {"ex ample.com", 0, -1, 0},
	    {"192.0.2.1]", 0, -1, 0},
	    {"[192.0.2.1", 0, -1, 0},
	    {"host_name.example", 0, -1, 0},
	    {"-host.example", 0, -1, 0},
	    {"a..b", 0, -1, 0},
	    {".", 0, -1, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned int flags = 99;
		enum address_error err;
		int ret = address_parse_domain(cases[i].in, strlen(cases[i].in), cases[i].pflags,
		                               &flags, &err);
		if (ret != cases[i].ret || (ret == 0 && flags != cases[i].flags)) {
			fprintf(stderr, "domain case %zu \"%s\": ret %d flags %#x\n", i,
			        cases[i].in, ret, flags);
			fail();
		}
	}
	enum address_error err;
	unsigned int flags;
	assert_int_equal(address_parse_domain("b\xc3\xbc", 3, 0, &flags, &err), -1);
	assert_int_equal(err, ADDRESS_ERR_8BIT);
}

static void test_error_reply(void **state)
{
	(void)state;
	unsigned int code;
	const char *enh;
	const char *text = address_error_reply(ADDRESS_ERR_SYNTAX, true, &code, &enh);
	assert_int_equal(code, 501);
	assert_string_equal(enh, "5.1.3");
	assert_string_equal(text, "Bad recipient address syntax");
	text = address_error_reply(ADDRESS_ERR_SYNTAX, false, &code, &enh);
	assert_int_equal(code, 501);
	assert_string_equal(enh, "5.1.7");
	assert_string_equal(text, "Bad sender address syntax");
	text = address_error_reply(ADDRESS_ERR_8BIT, true, &code, &enh);
	assert_int_equal(code, 553);
	assert_string_equal(enh, "5.6.7");
	text = address_error_reply(ADDRESS_ERR_LOCAL_TOO_LONG, false, &code, &enh);
	assert_int_equal(code, 501);
	assert_string_equal(enh, "5.1.7");
	assert_non_null(strstr(text, "too long"));
	/* every error has distinct text for a recipient */
	const char *seen[8];
	for (int e = ADDRESS_ERR_SYNTAX; e <= ADDRESS_ERR_BAD_UTF8; e++) {
		seen[e] = address_error_reply((enum address_error)e, true, &code, &enh);
		assert_true(code == 501 || code == 553);
		for (int k = ADDRESS_ERR_SYNTAX; k < e; k++)
			assert_string_not_equal(seen[k], seen[e]);
		assert_string_not_equal(address_error_str((enum address_error)e), "");
	}
}

static void test_routing_and_fqdn(void **state)
{
	(void)state;
	assert_true(address_local_has_routing("user%other.net"));
	assert_true(address_local_has_routing("other.net!user"));
	assert_true(address_local_has_routing("user@other.net"));
	assert_false(address_local_has_routing("user"));
	assert_false(address_local_has_routing("user+tag.x"));
	assert_false(address_local_has_routing(""));

	assert_true(address_domain_is_fqdn("example.com"));
	assert_true(address_domain_is_fqdn("mail.example.com."));
	assert_true(address_domain_is_fqdn("[192.0.2.1]"));
	assert_false(address_domain_is_fqdn("localhost"));
	assert_false(address_domain_is_fqdn("ours."));
	assert_false(address_domain_is_fqdn(""));
}

static void test_canonical(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		unsigned int pflags;
		const char *canonical;
		const char *formatted;
	} cases[] = {
	    {"<User@Example.COM>", 0, "user@example.com", "User@Example.COM"},
	    {"<user@ours.example.>", 0, "user@ours.example", "user@ours.example."},
	    {"<User%Other.Net@OURS.example>", 0, "user%other.net@ours.example",
	     "User%Other.Net@OURS.example"},
	    {"<\"John Doe\"@example.com>", 0, "john doe@example.com", "\"John Doe\"@example.com"},
	    {"<\"plain\"@example.com>", 0, "plain@example.com", "plain@example.com"},
	    {"<\"a\\\"b\\\\c\"@x.example>", 0, "a\"b\\c@x.example", "\"a\\\"b\\\\c\"@x.example"},
	    {"<\"user@other.net\"@ours>", 0, "user@other.net@ours", "\"user@other.net\"@ours"},
	    {"<a..b@x.example>", 0, "a..b@x.example", "\"a..b\"@x.example"},
	    {"<@r.example:u@X.example>", 0, "u@x.example", "u@X.example"},
	    {"<u@[IPv6:2001:DB8::1]>", 0, "u@[ipv6:2001:db8::1]", "u@[IPv6:2001:DB8::1]"},
	    {"<J\xc3\x96RG@B\xc3\x9c"
	     "CHER.example>",
	     U8,
	     "j\xc3\x96rg@b\xc3\x9c"
	     "cher.example",
	     "J\xc3\x96RG@B\xc3\x9c"
	     "CHER.example"},
	    {"<>", NUL_OK, "", ""},
	    {"<Postmaster>", PM, "postmaster", "Postmaster"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct address a, again;
		enum address_error err;
		struct buf b = BUF_INIT;
		assert_int_equal(parse_str(cases[i].in, cases[i].pflags, &a, &err), 0);
		address_canonical(&a, &b);
		assert_string_equal(buf_cstr(&b), cases[i].canonical);
		buf_reset(&b);
		address_format(&a, &b);
		assert_string_equal(buf_cstr(&b), cases[i].formatted);
		/* formatting and parsing again gives the same address */
		if ((a.flags & ADDRESS_NULL) == 0) {
			struct buf p = BUF_INIT;
			buf_append_c(&p, '<');
			buf_append(&p, b.data, b.len);
			buf_append_c(&p, '>');
			assert_int_equal(parse_str(buf_cstr(&p), cases[i].pflags, &again, &err), 0);
			assert_string_equal(again.local, a.local);
			assert_string_equal(again.domain, a.domain);
			buf_free(&p);
		}
		buf_free(&b);
	}
	char out[ADDRESS_DOMAIN_MAX + 1];
	address_domain_canonical("Ours.Example.", out);
	assert_string_equal(out, "ours.example");
	address_domain_canonical("", out);
	assert_string_equal(out, "");
	address_domain_canonical(".", out);
	assert_string_equal(out, "");
}

static void test_utf8(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		bool valid;
	} cases[] = {
	    {"", true},
	    {"ascii", true},
	    {"\xc3\xb6", true},
	    {"\xe2\x82\xac", true},
	    {"\xf0\x9f\x98\x80", true},
	    {"\xef\xbf\xbf", true},
	    {"\xf4\x8f\xbf\xbf", true},  /* U+10FFFF */
	    {"\xed\x9f\xbf", true},      /* U+D7FF */
	    {"\xee\x80\x80", true},      /* U+E000 */
	    {"\xc2\x80", true},          /* U+0080 */
	    {"\xc1\xbf", false},         /* overlong */
	    {"\xc0\x80", false},         /* overlong NUL */
	    {"\xe0\x9f\xbf", false},     /* overlong */
	    {"\xf0\x8f\xbf\xbf", false}, /* overlong */
	    {"\xed\xa0\x80", false},     /* U+D800 */
	    {"\xed\xbf\xbf", false},     /* U+DFFF */
	    {"\xf4\x90\x80\x80", false}, /* U+110000 */
	    {"\xf5\x80\x80\x80", false},
	    {"\xff", false},
	    {"\x80", false},
	    {"\xc3", false},
	    {"\xe2\x82", false},
	    {"\xc3\xb6\xc3", false},
	    {"\xe2\x28\xa1", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (utf8_valid(cases[i].s, strlen(cases[i].s)) != cases[i].valid) {
			fprintf(stderr, "utf8 case %zu\n", i);
			fail();
		}
	}
	assert_int_equal(utf8_char_len((const unsigned char *)"\xe2\x82\xac", 3), 3);
	assert_int_equal(utf8_char_len((const unsigned char *)"\xe2\x82\xac", 2), 0);
	assert_int_equal(utf8_char_len((const unsigned char *)"a", 1), 1);
	assert_int_equal(utf8_char_len((const unsigned char *)"", 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path_table),
	    cmocka_unit_test(test_path_exact_buffer),
	    cmocka_unit_test(test_consumed),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_parse_domain),
	    cmocka_unit_test(test_error_reply),
	    cmocka_unit_test(test_routing_and_fqdn),
	    cmocka_unit_test(test_canonical),
	    cmocka_unit_test(test_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
