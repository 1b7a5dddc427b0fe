/*
 * directory-private - what the directory's own files share; nobody else
 * includes this.
 *
 * Owns: struct dir, the driver interface and the small query helpers the
 * semantics (directory.c, dir-admin.c) are written on.
 *
 * The split: a driver (dir-sqlite.c, dir-mysql.c) knows how to open a
 * connection, run one prepared statement with text parameters and hand
 * back every cell as text, and how to start and end a transaction. It
 * knows nothing of mail. All SQL text and every rule of the guide is
 * written once, above the drivers, in the dialect both engines accept:
 * `?` placeholders, `= 1` for booleans, no concat(), no engine-specific
 * null-safe comparison.
 *
 * Driver return codes (enum dir_q): OK, TEMP (anything not the caller's
 * fault: down, timeout, permission, schema missing), CONSTRAINT (a UNIQUE
 * or FOREIGN KEY refused the write), LOST (the connection died during the
 * call; the driver has already dropped it, so the next call reconnects).
 */
#ifndef VMAILD_DIRECTORY_PRIVATE_H
#define VMAILD_DIRECTORY_PRIVATE_H

#include "core/buf.h"
#include "directory/directory.h"

#include <stdint.h>

enum dir_q {
	DIR_Q_OK = 0,
	DIR_Q_TEMP = -1,
	DIR_Q_CONSTRAINT = -2,
	DIR_Q_LOST = -3,
};

/* The cells of a result, row-major; a cell is NULL for SQL NULL. */
struct dir_rows {
	char **cell;
	unsigned ncol;
	unsigned nrow;
};
void dir_rows_free(struct dir_rows *rows);
static inline const char *dir_rows_get(const struct dir_rows *rows, unsigned row, unsigned col)
{
	return rows->cell[(size_t)row * rows->ncol + col];
}
/* dir_rows_add_row: room for one more row; returns its first cell. */
char **dir_rows_add_row(struct dir_rows *rows);

struct dir_driver {
	const char *name;
	/* Statements for an empty database, each run on its own, idempotent
	 * (CREATE TABLE IF NOT EXISTS). */
	const char *const *schema;
	/* connect: open the connection; d->conn is set on success. The
	 * SQLite driver creates the file when d->create is set. 0 / -1. */
	int (*connect)(struct dir *d, const char **error_r);
	/* disconnect: close whatever is open (safe when nothing is). */
	void (*disconnect)(struct dir *d);
	/* query: run sql with nparam text parameters (NULL = SQL NULL).
	 * rows_r, when not NULL, receives every cell; changes_r, when not
	 * NULL, the number of rows a write changed. enum dir_q. */
	int (*query)(struct dir *d, const char *sql, unsigned nparam, const char *const *param,
	             struct dir_rows *rows_r, uint64_t *changes_r, const char **error_r);
	/* transactions for writes. 0 / -1 (rollback cannot fail usefully). */
	int (*begin)(struct dir *d, const char **error_r);
	int (*commit)(struct dir *d, const char **error_r);
	void (*rollback)(struct dir *d);
	/* after_init: driver-specific set-up once the schema exists (SQLite:
	 * WAL journal). 0 / -1. */
	int (*after_init)(struct dir *d, const char **error_r);
};

extern const struct dir_driver dir_driver_sqlite;
extern const struct dir_driver dir_driver_mysql;
/* the guide's four CREATE TABLE statements, as the guide prints them */
extern const char dir_mysql_guide_ddl[];

struct dir {
	const struct dir_driver *drv;
	enum dir_role role;
	/* copies of the configuration: a struct dir outlives a reload */
	char *path;
	char *host;
	unsigned port;
	char *socket;
	char *endpoint; /* MariaDB: "host:port" or the socket path, for messages */
	char *database;
	char *user; /* the role's credentials, chosen at open */
	char *password;
	unsigned timeout; /* seconds, at least 1 */
	bool create;      /* SQLite: create the file (vmailctl init) */
	bool in_tx;       /* inside a write transaction: no silent reconnect */
	void *conn;       /* driver state; NULL = not connected */
	struct buf err;   /* the last message handed out in *error_r */
};

/* dir_error: format a message into d->err and return it (for *error_r). */
const char *dir_error(struct dir *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * dir_select: a read. Connects when needed; when an established
 * connection turns out dead, reconnects and runs the statement once more
 * (reads are idempotent), so the first query after a database restart
 * succeeds. rows_r is filled on success. 0 / -1 temporary failure.
 */
int dir_select(struct dir *d, const char *sql, unsigned nparam, const char *const *param,
               struct dir_rows *rows_r, const char **error_r);
/* dir_write: a write, never retried. enum dir_q (LOST is TEMP). */
int dir_write(struct dir *d, const char *sql, unsigned nparam, const char *const *param,
              uint64_t *changes_r, const char **error_r);
/* dir_ensure_connected: 0 / -1 */
int dir_ensure_connected(struct dir *d, const char **error_r);

/* lower-case ASCII copy */
char *dir_lower(const char *s);
/* cells as numbers: booleans come back as "1"/"0" (MariaDB tinyint,
 * SQLite integer); NULL is false / 0; numbers saturate at UINT_MAX */
bool dir_cell_bool(const char *s);
unsigned dir_cell_uint(const char *s);

#endif
