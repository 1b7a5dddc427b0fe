/*
 * test-imap-search.c - SEARCH programs (imap/imap-search.h): every key,
 * OR / NOT nesting, charsets, dates (internal dates in the server's zone,
 * sent dates in the header's zone), limits, errors, evaluation order and
 * caching, the "needs" report, SEARCH / ESEARCH responses and SEARCHRES.
 *
 * Commands go through the real IMAP command parser: "A1 SEARCH <keys>"
 * is parsed, and the arguments handed to imap_search_parse(); the
 * program is run against four synthetic messages. The expected results
 * of test_keys() are what Dovecot 2.3.19 answers for the same messages
 * in a Maildir (server zone UTC), except where noted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/buf.h"
#include "imap/imap-parser.h"
#include "imap/imap-search.h"
#include "mail/date.h"

struct tmsg {
	uint32_t seq, uid;
	unsigned int flags;
	const char *keywords; /* space separated */
	uint64_t size;
	int64_t internal;
	uint64_t modseq;
	const char *headers; /* "Name: value\n" lines */
	const char *body;
};

static unsigned int body_calls, header_calls;

static int64_t ts(int64_t y, unsigned int m, unsigned int d, int hh, int mm, int ss)
{
	return mail_date_days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
}

static struct tmsg msgs[4];

static void init_msgs(void)
{
	struct tmsg m[4] = {
	    {1, 10, IMAP_SEARCH_F_SEEN | IMAP_SEARCH_F_ANSWERED, "$Forwarded", 1000,
	     ts(2024, 2, 1, 10, 0, 0), 5,
	     "From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <joerg@example.de>\n"
	     "To: alice@example.com\n"
	     "Subject: Hello World\n"
	     "Date: Thu, 1 Feb 2024 23:30:00 -0500\n",
	     "The quick brown fox"},
	    {2, 20, IMAP_SEARCH_F_RECENT, "", 5000, ts(2024, 2, 2, 0, 0, 0), 10,
	     "From: bob@example.org\n"
	     "Cc: carol@example.net\n"
	     "Subject: =?UTF-8?B?zprOkc6bzpfOnM6VzqHOkQ==?=\n"
	     "Date: Fri, 2 Feb 2024 01:00:00 +0200\n"
	     "X-Spam: yes\n",
	     "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2 \xd0\xbc\xd0\xb8\xd1\x80"},
	    {3, 30,
	     IMAP_SEARCH_F_DELETED | IMAP_SEARCH_F_DRAFT | IMAP_SEARCH_F_FLAGGED |
	         IMAP_SEARCH_F_RECENT | IMAP_SEARCH_F_SEEN,
	     "", 200, ts(2024, 1, 31, 23, 59, 59), 1,
	     "Subject: Re: hello\n"
	     "X-Spam: no\n"
	     "X-Spam: maybe\n",
	     "STRASSE \xc3\x84rger"},
	    {4, 40, 0, "Work", 1001, ts(2024, 3, 1, 0, 0, 0), 7, "Date: not a date\n", ""},
	};
	memcpy(msgs, m, sizeof(m));
}

static bool t_has_keyword(void *ctx, const char *kw)
{
	const struct tmsg *m = ctx;
	const char *p = m->keywords;
	size_t n = strlen(kw);
	while (*p != '\0') {
		const char *e = strchr(p, ' ');
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len == n && strncasecmp(p, kw, n) == 0)
			return true;
		p += len;
		while (*p == ' ')
			p++;
	}
	return false;
}

static uint64_t t_size(void *ctx)
{
	return ((const struct tmsg *)ctx)->size;
}

static int64_t t_internal(void *ctx)
{
	return ((const struct tmsg *)ctx)->internal;
}

static uint64_t t_modseq(void *ctx)
{
	return ((const struct tmsg *)ctx)->modseq;
}

static int t_header(void *ctx, const char *name, struct buf *out)
{
	const struct tmsg *m = ctx;
	const char *p = m->headers;
	size_t nlen = strlen(name);
	int count = 0;
	header_calls++;
	while (*p != '\0') {
		const char *e = strchr(p, '\n');
		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			const char *v = p + nlen + 1;
			while (*v == ' ')
				v++;
			buf_append(out, v, (size_t)(e - v));
			buf_append_c(out, '\0');
			count++;
		}
		p = e + 1;
	}
	return count;
}

