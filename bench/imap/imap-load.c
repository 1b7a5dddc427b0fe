/*
 * imap-load - the IMAP load generator and idle-connection holder of bench/imap.
 *
 *   imap-load load PORT USER PASS CLIENTS SECONDS [MAXITER]
 *   imap-load warm PORT USER PASS
 *   imap-load idle PORT USER PASS N [THREADS]
 *
 * Plain TCP to 127.0.0.1:PORT, blocking sockets, LOGIN with a password.
 *
 * load: CLIENTS threads, each running sessions ("iterations") back to back
 * until SECONDS have passed (a session started before the deadline runs to
 * its end) or MAXITER sessions in all were started. One session is:
 *
 *   LOGIN user pass
 *   SELECT INBOX                                  EXISTS must be > 0
 *   UID FETCH 1:* (FLAGS)                         every message's UID and flags
 *   FETCH a:a+99 (ENVELOPE BODYSTRUCTURE)         a random window of 100
 *   UID SEARCH UNSEEN
 *   UID SEARCH FROM "<surname>" SINCE 1-Jul-2025  a surname of the generator's
 *   UID FETCH u BODY.PEEK[]        x 10           10 random messages, one by one
 *   UID STORE u +FLAGS (\Flagged)  x 2, then
 *   UID STORE u -FLAGS (\Flagged)  x 2            the same two (not \Flagged before):
 *                                                 the mailbox ends as it began
 *   LOGOUT
 *
 * 21 commands; each is one op. Every tagged reply must be OK and carry what
 * the command asked for (every sequence number's UID, 100 ENVELOPEs, a
 * SEARCH line, a non-empty BODY[] literal, BYE on LOGOUT); anything else,
 * a lost connection or a 30 s timeout is an error: the client stops and
 * the program exits 1. Literals ({n}) are read whole.
 *
 * warm: one session of the same shape with the ENVELOPE BODYSTRUCTURE fetch
 * over 1:* instead of a window, so a server builds its index and caches.
 *
 * idle: N connections (set up by THREADS threads, default 8), each LOGIN,
 * SELECT INBOX, IDLE (up to the "+" continuation). Then prints
 * "ready n=N seconds=S" and waits for a line (or EOF) on stdin; then sends
 * DONE on every connection, expects the tagged OK, and closes.
 *
 * Output, one "key=value ..." line per result; lat lines give per-command
 * latency percentiles (wall time from sending the command to its tagged
 * reply). Exit status 0, or 1 on any error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum kind { K_LOGIN, K_SELECT, K_FLAGS, K_ENVELOPE, K_SEARCH, K_BODY, K_STORE, K_LOGOUT, K_COUNT };
static const char *const kind_names[K_COUNT] = {"login",  "select", "fetch_flags", "fetch_envelope",
                                                "search", "body",   "store",       "logout"};

#define WINDOW 100
#define BODIES 10
#define STORES 2

/* surnames the Maildir generator (mkmaildir.py) gives its senders */
static const char *const surnames[] = {"Schmidt",  "Weber",  "Fischer", "Becker",
                                       "Hoffmann", "Wagner", "Koch",    "Richter"};

static struct {
	int port;
	const char *user, *pass;
	double deadline;
	long maxiter;
	atomic_long started;
	atomic_ulong errors;
	atomic_ulong ops, iterations;
	atomic_ullong bytes_in;
} B;

struct lat {
	double *v;
	size_t n, cap;
};

struct conn {
	int fd;
	char buf[16384];
	size_t start, end;
	unsigned long long bytes_in;
	unsigned tagno;
	char tag[16];
	/* the current logical response line, literals included */
	char *line;
	size_t len, cap;
	size_t literal_bytes; /* sum of the literals in the line */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (p == NULL) {
		fprintf(stderr, "imap-load: out of memory\n");
		exit(1);
	}
	return p;
}

