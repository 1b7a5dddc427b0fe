/*
 * config.c - INI loading through libinih, driven by one table of keys.
 *
 * Each row of keys[] names a section and key, its type, where it lives in
 * struct config, its default and one line of documentation. Loading,
 * printing the effective configuration and the reference in docs/ all
 * walk the same table, so a key cannot exist in one and not the others.
 */
#include "config.h"
#include "addr.h"
#include "buf.h"
#include "cidr.h"
#include "xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum key_type { K_STR, K_UINT, K_SIZE, K_DURATION, K_BOOL, K_LIST, K_LISTEN, K_WORKERS, K_CIDRS };

struct key {
	const char *section;
	const char *name;
	enum key_type type;
	size_t offset;
	const char *def;
	const char *allowed; /* K_STR: space-separated list of allowed values, or NULL */
	bool secret;
	const char *doc;
};

#define F(field) offsetof(struct config, field)

static const struct key keys[] = {
	{"server", "hostname", K_STR, F(server.hostname), "", NULL, false,
	 "Name used in greetings and Received headers; empty = the system's host name."},
	{"server", "state_dir", K_STR, F(server.state_dir), "/var/lib/vmaild", NULL, false,
	 "Directory for the queue and runtime state."},
	{"server", "user", K_STR, F(server.user), "vmail", NULL, false,
	 "User the workers and the queue run as when started as root (owner of /var/vmail)."},
	{"server", "group", K_STR, F(server.group), "vmail", NULL, false,
	 "Group the workers and the queue run as when started as root."},
	{"server", "lookup_user", K_STR, F(server.lookup_user), "vmaild", NULL, false,
	 "User of the lookup process, the only one holding database credentials."},
	{"server", "workers", K_WORKERS, F(server.workers), "auto", NULL, false,
	 "Number of worker processes; auto = one per core."},
	{"server", "log", K_STR, F(server.log), "stderr", "stderr syslog", false,
	 "Where log lines go: stderr, or syslog facility mail."},
	{"server", "log_level", K_STR, F(server.log_level), "info", "debug info warn error", false,
	 "Lowest level logged."},

	{"listen", "smtp", K_LISTEN, F(listen.smtp), "", NULL, false,
	 "SMTP (MX) listeners, addr:port list; the guide uses port 25."},
	{"listen", "smtps", K_LISTEN, F(listen.smtps), "", NULL, false,
	 "Submission with implicit TLS; the guide uses port 465."},
	{"listen", "submission", K_LISTEN, F(listen.submission), "", NULL, false,
	 "Submission with STARTTLS; the guide uses port 587."},
	{"listen", "imap", K_LISTEN, F(listen.imap), "", NULL, false,
	 "IMAP with STARTTLS; the guide uses port 143."},
	{"listen", "imaps", K_LISTEN, F(listen.imaps), "", NULL, false,
	 "IMAP with implicit TLS; the guide uses port 993."},
	{"listen", "sieve", K_LISTEN, F(listen.sieve), "", NULL, false,
	 "ManageSieve; the guide uses port 4190."},
	{"listen", "http", K_LISTEN, F(listen.http), "", NULL, false, "HTTP listeners."},
	{"listen", "https", K_LISTEN, F(listen.https), "", NULL, false, "HTTPS listeners."},

	{"tls", "cert", K_STR, F(tls.cert), "", NULL, false,
	 "PEM certificate chain (the guide: acme.sh's fullchain.pem)."},
	{"tls", "key", K_STR, F(tls.key), "", NULL, false, "PEM private key for cert."},
	{"tls", "sni", K_LIST, F(tls.sni), "", NULL, false,
	 "More certificates chosen by the name a client asks for: NAME:CERT:KEY items "
	 "(NAME may be *.domain)."},

	{"directory", "driver", K_STR, F(directory.driver), "sqlite", "sqlite mysql", false,
	 "Database of domains, accounts, aliases and TLS policies: sqlite or mysql (MariaDB)."},
	{"directory", "path", K_STR, F(directory.path), "/var/lib/vmaild/vmail.sqlite", NULL, false,
	 "SQLite database file."},
	{"directory", "host", K_STR, F(directory.host), "", NULL, false,
	 "MariaDB host; empty = connect through socket."},
	{"directory", "port", K_UINT, F(directory.port), "3306", NULL, false, "MariaDB TCP port."},
	{"directory", "socket", K_STR, F(directory.socket), "/run/mysqld/mysqld.sock", NULL, false,
	 "MariaDB unix socket (the guide's)."},
	{"directory", "database", K_STR, F(directory.database), "vmail", NULL, false,
	 "MariaDB database name."},
	{"directory", "user", K_STR, F(directory.user), "vmail", NULL, false,
	 "MariaDB user of the daemon; it needs SELECT only."},
	{"directory", "password", K_STR, F(directory.password), "", NULL, true,
	 "Password of user."},
	{"directory", "admin_user", K_STR, F(directory.admin_user), "", NULL, false,
	 "MariaDB user of vmailctl (needs INSERT, UPDATE, DELETE); empty = user."},
	{"directory", "admin_password", K_STR, F(directory.admin_password), "", NULL, true,
	 "Password of admin_user."},
	{"directory", "cache_ttl", K_DURATION, F(directory.cache_ttl), "5s", NULL, false,
	 "How long a lookup answer is reused; changes show up after at most this long."},
	{"directory", "timeout", K_DURATION, F(directory.timeout), "5s", NULL, false,
	 "How long a query may take before it is answered as a temporary failure."},
	{"directory", "threads", K_UINT, F(directory.threads), "4", NULL, false,
	 "Threads (each with its own connection) in the lookup process."},

	{"mail", "home", K_STR, F(mail.home), "/var/vmail/mailboxes/%d/%n", NULL, false,
	 "Home of a mailbox (Dovecot's mail_home); %d = domain, %n = local part."},
	{"mail", "location", K_STR, F(mail.location), "mail", NULL, false,
	 "Maildir below home (the guide's mail_location = maildir:~/mail)."},
	{"mail", "recipient_delimiter", K_STR, F(mail.recipient_delimiter), "+", NULL, false,
	 "user+tag@domain is delivered to user@domain; empty = off."},
	{"mail", "message_size_limit", K_SIZE, F(mail.message_size_limit), "52428800", NULL, false,
	 "Largest message accepted, in bytes (suffixes k, m, g allowed)."},
	{"mail", "postmaster", K_STR, F(mail.postmaster), "", NULL, false,
	 "Address that gets bounces that cannot be returned; empty = postmaster@hostname."},

	{"smtpd", "mynetworks", K_CIDRS, F(smtpd.mynetworks),
	 "127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128", NULL, false,
	 "Clients trusted as our own: they may relay and skip the HELO and client checks."},
	{"smtpd", "helo_required", K_BOOL, F(smtpd.helo_required), "yes", NULL, false,
	 "Clients must say HELO or EHLO before MAIL (the guide's smtpd_helo_required)."},
	{"smtpd", "reject_unknown_helo_hostname", K_BOOL, F(smtpd.reject_unknown_helo_hostname),
	 "yes", NULL, false, "Refuse (450) a HELO name without an A, AAAA or MX record."},
	{"smtpd", "reject_unknown_client_hostname", K_BOOL,
	 F(smtpd.reject_unknown_client_hostname), "yes", NULL, false,
	 "Refuse (450) clients whose address has no PTR name resolving back to it."},
	{"smtpd", "without_ptr", K_STR, F(smtpd.without_ptr), "", NULL, false,
	 "File of addresses or networks (one per line) exempt from the client name check."},
	{"smtpd", "greet_pause", K_DURATION, F(smtpd.greet_pause), "0s", NULL, false,
	 "Wait this long before the greeting; a client that talks first is dropped."},
	{"smtpd", "line_length_limit", K_UINT, F(smtpd.line_length_limit), "2048", NULL, false,
	 "Longest command line, in bytes."},
	{"smtpd", "recipient_limit", K_UINT, F(smtpd.recipient_limit), "1000", NULL, false,
	 "Recipients accepted per message."},
	{"smtpd", "timeout", K_DURATION, F(smtpd.timeout), "300s", NULL, false,
	 "How long to wait for a command."},
	{"smtpd", "data_timeout", K_DURATION, F(smtpd.data_timeout), "300s", NULL, false,
	 "How long to wait for the next piece of message data."},
	{"smtpd", "hard_error_limit", K_UINT, F(smtpd.hard_error_limit), "20", NULL, false,
	 "Errors in a session before it is closed."},
	{"smtpd", "client_connection_limit", K_UINT, F(smtpd.client_connection_limit), "50", NULL,
	 false, "Simultaneous connections from one client address (0 = no limit)."},
	{"smtpd", "messages_per_connection", K_UINT, F(smtpd.messages_per_connection), "0", NULL,
	 false, "Messages accepted in one session before further MAIL is refused (0 = no limit)."},
	{"smtpd", "disable_vrfy_command", K_BOOL, F(smtpd.disable_vrfy_command), "yes", NULL,
	 false, "Answer VRFY with 502, so addresses cannot be probed."},
	{"smtpd", "hopcount_limit", K_UINT, F(smtpd.hopcount_limit), "50", NULL, false,
	 "Received: headers in a message above which it is refused as a mail loop."},

	{"smtpd", "auth_failure_delay", K_DURATION, F(smtpd.auth_failure_delay), "2s", NULL, false,
	 "Submission: a failed AUTH is answered after this long, doubled for each recent failure "
	 "from the same address or for the same login."},
	{"smtpd", "auth_failure_max_delay", K_DURATION, F(smtpd.auth_failure_max_delay), "15s",
	 NULL, false, "Submission: the longest delay of a failed AUTH."},

	{"imap", "timeout", K_DURATION, F(imap.timeout), "30m", NULL, false,
	 "Autologout: a logged-in client silent this long is disconnected (RFC 9051: at least "
	 "30 minutes)."},
	{"imap", "login_timeout", K_DURATION, F(imap.login_timeout), "60s", NULL, false,
	 "A client that has not logged in is disconnected after this long without a command."},
	{"imap", "max_line", K_SIZE, F(imap.max_line), "64k", NULL, false,
	 "Longest command after login, in bytes, literals excluded (Dovecot's "
	 "imap_max_line_length); before login 16k."},
	{"imap", "max_literal", K_SIZE, F(imap.max_literal), "64k", NULL, false,
	 "Largest literal in a command after login, APPEND's message excluded; before login 8k."},
	{"imap", "max_userip_connections", K_UINT, F(imap.max_userip_connections), "20", NULL,
	 false, "Simultaneous logins of one user from one client address (the guide's "
		"mail_max_userip_connections); 0 = no limit."},
	{"imap", "client_connection_limit", K_UINT, F(imap.client_connection_limit), "50", NULL,
	 false, "Simultaneous connections from one client address, counted over all protocols; "
		"0 = no limit."},
	{"imap", "disable_plaintext_auth", K_BOOL, F(imap.disable_plaintext_auth), "yes", NULL,
	 false, "LOGIN and AUTHENTICATE only over TLS (the guide's disable_plaintext_auth)."},
	{"imap", "loopback_secure", K_BOOL, F(imap.loopback_secure), "yes", NULL, false,
	 "Connections from 127.0.0.0/8 and ::1 count as secure for plaintext login, as "
	 "Dovecot's do."},
	{"imap", "auth_failure_delay", K_DURATION, F(imap.auth_failure_delay), "2s", NULL, false,
	 "A failed login is answered after this long, doubled for each recent failure from the "
	 "same address or for the same login (counted with SMTP AUTH)."},
	{"imap", "auth_failure_max_delay", K_DURATION, F(imap.auth_failure_max_delay), "15s",
	 NULL, false, "The longest delay of a failed login."},

	{"dns", "forwarders", K_LIST, F(dns.forwarders), "", NULL, false,
	 "Resolvers to forward to (addr or addr@port); empty = full recursion from the roots."},
	{"dns", "stub_zones", K_LIST, F(dns.stub_zones), "", NULL, false,
	 "zone=addr[@port] items: ask these servers directly for these zones."},
	{"dns", "trust_anchor_file", K_STR, F(dns.trust_anchor_file), "", NULL, false,
	 "DNSSEC trust anchors (zone file syntax); setting it turns validation on."},
	{"dns", "dnssec", K_BOOL, F(dns.dnssec), "yes", NULL, false,
	 "Validate with the root trust anchor of Debian's dns-root-data when no file is set."},
	{"dns", "timeout", K_DURATION, F(dns.timeout), "10s", NULL, false,
	 "How long a query may take before it is a temporary failure."},

	{"queue", "maximal_queue_lifetime", K_DURATION, F(queue.maximal_queue_lifetime), "1h", NULL,
	 false, "A message not delivered after this long is returned to its sender (the guide's)."},
	{"queue", "bounce_queue_lifetime", K_DURATION, F(queue.bounce_queue_lifetime), "1h", NULL,
	 false, "The same for the delivery reports (bounces) vmaild itself sends."},
	{"queue", "minimal_backoff_time", K_DURATION, F(queue.minimal_backoff_time), "5m", NULL,
	 false, "Wait at least this long before trying a deferred message again; doubled per try."},
	{"queue", "maximal_backoff_time", K_DURATION, F(queue.maximal_backoff_time), "15m", NULL,
	 false, "Wait at most this long between two tries of a deferred message."},
	{"queue", "queue_run_delay", K_DURATION, F(queue.queue_run_delay), "5m", NULL, false,
	 "How often the spool directory is scanned for messages to try."},
	{"queue", "destination_concurrency_limit", K_UINT, F(queue.destination_concurrency_limit),
	 "20", NULL, false, "Simultaneous connections to one destination (domain or relay host)."},
	{"queue", "concurrency_limit", K_UINT, F(queue.concurrency_limit), "100", NULL, false,
	 "Simultaneous outgoing connections in all."},
	{"queue", "relayhost", K_STR, F(queue.relayhost), "", NULL, false,
	 "Send all remote mail to this host instead of the MX hosts: host, host:port or "
	 "[host]:port; empty = MX lookup."},
	{"queue", "smtp_port", K_UINT, F(queue.smtp_port), "25", NULL, false,
	 "Port of the MX hosts (and of relay hosts given without a port); only tests change it."},
	{"queue", "connect_timeout", K_DURATION, F(queue.connect_timeout), "30s", NULL, false,
	 "How long a TCP connection to a mail server may take."},
	{"queue", "command_timeout", K_DURATION, F(queue.command_timeout), "300s", NULL, false,
	 "How long to wait for the greeting and for the reply to each command."},
	{"queue", "data_timeout", K_DURATION, F(queue.data_timeout), "600s", NULL, false,
	 "How long sending the message may stall, and the wait for the reply to its end."},
	{"queue", "connection_cache_time", K_DURATION, F(queue.connection_cache_time), "2s", NULL,
	 false, "An idle connection is kept this long for the next message to the same place."},
	{"queue", "starttls", K_BOOL, F(queue.starttls), "yes", NULL, false,
	 "Use STARTTLS when a server offers it (opportunistic; certificates are not checked)."},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static void *field(struct config *cfg, const struct key *k)
{
	return (char *)cfg + k->offset;
}

static const void *cfield(const struct config *cfg, const struct key *k)
{
	return (const char *)cfg + k->offset;
}

int config_parse_bool(const char *s, bool *b_r)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	for (unsigned i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*b_r = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*b_r = false;
			return 0;
		}
	}
	return -1;
}

