/*
 * test-directory.c - the directory on a temporary SQLite file built
 * through the admin API: every outcome of dir_resolve_rcpt (account,
 * alias, catch-all, explicit alias over catch-all, account over alias,
 * disabled, sendonly, unknown, foreign domain, +tag, mixed case),
 * dir_may_send_as, TLS policies, the admin API's refusals, address
 * syntax, that a DIR_READER handle cannot write, that a writer's open
 * transaction does not block a reader (WAL), and lazy (re)connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/xalloc.h"
#include "directory/directory-admin.h"
#include "directory/directory.h"

struct fixture {
	char dir[64];
	char path[128];
	struct config cfg;
	struct dir *admin;
	struct dir *reader;
};

static void set_str(char **field, const char *value)
{
	free(*field);
	*field = xstrdup(value);
}

static int fixture_setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/vmaild-test-dir.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/vmail.sqlite", f->dir);
	config_defaults(&f->cfg);
	set_str(&f->cfg.directory.driver, "sqlite");
	set_str(&f->cfg.directory.path, f->path);
	f->cfg.directory.timeout = 1;
	*state = f;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;
	dir_close(&f->admin);
	dir_close(&f->reader);
	char p[160];
	const char *suffix[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
		unlink(p);
	}
	rmdir(f->dir);
	config_free(&f->cfg);
	free(f);
	return 0;
}

#define ADMIN_OK(call)                                                                             \
	do {                                                                                       \
		const char *err_ = NULL;                                                           \
		int r_ = (call);                                                                   \
		if (r_ != 1)                                                                       \
			fail_msg("%s: %d %s", #call, r_, err_ != NULL ? err_ : "");                \
	} while (0)

/* the directory every resolve test runs against */
static void populate(struct fixture *f)
{
	const char *err = NULL;
	f->admin = dir_open(&f->cfg.directory, DIR_ADMIN, &err);
	assert_non_null(f->admin);
	assert_int_equal(dir_admin_init(f->admin, &err), 1);
	struct dir *a = f->admin;
	ADMIN_OK(dir_domain_add(a, "example.org", &err_));
	ADMIN_OK(dir_domain_add(a, "Other.Example", &err_));
	ADMIN_OK(dir_domain_add(a, "catch.example", &err_));
	ADMIN_OK(dir_account_add(a, "User1@Example.ORG", "{PLAIN}x", 2048, true, false, &err_));
	ADMIN_OK(dir_account_add(a, "user2@example.org", "{PLAIN}y", 0, true, false, &err_));
	ADMIN_OK(dir_account_add(a, "noreply@example.org", "{PLAIN}z", 0, true, true, &err_));
	ADMIN_OK(dir_account_add(a, "gone@example.org", "{PLAIN}z", 0, false, false, &err_));
	ADMIN_OK(dir_account_add(a, "plus+box@example.org", "{PLAIN}z", 0, true, false, &err_));
	ADMIN_OK(dir_account_add(a, "boss@catch.example", "{PLAIN}z", 0, true, false, &err_));
	/* list with two members, one remote */
	ADMIN_OK(dir_alias_add(a, "team@example.org", "user1@example.org", &err_));
	ADMIN_OK(dir_alias_add(a, "team@example.org", "Friend@Remote.Example", &err_));
	/* an alias on an account's address: the account wins */
	ADMIN_OK(dir_alias_add(a, "user2@example.org", "user1@example.org", &err_));
	/* a disabled alias does not count */
	ADMIN_OK(dir_alias_add(a, "old@example.org", "user1@example.org", &err_));
	ADMIN_OK(dir_alias_set_enabled(a, "old@example.org", "user1@example.org", false, &err_));
	/* catch-all beside an explicit alias */
	ADMIN_OK(dir_alias_add(a, "@catch.example", "boss@catch.example", &err_));
	ADMIN_OK(dir_alias_add(a, "sales@catch.example", "user2@example.org", &err_));
	ADMIN_OK(dir_alias_add(a, "old@catch.example", "user2@example.org", &err_));
	ADMIN_OK(dir_alias_set_enabled(a, "old@catch.example", "user2@example.org", false, &err_));
	/* send-as for user2: an alias pointing to it */
	ADMIN_OK(dir_alias_add(a, "info@example.org", "user2@example.org", &err_));
	ADMIN_OK(dir_tlspolicy_set(a, "GMX.de", "secure", "match=.gmx.net", &err_));
	ADMIN_OK(dir_tlspolicy_set(a, "mailbox.org", "dane-only", NULL, &err_));
	f->reader = dir_open(&f->cfg.directory, DIR_READER, &err);
	assert_non_null(f->reader);
}

