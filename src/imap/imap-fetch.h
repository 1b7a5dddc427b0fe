/*
 * imap-fetch - the FETCH command's attributes (RFC 9051 section 6.4.5,
 * RFC 3501 section 6.4.5, BINARY of RFC 3516, CONDSTORE / QRESYNC of
 * RFC 7162, SAVEDATE of RFC 8514, OBJECTID of RFC 8474) and the
 * rendering of every message-derived item from the raw message bytes.
 *
 * Owns:
 *  - imap_fetch_parse(): the argument tree of a FETCH (after the sequence
 *    set) into a struct imap_fetch_request: an ordered item list (macros
 *    ALL / FAST / FULL expanded), sections with part numbers, HEADER,
 *    HEADER.FIELDS[.NOT] (list), TEXT, MIME and <partial>, plus the
 *    modifiers CHANGEDSINCE n and VANISHED. Errors are BAD reply texts.
 *  - renderers producing self-contained response strings from the
 *    message bytes msg[0..len) and the tree mime_parse() made of them:
 *    ENVELOPE, BODY, BODYSTRUCTURE (the mailbox engine can cache these
 *    strings), RFC822.SIZE, BODY[section]<partial>, BINARY[...] and
 *    BINARY.SIZE[...], RFC822 / RFC822.HEADER / RFC822.TEXT.
 *  - IMAP string output helpers (quoted, literal, literal8, NIL).
 *
 * Form of the output: as Dovecot 2.3 prints it (tests/integration/
 * test_imap_fetch_dovecot.py compares the two; docs/imap-fetch.md lists
 * the deliberate differences). Sizes and section bytes are those of the
 * message with CRLF line ends: a bare LF in the stored data counts and is
 * sent as CRLF (Dovecot's "virtual size"), so RFC822.SIZE, the sizes in
 * BODYSTRUCTURE and the bytes of BODY[] agree whatever the file holds.
 * Content-* values in BODY / BODYSTRUCTURE are as sent (case kept, RFC
 * 2231 parameters joined but left encoded, as Dovecot does); ENVELOPE
 * strings are as sent (RFC 2047 words left encoded).
 *
 * Return convention: 0 / -1 with a static or request-owned *error_r.
 * Pure: no I/O, no logging, no global state.
 */
#ifndef VMAILD_IMAP_IMAP_FETCH_H
#define VMAILD_IMAP_IMAP_FETCH_H

#include "core/buf.h"
#include "imap/imap-parser.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mime_part;

#define IMAP_FETCH_PART_DEPTH_MAX 32 /* numbers in "1.2.3" */
#define IMAP_FETCH_FIELDS_MAX     256
#define IMAP_FETCH_ITEMS_MAX      256

enum imap_fetch_item_type {
	IMAP_FETCH_FLAGS = 1,
	IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_UID,
	IMAP_FETCH_MODSEQ,
	IMAP_FETCH_SAVEDATE,
	IMAP_FETCH_EMAILID,
	IMAP_FETCH_THREADID,
	/* derived from the message (imap_fetch_render_item) */
	IMAP_FETCH_ENVELOPE,
	IMAP_FETCH_BODY, /* non-extensible BODYSTRUCTURE */
	IMAP_FETCH_BODYSTRUCTURE,
	IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_RFC822,        /* = BODY[] (sets \Seen) */
	IMAP_FETCH_RFC822_HEADER, /* = BODY.PEEK[HEADER] */
	IMAP_FETCH_RFC822_TEXT,   /* = BODY[TEXT] (sets \Seen) */
	IMAP_FETCH_BODY_SECTION,  /* BODY[...], BODY.PEEK[...] */
	IMAP_FETCH_BINARY,        /* BINARY[...], BINARY.PEEK[...] */
	IMAP_FETCH_BINARY_SIZE,   /* BINARY.SIZE[...] */
};

enum imap_fetch_section_kind {
	IMAP_SECTION_ALL = 0, /* "" or a bare part number */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME, /* only after a part number */
};

struct imap_fetch_section {
	unsigned int part[IMAP_FETCH_PART_DEPTH_MAX]; /* 1-based numbers */
	unsigned int npart;
	enum imap_fetch_section_kind kind;
	char **fields; /* HEADER.FIELDS[.NOT]: upper-cased names */
	unsigned int nfields;
	bool has_partial;
	uint64_t partial_start, partial_length;
};

struct imap_fetch_item {
	enum imap_fetch_item_type type;
	bool peek;                         /* BODY.PEEK / BINARY.PEEK */
	struct imap_fetch_section section; /* BODY_SECTION, BINARY(_SIZE) */
};

