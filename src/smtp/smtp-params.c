/*
 * smtp-params.c - ESMTP MAIL/RCPT parameters (see smtp-command.h).
 *
 * Grammar (RFC 5321 section 4.1.2, RFC 6531 section 3.3):
 *   Mail-parameters = esmtp-param *(SP esmtp-param)
 *   esmtp-param     = esmtp-keyword ["=" esmtp-value]
 *   esmtp-keyword   = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
 *   esmtp-value     = 1*(%d33-60 / %d62-126)   ; =/ UTF8-non-ascii
 * and the values of the parameters we implement:
 *   SIZE=1*20DIGIT                      RFC 1870
 *   BODY=7BIT / 8BITMIME / BINARYMIME   RFC 6152, RFC 3030
 *   SMTPUTF8                            RFC 6531 (no value)
 *   AUTH=xtext / "<>"                   RFC 4954 section 5
 *   RET=FULL / HDRS, ENVID=xtext        RFC 3461 sections 4.3, 4.4
 *   NOTIFY="NEVER" / 1#(SUCCESS/FAILURE/DELAY), ORCPT=addr-type ";" xtext
 *                                       RFC 3461 sections 4.1, 4.2
 * Keywords and the enumerated values are case-insensitive.
 */
#include "smtp/smtp-command.h"
#include "mail/utf8.h"

#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	unsigned int id;
} param_names[] = {
    {"SIZE", SMTP_PARAM_SIZE},     {"BODY", SMTP_PARAM_BODY},   {"SMTPUTF8", SMTP_PARAM_SMTPUTF8},
    {"AUTH", SMTP_PARAM_AUTH},     {"RET", SMTP_PARAM_RET},     {"ENVID", SMTP_PARAM_ENVID},
    {"NOTIFY", SMTP_PARAM_NOTIFY}, {"ORCPT", SMTP_PARAM_ORCPT},
};

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
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

/* eq: s[0..len) equals the upper-case word w, ignoring case. */
static bool eq(const char *s, size_t len, const char *w)
{
	return strlen(w) == len && strncasecmp(s, w, len) == 0;
}

static int perr(struct smtp_command_error *e, unsigned int code, const char *enhanced,
                const char *text)
{
	e->code = code;
	e->enhanced = enhanced;
	e->text = text;
	return -1;
}

int smtp_xtext_decode(const char *s, size_t len, char *out, size_t outsize, bool utf8)
{
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		size_t n = 1;
		const char *from = s + i;
		char decoded;
		if (c == '+') {
			if (len - i < 3)
				return -1;
			int hi = hexval((unsigned char)s[i + 1]),
			    lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			decoded = (char)(hi * 16 + lo);
			unsigned char d = (unsigned char)decoded;
			if (d < 32 || d >= 127)
				return -1;
			from = &decoded;
			i += 3;
		} else if (c >= 0x80) {
			if (!utf8)
				return -1;
			n = utf8_char_len((const unsigned char *)s + i, len - i);
			if (n == 0)
				return -1;
			i += n;
		} else if (c <= 32 || c == '=' || c == 127) {
			return -1;
		} else {
			i++;
		}
		if (o + n >= outsize)
			return -1;
		memcpy(out + o, from, n);
		o += n;
	}
	if (outsize == 0)
		return -1;
	out[o] = '\0';
	return (int)o;
}

static int parse_size(struct smtp_params *p, const struct smtp_param *sp)
{
	if (sp->value == NULL || sp->value_len == 0 || sp->value_len > 20)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < sp->value_len; i++) {
		unsigned char c = (unsigned char)sp->value[i];
		if (c < '0' || c > '9')
			return -1;
		unsigned int d = (unsigned int)(c - '0');
		if (v > (UINT64_MAX - d) / 10)
			v = UINT64_MAX;
		else
			v = v * 10 + d;
	}
	p->size = v;
	return 0;
}

