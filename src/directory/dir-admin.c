/*
 * dir-admin.c - the write side of the directory (directory-admin.h).
 *
 * Every change is one transaction: the checks that make a clear message
 * (does the domain exist, is this a duplicate, is there such a row) run
 * inside it, then the write. The UNIQUE and FOREIGN KEY constraints of
 * the guide's schema stay the last word: a constraint error from a race
 * with another writer is reported as refused, not as a failure.
 */
#include "directory/directory-admin.h"
#include "directory/directory-private.h"
#include "core/xalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- schema ------------------------------------------------------------ */

static char *sqlite_ddl_text;
static pthread_once_t sqlite_ddl_once = PTHREAD_ONCE_INIT;

static void sqlite_ddl_build(void)
{
	struct buf b = BUF_INIT;
	for (const char *const *s = dir_driver_sqlite.schema; *s != NULL; s++)
		buf_appendf(&b, "%s%s;\n", b.len > 0 ? "\n" : "", *s);
	sqlite_ddl_text = buf_steal(&b);
}

const char *dir_schema_sql(const char *driver)
{
	if (strcmp(driver, "mysql") == 0 || strcmp(driver, "mariadb") == 0)
		return dir_mysql_guide_ddl;
	if (strcmp(driver, "sqlite") == 0) {
		pthread_once(&sqlite_ddl_once, sqlite_ddl_build);
		return sqlite_ddl_text;
	}
	return NULL;
}

int dir_admin_init(struct dir *d, const char **error_r)
{
	d->drv->disconnect(d);
	d->create = true;
	int r = dir_ensure_connected(d, error_r);
	d->create = false;
	if (r < 0)
		return -1;
	for (const char *const *s = d->drv->schema; *s != NULL; s++)
		if (dir_write(d, *s, 0, NULL, NULL, error_r) != DIR_Q_OK)
			return -1;
	if (d->drv->after_init(d, error_r) < 0)
		return -1;
	return dir_ping(d, error_r) < 0 ? -1 : 1;
}

/* ---- helpers ----------------------------------------------------------- */

static int tx_begin(struct dir *d, const char **error_r)
{
	if (dir_ensure_connected(d, error_r) < 0)
		return -1;
	if (d->drv->begin(d, error_r) < 0)
		return -1;
	d->in_tx = true;
	return 0;
}

/* tx_end: commit when ret is 1, else roll back; the final result. */
static int tx_end(struct dir *d, int ret, const char **error_r)
{
	d->in_tx = false;
	if (d->conn == NULL)
		return ret > 0 ? -1 : ret;
	if (ret > 0) {
		if (d->drv->commit(d, error_r) < 0) {
			d->drv->rollback(d);
			return -1;
		}
		return 1;
	}
	d->drv->rollback(d);
	return ret;
}

/* write: 1 done, 0 a constraint refused it (message `refused`), -1 */
static int write1(struct dir *d, const char *sql, unsigned n, const char *const *p,
                  const char *refused, const char **error_r)
{
	int r = dir_write(d, sql, n, p, NULL, error_r);
	if (r == DIR_Q_OK)
		return 1;
	if (r == DIR_Q_CONSTRAINT) {
		*error_r = dir_error(d, "%s (%s)", refused, *error_r);
		return 0;
	}
	return -1;
}

/* count: the first cell of a one-row SELECT as a number. 0 / -1. */
static int count(struct dir *d, const char *sql, unsigned n, const char *const *p,
                 unsigned *count_r, const char **error_r)
{
	struct dir_rows rows;
	if (dir_select(d, sql, n, p, &rows, error_r) < 0)
		return -1;
	const char *c = rows.nrow > 0 ? dir_rows_get(&rows, 0, 0) : NULL;
	*count_r = c != NULL ? (unsigned)strtoul(c, NULL, 10) : 0;
	dir_rows_free(&rows);
	return 0;
}

static const char sql_domain_count[] = "SELECT COUNT(*) FROM `domains` WHERE `domain` = ?";
static const char sql_account_count[] =
    "SELECT COUNT(*) FROM `accounts` WHERE `username` = ? AND `domain` = ?";

