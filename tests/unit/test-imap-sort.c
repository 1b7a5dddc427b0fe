/*
 * test-imap-sort.c - SORT (imap/imap-sort.h): criteria parsing, the base
 * subject algorithm of RFC 5256 section 2.1 (every construct of its ABNF:
 * subj-refwd with and without blob, subj-blob, subj-trailer, subj-fwd,
 * encoded words), the first mailbox of address fields, and whole sorts
 * by every key, REVERSE, ties and fallbacks.
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

#include "core/buf.h"
#include "imap/imap-parser.h"
#include "imap/imap-sort.h"

static void test_base_subject(void **state)
{
	static const struct {
		const char *in, *out;
		bool refwd;
	} table[] = {
	    {"hello", "hello", false},
	    {"Re: hello", "hello", true},
	    {"RE: Re: re: hello", "hello", true},
	    {"re : hello", "hello", true},
	    {"Re:hello", "hello", true},
	    {"Fwd: hello", "hello", true},
	    {"FW: hello", "hello", true},
	    {"fw: Fwd:Re: hello", "hello", true},
	    {"Re[2]: hello", "hello", true},
	    {"Re [list]: hello", "hello", true},
	    {"[list] Re: hello", "hello", true},
	    {"[a][b] Re: [c] hello", "hello", true},
	    {"Re: [list] hello", "hello", true},
	    {"[list] hello", "hello", false},
	    {"[a] [b] hello", "hello", false},
	    {"[list]", "[list]", false},
	    {"[a] [b]", "[b]", false},
	    {"Re: [list]", "[list]", true},
	    {"hello (fwd)", "hello", true},
	    {"hello (FWD) (fwd)  ", "hello", true},
	    {"hello(fwd)", "hello", true},
	    {"[fwd: hello]", "hello", true},
	    {"[Fwd: Re: hello (fwd)]", "hello", true},
	    {"[fwd: [fwd: hello]]", "hello", true},
	    {"Re: [fwd: hello]", "hello", true},
	    {"[fwd: hello", "[fwd: hello", false},
	    {"Re:", "", true},
	    {"", "", false},
	    {"   ", "", false},
	    {"  hello \t  world  ", "hello world", false},
	    {"hello\r\n world", "hello world", false},
	    {"Ref: hello", "Ref: hello", false},
	    {"Reply: hello", "Reply: hello", false},
	    {"Re hello", "Re hello", false},
	    {"Fwdx: hello", "Fwdx: hello", false},
	    {"Re: (fwd)", "", true},
	    {"=?utf-8?q?Re=3A_Gr=C3=BC=C3=9Fe?=",
	     "Gr\xc3\xbc\xc3\x9f"
	     "e",
	     true},
	    {"=?ISO-8859-1?Q?Caf=E9?= (fwd)", "Caf\xc3\xa9", true},
	    {"Re: =?utf-8?B?W2xpc3RdIGhlbGxv?=", "hello", true},
	    {"AW: hello", "AW: hello", false}, /* only Re / Fw / Fwd are markers */
	};
	struct buf out = BUF_INIT;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		buf_reset(&out);
		bool refwd = imap_sort_base_subject(table[i].in, strlen(table[i].in), &out);
		if (strcmp(buf_cstr(&out), table[i].out) != 0 || refwd != table[i].refwd)
			fail_msg("\"%s\": \"%s\" %d, expected \"%s\" %d", table[i].in,
			         buf_cstr(&out), refwd, table[i].out, table[i].refwd);
	}
	buf_free(&out);
}

