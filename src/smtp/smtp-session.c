/*
 * smtp-session.c - one SMTP connection: I/O, limits and the dispatch of
 * commands (see smtp-private.h for the shape).
 *
 * Reading: commands are lines ending in LF (CRLF expected, bare LF
 * taken, as Postfix does); a line longer than [smtpd] line_length_limit
 * is answered 500 and skipped. While a command is in progress (s->busy)
 * nothing more is read, so pipelined commands are answered in order.
 * Clients that talk before the greeting, or send several commands at
 * once without having been offered PIPELINING (HELO sessions), are
 * dropped: the guide's reject_unauth_pipelining.
 *
 * Writing: replies go into the bufferevent's output; while more than
 * SMTP_OUTPUT_CAP bytes wait there, reading stops (backpressure).
 * A session is freed only from a bufferevent callback after its last
 * reply was written, never from inside a command handler.
 */
#include "smtp/smtp-private.h"
#include "core/addr.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "net/conn-limit.h"
#include "net/dns.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const state_names[] = {
	"greeting", "ready", "mail", "rcpt", "data", "bdat", "bdat_wait", "deliver", "closing",
};

static void on_read(struct bufferevent *bev, void *arg);
static void on_under_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);
static void session_free(struct smtp_session *s);
static void session_input(struct smtp_session *s);

const char *session_state_name(enum smtp_state st)
{
	return state_names[st];
}

void session_enter_state(struct smtp_session *s, enum smtp_state st)
{
	if (s->state == st)
		return;
	log_debug("sid=%s event=state from=%s to=%s", s->sid, state_names[s->state],
		  state_names[st]);
	s->state = st;
	unsigned t = (st == SMTP_STATE_DATA || st == SMTP_STATE_BDAT) ? s->srv->cfg->smtpd.data_timeout
								       : s->srv->cfg->smtpd.timeout;
	struct timeval tv = {(time_t)t, 0};
	if (s->bev != NULL)
		bufferevent_set_timeouts(s->bev, &tv, &tv);
}

static void vreply(struct smtp_session *s, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;
	buf_vappendf(&b, fmt, ap);
	buf_append(&b, "\r\n", 2);
	if (s->bev != NULL)
		bufferevent_write(s->bev, b.data, b.len);
	buf_free(&b);
}

void session_reply(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
}

void session_reject(struct smtp_session *s, const char *what, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vappendf(&b, fmt, ap);
	va_end(ap);
	log_info("sid=%s%s%s event=reject command=%s client=%s[%s] reply=\"%s\"", s->sid,
		 s->tx && s->tx->qid[0] ? " qid=" : "", s->tx && s->tx->qid[0] ? s->tx->qid : "",
		 what, log_esc(s->client_name), s->client_ip, log_esc(b.data));
	buf_append(&b, "\r\n", 2);
	if (s->bev != NULL)
		bufferevent_write(s->bev, b.data, b.len);
	buf_free(&b);
	s->errors++;
	if (s->srv->cfg->smtpd.hard_error_limit > 0 &&
	    s->errors >= s->srv->cfg->smtpd.hard_error_limit) {
		session_reply(s, "421 4.7.0 %s Error: too many errors", s->srv->cfg->server.hostname);
		log_info("sid=%s event=too_many_errors errors=%u", s->sid, s->errors);
		session_close(s);
	}
}

