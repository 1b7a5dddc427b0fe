/*
 * mbox - one opened IMAP mailbox over a Dovecot 2.3 Maildir (LAYOUT=fs),
 * with vmaild's own index for MODSEQs, expunge history and a per-message
 * cache. ("mbox" means mailbox here, not the mbox file format.)
 *
 * Owns: <mailbox>/vmaild.index, vmaild.index.lock and vmaild.cache
 * (format, crash safety and locking: docs/storage.md, "IMAP index"), the
 * per-session view of a mailbox (sequence numbers, what the session has
 * been told), flag changes by renaming files in cur/, expunge, append,
 * copy and move. UIDs come from dovecot-uidlist (uidlist.h), keyword
 * letters from dovecot-keywords (keywords.h), quota is kept in
 * maildirsize (quota.h). Dovecot's dovecot.index* files are never touched.
 *
 * Model: struct mbox is one session's view of one mailbox: an array of
 * messages in ascending UID order; message i has sequence number i + 1.
 * mbox_sync() reads the Maildir and the index and updates the view:
 * messages gone are only *marked* expunged (they keep their sequence
 * numbers) until mbox_view_apply_expunges(), since IMAP forbids EXPUNGE
 * responses during FETCH, STORE and SEARCH; new messages are added at the
 * end; messages whose flags changed (by another session or process, or by
 * a rename behind our back) are marked changed until mbox_view_changes()
 * has reported them and mbox_view_changes_done() was called. The
 * session's own STORE does not mark a message changed (the caller answers
 * with the new flags it gets back); its own EXPUNGE marks them expunged
 * like any other.
 *
 * \Recent: a message is \Recent only in the session that moves its file
 * from new/ to cur/, which every non-read-only session does at sync for
 * all files it finds in new/ (rename(2) lets exactly one win). A read-only
 * (EXAMINE) session moves nothing and sees no \Recent.
 *
 * MODSEQ: one counter per mailbox (HIGHESTMODSEQ), raised by one for every
 * message whose flags or keywords change (by us or detected from a rename),
 * for every new message, and once for each batch of expunges. A rebuilt
 * index starts above any value handed out before (see docs/storage.md).
 *
 * Threads: blocking; one struct mbox is used by one thread at a time;
 * different struct mbox (also of one mailbox, in any process) may be used
 * at once. Return convention and error texts as in store.h (0 / -1, or
 * 1 / 0 / -1 where stated).
 */
#ifndef VMAILD_STORE_MBOX_H
#define VMAILD_STORE_MBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"
#include "store/quota.h"

#define MBOX_INDEX_FILE "vmaild.index"
#define MBOX_CACHE_FILE "vmaild.cache"
#define MBOX_LOCK_FILE  "vmaild.index.lock"

/* Message flags (bit set). MBOX_F_RECENT is never stored. */
enum mbox_flag {
	MBOX_F_SEEN = 1 << 0,     /* \Seen     'S' */
	MBOX_F_ANSWERED = 1 << 1, /* \Answered 'R' */
	MBOX_F_FLAGGED = 1 << 2,  /* \Flagged  'F' */
	MBOX_F_DELETED = 1 << 3,  /* \Deleted  'T' */
	MBOX_F_DRAFT = 1 << 4,    /* \Draft    'D' */
	MBOX_F_PASSED = 1 << 5,   /* Maildir 'P': kept, no IMAP flag */
	MBOX_F_RECENT = 1 << 7,   /* \Recent (this session only) */
};
#define MBOX_F_STORABLE                                                                            \
	(MBOX_F_SEEN | MBOX_F_ANSWERED | MBOX_F_FLAGGED | MBOX_F_DELETED | MBOX_F_DRAFT)

struct mbox_settings {
	/* EXAMINE, STATUS, or the target of APPEND / COPY that the session
	 * has not selected: no new/ -> cur/ moves, so no \Recent is taken from
	 * the session that selects it. Writes are not refused (the IMAP layer
	 * refuses STORE / EXPUNGE in EXAMINE). */
	bool read_only;
	struct quota_limits quota;  /* of the user (maildirsize in root) */
	unsigned max_messages;      /* more files in the mailbox is an error; 0: none */
	unsigned lock_timeout_secs; /* uidlist and index locks; 0: Dovecot's 122 s */
};

/* One message of the view. Read-only for callers. */
struct mbox_msg {
	uint32_t uid;
	uint8_t flags;     /* enum mbox_flag */
	uint32_t keywords; /* bit i: keyword letter 'a' + i (mbox_keyword_name) */
	uint64_t modseq;
	uint64_t size;     /* bytes of the file */
	uint64_t vsize;    /* RFC822.SIZE: with CRLF line ends */
	int64_t idate;     /* INTERNALDATE: the file's mtime */
	int64_t save_date; /* when vmaild first indexed (or saved) it */
	char *file;        /* current name in cur/ or new/ (with ":2,...") */
	bool in_cur;
	bool expunged; /* gone; keeps its sequence number until apply_expunges */
	bool changed;  /* flags changed since last reported */
	/* private */
	uint64_t cache_off;
};

