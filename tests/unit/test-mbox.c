/*
 * test-mbox.c - the IMAP mailbox engine (store/mbox.h): open and sync,
 * append (flags, keywords, internal date, size limit, quota), STORE with
 * UNCHANGEDSINCE, EXPUNGE and UID EXPUNGE, COPY and MOVE (COPYUID,
 * keyword letters translated), change tracking between two sessions on
 * one mailbox, changes behind the engine's back (renames, deletions,
 * deliveries), the index file (format round trip, every truncation and
 * damaged byte refused, rebuild with the same UIDs), kill -9 of a writer
 * at random moments, the cache, the QRESYNC expunge history, folder
 * list/create/delete/rename, and a 10 000-message open timing (printed).
 *
 * Helper modes for tests/integration/test_mbox_dovecot.py:
 *   test-mbox dump ROOT DIR           "uidvalidity V", "uidnext N", then
 *                                     "<uid> <flags,...|-> <keywords,...|->
 *                                     <vsize> <internal date>" lines
 *   test-mbox append ROOT DIR FILE FLAGS KW...  FLAGS like "\\Seen" joined
 *                                     by ',' or "-"; prints the UID
 *   test-mbox store ROOT DIR UID +|-|= FLAGS KW...
 *   test-mbox expunge ROOT DIR        prints the expunged UIDs
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "store/mbox.h"
#include "store/store.h"

static char tdir[PATH_MAX];
static char root[PATH_MAX + 16];

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup_dir(void **state)
{
	const char *t = getenv("TMPDIR");
	const char *err;
	snprintf(tdir, sizeof(tdir), "%s/test-mbox.XXXXXX", t != NULL && *t != '\0' ? t : "/tmp");
	if (mkdtemp(tdir) == NULL)
		return -1;
	snprintf(root, sizeof(root), "%s/mail", tdir);
	return maildir_create(root, tdir, &err);
}

static int teardown_dir(void **state)
{
	nftw(tdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static struct mbox *open_box(const char *dir, bool ro)
{
	struct mbox_settings set = {.read_only = ro, .lock_timeout_secs = 10};
	struct mbox *mb = NULL;
	const char *err = NULL;
	int r = mbox_open(root, dir, &set, &mb, &err);
	if (r < 0)
		fprintf(stderr, "mbox_open: %s\n", err);
	assert_int_equal(r, 0);
	return mb;
}

static void sync_box(struct mbox *mb)
{
	const char *err = NULL;
	int r = mbox_sync(mb, &err);
	if (r < 0)
		fprintf(stderr, "mbox_sync: %s\n", err);
	assert_int_equal(r, 0);
}

static uint32_t append_msg(struct mbox *mb, const char *text, uint8_t flags, const char *const *kw,
                           unsigned nkw, int64_t idate)
{
	struct mbox_append_req req = {.fd = -1,
	                              .data = text,
	                              .len = strlen(text),
	                              .flags = flags,
	                              .keywords = kw,
	                              .keyword_count = nkw,
	                              .idate = idate};
	enum mbox_append_status st;
	uint32_t uid = 0;
	const char *err = NULL;
	int r = mbox_append(mb, &req, &st, &uid, &err);
	if (r < 0)
		fprintf(stderr, "mbox_append: %s\n", err);
	assert_int_equal(r, 0);
	assert_int_equal(st, MBOX_APPEND_OK);
	assert_true(uid > 0);
	return uid;
}

static void store(struct mbox *mb, uint32_t seq, enum mbox_store_mode mode, uint8_t flags,
                  const char *const *kw, unsigned nkw)
{
	struct mbox_store_req req = {
	    .mode = mode, .flags = flags, .keywords = kw, .keyword_count = nkw};
	struct mbox_store_result res;
	const char *err = NULL;
	int r = mbox_store(mb, &seq, 1, &req, &res, &err);
	if (r < 0)
		fprintf(stderr, "mbox_store: %s\n", err);
	assert_int_equal(r, 0);
	mbox_store_result_free(&res);
}

/* A delivery as the SMTP side (or Dovecot's LDA) makes it. */
static char *deliver(const char *dir, const char *text)
{
	char *tmp = xasprintf("%s/deliver.tmp", tdir);
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	struct maildir_target t = {.root = root, .mailbox = dir};
	int fd = open(tmp, O_RDONLY);
	struct maildir_source src = {.fd = fd};
	struct maildir_result res;
	assert_int_equal(maildir_deliver(&t, 1, &src, &res), 0);
	close(fd);
	unlink(tmp);
	free(tmp);
	char *p = res.path;
	res.path = NULL;
	maildir_results_free(&res, 1);
	return p;
}

static char *msg_text(int n)
{
	return xasprintf("Subject: message %d\nFrom: a@example.org\n\nbody %d\n", n, n);
}

/* The truth of the Maildir: uidlist UIDs and flags from the names. */
static void assert_view_matches_disk(struct mbox *mb)
{
	struct uidlist ul;
	const char *err;
	uidlist_init(&ul);
	assert_true(uidlist_read(mbox_dir(mb), &ul, &err) >= 0);
	struct maildir_msg *msgs;
	unsigned n;
	assert_int_equal(maildir_list(mbox_dir(mb), 0, &msgs, &n, &err), 0);
	unsigned seen = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct uidlist_rec *u = uidlist_lookup_name(&ul, msgs[i].name);
		if (u == NULL)
			fprintf(stderr, "not in dovecot-uidlist: %s\n", msgs[i].name);
		assert_non_null(u);
		uint32_t seq = mbox_seq_of_uid(mb, u->uid);
		assert_true(seq > 0);
		const struct mbox_msg *m = mbox_msg(mb, seq);
		assert_false(m->expunged);
		char expect[64] = "";
		const char *info = strstr(msgs[i].name, ":2,");
		if (info != NULL)
			snprintf(expect, sizeof(expect), "%s", info + 3);
		char got[64];
		/* the letters the view's flags stand for */
		size_t k = 0;
		static const struct {
			char c;
			uint8_t f;
		} map[] = {{'D', MBOX_F_DRAFT},    {'F', MBOX_F_FLAGGED}, {'P', MBOX_F_PASSED},
		           {'R', MBOX_F_ANSWERED}, {'S', MBOX_F_SEEN},    {'T', MBOX_F_DELETED}};
		for (unsigned j = 0; j < 6; j++)
			if (m->flags & map[j].f)
				got[k++] = map[j].c;
		for (unsigned j = 0; j < 26; j++)
			if (m->keywords & (1u << j))
				got[k++] = (char)('a' + j);
		got[k] = '\0';
		assert_string_equal(got, expect);
		seen++;
	}
	unsigned live = 0;
	for (uint32_t s = 1; s <= mbox_count(mb); s++)
		live += !mbox_msg(mb, s)->expunged;
	assert_int_equal(live, seen);
	maildir_list_free(msgs, n);
	uidlist_free(&ul);
}

/* ---- index format ---- */

