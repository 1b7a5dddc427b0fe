/*
 * test-cidr.c - networks as mynetworks writes them (core/cidr.h).
 *
 * cidr_parse on good input (/0, /32, bare addresses, [v6]/128, mapped
 * networks) checking family, address bytes and prefix length, and on
 * bad input (/33, /129, empty or signed or trailing prefixes, host
 * names, unbalanced brackets). cidr_match on a table of network and
 * client pairs: both sides of prefixes that do not end on a byte,
 * /0, /1, /31, IPv4-mapped IPv6 clients against IPv4 networks (and
 * not IPv4-compatible ones), families that must not mix, non-IP
 * sockets. cidr_list_match over a list.
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

#include "core/cidr.h"

/* sockaddr_of: a sockaddr for a numeric IPv4 or IPv6 address. */
static const struct sockaddr *sockaddr_of(const char *ip, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(25);
	} else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(25);
	} else {
		fail_msg("bad test address %s", ip);
	}
	return (const struct sockaddr *)ss;
}

static void test_parse_good(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int family;
		const char *ip;
		unsigned bits;
	} t[] = {
	    {"127.0.0.0/8", AF_INET, "127.0.0.0", 8},
	    {"0.0.0.0/0", AF_INET, "0.0.0.0", 0},
	    {"192.0.2.1", AF_INET, "192.0.2.1", 32},
	    {"192.0.2.1/32", AF_INET, "192.0.2.1", 32},
	    {"192.0.2.1/24", AF_INET, "192.0.2.1", 24},
	    {"::1", AF_INET6, "::1", 128},
	    {"[::1]/128", AF_INET6, "::1", 128},
	    {"[::1]", AF_INET6, "::1", 128},
	    {"[::]/0", AF_INET6, "::", 0},
	    {"2001:db8::/32", AF_INET6, "2001:db8::", 32},
	    {"[2001:db8::]/33", AF_INET6, "2001:db8::", 33},
	    {"[::ffff:127.0.0.0]/104", AF_INET6, "::ffff:127.0.0.0", 104},
	    {"[fe80::]/10", AF_INET6, "fe80::", 10},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cidr c;
		if (cidr_parse(t[i].in, &c) != 0)
			fail_msg("'%s' refused", t[i].in);
		assert_int_equal(c.family, t[i].family);
		assert_int_equal(c.bits, t[i].bits);
		uint8_t want[16] = {0};
		assert_int_equal(inet_pton(t[i].family, t[i].ip, want), 1);
		assert_memory_equal(c.addr, want, t[i].family == AF_INET ? 4 : 16);
	}
}

static void test_parse_bad(void **state)
{
	(void)state;
	static const char *const t[] = {
	    "",
	    "/8",
	    "127.0.0.0/",
	    "127.0.0.0/33",
	    "127.0.0.0/99999999999999999999999",
	    "127.0.0.0/4294967304",
	    "127.0.0.0/-1",
	    "127.0.0.0/+8",
	    "127.0.0.0/ 8",
	    "127.0.0.0/8 ",
	    "127.0.0.0/8/8",
	    "127.0.0.0/8x",
	    "127.0.0/8",
	    "300.0.0.0/8",
	    " 127.0.0.1",
	    "[::1]/129",
	    "::1/129",
	    "[::1]/",
	    "[::1",
	    "::1]",
	    "[]",
	    "[]/8",
	    "[",
	    "]",
	    "localhost",
	    "mail.example.com/24",
	    "[::1]x/128",
	    "fe80::1%lo/64",
	    "0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001/128",
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cidr c;
		if (cidr_parse(t[i], &c) != -1)
			fail_msg("'%s' accepted", t[i]);
	}
}

