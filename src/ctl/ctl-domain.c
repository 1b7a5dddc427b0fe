/*
 * ctl-domain.c - `vmailctl domain`: the domains table.
 *
 *   vmailctl domain add DOMAIN
 *   vmailctl domain del DOMAIN [--force]   refused while the domain has
 *                                          accounts or aliases, unless
 *                                          --force (deletes them too; the
 *                                          mail on disk stays)
 *   vmailctl domain list [--json]
 */
#include "ctl/ctl.h"
#include "directory/directory-admin.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static void usage(void)
{
	fprintf(stderr, "usage: vmailctl domain add DOMAIN\n"
	                "       vmailctl domain del DOMAIN [--force]\n"
	                "       vmailctl domain list [--json]\n");
}

static int list(struct ctl *c, struct dir *d)
{
	struct dir_domain_info *l;
	unsigned n;
	const char *err = NULL;
	int r = dir_domain_list(d, &l, &n, &err);
	if (r <= 0)
		return ctl_status(r, "domain list", &err);
	if (c->json) {
		json_t *a = json_array();
		for (unsigned i = 0; i < n; i++)
			json_array_append_new(a, json_pack("{s:s,s:I,s:I}", "domain", l[i].domain,
			                                   "accounts", (json_int_t)l[i].accounts,
			                                   "aliases", (json_int_t)l[i].aliases));
		ctl_json_out(a);
	} else {
		for (unsigned i = 0; i < n; i++)
			printf("%-40s %5u account%s %5u alias%s\n", l[i].domain, l[i].accounts,
			       l[i].accounts == 1 ? " " : "s", l[i].aliases,
			       l[i].aliases == 1 ? "" : "es");
	}
	dir_domain_list_free(l, n);
	return CTL_EXIT_OK;
}

int ctl_domain(struct ctl *c, int argc, char **argv)
{
	if (ctl_take_flag(&argc, argv, "--json"))
		c->json = true;
	bool force = ctl_take_flag(&argc, argv, "--force");
	if (argc < 1 || !ctl_no_options(argc, argv, "domain")) {
		usage();
		return CTL_EXIT_USAGE;
	}
	const char *sub = argv[0];
	bool is_add = strcmp(sub, "add") == 0, is_del = strcmp(sub, "del") == 0;
	bool is_list = strcmp(sub, "list") == 0;
	if (!((is_add || is_del) && argc == 2 && (is_del || !force)) &&
	    !(is_list && argc == 1 && !force)) {
		usage();
		return CTL_EXIT_USAGE;
	}
	struct dir *d = ctl_dir_open(c, DIR_ADMIN);
	if (d == NULL)
		return CTL_EXIT_TEMPFAIL;
	const char *err = NULL;
	int rc;
	if (is_list) {
		rc = list(c, d);
	} else if (is_add) {
		rc = ctl_status(dir_domain_add(d, argv[1], &err), "domain add", &err);
		if (rc == CTL_EXIT_OK)
			ctl_done(c, "domain", argv[1], "added");
	} else {
		rc = ctl_status(dir_domain_del(d, argv[1], force, &err), "domain del", &err);
		if (rc == CTL_EXIT_OK)
			ctl_done(c, "domain", argv[1], "deleted");
	}
	dir_close(&d);
	return rc;
}
