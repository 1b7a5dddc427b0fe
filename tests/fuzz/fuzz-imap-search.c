/*
 * fuzz-imap-search.c - libFuzzer target for SEARCH programs
 * (imap/imap-search.h) behind the real IMAP command parser.
 *
 * Input: one byte of options, then the text after "A1 SEARCH " (up to the
 * line end; literals are accepted). The option byte picks RETURN /
 * charset-first parsing and small limits. A program that parses is
 * prepared and run against four synthetic messages (flags, keywords,
 * encoded headers, a Date: in a zone, UTF-8 bodies); every match must be
 * 0 or 1, NOT of the program must give the complement, and the SEARCH,
 * ESEARCH and SEARCHRES outputs are built.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "imap/imap-parser.h"
#include "imap/imap-search.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

struct fmsg {
	const char *keywords, *headers, *body;
	uint64_t size;
	int64_t internal;
	uint64_t modseq;
};

static const struct fmsg fmsgs[4] = {
    {"$Forwarded",
     "From: =?ISO-8859-1?Q?J=F6rg?= <j@example.de>\nSubject: Hello\n"
     "Date: Thu, 1 Feb 2024 23:30:00 -0500\n",
     "quick brown fox", 1000, 1706781600, 5},
    {"", "From: bob@example.org\nCc: c@x\nSubject: =?UTF-8?B?zprOkc6b?=\nX-A: 1\nX-A: 2\n",
     "\xd0\x9f\xd0\xa0\xd0\x98", 5000, 1706832000, 10},
    {"Work junk", "Subject: Re: hello\nDate: garbage\n", "STRASSE \xc3\x84rger", 200, 0, 1},
    {"", "", "", 0, -1, 0},
};

static bool f_kw(void *ctx, const char *kw)
{
	const struct fmsg *m = ctx;
	return strcasestr(m->keywords, kw) != NULL;
}

static uint64_t f_size(void *ctx)
{
	return ((const struct fmsg *)ctx)->size;
}

static int64_t f_internal(void *ctx)
{
	return ((const struct fmsg *)ctx)->internal;
}

static uint64_t f_modseq(void *ctx)
{
	return ((const struct fmsg *)ctx)->modseq;
}

static int f_header(void *ctx, const char *name, struct buf *out)
{
	const struct fmsg *m = ctx;
	const char *p = m->headers;
	size_t nlen = strlen(name);
	int count = 0;
	while (*p != '\0') {
		const char *e = strchr(p, '\n');
		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			buf_append(out, p + nlen + 1, (size_t)(e - p - nlen - 1));
			buf_append_c(out, '\0');
			count++;
		}
		p = e + 1;
	}
	return count;
}

static int f_all(void *ctx, struct buf *out)
{
	buf_append_str(out, ((const struct fmsg *)ctx)->headers);
	return 0;
}

static int f_body(void *ctx, struct buf *out)
{
	buf_append_str(out, ((const struct fmsg *)ctx)->body);
	return 0;
}

static const struct imap_search_ops fops = {f_kw,     f_size,   f_internal, f_internal,
                                            f_modseq, f_header, f_all,      f_body};

static unsigned int run(struct imap_search_program *prog, const struct imap_search_context *ctx,
                        uint32_t *nums)
{
	unsigned int n = 0, mask = 0;
	imap_search_prepare(prog, ctx);
	for (unsigned int i = 0; i < 4; i++) {
		struct imap_search_msg m = {i + 1, (i + 1) * 10, i * 7 % 64, (void *)&fmsgs[i]};
		const char *error;
		int r = imap_search_match(prog, &fops, &m, &error);
		check(r == 0 || r == 1);
		if (r == 1) {
			nums[n++] = m.uid;
			mask |= 1u << i;
		}
	}
	return mask;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned int opt = data[0];
	struct buf line = BUF_INIT, notline = BUF_INIT;
	struct imap_parser p;
	struct imap_parser_event ev;
	const char *error;

	buf_append_str(&line, "A1 SEARCH ");
	buf_append(&line, data + 1, size - 1);
	buf_append_str(&line, "\r\n");
	imap_parser_init(&p, NULL);
	imap_parser_feed(&p, line.data, line.len);
	int ret;
	for (int guard = 0; guard < 64; guard++) {
		ret = imap_parser_next(&p, &ev, &error);
		if (ret != 1 || ev.type == IMAP_PARSER_EV_COMMAND)
			break;
		if (ev.type == IMAP_PARSER_EV_LITERAL) {
			if (ev.literal_fits)
				check(imap_parser_literal_accept(&p, false));
			else
				imap_parser_literal_refuse(&p);
		}
	}
	if (ret == 1 && ev.type == IMAP_PARSER_EV_COMMAND) {
		unsigned int flags = 0;
		if (opt & 1)
			flags |= IMAP_SEARCH_PARSE_RETURN;
		if (opt & 2)
			flags |= IMAP_SEARCH_PARSE_CHARSET_FIRST;
		struct imap_search_limits small = {3, 6, 8};
		struct imap_search_program *prog = NULL;
		ret = imap_search_parse(ev.cmd.args, ev.cmd.count, (opt & 4) ? &small : NULL, flags,
		                        &prog, &error);
		check(ret == 0 || ret == IMAP_SEARCH_ERR_BAD || ret == IMAP_SEARCH_ERR_NO);
		if (ret != 0) {
			check(prog == NULL && error != NULL);
		} else {
			struct imap_seqset saved;
			imap_seqset_init(&saved);
			imap_seqset_add(&saved, 20, 30);
			imap_seqset_resolve(&saved, 40);
			struct imap_search_context ctx = {(opt >> 4) & 7, 40,
			                                  (opt & 8) ? &saved : NULL, 1706800000};
			uint32_t nums[4];
			unsigned int mask = run(prog, &ctx, nums), n = 0;
			for (unsigned int i = 0; i < 4; i++)
				n += (mask >> i) & 1;
			for (unsigned int i = 0; i < imap_search_header_count(prog); i++)
				check(imap_search_header_name(prog, i) != NULL);
			struct buf out = BUF_INIT;
			imap_search_format_search(&out, nums, n, 7);
			imap_search_format_esearch(&out, "A1", true, imap_search_return(prog), nums,
			                           n, imap_search_has_modseq(prog) ? 9 : 0);
			struct imap_seqset res;
			imap_seqset_init(&res);
			imap_search_save_result(imap_search_return(prog), nums, n, &res);
			imap_seqset_free(&res);
			buf_free(&out);
			imap_search_program_free(&prog);

			/* NOT ( ... ) must match exactly the others */
			if (!(opt & 3) && ev.cmd.count > 0) {
				struct imap_arg wrap[2];
				memset(wrap, 0, sizeof(wrap));
				wrap[0].type = IMAP_ARG_ATOM;
				wrap[0].str = "NOT";
				wrap[0].len = 3;
				wrap[1].type = IMAP_ARG_LIST;
				wrap[1].str = "";
				wrap[1].list = ev.cmd.args;
				wrap[1].count = ev.cmd.count;
				struct imap_search_limits big = {64, 100000, 0};
				if (imap_search_parse(wrap, 2, (opt & 4) ? &small : &big, 0, &prog,
				                      &error) == 0) {
					unsigned int nmask = run(prog, &ctx, nums);
					check((nmask ^ mask) == 15);
					imap_search_program_free(&prog);
				}
			}
			imap_seqset_free(&saved);
		}
	}
	imap_parser_deinit(&p);
	buf_free(&line);
	buf_free(&notline);
	return 0;
}
