/*
 * imap-cmd-mailbox.c - CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE
 * (RFC 9051 6.3.4-6.3.8, RFC 3501 6.3.3-6.3.7), CREATE's USE option of
 * CREATE-SPECIAL-USE (RFC 6154 section 3), and the mailbox-name check
 * every command with a mailbox argument uses.
 *
 * Names: modified UTF-7 (RFC 3501 5.1.3), checked strictly, stored on
 * disk as sent (as Dovecot does); "/" separates levels; a trailing "/"
 * is dropped; INBOX in any case is INBOX; store_mailbox_path() refuses
 * the rest (parts starting with '.', cur/new/tmp, too deep).
 *
 * On disk (Dovecot LAYOUT=fs): a folder is a directory below the root
 * with cur/ new/ tmp/ and an empty maildirfolder file; missing parents
 * are plain directories (\Noselect). DELETE of a folder that has
 * children removes its messages and Maildir directories and keeps the
 * directory as \Noselect; otherwise the whole directory goes; INBOX
 * cannot be deleted; the quota file is recalculated afterwards. RENAME
 * moves the directory (children included) and the subscriptions of the
 * names below it; RENAME of INBOX moves its messages into the new folder
 * and leaves INBOX empty (RFC 3501 6.3.5). Everything runs in the pool.
 */
#include "imap/imap-private.h"
#include "imap/imap-mutf7.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAILBOX_NAME_MAX 1000

char *imap_mailbox_name(const struct imap_session *s, const char *name, size_t len,
                        const char **error_r)
{
	(void)s;
	const char *err;
	if (len == 0) {
		*error_r = "Empty mailbox name.";
		return NULL;
	}
	if (len > MAILBOX_NAME_MAX || memchr(name, '\0', len) != NULL) {
		*error_r = "[CANNOT] Invalid mailbox name: Name is too long.";
		return NULL;
	}
	if (imap_mutf7_check(name, len, &err) < 0) {
		*error_r = "[CANNOT] Invalid mailbox name: not valid modified UTF-7.";
		return NULL;
	}
	char *n = xstrndup(name, len);
	size_t l = len;
	if (l > 1 && n[l - 1] == IMAP_SEP)
		n[--l] = '\0';
	if (strncasecmp(n, "INBOX", 5) == 0 && (n[5] == '\0' || n[5] == IMAP_SEP))
		memcpy(n, "INBOX", 5);
	char *path;
	if (store_mailbox_path("/", n, &path, &err) < 0) {
		free(n);
		*error_r = "[CANNOT] Invalid mailbox name.";
		return NULL;
	}
	free(path);
	return n;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool has_sub(const char *dir, const char *sub)
{
	char *p = xasprintf("%s/%s", dir, sub);
	bool r = is_dir(p);
	free(p);
	return r;
}

static void fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

int imap_folder_create(const char *root, const char *name, const char **error_r)
{
	char *path;
	if (store_mailbox_path(root, name, &path, error_r) < 0)
		return -1;
	if (has_sub(path, "cur")) {
		free(path);
		return 0;
	}
	if (maildir_create(path, root, error_r) < 0) {
		free(path);
		return -1;
	}
	if (strcmp(path, root) != 0) {
		char *mf = xasprintf("%s/maildirfolder", path);
		int fd = open(mf, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
		free(mf);
	}
	free(path);
	return 1;
}

/* folder_children: path holds at least one folder directory */
static bool folder_children(const char *path)
{
	DIR *d = opendir(path);
	if (d == NULL)
		return false;
	bool any = false;
	struct dirent *de;
	while (!any && (de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		if (n[0] == '.' || strcmp(n, "cur") == 0 || strcmp(n, "new") == 0 ||
		    strcmp(n, "tmp") == 0)
			continue;
		struct stat st;
		any = fstatat(dirfd(d), n, &st, 0) == 0 && S_ISDIR(st.st_mode);
	}
	closedir(d);
	return any;
}

/* rm_tree: remove path and everything below it (depth-bounded) */
static int rm_tree(const char *path, unsigned depth)
{
	if (depth > STORE_MAILBOX_MAX_DEPTH + 2)
		return -1;
	DIR *d = opendir(path);
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	int ret = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			char *sub = xasprintf("%s/%s", path, n);
			if (rm_tree(sub, depth + 1) < 0)
				ret = -1;
			free(sub);
		} else if (unlinkat(dirfd(d), n, 0) < 0 && errno != ENOENT) {
			ret = -1;
		}
	}
	closedir(d);
	if (rmdir(path) < 0 && errno != ENOENT)
		ret = -1;
	return ret;
}

/* rm_mailbox_only: the messages, Maildir directories and files of path,
 * not its folders */
static int rm_mailbox_only(const char *path)
{
	static const char *const subs[] = {"cur", "new", "tmp"};
	int ret = 0;
	for (size_t i = 0; i < 3; i++) {
		char *p = xasprintf("%s/%s", path, subs[i]);
		if (rm_tree(p, 0) < 0)
			ret = -1;
		free(p);
	}
	DIR *d = opendir(path);
	if (d == NULL)
		return -1;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !S_ISDIR(st.st_mode))
			(void)unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
	return ret;
}

