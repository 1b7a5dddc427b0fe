/*
 * smtp-private.h - what the files of the SMTP server share; nothing
 * outside src/smtp/ includes it.
 *
 * A session is driven by its input: session_input() takes complete lines
 * (or message data in the DATA and BDAT states) and hands each command
 * to its cmd_*() handler. A handler either answers at once or starts
 * something asynchronous (a lookup, a DNS query, a delivery job) and
 * sets s->busy; no further input is read until session_resume(). Every
 * state change goes through session_enter_state(), which logs it at
 * debug level.
 */
#ifndef VMAILD_SMTP_PRIVATE_H
#define VMAILD_SMTP_PRIVATE_H

#include "smtp/smtp-server.h"
#include "smtp/smtp-command.h"
#include "core/buf.h"
#include "core/cidr.h"
#include "core/id.h"
#include "directory/lookup.h"

#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>

#define SMTP_MAX_ALIAS_DEPTH 8	  /* alias -> alias -> ... before a loop is assumed */
#define SMTP_OUTPUT_CAP	     (256 * 1024) /* stop reading while more is unsent */

enum smtp_state {
	SMTP_STATE_GREETING, /* connected, greeting not sent yet */
	SMTP_STATE_READY,    /* between transactions */
	SMTP_STATE_MAIL,     /* MAIL accepted */
	SMTP_STATE_RCPT,     /* at least one RCPT accepted */
	SMTP_STATE_DATA,     /* reading the DATA body */
	SMTP_STATE_BDAT,     /* reading a BDAT chunk */
	SMTP_STATE_BDAT_WAIT,/* between BDAT chunks */
	SMTP_STATE_DELIVER,  /* message complete, delivery running */
	SMTP_STATE_CLOSING,  /* last reply being flushed */
};

/* One accepted recipient: what the client said and where it goes. */
struct smtp_rcpt {
	char *address; /* as the client wrote it, canonical (lower-case) */
	unsigned first_target, ntargets; /* in transaction targets[] */
};

/* One final destination: a local mailbox or a remote address. */
struct smtp_target {
	char *address;	   /* canonical: account address, or remote address */
	bool remote;
	unsigned quota_mb; /* local */
	unsigned rcpt;	   /* index of the recipient that led here */
};

struct smtp_transaction {
	char qid[ID_LEN];
	char *sender; /* canonical, "" for <> */
	char *sender_wire; /* as it goes into Return-Path */
	uint64_t size_param;
	bool smtputf8;
	bool body_8bit;
	struct smtp_rcpt *rcpts;
	unsigned nrcpts;
	struct smtp_target *targets;
	unsigned ntargets;
	unsigned nlocal, nremote;

	/* the message */
	char *spool_path;
	FILE *spool;
	uint64_t prefix_len; /* bytes of local-delivery fields (Return-Path...) */
	bool clean_headers;  /* submission: the guide's submission_header_cleanup */
	bool seen_message_id, seen_date;
	bool dropping_field; /* the current header field is being removed */
	struct buf hline;    /* submission: the header line being collected */
	char *msgid_host;    /* host name for an added Message-ID */
	uint64_t head_len;   /* bytes of all our header fields (with Received:) */
	uint64_t msg_size;   /* bytes of the message as stored (LF line ends) */
	bool too_big;
	bool write_error;
	int write_errno;
	unsigned hops;	     /* Received: fields seen */
	bool in_header;	     /* still in the header section */
	bool line_start;     /* at the start of a line */
	bool header_line_received; /* current header line starts "Received:" */
	unsigned line_pos;   /* bytes into the current line, capped */
	char line_head[10];  /* first bytes of the current line */
	bool bdat;	     /* CHUNKING used */
	uint64_t bdat_left;  /* bytes of the current chunk still to read */
	bool bdat_last;
	bool cr_pending;     /* BDAT: a CR ended the last chunk */
	/* DATA dot state */
	int data_state;
};

struct smtp_server {
	struct smtp_server_env env;
	const struct config *cfg;
	struct cidr *mynetworks;
	unsigned nmynetworks;
	struct cidr *without_ptr;
	unsigned nwithout_ptr;
	struct smtp_session *sessions;
	unsigned nsessions;
	bool shutting_down;
	char *spool_dir;
	struct ipc_conn *queue; /* to the queue process, opened when needed */
};

struct smtp_session {
	struct smtp_session *prev, *next;
	struct smtp_server *srv;
	enum smtp_service service;
	char sid[ID_LEN];
	struct bufferevent *bev;
	enum smtp_state state;
	struct sockaddr_storage peer, local;
	char client_ip[64];
	char client_name[256]; /* verified PTR name, or "unknown" */
	bool client_name_temp;  /* lookup failed temporarily */
	bool client_name_checked;
	bool mynetworks;
	bool conn_counted;

	char *helo; /* as sent */
	bool esmtp;
	bool helo_checked; /* DNS check done for helo */
	int helo_dns;	   /* 1 found, 0 not found, -1 temporary failure */

	bool tls;
	char tls_desc[160];

