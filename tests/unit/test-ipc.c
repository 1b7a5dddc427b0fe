/*
 * test-ipc.c - framed messages between our processes (core/ipc.h).
 *
 * Marshalling: every item type round trip (u8, u32, u64 at their
 * bounds, empty, long and NULL strings), underflow sets the error flag
 * and every later getter fails, trailing bytes are caught by
 * ipc_msg_done, malformed strings (length past the end, no NUL, a NUL
 * inside) fail. ipc_msg_parse fed a frame cut at every position answers
 * "need more" until the frame is whole, takes one frame of two, and
 * refuses another version or an oversized length at once.
 *
 * Connections: two ipc_conns over a socketpair in one event_base (or
 * one ipc_conn and a raw fd that plays a broken peer). Replies are
 * matched to requests by id even out of order; a timeout calls back
 * with NULL exactly once and a late reply then goes to on_msg; a
 * cancelled request never calls back; when the peer goes away every
 * pending request gets NULL and then on_close runs; a malformed frame
 * closes the connection the same way; a request on a closed conn is
 * answered with NULL from the loop, not from inside the call; the conn
 * may be destroyed from inside each of its callbacks. The loops run
 * until something happened, under a 30 s watchdog that only fails a
 * hung test; nothing here measures time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/ipc.h"

/* ---- marshalling ---- */

/* frame_copy: parse m's finished bytes into a new message. */
static void frame_copy(struct ipc_msg *m, struct ipc_msg *out)
{
	ipc_msg_finish(m);
	size_t used = 0;
	assert_int_equal(ipc_msg_parse(out, m->b.data, m->b.len, &used), 1);
	assert_int_equal(used, m->b.len);
}

static void test_items_round_trip(void **state)
{
	(void)state;
	char *longstr = malloc(100001);
	assert_non_null(longstr);
	memset(longstr, 'L', 100000);
	longstr[100000] = '\0';

	struct ipc_msg m;
	ipc_msg_init(&m, 0xbeef, 0xdeadbeef);
	assert_int_equal(m.b.len, IPC_HDR_LEN);
	ipc_put_u8(&m, 0);
	ipc_put_u8(&m, 255);
	ipc_put_u32(&m, 0);
	ipc_put_u32(&m, UINT32_MAX);
	ipc_put_u64(&m, 0);
	ipc_put_u64(&m, UINT64_MAX);
	ipc_put_u64(&m, 0x0123456789abcdefULL);
	ipc_put_str(&m, "");
	ipc_put_str(&m, NULL);
	ipc_put_str(&m, "hello, world");
	ipc_put_str(&m, longstr);
	ipc_put_str(&m, "\xff\x01 binary");
	ipc_put_u8(&m, 7);

	struct ipc_msg r;
	frame_copy(&m, &r);
	assert_int_equal(r.type, 0xbeef);
	assert_int_equal(r.id, 0xdeadbeef);
	assert_false(r.error);
	uint8_t u8;
	uint32_t u32;
	uint64_t u64;
	const char *s;
	assert_int_equal(ipc_get_u8(&r, &u8), 0);
	assert_int_equal(u8, 0);
	assert_int_equal(ipc_get_u8(&r, &u8), 0);
	assert_int_equal(u8, 255);
	assert_int_equal(ipc_get_u32(&r, &u32), 0);
	assert_int_equal(u32, 0);
	assert_int_equal(ipc_get_u32(&r, &u32), 0);
	assert_int_equal(u32, UINT32_MAX);
	assert_int_equal(ipc_get_u64(&r, &u64), 0);
	assert_true(u64 == 0);
	assert_int_equal(ipc_get_u64(&r, &u64), 0);
	assert_true(u64 == UINT64_MAX);
	assert_int_equal(ipc_get_u64(&r, &u64), 0);
	assert_true(u64 == 0x0123456789abcdefULL);
	assert_int_equal(ipc_get_str(&r, &s), 0);
	assert_non_null(s);
	assert_string_equal(s, "");
	s = "not null";
	assert_int_equal(ipc_get_str(&r, &s), 0);
	assert_null(s);
	assert_int_equal(ipc_get_str(&r, &s), 0);
	assert_string_equal(s, "hello, world");
	assert_int_equal(ipc_get_str(&r, &s), 0);
	assert_string_equal(s, longstr);
	assert_int_equal(ipc_get_str(&r, &s), 0);
	assert_string_equal(s, "\xff\x01 binary");
	/* one byte left: not done yet */
	assert_int_equal(ipc_msg_done(&r), -1);
	assert_int_equal(ipc_get_u8(&r, &u8), 0);
	assert_int_equal(u8, 7);
	assert_int_equal(ipc_msg_done(&r), 0);
	/* reading past the end now fails and marks the message */
	assert_int_equal(ipc_get_u8(&r, &u8), -1);
	assert_true(r.error);
	assert_int_equal(ipc_msg_done(&r), -1);
	ipc_msg_free(&r);

	/* the sender can read its own message too */
	assert_int_equal(ipc_get_u8(&m, &u8), 0);
	assert_int_equal(u8, 0);
	ipc_msg_free(&m);
	free(longstr);

	/* an empty payload */
	ipc_msg_init(&m, 1, 2);
	frame_copy(&m, &r);
	assert_int_equal(r.b.len, IPC_HDR_LEN);
	assert_int_equal(ipc_msg_done(&r), 0);
	ipc_msg_free(&r);
	ipc_msg_free(&m);
}

