/* ctl-dns.c - placeholder until the DNS module lands; replaced by it. */
#include "ctl/ctl.h"
#include <stdio.h>
int ctl_dns(struct ctl *c, int argc, char **argv)
{
	(void)c;
	(void)argc;
	(void)argv;
	fprintf(stderr, "vmailctl: dns: not built yet\n");
	return 2;
}