/* move_files: every message of from/sub into to/sub */
static int move_files(const char *from, const char *to, const char *sub)
{
	char *fd_path = xasprintf("%s/%s", from, sub), *td_path = xasprintf("%s/%s", to, sub);
	DIR *d = opendir(fd_path);
	int ret = 0;
	if (d != NULL) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			char *a = xasprintf("%s/%s", fd_path, de->d_name);
			char *b = xasprintf("%s/%s", td_path, de->d_name);
			if (rename(a, b) < 0)
				ret = -1;
			free(a);
			free(b);
		}
		closedir(d);
		fsync_dir(td_path);
		fsync_dir(fd_path);
	}
	free(fd_path);
	free(td_path);
	return ret;
}

enum mbox_op { OP_CREATE, OP_DELETE, OP_RENAME, OP_SUBSCRIBE, OP_UNSUBSCRIBE };

struct mbox_job {
	struct imap_session *s;
	enum mbox_op op;
	char *root;
	char *name, *name2;
	struct quota_limits limits;
	const char *no; /* static NO text, or NULL */
	char *error;    /* server-side failure, for the log */
};

static void set_err(struct mbox_job *j, const char *what, const char *detail)
{
	j->error = xasprintf("%s: %s", what, detail);
}

static void do_create(struct mbox_job *j)
{
	const char *err;
	if (strcmp(j->name, "INBOX") == 0) {
		j->no = "[ALREADYEXISTS] Mailbox already exists";
		return;
	}
	int r = imap_folder_create(j->root, j->name, &err);
	if (r < 0)
		set_err(j, "create", err);
	else if (r == 0)
		j->no = "[ALREADYEXISTS] Mailbox already exists";
}

static void do_delete(struct mbox_job *j)
{
	const char *err;
	char *path;
	if (strcmp(j->name, "INBOX") == 0) {
		j->no = "INBOX can't be deleted.";
		return;
	}
	if (store_mailbox_path(j->root, j->name, &path, &err) < 0) {
		j->no = "[CANNOT] Invalid mailbox name.";
		return;
	}
	if (!is_dir(path)) {
		j->no = "[NONEXISTENT] Mailbox doesn't exist.";
		free(path);
		return;
	}
	bool kids = folder_children(path);
	bool selectable = has_sub(path, "cur");
	if (kids && !selectable) {
		j->no = "[INUSE] Mailbox has children, delete them first";
		free(path);
		return;
	}
	int r = kids ? rm_mailbox_only(path) : rm_tree(path, 0);
	if (r < 0)
		set_err(j, "delete", path);
	char *parent = xstrdup(path);
	char *sl = strrchr(parent, '/');
	if (sl != NULL) {
		*sl = '\0';
		fsync_dir(parent);
	}
	free(parent);
	free(path);
	struct quota_usage u;
	if (r == 0 && quota_recalc(j->root, &j->limits, &u, &err) < 0)
		set_err(j, "quota", err);
}