/* need_domain: 1 when domain is ours, else 0 with a message, -1 */
static int need_domain(struct dir *d, const char *domain, const char **error_r)
{
	unsigned n;
	const char *p[] = {domain};
	if (count(d, sql_domain_count, 1, p, &n, error_r) < 0)
		return -1;
	if (n == 0) {
		*error_r = dir_error(d, "domain %s is not one of ours (vmailctl domain add %s)",
		                     domain, domain);
		return 0;
	}
	return 1;
}

/* ---- domains ----------------------------------------------------------- */

static const char sql_domain_insert[] = "INSERT INTO `domains` (`domain`) VALUES (?)";
static const char sql_domain_delete[] = "DELETE FROM `domains` WHERE `domain` = ?";
static const char sql_domain_accounts[] = "SELECT COUNT(*) FROM `accounts` WHERE `domain` = ?";
static const char sql_domain_aliases[] = "SELECT COUNT(*) FROM `aliases` WHERE `source_domain` = ?";
static const char sql_domain_del_accounts[] = "DELETE FROM `accounts` WHERE `domain` = ?";
static const char sql_domain_del_aliases[] = "DELETE FROM `aliases` WHERE `source_domain` = ?";
static const char sql_domain_list[] =
    "SELECT d.`domain`,"
    " (SELECT COUNT(*) FROM `accounts` a WHERE a.`domain` = d.`domain`),"
    " (SELECT COUNT(*) FROM `aliases` s WHERE s.`source_domain` = d.`domain`)"
    " FROM `domains` d ORDER BY d.`domain`";

int dir_domain_add(struct dir *d, const char *domain, const char **error_r)
{
	if (dir_domain_check(domain, error_r) < 0) {
		*error_r = dir_error(d, "invalid domain '%s': %s", domain, *error_r);
		return 0;
	}
	char *dom = dir_lower(domain);
	const char *p[] = {dom};
	int r = tx_begin(d, error_r);
	if (r < 0)
		goto out;
	unsigned n;
	r = count(d, sql_domain_count, 1, p, &n, error_r);
	if (r == 0 && n > 0) {
		*error_r = dir_error(d, "domain %s exists", dom);
		r = 0;
	} else if (r == 0) {
		r = write1(d, sql_domain_insert, 1, p, "domain exists", error_r);
	}
	r = tx_end(d, r, error_r);
out:
	free(dom);
	return r;
}

int dir_domain_del(struct dir *d, const char *domain, bool force, const char **error_r)
{
	if (dir_domain_check(domain, error_r) < 0) {
		*error_r = dir_error(d, "invalid domain '%s': %s", domain, *error_r);
		return 0;
	}
	char *dom = dir_lower(domain);
	const char *p[] = {dom};
	unsigned nacc = 0, nali = 0;
	int r = tx_begin(d, error_r);
	if (r < 0)
		goto out;
	r = need_domain(d, dom, error_r);
	if (r > 0 && (count(d, sql_domain_accounts, 1, p, &nacc, error_r) < 0 ||
	              count(d, sql_domain_aliases, 1, p, &nali, error_r) < 0))
		r = -1;
	if (r > 0 && (nacc > 0 || nali > 0) && !force) {
		*error_r = dir_error(d,
		                     "domain %s still has %u account%s and %u alias%s "
		                     "(--force deletes them too)",
		                     dom, nacc, nacc == 1 ? "" : "s", nali, nali == 1 ? "" : "es");
		r = 0;
	}
	if (r > 0 && nali > 0)
		r = write1(d, sql_domain_del_aliases, 1, p, "aliases in use", error_r);
	if (r > 0 && nacc > 0)
		r = write1(d, sql_domain_del_accounts, 1, p, "accounts in use", error_r);
	if (r > 0)
		r = write1(d, sql_domain_delete, 1, p, "domain still referenced", error_r);
	r = tx_end(d, r, error_r);
out:
	free(dom);
	return r;
}

