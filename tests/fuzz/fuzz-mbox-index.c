/*
 * fuzz-mbox-index.c - the reader of vmaild.index (mbox_index_parse),
 * which believes only an undamaged file.
 *
 * Checked beyond "no crash": a refused input leaves the index empty and
 * names the reason; an accepted one has a UIDVALIDITY, ascending UIDs
 * below its next UID, MODSEQs and expunge MODSEQs up to its highest
 * MODSEQ in ascending order, and what mbox_index_format() writes parses
 * back to the same index and formats to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/mbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mbox_index ix, again;
	const char *error = NULL;

	mbox_index_init(&ix);
	mbox_index_init(&again);
	if (mbox_index_parse(data, size, &ix, &error) < 0) {
		if (error == NULL || ix.count != 0 || ix.recs != NULL || ix.exp_count != 0)
			abort();
		return 0;
	}
	if (ix.uidvalidity == 0)
		abort();
	for (unsigned i = 0; i < ix.count; i++) {
		const struct mbox_index_rec *r = &ix.recs[i];
		if (r->uid == 0 || r->uid >= ix.next_uid ||
		    (i > 0 && ix.recs[i - 1].uid >= r->uid) || r->modseq > ix.highest_modseq)
			abort();
	}
	for (unsigned i = 0; i < ix.exp_count; i++) {
		const struct mbox_index_exp *e = &ix.exps[i];
		if (e->uid_first == 0 || e->uid_last < e->uid_first ||
		    e->modseq > ix.highest_modseq || (i > 0 && ix.exps[i - 1].modseq > e->modseq))
			abort();
	}
	struct buf a = BUF_INIT, b = BUF_INIT;
	mbox_index_format(&ix, &a);
	if (mbox_index_parse(a.data, a.len, &again, &error) < 0)
		abort();
	if (again.count != ix.count || again.exp_count != ix.exp_count ||
	    again.highest_modseq != ix.highest_modseq || again.uidvalidity != ix.uidvalidity ||
	    (ix.count > 0 && memcmp(again.recs, ix.recs, ix.count * sizeof(*ix.recs)) != 0) ||
	    (ix.exp_count > 0 && memcmp(again.exps, ix.exps, ix.exp_count * sizeof(*ix.exps)) != 0))
		abort();
	mbox_index_format(&again, &b);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	buf_free(&a);
	buf_free(&b);
	mbox_index_free(&ix);
	mbox_index_free(&again);
	return 0;
}