static void test_index_format(void **state)
{
	struct mbox_index ix, back;
	struct buf out = BUF_INIT;
	const char *err;

	mbox_index_init(&ix);
	mbox_index_init(&back);
	ix.uidvalidity = 1234;
	ix.next_uid = 10;
	ix.highest_modseq = 100;
	ix.modseq_floor = 5;
	ix.cache_id = 77;
	ix.cap = 3;
	ix.recs = xcalloc(3, sizeof(*ix.recs));
	for (unsigned i = 0; i < 3; i++) {
		ix.recs[i] = (struct mbox_index_rec){.uid = 2 * i + 1,
		                                     .flags = MBOX_F_SEEN,
		                                     .keywords = 1u << i,
		                                     .modseq = 10 + i,
		                                     .size = 100 + i,
		                                     .vsize = 110 + i,
		                                     .idate = 1700000000 + i,
		                                     .save_date = 5,
		                                     .cache_off = 16 * i};
		ix.count++;
	}
	ix.exp_cap = 2;
	ix.exps = xcalloc(2, sizeof(*ix.exps));
	ix.exps[0] = (struct mbox_index_exp){2, 2, 50};
	ix.exps[1] = (struct mbox_index_exp){4, 5, 60};
	ix.exp_count = 2;
	mbox_index_format(&ix, &out);
	assert_int_equal(mbox_index_parse(out.data, out.len, &back, &err), 0);
	assert_int_equal(back.count, 3);
	assert_int_equal(back.exp_count, 2);
	assert_int_equal(back.uidvalidity, 1234);
	assert_int_equal(back.highest_modseq, 100);
	assert_memory_equal(back.recs, ix.recs, 3 * sizeof(*ix.recs));
	assert_int_equal(back.exps[1].uid_last, 5);
	/* Every truncation and every damaged byte is refused. */
	for (size_t n = 0; n < out.len; n++)
		assert_int_equal(mbox_index_parse(out.data, n, &back, &err), -1);
	for (size_t i = 0; i < out.len; i++) {
		out.data[i] ^= 0x41;
		assert_int_equal(mbox_index_parse(out.data, out.len, &back, &err), -1);
		out.data[i] ^= 0x41;
	}
	buf_free(&out);
	mbox_index_free(&ix);
	mbox_index_free(&back);
}

/* ---- basics ---- */

static void test_append_and_view(void **state)
{
	struct mbox *mb = open_box(root, false);
	struct mbox_status st;
	const char *kws[] = {"$Forwarded", "Work"};

	assert_int_equal(mbox_count(mb), 0);
	mbox_get_status(mb, &st);
	assert_true(st.uidvalidity > 0);
	assert_int_equal(st.uidnext, 1);
	uint64_t hm0 = st.highest_modseq;

	char *t1 = msg_text(1), *t2 = msg_text(2);
	uint32_t u1 = append_msg(mb, t1, 0, NULL, 0, 1600000000);
	uint32_t u2 = append_msg(mb, t2, MBOX_F_SEEN | MBOX_F_FLAGGED, kws, 2, 1600000100);
	assert_int_equal(u1, 1);
	assert_int_equal(u2, 2);
	sync_box(mb);
	assert_int_equal(mbox_count(mb), 2);
	const struct mbox_msg *m1 = mbox_msg(mb, 1), *m2 = mbox_msg(mb, 2);
	assert_int_equal(m1->uid, 1);
	assert_int_equal(m1->idate, 1600000000);
	assert_int_equal(m1->size, strlen(t1));
	assert_int_equal(m1->vsize, strlen(t1) + 4); /* 4 LFs */
	assert_true(m1->in_cur);                     /* moved from new/ */
	assert_true(m1->flags & MBOX_F_RECENT);
	assert_int_equal(m2->flags, MBOX_F_SEEN | MBOX_F_FLAGGED); /* in cur/ already */
	assert_int_equal(m2->idate, 1600000100);
	assert_int_equal(mbox_keyword_bit(mb, "$forwarded"), 0);
	assert_int_equal(mbox_keyword_bit(mb, "work"), 1);
	assert_int_equal(m2->keywords, 3);
	assert_string_equal(mbox_keyword_name(mb, 1), "Work");
	assert_true(m1->modseq > hm0 && m2->modseq > m1->modseq);
	mbox_get_status(mb, &st);
	assert_int_equal(st.messages, 2);
	assert_int_equal(st.unseen, 1);
	assert_int_equal(st.first_unseen, 1);
	assert_int_equal(st.recent, 1);
	assert_int_equal(st.uidnext, 3);
	assert_int_equal(st.size, m1->vsize + m2->vsize);

	/* Reading the message follows a rename by someone else. */
	char *p = mbox_path(mb, m1);
	char *q = xasprintf("%sS", p);
	assert_int_equal(rename(p, q), 0);
	int fd;
	const char *err;
	assert_int_equal(mbox_open_msg(mb, 1, &fd, &err), 1);
	char b[16];
	assert_int_equal(read(fd, b, 8), 8);
	assert_memory_equal(b, "Subject:", 8);
	close(fd);
	free(p);
	free(q);

	/* Size limit. */
	struct mbox_append_req big = {.fd = -1, .data = t1, .len = strlen(t1), .max_size = 10};
	enum mbox_append_status ast;
	uint32_t uid;
	assert_int_equal(mbox_append(mb, &big, &ast, &uid, &err), 0);
	assert_int_equal(ast, MBOX_APPEND_TOO_BIG);

	/* From a fd. */
	char *tp = xasprintf("%s/in.eml", tdir);
	FILE *f = fopen(tp, "w");
	fputs(t2, f);
	fclose(f);
	struct mbox_append_req fr = {.fd = open(tp, O_RDONLY)};
	assert_int_equal(mbox_append(mb, &fr, &ast, &uid, &err), 0);
	close(fr.fd);
	assert_int_equal(ast, MBOX_APPEND_OK);
	assert_int_equal(uid, 3);
	free(tp);
	sync_box(mb);
	assert_true(mbox_msg(mb, 3)->flags & MBOX_F_RECENT);

	mbox_close(&mb);
	/* A second session: nothing \Recent any more, same state. */
	mb = open_box(root, false);
	assert_int_equal(mbox_count(mb), 3);
	mbox_get_status(mb, &st);
	assert_int_equal(st.recent, 0); /* the first session took the \Recent */
	assert_view_matches_disk(mb);
	mbox_close(&mb);

	struct mbox_status st2;
	assert_int_equal(mbox_status(root, root, &st2, &err), 0);
	assert_int_equal(st2.messages, 3);
	assert_int_equal(st2.recent, 0);
	assert_int_equal(st2.uidnext, 4);
	char *t3 = msg_text(3);
	free(deliver(root, t3));
	free(t3);
	assert_int_equal(mbox_status(root, root, &st2, &err), 0);
	assert_int_equal(st2.messages, 4);
	assert_int_equal(st2.recent, 1);
	assert_int_equal(st2.unseen, 2); /* 1 got \Seen by the rename above */
	assert_int_equal(st2.uidnext, 5);
	free(t1);
	free(t2);
}

