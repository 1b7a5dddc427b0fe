/*
 * mime.c - MIME structure parser, Content-* fields, RFC 2231 parameters,
 * RFC 2047 encoded words (see mime.h).
 *
 * The structure parser works one line at a time. A line is classified
 * when enough of it is buffered to know whether it is a boundary line
 * ("--" and the longest active boundary and two more bytes, or the whole
 * line): never earlier, so no decision depends on where a chunk ended.
 * Header lines are handed whole to the header pull parser (header.h); body
 * lines are only counted, however long. The line end before a boundary
 * line is given to the boundary by remembering the previous line's end
 * (its length, whether it was CRLF, whether the line was empty) together
 * with running counts of LFs, so that a part's end offset and line count
 * can be set back by that line end when its boundary shows up.
 */
#include "mail/mime.h"

#include "core/xalloc.h"
#include "mail/utf8.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- small helpers ---- */

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static char *xstrndup_lower(const char *s, size_t n)
{
	char *r = xstrndup(s, n);
	for (size_t i = 0; i < n; i++)
		r[i] = lower(r[i]);
	return r;
}

static bool eq_nocase(const char *a, size_t n, const char *b)
{
	return strlen(b) == n && strncasecmp(a, b, n) == 0;
}

/* trimmed copy of a field value */
static char *dup_trimmed(const char *s, size_t n)
{
	while (n > 0 && is_wsp(*s)) {
		s++;
		n--;
	}
	while (n > 0 && is_wsp(s[n - 1]))
		n--;
	return xstrndup(s, n);
}

/* ---- RFC 2045 section 5.1 tokens, with RFC 5322 CFWS skipped ---- */

