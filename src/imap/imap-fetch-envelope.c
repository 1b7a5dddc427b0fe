/*
 * imap-fetch-envelope.c - the ENVELOPE structure (RFC 9051 section
 * 7.5.2, RFC 3501 section 7.4.2): RFC 5322 address lists parsed into
 * (name adl mailbox host) lists with group syntax, in the form Dovecot
 * 2.3 prints: names and other strings as sent (RFC 2047 words left
 * encoded), the last comment of a bare addr-spec as its name, and the
 * placeholders MISSING_MAILBOX, MISSING_DOMAIN and SYNTAX_ERROR for
 * broken addresses.
 */
#include "imap/imap-fetch.h"

#include "imap/imap-fetch-private.h"
#include "mail/mime.h"

#include <string.h>

struct addr_ctx {
	const char *s;
	size_t n, i;
	struct buf comment; /* the last comment skipped */
	bool have_comment;
	struct buf *out;
	unsigned int count; /* addresses written */
};

static bool is_special(unsigned char c)
{
	return strchr("()<>[]:;@\\,.\"", c) != NULL;
}

static bool is_atext(unsigned char c)
{
	return c > ' ' && c != 127 && !is_special(c);
}

static void skip_cfws(struct addr_ctx *c)
{
	while (c->i < c->n) {
		unsigned char ch = (unsigned char)c->s[c->i];
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			c->i++;
		} else if (ch == '(') {
			unsigned int depth = 0;
			buf_reset(&c->comment);
			while (c->i < c->n) {
				ch = (unsigned char)c->s[c->i++];
				if (ch == '\\' && c->i < c->n) {
					buf_append_c(&c->comment, c->s[c->i++]);
					continue;
				}
				if (ch == '(') {
					if (depth++ > 0)
						buf_append_c(&c->comment, (char)ch);
				} else if (ch == ')') {
					if (--depth == 0)
						break;
					buf_append_c(&c->comment, (char)ch);
				} else if (ch != '\r' && ch != '\n') {
					buf_append_c(&c->comment, (char)ch);
				}
			}
			c->have_comment = true;
		} else {
			break;
		}
	}
}

/* a quoted string at c->i ('"'), unescaped into out; false if unterminated */
static bool quoted(struct addr_ctx *c, struct buf *out)
{
	c->i++;
	while (c->i < c->n) {
		char ch = c->s[c->i++];
		if (ch == '"')
			return true;
		if (ch == '\\' && c->i < c->n)
			ch = c->s[c->i++];
		if (ch != '\r' && ch != '\n')
			buf_append_c(out, ch);
	}
	return false;
}

/* a phrase: words (atoms, quoted strings, obs "."), one space between */
static void phrase(struct addr_ctx *c, struct buf *out)
{
	bool first = true;
	for (;;) {
		skip_cfws(c);
		if (c->i >= c->n)
			return;
		unsigned char ch = (unsigned char)c->s[c->i];
		if (ch != '"' && ch != '.' && !is_atext(ch))
			return;
		if (!first)
			buf_append_c(out, ' ');
		first = false;
		if (ch == '"') {
			quoted(c, out);
		} else {
			while (c->i < c->n &&
			       (is_atext((unsigned char)c->s[c->i]) || c->s[c->i] == '.'))
				buf_append_c(out, c->s[c->i++]);
		}
	}
}

/* local part or domain: words separated by "."; domain literals kept */
static bool dot_words(struct addr_ctx *c, struct buf *out, bool domain)
{
	bool ok = true;
	for (;;) {
		skip_cfws(c);
		if (c->i >= c->n)
			break;
		unsigned char ch = (unsigned char)c->s[c->i];
		if (ch == '"' && !domain) {
			if (!quoted(c, out))
				ok = false;
		} else if (ch == '[' && domain) {
			while (c->i < c->n && c->s[c->i] != ']') {
				if (c->s[c->i] != '\r' && c->s[c->i] != '\n')
					buf_append_c(out, c->s[c->i]);
				c->i++;
			}
			if (c->i < c->n)
				buf_append_c(out, c->s[c->i++]);
			else
				ok = false;
		} else if (is_atext(ch)) {
			while (c->i < c->n && is_atext((unsigned char)c->s[c->i]))
				buf_append_c(out, c->s[c->i++]);
		} else {
			break;
		}
		skip_cfws(c);
		if (c->i < c->n && c->s[c->i] == '.') {
			buf_append_c(out, '.');
			c->i++;
			continue;
		}
		break;
	}
	return ok;
}

static void put(struct buf *out, const struct buf *v, bool nil_if_empty)
{
	if (v == NULL || (nil_if_empty && v->len == 0))
		buf_append_str(out, "NIL");
	else
		imap_append_nstring_strict(out, v->data != NULL ? v->data : "", v->len);
}

