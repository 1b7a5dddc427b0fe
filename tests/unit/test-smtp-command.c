/*
 * test-smtp-command.c - SMTP command-line parser and ESMTP parameters
 * (smtp/smtp-command.h).
 *
 * A table of command lines with the expected verb, reply code, enhanced
 * code and, for MAIL/RCPT, the parsed path: every verb, case and spacing
 * leniency, missing/extra arguments, NUL/CR/LF, line limits, the
 * relay-attack battery as RCPT lines, 8-bit with and without SMTPUTF8.
 * Then per parameter: SIZE, BODY, SMTPUTF8, AUTH, RET, ENVID, NOTIFY,
 * ORCPT values and xtext, count/length limits, duplicates, unknown and
 * unadvertised keywords (555); BDAT; AUTH; HELO/EHLO classification.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp-command.h"

enum set_id {
	SET_DEFAULT,
	SET_STRICT,    /* strict_brackets */
	SET_UTF8_TX,   /* RCPT in an SMTPUTF8 transaction */
	SET_NO_PARAMS, /* nothing advertised */
	SET_SMALL,     /* small limits */
	SET_NO_UTF8,   /* SMTPUTF8 not advertised */
	SET_COUNT,
};

static struct smtp_command_settings settings[SET_COUNT];

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < SET_COUNT; i++)
		smtp_command_settings_init(&settings[i]);
	settings[SET_STRICT].strict_brackets = true;
	settings[SET_UTF8_TX].smtputf8 = true;
	settings[SET_NO_PARAMS].params = 0;
	settings[SET_SMALL].max_line = 64;
	settings[SET_SMALL].max_auth_line = 80;
	settings[SET_SMALL].max_params = 2;
	settings[SET_SMALL].max_param_len = 20;
	settings[SET_NO_UTF8].params = SMTP_PARAMS_ALL & ~SMTP_PARAM_SMTPUTF8;
	return 0;
}

struct cmd_case {
	const char *line;
	enum set_id set;
	enum smtp_verb verb;
	unsigned int code; /* 0: success expected */
	const char *enhanced;
	const char *arg;   /* expected argument, NULL: not checked */
	const char *local; /* MAIL/RCPT: expected path, NULL: not checked */
	const char *domain;
	unsigned int flags;
};

#define OK 0

