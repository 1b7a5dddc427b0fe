/*
 * smtp-command.c - SMTP command-line parser (see smtp-command.h).
 *
 * Grammar followed (RFC 5321 section 4.1.1, with extensions):
 *   ehlo = "EHLO" SP ( Domain / address-literal )
 *   helo = "HELO" SP Domain
 *   mail = "MAIL FROM:" Reverse-path [SP Mail-parameters]
 *   rcpt = "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" /
 *          Forward-path ) [SP Rcpt-parameters]
 *   data / rset / quit / starttls = verb (no arguments)
 *   noop / help = verb [ SP String ]
 *   vrfy / expn = verb SP String
 *   bdat = "BDAT" SP chunk-size [ SP end-marker ]     RFC 3030
 *   auth = "AUTH" SP sasl-mech [SP initial-response]  RFC 4954
 * The HELO/EHLO argument is only classified (helo_valid): refusing an
 * invalid one is a restriction (reject_invalid_helo_hostname), not syntax.
 */
#include "smtp/smtp-command.h"

#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
    {"HELO", SMTP_VERB_HELO},         {"EHLO", SMTP_VERB_EHLO}, {"MAIL", SMTP_VERB_MAIL},
    {"RCPT", SMTP_VERB_RCPT},         {"DATA", SMTP_VERB_DATA}, {"BDAT", SMTP_VERB_BDAT},
    {"RSET", SMTP_VERB_RSET},         {"NOOP", SMTP_VERB_NOOP}, {"QUIT", SMTP_VERB_QUIT},
    {"VRFY", SMTP_VERB_VRFY},         {"EXPN", SMTP_VERB_EXPN}, {"HELP", SMTP_VERB_HELP},
    {"STARTTLS", SMTP_VERB_STARTTLS}, {"AUTH", SMTP_VERB_AUTH},
};

const char *smtp_verb_name(enum smtp_verb verb)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (verbs[i].verb == verb)
			return verbs[i].name;
	}
	return "UNKNOWN";
}

void smtp_command_settings_init(struct smtp_command_settings *set)
{
	memset(set, 0, sizeof(*set));
	set->max_line = SMTP_COMMAND_LINE_MAX;
	set->max_auth_line = SMTP_COMMAND_AUTH_LINE_MAX;
	set->params = SMTP_PARAMS_ALL;
	set->max_params = SMTP_PARAMS_MAX;
	set->max_param_len = SMTP_PARAM_LEN_MAX;
}

static int cerr(struct smtp_command_error *e, unsigned int code, const char *enhanced,
                const char *text)
{
	e->code = code;
	e->enhanced = enhanced;
	e->text = text;
	return -1;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* prefix: s[0..len) starts with w, ignoring case. */
static bool prefix(const char *s, size_t len, const char *w)
{
	size_t n = strlen(w);
	return len >= n && strncasecmp(s, w, n) == 0;
}

static bool base64_valid(const char *s, size_t len)
{
	if (len == 0 || len % 4 != 0)
		return false;
	size_t pad = 0;
	if (s[len - 1] == '=')
		pad++;
	if (s[len - 2] == '=')
		pad++;
	for (size_t i = 0; i < len - pad; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '+' ||
		      c == '/'))
			return false;
	}
	return true;
}

/* MAIL FROM: / RCPT TO: - path, then parameters. */
static int parse_mail_rcpt(struct smtp_command *cmd, const struct smtp_command_settings *set,
                           struct smtp_command_error *e)
{
	bool rcpt = cmd->verb == SMTP_VERB_RCPT;
	const char *kw = rcpt ? "TO:" : "FROM:";
	const char *s = cmd->arg;
	size_t len = cmd->arg_len, i = strlen(kw);

	if (!prefix(s, len, kw))
		return cerr(e, 501, "5.5.4",
		            rcpt ? "Syntax: RCPT TO:<address>" : "Syntax: MAIL FROM:<address>");
	while (i < len && s[i] == ' ')
		i++;

	/* For MAIL, UTF-8 is allowed when advertised; whether the client
	 * declared SMTPUTF8 on this line is checked after the parameters. */
	bool utf8 = rcpt ? set->smtputf8 : (set->params & SMTP_PARAM_SMTPUTF8) != 0;
	unsigned int pflags = rcpt ? ADDRESS_PARSE_ALLOW_POSTMASTER : ADDRESS_PARSE_ALLOW_NULL;
	if (utf8)
		pflags |= ADDRESS_PARSE_UTF8;
	if (!set->strict_brackets)
		pflags |= ADDRESS_PARSE_BRACKETS_OPTIONAL;

	enum address_error aerr;
	size_t used;
	if (address_parse_path(s + i, len - i, pflags, &cmd->path, &used, &aerr) < 0) {
		unsigned int code;
		const char *enhanced;
		const char *text = address_error_reply(aerr, rcpt, &code, &enhanced);
		return cerr(e, code, enhanced, text);
	}
	i += used;
	if (i < len && s[i] != ' ')
		return cerr(e, 501, rcpt ? "5.1.3" : "5.1.7",
		            rcpt ? "Bad recipient address syntax" : "Bad sender address syntax");

	struct smtp_params_settings ps = {
	    .allowed = set->params & (rcpt ? SMTP_PARAMS_RCPT : SMTP_PARAMS_MAIL),
	    .max_params = set->max_params,
	    .max_param_len = set->max_param_len,
	    .utf8 = utf8,
	};
	if (smtp_params_parse(s + i, len - i, &ps, &cmd->params, e) < 0)
		return -1;

