/*
 * mbox-ops.c - what changes a mailbox: flags and keywords (STORE),
 * EXPUNGE, APPEND, COPY and MOVE (mbox.h). Every change to the index is
 * made under the index lock on a freshly loaded index, so that MODSEQs of
 * two sessions never overwrite each other; keyword letters are added to
 * dovecot-keywords under the uidlist lock, as Dovecot does; quota deltas
 * go to maildirsize.
 */
#include "store/mbox-private.h"
#include "store/store-private.h"
#include "core/log.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- keywords ---- */

int mbox_keywords_mask(struct mbox *mb, const char *const *names, unsigned n, bool create,
                       uint32_t *mask_r, const char **error_r)
{
	bool missing = false;

	*mask_r = 0;
	if (n == 0)
		return 0;
	if (keywords_read(mb->dir, &mb->kw, error_r) < 0)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		if (!keywords_name_ok(names[i])) {
			*error_r = store_err("invalid keyword: %s", names[i]);
			return -1;
		}
		char c = keywords_letter(&mb->kw, names[i]);
		if (c != '\0')
			*mask_r |= 1u << (c - 'a');
		else
			missing = true;
	}
	if (!missing || !create)
		return 0;

	struct dotlock *lock;
	unsigned timeout =
	    mb->set.lock_timeout_secs > 0 ? mb->set.lock_timeout_secs : UIDLIST_LOCK_TIMEOUT_SECS;
	int r = uidlist_lock(mb->dir, timeout, &lock, error_r);
	if (r <= 0)
		return -1;
	int ret = 0;
	bool added = false;
	if (keywords_read(mb->dir, &mb->kw, error_r) < 0) {
		ret = -1;
		goto out;
	}
	*mask_r = 0;
	for (unsigned i = 0; i < n; i++) {
		char c;
		int k = keywords_add(&mb->kw, names[i], &c, error_r);
		if (k < 0) {
			ret = -1;
			goto out;
		}
		added |= k > 0;
		*mask_r |= 1u << (c - 'a');
	}
	if (added && keywords_write(mb->dir, &mb->kw, lock, error_r) < 0)
		ret = -1;
out:;
	const char *rerr;
	if (dotlock_release(&lock, &rerr) < 0 && ret == 0) {
		*error_r = rerr;
		ret = -1;
	}
	return ret;
}

/* Lock and make mb->ix current without a directory listing, unless it
 * has to be rebuilt. */
static int lock_and_load(struct mbox *mb, const char **error_r)
{
	bool rebuild, changed;

	if (mbox_lock(mb, error_r) < 0)
		return -1;
	if (mbox_index_load(mb, &rebuild, error_r) < 0 ||
	    (rebuild && mbox_refresh_locked(mb, &changed, error_r) < 0)) {
		mbox_unlock(mb);
		return -1;
	}
	return 0;
}

/* ---- STORE ---- */

static void apply_mode(enum mbox_store_mode mode, uint8_t *fl, uint32_t *kw, uint8_t rfl,
                       uint32_t rkw)
{
	switch (mode) {
	case MBOX_STORE_SET:
		*fl = (uint8_t)((*fl & MBOX_F_PASSED) | (rfl & MBOX_F_STORABLE));
		*kw = rkw;
		break;
	case MBOX_STORE_ADD:
		*fl |= rfl & MBOX_F_STORABLE;
		*kw |= rkw;
		break;
	case MBOX_STORE_REMOVE:
		*fl &= (uint8_t) ~(rfl & MBOX_F_STORABLE);
		*kw &= ~rkw;
		break;
	}
}

/* Rename message m's file to carry the flags req asks for. 1 renamed
 * (or already so), *fl_r and *kw_r the new flags; 0 the file is gone; -1. */