static const struct cmd_case cmd_cases[] = {
    /* verbs, case-insensitive; no-argument verbs */
    {"QUIT", SET_DEFAULT, SMTP_VERB_QUIT, OK, NULL, "", NULL, NULL, 0},
    {"quit", SET_DEFAULT, SMTP_VERB_QUIT, OK, NULL, "", NULL, NULL, 0},
    {"QuIt ", SET_DEFAULT, SMTP_VERB_QUIT, OK, NULL, "", NULL, NULL, 0},
    {"QUIT now", SET_DEFAULT, SMTP_VERB_QUIT, 501, "5.5.4", "now", NULL, NULL, 0},
    {"DATA", SET_DEFAULT, SMTP_VERB_DATA, OK, NULL, "", NULL, NULL, 0},
    {"DATA x", SET_DEFAULT, SMTP_VERB_DATA, 501, "5.5.4", NULL, NULL, NULL, 0},
    {"RSET", SET_DEFAULT, SMTP_VERB_RSET, OK, NULL, "", NULL, NULL, 0},
    {"RSET x", SET_DEFAULT, SMTP_VERB_RSET, 501, "5.5.4", NULL, NULL, NULL, 0},
    {"STARTTLS", SET_DEFAULT, SMTP_VERB_STARTTLS, OK, NULL, "", NULL, NULL, 0},
    {"starttls   ", SET_DEFAULT, SMTP_VERB_STARTTLS, OK, NULL, "", NULL, NULL, 0},
    {"STARTTLS x", SET_DEFAULT, SMTP_VERB_STARTTLS, 501, "5.5.4", NULL, NULL, NULL, 0},
    {"NOOP", SET_DEFAULT, SMTP_VERB_NOOP, OK, NULL, "", NULL, NULL, 0},
    {"NOOP anything at all", SET_DEFAULT, SMTP_VERB_NOOP, OK, NULL, "anything at all", NULL, NULL,
     0},
    {"HELP", SET_DEFAULT, SMTP_VERB_HELP, OK, NULL, "", NULL, NULL, 0},
    {"HELP MAIL", SET_DEFAULT, SMTP_VERB_HELP, OK, NULL, "MAIL", NULL, NULL, 0},
    {"VRFY user", SET_DEFAULT, SMTP_VERB_VRFY, OK, NULL, "user", NULL, NULL, 0},
    {"VRFY", SET_DEFAULT, SMTP_VERB_VRFY, 501, "5.5.4", NULL, NULL, NULL, 0},
    {"EXPN list", SET_DEFAULT, SMTP_VERB_EXPN, OK, NULL, "list", NULL, NULL, 0},
    {"EXPN ", SET_DEFAULT, SMTP_VERB_EXPN, 501, "5.5.4", NULL, NULL, NULL, 0},
    /* unknown verbs and junk */
    {"XYZZY", SET_DEFAULT, SMTP_VERB_UNKNOWN, 500, "5.5.2", NULL, NULL, NULL, 0},
    {"", SET_DEFAULT, SMTP_VERB_UNKNOWN, 500, "5.5.2", NULL, NULL, NULL, 0},
    {" QUIT", SET_DEFAULT, SMTP_VERB_UNKNOWN, 500, "5.5.2", NULL, NULL, NULL, 0},
    {"QUITX", SET_DEFAULT, SMTP_VERB_UNKNOWN, 500, "5.5.2", NULL, NULL, NULL, 0},
    {"QUI", SET_DEFAULT, SMTP_VERB_UNKNOWN, 500, "5.5.2", NULL, NULL, NULL, 0},
    {"MAIL\tFROM:<a@b.example>", SET_DEFAULT, SMTP_VERB_UNKNOWN, 500, "5.5.2", NULL, NULL, NULL, 0},
    {"GET / HTTP/1.0", SET_DEFAULT, SMTP_VERB_UNKNOWN, 500, "5.5.2", NULL, NULL, NULL, 0},
    {"\xc3\xa4QUIT", SET_DEFAULT, SMTP_VERB_UNKNOWN, 500, "5.5.2", NULL, NULL, NULL, 0},
    /* HELO / EHLO */
    {"EHLO mail.example.com", SET_DEFAULT, SMTP_VERB_EHLO, OK, NULL, "mail.example.com", NULL, NULL,
     0},
    {"helo mail.example.com", SET_DEFAULT, SMTP_VERB_HELO, OK, NULL, "mail.example.com", NULL, NULL,
     0},
    {"EHLO", SET_DEFAULT, SMTP_VERB_EHLO, 501, "5.5.4", NULL, NULL, NULL, 0},
    {"HELO   ", SET_DEFAULT, SMTP_VERB_HELO, 501, "5.5.4", NULL, NULL, NULL, 0},
    {"EHLO  [192.0.2.1]  ", SET_DEFAULT, SMTP_VERB_EHLO, OK, NULL, "[192.0.2.1]", NULL, NULL, 0},
    {"EHLO not valid", SET_DEFAULT, SMTP_VERB_EHLO, OK, NULL, "not valid", NULL, NULL, 0},
    /* MAIL */
    {"MAIL FROM:<a@b.example>", SET_DEFAULT, SMTP_VERB_MAIL, OK, NULL, "FROM:<a@b.example>", "a",
     "b.example", 0},
    {"mail from:<a@b.example>", SET_DEFAULT, SMTP_VERB_MAIL, OK, NULL, NULL, "a", "b.example", 0},
    {"MAIL FROM: <a@b.example>", SET_DEFAULT, SMTP_VERB_MAIL, OK, NULL, NULL, "a", "b.example", 0},
    {"MAIL  FROM:   <a@b.example>   ", SET_DEFAULT, SMTP_VERB_MAIL, OK, NULL, NULL, "a",
     "b.example", 0},
    {"MAIL FROM:<>", SET_DEFAULT, SMTP_VERB_MAIL, OK, NULL, NULL, "", "", ADDRESS_NULL},
    {"MAIL FROM:<> SIZE=100", SET_DEFAULT, SMTP_VERB_MAIL, OK, NULL, NULL, "", "", ADDRESS_NULL},
    {"MAIL FROM:a@b.example", SET_DEFAULT, SMTP_VERB_MAIL, OK, NULL, NULL, "a", "b.example",
     ADDRESS_NO_BRACKETS},
    {"MAIL FROM:a@b.example SIZE=10", SET_DEFAULT, SMTP_VERB_MAIL, OK, NULL, NULL, "a", "b.example",
     ADDRESS_NO_BRACKETS},
    {"MAIL FROM:a@b.example", SET_STRICT, SMTP_VERB_MAIL, 501, "5.1.7", NULL, NULL, NULL, 0},
    {"MAIL FROM:<a@b.example>", SET_STRICT, SMTP_VERB_MAIL, OK, NULL, NULL, "a", "b.example", 0},
    {"MAIL FROM:", SET_DEFAULT, SMTP_VERB_MAIL, 501, "5.1.7", NULL, NULL, NULL, 0},
    {"MAIL", SET_DEFAULT, SMTP_VERB_MAIL, 501, "5.5.4", NULL, NULL, NULL, 0},
    {"MAIL <a@b.example>", SET_DEFAULT, SMTP_VERB_MAIL, 501, "5.5.4", NULL, NULL, NULL, 0},
    {"MAIL FROM <a@b.example>", SET_DEFAULT, SMTP_VERB_MAIL, 501, "5.5.4", NULL, NULL, NULL, 0},
    {"MAIL TO:<a@b.example>", SET_DEFAULT, SMTP_VERB_MAIL, 501, "5.5.4", NULL, NULL, NULL, 0},
    {"MAIL FROM:<a@b.example>x", SET_DEFAULT, SMTP_VERB_MAIL, 501, "5.1.7", NULL, NULL, NULL, 0},
    {"MAIL FROM:<a@b.example> junk", SET_DEFAULT, SMTP_VERB_MAIL, 555, "5.5.4", NULL, NULL, NULL,
     0},
    {"MAIL FROM:<a b@example>", SET_DEFAULT, SMTP_VERB_MAIL, 501, "5.1.7", NULL, NULL, NULL, 0},
    {"MAIL FROM:<postmaster>", SET_DEFAULT, SMTP_VERB_MAIL, 501, "5.1.7", NULL, NULL, NULL, 0},
    {"MAIL FROM:<a@b.example> SIZE=1 SIZE=2", SET_DEFAULT, SMTP_VERB_MAIL, 501, "5.5.4", NULL, NULL,
     NULL, 0},
    {"MAIL FROM:<a@b.example> NOTIFY=NEVER", SET_DEFAULT, SMTP_VERB_MAIL, 555, "5.5.4", NULL, NULL,
     NULL, 0},
    {"MAIL FROM:<a@b.example> SIZE=1", SET_NO_PARAMS, SMTP_VERB_MAIL, 555, "5.5.4", NULL, NULL,
     NULL, 0},
    {"MAIL FROM:<a@b.example> X-FOO=bar", SET_DEFAULT, SMTP_VERB_MAIL, 555, "5.5.4", NULL, NULL,
     NULL, 0},
    /* RCPT */
    {"RCPT TO:<c@d.example>", SET_DEFAULT, SMTP_VERB_RCPT, OK, NULL, NULL, "c", "d.example", 0},
    {"rcpt to: <c@d.example>", SET_DEFAULT, SMTP_VERB_RCPT, OK, NULL, NULL, "c", "d.example", 0},
    {"RCPT TO:<>", SET_DEFAULT, SMTP_VERB_RCPT, 501, "5.1.3", NULL, NULL, NULL, 0},
    {"RCPT TO:<postmaster>", SET_DEFAULT, SMTP_VERB_RCPT, OK, NULL, NULL, "postmaster", "",
     ADDRESS_POSTMASTER},
    {"RCPT TO:<Postmaster>", SET_DEFAULT, SMTP_VERB_RCPT, OK, NULL, NULL, "Postmaster", "",
     ADDRESS_POSTMASTER},
    {"RCPT TO:<Postmaster@d.example>", SET_DEFAULT, SMTP_VERB_RCPT, OK, NULL, NULL, "Postmaster",
     "d.example", 0},
    {"RCPT TO:<user>", SET_DEFAULT, SMTP_VERB_RCPT, 501, "5.1.3", NULL, NULL, NULL, 0},
    {"RCPT FROM:<c@d.example>", SET_DEFAULT, SMTP_VERB_RCPT, 501, "5.5.4", NULL, NULL, NULL, 0},
    {"RCPT TO:<c@d.example> NOTIFY=SUCCESS ORCPT=rfc822;c@d.example", SET_DEFAULT, SMTP_VERB_RCPT,
     OK, NULL, NULL, "c", "d.example", 0},
    {"RCPT TO:<c@d.example> SIZE=10", SET_DEFAULT, SMTP_VERB_RCPT, 555, "5.5.4", NULL, NULL, NULL,
     0},
    {"RCPT TO:<c@d.example> SMTPUTF8", SET_DEFAULT, SMTP_VERB_RCPT, 555, "5.5.4", NULL, NULL, NULL,
     0},
    /* the relay-attack battery, as the session will see it */
    {"RCPT TO:<user%other.net@ours.example>", SET_DEFAULT, SMTP_VERB_RCPT, OK, NULL, NULL,
     "user%other.net", "ours.example", 0},
    {"RCPT TO:<\"user@other.net\"@ours.example>", SET_DEFAULT, SMTP_VERB_RCPT, OK, NULL, NULL,
     "user@other.net", "ours.example", ADDRESS_QUOTED},
    {"RCPT TO:<@ours.example:user@other.net>", SET_DEFAULT, SMTP_VERB_RCPT, OK, NULL, NULL, "user",
     "other.net", ADDRESS_SOURCE_ROUTE},
    {"RCPT TO:<other.net!user@ours.example>", SET_DEFAULT, SMTP_VERB_RCPT, OK, NULL, NULL,
     "other.net!user", "ours.example", 0},
    {"RCPT TO:<user@[192.0.2.25]>", SET_DEFAULT, SMTP_VERB_RCPT, OK, NULL, NULL, "user",
     "[192.0.2.25]", ADDRESS_LITERAL},
    {"RCPT TO:<user@[IPv6:::1]>", SET_DEFAULT, SMTP_VERB_RCPT, OK, NULL, NULL, "user", "[IPv6:::1]",
     ADDRESS_LITERAL | ADDRESS_LITERAL_IPV6},
    {"RCPT TO:<user@ours.example.>", SET_DEFAULT, SMTP_VERB_RCPT, OK, NULL, NULL, "user",
     "ours.example.", ADDRESS_TRAILING_DOT},
    {"RCPT TO:<UsEr@OuRs.ExAmPlE>", SET_DEFAULT, SMTP_VERB_RCPT, OK, NULL, NULL, "UsEr",
     "OuRs.ExAmPlE", 0},
    {"RCPT TO:user%other.net@ours.example", SET_DEFAULT, SMTP_VERB_RCPT, OK, NULL, NULL,
     "user%other.net", "ours.example", ADDRESS_NO_BRACKETS},
    /* 8-bit: needs SMTPUTF8 (declared on MAIL, advertised, in force for RCPT) */
    {"MAIL FROM:<j\xc3\xb6rg@b.example> SMTPUTF8", SET_DEFAULT, SMTP_VERB_MAIL, OK, NULL, NULL,
     "j\xc3\xb6rg", "b.example", ADDRESS_UTF8},
    {"MAIL FROM:<j\xc3\xb6rg@b.example>", SET_DEFAULT, SMTP_VERB_MAIL, 553, "5.6.7", NULL, NULL,
     NULL, 0},
    {"MAIL FROM:<j\xc3\xb6rg@b.example> SMTPUTF8", SET_NO_UTF8, SMTP_VERB_MAIL, 553, "5.6.7", NULL,
     NULL, NULL, 0},
    {"MAIL FROM:<a@b.example> SMTPUTF8", SET_NO_UTF8, SMTP_VERB_MAIL, 555, "5.5.4", NULL, NULL,
     NULL, 0},
    {"MAIL FROM:<a@b.example> SMTPUTF8 BODY=8BITMIME", SET_DEFAULT, SMTP_VERB_MAIL, OK, NULL, NULL,
     "a", "b.example", 0},
    {"MAIL FROM:<j\xf6rg@b.example> SMTPUTF8", SET_DEFAULT, SMTP_VERB_MAIL, 501, "5.1.7", NULL,
     NULL, NULL, 0},
    {"RCPT TO:<j\xc3\xb6rg@b\xc3\xbc"
     "cher.example>",
     SET_UTF8_TX, SMTP_VERB_RCPT, OK, NULL, NULL, "j\xc3\xb6rg",
     "b\xc3\xbc"
     "cher.example",
     ADDRESS_UTF8},
    {"RCPT TO:<j\xc3\xb6rg@b.example>", SET_DEFAULT, SMTP_VERB_RCPT, 553, "5.6.7", NULL, NULL, NULL,
     0},
    {"RCPT TO:<a@b\xc3\xbc"
     "cher.example>",
     SET_DEFAULT, SMTP_VERB_RCPT, 553, "5.6.7", NULL, NULL, NULL, 0},
    {"RCPT TO:<j\xc3@b.example>", SET_UTF8_TX, SMTP_VERB_RCPT, 501, "5.1.3", NULL, NULL, NULL, 0},
    /* limits */
    {"NOOP 01234567890123456789012345678901234567890123456789012345678", SET_SMALL, SMTP_VERB_NOOP,
     OK, NULL, NULL, NULL, NULL, 0},
    {"NOOP 012345678901234567890123456789012345678901234567890123456789", SET_SMALL, SMTP_VERB_NOOP,
     500, "5.5.2", NULL, NULL, NULL, 0},
    {"AUTH PLAIN AGFsaWNlAHNlY3JldHNlY3JldHNlY3JldHNlY3JldHNlY3JldA==", SET_SMALL, SMTP_VERB_AUTH,
     OK, NULL, NULL, NULL, NULL, 0},
    {"MAIL FROM:<a@b.example> SIZE=1 BODY=7BIT", SET_SMALL, SMTP_VERB_MAIL, OK, NULL, NULL, "a",
     "b.example", 0},
    {"MAIL FROM:<a@b.example> SIZE=1 BODY=7BIT RET=FULL", SET_SMALL, SMTP_VERB_MAIL, 501, "5.5.4",
     NULL, NULL, NULL, 0},
    {"MAIL FROM:<a@b.example> ENVID=0123456789012345", SET_SMALL, SMTP_VERB_MAIL, 501, "5.5.4",
     NULL, NULL, NULL, 0},
    /* path errors map to the sender / recipient codes */
    {"MAIL FROM:<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@b.example>",
     SET_DEFAULT, SMTP_VERB_MAIL, 501, "5.1.7", NULL, NULL, NULL, 0},
    {"RCPT TO:<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@b.example>",
     SET_DEFAULT, SMTP_VERB_RCPT, 501, "5.1.3", NULL, NULL, NULL, 0},
};