static int setup_populated(void **state)
{
	if (fixture_setup(state) < 0)
		return -1;
	populate(*state);
	return 0;
}

struct resolve_case {
	const char *address;
	enum dir_rcpt_kind kind;
	const char *matched;
	const char *dest; /* destinations joined by ',' or NULL */
};

static const struct resolve_case resolve_cases[] = {
    {"user1@example.org", DIR_RCPT_ACCOUNT, "user1@example.org", NULL},
    {"USER1@EXAMPLE.org", DIR_RCPT_ACCOUNT, "user1@example.org", NULL},
    {"user1+news@example.org", DIR_RCPT_ACCOUNT, "user1@example.org", NULL},
    {"User1+A+b@Example.Org", DIR_RCPT_ACCOUNT, "user1@example.org", NULL},
    /* the full local part matches first */
    {"plus+box@example.org", DIR_RCPT_ACCOUNT, "plus+box@example.org", NULL},
    {"plus+other@example.org", DIR_RCPT_UNKNOWN, "plus+other@example.org", NULL},
    {"team@example.org", DIR_RCPT_ALIAS, "team@example.org",
     "user1@example.org,friend@remote.example"},
    {"Team+x@Example.org", DIR_RCPT_ALIAS, "team@example.org",
     "user1@example.org,friend@remote.example"},
    /* an account (any state) wins over an alias of the same address */
    {"user2@example.org", DIR_RCPT_ACCOUNT, "user2@example.org", NULL},
    {"old@example.org", DIR_RCPT_UNKNOWN, "old@example.org", NULL},
    {"noreply@example.org", DIR_RCPT_SENDONLY, "noreply@example.org", NULL},
    {"noreply+x@example.org", DIR_RCPT_SENDONLY, "noreply@example.org", NULL},
    {"gone@example.org", DIR_RCPT_DISABLED, "gone@example.org", NULL},
    {"nobody@example.org", DIR_RCPT_UNKNOWN, "nobody@example.org", NULL},
    {"nobody@other.example", DIR_RCPT_UNKNOWN, "nobody@other.example", NULL},
    {"user1@elsewhere.example", DIR_RCPT_NODOMAIN, "user1@elsewhere.example", NULL},
    /* the explicit alias wins over the catch-all: one destination only */
    {"sales@catch.example", DIR_RCPT_ALIAS, "sales@catch.example", "user2@example.org"},
    {"sales+q@catch.example", DIR_RCPT_ALIAS, "sales@catch.example", "user2@example.org"},
    {"boss@catch.example", DIR_RCPT_ACCOUNT, "boss@catch.example", NULL},
    {"anything@catch.example", DIR_RCPT_CATCHALL, "@catch.example", "boss@catch.example"},
    {"Any+Thing@CATCH.example", DIR_RCPT_CATCHALL, "@catch.example", "boss@catch.example"},
    /* a disabled explicit alias falls through to the catch-all */
    {"old@catch.example", DIR_RCPT_CATCHALL, "@catch.example", "boss@catch.example"},
    /* syntax the lookup cannot use */
    {"no-at-sign", DIR_RCPT_UNKNOWN, "no-at-sign", NULL},
    {"@example.org", DIR_RCPT_UNKNOWN, "@example.org", NULL},
    {"user1@", DIR_RCPT_UNKNOWN, "user1@", NULL},
};

