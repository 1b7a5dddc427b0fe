/*
 * smtp-reply.c - parser for SMTP server replies (see smtp-client.h).
 *
 * A reply is one or more lines "DDD-text" ending with "DDD text" or
 * "DDD" (RFC 5321 section 4.2.1); every line carries the same code. The
 * first digit is 2 to 5, the second 0 to 5. Lines end in CRLF; a bare LF
 * is taken too (as Postfix's client does), a CR before it is dropped.
 * Bytes below 0x20 other than TAB, and DEL, are kept as '?' in the text
 * so nothing a server sends can forge a log line or a header.
 */
#include "smtp/smtp-client.h"
#include "core/xalloc.h"

#include <string.h>

void smtp_reply_parser_init(struct smtp_reply_parser *p, const struct smtp_reply_limits *limits)
{
	memset(p, 0, sizeof(*p));
	if (limits != NULL)
		p->limits = *limits;
	if (p->limits.max_line == 0)
		p->limits.max_line = SMTP_REPLY_MAX_LINE;
	if (p->limits.max_lines == 0)
		p->limits.max_lines = SMTP_REPLY_MAX_LINES;
}

void smtp_reply_parser_deinit(struct smtp_reply_parser *p)
{
	buf_free(&p->reply.text);
	buf_free(&p->line);
}

static const char *error_text(enum smtp_reply_error e)
{
	switch (e) {
	case SMTP_REPLY_ERR_NONE:
		break;
	case SMTP_REPLY_ERR_SYNTAX:
		return "malformed reply";
	case SMTP_REPLY_ERR_TOO_LONG:
		return "reply line too long";
	case SMTP_REPLY_ERR_TOO_MANY:
		return "too many reply lines";
	}
	return "error";
}

size_t smtp_enhanced_parse(const char *s, size_t len)
{
	size_t i = 0;
	if (len < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t start = i;
		while (i < len && i - start < 4 && s[i] >= '0' && s[i] <= '9')
			i++;
		size_t nd = i - start;
		if (nd < 1 || nd > 3)
			return 0;
		if (part == 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < len && s[i] != ' ')
		return 0;
	return i;
}

static bool is_digit(char c, char lo, char hi)
{
	return c >= lo && c <= hi;
}

/* line_done: one complete line (no line end) in p->line. 1 the reply is
 * complete, 0 more lines follow, -1 error. */
static int line_done(struct smtp_reply_parser *p)
{
	const char *l = p->line.data ? p->line.data : "";
	size_t n = p->line.len;
	if (n < 3 || !is_digit(l[0], '2', '5') || !is_digit(l[1], '0', '5') ||
	    !is_digit(l[2], '0', '9'))
		return -1;
	bool last;
	if (n == 3)
		last = true;
	else if (l[3] == ' ')
		last = true;
	else if (l[3] == '-')
		last = false;
	else
		return -1;
	unsigned code =
	    (unsigned)(l[0] - '0') * 100 + (unsigned)(l[1] - '0') * 10 + (unsigned)(l[2] - '0');
	struct smtp_reply *r = &p->reply;
	if (r->nlines > 0 && r->code != code)
		return -1;
	if (r->nlines >= p->limits.max_lines) {
		p->error = SMTP_REPLY_ERR_TOO_MANY;
		return -1;
	}
	const char *t = n > 4 ? l + 4 : "";
	size_t tn = n > 4 ? n - 4 : 0;
	if (r->nlines == 0) {
		r->code = code;
		size_t en = smtp_enhanced_parse(t, tn);
		if (en > 0 && en < sizeof(r->enhanced) && t[0] == l[0]) {
			memcpy(r->enhanced, t, en);
			r->enhanced[en] = '\0';
		}
	} else {
		buf_append_c(&r->text, '\n');
	}
	buf_reserve(&r->text, tn);
	for (size_t i = 0; i < tn; i++) {
		unsigned char c = (unsigned char)t[i];
		buf_append_c(&r->text, (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c);
	}
	r->nlines++;
	return last ? 1 : 0;
}

int smtp_reply_parse(struct smtp_reply_parser *p, const char *data, size_t len, size_t *used_r,
                     const char **error_r)
{
	*used_r = 0;
	if (p->error != SMTP_REPLY_ERR_NONE) {
		*error_r = error_text(p->error);
		return -1;
	}
	if (p->complete) {
		p->complete = false;
		p->reply.code = 0;
		p->reply.enhanced[0] = '\0';
		p->reply.nlines = 0;
		buf_reset(&p->reply.text);
	}
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t take = nl != NULL ? (size_t)(nl - (data + i)) : len - i;
		/* a CR may wait for its LF: one byte more than the limit */
		if (p->line.len + take > p->limits.max_line + 1) {
			p->error = SMTP_REPLY_ERR_TOO_LONG;
			*error_r = error_text(p->error);
			return -1;
		}
		buf_append(&p->line, data + i, take);
		i += take;
		if (nl == NULL)
			break;
		i++; /* the LF */
		if (p->line.len > 0 && p->line.data[p->line.len - 1] == '\r')
			buf_truncate(&p->line, p->line.len - 1);
		if (p->line.len > p->limits.max_line) {
			p->error = SMTP_REPLY_ERR_TOO_LONG;
			*error_r = error_text(p->error);
			return -1;
		}
		int r = line_done(p);
		buf_reset(&p->line);
		if (r < 0) {
			if (p->error == SMTP_REPLY_ERR_NONE)
				p->error = SMTP_REPLY_ERR_SYNTAX;
			*error_r = error_text(p->error);
			return -1;
		}
		if (r == 1) {
			p->complete = true;
			*used_r = i;
			return 1;
		}
	}
	*used_r = len;
	return 0;
}

void smtp_reply_one_line(const struct smtp_reply *r, struct buf *out, size_t max)
{
	size_t start = out->len;
	buf_appendf(out, "%03u", r->code);
	const char *t = buf_cstr(&r->text);
	if (r->text.len > 0)
		buf_append_c(out, ' ');
	for (size_t i = 0; i < r->text.len && out->len - start < max; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c == '\n' || c == '\t')
			buf_append_c(out, ' ');
		else
			buf_append_c(out, c >= 0x20 && c < 0x7f ? (char)c : '?');
	}
	if (out->len - start > max)
		buf_truncate(out, start + max);
}
