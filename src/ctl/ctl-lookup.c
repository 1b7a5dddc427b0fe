/*
 * ctl-lookup.c - `vmailctl lookup`: how the daemon resolves an address.
 *
 *   vmailctl lookup ADDRESS|- [--login LOGIN] [--json]
 *
 * Runs the daemon's own lookup (dir_resolve_rcpt, with [mail]
 * recipient_delimiter) with the daemon's credentials (DIR_READER: SQLite
 * read-only, MariaDB [directory] user), and prints the kind and the
 * destinations:
 *   account    an enabled account that receives mail
 *   alias      explicit alias: the destinations
 *   catchall   the domain's catch-all: the destinations
 *   sendonly   an account that may only send: rejected as a recipient
 *   disabled   a disabled account: rejected as unknown
 *   unknown    one of our domains, no such address
 *   nodomain   not one of our domains
 * With --login, also whether LOGIN may use ADDRESS as its sender
 * (the guide's sender-login-maps). Exit 0 whatever the kind; 1 for an
 * address that is not valid; 3 when the directory cannot be asked.
 *
 * With "-" instead of an address, addresses are read from stdin, one a
 * line, and answered one line each (JSON lines with --json; a failure is
 * "ADDRESS: temporary failure: ..." or {"address":..., "error":...}),
 * all over one connection, as the daemon's lookup process holds it: a
 * lost connection is made again on the next line. Exit status: 3 when
 * any line failed, else 1 when any address was invalid, else 0.
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
	fprintf(stderr, "usage: vmailctl lookup ADDRESS|- [--login LOGIN] [--json]\n");
}

static const char *describe(enum dir_rcpt_kind k)
{
	switch (k) {
	case DIR_RCPT_ACCOUNT:
		return "account";
	case DIR_RCPT_ALIAS:
		return "alias";
	case DIR_RCPT_CATCHALL:
		return "catch-all";
	case DIR_RCPT_SENDONLY:
		return "send-only account, rejected as recipient";
	case DIR_RCPT_DISABLED:
		return "disabled account, rejected as unknown";
	case DIR_RCPT_UNKNOWN:
		return "unknown, one of our domains but no such address";
	case DIR_RCPT_NODOMAIN:
		return "not one of our domains";
	}
	return "?";
}

static bool has_account(enum dir_rcpt_kind k)
{
	return k == DIR_RCPT_ACCOUNT || k == DIR_RCPT_SENDONLY || k == DIR_RCPT_DISABLED;
}

static void print_json(const char *address, const struct dir_rcpt *r, const char *login, int may)
{
	json_t *o = json_object();
	json_object_set_new(o, "address", json_string(address));
	json_object_set_new(o, "kind", json_string(dir_rcpt_kind_name(r->kind)));
	json_object_set_new(o, "matched", json_string(r->address));
	json_t *dest = json_array();
	for (unsigned i = 0; i < r->ndest; i++)
		json_array_append_new(dest, json_string(r->dest[i]));
	json_object_set_new(o, "destinations", dest);
	if (has_account(r->kind)) {
		char *a = xasprintf("%s@%s", r->account.username, r->account.domain);
		json_object_set_new(o, "account",
		                    json_pack("{s:s,s:I,s:b,s:b}", "address", a, "quota_mb",
		                              (json_int_t)r->account.quota_mb, "enabled",
		                              r->account.enabled, "sendonly", r->account.sendonly));
		free(a);
	} else {
		json_object_set_new(o, "account", json_null());
	}
	if (login != NULL) {
		json_object_set_new(o, "login", json_string(login));
		json_object_set_new(o, "may_send_as", json_boolean(may > 0));
	}
	ctl_json_out(o);
}

static void print_text(const char *address, const struct dir_rcpt *r, const char *login, int may)
{
	printf("%s: %s", address, describe(r->kind));
	if (strcmp(address, r->address) != 0)
		printf(" (matched %s)", r->address);
	if (r->kind == DIR_RCPT_ACCOUNT) {
		if (r->account.quota_mb > 0)
			printf(", quota %u MB", r->account.quota_mb);
		else
			printf(", no quota");
	}
	if (r->ndest > 0) {
		printf(" ->");
		for (unsigned i = 0; i < r->ndest; i++)
			printf("%s %s", i > 0 ? "," : "", r->dest[i]);
	}
	printf("\n");
	if (login != NULL)
		printf("%s may %ssend as %s\n", login, may > 0 ? "" : "not ", address);
}

/* lookup_one: resolve one address and print the answer. An exit status:
 * OK, REFUSED (invalid address), TEMPFAIL (printed as a line of its own
 * in batch mode, so that every input line gets one output line). */
