/*
 * fswatch.c - inotify watches shared by the subscribers of one event
 * loop; see fswatch.h.
 *
 * A watch is one kernel watch descriptor and one directory path, found
 * by either through two chained hash tables. Its subscribers hang off it
 * in a doubly linked list. An inotify event marks every subscriber of
 * the watch pending (a second doubly linked list) and arms the delay
 * timer; the timer callback pops the pending list one subscriber at a
 * time, so a callback may remove any subscription, its own included.
 */
#include "net/fswatch.h"
#include "core/log.h"
#include "core/xalloc.h"

#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define FSWATCH_BUCKETS 1024u
#define FSWATCH_MASK                                                                            \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF | \
	 IN_MOVE_SELF | IN_ONLYDIR)

struct watch {
	int wd; /* -1 once the kernel dropped it (IN_IGNORED) */
	char *path;
	struct watch *next_wd, *next_path;
	struct fswatch_sub *subs;
	unsigned nsubs;
};

struct fswatch_sub {
	struct fswatch *fw;
	struct watch *w;
	struct fswatch_sub *prev, *next;   /* subscribers of w */
	struct fswatch_sub *pprev, *pnext; /* pending list */
	bool pending;
	fswatch_cb *cb;
	void *ctx;
};

struct fswatch {
	struct event_base *base;
	int fd;
	struct event *ev, *timer;
	struct timeval delay;
	struct watch *by_wd[FSWATCH_BUCKETS];
	struct watch *by_path[FSWATCH_BUCKETS];
	struct fswatch_sub *pending_head, *pending_tail;
	unsigned watches;
};

static unsigned hash_path(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % FSWATCH_BUCKETS;
}

static unsigned hash_wd(int wd)
{
	return (unsigned)wd % FSWATCH_BUCKETS;
}

static struct watch *watch_by_wd(struct fswatch *fw, int wd)
{
	for (struct watch *w = fw->by_wd[hash_wd(wd)]; w != NULL; w = w->next_wd)
		if (w->wd == wd)
			return w;
	return NULL;
}

static void unhash_wd(struct fswatch *fw, struct watch *w)
{
	if (w->wd < 0)
		return;
	for (struct watch **p = &fw->by_wd[hash_wd(w->wd)]; *p != NULL; p = &(*p)->next_wd) {
		if (*p == w) {
			*p = w->next_wd;
			break;
		}
	}
	w->wd = -1;
}

static void pending_add(struct fswatch *fw, struct fswatch_sub *s)
{
	if (s->pending)
		return;
	s->pending = true;
	s->pnext = NULL;
	s->pprev = fw->pending_tail;
	if (fw->pending_tail != NULL)
		fw->pending_tail->pnext = s;
	else
		fw->pending_head = s;
	fw->pending_tail = s;
	if (!evtimer_pending(fw->timer, NULL))
		evtimer_add(fw->timer, &fw->delay);
}

static void pending_del(struct fswatch *fw, struct fswatch_sub *s)
{
	if (!s->pending)
		return;
	if (s->pprev != NULL)
		s->pprev->pnext = s->pnext;
	else
		fw->pending_head = s->pnext;
	if (s->pnext != NULL)
		s->pnext->pprev = s->pprev;
	else
		fw->pending_tail = s->pprev;
	s->pending = false;
	s->pprev = s->pnext = NULL;
}

static void wake_watch(struct fswatch *fw, struct watch *w)
{
	for (struct fswatch_sub *s = w->subs; s != NULL; s = s->next)
		pending_add(fw, s);
}

static void wake_all(struct fswatch *fw)
{
	for (unsigned i = 0; i < FSWATCH_BUCKETS; i++)
		for (struct watch *w = fw->by_path[i]; w != NULL; w = w->next_path)
			wake_watch(fw, w);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct fswatch *fw = arg;
	(void)fd;
	(void)what;
	struct fswatch_sub *s;
	while ((s = fw->pending_head) != NULL) {
		pending_del(fw, s);
		s->cb(s->ctx);
	}
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct fswatch *fw = arg;
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	(void)what;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				log_error("event=fswatch_error error=read errno=%d", errno);
			return;
		}
		if (n == 0)
			return;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if ((ev->mask & IN_Q_OVERFLOW) != 0) {
				wake_all(fw);
				continue;
			}
			struct watch *w = watch_by_wd(fw, ev->wd);
			if (w == NULL)
				continue;
			wake_watch(fw, w);
			if ((ev->mask & IN_IGNORED) != 0)
				unhash_wd(fw, w);
		}
	}
}