static int rename_flags(struct mbox *mb, struct mbox_msg *m, const struct mbox_store_req *req,
                        uint32_t rkw, uint8_t *fl_r, uint32_t *kw_r, const char **error_r)
{
	for (int attempt = 0; attempt < 4; attempt++) {
		uint8_t fl;
		uint32_t kw;
		mbox_name_flags(m->file, &fl, &kw);
		fl &= MBOX_F_STORABLE | MBOX_F_PASSED;
		apply_mode(req->mode, &fl, &kw, req->flags, rkw);
		char *nname = mbox_name_with_flags(m->file, fl, kw);
		*fl_r = fl;
		*kw_r = kw;
		if (m->in_cur && strcmp(nname, m->file) == 0) {
			free(nname);
			return 1;
		}
		char *from = mbox_path(mb, m);
		char *to = xasprintf("%s/cur/%s", mb->dir, nname);
		int r = rename(from, to);
		int e = errno;
		free(from);
		free(to);
		if (r == 0) {
			free(m->file);
			m->file = nname;
			m->in_cur = true;
			return 1;
		}
		free(nname);
		if (e != ENOENT) {
			*error_r = store_err_sys("rename", m->file, e);
			return -1;
		}
		char *file;
		bool in_cur;
		int k = mbox_find_file(mb->dir, m->file, &file, &in_cur, error_r);
		if (k <= 0)
			return k;
		free(m->file);
		m->file = file;
		m->in_cur = in_cur;
	}
	return 0;
}

int mbox_store(struct mbox *mb, const uint32_t *seqs, unsigned n, const struct mbox_store_req *req,
               struct mbox_store_result *res, const char **error_r)
{
	uint32_t rkw = 0;

	memset(res, 0, sizeof(*res));
	if (mbox_keywords_mask(mb, req->keywords, req->keyword_count,
	                       req->mode != MBOX_STORE_REMOVE, &rkw, error_r) < 0)
		return -1;
	if (lock_and_load(mb, error_r) < 0)
		return -1;
	bool dirty = false;
	int ret = 0;
	for (unsigned i = 0; i < n; i++) {
		struct mbox_msg *m =
		    seqs[i] >= 1 && seqs[i] <= mb->count ? &mb->msgs[seqs[i] - 1] : NULL;
		if (m == NULL || m->expunged || m->file == NULL)
			continue;
		struct mbox_index_rec *r = mbox_ix_find(&mb->ix, m->uid);
		if (r == NULL)
			continue; /* expunged by someone else: the next sync says so */
		if (req->unchanged_since_set && r->modseq > req->unchanged_since) {
			res->failed_uids = xreallocarray(res->failed_uids, res->failed_count + 1,
			                                 sizeof(uint32_t));
			res->failed_uids[res->failed_count++] = m->uid;
			continue;
		}
		uint8_t fl;
		uint32_t kw;
		int k = rename_flags(mb, m, req, rkw, &fl, &kw, error_r);
		if (k < 0) {
			ret = -1;
			break;
		}
		if (k == 0 || (fl == r->flags && kw == r->keywords))
			continue;
		r->flags = fl;
		r->keywords = kw;
		r->modseq = ++mb->ix.highest_modseq;
		m->flags = (uint8_t)(fl | (m->flags & MBOX_F_RECENT));
		m->keywords = kw;
		m->modseq = r->modseq;
		dirty = true;
		res->updated_seqs =
		    xreallocarray(res->updated_seqs, res->updated_count + 1, sizeof(uint32_t));
		res->updated_seqs[res->updated_count++] = seqs[i];
	}
	if (dirty) {
		mbox_cache_merge_locked(mb);
		const char *err;
		if (mbox_index_store(mb, &err) < 0 && ret == 0) {
			*error_r = err;
			ret = -1;
		}
	}
	mbox_unlock(mb);
	if (ret < 0)
		mbox_store_result_free(res);
	return ret;
}

void mbox_store_result_free(struct mbox_store_result *res)
{
	free(res->failed_uids);
	free(res->updated_seqs);
	memset(res, 0, sizeof(*res));
}

