/*
 * fuzz-config.c - libFuzzer target for the configuration loader
 * (core/config.h, config_load_mem).
 *
 * Input: the bytes of a configuration file. Loading must not crash or
 * leak; a failure must come with a message that starts with the file
 * name. A success is printed with config_print, the print loaded again
 * and printed again: the second load must succeed and both prints be
 * identical (config_print promises the file's syntax and the effective
 * values). Inputs that set a password are loaded, not round-tripped:
 * secrets print as "********".
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

static char *print(const struct config *cfg, size_t *len_r)
{
	char *s = NULL;
	FILE *f = open_memstream(&s, len_r);
	check(f != NULL);
	config_print(cfg, f);
	fclose(f);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char *err = NULL;
	if (config_load_mem("fuzz.conf", (const char *)data, size, &cfg, &err) < 0) {
		check(err != NULL && strncmp(err, "fuzz.conf", 9) == 0);
		free(err);
		return 0;
	}
	check(err == NULL);
	check(strcmp(cfg.path, "fuzz.conf") == 0);
	size_t n1;
	char *p1 = print(&cfg, &n1);
	check(strlen(p1) == n1);
	bool secret = cfg.directory.password[0] != '\0' || cfg.directory.admin_password[0] != '\0';
	config_free(&cfg);
	if (!secret) {
		struct config again;
		if (config_load_mem("printed.conf", p1, n1, &again, &err) < 0) {
			fprintf(stderr, "the printed configuration does not load: %s\n", err);
			abort();
		}
		size_t n2;
		char *p2 = print(&again, &n2);
		if (n1 != n2 || memcmp(p1, p2, n1) != 0) {
			fprintf(stderr,
			        "the printed configuration loads differently:\n%s\n---\n%s\n", p1,
			        p2);
			abort();
		}
		free(p2);
		config_free(&again);
	}
	free(p1);
	return 0;
}