static bool is_tspecial(char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static bool is_token_char(char c)
{
	unsigned char u = (unsigned char)c;
	/* 8-bit bytes are taken as token characters: lenient */
	return u > 0x20 && u != 0x7f && !is_tspecial(c);
}

static void skip_cfws(const char *s, size_t n, size_t *i)
{
	while (*i < n) {
		if (is_wsp(s[*i])) {
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

static size_t token(const char *s, size_t n, size_t i)
{
	size_t j = i;
	while (j < n && is_token_char(s[j]))
		j++;
	return j - i;
}

/* quoted-string at s[*i] == '"' into out; an unterminated one runs to n */
static void quoted(const char *s, size_t n, size_t *i, struct buf *out)
{
	size_t j = *i + 1;
	while (j < n && s[j] != '"') {
		if (s[j] == '\\' && j + 1 < n)
			j++;
		if (s[j] != '\r' && s[j] != '\n')
			buf_append_c(out, s[j]);
		j++;
	}
	*i = j < n ? j + 1 : n;
}

/* ---- parameters and RFC 2231 ---- */

/* one parameter as sent, before continuations are joined */
struct raw_param {
	char *name;  /* base name, lower-case */
	int section; /* -1: none */
	bool star;   /* extended (ends with "*") */
	char *value;
	size_t value_len;
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void pct_decode(const char *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		int h, l;
		if (s[i] == '%' && i + 2 < n && (h = hexval(s[i + 1])) >= 0 &&
		    (l = hexval(s[i + 2])) >= 0) {
			buf_append_c(out, (char)(h * 16 + l));
			i += 2;
		} else {
			buf_append_c(out, s[i]);
		}
	}
}

static bool charset_is(const char *cs, const char *name)
{
	return cs != NULL && strcasecmp(cs, name) == 0;
}

static void latin1_to_utf8(const unsigned char *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x80) {
			buf_append_c(out, (char)s[i]);
		} else {
			buf_append_c(out, (char)(0xc0 | (s[i] >> 6)));
			buf_append_c(out, (char)(0x80 | (s[i] & 0x3f)));
		}
	}
}

/*
 * join: the parameter name from raw[first] on: the RFC 2231 form when
 * there is one (name* or name*0...), else the plain one.
 */
static void join_param(struct raw_param *raw, unsigned int nraw, unsigned int first,
                       struct mime_param *out)
{
	const char *name = raw[first].name;
	int plain = -1, ext = -1;
	int sect[MIME_PARAM_SECTIONS_MAX];

	for (unsigned int k = 0; k < MIME_PARAM_SECTIONS_MAX; k++)
		sect[k] = -1;
	for (unsigned int k = first; k < nraw; k++) {
		if (strcmp(raw[k].name, name) != 0)
			continue;
		if (raw[k].section < 0 && !raw[k].star) {
			if (plain < 0)
				plain = (int)k;
		} else if (raw[k].section < 0) {
			if (ext < 0)
				ext = (int)k;
		} else if (raw[k].section < MIME_PARAM_SECTIONS_MAX && sect[raw[k].section] < 0) {
			sect[raw[k].section] = (int)k;
		}
	}
	memset(out, 0, sizeof(*out));
	out->name = xstrdup(name);
	if (ext < 0 && sect[0] < 0) {
		out->value = xstrndup(raw[plain].value, raw[plain].value_len);
		return;
	}

	/* the pieces: name*=..., or name*0[*]=... name*1[*]=... in order */
	int pieces[MIME_PARAM_SECTIONS_MAX];
	unsigned int npieces = 0;
	if (ext >= 0) {
		pieces[npieces++] = ext;
	} else {
		for (unsigned int k = 0; k < MIME_PARAM_SECTIONS_MAX && sect[k] >= 0; k++)
			pieces[npieces++] = sect[k];
	}
	out->extended = true;

	struct buf sent = BUF_INIT, bytes = BUF_INIT;
	bool any_star = false;
	for (unsigned int k = 0; k < npieces; k++) {
		struct raw_param *r = &raw[pieces[k]];
		const char *v = r->value;
		size_t vl = r->value_len;
		if (k == 0 && r->star) {
			/* charset'language'value */
			const char *q1 = memchr(v, '\'', vl);
			const char *q2 =
			    q1 != NULL ? memchr(q1 + 1, '\'', vl - (size_t)(q1 + 1 - v)) : NULL;
			if (q2 != NULL) {
				if (q1 > v)
					out->charset = xstrndup(v, (size_t)(q1 - v));
				if (q2 > q1 + 1)
					out->language = xstrndup(q1 + 1, (size_t)(q2 - q1 - 1));
				vl -= (size_t)(q2 + 1 - v);
				v = q2 + 1;
			}
		}
		buf_append(&sent, v, vl);
		if (r->star) {
			any_star = true;
			pct_decode(v, vl, &bytes);
		} else {
			buf_append(&bytes, v, vl);
		}
	}

	const char *cs = out->charset;
	struct buf text = BUF_INIT;
	bool ok = false;
	if (!any_star) {
		buf_append(&text, bytes.data, bytes.len);
		ok = true;
	} else if (cs == NULL || charset_is(cs, "utf-8") || charset_is(cs, "utf8") ||
	           charset_is(cs, "us-ascii")) {
		if (utf8_valid(bytes.data, bytes.len)) {
			buf_append(&text, bytes.data, bytes.len);
			ok = true;
		}
	} else if (charset_is(cs, "iso-8859-1") || charset_is(cs, "latin1")) {
		latin1_to_utf8((const unsigned char *)bytes.data, bytes.len, &text);
		ok = true;
	}
	if (ok) {
		out->value = xstrndup(text.data != NULL ? text.data : "", text.len);
	} else {
		out->value = xstrndup(sent.data != NULL ? sent.data : "", sent.len);
		out->encoded = true;
	}
	buf_free(&sent);
	buf_free(&bytes);
	buf_free(&text);
}

void mime_params_free(struct mime_params *params)
{
	for (unsigned int i = 0; i < params->count; i++) {
		free(params->list[i].name);
		free(params->list[i].value);
		free(params->list[i].charset);
		free(params->list[i].language);
	}
	free(params->list);
	params->list = NULL;
	params->count = 0;
}

/* parse_params: ";" attribute "=" value ... from s[i..n) */
static void parse_params(const char *s, size_t n, size_t i, struct mime_params *params)
{
	struct raw_param raw[MIME_PARAMS_MAX * 2];
	unsigned int nraw = 0;
	struct buf v = BUF_INIT;

	memset(params, 0, sizeof(*params));
	while (i < n && nraw < sizeof(raw) / sizeof(raw[0])) {
		/* to the next ';' */
		while (i < n && s[i] != ';') {
			if (s[i] == '"') {
				buf_reset(&v);
				quoted(s, n, &i, &v);
			} else {
				i++;
			}
		}
		if (i >= n)
			break;
		i++;
		skip_cfws(s, n, &i);
		size_t a = i, alen = token(s, n, i);
		if (alen == 0)
			continue;
		i += alen;
		skip_cfws(s, n, &i);
		if (i >= n || s[i] != '=')
			continue;
		i++;
		skip_cfws(s, n, &i);
		buf_reset(&v);
		if (i < n && s[i] == '"') {
			quoted(s, n, &i, &v);
		} else {
			/* token; lenient: up to ';' or white space */
			size_t b = i;
			while (i < n && s[i] != ';' && !is_wsp(s[i]))
				i++;
			buf_append(&v, s + b, i - b);
		}

		/* name, name*, name*N, name*N* */
		struct raw_param *r = &raw[nraw];
		const char *star = memchr(s + a, '*', alen);
		size_t base = star != NULL ? (size_t)(star - (s + a)) : alen;
		if (base == 0)
			continue;
		r->section = -1;
		r->star = false;
		if (star != NULL) {
			size_t k = base + 1;
			if (k == alen) {
				r->star = true;
			} else {
				int num = 0;
				size_t d = k;
				while (k < alen && s[a + k] >= '0' && s[a + k] <= '9' &&
				       num < 100000)
					num = num * 10 + (s[a + k++] - '0');
				if (k == d || (k < alen && !(s[a + k] == '*' && k + 1 == alen)))
					continue; /* not RFC 2231 syntax: dropped */
				r->section = num;
				r->star = k < alen;
			}
		}
		r->name = xstrndup_lower(s + a, base);
		r->value = xstrndup(v.data != NULL ? v.data : "", v.len);
		r->value_len = v.len;
		nraw++;
	}
	buf_free(&v);

	for (unsigned int k = 0; k < nraw && params->count < MIME_PARAMS_MAX; k++) {
		bool seen = false;
		for (unsigned int j = 0; j < k && !seen; j++)
			seen = strcmp(raw[j].name, raw[k].name) == 0;
		if (seen)
			continue;
		/* a name whose only forms are sections not starting at 0 */
		bool usable = false;
		for (unsigned int j = k; j < nraw && !usable; j++)
			usable = strcmp(raw[j].name, raw[k].name) == 0 && (raw[j].section <= 0);
		if (!usable)
			continue;
		if (params->count % 8 == 0)
			params->list =
			    xreallocarray(params->list, params->count + 8, sizeof(*params->list));
		join_param(raw, nraw, k, &params->list[params->count++]);
	}
	for (unsigned int k = 0; k < nraw; k++) {
		free(raw[k].name);
		free(raw[k].value);
	}
}

const char *mime_param_get(const struct mime_params *params, const char *name)
{
	for (unsigned int i = 0; i < params->count; i++) {
		if (strcmp(params->list[i].name, name) == 0)
			return params->list[i].value;
	}
	return NULL;
}

int mime_parse_content_type(const char *s, size_t n, char **type_r, char **subtype_r,
                            struct mime_params *params)
{
	size_t i = 0, t, st;

	*type_r = *subtype_r = NULL;
	memset(params, 0, sizeof(*params));
	skip_cfws(s, n, &i);
	t = i;
	i += token(s, n, i);
	size_t tlen = i - t;
	skip_cfws(s, n, &i);
	if (tlen == 0 || i >= n || s[i] != '/')
		return -1;
	i++;
	skip_cfws(s, n, &i);
	st = i;
	i += token(s, n, i);
	if (i == st)
		return -1;
	*type_r = xstrndup_lower(s + t, tlen);
	*subtype_r = xstrndup_lower(s + st, i - st);
	parse_params(s, n, i, params);
	return 0;
}

int mime_parse_disposition(const char *s, size_t n, char **type_r, struct mime_params *params)
{
	size_t i = 0, t;

	*type_r = NULL;
	memset(params, 0, sizeof(*params));
	skip_cfws(s, n, &i);
	t = i;
	i += token(s, n, i);
	if (i == t)
		return -1;
	*type_r = xstrndup_lower(s + t, i - t);
	parse_params(s, n, i, params);
	return 0;
}

/* ---- charsets and RFC 2047 ---- */

static void append_replacement(struct buf *out)
{
	buf_append(out, "\xef\xbf\xbd", 3);
}

/* utf8_sanitize: valid UTF-8 copied, each bad byte as U+FFFD */
static void utf8_sanitize(const unsigned char *s, size_t n, struct buf *out)
{
	size_t i = 0;
	while (i < n) {
		size_t l = utf8_char_len(s + i, n - i);
		if (l == 0) {
			append_replacement(out);
			i++;
		} else {
			buf_append(out, s + i, l);
			i += l;
		}
	}
}

int mime_charset_to_utf8(const char *charset, const void *data, size_t len, struct buf *out)
{
	const unsigned char *s = data;
	char name[64];
	size_t nl = strcspn(charset, "*"); /* RFC 2231 section 5: charset*lang */

	if (nl == 0 || nl >= sizeof(name))
		return -1;
	memcpy(name, charset, nl);
	name[nl] = '\0';
	if (charset_is(name, "utf-8") || charset_is(name, "utf8") || charset_is(name, "us-ascii") ||
	    charset_is(name, "ascii")) {
		utf8_sanitize(s, len, out);
		return 0;
	}
	if (charset_is(name, "iso-8859-1") || charset_is(name, "latin1")) {
		latin1_to_utf8(s, len, out);
		return 0;
	}
	iconv_t cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1)
		return -1;
	char *in = (char *)(uintptr_t)s;
	size_t left = len;
	while (left > 0) {
		char tmp[512];
		char *o = tmp;
		size_t room = sizeof(tmp);
		size_t r = iconv(cd, &in, &left, &o, &room);
		buf_append(out, tmp, (size_t)(o - tmp));
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		/* EILSEQ: a bad byte; EINVAL: cut off at the end */
		append_replacement(out);
		if (errno == EINVAL)
			break;
		in++;
		left--;
	}
	char tmp[64];
	char *o = tmp;
	size_t room = sizeof(tmp);
	iconv(cd, NULL, NULL, &o, &room); /* flush the shift state */
	buf_append(out, tmp, (size_t)(o - tmp));
	iconv_close(cd);
	return 0;
}

static const signed char b64[256] = {
    ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,  ['H'] = 8,
    ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

/* base64 (RFC 2047 section 4.1), lenient about padding; false on junk */
static bool b64_decode(const char *s, size_t n, struct buf *out)
{
	uint32_t acc = 0;
	unsigned int bits = 0;
	size_t i = 0;

	for (; i < n && s[i] != '='; i++) {
		int v = b64[(unsigned char)s[i]];
		if (v == 0)
			return false;
		acc = (acc << 6) | (uint32_t)(v - 1);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_append_c(out, (char)((acc >> bits) & 0xff));
		}
	}
	for (; i < n; i++) {
		if (s[i] != '=')
			return false;
	}
	return true;
}

/* Q encoding (RFC 2047 section 4.2) */
static bool q_decode(const char *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		int h, l;
		if (s[i] == '_') {
			buf_append_c(out, ' ');
		} else if (s[i] == '=') {
			if (i + 2 >= n)
				return false;
			if ((h = hexval(s[i + 1])) < 0 || (l = hexval(s[i + 2])) < 0)
				return false;
			buf_append_c(out, (char)(h * 16 + l));
			i += 2;
		} else {
			buf_append_c(out, s[i]);
		}
	}
	return true;
}

