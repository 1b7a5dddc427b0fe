/*
 * imap-parser - the IMAP server's streaming command parser (RFC 9051
 * sections 2.2.1, 4 and 9, RFC 3501; LITERAL+ / LITERAL- of RFC 7888;
 * literal8 "~{n}" of RFC 3516).
 *
 * Owns: cutting the client's byte stream into commands - tag, command
 * name and a tree of arguments - whatever the chunk boundaries of the
 * input. Pull parser (STYLE.md section 10):
 *
 *	imap_parser_init(&p, &limits);
 *	feed what was read:  imap_parser_feed(&p, data, n);
 *	for (;;) {
 *		int ret = imap_parser_next(&p, &ev, &error);
 *		ret == 0: read more and feed it (or wait for the client)
 *		ret < 0:  reply "<tag> BAD <error>" (tag from
 *		          imap_parser_error_tag(), "*" when NULL); go on
 *		ret > 0:  handle ev (below)
 *	}
 *
 * Events:
 *   IMAP_PARSER_EV_COMMAND       a whole command in ev.cmd; its memory
 *                                lives until the next call on p.
 *   IMAP_PARSER_EV_LITERAL       a literal header {n} {n+} ~{n} ~{n+} at
 *                                the end of a line. Before the next call
 *                                of next() the caller must decide with
 *                                imap_parser_literal_accept() (and for a
 *                                synchronizing literal then send "+ OK")
 *                                or imap_parser_literal_refuse() (and send
 *                                its own tagged NO/BAD).
 *   IMAP_PARSER_EV_LITERAL_DATA  a chunk of a literal accepted with
 *                                stream = true (APPEND's message): data,
 *                                len; last on the final chunk (a zero-size
 *                                literal gives one empty last chunk).
 *   IMAP_PARSER_EV_LINE          a raw line asked for with
 *                                imap_parser_read_line() (AUTHENTICATE
 *                                continuation, IDLE's DONE), without its
 *                                line end.
 *
 * Arguments: atom, quoted string ("\\" and "\"" escapes only), literal,
 * NIL, parenthesised list, and "sectioned" atoms: an atom holding "["
 * (BODY[...], BODY.PEEK[...], BINARY[...]) is split into its prefix, the
 * section's contents parsed as arguments (lists, strings and literals
 * allowed: HEADER.FIELDS (SUBJECT FROM)), and what follows "]"
 * (the partial "<n.m>" decoded, anything else kept as tail). Sequence
 * sets and flags are atoms ("1:*,5", "$", "\Seen"); imap-seqset.h
 * parses the former. Atoms are liberal (any printable ASCII but
 * SP ( ) { " and, inside a section, the closing ]): the command handler
 * checks what it needs. "UID" is folded: name is the sub-command and uid
 * is set. Names are upper-cased. Empty lines are ignored. LF without CR
 * ends a line too; a CR elsewhere is a syntax error.
 *
 * Limits (struct imap_parser_limits, 0 = default; use tighter ones before
 * authentication) and their errors, each a BAD reply text:
 *   max_line     command text without literal data, all lines of the
 *                command together (64 KiB)           "Command line too long"
 *   max_command  text plus buffered literal data (1 MiB) "Command line too long"
 *   max_literal  one buffered literal (64 KiB)         "[TOOBIG] Literal too large"
 *   max_nonsync  largest {n+}; 0 = any (LITERAL+), 4096 for LITERAL-
 *                                                      "[TOOBIG] Literal too large"
 *   max_depth    nesting of lists and sections (20, at most 63)
 *                                                      "Nesting too deep"
 *   max_args     arguments in the whole tree (4096)    "Too many arguments"
 *   syntax                              "Syntax error at position N: what"
 * The line limits are checked as soon as that many bytes are buffered,
 * even without a line end. Streamed literals count against nothing here:
 * the caller checks their size (APPEND: the message size limit).
 *
 * Resync: after an error the parser drops the rest of the command up to
 * the next line end that is not inside a literal; a non-synchronizing
 * literal the client sends anyway ({n+} at the end of a dropped line) is
 * skipped, a synchronizing one is not awaited (the client abandons the
 * command on the BAD).
 *
 * Memory: the parser owns everything it returns; it holds the bytes fed
 * but not yet consumed, the current command's text and buffered literals
 * (bounded by max_command) and its argument nodes (max_args). Feed only
 * after next() returned 0: then what is buffered is at most one partial
 * line. Bytes after a command stay buffered until the next call
 * (imap_parser_pending(): STARTTLS must find none).
 *
 * Pure: no I/O, no logging, no global state.
 */
