/*
 * fuzz-imap-fetch.c - libFuzzer target for the FETCH renderers
 * (imap/imap-fetch.h): message bytes -> mime_parse() -> ENVELOPE, BODY,
 * BODYSTRUCTURE, RFC822.SIZE and BODY[] / BINARY[] of sections built
 * from the input's first byte (part numbers 1..4 up to depth 3 with
 * every suffix, plus a partial). Must never crash or read out of
 * bounds; checks: BODY[] is RFC822.SIZE bytes long and holds no bare LF,
 * and the rendered strings' literals are well-formed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "imap/imap-fetch.h"
#include "mail/mime.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

/* every "{n}\r\n" in s is followed by n bytes inside s */
static void check_literals(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] != '{')
			continue;
		size_t j = i + 1;
		uint64_t n = 0;
		while (j < b->len && b->data[j] >= '0' && b->data[j] <= '9')
			n = n * 10 + (uint64_t)(b->data[j++] - '0');
		if (j + 2 < b->len && j > i + 1 && b->data[j] == '}' && b->data[j + 1] == '\r' &&
		    b->data[j + 2] == '\n') {
			check(j + 3 + n <= b->len);
			i = j + 2 + n;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t opt = data[0];
	const char *msg = (const char *)data + 1;
	size_t len = size - 1;
	struct mime_limits limits = {0};
	if (opt & 0x80) {
		limits.max_depth = 3;
		limits.max_parts = 8;
		limits.max_header_line = 64;
		limits.max_header = 256;
	}
	struct mime_part *root = mime_parse(msg, len, &limits);
	struct buf out = BUF_INIT;
	imap_fetch_envelope(root, msg, len, &out);
	check_literals(&out);
	buf_reset(&out);
	imap_fetch_bodystructure(root, msg, len, true, &out);
	check_literals(&out);
	buf_reset(&out);
	imap_fetch_bodystructure(root, msg, len, false, &out);
	check_literals(&out);
	buf_reset(&out);

	uint64_t size_crlf = imap_fetch_crlf_size(msg, len, 0, len);
	struct imap_fetch_section sec;
	memset(&sec, 0, sizeof(sec));
	imap_fetch_section_content(root, msg, len, &sec, &out);
	check(out.len == size_crlf);
	for (size_t i = 0; i < out.len; i++)
		check(out.data[i] != '\n' || (i > 0 && out.data[i - 1] == '\r'));

	char *fields[] = {"SUBJECT", "FROM", "CONTENT-TYPE"};
	static const enum imap_fetch_section_kind kinds[] = {
	    IMAP_SECTION_ALL,           IMAP_SECTION_HEADER,
	    IMAP_SECTION_HEADER_FIELDS, IMAP_SECTION_HEADER_FIELDS_NOT,
	    IMAP_SECTION_TEXT,          IMAP_SECTION_MIME,
	};
	unsigned int paths = (opt & 0x40) ? 64 : 16;
	for (unsigned int p = 0; p < paths; p++) {
		memset(&sec, 0, sizeof(sec));
		unsigned int v = p;
		sec.npart = v % 4;
		v /= 4;
		for (unsigned int i = 0; i < sec.npart; i++) {
			sec.part[i] = 1 + (v + i + opt) % 4;
		}
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			sec.kind = kinds[k];
			if (sec.kind == IMAP_SECTION_MIME && sec.npart == 0)
				continue;
			sec.fields = fields;
			sec.nfields = sec.kind == IMAP_SECTION_HEADER_FIELDS ||
			                      sec.kind == IMAP_SECTION_HEADER_FIELDS_NOT
			                  ? 3
			                  : 0;
			struct imap_fetch_item item;
			memset(&item, 0, sizeof(item));
			item.type = IMAP_FETCH_BODY_SECTION;
			item.section = sec;
			item.section.has_partial = (opt & 1) != 0;
			item.section.partial_start = opt % 7;
			item.section.partial_length = opt % 13;
			const char *error;
			buf_reset(&out);
			check(imap_fetch_render_item(&item, root, msg, len, &out, &error) == 1);
			check_literals(&out);
			if (sec.kind == IMAP_SECTION_ALL) {
				item.type = IMAP_FETCH_BINARY;
				buf_reset(&out);
				imap_fetch_render_item(&item, root, msg, len, &out, &error);
				item.type = IMAP_FETCH_BINARY_SIZE;
				item.section.has_partial = false;
				buf_reset(&out);
				imap_fetch_render_item(&item, root, msg, len, &out, &error);
			}
		}
	}
	static const enum imap_fetch_item_type simple[] = {
	    IMAP_FETCH_ENVELOPE,    IMAP_FETCH_BODY,   IMAP_FETCH_BODYSTRUCTURE,
	    IMAP_FETCH_RFC822_SIZE, IMAP_FETCH_RFC822, IMAP_FETCH_RFC822_HEADER,
	    IMAP_FETCH_RFC822_TEXT, IMAP_FETCH_FLAGS,
	};
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		struct imap_fetch_item item;
		memset(&item, 0, sizeof(item));
		item.type = simple[i];
		const char *error;
		buf_reset(&out);
		imap_fetch_render_item(&item, root, msg, len, &out, &error);
	}
	buf_free(&out);
	mime_part_free(&root);
	return 0;
}
