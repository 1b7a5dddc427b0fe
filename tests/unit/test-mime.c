/*
 * test-mime.c - MIME structure parser, Content-* fields, RFC 2231
 * parameters and RFC 2047 encoded words (mail/mime.h).
 *
 * Each message of the corpus is parsed fed in one piece, split in two at
 * every position, split in three at every pair of positions (short
 * messages) and one byte at a time; every run must give the same
 * transcript - the header events, then the tree with each part's offsets,
 * line counts, flags and Content-* fields - and that must be the expected
 * one. Offsets are checked against the input too: the body of a part
 * that a boundary ends is followed by the line end and "--".
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
#include "mail/mime.h"

static void escape(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 32 && c < 127 && c != '\\')
			buf_append_c(b, (char)c);
		else
			buf_appendf(b, "\\x%02x", c);
	}
}

static const char *const flag_names[] = {
    "multipart",    "message",     "8bit-header",     "no-blank",    "header-cut",       "no-end",
    "bad-boundary", "depth-limit", "encoded-message", "parts-limit", "bad-content-type",
};

static void dump_params(struct buf *out, const struct mime_params *params)
{
	for (unsigned int i = 0; i < params->count; i++) {
		const struct mime_param *pa = &params->list[i];
		buf_appendf(out, " %s=", pa->name);
		escape(out, pa->value, strlen(pa->value));
		if (pa->extended)
			buf_appendf(out, "{%s'%s'%s}", pa->charset != NULL ? pa->charset : "",
			            pa->language != NULL ? pa->language : "",
			            pa->encoded ? "encoded" : "");
	}
}

static void dump_str(struct buf *out, const char *key, const char *v)
{
	if (v == NULL)
		return;
	buf_appendf(out, " %s=", key);
	escape(out, v, strlen(v));
}

/* the part's body must end where its boundary's line end starts */
static void check_part(const struct mime_part *part, const char *in, size_t len)
{
	assert_true(part->header_offset <= part->body_offset);
	assert_true(part->body_offset <= part->body_end);
	assert_true(part->body_end <= len);
	uint64_t lf = 0, bare = 0;
	for (uint64_t i = part->body_offset; i < part->body_end; i++) {
		if (in[i] == '\n') {
			lf++;
			if (i == 0 || in[i - 1] != '\r')
				bare++;
		}
	}
	uint64_t lines = lf;
	if (part->body_end > part->body_offset && in[part->body_end - 1] != '\n')
		lines++;
	assert_int_equal(part->body_lines, lines);
	assert_int_equal(part->body_bare_lf, bare);
	lf = bare = 0;
	for (uint64_t i = part->header_offset; i < part->body_offset; i++) {
		if (in[i] == '\n') {
			lf++;
			if (i == 0 || in[i - 1] != '\r')
				bare++;
		}
	}
	assert_int_equal(part->header_lines, lf);
	assert_int_equal(part->header_bare_lf, bare);
	if (part->parent != NULL && (part->parent->flags & MIME_PART_MULTIPART) &&
	    part->body_end < len && part->body_end > part->body_offset) {
		const char *after = in + part->body_end;
		size_t left = len - part->body_end;
		if (left >= 3 && after[0] == '\n')
			assert_memory_equal(after, "\n--", 3);
		else if (left >= 4 && after[0] == '\r')
			assert_memory_equal(after, "\r\n--", 4);
		else
			assert_memory_equal(after, "--", 2);
	}
}

