/*
 * cmd-auth.c - AUTH on the submission services (RFC 4954; mechanisms
 * PLAIN, RFC 4616, and LOGIN).
 *
 * The guide's smtpd_tls_auth_only: AUTH is offered and accepted only
 * over TLS. The password is checked by the lookup process (never here,
 * never logged). Every refusal - wrong password, unknown or disabled
 * account - gets the same answer after the same delay, so nothing tells
 * whether an account exists. The delay is [smtpd] auth_failure_delay,
 * doubled for each recent failure from the same client address or for
 * the same login, up to auth_failure_max_delay: brute force slows down
 * per address and per account. The counts are shared by all workers
 * (net/conn-limit.h) and forgotten after 15 minutes without failures.
 */
#include "smtp/smtp-private.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "net/conn-limit.h"

#include <ctype.h>

#include <openssl/evp.h>
#include <string.h>
#include <time.h>

enum auth_step { AUTH_NONE, AUTH_PLAIN_WAIT, AUTH_LOGIN_USER, AUTH_LOGIN_PASS, AUTH_CHECKING };

bool session_is_submission(const struct smtp_session *s)
{
	return s->service == SMTP_SERVICE_SUBMISSION || s->service == SMTP_SERVICE_SUBMISSIONS;
}

/* b64_decode: strict base64 of len bytes into a malloc'd buffer; NULL on error. */
static unsigned char *b64_decode(const char *in, size_t len, size_t *out_len)
{
	if (len == 1 && in[0] == '=') { /* RFC 4954: an empty initial response */
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

void auth_cancel(struct smtp_session *s)
{
	if (s->auth_timer != NULL) {
		event_free(s->auth_timer);
		s->auth_timer = NULL;
	}
	free(s->auth_login);
	s->auth_login = NULL;
	free(s->auth_failed_user);
	s->auth_failed_user = NULL;
	s->auth_step = AUTH_NONE;
}

static void on_fail_timer(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;
	(void)fd;
	(void)what;
	event_free(s->auth_timer);
	s->auth_timer = NULL;
	s->auth_step = AUTH_NONE;
	session_reject(s, "AUTH", "535 5.7.8 Error: authentication failed: authentication failure");
	session_resume(s);
}

static void auth_failed(struct smtp_session *s, const char *user)
{
	char ipkey[96], userkey[300];
	snprintf(ipkey, sizeof(ipkey), "ip:%s", s->client_ip);
	snprintf(userkey, sizeof(userkey), "user:%s", user ? user : "");
	for (char *p = userkey; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
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
	unsigned long delay = s->srv->cfg->smtpd.auth_failure_delay;
	for (unsigned i = 0; i < n && delay < s->srv->cfg->smtpd.auth_failure_max_delay; i++)
		delay *= 2;
	if (delay > s->srv->cfg->smtpd.auth_failure_max_delay)
		delay = s->srv->cfg->smtpd.auth_failure_max_delay;
	log_info("sid=%s event=auth_failed user=%s client=%s[%s] failures=%u delay=%lus", s->sid,
		 log_esc(user ? user : ""), log_esc(s->client_name), s->client_ip, n + 1, delay);
	s->auth_step = AUTH_CHECKING;
	s->busy = true;
	s->auth_timer = evtimer_new(s->srv->env.base, on_fail_timer, s);
	struct timeval tv = {(time_t)delay, 0};
	evtimer_add(s->auth_timer, &tv);
}

static void on_auth_lookup(const struct lookup_reply *r, void *arg)
{
	struct smtp_session *s = arg;
	s->lookup_id = 0;
	char *user = s->auth_failed_user;
	s->auth_failed_user = NULL;
	if (r->status == LOOKUP_OK) {
		s->auth_step = AUTH_NONE;
		free(s->auth_user);
		s->auth_user = xstrdup(r->address);
		log_info("sid=%s event=auth user=%s client=%s[%s] sendonly=%s", s->sid,
			 log_esc(s->auth_user), log_esc(s->client_name), s->client_ip,
			 r->sendonly ? "yes" : "no");
		session_reply(s, "235 2.7.0 Authentication successful");
		free(user);
		session_resume(s);
		return;
	}
	if (r->status == LOOKUP_TEMPFAIL) {
		s->auth_step = AUTH_NONE;
		log_warn("sid=%s event=auth_tempfail user=%s error=\"%s\"", s->sid, log_esc(user),
			 log_esc(r->error));
		session_reject(s, "AUTH", "454 4.7.0 Temporary authentication failure");
		free(user);
		session_resume(s);
		return;
	}
	auth_failed(s, user);
	free(user);
}

/* check: hand user and password to the lookup process */
static void check(struct smtp_session *s, const char *user, const char *pass)
{
	s->auth_step = AUTH_CHECKING;
	s->busy = true;
	s->auth_failed_user = xstrdup(user);
	s->lookup_id = lookup_auth(s->srv->env.lookup, user, pass, on_auth_lookup, s);
}

static void plain(struct smtp_session *s, const char *b64, size_t len)
{
	size_t n;
	unsigned char *d = b64_decode(b64, len, &n);
	if (d == NULL) {
		s->auth_step = AUTH_NONE;
		session_reject(s, "AUTH", "501 5.5.2 Error: malformed authentication response");
		return;
	}
	/* authzid NUL authcid NUL passwd */
	const unsigned char *z1 = memchr(d, '\0', n);
	const unsigned char *z2 = z1 ? memchr(z1 + 1, '\0', n - (size_t)(z1 + 1 - d)) : NULL;
	if (z1 == NULL || z2 == NULL || memchr(z2 + 1, '\0', n - (size_t)(z2 + 1 - d)) != NULL) {
		free(d);
		s->auth_step = AUTH_NONE;
		session_reject(s, "AUTH", "501 5.5.2 Error: malformed authentication response");
		return;
	}
	const char *authz = (const char *)d, *user = (const char *)z1 + 1,
		   *pass = (const char *)z2 + 1;
	if (authz[0] != '\0' && strcasecmp(authz, user) != 0) {
		/* acting for another user is not offered */
		auth_failed(s, user);
		OPENSSL_cleanse(d, n);
		free(d);
		return;
	}
	check(s, user, pass);
	OPENSSL_cleanse(d, n);
	free(d);
}

void auth_response(struct smtp_session *s, const char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		auth_cancel(s);
		session_reject(s, "AUTH", "501 5.7.0 Error: authentication aborted");
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
			s->auth_step = AUTH_NONE;
			session_reject(s, "AUTH", "501 5.5.2 Error: malformed authentication response");
			return;
		}
		s->auth_login = (char *)u;
		s->auth_step = AUTH_LOGIN_PASS;
		session_reply(s, "334 UGFzc3dvcmQ6");
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
			s->auth_step = AUTH_NONE;
			session_reject(s, "AUTH", "501 5.5.2 Error: malformed authentication response");
			return;
		}
		check(s, user, (const char *)p);
		OPENSSL_cleanse(p, n);
		free(p);
		free(user);
		break;
	}
	default:
		s->auth_step = AUTH_NONE;
		break;
	}
}

