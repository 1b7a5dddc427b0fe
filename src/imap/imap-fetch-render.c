/*
 * imap-fetch-render.c - BODY / BODYSTRUCTURE, BODY[section], BINARY and
 * the IMAP string helpers (see imap-fetch.h).
 *
 * The structure (which parts exist, their offsets and line counts) comes
 * from the mime_parse() tree; the Content-* strings are read again from
 * the part's header bytes, because BODYSTRUCTURE shows them as sent
 * (case kept, RFC 2231 sections joined but not decoded), as Dovecot does.
 * A part whose header says multipart but that the parser made a leaf (no
 * usable boundary) shows as a multipart with one empty text/plain part;
 * a message/rfc822 in base64 / quoted-printable as one with an empty
 * envelope and body - both as Dovecot 2.3 shows them.
 */
#include "imap/imap-fetch.h"

#include "core/xalloc.h"
#include "mail/decode.h"
#include "imap/imap-fetch-private.h"
#include "mail/mime.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- strings ---- */

void imap_append_literal(struct buf *out, const char *s, size_t n, bool binary)
{
	buf_appendf(out, "%s{%zu}\r\n", binary ? "~" : "", n);
	buf_append(out, s, n);
}

static bool printable(const char *s, size_t n, bool strict)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f)
			return false;
		if (strict && (c == '"' || c == '\\'))
			return false;
	}
	return true;
}

void imap_append_string(struct buf *out, const char *s, size_t n)
{
	if (!printable(s, n, false)) {
		imap_append_literal(out, s, n, false);
		return;
	}
	buf_append_c(out, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_append_c(out, '\\');
		buf_append_c(out, s[i]);
	}
	buf_append_c(out, '"');
}

void imap_append_nstring(struct buf *out, const char *s, size_t n)
{
	if (s == NULL)
		buf_append_str(out, "NIL");
	else
		imap_append_string(out, s, n);
}

void imap_append_nstring_strict(struct buf *out, const char *s, size_t n)
{
	if (s == NULL) {
		buf_append_str(out, "NIL");
	} else if (!printable(s, n, true)) {
		imap_append_literal(out, s, n, false);
	} else {
		buf_append_c(out, '"');
		buf_append(out, s, n);
		buf_append_c(out, '"');
	}
}

/* ---- CRLF view of the stored bytes ---- */

static void clamp(size_t len, uint64_t *start, uint64_t *end)
{
	if (*end > len)
		*end = len;
	if (*start > *end)
		*start = *end;
}

uint64_t imap_fetch_crlf_size(const char *msg, size_t len, uint64_t start, uint64_t end)
{
	clamp(len, &start, &end);
	uint64_t size = end - start;
	for (uint64_t p = start; p < end; p++)
		if (msg[p] == '\n' && (p == start || msg[p - 1] != '\r'))
			size++;
	return size;
}

static void append_crlf(struct buf *out, const char *msg, size_t len, uint64_t start, uint64_t end)
{
	clamp(len, &start, &end);
	uint64_t from = start;
	for (uint64_t p = start; p < end; p++) {
		if (msg[p] == '\n' && (p == start || msg[p - 1] != '\r')) {
			buf_append(out, msg + from, (size_t)(p - from));
			buf_append_str(out, "\r\n");
			from = p + 1;
		}
	}
	buf_append(out, msg + from, (size_t)(end - from));
}

/* ---- part extents ---- */

/* a message/rfc822 in base64 / quoted-printable: a leaf in the tree */
static bool encoded_message(const struct mime_part *part)
{
	return (part->flags & MIME_PART_ENCODED_MESSAGE) != 0 && part->children == NULL;
}

static uint64_t line_end_after(const char *msg, size_t len, uint64_t end)
{
	if (end < len && msg[end] == '\n')
		return end + 1;
	if (end + 1 < len && msg[end] == '\r' && msg[end + 1] == '\n')
		return end + 2;
	return end;
}

/* where BODY[n] of part ends: a multipart inside a multipart keeps the
 * line end after its close delimiter, and an encoded message/rfc822 the
 * line end before the next boundary (Dovecot's extents; RFC 2046 gives
 * that line end to the boundary, as the tree does) */
