/*
 * imap-cmd-auth.c - STARTTLS (RFC 9051 6.2.1, RFC 2595), LOGIN (6.2.3)
 * and AUTHENTICATE (6.2.2, RFC 4959 SASL-IR) with the mechanisms PLAIN
 * (RFC 4616) and LOGIN, and what follows a successful login.
 *
 * Rules (the guide's Dovecot): the login is the full address, lower-
 * cased (auth_username_format = %Lu); the password is verified by the
 * lookup process, never here, never logged. Plaintext logins need TLS
 * ([imap] disable_plaintext_auth), except from loopback when [imap]
 * loopback_secure is set; otherwise LOGINDISABLED is advertised and
 * LOGIN/AUTHENTICATE get NO [PRIVACYREQUIRED]. Wrong password, unknown,
 * disabled and send-only accounts all get
 * "NO [AUTHENTICATIONFAILED] Authentication failed." after the same
 * delay: [imap] auth_failure_delay, doubled per recent failure from the
 * same address or for the same login (counters shared with SMTP AUTH,
 * net/conn-limit.h), capped by auth_failure_max_delay.
 *
 * After the password: max_userip_connections (per user and client
 * address, over all workers: NO [LIMIT]), then a pool job creates the
 * Maildir root and the guide's auto-subscribed folders Spam, Trash,
 * Drafts and Sent when they are missing, then OK [CAPABILITY ...].
 */
#include "imap/imap-private.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/xalloc.h"
#include "directory/lookup.h"
#include "net/conn-limit.h"

#include <ctype.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

enum auth_step { AUTH_NONE, AUTH_PLAIN_WAIT, AUTH_LOGIN_USER, AUTH_LOGIN_PASS, AUTH_CHECKING };

static const char *const special_folders[] = {"Spam", "Trash", "Drafts", "Sent"};

/* ---- STARTTLS ---- */

int imap_cmd_starttls(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->count != 0) {
		imap_tagged(s, "BAD", "STARTTLS takes no arguments.");
		return 1;
	}
	if (s->srv->env.tls == NULL) {
		imap_tagged(s, "BAD", "TLS support isn't enabled.");
		return 1;
	}
	if (s->tls) {
		imap_tagged(s, "BAD", "TLS is already active.");
		return 1;
	}
	if (imap_parser_pending(&s->parser) > 0 ||
	    evbuffer_get_length(bufferevent_get_input(s->bev)) > 0) {
		/* RFC 2595 / CVE-2011-0411: nothing may follow before the handshake */
		log_info("sid=%s event=reject reason=starttls_injection client_ip=%s", s->sid,
		         s->client_ip);
		imap_tagged(s, "BAD", "STARTTLS followed by more commands.");
		imap_untagged(s, "BYE Command injection after STARTTLS.");
		imap_close(s);
		return 1;
	}
	imap_tagged(s, "OK", "Begin TLS negotiation now.");
	if (imap_session_start_tls(s) < 0) {
		log_warn("sid=%s event=starttls_failed client_ip=%s", s->sid, s->client_ip);
		imap_close(s);
		return 1;
	}
	log_info("sid=%s event=starttls client_ip=%s", s->sid, s->client_ip);
	return 1;
}

/* ---- checking a login ---- */

void imap_auth_cancel(struct imap_session *s)
{
	if (s->auth_timer != NULL) {
		event_free(s->auth_timer);
		s->auth_timer = NULL;
	}
	if (s->lookup_id != 0) {
		lookup_cancel(s->srv->env.lookup, s->lookup_id);
		s->lookup_id = 0;
	}
	free(s->auth_login);
	s->auth_login = NULL;
	free(s->auth_try);
	s->auth_try = NULL;
	s->auth_step = AUTH_NONE;
}

static void on_fail_timer(evutil_socket_t fd, short what, void *arg)
{
	struct imap_session *s = arg;
	(void)fd;
	(void)what;
	event_free(s->auth_timer);
	s->auth_timer = NULL;
	s->auth_step = AUTH_NONE;
	imap_tagged(s, "NO", "[AUTHENTICATIONFAILED] Authentication failed.");
	imap_cmd_done(s);
}

