/*
 * test-smtp-reply.c - the SMTP client's reply parser and DATA encoder
 * (smtp/smtp-client.h), and the queue's envelope syntax (smtp/queue.h)
 * that the client's results end up in.
 *
 * Replies: a table of inputs with the expected code, enhanced code, text
 * and line count or error; each is fed whole, split at every position,
 * and one byte at a time, and must give the same result. Limits: a line
 * of exactly max_line bytes passes, one more fails even before its line
 * end; max_lines lines pass, one more fails. Several replies in one
 * buffer come out one by one.
 *
 * Encoder: LF to CRLF, CRLF kept, dot-stuffing at line starts only, the
 * end marker with and without a final line end; split at every position.
 *
 * Envelope: format -> parse round trip of every state, hold, kind and a
 * diagnostic with spaces; malformed envelopes are refused.
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
#include "smtp/queue.h"
#include "smtp/smtp-client.h"

/* ---- replies ---- */

struct reply_case {
	const char *in;
	int ret; /* 1 complete, 0 incomplete, -1 error */
	unsigned code;
	const char *enhanced;
	const char *text;
	unsigned nlines;
	size_t used; /* 0: all of in */
};

static const struct reply_case cases[] = {
    {"250 ok\r\n", 1, 250, "", "ok", 1, 0},
    {"250 ok\n", 1, 250, "", "ok", 1, 0},
    {"220\r\n", 1, 220, "", "", 1, 0},
    {"220 \r\n", 1, 220, "", "", 1, 0},
    {"250-mx.example\r\n250-PIPELINING\r\n250 SIZE 100\r\n", 1, 250, "",
     "mx.example\nPIPELINING\nSIZE 100", 3, 0},
    {"250-\r\n250 x\r\n", 1, 250, "", "\nx", 2, 0},
    {"550 5.1.1 <u@b.test>: unknown\r\n", 1, 550, "5.1.1", "5.1.1 <u@b.test>: unknown", 1, 0},
    {"451 4.7.1\r\n", 1, 451, "4.7.1", "4.7.1", 1, 0},
    {"250 5.1.1 class differs\r\n", 1, 250, "", "5.1.1 class differs", 1, 0},
    {"250 2.0.0x\r\n", 1, 250, "", "2.0.0x", 1, 0},
    {"250 2.1000.0 x\r\n", 1, 250, "", "2.1000.0 x", 1, 0},
    {"554-5.7.1 first\r\n554 5.7.2 second\r\n", 1, 554, "5.7.1", "5.7.1 first\n5.7.2 second", 2, 0},
    {"250 a\x01"
     "b\x7f\tc\r\n",
     1, 250, "", "a?b?\tc", 1, 0},
    {"250 caf\xc3\xa9\r\n", 1, 250, "", "caf\xc3\xa9", 1, 0},
    {"250 a\rb\r\n", 1, 250, "", "a?b", 1, 0},
    {"250 one\r\n421 two\r\n", 1, 250, "", "one", 1, 9},
    {"250-a\r\n250-b", 0, 0, NULL, NULL, 0, 0},
    {"250 no line end", 0, 0, NULL, NULL, 0, 0},
    {"", 0, 0, NULL, NULL, 0, 0},
    {"250-a\r\n251 b\r\n", -1, 0, NULL, NULL, 0, 0},
    {"25 short\r\n", -1, 0, NULL, NULL, 0, 0},
    {"\r\n", -1, 0, NULL, NULL, 0, 0},
    {"650 bad class\r\n", -1, 0, NULL, NULL, 0, 0},
    {"160 bad class\r\n", -1, 0, NULL, NULL, 0, 0},
    {"260 bad second digit\r\n", -1, 0, NULL, NULL, 0, 0},
    {"2a0 x\r\n", -1, 0, NULL, NULL, 0, 0},
    {"250xok\r\n", -1, 0, NULL, NULL, 0, 0},
    {"250\tok\r\n", -1, 0, NULL, NULL, 0, 0},
    {" 250 ok\r\n", -1, 0, NULL, NULL, 0, 0},
    {"HTTP/1.1 400 Bad\r\n", -1, 0, NULL, NULL, 0, 0},
};

/* feed: in split into pieces of at most `step` bytes (0: whole), the
 * first piece `first` bytes long when first > 0. Returns the result of the
 * first call that is not 0 (or 0); *used_total counts consumed bytes. */
