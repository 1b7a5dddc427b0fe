/*
 * decode - Content-Transfer-Encoding decoders (RFC 2045 section 6) and
 * the decoded text of a MIME part.
 *
 * Owns: base64 (RFC 2045 section 6.8) as a streaming decoder and over a
 * whole buffer, quoted-printable (section 6.7) over a whole buffer, the
 * choice of decoder by a part's Content-Transfer-Encoding, and the UTF-8
 * text of a leaf part for SEARCH BODY / TEXT.
 *
 * Leniency (real mail): base64 skips line ends, white space and any other
 * byte outside its alphabet, and stops at the padding; quoted-printable
 * keeps a "=" that starts no valid escape as it is, takes lower-case hex
 * digits, and drops white space before line ends. Every decoder always
 * appends its best-effort output; the return value says whether the input
 * was well-formed in the sense of RFC 3516 (BINARY must refuse input it
 * cannot decode): 0 fine, -1 with a static *error_r.
 *
 * base64 errors: a byte that is neither alphabet, "=", nor white space /
 * line end; data other than "=" and white space after the padding; a
 * final group of a single sextet. Missing padding is no error.
 * quoted-printable errors: a "=" followed by neither two hex digits nor
 * (white space and) a line end, or a soft line break "=" at the very end
 * without line end - decoded leniently all the same, but
 * Dovecot refuses BINARY for it and so do we.
 *
 * Pure: no I/O, no logging. Output goes to a struct buf (appended).
 */
#ifndef VMAILD_MAIL_DECODE_H
#define VMAILD_MAIL_DECODE_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>

struct mime_part;

/* Streaming base64: init, feed chunks, finish. Chunk boundaries do not
 * change the output. */
struct decode_base64 {
	unsigned int acc;   /* bits collected */
	unsigned int nsext; /* sextets in acc (0..3) */
	bool padded;        /* "=" seen: the data has ended */
	bool error;
	const char *error_msg;
};

void decode_base64_init(struct decode_base64 *d);
void decode_base64_feed(struct decode_base64 *d, const void *data, size_t len, struct buf *out);
/* decode_base64_finish: append the last bytes (a group without padding);
 * 0, or -1 with *error_r when the input was not valid base64 (the output
 * is appended either way). */
int decode_base64_finish(struct decode_base64 *d, struct buf *out, const char **error_r);

/* decode_base64: the whole of data[0..len); 0 or -1 as above. */
int decode_base64(const void *data, size_t len, struct buf *out, const char **error_r);

/* decode_qp: quoted-printable data[0..len) (soft line breaks "=" before
 * CRLF or LF removed, line ends kept as they are); 0 or -1 as above. */
int decode_qp(const void *data, size_t len, struct buf *out, const char **error_r);

/*
 * decode_cte: decode data[0..len) sent in the transfer encoding encoding
 * (lower-case; NULL, "", "7bit", "8bit" and "binary" mean identity).
 * 0 done, -1 with *error_r: "Unknown transfer encoding" (nothing
 * appended) or a decoder error (best-effort output appended).
 */
int decode_cte(const char *encoding, const void *data, size_t len, struct buf *out,
               const char **error_r);

/* decode_cte_known: encoding is one decode_cte() understands. */
bool decode_cte_known(const char *encoding);

/*
 * decode_part_text: append the text of leaf part (body bytes inside
 * msg[0..len), as mime_parse() gave the tree) transfer-decoded and
 * converted to UTF-8 from its charset parameter (us-ascii when absent;
 * bytes invalid in the charset become U+FFFD; an unknown charset or
 * transfer encoding falls back to the raw bytes made valid UTF-8). Only
 * for text and message leaves the caller wants to search; other
 * types are appended the same way (searching raw bytes of an attachment
 * is the caller's choice). A multipart or message/rfc822 part with
 * children appends nothing.
 */
void decode_part_text(const struct mime_part *part, const char *msg, size_t len, struct buf *out);

#endif
