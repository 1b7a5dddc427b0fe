/*
 * test-imap-thread.c - THREAD (imap/imap-thread.h): message-ID parsing,
 * ORDEREDSUBJECT, and REFERENCES on a mailbox worked through by hand
 * (every rule of RFC 5256 section 3: linking by References and
 * In-Reply-To, duplicate and self-referencing IDs, loops, dummy pruning
 * and promotion, subject gathering of both dummy and non-dummy threads,
 * replies merged under originals, sibling order by date), the response
 * format, a long chain (no recursion), and the ops-based entry point.
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
#include "core/xalloc.h"
#include "imap/imap-sort.h"
#include "imap/imap-thread.h"

#define T(hh, mm) "Mon, 1 Jan 2024 " #hh ":" #mm ":00 +0000"

static void test_msgid(void **state)
{
	static const struct {
		const char *in, *out;
	} table[] = {
	    {"<a@b>", "a@b|"},
	    {"  <a@b> <c@d>\r\n\t<e@f>", "a@b|c@d|e@f|"},
	    {"<a@b>(comment <x@y>)<c@d>", "a@b|x@y|c@d|"},
	    {"<a @ b>", "a@b|"},
	    {"<a(comment)@b>", "a@b|"},
	    {"<nodomain> <x@y>", "x@y|"},
	    {"<@b> <a@> <c@d>", "c@d|"},
	    {"<a <b@c>", "b@c|"},
	    {"<a@b", ""},
	    {"", ""},
	    {"no ids here", ""},
	    {"<\"q\"@b>", "q@b|"},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct buf out = BUF_INIT, id = BUF_INIT;
		size_t pos = 0, len = strlen(table[i].in);
		while (imap_thread_msgid_next(table[i].in, len, &pos, &id)) {
			buf_append(&out, id.data, id.len);
			buf_append_c(&out, '|');
			buf_reset(&id);
		}
		if (strcmp(buf_cstr(&out), table[i].out) != 0)
			fail_msg("\"%s\": \"%s\"", table[i].in, buf_cstr(&out));
		buf_free(&out);
		buf_free(&id);
	}
}

static char *thread(enum imap_thread_algorithm alg, const struct imap_thread_input *in, size_t n)
{
	struct buf out = BUF_INIT;
	imap_thread_build(alg, in, n, &out);
	buf_append_c(&out, '\0');
	return buf_steal(&out);
}

static void check_thread(enum imap_thread_algorithm alg, const struct imap_thread_input *in,
                         size_t n, const char *expect)
{
	char *got = thread(alg, in, n);
	if (strcmp(got, expect) != 0)
		fail_msg("got      %s\nexpected %s", got, expect);
	free(got);
	/* the outcome must not depend on the order of the input */
	struct imap_thread_input *rev = xcalloc(n + 1, sizeof(*rev));
	for (size_t i = 0; i < n; i++)
		rev[i] = in[n - 1 - i];
	got = thread(alg, rev, n);
	if (strcmp(got, expect) != 0)
		fail_msg("reversed got %s\nexpected     %s", got, expect);
	free(got);
	free(rev);
}

/*
 * The hand-worked mailbox (dates 1 Jan 2024, times below):
 *  1 10:00 <1@x>  "Meeting"                                  root
 *  2 10:05 <2@x>  "Re: Meeting"   References <1@x>           child of 1
 *  3 10:10 <3@x>  "Lunch"                                    root
 *  4 10:15 <4@x>  "Re: Meeting"   References <1@x> <2@x>     child of 2
 *  5 10:20 <5@x>  "Re: Meeting"   In-Reply-To <1@x>          child of 1
 *  6 10:25 <6@x>  "Re: Lost"      References <gone@x>        under dummy
 *  7 10:30 <7@x>  "Re: Lost"      References <gone@x>        under dummy
 *  8 10:35 <8@x>  "Lunch"                                    root
 *  9 10:40 <9@x>  "Re: Lunch"                                root
 * 10 10:45 <10@x> "Fwd: Meeting"                             root
 * 11 10:50 <2@x>  "dup"  (duplicate Message-ID: unique)      root
 * 12 10:55 <12@x> "self" References <12@x> (no self-link)    root
 * 13 11:00 <13@x> "loop a" References <14@x>                 child of 14
 * 14 11:05 <14@x> "loop b" References <13@x>  (would loop)   root
 * 15 11:10 (no Message-ID) "x" References <15a@x> <15b@x>    a chain of
 *          dummies 15a -> 15b -> 15: both pruned, 15 promoted to the root
 *
 * Step 4 prunes dummy <gone@x>? No: it is at the root with two children,
 * so it stays ((6)(7)); 15a/15b go (15a has one child at the root).
 * Step 5: "Meeting": 1 is in the table (not a reply); 10 is a reply and
 * 1 is not, so 10 becomes a child of 1. "Lunch": 3 is in the table; 8 is
 * no reply, so a dummy holds 3 and 8; 9 (a reply) then joins that dummy.
 * Step 6: siblings by date: 1's children 2, 5, 10; 2's child 4.
 *
 * Dovecot 2.3.19 (Debian's imap binary over a Maildir of these messages)
 * answers exactly this THREAD REFERENCES, the ORDEREDSUBJECT below and
 * SORT (SUBJECT) 11 13 14 6 7 3 8 9 1 2 4 5 10 12 15; so do the smaller
 * cases of test_references_rules() and test_orderedsubject().
 */
