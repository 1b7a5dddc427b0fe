/*
 * queue-route.c - where a destination's mail goes: [queue] relayhost and
 * [transport] next hops, and the MX lookup (RFC 5321 section 5.1,
 * RFC 7505 null MX) turned into an ordered list of addresses to try.
 *
 * Every DNS answer comes through net/dns.h (libunbound, async). The MX
 * hosts are asked for AAAA and A at the same time; the targets are the
 * hosts in preference order (dns.h sorts them), each host's IPv6
 * addresses before its IPv4 ones, at most MAX_TARGETS in all.
 */
#include "smtp/queue.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "net/dns.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HOSTS   10
#define MAX_TARGETS 20

const char *queue_address_domain(const char *address)
{
	const char *at = strrchr(address, '@');
	return at != NULL ? at + 1 : "";
}

bool queue_address_is_utf8(const char *address)
{
	for (const unsigned char *p = (const unsigned char *)address; *p; p++)
		if (*p >= 0x80)
			return true;
	return false;
}

bool queue_host_is_literal(const char *host)
{
	unsigned char tmp[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

int queue_nexthop_parse(const char *spec, unsigned default_port, char **host_r, unsigned *port_r,
                        const char **error_r)
{
	const char *host = spec, *end, *port = NULL;
	if (spec[0] == '[') {
		end = strchr(spec, ']');
		if (end == NULL || end == spec + 1) {
			*error_r = "unbalanced [ ]";
			return -1;
		}
		host = spec + 1;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0') {
			*error_r = "junk after ]";
			return -1;
		}
	} else {
		end = strrchr(spec, ':');
		if (end != NULL && strchr(spec, ':') != end) {
			*error_r = "an IPv6 address needs [ ]";
			return -1;
		}
		if (end != NULL)
			port = end + 1;
		else
			end = spec + strlen(spec);
	}
	if (end == host) {
		*error_r = "empty host";
		return -1;
	}
	unsigned p = default_port;
	if (port != NULL) {
		char *e;
		unsigned long v = strtoul(port, &e, 10);
		if (port[0] == '\0' || *e != '\0' || v < 1 || v > 65535) {
			*error_r = "bad port";
			return -1;
		}
		p = (unsigned)v;
	}
	*host_r = xstrndup(host, (size_t)(end - host));
	*port_r = p;
	return 0;
}

const char *queue_transport_find(const struct cfg_list *transport, const char *domain)
{
	size_t dn = strlen(domain);
	const char *best = NULL;
	size_t best_len = 0;
	for (unsigned i = 0; i < transport->n; i++) {
		const char *t = transport->v[i];
		const char *eq = strchr(t, '=');
		if (eq == NULL)
			continue;
		size_t kn = (size_t)(eq - t);
		bool match;
		if (t[0] == '.') /* .example.com: every subdomain */
			match = dn > kn && strncasecmp(domain + dn - kn, t, kn) == 0;
		else
			match = kn == dn && strncasecmp(domain, t, kn) == 0;
		if (match && (best == NULL || kn > best_len || t[0] != '.')) {
			best = eq + 1;
			best_len = kn;
			if (t[0] != '.')
				return best;
		}
	}
	return best;
}

struct rhost {
	char name[256];
	struct dns_query *q4, *q6;
	struct dns_addr *a4, *a6;
	unsigned n4, n6;
	bool temp; /* an address query failed temporarily */
	struct queue_route *route;
};

struct queue_route {
	struct event_base *base;
	struct dns *dns;
	char *name;
	bool mx;
	unsigned port;
	queue_route_cb *cb;
	void *ctx;
	struct dns_query *mxq;
	struct rhost *hosts;
	unsigned nhosts;
	unsigned pending;
	struct event *literal_ev;
	struct queue_target literal;
};

static void route_free(struct queue_route *r)
{
	dns_query_cancel(&r->mxq);
	for (unsigned i = 0; i < r->nhosts; i++) {
		dns_query_cancel(&r->hosts[i].q4);
		dns_query_cancel(&r->hosts[i].q6);
		free(r->hosts[i].a4);
		free(r->hosts[i].a6);
	}
	free(r->hosts);
	if (r->literal_ev != NULL)
		event_free(r->literal_ev);
	free(r->name);
	free(r);
}

void queue_route_cancel(struct queue_route **rp)
{
	if (*rp == NULL)
		return;
	route_free(*rp);
	*rp = NULL;
}

/* finish: tell the owner, then free (the owner forgets its pointer in cb). */
static void finish(struct queue_route *r, enum queue_route_status st, const char *enhanced,
                   const char *error, const struct queue_target *t, unsigned n)
{
	struct queue_route_result res = {st, enhanced, error, t, n};
	r->cb(&res, r->ctx);
	route_free(r);
}

static bool literal_parse(const char *host, unsigned port, struct queue_target *t)
{
	struct dns_addr a;
	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, host, &a.u.v4) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, host, &a.u.v6) == 1)
		a.family = AF_INET6;
	else
		return false;
	memset(t, 0, sizeof(*t));
	snprintf(t->host, sizeof(t->host), "%s", host);
	snprintf(t->ip, sizeof(t->ip), "%s", host);
	t->port = port;
	t->sslen = dns_addr_sockaddr(&a, (uint16_t)port, &t->ss);
	return true;
}

