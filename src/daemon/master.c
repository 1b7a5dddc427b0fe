/*
 * master.c - the master process: configuration, listeners, supervision.
 *
 * Runs as root on a real install (as the invoking user otherwise). It
 * binds every listener and the internal unix sockets, loads the TLS key,
 * then forks the lookup process, the queue process and N workers, and
 * from then on only reacts to signals:
 *   SIGCHLD  a child that died unexpectedly is logged and restarted with
 *            backoff (1 s, doubling up to 60 s while it keeps dying young);
 *   SIGHUP   the configuration and certificates are loaded anew; if they
 *            are valid the children are replaced (old ones get SIGTERM and
 *            finish what they are doing) while the listening sockets stay
 *            open; if not, the reload is refused and nothing changes;
 *   SIGTERM  graceful stop: children get SIGTERM, up to 30 s for
 *   SIGINT   in-flight work, SIGKILL at 35 s; then sockets are removed.
 */
#include "daemon/daemon.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "net/net.h"
#include "net/conn-limit.h"
#include "directory/lookup.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STOP_GRACE_SECS 35

enum role { ROLE_LOOKUP, ROLE_QUEUE, ROLE_WORKER };
static const char *const role_names[] = {"lookup", "queue", "worker"};

struct child {
	struct child *next;
	enum role role;
	unsigned index;
	pid_t pid; /* 0 while waiting for a restart */
	time_t started;
	unsigned failures;
	bool retiring;
	bool terminated;     /* SIGTERM sent (after SIGUSR1 on reload) */
	int conn_slot;	     /* workers: slot in the connection counts */
	struct event *timer; /* restart delay, or SIGKILL deadline when retiring */
};

static struct master {
	struct event_base *base;
	struct config *cfg;
	struct listener *listeners;
	unsigned nlisteners;
	SSL_CTX *tls;
	int lookup_fd, queue_fd;
	char *run_dir, *lookup_path, *queue_path, *pid_path;
	struct child *children;
	struct conn_limit *conn_limit;
	bool stopping;
	struct event *sig_events[5];
} M;

static void child_start(struct child *c);

static const char *role_name(enum role r)
{
	return role_names[r];
}

static void listeners_free(struct listener *l, unsigned n, bool close_fds)
{
	for (unsigned i = 0; i < n; i++) {
		if (close_fds && l[i].fd >= 0)
			close(l[i].fd);
		free(l[i].proto);
		free(l[i].spec);
	}
	free(l);
}

static const struct {
	const char *name;
	size_t offset;
} listen_keys[] = {
#define LK(n) {#n, offsetof(struct config_listen, n)}
	LK(smtp), LK(smtps), LK(submission), LK(imap), LK(imaps), LK(sieve), LK(http), LK(https),
#undef LK
};

/*
 * listeners_build: the listeners of cfg, reusing the open sockets of the
 * current set where protocol and address are the same. On success the
 * reused entries of the current set have fd -1. 0 / -1 (*error_r malloc'd).
 */
static int listeners_build(const struct config *cfg, struct listener **out_r, unsigned *n_r,
			   char **error_r)
{
	struct listener *out = NULL;
	unsigned n = 0;
	int *reuse = NULL;
	for (size_t k = 0; k < sizeof(listen_keys) / sizeof(listen_keys[0]); k++) {
		const struct cfg_list *l =
			(const struct cfg_list *)((const char *)&cfg->listen + listen_keys[k].offset);
		for (unsigned i = 0; i < l->n; i++) {
			if (!worker_protocol_available(listen_keys[k].name)) {
				*error_r = xasprintf("%s: [listen] %s: this protocol is not served "
						     "by this version of vmaild",
						     cfg->path, listen_keys[k].name);
				goto fail;
			}
			out = xreallocarray(out, n + 1, sizeof(*out));
			reuse = xreallocarray(reuse, n + 1, sizeof(*reuse));
			out[n].proto = xstrdup(listen_keys[k].name);
			out[n].spec = xstrdup(l->v[i]);
			out[n].fd = -1;
			reuse[n] = -1;
			for (unsigned j = 0; j < M.nlisteners; j++) {
				if (M.listeners[j].fd >= 0 &&
				    strcmp(M.listeners[j].proto, out[n].proto) == 0 &&
				    strcmp(M.listeners[j].spec, out[n].spec) == 0) {
					out[n].fd = M.listeners[j].fd;
					reuse[n] = (int)j;
				}
			}
			n++;
			if (out[n - 1].fd < 0) {
				const char *err;
				out[n - 1].fd = listen_tcp(l->v[i], &err);
				if (out[n - 1].fd < 0) {
					*error_r = xasprintf("[listen] %s: cannot listen on %s",
							     listen_keys[k].name, err);
					goto fail;
				}
			}
		}
	}
	for (unsigned i = 0; i < n; i++)
		if (reuse[i] >= 0)
			M.listeners[reuse[i]].fd = -1;
	free(reuse);
	*out_r = out;
	*n_r = n;
	return 0;
fail:
	for (unsigned i = 0; i < n; i++)
		if (reuse[i] >= 0)
			out[i].fd = -1; /* still owned by the current set */
	listeners_free(out, n, true);
	free(reuse);
	return -1;
}

