/*
 * test-imap-fetch.c - FETCH attribute parsing and the renderers
 * (imap/imap-fetch.h).
 *
 * Parsing: FETCH argument text goes through the real command parser
 * (imap-parser.h) and imap_fetch_parse(); each case lists the items'
 * response names, or the BAD text. Rendering: small messages with
 * hand-checked ENVELOPE, BODYSTRUCTURE, BODY[section], BINARY answers
 * (the form Dovecot 2.3 gives, which test_imap_fetch_dovecot.py checks
 * on a larger corpus).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/buf.h"
#include "imap/imap-fetch.h"
#include "imap/imap-parser.h"
#include "mail/mime.h"

/* parse "FETCH 1 <args>": 0 with the names joined by "|", or -1 with
 * the error in out */
static int parse(const char *args, bool uid, struct buf *out, struct imap_fetch_request *req)
{
	struct imap_parser p;
	struct imap_parser_event ev;
	const char *error;
	imap_parser_init(&p, NULL);
	struct buf line = BUF_INIT;
	buf_appendf(&line, "t %sFETCH 1 %s\r\n", uid ? "UID " : "", args);
	imap_parser_feed(&p, line.data, line.len);
	assert_int_equal(imap_parser_next(&p, &ev, &error), 1);
	int ret = imap_fetch_parse(ev.cmd.args + 1, ev.cmd.count - 1, ev.cmd.uid, req, &error);
	buf_reset(out);
	if (ret < 0) {
		buf_append_str(out, error);
	} else {
		for (unsigned int i = 0; i < req->count; i++) {
			if (i > 0)
				buf_append_c(out, '|');
			imap_fetch_item_name(&req->items[i], out);
		}
	}
	imap_parser_deinit(&p);
	buf_free(&line);
	return ret;
}

static void parse_ok(const char *args, const char *names)
{
	struct buf out = BUF_INIT;
	struct imap_fetch_request req;
	if (parse(args, true, &out, &req) < 0)
		fail_msg("%s: %s", args, out.data);
	assert_string_equal(buf_cstr(&out), names);
	imap_fetch_request_free(&req);
	buf_free(&out);
}

static void parse_bad(const char *args, bool uid)
{
	struct buf out = BUF_INIT;
	struct imap_fetch_request req;
	if (parse(args, uid, &out, &req) == 0)
		fail_msg("%s: accepted as %s", args, out.data);
	imap_fetch_request_free(&req);
	buf_free(&out);
}

