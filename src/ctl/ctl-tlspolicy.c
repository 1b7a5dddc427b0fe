/*
 * ctl-tlspolicy.c - `vmailctl tlspolicy`: the tlspolicies table, the TLS
 * rules for mail to other domains (the guide's tls-policy.cf).
 *
 *   vmailctl tlspolicy set DOMAIN POLICY [PARAMS]
 *       POLICY: none may encrypt dane dane-only fingerprint verify secure;
 *       PARAMS as Postfix has them, e.g. "match=.gmx.net" for secure.
 *       Replaces an existing policy of DOMAIN.
 *   vmailctl tlspolicy del DOMAIN
 *   vmailctl tlspolicy list [--json]
 */
#include "ctl/ctl.h"
#include "directory/directory-admin.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static void usage(void)
{
	fprintf(stderr, "usage: vmailctl tlspolicy set DOMAIN POLICY [PARAMS]\n"
	                "       vmailctl tlspolicy del DOMAIN\n"
	                "       vmailctl tlspolicy list [--json]\n"
	                "  POLICY: none may encrypt dane dane-only fingerprint verify secure\n");
}

static int list(struct ctl *c, struct dir *d)
{
	struct dir_tlspolicy *l;
	unsigned n;
	const char *err = NULL;
	int r = dir_tlspolicy_list(d, &l, &n, &err);
	if (r <= 0)
		return ctl_status(r, "tlspolicy list", &err);
	if (c->json) {
		json_t *a = json_array();
		for (unsigned i = 0; i < n; i++)
			json_array_append_new(a, json_pack("{s:s,s:s,s:s?}", "domain", l[i].domain,
			                                   "policy", l[i].policy, "params",
			                                   l[i].params));
		ctl_json_out(a);
	} else {
		for (unsigned i = 0; i < n; i++)
			printf("%-40s %-12s %s\n", l[i].domain, l[i].policy,
			       l[i].params != NULL ? l[i].params : "");
	}
	dir_tlspolicy_list_free(l, n);
	return CTL_EXIT_OK;
}

int ctl_tlspolicy(struct ctl *c, int argc, char **argv)
{
	if (ctl_take_flag(&argc, argv, "--json"))
		c->json = true;
	if (argc < 1 || !ctl_no_options(argc, argv, "tlspolicy")) {
		usage();
		return CTL_EXIT_USAGE;
	}
	const char *sub = argv[0];
	bool is_set = strcmp(sub, "set") == 0, is_del = strcmp(sub, "del") == 0;
	bool is_list = strcmp(sub, "list") == 0;
	if (!(is_set && (argc == 3 || argc == 4)) && !(is_del && argc == 2) &&
	    !(is_list && argc == 1)) {
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
	} else if (is_set) {
		rc = ctl_status(
		    dir_tlspolicy_set(d, argv[1], argv[2], argc == 4 ? argv[3] : NULL, &err),
		    "tlspolicy set", &err);
		if (rc == CTL_EXIT_OK)
			ctl_done(c, "TLS policy of", argv[1], "set");
	} else {
		rc = ctl_status(dir_tlspolicy_del(d, argv[1], &err), "tlspolicy del", &err);
		if (rc == CTL_EXIT_OK)
			ctl_done(c, "TLS policy of", argv[1], "deleted");
	}
	dir_close(&d);
	return rc;
}
