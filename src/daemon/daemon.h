/*
 * daemon - the processes of vmaild: master, lookup, queue, workers.
 *
 * Owns: process roles and their start-up. The master (master.c) reads
 * the configuration, binds every listener and the two internal unix
 * sockets (<state_dir>/run/lookup.sock and queue.sock), loads TLS keys,
 * and forks the others; each child drops privileges to its configured
 * user before it serves anything. Children find the lookup and queue
 * processes through those sockets, so any child can be restarted alone
 * without re-plumbing its peers. The master never talks a mail protocol.
 */
#ifndef VMAILD_DAEMON_H
#define VMAILD_DAEMON_H

#include <stdbool.h>
#include <sys/types.h>
#include <openssl/ssl.h>

#include "core/config.h"

struct conn_limit;

/* One listening socket handed to workers. */
struct listener {
	char *proto; /* "smtp", "imap", ... (the [listen] key) */
	char *spec;  /* "127.0.0.1:25" */
	int fd;
};

struct worker_env {
	const struct config *cfg;
	struct listener *listeners;
	unsigned nlisteners;
	SSL_CTX *tls; /* NULL when [tls] cert is not set */
	char *lookup_socket;
	char *queue_socket;
	unsigned index;
	struct conn_limit *conn_limit; /* shared connection counts */
	int conn_slot;
};

/* master_run: the daemon's main after argument parsing. Exit status. */
int master_run(const char *config_path, bool check_only);

/* worker_run / queue_run: child mains. Exit status. */
int worker_run(const struct worker_env *env);
int queue_run(const struct config *cfg, int listen_fd);
/* worker_protocol_available: is [listen] key `proto` served by this build? */
bool worker_protocol_available(const char *proto);

/* privs_drop: setgroups/setgid/setuid to user:group when running as root;
 * a no-op otherwise. 0 / -1 with a static message. */
int privs_drop(const char *user, const char *group, const char **error_r);
/* privs_lookup: uid/gid of user:group when root (else our own). */
int privs_lookup(const char *user, const char *group, uid_t *uid_r, gid_t *gid_r,
		 const char **error_r);

/* dev_setup: create (or reuse) DIR for `vmaild --dev DIR`: config, TLS
 * certificate, SQLite directory with example.test and demo@example.test.
 * Prints how to log in. Returns the config path (malloc'd) or NULL. */
char *dev_setup(const char *dir);

#endif
