/*
 * utf8 - strict UTF-8 validation (RFC 3629 section 4).
 *
 * Owns: the decision whether a byte sequence is well-formed UTF-8: no
 * overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF,
 * no stray continuation bytes. Used wherever RFC 6531/6532 allow
 * UTF8-non-ascii (SMTPUTF8 addresses and parameters, headers).
 *
 * Pure functions, no allocation.
 */
#ifndef VMAILD_MAIL_UTF8_H
#define VMAILD_MAIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * utf8_char_len: the length (1..4) of the well-formed UTF-8 character at
 * the start of s (len bytes available), or 0 when those bytes do not start
 * with one (including a sequence cut off by len).
 */
size_t utf8_char_len(const unsigned char *s, size_t len);

/* utf8_valid: the whole of s[0..len) is well-formed UTF-8. */
bool utf8_valid(const void *s, size_t len);

#endif
