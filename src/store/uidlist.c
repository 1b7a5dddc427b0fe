/*
 * uidlist.c - Dovecot's dovecot-uidlist (see uidlist.h): the parser of
 * versions 1 and 3, the name index, the writer (append or replace), the
 * UIDVALIDITY allocator of dovecot-uidvalidity and the locked sync of a
 * Maildir's files into the list.
 */
#include "store/uidlist.h"
#include "store/store.h"
#include "store/store-private.h"
#include "core/log.h"
#include "core/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define UID_LAST          0xfffffffeu /* Dovecot refuses (uint32_t)-1 */
#define UIDVALIDITY_TRIES 10

/* ---- records and the index by base name ---- */

static size_t base_len(const char *name, size_t len)
{
	const char *colon = memchr(name, ':', len);
	return colon != NULL ? (size_t)(colon - name) : len;
}

static uint32_t name_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static void hash_put(struct uidlist *ul, unsigned idx)
{
	const char *name = ul->recs[idx].name;
	unsigned mask = ul->hash_size - 1;
	unsigned h = name_hash(name, strlen(name)) & mask;

	while (ul->hash[h] != 0)
		h = (h + 1) & mask;
	ul->hash[h] = idx + 1;
}

static void hash_rebuild(struct uidlist *ul)
{
	unsigned size = 64;

	while (size < ul->count * 2 + 2)
		size *= 2;
	free(ul->hash);
	ul->hash = xcalloc(size, sizeof(*ul->hash));
	ul->hash_size = size;
	for (unsigned i = 0; i < ul->count; i++)
		hash_put(ul, i);
}

/* Index of the record with this base name, or -1. */
static long hash_find(const struct uidlist *ul, const char *base, size_t len)
{
	if (ul->hash_size == 0)
		return -1;
	unsigned mask = ul->hash_size - 1;
	unsigned h = name_hash(base, len) & mask;

	while (ul->hash[h] != 0) {
		const struct uidlist_rec *r = &ul->recs[ul->hash[h] - 1];
		if (strncmp(r->name, base, len) == 0 && r->name[len] == '\0')
			return (long)ul->hash[h] - 1;
		h = (h + 1) & mask;
	}
	return -1;
}

static struct uidlist_rec *rec_push(struct uidlist *ul, uint32_t uid, const char *name,
                                    size_t name_len, const char *ext, size_t ext_len)
{
	if (ul->count == ul->cap) {
		ul->cap = ul->cap != 0 ? ul->cap * 2 : 64;
		ul->recs = xreallocarray(ul->recs, ul->cap, sizeof(*ul->recs));
	}
	struct uidlist_rec *r = &ul->recs[ul->count++];
	memset(r, 0, sizeof(*r));
	r->uid = uid;
	r->name = xmalloc(name_len + 1 + (ext_len != 0 ? ext_len + 1 : 0));
	memcpy(r->name, name, name_len);
	r->name[name_len] = '\0';
	if (ext_len != 0) {
		r->ext = r->name + name_len + 1;
		memcpy(r->ext, ext, ext_len);
		r->ext[ext_len] = '\0';
	}
	if (ul->count * 2 + 2 > ul->hash_size)
		hash_rebuild(ul);
	else
		hash_put(ul, ul->count - 1);
	return r;
}

static void rec_clear(struct uidlist_rec *r)
{
	free(r->name); /* ext lives in the same block */
	free(r->file);
	memset(r, 0, sizeof(*r));
}

static void rec_remove(struct uidlist *ul, unsigned idx)
{
	rec_clear(&ul->recs[idx]);
	memmove(&ul->recs[idx], &ul->recs[idx + 1], (ul->count - idx - 1) * sizeof(*ul->recs));
	ul->count--;
	hash_rebuild(ul);
}

void uidlist_init(struct uidlist *ul)
{
	memset(ul, 0, sizeof(*ul));
	ul->next_uid = 1;
}

void uidlist_free(struct uidlist *ul)
{
	for (unsigned i = 0; i < ul->count; i++)
		rec_clear(&ul->recs[i]);
	free(ul->recs);
	free(ul->hash);
	free(ul->hdr_ext);
	uidlist_init(ul);
}

/* ---- parsing ---- */

/* Decimal digits [p, end) as a uint32; false when empty, not all digits
 * or too large. */