static int feed(struct smtp_reply_parser *p, const char *in, size_t len, size_t first, size_t step,
                size_t *used_total)
{
	size_t pos = 0;
	*used_total = 0;
	while (pos < len || len == 0) {
		size_t n = len - pos;
		if (pos == 0 && first > 0 && first < n)
			n = first;
		else if (step > 0 && step < n)
			n = step;
		size_t used = 0;
		const char *err = NULL;
		int r = smtp_reply_parse(p, in + pos, n, &used, &err);
		*used_total += used;
		if (r != 0) {
			if (r < 0)
				assert_non_null(err);
			return r;
		}
		assert_int_equal(used, n);
		pos += n;
		if (len == 0)
			break;
	}
	return 0;
}

static void check_case(const struct reply_case *c, size_t first, size_t step)
{
	struct smtp_reply_parser p;
	smtp_reply_parser_init(&p, NULL);
	size_t len = strlen(c->in), used = 0;
	int r = feed(&p, c->in, len, first, step, &used);
	if (r != c->ret)
		fail_msg("case %s (first %zu step %zu): %d, expected %d", c->in, first, step, r,
		         c->ret);
	if (r == 1) {
		assert_int_equal(p.reply.code, c->code);
		assert_string_equal(p.reply.enhanced, c->enhanced);
		assert_string_equal(buf_cstr(&p.reply.text), c->text);
		assert_int_equal(p.reply.nlines, c->nlines);
		assert_int_equal(used, c->used ? c->used : len);
	}
	smtp_reply_parser_deinit(&p);
}

static void test_reply_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct reply_case *c = &cases[i];
		size_t len = strlen(c->in);
		check_case(c, 0, 0);
		check_case(c, 0, 1);
		for (size_t k = 1; k < len; k++)
			check_case(c, k, 0);
	}
}

static void test_reply_sequence(void **state)
{
	(void)state;
	const char *in = "220 hi\r\n250-a\r\n250 b\r\n354 go\r\n";
	const unsigned codes[] = {220, 250, 354};
	struct smtp_reply_parser p;
	smtp_reply_parser_init(&p, NULL);
	size_t pos = 0, len = strlen(in);
	for (unsigned i = 0; i < 3; i++) {
		size_t used;
		const char *err;
		assert_int_equal(smtp_reply_parse(&p, in + pos, len - pos, &used, &err), 1);
		assert_int_equal(p.reply.code, codes[i]);
		pos += used;
	}
	assert_int_equal(pos, len);
	/* after a complete reply the next call starts afresh */
	size_t used;
	const char *err;
	assert_int_equal(smtp_reply_parse(&p, "221 bye\r\n", 9, &used, &err), 1);
	assert_int_equal(p.reply.code, 221);
	assert_string_equal(buf_cstr(&p.reply.text), "bye");
	assert_int_equal(p.reply.nlines, 1);
	smtp_reply_parser_deinit(&p);
}

static void test_reply_line_limit(void **state)
{
	(void)state;
	struct smtp_reply_limits lim = {64, 3};
	struct buf b = BUF_INIT;
	/* exactly 64 bytes before CRLF: fine */
	buf_append_str(&b, "250 ");
	while (b.len < 64)
		buf_append_c(&b, 'x');
	buf_append_str(&b, "\r\n");
	struct smtp_reply_parser p;
	size_t used;
	const char *err;
	smtp_reply_parser_init(&p, &lim);
	assert_int_equal(smtp_reply_parse(&p, b.data, b.len, &used, &err), 1);
	smtp_reply_parser_deinit(&p);
	/* one more: too long, also fed byte by byte, found before the line end */
	buf_reset(&b);
	buf_append_str(&b, "250 ");
	while (b.len < 66)
		buf_append_c(&b, 'x');
	smtp_reply_parser_init(&p, &lim);
	int r = 0;
	size_t i;
	for (i = 0; i < b.len && r == 0; i++)
		r = smtp_reply_parse(&p, b.data + i, 1, &used, &err);
	assert_int_equal(r, -1);
	assert_string_equal(err, "reply line too long");
	assert_int_equal(p.error, SMTP_REPLY_ERR_TOO_LONG);
	/* sticky */
	assert_int_equal(smtp_reply_parse(&p, "250 ok\r\n", 8, &used, &err), -1);
	smtp_reply_parser_deinit(&p);
	/* 65 bytes with CRLF: the CR may wait, the line is still too long */
	buf_reset(&b);
	buf_append_str(&b, "250 ");
	while (b.len < 65)
		buf_append_c(&b, 'x');
	buf_append_str(&b, "\r\n");
	smtp_reply_parser_init(&p, &lim);
	assert_int_equal(smtp_reply_parse(&p, b.data, b.len, &used, &err), -1);
	smtp_reply_parser_deinit(&p);
	buf_free(&b);
}

