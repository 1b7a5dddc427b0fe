/*
 * test-id.c - session and queue ids (core/id.h).
 *
 * 100 000 ids in a row: 17 characters of the documented alphabet, the
 * pid in characters 12-16, each greater than the one before (so
 * sorting sorts by creation) and so all different. The same with the
 * clock stopped (a burst within one microsecond) and with the clock
 * stepped back. Then ids made at the same time by two processes, and by
 * threads of one process: no id may appear twice.
 *
 * The clock: this program defines gettimeofday() itself, so id.c (linked
 * in statically) calls ours; it passes the real time through unless a
 * test stops it at a time of its choosing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/id.h"

#define ALPHABET "0123456789ABCDEFGHJKLMNPQRSTVWXZ"
#define N        100000

static atomic_bool clock_stopped;
static struct timeval stopped_at;

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	(void)tz;
	if (atomic_load(&clock_stopped)) {
		*tv = stopped_at;
		return 0;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}

static void stop_clock(time_t sec, suseconds_t usec)
{
	stopped_at.tv_sec = sec;
	stopped_at.tv_usec = usec;
	atomic_store(&clock_stopped, true);
}

static void start_clock(void)
{
	atomic_store(&clock_stopped, false);
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* first_duplicate: sort n ids and return the index of one that repeats,
 * or -1. */
static long first_duplicate(char (*ids)[ID_LEN], size_t n)
{
	qsort(ids, n, ID_LEN, cmp_id);
	for (size_t i = 1; i < n; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0)
			return (long)i;
	return -1;
}

static void test_sequence(void **state)
{
	(void)state;
	char(*ids)[ID_LEN] = calloc(N, ID_LEN);
	assert_non_null(ids);
	unsigned pid = (unsigned)getpid() & 0x1ffffff;
	char pidpart[6] = {ALPHABET[(pid >> 20) & 31], ALPHABET[(pid >> 15) & 31],
	                   ALPHABET[(pid >> 10) & 31], ALPHABET[(pid >> 5) & 31],
	                   ALPHABET[pid & 31], '\0'};
	for (size_t i = 0; i < N; i++) {
		id_new(ids[i]);
		assert_int_equal(strlen(ids[i]), ID_LEN - 1);
		assert_int_equal(strspn(ids[i], ALPHABET), ID_LEN - 1);
		assert_memory_equal(ids[i] + 11, pidpart, 5);
		if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0)
			fail_msg("id %zu '%s' is not after '%s'", i, ids[i], ids[i - 1]);
	}
	/* the alphabet has no I, O, U, Y and is in ASCII order */
	assert_int_equal(strlen(ALPHABET), 32);
	assert_null(strpbrk(ALPHABET, "IOUY"));
	for (int i = 1; i < 32; i++)
		assert_true(ALPHABET[i - 1] < ALPHABET[i]);
	assert_int_equal(first_duplicate(ids, N), -1);
	free(ids);
}

/* A stopped clock (a burst in one microsecond), then a clock stepped
 * back by a minute: still ascending, still unique. */
static void test_stopped_and_stepped_clock(void **state)
{
	(void)state;
	enum { M = 3000 };
	char(*ids)[ID_LEN] = calloc(3 * M, ID_LEN);
	assert_non_null(ids);
	/* after every real id made so far in this thread */
	struct timeval now;
	gettimeofday(&now, NULL);
	stop_clock(now.tv_sec + 3600, 0);
	for (size_t i = 0; i < M; i++)
		id_new(ids[i]);
	stop_clock(now.tv_sec + 3600, 1);
	for (size_t i = M; i < 2 * M; i++)
		id_new(ids[i]);
	stop_clock(now.tv_sec + 3540, 0);
	for (size_t i = 2 * M; i < 3 * M; i++)
		id_new(ids[i]);
	start_clock();
	for (size_t i = 1; i < 3 * M; i++)
		if (strcmp(ids[i - 1], ids[i]) >= 0) {
			char a[ID_LEN], b[ID_LEN];
			memcpy(a, ids[i - 1], ID_LEN);
			memcpy(b, ids[i], ID_LEN);
			free(ids);
			fail_msg("id %zu '%s' is not after '%s'", i, b, a);
		}
	free(ids);
}

