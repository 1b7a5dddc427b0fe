/*
 * dns.c - the resolver: one libunbound context in threaded async mode,
 * its answers read from ub_fd() by a persistent libevent read event, one
 * timer per query for the [dns] timeout (see dns.h).
 *
 * A query lives in struct dns_query from dns_query() until its callback
 * has returned or it is cancelled. While libunbound works on it, it is
 * known there by async_id (non-zero). In threaded mode ub_cancel() only
 * marks libunbound's record of the query; when the answer arrives later,
 * ub_process() drops it without calling back and without touching our
 * pointer, so our struct is freed right after ub_cancel().
 *
 * Every answer reaches the caller through deliver(), from the event loop:
 * either from ub_process() (an answer), or from the query's timer (the
 * timeout, or a result decided before libunbound saw the query, which is
 * put on the timer with a zero delay so the callback never runs inside
 * dns_query()).
 */
#include "net/dns.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "net/dns-private.h"

#include <assert.h>
#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unbound.h>

/* Debian's dns-root-data: the root zone's trust anchor. */
#define DNS_ROOT_ANCHOR "/usr/share/dns/root.key"

struct dns_query {
	struct dns *dns;
	struct dns_query *prev, *next;
	char *name;
	enum dns_type type;
	dns_callback *cb;
	void *ctx;
	int async_id;             /* libunbound's id while it works on the query, else 0 */
	struct event *timer;      /* timeout, or zero-delay delivery of early */
	struct dns_result *early; /* result decided without libunbound */
	struct timespec started;
	bool delivering;            /* its callback is running */
	struct dns_result **keep_r; /* dns_resolve_sync(): take the result instead of freeing it */
};

struct dns {
	struct event_base *base;
	struct ub_ctx *ub;
	struct event *ev;          /* ub_fd() readable */
	unsigned timeout;          /* seconds, 0 = none of our own */
	struct dns_query *queries; /* pending */
	unsigned npending;
	unsigned in_callback; /* depth of callbacks running */
	bool started;         /* libunbound's thread exists */
	bool broken;          /* the thread is gone: every query fails */
};

static __thread char dns_errbuf[512];

static const char *dns_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *dns_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dns_errbuf, sizeof(dns_errbuf), fmt, ap);
	va_end(ap);
	return dns_errbuf;
}

/* same_name: two names compared case-insensitively without its final dot. */
static bool same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 1 && a[la - 1] == '.')
		la--;
	if (lb > 1 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

static int add_stub(struct ub_ctx *ub, const char *item, const struct cfg_list *stubs, unsigned idx,
                    const char **error_r)
{
	const char *eq = strchr(item, '=');
	if (eq == NULL || eq == item || eq[1] == '\0') {
		*error_r = dns_error("[dns] stub_zones: '%s' is not zone=addr[@port]", item);
		return -1;
	}
	char *zone = xstrndup(item, (size_t)(eq - item));
	int r = ub_ctx_set_stub(ub, zone, eq + 1, 0);
	if (r != 0) {
		*error_r = dns_error("[dns] stub_zones: '%s': %s", item, ub_strerror(r));
		free(zone);
		return -1;
	}
	/* libunbound answers some names itself (localhost, test., invalid.,
	 * the private and documentation reverse zones...). A zone the admin
	 * points at a server must reach that server, so it gets a transparent
	 * local zone of its own, which takes precedence over any default
	 * above or at it. Once per zone name. */
	bool seen = false;
	for (unsigned i = 0; i < idx && !seen; i++) {
		const char *prev = stubs->v[i];
		const char *peq = strchr(prev, '=');
		if (peq != NULL) {
			char *pz = xstrndup(prev, (size_t)(peq - prev));
			seen = same_name(pz, zone);
			free(pz);
		}
	}
	if (!seen) {
		char *lz = xasprintf("%s transparent", zone);
		r = ub_ctx_set_option(ub, "local-zone:", lz);
		free(lz);
		if (r != 0) {
			*error_r = dns_error("[dns] stub_zones: '%s': %s", item, ub_strerror(r));
			free(zone);
			return -1;
		}
	}
	free(zone);
	return 0;
}

static int add_trust_anchor(struct ub_ctx *ub, const char *path, const char *what,
                            const char **error_r)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		*error_r = dns_error("%s: '%s': %s", what, path, strerror(errno));
		return -1;
	}
	fclose(f);
	int r = ub_ctx_add_ta_file(ub, path);
	if (r != 0) {
		*error_r = dns_error("%s: '%s': %s", what, path, ub_strerror(r));
		return -1;
	}
	return 0;
}