#ifndef VMAILD_IMAP_IMAP_PARSER_H
#define VMAILD_IMAP_IMAP_PARSER_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAP_PARSER_LINE_MAX_DEFAULT    (64 * 1024)
#define IMAP_PARSER_COMMAND_MAX_DEFAULT (1024 * 1024)
#define IMAP_PARSER_LITERAL_MAX_DEFAULT (64 * 1024)
#define IMAP_PARSER_DEPTH_MAX_DEFAULT   20
#define IMAP_PARSER_ARGS_MAX_DEFAULT    4096
#define IMAP_PARSER_LITERAL_MINUS_MAX   4096 /* RFC 7888 section 4 */

struct imap_parser_limits {
	size_t max_line;
	size_t max_command;
	uint64_t max_literal;
	uint64_t max_nonsync;
	unsigned int max_depth;
	unsigned int max_args;
};

enum imap_parser_error {
	IMAP_PARSER_OK = 0,
	IMAP_PARSER_ERR_TOO_LONG,
	IMAP_PARSER_ERR_SYNTAX,
	IMAP_PARSER_ERR_LITERAL_TOO_LARGE,
	IMAP_PARSER_ERR_NESTING,
	IMAP_PARSER_ERR_TOO_MANY_ARGS,
};

enum imap_arg_type {
	IMAP_ARG_ATOM = 1,
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,
	IMAP_ARG_NIL,
	IMAP_ARG_LIST,
	IMAP_ARG_SECTION,
};

struct imap_arg {
	enum imap_arg_type type;
	/* ATOM, QUOTED, NIL: the text (NIL: as sent); LITERAL: the data
	 * (empty when streamed); SECTION: the prefix before "[" ("BODY.PEEK").
	 * Always NUL-terminated; a literal may hold NUL (has_nul). */
	const char *str;
	size_t len;
	/* LIST, SECTION: the elements (section: what is between [ and ]) */
	const struct imap_arg *list;
	unsigned int count;

	/* LITERAL */
	uint64_t literal_size;
	bool literal_sync;     /* {n} rather than {n+} */
	bool literal_binary;   /* ~{n}: literal8 */
	bool literal_streamed; /* data went out as LITERAL_DATA events */
	bool has_nul;

	/* SECTION: "<start.length>" after "]" */
	bool has_partial;
	uint64_t partial_start, partial_length;
	/* SECTION: other atom characters after "]" (not a partial) */
	const char *tail;
	size_t tail_len;
	/* SECTION: the whole token as sent ("[Gmail]/Sent"), for use as an
	 * astring; NULL when a literal was inside the brackets */
	const char *raw;
	size_t raw_len;
};

struct imap_command {
	const char *tag;
	const char *name; /* upper-case; the sub-command of UID */
	bool uid;
	const struct imap_arg *args; /* NULL on a LITERAL event */
	unsigned int count;
};

enum imap_parser_event_type {
	IMAP_PARSER_EV_COMMAND = 1,
	IMAP_PARSER_EV_LITERAL,
	IMAP_PARSER_EV_LITERAL_DATA,
	IMAP_PARSER_EV_LINE,
};

struct imap_parser_event {
	enum imap_parser_event_type type;
	/* COMMAND: all of it; LITERAL, LITERAL_DATA: tag, name, uid */
	struct imap_command cmd;

	/* LITERAL */
	uint64_t literal_size;
	bool literal_sync, literal_binary;
	bool literal_fits;          /* may be buffered under the limits */
	unsigned int literal_depth; /* open lists / sections around it */
	unsigned int literal_arg;   /* index of the top-level argument */

	/* LITERAL_DATA, LINE */
	const char *data;
	size_t len;
	bool last; /* LITERAL_DATA: the literal's final chunk */
};

enum imap_parser_state {
	IMAP_PARSER_STATE_LINE,      /* reading a line of a command */
	IMAP_PARSER_STATE_LITERAL,   /* literal header out, decision due */
	IMAP_PARSER_STATE_DATA,      /* reading literal data */
	IMAP_PARSER_STATE_RAW,       /* reading a raw line */
	IMAP_PARSER_STATE_SKIP_LINE, /* after an error: to the line end */
	IMAP_PARSER_STATE_SKIP_DATA, /* after an error: a {n+} literal */
};

struct imap_parser_node; /* private, in imap-parser.c */

/* Private: use only through the functions below. */
struct imap_parser {
	struct imap_parser_limits limits;
	enum imap_parser_state state;
	struct buf in; /* bytes fed, from pos on unconsumed */
	size_t pos;
	struct buf text; /* the command's strings, literal data included */
	struct buf err;  /* the last error's reply text */

