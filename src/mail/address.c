/*
 * address.c - SMTP envelope path parser (see address.h).
 *
 * The grammar followed is RFC 5321 section 4.1.2:
 *   Path         = "<" [ A-d-l ":" ] Mailbox ">"
 *   A-d-l        = At-domain *( "," At-domain )
 *   At-domain    = "@" Domain
 *   Mailbox      = Local-part "@" ( Domain / address-literal )
 *   Local-part   = Dot-string / Quoted-string
 *   Dot-string   = Atom *( "." Atom )
 *   Quoted-string = DQUOTE *QcontentSMTP DQUOTE
 *   QcontentSMTP = qtextSMTP / quoted-pairSMTP
 *   quoted-pairSMTP = %d92 %d32-126
 *   qtextSMTP    = %d32-33 / %d35-91 / %d93-126
 *   Domain       = sub-domain *( "." sub-domain )
 *   sub-domain   = Let-dig [ Ldh-str ]
 * with RFC 6531's additions (atext, qtextSMTP and sub-domain also take
 * UTF8-non-ascii) when ADDRESS_PARSE_UTF8 is given. Every loop advances
 * through the input once; nothing is written past the fixed arrays of
 * struct address because the length limits are checked before copying.
 */
#include "mail/address.h"
#include "mail/utf8.h"
#include "core/buf.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#define LABEL_MAX 63

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* atext of RFC 5322 section 3.2.3, ASCII part. */
static bool is_atext(unsigned char c)
{
	if (is_alpha(c) || is_digit(c))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/*
 * take_8bit: s[i] is >= 0x80: the length of the UTF-8 character there,
 * or 0 with *err set (8BIT without SMTPUTF8, BAD_UTF8 with it).
 */
static size_t take_8bit(const char *s, size_t len, size_t i, unsigned int pflags,
                        enum address_error *err)
{
	if ((pflags & ADDRESS_PARSE_UTF8) == 0) {
		*err = ADDRESS_ERR_8BIT;
		return 0;
	}
	size_t n = utf8_char_len((const unsigned char *)s + i, len - i);
	if (n == 0)
		*err = ADDRESS_ERR_BAD_UTF8;
	return n;
}

/* IPv4 in dotted-quad form: four Snum of 1-3 digits, each 0..255. */
static bool ipv4_literal_valid(const char *s, size_t len)
{
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= len || s[i] != '.')
				return false;
			i++;
		}
		unsigned int v = 0, digits = 0;
		while (i < len && is_digit((unsigned char)s[i]) && digits < 3) {
			v = v * 10 + (unsigned int)(s[i] - '0');
			digits++;
			i++;
		}
		if (digits == 0 || v > 255)
			return false;
	}
	return i == len;
}

/* The part after "IPv6:": hex digits, ':' and '.', what inet_pton takes. */
static bool ipv6_literal_valid(const char *s, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];
	unsigned char bin[16];
	if (len == 0 || len >= sizeof(tmp))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!is_digit(c) && !(c >= 'a' && c <= 'f') && !(c >= 'A' && c <= 'F') &&
		    c != ':' && c != '.')
			return false;
	}
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return inet_pton(AF_INET6, tmp, bin) == 1;
}

/*
 * parse_domain_at: a Domain or address literal starting at s[*ip]. Stops
 * at the first byte that cannot continue it; the caller checks that byte.
 * When out is not NULL the domain is copied there as written. Adds
 * ADDRESS_LITERAL, _LITERAL_IPV6, _TRAILING_DOT and _UTF8 to *flags.
 */
