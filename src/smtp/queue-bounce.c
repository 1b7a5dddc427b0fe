/*
 * queue-bounce.c - delivery status notifications (RFC 3464, RFC 3461
 * section 6 for the report type, RFC 6533 for UTF-8 addresses).
 *
 * A report is a multipart/report; report-type=delivery-status with three
 * parts: a text for people, the message/delivery-status part (one
 * per-message block: Reporting-MTA, Arrival-Date; one block per failed
 * recipient: Final-Recipient, Action, Status, Remote-MTA when a server
 * answered, Diagnostic-Code), and the header of the original message as
 * text/rfc822-headers. It is written as a queue message file: our
 * Return-Path line first (the offset skips it), LF line ends.
 */
#include "smtp/queue.h"
#include "core/xalloc.h"

#include <stdio.h>
#include <string.h>

#define HEADERS_MAX (64 * 1024)

void queue_rfc5322_date(time_t t, char *out, size_t outlen)
{
	struct tm tm;
	localtime_r(&t, &tm);
	if (strftime(out, outlen, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0 && outlen > 0)
		out[0] = '\0';
}

static void append_addr_type(struct buf *b, const char *addr)
{
	buf_appendf(b, "%s; %s", queue_address_is_utf8(addr) ? "utf-8" : "rfc822", addr);
}

/* diag_is_reply: "DDD ..." - the text a remote server sent. */
static bool diag_is_reply(const char *d)
{
	return d != NULL && d[0] >= '2' && d[0] <= '5' && d[1] >= '0' && d[1] <= '9' &&
	       d[2] >= '0' && d[2] <= '9' && (d[3] == ' ' || d[3] == '\0');
}

static const char *status_of(const struct queue_rcpt *r)
{
	if (r->status[0] != '\0')
		return r->status;
	if (r->diag != NULL && r->diag[0] == '4')
		return "4.0.0";
	return "5.0.0";
}

/* remote_mta: the host of "host[ip]:port", into out; false for "local". */
static bool remote_mta(const char *relay, char *out, size_t outlen)
{
	if (relay == NULL || strcmp(relay, "local") == 0)
		return false;
	size_t n = strcspn(relay, "[");
	if (n == 0 || n >= outlen)
		return false;
	memcpy(out, relay, n);
	out[n] = '\0';
	return true;
}

unsigned queue_dsn_compose(const struct queue_dsn *in, struct buf *out, uint64_t *offset_r)
{
	const struct queue_env *o = in->orig;
	const char *host = in->reporting_mta;
	char date[64], arrival[64];
	queue_rfc5322_date(in->now, date, sizeof(date));
	queue_rfc5322_date(o->arrival, arrival, sizeof(arrival));
	bool dbl = o->kind != QUEUE_KIND_NORMAL;

	buf_append_str(out, "Return-Path: <>\n");
	*offset_r = out->len;
	size_t msg_start = out->len;
	buf_appendf(out, "Date: %s\n", date);
	buf_appendf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\n", host);
	buf_appendf(out, "To: <%s>\n", in->to);
	buf_appendf(out, "Subject: %s\n",
	            dbl ? "Undeliverable delivery report" : "Undelivered Mail Returned to Sender");
	buf_appendf(out, "Message-ID: <%s@%s>\n", in->qid, host);
	buf_append_str(out, "Auto-Submitted: auto-replied\n");
	buf_append_str(out, "MIME-Version: 1.0\n");
	buf_appendf(out,
	            "Content-Type: multipart/report; report-type=delivery-status;\n"
	            "\tboundary=\"%s/%s\"\n",
	            in->qid, host);
	size_t cte_at = out->len;
	buf_append_str(out, "\nThis is a MIME-encapsulated message.\n\n");

	/* the part for people */
	buf_appendf(out,
	            "--%s/%s\nContent-Description: Notification\n"
	            "Content-Type: text/plain; charset=utf-8\n\n",
	            in->qid, host);
	buf_appendf(out, "This is the mail system at host %s.\n\n", host);
	if (dbl)
		buf_append_str(out, "A delivery report (attached below) could not be delivered to "
		                    "its recipient.\n\n");
	else
		buf_append_str(out,
		               "I'm sorry to have to inform you that your message could not\n"
		               "be delivered to one or more recipients. Its header is attached "
		               "below.\n\n"
		               "For further assistance, please send mail to postmaster.\n\n");
	if (in->expired)
		buf_append_str(out, "The message could not be delivered in the time allowed.\n\n");
	buf_append_str(out, "                   The mail system\n\n");
	unsigned n = 0;
	for (unsigned i = 0; i < o->nrcpts; i++) {
		const struct queue_rcpt *r = &o->rcpts[i];
		if (r->state != QR_FAILED)
			continue;
		n++;
		char mta[300];
		if (diag_is_reply(r->diag) && remote_mta(r->relay, mta, sizeof(mta)))
			buf_appendf(out, "<%s>: host %s said: %s\n\n", r->address, r->relay,
			            r->diag);
		else
			buf_appendf(out, "<%s>: %s\n\n", r->address,
			            r->diag ? r->diag : "delivery failed");
	}

	/* the machine-readable report */
	buf_appendf(out,
	            "--%s/%s\nContent-Description: Delivery report\n"
	            "Content-Type: message/delivery-status\n\n",
	            in->qid, host);
	buf_appendf(out, "Reporting-MTA: dns; %s\n", host);
	buf_appendf(out, "X-Vmaild-Queue-ID: %s\n", o->qid);
	if (o->sender != NULL && o->sender[0] != '\0') {
		buf_append_str(out, "X-Vmaild-Sender: ");
		append_addr_type(out, o->sender);
		buf_append_c(out, '\n');
	}
	buf_appendf(out, "Arrival-Date: %s\n", arrival);
	for (unsigned i = 0; i < o->nrcpts; i++) {
		const struct queue_rcpt *r = &o->rcpts[i];
		if (r->state != QR_FAILED)
			continue;
		buf_append_str(out, "\nFinal-Recipient: ");
		append_addr_type(out, r->address);
		buf_appendf(out, "\nAction: failed\nStatus: %s\n", status_of(r));
		char mta[300];
		if (remote_mta(r->relay, mta, sizeof(mta)))
			buf_appendf(out, "Remote-MTA: dns; %s\n", mta);
		if (r->diag != NULL)
			buf_appendf(out, "Diagnostic-Code: %s; %s\n",
			            diag_is_reply(r->diag) ? "smtp" : "X-Vmaild", r->diag);
	}

	/* the header of what was not delivered */
	buf_appendf(out,
	            "\n--%s/%s\nContent-Description: Undelivered Message Headers\n"
	            "Content-Type: text/rfc822-headers\n\n",
	            in->qid, host);
	const char *err = NULL;
	if (in->orig_msg_path == NULL ||
	    queue_read_headers(in->orig_msg_path, o->offset, HEADERS_MAX, out, &err) < 0)
		buf_appendf(out, "X-Vmaild-Note: the original message could not be read\n");
	buf_appendf(out, "\n--%s/%s--\n", in->qid, host);

	/* 8-bit header text of the original (or a UTF-8 address) */
	for (size_t i = msg_start; i < out->len; i++) {
		if ((unsigned char)out->data[i] >= 0x80) {
			struct buf tail = BUF_INIT;
			buf_append(&tail, out->data + cte_at, out->len - cte_at);
			buf_truncate(out, cte_at);
			buf_append_str(out, "Content-Transfer-Encoding: 8bit\n");
			buf_append(out, tail.data, tail.len);
			buf_free(&tail);
			break;
		}
	}
	return n;
}