static void move_subscriptions(struct mbox_job *j)
{
	struct subscriptions subs;
	const char *err;
	subscriptions_init(&subs);
	if (subscriptions_read(j->root, &subs, &err) < 0) {
		subscriptions_free(&subs);
		return;
	}
	size_t nl = strlen(j->name);
	for (unsigned i = 0; i < subs.count; i++) {
		const char *n = subs.names[i];
		if (strncmp(n, j->name, nl) != 0 || (n[nl] != '\0' && n[nl] != IMAP_SEP))
			continue;
		char *to = xasprintf("%s%s", j->name2, n + nl);
		if (subscriptions_set(j->root, to, true, SUBSCRIPTIONS_LOCK_TIMEOUT_SECS, &err) <
		        0 ||
		    subscriptions_set(j->root, n, false, SUBSCRIPTIONS_LOCK_TIMEOUT_SECS, &err) < 0)
			log_warn("event=rename_subscription_failed error=\"%s\"", log_esc(err));
		free(to);
	}
	subscriptions_free(&subs);
}

static void do_rename(struct mbox_job *j)
{
	const char *err;
	char *from = NULL, *to = NULL;
	if (strcmp(j->name2, "INBOX") == 0 || strncmp(j->name2, "INBOX/", 6) == 0) {
		j->no = "[CANNOT] Renaming to INBOX isn't supported.";
		return;
	}
	if (store_mailbox_path(j->root, j->name, &from, &err) < 0 ||
	    store_mailbox_path(j->root, j->name2, &to, &err) < 0) {
		j->no = "[CANNOT] Invalid mailbox name.";
		goto out;
	}
	if (is_dir(to)) {
		j->no = "[ALREADYEXISTS] Target mailbox already exists";
		goto out;
	}
	if (strcmp(j->name, "INBOX") == 0) {
		/* RFC 3501 6.3.5: INBOX's messages move, INBOX stays (empty) */
		if (imap_folder_create(j->root, j->name2, &err) < 0) {
			set_err(j, "rename", err);
			goto out;
		}
		if (move_files(from, to, "new") < 0 || move_files(from, to, "cur") < 0)
			set_err(j, "rename", "moving INBOX messages");
		goto out;
	}
	size_t fl = strlen(j->name);
	if (strncmp(j->name2, j->name, fl) == 0 && j->name2[fl] == IMAP_SEP) {
		j->no = "[CANNOT] Can't rename mailbox under itself.";
		goto out;
	}
	if (!is_dir(from)) {
		j->no = "[NONEXISTENT] Mailbox doesn't exist.";
		goto out;
	}
	char *parent = xstrdup(to);
	*strrchr(parent, '/') = '\0';
	if (store_mkdirs(j->root, parent, &err) < 0) {
		free(parent);
		set_err(j, "rename", err);
		goto out;
	}
	if (rename(from, to) < 0) {
		free(parent);
		set_err(j, "rename", strerror(errno));
		goto out;
	}
	fsync_dir(parent);
	free(parent);
	char *fparent = xstrdup(from);
	*strrchr(fparent, '/') = '\0';
	fsync_dir(fparent);
	free(fparent);
	move_subscriptions(j);
out:
	free(from);
	free(to);
}

static void mbox_work(void *arg)
{
	struct mbox_job *j = arg;
	const char *err;
	switch (j->op) {
	case OP_CREATE:
		do_create(j);
		break;
	case OP_DELETE:
		do_delete(j);
		break;
	case OP_RENAME:
		do_rename(j);
		break;
	case OP_SUBSCRIBE:
	case OP_UNSUBSCRIBE:
		if (subscriptions_set(j->root, j->name, j->op == OP_SUBSCRIBE,
		                      SUBSCRIPTIONS_LOCK_TIMEOUT_SECS, &err) < 0)
			set_err(j, "subscriptions", err);
		break;
	}
}

static const char *const op_names[] = {"Create", "Delete", "Rename", "Subscribe", "Unsubscribe"};

