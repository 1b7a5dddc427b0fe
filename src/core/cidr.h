/*
 * cidr - IP networks as Postfix writes them in mynetworks:
 * "127.0.0.0/8", "[::ffff:127.0.0.0]/104", "[::1]/128", "192.0.2.1",
 * "::1". IPv4-mapped IPv6 clients match IPv4 networks too.
 * Parsing is strict: 0 / -1.
 */
#ifndef VMAILD_CORE_CIDR_H
#define VMAILD_CORE_CIDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct cidr {
	int family; /* AF_INET, AF_INET6 */
	uint8_t addr[16];
	unsigned bits;
};

int cidr_parse(const char *s, struct cidr *c);
bool cidr_match(const struct cidr *c, const struct sockaddr *sa);
/* cidr_list_match: any of n networks. */
bool cidr_list_match(const struct cidr *list, unsigned n, const struct sockaddr *sa);

#endif
