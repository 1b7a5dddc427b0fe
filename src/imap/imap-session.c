/*
 * imap-session.c - one IMAP connection: I/O, TLS, limits, the command
 * table and its dispatch (see imap-private.h for the shape), and the
 * server object of a worker (imap-server.h).
 *
 * Reading: bytes go from the bufferevent into the session's imap_parser
 * (at most IMAP_FEED_CHUNK at a time, and only when the parser asked
 * for more), so a session holds at most one command plus one chunk.
 * Before login the parser's limits are tight (IMAP_PRELOGIN_*), after
 * it [imap] max_line and max_literal apply. A parser error is answered
 * "<tag> BAD <text>" with the command's tag when it had one;
 * IMAP_MAX_BAD_COMMANDS in a row end the session.
 *
 * Timeouts: [imap] login_timeout before login, [imap] timeout (the
 * autologout, RFC 9051 section 5.4: at least 30 minutes) after; both
 * answered "* BYE". A client that does not read its output for as long
 * is dropped.
 *
 * Writing: replies go into the bufferevent's output; above
 * IMAP_OUTPUT_HIGH unsent bytes, reading stops until it drained below
 * IMAP_OUTPUT_LOW. A session is freed only from a bufferevent callback
 * or a deferred event, never from inside a command handler.
 */
#include "imap/imap-private.h"
#include "core/addr.h"
#include "core/log.h"
#include "net/deflate.h"
#include "core/xalloc.h"
#include "directory/lookup.h"
#include "net/conn-limit.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define IMAP_FEED_CHUNK (16 * 1024)
/* before login: AUTHENTICATE lines may carry a 12 KiB SASL-IR (RFC 4959) */
#define IMAP_PRELOGIN_LINE    (16 * 1024)
#define IMAP_PRELOGIN_LITERAL (8 * 1024)
#define IMAP_PRELOGIN_DEPTH   4
#define IMAP_PRELOGIN_ARGS    64

/*
 * The commands. A new command is one row here (valid states, flags) and
 * its handler in an imap-cmd-*.c file, declared in imap-private.h.
 */
const struct imap_command_def imap_commands[] = {
    /* any state: imap-cmd-any.c (RFC 9051 6.1, RFC 2971, RFC 5161, RFC 2342) */
    {"CAPABILITY", IMAP_ST_ANY, 0, imap_cmd_capability},
    {"NOOP", IMAP_ST_ANY, 0, imap_cmd_noop},
    {"LOGOUT", IMAP_ST_ANY, 0, imap_cmd_logout},
    {"ID", IMAP_ST_ANY, 0, imap_cmd_id},
    {"ENABLE", IMAP_ST_AUTH, 0, imap_cmd_enable},
    {"NAMESPACE", IMAP_ST_AUTH, 0, imap_cmd_namespace},
    /* not authenticated: imap-cmd-auth.c */
    {"STARTTLS", IMAP_ST_NOT_AUTH, 0, imap_cmd_starttls},
    {"LOGIN", IMAP_ST_NOT_AUTH, 0, imap_cmd_login},
    {"AUTHENTICATE", IMAP_ST_NOT_AUTH, 0, imap_cmd_authenticate},
    /* authenticated: imap-cmd-list.c, imap-cmd-mailbox.c, imap-cmd-quota.c */
    {"LIST", IMAP_ST_AUTH, IMAP_CMD_POOL, imap_cmd_list},
    {"LSUB", IMAP_ST_AUTH, IMAP_CMD_POOL, imap_cmd_lsub},
    {"CREATE", IMAP_ST_AUTH, IMAP_CMD_POOL, imap_cmd_create},
    {"DELETE", IMAP_ST_AUTH, IMAP_CMD_POOL, imap_cmd_delete},
    {"RENAME", IMAP_ST_AUTH, IMAP_CMD_POOL, imap_cmd_rename},
    {"SUBSCRIBE", IMAP_ST_AUTH, IMAP_CMD_POOL, imap_cmd_subscribe},
    {"UNSUBSCRIBE", IMAP_ST_AUTH, IMAP_CMD_POOL, imap_cmd_unsubscribe},
    {"GETQUOTAROOT", IMAP_ST_AUTH, IMAP_CMD_POOL, imap_cmd_getquotaroot},
    {"GETQUOTA", IMAP_ST_AUTH, IMAP_CMD_POOL, imap_cmd_getquota},
    {"COMPRESS", IMAP_ST_AUTH, 0, imap_cmd_compress},
    /* later: SELECT EXAMINE STATUS APPEND CHECK CLOSE UNSELECT EXPUNGE
     * SEARCH FETCH STORE COPY MOVE UID* IDLE SORT THREAD COMPRESS
     * SETQUOTA(refused) */
    {NULL, 0, 0, NULL},
};

