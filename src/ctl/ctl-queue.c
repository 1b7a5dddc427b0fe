/*
 * ctl-queue.c - `vmailctl queue`: look at the outbound queue and act on it.
 *
 *   vmailctl queue list [--json]     every message: queue id, arrival, size,
 *                                    sender, recipients and their state
 *   vmailctl queue show ID [--json]  the envelope and the message's header
 *   vmailctl queue flush             try every message not on hold now
 *   vmailctl queue delete ID         remove a message (no report is sent)
 *   vmailctl queue hold ID           keep a message from being tried ...
 *   vmailctl queue release ID        ... until it is released
 *
 * list and show read <state_dir>/queue directly (vmailctl runs as root);
 * every change is asked of the queue process over queue.sock
 * (smtp/queue-proto.h), so that it alone touches queue files. Exit 1
 * when the message does not exist, 3 when the queue process cannot be
 * reached.
 */
#include "ctl/ctl.h"
#include "core/ipc.h"
#include "core/xalloc.h"
#include "smtp/queue-proto.h"
#include "smtp/queue.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REQUEST_TIMEOUT_MS 30000

static void usage(void)
{
	fprintf(stderr, "usage: vmailctl queue list [--json]\n"
	                "       vmailctl queue show ID [--json]\n"
	                "       vmailctl queue flush\n"
	                "       vmailctl queue delete|hold|release ID\n");
}

static void fmt_time(time_t t, char *out, size_t n)
{
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

static long long msg_size(const struct queue_dirs *d, const struct queue_env *env)
{
	char *p = queue_msg_path(d, env->qid);
	struct stat st;
	long long n = -1;
	if (stat(p, &st) == 0)
		n = (long long)st.st_size - (long long)env->offset;
	free(p);
	return n;
}

static json_t *env_json(const struct queue_dirs *d, const struct queue_env *env)
{
	char at[32];
	fmt_time(env->arrival, at, sizeof(at));
	json_t *rc = json_array();
	for (unsigned i = 0; i < env->nrcpts; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];
		json_array_append_new(
		    rc,
		    json_pack("{s:s,s:s,s:I,s:I,s:s?,s:s?,s:s?}", "address", r->address, "state",
		              queue_rcpt_state_name(r->state), "tries", (json_int_t)r->tries,
		              "next", (json_int_t)r->next, "status",
		              r->status[0] ? r->status : NULL, "relay", r->relay, "diag", r->diag));
	}
	return json_pack("{s:s,s:I,s:s,s:I,s:s,s:s,s:b,s:o}", "qid", env->qid, "arrival",
	                 (json_int_t)env->arrival, "arrival_text", at, "size",
	                 (json_int_t)msg_size(d, env), "sender", env->sender, "kind",
	                 queue_kind_name(env->kind), "held", env->hold, "recipients", rc);
}

static void env_print(const struct queue_dirs *d, const struct queue_env *env)
{
	char at[32];
	fmt_time(env->arrival, at, sizeof(at));
	printf("%-18s %s %8lld  <%s>%s%s\n", env->qid, at, msg_size(d, env), env->sender,
	       env->kind != QUEUE_KIND_NORMAL ? " (report)" : "", env->hold ? " [held]" : "");
	for (unsigned i = 0; i < env->nrcpts; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];
		printf("    <%s> %s", r->address, queue_rcpt_state_name(r->state));
		if (r->tries > 0)
			printf(" tries=%u", r->tries);
		if (r->state == QR_DEFERRED && r->next > 0) {
			char nt[32];
			fmt_time(r->next, nt, sizeof(nt));
			printf(" next=\"%s\"", nt);
		}
		if (r->status[0])
			printf(" dsn=%s", r->status);
		if (r->relay)
			printf(" relay=%s", r->relay);
		if (r->diag)
			printf(" (%s)", r->diag);
		printf("\n");
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list(struct ctl *c, const struct queue_dirs *d)
{
	DIR *dir = opendir(d->env);
	if (dir == NULL) {
		if (errno == ENOENT) {
			if (c->json)
				ctl_json_out(json_array());
			else
				printf("the queue is empty\n");
			return CTL_EXIT_OK;
		}
		fprintf(stderr, "vmailctl: queue list: %s: %s\n", d->env, strerror(errno));
		return CTL_EXIT_TEMPFAIL;
	}
	char **names = NULL;
	unsigned n = 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.' || !queue_qid_valid(de->d_name))
			continue;
		names = xreallocarray(names, n + 1, sizeof(char *));
		names[n++] = xstrdup(de->d_name);
	}
	closedir(dir);
	if (n > 0)
		qsort(names, n, sizeof(char *), cmp_str);
	json_t *a = c->json ? json_array() : NULL;
	unsigned shown = 0;
	for (unsigned i = 0; i < n; i++) {
		struct queue_env env;
		char *err = NULL;
		int r = queue_env_load(d, names[i], &env, &err);
		if (r < 0) {
			fprintf(stderr, "vmailctl: queue list: %s\n", err);
			free(err);
		} else if (r > 0) {
			if (a != NULL)
				json_array_append_new(a, env_json(d, &env));
			else
				env_print(d, &env);
			shown++;
			queue_env_free(&env);
		}
		free(names[i]);
	}
	free(names);
	if (a != NULL)
		ctl_json_out(a);
	else if (shown == 0)
		printf("the queue is empty\n");
	return CTL_EXIT_OK;
}

