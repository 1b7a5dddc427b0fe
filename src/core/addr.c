/*
 * addr.c - numeric socket address parsing and printing (see addr.h).
 */
#include "addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int addr_parse(const char *s, struct addr *a, const char **error_r)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port;
	memset(a, 0, sizeof(*a));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host)) {
			*error_r = "expected [ipv6]:port";
			return -1;
		}
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		port = end + 2;
	} else {
		const char *colon = strrchr(s, ':');
		if (colon == NULL || (size_t)(colon - s) >= sizeof(host) ||
		    memchr(s, ':', (size_t)(colon - s)) != NULL) {
			*error_r = "expected ip:port or [ipv6]:port";
			return -1;
		}
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		port = colon + 1;
	}
	char *end;
	long p = strtol(port, &end, 10);
	if (port[0] < '0' || port[0] > '9' || *end != '\0' || p < 1 || p > 65535) {
		*error_r = "port must be a number from 1 to 65535";
		return -1;
	}
	struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;
	if (s[0] == '[' && (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)) {
		*error_r = "expected an IPv6 address inside [ ]";
		return -1;
	}
	if (host[0] == '\0') {
		*error_r = "expected ip:port, [ipv6]:port or *:port";
		return -1;
	}
	if (strcmp(host, "*") == 0) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		sin->sin_port = htons((uint16_t)p);
		a->len = sizeof(*sin);
	} else if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		a->len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		a->len = sizeof(*sin6);
	} else {
		*error_r = "not a numeric IPv4 or IPv6 address";
		return -1;
	}
	return 0;
}

const char *addr_ip(const struct sockaddr *sa, char *out, size_t outlen)
{
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
			  (socklen_t)outlen);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)outlen);
	else
		snprintf(out, outlen, "unix");
	return out;
}

const char *addr_format(const struct sockaddr *sa, char *out, size_t outlen)
{
	char ip[INET6_ADDRSTRLEN];
	addr_ip(sa, ip, sizeof(ip));
	if (sa->sa_family == AF_INET)
		snprintf(out, outlen, "%s:%u", ip,
			 ntohs(((const struct sockaddr_in *)sa)->sin_port));
	else if (sa->sa_family == AF_INET6)
		snprintf(out, outlen, "[%s]:%u", ip,
			 ntohs(((const struct sockaddr_in6 *)sa)->sin6_port));
	else
		snprintf(out, outlen, "%s", ip);
	return out;
}
