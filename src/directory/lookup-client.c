/*
 * lookup-client.c - asking the lookup process (see lookup.h).
 *
 * One ipc_conn to the lookup socket, opened on the first query and again
 * after it closed. When the socket cannot be reached the query fails as
 * a temporary failure on the next loop turn, and connecting is not tried
 * again for a second so a dead lookup process costs nothing per query.
 */
#include "directory/lookup.h"
#include "core/log.h"
#include "core/xalloc.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct lookup_query {
	struct lookup_client *client;
	struct lookup_query *prev, *next; /* client->queries */
	bool failing;			  /* answered by fail_timer */
	enum lookup_type type;
	uint32_t id;
	lookup_cb *cb;
	void *ctx;
};

struct lookup_client {
	struct event_base *base;
	char *path;
	unsigned timeout_ms;
	struct ipc_conn *conn;
	time_t connect_failed_at;
	uint32_t next_local_id; /* ids of queries failed without a connection */
	struct lookup_query *queries; /* every query in flight */
	struct event *fail_timer;
	unsigned npending;
};

static const char *const type_names[] = {"?",	   "rcpt", "domain", "auth",
					 "sendas", "tlspolicy", "user",  "ping"};

const char *lookup_type_name(enum lookup_type t)
{
	return (unsigned)t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "?";
}

const char *lookup_status_name(enum lookup_status s)
{
	switch (s) {
	case LOOKUP_OK:
		return "ok";
	case LOOKUP_TEMPFAIL:
		return "tempfail";
	case LOOKUP_DENIED:
		return "denied";
	}
	return "?";
}

void lookup_request_encode(struct ipc_msg *m, enum lookup_type t, const char *a, const char *b)
{
	ipc_msg_init(m, (uint16_t)t, 0);
	switch (t) {
	case LOOKUP_AUTH:
	case LOOKUP_SENDAS:
		ipc_put_str(m, a);
		ipc_put_str(m, b);
		break;
	case LOOKUP_PING:
		break;
	default:
		ipc_put_str(m, a);
		break;
	}
}

int lookup_reply_decode(struct ipc_msg *m, enum lookup_type t, struct lookup_reply *r,
			const char ***dest_r)
{
	uint8_t status = 0xff, found = 0, kind = 0, sendonly = 0;
	uint32_t quota = 0, ndest = 0;
	memset(r, 0, sizeof(*r));
	*dest_r = NULL;
	r->type = t;
	ipc_get_u8(m, &status);
	if (status == LOOKUP_TEMPFAIL) {
		ipc_get_str(m, &r->error);
	} else {
		switch (t) {
		case LOOKUP_RCPT:
			ipc_get_u8(m, &kind);
			ipc_get_str(m, &r->address);
			ipc_get_u32(m, &quota);
			ipc_get_u32(m, &ndest);
			if (ndest > 100000) {
				m->error = true;
				break;
			}
			*dest_r = xcalloc(ndest + 1, sizeof(char *));
			for (uint32_t i = 0; i < ndest; i++)
				ipc_get_str(m, &(*dest_r)[i]);
			found = kind == DIR_RCPT_ACCOUNT || kind == DIR_RCPT_ALIAS ||
				kind == DIR_RCPT_CATCHALL;
			break;
		case LOOKUP_AUTH:
		case LOOKUP_USER:
			ipc_get_u8(m, &found);
			ipc_get_str(m, &r->address);
			ipc_get_u32(m, &quota);
			ipc_get_u8(m, &sendonly);
			break;
		case LOOKUP_TLSPOLICY:
			ipc_get_u8(m, &found);
			ipc_get_str(m, &r->policy);
			ipc_get_str(m, &r->params);
			break;
		default:
			ipc_get_u8(m, &found);
			break;
		}
	}
	if (ipc_msg_done(m) < 0 || status > LOOKUP_DENIED || kind > DIR_RCPT_NODOMAIN) {
		free(*dest_r);
		*dest_r = NULL;
		return -1;
	}
	r->status = (enum lookup_status)status;
	r->found = found != 0;
	r->kind = (enum dir_rcpt_kind)kind;
	r->quota_mb = quota;
	r->sendonly = sendonly != 0;
	r->dest = *dest_r;
	r->ndest = *dest_r ? ndest : 0;
	return 0;
}

static void query_link(struct lookup_client *c, struct lookup_query *q)
{
	q->prev = NULL;
	q->next = c->queries;
	if (c->queries != NULL)
		c->queries->prev = q;
	c->queries = q;
	c->npending++;
}

static void query_free(struct lookup_query *q)
{
	struct lookup_client *c = q->client;
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		c->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	c->npending--;
	free(q);
}

static void deliver_tempfail(struct lookup_query *q, const char *why)
{
	struct lookup_reply r;
	memset(&r, 0, sizeof(r));
	r.type = q->type;
	r.status = LOOKUP_TEMPFAIL;
	r.error = why;
	q->cb(&r, q->ctx);
}

static void on_reply(struct ipc_msg *m, void *arg)
{
	struct lookup_query *q = arg;
	if (m == NULL) {
		deliver_tempfail(q, "lookup process did not answer");
	} else {
		struct lookup_reply r;
		const char **dest;
		if (lookup_reply_decode(m, q->type, &r, &dest) < 0) {
			log_error("event=lookup_error error=malformed_reply type=%s",
				  lookup_type_name(q->type));
			deliver_tempfail(q, "malformed reply");
		} else {
			q->cb(&r, q->ctx);
		}
		free(dest);
	}
	query_free(q);
}

