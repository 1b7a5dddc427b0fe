/*
 * imap-private.h - what the files of the IMAP server share; nothing
 * outside src/imap/ includes it.
 *
 * Shape. A session (struct imap_session) reads bytes from its
 * bufferevent into its imap_parser and dispatches each whole command
 * through imap_commands[] (imap-session.c): a row names the command,
 * the states it is valid in and its handler. The session checks the
 * state (BAD otherwise) and calls the handler with the command.
 *
 * Handlers return 1 (done: the tagged reply was written) or 0 (pending:
 * an asynchronous step runs - a pool job, a lookup, a timer - and the
 * handler's continuation calls imap_cmd_done() after writing the tagged
 * reply). While a command is pending nothing more is parsed (commands
 * are answered in order), except raw lines when s->line_cb is set
 * (AUTHENTICATE's continuation, later IDLE's DONE).
 *
 * Output. imap_untagged(s, fmt, ...) writes "* <text>\r\n",
 * imap_tagged(s, "OK", fmt, ...) writes "<tag> OK <text>\r\n" for the
 * running command, imap_write() raw bytes (literals), imap_printf()
 * raw text. imap_quote() appends an astring/mailbox name to a buf in
 * the right form (atom-safe quoted string, or literal). While more than
 * IMAP_OUTPUT_HIGH bytes wait unsent, reading stops; a producer of big
 * output (FETCH) checks imap_output_full() and sets s->drain_cb, which
 * is called once the output fell below IMAP_OUTPUT_LOW.
 *
 * Pool jobs: imap_job_begin(s) before pool_submit(); in the done
 * callback `if (!imap_job_end(s)) { free the job; return; }` - false
 * means the client left and s is gone.
 */
#ifndef VMAILD_IMAP_PRIVATE_H
#define VMAILD_IMAP_PRIVATE_H

#include "imap/imap-server.h"
#include "imap/imap-parser.h"
#include "core/buf.h"
#include "core/id.h"
#include "store/store.h"

#include <event2/event.h>
#include <stdint.h>

#define IMAP_OUTPUT_HIGH      (256 * 1024) /* stop reading / producing above this */
#define IMAP_OUTPUT_LOW       (64 * 1024)  /* drain_cb below this */
#define IMAP_MAX_BAD_COMMANDS 20           /* BAD replies in a row before BYE */
#define IMAP_LIST_MAX         10000        /* mailboxes one LIST walks at most */
#define IMAP_SEP              '/'          /* the hierarchy separator (guide: namespace inbox) */
#define IMAP_QUOTA_ROOT       "User quota"

enum imap_state {
	IMAP_STATE_NOT_AUTH,
	IMAP_STATE_AUTH,
	IMAP_STATE_SELECTED,
	IMAP_STATE_LOGOUT,
};
#define IMAP_ST(st)      (1u << (st))
#define IMAP_ST_NOT_AUTH IMAP_ST(IMAP_STATE_NOT_AUTH)
#define IMAP_ST_AUTH     (IMAP_ST(IMAP_STATE_AUTH) | IMAP_ST(IMAP_STATE_SELECTED))
#define IMAP_ST_SELECTED IMAP_ST(IMAP_STATE_SELECTED)
#define IMAP_ST_ANY      (IMAP_ST_NOT_AUTH | IMAP_ST_AUTH)

/* ENABLE-able extensions (RFC 5161): bits of s->enabled. */
enum imap_ext {
	IMAP_EXT_CONDSTORE = 1u << 0,
	IMAP_EXT_QRESYNC = 1u << 1,
	IMAP_EXT_IMAP4REV2 = 1u << 2,
	IMAP_EXT_UTF8_ACCEPT = 1u << 3,
};

/* Command flags. IMAP_CMD_POOL documents that the handler runs a pool
 * job (returns 0, the job's done callback replies and calls
 * imap_cmd_done()); IMAP_CMD_UID: "UID <name>" is valid too (the
 * handler sees cmd->uid); without it "UID <name>" is BAD. */
#define IMAP_CMD_POOL (1u << 0)
#define IMAP_CMD_UID  (1u << 1)

struct imap_session;

struct imap_command_def {
	const char *name; /* upper case, as the parser gives it */
	unsigned states;  /* IMAP_ST_* bits it is valid in */
	unsigned flags;   /* IMAP_CMD_* */
	/* 1 done (tagged reply written), 0 pending (imap_cmd_done() later) */
	int (*handler)(struct imap_session *s, const struct imap_command *cmd);
};

