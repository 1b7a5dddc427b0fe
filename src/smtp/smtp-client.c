/*
 * smtp-client.c - one outgoing SMTP session and the DATA encoder (see
 * smtp-client.h).
 *
 * The session is a state machine changed only through enter_state():
 *
 *   CONNECTING -> GREETING -> EHLO [-> HELO] [-> STARTTLS -> HANDSHAKE
 *   -> EHLO] -> READY -> TX (RSET, MAIL, RCPT...) [-> DATA -> BODY ->
 *   DOT] -> READY -> ... -> QUIT
 *
 * With PIPELINING the RSET, MAIL and every RCPT of a transaction leave
 * in one write and their replies are matched in order; without it each
 * command waits for the reply to the one before. DATA is sent only
 * after the RCPT replies, and only when one was accepted, so no empty
 * message is ever sent. The body is read from the queue file with
 * pread() in 64 KiB pieces while less than BODY_OUTPUT_CAP bytes wait
 * in the output (both the TLS filter's buffer and the socket's count).
 *
 * Every libevent callback enters and leaves through a depth counter; a
 * session destroyed from inside the owner's callback is only marked dead
 * and freed when the outermost callback returns.
 */
#include "smtp/smtp-client.h"
#include "core/log.h"
#include "core/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define BODY_CHUNK      (64 * 1024)
#define BODY_OUTPUT_CAP (256 * 1024)
#define QUIT_WAIT_SECS  5

/* ---- data encoding ---- */

void smtp_data_encoder_init(struct smtp_data_encoder *e)
{
	memset(e, 0, sizeof(*e));
	e->line_start = true;
}

void smtp_data_encode(struct smtp_data_encoder *e, const char *in, size_t n, struct buf *out)
{
	buf_reserve(out, n + n / 16 + 4);
	size_t run = 0; /* bytes of in[] copied as they are, not yet appended */
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c == '\n') {
			buf_append(out, in + i - run, run);
			run = 0;
			if (!e->last_cr)
				buf_append_c(out, '\r');
			buf_append_c(out, '\n');
			e->line_start = true;
			e->last_cr = false;
			e->lines++;
			continue;
		}
		if (e->line_start && c == '.') {
			buf_append(out, in + i - run, run);
			run = 0;
			buf_append_c(out, '.');
		}
		e->line_start = false;
		e->last_cr = c == '\r';
		run++;
	}
	buf_append(out, in + n - run, run);
}

void smtp_data_encode_end(struct smtp_data_encoder *e, struct buf *out)
{
	if (!e->line_start) {
		/* a last line without line end; a CR already written gets its LF */
		if (!e->last_cr)
			buf_append_c(out, '\r');
		buf_append_c(out, '\n');
	}
	buf_append(out, ".\r\n", 3);
	e->line_start = true;
	e->last_cr = false;
}

/* ---- session ---- */

enum cstate {
	CS_CONNECTING,
	CS_GREETING,
	CS_EHLO,
	CS_HELO,
	CS_STARTTLS,
	CS_HANDSHAKE,
	CS_READY,
	CS_TX,
	CS_DATA,
	CS_BODY,
	CS_DOT,
	CS_QUIT,
	CS_DEAD,
};

static const char *const state_names[] = {
    "connecting", "greeting", "ehlo", "helo", "starttls", "handshake", "ready",
    "tx",         "data",     "body", "dot",  "quit",     "dead",
};

/* what the session was doing, for "lost connection ... while X" */
static const char *const state_doing[] = {
    "connecting",
    "receiving the initial server greeting",
    "sending EHLO",
    "sending HELO",
    "sending STARTTLS",
    "performing the TLS handshake",
    "waiting to send a message",
    "sending MAIL FROM / RCPT TO",
    "sending DATA",
    "sending the message",
    "sending end of data -- message may be sent more than once",
    "sending QUIT",
    "closing",
};

struct smtp_client {
	struct event_base *base;
	struct bufferevent *bev;   /* the socket, or the TLS filter over it */
	struct bufferevent *under; /* the socket below the TLS filter, or NULL */
	struct smtp_client_settings set;
	char *helo, *server_name, *log_id;
	struct sockaddr_storage sa;
	socklen_t salen;
	char peer[320]; /* "name[ip]:port" */
	smtp_client_cb *cb;
	void *ctx;
	enum cstate state;
	struct smtp_reply_parser rp;
	unsigned caps;
	uint64_t max_size;
	bool tls_active;
	char tls_desc[160];
	bool established;
	unsigned ntx;

