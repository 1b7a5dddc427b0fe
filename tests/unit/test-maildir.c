/*
 * test-maildir.c - the Maildir store: expansion of mail_home and refusal
 * of hostile names, mailbox paths of the fs layout, creation on first
 * delivery (modes 0700/0600), delivery to one and several mailboxes as
 * hard links with Dovecot's names (S=, W=), spool files, flags, unique
 * names under fast and threaded delivery, the copy fallback when link()
 * cannot cross (injected EXDEV/EPERM/EMLINK), link errors, a delivery
 * killed with SIGKILL half-way, the name parser, listing, sizes and the
 * stale tmp/ clean-up. Everything runs in a fresh directory under /tmp.
 *
 * Also a helper for tests/integration/test_store_dovecot.py:
 *   test-maildir deliver BASE ROOT QUOTA_MB FILE [FLAGS:]MAILBOX...
 * delivers FILE once to every MAILBOX of ROOT (quota accounted) and
 * prints one line per target: "ok PATH", "quota TEXT" or "tempfail TEXT".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "store/store.h"
#include "store/store-private.h"

static char tdir[PATH_MAX];

/* ---- helpers ---- */

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup_dir(void **state)
{
	snprintf(tdir, sizeof(tdir), "/tmp/test-maildir.XXXXXX");
	if (mkdtemp(tdir) == NULL)
		return -1;
	return 0;
}