static int t_all_headers(void *ctx, struct buf *out)
{
	buf_append_str(out, ((const struct tmsg *)ctx)->headers);
	return 0;
}

static int t_body(void *ctx, struct buf *out)
{
	body_calls++;
	buf_append_str(out, ((const struct tmsg *)ctx)->body);
	return 0;
}

static int t_fail(void *ctx, struct buf *out)
{
	return -1;
}

static const struct imap_search_ops ops = {
    .has_keyword = t_has_keyword,
    .size = t_size,
    .internal_date = t_internal,
    .save_date = t_internal,
    .modseq = t_modseq,
    .header = t_header,
    .all_headers = t_all_headers,
    .body_text = t_body,
};

static struct imap_seqset saved;
static int64_t now;

/* parse "A1 SEARCH <keys>" into prog; the reply text on error */
static int parse(const char *keys, unsigned int flags, const struct imap_search_limits *limits,
                 struct imap_search_program **prog, struct buf *err)
{
	struct imap_parser p;
	struct imap_parser_event ev;
	const char *error;
	struct buf line = BUF_INIT;
	imap_parser_init(&p, NULL);
	buf_appendf(&line, "A1 SEARCH %s\r\n", keys);
	imap_parser_feed(&p, line.data, line.len);
	int ret = imap_parser_next(&p, &ev, &error);
	while (ret == 1 && ev.type == IMAP_PARSER_EV_LITERAL) {
		assert_true(imap_parser_literal_accept(&p, false));
		ret = imap_parser_next(&p, &ev, &error);
	}
	if (ret != 1)
		fail_msg("parser: %s: %s", keys, error);
	assert_int_equal(ev.type, IMAP_PARSER_EV_COMMAND);
	ret = imap_search_parse(ev.cmd.args, ev.cmd.count, limits, flags, prog, &error);
	if (ret != 0)
		buf_appendf(err, "%s %s", ret == IMAP_SEARCH_ERR_NO ? "NO" : "BAD", error);
	imap_parser_deinit(&p);
	buf_free(&line);
	return ret;
}

/* the sequence numbers matching keys, "1 3", or "NO ..." / "BAD ..." */
static char *search_flags(const char *keys, unsigned int flags)
{
	struct imap_search_program *prog = NULL;
	struct buf out = BUF_INIT;
	if (parse(keys, flags, NULL, &prog, &out) != 0)
		return buf_steal(&out);
	struct imap_search_context ctx = {4, 40, &saved, now};
	imap_search_prepare(prog, &ctx);
	buf_append_str(&out, "");
	for (unsigned int i = 0; i < 4; i++) {
		struct imap_search_msg m = {msgs[i].seq, msgs[i].uid, msgs[i].flags, &msgs[i]};
		const char *error;
		int r = imap_search_match(prog, &ops, &m, &error);
		assert_true(r >= 0);
		if (r > 0)
			buf_appendf(&out, "%s%u", out.len > 0 ? " " : "", m.seq);
	}
	imap_search_program_free(&prog);
	assert_null(prog);
	return buf_steal(&out);
}

static char *search(const char *keys)
{
	return search_flags(keys, 0);
}

static void check(const char *keys, const char *expect)
{
	char *got = search(keys);
	if (strcmp(got, expect) != 0)
		fail_msg("SEARCH %s: got \"%s\", expected \"%s\"", keys, got, expect);
	free(got);
}