static const struct imap_thread_input refs_in[] = {
    {1, 1, "Meeting", T(10, 00), "<1@x>", NULL, NULL, 0},
    {2, 2, "Re: Meeting", T(10, 05), "<2@x>", "<1@x>", NULL, 0},
    {3, 3, "Lunch", T(10, 10), "<3@x>", NULL, NULL, 0},
    {4, 4, "Re: Meeting", T(10, 15), "<4@x>", "<1@x> <2@x>", "<2@x>", 0},
    {5, 5, "Re: Meeting", T(10, 20), "<5@x>", NULL, "<1@x>", 0},
    {6, 6, "Re: Lost", T(10, 25), "<6@x>", "<gone@x>", NULL, 0},
    {7, 7, "Re: Lost", T(10, 30), "<7@x>", "<gone@x>", NULL, 0},
    {8, 8, "Lunch", T(10, 35), "<8@x>", NULL, NULL, 0},
    {9, 9, "Re: Lunch", T(10, 40), "<9@x>", NULL, NULL, 0},
    {10, 10, "Fwd: Meeting", T(10, 45), "<10@x>", NULL, NULL, 0},
    {11, 11, "dup", T(10, 50), "<2@x>", NULL, NULL, 0},
    {12, 12, "self", T(10, 55), "<12@x>", "<12@x>", NULL, 0},
    {13, 13, "loop a", T(11, 00), "<13@x>", "<14@x>", NULL, 0},
    {14, 14, "loop b", T(11, 05), "<14@x>", "<13@x>", NULL, 0},
    {15, 15, "x", T(11, 10), NULL, "<15a@x> <15b@x>", NULL, 0},
};

static void test_references(void **state)
{
	size_t n = sizeof(refs_in) / sizeof(refs_in[0]);
	char *got = thread(IMAP_THREAD_REFERENCES, refs_in, n);
	assert_string_equal(got, "(1 (2 4)(5)(10))((3)(8)(9))((6)(7))(11)(12)(14 13)(15)");
	free(got);
	/* the input order matters where RFC 5256 is first-come: reversed,
	 * 14 is seen first, so the loop is cut the other way round (13 14),
	 * and 11 gets <2@x> (4's References then put it under 1) while 2 is
	 * the duplicate. Callers pass messages in sequence order. */
	struct imap_thread_input rev[15];
	for (size_t i = 0; i < n; i++)
		rev[i] = refs_in[n - 1 - i];
	got = thread(IMAP_THREAD_REFERENCES, rev, n);
	assert_string_equal(got, "(1 (2)(5)(10)(11 4))((3)(8)(9))((6)(7))(12)(13 14)(15)");
	free(got);
	got = thread(IMAP_THREAD_ORDEREDSUBJECT, refs_in, n);
	assert_string_equal(got, "(1 (2)(4)(5)(10))(3 (8)(9))(6 7)(11)(12)(13)(14)(15)");
	free(got);
}

