/*
 * imap-search - IMAP SEARCH programs (RFC 9051 section 6.4.4, RFC 3501
 * section 6.4.4), with ESEARCH RETURN options (RFC 4731), SEARCHRES "$"
 * (RFC 5182), MODSEQ (RFC 7162 section 3.1.5), OLDER / YOUNGER (RFC 5032)
 * and SAVEDBEFORE / SAVEDON / SAVEDSINCE / SAVEDATESUPPORTED (RFC 8514).
 *
 * Owns: turning the argument tree of a SEARCH (or the search part of SORT
 * and THREAD) into a program, evaluating that program against one message
 * at a time through the caller's accessors (struct imap_search_ops, also
 * used by imap-sort.h and imap-thread.h), and formatting SEARCH / ESEARCH
 * responses. docs/imap-search.md describes keys, matching and dates.
 *
 *	struct imap_search_program *prog;
 *	int ret = imap_search_parse(args, count, &limits, flags, &prog, &error);
 *	  ret == IMAP_SEARCH_ERR_BAD: "<tag> BAD <error>"
 *	  ret == IMAP_SEARCH_ERR_NO:  "<tag> NO <error>" (BADCHARSET)
 *	imap_search_needs(prog) / imap_search_header_name(prog, i): fetch
 *	  only that (no body: never open the message file)
 *	imap_search_prepare(prog, &ctx);      "*", "$" and "now" resolved
 *	for each message: imap_search_match(prog, &ops, &msg, &error)
 *	imap_search_format_search() / _format_esearch()
 *	imap_search_program_free(&prog);
 *
 * Matching: strings are substrings compared with a simple Unicode case
 * folding (i;unicode-casemap for ASCII, Latin-1, Latin Extended-A, Greek
 * and Cyrillic; other characters compare exactly); header keys (FROM TO
 * CC BCC SUBJECT HEADER) match the RFC 2047-decoded value, BODY the
 * decoded text the caller provides, TEXT the decoded header plus that.
 * Internal-date keys (BEFORE ON SINCE, SAVED*) compare dates in the
 * server's local zone (mktime, as Dovecot), sent-date keys (SENT*) the
 * date as written in the Date: header's own zone (no valid Date: counts
 * as 1 Jan 1970, as Dovecot).
 *
 * Speed: each AND list and OR pair is reordered so that cheap keys
 * (flags, numbers, dates) run before header keys and those before body
 * keys; evaluation stops at the first deciding term. Header values and
 * the body are asked for at most once per message and match call.
 *
 * Limits: nesting (lists, NOT, OR) at most max_depth (default 32), keys
 * at most max_keys (default 1000), each string at most max_string
 * (default 64 KiB); errors "Search nesting too deep", "Too many search
 * keys", "Search string too long".
 *
 * Memory: the program owns copies of everything it needs from the
 * argument tree (which may be freed after parse). Error strings are
 * static. Pure: no I/O, no logging (mktime reads the zone data).
 */
#ifndef VMAILD_IMAP_IMAP_SEARCH_H
#define VMAILD_IMAP_IMAP_SEARCH_H

#include "core/buf.h"
#include "imap/imap-parser.h"
#include "imap/imap-seqset.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAP_SEARCH_DEPTH_MAX_DEFAULT  32
#define IMAP_SEARCH_KEYS_MAX_DEFAULT   1000
#define IMAP_SEARCH_STRING_MAX_DEFAULT (64 * 1024)

/* Return values of imap_search_parse() besides 0. */
#define IMAP_SEARCH_ERR_BAD (-1)
#define IMAP_SEARCH_ERR_NO  (-2)

/* System flags of a message (struct imap_search_msg.flags). */
enum imap_search_flag {
	IMAP_SEARCH_F_ANSWERED = 1 << 0,
	IMAP_SEARCH_F_FLAGGED = 1 << 1,
	IMAP_SEARCH_F_DELETED = 1 << 2,
	IMAP_SEARCH_F_SEEN = 1 << 3,
	IMAP_SEARCH_F_DRAFT = 1 << 4,
	IMAP_SEARCH_F_RECENT = 1 << 5,
};

/* What a program (or sort / thread) needs of each message. Sequence
 * number, UID and flags are always given. */