static void test_underflow(void **state)
{
	(void)state;
	struct ipc_msg m, r;
	uint8_t u8;
	uint32_t u32;
	uint64_t u64;
	const char *s;

	/* three bytes are no u32; the flag then sticks */
	ipc_msg_init(&m, 1, 1);
	ipc_put_u8(&m, 1);
	ipc_put_u8(&m, 2);
	ipc_put_u8(&m, 3);
	frame_copy(&m, &r);
	assert_int_equal(ipc_get_u32(&r, &u32), -1);
	assert_true(r.error);
	assert_int_equal(ipc_get_u8(&r, &u8), -1); /* the byte is there, the flag is not clear */
	assert_int_equal(ipc_msg_done(&r), -1);
	ipc_msg_free(&r);

	ipc_msg_free(&m);

	/* seven bytes are no u64, nor a string after it */
	ipc_msg_init(&m, 1, 1);
	for (int i = 0; i < 7; i++)
		ipc_put_u8(&m, (uint8_t)i);
	frame_copy(&m, &r);
	assert_int_equal(ipc_get_u64(&r, &u64), -1);
	assert_int_equal(ipc_get_str(&r, &s), -1);
	assert_null(s);
	assert_int_equal(ipc_msg_done(&r), -1);
	ipc_msg_free(&r);
	ipc_msg_free(&m);

	/* nothing at all */
	ipc_msg_init(&m, 1, 1);
	frame_copy(&m, &r);
	assert_int_equal(ipc_get_u8(&r, &u8), -1);
	assert_int_equal(ipc_msg_done(&r), -1);
	ipc_msg_free(&r);
	ipc_msg_free(&m);
}

/* put_raw: a string item with a length field of our choosing. */
static void put_raw(struct ipc_msg *m, uint32_t len, const void *bytes, size_t n)
{
	ipc_put_u32(m, len);
	buf_append(&m->b, bytes, n);
}

static void test_bad_strings(void **state)
{
	(void)state;
	static const struct {
		uint32_t len;
		const char *bytes;
		size_t n;
	} t[] = {
	    {5, "abcde", 5},            /* no NUL */
	    {5, "abcdeX", 6},           /* something else where the NUL goes */
	    {5, "ab\0de", 6},           /* a NUL inside (and after) */
	    {6, "abcde", 6},            /* length past the end */
	    {100, "abc", 4},            /* far past the end */
	    {UINT32_MAX - 1, "abc", 4}, /* wraps if added carelessly */
	    {0, "", 0},                 /* empty string without its NUL */
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ipc_msg m, r;
		ipc_msg_init(&m, 1, 1);
		put_raw(&m, t[i].len, t[i].bytes, t[i].n);
		frame_copy(&m, &r);
		const char *s = "unset";
		if (ipc_get_str(&r, &s) != -1)
			fail_msg("string %zu accepted", i);
		assert_null(s);
		assert_true(r.error);
		assert_int_equal(ipc_msg_done(&r), -1);
		ipc_msg_free(&r);
		ipc_msg_free(&m);
	}
	/* and a good one written the same way, to show put_raw is right */
	struct ipc_msg m, r;
	ipc_msg_init(&m, 1, 1);
	put_raw(&m, 5, "abcde", 6);
	frame_copy(&m, &r);
	const char *s;
	assert_int_equal(ipc_get_str(&r, &s), 0);
	assert_string_equal(s, "abcde");
	assert_int_equal(ipc_msg_done(&r), 0);
	ipc_msg_free(&r);
	ipc_msg_free(&m);
}

