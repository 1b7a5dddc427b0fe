/*
 * mime - the MIME structure of a message (RFC 2045 sections 5-8, RFC 2046
 * section 5, RFC 2183, RFC 2231, RFC 6532 section 3.5) and RFC 2047
 * encoded words.
 *
 * Owns: turning a whole message, fed in chunks, into the tree of its parts
 * as IMAP's BODYSTRUCTURE, BODY[section] and ENVELOPE need it: for every
 * part the byte offsets of its header and body in the stored data (LF or
 * CRLF line ends, as stored), body line count, the Content-* fields parsed
 * (type and subtype lower-cased, parameters with RFC 2231 continuations
 * joined and charset/language decoded), and for each message (the root
 * and every message/rfc822 or message/global body) the raw ENVELOPE
 * fields. A pull parser (STYLE.md section 10):
 *
 *	struct mime_parser *p = mime_parser_create(NULL);
 *	for (;;) {
 *		int ret = mime_parser_next(p, &ev);
 *		if (ret == 0)  -> mime_parser_feed(p, more, n), or
 *		                  mime_parser_finish(p) at the end of the message
 *		ev.type == MIME_EV_HEADER: ev.part's header field ev.field
 *		ev.type == MIME_EV_END:    the tree is complete: ev.part (root)
 *	}
 *	root = mime_parser_steal(p);  (or leave it to mime_parser_destroy)
 *	mime_parser_destroy(&p);
 *
 * mime_parse() does all of it over one buffer. The tree is the same
 * whatever the chunk boundaries of the input.
 *
 * Structure: a part's header runs from header_offset to body_offset (the
 * empty line included), its body from body_offset to body_end. In a
 * multipart the line end before a boundary line belongs to the boundary
 * (RFC 2046 section 5.1.1), so a part's body_end is before it; preamble
 * and epilogue belong to no child. body_lines counts the LFs in the body,
 * plus one for a last line without line end. *_bare_lf count LFs without
 * CR before them: size + bare LFs = the size with CRLF line ends (IMAP's
 * sizes).
 *
 * Bad input gives a best-effort tree, never an error:
 *  - a boundary line is "--" boundary at the start of a line, whatever
 *    follows ("--" after it closes); boundaries are tried innermost
 *    first, also inside headers (a boundary line ends a header); one at
 *    the very start of the body needs no line end before it;
 *  - a multipart whose boundary never comes, or whose close delimiter
 *    is missing, runs to the end of its parent (MIME_PART_NO_END);
 *  - a multipart without usable boundary parameter (none, empty, over
 *    MIME_BOUNDARY_MAX), a part nested deeper than max_depth, a
 *    message/rfc822 in base64 / quoted-printable, and parts beyond
 *    max_parts are leaves of type text/plain (flags say why);
 *  - a header ends at an empty line, at a line that is no field
 *    (header.h), at a boundary line, at the end of input, or before a
 *    line over max_header_line / at max_header octets (MIME_PART_HEADER_CUT);
 *  - 8-bit bytes in header values are kept as they are (flagged);
 *  - an invalid Content-Type means text/plain (in multipart/digest:
 *    message/rfc822), as RFC 2045 section 5.2 says.
 *
 * Memory: the parser holds at most one partial line (bounded by
 * max_header_line, or a boundary's length in bodies) besides the tree,
 * whose size is bounded by max_parts times max_header. Pure: no I/O, no
 * logging; the charset conversion uses glibc's iconv.
 */
#ifndef VMAILD_MAIL_MIME_H
#define VMAILD_MAIL_MIME_H

#include "core/buf.h"
#include "mail/header.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIME_DEPTH_MAX_DEFAULT       100
#define MIME_PARTS_MAX_DEFAULT       10000
#define MIME_HEADER_LINE_MAX_DEFAULT (64 * 1024)
#define MIME_HEADER_MAX_DEFAULT      (1024 * 1024)
#define MIME_BOUNDARY_MAX            200 /* RFC 2046 says 70; be lenient */
#define MIME_PARAMS_MAX              64  /* parameters kept per field */
#define MIME_PARAM_SECTIONS_MAX      100 /* RFC 2231 continuations per name */

struct mime_limits {
	unsigned int max_depth; /* nesting of parts (root = 0) */
	unsigned int max_parts; /* parts in the tree */
	size_t max_header_line; /* octets of one header line */
	size_t max_header;      /* octets of one part's header */
};

enum mime_part_flags {
	MIME_PART_MULTIPART = 1 << 0,         /* children are the body parts */
	MIME_PART_MESSAGE = 1 << 1,           /* one child: the enclosed message */
	MIME_PART_8BIT_HEADER = 1 << 2,       /* a header byte >= 0x80 */
	MIME_PART_NO_BLANK_LINE = 1 << 3,     /* header not ended by an empty line */
	MIME_PART_HEADER_CUT = 1 << 4,        /* header cut at a limit */
	MIME_PART_NO_END = 1 << 5,            /* multipart: no close delimiter */
	MIME_PART_BAD_BOUNDARY = 1 << 6,      /* multipart without usable boundary */
	MIME_PART_DEPTH_LIMIT = 1 << 7,       /* container nested too deep */
	MIME_PART_ENCODED_MESSAGE = 1 << 8,   /* message/rfc822 in base64 / q-p */
	MIME_PART_PARTS_LIMIT = 1 << 9,       /* container over max_parts */
	MIME_PART_BAD_CONTENT_TYPE = 1 << 10, /* unparsable Content-Type */
};