static void test_parse(void **state)
{
	parse_ok("ALL", "FLAGS|INTERNALDATE|RFC822.SIZE|ENVELOPE");
	parse_ok("fast", "FLAGS|INTERNALDATE|RFC822.SIZE");
	parse_ok("FULL", "FLAGS|INTERNALDATE|RFC822.SIZE|ENVELOPE|BODY");
	parse_ok("(uid flags body bodystructure)", "UID|FLAGS|BODY|BODYSTRUCTURE");
	parse_ok("(RFC822 RFC822.HEADER RFC822.TEXT RFC822.SIZE)",
	         "RFC822|RFC822.HEADER|RFC822.TEXT|RFC822.SIZE");
	parse_ok("(MODSEQ SAVEDATE EMAILID THREADID)", "MODSEQ|SAVEDATE|EMAILID|THREADID");
	parse_ok("BODY[]", "BODY[]");
	parse_ok("body.peek[1.2.3]<10.20>", "BODY[1.2.3]<10>");
	parse_ok("(BODY[HEADER] BODY[TEXT] BODY[1.MIME] BODY[2.HEADER] BODY[2.1.TEXT])",
	         "BODY[HEADER]|BODY[TEXT]|BODY[1.MIME]|BODY[2.HEADER]|BODY[2.1.TEXT]");
	parse_ok("BODY.PEEK[HEADER.FIELDS (from \"Subject\" x-y)]",
	         "BODY[HEADER.FIELDS (FROM SUBJECT X-Y)]");
	parse_ok("BODY[1.HEADER.FIELDS.NOT (To)]<0.5>", "BODY[1.HEADER.FIELDS.NOT (TO)]<0>");
	parse_ok("(BINARY[1] BINARY.PEEK[2.3]<1.2> BINARY.SIZE[1] BINARY[])",
	         "BINARY[1]|BINARY[2.3]<1>|BINARY.SIZE[1]|BINARY[]");
	parse_ok("(FLAGS) (CHANGEDSINCE 12345)", "FLAGS|MODSEQ");
	parse_ok("(FLAGS MODSEQ) (CHANGEDSINCE 1 VANISHED)", "FLAGS|MODSEQ");

	parse_bad("()", true);
	parse_bad("(ALL)", true); /* macros only alone */
	parse_bad("FOO", true);
	parse_bad("(BODY[0])", true);
	parse_bad("(BODY[1.])", true);
	parse_bad("(BODY[MIME])", true); /* MIME needs a part number */
	parse_bad("(BODY[HEADERS])", true);
	parse_bad("(BODY[HEADER.FIELDS])", true);
	parse_bad("(BODY[HEADER.FIELDS ()])", true);
	parse_bad("(BODY[TEXT (FROM)])", true);
	parse_bad("(BODY[1]x)", true);
	parse_bad("(BINARY[1.HEADER])", true);
	parse_bad("(BINARY[TEXT])", true);
	parse_bad("(BINARY.SIZE[1]<0.5>)", true);
	parse_bad("(FOO[1])", true);
	parse_bad("(FLAGS) (CHANGEDSINCE)", true);
	parse_bad("(FLAGS) (CHANGEDSINCE x)", true);
	parse_bad("(FLAGS) (VANISHED)", true);
	parse_bad("(FLAGS) (CHANGEDSINCE 1 VANISHED)", false); /* VANISHED needs UID */
	parse_bad("(FLAGS) (FOO)", true);
	parse_bad("(FLAGS) (CHANGEDSINCE 99999999999999999999999)", true);
}

static void test_parse_flags(void **state)
{
	struct buf out = BUF_INIT;
	struct imap_fetch_request req;
	assert_int_equal(parse("(BODY.PEEK[] BINARY.PEEK[1] RFC822.HEADER)", true, &out, &req), 0);
	assert_false(req.sets_seen);
	imap_fetch_request_free(&req);
	assert_int_equal(parse("(BODY[1])", true, &out, &req), 0);
	assert_true(req.sets_seen);
	assert_int_equal(req.items[0].section.npart, 1);
	assert_int_equal(req.items[0].section.part[0], 1);
	imap_fetch_request_free(&req);
	assert_int_equal(parse("RFC822.TEXT", true, &out, &req), 0);
	assert_true(req.sets_seen);
	imap_fetch_request_free(&req);
	assert_int_equal(parse("(FLAGS) (CHANGEDSINCE 7 VANISHED)", true, &out, &req), 0);
	assert_true(req.changedsince);
	assert_int_equal(req.changedsince_modseq, 7);
	assert_true(req.vanished);
	assert_true((req.types & (1u << IMAP_FETCH_MODSEQ)) != 0);
	imap_fetch_request_free(&req);
	assert_int_equal(parse("BODY[1.2]<5.6>", true, &out, &req), 0);
	assert_true(req.items[0].section.has_partial);
	assert_int_equal(req.items[0].section.partial_start, 5);
	assert_int_equal(req.items[0].section.partial_length, 6);
	imap_fetch_request_free(&req);
	buf_free(&out);
}

/* render one attribute of msg as the response list's contents */
static int render(const char *msg, size_t len, const char *att, struct buf *out)
{
	struct buf names = BUF_INIT;
	struct imap_fetch_request req;
	const char *error = NULL;
	assert_int_equal(parse(att, true, &names, &req), 0);
	struct mime_part *root = mime_parse(msg, len, NULL);
	buf_reset(out);
	int ret = 0;
	for (unsigned int i = 0; i < req.count && ret >= 0; i++) {
		if (i > 0)
			buf_append_c(out, ' ');
		ret = imap_fetch_render_item(&req.items[i], root, msg, len, out, &error);
		if (ret < 0) {
			buf_reset(out);
			buf_append_str(out, error);
		}
	}
	mime_part_free(&root);
	imap_fetch_request_free(&req);
	buf_free(&names);
	return ret;
}