/* ---- EXPUNGE ---- */

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Remove the records of uids from dovecot-uidlist (Dovecot would do it
 * at its next sync too). Failures only logged. */
static void uidlist_drop(struct mbox *mb, const uint32_t *uids, unsigned n)
{
	struct dotlock *lock;
	struct uidlist ul;
	const char *err;

	if (uidlist_lock(mb->dir, 5, &lock, &err) <= 0)
		return;
	uidlist_init(&ul);
	if (uidlist_read(mb->dir, &ul, &err) > 0) {
		unsigned o = 0;
		for (unsigned i = 0; i < ul.count; i++) {
			if (bsearch(&ul.recs[i].uid, uids, n, sizeof(*uids), u32_cmp) != NULL) {
				free(ul.recs[i].name);
				free(ul.recs[i].ext);
				free(ul.recs[i].file);
				continue;
			}
			ul.recs[o++] = ul.recs[i];
		}
		if (o != ul.count) {
			ul.count = o;
			if (uidlist_write(mb->dir, &ul, lock, &err) < 0)
				log_warn("event=uidlist_write_failed mailbox=%s error=%s",
				         log_esc(mb->dir), log_esc(err));
		}
	}
	uidlist_free(&ul);
	(void)dotlock_release(&lock, &err);
}

/*
 * Unlink the view's messages selected by filter (sorted UIDs; NULL: all)
 * and, with need_deleted, flagged \Deleted in the index.
 */
static int expunge_msgs(struct mbox *mb, const uint32_t *filter, unsigned nfilter,
                        bool need_deleted, uint32_t **uids_r, unsigned *count_r,
                        const char **error_r)
{
	uint32_t *uids = NULL;
	unsigned cnt = 0;
	int64_t bytes = 0, files = 0;
	int ret = 0;

	*uids_r = NULL;
	*count_r = 0;
	if (lock_and_load(mb, error_r) < 0)
		return -1;
	for (unsigned i = 0; i < mb->count; i++) {
		struct mbox_msg *m = &mb->msgs[i];
		if (m->expunged || m->file == NULL)
			continue;
		if (filter != NULL &&
		    bsearch(&m->uid, filter, nfilter, sizeof(*filter), u32_cmp) == NULL)
			continue;
		struct mbox_index_rec *r = mbox_ix_find(&mb->ix, m->uid);
		if (r == NULL || (need_deleted && (r->flags & MBOX_F_DELETED) == 0))
			continue;
		bool unlinked = false, skip = false;
		for (int attempt = 0; attempt < 4; attempt++) {
			char *path = mbox_path(mb, m);
			int u = unlink(path);
			int e = errno;
			free(path);
			if (u == 0) {
				unlinked = true;
				break;
			}
			if (e != ENOENT) {
				*error_r = store_err_sys("unlink", m->file, e);
				ret = -1;
				break;
			}
			char *file;
			bool in_cur;
			int k = mbox_find_file(mb->dir, m->file, &file, &in_cur, error_r);
			if (k < 0)
				ret = -1;
			if (k <= 0)
				break;
			free(m->file);
			m->file = file;
			m->in_cur = in_cur;
			uint8_t fl;
			uint32_t kw;
			mbox_name_flags(file, &fl, &kw);
			if (need_deleted && (fl & MBOX_F_DELETED) == 0) {
				/* someone took \Deleted away meanwhile: the next sync
				 * tells the session */
				skip = true;
				break;
			}
		}
		if (ret < 0)
			break;
		if (skip)
			continue;
		uids = xreallocarray(uids, cnt + 1, sizeof(*uids));
		uids[cnt++] = m->uid;
		m->expunged = true;
		if (unlinked) {
			bytes += (int64_t)r->size;
			files++;
		}
	}
	if (cnt > 0) {
		mbox_ix_remove(&mb->ix, uids, cnt);
		mbox_ix_add_expunges(&mb->ix, uids, cnt, ++mb->ix.highest_modseq);
		mbox_cache_merge_locked(mb);
		const char *err;
		if (mbox_index_store(mb, &err) < 0 && ret == 0) {
			*error_r = err;
			ret = -1;
		}
	}
	mbox_unlock(mb);
	if (files > 0) {
		const char *err;
		if (quota_add(mb->root, &mb->set.quota, -bytes, -files, &err) < 0)
			log_warn("event=quota_update_failed root=%s error=%s", log_esc(mb->root),
			         log_esc(err));
	}
	if (cnt > 0)
		uidlist_drop(mb, uids, cnt);
	if (ret < 0) {
		/* the view marks tell what did go */
		free(uids);
		return -1;
	}
	*uids_r = uids;
	*count_r = cnt;
	return 0;
}