struct imap_server {
	struct imap_server_env env;
	const struct config *cfg;
	struct imap_session *sessions;
	unsigned nsessions;
	bool shutting_down;
};

struct imap_session {
	struct imap_session *prev, *next;
	struct imap_server *srv;
	enum imap_service service;
	char sid[ID_LEN];
	struct bufferevent *bev;
	enum imap_state state;
	bool closing;           /* last output being flushed, then freed */
	struct event *close_ev; /* frees the session on the next loop turn */
	struct sockaddr_storage peer;
	char client_ip[64];
	bool loopback; /* the client is on 127.0.0.0/8 or ::1 */
	bool tls;
	bool compressed;	/* COMPRESS=DEFLATE is active (RFC 4978) */
	bool conn_counted; /* counted in conn_limit (per IP) */
	char *userip_key;  /* counted per user+IP, or NULL */

	struct imap_parser parser;
	bool parser_limits_auth; /* the post-login limits are in force */

	/* the running command */
	char *tag; /* its tag (malloc'd) while it runs */
	const struct imap_command_def *cmd;
	bool busy; /* pending: parse nothing */
	/* set while a raw line is awaited (AUTHENTICATE, IDLE) */
	void (*line_cb)(struct imap_session *s, const char *line, size_t len);
	/* set by a producer waiting for the output to drain (FETCH) */
	void (*drain_cb)(struct imap_session *s);
	void *cmd_ctx; /* the running command's own state */
	unsigned jobs; /* pool jobs running for this session */
	bool gone;     /* freed while jobs ran: the last job frees */
	bool in_input; /* session_input() is running */
	unsigned bad_in_row;
	unsigned ncommands;
	uint64_t bytes_in, bytes_out;

	/* authentication */
	char *user;              /* canonical address once logged in */
	struct store_user store; /* its Maildir locations (valid when user != NULL) */
	unsigned quota_mb;       /* accounts.quota, 0 = unlimited */
	int auth_step;           /* imap-cmd-auth.c */
	char *auth_login;        /* LOGIN mechanism: the name between the steps */
	char *auth_try;          /* the name being checked */
	uint32_t lookup_id;
	struct event *auth_timer; /* delayed failure answer */

	unsigned enabled;  /* enum imap_ext bits (ENABLE) */
	bool shutdown_bye; /* the server is stopping: BYE after this command */

	/* selected state: for SELECT/EXAMINE (later) */
	char *selected_name; /* mUTF-7 name, NULL when not selected */
	bool selected_readonly;
	struct imap_selected *selected; /* NULL when not selected */
};

/*
 * The selected mailbox (imap-selected.c). Ownership: s->selected->mb (the
 * store's view, store/mbox.h) is used by at most one thread at a time:
 * by this session's pool job while one runs (s->jobs > 0), else by the
 * loop. A command that reads or changes the mailbox does its mbox_*
 * calls in its pool job and writes its output in the done callback.
 */
struct mbox;
struct mbox_msg;
struct imap_seqset;
struct fswatch_sub;
struct imap_selected {
	struct mbox *mb;
	bool readonly;             /* EXAMINE */
	bool condstore;            /* CONDSTORE in effect (ENABLE, or a MODSEQ-using command) */
	bool qresync;              /* QRESYNC enabled: VANISHED instead of EXPUNGE */
	struct imap_seqset *saved; /* SEARCHRES "$" (RFC 5182): UIDs, or NULL */
	struct fswatch_sub *watch_new, *watch_cur; /* IDLE */
	bool idling;
};

/*
 * imap_resolve_set (loop or job): the message set argument of a command
 * (a sequence set, or with uid a UID set, or "$") as ascending sequence
 * numbers of the current view; numbers beyond the view are an error for
 * sequence sets (BAD text in *error_r) and ignored for UID sets.
 * Messages already marked expunged are included (the caller skips them
 * where the RFC says so). *seqs_r malloc'd (NULL when *n_r is 0).
 */
int imap_resolve_set(struct imap_session *s, const struct imap_arg *arg, bool uid,
                     uint32_t **seqs_r, unsigned *n_r, const char **error_r);
/*
 * imap_send_updates (loop, no job running): the untagged responses for
 * what mbox_sync() found: EXPUNGE (or VANISHED with QRESYNC) only when
 * allow_expunge (not during FETCH, STORE and SEARCH without UID, RFC 3501
 * section 7.4.1), EXISTS, RECENT, and FETCH (FLAGS ...) (with MODSEQ when
 * condstore) of messages changed by others.
 */