static void header(unsigned char *h, uint32_t plen, uint16_t type, uint16_t ver, uint32_t id)
{
	memcpy(h, &plen, 4);
	memcpy(h + 4, &type, 2);
	memcpy(h + 6, &ver, 2);
	memcpy(h + 8, &id, 4);
}

static void test_parse_split(void **state)
{
	(void)state;
	struct ipc_msg m1, m2;
	ipc_msg_init(&m1, 3, 41);
	ipc_put_str(&m1, "first frame");
	ipc_put_u64(&m1, 42);
	ipc_msg_finish(&m1);
	ipc_msg_init(&m2, 4, 42);
	ipc_put_u32(&m2, 7);
	ipc_msg_finish(&m2);
	size_t n1 = m1.b.len, n2 = m2.b.len;
	struct buf both = BUF_INIT;
	buf_append(&both, m1.b.data, n1);
	buf_append(&both, m2.b.data, n2);

	/* every prefix of the first frame: need more, until it is whole */
	for (size_t k = 0; k <= n1 + n2; k++) {
		struct ipc_msg r;
		size_t used = 12345;
		int ret = ipc_msg_parse(&r, both.data, k, &used);
		if (k < n1) {
			if (ret != 0)
				fail_msg("prefix of %zu bytes: %d, want 0", k, ret);
			assert_int_equal(used, 12345);
			continue;
		}
		assert_int_equal(ret, 1);
		assert_int_equal(used, n1);
		assert_int_equal(r.type, 3);
		assert_int_equal(r.id, 41);
		const char *s;
		uint64_t v;
		assert_int_equal(ipc_get_str(&r, &s), 0);
		assert_string_equal(s, "first frame");
		assert_int_equal(ipc_get_u64(&r, &v), 0);
		assert_true(v == 42);
		assert_int_equal(ipc_msg_done(&r), 0);
		ipc_msg_free(&r);
		/* the rest is the second frame, again cut at every position */
		for (size_t j = 0; j <= k - n1; j++) {
			size_t used2 = 0;
			int ret2 = ipc_msg_parse(&r, both.data + n1, j, &used2);
			if (j < n2) {
				assert_int_equal(ret2, 0);
				continue;
			}
			assert_int_equal(ret2, 1);
			assert_int_equal(used2, n2);
			assert_int_equal(r.id, 42);
			uint32_t u;
			assert_int_equal(ipc_get_u32(&r, &u), 0);
			assert_int_equal(u, 7);
			assert_int_equal(ipc_msg_done(&r), 0);
			ipc_msg_free(&r);
		}
	}
	buf_free(&both);
	ipc_msg_free(&m1);
	ipc_msg_free(&m2);
}

static void test_parse_bad_header(void **state)
{
	(void)state;
	unsigned char h[IPC_HDR_LEN + 8];
	memset(h, 0, sizeof(h));
	struct ipc_msg r;
	size_t used;
	static const uint16_t versions[] = {0, 2, 0x100, 0xffff};
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		header(h, 0, 1, versions[i], 1);
		assert_int_equal(ipc_msg_parse(&r, h, IPC_HDR_LEN, &used), -1);
		header(h, 8, 1, versions[i], 1);
		assert_int_equal(ipc_msg_parse(&r, h, IPC_HDR_LEN, &used), -1);
		assert_int_equal(ipc_msg_parse(&r, h, sizeof(h), &used), -1);
		/* too short to know yet */
		assert_int_equal(ipc_msg_parse(&r, h, IPC_HDR_LEN - 1, &used), 0);
	}
	/* oversize is refused from the header alone; the maximum is fine */
	header(h, IPC_MAX_PAYLOAD + 1, 1, IPC_VERSION, 1);
	assert_int_equal(ipc_msg_parse(&r, h, IPC_HDR_LEN, &used), -1);
	header(h, UINT32_MAX, 1, IPC_VERSION, 1);
	assert_int_equal(ipc_msg_parse(&r, h, IPC_HDR_LEN, &used), -1);
	header(h, IPC_MAX_PAYLOAD, 1, IPC_VERSION, 1);
	assert_int_equal(ipc_msg_parse(&r, h, sizeof(h), &used), 0);
	/* a whole frame of the largest size */
	unsigned char *big = calloc(1, IPC_HDR_LEN + IPC_MAX_PAYLOAD);
	assert_non_null(big);
	header(big, IPC_MAX_PAYLOAD, 9, IPC_VERSION, 5);
	assert_int_equal(ipc_msg_parse(&r, big, IPC_HDR_LEN + IPC_MAX_PAYLOAD, &used), 1);
	assert_int_equal(used, IPC_HDR_LEN + IPC_MAX_PAYLOAD);
	assert_int_equal(r.b.len, IPC_HDR_LEN + IPC_MAX_PAYLOAD);
	ipc_msg_free(&r);
	free(big);
}

