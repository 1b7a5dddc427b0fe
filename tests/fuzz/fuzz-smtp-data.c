/*
 * fuzz-smtp-data - the DATA scanner (smtp_data_scan).
 *
 * Input: one byte choosing a split point, then DATA bytes. The output and
 * the end position must be the same whether the bytes come in one piece
 * or two (the scanner streams), the end is only ever after "\r\n.\r\n"
 * (or ".\r\n" at the very start), and the output is never longer than the
 * input used (unstuffing and CRLF -> LF only shrink it; a dot line
 * after a bare LF is kept as it is).
 */
#include "smtp/smtp-private.h"

#include <stdlib.h>
#include <string.h>

static size_t scan_all(const unsigned char *p, size_t n, size_t split, struct buf *out, bool *end)
{
	int st = SMTP_DATA_START;
	size_t used = smtp_data_scan(&st, p, split, out, end);
	if (*end)
		return used;
	return split + smtp_data_scan(&st, p + split, n - split, out, end);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size < 1)
		return 0;
	const unsigned char *p = data + 1;
	size_t n = size - 1;
	size_t split = n ? data[0] % (n + 1) : 0;
	struct buf a = BUF_INIT, b = BUF_INIT;
	bool end_a = false, end_b = false;
	int st = SMTP_DATA_START;
	size_t used_a = smtp_data_scan(&st, p, n, &a, &end_a);
	size_t used_b = scan_all(p, n, split, &b, &end_b);
	if (end_a != end_b || used_a != used_b || a.len != b.len ||
	    (a.len && memcmp(a.data, b.data, a.len) != 0))
		abort();
	if (end_a) {
		/* the end is a dot line that followed a CRLF (or the start) */
		if (used_a < 3 || memcmp(p + used_a - 3, ".\r\n", 3) != 0)
			abort();
		if (used_a > 3 && (used_a < 5 || memcmp(p + used_a - 5, "\r\n", 2) != 0))
			abort();
	}
	if (a.len > used_a)
		abort();
	buf_free(&a);
	buf_free(&b);
	return 0;
}
