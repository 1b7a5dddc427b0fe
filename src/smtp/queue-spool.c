/*
 * queue-spool.c - queue files: envelope syntax, atomic replacement,
 * commit of new messages and removal (see queue.h for the format and
 * the durability rules).
 *
 * Everything here is blocking file I/O; the queue process calls it from
 * its loop (it serves nothing that cannot wait a few milliseconds) and
 * vmailctl reads envelopes with it.
 */
#include "smtp/queue.h"
#include "core/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const state_names[] = {"pending", "deferred", "sent",
                                          "failed",  "bounced",  "expanded"};
static const char *const kind_names[] = {"normal", "bounce", "double"};

bool queue_qid_valid(const char *q)
{
	size_t n = strlen(q);
	if (n == 0 || n > QUEUE_QID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)q[i]))
			return false;
	return true;
}

const char *queue_rcpt_state_name(enum queue_rcpt_state st)
{
	return (unsigned)st < sizeof(state_names) / sizeof(state_names[0]) ? state_names[st] : "?";
}

const char *queue_kind_name(enum queue_kind k)
{
	return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "?";
}

bool queue_rcpt_done(enum queue_rcpt_state st)
{
	return st == QR_SENT || st == QR_BOUNCED || st == QR_EXPANDED;
}

void queue_env_free(struct queue_env *env)
{
	for (unsigned i = 0; i < env->nrcpts; i++) {
		free(env->rcpts[i].address);
		free(env->rcpts[i].relay);
		free(env->rcpts[i].diag);
	}
	free(env->rcpts);
	free(env->sender);
	memset(env, 0, sizeof(*env));
}

struct queue_rcpt *queue_env_add_rcpt(struct queue_env *env, const char *address, unsigned depth)
{
	env->rcpts = xreallocarray(env->rcpts, env->nrcpts + 1, sizeof(*env->rcpts));
	struct queue_rcpt *r = &env->rcpts[env->nrcpts++];
	memset(r, 0, sizeof(*r));
	r->address = xstrdup(address);
	r->depth = depth;
	return r;
}

/* clean: s as printable ASCII (others '?'), at most max bytes; NULL for
 * NULL or "". no_space: spaces become '_' too. */
static char *clean(const char *s, size_t max, bool no_space)
{
	if (s == NULL || s[0] == '\0')
		return NULL;
	size_t n = strlen(s);
	if (n > max)
		n = max;
	char *o = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		o[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
		if (no_space && o[i] == ' ')
			o[i] = '_';
	}
	o[n] = '\0';
	return o;
}

void queue_rcpt_set(struct queue_rcpt *r, enum queue_rcpt_state st, const char *status,
                    const char *relay, const char *diag)
{
	r->state = st;
	r->status[0] = '\0';
	if (status != NULL) {
		size_t n = strlen(status);
		if (n < sizeof(r->status) && strspn(status, "0123456789.") == n)
			memcpy(r->status, status, n + 1);
	}
	free(r->relay);
	free(r->diag);
	r->relay = clean(relay, 300, true);
	r->diag = clean(diag, QUEUE_DIAG_MAX, false);
}

static int parse_u64(const char *s, uint64_t *v_r)
{
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*v_r = v;
	return 0;
}