int mbox_expunge(struct mbox *mb, const uint32_t *uids, unsigned nuids, uint32_t **uids_r,
                 unsigned *count_r, const char **error_r)
{
	uint32_t *sorted = NULL;
	if (uids != NULL) {
		sorted = xmalloc((nuids + 1) * sizeof(*sorted));
		memcpy(sorted, uids, nuids * sizeof(*sorted));
		qsort(sorted, nuids, sizeof(*sorted), u32_cmp);
	}
	int r = expunge_msgs(mb, sorted, nuids, true, uids_r, count_r, error_r);
	free(sorted);
	return r;
}

/* ---- APPEND ---- */

static int write_tmp(int fd, const char *tmp, const struct mbox_append_req *req,
                     struct maildir_vsize *vs, bool *too_big_r, const char **error_r)
{
	memset(vs, 0, sizeof(*vs));
	*too_big_r = false;
	if (req->fd < 0) {
		if (req->max_size > 0 && req->len > req->max_size) {
			*too_big_r = true;
			return 0;
		}
		maildir_vsize_update(vs, req->data, req->len);
		if (store_write_full(fd, req->data, req->len) < 0) {
			*error_r = store_err_sys("write", tmp, errno);
			return -1;
		}
		return 0;
	}
	char *b = xmalloc(65536);
	for (;;) {
		ssize_t n = read(req->fd, b, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = store_err_sys("read", "message", errno);
			free(b);
			return -1;
		}
		if (n == 0)
			break;
		maildir_vsize_update(vs, b, (size_t)n);
		if (req->max_size > 0 && vs->size > req->max_size) {
			*too_big_r = true;
			break;
		}
		if (store_write_full(fd, b, (size_t)n) < 0) {
			*error_r = store_err_sys("write", tmp, errno);
			free(b);
			return -1;
		}
	}
	free(b);
	return 0;
}

/* Link src (a complete file) under a new unique name with suffix into
 * dir/sub/; the final file name into *name_r. */
static int link_unique(const char *src, const char *dir, const char *sub, const char *sizes,
                       const char *info, char **name_r, const char **error_r)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		char uniq[MAILDIR_NAME_MAX];
		maildir_unique_name(uniq, sizeof(uniq));
		char *name = xasprintf("%s%s%s", uniq, sizes, info);
		char *dst = xasprintf("%s/%s/%s", dir, sub, name);
		int r = store_link(src, dst);
		int e = errno;
		free(dst);
		if (r == 0) {
			*name_r = name;
			return 0;
		}
		free(name);
		if (e != EEXIST) {
			errno = e;
			*error_r = store_err_sys("link", src, e);
			return -1;
		}
	}
	*error_r = "link: no unique name found";
	return -1;
}

static char *info_of(uint8_t fl, uint32_t kw)
{
	if ((fl & (MBOX_F_STORABLE | MBOX_F_PASSED)) == 0 && kw == 0)
		return xstrdup("");
	char *s = mbox_name_with_flags("", fl, kw);
	return s;
}