/*
 * encoded_word: is there an encoded word at s[i..n)? Returns its length
 * with the charset (NUL-terminated, at most 63 bytes) and the decoded
 * bytes appended to bytes; 0 when not.
 */
static size_t encoded_word(const char *s, size_t n, size_t i, char *charset, struct buf *bytes)
{
	size_t j, cs, cl, enc, text, end;

	if (i + 8 > n || s[i] != '=' || s[i + 1] != '?')
		return 0;
	cs = j = i + 2;
	while (j < n && s[j] != '?' && !is_wsp(s[j]))
		j++;
	cl = j - cs;
	if (j + 3 >= n || s[j] != '?' || cl == 0 || cl > 63 || s[j + 2] != '?')
		return 0;
	enc = j + 1;
	text = j + 3;
	end = text;
	while (end + 1 < n && !(s[end] == '?' && s[end + 1] == '=')) {
		if (is_wsp(s[end]))
			return 0;
		end++;
	}
	if (end + 1 >= n)
		return 0;
	size_t before = bytes->len;
	bool ok;
	if (s[enc] == 'B' || s[enc] == 'b')
		ok = b64_decode(s + text, end - text, bytes);
	else if (s[enc] == 'Q' || s[enc] == 'q')
		ok = q_decode(s + text, end - text, bytes);
	else
		ok = false;
	if (!ok) {
		buf_truncate(bytes, before);
		return 0;
	}
	memcpy(charset, s + cs, cl);
	charset[cl] = '\0';
	return end + 2 - i;
}

