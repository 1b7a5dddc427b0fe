/*
 * imap-fetch.c - parsing the FETCH attribute list and modifiers into a
 * struct imap_fetch_request, and the items' response names (see
 * imap-fetch.h). Rendering is in imap-fetch-render.c and
 * imap-fetch-envelope.c.
 */
#include "imap/imap-fetch.h"

#include "core/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	enum imap_fetch_item_type type;
} simple_items[] = {
    {"FLAGS", IMAP_FETCH_FLAGS},
    {"INTERNALDATE", IMAP_FETCH_INTERNALDATE},
    {"UID", IMAP_FETCH_UID},
    {"MODSEQ", IMAP_FETCH_MODSEQ},
    {"SAVEDATE", IMAP_FETCH_SAVEDATE},
    {"EMAILID", IMAP_FETCH_EMAILID},
    {"THREADID", IMAP_FETCH_THREADID},
    {"ENVELOPE", IMAP_FETCH_ENVELOPE},
    {"BODY", IMAP_FETCH_BODY},
    {"BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE},
    {"RFC822.SIZE", IMAP_FETCH_RFC822_SIZE},
    {"RFC822", IMAP_FETCH_RFC822},
    {"RFC822.HEADER", IMAP_FETCH_RFC822_HEADER},
    {"RFC822.TEXT", IMAP_FETCH_RFC822_TEXT},
};

static void section_free(struct imap_fetch_section *s)
{
	for (unsigned int i = 0; i < s->nfields; i++)
		free(s->fields[i]);
	free(s->fields);
	s->fields = NULL;
	s->nfields = 0;
}

void imap_fetch_request_free(struct imap_fetch_request *req)
{
	for (unsigned int i = 0; i < req->count; i++)
		section_free(&req->items[i].section);
	free(req->items);
	memset(req, 0, sizeof(*req));
}

static int add_item(struct imap_fetch_request *req, const struct imap_fetch_item *item,
                    const char **error_r)
{
	if (req->count >= IMAP_FETCH_ITEMS_MAX) {
		*error_r = "Too many FETCH attributes";
		return -1;
	}
	req->items = xreallocarray(req->items, req->count + 1, sizeof(*req->items));
	req->items[req->count++] = *item;
	req->types |= 1u << item->type;
	return 0;
}

static int add_simple(struct imap_fetch_request *req, enum imap_fetch_item_type type,
                      const char **error_r)
{
	struct imap_fetch_item item;
	memset(&item, 0, sizeof(item));
	item.type = type;
	if (type == IMAP_FETCH_RFC822 || type == IMAP_FETCH_RFC822_TEXT)
		req->sets_seen = true;
	return add_item(req, &item, error_r);
}

/* "1.2.3" optionally followed by "." and a keyword: parse the numbers */
static int parse_section_text(const char *s, size_t n, bool binary, struct imap_fetch_section *sec,
                              const char **kw_r, const char **error_r)
{
	size_t i = 0;
	*kw_r = NULL;
	while (i < n && s[i] >= '0' && s[i] <= '9') {
		uint64_t v = 0;
		if (s[i] == '0') {
			*error_r = "Invalid section: part number 0";
			return -1;
		}
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			v = v * 10 + (uint64_t)(s[i] - '0');
			if (v > 1000000) {
				*error_r = "Invalid section: part number too large";
				return -1;
			}
			i++;
		}
		if (sec->npart >= IMAP_FETCH_PART_DEPTH_MAX) {
			*error_r = "Invalid section: too deep";
			return -1;
		}
		sec->part[sec->npart++] = (unsigned int)v;
		if (i == n)
			return 0;
		if (s[i] != '.') {
			*error_r = "Invalid section";
			return -1;
		}
		i++;
		if (i == n) {
			*error_r = "Invalid section";
			return -1;
		}
	}
	if (i == n)
		return 0;
	if (binary) {
		*error_r = "Invalid BINARY section";
		return -1;
	}
	*kw_r = s + i;
	return 0;
}

