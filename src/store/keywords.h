/*
 * keywords - Dovecot's dovecot-keywords: which IMAP keyword each of the
 * letters 'a'..'z' in a Maildir file name's flags (":2,Sab") stands for.
 *
 * Owns: the file <mailbox>/dovecot-keywords (INBOX: <root>/...), one per
 * Maildir. Lines are "<index> <name>\n" with index 0..25 for 'a'..'z', in
 * index order; at most 26 keywords fit, as in Dovecot (more live only in
 * its index, which vmaild does not write).
 *
 * Reading is as lenient as Dovecot's: a line without a space, with an
 * index that is not a number below 26, or with an empty name is skipped;
 * a later line for the same index replaces an earlier one; a last line
 * without its line end is ignored. Names are compared without regard to
 * case; a name listed twice maps to the letter of its later line.
 * Refused (-1): a file over KEYWORDS_MAX_SIZE bytes, a line over
 * KEYWORDS_LINE_MAX bytes, NUL bytes.
 *
 * Writing needs the mailbox's uidlist lock (uidlist_lock()), which is
 * what serialises Dovecot's writers too: a leftover dovecot-keywords.lock
 * is removed, the contents are written into a new one, its mtime is moved
 * past the old file's (Dovecot re-reads the file when its mtime changes),
 * and it is fsynced and renamed over dovecot-keywords.
 *
 * Threads: as store.h. Return convention as in store.h.
 */
#ifndef VMAILD_STORE_KEYWORDS_H
#define VMAILD_STORE_KEYWORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/buf.h"
#include "store/dotlock.h"

#define KEYWORDS_FILE     "dovecot-keywords"
#define KEYWORDS_MAX      26
#define KEYWORDS_MAX_SIZE (64u * 1024)
#define KEYWORDS_LINE_MAX 4096u
#define KEYWORDS_NAME_MAX 250u /* for keywords_add() */

struct keywords {
	char *names[KEYWORDS_MAX]; /* names[i] is letter 'a' + i; NULL: free */
	time_t mtime;              /* of the file read; 0 when none */

	/* private */
	unsigned line[KEYWORDS_MAX]; /* line each name came from */
};

/* keywords_init: no keywords. keywords_free: back to that. */
void keywords_init(struct keywords *kw);
void keywords_free(struct keywords *kw);

/* keywords_parse: the file's bytes into kw (emptied first). -1 only for
 * the refusals above; kw is then empty. Any input is safe. */
int keywords_parse(const char *data, size_t len, struct keywords *kw, const char **error_r);

/* keywords_read: <mailbox>/dovecot-keywords into kw. 1 read; 0 no file
 * (kw empty); -1 error. */
int keywords_read(const char *mailbox, struct keywords *kw, const char **error_r);

/* keywords_name: the keyword of letter 'a'..'z', NULL when it has none
 * (or letter is no keyword letter). */
const char *keywords_name(const struct keywords *kw, char letter);

/* keywords_letter: the letter of name (any case), '\0' when unknown. */
char keywords_letter(const struct keywords *kw, const char *name);

/* keywords_name_ok: an IMAP flag-keyword: 1 to KEYWORDS_NAME_MAX
 * characters of 0x21..0x7e without ( ) { % * " \ ] */
bool keywords_name_ok(const char *name);

/*
 * keywords_add: the letter for name in *letter_r: 0 when it has one
 * already; 1 when it got the first free letter (kw changed: write it with
 * keywords_write()); -1 when all 26 are taken or the name is not
 * keywords_name_ok().
 */
int keywords_add(struct keywords *kw, const char *name, char *letter_r, const char **error_r);

/* keywords_format: the file's contents for kw into out (appended). */
void keywords_format(const struct keywords *kw, struct buf *out);

/*
 * keywords_write: replace <mailbox>/dovecot-keywords with kw (see above).
 * uidlist_lock must be this mailbox's uidlist lock, held (and kw read
 * under it, so that no keyword of another writer is lost). kw->mtime
 * becomes the new file's mtime.
 */
int keywords_write(const char *mailbox, struct keywords *kw, const struct dotlock *uidlist_lock,
                   const char **error_r);

#endif