enum imap_search_need {
	IMAP_SEARCH_NEED_KEYWORDS = 1 << 0,
	IMAP_SEARCH_NEED_SIZE = 1 << 1,
	IMAP_SEARCH_NEED_INTERNAL_DATE = 1 << 2,
	IMAP_SEARCH_NEED_SAVE_DATE = 1 << 3,
	IMAP_SEARCH_NEED_MODSEQ = 1 << 4,
	IMAP_SEARCH_NEED_HEADERS = 1 << 5,     /* the fields imap_search_header_name() */
	IMAP_SEARCH_NEED_ALL_HEADERS = 1 << 6, /* TEXT: the whole header */
	IMAP_SEARCH_NEED_BODY = 1 << 7,        /* BODY, TEXT: the body text */
};

/* ESEARCH RETURN options (RFC 4731, RFC 5182). */
enum imap_search_return {
	IMAP_SEARCH_RETURN_MIN = 1 << 0,
	IMAP_SEARCH_RETURN_MAX = 1 << 1,
	IMAP_SEARCH_RETURN_ALL = 1 << 2,
	IMAP_SEARCH_RETURN_COUNT = 1 << 3,
	IMAP_SEARCH_RETURN_SAVE = 1 << 4,
};

/* Options of imap_search_parse(). */
enum imap_search_parse_flags {
	/* SEARCH: "RETURN (...)" may come first (ESEARCH) */
	IMAP_SEARCH_PARSE_RETURN = 1 << 0,
	/* SORT / THREAD: the first argument is the charset itself */
	IMAP_SEARCH_PARSE_CHARSET_FIRST = 1 << 1,
};

struct imap_search_limits {
	unsigned int max_depth;
	unsigned int max_keys;
	size_t max_string;
};

/*
 * The message as the caller hands it to imap_search_match(), and the
 * accessors (shared with imap-sort.h and imap-thread.h). ctx is the
 * caller's and goes to every accessor. An accessor is called only when
 * the program needs that datum (imap_search_needs()); those a program
 * does not need may be NULL.
 */
struct imap_search_msg {
	uint32_t seq, uid;
	unsigned int flags; /* enum imap_search_flag */
	void *ctx;
};

struct imap_search_ops {
	/* KEYWORD / UNKEYWORD: the message has that keyword (the name as the
	 * client sent it; keywords compare ignoring ASCII case) */
	bool (*has_keyword)(void *ctx, const char *keyword);
	/* RFC822.SIZE */
	uint64_t (*size)(void *ctx);
	/* INTERNALDATE, seconds since the epoch */
	int64_t (*internal_date)(void *ctx);
	/* SAVEDATE (RFC 8514); NULL: the mailbox has none (SAVEDATESUPPORTED
	 * is false and SAVED* keys match nothing) */
	int64_t (*save_date)(void *ctx);
	/* MODSEQ of the message */
	uint64_t (*modseq)(void *ctx);
	/*
	 * header: append the unfolded, undecoded value of every field named
	 * name (case-insensitive) to out, each followed by one '\0'; return
	 * how many there were (0: none), or -1 on an error (the search then
	 * fails with NO). name is one of imap_search_header_name() (or of
	 * the lists imap_sort_needs() / imap_thread_needs() give).
	 */
	int (*header)(void *ctx, const char *name, struct buf *out);
	/* all_headers: append the whole header section as stored; 0 / -1 */
	int (*all_headers)(void *ctx, struct buf *out);
	/* body_text: append the decoded text of the body (all text parts,
	 * UTF-8); 0 / -1 */
	int (*body_text)(void *ctx, struct buf *out);
};

/* The mailbox state a program is prepared against. */
struct imap_search_context {
	uint32_t exists;  /* "*" of sequence sets */
	uint32_t max_uid; /* "*" of UID sets: the highest UID in use */
	/* "$": the saved result as a resolved set of UIDs; NULL = empty.
	 * Must stay valid while the program is matched. */
	const struct imap_seqset *saved_uids;
	int64_t now; /* OLDER / YOUNGER */
};

struct imap_search_program;

/*
 * imap_search_parse: args[0..count) are the arguments after "SEARCH"
 * (after the sort criteria for SORT, after the algorithm for THREAD).
 * limits NULL or 0 members: defaults. Returns 0 with *prog_r, or
 * IMAP_SEARCH_ERR_BAD / IMAP_SEARCH_ERR_NO with the reply text (static)
 * in *error_r.
 */
