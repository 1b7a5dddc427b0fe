/*
 * dir-sqlite.c - the SQLite driver of the directory.
 *
 * Owns: one sqlite3 handle and its prepared statements, cached by SQL
 * text for the life of the connection. DIR_READER opens the file
 * read-only, so the daemon cannot change the directory even by mistake;
 * DIR_ADMIN opens it read-write with foreign keys on, and creates it only
 * for `vmailctl init` (d->create). init puts the file in WAL mode, which
 * is persistent: vmailctl's writes then never block the daemon's reads.
 * A writer waiting for another writer gives up after [directory] timeout
 * (busy timeout) and that is a temporary failure.
 *
 * The schema is the guide's with SQLite types: INTEGER PRIMARY KEY
 * AUTOINCREMENT for `int unsigned AUTO_INCREMENT`, text columns with
 * COLLATE NOCASE because the guide's MariaDB columns compare without case
 * (utf8_general_ci), CHECKs for `unsigned` and the policy enum.
 */
#include "directory/directory-private.h"
#include "core/xalloc.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define STMT_CACHE 24

struct sqlite_conn {
	sqlite3 *db;
	struct {
		const char *sql; /* static text of the caller: compared by address */
		sqlite3_stmt *stmt;
	} cache[STMT_CACHE];
	unsigned ncache;
};

static const char *const sqlite_schema[] = {
    "CREATE TABLE IF NOT EXISTS `domains` (\n"
    "    `id` INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    `domain` varchar(255) NOT NULL COLLATE NOCASE,\n"
    "    UNIQUE (`domain`)\n"
    ")",
    "CREATE TABLE IF NOT EXISTS `accounts` (\n"
    "    `id` INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    `username` varchar(64) NOT NULL COLLATE NOCASE,\n"
    "    `domain` varchar(255) NOT NULL COLLATE NOCASE,\n"
    "    `password` varchar(255) NOT NULL,\n"
    "    `quota` integer DEFAULT 0 CHECK (`quota` >= 0),\n"
    "    `enabled` boolean DEFAULT 0,\n"
    "    `sendonly` boolean DEFAULT 0,\n"
    "    UNIQUE (`username`, `domain`),\n"
    "    FOREIGN KEY (`domain`) REFERENCES `domains` (`domain`)\n"
    ")",
    "CREATE TABLE IF NOT EXISTS `aliases` (\n"
    "    `id` INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    `source_username` varchar(64) COLLATE NOCASE,\n"
    "    `source_domain` varchar(255) NOT NULL COLLATE NOCASE,\n"
    "    `destination_username` varchar(64) NOT NULL COLLATE NOCASE,\n"
    "    `destination_domain` varchar(255) NOT NULL COLLATE NOCASE,\n"
    "    `enabled` boolean DEFAULT 0,\n"
    "    UNIQUE (`source_username`, `source_domain`, `destination_username`,"
    " `destination_domain`),\n"
    "    FOREIGN KEY (`source_domain`) REFERENCES `domains` (`domain`)\n"
    ")",
    "CREATE TABLE IF NOT EXISTS `tlspolicies` (\n"
    "    `id` INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    `domain` varchar(255) NOT NULL COLLATE NOCASE,\n"
    "    `policy` varchar(16) NOT NULL CHECK (`policy` IN ('none', 'may', 'encrypt', 'dane',"
    " 'dane-only', 'fingerprint', 'verify', 'secure')),\n"
    "    `params` varchar(255),\n"
    "    UNIQUE (`domain`)\n"
    ")",
    NULL,
};

static const char *errmsg(struct dir *d, sqlite3 *db, const char *what)
{
	return dir_error(d, "sqlite %s: %s: %s", d->path, what,
	                 db != NULL ? sqlite3_errmsg(db) : "out of memory");
}

static void sqlite_disconnect(struct dir *d)
{
	struct sqlite_conn *c = d->conn;
	if (c == NULL)
		return;
	for (unsigned i = 0; i < c->ncache; i++)
		sqlite3_finalize(c->cache[i].stmt);
	sqlite3_close(c->db);
	free(c);
	d->conn = NULL;
}

static int sqlite_connect(struct dir *d, const char **error_r)
{
	int flags = SQLITE_OPEN_NOMUTEX;
	if (d->role == DIR_READER)
		flags |= SQLITE_OPEN_READONLY;
	else
		flags |= SQLITE_OPEN_READWRITE | (d->create ? SQLITE_OPEN_CREATE : 0);
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(d->path, &db, flags, NULL);
	if (rc != SQLITE_OK) {
		*error_r = d->create || d->role == DIR_READER
		               ? errmsg(d, db, "open")
		               : dir_error(d, "sqlite %s: open: %s (run vmailctl init first?)",
		                           d->path, db != NULL ? sqlite3_errmsg(db) : "?");
		sqlite3_close(db);
		return -1;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, (int)(d->timeout > 2000000 ? 2000000000 : d->timeout * 1000));
	if (d->role == DIR_ADMIN &&
	    sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK) {
		*error_r = errmsg(d, db, "foreign_keys");
		sqlite3_close(db);
		return -1;
	}
	if (d->role == DIR_ADMIN) {
		/* keep -wal and -shm when the last writer closes: a reader that
		 * may not create files next to the database (the lookup user
		 * with read access only) can then still open it */
		int persist = 1;
		sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	}
	struct sqlite_conn *c = xcalloc(1, sizeof(*c));
	c->db = db;
	d->conn = c;
	return 0;
}

