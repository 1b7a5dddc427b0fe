/*
 * queued.c - the queue process.
 *
 * Owns <state_dir>/queue: incoming/ (spool files the workers write),
 * msg/<qid> (message files, linked from incoming/) and env/<qid> (the
 * envelope: sender, recipients, where the message starts in the file).
 * A QUEUE_SUBMIT (smtp/queue-proto.h) is answered only after the message
 * link and the envelope are fsynced, with their directories.
 *
 * Delivery of queued mail to other hosts (MX lookup, SMTP client,
 * retries, bounces) is not built yet: messages wait in the queue.
 *
 * The fsyncs run in this process's loop: it serves nothing but queue
 * requests, and every worker waits for its answer asynchronously.
 */
#include "daemon/daemon.h"
#include "core/buf.h"
#include "core/ipc.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "smtp/queue-proto.h"
#include "store/store.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct qclient {
	struct qclient *next;
	struct ipc_conn *conn;
};

static struct {
	struct event_base *base;
	struct qclient *clients;
	char *incoming, *msgdir, *envdir;
} Q;

static void client_close(struct ipc_conn *conn, void *arg)
{
	struct qclient *c = arg;
	(void)conn;
	for (struct qclient **pp = &Q.clients; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	ipc_conn_destroy(&c->conn);
	free(c);
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

static bool qid_valid(const char *q)
{
	size_t n = strlen(q);
	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)q[i]))
			return false;
	return true;
}

/* submit: 0, or -1 with a malloc'd reason. */
static int submit(const char *qid, const char *spool, uint64_t offset, const char *sender,
		  const char **rcpts, uint32_t n, char **error_r)
{
	char *expect = xasprintf("%s/%s", Q.incoming, qid);
	char *msg = xasprintf("%s/%s", Q.msgdir, qid);
	char *env = xasprintf("%s/%s", Q.envdir, qid);
	char *tmp = xasprintf("%s/.%s.tmp", Q.envdir, qid);
	struct buf b = BUF_INIT;
	int fd = -1, ret = -1;
	if (strcmp(expect, spool) != 0) {
		*error_r = xasprintf("spool file not in %s", Q.incoming);
		goto out;
	}
	if (link(spool, msg) < 0 && errno != EEXIST) {
		*error_r = xasprintf("link %s: %s", msg, strerror(errno));
		goto out;
	}
	if (fsync_path(msg) < 0 || fsync_path(Q.msgdir) < 0) {
		*error_r = xasprintf("fsync %s: %s", msg, strerror(errno));
		goto out;
	}
	buf_appendf(&b, "vmaild-envelope 1\nqid %s\narrival %lld\noffset %llu\nsender %s\n", qid,
		    (long long)time(NULL), (unsigned long long)offset, sender);
	for (uint32_t i = 0; i < n; i++)
		buf_appendf(&b, "rcpt %s\n", rcpts[i]);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, b.data, b.len) != (ssize_t)b.len || fsync(fd) < 0 ||
	    rename(tmp, env) < 0 || fsync_path(Q.envdir) < 0) {
		*error_r = xasprintf("envelope %s: %s", env, strerror(errno));
		unlink(tmp);
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	buf_free(&b);
	free(expect);
	free(msg);
	free(env);
	free(tmp);
	return ret;
}

static void on_request(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	if (m->type != QUEUE_SUBMIT) {
		log_error("event=ipc_error error=unknown_request type=%u", m->type);
		client_close(conn, arg);
		return;
	}
	const char *qid = NULL, *spool = NULL, *sender = NULL;
	uint64_t offset = 0;
	uint32_t n = 0;
	ipc_get_str(m, &qid);
	ipc_get_str(m, &spool);
	ipc_get_u64(m, &offset);
	ipc_get_str(m, &sender);
	ipc_get_u32(m, &n);
	const char **rcpts = NULL;
	if (n <= QUEUE_MAX_RCPTS) {
		rcpts = xcalloc(n + 1, sizeof(char *));
		for (uint32_t i = 0; i < n; i++)
			ipc_get_str(m, &rcpts[i]);
	}
	bool ok = ipc_msg_done(m) == 0 && n <= QUEUE_MAX_RCPTS && qid && spool && sender &&
		  qid_valid(qid);
	for (uint32_t i = 0; ok && i < n; i++)
		ok = rcpts[i] != NULL && strchr(rcpts[i], '\n') == NULL;
	if (ok && strchr(sender, '\n') != NULL)
		ok = false;
	if (!ok) {
		free(rcpts);
		log_error("event=ipc_error error=malformed_submit");
		client_close(conn, arg);
		return;
	}
	char *err = NULL;
	struct ipc_msg r;
	ipc_msg_init(&r, QUEUE_SUBMIT, m->id);
	if (submit(qid, spool, offset, sender, rcpts, n, &err) == 0) {
		log_info("qid=%s event=queued from=<%s> nrcpt=%u", qid, log_esc(sender), n);
		ipc_put_u8(&r, 0);
		ipc_put_str(&r, NULL);
	} else {
		log_error("qid=%s event=queue_error error=\"%s\"", qid, log_esc(err));
		ipc_put_u8(&r, 1);
		ipc_put_str(&r, err);
	}
	free(err);
	free(rcpts);
	ipc_conn_send(conn, &r);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	(void)l;
	(void)sa;
	(void)salen;
	(void)arg;
	struct qclient *c = xcalloc(1, sizeof(*c));
	c->conn = ipc_conn_create(Q.base, fd, on_request, client_close, c);
	c->next = Q.clients;
	Q.clients = c;
}

