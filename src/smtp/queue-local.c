/*
 * queue-local.c - delivery of queued mail to our own accounts (bounces to
 * local senders, and any queued recipient the lookup process says is an
 * account), run in a pool thread of the queue process.
 *
 * For each recipient a file is written in incoming/: "Return-Path:" and
 * "Delivered-To:" (as Dovecot's LMTP writes them), then the message from
 * its offset; it is fsynced, handed to maildir_deliver() (hard-linked
 * into new/ when the file systems allow, else copied; the quota of the
 * account is applied) and unlinked. maildir_deliver() reports success
 * only when the new name and its directory are durable.
 */
#include "smtp/queue.h"
#include "core/xalloc.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int copy_message(int out, const char *path, uint64_t offset, const char **error_r)
{
	int in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	char *b = xmalloc(64 * 1024);
	uint64_t pos = offset;
	int ret = 0;
	for (;;) {
		ssize_t n = pread(in, b, 64 * 1024, (off_t)pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = strerror(errno);
			ret = -1;
			break;
		}
		if (n == 0)
			break;
		pos += (uint64_t)n;
		for (ssize_t w = 0; w < n;) {
			ssize_t k = write(out, b + w, (size_t)(n - w));
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				*error_r = strerror(errno);
				ret = -1;
				goto out;
			}
			w += k;
		}
	}
out:
	free(b);
	close(in);
	return ret;
}

static void deliver_one(struct queue_local_job *j, struct queue_local_rcpt *r, unsigned k)
{
	const char *err = NULL;
	const char *at = strrchr(r->mailbox, '@');
	if (at == NULL || at == r->mailbox) {
		r->status = 1;
		r->error = xstrdup("bad mailbox address");
		return;
	}
	char *local = xstrndup(r->mailbox, (size_t)(at - r->mailbox));
	struct store_user u;
	if (store_user_init(&u, &j->cfg->mail, local, at + 1, &err) < 0) {
		free(local);
		r->status = -1;
		r->error = xasprintf("mailbox of %s: %s", r->mailbox, err);
		return;
	}
	free(local);
	char *tmp = xasprintf("%s/%s.L%u", j->incoming, j->qid, k);
	unlink(tmp); /* a leftover of a crash */
	int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	struct buf h = BUF_INIT;
	buf_appendf(&h, "Return-Path: <%s>\nDelivered-To: %s\n", j->sender, r->mailbox);
	if (fd < 0 || write(fd, h.data, h.len) != (ssize_t)h.len ||
	    copy_message(fd, j->msg_path, j->offset, &err) < 0 || fsync(fd) < 0) {
		r->status = -1;
		r->error = xasprintf("writing %s: %s", tmp, err ? err : strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	struct quota_limits limits;
	quota_limits_from_mb(r->quota_mb, &limits);
	struct maildir_target t = {
	    .root = u.root,
	    .mailbox = u.root,
	    .create_base = u.base,
	    .quota = &limits,
	    .flags = NULL,
	};
	struct maildir_source src = {-1, tmp};
	struct maildir_result res;
	maildir_deliver(&t, 1, &src, &res);
	if (res.status == MAILDIR_OK) {
		r->status = 0;
		r->path = res.path;
		res.path = NULL;
	} else if (res.status == MAILDIR_QUOTA) {
		r->status = 1;
		r->error = xasprintf("user %s has exhausted allowed storage space", r->mailbox);
	} else {
		r->status = -1;
		r->error = xstrdup(res.error_text ? res.error_text : "delivery failed");
	}
	maildir_results_free(&res, 1);
	unlink(tmp);
out:
	buf_free(&h);
	free(tmp);
	store_user_deinit(&u);
}

void queue_local_work(void *arg)
{
	struct queue_local_job *j = arg;
	for (unsigned k = 0; k < j->n; k++)
		deliver_one(j, &j->r[k], k);
}

void queue_local_job_free(struct queue_local_job *j)
{
	for (unsigned k = 0; k < j->n; k++) {
		free(j->r[k].mailbox);
		free(j->r[k].error);
		free(j->r[k].path);
	}
	free(j->r);
	free(j->msg_path);
	free(j->sender);
	free(j->incoming);
	free(j);
}