static void test_resolve(void **state)
{
	struct fixture *f = *state;
	for (size_t i = 0; i < sizeof(resolve_cases) / sizeof(resolve_cases[0]); i++) {
		const struct resolve_case *c = &resolve_cases[i];
		struct dir_rcpt r;
		const char *err = NULL;
		if (dir_resolve_rcpt(f->reader, c->address, "+", &r, &err) != 0)
			fail_msg("%s: %s", c->address, err);
		if (r.kind != c->kind)
			fail_msg("%s: kind %s, want %s", c->address, dir_rcpt_kind_name(r.kind),
			         dir_rcpt_kind_name(c->kind));
		assert_string_equal(r.address, c->matched);
		char joined[512] = "";
		for (unsigned k = 0; k < r.ndest; k++) {
			if (k > 0)
				strcat(joined, ",");
			strcat(joined, r.dest[k]);
		}
		if (c->dest == NULL) {
			if (r.ndest != 0)
				fail_msg("%s: unexpected destinations %s", c->address, joined);
		} else if (strcmp(joined, c->dest) != 0) {
			fail_msg("%s: destinations %s, want %s", c->address, joined, c->dest);
		}
		dir_rcpt_clear(&r);
	}
}

static void test_resolve_account_fields(void **state)
{
	struct fixture *f = *state;
	struct dir_rcpt r;
	const char *err = NULL;
	assert_int_equal(dir_resolve_rcpt(f->reader, "user1+x@example.org", "+", &r, &err), 0);
	assert_int_equal(r.kind, DIR_RCPT_ACCOUNT);
	assert_string_equal(r.account.username, "user1");
	assert_string_equal(r.account.domain, "example.org");
	assert_string_equal(r.account.password, "{PLAIN}x");
	assert_int_equal(r.account.quota_mb, 2048);
	assert_true(r.account.enabled);
	assert_false(r.account.sendonly);
	dir_rcpt_clear(&r);

	/* without a delimiter the tag is part of the name */
	assert_int_equal(dir_resolve_rcpt(f->reader, "user1+x@example.org", "", &r, &err), 0);
	assert_int_equal(r.kind, DIR_RCPT_UNKNOWN);
	dir_rcpt_clear(&r);
	assert_int_equal(dir_resolve_rcpt(f->reader, "user1+x@example.org", NULL, &r, &err), 0);
	assert_int_equal(r.kind, DIR_RCPT_UNKNOWN);
	dir_rcpt_clear(&r);
	/* another delimiter */
	assert_int_equal(dir_resolve_rcpt(f->reader, "user1-x@example.org", "-", &r, &err), 0);
	assert_int_equal(r.kind, DIR_RCPT_ACCOUNT);
	dir_rcpt_clear(&r);
}

static void test_read_api(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	assert_int_equal(dir_ping(f->reader, &err), 0);
	assert_int_equal(dir_domain_exists(f->reader, "EXAMPLE.org", &err), 1);
	assert_int_equal(dir_domain_exists(f->reader, "other.example", &err), 1);
	assert_int_equal(dir_domain_exists(f->reader, "example.com", &err), 0);
	struct dir_account a;
	assert_int_equal(dir_account_get(f->reader, "Gone", "Example.org", &a, &err), 1);
	assert_false(a.enabled);
	dir_account_clear(&a);
	assert_int_equal(dir_account_get(f->reader, "noreply", "example.org", &a, &err), 1);
	assert_true(a.enabled);
	assert_true(a.sendonly);
	dir_account_clear(&a);
	assert_int_equal(dir_account_get(f->reader, "nobody", "example.org", &a, &err), 0);
	assert_null(a.username);
}

struct send_case {
	const char *login;
	const char *address;
	int want;
};