static int parse_domain_at(const char *s, size_t len, size_t *ip, unsigned int pflags, char *out,
                           unsigned int *flags, enum address_error *err)
{
	size_t start = *ip, i = *ip;

	if (i < len && s[i] == '[') {
		size_t j = i + 1;
		while (j < len && s[j] != ']' && j - start <= ADDRESS_DOMAIN_MAX)
			j++;
		if (j - start > ADDRESS_DOMAIN_MAX) {
			*err = ADDRESS_ERR_DOMAIN_TOO_LONG;
			return -1;
		}
		if (j >= len) {
			*err = ADDRESS_ERR_SYNTAX;
			return -1;
		}
		const char *lit = s + i + 1;
		size_t lit_len = j - i - 1;
		if (lit_len > 5 && strncasecmp(lit, "IPv6:", 5) == 0) {
			if (!ipv6_literal_valid(lit + 5, lit_len - 5)) {
				*err = ADDRESS_ERR_SYNTAX;
				return -1;
			}
			*flags |= ADDRESS_LITERAL_IPV6;
		} else if (!ipv4_literal_valid(lit, lit_len)) {
			*err = ADDRESS_ERR_SYNTAX;
			return -1;
		}
		*flags |= ADDRESS_LITERAL;
		i = j + 1;
	} else {
		bool trailing_dot = false;
		for (;;) {
			size_t label = i;
			bool ascii = true;
			while (i < len) {
				unsigned char c = (unsigned char)s[i];
				if (is_alpha(c) || is_digit(c) || c == '-') {
					i++;
				} else if (c >= 0x80) {
					size_t n = take_8bit(s, len, i, pflags, err);
					if (n == 0)
						return -1;
					ascii = false;
					i += n;
				} else {
					break;
				}
				if (i - start > ADDRESS_DOMAIN_MAX) {
					*err = ADDRESS_ERR_DOMAIN_TOO_LONG;
					return -1;
				}
			}
			if (i == label) {
				/* an empty label: only as the end after a dot */
				bool more = i < len && s[i] == '.';
				if (label == start || more) {
					*err = ADDRESS_ERR_SYNTAX;
					return -1;
				}
				trailing_dot = true;
				break;
			}
			if (s[label] == '-' || s[i - 1] == '-' ||
			    (ascii && i - label > LABEL_MAX)) {
				*err = ADDRESS_ERR_SYNTAX;
				return -1;
			}
			if (!ascii)
				*flags |= ADDRESS_UTF8;
			if (i < len && s[i] == '.') {
				i++;
				if (i - start > ADDRESS_DOMAIN_MAX) {
					*err = ADDRESS_ERR_DOMAIN_TOO_LONG;
					return -1;
				}
				continue;
			}
			break;
		}
		if (trailing_dot)
			*flags |= ADDRESS_TRAILING_DOT;
	}
	if (i - start > ADDRESS_DOMAIN_MAX) {
		*err = ADDRESS_ERR_DOMAIN_TOO_LONG;
		return -1;
	}
	if (out != NULL) {
		memcpy(out, s + start, i - start);
		out[i - start] = '\0';
	}
	*ip = i;
	return 0;
}

/*
 * parse_local: Dot-string or Quoted-string at s[*ip] into a->local
 * (de-quoted). Stops after the local part.
 */
static int parse_local(const char *s, size_t len, size_t *ip, unsigned int pflags,
                       struct address *a, enum address_error *err)
{
	size_t start = *ip, i = *ip, out = 0;

	if (i < len && s[i] == '"') {
		i++;
		for (;;) {
			if (i >= len) {
				*err = ADDRESS_ERR_SYNTAX;
				return -1;
			}
			unsigned char c = (unsigned char)s[i];
			size_t n = 1;
			const char *from = s + i;
			if (c == '"') {
				i++;
				break;
			}
			if (c == '\\') {
				if (i + 1 >= len) {
					*err = ADDRESS_ERR_SYNTAX;
					return -1;
				}
				unsigned char q = (unsigned char)s[i + 1];
				if (q < 32 || q > 126) {
					*err = q >= 0x80 && (pflags & ADDRESS_PARSE_UTF8) == 0
					           ? ADDRESS_ERR_8BIT
					           : ADDRESS_ERR_SYNTAX;
					return -1;
				}
				from = s + i + 1;
				i++; /* the backslash; the byte itself below */
			} else if (c >= 0x80) {
				n = take_8bit(s, len, i, pflags, err);
				if (n == 0)
					return -1;
				a->flags |= ADDRESS_UTF8;
			} else if (c < 32 || c == 127) {
				*err = ADDRESS_ERR_SYNTAX;
				return -1;
			}
			/* +1: the closing quote still has to come */
			if (i + n + 1 - start > ADDRESS_LOCAL_MAX) {
				*err = ADDRESS_ERR_LOCAL_TOO_LONG;
				return -1;
			}
			memcpy(a->local + out, from, n);
			out += n;
			i += n;
		}
		if (out == 0) {
			*err = ADDRESS_ERR_SYNTAX; /* "" is legal in RFC 5321 but no mailbox */
			return -1;
		}
		a->flags |= ADDRESS_QUOTED;
	} else {
		bool loose = false;
		while (i < len) {
			unsigned char c = (unsigned char)s[i];
			size_t n = 1;
			if (c >= 0x80) {
				n = take_8bit(s, len, i, pflags, err);
				if (n == 0)
					return -1;
				a->flags |= ADDRESS_UTF8;
			} else if (c == '.') {
				if (i == start || s[i - 1] == '.')
					loose = true;
			} else if (!is_atext(c)) {
				break;
			}
			if (i + n - start > ADDRESS_LOCAL_MAX) {
				*err = ADDRESS_ERR_LOCAL_TOO_LONG;
				return -1;
			}
			memcpy(a->local + out, s + i, n);
			out += n;
			i += n;
		}
		if (out == 0) {
			*err = ADDRESS_ERR_SYNTAX;
			return -1;
		}
		if (s[i - 1] == '.')
			loose = true;
		if (loose)
			a->flags |= ADDRESS_LOOSE_DOTS;
	}
	a->local[out] = '\0';
	*ip = i;
	return 0;
}