static bool parse_u32(const char *p, const char *end, uint32_t *v)
{
	uint64_t n = 0;

	if (p == end)
		return false;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		n = n * 10 + (uint64_t)(*p - '0');
		if (n > 0xffffffffu)
			return false;
	}
	*v = (uint32_t)n;
	return true;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int parse_header_v1(struct uidlist *ul, const char *p, const char *end, const char **err)
{
	/* "<uidvalidity> <next uid>", more after it ignored (as sscanf) */
	const char *q;

	while (p < end && *p == ' ')
		p++;
	for (q = p; q < end && *q >= '0' && *q <= '9'; q++)
		;
	if (!parse_u32(p, q, &ul->uidvalidity)) {
		*err = "bad version 1 header";
		return -1;
	}
	for (p = q; p < end && *p == ' '; p++)
		;
	for (q = p; q < end && *q >= '0' && *q <= '9'; q++)
		;
	if (!parse_u32(p, q, &ul->next_uid)) {
		*err = "bad version 1 header";
		return -1;
	}
	return 0;
}

static int parse_header_v3(struct uidlist *ul, const char *p, const char *end, const char **err)
{
	struct buf other = BUF_INIT;

	while (p < end) {
		while (p < end && *p == ' ')
			p++;
		if (p == end)
			break;
		const char *tok = p;
		while (p < end && *p != ' ')
			p++;
		const char *val = tok + 1;
		switch (*tok) {
		case 'V':
			if (!parse_u32(val, p, &ul->uidvalidity)) {
				*err = "bad UIDVALIDITY";
				buf_free(&other);
				return -1;
			}
			break;
		case 'N':
			if (!parse_u32(val, p, &ul->next_uid)) {
				*err = "bad next UID";
				buf_free(&other);
				return -1;
			}
			break;
		case 'G': {
			size_t n = (size_t)(p - val);
			bool ok = n == UIDLIST_GUID_LEN;
			for (size_t i = 0; ok && i < n; i++)
				ok = is_hex(val[i]);
			if (!ok) {
				*err = "bad mailbox GUID (not 32 hex digits)";
				buf_free(&other);
				return -1;
			}
			for (size_t i = 0; i < n; i++) {
				char c = val[i];
				ul->guid[i] = c >= 'A' && c <= 'F' ? (char)(c - 'A' + 'a') : c;
			}
			ul->guid[n] = '\0';
			break;
		}
		default:
			if (other.len > 0)
				buf_append_c(&other, ' ');
			buf_append(&other, tok, (size_t)(p - tok));
			break;
		}
	}
	if (other.len > 0)
		ul->hdr_ext = buf_steal(&other);
	buf_free(&other);
	return 0;
}

static int parse_header(struct uidlist *ul, const char *p, size_t n, const char **err)
{
	const char *end = p + n;

	if (n < 2 || p[0] < '0' || p[0] > '9' || p[1] != ' ') {
		*err = "bad header (no version number)";
		return -1;
	}
	ul->version = (unsigned)(p[0] - '0');
	ul->uidvalidity = 0;
	ul->next_uid = 0;
	int r;
	if (ul->version == 1)
		r = parse_header_v1(ul, p + 2, end, err);
	else if (ul->version == 3)
		r = parse_header_v3(ul, p + 2, end, err);
	else {
		*err = store_err("unsupported version %u", ul->version);
		return -1;
	}
	if (r < 0)
		return -1;
	if (ul->uidvalidity == 0 || ul->next_uid == 0) {
		*err = store_err("bad header (UIDVALIDITY %u, next UID %u)", ul->uidvalidity,
		                 ul->next_uid);
		return -1;
	}
	return 0;
}

static int parse_record(struct uidlist *ul, uint32_t *prev_uid, const char *p, size_t n,
                        struct buf *ext, const char **err)
{
	const char *end = p + n, *q = p;
	uint64_t uid = 0;

	while (q < end && *q >= '0' && *q <= '9') {
		uid = uid * 10 + (uint64_t)(*q - '0');
		if (uid > 0xffffffffu) {
			*err = "UID too high";
			return -1;
		}
		q++;
	}
	if (q == p || uid == 0 || q == end || *q != ' ') {
		*err = "not \"<uid> ...\"";
		return -1;
	}
	if (uid <= *prev_uid) {
		*err = store_err("UIDs not ascending (%u after %u)", (uint32_t)uid, *prev_uid);
		return -1;
	}
	if (uid > UID_LAST) {
		*err = "UID too high";
		return -1;
	}
	if (ul->version == 1 && uid >= ul->next_uid) {
		*err = store_err("UID %u not below the next UID %u", (uint32_t)uid, ul->next_uid);
		return -1;
	}
	*prev_uid = (uint32_t)uid;
	while (q < end && *q == ' ')
		q++;

