/*
 * store-path.c - where a user's mail lives (see store.h): expansion of
 * mail_home with checked address parts, mailbox directories of the fs
 * layout, and creation of missing directories below the static prefix.
 */
#include "store/store.h"
#include "store/store-private.h"
#include "core/buf.h"
#include "core/xalloc.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* A byte that may not appear in a path part taken from outside. */
static bool bad_path_byte(unsigned char c)
{
	return c < 0x20 || c == 0x7f || c == '/' || c == '\\';
}

bool store_name_is_safe(const char *s)
{
	if (s == NULL || s[0] == '\0' || s[0] == '.')
		return false;
	size_t n = strlen(s);
	if (n > NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (bad_path_byte((unsigned char)s[i]))
			return false;
	}
	return true;
}

int store_expand(const char *tmpl, const char *local, const char *domain, char **path_r,
                 const char **error_r)
{
	struct buf b = BUF_INIT;

	if (!store_name_is_safe(local)) {
		*error_r = "local part not usable in a path";
		return -1;
	}
	if (!store_name_is_safe(domain)) {
		*error_r = "domain not usable in a path";
		return -1;
	}
	for (const char *p = tmpl; *p != '\0'; p++) {
		if (*p != '%') {
			buf_append_c(&b, *p);
			continue;
		}
		switch (p[1]) {
		case 'd':
			buf_append_str(&b, domain);
			break;
		case 'n':
			buf_append_str(&b, local);
			break;
		case 'u':
			buf_appendf(&b, "%s@%s", local, domain);
			break;
		case '%':
			buf_append_c(&b, '%');
			break;
		default:
			buf_free(&b);
			*error_r = store_err("unknown variable %%%c in %s (only %%d %%n %%u %%%%)",
			                     p[1] == '\0' ? '?' : p[1], tmpl);
			return -1;
		}
		p++;
	}
	if (b.len == 0 || b.len >= PATH_MAX) {
		buf_free(&b);
		*error_r = "expanded path empty or too long";
		return -1;
	}
	*path_r = buf_steal(&b);
	return 0;
}

/* dirname without modifying s: "" and "x" give ".", "/x" gives "/". */
static char *parent_dir(const char *s, size_t len)
{
	while (len > 1 && s[len - 1] == '/')
		len--;
	while (len > 0 && s[len - 1] != '/')
		len--;
	if (len == 0)
		return xstrdup(".");
	while (len > 1 && s[len - 1] == '/')
		len--;
	return xstrndup(s, len);
}

char *store_static_prefix(const char *tmpl)
{
	const char *pct = strchr(tmpl, '%');

	if (pct == NULL)
		return parent_dir(tmpl, strlen(tmpl));
	/* The directory that holds the first variable part. */
	return parent_dir(tmpl, (size_t)(pct - tmpl) + 1);
}

static void trim_slashes(char *s)
{
	size_t n = strlen(s);
	while (n > 1 && s[n - 1] == '/')
		s[--n] = '\0';
}

int store_user_init(struct store_user *user, const struct config_mail *mail, const char *local,
                    const char *domain, const char **error_r)
{
	const char *loc = mail->location != NULL ? mail->location : "";

	memset(user, 0, sizeof(*user));
	if (store_expand(mail->home, local, domain, &user->home, error_r) < 0)
		return -1;
	trim_slashes(user->home);
	if (loc[0] == '/') {
		if (store_expand(loc, local, domain, &user->root, error_r) < 0) {
			store_user_deinit(user);
			return -1;
		}
		user->base = store_static_prefix(loc);
	} else {
		if (loc[0] == '~' && (loc[1] == '/' || loc[1] == '\0'))
			loc += loc[1] == '\0' ? 1 : 2;
		if (strchr(loc, '%') != NULL) {
			store_user_deinit(user);
			*error_r = "a relative mail location cannot hold variables";
			return -1;
		}
		user->root =
		    loc[0] == '\0' ? xstrdup(user->home) : xasprintf("%s/%s", user->home, loc);
		user->base = store_static_prefix(mail->home);
	}
	trim_slashes(user->root);
	if (strlen(user->root) >= PATH_MAX - MAILDIR_NAME_MAX - 16) {
		store_user_deinit(user);
		*error_r = "mail root path too long";
		return -1;
	}
	return 0;
}

