/*
 * keywords.c - Dovecot's dovecot-keywords (see keywords.h): the lenient
 * parser, letter and name lookups, adding a keyword and replacing the
 * file under the uidlist lock.
 */
#include "store/keywords.h"
#include "store/uidlist.h"
#include "store/store-private.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

void keywords_init(struct keywords *kw)
{
	memset(kw, 0, sizeof(*kw));
}

void keywords_free(struct keywords *kw)
{
	for (unsigned i = 0; i < KEYWORDS_MAX; i++)
		free(kw->names[i]);
	keywords_init(kw);
}

/* One line (without its line end); skipped when Dovecot would skip it. */
static void parse_line(struct keywords *kw, const char *p, size_t n, unsigned lineno)
{
	const char *sp = memchr(p, ' ', n);
	unsigned idx = 0;

	if (sp == NULL || sp == p || sp + 1 == p + n)
		return;
	for (const char *q = p; q < sp; q++) {
		if (*q < '0' || *q > '9')
			return;
		idx = idx * 10 + (unsigned)(*q - '0');
		if (idx >= KEYWORDS_MAX)
			return;
	}
	free(kw->names[idx]);
	kw->names[idx] = xstrndup(sp + 1, (size_t)(p + n - (sp + 1)));
	kw->line[idx] = lineno;
}

int keywords_parse(const char *data, size_t len, struct keywords *kw, const char **error_r)
{
	const char *p = data, *end = data + len, *nul;
	unsigned lineno = 0;

	keywords_free(kw);
	if (len > KEYWORDS_MAX_SIZE) {
		*error_r = store_err("larger than %u bytes", KEYWORDS_MAX_SIZE);
		return -1;
	}
	if ((nul = memchr(data, '\0', len)) != NULL) {
		*error_r = store_err("NUL byte at offset %zu", (size_t)(nul - data));
		return -1;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl != NULL ? nl : end) - p);

		lineno++;
		if (n > KEYWORDS_LINE_MAX) {
			*error_r =
			    store_err("line %u: longer than %u bytes", lineno, KEYWORDS_LINE_MAX);
			keywords_free(kw);
			return -1;
		}
		if (nl == NULL)
			break; /* no line end: not complete, Dovecot ignores it too */
		parse_line(kw, p, n, lineno);
		p = nl + 1;
	}
	return 0;
}

int keywords_read(const char *mailbox, struct keywords *kw, const char **error_r)
{
	char *path = store_path_join(mailbox, KEYWORDS_FILE);
	char *data = NULL;
	int ret = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;

	keywords_free(kw);
	if (fd < 0) {
		if (errno == ENOENT)
			ret = 0;
		else
			*error_r = store_err_sys("open", path, errno);
	} else if (fstat(fd, &st) < 0) {
		*error_r = store_err_sys("fstat", path, errno);
	} else {
		/* One byte more than allowed shows that it is too large. */
		size_t want = st.st_size > (off_t)KEYWORDS_MAX_SIZE ? KEYWORDS_MAX_SIZE + 1
		                                                    : (size_t)st.st_size + 1;
		data = xmalloc(want);
		ssize_t n = store_read_full(fd, data, want);
		const char *err;
		if (n < 0) {
			*error_r = store_err_sys("read", path, errno);
		} else if (keywords_parse(data, (size_t)n, kw, &err) < 0) {
			*error_r = store_err("%s: %s", path, err);
		} else {
			kw->mtime = st.st_mtime;
			ret = 1;
		}
	}
	if (fd >= 0)
		close(fd);
	free(data);
	free(path);
	return ret;
}

const char *keywords_name(const struct keywords *kw, char letter)
{
	if (letter < 'a' || letter > 'z')
		return NULL;
	return kw->names[letter - 'a'];
}

char keywords_letter(const struct keywords *kw, const char *name)
{
	int best = -1;

	for (int i = 0; i < KEYWORDS_MAX; i++) {
		if (kw->names[i] != NULL && strcasecmp(kw->names[i], name) == 0 &&
		    (best < 0 || kw->line[i] > kw->line[best]))
			best = i;
	}
	return best < 0 ? '\0' : (char)('a' + best);
}

