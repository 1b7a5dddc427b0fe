/*
 * fuzz-ipc.c - libFuzzer target for the IPC frame parser (core/ipc.h)
 * and the lookup replies carried in it (directory/lookup.h).
 *
 * Input: bytes as a peer process would send them. ipc_msg_parse must
 * answer "need more" only when the header or payload is incomplete,
 * "broken" only for another version or an oversized length, and on
 * success copy exactly one frame; every shorter prefix of that frame
 * must be "need more". The payload is then decoded as the reply of
 * every lookup type (and of types that do not exist): no crash, and on
 * success every string points into the payload and every byte was
 * read. Last, the payload is walked with a sequence of getters chosen
 * by the frame id: getters never read past the end, every success moves
 * on, the error flag sticks once set.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ipc.h"
#include "directory/lookup.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

/* check_str: s is NULL or a NUL-terminated string inside m's payload. */
static void check_str(const struct ipc_msg *m, const char *s)
{
	if (s == NULL)
		return;
	const char *start = m->b.data + IPC_HDR_LEN, *end = m->b.data + m->b.len;
	check(s >= start && s < end);
	check(memchr(s, '\0', (size_t)(end - s)) != NULL);
}

static void decode_replies(const struct ipc_msg *m)
{
	for (int t = 0; t <= 8; t++) {
		struct ipc_msg c = *m; /* shares the bytes; decoding only reads */
		c.rpos = IPC_HDR_LEN;
		c.error = false;
		struct lookup_reply r;
		const char **dest = (const char **)1;
		if (lookup_reply_decode(&c, (enum lookup_type)t, &r, &dest) < 0) {
			check(dest == NULL);
			continue;
		}
		check(ipc_msg_done(&c) == 0);
		check(r.type == (enum lookup_type)t);
		check(r.status == LOOKUP_OK || r.status == LOOKUP_TEMPFAIL ||
		      r.status == LOOKUP_DENIED);
		check(r.dest == dest);
		check_str(m, r.address);
		check_str(m, r.policy);
		check_str(m, r.params);
		check_str(m, r.error);
		if (r.ndest > 0)
			check(dest != NULL);
		for (unsigned i = 0; i < r.ndest; i++)
			check_str(m, r.dest[i]);
		free(dest);
	}
}

static void walk(const struct ipc_msg *m)
{
	struct ipc_msg c = *m;
	c.rpos = IPC_HDR_LEN;
	c.error = false;
	uint32_t prog = m->id;
	for (int i = 0; i < 64; i++) {
		size_t before = c.rpos;
		bool was_error = c.error;
		int ret;
		uint8_t u8;
		uint32_t u32;
		uint64_t u64;
		const char *s = NULL;
		switch ((prog >> ((i % 16) * 2)) & 3) {
		case 0:
			ret = ipc_get_u8(&c, &u8);
			break;
		case 1:
			ret = ipc_get_u32(&c, &u32);
			break;
		case 2:
			ret = ipc_get_u64(&c, &u64);
			break;
		default:
			ret = ipc_get_str(&c, &s);
			if (ret == 0)
				check_str(m, s);
			else
				check(s == NULL);
			break;
		}
		check(c.rpos <= c.b.len);
		if (ret < 0) {
			check(c.error);
		} else {
			check(!was_error);
			check(c.rpos > before);
		}
		if (ret < 0 || c.rpos == c.b.len)
			break;
	}
	check((ipc_msg_done(&c) == 0) == (!c.error && c.rpos == c.b.len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_msg m;
	size_t used = 0;
	uint32_t plen = 0;
	uint16_t ver = 0;
	if (size >= IPC_HDR_LEN) {
		memcpy(&plen, data, 4);
		memcpy(&ver, data + 6, 2);
	}
	int r = ipc_msg_parse(&m, data, size, &used);
	if (r == 0) {
		check(size < IPC_HDR_LEN || size - IPC_HDR_LEN < plen);
		return 0;
	}
	if (r < 0) {
		check(size >= IPC_HDR_LEN && (ver != IPC_VERSION || plen > IPC_MAX_PAYLOAD));
		return 0;
	}
	check(r == 1);
	check(ver == IPC_VERSION && plen <= IPC_MAX_PAYLOAD);
	check(used == IPC_HDR_LEN + (size_t)plen && used <= size);
	check(m.b.len == used && memcmp(m.b.data, data, used) == 0);
	check(m.rpos == IPC_HDR_LEN && !m.error);
	uint16_t type;
	uint32_t id;
	memcpy(&type, data + 4, 2);
	memcpy(&id, data + 8, 4);
	check(m.type == type && m.id == id);

	/* every shorter prefix is "need more" */
	for (size_t k = 0; k < used; k += (used <= 1024 ? 1 : used / 512)) {
		struct ipc_msg p;
		size_t u = 0;
		check(ipc_msg_parse(&p, data, k, &u) == 0);
	}
	struct ipc_msg p;
	size_t u = 0;
	check(ipc_msg_parse(&p, data, used - 1, &u) == 0);

	decode_replies(&m);
	walk(&m);
	ipc_msg_free(&m);
	return 0;
}
