/*
 * dotlock.c - Dovecot-compatible dot-lock files (see dotlock.h): O_EXCL
 * creation, the "<pid>:<host>" contents, the two rules for breaking a
 * stale lock, touch, release and replace-by-rename.
 */
#include "store/dotlock.h"
#include "store/store-private.h"
#include "core/log.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A lock younger than this may not have its pid written yet. */
#define PID_CHECK_SECS 2
#define WAIT_MIN_MS    100
#define WAIT_MAX_MS    1000

struct dotlock {
	char *path;
	char *lock_path;
	int fd;
	dev_t dev;
	ino_t ino;
	struct dotlock *next; /* in held_list */
};

/* Every lock this process holds, so that a lock file carrying our own
 * pid can be told apart from a leftover of an earlier process. */
static pthread_mutex_t held_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct dotlock *held_list;

static pthread_once_t host_once = PTHREAD_ONCE_INIT;
static char host_raw[256];

static void host_init(void)
{
	if (gethostname(host_raw, sizeof(host_raw) - 1) < 0 || host_raw[0] == '\0')
		snprintf(host_raw, sizeof(host_raw), "localhost");
	host_raw[sizeof(host_raw) - 1] = '\0';
}

/* The host name as Dovecot writes it into a lock: gethostname(), raw. */
static const char *lock_hostname(void)
{
	pthread_once(&host_once, host_init);
	return host_raw;
}

static void held_add(struct dotlock *lock)
{
	pthread_mutex_lock(&held_mutex);
	lock->next = held_list;
	held_list = lock;
	pthread_mutex_unlock(&held_mutex);
}

static void held_remove(struct dotlock *lock)
{
	pthread_mutex_lock(&held_mutex);
	for (struct dotlock **p = &held_list; *p != NULL; p = &(*p)->next) {
		if (*p == lock) {
			*p = lock->next;
			break;
		}
	}
	pthread_mutex_unlock(&held_mutex);
}

