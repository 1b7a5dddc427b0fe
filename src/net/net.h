/*
 * net - listening sockets and TLS contexts.
 *
 * Owns: opening the TCP and unix listening sockets the master binds
 * before it forks (listen_*), and the server TLS context of the guide's
 * settings (tls_*): TLS 1.2 and 1.3 only, Mozilla's "intermediate"
 * cipher list, the configured certificate chain and key. The master
 * loads keys before privileges drop; workers inherit the context.
 * Returns: an fd or a context, or -1 / NULL with a static or
 * thread-local message in *error_r.
 */
#ifndef VMAILD_NET_H
#define VMAILD_NET_H

#include <sys/types.h>
#include <openssl/ssl.h>

#include "core/config.h"

/* listen_tcp: bind and listen on "ip:port" (see core/addr.h); the fd is
 * non-blocking and close-on-exec. */
int listen_tcp(const char *spec, const char **error_r);
/* listen_unix: replace a stale socket file at path, bind, chmod mode. */
int listen_unix(const char *path, mode_t mode, const char **error_r);

/* tls_server_ctx: a server context for cfg->cert / cfg->key. */
SSL_CTX *tls_server_ctx(const struct config_tls *cfg, const char **error_r);
/* tls_make_selfsigned: write a new EC P-256 key and a self-signed
 * certificate for cn (10 years) to the two paths (0600 key). 0 / -1. */
int tls_make_selfsigned(const char *cert_path, const char *key_path, const char *cn,
			const char **error_r);

#endif