static int parse_u64_suffix(const char *s, uint64_t *v_r, const char *suffixes,
			    const uint64_t *mult)
{
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	uint64_t m = 1;
	if (*end != '\0') {
		const char *p = strchr(suffixes, tolower((unsigned char)*end));
		if (p == NULL || end[1] != '\0')
			return -1;
		m = mult[p - suffixes];
	}
	if (m != 0 && v > UINT64_MAX / m)
		return -1;
	*v_r = v * m;
	return 0;
}

int config_parse_duration(const char *s, unsigned *secs_r)
{
	static const uint64_t mult[] = {1, 60, 3600, 86400, 604800};
	uint64_t v;
	if (parse_u64_suffix(s, &v, "smhdw", mult) < 0 || v > UINT32_MAX)
		return -1;
	*secs_r = (unsigned)v;
	return 0;
}

int config_parse_size(const char *s, uint64_t *bytes_r)
{
	static const uint64_t mult[] = {1024, 1024 * 1024, 1024ULL * 1024 * 1024};
	return parse_u64_suffix(s, bytes_r, "kmg", mult);
}

static void list_free(struct cfg_list *l)
{
	for (unsigned i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void list_split(struct cfg_list *l, const char *s)
{
	list_free(l);
	const char *p = s;
	for (;;) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		const char *start = p;
		while (*p != '\0' && *p != ',' && !isspace((unsigned char)*p))
			p++;
		l->v = xreallocarray(l->v, l->n + 1, sizeof(char *));
		l->v[l->n++] = xstrndup(start, (size_t)(p - start));
	}
}

/* set_value: parse s into the key's field. 0, or -1 with a message. */
static int set_value(struct config *cfg, const struct key *k, const char *s, char **error_r)
{
	void *f = field(cfg, k);
	switch (k->type) {
	case K_STR:
		if (k->allowed != NULL) {
			size_t n = strlen(s);
			const char *a = k->allowed;
			bool ok = false;
			while (*a != '\0') {
				size_t w = strcspn(a, " ");
				if (w == n && strncmp(a, s, n) == 0)
					ok = true;
				a += w;
				while (*a == ' ')
					a++;
			}
			if (!ok) {
				*error_r = xasprintf("'%s' is not one of: %s", s, k->allowed);
				return -1;
			}
		}
		free(*(char **)f);
		*(char **)f = xstrdup(s);
		return 0;
	case K_UINT: {
		uint64_t v;
		if (parse_u64_suffix(s, &v, "", NULL) < 0 || v > UINT32_MAX) {
			*error_r = xasprintf("'%s' is not a whole number", s);
			return -1;
		}
		*(unsigned *)f = (unsigned)v;
		return 0;
	}
	case K_WORKERS: {
		uint64_t v;
		if (strcmp(s, "auto") == 0) {
			*(unsigned *)f = 0;
			return 0;
		}
		if (parse_u64_suffix(s, &v, "", NULL) < 0 || v < 1 || v > 256) {
			*error_r = xasprintf("'%s' is not auto or a number from 1 to 256", s);
			return -1;
		}
		*(unsigned *)f = (unsigned)v;
		return 0;
	}
	case K_SIZE:
		if (config_parse_size(s, (uint64_t *)f) < 0) {
			*error_r = xasprintf("'%s' is not a size (bytes, or a number with k, m, g)", s);
			return -1;
		}
		return 0;
	case K_DURATION:
		if (config_parse_duration(s, (unsigned *)f) < 0) {
			*error_r = xasprintf("'%s' is not a duration (seconds, or a number with s, m, "
					     "h, d, w)",
					     s);
			return -1;
		}
		return 0;
	case K_BOOL:
		if (config_parse_bool(s, (bool *)f) < 0) {
			*error_r = xasprintf("'%s' is not yes or no", s);
			return -1;
		}
		return 0;
	case K_LIST: {
		struct cfg_list l = {NULL, 0};
		list_split(&l, s);
		for (unsigned i = 0; i < l.n; i++) {
			if (l.v[i][0] == ';' || l.v[i][0] == '#') {
				/* it would read back as a comment */
				*error_r = xasprintf("'%s': a list item may not start with '%c'", l.v[i],
						     l.v[i][0]);
				list_free(&l);
				return -1;
			}
		}
		list_free(f);
		*(struct cfg_list *)f = l;
		return 0;
	}
	case K_CIDRS: {
		struct cfg_list l = {NULL, 0};
		list_split(&l, s);
		for (unsigned i = 0; i < l.n; i++) {
			struct cidr c;
			if (cidr_parse(l.v[i], &c) < 0) {
				*error_r = xasprintf("'%s' is not an address or network", l.v[i]);
				list_free(&l);
				return -1;
			}
		}
		list_free(f);
		*(struct cfg_list *)f = l;
		return 0;
	}
	case K_LISTEN: {
		struct cfg_list l = {NULL, 0};
		list_split(&l, s);
		for (unsigned i = 0; i < l.n; i++) {
			struct addr a;
			const char *err;
			if (addr_parse(l.v[i], &a, &err) < 0) {
				*error_r = xasprintf("'%s': %s", l.v[i], err);
				list_free(&l);
				return -1;
			}
		}
		list_free(f);
		*(struct cfg_list *)f = l;
		return 0;
	}
	}
	return -1;
}

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < NKEYS; i++) {
		char *err = NULL;
		if (set_value(cfg, &keys[i], keys[i].def, &err) < 0)
			abort(); /* a default that does not parse is a bug */
	}
}

