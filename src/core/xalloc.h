/*
 * xalloc - allocation that never returns NULL.
 *
 * Owns: nothing but the policy. An allocation failure is not something a
 * mail server can recover from in the middle of a transaction, so every
 * function here aborts the process with a log line instead of returning
 * NULL. The master restarts the child.
 */
#ifndef VMAILD_CORE_XALLOC_H
#define VMAILD_CORE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
/* xreallocarray: p resized to n * size, aborting on overflow. */
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
