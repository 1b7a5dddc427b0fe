/*
 * test-store-meta.c - Dovecot's Maildir metadata files: dovecot-uidlist
 * (table-driven parsing of every valid and malformed form, formatting,
 * lookups, UID assignment order, append and replace, persistence, drop of
 * vanished files, recovery from a broken file), dovecot-uidvalidity
 * allocation (also from several processes at once), dot-locks (contents,
 * contention between processes and threads, breaking locks of dead
 * processes and stale ones, never a live one, touch, release after being
 * broken, replace), dovecot-keywords and subscriptions (parsing, lookups,
 * adding, writing, concurrent subscribers). Everything runs in a fresh
 * directory under $TMPDIR (or /tmp).
 *
 * Also helpers for tests/integration/test_store_meta_dovecot.py:
 *   test-store-meta read MAILBOX              the uidlist as it is (no lock)
 *   test-store-meta sync ROOT MAILBOX [drop]  uidlist_sync, then as read
 *   test-store-meta keywords MAILBOX          "<letter> <name>" lines
 *   test-store-meta keyword-add MAILBOX NAME  under the uidlist lock
 *   test-store-meta subs ROOT                 one subscribed name a line
 *   test-store-meta subscribe|unsubscribe ROOT NAME
 *   test-store-meta lock MAILBOX              hold the uidlist lock until
 *                                             stdin closes ("locked" once held)
 * "read" and "sync" print "uidvalidity V", "next N", "guid G", then
 * "<uid> <base name> <new/ or cur/><current file> or "-"" per record.
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
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "store/store.h"

static char tdir[PATH_MAX];

#define GUID "0e8fc7036e55026be543000083ecc375"
#define HDR  "3 V1795315054 N1 G" GUID "\n"

/* ---- helpers ---- */

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup_dir(void **state)
{
	const char *t = getenv("TMPDIR");
	snprintf(tdir, sizeof(tdir), "%s/test-store-meta.XXXXXX",
	         t != NULL && *t != '\0' ? t : "/tmp");
	return mkdtemp(tdir) == NULL ? -1 : 0;
}

