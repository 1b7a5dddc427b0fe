/*
 * test-decode.c - Content-Transfer-Encoding decoders and a part's text
 * (mail/decode.h).
 *
 * Table-driven: each case gives the encoded input, the expected output
 * and whether the input counts as well-formed. The streaming base64
 * decoder is fed every input split at every position and must give the
 * same bytes and verdict.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/buf.h"
#include "mail/decode.h"
#include "mail/mime.h"

struct dcase {
	const char *in;
	const char *out;
	size_t out_len; /* 0: strlen(out) */
	int ret;
};

static const struct dcase b64_cases[] = {
    {"", "", 0, 0},
    {"aGVsbG8=", "hello", 0, 0},
    {"aGVs\r\nbG8=\r\n", "hello", 0, 0},
    {"aGVsbG8", "hello", 0, 0}, /* padding missing: fine */
    {"aGVsbA==", "hell", 0, 0},
    {" a G V s\tbA = = ", "hell", 0, 0}, /* white space anywhere */
    {"AAECAwQ=", "\0\1\2\3\4", 5, 0},
    {"aGVs*bG8=", "hello", 0, -1},        /* junk: skipped, but an error */
    {"aGVsbG8=aGk=", "hello", 0, -1},     /* data after the padding */
    {"aGVsbG8=\r\n=\r\n", "hello", 0, 0}, /* more padding is fine */
    {"aGVsb", "hel", 0, -1},              /* a lone sextet at the end */
    {"a===", "", 0, -1},
};

static const struct dcase qp_cases[] = {
    {"", "", 0, 0},
    {"plain text\r\n", "plain text\r\n", 0, 0},
    {"a=3Db=3db\r\n", "a=b=b\r\n", 0, 0}, /* lower-case hex taken */
    {"soft=\r\nbreak\n", "softbreak\n", 0, 0},
    {"soft=  \r\nbreak", "softbreak", 0, 0}, /* white space after "=" */
    {"trailing   \r\nspace\t\n", "trailing\r\nspace\n", 0, 0},
    {"Gr=FC=DFe",
     "Gr\xfc\xdf"
     "e",
     0, 0},
    {"bad =ZZ escape", "bad =ZZ escape", 0, -1},
    {"short =4", "short =4", 0, -1},
    {"end=", "end", 0, -1},
    {"=00nul", "\0nul", 4, 0},
};

static void run(const struct dcase *c, int (*fn)(const void *, size_t, struct buf *, const char **))
{
	struct buf out = BUF_INIT;
	const char *error = NULL;
	int ret = fn(c->in, strlen(c->in), &out, &error);
	size_t n = c->out_len != 0 ? c->out_len : strlen(c->out);
	if (ret != c->ret || out.len != n ||
	    memcmp(out.data != NULL ? out.data : "", c->out, n) != 0)
		fail_msg("input \"%s\": ret %d (want %d), %zu bytes (want %zu)", c->in, ret, c->ret,
		         out.len, n);
	if (ret < 0)
		assert_non_null(error);
	buf_free(&out);
}

static void test_base64(void **state)
{
	for (size_t i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++)
		run(&b64_cases[i], decode_base64);
}

static void test_base64_split(void **state)
{
	for (size_t i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
		const struct dcase *c = &b64_cases[i];
		size_t len = strlen(c->in);
		size_t n = c->out_len != 0 ? c->out_len : strlen(c->out);
		for (size_t split = 0; split <= len; split++) {
			struct decode_base64 d;
			struct buf out = BUF_INIT;
			const char *error;
			decode_base64_init(&d);
			decode_base64_feed(&d, c->in, split, &out);
			decode_base64_feed(&d, c->in + split, len - split, &out);
			int ret = decode_base64_finish(&d, &out, &error);
			assert_int_equal(ret, c->ret);
			assert_int_equal(out.len, n);
			assert_memory_equal(out.data != NULL ? out.data : "", c->out, n);
			buf_free(&out);
		}
	}
}

static void test_qp(void **state)
{
	for (size_t i = 0; i < sizeof(qp_cases) / sizeof(qp_cases[0]); i++)
		run(&qp_cases[i], decode_qp);
}

static void test_cte(void **state)
{
	struct buf out = BUF_INIT;
	const char *error;
	assert_int_equal(decode_cte(NULL, "a\nb", 3, &out, &error), 0);
	assert_int_equal(decode_cte("7bit", "c", 1, &out, &error), 0);
	assert_int_equal(decode_cte("8bit", "d", 1, &out, &error), 0);
	assert_int_equal(decode_cte("binary", "e", 1, &out, &error), 0);
	assert_int_equal(decode_cte("base64", "Zg==", 4, &out, &error), 0);
	assert_int_equal(decode_cte("quoted-printable", "=67", 3, &out, &error), 0);
	assert_string_equal(out.data, "a\nbcdefg");
	assert_int_equal(decode_cte("x-uuencode", "h", 1, &out, &error), -1);
	assert_string_equal(error, "Unknown transfer encoding");
	assert_string_equal(out.data, "a\nbcdefg");
	assert_true(decode_cte_known("base64"));
	assert_true(decode_cte_known(NULL));
	assert_false(decode_cte_known("x-uuencode"));
	buf_free(&out);
}

static void part_text(const char *msg, unsigned int child, const char *want)
{
	struct mime_part *root = mime_parse(msg, strlen(msg), NULL);
	const struct mime_part *part = root;
	if (child > 0) {
		part = root->children;
		for (unsigned int i = 1; i < child; i++)
			part = part->next;
	}
	struct buf out = BUF_INIT;
	decode_part_text(part, msg, strlen(msg), &out);
	assert_string_equal(buf_cstr(&out), want);
	buf_free(&out);
	mime_part_free(&root);
}

static void test_part_text(void **state)
{
	part_text("Content-Type: text/plain; charset=iso-8859-1\n"
	          "Content-Transfer-Encoding: quoted-printable\n\nGr=FC=DFe\n",
	          0,
	          "Gr\xc3\xbc\xc3\x9f"
	          "e\n");
	part_text("Content-Type: text/plain; charset=utf-8\n"
	          "Content-Transfer-Encoding: base64\n\nw6TDtsO8\n",
	          0, "\xc3\xa4\xc3\xb6\xc3\xbc");
	/* no charset: us-ascii; an 8-bit byte becomes U+FFFD */
	part_text("Subject: x\n\na\xe4z\n", 0, "a\xef\xbf\xbdz\n");
	/* an unknown charset: the bytes made valid UTF-8 */
	part_text("Content-Type: text/plain; charset=x-unknown\n\nabc\n", 0, "abc\n");
	/* a multipart has no text of its own; its parts do */
	const char *mp = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n"
	                 "Content-Type: text/plain; charset=iso-8859-1\n\n\xe4\n--b--\n";
	part_text(mp, 0, "");
	part_text(mp, 1, "one");
	part_text(mp, 2, "\xc3\xa4");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64),    cmocka_unit_test(test_base64_split),
	    cmocka_unit_test(test_qp),        cmocka_unit_test(test_cte),
	    cmocka_unit_test(test_part_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