static void expect(const char *msg, const char *att, const char *want)
{
	struct buf out = BUF_INIT;
	assert_true(render(msg, strlen(msg), att, &out) > 0);
	assert_string_equal(buf_cstr(&out), want);
	buf_free(&out);
}

static const char msg_lf[] = "From: Alice <alice@example.org>\n"
                             "To: undisclosed-recipients:;, \"B, b\" <b@x.org>, c@y\n"
                             "Subject: two\n lines\n"
                             "Content-Type: multipart/mixed; boundary=\"b\"\n"
                             "\n"
                             "--b\n"
                             "Content-Type: text/plain; charset=utf-8\n"
                             "\n"
                             "one\n"
                             "two\n"
                             "--b\n"
                             "Content-Type: application/octet-stream\n"
                             "Content-Transfer-Encoding: base64\n"
                             "Content-Disposition: attachment; filename*=utf-8''%C3%A4.bin\n"
                             "\n"
                             "AAEC\n"
                             "--b--\n";

static void test_envelope(void **state)
{
	expect(msg_lf, "ENVELOPE",
	       "ENVELOPE (NIL {9}\r\ntwo lines ((\"Alice\" NIL \"alice\" \"example.org\")) "
	       "((\"Alice\" NIL \"alice\" \"example.org\")) ((\"Alice\" NIL \"alice\" "
	       "\"example.org\")) ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)"
	       "(\"B, b\" NIL \"b\" \"x.org\")(NIL NIL \"c\" \"y\")) NIL NIL NIL NIL)");
}

static void test_envelope_forms(void **state)
{
	expect("Subject: a \"q\"\nFrom: x\nSender: <@r.example:u@h> (c)\n"
	       "Reply-To: (only comment) u@h (name)\nMessage-ID:  <id@h>  \n\n",
	       "ENVELOPE",
	       "ENVELOPE (NIL {5}\r\na \"q\" ((NIL NIL \"x\" \"MISSING_DOMAIN\")) "
	       "((NIL \"@r.example\" \"u\" \"h\")) ((\"name\" NIL \"u\" \"h\")) NIL NIL NIL NIL "
	       "\"<id@h>  \")");
	expect("Date: \nTo: a@b, ,\n\n", "ENVELOPE",
	       "ENVELOPE (\"\" NIL NIL NIL NIL ((NIL NIL \"a\" \"b\")(NIL NIL \"MISSING_MAILBOX\" "
	       "\"MISSING_DOMAIN\")) NIL NIL NIL NIL)");
	expect(
	    "To: x <y@z\n\n", "ENVELOPE",
	    "ENVELOPE (NIL NIL NIL NIL NIL ((\"x\" NIL \"y\" \"SYNTAX_ERROR\")) NIL NIL NIL NIL)");
}

static void test_bodystructure(void **state)
{
	expect(msg_lf, "BODYSTRUCTURE",
	       "BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 8 1 "
	       "NIL NIL NIL NIL)(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 4 NIL "
	       "(\"attachment\" (\"filename*\" \"utf-8''%C3%A4.bin\")) NIL NIL) \"mixed\" "
	       "(\"boundary\" \"b\") NIL NIL NIL)");
	expect(msg_lf, "BODY",
	       "BODY ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 8 1)"
	       "(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 4) \"mixed\")");
	/* no Content-Type: text/plain; us-ascii; a last line without LF is no line */
	expect("Subject: x\r\n\r\nab\r\ncd", "BODYSTRUCTURE",
	       "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 "
	       "NIL NIL NIL NIL)");
	/* as sent: case, RFC 2231 joined, language list, location, md5 */
	expect(
	    "Content-Type: TEXT/Html; a*0=x; a*1=y; CharSet=\"Q\\\"\"\n"
	    "Content-Language: en, de\nContent-Location: here\nContent-MD5: abc\n"
	    "Content-ID: <i>\nContent-Description: d\nContent-Transfer-Encoding: 8BIT\n\nx\n",
	    "BODYSTRUCTURE",
	    "BODYSTRUCTURE (\"TEXT\" \"Html\" (\"CharSet\" \"Q\\\"\" \"a\" \"xy\") \"<i>\" \"d\" "
	    "\"8BIT\" 3 1 \"abc\" NIL (\"en\" \"de\") \"here\")");
	/* message/rfc822 */
	expect("Content-Type: message/rfc822\n\nSubject: in\n\nbody\n", "BODY",
	       "BODY (\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 21 (NIL \"in\" NIL NIL NIL NIL "
	       "NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 "
	       "1) 3)");
	/* multipart without boundary: one empty part */
	expect("Content-Type: multipart/mixed\n\nx\n", "BODY",
	       "BODY ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) "
	       "\"mixed\")");
}