	/* submission: SASL */
	char *auth_user;	 /* the authenticated login (canonical), or NULL */
	int auth_step;		 /* enum auth_step: waiting for a SASL response line */
	char *auth_login;	 /* LOGIN: the user name between the two steps */
	struct event *auth_timer; /* the delayed answer of a failed AUTH */
	char *auth_failed_user; /* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" */

	bool busy; /* an asynchronous step is running: read nothing */
	bool quit;
	unsigned errors;
	unsigned messages;
	uint32_t lookup_id;
	struct dns_query *dnsq;
	bool discarding_line; /* an overlong line is being skipped */
	unsigned cmd_counts[16]; /* per enum smtp_verb, for the disconnect line */
	unsigned ncommands;

	struct smtp_transaction *tx;
	struct event *timer; /* greet pause */
	struct smtp_transaction *pending_tx; /* MAIL waiting for the sender-login check */
	struct event *close_ev; /* frees the session once TLS output is flushed */
	const char *cur_line; /* the command being dispatched */
	size_t cur_len;
	char *held_line; /* an RCPT waiting for the HELO name's DNS check */
	unsigned jobs;	 /* pool jobs running for this session */

	/* RCPT in progress */
	struct {
		char *address; /* canonical */
		char **pending; /* addresses still to resolve (alias expansion) */
		unsigned npending;
		unsigned depth;
		unsigned ntargets_before;
		bool found_local;
		unsigned quota_checks;
	} rq;
};

/* smtp-session.c */
void session_enter_state(struct smtp_session *s, enum smtp_state st);
void session_reply(struct smtp_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* session_reject: a 4xx/5xx reply that counts as an error; logged with
 * the command that caused it. */
void session_reject(struct smtp_session *s, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void session_resume(struct smtp_session *s);
/* session_redispatch: run a command line again (a held RCPT). */
void session_redispatch(struct smtp_session *s, const char *line, size_t len);
/* session_job_begin / _end: bracket a pool job that holds s. _end
 * returns false when the session was freed (its client left): the caller
 * must not touch s then. */
void session_job_begin(struct smtp_session *s);
bool session_job_end(struct smtp_session *s);
void session_close(struct smtp_session *s);
void session_tx_reset(struct smtp_session *s);
const char *session_state_name(enum smtp_state st);

/* cmd-*.c */
void cmd_helo(struct smtp_session *s, const struct smtp_command *c);
void cmd_mail(struct smtp_session *s, const struct smtp_command *c);
void cmd_rcpt(struct smtp_session *s, const struct smtp_command *c);
void cmd_data(struct smtp_session *s, const struct smtp_command *c);
void cmd_bdat(struct smtp_session *s, const struct smtp_command *c);
void cmd_rset(struct smtp_session *s, const struct smtp_command *c);
void cmd_noop(struct smtp_session *s, const struct smtp_command *c);
void cmd_quit(struct smtp_session *s, const struct smtp_command *c);
void cmd_vrfy(struct smtp_session *s, const struct smtp_command *c);
void cmd_help(struct smtp_session *s, const struct smtp_command *c);
void cmd_starttls(struct smtp_session *s, const struct smtp_command *c);
void cmd_auth(struct smtp_session *s, const struct smtp_command *c);
/* cmd-auth.c: a line while a SASL exchange waits for the client */
void auth_response(struct smtp_session *s, const char *line, size_t len);
void auth_cancel(struct smtp_session *s);
bool session_is_submission(const struct smtp_session *s);
/* cmd-data.c: consume message data from the input; returns false when it
 * needs more input. */
bool data_consume(struct smtp_session *s);
bool bdat_consume(struct smtp_session *s);

/* smtp-restrict.c */
int restrict_load_list(const char *path, struct cidr **list_r, unsigned *n_r, char **error_r);
/* restrict_client_start: PTR lookup before the greeting; calls
 * session_resume() when done. false when nothing was started. */
bool restrict_client_start(struct smtp_session *s);
/* restrict_helo_start: DNS check of the HELO name; false when nothing started */
bool restrict_helo_start(struct smtp_session *s);
/* restrict_rcpt_client: the client and HELO restrictions, delayed to RCPT
 * as Postfix's smtpd_delay_reject does. true when a reply was sent. */
bool restrict_rcpt_client(struct smtp_session *s);
void restrict_cancel(struct smtp_session *s);

/* smtp-data.c: scan DATA bytes [p, p+n) from *state (SMTP_DATA_START at
 * the start of the data): unstuffed, LF line ends, appended to out.
 * Returns the bytes used; *end_r when <CRLF>.<CRLF> was seen (then the
 * bytes after it were not used). Only <CRLF>.<CRLF> ends the data. */
#define SMTP_DATA_START 0
size_t smtp_data_scan(int *state, const unsigned char *p, size_t n, struct buf *out, bool *end_r);

/* smtp-deliver.c */
int deliver_open_spool(struct smtp_session *s);
/* deliver_start: the message is complete: deliver, then reply. */
void deliver_start(struct smtp_session *s);
void deliver_discard(struct smtp_transaction *tx);
/* spool_write: append message bytes (already unstuffed, LF line ends) */
void spool_write(struct smtp_transaction *tx, const char *data, size_t n, uint64_t limit);
/* spool_finish: the data ended: flush what the header filter holds. */
void spool_finish(struct smtp_session *s, uint64_t limit);

#endif
