/*
 * ctl-util.c - what vmailctl's directory commands share: argument
 * helpers, opening the directory, mapping results to exit statuses, JSON
 * output and passwords.
 */
#include "ctl/ctl.h"
#include "core/xalloc.h"
#include "directory/password.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

bool ctl_take_flag(int *argc, char **argv, const char *flag)
{
	bool found = false;
	int o = 0;
	for (int i = 0; i < *argc; i++) {
		if (strcmp(argv[i], flag) == 0)
			found = true;
		else
			argv[o++] = argv[i];
	}
	*argc = o;
	argv[o] = NULL;
	return found;
}

int ctl_take_option(int *argc, char **argv, const char *name, const char **value_r)
{
	size_t nl = strlen(name);
	int ret = 0, o = 0;
	for (int i = 0; i < *argc; i++) {
		if (strcmp(argv[i], name) == 0) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "vmailctl: %s needs a value\n", name);
				ret = -1;
				continue;
			}
			*value_r = argv[++i];
			ret = ret < 0 ? ret : 1;
		} else if (strncmp(argv[i], name, nl) == 0 && argv[i][nl] == '=') {
			*value_r = argv[i] + nl + 1;
			ret = ret < 0 ? ret : 1;
		} else {
			argv[o++] = argv[i];
		}
	}
	*argc = o;
	argv[o] = NULL;
	return ret;
}

bool ctl_no_options(int argc, char **argv, const char *cmd)
{
	for (int i = 0; i < argc; i++) {
		/* "@domain" and addresses never start with '-'; "-" alone is no option */
		if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "vmailctl: %s: unknown option '%s'\n", cmd, argv[i]);
			return false;
		}
	}
	return true;
}

struct dir *ctl_dir_open(struct ctl *c, enum dir_role role)
{
	const char *err = NULL;
	struct dir *d = dir_open(&c->cfg.directory, role, &err);
	if (d == NULL)
		fprintf(stderr, "vmailctl: %s\n", err);
	return d;
}

int ctl_status(int r, const char *cmd, const char *const *error)
{
	if (r > 0)
		return CTL_EXIT_OK;
	fprintf(stderr, "vmailctl: %s: %s%s\n", cmd, r < 0 ? "temporary failure: " : "",
	        *error != NULL ? *error : "failed");
	return r < 0 ? CTL_EXIT_TEMPFAIL : CTL_EXIT_REFUSED;
}

void ctl_json_out(struct json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (s != NULL)
		printf("%s\n", s);
	free(s);
	json_decref(v);
}

char *ctl_read_password(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);
	if (n < 0) {
		free(line);
		fprintf(stderr, "vmailctl: no password on stdin\n");
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n == 0 || (size_t)n > PASSWORD_MAX_LEN || strlen(line) != (size_t)n) {
		fprintf(stderr, "vmailctl: %s password on stdin\n",
		        n == 0                         ? "empty"
		        : (size_t)n > PASSWORD_MAX_LEN ? "too long a"
		                                       : "NUL in the");
		explicit_bzero(line, cap);
		free(line);
		return NULL;
	}
	return line;
}

char *ctl_random_password(unsigned n)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	char *pw = xmalloc(n + 1);
	unsigned i = 0;
	while (i < n) {
		unsigned char rnd[64];
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			continue;
		for (size_t k = 0; k < sizeof(rnd) && i < n; k++) {
			/* 248 = 4 * 62: no modulo bias */
			if (rnd[k] < 248)
				pw[i++] = alphabet[rnd[k] % 62];
		}
		explicit_bzero(rnd, sizeof(rnd));
	}
	pw[n] = '\0';
	return pw;
}

int ctl_parse_uint(const char *s, unsigned *v_r)
{
	if (s[0] < '0' || s[0] > '9' || strlen(s) > 10)
		return -1;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end != '\0' || v > 0xffffffffULL)
		return -1;
	*v_r = (unsigned)v;
	return 0;
}

char *ctl_lower(const char *s)
{
	char *r = xstrdup(s);
	for (char *p = r; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return r;
}

void ctl_done(const struct ctl *c, const char *what, const char *name, const char *verb)
{
	if (c->json)
		return;
	char *l = ctl_lower(name);
	printf("%s %s %s\n", what, l, verb);
	free(l);
}
