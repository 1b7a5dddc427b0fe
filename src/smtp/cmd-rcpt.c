/*
 * cmd-rcpt.c - RCPT TO (RFC 5321 section 4.1.1.3) with the guide's
 * restrictions, in Postfix's order:
 *   client and HELO checks (delayed to RCPT, smtpd_delay_reject),
 *   reject_non_fqdn_recipient (504), our domain or relay permission
 *   (554 5.7.1 Relay access denied unless mynetworks), then the directory:
 *   account -> deliver; alias / catch-all -> its destinations, resolved
 *   again (aliases of aliases, up to SMTP_MAX_ALIAS_DEPTH) into local
 *   mailboxes and remote addresses; sendonly -> 550 5.7.1 (the guide's
 *   recipient-access); disabled or unknown -> 550 5.1.1; directory down
 *   -> 451. An account already over quota -> 452 4.2.2.
 * Local parts with routing characters ('%', '!', '@') and domains with a
 * trailing dot are refused outright: no relaying through odd forms.
 */
#include "smtp/smtp-private.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/xalloc.h"
#include "store/store.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <string.h>

static void resolve_next(struct smtp_session *s);

static void rq_reset(struct smtp_session *s)
{
	free(s->rq.address);
	for (unsigned i = 0; i < s->rq.npending; i++)
		free(s->rq.pending[i]);
	free(s->rq.pending);
	memset(&s->rq, 0, sizeof(s->rq));
}

static bool target_known(struct smtp_transaction *tx, const char *addr)
{
	for (unsigned i = 0; i < tx->ntargets; i++)
		if (strcmp(tx->targets[i].address, addr) == 0)
			return true;
	return false;
}

static void target_add(struct smtp_session *s, const char *addr, bool remote, unsigned quota_mb)
{
	struct smtp_transaction *tx = s->tx;
	s->rq.found_local = true; /* this recipient leads somewhere */
	if (target_known(tx, addr))
		return; /* the same mailbox twice gets one copy */
	tx->targets = xreallocarray(tx->targets, tx->ntargets + 1, sizeof(*tx->targets));
	struct smtp_target *t = &tx->targets[tx->ntargets++];
	t->address = xstrdup(addr);
	t->remote = remote;
	t->quota_mb = quota_mb;
	t->rcpt = tx->nrcpts;
	if (remote)
		tx->nremote++;
	else
		tx->nlocal++;
}

static void rcpt_finish_ok(struct smtp_session *s)
{
	struct smtp_transaction *tx = s->tx;
	unsigned added = tx->ntargets - s->rq.ntargets_before;
	tx->rcpts = xreallocarray(tx->rcpts, tx->nrcpts + 1, sizeof(*tx->rcpts));
	struct smtp_rcpt *r = &tx->rcpts[tx->nrcpts++];
	r->address = s->rq.address;
	r->first_target = s->rq.ntargets_before;
	r->ntargets = added;
	s->rq.address = NULL;
	log_info("sid=%s qid=%s event=rcpt to=<%s> targets=%u", s->sid, tx->qid,
		 log_esc(r->address), added);
	rq_reset(s);
	session_enter_state(s, SMTP_STATE_RCPT);
	session_reply(s, "250 2.1.5 Ok");
}

static void rcpt_fail(struct smtp_session *s, const char *fmt_code, const char *why)
{
	/* drop targets this recipient added */
	struct smtp_transaction *tx = s->tx;
	while (tx->ntargets > s->rq.ntargets_before) {
		struct smtp_target *t = &tx->targets[--tx->ntargets];
		if (t->remote)
			tx->nremote--;
		else
			tx->nlocal--;
		free(t->address);
	}
	session_reject(s, "RCPT", "%s <%s>: %s", fmt_code, s->rq.address, why);
	rq_reset(s);
}

/* ---- quota at RCPT: a blocking read of maildirsize, in the pool ---- */

struct quota_job {
	struct smtp_session *s;
	char *address;
	unsigned quota_mb;
	int over; /* 1 over, 0 not, -1 error */
	char *error;
};

static void quota_work(void *arg)
{
	struct quota_job *j = arg;
	struct store_user u;
	const char *err = NULL;
	const char *at = strrchr(j->address, '@');
	char *local = xstrndup(j->address, (size_t)(at - j->address));
	j->over = -1;
	if (store_user_init(&u, &j->s->srv->cfg->mail, local, at + 1, &err) == 0) {
		struct quota_limits lim;
		quota_limits_from_mb(j->quota_mb, &lim);
		j->over = quota_check_rcpt(u.root, &lim, &err);
		store_user_deinit(&u);
	}
	if (j->over < 0)
		j->error = xstrdup(err ? err : "quota check failed");
	free(local);
}

static void quota_done(void *arg)
{
	struct quota_job *j = arg;
	struct smtp_session *s = j->s;
	bool alive = session_job_end(s);
	if (!alive) {
		/* the client left; the session is gone */
	} else if (j->over == 1) {
		rcpt_fail(s, "452 4.2.2", "Mailbox full");
	} else {
		if (j->over < 0)
			log_warn("sid=%s event=quota_error to=<%s> error=\"%s\"", s->sid,
				 log_esc(j->address), log_esc(j->error));
		rcpt_finish_ok(s);
	}
	free(j->address);
	free(j->error);
	free(j);
	if (alive)
		session_resume(s);
}