	/* the command being parsed */
	bool in_command, have_tag, have_name;
	size_t tag_off, name_off;
	bool uid;
	size_t text_used;    /* command text so far, without literal data */
	uint64_t lit_bytes;  /* buffered literal data so far */
	unsigned int lineno; /* lines of this command */
	bool need_sep;       /* a token ended: SP or a closer must follow */

	struct imap_parser_node *nodes;
	unsigned int nnodes, nodes_cap;
	unsigned int ntop;
	unsigned int stack[64]; /* open LIST / SECTION nodes (index + 1) */
	unsigned int depth;
	struct imap_arg *out;
	unsigned int out_cap;

	/* the literal of the last LITERAL event / being read */
	uint64_t lit_size, lit_left;
	bool lit_sync, lit_binary, lit_decided, lit_stream;
	unsigned int lit_node;

	/* skipping */
	bool skip_raw; /* the skipped line is a raw line: no literals */
	char tail[32]; /* last bytes of the skipped line */
	unsigned int tail_len;
	uint64_t skip_left;

	enum imap_parser_error error;
	bool error_tag_set;
	struct buf error_tag;
};

/* imap_parser_init: limits NULL, or members 0, mean the defaults. */
void imap_parser_init(struct imap_parser *p, const struct imap_parser_limits *limits);
void imap_parser_deinit(struct imap_parser *p);

/* imap_parser_set_limits: new limits from the next command on (after
 * login). */
void imap_parser_set_limits(struct imap_parser *p, const struct imap_parser_limits *limits);

/* imap_parser_feed: append input; call when next() returned 0. */
void imap_parser_feed(struct imap_parser *p, const void *data, size_t len);

/*
 * imap_parser_next: 1 with *ev_r, 0 when more input is needed, -1 with
 * the BAD reply text in *error_r (valid until the next call on p); the
 * parser then resyncs by itself, so just call next() again.
 */
int imap_parser_next(struct imap_parser *p, struct imap_parser_event *ev_r, const char **error_r);

/*
 * imap_parser_literal_accept: take the literal of the last LITERAL event.
 * stream = false: its data goes into the argument tree - refused when
 * ev.literal_fits was false: returns false, and next() then reports
 * "literal too large". stream = true: its data comes as LITERAL_DATA
 * events. Returns true when accepted (then send "+ OK" for a
 * synchronizing literal).
 */
bool imap_parser_literal_accept(struct imap_parser *p, bool stream);

/*
 * imap_parser_literal_refuse: drop the command of the last LITERAL event;
 * the caller sends its tagged NO / BAD. A non-synchronizing literal's
 * data is skipped and the rest of the command dropped.
 */
void imap_parser_literal_refuse(struct imap_parser *p);

/*
 * imap_parser_read_line: the next line (between commands only) is to be
 * returned raw as an IMAP_PARSER_EV_LINE event, bounded by max_line.
 */
void imap_parser_read_line(struct imap_parser *p);

/* imap_parser_error: the error of the last -1. */
enum imap_parser_error imap_parser_error(const struct imap_parser *p);

/* imap_parser_error_tag: the tag of the command of the last -1, NULL when
 * it had none that was valid (reply with "*"). */
const char *imap_parser_error_tag(const struct imap_parser *p);

/* imap_parser_pending: bytes fed that no event has consumed yet. */
size_t imap_parser_pending(const struct imap_parser *p);

/* imap_parser_state_name: for logs and tests. */
const char *imap_parser_state_name(enum imap_parser_state state);

/*
 * Argument accessors: true with the value when arg has that form.
 * astring: ATOM, NIL (as "NIL"), QUOTED, LITERAL (not streamed), or a
 * SECTION that has raw text ("[Gmail]/Sent"). string: QUOTED or LITERAL.
 * nstring: string, or NIL (*str_r = NULL).
 */
bool imap_arg_atom(const struct imap_arg *arg, const char **str_r);
bool imap_arg_astring(const struct imap_arg *arg, const char **str_r, size_t *len_r);
bool imap_arg_string(const struct imap_arg *arg, const char **str_r, size_t *len_r);
bool imap_arg_nstring(const struct imap_arg *arg, const char **str_r, size_t *len_r);
bool imap_arg_list(const struct imap_arg *arg, const struct imap_arg **list_r,
                   unsigned int *count_r);
/* imap_arg_atom_equals: an ATOM equal to word, ignoring ASCII case. */
bool imap_arg_atom_equals(const struct imap_arg *arg, const char *word);

#endif