static uint64_t container_end(const struct mime_part *part, const char *msg, size_t len)
{
	uint64_t end = part->body_end;
	if (encoded_message(part) && part->parent != NULL &&
	    (part->parent->flags & MIME_PART_MULTIPART) != 0)
		return line_end_after(msg, len, end);
	if ((part->flags & MIME_PART_MULTIPART) == 0 || part->parent == NULL ||
	    (part->parent->flags & MIME_PART_MULTIPART) == 0 || end >= len || end > part->body_end)
		return end;
	/* only when the part ends with its own close delimiter line (no
	 * epilogue) */
	const char *boundary = mime_param_get(&part->params, "boundary");
	if (boundary == NULL)
		return end;
	uint64_t line = end;
	while (line > part->body_offset && msg[line - 1] != '\n')
		line--;
	size_t blen = strlen(boundary);
	if (end - line < blen + 4 || memcmp(msg + line, "--", 2) != 0 ||
	    memcmp(msg + line + 2, boundary, blen) != 0 ||
	    memcmp(msg + line + 2 + blen, "--", 2) != 0)
		return end;
	return line_end_after(msg, len, end);
}

/* LFs in the body up to its extent (Dovecot's line count: a last line
 * without LF is not counted), from the tree's counts */
static uint64_t body_lf_lines(const struct mime_part *part, const char *msg, size_t len)
{
	uint64_t start = part->body_offset, end = part->body_end;
	clamp(len, &start, &end);
	uint64_t lines = part->body_lines;
	if (end > start && msg[end - 1] != '\n' && lines > 0)
		lines--;
	if (container_end(part, msg, len) > end)
		lines++;
	return lines;
}

/* the body's size with CRLF line ends, up to its extent */
static uint64_t body_size(const struct mime_part *part, const char *msg, size_t len)
{
	uint64_t start = part->body_offset, end = part->body_end;
	clamp(len, &start, &end);
	if (end != part->body_end || start != part->body_offset)
		return imap_fetch_crlf_size(msg, len, start, container_end(part, msg, len));
	uint64_t size = end - start + part->body_bare_lf;
	uint64_t ext = container_end(part, msg, len);
	if (ext > end)
		size += imap_fetch_crlf_size(msg, len, end, ext);
	return size;
}

/* ---- the part's header fields ---- */

struct hfield {
	size_t start, end;  /* raw field, line end of its last line included */
	size_t name_len;    /* name without trailing white space */
	size_t value_start; /* after ':' */
};

static bool next_field(const char *msg, size_t hend, size_t *pos, struct hfield *f)
{
	size_t p = *pos;
	if (p >= hend || msg[p] == '\n' || (msg[p] == '\r' && p + 1 < hend && msg[p + 1] == '\n'))
		return false;
	f->start = p;
	const char *colon = memchr(msg + p, ':', hend - p);
	const char *lf = memchr(msg + p, '\n', hend - p);
	size_t name_end = colon != NULL && (lf == NULL || colon < lf) ? (size_t)(colon - msg) : p;
	f->value_start = name_end < hend && msg[name_end] == ':' ? name_end + 1 : name_end;
	while (name_end > p && (msg[name_end - 1] == ' ' || msg[name_end - 1] == '\t'))
		name_end--;
	f->name_len = name_end - p;
	/* the field runs over its continuation lines */
	for (;;) {
		lf = memchr(msg + p, '\n', hend - p);
		if (lf == NULL) {
			p = hend;
			break;
		}
		p = (size_t)(lf - msg) + 1;
		if (p >= hend || (msg[p] != ' ' && msg[p] != '\t'))
			break;
	}
	f->end = p;
	*pos = p;
	return true;
}

bool imap_fetch_header_field(const struct mime_part *part, const char *msg, size_t len,
                             const char *name, bool raw, struct buf *value)
{
	size_t pos = 0;
	return imap_fetch_header_next(part, msg, len, name, &pos, raw, value);
}

