/*
 * subscriptions.c - Dovecot's subscriptions file (see subscriptions.h):
 * header detection, TAB/\001 escaping of hierarchy levels, and the locked
 * read-modify-replace of one subscription.
 */
#include "store/subscriptions.h"
#include "store/dotlock.h"
#include "store/store-private.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char header_v2[] = "V\t2\n\n";
#define HEADER_V2_LEN (sizeof(header_v2) - 1)

void subscriptions_init(struct subscriptions *subs)
{
	memset(subs, 0, sizeof(*subs));
	subs->version = 2;
}

void subscriptions_free(struct subscriptions *subs)
{
	for (unsigned i = 0; i < subs->count; i++)
		free(subs->names[i]);
	for (unsigned i = 0; i < subs->nlines; i++)
		free(subs->lines[i]);
	free(subs->names);
	free(subs->lines);
	subscriptions_init(subs);
}

static void push(char ***v, unsigned *n, unsigned *cap, char *s)
{
	if (*n == *cap) {
		*cap = *cap != 0 ? *cap * 2 : 16;
		*v = xreallocarray(*v, *cap, sizeof(**v));
	}
	(*v)[(*n)++] = s;
}

/* The name a version 2 line stands for: TABs become '/', \001 escapes
 * are undone. NULL when it would hold a NUL byte. */
static char *unescape_line(const char *p, size_t n)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '\t') {
			c = '/';
		} else if (c == '\001' && i + 1 == n) {
			break; /* a lone escape at the end means nothing */
		} else if (c == '\001') {
			switch (p[++i]) {
			case '0':
				buf_free(&b);
				return NULL;
			case '1':
				c = '\001';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case 'n':
				c = '\n';
				break;
			default:
				c = p[i];
				break;
			}
		}
		buf_append_c(&b, c);
	}
	if (b.data == NULL)
		return xstrdup("");
	return buf_steal(&b);
}

/* The line for name in a file of this version. */
static void escape_name(unsigned version, const char *name, struct buf *out)
{
	if (version < 2) {
		buf_append_str(out, name);
		return;
	}
	for (const char *p = name; *p != '\0'; p++) {
		switch (*p) {
		case '/':
			buf_append_c(out, '\t');
			break;
		case '\001':
			buf_append(out, "\0011", 2);
			break;
		case '\t':
			buf_append(out, "\001t", 2);
			break;
		case '\r':
			buf_append(out, "\001r", 2);
			break;
		case '\n':
			buf_append(out, "\001n", 2);
			break;
		default:
			buf_append_c(out, *p);
			break;
		}
	}
}

int subscriptions_parse(const char *data, size_t len, struct subscriptions *subs,
                        const char **error_r)
{
	const char *p = data, *end = data + len, *nul;
	unsigned lineno = 0;

	subscriptions_free(subs);
	if (len > SUBSCRIPTIONS_MAX_SIZE) {
		*error_r = store_err("larger than %u bytes", SUBSCRIPTIONS_MAX_SIZE);
		return -1;
	}
	if ((nul = memchr(data, '\0', len)) != NULL) {
		*error_r = store_err("NUL byte at offset %zu", (size_t)(nul - data));
		return -1;
	}
	if (len >= HEADER_V2_LEN && memcmp(data, header_v2, HEADER_V2_LEN) == 0) {
		subs->version = 2;
		p += HEADER_V2_LEN;
		lineno = 2;
	} else {
		subs->version = 0;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl != NULL ? nl : end) - p);

		lineno++;
		if (n > SUBSCRIPTIONS_LINE_MAX) {
			*error_r = store_err("line %u: longer than %u bytes", lineno,
			                     SUBSCRIPTIONS_LINE_MAX);
			subscriptions_free(subs);
			return -1;
		}
		push(&subs->lines, &subs->nlines, &subs->cap_lines, xstrndup(p, n));
		if (n > 0) {
			char *name = subs->version >= 2 ? unescape_line(p, n) : xstrndup(p, n);
			if (name != NULL)
				push(&subs->names, &subs->count, &subs->cap_names, name);
		}
		p = nl != NULL ? nl + 1 : end;
	}
	return 0;
}

