/*
 * addr - socket addresses as written in the configuration.
 *
 * Owns: parsing "ip:port", "[ipv6]:port" and "*:port" (all IPv4
 * addresses) into a sockaddr, and printing one back. Only numeric
 * addresses: a listener never depends on DNS.
 */
#ifndef VMAILD_CORE_ADDR_H
#define VMAILD_CORE_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* addr_parse: 0, or -1 with a static message in *error_r. */
int addr_parse(const char *s, struct addr *a, const char **error_r);
/* addr_format: "1.2.3.4:25" or "[::1]:25" into out (at least 64 bytes). */
const char *addr_format(const struct sockaddr *sa, char *out, size_t outlen);
/* addr_ip: the address without port ("1.2.3.4", "::1"). */
const char *addr_ip(const struct sockaddr *sa, char *out, size_t outlen);

#endif