static void test_reply_lines_limit(void **state)
{
	(void)state;
	struct smtp_reply_limits lim = {0, 3};
	struct smtp_reply_parser p;
	size_t used;
	const char *err;
	const char *ok = "250-a\r\n250-b\r\n250 c\r\n";
	smtp_reply_parser_init(&p, &lim);
	assert_int_equal(smtp_reply_parse(&p, ok, strlen(ok), &used, &err), 1);
	smtp_reply_parser_deinit(&p);
	const char *bad = "250-a\r\n250-b\r\n250-c\r\n250 d\r\n";
	smtp_reply_parser_init(&p, &lim);
	assert_int_equal(smtp_reply_parse(&p, bad, strlen(bad), &used, &err), -1);
	assert_string_equal(err, "too many reply lines");
	smtp_reply_parser_deinit(&p);
	/* the defaults: 100 lines of 2048 bytes */
	struct buf b = BUF_INIT;
	for (int i = 0; i < 100; i++)
		buf_appendf(&b, "250%c%0*d\r\n", i == 99 ? ' ' : '-', 2044, i);
	smtp_reply_parser_init(&p, NULL);
	assert_int_equal(smtp_reply_parse(&p, b.data, b.len, &used, &err), 1);
	assert_int_equal(p.reply.nlines, 100);
	smtp_reply_parser_deinit(&p);
	buf_reset(&b);
	for (int i = 0; i < 101; i++)
		buf_appendf(&b, "250%c%d\r\n", i == 100 ? ' ' : '-', i);
	smtp_reply_parser_init(&p, NULL);
	assert_int_equal(smtp_reply_parse(&p, b.data, b.len, &used, &err), -1);
	smtp_reply_parser_deinit(&p);
	buf_free(&b);
}

static void test_reply_one_line(void **state)
{
	(void)state;
	struct smtp_reply_parser p;
	size_t used;
	const char *err;
	const char *in = "550-5.1.1 first\r\n550 second\t\xc3\xa9\r\n";
	smtp_reply_parser_init(&p, NULL);
	assert_int_equal(smtp_reply_parse(&p, in, strlen(in), &used, &err), 1);
	struct buf b = BUF_INIT;
	smtp_reply_one_line(&p.reply, &b, 900);
	assert_string_equal(buf_cstr(&b), "550 5.1.1 first second ??");
	buf_reset(&b);
	smtp_reply_one_line(&p.reply, &b, 9);
	assert_string_equal(buf_cstr(&b), "550 5.1.1");
	buf_free(&b);
	smtp_reply_parser_deinit(&p);
}

static void test_enhanced(void **state)
{
	(void)state;
	const struct {
		const char *s;
		size_t n;
	} t[] = {
	    {"2.0.0", 5},    {"5.1.1 x", 5}, {"4.4.7", 5}, {"5.1.10", 6},  {"5.123.456", 9},
	    {"3.0.0", 0},    {"5.1", 0},     {"5.1.", 0},  {"5..1", 0},    {"5.1.1x", 0},
	    {"5.1234.1", 0}, {"x.1.1", 0},   {"", 0},      {"5.1.1.1", 0},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (smtp_enhanced_parse(t[i].s, strlen(t[i].s)) != t[i].n)
			fail_msg("enhanced %s", t[i].s);
}

/* ---- data encoder ---- */

static const struct {
	const char *in, *out;
} enc_cases[] = {
    {"", ".\r\n"},
    {"a\n", "a\r\n.\r\n"},
    {"a\nb\n", "a\r\nb\r\n.\r\n"},
    {"a\r\nb\r\n", "a\r\nb\r\n.\r\n"},
    {"no end", "no end\r\n.\r\n"},
    {"cr end\r", "cr end\r\n.\r\n"},
    {".x\n", "..x\r\n.\r\n"},
    {".\n", "..\r\n.\r\n"},
    {"a\n.\nb\n", "a\r\n..\r\nb\r\n.\r\n"},
    {"a\r\n.\r\n", "a\r\n..\r\n.\r\n"},
    {"a.b\n x.\n", "a.b\r\n x.\r\n.\r\n"},
    {"\n\n", "\r\n\r\n.\r\n"},
    {"..\n", "...\r\n.\r\n"},
    {"a\rb\n", "a\rb\r\n.\r\n"},
};

static void test_encoder(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(enc_cases) / sizeof(enc_cases[0]); i++) {
		const char *in = enc_cases[i].in;
		size_t len = strlen(in);
		for (size_t k = 0; k <= len; k++) {
			for (int bytewise = 0; bytewise < 2; bytewise++) {
				struct smtp_data_encoder e;
				struct buf out = BUF_INIT;
				smtp_data_encoder_init(&e);
				if (bytewise) {
					for (size_t x = 0; x < len; x++)
						smtp_data_encode(&e, in + x, 1, &out);
				} else {
					smtp_data_encode(&e, in, k, &out);
					smtp_data_encode(&e, in + k, len - k, &out);
				}
				smtp_data_encode_end(&e, &out);
				if (strcmp(buf_cstr(&out), enc_cases[i].out) != 0)
					fail_msg("encode %zu split %zu: got '%s'", i, k,
					         buf_cstr(&out));
				buf_free(&out);
			}
		}
	}
}