void config_free(struct config *cfg)
{
	for (size_t i = 0; i < NKEYS; i++) {
		void *f = field(cfg, &keys[i]);
		if (keys[i].type == K_STR) {
			free(*(char **)f);
			*(char **)f = NULL;
		} else if (keys[i].type == K_LIST || keys[i].type == K_LISTEN ||
			   keys[i].type == K_CIDRS) {
			list_free(f);
		}
	}
	list_free(&cfg->transport);
	free(cfg->path);
	cfg->path = NULL;
}

struct load_ctx {
	struct config *cfg;
	FILE *fp;
	unsigned line;
	bool continuation; /* the line being handled began with white space */
	bool too_long;
	int prev_key;	   /* key of the previous handler call, -1 none */
	bool seen[NKEYS];
	unsigned err_line;
	char *err;
};

/* counting_reader: fgets for inih that counts lines and refuses lines
 * longer than inih's buffer (it would split them silently). */
static char *counting_reader(char *str, int num, void *stream)
{
	struct load_ctx *ctx = stream;
	if (ctx->too_long)
		return NULL;
	char *r = fgets(str, num, ctx->fp);
	if (r == NULL)
		return NULL;
	ctx->line++;
	if (strchr(r, '\n') == NULL && !feof(ctx->fp)) {
		ctx->too_long = true;
		return NULL;
	}
	ctx->continuation = r[0] == ' ' || r[0] == '\t';
	return r;
}