int mbox_append(struct mbox *mb, const struct mbox_append_req *req,
                enum mbox_append_status *status_r, uint32_t *uid_r, const char **error_r)
{
	uint32_t kw = 0;
	char uniq[MAILDIR_NAME_MAX];
	char *tmpdir = store_path_join(mb->dir, "tmp");
	char *tmp = NULL, *name = NULL, *info = NULL;
	struct maildir_vsize vs;
	bool too_big;
	int ret = -1;
	uint8_t fl = req->flags & MBOX_F_STORABLE;

	*uid_r = 0;
	if (mbox_keywords_mask(mb, req->keywords, req->keyword_count, true, &kw, error_r) < 0)
		goto out;
	if (mkdir(tmpdir, 0700) < 0 && errno != EEXIST) {
		*error_r = store_err_sys("mkdir", tmpdir, errno);
		goto out;
	}
	maildir_unique_name(uniq, sizeof(uniq));
	tmp = xasprintf("%s/%s", tmpdir, uniq);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = store_err_sys("open", tmp, errno);
		goto out;
	}
	int w = write_tmp(fd, tmp, req, &vs, &too_big, error_r);
	if (w == 0 && !too_big && fsync(fd) < 0) {
		*error_r = store_err_sys("fsync", tmp, errno);
		w = -1;
	}
	if (w == 0 && !too_big) {
		int64_t idate = req->idate != 0 ? req->idate : (int64_t)time(NULL);
		struct timespec ts[2] = {{(time_t)idate, 0}, {(time_t)idate, 0}};
		if (futimens(fd, ts) < 0) {
			*error_r = store_err_sys("futimens", tmp, errno);
			w = -1;
		}
	}
	close(fd);
	if (w < 0 || too_big) {
		unlink(tmp);
		if (too_big) {
			*status_r = MBOX_APPEND_TOO_BIG;
			ret = 0;
		}
		goto out;
	}
	int q = quota_check_size(mb->root, &mb->set.quota, vs.size, error_r);
	if (q != 0) {
		unlink(tmp);
		if (q > 0) {
			*status_r = MBOX_APPEND_QUOTA;
			ret = 0;
		}
		goto out;
	}
	char sizes[64];
	snprintf(sizes, sizeof(sizes), ",S=%llu,W=%llu", (unsigned long long)vs.size,
	         (unsigned long long)vs.vsize);
	info = info_of(fl, kw);
	const char *sub = info[0] != '\0' ? "cur" : "new";
	int l = link_unique(tmp, mb->dir, sub, sizes, info, &name, error_r);
	unlink(tmp);
	if (l < 0)
		goto out;
	char *subdir = store_path_join(mb->dir, sub);
	int fs = store_fsync_dir(subdir, error_r);
	free(subdir);
	if (fs < 0)
		goto out;
	const char *qerr;
	if (quota_add(mb->root, &mb->set.quota, (int64_t)vs.size, 1, &qerr) < 0)
		log_warn("event=quota_update_failed root=%s error=%s", log_esc(mb->root),
		         log_esc(qerr));
	if (mbox_refresh(mb, error_r) < 0)
		goto out;
	const struct uidlist_rec *u = uidlist_lookup_name(&mb->ul, name);
	if (u == NULL) {
		*error_r = store_err("appended %s got no UID", name);
		goto out;
	}
	*uid_r = u->uid;
	*status_r = MBOX_APPEND_OK;
	ret = 0;
out:
	free(tmpdir);
	free(tmp);
	free(name);
	free(info);
	return ret;
}

/* ---- COPY / MOVE ---- */

static int store_fsync_dir_sub(const char *dir, const char *sub, const char **error_r)
{
	char *p = store_path_join(dir, sub);
	int r = store_fsync_dir(p, error_r);
	free(p);
	return r;
}

/* Copy file src to a new file in dir/tmp/ (same mtime), for when a hard
 * link is not possible. *tmp_r malloc'd. */
