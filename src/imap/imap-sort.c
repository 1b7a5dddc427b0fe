/*
 * imap-sort.c - SORT (see imap-sort.h).
 */
#include "imap/imap-sort.h"

#include "core/xalloc.h"
#include "mail/date.h"
#include "mail/mime.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	enum imap_sort_key key;
} sort_keys[] = {
    {"ARRIVAL", IMAP_SORT_ARRIVAL},
    {"CC", IMAP_SORT_CC},
    {"DATE", IMAP_SORT_DATE},
    {"FROM", IMAP_SORT_FROM},
    {"SIZE", IMAP_SORT_SIZE},
    {"SUBJECT", IMAP_SORT_SUBJECT},
    {"TO", IMAP_SORT_TO},
    {"DISPLAYFROM", IMAP_SORT_DISPLAYFROM},
    {"DISPLAYTO", IMAP_SORT_DISPLAYTO},
};

int imap_sort_parse(const struct imap_arg *arg, struct imap_sort_program *prog_r,
                    const char **error_r)
{
	const struct imap_arg *list;
	unsigned int count;
	bool reverse = false;

	memset(prog_r, 0, sizeof(*prog_r));
	if (arg == NULL || !imap_arg_list(arg, &list, &count) || count == 0) {
		*error_r = "Invalid sort criteria";
		return -1;
	}
	for (unsigned int i = 0; i < count; i++) {
		if (imap_arg_atom_equals(&list[i], "REVERSE")) {
			if (reverse) {
				*error_r = "Invalid sort criteria";
				return -1;
			}
			reverse = true;
			continue;
		}
		enum imap_sort_key key = 0;
		for (size_t k = 0; k < sizeof(sort_keys) / sizeof(sort_keys[0]); k++)
			if (imap_arg_atom_equals(&list[i], sort_keys[k].name))
				key = sort_keys[k].key;
		if (key == 0) {
			*error_r = "Unknown sort criterion";
			return -1;
		}
		if (prog_r->count == IMAP_SORT_CRITERIA_MAX) {
			*error_r = "Too many sort criteria";
			return -1;
		}
		prog_r->crit[prog_r->count].key = key;
		prog_r->crit[prog_r->count].reverse = reverse;
		prog_r->count++;
		reverse = false;
	}
	if (reverse) {
		*error_r = "REVERSE without sort criterion";
		return -1;
	}
	return 0;
}

static const char *key_header(enum imap_sort_key key)
{
	switch (key) {
	case IMAP_SORT_CC:
		return "Cc";
	case IMAP_SORT_DATE:
		return "Date";
	case IMAP_SORT_FROM:
	case IMAP_SORT_DISPLAYFROM:
		return "From";
	case IMAP_SORT_SUBJECT:
		return "Subject";
	case IMAP_SORT_TO:
	case IMAP_SORT_DISPLAYTO:
		return "To";
	default:
		return NULL;
	}
}

unsigned int imap_sort_needs(const struct imap_sort_program *prog, const char *headers_r[5],
                             unsigned int *nheaders_r)
{
	unsigned int needs = 0, nh = 0;
	for (unsigned int i = 0; i < prog->count; i++) {
		enum imap_sort_key key = prog->crit[i].key;
		if (key == IMAP_SORT_ARRIVAL || key == IMAP_SORT_DATE)
			needs |= IMAP_SEARCH_NEED_INTERNAL_DATE;
		if (key == IMAP_SORT_SIZE)
			needs |= IMAP_SEARCH_NEED_SIZE;
		const char *h = key_header(key);
		if (h == NULL)
			continue;
		needs |= IMAP_SEARCH_NEED_HEADERS;
		bool have = false;
		for (unsigned int k = 0; k < nh; k++)
			if (strcmp(headers_r[k], h) == 0)
				have = true;
		if (!have && nh < 5)
			headers_r[nh++] = h;
	}
	*nheaders_r = nh;
	return needs;
}

