/*
 * lookup-server.c - the lookup process (see lookup.h).
 *
 * The main thread runs the event loop: it accepts clients on the lookup
 * socket, decodes requests, answers from the cache when it can, and
 * otherwise queues a job. [directory] threads threads, each with its own
 * struct dir, take jobs, run the queries (and password verification),
 * and hand the encoded reply back through a done-queue and an eventfd.
 *
 * Bounded waiting: a job that waited in the queue longer than the
 * timeout is answered as a temporary failure without touching the
 * database. While the database is down only one thread at a time probes
 * it; the others answer temporary failure at once. The outage is logged
 * once when it starts and once when it ends.
 */
#include "directory/lookup.h"
#include "directory/password.h"
#include "core/log.h"
#include "core/signals.h"
#include "core/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define CACHE_MAX_ENTRIES 65536
#define CACHE_BUCKETS	  16384

struct client {
	struct client *next;
	uint64_t serial;
	struct ipc_conn *conn;
};

struct job {
	struct job *next;
	uint64_t client_serial;
	uint32_t req_id;
	enum lookup_type type;
	char *a, *b;	 /* arguments, lower-cased where they are addresses */
	char *cache_key; /* NULL: not cacheable */
	struct timespec enqueued;
	struct ipc_msg reply;
	bool cacheable_reply;
};

struct cache_entry {
	struct cache_entry *next;
	char *key;
	time_t expires;
	struct buf payload; /* reply payload, header excluded */
};

static struct server {
	const struct config *cfg;
	struct event_base *base;
	struct evconnlistener *listener;
	struct client *clients;
	uint64_t next_serial;

	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct job *queue_head, *queue_tail;
	struct job *done;
	bool stopping;
	int efd;
	struct event *efd_ev;
	pthread_t *threads;
	unsigned nthreads;

	atomic_bool db_down;
	atomic_bool probing;
	atomic_llong down_since;

	struct cache_entry *cache[CACHE_BUCKETS];
	unsigned cache_entries;
} S;

/* ---- cache (main thread only) ---- */

static unsigned hash_key(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % CACHE_BUCKETS;
}

static void cache_clear(void)
{
	for (unsigned i = 0; i < CACHE_BUCKETS; i++) {
		while (S.cache[i] != NULL) {
			struct cache_entry *e = S.cache[i];
			S.cache[i] = e->next;
			free(e->key);
			buf_free(&e->payload);
			free(e);
		}
	}
	S.cache_entries = 0;
}

static struct cache_entry *cache_get(const char *key)
{
	time_t now = time(NULL);
	for (struct cache_entry **pp = &S.cache[hash_key(key)]; *pp != NULL;) {
		struct cache_entry *e = *pp;
		if (e->expires <= now) {
			*pp = e->next;
			free(e->key);
			buf_free(&e->payload);
			free(e);
			S.cache_entries--;
			continue;
		}
		if (strcmp(e->key, key) == 0)
			return e;
		pp = &e->next;
	}
	return NULL;
}

static void cache_put(const char *key, const struct ipc_msg *reply)
{
	if (S.cfg->directory.cache_ttl == 0 || cache_get(key) != NULL)
		return;
	if (S.cache_entries >= CACHE_MAX_ENTRIES)
		cache_clear();
	struct cache_entry *e = xcalloc(1, sizeof(*e));
	unsigned h = hash_key(key);
	e->key = xstrdup(key);
	e->expires = time(NULL) + (time_t)S.cfg->directory.cache_ttl;
	buf_append(&e->payload, reply->b.data + IPC_HDR_LEN, reply->b.len - IPC_HDR_LEN);
	e->next = S.cache[h];
	S.cache[h] = e;
	S.cache_entries++;
}

/* ---- replies (any thread) ---- */

static void reply_tempfail(struct ipc_msg *m, enum lookup_type t, uint32_t id, const char *why)
{
	ipc_msg_init(m, (uint16_t)t, id);
	ipc_put_u8(m, LOOKUP_TEMPFAIL);
	ipc_put_str(m, why);
}