struct fswatch *fswatch_create(struct event_base *base, unsigned delay_ms, const char **error_r)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0) {
		*error_r = "inotify_init1 failed";
		return NULL;
	}
	struct fswatch *fw = xcalloc(1, sizeof(*fw));
	fw->base = base;
	fw->fd = fd;
	if (delay_ms == 0)
		delay_ms = FSWATCH_DELAY_MS_DEFAULT;
	fw->delay.tv_sec = delay_ms / 1000;
	fw->delay.tv_usec = (delay_ms % 1000) * 1000;
	fw->ev = event_new(base, fd, EV_READ | EV_PERSIST, on_read, fw);
	fw->timer = evtimer_new(base, on_timer, fw);
	if (fw->ev == NULL || fw->timer == NULL || event_add(fw->ev, NULL) < 0)
		fatal("event=fswatch_error error=event_setup");
	return fw;
}

void fswatch_destroy(struct fswatch **fwp)
{
	struct fswatch *fw = *fwp;
	if (fw == NULL)
		return;
	*fwp = NULL;
	if (fw->watches != 0)
		log_error("event=fswatch_error error=destroyed_with_watches watches=%u",
			  fw->watches);
	event_free(fw->ev);
	event_free(fw->timer);
	close(fw->fd);
	free(fw);
}

struct fswatch_sub *fswatch_add(struct fswatch *fw, const char *dir, fswatch_cb *cb, void *ctx,
				const char **error_r)
{
	unsigned hp = hash_path(dir);
	struct watch *w;
	for (w = fw->by_path[hp]; w != NULL; w = w->next_path)
		if (strcmp(w->path, dir) == 0)
			break;
	if (w != NULL && w->wd < 0) {
		/* the directory went away and maybe came back: watch it anew */
		int wd = inotify_add_watch(fw->fd, dir, FSWATCH_MASK);
		if (wd >= 0 && watch_by_wd(fw, wd) == NULL) {
			w->wd = wd;
			w->next_wd = fw->by_wd[hash_wd(wd)];
			fw->by_wd[hash_wd(wd)] = w;
		}
	}
	if (w == NULL) {
		int wd = inotify_add_watch(fw->fd, dir, FSWATCH_MASK);
		if (wd < 0) {
			*error_r = errno == ENOSPC ? "out of inotify watches"
			           : errno == ENOENT ? "no such directory"
			                             : "inotify_add_watch failed";
			return NULL;
		}
		/* the kernel gives the same wd for the same inode under
		 * another path name: share that watch */
		w = watch_by_wd(fw, wd);
		if (w == NULL) {
			w = xcalloc(1, sizeof(*w));
			w->wd = wd;
			w->path = xstrdup(dir);
			w->next_wd = fw->by_wd[hash_wd(wd)];
			fw->by_wd[hash_wd(wd)] = w;
			w->next_path = fw->by_path[hp];
			fw->by_path[hp] = w;
			fw->watches++;
		}
	}
	struct fswatch_sub *s = xcalloc(1, sizeof(*s));
	s->fw = fw;
	s->w = w;
	s->cb = cb;
	s->ctx = ctx;
	s->next = w->subs;
	if (w->subs != NULL)
		w->subs->prev = s;
	w->subs = s;
	w->nsubs++;
	return s;
}

void fswatch_remove(struct fswatch_sub **subp)
{
	struct fswatch_sub *s = *subp;
	if (s == NULL)
		return;
	*subp = NULL;
	struct fswatch *fw = s->fw;
	struct watch *w = s->w;
	pending_del(fw, s);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		w->subs = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	free(s);
	if (--w->nsubs > 0)
		return;
	if (w->wd >= 0)
		(void)inotify_rm_watch(fw->fd, w->wd);
	unhash_wd(fw, w);
	for (struct watch **p = &fw->by_path[hash_path(w->path)]; *p != NULL; p = &(*p)->next_path) {
		if (*p == w) {
			*p = w->next_path;
			break;
		}
	}
	fw->watches--;
	free(w->path);
	free(w);
}

unsigned fswatch_watches(const struct fswatch *fw)
{
	return fw->watches;
}
