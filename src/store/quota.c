/*
 * quota.c - Maildir++ quota file <root>/maildirsize (see quota.h for the
 * file format and the rules of when it is rebuilt).
 *
 * Nothing is cached between calls: the file is the shared truth between
 * our threads, our processes and Dovecot. Appends are single O_APPEND
 * writes; rewrites go through root/tmp/ and rename(), so a reader sees
 * the old file or the new one, never half of one. The file is not
 * fsynced: losing it in a crash only costs a recalculation.
 */
#include "store/store.h"
#include "store/store-private.h"
#include "core/buf.h"
#include "core/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Bounds of a recalculation walk. */
#define RECALC_MAX_MAILBOXES 100000
#define RECALC_TRIES         3

void quota_limits_from_mb(unsigned mb, struct quota_limits *limits_r)
{
	limits_r->bytes = (uint64_t)mb * 1024 * 1024;
	limits_r->count = 0;
}

/* ---- the file format ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* One item of the limits line: <digits>S or <digits>C. */
static bool parse_limit_item(const char *p, const char *end, struct quota_limits *l)
{
	uint64_t v = 0;
	const char *d = p;

	while (p < end && is_digit(*p)) {
		unsigned dig = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - dig) / 10)
			return false;
		v = v * 10 + dig;
		p++;
	}
	if (p == d || end - p != 1)
		return false;
	/* Values that do not fit a signed 64-bit number are cut, as Dovecot does. */
	if (v > (uint64_t)INT64_MAX)
		v = (uint64_t)INT64_MAX;
	if (*p == 'S')
		l->bytes = v;
	else if (*p == 'C')
		l->count = v;
	else
		return false;
	return true;
}

