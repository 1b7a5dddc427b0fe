/*
 * test-header.c - RFC 5322 header pull parser (mail/header.h).
 *
 * Each table message is run through the parser fed in one piece, split
 * in two at every position, split in three at every pair of positions
 * (short messages), and one byte at a time; every run must give the
 * same transcript, and that transcript must be the expected one. The
 * transcript lists each field (name, unfolded value, obs flag, offset)
 * and the end event (body offset, no-blank flag) or the error. Raw
 * fields are checked against the input bytes, the body remainder
 * against the input tail. Then the limits: line length at and over the
 * bound (also without a line end), field size, field count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mail/header.h"

/* escape: printable ASCII but '\\' and '|' as is, the rest \xHH */
static void escape(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 32 && c < 127 && c != '\\' && c != '|')
			buf_append_c(b, (char)c);
		else
			buf_appendf(b, "\\x%02x", c);
	}
}

/*
 * run: parse in[0..len) fed in pieces cut at cuts[0..ncuts) (ascending),
 * append the transcript to out. Also checks the raw fields and offsets.
 */
static void run(const char *in, size_t len, const struct header_limits *limits, const size_t *cuts,
                size_t ncuts, struct buf *out)
{
	struct header_parser p;
	struct header_field f;
	const char *error;
	size_t piece = 0, fed = 0;
	bool finished = false;
	uint64_t raw_total = 0;

	header_parser_init(&p, limits);
	for (;;) {
		int ret = header_parser_next(&p, &f, &error);
		if (ret < 0) {
			buf_appendf(out, "ERR|%s\n", error);
			assert_int_equal(header_parser_next(&p, &f, &error), -1);
			assert_int_not_equal(header_parser_error(&p), HEADER_OK);
			break;
		}
		if (ret == 0) {
			if (fed < len) {
				size_t end = piece < ncuts ? cuts[piece++] : len;
				if (end < fed)
					end = fed;
				header_parser_feed(&p, in + fed, end - fed);
				fed = end;
			} else if (!finished) {
				header_parser_finish(&p);
				finished = true;
			} else {
				fail_msg("parser wants input after finish");
			}
			continue;
		}
		if (f.eoh) {
			buf_appendf(out, "EOH|%" PRIu64 "|%s\n", f.body_offset,
			            f.no_blank_line ? "noblank" : "blank");
			assert_true(f.body_offset <= len);
			assert_true(raw_total <= f.body_offset);
			/* the body bytes held by the parser are the input's */
			const char *body;
			size_t body_len;
			header_parser_body(&p, &body, &body_len);
			assert_non_null(body);
			assert_true(f.body_offset + body_len == fed);
			assert_memory_equal(body, in + f.body_offset, body_len);
			/* the end event repeats */
			struct header_field g;
			assert_int_equal(header_parser_next(&p, &g, &error), 1);
			assert_true(g.eoh);
			assert_int_equal(g.body_offset, f.body_offset);
			break;
		}
		buf_append_str(out, "F|");
		escape(out, f.name, f.name_len);
		buf_append_c(out, '|');
		escape(out, f.value, f.value_len);
		buf_appendf(out, "|%s|%" PRIu64 "\n", f.obs_space ? "obs" : "", f.offset);
		assert_int_equal(strlen(f.name), f.name_len);
		assert_int_equal(f.value[f.value_len], '\0');
		/* raw is exactly the input from the field's offset on */
		assert_int_equal(f.offset, raw_total);
		assert_true(f.offset + f.raw_len <= len);
		assert_memory_equal(f.raw, in + f.offset, f.raw_len);
		raw_total += f.raw_len;
	}
	header_parser_deinit(&p);
}

static void transcript_one(const char *in, size_t len, const struct header_limits *limits,
                           struct buf *out)
{
	run(in, len, limits, NULL, 0, out);
}