static int parse_fields(const struct imap_arg *arg, struct imap_fetch_section *sec,
                        const char **error_r)
{
	const struct imap_arg *list;
	unsigned int count;
	if (!imap_arg_list(arg, &list, &count) || count == 0) {
		*error_r = "Invalid section: HEADER.FIELDS needs a list of field names";
		return -1;
	}
	if (count > IMAP_FETCH_FIELDS_MAX) {
		*error_r = "Invalid section: too many header fields";
		return -1;
	}
	sec->fields = xcalloc(count, sizeof(char *));
	for (unsigned int i = 0; i < count; i++) {
		const char *s;
		size_t n;
		if (!imap_arg_astring(&list[i], &s, &n) || n == 0 || memchr(s, '\0', n) != NULL) {
			*error_r = "Invalid section: bad header field name";
			return -1;
		}
		for (size_t j = 0; j < n; j++) {
			unsigned char c = (unsigned char)s[j];
			if (c <= ' ' || c >= 127 || c == ':') {
				*error_r = "Invalid section: bad header field name";
				return -1;
			}
		}
		char *f = xstrndup(s, n);
		for (size_t j = 0; j < n; j++)
			if (f[j] >= 'a' && f[j] <= 'z')
				f[j] = (char)(f[j] - 32);
		sec->fields[sec->nfields++] = f;
	}
	return 0;
}

static int parse_section(const struct imap_arg *arg, enum imap_fetch_item_type type,
                         struct imap_fetch_section *sec, const char **error_r)
{
	bool binary = type != IMAP_FETCH_BODY_SECTION;
	if (arg->tail_len > 0) {
		*error_r = "Invalid partial";
		return -1;
	}
	if (arg->has_partial) {
		if (type == IMAP_FETCH_BINARY_SIZE) {
			*error_r = "BINARY.SIZE takes no partial";
			return -1;
		}
		sec->has_partial = true;
		sec->partial_start = arg->partial_start;
		sec->partial_length = arg->partial_length;
	}
	if (arg->count == 0)
		return 0;
	const char *text;
	if (!imap_arg_atom(&arg->list[0], &text)) {
		*error_r = "Invalid section";
		return -1;
	}
	const char *kw;
	if (parse_section_text(text, strlen(text), binary, sec, &kw, error_r) < 0)
		return -1;
	unsigned int rest = arg->count - 1;
	if (kw == NULL) {
		if (rest != 0) {
			*error_r = "Invalid section";
			return -1;
		}
		return 0;
	}
	if (strcasecmp(kw, "HEADER") == 0) {
		sec->kind = IMAP_SECTION_HEADER;
	} else if (strcasecmp(kw, "TEXT") == 0) {
		sec->kind = IMAP_SECTION_TEXT;
	} else if (strcasecmp(kw, "MIME") == 0) {
		if (sec->npart == 0) {
			*error_r = "Invalid section: MIME needs a part number";
			return -1;
		}
		sec->kind = IMAP_SECTION_MIME;
	} else if (strcasecmp(kw, "HEADER.FIELDS") == 0) {
		sec->kind = IMAP_SECTION_HEADER_FIELDS;
	} else if (strcasecmp(kw, "HEADER.FIELDS.NOT") == 0) {
		sec->kind = IMAP_SECTION_HEADER_FIELDS_NOT;
	} else {
		*error_r = "Invalid section";
		return -1;
	}
	if (sec->kind == IMAP_SECTION_HEADER_FIELDS ||
	    sec->kind == IMAP_SECTION_HEADER_FIELDS_NOT) {
		if (rest != 1) {
			*error_r = "Invalid section: HEADER.FIELDS needs a list of field names";
			return -1;
		}
		return parse_fields(&arg->list[1], sec, error_r);
	}
	if (rest != 0) {
		*error_r = "Invalid section";
		return -1;
	}
	return 0;
}

