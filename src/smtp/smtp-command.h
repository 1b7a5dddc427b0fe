/*
 * smtp-command - the SMTP server's command-line parser (RFC 5321 section
 * 4.1, with the ESMTP parameters of RFC 1870, 6152, 3030, 3461, 4954 and
 * 6531).
 *
 * Owns: turning one command line (CRLF already removed) into a verb and
 * checked arguments, and the reply for a line that is not acceptable:
 *   500 5.5.2  line too long, NUL / CR / LF in the line, unknown verb
 *   501 5.5.4  bad arguments (missing FROM:/TO:, bad parameter syntax or
 *              value, arguments where none are allowed, ...)
 *   501 5.1.7 / 5.1.3  bad sender / recipient path (mail/address.h)
 *   553 5.6.7  non-ASCII address without SMTPUTF8
 *   555 5.5.4  a MAIL/RCPT parameter that is unknown or not advertised
 *   501 5.5.2  AUTH initial response that is not base64
 * It does not know the session: order of commands, 503s, SIZE against
 * the limit (552), AUTH mechanisms (504) and restrictions are the
 * caller's (the state machine). That caller says through struct
 * smtp_command_settings which extensions it advertised.
 *
 * Leniency, as Postfix with its defaults: verb case-insensitive, several
 * SP between verb and arguments and between parameters, trailing SP
 * ignored, SP after "FROM:" / "TO:" accepted, a path without angle
 * brackets accepted (flagged ADDRESS_NO_BRACKETS) unless strict_brackets.
 *
 * Pure: no I/O, no allocation. The result points into the line (verb,
 * arg, parameter keywords and values, AUTH mechanism and response), so
 * the line must outlive it; decoded values (path, xtext) are copied into
 * fixed arrays of the result.
 *
 * Returns: 0, or -1 with *error_r filled (static strings). cmd_r->verb
 * is set even on error when the verb was recognised.
 */
#ifndef VMAILD_SMTP_SMTP_COMMAND_H
#define VMAILD_SMTP_SMTP_COMMAND_H

#include "mail/address.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTP_COMMAND_LINE_MAX      2048  /* default, as Postfix's line_length_limit */
#define SMTP_COMMAND_AUTH_LINE_MAX 12288 /* RFC 4954 section 4 */
#define SMTP_PARAMS_MAX            16    /* parameters per MAIL / RCPT */
#define SMTP_PARAM_LEN_MAX         1024  /* default for one keyword=value */
#define SMTP_PARAM_AUTH_MAX        500   /* decoded AUTH= mailbox */
#define SMTP_PARAM_ENVID_MAX       100   /* RFC 3461 section 4.4 */
#define SMTP_PARAM_ORCPT_MAX       500   /* RFC 3461 section 4.2, whole value */
#define SMTP_PARAM_ADDRTYPE_MAX    32    /* ORCPT addr-type ("rfc822", "utf-8") */

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
};

/* The parameters this parser knows; a bit set of them says which ones
 * were advertised (settings) or seen (struct smtp_params). */
enum smtp_param_id {
	SMTP_PARAM_SIZE = 1 << 0,     /* MAIL, RFC 1870 */
	SMTP_PARAM_BODY = 1 << 1,     /* MAIL, RFC 6152 / RFC 3030 */
	SMTP_PARAM_SMTPUTF8 = 1 << 2, /* MAIL, RFC 6531 */
	SMTP_PARAM_AUTH = 1 << 3,     /* MAIL, RFC 4954 section 5 */
	SMTP_PARAM_RET = 1 << 4,      /* MAIL, RFC 3461 */
	SMTP_PARAM_ENVID = 1 << 5,    /* MAIL, RFC 3461 */
	SMTP_PARAM_NOTIFY = 1 << 6,   /* RCPT, RFC 3461 */
	SMTP_PARAM_ORCPT = 1 << 7,    /* RCPT, RFC 3461 */
};
#define SMTP_PARAMS_MAIL                                                                           \
	(SMTP_PARAM_SIZE | SMTP_PARAM_BODY | SMTP_PARAM_SMTPUTF8 | SMTP_PARAM_AUTH |               \
	 SMTP_PARAM_RET | SMTP_PARAM_ENVID)
#define SMTP_PARAMS_RCPT (SMTP_PARAM_NOTIFY | SMTP_PARAM_ORCPT)
#define SMTP_PARAMS_ALL  (SMTP_PARAMS_MAIL | SMTP_PARAMS_RCPT)

enum smtp_body {
	SMTP_BODY_UNSPECIFIED = 0,
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME,
};

enum smtp_ret {
	SMTP_RET_UNSPECIFIED = 0,
	SMTP_RET_FULL,
	SMTP_RET_HDRS,
};

#define SMTP_NOTIFY_NEVER   (1u << 0)
#define SMTP_NOTIFY_SUCCESS (1u << 1)
#define SMTP_NOTIFY_FAILURE (1u << 2)
#define SMTP_NOTIFY_DELAY   (1u << 3)

/* One keyword[=value] item as sent; value NULL when there was no '='. */
struct smtp_param {
	const char *keyword;
	size_t keyword_len;
	const char *value;
	size_t value_len;
	unsigned int id; /* enum smtp_param_id, 0 when unknown */
};

