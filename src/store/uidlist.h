/*
 * uidlist - IMAP UIDs of a Maildir in Dovecot 2.3's dovecot-uidlist, so
 * that vmaild and Dovecot give every message the same UID and a user can
 * switch between them in either direction.
 *
 * Owns: the file <mailbox>/dovecot-uidlist (INBOX: <root>/dovecot-uidlist),
 * its lock dovecot-uidlist.lock, the assignment of UIDs to new message
 * files, and the allocation of UIDVALIDITY values through
 * <root>/dovecot-uidvalidity. Format and rules: docs/storage.md, section
 * "IMAP metadata".
 *
 * The file (version 3, what Dovecot 1.1 and later write):
 *   3 V<uidvalidity> N<next uid> G<mailbox guid: 32 hex digits>[ <other>...]
 *   <uid>[ <ext>...] :<base name>
 * where <ext> is an upper-case key letter and a value (W<vsize>,
 * S<size>, G<guid>, P<pop3 uidl>, O<pop3 order>) and <base name> is the
 * message file's name up to its first ':' (flags change the rest).
 * UIDs ascend strictly. The header's N may lag behind: Dovecot appends new
 * lines without rewriting it, so the next UID is the larger of N and the
 * highest UID listed plus one. Version 1 ("1 <uidvalidity> <next uid>",
 * lines "<uid> <name>", Courier's courierimapuiddb) is read too and
 * rewritten as version 3. A last line without its line end is being
 * appended by someone and is ignored. Unknown header fields and every
 * record's extension fields are kept when the file is rewritten;
 * extension fields with an invalid key are dropped and a base name listed
 * again under a higher UID moves to that UID, as Dovecot does (ul->dirty
 * then asks for a rewrite).
 *
 * Writers hold the lock (dotlock.h: "<pid>:<host>", stale after 120 s
 * unchanged, waited for 122 s, Dovecot's values). New lines are appended
 * to the file; anything else replaces it through dovecot-uidlist.tmp and
 * rename(). Readers need no lock. New files get UIDs in Dovecot's order:
 * by the seconds at the start of the name, then the microseconds of its
 * "M<usecs>" part, then the name itself (uidlist_name_cmp).
 *
 * Limits: a file over UIDLIST_MAX_SIZE bytes or with a line over
 * UIDLIST_LINE_MAX bytes is refused. Every malformed file gives -1 and a
 * message naming the line. Threads: as store.h. Return convention as in
 * store.h.
 */
#ifndef VMAILD_STORE_UIDLIST_H
#define VMAILD_STORE_UIDLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "store/dotlock.h"

#define UIDLIST_FILE              "dovecot-uidlist"
#define UIDVALIDITY_FILE          "dovecot-uidvalidity"
#define UIDLIST_LOCK_STALE_SECS   120
#define UIDLIST_LOCK_TIMEOUT_SECS (UIDLIST_LOCK_STALE_SECS + 2)
#define UIDLIST_MAX_SIZE          (64u * 1024 * 1024)
#define UIDLIST_LINE_MAX          (64u * 1024)
#define UIDLIST_GUID_LEN          32

struct uidlist_rec {
	uint32_t uid;
	char *name; /* the base name (up to the first ':'), never empty */
	char *ext;  /* extension fields as stored ("W2481 G..."); NULL: none */
	/* Set by uidlist_sync(), NULL / false otherwise: */
	char *file;  /* the name in new/ or cur/ now (with ":2,<flags>") */
	bool in_cur; /* file is in cur/ (else new/) */
};

struct uidlist {
	unsigned version;                /* as read (1 or 3); 3 once written */
	uint32_t uidvalidity;            /* 0 only in an empty, never read list */
	uint32_t next_uid;               /* >= 1 and above every UID listed */
	char guid[UIDLIST_GUID_LEN + 1]; /* lower-case hex; "" when the file had none */
	char *hdr_ext;                   /* other header fields, verbatim; NULL: none */
	struct uidlist_rec *recs;        /* ascending UIDs */
	unsigned count;
	bool dirty; /* reading dropped or moved something: rewrite it */

	/* private */
	unsigned cap;
	uint32_t *hash; /* record index + 1 by base name; 0: free */
	unsigned hash_size;
};

/* uidlist_init: an empty list (no UIDVALIDITY, next UID 1). */
void uidlist_init(struct uidlist *ul);
/* uidlist_free: release everything; ul is empty (initialized) again. */
void uidlist_free(struct uidlist *ul);

/*
 * uidlist_parse: the file's bytes (at most UIDLIST_MAX_SIZE of them) into
 * ul, which is emptied first. -1 on anything Dovecot would call broken
 * (empty file, bad version or header, a record that is not "<uid> ...:",
 * UIDs not ascending or too high, '/' in a name) and on NUL bytes, too
 * long lines or too large input; ul is then empty and *error_r names the
 * line. Any input is safe.
 */