static int parse_att(struct imap_fetch_request *req, const struct imap_arg *arg,
                     const char **error_r)
{
	if (arg->type == IMAP_ARG_SECTION) {
		struct imap_fetch_item item;
		memset(&item, 0, sizeof(item));
		const char *p = arg->str;
		if (strcasecmp(p, "BODY") == 0) {
			item.type = IMAP_FETCH_BODY_SECTION;
		} else if (strcasecmp(p, "BODY.PEEK") == 0) {
			item.type = IMAP_FETCH_BODY_SECTION;
			item.peek = true;
		} else if (strcasecmp(p, "BINARY") == 0) {
			item.type = IMAP_FETCH_BINARY;
		} else if (strcasecmp(p, "BINARY.PEEK") == 0) {
			item.type = IMAP_FETCH_BINARY;
			item.peek = true;
		} else if (strcasecmp(p, "BINARY.SIZE") == 0) {
			item.type = IMAP_FETCH_BINARY_SIZE;
			item.peek = true;
		} else {
			*error_r = "Unknown FETCH attribute";
			return -1;
		}
		if (parse_section(arg, item.type, &item.section, error_r) < 0) {
			section_free(&item.section);
			return -1;
		}
		if (!item.peek)
			req->sets_seen = true;
		if (add_item(req, &item, error_r) < 0) {
			section_free(&item.section);
			return -1;
		}
		return 0;
	}
	const char *name;
	if (!imap_arg_atom(arg, &name)) {
		*error_r = "Invalid FETCH attribute";
		return -1;
	}
	for (size_t i = 0; i < sizeof(simple_items) / sizeof(simple_items[0]); i++)
		if (strcasecmp(name, simple_items[i].name) == 0)
			return add_simple(req, simple_items[i].type, error_r);
	*error_r = "Unknown FETCH attribute";
	return -1;
}

static int parse_macro(struct imap_fetch_request *req, const char *name, bool *done_r,
                       const char **error_r)
{
	static const enum imap_fetch_item_type fast[] = {IMAP_FETCH_FLAGS, IMAP_FETCH_INTERNALDATE,
	                                                 IMAP_FETCH_RFC822_SIZE};
	unsigned int extra = 0;
	*done_r = false;
	if (strcasecmp(name, "FAST") == 0)
		extra = 0;
	else if (strcasecmp(name, "ALL") == 0)
		extra = 1;
	else if (strcasecmp(name, "FULL") == 0)
		extra = 2;
	else
		return 0;
	*done_r = true;
	for (unsigned int i = 0; i < 3; i++)
		if (add_simple(req, fast[i], error_r) < 0)
			return -1;
	if (extra >= 1 && add_simple(req, IMAP_FETCH_ENVELOPE, error_r) < 0)
		return -1;
	if (extra >= 2 && add_simple(req, IMAP_FETCH_BODY, error_r) < 0)
		return -1;
	return 0;
}

static int parse_modifiers(struct imap_fetch_request *req, const struct imap_arg *arg, bool is_uid,
                           const char **error_r)
{
	const struct imap_arg *list;
	unsigned int count;
	if (!imap_arg_list(arg, &list, &count) || count == 0) {
		*error_r = "Invalid FETCH modifiers";
		return -1;
	}
	for (unsigned int i = 0; i < count; i++) {
		if (imap_arg_atom_equals(&list[i], "CHANGEDSINCE")) {
			const char *v;
			if (req->changedsince || i + 1 >= count ||
			    !imap_arg_atom(&list[i + 1], &v) || v[0] < '0' || v[0] > '9') {
				*error_r = "Invalid CHANGEDSINCE modseq";
				return -1;
			}
			uint64_t n = 0;
			for (const char *c = v; *c != '\0'; c++) {
				if (*c < '0' || *c > '9' || n > (UINT64_MAX - 9) / 10) {
					*error_r = "Invalid CHANGEDSINCE modseq";
					return -1;
				}
				n = n * 10 + (uint64_t)(*c - '0');
			}
			req->changedsince = true;
			req->changedsince_modseq = n;
			i++;
		} else if (imap_arg_atom_equals(&list[i], "VANISHED")) {
			if (req->vanished) {
				*error_r = "Invalid FETCH modifiers";
				return -1;
			}
			req->vanished = true;
		} else {
			*error_r = "Unknown FETCH modifier";
			return -1;
		}
	}
	if (req->vanished && (!is_uid || !req->changedsince)) {
		*error_r = "VANISHED needs UID FETCH and CHANGEDSINCE";
		return -1;
	}
	if (req->changedsince && (req->types & (1u << IMAP_FETCH_MODSEQ)) == 0)
		return add_simple(req, IMAP_FETCH_MODSEQ, error_r);
	return 0;
}