/* check_all_splits: every way of feeding gives the one transcript. */
static void check_all_splits(const char *in, size_t len, const struct header_limits *limits,
                             const char *expected)
{
	struct buf ref = BUF_INIT, t = BUF_INIT;
	transcript_one(in, len, limits, &ref);
	if (expected != NULL && strcmp(buf_cstr(&ref), expected) != 0) {
		fprintf(stderr, "input: ");
		struct buf e = BUF_INIT;
		escape(&e, in, len);
		fprintf(stderr, "%s\ngot:\n%sexpected:\n%s", buf_cstr(&e), buf_cstr(&ref),
		        expected);
		buf_free(&e);
		fail();
	}
	for (size_t cut = 0; cut <= len; cut++) {
		buf_reset(&t);
		run(in, len, limits, &cut, 1, &t);
		if (strcmp(buf_cstr(&t), buf_cstr(&ref)) != 0) {
			fprintf(stderr, "split at %zu:\n%svs whole:\n%s", cut, buf_cstr(&t),
			        buf_cstr(&ref));
			fail();
		}
	}
	if (len <= 80) {
		for (size_t a = 0; a <= len; a++) {
			for (size_t b = a; b <= len; b++) {
				size_t cuts[2] = {a, b};
				buf_reset(&t);
				run(in, len, limits, cuts, 2, &t);
				if (strcmp(buf_cstr(&t), buf_cstr(&ref)) != 0) {
					fprintf(stderr, "split at %zu,%zu:\n%s", a, b,
					        buf_cstr(&t));
					fail();
				}
			}
		}
	}
	size_t *bytes = malloc((len + 1) * sizeof(*bytes));
	for (size_t i = 0; i <= len; i++)
		bytes[i] = i;
	buf_reset(&t);
	run(in, len, limits, bytes, len + 1, &t);
	assert_string_equal(buf_cstr(&t), buf_cstr(&ref));
	free(bytes);
	buf_free(&ref);
	buf_free(&t);
}

struct msg_case {
	const char *in;
	size_t len; /* 0: strlen */
	const char *expected;
};

#define L(s) s, sizeof(s) - 1