static void test_first_mailbox(void **state)
{
	static const struct {
		const char *in;
		bool found;
		const char *display, *local, *domain;
	} table[] = {
	    {"Alice <alice@example.com>", true, "Alice", "alice", "example.com"},
	    {"\"Doe, John\" <john.doe@example.com>, bob@x", true, "Doe, John", "john.doe",
	     "example.com"},
	    {"bob@example.org (Bob)", true, "", "bob", "example.org"},
	    {"bob @ example . org", true, "", "bob", "example.org"},
	    {"undisclosed-recipients:;", false, "", "", ""},
	    {"undisclosed-recipients:;, carol@x", true, "", "carol", "x"},
	    {"team: a@x, b@y;", true, "", "a", "x"},
	    {"=?ISO-8859-1?Q?J=F6rg?= <j@x>", true, "J\xc3\xb6rg", "j", "x"},
	    {"<@route,@r2:user@host>", true, "", "user", "host"},
	    {"", false, "", "", ""},
	    {"<>", false, "", "", ""},
	    {"<>, z@y", true, "", "z", "y"},
	    {"John Q. Public <jqp@x>", true, "John Q. Public", "jqp", "x"},
	    {"\"quoted local\"@example.com", true, "", "quoted local", "example.com"},
	    {"user@[192.0.2.1]", true, "", "user", "[192.0.2.1]"},
	    {"(comment only)", false, "", "", ""},
	    {"Mary (the boss) Smith <mary@x>", true, "Mary Smith", "mary", "x"},
	    {"just text", false, "", "", ""},
	    {"<user>", true, "", "user", ""},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct buf d = BUF_INIT, l = BUF_INIT, dom = BUF_INIT;
		bool found =
		    imap_sort_first_mailbox(table[i].in, strlen(table[i].in), &d, &l, &dom);
		if (found != table[i].found || strcmp(buf_cstr(&d), table[i].display) != 0 ||
		    strcmp(buf_cstr(&l), table[i].local) != 0 ||
		    strcmp(buf_cstr(&dom), table[i].domain) != 0)
			fail_msg("\"%s\": %d \"%s\" \"%s\" \"%s\"", table[i].in, found,
			         buf_cstr(&d), buf_cstr(&l), buf_cstr(&dom));
		buf_free(&d);
		buf_free(&l);
		buf_free(&dom);
	}
	assert_true(imap_sort_first_mailbox("a@b", 3, NULL, NULL, NULL));
}

static int parse_criteria(const char *text, struct imap_sort_program *sp, const char **error)
{
	struct imap_parser p;
	struct imap_parser_event ev;
	struct buf line = BUF_INIT;
	imap_parser_init(&p, NULL);
	buf_appendf(&line, "A1 SORT %s UTF-8 ALL\r\n", text);
	imap_parser_feed(&p, line.data, line.len);
	assert_int_equal(imap_parser_next(&p, &ev, error), 1);
	int ret = imap_sort_parse(&ev.cmd.args[0], sp, error);
	if (ret == 0) {
		/* the rest is a search program with the charset first */
		struct imap_search_program *prog;
		assert_int_equal(imap_search_parse(ev.cmd.args + 1, ev.cmd.count - 1, NULL,
		                                   IMAP_SEARCH_PARSE_CHARSET_FIRST, &prog, error),
		                 0);
		imap_search_program_free(&prog);
	}
	imap_parser_deinit(&p);
	buf_free(&line);
	return ret;
}

static void test_parse(void **state)
{
	struct imap_sort_program sp;
	const char *error;
	assert_int_equal(parse_criteria("(REVERSE DATE subject)", &sp, &error), 0);
	assert_int_equal(sp.count, 2);
	assert_int_equal(sp.crit[0].key, IMAP_SORT_DATE);
	assert_true(sp.crit[0].reverse);
	assert_int_equal(sp.crit[1].key, IMAP_SORT_SUBJECT);
	assert_false(sp.crit[1].reverse);
	assert_int_equal(parse_criteria("(ARRIVAL CC DATE FROM SIZE SUBJECT TO DISPLAYFROM "
	                                "DISPLAYTO)",
	                                &sp, &error),
	                 0);
	assert_int_equal(sp.count, 9);
	static const struct {
		const char *in, *error;
	} bad[] = {
	    {"()", "Invalid sort criteria"},
	    {"DATE", "Invalid sort criteria"},
	    {"(FOO)", "Unknown sort criterion"},
	    {"(REVERSE)", "REVERSE without sort criterion"},
	    {"(DATE REVERSE)", "REVERSE without sort criterion"},
	    {"(REVERSE REVERSE DATE)", "Invalid sort criteria"},
	    {"(\"DATE\")", "Unknown sort criterion"},
	    {"(DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE "
	     "DATE)",
	     "Too many sort criteria"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse_criteria(bad[i].in, &sp, &error), -1);
		assert_string_equal(error, bad[i].error);
	}
	assert_int_equal(imap_sort_parse(NULL, &sp, &error), -1);

	const char *h[5];
	unsigned int nh;
	assert_int_equal(parse_criteria("(SIZE)", &sp, &error), 0);
	assert_int_equal(imap_sort_needs(&sp, h, &nh), IMAP_SEARCH_NEED_SIZE);
	assert_int_equal(nh, 0);
	assert_int_equal(parse_criteria("(FROM DISPLAYFROM DATE ARRIVAL)", &sp, &error), 0);
	assert_int_equal(imap_sort_needs(&sp, h, &nh),
	                 IMAP_SEARCH_NEED_HEADERS | IMAP_SEARCH_NEED_INTERNAL_DATE);
	assert_int_equal(nh, 2);
	assert_string_equal(h[0], "From");
	assert_string_equal(h[1], "Date");
}

