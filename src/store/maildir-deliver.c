/*
 * maildir-deliver.c - one message into several Maildirs with one write
 * (see maildir.h).
 *
 * Steps, in this order, so that nothing incomplete is ever visible:
 *  1. each target's directories exist (created 0700 below create_base,
 *     parents fsynced);
 *  2. the message is staged: copied once into tmp/ of the first usable
 *     target (or a 0600 spool file of ours is taken as it is), counted
 *     for S= and W=, and fsynced;
 *  3. per target: quota checked, the staged file hard-linked into new/
 *     (or cur/ with flags) under a fresh unique name - or, when link()
 *     cannot cross, copied into that target's tmp/, fsynced and linked
 *     from there - then new/ (cur/) fsynced, then the quota delta
 *     appended; only then is the target reported ok;
 *  4. the staged name in tmp/ is removed.
 * A crash between 2 and 4 leaves a file in tmp/ whose name carries our
 * pid; maildir_clean_tmp() removes it at the next start.
 */
#include "store/store.h"
#include "store/store-private.h"
#include "core/log.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_BUF     (64 * 1024)
#define NAME_RETRIES 10

struct staged {
	char *path; /* the file new names are linked from */
	bool ours;  /* written by us into tmp/: unlink at the end */
	struct maildir_vsize sz;
};

struct failure {
	int err;
	const char *text;
};

static int mkdir_sub(const char *mailbox, const char *sub, bool *created, const char **error_r)
{
	char *p = store_path_join(mailbox, sub);
	int ret = 0;

	if (mkdir(p, 0700) == 0) {
		*created = true;
	} else if (errno != EEXIST) {
		*error_r = store_err_sys("mkdir", p, errno);
		ret = -1;
	} else {
		struct stat st;
		if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode)) {
			*error_r = store_err_sys("mkdir", p, errno != 0 ? errno : ENOTDIR);
			ret = -1;
		}
	}
	free(p);
	return ret;
}

int maildir_create(const char *mailbox, const char *base, const char **error_r)
{
	struct stat st;
	char *probe = store_path_join(mailbox, "tmp");
	bool have = stat(probe, &st) == 0 && S_ISDIR(st.st_mode);

	free(probe);
	if (have) {
		char *n = store_path_join(mailbox, "new");
		char *c = store_path_join(mailbox, "cur");
		have = stat(n, &st) == 0 && S_ISDIR(st.st_mode) && stat(c, &st) == 0 &&
		       S_ISDIR(st.st_mode);
		free(n);
		free(c);
		if (have)
			return 0;
	}

	char *parent = NULL;
	if (base == NULL) {
		const char *slash = strrchr(mailbox, '/');
		parent = slash == NULL      ? xstrdup(".")
		         : slash == mailbox ? xstrdup("/")
		                            : xstrndup(mailbox, (size_t)(slash - mailbox));
		base = parent;
	}
	int ret = store_mkdirs(base, mailbox, error_r);
	free(parent);
	if (ret < 0)
		return -1;

	bool created = false;
	if (mkdir_sub(mailbox, "cur", &created, error_r) < 0 ||
	    mkdir_sub(mailbox, "new", &created, error_r) < 0 ||
	    mkdir_sub(mailbox, "tmp", &created, error_r) < 0)
		return -1;
	if (created && store_fsync_dir(mailbox, error_r) < 0)
		return -1;
	return 0;
}

/*
 * copy_data: everything of in (from offset 0 when it is seekable) to
 * out, counted into sz. On error *f says which side failed.
 */
static int copy_data(int in, const char *in_name, int out, const char *out_name,
                     struct maildir_vsize *sz, struct failure *f)
{
	char *buf = xmalloc(COPY_BUF);
	off_t off = 0;
	bool seekable = true;
	int ret = 0;

