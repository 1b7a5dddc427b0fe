/*
 * ctl-pw.c - `vmailctl pw`: make and test password scheme strings, as
 * `doveadm pw` does.
 *
 *   vmailctl pw [-s SCHEME] [-r ROUNDS] [-V] [-p PASSWORD]
 *	prints a new "{SCHEME}..." string (default SHA512-CRYPT) for the
 *	accounts.password column; -V verifies it once more and appends
 *	" (verified)".
 *   vmailctl pw -t HASH [-p PASSWORD]
 *	tests HASH (a stored string, with or without {SCHEME}) against the
 *	password: prints "HASH (verified)" and exits 0, or exits 1.
 *   vmailctl pw -l
 *	lists the schemes.
 *
 * Without -p the password comes from stdin: on a terminal it is asked
 * for without echo (twice when creating), from a pipe the first line is
 * read. Exit status as for every command (ctl.h): 0 done, 1 refused
 * (mismatch, malformed hash, unknown scheme), 2 usage.
 */
#include "ctl/ctl.h"
#include "core/xalloc.h"
#include "directory/password.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* The terminal state to put back if a signal ends us while echo is off. */
static struct termios pw_saved_tio;
static volatile sig_atomic_t pw_echo_off;

static void pw_usage(void)
{
	fprintf(stderr, "usage: vmailctl pw [-s SCHEME] [-r ROUNDS] [-V] [-p PASSWORD]\n"
	                "       vmailctl pw -t HASH [-p PASSWORD]\n"
	                "       vmailctl pw -l\n");
}

static void pw_restore_tty(int sig)
{
	if (pw_echo_off)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &pw_saved_tio);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* pw_read_line: one line from fd into buf (size > PASSWORD_MAX_LEN + 1)
 * without its "\n" or "\r\n". Returns the length, -1 on EOF before
 * anything was read or on a read error, -2 when the line is too long. */
static ssize_t pw_read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;
	bool any = false;
	for (;;) {
		char ch;
		ssize_t r = read(fd, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		any = true;
		if (ch == '\n')
			break;
		if (n + 1 >= size)
			return -2;
		buf[n++] = ch;
	}
	if (!any)
		return -1;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return (ssize_t)n;
}

/* pw_prompt: ask on the terminal with echo off. */
static ssize_t pw_prompt(const char *prompt, char *buf, size_t size)
{
	struct termios tio;
	if (tcgetattr(STDIN_FILENO, &tio) < 0)
		return -1;
	pw_saved_tio = tio;
	tio.c_lflag &= ~(tcflag_t)ECHO;
	struct sigaction sa, old_int, old_term, old_hup, old_quit;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = pw_restore_tty;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	sigaction(SIGQUIT, &sa, &old_quit);
	/* Echo off before the prompt shows: TCSAFLUSH drops typeahead, so
	 * nothing typed after the prompt may arrive before it. */
	pw_echo_off = 1;
	ssize_t n = -1;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio) == 0) {
		fputs(prompt, stderr);
		fflush(stderr);
		n = pw_read_line(STDIN_FILENO, buf, size);
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &pw_saved_tio);
	}
	pw_echo_off = 0;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	fputs("\n", stderr);
	return n;
}

/* pw_get: the password into buf, from -p, the terminal or stdin. 0 / -1
 * (message printed). */
static int pw_get(const char *arg, bool confirm, char *buf, size_t size)
{
	ssize_t n;
	if (arg != NULL) {
		if (strlen(arg) > PASSWORD_MAX_LEN) {
			fprintf(stderr, "vmailctl: pw: password longer than %d bytes\n",
			        PASSWORD_MAX_LEN);
			return -1;
		}
		memcpy(buf, arg, strlen(arg) + 1);
		return 0;
	}
	if (isatty(STDIN_FILENO)) {
		n = pw_prompt(confirm ? "Enter new password: " : "Enter password to verify: ", buf,
		              size);
		if (n >= 0 && confirm) {
			char *again = xcalloc(1, size);
			ssize_t m = pw_prompt("Retype new password: ", again, size);
			bool same = m == n && strcmp(again, buf) == 0;
			explicit_bzero(again, size);
			free(again);
			if (m >= 0 && !same) {
				fprintf(stderr, "vmailctl: pw: passwords don't match\n");
				return -1;
			}
			n = m < 0 ? m : n;
		}
	} else {
		n = pw_read_line(STDIN_FILENO, buf, size);
	}
	if (n == -2) {
		fprintf(stderr, "vmailctl: pw: password longer than %d bytes\n", PASSWORD_MAX_LEN);
		return -1;
	}
	if (n < 0) {
		fprintf(stderr, "vmailctl: pw: no password given\n");
		return -1;
	}
	return 0;
}