/* ---- connections ---- */

enum srv_mode { SRV_ECHO, SRV_IGNORE, SRV_HOLD };
enum action { ACT_NONE, ACT_DESTROY_A };

struct req {
	const char *name;
	int calls;
	bool got_null;
	uint32_t value;
	enum action action;
};

struct held {
	uint16_t type;
	uint32_t id, value;
};

static struct {
	struct event_base *base;
	struct event *watchdog;
	bool watchdog_fired;
	int fd_raw; /* the peer's end when it is no ipc_conn */
	struct ipc_conn *a, *b;
	struct buf log;
	int done; /* reply callbacks run */
	int a_msgs, a_closes, a_closes_after_destroy;
	int b_msgs, b_closes;
	uint32_t a_last_id, a_last_value;
	size_t a_last_len;
	uint32_t b_last_id;
	enum srv_mode mode;
	struct held held[8];
	unsigned nheld, hold_n;
	bool destroy_a_on_close, destroy_a_in_msg;
} T;

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	T.watchdog_fired = true;
}

/* run_until: run the loop until *counter reaches target. */
static void run_until(const int *counter, int target)
{
	while (*counter < target) {
		assert_int_not_equal(event_base_loop(T.base, EVLOOP_ONCE), -1);
		if (T.watchdog_fired)
			fail_msg("hung: waited 30 s (log: %s)", buf_cstr(&T.log));
	}
}

static void reply_cb(struct ipc_msg *reply, void *ctx)
{
	struct req *r = ctx;
	r->calls++;
	T.done++;
	if (reply == NULL) {
		r->got_null = true;
		buf_appendf(&T.log, "%s:null ", r->name);
	} else {
		assert_int_equal(ipc_get_u32(reply, &r->value), 0);
		assert_int_equal(ipc_msg_done(reply), 0);
		buf_appendf(&T.log, "%s:%u ", r->name, r->value);
	}
	if (r->action == ACT_DESTROY_A && T.a != NULL) {
		buf_append_str(&T.log, "destroyA ");
		ipc_conn_destroy(&T.a);
	}
}

static void a_on_msg(struct ipc_conn *c, struct ipc_msg *m, void *ctx)
{
	(void)ctx;
	assert_ptr_equal(c, T.a);
	T.a_msgs++;
	T.a_last_id = m->id;
	T.a_last_len = m->b.len;
	if (m->b.len == IPC_HDR_LEN + 4)
		assert_int_equal(ipc_get_u32(m, &T.a_last_value), 0);
	buf_appendf(&T.log, "msgA:%u ", m->id);
	if (T.destroy_a_in_msg) {
		buf_append_str(&T.log, "destroyA ");
		ipc_conn_destroy(&T.a);
	}
}

static void a_on_close(struct ipc_conn *c, void *ctx)
{
	(void)ctx;
	if (c != T.a) {
		/* on_close of a conn its owner already destroyed */
		T.a_closes_after_destroy++;
		buf_append_str(&T.log, "closeA-after-destroy ");
		return;
	}
	T.a_closes++;
	assert_true(ipc_conn_closed(c));
	assert_int_equal(ipc_conn_pending(c), 0);
	buf_append_str(&T.log, "closeA ");
	if (T.destroy_a_on_close)
		ipc_conn_destroy(&T.a);
}

static void send_u32(struct ipc_conn *c, uint16_t type, uint32_t id, uint32_t v)
{
	struct ipc_msg m;
	ipc_msg_init(&m, type, id);
	ipc_put_u32(&m, v);
	ipc_conn_send(c, &m);
	assert_null(m.b.data); /* m is reset */
}

