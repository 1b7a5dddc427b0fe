/*
 * fswatch - directory change notification for one event loop (inotify).
 *
 * Owns: one inotify instance per event loop and the subscriptions of
 * that loop's sessions to directories. IMAP IDLE sessions of one worker
 * subscribe to their mailbox's new/ and cur/; a delivery or a flag
 * change by any process (another worker, Dovecot, a shell) renames or
 * creates a file there, and every subscriber of that directory is told.
 *
 * Sharing: subscriptions to the same directory (same path string) share
 * one kernel watch, so 5 000 sessions idling on one mailbox cost one
 * watch and 5 000 small records.
 *
 * Coalescing: a subscriber's callback runs in the loop at most once per
 * delay window: the first event arms a timer of delay_ms, and whatever
 * else happens until it fires is reported by that one call. The callback
 * only says "something changed"; the subscriber syncs to learn what.
 * An inotify queue overflow wakes every subscriber.
 *
 * Limits: the kernel's max_user_watches bounds distinct directories;
 * fswatch_add() then fails (ENOSPC) and the caller falls back to polling.
 * A watched directory that is deleted or moved away wakes its
 * subscribers once; they stay subscribed but hear nothing more.
 *
 * Loop thread only; no locking.
 */
#ifndef VMAILD_NET_FSWATCH_H
#define VMAILD_NET_FSWATCH_H

struct event_base;
struct fswatch;
struct fswatch_sub;

typedef void fswatch_cb(void *ctx);

#define FSWATCH_DELAY_MS_DEFAULT 50

/* fswatch_create: NULL with *error_r (static text + errno in errno) when
 * inotify is not available. delay_ms 0 means FSWATCH_DELAY_MS_DEFAULT. */
struct fswatch *fswatch_create(struct event_base *base, unsigned delay_ms,
			       const char **error_r);
/* fswatch_destroy: every subscription must have been removed. */
void fswatch_destroy(struct fswatch **fw);

/*
 * fswatch_add: call cb(ctx) when an entry of dir is created, deleted,
 * renamed, moved in or out, or a file there is closed after writing.
 * NULL with *error_r on failure (no such directory, out of watches).
 */
struct fswatch_sub *fswatch_add(struct fswatch *fw, const char *dir, fswatch_cb *cb, void *ctx,
				const char **error_r);
/* fswatch_remove: no more calls; *sub becomes NULL. NULL is fine. */
void fswatch_remove(struct fswatch_sub **sub);

/* fswatch_watches: kernel watches held (distinct directories). */
unsigned fswatch_watches(const struct fswatch *fw);

#endif