void cmd_auth(struct smtp_session *s, const struct smtp_command *c)
{
	if (!session_is_submission(s)) {
		/* port 25 offers no AUTH, as the guide's master.cf */
		session_reject(s, "AUTH", "503 5.5.1 Error: authentication not enabled");
		return;
	}
	if (!s->tls) {
		session_reject(s, "AUTH",
			       "538 5.7.11 Encryption required for requested authentication mechanism");
		return;
	}
	if (s->auth_user != NULL) {
		session_reject(s, "AUTH", "503 5.5.1 Error: already authenticated");
		return;
	}
	if (s->tx != NULL) {
		session_reject(s, "AUTH", "503 5.5.1 Error: MAIL transaction in progress");
		return;
	}
	if (c->auth_mech_len == 5 && strncasecmp(c->auth_mech, "PLAIN", 5) == 0) {
		if (c->auth_ir != NULL) {
			plain(s, c->auth_ir, c->auth_ir_len);
		} else {
			s->auth_step = AUTH_PLAIN_WAIT;
			session_reply(s, "334 ");
		}
	} else if (c->auth_mech_len == 5 && strncasecmp(c->auth_mech, "LOGIN", 5) == 0) {
		if (c->auth_ir != NULL) {
			s->auth_step = AUTH_LOGIN_USER;
			auth_response(s, c->auth_ir, c->auth_ir_len);
		} else {
			s->auth_step = AUTH_LOGIN_USER;
			session_reply(s, "334 VXNlcm5hbWU6");
		}
	} else {
		session_reject(s, "AUTH", "504 5.5.4 Unrecognized authentication type");
	}
}
