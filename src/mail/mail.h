/*
 * mail - the formats of Internet mail, as pure parsers.
 *
 * Owns: the syntax of what travels in SMTP and in messages: envelope
 * addresses (address.h, RFC 5321 / RFC 6531), the header section of a
 * message (header.h, RFC 5322), strict UTF-8 validation (utf8.h), and
 * the MIME structure with RFC 2231 parameters, RFC 2047 words and charset
 * conversion through iconv (mime.h).
 *
 * Must not: do I/O, log, look anything up or keep global state. Every
 * parser here takes bounded input or a limits struct and reports distinct
 * errors for bad syntax, too long and too large; policy (who may send
 * what) belongs to the callers in smtp/, imap/ and auth/.
 *
 * Depends on: core (xalloc, buf) only.
 */
#ifndef VMAILD_MAIL_MAIL_H
#define VMAILD_MAIL_MAIL_H

#include "mail/address.h"
#include "mail/header.h"
#include "mail/mime.h"
#include "mail/utf8.h"

#endif
