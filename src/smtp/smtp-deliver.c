/*
 * smtp-deliver.c - the end of a transaction: spool file, local delivery
 * into Maildir, hand-off of remote recipients to the queue.
 *
 * The spool file <state_dir>/queue/incoming/<qid> is written while the
 * message streams in: first our own header fields (Return-Path, then
 * Delivered-To when there is exactly one local recipient - as Dovecot's
 * LMTP does, so that one file can be hard-linked into every mailbox -
 * then Received:), then the message with LF line ends.
 *
 * At the end of the data a pool job checks every local mailbox's quota
 * (all or nothing: one mailbox that cannot take it refuses the message
 * with 552 5.2.2 and no copy is made) and delivers with
 * maildir_deliver(), which writes, fsyncs, links and fsyncs the
 * directories. Remote recipients are then handed to the queue process,
 * which links the same file into its spool and fsyncs its envelope.
 * Only then is 250 sent. Any failure before that is 451 and the sender
 * retries: at most a duplicate, never a loss.
 */
#include "smtp/smtp-private.h"
#include "core/ipc.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/xalloc.h"
#include "smtp/queue-proto.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void sanitize(struct buf *b, const char *s, size_t max)
{
	for (size_t i = 0; s[i] != '\0' && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		buf_append_c(b, (c > 0x20 && c < 0x7f && c != '(' && c != ')') ? (char)c : '?');
	}
}

int deliver_open_spool(struct smtp_session *s)
{
	struct smtp_transaction *tx = s->tx;
	const struct config *cfg = s->srv->cfg;
	tx->spool_path = xasprintf("%s/%s", s->srv->spool_dir, tx->qid);
	int fd = open(tx->spool_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || (tx->spool = fdopen(fd, "w")) == NULL) {
		log_error("sid=%s qid=%s event=spool_error path=%s error=\"%s\"", s->sid, tx->qid,
			  tx->spool_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(tx->spool_path);
		tx->spool_path = NULL;
		return -1;
	}
	setvbuf(tx->spool, NULL, _IOFBF, 64 * 1024);

	struct buf h = BUF_INIT;
	buf_appendf(&h, "Return-Path: <%s>\n", tx->sender_wire);
	if (tx->nlocal == 1 && tx->nremote == 0) {
		for (unsigned i = 0; i < tx->ntargets; i++)
			if (!tx->targets[i].remote)
				buf_appendf(&h, "Delivered-To: %s\n", tx->targets[i].address);
	}
	tx->prefix_len = h.len;
	if (tx->clean_headers) {
		/* submission: the guide's submission_header_cleanup removes every
		 * Received: - ours included - so the client's address stays private */
		tx->head_len = h.len;
		if (fwrite(h.data, 1, h.len, tx->spool) != h.len) {
			tx->write_error = true;
			tx->write_errno = errno;
		}
		buf_free(&h);
		tx->in_header = true;
		tx->line_start = true;
		return 0;
	}

	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z (%Z)", &tm);
	buf_append_str(&h, "Received: from ");
	sanitize(&h, s->helo ? s->helo : s->client_ip, 255);
	buf_append_str(&h, " (");
	sanitize(&h, s->client_name, 255);
	buf_appendf(&h, " [%s])\n", s->client_ip);
	if (s->tls)
		buf_appendf(&h, "\t(using %s)\n", s->tls_desc);
	const char *proto = tx->smtputf8 ? (s->tls ? "UTF8SMTPS" : "UTF8SMTP")
					 : (s->esmtp ? (s->tls ? "ESMTPS" : "ESMTP") : "SMTP");
	buf_appendf(&h, "\tby %s (vmaild) with %s id %s", cfg->server.hostname, proto, tx->qid);
	if (tx->nrcpts == 1)
		buf_appendf(&h, "\n\tfor <%s>", tx->rcpts[0].address);
	buf_appendf(&h, "; %s\n", date);
	tx->head_len = h.len;
	if (fwrite(h.data, 1, h.len, tx->spool) != h.len) {
		tx->write_error = true;
		tx->write_errno = errno;
	}
	buf_free(&h);
	tx->in_header = true;
	tx->line_start = true;
	return 0;
}

static void spool_raw(struct smtp_transaction *tx, const char *data, size_t n, uint64_t limit);

/* The header fields a submitted message loses (submission_header_cleanup). */
static const char *const private_fields[] = {"received:", "x-originating-ip:", "x-mailer:",
					     "user-agent:"};

static bool field_is(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);
	return len >= n && strncasecmp(line, name, n) == 0;
}