static int teardown_dir(void **state)
{
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

static void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;

	if (f == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	return b.data != NULL ? buf_steal(&b) : xstrdup("");
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* exists() for a path below tdir */
static bool texists(const char *rel)
{
	char *p = tpath("%s", rel);
	bool r = exists(p);
	free(p);
	return r;
}

/* A Maildir at <tdir>/<rel> with its cur/ new/ tmp/. */
static char *make_maildir(const char *rel)
{
	char *p = tpath("%s", rel);
	const char *error = NULL;
	assert_int_equal(maildir_create(p, tdir, &error), 0);
	return p;
}

static void put_msg(const char *mailbox, const char *sub, const char *name)
{
	char *p = xasprintf("%s/%s/%s", mailbox, sub, name);
	write_file(p, "Subject: t\n\nbody\n");
	free(p);
}

/* ---- uidlist parsing ---- */

struct rec_want {
	uint32_t uid;
	const char *name;
	const char *ext;
};

struct parse_ok_case {
	const char *what;
	const char *data;
	unsigned version;
	uint32_t uidvalidity, next_uid;
	const char *guid;
	const char *hdr_ext;
	bool dirty;
	unsigned count;
	struct rec_want recs[4];
};

static const struct parse_ok_case parse_ok[] = {
    {"as Dovecot 2.3 writes it, N lagging behind appended lines",
     HDR "1 :1795315054.M62913P17381.vm,S=30,W=34\n"
         "2 :1795315054.M83926P17384.vm,S=30,W=34\n"
         "3 :1795315054.M99963P17387.vm,S=30,W=34\n",
     3,
     1795315054,
     4,
     GUID,
     NULL,
     false,
     3,
     {{1, "1795315054.M62913P17381.vm,S=30,W=34", NULL},
      {2, "1795315054.M83926P17384.vm,S=30,W=34", NULL},
      {3, "1795315054.M99963P17387.vm,S=30,W=34", NULL}}},
    {"header only", HDR, 3, 1795315054, 1, GUID, NULL, false, 0, {{0}}},
    {"N ahead, extension fields, old names with flags",
     "3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1\n"
     "25006 :1276528487.M364837P9451.kurkku,S=1355,W=1394:2,\n"
     "25017 W2481 :1276533073.M242911P3632.kurkku:2,F\n",
     3,
     1275660208,
     25022,
     "3085f01b7f11094c501100008c4a11c1",
     NULL,
     false,
     2,
     {{25006, "1276528487.M364837P9451.kurkku,S=1355,W=1394", NULL},
      {25017, "1276533073.M242911P3632.kurkku", "W2481"}}},
    {"unknown header fields kept, fields in any order, GUID in upper case",
     "3 X1 N7  Yabc V9 G3085F01B7F11094C501100008C4A11C1 Z\n"
     "2  S10   W12  Gabc  :a b:c\n",
     3,
     9,
     7,
     "3085f01b7f11094c501100008c4a11c1",
     "X1 Yabc Z",
     false,
     1,
     {{2, "a b", "S10 W12 Gabc"}}},
    {"version 1 (Courier)",
     "1 123 5\n1 a\n3 b:2,S\n",
     1,
     123,
     5,
     "",
     NULL,
     false,
     2,
     {{1, "a", NULL}, {3, "b", NULL}}},
    {"a last line without line end is being appended",
     HDR "1 :a\n2 :b",
     3,
     1795315054,
     2,
     GUID,
     NULL,
     false,
     1,
     {{1, "a", NULL}}},
    {"a name again under a higher UID moves there",
     HDR "1 :a\n2 :b\n3 :a:2,S\n",
     3,
     1795315054,
     4,
     GUID,
     NULL,
     true,
     2,
     {{2, "b", NULL}, {3, "a", NULL}}},
    {"extension field with a bad key is dropped",
     HDR "1 w12 W3 :a\n",
     3,
     1795315054,
     2,
     GUID,
     NULL,
     true,
     1,
     {{1, "a", "W3"}}},
    {"a name without base is skipped",
     HDR "1 ::2,S\n2 :b\n",
     3,
     1795315054,
     3,
     GUID,
     NULL,
     true,
     1,
     {{2, "b", NULL}}},
    {"highest UID",
     HDR "4294967294 :a\n",
     3,
     1795315054,
     0xffffffffu,
     GUID,
     NULL,
     false,
     1,
     {{4294967294u, "a", NULL}}},
};

static void test_uidlist_parse_ok(void **state)
{
	for (size_t i = 0; i < sizeof(parse_ok) / sizeof(parse_ok[0]); i++) {
		const struct parse_ok_case *c = &parse_ok[i];
		struct uidlist ul;
		const char *error = NULL;

		uidlist_init(&ul);
		if (uidlist_parse(c->data, strlen(c->data), &ul, &error) != 0)
			fail_msg("%s: %s", c->what, error);
		assert_int_equal(ul.version, c->version);
		assert_int_equal(ul.uidvalidity, c->uidvalidity);
		assert_int_equal(ul.next_uid, c->next_uid);
		assert_string_equal(ul.guid, c->guid);
		if (c->hdr_ext == NULL)
			assert_null(ul.hdr_ext);
		else
			assert_string_equal(ul.hdr_ext, c->hdr_ext);
		assert_int_equal(ul.dirty, c->dirty);
		if (ul.count != c->count)
			fail_msg("%s: %u records", c->what, ul.count);
		for (unsigned j = 0; j < c->count; j++) {
			assert_int_equal(ul.recs[j].uid, c->recs[j].uid);
			assert_string_equal(ul.recs[j].name, c->recs[j].name);
			if (c->recs[j].ext == NULL)
				assert_null(ul.recs[j].ext);
			else
				assert_string_equal(ul.recs[j].ext, c->recs[j].ext);
			assert_null(ul.recs[j].file);
			assert_ptr_equal(uidlist_lookup_uid(&ul, c->recs[j].uid), &ul.recs[j]);
			assert_ptr_equal(uidlist_lookup_name(&ul, c->recs[j].name), &ul.recs[j]);
		}

		/* What we write reads back the same (version 3). */
		if (ul.guid[0] == '\0')
			memcpy(ul.guid, GUID, sizeof(ul.guid));
		struct buf out = BUF_INIT;
		struct uidlist again;
		uidlist_format(&ul, &out);
		uidlist_init(&again);
		assert_int_equal(uidlist_parse(out.data, out.len, &again, &error), 0);
		assert_int_equal(again.version, 3);
		assert_int_equal(again.uidvalidity, ul.uidvalidity);
		assert_int_equal(again.next_uid, ul.next_uid);
		assert_string_equal(again.guid, ul.guid);
		assert_int_equal(again.count, ul.count);
		assert_false(again.dirty);
		for (unsigned j = 0; j < ul.count; j++) {
			assert_int_equal(again.recs[j].uid, ul.recs[j].uid);
			assert_string_equal(again.recs[j].name, ul.recs[j].name);
		}
		buf_free(&out);
		uidlist_free(&again);
		uidlist_free(&ul);
	}
}

struct parse_bad_case {
	const char *data;
	size_t len; /* 0: strlen */
	const char *error;
};

static const struct parse_bad_case parse_bad[] = {
    {"", 0, "empty file"},
    {"3 V1 N1 G" GUID, 0, "line 1: header without line end"},
    {"x\n", 0, "line 1: bad header (no version number)"},
    {"3\n", 0, "line 1: bad header (no version number)"},
    {"\n", 0, "line 1: bad header (no version number)"},
    {"33 V1 N1\n", 0, "line 1: bad header (no version number)"},
    {"2 V1 N1\n", 0, "line 1: unsupported version 2"},
    {"4 V1 N1\n", 0, "line 1: unsupported version 4"},
    {"3 N1 G" GUID "\n", 0, "line 1: bad header (UIDVALIDITY 0, next UID 1)"},
    {"3 V1 G" GUID "\n", 0, "line 1: bad header (UIDVALIDITY 1, next UID 0)"},
    {"3 V0 N1\n", 0, "line 1: bad header (UIDVALIDITY 0, next UID 1)"},
    {"3 V1 N0\n", 0, "line 1: bad header (UIDVALIDITY 1, next UID 0)"},
    {"3 Vabc N1\n", 0, "line 1: bad UIDVALIDITY"},
    {"3 V N1\n", 0, "line 1: bad UIDVALIDITY"},
    {"3 V4294967296 N1\n", 0, "line 1: bad UIDVALIDITY"},
    {"3 V1 N-1\n", 0, "line 1: bad next UID"},
    {"3 V1 N1 Gxyz\n", 0, "line 1: bad mailbox GUID (not 32 hex digits)"},
    {"3 V1 N1 G" GUID "0\n", 0, "line 1: bad mailbox GUID (not 32 hex digits)"},
    {"3 V1 N1 G\n", 0, "line 1: bad mailbox GUID (not 32 hex digits)"},
    {"1 abc 5\n", 0, "line 1: bad version 1 header"},
    {"1 5\n", 0, "line 1: bad version 1 header"},
    {"1 5 3\n4 a\n", 0, "line 2: UID 4 not below the next UID 3"},
    {HDR "\n", 0, "line 2: not \"<uid> ...\""},
    {HDR "0 :a\n", 0, "line 2: not \"<uid> ...\""},
    {HDR "abc :a\n", 0, "line 2: not \"<uid> ...\""},
    {HDR "5:a\n", 0, "line 2: not \"<uid> ...\""},
    {HDR "5\n", 0, "line 2: not \"<uid> ...\""},
    {HDR " 5 :a\n", 0, "line 2: not \"<uid> ...\""},
    {HDR "2 :a\n1 :b\n", 0, "line 3: UIDs not ascending (1 after 2)"},
    {HDR "1 :a\n1 :b\n", 0, "line 3: UIDs not ascending (1 after 1)"},
    {HDR "4294967295 :a\n", 0, "line 2: UID too high"},
    {HDR "99999999999 :a\n", 0, "line 2: UID too high"},
    {HDR "1 W1\n", 0, "line 2: no \":<file name>\""},
    {HDR "1 \n", 0, "line 2: no \":<file name>\""},
    {HDR "1 :\n", 0, "line 2: empty file name"},
    {"1 5 9\n1 \n", 0, "line 2: empty file name"},
    {HDR "1 :a/b\n", 0, "line 2: '/' in the file name"},
    {HDR "1 :a\0b\n", sizeof(HDR "1 :a\0b\n") - 1, "NUL byte at offset 55"},
};

static void test_uidlist_parse_bad(void **state)
{
	for (size_t i = 0; i < sizeof(parse_bad) / sizeof(parse_bad[0]); i++) {
		const struct parse_bad_case *c = &parse_bad[i];
		size_t len = c->len != 0 ? c->len : strlen(c->data);
		struct uidlist ul;
		const char *error = NULL;

		uidlist_init(&ul);
		if (uidlist_parse(c->data, len, &ul, &error) != -1)
			fail_msg("case %zu parsed: %s", i, c->data);
		if (error == NULL || strcmp(error, c->error) != 0)
			fail_msg("case %zu: \"%s\", wanted \"%s\"", i, error, c->error);
		/* Nothing is left behind. */
		assert_int_equal(ul.count, 0);
		assert_int_equal(ul.uidvalidity, 0);
		assert_null(ul.hdr_ext);
		uidlist_free(&ul);
	}
}

static void test_uidlist_limits(void **state)
{
	struct uidlist ul;
	const char *error = NULL;
	struct buf b = BUF_INIT;

	uidlist_init(&ul);
	/* A line of exactly the limit is fine, one byte more is not. */
	buf_append_str(&b, HDR "1 :");
	size_t start = b.len - 3;
	while (b.len - start < UIDLIST_LINE_MAX)
		buf_append_c(&b, 'x');
	buf_append_c(&b, '\n');
	assert_int_equal(uidlist_parse(b.data, b.len, &ul, &error), 0);
	assert_int_equal(ul.count, 1);
	assert_int_equal(strlen(ul.recs[0].name), UIDLIST_LINE_MAX - 3);
	buf_truncate(&b, b.len - 1);
	buf_append(&b, "x\n", 2);
	assert_int_equal(uidlist_parse(b.data, b.len, &ul, &error), -1);
	assert_string_equal(error, "line 2: longer than 65536 bytes");
	/* Even without a line end (a huge last line). */
	buf_truncate(&b, b.len - 1);
	assert_int_equal(uidlist_parse(b.data, b.len, &ul, &error), -1);
	assert_string_equal(error, "line 2: longer than 65536 bytes");
	buf_free(&b);

	/* The size limit is checked before anything is read. */
	char *big = xmalloc(UIDLIST_MAX_SIZE + 1);
	memcpy(big, HDR, strlen(HDR));
	assert_int_equal(uidlist_parse(big, UIDLIST_MAX_SIZE + 1, &ul, &error), -1);
	assert_string_equal(error, "larger than 67108864 bytes");
	free(big);
	uidlist_free(&ul);
}

static void test_uidlist_names(void **state)
{
	static const struct {
		const char *a, *b;
		int cmp;
	} cases[] = {
	    {"1000.M5P1.h", "1000.M10P1.h", -1}, /* microseconds as numbers */
	    {"999.M9P1.h", "1000.M1P1.h", -1},   /* seconds as numbers */
	    {"1000.M5P2.h", "1000.M5P10.h", 1},  /* then the name, bytewise */
	    {"1000.P1.h", "1000.P2.h", -1},      /* no M part: the name */
	    {"1000.M7P1.h", "1000.P1.h", -1},    /* only one with M: the name */
	    {"1000.M5P1.a", "1000.M5P1.b:2,S", -1},
	    {"1000.M5P1.a:2,S", "1000.M5P1.a", 0}, /* flags do not count */
	    {"1000.M5P1.a,S=5:2,", "1000.M5P1.a,S=5", 0},
	    {"abc", "abd", -1},
	    {"abc", "ab", 1},
	    {"", "a", -1},
	    {"99999999999999999999999.x", "1.x", 1}, /* saturates, no overflow */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = uidlist_name_cmp(cases[i].a, cases[i].b);
		int s = uidlist_name_cmp(cases[i].b, cases[i].a);
		if ((r > 0) - (r < 0) != cases[i].cmp || (s > 0) - (s < 0) != -cases[i].cmp)
			fail_msg("case %zu: %d %d", i, r, s);
	}

	assert_true(uidlist_name_ok("1.M1P1.h,S=1:2,S"));
	assert_false(uidlist_name_ok(""));
	assert_false(uidlist_name_ok(":2,S"));
	assert_false(uidlist_name_ok("a/b"));
	assert_false(uidlist_name_ok("a\nb"));
	assert_false(uidlist_name_ok("a\rb"));

	struct uidlist ul;
	const char *error = NULL;
	uint32_t uid = 0;
	uidlist_init(&ul);
	ul.uidvalidity = 5;
	assert_int_equal(uidlist_add(&ul, "x:2,S", &uid, &error), 0);
	assert_int_equal(uid, 1);
	assert_string_equal(ul.recs[0].name, "x");
	assert_int_equal(uidlist_add(&ul, "x", &uid, &error), -1);
	assert_string_equal(error, "x: listed already as UID 1");
	assert_int_equal(uidlist_add(&ul, "a\nb", &uid, &error), -1);
	assert_non_null(strstr(error, "cannot list file name"));
	ul.next_uid = 0xfffffffeu;
	assert_int_equal(uidlist_add(&ul, "y", &uid, &error), 0);
	assert_int_equal(uid, 0xfffffffeu);
	assert_int_equal(uidlist_add(&ul, "z", &uid, &error), -1);
	assert_string_equal(error, "no UIDs left in this UIDVALIDITY");
	assert_null(uidlist_lookup_uid(&ul, 2));
	assert_null(uidlist_lookup_name(&ul, "z"));
	assert_non_null(uidlist_lookup_name(&ul, "y:2,FS"));
	uidlist_free(&ul);

	/* Many records: the index grows and still finds every one. */
	uidlist_init(&ul);
	ul.uidvalidity = 1;
	for (unsigned i = 0; i < 5000; i++) {
		char name[32];
		snprintf(name, sizeof(name), "%u.M%uP1.h", 1000 + i / 7, i);
		assert_int_equal(uidlist_add(&ul, name, &uid, &error), 0);
		assert_int_equal(uid, i + 1);
	}
	for (unsigned i = 0; i < 5000; i++) {
		char name[40];
		snprintf(name, sizeof(name), "%u.M%uP1.h:2,S", 1000 + i / 7, i);
		const struct uidlist_rec *r = uidlist_lookup_name(&ul, name);
		assert_non_null(r);
		assert_int_equal(r->uid, i + 1);
		assert_ptr_equal(uidlist_lookup_uid(&ul, i + 1), r);
	}
	uidlist_free(&ul);

	char g1[UIDLIST_GUID_LEN + 1], g2[UIDLIST_GUID_LEN + 1];
	uidlist_guid_generate(g1);
	uidlist_guid_generate(g2);
	assert_int_equal(strlen(g1), 32);
	assert_int_equal(strspn(g1, "0123456789abcdef"), 32);
	assert_string_not_equal(g1, g2);
}

/* ---- uidlist on disk ---- */

static void test_uidvalidity(void **state)
{
	const char *error = NULL;
	uint32_t a = 0, b = 0, c = 0;
	time_t before = time(NULL);

	assert_int_equal(uidlist_uidvalidity_next(tdir, &a, &error), 0);
	time_t after = time(NULL);
	assert_true(a >= (uint32_t)before && a <= (uint32_t)after);
	char *main_file = tpath(UIDVALIDITY_FILE);
	char *s = read_file(main_file);
	char want[16];
	snprintf(want, sizeof(want), "%08x", a);
	assert_string_equal(s, want);
	free(s);
	char *marker = tpath(UIDVALIDITY_FILE ".%08x", a);
	assert_true(exists(marker));
	struct stat st;
	assert_int_equal(stat(marker, &st), 0);
	assert_int_equal(st.st_size, 0);
	free(marker);

	/* Each next value is one more, the marker moves with it. */
	assert_int_equal(uidlist_uidvalidity_next(tdir, &b, &error), 0);
	assert_int_equal(b, a + 1);
	marker = tpath(UIDVALIDITY_FILE ".%08x", b);
	assert_true(exists(marker));
	free(marker);

	/* Without the main file the markers are scanned; of two the older
	 * one is removed. */
	assert_int_equal(unlink(main_file), 0);
	char *older = tpath(UIDVALIDITY_FILE ".%08x", a - 5);
	write_file(older, "");
	assert_int_equal(uidlist_uidvalidity_next(tdir, &c, &error), 0);
	assert_int_equal(c, b + 1);
	assert_false(exists(older));
	free(older);

	/* A broken main file too. */
	write_file(main_file, "zz");
	assert_int_equal(uidlist_uidvalidity_next(tdir, &a, &error), 0);
	assert_int_equal(a, c + 1);
	s = read_file(main_file);
	snprintf(want, sizeof(want), "%08x", a);
	assert_string_equal(s, want);
	free(s);
	free(main_file);

	/* A missing root is an error. */
	char *none = tpath("none");
	assert_int_equal(uidlist_uidvalidity_next(none, &a, &error), -1);
	assert_non_null(strstr(error, "No such file"));
	free(none);
}

static void test_uidvalidity_processes(void **state)
{
	enum { PROCS = 4, EACH = 25 };
	int fds[2];
	pid_t pids[PROCS];

	assert_int_equal(pipe(fds), 0);
	for (int i = 0; i < PROCS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			close(fds[0]);
			for (int j = 0; j < EACH; j++) {
				uint32_t v;
				const char *error;
				if (uidlist_uidvalidity_next(tdir, &v, &error) < 0)
					_exit(1);
				if (write(fds[1], &v, sizeof(v)) != sizeof(v))
					_exit(1);
			}
			_exit(0);
		}
	}
	close(fds[1]);
	uint32_t got[PROCS * EACH];
	size_t n = 0;
	while (n < PROCS * EACH && read(fds[0], &got[n], sizeof(got[0])) == sizeof(got[0]))
		n++;
	close(fds[0]);
	for (int i = 0; i < PROCS; i++) {
		int st;
		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_int_equal(n, PROCS * EACH);
	/* Never twice the same value. */
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++)
			assert_int_not_equal(got[i], got[j]);
	}
}