static const struct msg_case msg_cases[] = {
    {L("From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nbody\r\n"),
     "F|From|a@example.com||0\n"
     "F|To|b@example.com||21\n"
     "F|Subject|hi||40\n"
     "EOH|55|blank\n"},
    /* LF only */
    {L("From: a\nSubject: x\n\nbody\n"), "F|From|a||0\nF|Subject|x||8\nEOH|20|blank\n"},
    /* a mix of both */
    {L("A: 1\r\nB: 2\nC: 3\r\n\nbody"), "F|A|1||0\nF|B|2||6\nF|C|3||11\nEOH|18|blank\n"},
    /* folding: line ends removed, white space kept */
    {L("Subject: line one\r\n two\r\n\tthree\r\nX: y\r\n\r\n"),
     "F|Subject|line one two\\x09three||0\nF|X|y||33\nEOH|41|blank\n"},
    {L("Subject: a\n b\n\n"), "F|Subject|a b||0\nEOH|15|blank\n"},
    /* empty value, and a value that starts on the continuation line */
    {L("X-Empty:\r\n\r\n"), "F|X-Empty|||0\nEOH|12|blank\n"},
    {L("X:\r\n   folded\r\n\r\n"), "F|X|folded||0\nEOH|17|blank\n"},
    /* white space kept at the end; a blank continuation line */
    {L("A: x  \r\n \r\n\r\n"), "F|A|x   ||0\nEOH|13|blank\n"},
    /* obs-syntax: white space before the colon */
    {L("Subject : x\r\nTo\t:y\r\n\r\n"), "F|Subject|x|obs|0\nF|To|y|obs|13\nEOH|22|blank\n"},
    /* no space after the colon, colon in value */
    {L("A:b:c\r\n\r\n"), "F|A|b:c||0\nEOH|9|blank\n"},
    /* 8-bit and NUL bytes in values */
    {L("Subject: gr\xfc\xdf \xc3\xa4\r\n\r\n"),
     "F|Subject|gr\\xfc\\xdf \\xc3\\xa4||0\nEOH|20|blank\n"},
    {L("A: x\0y\r\n\r\n"), "F|A|x\\x00y||0\nEOH|10|blank\n"},
    /* CR without LF is data */
    {L("A: x\ry\r\n\r\n"), "F|A|x\\x0dy||0\nEOH|10|blank\n"},
    {L("A: x\r\r\n\r\n"), "F|A|x\\x0d||0\nEOH|9|blank\n"},
    /* header only: end of input ends it */
    {L("A: 1\r\nB: 2\r\n"), "F|A|1||0\nF|B|2||6\nEOH|12|noblank\n"},
    {L("A: 1\r\nB: 2"), "F|A|1||0\nF|B|2||6\nEOH|10|noblank\n"},
    {L("A: 1\r\n\r\n"), "F|A|1||0\nEOH|8|blank\n"},
    {L("A: 1\r\n B"), "F|A|1 B||0\nEOH|8|noblank\n"},
    {L(""), "EOH|0|noblank\n"},
    {L("\r\n"), "EOH|2|blank\n"},
    {L("\n\nA: b\n"), "EOH|1|blank\n"},
    {L("\r\nA: b\r\n"), "EOH|2|blank\n"},
    /* a line that is not a field starts the body (as Postfix's cleanup) */
    {L("A: 1\r\nthis is body\r\n"), "F|A|1||0\nEOH|6|noblank\n"},
    {L("A: 1\r\n: no name\r\n"), "F|A|1||0\nEOH|6|noblank\n"},
    {L("A: 1\r\nB c: d\r\n"), "F|A|1||0\nEOH|6|noblank\n"},
    {L("A: 1\r\nB\r\n"), "F|A|1||0\nEOH|6|noblank\n"},
    {L("A: 1\r\n\rB: 2\r\n\r\n"), "F|A|1||0\nEOH|6|noblank\n"},
    {L("A: 1\r\n\r\rB: 2\r\n\r\n"), "F|A|1||0\nEOH|6|noblank\n"},
    {L("From sender@example.com Mon Jan  1 00:00:00 2024\nA: b\n\n"), "EOH|0|noblank\n"},
    {L(" A: b\r\n\r\n"), "EOH|0|noblank\n"},
    {L("\tA: b\r\n\r\n"), "EOH|0|noblank\n"},
    {L("A\xc3\xa4: b\r\n\r\n"), "EOH|0|noblank\n"},
    /* odd but legal names */
    {L("X-Weird!#$%&'*+-.^_`{|}~Name: v\r\n\r\n"),
     "F|X-Weird!#$%&'*+-.^_`{\\x7c}~Name|v||0\nEOH|35|blank\n"},
    /* a real-looking message */
    {L("Return-Path: <a@example.org>\r\n"
       "Received: from mx.example.org (mx.example.org [192.0.2.1])\r\n"
       "\tby mail.example.com with ESMTPS id 4F2k\r\n"
       "\tfor <b@example.com>; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
       "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s1;\r\n"
       " h=from:to:subject; bh=abc=; b=def\r\n"
       "From: =?UTF-8?B?SsO2cmc=?= <a@example.org>\r\n"
       "Subject: Test\r\n"
       "\r\n"
       "Hello\r\n"),
     "F|Return-Path|<a@example.org>||0\n"
     "F|Received|from mx.example.org (mx.example.org [192.0.2.1])\\x09by mail.example.com "
     "with ESMTPS id 4F2k\\x09for <b@example.com>; Mon, 1 Jan 2024 00:00:00 +0000||30\n"
     "F|DKIM-Signature|v=1; a=rsa-sha256; d=example.org; s=s1; h=from:to:subject; bh=abc=; "
     "b=def||186\n"
     "F|From|=?UTF-8?B?SsO2cmc=?= <a@example.org>||279\n"
     "F|Subject|Test||323\n"
     "EOH|340|blank\n"},
};

