/*
 * mbox.c - opening and syncing a mailbox, the session's view and its
 * change tracking, STATUS, and the QRESYNC expunge history (mbox.h).
 *
 * A sync ("refresh") runs under the index lock: load vmaild.index when
 * another process wrote it (or rebuild it when it is missing or damaged),
 * uidlist_sync() (UIDs for new files; one readdir of new/ and cur/), then
 * merge: a listed file whose flags differ from the index's snapshot gets
 * a new MODSEQ, a new UID is indexed (stat for its mtime and, without S=
 * and W= in its name, its sizes), an indexed UID without file is expunged
 * (after a second listing, since a file renamed during a readdir can be
 * missed once). Files in new/ are then moved to cur/ (not read-only) and
 * become \Recent for this session. The view is updated from the index
 * afterwards, outside the lock.
 */
#include "store/mbox-private.h"
#include "store/store-private.h"
#include "core/log.h"
#include "core/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- names ---- */

static const struct {
	char c;
	uint8_t f;
} flag_map[] = {
    {'D', MBOX_F_DRAFT},    {'F', MBOX_F_FLAGGED}, {'P', MBOX_F_PASSED},
    {'R', MBOX_F_ANSWERED}, {'S', MBOX_F_SEEN},    {'T', MBOX_F_DELETED},
};

void mbox_name_flags(const char *name, uint8_t *flags_r, uint32_t *kw_r)
{
	struct maildir_name n;

	*flags_r = 0;
	*kw_r = 0;
	if (maildir_name_parse(name, strlen(name), &n) < 0 || !n.have_info)
		return;
	for (const char *p = n.flags; *p != '\0'; p++)
		for (unsigned i = 0; i < sizeof(flag_map) / sizeof(flag_map[0]); i++)
			if (flag_map[i].c == *p)
				*flags_r |= flag_map[i].f;
	for (const char *p = n.keywords; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z')
			*kw_r |= 1u << (*p - 'a');
}

char *mbox_name_with_flags(const char *name, uint8_t flags, uint32_t kw)
{
	const char *info = strstr(name, ":2,");
	size_t blen = info != NULL ? (size_t)(info - name) : strlen(name);
	char *out = xmalloc(blen + 3 + 6 + 26 + 1);
	char *p = out;

	memcpy(p, name, blen);
	p += blen;
	memcpy(p, ":2,", 3);
	p += 3;
	for (unsigned i = 0; i < sizeof(flag_map) / sizeof(flag_map[0]); i++)
		if ((flags & flag_map[i].f) != 0)
			*p++ = flag_map[i].c;
	for (unsigned i = 0; i < KEYWORDS_MAX; i++)
		if ((kw & (1u << i)) != 0)
			*p++ = (char)('a' + i);
	*p = '\0';
	return out;
}

static size_t base_len(const char *name)
{
	const char *c = strchr(name, ':');
	return c != NULL ? (size_t)(c - name) : strlen(name);
}

int mbox_find_file(const char *dir, const char *name, char **file_r, bool *in_cur_r,
                   const char **error_r)
{
	static const char *const subs[] = {"cur", "new"};
	size_t bl = base_len(name);

	for (unsigned s = 0; s < 2; s++) {
		char *path = store_path_join(dir, subs[s]);
		DIR *d = opendir(path);
		if (d == NULL) {
			int e = errno;
			if (e == ENOENT) {
				free(path);
				continue;
			}
			*error_r = store_err_sys("opendir", path, e);
			free(path);
			return -1;
		}
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, name, bl) == 0 &&
			    (de->d_name[bl] == '\0' || de->d_name[bl] == ':')) {
				*file_r = xstrdup(de->d_name);
				*in_cur_r = s == 0;
				closedir(d);
				free(path);
				return 1;
			}
		}
		closedir(d);
		free(path);
	}
	return 0;
}

const struct uidlist_rec *mbox_ul_rec(const struct mbox *mb, uint32_t uid)
{
	return uidlist_lookup_uid(&mb->ul, uid);
}

/* ---- refresh ---- */