int dir_domain_list(struct dir *d, struct dir_domain_info **list_r, unsigned *n_r,
                    const char **error_r)
{
	*list_r = NULL;
	*n_r = 0;
	struct dir_rows rows;
	if (dir_select(d, sql_domain_list, 0, NULL, &rows, error_r) < 0)
		return -1;
	struct dir_domain_info *l = xcalloc(rows.nrow ? rows.nrow : 1, sizeof(*l));
	for (unsigned i = 0; i < rows.nrow; i++) {
		const char *dm = dir_rows_get(&rows, i, 0);
		const char *na = dir_rows_get(&rows, i, 1), *ns = dir_rows_get(&rows, i, 2);
		l[i].domain = dir_lower(dm != NULL ? dm : "");
		l[i].accounts = na != NULL ? (unsigned)strtoul(na, NULL, 10) : 0;
		l[i].aliases = ns != NULL ? (unsigned)strtoul(ns, NULL, 10) : 0;
	}
	*list_r = l;
	*n_r = rows.nrow;
	dir_rows_free(&rows);
	return 1;
}

void dir_domain_list_free(struct dir_domain_info *list, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(list[i].domain);
	free(list);
}

/* ---- accounts ---------------------------------------------------------- */

static const char sql_account_insert[] =
    "INSERT INTO `accounts` (`username`, `domain`, `password`, `quota`, `enabled`, `sendonly`)"
    " VALUES (?, ?, ?, ?, ?, ?)";
static const char sql_account_set_password[] =
    "UPDATE `accounts` SET `password` = ? WHERE `username` = ? AND `domain` = ?";
static const char sql_account_set_quota[] =
    "UPDATE `accounts` SET `quota` = ? WHERE `username` = ? AND `domain` = ?";
static const char sql_account_set_enabled[] =
    "UPDATE `accounts` SET `enabled` = ? WHERE `username` = ? AND `domain` = ?";
static const char sql_account_set_sendonly[] =
    "UPDATE `accounts` SET `sendonly` = ? WHERE `username` = ? AND `domain` = ?";
static const char sql_account_delete[] =
    "DELETE FROM `accounts` WHERE `username` = ? AND `domain` = ?";
static const char sql_account_list_all[] =
    "SELECT `username`, `domain`, `quota`, `enabled`, `sendonly` FROM `accounts`"
    " ORDER BY `domain`, `username`";
static const char sql_account_list_domain[] =
    "SELECT `username`, `domain`, `quota`, `enabled`, `sendonly` FROM `accounts`"
    " WHERE `domain` = ? ORDER BY `username`";

static int parse_address(struct dir *d, const char *address, bool catchall, char **local_r,
                         char **domain_r, const char **error_r)
{
	if (dir_address_parse(address, catchall, local_r, domain_r, error_r) < 0) {
		*error_r = dir_error(d, "invalid address '%s': %s", address, *error_r);
		return -1;
	}
	return 0;
}

int dir_account_add(struct dir *d, const char *address, const char *password_hash,
                    unsigned quota_mb, bool enabled, bool sendonly, const char **error_r)
{
	char *local, *dom;
	if (parse_address(d, address, false, &local, &dom, error_r) < 0)
		return 0;
	char quota[16];
	snprintf(quota, sizeof(quota), "%u", quota_mb);
	const char *p[] = {
	    local, dom, password_hash, quota, enabled ? "1" : "0", sendonly ? "1" : "0"};
	unsigned n = 0;
	int r = tx_begin(d, error_r);
	if (r < 0)
		goto out;
	r = need_domain(d, dom, error_r);
	if (r > 0 && count(d, sql_account_count, 2, p, &n, error_r) < 0)
		r = -1;
	if (r > 0 && n > 0) {
		*error_r = dir_error(d, "account %s@%s exists", local, dom);
		r = 0;
	}
	if (r > 0)
		r = write1(d, sql_account_insert, 6, p, "account exists", error_r);
	r = tx_end(d, r, error_r);
out:
	free(local);
	free(dom);
	return r;
}

