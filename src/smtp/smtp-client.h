/*
 * smtp-client - the SMTP client of the queue: replies, data encoding and
 * one outgoing session on a libevent bufferevent.
 *
 * Owns three things, in layers:
 *
 *  - the reply parser (smtp-reply.c): server replies (RFC 5321 section
 *    4.2) cut out of a byte stream, single- and multi-line, with the
 *    enhanced status code (RFC 3463) of the first line. Bounded: a line
 *    longer than max_line bytes (without its line end) is an error as
 *    soon as that many bytes are buffered; a reply of more than max_lines
 *    lines is an error; both distinct from bad syntax. The result does
 *    not depend on how the input is split into chunks.
 *
 *  - the data encoder (smtp-client.c): a stored message (LF or CRLF line
 *    ends) turned into DATA content: every bare LF becomes CRLF, a '.'
 *    at the start of a line is doubled, and the end adds the final
 *    line end if missing and ".\r\n". Streaming, split-invariant.
 *
 *  - the session (smtp-client.c): connect, greeting, EHLO (HELO after a
 *    5xx), STARTTLS when offered and a TLS context is given (no
 *    certificate check: opportunistic), then any number of transactions
 *    (RSET before every one but the first; MAIL and RCPT pipelined when
 *    PIPELINING is offered; DATA only when a recipient was accepted; the
 *    message streamed from a file with backpressure), then QUIT.
 *    Timeouts: connect, every reply (command timeout), data transfer and
 *    the final reply (data timeout).
 *
 * The session reports through one callback (enum smtp_client_event). The
 * owner may call smtp_client_destroy() or smtp_client_quit() from inside
 * it; the session is freed outside its own libevent callbacks.
 *
 * Returns: parser functions 1 done / 0 need more / -1 error with a static
 * message in *error_r; session functions 0 / -1.
 */
#ifndef VMAILD_SMTP_CLIENT_H
#define VMAILD_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <openssl/ssl.h>

#include "core/buf.h"

/* ---- replies (smtp-reply.c) ---- */

#define SMTP_REPLY_MAX_LINE  2048
#define SMTP_REPLY_MAX_LINES 100

struct smtp_reply_limits {
	size_t max_line;    /* bytes of one line without CRLF; 0 = SMTP_REPLY_MAX_LINE */
	unsigned max_lines; /* lines of one reply; 0 = SMTP_REPLY_MAX_LINES */
};

struct smtp_reply {
	unsigned code;     /* 200..599 */
	char enhanced[16]; /* "5.1.1" when the first line starts with one of the code's class */
	struct buf text;   /* the lines after "DDD" and the separator, joined by '\n' */
	unsigned nlines;
};

enum smtp_reply_error {
	SMTP_REPLY_ERR_NONE,
	SMTP_REPLY_ERR_SYNTAX,   /* not "DDD", "DDD text" or "DDD-text"; codes differ */
	SMTP_REPLY_ERR_TOO_LONG, /* a line over max_line */
	SMTP_REPLY_ERR_TOO_MANY, /* over max_lines lines */
};

struct smtp_reply_parser {
	struct smtp_reply_limits limits;
	struct smtp_reply reply;     /* the reply being built, complete after a return of 1 */
	struct buf line;             /* a partial line */
	bool complete;               /* reply holds a finished reply (cleared on the next feed) */
	enum smtp_reply_error error; /* sticky */
};

void smtp_reply_parser_init(struct smtp_reply_parser *p, const struct smtp_reply_limits *limits);
void smtp_reply_parser_deinit(struct smtp_reply_parser *p);
/*
 * smtp_reply_parse: feed len bytes. 1: a reply is complete in p->reply
 * (valid until the next call), *used_r bytes of data were consumed and
 * the rest belongs to the next reply. 0: every byte was consumed, more
 * is needed. -1: the stream is broken (the error is sticky).
 */
int smtp_reply_parse(struct smtp_reply_parser *p, const char *data, size_t len, size_t *used_r,
                     const char **error_r);
/* smtp_reply_one_line: text of r with its lines joined by a space and every
 * byte outside printable ASCII replaced by '?', cut at max bytes; for logs,
 * bounce reports and the envelope. "CODE text" with the code first. */
void smtp_reply_one_line(const struct smtp_reply *r, struct buf *out, size_t max);
/* smtp_enhanced_parse: an enhanced status code "c.sss.ddd" at s (class
 * 2, 4 or 5; subject and detail 1 to 3 digits) followed by a space or
 * the end; its length, or 0. */
size_t smtp_enhanced_parse(const char *s, size_t len);

/* ---- data encoding ---- */

struct smtp_data_encoder {
	bool line_start; /* the next byte starts a line */
	bool last_cr;    /* the last byte written was CR */
	uint64_t lines;
};

