/*
 * cmd-helo.c - HELO and EHLO (RFC 5321 section 4.1.1.1).
 *
 * The guide's smtpd_helo_restrictions: permit_mynetworks,
 * reject_invalid_helo_hostname (501), reject_non_fqdn_helo_hostname (504),
 * reject_unknown_helo_hostname (450, DNS). As Postfix does with
 * smtpd_delay_reject = yes, the verdict is given at RCPT TO; here the
 * name is only recorded and its DNS check started.
 */
#include "smtp/smtp-private.h"
#include "core/log.h"
#include "core/xalloc.h"

#include <string.h>

void cmd_helo(struct smtp_session *s, const struct smtp_command *c)
{
	bool ehlo = c->verb == SMTP_VERB_EHLO;
	if (c->arg_len == 0) {
		session_reject(s, ehlo ? "EHLO" : "HELO", "501 5.5.4 Syntax: %s hostname",
			       ehlo ? "EHLO" : "HELO");
		return;
	}
	restrict_cancel(s);
	session_tx_reset(s);
	free(s->helo);
	s->helo = xstrndup(c->arg, c->arg_len);
	s->esmtp = ehlo;
	s->helo_checked = false;
	s->helo_dns = 1;
	session_enter_state(s, SMTP_STATE_READY);
	log_info("sid=%s event=%s helo=%s client=%s[%s]", s->sid, ehlo ? "ehlo" : "helo",
		 log_esc(s->helo), log_esc(s->client_name), s->client_ip);
	if (!ehlo) {
		session_reply(s, "250 %s", s->srv->cfg->server.hostname);
	} else {
		struct buf b = BUF_INIT;
		buf_appendf(&b, "250-%s\r\n250-PIPELINING\r\n250-SIZE %llu\r\n",
			    s->srv->cfg->server.hostname,
			    (unsigned long long)s->srv->cfg->mail.message_size_limit);
		if (!s->srv->cfg->smtpd.disable_vrfy_command)
			buf_append_str(&b, "250-VRFY\r\n");
		if (s->srv->env.tls != NULL && !s->tls)
			buf_append_str(&b, "250-STARTTLS\r\n");
		if (session_is_submission(s) && s->tls && s->auth_user == NULL)
			buf_append_str(&b, "250-AUTH PLAIN LOGIN\r\n"); /* smtpd_tls_auth_only */
		buf_append_str(&b, "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n"
				   "250-SMTPUTF8\r\n250 CHUNKING");
		session_reply(s, "%s", b.data);
		buf_free(&b);
	}
	/* the answer arrives in the background; RCPT waits for it */
	if (!s->mynetworks && !session_is_submission(s) &&
	    s->srv->cfg->smtpd.reject_unknown_helo_hostname)
		restrict_helo_start(s);
}