static void recent_add(struct mbox *mb, uint32_t uid)
{
	if (mb->recent_new_count == mb->recent_new_cap) {
		mb->recent_new_cap = mb->recent_new_cap == 0 ? 16 : mb->recent_new_cap * 2;
		mb->recent_new =
		    xreallocarray(mb->recent_new, mb->recent_new_cap, sizeof(uint32_t));
	}
	mb->recent_new[mb->recent_new_count++] = uid;
}

static void ix_append(struct mbox_index *ix, const struct mbox_index_rec *r)
{
	if (ix->count == ix->cap) {
		ix->cap = ix->cap < 16 ? 16 : ix->cap * 2;
		ix->recs = xreallocarray(ix->recs, ix->cap, sizeof(*ix->recs));
	}
	ix->recs[ix->count++] = *r;
}

/* A new message of the uidlist into a record (stat; sizes from the name
 * or the file). 0 ok, 1 file gone meanwhile, -1 error. */
static int index_new(struct mbox *mb, const struct uidlist_rec *u, struct mbox_index_rec *r,
                     const char **error_r)
{
	char *path = xasprintf("%s/%s/%s", mb->dir, u->in_cur ? "cur" : "new", u->file);
	struct maildir_name n;
	struct stat st;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	r->uid = u->uid;
	mbox_name_flags(u->file, &r->flags, &r->keywords);
	r->flags &= MBOX_F_STORABLE | MBOX_F_PASSED;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT) {
			free(path);
			return 1;
		}
		*error_r = store_err_sys("stat", path, errno);
		free(path);
		return -1;
	}
	r->idate = st.st_mtime;
	r->save_date = time(NULL);
	(void)maildir_name_parse(u->file, strlen(u->file), &n);
	r->size = n.have_size ? n.size : (uint64_t)st.st_size;
	if (n.have_vsize) {
		r->vsize = n.vsize;
	} else if (maildir_message_vsize(path, &r->vsize, error_r) < 0) {
		ret = access(path, F_OK) < 0 && errno == ENOENT ? 1 : -1;
	}
	free(path);
	return ret;
}

static bool stamp_take(const struct mbox *mb, struct mbox_dirstamp *s)
{
	struct stat st;
	char *p;
	bool ok = true;

	memset(s, 0, sizeof(*s));
	p = store_path_join(mb->dir, "cur");
	ok &= stat(p, &st) == 0;
	s->cur = st.st_mtim;
	free(p);
	p = store_path_join(mb->dir, "new");
	ok &= stat(p, &st) == 0;
	s->new = st.st_mtim;
	free(p);
	p = store_path_join(mb->dir, UIDLIST_FILE);
	ok &= stat(p, &st) == 0;
	s->ul = st.st_mtim;
	s->ul_size = st.st_size;
	s->ul_ino = st.st_ino;
	free(p);
	s->taken = time(NULL);
	s->valid = ok;
	return ok;
}

static bool ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* Nothing in new/, cur/ or dovecot-uidlist changed since the last
 * listing. A change in the same clock tick as an earlier one may leave
 * the mtime as it was, so only mtimes that were at least 2 seconds old
 * when the stamp was taken are trusted. */
static bool stamp_unchanged(const struct mbox *mb)
{
	struct mbox_dirstamp now;
	const struct mbox_dirstamp *o = &mb->stamp;

	if (!o->valid || !stamp_take(mb, &now))
		return false;
	if (!ts_eq(now.cur, o->cur) || !ts_eq(now.new, o->new) || !ts_eq(now.ul, o->ul) ||
	    now.ul_size != o->ul_size || now.ul_ino != o->ul_ino)
		return false;
	return o->cur.tv_sec + 2 <= o->taken && o->new.tv_sec + 2 <= o->taken &&
	       o->ul.tv_sec + 2 <= o->taken;
}