	struct smtp_client_tx *tx;
	bool tx_rset;      /* the current group starts with RSET */
	unsigned nreplies; /* replies of the group received so far */
	unsigned ngroup;   /* replies the group needs: RSET? + MAIL + RCPTs */
	unsigned nsent;    /* commands of the group written */
	unsigned accepted; /* RCPTs accepted */
	struct smtp_data_encoder enc;
	uint64_t pos;
	struct buf wbuf;

	char *fail_text;
	struct smtp_client_reply fail_reply;
	bool fail_tls;

	unsigned depth;
	bool detached; /* QUIT sent on the owner's behalf; nobody is told anything */
	struct event *start_ev, *pump_ev, *quit_timer;
	struct smtp_client *next_detached;
};

static struct smtp_client *detached_list;

static void on_under_output(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg);

void smtp_client_reply_clear(struct smtp_client_reply *r)
{
	free(r->text);
	memset(r, 0, sizeof(*r));
}

static void reply_keep(struct smtp_client_reply *dst, const struct smtp_reply *r)
{
	struct buf b = BUF_INIT;
	smtp_client_reply_clear(dst);
	smtp_reply_one_line(r, &b, 900);
	dst->code = r->code;
	memcpy(dst->enhanced, r->enhanced, sizeof(dst->enhanced));
	dst->text = buf_steal(&b);
}

static void enter_state(struct smtp_client *c, enum cstate st)
{
	if (c->state != st)
		log_debug("sid=%s event=smtp_client_state relay=%s from=%s to=%s", c->log_id,
		          c->peer, state_names[c->state], state_names[st]);
	c->state = st;
}

static void set_timeout(struct smtp_client *c, unsigned secs)
{
	struct timeval tv = {(time_t)(secs > 0 ? secs : 1), 0};
	if (c->bev != NULL)
		bufferevent_set_timeouts(c->bev, &tv, &tv);
}

/* set_write_timeout: while the body streams only writing must progress
 * (the server says nothing until the end). */
static void set_write_timeout(struct smtp_client *c, unsigned secs)
{
	struct timeval tv = {(time_t)(secs > 0 ? secs : 1), 0};
	if (c->bev != NULL)
		bufferevent_set_timeouts(c->bev, NULL, &tv);
}

static void client_free(struct smtp_client *c)
{
	if (c->under != NULL)
		evbuffer_remove_cb(bufferevent_get_output(c->under), on_under_output, c);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->start_ev != NULL)
		event_free(c->start_ev);
	if (c->pump_ev != NULL)
		event_free(c->pump_ev);
	if (c->quit_timer != NULL)
		event_free(c->quit_timer);
	for (struct smtp_client **pp = &detached_list; *pp != NULL; pp = &(*pp)->next_detached) {
		if (*pp == c) {
			*pp = c->next_detached;
			break;
		}
	}
	smtp_reply_parser_deinit(&c->rp);
	smtp_client_reply_clear(&c->fail_reply);
	buf_free(&c->wbuf);
	free(c->fail_text);
	free(c->helo);
	free(c->server_name);
	free(c->log_id);
	free(c);
}

/* kill: no more I/O, no more callbacks; freed now or when the outermost
 * callback returns. */
static void kill_session(struct smtp_client *c)
{
	c->cb = NULL;
	c->state = CS_DEAD;
	if (c->bev != NULL) {
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	}
	if (c->depth == 0)
		client_free(c);
}

static void enter(struct smtp_client *c)
{
	c->depth++;
}

static void leave(struct smtp_client *c)
{
	if (--c->depth == 0 && c->state == CS_DEAD)
		client_free(c);
}

static void notify(struct smtp_client *c, enum smtp_client_event ev)
{
	if (c->cb != NULL)
		c->cb(c, ev, c->ctx);
}