static void test_command_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
		const struct cmd_case *c = &cmd_cases[i];
		struct smtp_command cmd;
		struct smtp_command_error e;
		int ret = smtp_command_parse(c->line, strlen(c->line), &settings[c->set], &cmd, &e);
		bool bad = false;
		if (c->code == OK) {
			bad = ret != 0;
		} else {
			bad = ret != -1 || e.code != c->code ||
			      strcmp(e.enhanced, c->enhanced) != 0 || e.text == NULL ||
			      e.text[0] == '\0';
		}
		bad = bad || cmd.verb != c->verb;
		if (!bad && c->arg != NULL)
			bad = cmd.arg_len != strlen(c->arg) ||
			      memcmp(cmd.arg, c->arg, cmd.arg_len) != 0;
		if (!bad && c->local != NULL)
			bad = strcmp(cmd.path.local, c->local) != 0 ||
			      strcmp(cmd.path.domain, c->domain) != 0 || cmd.path.flags != c->flags;
		if (bad) {
			fprintf(stderr,
			        "case %zu \"%s\": ret %d verb %s code %u %s %s; arg [%.*s] "
			        "path [%s] [%s] %#x\n",
			        i, c->line, ret, smtp_verb_name(cmd.verb), e.code,
			        e.enhanced ? e.enhanced : "-", e.text ? e.text : "-",
			        (int)cmd.arg_len, cmd.arg, cmd.path.local, cmd.path.domain,
			        cmd.path.flags);
			fail();
		}
	}
}