static void test_references_rules(void **state)
{
	/* a chain: "(1 2 3)" */
	const struct imap_thread_input chain[] = {
	    {1, 1, "a", T(10, 00), "<1@x>", NULL, NULL, 0},
	    {2, 2, "Re: a", T(10, 01), "<2@x>", "<1@x>", NULL, 0},
	    {3, 3, "Re: a", T(10, 02), "<3@x>", "<1@x> <2@x>", NULL, 0},
	};
	check_thread(IMAP_THREAD_REFERENCES, chain, 3, "(1 2 3)");
	check_thread(IMAP_THREAD_ORDEREDSUBJECT, chain, 3, "(1 (2)(3))");

	/* siblings by sent date, ties by sequence number; the internal date
	 * stands in for a missing Date: */
	const struct imap_thread_input sib[] = {
	    {1, 1, "a", T(10, 00), "<1@x>", NULL, NULL, 0},
	    {2, 2, "Re: a", T(10, 09), "<2@x>", "<1@x>", NULL, 0},
	    {3, 3, "Re: a", NULL, "<3@x>", "<1@x>", NULL, 1704103260 /* 10:01 */},
	    {4, 4, "Re: a", T(10, 05), "<4@x>", "<1@x>", NULL, 0},
	    {5, 5, "Re: a", T(10, 05), "<5@x>", "<1@x>", NULL, 0},
	};
	check_thread(IMAP_THREAD_REFERENCES, sib, 5, "(1 (3)(4)(5)(2))");

	/* a dummy parent with two children in the middle of a thread is
	 * replaced by its children */
	const struct imap_thread_input mid[] = {
	    {1, 1, "a", T(10, 00), "<1@x>", NULL, NULL, 0},
	    {2, 2, "Re: a", T(10, 01), "<2@x>", "<1@x> <gone@x>", NULL, 0},
	    {3, 3, "Re: a", T(10, 02), "<3@x>", "<1@x> <gone@x>", NULL, 0},
	};
	check_thread(IMAP_THREAD_REFERENCES, mid, 3, "(1 (2)(3))");

	/* a later message fixes a truncated References: 3 first seemed a
	 * child of 1, then 4 says 1 -> 2 -> 3 */
	const struct imap_thread_input trunc[] = {
	    {1, 1, "a", T(10, 00), "<1@x>", NULL, NULL, 0},
	    {2, 2, "Re: a", T(10, 02), "<3@x>", "<1@x>", NULL, 0},
	    {3, 3, "Re: a", T(10, 01), "<2@x>", "<1@x>", NULL, 0},
	};
	check_thread(IMAP_THREAD_REFERENCES, trunc, 3, "(1 (3)(2))");

	/* subjects: two non-reply threads of one subject under a dummy,
	 * empty subjects never gathered */
	const struct imap_thread_input subj[] = {
	    {1, 1, "", T(10, 00), "<1@x>", NULL, NULL, 0},
	    {2, 2, "Re:", T(10, 01), "<2@x>", NULL, NULL, 0},
	    {3, 3, "Topic", T(10, 02), "<3@x>", NULL, NULL, 0},
	    {4, 4, "[list] topic", T(10, 03), "<4@x>", NULL, NULL, 0},
	    {5, 5, "Re: Re: TOPIC", T(10, 04), "<5@x>", NULL, NULL, 0},
	};
	check_thread(IMAP_THREAD_REFERENCES, subj, 5, "(1)(2)((3)(4)(5))");
	check_thread(IMAP_THREAD_ORDEREDSUBJECT, subj, 5, "(1 2)(3 (4)(5))");

	/* a reply found before its original: the original takes the table
	 * (5.B), the reply goes under it */
	const struct imap_thread_input reply_first[] = {
	    {1, 1, "Re: b", T(10, 00), "<1@x>", NULL, NULL, 0},
	    {2, 2, "b", T(10, 01), "<2@x>", NULL, NULL, 0},
	};
	check_thread(IMAP_THREAD_REFERENCES, reply_first, 2, "(2 1)");
	check_thread(IMAP_THREAD_ORDEREDSUBJECT, reply_first, 2, "(1 2)");

	/* two dummies with one subject: their children merge */
	const struct imap_thread_input dd[] = {
	    {1, 1, "Re: c", T(10, 00), "<1@x>", "<g1@x>", NULL, 0},
	    {2, 2, "Re: c", T(10, 01), "<2@x>", "<g1@x>", NULL, 0},
	    {3, 3, "Re: c", T(10, 02), "<3@x>", "<g2@x>", NULL, 0},
	    {4, 4, "Re: c", T(10, 03), "<4@x>", "<g2@x>", NULL, 0},
	};
	check_thread(IMAP_THREAD_REFERENCES, dd, 4, "((1)(2)(3)(4))");
	check_thread(IMAP_THREAD_ORDEREDSUBJECT, dd, 4, "(1 (2)(3)(4))");

	/* a dummy thread and a message of its subject: the message joins */
	const struct imap_thread_input dm[] = {
	    {1, 1, "Re: d", T(10, 00), "<1@x>", "<g@x>", NULL, 0},
	    {2, 2, "Re: d", T(10, 01), "<2@x>", "<g@x>", NULL, 0},
	    {3, 3, "d", T(10, 02), "<3@x>", NULL, NULL, 0},
	};
	check_thread(IMAP_THREAD_REFERENCES, dm, 3, "((1)(2)(3))");

	/* a longer loop: 1 -> 2 -> 3 -> 1 in References */
	const struct imap_thread_input loop[] = {
	    {1, 1, "l1", T(10, 00), "<1@x>", "<3@x> <2@x>", NULL, 0},
	    {2, 2, "l2", T(10, 01), "<2@x>", "<1@x> <3@x>", NULL, 0},
	    {3, 3, "l3", T(10, 02), "<3@x>", "<2@x> <1@x>", NULL, 0},
	};
	char *got = thread(IMAP_THREAD_REFERENCES, loop, 3);
	assert_string_equal(got, "(3 2 1)");
	free(got);

	check_thread(IMAP_THREAD_REFERENCES, NULL, 0, "");
}

