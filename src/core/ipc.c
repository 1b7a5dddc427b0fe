/*
 * ipc.c - framed messages over stream sockets (see ipc.h).
 *
 * Reading: a bufferevent fills its input; frames are decoded as soon as
 * they are complete. Requests waiting for replies are kept in a list
 * with one timer each; the list is short (bounded by what a worker has
 * in flight) so a linear search by id is fine.
 */
#include "ipc.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct ipc_pending {
	struct ipc_pending *next;
	struct ipc_conn *conn;
	uint32_t id;
	struct event *timer;
	ipc_reply_cb *cb;
	void *ctx;
};

struct ipc_conn {
	struct event_base *base;
	struct bufferevent *bev;
	ipc_msg_cb *on_msg;
	ipc_close_cb *on_close;
	void *ctx;
	struct ipc_pending *pending;
	unsigned npending;
	uint32_t next_id;
	bool closed;
	bool in_callback;
	bool destroy_later;
};

void ipc_msg_init(struct ipc_msg *m, uint16_t type, uint32_t id)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->id = id;
	char hdr[IPC_HDR_LEN];
	uint32_t len = 0;
	uint16_t ver = IPC_VERSION;
	memcpy(hdr, &len, 4);
	memcpy(hdr + 4, &type, 2);
	memcpy(hdr + 6, &ver, 2);
	memcpy(hdr + 8, &id, 4);
	buf_append(&m->b, hdr, sizeof(hdr));
	m->rpos = IPC_HDR_LEN;
}

void ipc_msg_free(struct ipc_msg *m)
{
	buf_free(&m->b);
	m->rpos = 0;
}

void ipc_put_u8(struct ipc_msg *m, uint8_t v)
{
	buf_append(&m->b, &v, 1);
}

void ipc_put_u32(struct ipc_msg *m, uint32_t v)
{
	buf_append(&m->b, &v, 4);
}

void ipc_put_u64(struct ipc_msg *m, uint64_t v)
{
	buf_append(&m->b, &v, 8);
}

void ipc_put_str(struct ipc_msg *m, const char *s)
{
	if (s == NULL) {
		ipc_put_u32(m, UINT32_MAX);
		return;
	}
	size_t n = strlen(s);
	if (n >= UINT32_MAX)
		abort();
	ipc_put_u32(m, (uint32_t)n);
	buf_append(&m->b, s, n + 1);
}

static int get_bytes(struct ipc_msg *m, void *out, size_t n)
{
	if (m->error || m->b.len - m->rpos < n) {
		m->error = true;
		return -1;
	}
	memcpy(out, m->b.data + m->rpos, n);
	m->rpos += n;
	return 0;
}

int ipc_get_u8(struct ipc_msg *m, uint8_t *v_r)
{
	return get_bytes(m, v_r, 1);
}

int ipc_get_u32(struct ipc_msg *m, uint32_t *v_r)
{
	return get_bytes(m, v_r, 4);
}

int ipc_get_u64(struct ipc_msg *m, uint64_t *v_r)
{
	return get_bytes(m, v_r, 8);
}

int ipc_get_str(struct ipc_msg *m, const char **s_r)
{
	uint32_t n;
	*s_r = NULL;
	if (ipc_get_u32(m, &n) < 0)
		return -1;
	if (n == UINT32_MAX)
		return 0;
	if (m->b.len - m->rpos < (size_t)n + 1 || m->b.data[m->rpos + n] != '\0' ||
	    memchr(m->b.data + m->rpos, '\0', n) != NULL) {
		m->error = true;
		return -1;
	}
	*s_r = m->b.data + m->rpos;
	m->rpos += (size_t)n + 1;
	return 0;
}

int ipc_msg_done(const struct ipc_msg *m)
{
	return (!m->error && m->rpos == m->b.len) ? 0 : -1;
}

void ipc_msg_finish(struct ipc_msg *m)
{
	uint32_t len = (uint32_t)(m->b.len - IPC_HDR_LEN);
	memcpy(m->b.data, &len, 4);
	memcpy(m->b.data + 8, &m->id, 4);
}

int ipc_msg_parse(struct ipc_msg *m, const void *data, size_t len, size_t *used_r)
{
	if (len < IPC_HDR_LEN)
		return 0;
	const unsigned char *p = data;
	uint32_t plen, id;
	uint16_t type, ver;
	memcpy(&plen, p, 4);
	memcpy(&type, p + 4, 2);
	memcpy(&ver, p + 6, 2);
	memcpy(&id, p + 8, 4);
	if (ver != IPC_VERSION || plen > IPC_MAX_PAYLOAD)
		return -1;
	if (len - IPC_HDR_LEN < plen)
		return 0;
	memset(m, 0, sizeof(*m));
	buf_append(&m->b, p, IPC_HDR_LEN + plen);
	m->type = type;
	m->id = id;
	m->rpos = IPC_HDR_LEN;
	*used_r = IPC_HDR_LEN + plen;
	return 1;
}

static struct ipc_pending *pending_take(struct ipc_conn *c, uint32_t id)
{
	for (struct ipc_pending **pp = &c->pending; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			struct ipc_pending *p = *pp;
			*pp = p->next;
			c->npending--;
			event_free(p->timer);
			return p;
		}
	}
	return NULL;
}