static void dump_tree(struct buf *out, const struct mime_part *part, const char *path,
                      const char *in, size_t len)
{
	check_part(part, in, len);
	buf_appendf(out, "%s %s/%s h=%" PRIu64 " b=%" PRIu64 "-%" PRIu64 " l=%" PRIu64, path,
	            part->type, part->subtype, part->header_offset, part->body_offset,
	            part->body_end, part->body_lines);
	for (unsigned int i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
		if (part->flags & (1u << i))
			buf_appendf(out, " +%s", flag_names[i]);
	}
	dump_params(out, &part->params);
	dump_str(out, "enc", part->encoding);
	dump_str(out, "id", part->id);
	dump_str(out, "desc", part->description);
	if (part->disposition != NULL) {
		buf_appendf(out, " disp=%s", part->disposition);
		dump_params(out, &part->disposition_params);
	}
	dump_str(out, "lang", part->language);
	dump_str(out, "loc", part->location);
	dump_str(out, "md5", part->md5);
	if (part->envelope != NULL) {
		dump_str(out, "subject", part->envelope->subject);
		dump_str(out, "from", part->envelope->from);
		dump_str(out, "message-id", part->envelope->message_id);
	}
	buf_append_c(out, '\n');
	unsigned int n = 0;
	assert_true(part->nchildren == 0 ||
	            (part->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)));
	if (part->flags & MIME_PART_MESSAGE)
		assert_int_equal(part->nchildren, 1);
	for (const struct mime_part *c = part->children; c != NULL; c = c->next) {
		char sub[256];
		snprintf(sub, sizeof(sub), "%s.%u", path, ++n);
		assert_ptr_equal(c->parent, part);
		assert_int_equal(c->depth, part->depth + 1);
		assert_true(c->header_offset >= part->body_offset);
		assert_true(c->body_end <= part->body_end);
		dump_tree(out, c, sub, in, len);
	}
	assert_int_equal(n, part->nchildren);
}

static void run(const char *in, size_t len, const struct mime_limits *limits, const size_t *cuts,
                size_t ncuts, bool events, struct buf *out)
{
	struct mime_parser *p = mime_parser_create(limits);
	struct mime_event ev;
	size_t piece = 0, fed = 0;
	bool finished = false;

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
				assert_false(finished);
				mime_parser_finish(p);
				finished = true;
			}
			continue;
		}
		if (ev.type == MIME_EV_END)
			break;
		if (events) {
			buf_appendf(out, "F %" PRIu64 " %s: ", ev.part->header_offset,
			            ev.field->name);
			escape(out, ev.field->value, ev.field->value_len);
			buf_append_c(out, '\n');
		}
	}
	assert_int_equal(mime_parser_next(p, &ev), 1);
	assert_int_equal(ev.type, MIME_EV_END);
	struct mime_part *root = mime_parser_steal(p);
	assert_non_null(root);
	assert_true(root->header_offset == 0 && root->body_end == len);
	dump_tree(out, root, "R", in, len);
	mime_part_free(&root);
	mime_parser_destroy(&p);
}

static const char *current_case = "";