/* flush: convert the run of decoded bytes; unknown charset: the words */
static void flush_run(const char *charset, struct buf *bytes, const char *src, size_t src_len,
                      struct buf *out)
{
	if (bytes->len == 0 && src_len == 0)
		return;
	if (mime_charset_to_utf8(charset, bytes->data != NULL ? bytes->data : "", bytes->len, out) <
	    0)
		buf_append(out, src, src_len);
	buf_reset(bytes);
}

void mime_decode_words(const char *s, size_t n, struct buf *out)
{
	struct buf bytes = BUF_INIT;
	char run_cs[64] = "", cs[64];
	size_t run_start = 0, run_end = 0; /* source of the run */
	bool in_run = false;
	size_t i = 0;

	while (i < n) {
		size_t before = bytes.len;
		size_t wl = s[i] == '=' ? encoded_word(s, n, i, cs, &bytes) : 0;
		if (wl > 0) {
			if (in_run && strcasecmp(cs, run_cs) != 0) {
				/* another charset: convert what came before */
				struct buf mine = BUF_INIT;
				buf_append(&mine, buf_cstr(&bytes) + before, bytes.len - before);
				buf_truncate(&bytes, before);
				flush_run(run_cs, &bytes, s + run_start, run_end - run_start, out);
				buf_append(&bytes, mine.data, mine.len);
				buf_free(&mine);
				in_run = false;
			}
			if (!in_run) {
				in_run = true;
				run_start = i;
				memcpy(run_cs, cs, sizeof(cs));
			}
			i += wl;
			run_end = i;
			/* white space up to another encoded word is dropped */
			size_t j = i;
			while (j < n && is_wsp(s[j]))
				j++;
			if (j > i && j < n && s[j] == '=') {
				size_t b2 = bytes.len;
				if (encoded_word(s, n, j, cs, &bytes) > 0) {
					buf_truncate(&bytes, b2);
					i = j;
				}
			}
			continue;
		}
		if (in_run) {
			flush_run(run_cs, &bytes, s + run_start, run_end - run_start, out);
			in_run = false;
		}
		buf_append_c(out, s[i]);
		i++;
	}
	if (in_run)
		flush_run(run_cs, &bytes, s + run_start, run_end - run_start, out);
	buf_free(&bytes);
	if (out->data == NULL)
		buf_reserve(out, 0);
}

/* ---- the structure parser ---- */

enum mime_state {
	MIME_STATE_HEADER,
	MIME_STATE_BODY,
	MIME_STATE_END,
};

/* a part with what only the parser needs; pub first */
struct part_priv {
	struct mime_part pub;
	struct mime_part *last_child;
	char *boundary;
	size_t boundary_len;
	bool closed;                   /* multipart: close delimiter seen */
	uint64_t lf_start, bare_start; /* counts at header, then body start */
};

static struct part_priv *priv(struct mime_part *part)
{
	return (struct part_priv *)part;
}

struct mime_parser {
	struct mime_limits limits;
	struct buf in;
	size_t pos;
	uint64_t in_offset; /* stream offset of in.data[0] */
	bool eof;
	enum mime_state state;
	struct mime_part *root, *cur;
	unsigned int nparts;

	/* the header of cur */
	struct header_parser hp;
	bool hp_open, hp_finished, ct_seen;
	size_t hp_line; /* length of the line fed, not yet consumed */
	uint64_t header_bytes;
	struct header_field field;

	/* body lines */
	bool mid_line;      /* inside a line already classified */
	bool boundary_line; /* ... which is a boundary line */
	struct mime_part *new_child_of;
	size_t line_len; /* bytes of the current line consumed */
	bool last_cr, last_lf;

	/* running counts at the current position */
	uint64_t lf_total, bare_total;
	unsigned int prev_eol; /* line end of the previous line: 0, 1, 2 */
	bool prev_empty;       /* the previous line had no content */
};

enum step {
	STEP_NEED,
	STEP_EOF,
	STEP_PROGRESS,
};

static uint64_t offset(const struct mime_parser *p)
{
	return p->in_offset + p->pos;
}

