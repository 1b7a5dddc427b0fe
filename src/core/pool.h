/*
 * pool - a small thread pool for blocking work, with completions
 * delivered back into an event loop.
 *
 * Owns: N threads and a FIFO of jobs. A job's work function runs in some
 * pool thread (it may block: fsync, hashing, a database query); its done
 * function then runs in the event loop thread that created the pool,
 * never inside pool_submit(). Jobs run in submission order of start, not
 * of completion. The caller owns the job memory and frees it in done.
 *
 * pool_destroy() waits for queued and running jobs to finish and runs
 * their done functions, so nothing submitted is ever dropped silently.
 */
#ifndef VMAILD_CORE_POOL_H
#define VMAILD_CORE_POOL_H

struct event_base;
struct pool;

typedef void pool_fn(void *job);

struct pool *pool_create(struct event_base *base, unsigned nthreads);
void pool_submit(struct pool *p, pool_fn *work, pool_fn *done, void *job);
/* pool_pending: jobs submitted whose done has not run yet. */
unsigned pool_pending(const struct pool *p);
void pool_destroy(struct pool **p);

#endif
