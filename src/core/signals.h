/*
 * signals - small helpers for the signal handling every process shares.
 */
#ifndef VMAILD_CORE_SIGNALS_H
#define VMAILD_CORE_SIGNALS_H

/* signals_block_stop: block SIGTERM, SIGINT and SIGUSR1 for good. Called
 * when a process's loop has ended, so a late second signal cannot kill
 * its clean-up (libevent restores the default handlers as it frees its
 * signal events). */
void signals_block_stop(void);

#endif