static void add_missing_fields(struct smtp_transaction *tx, uint64_t limit, const char *host)
{
	char line[512];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	if (!tx->seen_date) {
		char date[64];
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
		int k = snprintf(line, sizeof(line), "Date: %s\n", date);
		spool_raw(tx, line, (size_t)k, limit);
		tx->seen_date = true;
	}
	if (!tx->seen_message_id) {
		char stamp[32];
		strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
		int k = snprintf(line, sizeof(line), "Message-ID: <%s.%s@%s>\n", stamp, tx->qid, host);
		spool_raw(tx, line, (size_t)k, limit);
		tx->seen_message_id = true;
	}
}

/* header_line: one complete line of the header of a submitted message */
static void header_line(struct smtp_transaction *tx, uint64_t limit, const char *host)
{
	const char *l = tx->hline.data;
	size_t len = tx->hline.len;
	if (len == 1 && l[0] == '\n') {
		add_missing_fields(tx, limit, host);
		tx->in_header = false;
		spool_raw(tx, l, len, limit);
	} else if (l[0] == ' ' || l[0] == '\t') {
		if (!tx->dropping_field)
			spool_raw(tx, l, len, limit);
	} else {
		tx->dropping_field = false;
		for (size_t i = 0; i < sizeof(private_fields) / sizeof(private_fields[0]); i++)
			if (field_is(l, len, private_fields[i]))
				tx->dropping_field = true;
		if (field_is(l, len, "message-id:"))
			tx->seen_message_id = true;
		if (field_is(l, len, "date:"))
			tx->seen_date = true;
		if (!tx->dropping_field)
			spool_raw(tx, l, len, limit);
	}
	buf_reset(&tx->hline);
}

void spool_finish(struct smtp_session *s, uint64_t limit)
{
	struct smtp_transaction *tx = s->tx;
	if (!tx->clean_headers || !tx->in_header)
		return;
	if (tx->hline.len > 0) {
		buf_append_c(&tx->hline, '\n');
		header_line(tx, limit, s->srv->cfg->server.hostname);
	}
	if (tx->in_header)
		add_missing_fields(tx, limit, s->srv->cfg->server.hostname);
	buf_free(&tx->hline);
}

void spool_write(struct smtp_transaction *tx, const char *data, size_t n, uint64_t limit)
{
	if (n == 0 || tx->spool == NULL)
		return;
	if (tx->clean_headers && tx->in_header) {
		size_t i = 0;
		while (i < n && tx->in_header) {
			const char *nl = memchr(data + i, '\n', n - i);
			size_t take = nl ? (size_t)(nl - (data + i)) + 1 : n - i;
			buf_append(&tx->hline, data + i, take);
			i += take;
			if (nl != NULL) {
				/* hostname is not at hand here: the Message-ID uses the
				 * one stored at MAIL time */
				header_line(tx, limit, tx->msgid_host);
			} else if (tx->hline.len > 64 * 1024) {
				/* a header line this long is passed on unfiltered */
				spool_raw(tx, tx->hline.data, tx->hline.len, limit);
				buf_reset(&tx->hline);
			}
		}
		if (!tx->in_header)
			buf_free(&tx->hline);
		if (i < n)
			spool_raw(tx, data + i, n - i, limit);
		return;
	}
	spool_raw(tx, data, n, limit);
}

static void spool_raw(struct smtp_transaction *tx, const char *data, size_t n, uint64_t limit)
{
	if (n == 0 || tx->spool == NULL)
		return;
	/* header bookkeeping: count Received: fields, find the end of header */
	for (size_t i = 0; i < n && tx->in_header; i++) {
		char ch = data[i];
		if (tx->line_start) {
			tx->line_start = false;
			tx->line_pos = 0;
			if (ch == '\n') {
				tx->in_header = false; /* the empty line */
				break;
			}
		}
		if (tx->line_pos < sizeof(tx->line_head))
			tx->line_head[tx->line_pos] = ch;
		tx->line_pos++;
		if (tx->line_pos == 9 && strncasecmp(tx->line_head, "received:", 9) == 0)
			tx->hops++;
		if (ch == '\n')
			tx->line_start = true;
	}
	if (tx->too_big)
		return;
	if (tx->msg_size + n > limit) {
		tx->too_big = true;
		return;
	}
	tx->msg_size += n;
	if (!tx->write_error && fwrite(data, 1, n, tx->spool) != n) {
		tx->write_error = true;
		tx->write_errno = errno;
	}
}

void deliver_discard(struct smtp_transaction *tx)
{
	buf_free(&tx->hline);
	free(tx->msgid_host);
	tx->msgid_host = NULL;
	if (tx->spool != NULL) {
		fclose(tx->spool);
		tx->spool = NULL;
	}
	if (tx->spool_path != NULL) {
		unlink(tx->spool_path);
		free(tx->spool_path);
		tx->spool_path = NULL;
	}
}

/* ---- local delivery in the pool ---- */