static void finish_resolution(struct smtp_session *s)
{
	struct smtp_transaction *tx = s->tx;
	if (tx->ntargets == s->rq.ntargets_before && !s->rq.found_local) {
		rcpt_fail(s, "550 5.1.1",
			  "Recipient address rejected: User unknown in virtual mailbox table");
		session_resume(s);
		return;
	}
	/* a direct account: is it over quota already? */
	if (tx->ntargets == s->rq.ntargets_before + 1 && s->rq.depth == 0) {
		struct smtp_target *t = &tx->targets[tx->ntargets - 1];
		if (!t->remote && t->quota_mb > 0) {
			struct quota_job *j = xcalloc(1, sizeof(*j));
			j->s = s;
			j->address = xstrdup(t->address);
			j->quota_mb = t->quota_mb;
			session_job_begin(s);
			pool_submit(s->srv->env.pool, quota_work, quota_done, j);
			return;
		}
	}
	rcpt_finish_ok(s);
	session_resume(s);
}

static void on_lookup(const struct lookup_reply *r, void *arg)
{
	struct smtp_session *s = arg;
	s->lookup_id = 0;
	if (r->status != LOOKUP_OK) {
		log_warn("sid=%s event=lookup_tempfail to=<%s> error=\"%s\"", s->sid,
			 log_esc(s->rq.address), log_esc(r->error));
		rcpt_fail(s, "451 4.3.0", "Temporary lookup failure");
		session_resume(s);
		return;
	}
	bool top = s->rq.depth == 0;
	switch (r->kind) {
	case DIR_RCPT_ACCOUNT:
		target_add(s, r->address, false, r->quota_mb);
		break;
	case DIR_RCPT_ALIAS:
	case DIR_RCPT_CATCHALL:
		if (s->rq.depth >= SMTP_MAX_ALIAS_DEPTH) {
			log_warn("sid=%s event=alias_loop to=<%s>", s->sid, log_esc(s->rq.address));
			break;
		}
		for (unsigned i = 0; i < r->ndest; i++) {
			s->rq.pending = xreallocarray(s->rq.pending, s->rq.npending + 1,
						      sizeof(char *));
			s->rq.pending[s->rq.npending++] = xstrdup(r->dest[i]);
		}
		s->rq.depth++;
		break;
	case DIR_RCPT_SENDONLY:
		if (top) {
			rcpt_fail(s, "550 5.7.1", "Recipient address rejected: Access denied");
			session_resume(s);
			return;
		}
		log_info("sid=%s event=alias_target_skipped target_kind=sendonly", s->sid);
		break;
	case DIR_RCPT_DISABLED:
	case DIR_RCPT_UNKNOWN:
		if (top) {
			rcpt_fail(s, "550 5.1.1",
				  "Recipient address rejected: User unknown in virtual mailbox "
				  "table");
			session_resume(s);
			return;
		}
		log_info("sid=%s event=alias_target_skipped target_kind=%s", s->sid,
			 dir_rcpt_kind_name(r->kind));
		break;
	case DIR_RCPT_NODOMAIN:
		if (top) {
			/* relay for mynetworks and authenticated clients only */
			if (!s->mynetworks && s->auth_user == NULL) {
				rcpt_fail(s, "554 5.7.1", "Relay access denied");
				session_resume(s);
				return;
			}
		}
		/* relay for mynetworks, or an alias pointing elsewhere */
		target_add(s, r->address ? r->address : s->rq.address, true, 0);
		break;
	}
	resolve_next(s);
}

static void resolve_next(struct smtp_session *s)
{
	while (s->rq.npending > 0) {
		char *next = s->rq.pending[--s->rq.npending];
		if (target_known(s->tx, next)) {
			s->rq.found_local = true; /* already a destination of this message */
			free(next);
			continue;
		}
		s->lookup_id = lookup_rcpt(s->srv->env.lookup, next, on_lookup, s);
		free(next);
		return;
	}
	finish_resolution(s);
}

void cmd_rcpt(struct smtp_session *s, const struct smtp_command *c)
{
	struct smtp_transaction *tx = s->tx;
	if (tx == NULL || (s->state != SMTP_STATE_MAIL && s->state != SMTP_STATE_RCPT)) {
		session_reject(s, "RCPT", "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (tx->nrcpts >= s->srv->cfg->smtpd.recipient_limit) {
		session_reject(s, "RCPT", "452 4.5.3 Error: too many recipients");
		return;
	}
	if (!session_is_submission(s) && restrict_rcpt_client(s))
		return;
	struct buf b = BUF_INIT;
	if (c->path.flags & ADDRESS_POSTMASTER) {
		if (s->srv->cfg->mail.postmaster[0] != '\0')
			buf_append_str(&b, s->srv->cfg->mail.postmaster);
		else
			buf_appendf(&b, "postmaster@%s", s->srv->cfg->server.hostname);
	} else {
		address_canonical(&c->path, &b);
	}
	rq_reset(s);
	s->rq.address = buf_steal(&b);
	s->rq.ntargets_before = tx->ntargets;
	if (c->path.flags & ADDRESS_TRAILING_DOT) {
		rcpt_fail(s, "501 5.1.3", "Bad recipient address syntax");
		return;
	}
	if (address_local_has_routing(c->path.local)) {
		rcpt_fail(s, "550 5.7.1",
			  "Recipient address rejected: routing characters are not accepted");
		return;
	}
	if (!(c->path.flags & ADDRESS_POSTMASTER) && !address_domain_is_fqdn(c->path.domain)) {
		rcpt_fail(s, "504 5.5.2", "Recipient address rejected: need fully-qualified address");
		return;
	}
	if ((c->path.flags & ADDRESS_LITERAL) && !s->mynetworks && s->auth_user == NULL) {
		rcpt_fail(s, "554 5.7.1", "Relay access denied");
		return;
	}
	s->busy = true;
	s->lookup_id = lookup_rcpt(s->srv->env.lookup, s->rq.address, on_lookup, s);
}