/* ---- envelopes ---- */

static void test_envelope_round_trip(void **state)
{
	(void)state;
	struct queue_env env;
	memset(&env, 0, sizeof(env));
	snprintf(env.qid, sizeof(env.qid), "1K0ABCDEF");
	env.arrival = 1700000000;
	env.offset = 35;
	env.sender = strdup("demo@example.test");
	env.kind = QUEUE_KIND_BOUNCE;
	env.hold = true;
	queue_env_add_rcpt(&env, "a@b.test", 0);
	struct queue_rcpt *r = queue_env_add_rcpt(&env, "b@b.test", 0);
	queue_rcpt_set(r, QR_DEFERRED, "4.4.1", "mx.b.test[192.0.2.1]:25",
	               "connect to mx.b.test[192.0.2.1]:25: Connection refused\nx");
	r->tries = 3;
	r->next = 1700000300;
	r = queue_env_add_rcpt(&env, "c@b.test", 2);
	queue_rcpt_set(r, QR_FAILED, "5.1.1", "local", "550 5.1.1 unknown");
	r = queue_env_add_rcpt(&env, "d@b.test", 0);
	queue_rcpt_set(r, QR_SENT, "2.0.0", "local", NULL);
	r = queue_env_add_rcpt(&env, "e@b.test", 0);
	queue_rcpt_set(r, QR_EXPANDED, "bad", "relay with space", "");
	r = queue_env_add_rcpt(&env, "f@b.test", 0);
	queue_rcpt_set(r, QR_BOUNCED, NULL, NULL, NULL);
	struct buf b = BUF_INIT;
	queue_env_format(&env, &b);
	struct queue_env back;
	const char *err = NULL;
	assert_int_equal(queue_env_parse(b.data, b.len, &back, &err), 0);
	struct buf b2 = BUF_INIT;
	queue_env_format(&back, &b2);
	assert_string_equal(buf_cstr(&b), buf_cstr(&b2));
	assert_string_equal(back.qid, "1K0ABCDEF");
	assert_int_equal(back.kind, QUEUE_KIND_BOUNCE);
	assert_true(back.hold);
	assert_int_equal(back.nrcpts, 6);
	assert_int_equal(back.rcpts[0].state, QR_PENDING);
	assert_int_equal(back.rcpts[1].state, QR_DEFERRED);
	assert_int_equal(back.rcpts[1].tries, 3);
	assert_int_equal(back.rcpts[1].next, 1700000300);
	assert_string_equal(back.rcpts[1].status, "4.4.1");
	assert_string_equal(back.rcpts[1].diag,
	                    "connect to mx.b.test[192.0.2.1]:25: Connection refused?x");
	assert_int_equal(back.rcpts[2].depth, 2);
	assert_string_equal(back.rcpts[2].diag, "550 5.1.1 unknown");
	assert_null(back.rcpts[3].diag);
	assert_string_equal(back.rcpts[4].status, "");
	assert_string_equal(back.rcpts[4].relay, "relay_with_space");
	assert_int_equal(back.rcpts[5].state, QR_BOUNCED);
	/* the worker's form: "rcpt" lines only */
	const char *plain = "vmaild-envelope 1\nqid Q1\narrival 5\noffset 0\nsender \nrcpt x@y\n";
	queue_env_free(&back);
	assert_int_equal(queue_env_parse(plain, strlen(plain), &back, &err), 0);
	assert_string_equal(back.sender, "");
	assert_int_equal(back.rcpts[0].state, QR_PENDING);
	queue_env_free(&back);
	queue_env_free(&env);
	buf_free(&b);
	buf_free(&b2);
}

