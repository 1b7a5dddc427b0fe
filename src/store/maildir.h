/*
 * maildir - Maildir files as Dovecot 2.3 writes and reads them.
 *
 * Owns: message file names, delivery of one message into several
 * mailboxes with one write, listing, sizes, and the clean-up of tmp/.
 *
 * File names: "<secs>.M<usecs>P<pid>.<host>,S=<size>,W=<vsize>" in new/,
 * with ":2,<flags>" appended in cur/. That is exactly Dovecot 2.3's form:
 * no Q counter; uniqueness inside the process comes from a (secs, usecs)
 * pair that only ever grows (bumped by one microsecond when the clock has
 * not moved), across processes from the pid, across hosts from the host
 * name, in which '/' is written "\057" and ':' "\072" (Maildir spec).
 * S= is the file's size, W= its size with every bare LF counted as CRLF.
 * link() never replaces a file, so a collision is retried, never lost.
 *
 * Durability: a name appears in new/ (or cur/) only for a file that is
 * complete and fsynced, and a delivery is reported ok only after the
 * directory holding the new name has been fsynced too (docs/storage.md).
 *
 * Modes: directories 0700, files 0600, owned by the calling process.
 * Return convention as in store.h.
 */
#ifndef VMAILD_STORE_MAILDIR_H
#define VMAILD_STORE_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "store/quota.h"

/* Room for any name maildir_unique_name() and delivery produce. */
#define MAILDIR_NAME_MAX 256
/* Dovecot's and the Maildir spec's age for stale files in tmp/. */
#define MAILDIR_TMP_STALE_SECS (36 * 60 * 60)

/* ---- names ---- */

/* maildir_hostname: gethostname() with '/' and ':' escaped, cut at 128
 * bytes; "localhost" when it cannot be read. */
const char *maildir_hostname(void);

/* maildir_unique_name: "<secs>.M<usecs>P<pid>.<host>", different on every
 * call in this process. out needs MAILDIR_NAME_MAX bytes. */
void maildir_unique_name(char *out, size_t outlen);

struct maildir_name {
	size_t base_len; /* bytes of the unique part (up to the first ',' or ':') */
	bool have_size;  /* ,S=<size> */
	uint64_t size;
	bool have_vsize; /* ,W=<vsize> */
	uint64_t vsize;
	bool have_info;    /* ":2," present */
	char flags[8];     /* standard flags among "DFPRST", sorted */
	char keywords[27]; /* Dovecot keyword letters 'a'..'z', sorted */
	/* From a "<secs>.<...P<pid>...>.<host>" unique part: */
	bool have_origin;
	int64_t secs;
	long pid;         /* 0 when the middle part names none */
	const char *host; /* points into the parsed name, not terminated */
	size_t host_len;
};

/*
 * maildir_name_parse: split a file name of new/ or cur/. Any bytes are
 * accepted; -1 only when name is no message file at all (empty, starts
 * with '.', holds '/' or NUL). Numbers that overflow are treated as
 * absent.
 */
int maildir_name_parse(const char *name, size_t len, struct maildir_name *r);

/* maildir_flags_normalize: flags among "DFPRST" (in any order, repeats
 * allowed) sorted into out (8 bytes). -1 on any other character. */
int maildir_flags_normalize(const char *flags, char out[8]);

/* Physical and virtual (CRLF) size of data seen so far; zero it to start. */
struct maildir_vsize {
	uint64_t size;
	uint64_t vsize;
	bool last_cr;
};
void maildir_vsize_update(struct maildir_vsize *v, const void *data, size_t n);

/* ---- delivery ---- */

struct maildir_target {
	const char *root;        /* the user's Maildir root (INBOX; holds maildirsize) */
	const char *mailbox;     /* the mailbox directory: root itself for INBOX */
	const char *create_base; /* create missing dirs below this; NULL: must exist */
	/* Quota accounting in root/maildirsize; NULL: none at all. Limits of
	 * 0 are unlimited but usage is still kept, as Dovecot does. */
	const struct quota_limits *quota;
	const char *flags; /* NULL or "": into new/; else "S", "FS"...: into cur/ */
};

/* The message: either a readable fd (a regular file is read from offset
 * 0, a pipe to EOF) that is copied once, or path, a complete file that is
 * hard-linked where possible; it must never change afterwards, and one
 * that is not mode 0600 is copied instead. Exactly one of the two. */