static int configure(struct ub_ctx *ub, const struct config_dns *cfg, const char **error_r)
{
	int r;
	if ((r = ub_ctx_async(ub, 1)) != 0) {
		*error_r = dns_error("libunbound: threaded mode: %s", ub_strerror(r));
		return -1;
	}
	/* Local resolvers and the tests' servers live on loopback. */
	if ((r = ub_ctx_set_option(ub, "do-not-query-localhost:", "no")) != 0) {
		*error_r = dns_error("libunbound: do-not-query-localhost: %s", ub_strerror(r));
		return -1;
	}
	for (unsigned i = 0; i < cfg->forwarders.n; i++) {
		if ((r = ub_ctx_set_fwd(ub, cfg->forwarders.v[i])) != 0) {
			*error_r = dns_error("[dns] forwarders: '%s': %s", cfg->forwarders.v[i],
			                     ub_strerror(r));
			return -1;
		}
	}
	for (unsigned i = 0; i < cfg->stub_zones.n; i++)
		if (add_stub(ub, cfg->stub_zones.v[i], &cfg->stub_zones, i, error_r) < 0)
			return -1;
	if (cfg->trust_anchor_file != NULL && cfg->trust_anchor_file[0] != '\0') {
		if (add_trust_anchor(ub, cfg->trust_anchor_file, "[dns] trust_anchor_file",
		                     error_r) < 0)
			return -1;
	} else if (cfg->dnssec) {
		FILE *f = fopen(DNS_ROOT_ANCHOR, "r");
		if (f == NULL) {
			log_warn("event=dns_no_trust_anchor file=%s error=%s dnssec=off",
			         DNS_ROOT_ANCHOR, log_esc(strerror(errno)));
		} else {
			fclose(f);
			if (add_trust_anchor(ub, DNS_ROOT_ANCHOR, "[dns] dnssec", error_r) < 0)
				return -1;
		}
	}
	/*
	 * libunbound reads its configuration (trust anchors, local zones) at
	 * the first query. Make it do so now so that errors show at start:
	 * removing a local zone that does not exist changes nothing but
	 * finalizes the context.
	 */
	if ((r = ub_ctx_zone_remove(ub, "vmaild-finalize.invalid.")) != 0) {
		*error_r = dns_error("libunbound: the [dns] settings were not accepted: %s "
		                     "(see its messages above)",
		                     ub_strerror(r));
		return -1;
	}
	return 0;
}

static void dns_on_readable(evutil_socket_t fd, short what, void *arg);

static bool type_known(enum dns_type type)
{
	switch (type) {
	case DNS_T_A:
	case DNS_T_AAAA:
	case DNS_T_MX:
	case DNS_T_TXT:
	case DNS_T_PTR:
	case DNS_T_TLSA:
		return true;
	}
	return false;
}