/* nexthop_valid: host, host:port, [host] or [host]:port, port 1-65535. */
static bool nexthop_valid(const char *s)
{
	const char *host = s, *end, *port = NULL;
	if (*s == '[') {
		end = strchr(s, ']');
		if (end == NULL || end == s + 1)
			return false;
		host = s + 1;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return false;
	} else {
		end = strrchr(s, ':');
		if (end != NULL && strchr(s, ':') != end)
			return false; /* IPv6 needs brackets */
		if (end != NULL)
			port = end + 1;
		else
			end = s + strlen(s);
	}
	if (end == host)
		return false;
	for (const char *p = host; p < end; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != ':' && *p != '_')
			return false;
	if (port != NULL) {
		uint64_t v;
		if (parse_u64_suffix(port, &v, "", NULL) < 0 || v < 1 || v > 65535)
			return false;
	}
	return true;
}

/* transport_key: [transport] DOMAIN = NEXTHOP, kept as "domain=nexthop". */
static int transport_key(struct load_ctx *ctx, const char *name, const char *value)
{
	struct cfg_list *l = &ctx->cfg->transport;
	char *dom = xstrdup(name);
	for (char *p = dom; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	bool ok = dom[0] != '\0';
	for (const char *p = dom; *p && ok; p++)
		ok = isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == '_';
	if (!ok) {
		ctx->err = xasprintf("[transport] %s: not a domain", name);
	} else if (!nexthop_valid(value)) {
		ctx->err = xasprintf("[transport] %s: '%s' is not host, host:port or [host]:port",
				     name, value);
	} else {
		size_t dn = strlen(dom);
		for (unsigned i = 0; i < l->n && ctx->err == NULL; i++)
			if (strncmp(l->v[i], dom, dn) == 0 && l->v[i][dn] == '=')
				ctx->err = xasprintf("[transport] %s: given twice", name);
	}
	if (ctx->err != NULL) {
		ctx->err_line = ctx->line;
		free(dom);
		return 0;
	}
	l->v = xreallocarray(l->v, l->n + 1, sizeof(char *));
	l->v[l->n++] = xasprintf("%s=%s", dom, value);
	free(dom);
	ctx->prev_key = -1;
	return 1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *ctx = user;
	if (ctx->err != NULL)
		return 1; /* report the first error only */
	if (strcmp(section, "transport") == 0)
		return transport_key(ctx, name, value);
	bool section_known = false;
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].section, section) != 0)
			continue;
		section_known = true;
		if (strcmp(keys[i].name, name) != 0)
			continue;
		if (ctx->seen[i] && ctx->continuation && ctx->prev_key == (int)i &&
		    (keys[i].type == K_LIST || keys[i].type == K_LISTEN || keys[i].type == K_CIDRS)) {
			/* an indented line continues a list */
			struct cfg_list *l = field(ctx->cfg, &keys[i]);
			struct cfg_list saved = *l;
			l->v = NULL;
			l->n = 0;
			char *msg = NULL;
			if (set_value(ctx->cfg, &keys[i], value, &msg) < 0) {
				ctx->err = xasprintf("[%s] %s: %s", section, name, msg);
				ctx->err_line = ctx->line;
				free(msg);
				list_free(&saved);
				return 0;
			}
			saved.v = xreallocarray(saved.v, saved.n + l->n, sizeof(char *));
			for (unsigned k = 0; k < l->n; k++)
				saved.v[saved.n++] = l->v[k];
			free(l->v);
			*l = saved;
			return 1;
		}
		if (ctx->seen[i]) {
			ctx->err = xasprintf("[%s] %s: given twice", section, name);
			ctx->err_line = ctx->line;
			return 0;
		}
		ctx->seen[i] = true;
		ctx->prev_key = (int)i;
		char *msg = NULL;
		if (set_value(ctx->cfg, &keys[i], value, &msg) < 0) {
			ctx->err = xasprintf("[%s] %s: %s", section, name, msg);
			ctx->err_line = ctx->line;
			free(msg);
			return 0;
		}
		return 1;
	}
	if (section[0] == '\0')
		ctx->err = xasprintf("%s: key outside of any section", name);
	else if (!section_known)
		ctx->err = xasprintf("[%s]: unknown section", section);
	else
		ctx->err = xasprintf("[%s] %s: unknown key", section, name);
	ctx->err_line = ctx->line;
	return 0;
}

