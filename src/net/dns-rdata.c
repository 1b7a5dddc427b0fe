/*
 * dns-rdata.c - record data parsers, reverse names and the small helpers
 * of the dns module that need no resolver (see dns.h, dns-private.h).
 *
 * Everything here is pure: no I/O, no global state, so the unit test and
 * the fuzz target can drive it directly. Every parser takes the length of
 * the data it may read and checks each field against it before reading.
 */
#include "net/dns-private.h"
#include "core/xalloc.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int dns_name_parse(const uint8_t *p, size_t len, size_t *used_r, struct buf *out,
                   const char **error_r)
{
	size_t off = 0;
	size_t start = out->len;
	for (;;) {
		if (off >= len) {
			*error_r = "name runs past the end of the record";
			goto fail;
		}
		uint8_t l = p[off];
		if ((l & 0xc0) != 0) {
			/* 11 is a compression pointer, 01 and 10 are obsolete or
			 * unassigned label types: none may appear here. */
			*error_r = (l & 0xc0) == 0xc0 ? "compressed name in record data"
			                              : "unknown label type";
			goto fail;
		}
		if (l == 0) {
			off++;
			break;
		}
		/* this label, and at least the root label after it */
		if (off + 1 + l + 1 > DNS_NAME_WIRE_MAX) {
			*error_r = "name longer than 255 octets";
			goto fail;
		}
		if (off + 1 + l > len) {
			*error_r = "label runs past the end of the record";
			goto fail;
		}
		if (out->len > start)
			buf_append_c(out, '.');
		for (size_t i = 0; i < l; i++) {
			uint8_t c = p[off + 1 + i];
			if (c == '.' || c == '\\') {
				buf_append_c(out, '\\');
				buf_append_c(out, (char)c);
			} else if (c < 0x21 || c > 0x7e) {
				buf_appendf(out, "\\%03u", c);
			} else {
				buf_append_c(out, (char)c);
			}
		}
		off += 1 + (size_t)l;
	}
	if (out->len == start)
		buf_append_c(out, '.');
	*used_r = off;
	return 0;
fail:
	buf_truncate(out, start);
	return -1;
}

/* parse_name_all: a name that must fill p[0..len) exactly, as a new string. */
static int parse_name_all(const uint8_t *p, size_t len, char **name_r, const char **error_r)
{
	struct buf b = BUF_INIT;
	size_t used;
	if (dns_name_parse(p, len, &used, &b, error_r) < 0) {
		buf_free(&b);
		return -1;
	}
	if (used != len) {
		*error_r = "octets left after the name";
		buf_free(&b);
		return -1;
	}
	*name_r = buf_steal(&b);
	return 0;
}

static int mx_cmp(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;
	if (x->preference != y->preference)
		return x->preference < y->preference ? -1 : 1;
	return strcasecmp(x->host, y->host);
}

static void records_free(struct dns_result *res)
{
	for (unsigned i = 0; i < res->n; i++) {
		if (res->mx != NULL)
			free(res->mx[i].host);
		if (res->txt != NULL)
			free(res->txt[i].data);
		if (res->ptr != NULL)
			free(res->ptr[i]);
		if (res->tlsa != NULL)
			free(res->tlsa[i].data);
	}
	free(res->addr);
	free(res->mx);
	free(res->txt);
	free(res->ptr);
	free(res->tlsa);
	res->addr = NULL;
	res->mx = NULL;
	res->txt = NULL;
	res->ptr = NULL;
	res->tlsa = NULL;
	res->n = 0;
}