static void setup_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static void test_keys(void **state)
{
	static const char *const table[][2] = {
	    {"ALL", "1 2 3 4"},
	    {"SEEN", "1 3"},
	    {"seen", "1 3"},
	    {"UNSEEN", "2 4"},
	    {"ANSWERED", "1"},
	    {"UNANSWERED", "2 3 4"},
	    {"DELETED", "3"},
	    {"UNDELETED", "1 2 4"},
	    {"DRAFT", "3"},
	    {"UNDRAFT", "1 2 4"},
	    {"FLAGGED", "3"},
	    {"UNFLAGGED", "1 2 4"},
	    {"RECENT", "2 3"},
	    {"NEW", "2"},
	    {"OLD", "1 4"},
	    {"KEYWORD $Forwarded", "1"},
	    {"KEYWORD $forwarded", "1"},
	    {"KEYWORD Work", "4"},
	    {"UNKEYWORD Work", "1 2 3"},
	    {"KEYWORD \\Seen", "1 3"},
	    {"UNKEYWORD \\Seen", "2 4"},
	    {"LARGER 1000", "2 4"},
	    {"SMALLER 1000", "3"},
	    {"SMALLER 1001", "1 3"},
	    {"LARGER 99999999999", ""},
	    {"BEFORE 1-Feb-2024", "3"},
	    {"ON 1-Feb-2024", "1"},
	    {"ON 01-feb-2024", "1"},
	    {"ON \"1-Feb-2024\"", "1"},
	    {"SINCE 2-Feb-2024", "2 4"},
	    {"ON 2-Feb-2024", "2"},
	    {"ON 31-Jan-2024", "3"},
	    {"SENTON 1-Feb-2024", "1"},
	    {"SENTON 2-Feb-2024", "2"},
	    {"SENTBEFORE 2-Feb-2024", "1 3 4"},
	    {"SENTSINCE 2-Feb-2024", "2"},
	    {"SENTSINCE 1-Jan-1970", "1 2 3 4"},
	    {"NOT SENTON 1-Feb-2024", "2 3 4"},
	    {"SAVEDATESUPPORTED", "1 2 3 4"},
	    {"SAVEDON 1-Feb-2024", "1"},
	    {"SAVEDBEFORE 1-Feb-2024", "3"},
	    {"SAVEDSINCE 1-Mar-2024", "4"},
	    {"FROM \"m\xc3\xbcller\"", "1"},
	    {"FROM \"M\xc3\x9cLLER\"", "1"},
	    {"FROM joerg@EXAMPLE", "1"},
	    {"FROM \"\"", "1 2"},
	    {"TO alice", "1"},
	    {"CC carol", "2"},
	    {"BCC carol", ""},
	    {"SUBJECT hello", "1 3"},
	    {"SUBJECT \"hello world\"", "1"},
	    {"SUBJECT \"\xce\xba\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xb5\xcf\x81\xce\xb1\"", "2"},
	    {"HEADER X-Spam \"\"", "2 3"},
	    {"HEADER X-Spam maybe", "3"},
	    {"HEADER x-spam YES", "2"},
	    {"HEADER Subject =?UTF-8?B?", ""},
	    {"HEADER SUBJECT \"hello world\"", "1"},
	    {"SENTON 1-Jan-1970", "3 4"},
	    {"HEADER X-Missing \"\"", ""},
	    {"BODY fox", "1"},
	    {"BODY \"\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\"", "2"},
	    {"BODY \"\xd0\x9c\xd0\x98\xd0\xa0\"", "2"},
	    {"BODY strasse", "3"},
	    {"BODY \"\xc3\xa4rger\"", "3"},
	    {"BODY {3+}\r\nFOX", "1"},
	    {"BODY \"\"", "1 2 3 4"},
	    {"TEXT hello", "1 3"},
	    {"TEXT fox", "1"},
	    {"TEXT alice@example", "1"},
	    {"TEXT nothing-here", ""},
	    {"UID 10:20", "1 2"},
	    {"UID 25:*", "3 4"},
	    {"UID *", "4"},
	    {"UID 41:*", "4"},
	    {"2:3", "2 3"},
	    {"*", "4"},
	    {"1,4", "1 4"},
	    {"3:1", "1 2 3"},
	    {"5:*", "4"},
	    {"OR SEEN FLAGGED", "1 3"},
	    {"OR (SEEN ANSWERED) RECENT", "1 2 3"},
	    {"NOT (OR SEEN RECENT)", "4"},
	    {"NOT NOT SEEN", "1 3"},
	    {"(SEEN)", "1 3"},
	    {"((SEEN) (UNDELETED))", "1"},
	    {"OR OR SEEN DELETED NEW", "1 2 3"},
	    {"SEEN NOT DELETED LARGER 10", "1"},
	    {"OR BODY fox SUBJECT hello", "1 3"},
	    {"MODSEQ 6", "2 4"},
	    {"MODSEQ \"/flags/\\\\draft\" all 6", "2 4"},
	    {"MODSEQ \"/flags/$work\" priv 10", "2"},
	    {"$", "2 4"},
	    {"UID $", "2 4"},
	    {"NOT $", "1 3"},
	    {"YOUNGER 7200", "2 4"},
	    {"OLDER 7200", "1 3"},
	    {"CHARSET UTF-8 SEEN", "1 3"},
	    {"CHARSET us-ascii ALL", "1 2 3 4"},
	    {"CHARSET \"UTF-8\" BODY fox", "1"},
	};
	setup_tz("UTC");
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		check(table[i][0], table[i][1]);
}

