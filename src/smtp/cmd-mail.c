/*
 * cmd-mail.c - MAIL FROM (RFC 5321 section 4.1.1.2, SIZE RFC 1870,
 * BODY RFC 6152, SMTPUTF8 RFC 6531).
 */
#include "smtp/smtp-private.h"
#include "core/log.h"
#include "core/xalloc.h"

#include <string.h>

void cmd_mail(struct smtp_session *s, const struct smtp_command *c)
{
	const struct config *cfg = s->srv->cfg;
	if (s->helo == NULL && cfg->smtpd.helo_required) {
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
	if (c->path.flags & ADDRESS_SOURCE_ROUTE) {
		/* RFC 5321 section 4.1.1.2: source routes are ignored */
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
	s->tx = tx;
	session_enter_state(s, SMTP_STATE_MAIL);
	log_info("sid=%s qid=%s event=mail from=<%s> size=%llu%s", s->sid, tx->qid,
		 log_esc(tx->sender_wire), (unsigned long long)p->size,
		 tx->smtputf8 ? " smtputf8=yes" : "");
	session_reply(s, "250 2.1.0 Ok");
}