static const struct send_case send_cases[] = {
    {"user1@example.org", "user1@example.org", 1},
    {"User1@Example.org", "USER1@example.ORG", 1},
    {"user1@example.org", "user1+tag@example.org", 1},
    {"user1@example.org", "team@example.org", 1},   /* alias pointing to user1 */
    {"user1@example.org", "team+x@example.org", 1}, /* tag ignored */
    {"user2@example.org", "team@example.org", 0},   /* not a member */
    {"user2@example.org", "info@example.org", 1},
    {"user1@example.org", "info@example.org", 0},
    {"user1@example.org", "user2@example.org", 1}, /* alias user2 -> user1 */
    {"user2@example.org", "user1@example.org", 0},
    {"user1@example.org", "old@example.org", 0},         /* disabled alias */
    {"gone@example.org", "gone@example.org", 0},         /* disabled account */
    {"noreply@example.org", "noreply@example.org", 1},   /* sendonly may send */
    {"boss@catch.example", "anything@catch.example", 0}, /* catch-all grants nothing */
    {"user1@example.org", "stranger@elsewhere.example", 0},
    {"user1@example.org", "not-an-address", 0},
};

static void test_may_send_as(void **state)
{
	struct fixture *f = *state;
	for (size_t i = 0; i < sizeof(send_cases) / sizeof(send_cases[0]); i++) {
		const struct send_case *c = &send_cases[i];
		const char *err = NULL;
		int r = dir_may_send_as(f->reader, c->login, c->address, "+", &err);
		if (r != c->want)
			fail_msg("%s as %s: %d, want %d (%s)", c->login, c->address, r, c->want,
			         err != NULL ? err : "");
	}
}

static void test_tlspolicy(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct dir_tlspolicy p;
	assert_int_equal(dir_tlspolicy_get(f->reader, "gmx.DE", &p, &err), 1);
	assert_string_equal(p.domain, "gmx.de");
	assert_string_equal(p.policy, "secure");
	assert_string_equal(p.params, "match=.gmx.net");
	dir_tlspolicy_clear(&p);
	assert_int_equal(dir_tlspolicy_get(f->reader, "mailbox.org", &p, &err), 1);
	assert_string_equal(p.policy, "dane-only");
	assert_null(p.params);
	dir_tlspolicy_clear(&p);
	assert_int_equal(dir_tlspolicy_get(f->reader, "web.de", &p, &err), 0);

	/* replace, refuse an unknown policy, delete */
	ADMIN_OK(dir_tlspolicy_set(f->admin, "mailbox.org", "encrypt", "", &err_));
	assert_int_equal(dir_tlspolicy_get(f->reader, "mailbox.org", &p, &err), 1);
	assert_string_equal(p.policy, "encrypt");
	dir_tlspolicy_clear(&p);
	assert_int_equal(dir_tlspolicy_set(f->admin, "web.de", "strict", NULL, &err), 0);
	assert_non_null(strstr(err, "unknown TLS policy"));
	assert_int_equal(dir_tlspolicy_set(f->admin, "bad domain", "may", NULL, &err), 0);
	ADMIN_OK(dir_tlspolicy_del(f->admin, "mailbox.org", &err_));
	assert_int_equal(dir_tlspolicy_del(f->admin, "mailbox.org", &err), 0);
	assert_int_equal(dir_tlspolicy_get(f->reader, "mailbox.org", &p, &err), 0);

	const char *valid[] = {"none",      "may",         "encrypt", "dane",
	                       "dane-only", "fingerprint", "verify",  "secure"};
	for (size_t i = 0; i < 8; i++)
		assert_true(dir_tlspolicy_valid(valid[i]));
	assert_false(dir_tlspolicy_valid("DANE"));
	assert_false(dir_tlspolicy_valid(""));
	assert_false(dir_tlspolicy_valid(NULL));
}