static void pw_print_json(json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);
	if (s != NULL) {
		puts(s);
		free(s);
	}
	json_decref(obj);
}

static int pw_list(struct ctl *c)
{
	json_t *arr = c->json ? json_array() : NULL;
	for (unsigned i = 0; password_scheme_name(i) != NULL; i++) {
		const char *name = password_scheme_name(i);
		bool create = password_scheme_creatable(name);
		if (arr != NULL)
			json_array_append_new(
			    arr, json_pack("{s:s,s:b}", "scheme", name, "create", create));
		else
			printf("%s%s\n", name, create ? "" : " (verify only)");
	}
	if (arr != NULL)
		pw_print_json(arr);
	return 0;
}

static int pw_test(struct ctl *c, const char *hash, const char *plain)
{
	const char *error = NULL;
	int rc = password_verify(plain, hash, &error);
	if (rc < 0) {
		fprintf(stderr, "vmailctl: pw: %s\n", error);
		return 1;
	}
	if (c->json)
		pw_print_json(json_pack("{s:b}", "verified", rc == 1));
	else if (rc == 1)
		printf("%s (verified)\n", hash);
	if (rc == 0) {
		fprintf(stderr, "vmailctl: pw: password mismatch\n");
		return 1;
	}
	return 0;
}

static int pw_create(struct ctl *c, const char *scheme, unsigned rounds, bool verify,
                     const char *plain)
{
	const char *error = NULL;
	if (plain[0] == '\0') {
		fprintf(stderr, "vmailctl: pw: empty password\n");
		return 1;
	}
	char *hash = password_hash_rounds(plain, scheme, rounds, &error);
	if (hash == NULL) {
		fprintf(stderr, "vmailctl: pw: %s: %s\n", scheme, error);
		return 1;
	}
	int ret = 0;
	if (verify && password_verify(plain, hash, &error) != 1) {
		fprintf(stderr, "vmailctl: pw: the new hash does not verify\n");
		ret = 1;
	} else if (c->json) {
		json_t *obj = json_pack("{s:s}", "password", hash);
		if (verify)
			json_object_set_new(obj, "verified", json_true());
		pw_print_json(obj);
	} else {
		printf("%s%s\n", hash, verify ? " (verified)" : "");
	}
	free(hash);
	return ret;
}

int ctl_pw(struct ctl *c, int argc, char **argv)
{
	const char *scheme = PASSWORD_DEFAULT_SCHEME, *plain_arg = NULL, *test = NULL;
	unsigned rounds = 0;
	bool verify = false, list = false;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		bool has_val = i + 1 < argc;
		if (strcmp(a, "-s") == 0 && has_val) {
			scheme = argv[++i];
		} else if (strcmp(a, "-p") == 0 && has_val) {
			plain_arg = argv[++i];
		} else if (strcmp(a, "-t") == 0 && has_val) {
			test = argv[++i];
		} else if (strcmp(a, "-r") == 0 && has_val) {
			const char *v = argv[++i];
			char *end;
			errno = 0;
			unsigned long r = strtoul(v, &end, 10);
			if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 ||
			    r > 1000000000) {
				fprintf(stderr, "vmailctl: pw: bad rounds '%s'\n", v);
				return 2;
			}
			rounds = (unsigned)r;
		} else if (strcmp(a, "-V") == 0) {
			verify = true;
		} else if (strcmp(a, "-l") == 0) {
			list = true;
		} else {
			pw_usage();
			return 2;
		}
	}
	if (list)
		return pw_list(c);
	if (test == NULL && !password_scheme_creatable(scheme)) {
		fprintf(stderr, "vmailctl: pw: %s: %s\n", scheme,
		        password_scheme_known(scheme) ? "can only be verified, not created"
		                                      : "unknown password scheme");
		return 1;
	}

	size_t size = PASSWORD_MAX_LEN + 2;
	char *plain = xcalloc(1, size);
	int ret;
	if (pw_get(plain_arg, test == NULL, plain, size) < 0)
		ret = 1;
	else if (test != NULL)
		ret = pw_test(c, test, plain);
	else
		ret = pw_create(c, scheme, rounds, verify, plain);
	explicit_bzero(plain, size);
	free(plain);
	return ret;
}
