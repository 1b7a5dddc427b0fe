/*
 * imap-cmd-quota.c - GETQUOTAROOT and GETQUOTA (RFC 9208; RFC 2087).
 *
 * One quota root per user, "User quota" (Dovecot's name), covering every
 * mailbox: the guide's quota = maildir, usage from <root>/maildirsize
 * (store/quota.h, recalculated when stale), the limit from the account's
 * quota column (MiB) as the lookup process returned it at login.
 * Resources with a limit are reported: STORAGE in KiB (rounded down, as
 * Dovecot does) and MESSAGE when a message limit is set; unlimited
 * gives "()". SETQUOTA is not offered (limits live in the directory).
 */
#include "imap/imap-private.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct quota_job {
	struct imap_session *s;
	char *root;
	char *mailbox; /* GETQUOTAROOT: the name as checked, else NULL */
	struct quota_limits limits;
	struct quota_usage usage;
	bool nonexistent;
	char *error;
};

static void quota_work(void *arg)
{
	struct quota_job *j = arg;
	const char *err;
	if (j->mailbox != NULL && strcmp(j->mailbox, "INBOX") != 0) {
		char *path, *cur;
		struct stat st;
		if (store_mailbox_path(j->root, j->mailbox, &path, &err) < 0) {
			j->nonexistent = true;
			return;
		}
		cur = xasprintf("%s/cur", path);
		j->nonexistent = stat(cur, &st) < 0 || !S_ISDIR(st.st_mode);
		free(cur);
		free(path);
		if (j->nonexistent)
			return;
	}
	if (quota_get(j->root, &j->limits, &j->usage, &err) < 0)
		j->error = xstrdup(err);
}

static void quota_line(struct imap_session *s, const struct quota_job *j)
{
	struct buf b = BUF_INIT;
	if (j->limits.bytes > 0)
		buf_appendf(&b, "STORAGE %llu %llu", (unsigned long long)(j->usage.bytes / 1024),
		            (unsigned long long)(j->limits.bytes / 1024));
	if (j->limits.count > 0)
		buf_appendf(&b, "%sMESSAGE %llu %llu", b.len ? " " : "",
		            (unsigned long long)j->usage.count,
		            (unsigned long long)j->limits.count);
	imap_untagged(s, "QUOTA \"%s\" (%s)", IMAP_QUOTA_ROOT, buf_cstr(&b));
	buf_free(&b);
}

static void quota_done(void *arg)
{
	struct quota_job *j = arg;
	struct imap_session *s = j->s;
	if (imap_job_end(s)) {
		if (j->nonexistent) {
			imap_tagged(s, "NO", "[NONEXISTENT] Mailbox doesn't exist.");
		} else if (j->error != NULL) {
			log_error("sid=%s event=quota_error user=%s error=\"%s\"", s->sid,
			          log_esc(s->user), log_esc(j->error));
			imap_tagged(s, "NO",
			            "[SERVERBUG] Internal error occurred. Refer to server "
			            "log for more information.");
		} else {
			if (j->mailbox != NULL) {
				struct buf b = BUF_INIT;
				imap_quote(&b, j->mailbox, strlen(j->mailbox));
				imap_untagged(s, "QUOTAROOT %s \"%s\"", buf_cstr(&b),
				              IMAP_QUOTA_ROOT);
				buf_free(&b);
			}
			quota_line(s, j);
			imap_tagged(s, "OK", "%s completed.",
			            j->mailbox != NULL ? "Getquotaroot" : "Getquota");
		}
		imap_cmd_done(s);
	}
	free(j->root);
	free(j->mailbox);
	free(j->error);
	free(j);
}

static int submit(struct imap_session *s, char *mailbox)
{
	struct quota_job *j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->root = xstrdup(s->store.root);
	j->mailbox = mailbox;
	quota_limits_from_mb(s->quota_mb, &j->limits);
	imap_job_begin(s);
	pool_submit(s->srv->env.pool, quota_work, quota_done, j);
	return 0;
}

int imap_cmd_getquotaroot(struct imap_session *s, const struct imap_command *cmd)
{
	const char *n, *err;
	size_t l;
	if (cmd->count != 1 || !imap_arg_astring(&cmd->args[0], &n, &l)) {
		imap_tagged(s, "BAD", "Invalid arguments.");
		return 1;
	}
	char *name = imap_mailbox_name(s, n, l, &err);
	if (name == NULL) {
		imap_tagged(s, "NO", "%s", err);
		return 1;
	}
	return submit(s, name);
}

int imap_cmd_getquota(struct imap_session *s, const struct imap_command *cmd)
{
	const char *n;
	size_t l;
	if (cmd->count != 1 || !imap_arg_astring(&cmd->args[0], &n, &l)) {
		imap_tagged(s, "BAD", "Invalid arguments.");
		return 1;
	}
	if (l != strlen(IMAP_QUOTA_ROOT) || memcmp(n, IMAP_QUOTA_ROOT, l) != 0) {
		imap_tagged(s, "NO", "Quota root doesn't exist.");
		return 1;
	}
	return submit(s, NULL);
}