static int show(struct ctl *c, const struct queue_dirs *d, const char *qid)
{
	struct queue_env env;
	char *err = NULL;
	int r = queue_env_load(d, qid, &env, &err);
	if (r <= 0) {
		if (r == 0)
			fprintf(stderr, "vmailctl: queue show: %s: no such message in the queue\n",
			        qid);
		else
			fprintf(stderr, "vmailctl: queue show: %s\n", err);
		free(err);
		return r == 0 ? CTL_EXIT_REFUSED : CTL_EXIT_TEMPFAIL;
	}
	struct buf h = BUF_INIT;
	char *path = queue_msg_path(d, qid);
	const char *herr = NULL;
	if (queue_read_headers(path, env.offset, 256 * 1024, &h, &herr) < 0)
		buf_appendf(&h, "(the message file cannot be read: %s)\n", herr);
	free(path);
	if (c->json) {
		json_t *o = env_json(d, &env);
		json_object_set_new(o, "headers", json_string(buf_cstr(&h)));
		ctl_json_out(o);
	} else {
		env_print(d, &env);
		printf("\n%s", buf_cstr(&h));
	}
	buf_free(&h);
	queue_env_free(&env);
	return CTL_EXIT_OK;
}

/* request: one request to the queue process and its answer. */
static int request(struct ctl *c, enum queue_request type, const char *qid, const char *what)
{
	char *path = xasprintf("%s/run/queue.sock", c->cfg.server.state_dir);
	int fd = ipc_connect_unix(path);
	if (fd < 0) {
		fprintf(stderr,
		        "vmailctl: queue %s: the queue process is not reachable at %s: %s\n", what,
		        path, strerror(errno));
		free(path);
		return CTL_EXIT_TEMPFAIL;
	}
	free(path);
	struct ipc_msg m;
	ipc_msg_init(&m, (uint16_t)type, 1);
	if (qid != NULL)
		ipc_put_str(&m, qid);
	ipc_msg_finish(&m);
	int rc = CTL_EXIT_TEMPFAIL;
	size_t off = 0;
	while (off < m.b.len) {
		ssize_t n = write(fd, m.b.data + off, m.b.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "vmailctl: queue %s: write: %s\n", what, strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	struct buf in = BUF_INIT;
	struct ipc_msg r;
	for (;;) {
		size_t used = 0;
		int p = ipc_msg_parse(&r, in.data ? in.data : "", in.len, &used);
		if (p < 0) {
			fprintf(stderr, "vmailctl: queue %s: malformed answer\n", what);
			break;
		}
		if (p > 0) {
			uint8_t st = 1;
			const char *err = NULL;
			ipc_get_u8(&r, &st);
			ipc_get_str(&r, &err);
			if (ipc_msg_done(&r) < 0 || r.type != type) {
				fprintf(stderr, "vmailctl: queue %s: malformed answer\n", what);
			} else if (st == QUEUE_REPLY_OK) {
				rc = CTL_EXIT_OK;
			} else if (st == QUEUE_REPLY_NOT_FOUND) {
				fprintf(stderr, "vmailctl: queue %s: %s: %s\n", what, qid,
				        err ? err : "no such message");
				rc = CTL_EXIT_REFUSED;
			} else {
				fprintf(stderr, "vmailctl: queue %s: %s\n", what,
				        err ? err : "failed");
			}
			ipc_msg_free(&r);
			break;
		}
		struct pollfd pfd = {fd, POLLIN, 0};
		int pr = poll(&pfd, 1, REQUEST_TIMEOUT_MS);
		if (pr <= 0) {
			fprintf(stderr, "vmailctl: queue %s: no answer from the queue process\n",
			        what);
			break;
		}
		char tmp[4096];
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr,
			        "vmailctl: queue %s: the queue process closed the connection\n",
			        what);
			break;
		}
		buf_append(&in, tmp, (size_t)n);
	}
	buf_free(&in);
out:
	ipc_msg_free(&m);
	close(fd);
	return rc;
}

int ctl_queue(struct ctl *c, int argc, char **argv)
{
	if (ctl_take_flag(&argc, argv, "--json"))
		c->json = true;
	if (argc < 1 || !ctl_no_options(argc, argv, "queue")) {
		usage();
		return CTL_EXIT_USAGE;
	}
	const char *sub = argv[0];
	bool with_id = strcmp(sub, "show") == 0 || strcmp(sub, "delete") == 0 ||
	               strcmp(sub, "hold") == 0 || strcmp(sub, "release") == 0;
	bool without = strcmp(sub, "list") == 0 || strcmp(sub, "flush") == 0;
	if (!(with_id && argc == 2) && !(without && argc == 1)) {
		usage();
		return CTL_EXIT_USAGE;
	}
	if (with_id && !queue_qid_valid(argv[1])) {
		fprintf(stderr, "vmailctl: queue %s: '%s' is not a queue id\n", sub, argv[1]);
		return CTL_EXIT_REFUSED;
	}
	struct queue_dirs d;
	queue_dirs_init(&d, c->cfg.server.state_dir);
	int rc;
	if (strcmp(sub, "list") == 0) {
		rc = list(c, &d);
	} else if (strcmp(sub, "show") == 0) {
		rc = show(c, &d, argv[1]);
	} else if (strcmp(sub, "flush") == 0) {
		rc = request(c, QUEUE_FLUSH, NULL, sub);
		if (rc == CTL_EXIT_OK && !c->json)
			printf("queue flushed\n");
	} else {
		enum queue_request t = strcmp(sub, "delete") == 0 ? QUEUE_DELETE
		                       : strcmp(sub, "hold") == 0 ? QUEUE_HOLD
		                                                  : QUEUE_RELEASE;
		rc = request(c, t, argv[1], sub);
		if (rc == CTL_EXIT_OK && !c->json)
			printf("message %s %s\n", argv[1],
			       t == QUEUE_DELETE ? "deleted"
			       : t == QUEUE_HOLD ? "held"
			                         : "released");
	}
	queue_dirs_free(&d);
	return rc;
}