/* account_update: sql sets one column to value for an existing account */
static int account_update(struct dir *d, const char *address, const char *sql, const char *value,
                          const char **error_r)
{
	char *local, *dom;
	if (parse_address(d, address, false, &local, &dom, error_r) < 0)
		return 0;
	const char *key[] = {local, dom};
	const char *p[] = {value, local, dom};
	unsigned n = 0;
	int r = tx_begin(d, error_r);
	if (r < 0)
		goto out;
	r = count(d, sql_account_count, 2, key, &n, error_r) < 0 ? -1 : 1;
	if (r > 0 && n == 0) {
		*error_r = dir_error(d, "no account %s@%s", local, dom);
		r = 0;
	}
	if (r > 0)
		r = write1(d, sql, value != NULL ? 3 : 2, value != NULL ? p : key,
		           "refused by the database", error_r);
	r = tx_end(d, r, error_r);
out:
	free(local);
	free(dom);
	return r;
}

int dir_account_set_password(struct dir *d, const char *address, const char *password_hash,
                             const char **error_r)
{
	return account_update(d, address, sql_account_set_password, password_hash, error_r);
}

int dir_account_set_quota(struct dir *d, const char *address, unsigned quota_mb,
                          const char **error_r)
{
	char quota[16];
	snprintf(quota, sizeof(quota), "%u", quota_mb);
	return account_update(d, address, sql_account_set_quota, quota, error_r);
}

int dir_account_set_enabled(struct dir *d, const char *address, bool enabled, const char **error_r)
{
	return account_update(d, address, sql_account_set_enabled, enabled ? "1" : "0", error_r);
}

int dir_account_set_sendonly(struct dir *d, const char *address, bool sendonly,
                             const char **error_r)
{
	return account_update(d, address, sql_account_set_sendonly, sendonly ? "1" : "0", error_r);
}

int dir_account_del(struct dir *d, const char *address, const char **error_r)
{
	return account_update(d, address, sql_account_delete, NULL, error_r);
}

int dir_account_list(struct dir *d, const char *domain, struct dir_account **list_r, unsigned *n_r,
                     const char **error_r)
{
	*list_r = NULL;
	*n_r = 0;
	char *dom = NULL;
	struct dir_rows rows;
	int r;
	if (domain != NULL) {
		if (dir_domain_check(domain, error_r) < 0) {
			*error_r = dir_error(d, "invalid domain '%s': %s", domain, *error_r);
			return 0;
		}
		dom = dir_lower(domain);
		r = need_domain(d, dom, error_r);
		const char *p[] = {dom};
		if (r > 0)
			r = dir_select(d, sql_account_list_domain, 1, p, &rows, error_r) < 0 ? -1
			                                                                     : 1;
	} else {
		r = dir_select(d, sql_account_list_all, 0, NULL, &rows, error_r) < 0 ? -1 : 1;
	}
	free(dom);
	if (r <= 0)
		return r;
	struct dir_account *l = xcalloc(rows.nrow ? rows.nrow : 1, sizeof(*l));
	for (unsigned i = 0; i < rows.nrow; i++) {
		const char *u = dir_rows_get(&rows, i, 0), *dm = dir_rows_get(&rows, i, 1);
		const char *en = dir_rows_get(&rows, i, 3), *so = dir_rows_get(&rows, i, 4);
		l[i].username = dir_lower(u != NULL ? u : "");
		l[i].domain = dir_lower(dm != NULL ? dm : "");
		l[i].quota_mb = dir_cell_uint(dir_rows_get(&rows, i, 2));
		l[i].enabled = dir_cell_bool(en);
		l[i].sendonly = dir_cell_bool(so);
	}
	*list_r = l;
	*n_r = rows.nrow;
	dir_rows_free(&rows);
	return 1;
}

void dir_account_list_free(struct dir_account *list, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		dir_account_clear(&list[i]);
	free(list);
}

/* ---- aliases ----------------------------------------------------------- */

static const char sql_alias_find[] =
    "SELECT `id` FROM `aliases` WHERE `source_username` = ? AND `source_domain` = ?"
    " AND `destination_username` = ? AND `destination_domain` = ?";
static const char sql_catchall_find[] =
    "SELECT `id` FROM `aliases` WHERE `source_username` IS NULL AND `source_domain` = ?"
    " AND `destination_username` = ? AND `destination_domain` = ?";
