/*
 * imap-cmd-list.c - LIST (RFC 9051 6.3.9, RFC 3501 6.3.8) with
 * LIST-EXTENDED (RFC 5258) and the attributes of CHILDREN (RFC 3348)
 * and SPECIAL-USE (RFC 6154), and LSUB (RFC 3501 6.3.9).
 *
 * The mailboxes are the Maildir tree (Dovecot LAYOUT=fs): INBOX is the
 * root, every directory below it (not starting with '.', not cur/ new/
 * tmp/) is a mailbox; one without cur/ is \Noselect. Names are sent as
 * they are stored (modified UTF-7), the separator is "/". The tree is
 * walked in the thread pool (IMAP_LIST_MAX mailboxes at most) and the
 * reply built there; the event loop only writes it.
 *
 * Patterns: reference and pattern are joined; '*' matches anything,
 * '%' anything but "/"; "INBOX" is matched in any case. An empty pattern
 * asks for the separator: (\Noselect) "/" "".
 * LIST-EXTENDED selection options: SUBSCRIBED, REMOTE (no-op: no
 * remote mailboxes), RECURSIVEMATCH (with SUBSCRIBED: parents of
 * subscribed mailboxes get CHILDINFO), SPECIAL-USE (RFC 6154); return
 * options SUBSCRIBED, CHILDREN, SPECIAL-USE. \HasChildren /
 * \HasNoChildren and special-use attributes are always sent, as Dovecot
 * does. Special use is by name (the guide's namespace): Spam \Junk,
 * Trash \Trash, Drafts \Drafts, Sent \Sent.
 */
#include "imap/imap-private.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEL_SUBSCRIBED     (1u << 0)
#define SEL_RECURSIVEMATCH (1u << 1)
#define SEL_SPECIAL_USE    (1u << 2)
#define RET_SUBSCRIBED     (1u << 0)
#define RET_CHILDREN       (1u << 1)
#define RET_SPECIAL_USE    (1u << 2)

struct ent {
	char *name;
	bool exists, selectable, children, subscribed, child_subscribed;
};

struct list_job {
	struct imap_session *s;
	char *root;
	bool lsub;
	unsigned sel, ret;
	char **patterns;
	unsigned npatterns;
	struct buf out;
	char *error;
	/* work state */
	struct ent *ents;
	unsigned nents, cap;
	bool truncated;
};

const char *imap_special_use(const char *name)
{
	static const struct {
		const char *name, *attr;
	} uses[] = {
	    {"Spam", "\\Junk"}, {"Trash", "\\Trash"}, {"Drafts", "\\Drafts"}, {"Sent", "\\Sent"}};
	for (size_t i = 0; i < sizeof(uses) / sizeof(uses[0]); i++)
		if (strcmp(name, uses[i].name) == 0)
			return uses[i].attr;
	return NULL;
}

/* match: name against an IMAP pattern (* and %) */
static bool match(const char *p, const char *n)
{
	for (; *p != '\0'; p++) {
		if (*p == '*' || *p == '%') {
			bool star = *p == '*';
			while (p[1] == '*' || p[1] == '%') {
				if (p[1] == '*')
					star = true;
				p++;
			}
			for (const char *t = n;; t++) {
				if (match(p + 1, t))
					return true;
				if (*t == '\0' || (!star && *t == IMAP_SEP))
					return false;
			}
		}
		if (*p != *n)
			return false;
		n++;
	}
	return *n == '\0';
}

static struct ent *ent_add(struct list_job *j, const char *name)
{
	if (j->nents == j->cap) {
		j->cap = j->cap ? j->cap * 2 : 32;
		j->ents = xreallocarray(j->ents, j->cap, sizeof(*j->ents));
	}
	struct ent *e = &j->ents[j->nents++];
	memset(e, 0, sizeof(*e));
	e->name = xstrdup(name);
	return e;
}