void session_close(struct smtp_session *s)
{
	if (s->state == SMTP_STATE_CLOSING)
		return;
	restrict_cancel(s);
	if (s->lookup_id != 0) {
		lookup_cancel(s->srv->env.lookup, s->lookup_id);
		s->lookup_id = 0;
	}
	session_enter_state(s, SMTP_STATE_CLOSING);
	bufferevent_disable(s->bev, EV_READ);
	struct bufferevent *under = bufferevent_get_underlying(s->bev);
	if (under != NULL) {
		/* TLS: the last reply is written when the socket's buffer (under the
		 * TLS filter) is empty, not the filter's own */
		evbuffer_add_cb(bufferevent_get_output(under), on_under_drained, s);
	}
	/* flushes, then on_write frees us */
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		bufferevent_trigger(s->bev, EV_WRITE,
				    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

void session_tx_reset(struct smtp_session *s)
{
	struct smtp_transaction *tx = s->tx;
	if (tx == NULL)
		return;
	s->tx = NULL;
	deliver_discard(tx);
	free(tx->sender);
	free(tx->sender_wire);
	for (unsigned i = 0; i < tx->nrcpts; i++)
		free(tx->rcpts[i].address);
	free(tx->rcpts);
	for (unsigned i = 0; i < tx->ntargets; i++)
		free(tx->targets[i].address);
	free(tx->targets);
	free(tx);
}

static void greet(struct smtp_session *s)
{
	if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0) {
		log_info("sid=%s event=reject reason=early_talker client=%s[%s]", s->sid,
			 log_esc(s->client_name), s->client_ip);
		session_reply(s, "554 5.5.1 %s Error: talking before the greeting",
			      s->srv->cfg->server.hostname);
		session_close(s);
		return;
	}
	session_reply(s, "220 %s ESMTP vmaild", s->srv->cfg->server.hostname);
	session_enter_state(s, SMTP_STATE_READY);
}

static void on_greet_timer(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;
	(void)fd;
	(void)what;
	event_free(s->timer);
	s->timer = NULL;
	session_resume(s);
}

/* session_resume: an asynchronous step finished; go on with the input. */
void session_resume(struct smtp_session *s)
{
	s->busy = false;
	if (s->state == SMTP_STATE_CLOSING)
		return;
	if (s->state == SMTP_STATE_GREETING) {
		if (s->timer != NULL || s->dnsq != NULL) {
			s->busy = true; /* still waiting for the other one */
			return;
		}
		greet(s);
		if (s->state == SMTP_STATE_CLOSING)
			return;
	}
	session_input(s);
}

static bool redispatching;

static void count_command(struct smtp_session *s, enum smtp_verb v)
{
	if (redispatching)
		return;
	if ((unsigned)v < sizeof(s->cmd_counts) / sizeof(s->cmd_counts[0]))
		s->cmd_counts[v]++;
	s->ncommands++;
}

static void dispatch(struct smtp_session *s, const char *line, size_t len)
{
	s->cur_line = line;
	s->cur_len = len;
	struct smtp_command_settings set;
	struct smtp_command c;
	struct smtp_command_error err;
	smtp_command_settings_init(&set);
	set.max_line = s->srv->cfg->smtpd.line_length_limit;
	set.smtputf8 = s->tx != NULL && s->tx->smtputf8;
	set.params = s->esmtp ? (SMTP_PARAM_SIZE | SMTP_PARAM_BODY | SMTP_PARAM_SMTPUTF8 |
				 SMTP_PARAM_RET | SMTP_PARAM_ENVID | SMTP_PARAM_NOTIFY |
				 SMTP_PARAM_ORCPT)
			      : 0;
	if (s->esmtp && session_is_submission(s))
		set.params |= SMTP_PARAM_AUTH;
	if (smtp_command_parse(line, len, &set, &c, &err) < 0) {
		count_command(s, c.verb);
		session_reject(s, c.verb != SMTP_VERB_UNKNOWN ? smtp_verb_name(c.verb) : "unknown",
			       "%u %s %s", err.code, err.enhanced, err.text);
		return;
	}
	count_command(s, c.verb);
	/* reject_unauth_pipelining: more input already waiting although the
	 * client was not offered PIPELINING, or after DATA (RFC 2920). */
	size_t more = evbuffer_get_length(bufferevent_get_input(s->bev));
	if (more > 0 && (!s->esmtp || c.verb == SMTP_VERB_DATA) && c.verb != SMTP_VERB_QUIT) {
		log_info("sid=%s event=reject reason=unauth_pipelining command=%s client=%s[%s]",
			 s->sid, smtp_verb_name(c.verb), log_esc(s->client_name), s->client_ip);
		session_reply(s, "554 5.5.0 Error: SMTP protocol synchronization");
		session_close(s);
		return;
	}
	switch (c.verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		cmd_helo(s, &c);
		break;
	case SMTP_VERB_MAIL:
		cmd_mail(s, &c);
		break;
	case SMTP_VERB_RCPT:
		cmd_rcpt(s, &c);
		break;
	case SMTP_VERB_DATA:
		cmd_data(s, &c);
		break;
	case SMTP_VERB_BDAT:
		cmd_bdat(s, &c);
		break;
	case SMTP_VERB_RSET:
		cmd_rset(s, &c);
		break;
	case SMTP_VERB_NOOP:
		cmd_noop(s, &c);
		break;
	case SMTP_VERB_QUIT:
		cmd_quit(s, &c);
		break;
	case SMTP_VERB_VRFY:
	case SMTP_VERB_EXPN:
		cmd_vrfy(s, &c);
		break;
	case SMTP_VERB_HELP:
		cmd_help(s, &c);
		break;
	case SMTP_VERB_STARTTLS:
		cmd_starttls(s, &c);
		break;
	case SMTP_VERB_AUTH:
		cmd_auth(s, &c);
		break;
	case SMTP_VERB_UNKNOWN:
		session_reject(s, "unknown", "500 5.5.2 Error: command not recognized");
		break;
	}
}

void session_redispatch(struct smtp_session *s, const char *line, size_t len)
{
	redispatching = true; /* counted once already */
	dispatch(s, line, len);
	redispatching = false;
}

/* session_input: handle what is buffered, as far as the state allows. */
static void session_input(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t limit = s->srv->cfg->smtpd.line_length_limit;
	if (limit < 512)
		limit = 512;
	if (limit < SMTP_COMMAND_AUTH_LINE_MAX && session_is_submission(s))
		limit = SMTP_COMMAND_AUTH_LINE_MAX; /* RFC 4954: AUTH lines up to 12288 */
	while (!s->busy && s->state != SMTP_STATE_CLOSING) {
		if (s->state == SMTP_STATE_GREETING)
			return;
		if (s->state == SMTP_STATE_DATA) {
			if (!data_consume(s))
				break;
			continue;
		}
		if (s->state == SMTP_STATE_BDAT) {
			if (!bdat_consume(s))
				break;
			continue;
		}
		if (s->state == SMTP_STATE_DELIVER)
			break;
		struct evbuffer_ptr eol = evbuffer_search(in, "\n", 1, NULL);
		if (eol.pos < 0) {
			size_t have = evbuffer_get_length(in);
			if (have > limit) {
				/* too long without a line end: answer once, skip the rest */
				if (!s->discarding_line) {
					s->discarding_line = true;
					session_reject(s, "unknown",
						       "500 5.5.2 Error: line too long");
				}
				evbuffer_drain(in, have);
			}
			break;
		}
		size_t len = (size_t)eol.pos;
		if (s->discarding_line || len > limit) {
			evbuffer_drain(in, len + 1);
			if (!s->discarding_line)
				session_reject(s, "unknown", "500 5.5.2 Error: line too long");
			s->discarding_line = false;
			continue;
		}
		char *line = xmalloc(len + 1);
		evbuffer_remove(in, line, len + 1);
		if (len > 0 && line[len - 1] == '\r')
			len--;
		line[len] = '\0';
		if (s->auth_step != 0) {
			/* a SASL response, not a command */
			auth_response(s, line, len);
			OPENSSL_cleanse(line, len);
		} else {
			dispatch(s, line, len);
		}
		free(line);
	}
	if (s->state != SMTP_STATE_CLOSING && s->bev != NULL) {
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) > SMTP_OUTPUT_CAP)
			bufferevent_disable(s->bev, EV_READ);
		else
			bufferevent_enable(s->bev, EV_READ);
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;
	(void)bev;
	if (s->state == SMTP_STATE_GREETING) {
		if (!s->busy)
			greet(s);
		else {
			/* talking before the greeting: answered when the greeting is due */
			bufferevent_disable(s->bev, EV_READ);
		}
		return;
	}
	session_input(s);
}