static const char sql_alias_insert[] =
    "INSERT INTO `aliases` (`source_username`, `source_domain`, `destination_username`,"
    " `destination_domain`, `enabled`) VALUES (?, ?, ?, ?, 1)";
static const char sql_alias_delete[] = "DELETE FROM `aliases` WHERE `id` = ?";
static const char sql_alias_set_enabled[] = "UPDATE `aliases` SET `enabled` = ? WHERE `id` = ?";
static const char sql_alias_list_all[] =
    "SELECT `source_username`, `source_domain`, `destination_username`, `destination_domain`,"
    " `enabled` FROM `aliases` ORDER BY `source_domain`, `source_username`, `id`";
static const char sql_alias_list_domain[] =
    "SELECT `source_username`, `source_domain`, `destination_username`, `destination_domain`,"
    " `enabled` FROM `aliases` WHERE `source_domain` = ? ORDER BY `source_username`, `id`";

struct alias_key {
	char *slocal; /* NULL: catch-all */
	char *sdomain;
	char *dlocal;
	char *ddomain;
};

static void alias_key_free(struct alias_key *k)
{
	free(k->slocal);
	free(k->sdomain);
	free(k->dlocal);
	free(k->ddomain);
}

static int alias_key_parse(struct dir *d, const char *source, const char *dest, struct alias_key *k,
                           const char **error_r)
{
	memset(k, 0, sizeof(*k));
	if (parse_address(d, source, true, &k->slocal, &k->sdomain, error_r) < 0)
		return -1;
	if (parse_address(d, dest, false, &k->dlocal, &k->ddomain, error_r) < 0) {
		alias_key_free(k);
		return -1;
	}
	return 0;
}

/* alias_find: the id of the row (malloc'd in *id_r) or NULL. 0 / -1 */
static int alias_find(struct dir *d, const struct alias_key *k, char **id_r, const char **error_r)
{
	*id_r = NULL;
	struct dir_rows rows;
	int r;
	if (k->slocal != NULL) {
		const char *p[] = {k->slocal, k->sdomain, k->dlocal, k->ddomain};
		r = dir_select(d, sql_alias_find, 4, p, &rows, error_r);
	} else {
		const char *p[] = {k->sdomain, k->dlocal, k->ddomain};
		r = dir_select(d, sql_catchall_find, 3, p, &rows, error_r);
	}
	if (r < 0)
		return -1;
	if (rows.nrow > 0 && dir_rows_get(&rows, 0, 0) != NULL)
		*id_r = xstrdup(dir_rows_get(&rows, 0, 0));
	dir_rows_free(&rows);
	return 0;
}

/* alias_name: "src@dom -> dst@dom", malloc'd */
static char *alias_name(const struct alias_key *k)
{
	return xasprintf("%s@%s -> %s@%s", k->slocal != NULL ? k->slocal : "", k->sdomain,
	                 k->dlocal, k->ddomain);
}

int dir_alias_add(struct dir *d, const char *source, const char *dest, const char **error_r)
{
	struct alias_key k;
	if (alias_key_parse(d, source, dest, &k, error_r) < 0)
		return 0;
	char *id = NULL;
	int r;
	if (k.slocal != NULL && strcmp(k.slocal, k.dlocal) == 0 &&
	    strcmp(k.sdomain, k.ddomain) == 0) {
		*error_r = dir_error(d, "an alias of %s@%s to itself", k.slocal, k.sdomain);
		r = 0;
		goto out;
	}
	r = tx_begin(d, error_r);
	if (r < 0)
		goto out;
	r = need_domain(d, k.sdomain, error_r);
	if (r > 0 && alias_find(d, &k, &id, error_r) < 0)
		r = -1;
	if (r > 0 && id != NULL) {
		char *name = alias_name(&k);
		*error_r = dir_error(d, "alias %s exists", name);
		free(name);
		r = 0;
	}
	if (r > 0) {
		const char *p[] = {k.slocal, k.sdomain, k.dlocal, k.ddomain};
		r = write1(d, sql_alias_insert, 4, p, "alias exists", error_r);
	}
	r = tx_end(d, r, error_r);
out:
	free(id);
	alias_key_free(&k);
	return r;
}

/* alias_change: sql (with the id last, value first when not NULL) on an
 * existing alias */
