/*
 * store - the mail store: Maildir (Dovecot LAYOUT=fs) and its Maildir++
 * quota file, shared on disk with Dovecot 2.3.
 *
 * Owns: everything below the configured mail_home: where a user's mail
 * lives (this file), how a message is delivered and listed (maildir.h),
 * how usage is counted (quota.h). Layout, names and durability rules are
 * documented in docs/storage.md.
 *
 * Paths: mail_home is expanded with %d (domain), %n (local part),
 * %u (local@domain) and %%. A local part or domain that is empty, longer
 * than 255 bytes, holds '/', '\\' or a control character, or starts with
 * '.' (which covers "." and "..") is refused, so a hostile address can
 * never name a path outside its own home. The Maildir root (INBOX) is
 * <home>/<location>; folder "Foo/Bar" is <root>/Foo/Bar with its own
 * cur/ new/ tmp/.
 *
 * Threads: every function here and in maildir.h / quota.h is blocking and
 * thread-safe; state is on the stack or behind a lock. Meant to be called
 * from a worker's thread pool, never from an event loop.
 *
 * Return convention: 0 / -1 (or 1 / 0 / -1 where stated). *error_r then
 * points to a message in thread-local storage that stays valid until the
 * fourth following store call that fails in the same thread; copy it to
 * keep it.
 */
#ifndef VMAILD_STORE_H
#define VMAILD_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"

/* Folders nest at most this deep; a name part is at most NAME_MAX bytes. */
#define STORE_MAILBOX_MAX_DEPTH 16

/* One user's mail locations, all malloc'd, freed by store_user_deinit. */
struct store_user {
	char *home; /* expanded mail_home */
	char *root; /* the Maildir root: INBOX, maildirsize, folders below */
	char *base; /* static prefix of mail_home: must exist, never created */
};

/*
 * store_name_is_safe: true when s may stand for %n or %d in a path (see
 * the rule above).
 */
bool store_name_is_safe(const char *s);

/*
 * store_expand: expand tmpl with %d, %n, %u and %%; any other '%'
 * sequence is an error. local and domain must pass store_name_is_safe().
 * On success *path_r is malloc'd.
 */
int store_expand(const char *tmpl, const char *local, const char *domain, char **path_r,
                 const char **error_r);

/*
 * store_static_prefix: the part of tmpl that no variable changes, cut
 * back to a whole directory: "/var/vmail/mailboxes/%d/%n" gives
 * "/var/vmail/mailboxes". A template without '%' gives its parent
 * directory. malloc'd.
 */
char *store_static_prefix(const char *tmpl);

/*
 * store_user_init: the locations of local@domain under the [mail] home
 * and location settings. location is relative to home ("mail", "~/mail",
 * "" or "~" for home itself) or an absolute template. Nothing is touched
 * on disk.
 */
int store_user_init(struct store_user *user, const struct config_mail *mail, const char *local,
                    const char *domain, const char **error_r);
void store_user_deinit(struct store_user *user);

/*
 * store_mailbox_path: the directory of mailbox name below root. "INBOX"
 * (any case) is root itself; other names use '/' as the hierarchy
 * separator and are taken as stored on disk (IMAP's modified UTF-7).
 * Refused: empty parts, parts starting with '.', "cur", "new", "tmp",
 * control characters and '\\', more than STORE_MAILBOX_MAX_DEPTH levels.
 * *path_r is malloc'd.
 */
int store_mailbox_path(const char *root, const char *name, char **path_r, const char **error_r);

/*
 * store_mkdirs: create every missing directory of path below base with
 * mode 0700, fsyncing the parent of each one created so that the new
 * entry is durable. base itself must exist and path must lie below it
 * (or equal it).
 */
int store_mkdirs(const char *base, const char *path, const char **error_r);

#include "store/maildir.h"
#include "store/quota.h"
#include "store/uidlist.h"
#include "store/keywords.h"
#include "store/subscriptions.h"

#endif