static int validate(const struct config *cfg, char **error_r)
{
	if (strcmp(cfg->directory.driver, "mysql") == 0 && cfg->directory.database[0] == '\0') {
		*error_r = xasprintf("[directory] database: must be set for driver mysql");
		return -1;
	}
	if (cfg->tls.cert[0] != '\0' && cfg->tls.key[0] == '\0') {
		*error_r = xasprintf("[tls] key: must be set when cert is set");
		return -1;
	}
	for (unsigned i = 0; i < cfg->dns.stub_zones.n; i++) {
		const char *z = cfg->dns.stub_zones.v[i];
		const char *eq = strchr(z, '=');
		if (eq == NULL || eq == z || eq[1] == '\0') {
			*error_r = xasprintf("[dns] stub_zones: '%s' is not zone=addr[@port]", z);
			return -1;
		}
	}
	for (unsigned i = 0; i < cfg->tls.sni.n; i++) {
		const char *v = cfg->tls.sni.v[i];
		const char *c1 = strchr(v, ':');
		const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c1 == NULL || c1 == v || c2 == NULL || c2 == c1 + 1 || c2[1] == '\0' ||
		    strchr(c2 + 1, ':') != NULL) {
			*error_r = xasprintf("[tls] sni: '%s' is not NAME:CERT:KEY", v);
			return -1;
		}
	}
	if (cfg->tls.sni.n > 0 && cfg->tls.cert[0] == '\0') {
		*error_r = xasprintf("[tls] sni: needs a default cert and key");
		return -1;
	}
	if (cfg->queue.relayhost[0] != '\0' && !nexthop_valid(cfg->queue.relayhost)) {
		*error_r = xasprintf("[queue] relayhost: '%s' is not host, host:port or [host]:port",
				     cfg->queue.relayhost);
		return -1;
	}
	if (cfg->queue.maximal_backoff_time < cfg->queue.minimal_backoff_time) {
		*error_r = xasprintf("[queue] maximal_backoff_time: less than minimal_backoff_time");
		return -1;
	}
	if (cfg->queue.destination_concurrency_limit == 0 || cfg->queue.concurrency_limit == 0) {
		*error_r = xasprintf("[queue] concurrency limits must be at least 1");
		return -1;
	}
	if (cfg->queue.smtp_port == 0 || cfg->queue.smtp_port > 65535) {
		*error_r = xasprintf("[queue] smtp_port: not a port");
		return -1;
	}
	if (strlen(cfg->mail.recipient_delimiter) > 1) {
		*error_r = xasprintf("[mail] recipient_delimiter: one character or empty");
		return -1;
	}
	return 0;
}

