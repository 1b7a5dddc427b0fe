/*
 * imap-render - print the FETCH response vmaild gives for one message
 * file, for the differential test against Dovecot
 * (tests/integration/test_imap_fetch_dovecot.py) until the IMAP server
 * can answer itself.
 *
 *	imap-render FILE SEQ 'ATTRIBUTES'
 *
 * ATTRIBUTES is FETCH's argument text ("(ENVELOPE BODY.PEEK[1])" or one
 * attribute). Output: "* SEQ FETCH (...)\r\n" with the message-derived
 * items in the order asked, or "NO <text>\r\n" / "BAD <text>\r\n" as the
 * tagged reply would say. Exit status 0 unless the tool itself fails.
 */
#include "core/buf.h"
#include "imap/imap-fetch.h"
#include "imap/imap-parser.h"
#include "mail/mime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_file(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(out, tmp, n);
	int ret = ferror(f) ? -1 : 0;
	fclose(f);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: imap-render FILE SEQ ATTRIBUTES\n");
		return 2;
	}
	struct buf msg = BUF_INIT;
	if (read_file(argv[1], &msg) < 0) {
		perror(argv[1]);
		return 2;
	}
	struct imap_parser p;
	imap_parser_init(&p, NULL);
	struct buf line = BUF_INIT;
	buf_appendf(&line, "t FETCH %s %s\r\n", argv[2], argv[3]);
	imap_parser_feed(&p, line.data, line.len);
	struct imap_parser_event ev;
	const char *error;
	int ret = imap_parser_next(&p, &ev, &error);
	struct buf out = BUF_INIT;
	if (ret < 0) {
		buf_appendf(&out, "BAD %s\r\n", error);
	} else if (ret == 0 || ev.type != IMAP_PARSER_EV_COMMAND || ev.cmd.count < 2) {
		buf_append_str(&out, "BAD incomplete command\r\n");
	} else {
		struct imap_fetch_request req;
		if (imap_fetch_parse(ev.cmd.args + 1, ev.cmd.count - 1, ev.cmd.uid, &req, &error) <
		    0) {
			buf_appendf(&out, "BAD %s\r\n", error);
		} else {
			struct mime_part *root = mime_parse(msg.data, msg.len, NULL);
			buf_appendf(&out, "* %s FETCH (", argv[2]);
			bool first = true;
			for (unsigned int i = 0; i < req.count; i++) {
				struct buf item = BUF_INIT;
				int r = imap_fetch_render_item(&req.items[i], root,
				                               msg.data != NULL ? msg.data : "",
				                               msg.len, &item, &error);
				if (r < 0) {
					buf_reset(&out);
					buf_appendf(&out, "NO %s\r\n", error);
					buf_free(&item);
					break;
				}
				if (r > 0) {
					if (!first)
						buf_append_c(&out, ' ');
					first = false;
					buf_append(&out, item.data, item.len);
				}
				buf_free(&item);
				if (i + 1 == req.count)
					buf_append_str(&out, ")\r\n");
			}
			mime_part_free(&root);
			imap_fetch_request_free(&req);
		}
	}
	fwrite(out.data, 1, out.len, stdout);
	buf_free(&out);
	buf_free(&line);
	buf_free(&msg);
	imap_parser_deinit(&p);
	return 0;
}