/* Lines are not NUL-terminated: no read may pass len. */
static void test_exact_buffers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
		const char *line = cmd_cases[i].line;
		size_t n = strlen(line);
		for (size_t cut = 0; cut <= n; cut++) {
			char *copy = malloc(cut > 0 ? cut : 1);
			memcpy(copy, line, cut);
			struct smtp_command cmd;
			struct smtp_command_error e;
			for (int s = 0; s < SET_COUNT; s++)
				(void)smtp_command_parse(copy, cut, &settings[s], &cmd, &e);
			free(copy);
		}
	}
}

static void test_bad_bytes(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		size_t len;
	} cases[] = {
	    {"NOOP a\0b", 8},
	    {"QUIT\r", 5},
	    {"QUIT\n", 5},
	    {"NOOP a\rb", 8},
	    {"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>", 46},
	    {"\0", 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_command cmd;
		struct smtp_command_error e;
		assert_int_equal(smtp_command_parse(cases[i].line, cases[i].len, NULL, &cmd, &e),
		                 -1);
		assert_int_equal(e.code, 500);
		assert_string_equal(e.enhanced, "5.5.2");
	}
}

static void test_line_limits(void **state)
{
	(void)state;
	struct smtp_command cmd;
	struct smtp_command_error e;
	char *line = malloc(20000);
	memcpy(line, "NOOP ", 5);
	memset(line + 5, 'x', 20000 - 5);
	assert_int_equal(smtp_command_parse(line, SMTP_COMMAND_LINE_MAX, NULL, &cmd, &e), 0);
	assert_int_equal(smtp_command_parse(line, SMTP_COMMAND_LINE_MAX + 1, NULL, &cmd, &e), -1);
	assert_int_equal(e.code, 500);
	assert_string_equal(e.text, "Line too long");
	assert_int_equal(cmd.verb, SMTP_VERB_NOOP);
	/* AUTH gets RFC 4954's longer line */
	memcpy(line, "AUTH PLAIN ", 11);
	memset(line + 11, 'A', 20000 - 11);
	assert_int_equal(smtp_command_parse(line, 11 + 12276, NULL, &cmd, &e), 0);
	assert_int_equal(cmd.auth_ir_len, 12276);
	assert_int_equal(smtp_command_parse(line, 12289, NULL, &cmd, &e), -1);
	assert_int_equal(e.code, 500);
	free(line);
}

