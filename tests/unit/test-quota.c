/*
 * test-quota.c - Maildir++ quota (maildirsize): the parser on files as
 * Dovecot 2.3 writes them (only S, only C, both, "0S", deltas, negative
 * deltas) and on broken ones (garbage, NUL, a torn last line, overflow,
 * every prefix of a file), the first line we write, recalculation when
 * the file is missing, too big, broken, negative, has other limits, or
 * is over quota with several lines or old; appends; the RCPT and DATA
 * checks; and quota enforced by maildir_deliver().
 *
 * Also a helper for tests/integration/test_store_dovecot.py:
 *   test-quota get ROOT QUOTA_MB     prints "<bytes> <count>"
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "store/store.h"

static char tdir[PATH_MAX];

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup_dir(void **state)
{
	snprintf(tdir, sizeof(tdir), "/tmp/test-quota.XXXXXX");
	return mkdtemp(tdir) != NULL ? 0 : -1;
}

static int teardown_dir(void **state)
{
	nftw(tdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static char *tpath(const char *rel)
{
	return xasprintf("%s/%s", tdir, rel);
}

static void write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void put(const char *path, const char *data)
{
	write_file(path, data, strlen(data));
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	char *buf = xmalloc(1 << 16);
	size_t n = fread(buf, 1, (1 << 16) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void set_age(const char *path, time_t age)
{
	struct timespec ts[2];
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* A Maildir root with messages: returns the root; bytes/count summed. */
static char *make_root(uint64_t *bytes_r, uint64_t *count_r)
{
	static const struct {
		const char *rel;
		size_t size; /* file size; S= may say something else */
	} files[] = {
	    {"mail/new/1.M1P1.h,S=100,W=104", 3},     /* S= wins: 100 */
	    {"mail/cur/2.M1P1.h,S=250,W=260:2,S", 5}, /* 250 */
	    {"mail/cur/3.foreign:2,", 42},            /* stat: 42 */
	    {"mail/Spam/new/4.M1P1.h,S=1000", 1},     /* 1000 */
	    {"mail/Foo/Bar/cur/5.M1P1.h,S=7:2,", 1},  /* 7 */
	    {"mail/tmp/6.M1P1.h,S=5000", 1},          /* tmp/: not counted */
	    {"mail/new/.dotfile", 9},                 /* not counted */
	    {"mail/.hidden/new/7.M1P1.h,S=9000", 1},  /* not a folder */
	    {"mail/Foo/new/8.M1P1.h,S=xx", 11},       /* bad S=: stat: 11 */
	};
	static const char *const dirs[] = {
	    "mail",         "mail/new",         "mail/cur",      "mail/tmp",
	    "mail/Spam",    "mail/Spam/new",    "mail/Spam/cur", "mail/Spam/tmp",
	    "mail/Foo",     "mail/Foo/new",     "mail/Foo/Bar",  "mail/Foo/Bar/cur",
	    "mail/.hidden", "mail/.hidden/new",
	};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char *p = tpath(dirs[i]);
		assert_int_equal(mkdir(p, 0700), 0);
		free(p);
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *p = tpath(files[i].rel);
		char *data = xcalloc(1, files[i].size + 1);
		memset(data, 'x', files[i].size);
		write_file(p, data, files[i].size);
		free(data);
		free(p);
	}
	*bytes_r = 100 + 250 + 42 + 1000 + 7 + 11;
	*count_r = 6;
	return tpath("mail");
}

static char *size_path(const char *root)
{
	return xasprintf("%s/maildirsize", root);
}

/* ---- parsing ---- */

struct parse_case {
	const char *data;
	int ret;
	uint64_t lbytes, lcount;
	bool limits_ok;
	int64_t bytes, count;
	unsigned lines;
};

