/*
 * mbox-list.c - the folders of a Maildir root as Dovecot's LAYOUT=fs
 * keeps them (folder "A/B" is <root>/A/B with cur/ new/ tmp/): LIST,
 * CREATE, DELETE and RENAME for the IMAP layer (mbox.h). Nothing about
 * special-use is stored on disk; subscriptions are subscriptions.h's.
 */
#include "store/mbox-private.h"
#include "store/store-private.h"
#include "store/store.h"
#include "core/log.h"
#include "core/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define LIST_DEFAULT_MAX 10000

struct list_ctx {
	const char *root;
	struct mbox_list_entry *v;
	unsigned n, cap, max;
	bool full;
};

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_dir(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool has_cur(const char *path)
{
	char *c = store_path_join(path, "cur");
	bool r = is_dir(c);
	free(c);
	return r;
}

/* Sub-directory names of path that can be folders, sorted. */
static char **child_dirs(const char *path, unsigned *n_r)
{
	DIR *d = opendir(path);
	char **v = NULL;
	unsigned n = 0;
	struct dirent *de;

	*n_r = 0;
	if (d == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || store_is_maildir_subdir(de->d_name))
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		char *full = store_path_join(path, de->d_name);
		bool ok = is_dir(full);
		free(full);
		if (!ok)
			continue;
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), str_cmp);
	*n_r = n;
	return v;
}

/* Walk below rel ("" for root); returns the entries added. */
static unsigned walk(struct list_ctx *c, const char *rel, unsigned depth)
{
	char *path = rel[0] == '\0' ? xstrdup(c->root) : store_path_join(c->root, rel);
	unsigned nchild, added = 0;
	char **kids = depth < STORE_MAILBOX_MAX_DEPTH ? child_dirs(path, &nchild) : NULL;

	if (kids == NULL)
		nchild = 0;
	for (unsigned i = 0; i < nchild; i++) {
		if (c->n >= c->max) {
			c->full = true;
			break;
		}
		char *name = rel[0] == '\0' ? xstrdup(kids[i]) : xasprintf("%s/%s", rel, kids[i]);
		char *full = store_path_join(c->root, name);
		bool folder = has_cur(full);
		free(full);
		unsigned at = c->n;
		if (c->n == c->cap) {
			c->cap = c->cap < 16 ? 16 : c->cap * 2;
			c->v = xreallocarray(c->v, c->cap, sizeof(*c->v));
		}
		c->v[c->n++] = (struct mbox_list_entry){.name = name};
		unsigned below = walk(c, name, depth + 1);
		if (!folder && below == 0) {
			free(c->v[at].name);
			c->n--;
			continue;
		}
		c->v[at].has_children = below > 0;
		c->v[at].noselect = !folder;
		added += 1 + below;
	}
	for (unsigned i = 0; i < nchild; i++)
		free(kids[i]);
	free(kids);
	free(path);
	return added;
}

int mbox_list(const char *root, unsigned max_entries, struct mbox_list_entry **entries_r,
              unsigned *count_r, const char **error_r)
{
	struct list_ctx c = {.root = root, .max = max_entries > 0 ? max_entries : LIST_DEFAULT_MAX};

	if (!is_dir(root)) {
		*entries_r = NULL;
		*count_r = 0;
		if (errno == ENOENT)
			return 0;
		*error_r = store_err_sys("stat", root, errno);
		return -1;
	}
	(void)walk(&c, "", 0);
	if (c.full)
		log_warn("event=mailbox_list_truncated root=%s max=%u", log_esc(root), c.max);
	*entries_r = c.v;
	*count_r = c.n;
	return 0;
}

void mbox_list_free(struct mbox_list_entry *entries, unsigned count)
{
	for (unsigned i = 0; i < count; i++)
		free(entries[i].name);
	free(entries);
}

static bool is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

int mbox_create(const char *root, const char *name, bool *exists_r, const char **error_r)
{
	char *path;

	*exists_r = false;
	if (is_inbox(name)) {
		*exists_r = true;
		*error_r = "INBOX exists always";
		return -1;
	}
	if (store_mailbox_path(root, name, &path, error_r) < 0)
		return -1;
	if (has_cur(path)) {
		*exists_r = true;
		*error_r = store_err("mailbox exists: %s", name);
		free(path);
		return -1;
	}
	int r = maildir_create(path, root, error_r);
	free(path);
	return r;
}

/* Remove every non-directory entry of path; sizes of message files
 * (in cur/ new/) are added up when sum. */
