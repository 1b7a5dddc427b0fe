/*
 * id - session and queue ids: 17 characters of a base32 alphabet
 * (0-9, A-Z without I, O, U, Y), unique across the processes of one host:
 * 11 characters of microseconds since the epoch, 5 of the pid (25 bits:
 * Linux's largest pid_max is 2^22), 1 of a counter. Time and counter are
 * one process-wide state under a lock, so threads never repeat an id:
 * the 33rd id within one microsecond borrows the next microsecond.
 * Sorting the ids of one process sorts them by creation.
 */
#ifndef VMAILD_CORE_ID_H
#define VMAILD_CORE_ID_H

#define ID_LEN 18 /* 17 characters and the NUL */

/* id_new: a fresh id into out. */
void id_new(char out[ID_LEN]);

#endif
