/*
 * test-buf.c - the byte buffer (core/buf.h) and log_esc (core/log.h).
 *
 * Growth through append, append_c and appendf (formatted output that
 * ends exactly at, one before and one past the room left), binary data
 * with NUL bytes, consume / truncate / steal / reset / free and the
 * invariant data[len] == '\0' after each of them. buf_append_escaped is
 * checked for every byte value 0..255 against the rule of buf.h
 * (printable ASCII but '\\', '"', ' ', '=' kept, the rest \xHH) and for
 * truncation with "..." at, below and above max_in.
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
#include "core/log.h"

/* check_inv: the invariants every operation must keep. */
static void check_inv(const struct buf *b)
{
	if (b->data == NULL) {
		assert_int_equal(b->len, 0);
		assert_int_equal(b->cap, 0);
		return;
	}
	assert_true(b->cap > b->len);
	assert_int_equal(b->data[b->len], '\0');
}

static void test_init_and_free(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	check_inv(&b);
	assert_string_equal(buf_cstr(&b), "");
	buf_free(&b);
	check_inv(&b);
	buf_append_str(&b, "x");
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	/* a zero-length append still makes a C string */
	buf_append(&b, "", 0);
	check_inv(&b);
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	buf_free(&b);
	/* reset of a never allocated buffer */
	buf_reset(&b);
	check_inv(&b);
}

static void test_append_growth(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	char expect[20000];
	for (size_t i = 0; i < sizeof(expect); i++) {
		char c = (char)('a' + i % 26);
		expect[i] = c;
		buf_append_c(&b, c);
		check_inv(&b);
		assert_int_equal(b.len, i + 1);
	}
	assert_memory_equal(b.data, expect, sizeof(expect));
	buf_free(&b);

	/* chunks of every size 0..300 */
	struct buf big = BUF_INIT;
	struct buf ref = BUF_INIT;
	size_t total = 0;
	for (size_t n = 0; n <= 300; n++) {
		buf_append(&big, expect + n, n);
		total += n;
		check_inv(&big);
		assert_int_equal(big.len, total);
		for (size_t k = 0; k < n; k++)
			buf_append_c(&ref, expect[n + k]);
	}
	assert_int_equal(big.len, ref.len);
	assert_memory_equal(big.data, ref.data, ref.len);
	buf_free(&big);
	buf_free(&ref);

	/* reserve gives room without changing the contents */
	struct buf r = BUF_INIT;
	buf_append_str(&r, "abc");
	buf_reserve(&r, 100000);
	check_inv(&r);
	assert_true(r.cap - r.len > 100000);
	assert_string_equal(r.data, "abc");
	char *before = r.data;
	buf_append(&r, expect, 100000 > sizeof(expect) ? sizeof(expect) : 100000);
	assert_ptr_equal(r.data, before);
	buf_free(&r);
}

static void test_appendf(void **state)
{
	(void)state;
	char fill[600];
	memset(fill, 'f', sizeof(fill));
	fill[sizeof(fill) - 1] = '\0';
	/* every prefix length against every formatted length around the
	 * capacity steps: the formatted text must land whole */
	for (size_t pre = 0; pre < 140; pre++) {
		for (size_t n = 0; n < 300; n += (n < 140 ? 1 : 37)) {
			struct buf b = BUF_INIT;
			buf_append(&b, fill, pre);
			buf_appendf(&b, "<%.*s>", (int)n, fill);
			check_inv(&b);
			assert_int_equal(b.len, pre + n + 2);
			assert_int_equal(b.data[pre], '<');
			assert_int_equal(b.data[pre + n + 1], '>');
			for (size_t i = 0; i < pre + n + 2; i++)
				if (i != pre && i != pre + n + 1)
					assert_int_equal(b.data[i], 'f');
			buf_free(&b);
		}
	}
	struct buf b = BUF_INIT;
	buf_appendf(&b, "%s", "");
	check_inv(&b);
	assert_int_equal(b.len, 0);
	buf_appendf(&b, "%d-%s-%c-%llu", -42, "x y", 'z', 18446744073709551615ULL);
	assert_string_equal(b.data, "-42-x y-z-18446744073709551615");
	/* large formatted output at once */
	buf_appendf(&b, "%05000d", 7);
	check_inv(&b);
	assert_int_equal(b.len, 30 + 5000);
	assert_int_equal(b.data[b.len - 1], '7');
	assert_int_equal(b.data[30], '0');
	buf_free(&b);
}

