/*
 * dir-mysql.c - the MariaDB / MySQL driver of the directory, through
 * MariaDB Connector/C.
 *
 * Owns: one MYSQL handle and its prepared statements (mysql_stmt_*),
 * cached by SQL text for the life of the connection. Connects through
 * [directory] socket when host is empty, else to host:port. Connect, read
 * and write timeouts are [directory] timeout, so no call hangs on a
 * stopped or wedged server. Automatic reconnection of the library is off:
 * an error of the client library (CR_*, 2000..2999: server gone, lost,
 * timeout) drops the connection and reports DIR_Q_LOST; the next call
 * connects again. The daemon's credentials (DIR_READER) need SELECT only;
 * nothing in the read path sends anything else - no SET, no init command.
 *
 * The schema is the guide's DDL, byte for byte but for IF NOT EXISTS
 * (dir_schema_sql("mysql") prints it exactly as the guide has it).
 */
#include "directory/directory-private.h"
#include "core/xalloc.h"

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define STMT_CACHE 24
#define CELL_BUF   1024 /* varchar(255) in utf8mb4 fits; longer cells are fetched again */

struct mysql_conn {
	MYSQL *m;
	struct {
		const char *sql;
		MYSQL_STMT *stmt;
	} cache[STMT_CACHE];
	unsigned ncache;
};

/* The guide's four CREATE TABLE statements after "CREATE TABLE". */
#define T_DOMAINS                                                                                  \
	" `domains` (\n"                                                                           \
	"    `id` int unsigned NOT NULL AUTO_INCREMENT,\n"                                         \
	"    `domain` varchar(255) NOT NULL,\n"                                                    \
	"    PRIMARY KEY (`id`),\n"                                                                \
	"    UNIQUE KEY (`domain`)\n"                                                              \
	")"
#define T_ACCOUNTS                                                                                 \
	" `accounts` (\n"                                                                          \
	"    `id` int unsigned NOT NULL AUTO_INCREMENT,\n"                                         \
	"    `username` varchar(64) NOT NULL,\n"                                                   \
	"    `domain` varchar(255) NOT NULL,\n"                                                    \
	"    `password` varchar(255) NOT NULL,\n"                                                  \
	"    `quota` int unsigned DEFAULT '0',\n"                                                  \
	"    `enabled` boolean DEFAULT '0',\n"                                                     \
	"    `sendonly` boolean DEFAULT '0',\n"                                                    \
	"    PRIMARY KEY (id),\n"                                                                  \
	"    UNIQUE KEY (`username`, `domain`),\n"                                                 \
	"    FOREIGN KEY (`domain`) REFERENCES `domains` (`domain`)\n"                             \
	")"
#define T_ALIASES                                                                                  \
	" `aliases` (\n"                                                                           \
	"    `id` int unsigned NOT NULL AUTO_INCREMENT,\n"                                         \
	"    `source_username` varchar(64),\n"                                                     \
	"    `source_domain` varchar(255) NOT NULL,\n"                                             \
	"    `destination_username` varchar(64) NOT NULL,\n"                                       \
	"    `destination_domain` varchar(255) NOT NULL,\n"                                        \
	"    `enabled` boolean DEFAULT '0',\n"                                                     \
	"    PRIMARY KEY (`id`),\n"                                                                \
	"    UNIQUE KEY (`source_username`, `source_domain`, `destination_username`, "             \
	"`destination_domain`),\n"                                                                 \
	"    FOREIGN KEY (`source_domain`) REFERENCES `domains` (`domain`)\n"                      \
	")"
#define T_TLSPOLICIES                                                                              \
	" `tlspolicies` (\n"                                                                       \
	"    `id` int unsigned NOT NULL AUTO_INCREMENT,\n"                                         \
	"    `domain` varchar(255) NOT NULL,\n"                                                    \
	"    `policy` enum('none', 'may', 'encrypt', 'dane', 'dane-only', 'fingerprint', "         \
	"'verify', 'secure') NOT NULL,\n"                                                          \
	"    `params` varchar(255),\n"                                                             \
	"    PRIMARY KEY (`id`),\n"                                                                \
	"    UNIQUE KEY (`domain`)\n"                                                              \
	")"