static void print_uidlist(const struct uidlist *ul, FILE *f)
{
	fprintf(f, "uidvalidity %u\nnext %u\nguid %s\n", ul->uidvalidity, ul->next_uid, ul->guid);
	for (unsigned i = 0; i < ul->count; i++) {
		const struct uidlist_rec *r = &ul->recs[i];
		fprintf(f, "%u %s %s%s\n", r->uid, r->name,
		        r->file == NULL ? ""
		        : r->in_cur     ? "cur/"
		                        : "new/",
		        r->file != NULL ? r->file : "-");
	}
}

static void test_sync_assigns_in_order(void **state)
{
	char *box = make_maildir("mail");
	char *path = tpath("mail/" UIDLIST_FILE);
	struct uidlist ul;
	const char *error = NULL;
	unsigned added = 0;

	/* Names out of order across new/ and cur/. */
	put_msg(box, "new", "1700000001.M5P10.host,S=17,W=18");
	put_msg(box, "cur", "1700000001.M40P10.host,S=17,W=18:2,S");
	put_msg(box, "new", "1700000000.M999999P10.host,S=17,W=18");
	put_msg(box, "new", "1700000001.M5P9.host,S=17,W=18");
	put_msg(box, "cur", "999999999.M1P1.old:2,FS");
	put_msg(box, "new", ".hidden");
	put_msg(box, "new", "bad\nname");

	uidlist_init(&ul);
	time_t before = time(NULL);
	assert_int_equal(uidlist_sync(tdir, box, NULL, &ul, &added, &error), 1);
	assert_int_equal(added, 5);
	assert_int_equal(ul.count, 5);
	assert_true(ul.uidvalidity >= (uint32_t)before);
	assert_int_equal(ul.next_uid, 6);
	assert_int_equal(strlen(ul.guid), 32);
	static const char *const order[] = {
	    "999999999.M1P1.old",
	    "1700000000.M999999P10.host,S=17,W=18",
	    "1700000001.M5P10.host,S=17,W=18",
	    "1700000001.M5P9.host,S=17,W=18",
	    "1700000001.M40P10.host,S=17,W=18",
	};
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(ul.recs[i].uid, i + 1);
		assert_string_equal(ul.recs[i].name, order[i]);
		assert_non_null(ul.recs[i].file);
	}
	assert_string_equal(ul.recs[0].file, "999999999.M1P1.old:2,FS");
	assert_true(ul.recs[0].in_cur);
	assert_false(ul.recs[1].in_cur);

	/* On disk exactly as Dovecot writes it, no temporary file left. */
	char *s = read_file(path);
	struct buf want = BUF_INIT;
	buf_appendf(&want, "3 V%u N6 G%s\n", ul.uidvalidity, ul.guid);
	for (unsigned i = 0; i < 5; i++)
		buf_appendf(&want, "%u :%s\n", i + 1, order[i]);
	assert_string_equal(s, want.data);
	free(s);
	assert_false(texists("mail/" UIDLIST_FILE ".tmp"));
	assert_false(texists("mail/" UIDLIST_FILE ".lock"));
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* Persistent: read back, and a second sync changes nothing. */
	uint32_t uidvalidity = ul.uidvalidity;
	struct uidlist again;
	uidlist_init(&again);
	assert_int_equal(uidlist_read(box, &again, &error), 1);
	assert_int_equal(again.uidvalidity, uidvalidity);
	assert_int_equal(again.count, 5);
	for (unsigned i = 0; i < 5; i++)
		assert_string_equal(again.recs[i].name, order[i]);
	assert_int_equal(uidlist_sync(tdir, box, NULL, &again, &added, &error), 1);
	assert_int_equal(added, 0);
	s = read_file(path);
	assert_string_equal(s, want.data);
	free(s);

	/* A flag change renames the file: same UID, new current name. */
	char *from = xasprintf("%s/new/%s", box, order[2]);
	char *to = xasprintf("%s/cur/%s:2,RS", box, order[2]);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(uidlist_sync(tdir, box, NULL, &again, &added, &error), 1);
	assert_int_equal(added, 0);
	assert_int_equal(again.recs[2].uid, 3);
	assert_true(again.recs[2].in_cur);
	assert_string_equal(again.recs[2].file, "1700000001.M5P10.host,S=17,W=18:2,RS");
	free(from);
	free(to);

	/* New files are appended: the header stays (N lags, as Dovecot's). */
	put_msg(box, "new", "1800000000.M2P1.h,S=17,W=18");
	put_msg(box, "new", "1800000000.M1P1.h,S=17,W=18");
	assert_int_equal(uidlist_sync(tdir, box, NULL, &again, &added, &error), 1);
	assert_int_equal(added, 2);
	assert_int_equal(again.next_uid, 8);
	buf_append_str(&want, "6 :1800000000.M1P1.h,S=17,W=18\n7 :1800000000.M2P1.h,S=17,W=18\n");
	s = read_file(path);
	assert_string_equal(s, want.data);
	free(s);
	assert_int_equal(again.uidvalidity, uidvalidity);

	/* A vanished file keeps its record unless asked to drop it; then
	 * the file is rewritten with the current N. */
	char *gone = xasprintf("%s/new/%s", box, order[1]);
	assert_int_equal(unlink(gone), 0);
	free(gone);
	assert_int_equal(uidlist_sync(tdir, box, NULL, &again, &added, &error), 1);
	assert_int_equal(again.count, 7);
	assert_null(again.recs[1].file);
	struct uidlist_sync_settings set = {5, true, 0};
	assert_int_equal(uidlist_sync(tdir, box, &set, &again, &added, &error), 1);
	assert_int_equal(again.count, 6);
	assert_null(uidlist_lookup_uid(&again, 2));
	s = read_file(path);
	assert_non_null(strstr(s, " N8 G"));
	assert_null(strstr(s, order[1]));
	free(s);

	/* A limit on the number of messages. */
	struct uidlist_sync_settings small = {5, false, 3};
	assert_int_equal(uidlist_sync(tdir, box, &small, &again, &added, &error), -1);
	assert_non_null(strstr(error, "more than 3 messages"));
	assert_false(texists("mail/" UIDLIST_FILE ".lock"));

	buf_free(&want);
	uidlist_free(&again);
	uidlist_free(&ul);
	free(path);
	free(box);
}