static void test_sections(void **state)
{
	expect(msg_lf, "RFC822.SIZE", "RFC822.SIZE 370");
	expect(msg_lf, "BODY.PEEK[1]", "BODY[1] {8}\r\none\r\ntwo");
	expect(msg_lf, "BODY.PEEK[1]<4.100>", "BODY[1]<4> {4}\r\n\ntwo");
	expect(msg_lf, "BODY.PEEK[1]<40.1>", "BODY[1]<40> {0}\r\n");
	expect(msg_lf, "BODY.PEEK[2.MIME]",
	       "BODY[2.MIME] {139}\r\nContent-Type: application/octet-stream\r\n"
	       "Content-Transfer-Encoding: base64\r\n"
	       "Content-Disposition: attachment; filename*=utf-8''%C3%A4.bin\r\n\r\n");
	expect(msg_lf, "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]",
	       "BODY[HEADER.FIELDS (SUBJECT FROM)] {57}\r\nFrom: Alice <alice@example.org>\r\n"
	       "Subject: two\r\n lines\r\n\r\n");
	expect(msg_lf, "BODY.PEEK[HEADER.FIELDS.NOT (TO subject content-type)]",
	       "BODY[HEADER.FIELDS.NOT (TO SUBJECT CONTENT-TYPE)] {35}\r\n"
	       "From: Alice <alice@example.org>\r\n\r\n");
	expect(msg_lf, "BODY.PEEK[3]", "BODY[3] {0}\r\n");
	expect(msg_lf, "BODY.PEEK[1.1]", "BODY[1.1] {8}\r\none\r\ntwo");
	expect(msg_lf, "BODY.PEEK[1.TEXT]", "BODY[1.TEXT] {0}\r\n");
	expect("Subject: x\n\nbody\n", "BODY.PEEK[1.1]", "BODY[1.1] {0}\r\n");
	expect("Subject: x\n\nbody\n", "BODY.PEEK[1]", "BODY[1] {6}\r\nbody\r\n");
	expect("Subject: x\n\nbody\n", "BODY.PEEK[1.MIME]",
	       "BODY[1.MIME] {14}\r\nSubject: x\r\n\r\n");
	expect("Subject: x\n\nbody\n", "RFC822.HEADER", "RFC822.HEADER {14}\r\nSubject: x\r\n\r\n");
	expect("Subject: x\n\nbody\n", "RFC822.TEXT", "RFC822.TEXT {6}\r\nbody\r\n");
	expect("Subject: x\n\nbody\n", "RFC822", "RFC822 {20}\r\nSubject: x\r\n\r\nbody\r\n");
	/* message/rfc822 parts: HEADER and TEXT of the enclosed message */
	const char *fw =
	    "Subject: out\n"
	    "Content-Type: multipart/mixed; boundary=z\n\n"
	    "--z\nContent-Type: message/rfc822\n\nSubject: in\nTo: t@h\n\nhello\n--z--\n";
	expect(fw, "BODY.PEEK[1.HEADER]", "BODY[1.HEADER] {24}\r\nSubject: in\r\nTo: t@h\r\n\r\n");
	expect(fw, "BODY.PEEK[1.TEXT]", "BODY[1.TEXT] {5}\r\nhello");
	expect(fw, "BODY.PEEK[1.1]", "BODY[1.1] {5}\r\nhello");
	expect(fw, "BODY.PEEK[1.HEADER.FIELDS (to)]",
	       "BODY[1.HEADER.FIELDS (TO)] {11}\r\nTo: t@h\r\n\r\n");
	/* a header without an empty line after it */
	expect("From: a\nSubject: b", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]",
	       "BODY[HEADER.FIELDS (SUBJECT)] {12}\r\nSubject: b\r\n");
	expect("From: a\nSubject: b\n", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]",
	       "BODY[HEADER.FIELDS (SUBJECT)] {14}\r\nSubject: b\r\n\r\n");
}

