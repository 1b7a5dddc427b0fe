/*
 * ctl-account.c - `vmailctl account`: the accounts table.
 *
 *   vmailctl account add ADDRESS [--password-stdin] [--quota MB] [--sendonly] [--disabled]
 *   vmailctl account passwd ADDRESS [--password-stdin]
 *   vmailctl account quota ADDRESS MB           (0 = unlimited)
 *   vmailctl account enable|disable ADDRESS
 *   vmailctl account sendonly ADDRESS yes|no
 *   vmailctl account del ADDRESS                (the mail on disk stays)
 *   vmailctl account list [DOMAIN] [--json]
 *
 * Passwords are stored as {SHA512-CRYPT} strings (the guide's scheme).
 * Without --password-stdin a random password of 20 letters and digits is
 * made and printed once; with --json as {"address":..., "password":...}.
 */
#include "ctl/ctl.h"
#include "core/xalloc.h"
#include "directory/directory-admin.h"
#include "directory/password.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RANDOM_PASSWORD_LEN 20

static void usage(void)
{
	fprintf(stderr,
	        "usage: vmailctl account add ADDRESS [--password-stdin] [--quota MB] [--sendonly]"
	        " [--disabled]\n"
	        "       vmailctl account passwd ADDRESS [--password-stdin]\n"
	        "       vmailctl account quota ADDRESS MB\n"
	        "       vmailctl account enable|disable ADDRESS\n"
	        "       vmailctl account sendonly ADDRESS yes|no\n"
	        "       vmailctl account del ADDRESS\n"
	        "       vmailctl account list [DOMAIN] [--json]\n");
}

/* new_password: the hash to store for a password from stdin or a new
 * random one (then *shown_r is that password, to print). NULL after a
 * message. */
static char *new_password(bool from_stdin, char **shown_r)
{
	*shown_r = NULL;
	char *plain = from_stdin ? ctl_read_password() : ctl_random_password(RANDOM_PASSWORD_LEN);
	if (plain == NULL)
		return NULL;
	const char *err = NULL;
	char *hash = password_hash(plain, PASSWORD_DEFAULT_SCHEME, &err);
	if (hash == NULL) {
		fprintf(stderr, "vmailctl: cannot hash the password: %s\n", err);
		explicit_bzero(plain, strlen(plain));
		free(plain);
		return NULL;
	}
	if (from_stdin) {
		explicit_bzero(plain, strlen(plain));
		free(plain);
	} else {
		*shown_r = plain;
	}
	return hash;
}

static void show_password(const struct ctl *c, const char *address, const char *pw)
{
	char *addr = ctl_lower(address);
	if (c->json)
		ctl_json_out(json_pack("{s:s,s:s}", "address", addr, "password", pw));
	else
		printf("password for %s: %s\n", addr, pw);
	free(addr);
}

static int list(struct ctl *c, struct dir *d, const char *domain)
{
	struct dir_account *l;
	unsigned n;
	const char *err = NULL;
	int r = dir_account_list(d, domain, &l, &n, &err);
	if (r <= 0)
		return ctl_status(r, "account list", &err);
	if (c->json) {
		json_t *a = json_array();
		for (unsigned i = 0; i < n; i++) {
			char *addr = xasprintf("%s@%s", l[i].username, l[i].domain);
			json_array_append_new(
			    a, json_pack("{s:s,s:s,s:s,s:I,s:b,s:b}", "address", addr, "username",
			                 l[i].username, "domain", l[i].domain, "quota_mb",
			                 (json_int_t)l[i].quota_mb, "enabled", l[i].enabled,
			                 "sendonly", l[i].sendonly));
			free(addr);
		}
		ctl_json_out(a);
	} else {
		for (unsigned i = 0; i < n; i++) {
			char *addr = xasprintf("%s@%s", l[i].username, l[i].domain);
			char quota[32];
			if (l[i].quota_mb == 0)
				snprintf(quota, sizeof(quota), "unlimited");
			else
				snprintf(quota, sizeof(quota), "%u MB", l[i].quota_mb);
			printf("%-50s %-12s %s%s\n", addr, quota,
			       l[i].enabled ? "enabled" : "disabled",
			       l[i].sendonly ? " sendonly" : "");
			free(addr);
		}
	}
	dir_account_list_free(l, n);
	return CTL_EXIT_OK;
}

static int add(struct ctl *c, struct dir *d, const char *address, bool from_stdin, unsigned quota,
               bool sendonly, bool disabled)
{
	/* check what can be checked before asking for a password */
	const char *err = NULL;
	char *local, *domain;
	if (dir_address_parse(address, false, &local, &domain, &err) < 0) {
		fprintf(stderr, "vmailctl: account add: invalid address '%s': %s\n", address, err);
		return CTL_EXIT_REFUSED;
	}
	free(local);
	free(domain);
	char *shown;
	char *hash = new_password(from_stdin, &shown);
	if (hash == NULL)
		return CTL_EXIT_REFUSED;
	int rc = ctl_status(dir_account_add(d, address, hash, quota, !disabled, sendonly, &err),
	                    "account add", &err);
	if (rc == CTL_EXIT_OK) {
		ctl_done(c, "account", address, "added");
		if (shown != NULL)
			show_password(c, address, shown);
	}
	if (shown != NULL) {
		explicit_bzero(shown, strlen(shown));
		free(shown);
	}
	free(hash);
	return rc;
}