int uidlist_parse(const char *data, size_t len, struct uidlist *ul, const char **error_r);

/* uidlist_read: parse <mailbox>/dovecot-uidlist. 1 read; 0 there is no
 * such file (ul empty); -1 error. */
int uidlist_read(const char *mailbox, struct uidlist *ul, const char **error_r);

/* uidlist_format: the whole file (version 3) for ul into out (appended).
 * ul must have a UIDVALIDITY and a GUID. */
void uidlist_format(const struct uidlist *ul, struct buf *out);

/* uidlist_lookup_uid: the record of uid, or NULL. */
const struct uidlist_rec *uidlist_lookup_uid(const struct uidlist *ul, uint32_t uid);
/* uidlist_lookup_name: the record of a file name (compared up to its
 * first ':', so "x:2,S" finds "x"), or NULL. */
const struct uidlist_rec *uidlist_lookup_name(const struct uidlist *ul, const char *name);

/* uidlist_name_ok: a message file name that can be listed: its base is
 * not empty and it holds no '/', CR, LF or NUL (Dovecot skips those). */
bool uidlist_name_ok(const char *name);

/*
 * uidlist_add: give the file name (its base is stored) the next UID.
 * -1 when the name is not uidlist_name_ok(), already listed, or the UIDs
 * are used up (4294967294 is the last one).
 */
int uidlist_add(struct uidlist *ul, const char *name, uint32_t *uid_r, const char **error_r);

/* uidlist_name_cmp: Dovecot's order for new files (see above): < 0, 0,
 * > 0 as strcmp. */
int uidlist_name_cmp(const char *a, const char *b);

/* uidlist_guid_generate: 32 random lower-case hex digits and a NUL. */
void uidlist_guid_generate(char out[UIDLIST_GUID_LEN + 1]);

/*
 * uidlist_lock: take <mailbox>/dovecot-uidlist.lock with Dovecot's
 * settings, waiting at most timeout_secs (UIDLIST_LOCK_TIMEOUT_SECS is
 * Dovecot's). 1 locked; 0 timed out; -1 error. Release with
 * dotlock_release(); keep a long hold fresh with dotlock_touch().
 * Writing dovecot-keywords also needs this lock.
 */
int uidlist_lock(const char *mailbox, unsigned timeout_secs, struct dotlock **lock_r,
                 const char **error_r);

/*
 * uidlist_write: replace <mailbox>/dovecot-uidlist with ul: written to
 * dovecot-uidlist.tmp, fdatasynced, renamed over the file while lock (the
 * uidlist lock) is still ours, and the directory fsynced. A missing GUID
 * is generated first; ul->uidvalidity must be set. ul->version becomes 3
 * and ul->dirty false.
 */
int uidlist_write(const char *mailbox, struct uidlist *ul, const struct dotlock *lock,
                  const char **error_r);

/*
 * uidlist_uidvalidity_next: a new UIDVALIDITY, unique in this user's
 * tree, as Dovecot allocates it: <root>/dovecot-uidvalidity holds the
 * last value (8 hex digits) and an empty file dovecot-uidvalidity.<hex>
 * names it too; the next value is taken by moving that file to the value
 * plus one, which only one process can win (vmaild never replaces an
 * existing name there, so even two first allocations at once cannot hand
 * out one value twice). Without those files the first value is the
 * current time.
 */
int uidlist_uidvalidity_next(const char *root, uint32_t *uidvalidity_r, const char **error_r);

struct uidlist_sync_settings {
	unsigned lock_timeout_secs; /* waiting for the lock */
	bool drop_missing;          /* forget records whose file is gone (expunged) */
	unsigned max_messages;      /* more files is an error; 0: no limit */
};

/*
 * uidlist_sync: bring the mailbox's uidlist up to date with new/ and cur/
 * and read it into ul (emptied first): under the lock, read the file,
 * list the message files, give every file not yet listed the next UID
 * (in uidlist_name_cmp order), optionally drop records of vanished files,
 * and write the result (appending when only lines were added). A file
 * Dovecot too would call broken is renamed to dovecot-uidlist.broken and
 * the list restarted with a new UIDVALIDITY, since its UIDs are lost (as
 * for a missing one); a file over our limits (size, line length) is an
 * error and left alone. A new UIDVALIDITY comes from uidlist_uidvalidity_next(
 * root). Every record then has its current file name (or NULL).
 * set NULL: Dovecot's lock timeout, records kept, no limit.
 * 1: done, *added_r files got UIDs; 0: the lock was busy for the whole
 * timeout: ul holds the file as it is (empty, UIDVALIDITY 0, when there
 * is none) and nothing was added (*error_r says so); -1: error.
 */
int uidlist_sync(const char *root, const char *mailbox, const struct uidlist_sync_settings *set,
                 struct uidlist *ul, unsigned *added_r, const char **error_r);

#endif
