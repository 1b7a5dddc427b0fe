/*
 * test-imap-mutf7.c - modified UTF-7 of mailbox names (imap/imap-mutf7.h).
 *
 * Table-driven: pairs of UTF-8 and mUTF-7 converted both ways (RFC 3501
 * section 5.1.3's examples, a surrogate pair, '&' alone and beside
 * shifted text); invalid mUTF-7 refused with the reasons the header
 * names; invalid UTF-8 refused by the encoder; and a round trip of every
 * BMP code point outside the surrogates and controls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "imap/imap-mutf7.h"

static const struct {
	const char *utf8, *mutf7;
} pairs[] = {
    {"INBOX", "INBOX"},
    {"", ""},
    {"&", "&-"},
    {"a&b", "a&-b"},
    {"Entw\xc3\xbcrfe", "Entw&APw-rfe"},
    {"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
     "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
    {"\xc3\xa4&\xc3\xa4", "&AOQ-&-&AOQ-"},
    {"\xf0\x9f\x98\x80", "&2D3eAA-"},
    {"\xc3\xa4\xc3\xb6\xc3\xbc", "&AOQA9gD8-"},
    {"Sent Items", "Sent Items"},
};

static void test_pairs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct buf b = BUF_INIT;
		const char *err = NULL;
		assert_int_equal(imap_utf8_to_mutf7(pairs[i].utf8, strlen(pairs[i].utf8), &b, &err),
		                 0);
		assert_string_equal(buf_cstr(&b), pairs[i].mutf7);
		buf_reset(&b);
		assert_int_equal(imap_mutf7_check(pairs[i].mutf7, strlen(pairs[i].mutf7), &err), 0);
		assert_int_equal(
		    imap_mutf7_to_utf8(pairs[i].mutf7, strlen(pairs[i].mutf7), &b, &err), 0);
		assert_string_equal(buf_cstr(&b), pairs[i].utf8);
		buf_free(&b);
	}
}

static void test_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "&",            /* unterminated */
	    "&Jjo",         /* unterminated */
	    "a&AGE-",       /* encodes 'a' */
	    "&ACY-",        /* encodes '&' */
	    "&AAw-",        /* encodes a control character */
	    "&-&AOQ-&AOQ-", /* two shifts in a row */
	    "&AOQ-&AOQ-",   /* the same */
	    "&2D3-",        /* half a surrogate pair */
	    "&3gA-",        /* a low surrogate alone */
	    "&AOR-",        /* padding bits not zero */
	    "&AO-",         /* not a whole unit */
	    "&A*Q-",        /* not base64 */
	    "&AOQ/-",       /* '/' instead of ',' */
	    "\xc3\xa4",     /* 8-bit */
	    "a\tb",         /* control */
	    "&--",          /* fine "&" then "-": valid! checked below */
	};
	for (size_t i = 0; i + 1 < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *err = NULL;
		assert_int_equal(imap_mutf7_check(bad[i], strlen(bad[i]), &err), -1);
		assert_non_null(err);
	}
	const char *err;
	assert_int_equal(imap_mutf7_check("&--", 3, &err), 0);
	struct buf b = BUF_INIT;
	assert_int_equal(imap_utf8_to_mutf7("\xc3", 1, &b, &err), -1);
	assert_int_equal(imap_utf8_to_mutf7("\xed\xa0\x80", 3, &b, &err), -1); /* surrogate */
	assert_int_equal(imap_utf8_to_mutf7("\xc0\xaf", 2, &b, &err), -1);     /* overlong */
	assert_int_equal(imap_utf8_to_mutf7("a\nb", 3, &b, &err), -1);
	buf_free(&b);
}

static void test_roundtrip_bmp(void **state)
{
	(void)state;
	for (uint32_t cp = 0x80; cp < 0x10000; cp++) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		char u[8];
		size_t n;
		if (cp < 0x800) {
			u[0] = (char)(0xc0 | (cp >> 6));
			u[1] = (char)(0x80 | (cp & 0x3f));
			n = 2;
		} else {
			u[0] = (char)(0xe0 | (cp >> 12));
			u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
			u[2] = (char)(0x80 | (cp & 0x3f));
			n = 3;
		}
		u[n++] = 'x';
		struct buf m = BUF_INIT, back = BUF_INIT;
		const char *err;
		assert_int_equal(imap_utf8_to_mutf7(u, n, &m, &err), 0);
		assert_int_equal(imap_mutf7_to_utf8(m.data, m.len, &back, &err), 0);
		assert_int_equal(back.len, n);
		assert_memory_equal(back.data, u, n);
		buf_free(&m);
		buf_free(&back);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pairs),
	    cmocka_unit_test(test_invalid),
	    cmocka_unit_test(test_roundtrip_bmp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