/*
 * load_stream: parse fp into cfg, which holds the defaults and its path.
 * name is the file name errors start with. On failure cfg is freed and
 * *error_r set. 0 / -1.
 */
static int load_stream(const char *name, FILE *fp, struct config *cfg, char **error_r)
{
	struct load_ctx ctx;
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = cfg;
	ctx.prev_key = -1;
	ctx.fp = fp;
	int r = ini_parse_stream(counting_reader, &ctx, handler, &ctx);
	if (ctx.too_long && ctx.err == NULL) {
		*error_r = xasprintf("%s:%u: line too long (at most 198 characters; continue a "
				     "list on indented lines)",
				     name, ctx.line);
		config_free(cfg);
		return -1;
	}
	if (r != 0 || ctx.err != NULL) {
		if (ctx.err != NULL && (r == 0 || (unsigned)r >= ctx.err_line))
			*error_r = xasprintf("%s:%u: %s", name, ctx.err_line, ctx.err);
		else if (r > 0)
			*error_r = xasprintf("%s:%d: syntax error (expected [section] or key = value)",
					     name, r);
		else
			*error_r = xasprintf("%s: cannot parse", name);
		free(ctx.err);
		config_free(cfg);
		return -1;
	}
	char *msg = NULL;
	if (validate(cfg, &msg) < 0) {
		*error_r = xasprintf("%s: %s", name, msg);
		free(msg);
		config_free(cfg);
		return -1;
	}
	return 0;
}

