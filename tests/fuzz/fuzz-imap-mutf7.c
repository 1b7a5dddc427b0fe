/*
 * fuzz-imap-mutf7.c - libFuzzer target for modified UTF-7 (imap/imap-mutf7.h).
 *
 * Checks beyond "no crash": check and decode agree; what decodes
 * encodes back to the very same bytes (the encoding is canonical, so a
 * valid name has exactly one form); what the encoder makes of any
 * input that it accepts is valid and decodes back to that input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "imap/imap-mutf7.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *err;
	struct buf u = BUF_INIT, m = BUF_INIT;
	int ok = imap_mutf7_check(s, size, &err);
	int dec = imap_mutf7_to_utf8(s, size, &u, &err);
	check(ok == dec);
	if (dec == 0) {
		check(imap_utf8_to_mutf7(u.data ? u.data : "", u.len, &m, &err) == 0);
		check(m.len == size && (size == 0 || memcmp(m.data, s, size) == 0));
	}
	buf_free(&u);
	buf_free(&m);
	if (imap_utf8_to_mutf7(s, size, &m, &err) == 0) {
		check(imap_mutf7_check(m.data ? m.data : "", m.len, &err) == 0);
		check(imap_mutf7_to_utf8(m.data ? m.data : "", m.len, &u, &err) == 0);
		check(u.len == size && (size == 0 || memcmp(u.data, s, size) == 0));
	}
	buf_free(&u);
	buf_free(&m);
	return 0;
}
