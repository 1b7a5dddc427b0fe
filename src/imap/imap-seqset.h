/*
 * imap-seqset - IMAP sequence sets (RFC 9051 section 9: sequence-set,
 * seq-range, seq-number; "$" of RFC 5182 SEARCHRES).
 *
 * Owns: parsing "1:3,5,7:*" into ranges, resolving "*" against a mailbox
 * (the number of messages for sequence numbers, the highest UID for
 * UIDs), sorting and merging, and iterating or testing membership.
 * "*" is kept as IMAP_SEQ_STAR (0, never a valid number) until
 * imap_seqset_resolve(); a range "x:y" with x > y means "y:x".
 *
 * Memory: the ranges are owned by the set (at most one per two bytes of
 * the parsed text). Pure: no I/O.
 */
#ifndef VMAILD_IMAP_IMAP_SEQSET_H
#define VMAILD_IMAP_IMAP_SEQSET_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAP_SEQ_STAR 0u

struct imap_seq_range {
	uint32_t lo, hi; /* lo <= hi after resolve; IMAP_SEQ_STAR before */
};

struct imap_seqset {
	struct imap_seq_range *ranges;
	unsigned int count, cap;
	bool last_result; /* the set was "$": the caller substitutes */
	bool resolved;    /* sorted and merged, no IMAP_SEQ_STAR left */
};

void imap_seqset_init(struct imap_seqset *set);
void imap_seqset_free(struct imap_seqset *set);
void imap_seqset_clear(struct imap_seqset *set);

/* imap_seqset_add: append the range lo:hi (either may be IMAP_SEQ_STAR) */
void imap_seqset_add(struct imap_seqset *set, uint32_t lo, uint32_t hi);

/*
 * imap_seqset_parse: s[0..len) replaces the set's contents. 0, or -1 with
 * a static message in *error_r (empty, a zero, a number over 2^32-1, a
 * stray character, "$" mixed with numbers).
 */
int imap_seqset_parse(struct imap_seqset *set, const char *s, size_t len, const char **error_r);

/*
 * imap_seqset_resolve: "*" becomes star (0 for an empty mailbox: then
 * only numbers survive), ranges are ordered, sorted and merged.
 */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t star);

/* imap_seqset_contains: n in the (resolved) set. */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n);

/* imap_seqset_count: how many numbers of 1..max the (resolved) set holds */
uint64_t imap_seqset_count(const struct imap_seqset *set, uint32_t max);

/* imap_seqset_format: append "1:3,5" (resolved set; "*" for a STAR). */
void imap_seqset_format(const struct imap_seqset *set, struct buf *out);

/*
 * Iteration over a resolved set against a mailbox of max messages: every
 * number in 1..max, ascending, once.
 *
 *	struct imap_seqset_iter it;
 *	uint32_t n;
 *	imap_seqset_iter_init(&it, &set, exists);
 *	while (imap_seqset_iter_next(&it, &n)) ...
 */
struct imap_seqset_iter {
	const struct imap_seqset *set;
	uint32_t max;
	unsigned int idx;
	uint64_t next;
};

void imap_seqset_iter_init(struct imap_seqset_iter *it, const struct imap_seqset *set,
                           uint32_t max);
bool imap_seqset_iter_next(struct imap_seqset_iter *it, uint32_t *n_r);

#endif
