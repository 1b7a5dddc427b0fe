/*
 * directory.c - the read side of the directory: opening a connection
 * and the guide's lookup semantics, written once over the drivers.
 *
 * What the guide's Postfix maps and Dovecot queries do, and what we do:
 *   domains.cf           dir_domain_exists
 *   accounts.cf          dir_resolve_rcpt -> ACCOUNT (enabled, any sendonly)
 *   recipient-access.cf  dir_resolve_rcpt -> SENDONLY (REJECT)
 *   aliases.cf           dir_resolve_rcpt -> ALIAS / CATCHALL; unlike the
 *                        guide's SQL (which returns the explicit alias and
 *                        the catch-all together) an explicit alias wins,
 *                        as the guide's text says
 *   sender-login-maps.cf dir_may_send_as
 *   tls-policy.cf        dir_tlspolicy_get
 *   password_query       dir_account_get (the caller checks enabled)
 * Every statement is prepared; values travel as parameters only.
 */
#include "directory/directory-private.h"
#include "core/xalloc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- results ---------------------------------------------------------- */

void dir_rows_free(struct dir_rows *rows)
{
	size_t n = (size_t)rows->nrow * rows->ncol;
	for (size_t i = 0; i < n; i++)
		free(rows->cell[i]);
	free(rows->cell);
	memset(rows, 0, sizeof(*rows));
}

char **dir_rows_add_row(struct dir_rows *rows)
{
	size_t n = (size_t)(rows->nrow + 1) * rows->ncol;
	rows->cell = xreallocarray(rows->cell, n ? n : 1, sizeof(char *));
	char **row = rows->cell + (size_t)rows->nrow * rows->ncol;
	memset(row, 0, rows->ncol * sizeof(char *));
	rows->nrow++;
	return row;
}

const char *dir_error(struct dir *d, const char *fmt, ...)
{
	/* formatted aside first: an argument may be the previous message */
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vappendf(&b, fmt, ap);
	va_end(ap);
	buf_free(&d->err);
	d->err = b;
	return buf_cstr(&d->err);
}

