/*
 * test-deflate.c - the COMPRESS=DEFLATE bufferevent (net/deflate.h).
 *
 * Over a socketpair: what the session writes arrives as one raw DEFLATE
 * stream that plain zlib inflates to the same bytes, each loop pass's
 * writes ended by a sync flush (readable without more data), large
 * writes (1 MiB) included; raw DEFLATE sent by the peer is read back as
 * plain text; input already buffered under the filter counts as
 * compressed; garbage from the peer is an error event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "net/deflate.h"

struct peer {
	int fd;
	z_stream in;
	unsigned char plain[2 * 1024 * 1024];
	size_t plain_len;
};

/* read what is on the peer's socket and inflate it (sync-flushed data
 * must inflate completely without more input) */
static void peer_drain(struct peer *p)
{
	unsigned char buf[65536];
	for (;;) {
		ssize_t n = read(p->fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		p->in.next_in = buf;
		p->in.avail_in = (uInt)n;
		while (p->in.avail_in > 0) {
			p->in.next_out = p->plain + p->plain_len;
			p->in.avail_out = (uInt)(sizeof(p->plain) - p->plain_len);
			int ret = inflate(&p->in, Z_SYNC_FLUSH);
			assert_true(ret == Z_OK || ret == Z_BUF_ERROR);
			p->plain_len = sizeof(p->plain) - p->in.avail_out;
		}
	}
}

static void run_once(struct event_base *base, unsigned ms)
{
	struct timeval tv = {0, ms * 1000};
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

struct got {
	char data[65536];
	size_t len;
	unsigned errors;
};

static void on_read(struct bufferevent *bev, void *arg)
{
	struct got *g = arg;
	size_t n = bufferevent_read(bev, g->data + g->len, sizeof(g->data) - 1 - g->len);
	g->len += n;
	g->data[g->len] = '\0';
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct got *g = arg;
	(void)bev;
	if ((what & BEV_EVENT_ERROR) != 0)
		g->errors++;
}

static void compress_raw(const char *text, unsigned char *out, size_t *out_len)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)text;
	z.avail_in = (uInt)strlen(text);
	z.next_out = out;
	z.avail_out = (uInt)*out_len;
	assert_int_equal(deflate(&z, Z_SYNC_FLUSH), Z_OK);
	*out_len -= z.avail_out;
	deflateEnd(&z);
}

static void test_roundtrip(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	struct event_base *base = event_base_new();

	/* the peer's first compressed line is already waiting under the filter */
	unsigned char comp[4096];
	size_t comp_len = sizeof(comp);
	compress_raw("a001 NOOP\r\n", comp, &comp_len);
	assert_int_equal(write(sv[1], comp, comp_len), (ssize_t)comp_len);

	struct bufferevent *under = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	bufferevent_enable(under, EV_READ | EV_WRITE);
	run_once(base, 20);
	assert_true(evbuffer_get_length(bufferevent_get_input(under)) > 0);

	struct bufferevent *bev = deflate_bufferevent_new(under);
	assert_non_null(bev);
	struct got got = {0};
	bufferevent_setcb(bev, on_read, NULL, on_event, &got);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	run_once(base, 20);
	assert_string_equal(got.data, "a001 NOOP\r\n");

	/* more from the peer */
	comp_len = sizeof(comp);
	compress_raw("a002 LOGOUT\r\n", comp, &comp_len);
	assert_int_equal(write(sv[1], comp, comp_len), (ssize_t)comp_len);
	run_once(base, 20);
	assert_string_equal(got.data, "a001 NOOP\r\na002 LOGOUT\r\n");

	/* the session writes: several small pieces, then a large one */
	static struct peer peer;
	memset(&peer, 0, sizeof(peer));
	peer.fd = sv[1];
	assert_int_equal(inflateInit2(&peer.in, -15), Z_OK);
	bufferevent_write(bev, "* OK ", 5);
	bufferevent_write(bev, "hello\r\n", 7);
	run_once(base, 20);
	peer_drain(&peer);
	assert_int_equal(peer.plain_len, 12);
	assert_memory_equal(peer.plain, "* OK hello\r\n", 12);

	size_t big_len = 1024 * 1024;
	char *big = malloc(big_len);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)("abcdefghij\r\n"[i % 12] ^ (i % 7 == 0 ? 1 : 0));
	bufferevent_write(bev, big, big_len);
	for (int i = 0; i < 200 && peer.plain_len < 12 + big_len; i++) {
		run_once(base, 10);
		peer_drain(&peer);
	}
	assert_int_equal(peer.plain_len, 12 + big_len);
	assert_memory_equal(peer.plain + 12, big, big_len);
	free(big);
	assert_int_equal(got.errors, 0);

	/* garbage from the peer: an error event */
	static const unsigned char junk[] = {0xff, 0xff, 0xff, 0xff, 0x13, 0x37, 0x00, 0x01};
	assert_int_equal(write(sv[1], junk, sizeof(junk)), (ssize_t)sizeof(junk));
	run_once(base, 20);
	assert_int_equal(got.errors, 1);

	inflateEnd(&peer.in);
	bufferevent_free(bev);
	close(sv[1]);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