static int do_uidlist_sync(struct mbox *mb, const char **error_r)
{
	(void)stamp_take(mb, &mb->stamp);
	struct uidlist_sync_settings us = {
	    .lock_timeout_secs = mb->set.lock_timeout_secs > 0 ? mb->set.lock_timeout_secs
	                                                       : UIDLIST_LOCK_TIMEOUT_SECS,
	    .drop_missing = false,
	    .max_messages = mb->set.max_messages,
	};
	unsigned added;
	int r = uidlist_sync(mb->root, mb->dir, &us, &mb->ul, &added, error_r);
	if (r < 0)
		return -1;
	if (r == 0) {
		/* The lock was busy: nothing new got a UID; list again next time. */
		mb->stamp.valid = false;
		if (mb->ul.uidvalidity == 0)
			return -1; /* no uidlist yet: try later */
	}
	return 0;
}

/* Any indexed UID whose file the listing did not show? */
static bool missing_any(const struct mbox *mb)
{
	for (unsigned i = 0; i < mb->ix.count; i++) {
		const struct uidlist_rec *u = uidlist_lookup_uid(&mb->ul, mb->ix.recs[i].uid);
		if (u == NULL || u->file == NULL)
			return true;
	}
	return false;
}

int mbox_refresh_locked(struct mbox *mb, bool *changed_r, const char **error_r)
{
	bool rebuild;
	bool changed = false;

	*changed_r = false;
	if (mbox_index_load(mb, &rebuild, error_r) < 0)
		return -1;
	bool listed = false;
	if (rebuild || mb->ul.uidvalidity == 0 || !stamp_unchanged(mb)) {
		if (do_uidlist_sync(mb, error_r) < 0)
			return -1;
		listed = true;
	}
	if (!rebuild && mb->ix.uidvalidity != mb->ul.uidvalidity) {
		log_warn("event=index_rebuilt mailbox=%s reason=uidvalidity_changed old=%u new=%u",
		         log_esc(mb->dir), mb->ix.uidvalidity, mb->ul.uidvalidity);
		rebuild = true;
	}
	if (rebuild) {
		uint64_t old = mb->ix.highest_modseq;
		if (mb->ix_damaged || mb->ul.count > 0)
			log_warn("event=index_rebuilt mailbox=%s reason=%s messages=%u",
			         log_esc(mb->dir), mb->ix_damaged ? "damaged" : "missing",
			         mb->ul.count);
		mbox_index_free(&mb->ix);
		mb->ix.uidvalidity = mb->ul.uidvalidity;
		uint64_t base = mbox_modseq_base();
		mb->ix.highest_modseq = base > old ? base : old + 1;
		mb->ix.modseq_floor = mb->ix.highest_modseq + 1;
		/* A generation no earlier file can have had, so that no session
		 * takes the new file for the one it has loaded. */
		mb->ix_generation = base;
		changed = true;
	} else if (listed && missing_any(mb)) {
		/* A file renamed during the readdir may have been missed: look
		 * once more before calling anything expunged. */
		if (do_uidlist_sync(mb, error_r) < 0)
			return -1;
	}
	mb->ix.next_uid = mb->ul.next_uid;

	/* Merge. Both lists ascend by UID. */
	struct mbox_index nix;
	mbox_index_init(&nix);
	nix.cap = mb->ul.count + 1;
	nix.recs = xcalloc(nix.cap, sizeof(*nix.recs));
	uint32_t *gone = NULL;
	unsigned ngone = 0;
	unsigned i = 0, j = 0;
	int ret = 0;
	while (i < mb->ix.count || j < mb->ul.count) {
		const struct uidlist_rec *u = j < mb->ul.count ? &mb->ul.recs[j] : NULL;
		struct mbox_index_rec *r = i < mb->ix.count ? &mb->ix.recs[i] : NULL;
		if (u != NULL && u->file == NULL && (r == NULL || u->uid < r->uid)) {
			j++; /* listed, no file, never indexed: nothing to do */
			continue;
		}
		if (r != NULL && (u == NULL || r->uid < u->uid || u->file == NULL)) {
			gone = xreallocarray(gone, ngone + 1, sizeof(*gone));
			gone[ngone++] = r->uid;
			i++;
			if (u != NULL && u->uid == r->uid)
				j++;
			continue;
		}
		if (r != NULL && r->uid == u->uid) {
			uint8_t fl;
			uint32_t kw;
			mbox_name_flags(u->file, &fl, &kw);
			fl &= MBOX_F_STORABLE | MBOX_F_PASSED;
			struct mbox_index_rec nr = *r;
			if (fl != r->flags || kw != r->keywords) {
				nr.flags = fl;
				nr.keywords = kw;
				nr.modseq = ++mb->ix.highest_modseq;
				changed = true;
			}
			ix_append(&nix, &nr);
			i++;
			j++;
			continue;
		}
		/* New in the uidlist. */
		struct mbox_index_rec nr;
		int k = index_new(mb, u, &nr, error_r);
		if (k < 0) {
			ret = -1;
			break;
		}
		j++;
		if (k > 0)
			continue; /* gone already: the next sync sees it */
		nr.modseq = ++mb->ix.highest_modseq;
		ix_append(&nix, &nr);
		changed = true;
	}
	if (ret < 0) {
		mbox_index_free(&nix);
		free(gone);
		/* Keep mb->ix as read; nothing written. */
		mb->ix_loaded = false;
		return -1;
	}
	nix.uidvalidity = mb->ix.uidvalidity;
	nix.next_uid = mb->ix.next_uid;
	nix.highest_modseq = mb->ix.highest_modseq;
	nix.modseq_floor = mb->ix.modseq_floor;
	nix.cache_id = mb->ix.cache_id;
	nix.exps = mb->ix.exps;
	nix.exp_count = mb->ix.exp_count;
	nix.exp_cap = mb->ix.exp_cap;
	mb->ix.exps = NULL;
	mbox_index_free(&mb->ix);
	mb->ix = nix;
	if (ngone > 0) {
		mbox_ix_add_expunges(&mb->ix, gone, ngone, ++mb->ix.highest_modseq);
		changed = true;
	}
	free(gone);

	/* new/ -> cur/, \Recent for us. */
	if (!mb->set.read_only) {
		for (unsigned k = 0; k < mb->ul.count; k++) {
			struct uidlist_rec *u = &mb->ul.recs[k];
			if (u->file == NULL || u->in_cur || mbox_ix_find(&mb->ix, u->uid) == NULL)
				continue;
			char *from = xasprintf("%s/new/%s", mb->dir, u->file);
			char *nname = strstr(u->file, ":2,") != NULL ? xstrdup(u->file)
			                                             : xasprintf("%s:2,", u->file);
			char *to = xasprintf("%s/cur/%s", mb->dir, nname);
			if (rename(from, to) == 0) {
				free(u->file);
				u->file = nname;
				u->in_cur = true;
				recent_add(mb, u->uid);
			} else {
				free(nname);
			}
			free(from);
			free(to);
		}
	}
	mbox_cache_merge_locked(mb);
	*changed_r = changed || mb->cache_puts > 0;
	mb->cache_puts = 0;
	return 0;
}

