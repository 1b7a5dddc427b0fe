/*
 * id.c - unique ids for sessions and queued messages (see id.h).
 */
#include "id.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/time.h>
#include <unistd.h>

static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_us;
static unsigned counter;
static pid_t last_pid;

void id_new(char out[ID_LEN])
{
	static const char digits[] = "0123456789ABCDEFGHJKLMNPQRSTVWXZ";
	struct timeval tv;
	gettimeofday(&tv, NULL);
	uint64_t us = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
	pid_t pid_now = getpid();
	pthread_mutex_lock(&id_lock);
	if (pid_now != last_pid) { /* a forked child starts its own sequence */
		last_pid = pid_now;
		last_us = 0;
		counter = 0;
	}
	if (us <= last_us) {
		if (++counter >= 32) {
			counter = 0;
			last_us++;
		}
		us = last_us;
	} else {
		counter = 0;
		last_us = us;
	}
	unsigned c = counter;
	pthread_mutex_unlock(&id_lock);
	for (int i = 10; i >= 0; i--) {
		out[i] = digits[us & 31];
		us >>= 5;
	}
	uint32_t pid = (uint32_t)pid_now & 0x1ffffff;
	for (int i = 15; i >= 11; i--) {
		out[i] = digits[pid & 31];
		pid >>= 5;
	}
	out[16] = digits[c & 31];
	out[17] = '\0';
}
