/*
 * fuzz-dns-rdata.c - libFuzzer target for the dns module's record parsers
 * (src/net/dns-rdata.c): what an authoritative server on the internet
 * controls once libunbound has passed its answer on.
 *
 * Input: one byte choosing the type (A AAAA MX TXT PTR TLSA, modulo 6),
 * then records, each a 2-byte big-endian length and that many octets
 * (a length past the end takes what is left). Each record is copied into
 * a heap block of exactly its size so that ASan catches any read past it.
 * The whole input is also parsed as one wire name, and as text for the
 * reverse-name helper.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/dns-private.h"
#include "net/dns.h"

#define MAX_RECORDS 64

static const enum dns_type types[] = {DNS_T_A,   DNS_T_AAAA, DNS_T_MX,
                                      DNS_T_TXT, DNS_T_PTR,  DNS_T_TLSA};

/* touch: read every byte of what a parse produced, so ASan sees it. */
static size_t touch(const struct dns_result *res)
{
	size_t sum = 0;
	for (unsigned i = 0; i < res->n; i++) {
		if (res->addr != NULL)
			sum += strlen(res->addr[i].str);
		if (res->mx != NULL)
			sum += strlen(res->mx[i].host) + res->mx[i].preference;
		if (res->txt != NULL) {
			for (size_t k = 0; k < res->txt[i].len; k++)
				sum += (unsigned char)res->txt[i].data[k];
			if (res->txt[i].data[res->txt[i].len] != '\0')
				abort();
		}
		if (res->ptr != NULL)
			sum += strlen(res->ptr[i]);
		if (res->tlsa != NULL)
			for (size_t k = 0; k < res->tlsa[i].len; k++)
				sum += res->tlsa[i].data[k];
	}
	return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum dns_type type = types[data[0] % 6];
	char *recs[MAX_RECORDS];
	int lens[MAX_RECORDS];
	size_t n = 0, off = 1;
	while (off + 2 <= size && n < MAX_RECORDS) {
		size_t l = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (l > size - off)
			l = size - off;
		recs[n] = malloc(l > 0 ? l : 1);
		memcpy(recs[n], data + off, l);
		lens[n] = (int)l;
		n++;
		off += l;
	}

	struct dns_result res;
	memset(&res, 0, sizeof(res));
	res.type = type;
	res.status = DNS_OK;
	const char *err = NULL;
	if (dns_rdata_fill(&res, type, recs, lens, n, &err) == 0) {
		volatile size_t sink = touch(&res);
		(void)sink;
		(void)dns_result_is_null_mx(&res);
		if (type == DNS_T_MX)
			for (unsigned i = 1; i < res.n; i++)
				if (res.mx[i - 1].preference > res.mx[i].preference)
					abort();
	} else if (err == NULL || res.n != 0) {
		abort();
	}
	dns_result_clear(&res);
	for (size_t i = 0; i < n; i++)
		free(recs[i]);

	/* The whole input as a name. */
	uint8_t *copy = malloc(size);
	memcpy(copy, data, size);
	struct buf b = BUF_INIT;
	size_t used = 0;
	if (dns_name_parse(copy, size, &used, &b, &err) == 0) {
		if (used > size || used > DNS_NAME_WIRE_MAX || b.len > DNS_NAME_TEXT_MAX)
			abort();
	} else if (b.len != 0) {
		abort();
	}
	buf_free(&b);
	free(copy);

	/* The input as text for the reverse-name helper. */
	size_t tl = size - 1 < 64 ? size - 1 : 64;
	char *text = malloc(tl + 1);
	memcpy(text, data + 1, tl);
	text[tl] = '\0';
	char rev[DNS_REVERSE_NAME_MAX];
	if (dns_reverse_name(text, rev, sizeof(rev)) == 0 && strlen(rev) >= sizeof(rev))
		abort();
	free(text);
	return 0;
}
