/*
 * fuzz-decode.c - libFuzzer target for the transfer-encoding decoders
 * (mail/decode.h). The first byte picks a split point: the streaming
 * base64 decoder fed in two pieces must give what the whole-buffer one
 * gives; the output is never longer than 3/4 of the input (base64) or the
 * input (quoted-printable). decode_part_text() runs over the MIME tree of
 * the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mail/decode.h"
#include "mail/mime.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

static void texts(const struct mime_part *part, const char *msg, size_t len, struct buf *out)
{
	decode_part_text(part, msg, len, out);
	for (const struct mime_part *c = part->children; c != NULL; c = c->next)
		texts(c, msg, len, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t len = size - 1;
	const char *in = (const char *)data + 1;
	size_t split = len > 0 ? data[0] % (len + 1) : 0;
	const char *error;

	struct buf whole = BUF_INIT, parts = BUF_INIT;
	int r1 = decode_base64(in, len, &whole, &error);
	struct decode_base64 d;
	decode_base64_init(&d);
	decode_base64_feed(&d, in, split, &parts);
	decode_base64_feed(&d, in + split, len - split, &parts);
	int r2 = decode_base64_finish(&d, &parts, &error);
	check(r1 == r2);
	check(whole.len == parts.len && memcmp(buf_cstr(&whole), buf_cstr(&parts), whole.len) == 0);
	check(whole.len <= len / 4 * 3 + 2);

	buf_reset(&whole);
	decode_qp(in, len, &whole, &error);
	check(whole.len <= len);

	buf_reset(&whole);
	if (decode_cte("quoted-printable", in, len, &whole, &error) < 0)
		check(error != NULL);

	struct mime_part *root = mime_parse(in, len, NULL);
	buf_reset(&whole);
	texts(root, in, len, &whole);
	mime_part_free(&root);
	buf_free(&whole);
	buf_free(&parts);
	return 0;
}