struct mbox;

/*
 * mbox_open: open the mailbox directory mailbox_dir (root for INBOX, see
 * store_mailbox_path) of the Maildir root (which holds maildirsize and
 * dovecot-uidvalidity), and sync it once (mbox_sync). The mailbox must
 * exist (cur/ present). set is copied.
 */
int mbox_open(const char *root, const char *mailbox_dir, const struct mbox_settings *set,
              struct mbox **mb_r, const char **error_r);
/* mbox_close: write pending cache references and free everything. */
void mbox_close(struct mbox **mb);

/*
 * mbox_sync: bring the view up to date: new files get UIDs
 * (uidlist_sync), renames by others become flag changes with a new
 * MODSEQ, vanished files expunges, new/ files are moved to cur/ (not
 * read-only) and \Recent here. The index is updated under its lock.
 */
int mbox_sync(struct mbox *mb, const char **error_r);

/* The view: count includes messages marked expunged. */
unsigned mbox_count(const struct mbox *mb);
/* mbox_msg: message of sequence number seq (1-based), NULL out of range. */
const struct mbox_msg *mbox_msg(const struct mbox *mb, uint32_t seq);
/* mbox_seq_of_uid: the sequence number of uid, 0 when not in the view. */
uint32_t mbox_seq_of_uid(const struct mbox *mb, uint32_t uid);
/* mbox_path: full path of a message's file (malloc'd); open it with
 * mbox_open_msg which follows a rename by someone else. */
char *mbox_path(const struct mbox *mb, const struct mbox_msg *m);
/* mbox_open_msg: open the message file for reading (O_RDONLY); when it
 * was renamed meanwhile it is found again by its base name. 1 opened,
 * *fd_r set; 0 the message is gone; -1 error. */
int mbox_open_msg(struct mbox *mb, uint32_t seq, int *fd_r, const char **error_r);
/* mbox_keyword_name: the name of keyword bit (0..25), NULL when none (a
 * letter in a file name that dovecot-keywords does not name: skip it).
 * Names are those read at the last sync or STORE (dovecot-keywords). */
const char *mbox_keyword_name(const struct mbox *mb, unsigned bit);
/* mbox_keyword_bit: the bit of a keyword name (any case), -1 unknown. */
int mbox_keyword_bit(const struct mbox *mb, const char *name);
/* mbox_dir: the mailbox directory. */
const char *mbox_dir(const struct mbox *mb);
/* mbox_exists: mailbox_dir is a selectable mailbox (has cur/); mbox_open
 * of anything else fails. */
bool mbox_exists(const char *mailbox_dir);

struct mbox_status {
	uint32_t messages;     /* not counting those marked expunged */
	uint32_t recent;       /* this session's \Recent; mbox_status(): files in new/ */
	uint32_t unseen;       /* messages without \Seen */
	uint32_t first_unseen; /* sequence number of the first, 0 none */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highest_modseq;
	uint64_t size; /* sum of vsize (STATUS SIZE) */
};

/* mbox_get_status: of the view (after the last sync). */
void mbox_get_status(const struct mbox *mb, struct mbox_status *st_r);
/* mbox_status: of a mailbox that is not selected: a read-only sync of
 * the index (one readdir, no message file opened unless new). */
int mbox_status(const char *root, const char *mailbox_dir, struct mbox_status *st_r,
                const char **error_r);

/* ---- change tracking ---- */

struct mbox_changes {
	/* Expunges not yet applied, as (seq, uid) in the order EXPUNGE
	 * responses must be sent: descending sequence numbers, so each one is
	 * still right after the ones before have been sent. */
	uint32_t *expunged_seqs;
	uint32_t *expunged_uids;
	unsigned expunged_count;
	unsigned exists;        /* mbox_count(): what EXISTS says now */
	unsigned new_count;     /* messages added since the last report */
	unsigned recent;        /* \Recent in this session */
	uint32_t *changed_seqs; /* flags changed (not expunged ones), ascending */
	unsigned changed_count;
	uint64_t highest_modseq;
	/* dovecot-uidlist was started afresh (UIDs lost): the view was
	 * rebuilt under the new UIDs; the session must end (BYE), as RFC 3501
	 * requires. */
	bool uidvalidity_changed;
};

/* mbox_view_changes: what changed since the last mbox_view_changes_done
 * (malloc'd arrays; free with mbox_changes_free). */
void mbox_view_changes(struct mbox *mb, struct mbox_changes *ch_r);
/* mbox_view_changes_done: the new count and changed flags have been
 * reported (clears changed marks; expunges stay until applied). */