int mbox_refresh(struct mbox *mb, const char **error_r)
{
	bool changed;

	if (mbox_lock(mb, error_r) < 0)
		return -1;
	int ret = mbox_refresh_locked(mb, &changed, error_r);
	if (ret == 0 && changed)
		ret = mbox_index_store(mb, error_r);
	mbox_unlock(mb);
	return ret;
}

/* ---- the view ---- */

static void msg_from_rec(struct mbox *mb, struct mbox_msg *m, const struct mbox_index_rec *r)
{
	const struct uidlist_rec *u = uidlist_lookup_uid(&mb->ul, r->uid);
	uint8_t recent = m->flags & MBOX_F_RECENT;

	if (m->uid != 0 && (m->flags & ~MBOX_F_RECENT) != r->flags)
		m->changed = true;
	if (m->uid != 0 && (m->keywords != r->keywords || m->modseq != r->modseq))
		m->changed = true;
	m->uid = r->uid;
	m->flags = r->flags | recent;
	m->keywords = r->keywords;
	m->modseq = r->modseq;
	m->size = r->size;
	m->vsize = r->vsize;
	m->idate = r->idate;
	m->save_date = r->save_date;
	if (r->cache_off > m->cache_off || mb->cache_id != mb->ix.cache_id)
		m->cache_off = r->cache_off;
	if (u != NULL && u->file != NULL && (m->file == NULL || strcmp(m->file, u->file) != 0)) {
		free(m->file);
		m->file = xstrdup(u->file);
		m->in_cur = u->in_cur;
	}
}