int imap_sort_casecmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	for (size_t i = 0; i < n; i++) {
		unsigned char ca = (unsigned char)a[i], cb = (unsigned char)b[i];
		if (ca >= 'a' && ca <= 'z')
			ca = (unsigned char)(ca - 32);
		if (cb >= 'a' && cb <= 'z')
			cb = (unsigned char)(cb - 32);
		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* --- base subject (RFC 5256 section 2.1) --- */

static bool is_wsp(char c)
{
	return c == ' ';
}

/* a subj-blob at s[p..end): returns the position after it (and its
 * trailing WSP), or 0 when there is none */
static size_t skip_blob(const char *s, size_t p, size_t end)
{
	if (p >= end || s[p] != '[')
		return 0;
	size_t q = p + 1;
	while (q < end && s[q] != '[' && s[q] != ']')
		q++;
	if (q >= end || s[q] != ']')
		return 0;
	q++;
	while (q < end && is_wsp(s[q]))
		q++;
	return q;
}

/* a subj-refwd at s[p..end): position after its ':' or 0 */
static size_t skip_refwd(const char *s, size_t p, size_t end)
{
	size_t q;
	if (end - p >= 3 && strncasecmp(s + p, "fwd", 3) == 0)
		q = p + 3;
	else if (end - p >= 2 &&
	         (strncasecmp(s + p, "fw", 2) == 0 || strncasecmp(s + p, "re", 2) == 0))
		q = p + 2;
	else
		return 0;
	while (q < end && is_wsp(s[q]))
		q++;
	size_t b = skip_blob(s, q, end);
	if (b != 0)
		q = b;
	if (q < end && s[q] == ':')
		return q + 1;
	return 0;
}

bool imap_sort_base_subject(const char *subject, size_t len, struct buf *out)
{
	struct buf dec = BUF_INIT, norm = BUF_INIT;
	bool refwd = false;

	/* (1) decode, tabs and line ends to space, runs to one space */
	mime_decode_words(subject, len, &dec);
	for (size_t i = 0; i < dec.len; i++) {
		char c = dec.data[i];
		if (c == '\t' || c == '\r' || c == '\n')
			c = ' ';
		if (c == ' ' && norm.len > 0 && norm.data[norm.len - 1] == ' ')
			continue;
		buf_append_c(&norm, c);
	}
	buf_free(&dec);
	const char *s = norm.data != NULL ? norm.data : "";
	size_t start = 0, end = norm.len;

	for (;;) {
		/* (2) trailers: "(fwd)" and WSP */
		while (end > start) {
			if (is_wsp(s[end - 1])) {
				end--;
			} else if (end - start >= 5 && strncasecmp(s + end - 5, "(fwd)", 5) == 0) {
				end -= 5;
				refwd = true;
			} else {
				break;
			}
		}
		bool changed;
		do {
			changed = false;
			/* (3) leaders: WSP, or *subj-blob subj-refwd */
			for (;;) {
				if (start < end && is_wsp(s[start])) {
					start++;
					changed = true;
					continue;
				}
				size_t p = start, q;
				while ((q = skip_blob(s, p, end)) != 0)
					p = q;
				q = skip_refwd(s, p, end);
				if (q == 0)
					break;
				start = q;
				refwd = true;
				changed = true;
			}
			/* (4) a leading subj-blob, when something remains */
			size_t q = skip_blob(s, start, end);
			if (q != 0 && q < end) {
				start = q;
				changed = true;
			}
		} while (changed); /* (5) */
		/* (6) "[fwd:" ... "]" */
		if (end - start >= 6 && strncasecmp(s + start, "[fwd:", 5) == 0 &&
		    s[end - 1] == ']') {
			start += 5;
			end--;
			refwd = true;
			continue;
		}
		break;
	}
	buf_append(out, s + start, end - start);
	buf_free(&norm);
	return refwd;
}

/* --- addresses --- */

struct addr_scan {
	const char *s;
	size_t len, pos;
};

static void skip_cfws(struct addr_scan *a)
{
	int depth = 0;
	while (a->pos < a->len) {
		char c = a->s[a->pos];
		if (depth > 0) {
			if (c == '\\')
				a->pos++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			a->pos++;
		} else if (c == '(') {
			depth = 1;
			a->pos++;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			a->pos++;
		} else {
			break;
		}
	}
}

static bool is_special(char c)
{
	return strchr("()<>[]:;@\\,.\"", c) != NULL;
}

/* one word (atom or quoted string, unquoted) into out; false at a special */
static bool take_word(struct addr_scan *a, struct buf *out)
{
	skip_cfws(a);
	if (a->pos >= a->len)
		return false;
	char c = a->s[a->pos];
	if (c == '"') {
		a->pos++;
		while (a->pos < a->len && a->s[a->pos] != '"') {
			if (a->s[a->pos] == '\\' && a->pos + 1 < a->len)
				a->pos++;
			if (out != NULL)
				buf_append_c(out, a->s[a->pos]);
			a->pos++;
		}
		if (a->pos < a->len)
			a->pos++;
		return true;
	}
	if (is_special(c))
		return false;
	while (a->pos < a->len && !is_special(a->s[a->pos]) && a->s[a->pos] != ' ' &&
	       a->s[a->pos] != '\t' && a->s[a->pos] != '\r' && a->s[a->pos] != '\n') {
		if (out != NULL)
			buf_append_c(out, a->s[a->pos]);
		a->pos++;
	}
	return true;
}

/* dot-separated words (local part or domain) into out */
static void take_dotted(struct addr_scan *a, struct buf *out)
{
	for (;;) {
		if (!take_word(a, out)) {
			skip_cfws(a);
			if (a->pos < a->len && a->s[a->pos] == '[') {
				/* domain literal */
				while (a->pos < a->len && a->s[a->pos] != ']') {
					if (out != NULL)
						buf_append_c(out, a->s[a->pos]);
					a->pos++;
				}
				if (a->pos < a->len) {
					if (out != NULL)
						buf_append_c(out, ']');
					a->pos++;
				}
			}
		}
		skip_cfws(a);
		if (a->pos < a->len && a->s[a->pos] == '.') {
			if (out != NULL)
				buf_append_c(out, '.');
			a->pos++;
			continue;
		}
		return;
	}
}

bool imap_sort_first_mailbox(const char *s, size_t len, struct buf *display, struct buf *local,
                             struct buf *domain)
{
	struct addr_scan a = {s, len, 0};
	struct buf phrase = BUF_INIT, word = BUF_INIT, loc = BUF_INIT;
	bool found = false;

	while (a.pos < a.len && !found) {
		buf_reset(&phrase);
		buf_reset(&loc);
		/* words up to a special: a phrase, or the local part */
		for (;;) {
			buf_reset(&word);
			size_t before = a.pos;
			skip_cfws(&a);
			bool gap = a.pos > before;
			if (!take_word(&a, &word)) {
				if (a.pos < a.len && a.s[a.pos] == '.' && phrase.len > 0) {
					/* obs-phrase or a dotted local part */
					buf_append_c(&phrase, '.');
					buf_append_c(&loc, '.');
					a.pos++;
					continue;
				}
				break;
			}
			/* one space where white space or a comment was */
			if (phrase.len > 0 && gap)
				buf_append_c(&phrase, ' ');
			buf_append(&phrase, word.data, word.len);
			buf_append(&loc, word.data, word.len);
		}
		if (a.pos >= a.len)
			break;
		char c = a.s[a.pos++];
		if (c == '<') {
			/* angle-addr, with an obsolete route "@a,@b:" */
			skip_cfws(&a);
			size_t save = a.pos;
			while (a.pos < a.len && a.s[a.pos] != ':' && a.s[a.pos] != '>')
				a.pos++;
			if (a.pos >= a.len || a.s[a.pos] != ':' || a.s[save] != '@')
				a.pos = save;
			else
				a.pos++;
			buf_reset(&loc);
			take_dotted(&a, &loc);
			skip_cfws(&a);
			if (loc.len == 0 && a.pos < a.len && a.s[a.pos] == '>') {
				a.pos++; /* "<>" */
				continue;
			}
			if (display != NULL && phrase.len > 0)
				mime_decode_words(phrase.data, phrase.len, display);
			if (local != NULL)
				buf_append(local, loc.data, loc.len);
			if (a.pos < a.len && a.s[a.pos] == '@') {
				a.pos++;
				if (domain != NULL)
					take_dotted(&a, domain);
			}
			found = true;
		} else if (c == '@') {
			if (loc.len == 0)
				continue;
			if (local != NULL)
				buf_append(local, loc.data, loc.len);
			if (domain != NULL)
				take_dotted(&a, domain);
			found = true;
		} else if (c == ':' || c == ',' || c == ';') {
			/* group start, end of an address without mailbox */
			continue;
		} else if (c == '>' || c == ')' || c == '[' || c == ']' || c == '\\' || c == '.') {
			continue;
		}
	}
	buf_free(&phrase);
	buf_free(&word);
	buf_free(&loc);
	return found;
}

int64_t imap_sort_sent_date(const char *date, size_t len, int64_t internal_date)
{
	int64_t t;
	int off;
	if (date != NULL && mail_date_parse(date, len, &t, &off) == 0)
		return t;
	return internal_date;
}

/* --- sorting --- */

struct sort_key {
	int64_t num;
	char *str;
	size_t len;
};

struct sort_item {
	struct imap_search_msg msg;
	struct sort_key *keys;
};

static int cmp_items(const void *pa, const void *pb, void *ctx)
{
	const struct imap_sort_program *prog = ctx;
	const struct sort_item *a = pa, *b = pb;
	for (unsigned int i = 0; i < prog->count; i++) {
		const struct sort_key *ka = &a->keys[i], *kb = &b->keys[i];
		int r;
		if (ka->str != NULL)
			r = imap_sort_casecmp(ka->str, ka->len, kb->str, kb->len);
		else
			r = ka->num < kb->num ? -1 : ka->num > kb->num ? 1 : 0;
		if (r != 0)
			return prog->crit[i].reverse ? -r : r;
	}
	return a->msg.seq < b->msg.seq ? -1 : a->msg.seq > b->msg.seq ? 1 : 0;
}

/* the first occurrence of header name into out (cleared); false: none */
static int first_header(const struct imap_search_ops *ops, void *ctx, const char *name,
                        struct buf *out, bool *have_r)
{
	buf_reset(out);
	int n = ops->header != NULL ? ops->header(ctx, name, out) : 0;
	if (n < 0)
		return -1;
	*have_r = n > 0;
	if (n > 0)
		buf_truncate(out, strnlen(out->data, out->len));
	return 0;
}

static int make_key(enum imap_sort_key key, const struct imap_search_ops *ops, void *ctx,
                    struct buf *tmp, struct sort_key *k_r)
{
	struct buf val = BUF_INIT;
	bool have = false;
	const char *h = key_header(key);

	memset(k_r, 0, sizeof(*k_r));
	if (h != NULL && first_header(ops, ctx, h, &val, &have) < 0) {
		buf_free(&val);
		return -1;
	}
	buf_reset(tmp);
	switch (key) {
	case IMAP_SORT_ARRIVAL:
		k_r->num = ops->internal_date(ctx);
		break;
	case IMAP_SORT_SIZE:
		k_r->num = (int64_t)ops->size(ctx);
		break;
	case IMAP_SORT_DATE:
		k_r->num =
		    imap_sort_sent_date(have ? val.data : NULL, val.len, ops->internal_date(ctx));
		break;
	case IMAP_SORT_SUBJECT:
		if (have)
			(void)imap_sort_base_subject(val.data, val.len, tmp);
		break;
	case IMAP_SORT_FROM:
	case IMAP_SORT_TO:
	case IMAP_SORT_CC:
		if (have)
			(void)imap_sort_first_mailbox(val.data, val.len, NULL, tmp, NULL);
		break;
	case IMAP_SORT_DISPLAYFROM:
	case IMAP_SORT_DISPLAYTO:
		if (have) {
			struct buf local = BUF_INIT, domain = BUF_INIT;
			if (imap_sort_first_mailbox(val.data, val.len, tmp, &local, &domain) &&
			    tmp->len == 0) {
				buf_append(tmp, local.data, local.len);
				buf_append_c(tmp, '@');
				buf_append(tmp, domain.data, domain.len);
			}
			buf_free(&local);
			buf_free(&domain);
		}
		break;
	}
	if (key != IMAP_SORT_ARRIVAL && key != IMAP_SORT_SIZE && key != IMAP_SORT_DATE) {
		k_r->len = tmp->len;
		k_r->str = xmalloc(tmp->len + 1);
		memcpy(k_r->str, tmp->data != NULL ? tmp->data : "", tmp->len);
		k_r->str[tmp->len] = '\0';
	}
	buf_free(&val);
	return 0;
}

int imap_sort(const struct imap_sort_program *prog, const struct imap_search_ops *ops,
              struct imap_search_msg *msgs, size_t n, const char **error_r)
{
	struct sort_item *items = xcalloc(n > 0 ? n : 1, sizeof(*items));
	struct sort_key *keys = xcalloc(n * prog->count + 1, sizeof(*keys));
	struct buf tmp = BUF_INIT;
	int ret = 0;

	for (size_t i = 0; i < n && ret == 0; i++) {
		items[i].msg = msgs[i];
		items[i].keys = keys + i * prog->count;
		for (unsigned int c = 0; c < prog->count; c++) {
			if (make_key(prog->crit[c].key, ops, msgs[i].ctx, &tmp, &items[i].keys[c]) <
			    0) {
				*error_r = "Failed to read message header";
				ret = -1;
				break;
			}
		}
	}
	if (ret == 0) {
		qsort_r(items, n, sizeof(*items), cmp_items, (void *)prog);
		for (size_t i = 0; i < n; i++)
			msgs[i] = items[i].msg;
	}
	for (size_t i = 0; i < n * prog->count; i++)
		free(keys[i].str);
	free(keys);
	free(items);
	buf_free(&tmp);
	return ret;
}