/* Read path into subs: 1 read, 0 missing, -1 error. */
static int read_file(const char *path, struct subscriptions *subs, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	int ret = -1;

	subscriptions_free(subs);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = store_err_sys("open", path, errno);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		*error_r = store_err_sys("fstat", path, errno);
	} else {
		size_t want = st.st_size > (off_t)SUBSCRIPTIONS_MAX_SIZE
		                  ? SUBSCRIPTIONS_MAX_SIZE + 1
		                  : (size_t)st.st_size + 1;
		char *data = xmalloc(want);
		ssize_t n = store_read_full(fd, data, want);
		const char *err;
		if (n < 0)
			*error_r = store_err_sys("read", path, errno);
		else if (subscriptions_parse(data, (size_t)n, subs, &err) < 0)
			*error_r = store_err("%s: %s", path, err);
		else
			ret = 1;
		free(data);
	}
	close(fd);
	return ret;
}

int subscriptions_read(const char *root, struct subscriptions *subs, const char **error_r)
{
	char *path = store_path_join(root, SUBSCRIPTIONS_FILE);
	int r = read_file(path, subs, error_r);

	free(path);
	return r;
}

static const char *norm_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0 ? "INBOX" : name;
}

bool subscriptions_has(const struct subscriptions *subs, const char *name)
{
	bool inbox = strcasecmp(name, "INBOX") == 0;

	for (unsigned i = 0; i < subs->count; i++) {
		if (inbox ? strcasecmp(subs->names[i], "INBOX") == 0
		          : strcmp(subs->names[i], name) == 0)
			return true;
	}
	return false;
}

void subscriptions_format(const struct subscriptions *subs, struct buf *out)
{
	if (subs->version >= 2)
		buf_append(out, header_v2, HEADER_V2_LEN);
	for (unsigned i = 0; i < subs->nlines; i++) {
		buf_append_str(out, subs->lines[i]);
		buf_append_c(out, '\n');
	}
}

static bool name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > SUBSCRIPTIONS_LINE_MAX)
		return false;
	for (const char *p = name; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	}
	return true;
}

/*
 * Under the lock: the file's new contents into out. 1 changed, 0 as it
 * is, -1 error.
 */
static int modify(const char *path, const char *name, bool subscribe, struct buf *out,
                  const char **error_r)
{
	struct subscriptions subs;
	struct buf esc = BUF_INIT;
	bool found = false, changed = false;

	subscriptions_init(&subs);
	if (read_file(path, &subs, error_r) < 0)
		return -1;
	escape_name(subs.version, name, &esc);
	if (subs.version >= 2)
		buf_append(out, header_v2, HEADER_V2_LEN);
	for (unsigned i = 0; i < subs.nlines; i++) {
		if (strcmp(subs.lines[i], buf_cstr(&esc)) == 0) {
			found = true;
			if (!subscribe) {
				changed = true;
				continue;
			}
		}
		buf_append_str(out, subs.lines[i]);
		buf_append_c(out, '\n');
	}
	if (subscribe && !found) {
		buf_append(out, esc.data, esc.len);
		buf_append_c(out, '\n');
		changed = true;
	}
	buf_free(&esc);
	subscriptions_free(&subs);
	return changed ? 1 : 0;
}

int subscriptions_set(const char *root, const char *name, bool subscribe,
                      unsigned lock_timeout_secs, const char **error_r)
{
	struct dotlock_settings set = {lock_timeout_secs, SUBSCRIPTIONS_LOCK_STALE_SECS, false};
	struct dotlock *lock;
	struct buf out = BUF_INIT;
	const char *ignored;
	char *path;
	int r;

	if (!name_ok(name)) {
		*error_r = store_err("not a mailbox name to subscribe: \"%.60s\"", name);
		return -1;
	}
	name = norm_inbox(name);
	path = store_path_join(root, SUBSCRIPTIONS_FILE);
	r = dotlock_create(path, &set, &lock, error_r);
	if (r <= 0) {
		free(path);
		return -1;
	}
	r = modify(path, name, subscribe, &out, error_r);
	if (r > 0 && store_write_full(dotlock_fd(lock), out.data, out.len) < 0) {
		*error_r = store_err_sys("write", dotlock_lock_path(lock), errno);
		r = -1;
	}
	if (r > 0) {
		if (dotlock_replace(&lock, error_r) < 0)
			r = -1;
	} else if (dotlock_release(&lock, r == 0 ? error_r : &ignored) < 0 && r == 0) {
		r = -1;
	}
	buf_free(&out);
	free(path);
	return r;
}
