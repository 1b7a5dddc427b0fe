/*
 * address - SMTP envelope paths (RFC 5321 section 4.1.2, RFC 6531).
 *
 * Owns: the syntax of the argument of MAIL FROM: and RCPT TO:, i.e.
 *   "<>"  "<local@domain>"  "<@route,@route:local@domain>"
 *   "<\"quoted local\"@domain>"  "<local@[1.2.3.4]>"  "<local@[IPv6:...]>"
 *   "<postmaster>"  (RCPT only, RFC 5321 section 4.5.1)
 * and the helpers a caller needs to judge the result (canonical lookup
 * key, routing characters in the local part, FQDN test).
 *
 * What is accepted and what is flagged (the caller decides):
 *  - a source route is parsed and discarded: ADDRESS_SOURCE_ROUTE;
 *  - a quoted local part is returned de-quoted: ADDRESS_QUOTED;
 *  - an address literal domain is returned as written, brackets included:
 *    ADDRESS_LITERAL (+ ADDRESS_LITERAL_IPV6);
 *  - a domain ending in '.' is returned as written: ADDRESS_TRAILING_DOT;
 *  - a path without angle brackets (Postfix's default,
 *    strict_rfc821_envelopes = no) only with ADDRESS_PARSE_BRACKETS_OPTIONAL:
 *    ADDRESS_NO_BRACKETS;
 *  - an unquoted local part with leading, trailing or doubled dots (seen
 *    from some mobile carriers; Postfix takes them): ADDRESS_LOOSE_DOTS;
 *  - '%', '!' and '@' inside the local part are just characters; see
 *    address_local_has_routing().
 * Rejected: empty local part (also `""`), a mailbox without domain (except
 * <postmaster> when allowed), domains that are not LDH labels of at most
 * 63 octets, address literals other than dotted-quad IPv4 and
 * "IPv6:"-tagged IPv6, control characters anywhere, non-ASCII bytes
 * without ADDRESS_PARSE_UTF8, ill-formed UTF-8 with it.
 *
 * Limits (RFC 5321 section 4.5.3.1): local part <= 64 octets as written
 * (quotes and backslashes included), domain <= 255 octets, whole path
 * <= 256 octets including the angle brackets (counted as if present).
 *
 * Returns: address_parse_path() 0 / -1 with an enum address_error whose
 * reply comes from address_error_reply(). Pure: no I/O, no
 * allocation (struct address holds fixed arrays).
 */
#ifndef VMAILD_MAIL_ADDRESS_H
#define VMAILD_MAIL_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

#define ADDRESS_LOCAL_MAX  64
#define ADDRESS_DOMAIN_MAX 255
#define ADDRESS_PATH_MAX   256

/* Options of address_parse_path(). */
enum address_parse_flags {
	ADDRESS_PARSE_ALLOW_NULL = 1 << 0,        /* "<>" (MAIL FROM, AUTH=) */
	ADDRESS_PARSE_ALLOW_POSTMASTER = 1 << 1,  /* "<postmaster>" (RCPT TO) */
	ADDRESS_PARSE_UTF8 = 1 << 2,              /* SMTPUTF8 in force */
	ADDRESS_PARSE_BRACKETS_OPTIONAL = 1 << 3, /* "user@domain" without <> */
};

/* What the parsed path looked like (struct address.flags). */
enum address_flag {
	ADDRESS_NULL = 1 << 0,         /* "<>": local and domain are "" */
	ADDRESS_POSTMASTER = 1 << 1,   /* "<postmaster>": domain is "" */
	ADDRESS_SOURCE_ROUTE = 1 << 2, /* "@a,@b:" was given (and dropped) */
	ADDRESS_QUOTED = 1 << 3,       /* local part was a quoted string */
	ADDRESS_LITERAL = 1 << 4,      /* domain is an address literal [...] */
	ADDRESS_LITERAL_IPV6 = 1 << 5, /* ... of the form [IPv6:...] */
	ADDRESS_TRAILING_DOT = 1 << 6, /* domain ends with '.' */
	ADDRESS_NO_BRACKETS = 1 << 7,  /* path was not in <> */
	ADDRESS_UTF8 = 1 << 8,         /* non-ASCII in local part or domain */
	ADDRESS_LOOSE_DOTS = 1 << 9,   /* unquoted local part with bad dots */
};