/* mailbox_end: s[i] closes the mailbox (">" or, without brackets, SP/end). */
static bool mailbox_end(const char *s, size_t len, size_t i, bool brackets)
{
	if (brackets)
		return i < len && s[i] == '>';
	return i == len || s[i] == ' ';
}

static int path_fail(struct address *a, enum address_error *error_r, enum address_error err)
{
	memset(a, 0, sizeof(*a));
	*error_r = err;
	return -1;
}

int address_parse_path(const char *s, size_t len, unsigned int pflags, struct address *a,
                       size_t *consumed_r, enum address_error *error_r)
{
	enum address_error err = ADDRESS_ERR_SYNTAX;
	size_t i = 0;
	bool brackets = false;

	memset(a, 0, sizeof(*a));
	if (len > 0 && s[0] == '<') {
		brackets = true;
		i = 1;
	} else if ((pflags & ADDRESS_PARSE_BRACKETS_OPTIONAL) == 0) {
		return path_fail(a, error_r, ADDRESS_ERR_SYNTAX);
	} else {
		a->flags |= ADDRESS_NO_BRACKETS;
	}

	if (brackets && i < len && s[i] == '>') {
		if ((pflags & ADDRESS_PARSE_ALLOW_NULL) == 0)
			return path_fail(a, error_r, ADDRESS_ERR_SYNTAX);
		a->flags |= ADDRESS_NULL;
		i++;
		goto done;
	}

	/* Source route: "@a,@b:" - each hop checked, then forgotten. */
	if (i < len && s[i] == '@') {
		unsigned int route_flags = 0;
		a->flags |= ADDRESS_SOURCE_ROUTE;
		for (;;) {
			i++; /* '@' */
			if (parse_domain_at(s, len, &i, pflags, NULL, &route_flags, &err) < 0)
				return path_fail(a, error_r, err);
			if (i > ADDRESS_PATH_MAX)
				return path_fail(a, error_r, ADDRESS_ERR_PATH_TOO_LONG);
			if (i < len && s[i] == ',') {
				i++;
				if (i >= len || s[i] != '@')
					return path_fail(a, error_r, ADDRESS_ERR_SYNTAX);
				continue;
			}
			if (i < len && s[i] == ':') {
				i++;
				break;
			}
			return path_fail(a, error_r, ADDRESS_ERR_SYNTAX);
		}
	}

	if (parse_local(s, len, &i, pflags, a, &err) < 0)
		return path_fail(a, error_r, err);

	if (i < len && s[i] == '@') {
		i++;
		if (parse_domain_at(s, len, &i, pflags, a->domain, &a->flags, &err) < 0)
			return path_fail(a, error_r, err);
	} else if (!mailbox_end(s, len, i, brackets)) {
		return path_fail(a, error_r, ADDRESS_ERR_SYNTAX);
	} else if ((pflags & ADDRESS_PARSE_ALLOW_POSTMASTER) != 0 &&
	           (a->flags & (ADDRESS_QUOTED | ADDRESS_SOURCE_ROUTE)) == 0 &&
	           strcasecmp(a->local, "postmaster") == 0) {
		a->flags |= ADDRESS_POSTMASTER;
	} else {
		return path_fail(a, error_r, ADDRESS_ERR_NO_DOMAIN);
	}
	if (!mailbox_end(s, len, i, brackets))
		return path_fail(a, error_r, ADDRESS_ERR_SYNTAX);
	if (brackets)
		i++;

done:
	if (i + (brackets ? 0 : 2) > ADDRESS_PATH_MAX)
		return path_fail(a, error_r, ADDRESS_ERR_PATH_TOO_LONG);
	if (consumed_r != NULL)
		*consumed_r = i;
	else if (i != len)
		return path_fail(a, error_r, ADDRESS_ERR_SYNTAX);
	*error_r = ADDRESS_OK;
	return 0;
}

int address_parse_domain(const char *s, size_t len, unsigned int pflags, unsigned int *flags_r,
                         enum address_error *error_r)
{
	enum address_error err = ADDRESS_ERR_SYNTAX;
	unsigned int flags = 0;
	size_t i = 0;

	*flags_r = 0;
	if (parse_domain_at(s, len, &i, pflags, NULL, &flags, &err) < 0) {
		*error_r = err;
		return -1;
	}
	if (i != len) {
		*error_r = (i < len && (unsigned char)s[i] >= 0x80) ? ADDRESS_ERR_8BIT
		                                                    : ADDRESS_ERR_SYNTAX;
		return -1;
	}
	*flags_r = flags;
	*error_r = ADDRESS_OK;
	return 0;
}

