/*
 * mbox-index.c - vmaild.index and vmaild.cache of a mailbox: the file
 * formats, their checksums, the index lock, loading and storing, and the
 * per-message cache (mbox_cache_get / mbox_cache_put).
 *
 * vmaild.index is one little-endian snapshot, replaced as a whole through
 * vmaild.index.tmp and rename(2), so a reader sees either the old or the
 * new file, never a mixture; a CRC-32 over everything before it ends the
 * file, so a file damaged in any other way is never believed:
 *   header (64 bytes): "VMIDX001", u32 version (1), u32 record size (64),
 *     u32 uidvalidity, u32 next uid, u64 highest modseq, u64 modseq floor,
 *     u64 cache id, u32 message count, u32 expunge range count,
 *     u64 generation (raised by every write)
 *   message records (64 bytes): u32 uid, u32 keyword bits, u8 flags,
 *     7 zero bytes, u64 modseq, size, vsize, i64 internal date, save date,
 *     u64 offset of the newest cache record (0: none)
 *   expunge ranges (16 bytes): u32 first uid, u32 last uid, u64 modseq
 *   u32 CRC-32 (zlib) of all bytes before it
 *
 * vmaild.cache: "VMCACHE1", u64 cache id, then appended records: u32
 * magic, u32 uid, u64 previous record of the same message, u16 field
 * length, u16 0, u32 data length, field, data, u32 CRC-32 of the record
 * before it. Records of one message form a chain from its index record.
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
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define IX_MAGIC        "VMIDX001"
#define IX_HDR_SIZE     64
#define IX_REC_SIZE     64
#define IX_EXP_SIZE     16
#define IX_MAX_SIZE     (512u * 1024 * 1024)
#define IX_MAX_EXPS     10000
#define CACHE_MAGIC     "VMCACHE1"
#define CACHE_REC_MAGIC 0x52434d56u
#define CACHE_REC_HDR   24
#define CACHE_MAX_HOPS  64

/* ---- little-endian helpers ---- */

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}
static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}
static uint32_t crc(const void *data, size_t len)
{
	uLong c = crc32(0L, Z_NULL, 0);
	const unsigned char *p = data;
	while (len > 0) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
		c = crc32(c, p, n);
		p += n;
		len -= n;
	}
	return (uint32_t)c;
}

/* ---- struct mbox_index ---- */

void mbox_index_init(struct mbox_index *ix)
{
	memset(ix, 0, sizeof(*ix));
}

void mbox_index_free(struct mbox_index *ix)
{
	free(ix->recs);
	free(ix->exps);
	mbox_index_init(ix);
}

