/*
 * test-id.c - session and queue ids (core/id.h).
 *
 * 100 000 ids in a row: 15 characters of the documented alphabet, the
 * pid in characters 12-14, each greater than the one before (so
 * sorting sorts by creation) and so all different. Then ids made at
 * the same time by two processes, and by four threads of one process:
 * no id may appear twice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/id.h"

#define ALPHABET "0123456789ABCDEFGHJKLMNPQRSTVWXZ"
#define N	 100000

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
	char (*ids)[ID_LEN] = calloc(N, ID_LEN);
	assert_non_null(ids);
	unsigned pid = (unsigned)getpid() & 0x7fff;
	char pidpart[4] = {ALPHABET[(pid >> 10) & 31], ALPHABET[(pid >> 5) & 31],
			   ALPHABET[pid & 31], '\0'};
	for (size_t i = 0; i < N; i++) {
		id_new(ids[i]);
		assert_int_equal(strlen(ids[i]), ID_LEN - 1);
		assert_int_equal(strspn(ids[i], ALPHABET), ID_LEN - 1);
		assert_memory_equal(ids[i] + 11, pidpart, 3);
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

/* Parent and child make ids at the same time: none shared. */
static void test_two_processes(void **state)
{
	(void)state;
	const size_t n = 50000;
	char (*ids)[ID_LEN] = mmap(NULL, 2 * n * ID_LEN, PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
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
	if (d >= 0)
		fail_msg("id %s made twice by two processes", ids[d]);
	munmap(ids, 2 * n * ID_LEN);
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
	char (*ids)[ID_LEN] = calloc(NT * n, ID_LEN);
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
		fail_msg("id %s made twice by threads of one process (%zu repeats in %zu ids)",
			 ids[d], dups, NT * n);
	}
	free(ids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sequence),
	    cmocka_unit_test(test_two_processes),
	    cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