static sqlite3_stmt *prepare(struct dir *d, struct sqlite_conn *c, const char *sql,
                             const char **error_r)
{
	for (unsigned i = 0; i < c->ncache; i++)
		if (c->cache[i].sql == sql)
			return c->cache[i].stmt;
	sqlite3_stmt *stmt = NULL;
	if (sqlite3_prepare_v2(c->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		*error_r = errmsg(d, c->db, "prepare");
		sqlite3_finalize(stmt);
		return NULL;
	}
	if (c->ncache == STMT_CACHE) {
		/* full: drop the oldest */
		sqlite3_finalize(c->cache[0].stmt);
		memmove(&c->cache[0], &c->cache[1], sizeof(c->cache[0]) * (STMT_CACHE - 1));
		c->ncache--;
	}
	c->cache[c->ncache].sql = sql;
	c->cache[c->ncache].stmt = stmt;
	c->ncache++;
	return stmt;
}

static int classify(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
		return DIR_Q_CONSTRAINT;
	case SQLITE_IOERR:
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_CANTOPEN:
		return DIR_Q_LOST;
	default:
		return DIR_Q_TEMP;
	}
}

static int sqlite_query(struct dir *d, const char *sql, unsigned nparam, const char *const *param,
                        struct dir_rows *rows_r, uint64_t *changes_r, const char **error_r)
{
	struct sqlite_conn *c = d->conn;
	sqlite3_stmt *stmt = prepare(d, c, sql, error_r);
	if (stmt == NULL) {
		/* a file that is not (or no longer) a database: drop the
		 * connection, so the next call opens the file anew */
		int ret = classify(sqlite3_extended_errcode(c->db));
		if (ret == DIR_Q_LOST)
			sqlite_disconnect(d);
		return ret == DIR_Q_CONSTRAINT ? DIR_Q_TEMP : ret;
	}
	if ((unsigned)sqlite3_bind_parameter_count(stmt) != nparam) {
		*error_r = dir_error(d, "sqlite: statement wants %d parameters, %u given",
		                     sqlite3_bind_parameter_count(stmt), nparam);
		return DIR_Q_TEMP;
	}
	for (unsigned i = 0; i < nparam; i++) {
		int rc = param[i] == NULL
		             ? sqlite3_bind_null(stmt, (int)i + 1)
		             : sqlite3_bind_text(stmt, (int)i + 1, param[i], -1, SQLITE_TRANSIENT);
		if (rc != SQLITE_OK) {
			*error_r = errmsg(d, c->db, "bind");
			sqlite3_reset(stmt);
			sqlite3_clear_bindings(stmt);
			return DIR_Q_TEMP;
		}
	}
	unsigned ncol = (unsigned)sqlite3_column_count(stmt);
	if (rows_r != NULL)
		rows_r->ncol = ncol;
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (rows_r == NULL)
			continue;
		char **row = dir_rows_add_row(rows_r);
		for (unsigned i = 0; i < ncol; i++) {
			if (sqlite3_column_type(stmt, (int)i) == SQLITE_NULL)
				continue;
			const unsigned char *t = sqlite3_column_text(stmt, (int)i);
			int len = sqlite3_column_bytes(stmt, (int)i);
			row[i] = xstrndup(t != NULL ? (const char *)t : "", (size_t)len);
		}
	}
	int ret = DIR_Q_OK;
	if (rc != SQLITE_DONE) {
		*error_r = errmsg(d, c->db, "step");
		ret = classify(rc);
	} else if (changes_r != NULL) {
		*changes_r = (uint64_t)sqlite3_changes(c->db);
	}
	/* reset at once: a statement left open would hold its read snapshot */
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if (ret == DIR_Q_LOST)
		sqlite_disconnect(d);
	return ret;
}

static int exec_simple(struct dir *d, const char *sql, const char **error_r)
{
	struct sqlite_conn *c = d->conn;
	if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		*error_r = errmsg(d, c->db, sql);
		return -1;
	}
	return 0;
}

static int sqlite_begin(struct dir *d, const char **error_r)
{
	/* IMMEDIATE: take the write lock now, not half-way through */
	return exec_simple(d, "BEGIN IMMEDIATE", error_r);
}

static int sqlite_commit(struct dir *d, const char **error_r)
{
	return exec_simple(d, "COMMIT", error_r);
}

static void sqlite_rollback(struct dir *d)
{
	struct sqlite_conn *c = d->conn;
	if (c != NULL && !sqlite3_get_autocommit(c->db))
		(void)sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

static int sqlite_after_init(struct dir *d, const char **error_r)
{
	return exec_simple(d, "PRAGMA journal_mode = WAL", error_r);
}

const struct dir_driver dir_driver_sqlite = {
    .name = "sqlite",
    .schema = sqlite_schema,
    .connect = sqlite_connect,
    .disconnect = sqlite_disconnect,
    .query = sqlite_query,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .after_init = sqlite_after_init,
};
