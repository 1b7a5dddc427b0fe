/*
 * test-addr.c - listener addresses (core/addr.h).
 *
 * addr_parse on good input (IPv4, [IPv6], "*", the port bounds 1 and
 * 65535) checking family, address, port and length; on bad input
 * (missing or empty port, ports 0, 65536 and non-numbers, IPv6 without
 * brackets, host names, over-long hosts); addr_format and addr_ip print
 * what was parsed, and the print parses back to the same address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "core/addr.h"

struct good {
	const char *in;
	int family;
	const char *ip; /* as addr_ip prints it */
	unsigned port;
	const char *format; /* as addr_format prints it */
};

static const struct good goods[] = {
    {"127.0.0.1:25", AF_INET, "127.0.0.1", 25, "127.0.0.1:25"},
    {"0.0.0.0:65535", AF_INET, "0.0.0.0", 65535, "0.0.0.0:65535"},
    {"192.0.2.7:1", AF_INET, "192.0.2.7", 1, "192.0.2.7:1"},
    {"*:587", AF_INET, "0.0.0.0", 587, "0.0.0.0:587"},
    {"255.255.255.255:993", AF_INET, "255.255.255.255", 993, "255.255.255.255:993"},
    {"[::1]:25", AF_INET6, "::1", 25, "[::1]:25"},
    {"[::]:143", AF_INET6, "::", 143, "[::]:143"},
    {"[2001:db8::1]:65535", AF_INET6, "2001:db8::1", 65535, "[2001:db8::1]:65535"},
    {"[2001:0DB8:0:0:0:0:0:1]:4190", AF_INET6, "2001:db8::1", 4190, "[2001:db8::1]:4190"},
    {"[::ffff:192.0.2.1]:465", AF_INET6, "::ffff:192.0.2.1", 465, "[::ffff:192.0.2.1]:465"},
    {"[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:25", AF_INET6,
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 25, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:25"},
};

static const char *const bads[] = {
    "",
    "127.0.0.1",
    "127.0.0.1:",
    "127.0.0.1:0",
    "127.0.0.1:65536",
    "127.0.0.1:99999",
    "127.0.0.1:-1",
    "127.0.0.1:25x",
    "127.0.0.1:0x19",
    "127.0.0.1:2 5",
    "127.0.0.1:25:25",
    "[::1]:0",
    "[::1]:65536",
    "[::1]",
    "[::1]25",
    "[::1]:",
    "[::1",
    "::1:25",
    "2001:db8::1:25",
    "1.2.3:25",
    "1.2.3.4.5:25",
    "256.1.1.1:25",
    "localhost:25",
    "mail.example.com:25",
    "[mail.example.com]:25",
    "[fe80::1%lo]:25",
    "[::1::2]:25",
    "[0000:0000:0000:0000:0000:0000:0000:0000:0000]:25",
    "[0000000000000000000000000000000000000000000000000000000000000000000000000001]:25",
    "1111111111111111111111111111111111111111111111111111111.2.3.4:25",
};

static void test_parse_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		const struct good *g = &goods[i];
		struct addr a;
		const char *err = NULL;
		if (addr_parse(g->in, &a, &err) != 0)
			fail_msg("'%s' refused: %s", g->in, err);
		const struct sockaddr *sa = (const struct sockaddr *)&a.ss;
		assert_int_equal(sa->sa_family, g->family);
		if (g->family == AF_INET) {
			const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
			assert_int_equal(a.len, sizeof(struct sockaddr_in));
			assert_int_equal(ntohs(sin->sin_port), g->port);
			struct in_addr want;
			assert_int_equal(inet_pton(AF_INET, g->ip, &want), 1);
			assert_memory_equal(&sin->sin_addr, &want, sizeof(want));
		} else {
			const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
			assert_int_equal(a.len, sizeof(struct sockaddr_in6));
			assert_int_equal(ntohs(sin6->sin6_port), g->port);
			struct in6_addr want;
			assert_int_equal(inet_pton(AF_INET6, g->ip, &want), 1);
			assert_memory_equal(&sin6->sin6_addr, &want, sizeof(want));
		}
		char out[64], ip[64];
		assert_string_equal(addr_format(sa, out, sizeof(out)), g->format);
		assert_string_equal(addr_ip(sa, ip, sizeof(ip)), g->ip);

		/* the print parses back to the same address */
		struct addr b;
		if (addr_parse(out, &b, &err) != 0)
			fail_msg("printed '%s' refused: %s", out, err);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(&a.ss, &b.ss, a.len);
	}
}

static void test_parse_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		struct addr a;
		const char *err = NULL;
		if (addr_parse(bads[i], &a, &err) != -1)
			fail_msg("'%s' accepted", bads[i]);
		assert_non_null(err);
		assert_true(strlen(err) > 0);
	}
	/* the messages the configuration shows */
	struct addr a;
	const char *err;
	assert_int_equal(addr_parse("127.0.0.1", &a, &err), -1);
	assert_string_equal(err, "expected ip:port or [ipv6]:port");
	assert_int_equal(addr_parse("[::1]", &a, &err), -1);
	assert_string_equal(err, "expected [ipv6]:port");
	assert_int_equal(addr_parse("127.0.0.1:0", &a, &err), -1);
	assert_string_equal(err, "port must be a number from 1 to 65535");
	assert_int_equal(addr_parse("127.0.0.1:65536", &a, &err), -1);
	assert_string_equal(err, "port must be a number from 1 to 65535");
	assert_int_equal(addr_parse("mail.example.com:25", &a, &err), -1);
	assert_string_equal(err, "not a numeric IPv4 or IPv6 address");
}

static void test_format_other(void **state)
{
	(void)state;
	struct sockaddr_un sun;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	char out[64];
	assert_string_equal(addr_format((struct sockaddr *)&sun, out, sizeof(out)), "unix");
	assert_string_equal(addr_ip((struct sockaddr *)&sun, out, sizeof(out)), "unix");
	/* a short output buffer is cut, never overrun */
	struct addr a;
	const char *err;
	assert_int_equal(addr_parse("[2001:db8::1]:65535", &a, &err), 0);
	char small[8];
	memset(small, 'Z', sizeof(small));
	addr_format((struct sockaddr *)&a.ss, small, 6);
	assert_int_equal(small[6], 'Z');
	assert_true(strlen(small) < 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_good),
	    cmocka_unit_test(test_parse_bad),
	    cmocka_unit_test(test_format_other),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
