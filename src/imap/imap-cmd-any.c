/*
 * imap-cmd-any.c - the small commands: CAPABILITY, NOOP, LOGOUT (RFC 9051
 * section 6.1, RFC 3501 section 6.1), ID (RFC 2971), ENABLE (RFC 5161)
 * and NAMESPACE (RFC 2342).
 *
 * NAMESPACE is the guide's single "inbox" namespace: personal, prefix "",
 * separator "/"; no shared or other users' namespaces.
 */
#include "imap/imap-private.h"
#include "core/log.h"

#include <string.h>
#include <strings.h>

int imap_cmd_capability(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->count != 0) {
		imap_tagged(s, "BAD", "CAPABILITY takes no arguments.");
		return 1;
	}
	struct buf b = BUF_INIT;
	imap_capability(s, &b);
	imap_untagged(s, "CAPABILITY %s", buf_cstr(&b));
	buf_free(&b);
	imap_tagged(s, "OK", "Capability completed.");
	return 1;
}

int imap_cmd_noop(struct imap_session *s, const struct imap_command *cmd)
{
	(void)cmd;
	/* the selected state's untagged updates go here (mailbox engine) */
	imap_tagged(s, "OK", "NOOP completed.");
	return 1;
}

int imap_cmd_logout(struct imap_session *s, const struct imap_command *cmd)
{
	(void)cmd;
	imap_untagged(s, "BYE Logging out");
	imap_tagged(s, "OK", "Logout completed.");
	log_info("sid=%s event=logout user=%s client_ip=%s", s->sid,
	         log_esc(s->user ? s->user : ""), s->client_ip);
	imap_enter_state(s, IMAP_STATE_LOGOUT);
	imap_close(s);
	return 1;
}

/* ID (RFC 2971): "ID NIL" or "ID (field value ...)", at most 30 pairs,
 * fields up to 30 and values up to 1024 bytes. Logged, answered with
 * our name only (no version: nothing for a scanner). */
int imap_cmd_id(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg *list;
	unsigned n;
	if (cmd->count != 1 ||
	    (cmd->args[0].type != IMAP_ARG_NIL && !imap_arg_list(&cmd->args[0], &list, &n))) {
		imap_tagged(s, "BAD", "Invalid ID arguments.");
		return 1;
	}
	if (cmd->args[0].type == IMAP_ARG_LIST) {
		if (n % 2 != 0 || n > 60) {
			imap_tagged(s, "BAD", "Invalid ID arguments.");
			return 1;
		}
		struct buf b = BUF_INIT;
		for (unsigned i = 0; i < n; i += 2) {
			const char *k, *v;
			size_t kl, vl;
			if (!imap_arg_string(&list[i], &k, &kl) || kl > 30 ||
			    (!imap_arg_nstring(&list[i + 1], &v, &vl)) || vl > 1024) {
				buf_free(&b);
				imap_tagged(s, "BAD", "Invalid ID arguments.");
				return 1;
			}
			buf_appendf(&b, "%s%s=%s", i ? ", " : "", k, v ? v : "NIL");
		}
		log_info("sid=%s event=id client_ip=%s id=\"%s\"", s->sid, s->client_ip,
		         log_esc(buf_cstr(&b)));
		buf_free(&b);
	}
	imap_untagged(s, "ID (\"name\" \"vmaild\")");
	imap_tagged(s, "OK", "ID completed.");
	return 1;
}

/* ENABLE (RFC 5161): the extensions a client may switch on. supported
 * becomes true when the code behind it exists (CONDSTORE, QRESYNC:
 * mailbox engine; IMAP4rev2, UTF8=ACCEPT: later). */
static const struct {
	const char *name;
	unsigned bit;
	bool supported;
} enable_exts[] = {
    {"CONDSTORE", IMAP_EXT_CONDSTORE, false},
    {"QRESYNC", IMAP_EXT_QRESYNC, false},
    {"IMAP4rev2", IMAP_EXT_IMAP4REV2, false},
    {"UTF8=ACCEPT", IMAP_EXT_UTF8_ACCEPT, false},
};

int imap_cmd_enable(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->count == 0) {
		imap_tagged(s, "BAD", "ENABLE needs arguments.");
		return 1;
	}
	struct buf b = BUF_INIT;
	buf_append_str(&b, "ENABLED");
	for (unsigned i = 0; i < cmd->count; i++) {
		const char *a;
		if (!imap_arg_atom(&cmd->args[i], &a)) {
			buf_free(&b);
			imap_tagged(s, "BAD", "Invalid ENABLE arguments.");
			return 1;
		}
		for (size_t k = 0; k < sizeof(enable_exts) / sizeof(enable_exts[0]); k++) {
			if (!enable_exts[k].supported || strcasecmp(a, enable_exts[k].name) != 0)
				continue;
			if ((s->enabled & enable_exts[k].bit) == 0) {
				s->enabled |= enable_exts[k].bit;
				buf_appendf(&b, " %s", enable_exts[k].name);
			}
		}
	}
	imap_untagged(s, "%s", buf_cstr(&b));
	buf_free(&b);
	imap_tagged(s, "OK", "Enabled.");
	return 1;
}

int imap_cmd_namespace(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->count != 0) {
		imap_tagged(s, "BAD", "NAMESPACE takes no arguments.");
		return 1;
	}
	imap_untagged(s, "NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_tagged(s, "OK", "Namespace completed.");
	return 1;
}
