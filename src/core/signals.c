/*
 * signals.c - shared signal helpers (see signals.h).
 */
#include "signals.h"

#include <signal.h>
#include <stddef.h>

void signals_block_stop(void)
{
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGUSR1);
	sigprocmask(SIG_BLOCK, &ss, NULL);
}