static void emit(struct addr_ctx *c, const struct buf *name, const struct buf *adl,
                 const char *mailbox, size_t mlen, const char *host, size_t hlen)
{
	if (c->count++ == 0)
		buf_append_c(c->out, '(');
	buf_append_c(c->out, '(');
	put(c->out, name, true);
	buf_append_c(c->out, ' ');
	put(c->out, adl, true);
	buf_append_c(c->out, ' ');
	if (mailbox == NULL)
		buf_append_str(c->out, "NIL");
	else
		imap_append_nstring_strict(c->out, mailbox, mlen);
	buf_append_c(c->out, ' ');
	if (host == NULL)
		buf_append_str(c->out, "NIL");
	else
		imap_append_nstring_strict(c->out, host, hlen);
	buf_append_c(c->out, ')');
}

/* skip to the next "," (or ";" in a group) at the top level */
static void skip_to_sep(struct addr_ctx *c, bool in_group)
{
	while (c->i < c->n) {
		char ch = c->s[c->i];
		if (ch == ',' || (in_group && ch == ';'))
			return;
		if (ch == '"') {
			struct buf junk = BUF_INIT;
			quoted(c, &junk);
			buf_free(&junk);
		} else if (ch == '(') {
			skip_cfws(c);
		} else {
			c->i++;
		}
	}
}

/* addr-spec after an optional route; appends the address */
static void mailbox_spec(struct addr_ctx *c, const struct buf *name, const struct buf *adl,
                         bool angle, bool in_group)
{
	struct buf local = BUF_INIT, domain = BUF_INIT;
	bool ok = dot_words(c, &local, false);
	bool have_at = false;
	skip_cfws(c);
	if (c->i < c->n && c->s[c->i] == '@') {
		have_at = true;
		c->i++;
		if (!dot_words(c, &domain, true))
			ok = false;
		skip_cfws(c);
	}
	if (angle) {
		if (c->i < c->n && c->s[c->i] == '>') {
			c->i++;
			skip_cfws(c);
		} else {
			ok = false;
		}
	}
	if (c->i < c->n && c->s[c->i] != ',' && !(in_group && c->s[c->i] == ';')) {
		ok = false;
		skip_to_sep(c, in_group);
	}
	struct buf comment_name = BUF_INIT;
	const struct buf *use_name = name;
	if ((name == NULL || name->len == 0) && !angle && c->have_comment) {
		buf_append(&comment_name, c->comment.data, c->comment.len);
		use_name = &comment_name;
	}
	const char *mb = local.len > 0 ? local.data : "MISSING_MAILBOX";
	size_t mlen = local.len > 0 ? local.len : strlen("MISSING_MAILBOX");
	const char *host = "MISSING_DOMAIN";
	size_t hlen = strlen(host);
	if (!ok) {
		host = "SYNTAX_ERROR";
		hlen = strlen(host);
	} else if (have_at && domain.len > 0) {
		host = domain.data;
		hlen = domain.len;
	}
	emit(c, use_name, adl, mb, mlen, host, hlen);
	buf_free(&comment_name);
	buf_free(&local);
	buf_free(&domain);
}

/* one mailbox (name-addr or addr-spec), or a group when allowed */
static void address(struct addr_ctx *c, bool in_group)
{
	size_t start = c->i;
	struct buf name = BUF_INIT;
	c->have_comment = false;
	phrase(c, &name);
	skip_cfws(c);
	if (c->i < c->n && c->s[c->i] == '<') {
		c->i++;
		struct buf adl = BUF_INIT;
		skip_cfws(c);
		if (c->i < c->n && c->s[c->i] == '@') {
			/* obs-route: "@a,@b:" */
			while (c->i < c->n && c->s[c->i] != ':' && c->s[c->i] != '>') {
				if (c->s[c->i] != ' ' && c->s[c->i] != '\t' && c->s[c->i] != '\r' &&
				    c->s[c->i] != '\n')
					buf_append_c(&adl, c->s[c->i]);
				c->i++;
			}
			if (c->i < c->n && c->s[c->i] == ':')
				c->i++;
		}
		mailbox_spec(c, &name, &adl, true, in_group);
		buf_free(&adl);
	} else if (!in_group && c->i < c->n && c->s[c->i] == ':' && name.len > 0) {
		c->i++;
		emit(c, NULL, NULL, name.data, name.len, NULL, 0);
		for (;;) {
			skip_cfws(c);
			if (c->i >= c->n)
				break;
			if (c->s[c->i] == ';') {
				c->i++;
				skip_cfws(c);
				break;
			}
			if (c->s[c->i] == ',') {
				c->i++;
				continue;
			}
			size_t before = c->i;
			address(c, true);
			if (c->i == before)
				c->i++;
		}
		emit(c, NULL, NULL, NULL, 0, NULL, 0);
	} else {
		c->i = start;
		c->have_comment = false;
		mailbox_spec(c, NULL, NULL, false, in_group);
	}
	buf_free(&name);
}