static bool held_has(dev_t dev, ino_t ino)
{
	bool found = false;

	pthread_mutex_lock(&held_mutex);
	for (struct dotlock *l = held_list; l != NULL; l = l->next) {
		if (l->dev == dev && l->ino == ino) {
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&held_mutex);
	return found;
}

/* ---- waiting ---- */

static unsigned jitter(unsigned max)
{
	static __thread unsigned seed;

	if (seed == 0)
		seed = (unsigned)getpid() ^ (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&seed;
	return max == 0 ? 0 : (unsigned)rand_r(&seed) % max;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- staleness ---- */

/* What was last seen of a file, to tell whether it changes. */
struct change_info {
	bool seen;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

struct wait_state {
	struct change_info lock, file;
	time_t last_change;
	bool pid_read, have_pid;
	time_t last_pid_check;
};

static bool ts_eq(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Remember st in c; true (and last_change moved on) when it differs. The
 * first look takes the file's own change time instead of now. */
static bool change_update(struct change_info *c, const struct stat *st, time_t now,
                          time_t *last_change)
{
	if (c->seen && c->dev == st->st_dev && c->ino == st->st_ino && c->size == st->st_size &&
	    ts_eq(&c->mtime, &st->st_mtim) && ts_eq(&c->ctime, &st->st_ctim))
		return false;

	time_t t = now;
	if (!c->seen) {
		t = st->st_mtime <= now && st->st_mtime > st->st_ctime ? st->st_mtime
		                                                       : st->st_ctime;
	}
	if (*last_change < t)
		*last_change = t;
	c->seen = true;
	c->dev = st->st_dev;
	c->ino = st->st_ino;
	c->size = st->st_size;
	c->mtime = st->st_mtim;
	c->ctime = st->st_ctim;
	return true;
}

/* The pid of a "<pid>:<host>" lock of this host; 0 when it holds none. */
static pid_t read_local_pid(const char *lock_path)
{
	char buf[512];
	int fd = open(lock_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return 0;
	ssize_t n = store_read_full(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	if (buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';

	char *colon = strchr(buf, ':');
	if (colon == NULL || colon == buf || strcmp(colon + 1, lock_hostname()) != 0)
		return 0;
	long pid = 0;
	for (const char *p = buf; p < colon; p++) {
		if (*p < '0' || *p > '9' || pid > (long)INT_MAX / 10)
			return 0;
		pid = pid * 10 + (*p - '0');
	}
	return pid > 0 && pid <= INT_MAX ? (pid_t)pid : 0;
}

static bool pid_alive(pid_t pid, const struct stat *lock_st)
{
	if (pid == getpid())
		return held_has(lock_st->st_dev, lock_st->st_ino);
	return kill(pid, 0) == 0 || errno != ESRCH;
}

/* lstat of the lock: 1 done, 0 it is gone, -1 error. */
static int lock_stat(const char *lock_path, struct stat *st, const char **error_r)
{
	if (lstat(lock_path, st) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	*error_r = store_err_sys("lstat", lock_path, errno);
	return -1;
}

/* Unlink the lock when it is still the file we judged (same inode). */
static int dotlock_override(const char *lock_path, const struct change_info *c, const char *why,
                            const char **error_r)
{
	struct stat st;
	int r = lock_stat(lock_path, &st, error_r);

	if (r <= 0)
		return r < 0 ? -1 : 1;
	if (st.st_dev != c->dev || st.st_ino != c->ino)
		return 1; /* replaced meanwhile: look again */
	if (unlink(lock_path) < 0 && errno != ENOENT) {
		*error_r = store_err_sys("unlink", lock_path, errno);
		return -1;
	}
	log_warn("event=dotlock_broken lock=%s reason=%s", log_esc(lock_path), why);
	/* Let a second waiter that judged the same lock stale finish before
	 * we create ours, so it cannot remove our fresh lock. */
	sleep_ms(50 + jitter(50));
	return 1;
}

/*
 * check_lock: 1 when the lock is gone (or was broken): try to create it
 * again; 0 when it is held: wait; -1 on error.
 */
static int check_lock(const char *path, const char *lock_path, const struct dotlock_settings *set,
                      struct wait_state *w, time_t now, const char **error_r)
{
	struct stat st;
	int r = lock_stat(lock_path, &st, error_r);

	if (r <= 0)
		return r < 0 ? -1 : 1;
	bool changed = change_update(&w->lock, &st, now, &w->last_change);
	pid_t pid = 0;

	if (changed || !w->pid_read) {
		if (st.st_mtime >= now - PID_CHECK_SECS) {
			w->pid_read = false;
		} else {
			pid = read_local_pid(lock_path);
			w->pid_read = true;
			w->last_pid_check = now;
		}
		w->have_pid = pid != 0;
	} else if (w->have_pid) {
		if (w->last_pid_check == now)
			return 0;
		pid = read_local_pid(lock_path);
		w->last_pid_check = now;
		w->have_pid = pid != 0;
	}

	if (w->have_pid) {
		if (pid_alive(pid, &st))
			return 0;
		/* Dead: break it unless it changed under us just now. */
		r = lock_stat(lock_path, &st, error_r);
		if (r <= 0)
			return r < 0 ? -1 : 1;
		if (change_update(&w->lock, &st, now, &w->last_change))
			return 0;
		return dotlock_override(lock_path, &w->lock, "dead_pid", error_r);
	}

	if (set->stale_secs == 0)
		return 0;
	if (now > w->last_change + (time_t)set->stale_secs) {
		/* Maybe stale: a holder that writes the protected file is alive. */
		if (stat(path, &st) == 0)
			(void)change_update(&w->file, &st, now, &w->last_change);
		else if (errno != ENOENT) {
			*error_r = store_err_sys("stat", path, errno);
			return -1;
		}
	}
	if (now > w->last_change + (time_t)set->stale_secs)
		return dotlock_override(lock_path, &w->lock, "stale", error_r);
	return 0;
}

/* ---- creation ---- */

static int write_pid(int fd)
{
	char buf[320];
	int n = snprintf(buf, sizeof(buf), "%ld:%s", (long)getpid(), lock_hostname());

	if (n < 0 || (size_t)n >= sizeof(buf))
		n = snprintf(buf, sizeof(buf), "%ld:", (long)getpid());
	return store_write_full(fd, buf, (size_t)n);
}

/* 1 created (*fd_r), 0 exists, -1 error */
static int try_create(const char *lock_path, bool with_pid, int *fd_r, const char **error_r)
{
	int fd = open(lock_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		if (errno == EEXIST)
			return 0;
		*error_r = store_err_sys("open", lock_path, errno);
		return -1;
	}
	if (with_pid && write_pid(fd) < 0) {
		int err = errno;
		close(fd);
		(void)unlink(lock_path);
		*error_r = store_err_sys("write", lock_path, err);
		return -1;
	}
	*fd_r = fd;
	return 1;
}

int dotlock_create(const char *path, const struct dotlock_settings *set, struct dotlock **lock_r,
                   const char **error_r)
{
	char *lock_path = xasprintf("%s.lock", path);
	struct wait_state w;
	time_t now = time(NULL);
	time_t deadline = now + (time_t)set->timeout_secs;
	unsigned wait_ms = WAIT_MIN_MS + jitter(WAIT_MIN_MS);
	time_t prev_change = 0, prev_grow = now;
	int fd = -1;

	memset(&w, 0, sizeof(w));
	*lock_r = NULL;
	for (;;) {
		int r = try_create(lock_path, set->write_pid, &fd, error_r);
		if (r < 0) {
			free(lock_path);
			return -1;
		}
		if (r > 0)
			break;

		now = time(NULL);
		r = check_lock(path, lock_path, set, &w, now, error_r);
		if (r < 0) {
			free(lock_path);
			return -1;
		}
		if (r > 0)
			continue;
		if (now >= deadline) {
			*error_r = store_err("%s: held by another process (waited %u s)", lock_path,
			                     set->timeout_secs);
			free(lock_path);
			return 0;
		}
		if (w.last_change != prev_change) {
			wait_ms = WAIT_MIN_MS + jitter(WAIT_MIN_MS);
			prev_change = w.last_change;
			prev_grow = now;
		} else if (prev_grow != now && wait_ms < WAIT_MAX_MS) {
			prev_grow = now;
			wait_ms += wait_ms / 2;
			if (wait_ms > WAIT_MAX_MS)
				wait_ms = WAIT_MAX_MS;
		}
		time_t left_ms = (deadline - now) * 1000; /* >= 1000 */
		sleep_ms((time_t)wait_ms < left_ms ? wait_ms : (unsigned)left_ms);
	}

	struct stat st;
	if (fstat(fd, &st) < 0) {
		*error_r = store_err_sys("fstat", lock_path, errno);
		close(fd);
		(void)unlink(lock_path);
		free(lock_path);
		return -1;
	}
	struct dotlock *lock = xcalloc(1, sizeof(*lock));
	lock->path = xstrdup(path);
	lock->lock_path = lock_path;
	lock->fd = fd;
	lock->dev = st.st_dev;
	lock->ino = st.st_ino;
	held_add(lock);
	*lock_r = lock;
	return 1;
}

const char *dotlock_path(const struct dotlock *lock)
{
	return lock->path;
}

const char *dotlock_lock_path(const struct dotlock *lock)
{
	return lock->lock_path;
}

int dotlock_fd(const struct dotlock *lock)
{
	return lock->fd;
}

/* 1 ours, 0 removed or replaced by someone, -1 error */
static int lock_check(const struct dotlock *lock, const char **error_r)
{
	struct stat st;

	if (lstat(lock->lock_path, &st) < 0) {
		if (errno == ENOENT) {
			*error_r =
			    store_err("%s: our lock was removed by someone else", lock->lock_path);
			return 0;
		}
		*error_r = store_err_sys("lstat", lock->lock_path, errno);
		return -1;
	}
	if (st.st_dev != lock->dev || st.st_ino != lock->ino) {
		*error_r =
		    store_err("%s: our lock was broken and taken by someone else", lock->lock_path);
		return 0;
	}
	return 1;
}

bool dotlock_is_ours(const struct dotlock *lock)
{
	const char *error;

	return lock_check(lock, &error) > 0;
}

int dotlock_touch(struct dotlock *lock, const char **error_r)
{
	if (lock_check(lock, error_r) <= 0)
		return -1;
	if (futimens(lock->fd, NULL) < 0) {
		*error_r = store_err_sys("futimens", lock->lock_path, errno);
		return -1;
	}
	return 0;
}

static void dotlock_free(struct dotlock *lock)
{
	held_remove(lock);
	if (lock->fd >= 0)
		close(lock->fd);
	free(lock->path);
	free(lock->lock_path);
	free(lock);
}

int dotlock_release(struct dotlock **_lock, const char **error_r)
{
	struct dotlock *lock = *_lock;
	int ret = 0;

	*_lock = NULL;
	if (lock == NULL)
		return 0;
	if (lock_check(lock, error_r) <= 0) {
		ret = -1;
	} else if (unlink(lock->lock_path) < 0 && errno != ENOENT) {
		*error_r = store_err_sys("unlink", lock->lock_path, errno);
		ret = -1;
	}
	dotlock_free(lock);
	return ret;
}

/* The steps of dotlock_replace() up to the rename: 1 done, 0 the lock
 * is no longer ours, -1 error. */
static int replace_steps(struct dotlock *lock, const char **error_r)
{
	int r;

	if (fsync(lock->fd) < 0) {
		*error_r = store_err_sys("fsync", lock->lock_path, errno);
		return -1;
	}
	if ((r = lock_check(lock, error_r)) <= 0)
		return r;
	if (rename(lock->lock_path, lock->path) < 0) {
		*error_r = store_err_sys("rename", lock->lock_path, errno);
		return -1;
	}
	return 1;
}

int dotlock_replace(struct dotlock **_lock, const char **error_r)
{
	struct dotlock *lock = *_lock;
	int r;

	*_lock = NULL;
	r = replace_steps(lock, error_r);
	if (r < 0) {
		const char *ignored;
		if (lock_check(lock, &ignored) > 0)
			(void)unlink(lock->lock_path);
	}
	if (r <= 0) {
		dotlock_free(lock);
		return -1;
	}

	char *dir = xstrdup(lock->path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	else
		strcpy(dir, ".");
	r = store_fsync_dir(dir, error_r);
	free(dir);
	dotlock_free(lock);
	return r;
}
