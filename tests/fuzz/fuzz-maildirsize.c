/*
 * fuzz-maildirsize.c - the two parsers of the store that read what is on
 * disk: the Maildir++ maildirsize file (quota_maildirsize_parse) and
 * Maildir file names (maildir_name_parse: S=, W=, ":2," flags, origin),
 * plus the CRLF size counter. Each input goes to all of them.
 *
 * Checked beyond "no crash": a usable maildirsize formats back into a
 * file that parses to the same limits and usage; a parsed name points
 * only inside the input and reports sorted standard flags; the virtual
 * size does not depend on where the data is split.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static void check_maildirsize(const uint8_t *data, size_t size)
{
	struct maildirsize ms;

	if (quota_maildirsize_parse((const char *)data, size, &ms) == 0) {
		if (ms.why == NULL)
			abort();
		return;
	}
	if (ms.bytes < 0 || ms.count < 0 || ms.lines == 0 || size > MAILDIRSIZE_MAX_SIZE)
		abort();

	struct quota_usage u = {(uint64_t)ms.bytes, (uint64_t)ms.count};
	char out[128];
	size_t n = quota_maildirsize_format(&ms.limits, &u, out, sizeof(out));
	struct maildirsize again;
	if (n >= sizeof(out) || quota_maildirsize_parse(out, n, &again) != 1)
		abort();
	if (again.limits.bytes != ms.limits.bytes || again.limits.count != ms.limits.count ||
	    again.bytes != ms.bytes || again.count != ms.count || again.lines != 1 ||
	    !again.limits_ok)
		abort();
}

static void check_name(const uint8_t *data, size_t size)
{
	const char *name = (const char *)data;
	struct maildir_name mn;

	if (maildir_name_parse(name, size, &mn) < 0)
		return;
	if (mn.base_len > size)
		abort();
	if (mn.have_origin &&
	    (mn.host < name || mn.host_len > size || mn.host + mn.host_len > name + size))
		abort();
	for (size_t i = 0; mn.flags[i] != '\0'; i++) {
		if (strchr("DFPRST", mn.flags[i]) == NULL)
			abort();
		if (i > 0 && mn.flags[i - 1] >= mn.flags[i])
			abort();
	}
	for (size_t i = 0; mn.keywords[i] != '\0'; i++) {
		if (mn.keywords[i] < 'a' || mn.keywords[i] > 'z')
			abort();
	}
}

static void check_vsize(const uint8_t *data, size_t size)
{
	struct maildir_vsize one = {0, 0, false}, two = {0, 0, false};
	size_t split = size > 0 ? data[0] % (size + 1) : 0;

	maildir_vsize_update(&one, data, size);
	maildir_vsize_update(&two, data, split);
	maildir_vsize_update(&two, data + split, size - split);
	if (one.size != size || one.vsize != two.vsize || one.vsize < size ||
	    one.vsize > 2 * (uint64_t)size)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_maildirsize(data, size);
	check_name(data, size);
	check_vsize(data, size);
	return 0;
}
