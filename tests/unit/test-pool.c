/*
 * test-pool.c - the thread pool (core/pool.h).
 *
 * 1000 jobs over 4 threads: every work runs once in a pool thread
 * (four of them at the same time),
 * every done runs once, after its work, in the thread that runs the
 * event loop, and never inside pool_submit(); pool_pending() counts
 * down to 0. One thread runs jobs in submission order. pool_destroy()
 * with jobs queued, running and finished-but-not-delivered runs every
 * done before it returns. The loop runs until the jobs are done, under
 * a 30 s watchdog that only fails a hung test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <event2/event.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pool.h"

struct job {
	unsigned idx;
	atomic_int work_runs;
	pthread_t work_thread;
	int done_runs;
	bool done_in_loop_thread;
	bool work_before_done;
	unsigned sleep_us;
};

static struct {
	struct event_base *base;
	struct event *watchdog;
	bool watchdog_fired;
	pthread_t loop_thread;
	int dones;
	pthread_mutex_t order_mu;
	unsigned work_order[1000], nwork;
	unsigned done_order[1000], ndone;
} T;

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	T.watchdog_fired = true;
}

static int setup(void **state)
{
	(void)state;
	memset(&T, 0, sizeof(T));
	pthread_mutex_init(&T.order_mu, NULL);
	T.loop_thread = pthread_self();
	T.base = event_base_new();
	if (T.base == NULL)
		return -1;
	T.watchdog = evtimer_new(T.base, on_watchdog, NULL);
	struct timeval tv = {30, 0};
	evtimer_add(T.watchdog, &tv);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	event_free(T.watchdog);
	event_base_free(T.base);
	pthread_mutex_destroy(&T.order_mu);
	return 0;
}

static void run_until(int target)
{
	while (T.dones < target) {
		assert_int_not_equal(event_base_loop(T.base, EVLOOP_ONCE), -1);
		if (T.watchdog_fired)
			fail_msg("hung: %d of %d jobs done after 30 s", T.dones, target);
	}
}

static void work(void *arg)
{
	struct job *j = arg;
	j->work_thread = pthread_self();
	if (j->sleep_us > 0)
		usleep(j->sleep_us);
	pthread_mutex_lock(&T.order_mu);
	if (T.nwork < 1000)
		T.work_order[T.nwork++] = j->idx;
	pthread_mutex_unlock(&T.order_mu);
	atomic_fetch_add(&j->work_runs, 1);
}

static void done(void *arg)
{
	struct job *j = arg;
	j->done_runs++;
	j->done_in_loop_thread = pthread_equal(pthread_self(), T.loop_thread);
	j->work_before_done = atomic_load(&j->work_runs) == 1;
	if (T.ndone < 1000)
		T.done_order[T.ndone++] = j->idx;
	T.dones++;
}

static void check_jobs(struct job *jobs, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (atomic_load(&jobs[i].work_runs) != 1 || jobs[i].done_runs != 1)
			fail_msg("job %u: work ran %d times, done %d times", i,
			         atomic_load(&jobs[i].work_runs), jobs[i].done_runs);
		assert_true(jobs[i].done_in_loop_thread);
		assert_true(jobs[i].work_before_done);
		assert_false(pthread_equal(jobs[i].work_thread, T.loop_thread));
	}
}

static void test_many_jobs(void **state)
{
	(void)state;
	enum { N = 1000 };
	struct job *jobs = calloc(N, sizeof(*jobs));
	assert_non_null(jobs);
	struct pool *p = pool_create(T.base, 4);
	for (unsigned i = 0; i < N; i++) {
		jobs[i].idx = i;
		jobs[i].sleep_us = i % 10 == 0 ? 100 : 0;
		pool_submit(p, work, done, &jobs[i]);
		assert_int_equal(T.dones, 0); /* never inside pool_submit */
	}
	assert_true(pool_pending(p) > 0);
	run_until(N);
	assert_int_equal(pool_pending(p), 0);
	check_jobs(jobs, N);
	pool_destroy(&p);
	assert_null(p);
	free(jobs);
}