static int parse_state(const char *val, struct queue_rcpt *r)
{
	/* STATE TRIES NEXT DEPTH STATUS RELAY DIAG... */
	char *copy = xstrdup(val);
	char *f[6];
	char *p = copy;
	int ret = -1;
	for (int i = 0; i < 6; i++) {
		f[i] = p;
		p = strchr(p, ' ');
		if (p == NULL) {
			if (i < 5)
				goto out;
			break;
		}
		*p++ = '\0';
	}
	const char *diag = p != NULL ? p : "";
	int st = -1;
	for (unsigned i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (strcmp(f[0], state_names[i]) == 0)
			st = (int)i;
	uint64_t tries, next, depth;
	if (st < 0 || parse_u64(f[1], &tries) < 0 || parse_u64(f[2], &next) < 0 ||
	    parse_u64(f[3], &depth) < 0 || tries > 1000000 || depth > 1000)
		goto out;
	queue_rcpt_set(r, (enum queue_rcpt_state)st, strcmp(f[4], "-") == 0 ? NULL : f[4],
	               strcmp(f[5], "-") == 0 ? NULL : f[5], diag);
	r->tries = (unsigned)tries;
	r->next = (time_t)next;
	r->depth = (unsigned)depth;
	ret = 0;
out:
	free(copy);
	return ret;
}

int queue_env_parse(const char *data, size_t len, struct queue_env *env, const char **error_r)
{
	memset(env, 0, sizeof(*env));
	if (memchr(data, '\0', len) != NULL) {
		*error_r = "NUL byte in envelope";
		return -1;
	}
	bool have_qid = false, have_arrival = false, have_offset = false;
	size_t pos = 0;
	unsigned lineno = 0;
	char *line = NULL;
	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		if (nl == NULL) {
			*error_r = "envelope does not end with a line end";
			goto fail;
		}
		free(line);
		line = xstrndup(data + pos, (size_t)(nl - (data + pos)));
		pos = (size_t)(nl - data) + 1;
		lineno++;
		if (lineno == 1) {
			if (strcmp(line, "vmaild-envelope 1") != 0) {
				*error_r = "not a vmaild envelope of version 1";
				goto fail;
			}
			continue;
		}
		char *sp = strchr(line, ' ');
		const char *val = sp != NULL ? sp + 1 : "";
		if (sp != NULL)
			*sp = '\0';
		uint64_t v;
		if (strcmp(line, "qid") == 0) {
			if (!queue_qid_valid(val)) {
				*error_r = "bad qid";
				goto fail;
			}
			snprintf(env->qid, sizeof(env->qid), "%s", val);
			have_qid = true;
		} else if (strcmp(line, "arrival") == 0) {
			if (parse_u64(val, &v) < 0) {
				*error_r = "bad arrival";
				goto fail;
			}
			env->arrival = (time_t)v;
			have_arrival = true;
		} else if (strcmp(line, "offset") == 0) {
			if (parse_u64(val, &v) < 0) {
				*error_r = "bad offset";
				goto fail;
			}
			env->offset = v;
			have_offset = true;
		} else if (strcmp(line, "sender") == 0) {
			free(env->sender);
			env->sender = xstrdup(val);
		} else if (strcmp(line, "kind") == 0) {
			if (strcmp(val, "bounce") == 0)
				env->kind = QUEUE_KIND_BOUNCE;
			else if (strcmp(val, "double") == 0)
				env->kind = QUEUE_KIND_DOUBLE;
			else if (strcmp(val, "normal") == 0)
				env->kind = QUEUE_KIND_NORMAL;
			else {
				*error_r = "bad kind";
				goto fail;
			}
		} else if (strcmp(line, "hold") == 0) {
			env->hold = strcmp(val, "yes") == 0;
		} else if (strcmp(line, "rcpt") == 0) {
			if (val[0] == '\0' || env->nrcpts >= QUEUE_ENV_RCPTS) {
				*error_r = "bad or too many rcpt lines";
				goto fail;
			}
			queue_env_add_rcpt(env, val, 0);
		} else if (strcmp(line, "state") == 0) {
			if (env->nrcpts == 0 ||
			    parse_state(val, &env->rcpts[env->nrcpts - 1]) < 0) {
				*error_r = "bad state line";
				goto fail;
			}
		} else {
			*error_r = "unknown envelope line";
			goto fail;
		}
	}
	free(line);
	line = NULL;
	if (lineno == 0 || !have_qid || !have_arrival || !have_offset || env->sender == NULL) {
		*error_r = "envelope lacks qid, arrival, offset or sender";
		return -1;
	}
	return 0;
fail:
	free(line);
	return -1;
}

void queue_env_format(const struct queue_env *env, struct buf *out)
{
	buf_appendf(out, "vmaild-envelope 1\nqid %s\narrival %lld\noffset %llu\nsender %s\n",
	            env->qid, (long long)env->arrival, (unsigned long long)env->offset,
	            env->sender ? env->sender : "");
	if (env->kind != QUEUE_KIND_NORMAL)
		buf_appendf(out, "kind %s\n", kind_names[env->kind]);
	if (env->hold)
		buf_append_str(out, "hold yes\n");
	for (unsigned i = 0; i < env->nrcpts; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];
		buf_appendf(out, "rcpt %s\n", r->address);
		if (r->state == QR_PENDING && r->tries == 0 && r->depth == 0 && r->diag == NULL)
			continue;
		buf_appendf(out, "state %s %u %lld %u %s %s %s\n", state_names[r->state], r->tries,
		            (long long)(r->next > 0 ? r->next : 0), r->depth,
		            r->status[0] ? r->status : "-", r->relay ? r->relay : "-",
		            r->diag ? r->diag : "");
	}
}

void queue_dirs_init(struct queue_dirs *d, const char *state_dir)
{
	d->top = xasprintf("%s/queue", state_dir);
	d->incoming = xasprintf("%s/incoming", d->top);
	d->msg = xasprintf("%s/msg", d->top);
	d->env = xasprintf("%s/env", d->top);
}

void queue_dirs_free(struct queue_dirs *d)
{
	free(d->top);
	free(d->incoming);
	free(d->msg);
	free(d->env);
	memset(d, 0, sizeof(*d));
}

