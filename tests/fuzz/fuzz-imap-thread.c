/*
 * fuzz-imap-thread.c - libFuzzer target for THREAD and SORT's helpers
 * (imap/imap-thread.h, imap/imap-sort.h, mail/date.h).
 *
 * Input: lines; every five lines are one message: Subject, Date,
 * Message-ID, References, In-Reply-To (an empty line: the field is
 * missing). Both algorithms run; the thread list must be balanced and
 * name every message exactly once. Each line also goes through the base
 * subject algorithm, the first-mailbox scanner and the date parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "imap/imap-sort.h"
#include "imap/imap-thread.h"
#include "mail/date.h"

#define MAX_MSGS 64

static void check(int cond)
{
	if (!cond)
		abort();
}

static void verify(const struct buf *out, size_t n)
{
	unsigned char seen[MAX_MSGS + 1];
	int depth = 0;
	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < out->len; i++) {
		char c = out->data[i];
		if (c == '(') {
			depth++;
		} else if (c == ')') {
			depth--;
			check(depth >= 0);
		} else if (c >= '0' && c <= '9') {
			unsigned int v = 0;
			while (i < out->len && out->data[i] >= '0' && out->data[i] <= '9')
				v = v * 10 + (unsigned int)(out->data[i++] - '0');
			i--;
			check(v >= 1 && v <= n && !seen[v]);
			seen[v] = 1;
		} else {
			check(c == ' ');
		}
	}
	check(depth == 0);
	for (size_t v = 1; v <= n; v++)
		check(seen[v]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xstrndup((const char *)data, size); /* stops at a NUL */
	char *lines[MAX_MSGS * 5];
	size_t nlines = 0;
	char *p = text;
	while (nlines < MAX_MSGS * 5) {
		lines[nlines++] = p;
		char *e = strchr(p, '\n');
		if (e == NULL)
			break;
		*e = '\0';
		p = e + 1;
	}
	struct buf tmp = BUF_INIT;
	for (size_t i = 0; i < nlines; i++) {
		size_t len = strlen(lines[i]);
		int64_t t;
		int off;
		buf_reset(&tmp);
		(void)imap_sort_base_subject(lines[i], len, &tmp);
		struct buf d = BUF_INIT, l = BUF_INIT, dom = BUF_INIT;
		(void)imap_sort_first_mailbox(lines[i], len, &d, &l, &dom);
		buf_free(&d);
		buf_free(&l);
		buf_free(&dom);
		if (mail_date_parse(lines[i], len, &t, &off) == 0)
			check(off > -6000 && off < 6000);
	}
	size_t n = nlines / 5;
	struct imap_thread_input in[MAX_MSGS];
	for (size_t i = 0; i < n; i++) {
		char **f = &lines[i * 5];
		in[i].num = in[i].seq = (uint32_t)(i + 1);
		in[i].subject = f[0][0] != '\0' ? f[0] : NULL;
		in[i].date = f[1][0] != '\0' ? f[1] : NULL;
		in[i].message_id = f[2][0] != '\0' ? f[2] : NULL;
		in[i].references = f[3][0] != '\0' ? f[3] : NULL;
		in[i].in_reply_to = f[4][0] != '\0' ? f[4] : NULL;
		in[i].internal_date = (int64_t)(i * 37 % 11);
	}
	buf_reset(&tmp);
	imap_thread_build(IMAP_THREAD_REFERENCES, in, n, &tmp);
	verify(&tmp, n);
	buf_reset(&tmp);
	imap_thread_build(IMAP_THREAD_ORDEREDSUBJECT, in, n, &tmp);
	verify(&tmp, n);
	buf_free(&tmp);
	free(text);
	return 0;
}