int imap_search_parse(const struct imap_arg *args, unsigned int count,
                      const struct imap_search_limits *limits, unsigned int parse_flags,
                      struct imap_search_program **prog_r, const char **error_r);
void imap_search_program_free(struct imap_search_program **prog);

/* imap_search_needs: enum imap_search_need bits. */
unsigned int imap_search_needs(const struct imap_search_program *prog);
/* the header fields the program asks for (as the client spelled them,
 * one per name ignoring case): i in 0..imap_search_header_count() */
unsigned int imap_search_header_count(const struct imap_search_program *prog);
const char *imap_search_header_name(const struct imap_search_program *prog, unsigned int i);

/* imap_search_return: enum imap_search_return bits; 0 without RETURN
 * (plain SEARCH response). "RETURN ()" is ALL. */
unsigned int imap_search_return(const struct imap_search_program *prog);
/* imap_search_esearch: the command had RETURN: answer with ESEARCH */
bool imap_search_esearch(const struct imap_search_program *prog);
/* imap_search_has_modseq: a MODSEQ key: add (MODSEQ n) to the response */
bool imap_search_has_modseq(const struct imap_search_program *prog);
/* imap_search_uses_saved: "$" appears: the caller must pass saved_uids */
bool imap_search_uses_saved(const struct imap_search_program *prog);

/* imap_search_prepare: resolve "*" and "$" and compute OLDER / YOUNGER
 * against the mailbox now; call again when the mailbox changed. */
void imap_search_prepare(struct imap_search_program *prog, const struct imap_search_context *ctx);

/*
 * imap_search_match: 1 when msg matches, 0 when not, -1 when an accessor
 * failed (*error_r: a NO reply text). Must follow imap_search_prepare().
 */
int imap_search_match(struct imap_search_program *prog, const struct imap_search_ops *ops,
                      const struct imap_search_msg *msg, const char **error_r);

/*
 * imap_search_format_search: append "* SEARCH n n n" (and " (MODSEQ m)"
 * when modseq is not 0; RFC 7162 wants it only with results) without the
 * line end. nums as found (sequence numbers or UIDs).
 */
void imap_search_format_search(struct buf *out, const uint32_t *nums, size_t n, uint64_t modseq);

/*
 * imap_search_format_esearch: append the ESEARCH response of RFC 4731
 * for the return options ret: "* ESEARCH (TAG \"tag\") [UID] [MIN n]
 * [MAX n] [ALL set] [COUNT n] [MODSEQ m]" (Dovecot's order) without the
 * line end; MIN, MAX
 * and ALL are left out when nothing matched. nums ascending. modseq 0: no
 * MODSEQ. Returns false (and appends nothing) when no response is due
 * (SAVE alone, RFC 5182 section 2.1).
 */
bool imap_search_format_esearch(struct buf *out, const char *tag, bool uid, unsigned int ret,
                                const uint32_t *nums, size_t n, uint64_t modseq);

/*
 * imap_search_save_result: the set to save for SEARCHRES from the UIDs
 * found (ascending): all of them, or only the lowest / highest when MIN
 * or MAX came with SAVE (RFC 5182 section 2.4). Replaces out's contents
 * with a resolved set.
 */
void imap_search_save_result(unsigned int ret, const uint32_t *uids, size_t n,
                             struct imap_seqset *out);

/*
 * imap_search_parse_date: an IMAP date "d-Mon-yyyy" (day 1 or 2 digits,
 * month in any case) to y/m/d. 0 / -1.
 */
int imap_search_parse_date(const char *s, size_t len, int64_t *y_r, unsigned int *m_r,
                           unsigned int *d_r);

/*
 * Matching helpers (imap-search-match.c), public for sort and tests.
 * imap_search_fold: append s[0..len) case-folded (see the top; invalid
 * UTF-8 bytes copied). imap_search_substr: needle (already folded) in
 * the folding of hay; an empty needle matches anything.
 */
void imap_search_fold(const char *s, size_t len, struct buf *out);
bool imap_search_substr(const char *hay, size_t hay_len, const char *folded_needle,
                        size_t needle_len, struct buf *scratch);

/* imap_search_unicode_fold: the simple case folding of one code point */
uint32_t imap_search_unicode_fold(uint32_t c);

#endif