void mbox_view_changes_done(struct mbox *mb);
void mbox_changes_free(struct mbox_changes *ch);
/* mbox_view_apply_expunges: drop the messages marked expunged from the
 * view; their (seq, uid) pairs as in mbox_changes (NULL allowed; the
 * arrays are malloc'd). Returns the number dropped. */
unsigned mbox_view_apply_expunges(struct mbox *mb, uint32_t **seqs_r, uint32_t **uids_r);

/* ---- flags ---- */

enum mbox_store_mode { MBOX_STORE_SET, MBOX_STORE_ADD, MBOX_STORE_REMOVE };

struct mbox_store_req {
	enum mbox_store_mode mode;
	uint8_t flags;               /* MBOX_F_STORABLE bits */
	const char *const *keywords; /* names; NULL or count 0: none */
	unsigned keyword_count;
	bool unchanged_since_set; /* CONDSTORE UNCHANGEDSINCE */
	uint64_t unchanged_since;
};

struct mbox_store_result {
	uint32_t *failed_uids; /* UNCHANGEDSINCE failures (MODIFIED), ascending */
	unsigned failed_count;
	uint32_t *updated_seqs; /* messages whose flags changed */
	unsigned updated_count;
};

/*
 * mbox_store: change flags and keywords of the messages with the given
 * sequence numbers (of the view; expunged ones are skipped). New keyword
 * names get letters in dovecot-keywords first (under the uidlist lock);
 * -1 when all 26 letters are taken or a name is not keywords_name_ok().
 * Files are renamed in cur/ (new/ ones moved there); a file renamed by
 * someone else meanwhile is found again by its base name and the change
 * is applied to its current flags. Each changed message gets a new MODSEQ
 * (see the view entry afterwards). With UNCHANGEDSINCE, a message whose
 * MODSEQ is higher is left alone and listed in failed_uids.
 */
int mbox_store(struct mbox *mb, const uint32_t *seqs, unsigned n, const struct mbox_store_req *req,
               struct mbox_store_result *res_r, const char **error_r);
void mbox_store_result_free(struct mbox_store_result *res);

/* ---- expunge ---- */

/*
 * mbox_expunge: unlink the files of the view's messages flagged \Deleted
 * (only those whose UID is in uids[0..nuids) when uids != NULL: UID
 * EXPUNGE), subtract them from maildirsize, record them in the index with
 * a new MODSEQ and mark them expunged in the view (apply with
 * mbox_view_apply_expunges). *uids_r (malloc'd, ascending) lists them.
 */
int mbox_expunge(struct mbox *mb, const uint32_t *uids, unsigned nuids, uint32_t **uids_r,
                 unsigned *count_r, const char **error_r);

/*
 * mbox_expunged_since: for QRESYNC / VANISHED (EARLIER): the UIDs among
 * uids[0..n) (NULL: every UID below UIDNEXT is a candidate, then only
 * recorded ones are returned) that were expunged with a MODSEQ above
 * modseq. When the index does not remember that far back, every
 * candidate that does not exist now is returned (allowed by RFC 7162).
 * *out_r is malloc'd, ascending.
 */
int mbox_expunged_since(struct mbox *mb, uint64_t modseq, const uint32_t *uids, unsigned n,
                        uint32_t **out_r, unsigned *count_r, const char **error_r);

/* ---- append, copy, move ---- */

struct mbox_append_req {
	int fd;           /* read to EOF; -1: use data */
	const void *data; /* with len */
	size_t len;
	uint8_t flags; /* MBOX_F_STORABLE bits */
	const char *const *keywords;
	unsigned keyword_count;
	int64_t idate;     /* INTERNALDATE; 0: now */
	uint64_t max_size; /* refuse bigger messages; 0: no limit */
};

enum mbox_append_status {
	MBOX_APPEND_OK,
	MBOX_APPEND_TOO_BIG, /* over max_size: NO [TOOBIG] */
	MBOX_APPEND_QUOTA,   /* NO [OVERQUOTA] */
};

/*
 * mbox_append: write the message to tmp/, fsync, set its mtime to idate,
 * link it into cur/ (new/ when it has no flags and keywords, as a
 * delivery), add it to maildirsize and give it its UID at once
 * (uidlist_sync). *uid_r for APPENDUID; the view sees it at the next
 * mbox_sync. -1 only for errors (*status_r then unset).
 */
int mbox_append(struct mbox *mb, const struct mbox_append_req *req,
                enum mbox_append_status *status_r, uint32_t *uid_r, const char **error_r);

/*
 * mbox_copy: hard-link (copy when linking is impossible) the messages
 * seqs[0..n) of src into dst, keeping flags (not \Recent) and keywords
 * (letters translated to dst's dovecot-keywords) and internal dates; quota
 * checked for the whole set first (1: done; 0: over quota, nothing
 * copied). src_uids_r / dst_uids_r (malloc'd, *count_r entries, source
 * UID order) give COPYUID. Expunged messages are skipped.
 */
