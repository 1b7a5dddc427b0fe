/*
 * dns - asynchronous DNS resolution with DNSSEC, on libunbound, inside a
 * libevent 2 loop.
 *
 * Owns: one libunbound context per struct dns with its background thread
 * (libunbound's threaded async mode: no forked helper, no signal
 * surprises: the thread starts with every signal blocked), the persistent
 * read event on ub_fd() that runs ub_process(), and one timer per query.
 * Create a struct dns after fork() in the process that uses it; never
 * fork while one is alive, and never touch it from another thread.
 *
 * Configuration comes from [dns] (struct config_dns): forwarders, stub
 * zones (a stub zone is never shadowed by one of libunbound's built-in
 * local zones such as test. or 2.0.192.in-addr.arpa.), trust anchors
 * (trust_anchor_file, else Debian's root anchor when dnssec = yes), the
 * per-query timeout. With no forwarders libunbound recurses from the
 * roots; /etc/resolv.conf and /etc/hosts are never read. Loopback
 * servers may be asked (do-not-query-localhost: no).
 *
 * Queries: dns_query() always answers through its callback exactly once,
 * later, from the event loop (never from inside dns_query()), unless it
 * is cancelled first; after dns_query_cancel() the callback never runs.
 * A query not answered within [dns] timeout is answered DNS_TEMPFAIL with
 * timed_out set. The result handed to a callback is owned by this module
 * and valid only during the callback; copy what you keep.
 *
 * Limits: types A, AAAA, MX, TXT, PTR, TLSA, class IN. Record data is
 * parsed with bounds checks (dns-rdata.c); a malformed record makes the
 * whole answer DNS_TEMPFAIL, never a partial answer.
 *
 * Returns: dns_create() and dns_resolve_sync() 0 / -1 style, with a
 * message in *error_r that stays valid until the next failing call of
 * either in the same thread.
 */
#ifndef VMAILD_NET_DNS_H
#define VMAILD_NET_DNS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/config.h"

struct event_base;
struct dns;
struct dns_query;

/* Record types, with their IANA numbers. */
enum dns_type {
	DNS_T_A = 1,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
	DNS_T_TLSA = 52,
};

enum dns_status {
	DNS_OK,       /* at least one record of the type asked */
	DNS_NXDOMAIN, /* the name does not exist */
	DNS_NODATA,   /* the name exists, but has no record of this type */
	DNS_TEMPFAIL, /* SERVFAIL, timeout, DNSSEC bogus, malformed answer: try later */
	DNS_PERMFAIL, /* the question cannot be asked (bad name): asking again will not help */
};

/* DNSSEC status of the answer (also of NXDOMAIN and NODATA answers). */
enum dns_sec {
	DNS_SEC_INSECURE, /* not signed, or no trust anchor covers the name */
	DNS_SEC_SECURE,   /* validated from a trust anchor */
	DNS_SEC_BOGUS,    /* validation failed; status is DNS_TEMPFAIL, see why_bogus */
};

/* RCODEs worth a name. */
#define DNS_RCODE_NOERROR  0
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3

struct dns_addr {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} u;
	char str[INET6_ADDRSTRLEN]; /* "192.0.2.1", "2001:db8::1" */
};

struct dns_mx {
	uint16_t preference;
	char *host; /* no trailing dot; "." for the root (null MX, RFC 7505) */
};

/* One TXT record: its character-strings concatenated (what SPF, DKIM and
 * DMARC read). Binary-safe: data[len] is '\0', data may hold NUL bytes. */
struct dns_txt {
	char *data;
	size_t len;
};

struct dns_tlsa {
	uint8_t usage;    /* 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE */
	uint8_t selector; /* 0 full certificate, 1 SubjectPublicKeyInfo */
	uint8_t mtype;    /* 0 exact, 1 SHA-256, 2 SHA-512 */
	uint8_t *data;
	size_t len;
};

/*
 * The answer to one query. Names are in presentation form without the
 * trailing dot; bytes outside [!-~] and '.' or '\' inside a label are
 * written as \DDD or \. and \\ (RFC 1035 master file escapes).
 * Exactly one of the record arrays is set when n > 0, the one of type.
 */