static void b_on_msg(struct ipc_conn *c, struct ipc_msg *m, void *ctx)
{
	(void)ctx;
	assert_ptr_equal(c, T.b);
	T.b_msgs++;
	T.b_last_id = m->id;
	uint32_t v;
	assert_int_equal(ipc_get_u32(m, &v), 0);
	assert_int_equal(ipc_msg_done(m), 0);
	switch (T.mode) {
	case SRV_ECHO:
		send_u32(c, m->type, m->id, v + 1000);
		break;
	case SRV_IGNORE:
		break;
	case SRV_HOLD:
		T.held[T.nheld++] = (struct held){m->type, m->id, v};
		if (T.nheld == T.hold_n) {
			/* all replies at once, newest first */
			while (T.nheld > 0) {
				struct held *h = &T.held[--T.nheld];
				send_u32(c, h->type, h->id, h->value + 1000);
			}
		}
		break;
	}
}

static void b_on_close(struct ipc_conn *c, void *ctx)
{
	(void)ctx;
	assert_ptr_equal(c, T.b);
	T.b_closes++;
	ipc_conn_destroy(&T.b);
}

static int setup_common(bool raw_peer)
{
	memset(&T, 0, sizeof(T));
	T.fd_raw = -1;
	T.base = event_base_new();
	if (T.base == NULL)
		return -1;
	T.watchdog = evtimer_new(T.base, on_watchdog, NULL);
	struct timeval tv = {30, 0};
	evtimer_add(T.watchdog, &tv);
	int fds[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
		return -1;
	T.a = ipc_conn_create(T.base, fds[0], a_on_msg, a_on_close, &T);
	if (raw_peer)
		T.fd_raw = fds[1];
	else
		T.b = ipc_conn_create(T.base, fds[1], b_on_msg, b_on_close, &T);
	return 0;
}

static int setup_pair(void **state)
{
	(void)state;
	return setup_common(false);
}

static int setup_raw(void **state)
{
	(void)state;
	return setup_common(true);
}

static int teardown(void **state)
{
	(void)state;
	ipc_conn_destroy(&T.a);
	ipc_conn_destroy(&T.b);
	if (T.fd_raw >= 0)
		close(T.fd_raw);
	event_free(T.watchdog);
	event_base_free(T.base);
	buf_free(&T.log);
	return 0;
}

static uint32_t request(struct req *r, uint32_t v, unsigned timeout_ms)
{
	struct ipc_msg m;
	ipc_msg_init(&m, 7, 0);
	ipc_put_u32(&m, v);
	uint32_t id = ipc_conn_request(T.a, &m, timeout_ms, reply_cb, r);
	assert_null(m.b.data);
	return id;
}

static void test_conn_request_reply(void **state)
{
	(void)state;
	T.mode = SRV_HOLD;
	T.hold_n = 3;
	struct req r[3] = {{.name = "r0"}, {.name = "r1"}, {.name = "r2"}};
	uint32_t id[3];
	for (int i = 0; i < 3; i++)
		id[i] = request(&r[i], (uint32_t)(i + 1) * 10, 30000);
	assert_true(id[0] != 0 && id[0] != id[1] && id[1] != id[2] && id[0] != id[2]);
	assert_int_equal(ipc_conn_pending(T.a), 3);
	assert_int_equal(ipc_conn_outbuf(T.a), 3 * (IPC_HDR_LEN + 4));
	assert_int_equal(T.done, 0); /* never from inside the call */
	run_until(&T.done, 3);
	/* answered newest first, each to its own request */
	assert_string_equal(buf_cstr(&T.log), "r2:1030 r1:1020 r0:1010 ");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_false(r[i].got_null);
	}
	assert_int_equal(ipc_conn_pending(T.a), 0);
	assert_int_equal(T.b_msgs, 3);
	assert_int_equal(T.a_msgs, 0);

	/* in order, many at once */
	T.mode = SRV_ECHO;
	struct req many[200];
	for (int i = 0; i < 200; i++) {
		many[i] = (struct req){.name = "m"};
		request(&many[i], (uint32_t)i, 30000);
	}
	run_until(&T.done, 203);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(many[i].calls, 1);
		assert_int_equal(many[i].value, (uint32_t)i + 1000);
	}
	assert_false(ipc_conn_closed(T.a));
}

/* A frame that answers nothing goes to on_msg, id and payload intact. */
static void test_conn_unsolicited(void **state)
{
	(void)state;
	send_u32(T.b, 5, 777, 4242);
	run_until(&T.a_msgs, 1);
	assert_int_equal(T.a_last_id, 777);
	assert_int_equal(T.a_last_value, 4242);
	/* the largest payload arrives whole */
	struct ipc_msg m;
	ipc_msg_init(&m, 6, 778);
	buf_reserve(&m.b, IPC_MAX_PAYLOAD);
	char *fill = calloc(1, IPC_MAX_PAYLOAD);
	assert_non_null(fill);
	buf_append(&m.b, fill, IPC_MAX_PAYLOAD);
	free(fill);
	ipc_conn_send(T.b, &m);
	run_until(&T.a_msgs, 2);
	assert_int_equal(T.a_last_id, 778);
	assert_int_equal(T.a_last_len, IPC_HDR_LEN + IPC_MAX_PAYLOAD);
	assert_false(ipc_conn_closed(T.a));
}