struct mime_param {
	char *name;     /* lower-case, without the RFC 2231 "*N" / "*" */
	char *value;    /* see encoded */
	char *charset;  /* RFC 2231 charset as sent, NULL without one */
	char *language; /* RFC 2231 language, NULL without one */
	bool extended;  /* came in RFC 2231 form (name* or name*N) */
	/* true: value still holds the RFC 2231 %XX encoding because the
	 * charset is none of utf-8, us-ascii, iso-8859-1 (or the bytes were
	 * not valid in it); false: value is the text (UTF-8 when decoded) */
	bool encoded;
};

struct mime_params {
	struct mime_param *list;
	unsigned int count;
};

/* The fields ENVELOPE needs, unfolded, as sent (first occurrence). */
struct mime_envelope {
	char *date, *subject, *from, *sender, *reply_to;
	char *to, *cc, *bcc, *in_reply_to, *message_id;
};

struct mime_part {
	struct mime_part *parent, *children, *next;
	unsigned int nchildren, depth;
	unsigned int flags; /* enum mime_part_flags */

	uint64_t header_offset, body_offset, body_end;
	uint64_t header_lines, body_lines;
	uint64_t header_bare_lf, body_bare_lf;

	char *type, *subtype;      /* lower-case; never NULL */
	struct mime_params params; /* Content-Type parameters */
	char *encoding;            /* Content-Transfer-Encoding, lower-case */
	char *id;                  /* Content-ID */
	char *description;         /* Content-Description (raw) */
	char *disposition;         /* Content-Disposition type, lower-case */
	struct mime_params disposition_params;
	char *language;                 /* Content-Language (raw list) */
	char *location;                 /* Content-Location */
	char *md5;                      /* Content-MD5 */
	struct mime_envelope *envelope; /* root and message/rfc822 bodies */
};

enum mime_event_type {
	MIME_EV_HEADER = 1,
	MIME_EV_END,
};

struct mime_event {
	enum mime_event_type type;
	struct mime_part *part;           /* HEADER: whose; END: the root */
	const struct header_field *field; /* HEADER: valid until next call */
};

struct mime_parser;

/* mime_parser_create: limits NULL, or members 0, mean the defaults. */
struct mime_parser *mime_parser_create(const struct mime_limits *limits);
/* mime_parser_destroy: frees the tree too unless it was stolen. */
void mime_parser_destroy(struct mime_parser **p);

/* mime_parser_feed: append input; call when next() returned 0. */
void mime_parser_feed(struct mime_parser *p, const void *data, size_t len);
/* mime_parser_finish: the message ends here. */
void mime_parser_finish(struct mime_parser *p);

/* mime_parser_next: 1 with *ev_r, 0 when more input (or finish) is
 * needed. After the END event every call returns it again. */
int mime_parser_next(struct mime_parser *p, struct mime_event *ev_r);

/* mime_parser_steal: after END, the tree becomes the caller's. */
struct mime_part *mime_parser_steal(struct mime_parser *p);

/* mime_parse: the tree of data[0..len) (the caller frees it). */
struct mime_part *mime_parse(const void *data, size_t len, const struct mime_limits *limits);

void mime_part_free(struct mime_part **root);

/* mime_param_get: the value of parameter name (lower-case), or NULL. */
const char *mime_param_get(const struct mime_params *params, const char *name);

/*
 * mime_parse_content_type: parse a Content-Type value ("text/plain;
 * charset=utf-8"): 0 with lower-cased *type_r / *subtype_r (malloc'd) and
 * params (to be freed with mime_params_free), -1 when the value is not
 * type "/" subtype (params then holds what was parsed of nothing).
 * mime_parse_disposition: the same for Content-Disposition (type only).
 */
int mime_parse_content_type(const char *value, size_t len, char **type_r, char **subtype_r,
                            struct mime_params *params);
int mime_parse_disposition(const char *value, size_t len, char **type_r,
                           struct mime_params *params);
void mime_params_free(struct mime_params *params);

/*
 * mime_charset_to_utf8: append data[0..len) in charset converted to
 * UTF-8 (glibc iconv; utf-8 / us-ascii / iso-8859-1 without it). Bytes
 * not valid in the charset become U+FFFD. -1 (nothing appended) when the
 * charset is unknown.
 */
int mime_charset_to_utf8(const char *charset, const void *data, size_t len, struct buf *out);

/*
 * mime_decode_words: append the header value in[0..len) with its RFC 2047
 * encoded words ("=?charset?Q?...?=", "=?charset*lang?B?...?=") decoded
 * to UTF-8; white space between adjacent encoded words is dropped, words
 * of one charset in a row are converted together (a character may be
 * split between them). A word that is not well-formed or whose charset is
 * unknown is kept as it is; other text is copied unchanged.
 */
void mime_decode_words(const char *in, size_t len, struct buf *out);

#endif
