/*
 * ctl - vmailctl, the admin tool.
 *
 * Owns: the command line of vmailctl. ctl-main.c parses the global
 * options (-c FILE, --json), loads the configuration and dispatches to one
 * function per command group, each in its own file (ctl-domain.c,
 * ctl-account.c, ...). A command function returns the process exit
 * status: 0 success, 1 the request was refused (bad input, duplicate,
 * unknown domain...), 2 usage error, 3 temporary failure (database
 * unreachable). Messages for people go to stderr as "vmailctl: ...".
 */
#ifndef VMAILD_CTL_H
#define VMAILD_CTL_H

#include <stdbool.h>

#include "core/config.h"

struct ctl {
	struct config cfg;
	const char *config_path;
	bool json;
};

int ctl_dns(struct ctl *c, int argc, char **argv);

#endif