static bool is_dir_at(int dfd, const char *name)
{
	struct stat st;
	return fstatat(dfd, name, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

/* walk: the folders in directory path (name prefix pre); returns whether
 * it has any */
static bool walk(struct list_job *j, const char *path, const char *pre, unsigned depth, bool top)
{
	if (depth > STORE_MAILBOX_MAX_DEPTH)
		return false;
	DIR *d = opendir(path);
	if (d == NULL)
		return false;
	bool any = false;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		if (n[0] == '.' || strcmp(n, "cur") == 0 || strcmp(n, "new") == 0 ||
		    strcmp(n, "tmp") == 0)
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN && de->d_type != DT_LNK)
			continue;
		if (!is_dir_at(dirfd(d), n))
			continue;
		if (j->nents >= IMAP_LIST_MAX) {
			j->truncated = true;
			break;
		}
		char *sub = xasprintf("%s/%s", path, n);
		char *name = xasprintf("%s%s", pre, n);
		if (top && strcmp(n, "INBOX") == 0) {
			/* INBOX is the root; its directory holds only children */
			char *np = xasprintf("%s/", name);
			if (walk(j, sub, np, depth + 1, false))
				j->ents[0].children = true;
			free(np);
		} else {
			any = true;
			size_t idx = j->nents;
			ent_add(j, name);
			char *cur = xasprintf("%s/cur", sub);
			struct stat st;
			bool sel = stat(cur, &st) == 0 && S_ISDIR(st.st_mode);
			free(cur);
			char *np = xasprintf("%s/", name);
			bool kids = walk(j, sub, np, depth + 1, false);
			free(np);
			j->ents[idx].exists = true;
			j->ents[idx].selectable = sel;
			j->ents[idx].children = kids;
		}
		free(sub);
		free(name);
	}
	closedir(d);
	return any;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	bool xi = strcmp(x->name, "INBOX") == 0, yi = strcmp(y->name, "INBOX") == 0;
	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x->name, y->name);
}

static struct ent *ent_find(struct list_job *j, const char *name)
{
	struct ent key = {.name = (char *)name};
	return bsearch(&key, j->ents, j->nents, sizeof(*j->ents), ent_cmp);
}

static bool matches(const struct list_job *j, const char *name)
{
	for (unsigned i = 0; i < j->npatterns; i++)
		if (match(j->patterns[i], name))
			return true;
	return false;
}

