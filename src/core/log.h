/*
 * log - one line per event, key=value.
 *
 * Owns: the process-wide log destination (stderr or syslog facility mail)
 * and the role name shown in every line. A line reads
 *   2026-11-22T01:40:00.123Z vmaild[worker] pid=1234 level=info sid=... event=...
 * The caller writes the fields, first the session id, then the queue id
 * when there is one; text a client sent must go through
 * buf_append_escaped() or log_esc() first. Secrets are never logged.
 * Each line is written with one write(2), so lines of several processes
 * sharing stderr never interleave. Lines are cut at 4 KiB.
 */
#ifndef VMAILD_CORE_LOG_H
#define VMAILD_CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR, LOG_LVL_FATAL };

void log_open(const char *role, bool use_syslog, enum log_level min_level);
void log_set_role(const char *role);
const char *log_role(void);
/* log_parse_level: "debug", "info", "warn", "error"; -1 when unknown. */
int log_parse_level(const char *s);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)

/* fatal: log at level fatal and exit(1). Only for broken invariants
 * between our own processes or start-up failures, never for peer input. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * log_esc: escape s (see buf_append_escaped) into one of a few rotating
 * static buffers, for use as a "%s" argument of a log call. At most 200
 * input bytes are shown. Not for anything but log arguments.
 */
const char *log_esc(const char *s);

#endif
