/*
 * fuzz-imap-parser.c - libFuzzer target for the streaming IMAP command
 * parser (imap/imap-parser.h).
 *
 * Input: two bytes of options, then the client's bytes. The first byte
 * picks where the input is split in two; the second the limits (defaults
 * or small ones, to reach every error), the literal policy (stream
 * APPEND's, refuse some) and a second split point. The input is parsed
 * fed whole, in two pieces, in three pieces and (short inputs) one byte at
 * a time: the transcripts - every event with its argument tree, streamed
 * literal data joined, every error with its tag - must be identical. What
 * is buffered after next() returned 0 must stay within one line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "imap/imap-parser.h"
#include "imap/imap-seqset.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

static void dump(struct buf *out, const struct imap_arg *args, unsigned int count,
                 unsigned int depth)
{
	check(depth <= 64);
	for (unsigned int i = 0; i < count; i++) {
		const struct imap_arg *a = &args[i];
		check(a->str != NULL && a->str[a->len] == '\0');
		buf_appendf(out, "%d:%zu:", (int)a->type, a->len);
		buf_append(out, a->str, a->len);
		if (a->type == IMAP_ARG_LITERAL) {
			buf_appendf(out, "L%llu%d%d%d%d", (unsigned long long)a->literal_size,
			            a->literal_sync, a->literal_binary, a->literal_streamed,
			            a->has_nul);
			check(a->literal_streamed ? a->len == 0 : a->len == a->literal_size);
		}
		if (a->type == IMAP_ARG_LIST || a->type == IMAP_ARG_SECTION) {
			buf_appendf(out, "(%u", a->count);
			check(a->count == 0 || a->list != NULL);
			dump(out, a->list, a->count, depth + 1);
			buf_append_c(out, ')');
		}
		if (a->type == IMAP_ARG_SECTION) {
			buf_appendf(out, "P%d%llu.%llu T", a->has_partial,
			            (unsigned long long)a->partial_start,
			            (unsigned long long)a->partial_length);
			buf_append(out, a->tail, a->tail_len);
			if (a->raw != NULL) {
				buf_append_str(out, " R");
				buf_append(out, a->raw, a->raw_len);
			}
		}
		if (a->type == IMAP_ARG_ATOM) {
			/* sequence sets must parse or fail cleanly */
			struct imap_seqset set;
			const char *error;
			imap_seqset_init(&set);
			if (imap_seqset_parse(&set, a->str, a->len, &error) == 0) {
				imap_seqset_resolve(&set, 1000);
				check(imap_seqset_count(&set, 1000) <= 1000);
				buf_append_str(out, " S");
				imap_seqset_format(&set, out);
			}
			imap_seqset_free(&set);
		}
		buf_append_c(out, ' ');
	}
}