static int copy_to_tmp(const char *src, const char *dir, char **tmp_r, const char **error_r)
{
	char uniq[MAILDIR_NAME_MAX];
	struct stat st;
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		*error_r = store_err_sys("open", src, errno);
		return -1;
	}
	maildir_unique_name(uniq, sizeof(uniq));
	char *tmp = xasprintf("%s/tmp/%s", dir, uniq);
	int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int ret = -1;
	char *b = xmalloc(65536);
	if (out < 0) {
		*error_r = store_err_sys("open", tmp, errno);
		goto done;
	}
	for (;;) {
		ssize_t n = read(in, b, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (n > 0 && store_write_full(out, b, (size_t)n) < 0)) {
			*error_r = store_err_sys("copy", tmp, errno);
			goto done;
		}
		if (n == 0)
			break;
	}
	if (fstat(in, &st) < 0 || fsync(out) < 0) {
		*error_r = store_err_sys("fsync", tmp, errno);
		goto done;
	}
	struct timespec ts[2] = {st.st_atim, st.st_mtim};
	(void)futimens(out, ts);
	ret = 0;
done:
	free(b);
	close(in);
	if (out >= 0)
		close(out);
	if (ret < 0) {
		unlink(tmp);
		free(tmp);
	} else {
		*tmp_r = tmp;
	}
	return ret;
}

int mbox_copy(struct mbox *src, const uint32_t *seqs, unsigned n, struct mbox *dst,
              uint32_t **src_uids_r, uint32_t **dst_uids_r, unsigned *count_r, const char **error_r)
{
	uint64_t total = 0;
	unsigned cnt = 0;
	uint32_t *suids = xcalloc(n + 1, sizeof(uint32_t));
	char **names = xcalloc(n + 1, sizeof(char *));
	bool cur_used = false, new_used = false;
	int ret = -1;

	*src_uids_r = NULL;
	*dst_uids_r = NULL;
	*count_r = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct mbox_msg *m = mbox_msg(src, seqs[i]);
		if (m != NULL && !m->expunged)
			total += m->size;
	}
	int q = quota_check_size(dst->root, &dst->set.quota, total, error_r);
	if (q != 0) {
		ret = q > 0 ? 0 : -1;
		goto out;
	}
	(void)keywords_read(src->dir, &src->kw, error_r);
	for (unsigned i = 0; i < n; i++) {
		struct mbox_msg *m =
		    seqs[i] >= 1 && seqs[i] <= src->count ? &src->msgs[seqs[i] - 1] : NULL;
		if (m == NULL || m->expunged || m->file == NULL)
			continue;
		/* Keywords by name into dst's letters. */
		/* copies: src and dst may be one mailbox, whose names the
		 * lookup below replaces */
		char *kwnames[KEYWORDS_MAX];
		unsigned nk = 0;
		for (unsigned b = 0; b < KEYWORDS_MAX; b++) {
			if ((m->keywords & (1u << b)) == 0)
				continue;
			const char *nm = keywords_name(&src->kw, (char)('a' + b));
			if (nm != NULL)
				kwnames[nk++] = xstrdup(nm);
		}
		uint32_t kw;
		int km =
		    mbox_keywords_mask(dst, (const char *const *)kwnames, nk, true, &kw, error_r);
		for (unsigned k = 0; k < nk; k++)
			free(kwnames[k]);
		if (km < 0)
			goto undo;
		char sizes[64];
		snprintf(sizes, sizeof(sizes), ",S=%llu,W=%llu", (unsigned long long)m->size,
		         (unsigned long long)m->vsize);
		char *info = info_of(m->flags & (MBOX_F_STORABLE | MBOX_F_PASSED), kw);
		const char *sub = info[0] != '\0' ? "cur" : "new";
		int l = -1;
		for (int attempt = 0; attempt < 4; attempt++) {
			char *path = mbox_path(src, m);
			l = link_unique(path, dst->dir, sub, sizes, info, &names[cnt], error_r);
			int e = errno;
			if (l < 0 && (e == EXDEV || e == EPERM || e == EMLINK || e == ENOTSUP)) {
				char *tmp;
				l = copy_to_tmp(path, dst->dir, &tmp, error_r);
				if (l == 0) {
					l = link_unique(tmp, dst->dir, sub, sizes, info,
					                &names[cnt], error_r);
					unlink(tmp);
					free(tmp);
				}
				free(path);
				break;
			}
			free(path);
			if (l == 0 || e != ENOENT)
				break;
			char *file;
			bool in_cur;
			int k = mbox_find_file(src->dir, m->file, &file, &in_cur, error_r);
			if (k <= 0) {
				l = k < 0 ? -1 : 1; /* 1: gone, skip */
				break;
			}
			free(m->file);
			m->file = file;
			m->in_cur = in_cur;
		}
		free(info);
		if (l < 0)
			goto undo;
		if (l > 0)
			continue;
		cur_used |= sub[0] == 'c';
		new_used |= sub[0] == 'n';
		suids[cnt++] = m->uid;
	}
	if ((cur_used && store_fsync_dir_sub(dst->dir, "cur", error_r) < 0) ||
	    (new_used && store_fsync_dir_sub(dst->dir, "new", error_r) < 0))
		goto undo;
	total = 0;
	for (unsigned i = 0; i < cnt; i++) {
		struct maildir_name mn;
		(void)maildir_name_parse(names[i], strlen(names[i]), &mn);
		total += mn.size;
	}
	if (cnt > 0) {
		const char *qerr;
		if (quota_add(dst->root, &dst->set.quota, (int64_t)total, cnt, &qerr) < 0)
			log_warn("event=quota_update_failed root=%s error=%s", log_esc(dst->root),
			         log_esc(qerr));
	}
	if (mbox_refresh(dst, error_r) < 0)
		goto out;
	uint32_t *duids = xcalloc(cnt + 1, sizeof(uint32_t));
	for (unsigned i = 0; i < cnt; i++) {
		const struct uidlist_rec *u = uidlist_lookup_name(&dst->ul, names[i]);
		duids[i] = u != NULL ? u->uid : 0;
	}
	*src_uids_r = suids;
	*dst_uids_r = duids;
	*count_r = cnt;
	suids = NULL;
	ret = 1;
	goto out;