static void mbox_done(void *arg)
{
	struct mbox_job *j = arg;
	struct imap_session *s = j->s;
	if (imap_job_end(s)) {
		if (j->error != NULL) {
			log_error(
			    "sid=%s event=mailbox_error user=%s op=%s mailbox=%s error=\"%s\"",
			    s->sid, log_esc(s->user), op_names[j->op], log_esc(j->name),
			    log_esc(j->error));
			imap_tagged(s, "NO",
			            "[SERVERBUG] Internal error occurred. Refer to server "
			            "log for more information.");
		} else if (j->no != NULL) {
			imap_tagged(s, "NO", "%s", j->no);
		} else {
			log_info("sid=%s event=%s user=%s mailbox=%s%s%s", s->sid, op_names[j->op],
			         log_esc(s->user), log_esc(j->name), j->name2 ? " to=" : "",
			         j->name2 ? log_esc(j->name2) : "");
			imap_tagged(s, "OK", "%s completed.", op_names[j->op]);
		}
		imap_cmd_done(s);
	}
	free(j->root);
	free(j->name);
	free(j->name2);
	free(j->error);
	free(j);
}

static int submit(struct imap_session *s, enum mbox_op op, char *name, char *name2)
{
	struct mbox_job *j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->op = op;
	j->root = xstrdup(s->store.root);
	j->name = name;
	j->name2 = name2;
	quota_limits_from_mb(s->quota_mb, &j->limits);
	imap_job_begin(s);
	pool_submit(s->srv->env.pool, mbox_work, mbox_done, j);
	return 0;
}

/* one_name: the single mailbox argument at args[i] */
static char *one_name(struct imap_session *s, const struct imap_arg *arg)
{
	const char *n, *err;
	size_t l;
	if (!imap_arg_astring(arg, &n, &l)) {
		imap_tagged(s, "BAD", "Invalid arguments.");
		return NULL;
	}
	char *name = imap_mailbox_name(s, n, l, &err);
	if (name == NULL)
		imap_tagged(s, "NO", "%s", err);
	return name;
}

int imap_cmd_create(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->count != 1 && cmd->count != 2) {
		imap_tagged(s, "BAD", "Invalid arguments.");
		return 1;
	}
	char *name = one_name(s, &cmd->args[0]);
	if (name == NULL)
		return 1;
	if (cmd->count == 2) {
		/* RFC 6154: (USE (\Junk ...)): only the name's own use is accepted */
		const struct imap_arg *opts, *uses;
		unsigned no, nu;
		if (!imap_arg_list(&cmd->args[1], &opts, &no) || no != 2 ||
		    !imap_arg_atom_equals(&opts[0], "USE") ||
		    !imap_arg_list(&opts[1], &uses, &nu)) {
			free(name);
			imap_tagged(s, "BAD", "Invalid CREATE parameters.");
			return 1;
		}
		const char *own = imap_special_use(name);
		for (unsigned i = 0; i < nu; i++) {
			const char *u;
			if (!imap_arg_atom(&uses[i], &u) || own == NULL ||
			    strcasecmp(u, own) != 0) {
				free(name);
				imap_tagged(s, "NO",
				            "[USEATTR] Special-use attribute not supported "
				            "for this mailbox name.");
				return 1;
			}
		}
	}
	return submit(s, OP_CREATE, name, NULL);
}

int imap_cmd_delete(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->count != 1) {
		imap_tagged(s, "BAD", "Invalid arguments.");
		return 1;
	}
	char *name = one_name(s, &cmd->args[0]);
	return name == NULL ? 1 : submit(s, OP_DELETE, name, NULL);
}

int imap_cmd_rename(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->count != 2) {
		imap_tagged(s, "BAD", "Invalid arguments.");
		return 1;
	}
	char *from = one_name(s, &cmd->args[0]);
	if (from == NULL)
		return 1;
	char *to = one_name(s, &cmd->args[1]);
	if (to == NULL) {
		free(from);
		return 1;
	}
	return submit(s, OP_RENAME, from, to);
}

int imap_cmd_subscribe(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->count != 1) {
		imap_tagged(s, "BAD", "Invalid arguments.");
		return 1;
	}
	char *name = one_name(s, &cmd->args[0]);
	return name == NULL ? 1 : submit(s, OP_SUBSCRIBE, name, NULL);
}

int imap_cmd_unsubscribe(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->count != 1) {
		imap_tagged(s, "BAD", "Invalid arguments.");
		return 1;
	}
	char *name = one_name(s, &cmd->args[0]);
	return name == NULL ? 1 : submit(s, OP_UNSUBSCRIBE, name, NULL);
}
