/*
 * fuzz-address.c - libFuzzer target for the SMTP path parser and the
 * ESMTP parameter parser (mail/address.h, smtp/smtp-command.h).
 *
 * Input: one byte of options (ADDRESS_PARSE_* in the low 4 bits, the
 * parameter settings in the high ones), then the text after "FROM:".
 * Checks beyond "no crash": the result respects the length limits, holds
 * no control characters, is ASCII unless UTF-8 was allowed and then
 * well-formed UTF-8; formatting it and parsing that again gives the same
 * local part and domain; the domain alone parses as a domain; the
 * parameters after the path stay within their bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mail/address.h"
#include "mail/utf8.h"
#include "smtp/smtp-command.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

static void check_text(const char *s, size_t max, unsigned int pflags)
{
	size_t n = strlen(s);
	check(n <= max);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		check(c >= 32 && c != 127);
		if ((pflags & ADDRESS_PARSE_UTF8) == 0)
			check(c < 0x80);
	}
	check(utf8_valid(s, n));
}

static void check_params(const char *s, size_t len, unsigned int opt)
{
	struct smtp_params p;
	struct smtp_command_error e;
	struct smtp_params_settings set = {
	    .allowed = (opt & 0x10) ? SMTP_PARAMS_ALL : SMTP_PARAMS_MAIL,
	    .max_params = (opt & 0x20) ? 3 : 0,
	    .max_param_len = (opt & 0x40) ? 30 : 0,
	    .utf8 = (opt & 0x80) != 0,
	};
	if (smtp_params_parse(s, len, &set, &p, &e) < 0) {
		check(e.code == 501 || e.code == 555);
		check(e.enhanced != NULL && e.text != NULL);
		if (p.bad_keyword != NULL)
			check(p.bad_keyword >= s && p.bad_keyword + p.bad_keyword_len <= s + len);
		return;
	}
	check(p.count <= SMTP_PARAMS_MAX);
	for (unsigned int i = 0; i < p.count; i++) {
		const struct smtp_param *sp = &p.list[i];
		check(sp->keyword >= s && sp->keyword + sp->keyword_len <= s + len);
		check(sp->keyword_len > 0);
		if (sp->value != NULL)
			check(sp->value >= s && sp->value + sp->value_len <= s + len);
		check((set.allowed & sp->id) == sp->id && sp->id != 0);
	}
	check(strlen(p.envid) <= SMTP_PARAM_ENVID_MAX);
	check(strlen(p.auth) <= SMTP_PARAM_AUTH_MAX);
	check(strlen(p.orcpt_addr) <= SMTP_PARAM_ORCPT_MAX);
	check(strlen(p.orcpt_type) <= SMTP_PARAM_ADDRTYPE_MAX);
	if (!set.utf8)
		check(!p.utf8_values);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned int opt = data[0];
	unsigned int pflags = opt & 0x0f;
	const char *s = (const char *)data + 1;
	size_t len = size - 1;

	struct address a;
	enum address_error err;
	size_t used = 0;
	if (address_parse_path(s, len, pflags, &a, &used, &err) < 0) {
		unsigned int code;
		const char *enh;
		check(err != ADDRESS_OK);
		check(a.local[0] == '\0' && a.domain[0] == '\0' && a.flags == 0);
		check(address_error_reply(err, (opt & 0x10) != 0, &code, &enh) != NULL);
		check(code == 501 || code == 553);
		/* parameters on their own */
		check_params(s, len, opt);
		return 0;
	}
	check(err == ADDRESS_OK);
	check(used <= len);
	check(used + ((a.flags & ADDRESS_NO_BRACKETS) ? 2 : 0) <= ADDRESS_PATH_MAX);
	check_text(a.local, ADDRESS_LOCAL_MAX, pflags);
	check_text(a.domain, ADDRESS_DOMAIN_MAX, pflags);
	if (a.flags & ADDRESS_NULL)
		check(a.local[0] == '\0' && a.domain[0] == '\0' &&
		      (pflags & ADDRESS_PARSE_ALLOW_NULL));
	else
		check(a.local[0] != '\0');
	if (a.flags & ADDRESS_POSTMASTER)
		check(a.domain[0] == '\0' && (pflags & ADDRESS_PARSE_ALLOW_POSTMASTER));
	if (a.flags & ADDRESS_UTF8)
		check(pflags & ADDRESS_PARSE_UTF8);
	if ((a.flags & (ADDRESS_NULL | ADDRESS_POSTMASTER)) == 0) {
		unsigned int dflags;
		check(a.domain[0] != '\0');
		check(address_parse_domain(a.domain, strlen(a.domain), pflags, &dflags, &err) == 0);
		check((dflags & ~ADDRESS_UTF8) ==
		      (a.flags & (ADDRESS_LITERAL | ADDRESS_LITERAL_IPV6 | ADDRESS_TRAILING_DOT)));
	}

	/* format, parse again: same mailbox */
	struct buf b = BUF_INIT, p = BUF_INIT;
	address_format(&a, &b);
	buf_append_c(&p, '<');
	buf_append(&p, b.data, b.len);
	buf_append_c(&p, '>');
	struct address again;
	if (address_parse_path(p.data, p.len, pflags, &again, NULL, &err) == 0) {
		check(strcmp(again.local, a.local) == 0);
		check(strcmp(again.domain, a.domain) == 0);
	} else {
		/* only re-quoting loose dots can make it longer */
		check((a.flags & ADDRESS_LOOSE_DOTS) != 0);
		check(err == ADDRESS_ERR_LOCAL_TOO_LONG || err == ADDRESS_ERR_PATH_TOO_LONG);
	}
	buf_reset(&b);
	address_canonical(&a, &b);
	check(b.len <= ADDRESS_LOCAL_MAX + 1 + ADDRESS_DOMAIN_MAX);
	(void)address_local_has_routing(a.local);
	(void)address_domain_is_fqdn(a.domain);
	buf_free(&b);
	buf_free(&p);

	check_params(s + used, len - used, opt);
	return 0;
}