static int mkdir_owned(const char *path, mode_t mode, uid_t uid, gid_t gid, char **error_r)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST) {
		*error_r = xasprintf("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	if (geteuid() == 0 && chown(path, uid, gid) < 0) {
		*error_r = xasprintf("cannot chown %s: %s", path, strerror(errno));
		return -1;
	}
	chmod(path, mode);
	return 0;
}

/* runtime_prepare: state_dir, its run/ and queue/ directories, the
 * internal sockets and the pid file. */
static int runtime_prepare(const struct config *cfg, char **error_r)
{
	uid_t uid;
	gid_t gid;
	const char *err;
	if (privs_lookup(cfg->server.user, cfg->server.group, &uid, &gid, &err) < 0 ||
	    privs_lookup(cfg->server.lookup_user, NULL, &(uid_t){0}, &(gid_t){0}, &err) < 0) {
		*error_r = xasprintf("%s: [server] %s", cfg->path, err);
		return -1;
	}
	if (mkdir_owned(cfg->server.state_dir, 0755, geteuid(), getegid(), error_r) < 0)
		return -1;
	M.run_dir = xasprintf("%s/run", cfg->server.state_dir);
	char *queue_dir = xasprintf("%s/queue", cfg->server.state_dir);
	int r = mkdir_owned(M.run_dir, 0750, geteuid(), gid, error_r);
	if (r == 0)
		r = mkdir_owned(queue_dir, 0700, uid, gid, error_r);
	free(queue_dir);
	if (r < 0)
		return -1;
	M.lookup_path = xasprintf("%s/lookup.sock", M.run_dir);
	M.queue_path = xasprintf("%s/queue.sock", M.run_dir);
	M.pid_path = xasprintf("%s/vmaild.pid", M.run_dir);
	M.lookup_fd = listen_unix(M.lookup_path, 0660, &err);
	if (M.lookup_fd >= 0)
		M.queue_fd = listen_unix(M.queue_path, 0660, &err);
	if (M.lookup_fd < 0 || M.queue_fd < 0) {
		*error_r = xasprintf("internal socket %s", err);
		return -1;
	}
	if (geteuid() == 0) {
		(void)!chown(M.lookup_path, 0, gid);
		(void)!chown(M.queue_path, 0, gid);
	}
	FILE *f = fopen(M.pid_path, "w");
	if (f == NULL) {
		*error_r = xasprintf("cannot write %s: %s", M.pid_path, strerror(errno));
		return -1;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
	return 0;
}

static void log_reopen(const struct config *cfg)
{
	int lvl = log_parse_level(cfg->server.log_level);
	log_open("master", strcmp(cfg->server.log, "syslog") == 0,
		 lvl < 0 ? LOG_LVL_INFO : (enum log_level)lvl);
}

static unsigned worker_count(const struct config *cfg)
{
	if (cfg->server.workers > 0)
		return cfg->server.workers;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

/* ---- children ---- */

static struct child *child_new(enum role role, unsigned index)
{
	struct child *c = xcalloc(1, sizeof(*c));
	c->conn_slot = -1;
	c->role = role;
	c->index = index;
	c->next = M.children;
	M.children = c;
	return c;
}

static void child_free(struct child *c)
{
	for (struct child **pp = &M.children; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (c->timer != NULL)
		event_free(c->timer);
	conn_limit_slot_release(M.conn_limit, c->conn_slot);
	free(c);
}

static void __attribute__((noreturn)) child_main(struct child *c)
{
	/* The master's event base shares its epoll instance and signal pipe
	 * with us: give it fresh ones, then drop it. */
	event_reinit(M.base);
	for (unsigned i = 0; i < sizeof(M.sig_events) / sizeof(M.sig_events[0]); i++)
		if (M.sig_events[i] != NULL)
			event_free(M.sig_events[i]);
	for (struct child *o = M.children; o != NULL; o = o->next)
		if (o->timer != NULL) {
			event_free(o->timer);
			o->timer = NULL;
		}
	event_base_free(M.base);
	M.base = NULL;
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_DFL);
	/* a master that dies (kill -9) takes us with it: SIGTERM, a graceful end */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		exit(1);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	const struct config *cfg = M.cfg;
	const char *err;
	int rc = 1;
	char role[32];
	if (c->role == ROLE_WORKER)
		snprintf(role, sizeof(role), "worker");
	else
		snprintf(role, sizeof(role), "%s", role_name(c->role));
	log_set_role(role);
	switch (c->role) {
	case ROLE_LOOKUP:
		close(M.queue_fd);
		for (unsigned i = 0; i < M.nlisteners; i++)
			close(M.listeners[i].fd);
		if (privs_drop(cfg->server.lookup_user, NULL, &err) < 0)
			fatal("event=start_error error=\"%s\"", err);
		rc = lookup_server_run(cfg, M.lookup_fd);
		break;
	case ROLE_QUEUE:
		close(M.lookup_fd);
		for (unsigned i = 0; i < M.nlisteners; i++)
			close(M.listeners[i].fd);
		if (privs_drop(cfg->server.user, cfg->server.group, &err) < 0)
			fatal("event=start_error error=\"%s\"", err);
		rc = queue_run(cfg, M.queue_fd);
		break;
	case ROLE_WORKER: {
		close(M.lookup_fd);
		close(M.queue_fd);
		if (privs_drop(cfg->server.user, cfg->server.group, &err) < 0)
			fatal("event=start_error error=\"%s\"", err);
		struct worker_env env = {
			.cfg = cfg,
			.listeners = M.listeners,
			.nlisteners = M.nlisteners,
			.tls = M.tls,
			.lookup_socket = M.lookup_path,
			.queue_socket = M.queue_path,
			.index = c->index,
			.conn_limit = M.conn_limit,
			.conn_slot = c->conn_slot,
		};
		rc = worker_run(&env);
		break;
	}
	}
	exit(rc);
}

static void child_start(struct child *c)
{
	if (c->role == ROLE_WORKER) {
		/* a fresh, cleared slot: the counts of a dead worker go with it */
		conn_limit_slot_release(M.conn_limit, c->conn_slot);
		c->conn_slot = conn_limit_slot_take(M.conn_limit);
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_error("event=fork_error role=%s error=\"%s\"", role_name(c->role),
			  strerror(errno));
		return; /* the periodic check does not exist: retry via timer */
	}
	if (pid == 0)
		child_main(c);
	c->pid = pid;
	c->started = time(NULL);
	log_info("event=child_start role=%s index=%u child_pid=%ld", role_name(c->role), c->index,
		 (long)pid);
}

static void on_restart_timer(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;
	(void)fd;
	(void)what;
	if (!M.stopping && !c->retiring)
		child_start(c);
}

static void on_kill_timer(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;
	(void)fd;
	(void)what;
	if (c->pid <= 0)
		return;
	if (!c->terminated) {
		/* a retired worker still has sessions: now stop it for good */
		log_info("event=child_stop_request role=%s child_pid=%ld reason=retire_time_over",
			 role_name(c->role), (long)c->pid);
		kill(c->pid, SIGTERM);
		c->terminated = true;
		struct timeval tv = {STOP_GRACE_SECS, 0};
		evtimer_add(c->timer, &tv);
		return;
	}
	log_warn("event=child_kill role=%s child_pid=%ld reason=grace_period_over",
		 role_name(c->role), (long)c->pid);
	kill(c->pid, SIGKILL);
}

/*
 * child_retire: ask it to finish and go. On a reload (SIGUSR1) a worker
 * stops accepting and ends when its sessions end - they are not cut - for
 * up to the command timeout plus the grace period; on a stop (SIGTERM)
 * it closes idle sessions and lets transactions finish. SIGKILL at the end.
 */
static void child_retire(struct child *c, bool reload)
{
	c->retiring = true;
	if (c->timer != NULL) {
		event_free(c->timer);
		c->timer = NULL;
	}
	if (c->pid <= 0) {
		child_free(c);
		return;
	}
	c->terminated = !reload;
	kill(c->pid, reload ? SIGUSR1 : SIGTERM);
	c->timer = evtimer_new(M.base, on_kill_timer, c);
	struct timeval tv = {reload ? (time_t)M.cfg->smtpd.timeout + STOP_GRACE_SECS
				    : STOP_GRACE_SECS,
			     0};
	evtimer_add(c->timer, &tv);
}

static void children_start_all(void)
{
	child_start(child_new(ROLE_LOOKUP, 0));
	child_start(child_new(ROLE_QUEUE, 0));
	unsigned n = worker_count(M.cfg);
	for (unsigned i = 0; i < n; i++)
		child_start(child_new(ROLE_WORKER, i));
}

static void master_cleanup(void)
{
	for (unsigned i = 0; i < sizeof(M.sig_events) / sizeof(M.sig_events[0]); i++)
		if (M.sig_events[i] != NULL)
			event_free(M.sig_events[i]);
	while (M.children != NULL)
		child_free(M.children);
	conn_limit_destroy(&M.conn_limit);
	listeners_free(M.listeners, M.nlisteners, true);
	if (M.lookup_fd >= 0)
		close(M.lookup_fd);
	if (M.queue_fd >= 0)
		close(M.queue_fd);
	if (M.lookup_path)
		unlink(M.lookup_path);
	if (M.queue_path)
		unlink(M.queue_path);
	if (M.pid_path)
		unlink(M.pid_path);
	free(M.lookup_path);
	free(M.queue_path);
	free(M.pid_path);
	free(M.run_dir);
	SSL_CTX_free(M.tls);
	if (M.cfg != NULL) {
		config_free(M.cfg);
		free(M.cfg);
	}
	if (M.base != NULL)
		event_base_free(M.base);
}

static void describe_status(int status, char *out, size_t n)
{
	if (WIFSIGNALED(status))
		snprintf(out, n, "signal=%d", WTERMSIG(status));
	else
		snprintf(out, n, "exit=%d", WEXITSTATUS(status));
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct child *c = M.children;
		while (c != NULL && c->pid != pid)
			c = c->next;
		if (c == NULL)
			continue;
		char st[32];
		describe_status(status, st, sizeof(st));
		c->pid = 0;
		if (M.stopping || c->retiring) {
			log_info("event=child_stop role=%s child_pid=%ld %s", role_name(c->role),
				 (long)pid, st);
			child_free(c);
			continue;
		}
		time_t now = time(NULL);
		if (now - c->started < 10)
			c->failures++;
		else
			c->failures = 0;
		unsigned delay = 1;
		for (unsigned i = 1; i < c->failures && delay < 60; i++)
			delay *= 2;
		if (delay > 60)
			delay = 60;
		log_warn("event=child_exit role=%s child_pid=%ld %s restart_in=%us",
			 role_name(c->role), (long)pid, st, delay);
		if (c->timer == NULL)
			c->timer = evtimer_new(M.base, on_restart_timer, c);
		struct timeval tv = {(time_t)delay, 0};
		evtimer_add(c->timer, &tv);
	}
	if (M.stopping && M.children == NULL)
		event_base_loopbreak(M.base);
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (M.stopping)
		return;
	M.stopping = true;
	log_info("event=stopping signal=%d", (int)sig);
	struct child *c = M.children;
	while (c != NULL) {
		struct child *next = c->next;
		if (c->retiring && !c->terminated && c->pid > 0) {
			/* retired by a reload and still serving: stop it now */
			kill(c->pid, SIGTERM);
			c->terminated = true;
			struct timeval tv = {STOP_GRACE_SECS, 0};
			evtimer_add(c->timer, &tv);
		} else if (!c->retiring) {
			child_retire(c, false);
		}
		c = next;
	}
	if (M.children == NULL)
		event_base_loopbreak(M.base);
}

static void on_reload(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	if (M.stopping)
		return;
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	char *err = NULL;
	const char *cerr = NULL;
	struct listener *nl = NULL;
	unsigned nn = 0;
	SSL_CTX *tls = NULL;
	if (config_load(M.cfg->path, cfg, &err) < 0) {
		free(cfg);
		log_error("event=reload_refused error=\"%s\"", log_esc(err));
		free(err);
		return;
	}
	if (strcmp(cfg->server.state_dir, M.cfg->server.state_dir) != 0) {
		err = xasprintf("%s: [server] state_dir cannot change on reload; restart instead",
				cfg->path);
		goto refuse;
	}
	if (cfg->tls.cert[0] != '\0' && (tls = tls_server_ctx(&cfg->tls, &cerr)) == NULL) {
		err = xasprintf("%s", cerr);
		goto refuse;
	}
	if (listeners_build(cfg, &nl, &nn, &err) < 0)
		goto refuse;

	struct child *c = M.children;
	while (c != NULL) {
		struct child *next = c->next;
		if (!c->retiring)
			child_retire(c, true);
		c = next;
	}
	listeners_free(M.listeners, M.nlisteners, true); /* closes only what is not reused */
	M.listeners = nl;
	M.nlisteners = nn;
	SSL_CTX_free(M.tls);
	M.tls = tls;
	config_free(M.cfg);
	free(M.cfg);
	M.cfg = cfg;
	log_reopen(cfg);
	log_info("event=reload config=%s listeners=%u", log_esc(cfg->path), nn);
	children_start_all();
	return;
refuse:
	log_error("event=reload_refused error=\"%s\"", log_esc(err));
	free(err);
	SSL_CTX_free(tls);
	config_free(cfg);
	free(cfg);
}

int master_run(const char *config_path, bool check_only)
{
	memset(&M, 0, sizeof(M));
	M.lookup_fd = M.queue_fd = -1;
	M.cfg = xcalloc(1, sizeof(*M.cfg));
	char *err = NULL;
	const char *cerr = NULL;
	if (config_load(config_path, M.cfg, &err) < 0) {
		fprintf(stderr, "vmaild: %s\n", err);
		free(err);
		free(M.cfg);
		return 1;
	}
	if (M.cfg->tls.cert[0] != '\0' && (M.tls = tls_server_ctx(&M.cfg->tls, &cerr)) == NULL) {
		fprintf(stderr, "vmaild: %s: %s\n", config_path, cerr);
		master_cleanup();
		return 1;
	}
	for (size_t k = 0; k < sizeof(listen_keys) / sizeof(listen_keys[0]); k++) {
		const struct cfg_list *l = (const struct cfg_list *)((const char *)&M.cfg->listen +
								     listen_keys[k].offset);
		if (l->n > 0 && !worker_protocol_available(listen_keys[k].name)) {
			fprintf(stderr,
				"vmaild: %s: [listen] %s: this protocol is not served by this "
				"version of vmaild\n",
				config_path, listen_keys[k].name);
			master_cleanup();
			return 1;
		}
	}
	if (check_only) {
		config_print(M.cfg, stdout);
		master_cleanup();
		return 0;
	}
	log_reopen(M.cfg);
	signal(SIGPIPE, SIG_IGN);
	if (runtime_prepare(M.cfg, &err) < 0 || listeners_build(M.cfg, &M.listeners,
								&M.nlisteners, &err) < 0) {
		log_error("event=start_error error=\"%s\"", log_esc(err));
		fprintf(stderr, "vmaild: %s\n", err);
		free(err);
		master_cleanup();
		return 1;
	}
	M.base = event_base_new();
	if (M.base == NULL)
		fatal("event=start_error error=event_base_new");
	M.conn_limit = conn_limit_create();
	static const int sigs[] = {SIGCHLD, SIGHUP, SIGTERM, SIGINT};
	event_callback_fn fns[] = {on_sigchld, on_reload, on_stop, on_stop};
	for (unsigned i = 0; i < 4; i++) {
		M.sig_events[i] = evsignal_new(M.base, sigs[i], fns[i], NULL);
		event_add(M.sig_events[i], NULL);
	}
	children_start_all();
	log_info("event=ready config=%s workers=%u listeners=%u", log_esc(config_path),
		 worker_count(M.cfg), M.nlisteners);
	event_base_dispatch(M.base);
	log_info("event=stopped");
	master_cleanup();
	return 0;
}