static void on_close(struct ipc_conn *conn, void *arg)
{
	struct lookup_client *c = arg;
	(void)conn;
	/* pending queries were already answered NULL by ipc */
	ipc_conn_destroy(&c->conn);
}

static void on_fail_timer(evutil_socket_t fd, short what, void *arg)
{
	struct lookup_client *c = arg;
	(void)fd;
	(void)what;
	struct lookup_query *q = c->queries;
	while (q != NULL) {
		struct lookup_query *next = q->next;
		if (q->failing) {
			deliver_tempfail(q, "lookup process unreachable");
			query_free(q);
		}
		q = next;
	}
}

struct lookup_client *lookup_client_create(struct event_base *base, const char *socket_path,
					   unsigned timeout_ms)
{
	struct lookup_client *c = xcalloc(1, sizeof(*c));
	c->base = base;
	c->path = xstrdup(socket_path);
	c->timeout_ms = timeout_ms;
	c->next_local_id = 0x80000000u;
	c->fail_timer = evtimer_new(base, on_fail_timer, c);
	return c;
}

void lookup_client_destroy(struct lookup_client **cp)
{
	struct lookup_client *c = *cp;
	if (c == NULL)
		return;
	*cp = NULL;
	/* queries still pending are dropped without callback: their owners
	 * are going away with the client */
	ipc_conn_destroy(&c->conn);
	while (c->queries != NULL)
		query_free(c->queries);
	event_free(c->fail_timer);
	free(c->path);
	free(c);
}

static bool ensure_conn(struct lookup_client *c)
{
	if (c->conn != NULL)
		return true;
	time_t now = time(NULL);
	if (c->connect_failed_at != 0 && now - c->connect_failed_at < 1)
		return false;
	int fd = ipc_connect_unix(c->path);
	if (fd < 0) {
		if (c->connect_failed_at == 0)
			log_warn("event=lookup_unreachable socket=%s error=\"%s\"", c->path,
				 strerror(errno));
		c->connect_failed_at = now;
		return false;
	}
	if (c->connect_failed_at != 0)
		log_info("event=lookup_reachable socket=%s", c->path);
	c->connect_failed_at = 0;
	c->conn = ipc_conn_create(c->base, fd, NULL, on_close, c);
	return true;
}

static uint32_t query(struct lookup_client *c, enum lookup_type t, const char *a, const char *b,
		      lookup_cb *cb, void *ctx)
{
	struct lookup_query *q = xcalloc(1, sizeof(*q));
	q->client = c;
	q->type = t;
	q->cb = cb;
	q->ctx = ctx;
	query_link(c, q);
	if (!ensure_conn(c)) {
		q->id = c->next_local_id++;
		if (c->next_local_id == 0)
			c->next_local_id = 0x80000000u;
		q->failing = true;
		struct timeval now = {0, 0};
		evtimer_add(c->fail_timer, &now);
		return q->id;
	}
	struct ipc_msg m;
	lookup_request_encode(&m, t, a, b);
	q->id = ipc_conn_request(c->conn, &m, c->timeout_ms, on_reply, q);
	return q->id;
}

uint32_t lookup_rcpt(struct lookup_client *c, const char *address, lookup_cb *cb, void *ctx)
{
	return query(c, LOOKUP_RCPT, address, NULL, cb, ctx);
}

uint32_t lookup_domain(struct lookup_client *c, const char *domain, lookup_cb *cb, void *ctx)
{
	return query(c, LOOKUP_DOMAIN, domain, NULL, cb, ctx);
}

uint32_t lookup_auth(struct lookup_client *c, const char *login, const char *password,
		     lookup_cb *cb, void *ctx)
{
	return query(c, LOOKUP_AUTH, login, password, cb, ctx);
}

uint32_t lookup_sendas(struct lookup_client *c, const char *login, const char *address,
		       lookup_cb *cb, void *ctx)
{
	return query(c, LOOKUP_SENDAS, login, address, cb, ctx);
}

uint32_t lookup_tlspolicy(struct lookup_client *c, const char *domain, lookup_cb *cb, void *ctx)
{
	return query(c, LOOKUP_TLSPOLICY, domain, NULL, cb, ctx);
}

uint32_t lookup_user(struct lookup_client *c, const char *address, lookup_cb *cb, void *ctx)
{
	return query(c, LOOKUP_USER, address, NULL, cb, ctx);
}

uint32_t lookup_ping(struct lookup_client *c, lookup_cb *cb, void *ctx)
{
	return query(c, LOOKUP_PING, NULL, NULL, cb, ctx);
}

void lookup_cancel(struct lookup_client *c, uint32_t id)
{
	for (struct lookup_query *q = c->queries; q != NULL; q = q->next) {
		if (q->failing && q->id == id) {
			query_free(q);
			return;
		}
	}
	if (c->conn == NULL)
		return;
	/* the query struct is the request's ctx */
	struct lookup_query *q = ipc_request_cancel(c->conn, id);
	if (q != NULL)
		query_free(q);
}

unsigned lookup_client_pending(const struct lookup_client *c)
{
	return c->npending;
}