undo:
	/* Remove what was linked already: all or nothing. */
	for (unsigned i = 0; i < cnt; i++) {
		char *p1 = xasprintf("%s/cur/%s", dst->dir, names[i]);
		char *p2 = xasprintf("%s/new/%s", dst->dir, names[i]);
		unlink(p1);
		unlink(p2);
		free(p1);
		free(p2);
	}
out:
	for (unsigned i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(suids);
	return ret;
}

int mbox_move(struct mbox *src, const uint32_t *seqs, unsigned n, struct mbox *dst,
              uint32_t **src_uids_r, uint32_t **dst_uids_r, unsigned *count_r, const char **error_r)
{
	int r = mbox_copy(src, seqs, n, dst, src_uids_r, dst_uids_r, count_r, error_r);
	if (r <= 0 || *count_r == 0)
		return r;
	uint32_t *sorted = xmalloc(*count_r * sizeof(uint32_t));
	memcpy(sorted, *src_uids_r, *count_r * sizeof(uint32_t));
	qsort(sorted, *count_r, sizeof(uint32_t), u32_cmp);
	uint32_t *gone;
	unsigned ngone;
	int e = expunge_msgs(src, sorted, *count_r, false, &gone, &ngone, error_r);
	free(sorted);
	if (e < 0) {
		free(*src_uids_r);
		free(*dst_uids_r);
		*src_uids_r = *dst_uids_r = NULL;
		*count_r = 0;
		return -1;
	}
	free(gone);
	return 1;
}
