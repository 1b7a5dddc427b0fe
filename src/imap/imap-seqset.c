/*
 * imap-seqset.c - IMAP sequence sets (see imap-seqset.h).
 */
#include "imap/imap-seqset.h"

#include "core/xalloc.h"

#include <stdlib.h>
#include <string.h>

void imap_seqset_init(struct imap_seqset *set)
{
	memset(set, 0, sizeof(*set));
}

void imap_seqset_free(struct imap_seqset *set)
{
	free(set->ranges);
	memset(set, 0, sizeof(*set));
}

void imap_seqset_clear(struct imap_seqset *set)
{
	set->count = 0;
	set->last_result = false;
	set->resolved = false;
}

void imap_seqset_add(struct imap_seqset *set, uint32_t lo, uint32_t hi)
{
	if (set->count == set->cap) {
		set->cap = set->cap == 0 ? 8 : set->cap * 2;
		set->ranges = xreallocarray(set->ranges, set->cap, sizeof(*set->ranges));
	}
	set->ranges[set->count].lo = lo;
	set->ranges[set->count].hi = hi;
	set->count++;
	set->resolved = false;
}

/* seq_number: nz-number or "*" at s[*i..len) */
static bool seq_number(const char *s, size_t len, size_t *i, uint32_t *n_r, const char **error_r)
{
	uint64_t v = 0;
	size_t j = *i;

	if (j < len && s[j] == '*') {
		*n_r = IMAP_SEQ_STAR;
		*i = j + 1;
		return true;
	}
	while (j < len && s[j] >= '0' && s[j] <= '9') {
		v = v * 10 + (uint64_t)(s[j] - '0');
		if (v > UINT32_MAX) {
			*error_r = "number too large in sequence set";
			return false;
		}
		j++;
	}
	if (j == *i) {
		*error_r = "invalid sequence set";
		return false;
	}
	if (v == 0) {
		*error_r = "zero in sequence set";
		return false;
	}
	*n_r = (uint32_t)v;
	*i = j;
	return true;
}

int imap_seqset_parse(struct imap_seqset *set, const char *s, size_t len, const char **error_r)
{
	size_t i = 0;

	imap_seqset_clear(set);
	if (len == 1 && s[0] == '$') {
		set->last_result = true;
		return 0;
	}
	for (;;) {
		uint32_t lo, hi;
		if (!seq_number(s, len, &i, &lo, error_r))
			goto bad;
		hi = lo;
		if (i < len && s[i] == ':') {
			i++;
			if (!seq_number(s, len, &i, &hi, error_r))
				goto bad;
		}
		imap_seqset_add(set, lo, hi);
		if (i == len)
			return 0;
		if (s[i] != ',') {
			*error_r = "invalid sequence set";
			goto bad;
		}
		i++;
	}
bad:
	imap_seqset_clear(set);
	return -1;
}

static int cmp_range(const void *a, const void *b)
{
	const struct imap_seq_range *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

void imap_seqset_resolve(struct imap_seqset *set, uint32_t star)
{
	unsigned int out = 0;

	for (unsigned int i = 0; i < set->count; i++) {
		struct imap_seq_range *r = &set->ranges[i];
		bool star_lo = r->lo == IMAP_SEQ_STAR, star_hi = r->hi == IMAP_SEQ_STAR;
		uint32_t lo = star_lo ? star : r->lo, hi = star_hi ? star : r->hi;
		if (star == 0 && (star_lo || star_hi)) {
			/* empty mailbox: "*" matches nothing; x:* keeps x */
			if (star_lo && star_hi)
				continue;
			lo = hi = star_lo ? r->hi : r->lo;
		}
		if (lo > hi) {
			uint32_t t = lo;
			lo = hi;
			hi = t;
		}
		set->ranges[out].lo = lo;
		set->ranges[out].hi = hi;
		out++;
	}
	set->count = out;
	if (set->count > 1)
		qsort(set->ranges, set->count, sizeof(*set->ranges), cmp_range);
	out = 0;
	for (unsigned int i = 0; i < set->count; i++) {
		struct imap_seq_range r = set->ranges[i];
		if (out > 0 && (uint64_t)set->ranges[out - 1].hi + 1 >= r.lo) {
			if (r.hi > set->ranges[out - 1].hi)
				set->ranges[out - 1].hi = r.hi;
			continue;
		}
		set->ranges[out++] = r;
	}
	set->count = out;
	set->resolved = true;
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
	unsigned int lo = 0, hi = set->count;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct imap_seq_range *r = &set->ranges[mid];
		if (n < r->lo)
			hi = mid;
		else if (n > r->hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

uint64_t imap_seqset_count(const struct imap_seqset *set, uint32_t max)
{
	uint64_t total = 0;

	for (unsigned int i = 0; i < set->count; i++) {
		uint32_t lo = set->ranges[i].lo, hi = set->ranges[i].hi;
		if (lo == 0)
			lo = 1;
		if (hi > max)
			hi = max;
		if (lo <= hi)
			total += (uint64_t)hi - lo + 1;
	}
	return total;
}

static void format_number(struct buf *out, uint32_t n)
{
	if (n == IMAP_SEQ_STAR)
		buf_append_c(out, '*');
	else
		buf_appendf(out, "%u", n);
}

void imap_seqset_format(const struct imap_seqset *set, struct buf *out)
{
	if (set->last_result) {
		buf_append_c(out, '$');
		return;
	}
	for (unsigned int i = 0; i < set->count; i++) {
		if (i > 0)
			buf_append_c(out, ',');
		format_number(out, set->ranges[i].lo);
		if (set->ranges[i].hi != set->ranges[i].lo) {
			buf_append_c(out, ':');
			format_number(out, set->ranges[i].hi);
		}
	}
}

void imap_seqset_iter_init(struct imap_seqset_iter *it, const struct imap_seqset *set, uint32_t max)
{
	it->set = set;
	it->max = max;
	it->idx = 0;
	it->next = 1;
}

bool imap_seqset_iter_next(struct imap_seqset_iter *it, uint32_t *n_r)
{
	while (it->idx < it->set->count) {
		const struct imap_seq_range *r = &it->set->ranges[it->idx];
		if (it->next < r->lo)
			it->next = r->lo;
		if (it->next > r->hi || it->next > it->max) {
			if (it->next > it->max)
				it->idx = it->set->count;
			else
				it->idx++;
			continue;
		}
		*n_r = (uint32_t)it->next++;
		return true;
	}
	return false;
}
