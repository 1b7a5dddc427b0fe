/*
 * cidr.c - network matching for mynetworks and address lists (see cidr.h).
 */
#include "cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

int cidr_parse(const char *s, struct cidr *c)
{
	char host[64];
	const char *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	char *h = host;
	if (h[0] == '[') {
		if (h[hl - 1] != ']')
			return -1;
		h[hl - 1] = '\0';
		h++;
	}
	memset(c, 0, sizeof(*c));
	unsigned maxbits;
	if (inet_pton(AF_INET, h, c->addr) == 1) {
		c->family = AF_INET;
		maxbits = 32;
	} else if (inet_pton(AF_INET6, h, c->addr) == 1) {
		c->family = AF_INET6;
		maxbits = 128;
	} else {
		return -1;
	}
	c->bits = maxbits;
	if (slash != NULL) {
		char *end;
		if (slash[1] < '0' || slash[1] > '9')
			return -1;
		unsigned long b = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || b > maxbits)
			return -1;
		c->bits = (unsigned)b;
	}
	return 0;
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;
	if (memcmp(a, b, bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

bool cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	const uint8_t *ip;
	int family = sa->sa_family;
	if (family == AF_INET) {
		ip = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (family == AF_INET6) {
		ip = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (c->family == AF_INET && memcmp(ip, mapped, 12) == 0)
			return prefix_match(ip + 12, c->addr, c->bits);
	} else {
		return false;
	}
	return family == c->family && prefix_match(ip, c->addr, c->bits);
}

bool cidr_list_match(const struct cidr *list, unsigned n, const struct sockaddr *sa)
{
	for (unsigned i = 0; i < n; i++)
		if (cidr_match(&list[i], sa))
			return true;
	return false;
}
