/*
 * queue-sched.c - the scheduler of the queue process: which message is
 * tried when, over which connection, and what becomes of each recipient.
 *
 * Messages. Every envelope of env/ is a struct qmsg in memory. A message
 * is idle (waiting for next_try, or held) or active (one attempt running).
 * An attempt: every recipient still to do is asked of the lookup process;
 * accounts go to a local delivery job (queue-local.c, in the pool), local
 * aliases are expanded into new recipients (asked again), unknown local
 * addresses fail, and the rest are grouped by destination into remote
 * jobs. When the last job of the attempt has ended: recipients deferred
 * past the lifetime fail, failed ones get a delivery status notification
 * (queue-bounce.c) queued as a message of its own, and the message is
 * removed when every recipient is done, else it waits
 * minimal_backoff_time * 2^(tries-1) (at most maximal_backoff_time, and
 * never past the end of its lifetime). The envelope is rewritten after
 * each job, so a crash repeats at most what was in flight.
 *
 * Destinations. A destination is a domain (MX lookup), or the next hop of
 * [queue] relayhost or of a [transport] entry (several domains with the
 * same next hop share one). It holds a FIFO of jobs, its resolved targets
 * and its connections: at most destination_concurrency_limit, and
 * concurrency_limit in all. A connection tries the targets in order until
 * one greets and answers EHLO (a failed TLS handshake is retried in plain
 * text once); when all fail, its job and every job still waiting for the
 * destination are deferred. After a transaction the connection takes the
 * next job of its destination (RSET, MAIL...), or waits
 * connection_cache_time for one, then says QUIT.
 *
 * Logs: one line per recipient and outcome, starting with the queue id:
 *   qid=... event=delivery to=<...> relay=host[ip]:port delay=1.2 tries=1
 *   dsn=2.0.0 status=sent reason="250 2.0.0 Ok: queued as ..."
 */
#include "smtp/queue.h"
#include "core/id.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/xalloc.h"
#include "directory/lookup.h"
#include "net/dns.h"
#include "smtp/smtp-client.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define HASH_BUCKETS  1024
#define ACTIVE_MAX    1000 /* messages in an attempt at once */
#define REUSE_MAX     100  /* transactions over one connection */
#define ROUTE_TTL     300  /* seconds resolved targets are reused */
#define LOCAL_THREADS 2
#define JOB_RCPTS_MAX 50 /* recipients per transaction (Postfix's default) */

struct qmsg;
struct qdest;

/* Per recipient, during one attempt. */
enum rclass { RC_NONE, RC_ASKED, RC_LOCAL, RC_REMOTE, RC_DONE };

struct rwork {
	enum rclass cls;
	bool busy; /* handed to a job */
	unsigned quota_mb;
	char *mailbox;
};

struct qmsg {
	struct qmsg *next, *prev, *hnext;
	struct queue_sched *s;
	struct queue_env env;
	char *path;
	bool active, deleted;
	time_t next_try;
	unsigned outstanding; /* lookups and jobs of the running attempt */
	struct rwork *rw;
	unsigned nrw;
	double arrived; /* arrival with its fraction when known, for delay= */
	bool scanned;
	uint64_t wire_size;
	bool eightbit;
	bool expired;
};

struct qlookup {
	struct qlookup *next, *prev;
	struct qmsg *m;
	unsigned idx;
	uint32_t id;
};

struct qjob {
	struct qjob *next;
	struct qmsg *m;
	struct qdest *dest;
	unsigned n;
	unsigned *idx;
	char **addrs;
	struct smtp_client_reply *replies;
	struct smtp_client_tx tx;
	int fd;
};

struct qconn;

struct qdest {
	struct qdest *next;
	struct queue_sched *s;
	char *key, *name;
	bool mx;
	unsigned port;
	struct qjob *head, **tailp;
	unsigned njobs, nconns;
	struct qconn *idle;
	struct queue_route *route;
	struct queue_target *targets;
	unsigned ntargets;
	bool have_targets;
	time_t resolved_at;
};

struct qconn {
	struct qconn *next;          /* in its destination's idle list */
	struct qconn *anext, *aprev; /* every connection */
	char sid[ID_LEN];
	struct qdest *dest;
	struct smtp_client *client;
	struct qjob *job;
	unsigned target;
	bool notls, ready;
	unsigned ntx;
	struct event *idle_timer;
	char relay[320];
	char *last_error;
	char last_status[16];
};

struct queue_sched {
	struct event_base *base;
	const struct config *cfg;
	struct queue_dirs dirs;
	char *hostname;
	char *lookup_path;
	struct lookup_client *lookup;
	struct dns *dns;
	bool dns_failed;
	struct pool *pool;
	SSL_CTX *tls;
	struct qmsg *msgs;
	struct qmsg *hash[HASH_BUCKETS];
	unsigned nmsgs, nactive;
	struct qlookup *lookups;
	struct qdest *dests;
	struct qconn *conns;
	unsigned nconns;
	struct event *timer, *scan_timer, *gc_ev;
	bool started, stopping;
};

static void msg_attempt_end(struct qmsg *m);
static void msg_resolve(struct qmsg *m);
static void dest_pump(struct qdest *d);
static void pump_all(struct queue_sched *s);
static void sched_rearm(struct queue_sched *s);
static struct qmsg *msg_add(struct queue_sched *s, struct queue_env *env);

/* ---- small helpers ---- */

static unsigned qid_hash(const char *q)
{
	unsigned h = 5381;
	for (; *q; q++)
		h = h * 33 + (unsigned char)*q;
	return h % HASH_BUCKETS;
}

static struct qmsg *msg_find(struct queue_sched *s, const char *qid)
{
	for (struct qmsg *m = s->hash[qid_hash(qid)]; m != NULL; m = m->hnext)
		if (strcmp(m->env.qid, qid) == 0)
			return m;
	return NULL;
}