/* auth_failed: answer after the (doubling) delay */
static void auth_failed(struct imap_session *s, const char *user, const char *why)
{
	char ipkey[96], userkey[320];
	snprintf(ipkey, sizeof(ipkey), "ip:%s", s->client_ip);
	snprintf(userkey, sizeof(userkey), "user:%s", user ? user : "");
	struct conn_limit *cl = s->srv->env.conn_limit;
	unsigned n = 0;
	if (cl != NULL) {
		n = conn_limit_fail_count(cl, ipkey);
		if (user != NULL && user[0] != '\0' && conn_limit_fail_count(cl, userkey) > n)
			n = conn_limit_fail_count(cl, userkey);
		conn_limit_fail_add(cl, ipkey);
		if (user != NULL && user[0] != '\0')
			conn_limit_fail_add(cl, userkey);
	}
	const struct config_imap *c = &s->srv->cfg->imap;
	unsigned long delay = c->auth_failure_delay;
	for (unsigned i = 0; i < n && delay < c->auth_failure_max_delay; i++)
		delay *= 2;
	if (delay > c->auth_failure_max_delay)
		delay = c->auth_failure_max_delay;
	log_info("sid=%s event=auth_failed user=%s client_ip=%s reason=%s failures=%u delay=%lus",
	         s->sid, log_esc(user ? user : ""), s->client_ip, why, n + 1, delay);
	s->auth_step = AUTH_CHECKING;
	s->auth_timer = evtimer_new(s->srv->env.base, on_fail_timer, s);
	struct timeval tv = {(time_t)delay, 0};
	evtimer_add(s->auth_timer, &tv);
}

/* ---- after the password: folders, then OK ---- */

struct login_job {
	struct imap_session *s;
	char *root, *base;
	int ret;
	char *error;
	unsigned created;
};

static void login_work(void *arg)
{
	struct login_job *j = arg;
	const char *err;
	if (maildir_create(j->root, j->base, &err) < 0) {
		j->ret = -1;
		j->error = xstrdup(err);
		return;
	}
	for (size_t i = 0; i < sizeof(special_folders) / sizeof(special_folders[0]); i++) {
		int r = imap_folder_create(j->root, special_folders[i], &err);
		if (r < 0) {
			j->ret = -1;
			j->error = xstrdup(err);
			return;
		}
		if (r == 0)
			continue;
		j->created++;
		/* the guide: auto = subscribe */
		if (subscriptions_set(j->root, special_folders[i], true,
		                      SUBSCRIPTIONS_LOCK_TIMEOUT_SECS, &err) < 0) {
			j->ret = -1;
			j->error = xstrdup(err);
			return;
		}
	}
}

static void login_done(void *arg)
{
	struct login_job *j = arg;
	struct imap_session *s = j->s;
	if (imap_job_end(s)) {
		if (j->ret < 0) {
			log_error("sid=%s event=login_setup_failed user=%s error=\"%s\"", s->sid,
			          log_esc(s->user), log_esc(j->error));
			imap_tagged(s, "NO",
			            "[SERVERBUG] Internal error occurred. Refer to server "
			            "log for more information.");
			if (s->userip_key != NULL && s->srv->env.conn_limit != NULL)
				conn_limit_key_release(s->srv->env.conn_limit, s->userip_key);
			free(s->userip_key);
			s->userip_key = NULL;
			free(s->user);
			s->user = NULL;
			store_user_deinit(&s->store);
		} else {
			log_info(
			    "sid=%s event=login user=%s client_ip=%s tls=%s folders_created=%u",
			    s->sid, log_esc(s->user), s->client_ip, s->tls ? "yes" : "no",
			    j->created);
			imap_enter_state(s, IMAP_STATE_AUTH);
			imap_session_parser_auth(s);
			struct buf b = BUF_INIT;
			imap_capability(s, &b);
			imap_tagged(s, "OK", "[CAPABILITY %s] Logged in", buf_cstr(&b));
			buf_free(&b);
		}
		imap_cmd_done(s);
	}
	free(j->root);
	free(j->base);
	free(j->error);
	free(j);
}