static char *lower_dup(const char *s)
{
	char *d = xstrdup(s != NULL ? s : "");
	for (char *p = d; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

/* split_address: "local@domain" -> two malloc'd strings; -1 when not an address. */
static int split_address(const char *addr, char **local_r, char **domain_r)
{
	const char *at = strrchr(addr, '@');
	if (at == NULL || at == addr || at[1] == '\0')
		return -1;
	*local_r = xstrndup(addr, (size_t)(at - addr));
	*domain_r = xstrdup(at + 1);
	return 0;
}

static double elapsed_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void note_db_result(int r, const char *error)
{
	if (r < 0) {
		if (!atomic_exchange(&S.db_down, true)) {
			atomic_store(&S.down_since, (long long)time(NULL));
			struct buf e = BUF_INIT;
			buf_append_escaped(&e, error ? error : "", error ? strlen(error) : 0, 300);
			log_warn("event=directory_down driver=%s error=\"%s\"",
				 S.cfg->directory.driver, buf_cstr(&e));
			buf_free(&e);
		}
	} else if (atomic_load(&S.db_down)) {
		if (atomic_exchange(&S.db_down, false))
			log_info("event=directory_up driver=%s outage=%llds",
				 S.cfg->directory.driver,
				 (long long)time(NULL) - atomic_load(&S.down_since));
	}
}

/* run_job: executed by a pool thread with its own struct dir. */
static void run_job(struct dir *d, struct job *j)
{
	const char *err = NULL;
	const char *delim = S.cfg->mail.recipient_delimiter;
	struct ipc_msg *m = &j->reply;
	int r = 0;

	if (elapsed_since(&j->enqueued) > (double)S.cfg->directory.timeout) {
		reply_tempfail(m, j->type, j->req_id, "lookup queue wait exceeded timeout");
		return;
	}
	bool probe = false;
	if (atomic_load(&S.db_down)) {
		if (atomic_exchange(&S.probing, true)) {
			reply_tempfail(m, j->type, j->req_id, "directory unavailable");
			return;
		}
		probe = true;
	}

	ipc_msg_init(m, (uint16_t)j->type, j->req_id);
	switch (j->type) {
	case LOOKUP_RCPT: {
		struct dir_rcpt rc;
		memset(&rc, 0, sizeof(rc));
		r = dir_resolve_rcpt(d, j->a, delim, &rc, &err);
		if (r >= 0) {
			ipc_put_u8(m, LOOKUP_OK);
			ipc_put_u8(m, (uint8_t)rc.kind);
			ipc_put_str(m, rc.address);
			ipc_put_u32(m, rc.account.quota_mb);
			ipc_put_u32(m, rc.ndest);
			for (unsigned i = 0; i < rc.ndest; i++)
				ipc_put_str(m, rc.dest[i]);
			dir_rcpt_clear(&rc);
		}
		break;
	}
	case LOOKUP_DOMAIN:
		r = dir_domain_exists(d, j->a, &err);
		if (r >= 0) {
			ipc_put_u8(m, LOOKUP_OK);
			ipc_put_u8(m, r == 1);
		}
		break;
	case LOOKUP_AUTH:
	case LOOKUP_USER: {
		char *local = NULL, *domain = NULL;
		struct dir_account a;
		memset(&a, 0, sizeof(a));
		bool ok = false;
		if (split_address(j->a, &local, &domain) == 0) {
			r = dir_account_get(d, local, domain, &a, &err);
			if (r == 1 && j->type == LOOKUP_AUTH) {
				const char *perr = NULL;
				int v = a.enabled ? password_verify(j->b ? j->b : "", a.password,
								    &perr)
						  : 0;
				if (v < 0)
					log_error("event=password_scheme_error user=%s error=\"%s\"",
						  j->a, perr);
				ok = v == 1;
			} else if (r == 1) {
				ok = a.enabled && !a.sendonly; /* the guide's user_query */
			}
		}
		if (r >= 0) {
			ipc_put_u8(m, (j->type == LOOKUP_AUTH && !ok) ? LOOKUP_DENIED : LOOKUP_OK);
			ipc_put_u8(m, ok);
			ipc_put_str(m, ok ? j->a : NULL);
			ipc_put_u32(m, ok ? a.quota_mb : 0);
			ipc_put_u8(m, ok && a.sendonly);
		}
		dir_account_clear(&a);
		free(local);
		free(domain);
		break;
	}
	case LOOKUP_SENDAS:
		r = dir_may_send_as(d, j->a, j->b, delim, &err);
		if (r >= 0) {
			ipc_put_u8(m, LOOKUP_OK);
			ipc_put_u8(m, r == 1);
		}
		break;
	case LOOKUP_TLSPOLICY: {
		struct dir_tlspolicy p;
		memset(&p, 0, sizeof(p));
		r = dir_tlspolicy_get(d, j->a, &p, &err);
		if (r >= 0) {
			ipc_put_u8(m, LOOKUP_OK);
			ipc_put_u8(m, r == 1);
			ipc_put_str(m, r == 1 ? p.policy : NULL);
			ipc_put_str(m, r == 1 ? p.params : NULL);
			dir_tlspolicy_clear(&p);
		}
		break;
	}
	case LOOKUP_PING:
		r = dir_ping(d, &err);
		if (r >= 0) {
			ipc_put_u8(m, LOOKUP_OK);
			ipc_put_u8(m, 1);
		}
		break;
	}
	if (probe)
		atomic_store(&S.probing, false);
	note_db_result(r, err);
	if (r < 0) {
		ipc_msg_free(m);
		reply_tempfail(m, j->type, j->req_id, err ? err : "directory error");
		return;
	}
	j->cacheable_reply = j->cache_key != NULL;
}

static void *thread_main(void *arg)
{
	(void)arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	const char *err = NULL;
	struct dir *d = dir_open(&S.cfg->directory, DIR_READER, &err);
	if (d == NULL)
		fatal("event=directory_error error=\"%s\"", err ? err : "cannot open");
	for (;;) {
		pthread_mutex_lock(&S.mu);
		while (S.queue_head == NULL && !S.stopping)
			pthread_cond_wait(&S.cond, &S.mu);
		if (S.stopping) {
			pthread_mutex_unlock(&S.mu);
			break;
		}
		struct job *j = S.queue_head;
		S.queue_head = j->next;
		if (S.queue_head == NULL)
			S.queue_tail = NULL;
		pthread_mutex_unlock(&S.mu);

		run_job(d, j);

		pthread_mutex_lock(&S.mu);
		j->next = S.done;
		S.done = j;
		pthread_mutex_unlock(&S.mu);
		uint64_t one = 1;
		(void)!write(S.efd, &one, sizeof(one));
	}
	dir_close(&d);
	return NULL;
}

/* ---- main thread ---- */

static struct client *client_find(uint64_t serial)
{
	for (struct client *c = S.clients; c != NULL; c = c->next)
		if (c->serial == serial)
			return c;
	return NULL;
}

static void job_free(struct job *j)
{
	free(j->a);
	free(j->b);
	free(j->cache_key);
	ipc_msg_free(&j->reply);
	free(j);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;
	(void)what;
	(void)arg;
	(void)!read(fd, &n, sizeof(n));
	pthread_mutex_lock(&S.mu);
	struct job *list = S.done;
	S.done = NULL;
	pthread_mutex_unlock(&S.mu);
	while (list != NULL) {
		struct job *j = list;
		list = j->next;
		if (j->cacheable_reply)
			cache_put(j->cache_key, &j->reply);
		struct client *c = client_find(j->client_serial);
		if (c != NULL)
			ipc_conn_send(c->conn, &j->reply);
		job_free(j);
	}
}

static void client_close(struct ipc_conn *conn, void *arg)
{
	struct client *c = arg;
	(void)conn;
	for (struct client **pp = &S.clients; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	ipc_conn_destroy(&c->conn);
	free(c);
}

static void on_request(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	struct client *c = arg;
	const char *a = NULL, *b = NULL;
	enum lookup_type t = (enum lookup_type)m->type;
	switch (t) {
	case LOOKUP_AUTH:
	case LOOKUP_SENDAS:
		ipc_get_str(m, &a);
		ipc_get_str(m, &b);
		break;
	case LOOKUP_PING:
		break;
	case LOOKUP_RCPT:
	case LOOKUP_DOMAIN:
	case LOOKUP_TLSPOLICY:
	case LOOKUP_USER:
		ipc_get_str(m, &a);
		break;
	default:
		m->error = true;
	}
	if (ipc_msg_done(m) < 0 || (t != LOOKUP_PING && a == NULL)) {
		log_error("event=ipc_error error=malformed_lookup_request type=%u", m->type);
		client_close(conn, c);
		return;
	}
	struct job *j = xcalloc(1, sizeof(*j));
	j->client_serial = c->serial;
	j->req_id = m->id;
	j->type = t;
	j->a = t == LOOKUP_PING ? NULL : lower_dup(a);
	if (b != NULL)
		j->b = t == LOOKUP_SENDAS ? lower_dup(b) : xstrdup(b);
	if (t != LOOKUP_AUTH && t != LOOKUP_PING) {
		j->cache_key = xasprintf("%d\n%s\n%s", (int)t, j->a, j->b ? j->b : "");
		struct cache_entry *e = cache_get(j->cache_key);
		if (e != NULL) {
			struct ipc_msg r;
			ipc_msg_init(&r, (uint16_t)t, m->id);
			buf_append(&r.b, e->payload.data, e->payload.len);
			ipc_conn_send(conn, &r);
			job_free(j);
			return;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &j->enqueued);
	pthread_mutex_lock(&S.mu);
	if (S.queue_tail != NULL)
		S.queue_tail->next = j;
	else
		S.queue_head = j;
	S.queue_tail = j;
	pthread_cond_signal(&S.cond);
	pthread_mutex_unlock(&S.mu);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	(void)l;
	(void)sa;
	(void)salen;
	(void)arg;
	struct client *c = xcalloc(1, sizeof(*c));
	c->serial = ++S.next_serial;
	c->conn = ipc_conn_create(S.base, fd, on_request, client_close, c);
	c->next = S.clients;
	S.clients = c;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	log_info("event=stop signal=%d", (int)sig);
	event_base_loopbreak(S.base);
}

int lookup_server_run(const struct config *cfg, int listen_fd)
{
	memset(&S, 0, sizeof(S));
	S.cfg = cfg;
	S.base = event_base_new();
	pthread_mutex_init(&S.mu, NULL);
	pthread_cond_init(&S.cond, NULL);
	S.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (S.base == NULL || S.efd < 0)
		fatal("event=start_error error=\"%s\"", strerror(errno));
	S.efd_ev = event_new(S.base, S.efd, EV_READ | EV_PERSIST, on_done, NULL);
	event_add(S.efd_ev, NULL);
	S.listener = evconnlistener_new(S.base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE, -1,
					listen_fd);
	if (S.listener == NULL)
		fatal("event=start_error error=evconnlistener_new");
	struct event *sigterm = evsignal_new(S.base, SIGTERM, on_signal, NULL);
	struct event *sigint = evsignal_new(S.base, SIGINT, on_signal, NULL);
	struct event *sigusr1 = evsignal_new(S.base, SIGUSR1, on_signal, NULL);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	event_add(sigusr1, NULL);

	S.nthreads = cfg->directory.threads ? cfg->directory.threads : 1;
	S.threads = xcalloc(S.nthreads, sizeof(pthread_t));
	for (unsigned i = 0; i < S.nthreads; i++)
		if (pthread_create(&S.threads[i], NULL, thread_main, NULL) != 0)
			fatal("event=start_error error=pthread_create");
	log_info("event=ready threads=%u cache_ttl=%us driver=%s", S.nthreads,
		 cfg->directory.cache_ttl, cfg->directory.driver);

	event_base_dispatch(S.base);
	signals_block_stop(); /* a late second signal must not kill the clean-up */

	pthread_mutex_lock(&S.mu);
	S.stopping = true;
	pthread_cond_broadcast(&S.cond);
	pthread_mutex_unlock(&S.mu);
	for (unsigned i = 0; i < S.nthreads; i++)
		pthread_join(S.threads[i], NULL);
	free(S.threads);
	while (S.queue_head != NULL) {
		struct job *j = S.queue_head;
		S.queue_head = j->next;
		job_free(j);
	}
	while (S.done != NULL) {
		struct job *j = S.done;
		S.done = j->next;
		job_free(j);
	}
	while (S.clients != NULL) {
		struct client *c = S.clients;
		S.clients = c->next;
		ipc_conn_destroy(&c->conn);
		free(c);
	}
	cache_clear();
	evconnlistener_free(S.listener);
	event_free(S.efd_ev);
	event_free(sigterm);
	event_free(sigint);
	event_free(sigusr1);
	close(S.efd);
	event_base_free(S.base);
	pthread_mutex_destroy(&S.mu);
	pthread_cond_destroy(&S.cond);
	return 0;
}
