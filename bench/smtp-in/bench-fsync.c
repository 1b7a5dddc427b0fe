/*
 * bench-fsync - the disk's ceiling for durable Maildir deliveries.
 *
 *   bench-fsync DIR NMSGS SIZE CONCURRENCY
 *
 * Does what one local delivery must do before its 250, and nothing else:
 * create a file in DIR/tmp/, write SIZE bytes, fsync it, close it,
 * rename it into DIR/new/, fsync DIR/new/. CONCURRENCY threads share
 * NMSGS such deliveries, as CONCURRENCY SMTP sessions would. No
 * protocol, no parsing, no lookups: no mail server that keeps the
 * durability rule can deliver faster on this disk.
 *
 * DIR is created if missing and left with NMSGS files in new/ (the
 * caller removes it). Prints one line:
 *   "mode=fsync msgs=N size=S concurrency=C seconds=T rate=R/s errors=E"
 * and exits 0, or 1 when any delivery failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct {
	const char *dir;
	unsigned long nmsgs;
	size_t size;
	char *data;
	atomic_ulong next;
	atomic_ulong errors;
} B;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *what, const char *path)
{
	fprintf(stderr, "bench-fsync: %s %s: %s\n", what, path, strerror(errno));
	atomic_fetch_add(&B.errors, 1);
}

/* deliver_one: one message, durably; 0 / -1. */
static int deliver_one(unsigned long i)
{
	char tmp[4096], dst[4096], newdir[4096];
	snprintf(tmp, sizeof(tmp), "%s/tmp/%lu.M%lu.bench", B.dir, (unsigned long)time(NULL), i);
	snprintf(dst, sizeof(dst), "%s/new/%lu.M%lu.bench", B.dir, (unsigned long)time(NULL), i);
	snprintf(newdir, sizeof(newdir), "%s/new", B.dir);

	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fail("open", tmp);
		return -1;
	}
	size_t off = 0;
	while (off < B.size) {
		ssize_t n = write(fd, B.data + off, B.size - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail("write", tmp);
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0) {
		fail("fsync", tmp);
		close(fd);
		return -1;
	}
	if (close(fd) < 0) {
		fail("close", tmp);
		return -1;
	}
	if (rename(tmp, dst) < 0) {
		fail("rename", tmp);
		return -1;
	}
	int dfd = open(newdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		fail("open", newdir);
		return -1;
	}
	if (fsync(dfd) < 0) {
		fail("fsync", newdir);
		close(dfd);
		return -1;
	}
	close(dfd);
	return 0;
}

static void *run(void *arg)
{
	(void)arg;
	for (;;) {
		unsigned long i = atomic_fetch_add(&B.next, 1);
		if (i >= B.nmsgs)
			break;
		deliver_one(i);
	}
	return NULL;
}

static int mkdir_p(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "bench-fsync: mkdir %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: bench-fsync DIR NMSGS SIZE CONCURRENCY\n");
		return 2;
	}
	B.dir = argv[1];
	B.nmsgs = strtoul(argv[2], NULL, 10);
	B.size = strtoul(argv[3], NULL, 10);
	unsigned conc = (unsigned)strtoul(argv[4], NULL, 10);
	if (B.nmsgs == 0 || conc == 0 || conc > 1024) {
		fprintf(stderr, "bench-fsync: bad NMSGS or CONCURRENCY\n");
		return 2;
	}
	char sub[4096];
	if (mkdir_p(B.dir) < 0)
		return 1;
	snprintf(sub, sizeof(sub), "%s/tmp", B.dir);
	if (mkdir_p(sub) < 0)
		return 1;
	snprintf(sub, sizeof(sub), "%s/new", B.dir);
	if (mkdir_p(sub) < 0)
		return 1;

	/* message-like bytes: 76-character lines of text */
	B.data = malloc(B.size + 1);
	if (B.data == NULL)
		return 1;
	for (size_t k = 0; k < B.size; k++)
		B.data[k] = (k % 78 == 77) ? '\n' : (char)('a' + k % 26);

	pthread_t *th = calloc(conc, sizeof(*th));
	if (th == NULL)
		return 1;
	double t0 = now();
	for (unsigned k = 0; k < conc; k++) {
		if (pthread_create(&th[k], NULL, run, NULL) != 0) {
			fprintf(stderr, "bench-fsync: pthread_create failed\n");
			return 1;
		}
	}
	for (unsigned k = 0; k < conc; k++)
		pthread_join(th[k], NULL);
	double t = now() - t0;
	unsigned long errors = atomic_load(&B.errors);
	printf("mode=fsync msgs=%lu size=%zu concurrency=%u seconds=%.2f rate=%.0f/s errors=%lu\n",
	       B.nmsgs - errors, B.size, conc, t, (double)(B.nmsgs - errors) / t, errors);
	free(th);
	free(B.data);
	return errors ? 1 : 0;
}