static void test_errors(void **state)
{
	static const char *const table[][2] = {
	    {"FOO", "BAD Unknown search key"},
	    {"()", "BAD Empty search key list"},
	    {"LARGER x", "BAD Invalid size in search"},
	    {"LARGER", "BAD Missing argument for search key"},
	    {"BEFORE 30-Feb-2024", "BAD Invalid search date"},
	    {"BEFORE 1-Foo-2024", "BAD Invalid search date"},
	    {"BEFORE 1-Feb-24", "BAD Invalid search date"},
	    {"BEFORE 123-Feb-2024", "BAD Invalid search date"},
	    {"UID", "BAD Missing argument for search key"},
	    {"UID abc", "BAD Invalid UID set in search"},
	    {"1:x", "BAD Invalid sequence set in search"},
	    {"0", "BAD Invalid sequence set in search"},
	    {"OR SEEN", "BAD Missing argument for OR"},
	    {"NOT", "BAD Missing argument for NOT"},
	    {"HEADER", "BAD Missing argument for search key"},
	    {"HEADER X-Spam", "BAD Missing argument for search key"},
	    {"HEADER \"a b\" x", "BAD Invalid header name in search"},
	    {"HEADER \"\" x", "BAD Invalid header name in search"},
	    {"SUBJECT (a)", "BAD Invalid argument for search key"},
	    {"MODSEQ", "BAD Missing argument for search key"},
	    {"MODSEQ x", "BAD Invalid MODSEQ entry name"},
	    {"MODSEQ \"/flags/x\" bogus 5", "BAD Invalid MODSEQ entry type"},
	    {"MODSEQ 99999999999999999999", "BAD Invalid MODSEQ value"},
	    {"OLDER 0", "BAD Invalid interval in search"},
	    {"CHARSET ISO-8859-1 ALL", "NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset"},
	    {"CHARSET", "BAD Missing charset"},
	    {"CHARSET UTF-8", "BAD Missing search keys"},
	    {"RETURN (MIN) ALL", "BAD Unknown search key"},
	    {"SEEN CHARSET UTF-8", "BAD Unknown search key"},
	};
	setup_tz("UTC");
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		check(table[i][0], table[i][1]);
}

static void test_limits(void **state)
{
	struct buf keys = BUF_INIT, err = BUF_INIT;
	struct imap_search_program *prog = NULL;
	/* nesting through NOT */
	for (int i = 0; i < 40; i++)
		buf_append_str(&keys, "NOT ");
	buf_append_str(&keys, "SEEN");
	assert_int_equal(parse(keys.data, 0, NULL, &prog, &err), IMAP_SEARCH_ERR_BAD);
	assert_string_equal(err.data, "BAD Search nesting too deep");
	buf_reset(&err);
	struct imap_search_limits lim = {.max_depth = 64};
	assert_int_equal(parse(keys.data, 0, &lim, &prog, &err), 0);
	imap_search_program_free(&prog);
	/* the number of keys */
	buf_reset(&keys);
	for (int i = 0; i < 1001; i++)
		buf_append_str(&keys, "SEEN ");
	buf_append_str(&keys, "ALL");
	assert_int_equal(parse(keys.data, 0, NULL, &prog, &err), IMAP_SEARCH_ERR_BAD);
	assert_string_equal(err.data, "BAD Too many search keys");
	buf_reset(&err);
	lim.max_keys = 5000;
	assert_int_equal(parse(keys.data, 0, &lim, &prog, &err), 0);
	imap_search_program_free(&prog);
	/* string length */
	lim.max_string = 3;
	assert_int_equal(parse("BODY abcd", 0, &lim, &prog, &err), IMAP_SEARCH_ERR_BAD);
	assert_string_equal(err.data, "BAD Search string too long");
	buf_reset(&err);
	assert_int_equal(parse("BODY abc", 0, &lim, &prog, &err), 0);
	imap_search_program_free(&prog);
	buf_free(&keys);
	buf_free(&err);
}

