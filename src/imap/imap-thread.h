/*
 * imap-thread - the THREAD extension (RFC 5256 sections 3 and 4):
 * ORDEREDSUBJECT and REFERENCES.
 *
 * Owns: building the thread forest of a set of messages from their
 * Subject:, Date:, Message-ID:, References: and In-Reply-To: fields and
 * formatting it as the THREAD response's thread list, e.g.
 * "(1 2)(3 (4)(5))((6)(7))".
 *
 *	enum imap_thread_algorithm alg;
 *	imap_thread_parse_algorithm(&args[0], &alg, &error)
 *	imap_search_parse(args + 1, count - 1, NULL,
 *	                  IMAP_SEARCH_PARSE_CHARSET_FIRST, &prog, &error)
 *	... collect the matching messages ...
 *	buf_append_str(&line, "* THREAD");
 *	imap_thread(alg, &ops, msgs, n, uid, &line, &error)
 *
 * REFERENCES follows RFC 5256 section 3 step by step: message IDs are the
 * text between "<" and ">" (white space and comments dropped; an ID must
 * hold "@"), compared case-sensitively; a missing or duplicate
 * Message-ID gives the message a fresh unique one; References: (its last
 * IMAP_THREAD_REFS_MAX IDs), else the first ID of In-Reply-To:, links
 * parents, never making a loop (a link that would is skipped); dummies
 * are pruned; threads at the root with the same base subject
 * (imap_sort_base_subject(), compared with i;ascii-casemap) are merged;
 * siblings are ordered by sent date (Date: in UTC, else the internal
 * date), then sequence number, a dummy by its first child. The root set
 * is sorted likewise before subjects are gathered. Where the RFC is
 * first-come (who keeps a duplicate Message-ID, which link of a loop is
 * cut) the input order decides: pass messages in sequence order.
 *
 * Memory: temporary, freed before return. The tree is walked without
 * recursion, so chains as long as the mailbox are fine. Pure: no I/O.
 */
#ifndef VMAILD_IMAP_IMAP_THREAD_H
#define VMAILD_IMAP_IMAP_THREAD_H

#include "core/buf.h"
#include "imap/imap-parser.h"
#include "imap/imap-search.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAP_THREAD_REFS_MAX 256

enum imap_thread_algorithm {
	IMAP_THREAD_ORDEREDSUBJECT = 1,
	IMAP_THREAD_REFERENCES,
};

/* One message as the builder sees it: header values raw (NULL when the
 * field is missing). num is what the response shows (seq or UID). */
struct imap_thread_input {
	uint32_t num, seq;
	const char *subject, *date, *message_id, *references, *in_reply_to;
	int64_t internal_date;
};

/* imap_thread_parse_algorithm: the atom arg; 0, or -1 with a BAD text */
int imap_thread_parse_algorithm(const struct imap_arg *arg, enum imap_thread_algorithm *alg_r,
                                const char **error_r);

/* imap_thread_needs: enum imap_search_need bits; the header fields in
 * headers_r[0..*nheaders_r) (at most 5). */
unsigned int imap_thread_needs(enum imap_thread_algorithm alg, const char *headers_r[5],
                               unsigned int *nheaders_r);

/*
 * imap_thread_build: append the thread list of in[0..n) to out: one
 * "(a b (c)(d))" per thread, nothing between threads, nothing at all
 * when n is 0.
 */
void imap_thread_build(enum imap_thread_algorithm alg, const struct imap_thread_input *in, size_t n,
                       struct buf *out);

/*
 * imap_thread: fetch the fields through ops (header: first occurrence;
 * internal_date) and append " " plus the thread list to out (nothing for
 * no messages); numbers are UIDs when uid, else sequence numbers. 0, or
 * -1 with a NO text when an accessor failed.
 */
int imap_thread(enum imap_thread_algorithm alg, const struct imap_search_ops *ops,
                const struct imap_search_msg *msgs, size_t n, bool uid, struct buf *out,
                const char **error_r);

/*
 * imap_thread_msgid_next: the next message ID in s[*pos..len): appends it
 * (without the brackets) to out and returns true; false at the end.
 */
bool imap_thread_msgid_next(const char *s, size_t len, size_t *pos, struct buf *out);

#endif