static int parse_ok(const char *line, enum set_id set, struct smtp_command *cmd)
{
	struct smtp_command_error e;
	int ret = smtp_command_parse(line, strlen(line), &settings[set], cmd, &e);
	if (ret != 0)
		fprintf(stderr, "\"%s\": %u %s %s\n", line, e.code, e.enhanced, e.text);
	return ret;
}

static unsigned int parse_fail(const char *line, enum set_id set, struct smtp_command *cmd,
                               struct smtp_command_error *e)
{
	if (smtp_command_parse(line, strlen(line), &settings[set], cmd, e) == 0) {
		fprintf(stderr, "\"%s\" parsed\n", line);
		return 0;
	}
	return e->code;
}

static void test_mail_params(void **state)
{
	(void)state;
	struct smtp_command cmd;
	struct smtp_command_error e;

	assert_int_equal(parse_ok("MAIL FROM:<a@b.example> SIZE=12345 BODY=8BITMIME SMTPUTF8 "
	                          "RET=HDRS ENVID=QQ+2B314 AUTH=a+2Bb@c.example",
	                          SET_DEFAULT, &cmd),
	                 0);
	const struct smtp_params *p = &cmd.params;
	assert_int_equal(p->count, 6);
	assert_int_equal(p->seen, SMTP_PARAMS_MAIL);
	assert_int_equal(p->size, 12345);
	assert_int_equal(p->body, SMTP_BODY_8BITMIME);
	assert_int_equal(p->ret, SMTP_RET_HDRS);
	assert_string_equal(p->envid, "QQ+314");
	assert_string_equal(p->auth, "a+b@c.example");
	assert_false(p->auth_null);
	assert_int_equal(p->list[0].keyword_len, 4);
	assert_memory_equal(p->list[0].keyword, "SIZE", 4);
	assert_int_equal(p->list[0].value_len, 5);
	assert_memory_equal(p->list[0].value, "12345", 5);
	assert_null(p->list[2].value);
	assert_int_equal(p->list[2].id, SMTP_PARAM_SMTPUTF8);

	/* keywords and enumerated values are case-insensitive */
	assert_int_equal(
	    parse_ok("MAIL FROM:<> size=1 body=binarymime ret=full auth=<>", SET_DEFAULT, &cmd), 0);
	assert_int_equal(cmd.params.body, SMTP_BODY_BINARYMIME);
	assert_int_equal(cmd.params.ret, SMTP_RET_FULL);
	assert_true(cmd.params.auth_null);
	assert_int_equal(parse_ok("MAIL FROM:<> BODY=7bit", SET_DEFAULT, &cmd), 0);
	assert_int_equal(cmd.params.body, SMTP_BODY_7BIT);

	/* SIZE: digits, saturating */
	assert_int_equal(parse_ok("MAIL FROM:<> SIZE=0", SET_DEFAULT, &cmd), 0);
	assert_int_equal(cmd.params.size, 0);
	assert_int_equal(parse_ok("MAIL FROM:<> SIZE=18446744073709551615", SET_DEFAULT, &cmd), 0);
	assert_true(cmd.params.size == UINT64_MAX);
	assert_int_equal(parse_ok("MAIL FROM:<> SIZE=99999999999999999999", SET_DEFAULT, &cmd), 0);
	assert_true(cmd.params.size == UINT64_MAX);
	assert_int_equal(parse_ok("MAIL FROM:<> SIZE=18446744073709551614", SET_DEFAULT, &cmd), 0);
	assert_true(cmd.params.size == UINT64_MAX - 1);

	static const char *const bad[] = {
	    "MAIL FROM:<> SIZE",
	    "MAIL FROM:<> SIZE=",
	    "MAIL FROM:<> SIZE=-1",
	    "MAIL FROM:<> SIZE=1k",
	    "MAIL FROM:<> SIZE=123456789012345678901",
	    "MAIL FROM:<> BODY=8BIT",
	    "MAIL FROM:<> BODY",
	    "MAIL FROM:<> SMTPUTF8=yes",
	    "MAIL FROM:<> RET=ALL",
	    "MAIL FROM:<> ENVID=",
	    "MAIL FROM:<> ENVID=a+2",
	    "MAIL FROM:<> ENVID=a+ZZ",
	    "MAIL FROM:<> ENVID=a+0A",
	    "MAIL FROM:<> ENVID=a+00",
	    "MAIL FROM:<> ENVID=a+C3+A4",
	    ("MAIL FROM:<> ENVID=01234567890123456789012345678901234567890123456789"
	     "012345678901234567890123456789012345678901234567890"),
	    "MAIL FROM:<> AUTH",
	    "MAIL FROM:<> AUTH=a+0Db",
	    "MAIL FROM:<> SIZE=1=2",
	    "MAIL FROM:<> =1",
	    "MAIL FROM:<> -X=1",
	    "MAIL FROM:<> X_Y=1",
	    "MAIL FROM:<> SIZE=1\tBODY=7BIT",
	    "MAIL FROM:<> SIZE=\x01",
	    "MAIL FROM:<> BODY=8BITMIME BODY=7BIT",
	    "MAIL FROM:<> ENVID=\xc3\xa4 SMTPUTF8",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned int code = parse_fail(bad[i], SET_DEFAULT, &cmd, &e);
		if (code != 501) {
			fprintf(stderr, "\"%s\": %u %s\n", bad[i], code, e.text ? e.text : "");
			fail();
		}
		assert_string_equal(e.enhanced, "5.5.4");
	}

	/* non-ASCII values: 501 where SMTPUTF8 is not advertised */
	assert_int_equal(parse_fail("MAIL FROM:<> X=\xc3\xa4", SET_NO_UTF8, &cmd, &e), 501);
	assert_int_equal(parse_fail("MAIL FROM:<> X=\xc3\xa4", SET_DEFAULT, &cmd, &e), 555);

	/* 555 names the keyword */
	assert_int_equal(parse_fail("MAIL FROM:<> SIZE=1 X-Unknown=2", SET_DEFAULT, &cmd, &e), 555);
	assert_int_equal(cmd.params.bad_keyword_len, 9);
	assert_memory_equal(cmd.params.bad_keyword, "X-Unknown", 9);
	assert_int_equal(parse_fail("MAIL FROM:<> XVERP", SET_DEFAULT, &cmd, &e), 555);

	/* UTF-8 values need the SMTPUTF8 parameter of the same MAIL */
	assert_int_equal(
	    parse_fail("MAIL FROM:<> AUTH=j\xc3\xb6rg@b.example", SET_DEFAULT, &cmd, &e), 501);
	assert_int_equal(
	    parse_ok("MAIL FROM:<> AUTH=j\xc3\xb6rg@b.example SMTPUTF8", SET_DEFAULT, &cmd), 0);
	assert_string_equal(cmd.params.auth, "j\xc3\xb6rg@b.example");
	assert_true(cmd.params.utf8_values);
	assert_int_equal(
	    parse_fail("MAIL FROM:<> AUTH=j\xc3\xb6rg@b.example SMTPUTF8", SET_NO_UTF8, &cmd, &e),
	    501);
	assert_int_equal(
	    parse_fail("MAIL FROM:<> AUTH=j\xc3@b.example SMTPUTF8", SET_DEFAULT, &cmd, &e), 501);
}

