/*
 * vmaild.c - the daemon's command line.
 *
 *   vmaild [-c FILE]        run in the foreground (default FILE:
 *                           /etc/vmaild/vmaild.conf)
 *   vmaild -c FILE -t       check FILE and print the effective configuration
 *   vmaild --dev DIR        create or reuse a development instance in DIR
 *                           and run it
 */
#include "daemon/daemon.h"
#include "core/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef VMAILD_VERSION
#define VMAILD_VERSION "0.1.0"
#endif

static void usage(FILE *out)
{
	fprintf(out, "usage: vmaild [-c FILE] [-t]\n"
		     "       vmaild --dev DIR\n"
		     "  -c FILE   configuration file (default %s)\n"
		     "  -t        check the configuration, print it and exit\n"
		     "  --dev DIR development instance on loopback ports in DIR\n"
		     "  --config-reference   print every configuration key (Markdown)\n",
		VMAILD_DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
	const char *config = VMAILD_DEFAULT_CONFIG;
	const char *dev = NULL;
	bool check = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			config = argv[++i];
		} else if (strcmp(argv[i], "-t") == 0) {
			check = true;
		} else if (strcmp(argv[i], "--dev") == 0 && i + 1 < argc) {
			dev = argv[++i];
		} else if (strcmp(argv[i], "--config-reference") == 0) {
			config_print_reference(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("vmaild %s\n", VMAILD_VERSION);
			return 0;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (dev != NULL) {
		char *path = dev_setup(dev);
		if (path == NULL)
			return 1;
		int rc = master_run(path, check);
		free(path);
		return rc;
	}
	return master_run(config, check);
}