static void test_binary(void **state)
{
	expect(msg_lf, "BINARY.PEEK[2]", "BINARY[2] ~{3}\r\n\0\1\2");
	struct buf out = BUF_INIT;
	assert_int_equal(render(msg_lf, sizeof(msg_lf) - 1, "BINARY.PEEK[2]", &out), 1);
	assert_int_equal(out.len, strlen("BINARY[2] ~{3}\r\n") + 3);
	assert_memory_equal(out.data + out.len - 3, "\0\1\2", 3);
	expect(msg_lf, "BINARY.SIZE[2]", "BINARY.SIZE[2] 3");
	expect(msg_lf, "BINARY.PEEK[1]", "BINARY[1] {8}\r\none\r\ntwo");
	expect(msg_lf, "BINARY.SIZE[1]", "BINARY.SIZE[1] 8");
	expect("Content-Transfer-Encoding: quoted-printable\n\na=3Db=\nc\n", "BINARY.PEEK[1]",
	       "BINARY[1] ~{6}\r\na=bc\r\n");
	expect("Content-Transfer-Encoding: base64\n\naGVsbG8=\n", "BINARY.PEEK[1]<1.3>",
	       "BINARY[1]<1> ~{3}\r\nell");
	const char *uu = "Content-Transfer-Encoding: x-uuencode\n\nbegin\n";
	assert_int_equal(render(uu, strlen(uu), "BINARY.PEEK[1]", &out), -1);
	assert_string_equal(out.data, "[UNKNOWN-CTE] Unknown Content-Transfer-Encoding");
	const char *bad = "Content-Transfer-Encoding: base64\n\n!!!!\n";
	assert_int_equal(render(bad, strlen(bad), "BINARY.SIZE[1]", &out), -1);
	assert_non_null(strstr(out.data, "[UNKNOWN-CTE]"));
	/* items the session renders */
	assert_int_equal(render(msg_lf, sizeof(msg_lf) - 1, "FLAGS", &out), 0);
	buf_free(&out);
}

static void test_strings(void **state)
{
	struct buf out = BUF_INIT;
	imap_append_string(&out, "a \"b\" \\", 7);
	buf_append_c(&out, ' ');
	imap_append_nstring(&out, NULL, 0);
	buf_append_c(&out, ' ');
	imap_append_nstring_strict(&out, "plain", 5);
	buf_append_c(&out, ' ');
	imap_append_nstring_strict(&out, "q\"", 2);
	buf_append_c(&out, ' ');
	imap_append_string(&out, "\xc3\xa4", 2);
	buf_append_c(&out, ' ');
	imap_append_string(&out, "t\tab", 4);
	buf_append_c(&out, ' ');
	imap_append_literal(&out, "x", 1, true);
	assert_string_equal(out.data,
	                    "\"a \\\"b\\\" \\\\\" NIL \"plain\" {2}\r\nq\" {2}\r\n\xc3\xa4 "
	                    "{4}\r\nt\tab ~{1}\r\nx");
	assert_int_equal(imap_fetch_crlf_size("a\nb\r\nc\n", 7, 0, 7), 9);
	assert_int_equal(imap_fetch_crlf_size("a\nb\r\nc\n", 7, 1, 2), 2);
	assert_int_equal(imap_fetch_crlf_size("a\n", 2, 0, 99), 3);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),         cmocka_unit_test(test_parse_flags),
	    cmocka_unit_test(test_envelope),      cmocka_unit_test(test_envelope_forms),
	    cmocka_unit_test(test_bodystructure), cmocka_unit_test(test_sections),
	    cmocka_unit_test(test_binary),        cmocka_unit_test(test_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