#define INCOMING_STALE_SECS 3600

/* clean_at_start: what a crash can leave behind: Maildir tmp/ files of
 * deliveries that died half-way (store's rules), and spool files in
 * incoming/ that no transaction has touched for an hour. */
static void clean_at_start(evutil_socket_t fd, short what, void *arg)
{
	const struct config *cfg = arg;
	(void)fd;
	(void)what;
	char *top = store_static_prefix(cfg->mail.home);
	struct maildir_clean_stats st;
	const char *err = NULL;
	memset(&st, 0, sizeof(st));
	if (maildir_clean_tmp_tree(top, time(NULL), 100000, &st, &err) < 0)
		log_warn("event=clean_tmp_error top=%s error=\"%s\"", log_esc(top), log_esc(err));
	else
		log_info("event=clean_tmp top=%s maildirs=%u removed=%u errors=%u%s", log_esc(top),
			 st.maildirs, st.removed, st.errors, st.truncated ? " truncated=yes" : "");
	free(top);
	DIR *d = opendir(Q.incoming);
	unsigned removed = 0;
	if (d != NULL) {
		struct dirent *de;
		time_t now = time(NULL);
		while ((de = readdir(d)) != NULL) {
			struct stat sb;
			if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &sb, 0) < 0)
				continue;
			if (S_ISREG(sb.st_mode) && now - sb.st_mtime > INCOMING_STALE_SECS &&
			    unlinkat(dirfd(d), de->d_name, 0) == 0)
				removed++;
		}
		closedir(d);
	}
	if (removed > 0)
		log_info("event=clean_incoming removed=%u", removed);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	log_info("event=stopping signal=%d", (int)sig);
	event_base_loopbreak(Q.base);
}

int queue_run(const struct config *cfg, int listen_fd)
{
	memset(&Q, 0, sizeof(Q));
	Q.incoming = xasprintf("%s/queue/incoming", cfg->server.state_dir);
	Q.msgdir = xasprintf("%s/queue/msg", cfg->server.state_dir);
	Q.envdir = xasprintf("%s/queue/env", cfg->server.state_dir);
	const char *dirs[] = {Q.incoming, Q.msgdir, Q.envdir};
	for (unsigned i = 0; i < 3; i++)
		if (mkdir(dirs[i], 0700) < 0 && errno != EEXIST)
			fatal("event=start_error error=\"cannot create %s: %s\"", dirs[i],
			      strerror(errno));
	Q.base = event_base_new();
	if (Q.base == NULL)
		fatal("event=start_error error=event_base_new");
	struct evconnlistener *l =
		evconnlistener_new(Q.base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE, -1, listen_fd);
	struct event *st = evsignal_new(Q.base, SIGTERM, on_signal, NULL);
	struct event *si = evsignal_new(Q.base, SIGINT, on_signal, NULL);
	struct event *su = evsignal_new(Q.base, SIGUSR1, on_signal, NULL);
	event_add(st, NULL);
	event_add(si, NULL);
	event_add(su, NULL);
	log_info("event=ready");
	event_base_once(Q.base, -1, EV_TIMEOUT, clean_at_start, (void *)cfg, &(struct timeval){0, 0});
	event_base_dispatch(Q.base);
	{ /* a late second signal must not kill the clean-up */
		sigset_t ss;
		sigemptyset(&ss);
		sigaddset(&ss, SIGTERM);
		sigaddset(&ss, SIGINT);
		sigaddset(&ss, SIGUSR1);
		sigprocmask(SIG_BLOCK, &ss, NULL);
	}
	while (Q.clients != NULL) {
		struct qclient *c = Q.clients;
		Q.clients = c->next;
		ipc_conn_destroy(&c->conn);
		free(c);
	}
	evconnlistener_free(l);
	event_free(st);
	event_free(si);
	event_free(su);
	event_base_free(Q.base);
	free(Q.incoming);
	free(Q.msgdir);
	free(Q.envdir);
	log_info("event=stopped");
	return 0;
}