static void test_sync_keeps_fields(void **state)
{
	char *box = make_maildir("mail");
	char *path = tpath("mail/" UIDLIST_FILE);
	struct uidlist ul;
	const char *error = NULL;
	unsigned added = 0;

	/* Dovecot's extension fields and unknown header fields survive a
	 * rewrite (here forced by a bad extension field to drop). */
	put_msg(box, "cur", "100.M1P1.h:2,S");
	put_msg(box, "cur", "101.M1P1.h:2,");
	write_file(path, "3 V77 N9 G" GUID " Xfoo\n"
	                 "3 W2481 P:uidl: :100.M1P1.h\n"
	                 "5 x1 :101.M1P1.h\n"
	                 "7 :gone\n");
	uidlist_init(&ul);
	assert_int_equal(uidlist_sync(tdir, box, NULL, &ul, &added, &error), 1);
	assert_int_equal(added, 0);
	char *s = read_file(path);
	assert_string_equal(s, "3 V77 N9 G" GUID " Xfoo\n"
	                       "3 W2481 P:uidl: :100.M1P1.h\n"
	                       "5 :101.M1P1.h\n"
	                       "7 :gone\n");
	free(s);
	assert_false(ul.dirty);

	/* Version 1 is upgraded on the first change; its UIDs stay. */
	write_file(path, "1 555 20\n3 100.M1P1.h:2,S\n9 101.M1P1.h\n");
	put_msg(box, "new", "200.M1P1.h");
	assert_int_equal(uidlist_sync(tdir, box, NULL, &ul, &added, &error), 1);
	assert_int_equal(added, 1);
	s = read_file(path);
	char want[256];
	snprintf(want, sizeof(want),
	         "3 V555 N21 G%s\n3 :100.M1P1.h\n9 :101.M1P1.h\n20 :200.M1P1.h\n", ul.guid);
	assert_string_equal(s, want);
	free(s);

	/* A partial last line is not appended to: the file is replaced. */
	write_file(path,
	           "3 V555 N21 G" GUID "\n3 :100.M1P1.h\n9 :101.M1P1.h\n20 :200.M1P1.h\n21 :3");
	put_msg(box, "new", "300.M1P1.h");
	assert_int_equal(uidlist_sync(tdir, box, NULL, &ul, &added, &error), 1);
	s = read_file(path);
	assert_string_equal(s, "3 V555 N22 G" GUID
	                       "\n3 :100.M1P1.h\n9 :101.M1P1.h\n20 :200.M1P1.h\n21 :300.M1P1.h\n");
	free(s);
	uidlist_free(&ul);
	free(path);
	free(box);
}

static void test_sync_broken_file(void **state)
{
	char *box = make_maildir("mail/Foo");
	char *path = tpath("mail/Foo/" UIDLIST_FILE);
	char *broken = tpath("mail/Foo/" UIDLIST_FILE ".broken");
	struct uidlist ul;
	const char *error = NULL;
	unsigned added = 0;

	put_msg(box, "new", "100.M1P1.h");
	put_msg(box, "new", "101.M1P1.h");
	write_file(path, "3 V5 N9 G" GUID "\n7 :100.M1P1.h\n3 :101.M1P1.h\n");

	/* Reading says what is wrong. */
	uidlist_init(&ul);
	assert_int_equal(uidlist_read(box, &ul, &error), -1);
	assert_non_null(strstr(error, "dovecot-uidlist: line 3: UIDs not ascending (3 after 7)"));

	/* A sync keeps the broken file aside and starts over with a new
	 * UIDVALIDITY from the root's dovecot-uidvalidity. */
	uint32_t uv;
	assert_int_equal(uidlist_uidvalidity_next(tdir, &uv, &error), 0);
	char *mail = tpath("mail");
	assert_int_equal(uidlist_uidvalidity_next(mail, &uv, &error), 0);
	assert_int_equal(uidlist_sync(mail, box, NULL, &ul, &added, &error), 1);
	assert_int_equal(added, 2);
	assert_int_equal(ul.uidvalidity, uv + 1);
	assert_int_equal(ul.recs[0].uid, 1);
	assert_true(exists(broken));
	char *s = read_file(broken);
	assert_string_equal(s, "3 V5 N9 G" GUID "\n7 :100.M1P1.h\n3 :101.M1P1.h\n");
	free(s);

	/* An empty file is broken as well (Dovecot deletes it). */
	write_file(path, "");
	assert_int_equal(uidlist_sync(mail, box, NULL, &ul, &added, &error), 1);
	assert_int_equal(ul.uidvalidity, uv + 2);
	assert_int_equal(added, 2);

	/* Over our limits is an error, not a broken file: left as it is. */
	assert_int_equal(unlink(broken), 0);
	struct buf b = BUF_INIT;
	buf_appendf(&b, "3 V5 N9 G%s\n1 :", GUID);
	for (unsigned i = 0; i <= UIDLIST_LINE_MAX; i++)
		buf_append_c(&b, 'x');
	buf_append_c(&b, '\n');
	write_file(path, b.data);
	buf_free(&b);
	assert_int_equal(uidlist_sync(mail, box, NULL, &ul, &added, &error), -1);
	assert_non_null(strstr(error, "dovecot-uidlist: line 2: longer than 65536 bytes"));
	assert_false(exists(broken));
	assert_int_equal(truncate(path, UIDLIST_MAX_SIZE + 1), 0); /* sparse */
	assert_int_equal(uidlist_sync(mail, box, NULL, &ul, &added, &error), -1);
	assert_non_null(strstr(error, "dovecot-uidlist: larger than 67108864 bytes"));
	assert_int_equal(uidlist_read(box, &ul, &error), -1);
	assert_non_null(strstr(error, "dovecot-uidlist: larger than 67108864 bytes"));
	assert_false(exists(broken));
	assert_false(texists("mail/Foo/" UIDLIST_FILE ".lock"));

	/* No mailbox directory: an error, nothing created. */
	char *none = tpath("mail/None");
	assert_int_equal(uidlist_sync(mail, none, NULL, &ul, &added, &error), -1);
	assert_non_null(strstr(error, "No such file"));
	assert_false(exists(none));
	free(none);
	uidlist_free(&ul);
	free(mail);
	free(broken);
	free(path);
	free(box);
}

