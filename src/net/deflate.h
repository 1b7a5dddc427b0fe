/*
 * deflate - a compressing bufferevent for IMAP COMPRESS=DEFLATE
 * (RFC 4978): raw DEFLATE (RFC 1951, no zlib or gzip header) in both
 * directions over an existing bufferevent (plain or TLS).
 *
 * Owns: the zlib streams of one connection and the flushing rule: what
 * the session writes during one pass of the event loop is compressed
 * together and ended with a sync flush (RFC 4978 section 4: a response
 * must be complete on the wire without waiting for more output), so a
 * FETCH of many messages is not flushed once per line.
 *
 * Back-pressure: the underlying bufferevent's write high-watermark is
 * set (DEFLATE_UNDER_WMARK), so compressed output waits in the filter's
 * own output buffer and the session's watermarks keep working.
 *
 * Bad compressed input (a corrupt stream, or one that ends) reports
 * BEV_EVENT_READING | BEV_EVENT_ERROR to the session's event callback
 * once, from the loop; reading stops.
 *
 * Memory: zlib's raw deflate at windowBits 15 / memLevel 8 (about 256
 * KiB for the deflate side, 44 KiB inflate) per connection that asked
 * for compression; nothing for the others.
 */
#ifndef VMAILD_NET_DEFLATE_H
#define VMAILD_NET_DEFLATE_H

struct bufferevent;

#define DEFLATE_UNDER_WMARK (64 * 1024)

/*
 * deflate_bufferevent_new: a bufferevent over under that compresses what
 * is written and inflates what is read; under is freed with it. Bytes
 * already waiting in under's input are taken as compressed. NULL when
 * zlib cannot be set up (under is then untouched).
 */
struct bufferevent *deflate_bufferevent_new(struct bufferevent *under);

#endif
