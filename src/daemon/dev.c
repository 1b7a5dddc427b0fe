/*
 * dev.c - `vmaild --dev DIR`: a complete instance for trying vmaild out.
 *
 * DIR gets a configuration on high loopback ports (only for the
 * protocols this build serves), a self-signed certificate, and an SQLite
 * directory with the domain example.test and the account
 * demo@example.test whose generated password is kept in DIR/demo-password.
 * Run again on the same DIR it keeps the database, the password and the
 * certificate and writes the configuration anew.
 */
#include "daemon/daemon.h"
#include "core/buf.h"
#include "core/xalloc.h"
#include "directory/directory-admin.h"
#include "directory/password.h"
#include "net/net.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
	const char *proto;
	const char *addr;
} dev_ports[] = {
	{"smtp", "127.0.0.1:2525"},	  {"smtps", "127.0.0.1:2465"},
	{"submission", "127.0.0.1:2587"}, {"imap", "127.0.0.1:2143"},
	{"imaps", "127.0.0.1:2993"},	  {"sieve", "127.0.0.1:4190"},
	{"http", "127.0.0.1:8080"},
};

static int mkdirs(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static char *random_password(void)
{
	static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char rnd[16];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return NULL;
	char *pw = xmalloc(sizeof(rnd) + 1);
	for (size_t i = 0; i < sizeof(rnd); i++)
		pw[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
	pw[sizeof(rnd)] = '\0';
	return pw;
}

static char *read_first_line(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	char line[256];
	char *r = fgets(line, sizeof(line), f) ? xstrndup(line, strcspn(line, "\r\n")) : NULL;
	fclose(f);
	return r;
}

static int write_file(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	size_t n = strlen(data);
	int r = write(fd, data, n) == (ssize_t)n ? 0 : -1;
	close(fd);
	return r;
}

static int dev_directory(struct config *cfg, const char *pwfile, char **password_r)
{
	const char *err = NULL;
	struct dir *d = dir_open(&cfg->directory, DIR_ADMIN, &err);
	if (d == NULL || dir_admin_init(d, &err) < 0) {
		fprintf(stderr, "vmaild --dev: directory: %s\n", err ? err : "cannot open");
		dir_close(&d);
		return -1;
	}
	char *pw = read_first_line(pwfile);
	struct dir_account a;
	memset(&a, 0, sizeof(a));
	int r = dir_account_get(d, "demo", "example.test", &a, &err);
	dir_account_clear(&a);
	if (r < 0) {
		fprintf(stderr, "vmaild --dev: directory: %s\n", err);
		dir_close(&d);
		free(pw);
		return -1;
	}
	if (r == 0 || pw == NULL) {
		free(pw);
		pw = random_password();
		char *hash = pw ? password_hash(pw, PASSWORD_DEFAULT_SCHEME, &err) : NULL;
		if (hash == NULL || (dir_domain_exists(d, "example.test", &err) == 0 &&
				     dir_domain_add(d, "example.test", &err) != 1) ||
		    (r == 0 && dir_account_add(d, "demo@example.test", hash, 0, true, false,
					       &err) != 1) ||
		    (r == 1 && dir_account_set_password(d, "demo@example.test", hash, &err) != 1)) {
			fprintf(stderr, "vmaild --dev: directory: %s\n",
				err ? err : "cannot create the demo account");
			free(hash);
			free(pw);
			dir_close(&d);
			return -1;
		}
		free(hash);
		char *line = xasprintf("%s\n", pw);
		write_file(pwfile, line, 0600);
		free(line);
	}
	dir_close(&d);
	*password_r = pw;
	return 0;
}

char *dev_setup(const char *dir_arg)
{
	char abs[PATH_MAX];
	if (mkdirs(dir_arg, 0700) < 0 || realpath(dir_arg, abs) == NULL) {
		fprintf(stderr, "vmaild --dev: cannot create %s: %s\n", dir_arg, strerror(errno));
		return NULL;
	}
	char *state = xasprintf("%s/state", abs);
	char *mailroot = xasprintf("%s/vmail/mailboxes", abs);
	char *tlsdir = xasprintf("%s/tls", abs);
	char *cert = xasprintf("%s/cert.pem", tlsdir);
	char *key = xasprintf("%s/key.pem", tlsdir);
	char *conf = xasprintf("%s/vmaild.conf", abs);
	char *pwfile = xasprintf("%s/demo-password", abs);
	char *password = NULL;
	struct buf b = BUF_INIT;
	struct config cfg;
	char *err = NULL;
	const char *cerr = NULL;
	char *ret = NULL;
	memset(&cfg, 0, sizeof(cfg));

	if (mkdirs(state, 0700) < 0 || mkdirs(mailroot, 0700) < 0 || mkdirs(tlsdir, 0700) < 0) {
		fprintf(stderr, "vmaild --dev: cannot create directories in %s: %s\n", abs,
			strerror(errno));
		goto out;
	}
	if (access(cert, R_OK) != 0 || access(key, R_OK) != 0) {
		if (tls_make_selfsigned(cert, key, "localhost", &cerr) < 0) {
			fprintf(stderr, "vmaild --dev: certificate: %s\n", cerr);
			goto out;
		}
	}
	struct passwd *pw = getpwuid(geteuid());
	struct group *gr = getgrgid(getegid());
	const char *user = pw ? pw->pw_name : "root";
	buf_appendf(&b,
		    "# Written by vmaild --dev; rewritten on every start.\n"
		    "[server]\nhostname = localhost\nstate_dir = %s\nuser = %s\ngroup = %s\n"
		    "lookup_user = %s\nworkers = 2\n\n[listen]\n",
		    state, user, gr ? gr->gr_name : user, user);
	for (size_t i = 0; i < sizeof(dev_ports) / sizeof(dev_ports[0]); i++)
		if (worker_protocol_available(dev_ports[i].proto))
			buf_appendf(&b, "%s = %s\n", dev_ports[i].proto, dev_ports[i].addr);
	buf_appendf(&b,
		    "\n[tls]\ncert = %s\nkey = %s\n\n[directory]\ndriver = sqlite\npath = "
		    "%s/vmail.sqlite\n\n[mail]\nhome = %s/%%d/%%n\n\n"
		    "# a development box has no DNS of its own\n[smtpd]\n"
		    "reject_unknown_helo_hostname = no\nreject_unknown_client_hostname = no\n",
		    cert, key, abs, mailroot);
	if (write_file(conf, buf_cstr(&b), 0600) < 0) {
		fprintf(stderr, "vmaild --dev: cannot write %s: %s\n", conf, strerror(errno));
		goto out;
	}
	if (config_load(conf, &cfg, &err) < 0) {
		fprintf(stderr, "vmaild --dev: %s\n", err);
		goto out;
	}
	if (dev_directory(&cfg, pwfile, &password) < 0)
		goto out;
	printf("vmaild development instance in %s\n"
	       "  configuration: %s\n"
	       "  account:       demo@example.test\n"
	       "  password:      %s\n",
	       abs, conf, password);
	unsigned served = 0;
	for (size_t i = 0; i < sizeof(dev_ports) / sizeof(dev_ports[0]); i++) {
		if (worker_protocol_available(dev_ports[i].proto)) {
			printf("  %-14s %s\n", dev_ports[i].proto, dev_ports[i].addr);
			served++;
		}
	}
	if (served == 0)
		printf("  (this version serves no mail protocol yet: only the directory, "
		       "lookup and queue processes run)\n");
	printf("  manage it with: vmailctl -c %s ...\n", conf);
	fflush(stdout);
	ret = xstrdup(conf);
out:
	config_free(&cfg);
	free(err);
	buf_free(&b);
	free(password);
	free(state);
	free(mailroot);
	free(tlsdir);
	free(cert);
	free(key);
	free(conf);
	free(pwfile);
	return ret;
}