static void test_reader_cannot_write(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	assert_int_equal(dir_domain_add(f->reader, "new.example", &err), -1);
	assert_non_null(err);
	assert_int_equal(dir_account_set_enabled(f->reader, "gone@example.org", true, &err), -1);
	assert_int_equal(dir_alias_add(f->reader, "x@example.org", "y@example.org", &err), -1);
	/* nothing changed, and the reader still reads */
	assert_int_equal(dir_domain_exists(f->reader, "new.example", &err), 0);
	struct dir_account a;
	assert_int_equal(dir_account_get(f->reader, "gone", "example.org", &a, &err), 1);
	assert_false(a.enabled);
	dir_account_clear(&a);
}

static void test_admin_refusals(void **state)
{
	struct fixture *f = *state;
	struct dir *a = f->admin;
	const char *err = NULL;
	/* duplicates, also when spelt with other case */
	assert_int_equal(dir_domain_add(a, "EXAMPLE.ORG", &err), 0);
	assert_non_null(strstr(err, "exists"));
	assert_int_equal(dir_account_add(a, "USER1@example.org", "{PLAIN}a", 0, true, false, &err),
	                 0);
	assert_int_equal(dir_alias_add(a, "team@example.org", "USER1@example.org", &err), 0);
	/* the catch-all too, though UNIQUE cannot see it (NULL) */
	assert_int_equal(dir_alias_add(a, "@catch.example", "boss@catch.example", &err), 0);
	assert_non_null(strstr(err, "exists"));
	/* unknown domains */
	assert_int_equal(dir_account_add(a, "x@unknown.example", "{PLAIN}a", 0, true, false, &err),
	                 0);
	assert_non_null(strstr(err, "not one of ours"));
	assert_int_equal(dir_alias_add(a, "x@unknown.example", "user1@example.org", &err), 0);
	assert_int_equal(dir_alias_add(a, "@unknown.example", "user1@example.org", &err), 0);
	/* a remote destination is fine, an alias to itself is not */
	ADMIN_OK(dir_alias_add(a, "fwd@example.org", "someone@remote.example", &err_));
	assert_int_equal(dir_alias_add(a, "me@example.org", "ME@example.org", &err), 0);
	/* rows that are not there */
	assert_int_equal(dir_account_del(a, "nobody@example.org", &err), 0);
	assert_int_equal(dir_account_set_quota(a, "nobody@example.org", 1, &err), 0);
	assert_int_equal(dir_alias_del(a, "nobody@example.org", "user1@example.org", &err), 0);
	assert_int_equal(dir_domain_del(a, "unknown.example", false, &err), 0);
	/* bad syntax */
	assert_int_equal(dir_account_add(a, "a b@example.org", "{PLAIN}a", 0, true, false, &err),
	                 0);
	assert_non_null(strstr(err, "invalid address"));
	assert_int_equal(dir_alias_add(a, "x@example.org", "@example.org", &err), 0);
	assert_int_equal(dir_account_add(a, "@example.org", "{PLAIN}a", 0, true, false, &err), 0);
	/* listing a domain that is not ours */
	struct dir_account *l;
	unsigned n;
	assert_int_equal(dir_account_list(a, "unknown.example", &l, &n, &err), 0);
}