/*
 * The capabilities: ONE table. when: where it is listed. Add a row when
 * the command or extension it names is implemented. Not yet listed
 * (their authors add them): IDLE UIDPLUS MOVE UNSELECT ESEARCH SORT
 * THREAD=REFERENCES THREAD=ORDEREDSUBJECT CONDSTORE QRESYNC
 * APPENDLIMIT=n STATUS=SIZE LIST-STATUS COMPRESS=DEFLATE BINARY
 * SEARCHRES WITHIN CONTEXT=SEARCH SPECIAL-USE-in-STATUS, IMAP4rev2.
 */
enum cap_when {
	CAP_ALWAYS,
	CAP_PRELOGIN,     /* before login only */
	CAP_POSTLOGIN,    /* after login only */
	CAP_STARTTLS,     /* before login, plain connection with a certificate */
	CAP_AUTH_OK,      /* before login, plaintext auth allowed */
	CAP_LOGINDISABLED /* before login, plaintext auth not allowed */
};
static const struct {
	const char *name;
	enum cap_when when;
} capabilities[] = {
    {"IMAP4rev1", CAP_ALWAYS},
    {"SASL-IR", CAP_PRELOGIN},
    {"LITERAL+", CAP_ALWAYS},
    {"ID", CAP_ALWAYS},
    {"ENABLE", CAP_ALWAYS},
    {"STARTTLS", CAP_STARTTLS},
    {"LOGINDISABLED", CAP_LOGINDISABLED},
    {"AUTH=PLAIN", CAP_AUTH_OK},
    {"AUTH=LOGIN", CAP_AUTH_OK},
    {"NAMESPACE", CAP_POSTLOGIN},
    {"CHILDREN", CAP_POSTLOGIN},
    {"LIST-EXTENDED", CAP_POSTLOGIN},
    {"SPECIAL-USE", CAP_POSTLOGIN},
    {"CREATE-SPECIAL-USE", CAP_POSTLOGIN},
    {"QUOTA", CAP_POSTLOGIN},
    {"QUOTA=RES-STORAGE", CAP_POSTLOGIN},
    {"COMPRESS=DEFLATE", CAP_POSTLOGIN},
};

static const char *const state_names[] = {"not_authenticated", "authenticated", "selected",
                                          "logout"};

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);
static void on_under_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg);
static void session_free(struct imap_session *s);
static void session_input(struct imap_session *s);

const char *imap_state_name(enum imap_state st)
{
	return state_names[st];
}

static void set_timeouts(struct imap_session *s)
{
	const struct config_imap *c = &s->srv->cfg->imap;
	unsigned t = s->state == IMAP_STATE_NOT_AUTH ? c->login_timeout : c->timeout;
	struct timeval tv = {(time_t)t, 0};
	if (s->bev != NULL)
		bufferevent_set_timeouts(s->bev, &tv, &tv);
}

void imap_enter_state(struct imap_session *s, enum imap_state st)
{
	if (s->state == st)
		return;
	log_debug("sid=%s event=state from=%s to=%s", s->sid, state_names[s->state],
	          state_names[st]);
	s->state = st;
	set_timeouts(s);
}

bool imap_plaintext_allowed(const struct imap_session *s)
{
	const struct config_imap *c = &s->srv->cfg->imap;
	return s->tls || !c->disable_plaintext_auth || (s->loopback && c->loopback_secure);
}