/* Parent and child make ids at the same time: none shared. */
static void test_two_processes(void **state)
{
	(void)state;
	const size_t n = 50000;
	char(*ids)[ID_LEN] =
	    mmap(NULL, 2 * n * ID_LEN, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(ids != MAP_FAILED);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (size_t i = 0; i < n; i++)
			id_new(ids[n + i]);
		_exit(0);
	}
	for (size_t i = 0; i < n; i++)
		id_new(ids[i]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	long d = first_duplicate(ids, 2 * n);
	char id[ID_LEN] = "";
	if (d >= 0)
		memcpy(id, ids[d], ID_LEN);
	munmap(ids, 2 * n * ID_LEN);
	if (d >= 0)
		fail_msg("id %s made twice by two processes", id);
}

struct thread_ids {
	pthread_t t;
	char (*ids)[ID_LEN];
	size_t n;
	pthread_barrier_t *start;
	bool ordered;
};

static void *make_ids(void *arg)
{
	struct thread_ids *t = arg;
	pthread_barrier_wait(t->start);
	t->ordered = true;
	for (size_t i = 0; i < t->n; i++) {
		id_new(t->ids[i]);
		if (i > 0 && strcmp(t->ids[i - 1], t->ids[i]) >= 0)
			t->ordered = false;
	}
	return NULL;
}

/*
 * Four threads of one process at once. They share the pid characters,
 * and each thread has its own counter (id.c: static __thread), so two
 * threads in the same microsecond both make <time><pid>0: the same id.
 * This test shows that bug; it passes once ids are unique across the
 * threads of a process.
 */
static void test_threads(void **state)
{
	(void)state;
	enum { NT = 4 };
	const size_t n = 50000;
	char(*ids)[ID_LEN] = calloc(NT * n, ID_LEN);
	assert_non_null(ids);
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, NT);
	struct thread_ids t[NT];
	for (int i = 0; i < NT; i++) {
		t[i] = (struct thread_ids){.ids = ids + i * n, .n = n, .start = &start};
		assert_int_equal(pthread_create(&t[i].t, NULL, make_ids, &t[i]), 0);
	}
	for (int i = 0; i < NT; i++) {
		pthread_join(t[i].t, NULL);
		assert_true(t[i].ordered);
	}
	pthread_barrier_destroy(&start);
	long d = first_duplicate(ids, NT * n);
	if (d >= 0) {
		size_t dups = 0;
		for (size_t i = 1; i < NT * n; i++)
			dups += strcmp(ids[i - 1], ids[i]) == 0;
		char id[ID_LEN];
		memcpy(id, ids[d], ID_LEN);
		free(ids);
		fail_msg("id %s made twice by threads of one process (%zu repeats in %zu ids)", id,
		         dups, NT * n);
	}
	free(ids);
}

struct one_id {
	pthread_t t;
	char id[3][ID_LEN];
};

static void *make_three(void *arg)
{
	struct one_id *o = arg;
	for (int i = 0; i < 3; i++)
		id_new(o->id[i]);
	return NULL;
}

/*
 * The same, made certain: with the clock stopped, a thread makes three
 * ids and ends, then another thread makes three. Each id must be new.
 * Today the second thread starts its own counter at 0 and repeats the
 * first thread's ids exactly.
 */
static void test_threads_same_microsecond(void **state)
{
	(void)state;
	struct one_id o[2];
	stop_clock(2000000000, 123456);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_create(&o[i].t, NULL, make_three, &o[i]), 0);
		pthread_join(o[i].t, NULL);
	}
	start_clock();
	for (int i = 0; i < 3; i++)
		for (int k = 0; k < 3; k++)
			if (strcmp(o[0].id[i], o[1].id[k]) == 0)
				fail_msg("two threads of one process both made id %s", o[0].id[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sequence),
	    cmocka_unit_test(test_stopped_and_stepped_clock),
	    cmocka_unit_test(test_two_processes),
	    cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_threads_same_microsecond),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