static int parse_notify(struct smtp_params *p, const struct smtp_param *sp)
{
	if (sp->value == NULL)
		return -1;
	if (eq(sp->value, sp->value_len, "NEVER")) {
		p->notify = SMTP_NOTIFY_NEVER;
		return 0;
	}
	unsigned int bits = 0;
	size_t i = 0;
	for (;;) {
		size_t j = i;
		while (j < sp->value_len && sp->value[j] != ',')
			j++;
		unsigned int bit;
		if (eq(sp->value + i, j - i, "SUCCESS"))
			bit = SMTP_NOTIFY_SUCCESS;
		else if (eq(sp->value + i, j - i, "FAILURE"))
			bit = SMTP_NOTIFY_FAILURE;
		else if (eq(sp->value + i, j - i, "DELAY"))
			bit = SMTP_NOTIFY_DELAY;
		else
			return -1; /* also NEVER in a list, empty items */
		if ((bits & bit) != 0)
			return -1;
		bits |= bit;
		if (j == sp->value_len)
			break;
		i = j + 1;
	}
	p->notify = bits;
	return 0;
}

static int parse_orcpt(struct smtp_params *p, const struct smtp_param *sp, bool utf8)
{
	if (sp->value == NULL || sp->value_len > SMTP_PARAM_ORCPT_MAX)
		return -1;
	const char *semi = memchr(sp->value, ';', sp->value_len);
	if (semi == NULL)
		return -1;
	size_t type_len = (size_t)(semi - sp->value);
	if (type_len == 0 || type_len > SMTP_PARAM_ADDRTYPE_MAX)
		return -1;
	/* addr-type = atom; in practice "rfc822", "utf-8", "x400" */
	for (size_t i = 0; i < type_len; i++) {
		unsigned char c = (unsigned char)sp->value[i];
		if (!is_alnum(c) && c != '-' && c != '_' && c != '.')
			return -1;
	}
	memcpy(p->orcpt_type, sp->value, type_len);
	p->orcpt_type[type_len] = '\0';
	size_t rest = sp->value_len - type_len - 1;
	if (rest == 0 ||
	    smtp_xtext_decode(semi + 1, rest, p->orcpt_addr, sizeof(p->orcpt_addr), utf8) < 0)
		return -1;
	return 0;
}

/* parse_value: check and store the value of the known parameter sp. */
static int parse_value(struct smtp_params *p, const struct smtp_param *sp, bool utf8,
                       struct smtp_command_error *e)
{
	switch (sp->id) {
	case SMTP_PARAM_SIZE:
		if (parse_size(p, sp) < 0)
			return perr(e, 501, "5.5.4", "Invalid SIZE parameter");
		return 0;
	case SMTP_PARAM_BODY:
		if (sp->value != NULL && eq(sp->value, sp->value_len, "7BIT"))
			p->body = SMTP_BODY_7BIT;
		else if (sp->value != NULL && eq(sp->value, sp->value_len, "8BITMIME"))
			p->body = SMTP_BODY_8BITMIME;
		else if (sp->value != NULL && eq(sp->value, sp->value_len, "BINARYMIME"))
			p->body = SMTP_BODY_BINARYMIME;
		else
			return perr(e, 501, "5.5.4", "Invalid BODY parameter");
		return 0;
	case SMTP_PARAM_SMTPUTF8:
		if (sp->value != NULL)
			return perr(e, 501, "5.5.4", "SMTPUTF8 takes no value");
		return 0;
	case SMTP_PARAM_AUTH:
		if (sp->value == NULL || sp->value_len > SMTP_PARAM_AUTH_MAX)
			return perr(e, 501, "5.5.4", "Invalid AUTH parameter");
		if (eq(sp->value, sp->value_len, "<>")) {
			p->auth_null = true;
			return 0;
		}
		if (smtp_xtext_decode(sp->value, sp->value_len, p->auth, sizeof(p->auth), utf8) <=
		    0)
			return perr(e, 501, "5.5.4", "Invalid AUTH parameter");
		return 0;
	case SMTP_PARAM_RET:
		if (sp->value != NULL && eq(sp->value, sp->value_len, "FULL"))
			p->ret = SMTP_RET_FULL;
		else if (sp->value != NULL && eq(sp->value, sp->value_len, "HDRS"))
			p->ret = SMTP_RET_HDRS;
		else
			return perr(e, 501, "5.5.4", "Invalid RET parameter");
		return 0;
	case SMTP_PARAM_ENVID:
		/* printable US-ASCII only (RFC 3461 section 4.4) */
		if (sp->value == NULL || sp->value_len > SMTP_PARAM_ENVID_MAX ||
		    smtp_xtext_decode(sp->value, sp->value_len, p->envid, sizeof(p->envid),
		                      false) <= 0)
			return perr(e, 501, "5.5.4", "Invalid ENVID parameter");
		return 0;
	case SMTP_PARAM_NOTIFY:
		if (parse_notify(p, sp) < 0)
			return perr(e, 501, "5.5.4", "Invalid NOTIFY parameter");
		return 0;
	case SMTP_PARAM_ORCPT:
		if (parse_orcpt(p, sp, utf8) < 0)
			return perr(e, 501, "5.5.4", "Invalid ORCPT parameter");
		return 0;
	}
	return perr(e, 555, "5.5.4", "Unsupported parameter");
}