void store_user_deinit(struct store_user *user)
{
	free(user->home);
	free(user->root);
	free(user->base);
	memset(user, 0, sizeof(*user));
}

static int check_mailbox_part(const char *p, size_t n, const char **error_r)
{
	if (n == 0) {
		*error_r = "mailbox name has an empty part";
		return -1;
	}
	if (n > NAME_MAX) {
		*error_r = "mailbox name part too long";
		return -1;
	}
	if (p[0] == '.') {
		*error_r = "mailbox name part starts with '.'";
		return -1;
	}
	if (n == 3 &&
	    (memcmp(p, "cur", 3) == 0 || memcmp(p, "new", 3) == 0 || memcmp(p, "tmp", 3) == 0)) {
		*error_r = "mailbox name part is cur, new or tmp";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (bad_path_byte((unsigned char)p[i])) {
			*error_r = "mailbox name holds a control character or '\\'";
			return -1;
		}
	}
	return 0;
}

int store_mailbox_path(const char *root, const char *name, char **path_r, const char **error_r)
{
	if (name == NULL || name[0] == '\0') {
		*error_r = "empty mailbox name";
		return -1;
	}
	if (strcasecmp(name, "INBOX") == 0) {
		*path_r = xstrdup(root);
		return 0;
	}

	struct buf b = BUF_INIT;
	unsigned depth = 0;
	const char *p = name;

	buf_append_str(&b, root);
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash != NULL ? (size_t)(slash - p) : strlen(p);

		if (++depth > STORE_MAILBOX_MAX_DEPTH) {
			buf_free(&b);
			*error_r = "mailbox name nested too deep";
			return -1;
		}
		if (check_mailbox_part(p, n, error_r) < 0) {
			buf_free(&b);
			return -1;
		}
		buf_append_c(&b, '/');
		/* INBOX is case-insensitive wherever it starts a name. */
		if (depth == 1 && n == 5 && strncasecmp(p, "INBOX", 5) == 0)
			buf_append_str(&b, "INBOX");
		else
			buf_append(&b, p, n);
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	if (b.len >= PATH_MAX - MAILDIR_NAME_MAX - 16) {
		buf_free(&b);
		*error_r = "mailbox path too long";
		return -1;
	}
	*path_r = buf_steal(&b);
	return 0;
}

static int is_dir(const char *path, int *errno_r)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		*errno_r = errno;
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		*errno_r = ENOTDIR;
		return -1;
	}
	return 0;
}

int store_mkdirs(const char *base, const char *path, const char **error_r)
{
	size_t blen = strlen(base);
	int err;

	while (blen > 1 && base[blen - 1] == '/')
		blen--;
	if (is_dir(path, &err) == 0)
		return 0;
	if (err != ENOENT) {
		*error_r = store_err_sys("stat", path, err);
		return -1;
	}
	if (strncmp(path, base, blen) != 0 ||
	    (path[blen] != '/' && path[blen] != '\0' && !(blen == 1 && base[0] == '/'))) {
		*error_r = store_err("%s is not below %.*s", path, (int)blen, base);
		return -1;
	}
	char *b = xstrndup(base, blen);
	if (is_dir(b, &err) < 0) {
		*error_r = store_err_sys("stat", b, err);
		free(b);
		return -1;
	}
	free(b);

	char *tmp = xstrdup(path);
	size_t len = strlen(tmp);
	size_t i = blen;
	int ret = 0;

	while (i < len) {
		while (i < len && tmp[i] == '/')
			i++;
		if (i >= len)
			break;
		while (i < len && tmp[i] != '/')
			i++;
		char saved = tmp[i];
		tmp[i] = '\0';
		if (mkdir(tmp, 0700) == 0) {
			/* Make the new entry durable: fsync its parent. */
			char *parent = parent_dir(tmp, i);
			ret = store_fsync_dir(parent, error_r);
			free(parent);
		} else if (errno == EEXIST) {
			if (is_dir(tmp, &err) < 0) {
				*error_r = store_err_sys("mkdir", tmp, err);
				ret = -1;
			}
		} else {
			*error_r = store_err_sys("mkdir", tmp, errno);
			ret = -1;
		}
		tmp[i] = saved;
		if (ret < 0)
			break;
	}
	free(tmp);
	return ret;
}