bool imap_fetch_header_next(const struct mime_part *part, const char *msg, size_t len,
                            const char *name, size_t *pos_r, bool raw, struct buf *value)
{
	uint64_t hs = part->header_offset, he = part->body_offset;
	clamp(len, &hs, &he);
	size_t pos = *pos_r > hs ? *pos_r : (size_t)hs;
	struct hfield f;
	while (next_field(msg, (size_t)he, &pos, &f)) {
		if (f.name_len != strlen(name) || strncasecmp(msg + f.start, name, f.name_len) != 0)
			continue;
		size_t v = f.value_start;
		while (v < f.end &&
		       (msg[v] == ' ' || msg[v] == '\t' || msg[v] == '\r' || msg[v] == '\n'))
			v++;
		size_t e = f.end;
		if (e > v && msg[e - 1] == '\n')
			e--;
		if (e > v && msg[e - 1] == '\r')
			e--;
		for (size_t i = v; i < e; i++)
			if (raw || (msg[i] != '\r' && msg[i] != '\n'))
				buf_append_c(value, msg[i]);
		*pos_r = pos;
		return true;
	}
	*pos_r = pos;
	return false;
}

/* ---- Content-* values as Dovecot shows them ---- */

struct cparam {
	char *name, *value;
	char *base;         /* RFC 2231: name before '*' */
	unsigned int index; /* section number */
	bool star, extended;
};

struct ctype {
	struct buf type, subtype;
	struct cparam *params;
	unsigned int nparams;
	bool present, valid;
};

static bool is_tspecial(unsigned char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static bool is_token(unsigned char c)
{
	return c > ' ' && c != 127 && !is_tspecial(c);
}

static void cfws(const char *s, size_t n, size_t *i)
{
	while (*i < n) {
		if (s[*i] == ' ' || s[*i] == '\t') {
			(*i)++;
		} else if (s[*i] == '(') {
			unsigned int depth = 0;
			while (*i < n) {
				char c = s[(*i)++];
				if (c == '\\' && *i < n)
					(*i)++;
				else if (c == '(')
					depth++;
				else if (c == ')' && --depth == 0)
					break;
			}
		} else {
			break;
		}
	}
}

static size_t token_len(const char *s, size_t n, size_t i)
{
	size_t j = i;
	while (j < n && is_token((unsigned char)s[j]))
		j++;
	return j - i;
}

static void params_free(struct cparam *p, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].value);
		free(p[i].base);
	}
	free(p);
}

static void parse_params(const char *s, size_t n, size_t i, struct cparam **list_r,
                         unsigned int *count_r)
{
	struct cparam *list = NULL;
	unsigned int count = 0;
	for (;;) {
		cfws(s, n, &i);
		if (i >= n || s[i] != ';')
			break;
		i++;
		cfws(s, n, &i);
		size_t kl = token_len(s, n, i);
		if (kl == 0)
			break;
		size_t k = i;
		i += kl;
		cfws(s, n, &i);
		if (i >= n || s[i] != '=')
			break;
		i++;
		cfws(s, n, &i);
		struct buf v = BUF_INIT;
		if (i < n && s[i] == '"') {
			i++;
			while (i < n && s[i] != '"') {
				if (s[i] == '\\' && i + 1 < n)
					i++;
				buf_append_c(&v, s[i++]);
			}
			if (i < n)
				i++;
		} else {
			size_t vl = token_len(s, n, i);
			buf_append(&v, s + i, vl);
			i += vl;
		}
		if (count >= MIME_PARAMS_MAX) {
			buf_free(&v);
			continue;
		}
		list = xreallocarray(list, count + 1, sizeof(*list));
		struct cparam *p = &list[count++];
		memset(p, 0, sizeof(*p));
		p->name = xstrndup(s + k, kl);
		p->value = v.data != NULL ? buf_steal(&v) : xstrdup("");
		const char *star = memchr(p->name, '*', kl);
		if (star != NULL) {
			p->star = true;
			p->base = xstrndup(p->name, (size_t)(star - p->name));
			const char *q = star + 1;
			if (*q >= '0' && *q <= '9') {
				unsigned long idx = strtoul(q, NULL, 10);
				p->index = idx > 10000 ? 10000 : (unsigned int)idx;
				while (*q >= '0' && *q <= '9')
					q++;
				p->extended = *q == '*';
			} else {
				p->extended = true;
			}
		}
	}
	*list_r = list;
	*count_r = count;
}

