/*
 * test-imap-parser.c - the streaming IMAP command parser
 * (imap/imap-parser.h) and sequence sets (imap/imap-seqset.h).
 *
 * Each table input is run through the parser fed in one piece, split in
 * two at every position, split in three at every pair of positions (short
 * inputs), and one byte at a time; every run must give the same
 * transcript, and that transcript must be the expected one. The
 * transcript lists each event (the command with its argument tree, the
 * literal headers and the decision taken, streamed literal data joined,
 * raw lines) and each error with its tag and reply text, then the state
 * the parser ends in. The harness plays the server: it accepts literals
 * into the tree when they fit, streams APPEND's message literals (and
 * refuses those over 16 bytes, as a size limit would), and asks for a raw
 * line after AUTHENTICATE without initial response and after IDLE.
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
#include "imap/imap-parser.h"
#include "imap/imap-seqset.h"

#define APPEND_MAX 16

static void escape(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 32 && c < 127 && c != '\\' && c != '"')
			buf_append_c(b, (char)c);
		else if (c == '\\' || c == '"')
			buf_appendf(b, "\\%c", c);
		else
			buf_appendf(b, "\\x%02x", c);
	}
}

static void dump_args(struct buf *out, const struct imap_arg *args, unsigned int count);

static void dump_arg(struct buf *out, const struct imap_arg *a)
{
	assert_int_equal(a->str[a->len], '\0');
	switch (a->type) {
	case IMAP_ARG_ATOM:
		buf_append(out, a->str, a->len);
		break;
	case IMAP_ARG_NIL:
		buf_append_str(out, "<NIL>");
		break;
	case IMAP_ARG_QUOTED:
		buf_append_c(out, '"');
		escape(out, a->str, a->len);
		buf_append_c(out, '"');
		break;
	case IMAP_ARG_LITERAL:
		buf_appendf(out, "%s{%" PRIu64 "%s}", a->literal_binary ? "~" : "", a->literal_size,
		            a->literal_sync ? "" : "+");
		if (a->literal_streamed) {
			buf_append_str(out, "<streamed>");
		} else {
			assert_int_equal(a->len, a->literal_size);
			assert_int_equal(a->has_nul, memchr(a->str, 0, a->len) != NULL);
			buf_append_c(out, '"');
			escape(out, a->str, a->len);
			buf_append_c(out, '"');
		}
		break;
	case IMAP_ARG_LIST:
		buf_append_c(out, '(');
		dump_args(out, a->list, a->count);
		buf_append_c(out, ')');
		break;
	case IMAP_ARG_SECTION:
		buf_append(out, a->str, a->len);
		buf_append_c(out, '[');
		dump_args(out, a->list, a->count);
		buf_append_c(out, ']');
		if (a->has_partial)
			buf_appendf(out, "<%" PRIu64 "|%" PRIu64 ">", a->partial_start,
			            a->partial_length);
		if (a->tail_len > 0) {
			buf_append_str(out, "+tail:");
			buf_append(out, a->tail, a->tail_len);
		}
		if (a->raw != NULL) {
			buf_append_str(out, "=raw:");
			buf_append(out, a->raw, a->raw_len);
		}
		break;
	}
}

static void dump_args(struct buf *out, const struct imap_arg *args, unsigned int count)
{
	for (unsigned int i = 0; i < count; i++) {
		if (i > 0)
			buf_append_c(out, ' ');
		dump_arg(out, &args[i]);
	}
}

/*
 * run: parse in[0..len) fed in pieces cut at cuts[0..ncuts) (ascending),
 * append the transcript to out.
 */
