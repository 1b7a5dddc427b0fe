/*
 * lookup - the lookup process's protocol, its server and its client.
 *
 * Owns: every question a worker or the queue asks of the directory, asked
 * over the framed IPC of core/ipc.h on the unix socket
 * <state_dir>/run/lookup.sock. The lookup process is the only one that
 * holds database credentials; it answers from a short-TTL cache or from a
 * pool of threads, each with its own struct dir, which also verify
 * passwords (slow by design) so the process's event loop never waits.
 *
 * Every answer carries a status: LOOKUP_OK, LOOKUP_TEMPFAIL (database
 * down or slow, lookup process unreachable: the caller answers 4xx or
 * NO [UNAVAILABLE]) or, for AUTH only, LOOKUP_DENIED. A query never waits
 * longer than the client's timeout. Replies are not cached when they are
 * temporary failures; AUTH is never cached.
 *
 * Client callbacks run exactly once, from the event loop, never from
 * inside the call that asked; never after lookup_cancel(). Pointers in a
 * reply are valid only during the callback.
 */
#ifndef VMAILD_DIRECTORY_LOOKUP_H
#define VMAILD_DIRECTORY_LOOKUP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/ipc.h"
#include "directory/directory.h"

enum lookup_type {
	LOOKUP_RCPT = 1,      /* address -> kind, destinations, quota */
	LOOKUP_DOMAIN = 2,    /* domain -> found */
	LOOKUP_AUTH = 3,      /* login, password -> OK / DENIED, account */
	LOOKUP_SENDAS = 4,    /* login, address -> found (= allowed) */
	LOOKUP_TLSPOLICY = 5, /* domain -> found, policy, params */
	LOOKUP_USER = 6,      /* address -> found (enabled, may receive), quota */
	LOOKUP_PING = 7,      /* -> OK when the database answers */
};

enum lookup_status { LOOKUP_OK = 0, LOOKUP_TEMPFAIL = 1, LOOKUP_DENIED = 2 };

struct lookup_reply {
	enum lookup_type type;
	enum lookup_status status;
	bool found;
	enum dir_rcpt_kind kind; /* RCPT */
	const char *address;	 /* RCPT, AUTH, USER: canonical address */
	unsigned quota_mb;	 /* RCPT (account), AUTH, USER */
	bool sendonly;		 /* AUTH, USER */
	const char *policy;	 /* TLSPOLICY */
	const char *params;	 /* TLSPOLICY, may be NULL */
	const char *const *dest; /* RCPT alias / catch-all */
	unsigned ndest;
	const char *error;	 /* TEMPFAIL: why, for logs */
};

const char *lookup_type_name(enum lookup_type t);
const char *lookup_status_name(enum lookup_status s);

/* ---- client ---- */

struct event_base;
struct lookup_client;
typedef void lookup_cb(const struct lookup_reply *r, void *ctx);

/* lookup_client_create: connects lazily to socket_path, and again after
 * the lookup process restarted. timeout_ms bounds every query. */
struct lookup_client *lookup_client_create(struct event_base *base, const char *socket_path,
					   unsigned timeout_ms);
void lookup_client_destroy(struct lookup_client **c);
uint32_t lookup_rcpt(struct lookup_client *c, const char *address, lookup_cb *cb, void *ctx);
uint32_t lookup_domain(struct lookup_client *c, const char *domain, lookup_cb *cb, void *ctx);
uint32_t lookup_auth(struct lookup_client *c, const char *login, const char *password,
		     lookup_cb *cb, void *ctx);
uint32_t lookup_sendas(struct lookup_client *c, const char *login, const char *address,
		       lookup_cb *cb, void *ctx);
uint32_t lookup_tlspolicy(struct lookup_client *c, const char *domain, lookup_cb *cb, void *ctx);
uint32_t lookup_user(struct lookup_client *c, const char *address, lookup_cb *cb, void *ctx);
uint32_t lookup_ping(struct lookup_client *c, lookup_cb *cb, void *ctx);
void lookup_cancel(struct lookup_client *c, uint32_t id);
/* lookup_client_pending: queries in flight. */
unsigned lookup_client_pending(const struct lookup_client *c);

/* lookup_reply_decode: decode a reply frame of type t (for tools that
 * speak the protocol directly). 0 / -1 (malformed). dest is allocated
 * in *dest_r (free() it). */
int lookup_reply_decode(struct ipc_msg *m, enum lookup_type t, struct lookup_reply *r,
			const char ***dest_r);
/* lookup_request_encode: the request frame of a query (args as for the
 * calls above; NULL where a query takes fewer). */
void lookup_request_encode(struct ipc_msg *m, enum lookup_type t, const char *a,
			   const char *b);

/* ---- server (the lookup process) ---- */

/* lookup_server_run: the lookup process's main: serve listen_fd until
 * SIGTERM. Returns the exit status. */
int lookup_server_run(const struct config *cfg, int listen_fd);

#endif
