/*
 * header - pull parser for the header section of a message (RFC 5322).
 *
 * Owns: cutting a byte stream into header fields and finding where the
 * body starts. A streaming filter (STYLE.md section 10):
 *
 *	header_parser_init(&p, NULL);
 *	for (;;) {
 *		int ret = header_parser_next(&p, &f, &error);
 *		if (ret < 0)       -> reject with error
 *		if (ret == 0)      -> header_parser_feed(&p, more, n) or
 *		                      header_parser_finish(&p) at end of input
 *		if (ret > 0 && f.eoh) -> body starts at f.body_offset; the bytes
 *		                      already fed beyond it: header_parser_body()
 *		else               -> use f.name / f.value / f.raw
 *	}
 *	header_parser_deinit(&p);
 *
 * The output is the same whatever the chunk boundaries of the input.
 *
 * Tolerated: LF-only line ends (and a mix), white space between the field
 * name and the colon (obs-syntax, flagged), 8-bit bytes and NUL in values,
 * CR not followed by LF (kept as data). Unfolding removes the line ends of
 * continuation lines and nothing else (RFC 5322 section 2.2.3); the raw
 * field keeps every byte as received, line ends included.
 *
 * The header ends at the first empty line (the body starts after it), at
 * the end of the input, or - as Postfix's cleanup does - at the first line
 * that is neither a field nor a continuation (no name, no colon, or a
 * continuation before any field): the body starts at that line and the
 * end event says no_blank_line.
 *
 * Limits (struct header_limits, 0 = default) and their distinct errors:
 * one physical line longer than max_line octets without its line end
 * (default 998, RFC 5322 section 2.1.1) -> HEADER_ERR_LINE_TOO_LONG, found
 * as soon as that many bytes are buffered even without a line end; an
 * unfolded value over max_field octets (default 64 KiB) ->
 * HEADER_ERR_FIELD_TOO_LARGE; more than max_fields fields (default 1000)
 * -> HEADER_ERR_TOO_MANY_FIELDS. Errors are final. A line is measured
 * before it is classified, so an over-long line that would have ended the
 * header without an empty line is a line-length error too.
 *
 * Memory: the parser holds the bytes fed but not yet consumed (at most
 * one partial line once next() has returned 0) and the current field.
 * Pointers in a struct header_field stay valid until the next call of
 * header_parser_next(), _feed(), _finish() or _deinit().
 */
#ifndef VMAILD_MAIL_HEADER_H
#define VMAILD_MAIL_HEADER_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEADER_LINE_MAX_DEFAULT   998
#define HEADER_FIELD_MAX_DEFAULT  (64 * 1024)
#define HEADER_FIELDS_MAX_DEFAULT 1000

struct header_limits {
	size_t max_line;         /* octets per line, without CRLF / LF */
	size_t max_field;        /* octets of an unfolded value */
	unsigned int max_fields; /* fields per header */
};

enum header_error {
	HEADER_OK = 0,
	HEADER_ERR_LINE_TOO_LONG,
	HEADER_ERR_FIELD_TOO_LARGE,
	HEADER_ERR_TOO_MANY_FIELDS,
};

struct header_field {
	/* true: the end-of-header event; only the body_* members are set */
	bool eoh;
	/* field name, NUL-terminated, printable ASCII without ':' */
	const char *name;
	size_t name_len;
	/* unfolded value: leading white space removed, line ends of the
	 * folds removed; NUL-terminated but may contain NUL */
	const char *value;
	size_t value_len;
	/* the field exactly as received: every line and its line end */
	const char *raw;
	size_t raw_len;
	uint64_t offset; /* stream offset of the field's first byte */
	bool obs_space;  /* white space between name and colon */
	/* eoh: offset of the first body byte; no_blank_line when the header
	 * did not end with an empty line */
	uint64_t body_offset;
	bool no_blank_line;
};

/* Private: use only through the functions below. */
struct header_parser {
	struct header_limits limits;
	struct buf in;      /* bytes fed, from in_offset on */
	size_t pos;         /* first unconsumed byte of in */
	uint64_t in_offset; /* stream offset of in.data[0] */
	struct buf name, value, raw;
	uint64_t field_offset;
	unsigned int nfields;
	bool field_open, field_emitted, obs_space;
	bool eof, ended, no_blank_line;
	uint64_t body_offset;
	enum header_error error;
};

/* header_parser_init: limits NULL, or members 0, mean the defaults. */
void header_parser_init(struct header_parser *p, const struct header_limits *limits);
void header_parser_deinit(struct header_parser *p);

/* header_parser_feed: append input. Call when next() returned 0. */
void header_parser_feed(struct header_parser *p, const void *data, size_t len);

/* header_parser_finish: no more input will come. */
void header_parser_finish(struct header_parser *p);

/*
 * header_parser_next: 1 with *field_r (a field, or the end event, which
 * is then returned by every further call), 0 when more input (or
 * finish()) is needed, -1 with a static message in *error_r.
 */
int header_parser_next(struct header_parser *p, struct header_field *field_r, const char **error_r);

/* header_parser_error: the error of the last -1 (HEADER_OK if none). */
enum header_error header_parser_error(const struct header_parser *p);

/*
 * header_parser_body: after the end event, the bytes fed that follow the
 * header (the start of the body) - valid until the next call on p.
 */
void header_parser_body(const struct header_parser *p, const char **data_r, size_t *len_r);

#endif