const char *address_error_str(enum address_error err)
{
	switch (err) {
	case ADDRESS_OK:
		return "ok";
	case ADDRESS_ERR_SYNTAX:
		return "bad address syntax";
	case ADDRESS_ERR_NO_DOMAIN:
		return "address without domain";
	case ADDRESS_ERR_LOCAL_TOO_LONG:
		return "local part too long";
	case ADDRESS_ERR_DOMAIN_TOO_LONG:
		return "domain too long";
	case ADDRESS_ERR_PATH_TOO_LONG:
		return "path too long";
	case ADDRESS_ERR_8BIT:
		return "non-ASCII address without SMTPUTF8";
	case ADDRESS_ERR_BAD_UTF8:
		return "address is not valid UTF-8";
	}
	return "unknown address error";
}

const char *address_error_reply(enum address_error err, bool rcpt, unsigned int *code_r,
                                const char **enhanced_r)
{
	*code_r = 501;
	*enhanced_r = rcpt ? "5.1.3" : "5.1.7";
	switch (err) {
	case ADDRESS_OK:
	case ADDRESS_ERR_SYNTAX:
		break;
	case ADDRESS_ERR_NO_DOMAIN:
		return rcpt ? "Recipient address must contain a domain"
		            : "Sender address must contain a domain";
	case ADDRESS_ERR_LOCAL_TOO_LONG:
		return rcpt ? "Recipient address local part too long"
		            : "Sender address local part too long";
	case ADDRESS_ERR_DOMAIN_TOO_LONG:
		return rcpt ? "Recipient address domain too long"
		            : "Sender address domain too long";
	case ADDRESS_ERR_PATH_TOO_LONG:
		return "Path too long";
	case ADDRESS_ERR_8BIT:
		*code_r = 553;
		*enhanced_r = "5.6.7";
		return rcpt ? "Non-ASCII recipient address requires SMTPUTF8"
		            : "Non-ASCII sender address requires SMTPUTF8";
	case ADDRESS_ERR_BAD_UTF8:
		return rcpt ? "Recipient address is not valid UTF-8"
		            : "Sender address is not valid UTF-8";
	}
	return rcpt ? "Bad recipient address syntax" : "Bad sender address syntax";
}

bool address_local_has_routing(const char *local)
{
	return strpbrk(local, "%!@") != NULL;
}

bool address_domain_is_fqdn(const char *domain)
{
	if (domain[0] == '[')
		return true;
	const char *dot = strchr(domain, '.');
	return dot != NULL && dot != domain && dot[1] != '\0';
}

void address_domain_canonical(const char *domain, char out[ADDRESS_DOMAIN_MAX + 1])
{
	size_t n = strnlen(domain, ADDRESS_DOMAIN_MAX);
	if (n > 0 && domain[n - 1] == '.')
		n--;
	for (size_t i = 0; i < n; i++)
		out[i] = lower(domain[i]);
	out[n] = '\0';
}

void address_canonical(const struct address *a, struct buf *out)
{
	if ((a->flags & ADDRESS_NULL) != 0)
		return;
	if ((a->flags & ADDRESS_POSTMASTER) != 0) {
		buf_append_str(out, "postmaster");
		return;
	}
	char domain[ADDRESS_DOMAIN_MAX + 1];
	for (const char *p = a->local; *p != '\0'; p++)
		buf_append_c(out, lower(*p));
	buf_append_c(out, '@');
	address_domain_canonical(a->domain, domain);
	buf_append_str(out, domain);
}

/* local_is_dot_atom: local needs no quotes (UTF-8 counts as atext). */
static bool local_is_dot_atom(const char *local)
{
	size_t n = strlen(local);
	if (n == 0 || local[0] == '.' || local[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)local[i];
		if (c == '.') {
			if (local[i + 1] == '.')
				return false;
		} else if (c < 0x80 && !is_atext(c)) {
			return false;
		}
	}
	return true;
}

void address_format(const struct address *a, struct buf *out)
{
	if ((a->flags & ADDRESS_NULL) != 0)
		return;
	if (local_is_dot_atom(a->local)) {
		buf_append_str(out, a->local);
	} else {
		buf_append_c(out, '"');
		for (const char *p = a->local; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				buf_append_c(out, '\\');
			buf_append_c(out, *p);
		}
		buf_append_c(out, '"');
	}
	if ((a->flags & ADDRESS_POSTMASTER) != 0)
		return;
	buf_append_c(out, '@');
	buf_append_str(out, a->domain);
}
