/*
 * queue - the outbound queue: spool files, envelopes, routes, bounces
 * and the scheduler that delivers to the world.
 *
 * Owns: everything below <state_dir>/queue (only the queue process
 * changes it; vmailctl reads it and asks the queue process for changes):
 *   incoming/<qid>  spool files of workers, linked into msg/ when queued
 *   msg/<qid>       the message: `offset` bytes of our own header lines
 *                   (Return-Path...) to skip, then the message, LF line ends
 *   env/<qid>       the envelope (text, below), replaced atomically
 *
 * Envelope file (queue-spool.c), one item per line:
 *   vmaild-envelope 1
 *   qid QID
 *   arrival UNIXTIME
 *   offset BYTES
 *   sender ADDRESS          (empty for <>)
 *   kind bounce|double      (optional: a report we made / one about a report)
 *   hold yes                (optional: not tried until released)
 *   rcpt ADDRESS
 *   state STATE TRIES NEXT DEPTH STATUS RELAY DIAG...   (optional, after its rcpt)
 * STATE is pending, deferred, sent, failed (a report is owed), bounced
 * (the report was queued, or dropped) or expanded (a local alias replaced
 * by its destinations, appended as rcpt lines of DEPTH + 1); STATUS is an
 * enhanced status code or "-", RELAY "-" or "host[ip]:port" or "local",
 * DIAG the rest of the line (printable ASCII). A rcpt without a state
 * line is pending.
 *
 * Durability (the rules of docs/queue.md): an envelope is replaced by
 * tmp + fsync + rename + fsync of env/ after every delivery attempt; a
 * message is removed (env/ first, then msg/) only when every recipient is
 * done. A crash between a remote server's 250 and the envelope update
 * means one duplicate, never a loss.
 *
 * Returns: 0 / -1 with a malloc'd message in *error_r unless stated.
 */
#ifndef VMAILD_SMTP_QUEUE_H
#define VMAILD_SMTP_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "core/buf.h"
#include "core/config.h"

#define QUEUE_QID_MAX   32
#define QUEUE_MAX_DEPTH 8 /* alias expansions inside the queue */
#define QUEUE_ENV_MAX   (16u * 1024 * 1024)
#define QUEUE_DIAG_MAX  900   /* bytes of a diagnostic kept */
#define QUEUE_ENV_RCPTS 20000 /* recipients of one envelope, expansions included */

/* ---- envelopes (queue-spool.c) ---- */

enum queue_kind {
	QUEUE_KIND_NORMAL, /* mail of a user */
	QUEUE_KIND_BOUNCE, /* a delivery status notification we made (sender <>) */
	QUEUE_KIND_DOUBLE, /* a report about a report that failed, to the postmaster */
};

enum queue_rcpt_state {
	QR_PENDING,
	QR_DEFERRED,
	QR_SENT,
	QR_FAILED,
	QR_BOUNCED,
	QR_EXPANDED,
};

struct queue_rcpt {
	char *address;
	enum queue_rcpt_state state;
	unsigned tries;
	time_t next;     /* deferred: not before */
	unsigned depth;  /* alias expansions that led here */
	char status[16]; /* "5.1.1", "" when none */
	char *relay;     /* NULL, "local", "host[ip]:port" */
	char *diag;      /* NULL, or "550 5.1.1 ..." (a reply) or a text of ours */
};

struct queue_env {
	char qid[QUEUE_QID_MAX + 1];
	time_t arrival;
	uint64_t offset;
	char *sender; /* "" for <> */
	enum queue_kind kind;
	bool hold;
	struct queue_rcpt *rcpts;
	unsigned nrcpts;
};

bool queue_qid_valid(const char *qid);
const char *queue_rcpt_state_name(enum queue_rcpt_state st);
const char *queue_kind_name(enum queue_kind k);
/* queue_rcpt_done: nothing more will be done for a recipient in st. */
bool queue_rcpt_done(enum queue_rcpt_state st);

/* queue_env_parse: len bytes of an envelope file into env (zeroed first;
 * free with queue_env_free even on failure). error_r: static. */
