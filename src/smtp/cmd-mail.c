/*
 * cmd-mail.c - MAIL FROM (RFC 5321 section 4.1.1.2, SIZE RFC 1870,
 * BODY RFC 6152, SMTPUTF8 RFC 6531).
 */
#include "smtp/smtp-private.h"
#include "core/log.h"
#include "core/xalloc.h"

#include <string.h>

static void mail_accept(struct smtp_session *s, struct smtp_transaction *tx)
{
	s->tx = tx;
	session_enter_state(s, SMTP_STATE_MAIL);
	log_info("sid=%s qid=%s event=mail from=<%s> size=%llu%s%s%s", s->sid, tx->qid,
		 log_esc(tx->sender_wire), (unsigned long long)tx->size_param,
		 tx->smtputf8 ? " smtputf8=yes" : "", s->auth_user ? " sasl_username=" : "",
		 s->auth_user ? log_esc(s->auth_user) : "");
	session_reply(s, "250 2.1.0 Ok");
}

static void tx_free(struct smtp_transaction *tx)
{
	free(tx->sender);
	free(tx->sender_wire);
	free(tx->msgid_host);
	free(tx);
}

static void on_sendas(const struct lookup_reply *r, void *arg)
{
	struct smtp_session *s = arg;
	struct smtp_transaction *tx = s->pending_tx;
	s->lookup_id = 0;
	s->pending_tx = NULL;
	if (r->status != LOOKUP_OK) {
		session_reject(s, "MAIL", "451 4.3.0 <%s>: Temporary lookup failure", tx->sender_wire);
		tx_free(tx);
	} else if (!r->found) {
		/* the guide's reject_sender_login_mismatch */
		session_reject(s, "MAIL",
			       "553 5.7.1 <%s>: Sender address rejected: not owned by user %s",
			       tx->sender_wire, s->auth_user);
		tx_free(tx);
	} else {
		mail_accept(s, tx);
	}
	session_resume(s);
}

void cmd_mail(struct smtp_session *s, const struct smtp_command *c)
{
	const struct config *cfg = s->srv->cfg;
	bool submission = session_is_submission(s);
	if (submission && !s->tls) {
		/* smtpd_tls_security_level = encrypt */
		session_reject(s, "MAIL", "530 5.7.0 Must issue a STARTTLS command first");
		return;
	}
	if (s->helo == NULL && cfg->smtpd.helo_required && !submission) {
		session_reject(s, "MAIL", "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->tx != NULL) {
		session_reject(s, "MAIL", "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (cfg->smtpd.messages_per_connection > 0 &&
	    s->messages >= cfg->smtpd.messages_per_connection) {
		session_reject(s, "MAIL", "452 4.5.3 Error: too many messages in this session");
		return;
	}
	if (s->srv->shutting_down) {
		session_reply(s, "421 4.3.2 %s Service shutting down", cfg->server.hostname);
		session_close(s);
		return;
	}
	const struct smtp_params *p = &c->params;
	if ((p->seen & SMTP_PARAM_SIZE) && p->size > cfg->mail.message_size_limit) {
		session_reject(s, "MAIL", "552 5.3.4 Message size exceeds fixed limit");
		return;
	}
	bool null_sender = (c->path.flags & ADDRESS_NULL) != 0;
	/* the guide's mua_sender_restrictions: permit_mynetworks,
	 * reject_non_fqdn_sender, reject_sender_login_mismatch,
	 * permit_sasl_authenticated, reject */
	if (submission && !s->mynetworks) {
		if (s->auth_user == NULL) {
			session_reject(s, "MAIL", "530 5.7.0 Authentication required");
			return;
		}
		if (!null_sender && !address_domain_is_fqdn(c->path.domain)) {
			session_reject(s, "MAIL",
				       "504 5.5.2 <%s>: Sender address rejected: need fully-qualified "
				       "address",
				       c->path.local);
			return;
		}
	}
	struct smtp_transaction *tx = xcalloc(1, sizeof(*tx));
	id_new(tx->qid);
	struct buf b = BUF_INIT;
	address_canonical(&c->path, &b);
	tx->sender = buf_steal(&b);
	address_format(&c->path, &b);
	tx->sender_wire = buf_steal(&b);
	tx->size_param = p->size;
	tx->smtputf8 = (p->seen & SMTP_PARAM_SMTPUTF8) != 0;
	tx->body_8bit = p->body == SMTP_BODY_8BITMIME;
	tx->clean_headers = submission;
	if (submission)
		tx->msgid_host = xstrdup(cfg->server.hostname);
	if (submission && !s->mynetworks && !null_sender) {
		s->pending_tx = tx;
		s->busy = true;
		s->lookup_id = lookup_sendas(s->srv->env.lookup, s->auth_user, tx->sender, on_sendas, s);
		return;
	}
	mail_accept(s, tx);
}