static void test_two_sessions(void **state)
{
	struct mbox *a = open_box(root, false), *b = open_box(root, false);
	const char *err;
	struct mbox_changes ch;

	for (int i = 0; i < 5; i++) {
		char *t = msg_text(i);
		append_msg(a, t, 0, NULL, 0, 0);
		free(t);
	}
	sync_box(a);
	sync_box(b);
	mbox_view_changes(b, &ch);
	assert_int_equal(ch.exists, 5);
	assert_int_equal(ch.new_count, 5);
	mbox_changes_free(&ch);
	mbox_view_changes_done(b);
	uint64_t before = mbox_msg(b, 2)->modseq;

	/* A: flags on 2, keyword on 4. */
	const char *kw[] = {"Important"};
	store(a, 2, MBOX_STORE_ADD, MBOX_F_SEEN, NULL, 0);
	store(a, 4, MBOX_STORE_ADD, 0, kw, 1);
	assert_int_equal(mbox_msg(a, 2)->flags & MBOX_F_STORABLE, MBOX_F_SEEN);
	sync_box(b);
	mbox_view_changes(b, &ch);
	assert_int_equal(ch.changed_count, 2);
	assert_int_equal(ch.changed_seqs[0], 2);
	assert_int_equal(ch.changed_seqs[1], 4);
	assert_int_equal(ch.new_count, 0);
	assert_int_equal(ch.expunged_count, 0);
	assert_true(mbox_msg(b, 2)->modseq > before);
	assert_int_equal(mbox_msg(b, 2)->modseq, mbox_msg(a, 2)->modseq);
	assert_int_equal(mbox_msg(b, 4)->keywords, 1u << mbox_keyword_bit(b, "important"));
	assert_int_equal(ch.highest_modseq, mbox_msg(b, 4)->modseq);
	mbox_changes_free(&ch);
	mbox_view_changes_done(b);
	/* Nothing more to tell. */
	sync_box(b);
	mbox_view_changes(b, &ch);
	assert_int_equal(ch.changed_count + ch.new_count + ch.expunged_count, 0);
	mbox_changes_free(&ch);
	uint64_t hm = mbox_msg(b, 4)->modseq;

	/* A: expunge 1 and 3, append one. */
	store(a, 1, MBOX_STORE_ADD, MBOX_F_DELETED, NULL, 0);
	store(a, 3, MBOX_STORE_ADD, MBOX_F_DELETED, NULL, 0);
	uint32_t *uids;
	unsigned n;
	assert_int_equal(mbox_expunge(a, NULL, 0, &uids, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(uids[0], 1);
	assert_int_equal(uids[1], 3);
	free(uids);
	char *t = msg_text(9);
	assert_int_equal(append_msg(a, t, 0, NULL, 0, 0), 6);
	free(t);

	sync_box(b);
	mbox_view_changes(b, &ch);
	assert_int_equal(ch.expunged_count, 2);
	assert_int_equal(ch.expunged_seqs[0], 3); /* descending */
	assert_int_equal(ch.expunged_uids[0], 3);
	assert_int_equal(ch.expunged_seqs[1], 1);
	assert_int_equal(ch.new_count, 1);
	assert_int_equal(ch.exists, 6);
	assert_int_equal(ch.changed_count, 0); /* 1 and 3 got \Deleted, but are gone */
	mbox_changes_free(&ch);
	/* Sequence numbers hold until the expunges are applied. */
	assert_int_equal(mbox_msg(b, 3)->uid, 3);
	assert_true(mbox_msg(b, 3)->expunged);
	uint32_t *seqs;
	assert_int_equal(mbox_view_apply_expunges(b, &seqs, &uids), 2);
	free(seqs);
	free(uids);
	mbox_view_changes_done(b);
	assert_int_equal(mbox_count(b), 4);
	assert_int_equal(mbox_msg(b, 4)->uid, 6);
	assert_true(mbox_msg(b, 4)->modseq > hm);
	/* QRESYNC history */
	uint32_t *gone;
	assert_int_equal(mbox_expunged_since(b, hm, NULL, 0, &gone, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(gone[0], 1);
	assert_int_equal(gone[1], 3);
	free(gone);
	uint32_t cand[] = {2, 3, 4};
	assert_int_equal(mbox_expunged_since(b, hm, cand, 3, &gone, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(gone[0], 3);
	free(gone);
	struct mbox_status st;
	mbox_get_status(b, &st);
	assert_int_equal(mbox_expunged_since(b, st.highest_modseq, NULL, 0, &gone, &n, &err), 0);
	assert_int_equal(n, 0);
	free(gone);

	/* A's own view: it applies its own expunges the same way. */
	sync_box(a);
	assert_int_equal(mbox_view_apply_expunges(a, NULL, NULL), 2);
	assert_view_matches_disk(a);
	assert_view_matches_disk(b);
	mbox_close(&a);
	mbox_close(&b);
}

static void test_unchangedsince(void **state)
{
	struct mbox *a = open_box(root, false), *b = open_box(root, false);
	const char *err;

	for (int i = 0; i < 2; i++) {
		char *t = msg_text(i);
		append_msg(a, t, 0, NULL, 0, 0);
		free(t);
	}
	sync_box(a);
	sync_box(b);
	uint64_t ms = mbox_msg(b, 2)->modseq;
	store(a, 1, MBOX_STORE_ADD, MBOX_F_FLAGGED, NULL, 0);
	/* B has not synced: its UNCHANGEDSINCE on 1 fails, on 2 works. */
	uint32_t seqs[] = {1, 2};
	struct mbox_store_req req = {.mode = MBOX_STORE_ADD,
	                             .flags = MBOX_F_SEEN,
	                             .unchanged_since_set = true,
	                             .unchanged_since = ms};
	struct mbox_store_result res;
	assert_int_equal(mbox_store(b, seqs, 2, &req, &res, &err), 0);
	assert_int_equal(res.failed_count, 1);
	assert_int_equal(res.failed_uids[0], 1);
	assert_int_equal(res.updated_count, 1);
	assert_int_equal(res.updated_seqs[0], 2);
	mbox_store_result_free(&res);
	sync_box(b);
	assert_int_equal(mbox_msg(b, 1)->flags & MBOX_F_STORABLE, MBOX_F_FLAGGED);
	assert_int_equal(mbox_msg(b, 2)->flags & MBOX_F_STORABLE, MBOX_F_SEEN);
	/* SET and REMOVE, and keyword removal. */
	const char *kw[] = {"a1", "b2"};
	store(b, 1, MBOX_STORE_SET, MBOX_F_ANSWERED | MBOX_F_DRAFT, kw, 2);
	assert_int_equal(mbox_msg(b, 1)->flags & MBOX_F_STORABLE, MBOX_F_ANSWERED | MBOX_F_DRAFT);
	store(b, 1, MBOX_STORE_REMOVE, MBOX_F_DRAFT, kw, 1);
	assert_int_equal(mbox_msg(b, 1)->flags & MBOX_F_STORABLE, MBOX_F_ANSWERED);
	assert_int_equal(mbox_msg(b, 1)->keywords, 1u << mbox_keyword_bit(b, "b2"));
	assert_view_matches_disk(b);
	/* 26 keywords at most. */
	char names[30][16];
	const char *many[30];
	for (int i = 0; i < 30; i++) {
		snprintf(names[i], sizeof(names[i]), "k%d", i);
		many[i] = names[i];
	}
	struct mbox_store_req mreq = {
	    .mode = MBOX_STORE_ADD, .keywords = many, .keyword_count = 30};
	uint32_t one = 1;
	assert_int_equal(mbox_store(b, &one, 1, &mreq, &res, &err), -1);
	const char *bad[] = {"bad(name"};
	struct mbox_store_req breq = {.mode = MBOX_STORE_ADD, .keywords = bad, .keyword_count = 1};
	assert_int_equal(mbox_store(b, &one, 1, &breq, &res, &err), -1);
	mbox_close(&a);
	mbox_close(&b);
}

static void test_external_changes(void **state)
{
	struct mbox *mb = open_box(root, false);
	struct mbox_changes ch;
	const char *err;

	char *t = msg_text(1);
	char *p1 = deliver(root, t);
	char *p2 = deliver(root, t);
	char *p3 = deliver(root, t);
	free(t);
	sync_box(mb);
	assert_int_equal(mbox_count(mb), 3);
	assert_true(mbox_msg(mb, 1)->flags & MBOX_F_RECENT);
	mbox_view_changes_done(mb);
	uint64_t ms2 = mbox_msg(mb, 2)->modseq;

	/* Dovecot sets \Seen on 2 (rename), deletes 3, a delivery adds one. */
	char *cur2 = mbox_path(mb, mbox_msg(mb, 2));
	char *cur2s = xasprintf("%sS", cur2);
	assert_int_equal(rename(cur2, cur2s), 0);
	char *cur3 = mbox_path(mb, mbox_msg(mb, 3));
	assert_int_equal(unlink(cur3), 0);
	t = msg_text(4);
	char *p4 = deliver(root, t);
	free(t);
	sync_box(mb);
	mbox_view_changes(mb, &ch);
	assert_int_equal(ch.changed_count, 1);
	assert_int_equal(ch.changed_seqs[0], 2);
	assert_int_equal(ch.expunged_count, 1);
	assert_int_equal(ch.expunged_uids[0], 3);
	assert_int_equal(ch.new_count, 1);
	mbox_changes_free(&ch);
	assert_true(mbox_msg(mb, 2)->modseq > ms2);
	assert_int_equal(mbox_msg(mb, 2)->flags & MBOX_F_STORABLE, MBOX_F_SEEN);
	assert_true(mbox_msg(mb, 4)->flags & MBOX_F_RECENT);
	mbox_view_apply_expunges(mb, NULL, NULL);
	mbox_view_changes_done(mb);

	/* Renamed behind our back just before our STORE: found by base. */
	char *c1 = mbox_path(mb, mbox_msg(mb, 1));
	char *c1f = xasprintf("%sF", c1);
	assert_int_equal(rename(c1, c1f), 0);
	store(mb, 1, MBOX_STORE_ADD, MBOX_F_ANSWERED, NULL, 0);
	assert_int_equal(mbox_msg(mb, 1)->flags & MBOX_F_STORABLE,
	                 MBOX_F_ANSWERED | MBOX_F_FLAGGED);
	/* Expunge finds a renamed file too. */
	store(mb, 1, MBOX_STORE_ADD, MBOX_F_DELETED, NULL, 0);
	char *c1b = mbox_path(mb, mbox_msg(mb, 1));
	char *c1c = xasprintf("%sS", c1b);
	/* flags stay sorted only in our names; Dovecot accepts both */
	assert_int_equal(rename(c1b, c1c), 0);
	uint32_t *uids;
	unsigned n;
	assert_int_equal(mbox_expunge(mb, NULL, 0, &uids, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(access(c1c, F_OK), -1);
	free(uids);
	mbox_view_apply_expunges(mb, NULL, NULL);
	assert_view_matches_disk(mb);
	/* UID EXPUNGE only touches the UIDs given. */
	store(mb, 1, MBOX_STORE_ADD, MBOX_F_DELETED, NULL, 0);
	store(mb, 2, MBOX_STORE_ADD, MBOX_F_DELETED, NULL, 0);
	uint32_t only = mbox_msg(mb, 2)->uid;
	assert_int_equal(mbox_expunge(mb, &only, 1, &uids, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(uids[0], only);
	free(uids);
	mbox_close(&mb);
	free(p1);
	free(p2);
	free(p3);
	free(p4);
	free(cur2);
	free(cur2s);
	free(cur3);
	free(c1);
	free(c1f);
	free(c1b);
	free(c1c);
}

static void damage(const char *path, int how)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	if (how == 0) {
		assert_int_equal(truncate(path, st.st_size / 2), 0);
	} else if (how == 1) {
		FILE *f = fopen(path, "w");
		fputs("garbage garbage garbage garbage garbage garbage garbage garbage garbage!!",
		      f);
		fclose(f);
	} else if (how == 2) {
		int fd = open(path, O_RDWR);
		char c;
		assert_int_equal(pread(fd, &c, 1, 70), 1);
		c ^= 1;
		assert_int_equal(pwrite(fd, &c, 1, 70), 1);
		close(fd);
	} else {
		assert_int_equal(unlink(path), 0);
	}
}

static void test_index_rebuild(void **state)
{
	struct mbox *mb = open_box(root, false);
	const char *kw[] = {"Later"};
	const char *err;
	for (int i = 0; i < 6; i++) {
		char *t = msg_text(i);
		append_msg(mb, t, i % 2 ? MBOX_F_SEEN : 0, i == 3 ? kw : NULL, i == 3 ? 1 : 0,
		           1500000000 + i);
		free(t);
	}
	sync_box(mb);
	store(mb, 1, MBOX_STORE_ADD, MBOX_F_DELETED, NULL, 0);
	uint32_t *u;
	unsigned n;
	assert_int_equal(mbox_expunge(mb, NULL, 0, &u, &n, &err), 0);
	free(u);
	assert_int_equal(mbox_cache_put(mb, 2, "envelope", "(ENV)", 5, &err), 0);
	mbox_close(&mb);
	char *ixp = xasprintf("%s/%s", root, MBOX_INDEX_FILE);
	for (int how = 0; how < 4; how++) {
		mb = open_box(root, false);
		struct mbox_status before;
		mbox_get_status(mb, &before);
		mbox_close(&mb);
		damage(ixp, how);
		mb = open_box(root, false);
		struct mbox_status after;
		mbox_get_status(mb, &after);
		assert_int_equal(after.messages, 5);
		assert_int_equal(after.uidvalidity, before.uidvalidity);
		assert_int_equal(after.uidnext, before.uidnext);
		assert_true(after.highest_modseq > before.highest_modseq);
		for (uint32_t s = 1; s <= 5; s++) {
			assert_int_equal(mbox_msg(mb, s)->uid, s + 1);
			assert_int_equal(mbox_msg(mb, s)->idate, 1500000000 + s);
		}
		assert_int_equal(mbox_msg(mb, 3)->keywords, 1);
		assert_view_matches_disk(mb);
		/* Forgotten history: every candidate not there is reported. */
		uint32_t cand[] = {1, 2};
		uint32_t *gone;
		assert_int_equal(
		    mbox_expunged_since(mb, before.highest_modseq - 1, cand, 2, &gone, &n, &err),
		    0);
		assert_int_equal(n, 1);
		assert_int_equal(gone[0], 1);
		free(gone);
		mbox_close(&mb);
	}
	free(ixp);
}

static void test_cache(void **state)
{
	struct mbox *mb = open_box(root, false);
	struct buf b = BUF_INIT;
	const char *err;

	for (int i = 0; i < 3; i++) {
		char *t = msg_text(i);
		append_msg(mb, t, 0, NULL, 0, 0);
		free(t);
	}
	sync_box(mb);
	assert_int_equal(mbox_cache_get(mb, 1, "envelope", &b), 0);
	assert_int_equal(mbox_cache_put(mb, 1, "envelope", "E1", 2, &err), 0);
	assert_int_equal(mbox_cache_put(mb, 1, "bodystructure", "B1", 2, &err), 0);
	assert_int_equal(mbox_cache_put(mb, 3, "hdr:SUBJECT", "S3", 2, &err), 0);
	assert_int_equal(mbox_cache_get(mb, 1, "envelope", &b), 1);
	assert_string_equal(b.data, "E1");
	buf_reset(&b);
	assert_int_equal(mbox_cache_get(mb, 1, "bodystructure", &b), 1);
	assert_string_equal(b.data, "B1");
	buf_reset(&b);
	assert_int_equal(mbox_cache_get(mb, 2, "envelope", &b), 0);
	assert_int_equal(mbox_cache_get(mb, 3, "envelope", &b), 0);
	assert_int_equal(mbox_cache_put(mb, 9, "envelope", "x", 1, &err), -1);
	mbox_close(&mb);

	/* Another session sees them. */
	mb = open_box(root, true);
	assert_int_equal(mbox_cache_get(mb, 3, "hdr:SUBJECT", &b), 1);
	assert_string_equal(b.data, "S3");
	buf_reset(&b);
	assert_int_equal(mbox_cache_get(mb, 1, "envelope", &b), 1);
	buf_reset(&b);
	mbox_close(&mb);

	/* A damaged cache file is a miss, never wrong data. */
	char *cp = xasprintf("%s/%s", root, MBOX_CACHE_FILE);
	struct stat st;
	assert_int_equal(stat(cp, &st), 0);
	int fd = open(cp, O_RDWR);
	char c;
	assert_int_equal(pread(fd, &c, 1, st.st_size - 3), 1);
	c ^= 0x20;
	assert_int_equal(pwrite(fd, &c, 1, st.st_size - 3), 1);
	close(fd);
	mb = open_box(root, false);
	assert_int_equal(mbox_cache_get(mb, 3, "hdr:SUBJECT", &b), 0);
	assert_int_equal(mbox_cache_get(mb, 1, "envelope", &b), 1);
	buf_reset(&b);
	/* A cache file replaced by garbage: misses, and puts start afresh. */
	mbox_close(&mb);
	fd = open(cp, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "junkjunkjunkjunkjunk", 20), 20);
	close(fd);
	mb = open_box(root, false);
	assert_int_equal(mbox_cache_get(mb, 1, "envelope", &b), 0);
	assert_int_equal(mbox_cache_put(mb, 2, "envelope", "E2", 2, &err), 0);
	assert_int_equal(mbox_cache_get(mb, 2, "envelope", &b), 1);
	assert_string_equal(b.data, "E2");
	mbox_close(&mb);
	free(cp);
	buf_free(&b);
}

static int64_t used_bytes(int64_t *count)
{
	struct quota_usage u;
	struct quota_limits l = {0, 0};
	const char *err;
	assert_int_equal(quota_get(root, &l, &u, &err), 0);
	*count = (int64_t)u.count;
	return (int64_t)u.bytes;
}

static void test_quota(void **state)
{
	struct mbox_settings set = {.quota = {.bytes = 1000}};
	struct mbox *mb;
	const char *err;
	int64_t c0, c1;

	assert_int_equal(mbox_open(root, root, &set, &mb, &err), 0);
	int64_t b0 = used_bytes(&c0);
	char *t = msg_text(1);
	uint32_t uid = append_msg(mb, t, 0, NULL, 0, 0);
	int64_t b1 = used_bytes(&c1);
	assert_int_equal(b1 - b0, (int64_t)strlen(t));
	assert_int_equal(c1 - c0, 1);
	/* Over the limit. */
	char big[1200];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	struct mbox_append_req req = {.fd = -1, .data = big, .len = strlen(big)};
	enum mbox_append_status st;
	assert_int_equal(mbox_append(mb, &req, &st, &uid, &err), 0);
	assert_int_equal(st, MBOX_APPEND_QUOTA);
	/* Copy adds, expunge subtracts. */
	bool ex;
	assert_int_equal(mbox_create(root, "Archive", &ex, &err), 0);
	char *adir = xasprintf("%s/Archive", root);
	struct mbox *dst;
	assert_int_equal(mbox_open(root, adir, &set, &dst, &err), 0);
	sync_box(mb);
	uint32_t seq = 1, *su, *du;
	unsigned n;
	assert_int_equal(mbox_copy(mb, &seq, 1, dst, &su, &du, &n, &err), 1);
	free(su);
	free(du);
	int64_t b2 = used_bytes(&c1);
	assert_int_equal(b2 - b0, 2 * (int64_t)strlen(t));
	store(mb, 1, MBOX_STORE_ADD, MBOX_F_DELETED, NULL, 0);
	assert_int_equal(mbox_expunge(mb, NULL, 0, &su, &n, &err), 0);
	free(su);
	int64_t b3 = used_bytes(&c1);
	assert_int_equal(b3 - b0, (int64_t)strlen(t));
	assert_int_equal(c1 - c0, 1);
	/* Deleting the folder gives it back. */
	mbox_close(&dst);
	assert_int_equal(mbox_delete(root, "Archive", &set.quota, &err), 0);
	int64_t b4 = used_bytes(&c1);
	assert_int_equal(b4, b0);
	/* And maildirsize agrees with a recount. */
	struct quota_usage ru;
	assert_int_equal(quota_recalc(root, &set.quota, &ru, &err), 0);
	assert_int_equal((int64_t)ru.bytes, b4);
	mbox_close(&mb);
	free(adir);
	free(t);
}

static void test_copy_move(void **state)
{
	const char *err;
	bool ex;
	assert_int_equal(mbox_create(root, "Dst", &ex, &err), 0);
	char *ddir = xasprintf("%s/Dst", root);
	/* dst knows other keywords first: letters differ. */
	struct mbox *dst = open_box(ddir, false), *src = open_box(root, false);
	const char *dkw[] = {"Zeta", "Beta"};
	char *t = msg_text(0);
	append_msg(dst, t, 0, dkw, 2, 0);
	const char *skw[] = {"Beta"};
	for (int i = 1; i <= 3; i++)
		append_msg(src, t, MBOX_F_SEEN, i == 2 ? skw : NULL, i == 2 ? 1 : 0,
		           1400000000 + i);
	free(t);
	sync_box(src);
	uint32_t seqs[] = {2, 3};
	uint32_t *su, *du;
	unsigned n;
	assert_int_equal(mbox_copy(src, seqs, 2, dst, &su, &du, &n, &err), 1);
	assert_int_equal(n, 2);
	assert_int_equal(su[0], 2);
	assert_int_equal(su[1], 3);
	assert_int_equal(du[0], 2);
	assert_int_equal(du[1], 3);
	free(su);
	free(du);
	sync_box(dst);
	assert_int_equal(mbox_count(dst), 3);
	const struct mbox_msg *m = mbox_msg(dst, 2);
	assert_int_equal(m->keywords, 1u << mbox_keyword_bit(dst, "Beta"));
	assert_int_equal(mbox_keyword_bit(dst, "Beta"), 1);
	assert_int_equal(mbox_keyword_bit(src, "Beta"), 0);
	assert_int_equal(m->flags & MBOX_F_STORABLE, MBOX_F_SEEN);
	assert_int_equal(m->idate, 1400000002);
	/* Move: gone from the source. */
	uint32_t one = 1;
	assert_int_equal(mbox_move(src, &one, 1, dst, &su, &du, &n, &err), 1);
	assert_int_equal(n, 1);
	assert_int_equal(du[0], 4);
	free(su);
	free(du);
	assert_true(mbox_msg(src, 1)->expunged);
	sync_box(src);
	mbox_view_apply_expunges(src, NULL, NULL);
	assert_int_equal(mbox_count(src), 2);
	assert_view_matches_disk(src);
	sync_box(dst);
	assert_view_matches_disk(dst);
	/* Into the same mailbox (keywords kept). */
	uint32_t two = 2;
	assert_int_equal(mbox_copy(dst, &two, 1, dst, &su, &du, &n, &err), 1);
	assert_int_equal(du[0], 5);
	free(su);
	free(du);
	sync_box(dst);
	assert_int_equal(mbox_msg(dst, 5)->keywords, mbox_msg(dst, 2)->keywords);
	assert_view_matches_disk(dst);
	mbox_close(&src);
	mbox_close(&dst);
	free(ddir);
}

static void test_folders(void **state)
{
	const char *err;
	bool ex;
	struct mbox_list_entry *e;
	unsigned n;

	assert_int_equal(mbox_create(root, "A", &ex, &err), 0);
	assert_int_equal(mbox_create(root, "A/B", &ex, &err), 0);
	assert_int_equal(mbox_create(root, "C", &ex, &err), 0);
	assert_int_equal(mbox_create(root, "C", &ex, &err), -1);
	assert_true(ex);
	assert_int_equal(mbox_create(root, "INBOX", &ex, &err), -1);
	assert_int_equal(mbox_create(root, "../x", &ex, &err), -1);
	assert_int_equal(mbox_list(root, 0, &e, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(e[0].name, "A");
	assert_true(e[0].has_children);
	assert_string_equal(e[1].name, "A/B");
	assert_false(e[1].has_children);
	assert_string_equal(e[2].name, "C");
	mbox_list_free(e, n);

	/* Delete with inferiors: A stays as \Noselect. */
	char *adir = xasprintf("%s/A", root);
	struct mbox *a = open_box(adir, false);
	char *t = msg_text(1);
	append_msg(a, t, 0, NULL, 0, 0);
	mbox_close(&a);
	assert_int_equal(mbox_delete(root, "A", NULL, &err), 0);
	assert_int_equal(mbox_list(root, 0, &e, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_true(e[0].noselect);
	assert_true(e[0].has_children);
	mbox_list_free(e, n);
	assert_int_equal(mbox_delete(root, "A", NULL, &err), -1); /* not a mailbox now */
	assert_int_equal(mbox_delete(root, "A/B", NULL, &err), 0);
	assert_int_equal(mbox_list(root, 0, &e, &n, &err), 0);
	assert_int_equal(n, 1); /* A is gone from the list: no folder below */
	mbox_list_free(e, n);
	assert_int_equal(mbox_delete(root, "INBOX", NULL, &err), -1);

	/* Rename, also into a new hierarchy. */
	assert_int_equal(mbox_rename(root, "C", "D/E", &err), 0);
	assert_int_equal(mbox_rename(root, "Nope", "F", &err), -1);
	assert_int_equal(mbox_list(root, 0, &e, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(e[0].name, "D");
	assert_true(e[0].noselect);
	assert_string_equal(e[1].name, "D/E");
	mbox_list_free(e, n);

	/* INBOX rename moves the messages. */
	struct mbox *in = open_box(root, false);
	append_msg(in, t, MBOX_F_SEEN, NULL, 0, 0);
	append_msg(in, t, 0, NULL, 0, 0);
	mbox_close(&in);
	assert_int_equal(mbox_rename(root, "INBOX", "Old", &err), 0);
	in = open_box(root, false);
	assert_int_equal(mbox_count(in), 0);
	mbox_close(&in);
	char *odir = xasprintf("%s/Old", root);
	struct mbox *old = open_box(odir, false);
	assert_int_equal(mbox_count(old), 2);
	mbox_close(&old);
	free(odir);
	free(adir);
	free(t);
}

static void set_mtime(const char *path, time_t t)
{
	struct timespec ts[2] = {{t, 0}, {t, 0}};
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* A sync with nothing changed on disk lists nothing; any change is seen. */
static void test_sync_skips_listing(void **state)
{
	struct mbox *mb = open_box(root, false);
	char *t = msg_text(1);
	append_msg(mb, t, MBOX_F_SEEN, NULL, 0, 0);
	char *cur = xasprintf("%s/cur", root), *nw = xasprintf("%s/new", root);
	char *ul = xasprintf("%s/dovecot-uidlist", root);
	time_t old = time(NULL) - 10;
	set_mtime(cur, old);
	set_mtime(nw, old);
	set_mtime(ul, old);
	sync_box(mb); /* lists, takes the stamp */
	assert_int_equal(mbox_count(mb), 1);
	/* A file slipped in with cur/'s mtime put back: not listed again. */
	char *f = xasprintf("%s/cur/1700000000.M1P1.host,S=5:2,", root);
	FILE *fp = fopen(f, "w");
	fputs("x\n\ny\n", fp);
	fclose(fp);
	set_mtime(cur, old);
	sync_box(mb);
	assert_int_equal(mbox_count(mb), 1);
	/* cur/ changed: seen. */
	set_mtime(cur, old + 1);
	sync_box(mb);
	assert_int_equal(mbox_count(mb), 2);
	/* A recent mtime is never trusted: a change in the same second may
	 * leave it as it was. */
	time_t now = time(NULL);
	set_mtime(cur, now);
	sync_box(mb);
	char *g = xasprintf("%s/cur/1700000001.M1P1.host,S=5:2,", root);
	fp = fopen(g, "w");
	fputs("x\n\ny\n", fp);
	fclose(fp);
	set_mtime(cur, now);
	sync_box(mb);
	assert_int_equal(mbox_count(mb), 3);
	mbox_close(&mb);
	free(t);
	free(cur);
	free(nw);
	free(ul);
	free(f);
	free(g);
}

/* dovecot-uidlist lost: new UIDVALIDITY, the session must end. */
static void test_uidvalidity_change(void **state)
{
	struct mbox *mb = open_box(root, false);
	char *t = msg_text(1);
	append_msg(mb, t, 0, NULL, 0, 0);
	free(t);
	sync_box(mb);
	struct mbox_status st;
	mbox_get_status(mb, &st);
	char *ul = xasprintf("%s/dovecot-uidlist", root);
	assert_int_equal(unlink(ul), 0);
	free(ul);
	sync_box(mb);
	struct mbox_changes ch;
	mbox_view_changes(mb, &ch);
	assert_true(ch.uidvalidity_changed);
	mbox_changes_free(&ch);
	struct mbox_status st2;
	mbox_get_status(mb, &st2);
	assert_int_not_equal(st.uidvalidity, st2.uidvalidity);
	assert_int_equal(st2.messages, 1);
	assert_true(mbox_exists(root));
	char *nx = xasprintf("%s/nope", root);
	assert_false(mbox_exists(nx));
	const char *err;
	struct mbox *none;
	assert_int_equal(mbox_open(root, nx, NULL, &none, &err), -1);
	free(nx);
	mbox_close(&mb);
}

/* ---- kill -9 ---- */

static void child_loop(unsigned seed)
{
	struct mbox *mb;
	struct mbox_settings set = {.lock_timeout_secs = 10};
	const char *err;
	srand(seed);
	if (mbox_open(root, root, &set, &mb, &err) < 0)
		_exit(2);
	for (;;) {
		int op = rand() % 5;
		if (op == 0 || mbox_count(mb) < 3) {
			struct mbox_append_req req = {.fd = -1,
			                              .data = "Subject: k\n\nx\n",
			                              .len = 14,
			                              .flags =
			                                  (uint8_t)(rand() % 2 ? MBOX_F_SEEN : 0)};
			enum mbox_append_status st;
			uint32_t uid;
			if (mbox_append(mb, &req, &st, &uid, &err) < 0)
				_exit(3);
		} else if (op == 1 || op == 2) {
			uint32_t seq = 1 + (uint32_t)rand() % mbox_count(mb);
			const char *kw[] = {"K1", "K2"};
			struct mbox_store_req req = {.mode = (enum mbox_store_mode)(rand() % 3),
			                             .flags = (uint8_t)(rand() & MBOX_F_STORABLE),
			                             .keywords = kw,
			                             .keyword_count = (unsigned)rand() % 3};
			struct mbox_store_result res;
			if (mbox_store(mb, &seq, 1, &req, &res, &err) < 0)
				_exit(4);
			mbox_store_result_free(&res);
		} else if (op == 3) {
			uint32_t *u;
			unsigned n;
			if (mbox_expunge(mb, NULL, 0, &u, &n, &err) < 0)
				_exit(5);
			free(u);
		} else {
			uint32_t seq = 1 + (uint32_t)rand() % mbox_count(mb);
			if (!mbox_msg(mb, seq)->expunged)
				(void)mbox_cache_put(mb, seq, "envelope", "ENV", 3, &err);
		}
		if (mbox_sync(mb, &err) < 0)
			_exit(6);
		mbox_view_apply_expunges(mb, NULL, NULL);
	}
}

static void test_kill9(void **state)
{
	uint64_t last_hm = 0;
	for (unsigned round = 0; round < 25; round++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			child_loop(round + 1);
		struct timespec d = {0, (long)(5 + (rand() % 60)) * 1000000L};
		nanosleep(&d, NULL);
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		assert_true(WIFSIGNALED(status));
		/* The dead child's dot-locks: dotlock.c breaks them after 2 s when
		 * they hold its pid, after 120 s (Dovecot's rule) when it died
		 * before writing the pid; the engine then works on without new
		 * UIDs. Remove them to test the index alone, and fast. */
		char *lk = xasprintf("%s/dovecot-uidlist.lock", root);
		unlink(lk);
		free(lk);
		lk = xasprintf("%s/dovecot-keywords.lock", root);
		unlink(lk);
		free(lk);
		/* Written by rename only: after kill -9 the file is whole. */
		char *ixp = xasprintf("%s/%s", root, MBOX_INDEX_FILE);
		FILE *ixf = fopen(ixp, "r");
		if (ixf != NULL) {
			struct buf data = BUF_INIT;
			char chunk[8192];
			size_t got;
			while ((got = fread(chunk, 1, sizeof(chunk), ixf)) > 0)
				buf_append(&data, chunk, got);
			fclose(ixf);
			struct mbox_index ix;
			const char *perr;
			mbox_index_init(&ix);
			assert_int_equal(mbox_index_parse(data.data, data.len, &ix, &perr), 0);
			mbox_index_free(&ix);
			buf_free(&data);
		}
		free(ixp);
		/* The index opens or is rebuilt, and agrees with the Maildir. */
		struct mbox *mb = open_box(root, true);
		assert_view_matches_disk(mb);
		struct mbox_status st;
		mbox_get_status(mb, &st);
		assert_true(st.highest_modseq >= last_hm);
		last_hm = st.highest_modseq;
		/* cached data, when found, is right */
		struct buf b = BUF_INIT;
		for (uint32_t s = 1; s <= mbox_count(mb); s++) {
			if (mbox_cache_get(mb, s, "envelope", &b) == 1)
				assert_string_equal(b.data, "ENV");
			buf_reset(&b);
		}
		buf_free(&b);
		mbox_close(&mb);
	}
}

/* Two processes changing flags at once never lose a MODSEQ. */
static void test_concurrent_writers(void **state)
{
	struct mbox *mb = open_box(root, false);
	char *t = msg_text(0);
	for (int i = 0; i < 20; i++)
		append_msg(mb, t, 0, NULL, 0, 0);
	free(t);
	sync_box(mb);
	uint64_t hm0 = mbox_msg(mb, 20)->modseq;
	mbox_close(&mb);
	pid_t kids[2];
	for (int k = 0; k < 2; k++) {
		kids[k] = fork();
		if (kids[k] == 0) {
			struct mbox *c;
			struct mbox_settings set = {.lock_timeout_secs = 30};
			const char *err;
			if (mbox_open(root, root, &set, &c, &err) < 0)
				_exit(1);
			for (uint32_t s = 1; s <= 20; s++) {
				if (s % 2 != (uint32_t)k)
					continue;
				struct mbox_store_req req = {.mode = MBOX_STORE_ADD,
				                             .flags = MBOX_F_FLAGGED};
				struct mbox_store_result res;
				if (mbox_store(c, &s, 1, &req, &res, &err) < 0)
					_exit(2);
				mbox_store_result_free(&res);
			}
			mbox_close(&c);
			_exit(0);
		}
	}
	for (int k = 0; k < 2; k++) {
		int status;
		waitpid(kids[k], &status, 0);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	mb = open_box(root, false);
	uint64_t seen[21] = {0};
	for (uint32_t s = 1; s <= 20; s++) {
		const struct mbox_msg *m = mbox_msg(mb, s);
		assert_int_equal(m->flags & MBOX_F_STORABLE, MBOX_F_FLAGGED);
		assert_true(m->modseq > hm0 && m->modseq <= hm0 + 20);
		seen[m->modseq - hm0] = m->modseq;
	}
	for (unsigned i = 1; i <= 20; i++)
		assert_true(seen[i] != 0); /* 20 distinct MODSEQs */
	mbox_close(&mb);
}

static void test_bench_10000(void **state)
{
	const char *err;
	char *dir = xasprintf("%s/Big", root);
	assert_int_equal(maildir_create(dir, root, &err), 0);
	for (int i = 0; i < 10000; i++) {
		char *p = xasprintf("%s/cur/%d.M%dP1.host,S=20,W=21:2,%s", dir, 1700000000 + i, i,
		                    i % 3 ? "S" : "");
		int fd = open(p, O_WRONLY | O_CREAT, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "Subject: x\n\nhello\n..", 20), 20);
		close(fd);
		free(p);
	}
	struct timespec a, b, c;
	clock_gettime(CLOCK_MONOTONIC, &a);
	struct mbox *mb = open_box(dir, false);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(mbox_count(mb), 10000);
	mbox_close(&mb);
	mb = open_box(dir, false);
	clock_gettime(CLOCK_MONOTONIC, &c);
	assert_int_equal(mbox_count(mb), 10000);
	struct mbox_status st;
	mbox_get_status(mb, &st);
	assert_int_equal(st.unseen, 3334);
	struct timespec s0, s1;
	clock_gettime(CLOCK_MONOTONIC, &s0);
	for (uint32_t seq = 1; seq <= 100; seq++)
		store(mb, seq * 97, MBOX_STORE_ADD, MBOX_F_FLAGGED, NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &s1);
	sync_box(mb);
	mbox_get_status(mb, &st);
	assert_int_equal(st.messages, 10000);
	printf("bench: 10000 messages: STORE of one message %.2f ms (mean of 100)\n",
	       ((double)(s1.tv_sec - s0.tv_sec) * 1e3 + (double)(s1.tv_nsec - s0.tv_nsec) / 1e6) /
	           100);
	mbox_close(&mb);
	struct timespec d, e2;
	clock_gettime(CLOCK_MONOTONIC, &d);
	assert_int_equal(mbox_status(root, dir, &st, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &e2);
	printf("bench: 10000 messages: first open (index built) %.1f ms, open with current "
	       "index %.1f ms, STATUS %.1f ms\n",
	       (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6,
	       (double)(c.tv_sec - b.tv_sec) * 1e3 + (double)(c.tv_nsec - b.tv_nsec) / 1e6,
	       (double)(e2.tv_sec - d.tv_sec) * 1e3 + (double)(e2.tv_nsec - d.tv_nsec) / 1e6);
	free(dir);
}

/* ---- helper modes ---- */

static const struct {
	const char *name;
	uint8_t f;
} imap_flags[] = {{"\\Seen", MBOX_F_SEEN},
                  {"\\Answered", MBOX_F_ANSWERED},
                  {"\\Flagged", MBOX_F_FLAGGED},
                  {"\\Deleted", MBOX_F_DELETED},
                  {"\\Draft", MBOX_F_DRAFT}};

static uint8_t parse_flags(const char *s)
{
	uint8_t f = 0;
	for (unsigned i = 0; i < 5; i++)
		if (strstr(s, imap_flags[i].name) != NULL)
			f |= imap_flags[i].f;
	return f;
}

static int helper(int argc, char **argv)
{
	struct mbox_settings set = {0};
	struct mbox *mb;
	const char *err;

	if (argc < 4)
		return 2;
	if (mbox_open(argv[2], argv[3], &set, &mb, &err) < 0) {
		fprintf(stderr, "open: %s\n", err);
		return 1;
	}
	int ret = 0;
	if (strcmp(argv[1], "dump") == 0) {
		struct mbox_status st;
		mbox_get_status(mb, &st);
		printf("uidvalidity %u\nuidnext %u\n", st.uidvalidity, st.uidnext);
		for (uint32_t s = 1; s <= mbox_count(mb); s++) {
			const struct mbox_msg *m = mbox_msg(mb, s);
			struct buf b = BUF_INIT;
			for (unsigned i = 0; i < 5; i++)
				if (m->flags & imap_flags[i].f)
					buf_appendf(&b, "%s%s", b.len ? "," : "",
					            imap_flags[i].name);
			printf("%u %s ", m->uid, b.len ? b.data : "-");
			buf_reset(&b);
			for (unsigned k = 0; k < 26; k++)
				if (m->keywords & (1u << k))
					buf_appendf(&b, "%s%s", b.len ? "," : "",
					            mbox_keyword_name(mb, k));
			printf("%s %llu %lld\n", b.len ? b.data : "-", (unsigned long long)m->vsize,
			       (long long)m->idate);
			buf_free(&b);
		}
	} else if (strcmp(argv[1], "append") == 0 && argc >= 6) {
		int fd = open(argv[4], O_RDONLY);
		struct mbox_append_req req = {.fd = fd,
		                              .flags = parse_flags(argv[5]),
		                              .keywords = (const char *const *)argv + 6,
		                              .keyword_count = (unsigned)(argc - 6)};
		enum mbox_append_status st;
		uint32_t uid;
		if (fd < 0 || mbox_append(mb, &req, &st, &uid, &err) < 0 || st != MBOX_APPEND_OK) {
			fprintf(stderr, "append failed\n");
			ret = 1;
		} else {
			printf("%u\n", uid);
		}
		if (fd >= 0)
			close(fd);
	} else if (strcmp(argv[1], "store") == 0 && argc >= 7) {
		uint32_t seq = mbox_seq_of_uid(mb, (uint32_t)strtoul(argv[4], NULL, 10));
		enum mbox_store_mode mode = argv[5][0] == '+'   ? MBOX_STORE_ADD
		                            : argv[5][0] == '-' ? MBOX_STORE_REMOVE
		                                                : MBOX_STORE_SET;
		struct mbox_store_req req = {.mode = mode,
		                             .flags = parse_flags(argv[6]),
		                             .keywords = (const char *const *)argv + 7,
		                             .keyword_count = (unsigned)(argc - 7)};
		struct mbox_store_result res;
		if (seq == 0 || mbox_store(mb, &seq, 1, &req, &res, &err) < 0) {
			fprintf(stderr, "store failed\n");
			ret = 1;
		} else {
			mbox_store_result_free(&res);
		}
	} else if (strcmp(argv[1], "expunge") == 0) {
		uint32_t *u;
		unsigned n;
		if (mbox_expunge(mb, NULL, 0, &u, &n, &err) < 0) {
			fprintf(stderr, "expunge: %s\n", err);
			ret = 1;
		} else {
			for (unsigned i = 0; i < n; i++)
				printf("%u\n", u[i]);
			free(u);
		}
	} else {
		ret = 2;
	}
	mbox_close(&mb);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return helper(argc, argv);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_index_format),
	    cmocka_unit_test_setup_teardown(test_append_and_view, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_two_sessions, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_unchangedsince, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_external_changes, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_index_rebuild, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_cache, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_quota, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_copy_move, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_folders, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_sync_skips_listing, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_uidvalidity_change, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_concurrent_writers, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_kill9, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_bench_10000, setup_dir, teardown_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