struct deliver_job {
	struct smtp_session *s;
	struct smtp_transaction *tx;
	const struct config *cfg;
	unsigned n;
	char **mailbox;	 /* per local target: final path or NULL */
	int status;	 /* 0 all delivered, 1 quota, -1 temporary failure */
	char *error;
	char *quota_user; /* who is over quota */
};

static void deliver_work(void *arg)
{
	struct deliver_job *j = arg;
	struct smtp_transaction *tx = j->tx;
	struct store_user *users = xcalloc(tx->ntargets, sizeof(*users));
	struct maildir_target *targets = xcalloc(tx->ntargets, sizeof(*targets));
	struct quota_limits *limits = xcalloc(tx->ntargets, sizeof(*limits));
	unsigned *which = xcalloc(tx->ntargets, sizeof(*which));
	unsigned n = 0;
	const char *err = NULL;
	j->status = 0;
	for (unsigned i = 0; i < tx->ntargets && j->status == 0; i++) {
		struct smtp_target *t = &tx->targets[i];
		if (t->remote)
			continue;
		const char *at = strrchr(t->address, '@');
		char *local = xstrndup(t->address, (size_t)(at - t->address));
		if (store_user_init(&users[n], &j->cfg->mail, local, at + 1, &err) < 0) {
			j->status = -1;
			j->error = xasprintf("%s: %s", t->address, err);
			free(local);
			break;
		}
		free(local);
		quota_limits_from_mb(t->quota_mb, &limits[n]);
		/* all-or-nothing pre-check; an unlimited mailbox needs none */
		int over = t->quota_mb == 0 ? 0
					    : quota_check_size(users[n].root, &limits[n],
							       tx->head_len + tx->msg_size, &err);
		if (over == 1) {
			j->status = 1;
			j->quota_user = xstrdup(t->address);
		} else if (over < 0) {
			j->status = -1;
			j->error = xasprintf("%s: quota: %s", t->address, err);
		}
		targets[n].root = users[n].root;
		targets[n].mailbox = users[n].root;
		targets[n].create_base = users[n].base;
		targets[n].quota = &limits[n];
		which[n] = i;
		n++;
	}
	j->n = n;
	if (j->status == 0 && n > 0) {
		struct maildir_source src = {-1, tx->spool_path};
		struct maildir_result *res = xcalloc(n, sizeof(*res));
		maildir_deliver(targets, n, &src, res);
		j->mailbox = xcalloc(n, sizeof(char *));
		for (unsigned k = 0; k < n; k++) {
			if (res[k].status == MAILDIR_OK) {
				j->mailbox[k] = res[k].path;
				res[k].path = NULL;
			} else if (res[k].status == MAILDIR_QUOTA && j->status == 0) {
				j->status = 1;
				j->quota_user = xstrdup(tx->targets[which[k]].address);
			} else if (j->status == 0) {
				j->status = -1;
				j->error = xasprintf("%s: %s", tx->targets[which[k]].address,
						     res[k].error_text ? res[k].error_text : "error");
			}
		}
		maildir_results_free(res, n);
		free(res);
	} else if (j->status == 0 && tx->spool_path != NULL) {
		/* remote only: the queue links the file; make it durable first */
		int fd = open(tx->spool_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) < 0) {
			j->status = -1;
			j->error = xasprintf("spool fsync: %s", strerror(errno));
		}
		if (fd >= 0)
			close(fd);
	}
	for (unsigned k = 0; k < n; k++)
		store_user_deinit(&users[k]);
	/* n counts users made; a failure on the last one left it unmade */
	free(users);
	free(targets);
	free(limits);
	free(which);
}

static void finish(struct smtp_session *s, struct deliver_job *j);

static void job_free(struct deliver_job *j)
{
	for (unsigned i = 0; i < j->n; i++)
		free(j->mailbox ? j->mailbox[i] : NULL);
	free(j->mailbox);
	free(j->error);
	free(j->quota_user);
	free(j);
}

/* job_end: the session's hold on this delivery ends; false when the
 * session is gone (the job is freed then). */
static bool job_end(struct deliver_job *j)
{
	if (!session_job_end(j->s)) {
		/* the client left: whatever was delivered stays; it never got 250 */
		job_free(j);
		return false;
	}
	return true;
}

static void on_queued(struct ipc_msg *reply, void *arg)
{
	struct deliver_job *j = arg;
	struct smtp_session *s = j->s;
	uint8_t st = 1;
	const char *err = "queue process did not answer";
	if (reply != NULL) {
		ipc_get_u8(reply, &st);
		ipc_get_str(reply, &err);
		if (ipc_msg_done(reply) < 0)
			st = 1, err = "malformed reply";
	}
	if (st != 0) {
		j->status = -1;
		j->error = xasprintf("queue: %s", err ? err : "error");
	}
	if (job_end(j))
		finish(s, j);
}

