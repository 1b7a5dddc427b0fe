/*
 * fuzz-mime.c - libFuzzer target for the MIME structure parser and the
 * RFC 2047 / RFC 2231 decoders (mail/mime.h).
 *
 * Input: two bytes of options, then the message. The first byte picks
 * where the message is split in two, the second the limits (defaults or
 * tight ones, to reach every fallback) and a second split point. The
 * message is parsed fed whole, in two pieces, in three pieces and (short
 * messages) one byte at a time: the transcripts - header events and the
 * tree with offsets, counts, flags and fields - must be identical, and
 * the tree must be consistent (offsets within the input and nested in
 * the parent's body, line counts equal to the LFs in the body). Every
 * header value also goes through mime_decode_words().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mail/mime.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

static void dump_params(struct buf *out, const struct mime_params *params)
{
	for (unsigned int i = 0; i < params->count; i++) {
		const struct mime_param *pa = &params->list[i];
		buf_appendf(out, " %s=%s %s %s %d%d", pa->name, pa->value,
		            pa->charset != NULL ? pa->charset : "-",
		            pa->language != NULL ? pa->language : "-", pa->extended, pa->encoded);
	}
}

static void dump(struct buf *out, const struct mime_part *part, const uint8_t *in, size_t len)
{
	check(part->header_offset <= part->body_offset && part->body_offset <= part->body_end);
	check(part->body_end <= len);
	uint64_t lf = 0;
	for (uint64_t i = part->body_offset; i < part->body_end; i++)
		lf += in[i] == '\n';
	if (part->body_end > part->body_offset && in[part->body_end - 1] != '\n')
		lf++;
	check(lf == part->body_lines);
	check(part->type != NULL && part->subtype != NULL);
	buf_appendf(out, "P %u %llu %llu %llu %llu %llu %x %s/%s", part->depth,
	            (unsigned long long)part->header_offset, (unsigned long long)part->body_offset,
	            (unsigned long long)part->body_end, (unsigned long long)part->body_lines,
	            (unsigned long long)part->body_bare_lf, part->flags, part->type, part->subtype);
	dump_params(out, &part->params);
	buf_appendf(out, " %s %s %s", part->encoding != NULL ? part->encoding : "-",
	            part->id != NULL ? part->id : "-",
	            part->disposition != NULL ? part->disposition : "-");
	dump_params(out, &part->disposition_params);
	if (part->envelope != NULL)
		buf_appendf(out, " E %s",
		            part->envelope->subject != NULL ? part->envelope->subject : "-");
	buf_append_c(out, '\n');
	unsigned int n = 0;
	for (const struct mime_part *c = part->children; c != NULL; c = c->next) {
		check(c->parent == part && c->depth == part->depth + 1);
		check(c->header_offset >= part->body_offset && c->body_end <= part->body_end);
		dump(out, c, in, len);
		n++;
	}
	check(n == part->nchildren);
	if (part->flags & MIME_PART_MESSAGE)
		check(n == 1);
}

static void transcript(const uint8_t *in, size_t len, const struct mime_limits *lim,
                       const size_t *cuts, size_t ncuts, bool words, struct buf *out)
{
	struct mime_parser *p = mime_parser_create(lim);
	struct mime_event ev;
	size_t piece = 0, fed = 0;
	int finished = 0;

	for (;;) {
		int ret = mime_parser_next(p, &ev);
		if (ret == 0) {
			if (fed < len) {
				size_t end = piece < ncuts ? cuts[piece++] : len;
				if (end < fed)
					end = fed;
				mime_parser_feed(p, in + fed, end - fed);
				fed = end;
			} else {
				check(!finished);
				mime_parser_finish(p);
				finished = 1;
			}
			continue;
		}
		if (ev.type == MIME_EV_END)
			break;
		buf_appendf(out, "F %llu %zu %zu ", (unsigned long long)ev.part->header_offset,
		            ev.field->name_len, ev.field->value_len);
		buf_append(out, ev.field->name, ev.field->name_len);
		buf_append(out, ev.field->value, ev.field->value_len);
		buf_append_c(out, '\n');
		if (words) {
			struct buf d = BUF_INIT;
			mime_decode_words(ev.field->value, ev.field->value_len, &d);
			buf_free(&d);
		}
	}
	struct mime_part *root = mime_parser_steal(p);
	check(root != NULL && root->body_end == len);
	dump(out, root, in, len);
	mime_part_free(&root);
	mime_parser_destroy(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	unsigned int o1 = data[0], o2 = data[1];
	const uint8_t *in = data + 2;
	size_t len = size - 2;
	struct mime_limits tight = {
	    .max_depth = 4, .max_parts = 8, .max_header_line = 60, .max_header = 300};
	const struct mime_limits *lim = (o2 & 1) ? &tight : NULL;

	struct buf whole = BUF_INIT, t = BUF_INIT;
	transcript(in, len, lim, NULL, 0, true, &whole);

	size_t cut1 = len * o1 / 255;
	transcript(in, len, lim, &cut1, 1, false, &t);
	check(t.len == whole.len && memcmp(t.data, whole.data, t.len) == 0);

	size_t cuts[2] = {cut1, cut1 + (len - cut1) * (o2 >> 1) / 127};
	buf_reset(&t);
	transcript(in, len, lim, cuts, 2, false, &t);
	check(t.len == whole.len && memcmp(t.data, whole.data, t.len) == 0);

	if (len <= 200) {
		size_t every[201];
		for (size_t i = 0; i <= len; i++)
			every[i] = i;
		buf_reset(&t);
		transcript(in, len, lim, every, len + 1, false, &t);
		check(t.len == whole.len && memcmp(t.data, whole.data, t.len) == 0);
	}
	buf_free(&whole);
	buf_free(&t);
	return 0;
}