static void run(const char *in, size_t len, const struct imap_parser_limits *limits,
                const size_t *cuts, size_t ncuts, struct buf *out)
{
	struct imap_parser p;
	struct imap_parser_event ev;
	const char *error;
	size_t piece = 0, fed = 0;
	struct buf data = BUF_INIT;
	unsigned int guard = 0;

	imap_parser_init(&p, limits);
	for (;;) {
		assert_true(++guard < 100000);
		int ret = imap_parser_next(&p, &ev, &error);
		if (ret == 0) {
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
			assert_int_not_equal(imap_parser_error(&p), IMAP_PARSER_OK);
			buf_appendf(out, "ERR %s %d %s\n", tag != NULL ? tag : "*",
			            (int)imap_parser_error(&p), error);
			continue;
		}
		switch (ev.type) {
		case IMAP_PARSER_EV_COMMAND:
			buf_appendf(out, "CMD %s %s%s", ev.cmd.tag, ev.cmd.uid ? "UID " : "",
			            ev.cmd.name);
			if (ev.cmd.count > 0)
				buf_append_c(out, ' ');
			dump_args(out, ev.cmd.args, ev.cmd.count);
			buf_append_c(out, '\n');
			if ((strcmp(ev.cmd.name, "AUTHENTICATE") == 0 && ev.cmd.count == 1) ||
			    strcmp(ev.cmd.name, "IDLE") == 0)
				imap_parser_read_line(&p);
			break;
		case IMAP_PARSER_EV_LITERAL: {
			bool append = strcmp(ev.cmd.name, "APPEND") == 0 && ev.literal_depth == 0 &&
			              ev.literal_arg >= 1;
			buf_appendf(out, "LIT %s %s{%" PRIu64 "%s} arg=%u depth=%u ", ev.cmd.tag,
			            ev.literal_binary ? "~" : "", ev.literal_size,
			            ev.literal_sync ? "" : "+", ev.literal_arg, ev.literal_depth);
			if (append && ev.literal_size > APPEND_MAX) {
				imap_parser_literal_refuse(&p);
				buf_append_str(out, "refused\n");
			} else if (append) {
				assert_true(imap_parser_literal_accept(&p, true));
				buf_append_str(out, "stream\n");
			} else if (imap_parser_literal_accept(&p, false)) {
				assert_true(ev.literal_fits);
				buf_append_str(out, "ok\n");
			} else {
				assert_false(ev.literal_fits);
				buf_append_str(out, "toobig\n");
			}
			break;
		}
		case IMAP_PARSER_EV_LITERAL_DATA:
			buf_append(&data, ev.data, ev.len);
			if (ev.last) {
				buf_appendf(out, "DATA %s \"", ev.cmd.tag);
				escape(out, data.data != NULL ? data.data : "", data.len);
				buf_append_str(out, "\"\n");
				buf_reset(&data);
			}
			break;
		case IMAP_PARSER_EV_LINE:
			buf_append_str(out, "LINE \"");
			escape(out, ev.data, ev.len);
			buf_append_str(out, "\"\n");
			break;
		}
	}
	buf_appendf(out, "END %s\n", imap_parser_state_name(p.state));
	imap_parser_deinit(&p);
	buf_free(&data);
}