static int lookup_one(struct ctl *c, struct dir *d, const char *input, const char *login,
                      bool batch)
{
	const char *err = NULL;
	char *local, *domain;
	if (dir_address_parse(input, false, &local, &domain, &err) < 0) {
		if (batch && c->json)
			ctl_json_out(json_pack("{s:s,s:s}", "address", input, "invalid", err));
		else if (batch)
			printf("%s: invalid address: %s\n", input, err);
		else
			fprintf(stderr, "vmailctl: lookup: invalid address '%s': %s\n", input, err);
		return CTL_EXIT_REFUSED;
	}
	char *address = xasprintf("%s@%s", local, domain);
	free(local);
	free(domain);
	const char *delim = c->cfg.mail.recipient_delimiter;
	struct dir_rcpt r;
	int may = 0;
	int rc = CTL_EXIT_OK;
	if (dir_resolve_rcpt(d, address, delim, &r, &err) < 0) {
		rc = CTL_EXIT_TEMPFAIL;
	} else if (login != NULL && (may = dir_may_send_as(d, login, address, delim, &err)) < 0) {
		dir_rcpt_clear(&r);
		rc = CTL_EXIT_TEMPFAIL;
	}
	if (rc == CTL_EXIT_TEMPFAIL) {
		if (batch && c->json)
			ctl_json_out(json_pack("{s:s,s:s}", "address", address, "error", err));
		else if (batch)
			printf("%s: temporary failure: %s\n", address, err);
		else
			ctl_status(-1, "lookup", &err);
	} else {
		if (c->json)
			print_json(address, &r, login, may);
		else
			print_text(address, &r, login, may);
		dir_rcpt_clear(&r);
	}
	free(address);
	return rc;
}

/* batch: one address per line of stdin, one answer line each, over one
 * connection that is kept (and re-made after a failure) between lines */
static int batch(struct ctl *c, struct dir *d, const char *login)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int worst = CTL_EXIT_OK;
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		int rc = lookup_one(c, d, line, login, true);
		if (rc == CTL_EXIT_TEMPFAIL || (rc == CTL_EXIT_REFUSED && worst == CTL_EXIT_OK))
			worst = rc;
		fflush(stdout);
	}
	free(line);
	return worst;
}

int ctl_lookup(struct ctl *c, int argc, char **argv)
{
	if (ctl_take_flag(&argc, argv, "--json"))
		c->json = true;
	const char *login_arg = NULL;
	int lo = ctl_take_option(&argc, argv, "--login", &login_arg);
	if (lo < 0 || argc != 1 || !ctl_no_options(argc, argv, "lookup")) {
		usage();
		return CTL_EXIT_USAGE;
	}
	struct dir *d = ctl_dir_open(c, DIR_READER);
	if (d == NULL)
		return CTL_EXIT_TEMPFAIL;
	char *login = login_arg != NULL ? ctl_lower(login_arg) : NULL;
	int rc;
	if (strcmp(argv[0], "-") == 0)
		rc = batch(c, d, login);
	else
		rc = lookup_one(c, d, argv[0], login, false);
	dir_close(&d);
	free(login);
	return rc;
}