char *dir_lower(const char *s)
{
	char *r = xstrdup(s);
	for (char *p = r; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return r;
}

/* ---- connection ------------------------------------------------------- */

struct dir *dir_open(const struct config_directory *cfg, enum dir_role role, const char **error_r)
{
	const struct dir_driver *drv;
	if (strcmp(cfg->driver, "sqlite") == 0)
		drv = &dir_driver_sqlite;
	else if (strcmp(cfg->driver, "mysql") == 0 || strcmp(cfg->driver, "mariadb") == 0)
		drv = &dir_driver_mysql;
	else {
		*error_r = "unknown [directory] driver (sqlite or mysql)";
		return NULL;
	}
	struct dir *d = xcalloc(1, sizeof(*d));
	d->drv = drv;
	d->role = role;
	d->path = xstrdup(cfg->path ? cfg->path : "");
	d->host = xstrdup(cfg->host ? cfg->host : "");
	d->port = cfg->port;
	d->socket = xstrdup(cfg->socket ? cfg->socket : "");
	d->database = xstrdup(cfg->database ? cfg->database : "");
	d->endpoint =
	    d->host[0] != '\0' ? xasprintf("%s:%u", d->host, d->port) : xstrdup(d->socket);
	bool admin = role == DIR_ADMIN && cfg->admin_user != NULL && cfg->admin_user[0] != '\0';
	d->user = xstrdup(admin ? cfg->admin_user : cfg->user ? cfg->user : "");
	d->password = xstrdup(admin           ? (cfg->admin_password ? cfg->admin_password : "")
	                      : cfg->password ? cfg->password
	                                      : "");
	d->timeout = cfg->timeout > 0 ? cfg->timeout : 1;
	return d;
}

void dir_close(struct dir **dp)
{
	struct dir *d = *dp;
	if (d == NULL)
		return;
	*dp = NULL;
	d->drv->disconnect(d);
	free(d->path);
	free(d->host);
	free(d->socket);
	free(d->endpoint);
	free(d->database);
	if (d->password != NULL)
		explicit_bzero(d->password, strlen(d->password));
	free(d->user);
	free(d->password);
	buf_free(&d->err);
	free(d);
}

int dir_ensure_connected(struct dir *d, const char **error_r)
{
	if (d->conn != NULL)
		return 0;
	return d->drv->connect(d, error_r);
}

int dir_select(struct dir *d, const char *sql, unsigned nparam, const char *const *param,
               struct dir_rows *rows_r, const char **error_r)
{
	memset(rows_r, 0, sizeof(*rows_r));
	bool fresh = d->conn == NULL;
	if (dir_ensure_connected(d, error_r) < 0)
		return -1;
	int r = d->drv->query(d, sql, nparam, param, rows_r, NULL, error_r);
	if (r == DIR_Q_LOST && !fresh && !d->in_tx) {
		/* the server went away since the last call: one new try */
		dir_rows_free(rows_r);
		if (dir_ensure_connected(d, error_r) < 0)
			return -1;
		r = d->drv->query(d, sql, nparam, param, rows_r, NULL, error_r);
	}
	if (r != DIR_Q_OK) {
		dir_rows_free(rows_r);
		return -1;
	}
	return 0;
}

int dir_write(struct dir *d, const char *sql, unsigned nparam, const char *const *param,
              uint64_t *changes_r, const char **error_r)
{
	if (dir_ensure_connected(d, error_r) < 0)
		return DIR_Q_TEMP;
	int r = d->drv->query(d, sql, nparam, param, NULL, changes_r, error_r);
	return r == DIR_Q_LOST ? DIR_Q_TEMP : r;
}

/* Every column of the guide's four tables: a missing table or column
 * fails the prepare. LIMIT 0 reads no row. */
static const char sql_ping[] =
    "SELECT d.`id`, d.`domain`, a.`id`, a.`username`, a.`domain`, a.`password`, a.`quota`,"
    " a.`enabled`, a.`sendonly`, s.`id`, s.`source_username`, s.`source_domain`,"
    " s.`destination_username`, s.`destination_domain`, s.`enabled`, t.`id`, t.`domain`,"
    " t.`policy`, t.`params`"
    " FROM `domains` d, `accounts` a, `aliases` s, `tlspolicies` t LIMIT 0";

int dir_ping(struct dir *d, const char **error_r)
{
	struct dir_rows rows;
	if (dir_select(d, sql_ping, 0, NULL, &rows, error_r) < 0)
		return -1;
	dir_rows_free(&rows);
	return 0;
}

/* ---- clears ----------------------------------------------------------- */

void dir_account_clear(struct dir_account *a)
{
	free(a->username);
	free(a->domain);
	if (a->password != NULL)
		explicit_bzero(a->password, strlen(a->password));
	free(a->password);
	memset(a, 0, sizeof(*a));
}

void dir_rcpt_clear(struct dir_rcpt *r)
{
	free(r->address);
	dir_account_clear(&r->account);
	for (unsigned i = 0; i < r->ndest; i++)
		free(r->dest[i]);
	free(r->dest);
	memset(r, 0, sizeof(*r));
}

void dir_tlspolicy_clear(struct dir_tlspolicy *p)
{
	free(p->domain);
	free(p->policy);
	free(p->params);
	memset(p, 0, sizeof(*p));
}

const char *dir_rcpt_kind_name(enum dir_rcpt_kind k)
{
	switch (k) {
	case DIR_RCPT_ACCOUNT:
		return "account";
	case DIR_RCPT_ALIAS:
		return "alias";
	case DIR_RCPT_CATCHALL:
		return "catchall";
	case DIR_RCPT_SENDONLY:
		return "sendonly";
	case DIR_RCPT_DISABLED:
		return "disabled";
	case DIR_RCPT_UNKNOWN:
		return "unknown";
	case DIR_RCPT_NODOMAIN:
		return "nodomain";
	}
	return "?";
}

/* ---- lookups ---------------------------------------------------------- */

static const char sql_domain_exists[] = "SELECT `domain` FROM `domains` WHERE `domain` = ?";

static const char sql_account_get[] =
    "SELECT `username`, `domain`, `password`, `quota`, `enabled`, `sendonly`"
    " FROM `accounts` WHERE `username` = ? AND `domain` = ? LIMIT 1";

/* aliases.cf without the catch-all half; ordered so that a distribution
 * list keeps the order it was written in */
static const char sql_alias_dest[] =
    "SELECT `destination_username`, `destination_domain` FROM `aliases`"
    " WHERE `source_username` = ? AND `source_domain` = ? AND `enabled` = 1 ORDER BY `id`";

static const char sql_catchall_dest[] =
    "SELECT `destination_username`, `destination_domain` FROM `aliases`"
    " WHERE `source_username` IS NULL AND `source_domain` = ? AND `enabled` = 1 ORDER BY `id`";

static const char sql_tlspolicy_get[] =
    "SELECT `domain`, `policy`, `params` FROM `tlspolicies` WHERE `domain` = ?";

bool dir_cell_bool(const char *s)
{
	/* booleans come back as "1"/"0" (MariaDB tinyint, SQLite integer) */
	return s != NULL && strtoul(s, NULL, 10) != 0;
}

unsigned dir_cell_uint(const char *s)
{
	if (s == NULL || *s == '-')
		return 0;
	unsigned long v = strtoul(s, NULL, 10);
	return v > 0xffffffffUL ? 0xffffffffU : (unsigned)v;
}

int dir_domain_exists(struct dir *d, const char *domain, const char **error_r)
{
	char *dom = dir_lower(domain);
	const char *p[] = {dom};
	struct dir_rows rows;
	int r = dir_select(d, sql_domain_exists, 1, p, &rows, error_r);
	free(dom);
	if (r < 0)
		return -1;
	r = rows.nrow > 0 ? 1 : 0;
	dir_rows_free(&rows);
	return r;
}

int dir_account_get(struct dir *d, const char *username, const char *domain,
                    struct dir_account *a_r, const char **error_r)
{
	memset(a_r, 0, sizeof(*a_r));
	char *user = dir_lower(username), *dom = dir_lower(domain);
	const char *p[] = {user, dom};
	struct dir_rows rows;
	int r = dir_select(d, sql_account_get, 2, p, &rows, error_r);
	free(user);
	free(dom);
	if (r < 0)
		return -1;
	if (rows.nrow == 0) {
		dir_rows_free(&rows);
		return 0;
	}
	const char *u = dir_rows_get(&rows, 0, 0), *dm = dir_rows_get(&rows, 0, 1);
	const char *pw = dir_rows_get(&rows, 0, 2);
	a_r->username = dir_lower(u != NULL ? u : "");
	a_r->domain = dir_lower(dm != NULL ? dm : "");
	a_r->password = xstrdup(pw != NULL ? pw : "");
	a_r->quota_mb = dir_cell_uint(dir_rows_get(&rows, 0, 3));
	a_r->enabled = dir_cell_bool(dir_rows_get(&rows, 0, 4));
	a_r->sendonly = dir_cell_bool(dir_rows_get(&rows, 0, 5));
	dir_rows_free(&rows);
	return 1;
}

/* alias_dests: the enabled destinations of local@domain (local NULL: the
 * catch-all), lower-case, without duplicates. 0 / -1. */
static int alias_dests(struct dir *d, const char *local, const char *domain, char ***dest_r,
                       unsigned *n_r, const char **error_r)
{
	*dest_r = NULL;
	*n_r = 0;
	struct dir_rows rows;
	int r;
	if (local != NULL) {
		const char *p[] = {local, domain};
		r = dir_select(d, sql_alias_dest, 2, p, &rows, error_r);
	} else {
		const char *p[] = {domain};
		r = dir_select(d, sql_catchall_dest, 1, p, &rows, error_r);
	}
	if (r < 0)
		return -1;
	char **dest = rows.nrow > 0 ? xcalloc(rows.nrow, sizeof(char *)) : NULL;
	unsigned n = 0;
	for (unsigned i = 0; i < rows.nrow; i++) {
		const char *u = dir_rows_get(&rows, i, 0), *dm = dir_rows_get(&rows, i, 1);
		char *a = xasprintf("%s@%s", u != NULL ? u : "", dm != NULL ? dm : "");
		char *lower = dir_lower(a);
		free(a);
		bool dup = false;
		for (unsigned k = 0; k < n && !dup; k++)
			dup = strcmp(dest[k], lower) == 0;
		if (dup)
			free(lower);
		else
			dest[n++] = lower;
	}
	dir_rows_free(&rows);
	*dest_r = dest;
	*n_r = n;
	return 0;
}

/* split_address: lower-cased local part and domain of address at its
 * last '@'; false when either is empty. */
static bool split_address(const char *address, char **local_r, char **domain_r)
{
	const char *at = strrchr(address, '@');
	if (at == NULL || at == address || at[1] == '\0')
		return false;
	char *l = xstrndup(address, (size_t)(at - address));
	*local_r = dir_lower(l);
	free(l);
	*domain_r = dir_lower(at + 1);
	return true;
}

/* strip_tag: the local part before the first delimiter character, or
 * NULL when there is none (or nothing before it). */
static char *strip_tag(const char *local, const char *delimiter)
{
	if (delimiter == NULL || delimiter[0] == '\0')
		return NULL;
	size_t n = strcspn(local, delimiter);
	if (local[n] == '\0' || n == 0)
		return NULL;
	return xstrndup(local, n);
}

/* resolve_local: account, then explicit aliases, for one local part.
 * 1 matched (r_r filled but for address), 0 nothing, -1. */
static int resolve_local(struct dir *d, const char *local, const char *domain, struct dir_rcpt *r_r,
                         const char **error_r)
{
	int r = dir_account_get(d, local, domain, &r_r->account, error_r);
	if (r < 0)
		return -1;
	if (r > 0) {
		if (!r_r->account.enabled)
			r_r->kind = DIR_RCPT_DISABLED;
		else if (r_r->account.sendonly)
			r_r->kind = DIR_RCPT_SENDONLY;
		else
			r_r->kind = DIR_RCPT_ACCOUNT;
		return 1;
	}
	if (alias_dests(d, local, domain, &r_r->dest, &r_r->ndest, error_r) < 0)
		return -1;
	if (r_r->ndest > 0) {
		r_r->kind = DIR_RCPT_ALIAS;
		return 1;
	}
	return 0;
}

int dir_resolve_rcpt(struct dir *d, const char *address, const char *delimiter,
                     struct dir_rcpt *r_r, const char **error_r)
{
	memset(r_r, 0, sizeof(*r_r));
	char *local = NULL, *domain = NULL;
	if (!split_address(address, &local, &domain)) {
		r_r->kind = DIR_RCPT_UNKNOWN;
		r_r->address = dir_lower(address);
		return 0;
	}
	int ret = -1;
	char *base = NULL;
	int r = dir_domain_exists(d, domain, error_r);
	if (r < 0)
		goto out;
	if (r == 0) {
		r_r->kind = DIR_RCPT_NODOMAIN;
		r_r->address = xasprintf("%s@%s", local, domain);
		ret = 0;
		goto out;
	}
	r = resolve_local(d, local, domain, r_r, error_r);
	if (r < 0)
		goto out;
	if (r > 0) {
		r_r->address = xasprintf("%s@%s", local, domain);
		ret = 0;
		goto out;
	}
	base = strip_tag(local, delimiter);
	if (base != NULL) {
		r = resolve_local(d, base, domain, r_r, error_r);
		if (r < 0)
			goto out;
		if (r > 0) {
			r_r->address = xasprintf("%s@%s", base, domain);
			ret = 0;
			goto out;
		}
	}
	if (alias_dests(d, NULL, domain, &r_r->dest, &r_r->ndest, error_r) < 0)
		goto out;
	if (r_r->ndest > 0) {
		r_r->kind = DIR_RCPT_CATCHALL;
		r_r->address = xasprintf("@%s", domain);
	} else {
		r_r->kind = DIR_RCPT_UNKNOWN;
		r_r->address = xasprintf("%s@%s", local, domain);
	}
	ret = 0;
out:
	if (ret < 0)
		dir_rcpt_clear(r_r);
	free(base);
	free(local);
	free(domain);
	return ret;
}

/* owns: does login own local@domain by the guide's sender-login-maps
 * (the address is login's own enabled account, or an enabled explicit
 * alias of it points to login)? 1 / 0 / -1 */
static int owns(struct dir *d, const char *login, const char *local, const char *domain,
                const char **error_r)
{
	char *addr = xasprintf("%s@%s", local, domain);
	bool self = strcmp(addr, login) == 0;
	free(addr);
	if (self) {
		struct dir_account a;
		int r = dir_account_get(d, local, domain, &a, error_r);
		if (r < 0)
			return -1;
		bool ok = r > 0 && a.enabled;
		dir_account_clear(&a);
		if (ok)
			return 1;
	}
	char **dest;
	unsigned n;
	if (alias_dests(d, local, domain, &dest, &n, error_r) < 0)
		return -1;
	int found = 0;
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(dest[i], login) == 0)
			found = 1;
		free(dest[i]);
	}
	free(dest);
	return found;
}

