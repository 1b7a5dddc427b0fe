/*
 * ctl-main.c - vmailctl's entry point: global options and dispatch.
 */
#include "ctl/ctl.h"
#include "core/log.h"
#include "core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct command {
	const char *name;
	int (*run)(struct ctl *c, int argc, char **argv);
	const char *usage;
};

static const struct command commands[] = {
    {"init", ctl_init,
     "init [--print-sql [--driver mysql|sqlite]]\n"
     "                           create the directory's tables (or print the DDL)"},
    {"domain", ctl_domain, "domain add DOMAIN | del DOMAIN [--force] | list"},
    {"account", ctl_account,
     "account add ADDRESS [--password-stdin] [--quota MB] [--sendonly] [--disabled]\n"
     "  account passwd ADDRESS [--password-stdin] | quota ADDRESS MB\n"
     "  account enable|disable|del ADDRESS | sendonly ADDRESS yes|no | list [DOMAIN]"},
    {"alias", ctl_alias,
     "alias add|del|enable|disable SOURCE DEST | list [DOMAIN]   (SOURCE @domain: catch-all)"},
    {"tlspolicy", ctl_tlspolicy, "tlspolicy set DOMAIN POLICY [PARAMS] | del DOMAIN | list"},
    {"lookup", ctl_lookup, "lookup ADDRESS|- [--login LOGIN]   how an address resolves"},
    {"pw", ctl_pw, "pw [-s SCHEME] [-t HASH] [-l]   password scheme strings (doveadm pw)"},
    {"queue", ctl_queue,
     "queue list | show ID | flush | delete ID | hold ID | release ID   the outbound queue"},
    {"dns", ctl_dns,
     "dns TYPE NAME            ask the configured resolver (A AAAA MX TXT PTR TLSA)"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: vmailctl [-c FILE] [--json] COMMAND ...\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %s\n", commands[i].usage);
}

int main(int argc, char **argv)
{
	struct ctl c;
	memset(&c, 0, sizeof(c));
	c.config_path = getenv("VMAILD_CONFIG") ? getenv("VMAILD_CONFIG") : VMAILD_DEFAULT_CONFIG;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			c.config_path = argv[++i];
		} else if (strcmp(argv[i], "--json") == 0) {
			c.json = true;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	log_open("ctl", false, LOG_LVL_WARN);
	char *err = NULL;
	if (config_load(c.config_path, &c.cfg, &err) < 0) {
		fprintf(stderr, "vmailctl: %s\n", err);
		free(err);
		return 1;
	}
	int rc = 2;
	bool found = false;
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
		if (strcmp(commands[k].name, argv[i]) == 0) {
			found = true;
			rc = commands[k].run(&c, argc - i - 1, argv + i + 1);
			break;
		}
	}
	if (!found) {
		fprintf(stderr, "vmailctl: unknown command '%s'\n", argv[i]);
		usage(stderr);
	}
	config_free(&c.cfg);
	return rc;
}