static void test_write_needs_lock(void **state)
{
	char *box = make_maildir("mail");
	char *other = make_maildir("mail/Other");
	struct uidlist ul;
	struct dotlock *lock = NULL;
	const char *error = NULL;
	uint32_t uid;

	uidlist_init(&ul);
	ul.uidvalidity = 42;
	assert_int_equal(uidlist_add(&ul, "1.M1P1.h", &uid, &error), 0);
	assert_int_equal(uidlist_write(box, &ul, NULL, &error), -1);
	assert_non_null(strstr(error, "written without its lock"));
	assert_int_equal(uidlist_lock(other, 0, &lock, &error), 1);
	assert_int_equal(uidlist_write(box, &ul, lock, &error), -1);
	assert_int_equal(dotlock_release(&lock, &error), 0);

	assert_int_equal(uidlist_lock(box, 0, &lock, &error), 1);
	ul.uidvalidity = 0;
	assert_int_equal(uidlist_write(box, &ul, lock, &error), -1);
	assert_non_null(strstr(error, "no UIDVALIDITY"));
	ul.uidvalidity = 42;
	assert_int_equal(uidlist_write(box, &ul, lock, &error), 0);
	assert_int_equal(strlen(ul.guid), 32);

	/* Broken and taken over meanwhile: the file is not replaced. */
	char *lp = tpath("mail/" UIDLIST_FILE ".lock");
	assert_int_equal(unlink(lp), 0);
	write_file(lp, "1:elsewhere");
	ul.uidvalidity = 43;
	assert_int_equal(uidlist_write(box, &ul, lock, &error), -1);
	assert_non_null(strstr(error, "lock was broken"));
	assert_int_equal(dotlock_release(&lock, &error), -1);
	assert_true(exists(lp)); /* not ours: left alone */
	assert_false(texists("mail/" UIDLIST_FILE ".tmp"));
	struct uidlist back;
	uidlist_init(&back);
	assert_int_equal(uidlist_read(box, &back, &error), 1);
	assert_int_equal(back.uidvalidity, 42);
	uidlist_free(&back);
	uidlist_free(&ul);
	free(lp);
	free(other);
	free(box);
}

/* ---- dot-locks ---- */

static const struct dotlock_settings pid_lock = {0, UIDLIST_LOCK_STALE_SECS, true};