static void start_header(struct mime_parser *p)
{
	struct header_limits hl = {
	    .max_line = p->limits.max_header_line,
	    .max_field = p->limits.max_header + 1,
	    .max_fields = UINT32_MAX,
	};
	header_parser_init(&p->hp, &hl);
	p->hp_open = true;
	p->hp_finished = false;
	p->hp_line = 0;
	p->header_bytes = 0;
	p->ct_seen = false;
	p->state = MIME_STATE_HEADER;
}

static struct mime_part *new_part(struct mime_parser *p, struct mime_part *parent, uint64_t off)
{
	struct part_priv *pp = xcalloc(1, sizeof(*pp));
	struct mime_part *part = &pp->pub;

	part->parent = parent;
	part->depth = parent != NULL ? parent->depth + 1 : 0;
	part->header_offset = part->body_offset = part->body_end = off;
	if (parent != NULL) {
		struct part_priv *pa = priv(parent);
		if (pa->last_child == NULL)
			parent->children = part;
		else
			pa->last_child->next = part;
		pa->last_child = part;
		parent->nchildren++;
	}
	pp->lf_start = p->lf_total;
	pp->bare_start = p->bare_total;
	p->nparts++;
	p->cur = part;
	start_header(p);
	return part;
}

struct mime_parser *mime_parser_create(const struct mime_limits *limits)
{
	struct mime_parser *p = xcalloc(1, sizeof(*p));

	if (limits != NULL)
		p->limits = *limits;
	if (p->limits.max_depth == 0)
		p->limits.max_depth = MIME_DEPTH_MAX_DEFAULT;
	if (p->limits.max_parts == 0)
		p->limits.max_parts = MIME_PARTS_MAX_DEFAULT;
	if (p->limits.max_header_line == 0)
		p->limits.max_header_line = MIME_HEADER_LINE_MAX_DEFAULT;
	if (p->limits.max_header == 0)
		p->limits.max_header = MIME_HEADER_MAX_DEFAULT;
	p->root = new_part(p, NULL, 0);
	p->root->envelope = xcalloc(1, sizeof(*p->root->envelope));
	return p;
}

static void free_envelope(struct mime_envelope *e)
{
	if (e == NULL)
		return;
	free(e->date);
	free(e->subject);
	free(e->from);
	free(e->sender);
	free(e->reply_to);
	free(e->to);
	free(e->cc);
	free(e->bcc);
	free(e->in_reply_to);
	free(e->message_id);
	free(e);
}

static void free_one(struct mime_part *part)
{
	free(part->type);
	free(part->subtype);
	mime_params_free(&part->params);
	free(part->encoding);
	free(part->id);
	free(part->description);
	free(part->disposition);
	mime_params_free(&part->disposition_params);
	free(part->language);
	free(part->location);
	free(part->md5);
	free_envelope(part->envelope);
	free(priv(part)->boundary);
	free(priv(part));
}

void mime_part_free(struct mime_part **rootp)
{
	struct mime_part *part = *rootp;

	*rootp = NULL;
	/* depth first without recursion: free a part once its children are */
	while (part != NULL) {
		if (part->children != NULL) {
			struct mime_part *c = part->children;
			part->children = NULL;
			part = c;
			continue;
		}
		struct mime_part *next = part->next, *parent = part->parent;
		free_one(part);
		part = next != NULL ? next : parent;
	}
}

void mime_parser_destroy(struct mime_parser **pp)
{
	struct mime_parser *p = *pp;

	if (p == NULL)
		return;
	*pp = NULL;
	if (p->hp_open)
		header_parser_deinit(&p->hp);
	if (p->root != NULL)
		mime_part_free(&p->root);
	buf_free(&p->in);
	free(p);
}

void mime_parser_feed(struct mime_parser *p, const void *data, size_t len)
{
	if (p->pos > 0) {
		buf_consume(&p->in, p->pos);
		p->in_offset += p->pos;
		p->pos = 0;
	}
	buf_append(&p->in, data, len);
}

void mime_parser_finish(struct mime_parser *p)
{
	p->eof = true;
}

struct mime_part *mime_parser_steal(struct mime_parser *p)
{
	struct mime_part *root = p->state == MIME_STATE_END ? p->root : NULL;
	if (root != NULL)
		p->root = NULL;
	return root;
}

/* ---- header fields of a part ---- */

static void set_once(char **dst, const char *v, size_t n)
{
	if (*dst == NULL)
		*dst = xstrndup(v, n);
}

