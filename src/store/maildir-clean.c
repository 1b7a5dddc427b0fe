/*
 * maildir-clean.c - removal of stale files from tmp/ (see maildir.h).
 *
 * Rule: a regular file in tmp/ goes when it has been neither modified nor
 * read for 36 hours (the Maildir spec's and Dovecot's age), or at once
 * when its name says it was written on this host by a process that no
 * longer exists: a delivery killed half-way never comes back for it.
 * Files of live processes (ours included) are never touched, so this is
 * safe to run while deliveries go on.
 */
#include "store/store.h"
#include "store/store-private.h"
#include "core/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TREE_MAX_DEPTH 40

static bool pid_is_gone(long pid)
{
	if (pid <= 1)
		return false;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

static bool is_stale(const char *name, const struct stat *st, time_t now)
{
	time_t limit = now - MAILDIR_TMP_STALE_SECS;

	if (st->st_mtime < limit && st->st_atime < limit)
		return true;

	struct maildir_name mn;
	const char *host = maildir_hostname();
	size_t hlen = strlen(host);

	if (maildir_name_parse(name, strlen(name), &mn) < 0 || !mn.have_origin || mn.pid == 0)
		return false;
	/* The host part ends where the name's extra fields begin. */
	if (mn.host_len != hlen || memcmp(mn.host, host, hlen) != 0)
		return false;
	return pid_is_gone(mn.pid);
}

int maildir_clean_tmp(const char *mailbox, time_t now, unsigned *removed_r, const char **error_r)
{
	char *tmp = store_path_join(mailbox, "tmp");
	int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	int ret = 0;

	*removed_r = 0;
	if (dfd < 0) {
		if (errno != ENOENT) {
			*error_r = store_err_sys("open", tmp, errno);
			ret = -1;
		}
		free(tmp);
		return ret;
	}
	DIR *d = fdopendir(dfd);
	if (d == NULL) {
		*error_r = store_err_sys("fdopendir", tmp, errno);
		close(dfd);
		free(tmp);
		return -1;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.' &&
		    (de->d_name[1] == '\0' || (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone meanwhile */
		if (!S_ISREG(st.st_mode))
			continue;
		if (!is_stale(de->d_name, &st, now))
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0)
			(*removed_r)++;
		else if (errno != ENOENT) {
			*error_r = store_err_sys("unlink", de->d_name, errno);
			ret = -1;
		}
	}
	closedir(d);
	free(tmp);
	return ret;
}

struct walk {
	time_t now;
	unsigned max_dirs;
	struct maildir_clean_stats *st;
};

static bool has_subdir(int dfd, const char *name)
{
	struct stat st;
	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

static void walk_dir(struct walk *w, const char *path, unsigned depth)
{
	if (w->st->dirs >= w->max_dirs) {
		w->st->truncated = true;
		return;
	}
	w->st->dirs++;

	/* The top may be a symlink (/var/vmail -> /srv/vmail); nothing below. */
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (depth > 0 ? O_NOFOLLOW : 0));
	if (dfd < 0)
		return;
	if (has_subdir(dfd, "tmp") && has_subdir(dfd, "cur") && has_subdir(dfd, "new")) {
		unsigned removed = 0;
		const char *error;
		w->st->maildirs++;
		if (maildir_clean_tmp(path, w->now, &removed, &error) < 0)
			w->st->errors++;
		w->st->removed += removed;
	}
	if (depth >= TREE_MAX_DEPTH) {
		close(dfd);
		return;
	}
	DIR *d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || store_is_maildir_subdir(de->d_name))
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (de->d_type == DT_UNKNOWN && !has_subdir(dirfd(d), de->d_name))
			continue;
		char *sub = store_path_join(path, de->d_name);
		walk_dir(w, sub, depth + 1);
		free(sub);
		if (w->st->truncated)
			break;
	}
	closedir(d);
}

int maildir_clean_tmp_tree(const char *top, time_t now, unsigned max_dirs,
                           struct maildir_clean_stats *stats_r, const char **error_r)
{
	struct walk w = {now, max_dirs, stats_r};
	struct stat st;

	memset(stats_r, 0, sizeof(*stats_r));
	if (stat(top, &st) < 0) {
		*error_r = store_err_sys("stat", top, errno);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		*error_r = store_err_sys("stat", top, ENOTDIR);
		return -1;
	}
	walk_dir(&w, top, 0);
	return 0;
}
