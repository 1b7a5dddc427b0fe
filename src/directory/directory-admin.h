/*
 * directory-admin - the write side of the directory: what vmailctl (and
 * later the admin API) does to the guide's four tables.
 *
 * Owns: input checks (RFC 5321 address and domain syntax), the rules that
 * keep the tables consistent (a domain must exist before its accounts and
 * aliases; no duplicates, catch-all included, which UNIQUE cannot catch
 * because NULLs differ; deleting a domain with mail on it needs force),
 * and the schema. Open the struct dir as DIR_ADMIN; a DIR_READER handle
 * is refused by the database itself (read-only file, SELECT-only user).
 *
 * Inputs are what a person typed: every function checks syntax and
 * lower-cases addresses and domains before they reach the database.
 *
 * Return convention: 1 done; 0 refused (bad input, unknown domain,
 * duplicate, no such row) with a message for people in *error_r; -1
 * temporary failure (database down, permission denied, schema missing)
 * with the database's message. Messages stay valid until the next call
 * on the same struct dir. Each change is one transaction.
 */
#ifndef VMAILD_DIRECTORY_ADMIN_H
#define VMAILD_DIRECTORY_ADMIN_H

#include "directory/directory.h"

/* ---- syntax (no database) ---------------------------------------------- */

#define DIR_LOCAL_MAX   64  /* RFC 5321 4.5.3.1.1 */
#define DIR_DOMAIN_MAX  255 /* RFC 5321 4.5.3.1.2 */
#define DIR_ADDRESS_MAX 254 /* RFC 5321 path limit less the angle brackets */
#define DIR_PARAMS_MAX  255 /* tlspolicies.params */

/* dir_domain_check: a host name of LDH labels (1..63 octets, no hyphen
 * at either end, at least one letter or digit), at most 255 octets, no
 * trailing dot; A-labels (xn--) for IDNs. 0 / -1 with a static message. */
int dir_domain_check(const char *domain, const char **error_r);

/*
 * dir_address_parse: check a mailbox address local@domain (dot-atom local
 * part of RFC 5322 atext, at most 64 octets; dir_domain_check domain;
 * at most 254 octets) and return its lower-cased parts (malloc'd).
 * With allow_catchall, "@domain" is accepted and *local_r is NULL.
 * 0 / -1 with a static message.
 */
int dir_address_parse(const char *address, bool allow_catchall, char **local_r, char **domain_r,
                      const char **error_r);

/* ---- schema ------------------------------------------------------------ */

/* dir_schema_sql: the DDL of a driver ("mysql": the guide's CREATE TABLE
 * statements exactly; "sqlite": ours), as static text; NULL for an
 * unknown driver. */
const char *dir_schema_sql(const char *driver);

/* dir_admin_init: create the tables that are missing (an existing
 * database is left as it is); SQLite: create the file and switch it to
 * WAL. 1 / -1. */
int dir_admin_init(struct dir *d, const char **error_r);

/* ---- domains ----------------------------------------------------------- */

struct dir_domain_info {
	char *domain;
	unsigned accounts;
	unsigned aliases; /* rows with this source_domain, catch-all included */
};

int dir_domain_add(struct dir *d, const char *domain, const char **error_r);
/* dir_domain_del: refused while the domain has accounts or aliases unless
 * force, which deletes them with it (not the mail on disk). */
int dir_domain_del(struct dir *d, const char *domain, bool force, const char **error_r);
/* dir_domain_list: ordered by name. 1 / -1. */
int dir_domain_list(struct dir *d, struct dir_domain_info **list_r, unsigned *n_r,
                    const char **error_r);
void dir_domain_list_free(struct dir_domain_info *list, unsigned n);

/* ---- accounts ---------------------------------------------------------- */

/* dir_account_add: password_hash is the stored scheme string
 * (password_hash()); refused for an unknown domain or an existing
 * account. */
int dir_account_add(struct dir *d, const char *address, const char *password_hash,
                    unsigned quota_mb, bool enabled, bool sendonly, const char **error_r);
int dir_account_set_password(struct dir *d, const char *address, const char *password_hash,
                             const char **error_r);
int dir_account_set_quota(struct dir *d, const char *address, unsigned quota_mb,
                          const char **error_r);
int dir_account_set_enabled(struct dir *d, const char *address, bool enabled, const char **error_r);
int dir_account_set_sendonly(struct dir *d, const char *address, bool sendonly,
                             const char **error_r);
/* dir_account_del: the row only; aliases pointing to it and the mail on
 * disk stay. */
int dir_account_del(struct dir *d, const char *address, const char **error_r);
/* dir_account_list: the accounts of domain (NULL: all), ordered by
 * domain and name; the password member is NULL. 1 / 0 unknown domain /
 * -1. */
int dir_account_list(struct dir *d, const char *domain, struct dir_account **list_r, unsigned *n_r,
                     const char **error_r);
void dir_account_list_free(struct dir_account *list, unsigned n);

/* ---- aliases ----------------------------------------------------------- */

struct dir_alias {
	char *source_username; /* NULL: the catch-all of source_domain */
	char *source_domain;
	char *destination_username;
	char *destination_domain;
	bool enabled;
};

/* dir_alias_add: source is local@domain, or @domain for the catch-all,
 * in one of our domains; dest any valid address (it may be remote).
 * Created enabled. */
int dir_alias_add(struct dir *d, const char *source, const char *dest, const char **error_r);
int dir_alias_del(struct dir *d, const char *source, const char *dest, const char **error_r);
int dir_alias_set_enabled(struct dir *d, const char *source, const char *dest, bool enabled,
                          const char **error_r);
/* dir_alias_list: aliases whose source is in domain (NULL: all), catch-all
 * first, then by source and id. 1 / 0 unknown domain / -1. */
int dir_alias_list(struct dir *d, const char *domain, struct dir_alias **list_r, unsigned *n_r,
                   const char **error_r);
void dir_alias_clear(struct dir_alias *a);
void dir_alias_list_free(struct dir_alias *list, unsigned n);

/* ---- TLS policies ------------------------------------------------------ */

/* dir_tlspolicy_set: insert or replace the policy of a (remote) domain;
 * params NULL or "" leaves the column NULL. */
int dir_tlspolicy_set(struct dir *d, const char *domain, const char *policy, const char *params,
                      const char **error_r);
int dir_tlspolicy_del(struct dir *d, const char *domain, const char **error_r);
/* dir_tlspolicy_list: ordered by domain. 1 / -1. */
int dir_tlspolicy_list(struct dir *d, struct dir_tlspolicy **list_r, unsigned *n_r,
                       const char **error_r);
void dir_tlspolicy_list_free(struct dir_tlspolicy *list, unsigned n);

#endif