static void conn_fail(struct ipc_conn *c)
{
	if (c->closed)
		return;
	c->closed = true;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	while (c->pending != NULL) {
		struct ipc_pending *p = pending_take(c, c->pending->id);
		p->cb(NULL, p->ctx);
		free(p);
		if (c->destroy_later)
			return; /* the owner destroyed us from that callback */
	}
	if (c->on_close != NULL)
		c->on_close(c, c->ctx);
}

static void conn_free(struct ipc_conn *c)
{
	while (c->pending != NULL) {
		struct ipc_pending *p = pending_take(c, c->pending->id);
		free(p);
	}
	bufferevent_free(c->bev);
	free(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct ipc_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	c->in_callback = true;
	while (!c->closed && !c->destroy_later) {
		size_t avail = evbuffer_get_length(in);
		if (avail < IPC_HDR_LEN)
			break;
		unsigned char hdr[IPC_HDR_LEN];
		evbuffer_copyout(in, hdr, IPC_HDR_LEN);
		uint32_t plen;
		memcpy(&plen, hdr, 4);
		if (plen > IPC_MAX_PAYLOAD) {
			log_error("event=ipc_error error=frame_too_large size=%u", plen);
			conn_fail(c);
			break;
		}
		if (avail < IPC_HDR_LEN + (size_t)plen)
			break;
		unsigned char *data = evbuffer_pullup(in, (ssize_t)(IPC_HDR_LEN + plen));
		struct ipc_msg m;
		size_t used;
		int r = ipc_msg_parse(&m, data, IPC_HDR_LEN + plen, &used);
		if (r <= 0) {
			log_error("event=ipc_error error=bad_frame");
			conn_fail(c);
			break;
		}
		evbuffer_drain(in, used);
		struct ipc_pending *p = pending_take(c, m.id);
		if (p != NULL) {
			p->cb(&m, p->ctx);
			free(p);
		} else if (c->on_msg != NULL) {
			c->on_msg(c, &m, c->ctx);
		}
		ipc_msg_free(&m);
	}
	c->in_callback = false;
	if (c->destroy_later)
		conn_free(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct ipc_conn *c = arg;
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		c->in_callback = true;
		conn_fail(c);
		c->in_callback = false;
		if (c->destroy_later)
			conn_free(c);
	}
}

struct ipc_conn *ipc_conn_create(struct event_base *base, int fd, ipc_msg_cb *on_msg,
				 ipc_close_cb *on_close, void *ctx)
{
	struct ipc_conn *c = xcalloc(1, sizeof(*c));
	evutil_make_socket_nonblocking(fd);
	evutil_make_socket_closeonexec(fd);
	c->base = base;
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		fatal("event=ipc_error error=bufferevent_socket_new");
	c->on_msg = on_msg;
	c->on_close = on_close;
	c->ctx = ctx;
	c->next_id = 1;
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return c;
}

void ipc_conn_destroy(struct ipc_conn **cp)
{
	struct ipc_conn *c = *cp;
	if (c == NULL)
		return;
	*cp = NULL;
	/* pending callbacks must not run after their owner destroyed us */
	while (c->pending != NULL) {
		struct ipc_pending *p = pending_take(c, c->pending->id);
		free(p);
	}
	c->closed = true;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	if (c->in_callback)
		c->destroy_later = true;
	else
		conn_free(c);
}

void ipc_conn_send(struct ipc_conn *c, struct ipc_msg *m)
{
	ipc_msg_finish(m);
	if (!c->closed)
		bufferevent_write(c->bev, m->b.data, m->b.len);
	ipc_msg_free(m);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_pending *p = arg;
	struct ipc_conn *c = p->conn;
	(void)fd;
	(void)what;
	p = pending_take(c, p->id);
	if (p != NULL) {
		p->cb(NULL, p->ctx);
		free(p);
	}
}

uint32_t ipc_conn_request(struct ipc_conn *c, struct ipc_msg *m, unsigned timeout_ms,
			  ipc_reply_cb *cb, void *ctx)
{
	uint32_t id = c->next_id++;
	if (c->next_id == 0)
		c->next_id = 1;
	m->id = id;
	struct ipc_pending *p = xcalloc(1, sizeof(*p));
	p->conn = c;
	p->id = id;
	p->cb = cb;
	p->ctx = ctx;
	p->timer = evtimer_new(c->base, on_timeout, p);
	struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
	evtimer_add(p->timer, &tv);
	p->next = c->pending;
	c->pending = p;
	c->npending++;
	if (c->closed) {
		/* answer asynchronously as a failure, never from inside the call */
		struct timeval now = {0, 0};
		evtimer_add(p->timer, &now);
	}
	ipc_conn_send(c, m);
	return id;
}

void *ipc_request_cancel(struct ipc_conn *c, uint32_t id)
{
	struct ipc_pending *p = pending_take(c, id);
	if (p == NULL)
		return NULL;
	void *ctx = p->ctx;
	free(p);
	return ctx;
}

unsigned ipc_conn_pending(const struct ipc_conn *c)
{
	return c->npending;
}

size_t ipc_conn_outbuf(const struct ipc_conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

bool ipc_conn_closed(const struct ipc_conn *c)
{
	return c->closed;
}

int ipc_connect_unix(const char *path)
{
	struct sockaddr_un sun;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}