static void add_target(struct queue_target *ts, unsigned *n, const char *host,
                       const struct dns_addr *a, unsigned port)
{
	if (*n >= MAX_TARGETS)
		return;
	struct queue_target *t = &ts[(*n)++];
	memset(t, 0, sizeof(*t));
	snprintf(t->host, sizeof(t->host), "%s", host);
	snprintf(t->ip, sizeof(t->ip), "%s", a->str);
	t->port = port;
	t->sslen = dns_addr_sockaddr(a, (uint16_t)port, &t->ss);
}

static void hosts_done(struct queue_route *r)
{
	struct queue_target ts[MAX_TARGETS];
	unsigned n = 0;
	bool temp = false;
	for (unsigned i = 0; i < r->nhosts; i++) {
		struct rhost *h = &r->hosts[i];
		for (unsigned k = 0; k < h->n6; k++)
			add_target(ts, &n, h->name, &h->a6[k], r->port);
		for (unsigned k = 0; k < h->n4; k++)
			add_target(ts, &n, h->name, &h->a4[k], r->port);
		temp |= h->temp;
	}
	if (n > 0) {
		finish(r, QUEUE_ROUTE_OK, NULL, NULL, ts, n);
		return;
	}
	char err[400];
	if (temp || !r->mx) {
		snprintf(err, sizeof(err),
		         "Host or domain name not found. Name service error for name=%s type=A: "
		         "Host not found, try again",
		         r->nhosts > 0 ? r->hosts[0].name : r->name);
		finish(r, QUEUE_ROUTE_TEMPFAIL, "4.4.3", err, NULL, 0);
	} else {
		snprintf(err, sizeof(err),
		         "Host or domain name not found. Name service error for name=%s type=A: "
		         "Host not found",
		         r->nhosts > 0 ? r->hosts[0].name : r->name);
		finish(r, QUEUE_ROUTE_PERMFAIL, "5.4.4", err, NULL, 0);
	}
}

static void on_addr(const struct dns_result *res, void *ctx)
{
	struct rhost *h = ctx;
	struct queue_route *r = h->route;
	bool v6 = res->type == DNS_T_AAAA;
	if (v6)
		h->q6 = NULL;
	else
		h->q4 = NULL;
	if (res->status == DNS_OK && res->n > 0) {
		struct dns_addr *copy = xcalloc(res->n, sizeof(*copy));
		memcpy(copy, res->addr, res->n * sizeof(*copy));
		if (v6) {
			h->a6 = copy;
			h->n6 = res->n;
		} else {
			h->a4 = copy;
			h->n4 = res->n;
		}
	} else if (res->status == DNS_TEMPFAIL) {
		h->temp = true;
	}
	if (--r->pending == 0)
		hosts_done(r);
}

