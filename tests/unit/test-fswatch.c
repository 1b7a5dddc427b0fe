/*
 * test-fswatch.c - directory change notification (net/fswatch.h).
 *
 * A file created, renamed in, renamed out or deleted wakes every
 * subscriber of the directory once per delay window; subscribers of one
 * directory share one kernel watch and a removed one is never called;
 * a callback may remove subscriptions (its own and another pending
 * one); another directory's changes wake nobody else; a missing
 * directory is refused; a deleted directory wakes once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/fswatch.h"

struct counter {
	unsigned calls;
	struct fswatch_sub **remove_on_call; /* removed by the callback */
};

static void on_change(void *ctx)
{
	struct counter *c = ctx;
	c->calls++;
	if (c->remove_on_call != NULL)
		fswatch_remove(c->remove_on_call);
}

static char dir[64];
static char dir2[80];

static void make_dirs(void)
{
	strcpy(dir, "/tmp/fswatch-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(dir2, sizeof(dir2), "%s/other", dir);
	assert_int_equal(mkdir(dir2, 0700), 0);
}

static void touch(const char *d, const char *name)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", d, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("x", f);
	fclose(f);
}

/* run the loop for ms milliseconds */
static void run_for(struct event_base *base, unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void test_basic(void **state)
{
	(void)state;
	make_dirs();
	struct event_base *base = event_base_new();
	const char *error;
	struct fswatch *fw = fswatch_create(base, 20, &error);
	assert_non_null(fw);

	struct counter a = {0}, b = {0}, c = {0};
	struct fswatch_sub *sa = fswatch_add(fw, dir, on_change, &a, &error);
	struct fswatch_sub *sb = fswatch_add(fw, dir, on_change, &b, &error);
	struct fswatch_sub *sc = fswatch_add(fw, dir2, on_change, &c, &error);
	assert_non_null(sa);
	assert_non_null(sb);
	assert_non_null(sc);
	assert_int_equal(fswatch_watches(fw), 2);

	run_for(base, 60);
	assert_int_equal(a.calls, 0);

	/* several changes inside one window: one call each */
	touch(dir, "one");
	touch(dir, "two");
	run_for(base, 100);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	assert_int_equal(c.calls, 0);

	/* a rename in the directory, then a rename out, then a delete */
	char from[256], to[256];
	snprintf(from, sizeof(from), "%s/one", dir);
	snprintf(to, sizeof(to), "%s/one:2,S", dir);
	assert_int_equal(rename(from, to), 0);
	run_for(base, 100);
	assert_int_equal(a.calls, 2);
	snprintf(from, sizeof(from), "%s/moved", dir2);
	assert_int_equal(rename(to, from), 0);
	run_for(base, 100);
	assert_int_equal(a.calls, 3);
	assert_int_equal(c.calls, 1);
	assert_int_equal(unlink(from), 0);
	run_for(base, 100);
	assert_int_equal(c.calls, 2);
	assert_int_equal(a.calls, 3);

	/* removed: never called again; the watch stays for b */
	fswatch_remove(&sa);
	assert_null(sa);
	assert_int_equal(fswatch_watches(fw), 2);
	touch(dir, "three");
	run_for(base, 100);
	assert_int_equal(a.calls, 3);
	assert_int_equal(b.calls, 4);

	fswatch_remove(&sb);
	assert_int_equal(fswatch_watches(fw), 1);
	fswatch_remove(&sc);
	assert_int_equal(fswatch_watches(fw), 0);
	fswatch_remove(&sc); /* NULL is fine */

	fswatch_destroy(&fw);
	event_base_free(base);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_remove_in_callback(void **state)
{
	(void)state;
	make_dirs();
	struct event_base *base = event_base_new();
	const char *error;
	struct fswatch *fw = fswatch_create(base, 20, &error);
	assert_non_null(fw);

	/* a removes itself, b removes c while c is pending too */
	struct counter a = {0}, b = {0}, c = {0};
	struct fswatch_sub *sa = fswatch_add(fw, dir, on_change, &a, &error);
	struct fswatch_sub *sc = fswatch_add(fw, dir, on_change, &c, &error);
	struct fswatch_sub *sb = fswatch_add(fw, dir, on_change, &b, &error);
	a.remove_on_call = &sa;
	b.remove_on_call = &sc;
	touch(dir, "x");
	run_for(base, 100);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	assert_null(sa);
	assert_null(sc);
	/* c was either called before b removed it, or never */
	assert_true(c.calls <= 1);
	unsigned c_before = c.calls;

	b.remove_on_call = NULL;
	touch(dir, "y");
	run_for(base, 100);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 2);
	assert_int_equal(c.calls, c_before);

	/* a missing directory is refused */
	struct counter d = {0};
	char missing[128];
	snprintf(missing, sizeof(missing), "%s/nope", dir);
	assert_null(fswatch_add(fw, missing, on_change, &d, &error));
	assert_string_equal(error, "no such directory");

	/* the watched directory deleted: one wake-up, then silence */
	struct counter e = {0};
	struct fswatch_sub *se = fswatch_add(fw, dir2, on_change, &e, &error);
	assert_non_null(se);
	assert_int_equal(rmdir(dir2), 0);
	run_for(base, 100);
	assert_int_equal(e.calls, 1);
	/* it comes back: a new subscriber to the path watches it anew */
	assert_int_equal(mkdir(dir2, 0700), 0);
	struct counter f = {0};
	struct fswatch_sub *sf = fswatch_add(fw, dir2, on_change, &f, &error);
	assert_non_null(sf);
	touch(dir2, "z");
	run_for(base, 100);
	assert_int_equal(f.calls, 1);

	fswatch_remove(&se);
	fswatch_remove(&sf);
	fswatch_remove(&sb);
	assert_int_equal(fswatch_watches(fw), 0);
	fswatch_destroy(&fw);
	event_base_free(base);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_remove_in_callback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