static void test_admin_changes(void **state)
{
	struct fixture *f = *state;
	struct dir *a = f->admin, *rd = f->reader;
	const char *err = NULL;
	struct dir_rcpt r;
	/* enable / disable / sendonly / quota / password / delete */
	ADMIN_OK(dir_account_set_enabled(a, "gone@example.org", true, &err_));
	assert_int_equal(dir_resolve_rcpt(rd, "gone@example.org", "+", &r, &err), 0);
	assert_int_equal(r.kind, DIR_RCPT_ACCOUNT);
	dir_rcpt_clear(&r);
	ADMIN_OK(dir_account_set_sendonly(a, "gone@example.org", true, &err_));
	assert_int_equal(dir_resolve_rcpt(rd, "gone@example.org", "+", &r, &err), 0);
	assert_int_equal(r.kind, DIR_RCPT_SENDONLY);
	dir_rcpt_clear(&r);
	ADMIN_OK(dir_account_set_quota(a, "gone@example.org", 77, &err_));
	ADMIN_OK(dir_account_set_password(a, "gone@example.org", "{PLAIN}new", &err_));
	struct dir_account acc;
	assert_int_equal(dir_account_get(rd, "gone", "example.org", &acc, &err), 1);
	assert_int_equal(acc.quota_mb, 77);
	assert_string_equal(acc.password, "{PLAIN}new");
	dir_account_clear(&acc);
	ADMIN_OK(dir_account_del(a, "gone@example.org", &err_));
	assert_int_equal(dir_account_get(rd, "gone", "example.org", &acc, &err), 0);

	/* the account's alias shows once the account is gone */
	ADMIN_OK(dir_account_del(a, "user2@example.org", &err_));
	assert_int_equal(dir_resolve_rcpt(rd, "user2@example.org", "+", &r, &err), 0);
	assert_int_equal(r.kind, DIR_RCPT_ALIAS);
	dir_rcpt_clear(&r);

	/* lists */
	struct dir_domain_info *dl;
	unsigned n;
	assert_int_equal(dir_domain_list(a, &dl, &n, &err), 1);
	assert_int_equal(n, 3);
	assert_string_equal(dl[0].domain, "catch.example");
	assert_int_equal(dl[0].accounts, 1);
	assert_int_equal(dl[0].aliases, 3);
	assert_string_equal(dl[2].domain, "other.example");
	dir_domain_list_free(dl, n);
	struct dir_alias *al;
	assert_int_equal(dir_alias_list(a, "catch.example", &al, &n, &err), 1);
	assert_int_equal(n, 3);
	assert_null(al[0].source_username); /* catch-all first */
	assert_string_equal(al[0].destination_username, "boss");
	assert_false(al[1].enabled); /* old@ */
	dir_alias_list_free(al, n);

	/* a domain with mail on it is kept unless forced */
	assert_int_equal(dir_domain_del(a, "catch.example", false, &err), 0);
	assert_non_null(strstr(err, "--force"));
	assert_int_equal(dir_domain_exists(rd, "catch.example", &err), 1);
	ADMIN_OK(dir_domain_del(a, "catch.example", true, &err_));
	assert_int_equal(dir_domain_exists(rd, "catch.example", &err), 0);
	assert_int_equal(dir_alias_list(a, NULL, &al, &n, &err), 1);
	for (unsigned i = 0; i < n; i++)
		assert_string_not_equal(al[i].source_domain, "catch.example");
	dir_alias_list_free(al, n);
	ADMIN_OK(dir_domain_del(a, "other.example", false, &err_));
}

/* an open write transaction of another connection (vmailctl) does not
 * block the daemon's reads: the file is in WAL mode */