static void hosts_query(struct queue_route *r)
{
	r->pending = 0;
	for (unsigned i = 0; i < r->nhosts; i++)
		r->pending += 2;
	for (unsigned i = 0; i < r->nhosts; i++) {
		struct rhost *h = &r->hosts[i];
		h->route = r;
		h->q6 = dns_query(r->dns, h->name, DNS_T_AAAA, on_addr, h);
		h->q4 = dns_query(r->dns, h->name, DNS_T_A, on_addr, h);
	}
}

static void on_mx(const struct dns_result *res, void *ctx)
{
	struct queue_route *r = ctx;
	r->mxq = NULL;
	char err[400];
	switch (res->status) {
	case DNS_OK:
		if (dns_result_is_null_mx(res)) {
			snprintf(err, sizeof(err), "Domain %s does not accept mail (nullMX)",
			         r->name);
			finish(r, QUEUE_ROUTE_PERMFAIL, "5.1.10", err, NULL, 0);
			return;
		}
		r->hosts = xcalloc(res->n < MAX_HOSTS ? res->n : MAX_HOSTS, sizeof(*r->hosts));
		for (unsigned i = 0; i < res->n && r->nhosts < MAX_HOSTS; i++) {
			if (strcmp(res->mx[i].host, ".") == 0 || res->mx[i].host[0] == '\0')
				continue;
			snprintf(r->hosts[r->nhosts++].name, sizeof(r->hosts[0].name), "%s",
			         res->mx[i].host);
		}
		if (r->nhosts == 0) {
			snprintf(err, sizeof(err), "Domain %s has no usable MX host", r->name);
			finish(r, QUEUE_ROUTE_PERMFAIL, "5.4.4", err, NULL, 0);
			return;
		}
		hosts_query(r);
		return;
	case DNS_NODATA:
		/* no MX: the domain itself is the host (RFC 5321 section 5.1) */
		r->hosts = xcalloc(1, sizeof(*r->hosts));
		snprintf(r->hosts[0].name, sizeof(r->hosts[0].name), "%s", r->name);
		r->nhosts = 1;
		hosts_query(r);
		return;
	case DNS_NXDOMAIN:
	case DNS_PERMFAIL:
		snprintf(err, sizeof(err),
		         "Host or domain name not found. Name service error for name=%s type=MX: "
		         "Host not found",
		         r->name);
		finish(r, QUEUE_ROUTE_PERMFAIL, "5.4.4", err, NULL, 0);
		return;
	case DNS_TEMPFAIL:
		break;
	}
	snprintf(err, sizeof(err),
	         "Host or domain name not found. Name service error for name=%s type=MX: Host not "
	         "found, try again%s%s",
	         r->name, res->error ? ": " : "", res->error ? res->error : "");
	finish(r, QUEUE_ROUTE_TEMPFAIL, "4.4.3", err, NULL, 0);
}

static void on_literal(evutil_socket_t fd, short what, void *arg)
{
	struct queue_route *r = arg;
	(void)fd;
	(void)what;
	finish(r, QUEUE_ROUTE_OK, NULL, NULL, &r->literal, 1);
}

struct queue_route *queue_route_start(struct event_base *base, struct dns *dns, const char *name,
                                      bool mx, unsigned port, queue_route_cb *cb, void *ctx)
{
	struct queue_route *r = xcalloc(1, sizeof(*r));
	r->base = base;
	r->dns = dns;
	r->name = xstrdup(name);
	r->mx = mx;
	r->port = port;
	r->cb = cb;
	r->ctx = ctx;
	if (!mx && literal_parse(name, port, &r->literal)) {
		r->literal_ev = event_new(base, -1, 0, on_literal, r);
		event_active(r->literal_ev, EV_TIMEOUT, 0);
		return r;
	}
	if (mx) {
		r->mxq = dns_query(dns, name, DNS_T_MX, on_mx, r);
	} else {
		r->hosts = xcalloc(1, sizeof(*r->hosts));
		snprintf(r->hosts[0].name, sizeof(r->hosts[0].name), "%s", name);
		r->nhosts = 1;
		hosts_query(r);
	}
	return r;
}