/* closing_flushed: nothing of ours is waiting to be written any more */
static bool closing_flushed(struct smtp_session *s)
{
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) > 0)
		return false;
	struct bufferevent *under = bufferevent_get_underlying(s->bev);
	return under == NULL || evbuffer_get_length(bufferevent_get_output(under)) == 0;
}

static void on_close_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	session_free(arg);
}

static void on_under_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct smtp_session *s = arg;
	(void)info;
	if (s->state == SMTP_STATE_CLOSING && evbuffer_get_length(buf) == 0 &&
	    s->close_ev == NULL && closing_flushed(s)) {
		/* not from inside libevent's buffer callback: next loop turn */
		s->close_ev = event_new(s->srv->env.base, -1, 0, on_close_event, s);
		event_active(s->close_ev, EV_TIMEOUT, 0);
	}
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;
	(void)bev;
	if (s->state == SMTP_STATE_CLOSING) {
		if (closing_flushed(s) && s->close_ev == NULL)
			session_free(s);
		return;
	}
	/* output drained below the cap: read again */
	if (!s->busy)
		bufferevent_enable(bev, EV_READ);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session *s = arg;
	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
		if (ssl != NULL) {
			int alg = 0;
			int bits = SSL_get_cipher_bits(ssl, &alg);
			snprintf(s->tls_desc, sizeof(s->tls_desc), "%s with cipher %s (%d/%d bits)",
				 SSL_get_version(ssl), SSL_get_cipher_name(ssl), bits, alg);
			log_info("sid=%s event=tls client=%s[%s] version=%s cipher=%s", s->sid,
				 log_esc(s->client_name), s->client_ip, SSL_get_version(ssl),
				 SSL_get_cipher_name(ssl));
		}
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (s->state == SMTP_STATE_CLOSING) {
			session_free(s);
			return;
		}
		log_info("sid=%s event=timeout state=%s client=%s[%s]", s->sid,
			 state_names[s->state], log_esc(s->client_name), s->client_ip);
		bufferevent_enable(s->bev, EV_WRITE);
		session_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->srv->cfg->server.hostname);
		session_close(s);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(s->bev);
		if (e != 0) {
			char reason[200];
			ERR_error_string_n(e, reason, sizeof(reason));
			log_info("sid=%s event=tls_error client=%s[%s] error=\"%s\"", s->sid,
				 log_esc(s->client_name), s->client_ip, log_esc(reason));
		}
	}
	if (s->state != SMTP_STATE_CLOSING)
		log_info("sid=%s event=lost_connection state=%s client=%s[%s]", s->sid,
			 state_names[s->state], log_esc(s->client_name), s->client_ip);
	session_free(s);
}