static int star_cmp(const void *a, const void *b)
{
	const struct cparam *x = *(const struct cparam *const *)a;
	const struct cparam *y = *(const struct cparam *const *)b;
	int r = strcasecmp(x->base, y->base);
	if (r != 0)
		return r;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return 0;
}

/* the parameter list: plain ones in order, then RFC 2231 ones joined */
static void append_params(struct buf *out, struct cparam *list, unsigned int count,
                          bool add_charset)
{
	bool any = false, have_charset = false;
	struct cparam **stars = xcalloc(count + 1, sizeof(*stars));
	unsigned int nstars = 0;
	for (unsigned int i = 0; i < count; i++) {
		if (list[i].star) {
			stars[nstars++] = &list[i];
			continue;
		}
		buf_append_str(out, any ? " " : "(");
		any = true;
		imap_append_string(out, list[i].name, strlen(list[i].name));
		buf_append_c(out, ' ');
		imap_append_string(out, list[i].value, strlen(list[i].value));
		if (strcasecmp(list[i].name, "charset") == 0)
			have_charset = true;
	}
	qsort(stars, nstars, sizeof(*stars), star_cmp);
	for (unsigned int i = 0; i < nstars;) {
		unsigned int j = i;
		bool ext = false;
		struct buf v = BUF_INIT;
		while (j < nstars && strcasecmp(stars[j]->base, stars[i]->base) == 0) {
			ext = ext || stars[j]->extended;
			buf_append_str(&v, stars[j]->value);
			j++;
		}
		buf_append_str(out, any ? " " : "(");
		any = true;
		struct buf name = BUF_INIT;
		buf_appendf(&name, "%s%s", stars[i]->base, ext ? "*" : "");
		imap_append_string(out, name.data, name.len);
		buf_append_c(out, ' ');
		imap_append_string(out, v.data != NULL ? v.data : "", v.len);
		buf_free(&name);
		buf_free(&v);
		i = j;
	}
	free(stars);
	if (add_charset && !have_charset) {
		buf_append_str(out, any ? " " : "(");
		any = true;
		buf_append_str(out, "\"charset\" \"us-ascii\"");
	}
	buf_append_str(out, any ? ")" : "NIL");
}

static void ctype_read(const struct mime_part *part, const char *msg, size_t len, struct ctype *ct)
{
	memset(ct, 0, sizeof(*ct));
	struct buf v = BUF_INIT;
	if (!imap_fetch_header_field(part, msg, len, "Content-Type", false, &v)) {
		/* the parser's default: text/plain, or message/rfc822 in a digest */
		buf_append_str(&ct->type, part->type);
		buf_append_str(&ct->subtype, part->subtype);
		ct->valid = true;
		buf_free(&v);
		return;
	}
	ct->present = true;
	const char *s = v.data != NULL ? v.data : "";
	size_t n = v.len, i = 0;
	cfws(s, n, &i);
	size_t tl = token_len(s, n, i);
	size_t t = i;
	i += tl;
	cfws(s, n, &i);
	if (tl > 0 && i < n && s[i] == '/') {
		i++;
		cfws(s, n, &i);
		size_t sl = token_len(s, n, i);
		if (sl > 0) {
			buf_append(&ct->type, s + t, tl);
			buf_append(&ct->subtype, s + i, sl);
			ct->valid = true;
			i += sl;
		}
	} else if (tl > 0) {
		buf_append(&ct->type, s + t, tl);
		ct->valid = true;
	}
	if (ct->valid)
		parse_params(s, n, i, &ct->params, &ct->nparams);
	buf_free(&v);
}

