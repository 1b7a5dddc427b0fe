/*
 * ctl-dns.c - `vmailctl dns TYPE NAME`: ask the resolver vmaild uses.
 *
 * Resolves with the [dns] settings of the configuration (forwarders, stub
 * zones, trust anchors, timeout), so an admin sees exactly what the
 * daemon's SMTP client and SPF/DKIM/DANE checks will see. For PTR, NAME
 * may be an IPv4 or IPv6 address; its reverse name is asked.
 *
 * Output: one line per record (A/AAAA: the address; MX: "pref host";
 * TXT: the record's strings concatenated, in double quotes, with '"',
 * '\' and bytes outside printable ASCII escaped as \" \\ \DDD; PTR: the
 * name; TLSA: "usage selector mtype hex"), then "canonical: NAME" when
 * CNAMEs were followed, then "dnssec: secure|insecure|bogus: REASON".
 * With --json one object instead. Exit: 0 answer, 1 NXDOMAIN, no data
 * or a name that cannot be asked, 2 usage, 3 temporary failure (timeout,
 * SERVFAIL, DNSSEC bogus).
 */
#include "ctl/ctl.h"
#include "core/buf.h"
#include "net/dns.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
	fprintf(stderr, "usage: vmailctl [-c FILE] [--json] dns TYPE NAME\n"
	                "  TYPE: A AAAA MX TXT PTR TLSA; for PTR, NAME may be an IP address\n");
}

static void append_txt(struct buf *b, const struct dns_txt *t)
{
	buf_append_c(b, '"');
	for (size_t i = 0; i < t->len; i++) {
		unsigned char ch = (unsigned char)t->data[i];
		if (ch == '"' || ch == '\\') {
			buf_append_c(b, '\\');
			buf_append_c(b, (char)ch);
		} else if (ch < 0x20 || ch > 0x7e) {
			buf_appendf(b, "\\%03u", ch);
		} else {
			buf_append_c(b, (char)ch);
		}
	}
	buf_append_c(b, '"');
}

static void append_hex(struct buf *b, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_appendf(b, "%02x", p[i]);
}

/* format_record: record i of res as one output line (without newline). */
static void format_record(const struct dns_result *res, unsigned i, struct buf *b)
{
	switch (res->type) {
	case DNS_T_A:
	case DNS_T_AAAA:
		buf_append_str(b, res->addr[i].str);
		break;
	case DNS_T_MX:
		buf_appendf(b, "%u %s", res->mx[i].preference, res->mx[i].host);
		break;
	case DNS_T_TXT:
		append_txt(b, &res->txt[i]);
		break;
	case DNS_T_PTR:
		buf_append_str(b, res->ptr[i]);
		break;
	case DNS_T_TLSA:
		buf_appendf(b, "%u %u %u ", res->tlsa[i].usage, res->tlsa[i].selector,
		            res->tlsa[i].mtype);
		append_hex(b, res->tlsa[i].data, res->tlsa[i].len);
		break;
	}
}

static void print_text(const struct dns_result *res)
{
	struct buf b = BUF_INIT;
	for (unsigned i = 0; i < res->n; i++) {
		buf_reset(&b);
		format_record(res, i, &b);
		printf("%s\n", buf_cstr(&b));
	}
	buf_free(&b);
	if (res->canonname != NULL)
		printf("canonical: %s\n", res->canonname);
	if (res->sec == DNS_SEC_BOGUS)
		printf("dnssec: bogus: %s\n", res->why_bogus);
	else
		printf("dnssec: %s\n", dns_sec_name(res->sec));
}