int queue_env_parse(const char *data, size_t len, struct queue_env *env, const char **error_r);
void queue_env_format(const struct queue_env *env, struct buf *out);
void queue_env_free(struct queue_env *env);
/* queue_env_add_rcpt: append a pending recipient; returns it. */
struct queue_rcpt *queue_env_add_rcpt(struct queue_env *env, const char *address, unsigned depth);
/* queue_rcpt_set: record an outcome (status NULL keeps "", relay/diag NULL clears). */
void queue_rcpt_set(struct queue_rcpt *r, enum queue_rcpt_state st, const char *status,
                    const char *relay, const char *diag);

/* The directories below <state_dir>/queue. */
struct queue_dirs {
	char *top, *incoming, *msg, *env;
};
void queue_dirs_init(struct queue_dirs *d, const char *state_dir);
void queue_dirs_free(struct queue_dirs *d);

/* queue_env_load: read env/<qid>. 1 loaded, 0 no such file, -1 error. */
int queue_env_load(const struct queue_dirs *d, const char *qid, struct queue_env *env,
                   char **error_r);
/* queue_env_store: write env/<qid> atomically and durably. */
int queue_env_store(const struct queue_dirs *d, const struct queue_env *env, char **error_r);
/*
 * queue_spool_commit: make a complete file of incoming/ a queued message:
 * link it to msg/<qid>, fsync it and msg/, then store env. spool must be
 * incoming/<qid>. The caller unlinks the spool name afterwards.
 */
int queue_spool_commit(const struct queue_dirs *d, const char *spool, const struct queue_env *env,
                       char **error_r);
/* queue_spool_create: write data (len bytes, offset already inside) as a
 * new queued message with env (its qid used): incoming/, fsync, commit. */
int queue_spool_create(const struct queue_dirs *d, const char *data, size_t len,
                       const struct queue_env *env, char **error_r);
/* queue_spool_remove: unlink env/<qid> (fsync env/), then msg/<qid>. */
int queue_spool_remove(const struct queue_dirs *d, const char *qid, char **error_r);
/* queue_msg_path: "<msg>/<qid>", malloc'd. */
char *queue_msg_path(const struct queue_dirs *d, const char *qid);

/*
 * queue_read_headers: the header section of a queued message (from
 * offset to the empty line), at most max bytes, cut at a line end; LF line
 * ends. 0 / -1 (error_r static).
 */
int queue_read_headers(const char *msg_path, uint64_t offset, size_t max, struct buf *out,
                       const char **error_r);

/* ---- delivery status notifications (queue-bounce.c) ---- */

struct queue_dsn {
	const struct queue_env *orig; /* its QR_FAILED recipients are reported */
	const char *orig_msg_path;    /* for the headers of the original */
	const char *reporting_mta;    /* our host name */
	const char *to;               /* who gets the report */
	const char *qid;              /* the report's own queue id */
	bool expired;                 /* the lifetime ran out (says so in the text) */
	time_t now;
};

/* queue_dsn_compose: the report as a queue message file (Return-Path
 * line, then an RFC 3464 multipart/report); *offset_r where the message
 * starts. Returns the number of recipients reported. */
unsigned queue_dsn_compose(const struct queue_dsn *in, struct buf *out, uint64_t *offset_r);
/* queue_rfc5322_date: "Mon, 2 Jan 2006 15:04:05 +0000" of t (local time). */
void queue_rfc5322_date(time_t t, char *out, size_t outlen);

/* ---- where mail goes (queue-route.c) ---- */

/* queue_nexthop_parse: host, host:port, [host], [host]:port; the host
 * without brackets into host_r (malloc'd), default_port when none. */
int queue_nexthop_parse(const char *spec, unsigned default_port, char **host_r, unsigned *port_r,
                        const char **error_r);
/* queue_transport_find: the [transport] nexthop of domain: exact key, or
 * a ".parent" key for a subdomain; NULL when none. */
const char *queue_transport_find(const struct cfg_list *transport, const char *domain);
/* queue_address_domain: the domain of address (after the last '@'), "" when none. */
const char *queue_address_domain(const char *address);
/* queue_address_is_utf8: any byte >= 0x80. */
bool queue_address_is_utf8(const char *address);
/* queue_host_is_literal: an IPv4 or IPv6 address in text. */
bool queue_host_is_literal(const char *host);