static void queue_closed(struct ipc_conn *c, void *arg)
{
	struct smtp_server *srv = arg;
	(void)c;
	ipc_conn_destroy(&srv->queue);
}

static bool queue_submit(struct smtp_session *s, struct deliver_job *j)
{
	struct smtp_server *srv = s->srv;
	struct smtp_transaction *tx = j->tx;
	if (srv->queue == NULL) {
		int fd = ipc_connect_unix(srv->env.queue_socket);
		if (fd < 0) {
			j->status = -1;
			j->error = xasprintf("queue process unreachable: %s", strerror(errno));
			return false;
		}
		srv->queue = ipc_conn_create(srv->env.base, fd, NULL, queue_closed, srv);
	}
	struct ipc_msg m;
	ipc_msg_init(&m, QUEUE_SUBMIT, 0);
	ipc_put_str(&m, tx->qid);
	ipc_put_str(&m, tx->spool_path);
	ipc_put_u64(&m, tx->prefix_len);
	ipc_put_str(&m, tx->sender);
	ipc_put_u32(&m, tx->nremote);
	for (unsigned i = 0; i < tx->ntargets; i++)
		if (tx->targets[i].remote)
			ipc_put_str(&m, tx->targets[i].address);
	ipc_conn_request(srv->queue, &m, 30000, on_queued, j);
	return true;
}

static void finish(struct smtp_session *s, struct deliver_job *j)
{
	struct smtp_transaction *tx = j->tx;
	unsigned k = 0;
	for (unsigned i = 0; i < tx->ntargets; i++) {
		struct smtp_target *t = &tx->targets[i];
		if (t->remote) {
			if (j->status == 0)
				log_info("sid=%s qid=%s event=queued to=<%s> status=queued", s->sid,
					 tx->qid, log_esc(t->address));
			continue;
		}
		if (j->mailbox != NULL && k < j->n && j->mailbox[k] != NULL)
			log_info("sid=%s qid=%s event=delivered to=<%s> orig_to=<%s> size=%llu "
				 "mailbox=%s status=sent",
				 s->sid, tx->qid, log_esc(t->address),
				 log_esc(tx->rcpts[t->rcpt].address),
				 (unsigned long long)(tx->head_len + tx->msg_size),
				 log_esc(j->mailbox[k]));
		k++;
	}
	if (j->status == 0) {
		s->messages++;
		log_info("sid=%s qid=%s event=accepted from=<%s> size=%llu nrcpt=%u local=%u "
			 "remote=%u",
			 s->sid, tx->qid, log_esc(tx->sender_wire),
			 (unsigned long long)tx->msg_size, tx->nrcpts, tx->nlocal, tx->nremote);
		session_reply(s, "250 2.0.0 Ok: queued as %s", tx->qid);
	} else if (j->status == 1) {
		session_reject(s, "DATA",
			       "552 5.2.2 <%s>: Benutzer %s hat das Speichervolumen "
			       "überschritten. / User %s has exhausted allowed storage space.",
			       j->quota_user, j->quota_user, j->quota_user);
	} else {
		log_error("sid=%s qid=%s event=delivery_error error=\"%s\"", s->sid, tx->qid,
			  log_esc(j->error));
		session_reject(s, "DATA", "451 4.3.0 Error: local delivery failed, try again later");
	}
	job_free(j);
	session_tx_reset(s); /* unlinks our spool name; copies have their own */
	if (s->state != SMTP_STATE_CLOSING)
		session_enter_state(s, SMTP_STATE_READY);
	session_resume(s);
}

static void deliver_done(void *arg)
{
	struct deliver_job *j = arg;
	struct smtp_session *s = j->s;
	if (!s->quit && j->status == 0 && j->tx->nremote > 0 && queue_submit(s, j))
		return; /* on_queued goes on; the session stays held until then */
	if (job_end(j))
		finish(s, j);
}

void deliver_start(struct smtp_session *s)
{
	struct smtp_transaction *tx = s->tx;
	if (fflush(tx->spool) != 0) {
		tx->write_error = true;
		tx->write_errno = errno;
	}
	if (tx->write_error) {
		log_error("sid=%s qid=%s event=spool_error error=\"%s\"", s->sid, tx->qid,
			  strerror(tx->write_errno));
		session_reject(s, "DATA", "451 4.3.0 Error: queue file write error");
		session_tx_reset(s);
		session_enter_state(s, SMTP_STATE_READY);
		return;
	}
	fclose(tx->spool);
	tx->spool = NULL;
	struct deliver_job *j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->tx = tx;
	j->cfg = s->srv->cfg;
	s->busy = true;
	session_job_begin(s);
	pool_submit(s->srv->env.pool, deliver_work, deliver_done, j);
}