struct mbox_index_rec *mbox_ix_find(struct mbox_index *ix, uint32_t uid)
{
	unsigned lo = 0, hi = ix->count;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (ix->recs[mid].uid == uid)
			return &ix->recs[mid];
		if (ix->recs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void mbox_ix_remove(struct mbox_index *ix, const uint32_t *uids, unsigned n)
{
	unsigned o = 0, j = 0;
	for (unsigned i = 0; i < ix->count; i++) {
		while (j < n && uids[j] < ix->recs[i].uid)
			j++;
		if (j < n && uids[j] == ix->recs[i].uid)
			continue;
		ix->recs[o++] = ix->recs[i];
	}
	ix->count = o;
}

void mbox_ix_add_expunges(struct mbox_index *ix, const uint32_t *uids, unsigned n, uint64_t modseq)
{
	for (unsigned i = 0; i < n;) {
		unsigned j = i;
		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (ix->exp_count == ix->exp_cap) {
			ix->exp_cap = ix->exp_cap == 0 ? 16 : ix->exp_cap * 2;
			ix->exps = xreallocarray(ix->exps, ix->exp_cap, sizeof(*ix->exps));
		}
		ix->exps[ix->exp_count++] = (struct mbox_index_exp){
		    .uid_first = uids[i], .uid_last = uids[j], .modseq = modseq};
		i = j + 1;
	}
	if (ix->exp_count > IX_MAX_EXPS) {
		/* Forget the older half; remember that we did. */
		unsigned drop = ix->exp_count / 2;
		/* ranges of one batch share a MODSEQ: the one cut is incomplete */
		ix->modseq_floor = ix->exps[drop].modseq + 1;
		memmove(ix->exps, ix->exps + drop, (ix->exp_count - drop) * sizeof(*ix->exps));
		ix->exp_count -= drop;
	}
}

int mbox_index_parse(const void *data, size_t len, struct mbox_index *ix, const char **error_r)
{
	const unsigned char *p = data;

	mbox_index_free(ix);
	if (len < IX_HDR_SIZE + 4 || memcmp(p, IX_MAGIC, 8) != 0) {
		*error_r = "not an index file (magic or size)";
		return -1;
	}
	if (get32(p + 8) != 1 || get32(p + 12) != IX_REC_SIZE) {
		*error_r = "unknown index version";
		return -1;
	}
	if (crc(p, len - 4) != get32(p + len - 4)) {
		*error_r = "index checksum mismatch";
		return -1;
	}
	uint32_t count = get32(p + 48), exps = get32(p + 52);
	if ((uint64_t)count * IX_REC_SIZE + (uint64_t)exps * IX_EXP_SIZE + IX_HDR_SIZE + 4 != len) {
		*error_r = "index size does not match its counts";
		return -1;
	}
	ix->uidvalidity = get32(p + 16);
	ix->next_uid = get32(p + 20);
	ix->highest_modseq = get64(p + 24);
	ix->modseq_floor = get64(p + 32);
	ix->cache_id = get64(p + 40);
	if (ix->uidvalidity == 0) {
		*error_r = "index without UIDVALIDITY";
		goto bad;
	}
	ix->cap = count > 0 ? count : 1;
	ix->recs = xcalloc(ix->cap, sizeof(*ix->recs));
	const unsigned char *r = p + IX_HDR_SIZE;
	for (uint32_t i = 0; i < count; i++, r += IX_REC_SIZE) {
		struct mbox_index_rec *m = &ix->recs[i];
		m->uid = get32(r);
		m->keywords = get32(r + 4);
		m->flags = r[8];
		m->modseq = get64(r + 16);
		m->size = get64(r + 24);
		m->vsize = get64(r + 32);
		m->idate = (int64_t)get64(r + 40);
		m->save_date = (int64_t)get64(r + 48);
		m->cache_off = get64(r + 56);
		if (m->uid == 0 || (i > 0 && m->uid <= ix->recs[i - 1].uid) ||
		    m->uid >= ix->next_uid || (m->flags & ~MBOX_F_STORABLE & ~MBOX_F_PASSED) != 0 ||
		    (m->keywords >> KEYWORDS_MAX) != 0 || m->modseq > ix->highest_modseq) {
			*error_r = "index message record out of order or invalid";
			goto bad;
		}
		ix->count++;
	}
	if (exps > 0) {
		ix->exp_cap = exps;
		ix->exps = xcalloc(exps, sizeof(*ix->exps));
	}
	for (uint32_t i = 0; i < exps; i++, r += IX_EXP_SIZE) {
		struct mbox_index_exp *e = &ix->exps[i];
		e->uid_first = get32(r);
		e->uid_last = get32(r + 4);
		e->modseq = get64(r + 8);
		if (e->uid_first == 0 || e->uid_last < e->uid_first ||
		    e->modseq > ix->highest_modseq ||
		    (i > 0 && e->modseq < ix->exps[i - 1].modseq)) {
			*error_r = "index expunge record invalid";
			goto bad;
		}
		ix->exp_count++;
	}
	return 0;
bad:
	mbox_index_free(ix);
	return -1;
}

static void format_ix(const struct mbox_index *ix, uint64_t generation, struct buf *out)
{
	size_t start = out->len;
	size_t total =
	    IX_HDR_SIZE + (size_t)ix->count * IX_REC_SIZE + (size_t)ix->exp_count * IX_EXP_SIZE + 4;
	buf_reserve(out, total);
	unsigned char *p = (unsigned char *)out->data + start;
	memset(p, 0, total);
	memcpy(p, IX_MAGIC, 8);
	put32(p + 8, 1);
	put32(p + 12, IX_REC_SIZE);
	put32(p + 16, ix->uidvalidity);
	put32(p + 20, ix->next_uid);
	put64(p + 24, ix->highest_modseq);
	put64(p + 32, ix->modseq_floor);
	put64(p + 40, ix->cache_id);
	put32(p + 48, ix->count);
	put32(p + 52, ix->exp_count);
	put64(p + 56, generation);
	unsigned char *r = p + IX_HDR_SIZE;
	for (unsigned i = 0; i < ix->count; i++, r += IX_REC_SIZE) {
		const struct mbox_index_rec *m = &ix->recs[i];
		put32(r, m->uid);
		put32(r + 4, m->keywords);
		r[8] = m->flags;
		put64(r + 16, m->modseq);
		put64(r + 24, m->size);
		put64(r + 32, m->vsize);
		put64(r + 40, (uint64_t)m->idate);
		put64(r + 48, (uint64_t)m->save_date);
		put64(r + 56, m->cache_off);
	}
	for (unsigned i = 0; i < ix->exp_count; i++, r += IX_EXP_SIZE) {
		put32(r, ix->exps[i].uid_first);
		put32(r + 4, ix->exps[i].uid_last);
		put64(r + 8, ix->exps[i].modseq);
	}
	put32(r, crc(p, total - 4));
	out->len = start + total;
	out->data[out->len] = '\0';
}

void mbox_index_format(const struct mbox_index *ix, struct buf *out)
{
	format_ix(ix, 1, out);
}

uint64_t mbox_modseq_base(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- lock ---- */

int mbox_lock(struct mbox *mb, const char **error_r)
{
	if (mb->lock_fd >= 0) {
		*error_r = "mbox: index lock taken twice";
		return -1;
	}
	char *path = store_path_join(mb->dir, MBOX_LOCK_FILE);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = store_err_sys("open", path, errno);
		free(path);
		return -1;
	}
	unsigned timeout =
	    mb->set.lock_timeout_secs > 0 ? mb->set.lock_timeout_secs : UIDLIST_LOCK_TIMEOUT_SECS;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	unsigned wait_ms = 1;
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			*error_r = store_err_sys("flock", path, errno);
			goto fail;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= (time_t)timeout) {
			*error_r = store_err("%s: locked by someone else for %u s", path, timeout);
			goto fail;
		}
		struct timespec d = {0, (long)wait_ms * 1000000L};
		nanosleep(&d, NULL);
		if (wait_ms < 100)
			wait_ms *= 2;
	}
	free(path);
	mb->lock_fd = fd;
	return 0;
fail:
	close(fd);
	free(path);
	return -1;
}