int dir_may_send_as(struct dir *d, const char *login, const char *address, const char *delimiter,
                    const char **error_r)
{
	char *local = NULL, *domain = NULL;
	if (!split_address(address, &local, &domain))
		return 0;
	char *lg = dir_lower(login);
	int r = owns(d, lg, local, domain, error_r);
	if (r == 0) {
		char *base = strip_tag(local, delimiter);
		if (base != NULL)
			r = owns(d, lg, base, domain, error_r);
		free(base);
	}
	free(lg);
	free(local);
	free(domain);
	return r;
}

static const char *const tls_policies[] = {
    "none", "may", "encrypt", "dane", "dane-only", "fingerprint", "verify", "secure",
};

bool dir_tlspolicy_valid(const char *policy)
{
	if (policy == NULL)
		return false;
	for (size_t i = 0; i < sizeof(tls_policies) / sizeof(tls_policies[0]); i++)
		if (strcmp(policy, tls_policies[i]) == 0)
			return true;
	return false;
}

int dir_tlspolicy_get(struct dir *d, const char *domain, struct dir_tlspolicy *p_r,
                      const char **error_r)
{
	memset(p_r, 0, sizeof(*p_r));
	char *dom = dir_lower(domain);
	const char *p[] = {dom};
	struct dir_rows rows;
	int r = dir_select(d, sql_tlspolicy_get, 1, p, &rows, error_r);
	free(dom);
	if (r < 0)
		return -1;
	if (rows.nrow == 0) {
		dir_rows_free(&rows);
		return 0;
	}
	const char *dm = dir_rows_get(&rows, 0, 0), *pol = dir_rows_get(&rows, 0, 1);
	const char *par = dir_rows_get(&rows, 0, 2);
	p_r->domain = dir_lower(dm != NULL ? dm : "");
	p_r->policy = dir_lower(pol != NULL ? pol : "");
	p_r->params = par != NULL ? xstrdup(par) : NULL;
	dir_rows_free(&rows);
	return 1;
}