static void fail(struct smtp_client *c, const struct smtp_reply *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* fail: the session is over; tell the owner (which usually destroys it). */
static void fail(struct smtp_client *c, const struct smtp_reply *r, const char *fmt, ...)
{
	if (c->state == CS_DEAD)
		return;
	if (c->detached || c->state == CS_QUIT) {
		kill_session(c);
		return;
	}
	va_list ap;
	struct buf b = BUF_INIT;
	va_start(ap, fmt);
	buf_vappendf(&b, fmt, ap);
	va_end(ap);
	free(c->fail_text);
	c->fail_text = buf_steal(&b);
	if (r != NULL)
		reply_keep(&c->fail_reply, r);
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	log_debug("sid=%s event=smtp_client_failed relay=%s state=%s error=\"%s\"", c->log_id,
	          c->peer, state_names[c->state], log_esc(c->fail_text));
	c->state = CS_DEAD;
	/* the owner learns it once; after this only destroy/quit are valid */
	smtp_client_cb *cb = c->cb;
	c->cb = NULL;
	if (cb != NULL)
		cb(c, SMTP_CLIENT_FAILED, c->ctx);
}

static void send_line(struct smtp_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void send_line(struct smtp_client *c, const char *fmt, ...)
{
	va_list ap;
	buf_reset(&c->wbuf);
	va_start(ap, fmt);
	buf_vappendf(&c->wbuf, fmt, ap);
	va_end(ap);
	buf_append(&c->wbuf, "\r\n", 2);
	bufferevent_write(c->bev, c->wbuf.data, c->wbuf.len);
}

/* ---- addresses on the wire ---- */

static bool atext(unsigned char c)
{
	if (c >= 0x80)
		return true; /* UTF-8 (SMTPUTF8) */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* append_path: "<local@domain>", the local part quoted when it is no
 * dot-atom (the queue keeps addresses unquoted). */
static void append_path(struct buf *b, const char *addr)
{
	const char *at = strrchr(addr, '@');
	buf_append_c(b, '<');
	if (at == NULL) {
		buf_append_str(b, addr);
		buf_append_c(b, '>');
		return;
	}
	size_t ln = (size_t)(at - addr);
	bool dotatom = ln > 0 && addr[0] != '.' && addr[ln - 1] != '.';
	for (size_t i = 0; i < ln && dotatom; i++) {
		if (addr[i] == '.')
			dotatom = addr[i + 1] != '.';
		else
			dotatom = atext((unsigned char)addr[i]);
	}
	if (dotatom) {
		buf_append(b, addr, ln);
	} else {
		buf_append_c(b, '"');
		for (size_t i = 0; i < ln; i++) {
			if (addr[i] == '"' || addr[i] == '\\')
				buf_append_c(b, '\\');
			buf_append_c(b, addr[i]);
		}
		buf_append_c(b, '"');
	}
	buf_append_str(b, at);
	buf_append_c(b, '>');
}

/* ---- the transaction ---- */

static void tx_done(struct smtp_client *c)
{
	c->tx = NULL;
	enter_state(c, CS_READY);
	set_timeout(c, c->set.command_timeout);
	notify(c, SMTP_CLIENT_TX_DONE);
}

/* write_group_cmd: command k of the group (RSET?, MAIL, RCPT...). */
static void write_group_cmd(struct smtp_client *c, unsigned k)
{
	struct smtp_client_tx *tx = c->tx;
	if (c->tx_rset) {
		if (k == 0) {
			send_line(c, "RSET");
			return;
		}
		k--;
	}
	struct buf b = BUF_INIT;
	if (k == 0) {
		buf_append_str(&b, "MAIL FROM:");
		append_path(&b, tx->sender);
		if (c->caps & SMTP_CAP_SIZE)
			buf_appendf(&b, " SIZE=%llu", (unsigned long long)tx->size);
		if (tx->eightbit && (c->caps & SMTP_CAP_8BITMIME))
			buf_append_str(&b, " BODY=8BITMIME");
		if (tx->smtputf8)
			buf_append_str(&b, " SMTPUTF8");
	} else {
		buf_append_str(&b, "RCPT TO:");
		append_path(&b, tx->rcpts[k - 1]);
	}
	send_line(c, "%s", b.data);
	buf_free(&b);
}

static size_t output_len(struct smtp_client *c)
{
	size_t n = evbuffer_get_length(bufferevent_get_output(c->bev));
	if (c->under != NULL)
		n += evbuffer_get_length(bufferevent_get_output(c->under));
	return n;
}

static void pump_body(struct smtp_client *c)
{
	struct smtp_client_tx *tx = c->tx;
	char *chunk = NULL;
	while (c->state == CS_BODY && output_len(c) < BODY_OUTPUT_CAP) {
		if (chunk == NULL)
			chunk = xmalloc(BODY_CHUNK);
		ssize_t n = pread(tx->fd, chunk, BODY_CHUNK, (off_t)(tx->offset + c->pos));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(chunk);
			fail(c, NULL, "cannot read the queue file: %s", strerror(e));
			return;
		}
		buf_reset(&c->wbuf);
		if (n == 0) {
			smtp_data_encode_end(&c->enc, &c->wbuf);
			bufferevent_write(c->bev, c->wbuf.data, c->wbuf.len);
			tx->data_sent = true;
			enter_state(c, CS_DOT);
			set_timeout(c, c->set.data_timeout);
			break;
		}
		c->pos += (uint64_t)n;
		smtp_data_encode(&c->enc, chunk, (size_t)n, &c->wbuf);
		bufferevent_write(c->bev, c->wbuf.data, c->wbuf.len);
	}
	free(chunk);
}

static void on_pump(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_client *c = arg;
	(void)fd;
	(void)what;
	enter(c);
	if (c->state == CS_BODY)
		pump_body(c);
	leave(c);
}

/* on_under_output: the socket below TLS drained a little: maybe room. */
static void on_under_output(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct smtp_client *c = arg;
	(void)b;
	if (info->n_deleted > 0 && c->state == CS_BODY && output_len(c) < BODY_OUTPUT_CAP)
		event_active(c->pump_ev, EV_TIMEOUT, 0);
}

int smtp_client_send(struct smtp_client *c, struct smtp_client_tx *tx)
{
	if (c->state != CS_READY || c->detached)
		return -1;
	c->tx = tx;
	tx->data_sent = false;
	smtp_client_reply_clear(&tx->mail);
	smtp_client_reply_clear(&tx->data);
	for (unsigned i = 0; i < tx->nrcpts; i++)
		smtp_client_reply_clear(&tx->rcpt[i]);
	c->tx_rset = c->ntx > 0;
	c->ngroup = (c->tx_rset ? 1 : 0) + 1 + tx->nrcpts;
	c->nreplies = 0;
	c->nsent = 0;
	c->accepted = 0;
	c->pos = 0;
	c->ntx++;
	enter_state(c, CS_TX);
	set_timeout(c, c->set.command_timeout);
	if (c->caps & SMTP_CAP_PIPELINING) {
		while (c->nsent < c->ngroup)
			write_group_cmd(c, c->nsent++);
	} else {
		write_group_cmd(c, c->nsent++);
	}
	return 0;
}

/* group_reply: a reply to the RSET/MAIL/RCPT group. */
static void group_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	struct smtp_client_tx *tx = c->tx;
	unsigned k = c->nreplies++;
	if (c->tx_rset) {
		if (k == 0) {
			if (r->code / 100 != 2) {
				fail(c, r, "RSET refused");
				return;
			}
			goto next;
		}
		k--;
	}
	if (k == 0) {
		reply_keep(&tx->mail, r);
		if (r->code / 100 != 2 && !(c->caps & SMTP_CAP_PIPELINING)) {
			tx_done(c); /* no RCPT goes out after a refused MAIL */
			return;
		}
	} else {
		reply_keep(&tx->rcpt[k - 1], r);
		if (r->code / 100 == 2)
			c->accepted++;
	}
next:
	if (c->nreplies < c->ngroup) {
		if (c->nsent == c->nreplies)
			write_group_cmd(c, c->nsent++);
		return;
	}
	if (tx->mail.code / 100 == 2 && c->accepted > 0) {
		send_line(c, "DATA");
		enter_state(c, CS_DATA);
		return;
	}
	tx_done(c);
}

static void parse_caps(struct smtp_client *c, const struct smtp_reply *r)
{
	c->caps = 0;
	c->max_size = 0;
	const char *t = buf_cstr(&r->text);
	const char *line = strchr(t, '\n'); /* the first line is the greeting name */
	while (line != NULL) {
		line++;
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);
		size_t kw = 0;
		while (kw < n && line[kw] != ' ')
			kw++;
		struct {
			const char *name;
			unsigned cap;
		} table[] = {
		    {"PIPELINING", SMTP_CAP_PIPELINING},
		    {"SIZE", SMTP_CAP_SIZE},
		    {"8BITMIME", SMTP_CAP_8BITMIME},
		    {"SMTPUTF8", SMTP_CAP_SMTPUTF8},
		    {"STARTTLS", SMTP_CAP_STARTTLS},
		    {"ENHANCEDSTATUSCODES", SMTP_CAP_ENHANCEDSTATUSCODES},
		};
		for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
			if (strlen(table[i].name) == kw &&
			    strncasecmp(line, table[i].name, kw) == 0)
				c->caps |= table[i].cap;
		}
		if (kw == 4 && strncasecmp(line, "SIZE", 4) == 0 && kw < n) {
			char num[24];
			size_t nl = n - kw - 1;
			if (nl > 0 && nl < sizeof(num)) {
				memcpy(num, line + kw + 1, nl);
				num[nl] = '\0';
				char *e;
				unsigned long long v = strtoull(num, &e, 10);
				if (*e == '\0')
					c->max_size = v;
			}
		}
		line = end;
	}
}

