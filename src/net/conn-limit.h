/*
 * conn-limit - simultaneous connections per client address, counted
 * across every worker process (what Postfix's anvil does for
 * smtpd_client_connection_count_limit).
 *
 * Owns: one shared anonymous mapping made by the master before it forks:
 * CONN_LIMIT_SLOTS slots of CONN_LIMIT_BUCKETS 16-bit counters. Each
 * worker counts in its own slot (so a worker that dies takes its counts
 * with it: the master clears the slot before giving it to the next
 * worker); an address's count is the sum of its bucket over all slots.
 * Addresses share a bucket by hash, so a count can only be too high,
 * never too low, and only for addresses that collide.
 */
#ifndef VMAILD_NET_CONN_LIMIT_H
#define VMAILD_NET_CONN_LIMIT_H

#include <sys/socket.h>

#define CONN_LIMIT_SLOTS	 256
#define CONN_LIMIT_BUCKETS	 4096
#define CONN_LIMIT_FAIL_BUCKETS	 4096
#define CONN_LIMIT_FAIL_FORGET	 (15 * 60) /* seconds without a failure */

struct conn_limit;

struct conn_limit *conn_limit_create(void);
void conn_limit_destroy(struct conn_limit **cl);
/* master: a free slot, cleared, or -1 when all are taken */
int conn_limit_slot_take(struct conn_limit *cl);
void conn_limit_slot_release(struct conn_limit *cl, int slot);
/* worker: count in this slot from now on */
void conn_limit_use_slot(struct conn_limit *cl, int slot);
/* conn_limit_acquire: count a new connection from sa; returns the number
 * of connections from sa including this one. */
unsigned conn_limit_acquire(struct conn_limit *cl, const struct sockaddr *sa);
void conn_limit_release(struct conn_limit *cl, const struct sockaddr *sa);

/*
 * Keyed counts ("imap:user@domain\n1.2.3.4" for IMAP's
 * max_userip_connections): the same scheme as the per-address counts,
 * in their own buckets, hashed from the key. acquire returns the count
 * including this one; every acquire needs one release with the same key.
 */
unsigned conn_limit_key_acquire(struct conn_limit *cl, const char *key);
void conn_limit_key_release(struct conn_limit *cl, const char *key);

/*
 * Recent failures (failed AUTH) per key - "ip:1.2.3.4", "user:a@b" -
 * shared by all workers the same way. A count is forgotten after
 * CONN_LIMIT_FAIL_FORGET seconds without a new failure. Keys share
 * buckets by hash: a count can only be too high.
 */
unsigned conn_limit_fail_count(struct conn_limit *cl, const char *key);
void conn_limit_fail_add(struct conn_limit *cl, const char *key);

#endif