static void check_all_splits(const char *in, size_t len, const struct imap_parser_limits *limits,
                             const char *expected)
{
	struct buf ref = BUF_INIT, t = BUF_INIT, e = BUF_INIT;

	run(in, len, limits, NULL, 0, &ref);
	if (strcmp(buf_cstr(&ref), expected) != 0) {
		escape(&e, in, len);
		fprintf(stderr, "input: %s\ngot:\n%sexpected:\n%s", buf_cstr(&e), buf_cstr(&ref),
		        expected);
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
	if (len <= 100) {
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
	buf_free(&e);
}

struct parse_case {
	const char *in;
	size_t len;
	const char *expected;
};

#define L(s) s, sizeof(s) - 1

static const struct parse_case good_cases[] = {
    {L("a001 LOGIN \"user@example.test\" \"pa\\\"ss\\\\word\"\r\n"),
     "CMD a001 LOGIN \"user@example.test\" \"pa\\\"ss\\\\word\"\nEND line\n"},
    {L("a001 login alice secret\r\n"), "CMD a001 LOGIN alice secret\nEND line\n"},
    {L("a2 SELECT INBOX\r\na3 select \"Sent Items\"\r\n"),
     "CMD a2 SELECT INBOX\nCMD a3 SELECT \"Sent Items\"\nEND line\n"},
    /* FETCH with a complex attribute list */
    {L("a4 FETCH 1:4,7 (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER] "
       "BODY[1.2.MIME]<0.2048> BINARY.PEEK[1] BODY[] BODYSTRUCTURE)\r\n"),
     "CMD a4 FETCH 1:4,7 (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER]=raw:BODY.PEEK[HEADER] "
     "BODY[1.2.MIME]<0|2048>=raw:BODY[1.2.MIME]<0.2048> BINARY.PEEK[1]=raw:BINARY.PEEK[1] "
     "BODY[]=raw:BODY[] BODYSTRUCTURE)\nEND line\n"},
    {L("a5 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])\r\n"),
     "CMD a5 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]"
     "=raw:BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])\nEND line\n"},
    {L("a6 uid fetch $ BODY[1.HEADER.FIELDS.NOT (X-A \"X-B\")]<10.5>\r\n"),
     "CMD a6 UID FETCH $ BODY[1.HEADER.FIELDS.NOT (X-A \"X-B\")]<10|5>"
     "=raw:BODY[1.HEADER.FIELDS.NOT (X-A \"X-B\")]<10.5>\nEND line\n"},
    /* a literal inside a section: no raw text */
    {L("a7 FETCH 1 BODY[HEADER.FIELDS ({7}\r\nSubject)]<0.10>\r\n"),
     "LIT a7 {7} arg=1 depth=2 ok\n"
     "CMD a7 FETCH 1 BODY[HEADER.FIELDS ({7}\"Subject\")]<0|10>\nEND line\n"},
    {L("a8 STORE 2,4:6 +FLAGS.SILENT (\\Seen $Forwarded)\r\n"),
     "CMD a8 STORE 2,4:6 +FLAGS.SILENT (\\Seen $Forwarded)\nEND line\n"},
    {L("a9 UID STORE 1:* -FLAGS ()\r\n"), "CMD a9 UID STORE 1:* -FLAGS ()\nEND line\n"},
    /* SEARCH with a charset, nested OR / NOT and a UTF-8 literal */
    {L("a10 SEARCH CHARSET UTF-8 OR (FROM \"alice\" SUBJECT {7+}\r\nGr\xc3\xbc\xc3\x9f"
       "e) NOT (SEEN OR DELETED DRAFT) UID 1:100\r\n"),
     "LIT a10 {7+} arg=3 depth=1 ok\n"
     "CMD a10 SEARCH CHARSET UTF-8 OR (FROM \"alice\" SUBJECT {7+}\"Gr\\xc3\\xbc\\xc3\\x9fe\") "
     "NOT (SEEN OR DELETED DRAFT) UID 1:100\nEND line\n"},
    {L("a11 SEARCH OR OR SEEN ANSWERED NOT FROM \"b\\\"c\" SUBJECT \"\xc3\xa4\"\r\n"),
     "CMD a11 SEARCH OR OR SEEN ANSWERED NOT FROM \"b\\\"c\" SUBJECT \"\\xc3\\xa4\"\nEND line\n"},
    /* APPEND: flags, date, a synchronizing message literal, streamed */
    {L("a12 APPEND Drafts (\\Draft \\Seen) \"05-Jan-2026 10:00:00 +0100\" {14}\r\n"
       "Subject: x\r\n\r\n\r\n"),
     "LIT a12 {14} arg=3 depth=0 stream\n"
     "DATA a12 \"Subject: x\\x0d\\x0a\\x0d\\x0a\"\n"
     "CMD a12 APPEND Drafts (\\Draft \\Seen) \"05-Jan-2026 10:00:00 +0100\" {14}<streamed>\n"
     "END line\n"},
    /* MULTIAPPEND with LITERAL+ and an empty message */
    {L("a13 APPEND INBOX {3+}\r\nabc () {0+}\r\n\r\n"),
     "LIT a13 {3+} arg=1 depth=0 stream\nDATA a13 \"abc\"\n"
     "LIT a13 {0+} arg=3 depth=0 stream\nDATA a13 \"\"\n"
     "CMD a13 APPEND INBOX {3+}<streamed> () {0+}<streamed>\nEND line\n"},
    /* binary literal8 with a NUL */
    {L("a14 APPEND INBOX ~{5+}\r\nab\0cd\r\n"),
     "LIT a14 ~{5+} arg=1 depth=0 stream\nDATA a14 \"ab\\x00cd\"\n"
     "CMD a14 APPEND INBOX ~{5+}<streamed>\nEND line\n"},
    /* literals {0}, {n+}, literal mailbox name */
    {L("a15 LOGIN {0}\r\n {3+}\r\na b\r\n"),
     "LIT a15 {0} arg=0 depth=0 ok\nLIT a15 {3+} arg=1 depth=0 ok\n"
     "CMD a15 LOGIN {0}\"\" {3+}\"a b\"\nEND line\n"},
    {L("a16 LOGIN {5}\r\nalice {6}\r\nsecret\r\n"),
     "LIT a16 {5} arg=0 depth=0 ok\nLIT a16 {6} arg=1 depth=0 ok\n"
     "CMD a16 LOGIN {5}\"alice\" {6}\"secret\"\nEND line\n"},
    {L("a17 X ~{3}\r\na\0b\r\n"),
     "LIT a17 ~{3} arg=0 depth=0 ok\nCMD a17 X ~{3}\"a\\x00b\"\nEND line\n"},
    /* AUTHENTICATE with SASL-IR, and without (a raw continuation line) */
    {L("a18 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
     "CMD a18 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\nEND line\n"},
    {L("a19 AUTHENTICATE PLAIN =\r\n"), "CMD a19 AUTHENTICATE PLAIN =\nEND line\n"},
    {L("a20 AUTHENTICATE PLAIN\r\nAGFsaWNl AHNl\r\na21 NOOP\r\n"),
     "CMD a20 AUTHENTICATE PLAIN\nLINE \"AGFsaWNl AHNl\"\nCMD a21 NOOP\nEND line\n"},
    {L("a22 IDLE\r\nDONE\r\n"), "CMD a22 IDLE\nLINE \"DONE\"\nEND line\n"},
    /* lists, NIL, empty strings */
    {L("a23 X (a (b (c NIL)) \"\" nil) NIL\r\n"),
     "CMD a23 X (a (b (c <NIL>)) \"\" <NIL>) <NIL>\nEND line\n"},
    /* an astring with brackets */
    {L("a24 SELECT [Gmail]/Sent\r\n"),
     "CMD a24 SELECT [Gmail]+tail:/Sent=raw:[Gmail]/Sent\nEND line\n"},
    {L("a25 LIST \"\" %\r\na26 LIST \"\" \"*\"\r\n"),
     "CMD a25 LIST \"\" %\nCMD a26 LIST \"\" \"*\"\nEND line\n"},
    /* LF-only line ends, empty lines, extra spaces */
    {L("a27 NOOP\n\r\n\na28 CHECK\n"), "CMD a27 NOOP\nCMD a28 CHECK\nEND line\n"},
    {L("a29  X  a   ( b )  \r\n"), "CMD a29 X a (b)\nEND line\n"},
    {L("a* NOOP\r\n"), "ERR * 2 Syntax error at position 1: invalid tag\nEND line\n"},
    {L("a] NOOP\r\n"), "CMD a] NOOP\nEND line\n"},
    {L("a30 ENABLE UTF8=ACCEPT CONDSTORE\r\n"), "CMD a30 ENABLE UTF8=ACCEPT CONDSTORE\nEND line\n"},
    {L("a31 FETCH 1 (BODY[]<0.5> BINARY.SIZE[1] BODY[1]<x>)\r\n"),
     "CMD a31 FETCH 1 (BODY[]<0|5>=raw:BODY[]<0.5> BINARY.SIZE[1]=raw:BINARY.SIZE[1] "
     "BODY[1]+tail:<x>=raw:BODY[1]<x>)\nEND line\n"},
};

static const struct imap_parser_limits small = {
    .max_line = 40,
    .max_command = 60,
    .max_literal = 8,
    .max_nonsync = 10,
    .max_depth = 3,
    .max_args = 6,
};

static const struct parse_case bad_cases[] = {
    {L("b1 FETCH 1 (FLAGS\r\nb2 NOOP\r\n"),
     "ERR b1 2 Syntax error at position 17: missing ')'\nCMD b2 NOOP\nEND line\n"},
    {L("b3 X a)\r\nb4 NOOP\r\n"),
     "ERR b3 2 Syntax error at position 6: unexpected ')'\nCMD b4 NOOP\nEND line\n"},
    {L("b+4 NOOP\r\nb5 NOOP\r\n"),
     "ERR * 2 Syntax error at position 1: invalid tag\nCMD b5 NOOP\nEND line\n"},
    {L(" NOOP\r\n"), "ERR * 2 Syntax error at position 0: missing tag\nEND line\n"},
    {L("b6\r\n"), "ERR b6 2 Syntax error at position 2: missing command\nEND line\n"},
    {L("b7 UID\r\n"), "ERR b7 2 Syntax error at position 6: missing command\nEND line\n"},
    {L("b8 NO\xffOP\r\n"), "ERR b8 2 Syntax error at position 5: invalid command name\nEND line\n"},
    {L("b9 X a\rb\r\nb10 NOOP\r\n"),
     "ERR * 2 Syntax error at position 6: CR without LF\nCMD b10 NOOP\nEND line\n"},
    {L("b11 LOGIN \"a\\b\" c\r\n"),
     "ERR b11 2 Syntax error at position 12: bad escape in quoted string\nEND line\n"},
    {L("b12 LOGIN \"abc\r\n"),
     "ERR b12 2 Syntax error at position 10: unterminated quoted string\nEND line\n"},
    {L("b13 X \xc3\xa4\r\n"),
     "ERR b13 2 Syntax error at position 6: 8-bit character outside a string\nEND line\n"},
    {L("b14 X a\"b\"\r\n"), "ERR b14 2 Syntax error at position 7: missing space\nEND line\n"},
    {L("b15 X (a)(b)\r\n"), "ERR b15 2 Syntax error at position 9: missing space\nEND line\n"},
    {L("b16 X {3}abc\r\n"),
     "ERR b16 2 Syntax error at position 9: literal not at the end of the line\nEND line\n"},
    {L("b17 X {x}\r\n"), "ERR b17 2 Syntax error at position 6: bad literal\nEND line\n"},
    {L("b18 FETCH 1 BODY[TEXT\r\n"),
     "ERR b18 2 Syntax error at position 21: missing ']'\nEND line\n"},
    {L("b19 X ]\r\n"), "CMD b19 X ]\nEND line\n"},
    {L("b20 X (])\r\n"), "CMD b20 X (])\nEND line\n"},
    /* the dropped line ends with a literal: {n+} data skipped, {n} not awaited */
    {L("b21 X ) {5+}\r\nhello\r\nb22 NOOP\r\n"),
     "ERR b21 2 Syntax error at position 6: unexpected ')'\nCMD b22 NOOP\nEND line\n"},
    {L("b23 X ) {5}\r\nb24 NOOP\r\n"),
     "ERR b23 2 Syntax error at position 6: unexpected ')'\nCMD b24 NOOP\nEND line\n"},
    {L("b25 X {2+}\r\nab ) {3+}\r\nxyz ~{1+}\r\n)\r\nb26 NOOP\r\n"),
     "LIT b25 {2+} arg=0 depth=0 ok\n"
     "ERR b25 2 Syntax error at position 11: unexpected ')'\nCMD b26 NOOP\nEND line\n"},
    /* a literal whose data is not all there yet */
    {L("b27 X {10+}\r\nabc"), "LIT b27 {10+} arg=0 depth=0 ok\nEND data\n"},
    {L("b28 X ) {10+}\r\nabc"),
     "ERR b28 2 Syntax error at position 6: unexpected ')'\nEND skip-data\n"},
    {L("b29 X {99999999999999999999999+}\r\nb30 NOOP\r\n"),
     "ERR b29 3 [TOOBIG] Literal too large\nEND skip-data\n"},
    /* APPEND refused by the caller (size limit): the data is skipped */
    {L("b31 APPEND INBOX {20+}\r\n01234567890123456789 NIL\r\nb32 NOOP\r\n"),
     "LIT b31 {20+} arg=1 depth=0 refused\nCMD b32 NOOP\nEND line\n"},
    {L("b33 APPEND INBOX (\\Seen) {20}\r\nb34 NOOP\r\n"),
     "LIT b33 {20} arg=2 depth=0 refused\nCMD b34 NOOP\nEND line\n"},
};

static const struct parse_case limit_cases[] = {
    /* too long, with or without the line end, and the tag kept */
    {L("c1 LOGIN aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nc2 NOOP\r\n"),
     "ERR c1 1 Command line too long\nCMD c2 NOOP\nEND line\n"},
    {L("c3 LOGIN aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
     "ERR c3 1 Command line too long\nEND skip-line\n"},
    {L("c4567890123456789012345678901234567890123 NOOP\r\nc5 NOOP\r\n"),
     "ERR * 1 Command line too long\nCMD c5 NOOP\nEND line\n"},
    /* exactly at the limit: 40 bytes */
    {L("c6 X aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"),
     "CMD c6 X aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nEND line\n"},
    {L("c7 X aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"),
     "ERR c7 1 Command line too long\nEND line\n"},
    /* the limit is for all lines of a command together */
    {L("c8 X aaaaaaaaaaaaaaa {2}\r\nxy bbbbbbbbbbbbbbbbbbbbbb\r\nc9 NOOP\r\n"),
     "LIT c8 {2} arg=1 depth=0 ok\nERR c8 1 Command line too long\nCMD c9 NOOP\nEND line\n"},
    /* too long, then a {n+} literal on the dropped line is skipped */
    {L("c10 X aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa {5+}\r\n"
       "c11 X\r\nc12 NOOP\r\n"),
     "ERR c10 1 Command line too long\nCMD c12 NOOP\nEND line\n"},
    /* a buffered literal over max_literal: refused, next command read */
    {L("c13 LOGIN {9}\r\nc14 NOOP\r\n"),
     "LIT c13 {9} arg=0 depth=0 toobig\nERR c13 3 [TOOBIG] Literal too large\n"
     "CMD c14 NOOP\nEND line\n"},
    {L("c15 LOGIN {9+}\r\n123456789\r\nc16 NOOP\r\n"),
     "LIT c15 {9+} arg=0 depth=0 toobig\nERR c15 3 [TOOBIG] Literal too large\n"
     "CMD c16 NOOP\nEND line\n"},
    {L("c17 LOGIN {8}\r\n12345678\r\n"),
     "LIT c17 {8} arg=0 depth=0 ok\nCMD c17 LOGIN {8}\"12345678\"\nEND line\n"},
    /* LITERAL-: {n+} over max_nonsync, found on the header */
    {L("c18 APPEND x {11+}\r\n01234567890\r\nc19 NOOP\r\n"),
     "ERR c18 3 [TOOBIG] Literal too large\nCMD c19 NOOP\nEND line\n"},
    /* nesting and argument count */
    {L("c20 X ((((a))))\r\nc21 X (((a)))\r\n"),
     "ERR c20 4 Nesting too deep\nCMD c21 X (((a)))\nEND line\n"},
    {L("c22 X BODY[A (B[(C)])]\r\n"), "ERR c22 4 Nesting too deep\nEND line\n"},
    {L("c23 X a b c d e f g\r\nc24 X a b c d e f\r\n"),
     "ERR c23 5 Too many arguments\nCMD c24 X a b c d e f\nEND line\n"},
    /* max_command: text and buffered literals together */
    {L("c25 X {8}\r\n12345678 {8}\r\n12345678 {8}\r\n12345678 {8}\r\n"
       "12345678 {8}\r\nc26 NOOP\r\n"),
     "LIT c25 {8} arg=0 depth=0 ok\nLIT c25 {8} arg=1 depth=0 ok\n"
     "LIT c25 {8} arg=2 depth=0 ok\nLIT c25 {8} arg=3 depth=0 ok\n"
     "LIT c25 {8} arg=4 depth=0 toobig\n"
     "ERR c25 3 [TOOBIG] Literal too large\nCMD c26 NOOP\nEND line\n"},
};

static void test_good(void **state)
{
	for (size_t i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++)
		check_all_splits(good_cases[i].in, good_cases[i].len, NULL, good_cases[i].expected);
}

static void test_bad(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
		check_all_splits(bad_cases[i].in, bad_cases[i].len, NULL, bad_cases[i].expected);
}

static void test_limits(void **state)
{
	for (size_t i = 0; i < sizeof(limit_cases) / sizeof(limit_cases[0]); i++)
		check_all_splits(limit_cases[i].in, limit_cases[i].len, &small,
		                 limit_cases[i].expected);
}

/* a raw line over the limit is dropped to its line end, literals or not */
static void test_raw_line_limit(void **state)
{
	struct imap_parser p;
	struct imap_parser_event ev;
	const char *error;
	struct imap_parser_limits lim = {.max_line = 24};
	static const char in[] =
	    "r1 AUTHENTICATE PLAIN\r\n0123456789abcdefghijklmn {3+}\r\nr2 NOOP\r\n";

	imap_parser_init(&p, &lim);
	imap_parser_feed(&p, "r1 AUTHENTICATE PLAIN\r\n", 23);
	assert_int_equal(imap_parser_next(&p, &ev, &error), 1);
	assert_int_equal(ev.type, IMAP_PARSER_EV_COMMAND);
	imap_parser_read_line(&p);
	imap_parser_feed(&p, in + 23, sizeof(in) - 1 - 23);
	assert_int_equal(imap_parser_next(&p, &ev, &error), -1);
	assert_int_equal(imap_parser_error(&p), IMAP_PARSER_ERR_TOO_LONG);
	assert_null(imap_parser_error_tag(&p));
	assert_string_equal(error, "Line too long");
	assert_int_equal(imap_parser_next(&p, &ev, &error), 1);
	assert_int_equal(ev.type, IMAP_PARSER_EV_COMMAND);
	assert_string_equal(ev.cmd.tag, "r2");
	imap_parser_deinit(&p);
}

/* bytes after a command stay buffered (STARTTLS must see them) */
static void test_pending(void **state)
{
	struct imap_parser p;
	struct imap_parser_event ev;
	const char *error;

	imap_parser_init(&p, NULL);
	imap_parser_feed(&p, "s1 STARTTLS\r\ns2 NOOP\r\n", 22);
	assert_int_equal(imap_parser_next(&p, &ev, &error), 1);
	assert_string_equal(ev.cmd.name, "STARTTLS");
	assert_int_equal(imap_parser_pending(&p), 9);
	assert_int_equal(imap_parser_next(&p, &ev, &error), 1);
	assert_string_equal(ev.cmd.name, "NOOP");
	assert_int_equal(imap_parser_pending(&p), 0);
	assert_int_equal(imap_parser_next(&p, &ev, &error), 0);
	imap_parser_deinit(&p);
}

/* a big literal: 1 MiB buffered under raised limits, fed in odd chunks */
static void test_big_literal(void **state)
{
	struct imap_parser p;
	struct imap_parser_event ev;
	const char *error;
	struct imap_parser_limits lim = {.max_literal = 1 << 20, .max_command = 2 << 20};
	size_t n = 1 << 20;
	char *data = malloc(n);
	char head[64];

	for (size_t i = 0; i < n; i++)
		data[i] = (char)('a' + i % 26);
	imap_parser_init(&p, &lim);
	int hl = snprintf(head, sizeof(head), "big X {%zu+}\r\n", n);
	imap_parser_feed(&p, head, (size_t)hl);
	assert_int_equal(imap_parser_next(&p, &ev, &error), 1);
	assert_int_equal(ev.type, IMAP_PARSER_EV_LITERAL);
	assert_true(ev.literal_fits);
	assert_true(imap_parser_literal_accept(&p, false));
	size_t off = 0;
	int ret;
	while ((ret = imap_parser_next(&p, &ev, &error)) == 0) {
		size_t chunk = off < n ? 7777 : 2;
		if (off < n && chunk > n - off)
			chunk = n - off;
		if (off >= n)
			imap_parser_feed(&p, "\r\n", 2);
		else
			imap_parser_feed(&p, data + off, chunk);
		off += chunk;
	}
	assert_int_equal(ret, 1);
	assert_int_equal(ev.type, IMAP_PARSER_EV_COMMAND);
	assert_int_equal(ev.cmd.count, 1);
	assert_int_equal(ev.cmd.args[0].len, n);
	assert_memory_equal(ev.cmd.args[0].str, data, n);
	imap_parser_deinit(&p);
	free(data);
}

static void test_accessors(void **state)
{
	struct imap_parser p;
	struct imap_parser_event ev;
	const char *error, *s;
	size_t len;
	const struct imap_arg *list;
	unsigned int count;
	static const char in[] = "t1 X atom \"q s\" NIL [a]b (x) {2+}\r\nlt\r\n";

	imap_parser_init(&p, NULL);
	imap_parser_feed(&p, in, sizeof(in) - 1);
	assert_int_equal(imap_parser_next(&p, &ev, &error), 1);
	assert_true(imap_parser_literal_accept(&p, false));
	assert_int_equal(imap_parser_next(&p, &ev, &error), 1);
	assert_int_equal(ev.cmd.count, 6);
	const struct imap_arg *a = ev.cmd.args;
	assert_true(imap_arg_atom(&a[0], &s));
	assert_string_equal(s, "atom");
	assert_true(imap_arg_atom_equals(&a[0], "ATOM"));
	assert_false(imap_arg_string(&a[0], &s, &len));
	assert_true(imap_arg_astring(&a[0], &s, &len));
	assert_true(imap_arg_string(&a[1], &s, &len));
	assert_string_equal(s, "q s");
	assert_true(imap_arg_nstring(&a[2], &s, &len));
	assert_null(s);
	assert_true(imap_arg_astring(&a[2], &s, &len));
	assert_string_equal(s, "NIL");
	assert_true(imap_arg_astring(&a[3], &s, &len));
	assert_int_equal(len, 4);
	assert_memory_equal(s, "[a]b", 4);
	assert_true(imap_arg_list(&a[4], &list, &count));
	assert_int_equal(count, 1);
	assert_true(imap_arg_atom_equals(&list[0], "x"));
	assert_false(imap_arg_list(&a[3], &list, &count));
	assert_true(imap_arg_string(&a[5], &s, &len));
	assert_int_equal(len, 2);
	assert_string_equal(s, "lt");
	imap_parser_deinit(&p);
}

/* ---- sequence sets ---- */

static void seq(const char *in, uint32_t star, const char *expected)
{
	struct imap_seqset set;
	struct buf b = BUF_INIT;
	const char *error;

	imap_seqset_init(&set);
	assert_int_equal(imap_seqset_parse(&set, in, strlen(in), &error), 0);
	imap_seqset_resolve(&set, star);
	imap_seqset_format(&set, &b);
	assert_string_equal(buf_cstr(&b), expected);
	buf_free(&b);
	imap_seqset_free(&set);
}

static void test_seqset(void **state)
{
	struct imap_seqset set;
	struct buf b = BUF_INIT;
	const char *error;
	static const char *const bad[] = {"",    "0",          "1:0", "1,",  ",1", "1::2", "a",
	                                  "1 2", "4294967296", "$,1", "1:$", "**", "1:*:3"};

	seq("1", 10, "1");
	seq("1:*", 10, "1:10");
	seq("*", 10, "10");
	seq("*:4", 10, "4:10");
	seq("12:*", 10, "10:12");
	seq("5,3,4,1:2", 10, "1:5");
	seq("7:9,1,3:4,8:12", 20, "1,3:4,7:12");
	seq("4294967295", 10, "4294967295");
	seq("1:*", 0, "1");
	seq("*", 0, "");

	imap_seqset_init(&set);
	assert_int_equal(imap_seqset_parse(&set, "1:3,*", 5, &error), 0);
	imap_seqset_format(&set, &b);
	assert_string_equal(buf_cstr(&b), "1:3,*");
	buf_reset(&b);
	assert_int_equal(imap_seqset_parse(&set, "$", 1, &error), 0);
	assert_true(set.last_result);
	imap_seqset_format(&set, &b);
	assert_string_equal(buf_cstr(&b), "$");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(imap_seqset_parse(&set, bad[i], strlen(bad[i]), &error), -1);
		assert_int_equal(set.count, 0);
	}

	/* iterate against a mailbox of 8 messages */
	assert_int_equal(imap_seqset_parse(&set, "2,6:*,4:5,20", 12, &error), 0);
	imap_seqset_resolve(&set, 8);
	struct imap_seqset_iter it;
	uint32_t n;
	buf_reset(&b);
	imap_seqset_iter_init(&it, &set, 8);
	while (imap_seqset_iter_next(&it, &n))
		buf_appendf(&b, "%u.", n);
	assert_string_equal(buf_cstr(&b), "2.4.5.6.7.8.");
	assert_int_equal(imap_seqset_count(&set, 8), 6);
	assert_true(imap_seqset_contains(&set, 2));
	assert_false(imap_seqset_contains(&set, 3));
	assert_true(imap_seqset_contains(&set, 20));
	assert_false(imap_seqset_contains(&set, 9));
	assert_false(imap_seqset_contains(&set, 0));

	/* the whole 32-bit range, iterated against a small mailbox */
	assert_int_equal(imap_seqset_parse(&set, "1:4294967295", 12, &error), 0);
	imap_seqset_resolve(&set, 3);
	buf_reset(&b);
	imap_seqset_iter_init(&it, &set, 3);
	while (imap_seqset_iter_next(&it, &n))
		buf_appendf(&b, "%u.", n);
	assert_string_equal(buf_cstr(&b), "1.2.3.");
	assert_int_equal(imap_seqset_count(&set, UINT32_MAX), UINT32_MAX);
	imap_seqset_iter_init(&it, &set, 0);
	assert_false(imap_seqset_iter_next(&it, &n));

	/* a sequence set taken from a parsed FETCH */
	struct imap_parser p;
	struct imap_parser_event ev;
	imap_parser_init(&p, NULL);
	imap_parser_feed(&p, "f1 UID FETCH 3:1,9:* FLAGS\r\n", 28);
	assert_int_equal(imap_parser_next(&p, &ev, &error), 1);
	assert_true(ev.cmd.uid);
	assert_int_equal(imap_seqset_parse(&set, ev.cmd.args[0].str, ev.cmd.args[0].len, &error),
	                 0);
	imap_seqset_resolve(&set, 12);
	buf_reset(&b);
	imap_seqset_format(&set, &b);
	assert_string_equal(buf_cstr(&b), "1:3,9:12");
	imap_parser_deinit(&p);

	buf_free(&b);
	imap_seqset_free(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),      cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_limits),    cmocka_unit_test(test_raw_line_limit),
	    cmocka_unit_test(test_pending),   cmocka_unit_test(test_big_literal),
	    cmocka_unit_test(test_accessors), cmocka_unit_test(test_seqset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
