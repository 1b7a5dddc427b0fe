/*
 * worker.c - a worker process: one event loop serving the listeners.
 *
 * Each worker accepts on every listening socket the master bound (the
 * kernel spreads connections over the workers) and hands a connection
 * to the protocol named by the listener's [listen] key. Protocols are
 * rows of protocols[] below; a [listen] key without a row is refused by
 * the master at start and on reload. The worker asks the lookup process
 * through a lookup_client and never blocks its loop on the database.
 *
 * SIGTERM: stop accepting, let open sessions finish for up to 30 s,
 * then exit. IMAP sessions get "* BYE" at once (after a running
 * command), on SIGTERM and when retired by a reload.
 */
#include "daemon/daemon.h"
#include "core/log.h"
#include "core/signals.h"
#include "core/xalloc.h"
#include "core/pool.h"
#include "directory/lookup.h"
#include "net/conn-limit.h"
#include "net/dns.h"
#include "smtp/smtp-server.h"
#include "imap/imap-server.h"

#include <event2/event.h>
#include <event2/listener.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WORKER_STOP_GRACE_SECS 30

struct worker;

struct protocol {
	const char *name;
	void (*accept)(struct worker *w, const struct listener *l, int fd,
		       const struct sockaddr *sa, int salen);
};

struct worker {
	const struct worker_env *env;
	struct event_base *base;
	struct lookup_client *lookup;
	struct dns *dns;
	struct pool *pool;
	struct smtp_server *smtp;
	struct imap_server *imap;
	struct evconnlistener **evl;
	bool stopping;
	struct event *sigterm, *sigint, *sigusr1, *grace;
};

static unsigned worker_sessions(const struct worker *w)
{
	return (w->smtp != NULL ? smtp_server_sessions(w->smtp) : 0) +
	       (w->imap != NULL ? imap_server_sessions(w->imap) : 0);
}

static void accept_smtp(struct worker *w, const struct listener *l, int fd,
			const struct sockaddr *sa, int salen)
{
	struct sockaddr_storage local;
	socklen_t ll = sizeof(local);
	if (getsockname(fd, (struct sockaddr *)&local, &ll) < 0)
		memset(&local, 0, sizeof(local));
	(void)l;
	smtp_server_accept(w->smtp, fd, sa, salen, (struct sockaddr *)&local, SMTP_SERVICE_MX);
}

static void accept_submission(struct worker *w, const struct listener *l, int fd,
			      const struct sockaddr *sa, int salen)
{
	struct sockaddr_storage local;
	socklen_t ll = sizeof(local);
	if (getsockname(fd, (struct sockaddr *)&local, &ll) < 0)
		memset(&local, 0, sizeof(local));
	smtp_server_accept(w->smtp, fd, sa, salen, (struct sockaddr *)&local,
			   strcmp(l->proto, "smtps") == 0 ? SMTP_SERVICE_SUBMISSIONS
							 : SMTP_SERVICE_SUBMISSION);
}

static void accept_imap(struct worker *w, const struct listener *l, int fd,
			const struct sockaddr *sa, int salen)
{
	imap_server_accept(w->imap, fd, sa, salen,
			   strcmp(l->proto, "imaps") == 0 ? IMAP_SERVICE_IMAPS : IMAP_SERVICE_IMAP);
}

/* The protocols this build serves. */
static const struct protocol protocols[] = {
	{"smtp", accept_smtp},
	{"submission", accept_submission},
	{"smtps", accept_submission},
	{"imap", accept_imap},
	{"imaps", accept_imap},
	{NULL, NULL},
};

static void on_session_end(void *ctx)
{
	struct worker *w = ctx;
	if (w->stopping && worker_sessions(w) == 0)
		event_base_loopbreak(w->base);
}

bool worker_protocol_available(const char *proto)
{
	for (const struct protocol *p = protocols; p->name != NULL; p++)
		if (strcmp(p->name, proto) == 0)
			return true;
	return false;
}

static const struct protocol *protocol_find(const char *proto)
{
	for (const struct protocol *p = protocols; p->name != NULL; p++)
		if (strcmp(p->name, proto) == 0)
			return p;
	return NULL;
}

struct accept_ctx {
	struct worker *w;
	const struct listener *l;
	const struct protocol *p;
};

static void on_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct accept_ctx *a = arg;
	(void)evl;
	a->p->accept(a->w, a->l, fd, sa, salen);
}

static void on_grace_over(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	log_warn("event=stop_forced sessions=%u", worker_sessions(w));
	event_base_loopbreak(w->base);
}

/* on_sigusr1: retired by a reload: accept nothing more, end with the
 * last session (sessions are not cut; the master's deadline bounds it). */
static void on_sigusr1(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;
	(void)what;
	if (w->stopping)
		return;
	w->stopping = true;
	for (unsigned i = 0; i < w->env->nlisteners; i++)
		if (w->evl[i] != NULL)
			evconnlistener_disable(w->evl[i]);
	log_info("event=retiring signal=%d sessions=%u", (int)sig, worker_sessions(w));
	/* IMAP sessions last hours: send them to the new workers */
	if (w->imap != NULL)
		imap_server_shutdown(w->imap);
	if (worker_sessions(w) == 0)
		event_base_loopbreak(w->base);
}