static void test_conn_timeout(void **state)
{
	(void)state;
	T.mode = SRV_IGNORE;
	struct req r0 = {.name = "r0"};
	uint32_t id = request(&r0, 1, 20);
	run_until(&T.done, 1);
	assert_int_equal(r0.calls, 1);
	assert_true(r0.got_null);
	assert_int_equal(ipc_conn_pending(T.a), 0);
	assert_int_equal(T.b_msgs, 1);
	assert_int_equal(T.b_last_id, id);
	/* the late reply is no reply any more */
	send_u32(T.b, 7, id, 99);
	run_until(&T.a_msgs, 1);
	assert_int_equal(T.a_last_id, id);
	assert_int_equal(r0.calls, 1);
	/* nor does a close call it again */
	ipc_conn_destroy(&T.b);
	run_until(&T.a_closes, 1);
	assert_int_equal(r0.calls, 1);
	assert_string_equal(buf_cstr(&T.log), "r0:null msgA:1 closeA ");
}

static void test_conn_cancel(void **state)
{
	(void)state;
	T.mode = SRV_IGNORE;
	struct req r0 = {.name = "r0"}, r1 = {.name = "r1"}, r2 = {.name = "r2"};
	uint32_t id0 = request(&r0, 1, 10);
	uint32_t id1 = request(&r1, 2, 30000);
	assert_int_equal(ipc_conn_pending(T.a), 2);
	assert_ptr_equal(ipc_request_cancel(T.a, id0), &r0);
	assert_null(ipc_request_cancel(T.a, id0));
	assert_null(ipc_request_cancel(T.a, 123456));
	assert_int_equal(ipc_conn_pending(T.a), 1);
	assert_ptr_equal(ipc_request_cancel(T.a, id1), &r1);
	assert_int_equal(ipc_conn_pending(T.a), 0);
	/* r2 times out later than r0 would have */
	request(&r2, 3, 50);
	run_until(&T.done, 1);
	assert_true(r2.got_null);
	assert_int_equal(r0.calls, 0);
	assert_int_equal(r1.calls, 0);
	/* the answer to a cancelled request goes to on_msg */
	run_until(&T.b_msgs, 3);
	send_u32(T.b, 7, id1, 5);
	run_until(&T.a_msgs, 1);
	assert_int_equal(T.a_last_id, id1);
	assert_int_equal(r1.calls, 0);
	/* and the close calls nobody */
	ipc_conn_destroy(&T.b);
	run_until(&T.a_closes, 1);
	assert_int_equal(r0.calls + r1.calls, 0);
	assert_int_equal(r2.calls, 1);
}

static void test_conn_peer_close(void **state)
{
	(void)state;
	T.mode = SRV_IGNORE;
	T.destroy_a_on_close = true;
	struct req r0 = {.name = "r0"}, r1 = {.name = "r1"};
	request(&r0, 1, 30000);
	request(&r1, 2, 30000);
	run_until(&T.b_msgs, 2);
	ipc_conn_destroy(&T.b);
	run_until(&T.a_closes, 1);
	assert_int_equal(r0.calls, 1);
	assert_int_equal(r1.calls, 1);
	assert_true(r0.got_null && r1.got_null);
	const char *log = buf_cstr(&T.log);
	const char *close = strstr(log, "closeA");
	assert_non_null(close);
	assert_true(strstr(log, "r0:null") < close);
	assert_true(strstr(log, "r1:null") < close);
	assert_null(T.a); /* destroyed from on_close */
	assert_int_equal(T.a_closes_after_destroy, 0);
}

static void test_conn_request_after_close(void **state)
{
	(void)state;
	ipc_conn_destroy(&T.b);
	run_until(&T.a_closes, 1);
	assert_true(ipc_conn_closed(T.a));
	struct req r0 = {.name = "r0"};
	request(&r0, 1, 30000);
	assert_int_equal(r0.calls, 0); /* not from inside the call */
	assert_int_equal(ipc_conn_pending(T.a), 1);
	assert_int_equal(ipc_conn_outbuf(T.a), 0);
	run_until(&T.done, 1);
	assert_true(r0.got_null);
	assert_int_equal(ipc_conn_pending(T.a), 0);
	assert_int_equal(T.a_closes, 1);
	/* sending on a closed conn is harmless */
	send_u32(T.a, 1, 1, 1);
	assert_int_equal(ipc_conn_outbuf(T.a), 0);
}

