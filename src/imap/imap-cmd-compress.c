/*
 * imap-cmd-compress.c - COMPRESS DEFLATE (RFC 4978).
 *
 * After the tagged OK (sent uncompressed) both directions are raw DEFLATE
 * (net/deflate.h), over TLS when TLS is active. Bytes the client sent
 * after the command and that are still unread are taken as compressed;
 * bytes the command parser already holds cannot be (the client must wait
 * for the OK, RFC 4978 section 3), so such a client is told BAD and
 * disconnected, as with STARTTLS.
 */
#include "imap/imap-private.h"
#include "core/log.h"

#include <strings.h>

int imap_cmd_compress(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->count != 1 || cmd->args[0].type != IMAP_ARG_ATOM) {
		imap_tagged(s, "BAD", "Usage: COMPRESS DEFLATE");
		return 1;
	}
	if (strcasecmp(cmd->args[0].str, "DEFLATE") != 0) {
		imap_tagged(s, "NO", "Unknown compression mechanism.");
		return 1;
	}
	if (s->compressed) {
		imap_tagged(s, "NO", "[COMPRESSIONACTIVE] Compression already active.");
		return 1;
	}
	if (imap_parser_pending(&s->parser) > 0) {
		log_info("sid=%s event=reject reason=compress_pipelined client_ip=%s", s->sid,
		         s->client_ip);
		imap_tagged(s, "BAD", "COMPRESS followed by more commands.");
		imap_untagged(s, "BYE Commands sent before COMPRESS was answered.");
		imap_close(s);
		return 1;
	}
	imap_tagged(s, "OK", "DEFLATE active");
	if (imap_session_start_compress(s) < 0) {
		log_warn("sid=%s event=compress_failed", s->sid);
		imap_close(s);
		return 1;
	}
	log_info("sid=%s event=compress user=%s", s->sid, s->user);
	return 1;
}