struct dns;
struct event_base;
struct queue_route;

/* One place to try, in order. */
struct queue_target {
	char host[256]; /* the MX or relay host name (or the address literal) */
	struct sockaddr_storage ss;
	socklen_t sslen;
	char ip[48];
	unsigned port;
};

enum queue_route_status {
	QUEUE_ROUTE_OK,
	QUEUE_ROUTE_TEMPFAIL, /* defer: DNS trouble */
	QUEUE_ROUTE_PERMFAIL, /* bounce: no such domain, null MX */
};

struct queue_route_result {
	enum queue_route_status status;
	const char *enhanced; /* for the failures: "4.4.3", "5.1.10", "5.4.4" */
	const char *error;    /* why, for logs and reports */
	const struct queue_target *targets;
	unsigned ntargets;
};

typedef void queue_route_cb(const struct queue_route_result *r, void *ctx);

/*
 * queue_route_start: the targets of a destination. With mx, name is a
 * domain: its MX hosts in preference order (null MX: PERMFAIL 5.1.10; no
 * MX: the domain's own addresses), each host's IPv6 then IPv4 addresses,
 * at most 20 targets; without mx, name is a host (or address literal)
 * whose addresses are tried. The callback runs once, later, never from
 * inside this call; the result is valid during it only.
 */
struct queue_route *queue_route_start(struct event_base *base, struct dns *dns, const char *name,
                                      bool mx, unsigned port, queue_route_cb *cb, void *ctx);
void queue_route_cancel(struct queue_route **r);

/* ---- local delivery in a pool thread (queue-local.c) ---- */

struct queue_local_rcpt {
	unsigned idx;      /* the recipient's index in the envelope (the caller's) */
	char *mailbox;     /* the account (canonical address from the lookup) */
	unsigned quota_mb; /* its quota */
	int status;        /* result: 0 delivered, 1 permanent (quota), -1 temporary */
	char *error;
	char *path; /* the new file when delivered */
};

struct queue_local_job {
	const struct config *cfg;
	char qid[QUEUE_QID_MAX + 1];
	char *msg_path;
	uint64_t offset;
	char *sender;
	char *incoming; /* directory for the per-recipient files */
	struct queue_local_rcpt *r;
	unsigned n;
	void *owner; /* the scheduler's */
};

/* queue_local_work: the pool function: deliver every r[]. Blocking. */
void queue_local_work(void *job);
void queue_local_job_free(struct queue_local_job *j);

/* ---- the scheduler (queue-sched.c) ---- */

struct queue_sched;

/* queue_sched_create: the scheduler of the queue process; it starts
 * delivering once queue_sched_start() was called (after the spool lock).
 * The lookup process is reached at <state_dir>/run/lookup.sock. */
struct queue_sched *queue_sched_create(struct event_base *base, const struct config *cfg,
                                       const char **error_r);
/* queue_sched_start: scan env/ and schedule everything. */
void queue_sched_start(struct queue_sched *s);
/* queue_sched_destroy: stop every delivery (what was sent is recorded;
 * the rest is tried again by the next queue process) and free. */
void queue_sched_destroy(struct queue_sched **s);
const struct queue_dirs *queue_sched_dirs(const struct queue_sched *s);
/* queue_sched_submit: a worker's message (spool file in incoming/) to
 * queue. 0 when durable (the sender may say 250). */
int queue_sched_submit(struct queue_sched *s, const char *qid, const char *spool, uint64_t offset,
                       const char *sender, const char *const *rcpts, unsigned n, char **error_r);
/* queue_sched_flush: every message not on hold is tried now. */
void queue_sched_flush(struct queue_sched *s);
/* The administrator's commands: 1 done, 0 no such message, -1 error. */
int queue_sched_delete(struct queue_sched *s, const char *qid, char **error_r);
int queue_sched_hold(struct queue_sched *s, const char *qid, bool hold, char **error_r);

#endif
