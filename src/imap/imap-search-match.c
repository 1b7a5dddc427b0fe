/*
 * imap-search-match.c - substring matching of SEARCH (see imap-search.h):
 * a simple Unicode case folding (the "C" and "S" mappings of the Unicode
 * CaseFolding table) for ASCII, Latin-1 Supplement, Latin Extended-A,
 * Greek and Cyrillic. Characters outside those blocks fold to themselves,
 * so they compare exactly. Bytes that are not well-formed UTF-8 are copied
 * as they are and compare exactly.
 */
#include "imap/imap-search.h"

#include "mail/utf8.h"

#include <string.h>

/* pairs: upper case at even code points, lower at odd ones */
static uint32_t fold_even_pair(uint32_t c)
{
	return (c & 1) == 0 ? c + 1 : c;
}

/* pairs: upper case at odd code points */
static uint32_t fold_odd_pair(uint32_t c)
{
	return (c & 1) == 1 ? c + 1 : c;
}

static uint32_t fold_latin(uint32_t c)
{
	if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		return c + 0x20;
	if (c == 0xb5)
		return 0x3bc; /* MICRO SIGN -> GREEK SMALL LETTER MU */
	if (c >= 0x100 && c <= 0x12f)
		return fold_even_pair(c);
	if (c >= 0x132 && c <= 0x137)
		return fold_even_pair(c);
	if (c >= 0x139 && c <= 0x148)
		return fold_odd_pair(c);
	if (c >= 0x14a && c <= 0x177)
		return fold_even_pair(c);
	if (c == 0x178)
		return 0xff;
	if (c >= 0x179 && c <= 0x17e)
		return fold_odd_pair(c);
	if (c == 0x17f)
		return 's';
	return c;
}

static uint32_t fold_greek(uint32_t c)
{
	if (c >= 0x391 && c <= 0x3ab && c != 0x3a2)
		return c + 0x20;
	switch (c) {
	case 0x345:
		return 0x3b9;
	case 0x370:
	case 0x372:
	case 0x376:
		return c + 1;
	case 0x37f:
		return 0x3f3;
	case 0x386:
		return 0x3ac;
	case 0x388:
	case 0x389:
	case 0x38a:
		return c + 0x25;
	case 0x38c:
		return 0x3cc;
	case 0x38e:
	case 0x38f:
		return c + 0x3f;
	case 0x3c2:
		return 0x3c3;
	case 0x3cf:
		return 0x3d7;
	case 0x3d0:
		return 0x3b2;
	case 0x3d1:
		return 0x3b8;
	case 0x3d5:
		return 0x3c6;
	case 0x3d6:
		return 0x3c0;
	case 0x3f0:
		return 0x3ba;
	case 0x3f1:
		return 0x3c1;
	case 0x3f4:
		return 0x3b8;
	case 0x3f5:
		return 0x3b5;
	case 0x3f7:
	case 0x3fa:
		return c + 1;
	case 0x3f9:
		return 0x3f2;
	case 0x3fd:
	case 0x3fe:
	case 0x3ff:
		return c - 0x82;
	}
	if (c >= 0x3d8 && c <= 0x3ef)
		return fold_even_pair(c);
	return c;
}

static uint32_t fold_cyrillic(uint32_t c)
{
	if (c >= 0x400 && c <= 0x40f)
		return c + 0x50;
	if (c >= 0x410 && c <= 0x42f)
		return c + 0x20;
	if (c >= 0x460 && c <= 0x481)
		return fold_even_pair(c);
	if (c >= 0x48a && c <= 0x4bf)
		return fold_even_pair(c);
	if (c == 0x4c0)
		return 0x4cf;
	if (c >= 0x4c1 && c <= 0x4ce)
		return fold_odd_pair(c);
	if (c >= 0x4d0 && c <= 0x52f)
		return fold_even_pair(c);
	return c;
}

uint32_t imap_search_unicode_fold(uint32_t c)
{
	if (c < 0x80)
		return c >= 'A' && c <= 'Z' ? c + 0x20 : c;
	if (c < 0x180)
		return fold_latin(c);
	if (c >= 0x345 && c < 0x400)
		return fold_greek(c);
	if (c >= 0x400 && c < 0x530)
		return fold_cyrillic(c);
	return c;
}

static void put_utf8(struct buf *out, uint32_t c)
{
	char b[4];
	size_t n;
	if (c < 0x80) {
		b[0] = (char)c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = (char)(0xc0 | (c >> 6));
		b[1] = (char)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		b[0] = (char)(0xe0 | (c >> 12));
		b[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		b[2] = (char)(0x80 | (c & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (c >> 18));
		b[1] = (char)(0x80 | ((c >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((c >> 6) & 0x3f));
		b[3] = (char)(0x80 | (c & 0x3f));
		n = 4;
	}
	buf_append(out, b, n);
}

void imap_search_fold(const char *s, size_t len, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	buf_reserve(out, len);
	while (i < len) {
		/* fast path: a run of ASCII */
		if (p[i] < 0x80) {
			char c = (char)p[i];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c + 0x20);
			buf_append_c(out, c);
			i++;
			continue;
		}
		size_t n = utf8_char_len(p + i, len - i);
		if (n == 0) {
			buf_append_c(out, (char)p[i]);
			i++;
			continue;
		}
		uint32_t c;
		if (n == 2)
			c = ((uint32_t)(p[i] & 0x1f) << 6) | (p[i + 1] & 0x3f);
		else if (n == 3)
			c = ((uint32_t)(p[i] & 0x0f) << 12) | ((uint32_t)(p[i + 1] & 0x3f) << 6) |
			    (p[i + 2] & 0x3f);
		else
			c = ((uint32_t)(p[i] & 0x07) << 18) | ((uint32_t)(p[i + 1] & 0x3f) << 12) |
			    ((uint32_t)(p[i + 2] & 0x3f) << 6) | (p[i + 3] & 0x3f);
		uint32_t f = imap_search_unicode_fold(c);
		if (f == c)
			buf_append(out, s + i, n);
		else
			put_utf8(out, f);
		i += n;
	}
}

bool imap_search_substr(const char *hay, size_t hay_len, const char *folded_needle,
                        size_t needle_len, struct buf *scratch)
{
	if (needle_len == 0)
		return true;
	buf_reset(scratch);
	imap_search_fold(hay, hay_len, scratch);
	return memmem(scratch->data, scratch->len, folded_needle, needle_len) != NULL;
}
