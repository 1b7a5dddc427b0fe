/*
 * imap-sort - the SORT extension (RFC 5256 sections 2 and 4) with the
 * DISPLAYFROM / DISPLAYTO keys of RFC 5957.
 *
 * Owns: parsing a sort criteria list, computing the sort keys of each
 * message through the accessors of imap-search.h, and ordering messages:
 *
 *	struct imap_sort_program sp;
 *	imap_sort_parse(&args[0], &sp, &error)      "(REVERSE DATE SUBJECT)"
 *	imap_search_parse(args + 1, count - 1, NULL,
 *	                  IMAP_SEARCH_PARSE_CHARSET_FIRST, &prog, &error)
 *	... collect the matching messages into msgs[] ...
 *	imap_sort(&sp, &ops, msgs, n, &error)       msgs sorted in place
 *	"* SORT" then msgs[i].seq (or .uid for UID SORT)
 *
 * Rules (RFC 5256 section 2): strings compare with i;ascii-casemap
 * (octets, ASCII letters upper-cased, after RFC 2047 decoding to UTF-8);
 * SUBJECT compares base subjects (imap_sort_base_subject()); FROM, TO,
 * CC the local part of the first mailbox of the field (empty when there
 * is none); DISPLAYFROM / DISPLAYTO its decoded display name, or
 * "local@domain" when it has none (RFC 5957 section 3); DATE the Date:
 * header's instant in UTC, the internal date when it is missing or
 * unparsable; ARRIVAL the internal date; SIZE RFC822.SIZE. REVERSE
 * inverts the key after it. Equal keys fall back to the next key, and at
 * the end to the sequence number (ascending, whatever REVERSE said).
 *
 * Limits: at most IMAP_SORT_CRITERIA_MAX criteria. Pure: no I/O.
 */
#ifndef VMAILD_IMAP_IMAP_SORT_H
#define VMAILD_IMAP_IMAP_SORT_H

#include "core/buf.h"
#include "imap/imap-parser.h"
#include "imap/imap-search.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAP_SORT_CRITERIA_MAX 16

enum imap_sort_key {
	IMAP_SORT_ARRIVAL = 1,
	IMAP_SORT_CC,
	IMAP_SORT_DATE,
	IMAP_SORT_FROM,
	IMAP_SORT_SIZE,
	IMAP_SORT_SUBJECT,
	IMAP_SORT_TO,
	IMAP_SORT_DISPLAYFROM,
	IMAP_SORT_DISPLAYTO,
};

struct imap_sort_criterion {
	enum imap_sort_key key;
	bool reverse;
};

struct imap_sort_program {
	struct imap_sort_criterion crit[IMAP_SORT_CRITERIA_MAX];
	unsigned int count;
};

/*
 * imap_sort_parse: arg is the parenthesised criteria list. 0, or -1 with
 * a static BAD reply text in *error_r (not a list, empty, unknown key,
 * REVERSE without a key after it, too many).
 */
int imap_sort_parse(const struct imap_arg *arg, struct imap_sort_program *prog_r,
                    const char **error_r);

/*
 * imap_sort_needs: enum imap_search_need bits the criteria need; the
 * header fields (From, To, Cc, Date, Subject: at most 5) are stored in
 * headers_r[0..*nheaders_r).
 */
unsigned int imap_sort_needs(const struct imap_sort_program *prog, const char *headers_r[5],
                             unsigned int *nheaders_r);

/*
 * imap_sort: order msgs[0..n) by prog. Accessors used: header (first
 * occurrence of each field), internal_date, size, as the criteria need.
 * 0, or -1 with *error_r (a NO reply text) when an accessor failed.
 */
int imap_sort(const struct imap_sort_program *prog, const struct imap_search_ops *ops,
              struct imap_search_msg *msgs, size_t n, const char **error_r);

/*
 * imap_sort_base_subject: append the base subject (RFC 5256 section 2.1)
 * of the raw Subject: value s[0..len) to out: RFC 2047 words decoded,
 * white space runs made one space, "Re:", "Fw:", "Fwd:", "[blob]",
 * trailing "(fwd)" and "[fwd: ...]" removed as the algorithm says. Case
 * is kept (compare with imap_sort_casecmp()). Returns true when a reply
 * or forward marker was removed (RFC 5256 section 2.1, used by THREAD).
 */
bool imap_sort_base_subject(const char *s, size_t len, struct buf *out);

/*
 * imap_sort_first_mailbox: the first mailbox of an address-list header
 * value (groups entered, comments skipped): its display name (phrase,
 * RFC 2047-decoded, may be empty), local part and domain appended to
 * the buffers given (each may be NULL). false when there is none.
 */
bool imap_sort_first_mailbox(const char *s, size_t len, struct buf *display, struct buf *local,
                             struct buf *domain);

/* imap_sort_sent_date: the SORT DATE instant: the Date: value (may be
 * NULL) parsed, else internal_date. */
int64_t imap_sort_sent_date(const char *date, size_t len, int64_t internal_date);

/* imap_sort_casecmp: i;ascii-casemap ordering of two byte strings */
int imap_sort_casecmp(const char *a, size_t alen, const char *b, size_t blen);

#endif