static void report_error(int client, const char *what, const struct conn *c)
{
	unsigned long n = atomic_fetch_add(&B.errors, 1);
	if (n < 5)
		fprintf(stderr, "imap-load: client %d: %s%s%.*s\n", client, what,
		        c != NULL && c->len > 0 ? ": " : "",
		        c != NULL ? (int)(c->len > 300 ? 300 : c->len) : 0,
		        c != NULL ? c->line : "");
}

static int conn_write(struct conn *c, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(c->fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int conn_fill(struct conn *c)
{
	if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	ssize_t n;
	do
		n = read(c->fd, c->buf + c->end, sizeof(c->buf) - c->end);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	c->end += (size_t)n;
	c->bytes_in += (unsigned long long)n;
	return 0;
}

static void line_append(struct conn *c, const char *p, size_t n)
{
	if (c->len + n + 1 > c->cap) {
		c->cap = (c->len + n + 1) * 2;
		c->line = xrealloc(c->line, c->cap);
	}
	memcpy(c->line + c->len, p, n);
	c->len += n;
	c->line[c->len] = '\0';
}

/* literal_size: when the line so far ends in "{n}" or "{n+}", n; else -1. */
static long literal_size(const struct conn *c, size_t from)
{
	size_t e = c->len;
	if (e <= from || c->line[e - 1] != '}')
		return -1;
	e--;
	if (e > from && c->line[e - 1] == '+')
		e--;
	size_t d = e;
	while (d > from && c->line[d - 1] >= '0' && c->line[d - 1] <= '9')
		d--;
	if (d == e || d == from || c->line[d - 1] != '{')
		return -1;
	return strtol(c->line + d, NULL, 10);
}

/* read_line: one logical response line into c->line (CRLF stripped, the
 * literals' bytes included in place); 0, or -1 when the connection failed. */
static int read_line(struct conn *c)
{
	c->len = 0;
	c->literal_bytes = 0;
	line_append(c, "", 0);
	for (;;) {
		size_t from = c->len;
		char *nl;
		while ((nl = memchr(c->buf + c->start, '\n', c->end - c->start)) == NULL) {
			if (c->end - c->start == sizeof(c->buf)) {
				/* a very long line: keep what we have, read on */
				line_append(c, c->buf + c->start, c->end - c->start);
				c->start = c->end = 0;
			}
			if (conn_fill(c) < 0)
				return -1;
		}
		size_t n = (size_t)(nl - (c->buf + c->start));
		line_append(c, c->buf + c->start, n);
		c->start += n + 1;
		if (c->len > 0 && c->line[c->len - 1] == '\r')
			c->line[--c->len] = '\0';
		long lit = literal_size(c, from);
		if (lit < 0)
			return 0;
		size_t want = (size_t)lit;
		c->literal_bytes += want;
		while (want > 0) {
			if (c->start == c->end && conn_fill(c) < 0)
				return -1;
			size_t take = c->end - c->start < want ? c->end - c->start : want;
			line_append(c, c->buf + c->start, take);
			c->start += take;
			want -= take;
		}
	}
}

static int tcp_connect(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = {30, 0};
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)B.port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* what one command's untagged replies showed */
struct seen {
	long exists;
	unsigned long fetches, envelopes, searches, bodies, byes;
	uint32_t *uids; /* by sequence number, for UID FETCH 1:* (FLAGS); */
	bool *flagged;  /* and whether the message has \Flagged */
	size_t nuids;
};

static void note_untagged(const struct conn *c, struct seen *s)
{
	const char *l = c->line;
	if (strncmp(l, "* ", 2) != 0)
		return;
	l += 2;
	if (strncmp(l, "BYE", 3) == 0) {
		s->byes++;
		return;
	}
	if (strncmp(l, "SEARCH", 6) == 0) {
		s->searches++;
		return;
	}
	char *end;
	unsigned long num = strtoul(l, &end, 10);
	if (end == l)
		return;
	if (strcmp(end, " EXISTS") == 0) {
		s->exists = (long)num;
		return;
	}
	if (strncmp(end, " FETCH (", 8) != 0)
		return;
	s->fetches++;
	if (strstr(end, "ENVELOPE (") != NULL)
		s->envelopes++;
	if (c->literal_bytes > 0 && strstr(end, "BODY[] {") != NULL)
		s->bodies++;
	if (s->uids != NULL && num >= 1 && num <= s->nuids) {
		const char *u = strstr(end, "UID ");
		if (u != NULL)
			s->uids[num - 1] = (uint32_t)strtoul(u + 4, NULL, 10);
		s->flagged[num - 1] = strstr(end, "\\Flagged") != NULL;
	}
}

/* command: sends "TAG TEXT", reads to the tagged reply, notes the untagged
 * ones in S; 0 when the tagged reply is OK, -1 otherwise. */
static int command(struct conn *c, const char *text, struct seen *s)
{
	char out[512];
	snprintf(c->tag, sizeof(c->tag), "a%u", ++c->tagno);
	int n = snprintf(out, sizeof(out), "%s %s\r\n", c->tag, text);
	if (n < 0 || (size_t)n >= sizeof(out) || conn_write(c, out, (size_t)n) < 0)
		return -1;
	size_t tl = strlen(c->tag);
	for (;;) {
		if (read_line(c) < 0)
			return -1;
		if (strncmp(c->line, c->tag, tl) == 0 && c->line[tl] == ' ')
			return strncmp(c->line + tl + 1, "OK", 2) == 0 ? 0 : -1;
		if (c->line[0] == '*')
			note_untagged(c, s);
	}
}

static void lat_add(struct lat *l, double ms)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = ms;
}

struct client {
	int id;
	unsigned seed;
	bool warm;
	struct lat lat[K_COUNT];
	unsigned long ops, iterations;
	pthread_t thread;
};

/* timed: one command with its check; 0 / -1 (error reported) */
static int timed(struct client *cl, struct conn *c, enum kind k, const char *text, struct seen *s)
{
	*s = (struct seen){.uids = s->uids, .flagged = s->flagged, .nuids = s->nuids};
	double t0 = now();
	if (command(c, text, s) < 0) {
		char what[600];
		snprintf(what, sizeof(what), "%s failed", text);
		report_error(cl->id, what, c);
		return -1;
	}
	lat_add(&cl->lat[k], (now() - t0) * 1000.0);
	cl->ops++;
	return 0;
}

static int check(struct client *cl, struct conn *c, bool ok, const char *what)
{
	if (!ok)
		report_error(cl->id, what, c);
	return ok ? 0 : -1;
}

/* session: one iteration on a fresh connection; 0 / -1 (error reported) */
static int session(struct client *cl)
{
	struct conn c = {.fd = -1};
	struct seen s = {0};
	char cmd[400];
	int ret = -1;

	c.fd = tcp_connect();
	if (c.fd < 0) {
		report_error(cl->id, "connect failed", NULL);
		return -1;
	}
	if (read_line(&c) < 0 || strncmp(c.line, "* OK", 4) != 0) {
		report_error(cl->id, "no greeting", &c);
		goto out;
	}
	snprintf(cmd, sizeof(cmd), "LOGIN \"%s\" \"%s\"", B.user, B.pass);
	if (timed(cl, &c, K_LOGIN, cmd, &s) < 0)
		goto out;
	if (timed(cl, &c, K_SELECT, "SELECT INBOX", &s) < 0 ||
	    check(cl, &c, s.exists > 0, "SELECT: no messages") < 0)
		goto out;
	long exists = s.exists;
	s.nuids = (size_t)exists;
	s.uids = calloc(s.nuids, sizeof(*s.uids));
	s.flagged = calloc(s.nuids, sizeof(*s.flagged));
	if (s.uids == NULL || s.flagged == NULL)
		goto out;
	if (timed(cl, &c, K_FLAGS, "UID FETCH 1:* (FLAGS)", &s) < 0)
		goto out;
	for (size_t i = 0; i < s.nuids; i++)
		if (s.uids[i] == 0) {
			snprintf(cmd, sizeof(cmd), "UID FETCH 1:* (FLAGS): no UID for message %zu",
			         i + 1);
			check(cl, &c, false, cmd);
			goto out;
		}
	uint32_t *uids = s.uids;
	bool *flagged = s.flagged;
	size_t nuids = s.nuids;
	s.uids = NULL;
	s.flagged = NULL;
	s.nuids = 0;

	long first = 1, last = exists;
	if (!cl->warm && exists > WINDOW) {
		first = 1 + (long)(rand_r(&cl->seed) % (unsigned)(exists - WINDOW + 1));
		last = first + WINDOW - 1;
	}
	snprintf(cmd, sizeof(cmd), "FETCH %ld:%ld (ENVELOPE BODYSTRUCTURE)", first, last);
	if (timed(cl, &c, K_ENVELOPE, cmd, &s) < 0 ||
	    check(cl, &c, (long)s.envelopes >= last - first + 1, "too few ENVELOPEs") < 0)
		goto out_uids;

	if (timed(cl, &c, K_SEARCH, "UID SEARCH UNSEEN", &s) < 0 ||
	    check(cl, &c, s.searches == 1, "no SEARCH reply") < 0)
		goto out_uids;
	snprintf(cmd, sizeof(cmd), "UID SEARCH FROM \"%s\" SINCE 1-Jul-2025",
	         surnames[rand_r(&cl->seed) % (sizeof(surnames) / sizeof(surnames[0]))]);
	if (timed(cl, &c, K_SEARCH, cmd, &s) < 0 ||
	    check(cl, &c, s.searches == 1, "no SEARCH reply") < 0)
		goto out_uids;

	for (int i = 0; i < BODIES; i++) {
		snprintf(cmd, sizeof(cmd), "UID FETCH %u BODY.PEEK[]",
		         uids[rand_r(&cl->seed) % nuids]);
		if (timed(cl, &c, K_BODY, cmd, &s) < 0 ||
		    check(cl, &c, s.bodies == 1, "no BODY[] literal") < 0)
			goto out_uids;
	}
	uint32_t st[STORES];
	for (int i = 0; i < STORES; i++) {
		/* a message without \Flagged, so -FLAGS restores it */
		size_t k = rand_r(&cl->seed) % nuids;
		for (int tries = 0; tries < 50 && flagged[k]; tries++)
			k = rand_r(&cl->seed) % nuids;
		st[i] = uids[k];
		snprintf(cmd, sizeof(cmd), "UID STORE %u +FLAGS (\\Flagged)", st[i]);
		if (timed(cl, &c, K_STORE, cmd, &s) < 0)
			goto out_uids;
	}
	for (int i = 0; i < STORES; i++) {
		snprintf(cmd, sizeof(cmd), "UID STORE %u -FLAGS (\\Flagged)", st[i]);
		if (timed(cl, &c, K_STORE, cmd, &s) < 0)
			goto out_uids;
	}
	if (timed(cl, &c, K_LOGOUT, "LOGOUT", &s) < 0 ||
	    check(cl, &c, s.byes == 1, "no BYE on LOGOUT") < 0)
		goto out_uids;
	ret = 0;
out_uids:
	free(uids);
	free(flagged);
out:
	free(s.uids);
	free(s.flagged);
	free(c.line);
	B.bytes_in += c.bytes_in;
	close(c.fd);
	return ret;
}

static void *client_main(void *arg)
{
	struct client *cl = arg;
	while (now() < B.deadline && atomic_fetch_add(&B.started, 1) < B.maxiter) {
		if (session(cl) < 0)
			break;
		cl->iterations++;
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(const struct lat *l, double p)
{
	if (l->n == 0)
		return 0;
	size_t i = (size_t)(p * (double)(l->n - 1) + 0.5);
	return l->v[i];
}

static int run_load(int nclients, double seconds, long maxiter, bool warm)
{
	struct client *cl = calloc((size_t)nclients, sizeof(*cl));
	if (cl == NULL)
		return 1;
	B.maxiter = maxiter;
	double t0 = now();
	B.deadline = t0 + seconds;
	for (int i = 0; i < nclients; i++) {
		cl[i].id = i;
		cl[i].seed = 12345u + (unsigned)i * 7919u + (unsigned)time(NULL);
		cl[i].warm = warm;
		if (pthread_create(&cl[i].thread, NULL, client_main, &cl[i]) != 0) {
			fprintf(stderr, "imap-load: pthread_create failed\n");
			return 1;
		}
	}
	unsigned long ops = 0, iters = 0;
	for (int i = 0; i < nclients; i++) {
		pthread_join(cl[i].thread, NULL);
		ops += cl[i].ops;
		iters += cl[i].iterations;
	}
	double took = now() - t0;
	unsigned long errors = atomic_load(&B.errors);
	printf("clients=%d seconds=%.3f iterations=%lu ops=%lu errors=%lu ops_per_s=%.1f "
	       "iter_per_s=%.2f bytes_in=%llu\n",
	       nclients, took, iters, ops, errors, (double)ops / took, (double)iters / took,
	       (unsigned long long)atomic_load(&B.bytes_in));
	for (int k = 0; k < K_COUNT; k++) {
		struct lat all = {0};
		for (int i = 0; i < nclients; i++)
			for (size_t j = 0; j < cl[i].lat[k].n; j++)
				lat_add(&all, cl[i].lat[k].v[j]);
		if (all.n > 0)
			qsort(all.v, all.n, sizeof(*all.v), cmp_double);
		printf("lat kind=%s n=%zu p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
		       kind_names[k], all.n, pct(&all, 0.5), pct(&all, 0.9), pct(&all, 0.99),
		       all.n ? all.v[all.n - 1] : 0.0);
		free(all.v);
		for (int i = 0; i < nclients; i++)
			free(cl[i].lat[k].v);
	}
	free(cl);
	return errors > 0 || iters == 0 ? 1 : 0;
}

/* ---- idle ---------------------------------------------------------------- */

static struct {
	struct conn **conns;
	int n, nthreads;
} I;

static void *idle_open(void *arg)
{
	int t = (int)(intptr_t)arg;
	struct client cl = {.id = t};
	for (int i = t; i < I.n; i += I.nthreads) {
		struct conn *c = calloc(1, sizeof(*c));
		struct seen s = {0};
		char cmd[400];
		if (c == NULL)
			break;
		I.conns[i] = c;
		c->fd = tcp_connect();
		if (c->fd < 0) {
			report_error(i, "connect failed", NULL);
			break;
		}
		if (read_line(c) < 0 || strncmp(c->line, "* OK", 4) != 0) {
			report_error(i, "no greeting", c);
			break;
		}
		snprintf(cmd, sizeof(cmd), "LOGIN \"%s\" \"%s\"", B.user, B.pass);
		if (timed(&cl, c, K_LOGIN, cmd, &s) < 0 ||
		    timed(&cl, c, K_SELECT, "SELECT INBOX", &s) < 0)
			break;
		snprintf(c->tag, sizeof(c->tag), "i%u", ++c->tagno);
		snprintf(cmd, sizeof(cmd), "%s IDLE\r\n", c->tag);
		if (conn_write(c, cmd, strlen(cmd)) < 0) {
			report_error(i, "IDLE: write failed", NULL);
			break;
		}
		for (;;) {
			if (read_line(c) < 0) {
				report_error(i, "IDLE: connection lost", c);
				goto done;
			}
			if (c->line[0] == '+')
				break;
			if (c->line[0] != '*') {
				report_error(i, "IDLE refused", c);
				goto done;
			}
		}
		free(c->line);
		c->line = NULL;
		c->cap = c->len = 0;
	}
done:
	for (int k = 0; k < K_COUNT; k++)
		free(cl.lat[k].v);
	return NULL;
}

static void *idle_close(void *arg)
{
	int t = (int)(intptr_t)arg;
	for (int i = t; i < I.n; i += I.nthreads) {
		struct conn *c = I.conns[i];
		if (c == NULL || c->fd < 0)
			continue;
		if (conn_write(c, "DONE\r\n", 6) < 0) {
			report_error(i, "DONE: write failed", NULL);
		} else {
			size_t tl = strlen(c->tag);
			for (;;) {
				if (read_line(c) < 0) {
					report_error(i, "DONE: connection lost", c);
					break;
				}
				if (strncmp(c->line, c->tag, tl) == 0 && c->line[tl] == ' ') {
					if (strncmp(c->line + tl + 1, "OK", 2) != 0)
						report_error(i, "DONE: not OK", c);
					break;
				}
			}
		}
		close(c->fd);
		free(c->line);
		free(c);
		I.conns[i] = NULL;
	}
	return NULL;
}

static int run_threads(void *(*fn)(void *))
{
	pthread_t *th = calloc((size_t)I.nthreads, sizeof(*th));
	if (th == NULL)
		return -1;
	for (int t = 0; t < I.nthreads; t++)
		if (pthread_create(&th[t], NULL, fn, (void *)(intptr_t)t) != 0) {
			fprintf(stderr, "imap-load: pthread_create failed\n");
			exit(1);
		}
	for (int t = 0; t < I.nthreads; t++)
		pthread_join(th[t], NULL);
	free(th);
	return 0;
}

static int run_idle(int n, int nthreads)
{
	I.n = n;
	I.nthreads = nthreads;
	I.conns = calloc((size_t)n, sizeof(*I.conns));
	if (I.conns == NULL)
		return 1;
	double t0 = now();
	run_threads(idle_open);
	unsigned long errors = atomic_load(&B.errors);
	printf("ready n=%d seconds=%.3f errors=%lu\n", n, now() - t0, errors);
	fflush(stdout);
	char line[64];
	if (fgets(line, sizeof(line), stdin) == NULL) {
		/* EOF: release too */
	}
	t0 = now();
	run_threads(idle_close);
	errors = atomic_load(&B.errors);
	printf("released n=%d seconds=%.3f errors=%lu\n", n, now() - t0, errors);
	free(I.conns);
	return errors > 0 ? 1 : 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: imap-load load PORT USER PASS CLIENTS SECONDS [MAXITER]\n"
	                "       imap-load warm PORT USER PASS\n"
	                "       imap-load idle PORT USER PASS N [THREADS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 5)
		return usage();
	B.port = atoi(argv[2]);
	B.user = argv[3];
	B.pass = argv[4];
	if (B.port <= 0 || B.port > 65535 || strlen(B.user) > 100 || strlen(B.pass) > 100)
		return usage();
	if (strcmp(argv[1], "load") == 0 && (argc == 7 || argc == 8)) {
		int clients = atoi(argv[5]);
		double seconds = atof(argv[6]);
		long maxiter = argc == 8 ? atol(argv[7]) : 1000000000L;
		if (clients <= 0 || clients > 1000 || seconds <= 0 || maxiter <= 0)
			return usage();
		return run_load(clients, seconds, maxiter, false);
	}
	if (strcmp(argv[1], "warm") == 0 && argc == 5)
		return run_load(1, 3600, 1, true);
	if (strcmp(argv[1], "idle") == 0 && (argc == 6 || argc == 7)) {
		int n = atoi(argv[5]);
		int threads = argc == 7 ? atoi(argv[6]) : 8;
		if (n <= 0 || threads <= 0 || threads > 256)
			return usage();
		return run_idle(n, threads < n ? threads : n);
	}
	return usage();
}
