/*
 * header.c - RFC 5322 header pull parser (see header.h).
 *
 * The parser works one physical line at a time on the bytes it holds.
 * A field is complete only when the first byte of the next line is known
 * not to be white space (no continuation follows), so the decision never
 * depends on where a chunk ended: a partial line is looked at only for
 * that first byte and for the line-length limit, both of which a longer
 * chunk would decide the same way.
 */
#include "mail/header.h"

#include <string.h>

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* ftext of RFC 5322 section 3.6.8: printable ASCII except ':'. */
static bool is_ftext(char c)
{
	unsigned char u = (unsigned char)c;
	return u >= 33 && u <= 126 && u != ':';
}

void header_parser_init(struct header_parser *p, const struct header_limits *limits)
{
	memset(p, 0, sizeof(*p));
	if (limits != NULL)
		p->limits = *limits;
	if (p->limits.max_line == 0)
		p->limits.max_line = HEADER_LINE_MAX_DEFAULT;
	if (p->limits.max_field == 0)
		p->limits.max_field = HEADER_FIELD_MAX_DEFAULT;
	if (p->limits.max_fields == 0)
		p->limits.max_fields = HEADER_FIELDS_MAX_DEFAULT;
}

void header_parser_deinit(struct header_parser *p)
{
	buf_free(&p->in);
	buf_free(&p->name);
	buf_free(&p->value);
	buf_free(&p->raw);
	memset(p, 0, sizeof(*p));
}

void header_parser_feed(struct header_parser *p, const void *data, size_t len)
{
	if (p->pos > 0 && !p->ended) {
		/* drop consumed bytes: what is left is at most a partial line */
		buf_consume(&p->in, p->pos);
		p->in_offset += p->pos;
		p->pos = 0;
	}
	buf_append(&p->in, data, len);
}

void header_parser_finish(struct header_parser *p)
{
	p->eof = true;
}

enum header_error header_parser_error(const struct header_parser *p)
{
	return p->error;
}

static const char *error_text(enum header_error err)
{
	switch (err) {
	case HEADER_OK:
		break;
	case HEADER_ERR_LINE_TOO_LONG:
		return "header line too long";
	case HEADER_ERR_FIELD_TOO_LARGE:
		return "header field too large";
	case HEADER_ERR_TOO_MANY_FIELDS:
		return "too many header fields";
	}
	return "header parse error";
}

static int fail(struct header_parser *p, enum header_error err, const char **error_r)
{
	p->error = err;
	*error_r = error_text(err);
	return -1;
}

static int emit_field(struct header_parser *p, struct header_field *f)
{
	memset(f, 0, sizeof(*f));
	f->name = buf_cstr(&p->name);
	f->name_len = p->name.len;
	f->value = buf_cstr(&p->value);
	f->value_len = p->value.len;
	f->raw = buf_cstr(&p->raw);
	f->raw_len = p->raw.len;
	f->offset = p->field_offset;
	f->obs_space = p->obs_space;
	p->field_emitted = true;
	return 1;
}

static int emit_end(struct header_parser *p, struct header_field *f)
{
	memset(f, 0, sizeof(*f));
	f->eoh = true;
	f->body_offset = p->body_offset;
	f->no_blank_line = p->no_blank_line;
	return 1;
}

static int end_header(struct header_parser *p, struct header_field *f, uint64_t body_offset,
                      bool no_blank_line)
{
	p->ended = true;
	p->body_offset = body_offset;
	p->no_blank_line = no_blank_line;
	return emit_end(p, f);
}

/* append_value: add unfolded text, the value's leading white space dropped. */
static void append_value(struct header_parser *p, const char *s, size_t n)
{
	if (p->value.len == 0) {
		while (n > 0 && is_wsp(*s)) {
			s++;
			n--;
		}
	}
	buf_append(&p->value, s, n);
}

int header_parser_next(struct header_parser *p, struct header_field *f, const char **error_r)
{
	if (p->error != HEADER_OK)
		return fail(p, p->error, error_r);
	if (p->field_emitted) {
		buf_reset(&p->name);
		buf_reset(&p->value);
		buf_reset(&p->raw);
		p->field_open = false;
		p->field_emitted = false;
	}
	if (p->ended)
		return emit_end(p, f);

	for (;;) {
		const char *line = buf_cstr(&p->in) + p->pos;
		size_t avail = p->in.len - p->pos;
		const char *lf = avail > 0 ? memchr(line, '\n', avail) : NULL;
		size_t line_len, content_len;

		if (lf == NULL && !p->eof) {
			/* A partial line: enough to end the open field, or to
			 * know that the line is too long - nothing else. */
			if (avail > 0 && p->field_open && !is_wsp(line[0]))
				return emit_field(p, f);
			content_len = avail;
			if (content_len > 0 && line[content_len - 1] == '\r')
				content_len--;
			if (content_len > p->limits.max_line)
				return fail(p, HEADER_ERR_LINE_TOO_LONG, error_r);
			return 0;
		}
		if (lf == NULL && avail == 0) {
			/* end of input right after a complete line */
			if (p->field_open)
				return emit_field(p, f);
			return end_header(p, f, p->in_offset + p->pos, true);
		}
		if (lf != NULL) {
			line_len = (size_t)(lf - line) + 1;
			content_len = line_len - 1;
		} else {
			line_len = content_len = avail; /* last line, no line end */
		}
		if (content_len > 0 && line[content_len - 1] == '\r')
			content_len--;

		bool continuation = content_len > 0 && is_wsp(line[0]);
		if (p->field_open && !continuation)
			return emit_field(p, f);
		if (content_len > p->limits.max_line)
			return fail(p, HEADER_ERR_LINE_TOO_LONG, error_r);

		if (content_len == 0) {
			p->pos += line_len;
			return end_header(p, f, p->in_offset + p->pos, false);
		}
		if (continuation) {
			if (!p->field_open)
				return end_header(p, f, p->in_offset + p->pos, true);
			buf_append(&p->raw, line, line_len);
			append_value(p, line, content_len);
			if (p->value.len > p->limits.max_field)
				return fail(p, HEADER_ERR_FIELD_TOO_LARGE, error_r);
			p->pos += line_len;
			continue;
		}

		/* a new field: name, optional white space (obs), colon */
		size_t n = 0, colon;
		while (n < content_len && is_ftext(line[n]))
			n++;
		colon = n;
		while (colon < content_len && is_wsp(line[colon]))
			colon++;
		if (n == 0 || colon >= content_len || line[colon] != ':')
			return end_header(p, f, p->in_offset + p->pos, true);
		if (p->nfields >= p->limits.max_fields)
			return fail(p, HEADER_ERR_TOO_MANY_FIELDS, error_r);
		p->nfields++;
		buf_append(&p->name, line, n);
		buf_append(&p->raw, line, line_len);
		append_value(p, line + colon + 1, content_len - colon - 1);
		p->obs_space = colon > n;
		p->field_offset = p->in_offset + p->pos;
		p->field_open = true;
		p->pos += line_len;
		if (p->value.len > p->limits.max_field)
			return fail(p, HEADER_ERR_FIELD_TOO_LARGE, error_r);
	}
}

void header_parser_body(const struct header_parser *p, const char **data_r, size_t *len_r)
{
	if (!p->ended || p->body_offset < p->in_offset ||
	    p->body_offset - p->in_offset > p->in.len) {
		*data_r = "";
		*len_r = 0;
		return;
	}
	size_t skip = (size_t)(p->body_offset - p->in_offset);
	*data_r = buf_cstr(&p->in) + skip; /* "" when nothing was ever fed */
	*len_r = p->in.len - skip;
}
