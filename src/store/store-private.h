/*
 * store-private - helpers shared by the files of src/store/ and the hooks
 * its unit tests use. Not for other modules.
 */
#ifndef VMAILD_STORE_PRIVATE_H
#define VMAILD_STORE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Test hook: the link(2) used to put a message into new/ or cur/. Tests
 * replace it (before starting threads) to simulate EXDEV and friends;
 * NULL restores link(2).
 */
typedef int store_link_func(const char *oldpath, const char *newpath);
void store_set_link_func(store_link_func *fn);
int store_link(const char *oldpath, const char *newpath);

/* store_err: format an error into thread-local storage (see store.h). */
const char *store_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* store_err_sys: "<what>(<path>): <strerror(err)>". */
const char *store_err_sys(const char *what, const char *path, int err);

/* store_fsync_dir: open path as a directory and fsync it. */
int store_fsync_dir(const char *path, const char **error_r);

/* store_write_full / store_read_full: retry on EINTR and short counts.
 * read returns the bytes read (less than n only at EOF) or -1. */
int store_write_full(int fd, const void *data, size_t n);
ssize_t store_read_full(int fd, void *data, size_t n);

/* store_path_join: "a/b", malloc'd. */
char *store_path_join(const char *a, const char *b);

/* store_is_maildir_subdir: "cur", "new" or "tmp". */
bool store_is_maildir_subdir(const char *name);

#endif