static void set_old(const char *path, int secs_ago)
{
	struct timespec ts[2];
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= secs_ago;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static pid_t dead_pid(void)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

static void test_dotlock_basics(void **state)
{
	char *file = tpath("f");
	char *lp = tpath("f.lock");
	struct dotlock *lock = NULL, *second = NULL;
	const char *error = NULL;
	char host[256];

	assert_int_equal(dotlock_create(file, &pid_lock, &lock, &error), 1);
	assert_string_equal(dotlock_path(lock), file);
	assert_string_equal(dotlock_lock_path(lock), lp);
	/* "<pid>:<host>", as Dovecot's, mode 0600. */
	gethostname(host, sizeof(host));
	char want[300];
	snprintf(want, sizeof(want), "%ld:%s", (long)getpid(), host);
	char *s = read_file(lp);
	assert_string_equal(s, want);
	free(s);
	struct stat st;
	assert_int_equal(stat(lp, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(dotlock_is_ours(lock));

	/* Held by this process (another thread): never taken for stale. */
	set_old(lp, 3600);
	assert_int_equal(dotlock_create(file, &pid_lock, &second, &error), 0);
	assert_null(second);
	assert_non_null(strstr(error, "held by another process"));

	set_old(lp, 3600);
	assert_int_equal(dotlock_touch(lock, &error), 0);
	assert_int_equal(stat(lp, &st), 0);
	assert_true(st.st_mtime >= time(NULL) - 5);

	assert_int_equal(dotlock_release(&lock, &error), 0);
	assert_null(lock);
	assert_false(exists(lp));

	/* Replace: the lock file becomes the file. */
	struct dotlock_settings rep = {0, 30, false};
	write_file(file, "old\n");
	assert_int_equal(dotlock_create(file, &rep, &lock, &error), 1);
	assert_int_equal(write(dotlock_fd(lock), "new\n", 4), 4);
	s = read_file(file);
	assert_string_equal(s, "old\n");
	free(s);
	assert_int_equal(dotlock_replace(&lock, &error), 0);
	s = read_file(file);
	assert_string_equal(s, "new\n");
	free(s);
	assert_false(exists(lp));

	/* A lock removed by someone else: release and touch say so. */
	assert_int_equal(dotlock_create(file, &pid_lock, &lock, &error), 1);
	assert_int_equal(unlink(lp), 0);
	assert_false(dotlock_is_ours(lock));
	assert_int_equal(dotlock_touch(lock, &error), -1);
	assert_int_equal(dotlock_release(&lock, &error), -1);
	assert_non_null(strstr(error, "removed by someone else"));

	/* Replace after losing the lock: the file stays. */
	assert_int_equal(dotlock_create(file, &rep, &lock, &error), 1);
	assert_int_equal(unlink(lp), 0);
	write_file(lp, "someone else's");
	assert_int_equal(dotlock_replace(&lock, &error), -1);
	s = read_file(file);
	assert_string_equal(s, "new\n");
	free(s);
	s = read_file(lp);
	assert_string_equal(s, "someone else's");
	free(s);
	assert_int_equal(unlink(lp), 0);

	/* No directory: an error, not a timeout. */
	char *nodir = tpath("none/f");
	assert_int_equal(dotlock_create(nodir, &pid_lock, &lock, &error), -1);
	assert_non_null(strstr(error, "No such file"));
	free(nodir);
	free(lp);
	free(file);
}

static void test_dotlock_breaks_dead_and_stale(void **state)
{
	char *file = tpath("f");
	char *lp = tpath("f.lock");
	struct dotlock *lock = NULL;
	const char *error = NULL;
	char host[256], data[300];

	gethostname(host, sizeof(host));

	/* A dead process of this host, lock older than 2 s: broken at once,
	 * whatever the stale time. */
	snprintf(data, sizeof(data), "%ld:%s", (long)dead_pid(), host);
	write_file(lp, data);
	set_old(lp, 10);
	assert_int_equal(dotlock_create(file, &pid_lock, &lock, &error), 1);
	assert_int_equal(dotlock_release(&lock, &error), 0);

	/* Our own pid but not held by us: a leftover, broken. */
	snprintf(data, sizeof(data), "%ld:%s", (long)getpid(), host);
	write_file(lp, data);
	set_old(lp, 10);
	assert_int_equal(dotlock_create(file, &pid_lock, &lock, &error), 1);
	assert_int_equal(dotlock_release(&lock, &error), 0);

	/* A dead pid in a lock younger than 2 s is not read yet ... */
	snprintf(data, sizeof(data), "%ld:%s", (long)dead_pid(), host);
	write_file(lp, data);
	assert_int_equal(dotlock_create(file, &pid_lock, &lock, &error), 0);
	/* ... but soon. */
	struct dotlock_settings wait = {20, UIDLIST_LOCK_STALE_SECS, true};
	assert_int_equal(dotlock_create(file, &wait, &lock, &error), 1);
	assert_int_equal(dotlock_release(&lock, &error), 0);

	/* Another host's lock (or one without pid) is broken only when
	 * neither it nor the protected file changed for stale_secs. */
	write_file(lp, "1:some.other.host");
	struct dotlock_settings nostale = {0, 0, true};
	assert_int_equal(dotlock_create(file, &nostale, &lock, &error), 0);
	struct dotlock_settings stale = {0, 1000, true};
	assert_int_equal(dotlock_create(file, &stale, &lock, &error), 0);
	struct dotlock_settings shortstale = {20, 1, true};
	assert_int_equal(dotlock_create(file, &shortstale, &lock, &error), 1);
	snprintf(data, sizeof(data), "%ld:%s", (long)getpid(), host);
	char *s = read_file(lp);
	assert_string_equal(s, data);
	free(s);
	assert_int_equal(dotlock_release(&lock, &error), 0);

	free(lp);
	free(file);
}

static void test_dotlock_live_never_broken(void **state)
{
	char *file = tpath("f");
	char *lp = tpath("f.lock");
	struct dotlock *lock = NULL;
	const char *error = NULL;
	char host[256], data[300];
	int go[2];

	/* A live process of this host holds it, long unchanged: waiting
	 * for it times out even with a tiny stale time. */
	assert_int_equal(pipe(go), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		char c;
		close(go[1]);
		(void)read(go[0], &c, 1);
		_exit(0);
	}
	close(go[0]);
	gethostname(host, sizeof(host));
	snprintf(data, sizeof(data), "%ld:%s", (long)child, host);
	write_file(lp, data);
	set_old(lp, 3600);
	struct dotlock_settings set = {3, 1, true};
	assert_int_equal(dotlock_create(file, &set, &lock, &error), 0);
	assert_non_null(strstr(error, "f.lock: held by another process (waited 3 s)"));
	assert_true(exists(lp));
	char *s = read_file(lp);
	assert_string_equal(s, data);
	free(s);

	/* Once it is gone, the lock is taken. */
	close(go[1]);
	assert_int_equal(waitpid(child, NULL, 0), child);
	struct dotlock_settings wait = {20, 120, true};
	assert_int_equal(dotlock_create(file, &wait, &lock, &error), 1);
	assert_int_equal(dotlock_release(&lock, &error), 0);
	free(lp);
	free(file);
}

/* Two processes (and two threads in each) add 1 to a counter file under
 * the lock many times: no update may be lost. */
struct counter_arg {
	const char *file;
	int rounds;
	int failures;
};

static void *counter_run(void *p)
{
	struct counter_arg *a = p;
	struct dotlock_settings set = {60, UIDLIST_LOCK_STALE_SECS, true};

	for (int i = 0; i < a->rounds; i++) {
		struct dotlock *lock;
		const char *error;
		if (dotlock_create(a->file, &set, &lock, &error) != 1) {
			a->failures++;
			continue;
		}
		char *s = read_file(a->file);
		long n = s != NULL ? atol(s) : 0;
		free(s);
		char buf[32];
		snprintf(buf, sizeof(buf), "%ld", n + 1);
		char *tmp = xasprintf("%s.tmp.%ld.%lu", a->file, (long)getpid(),
		                      (unsigned long)pthread_self());
		write_file(tmp, buf);
		if (rename(tmp, a->file) < 0)
			a->failures++;
		free(tmp);
		if (dotlock_release(&lock, &error) < 0)
			a->failures++;
	}
	return NULL;
}

static int counter_process(const char *file, int rounds)
{
	pthread_t t[2];
	struct counter_arg a[2] = {{file, rounds, 0}, {file, rounds, 0}};

	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, counter_run, &a[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	return a[0].failures + a[1].failures;
}

static void test_dotlock_contention(void **state)
{
	char *file = tpath("counter");
	enum { ROUNDS = 40 };

	write_file(file, "0");
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(counter_process(file, ROUNDS) == 0 ? 0 : 1);
	assert_int_equal(counter_process(file, ROUNDS), 0);
	int st;
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	char *s = read_file(file);
	assert_int_equal(atol(s), 4 * ROUNDS);
	free(s);
	assert_false(texists("counter.lock"));
	free(file);
}

static void test_sync_lock_busy(void **state)
{
	char *box = make_maildir("mail");
	struct uidlist ul;
	const char *error = NULL;
	unsigned added = 9;
	int up[2], go[2];

	put_msg(box, "new", "100.M1P1.h");
	uidlist_init(&ul);
	assert_int_equal(uidlist_sync(tdir, box, NULL, &ul, &added, &error), 1);
	put_msg(box, "new", "200.M1P1.h");

	/* Another process holds the uidlist lock: the sync reads what is
	 * there and gives no UIDs. */
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(go), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct dotlock *lock;
		const char *err;
		char c = 'x';
		if (uidlist_lock(box, 10, &lock, &err) != 1)
			_exit(1);
		(void)write(up[1], &c, 1);
		(void)read(go[0], &c, 1);
		_exit(dotlock_release(&lock, &err) == 0 ? 0 : 1);
	}
	char c;
	assert_int_equal(read(up[0], &c, 1), 1);
	struct uidlist_sync_settings set = {1, false, 0};
	assert_int_equal(uidlist_sync(tdir, box, &set, &ul, &added, &error), 0);
	assert_int_equal(added, 0);
	assert_non_null(strstr(error, "held by another process"));
	assert_int_equal(ul.count, 1);
	assert_string_equal(ul.recs[0].file, "100.M1P1.h");

	/* Released: the new file gets the next UID. */
	assert_int_equal(write(go[1], "x", 1), 1);
	int st;
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(uidlist_sync(tdir, box, &set, &ul, &added, &error), 1);
	assert_int_equal(added, 1);
	assert_int_equal(ul.recs[1].uid, 2);
	assert_string_equal(ul.recs[1].name, "200.M1P1.h");
	close(up[0]);
	close(up[1]);
	close(go[0]);
	close(go[1]);
	uidlist_free(&ul);
	free(box);
}

/* Several processes deliver and sync at once: every file ends up with
 * exactly one UID, UIDs are never given twice. */
static void test_sync_concurrent(void **state)
{
	enum { PROCS = 4, FILES = 15 };
	char *box = make_maildir("mail");
	pid_t pids[PROCS];

	for (int i = 0; i < PROCS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			for (int j = 0; j < FILES; j++) {
				char name[64];
				struct uidlist ul;
				const char *err;
				unsigned added;
				snprintf(name, sizeof(name), "%d.M%dP%ld.h", 1000 + j, i,
				         (long)getpid());
				put_msg(box, "new", name);
				uidlist_init(&ul);
				if (uidlist_sync(tdir, box, NULL, &ul, &added, &err) != 1)
					_exit(1);
				if (uidlist_lookup_name(&ul, name) == NULL)
					_exit(2);
				uidlist_free(&ul);
			}
			_exit(0);
		}
	}
	for (int i = 0; i < PROCS; i++) {
		int st;
		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	struct uidlist ul;
	const char *error = NULL;
	uidlist_init(&ul);
	assert_int_equal(uidlist_read(box, &ul, &error), 1);
	assert_int_equal(ul.count, PROCS * FILES);
	for (unsigned i = 0; i < ul.count; i++)
		assert_int_equal(ul.recs[i].uid, i + 1);
	assert_int_equal(ul.next_uid, PROCS * FILES + 1);
	uidlist_free(&ul);
	free(box);
}

/* ---- dovecot-keywords ---- */

static void test_keywords_parse(void **state)
{
	static const struct {
		const char *data;
		const char *want[KEYWORDS_MAX]; /* by letter */
	} cases[] = {
	    {"0 $Forwarded\n1 Junk\n2 NonJunk\n", {"$Forwarded", "Junk", "NonJunk"}},
	    {"", {NULL}},
	    {"3 $Label1\n25 last\n", {NULL, NULL, NULL, "$Label1", [25] = "last"}},
	    /* skipped like Dovecot: no space, bad index, empty name */
	    {"$Junk\n26 x\n-1 y\n1x z\n 5\n0 \n1 one two\n", {NULL, "one two"}},
	    {"0 a\n0 b\n", {"b"}}, /* later line wins */
	    {"0 a\n1 b", {"a"}},   /* no line end: ignored */
	    {"00 a\r\n", {"a\r"}}, /* kept as it is */
	    {"99999999999999999999 a\n2 c\n", {NULL, NULL, "c"}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct keywords kw;
		const char *error = NULL;
		keywords_init(&kw);
		assert_int_equal(keywords_parse(cases[i].data, strlen(cases[i].data), &kw, &error),
		                 0);
		for (int l = 0; l < KEYWORDS_MAX; l++) {
			const char *got = keywords_name(&kw, (char)('a' + l));
			if ((got == NULL) != (cases[i].want[l] == NULL) ||
			    (got != NULL && strcmp(got, cases[i].want[l]) != 0))
				fail_msg("case %zu letter %c: %s", i, 'a' + l, got);
		}
		keywords_free(&kw);
	}

	struct keywords kw;
	const char *error = NULL;
	keywords_init(&kw);
	const char *data = "0 $Junk\n1 Work\n2 $junk\n";
	assert_int_equal(keywords_parse(data, strlen(data), &kw, &error), 0);
	assert_int_equal(keywords_letter(&kw, "work"), 'b');
	assert_int_equal(keywords_letter(&kw, "$JUNK"), 'c'); /* its later line */
	assert_int_equal(keywords_letter(&kw, "nope"), '\0');
	assert_null(keywords_name(&kw, 'A'));
	assert_null(keywords_name(&kw, '{'));

	/* Refused. */
	assert_int_equal(keywords_parse("0 a\0b\n", 6, &kw, &error), -1);
	assert_string_equal(error, "NUL byte at offset 3");
	assert_null(kw.names[0]);
	struct buf b = BUF_INIT;
	buf_append_str(&b, "0 a\n1 ");
	for (unsigned i = 0; i < KEYWORDS_LINE_MAX; i++)
		buf_append_c(&b, 'x');
	buf_append_c(&b, '\n');
	assert_int_equal(keywords_parse(b.data, b.len, &kw, &error), -1);
	assert_string_equal(error, "line 2: longer than 4096 bytes");
	char *big = xcalloc(1, KEYWORDS_MAX_SIZE + 1);
	memset(big, '\n', KEYWORDS_MAX_SIZE + 1);
	assert_int_equal(keywords_parse(big, KEYWORDS_MAX_SIZE + 1, &kw, &error), -1);
	assert_string_equal(error, "larger than 65536 bytes");
	assert_int_equal(keywords_parse(big, KEYWORDS_MAX_SIZE, &kw, &error), 0);
	free(big);
	buf_free(&b);
	keywords_free(&kw);
}

static void test_keywords_add_write(void **state)
{
	char *box = make_maildir("mail");
	char *path = tpath("mail/" KEYWORDS_FILE);
	struct keywords kw;
	struct dotlock *lock = NULL;
	const char *error = NULL;
	char letter = 0;

	keywords_init(&kw);
	assert_int_equal(keywords_read(box, &kw, &error), 0);
	assert_int_equal(keywords_add(&kw, "$Forwarded", &letter, &error), 1);
	assert_int_equal(letter, 'a');
	assert_int_equal(keywords_add(&kw, "$forwarded", &letter, &error), 0);
	assert_int_equal(letter, 'a');
	assert_int_equal(keywords_add(&kw, "Junk", &letter, &error), 1);
	assert_int_equal(letter, 'b');
	static const char *const bad[] = {"",  "a b", "a(b", "\\Seen",   "x]",  "a\"",
	                                  "%", "*",   "{",   "\xc3\xa4", "a\tb"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(keywords_name_ok(bad[i]));
		assert_int_equal(keywords_add(&kw, bad[i], &letter, &error), -1);
		assert_non_null(strstr(error, "not an IMAP keyword"));
	}

	/* Writing needs this mailbox's uidlist lock. */
	assert_int_equal(keywords_write(box, &kw, NULL, &error), -1);
	assert_non_null(strstr(error, "without the uidlist lock"));
	assert_false(exists(path));
	assert_int_equal(uidlist_lock(box, 0, &lock, &error), 1);
	/* A leftover keywords lock of a crashed writer is no obstacle. */
	char *klock = tpath("mail/" KEYWORDS_FILE ".lock");
	write_file(klock, "");
	assert_int_equal(keywords_write(box, &kw, lock, &error), 0);
	assert_false(exists(klock));
	char *s = read_file(path);
	assert_string_equal(s, "0 $Forwarded\n1 Junk\n");
	free(s);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	time_t m1 = st.st_mtime;
	assert_int_equal(kw.mtime, m1);

	/* The mtime grows with every write, even within one second. */
	keywords_free(&kw);
	assert_int_equal(keywords_read(box, &kw, &error), 1);
	assert_int_equal(kw.mtime, m1);
	assert_int_equal(keywords_add(&kw, "NonJunk", &letter, &error), 1);
	assert_int_equal(letter, 'c');
	assert_int_equal(keywords_write(box, &kw, lock, &error), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_mtime > m1);
	s = read_file(path);
	assert_string_equal(s, "0 $Forwarded\n1 Junk\n2 NonJunk\n");
	free(s);

	/* Holes are filled first; 26 at most. */
	write_file(path, "0 a\n2 c\n");
	assert_int_equal(keywords_read(box, &kw, &error), 1);
	assert_int_equal(keywords_add(&kw, "b", &letter, &error), 1);
	assert_int_equal(letter, 'b');
	for (int i = 3; i < KEYWORDS_MAX; i++) {
		char name[16];
		snprintf(name, sizeof(name), "k%d", i);
		assert_int_equal(keywords_add(&kw, name, &letter, &error), 1);
		assert_int_equal(letter, 'a' + i);
	}
	assert_int_equal(keywords_add(&kw, "one-too-many", &letter, &error), -1);
	assert_string_equal(error, "all 26 Maildir keyword letters are taken");
	assert_int_equal(keywords_add(&kw, "K25", &letter, &error), 0);
	assert_int_equal(letter, 'z');
	assert_int_equal(keywords_write(box, &kw, lock, &error), 0);
	struct keywords back;
	keywords_init(&back);
	assert_int_equal(keywords_read(box, &back, &error), 1);
	for (int i = 0; i < KEYWORDS_MAX; i++)
		assert_string_equal(back.names[i], kw.names[i]);
	keywords_free(&back);
	assert_int_equal(dotlock_release(&lock, &error), 0);

	/* Too large a file is refused with its name. */
	char *big = xcalloc(1, KEYWORDS_MAX_SIZE + 2);
	memset(big, '\n', KEYWORDS_MAX_SIZE + 1);
	write_file(path, big);
	free(big);
	assert_int_equal(keywords_read(box, &kw, &error), -1);
	assert_non_null(strstr(error, "dovecot-keywords: larger than 65536 bytes"));

	keywords_free(&kw);
	free(klock);
	free(path);
	free(box);
}

/* ---- subscriptions ---- */

static void test_subscriptions_parse(void **state)
{
	static const struct {
		const char *data;
		size_t len;
		unsigned version;
		const char *names[5];
	} cases[] = {
	    {"V\t2\n\nSpam\nFoo\tBar\nINBOX\n", 0, 2, {"Spam", "Foo/Bar", "INBOX"}},
	    {"V\t2\n\n", 0, 2, {NULL}},
	    {"", 0, 0, {NULL}},
	    {"Spam\nFoo/Bar\n", 0, 0, {"Spam", "Foo/Bar"}}, /* old form */
	    {"V\t2\nSpam\n", 0, 0, {"V\t2", "Spam"}},       /* header must be exact */
	    {"V\t2\n\nA\n\nB", 0, 2, {"A", "B"}},           /* empty lines, partial line */
	    {"V\t2\n\na\001tb\tc\0011d\001ne\001rf\001x\001\n", 0, 2, {"a\tb/c\001d\ne\rfx"}},
	    {"V\t2\n\nx\0010y\nz\n", 0, 2, {"z"}}, /* NUL inside a name: not representable */
	    {"V\t2\n\nEntw&APw-rfe\tSub\n", 0, 2, {"Entw&APw-rfe/Sub"}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct subscriptions subs;
		const char *error = NULL;
		size_t len = cases[i].len != 0 ? cases[i].len : strlen(cases[i].data);
		unsigned n = 0;

		subscriptions_init(&subs);
		assert_int_equal(subscriptions_parse(cases[i].data, len, &subs, &error), 0);
		assert_int_equal(subs.version, cases[i].version);
		while (n < 5 && cases[i].names[n] != NULL)
			n++;
		if (subs.count != n)
			fail_msg("case %zu: %u names", i, subs.count);
		for (unsigned j = 0; j < n; j++)
			assert_string_equal(subs.names[j], cases[i].names[j]);

		/* Formatting gives the same file back (with a line end). */
		struct buf out = BUF_INIT;
		subscriptions_format(&subs, &out);
		if (len > 0 && cases[i].data[len - 1] == '\n')
			assert_memory_equal(out.data, cases[i].data, len);
		buf_free(&out);
		subscriptions_free(&subs);
	}

	struct subscriptions subs;
	const char *error = NULL;
	subscriptions_init(&subs);
	const char *d = "V\t2\n\nINBOX\nFoo\tBar\n";
	assert_int_equal(subscriptions_parse(d, strlen(d), &subs, &error), 0);
	assert_true(subscriptions_has(&subs, "inbox"));
	assert_true(subscriptions_has(&subs, "Foo/Bar"));
	assert_false(subscriptions_has(&subs, "foo/bar"));
	assert_false(subscriptions_has(&subs, "Foo"));

	assert_int_equal(subscriptions_parse("V\t2\n\na\0b\n", 9, &subs, &error), -1);
	assert_string_equal(error, "NUL byte at offset 6");
	struct buf b = BUF_INIT;
	buf_append_str(&b, "V\t2\n\nok\n");
	for (unsigned i = 0; i <= SUBSCRIPTIONS_LINE_MAX; i++)
		buf_append_c(&b, 'x');
	assert_int_equal(subscriptions_parse(b.data, b.len, &subs, &error), -1);
	assert_string_equal(error, "line 4: longer than 4096 bytes");
	assert_int_equal(subs.count, 0);
	char *big = xmalloc(SUBSCRIPTIONS_MAX_SIZE + 1);
	memset(big, '\n', SUBSCRIPTIONS_MAX_SIZE + 1);
	assert_int_equal(subscriptions_parse(big, SUBSCRIPTIONS_MAX_SIZE + 1, &subs, &error), -1);
	assert_string_equal(error, "larger than 4194304 bytes");
	free(big);
	buf_free(&b);
	subscriptions_free(&subs);
}

static void test_subscriptions_set(void **state)
{
	char *path = tpath(SUBSCRIPTIONS_FILE);
	struct subscriptions subs;
	const char *error = NULL;

	subscriptions_init(&subs);
	assert_int_equal(subscriptions_read(tdir, &subs, &error), 0);
	assert_int_equal(subs.version, 2);
	assert_int_equal(subscriptions_set(tdir, "Spam", true, 5, &error), 1);
	assert_int_equal(subscriptions_set(tdir, "Foo/Bar", true, 5, &error), 1);
	assert_int_equal(subscriptions_set(tdir, "inbox", true, 5, &error), 1);
	assert_int_equal(subscriptions_set(tdir, "INBOX", true, 5, &error), 0);
	assert_int_equal(subscriptions_set(tdir, "Spam", true, 5, &error), 0);
	char *s = read_file(path);
	assert_string_equal(s, "V\t2\n\nSpam\nFoo\tBar\nINBOX\n");
	free(s);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(subscriptions_set(tdir, "Spam", false, 5, &error), 1);
	assert_int_equal(subscriptions_set(tdir, "Spam", false, 5, &error), 0);
	assert_int_equal(subscriptions_set(tdir, "Inbox", false, 5, &error), 1);
	s = read_file(path);
	assert_string_equal(s, "V\t2\n\nFoo\tBar\n");
	free(s);
	assert_int_equal(subscriptions_read(tdir, &subs, &error), 1);
	assert_int_equal(subs.count, 1);
	assert_string_equal(subs.names[0], "Foo/Bar");

	/* Lines we do not understand are kept; an old file stays old. */
	write_file(path, "Old/Name\n\nweird\001line\n");
	assert_int_equal(subscriptions_set(tdir, "New/One", true, 5, &error), 1);
	s = read_file(path);
	assert_string_equal(s, "Old/Name\n\nweird\001line\nNew/One\n");
	free(s);
	assert_int_equal(subscriptions_set(tdir, "Old/Name", false, 5, &error), 1);
	s = read_file(path);
	assert_string_equal(s, "\nweird\001line\nNew/One\n");
	free(s);

	/* Refused names. */
	static const char *const bad[] = {"", "a\nb", "a\tb", "\001", "x\x7f"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(subscriptions_set(tdir, bad[i], true, 5, &error), -1);
		assert_non_null(strstr(error, "not a mailbox name to subscribe"));
	}
	char long_name[SUBSCRIPTIONS_LINE_MAX + 2];
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(subscriptions_set(tdir, long_name, true, 5, &error), -1);

	/* A busy lock (no pid in it, fresh): times out, file unchanged. */
	char *lp = tpath(SUBSCRIPTIONS_FILE ".lock");
	write_file(lp, "");
	assert_int_equal(subscriptions_set(tdir, "X", true, 1, &error), -1);
	assert_non_null(strstr(error, "held by another process"));
	s = read_file(path);
	assert_string_equal(s, "\nweird\001line\nNew/One\n");
	free(s);
	assert_int_equal(unlink(lp), 0);
	free(lp);

	subscriptions_free(&subs);
	free(path);
}

static void test_subscriptions_concurrent(void **state)
{
	enum { PROCS = 4, EACH = 10 };
	pid_t pids[PROCS];

	for (int i = 0; i < PROCS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			for (int j = 0; j < EACH; j++) {
				char name[32];
				const char *err;
				snprintf(name, sizeof(name), "P%d/Box%d", i, j);
				if (subscriptions_set(tdir, name, true, 60, &err) != 1)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (int i = 0; i < PROCS; i++) {
		int st;
		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	struct subscriptions subs;
	const char *error = NULL;
	subscriptions_init(&subs);
	assert_int_equal(subscriptions_read(tdir, &subs, &error), 1);
	assert_int_equal(subs.count, PROCS * EACH);
	for (int i = 0; i < PROCS; i++) {
		for (int j = 0; j < EACH; j++) {
			char name[32];
			snprintf(name, sizeof(name), "P%d/Box%d", i, j);
			assert_true(subscriptions_has(&subs, name));
		}
	}
	subscriptions_free(&subs);
}

/* ---- helpers for the integration test ---- */

static int helper(int argc, char **argv)
{
	const char *cmd = argv[1], *error = NULL;

	if (strcmp(cmd, "read") == 0 && argc == 3) {
		/* Read only: the file, and each record's file found by name. */
		struct uidlist ul;
		struct maildir_msg *msgs;
		unsigned n;
		uidlist_init(&ul);
		int r = uidlist_read(argv[2], &ul, &error);
		if (r <= 0 || maildir_list(argv[2], 0, &msgs, &n, &error) < 0) {
			fprintf(stderr, "%s\n", r == 0 ? "no uidlist" : error);
			return 1;
		}
		for (unsigned i = 0; i < n; i++) {
			struct uidlist_rec *rec =
			    (struct uidlist_rec *)uidlist_lookup_name(&ul, msgs[i].name);
			if (rec != NULL && rec->file == NULL) {
				rec->file = xstrdup(msgs[i].name);
				rec->in_cur = msgs[i].in_cur;
			}
		}
		maildir_list_free(msgs, n);
		print_uidlist(&ul, stdout);
		uidlist_free(&ul);
		return 0;
	}
	if (strcmp(cmd, "sync") == 0 && (argc == 4 || argc == 5)) {
		struct uidlist ul;
		struct uidlist_sync_settings set = {UIDLIST_LOCK_TIMEOUT_SECS, argc == 5, 0};
		unsigned added;
		uidlist_init(&ul);
		if (uidlist_sync(argv[2], argv[3], &set, &ul, &added, &error) != 1) {
			fprintf(stderr, "%s\n", error);
			return 1;
		}
		printf("added %u\n", added);
		print_uidlist(&ul, stdout);
		uidlist_free(&ul);
		return 0;
	}
	if (strcmp(cmd, "keywords") == 0 && argc == 3) {
		struct keywords kw;
		keywords_init(&kw);
		if (keywords_read(argv[2], &kw, &error) < 0) {
			fprintf(stderr, "%s\n", error);
			return 1;
		}
		for (int i = 0; i < KEYWORDS_MAX; i++) {
			if (kw.names[i] != NULL)
				printf("%c %s\n", 'a' + i, kw.names[i]);
		}
		keywords_free(&kw);
		return 0;
	}
	if (strcmp(cmd, "keyword-add") == 0 && argc == 4) {
		struct keywords kw;
		struct dotlock *lock;
		char letter;
		keywords_init(&kw);
		if (uidlist_lock(argv[2], UIDLIST_LOCK_TIMEOUT_SECS, &lock, &error) != 1) {
			fprintf(stderr, "%s\n", error);
			return 1;
		}
		int r = keywords_read(argv[2], &kw, &error);
		if (r >= 0)
			r = keywords_add(&kw, argv[3], &letter, &error);
		if (r > 0)
			r = keywords_write(argv[2], &kw, lock, &error);
		if (r >= 0)
			printf("%c\n", letter);
		else
			fprintf(stderr, "%s\n", error);
		const char *rel;
		if (dotlock_release(&lock, &rel) < 0)
			r = -1;
		keywords_free(&kw);
		return r < 0 ? 1 : 0;
	}
	if (strcmp(cmd, "subs") == 0 && argc == 3) {
		struct subscriptions subs;
		subscriptions_init(&subs);
		if (subscriptions_read(argv[2], &subs, &error) < 0) {
			fprintf(stderr, "%s\n", error);
			return 1;
		}
		for (unsigned i = 0; i < subs.count; i++)
			printf("%s\n", subs.names[i]);
		subscriptions_free(&subs);
		return 0;
	}
	if ((strcmp(cmd, "subscribe") == 0 || strcmp(cmd, "unsubscribe") == 0) && argc == 4) {
		int r = subscriptions_set(argv[2], argv[3], cmd[0] == 's',
		                          SUBSCRIPTIONS_LOCK_TIMEOUT_SECS, &error);
		if (r < 0) {
			fprintf(stderr, "%s\n", error);
			return 1;
		}
		printf("%s\n", r > 0 ? "changed" : "unchanged");
		return 0;
	}
	if (strcmp(cmd, "lock") == 0 && argc == 3) {
		struct dotlock *lock;
		char c;
		if (uidlist_lock(argv[2], UIDLIST_LOCK_TIMEOUT_SECS, &lock, &error) != 1) {
			fprintf(stderr, "%s\n", error);
			return 1;
		}
		printf("locked\n");
		fflush(stdout);
		while (read(0, &c, 1) > 0)
			;
		return dotlock_release(&lock, &error) == 0 ? 0 : 1;
	}
	fprintf(stderr, "usage: see the head of tests/unit/test-store-meta.c\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return helper(argc, argv);

	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uidlist_parse_ok),
	    cmocka_unit_test(test_uidlist_parse_bad),
	    cmocka_unit_test(test_uidlist_limits),
	    cmocka_unit_test(test_uidlist_names),
	    cmocka_unit_test_setup_teardown(test_uidvalidity, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_uidvalidity_processes, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_sync_assigns_in_order, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_sync_keeps_fields, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_sync_broken_file, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_write_needs_lock, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_dotlock_basics, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_dotlock_breaks_dead_and_stale, setup_dir,
	                                    teardown_dir),
	    cmocka_unit_test_setup_teardown(test_dotlock_live_never_broken, setup_dir,
	                                    teardown_dir),
	    cmocka_unit_test_setup_teardown(test_dotlock_contention, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_sync_lock_busy, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_sync_concurrent, setup_dir, teardown_dir),
	    cmocka_unit_test(test_keywords_parse),
	    cmocka_unit_test_setup_teardown(test_keywords_add_write, setup_dir, teardown_dir),
	    cmocka_unit_test(test_subscriptions_parse),
	    cmocka_unit_test_setup_teardown(test_subscriptions_set, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_subscriptions_concurrent, setup_dir, teardown_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
