/*
 * dir-syntax.c - what may be written into the directory: addresses and
 * domains checked against RFC 5321 / RFC 5322 before any SQL runs.
 *
 * Accepted: dot-atom local parts (RFC 5322 atext, no quoted strings, no
 * comments), host-name domains of LDH labels (RFC 1035 / 5890 A-labels).
 * Not accepted: domain literals ([192.0.2.1]), non-ASCII (an IDN must be
 * written as its xn-- A-label; SMTPUTF8 local parts are not supported),
 * trailing dots, anything with white space or control characters.
 * Limits: local part 64, domain 255, whole address 254 octets.
 */
#include "directory/directory-admin.h"
#include "directory/directory-private.h"
#include "core/xalloc.h"

#include <stdlib.h>
#include <string.h>

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 5322 atext */
static bool is_atext(unsigned char c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static const char *bad_char_message(unsigned char c)
{
	if (c < 0x20 || c == 0x7f)
		return "control character";
	if (c == ' ' || c == '\t')
		return "white space";
	if (c >= 0x80)
		return "non-ASCII character (write an IDN domain as its xn-- A-label)";
	return NULL;
}

int dir_domain_check(const char *domain, const char **error_r)
{
	size_t len = strlen(domain);
	if (len == 0) {
		*error_r = "empty domain";
		return -1;
	}
	if (len > DIR_DOMAIN_MAX) {
		*error_r = "domain longer than 255 octets";
		return -1;
	}
	if (domain[0] == '[') {
		*error_r = "domain literals ([address]) are not supported";
		return -1;
	}
	const char *label = domain;
	bool last_all_digits = false;
	for (;;) {
		size_t n = strcspn(label, ".");
		if (n == 0) {
			*error_r = label[0] == '\0'
			               ? "domain ends with a dot"
			               : "empty label in domain (two dots, or a leading dot)";
			return -1;
		}
		if (n > 63) {
			*error_r = "domain label longer than 63 octets";
			return -1;
		}
		bool digits = true;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)label[i];
			const char *bad = bad_char_message(c);
			if (bad != NULL) {
				*error_r = bad;
				return -1;
			}
			if (!is_alnum(c) && c != '-') {
				*error_r = "domain labels hold only letters, digits and hyphens";
				return -1;
			}
			if (!(c >= '0' && c <= '9'))
				digits = false;
		}
		if (label[0] == '-' || label[n - 1] == '-') {
			*error_r = "domain label starts or ends with a hyphen";
			return -1;
		}
		last_all_digits = digits;
		if (label[n] == '\0')
			break;
		label += n + 1;
	}
	if (last_all_digits) {
		*error_r = "domain looks like an IP address (top-level label all digits)";
		return -1;
	}
	return 0;
}

static int local_check(const char *local, size_t n, const char **error_r)
{
	if (n == 0) {
		*error_r = "empty local part";
		return -1;
	}
	if (n > DIR_LOCAL_MAX) {
		*error_r = "local part longer than 64 octets";
		return -1;
	}
	if (local[0] == '.' || local[n - 1] == '.') {
		*error_r = "local part starts or ends with a dot";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)local[i];
		const char *bad = bad_char_message(c);
		if (bad != NULL) {
			*error_r = bad;
			return -1;
		}
		if (c == '.') {
			if (local[i + 1] == '.') {
				*error_r = "two dots in a row in the local part";
				return -1;
			}
			continue;
		}
		if (!is_atext(c)) {
			*error_r = c == '"' ? "quoted local parts are not supported"
			                    : "character not allowed in a local part";
			return -1;
		}
	}
	return 0;
}

int dir_address_parse(const char *address, bool allow_catchall, char **local_r, char **domain_r,
                      const char **error_r)
{
	*local_r = NULL;
	*domain_r = NULL;
	const char *at = strrchr(address, '@');
	if (at == NULL) {
		*error_r = "not an address (no @)";
		return -1;
	}
	if (strlen(address) > DIR_ADDRESS_MAX) {
		*error_r = "address longer than 254 octets";
		return -1;
	}
	size_t n = (size_t)(at - address);
	if (n == 0 && !allow_catchall) {
		*error_r = "empty local part";
		return -1;
	}
	if (n > 0 && local_check(address, n, error_r) < 0)
		return -1;
	if (dir_domain_check(at + 1, error_r) < 0)
		return -1;
	if (n > 0) {
		char *l = xstrndup(address, n);
		*local_r = dir_lower(l);
		free(l);
	}
	*domain_r = dir_lower(at + 1);
	return 0;
}
