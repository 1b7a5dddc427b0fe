/*
 * dotlock - Dovecot's dot-lock files ("<path>.lock"), so that vmaild and
 * Dovecot 2.3 exclude each other on one mail tree.
 *
 * Owns: creating, waiting for, breaking, refreshing and removing a lock
 * file next to the file it protects, and the "replace" form in which the
 * lock file is the new file and is renamed over the old one.
 *
 * Protocol (Dovecot's file-dotlock with dotlock_use_excl = yes, its 2.3
 * default): the lock is "<path>.lock" created with O_CREAT | O_EXCL
 * (mode 0600). A "pid" lock (the dovecot-uidlist lock) holds
 * "<pid>:<hostname>" without a line end; a "replace" lock (dovecot-keywords,
 * subscriptions) is empty and receives the new contents. A waiter breaks
 * (unlinks) a lock that
 *  - names this host and a process that no longer exists (kill(pid, 0)
 *    says ESRCH), once the lock is more than 2 seconds old (younger ones
 *    may not have their pid written yet); a lock of a live local process
 *    is never broken; or
 *  - holds no usable pid and neither it nor the protected file changed
 *    (inode, size, mtime, ctime) for stale_secs: the clock starts at the
 *    lock's ctime (or its mtime when that is newer but not in the future)
 *    and is reset by any change seen while waiting. The holder keeps a
 *    long-held lock fresh with dotlock_touch().
 * A lock carrying our own pid is ours only while this process really
 * holds it (a process-wide list of held locks), so threads never break
 * each other's locks. Waiting polls every 0.1 to 1 second.
 *
 * Threads: thread-safe. Return convention as in store.h.
 */
#ifndef VMAILD_STORE_DOTLOCK_H
#define VMAILD_STORE_DOTLOCK_H

#include <stdbool.h>

struct dotlock_settings {
	unsigned timeout_secs; /* give up after this long; 0: one try (and one stale check) */
	unsigned stale_secs;   /* 0: never break a lock by age */
	bool write_pid;        /* "<pid>:<host>" into the lock; false for dotlock_replace() */
};

struct dotlock;

/*
 * dotlock_create: lock path by creating path.lock. 1: locked, *lock_r
 * set; 0: someone else held it for timeout_secs (*error_r says so);
 * -1: error (the directory is missing, permissions...).
 */
int dotlock_create(const char *path, const struct dotlock_settings *set, struct dotlock **lock_r,
                   const char **error_r);

/* dotlock_path / dotlock_lock_path: the protected file and "<path>.lock". */
const char *dotlock_path(const struct dotlock *lock);
const char *dotlock_lock_path(const struct dotlock *lock);

/* dotlock_fd: the open lock file (write the new contents here before
 * dotlock_replace()). */
int dotlock_fd(const struct dotlock *lock);

/* dotlock_is_ours: the lock file on disk is still the one we created
 * (nobody broke it as stale). */
bool dotlock_is_ours(const struct dotlock *lock);

/* dotlock_touch: set the lock's mtime to now so that waiters do not take
 * it for stale. -1 when it is no longer ours. */
int dotlock_touch(struct dotlock *lock, const char **error_r);

/*
 * dotlock_release: remove the lock and free it (*lock set to NULL). -1
 * when it had been broken by someone else meanwhile (whatever was done
 * under it may have raced); the file is then left alone.
 */
int dotlock_release(struct dotlock **lock, const char **error_r);

/*
 * dotlock_replace: the lock file becomes the protected file: fsync it,
 * check it is still ours, rename it over path, fsync the directory. The
 * lock is freed either way (*lock = NULL); on -1 the lock file is
 * removed when it is still ours.
 */
int dotlock_replace(struct dotlock **lock, const char **error_r);

#endif