static void test_messages(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(msg_cases) / sizeof(msg_cases[0]); i++)
		check_all_splits(msg_cases[i].in, msg_cases[i].len, NULL, msg_cases[i].expected);
}

static char *make_line(const char *name, size_t content_len, const char *eol)
{
	size_t nl = strlen(name), el = strlen(eol);
	char *s = malloc(content_len + el + 1);
	memcpy(s, name, nl);
	memset(s + nl, 'x', content_len - nl);
	memcpy(s + content_len, eol, el);
	s[content_len + el] = '\0';
	return s;
}

static void test_line_limit(void **state)
{
	(void)state;
	struct buf msg = BUF_INIT, t = BUF_INIT;
	const char *eols[] = {"\r\n", "\n"};

	for (size_t k = 0; k < 2; k++) {
		/* 998 octets without the line end: fine */
		char *ok = make_line("A: ", 998, eols[k]);
		buf_reset(&msg);
		buf_append_str(&msg, ok);
		buf_append_str(&msg, eols[k]);
		buf_reset(&t);
		transcript_one(msg.data, msg.len, NULL, &t);
		assert_null(strstr(buf_cstr(&t), "ERR"));
		check_all_splits(msg.data, msg.len, NULL, NULL);
		/* 999: too long */
		char *bad = make_line("A: ", 999, eols[k]);
		buf_reset(&msg);
		buf_append_str(&msg, "B: 1");
		buf_append_str(&msg, eols[k]);
		buf_append_str(&msg, bad);
		buf_append_str(&msg, eols[k]);
		char expected[64];
		snprintf(expected, sizeof(expected), "F|B|1||0\nERR|header line too long\n");
		check_all_splits(msg.data, msg.len, NULL, expected);
		/* as a continuation line too */
		bad[0] = ' ';
		buf_reset(&msg);
		buf_append_str(&msg, "B: 1");
		buf_append_str(&msg, eols[k]);
		buf_append_str(&msg, bad);
		check_all_splits(msg.data, msg.len, NULL, "ERR|header line too long\n");
		free(ok);
		free(bad);
	}

	/* found without a line end: the parser does not wait for one */
	struct header_parser p;
	struct header_field f;
	const char *error;
	char *big = make_line("A: ", 5000, "");
	header_parser_init(&p, NULL);
	header_parser_feed(&p, big, 999);
	assert_int_equal(header_parser_next(&p, &f, &error), -1);
	assert_string_equal(error, "header line too long");
	assert_int_equal(header_parser_error(&p), HEADER_ERR_LINE_TOO_LONG);
	header_parser_deinit(&p);
	/* 998 bytes and a CR: still waiting for the LF */
	memcpy(big + 998, "\r", 1);
	header_parser_init(&p, NULL);
	header_parser_feed(&p, big, 999);
	assert_int_equal(header_parser_next(&p, &f, &error), 0);
	header_parser_feed(&p, "\nB: c\n\n", 7);
	assert_int_equal(header_parser_next(&p, &f, &error), 1);
	assert_int_equal(f.value_len, 995);
	header_parser_deinit(&p);
	free(big);

	/* a configured limit (e.g. 1000, or a small one) */
	struct header_limits lim = {.max_line = 10};
	check_all_splits(L("A: 3456789\r\n\r\n"), &lim, "F|A|3456789||0\nEOH|14|blank\n");
	check_all_splits(L("A: 34567890\r\n\r\n"), &lim, "ERR|header line too long\n");
	check_all_splits(L("A: 1\r\n\r\nbody line longer than ten\r\n"), &lim,
	                 "F|A|1||0\nEOH|8|blank\n");
	buf_free(&msg);
	buf_free(&t);
}

