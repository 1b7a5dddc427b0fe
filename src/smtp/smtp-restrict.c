/*
 * smtp-restrict.c - the guide's client and HELO restrictions.
 *
 *   smtpd_client_restrictions = permit_mynetworks,
 *       check_client_access hash:/etc/postfix/without_ptr,
 *       reject_unknown_client_hostname
 *   smtpd_helo_restrictions = permit_mynetworks,
 *       reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname,
 *       reject_unknown_helo_hostname
 *
 * The client's name is looked up before the greeting (PTR, then the
 * name's A/AAAA must contain the client address: Postfix's "verified"
 * name); the HELO name's A/AAAA/MX lookup starts at HELO. Both verdicts
 * are given at RCPT TO, as Postfix does with smtpd_delay_reject = yes;
 * a verdict still waiting for DNS holds the RCPT until it arrives.
 * Codes are Postfix's defaults: 450 for unknown names (a DNS problem may
 * pass), 501 invalid HELO syntax, 504 non-FQDN HELO.
 */
#include "smtp/smtp-private.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "net/dns.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int restrict_load_list(const char *path, struct cidr **list_r, unsigned *n_r, char **error_r)
{
	*list_r = NULL;
	*n_r = 0;
	if (path == NULL || path[0] == '\0')
		return 0;
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		*error_r = xasprintf("[smtpd] without_ptr: %s: %s", path, strerror(errno));
		return -1;
	}
	char line[512];
	unsigned lineno = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		char *p = line;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '#' || *p == '\0')
			continue;
		char *end = p;
		while (*end != '\0' && !isspace((unsigned char)*end))
			end++;
		*end = '\0';
		/* Postfix's table format "1.2.3.4 OK" is accepted: the action is ignored */
		struct cidr c;
		if (cidr_parse(p, &c) < 0) {
			*error_r = xasprintf("[smtpd] without_ptr: %s:%u: '%s' is not an address "
					     "or network",
					     path, lineno, p);
			fclose(f);
			free(*list_r);
			*list_r = NULL;
			*n_r = 0;
			return -1;
		}
		*list_r = xreallocarray(*list_r, *n_r + 1, sizeof(**list_r));
		(*list_r)[(*n_r)++] = c;
	}
	fclose(f);
	return 0;
}

void restrict_cancel(struct smtp_session *s)
{
	if (s->dnsq != NULL)
		dns_query_cancel(&s->dnsq);
}

/* ---- client name: PTR, then forward confirmation ---- */

static void client_done(struct smtp_session *s, const char *name, bool temp)
{
	s->client_name_checked = true;
	s->client_name_temp = temp;
	if (name != s->client_name)
		snprintf(s->client_name, sizeof(s->client_name), "%s", name ? name : "unknown");
	log_info("sid=%s event=client_name client=%s[%s]%s", s->sid, log_esc(s->client_name),
		 s->client_ip, temp ? " dns=tempfail" : "");
	session_resume(s);
}

static void on_forward(const struct dns_result *r, void *arg)
{
	struct smtp_session *s = arg;
	s->dnsq = NULL;
	if (r->status == DNS_OK) {
		for (unsigned i = 0; i < r->n; i++) {
			if (strcmp(r->addr[i].str, s->client_ip) == 0) {
				client_done(s, s->client_name, false);
				return;
			}
		}
	}
	/* the PTR name does not point back: unverified */
	char name[256];
	snprintf(name, sizeof(name), "%s", s->client_name);
	log_info("sid=%s event=client_name_mismatch ptr=%s client_ip=%s", s->sid, log_esc(name),
		 s->client_ip);
	client_done(s, "unknown", r->status == DNS_TEMPFAIL);
}

static void on_ptr(const struct dns_result *r, void *arg)
{
	struct smtp_session *s = arg;
	s->dnsq = NULL;
	if (r->status != DNS_OK || r->n == 0) {
		client_done(s, "unknown", r->status == DNS_TEMPFAIL);
		return;
	}
	snprintf(s->client_name, sizeof(s->client_name), "%s", r->ptr[0]);
	bool v6 = strchr(s->client_ip, ':') != NULL;
	s->dnsq = dns_query(s->srv->env.dns, r->ptr[0], v6 ? DNS_T_AAAA : DNS_T_A, on_forward, s);
}

