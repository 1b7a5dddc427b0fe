/*
 * pool.c - thread pool with event-loop completions (see pool.h).
 *
 * Finished jobs go on a done list and an eventfd wakes the loop, which
 * runs their done functions. Threads block every signal, so signals are
 * only ever seen by the loop thread.
 */
#include "pool.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct pool_job {
	struct pool_job *next;
	pool_fn *work, *done;
	void *job;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct pool_job *head, *tail; /* to do */
	struct pool_job *done;	      /* finished, newest first */
	bool stopping;
	unsigned pending;
	int efd;
	struct event *ev;
	pthread_t *threads;
	unsigned nthreads;
};

static void *pool_thread(void *arg)
{
	struct pool *p = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->head == NULL && !p->stopping)
			pthread_cond_wait(&p->cond, &p->mu);
		if (p->head == NULL) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		struct pool_job *j = p->head;
		p->head = j->next;
		if (p->head == NULL)
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);

		j->work(j->job);

		pthread_mutex_lock(&p->mu);
		j->next = p->done;
		p->done = j;
		pthread_mutex_unlock(&p->mu);
		uint64_t one = 1;
		(void)!write(p->efd, &one, sizeof(one));
	}
}

static void run_done(struct pool *p)
{
	pthread_mutex_lock(&p->mu);
	struct pool_job *list = p->done;
	p->done = NULL;
	pthread_mutex_unlock(&p->mu);
	/* oldest first */
	struct pool_job *rev = NULL;
	while (list != NULL) {
		struct pool_job *n = list->next;
		list->next = rev;
		rev = list;
		list = n;
	}
	while (rev != NULL) {
		struct pool_job *j = rev;
		rev = j->next;
		p->pending--;
		j->done(j->job);
		free(j);
	}
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;
	(void)what;
	(void)!read(fd, &n, sizeof(n));
	run_done(arg);
}

struct pool *pool_create(struct event_base *base, unsigned nthreads)
{
	struct pool *p = xcalloc(1, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd < 0)
		fatal("event=pool_error error=\"%s\"", strerror(errno));
	p->ev = event_new(base, p->efd, EV_READ | EV_PERSIST, on_event, p);
	event_add(p->ev, NULL);
	p->nthreads = nthreads ? nthreads : 1;
	p->threads = xcalloc(p->nthreads, sizeof(pthread_t));
	for (unsigned i = 0; i < p->nthreads; i++)
		if (pthread_create(&p->threads[i], NULL, pool_thread, p) != 0)
			fatal("event=pool_error error=pthread_create");
	return p;
}

void pool_submit(struct pool *p, pool_fn *work, pool_fn *done, void *job)
{
	struct pool_job *j = xcalloc(1, sizeof(*j));
	j->work = work;
	j->done = done;
	j->job = job;
	pthread_mutex_lock(&p->mu);
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->pending++;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mu);
}

unsigned pool_pending(const struct pool *p)
{
	return p->pending;
}

void pool_destroy(struct pool **pp)
{
	struct pool *p = *pp;
	if (p == NULL)
		return;
	*pp = NULL;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	run_done(p);
	free(p->threads);
	event_free(p->ev);
	close(p->efd);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cond);
	free(p);
}