static bool parse_limits(const char *p, const char *end, struct quota_limits *l)
{
	bool ok = true;

	memset(l, 0, sizeof(*l));
	if (end > p && end[-1] == '\r')
		end--;
	for (;;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *iend = comma != NULL ? comma : end;
		if (!parse_limit_item(p, iend, l))
			ok = false;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return ok;
}

static const char *skip_blank(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static bool parse_i64(const char **pp, const char *end, int64_t *v_r)
{
	const char *p = *pp;
	bool neg = false;
	uint64_t v = 0;

	if (p < end && (*p == '-' || *p == '+')) {
		neg = *p == '-';
		p++;
	}
	const char *d = p;
	while (p < end && is_digit(*p)) {
		unsigned dig = (unsigned)(*p - '0');
		if (v > ((uint64_t)INT64_MAX - dig) / 10)
			return false;
		v = v * 10 + dig;
		p++;
	}
	if (p == d)
		return false;
	*v_r = neg ? -(int64_t)v : (int64_t)v;
	*pp = p;
	return true;
}

/* "<bytes> <count>", blanks around, an optional CR at the end. */
static bool parse_usage_line(const char *p, const char *end, int64_t *bytes, int64_t *count)
{
	p = skip_blank(p, end);
	if (!parse_i64(&p, end, bytes))
		return false;
	const char *q = skip_blank(p, end);
	if (q == p)
		return false;
	if (!parse_i64(&q, end, count))
		return false;
	q = skip_blank(q, end);
	if (q < end && *q == '\r')
		q++;
	return q == end;
}

static bool add_i64(int64_t *sum, int64_t v)
{
	if ((v > 0 && *sum > INT64_MAX - v) || (v < 0 && *sum < INT64_MIN - v))
		return false;
	*sum += v;
	return true;
}

int quota_maildirsize_parse(const char *data, size_t len, struct maildirsize *ms)
{
	memset(ms, 0, sizeof(*ms));
	if (len > MAILDIRSIZE_MAX_SIZE) {
		ms->why = "larger than 5120 bytes";
		return 0;
	}
	if (memchr(data, '\0', len) != NULL) {
		ms->why = "holds a NUL byte";
		return 0;
	}
	/* A last line without LF is still being written: ignore it. */
	while (len > 0 && data[len - 1] != '\n')
		len--;
	if (len == 0) {
		ms->why = "no limits line";
		return 0;
	}

	const char *end = data + len;
	const char *eol = memchr(data, '\n', len);
	ms->limits_ok = parse_limits(data, eol, &ms->limits);

	for (const char *p = eol + 1; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		int64_t b, c;

		if (!parse_usage_line(p, nl, &b, &c)) {
			ms->why = "malformed usage line";
			return 0;
		}
		if (!add_i64(&ms->bytes, b) || !add_i64(&ms->count, c)) {
			ms->why = "usage sum overflows";
			return 0;
		}
		ms->lines++;
		p = nl + 1;
	}
	if (ms->lines == 0) {
		ms->why = "no usage line";
		return 0;
	}
	if (ms->bytes < 0 || ms->count < 0) {
		ms->why = "negative usage";
		return 0;
	}
	return 1;
}

size_t quota_maildirsize_format(const struct quota_limits *limits, const struct quota_usage *u,
                                char *out, size_t outlen)
{
	struct buf b = BUF_INIT;

	/* Dovecot's form: "0S" when there is no limit at all. */
	if (limits->bytes != 0 || limits->count == 0)
		buf_appendf(&b, "%lluS", (unsigned long long)limits->bytes);
	if (limits->count != 0)
		buf_appendf(&b, "%s%lluC", b.len > 0 ? "," : "", (unsigned long long)limits->count);
	buf_appendf(&b, "\n%llu %llu\n", (unsigned long long)u->bytes,
	            (unsigned long long)u->count);
	size_t n = b.len;
	if (outlen > 0) {
		size_t c = n < outlen ? n : outlen - 1;
		memcpy(out, b.data, c);
		out[c] = '\0';
	}
	buf_free(&b);
	return n;
}

/* ---- recalculation ---- */

struct scanned_dir {
	char *path;
	struct timespec mtime;
};

struct scan {
	struct quota_usage u;
	struct scanned_dir *dirs;
	unsigned ndirs, cap;
	unsigned mailboxes;
	const char *error;
};

static void scan_reset(struct scan *s)
{
	for (unsigned i = 0; i < s->ndirs; i++)
		free(s->dirs[i].path);
	free(s->dirs);
	memset(s, 0, sizeof(*s));
}

/* Sum the message files of one new/ or cur/. */
static int scan_msgdir(struct scan *s, const char *path)
{
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;

	if (dfd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		s->error = store_err_sys("open", path, errno);
		return -1;
	}
	if (fstat(dfd, &st) < 0) {
		s->error = store_err_sys("fstat", path, errno);
		close(dfd);
		return -1;
	}
	if (s->ndirs == s->cap) {
		s->cap = s->cap != 0 ? s->cap * 2 : 16;
		s->dirs = xreallocarray(s->dirs, s->cap, sizeof(*s->dirs));
	}
	s->dirs[s->ndirs].path = xstrdup(path);
	s->dirs[s->ndirs].mtime = st.st_mtim;
	s->ndirs++;

	DIR *d = fdopendir(dfd);
	if (d == NULL) {
		s->error = store_err_sys("fdopendir", path, errno);
		close(dfd);
		return -1;
	}
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		struct maildir_name mn;

		if (maildir_name_parse(de->d_name, strlen(de->d_name), &mn) < 0)
			continue;
		if (mn.have_size) {
			s->u.bytes += mn.size;
			s->u.count++;
		} else if (fstatat(dfd, de->d_name, &st, 0) == 0) {
			if (S_ISREG(st.st_mode)) {
				s->u.bytes += (uint64_t)st.st_size;
				s->u.count++;
			}
		} else if (errno != ENOENT) {
			s->error = store_err_sys("stat", de->d_name, errno);
			closedir(d);
			return -1;
		}
		errno = 0;
	}
	int err = errno;
	closedir(d);
	if (err != 0) {
		s->error = store_err_sys("readdir", path, err);
		return -1;
	}
	return 0;
}

/* One mailbox (its new/ and cur/) and, fs layout, the folders below it. */
static int scan_mailbox(struct scan *s, const char *path, unsigned depth)
{
	if (++s->mailboxes > RECALC_MAX_MAILBOXES) {
		s->error = store_err("%s: more than %u mailboxes", path, RECALC_MAX_MAILBOXES);
		return -1;
	}
	char *sub = store_path_join(path, "new");
	int ret = scan_msgdir(s, sub);
	free(sub);
	if (ret < 0)
		return -1;
	sub = store_path_join(path, "cur");
	ret = scan_msgdir(s, sub);
	free(sub);
	if (ret < 0 || depth >= STORE_MAILBOX_MAX_DEPTH)
		return ret;

	DIR *d = opendir(path);
	if (d == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		s->error = store_err_sys("opendir", path, errno);
		return -1;
	}
	struct dirent *de;
	while (ret == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || store_is_maildir_subdir(de->d_name))
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		struct stat st;
		if (de->d_type == DT_UNKNOWN &&
		    (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		     !S_ISDIR(st.st_mode)))
			continue;
		sub = store_path_join(path, de->d_name);
		ret = scan_mailbox(s, sub, depth + 1);
		free(sub);
	}
	closedir(d);
	return ret;
}