void mbox_unlock(struct mbox *mb)
{
	if (mb->lock_fd >= 0) {
		close(mb->lock_fd); /* releases the flock */
		mb->lock_fd = -1;
	}
}

/* ---- load / store ---- */

int mbox_index_load(struct mbox *mb, bool *rebuild_r, const char **error_r)
{
	char *path = store_path_join(mb->dir, MBOX_INDEX_FILE);
	unsigned char hdr[IX_HDR_SIZE];
	struct stat st;
	int ret = 0;

	*rebuild_r = false;
	mb->ix_damaged = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT) {
			*error_r = store_err_sys("open", path, errno);
			ret = -1;
		} else {
			mbox_index_free(&mb->ix);
			mb->ix_loaded = false;
			mb->ix_generation = 0;
			*rebuild_r = true;
		}
		free(path);
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		*error_r = store_err_sys("fstat", path, errno);
		ret = -1;
		goto out;
	}
	ssize_t n = store_read_full(fd, hdr, sizeof(hdr));
	if (n == (ssize_t)sizeof(hdr) && mb->ix_loaded && memcmp(hdr, IX_MAGIC, 8) == 0 &&
	    get64(hdr + 56) == mb->ix_generation &&
	    (uint64_t)st.st_size == IX_HDR_SIZE + (uint64_t)get32(hdr + 48) * IX_REC_SIZE +
	                                (uint64_t)get32(hdr + 52) * IX_EXP_SIZE + 4)
		goto out; /* what we have */
	if (st.st_size > (off_t)IX_MAX_SIZE || n < 0) {
		log_warn("event=index_damaged path=%s error=%s", log_esc(path),
		         n < 0 ? "read error" : "too large");
		mbox_index_free(&mb->ix);
		mb->ix_loaded = false;
		mb->ix_damaged = true;
		*rebuild_r = true;
		goto out;
	}
	size_t len = (size_t)st.st_size;
	unsigned char *data = xmalloc(len + 1);
	ssize_t got = pread(fd, data, len, 0);
	const char *err = "short read";
	if (got != (ssize_t)len || mbox_index_parse(data, len, &mb->ix, &err) < 0) {
		log_warn("event=index_damaged path=%s error=%s", log_esc(path), log_esc(err));
		mbox_index_free(&mb->ix);
		mb->ix_loaded = false;
		mb->ix_damaged = true;
		*rebuild_r = true;
		mb->ix_generation = len >= IX_HDR_SIZE ? get64(data + 56) : 0;
	} else {
		mb->ix_loaded = true;
		mb->ix_generation = get64(data + 56);
	}
	free(data);