static void transcript(const char *in, size_t len, const struct imap_parser_limits *lim,
                       unsigned int policy, const size_t *cuts, size_t ncuts, struct buf *out)
{
	struct imap_parser p;
	struct imap_parser_event ev;
	const char *error;
	size_t piece = 0, fed = 0;
	struct buf data = BUF_INIT;

	imap_parser_init(&p, lim);
	for (;;) {
		int ret = imap_parser_next(&p, &ev, &error);
		if (ret == 0) {
			if (p.state == IMAP_PARSER_STATE_LINE || p.state == IMAP_PARSER_STATE_RAW)
				check(imap_parser_pending(&p) <= p.limits.max_line + 1);
			else
				check(imap_parser_pending(&p) == 0);
			if (fed >= len)
				break;
			size_t end = piece < ncuts ? cuts[piece++] : len;
			if (end < fed)
				end = fed;
			imap_parser_feed(&p, in + fed, end - fed);
			fed = end;
			continue;
		}
		if (ret < 0) {
			const char *tag = imap_parser_error_tag(&p);
			check(imap_parser_error(&p) != IMAP_PARSER_OK);
			buf_appendf(out, "E%d %s %s\n", (int)imap_parser_error(&p),
			            tag != NULL ? tag : "*", error);
			continue;
		}
		switch (ev.type) {
		case IMAP_PARSER_EV_COMMAND:
			buf_appendf(out, "C %s %d %s %u ", ev.cmd.tag, ev.cmd.uid, ev.cmd.name,
			            ev.cmd.count);
			dump(out, ev.cmd.args, ev.cmd.count, 0);
			buf_append_c(out, '\n');
			if ((policy & 1) && (strcmp(ev.cmd.name, "AUTHENTICATE") == 0 ||
			                     strcmp(ev.cmd.name, "IDLE") == 0))
				imap_parser_read_line(&p);
			break;
		case IMAP_PARSER_EV_LITERAL:
			buf_appendf(out, "L %s %llu %d %d %d %u %u ", ev.cmd.tag,
			            (unsigned long long)ev.literal_size, ev.literal_sync,
			            ev.literal_binary, ev.literal_fits, ev.literal_depth,
			            ev.literal_arg);
			if ((policy & 2) && ev.literal_size > 100 && ev.literal_arg > 0) {
				imap_parser_literal_refuse(&p);
				buf_append_str(out, "refused\n");
			} else if ((policy & 4) && ev.literal_arg > 0 && ev.literal_depth == 0) {
				check(imap_parser_literal_accept(&p, true));
				buf_append_str(out, "stream\n");
			} else {
				bool ok = imap_parser_literal_accept(&p, false);
				check(ok == ev.literal_fits);
				buf_appendf(out, "%d\n", ok);
			}
			break;
		case IMAP_PARSER_EV_LITERAL_DATA:
			buf_append(&data, ev.data, ev.len);
			if (ev.last) {
				buf_appendf(out, "D %zu ", data.len);
				buf_append(out, data.data != NULL ? data.data : "", data.len);
				buf_append_c(out, '\n');
				buf_reset(&data);
			}
			break;
		case IMAP_PARSER_EV_LINE:
			buf_append_str(out, "R ");
			buf_append(out, ev.data, ev.len);
			buf_append_c(out, '\n');
			break;
		}
	}
	buf_appendf(out, "S%d\n", (int)p.state);
	imap_parser_deinit(&p);
	buf_free(&data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	unsigned int o1 = data[0], o2 = data[1];
	const char *in = (const char *)data + 2;
	size_t len = size - 2;
	struct imap_parser_limits small = {
	    .max_line = 48,
	    .max_command = 160,
	    .max_literal = 24,
	    .max_depth = 4,
	    .max_args = 12,
	};
	const struct imap_parser_limits *lim = NULL;
	if (o2 & 8) {
		small.max_nonsync = (o2 & 16) ? 8 : 0;
		lim = &small;
	}
	unsigned int policy = o2 & 7;

	struct buf whole = BUF_INIT, t = BUF_INIT;
	transcript(in, len, lim, policy, NULL, 0, &whole);

	size_t cut1 = len * o1 / 255;
	transcript(in, len, lim, policy, &cut1, 1, &t);
	check(t.len == whole.len && memcmp(t.data, whole.data, t.len) == 0);

	size_t cuts[2] = {cut1, cut1 + (len - cut1) * (o2 >> 5) / 7};
	buf_reset(&t);
	transcript(in, len, lim, policy, cuts, 2, &t);
	check(t.len == whole.len && memcmp(t.data, whole.data, t.len) == 0);

	if (len <= 256) {
		size_t every[257];
		for (size_t i = 0; i <= len; i++)
			every[i] = i;
		buf_reset(&t);
		transcript(in, len, lim, policy, every, len + 1, &t);
		check(t.len == whole.len && memcmp(t.data, whole.data, t.len) == 0);
	}
	buf_free(&whole);
	buf_free(&t);
	return 0;
}