struct maildir_source {
	int fd; /* -1 when path is used */
	const char *path;
};

enum maildir_status {
	MAILDIR_OK,       /* durable; path holds the file */
	MAILDIR_QUOTA,    /* this message would exceed the quota: 552 5.2.2 */
	MAILDIR_TEMPFAIL, /* disk full, I/O error...: 4xx, errno and text set */
};

struct maildir_result {
	enum maildir_status status;
	char *path;       /* malloc'd final path when MAILDIR_OK */
	int error;        /* errno of a MAILDIR_TEMPFAIL, else 0 */
	char *error_text; /* malloc'd when not MAILDIR_OK */
	uint64_t size;    /* bytes of the message */
	uint64_t vsize;
};

/*
 * maildir_deliver: deliver one message to n targets, writing it once.
 * The message is written (or taken) and fsynced, then for each target:
 * its directories are created if missing, the quota is checked, the file
 * is hard-linked (copied and fsynced when link() says EXDEV, EPERM, EMLINK
 * or ENOTSUP) under a unique name into new/ or cur/, that directory is
 * fsynced, and the quota delta is appended. results[i] tells what became
 * of targets[i]; free them with maildir_results_free(). Returns 0 when
 * every target is MAILDIR_OK, -1 otherwise. Targets may share a root:
 * each copy counts against the quota.
 */
int maildir_deliver(const struct maildir_target *targets, unsigned n,
                    const struct maildir_source *src, struct maildir_result *results);
void maildir_results_free(struct maildir_result *results, unsigned n);

/* maildir_create: mailbox and its cur/ new/ tmp/, missing parents created
 * below base (NULL: parents must exist). Existing ones are fine. */
int maildir_create(const char *mailbox, const char *base, const char **error_r);

/* ---- reading ---- */

struct maildir_msg {
	char *name; /* file name in new/ or cur/, malloc'd */
	bool in_cur;
	char flags[8]; /* standard flags */
	bool have_size;
	uint64_t size; /* S= when present */
	bool have_vsize;
	uint64_t vsize; /* W= when present */
};

/*
 * maildir_list: every message file of new/ and cur/ of mailbox, sorted by
 * name, at most max entries (0: no limit; more is an error). Dot files
 * are skipped. A missing new/ or cur/ is an empty one.
 */
int maildir_list(const char *mailbox, unsigned max, struct maildir_msg **msgs_r, unsigned *count_r,
                 const char **error_r);
void maildir_list_free(struct maildir_msg *msgs, unsigned count);

/* maildir_message_size: S= of the name when present, else stat(). */
int maildir_message_size(const char *path, uint64_t *size_r, const char **error_r);
/* maildir_message_vsize: W= of the name when present, else counted. */
int maildir_message_vsize(const char *path, uint64_t *vsize_r, const char **error_r);

/* ---- clean-up of tmp/ ---- */

/*
 * maildir_clean_tmp: remove from mailbox/tmp/ every regular file that
 *  - was neither modified nor read for MAILDIR_TMP_STALE_SECS before now, or
 *  - carries this host's name (maildir_hostname()) and the pid of a
 *    process that no longer exists (kill(pid, 0) says ESRCH), that is a
 *    delivery that died half-way (kill -9, crash).
 * *removed_r counts the files removed. A missing tmp/ is fine.
 */
int maildir_clean_tmp(const char *mailbox, time_t now, unsigned *removed_r, const char **error_r);

struct maildir_clean_stats {
	unsigned dirs;     /* directories looked at */
	unsigned maildirs; /* tmp/ directories cleaned */
	unsigned removed;  /* files removed */
	unsigned errors;   /* tmp/ directories that could not be cleaned */
	bool truncated;    /* stopped at max_dirs */
};

/*
 * maildir_clean_tmp_tree: walk the directories below top (the static
 * prefix of mail_home), at most max_dirs of them and 40 levels deep,
 * without following symlinks or entering cur/ new/ tmp/ or dot
 * directories, and clean tmp/ of every Maildir found (a directory with
 * cur/, new/ and tmp/). -1 only when top cannot be read.
 */
int maildir_clean_tmp_tree(const char *top, time_t now, unsigned max_dirs,
                           struct maildir_clean_stats *stats_r, const char **error_r);

#endif