/* what `vmailctl init --print-sql` shows: the guide's text */
const char dir_mysql_guide_ddl[] =
    "CREATE TABLE" T_DOMAINS ";\n\nCREATE TABLE" T_ACCOUNTS ";\n\nCREATE TABLE" T_ALIASES
    ";\n\nCREATE TABLE" T_TLSPOLICIES ";\n";

/* what init runs: the same statements, idempotent */
static const char *const mysql_schema[] = {
    "CREATE TABLE IF NOT EXISTS" T_DOMAINS,
    "CREATE TABLE IF NOT EXISTS" T_ACCOUNTS,
    "CREATE TABLE IF NOT EXISTS" T_ALIASES,
    "CREATE TABLE IF NOT EXISTS" T_TLSPOLICIES,
    NULL,
};

static pthread_once_t library_once = PTHREAD_ONCE_INIT;

static void library_init(void)
{
	/* mysql_init() would do it too, but not thread-safely */
	mysql_library_init(0, NULL, NULL);
}

static bool client_error(unsigned err)
{
	return err >= CR_MIN_ERROR && err <= CR_MAX_ERROR;
}

static bool constraint_error(unsigned err)
{
	return err == ER_DUP_ENTRY || err == ER_DUP_KEY || err == ER_NO_REFERENCED_ROW ||
	       err == ER_NO_REFERENCED_ROW_2 || err == ER_ROW_IS_REFERENCED ||
	       err == ER_ROW_IS_REFERENCED_2 || err == ER_DUP_UNIQUE;
}

static const char *where(struct dir *d)
{
	return d->endpoint;
}

static void mysql_disconnect(struct dir *d)
{
	struct mysql_conn *c = d->conn;
	if (c == NULL)
		return;
	for (unsigned i = 0; i < c->ncache; i++)
		mysql_stmt_close(c->cache[i].stmt);
	mysql_close(c->m);
	free(c);
	d->conn = NULL;
}

static int mysql_connect(struct dir *d, const char **error_r)
{
	pthread_once(&library_once, library_init);
	MYSQL *m = mysql_init(NULL);
	if (m == NULL) {
		*error_r = "mysql: out of memory";
		return -1;
	}
	unsigned t = d->timeout;
	my_bool no = 0;
	bool tcp = d->host[0] != '\0';
	enum mysql_protocol_type proto = tcp ? MYSQL_PROTOCOL_TCP : MYSQL_PROTOCOL_SOCKET;
	mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &t);
	mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &t);
	mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &t);
	mysql_optionsv(m, MYSQL_OPT_RECONNECT, &no);
	mysql_optionsv(m, MYSQL_OPT_PROTOCOL, &proto);
	mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* no option files: only vmaild.conf decides where we connect */
	if (mysql_real_connect(m, tcp ? d->host : "localhost", d->user, d->password, d->database,
	                       tcp ? d->port : 0, tcp ? NULL : d->socket, 0) == NULL) {
		*error_r =
		    dir_error(d, "mysql %s: connect as %s: %s", where(d), d->user, mysql_error(m));
		mysql_close(m);
		return -1;
	}
	struct mysql_conn *c = xcalloc(1, sizeof(*c));
	c->m = m;
	d->conn = c;
	return 0;
}

/* fail: the message of err/msg, and the code for it; a client-side
 * error drops the connection. */
static int fail(struct dir *d, const char *what, unsigned err, const char *msg,
                const char **error_r)
{
	*error_r = dir_error(d, "mysql %s: %s: %s", where(d), what, msg);
	if (client_error(err)) {
		mysql_disconnect(d);
		return DIR_Q_LOST;
	}
	return constraint_error(err) ? DIR_Q_CONSTRAINT : DIR_Q_TEMP;
}

static void cache_drop(struct mysql_conn *c, MYSQL_STMT *stmt)
{
	for (unsigned i = 0; i < c->ncache; i++) {
		if (c->cache[i].stmt == stmt) {
			memmove(&c->cache[i], &c->cache[i + 1],
			        sizeof(c->cache[0]) * (c->ncache - i - 1));
			c->ncache--;
			break;
		}
	}
	mysql_stmt_close(stmt);
}

