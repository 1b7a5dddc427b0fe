/*
 * subscriptions - the IMAP subscriptions of a user in Dovecot 2.3's
 * <root>/subscriptions file (LAYOUT=fs: ~/mail/subscriptions).
 *
 * Owns: reading the file and subscribing / unsubscribing one name with
 * a locked read-modify-replace, as Dovecot's subscription-file does.
 *
 * Format (version 2, what Dovecot 2.x writes): the header "V\t2\n\n",
 * then one mailbox per line, its hierarchy levels separated by a TAB
 * instead of '/' and each level escaped with \001: \001 -> "\0011",
 * TAB -> "\001t", CR -> "\001r", LF -> "\001n" (and "\0010" for NUL,
 * read only). A file without that exact header is the old form
 * (version 0): one name per line, '/' as it is. Names are stored as IMAP
 * sends them (modified UTF-7: "Entw&APw-rfe"); "INBOX" in any case is
 * "INBOX". Empty lines are no names; a last line without its line end
 * counts (Dovecot reads partial lines here). Subscriptions need not name
 * an existing mailbox.
 *
 * Writing: the lock is subscriptions.lock (dotlock.h, no pid inside:
 * Dovecot waits 120 s and breaks it after 30 s unchanged); the file is
 * read under it, every other line is copied unchanged, the name is
 * appended or its line left out, and the lock file is fsynced and renamed
 * over the file. A new file is written as version 2.
 *
 * Limits: a file over SUBSCRIPTIONS_MAX_SIZE bytes, a line over
 * SUBSCRIPTIONS_LINE_MAX bytes (Dovecot's mailbox name limit) or a NUL
 * byte is refused with -1. Threads: as store.h. Return convention as in
 * store.h.
 */
#ifndef VMAILD_STORE_SUBSCRIPTIONS_H
#define VMAILD_STORE_SUBSCRIPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

#define SUBSCRIPTIONS_FILE              "subscriptions"
#define SUBSCRIPTIONS_MAX_SIZE          (4u * 1024 * 1024)
#define SUBSCRIPTIONS_LINE_MAX          4096u
#define SUBSCRIPTIONS_LOCK_TIMEOUT_SECS 120
#define SUBSCRIPTIONS_LOCK_STALE_SECS   30

struct subscriptions {
	unsigned version; /* 2, or 0 for the old form */
	char **names;     /* '/'-separated mailbox names, in file order */
	unsigned count;

	/* private */
	char **lines; /* the file's lines (after the header) as they are */
	unsigned nlines, cap_lines, cap_names;
};

void subscriptions_init(struct subscriptions *subs);
void subscriptions_free(struct subscriptions *subs);

/* subscriptions_parse: the file's bytes into subs (emptied first). -1
 * only for the refusals above (subs then empty). Any input is safe. */
int subscriptions_parse(const char *data, size_t len, struct subscriptions *subs,
                        const char **error_r);

/* subscriptions_read: <root>/subscriptions. 1 read; 0 no file (subs
 * empty, version 2); -1 error. */
int subscriptions_read(const char *root, struct subscriptions *subs, const char **error_r);

/* subscriptions_has: name is subscribed (INBOX: in any case, on either side). */
bool subscriptions_has(const struct subscriptions *subs, const char *name);

/* subscriptions_format: the file's contents for subs (its version and
 * lines) into out (appended). */
void subscriptions_format(const struct subscriptions *subs, struct buf *out);

/*
 * subscriptions_set: subscribe (or unsubscribe) name under <root>, with
 * the lock held for lock_timeout_secs at most (SUBSCRIPTIONS_LOCK_TIMEOUT_
 * SECS is Dovecot's). 1: the file changed; 0: nothing to do (already so);
 * -1: error, the lock was busy too long, or name is empty, longer than
 * SUBSCRIPTIONS_LINE_MAX or holds a control character.
 */
int subscriptions_set(const char *root, const char *name, bool subscribe,
                      unsigned lock_timeout_secs, const char **error_r);

#endif