static void test_parse(void **state)
{
	static const struct parse_case t[] = {
	    /* written by Dovecot 2.3.19 (doveadm quota recalc, dovecot-lda) */
	    {"10485760S\n0 0\n39 1\n39 1\n39 1\n", 1, 10485760, 0, true, 117, 3, 4},
	    {"10485760S\n117 3\n", 1, 10485760, 0, true, 117, 3, 1},
	    {"0S\n0 0\n", 1, 0, 0, true, 0, 0, 1},
	    {"100C\n5 2\n", 1, 0, 100, true, 5, 2, 1},
	    {"1000S,100C\n10 1\n", 1, 1000, 100, true, 10, 1, 1},
	    {"100C,1000S\n10 1\n", 1, 1000, 100, true, 10, 1, 1},
	    /* deltas, negative ones from expunges */
	    {"1000S\n100 2\n-50 -1\n7 1\n", 1, 1000, 0, true, 57, 2, 3},
	    {"1000S\n100 2\n-100 -2\n", 1, 1000, 0, true, 0, 0, 2},
	    {"1000S\n  12   3  \r\n+4\t1\n", 1, 1000, 0, true, 16, 4, 2},
	    /* a torn last line is ignored */
	    {"1000S\n100 2\n50", 1, 1000, 0, true, 100, 2, 1},
	    {"1000S\n100 2\n50 1", 1, 1000, 0, true, 100, 2, 1},
	    /* odd limits lines are read as far as they go */
	    {"1000X\n1 1\n", 1, 0, 0, false, 1, 1, 1},
	    {"\n1 1\n", 1, 0, 0, false, 1, 1, 1},
	    {"1000S,junk\n1 1\n", 1, 1000, 0, false, 1, 1, 1},
	    {"0S,0C\n1 1\n", 1, 0, 0, true, 1, 1, 1},
	    {"99999999999999999999S\n1 1\n", 1, 0, 0, false, 1, 1, 1},
	    {"18446744073709551615S\n1 1\n", 1, INT64_MAX, 0, true, 1, 1, 1},
	    /* recalculation needed */
	    {"", 0, 0, 0, false, 0, 0, 0},
	    {"1000S", 0, 0, 0, false, 0, 0, 0},
	    {"1000S\n", 0, 1000, 0, true, 0, 0, 0},
	    {"1000S\n100 2\n-150 -1\n", 0, 1000, 0, true, 0, 0, 0},
	    {"1000S\n100 2\n-50 -3\n", 0, 1000, 0, true, 0, 0, 0},
	    {"1000S\n100 2\ngarbage\n", 0, 1000, 0, true, 0, 0, 0},
	    {"1000S\n100 2\n\n", 0, 1000, 0, true, 0, 0, 0},
	    {"1000S\n100\n", 0, 1000, 0, true, 0, 0, 0},
	    {"1000S\n100 2 3\n", 0, 1000, 0, true, 0, 0, 0},
	    {"1000S\n100 2x\n", 0, 1000, 0, true, 0, 0, 0},
	    {"1000S\n- 2\n", 0, 1000, 0, true, 0, 0, 0},
	    {"1000S\n9223372036854775808 1\n", 0, 1000, 0, true, 0, 0, 0},
	    {"1000S\n9223372036854775807 1\n1 1\n", 0, 1000, 0, true, 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct maildirsize ms;
		int r = quota_maildirsize_parse(t[i].data, strlen(t[i].data), &ms);
		if (r != t[i].ret)
			fail_msg("case %zu (%s): ret %d", i, t[i].data, r);
		if (r == 0) {
			assert_non_null(ms.why);
			continue;
		}
		assert_int_equal(ms.limits.bytes, t[i].lbytes);
		assert_int_equal(ms.limits.count, t[i].lcount);
		assert_int_equal(ms.limits_ok, t[i].limits_ok);
		assert_int_equal(ms.bytes, t[i].bytes);
		assert_int_equal(ms.count, t[i].count);
		assert_int_equal(ms.lines, t[i].lines);
	}
}

static void test_parse_binary_and_size(void **state)
{
	struct maildirsize ms;
	static const char nul[] = "1000S\n1\0 1\n";

	assert_int_equal(quota_maildirsize_parse(nul, sizeof(nul) - 1, &ms), 0);
	assert_string_equal(ms.why, "holds a NUL byte");

	/* 5120 bytes is fine, 5121 is too big */
	char *big = xmalloc(MAILDIRSIZE_MAX_SIZE + 2);
	size_t o = (size_t)snprintf(big, 16, "0S\n");
	while (o + 4 <= MAILDIRSIZE_MAX_SIZE) {
		memcpy(big + o, "1 1\n", 4);
		o += 4;
	}
	while (o < MAILDIRSIZE_MAX_SIZE) /* pad the last line with blanks */
		big[o++] = ' ';
	big[o - 1] = '\n';
	big[o - 2] = '1';
	big[o - 3] = ' ';
	big[o - 4] = '1';
	assert_int_equal(o, MAILDIRSIZE_MAX_SIZE);
	assert_int_equal(quota_maildirsize_parse(big, o, &ms), 1);
	big[o] = '\n';
	assert_int_equal(quota_maildirsize_parse(big, o + 1, &ms), 0);
	assert_string_equal(ms.why, "larger than 5120 bytes");
	free(big);
}

/* Every prefix of a good file parses without harm; those that end a line
 * after the first usage line are usable. */
static void test_parse_prefixes(void **state)
{
	static const char f[] = "1000S,10C\n100 2\n-50 -1\n25 1\n";
	size_t len = strlen(f);

	for (size_t n = 0; n <= len; n++) {
		struct maildirsize ms;
		char *copy = xmalloc(n + 1); /* exact size: ASan sees overreads */
		memcpy(copy, f, n);
		int r = quota_maildirsize_parse(copy, n, &ms);
		assert_int_equal(r, n >= strlen("1000S,10C\n100 2\n") ? 1 : 0);
		free(copy);
	}
}

static void test_format(void **state)
{
	static const struct {
		struct quota_limits l;
		struct quota_usage u;
		const char *want;
	} t[] = {
	    {{0, 0}, {0, 0}, "0S\n0 0\n"},
	    {{10485760, 0}, {117, 3}, "10485760S\n117 3\n"},
	    {{0, 100}, {5, 2}, "100C\n5 2\n"},
	    {{1000, 100}, {5, 2}, "1000S,100C\n5 2\n"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char out[128];
		size_t n = quota_maildirsize_format(&t[i].l, &t[i].u, out, sizeof(out));
		assert_string_equal(out, t[i].want);
		assert_int_equal(n, strlen(t[i].want));
		struct maildirsize ms;
		assert_int_equal(quota_maildirsize_parse(out, n, &ms), 1);
		assert_int_equal(ms.limits.bytes, t[i].l.bytes);
		assert_int_equal(ms.limits.count, t[i].l.count);
	}
	struct quota_limits l;
	quota_limits_from_mb(1024, &l);
	assert_int_equal(l.bytes, 1073741824ULL);
	assert_int_equal(l.count, 0);
	quota_limits_from_mb(0, &l);
	assert_int_equal(l.bytes, 0);
	quota_limits_from_mb(4194304, &l); /* 4 TiB does not wrap */
	assert_int_equal(l.bytes, 4398046511104ULL);
}

/* ---- the file on disk ---- */

static void test_recalc_missing(void **state)
{
	uint64_t bytes, count;
	char *root = make_root(&bytes, &count);
	char *sp = size_path(root);
	struct quota_limits l = {10485760, 0};
	struct quota_usage u;
	const char *error;

	assert_int_equal(quota_get(root, &l, &u, &error), 0);
	assert_int_equal(u.bytes, bytes);
	assert_int_equal(u.count, count);
	char *got = read_file(sp);
	char want[128];
	snprintf(want, sizeof(want), "10485760S\n%llu %llu\n", (unsigned long long)bytes,
	         (unsigned long long)count);
	assert_string_equal(got, want);
	free(got);
	struct stat st;
	assert_int_equal(stat(sp, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* the temporary file went through tmp/ and is gone */
	char *tmp6 = tpath("mail/tmp/6.M1P1.h,S=5000");
	assert_int_equal(unlink(tmp6), 0);
	free(tmp6);
	char *tmpdir = tpath("mail/tmp");
	assert_int_equal(rmdir(tmpdir), 0);
	free(tmpdir);

	/* the file is used as it is now: no walk (a new file is not counted) */
	char *extra = tpath("mail/new/9.M1P1.h,S=5");
	write_file(extra, "x", 1);
	assert_int_equal(quota_get(root, &l, &u, &error), 0);
	assert_int_equal(u.bytes, bytes);

	/* recalculation creates tmp/ when it is missing */
	assert_int_equal(quota_recalc(root, &l, &u, &error), 0);
	assert_int_equal(u.bytes, bytes + 5);
	assert_int_equal(u.count, count + 1);
	free(extra);
	free(sp);
	free(root);
}

static void test_absent_root(void **state)
{
	char *root = tpath("nobody/mail");
	struct quota_limits l = {1000, 0};
	struct quota_usage u = {1, 1};
	const char *error;

	assert_int_equal(quota_get(root, &l, &u, &error), 0);
	assert_int_equal(u.bytes, 0);
	assert_int_equal(u.count, 0);
	assert_int_equal(quota_add(root, &l, 10, 1, &error), 0);
	assert_int_equal(quota_check_rcpt(root, &l, &error), 0);
	assert_int_equal(access(root, F_OK), -1); /* nothing created */
	free(root);
}

static void test_add(void **state)
{
	uint64_t bytes, count;
	char *root = make_root(&bytes, &count);
	char *sp = size_path(root);
	struct quota_limits l = {0, 0}; /* unlimited, still tracked */
	struct quota_usage u;
	const char *error;

	put(sp, "0S\n100 2\n");
	assert_int_equal(quota_add(root, &l, 39, 1, &error), 0);
	assert_int_equal(quota_add(root, &l, -20, -1, &error), 0);
	assert_int_equal(quota_add(root, &l, 0, 0, &error), 0);
	char *got = read_file(sp);
	assert_string_equal(got, "0S\n100 2\n39 1\n-20 -1\n");
	free(got);
	assert_int_equal(quota_get(root, &l, &u, &error), 0);
	assert_int_equal(u.bytes, 119);
	assert_int_equal(u.count, 2);

	/* a broken file is rebuilt by the add (from the disk) */
	put(sp, "0S\nnonsense\n");
	assert_int_equal(quota_add(root, &l, 39, 1, &error), 0);
	got = read_file(sp);
	char want[64];
	snprintf(want, sizeof(want), "0S\n%llu %llu\n", (unsigned long long)bytes,
	         (unsigned long long)count);
	assert_string_equal(got, want);
	free(got);

	/* and so is a missing one */
	unlink(sp);
	assert_int_equal(quota_add(root, &l, 39, 1, &error), 0);
	got = read_file(sp);
	assert_string_equal(got, want);
	free(got);
	free(sp);
	free(root);
}

static void test_recalc_rules(void **state)
{
	uint64_t bytes, count;
	char *root = make_root(&bytes, &count);
	char *sp = size_path(root);
	struct quota_limits l = {10000, 0};
	struct quota_usage u;
	const char *error;
	char *got;
	char want[64];

	snprintf(want, sizeof(want), "10000S\n%llu %llu\n", (unsigned long long)bytes,
	         (unsigned long long)count);

	/* trusted: right limits, under quota */
	put(sp, "10000S\n5 1\n6 1\n");
	assert_int_equal(quota_get(root, &l, &u, &error), 0);
	assert_int_equal(u.bytes, 11);
	assert_int_equal(u.count, 2);

	/* other limits: the first line follows the account */
	struct quota_limits l2 = {20000, 50};
	assert_int_equal(quota_get(root, &l2, &u, &error), 0);
	assert_int_equal(u.bytes, bytes);
	got = read_file(sp);
	char want2[64];
	snprintf(want2, sizeof(want2), "20000S,50C\n%llu %llu\n", (unsigned long long)bytes,
	         (unsigned long long)count);
	assert_string_equal(got, want2);
	free(got);

	/* too big */
	char *big = xmalloc(6000);
	size_t o = (size_t)snprintf(big, 16, "10000S\n");
	while (o + 4 < 6000) {
		memcpy(big + o, "0 0\n", 4);
		o += 4;
	}
	write_file(sp, big, o);
	free(big);
	assert_int_equal(quota_get(root, &l, &u, &error), 0);
	assert_int_equal(u.bytes, bytes);
	got = read_file(sp);
	assert_string_equal(got, want);
	free(got);

	/* negative sum */
	put(sp, "10000S\n5 1\n-10 -1\n");
	assert_int_equal(quota_get(root, &l, &u, &error), 0);
	assert_int_equal(u.bytes, bytes);

	/* over quota with more than one line: do not trust */
	put(sp, "10000S\n9000 1\n2000 1\n");
	assert_int_equal(quota_get(root, &l, &u, &error), 0);
	assert_int_equal(u.bytes, bytes);

	/* over quota, one fresh line: trusted */
	put(sp, "10000S\n20000 3\n");
	assert_int_equal(quota_get(root, &l, &u, &error), 0);
	assert_int_equal(u.bytes, 20000);
	assert_int_equal(quota_check_rcpt(root, &l, &error), 1);

	/* over quota, one line, older than 15 minutes: recalculated */
	set_age(sp, MAILDIRSIZE_STALE_SECS + 60);
	assert_int_equal(quota_get(root, &l, &u, &error), 0);
	assert_int_equal(u.bytes, bytes);

	/* an old file under quota is fine */
	put(sp, "10000S\n20 3\n");
	set_age(sp, 86400);
	assert_int_equal(quota_get(root, &l, &u, &error), 0);
	assert_int_equal(u.bytes, 20);

	/* over the message count limit: one fresh line is trusted, two are not */
	struct quota_limits lc = {0, 3};
	put(sp, "3C\n20 4\n");
	assert_int_equal(quota_get(root, &lc, &u, &error), 0);
	assert_int_equal(u.count, 4);
	put(sp, "3C\n20 2\n0 2\n");
	assert_int_equal(quota_get(root, &lc, &u, &error), 0);
	assert_int_equal(u.count, count);
	free(sp);
	free(root);
}

static void test_checks(void **state)
{
	struct quota_limits l = {1000, 0};
	struct quota_usage u = {900, 3};

	assert_false(quota_usage_over(&u, &l));
	assert_false(quota_usage_exceeded_by(&u, &l, 100)); /* exactly full is fine */
	assert_true(quota_usage_exceeded_by(&u, &l, 101));
	assert_true(quota_usage_exceeded_by(&u, &l, UINT64_MAX));
	u.bytes = 1000;
	assert_true(quota_usage_over(&u, &l));
	assert_false(quota_usage_exceeded_by(&u, &l, 0));
	u.bytes = 5000; /* over already (Dovecot lets a file say so) */
	assert_true(quota_usage_over(&u, &l));
	assert_true(quota_usage_exceeded_by(&u, &l, 1));

	struct quota_limits unl = {0, 0};
	u.bytes = UINT64_MAX;
	assert_false(quota_usage_over(&u, &unl));
	assert_false(quota_usage_exceeded_by(&u, &unl, UINT64_MAX));

	struct quota_limits lc = {0, 3};
	u.count = 2;
	assert_false(quota_usage_over(&u, &lc));
	assert_false(quota_usage_exceeded_by(&u, &lc, 10));
	u.count = 3;
	assert_true(quota_usage_over(&u, &lc));
	assert_true(quota_usage_exceeded_by(&u, &lc, 10));
}

static void test_check_on_disk(void **state)
{
	uint64_t bytes, count;
	char *root = make_root(&bytes, &count);
	struct quota_limits l = {bytes + 100, 0};
	const char *error;

	assert_int_equal(quota_check_rcpt(root, &l, &error), 0);
	assert_int_equal(quota_check_size(root, &l, 100, &error), 0);
	assert_int_equal(quota_check_size(root, &l, 101, &error), 1);
	assert_int_equal(quota_add(root, &l, 100, 1, &error), 0);
	assert_int_equal(quota_check_rcpt(root, &l, &error), 1);
	assert_int_equal(quota_check_size(root, &l, 1, &error), 1);
	free(root);
}

/* quota enforced by delivery, the delta appended after each copy */
static void test_deliver_quota(void **state)
{
	char *base = tpath("base");
	char *root = tpath("base/u/mail");
	char *spam = tpath("base/u/mail/Spam");
	char *other = tpath("base/v/mail");
	char *sp = size_path(root);
	struct quota_limits l = {100, 0};
	struct quota_limits lv = {1000, 0};
	const char *error;
	char *msgpath = tpath("msg");
	char body[41];

	memset(body, 'x', 39);
	body[39] = '\n';
	body[40] = '\0';
	write_file(msgpath, body, 40);
	assert_int_equal(mkdir(base, 0700), 0);

	struct maildir_target t[3] = {{root, root, base, &l, NULL},
	                              {root, spam, base, &l, NULL},
	                              {other, other, base, &lv, NULL}};
	struct maildir_result r[3];
	int fd = open(msgpath, O_RDONLY);
	struct maildir_source src = {fd, NULL};

	/* 40 + 40 fit into 100, the third copy does not */
	assert_int_equal(maildir_deliver(t, 2, &src, r), 0);
	maildir_results_free(r, 2);
	char *got = read_file(sp);
	/* the first check found no file and counted the empty Maildir */
	assert_string_equal(got, "100S\n0 0\n40 1\n40 1\n");
	free(got);

	assert_int_equal(maildir_deliver(t, 3, &src, r), -1);
	assert_int_equal(r[0].status, MAILDIR_QUOTA);
	assert_non_null(strstr(r[0].error_text, "quota"));
	assert_int_equal(r[1].status, MAILDIR_QUOTA);
	assert_int_equal(r[2].status, MAILDIR_OK);
	maildir_results_free(r, 3);
	assert_int_equal(quota_check_rcpt(root, &l, &error), 0);
	assert_int_equal(quota_check_size(root, &l, 21, &error), 1);
	assert_int_equal(quota_check_size(root, &l, 20, &error), 0);
	close(fd);

	struct quota_usage u;
	assert_int_equal(quota_get(root, &l, &u, &error), 0);
	assert_int_equal(u.bytes, 80);
	assert_int_equal(u.count, 2);
	assert_int_equal(quota_recalc(root, &l, &u, &error), 0);
	assert_int_equal(u.bytes, 80);
	assert_int_equal(u.count, 2);

	/* no quota root: nothing is written */
	char *nq = tpath("base/w/mail");
	struct maildir_target tn = {nq, nq, base, NULL, NULL};
	fd = open(msgpath, O_RDONLY);
	src.fd = fd;
	assert_int_equal(maildir_deliver(&tn, 1, &src, r), 0);
	close(fd);
	maildir_results_free(r, 1);
	char *nqs = size_path(nq);
	assert_int_equal(access(nqs, F_OK), -1);
	free(nqs);
	free(nq);
	free(msgpath);
	free(sp);
	free(base);
	free(root);
	free(spam);
	free(other);
}

static int helper_get(int argc, char **argv)
{
	struct quota_limits l;
	struct quota_usage u;
	const char *error;

	if (argc != 4) {
		fprintf(stderr, "usage: %s get ROOT QUOTA_MB\n", argv[0]);
		return 2;
	}
	quota_limits_from_mb((unsigned)strtoul(argv[3], NULL, 10), &l);
	if (quota_get(argv[2], &l, &u, &error) < 0) {
		fprintf(stderr, "%s\n", error);
		return 1;
	}
	printf("%llu %llu\n", (unsigned long long)u.bytes, (unsigned long long)u.count);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "get") == 0)
		return helper_get(argc, argv);

	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_parse_binary_and_size),
	    cmocka_unit_test(test_parse_prefixes),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_checks),
	    cmocka_unit_test_setup_teardown(test_recalc_missing, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_absent_root, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_add, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_recalc_rules, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_check_on_disk, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_deliver_quota, setup_dir, teardown_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