static atomic_int together;
static atomic_bool together_ok;

/* meet: wait until 4 works run at once (gives up after 20 s, a hang guard) */
static void meet(void *arg)
{
	(void)arg;
	atomic_fetch_add(&together, 1);
	for (int i = 0; i < 200000 && atomic_load(&together) < 4; i++)
		usleep(100);
	if (atomic_load(&together) >= 4)
		atomic_store(&together_ok, true);
}

static void count_done(void *arg)
{
	(void)arg;
	T.dones++;
}

/* Four threads really run four works at the same time. */
static void test_parallel(void **state)
{
	(void)state;
	atomic_store(&together, 0);
	atomic_store(&together_ok, false);
	struct pool *p = pool_create(T.base, 4);
	for (int i = 0; i < 4; i++)
		pool_submit(p, meet, count_done, NULL);
	run_until(4);
	pool_destroy(&p);
	assert_true(atomic_load(&together_ok));
}

/* A done is not run from pool_submit even when its work finished. */
static void test_done_not_in_submit(void **state)
{
	(void)state;
	struct job a = {.idx = 0}, b = {.idx = 1};
	struct pool *p = pool_create(T.base, 2);
	pool_submit(p, work, done, &a);
	while (atomic_load(&a.work_runs) == 0)
		sched_yield();
	pool_submit(p, work, done, &b);
	assert_int_equal(a.done_runs, 0);
	assert_int_equal(pool_pending(p), 2);
	run_until(2);
	assert_int_equal(pool_pending(p), 0);
	pool_destroy(&p);
	check_jobs(&a, 1);
	check_jobs(&b, 1);
}

/* With one thread jobs start, finish and are delivered in order. */
static void test_fifo(void **state)
{
	(void)state;
	enum { N = 200 };
	struct job jobs[N];
	memset(jobs, 0, sizeof(jobs));
	struct pool *p = pool_create(T.base, 1);
	for (unsigned i = 0; i < N; i++) {
		jobs[i].idx = i;
		jobs[i].sleep_us = i % 50 == 0 ? 500 : 0;
		pool_submit(p, work, done, &jobs[i]);
	}
	run_until(N);
	pool_destroy(&p);
	check_jobs(jobs, N);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(T.work_order[i], i);
		assert_int_equal(T.done_order[i], i);
	}
}

/* nthreads 0 still makes a working pool. */
static void test_zero_threads(void **state)
{
	(void)state;
	struct job j = {.idx = 0};
	struct pool *p = pool_create(T.base, 0);
	pool_submit(p, work, done, &j);
	run_until(1);
	pool_destroy(&p);
	check_jobs(&j, 1);
}

/* pool_destroy with jobs queued and running, and some finished but not
 * yet delivered (the loop never ran): every done runs before it returns,
 * in this thread. */
static void test_destroy_runs_pending(void **state)
{
	(void)state;
	enum { N = 100 };
	struct job jobs[N];
	memset(jobs, 0, sizeof(jobs));
	struct pool *p = pool_create(T.base, 4);
	for (unsigned i = 0; i < N; i++) {
		jobs[i].idx = i;
		jobs[i].sleep_us = 1000;
		pool_submit(p, work, done, &jobs[i]);
	}
	/* wait (without the loop) until some work is finished */
	while (atomic_load(&jobs[0].work_runs) == 0)
		sched_yield();
	assert_int_equal(T.dones, 0);
	pool_destroy(&p);
	assert_null(p);
	assert_int_equal(T.dones, N);
	check_jobs(jobs, N);
	/* and the loop has nothing of the pool left to run */
	struct pool *none = NULL;
	pool_destroy(&none);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_many_jobs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_parallel, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_done_not_in_submit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fifo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_threads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_destroy_runs_pending, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