bool restrict_client_start(struct smtp_session *s)
{
	if (s->mynetworks || !s->srv->cfg->smtpd.reject_unknown_client_hostname ||
	    s->srv->env.dns == NULL)
		return false;
	if (cidr_list_match(s->srv->without_ptr, s->srv->nwithout_ptr,
			    (struct sockaddr *)&s->peer))
		return false;
	char name[128];
	if (dns_reverse_name(s->client_ip, name, sizeof(name)) < 0)
		return false;
	s->dnsq = dns_query(s->srv->env.dns, name, DNS_T_PTR, on_ptr, s);
	return s->dnsq != NULL;
}

/* ---- HELO name ---- */

static void on_helo_mx(const struct dns_result *r, void *arg);

static void helo_done(struct smtp_session *s, int found)
{
	s->helo_checked = true;
	s->helo_dns = found;
	if (s->held_line != NULL) {
		/* an RCPT was waiting for this verdict: run it again now */
		char *line = s->held_line;
		s->held_line = NULL;
		s->busy = false;
		session_redispatch(s, line, strlen(line));
		free(line);
		if (!s->busy)
			session_resume(s);
	}
}

static void on_helo_a(const struct dns_result *r, void *arg)
{
	struct smtp_session *s = arg;
	s->dnsq = NULL;
	if (r->status == DNS_OK) {
		helo_done(s, 1);
		return;
	}
	s->dnsq = dns_query(s->srv->env.dns, s->helo, DNS_T_MX, on_helo_mx, s);
	if (s->dnsq == NULL)
		helo_done(s, -1);
}

static void on_helo_mx(const struct dns_result *r, void *arg)
{
	struct smtp_session *s = arg;
	s->dnsq = NULL;
	if (r->status == DNS_OK)
		helo_done(s, 1);
	else
		helo_done(s, r->status == DNS_TEMPFAIL ? -1 : 0);
}

bool restrict_helo_start(struct smtp_session *s)
{
	if (s->srv->env.dns == NULL || s->helo == NULL)
		return false;
	unsigned flags = 0;
	enum address_error err;
	if (address_parse_domain(s->helo, strlen(s->helo), 0, &flags, &err) < 0 ||
	    (flags & ADDRESS_LITERAL) || !address_domain_is_fqdn(s->helo))
		return false; /* syntax checks decide for these */
	s->helo_checked = false;
	s->dnsq = dns_query(s->srv->env.dns, s->helo, DNS_T_A, on_helo_a, s);
	return s->dnsq != NULL;
}

/* restrict_rcpt_client: true when the RCPT was answered (rejected) or is
 * held waiting for DNS (then s->busy is set and the line is kept). */
bool restrict_rcpt_client(struct smtp_session *s)
{
	const struct config *cfg = s->srv->cfg;
	if (s->mynetworks)
		return false;
	if (cfg->smtpd.reject_unknown_client_hostname && s->srv->env.dns != NULL &&
	    s->client_name_checked && strcmp(s->client_name, "unknown") == 0) {
		session_reject(s, "RCPT",
			       "450 4.7.25 Client host rejected: cannot find your %shostname, [%s]",
			       s->client_name_temp ? "" : "reverse ", s->client_ip);
		return true;
	}
	if (s->helo != NULL) {
		unsigned flags = 0;
		enum address_error err;
		if (address_parse_domain(s->helo, strlen(s->helo), 0, &flags, &err) < 0) {
			session_reject(s, "RCPT", "501 5.5.2 <%s>: Helo command rejected: Invalid name",
				       s->helo);
			return true;
		}
		if (!(flags & ADDRESS_LITERAL) && !address_domain_is_fqdn(s->helo)) {
			session_reject(s, "RCPT",
				       "504 5.5.2 <%s>: Helo command rejected: need fully-qualified "
				       "hostname",
				       s->helo);
			return true;
		}
		if (cfg->smtpd.reject_unknown_helo_hostname && s->srv->env.dns != NULL &&
		    !(flags & ADDRESS_LITERAL)) {
			if (!s->helo_checked && s->dnsq == NULL && !restrict_helo_start(s))
				s->helo_checked = true;
			if (!s->helo_checked) {
				/* hold this RCPT until the HELO lookup answers */
				s->held_line = xstrndup(s->cur_line, s->cur_len);
				s->busy = true;
				return true;
			}
			if (s->helo_dns != 1) {
				session_reject(s, "RCPT",
					       "450 4.7.1 <%s>: Helo command rejected: Host not found",
					       s->helo);
				return true;
			}
		}
	}
	return false;
}
