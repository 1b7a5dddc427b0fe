/*
 * test-conn-limit.c - connections per client address across workers
 * (net/conn-limit.h).
 *
 * Slots: taken lowest first, all 256 and then -1, a released slot is
 * given again and cleared of the counts of the worker that had it;
 * releasing a bad slot or through NULL does nothing. Counting: acquire
 * returns the count including the new connection, release takes it
 * back, IPv4 and IPv6 clients are counted, the master (no slot) sees
 * counts without adding; the sum runs over every slot, also those
 * written by another process (a forked child, as a worker is).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/conn-limit.h"

static const struct sockaddr *sockaddr_of(const char *ip, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1)
		sin6->sin6_family = AF_INET6;
	else
		fail_msg("bad test address %s", ip);
	return (const struct sockaddr *)ss;
}

static void test_slots(void **state)
{
	(void)state;
	struct conn_limit *cl = conn_limit_create();
	assert_non_null(cl);
	for (int i = 0; i < CONN_LIMIT_SLOTS; i++)
		assert_int_equal(conn_limit_slot_take(cl), i);
	assert_int_equal(conn_limit_slot_take(cl), -1);
	conn_limit_slot_release(cl, 5);
	conn_limit_slot_release(cl, 200);
	assert_int_equal(conn_limit_slot_take(cl), 5);
	assert_int_equal(conn_limit_slot_take(cl), 200);
	assert_int_equal(conn_limit_slot_take(cl), -1);
	/* nothing happens for slots that do not exist, or without a table */
	conn_limit_slot_release(cl, -1);
	conn_limit_slot_release(cl, CONN_LIMIT_SLOTS);
	conn_limit_slot_release(cl, 1 << 30);
	conn_limit_slot_release(NULL, 0);
	conn_limit_slot_release(NULL, -1);
	assert_int_equal(conn_limit_slot_take(cl), -1);
	conn_limit_destroy(&cl);
	assert_null(cl);
	conn_limit_destroy(&cl);
}

static void test_counts(void **state)
{
	(void)state;
	struct conn_limit *cl = conn_limit_create();
	struct sockaddr_storage a, b, c6, m6;
	sockaddr_of("192.0.2.1", &a);
	sockaddr_of("192.0.2.2", &b);
	sockaddr_of("2001:db8::1", &c6);
	sockaddr_of("2001:db8::2", &m6);
	const struct sockaddr *sa = (const struct sockaddr *)&a, *sb = (const struct sockaddr *)&b;
	const struct sockaddr *s6 = (const struct sockaddr *)&c6,
	                      *t6 = (const struct sockaddr *)&m6;

	int slot = conn_limit_slot_take(cl);
	assert_int_equal(slot, 0);
	conn_limit_use_slot(cl, slot);
	assert_int_equal(conn_limit_acquire(cl, sa), 1);
	assert_int_equal(conn_limit_acquire(cl, sa), 2);
	assert_int_equal(conn_limit_acquire(cl, sa), 3);
	/* other addresses have their own counts (these do not share a bucket) */
	assert_int_equal(conn_limit_acquire(cl, sb), 1);
	assert_int_equal(conn_limit_acquire(cl, s6), 1);
	assert_int_equal(conn_limit_acquire(cl, s6), 2);
	assert_int_equal(conn_limit_acquire(cl, t6), 1);
	conn_limit_release(cl, sa);
	assert_int_equal(conn_limit_acquire(cl, sa), 3);
	conn_limit_release(cl, sa);
	conn_limit_release(cl, sa);
	conn_limit_release(cl, sa);
	assert_int_equal(conn_limit_acquire(cl, sa), 1);
	conn_limit_release(cl, sa);
	conn_limit_release(cl, sb);
	assert_int_equal(conn_limit_acquire(cl, sb), 1);
	conn_limit_release(cl, s6);
	assert_int_equal(conn_limit_acquire(cl, s6), 2);

	/* many: a count only goes as high as the connections */
	for (unsigned i = 1; i <= 1000; i++)
		assert_int_equal(conn_limit_acquire(cl, sa), i);
	for (unsigned i = 0; i < 1000; i++)
		conn_limit_release(cl, sa);
	assert_int_equal(conn_limit_acquire(cl, sa), 1);
	conn_limit_destroy(&cl);
}

static void test_sum_over_slots(void **state)
{
	(void)state;
	struct conn_limit *cl = conn_limit_create();
	struct sockaddr_storage a;
	const struct sockaddr *sa = sockaddr_of("198.51.100.7", &a);
	int s0 = conn_limit_slot_take(cl), s1 = conn_limit_slot_take(cl),
	    s2 = conn_limit_slot_take(cl);
	assert_true(s0 >= 0 && s1 >= 0 && s2 >= 0);

	/* the master, without a slot, sees the count and adds nothing */
	assert_int_equal(conn_limit_acquire(cl, sa), 0);
	conn_limit_release(cl, sa); /* no slot: nothing to release */
	assert_int_equal(conn_limit_acquire(cl, sa), 0);

	/* a worker process counts in slot s1 */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		conn_limit_use_slot(cl, s1);
		unsigned n1 = conn_limit_acquire(cl, sa);
		unsigned n2 = conn_limit_acquire(cl, sa);
		_exit(n1 == 1 && n2 == 2 ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(conn_limit_acquire(cl, sa), 2);

	/* this process counts in s2: the sum is over both */
	conn_limit_use_slot(cl, s2);
	assert_int_equal(conn_limit_acquire(cl, sa), 3);
	assert_int_equal(conn_limit_acquire(cl, sa), 4);
	conn_limit_release(cl, sa);
	assert_int_equal(conn_limit_acquire(cl, sa), 4);

	/* the child is gone: the master gives its slot to the next worker,
	 * and taking it clears the counts of the dead one */
	conn_limit_slot_release(cl, s1);
	assert_int_equal(conn_limit_slot_take(cl), s1);
	conn_limit_use_slot(cl, -1);
	assert_int_equal(conn_limit_acquire(cl, sa), 2);

	/* a slot released but not taken again keeps its counts */
	conn_limit_slot_release(cl, s2);
	assert_int_equal(conn_limit_acquire(cl, sa), 2);
	assert_int_equal(conn_limit_slot_take(cl), s2);
	assert_int_equal(conn_limit_acquire(cl, sa), 0);
	conn_limit_destroy(&cl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_slots),
	    cmocka_unit_test(test_counts),
	    cmocka_unit_test(test_sum_over_slots),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