static void test_match(void **state)
{
	(void)state;
	static const struct {
		const char *net, *client;
		bool match;
	} t[] = {
	    {"127.0.0.0/8", "127.0.0.1", true},
	    {"127.0.0.0/8", "127.255.255.255", true},
	    {"127.0.0.0/8", "126.255.255.255", false},
	    {"127.0.0.0/8", "128.0.0.0", false},
	    {"0.0.0.0/0", "1.2.3.4", true},
	    {"0.0.0.0/0", "255.255.255.255", true},
	    {"192.0.2.1", "192.0.2.1", true},
	    {"192.0.2.1", "192.0.2.2", false},
	    {"192.0.2.1/32", "192.0.2.0", false},
	    {"192.0.2.99/24", "192.0.2.1", true}, /* host bits in the network are ignored */
	    /* prefixes that do not end on a byte: both sides of the edge */
	    {"128.0.0.0/1", "255.255.255.255", true},
	    {"128.0.0.0/1", "127.255.255.255", false},
	    {"10.0.0.0/9", "10.127.255.255", true},
	    {"10.0.0.0/9", "10.128.0.0", false},
	    {"172.16.0.0/12", "172.16.0.0", true},
	    {"172.16.0.0/12", "172.31.255.255", true},
	    {"172.16.0.0/12", "172.32.0.0", false},
	    {"172.16.0.0/12", "172.15.255.255", false},
	    {"192.168.4.0/22", "192.168.7.255", true},
	    {"192.168.4.0/22", "192.168.8.0", false},
	    {"192.168.4.0/22", "192.168.3.255", false},
	    {"192.0.2.128/25", "192.0.2.128", true},
	    {"192.0.2.128/25", "192.0.2.127", false},
	    {"192.0.2.4/31", "192.0.2.4", true},
	    {"192.0.2.4/31", "192.0.2.5", true},
	    {"192.0.2.4/31", "192.0.2.6", false},
	    {"192.0.2.4/31", "192.0.2.3", false},
	    {"198.51.100.0/23", "198.51.101.200", true},
	    {"198.51.100.0/23", "198.51.102.0", false},
	    /* IPv4-mapped IPv6 clients match IPv4 networks */
	    {"127.0.0.0/8", "::ffff:127.0.0.1", true},
	    {"127.0.0.0/8", "::ffff:128.0.0.1", false},
	    {"10.0.0.0/9", "::ffff:10.127.0.1", true},
	    {"10.0.0.0/9", "::ffff:10.128.0.1", false},
	    {"192.0.2.1", "::ffff:192.0.2.1", true},
	    {"0.0.0.0/0", "::ffff:1.2.3.4", true},
	    /* but not other IPv6 clients, not even IPv4-compatible ones */
	    {"127.0.0.0/8", "::127.0.0.1", false},
	    {"0.0.0.0/0", "::1", false},
	    {"0.0.0.0/0", "2001:db8::1", false},
	    {"127.0.0.0/8", "::ffff:0:127.0.0.1", false},
	    /* mapped networks written as IPv6 */
	    {"[::ffff:127.0.0.0]/104", "::ffff:127.0.0.1", true},
	    {"[::ffff:127.0.0.0]/104", "::ffff:128.0.0.1", false},
	    /* IPv6 */
	    {"[::1]/128", "::1", true},
	    {"[::1]/128", "::2", false},
	    {"::1", "::1", true},
	    {"[::]/0", "2001:db8::1", true},
	    {"[::]/0", "::ffff:1.2.3.4", true},
	    {"[::]/0", "1.2.3.4", false},
	    {"[2001:db8::]/32", "2001:db8:ffff:ffff::1", true},
	    {"[2001:db8::]/32", "2001:db9::1", false},
	    {"[2001:db8::]/33", "2001:db8:7fff::1", true},
	    {"[2001:db8::]/33", "2001:db8:8000::1", false},
	    {"[fe80::]/10", "febf:ffff::1", true},
	    {"[fe80::]/10", "fec0::1", false},
	    {"[fe80::]/10", "fe7f::1", false},
	    {"[2001:db8::]/127", "2001:db8::1", true},
	    {"[2001:db8::]/127", "2001:db8::2", false},
	    {"[2001:db8::8000]/113", "2001:db8::ffff", true},
	    {"[2001:db8::8000]/113", "2001:db8::7fff", false},
	    /* IPv6 networks never match IPv4 clients */
	    {"[::1]/128", "127.0.0.1", false},
	    {"[::ffff:127.0.0.0]/104", "127.0.0.1", false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cidr c;
		struct sockaddr_storage ss;
		if (cidr_parse(t[i].net, &c) != 0)
			fail_msg("'%s' refused", t[i].net);
		bool m = cidr_match(&c, sockaddr_of(t[i].client, &ss));
		if (m != t[i].match)
			fail_msg("%s against %s: %s, want %s", t[i].client, t[i].net,
			         m ? "match" : "no match", t[i].match ? "match" : "no match");
	}
}

/* Every prefix length of one address: the first address outside the
 * network (the bit after the prefix flipped) never matches, the last
 * inside (every bit after the prefix set) always does. */
static void test_match_every_prefix(void **state)
{
	(void)state;
	for (unsigned bits = 0; bits <= 128; bits++) {
		struct cidr c;
		char net[64];
		snprintf(net, sizeof(net), "[2001:db8:1234:5678:9abc:def0:1234:5678]/%u", bits);
		assert_int_equal(cidr_parse(net, &c), 0);
		struct sockaddr_in6 sin6;
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		memcpy(&sin6.sin6_addr, c.addr, 16);
		for (unsigned b = bits; b < 128; b++)
			sin6.sin6_addr.s6_addr[b / 8] |= (uint8_t)(0x80 >> (b % 8));
		assert_true(cidr_match(&c, (struct sockaddr *)&sin6));
		if (bits > 0) {
			memcpy(&sin6.sin6_addr, c.addr, 16);
			sin6.sin6_addr.s6_addr[(bits - 1) / 8] ^=
			    (uint8_t)(0x80 >> ((bits - 1) % 8));
			assert_false(cidr_match(&c, (struct sockaddr *)&sin6));
		}
	}
	for (unsigned bits = 0; bits <= 32; bits++) {
		struct cidr c;
		char net[64];
		snprintf(net, sizeof(net), "203.0.113.77/%u", bits);
		assert_int_equal(cidr_parse(net, &c), 0);
		uint32_t a;
		memcpy(&a, c.addr, 4);
		a = ntohl(a);
		uint32_t mask = bits ? ~0u << (32 - bits) : 0;
		struct sockaddr_in sin;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(a | ~mask);
		assert_true(cidr_match(&c, (struct sockaddr *)&sin));
		/* the same as an IPv4-mapped IPv6 client */
		struct sockaddr_in6 m6;
		memset(&m6, 0, sizeof(m6));
		m6.sin6_family = AF_INET6;
		m6.sin6_addr.s6_addr[10] = m6.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&m6.sin6_addr.s6_addr[12], &sin.sin_addr, 4);
		assert_true(cidr_match(&c, (struct sockaddr *)&m6));
		if (bits > 0) {
			sin.sin_addr.s_addr = htonl(a ^ (1u << (32 - bits)));
			assert_false(cidr_match(&c, (struct sockaddr *)&sin));
			memcpy(&m6.sin6_addr.s6_addr[12], &sin.sin_addr, 4);
			assert_false(cidr_match(&c, (struct sockaddr *)&m6));
		}
	}
}