static int parse_one(struct dns_result *res, enum dns_type type, const uint8_t *p, size_t len,
                     unsigned i, const char **error_r)
{
	switch (type) {
	case DNS_T_A:
		if (len != 4) {
			*error_r = "A record is not 4 octets";
			return -1;
		}
		res->addr[i].family = AF_INET;
		memcpy(&res->addr[i].u.v4, p, 4);
		inet_ntop(AF_INET, p, res->addr[i].str, sizeof(res->addr[i].str));
		return 0;
	case DNS_T_AAAA:
		if (len != 16) {
			*error_r = "AAAA record is not 16 octets";
			return -1;
		}
		res->addr[i].family = AF_INET6;
		memcpy(&res->addr[i].u.v6, p, 16);
		inet_ntop(AF_INET6, p, res->addr[i].str, sizeof(res->addr[i].str));
		return 0;
	case DNS_T_MX:
		if (len < 3) {
			*error_r = "MX record too short";
			return -1;
		}
		res->mx[i].preference = (uint16_t)(p[0] << 8 | p[1]);
		return parse_name_all(p + 2, len - 2, &res->mx[i].host, error_r);
	case DNS_T_PTR:
		return parse_name_all(p, len, &res->ptr[i], error_r);
	case DNS_T_TXT: {
		struct buf b = BUF_INIT;
		size_t off = 0;
		/* RFC 1035 3.3.14: one or more <character-string>s. */
		if (len == 0) {
			*error_r = "TXT record without a string";
			return -1;
		}
		while (off < len) {
			size_t l = p[off];
			if (l > len - off - 1) {
				*error_r = "TXT string runs past the end of the record";
				buf_free(&b);
				return -1;
			}
			buf_append(&b, p + off + 1, l);
			off += 1 + l;
		}
		buf_reserve(&b, 0); /* data is never NULL, even for "" */
		res->txt[i].len = b.len;
		res->txt[i].data = buf_steal(&b);
		return 0;
	}
	case DNS_T_TLSA:
		if (len < 3) {
			*error_r = "TLSA record too short";
			return -1;
		}
		res->tlsa[i].usage = p[0];
		res->tlsa[i].selector = p[1];
		res->tlsa[i].mtype = p[2];
		res->tlsa[i].len = len - 3;
		res->tlsa[i].data = xmalloc(len - 3 + 1);
		memcpy(res->tlsa[i].data, p + 3, len - 3);
		return 0;
	}
	*error_r = "unsupported record type";
	return -1;
}

int dns_rdata_fill(struct dns_result *res, enum dns_type type, char *const *data, const int *len,
                   size_t n, const char **error_r)
{
	records_free(res);
	if (n == 0)
		return 0;
	if (n > 65535) {
		*error_r = "too many records";
		return -1;
	}
	switch (type) {
	case DNS_T_A:
	case DNS_T_AAAA:
		res->addr = xcalloc(n, sizeof(*res->addr));
		break;
	case DNS_T_MX:
		res->mx = xcalloc(n, sizeof(*res->mx));
		break;
	case DNS_T_TXT:
		res->txt = xcalloc(n, sizeof(*res->txt));
		break;
	case DNS_T_PTR:
		res->ptr = xcalloc(n, sizeof(*res->ptr));
		break;
	case DNS_T_TLSA:
		res->tlsa = xcalloc(n, sizeof(*res->tlsa));
		break;
	default:
		*error_r = "unsupported record type";
		return -1;
	}
	/* n counts the slots filled so far, so records_free() frees exactly
	 * what a failure leaves behind (calloc'd slots are NULL). */
	res->n = (unsigned)n;
	for (size_t i = 0; i < n; i++) {
		if (data[i] == NULL || len[i] < 0) {
			*error_r = "missing record data";
			records_free(res);
			return -1;
		}
		if (parse_one(res, type, (const uint8_t *)data[i], (size_t)len[i], (unsigned)i,
		              error_r) < 0) {
			records_free(res);
			return -1;
		}
	}
	if (type == DNS_T_MX)
		qsort(res->mx, n, sizeof(*res->mx), mx_cmp);
	return 0;
}

void dns_result_clear(struct dns_result *res)
{
	records_free(res);
	free(res->name);
	free(res->why_bogus);
	free(res->error);
	free(res->canonname);
	memset(res, 0, sizeof(*res));
}