void imap_send_updates(struct imap_session *s, bool allow_expunge);
/* imap_flags_format: "(\\Seen \\Flagged kw...)" of a message into b */
void imap_flags_format(const struct imap_session *s, const struct mbox_msg *m, struct buf *b);

/* imap-session.c */
extern const struct imap_command_def imap_commands[];
const char *imap_state_name(enum imap_state st);
void imap_enter_state(struct imap_session *s, enum imap_state st);
void imap_write(struct imap_session *s, const void *data, size_t len);
void imap_printf(struct imap_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void imap_untagged(struct imap_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* imap_tagged: "<tag> <status> <text>" for the running command. */
void imap_tagged(struct imap_session *s, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* imap_cmd_done: the pending command has written its tagged reply: go on. */
void imap_cmd_done(struct imap_session *s);
/* imap_close: "* BYE" already written (or not needed): flush and free. */
void imap_close(struct imap_session *s);
bool imap_output_full(const struct imap_session *s);
void imap_job_begin(struct imap_session *s);
bool imap_job_end(struct imap_session *s);
/* imap_capability: the capability list for the session's state into b. */
void imap_capability(const struct imap_session *s, struct buf *b);
/* imap_plaintext_allowed: LOGIN / AUTHENTICATE may be used now. */
bool imap_plaintext_allowed(const struct imap_session *s);
/* imap_quote: s as an IMAP astring/string: quoted when it can be, else
 * a literal ({n}\r\n...). */
void imap_quote(struct buf *b, const char *s, size_t len);
/* imap_session_parser_auth: the post-login parser limits from now on */
void imap_session_parser_auth(struct imap_session *s);
/* imap_session_start_tls: put TLS under the session (after the OK of
 * STARTTLS was written). 0 / -1. */
int imap_session_start_tls(struct imap_session *s);
/* imap_session_start_compress: put DEFLATE under the session (after the
 * OK of COMPRESS was written). 0 / -1. */
int imap_session_start_compress(struct imap_session *s);
/* imap_folder_create (pool thread): create folder name (mUTF-7, checked)
 * below root with cur/ new/ tmp/ and maildirfolder; 1 created, 0 it
 * existed (selectable) already, -1 error. */
int imap_folder_create(const char *root, const char *name, const char **error_r);

/* imap-cmd-*.c */
int imap_cmd_capability(struct imap_session *s, const struct imap_command *cmd);
int imap_cmd_noop(struct imap_session *s, const struct imap_command *cmd);
int imap_cmd_logout(struct imap_session *s, const struct imap_command *cmd);
int imap_cmd_id(struct imap_session *s, const struct imap_command *cmd);
int imap_cmd_enable(struct imap_session *s, const struct imap_command *cmd);
int imap_cmd_namespace(struct imap_session *s, const struct imap_command *cmd);
int imap_cmd_starttls(struct imap_session *s, const struct imap_command *cmd);
int imap_cmd_login(struct imap_session *s, const struct imap_command *cmd);
int imap_cmd_authenticate(struct imap_session *s, const struct imap_command *cmd);
void imap_auth_cancel(struct imap_session *s);
int imap_cmd_list(struct imap_session *s, const struct imap_command *cmd);
int imap_cmd_lsub(struct imap_session *s, const struct imap_command *cmd);
int imap_cmd_create(struct imap_session *s, const struct imap_command *cmd);
int imap_cmd_delete(struct imap_session *s, const struct imap_command *cmd);
int imap_cmd_rename(struct imap_session *s, const struct imap_command *cmd);
int imap_cmd_subscribe(struct imap_session *s, const struct imap_command *cmd);
int imap_cmd_unsubscribe(struct imap_session *s, const struct imap_command *cmd);
int imap_cmd_getquotaroot(struct imap_session *s, const struct imap_command *cmd);
int imap_cmd_getquota(struct imap_session *s, const struct imap_command *cmd);
int imap_cmd_compress(struct imap_session *s, const struct imap_command *cmd);

/* imap-mailbox-name: checks a mailbox name from the wire. Returns the
 * name to use (INBOX normalised to "INBOX", a trailing separator
 * removed) malloc'd, or NULL with *error_r the text of a NO reply. */
char *imap_mailbox_name(const struct imap_session *s, const char *name, size_t len,
                        const char **error_r);
/* imap_special_use: "\Junk" etc. for a top-level name, or NULL. */
const char *imap_special_use(const char *name);

#endif