static void check_all_splits(const char *in, size_t len, const struct mime_limits *limits,
                             bool events, const char *expected)
{
	struct buf ref = BUF_INIT, t = BUF_INIT;

	run(in, len, limits, NULL, 0, events, &ref);
	if (getenv("MIME_TEST_PRINT") != NULL)
		fprintf(stderr, "%s", buf_cstr(&ref));
	else if (strcmp(buf_cstr(&ref), expected) != 0) {
		fprintf(stderr, "case %s\ngot:\n%sexpected:\n%s", current_case, buf_cstr(&ref),
		        expected);
		fail();
	}
	for (size_t cut = 0; cut <= len; cut++) {
		buf_reset(&t);
		run(in, len, limits, &cut, 1, events, &t);
		if (strcmp(buf_cstr(&t), buf_cstr(&ref)) != 0) {
			fprintf(stderr, "case %s split at %zu:\n%svs whole:\n%s", current_case, cut,
			        buf_cstr(&t), buf_cstr(&ref));
			fail();
		}
	}
	if (len <= 120) {
		for (size_t a = 0; a <= len; a++) {
			for (size_t b = a; b <= len; b++) {
				size_t cuts[2] = {a, b};
				buf_reset(&t);
				run(in, len, limits, cuts, 2, events, &t);
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
	run(in, len, limits, bytes, len + 1, events, &t);
	assert_string_equal(buf_cstr(&t), buf_cstr(&ref));
	free(bytes);

	/* mime_parse() over the buffer gives the same tree */
	struct mime_part *root = mime_parse(in, len, limits);
	buf_reset(&t);
	dump_tree(&t, root, "R", in, len);
	assert_non_null(strstr(buf_cstr(&ref), buf_cstr(&t)));
	mime_part_free(&root);
	buf_free(&ref);
	buf_free(&t);
}

struct msg_case {
	const char *name;
	const char *in;
	size_t len;
	const struct mime_limits *limits;
	bool events;
	const char *expected;
};

#define L(s) s, sizeof(s) - 1

static const struct mime_limits tight = {
    .max_depth = 3, .max_parts = 5, .max_header_line = 50, .max_header = 200};

static const struct msg_case cases[] = {
    {"simple text", L("From: a@example.test\r\nSubject: hi\r\n\r\nHello\r\nWorld\r\n"), NULL, true,
     "F 0 From: a@example.test\n"
     "F 0 Subject: hi\n"
     "R text/plain h=0 b=37-51 l=2 subject=hi from=a@example.test\n"},
    {"no body, no line end", L("Subject: x"), NULL, false,
     "R text/plain h=0 b=10-10 l=0 +no-blank subject=x\n"},
    {"empty message", L(""), NULL, false, "R text/plain h=0 b=0-0 l=0 +no-blank\n"},
    {"body without last line end", L("\r\nab\r\ncd"), NULL, false, "R text/plain h=0 b=2-8 l=2\n"},
    {"multipart with preamble and epilogue",
     L("Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
       "\r\n"
       "preamble\r\n"
       "--XX\r\n"
       "Content-Type: text/plain; charset=utf-8\r\n"
       "\r\n"
       "part one\r\n"
       "--XX\r\n"
       "\r\n"
       "part two\r\n"
       "\r\n"
       "--XX--\r\n"
       "epilogue\r\n"),
     NULL, true,
     "F 0 Content-Type: multipart/mixed; boundary=\"XX\"\n"
     "F 64 Content-Type: text/plain; charset=utf-8\n"
     "R multipart/mixed h=0 b=48-155 l=11 +multipart boundary=XX\n"
     "R.1 text/plain h=64 b=107-115 l=1 charset=utf-8\n"
     "R.2 text/plain h=123 b=125-135 l=1\n"},
    {"nested alternative, LF only, RFC 2231 attachment",
     L("MIME-Version: 1.0\n"
       "Content-Type: multipart/mixed; boundary=outer\n"
       "\n"
       "--outer\n"
       "Content-Type: multipart/alternative; boundary=\"outer-inner\"\n"
       "\n"
       "--outer-inner\n"
       "Content-Type: text/plain\n"
       "\n"
       "plain\n"
       "--outer-inner\n"
       "Content-Type: text/html\n"
       "Content-Transfer-Encoding: Quoted-Printable\n"
       "\n"
       "<p>html</p>\n"
       "--outer-inner--\n"
       "--outer\n"
       "Content-Type: application/pdf; name*=UTF-8''%E2%82%AC.pdf\n"
       "Content-Disposition: attachment;\n"
       " filename*0*=iso-8859-1'de'%E4rger; filename*1=\".pdf\"\n"
       "Content-Transfer-Encoding: base64\n"
       "Content-ID: <id1@example.test>\n"
       "Content-Description: the bill\n"
       "Content-Language: de, en\n"
       "Content-Location: http://example.test/a.pdf\n"
       "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
       "\n"
       "JVBERi0=\n"
       "--outer--\n"),
     NULL, false,
     "R multipart/mixed h=0 b=65-666 l=26 +multipart boundary=outer\n"
     "R.1 multipart/alternative h=73 b=134-290 l=10 +multipart boundary=outer-inner\n"
     "R.1.1 text/plain h=148 b=174-179 l=1\n"
     "R.1.2 text/html h=194 b=263-274 l=1 enc=quoted-printable\n"
     "R.2 application/pdf h=299 b=647-655 l=1 name=\\xe2\\x82\\xac.pdf{UTF-8''} enc=base64 "
     "id=<id1@example.test> desc=the bill disp=attachment "
     "filename=\\xc3\\xa4rger.pdf{iso-8859-1'de'} "
     "lang=de, en loc=http://example.test/a.pdf md5=Q2hlY2sgSW50ZWdyaXR5IQ==\n"},
    {"message/rfc822 with its own structure",
     L("Subject: outer\r\n"
       "Content-Type: multipart/mixed; boundary=b1\r\n"
       "\r\n"
       "--b1\r\n"
       "Content-Type: message/rfc822\r\n"
       "\r\n"
       "Subject: inner\r\n"
       "From: x@example.test\r\n"
       "Message-ID: <m1@example.test>\r\n"
       "Content-Type: multipart/alternative; boundary=b2\r\n"
       "\r\n"
       "--b2\r\n"
       "\r\n"
       "text\r\n"
       "--b2--\r\n"
       "\r\n"
       "--b1--\r\n"),
     NULL, false,
     "R multipart/mixed h=0 b=62-253 l=14 +multipart boundary=b1 subject=outer\n"
     "R.1 message/rfc822 h=68 b=100-243 l=9 +message\n"
     "R.1.1 multipart/alternative h=100 b=221-243 l=4 +multipart boundary=b2 subject=inner "
     "from=x@example.test message-id=<m1@example.test>\n"
     "R.1.1.1 text/plain h=227 b=229-233 l=1\n"},
    {"boundary parameter missing",
     L("Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nbody\r\n--x--\r\n"), NULL, false,
     "R text/plain h=0 b=33-53 l=4 +bad-boundary\n"},
    {"boundary never comes",
     L("Content-Type: multipart/mixed; boundary=zz\r\n\r\n--x\r\n\r\nbody\r\n"), NULL, false,
     "R multipart/mixed h=0 b=46-59 l=3 +multipart +no-end boundary=zz\n"},
    {"close delimiter missing, boundary at body start",
     L("Content-Type: multipart/mixed; boundary=zz\n\n--zz\n\nonly part\n"), NULL, false,
     "R multipart/mixed h=0 b=44-60 l=3 +multipart +no-end boundary=zz\n"
     "R.1 text/plain h=49 b=50-60 l=1\n"},
    {"close delimiter at the end without line end, padding after boundaries",
     L("Content-Type: multipart/mixed; boundary=\"a b\"\r\n\r\n--a b  \r\n\r\nx\r\n--a b--"), NULL,
     false,
     "R multipart/mixed h=0 b=49-70 l=4 +multipart boundary=a b\n"
     "R.1 text/plain h=58 b=60-61 l=1\n"},
    {"empty parts",
     L("Content-Type: multipart/mixed; "
       "boundary=b\r\n\r\n--b\r\n--b\r\n\r\n--b\r\n\r\n\r\n--b--\r\n"),
     NULL, false,
     "R multipart/mixed h=0 b=45-73 l=7 +multipart boundary=b\n"
     "R.1 text/plain h=50 b=50-50 l=0 +no-blank\n"
     "R.2 text/plain h=55 b=57-57 l=0\n"
     "R.3 text/plain h=62 b=64-64 l=0\n"},
    {"boundary inside a part header ends it",
     L("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/x\n--b--\n"), NULL,
     false,
     "R multipart/mixed h=0 b=43-74 l=3 +multipart boundary=b\n"
     "R.1 text/x h=47 b=68-68 l=0 +no-blank\n"},
    {"prefix boundaries: inner first",
     L("Content-Type: multipart/mixed; boundary=ab\n\n--ab\n"
       "Content-Type: multipart/mixed; boundary=abc\n\n--abc\n\nin\n--ab\n\nout\n--ab--\n"),
     NULL, false,
     "R multipart/mixed h=0 b=44-121 l=10 +multipart boundary=ab\n"
     "R.1 multipart/mixed h=49 b=94-103 l=3 +multipart +no-end boundary=abc\n"
     "R.1.1 text/plain h=100 b=101-103 l=1\n"
     "R.2 text/plain h=109 b=110-113 l=1\n"},
    {"8-bit header, bad content type, digest default",
     L("Subject: Gr\xc3\xbc\xc3\x9f"
       "e\r\n"
       "Content-Type: multipart/digest; boundary=d\r\n\r\n"
       "--d\r\n\r\nSubject: in digest\r\n\r\nx\r\n"
       "--d\r\nContent-Type: garbage\r\n\r\ny\r\n--d--\r\n"),
     NULL, false,
     "R multipart/digest h=0 b=64-136 l=10 +multipart +8bit-header boundary=d "
     "subject=Gr\\xc3\\xbc\\xc3\\x9fe\n"
     "R.1 message/rfc822 h=69 b=71-94 l=3 +message\n"
     "R.1.1 text/plain h=71 b=93-94 l=1 subject=in digest\n"
     "R.2 message/rfc822 h=101 b=126-127 l=1 +message +bad-content-type\n"
     "R.2.1 text/plain h=126 b=126-127 l=1 +no-blank\n"},
    {"message/rfc822 in base64 is a leaf",
     L("Content-Type: message/rfc822\r\nContent-Transfer-Encoding: "
       "base64\r\n\r\nU3ViamVjdDogeA==\r\n"),
     NULL, false, "R text/plain h=0 b=67-85 l=1 +encoded-message enc=base64\n"},
    {"nesting over max_depth is text",
     L("Content-Type: multipart/mixed; boundary=1\n\n--1\n"
       "Content-Type: message/rfc822\n\n"
       "Content-Type: multipart/mixed; boundary=2\n\n--2\n"
       "Content-Type: multipart/mixed; boundary=3\n\n--3\n\nx\n--2--\n--1--\n"),
     &tight, false,
     "R multipart/mixed h=0 b=43-186 l=13 +multipart boundary=1\n"
     "R.1 message/rfc822 h=47 b=77-179 l=9 +message\n"
     "R.1.1 multipart/mixed h=77 b=120-179 l=7 +multipart boundary=2\n"
     "R.1.1.1 text/plain h=124 b=167-173 l=3 +depth-limit boundary=3\n"},
    {"header line over the limit cuts the header",
     L("Subject: short\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\nbody\r\n"),
     &tight, false, "R text/plain h=0 b=16-78 l=3 +no-blank +header-cut subject=short\n"},
    {"parts over max_parts",
     L("Content-Type: multipart/mixed; boundary=p\n\n--p\n\n1\n--p\n\n2\n--p\n\n3\n--p\n\n4\n"
       "--p\n\n5\n--p--\n"),
     &tight, false,
     "R multipart/mixed h=0 b=43-84 l=16 +multipart +parts-limit boundary=p\n"
     "R.1 text/plain h=47 b=48-49 l=1\n"
     "R.2 text/plain h=54 b=55-56 l=1\n"
     "R.3 text/plain h=61 b=62-63 l=1\n"
     "R.4 text/plain h=68 b=69-70 l=1\n"},
    {"delimiter right before the outer boundary",
     L("Content-Type: multipart/mixed; boundary=o\n\n--o\n"
       "Content-Type: multipart/mixed; boundary=i\n\n--i\n\nx\n--i\n--o--\n"),
     NULL, false,
     "R multipart/mixed h=0 b=43-107 l=8 +multipart boundary=o\n"
     "R.1 multipart/mixed h=47 b=90-101 l=4 +multipart +no-end boundary=i\n"
     "R.1.1 text/plain h=94 b=95-96 l=1\n"
     "R.1.2 text/plain h=101 b=101-101 l=0 +no-blank\n"},
    {"outer boundary ends an inner part's header",
     L("Content-Type: multipart/mixed; boundary=o\n\n--o\n"
       "Content-Type: multipart/mixed; boundary=i\n\n--i\nX: y\n--o--\n"),
     NULL, false,
     "R multipart/mixed h=0 b=43-105 l=6 +multipart boundary=o\n"
     "R.1 multipart/mixed h=47 b=90-99 l=2 +multipart +no-end boundary=i\n"
     "R.1.1 text/plain h=94 b=99-99 l=0 +no-blank\n"},
    {"boundary at end of input without line end",
     L("Content-Type: multipart/mixed; boundary=e\n\n--e\n\nx\n--e"), NULL, false,
     "R multipart/mixed h=0 b=43-53 l=4 +multipart +no-end boundary=e\n"
     "R.1 text/plain h=47 b=48-49 l=1\n"
     "R.2 text/plain h=53 b=53-53 l=0 +no-blank\n"},
};

static void test_structure(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		current_case = cases[i].name;
		check_all_splits(cases[i].in, cases[i].len, cases[i].limits, cases[i].events,
		                 cases[i].expected);
	}
}

/* a long body line and a long boundary-like line: streamed, not buffered */
static void test_long_lines(void **state)
{
	struct buf msg = BUF_INIT;
	buf_append_str(&msg, "Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\n");
	for (int i = 0; i < 200000; i++)
		buf_append_c(&msg, 'x');
	buf_append_str(&msg, "\r\n--q");
	for (int i = 0; i < 100000; i++)
		buf_append_c(&msg, ' ');
	buf_append_str(&msg, "\r\n\r\ny\r\n--q--\r\n");

	struct mime_parser *p = mime_parser_create(NULL);
	struct mime_event ev;
	size_t fed = 0;
	for (;;) {
		int ret = mime_parser_next(p, &ev);
		if (ret > 0 && ev.type == MIME_EV_END)
			break;
		if (ret > 0)
			continue;
		if (fed == msg.len) {
			mime_parser_finish(p);
			continue;
		}
		size_t n = msg.len - fed < 4096 ? msg.len - fed : 4096;
		mime_parser_feed(p, msg.data + fed, n);
		fed += n;
	}
	struct mime_part *root = mime_parser_steal(p);
	assert_int_equal(root->nchildren, 2);
	assert_int_equal(root->children->body_end - root->children->body_offset, 200000);
	assert_int_equal(root->children->next->body_end - root->children->next->body_offset, 1);
	mime_part_free(&root);
	mime_parser_destroy(&p);
	buf_free(&msg);
}

/* 100 000 parts and deep nesting stay within the limits */
static void test_limits(void **state)
{
	struct buf msg = BUF_INIT;
	for (int i = 0; i < 150; i++)
		buf_appendf(&msg, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
	buf_append_str(&msg, "\nbottom\n");
	struct mime_part *root = mime_parse(msg.data, msg.len, NULL);
	const struct mime_part *part = root;
	unsigned int depth = 0;
	while (part->children != NULL) {
		part = part->children;
		depth++;
	}
	assert_int_equal(depth, MIME_DEPTH_MAX_DEFAULT);
	assert_true(part->flags & MIME_PART_DEPTH_LIMIT);
	mime_part_free(&root);

	buf_reset(&msg);
	buf_append_str(&msg, "Content-Type: multipart/mixed; boundary=z\n\n");
	for (int i = 0; i < 20000; i++)
		buf_append_str(&msg, "--z\n\nx\n");
	root = mime_parse(msg.data, msg.len, NULL);
	assert_int_equal(root->nchildren, MIME_PARTS_MAX_DEFAULT - 1);
	assert_true(root->flags & MIME_PART_PARTS_LIMIT);
	mime_part_free(&root);
	buf_free(&msg);
}

struct ct_case {
	const char *in;
	const char *expected; /* NULL: -1 */
};

static const struct ct_case ct_cases[] = {
    {"text/plain; charset=us-ascii", "text/plain charset=us-ascii"},
    {"TEXT/Plain (comment) ; CharSet = \"utf-8\" (x)", "text/plain charset=utf-8"},
    {"text/plain; name=\"a \\\"q\\\" b\"", "text/plain name=a \"q\" b"},
    {"application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
     "application/x-stuff title=This is ***fun***{us-ascii'en-us'}"},
    {"message/external-body; access-type=URL; URL*0=\"ftp://\"; "
     "URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"",
     "message/external-body access-type=URL "
     "url=ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar{''}"},
    {"application/x-stuff; title*0*=us-ascii'en'This%20is%20even%20more%20; "
     "title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2=\"isn't it!\"",
     "application/x-stuff title=This is even more ***fun*** isn't it!{us-ascii'en'}"},
    {"attachment/x; filename*=UTF-8''%E2%82%AC%20rates.pdf",
     "attachment/x filename=\\xe2\\x82\\xac rates.pdf{UTF-8''}"},
    {"a/b; filename*=iso-8859-1''%E4rger.txt", "a/b filename=\\xc3\\xa4rger.txt{iso-8859-1''}"},
    {"a/b; filename*=koi8-r''%F0%D2%C9", "a/b filename=%F0%D2%C9{koi8-r''encoded}"},
    {"a/b; filename*=utf-8''%FF", "a/b filename=%FF{utf-8''encoded}"},
    {"a/b; filename=\"fallback.txt\"; filename*=UTF-8''real.txt", "a/b filename=real.txt{UTF-8''}"},
    {"a/b; name*1=\"b\"; x=1", "a/b x=1"},
    {"a/b; name*0=\"a\"; name*2=\"c\"", "a/b name=a{''}"},
    {"a/b; ; junk; =v; k=v;", "a/b k=v"},
    {"a/b; k=\"unterminated", "a/b k=unterminated"},
    {"a/b; k=8bit\xc3\xa4", "a/b k=8bit\\xc3\\xa4"},
    {"a/b;k=1;K=2", "a/b k=1"},
    {"text", NULL},
    {"text/", NULL},
    {"/plain", NULL},
    {"", NULL},
};

static void test_content_type(void **state)
{
	for (size_t i = 0; i < sizeof(ct_cases) / sizeof(ct_cases[0]); i++) {
		char *t, *st;
		struct mime_params params;
		struct buf out = BUF_INIT;
		int ret = mime_parse_content_type(ct_cases[i].in, strlen(ct_cases[i].in), &t, &st,
		                                  &params);
		if (ct_cases[i].expected == NULL) {
			assert_int_equal(ret, -1);
			assert_null(t);
			mime_params_free(&params);
			continue;
		}
		assert_int_equal(ret, 0);
		buf_appendf(&out, "%s/%s", t, st);
		dump_params(&out, &params);
		if (strcmp(buf_cstr(&out), ct_cases[i].expected) != 0) {
			fprintf(stderr, "in: %s\ngot: %s\nexpected: %s\n", ct_cases[i].in,
			        buf_cstr(&out), ct_cases[i].expected);
			fail();
		}
		free(t);
		free(st);
		mime_params_free(&params);
		buf_free(&out);
	}
	char *d;
	struct mime_params params;
	assert_int_equal(mime_parse_disposition("Inline ; filename=a.txt", 23, &d, &params), 0);
	assert_string_equal(d, "inline");
	assert_string_equal(mime_param_get(&params, "filename"), "a.txt");
	assert_null(mime_param_get(&params, "size"));
	free(d);
	mime_params_free(&params);
	assert_int_equal(mime_parse_disposition(" ; x=y", 6, &d, &params), -1);
	mime_params_free(&params);
}

struct word_case {
	const char *in;
	const char *expected;
};

static const struct word_case word_cases[] = {
    {"=?UTF-8?B?R3LDvMOfZQ==?=", "Gr\xc3\xbc\xc3\x9f"
                                 "e"},
    {"=?iso-8859-1?q?J=F6rg_M=FCller?= <j@example.test>",
     "J\xc3\xb6rg M\xc3\xbcller <j@example.test>"},
    {"=?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab"},
    {"=?UTF-8?Q?a?=\r\n\t=?UTF-8?Q?b?= c", "ab c"},
    {"x =?UTF-8?Q?a?= b", "x a b"},
    {"=?UTF-8?B?ww==?= =?UTF-8?B?pA==?=", "\xc3\xa4"},
    {"=?windows-1252?Q?=80uro?=", "\xe2\x82\xac"
                                  "uro"},
    {"=?ISO-8859-15?Q?=A4?=", "\xe2\x82\xac"},
    {"=?iso-8859-2?Q?=B1?=", "\xc4\x85"},
    {"=?x-unknown?Q?abc?= d", "=?x-unknown?Q?abc?= d"},
    {"=?UTF-8?X?abc?=", "=?UTF-8?X?abc?="},
    {"=?UTF-8?Q?a b?=", "=?UTF-8?Q?a b?="},
    {"=?UTF-8?Q?a=Zb?=", "=?UTF-8?Q?a=Zb?="},
    {"=?UTF-8?B?!!!?=", "=?UTF-8?B?!!!?="},
    {"=?UTF-8*de?Q?Stra=C3=9Fe?=", "Stra\xc3\x9f"
                                   "e"},
    {"=?UTF-8?Q?=FF?=", "\xef\xbf\xbd"},
    {"=?iso-8859-1?Q?=E4?= =?UTF-8?Q?=C3=A4?=", "\xc3\xa4\xc3\xa4"},
    {"=?utf-8?q?"
     "?=",
     ""},
    {"=?", "=?"},
    {"plain text, no words", "plain text, no words"},
    {"=?UTF-8?Q?a?==?UTF-8?Q?b?=", "ab"},
};

static void test_words(void **state)
{
	for (size_t i = 0; i < sizeof(word_cases) / sizeof(word_cases[0]); i++) {
		struct buf out = BUF_INIT;
		mime_decode_words(word_cases[i].in, strlen(word_cases[i].in), &out);
		if (strcmp(buf_cstr(&out), word_cases[i].expected) != 0) {
			struct buf e = BUF_INIT;
			escape(&e, out.data, out.len);
			fprintf(stderr, "in: %s\ngot: %s\n", word_cases[i].in, buf_cstr(&e));
			buf_free(&e);
			fail();
		}
		buf_free(&out);
	}
	struct buf out = BUF_INIT;
	assert_int_equal(mime_charset_to_utf8("no-such-charset", "a", 1, &out), -1);
	assert_int_equal(out.len, 0);
	assert_int_equal(mime_charset_to_utf8("koi8-r", "\xf0\xd2\xc9", 3, &out), 0);
	assert_string_equal(buf_cstr(&out), "\xd0\x9f\xd1\x80\xd0\xb8");
	buf_reset(&out);
	/* a cut-off multibyte character at the end */
	assert_int_equal(mime_charset_to_utf8("shift_jis", "a\x82", 2, &out), 0);
	assert_string_equal(buf_cstr(&out), "a\xef\xbf\xbd");
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_structure), cmocka_unit_test(test_long_lines),
	    cmocka_unit_test(test_limits),    cmocka_unit_test(test_content_type),
	    cmocka_unit_test(test_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