struct smsg {
	uint32_t seq;
	const char *subject, *from, *to, *cc, *date;
	int64_t internal;
	uint64_t size;
};

static int s_header(void *ctx, const char *name, struct buf *out)
{
	const struct smsg *m = ctx;
	const char *v = NULL;
	if (strcasecmp(name, "Subject") == 0)
		v = m->subject;
	else if (strcasecmp(name, "From") == 0)
		v = m->from;
	else if (strcasecmp(name, "To") == 0)
		v = m->to;
	else if (strcasecmp(name, "Cc") == 0)
		v = m->cc;
	else if (strcasecmp(name, "Date") == 0)
		v = m->date;
	if (v == NULL)
		return 0;
	buf_append_str(out, v);
	buf_append_c(out, '\0');
	return 1;
}

static int64_t s_internal(void *ctx)
{
	return ((const struct smsg *)ctx)->internal;
}

static uint64_t s_size(void *ctx)
{
	return ((const struct smsg *)ctx)->size;
}

static int s_fail(void *ctx, const char *name, struct buf *out)
{
	return -1;
}

static const struct imap_search_ops sops = {
    .header = s_header, .internal_date = s_internal, .size = s_size};

static struct smsg smsgs[] = {
    {1, "Re: banana", "\"Zed\" <zed@example.com>", "bob@x", NULL, "Mon, 1 Jan 2024 12:00:00 +0000",
     500, 300},
    {2, "apple", "Anna <Mia@example.com>", "Carl <carl@x>", "x@y", "Mon, 1 Jan 2024 13:30:00 +0200",
     400, 100},
    {3, "[list] Cherry (fwd)", "bob@example.com", NULL, "A@y", NULL, 100, 300},
    {4, "=?utf-8?q?Apple?=", "=?ISO-8859-1?Q?=C4rger?= <aa@example.com>", "alice@x", "b@y",
     "garbage", 300, 200},
    {5, "BANANA", "mia@example.com", "Bob <zz@x>", NULL, "Mon, 1 Jan 2024 11:00:00 -0100", 200,
     100},
};

static void check_sort(const char *criteria, const char *expect)
{
	struct imap_sort_program sp;
	const char *error;
	size_t n = sizeof(smsgs) / sizeof(smsgs[0]);
	struct imap_search_msg msgs[5];
	struct buf got = BUF_INIT;
	assert_int_equal(parse_criteria(criteria, &sp, &error), 0);
	/* hand them over in a scrambled order */
	for (size_t i = 0; i < n; i++) {
		size_t k = (i * 3 + 2) % n;
		msgs[i].seq = smsgs[k].seq;
		msgs[i].uid = smsgs[k].seq * 10;
		msgs[i].flags = 0;
		msgs[i].ctx = &smsgs[k];
	}
	assert_int_equal(imap_sort(&sp, &sops, msgs, n, &error), 0);
	for (size_t i = 0; i < n; i++)
		buf_appendf(&got, "%s%u", i > 0 ? " " : "", msgs[i].seq);
	if (strcmp(got.data, expect) != 0)
		fail_msg("SORT %s: got %s, expected %s", criteria, got.data, expect);
	buf_free(&got);
}