static int prepare(struct dir *d, struct mysql_conn *c, const char *sql, MYSQL_STMT **stmt_r,
                   const char **error_r)
{
	for (unsigned i = 0; i < c->ncache; i++) {
		if (c->cache[i].sql == sql) {
			*stmt_r = c->cache[i].stmt;
			return DIR_Q_OK;
		}
	}
	MYSQL_STMT *stmt = mysql_stmt_init(c->m);
	if (stmt == NULL)
		return fail(d, "stmt_init", mysql_errno(c->m), mysql_error(c->m), error_r);
	if (mysql_stmt_prepare(stmt, sql, strlen(sql)) != 0) {
		unsigned err = mysql_stmt_errno(stmt);
		*error_r = dir_error(d, "mysql %s: prepare: %s", where(d), mysql_stmt_error(stmt));
		mysql_stmt_close(stmt);
		if (client_error(err)) {
			mysql_disconnect(d);
			return DIR_Q_LOST;
		}
		return DIR_Q_TEMP;
	}
	if (c->ncache == STMT_CACHE)
		cache_drop(c, c->cache[0].stmt);
	c->cache[c->ncache].sql = sql;
	c->cache[c->ncache].stmt = stmt;
	c->ncache++;
	*stmt_r = stmt;
	return DIR_Q_OK;
}

/* stmt_fail: an error on a cached statement: report it, and forget the
 * statement unless the connection went with it. */
static int stmt_fail(struct dir *d, MYSQL_STMT *stmt, const char *what, const char **error_r)
{
	unsigned err = mysql_stmt_errno(stmt);
	*error_r = dir_error(d, "mysql %s: %s: %s", where(d), what, mysql_stmt_error(stmt));
	if (client_error(err)) {
		mysql_disconnect(d);
		return DIR_Q_LOST;
	}
	mysql_stmt_free_result(stmt);
	mysql_stmt_reset(stmt);
	return constraint_error(err) ? DIR_Q_CONSTRAINT : DIR_Q_TEMP;
}

static int fetch_rows(struct dir *d, MYSQL_STMT *stmt, MYSQL_RES *meta, struct dir_rows *rows_r,
                      const char **error_r)
{
	unsigned ncol = mysql_num_fields(meta);
	MYSQL_BIND *bind = xcalloc(ncol ? ncol : 1, sizeof(*bind));
	unsigned long *len = xcalloc(ncol ? ncol : 1, sizeof(*len));
	my_bool *isnull = xcalloc(ncol ? ncol : 1, sizeof(*isnull));
	my_bool *trunc = xcalloc(ncol ? ncol : 1, sizeof(*trunc));
	char *space = xmalloc((size_t)(ncol ? ncol : 1) * CELL_BUF);
	for (unsigned i = 0; i < ncol; i++) {
		bind[i].buffer_type = MYSQL_TYPE_STRING;
		bind[i].buffer = space + (size_t)i * CELL_BUF;
		bind[i].buffer_length = CELL_BUF;
		bind[i].length = &len[i];
		bind[i].is_null = &isnull[i];
		bind[i].error = &trunc[i];
	}
	int ret = DIR_Q_OK;
	if (rows_r != NULL)
		rows_r->ncol = ncol;
	if (mysql_stmt_bind_result(stmt, bind) != 0) {
		ret = stmt_fail(d, stmt, "bind_result", error_r);
		goto out;
	}
	for (;;) {
		int rc = mysql_stmt_fetch(stmt);
		if (rc == MYSQL_NO_DATA)
			break;
		if (rc == 1) {
			ret = stmt_fail(d, stmt, "fetch", error_r);
			goto out;
		}
		if (rows_r == NULL)
			continue;
		char **row = dir_rows_add_row(rows_r);
		for (unsigned i = 0; i < ncol; i++) {
			if (isnull[i])
				continue;
			if (len[i] < CELL_BUF) {
				row[i] = xstrndup(bind[i].buffer, len[i]);
				continue;
			}
			/* longer than the buffer: fetch this cell again in full */
			char *big = xmalloc(len[i] + 1);
			MYSQL_BIND one;
			unsigned long biglen = 0;
			memset(&one, 0, sizeof(one));
			one.buffer_type = MYSQL_TYPE_STRING;
			one.buffer = big;
			one.buffer_length = len[i] + 1;
			one.length = &biglen;
			if (mysql_stmt_fetch_column(stmt, &one, i, 0) != 0) {
				free(big);
				ret = stmt_fail(d, stmt, "fetch_column", error_r);
				goto out;
			}
			big[biglen < len[i] ? biglen : len[i]] = '\0';
			row[i] = big;
		}
	}
out:
	if (d->conn != NULL)
		mysql_stmt_free_result(stmt);
	free(space);
	free(trunc);
	free(isnull);
	free(len);
	free(bind);
	return ret;
}