struct imap_fetch_request {
	struct imap_fetch_item *items; /* in the order asked */
	unsigned int count;
	unsigned int types; /* bit (1 << type) for every type present */
	bool sets_seen;     /* RFC822, RFC822.TEXT, BODY[..], BINARY[..] */
	bool changedsince;  /* modifier CHANGEDSINCE given */
	uint64_t changedsince_modseq;
	bool vanished; /* modifier VANISHED (UID FETCH only, RFC 7162) */
};

/*
 * imap_fetch_parse: args[0..count) are the FETCH arguments after the
 * sequence set: one attribute (atom or section) or a list of them, then
 * optionally the modifier list "(CHANGEDSINCE n [VANISHED])". CHANGEDSINCE
 * adds MODSEQ to the items (RFC 7162 section 3.1.4.1). VANISHED needs
 * CHANGEDSINCE and is_uid (the caller checks QRESYNC is enabled).
 * 0 with *req_r filled (free with imap_fetch_request_free), or -1 with a
 * static BAD reply text in *error_r.
 */
int imap_fetch_parse(const struct imap_arg *args, unsigned int count, bool is_uid,
                     struct imap_fetch_request *req_r, const char **error_r);
void imap_fetch_request_free(struct imap_fetch_request *req);

/* imap_fetch_item_name: append the item's name as it appears in the
 * response ("BODY[1.HEADER.FIELDS (FROM TO)]<0>", "BINARY.SIZE[2]"). */
void imap_fetch_item_name(const struct imap_fetch_item *item, struct buf *out);

/* ---- rendering: msg[0..len) and root = mime_parse(msg, len) ---- */

/* imap_fetch_envelope: the ENVELOPE list of the message part (the root,
 * or the child of a message/rfc822 part), without the "ENVELOPE " name.
 * The fields are read from the part's header bytes (first occurrence). */
void imap_fetch_envelope(const struct mime_part *message, const char *msg, size_t len,
                         struct buf *out);

/* imap_fetch_bodystructure: BODYSTRUCTURE (extended true) or BODY
 * (false) of part, without the name. */
void imap_fetch_bodystructure(const struct mime_part *part, const char *msg, size_t len,
                              bool extended, struct buf *out);

/* imap_fetch_crlf_size: size of msg[start..end) with bare LFs as CRLF. */
uint64_t imap_fetch_crlf_size(const char *msg, size_t len, uint64_t start, uint64_t end);

/*
 * imap_fetch_section_content: append the bytes of BODY[section] (without
 * partial applied) with CRLF line ends. A part that does not exist, and
 * HEADER / TEXT of a part that is not message/rfc822, give "" (as
 * Dovecot; RFC 9051 allows it).
 */
void imap_fetch_section_content(const struct mime_part *root, const char *msg, size_t len,
                                const struct imap_fetch_section *section, struct buf *out);

/*
 * imap_fetch_binary_content: append the decoded content of
 * BINARY[section] (a leaf part transfer-decoded; identity encodings and
 * containers as BODY[section]); *decoded_r says whether base64 or
 * quoted-printable was decoded. -1 with the NO reply text in *error_r
 * ("[UNKNOWN-CTE] ...") when the encoding is unknown or the data is not
 * valid in it.
 */
int imap_fetch_binary_content(const struct mime_part *root, const char *msg, size_t len,
                              const struct imap_fetch_section *section, struct buf *out,
                              bool *decoded_r, const char **error_r);

/*
 * imap_fetch_render_item: append "NAME value" for an item derived from
 * the message (ENVELOPE ... BINARY_SIZE): 1 done, 0 when the item is not
 * derived from the message (FLAGS, UID, INTERNALDATE, MODSEQ, SAVEDATE,
 * EMAILID, THREADID: the session renders those; nothing appended), -1
 * with a NO reply text (BINARY's "[UNKNOWN-CTE] ..."; nothing appended).
 */
int imap_fetch_render_item(const struct imap_fetch_item *item, const struct mime_part *root,
                           const char *msg, size_t len, struct buf *out, const char **error_r);

/* ---- IMAP string output ---- */

/* imap_append_string: s[0..n) quoted ("\"" and "\\" escaped) when all
 * bytes are printable ASCII, else a literal {n}\r\n... (Dovecot's form
 * for BODYSTRUCTURE). */
void imap_append_string(struct buf *out, const char *s, size_t n);
/* imap_append_nstring: as imap_append_string, NIL for s == NULL. */
void imap_append_nstring(struct buf *out, const char *s, size_t n);
/* imap_append_nstring_strict: quoted only when printable ASCII without
 * "\"" and "\\", else a literal; NIL for NULL (Dovecot's form in ENVELOPE). */
void imap_append_nstring_strict(struct buf *out, const char *s, size_t n);
/* imap_append_literal: {n}\r\n and the bytes, or literal8 ~{n} when
 * binary (BINARY[] uses it for content it decoded, as Dovecot, and for
 * content holding NUL). */
void imap_append_literal(struct buf *out, const char *s, size_t n, bool binary);

#endif