static void ctype_free(struct ctype *ct)
{
	buf_free(&ct->type);
	buf_free(&ct->subtype);
	params_free(ct->params, ct->nparams);
}

static void append_buf_string(struct buf *out, const struct buf *b)
{
	imap_append_string(out, b->data != NULL ? b->data : "", b->len);
}

static void append_field_nstring(struct buf *out, const struct mime_part *part, const char *msg,
                                 size_t len, const char *name)
{
	struct buf v = BUF_INIT;
	if (imap_fetch_header_field(part, msg, len, name, false, &v))
		append_buf_string(out, &v);
	else
		buf_append_str(out, "NIL");
	buf_free(&v);
}

static void append_disposition(struct buf *out, const struct mime_part *part, const char *msg,
                               size_t len)
{
	struct buf v = BUF_INIT;
	if (!imap_fetch_header_field(part, msg, len, "Content-Disposition", false, &v)) {
		buf_append_str(out, "NIL");
		return;
	}
	const char *s = v.data != NULL ? v.data : "";
	size_t i = 0;
	cfws(s, v.len, &i);
	size_t tl = token_len(s, v.len, i);
	if (tl == 0) {
		buf_append_str(out, "NIL");
		buf_free(&v);
		return;
	}
	buf_append_c(out, '(');
	imap_append_string(out, s + i, tl);
	buf_append_c(out, ' ');
	struct cparam *list;
	unsigned int count;
	parse_params(s, v.len, i + tl, &list, &count);
	append_params(out, list, count, false);
	params_free(list, count);
	buf_append_c(out, ')');
	buf_free(&v);
}

static void append_language(struct buf *out, const struct mime_part *part, const char *msg,
                            size_t len)
{
	struct buf v = BUF_INIT;
	if (!imap_fetch_header_field(part, msg, len, "Content-Language", false, &v)) {
		buf_append_str(out, "NIL");
		return;
	}
	const char *s = v.data != NULL ? v.data : "";
	size_t i = 0;
	unsigned int count = 0;
	for (;;) {
		cfws(s, v.len, &i);
		size_t tl = token_len(s, v.len, i);
		if (tl == 0)
			break;
		buf_append_str(out, count++ == 0 ? "(" : " ");
		imap_append_string(out, s + i, tl);
		i += tl;
		cfws(s, v.len, &i);
		if (i >= v.len || s[i] != ',')
			break;
		i++;
	}
	buf_append_str(out, count > 0 ? ")" : "NIL");
	buf_free(&v);
}

static void append_encoding(struct buf *out, const struct mime_part *part, const char *msg,
                            size_t len)
{
	struct buf v = BUF_INIT;
	size_t i = 0, tl = 0;
	if (imap_fetch_header_field(part, msg, len, "Content-Transfer-Encoding", false, &v)) {
		cfws(v.data != NULL ? v.data : "", v.len, &i);
		tl = token_len(v.data != NULL ? v.data : "", v.len, i);
	}
	if (tl > 0)
		imap_append_string(out, v.data + i, tl);
	else
		buf_append_str(out, "\"7bit\"");
	buf_free(&v);
}

static bool header_says(const struct ctype *ct, const char *type, const char *subtype)
{
	return ct->type.len == strlen(type) && strcasecmp(ct->type.data, type) == 0 &&
	       (subtype == NULL ||
	        (ct->subtype.len == strlen(subtype) && strcasecmp(ct->subtype.data, subtype) == 0));
}

/* a leaf whose header says multipart (the parser found no usable boundary) */
static bool fake_multipart(const struct mime_part *part, const char *msg, size_t len)
{
	if ((part->flags & MIME_PART_MULTIPART) != 0 && part->children != NULL)
		return false;
	if ((part->flags & MIME_PART_MULTIPART) != 0)
		return true;
	if (part->children != NULL)
		return false;
	struct ctype ct;
	ctype_read(part, msg, len, &ct);
	bool r = header_says(&ct, "multipart", NULL);
	ctype_free(&ct);
	return r;
}

static const char empty_text_body[] =
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0";