struct dns *dns_create(struct event_base *base, const struct config_dns *cfg, const char **error_r)
{
	struct ub_ctx *ub = ub_ctx_create();
	if (ub == NULL) {
		*error_r = dns_error("libunbound: cannot create a context");
		return NULL;
	}
	if (configure(ub, cfg, error_r) < 0) {
		ub_ctx_delete(ub);
		return NULL;
	}
	struct dns *dns = xcalloc(1, sizeof(*dns));
	dns->base = base;
	dns->ub = ub;
	dns->timeout = cfg->timeout;
	dns->ev = event_new(base, ub_fd(ub), EV_READ | EV_PERSIST, dns_on_readable, dns);
	if (dns->ev == NULL || event_add(dns->ev, NULL) < 0) {
		*error_r = dns_error("libevent: cannot watch the resolver's descriptor");
		if (dns->ev != NULL)
			event_free(dns->ev);
		ub_ctx_delete(ub);
		free(dns);
		return NULL;
	}
	return dns;
}

static void query_unlink(struct dns_query *q)
{
	struct dns *dns = q->dns;
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		dns->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
	dns->npending--;
}

static void query_free(struct dns_query *q)
{
	if (q->timer != NULL)
		event_free(q->timer);
	if (q->early != NULL)
		dns_result_free(&q->early);
	free(q->name);
	free(q);
}

void dns_destroy(struct dns **dnsp)
{
	struct dns *dns = *dnsp;
	if (dns == NULL)
		return;
	*dnsp = NULL;
	assert(dns->in_callback == 0);
	if (dns->npending > 0)
		log_warn("event=dns_destroy pending=%u", dns->npending);
	event_free(dns->ev);
	/* Stops and joins libunbound's thread; queries it still holds are
	 * freed without callbacks. */
	ub_ctx_delete(dns->ub);
	while (dns->queries != NULL) {
		struct dns_query *q = dns->queries;
		query_unlink(q);
		query_free(q);
	}
	free(dns);
}

unsigned dns_pending(const struct dns *dns)
{
	return dns->npending;
}

static struct dns_result *result_new(const struct dns_query *q)
{
	struct dns_result *res = xcalloc(1, sizeof(*res));
	res->name = xstrdup(q->name);
	res->type = q->type;
	res->rcode = -1;
	res->sec = DNS_SEC_INSECURE;
	return res;
}

static void log_result(const struct dns_query *q, const struct dns_result *res)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (long)(now.tv_sec - q->started.tv_sec) * 1000 +
	          (now.tv_nsec - q->started.tv_nsec) / 1000000;
	struct buf extra = BUF_INIT;
	if (res->canonname != NULL)
		buf_appendf(&extra, " canonname=%s", log_esc(res->canonname));
	if (res->timed_out)
		buf_append_str(&extra, " timeout=yes");
	if (res->why_bogus != NULL)
		buf_appendf(&extra, " why_bogus=%s", log_esc(res->why_bogus));
	if (res->error != NULL)
		buf_appendf(&extra, " error=%s", log_esc(res->error));
	log_debug("event=dns_result name=%s type=%s status=%s rcode=%s dnssec=%s n=%u ttl=%u "
	          "ms=%ld%s",
	          log_esc(q->name), dns_type_name(q->type), dns_status_name(res->status),
	          dns_rcode_name(res->rcode), dns_sec_name(res->sec), res->n, res->ttl, ms,
	          buf_cstr(&extra));
	buf_free(&extra);
}

/* deliver: hand res to the callback, then free the query (and res, unless
 * dns_resolve_sync() takes it). The query is off the pending list first,
 * so the callback may cancel it (a no-op), start others or cancel others. */
static void deliver(struct dns_query *q, struct dns_result *res)
{
	struct dns *dns = q->dns;
	query_unlink(q);
	log_result(q, res);
	q->delivering = true;
	dns->in_callback++;
	q->cb(res, q->ctx);
	dns->in_callback--;
	if (q->keep_r != NULL)
		*q->keep_r = res;
	else
		dns_result_free(&res);
	query_free(q);
}