static int teardown_dir(void **state)
{
	store_set_link_func(NULL);
	nftw(tdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static char *tpath(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *tpath(const char *fmt, ...)
{
	char rel[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	return xasprintf("%s/%s", tdir, rel);
}

static void write_file(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *buf = xmalloc(1 << 16);
	size_t n = fread(buf, 1, (1 << 16) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* A memfd (or unlinked file) holding data, positioned at its end. */
static int msg_fd(const char *data)
{
	char *p = xasprintf("%s/.msg.XXXXXX", tdir);
	int fd = mkstemp(p);
	assert_true(fd >= 0);
	unlink(p);
	free(p);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	return fd;
}

static unsigned count_files(const char *dir)
{
	DIR *d = opendir(dir);
	unsigned n = 0;
	struct dirent *de;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static ino_t ino_of(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

static const char *base_of(const char *path)
{
	const char *s = strrchr(path, '/');
	return s != NULL ? s + 1 : path;
}

/* Checks a delivered file's name against Dovecot's form and its content. */
static void check_delivered(const char *path, const char *want, const char *subdir,
                            const char *flags)
{
	char *got = read_file(path);
	struct maildir_name mn;
	struct maildir_vsize v = {0, 0, false};
	const char *name = base_of(path);
	char dirpart[64];

	assert_string_equal(got, want);
	free(got);
	assert_int_equal(mode_of(path), 0600);
	snprintf(dirpart, sizeof(dirpart), "/%s/", subdir);
	assert_non_null(strstr(path, dirpart));

	maildir_vsize_update(&v, want, strlen(want));
	assert_int_equal(maildir_name_parse(name, strlen(name), &mn), 0);
	assert_true(mn.have_size);
	assert_true(mn.have_vsize);
	assert_int_equal(mn.size, strlen(want));
	assert_int_equal(mn.vsize, v.vsize);
	assert_true(mn.have_origin);
	assert_int_equal(mn.pid, getpid());
	assert_int_equal(mn.host_len, strlen(maildir_hostname()));
	assert_memory_equal(mn.host, maildir_hostname(), mn.host_len);
	if (flags != NULL) {
		assert_true(mn.have_info);
		assert_string_equal(mn.flags, flags);
	} else {
		assert_false(mn.have_info);
		assert_null(strchr(name, ':'));
	}
	/* "<secs>.M<usecs>P<pid>.<host>,S=<n>,W=<n>" exactly */
	char want_tail[512];
	snprintf(want_tail, sizeof(want_tail), "P%ld.%s,S=%zu,W=%llu", (long)getpid(),
	         maildir_hostname(), strlen(want), (unsigned long long)v.vsize);
	assert_non_null(strstr(name, want_tail));
	assert_non_null(strstr(name, ".M"));
}

/* ---- paths ---- */

static void test_name_safe(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} t[] = {
	    {"alice", true},  {"a.b-c_d+e", true},  {"m\xc3\xbcller", true}, {"x@y", true},
	    {"", false},      {".", false},         {"..", false},           {".hidden", false},
	    {"a/b", false},   {"../../etc", false}, {"a\\b", false},         {"a\nb", false},
	    {"a\x7f", false}, {"/", false},         {"a/", false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(store_name_is_safe(t[i].s), t[i].ok);
	assert_false(store_name_is_safe(NULL));

	char longname[NAME_MAX + 2];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(store_name_is_safe(longname));
	longname[NAME_MAX] = '\0';
	assert_true(store_name_is_safe(longname));
}

static void test_expand(void **state)
{
	const char *error;
	char *p;

	assert_int_equal(
	    store_expand("/var/vmail/mailboxes/%d/%n", "alice", "example.org", &p, &error), 0);
	assert_string_equal(p, "/var/vmail/mailboxes/example.org/alice");
	free(p);
	assert_int_equal(store_expand("/m/%u/100%%", "bob", "ex.test", &p, &error), 0);
	assert_string_equal(p, "/m/bob@ex.test/100%");
	free(p);

	assert_int_equal(store_expand("/m/%x/%n", "bob", "ex.test", &p, &error), -1);
	assert_non_null(strstr(error, "%x"));
	assert_int_equal(store_expand("/m/%", "bob", "ex.test", &p, &error), -1);

	/* Hostile parts never reach the file system. */
	static const char *const bad[] = {"..", ".", "../../etc", "a/../../b", ".ssh", "", "a\\b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = NULL;
		assert_int_equal(store_expand("/m/%d/%n", bad[i], "ex.test", &p, &error), -1);
		assert_null(p);
		assert_int_equal(store_expand("/m/%d/%n", "bob", bad[i], &p, &error), -1);
		assert_null(p);
	}
}

static void test_static_prefix(void **state)
{
	static const struct {
		const char *tmpl, *want;
	} t[] = {
	    {"/var/vmail/mailboxes/%d/%n", "/var/vmail/mailboxes"},
	    {"/var/vmail/mailboxes/%d/%n/", "/var/vmail/mailboxes"},
	    {"/var/vmail/%u", "/var/vmail"},
	    {"/var/vmail/x%d", "/var/vmail"},
	    {"/%d/%n", "/"},
	    {"/srv/mail", "/srv"},
	    {"/srv/mail/", "/srv"},
	    {"rel/%d", "rel"},
	    {"%d/%n", "."},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *p = store_static_prefix(t[i].tmpl);
		assert_string_equal(p, t[i].want);
		free(p);
	}
}

static void test_user_init(void **state)
{
	struct config_mail m = {0};
	struct store_user u;
	const char *error;

	m.home = "/var/vmail/mailboxes/%d/%n";
	m.location = "mail";
	assert_int_equal(store_user_init(&u, &m, "alice", "example.org", &error), 0);
	assert_string_equal(u.home, "/var/vmail/mailboxes/example.org/alice");
	assert_string_equal(u.root, "/var/vmail/mailboxes/example.org/alice/mail");
	assert_string_equal(u.base, "/var/vmail/mailboxes");
	store_user_deinit(&u);

	m.location = "~/mail/";
	assert_int_equal(store_user_init(&u, &m, "alice", "example.org", &error), 0);
	assert_string_equal(u.root, "/var/vmail/mailboxes/example.org/alice/mail");
	store_user_deinit(&u);

	m.location = "";
	assert_int_equal(store_user_init(&u, &m, "alice", "example.org", &error), 0);
	assert_string_equal(u.root, "/var/vmail/mailboxes/example.org/alice");
	store_user_deinit(&u);

	m.location = "/srv/maildirs/%d/%n/Maildir";
	assert_int_equal(store_user_init(&u, &m, "alice", "example.org", &error), 0);
	assert_string_equal(u.root, "/srv/maildirs/example.org/alice/Maildir");
	assert_string_equal(u.base, "/srv/maildirs");
	store_user_deinit(&u);

	m.location = "mail/%n";
	assert_int_equal(store_user_init(&u, &m, "alice", "example.org", &error), -1);
	m.location = "mail";
	assert_int_equal(store_user_init(&u, &m, "..", "example.org", &error), -1);
	assert_null(u.home);
	assert_int_equal(store_user_init(&u, &m, "alice", "../x", &error), -1);
}

static void test_mailbox_path(void **state)
{
	static const struct {
		const char *name, *want;
	} ok[] = {
	    {"INBOX", "/r"},
	    {"inbox", "/r"},
	    {"Spam", "/r/Spam"},
	    {"Foo/Bar", "/r/Foo/Bar"},
	    {"inbox/Sub", "/r/INBOX/Sub"},
	    {"Entw&APw-rfe", "/r/Entw&APw-rfe"},
	    {"a b", "/r/a b"},
	};
	static const char *const bad[] = {
	    "",        "..",       "../x",  "Foo/../x", ".x",
	    "Foo/.x",  "Foo//Bar", "/abs",  "Foo/",     "cur",
	    "Foo/new", "tmp",      "a\x01", "a\\b",     "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q",
	};
	const char *error;
	char *p;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(store_mailbox_path("/r", ok[i].name, &p, &error), 0);
		assert_string_equal(p, ok[i].want);
		free(p);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = NULL;
		assert_int_equal(store_mailbox_path("/r", bad[i], &p, &error), -1);
		assert_null(p);
	}
	assert_int_equal(store_mailbox_path("/r", NULL, &p, &error), -1);
	/* 16 levels are fine */
	assert_int_equal(store_mailbox_path("/r", "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p", &p, &error),
	                 0);
	free(p);
}

static void test_mkdirs(void **state)
{
	const char *error;
	char *base = tpath("base");
	char *deep = tpath("base/d/u/mail");
	char *outside = tpath("other/x");

	/* base must exist */
	assert_int_equal(store_mkdirs(base, deep, &error), -1);
	assert_int_equal(mkdir(base, 0755), 0);
	assert_int_equal(store_mkdirs(base, deep, &error), 0);
	assert_int_equal(mode_of(deep), 0700);
	char *mid = tpath("base/d");
	assert_int_equal(mode_of(mid), 0700);
	assert_int_equal(mode_of(base), 0755); /* the prefix is left alone */
	assert_int_equal(store_mkdirs(base, deep, &error), 0);
	assert_int_equal(store_mkdirs(base, outside, &error), -1);
	/* a file in the way */
	char *f = tpath("base/file");
	write_file(f, "x", 0600);
	char *under = tpath("base/file/sub");
	assert_int_equal(store_mkdirs(base, under, &error), -1);
	free(base);
	free(deep);
	free(outside);
	free(mid);
	free(f);
	free(under);
}

/* ---- delivery ---- */

struct user_fixture {
	char *base, *root;
};

static void make_user(struct user_fixture *u, const char *domain, const char *local)
{
	struct config_mail m = {0};
	struct store_user su;
	const char *error;
	char *home = tpath("mailboxes/%%d/%%n");

	m.home = home;
	m.location = "mail";
	assert_int_equal(store_user_init(&su, &m, local, domain, &error), 0);
	mkdir(su.base, 0755);
	u->base = xstrdup(su.base);
	u->root = xstrdup(su.root);
	store_user_deinit(&su);
	free(home);
}

static void free_user(struct user_fixture *u)
{
	free(u->base);
	free(u->root);
}

static void test_first_delivery_creates(void **state)
{
	struct user_fixture u;
	const char *msg = "Subject: hi\nFrom: a@b\n\nbody line\nline2\n";
	struct maildir_result res[1];

	make_user(&u, "example.org", "alice");
	struct maildir_target t = {u.root, u.root, u.base, NULL, NULL};
	int fd = msg_fd(msg);
	struct maildir_source src = {fd, NULL};

	assert_int_equal(maildir_deliver(&t, 1, &src, res), 0);
	close(fd);
	assert_int_equal(res[0].status, MAILDIR_OK);
	assert_int_equal(res[0].size, 39);
	assert_int_equal(res[0].vsize, 44); /* as Dovecot names the same message */
	check_delivered(res[0].path, msg, "new", NULL);
	assert_non_null(strstr(res[0].path, ",S=39,W=44"));

	static const char *const dirs[] = {"mailboxes/example.org",
	                                   "mailboxes/example.org/alice",
	                                   "mailboxes/example.org/alice/mail",
	                                   "mailboxes/example.org/alice/mail/cur",
	                                   "mailboxes/example.org/alice/mail/new",
	                                   "mailboxes/example.org/alice/mail/tmp"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char *p = tpath("%s", dirs[i]);
		assert_int_equal(mode_of(p), 0700);
		free(p);
	}
	char *tmp = tpath("mailboxes/example.org/alice/mail/tmp");
	assert_int_equal(count_files(tmp), 0);
	free(tmp);
	maildir_results_free(res, 1);
	free_user(&u);
}

static void test_deliver_many_targets(void **state)
{
	struct user_fixture a, b;
	const char *msg = "Subject: x\r\n\r\nCRLF body\r\nbare LF\nend";
	const char *error;
	char *spam, *foobar, *binbox;

	make_user(&a, "example.org", "alice");
	make_user(&b, "example.net", "bob");
	assert_int_equal(store_mailbox_path(a.root, "Spam", &spam, &error), 0);
	assert_int_equal(store_mailbox_path(a.root, "Foo/Bar", &foobar, &error), 0);
	binbox = xstrdup(b.root);

	struct maildir_target t[4] = {
	    {a.root, spam, a.base, NULL, NULL},
	    {a.root, foobar, a.base, NULL, NULL},
	    {b.root, binbox, b.base, NULL, NULL},
	    {a.root, a.root, a.base, NULL, NULL},
	};
	struct maildir_result res[4];
	int fd = msg_fd(msg);
	struct maildir_source src = {fd, NULL};

	assert_int_equal(maildir_deliver(t, 4, &src, res), 0);
	close(fd);
	ino_t ino = ino_of(res[0].path);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(res[i].status, MAILDIR_OK);
		assert_null(res[i].error_text);
		check_delivered(res[i].path, msg, "new", NULL);
		assert_int_equal(ino_of(res[i].path), ino); /* one write, hard links */
		assert_int_equal(strncmp(res[i].path, t[i].mailbox, strlen(t[i].mailbox)), 0);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(base_of(res[i].path), base_of(res[j].path));
	}
	struct stat st;
	assert_int_equal(stat(res[0].path, &st), 0);
	assert_int_equal(st.st_nlink, 4); /* the staging name in tmp/ is gone */
	/* S= counts bytes, W= adds a CR for the one bare LF */
	assert_int_equal(res[0].size, strlen(msg));
	assert_int_equal(res[0].vsize, strlen(msg) + 1);

	/* Folder parents are plain directories, as Dovecot leaves them. */
	char *foo_cur = tpath("mailboxes/example.org/alice/mail/Foo/cur");
	assert_int_equal(access(foo_cur, F_OK), -1);
	free(foo_cur);
	/* alice's INBOX holds only its own copy, not the folders' ones. */
	char *inbox_new = tpath("mailboxes/example.org/alice/mail/new");
	assert_int_equal(count_files(inbox_new), 1);
	free(inbox_new);

	maildir_results_free(res, 4);
	free(spam);
	free(foobar);
	free(binbox);
	free_user(&a);
	free_user(&b);
}

static void test_deliver_spool_file(void **state)
{
	struct user_fixture a;
	const char *msg = "Subject: spool\n\nfrom the queue\n";
	struct maildir_result res[2];
	char *spool = tpath("spool-0600");
	char *loose = tpath("spool-0644");

	make_user(&a, "example.org", "alice");
	write_file(spool, msg, 0600);
	write_file(loose, msg, 0644);
	struct maildir_target t[2] = {{a.root, a.root, a.base, NULL, NULL},
	                              {a.root, a.root, a.base, NULL, "S"}};

	/* A private spool file of ours is linked as it is. */
	struct maildir_source src = {-1, spool};
	assert_int_equal(maildir_deliver(t, 2, &src, res), 0);
	check_delivered(res[0].path, msg, "new", NULL);
	check_delivered(res[1].path, msg, "cur", "S");
	assert_int_equal(ino_of(res[0].path), ino_of(spool));
	assert_int_equal(ino_of(res[1].path), ino_of(spool));
	assert_int_equal(access(spool, F_OK), 0); /* the caller's to remove */
	maildir_results_free(res, 2);

	/* Anything but 0600 is copied, never shared. */
	src.path = loose;
	assert_int_equal(maildir_deliver(t, 1, &src, res), 0);
	check_delivered(res[0].path, msg, "new", NULL);
	assert_true(ino_of(res[0].path) != ino_of(loose));
	maildir_results_free(res, 1);

	/* A spool file that is not there */
	char *missing = tpath("nope");
	src.path = missing;
	assert_int_equal(maildir_deliver(t, 2, &src, res), -1);
	assert_int_equal(res[0].status, MAILDIR_TEMPFAIL);
	assert_int_equal(res[0].error, ENOENT);
	assert_int_equal(res[1].status, MAILDIR_TEMPFAIL);
	maildir_results_free(res, 2);

	char *tmp = tpath("mailboxes/example.org/alice/mail/tmp");
	assert_int_equal(count_files(tmp), 0);
	free(tmp);
	free(missing);
	free(spool);
	free(loose);
	free_user(&a);
}

static void test_deliver_flags(void **state)
{
	struct user_fixture a;
	struct maildir_result res[3];
	char out[8];

	assert_int_equal(maildir_flags_normalize("TSFS", out), 0);
	assert_string_equal(out, "FST");
	assert_int_equal(maildir_flags_normalize("", out), 0);
	assert_string_equal(out, "");
	assert_int_equal(maildir_flags_normalize(NULL, out), 0);
	assert_int_equal(maildir_flags_normalize("Sx", out), -1);
	assert_int_equal(maildir_flags_normalize("s", out), -1);

	make_user(&a, "example.org", "alice");
	struct maildir_target t[3] = {{a.root, a.root, a.base, NULL, "SF"},
	                              {a.root, a.root, a.base, NULL, "Q"},
	                              {a.root, a.root, a.base, NULL, ""}};
	int fd = msg_fd("x\n");
	struct maildir_source src = {fd, NULL};
	assert_int_equal(maildir_deliver(t, 3, &src, res), -1);
	close(fd);
	assert_int_equal(res[0].status, MAILDIR_OK);
	check_delivered(res[0].path, "x\n", "cur", "FS");
	assert_non_null(strstr(res[0].path, ",S=2,W=3:2,FS"));
	assert_int_equal(res[1].status, MAILDIR_TEMPFAIL);
	assert_int_equal(res[1].error, EINVAL);
	assert_int_equal(res[2].status, MAILDIR_OK);
	check_delivered(res[2].path, "x\n", "new", NULL);
	maildir_results_free(res, 3);
	free_user(&a);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_unique_fast(void **state)
{
	enum { N = 5000 };
	char **names = xcalloc(N, sizeof(*names));

	for (int i = 0; i < N; i++) {
		char buf[MAILDIR_NAME_MAX];
		maildir_unique_name(buf, sizeof(buf));
		names[i] = xstrdup(buf);
	}
	qsort(names, N, sizeof(*names), cmp_str);
	for (int i = 1; i < N; i++)
		assert_string_not_equal(names[i - 1], names[i]);
	for (int i = 0; i < N; i++)
		free(names[i]);
	free(names);

	/* 300 deliveries in a row into one mailbox: 300 files */
	struct user_fixture a;
	make_user(&a, "example.org", "alice");
	struct maildir_target t = {a.root, a.root, a.base, NULL, NULL};
	int fd = msg_fd("fast\n");
	struct maildir_source src = {fd, NULL};
	for (int i = 0; i < 300; i++) {
		struct maildir_result r;
		assert_int_equal(maildir_deliver(&t, 1, &src, &r), 0);
		maildir_results_free(&r, 1);
	}
	close(fd);
	char *newdir = tpath("mailboxes/example.org/alice/mail/new");
	assert_int_equal(count_files(newdir), 300);
	free(newdir);
	free_user(&a);
}

struct thread_arg {
	const struct maildir_target *t;
	int fd;
	int failures;
	char *names[200];
};

enum { THREADS = 8, PER_THREAD = 100 };

static void *deliver_thread(void *p)
{
	struct thread_arg *a = p;
	struct maildir_source src = {a->fd, NULL};

	for (int i = 0; i < PER_THREAD; i++) {
		struct maildir_result r;
		char buf[MAILDIR_NAME_MAX];
		if (maildir_deliver(a->t, 1, &src, &r) < 0)
			a->failures++;
		maildir_results_free(&r, 1);
		maildir_unique_name(buf, sizeof(buf));
		a->names[i] = xstrdup(buf);
	}
	return NULL;
}

static void test_unique_threads(void **state)
{
	struct user_fixture a;
	pthread_t th[THREADS];
	struct thread_arg args[THREADS];

	make_user(&a, "example.org", "alice");
	struct maildir_target t = {a.root, a.root, a.base, NULL, NULL};
	for (int i = 0; i < THREADS; i++) {
		memset(&args[i], 0, sizeof(args[i]));
		args[i].t = &t;
		args[i].fd = msg_fd("threaded\n"); /* pread: one fd could be shared too */
		assert_int_equal(pthread_create(&th[i], NULL, deliver_thread, &args[i]), 0);
	}
	char **all = xcalloc(THREADS * PER_THREAD, sizeof(*all));
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		close(args[i].fd);
		assert_int_equal(args[i].failures, 0);
		for (int j = 0; j < PER_THREAD; j++)
			all[i * PER_THREAD + j] = args[i].names[j];
	}
	char *newdir = tpath("mailboxes/example.org/alice/mail/new");
	assert_int_equal(count_files(newdir), THREADS * PER_THREAD);
	free(newdir);
	qsort(all, THREADS * PER_THREAD, sizeof(*all), cmp_str);
	for (int i = 1; i < THREADS * PER_THREAD; i++)
		assert_string_not_equal(all[i - 1], all[i]);
	for (int i = 0; i < THREADS * PER_THREAD; i++)
		free(all[i]);
	free(all);
	free_user(&a);
}

static int fake_errno;
static int fake_link(const char *oldpath, const char *newpath)
{
	errno = fake_errno;
	return -1;
}

static void test_link_fallback(void **state)
{
	static const int errs[] = {EXDEV, EPERM, EMLINK, EOPNOTSUPP};
	struct user_fixture a, b;
	const char *msg = "Subject: cross\n\ncopied, not linked\n";

	make_user(&a, "example.org", "alice");
	make_user(&b, "example.net", "bob");
	store_set_link_func(fake_link);
	for (size_t e = 0; e < sizeof(errs) / sizeof(errs[0]); e++) {
		struct maildir_target t[2] = {{a.root, a.root, a.base, NULL, NULL},
		                              {b.root, b.root, b.base, NULL, "S"}};
		struct maildir_result res[2];
		int fd = msg_fd(msg);
		struct maildir_source src = {fd, NULL};

		fake_errno = errs[e];
		assert_int_equal(maildir_deliver(t, 2, &src, res), 0);
		close(fd);
		check_delivered(res[0].path, msg, "new", NULL);
		check_delivered(res[1].path, msg, "cur", "S");
		assert_true(ino_of(res[0].path) != ino_of(res[1].path));
		struct stat st;
		assert_int_equal(stat(res[1].path, &st), 0);
		assert_int_equal(st.st_nlink, 1);
		maildir_results_free(res, 2);
	}
	char *t1 = tpath("mailboxes/example.org/alice/mail/tmp");
	char *t2 = tpath("mailboxes/example.net/bob/mail/tmp");
	assert_int_equal(count_files(t1), 0);
	assert_int_equal(count_files(t2), 0);
	free(t1);
	free(t2);
	free_user(&a);
	free_user(&b);
}

static void test_link_error(void **state)
{
	struct user_fixture a;
	struct maildir_result res[1];

	make_user(&a, "example.org", "alice");
	struct maildir_target t = {a.root, a.root, a.base, NULL, NULL};
	int fd = msg_fd("x\n");
	struct maildir_source src = {fd, NULL};

	store_set_link_func(fake_link);
	fake_errno = EIO;
	assert_int_equal(maildir_deliver(&t, 1, &src, res), -1);
	close(fd);
	assert_int_equal(res[0].status, MAILDIR_TEMPFAIL);
	assert_int_equal(res[0].error, EIO);
	assert_null(res[0].path);
	assert_non_null(strstr(res[0].error_text, "link("));
	assert_non_null(strstr(res[0].error_text, strerror(EIO)));
	maildir_results_free(res, 1);
	char *n = tpath("mailboxes/example.org/alice/mail/new");
	char *tm = tpath("mailboxes/example.org/alice/mail/tmp");
	assert_int_equal(count_files(n), 0);
	assert_int_equal(count_files(tm), 0);
	free(n);
	free(tm);

	/* The message cannot be read: every target fails, nothing is left. */
	store_set_link_func(NULL);
	struct maildir_target tt[2] = {{a.root, a.root, a.base, NULL, NULL},
	                               {a.root, a.root, a.base, NULL, "S"}};
	struct maildir_source bad = {-1, NULL};
	struct maildir_result rb[2];
	assert_int_equal(maildir_deliver(tt, 2, &bad, rb), -1);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(rb[i].status, MAILDIR_TEMPFAIL);
		assert_int_equal(rb[i].error, EBADF);
		assert_non_null(strstr(rb[i].error_text, "read("));
	}
	maildir_results_free(rb, 2);
	n = tpath("mailboxes/example.org/alice/mail/new");
	tm = tpath("mailboxes/example.org/alice/mail/tmp");
	assert_int_equal(count_files(n), 0);
	assert_int_equal(count_files(tm), 0);
	free(n);
	free(tm);

	/* A target whose directory cannot be made: a file where the domain dir goes. */
	char *dom = tpath("mailboxes/blocked.test");
	write_file(dom, "", 0600);
	struct user_fixture bl;
	make_user(&bl, "blocked.test", "carol");
	store_set_link_func(NULL);
	struct maildir_target t2[2] = {{bl.root, bl.root, bl.base, NULL, NULL},
	                               {a.root, a.root, a.base, NULL, NULL}};
	fd = msg_fd("y\n");
	src.fd = fd;
	struct maildir_result r2[2];
	assert_int_equal(maildir_deliver(t2, 2, &src, r2), -1);
	close(fd);
	assert_int_equal(r2[0].status, MAILDIR_TEMPFAIL);
	assert_int_equal(r2[1].status, MAILDIR_OK);
	maildir_results_free(r2, 2);
	free(dom);
	free_user(&bl);
	free_user(&a);
}

static int kill_self_link(const char *oldpath, const char *newpath)
{
	kill(getpid(), SIGKILL);
	return -1;
}

static void test_kill9_leaves_nothing(void **state)
{
	struct user_fixture a;
	const char *error;
	unsigned removed = 1;

	make_user(&a, "example.org", "alice");
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Killed between the fsynced tmp/ file and the link into new/. */
		struct maildir_target t = {a.root, a.root, a.base, NULL, NULL};
		struct maildir_result r;
		int fd = msg_fd("doomed\n");
		struct maildir_source src = {fd, NULL};
		store_set_link_func(kill_self_link);
		maildir_deliver(&t, 1, &src, &r);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);

	char *tmp = tpath("mailboxes/example.org/alice/mail/tmp");
	char *newd = tpath("mailboxes/example.org/alice/mail/new");
	assert_int_equal(count_files(tmp), 1);
	assert_int_equal(count_files(newd), 0);
	assert_int_equal(maildir_clean_tmp(a.root, time(NULL), &removed, &error), 0);
	assert_int_equal(removed, 1);
	assert_int_equal(count_files(tmp), 0);
	free(tmp);
	free(newd);
	free_user(&a);
}

/* ---- sizes and names ---- */

static void test_vsize(void **state)
{
	static const struct {
		const char *data;
		uint64_t vsize;
	} t[] = {
	    {"", 0},       {"a", 1},          {"\n", 2},        {"\r\n", 2},
	    {"a\nb\n", 6}, {"a\r\nb\r\n", 6}, {"\r", 1},        {"\r\r\n", 3},
	    {"\n\n", 4},   {"\r\n\n", 4},     {"x\r\ny\nz", 7}, {"\n\r\n\r", 5},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t len = strlen(t[i].data);
		/* the same answer whatever the chunking */
		for (size_t split = 0; split <= len; split++) {
			struct maildir_vsize v = {0, 0, false};
			maildir_vsize_update(&v, t[i].data, split);
			maildir_vsize_update(&v, t[i].data + split, len - split);
			assert_int_equal(v.size, len);
			assert_int_equal(v.vsize, t[i].vsize);
		}
	}
}

static void test_name_parse(void **state)
{
	struct maildir_name mn;
	const char *n;

	n = "1795311861.M628527P8508.vm,S=39,W=44";
	assert_int_equal(maildir_name_parse(n, strlen(n), &mn), 0);
	assert_int_equal(mn.base_len, strlen("1795311861.M628527P8508.vm"));
	assert_true(mn.have_size && mn.size == 39);
	assert_true(mn.have_vsize && mn.vsize == 44);
	assert_false(mn.have_info);
	assert_true(mn.have_origin);
	assert_int_equal(mn.secs, 1795311861);
	assert_int_equal(mn.pid, 8508);
	assert_int_equal(mn.host_len, 2);
	assert_memory_equal(mn.host, "vm", 2);

	n = "1795311861.M628527P8508.mx.example.org,W=44,S=39:2,TSFab";
	assert_int_equal(maildir_name_parse(n, strlen(n), &mn), 0);
	assert_true(mn.have_size && mn.size == 39);
	assert_true(mn.have_vsize && mn.vsize == 44);
	assert_true(mn.have_info);
	assert_string_equal(mn.flags, "FST");
	assert_string_equal(mn.keywords, "ab");
	assert_int_equal(mn.host_len, strlen("mx.example.org"));

	n = "1234.5678.host:2,";
	assert_int_equal(maildir_name_parse(n, strlen(n), &mn), 0);
	assert_int_equal(mn.pid, 5678);
	assert_true(mn.have_info);
	assert_string_equal(mn.flags, "");
	assert_false(mn.have_size);

	n = "1234.M1P2Q3.h\\057x,S=5";
	assert_int_equal(maildir_name_parse(n, strlen(n), &mn), 0);
	assert_int_equal(mn.pid, 2);
	assert_int_equal(mn.size, 5);
	assert_int_equal(mn.host_len, 6);

	/* broken numbers are absent, not errors */
	n = "1.M1P1.h,S=12x,W=,S=99999999999999999999999";
	assert_int_equal(maildir_name_parse(n, strlen(n), &mn), 0);
	assert_false(mn.have_size);
	assert_false(mn.have_vsize);

	n = "courier-style-name:1,foo";
	assert_int_equal(maildir_name_parse(n, strlen(n), &mn), 0);
	assert_false(mn.have_info);
	assert_false(mn.have_origin);
	assert_int_equal(mn.base_len, strlen("courier-style-name"));

	n = "x.y";
	assert_int_equal(maildir_name_parse(n, strlen(n), &mn), 0);
	assert_false(mn.have_origin);

	assert_int_equal(maildir_name_parse("", 0, &mn), -1);
	assert_int_equal(maildir_name_parse(".", 1, &mn), -1);
	assert_int_equal(maildir_name_parse("..", 2, &mn), -1);
	assert_int_equal(maildir_name_parse(".dot,S=1", 8, &mn), -1);
	assert_int_equal(maildir_name_parse("a/b", 3, &mn), -1);
	assert_int_equal(maildir_name_parse("a\0b", 3, &mn), -1);

	/* our own names parse back to our origin */
	char buf[MAILDIR_NAME_MAX];
	maildir_unique_name(buf, sizeof(buf));
	assert_int_equal(maildir_name_parse(buf, strlen(buf), &mn), 0);
	assert_true(mn.have_origin);
	assert_int_equal(mn.pid, getpid());
	assert_int_equal(mn.host_len, strlen(maildir_hostname()));
	assert_null(strchr(maildir_hostname(), '/'));
	assert_null(strchr(maildir_hostname(), ':'));
}

static void test_list_and_sizes(void **state)
{
	struct user_fixture a;
	const char *error;
	struct maildir_msg *m;
	unsigned n;
	struct maildir_result r;

	make_user(&a, "example.org", "alice");
	/* missing mailbox: empty */
	assert_int_equal(maildir_list(a.root, 0, &m, &n, &error), 0);
	assert_int_equal(n, 0);
	maildir_list_free(m, n);

	static const char *const flags[] = {NULL, "S", "RS"};
	for (int i = 0; i < 3; i++) {
		struct maildir_target t = {a.root, a.root, a.base, NULL, flags[i]};
		int fd = msg_fd("line\nline\n");
		struct maildir_source src = {fd, NULL};
		assert_int_equal(maildir_deliver(&t, 1, &src, &r), 0);
		close(fd);
		maildir_results_free(&r, 1);
	}
	/* a foreign file without S=/W=, and a dot file that is ignored */
	char *foreign = tpath("mailboxes/example.org/alice/mail/cur/9.foreign:2,F");
	char *dot = tpath("mailboxes/example.org/alice/mail/cur/.hidden");
	write_file(foreign, "a\nbc\n", 0600);
	write_file(dot, "zzz", 0600);

	assert_int_equal(maildir_list(a.root, 0, &m, &n, &error), 0);
	assert_int_equal(n, 4);
	unsigned in_cur = 0;
	for (unsigned i = 0; i < n; i++) {
		if (i > 0)
			assert_true(strcmp(m[i - 1].name, m[i].name) < 0);
		if (m[i].in_cur)
			in_cur++;
		if (strcmp(m[i].name, "9.foreign:2,F") == 0) {
			assert_false(m[i].have_size);
			assert_string_equal(m[i].flags, "F");
		} else {
			assert_true(m[i].have_size);
			assert_int_equal(m[i].size, 10);
			assert_int_equal(m[i].vsize, 12);
		}
	}
	assert_int_equal(in_cur, 3);
	maildir_list_free(m, n);

	assert_int_equal(maildir_list(a.root, 3, &m, &n, &error), -1);
	assert_non_null(strstr(error, "more than 3"));

	uint64_t sz;
	assert_int_equal(maildir_message_size(foreign, &sz, &error), 0);
	assert_int_equal(sz, 5);
	assert_int_equal(maildir_message_vsize(foreign, &sz, &error), 0);
	assert_int_equal(sz, 7);
	/* The name wins over the file when it says S=/W= (that is how Dovecot reads it). */
	char *named = tpath("mailboxes/example.org/alice/mail/cur/1.M1P1.h,S=100,W=200:2,");
	write_file(named, "tiny", 0600);
	assert_int_equal(maildir_message_size(named, &sz, &error), 0);
	assert_int_equal(sz, 100);
	assert_int_equal(maildir_message_vsize(named, &sz, &error), 0);
	assert_int_equal(sz, 200);
	char *gone = tpath("nope/1.x");
	assert_int_equal(maildir_message_size(gone, &sz, &error), -1);
	assert_int_equal(maildir_message_vsize(gone, &sz, &error), -1);
	free(gone);
	free(named);
	free(foreign);
	free(dot);
	free_user(&a);
}

/* ---- stale tmp/ ---- */

static pid_t dead_pid(void)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return pid;
}

static void make_tmp(const char *mailbox, const char *name, time_t age)
{
	char *p = xasprintf("%s/tmp/%s", mailbox, name);
	write_file(p, "partial", 0600);
	if (age > 0) {
		struct timespec ts[2];
		ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	}
	free(p);
}

static bool tmp_has(const char *mailbox, const char *name)
{
	char *p = xasprintf("%s/tmp/%s", mailbox, name);
	bool r = access(p, F_OK) == 0;
	free(p);
	return r;
}

static void test_clean_tmp(void **state)
{
	struct user_fixture a;
	const char *error;
	unsigned removed;
	char name[6][MAILDIR_NAME_MAX];
	pid_t dead = dead_pid();
	const char *host = maildir_hostname();

	make_user(&a, "example.org", "alice");
	assert_int_equal(maildir_create(a.root, a.base, &error), 0);
	/* nothing there yet */
	assert_int_equal(maildir_clean_tmp(a.root, time(NULL), &removed, &error), 0);
	assert_int_equal(removed, 0);

	snprintf(name[0], sizeof(name[0]), "100.M1P%ld.%s", (long)getpid(), host); /* live: keep */
	snprintf(name[1], sizeof(name[1]), "100.M2P%ld.%s", (long)dead, host);     /* dead: go */
	snprintf(name[2], sizeof(name[2]), "100.M3P%ld.other-host", (long)dead);   /* keep */
	snprintf(name[3], sizeof(name[3]), "unparsable");                          /* keep */
	snprintf(name[4], sizeof(name[4]), "100.M5P%ld.other-host", (long)dead);   /* old: go */
	snprintf(name[5], sizeof(name[5]), "100.M6P%ld.%sX", (long)dead, host);    /* other host */
	make_tmp(a.root, name[0], 0);
	make_tmp(a.root, name[1], 0);
	make_tmp(a.root, name[2], MAILDIR_TMP_STALE_SECS - 3600);
	make_tmp(a.root, name[3], 0);
	make_tmp(a.root, name[4], MAILDIR_TMP_STALE_SECS + 3600);
	make_tmp(a.root, name[5], 0);
	char *sub = xasprintf("%s/tmp/subdir", a.root);
	assert_int_equal(mkdir(sub, 0700), 0);

	assert_int_equal(maildir_clean_tmp(a.root, time(NULL), &removed, &error), 0);
	assert_int_equal(removed, 2);
	assert_true(tmp_has(a.root, name[0]));
	assert_false(tmp_has(a.root, name[1]));
	assert_true(tmp_has(a.root, name[2]));
	assert_true(tmp_has(a.root, name[3]));
	assert_false(tmp_has(a.root, name[4]));
	assert_true(tmp_has(a.root, name[5]));
	assert_true(tmp_has(a.root, "subdir"));

	/* 36 hours later everything left goes, but the directory stays */
	assert_int_equal(
	    maildir_clean_tmp(a.root, time(NULL) + MAILDIR_TMP_STALE_SECS + 60, &removed, &error),
	    0);
	assert_int_equal(removed, 4);
	assert_true(tmp_has(a.root, "subdir"));
	free(sub);
	free_user(&a);
}

static void test_clean_tree(void **state)
{
	const char *error;
	struct maildir_clean_stats st;
	char stale[MAILDIR_NAME_MAX];
	static const char *const users[][2] = {
	    {"example.org", "alice"}, {"example.org", "bob"}, {"example.net", "carol"}};
	struct user_fixture u[3];
	pid_t dead = dead_pid();

	snprintf(stale, sizeof(stale), "100.M1P%ld.%s", (long)dead, maildir_hostname());
	for (int i = 0; i < 3; i++) {
		char *spam;
		make_user(&u[i], users[i][0], users[i][1]);
		assert_int_equal(maildir_create(u[i].root, u[i].base, &error), 0);
		assert_int_equal(store_mailbox_path(u[i].root, "Lists/dev", &spam, &error), 0);
		assert_int_equal(maildir_create(spam, u[i].base, &error), 0);
		make_tmp(u[i].root, stale, 0);
		make_tmp(spam, stale, 0);
		free(spam);
	}
	/* a symlink to elsewhere is not followed */
	char *outside = tpath("outside");
	char *link_path = tpath("mailboxes/example.org/link");
	assert_int_equal(mkdir(outside, 0700), 0);
	char *omb = tpath("outside/mb");
	assert_int_equal(maildir_create(omb, outside, &error), 0);
	make_tmp(omb, stale, 0);
	assert_int_equal(symlink(outside, link_path), 0);

	assert_int_equal(maildir_clean_tmp_tree(u[0].base, time(NULL), 3, &st, &error), 0);
	assert_true(st.truncated);
	assert_int_equal(st.dirs, 3);

	assert_int_equal(maildir_clean_tmp_tree(u[0].base, time(NULL), 100000, &st, &error), 0);
	assert_false(st.truncated);
	assert_int_equal(st.maildirs, 6);
	assert_int_equal(st.removed, 6);
	assert_int_equal(st.errors, 0);
	assert_true(tmp_has(omb, stale));

	char *missing = tpath("no-such-dir");
	assert_int_equal(maildir_clean_tmp_tree(missing, time(NULL), 10, &st, &error), -1);
	free(missing);
	free(outside);
	free(link_path);
	free(omb);
	for (int i = 0; i < 3; i++)
		free_user(&u[i]);
}

/* ---- helper mode for the Dovecot integration test ---- */

static int helper_deliver(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: %s deliver BASE ROOT QUOTA_MB FILE [FLAGS:]MAILBOX...\n",
		        argv[0]);
		return 2;
	}
	const char *base = argv[2], *root = argv[3], *file = argv[5];
	struct quota_limits limits;
	unsigned n = (unsigned)(argc - 6);
	struct maildir_target *t = xcalloc(n, sizeof(*t));
	struct maildir_result *r = xcalloc(n, sizeof(*r));
	char **paths = xcalloc(n, sizeof(*paths));
	char **flags = xcalloc(n, sizeof(*flags));
	const char *error;

	quota_limits_from_mb((unsigned)strtoul(argv[4], NULL, 10), &limits);
	for (unsigned i = 0; i < n; i++) {
		const char *mb = argv[6 + i];
		const char *colon = strchr(mb, ':');
		if (colon != NULL) {
			flags[i] = xstrndup(mb, (size_t)(colon - mb));
			mb = colon + 1;
		}
		if (store_mailbox_path(root, mb, &paths[i], &error) < 0) {
			fprintf(stderr, "%s: %s\n", mb, error);
			return 2;
		}
		t[i] = (struct maildir_target){root, paths[i], base, &limits, flags[i]};
	}
	int fd = open(file, O_RDONLY);
	if (fd < 0) {
		perror(file);
		return 2;
	}
	struct maildir_source src = {fd, NULL};
	int ret = maildir_deliver(t, n, &src, r) == 0 ? 0 : 1;
	close(fd);
	for (unsigned i = 0; i < n; i++) {
		if (r[i].status == MAILDIR_OK)
			printf("ok %s\n", r[i].path);
		else
			printf("%s %s\n", r[i].status == MAILDIR_QUOTA ? "quota" : "tempfail",
			       r[i].error_text);
		free(paths[i]);
		free(flags[i]);
	}
	maildir_results_free(r, n);
	free(r);
	free(t);
	free(paths);
	free(flags);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "deliver") == 0)
		return helper_deliver(argc, argv);

	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_safe),
	    cmocka_unit_test(test_expand),
	    cmocka_unit_test(test_static_prefix),
	    cmocka_unit_test(test_user_init),
	    cmocka_unit_test(test_mailbox_path),
	    cmocka_unit_test_setup_teardown(test_mkdirs, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_first_delivery_creates, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_deliver_many_targets, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_deliver_spool_file, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_deliver_flags, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_unique_fast, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_unique_threads, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_link_fallback, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_link_error, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_kill9_leaves_nothing, setup_dir, teardown_dir),
	    cmocka_unit_test(test_vsize),
	    cmocka_unit_test(test_name_parse),
	    cmocka_unit_test_setup_teardown(test_list_and_sizes, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_clean_tmp, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_clean_tree, setup_dir, teardown_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
