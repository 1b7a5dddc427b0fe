/*
 * cmd-data.c - DATA (RFC 5321 section 4.1.1.4) and BDAT (RFC 3030).
 *
 * The message is streamed into the spool file as it arrives: DATA with
 * dot-unstuffing, both with CRLF turned into LF (Maildir files have LF
 * line ends, as Dovecot writes them). The size limit is enforced while
 * streaming: past [mail] message_size_limit nothing more is written and
 * the end of the message is answered 552. Received: fields of the
 * header are counted on the way; more than [smtpd] hopcount_limit is a
 * mail loop (554 5.4.6).
 */
#include "smtp/smtp-private.h"
#include "core/log.h"
#include "core/xalloc.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <string.h>


static bool tx_ready_for_data(struct smtp_session *s, const char *verb)
{
	if (s->tx == NULL) {
		session_reject(s, verb, "503 5.5.1 Error: need MAIL command");
		return false;
	}
	if (s->tx->nrcpts == 0) {
		session_reject(s, verb, "554 5.5.1 Error: no valid recipients");
		return false;
	}
	return true;
}

void cmd_data(struct smtp_session *s, const struct smtp_command *c)
{
	if (c->arg_len > 0) {
		session_reject(s, "DATA", "501 5.5.4 Syntax: DATA");
		return;
	}
	if (!tx_ready_for_data(s, "DATA"))
		return;
	if (s->tx->bdat) {
		session_reject(s, "DATA", "503 5.5.1 Error: DATA after BDAT");
		return;
	}
	if (deliver_open_spool(s) < 0) {
		session_reject(s, "DATA", "451 4.3.0 Error: queue file write error");
		return;
	}
	s->tx->data_state = SMTP_DATA_START;
	session_enter_state(s, SMTP_STATE_DATA);
	session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void message_complete(struct smtp_session *s)
{
	struct smtp_transaction *tx = s->tx;
	const struct config *cfg = s->srv->cfg;
	spool_finish(s, cfg->mail.message_size_limit);
	if (tx->too_big) {
		session_reject(s, "DATA", "552 5.3.4 Message size exceeds fixed limit");
	} else if (tx->write_error) {
		log_error("sid=%s qid=%s event=spool_error error=\"%s\"", s->sid, tx->qid,
			  strerror(tx->write_errno));
		session_reject(s, "DATA", "451 4.3.0 Error: queue file write error");
	} else if (cfg->smtpd.hopcount_limit > 0 && tx->hops > cfg->smtpd.hopcount_limit) {
		session_reject(s, "DATA", "554 5.4.6 Too many hops");
	} else {
		session_enter_state(s, SMTP_STATE_DELIVER);
		deliver_start(s);
		return;
	}
	session_tx_reset(s);
	session_enter_state(s, SMTP_STATE_READY);
}

bool data_consume(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct smtp_transaction *tx = s->tx;
	uint64_t limit = s->srv->cfg->mail.message_size_limit;
	struct buf out = BUF_INIT;
	bool end = false;
	while (!end && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		size_t used = smtp_data_scan(&tx->data_state, v.iov_base, v.iov_len, &out, &end);
		evbuffer_drain(in, used);
		spool_write(tx, out.data, out.len, limit);
		buf_reset(&out);
	}
	buf_free(&out);
	if (!end)
		return false;
	message_complete(s);
	return true;
}

void cmd_bdat(struct smtp_session *s, const struct smtp_command *c)
{
	struct smtp_transaction *tx = s->tx;
	bool ok = tx_ready_for_data(s, "BDAT");
	if (ok && s->state != SMTP_STATE_RCPT && s->state != SMTP_STATE_BDAT_WAIT) {
		session_reject(s, "BDAT", "503 5.5.1 Error: BDAT not allowed now");
		ok = false;
	}
	if (ok && !tx->bdat) {
		if (deliver_open_spool(s) < 0) {
			session_reject(s, "BDAT", "451 4.3.0 Error: queue file write error");
			ok = false;
		} else {
			tx->bdat = true;
		}
	}
	if (!ok) {
		/* RFC 3030: the chunk is read and thrown away all the same */
		if (s->state == SMTP_STATE_CLOSING)
			return;
		session_tx_reset(s);
		tx = xcalloc(1, sizeof(*tx));
		tx->bdat = true;
		tx->too_big = true; /* nothing is kept */
		tx->qid[0] = '\0';
		s->tx = tx;
		tx->data_state = -1; /* marks a discarded transaction */
	}
	tx->bdat_left = c->bdat_size;
	tx->bdat_last = c->bdat_last;
	session_enter_state(s, SMTP_STATE_BDAT);
}

bool bdat_consume(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct smtp_transaction *tx = s->tx;
	uint64_t limit = s->srv->cfg->mail.message_size_limit;
	struct buf out = BUF_INIT;
	while (tx->bdat_left > 0 && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		size_t n = v.iov_len < tx->bdat_left ? v.iov_len : (size_t)tx->bdat_left;
		const unsigned char *p = v.iov_base;
		if (tx->data_state != -1) {
			for (size_t i = 0; i < n; i++) {
				if (tx->cr_pending) {
					tx->cr_pending = false;
					if (p[i] != '\n')
						buf_append_c(&out, '\r');
				}
				if (p[i] == '\r')
					tx->cr_pending = true;
				else
					buf_append_c(&out, (char)p[i]);
			}
			spool_write(tx, out.data, out.len, limit);
			buf_reset(&out);
		}
		evbuffer_drain(in, n);
		tx->bdat_left -= n;
	}
	buf_free(&out);
	if (tx->bdat_left > 0)
		return false;
	if (tx->data_state == -1) {
		session_tx_reset(s);
		session_enter_state(s, SMTP_STATE_READY);
		return true;
	}
	if (!tx->bdat_last) {
		session_enter_state(s, SMTP_STATE_BDAT_WAIT);
		session_reply(s, "250 2.0.0 Ok: %llu octets", (unsigned long long)tx->msg_size);
		return true;
	}
	if (tx->cr_pending) {
		tx->cr_pending = false;
		spool_write(tx, "\r", 1, limit);
	}
	message_complete(s);
	return true;
}