out:
	close(fd);
	free(path);
	return ret;
}

int mbox_index_store(struct mbox *mb, const char **error_r)
{
	char *path = store_path_join(mb->dir, MBOX_INDEX_FILE);
	char *tmp = store_path_join(mb->dir, MBOX_INDEX_FILE ".tmp");
	struct buf out = BUF_INIT;
	int ret = -1;

	format_ix(&mb->ix, mb->ix_generation + 1, &out);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = store_err_sys("open", tmp, errno);
		goto out;
	}
	if (store_write_full(fd, out.data, out.len) < 0) {
		*error_r = store_err_sys("write", tmp, errno);
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		*error_r = store_err_sys("rename", tmp, errno);
		unlink(tmp);
		goto out;
	}
	mb->ix_generation++;
	mb->ix_loaded = true;
	ret = 0;
out:
	buf_free(&out);
	free(path);
	free(tmp);
	return ret;
}

/* ---- cache ---- */

/* Under the lock: cache_fd open on a file whose id is ix.cache_id
 * (creating a new file, and forgetting all references, when needed). */
static int cache_open_locked(struct mbox *mb, bool *reset_r, const char **error_r)
{
	unsigned char hdr[16];
	char *path = store_path_join(mb->dir, MBOX_CACHE_FILE);
	int ret = -1;

	*reset_r = false;
	if (mb->cache_fd >= 0 && mb->cache_id == mb->ix.cache_id && mb->cache_id != 0) {
		free(path);
		return 0;
	}
	if (mb->cache_fd >= 0)
		close(mb->cache_fd);
	mb->cache_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (mb->cache_fd < 0) {
		*error_r = store_err_sys("open", path, errno);
		goto out;
	}
	if (pread(mb->cache_fd, hdr, 16, 0) == 16 && memcmp(hdr, CACHE_MAGIC, 8) == 0 &&
	    get64(hdr + 8) == mb->ix.cache_id && mb->ix.cache_id != 0) {
		mb->cache_id = mb->ix.cache_id;
		ret = 0;
		goto out;
	}
	/* A new cache file; references into the old one are dropped. */
	uint64_t id = 0;
	while (id == 0) {
		char g[UIDLIST_GUID_LEN + 1];
		uidlist_guid_generate(g);
		id = strtoull(g + 16, NULL, 16);
	}
	memcpy(hdr, CACHE_MAGIC, 8);
	put64(hdr + 8, id);
	if (ftruncate(mb->cache_fd, 0) < 0 || pwrite(mb->cache_fd, hdr, 16, 0) != 16) {
		*error_r = store_err_sys("write", path, errno);
		goto out;
	}
	mb->cache_id = id;
	mb->ix.cache_id = id;
	for (unsigned i = 0; i < mb->ix.count; i++)
		mb->ix.recs[i].cache_off = 0;
	for (unsigned i = 0; i < mb->count; i++)
		mb->msgs[i].cache_off = 0;
	*reset_r = true;
	ret = 0;
out:
	free(path);
	return ret;
}

void mbox_cache_merge_locked(struct mbox *mb)
{
	if (!mb->cache_pending)
		return;
	mb->cache_pending = false;
	if (mb->cache_id == 0 || mb->cache_id != mb->ix.cache_id)
		return;
	for (unsigned i = 0; i < mb->count; i++) {
		struct mbox_msg *m = &mb->msgs[i];
		if (m->cache_off == 0)
			continue;
		struct mbox_index_rec *r = mbox_ix_find(&mb->ix, m->uid);
		if (r != NULL && r->cache_off < m->cache_off)
			r->cache_off = m->cache_off;
	}
}

