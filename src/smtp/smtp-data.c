/*
 * smtp-data.c - the DATA scanner: dot-unstuffing, CRLF to LF, and the
 * end of the data (see smtp_data_scan() in smtp-private.h).
 */
#include "smtp/smtp-private.h"

/*
 * DATA scanner states. Only <CRLF>.<CRLF> ends the data (RFC 5321
 * 4.1.1.4): a line that began after a bare LF can never end it, so a
 * second message cannot be smuggled behind <LF>.<CRLF> or <CRLF>.<LF>
 * (Postfix's smtpd_forbid_bare_newline = normalize). Bare LF still ends a
 * line of content.
 */
enum { D_LINE_START, D_MID, D_CR, D_DOT, D_DOT_CR, D_LINE_START_LF };

/* data_scan: unstuff and convert [p, p+n) into out; returns bytes used,
 * *end_r true when the terminating "." line was seen. */
size_t smtp_data_scan(int *state, const unsigned char *p, size_t n, struct buf *out, bool *end_r)
{
	int st = *state;
	size_t i = 0;
	*end_r = false;
	for (; i < n; i++) {
		unsigned char ch = p[i];
		switch (st) {
		case D_LINE_START:
			if (ch == '.') {
				st = D_DOT;
				continue;
			}
			goto mid;
		case D_LINE_START_LF:
		case D_MID:
		mid:
			if (ch == '\r') {
				st = D_CR;
			} else if (ch == '\n') {
				buf_append_c(out, '\n');
				st = D_LINE_START_LF; /* bare LF: a line end, never before the end */
			} else {
				/* copy the run up to the next CR or LF in one go */
				size_t j = i + 1;
				while (j < n && p[j] != '\r' && p[j] != '\n')
					j++;
				buf_append(out, p + i, j - i);
				i = j - 1;
				st = D_MID;
			}
			break;
		case D_CR:
			if (ch == '\n') {
				buf_append_c(out, '\n');
				st = D_LINE_START;
			} else {
				buf_append_c(out, '\r');
				goto mid;
			}
			break;
		case D_DOT:
			if (ch == '\r') {
				st = D_DOT_CR;
			} else if (ch == '\n') {
				/* "." and a bare LF: content, not the end */
				buf_append(out, ".\n", 2);
				st = D_LINE_START_LF;
			} else {
				goto mid; /* the stuffed dot is dropped */
			}
			break;
		case D_DOT_CR:
			if (ch == '\n') {
				*end_r = true;
				*state = D_LINE_START;
				return i + 1;
			}
			buf_append_c(out, '\r');
			goto mid;
		}
	}
	*state = st;
	return i;
}