/* internal dates compare in the server's zone */
static void test_timezone(void **state)
{
	struct tmsg save = msgs[2];
	/* 2024-01-31 23:30 UTC is 1 Feb 00:30 in Berlin */
	msgs[2].internal = ts(2024, 1, 31, 23, 30, 0);
	setup_tz("UTC");
	check("ON 1-Feb-2024", "1");
	check("BEFORE 1-Feb-2024", "3");
	setup_tz("Europe/Berlin");
	check("ON 1-Feb-2024", "1 3");
	check("BEFORE 1-Feb-2024", "");
	/* 1 Feb 10:00 UTC is 11:00 in Berlin, still 1 Feb; 2 Feb 00:00 UTC
	 * is 01:00 in Berlin */
	check("ON 2-Feb-2024", "2");
	/* sent dates do not depend on the server's zone */
	check("SENTON 1-Feb-2024", "1");
	check("SENTON 2-Feb-2024", "2");
	/* a DST change day: 31 Mar 2024 is 23 hours long in Berlin */
	msgs[2].internal = ts(2024, 3, 30, 23, 30, 0); /* 31 Mar 00:30 CET */
	msgs[3].internal = ts(2024, 3, 31, 21, 59, 0); /* 31 Mar 23:59 CEST */
	check("ON 31-Mar-2024", "3 4");
	msgs[3].internal = ts(2024, 3, 31, 22, 0, 0); /* 1 Apr 00:00 CEST */
	check("ON 31-Mar-2024", "3");
	check("SINCE 1-Apr-2024", "4");
	msgs[2] = save;
	msgs[3].internal = ts(2024, 3, 1, 0, 0, 0);
	setup_tz("UTC");
}

static int64_t fixed_internal(void *ctx)
{
	return 0;
}

/* cheap keys first: the body is not read when a flag already decides;
 * headers are fetched once per message */
static void test_order_and_cache(void **state)
{
	setup_tz("UTC");
	body_calls = 0;
	check("BODY fox SEEN", "1");
	assert_int_equal(body_calls, 2); /* messages 1 and 3 only */
	body_calls = 0;
	check("OR BODY fox SEEN", "1 3");
	assert_int_equal(body_calls, 2); /* 2 and 4: SEEN ran first */
	body_calls = 0;
	check("BODY fox BODY quick TEXT brown", "1");
	assert_int_equal(body_calls, 4); /* once per message */
	header_calls = 0;
	check("OR FROM nobody FROM bob", "2");
	assert_int_equal(header_calls, 4);
	header_calls = 0;
	check("SENTON 1-Feb-2024 SENTBEFORE 3-Feb-2024 HEADER Date \"\"", "1");
	assert_int_equal(header_calls, 4);
	header_calls = 0;
	check("UID 99 FROM bob", "");
	assert_int_equal(header_calls, 0);

	/* failing accessors give -1 and a NO text */
	struct imap_search_program *prog = NULL;
	struct buf err = BUF_INIT;
	const char *error = NULL;
	assert_int_equal(parse("BODY x", 0, NULL, &prog, &err), 0);
	struct imap_search_context ctx = {4, 40, NULL, 0};
	imap_search_prepare(prog, &ctx);
	struct imap_search_ops bad = ops;
	bad.body_text = t_fail;
	bad.internal_date = fixed_internal;
	struct imap_search_msg m = {1, 10, 0, &msgs[0]};
	assert_int_equal(imap_search_match(prog, &bad, &m, &error), -1);
	assert_string_equal(error, "Failed to read message body");
	imap_search_program_free(&prog);
	buf_free(&err);
}

