/*
 * fuzz-smtp-command.c - libFuzzer target for the SMTP command-line
 * parser (smtp/smtp-command.h).
 *
 * Input: one byte choosing the settings (brackets, SMTPUTF8, advertised
 * parameters, small limits), then one command line. Checks beyond "no
 * crash": every pointer of the result lies inside the line, errors carry
 * one of the documented reply codes, a MAIL/RCPT result respects the
 * path limits and the advertised parameters, BDAT/AUTH fields are set
 * only for their verbs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp-command.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

static void check_inside(const char *line, size_t len, const char *p, size_t n)
{
	if (p == NULL || n == 0)
		return;
	check(p >= line && p + n <= line + len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned int opt = data[0];
	const char *line = (const char *)data + 1;
	size_t len = size - 1;

	struct smtp_command_settings set;
	smtp_command_settings_init(&set);
	set.strict_brackets = (opt & 0x01) != 0;
	set.smtputf8 = (opt & 0x02) != 0;
	if (opt & 0x04)
		set.params = 0;
	if (opt & 0x08)
		set.params &= ~SMTP_PARAM_SMTPUTF8;
	if (opt & 0x10) {
		set.max_line = 40;
		set.max_auth_line = 60;
		set.max_params = 2;
		set.max_param_len = 12;
	}

	struct smtp_command cmd;
	struct smtp_command_error e;
	int ret = smtp_command_parse(line, len, (opt & 0x20) ? NULL : &set, &cmd, &e);
	check(cmd.verb_str == line && cmd.verb_len <= len);
	check_inside(line, len, cmd.arg, cmd.arg_len);
	check(strcmp(smtp_verb_name(cmd.verb), "") != 0);
	if (ret < 0) {
		check(e.code == 500 || e.code == 501 || e.code == 553 || e.code == 555);
		check(e.enhanced != NULL && strlen(e.enhanced) == 5 && e.enhanced[0] == '5');
		check(e.text != NULL && e.text[0] != '\0');
		check_inside(line, len, cmd.params.bad_keyword, cmd.params.bad_keyword_len);
		return 0;
	}
	check(ret == 0);
	check(cmd.verb != SMTP_VERB_UNKNOWN);
	check(memchr(line, '\0', len) == NULL && memchr(line, '\n', len) == NULL &&
	      memchr(line, '\r', len) == NULL);
	if (cmd.arg_len > 0)
		check(cmd.arg[0] != ' ' && cmd.arg[cmd.arg_len - 1] != ' ');
	if (cmd.verb == SMTP_VERB_MAIL || cmd.verb == SMTP_VERB_RCPT) {
		check(strlen(cmd.path.local) <= ADDRESS_LOCAL_MAX);
		check(strlen(cmd.path.domain) <= ADDRESS_DOMAIN_MAX);
		const struct smtp_command_settings *s = (opt & 0x20) ? NULL : &set;
		unsigned int adv = s != NULL ? s->params : SMTP_PARAMS_ALL;
		check((cmd.params.seen & ~adv) == 0);
		for (unsigned int i = 0; i < cmd.params.count; i++) {
			check_inside(line, len, cmd.params.list[i].keyword,
			             cmd.params.list[i].keyword_len);
			check_inside(line, len, cmd.params.list[i].value,
			             cmd.params.list[i].value_len);
		}
		if (cmd.verb == SMTP_VERB_MAIL) {
			check((cmd.path.flags & ADDRESS_POSTMASTER) == 0);
			if (cmd.path.flags & ADDRESS_UTF8)
				check(cmd.params.seen & SMTP_PARAM_SMTPUTF8);
		} else {
			check((cmd.path.flags & ADDRESS_NULL) == 0);
			if (cmd.path.flags & ADDRESS_UTF8)
				check(s == NULL ? 0 : s->smtputf8);
		}
		if (s != NULL && s->strict_brackets)
			check((cmd.path.flags & ADDRESS_NO_BRACKETS) == 0);
	} else {
		check(cmd.params.count == 0 && cmd.path.local[0] == '\0');
	}
	if (cmd.verb != SMTP_VERB_BDAT)
		check(cmd.bdat_size == 0 && !cmd.bdat_last);
	if (cmd.verb == SMTP_VERB_AUTH) {
		check(cmd.auth_mech_len >= 1 && cmd.auth_mech_len <= 20);
		check_inside(line, len, cmd.auth_mech, cmd.auth_mech_len);
		check_inside(line, len, cmd.auth_ir, cmd.auth_ir_len);
	} else {
		check(cmd.auth_mech == NULL && cmd.auth_ir == NULL);
	}
	if (cmd.verb == SMTP_VERB_DATA || cmd.verb == SMTP_VERB_QUIT ||
	    cmd.verb == SMTP_VERB_RSET || cmd.verb == SMTP_VERB_STARTTLS)
		check(cmd.arg_len == 0);
	return 0;
}