static double now_secs(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* log_text: s for a quoted log field: printable ASCII kept (spaces too),
 * '"', '\\' and everything else as \xHH; at most 400 bytes. */
static const char *log_text(const char *s, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; s != NULL && s[i] != '\0' && i < 400; i++) {
		unsigned char c = (unsigned char)s[i];
		if (o + 5 >= outlen)
			break;
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

static unsigned lifetime_of(const struct queue_sched *s, const struct qmsg *m)
{
	return m->env.kind == QUEUE_KIND_NORMAL ? s->cfg->queue.maximal_queue_lifetime
	                                        : s->cfg->queue.bounce_queue_lifetime;
}

static void msg_store(struct qmsg *m)
{
	if (m->deleted)
		return;
	char *err = NULL;
	if (queue_env_store(&m->s->dirs, &m->env, &err) < 0) {
		log_error("qid=%s event=envelope_error error=\"%s\"", m->env.qid, log_esc(err));
		free(err);
	}
}

static void rw_reset(struct qmsg *m)
{
	for (unsigned i = 0; i < m->nrw; i++)
		free(m->rw[i].mailbox);
	free(m->rw);
	m->rw = xcalloc(m->env.nrcpts > 0 ? m->env.nrcpts : 1, sizeof(*m->rw));
	m->nrw = m->env.nrcpts;
}

static void rw_grow(struct qmsg *m)
{
	if (m->nrw >= m->env.nrcpts)
		return;
	m->rw = xreallocarray(m->rw, m->env.nrcpts, sizeof(*m->rw));
	memset(m->rw + m->nrw, 0, (m->env.nrcpts - m->nrw) * sizeof(*m->rw));
	m->nrw = m->env.nrcpts;
}

static void msg_unlink(struct queue_sched *s, struct qmsg *m)
{
	if (m->prev != NULL)
		m->prev->next = m->next;
	else
		s->msgs = m->next;
	if (m->next != NULL)
		m->next->prev = m->prev;
	for (struct qmsg **pp = &s->hash[qid_hash(m->env.qid)]; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == m) {
			*pp = m->hnext;
			break;
		}
	}
	s->nmsgs--;
}

static void msg_free(struct qmsg *m)
{
	struct queue_sched *s = m->s;
	msg_unlink(s, m);
	if (m->active)
		s->nactive--;
	for (unsigned i = 0; i < m->nrw; i++)
		free(m->rw[i].mailbox);
	free(m->rw);
	queue_env_free(&m->env);
	free(m->path);
	free(m);
}

/* msg_release: one lookup or job of the attempt ended. */
static void msg_release(struct qmsg *m)
{
	m->outstanding--;
	if (m->outstanding > 0)
		return;
	if (m->deleted) {
		struct queue_sched *s = m->s;
		msg_free(m);
		sched_rearm(s);
		return;
	}
	if (!m->s->stopping)
		msg_attempt_end(m);
}

/* ---- outcomes ---- */

static const char *derive_status(unsigned code, const char *enhanced, char out[16])
{
	if (enhanced != NULL && enhanced[0] != '\0')
		return enhanced;
	snprintf(out, 16, "%u.0.0", code / 100 == 2 ? 2 : code / 100 == 4 ? 4 : 5);
	return out;
}

/* outcome: record what became of recipient i and log it. */
static void outcome(struct qmsg *m, unsigned i, enum queue_rcpt_state st, const char *status,
                    const char *relay, const char *diag)
{
	if (m->deleted)
		return;
	struct queue_rcpt *r = &m->env.rcpts[i];
	if (st != QR_EXPANDED)
		r->tries++;
	queue_rcpt_set(r, st, status, relay, diag);
	if (i < m->nrw)
		m->rw[i].cls = RC_DONE;
	const char *name = st == QR_SENT       ? "sent"
	                   : st == QR_DEFERRED ? "deferred"
	                   : st == QR_EXPANDED ? "expanded"
	                                       : "bounced";
	char t[2048];
	log_info("qid=%s event=delivery to=<%s> relay=%s delay=%.1f tries=%u dsn=%s status=%s "
	         "reason=\"%s\"",
	         m->env.qid, log_esc(r->address), r->relay ? r->relay : "none",
	         now_secs() - m->arrived, r->tries, r->status[0] ? r->status : "-", name,
	         log_text(r->diag, t, sizeof(t)));
}

static void outcome_reply(struct qmsg *m, unsigned i, const struct smtp_client_reply *rep,
                          const char *relay)
{
	char st[16];
	const char *status = derive_status(rep->code, rep->enhanced, st);
	enum queue_rcpt_state s = rep->code / 100 == 2   ? QR_SENT
	                          : rep->code / 100 == 4 ? QR_DEFERRED
	                                                 : QR_FAILED;
	outcome(m, i, s, status, relay, rep->text);
}

/* ---- jobs ---- */

static void job_free(struct qjob *j)
{
	if (j->fd >= 0)
		close(j->fd);
	for (unsigned k = 0; k < j->n; k++) {
		free(j->addrs[k]);
		if (j->replies != NULL)
			smtp_client_reply_clear(&j->replies[k]);
	}
	smtp_client_reply_clear(&j->tx.mail);
	smtp_client_reply_clear(&j->tx.data);
	free(j->replies);
	free(j->addrs);
	free(j->idx);
	free(j);
}

/* job_end: every recipient of j has its outcome; store and release. */
static void job_end(struct qjob *j)
{
	struct qmsg *m = j->m;
	for (unsigned k = 0; k < j->n; k++)
		if (j->idx[k] < m->nrw)
			m->rw[j->idx[k]].busy = false;
	msg_store(m);
	job_free(j);
	msg_release(m);
}

/* job_all: the same outcome for every recipient of j, then end it. */
static void job_all(struct qjob *j, enum queue_rcpt_state st, const char *status, const char *relay,
                    const char *diag)
{
	for (unsigned k = 0; k < j->n; k++)
		outcome(j->m, j->idx[k], st, status, relay, diag);
	job_end(j);
}

static struct qjob *dest_pop(struct qdest *d)
{
	struct qjob *j = d->head;
	if (j == NULL)
		return NULL;
	d->head = j->next;
	if (d->head == NULL)
		d->tailp = &d->head;
	j->next = NULL;
	d->njobs--;
	return j;
}

static void dest_push(struct qdest *d, struct qjob *j, bool front)
{
	if (front) {
		j->next = d->head;
		d->head = j;
		if (d->tailp == &d->head)
			d->tailp = &j->next;
	} else {
		j->next = NULL;
		*d->tailp = j;
		d->tailp = &j->next;
	}
	d->njobs++;
}

/* ---- destinations ---- */

static void dest_free(struct qdest *d)
{
	free(d->targets);
	free(d->key);
	free(d->name);
	free(d);
}

/* on_gc: free unused destinations; never while a loop walks the list. */
static void on_gc(evutil_socket_t fd, short what, void *arg)
{
	struct queue_sched *s = arg;
	(void)fd;
	(void)what;
	for (struct qdest **pp = &s->dests; *pp != NULL;) {
		struct qdest *d = *pp;
		if (d->head == NULL && d->nconns == 0 && d->route == NULL) {
			*pp = d->next;
			dest_free(d);
		} else {
			pp = &d->next;
		}
	}
}

static void dest_maybe_free(struct qdest *d)
{
	if (d->head == NULL && d->nconns == 0 && d->route == NULL && !d->s->stopping)
		event_active(d->s->gc_ev, EV_TIMEOUT, 0);
}

/*
 * dest_for: the destination of address; NULL with *error_r (static) when
 * the next hop cannot be used.
 */
static struct qdest *dest_for(struct queue_sched *s, const char *address, const char **error_r)
{
	const struct config_queue *qc = &s->cfg->queue;
	char *dom = xstrdup(queue_address_domain(address));
	for (char *p = dom; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	char *key = NULL, *host = NULL;
	unsigned port = qc->smtp_port;
	bool mx = false;
	const char *hop = qc->relayhost[0] != '\0' ? qc->relayhost
	                                           : queue_transport_find(&s->cfg->transport, dom);
	if (hop != NULL) {
		if (queue_nexthop_parse(hop, qc->smtp_port, &host, &port, error_r) < 0) {
			free(dom);
			return NULL;
		}
		key = xasprintf("nexthop:%s:%u", host, port);
	} else if (dom[0] == '[') {
		size_t n = strlen(dom);
		const char *ip = dom + 1;
		if (strncasecmp(ip, "IPv6:", 5) == 0)
			ip += 5;
		if (n < 3 || dom[n - 1] != ']') {
			*error_r = "bad address literal";
			free(dom);
			return NULL;
		}
		host = xstrndup(ip, (size_t)(dom + n - 1 - ip));
		key = xasprintf("literal:%s", host);
	} else if (dom[0] != '\0') {
		host = xstrdup(dom);
		key = xstrdup(dom);
		mx = true;
	} else {
		*error_r = "address without domain";
		free(dom);
		return NULL;
	}
	free(dom);
	for (struct qdest *d = s->dests; d != NULL; d = d->next) {
		if (strcmp(d->key, key) == 0) {
			free(key);
			free(host);
			return d;
		}
	}
	struct qdest *d = xcalloc(1, sizeof(*d));
	d->s = s;
	d->key = key;
	d->name = host;
	d->mx = mx;
	d->port = port;
	d->tailp = &d->head;
	d->next = s->dests;
	s->dests = d;
	return d;
}

/* dest_fail_waiting: every job still waiting for d gets this outcome. */
static void dest_fail_waiting(struct qdest *d, enum queue_rcpt_state st, const char *status,
                              const char *relay, const char *diag)
{
	struct qjob *j;
	while ((j = dest_pop(d)) != NULL)
		job_all(j, st, status, relay, diag);
}

static void on_route(const struct queue_route_result *r, void *ctx)
{
	struct qdest *d = ctx;
	d->route = NULL;
	if (r->status == QUEUE_ROUTE_OK) {
		free(d->targets);
		d->targets = xcalloc(r->ntargets, sizeof(*d->targets));
		memcpy(d->targets, r->targets, r->ntargets * sizeof(*d->targets));
		d->ntargets = r->ntargets;
		d->have_targets = true;
		d->resolved_at = time(NULL);
		dest_pump(d);
		return;
	}
	char t[2048];
	log_info("event=route_failed destination=%s status=%s error=\"%s\"", log_esc(d->key),
	         r->status == QUEUE_ROUTE_TEMPFAIL ? "deferred" : "bounced",
	         log_text(r->error, t, sizeof(t)));
	dest_fail_waiting(d, r->status == QUEUE_ROUTE_TEMPFAIL ? QR_DEFERRED : QR_FAILED,
	                  r->enhanced, NULL, r->error);
	dest_maybe_free(d);
}

static bool dns_ready(struct queue_sched *s)
{
	if (s->dns != NULL)
		return true;
	const char *err = NULL;
	s->dns = dns_create(s->base, &s->cfg->dns, &err);
	if (s->dns == NULL && !s->dns_failed) {
		log_warn("event=dns_error error=\"%s\"", log_esc(err));
		s->dns_failed = true;
	}
	return s->dns != NULL;
}

/* ---- connections ---- */

static void conn_free(struct qconn *c)
{
	struct queue_sched *s = c->dest->s;
	struct qdest *d = c->dest;
	smtp_client_destroy(&c->client);
	if (c->idle_timer != NULL)
		event_free(c->idle_timer);
	for (struct qconn **pp = &d->idle; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (c->aprev != NULL)
		c->aprev->anext = c->anext;
	else
		s->conns = c->anext;
	if (c->anext != NULL)
		c->anext->aprev = c->aprev;
	d->nconns--;
	s->nconns--;
	free(c->last_error);
	free(c);
}

/* conn_close: QUIT politely, free, and let others use the slot. */
static void conn_close(struct qconn *c, bool polite)
{
	struct qdest *d = c->dest;
	struct queue_sched *s = d->s;
	if (polite)
		smtp_client_quit(&c->client);
	conn_free(c);
	if (!s->stopping) {
		dest_pump(d);
		dest_maybe_free(d);
		pump_all(s);
	}
}

static void on_client(struct smtp_client *cl, enum smtp_client_event ev, void *ctx);

static void conn_connect(struct qconn *c)
{
	struct qdest *d = c->dest;
	const struct queue_target *t = &d->targets[c->target];
	const struct config_queue *qc = &d->s->cfg->queue;
	snprintf(c->relay, sizeof(c->relay), "%s[%s]:%u", t->host, t->ip, t->port);
	struct smtp_client_settings set = {
	    .helo = d->s->hostname,
	    .server_name = t->host,
	    .log_id = c->sid,
	    .tls = c->notls ? NULL : d->s->tls,
	    .connect_timeout = qc->connect_timeout,
	    .command_timeout = qc->command_timeout,
	    .data_timeout = qc->data_timeout,
	};
	c->ready = false;
	log_info("sid=%s event=connect relay=%s%s", c->sid, c->relay, c->notls ? " tls=no" : "");
	c->client = smtp_client_connect(d->s->base, (const struct sockaddr *)&t->ss, t->sslen, &set,
	                                on_client, c);
}

static struct qconn *conn_new(struct qdest *d)
{
	struct queue_sched *s = d->s;
	struct qconn *c = xcalloc(1, sizeof(*c));
	id_new(c->sid);
	c->dest = d;
	c->anext = s->conns;
	if (s->conns != NULL)
		s->conns->aprev = c;
	s->conns = c;
	d->nconns++;
	s->nconns++;
	return c;
}

/* msg_scan: size on the wire (LF counted as CRLF) and 8-bit content. */
static int msg_scan(struct qmsg *m, const char **error_r)
{
	if (m->scanned)
		return 0;
	int fd = open(m->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	char *b = xmalloc(64 * 1024);
	uint64_t pos = m->env.offset, size = 0;
	bool eight = false;
	for (;;) {
		ssize_t n = pread(fd, b, 64 * 1024, (off_t)pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = strerror(errno);
			free(b);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		pos += (uint64_t)n;
		size += (uint64_t)n;
		for (ssize_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)b[i];
			if (ch == '\n')
				size++;
			else if (ch >= 0x80)
				eight = true;
		}
	}
	free(b);
	close(fd);
	m->wire_size = size;
	m->eightbit = eight;
	m->scanned = true;
	return 0;
}

static void conn_next(struct qconn *c);

static void conn_run_job(struct qconn *c)
{
	struct qjob *j = c->job;
	struct qmsg *m = j->m;
	const char *err = NULL;
	char diag[600];
	if (m->deleted) {
		c->job = NULL;
		job_free(j);
		msg_release(m);
		conn_next(c);
		return;
	}
	if (msg_scan(m, &err) < 0) {
		c->job = NULL;
		snprintf(diag, sizeof(diag), "cannot read the queue file: %s", err);
		job_all(j, QR_DEFERRED, "4.3.0", NULL, diag);
		conn_next(c);
		return;
	}
	uint64_t max = smtp_client_max_size(c->client);
	if (max > 0 && m->wire_size > max) {
		c->job = NULL;
		snprintf(diag, sizeof(diag),
		         "message size %llu exceeds size limit %llu of server %s",
		         (unsigned long long)m->wire_size, (unsigned long long)max, c->relay);
		job_all(j, QR_FAILED, "5.3.4", c->relay, diag);
		conn_next(c);
		return;
	}
	bool utf8 = queue_address_is_utf8(m->env.sender);
	for (unsigned k = 0; k < j->n && !utf8; k++)
		utf8 = queue_address_is_utf8(j->addrs[k]);
	if (utf8 && !(smtp_client_caps(c->client) & SMTP_CAP_SMTPUTF8)) {
		c->job = NULL;
		snprintf(diag, sizeof(diag), "SMTPUTF8 is required, but was not offered by host %s",
		         c->relay);
		job_all(j, QR_FAILED, "5.6.7", c->relay, diag);
		conn_next(c);
		return;
	}
	j->fd = open(m->path, O_RDONLY | O_CLOEXEC);
	if (j->fd < 0) {
		c->job = NULL;
		snprintf(diag, sizeof(diag), "cannot open the queue file: %s", strerror(errno));
		job_all(j, QR_DEFERRED, "4.3.0", NULL, diag);
		conn_next(c);
		return;
	}
	if (j->replies == NULL)
		j->replies = xcalloc(j->n, sizeof(*j->replies));
	j->tx.sender = m->env.sender;
	j->tx.rcpts = (const char *const *)j->addrs;
	j->tx.nrcpts = j->n;
	j->tx.fd = j->fd;
	j->tx.offset = m->env.offset;
	j->tx.size = m->wire_size;
	j->tx.eightbit = m->eightbit;
	j->tx.smtputf8 = utf8;
	j->tx.rcpt = j->replies;
	if (smtp_client_send(c->client, &j->tx) < 0) {
		/* not ready after all: the job waits for another connection */
		c->job = NULL;
		close(j->fd);
		j->fd = -1;
		dest_push(c->dest, j, true);
		conn_close(c, false);
	}
}

static void on_idle_timer(evutil_socket_t fd, short what, void *arg)
{
	struct qconn *c = arg;
	(void)fd;
	(void)what;
	conn_close(c, true);
}

/* conn_next: after a transaction: the next job, or wait idle, or quit. */
static void conn_next(struct qconn *c)
{
	struct qdest *d = c->dest;
	struct queue_sched *s = d->s;
	if (s->stopping) {
		conn_free(c);
		return;
	}
	if (c->ntx >= REUSE_MAX) {
		conn_close(c, true);
		return;
	}
	struct qjob *j = dest_pop(d);
	if (j != NULL) {
		c->job = j;
		log_debug("sid=%s qid=%s event=reuse relay=%s", c->sid, j->m->env.qid, c->relay);
		conn_run_job(c);
		return;
	}
	if (s->cfg->queue.connection_cache_time == 0) {
		conn_close(c, true);
		return;
	}
	c->next = d->idle;
	d->idle = c;
	if (c->idle_timer == NULL)
		c->idle_timer = evtimer_new(s->base, on_idle_timer, c);
	struct timeval tv = {(time_t)s->cfg->queue.connection_cache_time, 0};
	evtimer_add(c->idle_timer, &tv);
}

/* job_results: the replies of a transaction (maybe cut short by a failure
 * with text ftext) as outcomes. */
static void job_results(struct qconn *c, struct qjob *j, const char *ftext)
{
	struct qmsg *m = j->m;
	const struct smtp_client_tx *tx = &j->tx;
	for (unsigned k = 0; k < j->n; k++) {
		unsigned i = j->idx[k];
		const struct smtp_client_reply *rc = &j->replies[k];
		if (tx->mail.code != 0 && tx->mail.code / 100 != 2)
			outcome_reply(m, i, &tx->mail, c->relay);
		else if (rc->code != 0 && rc->code / 100 != 2)
			outcome_reply(m, i, rc, c->relay);
		else if (rc->code / 100 == 2 && tx->data.code != 0)
			outcome_reply(m, i, &tx->data, c->relay);
		else
			outcome(m, i, QR_DEFERRED, "4.4.2", c->relay,
			        ftext != NULL ? ftext : "no reply from the server");
	}
	job_end(j);
}

/* conn_failed: the session at the current target ended badly. */
static void conn_failed(struct qconn *c)
{
	struct qdest *d = c->dest;
	struct smtp_client_failure f;
	smtp_client_failure(c->client, &f);
	char status[16], derived[16];
	const char *diag = f.reply != NULL && f.reply->text != NULL ? f.reply->text : f.text;
	snprintf(status, sizeof(status), "%s",
	         f.reply != NULL ? derive_status(f.reply->code, f.reply->enhanced, derived)
	                         : "4.4.1");
	if (f.reply != NULL && f.reply->code / 100 == 5)
		status[0] = '4'; /* a session refused before MAIL: try later, or elsewhere */
	free(c->last_error);
	c->last_error = xstrdup(diag);
	snprintf(c->last_status, sizeof(c->last_status), "%s", status);
	char t[2048];
	log_info("sid=%s event=session_failed relay=%s error=\"%s\"", c->sid, c->relay,
	         log_text(f.text, t, sizeof(t)));

	struct qjob *j = c->job;
	if (j == NULL) { /* an idle connection went away */
		conn_close(c, false);
		return;
	}
	if (c->ready) {
		c->job = NULL;
		bool nothing = j->tx.mail.code == 0;
		if (nothing && c->ntx > 0) {
			/* a reused connection had gone stale: not the message's fault */
			close(j->fd);
			j->fd = -1;
			dest_push(d, j, true);
		} else {
			job_results(c, j, f.text);
		}
		conn_close(c, false);
		return;
	}
	/* not established: next target (or the same in plain text) */
	smtp_client_destroy(&c->client);
	if (f.tls && !c->notls) {
		c->notls = true;
		conn_connect(c);
		return;
	}
	c->notls = false;
	if (++c->target < d->ntargets) {
		conn_connect(c);
		return;
	}
	/* every target failed: this job and those waiting are deferred */
	c->job = NULL;
	char relay[sizeof(c->relay)];
	snprintf(relay, sizeof(relay), "%s", c->relay);
	char *err = xstrdup(c->last_error);
	job_all(j, QR_DEFERRED, c->last_status, relay, err);
	if (d->nconns == 1)
		d->have_targets = false; /* ask DNS again next time */
	dest_fail_waiting(d, QR_DEFERRED, c->last_status, relay, err);
	free(err);
	conn_close(c, false);
}

static void on_client(struct smtp_client *cl, enum smtp_client_event ev, void *ctx)
{
	struct qconn *c = ctx;
	(void)cl;
	switch (ev) {
	case SMTP_CLIENT_READY: {
		c->ready = true;
		const char *tls = smtp_client_tls(c->client);
		log_info("sid=%s event=ready relay=%s tls=%s", c->sid, c->relay,
		         tls ? "yes" : "no");
		if (c->job != NULL)
			conn_run_job(c);
		else
			conn_next(c);
		return;
	}
	case SMTP_CLIENT_TX_DONE: {
		struct qjob *j = c->job;
		c->job = NULL;
		c->ntx++;
		if (j != NULL)
			job_results(c, j, NULL);
		conn_next(c);
		return;
	}
	case SMTP_CLIENT_FAILED:
		conn_failed(c);
		return;
	}
}

/* close_one_idle: free a connection slot held by an idle connection. */
static bool close_one_idle(struct queue_sched *s)
{
	for (struct qdest *d = s->dests; d != NULL; d = d->next) {
		if (d->idle != NULL) {
			struct qconn *c = d->idle;
			d->idle = c->next;
			smtp_client_quit(&c->client);
			conn_free(c);
			return true;
		}
	}
	return false;
}

static void dest_pump(struct qdest *d)
{
	struct queue_sched *s = d->s;
	if (s->stopping)
		return;
	while (d->head != NULL && d->idle != NULL) {
		struct qconn *c = d->idle;
		d->idle = c->next;
		evtimer_del(c->idle_timer);
		c->job = dest_pop(d);
		log_debug("sid=%s qid=%s event=reuse relay=%s", c->sid, c->job->m->env.qid,
		          c->relay);
		conn_run_job(c);
	}
	if (d->head == NULL)
		return;
	if (d->have_targets && d->nconns == 0 && time(NULL) - d->resolved_at > ROUTE_TTL)
		d->have_targets = false;
	if (!d->have_targets) {
		if (d->route != NULL)
			return;
		if ((d->mx || !queue_host_is_literal(d->name)) && !dns_ready(s)) {
			dest_fail_waiting(d, QR_DEFERRED, "4.4.3", NULL,
			                  "the resolver is not available");
			return;
		}
		d->route = queue_route_start(s->base, s->dns, d->name, d->mx, d->port, on_route, d);
		return;
	}
	while (d->head != NULL && d->nconns < s->cfg->queue.destination_concurrency_limit) {
		if (s->nconns >= s->cfg->queue.concurrency_limit && !close_one_idle(s))
			break;
		struct qconn *c = conn_new(d);
		c->job = dest_pop(d);
		conn_connect(c);
	}
}

static void pump_all(struct queue_sched *s)
{
	if (s->nconns >= s->cfg->queue.concurrency_limit)
		return;
	for (struct qdest *d = s->dests; d != NULL; d = d->next)
		if (d->head != NULL && d->route == NULL)
			dest_pump(d);
}

/* ---- local delivery ---- */

static void on_local_done(void *arg)
{
	struct queue_local_job *j = arg;
	struct qmsg *m = j->owner;
	for (unsigned k = 0; k < j->n; k++) {
		struct queue_local_rcpt *r = &j->r[k];
		if (r->idx < m->nrw)
			m->rw[r->idx].busy = false;
		if (r->status == 0) {
			char d[600];
			snprintf(d, sizeof(d), "delivered to maildir %s", r->path);
			outcome(m, r->idx, QR_SENT, "2.0.0", "local", d);
		} else if (r->status > 0) {
			outcome(m, r->idx, QR_FAILED, "5.2.2", "local", r->error);
		} else {
			outcome(m, r->idx, QR_DEFERRED, "4.3.0", "local", r->error);
		}
	}
	queue_local_job_free(j);
	msg_store(m);
	msg_release(m);
}

/* ---- an attempt ---- */

static void lookup_unlink(struct queue_sched *s, struct qlookup *l)
{
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		s->lookups = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
}

static void expand(struct qmsg *m, unsigned i, const struct lookup_reply *r)
{
	unsigned depth = m->env.rcpts[i].depth + 1;
	if (depth > QUEUE_MAX_DEPTH || m->env.nrcpts + r->ndest > QUEUE_ENV_RCPTS) {
		outcome(m, i, QR_FAILED, "5.4.6", "local",
		        "mail forwarding loop or too many aliases");
		return;
	}
	unsigned added = 0;
	for (unsigned k = 0; k < r->ndest; k++) {
		const char *dst = r->dest[k];
		bool dup = false;
		for (unsigned x = 0; x < m->env.nrcpts && !dup; x++)
			dup = strcasecmp(m->env.rcpts[x].address, dst) == 0 &&
			      m->env.rcpts[x].state != QR_EXPANDED;
		if (dup || strchr(dst, '\n') != NULL || dst[0] == '\0')
			continue;
		queue_env_add_rcpt(&m->env, dst, depth);
		added++;
	}
	rw_grow(m);
	char d[100];
	snprintf(d, sizeof(d), "alias expanded to %u address(es)", added);
	outcome(m, i, QR_EXPANDED, NULL, "local", d);
}

static void on_lookup(const struct lookup_reply *r, void *ctx)
{
	struct qlookup *l = ctx;
	struct qmsg *m = l->m;
	unsigned i = l->idx;
	lookup_unlink(m->s, l);
	free(l);
	if (m->deleted) {
		msg_release(m);
		return;
	}
	if (r->status != LOOKUP_OK) {
		char d[300];
		snprintf(d, sizeof(d), "lookup failed: %s",
		         r->error ? r->error : "temporary failure");
		outcome(m, i, QR_DEFERRED, "4.3.0", NULL, d);
	} else {
		switch (r->kind) {
		case DIR_RCPT_ACCOUNT:
			m->rw[i].cls = RC_LOCAL;
			m->rw[i].quota_mb = r->quota_mb;
			free(m->rw[i].mailbox);
			m->rw[i].mailbox =
			    xstrdup(r->address ? r->address : m->env.rcpts[i].address);
			break;
		case DIR_RCPT_ALIAS:
		case DIR_RCPT_CATCHALL:
			expand(m, i, r);
			break;
		case DIR_RCPT_SENDONLY:
			outcome(m, i, QR_FAILED, "5.7.1", "local",
			        "Recipient address rejected: this account does not receive mail");
			break;
		case DIR_RCPT_DISABLED:
		case DIR_RCPT_UNKNOWN:
			outcome(
			    m, i, QR_FAILED, "5.1.1", "local",
			    "Recipient address rejected: User unknown in virtual mailbox table");
			break;
		case DIR_RCPT_NODOMAIN:
			m->rw[i].cls = RC_REMOTE;
			break;
		}
	}
	if (m->outstanding == 1) {
		/* the last answer: ask about what expansions added, or go on */
		msg_resolve(m);
	}
	msg_release(m);
}

static bool rcpt_todo(const struct qmsg *m, unsigned i)
{
	enum queue_rcpt_state st = m->env.rcpts[i].state;
	return st == QR_PENDING || st == QR_DEFERRED;
}

/* msg_dispatch: every recipient is classified: start the jobs. */
static void msg_dispatch(struct qmsg *m)
{
	struct queue_sched *s = m->s;
	msg_store(m); /* expansions and local failures */
	/* local */
	unsigned nlocal = 0;
	for (unsigned i = 0; i < m->nrw; i++)
		if (m->rw[i].cls == RC_LOCAL && !m->rw[i].busy)
			nlocal++;
	if (nlocal > 0) {
		struct queue_local_job *j = xcalloc(1, sizeof(*j));
		j->cfg = s->cfg;
		snprintf(j->qid, sizeof(j->qid), "%s", m->env.qid);
		j->msg_path = xstrdup(m->path);
		j->offset = m->env.offset;
		j->sender = xstrdup(m->env.sender);
		j->incoming = xstrdup(s->dirs.incoming);
		j->r = xcalloc(nlocal, sizeof(*j->r));
		j->owner = m;
		for (unsigned i = 0; i < m->nrw; i++) {
			if (m->rw[i].cls != RC_LOCAL || m->rw[i].busy)
				continue;
			struct queue_local_rcpt *r = &j->r[j->n++];
			r->idx = i;
			r->mailbox = xstrdup(m->rw[i].mailbox);
			r->quota_mb = m->rw[i].quota_mb;
			m->rw[i].busy = true;
		}
		m->outstanding++;
		pool_submit(s->pool, queue_local_work, on_local_done, j);
	}
	/* remote, grouped by destination (each looked up once) */
	struct qdest **dst = xcalloc(m->nrw > 0 ? m->nrw : 1, sizeof(*dst));
	for (unsigned i = 0; i < m->nrw; i++) {
		if (m->rw[i].cls != RC_REMOTE || m->rw[i].busy)
			continue;
		const char *err = NULL;
		dst[i] = dest_for(s, m->env.rcpts[i].address, &err);
		if (dst[i] == NULL)
			outcome(m, i, QR_FAILED, "5.1.2", NULL, err);
	}
	for (unsigned i = 0; i < m->nrw; i++) {
		if (dst[i] == NULL || m->rw[i].busy)
			continue;
		struct qdest *d = dst[i];
		struct qjob *j = xcalloc(1, sizeof(*j));
		j->m = m;
		j->dest = d;
		j->fd = -1;
		j->idx = xcalloc(JOB_RCPTS_MAX, sizeof(unsigned));
		j->addrs = xcalloc(JOB_RCPTS_MAX, sizeof(char *));
		for (unsigned k = i; k < m->nrw && j->n < JOB_RCPTS_MAX; k++) {
			if (dst[k] != d || m->rw[k].busy)
				continue;
			j->idx[j->n] = k;
			j->addrs[j->n] = xstrdup(m->env.rcpts[k].address);
			j->n++;
			m->rw[k].busy = true;
		}
		m->outstanding++;
		dest_push(d, j, false);
	}
	free(dst);
	for (struct qdest *d = s->dests; d != NULL; d = d->next)
		if (d->head != NULL)
			dest_pump(d);
}

/* msg_resolve: ask about every recipient not asked yet in this attempt;
 * when none is left to ask, dispatch. */
static void msg_resolve(struct qmsg *m)
{
	struct queue_sched *s = m->s;
	unsigned asked = 0;
	rw_grow(m);
	for (unsigned i = 0; i < m->env.nrcpts; i++) {
		if (!rcpt_todo(m, i) || m->rw[i].cls != RC_NONE)
			continue;
		struct qlookup *l = xcalloc(1, sizeof(*l));
		l->m = m;
		l->idx = i;
		l->next = s->lookups;
		if (s->lookups != NULL)
			s->lookups->prev = l;
		s->lookups = l;
		m->rw[i].cls = RC_ASKED;
		m->outstanding++;
		asked++;
		l->id = lookup_rcpt(s->lookup, m->env.rcpts[i].address, on_lookup, l);
	}
	if (asked == 0) {
		m->outstanding++; /* hold the attempt open while jobs start */
		msg_dispatch(m);
		msg_release(m);
	}
}

static void msg_attempt(struct qmsg *m)
{
	struct queue_sched *s = m->s;
	m->active = true;
	m->expired = false;
	s->nactive++;
	rw_reset(m);
	m->outstanding = 1; /* the attempt itself, released below */
	msg_resolve(m);
	msg_release(m);
}

/* postmaster: where reports about failed reports go. */
static char *postmaster(const struct queue_sched *s)
{
	if (s->cfg->mail.postmaster[0] != '\0')
		return xstrdup(s->cfg->mail.postmaster);
	return xasprintf("postmaster@%s", s->hostname);
}

/*
 * msg_notify: the failed recipients get their report (or are dropped
 * when no report may be sent). 0, or -1 when the report could not be
 * queued (the recipients stay failed and are tried again).
 */
static int msg_notify(struct qmsg *m)
{
	struct queue_sched *s = m->s;
	unsigned nfailed = 0;
	for (unsigned i = 0; i < m->env.nrcpts; i++)
		if (m->env.rcpts[i].state == QR_FAILED)
			nfailed++;
	if (nfailed == 0)
		return 0;
	char *to = NULL;
	enum queue_kind kind = QUEUE_KIND_BOUNCE;
	if (m->env.kind == QUEUE_KIND_NORMAL && m->env.sender[0] != '\0') {
		to = xstrdup(m->env.sender);
	} else if (m->env.kind == QUEUE_KIND_BOUNCE) {
		to = postmaster(s);
		kind = QUEUE_KIND_DOUBLE;
	}
	if (to == NULL) {
		for (unsigned i = 0; i < m->env.nrcpts; i++) {
			struct queue_rcpt *r = &m->env.rcpts[i];
			if (r->state != QR_FAILED)
				continue;
			r->state = QR_BOUNCED;
			log_info("qid=%s event=bounce_dropped to=<%s> kind=%s reason=\"%s\"",
			         m->env.qid, log_esc(r->address), queue_kind_name(m->env.kind),
			         m->env.kind == QUEUE_KIND_NORMAL ? "null sender: no report is sent"
			                                          : "the report itself failed");
		}
		return 0;
	}
	struct queue_env env;
	memset(&env, 0, sizeof(env));
	char qid[ID_LEN];
	id_new(qid);
	snprintf(env.qid, sizeof(env.qid), "%s", qid);
	env.arrival = time(NULL);
	env.sender = xstrdup("");
	env.kind = kind;
	queue_env_add_rcpt(&env, to, 0);
	struct queue_dsn in = {
	    .orig = &m->env,
	    .orig_msg_path = m->path,
	    .reporting_mta = s->hostname,
	    .to = to,
	    .qid = qid,
	    .expired = m->expired,
	    .now = env.arrival,
	};
	struct buf b = BUF_INIT;
	queue_dsn_compose(&in, &b, &env.offset);
	char *err = NULL;
	int ret = queue_spool_create(&s->dirs, b.data, b.len, &env, &err);
	buf_free(&b);
	if (ret < 0) {
		log_error("qid=%s event=bounce_error error=\"%s\"", m->env.qid, log_esc(err));
		free(err);
		queue_env_free(&env);
		free(to);
		return -1;
	}
	log_info("qid=%s event=bounce bounce_qid=%s to=<%s> nrcpt=%u", m->env.qid, qid, log_esc(to),
	         nfailed);
	log_info("qid=%s event=queued from=<> nrcpt=1 kind=%s orig_qid=%s", qid,
	         queue_kind_name(kind), m->env.qid);
	for (unsigned i = 0; i < m->env.nrcpts; i++)
		if (m->env.rcpts[i].state == QR_FAILED)
			m->env.rcpts[i].state = QR_BOUNCED;
	msg_add(s, &env)->arrived = now_secs(); /* takes env */
	free(to);
	return 0;
}

static unsigned backoff(const struct queue_sched *s, unsigned tries)
{
	unsigned minb = s->cfg->queue.minimal_backoff_time;
	unsigned maxb = s->cfg->queue.maximal_backoff_time;
	if (minb == 0)
		minb = 1;
	if (maxb < minb)
		maxb = minb;
	unsigned d = minb;
	for (unsigned k = 1; k < tries && d < maxb; k++)
		d = d > maxb / 2 ? maxb : d * 2;
	return d < maxb ? d : maxb;
}

static void msg_attempt_end(struct qmsg *m)
{
	struct queue_sched *s = m->s;
	time_t now = time(NULL);
	time_t end = m->env.arrival + (time_t)lifetime_of(s, m);
	/* lifetime over: deferred recipients fail */
	for (unsigned i = 0; i < m->env.nrcpts; i++) {
		struct queue_rcpt *r = &m->env.rcpts[i];
		if ((r->state != QR_DEFERRED && r->state != QR_PENDING) || now < end)
			continue;
		if (r->state == QR_PENDING && r->tries == 0)
			continue; /* never tried (added by an expansion just now) */
		char d[QUEUE_DIAG_MAX + 64];
		snprintf(d, sizeof(d), "%s", r->diag ? r->diag : "delivery time expired");
		char st[16];
		snprintf(st, sizeof(st), "%s", r->status[0] == '4' ? r->status : "4.4.7");
		r->state = QR_FAILED;
		m->expired = true;
		char t[2048];
		log_info("qid=%s event=expired to=<%s> relay=%s delay=%.1f tries=%u dsn=%s "
		         "status=bounced reason=\"message delivery time expired: %s\"",
		         m->env.qid, log_esc(r->address), r->relay ? r->relay : "none",
		         now_secs() - m->arrived, r->tries, st, log_text(d, t, sizeof(t)));
		snprintf(r->status, sizeof(r->status), "%s", st);
	}
	int nret = msg_notify(m);
	bool all_done = true, retry_failed = nret < 0;
	unsigned tries = 0;
	bool pending_new = false;
	for (unsigned i = 0; i < m->env.nrcpts; i++) {
		const struct queue_rcpt *r = &m->env.rcpts[i];
		if (!queue_rcpt_done(r->state))
			all_done = false;
		if (r->state == QR_DEFERRED && r->tries > tries)
			tries = r->tries;
		if (r->state == QR_PENDING)
			pending_new = true;
	}
	m->active = false;
	s->nactive--;
	if (all_done) {
		char *err = NULL;
		if (queue_spool_remove(&s->dirs, m->env.qid, &err) < 0) {
			log_error("qid=%s event=remove_error error=\"%s\"", m->env.qid,
			          log_esc(err));
			free(err);
		}
		log_info("qid=%s event=removed", m->env.qid);
		msg_free(m);
		sched_rearm(s);
		return;
	}
	(void)retry_failed; /* a report that could not be queued waits like a deferral */
	time_t next = now + (time_t)backoff(s, tries > 0 ? tries : 1);
	if (pending_new)
		next = now + 1;
	if (next > end && end > now)
		next = end;
	m->next_try = next;
	for (unsigned i = 0; i < m->env.nrcpts; i++)
		if (m->env.rcpts[i].state == QR_DEFERRED)
			m->env.rcpts[i].next = next;
	msg_store(m);
	sched_rearm(s);
}

/* ---- timers and the message list ---- */

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct queue_sched *s = arg;
	(void)fd;
	(void)what;
	time_t now = time(NULL);
	/* attempts can end at once and free other messages: pick by qid */
	char(*due)[QUEUE_QID_MAX + 1] = NULL;
	unsigned n = 0;
	for (struct qmsg *m = s->msgs; m != NULL && n < ACTIVE_MAX; m = m->next) {
		if (!m->active && !m->deleted && !m->env.hold && m->next_try <= now) {
			due = xreallocarray(due, n + 1, sizeof(*due));
			memcpy(due[n++], m->env.qid, sizeof(due[0]));
		}
	}
	for (unsigned i = 0; i < n && s->nactive < ACTIVE_MAX; i++) {
		struct qmsg *m = msg_find(s, due[i]);
		if (m != NULL && !m->active && !m->deleted && !m->env.hold)
			msg_attempt(m);
	}
	free(due);
	sched_rearm(s);
}

static void sched_rearm(struct queue_sched *s)
{
	if (!s->started || s->stopping)
		return;
	bool any = false;
	time_t first = 0;
	for (struct qmsg *m = s->msgs; m != NULL; m = m->next) {
		if (m->active || m->deleted || m->env.hold)
			continue;
		if (!any || m->next_try < first)
			first = m->next_try;
		any = true;
	}
	evtimer_del(s->timer);
	if (!any || s->nactive >= ACTIVE_MAX)
		return; /* an attempt that ends rearms */
	time_t now = time(NULL);
	struct timeval tv = {first > now ? first - now : 0, first > now ? 0 : 1000};
	evtimer_add(s->timer, &tv);
}

/* msg_add: a message into the scheduler; takes env (zeroed). */
static struct qmsg *msg_add(struct queue_sched *s, struct queue_env *env)
{
	struct qmsg *m = xcalloc(1, sizeof(*m));
	m->s = s;
	m->env = *env;
	memset(env, 0, sizeof(*env));
	m->path = queue_msg_path(&s->dirs, m->env.qid);
	m->arrived = (double)m->env.arrival;
	time_t now = time(NULL), next = 0;
	bool any = false;
	for (unsigned i = 0; i < m->env.nrcpts; i++) {
		const struct queue_rcpt *r = &m->env.rcpts[i];
		time_t t = r->state == QR_DEFERRED ? r->next : now;
		if (queue_rcpt_done(r->state))
			continue;
		if (!any || t < next)
			next = t;
		any = true;
	}
	m->next_try = any ? next : now;
	m->next = s->msgs;
	if (s->msgs != NULL)
		s->msgs->prev = m;
	s->msgs = m;
	unsigned h = qid_hash(m->env.qid);
	m->hnext = s->hash[h];
	s->hash[h] = m;
	s->nmsgs++;
	sched_rearm(s);
	return m;
}

/* scan: every envelope of env/ not known yet. */
static void scan(struct queue_sched *s, bool at_start)
{
	DIR *dir = opendir(s->dirs.env);
	if (dir == NULL) {
		log_error("event=scan_error dir=%s error=\"%s\"", s->dirs.env, strerror(errno));
		return;
	}
	struct dirent *de;
	unsigned added = 0;
	while ((de = readdir(dir)) != NULL) {
		const char *n = de->d_name;
		if (n[0] == '.') {
			size_t len = strlen(n);
			if (at_start && len > 5 && strcmp(n + len - 4, ".tmp") == 0)
				unlinkat(dirfd(dir), n, 0); /* an envelope update a crash cut */
			continue;
		}
		if (!queue_qid_valid(n) || msg_find(s, n) != NULL)
			continue;
		struct queue_env env;
		char *err = NULL;
		int r = queue_env_load(&s->dirs, n, &env, &err);
		if (r <= 0) {
			if (r < 0) {
				log_error("qid=%s event=envelope_error error=\"%s\"", n,
				          log_esc(err));
				free(err);
			}
			continue;
		}
		char *path = queue_msg_path(&s->dirs, n);
		struct stat st;
		if (stat(path, &st) < 0) {
			log_error("qid=%s event=envelope_error error=\"message file missing: %s\"",
			          n, strerror(errno));
			queue_env_free(&env);
			free(path);
			queue_spool_remove(&s->dirs, n, &err);
			free(err);
			continue;
		}
		free(path);
		msg_add(s, &env);
		added++;
	}
	closedir(dir);
	if (at_start) {
		/* message files without an envelope: a removal a crash cut */
		dir = opendir(s->dirs.msg);
		while (dir != NULL && (de = readdir(dir)) != NULL) {
			if (de->d_name[0] != '.' && queue_qid_valid(de->d_name) &&
			    msg_find(s, de->d_name) == NULL) {
				char *envp = xasprintf("%s/%s", s->dirs.env, de->d_name);
				if (access(envp, F_OK) < 0 && errno == ENOENT)
					unlinkat(dirfd(dir), de->d_name, 0);
				free(envp);
			}
		}
		if (dir != NULL)
			closedir(dir);
	}
	if (added > 0) /* quiet when there is nothing: a start logs little */
		log_info("event=queue_scan messages=%u new=%u", s->nmsgs, added);
}

static void on_scan_timer(evutil_socket_t fd, short what, void *arg)
{
	struct queue_sched *s = arg;
	(void)fd;
	(void)what;
	scan(s, false);
	sched_rearm(s);
}

/* ---- public ---- */

struct queue_sched *queue_sched_create(struct event_base *base, const struct config *cfg,
                                       const char **error_r)
{
	struct queue_sched *s = xcalloc(1, sizeof(*s));
	s->base = base;
	s->cfg = cfg;
	queue_dirs_init(&s->dirs, cfg->server.state_dir);
	if (cfg->server.hostname != NULL && cfg->server.hostname[0] != '\0') {
		s->hostname = xstrdup(cfg->server.hostname);
	} else {
		char h[256] = "localhost";
		gethostname(h, sizeof(h) - 1);
		h[255] = '\0';
		s->hostname = xstrdup(h);
	}
	s->lookup_path = xasprintf("%s/run/lookup.sock", cfg->server.state_dir);
	s->lookup = lookup_client_create(base, s->lookup_path, (cfg->directory.timeout + 1) * 1000);
	s->pool = pool_create(base, LOCAL_THREADS);
	if (cfg->queue.starttls) {
		s->tls = smtp_client_tls_ctx(error_r);
		if (s->tls == NULL) {
			queue_sched_destroy(&s);
			return NULL;
		}
	}
	s->timer = evtimer_new(base, on_timer, s);
	s->scan_timer = event_new(base, -1, EV_PERSIST, on_scan_timer, s);
	s->gc_ev = event_new(base, -1, 0, on_gc, s);
	return s;
}

void queue_sched_start(struct queue_sched *s)
{
	s->started = true;
	scan(s, true);
	unsigned d = s->cfg->queue.queue_run_delay > 0 ? s->cfg->queue.queue_run_delay : 300;
	struct timeval tv = {(time_t)d, 0};
	event_add(s->scan_timer, &tv);
	sched_rearm(s);
}

const struct queue_dirs *queue_sched_dirs(const struct queue_sched *s)
{
	return &s->dirs;
}

void queue_sched_destroy(struct queue_sched **sp)
{
	struct queue_sched *s = *sp;
	if (s == NULL)
		return;
	*sp = NULL;
	s->stopping = true;
	/* connections: what is in flight is tried again by the next process */
	while (s->conns != NULL) {
		struct qconn *c = s->conns;
		if (c->job != NULL)
			job_free(c->job);
		c->job = NULL;
		conn_free(c);
	}
	for (struct qdest *d = s->dests; d != NULL;) {
		struct qdest *next = d->next;
		queue_route_cancel(&d->route);
		struct qjob *j;
		while ((j = dest_pop(d)) != NULL)
			job_free(j);
		dest_free(d);
		d = next;
	}
	s->dests = NULL;
	lookup_client_destroy(&s->lookup); /* drops answers still due */
	while (s->lookups != NULL) {
		struct qlookup *l = s->lookups;
		s->lookups = l->next;
		free(l);
	}
	if (s->pool != NULL)
		pool_destroy(&s->pool); /* local deliveries finish and are recorded */
	if (s->dns != NULL)
		dns_destroy(&s->dns);
	while (s->msgs != NULL) {
		s->msgs->active = false;
		msg_free(s->msgs);
	}
	smtp_client_reap();
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->scan_timer != NULL)
		event_free(s->scan_timer);
	if (s->gc_ev != NULL)
		event_free(s->gc_ev);
	SSL_CTX_free(s->tls);
	queue_dirs_free(&s->dirs);
	free(s->hostname);
	free(s->lookup_path);
	free(s);
}

int queue_sched_submit(struct queue_sched *s, const char *qid, const char *spool, uint64_t offset,
                       const char *sender, const char *const *rcpts, unsigned n, char **error_r)
{
	if (msg_find(s, qid) != NULL) {
		*error_r = xasprintf("queue id %s is queued already", qid);
		return -1;
	}
	struct queue_env env;
	memset(&env, 0, sizeof(env));
	snprintf(env.qid, sizeof(env.qid), "%s", qid);
	env.arrival = time(NULL);
	env.offset = offset;
	env.sender = xstrdup(sender);
	for (unsigned i = 0; i < n; i++)
		queue_env_add_rcpt(&env, rcpts[i], 0);
	double arrived = now_secs();
	if (queue_spool_commit(&s->dirs, spool, &env, error_r) < 0) {
		queue_env_free(&env);
		return -1;
	}
	msg_add(s, &env)->arrived = arrived;
	return 0;
}

void queue_sched_flush(struct queue_sched *s)
{
	time_t now = time(NULL);
	unsigned n = 0;
	for (struct qmsg *m = s->msgs; m != NULL; m = m->next) {
		if (!m->active && !m->env.hold && !m->deleted) {
			m->next_try = now;
			n++;
		}
	}
	for (struct qdest *d = s->dests; d != NULL; d = d->next)
		if (d->nconns == 0)
			d->have_targets = false;
	log_info("event=flush messages=%u", n);
	sched_rearm(s);
}

int queue_sched_delete(struct queue_sched *s, const char *qid, char **error_r)
{
	struct qmsg *m = msg_find(s, qid);
	if (m == NULL || m->deleted)
		return 0;
	if (queue_spool_remove(&s->dirs, qid, error_r) < 0)
		return -1;
	log_info("qid=%s event=deleted by=admin", qid);
	m->deleted = true;
	if (!m->active) {
		msg_free(m);
		sched_rearm(s);
	}
	return 1;
}

int queue_sched_hold(struct queue_sched *s, const char *qid, bool hold, char **error_r)
{
	struct qmsg *m = msg_find(s, qid);
	if (m == NULL || m->deleted)
		return 0;
	bool was = m->env.hold;
	m->env.hold = hold;
	if (queue_env_store(&s->dirs, &m->env, error_r) < 0) {
		m->env.hold = was;
		return -1;
	}
	log_info("qid=%s event=%s", qid, hold ? "hold" : "release");
	if (!hold)
		m->next_try = time(NULL);
	sched_rearm(s);
	return 1;
}