static void test_writer_does_not_block_reader(void **state)
{
	struct fixture *f = *state;
	sqlite3 *w;
	assert_int_equal(sqlite3_open(f->path, &w), SQLITE_OK);
	assert_int_equal(sqlite3_exec(w,
	                              "BEGIN IMMEDIATE; INSERT INTO domains (domain) VALUES "
	                              "('pending.example');",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	const char *err = NULL;
	/* reader: answers, and does not see the uncommitted row */
	assert_int_equal(dir_domain_exists(f->reader, "example.org", &err), 1);
	assert_int_equal(dir_domain_exists(f->reader, "pending.example", &err), 0);
	/* a second writer times out as a temporary failure */
	assert_int_equal(dir_domain_add(f->admin, "second.example", &err), -1);
	assert_int_equal(sqlite3_exec(w, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(w);
	assert_int_equal(dir_domain_exists(f->reader, "pending.example", &err), 1);
	ADMIN_OK(dir_domain_add(f->admin, "second.example", &err_));
}

static void test_schema_text(void **state)
{
	(void)state;
	const char *my = dir_schema_sql("mysql");
	assert_non_null(my);
	assert_non_null(strstr(my, "CREATE TABLE `domains` (\n"
	                           "    `id` int unsigned NOT NULL AUTO_INCREMENT,\n"));
	assert_non_null(strstr(my, "`policy` enum('none', 'may', 'encrypt', 'dane', 'dane-only', "
	                           "'fingerprint', 'verify', 'secure') NOT NULL,"));
	assert_null(strstr(my, "IF NOT EXISTS"));
	assert_non_null(dir_schema_sql("sqlite"));
	assert_null(dir_schema_sql("oracle"));
}

/* a reader opened before the file exists fails, then works once init ran */
static void test_lazy_connect(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	f->reader = dir_open(&f->cfg.directory, DIR_READER, &err);
	assert_non_null(f->reader);
	assert_int_equal(dir_ping(f->reader, &err), -1);
	struct dir_rcpt r;
	assert_int_equal(dir_resolve_rcpt(f->reader, "a@example.org", "+", &r, &err), -1);
	assert_non_null(err);
	/* the admin does not create the file by accident */
	f->admin = dir_open(&f->cfg.directory, DIR_ADMIN, &err);
	assert_int_equal(dir_domain_add(f->admin, "example.org", &err), -1);
	assert_int_equal(access(f->path, F_OK), -1);
	assert_int_equal(dir_admin_init(f->admin, &err), 1);
	assert_int_equal(dir_admin_init(f->admin, &err), 1); /* twice is fine */
	ADMIN_OK(dir_domain_add(f->admin, "example.org", &err_));
	assert_int_equal(dir_ping(f->reader, &err), 0);
	assert_int_equal(dir_resolve_rcpt(f->reader, "a@example.org", "+", &r, &err), 0);
	assert_int_equal(r.kind, DIR_RCPT_UNKNOWN);
	dir_rcpt_clear(&r);
	/* the writer keeps -wal and -shm when it closes, so that a reader
	 * without the right to create files beside the database can open it */
	dir_close(&f->reader);
	dir_close(&f->admin);
	char p[160];
	snprintf(p, sizeof(p), "%s-wal", f->path);
	assert_int_equal(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	assert_int_equal(access(p, F_OK), 0);
}

static void test_open_errors(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	set_str(&f->cfg.directory.driver, "oracle");
	assert_null(dir_open(&f->cfg.directory, DIR_READER, &err));
	assert_non_null(err);
	set_str(&f->cfg.directory.driver, "sqlite");
}

struct syntax_case {
	const char *address;
	bool catchall;
	int want;
	const char *local, *domain;
};

static const char long64[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

static void test_address_syntax(void **state)
{
	(void)state;
	static const struct syntax_case cases[] = {
	    {"User.Name+Tag@Example.ORG", false, 0, "user.name+tag", "example.org"},
	    {"o'brien@example.org", false, 0, "o'brien", "example.org"},
	    {"a!#$%&*/=?^_`{|}~-@x-y.example", false, 0, "a!#$%&*/=?^_`{|}~-", "x-y.example"},
	    {"@example.org", true, 0, NULL, "example.org"},
	    {"@example.org", false, -1, NULL, NULL},
	    {"no-at.example.org", false, -1, NULL, NULL},
	    {"a b@example.org", false, -1, NULL, NULL},
	    {"a\tb@example.org", false, -1, NULL, NULL},
	    {"a\x01@example.org", false, -1, NULL, NULL},
	    {"\"quoted\"@example.org", false, -1, NULL, NULL},
	    {".a@example.org", false, -1, NULL, NULL},
	    {"a.@example.org", false, -1, NULL, NULL},
	    {"a..b@example.org", false, -1, NULL, NULL},
	    {"a@b@example.org", false, -1, NULL, NULL},
	    {"a(b)@example.org", false, -1, NULL, NULL},
	    {"m\xc3\xbcller@example.org", false, -1, NULL, NULL},
	    {"a@", false, -1, NULL, NULL},
	    {"a@example.org.", false, -1, NULL, NULL},
	    {"a@.example.org", false, -1, NULL, NULL},
	    {"a@exa..mple.org", false, -1, NULL, NULL},
	    {"a@-example.org", false, -1, NULL, NULL},
	    {"a@example-.org", false, -1, NULL, NULL},
	    {"a@exa_mple.org", false, -1, NULL, NULL},
	    {"a@[192.0.2.1]", false, -1, NULL, NULL},
	    {"a@192.0.2.1", false, -1, NULL, NULL},
	    {"a@b\xc3\xbc.example", false, -1, NULL, NULL},
	    {"a@xn--mller-kva.example", false, 0, "a", "xn--mller-kva.example"},
	    {"a@localhost", false, 0, "a", "localhost"},
	    {"a@1example.org", false, 0, "a", "1example.org"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *l = NULL, *d = NULL;
		const char *err = NULL;
		int r = dir_address_parse(cases[i].address, cases[i].catchall, &l, &d, &err);
		if (r != cases[i].want)
			fail_msg("%s: %d, want %d (%s)", cases[i].address, r, cases[i].want,
			         err != NULL ? err : "");
		if (r == 0) {
			if (cases[i].local == NULL)
				assert_null(l);
			else
				assert_string_equal(l, cases[i].local);
			assert_string_equal(d, cases[i].domain);
		} else {
			assert_non_null(err);
			assert_null(l);
			assert_null(d);
		}
		free(l);
		free(d);
	}

	/* the length limits, at and over the edge */
	char buf[600];
	char *l, *d;
	const char *err;
	snprintf(buf, sizeof(buf), "%s@example.org", long64);
	assert_int_equal(dir_address_parse(buf, false, &l, &d, &err), 0);
	free(l);
	free(d);
	snprintf(buf, sizeof(buf), "%sa@example.org", long64);
	assert_int_equal(dir_address_parse(buf, false, &l, &d, &err), -1);
	/* label of 63 ok, 64 not */
	char label[70];
	memset(label, 'b', 63);
	label[63] = '\0';
	snprintf(buf, sizeof(buf), "%s.example", label);
	assert_int_equal(dir_domain_check(buf, &err), 0);
	snprintf(buf, sizeof(buf), "%sb.example", label);
	assert_int_equal(dir_domain_check(buf, &err), -1);
	/* domain of 255 ok (4 x 63 + 3 dots), 256 not */
	snprintf(buf, sizeof(buf), "%s.%s.%s.%s", label, label, label, label);
	assert_int_equal(strlen(buf), 255);
	assert_int_equal(dir_domain_check(buf, &err), 0);
	snprintf(buf, sizeof(buf), "%s.%s.%s.%sb", label, label, label, label);
	assert_int_equal(dir_domain_check(buf, &err), -1);
	/* whole address: 254 ok, 255 not */
	memset(label, 'c', 60);
	label[60] = '\0';
	/* 61 + 63+1+63+1+63+1+2 = 255 -> trim to make 254 */
	snprintf(buf, sizeof(buf), "%s@%.63s.%.63s.%.63s.%s", label, long64, long64, long64, "x");
	assert_int_equal(strlen(buf), 254);
	assert_int_equal(dir_address_parse(buf, false, &l, &d, &err), 0);
	free(l);
	free(d);
	snprintf(buf, sizeof(buf), "%s@%.63s.%.63s.%.63s.%s", label, long64, long64, long64, "xy");
	assert_int_equal(dir_address_parse(buf, false, &l, &d, &err), -1);
	assert_non_null(strstr(err, "254"));
	assert_int_equal(dir_domain_check("", &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_resolve, setup_populated, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_resolve_account_fields, setup_populated,
	                                    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_read_api, setup_populated, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_may_send_as, setup_populated, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_tlspolicy, setup_populated, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_reader_cannot_write, setup_populated,
	                                    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_admin_refusals, setup_populated, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_admin_changes, setup_populated, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_writer_does_not_block_reader, setup_populated,
	                                    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_lazy_connect, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_open_errors, fixture_setup, fixture_teardown),
	    cmocka_unit_test(test_schema_text),
	    cmocka_unit_test(test_address_syntax),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