/* scan_changed: did any new/ or cur/ change since it was read? */
static bool scan_changed(const struct scan *s)
{
	for (unsigned i = 0; i < s->ndirs; i++) {
		struct stat st;
		if (stat(s->dirs[i].path, &st) < 0)
			return true;
		if (st.st_mtim.tv_sec != s->dirs[i].mtime.tv_sec ||
		    st.st_mtim.tv_nsec != s->dirs[i].mtime.tv_nsec)
			return true;
	}
	return false;
}

static int write_file(const char *root, const struct quota_limits *limits,
                      const struct quota_usage *u, const char **error_r)
{
	char uniq[MAILDIR_NAME_MAX], data[128];
	size_t n = quota_maildirsize_format(limits, u, data, sizeof(data));
	char *tmpdir = store_path_join(root, "tmp");
	int ret = 0;

	if (mkdir(tmpdir, 0700) < 0 && errno != EEXIST) {
		*error_r = store_err_sys("mkdir", tmpdir, errno);
		free(tmpdir);
		return -1;
	}
	maildir_unique_name(uniq, sizeof(uniq));
	char *tmp = store_path_join(tmpdir, uniq);
	char *final = store_path_join(root, MAILDIRSIZE_NAME);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0) {
		*error_r = store_err_sys("open", tmp, errno);
		ret = -1;
	} else if (store_write_full(fd, data, n) < 0) {
		*error_r = store_err_sys("write", tmp, errno);
		ret = -1;
	}
	if (fd >= 0 && close(fd) < 0 && ret == 0) {
		*error_r = store_err_sys("close", tmp, errno);
		ret = -1;
	}
	if (ret == 0 && rename(tmp, final) < 0) {
		*error_r = store_err_sys("rename", final, errno);
		ret = -1;
	}
	if (ret < 0 && fd >= 0)
		unlink(tmp);
	free(tmpdir);
	free(tmp);
	free(final);
	return ret;
}

int quota_recalc(const char *root, const struct quota_limits *limits, struct quota_usage *usage_r,
                 const char **error_r)
{
	struct scan s;
	struct stat st;

	memset(&s, 0, sizeof(s));
	if (stat(root, &st) < 0) {
		if (errno == ENOENT) {
			memset(usage_r, 0, sizeof(*usage_r));
			return 0;
		}
		*error_r = store_err_sys("stat", root, errno);
		return -1;
	}
	for (int i = 0; i < RECALC_TRIES; i++) {
		scan_reset(&s);
		if (scan_mailbox(&s, root, 0) < 0) {
			*error_r = s.error;
			scan_reset(&s);
			return -1;
		}
		/* Mail that arrived during the walk may be missing: walk again. */
		if (!scan_changed(&s))
			break;
	}
	*usage_r = s.u;
	scan_reset(&s);
	return write_file(root, limits, usage_r, error_r);
}

/* ---- reading and updating ---- */

/*
 * read_usage: 1 usable (*u set), 0 must be recalculated, -1 error.
 * *absent_r tells that root does not exist at all.
 */
