/*
 * imap-fetch-private - helpers shared by the imap-fetch*.c files; not for
 * other modules.
 */
#ifndef VMAILD_IMAP_IMAP_FETCH_PRIVATE_H
#define VMAILD_IMAP_IMAP_FETCH_PRIVATE_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>

struct mime_part;

/*
 * imap_fetch_header_field: append the value of the first field called
 * name (ASCII case ignored) in part's header: leading white space
 * removed, the final line end removed; folded line ends removed too
 * unless raw. false (nothing appended) when there is no such field.
 */
bool imap_fetch_header_field(const struct mime_part *part, const char *msg, size_t len,
                             const char *name, bool raw, struct buf *value);

/*
 * imap_fetch_header_next: the same for the next field called name at or
 * after *pos_r (start with 0); *pos_r moves past it. One pass over the
 * header for all occurrences.
 */
bool imap_fetch_header_next(const struct mime_part *part, const char *msg, size_t len,
                            const char *name, size_t *pos_r, bool raw, struct buf *value);

#endif