void imap_capability(const struct imap_session *s, struct buf *b)
{
	bool pre = s->state == IMAP_STATE_NOT_AUTH;
	bool first = true;
	for (size_t i = 0; i < sizeof(capabilities) / sizeof(capabilities[0]); i++) {
		bool on = false;
		switch (capabilities[i].when) {
		case CAP_ALWAYS:
			on = true;
			break;
		case CAP_PRELOGIN:
			on = pre;
			break;
		case CAP_POSTLOGIN:
			on = !pre;
			break;
		case CAP_STARTTLS:
			on = pre && !s->tls && s->srv->env.tls != NULL;
			break;
		case CAP_AUTH_OK:
			on = pre && imap_plaintext_allowed(s);
			break;
		case CAP_LOGINDISABLED:
			on = pre && !imap_plaintext_allowed(s);
			break;
		}
		if (!on)
			continue;
		if (!first)
			buf_append_c(b, ' ');
		buf_append_str(b, capabilities[i].name);
		first = false;
	}
}

void imap_write(struct imap_session *s, const void *data, size_t len)
{
	if (s->bev == NULL || s->closing)
		return;
	bufferevent_write(s->bev, data, len);
	s->bytes_out += len;
}

static void vwrite_line(struct imap_session *s, const char *prefix, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b, prefix);
	buf_vappendf(&b, fmt, ap);
	buf_append(&b, "\r\n", 2);
	imap_write(s, b.data, b.len);
	buf_free(&b);
}

void imap_printf(struct imap_session *s, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vappendf(&b, fmt, ap);
	va_end(ap);
	imap_write(s, b.data, b.len);
	buf_free(&b);
}

void imap_untagged(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwrite_line(s, "* ", fmt, ap);
	va_end(ap);
}

void imap_tagged(struct imap_session *s, const char *status, const char *fmt, ...)
{
	struct buf pre = BUF_INIT;
	buf_appendf(&pre, "%s %s ", s->tag != NULL ? s->tag : "*", status);
	va_list ap;
	va_start(ap, fmt);
	vwrite_line(s, buf_cstr(&pre), fmt, ap);
	va_end(ap);
	buf_free(&pre);
	if (strcmp(status, "BAD") == 0)
		s->bad_in_row++;
	else
		s->bad_in_row = 0;
}

void imap_quote(struct buf *b, const char *str, size_t len)
{
	bool literal = len > 1024;
	for (size_t i = 0; i < len && !literal; i++) {
		unsigned char c = (unsigned char)str[i];
		if (c < 0x20 || c >= 0x7f || c == '\r' || c == '\n')
			literal = true;
	}
	if (literal) {
		buf_appendf(b, "{%zu}\r\n", len);
		buf_append(b, str, len);
		return;
	}
	buf_append_c(b, '"');
	for (size_t i = 0; i < len; i++) {
		if (str[i] == '"' || str[i] == '\\')
			buf_append_c(b, '\\');
		buf_append_c(b, str[i]);
	}
	buf_append_c(b, '"');
}

bool imap_output_full(const struct imap_session *s)
{
	if (s->bev == NULL)
		return true;
	return evbuffer_get_length(bufferevent_get_output(s->bev)) > IMAP_OUTPUT_HIGH;
}

void imap_job_begin(struct imap_session *s)
{
	s->jobs++;
}

bool imap_job_end(struct imap_session *s)
{
	s->jobs--;
	if (s->gone) {
		if (s->jobs == 0)
			session_free(s);
		return false;
	}
	return true;
}

/* bottom_bev: the socket's bufferevent under any TLS / DEFLATE filters */
static struct bufferevent *bottom_bev(struct bufferevent *b)
{
	struct bufferevent *u;
	while ((u = bufferevent_get_underlying(b)) != NULL)
		b = u;
	return b;
}