static json_t *json_str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *json_record(const struct dns_result *res, unsigned i)
{
	struct buf b = BUF_INIT;
	json_t *v = NULL;
	switch (res->type) {
	case DNS_T_A:
	case DNS_T_AAAA:
		v = json_string(res->addr[i].str);
		break;
	case DNS_T_MX:
		v = json_pack("{s:i,s:s}", "preference", (int)res->mx[i].preference, "host",
		              res->mx[i].host);
		break;
	case DNS_T_TXT:
		/* JSON strings are UTF-8; a TXT record need not be. Such a
		 * record is given in the escaped text form instead. */
		v = json_stringn(res->txt[i].data, res->txt[i].len);
		if (v == NULL) {
			append_txt(&b, &res->txt[i]);
			v = json_string(buf_cstr(&b));
		}
		break;
	case DNS_T_PTR:
		v = json_string(res->ptr[i]);
		break;
	case DNS_T_TLSA:
		append_hex(&b, res->tlsa[i].data, res->tlsa[i].len);
		v = json_pack("{s:i,s:i,s:i,s:s}", "usage", (int)res->tlsa[i].usage, "selector",
		              (int)res->tlsa[i].selector, "mtype", (int)res->tlsa[i].mtype, "data",
		              buf_cstr(&b));
		break;
	}
	buf_free(&b);
	return v != NULL ? v : json_null();
}

static void print_json(const struct dns_result *res, const char *asked)
{
	json_t *answers = json_array();
	for (unsigned i = 0; i < res->n; i++)
		json_array_append_new(answers, json_record(res, i));
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(asked));
	json_object_set_new(o, "query", json_string(res->name));
	json_object_set_new(o, "type", json_string(dns_type_name(res->type)));
	json_object_set_new(o, "status", json_string(dns_status_name(res->status)));
	json_object_set_new(o, "rcode", json_string(dns_rcode_name(res->rcode)));
	json_object_set_new(o, "dnssec", json_string(dns_sec_name(res->sec)));
	json_object_set_new(o, "why_bogus", json_str_or_null(res->why_bogus));
	json_object_set_new(o, "canonical", json_str_or_null(res->canonname));
	json_object_set_new(o, "ttl", json_integer(res->ttl));
	json_object_set_new(o, "timed_out", json_boolean(res->timed_out));
	json_object_set_new(o, "error", json_str_or_null(res->error));
	json_object_set_new(o, "answers", answers);
	char *s = json_dumps(o, JSON_COMPACT);
	if (s != NULL)
		printf("%s\n", s);
	free(s);
	json_decref(o);
}

int ctl_dns(struct ctl *c, int argc, char **argv)
{
	if (argc != 2) {
		usage();
		return 2;
	}
	enum dns_type type;
	if (dns_type_parse(argv[0], &type) < 0) {
		fprintf(stderr, "vmailctl: dns: unknown type '%s'\n", argv[0]);
		usage();
		return 2;
	}
	const char *asked = argv[1];
	const char *name = asked;
	char rev[DNS_REVERSE_NAME_MAX];
	if (type == DNS_T_PTR && dns_reverse_name(asked, rev, sizeof(rev)) == 0)
		name = rev;

	struct dns_result *res = NULL;
	const char *err = NULL;
	if (dns_resolve_sync(&c->cfg.dns, name, type, &res, &err) < 0) {
		fprintf(stderr, "vmailctl: dns: %s\n", err);
		return 1;
	}
	if (c->json)
		print_json(res, asked);
	else
		print_text(res);

	int rc = 0;
	switch (res->status) {
	case DNS_OK:
		rc = 0;
		break;
	case DNS_NXDOMAIN:
		fprintf(stderr, "vmailctl: dns: %s: no such domain (NXDOMAIN)\n", name);
		rc = 1;
		break;
	case DNS_NODATA:
		fprintf(stderr, "vmailctl: dns: %s: no %s record\n", name, dns_type_name(type));
		rc = 1;
		break;
	case DNS_PERMFAIL:
		fprintf(stderr, "vmailctl: dns: %s: cannot be asked: %s\n", name, res->error);
		rc = 1;
		break;
	case DNS_TEMPFAIL:
		fprintf(stderr, "vmailctl: dns: %s %s: temporary failure: %s\n", name,
		        dns_type_name(type), res->error);
		rc = 3;
		break;
	}
	dns_result_free(&res);
	return rc;
}
