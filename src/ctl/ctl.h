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
 * ctl-util.c holds what the directory commands share.
 */
#ifndef VMAILD_CTL_H
#define VMAILD_CTL_H

#include <stdbool.h>

#include "core/config.h"
#include "directory/directory.h"

struct ctl {
	struct config cfg;
	const char *config_path;
	bool json;
};

#define CTL_EXIT_OK       0
#define CTL_EXIT_REFUSED  1
#define CTL_EXIT_USAGE    2
#define CTL_EXIT_TEMPFAIL 3

int ctl_dns(struct ctl *c, int argc, char **argv);
int ctl_pw(struct ctl *c, int argc, char **argv);
int ctl_init(struct ctl *c, int argc, char **argv);
int ctl_domain(struct ctl *c, int argc, char **argv);
int ctl_account(struct ctl *c, int argc, char **argv);
int ctl_alias(struct ctl *c, int argc, char **argv);
int ctl_tlspolicy(struct ctl *c, int argc, char **argv);
int ctl_lookup(struct ctl *c, int argc, char **argv);
int ctl_queue(struct ctl *c, int argc, char **argv);

/* ---- ctl-util.c --------------------------------------------------------- */

/* ctl_take_flag: remove every argv entry equal to flag (argv stays NULL
 * terminated); true when there was one. Used for --json after the
 * command and for boolean options. */
bool ctl_take_flag(int *argc, char **argv, const char *flag);
/* ctl_take_option: remove "name VALUE" (or "name=VALUE") from argv;
 * 1 found (*value_r points into argv), 0 absent, -1 name without value
 * (message printed). */
int ctl_take_option(int *argc, char **argv, const char *name, const char **value_r);
/* ctl_no_options: refuse leftover "-..." arguments (message printed). */
bool ctl_no_options(int argc, char **argv, const char *cmd);

/* ctl_dir_open: the directory of the configuration, or NULL after a
 * message (exit CTL_EXIT_TEMPFAIL). */
struct dir *ctl_dir_open(struct ctl *c, enum dir_role role);
/* ctl_status: the exit status for a directory result 1 / 0 / -1, with
 * "vmailctl: CMD: *error" on stderr when it is not 1. error is a pointer
 * so that ctl_status(dir_x(..., &err), "x", &err) reads it after the
 * call (argument order is unspecified). */
int ctl_status(int r, const char *cmd, const char *const *error);

/* ctl_json_out: print v (consumed) on stdout, one line. */
struct json_t;
void ctl_json_out(struct json_t *v);

/* ctl_read_password: the first line of stdin (without the line end),
 * malloc'd, or NULL after a message (empty, too long, nothing). */
char *ctl_read_password(void);
/* ctl_random_password: n random characters of [A-Za-z0-9], malloc'd. */
char *ctl_random_password(unsigned n);
/* ctl_done: "WHAT NAME VERB" on stdout, NAME lower-cased (as stored),
 * unless --json. */
void ctl_done(const struct ctl *c, const char *what, const char *name, const char *verb);
/* ctl_lower: ASCII lower-case copy, malloc'd. */
char *ctl_lower(const char *s);
/* ctl_parse_uint: a decimal number that fits an unsigned int. 0 / -1 */
int ctl_parse_uint(const char *s, unsigned *v_r);

#endif