int smtp_params_parse(const char *s, size_t len, const struct smtp_params_settings *set,
                      struct smtp_params *p, struct smtp_command_error *e)
{
	unsigned int max_params = set->max_params;
	size_t max_len = set->max_param_len != 0 ? set->max_param_len : SMTP_PARAM_LEN_MAX;
	size_t i = 0;

	if (max_params == 0 || max_params > SMTP_PARAMS_MAX)
		max_params = SMTP_PARAMS_MAX;
	memset(p, 0, sizeof(*p));

	/* pass 1: split and check the generic syntax */
	for (;;) {
		while (i < len && s[i] == ' ')
			i++;
		if (i == len)
			break;
		if (p->count == max_params)
			return perr(e, 501, "5.5.4", "Too many parameters");
		struct smtp_param *sp = &p->list[p->count];
		size_t start = i;
		sp->keyword = s + i;
		if (!is_alnum((unsigned char)s[i]))
			return perr(e, 501, "5.5.4", "Invalid parameter syntax");
		while (i < len && (is_alnum((unsigned char)s[i]) || s[i] == '-'))
			i++;
		sp->keyword_len = i - start;
		if (i < len && s[i] == '=') {
			i++;
			sp->value = s + i;
			while (i < len && s[i] != ' ') {
				unsigned char c = (unsigned char)s[i];
				if (c >= 0x80) {
					size_t n = set->utf8
					               ? utf8_char_len((const unsigned char *)s + i,
					                               len - i)
					               : 0;
					if (n == 0)
						return perr(e, 501, "5.5.4",
						            set->utf8
						                ? "Parameter value is not UTF-8"
						                : "Non-ASCII parameter value");
					p->utf8_values = true;
					i += n;
				} else if (c < 33 || c == '=' || c == 127) {
					return perr(e, 501, "5.5.4", "Invalid parameter syntax");
				} else {
					i++;
				}
			}
			sp->value_len = (size_t)(s + i - sp->value);
			if (sp->value_len == 0)
				return perr(e, 501, "5.5.4", "Invalid parameter syntax");
		} else if (i < len && s[i] != ' ') {
			return perr(e, 501, "5.5.4", "Invalid parameter syntax");
		}
		if (i - start > max_len) {
			p->bad_keyword = sp->keyword;
			p->bad_keyword_len = sp->keyword_len;
			return perr(e, 501, "5.5.4", "Parameter too long");
		}
		for (size_t k = 0; k < sizeof(param_names) / sizeof(param_names[0]); k++) {
			if (eq(sp->keyword, sp->keyword_len, param_names[k].name))
				sp->id = param_names[k].id;
		}
		p->count++;
	}

	/* pass 2: known and advertised, once each, with valid values */
	for (unsigned int k = 0; k < p->count; k++) {
		const struct smtp_param *sp = &p->list[k];
		p->bad_keyword = sp->keyword;
		p->bad_keyword_len = sp->keyword_len;
		if (sp->id == 0 || (set->allowed & sp->id) == 0)
			return perr(e, 555, "5.5.4", "Unsupported parameter");
		if ((p->seen & sp->id) != 0)
			return perr(e, 501, "5.5.4", "Duplicate parameter");
		p->seen |= sp->id;
		if (parse_value(p, sp, set->utf8, e) < 0)
			return -1;
	}
	p->bad_keyword = NULL;
	p->bad_keyword_len = 0;
	return 0;
}