static void log_disconnect(struct smtp_session *s)
{
	static const char *const names[] = {"unknown", "helo", "ehlo",	  "mail", "rcpt",
					    "data",    "bdat", "rset",	  "noop", "quit",
					    "vrfy",    "expn", "help",	  "starttls", "auth"};
	struct buf b = BUF_INIT;
	for (unsigned i = 1; i < sizeof(names) / sizeof(names[0]); i++)
		if (s->cmd_counts[i] > 0)
			buf_appendf(&b, " %s=%u", names[i], s->cmd_counts[i]);
	if (s->cmd_counts[0] > 0)
		buf_appendf(&b, " unknown=%u", s->cmd_counts[0]);
	log_info("sid=%s event=disconnect client=%s[%s]%s commands=%u errors=%u", s->sid,
		 log_esc(s->client_name), s->client_ip, buf_cstr(&b), s->ncommands, s->errors);
	buf_free(&b);
}

void session_job_begin(struct smtp_session *s)
{
	s->jobs++;
}

bool session_job_end(struct smtp_session *s)
{
	s->jobs--;
	if (s->quit && s->jobs == 0) {
		s->busy = false;
		s->state = SMTP_STATE_CLOSING;
		session_free(s);
		return false;
	}
	return !s->quit;
}

static void session_free(struct smtp_session *s)
{
	if (s->jobs > 0) {
		/* a pool job still uses us: it frees us when it ends */
		s->quit = true;
		restrict_cancel(s);
		if (s->bev != NULL) {
			bufferevent_free(s->bev);
			s->bev = NULL;
		}
		return;
	}
	struct smtp_server *srv = s->srv;
	restrict_cancel(s);
	if (s->lookup_id != 0)
		lookup_cancel(srv->env.lookup, s->lookup_id);
	log_disconnect(s);
	session_tx_reset(s);
	auth_cancel(s);
	free(s->auth_user);
	if (s->pending_tx != NULL) {
		free(s->pending_tx->sender);
		free(s->pending_tx->sender_wire);
		free(s->pending_tx->msgid_host);
		free(s->pending_tx);
	}
	for (unsigned i = 0; i < s->rq.npending; i++)
		free(s->rq.pending[i]);
	free(s->rq.pending);
	free(s->rq.address);
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->close_ev != NULL)
		event_free(s->close_ev);
	if (s->bev != NULL) {
		struct bufferevent *under = bufferevent_get_underlying(s->bev);
		if (under != NULL)
			evbuffer_remove_cb(bufferevent_get_output(under), on_under_drained, s);
		bufferevent_free(s->bev);
	}
	if (s->conn_counted && srv->env.conn_limit != NULL)
		conn_limit_release(srv->env.conn_limit, (struct sockaddr *)&s->peer);
	free(s->helo);
	free(s->held_line);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	srv->nsessions--;
	free(s);
	if (srv->env.on_session_end != NULL)
		srv->env.on_session_end(srv->env.ctx);
}