void imap_close(struct imap_session *s)
{
	if (s->closing)
		return;
	imap_auth_cancel(s);
	s->closing = true;
	s->line_cb = NULL;
	s->drain_cb = NULL;
	if (s->bev == NULL)
		return;
	bufferevent_disable(s->bev, EV_READ);
	if (s->compressed) /* push what zlib holds down to the socket */
		bufferevent_flush(s->bev, EV_WRITE, BEV_FLUSH);
	struct bufferevent *under = bottom_bev(s->bev);
	if (under != s->bev)
		evbuffer_add_cb(bufferevent_get_output(under), on_under_drained, s);
	struct timeval tv = {10, 0}; /* a client that never reads its BYE */
	bufferevent_set_timeouts(s->bev, NULL, &tv);
	bufferevent_enable(s->bev, EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		bufferevent_trigger(s->bev, EV_WRITE,
		                    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

static void bye(struct imap_session *s, const char *text)
{
	imap_untagged(s, "BYE %s", text);
	imap_close(s);
}

/* the read side follows the output: off above the high mark */
static void update_reading(struct imap_session *s)
{
	if (s->closing || s->bev == NULL)
		return;
	if ((s->busy && s->line_cb == NULL) || imap_output_full(s))
		bufferevent_disable(s->bev, EV_READ);
	else
		bufferevent_enable(s->bev, EV_READ);
}

void imap_cmd_done(struct imap_session *s)
{
	s->busy = false;
	s->line_cb = NULL;
	s->drain_cb = NULL;
	s->cmd_ctx = NULL;
	free(s->tag);
	s->tag = NULL;
	s->cmd = NULL;
	if (s->closing)
		return;
	if (s->shutdown_bye || s->srv->shutting_down) {
		s->shutdown_bye = false;
		bye(s, "Server shutting down.");
		return;
	}
	if (s->bad_in_row >= IMAP_MAX_BAD_COMMANDS) {
		log_info("sid=%s event=too_many_errors client_ip=%s", s->sid, s->client_ip);
		bye(s, "Too many invalid IMAP commands.");
		return;
	}
	if (!s->in_input) /* else the loop in session_input() goes on */
		session_input(s);
	else
		update_reading(s);
}

void imap_session_parser_auth(struct imap_session *s)
{
	const struct config_imap *c = &s->srv->cfg->imap;
	struct imap_parser_limits l = {
	    .max_line = (size_t)c->max_line,
	    .max_literal = c->max_literal,
	};
	imap_parser_set_limits(&s->parser, &l);
}

static const struct imap_command_def *command_find(const char *name)
{
	for (const struct imap_command_def *d = imap_commands; d->name != NULL; d++)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

static void dispatch(struct imap_session *s, const struct imap_command *cmd)
{
	s->ncommands++;
	s->tag = xstrdup(cmd->tag);
	const struct imap_command_def *d = command_find(cmd->name);
	if (d != NULL && cmd->uid && (d->flags & IMAP_CMD_UID) == 0)
		d = NULL;
	if (d == NULL) {
		log_debug("sid=%s event=unknown_command command=%s", s->sid, log_esc(cmd->name));
		imap_tagged(s, "BAD", "Unknown command.");
		imap_cmd_done(s);
		return;
	}
	if ((d->states & IMAP_ST(s->state)) == 0) {
		if (s->state == IMAP_STATE_NOT_AUTH)
			imap_tagged(s, "BAD", "Command not allowed before login.");
		else if (d->states == IMAP_ST_NOT_AUTH)
			imap_tagged(s, "BAD", "Command not allowed after login.");
		else
			imap_tagged(s, "BAD", "No mailbox selected.");
		imap_cmd_done(s);
		return;
	}
	s->cmd = d;
	s->busy = true;
	if (d->handler(s, cmd) > 0)
		imap_cmd_done(s);
	else
		update_reading(s);
}

/* literal: a literal header; buffer it when it fits, else refuse. (APPEND
 * will stream its message: a hook goes here.) */
static void literal(struct imap_session *s, const struct imap_parser_event *ev)
{
	if (ev->literal_fits && imap_parser_literal_accept(&s->parser, false)) {
		if (ev->literal_sync)
			imap_printf(s, "+ OK\r\n");
		return;
	}
	s->tag = xstrdup(ev->cmd.tag != NULL && ev->cmd.tag[0] != '\0' ? ev->cmd.tag : "*");
	imap_parser_literal_refuse(&s->parser);
	imap_tagged(s, "BAD", "[TOOBIG] Literal too large.");
	free(s->tag);
	s->tag = NULL;
}

/* session_input: parse and run what is buffered, as far as allowed. */
static void session_input(struct imap_session *s)
{
	if (s->in_input)
		return;
	s->in_input = true;
	struct evbuffer *in = s->bev != NULL ? bufferevent_get_input(s->bev) : NULL;
	while (in != NULL && !s->closing && (!s->busy || s->line_cb != NULL)) {
		if (imap_output_full(s))
			break; /* on_write goes on */
		struct imap_parser_event ev;
		const char *err;
		int ret = imap_parser_next(&s->parser, &ev, &err);
		if (ret == 0) {
			size_t n = evbuffer_get_length(in);
			if (n == 0)
				break;
			if (n > IMAP_FEED_CHUNK)
				n = IMAP_FEED_CHUNK;
			unsigned char *p = evbuffer_pullup(in, (ssize_t)n);
			imap_parser_feed(&s->parser, p, n);
			evbuffer_drain(in, n);
			s->bytes_in += n;
			continue;
		}
		if (ret < 0) {
			const char *tag = imap_parser_error_tag(&s->parser);
			log_info("sid=%s event=bad client_ip=%s error=\"%s\"", s->sid, s->client_ip,
			         log_esc(err));
			s->tag = xstrdup(tag != NULL ? tag : "*");
			imap_tagged(s, "BAD", "%s", err);
			free(s->tag);
			s->tag = NULL;
			if (s->line_cb != NULL) {
				/* the awaited line was bad (too long): the command fails */
				void (*cb)(struct imap_session *, const char *, size_t) =
				    s->line_cb;
				s->line_cb = NULL;
				cb(s, NULL, 0);
			}
			if (s->bad_in_row >= IMAP_MAX_BAD_COMMANDS && !s->busy) {
				log_info("sid=%s event=too_many_errors client_ip=%s", s->sid,
				         s->client_ip);
				bye(s, "Too many invalid IMAP commands.");
			}
			continue;
		}
		switch (ev.type) {
		case IMAP_PARSER_EV_COMMAND:
			if (s->busy) /* cannot happen: line_cb awaits a raw line */
				break;
			dispatch(s, &ev.cmd);
			break;
		case IMAP_PARSER_EV_LITERAL:
			literal(s, &ev);
			break;
		case IMAP_PARSER_EV_LINE:
			if (s->line_cb != NULL) {
				void (*cb)(struct imap_session *, const char *, size_t) =
				    s->line_cb;
				s->line_cb = NULL;
				cb(s, ev.data, ev.len);
			}
			break;
		case IMAP_PARSER_EV_LITERAL_DATA:
			break; /* only streamed literals: none accepted yet */
		}
		if (s->bev != NULL)
			in = bufferevent_get_input(s->bev); /* STARTTLS changed it */
	}
	s->in_input = false;
	update_reading(s);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	session_input(arg);
}

static bool closing_flushed(struct imap_session *s)
{
	for (struct bufferevent *b = s->bev; b != NULL; b = bufferevent_get_underlying(b))
		if (evbuffer_get_length(bufferevent_get_output(b)) > 0)
			return false;
	return true;
}

static void on_close_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	session_free(arg);
}

static void close_ev_for(struct imap_session *s);

static void on_under_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct imap_session *s = arg;
	(void)info;
	if (s->closing && evbuffer_get_length(buf) == 0 && closing_flushed(s))
		close_ev_for(s);
}

/* close_ev_for: free s from the next loop turn (not from inside a
 * libevent buffer callback). */
static void close_ev_for(struct imap_session *s)
{
	if (s->close_ev != NULL)
		return;
	s->close_ev = event_new(s->srv->env.base, -1, 0, on_close_event, s);
	event_active(s->close_ev, EV_TIMEOUT, 0);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct imap_session *s = arg;
	(void)bev;
	if (s->closing) {
		if (closing_flushed(s))
			close_ev_for(s);
		return;
	}
	if (s->drain_cb != NULL) {
		void (*cb)(struct imap_session *) = s->drain_cb;
		s->drain_cb = NULL;
		cb(s);
		return;
	}
	if (!s->busy || s->line_cb != NULL)
		session_input(s);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct imap_session *s = arg;
	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
		if (ssl != NULL)
			log_info("sid=%s event=tls client_ip=%s version=%s cipher=%s", s->sid,
			         s->client_ip, SSL_get_version(ssl), SSL_get_cipher_name(ssl));
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (s->closing || (what & BEV_EVENT_WRITING)) {
			log_info("sid=%s event=timeout state=%s user=%s client_ip=%s what=write",
			         s->sid, state_names[s->state], log_esc(s->user ? s->user : ""),
			         s->client_ip);
			session_free(s);
			return;
		}
		log_info("sid=%s event=timeout state=%s user=%s client_ip=%s", s->sid,
		         state_names[s->state], log_esc(s->user ? s->user : ""), s->client_ip);
		bufferevent_enable(s->bev, EV_WRITE);
		bye(s, "Disconnected for inactivity.");
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(s->bev);
		if (e != 0) {
			char reason[200];
			ERR_error_string_n(e, reason, sizeof(reason));
			log_info("sid=%s event=tls_error client_ip=%s error=\"%s\"", s->sid,
			         s->client_ip, log_esc(reason));
		}
	}
	if (!s->closing)
		log_info("sid=%s event=lost_connection state=%s user=%s client_ip=%s", s->sid,
		         state_names[s->state], log_esc(s->user ? s->user : ""), s->client_ip);
	session_free(s);
}

static void session_free(struct imap_session *s)
{
	struct imap_server *srv = s->srv;
	if (!s->gone) {
		s->gone = true;
		imap_auth_cancel(s);
		if (s->lookup_id != 0) {
			lookup_cancel(srv->env.lookup, s->lookup_id);
			s->lookup_id = 0;
		}
		log_info(
		    "sid=%s event=disconnect user=%s client_ip=%s state=%s commands=%u in=%llu "
		    "out=%llu",
		    s->sid, log_esc(s->user ? s->user : ""), s->client_ip, state_names[s->state],
		    s->ncommands, (unsigned long long)s->bytes_in,
		    (unsigned long long)s->bytes_out);
		if (s->bev != NULL) {
			struct bufferevent *under = bottom_bev(s->bev);
			if (under != s->bev)
				evbuffer_remove_cb(bufferevent_get_output(under), on_under_drained,
				                   s);
			bufferevent_free(s->bev);
			s->bev = NULL;
		}
		if (s->conn_counted && srv->env.conn_limit != NULL)
			conn_limit_release(srv->env.conn_limit, (struct sockaddr *)&s->peer);
		s->conn_counted = false;
		if (s->userip_key != NULL && srv->env.conn_limit != NULL)
			conn_limit_key_release(srv->env.conn_limit, s->userip_key);
		/* off the server's list now: the worker may stop while a job ends */
		if (s->prev != NULL)
			s->prev->next = s->next;
		else
			srv->sessions = s->next;
		if (s->next != NULL)
			s->next->prev = s->prev;
		srv->nsessions--;
		if (s->jobs > 0)
			return; /* the last job's imap_job_end() frees us */
		if (srv->env.on_session_end != NULL)
			srv->env.on_session_end(srv->env.ctx);
	} else if (srv->env.on_session_end != NULL) {
		srv->env.on_session_end(srv->env.ctx);
	}
	if (s->close_ev != NULL)
		event_free(s->close_ev);
	imap_parser_deinit(&s->parser);
	free(s->userip_key);
	free(s->tag);
	free(s->user);
	if (s->user != NULL || s->store.root != NULL)
		store_user_deinit(&s->store);
	free(s->selected_name);
	free(s);
}

int imap_session_start_tls(struct imap_session *s)
{
	SSL *ssl = SSL_new(s->srv->env.tls);
	if (ssl == NULL)
		return -1;
	struct bufferevent *tb =
	    bufferevent_openssl_filter_new(s->srv->env.base, s->bev, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                   BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (tb == NULL) {
		SSL_free(ssl);
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tb, 1);
	s->bev = tb;
	bufferevent_setcb(tb, on_read, on_write, on_event, s);
	bufferevent_setwatermark(tb, EV_WRITE, IMAP_OUTPUT_LOW, 0);
	set_timeouts(s);
	bufferevent_enable(tb, EV_READ | EV_WRITE);
	s->tls = true;
	return 0;
}

int imap_session_start_compress(struct imap_session *s)
{
	struct bufferevent *zb = deflate_bufferevent_new(s->bev);
	if (zb == NULL)
		return -1;
	s->bev = zb;
	bufferevent_setcb(zb, on_read, on_write, on_event, s);
	bufferevent_setwatermark(zb, EV_WRITE, IMAP_OUTPUT_LOW, 0);
	set_timeouts(s);
	bufferevent_enable(zb, EV_READ | EV_WRITE);
	s->compressed = true;
	return 0;
}

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a))
			return true;
		return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
	}
	return false;
}

