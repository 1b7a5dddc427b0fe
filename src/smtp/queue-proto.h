/*
 * queue-proto - requests the workers send to the queue process over
 * <state_dir>/run/queue.sock (framed as in core/ipc.h).
 *
 * QUEUE_SUBMIT: str qid, str spool path (a complete, fsynced file under
 *   <state_dir>/queue/incoming), u64 offset where the message starts in
 *   it (our local-delivery header fields come before), str sender
 *   (canonical, "" for <>), u32 n, n x str recipient.
 *   Reply: u8 status (0 queued durably, 1 temporary failure), str error.
 */
#ifndef VMAILD_SMTP_QUEUE_PROTO_H
#define VMAILD_SMTP_QUEUE_PROTO_H

enum queue_request {
	QUEUE_SUBMIT = 1,
};

#define QUEUE_MAX_RCPTS 10000

#endif