bool keywords_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > KEYWORDS_NAME_MAX)
		return false;
	for (const char *p = name; *p != '\0'; p++) {
		if (*p < 0x21 || *p > 0x7e || strchr("(){%*\"\\]", *p) != NULL)
			return false;
	}
	return true;
}

int keywords_add(struct keywords *kw, const char *name, char *letter_r, const char **error_r)
{
	char have = keywords_letter(kw, name);

	if (have != '\0') {
		*letter_r = have;
		return 0;
	}
	if (!keywords_name_ok(name)) {
		*error_r = store_err("not an IMAP keyword: \"%.60s\"", name);
		return -1;
	}
	unsigned max_line = 0;
	for (unsigned i = 0; i < KEYWORDS_MAX; i++) {
		if (kw->names[i] != NULL && kw->line[i] > max_line)
			max_line = kw->line[i];
	}
	for (unsigned i = 0; i < KEYWORDS_MAX; i++) {
		if (kw->names[i] == NULL) {
			kw->names[i] = xstrdup(name);
			kw->line[i] = max_line + 1;
			*letter_r = (char)('a' + i);
			return 1;
		}
	}
	*error_r = "all 26 Maildir keyword letters are taken";
	return -1;
}

void keywords_format(const struct keywords *kw, struct buf *out)
{
	for (unsigned i = 0; i < KEYWORDS_MAX; i++) {
		if (kw->names[i] != NULL)
			buf_appendf(out, "%u %s\n", i, kw->names[i]);
	}
}

/* Write the contents into the (replace) lock and move its mtime past
 * old_mtime; sets *mtime_r. */
static int write_contents(struct dotlock *lock, const struct keywords *kw, time_t old_mtime,
                          time_t *mtime_r, const char **error_r)
{
	struct buf out = BUF_INIT;
	int fd = dotlock_fd(lock);
	struct stat st;
	int ret = -1;

	keywords_format(kw, &out);
	if (store_write_full(fd, out.data, out.len) < 0) {
		*error_r = store_err_sys("write", dotlock_lock_path(lock), errno);
	} else if (fstat(fd, &st) < 0) {
		*error_r = store_err_sys("fstat", dotlock_lock_path(lock), errno);
	} else if (st.st_mtime > old_mtime) {
		*mtime_r = st.st_mtime;
		ret = 0;
	} else {
		struct timespec ts[2];
		clock_gettime(CLOCK_REALTIME, &ts[0]);
		ts[1].tv_sec = old_mtime + 1;
		ts[1].tv_nsec = 0;
		if (futimens(fd, ts) < 0) {
			*error_r = store_err_sys("futimens", dotlock_lock_path(lock), errno);
		} else {
			*mtime_r = old_mtime + 1;
			ret = 0;
		}
	}
	buf_free(&out);
	return ret;
}

int keywords_write(const char *mailbox, struct keywords *kw, const struct dotlock *uidlist_lock,
                   const char **error_r)
{
	char *path = store_path_join(mailbox, KEYWORDS_FILE);
	char *ul_path = store_path_join(mailbox, UIDLIST_FILE);
	char *lock_path = xasprintf("%s.lock", path);
	struct dotlock_settings set = {0, 0, false};
	struct dotlock *lock = NULL;
	struct stat st;
	time_t old_mtime = kw->mtime, mtime = 0;
	int ret = -1;

	if (uidlist_lock == NULL || strcmp(dotlock_path(uidlist_lock), ul_path) != 0 ||
	    !dotlock_is_ours(uidlist_lock)) {
		*error_r = store_err("%s: written without the uidlist lock", path);
	} else {
		if (stat(path, &st) == 0 && st.st_mtime > old_mtime)
			old_mtime = st.st_mtime;
		/* The uidlist lock is what excludes other writers: a
		 * keywords lock left now is a crashed writer's. */
		(void)unlink(lock_path);
		int r = dotlock_create(path, &set, &lock, error_r);
		if (r > 0 && write_contents(lock, kw, old_mtime, &mtime, error_r) < 0) {
			const char *ignored;
			(void)dotlock_release(&lock, &ignored);
		} else if (r > 0 && dotlock_replace(&lock, error_r) == 0) {
			kw->mtime = mtime;
			ret = 0;
		}
	}
	free(lock_path);
	free(ul_path);
	free(path);
	return ret;
}