void smtp_data_encoder_init(struct smtp_data_encoder *e);
/* smtp_data_encode: append the encoded form of n bytes to out. */
void smtp_data_encode(struct smtp_data_encoder *e, const char *in, size_t n, struct buf *out);
/* smtp_data_encode_end: the final line end if needed and ".\r\n". */
void smtp_data_encode_end(struct smtp_data_encoder *e, struct buf *out);

/* ---- one session ---- */

struct event_base;
struct smtp_client;

enum smtp_client_cap {
	SMTP_CAP_PIPELINING = 1 << 0,
	SMTP_CAP_SIZE = 1 << 1,
	SMTP_CAP_8BITMIME = 1 << 2,
	SMTP_CAP_SMTPUTF8 = 1 << 3,
	SMTP_CAP_STARTTLS = 1 << 4,
	SMTP_CAP_ENHANCEDSTATUSCODES = 1 << 5,
};

struct smtp_client_settings {
	const char *helo;         /* our host name for EHLO/HELO */
	const char *server_name;  /* for SNI and logs; NULL or an address literal: no SNI */
	const char *log_id;       /* session id shown in log lines */
	SSL_CTX *tls;             /* NULL: never STARTTLS */
	unsigned connect_timeout; /* seconds */
	unsigned command_timeout;
	unsigned data_timeout;
	struct smtp_reply_limits limits;
};

/* A reply as the owner keeps it: code 0 = none (not sent, or no answer). */
struct smtp_client_reply {
	unsigned code;
	char enhanced[16];
	char *text; /* malloc'd "CODE text" on one line (smtp_reply_one_line) */
};
void smtp_client_reply_clear(struct smtp_client_reply *r);

/* One transaction: filled by the owner, results by the session. */
struct smtp_client_tx {
	const char *sender; /* "" for <> */
	const char *const *rcpts;
	unsigned nrcpts;
	int fd; /* the message file; read from offset to its end, not closed */
	uint64_t offset;
	uint64_t size; /* SIZE= value (the size on the wire) */
	bool eightbit; /* BODY=8BITMIME when offered */
	bool smtputf8; /* SMTPUTF8 on MAIL (the owner checked it is offered) */
	/* results: */
	struct smtp_client_reply mail;
	struct smtp_client_reply *rcpt; /* nrcpts entries, allocated by the owner */
	struct smtp_client_reply data;  /* to DATA when not 354, else to the end of data */
	bool data_sent; /* the final "." went out (a lost answer may mean delivered) */
};

enum smtp_client_event {
	SMTP_CLIENT_READY,   /* greeting, EHLO and TLS done: send a transaction, or quit */
	SMTP_CLIENT_TX_DONE, /* the transaction handed to smtp_client_send() ended: results set */
	SMTP_CLIENT_FAILED,  /* the session is unusable (see smtp_client_failure); a transaction
	                      * in progress did not end: its replies so far are set */
};

typedef void smtp_client_cb(struct smtp_client *c, enum smtp_client_event ev, void *ctx);

/*
 * smtp_client_connect: start a session to sa. The callback gets READY or
 * FAILED later, never from inside this call. settings are copied.
 */
struct smtp_client *smtp_client_connect(struct event_base *base, const struct sockaddr *sa,
                                        socklen_t salen, const struct smtp_client_settings *set,
                                        smtp_client_cb *cb, void *ctx);
/* smtp_client_send: start tx (which must live until TX_DONE or FAILED) on a
 * READY session. -1 when the session is not ready. */
int smtp_client_send(struct smtp_client *c, struct smtp_client_tx *tx);
/* smtp_client_quit: send QUIT, wait briefly for its answer, then free;
 * no callback runs any more. *c = NULL. */
void smtp_client_quit(struct smtp_client **c);
/* smtp_client_destroy: close at once; no callback runs any more. */
void smtp_client_destroy(struct smtp_client **c);
/* smtp_client_reap: free the sessions still waiting for a QUIT answer (at
 * the end of a process, after its event loop stopped). */
void smtp_client_reap(void);
/* smtp_client_tls_ctx: the context for opportunistic STARTTLS: TLS 1.2 or
 * later (the guide's smtp_tls_protocols), no certificate verification.
 * NULL with a static message on failure. */
SSL_CTX *smtp_client_tls_ctx(const char **error_r);

unsigned smtp_client_caps(const struct smtp_client *c);
/* smtp_client_max_size: the server's SIZE value, 0 when none or unlimited. */
uint64_t smtp_client_max_size(const struct smtp_client *c);
/* smtp_client_tls: "TLSv1.3 with cipher ..." when the session is encrypted, else NULL. */
const char *smtp_client_tls(const struct smtp_client *c);

struct smtp_client_failure {
	const char *text; /* "connect to ...: Connection refused", "lost connection ..." */
	const struct smtp_client_reply *reply; /* the reply that ended it, or NULL */
	bool tls;         /* the TLS handshake failed: retry in plain text may work */
	bool established; /* the session had been READY at least once */
};
void smtp_client_failure(const struct smtp_client *c, struct smtp_client_failure *f_r);

#endif
