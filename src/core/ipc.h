/*
 * ipc - framed, versioned messages between vmaild's own processes.
 *
 * Owns: the wire format and its checked marshalling, one connection type
 * on a stream socket (struct ipc_conn), and request/response tracking
 * with timeouts (ipc_conn_request).
 *
 * Frame: u32 payload length, u16 type, u16 version, u32 request id, then
 * the payload, all in host byte order (both ends are the same binary on
 * the same host). A frame larger than IPC_MAX_PAYLOAD, of another
 * version, or whose payload does not decode is a broken peer: the
 * connection is closed (on_close is called) - never a crash.
 *
 * Payload items: u8, u32, u64, strings (u32 length, bytes, NUL; length
 * 0xffffffff = NULL). Getters fail (-1) on underflow, and set the
 * message's error flag so a decoder can check once at the end.
 *
 * Replies carry the id of their request. A request's callback runs
 * exactly once: with the reply, or with NULL on timeout or when the
 * connection closes; never after ipc_request_cancel().
 */
#ifndef VMAILD_CORE_IPC_H
#define VMAILD_CORE_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define IPC_VERSION	1
#define IPC_HDR_LEN	12
#define IPC_MAX_PAYLOAD (4u * 1024 * 1024)

struct event_base;

struct ipc_msg {
	struct buf b; /* header + payload */
	size_t rpos;  /* read position in b */
	uint16_t type;
	uint32_t id;
	bool error;
};

void ipc_msg_init(struct ipc_msg *m, uint16_t type, uint32_t id);
void ipc_msg_free(struct ipc_msg *m);
void ipc_put_u8(struct ipc_msg *m, uint8_t v);
void ipc_put_u32(struct ipc_msg *m, uint32_t v);
void ipc_put_u64(struct ipc_msg *m, uint64_t v);
void ipc_put_str(struct ipc_msg *m, const char *s);
int ipc_get_u8(struct ipc_msg *m, uint8_t *v_r);
int ipc_get_u32(struct ipc_msg *m, uint32_t *v_r);
int ipc_get_u64(struct ipc_msg *m, uint64_t *v_r);
/* ipc_get_str: *s_r points into the message (NUL-terminated), or NULL. */
int ipc_get_str(struct ipc_msg *m, const char **s_r);
/* ipc_msg_done: 0 when every byte was read and no getter failed. */
int ipc_msg_done(const struct ipc_msg *m);
/* ipc_msg_parse: decode one frame from data (len bytes, header included)
 * into m (copied). 1 done (*used_r bytes), 0 need more, -1 broken. */
int ipc_msg_parse(struct ipc_msg *m, const void *data, size_t len, size_t *used_r);
/* ipc_msg_finish: write the payload length into the header. */
void ipc_msg_finish(struct ipc_msg *m);

struct ipc_conn;
typedef void ipc_msg_cb(struct ipc_conn *c, struct ipc_msg *m, void *ctx);
typedef void ipc_close_cb(struct ipc_conn *c, void *ctx);
typedef void ipc_reply_cb(struct ipc_msg *reply, void *ctx);

/*
 * ipc_conn_create: take over fd (a connected stream socket, made
 * non-blocking here). on_msg gets every frame that is not the reply to a
 * pending request; on_close is called once when the peer goes away or
 * breaks the protocol, after every pending request got NULL. The conn is
 * still valid inside on_close; the owner destroys it (also from there).
 */
struct ipc_conn *ipc_conn_create(struct event_base *base, int fd, ipc_msg_cb *on_msg,
				 ipc_close_cb *on_close, void *ctx);
void ipc_conn_destroy(struct ipc_conn **c);
/* ipc_conn_send: finish and queue m; m is reset (may be reused). */
void ipc_conn_send(struct ipc_conn *c, struct ipc_msg *m);
/* ipc_conn_request: send m as a request (its id is assigned here) and call
 * cb with the reply, or NULL after timeout_ms or on close. Returns the id
 * for ipc_request_cancel(). */
uint32_t ipc_conn_request(struct ipc_conn *c, struct ipc_msg *m, unsigned timeout_ms,
			  ipc_reply_cb *cb, void *ctx);
/* ipc_request_cancel: forget request id; returns its ctx (NULL when it was
 * not pending) so the caller can free what it handed in. */
void *ipc_request_cancel(struct ipc_conn *c, uint32_t id);
/* ipc_conn_pending: requests waiting for a reply. */
unsigned ipc_conn_pending(const struct ipc_conn *c);
/* ipc_conn_outbuf: bytes queued for the peer (for backpressure). */
size_t ipc_conn_outbuf(const struct ipc_conn *c);
bool ipc_conn_closed(const struct ipc_conn *c);

/* ipc_connect_unix: a blocking connect to a unix socket path; fd or -1. */
int ipc_connect_unix(const char *path);

#endif