static void test_orderedsubject(void **state)
{
	const struct imap_thread_input in[] = {
	    {1, 1, "Apple", T(10, 00), NULL, NULL, NULL, 0},
	    {2, 2, "Re: apple", T(09, 00), NULL, NULL, NULL, 0},
	    {3, 3, "Banana", T(08, 00), NULL, NULL, NULL, 0},
	    {4, 4, "[x] APPLE (fwd)", T(11, 00), NULL, NULL, NULL, 0},
	    {5, 5, "Cherry", T(12, 00), NULL, NULL, NULL, 0},
	    {6, 6, "Re: Banana", T(08, 30), NULL, NULL, NULL, 0},
	    {7, 7, NULL, T(07, 00), NULL, NULL, NULL, 0},
	};
	check_thread(IMAP_THREAD_ORDEREDSUBJECT, in, 7, "(7)(3 6)(2 (1)(4))(5)");
	/* without IDs REFERENCES gathers by subject: replies go under the
	 * original, whatever their dates */
	check_thread(IMAP_THREAD_REFERENCES, in, 7, "(7)(3 6)(1 (2)(4))(5)");
	/* UIDs shown instead of sequence numbers */
	struct imap_thread_input u[2] = {in[0], in[1]};
	u[0].num = 101;
	u[1].num = 102;
	check_thread(IMAP_THREAD_ORDEREDSUBJECT, u, 2, "(102 101)");
}

static void test_long_chain(void **state)
{
	size_t n = 20000;
	struct imap_thread_input *in = xcalloc(n, sizeof(*in));
	char **ids = xcalloc(n, sizeof(*ids));
	char **refs = xcalloc(n, sizeof(*refs));
	for (size_t i = 0; i < n; i++) {
		ids[i] = xasprintf("<%zu@x>", i);
		refs[i] = i > 0 ? xasprintf("<%zu@x>", i - 1) : NULL;
		in[i].num = in[i].seq = (uint32_t)(i + 1);
		in[i].subject = "chain";
		in[i].message_id = ids[i];
		in[i].in_reply_to = refs[i];
		in[i].internal_date = (int64_t)i;
	}
	char *got = thread(IMAP_THREAD_REFERENCES, in, n);
	assert_int_equal(strncmp(got, "(1 2 3 ", 7), 0);
	assert_string_equal(got + strlen(got) - 7, " 20000)");
	free(got);
	/* a binary tree: message i answers message i / 2 */
	for (size_t i = 1; i < n; i++) {
		free(refs[i]);
		refs[i] = xasprintf("<%zu@x>", (i - 1) / 2);
		in[i].references = refs[i];
		in[i].in_reply_to = NULL;
	}
	got = thread(IMAP_THREAD_REFERENCES, in, n);
	assert_int_equal(strncmp(got, "(1 (2 (4 (8 (16 ", 16), 0);
	size_t open = 0, close = 0;
	for (const char *p = got; *p != '\0'; p++) {
		open += *p == '(';
		close += *p == ')';
	}
	assert_int_equal(open, close);
	free(got);
	for (size_t i = 0; i < n; i++) {
		free(ids[i]);
		free(refs[i]);
	}
	free(ids);
	free(refs);
	free(in);
}

