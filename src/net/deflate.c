/*
 * deflate.c - raw DEFLATE filters for a bufferevent; see deflate.h.
 *
 * Output: the filter runs on every write to the session's bufferevent;
 * it compresses with Z_NO_FLUSH and activates a zero-delay event, which
 * runs after the current loop pass and asks for BEV_FLUSH: that call
 * ends the compressed block with Z_SYNC_FLUSH. Input: whatever arrived
 * is inflated at once.
 */
#include "net/deflate.h"
#include "core/xalloc.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define DEFLATE_CHUNK 16384

struct deflate_ctx {
	z_stream in, out;
	struct bufferevent *bev; /* the filter */
	struct event *flush_ev;
	bool unflushed; /* deflate holds input not yet sync-flushed */
	bool failed;    /* bad input: the session's event callback is due */
};

/* run one zlib stream over src into dst; flush: deflate's flush mode,
 * or -1 for inflate. Returns 0, or -1 on a stream error. */
static int pump(struct deflate_ctx *d, struct evbuffer *src, struct evbuffer *dst, int flush)
{
	z_stream *z = flush < 0 ? &d->in : &d->out;
	for (;;) {
		struct evbuffer_iovec in_vec;
		int nin = evbuffer_peek(src, -1, NULL, &in_vec, 1);
		size_t avail = nin > 0 ? in_vec.iov_len : 0;
		if (avail == 0 && flush <= Z_NO_FLUSH)
			return 0;
		struct evbuffer_iovec out_vec;
		if (evbuffer_reserve_space(dst, DEFLATE_CHUNK, &out_vec, 1) < 1)
			return -1;
		z->next_in = avail > 0 ? in_vec.iov_base : (Bytef *)"";
		z->avail_in = (uInt)avail;
		z->next_out = out_vec.iov_base;
		z->avail_out = (uInt)out_vec.iov_len;
		/* flush only with the last bytes there are */
		int mode = avail == evbuffer_get_length(src) ? flush : Z_NO_FLUSH;
		int ret = flush < 0 ? inflate(z, Z_SYNC_FLUSH) : deflate(z, mode);
		size_t used = avail - z->avail_in;
		out_vec.iov_len -= z->avail_out;
		evbuffer_commit_space(dst, &out_vec, 1);
		if (used > 0)
			evbuffer_drain(src, used);
		if (flush < 0) {
			if (ret == Z_STREAM_END || (ret != Z_OK && ret != Z_BUF_ERROR))
				return -1;
			if (z->avail_out != 0 && z->avail_in == 0 &&
			    evbuffer_get_length(src) == 0)
				return 0;
			continue;
		}
		if (ret != Z_OK && ret != Z_BUF_ERROR)
			return -1;
		/* done when all input is taken and zlib had room to spare */
		if (z->avail_out != 0 && evbuffer_get_length(src) == 0)
			return 0;
	}
}

static enum bufferevent_filter_result filter_in(struct evbuffer *src, struct evbuffer *dst,
						ev_ssize_t limit,
						enum bufferevent_flush_mode mode, void *ctx)
{
	struct deflate_ctx *d = ctx;
	(void)limit;
	(void)mode;
	if (d->failed)
		return BEV_ERROR;
	if (pump(d, src, dst, -1) == 0)
		return BEV_OK;
	/* libevent's filter drops BEV_ERROR on input: report it ourselves */
	d->failed = true;
	evbuffer_drain(src, evbuffer_get_length(src));
	event_active(d->flush_ev, EV_TIMEOUT, 0);
	return BEV_ERROR;
}

static enum bufferevent_filter_result filter_out(struct evbuffer *src, struct evbuffer *dst,
						 ev_ssize_t limit,
						 enum bufferevent_flush_mode mode, void *ctx)
{
	struct deflate_ctx *d = ctx;
	(void)limit;
	if (mode == BEV_NORMAL) {
		if (evbuffer_get_length(src) == 0)
			return BEV_OK;
		if (pump(d, src, dst, Z_NO_FLUSH) < 0)
			return BEV_ERROR;
		d->unflushed = true;
		event_active(d->flush_ev, EV_TIMEOUT, 0);
		return BEV_OK;
	}
	if (!d->unflushed && evbuffer_get_length(src) == 0)
		return BEV_OK;
	if (pump(d, src, dst, Z_SYNC_FLUSH) < 0)
		return BEV_ERROR;
	d->unflushed = false;
	return BEV_OK;
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct deflate_ctx *d = arg;
	(void)fd;
	(void)what;
	if (d->failed) {
		bufferevent_event_cb eventcb;
		void *arg2;
		bufferevent_getcb(d->bev, NULL, NULL, &eventcb, &arg2);
		bufferevent_disable(d->bev, EV_READ);
		if (eventcb != NULL)
			eventcb(d->bev, BEV_EVENT_READING | BEV_EVENT_ERROR, arg2);
		return;
	}
	if (d->unflushed)
		bufferevent_flush(d->bev, EV_WRITE, BEV_FLUSH);
}

static void ctx_free(void *arg)
{
	struct deflate_ctx *d = arg;
	inflateEnd(&d->in);
	deflateEnd(&d->out);
	event_free(d->flush_ev);
	free(d);
}

struct bufferevent *deflate_bufferevent_new(struct bufferevent *under)
{
	struct deflate_ctx *d = xcalloc(1, sizeof(*d));
	if (inflateInit2(&d->in, -15) != Z_OK) {
		free(d);
		return NULL;
	}
	if (deflateInit2(&d->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK) {
		inflateEnd(&d->in);
		free(d);
		return NULL;
	}
	d->flush_ev = event_new(bufferevent_get_base(under), -1, 0, on_flush, d);
	if (d->flush_ev == NULL) {
		inflateEnd(&d->in);
		deflateEnd(&d->out);
		free(d);
		return NULL;
	}
	bufferevent_setwatermark(under, EV_WRITE, 0, DEFLATE_UNDER_WMARK);
	d->bev = bufferevent_filter_new(under, filter_in, filter_out, BEV_OPT_CLOSE_ON_FREE, ctx_free,
					d);
	if (d->bev == NULL) {
		ctx_free(d);
		return NULL;
	}
	/* bytes that came with the COMPRESS command's packet: once the loop
	 * runs (the session has set its callbacks by then), inflate them */
	if (evbuffer_get_length(bufferevent_get_input(under)) > 0)
		bufferevent_trigger(under, EV_READ,
				    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
	return d->bev;
}
