/*
 * queue-proto - requests to the queue process over
 * <state_dir>/run/queue.sock (framed as in core/ipc.h). Workers submit
 * messages; vmailctl (as root) asks for the administrator's commands, so
 * that the queue process alone changes queue files.
 *
 * QUEUE_SUBMIT: str qid, str spool path (a complete, fsynced file under
 *   <state_dir>/queue/incoming), u64 offset where the message starts in
 *   it (our local-delivery header fields come before), str sender
 *   (canonical, "" for <>), u32 n, n x str recipient.
 *   Reply: u8 status (0 queued durably, 1 temporary failure), str error.
 * QUEUE_FLUSH: no arguments: every message not on hold is tried now.
 *   Reply: u8 0, str NULL.
 * QUEUE_DELETE, QUEUE_HOLD, QUEUE_RELEASE: str qid.
 *   Reply: u8 status (QUEUE_REPLY_*), str error.
 *
 * A malformed request closes the connection.
 */
#ifndef VMAILD_SMTP_QUEUE_PROTO_H
#define VMAILD_SMTP_QUEUE_PROTO_H

enum queue_request {
	QUEUE_SUBMIT = 1,
	QUEUE_FLUSH = 2,
	QUEUE_DELETE = 3,
	QUEUE_HOLD = 4,
	QUEUE_RELEASE = 5,
};

enum queue_reply_status {
	QUEUE_REPLY_OK = 0,
	QUEUE_REPLY_TEMPFAIL = 1,
	QUEUE_REPLY_NOT_FOUND = 2,
};

#define QUEUE_MAX_RCPTS 10000

#endif