static int alias_change(struct dir *d, const char *source, const char *dest, const char *sql,
                        const char *value, const char **error_r)
{
	struct alias_key k;
	if (alias_key_parse(d, source, dest, &k, error_r) < 0)
		return 0;
	char *id = NULL;
	int r = tx_begin(d, error_r);
	if (r < 0)
		goto out;
	r = alias_find(d, &k, &id, error_r) < 0 ? -1 : 1;
	if (r > 0 && id == NULL) {
		char *name = alias_name(&k);
		*error_r = dir_error(d, "no alias %s", name);
		free(name);
		r = 0;
	}
	if (r > 0) {
		const char *pv[] = {value, id};
		const char *pi[] = {id};
		r = value != NULL ? write1(d, sql, 2, pv, "refused by the database", error_r)
		                  : write1(d, sql, 1, pi, "refused by the database", error_r);
	}
	r = tx_end(d, r, error_r);
out:
	free(id);
	alias_key_free(&k);
	return r;
}

int dir_alias_del(struct dir *d, const char *source, const char *dest, const char **error_r)
{
	return alias_change(d, source, dest, sql_alias_delete, NULL, error_r);
}

int dir_alias_set_enabled(struct dir *d, const char *source, const char *dest, bool enabled,
                          const char **error_r)
{
	return alias_change(d, source, dest, sql_alias_set_enabled, enabled ? "1" : "0", error_r);
}

int dir_alias_list(struct dir *d, const char *domain, struct dir_alias **list_r, unsigned *n_r,
                   const char **error_r)
{
	*list_r = NULL;
	*n_r = 0;
	struct dir_rows rows;
	int r;
	if (domain != NULL) {
		if (dir_domain_check(domain, error_r) < 0) {
			*error_r = dir_error(d, "invalid domain '%s': %s", domain, *error_r);
			return 0;
		}
		char *dom = dir_lower(domain);
		const char *p[] = {dom};
		r = need_domain(d, dom, error_r);
		if (r > 0)
			r = dir_select(d, sql_alias_list_domain, 1, p, &rows, error_r) < 0 ? -1 : 1;
		free(dom);
	} else {
		r = dir_select(d, sql_alias_list_all, 0, NULL, &rows, error_r) < 0 ? -1 : 1;
	}
	if (r <= 0)
		return r;
	struct dir_alias *l = xcalloc(rows.nrow ? rows.nrow : 1, sizeof(*l));
	for (unsigned i = 0; i < rows.nrow; i++) {
		const char *c[5];
		for (unsigned k = 0; k < 5; k++)
			c[k] = dir_rows_get(&rows, i, k);
		l[i].source_username = c[0] != NULL ? dir_lower(c[0]) : NULL;
		l[i].source_domain = dir_lower(c[1] != NULL ? c[1] : "");
		l[i].destination_username = dir_lower(c[2] != NULL ? c[2] : "");
		l[i].destination_domain = dir_lower(c[3] != NULL ? c[3] : "");
		l[i].enabled = dir_cell_bool(c[4]);
	}
	*list_r = l;
	*n_r = rows.nrow;
	dir_rows_free(&rows);
	return 1;
}

void dir_alias_clear(struct dir_alias *a)
{
	free(a->source_username);
	free(a->source_domain);
	free(a->destination_username);
	free(a->destination_domain);
	memset(a, 0, sizeof(*a));
}

void dir_alias_list_free(struct dir_alias *list, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		dir_alias_clear(&list[i]);
	free(list);
}

/* ---- TLS policies ------------------------------------------------------ */

static const char sql_tlspolicy_count[] = "SELECT COUNT(*) FROM `tlspolicies` WHERE `domain` = ?";
static const char sql_tlspolicy_insert[] =
    "INSERT INTO `tlspolicies` (`domain`, `policy`, `params`) VALUES (?, ?, ?)";
static const char sql_tlspolicy_update[] =
    "UPDATE `tlspolicies` SET `policy` = ?, `params` = ? WHERE `domain` = ?";