void smtp_session_start(struct smtp_server *srv, int fd, const struct sockaddr *sa, int salen,
			const struct sockaddr *local, enum smtp_service service);
void smtp_session_start(struct smtp_server *srv, int fd, const struct sockaddr *sa, int salen,
			const struct sockaddr *local, enum smtp_service service)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));
	s->srv = srv;
	s->service = service;
	id_new(s->sid);
	memcpy(&s->peer, sa, (size_t)salen < sizeof(s->peer) ? (size_t)salen : sizeof(s->peer));
	if (local != NULL)
		memcpy(&s->local, local, sizeof(s->local));
	addr_ip(sa, s->client_ip, sizeof(s->client_ip));
	snprintf(s->client_name, sizeof(s->client_name), "unknown");
	s->mynetworks = cidr_list_match(srv->mynetworks, srv->nmynetworks, sa);
	s->state = SMTP_STATE_GREETING;
	s->next = srv->sessions;
	if (srv->sessions != NULL)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->nsessions++;

	evutil_make_socket_nonblocking(fd);
	/* replies are small and the client waits for each: no Nagle delay
	 * (a TLS greeting after the session tickets waited 40 ms for an ACK) */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (service == SMTP_SERVICE_SUBMISSIONS && srv->env.tls != NULL) {
		/* port 465: TLS from the first byte (smtpd_tls_wrappermode) */
		SSL *ssl = SSL_new(srv->env.tls);
		s->bev = bufferevent_openssl_socket_new(srv->env.base, fd, ssl,
							BUFFEREVENT_SSL_ACCEPTING,
							BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
		s->tls = true;
	} else {
		s->bev = bufferevent_socket_new(srv->env.base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	struct timeval tv = {(time_t)srv->cfg->smtpd.timeout, 0};
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);

	static const char *const service_names[] = {"smtp", "submission", "smtps"};
	log_info("sid=%s event=connect service=%s client_ip=%s port=%u mynetworks=%s", s->sid,
		 service_names[service], s->client_ip,
		 (unsigned)ntohs(((const struct sockaddr_in *)sa)->sin_port),
		 s->mynetworks ? "yes" : "no");

	unsigned limit = srv->cfg->smtpd.client_connection_limit;
	if (srv->env.conn_limit != NULL) {
		unsigned n = conn_limit_acquire(srv->env.conn_limit, sa);
		s->conn_counted = true;
		if (limit > 0 && n > limit && !s->mynetworks) {
			log_info("sid=%s event=reject reason=connection_limit client_ip=%s count=%u "
				 "limit=%u",
				 s->sid, s->client_ip, n, limit);
			session_reply(s, "421 4.7.0 %s Error: too many connections from %s",
				      srv->cfg->server.hostname, s->client_ip);
			session_close(s);
			return;
		}
	}
	if (srv->shutting_down) {
		session_reply(s, "421 4.3.2 %s Service shutting down", srv->cfg->server.hostname);
		session_close(s);
		return;
	}
	bool waiting = service == SMTP_SERVICE_MX && restrict_client_start(s);
	if (service == SMTP_SERVICE_MX && srv->cfg->smtpd.greet_pause > 0) {
		s->timer = evtimer_new(srv->env.base, on_greet_timer, s);
		struct timeval gp = {(time_t)srv->cfg->smtpd.greet_pause, 0};
		evtimer_add(s->timer, &gp);
		waiting = true;
	}
	if (waiting)
		s->busy = true;
	else
		greet(s);
}

/* ---- small commands ---- */

void cmd_rset(struct smtp_session *s, const struct smtp_command *c)
{
	if (c->arg_len > 0) {
		session_reject(s, "RSET", "501 5.5.4 Syntax: RSET");
		return;
	}
	session_tx_reset(s);
	if (s->state != SMTP_STATE_GREETING)
		session_enter_state(s, SMTP_STATE_READY);
	session_reply(s, "250 2.0.0 Ok");
}

void cmd_noop(struct smtp_session *s, const struct smtp_command *c)
{
	(void)c;
	session_reply(s, "250 2.0.0 Ok");
}

void cmd_quit(struct smtp_session *s, const struct smtp_command *c)
{
	(void)c;
	session_reply(s, "221 2.0.0 Bye");
	session_close(s);
}

void cmd_vrfy(struct smtp_session *s, const struct smtp_command *c)
{
	/* the guide's disable_vrfy_command = yes; EXPN is never offered */
	if (c->verb == SMTP_VERB_EXPN || s->srv->cfg->smtpd.disable_vrfy_command) {
		session_reject(s, smtp_verb_name(c->verb), "502 5.5.1 %s command is disabled",
			       smtp_verb_name(c->verb));
		return;
	}
	session_reply(s, "252 2.0.0 Cannot VRFY user, but will accept message");
}

void cmd_help(struct smtp_session *s, const struct smtp_command *c)
{
	(void)c;
	session_reply(s, "214 2.0.0 See RFC 5321");
}

void cmd_starttls(struct smtp_session *s, const struct smtp_command *c)
{
	if (s->srv->env.tls == NULL) {
		session_reject(s, "STARTTLS", "502 5.5.1 Error: STARTTLS not offered (no certificate)");
		return;
	}
	if (s->tls) {
		session_reject(s, "STARTTLS", "554 5.5.1 Error: TLS already active");
		return;
	}
	if (c->arg_len > 0) {
		session_reject(s, "STARTTLS", "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0) {
		/* RFC 3207 section 4.2 / CVE-2011-0411: nothing may follow */
		log_info("sid=%s event=reject reason=starttls_injection client=%s[%s]", s->sid,
			 log_esc(s->client_name), s->client_ip);
		session_reply(s, "554 5.5.0 Error: data after STARTTLS");
		session_close(s);
		return;
	}
	SSL *ssl = SSL_new(s->srv->env.tls);
	if (ssl == NULL) {
		session_reject(s, "STARTTLS", "454 4.7.0 TLS not available due to local problem");
		return;
	}
	session_reply(s, "220 2.0.0 Ready to start TLS");
	struct bufferevent *tb = bufferevent_openssl_filter_new(
		s->srv->env.base, s->bev, ssl, BUFFEREVENT_SSL_ACCEPTING,
		BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (tb == NULL) {
		SSL_free(ssl);
		session_reply(s, "421 4.7.0 TLS failed");
		session_close(s);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tb, 1);
	s->bev = tb;
	bufferevent_setcb(tb, on_read, on_write, on_event, s);
	struct timeval tv = {(time_t)s->srv->cfg->smtpd.timeout, 0};
	bufferevent_set_timeouts(tb, &tv, &tv);
	bufferevent_enable(tb, EV_READ | EV_WRITE);
	s->tls = true;
	/* RFC 3207: forget everything learned before TLS */
	session_tx_reset(s);
	auth_cancel(s);
	free(s->helo);
	s->helo = NULL;
	s->esmtp = false;
	s->helo_checked = false;
	session_enter_state(s, SMTP_STATE_READY);
	log_info("sid=%s event=starttls client=%s[%s]", s->sid, log_esc(s->client_name),
		 s->client_ip);
}