int mbox_cache_get(struct mbox *mb, uint32_t seq, const char *field, struct buf *out)
{
	const struct mbox_msg *m = mbox_msg(mb, seq);
	size_t flen = strlen(field);
	unsigned char h[CACHE_REC_HDR];
	struct stat st;

	if (m == NULL || m->cache_off == 0 || mb->cache_id == 0)
		return 0;
	if (mb->cache_fd < 0) {
		char *path = store_path_join(mb->dir, MBOX_CACHE_FILE);
		mb->cache_fd = open(path, O_RDWR | O_CLOEXEC);
		free(path);
		unsigned char hdr[16];
		if (mb->cache_fd < 0)
			return 0;
		if (pread(mb->cache_fd, hdr, 16, 0) != 16 || get64(hdr + 8) != mb->cache_id) {
			close(mb->cache_fd);
			mb->cache_fd = -1;
			return 0;
		}
	}
	if (fstat(mb->cache_fd, &st) < 0)
		return 0;
	uint64_t off = m->cache_off;
	for (unsigned hop = 0; hop < CACHE_MAX_HOPS && off >= 16; hop++) {
		if (off + CACHE_REC_HDR + 4 > (uint64_t)st.st_size ||
		    pread(mb->cache_fd, h, sizeof(h), (off_t)off) != (ssize_t)sizeof(h))
			return 0;
		uint32_t dlen = get32(h + 20);
		uint16_t fl = (uint16_t)(h[16] | (h[17] << 8));
		uint64_t prev = get64(h + 8);
		if (get32(h) != CACHE_REC_MAGIC || get32(h + 4) != m->uid ||
		    fl > MBOX_CACHE_FIELD_MAX || dlen > MBOX_CACHE_DATA_MAX || prev >= off ||
		    off + CACHE_REC_HDR + fl + dlen + 4 > (uint64_t)st.st_size)
			return 0;
		if (fl != flen) {
			off = prev;
			continue;
		}
		size_t rl = CACHE_REC_HDR + fl + (size_t)dlen + 4;
		unsigned char *rec = xmalloc(rl);
		if (pread(mb->cache_fd, rec, rl, (off_t)off) != (ssize_t)rl ||
		    crc(rec, rl - 4) != get32(rec + rl - 4)) {
			free(rec);
			return 0;
		}
		if (memcmp(rec + CACHE_REC_HDR, field, flen) == 0) {
			buf_append(out, rec + CACHE_REC_HDR + fl, dlen);
			free(rec);
			return 1;
		}
		free(rec);
		off = prev;
	}
	return 0;
}

int mbox_cache_put(struct mbox *mb, uint32_t seq, const char *field, const void *data, size_t len,
                   const char **error_r)
{
	struct mbox_msg *m = seq >= 1 && seq <= mb->count ? &mb->msgs[seq - 1] : NULL;
	size_t flen = strlen(field);
	bool rebuild, reset;

	if (m == NULL || m->expunged) {
		*error_r = "mbox_cache_put: no such message";
		return -1;
	}
	if (flen == 0 || flen > MBOX_CACHE_FIELD_MAX || len > MBOX_CACHE_DATA_MAX) {
		*error_r = "mbox_cache_put: field or data too long";
		return -1;
	}
	if (mbox_lock(mb, error_r) < 0)
		return -1;
	int ret = -1;
	if (mbox_index_load(mb, &rebuild, error_r) < 0)
		goto out;
	if (rebuild) {
		/* The index is gone: the next sync rebuilds it; skip caching. */
		ret = 0;
		goto out;
	}
	if (cache_open_locked(mb, &reset, error_r) < 0)
		goto out;
	off_t end = lseek(mb->cache_fd, 0, SEEK_END);
	if (end < 16) {
		*error_r = "vmaild.cache: bad size";
		goto out;
	}
	size_t rl = CACHE_REC_HDR + flen + len + 4;
	unsigned char *rec = xcalloc(1, rl);
	put32(rec, CACHE_REC_MAGIC);
	put32(rec + 4, m->uid);
	put64(rec + 8, m->cache_off);
	rec[16] = (unsigned char)flen;
	rec[17] = (unsigned char)(flen >> 8);
	put32(rec + 20, (uint32_t)len);
	memcpy(rec + CACHE_REC_HDR, field, flen);
	if (len > 0)
		memcpy(rec + CACHE_REC_HDR + flen, data, len);
	put32(rec + rl - 4, crc(rec, rl - 4));
	if (pwrite(mb->cache_fd, rec, rl, end) != (ssize_t)rl) {
		*error_r = store_err_sys("write", MBOX_CACHE_FILE, errno);
		free(rec);
		goto out;
	}
	free(rec);
	m->cache_off = (uint64_t)end;
	mb->cache_pending = true;
	/* Publish the references now and then (and at sync and close). */
	if (reset || ++mb->cache_puts % 256 == 0) {
		mbox_cache_merge_locked(mb);
		if (mbox_index_store(mb, error_r) < 0)
			goto out;
	}
	ret = 0;
out:
	mbox_unlock(mb);
	return ret;
}