/* A broken peer: good frame, then a bad header. The good one is
 * delivered, the pending request fails, on_close runs; no crash. */
static void test_conn_malformed(void **state)
{
	(void)state;
	static const struct {
		uint32_t plen;
		uint16_t ver;
	} bad[] = {
	    {0, 2},
	    {4, 0},
	    {4, 0xffff},
	    {IPC_MAX_PAYLOAD + 1, IPC_VERSION},
	    {UINT32_MAX, IPC_VERSION},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (i > 0) {
			teardown(state);
			assert_int_equal(setup_raw(state), 0);
		}
		T.destroy_a_on_close = true;
		struct req r0 = {.name = "r0"};
		request(&r0, 1, 30000);
		unsigned char frames[2 * IPC_HDR_LEN + 4 + 8];
		memset(frames, 0, sizeof(frames));
		uint32_t v = 31337;
		header(frames, 4, 5, IPC_VERSION, 999);
		memcpy(frames + IPC_HDR_LEN, &v, 4);
		header(frames + IPC_HDR_LEN + 4, bad[i].plen, 5, bad[i].ver, 1000);
		assert_int_equal(write(T.fd_raw, frames, sizeof(frames)), (ssize_t)sizeof(frames));
		run_until(&T.a_closes, 1);
		if (strcmp(buf_cstr(&T.log), "msgA:999 r0:null closeA ") != 0)
			fail_msg("bad frame %zu: %s", i, buf_cstr(&T.log));
		assert_int_equal(T.a_last_value, 31337);
		assert_null(T.a);
	}
}

/* A peer that sends half a header and goes away. */
static void test_conn_truncated(void **state)
{
	(void)state;
	struct req r0 = {.name = "r0"};
	request(&r0, 1, 30000);
	assert_int_equal(write(T.fd_raw, "\x04\0\0\0\x05", 5), 5);
	close(T.fd_raw);
	T.fd_raw = -1;
	run_until(&T.a_closes, 1);
	assert_string_equal(buf_cstr(&T.log), "r0:null closeA ");
	assert_int_equal(T.a_msgs, 0);
}

/* Destroyed inside a reply callback with a second reply in the same
 * read: the second callback never runs, nothing is touched after. */
static void test_destroy_in_reply_callback(void **state)
{
	(void)state;
	T.mode = SRV_HOLD;
	T.hold_n = 2;
	struct req r0 = {.name = "r0", .action = ACT_DESTROY_A};
	struct req r1 = {.name = "r1", .action = ACT_DESTROY_A};
	request(&r0, 1, 30000);
	request(&r1, 2, 30000);
	run_until(&T.done, 1);
	assert_null(T.a);
	run_until(&T.b_closes, 1); /* the peer saw us go */
	assert_int_equal(r0.calls + r1.calls, 1);
	assert_int_equal(T.a_closes + T.a_closes_after_destroy, 0);
	assert_string_equal(buf_cstr(&T.log), "r1:1002 destroyA ");
}

/* Destroyed inside on_msg with a second frame behind. */
static void test_destroy_in_on_msg(void **state)
{
	(void)state;
	T.destroy_a_in_msg = true;
	send_u32(T.b, 5, 1, 1);
	send_u32(T.b, 5, 2, 2);
	run_until(&T.a_msgs, 1);
	assert_null(T.a);
	run_until(&T.b_closes, 1);
	assert_int_equal(T.a_msgs, 1);
	assert_int_equal(T.a_closes + T.a_closes_after_destroy, 0);
}

/* Destroyed inside a timeout callback with another request pending. */
static void test_destroy_in_timeout_callback(void **state)
{
	(void)state;
	T.mode = SRV_IGNORE;
	struct req r0 = {.name = "r0", .action = ACT_DESTROY_A};
	struct req r1 = {.name = "r1"};
	request(&r0, 1, 10);
	request(&r1, 2, 30000);
	run_until(&T.done, 1);
	assert_null(T.a);
	run_until(&T.b_closes, 1);
	assert_int_equal(r0.calls, 1);
	assert_int_equal(r1.calls, 0);
	assert_int_equal(T.a_closes + T.a_closes_after_destroy, 0);
}

