/*
 * smtp-server - the SMTP server of a worker: port 25 (MX) today,
 * submission (465/587) later on the same engine.
 *
 * Owns: every SMTP session of one worker process: the state machine
 * (smtp-session.c), one file per command (cmd-*.c), the restrictions of
 * the guide (smtp-restrict.c), and the end of a transaction: the spool
 * file, local delivery into Maildir through the worker's thread pool and
 * hand-off of remote recipients to the queue process (smtp-deliver.c).
 *
 * It asks the lookup process (directory/lookup.h), the resolver
 * (net/dns.h) and the thread pool (core/pool.h) and never blocks the
 * event loop. No 250 is sent before every copy of the message is on
 * stable storage.
 */
#ifndef VMAILD_SMTP_SERVER_H
#define VMAILD_SMTP_SERVER_H

#include <stdbool.h>
#include <sys/socket.h>
#include <openssl/ssl.h>

#include "core/config.h"

struct event_base;
struct lookup_client;
struct dns;
struct pool;
struct conn_limit;

enum smtp_service {
	SMTP_SERVICE_MX,	  /* port 25: no AUTH, the guide's smtpd restrictions */
	SMTP_SERVICE_SUBMISSION,  /* port 587: STARTTLS required, then AUTH */
	SMTP_SERVICE_SUBMISSIONS, /* port 465: implicit TLS, then AUTH */
};

struct smtp_server_env {
	struct event_base *base;
	const struct config *cfg;
	SSL_CTX *tls;			 /* NULL: no STARTTLS */
	struct lookup_client *lookup;
	struct dns *dns;		 /* NULL: no DNS-based checks */
	struct pool *pool;		 /* blocking work: fsync, Maildir */
	struct conn_limit *conn_limit;	 /* connections per client address, shared */
	const char *queue_socket;	 /* the queue process */
	/* called after a session ended (the worker counts them) */
	void (*on_session_end)(void *ctx);
	void *ctx;
};

struct smtp_server;

/* smtp_server_create: NULL with a malloc'd message (bad without_ptr file). */
struct smtp_server *smtp_server_create(const struct smtp_server_env *env, char **error_r);
void smtp_server_destroy(struct smtp_server **srv);
/* smtp_server_accept: take over fd, a new connection. */
void smtp_server_accept(struct smtp_server *srv, int fd, const struct sockaddr *sa, int salen,
			const struct sockaddr *local, enum smtp_service service);
unsigned smtp_server_sessions(const struct smtp_server *srv);
/* smtp_server_shutdown: close idle sessions now (421), let the others
 * finish their transaction and close them at their next command. */
void smtp_server_shutdown(struct smtp_server *srv);

#endif