enum address_error {
	ADDRESS_OK = 0,
	ADDRESS_ERR_SYNTAX,          /* not a path */
	ADDRESS_ERR_NO_DOMAIN,       /* "<user>" */
	ADDRESS_ERR_LOCAL_TOO_LONG,  /* > 64 octets */
	ADDRESS_ERR_DOMAIN_TOO_LONG, /* > 255 octets */
	ADDRESS_ERR_PATH_TOO_LONG,   /* > 256 octets */
	ADDRESS_ERR_8BIT,            /* non-ASCII without SMTPUTF8 */
	ADDRESS_ERR_BAD_UTF8,        /* ill-formed UTF-8 */
};

struct address {
	/* The local part, de-quoted when ADDRESS_QUOTED: never contains
	 * NUL or control characters; can contain anything else. */
	char local[ADDRESS_LOCAL_MAX + 1];
	/* The domain as written (case kept, literal with brackets, trailing
	 * dot kept). "" for the null path and for <postmaster>. */
	char domain[ADDRESS_DOMAIN_MAX + 1];
	unsigned int flags; /* enum address_flag */
};

/*
 * address_parse_path: parse the path at s[0..len) (the text after
 * "FROM:" / "TO:", leading spaces already skipped). The path ends at its
 * '>' or, without brackets, at the first SP or at len. When consumed_r is
 * NULL the path must fill s[0..len) exactly; otherwise *consumed_r is the
 * number of bytes used and the caller checks what follows.
 * Returns 0, or -1 with *error_r set and *addr_r zeroed.
 */
int address_parse_path(const char *s, size_t len, unsigned int parse_flags, struct address *addr_r,
                       size_t *consumed_r, enum address_error *error_r);

/*
 * address_parse_domain: s[0..len) is exactly one Domain (LDH labels, or
 * U-labels with ADDRESS_PARSE_UTF8, an optional trailing dot) or one
 * address literal. *flags_r gets ADDRESS_LITERAL, ADDRESS_LITERAL_IPV6,
 * ADDRESS_TRAILING_DOT and ADDRESS_UTF8 as they apply. Used for the
 * HELO/EHLO argument. Returns 0 or -1 with *error_r.
 */
int address_parse_domain(const char *s, size_t len, unsigned int parse_flags, unsigned int *flags_r,
                         enum address_error *error_r);

/* address_error_str: a short lower-case description for logs. */
const char *address_error_str(enum address_error err);

/*
 * address_error_reply: the SMTP reply for err: *code_r is 501 (syntax,
 * length) or 553 (non-ASCII without SMTPUTF8, RFC 6531 section 3.7.4),
 * *enhanced_r X.1.7 for a sender (rcpt false), X.1.3 for a recipient,
 * X.6.7 for non-ASCII (RFC 3463, RFC 5248); the result is the text, e.g.
 * 501 5.1.3 "Bad recipient address syntax". All static strings.
 */
const char *address_error_reply(enum address_error err, bool rcpt, unsigned int *code_r,
                                const char **enhanced_r);

/*
 * address_local_has_routing: local contains '%', '!' or '@', the marks of
 * the old relaying forms user%host@relay, host!user@relay and a quoted
 * "user@host"@relay. A relay check must not treat such a recipient as
 * local unless it knows what the local delivery does with them.
 */
bool address_local_has_routing(const char *local);

/*
 * address_domain_is_fqdn: domain has at least two labels (a trailing dot
 * does not count as one) or is an address literal - what Postfix's
 * reject_non_fqdn_* restrictions ask.
 */
bool address_domain_is_fqdn(const char *domain);

/*
 * address_domain_canonical: the lookup form of a domain into out
 * (ADDRESS_DOMAIN_MAX + 1 bytes): ASCII letters lower-cased, one trailing
 * dot removed; non-ASCII bytes are copied unchanged.
 */
void address_domain_canonical(const char *domain, char out[ADDRESS_DOMAIN_MAX + 1]);

/*
 * address_canonical: append the lookup key "local@domain" to out: local
 * part de-quoted with ASCII lower-cased (the guide's logins and lookups
 * are lower-case), domain as address_domain_canonical(). "" for the null
 * path, "postmaster" for <postmaster>. Not for putting on the wire.
 */
void address_canonical(const struct address *a, struct buf *out);

/*
 * address_format: append the mailbox as it goes on the wire (without
 * the angle brackets): the local part quoted again when it is not a
 * plain dot-atom, '@', the domain as written. "" for the null path.
 */
void address_format(const struct address *a, struct buf *out);

#endif