static void bodystructure(const struct mime_part *part, const char *msg, size_t len, bool extended,
                          struct buf *out)
{
	struct ctype ct;
	ctype_read(part, msg, len, &ct);
	buf_append_c(out, '(');
	if ((part->flags & MIME_PART_MULTIPART) != 0 || header_says(&ct, "multipart", NULL)) {
		if (part->children == NULL || (part->flags & MIME_PART_MULTIPART) == 0)
			buf_append_str(out, extended
			                        ? "(\"text\" \"plain\" (\"charset\" \"us-ascii\") "
			                          "NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"
			                        : "(\"text\" \"plain\" (\"charset\" \"us-ascii\") "
			                          "NIL NIL \"7bit\" 0 0)");
		for (const struct mime_part *c = part->children;
		     c != NULL && (part->flags & MIME_PART_MULTIPART) != 0; c = c->next)
			bodystructure(c, msg, len, extended, out);
		buf_append_c(out, ' ');
		append_buf_string(out, &ct.subtype);
		if (extended) {
			buf_append_c(out, ' ');
			append_params(out, ct.params, ct.nparams, false);
			buf_append_c(out, ' ');
			append_disposition(out, part, msg, len);
			buf_append_c(out, ' ');
			append_language(out, part, msg, len);
			buf_append_c(out, ' ');
			append_field_nstring(out, part, msg, len, "Content-Location");
		}
		buf_append_c(out, ')');
		ctype_free(&ct);
		return;
	}
	append_buf_string(out, &ct.type);
	buf_append_c(out, ' ');
	append_buf_string(out, &ct.subtype);
	buf_append_c(out, ' ');
	bool text = header_says(&ct, "text", NULL);
	append_params(out, ct.params, ct.nparams, text);
	buf_append_c(out, ' ');
	append_field_nstring(out, part, msg, len, "Content-ID");
	buf_append_c(out, ' ');
	append_field_nstring(out, part, msg, len, "Content-Description");
	buf_append_c(out, ' ');
	append_encoding(out, part, msg, len);
	buf_appendf(out, " %llu", (unsigned long long)body_size(part, msg, len));
	if (text) {
		buf_appendf(out, " %llu", (unsigned long long)body_lf_lines(part, msg, len));
	} else if ((part->flags & MIME_PART_MESSAGE) != 0 && part->children != NULL) {
		buf_append_c(out, ' ');
		imap_fetch_envelope(part->children, msg, len, out);
		buf_append_c(out, ' ');
		bodystructure(part->children, msg, len, extended, out);
		buf_appendf(out, " %llu", (unsigned long long)body_lf_lines(part, msg, len));
	} else if (header_says(&ct, "message", "rfc822")) {
		buf_append_str(out, " (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ");
		buf_append_str(out, empty_text_body);
		buf_append_str(out, extended ? " NIL NIL NIL NIL)" : ")");
		buf_appendf(out, " %llu", (unsigned long long)body_lf_lines(part, msg, len));
	}
	if (extended) {
		buf_append_c(out, ' ');
		append_field_nstring(out, part, msg, len, "Content-MD5");
		buf_append_c(out, ' ');
		append_disposition(out, part, msg, len);
		buf_append_c(out, ' ');
		append_language(out, part, msg, len);
		buf_append_c(out, ' ');
		append_field_nstring(out, part, msg, len, "Content-Location");
	}
	buf_append_c(out, ')');
	ctype_free(&ct);
}

void imap_fetch_bodystructure(const struct mime_part *part, const char *msg, size_t len,
                              bool extended, struct buf *out)
{
	bodystructure(part, msg, len, extended, out);
}

/* ---- sections ---- */

static const struct mime_part *find_part(const struct mime_part *root, const char *msg, size_t len,
                                         const struct imap_fetch_section *sec)
{
	const struct mime_part *part = root;
	for (unsigned int i = 0; i < sec->npart; i++) {
		unsigned int n = sec->part[i];
		if (i > 0 && (part->flags & MIME_PART_MESSAGE) != 0) {
			part = part->children;
			if (part == NULL)
				return NULL;
		}
		if ((part->flags & MIME_PART_MULTIPART) != 0) {
			const struct mime_part *c = part->children;
			for (unsigned int k = 1; c != NULL && k < n; k++)
				c = c->next;
			if (c == NULL)
				return NULL;
			part = c;
		} else if (n != 1 || (i > 0 && (part == root || encoded_message(part))) ||
		           fake_multipart(part, msg, len)) {
			/* "1" names a leaf itself, the root's body only once */
			return NULL;
		}
	}
	return part;
}