	memset(sz, 0, sizeof(*sz));
	for (;;) {
		ssize_t r;
		if (seekable) {
			r = pread(in, buf, COPY_BUF, off);
			if (r < 0 && errno == ESPIPE) {
				seekable = false;
				continue;
			}
		} else {
			r = read(in, buf, COPY_BUF);
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			f->err = errno;
			f->text = store_err_sys("read", in_name, errno);
			ret = -1;
			break;
		}
		if (r == 0)
			break;
		off += r;
		maildir_vsize_update(sz, buf, (size_t)r);
		if (store_write_full(out, buf, (size_t)r) < 0) {
			f->err = errno;
			f->text = store_err_sys("write", out_name, errno);
			ret = -1;
			break;
		}
	}
	free(buf);
	return ret;
}

/* count_data: S and W of a file we do not copy. */
static int count_data(int fd, const char *name, struct maildir_vsize *sz, struct failure *f)
{
	char *buf = xmalloc(COPY_BUF);
	off_t off = 0;
	int ret = 0;

	memset(sz, 0, sizeof(*sz));
	for (;;) {
		ssize_t r = pread(fd, buf, COPY_BUF, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			f->err = errno;
			f->text = store_err_sys("read", name, errno);
			ret = -1;
			break;
		}
		if (r == 0)
			break;
		off += r;
		maildir_vsize_update(sz, buf, (size_t)r);
	}
	free(buf);
	return ret;
}

/*
 * write_copy: a new file in mailbox/tmp/ holding the data of in, fsynced
 * and closed. *path_r is malloc'd.
 */
static int write_copy(const char *mailbox, int in, const char *in_name, char **path_r,
                      struct maildir_vsize *sz, struct failure *f)
{
	char uniq[MAILDIR_NAME_MAX];
	char *path = NULL;
	int fd = -1;

	for (int i = 0; i < NAME_RETRIES && fd < 0; i++) {
		maildir_unique_name(uniq, sizeof(uniq));
		free(path);
		path = xasprintf("%s/tmp/%s", mailbox, uniq);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		f->err = errno;
		f->text = store_err_sys("open", path, errno);
		free(path);
		return -1;
	}
	if (copy_data(in, in_name, fd, path, sz, f) < 0)
		goto fail;
	if (fsync(fd) < 0) {
		f->err = errno;
		f->text = store_err_sys("fsync", path, errno);
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		f->err = errno;
		f->text = store_err_sys("close", path, errno);
		goto fail;
	}
	*path_r = path;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(path);
	free(path);
	return -1;
}

/* stage: step 2. */
static int stage(const struct maildir_source *src, const char *mailbox, struct staged *s,
                 struct failure *f)
{
	memset(s, 0, sizeof(*s));
	if (src->path == NULL) {
		s->ours = true;
		return write_copy(mailbox, src->fd, "message", &s->path, &s->sz, f);
	}