static void test_rcpt_params(void **state)
{
	(void)state;
	struct smtp_command cmd;
	struct smtp_command_error e;

	assert_int_equal(parse_ok("RCPT TO:<c@d.example> NOTIFY=SUCCESS,FAILURE,DELAY "
	                          "ORCPT=rfc822;c+2Bx@d.example",
	                          SET_DEFAULT, &cmd),
	                 0);
	assert_int_equal(cmd.params.notify,
	                 SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY);
	assert_string_equal(cmd.params.orcpt_type, "rfc822");
	assert_string_equal(cmd.params.orcpt_addr, "c+x@d.example");
	assert_int_equal(parse_ok("RCPT TO:<c@d.example> notify=never", SET_DEFAULT, &cmd), 0);
	assert_int_equal(cmd.params.notify, SMTP_NOTIFY_NEVER);
	assert_int_equal(parse_ok("RCPT TO:<c@d.example> NOTIFY=delay", SET_DEFAULT, &cmd), 0);
	assert_int_equal(cmd.params.notify, SMTP_NOTIFY_DELAY);
	/* quoted local part in ORCPT: space and quote encoded */
	assert_int_equal(parse_ok("RCPT TO:<c@d.example> ORCPT=rfc822;+22john+20doe+22@d.example",
	                          SET_DEFAULT, &cmd),
	                 0);
	assert_string_equal(cmd.params.orcpt_addr, "\"john doe\"@d.example");
	/* RFC 6533 forms: utf-8 type, \x{} escapes pass through, raw UTF-8
	 * only in an SMTPUTF8 transaction */
	assert_int_equal(
	    parse_ok("RCPT TO:<c@d.example> ORCPT=utf-8;j\\x{00F6}rg@d.example", SET_DEFAULT, &cmd),
	    0);
	assert_string_equal(cmd.params.orcpt_type, "utf-8");
	assert_string_equal(cmd.params.orcpt_addr, "j\\x{00F6}rg@d.example");
	assert_int_equal(
	    parse_ok("RCPT TO:<c@d.example> ORCPT=utf-8;j\xc3\xb6rg@d.example", SET_UTF8_TX, &cmd),
	    0);
	assert_string_equal(cmd.params.orcpt_addr, "j\xc3\xb6rg@d.example");
	assert_int_equal(parse_fail("RCPT TO:<c@d.example> ORCPT=utf-8;j\xc3\xb6rg@d.example",
	                            SET_DEFAULT, &cmd, &e),
	                 501);

	static const char *const bad[] = {
	    "RCPT TO:<c@d.example> NOTIFY",
	    "RCPT TO:<c@d.example> NOTIFY=",
	    "RCPT TO:<c@d.example> NOTIFY=NEVER,SUCCESS",
	    "RCPT TO:<c@d.example> NOTIFY=SUCCESS,NEVER",
	    "RCPT TO:<c@d.example> NOTIFY=SUCCESS,SUCCESS",
	    "RCPT TO:<c@d.example> NOTIFY=SUCCESS,",
	    "RCPT TO:<c@d.example> NOTIFY=,SUCCESS",
	    "RCPT TO:<c@d.example> NOTIFY=ALWAYS",
	    "RCPT TO:<c@d.example> ORCPT",
	    "RCPT TO:<c@d.example> ORCPT=c@d.example",
	    "RCPT TO:<c@d.example> ORCPT=;c@d.example",
	    "RCPT TO:<c@d.example> ORCPT=rfc822;",
	    "RCPT TO:<c@d.example> ORCPT=rfc822;c+0D@d.example",
	    "RCPT TO:<c@d.example> ORCPT=rf(c)822;c@d.example",
	    "RCPT TO:<c@d.example> ORCPT=rfc822;a ORCPT=rfc822;b",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned int code = parse_fail(bad[i], SET_DEFAULT, &cmd, &e);
		if (code != 501) {
			fprintf(stderr, "\"%s\": %u\n", bad[i], code);
			fail();
		}
	}
	/* ORCPT: up to 500 characters */
	char line[700];
	int n = snprintf(line, sizeof(line), "RCPT TO:<c@d.example> ORCPT=rfc822;");
	memset(line + n, 'a', 493);
	line[n + 493] = '\0';
	assert_int_equal(parse_ok(line, SET_DEFAULT, &cmd), 0);
	assert_int_equal(strlen(cmd.params.orcpt_addr), 493);
	line[n + 493] = 'a';
	line[n + 494] = '\0';
	assert_int_equal(parse_fail(line, SET_DEFAULT, &cmd, &e), 501);
}