static void on_auth_lookup(const struct lookup_reply *r, void *arg)
{
	struct imap_session *s = arg;
	s->lookup_id = 0;
	char *user = s->auth_try;
	s->auth_try = NULL;
	if (r->status == LOOKUP_TEMPFAIL) {
		s->auth_step = AUTH_NONE;
		log_warn("sid=%s event=auth_tempfail user=%s error=\"%s\"", s->sid, log_esc(user),
		         log_esc(r->error ? r->error : ""));
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary authentication failure.");
		free(user);
		imap_cmd_done(s);
		return;
	}
	if (r->status != LOOKUP_OK || r->address == NULL || r->sendonly) {
		/* send-only accounts may send, never read: same answer as a wrong password */
		auth_failed(s, user, r->status == LOOKUP_OK ? "sendonly" : "denied");
		free(user);
		return;
	}
	free(user);
	s->auth_step = AUTH_NONE;
	const char *addr = r->address;
	const struct config_imap *c = &s->srv->cfg->imap;
	char *key = xasprintf("imap:%s\n%s", addr, s->client_ip);
	if (s->srv->env.conn_limit != NULL) {
		unsigned n = conn_limit_key_acquire(s->srv->env.conn_limit, key);
		if (c->max_userip_connections > 0 && n > c->max_userip_connections) {
			conn_limit_key_release(s->srv->env.conn_limit, key);
			free(key);
			log_info("sid=%s event=reject reason=userip_limit user=%s client_ip=%s "
			         "count=%u limit=%u",
			         s->sid, log_esc(addr), s->client_ip, n, c->max_userip_connections);
			imap_tagged(s, "NO",
			            "[LIMIT] Maximum number of connections from user+IP exceeded "
			            "(mail_max_userip_connections=%u)",
			            c->max_userip_connections);
			imap_cmd_done(s);
			return;
		}
		s->userip_key = key;
	} else {
		free(key);
	}
	const char *at = strrchr(addr, '@');
	char *local = at ? xstrndup(addr, (size_t)(at - addr)) : NULL;
	const char *err = "address without a domain";
	if (local == NULL ||
	    store_user_init(&s->store, &s->srv->cfg->mail, local, at + 1, &err) < 0) {
		log_error("sid=%s event=login_setup_failed user=%s error=\"%s\"", s->sid,
		          log_esc(addr), log_esc(err));
		free(local);
		if (s->userip_key != NULL)
			conn_limit_key_release(s->srv->env.conn_limit, s->userip_key);
		free(s->userip_key);
		s->userip_key = NULL;
		imap_tagged(s, "NO",
		            "[SERVERBUG] Internal error occurred. Refer to server log "
		            "for more information.");
		imap_cmd_done(s);
		return;
	}
	free(local);
	s->user = xstrdup(addr);
	s->quota_mb = r->quota_mb;
	struct login_job *j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->root = xstrdup(s->store.root);
	j->base = xstrdup(s->store.base);
	imap_job_begin(s);
	pool_submit(s->srv->env.pool, login_work, login_done, j);
}