struct smtp_params {
	unsigned int count;
	struct smtp_param list[SMTP_PARAMS_MAX];
	unsigned int seen; /* enum smtp_param_id bits */
	bool utf8_values;  /* a value held non-ASCII (needs SMTPUTF8) */

	uint64_t size; /* SIZE=, saturated at UINT64_MAX */
	enum smtp_body body;
	enum smtp_ret ret;
	unsigned int notify;                          /* SMTP_NOTIFY_* */
	bool auth_null;                               /* AUTH=<> */
	char auth[SMTP_PARAM_AUTH_MAX + 1];           /* AUTH= xtext-decoded */
	char envid[SMTP_PARAM_ENVID_MAX + 1];         /* ENVID= xtext-decoded */
	char orcpt_type[SMTP_PARAM_ADDRTYPE_MAX + 1]; /* ORCPT= addr-type */
	char orcpt_addr[SMTP_PARAM_ORCPT_MAX + 1];    /* ORCPT= xtext-decoded */

	/* on a 555 / 501 about one parameter: its keyword as sent */
	const char *bad_keyword;
	size_t bad_keyword_len;
};

struct smtp_params_settings {
	unsigned int allowed;    /* enum smtp_param_id bits accepted */
	unsigned int max_params; /* 0 = SMTP_PARAMS_MAX (and never above it) */
	size_t max_param_len;    /* 0 = SMTP_PARAM_LEN_MAX */
	bool utf8;               /* non-ASCII UTF-8 allowed in values */
};

struct smtp_command_settings {
	size_t max_line;         /* 0 = SMTP_COMMAND_LINE_MAX */
	size_t max_auth_line;    /* 0 = SMTP_COMMAND_AUTH_LINE_MAX */
	unsigned int params;     /* enum smtp_param_id bits advertised in EHLO */
	unsigned int max_params; /* 0 = SMTP_PARAMS_MAX */
	size_t max_param_len;    /* 0 = SMTP_PARAM_LEN_MAX */
	/* RCPT: the transaction's MAIL carried SMTPUTF8 (UTF-8 path and
	 * values allowed). MAIL decides from SMTP_PARAM_SMTPUTF8 in params
	 * and the SMTPUTF8 parameter of the line itself. */
	bool smtputf8;
	/* refuse paths without <> (Postfix's strict_rfc821_envelopes) */
	bool strict_brackets;
};

struct smtp_command_error {
	unsigned int code;    /* 500, 501, 553, 555 */
	const char *enhanced; /* "5.5.4" */
	const char *text;     /* the rest of the reply line */
};

struct smtp_command {
	enum smtp_verb verb;
	const char *verb_str; /* as sent (for logs): verb_len bytes */
	size_t verb_len;
	const char *arg; /* after the verb and its SPs, trailing SP cut */
	size_t arg_len;

	/* HELO / EHLO: arg is a Domain or address literal (LDH, ASCII) */
	bool helo_valid;
	unsigned int helo_flags; /* ADDRESS_LITERAL, _TRAILING_DOT, ... */

	/* MAIL / RCPT */
	struct address path;
	struct smtp_params params;

	/* BDAT */
	uint64_t bdat_size; /* saturated at UINT64_MAX */
	bool bdat_last;

	/* AUTH: mechanism as sent; initial response NULL when absent,
	 * "=" (length 1) for an empty one, else base64 text */
	const char *auth_mech;
	size_t auth_mech_len;
	const char *auth_ir;
	size_t auth_ir_len;
};

/* smtp_command_settings_init: defaults (all parameters advertised,
 * SMTPUTF8 transaction off, brackets optional). */
void smtp_command_settings_init(struct smtp_command_settings *set);

/*
 * smtp_command_parse: parse line[0..len) (no CRLF). set NULL means the
 * defaults of smtp_command_settings_init(). Returns 0 with *cmd_r, or -1
 * with *error_r (and what was understood of *cmd_r).
 */
int smtp_command_parse(const char *line, size_t len, const struct smtp_command_settings *set,
                       struct smtp_command *cmd_r, struct smtp_command_error *error_r);

/* smtp_verb_name: "MAIL", ...; "UNKNOWN" for SMTP_VERB_UNKNOWN. */
const char *smtp_verb_name(enum smtp_verb verb);

/*
 * smtp_params_parse: the esmtp-param list at s[0..len) (after the path;
 * leading/trailing SP allowed): keyword syntax, value syntax, count and
 * length limits, duplicates, then the known parameters' values. Unknown
 * keywords and known ones not in set->allowed fail with 555 5.5.4 and
 * params_r->bad_keyword. Returns 0 or -1 with *error_r.
 */
int smtp_params_parse(const char *s, size_t len, const struct smtp_params_settings *set,
                      struct smtp_params *params_r, struct smtp_command_error *error_r);

/*
 * smtp_xtext_decode: decode xtext (RFC 3461 section 4: "+" and two hex
 * digits for a byte, other chars as is) from s[0..len) into out (outsize
 * bytes, NUL-terminated). Refuses malformed "+XX", '=' and SP in the
 * input, decoded control characters, NUL and DEL, and a decoded byte
 * >= 0x80; raw UTF-8 (RFC 6533 unitext) only with utf8. Returns the
 * decoded length, or -1 (also when out is too small).
 */
int smtp_xtext_decode(const char *s, size_t len, char *out, size_t outsize, bool utf8);

#endif