static int empty_dir(const char *path, bool sum, int64_t *bytes, int64_t *count,
                     const char **error_r)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		*error_r = store_err_sys("opendir", path, errno);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char *f = store_path_join(path, de->d_name);
		struct stat st;
		if (lstat(f, &st) == 0 && !S_ISDIR(st.st_mode)) {
			if (sum && de->d_name[0] != '.') {
				struct maildir_name mn;
				uint64_t sz = (uint64_t)st.st_size;
				if (maildir_name_parse(de->d_name, strlen(de->d_name), &mn) == 0 &&
				    mn.have_size)
					sz = mn.size;
				*bytes += (int64_t)sz;
				(*count)++;
			}
			if (unlink(f) < 0 && errno != ENOENT) {
				*error_r = store_err_sys("unlink", f, errno);
				free(f);
				closedir(d);
				return -1;
			}
		}
		free(f);
	}
	closedir(d);
	return 0;
}

int mbox_delete(const char *root, const char *name, const struct quota_limits *quota,
                const char **error_r)
{
	static const char *const subs[] = {"cur", "new", "tmp"};
	char *path;
	int64_t bytes = 0, count = 0;
	int ret = -1;

	if (is_inbox(name)) {
		*error_r = "INBOX cannot be deleted";
		return -1;
	}
	if (store_mailbox_path(root, name, &path, error_r) < 0)
		return -1;
	if (!has_cur(path)) {
		*error_r = store_err("no such mailbox: %s", name);
		goto out;
	}
	for (unsigned i = 0; i < 3; i++) {
		char *s = store_path_join(path, subs[i]);
		int r = empty_dir(s, i < 2, &bytes, &count, error_r);
		if (r == 0 && rmdir(s) < 0 && errno != ENOENT) {
			*error_r = store_err_sys("rmdir", s, errno);
			r = -1;
		}
		free(s);
		if (r < 0)
			goto out;
	}
	if (empty_dir(path, false, &bytes, &count, error_r) < 0)
		goto out;
	unsigned nkids;
	char **kids = child_dirs(path, &nkids);
	for (unsigned i = 0; i < nkids; i++)
		free(kids[i]);
	free(kids);
	if (nkids == 0 && rmdir(path) < 0 && errno != ENOENT) {
		*error_r = store_err_sys("rmdir", path, errno);
		goto out;
	}
	ret = 0;
out:
	if (count > 0) {
		struct quota_limits none = {0, 0};
		const char *qerr;
		if (quota_add(root, quota != NULL ? quota : &none, -bytes, -count, &qerr) < 0)
			log_warn("event=quota_update_failed root=%s error=%s", log_esc(root),
			         log_esc(qerr));
	}
	free(path);
	return ret;
}

/* Move every message file of INBOX's sub/ into to/sub/. */
static int move_files(const char *from, const char *to, const char *sub, const char **error_r)
{
	char *fs = store_path_join(from, sub);
	DIR *d = opendir(fs);
	struct dirent *de;
	int ret = 0;

	if (d == NULL) {
		free(fs);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char *a = store_path_join(fs, de->d_name);
		char *b = xasprintf("%s/%s/%s", to, sub, de->d_name);
		if (rename(a, b) < 0 && errno != ENOENT) {
			*error_r = store_err_sys("rename", a, errno);
			ret = -1;
		}
		free(a);
		free(b);
		if (ret < 0)
			break;
	}
	closedir(d);
	if (ret == 0) {
		char *ts = store_path_join(to, sub);
		ret = store_fsync_dir(ts, error_r);
		free(ts);
	}
	free(fs);
	return ret;
}

int mbox_rename(const char *root, const char *from, const char *to, const char **error_r)
{
	char *pf = NULL, *pt = NULL;
	struct stat st;
	int ret = -1;

	if (is_inbox(to)) {
		*error_r = "cannot rename to INBOX";
		return -1;
	}
	if (store_mailbox_path(root, to, &pt, error_r) < 0)
		return -1;
	if (lstat(pt, &st) == 0) {
		*error_r = store_err("mailbox exists: %s", to);
		goto out;
	}
	if (is_inbox(from)) {
		if (maildir_create(pt, root, error_r) < 0)
			goto out;
		if (move_files(root, pt, "new", error_r) < 0 ||
		    move_files(root, pt, "cur", error_r) < 0)
			goto out;
		ret = 0;
		goto out;
	}
	if (store_mailbox_path(root, from, &pf, error_r) < 0)
		goto out;
	if (lstat(pf, &st) < 0 || !S_ISDIR(st.st_mode)) {
		*error_r = store_err("no such mailbox: %s", from);
		goto out;
	}
	char *parent = xstrdup(pt);
	char *slash = strrchr(parent, '/');
	if (slash != NULL)
		*slash = '\0';
	int r = store_mkdirs(root, parent, error_r);
	free(parent);
	if (r < 0)
		goto out;
	if (rename(pf, pt) < 0) {
		*error_r = store_err_sys("rename", pf, errno);
		goto out;
	}
	ret = 0;
out:
	free(pf);
	free(pt);
	return ret;
}