static void handle_field(struct mime_parser *p, const struct header_field *f)
{
	struct mime_part *part = p->cur;
	const char *name = f->name, *v = f->value;
	size_t nl = f->name_len, vl = f->value_len;

	for (size_t i = 0; i < f->raw_len; i++) {
		if ((unsigned char)f->raw[i] >= 0x80) {
			part->flags |= MIME_PART_8BIT_HEADER;
			break;
		}
	}
	if (nl > 8 && strncasecmp(name, "content-", 8) == 0) {
		const char *rest = name + 8;
		size_t rl = nl - 8;
		if (eq_nocase(rest, rl, "type")) {
			if (p->ct_seen)
				return;
			p->ct_seen = true;
			char *t, *st;
			struct mime_params params;
			if (mime_parse_content_type(v, vl, &t, &st, &params) < 0) {
				part->flags |= MIME_PART_BAD_CONTENT_TYPE;
				return;
			}
			part->type = t;
			part->subtype = st;
			part->params = params;
		} else if (eq_nocase(rest, rl, "transfer-encoding")) {
			if (part->encoding == NULL) {
				size_t i = 0;
				skip_cfws(v, vl, &i);
				part->encoding = xstrndup_lower(v + i, token(v, vl, i));
			}
		} else if (eq_nocase(rest, rl, "id")) {
			if (part->id == NULL)
				part->id = dup_trimmed(v, vl);
		} else if (eq_nocase(rest, rl, "description")) {
			if (part->description == NULL)
				part->description = dup_trimmed(v, vl);
		} else if (eq_nocase(rest, rl, "disposition")) {
			if (part->disposition == NULL) {
				if (mime_parse_disposition(v, vl, &part->disposition,
				                           &part->disposition_params) < 0)
					part->disposition = NULL;
			}
		} else if (eq_nocase(rest, rl, "language")) {
			if (part->language == NULL)
				part->language = dup_trimmed(v, vl);
		} else if (eq_nocase(rest, rl, "location")) {
			if (part->location == NULL)
				part->location = dup_trimmed(v, vl);
		} else if (eq_nocase(rest, rl, "md5")) {
			if (part->md5 == NULL)
				part->md5 = dup_trimmed(v, vl);
		}
		return;
	}
	struct mime_envelope *e = part->envelope;
	if (e == NULL)
		return;
	if (eq_nocase(name, nl, "date"))
		set_once(&e->date, v, vl);
	else if (eq_nocase(name, nl, "subject"))
		set_once(&e->subject, v, vl);
	else if (eq_nocase(name, nl, "from"))
		set_once(&e->from, v, vl);
	else if (eq_nocase(name, nl, "sender"))
		set_once(&e->sender, v, vl);
	else if (eq_nocase(name, nl, "reply-to"))
		set_once(&e->reply_to, v, vl);
	else if (eq_nocase(name, nl, "to"))
		set_once(&e->to, v, vl);
	else if (eq_nocase(name, nl, "cc"))
		set_once(&e->cc, v, vl);
	else if (eq_nocase(name, nl, "bcc"))
		set_once(&e->bcc, v, vl);
	else if (eq_nocase(name, nl, "in-reply-to"))
		set_once(&e->in_reply_to, v, vl);
	else if (eq_nocase(name, nl, "message-id"))
		set_once(&e->message_id, v, vl);
}

static void make_text(struct mime_part *part, unsigned int flag)
{
	free(part->type);
	free(part->subtype);
	part->type = xstrdup("text");
	part->subtype = xstrdup("plain");
	part->flags &= ~(unsigned int)(MIME_PART_MULTIPART | MIME_PART_MESSAGE);
	part->flags |= flag;
}

/* end_header: cur's header ends at the current position */
static void end_header(struct mime_parser *p, bool no_blank_line)
{
	struct mime_part *part = p->cur;
	struct part_priv *pp = priv(part);
	uint64_t off = offset(p);

	header_parser_deinit(&p->hp);
	p->hp_open = p->hp_finished = false;
	p->hp_line = 0;
	part->body_offset = part->body_end = off;
	part->header_lines = p->lf_total - pp->lf_start;
	part->header_bare_lf = p->bare_total - pp->bare_start;
	pp->lf_start = p->lf_total;
	pp->bare_start = p->bare_total;
	if (no_blank_line)
		part->flags |= MIME_PART_NO_BLANK_LINE;
	p->state = MIME_STATE_BODY;

	if (part->type == NULL) {
		struct mime_part *pa = part->parent;
		bool digest = pa != NULL && (pa->flags & MIME_PART_MULTIPART) &&
		              strcmp(pa->subtype, "digest") == 0;
		part->type = xstrdup(digest ? "message" : "text");
		part->subtype = xstrdup(digest ? "rfc822" : "plain");
	}
	if (strcmp(part->type, "multipart") == 0) {
		const char *b = mime_param_get(&part->params, "boundary");
		size_t bl = b != NULL ? strlen(b) : 0;
		if (bl == 0 || bl > MIME_BOUNDARY_MAX)
			make_text(part, MIME_PART_BAD_BOUNDARY);
		else if (part->depth >= p->limits.max_depth)
			make_text(part, MIME_PART_DEPTH_LIMIT);
		else {
			part->flags |= MIME_PART_MULTIPART;
			pp->boundary = xstrdup(b);
			pp->boundary_len = bl;
		}
		return;
	}
	if (strcmp(part->type, "message") == 0 &&
	    (strcmp(part->subtype, "rfc822") == 0 || strcmp(part->subtype, "global") == 0)) {
		if (part->encoding != NULL && (strcmp(part->encoding, "base64") == 0 ||
		                               strcmp(part->encoding, "quoted-printable") == 0))
			make_text(part, MIME_PART_ENCODED_MESSAGE);
		else if (part->depth >= p->limits.max_depth)
			make_text(part, MIME_PART_DEPTH_LIMIT);
		else if (p->nparts >= p->limits.max_parts)
			make_text(part, MIME_PART_PARTS_LIMIT);
		else {
			part->flags |= MIME_PART_MESSAGE;
			struct mime_part *child = new_part(p, part, off);
			child->envelope = xcalloc(1, sizeof(*child->envelope));
		}
	}
}

/* ---- lines ---- */