static void greet(struct imap_session *s)
{
	struct buf b = BUF_INIT;
	imap_capability(s, &b);
	imap_untagged(s, "OK [CAPABILITY %s] vmaild ready.", buf_cstr(&b));
	buf_free(&b);
}

void imap_server_accept(struct imap_server *srv, int fd, const struct sockaddr *sa, int salen,
                        enum imap_service service)
{
	struct imap_session *s = xcalloc(1, sizeof(*s));
	s->srv = srv;
	s->service = service;
	id_new(s->sid);
	memcpy(&s->peer, sa, (size_t)salen < sizeof(s->peer) ? (size_t)salen : sizeof(s->peer));
	addr_ip(sa, s->client_ip, sizeof(s->client_ip));
	s->loopback = is_loopback(sa);
	s->state = IMAP_STATE_NOT_AUTH;
	struct imap_parser_limits pl = {
	    .max_line = IMAP_PRELOGIN_LINE,
	    .max_command = 2 * IMAP_PRELOGIN_LINE,
	    .max_literal = IMAP_PRELOGIN_LITERAL,
	    .max_depth = IMAP_PRELOGIN_DEPTH,
	    .max_args = IMAP_PRELOGIN_ARGS,
	};
	imap_parser_init(&s->parser, &pl);
	s->next = srv->sessions;
	if (srv->sessions != NULL)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->nsessions++;

