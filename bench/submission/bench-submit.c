/*
 * bench-submit - a parallel SMTP submission client, one message per
 * connection, with or without implicit TLS and AUTH PLAIN.
 *
 *   bench-submit TRANSPORT STEPS PORT NMSGS SIZE CONCURRENCY FROM RCPT [LOGIN PASSWORD]
 *
 *   TRANSPORT  tls     TLS from the first byte (port 465), full handshake on
 *                      every connection (no session resumption), the server's
 *                      certificate not checked;
 *              plain   TCP only.
 *   STEPS      auth+msg  EHLO, AUTH PLAIN, MAIL, RCPT, DATA, the message, QUIT;
 *              auth      EHLO, AUTH PLAIN, QUIT: the session set-up alone;
 *              msg       EHLO, MAIL, RCPT, DATA, the message, QUIT.
 *
 * CONCURRENCY threads share NMSGS sessions on 127.0.0.1:PORT. A message is
 * a MUA's: From, To, Subject, Date and Message-ID, then SIZE bytes of body
 * in lines of 78 characters (CRLF), written in one piece after DATA's 354.
 * A reply that is not the expected 2xx/3xx, a lost connection or a timeout
 * (30 s) counts as an error; the first few are printed on stderr.
 *
 * Prints one line:
 *   "transport=T steps=S msgs=N size=S concurrency=C seconds=T rate=R/s errors=E
 *    connect_ms=.. tls_ms=.. greeting_ms=.. ehlo_ms=.. auth_ms=.. txn_ms=.. quit_ms=.."
 * (the *_ms figures are the mean wall time of each step per session, waiting
 * included) and exits 0, or 1 when any session failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum step { ST_CONNECT, ST_TLS, ST_GREETING, ST_EHLO, ST_AUTH, ST_TXN, ST_QUIT, ST_COUNT };
static const char *const step_names[ST_COUNT] = {"connect", "tls", "greeting", "ehlo",
                                                 "auth",    "txn", "quit"};

static struct {
	bool tls, auth, msg;
	int port;
	unsigned long nmsgs;
	size_t size;
	const char *from, *rcpt;
	char auth_line[1024];
	char *body; /* SIZE bytes of body lines, then ".\r\n" */
	size_t body_len;
	SSL_CTX *ctx;
	atomic_ulong next;
	atomic_ulong errors;
	pthread_mutex_t lock; /* step_sum */
	double step_sum[ST_COUNT];
} B;

struct conn {
	int fd;
	SSL *ssl;
	char buf[8192];
	size_t start, end;
	char reply[512]; /* last reply line, for error messages */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report_error(unsigned long i, const char *what, const struct conn *c)
{
	unsigned long n = atomic_fetch_add(&B.errors, 1);
	if (n < 5)
		fprintf(stderr, "bench-submit: session %lu: %s%s%s\n", i, what,
		        c != NULL && c->reply[0] != '\0' ? ": " : "", c != NULL ? c->reply : "");
}

static int conn_write(struct conn *c, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n;
		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, data, (int)len);
			n = r > 0 ? r : -1;
		} else {
			n = write(c->fd, data, len);
			if (n < 0 && errno == EINTR)
				continue;
		}
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
	if (c->end == sizeof(c->buf))
		return -1;
	ssize_t n;
	if (c->ssl != NULL) {
		int r = SSL_read(c->ssl, c->buf + c->end, (int)(sizeof(c->buf) - c->end));
		n = r > 0 ? r : -1;
	} else {
		do
			n = read(c->fd, c->buf + c->end, sizeof(c->buf) - c->end);
		while (n < 0 && errno == EINTR);
	}
	if (n <= 0)
		return -1;
	c->end += (size_t)n;
	return 0;
}

/* read_reply: reads one (multi-line) reply; returns its code, or -1 when the
 * connection failed. The last line is kept in c->reply. */
static int read_reply(struct conn *c)
{
	for (;;) {
		char *nl;
		while ((nl = memchr(c->buf + c->start, '\n', c->end - c->start)) == NULL) {
			if (conn_fill(c) < 0) {
				snprintf(c->reply, sizeof(c->reply), "(connection lost)");
				return -1;
			}
		}
		char *line = c->buf + c->start;
		size_t len = (size_t)(nl - line);
		c->start += len + 1;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		snprintf(c->reply, sizeof(c->reply), "%.*s", (int)len, line);
		if (len < 3 || line[0] < '1' || line[0] > '5')
			return -1;
		if (len == 3 || line[3] == ' ')
			return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
		if (line[3] != '-')
			return -1;
	}
}