/* Destroyed inside on_close, reached through a bad frame. */
static void test_destroy_in_on_close_bad_frame(void **state)
{
	(void)state;
	T.destroy_a_on_close = true;
	unsigned char h[IPC_HDR_LEN];
	header(h, 0, 1, IPC_VERSION + 1, 1);
	assert_int_equal(write(T.fd_raw, h, sizeof(h)), (ssize_t)sizeof(h));
	run_until(&T.a_closes, 1);
	assert_null(T.a);
}

/*
 * Destroyed inside the NULL callback that a close delivers. The owner
 * destroyed the conn, so nothing of it may run after: neither the other
 * pending callback nor on_close. ipc.c's conn_fail() calls on_close
 * after the pending callbacks without checking whether one of them
 * destroyed the conn: an owner that frees its state together with the
 * conn then gets on_close with a dangling ctx. This test shows that
 * bug (a_closes_after_destroy is 1); it passes once it is fixed.
 */
static void test_destroy_in_close_callback(void **state)
{
	(void)state;
	T.mode = SRV_IGNORE;
	struct req r0 = {.name = "r0", .action = ACT_DESTROY_A};
	struct req r1 = {.name = "r1", .action = ACT_DESTROY_A};
	request(&r0, 1, 30000);
	request(&r1, 2, 30000);
	run_until(&T.b_msgs, 2);
	ipc_conn_destroy(&T.b);
	run_until(&T.done, 1);
	assert_null(T.a);
	assert_int_equal(r0.calls + r1.calls, 1);
	if (T.a_closes + T.a_closes_after_destroy != 0)
		fail_msg("on_close ran for a conn destroyed in a pending callback (log: %s)",
		         buf_cstr(&T.log));
}

static void test_connect_unix(void **state)
{
	(void)state;
	const char *dir = getenv("TMPDIR");
	char path[256];
	snprintf(path, sizeof(path), "%s/test-ipc-%d.sock", dir && *dir ? dir : "/tmp",
	         (int)getpid());
	unlink(path);
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(ls >= 0);
	struct sockaddr_un sun;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sun.sun_path));
	strcpy(sun.sun_path, path);
	assert_int_equal(bind(ls, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(ls, 1), 0);
	int fd = ipc_connect_unix(path);
	assert_true(fd >= 0);
	int peer = accept(ls, NULL, NULL);
	assert_true(peer >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	char c;
	assert_int_equal(read(peer, &c, 1), 1);
	close(fd);
	close(peer);
	close(ls);
	unlink(path);
	errno = 0;
	assert_int_equal(ipc_connect_unix(path), -1);
	assert_int_equal(errno, ENOENT);
	char longpath[200];
	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(ipc_connect_unix(longpath), -1);
	assert_int_equal(errno, ENAMETOOLONG);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* as the daemon does */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_items_round_trip),
	    cmocka_unit_test(test_underflow),
	    cmocka_unit_test(test_bad_strings),
	    cmocka_unit_test(test_parse_split),
	    cmocka_unit_test(test_parse_bad_header),
	    cmocka_unit_test_setup_teardown(test_conn_request_reply, setup_pair, teardown),
	    cmocka_unit_test_setup_teardown(test_conn_unsolicited, setup_pair, teardown),
	    cmocka_unit_test_setup_teardown(test_conn_timeout, setup_pair, teardown),
	    cmocka_unit_test_setup_teardown(test_conn_cancel, setup_pair, teardown),
	    cmocka_unit_test_setup_teardown(test_conn_peer_close, setup_pair, teardown),
	    cmocka_unit_test_setup_teardown(test_conn_request_after_close, setup_pair, teardown),
	    cmocka_unit_test_setup_teardown(test_conn_malformed, setup_raw, teardown),
	    cmocka_unit_test_setup_teardown(test_conn_truncated, setup_raw, teardown),
	    cmocka_unit_test_setup_teardown(test_destroy_in_reply_callback, setup_pair, teardown),
	    cmocka_unit_test_setup_teardown(test_destroy_in_on_msg, setup_pair, teardown),
	    cmocka_unit_test_setup_teardown(test_destroy_in_timeout_callback, setup_pair, teardown),
	    cmocka_unit_test_setup_teardown(test_destroy_in_on_close_bad_frame, setup_raw,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_destroy_in_close_callback, setup_pair, teardown),
	    cmocka_unit_test(test_connect_unix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
