/*
 * smtp-server.c - the set of SMTP sessions of one worker (see
 * smtp-server.h).
 */
#include "smtp/smtp-private.h"
#include "core/ipc.h"
#include "core/log.h"
#include "core/xalloc.h"

#include <errno.h>
#include <event2/bufferevent.h>
#include <string.h>
#include <sys/stat.h>

void smtp_session_start(struct smtp_server *srv, int fd, const struct sockaddr *sa, int salen,
			const struct sockaddr *local, enum smtp_service service);

struct smtp_server *smtp_server_create(const struct smtp_server_env *env, char **error_r)
{
	struct smtp_server *srv = xcalloc(1, sizeof(*srv));
	srv->env = *env;
	srv->cfg = env->cfg;
	const struct cfg_list *mn = &env->cfg->smtpd.mynetworks;
	srv->mynetworks = xcalloc(mn->n + 1, sizeof(struct cidr));
	for (unsigned i = 0; i < mn->n; i++)
		if (cidr_parse(mn->v[i], &srv->mynetworks[srv->nmynetworks]) == 0)
			srv->nmynetworks++;
	if (restrict_load_list(env->cfg->smtpd.without_ptr, &srv->without_ptr, &srv->nwithout_ptr,
			       error_r) < 0) {
		free(srv->mynetworks);
		free(srv);
		return NULL;
	}
	srv->spool_dir = xasprintf("%s/queue/incoming", env->cfg->server.state_dir);
	if (mkdir(srv->spool_dir, 0700) < 0 && errno != EEXIST) {
		*error_r = xasprintf("cannot create %s: %s", srv->spool_dir, strerror(errno));
		free(srv->spool_dir);
		free(srv->without_ptr);
		free(srv->mynetworks);
		free(srv);
		return NULL;
	}
	return srv;
}

void smtp_server_destroy(struct smtp_server **srvp)
{
	struct smtp_server *srv = *srvp;
	if (srv == NULL)
		return;
	*srvp = NULL;
	ipc_conn_destroy(&srv->queue);
	free(srv->spool_dir);
	free(srv->without_ptr);
	free(srv->mynetworks);
	free(srv);
}

void smtp_server_accept(struct smtp_server *srv, int fd, const struct sockaddr *sa, int salen,
			const struct sockaddr *local, enum smtp_service service)
{
	smtp_session_start(srv, fd, sa, salen, local, service);
}

unsigned smtp_server_sessions(const struct smtp_server *srv)
{
	return srv->nsessions;
}

void smtp_server_shutdown(struct smtp_server *srv)
{
	srv->shutting_down = true;
	struct smtp_session *s = srv->sessions;
	while (s != NULL) {
		struct smtp_session *next = s->next;
		/* idle between transactions: say goodbye now; others finish first */
		if (!s->busy && s->tx == NULL && s->state == SMTP_STATE_READY) {
			session_reply(s, "421 4.3.2 %s Service shutting down", srv->cfg->server.hostname);
			session_close(s);
		}
		s = next;
	}
}