static void test_binary(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	static const char bin[] = {'a', '\0', 'b', '\0', '\0', (char)0xff, '\n'};
	buf_append(&b, bin, sizeof(bin));
	check_inv(&b);
	assert_int_equal(b.len, sizeof(bin));
	assert_memory_equal(b.data, bin, sizeof(bin));
	buf_append(&b, bin, sizeof(bin));
	assert_int_equal(b.len, 2 * sizeof(bin));
	assert_memory_equal(b.data + sizeof(bin), bin, sizeof(bin));
	buf_consume(&b, 1);
	check_inv(&b);
	assert_int_equal(b.len, 2 * sizeof(bin) - 1);
	assert_memory_equal(b.data, bin + 1, sizeof(bin) - 1);
	buf_truncate(&b, 3);
	check_inv(&b);
	assert_memory_equal(b.data, "\0b\0", 3);
	buf_free(&b);
}

static void test_consume_truncate(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_append_str(&b, "0123456789");
	buf_consume(&b, 0);
	assert_string_equal(b.data, "0123456789");
	buf_consume(&b, 3);
	check_inv(&b);
	assert_string_equal(b.data, "3456789");
	assert_int_equal(b.len, 7);
	buf_consume(&b, 6);
	check_inv(&b);
	assert_string_equal(b.data, "9");
	buf_consume(&b, 1);
	check_inv(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");

	buf_append_str(&b, "abcdef");
	buf_truncate(&b, 10); /* longer: unchanged */
	assert_string_equal(b.data, "abcdef");
	buf_truncate(&b, 6);
	assert_string_equal(b.data, "abcdef");
	buf_truncate(&b, 2);
	check_inv(&b);
	assert_string_equal(b.data, "ab");
	assert_int_equal(b.len, 2);
	buf_truncate(&b, 0);
	check_inv(&b);
	assert_int_equal(b.len, 0);
	buf_append_str(&b, "xy");
	assert_string_equal(b.data, "xy");
	buf_free(&b);
}

static void test_reset_steal(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_append_str(&b, "hello world");
	size_t cap = b.cap;
	char *data = b.data;
	buf_reset(&b);
	check_inv(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, cap);
	assert_ptr_equal(b.data, data);
	assert_string_equal(buf_cstr(&b), "");
	buf_append_str(&b, "again");

	char *s = buf_steal(&b);
	assert_string_equal(s, "again");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_string_equal(buf_cstr(&b), "");
	free(s);

	/* steal of an empty buffer is a malloc'd "" */
	s = buf_steal(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	/* the buffer is usable after a steal */
	buf_append_str(&b, "more");
	assert_string_equal(buf_cstr(&b), "more");
	buf_free(&b);
}

/* escape_expect: the escaping rule of buf.h, written out independently. */
static void escape_expect(struct buf *out, const unsigned char *s, size_t n, size_t max_in)
{
	size_t lim = n < max_in ? n : max_in;
	for (size_t i = 0; i < lim; i++) {
		unsigned char c = s[i];
		bool plain = c >= 0x21 && c <= 0x7e && c != '\\' && c != '"' && c != '=';
		if (plain)
			buf_append_c(out, (char)c);
		else
			buf_appendf(out, "\\x%02x", c);
	}
	if (n > max_in)
		buf_append_str(out, "...");
}

static void test_escaped_every_byte(void **state)
{
	(void)state;
	for (unsigned c = 0; c < 256; c++) {
		char in = (char)c;
		struct buf b = BUF_INIT;
		buf_append_escaped(&b, &in, 1, 10);
		check_inv(&b);
		if (c > 0x20 && c < 0x7f && c != '\\' && c != '"' && c != '=') {
			assert_int_equal(b.len, 1);
			assert_int_equal((unsigned char)b.data[0], c);
		} else {
			char e[8];
			snprintf(e, sizeof(e), "\\x%02x", c);
			assert_string_equal(b.data, e);
		}
		buf_free(&b);
	}
	/* the characters that could forge fields or lines */
	static const struct {
		const char *in, *out;
	} named[] = {
	    {" ", "\\x20"}, {"\"", "\\x22"},        {"\\", "\\x5c"},
	    {"=", "\\x3d"}, {"\r\n", "\\x0d\\x0a"}, {"a=b c", "a\\x3db\\x20c"},
	    {"~!", "~!"},
	};
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		struct buf b = BUF_INIT;
		buf_append_escaped(&b, named[i].in, strlen(named[i].in), 100);
		assert_string_equal(b.data, named[i].out);
		buf_free(&b);
	}
	/* all 256 at once, NUL included, appended after existing text */
	unsigned char all[256];
	for (unsigned i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	struct buf b = BUF_INIT, want = BUF_INIT;
	buf_append_str(&b, "k=");
	buf_append_str(&want, "k=");
	buf_append_escaped(&b, (const char *)all, sizeof(all), sizeof(all));
	escape_expect(&want, all, sizeof(all), sizeof(all));
	assert_int_equal(b.len, want.len);
	assert_string_equal(b.data, want.data);
	buf_free(&b);
	buf_free(&want);
}

static void test_escaped_truncation(void **state)
{
	(void)state;
	static const char *in = "ab\"cd efgh";
	size_t n = strlen(in);
	for (size_t max_in = 0; max_in <= n + 2; max_in++) {
		struct buf b = BUF_INIT, want = BUF_INIT;
		buf_append_escaped(&b, in, n, max_in);
		escape_expect(&want, (const unsigned char *)in, n, max_in);
		check_inv(&b);
		assert_string_equal(buf_cstr(&b), buf_cstr(&want));
		if (max_in < n)
			assert_int_equal(memcmp(b.data + b.len - 3, "...", 3), 0);
		else
			assert_null(strstr(buf_cstr(&b), "..."));
		buf_free(&b);
		buf_free(&want);
	}
	/* empty input: nothing, not even "..." */
	struct buf b = BUF_INIT;
	buf_append_escaped(&b, "", 0, 0);
	assert_int_equal(b.len, 0);
	buf_append_escaped(&b, "x", 1, 0);
	assert_string_equal(b.data, "...");
	buf_free(&b);
}

static void test_log_esc(void **state)
{
	(void)state;
	assert_string_equal(log_esc("a b=\"c\"\n"), "a\\x20b\\x3d\\x22c\\x22\\x0a");
	assert_string_equal(log_esc(NULL), "");
	char long_in[400];
	memset(long_in, 'x', sizeof(long_in) - 1);
	long_in[sizeof(long_in) - 1] = '\0';
	const char *e = log_esc(long_in);
	assert_int_equal(strlen(e), 203);
	assert_string_equal(e + 200, "...");
	/* a few calls in one log line each keep their own result */
	const char *e1 = log_esc("one"), *e2 = log_esc("two");
	assert_string_equal(e1, "one");
	assert_string_equal(e2, "two");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_and_free),
	    cmocka_unit_test(test_append_growth),
	    cmocka_unit_test(test_appendf),
	    cmocka_unit_test(test_binary),
	    cmocka_unit_test(test_consume_truncate),
	    cmocka_unit_test(test_reset_steal),
	    cmocka_unit_test(test_escaped_every_byte),
	    cmocka_unit_test(test_escaped_truncation),
	    cmocka_unit_test(test_log_esc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