int mbox_copy(struct mbox *src, const uint32_t *seqs, unsigned n, struct mbox *dst,
              uint32_t **src_uids_r, uint32_t **dst_uids_r, unsigned *count_r,
              const char **error_r);
/* mbox_move: mbox_copy, then the source messages are expunged (without
 * needing \Deleted) and marked so in src's view. On -1 after the copy
 * (the expunge failed) the copies stay and the outputs are freed. */
int mbox_move(struct mbox *src, const uint32_t *seqs, unsigned n, struct mbox *dst,
              uint32_t **src_uids_r, uint32_t **dst_uids_r, unsigned *count_r,
              const char **error_r);

/* ---- per-message cache ---- */

#define MBOX_CACHE_FIELD_MAX 64
#define MBOX_CACHE_DATA_MAX  (16u * 1024 * 1024)

/*
 * mbox_cache_get: the data stored for (message seq, field) into out
 * (appended). 1 found; 0 not cached (or the cache was damaged). field is
 * a short name ("envelope", "bodystructure", "hdr:SUBJECT"...).
 */
int mbox_cache_get(struct mbox *mb, uint32_t seq, const char *field, struct buf *out);
/* mbox_cache_put: store data for (seq, field); it must never change for
 * that message (it describes the message's bytes). Kept across sessions
 * once the index is next written (sync or close). */
int mbox_cache_put(struct mbox *mb, uint32_t seq, const char *field, const void *data, size_t len,
                   const char **error_r);

/* ---- mailbox management (mbox-list.c) ---- */

struct mbox_list_entry {
	char *name;        /* "A/B" relative to root (as stored: modified UTF-7) */
	bool has_children; /* some directory below is a folder or holds one */
	bool noselect;     /* a directory without cur/ (kept for children) */
};

/*
 * mbox_list: every folder below root (not INBOX itself), depth first in
 * name order, at most max_entries (0: 10000) and STORE_MAILBOX_MAX_DEPTH
 * levels; cur/ new/ tmp/ and dot entries skipped, symlinks not followed.
 * A directory without cur/ that has folders below it is listed \Noselect.
 */
int mbox_list(const char *root, unsigned max_entries, struct mbox_list_entry **entries_r,
              unsigned *count_r, const char **error_r);
void mbox_list_free(struct mbox_list_entry *entries, unsigned count);

/* mbox_create: create folder name (not INBOX) below root with cur/ new/
 * tmp/; 0 created, -1 error (also when it exists: *exists_r true). */
int mbox_create(const char *root, const char *name, bool *exists_r, const char **error_r);

/*
 * mbox_delete: delete folder name: its messages (subtracted from the
 * quota), Maildir directories and our and Dovecot's metadata files; the
 * directory itself too unless it has sub-folders (then it stays as a
 * \Noselect parent, as Dovecot does with LAYOUT=fs). -1 for INBOX or a
 * missing folder.
 */
int mbox_delete(const char *root, const char *name, const struct quota_limits *quota,
                const char **error_r);

/*
 * mbox_rename: rename(2) folder from to to (parents of to created); to
 * must not exist. from = INBOX: create to and move every message of INBOX
 * into it (RFC 3501), INBOX stays, empty.
 */
int mbox_rename(const char *root, const char *from, const char *to, const char **error_r);

/* ---- index file (mbox-index.c), exposed for tests and the fuzzer ---- */

struct mbox_index_rec {
	uint32_t uid;
	uint8_t flags;
	uint32_t keywords;
	uint64_t modseq;
	uint64_t size, vsize;
	int64_t idate, save_date;
	uint64_t cache_off;
};

struct mbox_index_exp {
	uint32_t uid_first, uid_last;
	uint64_t modseq;
};

struct mbox_index {
	uint32_t uidvalidity;
	uint32_t next_uid;
	uint64_t highest_modseq;
	uint64_t modseq_floor;       /* expunges with MODSEQ below this are forgotten */
	uint64_t cache_id;           /* identifies vmaild.cache; 0 none */
	struct mbox_index_rec *recs; /* ascending UIDs */
	unsigned count, cap;
	struct mbox_index_exp *exps; /* ascending modseq */
	unsigned exp_count, exp_cap;
};

void mbox_index_init(struct mbox_index *ix);
void mbox_index_free(struct mbox_index *ix);
/* mbox_index_parse: -1 (*error_r says why, ix empty) on any damage. Any
 * input is safe. */
int mbox_index_parse(const void *data, size_t len, struct mbox_index *ix, const char **error_r);
/* mbox_index_format: the file for ix into out (appended). */
void mbox_index_format(const struct mbox_index *ix, struct buf *out);

#endif
