/*
 * imap-mutf7.c - modified UTF-7 of mailbox names (see imap-mutf7.h).
 */
#include "imap/imap-mutf7.h"

#include <stdint.h>
#include <string.h>

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

static void put_utf8(struct buf *out, uint32_t cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (out != NULL)
		buf_append(out, b, n);
}

static int decode(const char *s, size_t len, struct buf *out, const char **error_r)
{
	bool after_shift = false; /* the last thing was a base64 shift */
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e) {
			*error_r = "not 7-bit printable";
			return -1;
		}
		if (c != '&') {
			if (out != NULL)
				buf_append_c(out, (char)c);
			after_shift = false;
			i++;
			continue;
		}
		i++;
		if (i < len && s[i] == '-') {
			if (out != NULL)
				buf_append_c(out, '&');
			after_shift = false;
			i++;
			continue;
		}
		if (after_shift) {
			*error_r = "two shifts in a row";
			return -1;
		}
		uint32_t bits = 0;
		unsigned nbits = 0;
		uint32_t high = 0; /* a pending high surrogate */
		unsigned units = 0;
		for (;;) {
			if (i >= len) {
				*error_r = "unterminated shift";
				return -1;
			}
			c = (unsigned char)s[i++];
			if (c == '-')
				break;
			int v = b64val(c);
			if (v < 0) {
				*error_r = "bad base64 character";
				return -1;
			}
			bits = (bits << 6) | (uint32_t)v;
			nbits += 6;
			if (nbits < 16)
				continue;
			nbits -= 16;
			uint32_t u = (bits >> nbits) & 0xffff;
			bits &= (1u << nbits) - 1;
			units++;
			if (high != 0) {
				if (u < 0xdc00 || u > 0xdfff) {
					*error_r = "unpaired surrogate";
					return -1;
				}
				put_utf8(out, 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00));
				high = 0;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				high = u;
			} else if (u >= 0xdc00 && u <= 0xdfff) {
				*error_r = "unpaired surrogate";
				return -1;
			} else if (u < 0x20 || u == 0x7f) {
				*error_r = "control character encoded";
				return -1;
			} else if (u >= 0x20 && u <= 0x7e) {
				*error_r = "printable US-ASCII encoded";
				return -1;
			} else {
				put_utf8(out, u);
			}
		}
		if (units == 0 || high != 0 || nbits >= 6 || bits != 0) {
			*error_r = units == 0 ? "empty shift" : "bad shift end";
			return -1;
		}
		after_shift = true;
	}
	return 0;
}

int imap_mutf7_check(const char *s, size_t len, const char **error_r)
{
	return decode(s, len, NULL, error_r);
}

int imap_mutf7_to_utf8(const char *s, size_t len, struct buf *out, const char **error_r)
{
	return decode(s, len, out, error_r);
}

/* flush_shift: the UTF-16BE bytes of one run as "&...-" */
static void flush_shift(struct buf *out, const unsigned char *u, size_t n)
{
	buf_append_c(out, '&');
	uint32_t bits = 0;
	unsigned nbits = 0;
	for (size_t i = 0; i < n; i++) {
		bits = (bits << 8) | u[i];
		nbits += 8;
		while (nbits >= 6) {
			nbits -= 6;
			buf_append_c(out, b64chars[(bits >> nbits) & 0x3f]);
		}
		bits &= (1u << nbits) - 1;
	}
	if (nbits > 0)
		buf_append_c(out, b64chars[(bits << (6 - nbits)) & 0x3f]);
	buf_append_c(out, '-');
}

static void put_unit(struct buf *run, uint32_t u)
{
	buf_append_c(run, (char)(u >> 8));
	buf_append_c(run, (char)(u & 0xff));
}

int imap_utf8_to_mutf7(const char *s, size_t len, struct buf *out, const char **error_r)
{
	struct buf tmp = BUF_INIT, run = BUF_INIT;
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;
		size_t n;
		if (c < 0x80) {
			cp = c;
			n = 1;
		} else if ((c & 0xe0) == 0xc0) {
			cp = c & 0x1f;
			n = 2;
		} else if ((c & 0xf0) == 0xe0) {
			cp = c & 0x0f;
			n = 3;
		} else if ((c & 0xf8) == 0xf0) {
			cp = c & 0x07;
			n = 4;
		} else {
			goto bad;
		}
		if (i + n > len)
			goto bad;
		for (size_t k = 1; k < n; k++) {
			unsigned char d = (unsigned char)s[i + k];
			if ((d & 0xc0) != 0x80)
				goto bad;
			cp = (cp << 6) | (d & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp < 0x20 || cp == 0x7f)
			goto bad;
		i += n;
		if (cp < 0x80) {
			if (run.len > 0) {
				flush_shift(&tmp, (const unsigned char *)run.data, run.len);
				buf_reset(&run);
			}
			if (cp == '&')
				buf_append(&tmp, "&-", 2);
			else
				buf_append_c(&tmp, (char)cp);
		} else if (cp >= 0x10000) {
			cp -= 0x10000;
			put_unit(&run, 0xd800 + (cp >> 10));
			put_unit(&run, 0xdc00 + (cp & 0x3ff));
		} else {
			put_unit(&run, cp);
		}
	}
	if (run.len > 0)
		flush_shift(&tmp, (const unsigned char *)run.data, run.len);
	if (tmp.len > 0)
		buf_append(out, tmp.data, tmp.len);
	buf_free(&tmp);
	buf_free(&run);
	return 0;
bad:
	buf_free(&tmp);
	buf_free(&run);
	*error_r = "not valid UTF-8 or a control character";
	return -1;
}