static void test_needs(void **state)
{
	static const struct {
		const char *keys;
		unsigned int needs;
		const char *headers;
	} table[] = {
	    {"SEEN UID 1:3 5", 0, ""},
	    {"KEYWORD x", IMAP_SEARCH_NEED_KEYWORDS, ""},
	    {"FROM a LARGER 5", IMAP_SEARCH_NEED_HEADERS | IMAP_SEARCH_NEED_SIZE, "From"},
	    {"FROM a from b HEADER FROM c TO x", IMAP_SEARCH_NEED_HEADERS, "From To"},
	    {"SENTON 1-Jan-2020 BEFORE 1-Jan-2020",
	     IMAP_SEARCH_NEED_HEADERS | IMAP_SEARCH_NEED_INTERNAL_DATE, "Date"},
	    {"BODY x", IMAP_SEARCH_NEED_BODY, ""},
	    {"TEXT x", IMAP_SEARCH_NEED_BODY | IMAP_SEARCH_NEED_ALL_HEADERS, ""},
	    {"MODSEQ 5 SAVEDON 1-Jan-2020", IMAP_SEARCH_NEED_MODSEQ | IMAP_SEARCH_NEED_SAVE_DATE,
	     ""},
	    {"YOUNGER 5", IMAP_SEARCH_NEED_INTERNAL_DATE, ""},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct imap_search_program *prog = NULL;
		struct buf err = BUF_INIT, h = BUF_INIT;
		assert_int_equal(parse(table[i].keys, 0, NULL, &prog, &err), 0);
		assert_int_equal(imap_search_needs(prog), table[i].needs);
		for (unsigned int k = 0; k < imap_search_header_count(prog); k++)
			buf_appendf(&h, "%s%s", k > 0 ? " " : "", imap_search_header_name(prog, k));
		assert_string_equal(buf_cstr(&h), table[i].headers);
		assert_null(imap_search_header_name(prog, 99));
		imap_search_program_free(&prog);
		buf_free(&err);
		buf_free(&h);
	}
	struct imap_search_program *prog = NULL;
	struct buf err = BUF_INIT;
	assert_int_equal(parse("MODSEQ 5 $", 0, NULL, &prog, &err), 0);
	assert_true(imap_search_has_modseq(prog));
	assert_true(imap_search_uses_saved(prog));
	assert_false(imap_search_esearch(prog));
	imap_search_program_free(&prog);
	assert_int_equal(parse("SEEN", 0, NULL, &prog, &err), 0);
	assert_false(imap_search_has_modseq(prog));
	assert_false(imap_search_uses_saved(prog));
	imap_search_program_free(&prog);
	buf_free(&err);
}

static void test_return(void **state)
{
	static const struct {
		const char *keys;
		int ret;
		unsigned int opts;
	} table[] = {
	    {"RETURN (MIN MAX) SEEN", 0, IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_MAX},
	    {"RETURN () ALL", 0, IMAP_SEARCH_RETURN_ALL},
	    {"RETURN (count all save) ALL", 0,
	     IMAP_SEARCH_RETURN_COUNT | IMAP_SEARCH_RETURN_ALL | IMAP_SEARCH_RETURN_SAVE},
	    {"RETURN (SAVE) CHARSET UTF-8 ALL", 0, IMAP_SEARCH_RETURN_SAVE},
	    {"RETURN (FOO) ALL", IMAP_SEARCH_ERR_BAD, 0},
	    {"RETURN MIN ALL", IMAP_SEARCH_ERR_BAD, 0},
	    {"RETURN", IMAP_SEARCH_ERR_BAD, 0},
	    {"SEEN", 0, 0},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct imap_search_program *prog = NULL;
		struct buf err = BUF_INIT;
		int ret = parse(table[i].keys, IMAP_SEARCH_PARSE_RETURN, NULL, &prog, &err);
		assert_int_equal(ret, table[i].ret);
		if (ret == 0) {
			assert_int_equal(imap_search_return(prog), table[i].opts);
			assert_int_equal(imap_search_esearch(prog), table[i].opts != 0);
			imap_search_program_free(&prog);
		} else {
			assert_string_equal(err.data, "BAD Invalid RETURN options");
		}
		buf_free(&err);
	}
	char *got = search_flags("RETURN (MIN) SEEN", IMAP_SEARCH_PARSE_RETURN);
	assert_string_equal(got, "1 3");
	free(got);
}

/* SORT / THREAD: the charset comes first, without CHARSET */
static void test_charset_first(void **state)
{
	char *got = search_flags("UTF-8 SEEN", IMAP_SEARCH_PARSE_CHARSET_FIRST);
	assert_string_equal(got, "1 3");
	free(got);
	got = search_flags("KOI8-R SEEN", IMAP_SEARCH_PARSE_CHARSET_FIRST);
	assert_string_equal(got, "NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset");
	free(got);
	got = search_flags("(SEEN)", IMAP_SEARCH_PARSE_CHARSET_FIRST);
	assert_string_equal(got, "BAD Missing charset");
	free(got);
}

