/*
 * fuzz-smtp-reply.c - libFuzzer target for the SMTP client's reply parser
 * and DATA encoder (smtp/smtp-client.h).
 *
 * Input: one byte of options (small limits; chunk size), then a server's
 * byte stream. Checks beyond "no crash": parsing in chunks gives the
 * same replies as parsing whole; every reply has a code of 200-599 with
 * at most max_lines lines of at most max_line bytes, an enhanced code of
 * the reply's class when one is set, no control characters but TAB and
 * the line separator in its text; consumed counts add up; an error is
 * sticky. The same bytes through the encoder give output where every LF
 * follows a CR, which ends in CRLF.CRLF, and which decodes (un-stuffing,
 * CRLF to LF for the bare LFs of the input) back to the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "smtp/smtp-client.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

struct summary {
	struct buf all; /* code, enhanced and text of every reply, in order */
	int end;        /* last result: 0 more needed, -1 error */
	size_t used;
};

static void check_reply(const struct smtp_reply *r, const struct smtp_reply_limits *l)
{
	check(r->code >= 200 && r->code <= 599);
	check(r->nlines >= 1 && r->nlines <= l->max_lines);
	if (r->enhanced[0] != '\0') {
		size_t n = strlen(r->enhanced);
		check(smtp_enhanced_parse(r->enhanced, n) == n);
		check((unsigned)(r->enhanced[0] - '0') == r->code / 100);
	}
	size_t line = 0;
	for (size_t i = 0; i < r->text.len; i++) {
		unsigned char c = (unsigned char)r->text.data[i];
		if (c == '\n') {
			line = 0;
			continue;
		}
		check(c >= 0x20 || c == '\t');
		check(c != 0x7f);
		line++;
		check(line + 4 <= l->max_line);
	}
}

static void run(const uint8_t *data, size_t len, const struct smtp_reply_limits *l, size_t chunk,
                struct summary *out)
{
	struct smtp_reply_parser p;
	smtp_reply_parser_init(&p, l);
	memset(out, 0, sizeof(*out));
	size_t pos = 0;
	while (pos < len) {
		size_t n = len - pos;
		if (chunk > 0 && n > chunk)
			n = chunk;
		size_t used = 0;
		const char *err = NULL;
		int r = smtp_reply_parse(&p, (const char *)data + pos, n, &used, &err);
		check(used <= n);
		out->used += used;
		if (r < 0) {
			check(err != NULL);
			size_t u2;
			check(smtp_reply_parse(&p, "250 ok\r\n", 8, &u2, &err) == -1);
			out->end = -1;
			break;
		}
		pos += used;
		if (r == 1) {
			check_reply(&p.reply, &p.limits);
			buf_appendf(&out->all, "%u|%s|", p.reply.code, p.reply.enhanced);
			buf_append(&out->all, p.reply.text.data ? p.reply.text.data : "",
			           p.reply.text.len);
			buf_append_c(&out->all, '\0');
		} else {
			check(used == n);
		}
	}
	smtp_reply_parser_deinit(&p);
}

static void check_encoder(const uint8_t *data, size_t len, size_t chunk)
{
	struct smtp_data_encoder e;
	struct buf out = BUF_INIT;
	smtp_data_encoder_init(&e);
	for (size_t pos = 0; pos < len;) {
		size_t n = len - pos;
		if (chunk > 0 && n > chunk)
			n = chunk;
		smtp_data_encode(&e, (const char *)data + pos, n, &out);
		pos += n;
	}
	smtp_data_encode_end(&e, &out);
	check(out.len >= 3 && memcmp(out.data + out.len - 3, ".\r\n", 3) == 0);
	check(out.len == 3 ||
	      (out.len >= 5 && memcmp(out.data + out.len - 5, "\r\n.\r\n", 5) == 0));
	for (size_t i = 0; i < out.len; i++)
		if (out.data[i] == '\n')
			check(i > 0 && out.data[i - 1] == '\r');
	/* decode: drop the end marker, un-stuff, and compare with the input
	 * where every LF not after a CR became CRLF */
	struct buf want = BUF_INIT, got = BUF_INIT;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			buf_append_c(&want, '\r');
		buf_append_c(&want, (char)data[i]);
	}
	if (want.len > 0 && want.data[want.len - 1] != '\n') {
		if (want.data[want.len - 1] != '\r')
			buf_append_c(&want, '\r');
		buf_append_c(&want, '\n');
	}
	size_t body = out.len - 3;
	bool bol = true;
	for (size_t i = 0; i < body; i++) {
		if (bol && out.data[i] == '.') {
			check(i + 1 < body && out.data[i + 1] == '.');
			i++;
		}
		buf_append_c(&got, out.data[i]);
		bol = out.data[i] == '\n';
	}
	check(got.len == want.len && memcmp(buf_cstr(&got), buf_cstr(&want), got.len) == 0);
	buf_free(&want);
	buf_free(&got);
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t opt = data[0];
	data++;
	size--;
	struct smtp_reply_limits l = {0, 0};
	if (opt & 1) {
		l.max_line = 16;
		l.max_lines = 3;
	}
	struct smtp_reply_limits eff = l;
	if (eff.max_line == 0)
		eff.max_line = SMTP_REPLY_MAX_LINE;
	if (eff.max_lines == 0)
		eff.max_lines = SMTP_REPLY_MAX_LINES;
	size_t chunk = (size_t)(opt >> 1) % 17;
	struct summary whole, split;
	run(data, size, &eff, 0, &whole);
	run(data, size, &eff, chunk == 0 ? 1 : chunk, &split);
	check(whole.end == split.end);
	check(whole.all.len == split.all.len &&
	      memcmp(buf_cstr(&whole.all), buf_cstr(&split.all), whole.all.len) == 0);
	if (whole.end == 0)
		check(whole.used == size && split.used == size);
	buf_free(&whole.all);
	buf_free(&split.all);
	check_encoder(data, size, chunk);
	return 0;
}
