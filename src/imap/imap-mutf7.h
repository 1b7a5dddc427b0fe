/*
 * imap-mutf7 - IMAP's modified UTF-7 for mailbox names (RFC 3501
 * section 5.1.3, RFC 9051 section 5.1.3).
 *
 * Owns: checking a name as it comes from the wire (and as Dovecot stores
 * it on disk) and converting it to and from UTF-8. Printable US-ASCII
 * stands for itself except '&', written "&-"; anything else is "&", the
 * modified BASE64 (',' for '/') of its UTF-16BE, and "-". Refused: bytes
 * outside 0x20..0x7e, an unterminated or empty shift ("&-" excepted), a
 * shift encoding printable US-ASCII, "&" or a control character
 * (U+0000-U+001F, U+007F), padding bits that are not
 * zero, a half UTF-16 unit, an unpaired surrogate, two shifts in a row
 * (RFC: "&AGE-&AGI-" must be one shift).
 *
 * Pure; 0 / -1 with a static message in *error_r.
 */
#ifndef VMAILD_IMAP_MUTF7_H
#define VMAILD_IMAP_MUTF7_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/* imap_mutf7_check: is s[0..len) valid modified UTF-7? */
int imap_mutf7_check(const char *s, size_t len, const char **error_r);
/* imap_mutf7_to_utf8: decode into out (appended). -1 when not valid. */
int imap_mutf7_to_utf8(const char *s, size_t len, struct buf *out, const char **error_r);
/* imap_utf8_to_mutf7: encode valid UTF-8 into out (appended). -1 when
 * s is not valid UTF-8 or holds a control character. */
int imap_utf8_to_mutf7(const char *s, size_t len, struct buf *out, const char **error_r);

#endif