	if (!rcpt && (cmd->params.seen & SMTP_PARAM_SMTPUTF8) == 0) {
		if ((cmd->path.flags & ADDRESS_UTF8) != 0)
			return cerr(e, 553, "5.6.7", "Non-ASCII sender address requires SMTPUTF8");
		if (cmd->params.utf8_values)
			return cerr(e, 501, "5.5.4", "Non-ASCII parameter value");
	}
	return 0;
}

static int parse_bdat(struct smtp_command *cmd, struct smtp_command_error *e)
{
	const char *s = cmd->arg;
	size_t len = cmd->arg_len, i = 0;
	uint64_t v = 0;

	while (i < len && is_digit((unsigned char)s[i])) {
		unsigned int d = (unsigned int)(s[i] - '0');
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
		i++;
	}
	if (i == 0 || (i < len && s[i] != ' '))
		return cerr(e, 501, "5.5.4", "Syntax: BDAT chunk-size [LAST]");
	while (i < len && s[i] == ' ')
		i++;
	if (i < len) {
		if (len - i != 4 || strncasecmp(s + i, "LAST", 4) != 0)
			return cerr(e, 501, "5.5.4", "Syntax: BDAT chunk-size [LAST]");
		cmd->bdat_last = true;
	}
	cmd->bdat_size = v;
	return 0;
}

static int parse_auth(struct smtp_command *cmd, struct smtp_command_error *e)
{
	const char *s = cmd->arg;
	size_t len = cmd->arg_len, i = 0;

	/* sasl-mech = 1*20mech-char; mech-char = UPPER-ALPHA / DIGIT / "-" / "_"
	 * (lower case taken too: mechanism names are case-insensitive) */
	while (i < len && s[i] != ' ') {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '-' ||
		      c == '_'))
			return cerr(e, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
		i++;
	}
	if (i == 0 || i > 20)
		return cerr(e, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
	cmd->auth_mech = s;
	cmd->auth_mech_len = i;
	while (i < len && s[i] == ' ')
		i++;
	if (i == len)
		return 0;
	const char *ir = s + i;
	size_t ir_len = len - i;
	if (memchr(ir, ' ', ir_len) != NULL)
		return cerr(e, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
	if (!(ir_len == 1 && ir[0] == '=') && !base64_valid(ir, ir_len))
		return cerr(e, 501, "5.5.2", "Invalid base64 data in initial response");
	cmd->auth_ir = ir;
	cmd->auth_ir_len = ir_len;
	return 0;
}

int smtp_command_parse(const char *line, size_t len, const struct smtp_command_settings *set,
                       struct smtp_command *cmd, struct smtp_command_error *e)
{
	struct smtp_command_settings defaults;
	size_t i = 0;

	if (set == NULL) {
		smtp_command_settings_init(&defaults);
		set = &defaults;
	}
	memset(cmd, 0, sizeof(*cmd));
	memset(e, 0, sizeof(*e));
	cmd->arg = "";

	/* the verb */
	while (i < len && line[i] != ' ')
		i++;
	cmd->verb_str = line;
	cmd->verb_len = i;
	for (size_t k = 0; k < sizeof(verbs) / sizeof(verbs[0]); k++) {
		if (strlen(verbs[k].name) == i && strncasecmp(line, verbs[k].name, i) == 0)
			cmd->verb = verbs[k].verb;
	}

	size_t max = cmd->verb == SMTP_VERB_AUTH ? set->max_auth_line : set->max_line;
	if (max == 0)
		max = cmd->verb == SMTP_VERB_AUTH ? SMTP_COMMAND_AUTH_LINE_MAX
		                                  : SMTP_COMMAND_LINE_MAX;
	if (len > max)
		return cerr(e, 500, "5.5.2", "Line too long");
	if (memchr(line, '\0', len) != NULL || memchr(line, '\r', len) != NULL ||
	    memchr(line, '\n', len) != NULL)
		return cerr(e, 500, "5.5.2", "Invalid character in command line");
	if (cmd->verb == SMTP_VERB_UNKNOWN)
		return cerr(e, 500, "5.5.2", "Command unrecognized");

	/* the argument: after the SPs following the verb, trailing SP cut */
	while (i < len && line[i] == ' ')
		i++;
	size_t end = len;
	while (end > i && line[end - 1] == ' ')
		end--;
	cmd->arg = line + i;
	cmd->arg_len = end - i;

	switch (cmd->verb) {
	case SMTP_VERB_UNKNOWN:
		break;
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO: {
		if (cmd->arg_len == 0)
			return cerr(e, 501, "5.5.4",
			            cmd->verb == SMTP_VERB_HELO ? "Syntax: HELO hostname"
			                                        : "Syntax: EHLO hostname");
		enum address_error aerr;
		cmd->helo_valid =
		    address_parse_domain(cmd->arg, cmd->arg_len, 0, &cmd->helo_flags, &aerr) == 0;
		return 0;
	}
	case SMTP_VERB_MAIL:
	case SMTP_VERB_RCPT:
		return parse_mail_rcpt(cmd, set, e);
	case SMTP_VERB_DATA:
	case SMTP_VERB_RSET:
	case SMTP_VERB_QUIT:
	case SMTP_VERB_STARTTLS:
		if (cmd->arg_len != 0)
			return cerr(e, 501, "5.5.4", "No parameters allowed");
		return 0;
	case SMTP_VERB_NOOP:
	case SMTP_VERB_HELP:
		return 0;
	case SMTP_VERB_VRFY:
	case SMTP_VERB_EXPN:
		if (cmd->arg_len == 0)
			return cerr(e, 501, "5.5.4",
			            cmd->verb == SMTP_VERB_VRFY ? "Syntax: VRFY address"
			                                        : "Syntax: EXPN list");
		return 0;
	case SMTP_VERB_BDAT:
		return parse_bdat(cmd, e);
	case SMTP_VERB_AUTH:
		return parse_auth(cmd, e);
	}
	return 0;
}
