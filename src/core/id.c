/*
 * id.c - unique ids for sessions and queued messages (see id.h).
 */
#include "id.h"

#include <stdint.h>
#include <sys/time.h>
#include <unistd.h>

void id_new(char out[ID_LEN])
{
	static const char digits[] = "0123456789ABCDEFGHJKLMNPQRSTVWXZ";
	static __thread uint64_t last_us;
	static __thread unsigned counter;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	uint64_t us = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
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
	for (int i = 10; i >= 0; i--) {
		out[i] = digits[us & 31];
		us >>= 5;
	}
	uint32_t pid = (uint32_t)getpid() & 0x7fff;
	out[11] = digits[(pid >> 10) & 31];
	out[12] = digits[(pid >> 5) & 31];
	out[13] = digits[pid & 31];
	out[14] = digits[counter & 31];
	out[15] = '\0';
}