static void test_field_limit(void **state)
{
	(void)state;
	struct header_limits lim = {.max_field = 10};
	check_all_splits(L("A: 0123456789\r\n\r\n"), &lim, "F|A|0123456789||0\nEOH|17|blank\n");
	check_all_splits(L("A: 0123456789X\r\n\r\n"), &lim, "ERR|header field too large\n");
	/* the unfolded size counts, across continuation lines */
	check_all_splits(L("A: 01234\r\n 5678\r\n\r\n"), &lim, "F|A|01234 5678||0\nEOH|19|blank\n");
	check_all_splits(L("B: 1\r\nA: 01234\r\n 5678\r\n 9\r\n\r\n"), &lim,
	                 "F|B|1||0\nERR|header field too large\n");

	/* the default: 64 KiB unfolded, from many short lines */
	struct buf msg = BUF_INIT, t = BUF_INIT;
	buf_append_str(&msg, "X-Big: start\r\n");
	while (msg.len < 70000)
		buf_append_str(&msg, " 0123456789012345678901234567890123456789\r\n");
	buf_append_str(&msg, "\r\n");
	transcript_one(msg.data, msg.len, NULL, &t);
	assert_string_equal(buf_cstr(&t), "ERR|header field too large\n");
	buf_free(&msg);
	buf_free(&t);
}

static void test_field_count(void **state)
{
	(void)state;
	struct header_limits lim = {.max_fields = 3};
	check_all_splits(L("A: 1\r\nB: 2\r\nC: 3\r\n\r\n"), &lim,
	                 "F|A|1||0\nF|B|2||6\nF|C|3||12\nEOH|20|blank\n");
	check_all_splits(L("A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"), &lim,
	                 "F|A|1||0\nF|B|2||6\nF|C|3||12\nERR|too many header fields\n");

	/* default 1000 */
	struct buf msg = BUF_INIT, t = BUF_INIT;
	for (int i = 0; i < 1000; i++)
		buf_appendf(&msg, "X-N: %d\n", i);
	buf_append_str(&msg, "\n");
	transcript_one(msg.data, msg.len, NULL, &t);
	assert_null(strstr(buf_cstr(&t), "ERR"));
	assert_non_null(strstr(buf_cstr(&t), "EOH|"));
	buf_reset(&t);
	buf_truncate(&msg, msg.len - 1);
	buf_append_str(&msg, "X-N: 1000\n\n");
	transcript_one(msg.data, msg.len, NULL, &t);
	assert_non_null(strstr(buf_cstr(&t), "ERR|too many header fields"));
	buf_free(&msg);
	buf_free(&t);
}

/* Memory stays bounded when fed a long header in small pieces. */
static void test_bounded_buffering(void **state)
{
	(void)state;
	struct header_parser p;
	struct header_field f;
	const char *error;
	const char *line = "X-Line: 0123456789012345678901234567890123456789\r\n";
	size_t fields = 0;

	header_parser_init(&p, &(struct header_limits){.max_fields = 100000});
	for (int i = 0; i < 20000; i++) {
		header_parser_feed(&p, line, strlen(line));
		int ret;
		while ((ret = header_parser_next(&p, &f, &error)) == 1)
			fields++;
		assert_int_equal(ret, 0);
		assert_true(p.in.len - p.pos < 2 * strlen(line));
		assert_true(p.in.cap < 4096);
	}
	header_parser_feed(&p, "\r\n", 2);
	assert_int_equal(header_parser_next(&p, &f, &error), 1);
	assert_false(f.eoh);
	fields++;
	assert_int_equal(header_parser_next(&p, &f, &error), 1);
	assert_true(f.eoh);
	assert_int_equal(fields, 20000);
	assert_int_equal(f.body_offset, 20000 * strlen(line) + 2);
	header_parser_deinit(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_messages),          cmocka_unit_test(test_line_limit),
	    cmocka_unit_test(test_field_limit),       cmocka_unit_test(test_field_count),
	    cmocka_unit_test(test_bounded_buffering),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
