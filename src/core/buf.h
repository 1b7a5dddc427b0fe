/*
 * buf - the one byte-buffer type of vmaild.
 *
 * Owns: a heap block with length and capacity. Binary-safe; data[len] is
 * always '\0' so the contents can be used as a C string when they hold no
 * NUL. Mutated only through a pointer to the struct. A zeroed struct
 * (BUF_INIT) is a valid empty buffer; buf_free() returns it to that state.
 * Allocation failure aborts (xalloc).
 */
#ifndef VMAILD_CORE_BUF_H
#define VMAILD_CORE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

void buf_free(struct buf *b);
/* buf_reset: length 0, capacity kept. */
void buf_reset(struct buf *b);
/* buf_reserve: room for at least n more bytes plus the terminator. */
void buf_reserve(struct buf *b, size_t n);
void buf_append(struct buf *b, const void *data, size_t n);
void buf_append_str(struct buf *b, const char *s);
void buf_append_c(struct buf *b, char c);
void buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vappendf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* buf_consume: drop the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* buf_truncate: shorten to n bytes (n <= len). */
void buf_truncate(struct buf *b, size_t n);
/* buf_steal: return the data as a malloc'd C string and empty the buffer. */
char *buf_steal(struct buf *b);
/* buf_cstr: data as a C string, "" when nothing was ever allocated. */
const char *buf_cstr(const struct buf *b);

/*
 * buf_append_escaped: append s for a log line or a key=value field:
 * printable ASCII is copied, '\\', '"', ' ' and '=' and every other byte
 * are written as \xHH, so client-supplied text can never forge fields or
 * lines. At most max_in input bytes are used; longer input ends in "...".
 */
void buf_append_escaped(struct buf *b, const char *s, size_t n, size_t max_in);

#endif
