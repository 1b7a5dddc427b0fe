/*
 * mbox-private - what the files of the mailbox engine (mbox.c,
 * mbox-index.c, mbox-ops.c, mbox-list.c) share: struct mbox, the index
 * lock and file I/O, the index refresh. Not for other modules.
 */
#ifndef VMAILD_STORE_MBOX_PRIVATE_H
#define VMAILD_STORE_MBOX_PRIVATE_H

#include "store/keywords.h"
#include "store/maildir.h"
#include "store/mbox.h"
#include "store/uidlist.h"

#include <sys/types.h>
#include <time.h>

struct mbox {
	char *root, *dir;
	struct mbox_settings set;

	/* Shared state as last read or written under the index lock. */
	struct mbox_index ix;
	uint64_t ix_generation; /* of the file ix came from; 0: none */
	bool ix_loaded;
	bool ix_damaged;   /* the last load found a damaged file */
	struct uidlist ul; /* from the last uidlist_sync: current file names */
	struct keywords kw;
	/* cur/, new/ and dovecot-uidlist as they were just before the last
	 * listing: when nothing changed since (and the change times are old
	 * enough to be trusted), a sync needs no new listing. */
	struct mbox_dirstamp {
		struct timespec cur, new, ul;
		off_t ul_size;
		ino_t ul_ino;
		time_t taken;
		bool valid;
	} stamp;

	/* UIDs this session moved from new/ to cur/ (\Recent), ascending,
	 * not yet taken into the view. */
	uint32_t *recent_new;
	unsigned recent_new_count, recent_new_cap;

	/* The view. */
	struct mbox_msg *msgs;
	unsigned count, cap;
	unsigned reported_count; /* count at the last mbox_view_changes_done */
	bool uidvalidity_changed;

	/* Cache. */
	int cache_fd;
	uint64_t cache_id;  /* of cache_fd's file */
	bool cache_pending; /* view cache_off values not yet in the index */
	unsigned cache_puts;

	int lock_fd; /* held index lock, -1 none */
};

/* Index lock (flock on vmaild.index.lock; threads and processes). */
int mbox_lock(struct mbox *mb, const char **error_r);
void mbox_unlock(struct mbox *mb);

/* Under the lock: make mb->ix the file's contents (re-read only when its
 * generation changed). A missing or damaged file leaves ix empty with
 * *rebuild_r true (the caller rebuilds and logs). */
int mbox_index_load(struct mbox *mb, bool *rebuild_r, const char **error_r);
/* Under the lock: write mb->ix (tmp + rename), generation + 1. */
int mbox_index_store(struct mbox *mb, const char **error_r);

/* Under the lock: the whole index refresh of a sync (see mbox.c). */
int mbox_refresh_locked(struct mbox *mb, bool *changed_r, const char **error_r);
/* Lock, refresh, write when changed, unlock. */
int mbox_refresh(struct mbox *mb, const char **error_r);

/* Binary searches. */
struct mbox_index_rec *mbox_ix_find(struct mbox_index *ix, uint32_t uid);
/* Add an expunge batch (uids ascending) with modseq. */
void mbox_ix_add_expunges(struct mbox_index *ix, const uint32_t *uids, unsigned n, uint64_t modseq);
/* Remove the records of uids (ascending) from ix. */
void mbox_ix_remove(struct mbox_index *ix, const uint32_t *uids, unsigned n);

/* A fresh MODSEQ base above anything handed out before (microseconds). */
uint64_t mbox_modseq_base(void);

/* Flags of a file name: *flags_r (MBOX_F_*), *kw_r (letter bits). */
void mbox_name_flags(const char *name, uint8_t *flags_r, uint32_t *kw_r);
/* The file name for base part (up to ":2,") with flags and keywords. */
char *mbox_name_with_flags(const char *name, uint8_t flags, uint32_t kw);
/* Find the file whose base is that of name in cur/ or new/ (readdir).
 * 1 found (*file_r malloc'd), 0 none, -1 error. */
int mbox_find_file(const char *dir, const char *name, char **file_r, bool *in_cur_r,
                   const char **error_r);
/* The current rec of the uidlist for uid. */
const struct uidlist_rec *mbox_ul_rec(const struct mbox *mb, uint32_t uid);

/* Keyword names to letter bits; unknown ones get letters (under the
 * uidlist lock) when create, else are ignored. */
int mbox_keywords_mask(struct mbox *mb, const char *const *names, unsigned n, bool create,
                       uint32_t *mask_r, const char **error_r);

/* Cache: flush the view's pending cache references into ix (under lock). */
void mbox_cache_merge_locked(struct mbox *mb);

#endif