/* consume_line: a whole line of n bytes at pos (header state) */
static void consume_line(struct mime_parser *p, size_t n)
{
	const char *line = buf_cstr(&p->in) + p->pos;

	if (n > 0 && line[n - 1] == '\n') {
		bool crlf = n >= 2 && line[n - 2] == '\r';
		p->lf_total++;
		if (!crlf)
			p->bare_total++;
		p->prev_eol = crlf ? 2 : 1;
		p->prev_empty = n == p->prev_eol;
		p->last_lf = true;
	} else if (n > 0) {
		p->last_lf = false;
	}
	p->pos += n;
}

/*
 * classify: is the line at pos (avail bytes, of which content are its
 * content when complete) a boundary line of an open multipart? -1: not
 * known yet, 0: no, 1: *m_r's, *close_r for a close delimiter.
 */
static int classify(struct mime_parser *p, size_t avail, size_t content, bool complete,
                    struct mime_part **m_r, bool *close_r)
{
	const char *line = buf_cstr(&p->in) + p->pos;
	size_t maxlen = 0;
	bool any = false;

	for (struct mime_part *q = p->cur; q != NULL; q = q->parent) {
		struct part_priv *qp = priv(q);
		if ((q->flags & MIME_PART_MULTIPART) && !qp->closed) {
			any = true;
			if (qp->boundary_len > maxlen)
				maxlen = qp->boundary_len;
		}
	}
	if (!any)
		return 0;
	size_t need = 4 + maxlen, w;
	if (!complete) {
		if ((avail >= 1 && line[0] != '-') || (avail >= 2 && line[1] != '-'))
			return 0;
		if (avail < need)
			return -1;
		w = need;
	} else {
		w = content < need ? content : need;
	}
	if (w < 2 || line[0] != '-' || line[1] != '-')
		return 0;
	for (struct mime_part *q = p->cur; q != NULL; q = q->parent) {
		struct part_priv *qp = priv(q);
		size_t bl = qp->boundary_len;
		if (!(q->flags & MIME_PART_MULTIPART) || qp->closed)
			continue;
		if (w >= 2 + bl && memcmp(line + 2, qp->boundary, bl) == 0) {
			*m_r = q;
			*close_r = w >= 4 + bl && line[2 + bl] == '-' && line[3 + bl] == '-';
			return 1;
		}
	}
	return 0;
}

/* where a part that ends now ends, and the counts there */
struct cut {
	uint64_t off, lf, bare;
	bool lf_end; /* the byte before off is an LF */
};

static void end_part(struct mime_part *part, const struct cut *c)
{
	struct part_priv *pp = priv(part);

	if (c->off <= part->body_offset) {
		part->body_end = part->body_offset;
		part->body_lines = part->body_bare_lf = 0;
	} else {
		part->body_end = c->off;
		part->body_lines = c->lf - pp->lf_start + (c->lf_end ? 0 : 1);
		part->body_bare_lf = c->bare - pp->bare_start;
	}
	if ((part->flags & MIME_PART_MULTIPART) && !pp->closed)
		part->flags |= MIME_PART_NO_END;
}

/* handle_boundary: the line at pos is m's boundary line */
static void handle_boundary(struct mime_parser *p, struct mime_part *m, bool close)
{
	struct cut c = {offset(p), p->lf_total, p->bare_total, p->prev_eol > 0};

	/* the line end before the boundary is the boundary's - if it is in
	 * the body of the innermost part (not the end of its header or of
	 * the boundary line before it) */
	if (p->prev_eol > 0 && c.off - p->prev_eol >= p->cur->body_offset) {
		c.off -= p->prev_eol;
		c.lf--;
		if (p->prev_eol == 1)
			c.bare--;
		c.lf_end = p->prev_empty;
	}
	for (struct mime_part *q = p->cur; q != m; q = q->parent)
		end_part(q, &c);
	p->cur = m;
	if (close)
		priv(m)->closed = true;
	else if (p->nparts >= p->limits.max_parts)
		m->flags |= MIME_PART_PARTS_LIMIT;
	else
		p->new_child_of = m;
	p->mid_line = true;
	p->boundary_line = true;
	p->line_len = 0;
	p->last_cr = false;
}

static enum step step_header(struct mime_parser *p)
{
	const char *line = buf_cstr(&p->in) + p->pos;
	size_t avail = p->in.len - p->pos;
	const char *lf = avail > 0 ? memchr(line, '\n', avail) : NULL;
	bool complete = lf != NULL || p->eof;
	size_t content = lf != NULL ? (size_t)(lf - line) : avail;
	size_t line_len = lf != NULL ? content + 1 : avail;
	struct mime_part *m;
	bool close;

	if (avail == 0) {
		if (!p->eof)
			return STEP_NEED;
		header_parser_finish(&p->hp);
		p->hp_finished = true;
		return STEP_PROGRESS;
	}
	if (lf != NULL && content > 0 && line[content - 1] == '\r')
		content--;
	int c = classify(p, avail, content, complete, &m, &close);
	if (c < 0)
		return STEP_NEED;
	if (c > 0) {
		/* a boundary line ends the header; the body state takes it */
		header_parser_finish(&p->hp);
		p->hp_finished = true;
		return STEP_PROGRESS;
	}
	size_t partial = avail;
	if (!complete && partial > 0 && line[partial - 1] == '\r')
		partial--;
	if ((complete && (content > p->limits.max_header_line ||
	                  p->header_bytes + line_len > p->limits.max_header)) ||
	    (!complete && (partial > p->limits.max_header_line ||
	                   p->header_bytes + avail > p->limits.max_header))) {
		p->cur->flags |= MIME_PART_HEADER_CUT;
		header_parser_finish(&p->hp);
		p->hp_finished = true;
		return STEP_PROGRESS;
	}
	if (!complete)
		return STEP_NEED;
	header_parser_feed(&p->hp, line, line_len);
	p->hp_line = line_len;
	p->header_bytes += line_len;
	if (lf == NULL) {
		header_parser_finish(&p->hp);
		p->hp_finished = true;
	}
	return STEP_PROGRESS;
}

