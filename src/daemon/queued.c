/*
 * queued.c - the queue process.
 *
 * Owns <state_dir>/queue (layout and rules in smtp/queue.h): it serves
 * the requests of smtp/queue-proto.h on queue.sock - workers' submissions
 * (answered only after the message link and the envelope are fsynced,
 * with their directories) and vmailctl's flush, delete, hold and release -
 * and runs the scheduler (smtp/queue-sched.c) that delivers to other
 * hosts and to local accounts, retries and bounces.
 *
 * One queue process delivers at a time: <state_dir>/queue/lock is held
 * (flock) while it runs. A new process after a reload takes submissions
 * at once but starts delivering only when the old one has gone and the
 * lock is free.
 *
 * The fsyncs run in this process's loop: it serves nothing but queue
 * requests, and every worker waits for its answer asynchronously.
 */
#include "daemon/daemon.h"
#include "core/buf.h"
#include "core/ipc.h"
#include "core/log.h"
#include "core/signals.h"
#include "core/xalloc.h"
#include "smtp/queue-proto.h"
#include "smtp/queue.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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
	struct queue_sched *sched;
	const struct queue_dirs *dirs;
	int lock_fd;
	bool locked;
	struct event *lock_timer;
	unsigned lock_waits;
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

static void reply(struct ipc_conn *conn, const struct ipc_msg *m, uint8_t st, const char *err)
{
	struct ipc_msg r;
	ipc_msg_init(&r, m->type, m->id);
	ipc_put_u8(&r, st);
	ipc_put_str(&r, err);
	ipc_conn_send(conn, &r);
}

static void on_submit(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
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
		  queue_qid_valid(qid);
	for (uint32_t i = 0; ok && i < n; i++)
		ok = rcpts[i] != NULL && rcpts[i][0] != '\0' && strchr(rcpts[i], '\n') == NULL;
	if (ok && strchr(sender, '\n') != NULL)
		ok = false;
	if (!ok) {
		free(rcpts);
		log_error("event=ipc_error error=malformed_submit");
		client_close(conn, arg);
		return;
	}
	char *err = NULL;
	if (queue_sched_submit(Q.sched, qid, spool, offset, sender, rcpts, n, &err) == 0) {
		log_info("qid=%s event=queued from=<%s> nrcpt=%u", qid, log_esc(sender), n);
		reply(conn, m, QUEUE_REPLY_OK, NULL);
	} else {
		log_error("qid=%s event=queue_error error=\"%s\"", qid, log_esc(err));
		reply(conn, m, QUEUE_REPLY_TEMPFAIL, err);
	}
	free(err);
	free(rcpts);
}

static void on_admin(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	const char *qid = NULL;
	if (m->type != QUEUE_FLUSH)
		ipc_get_str(m, &qid);
	bool need_qid = m->type != QUEUE_FLUSH;
	if (ipc_msg_done(m) < 0 || (need_qid && (qid == NULL || !queue_qid_valid(qid)))) {
		log_error("event=ipc_error error=malformed_request type=%u", m->type);
		client_close(conn, arg);
		return;
	}
	char *err = NULL;
	int r = 1;
	switch (m->type) {
	case QUEUE_FLUSH:
		queue_sched_flush(Q.sched);
		break;
	case QUEUE_DELETE:
		r = queue_sched_delete(Q.sched, qid, &err);
		break;
	case QUEUE_HOLD:
	case QUEUE_RELEASE:
		r = queue_sched_hold(Q.sched, qid, m->type == QUEUE_HOLD, &err);
		break;
	}
	if (r > 0)
		reply(conn, m, QUEUE_REPLY_OK, NULL);
	else if (r == 0)
		reply(conn, m, QUEUE_REPLY_NOT_FOUND, "no such message in the queue");
	else
		reply(conn, m, QUEUE_REPLY_TEMPFAIL, err);
	free(err);
}

static void on_request(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	switch (m->type) {
	case QUEUE_SUBMIT:
		on_submit(conn, m, arg);
		return;
	case QUEUE_FLUSH:
	case QUEUE_DELETE:
	case QUEUE_HOLD:
	case QUEUE_RELEASE:
		on_admin(conn, m, arg);
		return;
	default:
		log_error("event=ipc_error error=unknown_request type=%u", m->type);
		client_close(conn, arg);
	}
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
	DIR *d = opendir(Q.dirs->incoming);
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

/* try_lock: take the spool lock; start delivering once it is ours. */
static void try_lock(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (flock(Q.lock_fd, LOCK_EX | LOCK_NB) == 0) {
		Q.locked = true;
		if (Q.lock_waits > 0)
			log_info("event=spool_lock waited_ms=%u", Q.lock_waits * 100);
		queue_sched_start(Q.sched);
		return;
	}
	if (Q.lock_waits++ == 0)
		log_info("event=spool_lock_wait reason=\"another queue process is still running\"");
	struct timeval tv = {0, 100000};
	evtimer_add(Q.lock_timer, &tv);
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
	Q.lock_fd = -1;
	struct queue_dirs dirs;
	queue_dirs_init(&dirs, cfg->server.state_dir);
	const char *mk[] = {dirs.incoming, dirs.msg, dirs.env};
	for (unsigned i = 0; i < 3; i++)
		if (mkdir(mk[i], 0700) < 0 && errno != EEXIST)
			fatal("event=start_error error=\"cannot create %s: %s\"", mk[i],
			      strerror(errno));
	char *lock = xasprintf("%s/lock", dirs.top);
	Q.lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (Q.lock_fd < 0)
		fatal("event=start_error error=\"cannot open %s: %s\"", lock, strerror(errno));
	free(lock);
	queue_dirs_free(&dirs);

	Q.base = event_base_new();
	if (Q.base == NULL)
		fatal("event=start_error error=event_base_new");
	const char *serr = NULL;
	Q.sched = queue_sched_create(Q.base, cfg, &serr);
	if (Q.sched == NULL)
		fatal("event=start_error error=\"%s\"", serr);
	Q.dirs = queue_sched_dirs(Q.sched);
	struct evconnlistener *l =
		evconnlistener_new(Q.base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE, -1, listen_fd);
	struct event *st = evsignal_new(Q.base, SIGTERM, on_signal, NULL);
	struct event *si = evsignal_new(Q.base, SIGINT, on_signal, NULL);
	struct event *su = evsignal_new(Q.base, SIGUSR1, on_signal, NULL);
	event_add(st, NULL);
	event_add(si, NULL);
	event_add(su, NULL);
	Q.lock_timer = evtimer_new(Q.base, try_lock, NULL);
	log_info("event=ready");
	event_base_once(Q.base, -1, EV_TIMEOUT, clean_at_start, (void *)cfg, &(struct timeval){0, 0});
	event_active(Q.lock_timer, EV_TIMEOUT, 0);
	event_base_dispatch(Q.base);
	signals_block_stop(); /* a late second signal must not kill the clean-up */
	while (Q.clients != NULL) {
		struct qclient *c = Q.clients;
		Q.clients = c->next;
		ipc_conn_destroy(&c->conn);
		free(c);
	}
	evconnlistener_free(l);
	queue_sched_destroy(&Q.sched);
	event_free(Q.lock_timer);
	event_free(st);
	event_free(si);
	event_free(su);
	event_base_free(Q.base);
	close(Q.lock_fd); /* the lock goes with it */
	log_info("event=stopped");
	return 0;
}