static void view_update(struct mbox *mb)
{
	unsigned i = 0, j = 0;
	uint32_t last = mb->count > 0 ? mb->msgs[mb->count - 1].uid : 0;

	if (mb->cache_id != mb->ix.cache_id) {
		for (unsigned k = 0; k < mb->count; k++)
			mb->msgs[k].cache_off = 0;
	}
	for (; i < mb->count; i++) {
		struct mbox_msg *m = &mb->msgs[i];
		while (j < mb->ix.count && mb->ix.recs[j].uid < m->uid)
			j++;
		if (m->expunged)
			continue;
		if (j >= mb->ix.count || mb->ix.recs[j].uid != m->uid) {
			m->expunged = true;
			continue;
		}
		msg_from_rec(mb, m, &mb->ix.recs[j]);
	}
	for (j = 0; j < mb->ix.count; j++) {
		if (mb->ix.recs[j].uid <= last)
			continue;
		if (mb->count == mb->cap) {
			mb->cap = mb->cap < 64 ? 64 : mb->cap * 2;
			mb->msgs = xreallocarray(mb->msgs, mb->cap, sizeof(*mb->msgs));
		}
		struct mbox_msg *m = &mb->msgs[mb->count++];
		memset(m, 0, sizeof(*m));
		msg_from_rec(mb, m, &mb->ix.recs[j]);
	}
	if (mb->cache_fd >= 0 && mb->cache_id != mb->ix.cache_id) {
		close(mb->cache_fd);
		mb->cache_fd = -1;
	}
	mb->cache_id = mb->ix.cache_id;
	for (unsigned k = 0; k < mb->recent_new_count; k++) {
		uint32_t seq = mbox_seq_of_uid(mb, mb->recent_new[k]);
		if (seq != 0)
			mb->msgs[seq - 1].flags |= MBOX_F_RECENT;
	}
	mb->recent_new_count = 0;
}

static void view_reset(struct mbox *mb)
{
	for (unsigned i = 0; i < mb->count; i++)
		free(mb->msgs[i].file);
	mb->count = 0;
	mb->reported_count = 0;
}

static int ensure_keywords_read(struct mbox *mb);

int mbox_sync(struct mbox *mb, const char **error_r)
{
	uint32_t old_uv = mb->ix.uidvalidity;

	if (mbox_refresh(mb, error_r) < 0)
		return -1;
	if (old_uv != 0 && old_uv != mb->ix.uidvalidity) {
		log_warn("event=uidvalidity_changed mailbox=%s old=%u new=%u", log_esc(mb->dir),
		         old_uv, mb->ix.uidvalidity);
		view_reset(mb); /* the IMAP layer must notice and disconnect */
		mb->uidvalidity_changed = true;
	}
	(void)ensure_keywords_read(mb);
	view_update(mb);
	return 0;
}

int mbox_open(const char *root, const char *mailbox_dir, const struct mbox_settings *set,
              struct mbox **mb_r, const char **error_r)
{
	char *cur = store_path_join(mailbox_dir, "cur");
	struct stat st;

	if (stat(cur, &st) < 0 || !S_ISDIR(st.st_mode)) {
		*error_r = store_err_sys("stat", cur, errno != 0 ? errno : ENOTDIR);
		free(cur);
		return -1;
	}
	free(cur);
	struct mbox *mb = xcalloc(1, sizeof(*mb));
	mb->root = xstrdup(root);
	mb->dir = xstrdup(mailbox_dir);
	if (set != NULL)
		mb->set = *set;
	mb->cache_fd = -1;
	mb->lock_fd = -1;
	uidlist_init(&mb->ul);
	keywords_init(&mb->kw);
	mbox_index_init(&mb->ix);
	if (mbox_sync(mb, error_r) < 0) {
		mbox_close(&mb);
		return -1;
	}
	*mb_r = mb;
	return 0;
}