static void become_ready(struct smtp_client *c)
{
	enter_state(c, CS_READY);
	set_timeout(c, c->set.command_timeout);
	c->established = true;
	notify(c, SMTP_CLIENT_READY);
}

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

static void start_tls(struct smtp_client *c)
{
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
		c->fail_tls = true; /* no TLS with this server: plain text may work */
		fail(c, NULL, "data after the STARTTLS reply from %s", c->peer);
		return;
	}
	SSL *ssl = SSL_new(c->set.tls);
	if (ssl == NULL) {
		fail(c, NULL, "TLS not available: SSL_new failed");
		return;
	}
	if (c->server_name != NULL)
		SSL_set_tlsext_host_name(ssl, c->server_name);
	struct bufferevent *tb =
	    bufferevent_openssl_filter_new(c->base, c->bev, ssl, BUFFEREVENT_SSL_CONNECTING,
	                                   BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (tb == NULL) {
		SSL_free(ssl);
		fail(c, NULL, "TLS not available: cannot create the filter");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tb, 1);
	c->under = c->bev;
	c->bev = tb;
	evbuffer_add_cb(bufferevent_get_output(c->under), on_under_output, c);
	bufferevent_setcb(tb, on_read, on_write, on_event, c);
	bufferevent_setwatermark(tb, EV_WRITE, BODY_CHUNK, 0);
	enter_state(c, CS_HANDSHAKE);
	set_timeout(c, c->set.command_timeout);
	bufferevent_enable(tb, EV_READ | EV_WRITE);
	/* RFC 3207: what the server said before TLS counts no more */
	c->caps = 0;
	c->max_size = 0;
}