static int read_usage(const char *root, const struct quota_limits *limits, struct quota_usage *u,
                      bool *absent_r, const char **error_r)
{
	char data[MAILDIRSIZE_MAX_SIZE + 1];
	char *path = store_path_join(root, MAILDIRSIZE_NAME);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct maildirsize ms;
	struct stat st;

	*absent_r = false;
	if (fd < 0) {
		int err = errno;
		free(path);
		if (err != ENOENT) {
			*error_r = store_err_sys("open", root, err);
			return -1;
		}
		if (stat(root, &st) < 0 && errno == ENOENT)
			*absent_r = true;
		return 0;
	}
	ssize_t n = store_read_full(fd, data, sizeof(data));
	int err = errno;
	if (n < 0 || fstat(fd, &st) < 0) {
		if (n >= 0)
			err = errno;
		close(fd);
		*error_r = store_err_sys("read", path, err);
		free(path);
		return -1;
	}
	close(fd);
	free(path);

	if (quota_maildirsize_parse(data, (size_t)n, &ms) == 0)
		return 0;
	/* The account's limits changed: the first line must follow. */
	if (ms.limits.bytes != limits->bytes || ms.limits.count != limits->count)
		return 0;
	u->bytes = (uint64_t)ms.bytes;
	u->count = (uint64_t)ms.count;
	if ((limits->bytes != 0 && u->bytes > limits->bytes) ||
	    (limits->count != 0 && u->count > limits->count)) {
		/* Over quota: trust only a fresh file of one usage line. */
		if (ms.lines > 1 || st.st_mtime < time(NULL) - MAILDIRSIZE_STALE_SECS)
			return 0;
	}
	return 1;
}

int quota_get(const char *root, const struct quota_limits *limits, struct quota_usage *usage_r,
              const char **error_r)
{
	bool absent;
	int r = read_usage(root, limits, usage_r, &absent, error_r);

	if (r < 0)
		return -1;
	if (r > 0)
		return 0;
	if (absent) {
		memset(usage_r, 0, sizeof(*usage_r));
		return 0;
	}
	return quota_recalc(root, limits, usage_r, error_r);
}

int quota_add(const char *root, const struct quota_limits *limits, int64_t bytes, int64_t count,
              const char **error_r)
{
	struct quota_usage u;
	bool absent;

	if (bytes == 0 && count == 0)
		return 0;
	int r = read_usage(root, limits, &u, &absent, error_r);
	if (r < 0)
		return -1;
	if (r == 0) /* the rebuilt file counts what is on disk already */
		return absent ? 0 : quota_recalc(root, limits, &u, error_r);

	char *path = store_path_join(root, MAILDIRSIZE_NAME);
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		free(path);
		if (err == ENOENT) /* replaced or removed meanwhile */
			return quota_recalc(root, limits, &u, error_r);
		*error_r = store_err_sys("open", root, err);
		return -1;
	}
	char line[64];
	int n = snprintf(line, sizeof(line), "%lld %lld\n", (long long)bytes, (long long)count);
	ssize_t w;
	do {
		w = write(fd, line, (size_t)n);
	} while (w < 0 && errno == EINTR);
	int ret = 0;
	if (w != n) {
		*error_r = store_err_sys("write", path, w < 0 ? errno : ENOSPC);
		ret = -1;
	}
	if (close(fd) < 0 && ret == 0) {
		*error_r = store_err_sys("close", path, errno);
		ret = -1;
	}
	free(path);
	return ret;
}

bool quota_usage_over(const struct quota_usage *u, const struct quota_limits *limits)
{
	return (limits->bytes != 0 && u->bytes >= limits->bytes) ||
	       (limits->count != 0 && u->count >= limits->count);
}

bool quota_usage_exceeded_by(const struct quota_usage *u, const struct quota_limits *limits,
                             uint64_t size)
{
	if (limits->bytes != 0 && (size > limits->bytes || u->bytes > limits->bytes - size))
		return true;
	return limits->count != 0 && u->count >= limits->count;
}

int quota_check_rcpt(const char *root, const struct quota_limits *limits, const char **error_r)
{
	struct quota_usage u;

	if (quota_get(root, limits, &u, error_r) < 0)
		return -1;
	return quota_usage_over(&u, limits) ? 1 : 0;
}

int quota_check_size(const char *root, const struct quota_limits *limits, uint64_t size,
                     const char **error_r)
{
	struct quota_usage u;

	if (quota_get(root, limits, &u, error_r) < 0)
		return -1;
	return quota_usage_exceeded_by(&u, limits, size) ? 1 : 0;
}