static void test_envelope_malformed(void **state)
{
	(void)state;
	const char *bad[] = {
	    "",
	    "vmaild-envelope 2\nqid Q\narrival 1\noffset 0\nsender \n",
	    "vmaild-envelope 1\nqid Q\narrival 1\noffset 0\n",
	    "vmaild-envelope 1\nqid Q-1\narrival 1\noffset 0\nsender \n",
	    "vmaild-envelope 1\nqid Q\narrival x\noffset 0\nsender \n",
	    "vmaild-envelope 1\nqid Q\narrival 1\noffset 0\nsender \nstate sent 1 0 0 - - x\n",
	    "vmaild-envelope 1\nqid Q\narrival 1\noffset 0\nsender \nrcpt a@b\nstate nope 1 0 "
	    "0 - - x\n",
	    "vmaild-envelope 1\nqid Q\narrival 1\noffset 0\nsender \nrcpt a@b\nstate sent 1\n",
	    "vmaild-envelope 1\nqid Q\narrival 1\noffset 0\nsender \nbogus 1\n",
	    "vmaild-envelope 1\nqid Q\narrival 1\noffset 0\nsender \nrcpt a@b",
	    "vmaild-envelope 1\nqid Q\narrival 1\noffset 0\nsender \nkind other\n",
	    "vmaild-envelope 1\nqid Q\narrival 1\noffset 0\nsender \nrcpt \n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct queue_env env;
		const char *err = NULL;
		if (queue_env_parse(bad[i], strlen(bad[i]), &env, &err) == 0)
			fail_msg("envelope %zu was accepted", i);
		assert_non_null(err);
		queue_env_free(&env);
	}
}

static void test_nexthop(void **state)
{
	(void)state;
	const struct {
		const char *spec;
		const char *host;
		unsigned port;
	} t[] = {
	    {"mail.example.net", "mail.example.net", 25},
	    {"mail.example.net:587", "mail.example.net", 587},
	    {"[mail.example.net]", "mail.example.net", 25},
	    {"[mail.example.net]:2525", "mail.example.net", 2525},
	    {"127.0.0.1:2525", "127.0.0.1", 2525},
	    {"[::1]:2525", "::1", 2525},
	    {"::1", NULL, 0},
	    {"host:0", NULL, 0},
	    {"host:70000", NULL, 0},
	    {"[host", NULL, 0},
	    {"[host]x", NULL, 0},
	    {"[]:25", NULL, 0},
	    {":25", NULL, 0},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *host = NULL;
		unsigned port = 0;
		const char *err = NULL;
		int r = queue_nexthop_parse(t[i].spec, 25, &host, &port, &err);
		if (t[i].host == NULL) {
			if (r == 0)
				fail_msg("nexthop %s accepted", t[i].spec);
			continue;
		}
		assert_int_equal(r, 0);
		assert_string_equal(host, t[i].host);
		assert_int_equal(port, t[i].port);
		free(host);
	}
	char *items[] = {"b.test=127.0.0.1:1", ".sub.test=[h]:2", "x.sub.test=h3"};
	struct cfg_list l = {items, 3};
	assert_string_equal(queue_transport_find(&l, "b.test"), "127.0.0.1:1");
	assert_string_equal(queue_transport_find(&l, "B.Test"), "127.0.0.1:1");
	assert_null(queue_transport_find(&l, "a.b.test"));
	assert_string_equal(queue_transport_find(&l, "a.sub.test"), "[h]:2");
	assert_string_equal(queue_transport_find(&l, "x.sub.test"), "h3");
	assert_null(queue_transport_find(&l, "sub.test"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reply_table),
	    cmocka_unit_test(test_reply_sequence),
	    cmocka_unit_test(test_reply_line_limit),
	    cmocka_unit_test(test_reply_lines_limit),
	    cmocka_unit_test(test_reply_one_line),
	    cmocka_unit_test(test_enhanced),
	    cmocka_unit_test(test_encoder),
	    cmocka_unit_test(test_envelope_round_trip),
	    cmocka_unit_test(test_envelope_malformed),
	    cmocka_unit_test(test_nexthop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
