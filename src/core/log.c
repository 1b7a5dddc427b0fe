/*
 * log.c - key=value event log to stderr or syslog (see log.h).
 */
#include "log.h"
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static char log_role_name[32] = "main";
static bool log_syslog;
static enum log_level log_min = LOG_LVL_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error", "fatal"};

void log_open(const char *role, bool use_syslog, enum log_level min_level)
{
	log_set_role(role);
	log_min = min_level;
	if (use_syslog && !log_syslog)
		openlog("vmaild", LOG_PID | LOG_NDELAY, LOG_MAIL);
	else if (!use_syslog && log_syslog)
		closelog();
	log_syslog = use_syslog;
}

void log_set_role(const char *role)
{
	snprintf(log_role_name, sizeof(log_role_name), "%s", role);
}

const char *log_role(void)
{
	return log_role_name;
}

int log_parse_level(const char *s)
{
	for (int i = 0; i < LOG_LVL_FATAL; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	if (level < log_min)
		return;
	char line[4096];
	size_t off = 0;
	int n;
	if (log_syslog) {
		n = snprintf(line, sizeof(line), "[%s] level=%s ", log_role_name,
			     level_names[level]);
	} else {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = snprintf(line, sizeof(line),
			     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ vmaild[%s] pid=%ld level=%s ",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			     tm.tm_sec, ts.tv_nsec / 1000000, log_role_name, (long)getpid(),
			     level_names[level]);
	}
	if (n > 0)
		off = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	n = vsnprintf(line + off, sizeof(line) - off - 1, fmt, ap);
	if (n > 0)
		off += (size_t)n < sizeof(line) - off - 1 ? (size_t)n : sizeof(line) - off - 2;
	/* A format argument must never smuggle a line break into the log. */
	for (size_t i = 0; i < off; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	if (log_syslog) {
		static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR, LOG_CRIT};
		line[off] = '\0';
		syslog(prio[level], "%s", line);
		return;
	}
	line[off++] = '\n';
	(void)!write(2, line, off);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_LVL_FATAL, fmt, ap);
	va_end(ap);
	exit(1);
}

const char *log_esc(const char *s)
{
	static __thread struct buf ring[4];
	static __thread unsigned next;
	struct buf *b = &ring[next++ % 4];
	buf_reset(b);
	if (s == NULL)
		s = "";
	buf_append_escaped(b, s, strlen(s), 200);
	return buf_cstr(b);
}
