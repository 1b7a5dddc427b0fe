/*
 * bench-lookup - recipient lookups per second.
 *
 *   bench-lookup daemon SOCKET NADDR SECONDS CONCURRENCY [miss]
 *       through a running vmaild's lookup process: CONCURRENCY queries in
 *       flight on one connection (as a worker keeps them), for SECONDS.
 *       Addresses user0..user{NADDR-1}@bench.test in turn; with "miss"
 *       each query names a new +tag so the cache never answers.
 *   bench-lookup direct CONFIG NADDR SECONDS
 *       the same queries straight through the directory module in this
 *       process, one at a time: the database's own rate, the reference.
 *
 * Prints one line: "mode=... lookups=N seconds=S rate=R/s errors=E".
 */
#include "core/log.h"
#include "core/xalloc.h"
#include "directory/directory.h"
#include "directory/lookup.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct {
	struct event_base *base;
	struct lookup_client *lc;
	unsigned naddr;
	unsigned long sent, done, errors;
	double end;
	int miss;
} B;

static void issue(void);

static void on_reply(const struct lookup_reply *r, void *ctx)
{
	(void)ctx;
	B.done++;
	if (r->status != LOOKUP_OK || r->kind != DIR_RCPT_ACCOUNT)
		B.errors++;
	if (now() < B.end)
		issue();
	else if (B.done == B.sent)
		event_base_loopbreak(B.base);
}

static void issue(void)
{
	char addr[128];
	if (B.miss)
		snprintf(addr, sizeof(addr), "user%lu+t%lu@bench.test", B.sent % B.naddr, B.sent);
	else
		snprintf(addr, sizeof(addr), "user%lu@bench.test", B.sent % B.naddr);
	B.sent++;
	lookup_rcpt(B.lc, addr, on_reply, NULL);
}

int main(int argc, char **argv)
{
	log_open("bench", false, LOG_LVL_WARN);
	if (argc >= 6 && strcmp(argv[1], "daemon") == 0) {
		B.naddr = (unsigned)atoi(argv[3]);
		double secs = atof(argv[4]);
		unsigned conc = (unsigned)atoi(argv[5]);
		B.miss = argc > 6 && strcmp(argv[6], "miss") == 0;
		B.base = event_base_new();
		B.lc = lookup_client_create(B.base, argv[2], 10000);
		double t0 = now();
		B.end = t0 + secs;
		for (unsigned i = 0; i < conc; i++)
			issue();
		event_base_dispatch(B.base);
		double t = now() - t0;
		printf("mode=daemon%s lookups=%lu seconds=%.2f rate=%.0f/s errors=%lu\n",
		       B.miss ? "-uncached" : "-cached", B.done, t, (double)B.done / t, B.errors);
		lookup_client_destroy(&B.lc);
		event_base_free(B.base);
		return B.errors ? 1 : 0;
	}
	if (argc >= 5 && strcmp(argv[1], "direct") == 0) {
		struct config cfg;
		char *err = NULL;
		const char *derr = NULL;
		if (config_load(argv[2], &cfg, &err) < 0) {
			fprintf(stderr, "%s\n", err);
			return 2;
		}
		unsigned naddr = (unsigned)atoi(argv[3]);
		double secs = atof(argv[4]);
		struct dir *d = dir_open(&cfg.directory, DIR_READER, &derr);
		unsigned long n = 0, errors = 0;
		double t0 = now();
		while (now() - t0 < secs) {
			for (int k = 0; k < 100; k++, n++) {
				char addr[128];
				snprintf(addr, sizeof(addr), "user%lu@bench.test", n % naddr);
				struct dir_rcpt r;
				memset(&r, 0, sizeof(r));
				if (dir_resolve_rcpt(d, addr, "+", &r, &derr) < 0 ||
				    r.kind != DIR_RCPT_ACCOUNT)
					errors++;
				dir_rcpt_clear(&r);
			}
		}
		double t = now() - t0;
		printf("mode=direct lookups=%lu seconds=%.2f rate=%.0f/s errors=%lu\n", n, t,
		       (double)n / t, errors);
		dir_close(&d);
		config_free(&cfg);
		return errors ? 1 : 0;
	}
	fprintf(stderr, "usage: see the comment at the top of bench-lookup.c\n");
	return 2;
}
