/*
 * store-util.c - small helpers of the store module (see store-private.h):
 * thread-local error texts, full reads and writes, directory fsync and
 * the link(2) hook of the unit tests.
 */
#include "store/store-private.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ERR_SLOTS 4
#define ERR_LEN   1024

static __thread char err_buf[ERR_SLOTS][ERR_LEN];
static __thread unsigned err_next;

/* Set by tests before any thread starts; read-only afterwards. */
static store_link_func *link_fn;

void store_set_link_func(store_link_func *fn)
{
	link_fn = fn;
}

int store_link(const char *oldpath, const char *newpath)
{
	if (link_fn != NULL)
		return link_fn(oldpath, newpath);
	return link(oldpath, newpath);
}

const char *store_err(const char *fmt, ...)
{
	char *b = err_buf[err_next++ % ERR_SLOTS];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b, ERR_LEN, fmt, ap);
	va_end(ap);
	return b;
}

const char *store_err_sys(const char *what, const char *path, int err)
{
	char eb[128];
	const char *msg = strerror_r(err, eb, sizeof(eb));

	return store_err("%s(%s): %s", what, path, msg);
}

int store_fsync_dir(const char *path, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		*error_r = store_err_sys("open", path, errno);
		return -1;
	}
	if (fsync(fd) < 0 && errno != EINVAL) {
		int err = errno;
		close(fd);
		errno = err;
		*error_r = store_err_sys("fsync", path, err);
		return -1;
	}
	close(fd);
	return 0;
}

int store_write_full(int fd, const void *data, size_t n)
{
	const char *p = data;

	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = ENOSPC;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t store_read_full(int fd, void *data, size_t n)
{
	char *p = data;
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

char *store_path_join(const char *a, const char *b)
{
	return xasprintf("%s/%s", a, b);
}

bool store_is_maildir_subdir(const char *name)
{
	return strcmp(name, "cur") == 0 || strcmp(name, "new") == 0 || strcmp(name, "tmp") == 0;
}