int config_load(const char *path, struct config *cfg, char **error_r)
{
	config_defaults(cfg);
	cfg->path = xstrdup(path);
	FILE *fp = fopen(path, "r");
	if (fp == NULL) {
		*error_r = xasprintf("%s: cannot open: %s", path, strerror(errno));
		config_free(cfg);
		return -1;
	}
	int r = load_stream(path, fp, cfg, error_r);
	fclose(fp);
	return r;
}

int config_load_mem(const char *name, const char *data, size_t len, struct config *cfg,
		    char **error_r)
{
	static const char empty[1] = "";
	config_defaults(cfg);
	cfg->path = xstrdup(name);
	/* fmemopen never writes in mode "r"; the cast only drops const */
	FILE *fp = fmemopen((void *)(len > 0 ? data : empty), len, "r");
	if (fp == NULL) {
		*error_r = xasprintf("%s: cannot open: %s", name, strerror(errno));
		config_free(cfg);
		return -1;
	}
	int r = load_stream(name, fp, cfg, error_r);
	fclose(fp);
	return r;
}

static void format_value(const struct config *cfg, const struct key *k, struct buf *out)
{
	const void *f = cfield(cfg, k);
	switch (k->type) {
	case K_STR:
		buf_append_str(out, *(char *const *)f ? *(char *const *)f : "");
		break;
	case K_UINT:
		buf_appendf(out, "%u", *(const unsigned *)f);
		break;
	case K_WORKERS:
		if (*(const unsigned *)f == 0)
			buf_append_str(out, "auto");
		else
			buf_appendf(out, "%u", *(const unsigned *)f);
		break;
	case K_SIZE:
		buf_appendf(out, "%llu", (unsigned long long)*(const uint64_t *)f);
		break;
	case K_DURATION:
		buf_appendf(out, "%us", *(const unsigned *)f);
		break;
	case K_BOOL:
		buf_append_str(out, *(const bool *)f ? "yes" : "no");
		break;
	case K_LIST:
	case K_CIDRS:
	case K_LISTEN: {
		const struct cfg_list *l = f;
		for (unsigned i = 0; i < l->n; i++) {
			if (i > 0)
				buf_append_c(out, ' ');
			buf_append_str(out, l->v[i]);
		}
		break;
	}
	}
}

