/*
 * id - session and queue ids: 15 characters of a base32 alphabet
 * (0-9, A-Z without I, O, U, Y), unique across the processes of one host:
 * 11 characters of microseconds since the epoch, 3 of the pid, 1 of a
 * per-thread counter (a 32-id burst within one microsecond would
 * repeat; the counter also bumps the time then). Sorting queue ids sorts
 * them by creation time.
 */
#ifndef VMAILD_CORE_ID_H
#define VMAILD_CORE_ID_H

#define ID_LEN 16 /* 15 characters and the NUL */

/* id_new: a fresh id into out. */
void id_new(char out[ID_LEN]);

#endif