void mbox_close(struct mbox **mbp)
{
	struct mbox *mb = *mbp;
	const char *err;

	if (mb == NULL)
		return;
	*mbp = NULL;
	if (mb->cache_pending && mbox_lock(mb, &err) == 0) {
		bool rebuild;
		if (mbox_index_load(mb, &rebuild, &err) == 0 && !rebuild) {
			mbox_cache_merge_locked(mb);
			if (mbox_index_store(mb, &err) < 0)
				log_warn("event=index_write_failed mailbox=%s error=%s",
				         log_esc(mb->dir), log_esc(err));
		}
		mbox_unlock(mb);
	}
	view_reset(mb);
	free(mb->msgs);
	free(mb->recent_new);
	mbox_index_free(&mb->ix);
	uidlist_free(&mb->ul);
	keywords_free(&mb->kw);
	if (mb->cache_fd >= 0)
		close(mb->cache_fd);
	free(mb->root);
	free(mb->dir);
	free(mb);
}

unsigned mbox_count(const struct mbox *mb)
{
	return mb->count;
}

const struct mbox_msg *mbox_msg(const struct mbox *mb, uint32_t seq)
{
	return seq >= 1 && seq <= mb->count ? &mb->msgs[seq - 1] : NULL;
}

uint32_t mbox_seq_of_uid(const struct mbox *mb, uint32_t uid)
{
	unsigned lo = 0, hi = mb->count;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (mb->msgs[mid].uid == uid)
			return mid + 1;
		if (mb->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

const char *mbox_dir(const struct mbox *mb)
{
	return mb->dir;
}

bool mbox_exists(const char *mailbox_dir)
{
	char *cur = store_path_join(mailbox_dir, "cur");
	struct stat st;
	bool r = stat(cur, &st) == 0 && S_ISDIR(st.st_mode);
	free(cur);
	return r;
}

char *mbox_path(const struct mbox *mb, const struct mbox_msg *m)
{
	return xasprintf("%s/%s/%s", mb->dir, m->in_cur ? "cur" : "new",
	                 m->file != NULL ? m->file : "");
}

int mbox_open_msg(struct mbox *mb, uint32_t seq, int *fd_r, const char **error_r)
{
	struct mbox_msg *m = seq >= 1 && seq <= mb->count ? &mb->msgs[seq - 1] : NULL;

	if (m == NULL || m->file == NULL)
		return 0;
	for (int attempt = 0; attempt < 3; attempt++) {
		char *path = mbox_path(mb, m);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		int e = errno;
		free(path);
		if (fd >= 0) {
			*fd_r = fd;
			return 1;
		}
		if (e != ENOENT) {
			*error_r = store_err_sys("open", m->file, e);
			return -1;
		}
		char *file;
		bool in_cur;
		int r = mbox_find_file(mb->dir, m->file, &file, &in_cur, error_r);
		if (r <= 0)
			return r;
		free(m->file);
		m->file = file;
		m->in_cur = in_cur;
	}
	return 0;
}

/* The file is small and an mtime can miss a change in the same second:
 * read it at every sync. A damaged one keeps the names we had. */
static int ensure_keywords_read(struct mbox *mb)
{
	const char *err;
	struct keywords kw;

	keywords_init(&kw);
	if (keywords_read(mb->dir, &kw, &err) < 0) {
		log_warn("event=keywords_unreadable mailbox=%s error=%s", log_esc(mb->dir),
		         log_esc(err));
		keywords_free(&kw);
		return -1;
	}
	keywords_free(&mb->kw);
	mb->kw = kw;
	return 0;
}

const char *mbox_keyword_name(const struct mbox *mb, unsigned bit)
{
	if (bit >= KEYWORDS_MAX)
		return NULL;
	return keywords_name(&mb->kw, (char)('a' + bit));
}

int mbox_keyword_bit(const struct mbox *mb, const char *name)
{
	char c = keywords_letter(&mb->kw, name);
	return c == '\0' ? -1 : c - 'a';
}

/* ---- status ---- */

void mbox_get_status(const struct mbox *mb, struct mbox_status *st)
{
	memset(st, 0, sizeof(*st));
	uint32_t seq = 0;
	for (unsigned i = 0; i < mb->count; i++) {
		const struct mbox_msg *m = &mb->msgs[i];
		seq++;
		if (m->expunged)
			continue;
		st->messages++;
		if ((m->flags & MBOX_F_RECENT) != 0)
			st->recent++;
		if ((m->flags & MBOX_F_SEEN) == 0) {
			st->unseen++;
			if (st->first_unseen == 0)
				st->first_unseen = seq;
		}
		st->size += m->vsize;
	}
	st->uidvalidity = mb->ix.uidvalidity;
	st->uidnext = mb->ul.next_uid > mb->ix.next_uid ? mb->ul.next_uid : mb->ix.next_uid;
	st->highest_modseq = mb->ix.highest_modseq;
}

int mbox_status(const char *root, const char *mailbox_dir, struct mbox_status *st_r,
                const char **error_r)
{
	struct mbox_settings set = {.read_only = true};
	struct mbox *mb;

	if (mbox_open(root, mailbox_dir, &set, &mb, error_r) < 0)
		return -1;
	mbox_get_status(mb, st_r);
	/* \Recent for the next session that selects it: still in new/ */
	st_r->recent = 0;
	for (unsigned i = 0; i < mb->count; i++)
		st_r->recent += !mb->msgs[i].in_cur && !mb->msgs[i].expunged;
	mbox_close(&mb);
	return 0;
}

/* ---- change tracking ---- */

void mbox_view_changes(struct mbox *mb, struct mbox_changes *ch)
{
	memset(ch, 0, sizeof(*ch));
	for (unsigned i = mb->count; i > 0; i--) {
		const struct mbox_msg *m = &mb->msgs[i - 1];
		if (!m->expunged)
			continue;
		ch->expunged_seqs =
		    xreallocarray(ch->expunged_seqs, ch->expunged_count + 1, sizeof(uint32_t));
		ch->expunged_uids =
		    xreallocarray(ch->expunged_uids, ch->expunged_count + 1, sizeof(uint32_t));
		ch->expunged_seqs[ch->expunged_count] = i;
		ch->expunged_uids[ch->expunged_count++] = m->uid;
	}
	for (unsigned i = 0; i < mb->count; i++) {
		const struct mbox_msg *m = &mb->msgs[i];
		if ((m->flags & MBOX_F_RECENT) != 0 && !m->expunged)
			ch->recent++;
		if (!m->changed || m->expunged || i >= mb->reported_count)
			continue;
		ch->changed_seqs =
		    xreallocarray(ch->changed_seqs, ch->changed_count + 1, sizeof(uint32_t));
		ch->changed_seqs[ch->changed_count++] = i + 1;
	}
	ch->uidvalidity_changed = mb->uidvalidity_changed;
	ch->exists = mb->count;
	ch->new_count = mb->count > mb->reported_count ? mb->count - mb->reported_count : 0;
	ch->highest_modseq = mb->ix.highest_modseq;
}

void mbox_view_changes_done(struct mbox *mb)
{
	for (unsigned i = 0; i < mb->count; i++)
		mb->msgs[i].changed = false;
	mb->reported_count = mb->count;
}

void mbox_changes_free(struct mbox_changes *ch)
{
	free(ch->expunged_seqs);
	free(ch->expunged_uids);
	free(ch->changed_seqs);
	memset(ch, 0, sizeof(*ch));
}

unsigned mbox_view_apply_expunges(struct mbox *mb, uint32_t **seqs_r, uint32_t **uids_r)
{
	struct mbox_changes ch;
	mbox_view_changes(mb, &ch);
	unsigned n = ch.expunged_count;
	unsigned o = 0, dropped_reported = 0;

	for (unsigned i = 0; i < mb->count; i++) {
		if (mb->msgs[i].expunged) {
			if (i < mb->reported_count)
				dropped_reported++;
			free(mb->msgs[i].file);
			continue;
		}
		mb->msgs[o++] = mb->msgs[i];
	}
	mb->count = o;
	mb->reported_count -= dropped_reported;
	if (seqs_r != NULL) {
		*seqs_r = ch.expunged_seqs;
		ch.expunged_seqs = NULL;
	}
	if (uids_r != NULL) {
		*uids_r = ch.expunged_uids;
		ch.expunged_uids = NULL;
	}
	mbox_changes_free(&ch);
	return n;
}

/* ---- QRESYNC ---- */

static int u32_cmp_asc(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int exp_cmp(const void *a, const void *b)
{
	const struct mbox_index_exp *x = a, *y = b;
	return x->uid_first < y->uid_first ? -1 : x->uid_first > y->uid_first;
}

/* The expunged UID ranges with a MODSEQ above modseq, sorted and merged. */
static struct mbox_index_exp *exp_ranges(const struct mbox_index *ix, uint64_t modseq,
                                         unsigned *n_r)
{
	struct mbox_index_exp *v = xcalloc(ix->exp_count + 1, sizeof(*v));
	unsigned n = 0, o = 0;

	for (unsigned i = 0; i < ix->exp_count; i++)
		if (ix->exps[i].modseq > modseq)
			v[n++] = ix->exps[i];
	qsort(v, n, sizeof(*v), exp_cmp);
	for (unsigned i = 0; i < n; i++) {
		if (o > 0 && v[i].uid_first <= v[o - 1].uid_last + 1) {
			if (v[i].uid_last > v[o - 1].uid_last)
				v[o - 1].uid_last = v[i].uid_last;
		} else {
			v[o++] = v[i];
		}
	}
	*n_r = o;
	return v;
}

static bool in_ranges(const struct mbox_index_exp *v, unsigned n, uint32_t uid)
{
	unsigned lo = 0, hi = n;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (uid < v[mid].uid_first)
			hi = mid;
		else if (uid > v[mid].uid_last)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

struct uid_out {
	uint32_t *v;
	unsigned n, cap;
};

static void out_add(struct uid_out *o, uint32_t uid)
{
	if (o->n == o->cap) {
		o->cap = o->cap == 0 ? 64 : o->cap * 2;
		o->v = xreallocarray(o->v, o->cap, sizeof(*o->v));
	}
	o->v[o->n++] = uid;
}

int mbox_expunged_since(struct mbox *mb, uint64_t modseq, const uint32_t *uids, unsigned n,
                        uint32_t **out_r, unsigned *count_r, const char **error_r)
{
	bool forgotten = modseq + 1 < mb->ix.modseq_floor;
	uint32_t limit = mb->ix.next_uid > 0 ? mb->ix.next_uid - 1 : 0;
	struct uid_out out = {NULL, 0, 0};
	unsigned nr;

	if (uids == NULL && forgotten && limit > 1000000) {
		*error_r = "mbox_expunged_since: history too short for so many UIDs";
		return -1;
	}
	struct mbox_index_exp *r = exp_ranges(&mb->ix, modseq, &nr);
	if (uids != NULL) {
		for (unsigned i = 0; i < n; i++) {
			uint32_t uid = uids[i];
			if (uid == 0 || mbox_ix_find(&mb->ix, uid) != NULL)
				continue;
			if (forgotten ? uid <= limit : in_ranges(r, nr, uid))
				out_add(&out, uid);
		}
		if (out.n > 1) {
			qsort(out.v, out.n, sizeof(*out.v), u32_cmp_asc);
			unsigned o = 1;
			for (unsigned i = 1; i < out.n; i++)
				if (out.v[i] != out.v[o - 1])
					out.v[o++] = out.v[i];
			out.n = o;
		}
	} else if (forgotten) {
		for (uint32_t uid = 1; uid <= limit; uid++)
			if (mbox_ix_find(&mb->ix, uid) == NULL)
				out_add(&out, uid);
	} else {
		for (unsigned i = 0; i < nr; i++)
			for (uint64_t uid = r[i].uid_first; uid <= r[i].uid_last; uid++)
				if (mbox_ix_find(&mb->ix, (uint32_t)uid) == NULL)
					out_add(&out, (uint32_t)uid);
	}
	free(r);
	*out_r = out.v;
	*count_r = out.n;
	return 0;
}