static void test_params_direct(void **state)
{
	(void)state;
	struct smtp_params p;
	struct smtp_command_error e;
	struct smtp_params_settings set = {.allowed = SMTP_PARAMS_ALL};

	assert_int_equal(smtp_params_parse("", 0, &set, &p, &e), 0);
	assert_int_equal(p.count, 0);
	assert_int_equal(smtp_params_parse("   ", 3, &set, &p, &e), 0);
	assert_int_equal(p.count, 0);
	const char *s = "  SIZE=1   BODY=7BIT  ";
	assert_int_equal(smtp_params_parse(s, strlen(s), &set, &p, &e), 0);
	assert_int_equal(p.count, 2);
	/* at most SMTP_PARAMS_MAX, whatever the settings say */
	set.max_params = 1000;
	char many[400] = "";
	for (int i = 0; i < SMTP_PARAMS_MAX + 1; i++)
		strcat(many, "X-A=1 ");
	assert_int_equal(smtp_params_parse(many, strlen(many), &set, &p, &e), -1);
	assert_string_equal(e.text, "Too many parameters");
	/* a parameter keyword that is known but not allowed */
	set.allowed = SMTP_PARAM_SIZE;
	s = "BODY=7BIT";
	assert_int_equal(smtp_params_parse(s, strlen(s), &set, &p, &e), -1);
	assert_int_equal(e.code, 555);

	/* xtext */
	char out[16];
	assert_int_equal(smtp_xtext_decode("a+2Bb", 5, out, sizeof(out), false), 3);
	assert_string_equal(out, "a+b");
	assert_int_equal(smtp_xtext_decode("+3D+2b", 6, out, sizeof(out), false), 2);
	assert_string_equal(out, "=+");
	assert_int_equal(smtp_xtext_decode("", 0, out, sizeof(out), false), 0);
	assert_int_equal(smtp_xtext_decode("+", 1, out, sizeof(out), false), -1);
	assert_int_equal(smtp_xtext_decode("+4", 2, out, sizeof(out), false), -1);
	assert_int_equal(smtp_xtext_decode("+G0", 3, out, sizeof(out), false), -1);
	assert_int_equal(smtp_xtext_decode("+7F", 3, out, sizeof(out), false), -1);
	assert_int_equal(smtp_xtext_decode("+80", 3, out, sizeof(out), true), -1);
	assert_int_equal(smtp_xtext_decode("a=b", 3, out, sizeof(out), false), -1);
	assert_int_equal(smtp_xtext_decode("a b", 3, out, sizeof(out), false), -1);
	assert_int_equal(smtp_xtext_decode("\xc3\xa4", 2, out, sizeof(out), false), -1);
	assert_int_equal(smtp_xtext_decode("\xc3\xa4", 2, out, sizeof(out), true), 2);
	assert_int_equal(smtp_xtext_decode("0123456789abcdef", 16, out, sizeof(out), false), -1);
	assert_int_equal(smtp_xtext_decode("0123456789abcde", 15, out, sizeof(out), false), 15);
}

static void test_bdat(void **state)
{
	(void)state;
	struct smtp_command cmd;
	struct smtp_command_error e;

	assert_int_equal(parse_ok("BDAT 1000", SET_DEFAULT, &cmd), 0);
	assert_int_equal(cmd.bdat_size, 1000);
	assert_false(cmd.bdat_last);
	assert_int_equal(parse_ok("BDAT 0 LAST", SET_DEFAULT, &cmd), 0);
	assert_int_equal(cmd.bdat_size, 0);
	assert_true(cmd.bdat_last);
	assert_int_equal(parse_ok("bdat 42   last  ", SET_DEFAULT, &cmd), 0);
	assert_int_equal(cmd.bdat_size, 42);
	assert_true(cmd.bdat_last);
	assert_int_equal(parse_ok("BDAT 99999999999999999999999", SET_DEFAULT, &cmd), 0);
	assert_true(cmd.bdat_size == UINT64_MAX);
	static const char *const bad[] = {
	    "BDAT",         "BDAT LAST",    "BDAT -1", "BDAT 1x",   "BDAT 1 LAST x",
	    "BDAT 1 FIRST", "BDAT 1 LASTX", "BDAT +1", "BDAT 0x10",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse_fail(bad[i], SET_DEFAULT, &cmd, &e), 501);
		assert_int_equal(cmd.verb, SMTP_VERB_BDAT);
	}
}