struct dns_result {
	char *name; /* the name asked, as given */
	enum dns_type type;
	enum dns_status status;
	enum dns_sec sec;
	int rcode;       /* RCODE of the answer; -1 when none came (timeout, local error) */
	bool timed_out;  /* no answer within [dns] timeout */
	char *why_bogus; /* sec == DNS_SEC_BOGUS: the validator's reason, else NULL */
	char *error;     /* status TEMPFAIL or PERMFAIL: what went wrong, else NULL */
	char *canonname; /* the name after following CNAMEs when it differs, else NULL */
	uint32_t ttl;
	unsigned n;            /* number of records */
	struct dns_addr *addr; /* A, AAAA, in answer order */
	struct dns_mx *mx;     /* MX, sorted by preference, then host */
	struct dns_txt *txt;   /* TXT, in answer order */
	char **ptr;            /* PTR names */
	struct dns_tlsa *tlsa; /* TLSA, in answer order */
};

/* The callback of a query; res is valid only until it returns. */
typedef void dns_callback(const struct dns_result *res, void *ctx);

/*
 * dns_create: a resolver on base, configured from cfg (copied; cfg may go
 * away). Bad configuration (an unparsable forwarder or stub address, an
 * unreadable trust anchor file, a trust anchor that does not parse) is
 * reported here, not at the first query. NULL with *error_r on failure.
 */
struct dns *dns_create(struct event_base *base, const struct config_dns *cfg, const char **error_r);

/*
 * dns_destroy: stop the background thread and free everything. Queries
 * still pending are dropped without their callbacks (their handles become
 * invalid): cancel them first. Not from inside a dns callback. *dns = NULL.
 */
void dns_destroy(struct dns **dns);

/*
 * dns_query: ask for name (with or without trailing dot) and type. Never
 * NULL; the returned handle is valid until the callback has returned or
 * the query is cancelled. Errors (bad name, resolver trouble) come through
 * the callback too, as DNS_PERMFAIL or DNS_TEMPFAIL.
 */
struct dns_query *dns_query(struct dns *dns, const char *name, enum dns_type type, dns_callback *cb,
                            void *ctx);

/*
 * dns_query_cancel: forget the query; its callback will not run. Safe
 * with *q == NULL, and from inside the query's own callback (then it
 * only clears *q). Sets *q = NULL.
 */
void dns_query_cancel(struct dns_query **q);

/* dns_pending: queries started and not yet answered or cancelled. */
unsigned dns_pending(const struct dns *dns);

/*
 * dns_resolve_sync: for tools (vmailctl): a private loop and resolver,
 * one query, wait for its answer. 0 with *res_r (free it with
 * dns_result_free(); its status may be any), or -1 with *error_r when
 * the resolver cannot be set up.
 */
int dns_resolve_sync(const struct config_dns *cfg, const char *name, enum dns_type type,
                     struct dns_result **res_r, const char **error_r);

/* dns_result_free: for results from dns_resolve_sync(). *res = NULL. */
void dns_result_free(struct dns_result **res);

/* dns_result_is_null_mx: the domain says it accepts no mail (RFC 7505):
 * a single MX with the root as host. */
bool dns_result_is_null_mx(const struct dns_result *res);

/*
 * dns_reverse_name: the PTR query name of an IPv4 or IPv6 address in text
 * ("192.0.2.1" -> "1.2.0.192.in-addr.arpa", IPv6 as 32 nibbles under
 * ip6.arpa; an IPv4-mapped IPv6 address counts as IPv4). out must hold
 * DNS_REVERSE_NAME_MAX bytes. 0, or -1 when ip is not an address.
 */
#define DNS_REVERSE_NAME_MAX 80
int dns_reverse_name(const char *ip, char *out, size_t outlen);
/* dns_reverse_name_sa: the same for a socket address (AF_INET, AF_INET6). */
int dns_reverse_name_sa(const struct sockaddr *sa, char *out, size_t outlen);

/* dns_addr_sockaddr: a and port as a socket address; returns its length. */
socklen_t dns_addr_sockaddr(const struct dns_addr *a, uint16_t port, struct sockaddr_storage *ss);

/* Names for logs and output. */
const char *dns_type_name(enum dns_type type);
/* dns_type_parse: "A", "aaaa", "MX"... 0, or -1 when not one we support. */
int dns_type_parse(const char *s, enum dns_type *type_r);
const char *dns_status_name(enum dns_status status);
const char *dns_sec_name(enum dns_sec sec);
/* dns_rcode_name: "NOERROR", "SERVFAIL", ... (RFC 1035, 2136); "none" for
 * -1, "UNKNOWN" for others. */
const char *dns_rcode_name(int rcode);

#endif