void dns_result_free(struct dns_result **res)
{
	if (*res == NULL)
		return;
	dns_result_clear(*res);
	free(*res);
	*res = NULL;
}

bool dns_result_is_null_mx(const struct dns_result *res)
{
	return res->status == DNS_OK && res->type == DNS_T_MX && res->n == 1 &&
	       strcmp(res->mx[0].host, ".") == 0;
}

static int reverse_v4(const uint8_t *b, char *out, size_t outlen)
{
	int r = snprintf(out, outlen, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
	return r > 0 && (size_t)r < outlen ? 0 : -1;
}

static int reverse_v6(const uint8_t *b, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	static const char tail[] = "ip6.arpa";
	if (outlen < 64 + sizeof(tail))
		return -1;
	size_t o = 0;
	for (int i = 15; i >= 0; i--) {
		out[o++] = hex[b[i] & 0x0f];
		out[o++] = '.';
		out[o++] = hex[b[i] >> 4];
		out[o++] = '.';
	}
	memcpy(out + o, tail, sizeof(tail));
	return 0;
}

int dns_reverse_name(const char *ip, char *out, size_t outlen)
{
	uint8_t b[16];
	if (inet_pton(AF_INET, ip, b) == 1)
		return reverse_v4(b, out, outlen);
	if (inet_pton(AF_INET6, ip, b) == 1) {
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)b))
			return reverse_v4(b + 12, out, outlen);
		return reverse_v6(b, out, outlen);
	}
	return -1;
}

int dns_reverse_name_sa(const struct sockaddr *sa, char *out, size_t outlen)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		return reverse_v4((const uint8_t *)&sin->sin_addr, out, outlen);
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *b = (const uint8_t *)&sin6->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			return reverse_v4(b + 12, out, outlen);
		return reverse_v6(b, out, outlen);
	}
	return -1;
}

socklen_t dns_addr_sockaddr(const struct dns_addr *a, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr = a->u.v4;
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	sin6->sin6_addr = a->u.v6;
	return sizeof(*sin6);
}

static const struct {
	enum dns_type type;
	const char *name;
} type_names[] = {
    {DNS_T_A, "A"},     {DNS_T_AAAA, "AAAA"}, {DNS_T_MX, "MX"},
    {DNS_T_TXT, "TXT"}, {DNS_T_PTR, "PTR"},   {DNS_T_TLSA, "TLSA"},
};

const char *dns_type_name(enum dns_type type)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (type_names[i].type == type)
			return type_names[i].name;
	return "UNKNOWN";
}

int dns_type_parse(const char *s, enum dns_type *type_r)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (strcasecmp(type_names[i].name, s) == 0) {
			*type_r = type_names[i].type;
			return 0;
		}
	}
	return -1;
}

const char *dns_status_name(enum dns_status status)
{
	switch (status) {
	case DNS_OK:
		return "ok";
	case DNS_NXDOMAIN:
		return "nxdomain";
	case DNS_NODATA:
		return "nodata";
	case DNS_TEMPFAIL:
		return "tempfail";
	case DNS_PERMFAIL:
		return "permfail";
	}
	return "unknown";
}

const char *dns_sec_name(enum dns_sec sec)
{
	switch (sec) {
	case DNS_SEC_INSECURE:
		return "insecure";
	case DNS_SEC_SECURE:
		return "secure";
	case DNS_SEC_BOGUS:
		return "bogus";
	}
	return "unknown";
}

const char *dns_rcode_name(int rcode)
{
	static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
	                                    "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
	                                    "NXRRSET", "NOTAUTH", "NOTZONE"};
	if (rcode == -1)
		return "none";
	if (rcode >= 0 && (size_t)rcode < sizeof(names) / sizeof(names[0]))
		return names[rcode];
	return "UNKNOWN";
}