	buf_reset(ext);
	if (ul->version == 3) {
		while (q < end && *q != ':') {
			const char *f = q;
			while (q < end && *q != ' ')
				q++;
			if (*f >= 'A' && *f <= 'Z') {
				if (ext->len > 0)
					buf_append_c(ext, ' ');
				buf_append(ext, f, (size_t)(q - f));
			} else {
				ul->dirty = true; /* Dovecot drops it too */
			}
			while (q < end && *q == ' ')
				q++;
		}
		if (q == end) {
			*err = "no \":<file name>\"";
			return -1;
		}
		q++;
	}
	if (q == end) {
		*err = "empty file name";
		return -1;
	}
	if (memchr(q, '/', (size_t)(end - q)) != NULL) {
		*err = "'/' in the file name";
		return -1;
	}
	size_t blen = base_len(q, (size_t)(end - q));
	if (blen == 0) {
		/* ":2,..." has no base: nothing can find it again. */
		ul->dirty = true;
		return 0;
	}
	long old = hash_find(ul, q, blen);
	if (old >= 0) {
		/* Listed again (an expunged file restored and appended):
		 * the new UID wins, as in Dovecot. */
		rec_remove(ul, (unsigned)old);
		ul->dirty = true;
	}
	rec_push(ul, (uint32_t)uid, q, blen, ext->data, ext->len);
	return 0;
}

/* uidlist_parse, telling our limits (-2: too large, a too long line)
 * apart from what Dovecot too would call broken (-1). */
static int parse_file(const char *data, size_t len, struct uidlist *ul, const char **error_r)
{
	const char *p = data, *end = data + len;
	const char *nul;
	struct buf ext = BUF_INIT;
	uint32_t prev_uid = 0;
	unsigned lineno = 0;

	uidlist_free(ul);
	if (len > UIDLIST_MAX_SIZE) {
		*error_r = store_err("larger than %u bytes", UIDLIST_MAX_SIZE);
		return -2;
	}
	if (len == 0) {
		*error_r = "empty file";
		return -1;
	}
	if ((nul = memchr(data, '\0', len)) != NULL) {
		*error_r = store_err("NUL byte at offset %zu", (size_t)(nul - data));
		return -1;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl != NULL ? nl : end) - p);
		const char *err = NULL;
		int r;

		lineno++;
		if (n > UIDLIST_LINE_MAX) {
			err = store_err("longer than %u bytes", UIDLIST_LINE_MAX);
			r = -2;
		} else if (nl == NULL && lineno == 1) {
			err = "header without line end";
			r = -1;
		} else if (nl == NULL) {
			break; /* being appended: not there yet */
		} else if (lineno == 1) {
			r = parse_header(ul, p, n, &err);
		} else {
			r = parse_record(ul, &prev_uid, p, n, &ext, &err);
		}
		if (r < 0) {
			*error_r = store_err("line %u: %s", lineno, err);
			buf_free(&ext);
			uidlist_free(ul);
			return r;
		}
		p = nl + 1;
	}
	buf_free(&ext);
	if (prev_uid != 0 && ul->next_uid <= prev_uid)
		ul->next_uid = prev_uid + 1;
	return 0;
}

int uidlist_parse(const char *data, size_t len, struct uidlist *ul, const char **error_r)
{
	return parse_file(data, len, ul, error_r) < 0 ? -1 : 0;
}

/* ---- formatting and lookups ---- */

static void format_rec(const struct uidlist_rec *r, struct buf *out)
{
	buf_appendf(out, "%u", r->uid);
	if (r->ext != NULL) {
		buf_append_c(out, ' ');
		buf_append_str(out, r->ext);
	}
	buf_append(out, " :", 2);
	buf_append_str(out, r->name);
	buf_append_c(out, '\n');
}

void uidlist_format(const struct uidlist *ul, struct buf *out)
{
	buf_appendf(out, "3 V%u N%u G%s", ul->uidvalidity, ul->next_uid, ul->guid);
	if (ul->hdr_ext != NULL) {
		buf_append_c(out, ' ');
		buf_append_str(out, ul->hdr_ext);
	}
	buf_append_c(out, '\n');
	for (unsigned i = 0; i < ul->count; i++)
		format_rec(&ul->recs[i], out);
}