char *queue_msg_path(const struct queue_dirs *d, const char *qid)
{
	return xasprintf("%s/%s", d->msg, qid);
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

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int queue_env_load(const struct queue_dirs *d, const char *qid, struct queue_env *env,
                   char **error_r)
{
	memset(env, 0, sizeof(*env));
	char *path = xasprintf("%s/%s", d->env, qid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT) {
			free(path);
			return 0;
		}
		*error_r = xasprintf("open %s: %s", path, strerror(e));
		free(path);
		return -1;
	}
	struct buf b = BUF_INIT;
	char tmp[8192];
	int ret = 1;
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = xasprintf("read %s: %s", path, strerror(errno));
			ret = -1;
			break;
		}
		if (n == 0)
			break;
		buf_append(&b, tmp, (size_t)n);
		if (b.len > QUEUE_ENV_MAX) {
			*error_r = xasprintf("%s: envelope too large", path);
			ret = -1;
			break;
		}
	}
	close(fd);
	const char *perr = NULL;
	if (ret == 1 && queue_env_parse(buf_cstr(&b), b.len, env, &perr) < 0) {
		*error_r = xasprintf("%s: %s", path, perr);
		queue_env_free(env);
		ret = -1;
	} else if (ret == 1 && strcmp(env->qid, qid) != 0) {
		*error_r = xasprintf("%s: names queue id %s", path, env->qid);
		queue_env_free(env);
		ret = -1;
	}
	buf_free(&b);
	free(path);
	return ret;
}

int queue_env_store(const struct queue_dirs *d, const struct queue_env *env, char **error_r)
{
	char *path = xasprintf("%s/%s", d->env, env->qid);
	char *tmp = xasprintf("%s/.%s.tmp", d->env, env->qid);
	struct buf b = BUF_INIT;
	queue_env_format(env, &b);
	int ret = -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, b.data, b.len) < 0 || fsync(fd) < 0) {
		*error_r = xasprintf("write %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) < 0 || fsync_path(d->env) < 0) {
		*error_r = xasprintf("rename to %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	ret = 0;
out:
	buf_free(&b);
	free(path);
	free(tmp);
	return ret;
}

int queue_spool_commit(const struct queue_dirs *d, const char *spool, const struct queue_env *env,
                       char **error_r)
{
	char *expect = xasprintf("%s/%s", d->incoming, env->qid);
	char *msg = queue_msg_path(d, env->qid);
	int ret = -1;
	if (strcmp(expect, spool) != 0) {
		*error_r = xasprintf("spool file not in %s", d->incoming);
		goto out;
	}
	if (link(spool, msg) < 0 && errno != EEXIST) {
		*error_r = xasprintf("link %s: %s", msg, strerror(errno));
		goto out;
	}
	if (fsync_path(msg) < 0 || fsync_path(d->msg) < 0) {
		*error_r = xasprintf("fsync %s: %s", msg, strerror(errno));
		goto out;
	}
	ret = queue_env_store(d, env, error_r);
out:
	free(expect);
	free(msg);
	return ret;
}

int queue_spool_create(const struct queue_dirs *d, const char *data, size_t len,
                       const struct queue_env *env, char **error_r)
{
	char *spool = xasprintf("%s/%s", d->incoming, env->qid);
	int fd = open(spool, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int ret = -1;
	if (fd < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		*error_r = xasprintf("write %s: %s", spool, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(spool);
		free(spool);
		return -1;
	}
	close(fd);
	ret = queue_spool_commit(d, spool, env, error_r);
	unlink(spool);
	free(spool);
	return ret;
}

int queue_spool_remove(const struct queue_dirs *d, const char *qid, char **error_r)
{
	char *env = xasprintf("%s/%s", d->env, qid);
	char *msg = queue_msg_path(d, qid);
	int ret = 0;
	if (unlink(env) < 0 && errno != ENOENT) {
		*error_r = xasprintf("unlink %s: %s", env, strerror(errno));
		ret = -1;
	} else if (fsync_path(d->env) < 0) {
		*error_r = xasprintf("fsync %s: %s", d->env, strerror(errno));
		ret = -1;
	} else if (unlink(msg) < 0 && errno != ENOENT) {
		*error_r = xasprintf("unlink %s: %s", msg, strerror(errno));
		ret = -1;
	}
	free(env);
	free(msg);
	return ret;
}

int queue_read_headers(const char *msg_path, uint64_t offset, size_t max, struct buf *out,
                       const char **error_r)
{
	int fd = open(msg_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	size_t start = out->len;
	char tmp[8192];
	uint64_t pos = offset;
	bool done = false;
	while (!done && out->len - start <= max) {
		ssize_t n = pread(fd, tmp, sizeof(tmp), (off_t)pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = strerror(errno);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		pos += (uint64_t)n;
		for (ssize_t i = 0; i < n; i++) {
			char c = tmp[i];
			if (c == '\r')
				continue;
			/* an empty line ends the header */
			if (c == '\n' && (out->len == start || out->data[out->len - 1] == '\n')) {
				done = true;
				break;
			}
			buf_append_c(out, c);
			if (out->len - start > max)
				break;
		}
	}
	close(fd);
	if (out->len - start > max) {
		size_t keep = max;
		while (keep > 0 && out->data[start + keep - 1] != '\n')
			keep--;
		buf_truncate(out, start + keep);
	}
	if (out->len > start && out->data[out->len - 1] != '\n')
		buf_append_c(out, '\n');
	return 0;
}
