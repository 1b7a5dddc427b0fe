/*
 * maildir-list.c - reading a Maildir (see maildir.h): the message files
 * of new/ and cur/ with their flags, and a message's sizes.
 */
#include "store/store.h"
#include "store/store-private.h"
#include "core/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct msg_array {
	struct maildir_msg *v;
	unsigned n, cap;
};

static int list_dir(const char *mailbox, const char *sub, unsigned max, struct msg_array *a,
                    const char **error_r)
{
	char *path = store_path_join(mailbox, sub);
	DIR *d = opendir(path);
	struct dirent *de;

	if (d == NULL) {
		int err = errno;
		if (err == ENOENT) {
			free(path);
			return 0;
		}
		*error_r = store_err_sys("opendir", path, err);
		free(path);
		return -1;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		struct maildir_name mn;
		size_t len = strlen(de->d_name);

		if (maildir_name_parse(de->d_name, len, &mn) < 0)
			continue;
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (max != 0 && a->n >= max) {
			*error_r = store_err("%s: more than %u messages", mailbox, max);
			closedir(d);
			free(path);
			return -1;
		}
		if (a->n == a->cap) {
			a->cap = a->cap != 0 ? a->cap * 2 : 64;
			a->v = xreallocarray(a->v, a->cap, sizeof(*a->v));
		}
		struct maildir_msg *m = &a->v[a->n++];
		memset(m, 0, sizeof(*m));
		m->name = xstrndup(de->d_name, len);
		m->in_cur = strcmp(sub, "cur") == 0;
		memcpy(m->flags, mn.flags, sizeof(m->flags));
		m->have_size = mn.have_size;
		m->size = mn.size;
		m->have_vsize = mn.have_vsize;
		m->vsize = mn.vsize;
		errno = 0;
	}
	int err = errno;
	closedir(d);
	if (err != 0) {
		*error_r = store_err_sys("readdir", path, err);
		free(path);
		return -1;
	}
	free(path);
	return 0;
}

static int msg_cmp(const void *a, const void *b)
{
	const struct maildir_msg *x = a, *y = b;
	return strcmp(x->name, y->name);
}

int maildir_list(const char *mailbox, unsigned max, struct maildir_msg **msgs_r, unsigned *count_r,
                 const char **error_r)
{
	struct msg_array a = {NULL, 0, 0};

	if (list_dir(mailbox, "new", max, &a, error_r) < 0 ||
	    list_dir(mailbox, "cur", max, &a, error_r) < 0) {
		maildir_list_free(a.v, a.n);
		return -1;
	}
	if (a.n > 1)
		qsort(a.v, a.n, sizeof(*a.v), msg_cmp);
	*msgs_r = a.v;
	*count_r = a.n;
	return 0;
}

void maildir_list_free(struct maildir_msg *msgs, unsigned count)
{
	for (unsigned i = 0; i < count; i++)
		free(msgs[i].name);
	free(msgs);
}

static void base_name(const char *path, const char **name_r, size_t *len_r)
{
	const char *slash = strrchr(path, '/');
	*name_r = slash != NULL ? slash + 1 : path;
	*len_r = strlen(*name_r);
}

int maildir_message_size(const char *path, uint64_t *size_r, const char **error_r)
{
	struct maildir_name mn;
	const char *name;
	size_t len;
	struct stat st;

	base_name(path, &name, &len);
	if (maildir_name_parse(name, len, &mn) == 0 && mn.have_size) {
		*size_r = mn.size;
		return 0;
	}
	if (stat(path, &st) < 0) {
		*error_r = store_err_sys("stat", path, errno);
		return -1;
	}
	*size_r = (uint64_t)st.st_size;
	return 0;
}

int maildir_message_vsize(const char *path, uint64_t *vsize_r, const char **error_r)
{
	struct maildir_name mn;
	const char *name;
	size_t len;

	base_name(path, &name, &len);
	if (maildir_name_parse(name, len, &mn) == 0 && mn.have_vsize) {
		*vsize_r = mn.vsize;
		return 0;
	}

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*error_r = store_err_sys("open", path, errno);
		return -1;
	}
	struct maildir_vsize v = {0, 0, false};
	char *buf = xmalloc(64 * 1024);
	ssize_t r;
	while ((r = store_read_full(fd, buf, 64 * 1024)) > 0)
		maildir_vsize_update(&v, buf, (size_t)r);
	int err = errno;
	free(buf);
	close(fd);
	if (r < 0) {
		*error_r = store_err_sys("read", path, err);
		return -1;
	}
	*vsize_r = v.vsize;
	return 0;
}