	int fd = open(src->path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int ret;

	if (fd < 0) {
		f->err = errno;
		f->text = store_err_sys("open", src->path, errno);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		f->err = errno;
		f->text = store_err_sys("fstat", src->path, errno);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0600 || st.st_uid != geteuid()) {
		/* Not a private file of ours: never share its inode. */
		s->ours = true;
		ret = write_copy(mailbox, fd, src->path, &s->path, &s->sz, f);
	} else if ((ret = count_data(fd, src->path, &s->sz, f)) == 0) {
		if (fsync(fd) < 0) {
			f->err = errno;
			f->text = store_err_sys("fsync", src->path, errno);
			ret = -1;
		} else {
			s->path = xstrdup(src->path);
		}
	}
	close(fd);
	return ret;
}

static bool link_cannot_cross(int err)
{
	return err == EXDEV || err == EPERM || err == EMLINK || err == ENOTSUP ||
	       err == EOPNOTSUPP || err == ENOSYS;
}

static char *final_name(const char *dir, const struct staged *s, const char *flags)
{
	char uniq[MAILDIR_NAME_MAX];

	maildir_unique_name(uniq, sizeof(uniq));
	return xasprintf("%s/%s,S=%llu,W=%llu%s%s", dir, uniq, (unsigned long long)s->sz.size,
	                 (unsigned long long)s->sz.vsize, flags[0] != '\0' ? ":2," : "", flags);
}

/*
 * place_copy: copy the staged file into mailbox/tmp/, then give it its
 * final name in dir (link, or rename where hard links are not there).
 */
static int place_copy(const char *mailbox, const char *dir, const struct staged *s,
                      const char *flags, char **final_r, struct failure *f)
{
	int in = open(s->path, O_RDONLY | O_CLOEXEC);
	struct maildir_vsize sz;
	char *tmp = NULL;

	if (in < 0) {
		f->err = errno;
		f->text = store_err_sys("open", s->path, errno);
		return -1;
	}
	int ret = write_copy(mailbox, in, s->path, &tmp, &sz, f);
	close(in);
	if (ret < 0)
		return -1;
	if (sz.size != s->sz.size) {
		f->err = EIO;
		f->text = store_err("%s changed while being copied", s->path);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	for (int i = 0; i < NAME_RETRIES; i++) {
		char *final = final_name(dir, s, flags);
		if (link(tmp, final) == 0) {
			unlink(tmp);
			free(tmp);
			*final_r = final;
			return 0;
		}
		int err = errno;
		if (err != EEXIST && link_cannot_cross(err) && rename(tmp, final) == 0) {
			free(tmp);
			*final_r = final;
			return 0;
		}
		if (err != EEXIST) {
			f->err = errno;
			f->text = store_err_sys("link", final, errno);
			free(final);
			break;
		}
		free(final);
	}
	if (f->text == NULL) {
		f->err = EEXIST;
		f->text = "no unique name found";
	}
	unlink(tmp);
	free(tmp);
	return -1;
}

/* place: put the staged message into dir under a fresh name. */
static int place(const char *mailbox, const char *dir, const struct staged *s, const char *flags,
                 char **final_r, struct failure *f)
{
	for (int i = 0; i < NAME_RETRIES; i++) {
		char *final = final_name(dir, s, flags);
		if (store_link(s->path, final) == 0) {
			*final_r = final;
			return 0;
		}
		int err = errno;
		if (err == EEXIST) {
			free(final);
			continue;
		}
		if (link_cannot_cross(err)) {
			free(final);
			return place_copy(mailbox, dir, s, flags, final_r, f);
		}
		f->err = err;
		f->text = store_err_sys("link", final, err);
		free(final);
		return -1;
	}
	f->err = EEXIST;
	f->text = "no unique name found";
	return -1;
}

static void set_fail(struct maildir_result *r, enum maildir_status st, int err, const char *text)
{
	r->status = st;
	r->error = st == MAILDIR_TEMPFAIL && err == 0 ? EIO : err;
	free(r->error_text);
	r->error_text = xstrdup(text != NULL ? text : "failed");
}

/* quota_ok: 1 fits, 0 over (result set), -1 error (result set). */
static int quota_ok(const struct maildir_target *t, const struct staged *s,
                    struct maildir_result *r)
{
	struct quota_usage u;
	const char *error;

	if (t->quota == NULL)
		return 1;
	if (quota_get(t->root, t->quota, &u, &error) < 0) {
		set_fail(r, MAILDIR_TEMPFAIL, errno != 0 ? errno : EIO, error);
		return -1;
	}
	if (quota_usage_exceeded_by(&u, t->quota, s->sz.size)) {
		char text[200];
		snprintf(text, sizeof(text),
		         "quota exceeded: %llu of %llu bytes, %llu of %llu messages used, "
		         "message of %llu bytes",
		         (unsigned long long)u.bytes, (unsigned long long)t->quota->bytes,
		         (unsigned long long)u.count, (unsigned long long)t->quota->count,
		         (unsigned long long)s->sz.size);
		set_fail(r, MAILDIR_QUOTA, 0, text);
		return 0;
	}
	return 1;
}

static void deliver_one(const struct maildir_target *t, const char *flags, const struct staged *s,
                        struct maildir_result *r)
{
	struct failure f = {0, NULL};
	const char *error;
	char *final = NULL;

	if (quota_ok(t, s, r) <= 0)
		return;

	char *dir = store_path_join(t->mailbox, flags[0] != '\0' ? "cur" : "new");
	if (place(t->mailbox, dir, s, flags, &final, &f) < 0) {
		set_fail(r, MAILDIR_TEMPFAIL, f.err, f.text);
		free(dir);
		return;
	}
	if (store_fsync_dir(dir, &error) < 0) {
		/* Not durable: take it back so that a retry cannot duplicate it. */
		set_fail(r, MAILDIR_TEMPFAIL, errno != 0 ? errno : EIO, error);
		unlink(final);
		free(final);
		free(dir);
		return;
	}
	free(dir);
	r->status = MAILDIR_OK;
	r->path = final;
	if (t->quota != NULL && quota_add(t->root, t->quota, (int64_t)s->sz.size, 1, &error) < 0) {
		/* The message is safe; the next recalculation counts it. */
		log_warn("event=quota_update_failed root=%s error=%s", log_esc(t->root),
		         log_esc(error));
	}
}

int maildir_deliver(const struct maildir_target *targets, unsigned n,
                    const struct maildir_source *src, struct maildir_result *results)
{
	char(*flags)[8] = xcalloc(n > 0 ? n : 1, sizeof(*flags));
	bool *ready = xcalloc(n > 0 ? n : 1, sizeof(*ready));
	const char *stage_box = NULL;
	const char *error;
	int ret = 0;

	memset(results, 0, sizeof(*results) * n);
	/* 1. directories */
	for (unsigned i = 0; i < n; i++) {
		const struct maildir_target *t = &targets[i];
		struct maildir_result *r = &results[i];

		if (maildir_flags_normalize(t->flags, flags[i]) < 0) {
			set_fail(r, MAILDIR_TEMPFAIL, EINVAL, "invalid Maildir flags");
			continue;
		}
		if (t->create_base != NULL && strcmp(t->root, t->mailbox) != 0 &&
		    maildir_create(t->root, t->create_base, &error) < 0) {
			set_fail(r, MAILDIR_TEMPFAIL, errno, error);
			continue;
		}
		if (t->create_base != NULL &&
		    maildir_create(t->mailbox, t->create_base, &error) < 0) {
			set_fail(r, MAILDIR_TEMPFAIL, errno, error);
			continue;
		}
		ready[i] = true;
		if (stage_box == NULL)
			stage_box = t->mailbox;
	}

	/* 2. the one write */
	struct staged s;
	struct failure f = {0, NULL};
	bool staged = false;
	if (stage_box != NULL) {
		if (stage(src, stage_box, &s, &f) == 0) {
			staged = true;
		} else {
			for (unsigned i = 0; i < n; i++) {
				if (ready[i])
					set_fail(&results[i], MAILDIR_TEMPFAIL, f.err, f.text);
				ready[i] = false;
			}
		}
	}

	/* 3. every target */
	for (unsigned i = 0; i < n; i++) {
		if (ready[i])
			deliver_one(&targets[i], flags[i], &s, &results[i]);
		if (staged) {
			results[i].size = s.sz.size;
			results[i].vsize = s.sz.vsize;
		}
		if (results[i].status != MAILDIR_OK)
			ret = -1;
	}

	/* 4. the staged name */
	if (staged) {
		if (s.ours)
			unlink(s.path);
		free(s.path);
	}
	free(flags);
	free(ready);
	return ret;
}

void maildir_results_free(struct maildir_result *results, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		free(results[i].path);
		free(results[i].error_text);
		results[i].path = results[i].error_text = NULL;
	}
}