static void fill_from_ub(struct dns_result *res, int err, struct ub_result *ur)
{
	if (err != 0 || ur == NULL) {
		/* A name libunbound cannot parse comes back as a syntax error. */
		res->status = err == UB_SYNTAX ? DNS_PERMFAIL : DNS_TEMPFAIL;
		res->error = xasprintf("resolver: %s", ub_strerror(err));
		return;
	}
	res->rcode = ur->rcode;
	res->ttl = ur->ttl > 0 ? (uint32_t)ur->ttl : 0;
	if (ur->secure) {
		res->sec = DNS_SEC_SECURE;
	} else if (ur->bogus) {
		res->sec = DNS_SEC_BOGUS;
		res->why_bogus = xstrdup(ur->why_bogus != NULL ? ur->why_bogus : "no reason given");
	}
	if (ur->canonname != NULL && !same_name(ur->canonname, res->name)) {
		size_t l = strlen(ur->canonname);
		if (l > 1 && ur->canonname[l - 1] == '.')
			l--;
		res->canonname = xstrndup(ur->canonname, l);
	}
	if (res->sec == DNS_SEC_BOGUS) {
		res->status = DNS_TEMPFAIL;
		res->error = xstrdup("DNSSEC validation failed");
		return;
	}
	if (ur->nxdomain || ur->rcode == DNS_RCODE_NXDOMAIN) {
		res->status = DNS_NXDOMAIN;
		return;
	}
	if (ur->rcode != DNS_RCODE_NOERROR) {
		res->status = DNS_TEMPFAIL;
		res->error = xasprintf("answer %s", dns_rcode_name(ur->rcode));
		return;
	}
	size_t n = 0;
	if (ur->havedata && ur->data != NULL)
		while (ur->data[n] != NULL)
			n++;
	const char *perr = NULL;
	if (dns_rdata_fill(res, res->type, ur->data, ur->len, n, &perr) < 0) {
		res->status = DNS_TEMPFAIL;
		res->error = xasprintf("malformed %s record: %s", dns_type_name(res->type), perr);
		return;
	}
	res->status = res->n > 0 ? DNS_OK : DNS_NODATA;
}

/* dns_on_ub_answer: libunbound's callback, from inside ub_process(). */
static void dns_on_ub_answer(void *arg, int err, struct ub_result *ur)
{
	struct dns_query *q = arg;
	q->async_id = 0;
	struct dns_result *res = result_new(q);
	fill_from_ub(res, err, ur);
	ub_resolve_free(ur);
	deliver(q, res);
}

static void dns_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;
	struct dns_result *res;
	if (q->early != NULL) {
		res = q->early;
		q->early = NULL;
	} else {
		if (q->async_id != 0) {
			int r = ub_cancel(q->dns->ub, q->async_id);
			if (r != 0)
				log_debug("event=dns_cancel_failed name=%s error=%s",
				          log_esc(q->name), ub_strerror(r));
			q->async_id = 0;
		}
		res = result_new(q);
		res->status = DNS_TEMPFAIL;
		res->timed_out = true;
		res->error = xasprintf("timed out: no answer within %us", q->dns->timeout);
	}
	deliver(q, res);
}

/* answer_early: q gets res through its timer, from the loop, at once. */
static void answer_early(struct dns_query *q, enum dns_status status, const char *error)
{
	static const struct timeval now = {0, 0};
	if (q->async_id != 0) {
		(void)ub_cancel(q->dns->ub, q->async_id);
		q->async_id = 0;
	}
	if (q->early == NULL) {
		q->early = result_new(q);
		q->early->status = status;
		q->early->error = xstrdup(error);
	}
	evtimer_add(q->timer, &now);
}

/* The background thread is gone (its pipe closed or sent garbage): fail
 * everything now and every later query. */
static void dns_break(struct dns *dns, int err)
{
	log_error("event=dns_resolver_failed error=%s", log_esc(ub_strerror(err)));
	dns->broken = true;
	event_del(dns->ev);
	for (struct dns_query *q = dns->queries; q != NULL; q = q->next)
		answer_early(q, DNS_TEMPFAIL, "resolver failed");
}

