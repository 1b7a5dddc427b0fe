/*
 * quota - Maildir++ quota in <root>/maildirsize, as Dovecot's quota =
 * maildir keeps it.
 *
 * Owns: reading, recalculating, rewriting and appending to maildirsize.
 * The file holds a limits line ("<bytes>S", "<count>C", both joined by
 * ',', "0S" when unlimited) and then lines "<bytes> <count>" whose sum is
 * the usage. A delivery appends its delta with one O_APPEND write.
 *
 * The file is recalculated (every cur/ and new/ of the root and of every
 * folder below it summed, sizes from S= in the name or stat(), and the
 * file replaced through tmp/ and rename) when it is missing, bigger than
 * 5120 bytes, holds a NUL or a malformed line, has a negative sum, has no
 * usage line, states other limits than the account's (so a changed quota
 * reaches the first line), or when the usage it states is over a limit
 * and it either has more than one usage line or is older than 15 minutes.
 * These are the Maildir++ rules as Dovecot 2.3 applies them. Concurrent
 * writers can make the sum drift a little; the rules above rebuild it
 * exactly when it matters, near the limit.
 *
 * Limits are bytes and messages; 0 is unlimited. The guide's accounts
 * table has quota in MiB (quota_limits_from_mb).
 * Return convention as in store.h.
 */
#ifndef VMAILD_STORE_QUOTA_H
#define VMAILD_STORE_QUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAILDIRSIZE_NAME       "maildirsize"
#define MAILDIRSIZE_MAX_SIZE   5120
#define MAILDIRSIZE_STALE_SECS (15 * 60)

struct quota_limits {
	uint64_t bytes; /* 0 = unlimited */
	uint64_t count; /* 0 = unlimited */
};

struct quota_usage {
	uint64_t bytes;
	uint64_t count;
};

/* quota_limits_from_mb: the guide's accounts.quota (MiB): bytes =
 * mb * 1024 * 1024, no message limit. */
void quota_limits_from_mb(unsigned mb, struct quota_limits *limits_r);

/* Result of parsing the contents of a maildirsize file. */
struct maildirsize {
	struct quota_limits limits; /* of the first line; 0 when absent */
	bool limits_ok;             /* every item of the first line was valid */
	int64_t bytes;              /* sum of the usage lines */
	int64_t count;
	unsigned lines;  /* usage lines after the first line */
	const char *why; /* static reason when recalculation is needed */
};

/*
 * quota_maildirsize_parse: parse data (the file's bytes, as read, at most
 * MAILDIRSIZE_MAX_SIZE + 1 of them) into ms. 1: usable; 0: the file must
 * be recalculated, ms->why says why. Any input is safe. The rules that
 * need the account's limits or the file's age are applied by quota_get().
 */
int quota_maildirsize_parse(const char *data, size_t len, struct maildirsize *ms);

/* quota_maildirsize_format: the file's contents for limits and usage
 * ("<limits>\n<bytes> <count>\n") into out; returns the length. */
size_t quota_maildirsize_format(const struct quota_limits *limits, const struct quota_usage *u,
                                char *out, size_t outlen);

/*
 * quota_get: the usage of root, recalculating and rewriting maildirsize
 * when the rules above say so. A root that does not exist yet has zero
 * usage and nothing is written.
 */
int quota_get(const char *root, const struct quota_limits *limits, struct quota_usage *usage_r,
              const char **error_r);

/* quota_recalc: sum the mailboxes below root and rewrite maildirsize
 * (creating root/tmp/ for the temporary file if needed). */
int quota_recalc(const char *root, const struct quota_limits *limits, struct quota_usage *usage_r,
                 const char **error_r);

/*
 * quota_add: record that bytes and count were added (or, negative,
 * removed) under root. Appends "<bytes> <count>\n" with one write when
 * the file is usable; when it must be recalculated instead, the files
 * already on disk are counted, so call this after the link into new/.
 */
int quota_add(const char *root, const struct quota_limits *limits, int64_t bytes, int64_t count,
              const char **error_r);

/* quota_usage_over: the limit is reached already: no message fits
 * (RCPT stage: 452 4.2.2). */
bool quota_usage_over(const struct quota_usage *u, const struct quota_limits *limits);
/* quota_usage_exceeded_by: one more message of size bytes would go over a
 * limit (end of DATA: 552 5.2.2). */
bool quota_usage_exceeded_by(const struct quota_usage *u, const struct quota_limits *limits,
                             uint64_t size);

/* quota_check_rcpt: 1 when root is over quota already, 0 when not. */
int quota_check_rcpt(const char *root, const struct quota_limits *limits, const char **error_r);
/* quota_check_size: 1 when a message of size bytes would exceed, 0 when it fits. */
int quota_check_size(const char *root, const struct quota_limits *limits, uint64_t size,
                     const char **error_r);

#endif