/* check: hand user and password to the lookup process */
static void check(struct imap_session *s, const char *user, const char *pass)
{
	char *lower = xstrdup(user);
	for (char *p = lower; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	s->auth_step = AUTH_CHECKING;
	s->auth_try = lower;
	s->lookup_id = lookup_auth(s->srv->env.lookup, lower, pass, on_auth_lookup, s);
}

static int privacy_check(struct imap_session *s)
{
	if (imap_plaintext_allowed(s))
		return 0;
	log_info("sid=%s event=reject reason=plaintext_auth client_ip=%s", s->sid, s->client_ip);
	imap_tagged(s, "NO",
	            "[PRIVACYREQUIRED] Plaintext authentication disallowed on "
	            "non-secure (SSL/TLS) connections.");
	return -1;
}

int imap_cmd_login(struct imap_session *s, const struct imap_command *cmd)
{
	const char *user, *pass;
	size_t ul, pl;
	if (cmd->count != 2 || !imap_arg_astring(&cmd->args[0], &user, &ul) ||
	    !imap_arg_astring(&cmd->args[1], &pass, &pl)) {
		imap_tagged(s, "BAD", "Invalid arguments.");
		return 1;
	}
	if (privacy_check(s) < 0)
		return 1;
	if (memchr(user, '\0', ul) != NULL || memchr(pass, '\0', pl) != NULL || ul == 0) {
		auth_failed(s, "", "malformed");
		return 0;
	}
	check(s, user, pass);
	return 0;
}

/* ---- AUTHENTICATE ---- */

static unsigned char *b64_decode(const char *in, size_t len, size_t *out_len)
{
	if (len == 1 && in[0] == '=') { /* RFC 4959: an empty initial response */
		*out_len = 0;
		return (unsigned char *)xstrdup("");
	}
	if (len % 4 != 0 || len > 16384)
		return NULL;
	unsigned char *out = xmalloc(len / 4 * 3 + 1);
	int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	if (n < 0) {
		free(out);
		return NULL;
	}
	if (len >= 1 && in[len - 1] == '=')
		n--;
	if (len >= 2 && in[len - 2] == '=')
		n--;
	out[n] = '\0';
	*out_len = (size_t)n;
	return out;
}

static void auth_line(struct imap_session *s, const char *line, size_t len);

static void auth_bad(struct imap_session *s, const char *text)
{
	free(s->auth_login);
	s->auth_login = NULL;
	s->auth_step = AUTH_NONE;
	imap_tagged(s, "BAD", "%s", text);
	imap_cmd_done(s);
}

static void continue_with(struct imap_session *s, const char *challenge)
{
	imap_printf(s, "+ %s\r\n", challenge);
	imap_parser_read_line(&s->parser);
	s->line_cb = auth_line;
}

static void plain(struct imap_session *s, const char *b64, size_t len)
{
	size_t n;
	unsigned char *d = b64_decode(b64, len, &n);
	if (d == NULL) {
		auth_bad(s, "Invalid base64 data in continued response");
		return;
	}
	/* authzid NUL authcid NUL passwd */
	const unsigned char *z1 = memchr(d, '\0', n);
	const unsigned char *z2 = z1 ? memchr(z1 + 1, '\0', n - (size_t)(z1 + 1 - d)) : NULL;
	if (z1 == NULL || z2 == NULL || memchr(z2 + 1, '\0', n - (size_t)(z2 + 1 - d)) != NULL) {
		OPENSSL_cleanse(d, n);
		free(d);
		s->auth_step = AUTH_NONE;
		auth_failed(s, "", "malformed");
		return;
	}
	const char *authz = (const char *)d, *user = (const char *)z1 + 1,
	           *pass = (const char *)z2 + 1;
	if (user[0] == '\0' || (authz[0] != '\0' && strcasecmp(authz, user) != 0))
		auth_failed(s, user, "authzid"); /* acting for another user is not offered */
	else
		check(s, user, pass);
	OPENSSL_cleanse(d, n);
	free(d);
}

/* auth_line: a SASL response line (NULL: it was refused by the parser) */
static void auth_line(struct imap_session *s, const char *line, size_t len)
{
	if (line == NULL) {
		free(s->auth_login);
		s->auth_login = NULL;
		s->auth_step = AUTH_NONE;
		imap_tagged(s, "BAD", "Authentication response too long.");
		imap_cmd_done(s);
		return;
	}
	if (len == 1 && line[0] == '*') {
		auth_bad(s, "Authentication aborted by client.");
		return;
	}
	switch (s->auth_step) {
	case AUTH_PLAIN_WAIT:
		plain(s, line, len);
		break;
	case AUTH_LOGIN_USER: {
		size_t n;
		unsigned char *u = b64_decode(line, len, &n);
		if (u == NULL || memchr(u, '\0', n) != NULL) {
			free(u);
			auth_bad(s, "Invalid base64 data in continued response");
			return;
		}
		s->auth_login = (char *)u;
		s->auth_step = AUTH_LOGIN_PASS;
		continue_with(s, "UGFzc3dvcmQ6");
		break;
	}
	case AUTH_LOGIN_PASS: {
		size_t n;
		unsigned char *p = b64_decode(line, len, &n);
		char *user = s->auth_login;
		s->auth_login = NULL;
		if (p == NULL || memchr(p, '\0', n) != NULL) {
			free(p);
			free(user);
			auth_bad(s, "Invalid base64 data in continued response");
			return;
		}
		check(s, user, (const char *)p);
		OPENSSL_cleanse(p, n);
		free(p);
		free(user);
		break;
	}
	default:
		auth_bad(s, "Unexpected authentication response.");
		break;
	}
}

int imap_cmd_authenticate(struct imap_session *s, const struct imap_command *cmd)
{
	const char *mech, *ir = NULL;
	size_t irlen = 0;
	if (cmd->count < 1 || cmd->count > 2 || !imap_arg_atom(&cmd->args[0], &mech) ||
	    (cmd->count == 2 && !imap_arg_atom(&cmd->args[1], &ir))) {
		imap_tagged(s, "BAD", "Invalid arguments.");
		return 1;
	}
	if (ir != NULL)
		irlen = strlen(ir);
	if (strcasecmp(mech, "PLAIN") != 0 && strcasecmp(mech, "LOGIN") != 0) {
		imap_tagged(s, "NO", "Unsupported authentication mechanism.");
		return 1;
	}
	if (privacy_check(s) < 0)
		return 1;
	if (strcasecmp(mech, "PLAIN") == 0) {
		if (ir != NULL) {
			s->auth_step = AUTH_PLAIN_WAIT;
			plain(s, ir, irlen);
			return 0;
		}
		s->auth_step = AUTH_PLAIN_WAIT;
		continue_with(s, "");
		return 0;
	}
	s->auth_step = AUTH_LOGIN_USER;
	if (ir != NULL) {
		auth_line(s, ir, irlen);
		return 0;
	}
	continue_with(s, "VXNlcm5hbWU6");
	return 0;
}