static bool field_listed(const struct imap_fetch_section *sec, const char *name, size_t n)
{
	for (unsigned int i = 0; i < sec->nfields; i++)
		if (strlen(sec->fields[i]) == n && strncasecmp(sec->fields[i], name, n) == 0)
			return true;
	return false;
}

static void header_fields(const struct mime_part *m, const char *msg, size_t len,
                          const struct imap_fetch_section *sec, struct buf *out)
{
	uint64_t hs = m->header_offset, he = m->body_offset;
	clamp(len, &hs, &he);
	bool want = sec->kind == IMAP_SECTION_HEADER_FIELDS;
	size_t pos = (size_t)hs;
	struct hfield f;
	size_t before = out->len;
	bool last_lf = false;
	while (next_field(msg, (size_t)he, &pos, &f)) {
		if (field_listed(sec, msg + f.start, f.name_len) != want)
			continue;
		append_crlf(out, msg, len, f.start, f.end);
		last_lf = msg[f.end - 1] == '\n';
		if (!last_lf)
			buf_append_str(out, "\r\n");
	}
	/* the empty line that ends the header; a header cut short without
	 * one gets it (as Dovecot) only after a field that had a line end */
	bool blank = pos < he && (msg[pos] == '\n' || msg[pos] == '\r');
	if (blank || (out->len > before && last_lf))
		buf_append_str(out, "\r\n");
}

void imap_fetch_section_content(const struct mime_part *root, const char *msg, size_t len,
                                const struct imap_fetch_section *sec, struct buf *out)
{
	const struct mime_part *part = find_part(root, msg, len, sec);
	if (part == NULL)
		return;
	const struct mime_part *m = part;
	switch (sec->kind) {
	case IMAP_SECTION_ALL:
		if (sec->npart == 0)
			append_crlf(out, msg, len, 0, len);
		else
			append_crlf(out, msg, len, part->body_offset,
			            container_end(part, msg, len));
		return;
	case IMAP_SECTION_MIME:
		append_crlf(out, msg, len, part->header_offset, part->body_offset);
		return;
	default:
		break;
	}
	if (sec->npart > 0) {
		if ((part->flags & MIME_PART_MESSAGE) == 0 || part->children == NULL)
			return;
		m = part->children;
	}
	switch (sec->kind) {
	case IMAP_SECTION_HEADER:
		append_crlf(out, msg, len, m->header_offset, m->body_offset);
		break;
	case IMAP_SECTION_TEXT:
		append_crlf(out, msg, len, m->body_offset, m->body_end);
		break;
	case IMAP_SECTION_HEADER_FIELDS:
	case IMAP_SECTION_HEADER_FIELDS_NOT:
		header_fields(m, msg, len, sec, out);
		break;
	default:
		break;
	}
}

int imap_fetch_binary_content(const struct mime_part *root, const char *msg, size_t len,
                              const struct imap_fetch_section *sec, struct buf *out,
                              bool *decoded_r, const char **error_r)
{
	const struct mime_part *part = find_part(root, msg, len, sec);
	*decoded_r = false;
	if (part == NULL)
		return 0;
	if (sec->npart == 0 || part->children != NULL || fake_multipart(part, msg, len)) {
		imap_fetch_section_content(root, msg, len, sec, out);
		return 0;
	}
	if (!decode_cte_known(part->encoding)) {
		*error_r = "[UNKNOWN-CTE] Unknown Content-Transfer-Encoding";
		return -1;
	}
	if (part->encoding == NULL || (strcmp(part->encoding, "base64") != 0 &&
	                               strcmp(part->encoding, "quoted-printable") != 0)) {
		imap_fetch_section_content(root, msg, len, sec, out);
		return 0;
	}
	*decoded_r = true;
	struct buf raw = BUF_INIT;
	append_crlf(&raw, msg, len, part->body_offset, part->body_end);
	const char *derr;
	size_t before = out->len;
	int ret = decode_cte(part->encoding, raw.data != NULL ? raw.data : "", raw.len, out, &derr);
	buf_free(&raw);
	if (ret < 0) {
		buf_truncate(out, before);
		*error_r = "[UNKNOWN-CTE] Invalid input in the Content-Transfer-Encoding";
		return -1;
	}
	return 0;
}