static void test_auth(void **state)
{
	(void)state;
	struct smtp_command cmd;
	struct smtp_command_error e;

	assert_int_equal(parse_ok("AUTH PLAIN", SET_DEFAULT, &cmd), 0);
	assert_int_equal(cmd.auth_mech_len, 5);
	assert_memory_equal(cmd.auth_mech, "PLAIN", 5);
	assert_null(cmd.auth_ir);
	assert_int_equal(parse_ok("auth login dXNlcg==", SET_DEFAULT, &cmd), 0);
	assert_memory_equal(cmd.auth_mech, "login", 5);
	assert_int_equal(cmd.auth_ir_len, 8);
	assert_memory_equal(cmd.auth_ir, "dXNlcg==", 8);
	assert_int_equal(parse_ok("AUTH PLAIN =", SET_DEFAULT, &cmd), 0);
	assert_int_equal(cmd.auth_ir_len, 1);
	assert_int_equal(parse_ok("AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlx",
	                          SET_DEFAULT, &cmd),
	                 0);
	assert_int_equal(parse_ok("AUTH X_MECH-1", SET_DEFAULT, &cmd), 0);

	assert_int_equal(parse_fail("AUTH", SET_DEFAULT, &cmd, &e), 501);
	assert_string_equal(e.enhanced, "5.5.4");
	assert_int_equal(parse_fail("AUTH PL@IN", SET_DEFAULT, &cmd, &e), 501);
	assert_int_equal(parse_fail("AUTH ABCDEFGHIJKLMNOPQRSTU", SET_DEFAULT, &cmd, &e), 501);
	assert_int_equal(parse_ok("AUTH ABCDEFGHIJKLMNOPQRST", SET_DEFAULT, &cmd), 0);
	assert_int_equal(parse_fail("AUTH PLAIN dXNl cg==", SET_DEFAULT, &cmd, &e), 501);
	assert_string_equal(e.enhanced, "5.5.4");
	static const char *const bad64[] = {
	    "AUTH PLAIN dXNlcg", "AUTH PLAIN dXNlcg=", "AUTH PLAIN dX=lcg==", "AUTH PLAIN dXNl*g==",
	    "AUTH PLAIN ====",   "AUTH PLAIN ==",      "AUTH PLAIN a===",
	};
	for (size_t i = 0; i < sizeof(bad64) / sizeof(bad64[0]); i++) {
		if (parse_fail(bad64[i], SET_DEFAULT, &cmd, &e) != 501 ||
		    strcmp(e.enhanced, "5.5.2") != 0) {
			fprintf(stderr, "\"%s\"\n", bad64[i]);
			fail();
		}
	}
}

static void test_helo_classification(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		bool valid;
		unsigned int flags;
	} cases[] = {
	    {"EHLO mail.example.com", true, 0},
	    {"EHLO localhost", true, 0},
	    {"EHLO mail.example.com.", true, ADDRESS_TRAILING_DOT},
	    {"EHLO [192.0.2.1]", true, ADDRESS_LITERAL},
	    {"EHLO [IPv6:2001:db8::1]", true, ADDRESS_LITERAL | ADDRESS_LITERAL_IPV6},
	    {"HELO 192.0.2.1", true, 0},
	    {"EHLO mail_server.example", false, 0},
	    {"EHLO [192.0.2.256]", false, 0},
	    {"EHLO two words", false, 0},
	    {"EHLO b\xc3\xbc"
	     "cher.example",
	     false, 0},
	    {"EHLO -bad.example", false, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_command cmd;
		assert_int_equal(parse_ok(cases[i].line, SET_DEFAULT, &cmd), 0);
		if (cmd.helo_valid != cases[i].valid ||
		    (cases[i].valid && cmd.helo_flags != cases[i].flags)) {
			fprintf(stderr, "\"%s\": valid %d flags %#x\n", cases[i].line,
			        cmd.helo_valid, cmd.helo_flags);
			fail();
		}
	}
}

static void test_verb_names(void **state)
{
	(void)state;
	assert_string_equal(smtp_verb_name(SMTP_VERB_MAIL), "MAIL");
	assert_string_equal(smtp_verb_name(SMTP_VERB_STARTTLS), "STARTTLS");
	assert_string_equal(smtp_verb_name(SMTP_VERB_UNKNOWN), "UNKNOWN");
	/* the verb as sent is kept for logs, also when unknown */
	struct smtp_command cmd;
	struct smtp_command_error e;
	assert_int_equal(smtp_command_parse("FOO bar", 7, NULL, &cmd, &e), -1);
	assert_int_equal(cmd.verb_len, 3);
	assert_memory_equal(cmd.verb_str, "FOO", 3);
	assert_string_equal(e.text, "Command unrecognized");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_command_table), cmocka_unit_test(test_exact_buffers),
	    cmocka_unit_test(test_bad_bytes),     cmocka_unit_test(test_line_limits),
	    cmocka_unit_test(test_mail_params),   cmocka_unit_test(test_rcpt_params),
	    cmocka_unit_test(test_params_direct), cmocka_unit_test(test_bdat),
	    cmocka_unit_test(test_auth),          cmocka_unit_test(test_helo_classification),
	    cmocka_unit_test(test_verb_names),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