static void handle_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	unsigned cls = r->code / 100;
	switch (c->state) {
	case CS_GREETING:
		if (r->code != 220) {
			fail(c, r, "host %s refused to talk to me", c->peer);
			return;
		}
		send_line(c, "EHLO %s", c->helo);
		enter_state(c, CS_EHLO);
		return;
	case CS_EHLO:
		if (cls == 5) {
			send_line(c, "HELO %s", c->helo);
			enter_state(c, CS_HELO);
			return;
		}
		if (cls != 2) {
			fail(c, r, "host %s refused EHLO", c->peer);
			return;
		}
		parse_caps(c, r);
		if ((c->caps & SMTP_CAP_STARTTLS) && c->set.tls != NULL && !c->tls_active) {
			send_line(c, "STARTTLS");
			enter_state(c, CS_STARTTLS);
			return;
		}
		become_ready(c);
		return;
	case CS_HELO:
		if (cls != 2) {
			fail(c, r, "host %s refused HELO", c->peer);
			return;
		}
		c->caps = 0;
		become_ready(c);
		return;
	case CS_STARTTLS:
		if (r->code == 220) {
			start_tls(c);
			return;
		}
		if (r->code == 421) {
			fail(c, r, "host %s closed the session after STARTTLS", c->peer);
			return;
		}
		/* opportunistic: go on in plain text */
		log_info("sid=%s event=starttls_refused relay=%s reply=\"%s\"", c->log_id, c->peer,
		         log_esc(buf_cstr(&r->text)));
		become_ready(c);
		return;
	case CS_TX:
		group_reply(c, r);
		return;
	case CS_DATA:
		if (r->code == 354) {
			enter_state(c, CS_BODY);
			smtp_data_encoder_init(&c->enc);
			set_write_timeout(c, c->set.data_timeout);
			pump_body(c);
			return;
		}
		reply_keep(&c->tx->data, r);
		tx_done(c);
		return;
	case CS_DOT:
		reply_keep(&c->tx->data, r);
		tx_done(c);
		return;
	case CS_QUIT:
		kill_session(c);
		return;
	case CS_BODY:
	case CS_READY:
	case CS_CONNECTING:
	case CS_HANDSHAKE:
	case CS_DEAD:
		break;
	}
	fail(c, r, "unexpected reply from %s while %s", c->peer, state_doing[c->state]);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct smtp_client *c = arg;
	(void)bev;
	enter(c);
	char tmp[4096];
	while (c->state != CS_DEAD && c->bev != NULL && c->state != CS_HANDSHAKE) {
		struct evbuffer *in = bufferevent_get_input(c->bev);
		size_t avail = evbuffer_get_length(in);
		if (avail == 0)
			break;
		ev_ssize_t n = evbuffer_copyout(in, tmp, avail < sizeof(tmp) ? avail : sizeof(tmp));
		if (n <= 0)
			break;
		size_t used = 0;
		const char *err = NULL;
		int r = smtp_reply_parse(&c->rp, tmp, (size_t)n, &used, &err);
		evbuffer_drain(in, used);
		if (r < 0) {
			fail(c, NULL, "protocol error from %s: %s while %s", c->peer, err,
			     state_doing[c->state]);
			break;
		}
		if (r == 1)
			handle_reply(c, &c->rp.reply);
	}
	leave(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct smtp_client *c = arg;
	(void)bev;
	enter(c);
	if (c->state == CS_BODY)
		pump_body(c);
	leave(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_client *c = arg;
	(void)bev;
	int err = EVUTIL_SOCKET_ERROR();
	enter(c);
	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == CS_CONNECTING) {
			enter_state(c, CS_GREETING);
			set_timeout(c, c->set.command_timeout);
		} else if (c->state == CS_HANDSHAKE) {
			SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
			c->tls_active = true;
			snprintf(c->tls_desc, sizeof(c->tls_desc), "%s with cipher %s",
			         ssl ? SSL_get_version(ssl) : "TLS",
			         ssl ? SSL_get_cipher_name(ssl) : "unknown");
			log_info("sid=%s event=tls relay=%s version=%s cipher=%s", c->log_id,
			         c->peer, ssl ? SSL_get_version(ssl) : "-",
			         ssl ? SSL_get_cipher_name(ssl) : "-");
			send_line(c, "EHLO %s", c->helo);
			enter_state(c, CS_EHLO);
		}
		leave(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (c->state == CS_CONNECTING)
			fail(c, NULL, "connect to %s: Connection timed out", c->peer);
		else
			fail(c, NULL, "conversation with %s timed out while %s", c->peer,
			     state_doing[c->state]);
		leave(c);
		return;
	}
	if (c->state == CS_CONNECTING) {
		fail(c, NULL, "connect to %s: %s", c->peer,
		     err != 0 ? strerror(err) : "Connection failed");
	} else if (c->state == CS_HANDSHAKE) {
		unsigned long e = bufferevent_get_openssl_error(c->bev);
		char reason[200] = "handshake failed";
		if (e != 0)
			ERR_error_string_n(e, reason, sizeof(reason));
		ERR_clear_error();
		c->fail_tls = true;
		fail(c, NULL, "TLS handshake with %s failed: %s", c->peer, reason);
	} else {
		fail(c, NULL, "lost connection with %s while %s", c->peer, state_doing[c->state]);
	}
	leave(c);
}

