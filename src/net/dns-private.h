/*
 * dns-private - the record parsers of the dns module, for dns.c, the unit
 * test and the fuzz target only. Other modules use dns.h.
 *
 * libunbound hands over each record's rdata without the RDLENGTH prefix,
 * with domain names uncompressed (it decompresses while parsing the
 * message). The parsers here trust nothing of it: every read is checked
 * against the record length, a compression pointer or a label type other
 * than 00 is an error, a name may not exceed 255 octets on the wire, and
 * a record must end exactly where its last field ends.
 *
 * Returns: 0, or -1 with a static message in *error_r.
 */
#ifndef VMAILD_NET_DNS_PRIVATE_H
#define VMAILD_NET_DNS_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "net/dns.h"

/* Longest name on the wire (RFC 1035 3.1) and in presentation form with
 * every octet escaped as \DDD (63 * 4 per label plus dots). */
#define DNS_NAME_WIRE_MAX 255
#define DNS_NAME_TEXT_MAX 1024

/*
 * dns_name_parse: the uncompressed wire name at p[0..len) into out
 * (appended, presentation form, no trailing dot, "." for the root).
 * *used_r is the number of wire octets it took.
 */
int dns_name_parse(const uint8_t *p, size_t len, size_t *used_r, struct buf *out,
                   const char **error_r);

/*
 * dns_rdata_fill: parse n records of type (data[i] of len[i] octets, as in
 * struct ub_result) into res's array for type and set res->n. On error
 * nothing is left in res (n = 0, arrays NULL). MX records are sorted.
 */
int dns_rdata_fill(struct dns_result *res, enum dns_type type, char *const *data, const int *len,
                   size_t n, const char **error_r);

/* dns_result_clear: free everything res holds and zero it. */
void dns_result_clear(struct dns_result *res);

#endif