/* command: sends LINE (CRLF added) and reads the reply; 0 when its first
 * digit is WANT, -1 otherwise. */
static int command(struct conn *c, const char *line, int want)
{
	char out[1100];
	int n = snprintf(out, sizeof(out), "%s\r\n", line);
	if (n < 0 || (size_t)n >= sizeof(out) || conn_write(c, out, (size_t)n) < 0)
		return -1;
	int code = read_reply(c);
	return code / 100 == want ? 0 : -1;
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

/* session: session number I, one connection; 0 / -1 (error reported). */
static int session(unsigned long i, double took[ST_COUNT])
{
	struct conn c = {.fd = -1};
	int ret = -1;
	double t = now(), t2;
#define STEP(s) (t2 = now(), took[s] += t2 - t, t = t2)

	c.fd = tcp_connect();
	if (c.fd < 0) {
		report_error(i, strerror(errno), NULL);
		return -1;
	}
	STEP(ST_CONNECT);
	if (B.tls) {
		c.ssl = SSL_new(B.ctx);
		if (c.ssl == NULL || SSL_set_fd(c.ssl, c.fd) != 1 || SSL_connect(c.ssl) != 1) {
			char e[256];
			ERR_error_string_n(ERR_get_error(), e, sizeof(e));
			report_error(i, "TLS handshake failed", NULL);
			fprintf(stderr, "bench-submit:   %s\n", e);
			goto out;
		}
		STEP(ST_TLS);
	}
	if (read_reply(&c) / 100 != 2) {
		report_error(i, "greeting", &c);
		goto out;
	}
	STEP(ST_GREETING);
	if (command(&c, "EHLO client.bench.test", 2) < 0) {
		report_error(i, "EHLO", &c);
		goto out;
	}
	STEP(ST_EHLO);
	if (B.auth) {
		if (command(&c, B.auth_line, 2) < 0) {
			report_error(i, "AUTH PLAIN", &c);
			goto out;
		}
		STEP(ST_AUTH);
	}
	if (B.msg) {
		char line[1100], head[1024];
		snprintf(line, sizeof(line), "MAIL FROM:<%s>", B.from);
		if (command(&c, line, 2) < 0) {
			report_error(i, "MAIL", &c);
			goto out;
		}
		snprintf(line, sizeof(line), "RCPT TO:<%s>", B.rcpt);
		if (command(&c, line, 2) < 0) {
			report_error(i, "RCPT", &c);
			goto out;
		}
		if (command(&c, "DATA", 3) < 0) {
			report_error(i, "DATA", &c);
			goto out;
		}
		int hl =
		    snprintf(head, sizeof(head),
		             "From: Bench <%s>\r\nTo: <%s>\r\nSubject: bench message %lu\r\n"
		             "Date: Sat, 22 Nov 2025 03:00:00 +0000\r\n"
		             "Message-ID: <%lu.%d.bench@client.bench.test>\r\n"
		             "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n"
		             "\r\n",
		             B.from, B.rcpt, i, i, (int)getpid());
		if (conn_write(&c, head, (size_t)hl) < 0 ||
		    conn_write(&c, B.body, B.body_len) < 0 || read_reply(&c) / 100 != 2) {
			report_error(i, "end of data", &c);
			goto out;
		}
		STEP(ST_TXN);
	}
	if (command(&c, "QUIT", 2) < 0) {
		report_error(i, "QUIT", &c);
		goto out;
	}
	STEP(ST_QUIT);
	ret = 0;
out:
	if (c.ssl != NULL) {
		if (ret == 0)
			SSL_shutdown(c.ssl); /* our close_notify; the server closes */
		SSL_free(c.ssl);
	}
	close(c.fd);
	return ret;
#undef STEP
}

static void *worker(void *arg)
{
	(void)arg;
	double took[ST_COUNT] = {0};
	for (;;) {
		unsigned long i = atomic_fetch_add(&B.next, 1);
		if (i >= B.nmsgs)
			break;
		(void)session(i, took);
	}
	pthread_mutex_lock(&B.lock);
	for (int s = 0; s < ST_COUNT; s++)
		B.step_sum[s] += took[s];
	pthread_mutex_unlock(&B.lock);
	return NULL;
}

/* make_body: SIZE bytes of 78-character lines (and a shorter last one),
 * then the end-of-data line. */
static void make_body(void)
{
	B.body = malloc(B.size + 100);
	if (B.body == NULL)
		abort();
	size_t n = 0;
	unsigned k = 0;
	while (n < B.size) {
		size_t left = B.size - n;
		size_t len = left >= 80 ? 78 : (left > 2 ? left - 2 : 0);
		for (size_t j = 0; j < len; j++) /* letters only: nothing to dot-stuff */
			B.body[n + j] = (char)('a' + (k + j) % 26);
		n += len;
		B.body[n++] = '\r';
		B.body[n++] = '\n';
		k++;
	}
	memcpy(B.body + n, ".\r\n", 3);
	B.body_len = n + 3;
}

int main(int argc, char **argv)
{
	if ((argc != 9 && argc != 11) || (strcmp(argv[1], "tls") && strcmp(argv[1], "plain")) ||
	    (strcmp(argv[2], "auth+msg") && strcmp(argv[2], "auth") && strcmp(argv[2], "msg"))) {
		fprintf(stderr, "usage: bench-submit tls|plain auth+msg|auth|msg PORT NMSGS SIZE "
		                "CONCURRENCY FROM RCPT [LOGIN PASSWORD]\n");
		return 2;
	}
	B.tls = strcmp(argv[1], "tls") == 0;
	B.auth = strncmp(argv[2], "auth", 4) == 0;
	B.msg = strcmp(argv[2], "auth") != 0;
	B.port = atoi(argv[3]);
	B.nmsgs = strtoul(argv[4], NULL, 10);
	B.size = strtoul(argv[5], NULL, 10);
	int conc = atoi(argv[6]);
	B.from = argv[7];
	B.rcpt = argv[8];
	if (conc < 1 || conc > 1000 || B.port <= 0 || (B.auth && argc != 11)) {
		fprintf(stderr, "bench-submit: bad arguments (AUTH needs LOGIN and PASSWORD)\n");
		return 2;
	}
	if (B.auth) {
		unsigned char raw[600];
		int rl = snprintf((char *)raw, sizeof(raw), "%c%s%c%s", 0, argv[9], 0, argv[10]);
		if (rl < 0 || (size_t)rl >= sizeof(raw)) {
			fprintf(stderr, "bench-submit: login or password too long\n");
			return 2;
		}
		memcpy(B.auth_line, "AUTH PLAIN ", 11);
		EVP_EncodeBlock((unsigned char *)B.auth_line + 11, raw, rl);
	}
	make_body();
	if (B.tls) {
		B.ctx = SSL_CTX_new(TLS_client_method());
		if (B.ctx == NULL)
			abort();
		SSL_CTX_set_verify(B.ctx, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_session_cache_mode(B.ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_options(B.ctx, SSL_OP_NO_TICKET);
	}
	pthread_mutex_init(&B.lock, NULL);

	pthread_t *th = calloc((size_t)conc, sizeof(*th));
	if (th == NULL)
		abort();
	double t0 = now();
	for (int i = 0; i < conc; i++)
		if (pthread_create(&th[i], NULL, worker, NULL) != 0) {
			fprintf(stderr, "bench-submit: pthread_create failed\n");
			return 1;
		}
	for (int i = 0; i < conc; i++)
		pthread_join(th[i], NULL);
	double secs = now() - t0;

	unsigned long errors = atomic_load(&B.errors);
	printf("transport=%s steps=%s msgs=%lu size=%zu concurrency=%d seconds=%.3f rate=%.1f/s "
	       "errors=%lu",
	       argv[1], argv[2], B.nmsgs, B.size, conc, secs, (double)B.nmsgs / secs, errors);
	for (int s = 0; s < ST_COUNT; s++)
		printf(" %s_ms=%.3f", step_names[s], 1000.0 * B.step_sum[s] / (double)B.nmsgs);
	printf("\n");
	free(th);
	free(B.body);
	if (B.ctx != NULL)
		SSL_CTX_free(B.ctx);
	return errors == 0 ? 0 : 1;
}