/* ---- items ---- */

static void append_partial(struct buf *out, const char *data, size_t n,
                           const struct imap_fetch_section *sec, bool binary)
{
	if (data == NULL)
		data = "";
	if (sec->has_partial) {
		uint64_t start = sec->partial_start, end = start + sec->partial_length;
		if (end < start || end > n)
			end = n;
		if (start > n)
			start = n;
		data += start;
		n = (size_t)(end - start);
	}
	imap_append_literal(out, n > 0 ? data : "", n, binary);
}

int imap_fetch_render_item(const struct imap_fetch_item *item, const struct mime_part *root,
                           const char *msg, size_t len, struct buf *out, const char **error_r)
{
	struct buf content = BUF_INIT;
	struct imap_fetch_section sec;
	memset(&sec, 0, sizeof(sec));
	bool decoded = false;
	int ret = 1;
	switch (item->type) {
	case IMAP_FETCH_ENVELOPE:
		buf_append_str(out, "ENVELOPE ");
		imap_fetch_envelope(root, msg, len, out);
		break;
	case IMAP_FETCH_BODY:
		buf_append_str(out, "BODY ");
		imap_fetch_bodystructure(root, msg, len, false, out);
		break;
	case IMAP_FETCH_BODYSTRUCTURE:
		buf_append_str(out, "BODYSTRUCTURE ");
		imap_fetch_bodystructure(root, msg, len, true, out);
		break;
	case IMAP_FETCH_RFC822_SIZE:
		buf_appendf(out, "RFC822.SIZE %llu",
		            (unsigned long long)imap_fetch_crlf_size(msg, len, 0, len));
		break;
	case IMAP_FETCH_RFC822:
	case IMAP_FETCH_RFC822_HEADER:
	case IMAP_FETCH_RFC822_TEXT:
		sec.kind = item->type == IMAP_FETCH_RFC822          ? IMAP_SECTION_ALL
		           : item->type == IMAP_FETCH_RFC822_HEADER ? IMAP_SECTION_HEADER
		                                                    : IMAP_SECTION_TEXT;
		imap_fetch_section_content(root, msg, len, &sec, &content);
		imap_fetch_item_name(item, out);
		buf_append_c(out, ' ');
		imap_append_literal(out, content.data != NULL ? content.data : "", content.len,
		                    false);
		break;
	case IMAP_FETCH_BODY_SECTION:
		imap_fetch_section_content(root, msg, len, &item->section, &content);
		imap_fetch_item_name(item, out);
		buf_append_c(out, ' ');
		append_partial(out, content.data, content.len, &item->section, false);
		break;
	case IMAP_FETCH_BINARY:
	case IMAP_FETCH_BINARY_SIZE:
		if (imap_fetch_binary_content(root, msg, len, &item->section, &content, &decoded,
		                              error_r) < 0) {
			ret = -1;
			break;
		}
		/* literal8 for decoded content (as Dovecot) and for any NUL */
		decoded = decoded || (content.len > 0 && memchr(content.data, '\0', content.len));
		imap_fetch_item_name(item, out);
		if (item->type == IMAP_FETCH_BINARY_SIZE) {
			buf_appendf(out, " %zu", content.len);
		} else {
			buf_append_c(out, ' ');
			append_partial(out, content.data, content.len, &item->section, decoded);
		}
		break;
	default:
		ret = 0;
		break;
	}
	buf_free(&content);
	return ret;
}