static void address_list(const char *value, struct buf *out)
{
	if (value == NULL) {
		buf_append_str(out, "NIL");
		return;
	}
	struct addr_ctx c;
	memset(&c, 0, sizeof(c));
	c.s = value;
	c.n = strlen(value);
	c.out = out;
	for (;;) {
		skip_cfws(&c);
		if (c.i >= c.n)
			break;
		size_t before = c.i;
		if (c.s[c.i] != ',')
			address(&c, false);
		else
			mailbox_spec(&c, NULL, NULL, false, false);
		if (c.i < c.n && c.s[c.i] == ',')
			c.i++;
		else if (c.i == before)
			c.i++;
	}
	buf_free(&c.comment);
	if (c.count == 0)
		buf_append_str(out, "NIL");
	else
		buf_append_c(out, ')');
}

/* one field: *value_r the unfolded text (a TAB after a folded line end
 * becomes a space), *folded_r whether it was folded; false when absent */
static bool field(const struct mime_part *m, const char *msg, size_t len, const char *name,
                  struct buf *value, bool *folded_r)
{
	struct buf raw = BUF_INIT;
	buf_reset(value);
	*folded_r = false;
	/* the last occurrence, as Dovecot */
	size_t pos = 0;
	bool found = false;
	struct buf next = BUF_INIT;
	while (imap_fetch_header_next(m, msg, len, name, &pos, true, &next)) {
		found = true;
		buf_reset(&raw);
		buf_append(&raw, next.data != NULL ? next.data : "", next.len);
		buf_reset(&next);
	}
	buf_free(&next);
	if (!found) {
		buf_free(&raw);
		return false;
	}
	bool after_lf = false;
	for (size_t i = 0; i < raw.len; i++) {
		char c = raw.data[i];
		if (c == '\r' || c == '\n') {
			*folded_r = true;
			after_lf = after_lf || c == '\n';
			continue;
		}
		buf_append_c(value, after_lf && c == '\t' ? ' ' : c);
		after_lf = false;
	}
	if (value->data == NULL)
		buf_append_str(value, "");
	buf_free(&raw);
	return true;
}

static void nstr_field(struct buf *out, const struct mime_part *m, const char *msg, size_t len,
                       const char *name)
{
	struct buf v = BUF_INIT;
	bool folded;
	if (!field(m, msg, len, name, &v, &folded))
		buf_append_str(out, "NIL");
	else if (folded)
		imap_append_literal(out, v.data, v.len, false);
	else
		imap_append_nstring_strict(out, v.data, v.len);
	buf_free(&v);
}

static bool has_address(const char *s)
{
	if (s == NULL)
		return false;
	for (; *s != '\0'; s++)
		if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			return true;
	return false;
}

/* the address field - every occurrence, joined into one list as Dovecot
 * does - or NULL when absent or blank */
static const char *addr_field(const struct mime_part *m, const char *msg, size_t len,
                              const char *name, struct buf *v)
{
	struct buf one = BUF_INIT;
	buf_reset(v);
	size_t pos = 0;
	while (imap_fetch_header_next(m, msg, len, name, &pos, false, &one)) {
		if (has_address(one.data)) {
			if (v->len > 0)
				buf_append_str(v, ", ");
			buf_append(v, one.data, one.len);
		}
		buf_reset(&one);
	}
	buf_free(&one);
	return v->len > 0 ? v->data : NULL;
}

void imap_fetch_envelope(const struct mime_part *m, const char *msg, size_t len, struct buf *out)
{
	if (m == NULL) {
		buf_append_str(out, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
		return;
	}
	struct buf vfrom = BUF_INIT, v = BUF_INIT;
	const char *from = addr_field(m, msg, len, "From", &vfrom);
	buf_append_c(out, '(');
	nstr_field(out, m, msg, len, "Date");
	buf_append_c(out, ' ');
	nstr_field(out, m, msg, len, "Subject");
	buf_append_c(out, ' ');
	address_list(from, out);
	buf_append_c(out, ' ');
	const char *s = addr_field(m, msg, len, "Sender", &v);
	address_list(s != NULL ? s : from, out);
	buf_append_c(out, ' ');
	s = addr_field(m, msg, len, "Reply-To", &v);
	address_list(s != NULL ? s : from, out);
	static const char *const lists[] = {"To", "Cc", "Bcc"};
	for (unsigned int i = 0; i < 3; i++) {
		buf_append_c(out, ' ');
		address_list(addr_field(m, msg, len, lists[i], &v), out);
	}
	buf_append_c(out, ' ');
	nstr_field(out, m, msg, len, "In-Reply-To");
	buf_append_c(out, ' ');
	nstr_field(out, m, msg, len, "Message-ID");
	buf_append_c(out, ')');
	buf_free(&vfrom);
	buf_free(&v);
}
