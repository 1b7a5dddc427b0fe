/*
 * fuzz-uidlist.c - the parsers of Dovecot's Maildir metadata files, which
 * read what is on disk: dovecot-uidlist (uidlist_parse), dovecot-keywords
 * (keywords_parse) and subscriptions (subscriptions_parse), plus the
 * order in which new files get UIDs (uidlist_name_cmp). Each input goes
 * to all of them.
 *
 * Checked beyond "no crash": a parsed uidlist has ascending UIDs below
 * its next UID, every record is found by UID and by name, and what
 * uidlist_format() writes parses back to the same list; keywords and
 * subscriptions format back into files that parse to the same names; the
 * name order is antisymmetric and ignores the flags after ':'.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/store.h"

static void check_uidlist(const char *data, size_t size)
{
	struct uidlist ul, again;
	const char *error = NULL;

	uidlist_init(&ul);
	if (uidlist_parse(data, size, &ul, &error) < 0) {
		if (error == NULL || ul.count != 0 || ul.hdr_ext != NULL)
			abort();
		uidlist_free(&ul);
		return;
	}
	if (ul.uidvalidity == 0 || ul.next_uid == 0 || (ul.version != 1 && ul.version != 3))
		abort();
	for (unsigned i = 0; i < ul.count; i++) {
		const struct uidlist_rec *r = &ul.recs[i];
		if (r->uid == 0 || r->uid >= ul.next_uid || (i > 0 && ul.recs[i - 1].uid >= r->uid))
			abort();
		if (r->name[0] == '\0' || strpbrk(r->name, ":/\n") != NULL)
			abort();
		if (uidlist_lookup_uid(&ul, r->uid) != r || uidlist_lookup_name(&ul, r->name) != r)
			abort();
	}

	if (ul.guid[0] == '\0')
		memset(ul.guid, '0', UIDLIST_GUID_LEN);
	struct buf out = BUF_INIT;
	uidlist_format(&ul, &out);
	uidlist_init(&again);
	if (uidlist_parse(out.data, out.len, &again, &error) < 0)
		abort();
	if (again.uidvalidity != ul.uidvalidity || again.next_uid != ul.next_uid ||
	    again.count != ul.count || strcmp(again.guid, ul.guid) != 0 || again.dirty)
		abort();
	if ((again.hdr_ext == NULL) != (ul.hdr_ext == NULL) ||
	    (ul.hdr_ext != NULL && strcmp(again.hdr_ext, ul.hdr_ext) != 0))
		abort();
	for (unsigned i = 0; i < ul.count; i++) {
		const struct uidlist_rec *a = &ul.recs[i], *b = &again.recs[i];
		if (a->uid != b->uid || strcmp(a->name, b->name) != 0 ||
		    (a->ext == NULL) != (b->ext == NULL) ||
		    (a->ext != NULL && strcmp(a->ext, b->ext) != 0))
			abort();
	}
	buf_free(&out);
	uidlist_free(&again);
	uidlist_free(&ul);
}

static void check_keywords(const char *data, size_t size)
{
	struct keywords kw, again;
	const char *error = NULL;

	keywords_init(&kw);
	if (keywords_parse(data, size, &kw, &error) < 0) {
		if (error == NULL)
			abort();
		for (int i = 0; i < KEYWORDS_MAX; i++) {
			if (kw.names[i] != NULL)
				abort();
		}
		return;
	}
	struct buf out = BUF_INIT;
	keywords_format(&kw, &out);
	keywords_init(&again);
	if (keywords_parse(out.data != NULL ? out.data : "", out.len, &again, &error) < 0)
		abort();
	for (int i = 0; i < KEYWORDS_MAX; i++) {
		const char *a = kw.names[i], *b = again.names[i];
		if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0))
			abort();
		if (a != NULL && keywords_letter(&kw, a) == '\0')
			abort();
		if (keywords_name(&kw, (char)('a' + i)) != a)
			abort();
	}
	buf_free(&out);
	keywords_free(&again);
	keywords_free(&kw);
}

static void check_subscriptions(const char *data, size_t size)
{
	struct subscriptions subs, again;
	const char *error = NULL;

	subscriptions_init(&subs);
	if (subscriptions_parse(data, size, &subs, &error) < 0) {
		if (error == NULL || subs.count != 0)
			abort();
		return;
	}
	struct buf out = BUF_INIT;
	subscriptions_format(&subs, &out);
	if (subs.version == 0 && out.len >= 5 && memcmp(out.data, "V\t2\n\n", 5) == 0) {
		/* An old file whose first lines read like the version 2
		 * header: the format cannot tell (Dovecot neither). */
		buf_free(&out);
		subscriptions_free(&subs);
		return;
	}
	subscriptions_init(&again);
	if (subscriptions_parse(out.data != NULL ? out.data : "", out.len, &again, &error) < 0)
		abort();
	if (again.version != subs.version || again.count != subs.count)
		abort();
	for (unsigned i = 0; i < subs.count; i++) {
		if (strcmp(again.names[i], subs.names[i]) != 0 ||
		    !subscriptions_has(&subs, subs.names[i]))
			abort();
	}
	buf_free(&out);
	subscriptions_free(&again);
	subscriptions_free(&subs);
}

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

static void check_name_cmp(const char *data, size_t size)
{
	/* Two names: the input split at its first NUL (or in half). */
	const char *nul = memchr(data, '\0', size);
	size_t split = nul != NULL ? (size_t)(nul - data) : size / 2;
	char *a = strndup(data, split);
	char *b =
	    strndup(data + split + (nul != NULL ? 1 : 0), size - split - (nul != NULL ? 1 : 0));
	if (a == NULL || b == NULL)
		abort();

	if (sign(uidlist_name_cmp(a, b)) != -sign(uidlist_name_cmp(b, a)) ||
	    uidlist_name_cmp(a, a) != 0)
		abort();
	/* Flags after ':' never change the order. */
	char *af = malloc(strlen(a) + 8);
	if (af == NULL)
		abort();
	strcpy(af, a);
	if (strchr(af, ':') == NULL)
		strcat(af, ":2,FS");
	if (uidlist_name_cmp(af, a) != 0 ||
	    sign(uidlist_name_cmp(af, b)) != sign(uidlist_name_cmp(a, b)))
		abort();
	free(af);
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data;

	check_uidlist(d, size);
	check_keywords(d, size);
	check_subscriptions(d, size);
	check_name_cmp(d, size);
	return 0;
}