static void dns_on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct dns *dns = arg;
	dns->in_callback++;
	int r = ub_process(dns->ub);
	dns->in_callback--;
	if (r != 0)
		dns_break(dns, r);
}

struct dns_query *dns_query(struct dns *dns, const char *name, enum dns_type type, dns_callback *cb,
                            void *ctx)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));
	q->dns = dns;
	q->name = xstrdup(name);
	q->type = type;
	q->cb = cb;
	q->ctx = ctx;
	clock_gettime(CLOCK_MONOTONIC, &q->started);
	q->timer = evtimer_new(dns->base, dns_on_timer, q);
	if (q->timer == NULL)
		fatal("event=dns_query error=%s", "cannot create a libevent timer");
	q->next = dns->queries;
	if (q->next != NULL)
		q->next->prev = q;
	dns->queries = q;
	dns->npending++;

	if (dns->broken) {
		answer_early(q, DNS_TEMPFAIL, "resolver failed");
		return q;
	}
	if (name[0] == '\0' || strlen(name) > DNS_NAME_TEXT_MAX) {
		answer_early(q, DNS_PERMFAIL, "not a domain name");
		return q;
	}
	if (!type_known(type)) {
		answer_early(q, DNS_PERMFAIL, "unsupported record type");
		return q;
	}
	/* The first query starts libunbound's thread: start it with every
	 * signal blocked, so that signals stay with the event loop's thread. */
	sigset_t all, old;
	bool first = !dns->started;
	if (first) {
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
	}
	int r = ub_resolve_async(dns->ub, name, (int)type, 1 /* IN */, q, dns_on_ub_answer,
	                         &q->async_id);
	if (first) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (r == 0)
			dns->started = true;
	}
	if (r != 0) {
		/* If libunbound got as far as numbering the query (a pipe
		 * failure), answer_early() cancels it there. */
		answer_early(q, r == UB_SYNTAX ? DNS_PERMFAIL : DNS_TEMPFAIL, ub_strerror(r));
		return q;
	}
	if (dns->timeout > 0) {
		struct timeval tv = {(time_t)dns->timeout, 0};
		evtimer_add(q->timer, &tv);
	}
	return q;
}

void dns_query_cancel(struct dns_query **qp)
{
	struct dns_query *q = *qp;
	if (q == NULL)
		return;
	*qp = NULL;
	if (q->delivering)
		return; /* deliver() frees it when the callback returns */
	if (q->async_id != 0) {
		int r = ub_cancel(q->dns->ub, q->async_id);
		if (r != 0)
			log_debug("event=dns_cancel_failed name=%s error=%s", log_esc(q->name),
			          ub_strerror(r));
	}
	query_unlink(q);
	query_free(q);
}

static void sync_done(const struct dns_result *res, void *ctx)
{
	(void)res;
	(void)ctx;
}

int dns_resolve_sync(const struct config_dns *cfg, const char *name, enum dns_type type,
                     struct dns_result **res_r, const char **error_r)
{
	struct event_base *base = event_base_new();
	if (base == NULL) {
		*error_r = dns_error("libevent: cannot create an event loop");
		return -1;
	}
	struct dns *dns = dns_create(base, cfg, error_r);
	if (dns == NULL) {
		event_base_free(base);
		return -1;
	}
	struct dns_result *res = NULL;
	struct dns_query *q = dns_query(dns, name, type, sync_done, NULL);
	q->keep_r = &res;
	while (res == NULL) {
		if (event_base_loop(base, EVLOOP_ONCE) != 0)
			break;
	}
	if (res == NULL) {
		dns_query_cancel(&q);
		dns_destroy(&dns);
		event_base_free(base);
		*error_r = dns_error("libevent: the event loop stopped");
		return -1;
	}
	dns_destroy(&dns);
	event_base_free(base);
	*res_r = res;
	return 0;
}
