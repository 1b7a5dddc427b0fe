/*
 * conn-limit.c - per-address connection counts shared by the workers
 * (see conn-limit.h).
 */
#include "net/conn-limit.h"
#include "core/log.h"
#include "core/xalloc.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

struct fail_bucket {
	_Atomic uint32_t count;
	_Atomic int64_t last;
};

struct conn_limit {
	_Atomic uint16_t (*counts)[CONN_LIMIT_BUCKETS]; /* shared mapping */
	_Atomic uint16_t (*keyed)[CONN_LIMIT_BUCKETS];	/* shared mapping */
	struct fail_bucket *fails;			/* shared mapping */
	bool used[CONN_LIMIT_SLOTS];			/* master only */
	int slot;					/* worker: its slot */
};

struct conn_limit *conn_limit_create(void)
{
	struct conn_limit *cl = xcalloc(1, sizeof(*cl));
	size_t size = sizeof(_Atomic uint16_t) * CONN_LIMIT_SLOTS * CONN_LIMIT_BUCKETS;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal("event=start_error error=\"mmap for connection counts failed\"");
	cl->counts = p;
	cl->slot = -1;
	void *f = mmap(NULL, sizeof(struct fail_bucket) * CONN_LIMIT_FAIL_BUCKETS,
		       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (f == MAP_FAILED)
		fatal("event=start_error error=\"mmap for failure counts failed\"");
	cl->fails = f;
	void *k = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (k == MAP_FAILED)
		fatal("event=start_error error=\"mmap for keyed connection counts failed\"");
	cl->keyed = k;
	return cl;
}

void conn_limit_destroy(struct conn_limit **clp)
{
	struct conn_limit *cl = *clp;
	if (cl == NULL)
		return;
	*clp = NULL;
	munmap((void *)cl->counts,
	       sizeof(_Atomic uint16_t) * CONN_LIMIT_SLOTS * CONN_LIMIT_BUCKETS);
	munmap((void *)cl->keyed,
	       sizeof(_Atomic uint16_t) * CONN_LIMIT_SLOTS * CONN_LIMIT_BUCKETS);
	munmap(cl->fails, sizeof(struct fail_bucket) * CONN_LIMIT_FAIL_BUCKETS);
	free(cl);
}

int conn_limit_slot_take(struct conn_limit *cl)
{
	for (int i = 0; i < CONN_LIMIT_SLOTS; i++) {
		if (!cl->used[i]) {
			cl->used[i] = true;
			for (int b = 0; b < CONN_LIMIT_BUCKETS; b++) {
				atomic_store(&cl->counts[i][b], 0);
				atomic_store(&cl->keyed[i][b], 0);
			}
			return i;
		}
	}
	return -1;
}

void conn_limit_slot_release(struct conn_limit *cl, int slot)
{
	if (cl != NULL && slot >= 0 && slot < CONN_LIMIT_SLOTS)
		cl->used[slot] = false;
}

void conn_limit_use_slot(struct conn_limit *cl, int slot)
{
	cl->slot = slot;
}

static unsigned bucket(const struct sockaddr *sa)
{
	const uint8_t *p;
	size_t n;
	if (sa->sa_family == AF_INET) {
		p = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		n = 4;
	} else if (sa->sa_family == AF_INET6) {
		p = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
		n = 16;
	} else {
		return 0;
	}
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h % CONN_LIMIT_BUCKETS;
}

unsigned conn_limit_acquire(struct conn_limit *cl, const struct sockaddr *sa)
{
	unsigned b = bucket(sa);
	if (cl->slot >= 0)
		atomic_fetch_add(&cl->counts[cl->slot][b], 1);
	unsigned total = 0;
	for (int i = 0; i < CONN_LIMIT_SLOTS; i++)
		total += atomic_load_explicit(&cl->counts[i][b], memory_order_relaxed);
	return total;
}

void conn_limit_release(struct conn_limit *cl, const struct sockaddr *sa)
{
	if (cl->slot >= 0)
		atomic_fetch_sub(&cl->counts[cl->slot][bucket(sa)], 1);
}

static unsigned key_bucket(const char *key)
{
	uint32_t h = 2166136261u;
	for (const char *p = key; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h % CONN_LIMIT_BUCKETS;
}

unsigned conn_limit_key_acquire(struct conn_limit *cl, const char *key)
{
	unsigned b = key_bucket(key);
	if (cl->slot >= 0)
		atomic_fetch_add(&cl->keyed[cl->slot][b], 1);
	unsigned total = 0;
	for (int i = 0; i < CONN_LIMIT_SLOTS; i++)
		total += atomic_load_explicit(&cl->keyed[i][b], memory_order_relaxed);
	return total;
}

void conn_limit_key_release(struct conn_limit *cl, const char *key)
{
	if (cl->slot >= 0)
		atomic_fetch_sub(&cl->keyed[cl->slot][key_bucket(key)], 1);
}

static struct fail_bucket *fail_bucket(struct conn_limit *cl, const char *key)
{
	uint32_t h = 2166136261u;
	for (const char *p = key; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return &cl->fails[h % CONN_LIMIT_FAIL_BUCKETS];
}

unsigned conn_limit_fail_count(struct conn_limit *cl, const char *key)
{
	struct fail_bucket *b = fail_bucket(cl, key);
	if (time(NULL) - atomic_load(&b->last) > CONN_LIMIT_FAIL_FORGET)
		return 0;
	return atomic_load(&b->count);
}

void conn_limit_fail_add(struct conn_limit *cl, const char *key)
{
	struct fail_bucket *b = fail_bucket(cl, key);
	int64_t now = time(NULL);
	if (now - atomic_exchange(&b->last, now) > CONN_LIMIT_FAIL_FORGET)
		atomic_store(&b->count, 0);
	atomic_fetch_add(&b->count, 1);
}