const struct uidlist_rec *uidlist_lookup_uid(const struct uidlist *ul, uint32_t uid)
{
	unsigned lo = 0, hi = ul->count;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (ul->recs[mid].uid == uid)
			return &ul->recs[mid];
		if (ul->recs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct uidlist_rec *uidlist_lookup_name(const struct uidlist *ul, const char *name)
{
	long idx = hash_find(ul, name, base_len(name, strlen(name)));
	return idx >= 0 ? &ul->recs[idx] : NULL;
}

bool uidlist_name_ok(const char *name)
{
	return name[0] != ':' && name[0] != '\0' && strpbrk(name, "/\r\n") == NULL;
}

int uidlist_add(struct uidlist *ul, const char *name, uint32_t *uid_r, const char **error_r)
{
	if (!uidlist_name_ok(name)) {
		*error_r = store_err("cannot list file name \"%s\"", log_esc(name));
		return -1;
	}
	size_t blen = base_len(name, strlen(name));
	long old = hash_find(ul, name, blen);
	if (old >= 0) {
		*error_r =
		    store_err("%.*s: listed already as UID %u", (int)blen, name, ul->recs[old].uid);
		return -1;
	}
	if (ul->next_uid == 0 || ul->next_uid > UID_LAST) {
		*error_r = "no UIDs left in this UIDVALIDITY";
		return -1;
	}
	*uid_r = ul->next_uid;
	rec_push(ul, ul->next_uid++, name, blen, NULL, 0);
	return 0;
}

/* Digits at *p (saturating) */
static uint64_t leading_number(const char **p)
{
	uint64_t n = 0;

	for (; **p >= '0' && **p <= '9'; (*p)++)
		n = n > UINT64_MAX / 10 - 9 ? UINT64_MAX : n * 10 + (uint64_t)(**p - '0');
	return n;
}

/* The microseconds of ".<...M<usecs>...>.": the first 'M' in the part
 * after the seconds. */
static bool name_usecs(const char *p, uint64_t *usecs)
{
	if (*p != '.')
		return false;
	for (p++; *p != '\0' && *p != '.' && *p != ':'; p++) {
		if (*p == 'M') {
			p++;
			*usecs = leading_number(&p);
			return true;
		}
	}
	return false;
}

int uidlist_name_cmp(const char *a, const char *b)
{
	uint64_t sa = leading_number(&a), sb = leading_number(&b);
	uint64_t ua, ub;

	if (sa != sb)
		return sa < sb ? -1 : 1;
	if (name_usecs(a, &ua) && name_usecs(b, &ub) && ua != ub)
		return ua < ub ? -1 : 1;
	for (;; a++, b++) {
		bool ea = *a == '\0' || *a == ':', eb = *b == '\0' || *b == ':';
		if (ea || eb)
			return ea && eb ? 0 : ea ? -1 : 1;
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
	}
}

void uidlist_guid_generate(char out[UIDLIST_GUID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[UIDLIST_GUID_LEN / 2];
	size_t got = 0;

	while (got < sizeof(rnd)) {
		ssize_t r = getrandom(rnd + got, sizeof(rnd) - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got < sizeof(rnd)) {
		/* No entropy source: time, pid and address still make it unique. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t x = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^
		             ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)out;
		for (size_t i = got; i < sizeof(rnd); i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			rnd[i] = (unsigned char)x;
		}
	}
	for (size_t i = 0; i < sizeof(rnd); i++) {
		out[2 * i] = hex[rnd[i] >> 4];
		out[2 * i + 1] = hex[rnd[i] & 15];
	}
	out[UIDLIST_GUID_LEN] = '\0';
}

/* ---- files ---- */

/*
 * read_path: read the file at path; one over UIDLIST_MAX_SIZE is an
 * error (one that grows past it while read is cut at UIDLIST_MAX_SIZE + 1
 * bytes, for the parser to refuse). 1 read (*fd_r open when fd_r is not
 * NULL, read-write when allowed), 0 missing, -1 error.
 */
static int read_path(const char *path, int *fd_r, struct buf *data, const char **error_r)
{
	int fd = open(path, (fd_r != NULL ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0 && fd_r != NULL && errno == EACCES)
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = store_err_sys("open", path, errno);
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		*error_r = store_err_sys("fstat", path, errno);
		close(fd);
		return -1;
	}
	if (st.st_size > (off_t)UIDLIST_MAX_SIZE) {
		*error_r = store_err("%s: larger than %u bytes", path, UIDLIST_MAX_SIZE);
		close(fd);
		return -1;
	}
	size_t want = (size_t)st.st_size;
	for (;;) {
		buf_reserve(data, want + 1);
		ssize_t r = store_read_full(fd, data->data + data->len, want + 1);
		if (r < 0) {
			*error_r = store_err_sys("read", path, errno);
			close(fd);
			return -1;
		}
		data->len += (size_t)r;
		data->data[data->len] = '\0';
		if ((size_t)r <= want || data->len > UIDLIST_MAX_SIZE)
			break;
		want = 64 * 1024; /* grew while we read */
	}
	if (fd_r != NULL)
		*fd_r = fd;
	else
		close(fd);
	return 1;
}

int uidlist_read(const char *mailbox, struct uidlist *ul, const char **error_r)
{
	char *path = store_path_join(mailbox, UIDLIST_FILE);
	struct buf data = BUF_INIT;
	const char *err;
	int r = read_path(path, NULL, &data, error_r);

	uidlist_free(ul);
	if (r > 0 && uidlist_parse(data.data, data.len, ul, &err) < 0) {
		*error_r = store_err("%s: %s", path, err);
		r = -1;
	}
	buf_free(&data);
	free(path);
	return r;
}

int uidlist_lock(const char *mailbox, unsigned timeout_secs, struct dotlock **lock_r,
                 const char **error_r)
{
	struct dotlock_settings set = {timeout_secs, UIDLIST_LOCK_STALE_SECS, true};
	char *path = store_path_join(mailbox, UIDLIST_FILE);
	int r = dotlock_create(path, &set, lock_r, error_r);

	free(path);
	return r;
}

/* Write data to a new file path, fdatasynced. On -1 nothing is left. */
static int write_new_file(const char *path, const char *data, size_t len, const char **error_r)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		*error_r = store_err_sys("open", path, errno);
		return -1;
	}
	if (store_write_full(fd, data, len) < 0 || fdatasync(fd) < 0) {
		*error_r = store_err_sys("write", path, errno);
		close(fd);
		(void)unlink(path);
		return -1;
	}
	if (close(fd) < 0) {
		*error_r = store_err_sys("close", path, errno);
		(void)unlink(path);
		return -1;
	}
	return 0;
}

/* The steps of uidlist_write() once the contents are known. */
static int replace_file(const char *mailbox, const char *path, const char *tmp,
                        const struct buf *out, const struct dotlock *lock, const char **error_r)
{
	if (write_new_file(tmp, out->data, out->len, error_r) < 0)
		return -1;
	if (!dotlock_is_ours(lock)) {
		*error_r = store_err("%s: our lock was broken before the rename", path);
		(void)unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		*error_r = store_err_sys("rename", tmp, errno);
		(void)unlink(tmp);
		return -1;
	}
	return store_fsync_dir(mailbox, error_r);
}

int uidlist_write(const char *mailbox, struct uidlist *ul, const struct dotlock *lock,
                  const char **error_r)
{
	char *path = store_path_join(mailbox, UIDLIST_FILE);
	char *tmp = store_path_join(mailbox, UIDLIST_FILE ".tmp");
	struct buf out = BUF_INIT;
	int ret = -1;

	if (lock == NULL || strcmp(dotlock_path(lock), path) != 0) {
		*error_r = store_err("%s: written without its lock", path);
	} else if (ul->uidvalidity == 0) {
		*error_r = store_err("%s: no UIDVALIDITY to write", path);
	} else {
		if (ul->guid[0] == '\0')
			uidlist_guid_generate(ul->guid);
		uidlist_format(ul, &out);
		ret = replace_file(mailbox, path, tmp, &out, lock, error_r);
	}
	if (ret == 0) {
		ul->version = 3;
		ul->dirty = false;
	}
	buf_free(&out);
	free(tmp);
	free(path);
	return ret;
}

/* ---- UIDVALIDITY: dovecot-uidvalidity ---- */

/* Move the marker <path>.<from> to <path>.<to>, never replacing one that
 * exists: 0, or -1 with errno ENOENT (no such marker) or EEXIST (taken). */
static int marker_move(const char *path, uint32_t from, uint32_t to)
{
	char *src = xasprintf("%s.%08x", path, from);
	char *dst = xasprintf("%s.%08x", path, to);
	int r = renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE);

	if (r < 0 && (errno == EINVAL || errno == ENOSYS)) {
		/* No RENAME_NOREPLACE here: link() never replaces either. */
		r = link(src, dst);
		if (r == 0)
			(void)unlink(src);
	}
	int err = errno;
	free(src);
	free(dst);
	errno = err;
	return r;
}

/*
 * Take the value after *v by moving marker *v one up. Someone faster
 * moved it already (ENOENT): try from the next value. The next one
 * exists already (EEXIST: two markers, after two first allocations at
 * once): ours is the older one, drop it and go on from there. Dovecot
 * renames (which would replace); not replacing is what keeps two
 * processes from ever getting one value.
 */
static int uidvalidity_take(const char *path, uint32_t *v, const char **error_r)
{
	for (unsigned i = 0; i < UIDVALIDITY_TRIES; i++) {
		if (*v == 0xffffffffu) {
			*error_r = store_err("%s: UIDVALIDITY values used up", path);
			return -1;
		}
		if (marker_move(path, *v, *v + 1) == 0) {
			(*v)++;
			return 0;
		}
		if (errno == EEXIST) {
			char *old = xasprintf("%s.%08x", path, *v);
			(void)unlink(old);
			free(old);
		} else if (errno != ENOENT) {
			*error_r = store_err_sys("rename", path, errno);
			return -1;
		}
		(*v)++;
	}
	*error_r =
	    store_err("%s: no UIDVALIDITY marker to take after %u tries", path, UIDVALIDITY_TRIES);
	return -1;
}

/* Exactly 1 to 8 hex digits. */
static bool parse_hex32(const char *p, size_t n, uint32_t *v)
{
	uint32_t x = 0;

	if (n == 0 || n > 8)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
		             : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
		             : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
		                                    : 16;
		if (d == 16)
			return false;
		x = x << 4 | d;
	}
	*v = x;
	return true;
}

/* The main file: the value as 8 hex digits at offset 0. It only speeds up
 * the next allocation, so a failure is logged, not returned. */
static void uidvalidity_write_main(const char *path, uint32_t v)
{
	char buf[16];
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	snprintf(buf, sizeof(buf), "%08x", v);
	if (fd < 0 || pwrite(fd, buf, 8, 0) != 8)
		log_warn("event=uidvalidity_write_failed path=%s errno=%d", log_esc(path), errno);
	if (fd >= 0)
		close(fd);
}

static int uidvalidity_rescan(const char *root, const char *path, uint32_t *v_r,
                              const char **error_r)
{
	const char *prefix = UIDVALIDITY_FILE ".";
	size_t plen = strlen(prefix);
	uint32_t min = 0xffffffffu, max = 0;
	DIR *d = opendir(root);
	struct dirent *de;

	if (d == NULL) {
		*error_r = store_err_sys("opendir", root, errno);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		uint32_t v;
		if (strncmp(de->d_name, prefix, plen) == 0 &&
		    parse_hex32(de->d_name + plen, strlen(de->d_name + plen), &v)) {
			if (v < min)
				min = v;
			if (v > max)
				max = v;
		}
	}
	closedir(d);

	if (max == 0) {
		/* None yet: the current time, as Dovecot starts. Exactly one
		 * marker may exist: a process that loses the race to create it
		 * takes the next value from the winner's marker instead of
		 * making a second one (two markers could hand out a value twice). */
		uint32_t v = (uint32_t)time(NULL);
		char *marker = xasprintf("%s.%08x", path, v);
		int fd = open(marker, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
		int err = errno;
		free(marker);
		if (fd >= 0) {
			close(fd);
			uidvalidity_write_main(path, v);
			*v_r = v;
			return 0;
		}
		if (err != EEXIST) {
			*error_r = store_err_sys("open", path, err);
			return -1;
		}
		max = min = v;
	}
	if (min != max) {
		char *old = xasprintf("%s.%08x", path, min);
		(void)unlink(old);
		free(old);
	}
	uint32_t v = max;
	if (uidvalidity_take(path, &v, error_r) < 0)
		return -1;
	uidvalidity_write_main(path, v);
	*v_r = v;
	return 0;
}

int uidlist_uidvalidity_next(const char *root, uint32_t *uidvalidity_r, const char **error_r)
{
	char *path = store_path_join(root, UIDVALIDITY_FILE);
	/* Our own processes take turns (flock on the main file): the marker
	 * rename alone keeps values unique against Dovecot, but a main file
	 * that lags far behind under contention would make the walk give up. */
	int lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lockfd >= 0)
		(void)flock(lockfd, LOCK_EX);
	char buf[8];
	uint32_t v;
	int ret;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n = fd >= 0 ? store_read_full(fd, buf, sizeof(buf)) : -1;
	const char *ignored;

	if (fd >= 0)
		close(fd);
	if (n == (ssize_t)sizeof(buf) && parse_hex32(buf, sizeof(buf), &v) &&
	    uidvalidity_take(path, &v, &ignored) == 0) {
		uidvalidity_write_main(path, v);
		*uidvalidity_r = v;
		ret = 0;
	} else {
		ret = uidvalidity_rescan(root, path, uidvalidity_r, error_r);
	}
	if (lockfd >= 0)
		close(lockfd); /* releases the flock */
	free(path);
	return ret;
}

/* ---- sync ---- */

struct sync_ctx {
	const char *root, *mailbox;
	const struct uidlist_sync_settings *set;
	struct uidlist *ul;
	char *path;
	struct buf data; /* the file as read */
	int fd;          /* open on it, -1 when none */
	bool existed;    /* read and parsed */
	bool writable;   /* fd is open for writing */
	bool removed;    /* records were dropped */
	unsigned first_new;
	struct maildir_msg *msgs;
	unsigned nmsgs;
};

static int sync_load(struct sync_ctx *c, const char **error_r)
{
	struct uidlist *ul = c->ul;
	const char *err;
	int r;

	c->fd = -1;
	r = read_path(c->path, &c->fd, &c->data, error_r);
	if (r < 0)
		return -1;
	if (r > 0) {
		int fl = fcntl(c->fd, F_GETFL);
		c->writable = fl >= 0 && (fl & O_ACCMODE) == O_RDWR;
	}
	c->existed = r > 0;
	r = c->existed ? parse_file(c->data.data, c->data.len, ul, &err) : 0;
	if (r == -2) {
		/* Over our limits, but maybe fine for Dovecot: leave it. */
		*error_r = store_err("%s: %s", c->path, err);
		return -1;
	}
	if (r < 0) {
		/* Its UIDs are lost: start again under a new UIDVALIDITY, as
		 * Dovecot does, keeping the old file for a look. */
		char *broken = xasprintf("%s.broken", c->path);
		log_warn("event=uidlist_broken path=%s error=%s saved=%s", log_esc(c->path),
		         log_esc(err), log_esc(broken));
		r = rename(c->path, broken);
		int e = errno;
		if (r < 0)
			*error_r = store_err_sys("rename", c->path, e);
		free(broken);
		if (r < 0)
			return -1;
		close(c->fd);
		c->fd = -1;
		c->existed = false;
		c->writable = false;
		buf_reset(&c->data);
	}
	if (!c->existed) {
		uidlist_free(ul);
		if (uidlist_uidvalidity_next(c->root, &ul->uidvalidity, error_r) < 0)
			return -1;
		ul->version = 3;
		uidlist_guid_generate(ul->guid);
	}
	return 0;
}

static int msg_ptr_cmp(const void *a, const void *b)
{
	const struct maildir_msg *const *x = a, *const *y = b;
	return uidlist_name_cmp((*x)->name, (*y)->name);
}

/* Give each record its file; with newv, collect the files not listed. */
static unsigned attach_files(struct uidlist *ul, struct maildir_msg *msgs, unsigned n,
                             struct maildir_msg **newv)
{
	unsigned nnew = 0;

	for (unsigned i = 0; i < n; i++) {
		const char *name = msgs[i].name;
		if (!uidlist_name_ok(name))
			continue; /* Dovecot skips them too */
		long idx = hash_find(ul, name, base_len(name, strlen(name)));
		if (idx >= 0) {
			struct uidlist_rec *r = &ul->recs[idx];
			if (r->file == NULL) {
				r->file = xstrdup(name);
				r->in_cur = msgs[i].in_cur;
			}
		} else if (newv != NULL) {
			newv[nnew++] = &msgs[i];
		}
	}
	return nnew;
}

static void drop_missing(struct sync_ctx *c)
{
	struct uidlist *ul = c->ul;
	unsigned o = 0;

	for (unsigned i = 0; i < ul->count; i++) {
		if (ul->recs[i].file == NULL) {
			rec_clear(&ul->recs[i]);
			c->removed = true;
		} else {
			ul->recs[o++] = ul->recs[i];
		}
	}
	ul->count = o;
	if (c->removed)
		hash_rebuild(ul);
}

static int sync_files(struct sync_ctx *c, unsigned *added_r, const char **error_r)
{
	struct uidlist *ul = c->ul;
	unsigned max = c->set != NULL ? c->set->max_messages : 0;

	if (maildir_list(c->mailbox, max, &c->msgs, &c->nmsgs, error_r) < 0)
		return -1;
	struct maildir_msg **newv = xcalloc(c->nmsgs + 1, sizeof(*newv));
	unsigned nnew = attach_files(ul, c->msgs, c->nmsgs, newv);

	if (c->set != NULL && c->set->drop_missing)
		drop_missing(c);
	c->first_new = ul->count;
	if (nnew > 1)
		qsort(newv, nnew, sizeof(*newv), msg_ptr_cmp);
	for (unsigned i = 0; i < nnew; i++) {
		uint32_t uid;
		if (i > 0 && uidlist_name_cmp(newv[i - 1]->name, newv[i]->name) == 0)
			continue; /* the same base in new/ and cur/ */
		if (uidlist_add(ul, newv[i]->name, &uid, error_r) < 0) {
			free(newv);
			return -1;
		}
		struct uidlist_rec *r = &ul->recs[ul->count - 1];
		r->file = xstrdup(newv[i]->name);
		r->in_cur = newv[i]->in_cur;
		(*added_r)++;
	}
	free(newv);
	return 0;
}

/* Append the records from c->first_new to the file read; on failure the
 * file is cut back so that no partial line stays. */
static int sync_append(struct sync_ctx *c, const struct dotlock *lock, const char **error_r)
{
	struct buf out = BUF_INIT;
	off_t end = lseek(c->fd, 0, SEEK_END);
	int ret = 0;

	if (end < 0) {
		*error_r = store_err_sys("lseek", c->path, errno);
		return -1;
	}
	if (!dotlock_is_ours(lock)) {
		*error_r = store_err("%s: our lock was broken before the append", c->path);
		return -1;
	}
	for (unsigned i = c->first_new; i < c->ul->count; i++)
		format_rec(&c->ul->recs[i], &out);
	if (store_write_full(c->fd, out.data, out.len) < 0 || fdatasync(c->fd) < 0) {
		*error_r = store_err_sys("write", c->path, errno);
		if (ftruncate(c->fd, end) < 0)
			log_warn("event=uidlist_truncate_failed path=%s errno=%d", log_esc(c->path),
			         errno);
		ret = -1;
	}
	buf_free(&out);
	return ret;
}

static int sync_store(struct sync_ctx *c, unsigned added, const struct dotlock *lock,
                      const char **error_r)
{
	struct uidlist *ul = c->ul;
	bool can_append = c->existed && c->writable && ul->version == 3 && ul->guid[0] != '\0' &&
	                  !ul->dirty && !c->removed && c->data.len > 0 &&
	                  c->data.data[c->data.len - 1] == '\n';

	if (c->existed && !ul->dirty && !c->removed && added == 0 && ul->version == 3 &&
	    ul->guid[0] != '\0')
		return 0;
	if (can_append)
		return sync_append(c, lock, error_r);
	return uidlist_write(c->mailbox, ul, lock, error_r);
}

int uidlist_sync(const char *root, const char *mailbox, const struct uidlist_sync_settings *set,
                 struct uidlist *ul, unsigned *added_r, const char **error_r)
{
	unsigned timeout = set != NULL ? set->lock_timeout_secs : UIDLIST_LOCK_TIMEOUT_SECS;
	struct dotlock *lock;
	int ret;

	*added_r = 0;
	uidlist_free(ul);
	int r = uidlist_lock(mailbox, timeout, &lock, error_r);
	if (r < 0)
		return -1;
	if (r == 0) {
		/* Busy: what is there now, without new UIDs. */
		const char *busy = *error_r;
		struct maildir_msg *msgs;
		unsigned n;
		if (uidlist_read(mailbox, ul, error_r) < 0 ||
		    maildir_list(mailbox, set != NULL ? set->max_messages : 0, &msgs, &n, error_r) <
		        0)
			return -1;
		(void)attach_files(ul, msgs, n, NULL);
		maildir_list_free(msgs, n);
		*error_r = busy;
		return 0;
	}

	struct sync_ctx c;
	memset(&c, 0, sizeof(c));
	c.root = root;
	c.mailbox = mailbox;
	c.set = set;
	c.ul = ul;
	c.path = store_path_join(mailbox, UIDLIST_FILE);
	ret = sync_load(&c, error_r);
	if (ret == 0)
		ret = sync_files(&c, added_r, error_r);
	/* Listing a big Maildir takes time: keep the lock fresh, and learn
	 * early when it was broken anyway. */
	if (ret == 0)
		ret = dotlock_touch(lock, error_r);
	if (ret == 0)
		ret = sync_store(&c, *added_r, lock, error_r);

	const char *rel_err;
	if (dotlock_release(&lock, &rel_err) < 0 && ret == 0) {
		*error_r = rel_err;
		ret = -1;
	}
	if (c.fd >= 0)
		close(c.fd);
	maildir_list_free(c.msgs, c.nmsgs);
	buf_free(&c.data);
	free(c.path);
	if (ret < 0) {
		*added_r = 0;
		return -1;
	}
	return 1;
}