static void test_list_and_other_families(void **state)
{
	(void)state;
	struct cidr list[3];
	assert_int_equal(cidr_parse("127.0.0.0/8", &list[0]), 0);
	assert_int_equal(cidr_parse("[::ffff:127.0.0.0]/104", &list[1]), 0);
	assert_int_equal(cidr_parse("[::1]/128", &list[2]), 0);
	struct sockaddr_storage ss;
	assert_true(cidr_list_match(list, 3, sockaddr_of("127.0.0.1", &ss)));
	assert_true(cidr_list_match(list, 3, sockaddr_of("::ffff:127.1.2.3", &ss)));
	assert_true(cidr_list_match(list, 3, sockaddr_of("::1", &ss)));
	assert_false(cidr_list_match(list, 3, sockaddr_of("::2", &ss)));
	assert_false(cidr_list_match(list, 3, sockaddr_of("192.0.2.1", &ss)));
	assert_false(cidr_list_match(list, 0, sockaddr_of("127.0.0.1", &ss)));
	assert_true(cidr_list_match(list + 2, 1, sockaddr_of("::1", &ss)));
	assert_false(cidr_list_match(list + 2, 1, sockaddr_of("127.0.0.1", &ss)));

	/* a unix socket client is in no network, not even /0 */
	struct sockaddr_un sun;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	struct cidr all4, all6;
	assert_int_equal(cidr_parse("0.0.0.0/0", &all4), 0);
	assert_int_equal(cidr_parse("[::]/0", &all6), 0);
	assert_false(cidr_match(&all4, (struct sockaddr *)&sun));
	assert_false(cidr_match(&all6, (struct sockaddr *)&sun));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_good),
	    cmocka_unit_test(test_parse_bad),
	    cmocka_unit_test(test_match),
	    cmocka_unit_test(test_match_every_prefix),
	    cmocka_unit_test(test_list_and_other_families),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