static void test_format(void **state)
{
	struct buf out = BUF_INIT;
	const uint32_t nums[] = {2, 3, 4, 7, 9, 10};
	unsigned int all = IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_MAX |
	                   IMAP_SEARCH_RETURN_COUNT | IMAP_SEARCH_RETURN_ALL;

	imap_search_format_search(&out, nums, 6, 0);
	assert_string_equal(out.data, "* SEARCH 2 3 4 7 9 10");
	buf_reset(&out);
	imap_search_format_search(&out, nums, 2, 917162500);
	assert_string_equal(out.data, "* SEARCH 2 3 (MODSEQ 917162500)");
	buf_reset(&out);
	imap_search_format_search(&out, nums, 0, 5);
	assert_string_equal(out.data, "* SEARCH");
	buf_reset(&out);

	assert_true(imap_search_format_esearch(&out, "A1", true, all, nums, 6, 0));
	assert_string_equal(out.data,
	                    "* ESEARCH (TAG \"A1\") UID MIN 2 MAX 10 ALL 2:4,7,9:10 COUNT 6");
	buf_reset(&out);
	/* RFC 4731 section 4 examples */
	const uint32_t r1[] = {4};
	assert_true(
	    imap_search_format_esearch(&out, "A284", false, IMAP_SEARCH_RETURN_MIN, r1, 1, 0));
	assert_string_equal(out.data, "* ESEARCH (TAG \"A284\") MIN 4");
	buf_reset(&out);
	const uint32_t r2[] = {7, 3800};
	assert_true(imap_search_format_esearch(
	    &out, "A285", true, IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_MAX, r2, 2, 0));
	assert_string_equal(out.data, "* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800");
	buf_reset(&out);
	const uint32_t r3[] = {1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 90, 91, 92, 93, 94};
	assert_true(
	    imap_search_format_esearch(&out, "A283", false, IMAP_SEARCH_RETURN_ALL, r3, 17, 0));
	assert_string_equal(out.data, "* ESEARCH (TAG \"A283\") ALL 1:3,5:13,90:94");
	buf_reset(&out);
	/* nothing found: MIN / MAX / ALL left out, COUNT 0 stays */
	assert_true(imap_search_format_esearch(&out, "A2", false, all, NULL, 0, 0));
	assert_string_equal(out.data, "* ESEARCH (TAG \"A2\") COUNT 0");
	buf_reset(&out);
	assert_true(
	    imap_search_format_esearch(&out, "A3", false, IMAP_SEARCH_RETURN_MIN, NULL, 0, 0));
	assert_string_equal(out.data, "* ESEARCH (TAG \"A3\")");
	buf_reset(&out);
	/* MODSEQ (RFC 7162 section 3.1.5) */
	assert_true(
	    imap_search_format_esearch(&out, "a", true, IMAP_SEARCH_RETURN_COUNT, nums, 3, 42));
	assert_string_equal(out.data, "* ESEARCH (TAG \"a\") UID COUNT 3 MODSEQ 42");
	buf_reset(&out);
	/* SAVE alone: no response (RFC 5182 section 2.1) */
	assert_false(
	    imap_search_format_esearch(&out, "a", false, IMAP_SEARCH_RETURN_SAVE, nums, 3, 0));
	assert_int_equal(out.len, 0);
	assert_true(imap_search_format_esearch(
	    &out, "a", false, IMAP_SEARCH_RETURN_SAVE | IMAP_SEARCH_RETURN_COUNT, nums, 3, 0));
	assert_string_equal(out.data, "* ESEARCH (TAG \"a\") COUNT 3");
	buf_free(&out);
}

static void test_save_result(void **state)
{
	struct imap_seqset set;
	struct buf out = BUF_INIT;
	const uint32_t uids[] = {3, 5, 6, 9};
	static const struct {
		unsigned int ret;
		const char *expect;
	} table[] = {
	    {IMAP_SEARCH_RETURN_SAVE, "3,5:6,9"},
	    {IMAP_SEARCH_RETURN_SAVE | IMAP_SEARCH_RETURN_MIN, "3"},
	    {IMAP_SEARCH_RETURN_SAVE | IMAP_SEARCH_RETURN_MAX, "9"},
	    {IMAP_SEARCH_RETURN_SAVE | IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_MAX, "3,9"},
	    {IMAP_SEARCH_RETURN_SAVE | IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_ALL, "3,5:6,9"},
	    {IMAP_SEARCH_RETURN_SAVE | IMAP_SEARCH_RETURN_MAX | IMAP_SEARCH_RETURN_COUNT,
	     "3,5:6,9"},
	};
	imap_seqset_init(&set);
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		imap_search_save_result(table[i].ret, uids, 4, &set);
		buf_reset(&out);
		imap_seqset_format(&set, &out);
		assert_string_equal(buf_cstr(&out), table[i].expect);
	}
	imap_search_save_result(IMAP_SEARCH_RETURN_SAVE | IMAP_SEARCH_RETURN_MIN, uids, 0, &set);
	assert_int_equal(set.count, 0);
	imap_seqset_free(&set);
	buf_free(&out);
}

