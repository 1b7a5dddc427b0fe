/*
 * ctl-init.c - `vmailctl init`: create the guide's four tables.
 *
 *   vmailctl init                 create what is missing in the configured
 *                                 directory (SQLite: the file too, in WAL
 *                                 mode; MariaDB: with admin_user's rights)
 *   vmailctl init --print-sql [--driver mysql|sqlite]
 *                                 print the DDL instead (default: the
 *                                 guide's MariaDB statements), e.g. to pipe
 *                                 into `mariadb vmail`
 * An existing database is left as it is; running init twice is harmless.
 */
#include "ctl/ctl.h"
#include "directory/directory-admin.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(void)
{
	fprintf(stderr, "usage: vmailctl init [--print-sql [--driver mysql|sqlite]]\n");
}

int ctl_init(struct ctl *c, int argc, char **argv)
{
	bool print = ctl_take_flag(&argc, argv, "--print-sql");
	const char *driver = "mysql";
	int o = ctl_take_option(&argc, argv, "--driver", &driver);
	if (o < 0 || argc != 0 || (o > 0 && !print)) {
		usage();
		return CTL_EXIT_USAGE;
	}
	if (print) {
		const char *sql = dir_schema_sql(driver);
		if (sql == NULL) {
			fprintf(stderr, "vmailctl: init: unknown driver '%s' (mysql or sqlite)\n",
			        driver);
			return CTL_EXIT_USAGE;
		}
		fputs(sql, stdout);
		return CTL_EXIT_OK;
	}
	struct dir *d = ctl_dir_open(c, DIR_ADMIN);
	if (d == NULL)
		return CTL_EXIT_TEMPFAIL;
	/* the SQLite file holds password hashes: not for everyone to read */
	mode_t old = umask(027);
	const char *err = NULL;
	int r = dir_admin_init(d, &err);
	umask(old);
	int rc = ctl_status(r, "init", &err);
	if (rc == CTL_EXIT_OK) {
		const struct config_directory *dc = &c->cfg.directory;
		if (strcmp(dc->driver, "sqlite") == 0)
			printf("directory ready: sqlite %s\n", dc->path);
		else
			printf("directory ready: mysql database %s\n", dc->database);
	}
	dir_close(&d);
	return rc;
}