static int mysql_query_(struct dir *d, const char *sql, unsigned nparam, const char *const *param,
                        struct dir_rows *rows_r, uint64_t *changes_r, const char **error_r)
{
	struct mysql_conn *c = d->conn;
	MYSQL_STMT *stmt = NULL;
	int r = prepare(d, c, sql, &stmt, error_r);
	if (r != DIR_Q_OK)
		return r;
	if (mysql_stmt_param_count(stmt) != nparam) {
		*error_r = dir_error(d, "mysql: statement wants %lu parameters, %u given",
		                     mysql_stmt_param_count(stmt), nparam);
		return DIR_Q_TEMP;
	}
	MYSQL_BIND *bind = xcalloc(nparam ? nparam : 1, sizeof(*bind));
	unsigned long *plen = xcalloc(nparam ? nparam : 1, sizeof(*plen));
	for (unsigned i = 0; i < nparam; i++) {
		if (param[i] == NULL) {
			bind[i].buffer_type = MYSQL_TYPE_NULL;
			continue;
		}
		plen[i] = strlen(param[i]);
		bind[i].buffer_type = MYSQL_TYPE_STRING;
		bind[i].buffer = (void *)param[i];
		bind[i].buffer_length = plen[i];
		bind[i].length = &plen[i];
	}
	MYSQL_RES *meta = NULL;
	if (nparam > 0 && mysql_stmt_bind_param(stmt, bind) != 0) {
		r = stmt_fail(d, stmt, "bind_param", error_r);
		goto out;
	}
	if (mysql_stmt_execute(stmt) != 0) {
		r = stmt_fail(d, stmt, "execute", error_r);
		goto out;
	}
	meta = mysql_stmt_result_metadata(stmt);
	if (meta == NULL) {
		if (mysql_stmt_field_count(stmt) != 0) {
			r = stmt_fail(d, stmt, "result_metadata", error_r);
			goto out;
		}
		if (rows_r != NULL)
			memset(rows_r, 0, sizeof(*rows_r));
		if (changes_r != NULL) {
			my_ulonglong n = mysql_stmt_affected_rows(stmt);
			*changes_r = n == (my_ulonglong)-1 ? 0 : (uint64_t)n;
		}
		r = DIR_Q_OK;
		goto out;
	}
	r = fetch_rows(d, stmt, meta, rows_r, error_r);
	if (r == DIR_Q_OK && changes_r != NULL)
		*changes_r = 0;
out:
	if (meta != NULL)
		mysql_free_result(meta);
	free(plen);
	free(bind);
	return r;
}

static int mysql_begin(struct dir *d, const char **error_r)
{
	struct mysql_conn *c = d->conn;
	if (mysql_autocommit(c->m, 0) != 0) {
		fail(d, "begin", mysql_errno(c->m), mysql_error(c->m), error_r);
		return -1;
	}
	return 0;
}

static int mysql_commit_(struct dir *d, const char **error_r)
{
	struct mysql_conn *c = d->conn;
	if (mysql_commit(c->m) != 0) {
		fail(d, "commit", mysql_errno(c->m), mysql_error(c->m), error_r);
		return -1;
	}
	c = d->conn;
	if (c != NULL)
		(void)mysql_autocommit(c->m, 1);
	return 0;
}

static void mysql_rollback_(struct dir *d)
{
	struct mysql_conn *c = d->conn;
	if (c == NULL)
		return;
	if (mysql_rollback(c->m) != 0 || mysql_autocommit(c->m, 1) != 0) {
		/* a connection in an unknown state is not reused */
		mysql_disconnect(d);
	}
}

static int mysql_after_init(struct dir *d, const char **error_r)
{
	(void)d;
	(void)error_r;
	return 0;
}

const struct dir_driver dir_driver_mysql = {
    .name = "mysql",
    .schema = mysql_schema,
    .connect = mysql_connect,
    .disconnect = mysql_disconnect,
    .query = mysql_query_,
    .begin = mysql_begin,
    .commit = mysql_commit_,
    .rollback = mysql_rollback_,
    .after_init = mysql_after_init,
};