void config_print(const struct config *cfg, FILE *out)
{
	const char *section = NULL;
	struct buf v = BUF_INIT;
	for (size_t i = 0; i < NKEYS; i++) {
		if (section == NULL || strcmp(section, keys[i].section) != 0) {
			fprintf(out, "%s[%s]\n", section ? "\n" : "", keys[i].section);
			section = keys[i].section;
		}
		buf_reset(&v);
		format_value(cfg, &keys[i], &v);
		bool is_list = keys[i].type == K_LIST || keys[i].type == K_LISTEN ||
			       keys[i].type == K_CIDRS;
		if (keys[i].secret && v.len > 0) {
			fprintf(out, "%s = ********\n", keys[i].name);
		} else if (is_list && strlen(keys[i].name) + 3 + v.len > 150) {
			/* long lists go on indented continuation lines, as a file
			 * may write them (a line holds at most 198 characters) */
			const struct cfg_list *l = cfield(cfg, &keys[i]);
			fprintf(out, "%s = %s\n", keys[i].name, l->v[0]);
			for (unsigned k = 1; k < l->n; k++)
				fprintf(out, "\t%s\n", l->v[k]);
		} else {
			fprintf(out, "%s = %s\n", keys[i].name, buf_cstr(&v));
		}
	}
	if (cfg->transport.n > 0) {
		fprintf(out, "\n[transport]\n");
		for (unsigned i = 0; i < cfg->transport.n; i++) {
			const char *t = cfg->transport.v[i];
			const char *eq = strchr(t, '=');
			fprintf(out, "%.*s = %s\n", (int)(eq - t), t, eq + 1);
		}
	}
	buf_free(&v);
}

void config_print_reference(FILE *out)
{
	for (size_t i = 0; i < NKEYS; i++)
		fprintf(out, "| `[%s] %s` | `%s` | %s |\n", keys[i].section, keys[i].name,
			keys[i].def, keys[i].doc);
	fprintf(out, "| `[transport] DOMAIN` | `` | Any key is a domain (or .domain for its "
		     "subdomains) whose mail goes to the host:port or [host]:port given, without MX "
		     "lookup. |\n");
}