static void test_sort(void **state)
{
	/* internal dates: 5:200 4:300 3:100 2:400 1:500 */
	check_sort("(ARRIVAL)", "3 5 4 2 1");
	check_sort("(REVERSE ARRIVAL)", "1 2 4 5 3");
	/* sizes 300 100 300 200 100: ties by sequence number */
	check_sort("(SIZE)", "2 5 4 1 3");
	check_sort("(REVERSE SIZE)", "1 3 4 2 5");
	check_sort("(REVERSE SIZE REVERSE ARRIVAL)", "1 3 4 2 5");
	check_sort("(SIZE REVERSE ARRIVAL)", "2 5 4 1 3");
	check_sort("(SIZE ARRIVAL)", "5 2 4 3 1");
	/* base subjects: banana apple Cherry Apple BANANA */
	check_sort("(SUBJECT)", "2 4 1 5 3");
	check_sort("(SUBJECT REVERSE ARRIVAL)", "2 4 1 5 3");
	check_sort("(SUBJECT ARRIVAL)", "4 2 5 1 3");
	check_sort("(REVERSE SUBJECT)", "3 1 5 2 4");
	/* DATE: 1 12:00Z, 2 11:30Z, 3 internal 100, 4 garbage -> internal
	 * 300, 5 12:00Z */
	check_sort("(DATE)", "3 4 2 1 5");
	check_sort("(REVERSE DATE)", "1 5 2 4 3");
	/* FROM local parts: zed Mia bob aa mia */
	check_sort("(FROM)", "4 3 2 5 1");
	/* DISPLAYFROM: Zed Anna bob@example.com Ärger mia@example.com */
	check_sort("(DISPLAYFROM)", "2 3 5 1 4");
	/* TO: bob carl (none) alice zz */
	check_sort("(TO)", "3 4 1 2 5");
	/* DISPLAYTO: bob@x Carl "" alice@x Bob */
	check_sort("(DISPLAYTO)", "3 4 5 1 2");
	/* CC: (none) x A (none) b */
	check_sort("(CC)", "1 5 3 4 2");
	check_sort("(CC SIZE)", "5 1 3 4 2");
}

static void test_sort_errors(void **state)
{
	struct imap_sort_program sp;
	const char *error;
	struct imap_search_ops bad = sops;
	struct imap_search_msg msgs[2] = {{1, 1, 0, &smsgs[0]}, {2, 2, 0, &smsgs[1]}};
	bad.header = s_fail;
	assert_int_equal(parse_criteria("(SUBJECT)", &sp, &error), 0);
	assert_int_equal(imap_sort(&sp, &bad, msgs, 2, &error), -1);
	assert_string_equal(error, "Failed to read message header");
	/* ARRIVAL needs no header */
	assert_int_equal(parse_criteria("(REVERSE ARRIVAL)", &sp, &error), 0);
	assert_int_equal(imap_sort(&sp, &bad, msgs, 2, &error), 0);
	assert_int_equal(msgs[0].seq, 1);
	assert_int_equal(imap_sort(&sp, &bad, msgs, 0, &error), 0);
}

static void test_casecmp(void **state)
{
	assert_int_equal(imap_sort_casecmp("abc", 3, "ABC", 3), 0);
	assert_true(imap_sort_casecmp("abc", 3, "abd", 3) < 0);
	assert_true(imap_sort_casecmp("ab", 2, "abc", 3) < 0);
	/* letters map to upper case: '_' (0x5f) sorts after 'a' ('A', 0x41) */
	assert_true(imap_sort_casecmp("_", 1, "a", 1) > 0);
	assert_true(imap_sort_casecmp("\xc3\xa4", 2, "z", 1) > 0);
	assert_true(imap_sort_casecmp("\xc3\x84", 2, "\xc3\xa4", 2) != 0); /* ASCII only */
	assert_int_equal(imap_sort_sent_date(NULL, 0, 77), 77);
	assert_int_equal(imap_sort_sent_date("junk", 4, 77), 77);
	assert_int_equal(imap_sort_sent_date("1 Jan 1970 01:00 +0100", 22, 77), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base_subject), cmocka_unit_test(test_first_mailbox),
	    cmocka_unit_test(test_parse),        cmocka_unit_test(test_sort),
	    cmocka_unit_test(test_sort_errors),  cmocka_unit_test(test_casecmp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
