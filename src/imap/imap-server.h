/*
 * imap-server - the IMAP server of a worker: port 143 (STARTTLS) and
 * port 993 (implicit TLS).
 *
 * Owns: every IMAP session of one worker process: I/O, TLS, the command
 * parser (imap-parser.h), the state machine of RFC 9051 / RFC 3501
 * (not authenticated, authenticated, selected, logout) and the command
 * table; one file per command group (imap-cmd-*.c). Passwords are
 * checked by the lookup process (directory/lookup.h); everything that
 * touches the disk runs in the worker's thread pool (core/pool.h), so
 * the event loop never blocks. See imap-private.h for how a command is
 * added.
 */
#ifndef VMAILD_IMAP_SERVER_H
#define VMAILD_IMAP_SERVER_H

#include <stdbool.h>
#include <sys/socket.h>
#include <openssl/ssl.h>

#include "core/config.h"

struct event_base;
struct lookup_client;
struct pool;
struct conn_limit;

enum imap_service {
	IMAP_SERVICE_IMAP,  /* port 143: plain, STARTTLS offered */
	IMAP_SERVICE_IMAPS, /* port 993: TLS from the first byte */
};

struct imap_server_env {
	struct event_base *base;
	const struct config *cfg;
	SSL_CTX *tls; /* NULL: no STARTTLS, no IMAPS */
	struct lookup_client *lookup;
	struct pool *pool;             /* blocking work: the Maildir tree */
	struct conn_limit *conn_limit; /* shared counts; NULL: no limits */
	/* called after a session ended (the worker counts them) */
	void (*on_session_end)(void *ctx);
	void *ctx;
};

struct imap_server;

struct imap_server *imap_server_create(const struct imap_server_env *env);
void imap_server_destroy(struct imap_server **srv);
/* imap_server_accept: take over fd, a new connection. */
void imap_server_accept(struct imap_server *srv, int fd, const struct sockaddr *sa, int salen,
                        enum imap_service service);
unsigned imap_server_sessions(const struct imap_server *srv);
/* imap_server_shutdown: "* BYE Server shutting down." to every idle
 * session now; a session with a command running gets it when the
 * command has finished. */
void imap_server_shutdown(struct imap_server *srv);

#endif