static void test_dates(void **state)
{
	static const struct {
		const char *s;
		int ok;
		int64_t y;
		unsigned int m, d;
	} table[] = {
	    {"1-Feb-2024", 1, 2024, 2, 1},    {"01-Feb-2024", 1, 2024, 2, 1},
	    {"29-Feb-2024", 1, 2024, 2, 29},  {"29-Feb-2023", 0, 0, 0, 0},
	    {"31-dec-1999", 1, 1999, 12, 31}, {"31-Apr-2020", 0, 0, 0, 0},
	    {"0-Jan-2020", 0, 0, 0, 0},       {"1-Feb-24", 0, 0, 0, 0},
	    {"1-Feb-02024", 0, 0, 0, 0},      {"1 Feb 2024", 0, 0, 0, 0},
	    {"-Feb-2024", 0, 0, 0, 0},        {"1-February-2024", 0, 0, 0, 0},
	    {"1-Feb-", 0, 0, 0, 0},           {"", 0, 0, 0, 0},
	    {"1-Feb-20x4", 0, 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		int64_t y;
		unsigned int m, d;
		int r = imap_search_parse_date(table[i].s, strlen(table[i].s), &y, &m, &d);
		if (!table[i].ok) {
			if (r != -1)
				fail_msg("date %s should fail", table[i].s);
			continue;
		}
		assert_int_equal(r, 0);
		assert_int_equal(y, table[i].y);
		assert_int_equal(m, table[i].m);
		assert_int_equal(d, table[i].d);
	}
}

static void test_fold(void **state)
{
	static const char *const table[][2] = {
	    {"ABCxyz", "abcxyz"},
	    {"\xc3\x80\xc3\x9e\xc3\x97\xc3\x9f", "\xc3\xa0\xc3\xbe\xc3\x97\xc3\x9f"}, /* ÀÞ×ß */
	    {"\xc5\xb8", "\xc3\xbf"},                                                 /* Ÿ -> ÿ */
	    {"\xc5\x81\xc5\xbb", "\xc5\x82\xc5\xbc"},                                 /* ŁŻ */
	    {"\xc5\xbf", "s"},                                                        /* ſ */
	    {"\xce\xa3\xcf\x82", "\xcf\x83\xcf\x83"},                                 /* Σς */
	    {"\xce\x86", "\xce\xac"},                                                 /* Ά */
	    {"\xd0\x81\xd0\xaf", "\xd1\x91\xd1\x8f"},                                 /* ЁЯ */
	    {"\xd2\x90", "\xd2\x91"},                                                 /* Ґ */
	    {"\xc2\xb5", "\xce\xbc"},                                                 /* µ */
	    {"\xe1\xba\x9e", "\xe1\xba\x9e"}, /* ẞ: outside the blocks, kept */
	    {"a\xff\xc3", "a\xff\xc3"},       /* invalid UTF-8 copied */
	};
	struct buf out = BUF_INIT;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		buf_reset(&out);
		imap_search_fold(table[i][0], strlen(table[i][0]), &out);
		assert_string_equal(out.data, table[i][1]);
	}
	struct buf scratch = BUF_INIT;
	assert_true(imap_search_substr("Hello World", 11, "o w", 3, &scratch));
	assert_false(imap_search_substr("Hello World", 11, "ow", 2, &scratch));
	assert_true(imap_search_substr("", 0, "", 0, &scratch));
	buf_free(&scratch);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_timezone),
	    cmocka_unit_test(test_order_and_cache),
	    cmocka_unit_test(test_needs),
	    cmocka_unit_test(test_return),
	    cmocka_unit_test(test_charset_first),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_save_result),
	    cmocka_unit_test(test_dates),
	    cmocka_unit_test(test_fold),
	};
	init_msgs();
	imap_seqset_init(&saved);
	imap_seqset_add(&saved, 20, 20);
	imap_seqset_add(&saved, 40, 40);
	imap_seqset_resolve(&saved, 40);
	now = ts(2024, 2, 2, 1, 0, 0);
	int ret = cmocka_run_group_tests(tests, NULL, NULL);
	imap_seqset_free(&saved);
	return ret;
}