static void emit(struct list_job *j, const struct ent *e, bool childinfo)
{
	struct buf a = BUF_INIT;
	const char *use = imap_special_use(e->name);
#define ATTR(x) buf_appendf(&a, "%s%s", a.len ? " " : "", x)
	if (j->lsub) {
		if (!e->subscribed)
			ATTR("\\Noselect");
	} else {
		if (!e->exists)
			ATTR("\\NonExistent");
		else if (!e->selectable)
			ATTR("\\Noselect");
		if (e->exists || (j->ret & RET_CHILDREN))
			ATTR(e->children ? "\\HasChildren" : "\\HasNoChildren");
		if (e->subscribed && ((j->ret & RET_SUBSCRIBED) || (j->sel & SEL_SUBSCRIBED)))
			ATTR("\\Subscribed");
		if (use != NULL && e->exists)
			ATTR(use);
	}
#undef ATTR
	buf_appendf(&j->out, "* %s (%s) \"/\" ", j->lsub ? "LSUB" : "LIST", buf_cstr(&a));
	imap_quote(&j->out, e->name, strlen(e->name));
	if (childinfo)
		buf_append_str(&j->out, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	buf_append(&j->out, "\r\n", 2);
	buf_free(&a);
}

static void list_work(void *arg)
{
	struct list_job *j = arg;
	const char *err;
	struct ent *inbox = ent_add(j, "INBOX");
	inbox->exists = inbox->selectable = true;
	walk(j, j->root, "", 1, true);

	struct subscriptions subs;
	subscriptions_init(&subs);
	if (subscriptions_read(j->root, &subs, &err) < 0) {
		j->error = xstrdup(err);
		subscriptions_free(&subs);
		return;
	}
	qsort(j->ents, j->nents, sizeof(*j->ents), ent_cmp);
	/* subscribed names and their parents join the candidates */
	unsigned before = j->nents;
	for (unsigned i = 0; i < subs.count; i++) {
		const char *n = strcasecmp(subs.names[i], "INBOX") == 0 ? "INBOX" : subs.names[i];
		char *copy = xstrdup(n);
		for (char *slash = copy;;) {
			slash = strchr(slash, IMAP_SEP);
			if (slash != NULL)
				*slash = '\0';
			bool found = false;
			for (unsigned k = 0; k < j->nents && !found; k++)
				found = strcmp(j->ents[k].name, copy) == 0;
			if (!found && copy[0] != '\0' && j->nents < IMAP_LIST_MAX * 2)
				ent_add(j, copy);
			if (slash == NULL)
				break;
			*slash = IMAP_SEP;
			slash++;
		}
		free(copy);
	}
	if (j->nents != before)
		qsort(j->ents, j->nents, sizeof(*j->ents), ent_cmp);
	for (unsigned i = 0; i < subs.count; i++) {
		const char *n = strcasecmp(subs.names[i], "INBOX") == 0 ? "INBOX" : subs.names[i];
		struct ent *e = ent_find(j, n);
		if (e != NULL)
			e->subscribed = true;
		char *copy = xstrdup(n);
		for (char *slash = strrchr(copy, IMAP_SEP); slash != NULL;
		     slash = strrchr(copy, IMAP_SEP)) {
			*slash = '\0';
			struct ent *p = ent_find(j, copy);
			if (p != NULL)
				p->child_subscribed = true;
		}
		free(copy);
	}
	subscriptions_free(&subs);

	for (unsigned i = 0; i < j->nents; i++) {
		struct ent *e = &j->ents[i];
		if (!matches(j, e->name))
			continue;
		if (j->lsub) {
			if (e->subscribed) {
				emit(j, e, false);
			} else if (e->child_subscribed) {
				/* RFC 3501 6.3.9: a % match with subscribed children
				 * that the pattern does not reach itself */
				size_t nl = strlen(e->name);
				bool reached = false;
				for (unsigned k = 0; k < j->nents && !reached; k++) {
					const struct ent *c = &j->ents[k];
					reached = c->subscribed &&
					          strncmp(c->name, e->name, nl) == 0 &&
					          c->name[nl] == IMAP_SEP && matches(j, c->name);
				}
				if (!reached)
					emit(j, e, false);
			}
			continue;
		}
		if (j->sel & SEL_SPECIAL_USE) {
			if (imap_special_use(e->name) == NULL || !e->exists)
				continue;
		}
		if (j->sel & SEL_SUBSCRIBED) {
			bool ci = (j->sel & SEL_RECURSIVEMATCH) && e->child_subscribed;
			if (e->subscribed || ci)
				emit(j, e, ci);
			continue;
		}
		if (!e->exists)
			continue;
		emit(j, e, false);
	}
}

static void list_done(void *arg)
{
	struct list_job *j = arg;
	struct imap_session *s = j->s;
	if (imap_job_end(s)) {
		if (j->error != NULL) {
			log_error("sid=%s event=list_failed user=%s error=\"%s\"", s->sid,
			          log_esc(s->user), log_esc(j->error));
			imap_tagged(s, "NO",
			            "[SERVERBUG] Internal error occurred. Refer to server "
			            "log for more information.");
		} else {
			if (j->out.len > 0)
				imap_write(s, j->out.data, j->out.len);
			if (j->truncated)
				log_warn("sid=%s event=list_truncated user=%s max=%u", s->sid,
				         log_esc(s->user), IMAP_LIST_MAX);
			imap_tagged(s, "OK", "%s completed.", j->lsub ? "Lsub" : "List");
		}
		imap_cmd_done(s);
	}
	for (unsigned i = 0; i < j->nents; i++)
		free(j->ents[i].name);
	free(j->ents);
	for (unsigned i = 0; i < j->npatterns; i++)
		free(j->patterns[i]);
	free(j->patterns);
	buf_free(&j->out);
	free(j->root);
	free(j->error);
	free(j);
}

/* join: reference and pattern into the canonical pattern */
static char *join(const char *ref, size_t rl, const char *pat, size_t pl)
{
	struct buf b = BUF_INIT;
	buf_append(&b, ref, rl);
	if (rl > 0 && ref[rl - 1] == IMAP_SEP && pl > 0 && pat[0] == IMAP_SEP) {
		pat++;
		pl--;
	}
	buf_append(&b, pat, pl);
	char *p = buf_steal(&b);
	if (p == NULL)
		p = xstrdup("");
	/* INBOX in any case */
	if (strncasecmp(p, "INBOX", 5) == 0 && (p[5] == '\0' || p[5] == IMAP_SEP))
		memcpy(p, "INBOX", 5);
	return p;
}

static int start(struct imap_session *s, const struct imap_command *cmd, bool lsub)
{
	const struct imap_arg *a = cmd->args;
	unsigned n = cmd->count, i = 0;
	unsigned sel = 0, ret = 0;
	const struct imap_arg *opts;
	unsigned nopts;
	bool extended = false;
	if (!lsub && n > 0 && imap_arg_list(&a[0], &opts, &nopts)) {
		extended = true;
		for (unsigned k = 0; k < nopts; k++) {
			if (imap_arg_atom_equals(&opts[k], "SUBSCRIBED"))
				sel |= SEL_SUBSCRIBED;
			else if (imap_arg_atom_equals(&opts[k], "RECURSIVEMATCH"))
				sel |= SEL_RECURSIVEMATCH;
			else if (imap_arg_atom_equals(&opts[k], "SPECIAL-USE"))
				sel |= SEL_SPECIAL_USE;
			else if (!imap_arg_atom_equals(&opts[k], "REMOTE")) {
				imap_tagged(s, "BAD", "Unknown LIST selection option.");
				return 1;
			}
		}
		if ((sel & SEL_RECURSIVEMATCH) && !(sel & (SEL_SUBSCRIBED))) {
			imap_tagged(s, "BAD", "RECURSIVEMATCH needs another selection option.");
			return 1;
		}
		i++;
	}
	const char *ref;
	size_t rl;
	if (i + 2 > n || !imap_arg_astring(&a[i], &ref, &rl)) {
		imap_tagged(s, "BAD", "Invalid arguments.");
		return 1;
	}
	const struct imap_arg *pats = &a[i + 1];
	unsigned npats = 1;
	if (!lsub && pats->type == IMAP_ARG_LIST) {
		extended = true;
		npats = pats->count;
		pats = pats->list;
		if (npats == 0) {
			imap_tagged(s, "BAD", "Empty pattern list.");
			return 1;
		}
	}
	i += 2;
	if (!lsub && i < n) {
		const struct imap_arg *ro;
		unsigned nro;
		if (i + 2 != n || !imap_arg_atom_equals(&a[i], "RETURN") ||
		    !imap_arg_list(&a[i + 1], &ro, &nro)) {
			imap_tagged(s, "BAD", "Invalid arguments.");
			return 1;
		}
		extended = true;
		for (unsigned k = 0; k < nro; k++) {
			if (imap_arg_atom_equals(&ro[k], "SUBSCRIBED"))
				ret |= RET_SUBSCRIBED;
			else if (imap_arg_atom_equals(&ro[k], "CHILDREN"))
				ret |= RET_CHILDREN;
			else if (imap_arg_atom_equals(&ro[k], "SPECIAL-USE"))
				ret |= RET_SPECIAL_USE;
			else {
				imap_tagged(s, "BAD", "Unknown LIST return option.");
				return 1;
			}
		}
	} else if (i != n) {
		imap_tagged(s, "BAD", "Invalid arguments.");
		return 1;
	}
	(void)extended;
	struct list_job *j = xcalloc(1, sizeof(*j));
	j->patterns = xcalloc(npats, sizeof(*j->patterns));
	for (unsigned k = 0; k < npats; k++) {
		const char *p;
		size_t pl;
		if (!imap_arg_astring(&pats[k], &p, &pl) || memchr(p, '\0', pl) != NULL) {
			for (unsigned m = 0; m < j->npatterns; m++)
				free(j->patterns[m]);
			free(j->patterns);
			free(j);
			imap_tagged(s, "BAD", "Invalid pattern.");
			return 1;
		}
		if (pl == 0 && npats == 1 && !lsub) {
			/* the hierarchy delimiter and the root of the reference */
			free(j->patterns);
			free(j);
			if (rl > 0 && ref[0] != IMAP_SEP) {
				const char *sl = memchr(ref, IMAP_SEP, rl);
				struct buf b = BUF_INIT;
				size_t rootlen = sl ? (size_t)(sl - ref) + 1 : rl;
				imap_quote(&b, ref, rootlen);
				imap_untagged(s, "LIST (\\Noselect) \"/\" %s", buf_cstr(&b));
				buf_free(&b);
			} else {
				imap_untagged(s, "LIST (\\Noselect) \"/\" \"\"");
			}
			imap_tagged(s, "OK", "List completed.");
			return 1;
		}
		j->patterns[j->npatterns++] = join(ref, rl, p, pl);
	}
	j->s = s;
	j->root = xstrdup(s->store.root);
	j->lsub = lsub;
	j->sel = sel;
	j->ret = ret;
	imap_job_begin(s);
	pool_submit(s->srv->env.pool, list_work, list_done, j);
	return 0;
}

int imap_cmd_list(struct imap_session *s, const struct imap_command *cmd)
{
	return start(s, cmd, false);
}

int imap_cmd_lsub(struct imap_session *s, const struct imap_command *cmd)
{
	return start(s, cmd, true);
}