static void on_sigterm(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;
	(void)what;
	if (w->grace != NULL)
		return;
	w->stopping = true;
	for (unsigned i = 0; i < w->env->nlisteners; i++)
		if (w->evl[i] != NULL)
			evconnlistener_disable(w->evl[i]);
	log_info("event=stopping signal=%d sessions=%u", (int)sig, worker_sessions(w));
	if (w->smtp != NULL)
		smtp_server_shutdown(w->smtp);
	if (w->imap != NULL)
		imap_server_shutdown(w->imap);
	if (worker_sessions(w) == 0) {
		event_base_loopbreak(w->base);
		return;
	}
	w->grace = evtimer_new(w->base, on_grace_over, w);
	struct timeval tv = {WORKER_STOP_GRACE_SECS, 0};
	evtimer_add(w->grace, &tv);
}

int worker_run(const struct worker_env *env)
{
	struct worker w;
	memset(&w, 0, sizeof(w));
	w.env = env;
	w.base = event_base_new();
	if (w.base == NULL)
		fatal("event=start_error error=event_base_new");
	w.lookup = lookup_client_create(w.base, env->lookup_socket,
					(env->cfg->directory.timeout + 1) * 1000);
	const struct config *cfg = env->cfg;
	if (env->conn_limit != NULL)
		conn_limit_use_slot(env->conn_limit, env->conn_slot);
	if (cfg->smtpd.reject_unknown_client_hostname || cfg->smtpd.reject_unknown_helo_hostname) {
		const char *derr;
		w.dns = dns_create(w.base, &cfg->dns, &derr);
		if (w.dns == NULL)
			fatal("event=start_error error=\"dns: %s\"", derr);
	}
	w.pool = pool_create(w.base, 4);
	struct smtp_server_env senv = {
		.base = w.base,
		.cfg = cfg,
		.tls = env->tls,
		.lookup = w.lookup,
		.dns = w.dns,
		.pool = w.pool,
		.conn_limit = env->conn_limit,
		.queue_socket = env->queue_socket,
		.on_session_end = on_session_end,
		.ctx = &w,
	};
	char *serr = NULL;
	w.smtp = smtp_server_create(&senv, &serr);
	if (w.smtp == NULL)
		fatal("event=start_error error=\"%s\"", serr);
	struct imap_server_env ienv = {
		.base = w.base,
		.cfg = cfg,
		.tls = env->tls,
		.lookup = w.lookup,
		.pool = w.pool,
		.conn_limit = env->conn_limit,
		.on_session_end = on_session_end,
		.ctx = &w,
	};
	w.imap = imap_server_create(&ienv);
	w.evl = xcalloc(env->nlisteners + 1, sizeof(*w.evl));
	struct accept_ctx *actx = xcalloc(env->nlisteners + 1, sizeof(*actx));
	for (unsigned i = 0; i < env->nlisteners; i++) {
		const struct protocol *p = protocol_find(env->listeners[i].proto);
		if (p == NULL)
			fatal("event=start_error error=no_protocol proto=%s",
			      env->listeners[i].proto);
		actx[i] = (struct accept_ctx){&w, &env->listeners[i], p};
		/* the fd stays the master's: a retiring worker must not close it
		 * under the new one, so libevent gets a dup */
		int fd = dup(env->listeners[i].fd);
		w.evl[i] = evconnlistener_new(w.base, on_accept, &actx[i], LEV_OPT_CLOSE_ON_FREE,
					      -1, fd);
		if (w.evl[i] == NULL)
			fatal("event=start_error error=evconnlistener_new");
	}
	w.sigterm = evsignal_new(w.base, SIGTERM, on_sigterm, &w);
	w.sigint = evsignal_new(w.base, SIGINT, on_sigterm, &w);
	w.sigusr1 = evsignal_new(w.base, SIGUSR1, on_sigusr1, &w);
	event_add(w.sigterm, NULL);
	event_add(w.sigint, NULL);
	event_add(w.sigusr1, NULL);
	log_info("event=ready index=%u listeners=%u", env->index, env->nlisteners);

	event_base_dispatch(w.base);
	signals_block_stop(); /* a late second signal must not kill the clean-up */

	for (unsigned i = 0; i < env->nlisteners; i++)
		if (w.evl[i] != NULL)
			evconnlistener_free(w.evl[i]);
	free(w.evl);
	free(actx);
	pool_destroy(&w.pool);
	smtp_server_destroy(&w.smtp);
	imap_server_destroy(&w.imap);
	if (w.dns != NULL)
		dns_destroy(&w.dns);
	lookup_client_destroy(&w.lookup);
	if (w.grace != NULL)
		event_free(w.grace);
	event_free(w.sigterm);
	event_free(w.sigint);
	event_free(w.sigusr1);
	event_base_free(w.base);
	log_info("event=stopped");
	return 0;
}