static void on_start(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_client *c = arg;
	(void)fd;
	(void)what;
	enter(c);
	c->bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		fail(c, NULL, "connect to %s: cannot create a socket", c->peer);
		leave(c);
		return;
	}
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, BODY_CHUNK, 0);
	set_timeout(c, c->set.connect_timeout);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&c->sa, (int)c->salen) < 0) {
		int e = EVUTIL_SOCKET_ERROR();
		fail(c, NULL, "connect to %s: %s", c->peer, e != 0 ? strerror(e) : "failed");
	} else {
		/* SMTP writes small pieces and waits for the answer: without
		 * this the last piece of a message waits for a delayed ACK */
		int one = 1;
		setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	leave(c);
}

static bool is_address_literal(const char *s)
{
	unsigned char tmp[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
}

struct smtp_client *smtp_client_connect(struct event_base *base, const struct sockaddr *sa,
                                        socklen_t salen, const struct smtp_client_settings *set,
                                        smtp_client_cb *cb, void *ctx)
{
	struct smtp_client *c = xcalloc(1, sizeof(*c));
	c->base = base;
	c->set = *set;
	c->helo = xstrdup(set->helo ? set->helo : "localhost");
	c->log_id = xstrdup(set->log_id ? set->log_id : "-");
	if (set->server_name != NULL && set->server_name[0] != '\0' &&
	    !is_address_literal(set->server_name))
		c->server_name = xstrdup(set->server_name);
	c->set.helo = c->helo;
	c->set.server_name = c->server_name;
	c->set.log_id = c->log_id;
	if (salen > sizeof(c->sa))
		salen = sizeof(c->sa);
	memcpy(&c->sa, sa, salen);
	c->salen = salen;
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		port = ntohs(s4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		port = ntohs(s6->sin6_port);
	}
	snprintf(c->peer, sizeof(c->peer), "%s[%s]:%u",
	         set->server_name && set->server_name[0] ? set->server_name : ip, ip, port);
	c->cb = cb;
	c->ctx = ctx;
	c->state = CS_CONNECTING;
	smtp_reply_parser_init(&c->rp, &set->limits);
	c->pump_ev = event_new(base, -1, 0, on_pump, c);
	c->start_ev = event_new(base, -1, 0, on_start, c);
	event_active(c->start_ev, EV_TIMEOUT, 0);
	return c;
}

static void on_quit_timer(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_client *c = arg;
	(void)fd;
	(void)what;
	enter(c);
	kill_session(c);
	leave(c);
}

void smtp_client_quit(struct smtp_client **cp)
{
	struct smtp_client *c = *cp;
	if (c == NULL)
		return;
	*cp = NULL;
	c->cb = NULL;
	if (c->state != CS_READY || c->bev == NULL) {
		kill_session(c);
		return;
	}
	c->detached = true;
	c->next_detached = detached_list;
	detached_list = c;
	send_line(c, "QUIT");
	enter_state(c, CS_QUIT);
	set_timeout(c, QUIT_WAIT_SECS);
	c->quit_timer = evtimer_new(c->base, on_quit_timer, c);
	struct timeval tv = {QUIT_WAIT_SECS, 0};
	evtimer_add(c->quit_timer, &tv);
}

void smtp_client_destroy(struct smtp_client **cp)
{
	struct smtp_client *c = *cp;
	if (c == NULL)
		return;
	*cp = NULL;
	kill_session(c);
}

void smtp_client_reap(void)
{
	while (detached_list != NULL) {
		struct smtp_client *c = detached_list;
		detached_list = c->next_detached;
		c->next_detached = NULL;
		if (c->depth == 0)
			client_free(c);
	}
}

unsigned smtp_client_caps(const struct smtp_client *c)
{
	return c->caps;
}

uint64_t smtp_client_max_size(const struct smtp_client *c)
{
	return (c->caps & SMTP_CAP_SIZE) ? c->max_size : 0;
}

const char *smtp_client_tls(const struct smtp_client *c)
{
	return c->tls_active ? c->tls_desc : NULL;
}

void smtp_client_failure(const struct smtp_client *c, struct smtp_client_failure *f_r)
{
	memset(f_r, 0, sizeof(*f_r));
	f_r->text = c->fail_text ? c->fail_text : "session failed";
	f_r->reply = c->fail_reply.code != 0 ? &c->fail_reply : NULL;
	f_r->tls = c->fail_tls;
	f_r->established = c->established;
}

SSL_CTX *smtp_client_tls_ctx(const char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		*error_r = "SSL_CTX_new failed";
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
	/* opportunistic: a certificate is not checked (tlspolicies and DANE
	 * come later); encryption still beats plain text */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}