static int h_header(void *ctx, const char *name, struct buf *out)
{
	const struct imap_thread_input *m = ctx;
	const char *v = NULL;
	if (strcasecmp(name, "Subject") == 0)
		v = m->subject;
	else if (strcasecmp(name, "Date") == 0)
		v = m->date;
	else if (strcasecmp(name, "Message-ID") == 0)
		v = m->message_id;
	else if (strcasecmp(name, "References") == 0)
		v = m->references;
	else if (strcasecmp(name, "In-Reply-To") == 0)
		v = m->in_reply_to;
	if (v == NULL)
		return 0;
	buf_append_str(out, v);
	buf_append_c(out, '\0');
	return 1;
}

static int64_t h_internal(void *ctx)
{
	return ((const struct imap_thread_input *)ctx)->internal_date;
}

static int h_fail(void *ctx, const char *name, struct buf *out)
{
	return -1;
}

static void test_ops(void **state)
{
	size_t n = sizeof(refs_in) / sizeof(refs_in[0]);
	struct imap_search_msg msgs[15];
	struct imap_search_ops ops = {.header = h_header, .internal_date = h_internal};
	struct buf out = BUF_INIT;
	const char *error;
	enum imap_thread_algorithm alg;
	for (size_t i = 0; i < n; i++) {
		msgs[i].seq = refs_in[i].seq;
		msgs[i].uid = refs_in[i].seq + 100;
		msgs[i].flags = 0;
		msgs[i].ctx = (void *)&refs_in[i];
	}
	buf_append_str(&out, "* THREAD");
	assert_int_equal(imap_thread(IMAP_THREAD_REFERENCES, &ops, msgs, n, false, &out, &error),
	                 0);
	assert_string_equal(out.data, "* THREAD (1 (2 4)(5)(10))((3)(8)(9))((6)(7))(11)(12)(14 "
	                              "13)(15)");
	buf_reset(&out);
	assert_int_equal(imap_thread(IMAP_THREAD_ORDEREDSUBJECT, &ops, msgs, 3, true, &out, &error),
	                 0);
	assert_string_equal(out.data, " (101 102)(103)");
	buf_reset(&out);
	assert_int_equal(imap_thread(IMAP_THREAD_REFERENCES, &ops, msgs, 0, true, &out, &error), 0);
	assert_int_equal(out.len, 0);
	struct imap_sort_program sp = {{{IMAP_SORT_SUBJECT, false}}, 1};
	assert_int_equal(imap_sort(&sp, &ops, msgs, n, &error), 0);
	for (size_t i = 0; i < n; i++)
		buf_appendf(&out, "%s%u", i > 0 ? " " : "", msgs[i].seq);
	assert_string_equal(out.data, "11 13 14 6 7 3 8 9 1 2 4 5 10 12 15");
	buf_reset(&out);
	ops.header = h_fail;
	assert_int_equal(imap_thread(IMAP_THREAD_REFERENCES, &ops, msgs, 2, true, &out, &error),
	                 -1);
	assert_string_equal(error, "Failed to read message header");
	buf_free(&out);

	struct imap_arg arg = {.type = IMAP_ARG_ATOM, .str = "references", .len = 10};
	assert_int_equal(imap_thread_parse_algorithm(&arg, &alg, &error), 0);
	assert_int_equal(alg, IMAP_THREAD_REFERENCES);
	arg.str = "OrderedSubject";
	arg.len = 14;
	assert_int_equal(imap_thread_parse_algorithm(&arg, &alg, &error), 0);
	assert_int_equal(alg, IMAP_THREAD_ORDEREDSUBJECT);
	arg.str = "REFS";
	arg.len = 4;
	assert_int_equal(imap_thread_parse_algorithm(&arg, &alg, &error), -1);
	assert_string_equal(error, "Unknown thread algorithm");
	const char *h[5];
	unsigned int nh;
	imap_thread_needs(IMAP_THREAD_REFERENCES, h, &nh);
	assert_int_equal(nh, 5);
	imap_thread_needs(IMAP_THREAD_ORDEREDSUBJECT, h, &nh);
	assert_int_equal(nh, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_msgid),
	    cmocka_unit_test(test_references),
	    cmocka_unit_test(test_references_rules),
	    cmocka_unit_test(test_orderedsubject),
	    cmocka_unit_test(test_long_chain),
	    cmocka_unit_test(test_ops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