	evutil_make_socket_nonblocking(fd);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (service == IMAP_SERVICE_IMAPS && srv->env.tls != NULL) {
		SSL *ssl = SSL_new(srv->env.tls);
		s->bev = bufferevent_openssl_socket_new(
		    srv->env.base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
		s->tls = true;
	} else {
		s->bev = bufferevent_socket_new(srv->env.base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	bufferevent_setwatermark(s->bev, EV_WRITE, IMAP_OUTPUT_LOW, 0);
	set_timeouts(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	log_info("sid=%s event=connect service=%s client_ip=%s tls=%s", s->sid,
	         service == IMAP_SERVICE_IMAPS ? "imaps" : "imap", s->client_ip,
	         s->tls ? "yes" : "no");

	if (service == IMAP_SERVICE_IMAPS && srv->env.tls == NULL) {
		log_warn("sid=%s event=reject reason=no_certificate", s->sid);
		imap_close(s);
		return;
	}
	unsigned limit = srv->cfg->imap.client_connection_limit;
	if (srv->env.conn_limit != NULL) {
		unsigned n = conn_limit_acquire(srv->env.conn_limit, sa);
		s->conn_counted = true;
		if (limit > 0 && n > limit) {
			log_info(
			    "sid=%s event=reject reason=connection_limit client_ip=%s count=%u "
			    "limit=%u",
			    s->sid, s->client_ip, n, limit);
			bye(s, "Too many connections from your address.");
			return;
		}
	}
	if (srv->shutting_down) {
		bye(s, "Server shutting down.");
		return;
	}
	greet(s);
}

struct imap_server *imap_server_create(const struct imap_server_env *env)
{
	struct imap_server *srv = xcalloc(1, sizeof(*srv));
	srv->env = *env;
	srv->cfg = env->cfg;
	return srv;
}

void imap_server_destroy(struct imap_server **srvp)
{
	struct imap_server *srv = *srvp;
	if (srv == NULL)
		return;
	*srvp = NULL;
	srv->env.on_session_end = NULL;
	while (srv->sessions != NULL) {
		struct imap_session *s = srv->sessions;
		session_free(s);
		if (srv->sessions == s) /* cannot happen: freed sessions unlink */
			break;
	}
	free(srv);
}

unsigned imap_server_sessions(const struct imap_server *srv)
{
	return srv->nsessions;
}

void imap_server_shutdown(struct imap_server *srv)
{
	srv->shutting_down = true;
	for (struct imap_session *s = srv->sessions, *next; s != NULL; s = next) {
		next = s->next;
		if (s->closing)
			continue;
		if (s->busy && s->line_cb == NULL) {
			s->shutdown_bye = true; /* after its command */
			continue;
		}
		imap_auth_cancel(s);
		bufferevent_enable(s->bev, EV_WRITE);
		bye(s, "Server shutting down.");
	}
}