int imap_fetch_parse(const struct imap_arg *args, unsigned int count, bool is_uid,
                     struct imap_fetch_request *req_r, const char **error_r)
{
	memset(req_r, 0, sizeof(*req_r));
	if (count == 0 || count > 2) {
		*error_r = count == 0 ? "Missing FETCH attributes" : "Invalid FETCH arguments";
		return -1;
	}
	int ret = 0;
	const struct imap_arg *list;
	unsigned int n;
	if (imap_arg_list(&args[0], &list, &n)) {
		if (n == 0) {
			*error_r = "Empty FETCH attribute list";
			ret = -1;
		}
		for (unsigned int i = 0; i < n && ret == 0; i++)
			ret = parse_att(req_r, &list[i], error_r);
	} else {
		const char *name;
		bool done = false;
		if (imap_arg_atom(&args[0], &name))
			ret = parse_macro(req_r, name, &done, error_r);
		if (ret == 0 && !done)
			ret = parse_att(req_r, &args[0], error_r);
	}
	if (ret == 0 && count == 2)
		ret = parse_modifiers(req_r, &args[1], is_uid, error_r);
	if (ret < 0)
		imap_fetch_request_free(req_r);
	return ret;
}

static void section_name(const struct imap_fetch_section *sec, struct buf *out)
{
	buf_append_c(out, '[');
	for (unsigned int i = 0; i < sec->npart; i++)
		buf_appendf(out, "%s%u", i > 0 ? "." : "", sec->part[i]);
	const char *kw = NULL;
	switch (sec->kind) {
	case IMAP_SECTION_ALL:
		break;
	case IMAP_SECTION_HEADER:
		kw = "HEADER";
		break;
	case IMAP_SECTION_HEADER_FIELDS:
		kw = "HEADER.FIELDS";
		break;
	case IMAP_SECTION_HEADER_FIELDS_NOT:
		kw = "HEADER.FIELDS.NOT";
		break;
	case IMAP_SECTION_TEXT:
		kw = "TEXT";
		break;
	case IMAP_SECTION_MIME:
		kw = "MIME";
		break;
	}
	if (kw != NULL)
		buf_appendf(out, "%s%s", sec->npart > 0 ? "." : "", kw);
	if (sec->nfields > 0) {
		buf_append_str(out, " (");
		for (unsigned int i = 0; i < sec->nfields; i++)
			buf_appendf(out, "%s%s", i > 0 ? " " : "", sec->fields[i]);
		buf_append_c(out, ')');
	}
	buf_append_c(out, ']');
	if (sec->has_partial)
		buf_appendf(out, "<%llu>", (unsigned long long)sec->partial_start);
}

void imap_fetch_item_name(const struct imap_fetch_item *item, struct buf *out)
{
	switch (item->type) {
	case IMAP_FETCH_BODY_SECTION:
		buf_append_str(out, "BODY");
		section_name(&item->section, out);
		return;
	case IMAP_FETCH_BINARY:
		buf_append_str(out, "BINARY");
		section_name(&item->section, out);
		return;
	case IMAP_FETCH_BINARY_SIZE:
		buf_append_str(out, "BINARY.SIZE");
		section_name(&item->section, out);
		return;
	default:
		break;
	}
	for (size_t i = 0; i < sizeof(simple_items) / sizeof(simple_items[0]); i++)
		if (simple_items[i].type == item->type) {
			buf_append_str(out, simple_items[i].name);
			return;
		}
}
