/*
 * decode.c - base64 and quoted-printable decoders, a part's text as UTF-8
 * (see decode.h).
 */
#include "mail/decode.h"

#include "mail/mime.h"
#include "mail/utf8.h"

#include <string.h>

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void b64_error(struct decode_base64 *d, const char *msg)
{
	if (!d->error) {
		d->error = true;
		d->error_msg = msg;
	}
}

void decode_base64_init(struct decode_base64 *d)
{
	memset(d, 0, sizeof(*d));
}

/* flush a group of 2 or 3 sextets (from padding or the end) */
static void b64_flush(struct decode_base64 *d, struct buf *out)
{
	if (d->nsext == 2) {
		buf_append_c(out, (char)(d->acc >> 4));
	} else if (d->nsext == 3) {
		buf_append_c(out, (char)(d->acc >> 10));
		buf_append_c(out, (char)(d->acc >> 2));
	} else if (d->nsext == 1) {
		b64_error(d, "Invalid base64 data: incomplete group");
	}
	d->acc = 0;
	d->nsext = 0;
}

void decode_base64_feed(struct decode_base64 *d, const void *data, size_t len, struct buf *out)
{
	const unsigned char *s = data;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];
		int v = b64_value(c);
		if (d->padded) {
			if (c != '=' && !is_space(c))
				b64_error(d, "Invalid base64 data: data after padding");
			continue;
		}
		if (v >= 0) {
			d->acc = (d->acc << 6) | (unsigned int)v;
			if (++d->nsext == 4) {
				buf_append_c(out, (char)(d->acc >> 16));
				buf_append_c(out, (char)(d->acc >> 8));
				buf_append_c(out, (char)d->acc);
				d->acc = 0;
				d->nsext = 0;
			}
		} else if (c == '=') {
			if (d->nsext < 2)
				b64_error(d, "Invalid base64 data: misplaced padding");
			b64_flush(d, out);
			d->padded = true;
		} else if (!is_space(c)) {
			b64_error(d, "Invalid base64 data: bad character");
		}
	}
}

int decode_base64_finish(struct decode_base64 *d, struct buf *out, const char **error_r)
{
	if (!d->padded && d->nsext > 0)
		b64_flush(d, out);
	if (d->error) {
		*error_r = d->error_msg;
		return -1;
	}
	return 0;
}

int decode_base64(const void *data, size_t len, struct buf *out, const char **error_r)
{
	struct decode_base64 d;
	decode_base64_init(&d);
	decode_base64_feed(&d, data, len, out);
	return decode_base64_finish(&d, out, error_r);
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int decode_qp(const void *data, size_t len, struct buf *out, const char **error_r)
{
	const unsigned char *s = data;
	bool bad = false;
	size_t i = 0;
	while (i < len) {
		/* one line: s[i..eol) and its line end */
		size_t eol = i;
		while (eol < len && s[eol] != '\n')
			eol++;
		size_t end = eol;
		bool has_lf = eol < len, has_cr = false;
		if (has_lf && end > i && s[end - 1] == '\r') {
			end--;
			has_cr = true;
		}
		/* trailing white space is padding (RFC 2045 6.7 rule 3) */
		size_t content = end;
		while (content > i && (s[content - 1] == ' ' || s[content - 1] == '\t'))
			content--;
		bool soft = content > i && s[content - 1] == '=';
		if (soft) {
			content--;
			if (!has_lf)
				bad = true; /* a soft line break needs a line end */
		}
		for (size_t j = i; j < content; j++) {
			int hi, lo;
			if (s[j] == '=' && j + 2 < content && (hi = hexval(s[j + 1])) >= 0 &&
			    (lo = hexval(s[j + 2])) >= 0) {
				buf_append_c(out, (char)(hi << 4 | lo));
				j += 2;
			} else {
				if (s[j] == '=')
					bad = true;
				buf_append_c(out, (char)s[j]);
			}
		}
		if (!soft && has_lf) {
			if (has_cr)
				buf_append_c(out, '\r');
			buf_append_c(out, '\n');
		}
		i = has_lf ? eol + 1 : eol;
	}
	if (bad) {
		*error_r = "Invalid quoted-printable data: bad escape";
		return -1;
	}
	return 0;
}

static bool is_identity(const char *enc)
{
	return enc == NULL || enc[0] == '\0' || strcmp(enc, "7bit") == 0 ||
	       strcmp(enc, "8bit") == 0 || strcmp(enc, "binary") == 0;
}

bool decode_cte_known(const char *encoding)
{
	return is_identity(encoding) || strcmp(encoding, "base64") == 0 ||
	       strcmp(encoding, "quoted-printable") == 0;
}

int decode_cte(const char *encoding, const void *data, size_t len, struct buf *out,
               const char **error_r)
{
	if (is_identity(encoding)) {
		buf_append(out, data, len);
		return 0;
	}
	if (strcmp(encoding, "base64") == 0)
		return decode_base64(data, len, out, error_r);
	if (strcmp(encoding, "quoted-printable") == 0)
		return decode_qp(data, len, out, error_r);
	*error_r = "Unknown transfer encoding";
	return -1;
}

void decode_part_text(const struct mime_part *part, const char *msg, size_t len, struct buf *out)
{
	if (part->children != NULL)
		return;
	uint64_t start = part->body_offset, end = part->body_end;
	if (end > len)
		end = len;
	if (start > end)
		start = end;
	struct buf raw = BUF_INIT;
	const char *error;
	const char *data = msg + start;
	size_t n = (size_t)(end - start);
	if (!is_identity(part->encoding)) {
		if (decode_cte(part->encoding, data, n, &raw, &error) < 0 && raw.len == 0 &&
		    !decode_cte_known(part->encoding))
			buf_append(&raw, data, n);
		data = raw.data != NULL ? raw.data : "";
		n = raw.len;
	}
	const char *charset = mime_param_get(&part->params, "charset");
	if (charset == NULL || charset[0] == '\0')
		charset = "us-ascii";
	if (mime_charset_to_utf8(charset, data, n, out) < 0)
		mime_charset_to_utf8("utf-8", data, n, out);
	buf_free(&raw);
}
