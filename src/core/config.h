/*
 * config - the one INI file of vmaild (/etc/vmaild/vmaild.conf).
 *
 * Owns: struct config, filled from a file by config_load(). Every key has
 * a default that is right for a single-box install of the guide; the
 * table in config.c is the single list of sections and keys (docs/
 * configuration.md documents each). An unknown section or key, a bad
 * value, a key given twice or a missing file is an error naming the file,
 * the line and the key. The struct is immutable once loaded; a reload
 * loads a new one and swaps it in whole.
 *
 * Returns: config_load() and config_load_mem() 0 / -1 with a malloc'd
 * message in *error_r.
 */
#ifndef VMAILD_CORE_CONFIG_H
#define VMAILD_CORE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* A list value: items split on commas and white space. */
struct cfg_list {
	char **v;
	unsigned n;
};

struct config_server {
	char *hostname;	 /* default: gethostname() */
	char *state_dir; /* queue, pid file, runtime state */
	char *user;	 /* workers and queue drop to this user when started as root */
	char *group;
	char *lookup_user; /* the lookup process (DB credentials, keys) */
	unsigned workers;  /* 0 = one per core */
	char *log;	   /* "stderr" or "syslog" */
	char *log_level;   /* debug | info | warn | error */
};

struct config_listen {
	struct cfg_list smtp, smtps, submission, imap, imaps, sieve, http, https;
};

struct config_tls {
	char *cert;
	char *key;
	struct cfg_list sni; /* NAME:CERT:KEY items: other certificates by SNI */
};

struct config_directory {
	char *driver; /* sqlite | mysql */
	char *path;   /* sqlite file */
	char *host;   /* mysql: host name, or empty for the socket */
	unsigned port;
	char *socket;
	char *database;
	char *user;
	char *password;
	char *admin_user; /* vmailctl's credentials; the daemon never uses them */
	char *admin_password;
	unsigned cache_ttl; /* seconds a lookup answer is reused */
	unsigned timeout;   /* seconds a query may take before it is a temporary failure */
	unsigned threads;   /* lookup process worker threads */
};

struct config_mail {
	char *home;	/* mail_home, with %d (domain) and %n (local part) */
	char *location; /* maildir below home */
	char *recipient_delimiter;
	uint64_t message_size_limit;
	char *postmaster;
};

struct config_smtpd {
	struct cfg_list mynetworks; /* CIDRs treated as our own (relay, HELO checks) */
	bool helo_required;
	bool reject_unknown_helo_hostname;   /* HELO name needs an A, AAAA or MX record */
	bool reject_unknown_client_hostname; /* client needs PTR + matching A/AAAA */
	char *without_ptr;		     /* file of addresses/CIDRs exempt from that */
	unsigned greet_pause;		     /* seconds before the greeting (early talkers) */
	unsigned line_length_limit;	     /* command line, bytes */
	unsigned recipient_limit;	     /* recipients per message */
	unsigned timeout;		     /* seconds per command */
	unsigned data_timeout;		     /* seconds between DATA/BDAT reads */
	unsigned hard_error_limit;	     /* errors before disconnect */
	unsigned client_connection_limit;    /* simultaneous connections per client IP */
	unsigned messages_per_connection;    /* 0 = unlimited */
	bool disable_vrfy_command;
	unsigned hopcount_limit; /* Received: headers before a loop is assumed */
	unsigned auth_failure_delay;	 /* seconds before a failed AUTH is answered */
	unsigned auth_failure_max_delay; /* cap of the doubling delay */
};

struct config_imap {
	unsigned timeout;		   /* autologout after login, seconds */
	unsigned login_timeout;		   /* before login */
	uint64_t max_line;		   /* command text after login, bytes */
	uint64_t max_literal;		   /* one buffered literal after login */
	unsigned max_userip_connections;   /* per user and client IP, 0 = no limit */
	unsigned client_connection_limit;  /* per client IP (all protocols), 0 = no limit */
	bool disable_plaintext_auth;	   /* LOGIN/AUTHENTICATE only with TLS ... */
	bool loopback_secure;		   /* ... or from 127.0.0.0/8 and ::1 when set */
	unsigned auth_failure_delay;	   /* seconds before a failed login is answered */
	unsigned auth_failure_max_delay;   /* cap of the doubling delay */
};

struct config_dns {
	struct cfg_list forwarders; /* addr[@port]; empty = full recursion */
	struct cfg_list stub_zones; /* zone=addr[@port] */
	char *trust_anchor_file;    /* empty = DNSSEC off unless dnssec = yes */
	bool dnssec;		    /* use the root trust anchor of dns-root-data */
	unsigned timeout;	    /* seconds before a query is a temporary failure */
};

struct config_queue {
	unsigned maximal_queue_lifetime; /* seconds a message may wait before it bounces */
	unsigned bounce_queue_lifetime;	 /* the same for our own bounces */
	unsigned minimal_backoff_time;	 /* first retry delay, doubled per attempt ... */
	unsigned maximal_backoff_time;	 /* ... up to this */
	unsigned queue_run_delay;	 /* how often the spool directory is scanned */
	unsigned destination_concurrency_limit; /* connections per destination */
	unsigned concurrency_limit;		/* connections in all */
	char *relayhost;			/* "" or host:port / [host]:port for all remote mail */
	unsigned smtp_port;			/* port of MX hosts */
	unsigned connect_timeout;
	unsigned command_timeout;
	unsigned data_timeout;
	unsigned connection_cache_time; /* an idle connection is kept this long for reuse */
	bool starttls;			/* opportunistic STARTTLS */
};

struct config {
	char *path;
	struct config_server server;
	struct config_listen listen;
	struct config_tls tls;
	struct config_directory directory;
	struct config_mail mail;
	struct config_smtpd smtpd;
	struct config_imap imap;
	struct config_dns dns;
	struct config_queue queue;
	/* [transport]: "domain=host:port" items, any key is a domain */
	struct cfg_list transport;
};

#define VMAILD_DEFAULT_CONFIG "/etc/vmaild/vmaild.conf"

/* config_defaults: a config holding every default (no file read). */
void config_defaults(struct config *cfg);
int config_load(const char *path, struct config *cfg, char **error_r);
/* config_load_mem: the same as config_load() for the len bytes at data
 * (need not be NUL-terminated); name stands for the file name in
 * cfg->path and in error messages. */
int config_load_mem(const char *name, const char *data, size_t len, struct config *cfg,
		    char **error_r);
void config_free(struct config *cfg);
/* config_print: every section and key with its effective value, in the
 * file's syntax; secrets are printed as "********". */
void config_print(const struct config *cfg, FILE *out);
/* config_print_reference: every key, its default and its doc line, as a
 * Markdown table body (docs/configuration.md is checked against it). */
void config_print_reference(FILE *out);

/* Value parsers, shared with command-line tools. 0 / -1. */
int config_parse_duration(const char *s, unsigned *secs_r);
int config_parse_size(const char *s, uint64_t *bytes_r);
int config_parse_bool(const char *s, bool *b_r);

#endif