/* drain: 1 with a HEADER event, 0 to go on */
static int drain_header(struct mime_parser *p, struct mime_event *ev)
{
	struct header_field f;
	const char *error;
	uint64_t line_start = offset(p);
	int r = header_parser_next(&p->hp, &f, &error);

	if (r > 0 && !f.eoh) {
		handle_field(p, &f);
		p->field = f;
		memset(ev, 0, sizeof(*ev));
		ev->type = MIME_EV_HEADER;
		ev->part = p->cur;
		ev->field = &p->field;
		return 1;
	}
	if (r == 0) {
		/* the line went into the open field */
		consume_line(p, p->hp_line);
		p->hp_line = 0;
		return 0;
	}
	if (r > 0) {
		uint64_t abs = p->cur->header_offset + f.body_offset;
		if (p->hp_line > 0 && abs == line_start + p->hp_line)
			consume_line(p, p->hp_line);
		end_header(p, f.no_blank_line);
		return 0;
	}
	/* not reached: the limits given to the header parser are above ours */
	p->cur->flags |= MIME_PART_HEADER_CUT;
	end_header(p, true);
	return 0;
}

static enum step step_body(struct mime_parser *p)
{
	const char *line = buf_cstr(&p->in) + p->pos;
	size_t avail = p->in.len - p->pos;
	struct mime_part *m;
	bool close;

	if (avail == 0)
		return p->eof ? STEP_EOF : STEP_NEED;
	if (p->mid_line) {
		const char *lf = memchr(line, '\n', avail);
		size_t n = lf != NULL ? (size_t)(lf - line) + 1 : avail;
		if (lf != NULL) {
			bool crlf = n >= 2 ? line[n - 2] == '\r' : p->last_cr;
			size_t content = p->line_len + n - 1 - (crlf ? 1 : 0);
			p->lf_total++;
			if (!crlf)
				p->bare_total++;
			p->prev_eol = crlf ? 2 : 1;
			p->prev_empty = content == 0;
			p->mid_line = false;
			p->line_len = 0;
			p->last_cr = false;
			p->last_lf = true;
		} else {
			p->line_len += n;
			p->last_cr = line[n - 1] == '\r';
			p->last_lf = false;
		}
		p->pos += n;
		if (lf != NULL && p->boundary_line) {
			p->boundary_line = false;
			if (p->new_child_of != NULL) {
				struct mime_part *parent = p->new_child_of;
				p->new_child_of = NULL;
				new_part(p, parent, offset(p));
			}
		}
		return STEP_PROGRESS;
	}
	const char *lf = memchr(line, '\n', avail);
	bool complete = lf != NULL || p->eof;
	size_t content = lf != NULL ? (size_t)(lf - line) : avail;
	if (lf != NULL && content > 0 && line[content - 1] == '\r')
		content--;
	int c = classify(p, avail, content, complete, &m, &close);
	if (c < 0)
		return STEP_NEED;
	if (c > 0) {
		handle_boundary(p, m, close);
		return STEP_PROGRESS;
	}
	p->mid_line = true;
	p->boundary_line = false;
	p->line_len = 0;
	p->last_cr = false;
	return STEP_PROGRESS;
}

static void at_eof(struct mime_parser *p)
{
	if (p->new_child_of != NULL) {
		/* a boundary line that the input ends in: an empty part */
		struct mime_part *parent = p->new_child_of;
		p->new_child_of = NULL;
		p->boundary_line = false;
		p->mid_line = false;
		new_part(p, parent, offset(p));
		return;
	}
	struct cut c = {offset(p), p->lf_total, p->bare_total, p->last_lf};
	for (struct mime_part *q = p->cur; q != NULL; q = q->parent)
		end_part(q, &c);
	p->state = MIME_STATE_END;
}

int mime_parser_next(struct mime_parser *p, struct mime_event *ev)
{
	for (;;) {
		enum step s;

		if (p->state == MIME_STATE_END) {
			memset(ev, 0, sizeof(*ev));
			ev->type = MIME_EV_END;
			ev->part = p->root;
			return 1;
		}
		if (p->state == MIME_STATE_HEADER && (p->hp_line > 0 || p->hp_finished)) {
			if (drain_header(p, ev) > 0)
				return 1;
			continue;
		}
		s = p->state == MIME_STATE_HEADER ? step_header(p) : step_body(p);
		if (s == STEP_NEED)
			return 0;
		if (s == STEP_EOF)
			at_eof(p);
	}
}

struct mime_part *mime_parse(const void *data, size_t len, const struct mime_limits *limits)
{
	struct mime_parser *p = mime_parser_create(limits);
	struct mime_event ev;
	struct mime_part *root;

	mime_parser_feed(p, data, len);
	mime_parser_finish(p);
	while (mime_parser_next(p, &ev) > 0 && ev.type != MIME_EV_END)
		;
	root = mime_parser_steal(p);
	mime_parser_destroy(&p);
	return root;
}