static int passwd(struct ctl *c, struct dir *d, const char *address, bool from_stdin)
{
	char *shown;
	char *hash = new_password(from_stdin, &shown);
	if (hash == NULL)
		return CTL_EXIT_REFUSED;
	const char *err = NULL;
	int rc =
	    ctl_status(dir_account_set_password(d, address, hash, &err), "account passwd", &err);
	if (rc == CTL_EXIT_OK) {
		ctl_done(c, "password of", address, "changed");
		if (shown != NULL)
			show_password(c, address, shown);
	}
	if (shown != NULL) {
		explicit_bzero(shown, strlen(shown));
		free(shown);
	}
	free(hash);
	return rc;
}

int ctl_account(struct ctl *c, int argc, char **argv)
{
	if (ctl_take_flag(&argc, argv, "--json"))
		c->json = true;
	bool from_stdin = ctl_take_flag(&argc, argv, "--password-stdin");
	bool sendonly = ctl_take_flag(&argc, argv, "--sendonly");
	bool disabled = ctl_take_flag(&argc, argv, "--disabled");
	const char *quota_s = NULL;
	int qo = ctl_take_option(&argc, argv, "--quota", &quota_s);
	if (qo < 0 || argc < 1 || !ctl_no_options(argc, argv, "account")) {
		usage();
		return CTL_EXIT_USAGE;
	}
	const char *sub = argv[0];
	bool is_add = strcmp(sub, "add") == 0, is_passwd = strcmp(sub, "passwd") == 0;
	/* options that only some subcommands take */
	if ((!is_add && (sendonly || disabled || qo > 0)) ||
	    (!is_add && !is_passwd && from_stdin)) {
		usage();
		return CTL_EXIT_USAGE;
	}
	unsigned quota = 0;
	if (quota_s != NULL && ctl_parse_uint(quota_s, &quota) < 0) {
		fprintf(stderr, "vmailctl: account: quota '%s' is not a number of MB\n", quota_s);
		return CTL_EXIT_USAGE;
	}
	int want; /* arguments after the subcommand */
	if (is_add || is_passwd || strcmp(sub, "enable") == 0 || strcmp(sub, "disable") == 0 ||
	    strcmp(sub, "del") == 0)
		want = 1;
	else if (strcmp(sub, "quota") == 0 || strcmp(sub, "sendonly") == 0)
		want = 2;
	else if (strcmp(sub, "list") == 0)
		want = argc >= 2 ? 1 : 0;
	else
		want = -1;
	if (want < 0 || argc - 1 != want) {
		usage();
		return CTL_EXIT_USAGE;
	}
	bool yes = false;
	if (strcmp(sub, "sendonly") == 0) {
		if (config_parse_bool(argv[2], &yes) < 0) {
			fprintf(stderr, "vmailctl: account sendonly: '%s' is not yes or no\n",
			        argv[2]);
			return CTL_EXIT_USAGE;
		}
	}
	if (strcmp(sub, "quota") == 0 && ctl_parse_uint(argv[2], &quota) < 0) {
		fprintf(stderr, "vmailctl: account quota: '%s' is not a number of MB\n", argv[2]);
		return CTL_EXIT_USAGE;
	}

	struct dir *d = ctl_dir_open(c, DIR_ADMIN);
	if (d == NULL)
		return CTL_EXIT_TEMPFAIL;
	const char *err = NULL;
	int rc;
	if (strcmp(sub, "list") == 0) {
		rc = list(c, d, argc == 2 ? argv[1] : NULL);
	} else if (is_add) {
		rc = add(c, d, argv[1], from_stdin, quota, sendonly, disabled);
	} else if (is_passwd) {
		rc = passwd(c, d, argv[1], from_stdin);
	} else if (strcmp(sub, "quota") == 0) {
		rc = ctl_status(dir_account_set_quota(d, argv[1], quota, &err), "account quota",
		                &err);
		if (rc == CTL_EXIT_OK)
			ctl_done(c, "quota of", argv[1], "set");
	} else if (strcmp(sub, "enable") == 0 || strcmp(sub, "disable") == 0) {
		bool en = strcmp(sub, "enable") == 0;
		rc = ctl_status(dir_account_set_enabled(d, argv[1], en, &err),
		                en ? "account enable" : "account disable", &err);
		if (rc == CTL_EXIT_OK)
			ctl_done(c, "account", argv[1], en ? "enabled" : "disabled");
	} else if (strcmp(sub, "sendonly") == 0) {
		rc = ctl_status(dir_account_set_sendonly(d, argv[1], yes, &err), "account sendonly",
		                &err);
		if (rc == CTL_EXIT_OK)
			ctl_done(c, "account", argv[1], yes ? "is send-only" : "receives mail");
	} else {
		rc = ctl_status(dir_account_del(d, argv[1], &err), "account del", &err);
		if (rc == CTL_EXIT_OK)
			ctl_done(c, "account", argv[1], "deleted");
	}
	dir_close(&d);
	return rc;
}
