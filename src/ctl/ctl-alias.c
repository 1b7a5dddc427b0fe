/*
 * ctl-alias.c - `vmailctl alias`: the aliases table.
 *
 *   vmailctl alias add SOURCE DEST        SOURCE local@domain in one of our
 *                                         domains, or @domain for the
 *                                         catch-all; DEST any address (a
 *                                         remote one forwards). Several
 *                                         DESTs for one SOURCE make a list.
 *   vmailctl alias del SOURCE DEST
 *   vmailctl alias enable|disable SOURCE DEST
 *   vmailctl alias list [DOMAIN] [--json]
 */
#include "ctl/ctl.h"
#include "core/xalloc.h"
#include "directory/directory-admin.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
	fprintf(stderr, "usage: vmailctl alias add SOURCE DEST\n"
	                "       vmailctl alias del SOURCE DEST\n"
	                "       vmailctl alias enable|disable SOURCE DEST\n"
	                "       vmailctl alias list [DOMAIN] [--json]\n"
	                "  SOURCE @domain is the catch-all of the domain\n");
}

static int list(struct ctl *c, struct dir *d, const char *domain)
{
	struct dir_alias *l;
	unsigned n;
	const char *err = NULL;
	int r = dir_alias_list(d, domain, &l, &n, &err);
	if (r <= 0)
		return ctl_status(r, "alias list", &err);
	json_t *a = c->json ? json_array() : NULL;
	for (unsigned i = 0; i < n; i++) {
		char *src = xasprintf("%s@%s", l[i].source_username ? l[i].source_username : "",
		                      l[i].source_domain);
		char *dst = xasprintf("%s@%s", l[i].destination_username, l[i].destination_domain);
		if (a != NULL)
			json_array_append_new(a, json_pack("{s:s,s:s,s:b,s:b}", "source", src,
			                                   "destination", dst, "catchall",
			                                   l[i].source_username == NULL, "enabled",
			                                   l[i].enabled));
		else
			printf("%-50s -> %s%s\n", src, dst, l[i].enabled ? "" : " (disabled)");
		free(src);
		free(dst);
	}
	if (a != NULL)
		ctl_json_out(a);
	dir_alias_list_free(l, n);
	return CTL_EXIT_OK;
}

int ctl_alias(struct ctl *c, int argc, char **argv)
{
	if (ctl_take_flag(&argc, argv, "--json"))
		c->json = true;
	if (argc < 1 || !ctl_no_options(argc, argv, "alias")) {
		usage();
		return CTL_EXIT_USAGE;
	}
	const char *sub = argv[0];
	bool is_list = strcmp(sub, "list") == 0;
	bool is_add = strcmp(sub, "add") == 0, is_del = strcmp(sub, "del") == 0;
	bool is_en = strcmp(sub, "enable") == 0, is_dis = strcmp(sub, "disable") == 0;
	if (!(is_list && argc <= 2) && !((is_add || is_del || is_en || is_dis) && argc == 3)) {
		usage();
		return CTL_EXIT_USAGE;
	}
	struct dir *d = ctl_dir_open(c, DIR_ADMIN);
	if (d == NULL)
		return CTL_EXIT_TEMPFAIL;
	const char *err = NULL;
	int rc;
	if (is_list) {
		rc = list(c, d, argc == 2 ? argv[1] : NULL);
	} else {
		int r;
		const char *verb;
		if (is_add) {
			r = dir_alias_add(d, argv[1], argv[2], &err);
			verb = "added";
		} else if (is_del) {
			r = dir_alias_del(d, argv[1], argv[2], &err);
			verb = "deleted";
		} else {
			r = dir_alias_set_enabled(d, argv[1], argv[2], is_en, &err);
			verb = is_en ? "enabled" : "disabled";
		}
		char *cmd = xasprintf("alias %s", sub);
		rc = ctl_status(r, cmd, &err);
		free(cmd);
		if (rc == CTL_EXIT_OK) {
			char *name = xasprintf("%s -> %s", argv[1], argv[2]);
			ctl_done(c, "alias", name, verb);
			free(name);
		}
	}
	dir_close(&d);
	return rc;
}