static const char sql_tlspolicy_delete[] = "DELETE FROM `tlspolicies` WHERE `domain` = ?";
static const char sql_tlspolicy_list[] =
    "SELECT `domain`, `policy`, `params` FROM `tlspolicies` ORDER BY `domain`";

int dir_tlspolicy_set(struct dir *d, const char *domain, const char *policy, const char *params,
                      const char **error_r)
{
	if (dir_domain_check(domain, error_r) < 0) {
		*error_r = dir_error(d, "invalid domain '%s': %s", domain, *error_r);
		return 0;
	}
	char *pol = dir_lower(policy);
	bool valid = dir_tlspolicy_valid(pol);
	free(pol);
	if (!valid) {
		*error_r = dir_error(d,
		                     "unknown TLS policy '%s' (none may encrypt dane dane-only "
		                     "fingerprint verify secure)",
		                     policy);
		return 0;
	}
	if (params != NULL && params[0] == '\0')
		params = NULL;
	if (params != NULL) {
		if (strlen(params) > DIR_PARAMS_MAX) {
			*error_r = "params longer than 255 octets";
			return 0;
		}
		for (const unsigned char *s = (const unsigned char *)params; *s != '\0'; s++) {
			if (*s < 0x20 || *s == 0x7f) {
				*error_r = "control character in params";
				return 0;
			}
		}
	}
	char *dom = dir_lower(domain);
	pol = dir_lower(policy);
	const char *key[] = {dom};
	unsigned n = 0;
	int r = tx_begin(d, error_r);
	if (r < 0)
		goto out;
	r = count(d, sql_tlspolicy_count, 1, key, &n, error_r) < 0 ? -1 : 1;
	if (r > 0 && n > 0) {
		const char *p[] = {pol, params, dom};
		r = write1(d, sql_tlspolicy_update, 3, p, "refused by the database", error_r);
	} else if (r > 0) {
		const char *p[] = {dom, pol, params};
		r = write1(d, sql_tlspolicy_insert, 3, p, "policy exists", error_r);
	}
	r = tx_end(d, r, error_r);
out:
	free(pol);
	free(dom);
	return r;
}

int dir_tlspolicy_del(struct dir *d, const char *domain, const char **error_r)
{
	if (dir_domain_check(domain, error_r) < 0) {
		*error_r = dir_error(d, "invalid domain '%s': %s", domain, *error_r);
		return 0;
	}
	char *dom = dir_lower(domain);
	const char *p[] = {dom};
	unsigned n = 0;
	int r = tx_begin(d, error_r);
	if (r < 0)
		goto out;
	r = count(d, sql_tlspolicy_count, 1, p, &n, error_r) < 0 ? -1 : 1;
	if (r > 0 && n == 0) {
		*error_r = dir_error(d, "no TLS policy for %s", dom);
		r = 0;
	}
	if (r > 0)
		r = write1(d, sql_tlspolicy_delete, 1, p, "refused by the database", error_r);
	r = tx_end(d, r, error_r);
out:
	free(dom);
	return r;
}

int dir_tlspolicy_list(struct dir *d, struct dir_tlspolicy **list_r, unsigned *n_r,
                       const char **error_r)
{
	*list_r = NULL;
	*n_r = 0;
	struct dir_rows rows;
	if (dir_select(d, sql_tlspolicy_list, 0, NULL, &rows, error_r) < 0)
		return -1;
	struct dir_tlspolicy *l = xcalloc(rows.nrow ? rows.nrow : 1, sizeof(*l));
	for (unsigned i = 0; i < rows.nrow; i++) {
		const char *dm = dir_rows_get(&rows, i, 0), *pol = dir_rows_get(&rows, i, 1);
		const char *par = dir_rows_get(&rows, i, 2);
		l[i].domain = dir_lower(dm != NULL ? dm : "");
		l[i].policy = xstrdup(pol != NULL ? pol : "");
		l[i].params = par != NULL ? xstrdup(par) : NULL;
	}
	*list_r = l;
	*n_r = rows.nrow;
	dir_rows_free(&rows);
	return 1;
}

void dir_tlspolicy_list_free(struct dir_tlspolicy *list, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		dir_tlspolicy_clear(&list[i]);
	free(list);
}
