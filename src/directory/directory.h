/*
 * directory - the guide's four tables: domains, accounts, aliases,
 * tlspolicies, on SQLite (embedded) or MariaDB.
 *
 * Owns: one connection (struct dir) and the guide's lookup semantics.
 * A struct dir is not thread-safe: the lookup process gives each of its
 * threads its own. The daemon opens it as DIR_READER (SELECT only, with
 * [directory] user/password); vmailctl as DIR_ADMIN (admin_user). Every
 * statement is prepared; no value is ever pasted into SQL text.
 *
 * A connection that fails is retried on the next call; no call waits
 * longer than [directory] timeout. Errors are temporary failures: the
 * caller answers 4xx / NO [UNAVAILABLE], never "unknown user".
 *
 * Return convention of lookups: 1 found, 0 not found, -1 temporary failure
 * with a static or connection-owned message in *error_r (valid until the
 * next call on the same struct dir). Strings handed out are malloc'd and
 * owned by the result struct, freed by its _clear().
 *
 * Addresses compare case-insensitively: inputs are lower-cased before the
 * query, and rows are stored lower-case by vmailctl.
 */
#ifndef VMAILD_DIRECTORY_H
#define VMAILD_DIRECTORY_H

#include <stdbool.h>

#include "core/config.h"

enum dir_role { DIR_READER, DIR_ADMIN };

struct dir;

/* dir_open: never fails for a database that is down (connects lazily);
 * NULL only for an unusable configuration (unknown driver). */
struct dir *dir_open(const struct config_directory *cfg, enum dir_role role,
		     const char **error_r);
void dir_close(struct dir **d);
/* dir_ping: connect if needed and check the schema is there. 0 / -1. */
int dir_ping(struct dir *d, const char **error_r);

struct dir_account {
	char *username; /* local part, lower-case */
	char *domain;
	char *password; /* scheme string as stored */
	unsigned quota_mb; /* 0 = unlimited */
	bool enabled;
	bool sendonly;
};
void dir_account_clear(struct dir_account *a);

/* dir_domain_exists: 1 / 0 / -1 */
int dir_domain_exists(struct dir *d, const char *domain, const char **error_r);
/* dir_account_get: the row whatever its enabled/sendonly state. 1 / 0 / -1 */
int dir_account_get(struct dir *d, const char *username, const char *domain,
		    struct dir_account *a_r, const char **error_r);

enum dir_rcpt_kind {
	DIR_RCPT_ACCOUNT,  /* an enabled account that may receive */
	DIR_RCPT_ALIAS,	   /* explicit alias: dest[] */
	DIR_RCPT_CATCHALL, /* catch-all of the domain: dest[] */
	DIR_RCPT_SENDONLY, /* enabled sendonly account: reject (guide's recipient-access) */
	DIR_RCPT_DISABLED, /* account exists but is disabled: reject as unknown */
	DIR_RCPT_UNKNOWN,  /* our domain, no such address */
	DIR_RCPT_NODOMAIN, /* not one of our domains */
};
const char *dir_rcpt_kind_name(enum dir_rcpt_kind k);

struct dir_rcpt {
	enum dir_rcpt_kind kind;
	char *address;		    /* what matched, lower-case, tag stripped if that matched */
	struct dir_account account; /* ACCOUNT, SENDONLY, DISABLED */
	char **dest;		    /* ALIAS, CATCHALL: destination addresses, lower-case */
	unsigned ndest;
};
void dir_rcpt_clear(struct dir_rcpt *r);

/*
 * dir_resolve_rcpt: what the guide's Postfix maps make of a recipient.
 * Order: the domain must exist; then for the full local part and, when
 * it holds the delimiter, for the part before it: an account (any state)
 * wins; else the enabled explicit aliases of that local part. Last, the
 * catch-all (source_username IS NULL). One level only: destinations are
 * not resolved again. 0 (r_r filled) / -1 temporary failure.
 * A syntactically invalid address (no '@', empty parts) is UNKNOWN.
 */
int dir_resolve_rcpt(struct dir *d, const char *address, const char *delimiter,
		     struct dir_rcpt *r_r, const char **error_r);

/*
 * dir_may_send_as: may the account `login` (an address) use `address` as
 * sender? Yes when address is login itself (enabled account), or an
 * enabled explicit alias whose destination is login (the guide's
 * sender-login-maps); the tag after the delimiter is ignored.
 * 1 yes / 0 no / -1 temporary failure.
 */
int dir_may_send_as(struct dir *d, const char *login, const char *address,
		    const char *delimiter, const char **error_r);

struct dir_tlspolicy {
	char *domain;
	char *policy; /* none may encrypt dane dane-only fingerprint verify secure */
	char *params; /* NULL when the column is NULL */
};
void dir_tlspolicy_clear(struct dir_tlspolicy *p);
/* dir_tlspolicy_get: 1 / 0 / -1 */
int dir_tlspolicy_get(struct dir *d, const char *domain, struct dir_tlspolicy *p_r,
		      const char **error_r);
bool dir_tlspolicy_valid(const char *policy);

/* Administration (vmailctl): see directory-admin.h. */

#endif
