/*
 * fuzz-header.c - libFuzzer target for the RFC 5322 header pull parser
 * (mail/header.h).
 *
 * Input: two bytes of options, then the message. The first byte picks
 * the limits (defaults or small ones, to reach every error) and where
 * the message is split; the second a second split point. The message is
 * parsed fed whole, in two pieces and in three pieces: the transcripts
 * (every field's name, value, raw bytes, offset and flags, the end event
 * or the error) must be identical, raw fields must be the input bytes,
 * values must respect the limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mail/header.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

static void transcript(const char *in, size_t len, const struct header_limits *lim,
                       const size_t *cuts, size_t ncuts, struct buf *out)
{
	struct header_parser p;
	struct header_field f;
	const char *error;
	size_t piece = 0, fed = 0;
	uint64_t raw_total = 0;
	int finished = 0;

	header_parser_init(&p, lim);
	for (;;) {
		int ret = header_parser_next(&p, &f, &error);
		if (ret < 0) {
			buf_appendf(out, "E%d\n", (int)header_parser_error(&p));
			break;
		}
		if (ret == 0) {
			if (fed < len) {
				size_t end = piece < ncuts ? cuts[piece++] : len;
				if (end < fed)
					end = fed;
				header_parser_feed(&p, in + fed, end - fed);
				fed = end;
			} else {
				check(!finished);
				header_parser_finish(&p);
				finished = 1;
			}
			continue;
		}
		if (f.eoh) {
			const char *body;
			size_t body_len;
			check(f.body_offset <= len && raw_total <= f.body_offset);
			header_parser_body(&p, &body, &body_len);
			check(f.body_offset + body_len == fed);
			check(memcmp(body, in + f.body_offset, body_len) == 0);
			buf_appendf(out, "H%llu %d\n", (unsigned long long)f.body_offset,
			            (int)f.no_blank_line);
			break;
		}
		check(f.offset == raw_total);
		check(f.offset + f.raw_len <= len);
		check(memcmp(f.raw, in + f.offset, f.raw_len) == 0);
		check(f.name_len > 0 && strlen(f.name) == f.name_len);
		check(f.value_len <= p.limits.max_field);
		check(f.value_len <= f.raw_len);
		raw_total += f.raw_len;
		buf_appendf(out, "F%zu %zu %zu %llu %d\n", f.name_len, f.value_len, f.raw_len,
		            (unsigned long long)f.offset, (int)f.obs_space);
		buf_append(out, f.name, f.name_len);
		buf_append(out, f.value, f.value_len);
	}
	header_parser_deinit(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	unsigned int o1 = data[0], o2 = data[1];
	const char *in = (const char *)data + 2;
	size_t len = size - 2;
	struct header_limits small = {.max_line = 16, .max_field = 40, .max_fields = 4};
	const struct header_limits *lim = (o1 & 1) ? &small : NULL;

	struct buf whole = BUF_INIT, t = BUF_INIT;
	transcript(in, len, lim, NULL, 0, &whole);

	size_t cut1 = len * (o1 >> 1) / 127;
	transcript(in, len, lim, &cut1, 1, &t);
	check(t.len == whole.len && memcmp(t.data, whole.data, t.len) == 0);

	size_t cuts[2] = {cut1, cut1 + (len - cut1) * o2 / 255};
	buf_reset(&t);
	transcript(in, len, lim, cuts, 2, &t);
	check(t.len == whole.len && memcmp(t.data, whole.data, t.len) == 0);

	if (len <= 64) {
		size_t every[65];
		for (size_t i = 0; i <= len; i++)
			every[i] = i;
		buf_reset(&t);
		transcript(in, len, lim, every, len + 1, &t);
		check(t.len == whole.len && memcmp(t.data, whole.data, t.len) == 0);
	}
	buf_free(&whole);
	buf_free(&t);
	return 0;
}
