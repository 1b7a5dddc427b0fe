/*
 * imap-thread.c - THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (see
 * imap-thread.h).
 */
#include "imap/imap-thread.h"

#include "core/xalloc.h"
#include "imap/imap-sort.h"

#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

struct container {
	uint32_t msg; /* index into the input, NONE for a dummy */
	uint32_t parent;
	uint32_t *kids;
	uint32_t nkids, cap;
	char *id;       /* message ID (NULL: unique, not in the table) */
	uint32_t hnext; /* hash chain */
	/* sort key: a dummy takes its first child's */
	int64_t date;
	uint32_t seq;
};

struct msginfo {
	char *base; /* base subject */
	bool refwd;
	int64_t date;
};

struct threader {
	const struct imap_thread_input *in;
	size_t n;
	struct msginfo *info;
	struct container *c;
	uint32_t count, cap;
	uint32_t *table;
	uint32_t table_size;
	uint32_t root;
};

static uint32_t new_container(struct threader *t, char *id)
{
	if (t->count == t->cap) {
		t->cap = t->cap == 0 ? 64 : t->cap * 2;
		t->c = xreallocarray(t->c, t->cap, sizeof(*t->c));
	}
	struct container *c = &t->c[t->count];
	memset(c, 0, sizeof(*c));
	c->msg = NONE;
	c->parent = NONE;
	c->hnext = NONE;
	c->id = id;
	return t->count++;
}

static void add_kid(struct threader *t, uint32_t parent, uint32_t kid)
{
	struct container *p = &t->c[parent];
	if (p->nkids == p->cap) {
		p->cap = p->cap == 0 ? 4 : p->cap * 2;
		p->kids = xreallocarray(p->kids, p->cap, sizeof(*p->kids));
	}
	p->kids[p->nkids++] = kid;
	t->c[kid].parent = parent;
}

static void remove_kid(struct threader *t, uint32_t kid)
{
	uint32_t parent = t->c[kid].parent;
	if (parent == NONE)
		return;
	struct container *p = &t->c[parent];
	for (uint32_t i = 0; i < p->nkids; i++) {
		if (p->kids[i] == kid) {
			memmove(p->kids + i, p->kids + i + 1,
			        (p->nkids - i - 1) * sizeof(*p->kids));
			p->nkids--;
			break;
		}
	}
	t->c[kid].parent = NONE;
}

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* the container of id, created (as a dummy) when new; *created_r */
static uint32_t lookup(struct threader *t, const char *id, size_t len, bool *created_r)
{
	uint32_t h = hash(id) & (t->table_size - 1);
	for (uint32_t i = t->table[h]; i != NONE; i = t->c[i].hnext) {
		if (strcmp(t->c[i].id, id) == 0) {
			*created_r = false;
			return i;
		}
	}
	uint32_t i = new_container(t, xstrndup(id, len));
	t->c[i].hnext = t->table[h];
	t->table[h] = i;
	*created_r = true;
	return i;
}

/* would making a the parent of b create a loop (a is b or under b)? */
static bool would_loop(const struct threader *t, uint32_t a, uint32_t b)
{
	for (uint32_t x = a; x != NONE; x = t->c[x].parent)
		if (x == b)
			return true;
	return false;
}

bool imap_thread_msgid_next(const char *s, size_t len, size_t *pos, struct buf *out)
{
	size_t i = *pos;
	while (i < len) {
		while (i < len && s[i] != '<')
			i++;
		if (i >= len)
			break;
		size_t mark = out->len;
		i++;
		bool at = false, bad = false;
		int comment = 0;
		while (i < len && s[i] != '>') {
			char c = s[i];
			if (c == '<') {
				bad = true; /* "<a <b@c>": restart at the inner one */
				break;
			}
			if (comment > 0) {
				if (c == '(')
					comment++;
				else if (c == ')')
					comment--;
			} else if (c == '(') {
				comment = 1;
			} else if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '"') {
				if (c == '@')
					at = true;
				buf_append_c(out, c);
			}
			i++;
		}
		if (!bad && i < len && at && out->len > mark && out->data[mark] != '@' &&
		    out->data[out->len - 1] != '@') {
			*pos = i + 1;
			return true;
		}
		buf_truncate(out, mark);
		if (!bad && i < len)
			i++;
	}
	*pos = len;
	return false;
}

static int cmp_date(const struct container *a, const struct container *b)
{
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq ? 1 : 0;
}

static int cmp_kids(const void *pa, const void *pb, void *ctx)
{
	const struct threader *t = ctx;
	return cmp_date(&t->c[*(const uint32_t *)pa], &t->c[*(const uint32_t *)pb]);
}

/* post_order: every container under (and with) top, children first */
static uint32_t *post_order(const struct threader *t, uint32_t top, uint32_t *n_r)
{
	uint32_t *order = xcalloc(t->count + 1, sizeof(*order));
	uint32_t *stack = xcalloc(t->count + 1, sizeof(*stack));
	uint32_t *idx = xcalloc(t->count + 1, sizeof(*idx));
	uint32_t sp = 0, n = 0;
	stack[sp++] = top;
	idx[top] = 0;
	while (sp > 0) {
		uint32_t x = stack[sp - 1];
		if (idx[x] < t->c[x].nkids) {
			uint32_t k = t->c[x].kids[idx[x]++];
			idx[k] = 0;
			stack[sp++] = k;
		} else {
			order[n++] = x;
			sp--;
		}
	}
	free(stack);
	free(idx);
	*n_r = n;
	return order;
}

/* step 6: sort siblings by date, bottom up; a dummy sorts as its first
 * child */
static void sort_all(struct threader *t)
{
	uint32_t n;
	uint32_t *order = post_order(t, t->root, &n);
	for (uint32_t i = 0; i < n; i++) {
		struct container *c = &t->c[order[i]];
		if (c->nkids > 1)
			qsort_r(c->kids, c->nkids, sizeof(*c->kids), cmp_kids, t);
		if (c->msg == NONE && c->nkids > 0) {
			c->date = t->c[c->kids[0]].date;
			c->seq = t->c[c->kids[0]].seq;
		}
	}
	free(order);
}

/* step 4: prune dummies, bottom up */
static void prune(struct threader *t)
{
	uint32_t n;
	uint32_t *order = post_order(t, t->root, &n);
	uint32_t *kids = NULL, nk = 0, cap = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t x = order[i];
		struct container *c = &t->c[x];
		bool at_root = x == t->root;
		nk = 0;
		for (uint32_t k = 0; k < c->nkids; k++) {
			uint32_t kid = c->kids[k];
			struct container *kc = &t->c[kid];
			if (kc->msg == NONE && kc->nkids == 0)
				continue; /* (A) */
			if (kc->msg == NONE && (!at_root || kc->nkids == 1)) {
				/* (B): promote its children */
				for (uint32_t g = 0; g < kc->nkids; g++) {
					if (nk == cap) {
						cap = cap == 0 ? 16 : cap * 2;
						kids = xreallocarray(kids, cap, sizeof(*kids));
					}
					kids[nk++] = kc->kids[g];
				}
				kc->nkids = 0;
				continue;
			}
			if (nk == cap) {
				cap = cap == 0 ? 16 : cap * 2;
				kids = xreallocarray(kids, cap, sizeof(*kids));
			}
			kids[nk++] = kid;
		}
		c = &t->c[x];
		c->nkids = 0;
		for (uint32_t k = 0; k < nk; k++)
			add_kid(t, x, kids[k]);
	}
	free(kids);
	free(order);
}

/* the thread subject of a root child: its own or its first child's */
static uint32_t subject_msg(const struct threader *t, uint32_t x)
{
	const struct container *c = &t->c[x];
	if (c->msg == NONE)
		return c->nkids > 0 ? t->c[c->kids[0]].msg : NONE;
	return c->msg;
}

struct subj {
	const char *base;
	uint32_t container;
};

static int cmp_subj(const void *pa, const void *pb)
{
	const struct subj *a = pa, *b = pb;
	return imap_sort_casecmp(a->base, strlen(a->base), b->base, strlen(b->base));
}

/* step 5: gather threads with the same base subject */
static void gather_subjects(struct threader *t)
{
	uint32_t nroot = t->c[t->root].nkids;
	uint32_t *roots = xcalloc(nroot + 1, sizeof(*roots));
	memcpy(roots, t->c[t->root].kids, nroot * sizeof(*roots));
	struct subj *table = xcalloc(nroot + 1, sizeof(*table));
	size_t ntable = 0;

	/* (B) one message per subject: a table sorted by subject */
	for (uint32_t i = 0; i < nroot; i++) {
		uint32_t m = subject_msg(t, roots[i]);
		if (m == NONE || t->info[m].base[0] == '\0')
			continue;
		table[ntable].base = t->info[m].base;
		table[ntable].container = roots[i];
		ntable++;
	}
	/* stable by root order: sort by subject, ties keep order (index) */
	for (size_t i = 1; i < ntable; i++) {
		struct subj s = table[i];
		size_t j = i;
		while (j > 0 && cmp_subj(&table[j - 1], &s) > 0) {
			table[j] = table[j - 1];
			j--;
		}
		table[j] = s;
	}
	/* collapse runs: the chosen container per subject */
	size_t nuniq = 0;
	for (size_t i = 0; i < ntable;) {
		size_t j = i;
		uint32_t chosen = table[i].container;
		for (j = i + 1; j < ntable && cmp_subj(&table[i], &table[j]) == 0; j++) {
			uint32_t cur = table[j].container;
			const struct container *tc = &t->c[chosen], *cc = &t->c[cur];
			if (tc->msg != NONE && (cc->msg == NONE || (t->info[tc->msg].refwd &&
			                                            !t->info[cc->msg].refwd)))
				chosen = cur;
		}
		table[nuniq].base = table[i].base;
		table[nuniq].container = chosen;
		nuniq++;
		i = j;
	}

	/* (C) merge */
	for (uint32_t i = 0; i < nroot; i++) {
		uint32_t cur = roots[i];
		uint32_t m = subject_msg(t, cur);
		if (m == NONE || t->info[m].base[0] == '\0')
			continue;
		struct subj key = {t->info[m].base, 0};
		struct subj *e = bsearch(&key, table, nuniq, sizeof(*table), cmp_subj);
		if (e == NULL || e->container == cur)
			continue;
		uint32_t tab = e->container;
		struct container *tc = &t->c[tab], *cc = &t->c[cur];
		if (tc->msg == NONE && cc->msg == NONE) {
			remove_kid(t, cur);
			uint32_t nk = t->c[cur].nkids;
			uint32_t *kids = t->c[cur].kids;
			t->c[cur].kids = NULL;
			t->c[cur].nkids = t->c[cur].cap = 0;
			for (uint32_t k = 0; k < nk; k++)
				add_kid(t, tab, kids[k]);
			free(kids);
		} else if (tc->msg == NONE) {
			remove_kid(t, cur);
			add_kid(t, tab, cur);
		} else if (cc->msg != NONE && t->info[cc->msg].refwd && !t->info[tc->msg].refwd) {
			remove_kid(t, cur);
			add_kid(t, tab, cur);
		} else {
			uint32_t d = new_container(t, NULL);
			/* the dummy takes the table message's place at the root */
			struct container *root = &t->c[t->root];
			for (uint32_t k = 0; k < root->nkids; k++)
				if (root->kids[k] == tab)
					root->kids[k] = d;
			t->c[d].parent = t->root;
			t->c[tab].parent = NONE;
			remove_kid(t, cur);
			add_kid(t, d, tab);
			add_kid(t, d, cur);
			e->container = d;
		}
	}
	free(table);
	free(roots);
}

static void format(const struct threader *t, struct buf *out)
{
	struct frame {
		uint32_t node, idx;
	} *stack = NULL;
	uint32_t sp = 0, cap = 0;
	const struct container *root = &t->c[t->root];

	for (uint32_t r = 0; r < root->nkids; r++) {
		buf_append_c(out, '(');
		uint32_t x = root->kids[r];
		bool first = true;
		for (;;) {
			if (first) {
				first = false;
			} else {
				/* continue the frame on top of the stack */
				if (sp == 0)
					break;
				struct frame *f = &stack[sp - 1];
				if (f->idx > 0)
					buf_append_c(out, ')');
				if (f->idx == t->c[f->node].nkids) {
					sp--;
					continue;
				}
				buf_append_c(out, '(');
				x = t->c[f->node].kids[f->idx++];
			}
			/* visit x: a chain of single children, then a frame */
			for (;;) {
				const struct container *c = &t->c[x];
				if (c->msg != NONE)
					buf_appendf(out, "%u", t->in[c->msg].num);
				if (c->nkids == 0)
					break;
				if (c->nkids == 1 && c->msg != NONE) {
					buf_append_c(out, ' ');
					x = c->kids[0];
					continue;
				}
				if (c->msg != NONE)
					buf_append_c(out, ' ');
				if (sp == cap) {
					cap = cap == 0 ? 16 : cap * 2;
					stack = xreallocarray(stack, cap, sizeof(*stack));
				}
				stack[sp].node = x;
				stack[sp].idx = 0;
				sp++;
				break;
			}
		}
		buf_append_c(out, ')');
	}
	free(stack);
}

/* ORDEREDSUBJECT: (base subject, date, seq) */
struct os_item {
	const char *base;
	const struct container *c;
	uint32_t x;
};

static int cmp_os(const void *pa, const void *pb)
{
	const struct os_item *a = pa, *b = pb;
	int r = imap_sort_casecmp(a->base, strlen(a->base), b->base, strlen(b->base));
	return r != 0 ? r : cmp_date(a->c, b->c);
}

static void threader_init(struct threader *t, const struct imap_thread_input *in, size_t n)
{
	struct buf b = BUF_INIT;
	memset(t, 0, sizeof(*t));
	t->in = in;
	t->n = n;
	t->info = xcalloc(n + 1, sizeof(*t->info));
	for (size_t i = 0; i < n; i++) {
		buf_reset(&b);
		if (in[i].subject != NULL)
			t->info[i].refwd =
			    imap_sort_base_subject(in[i].subject, strlen(in[i].subject), &b);
		t->info[i].base = xstrndup(b.data != NULL ? b.data : "", b.len);
		t->info[i].date = imap_sort_sent_date(
		    in[i].date, in[i].date != NULL ? strlen(in[i].date) : 0, in[i].internal_date);
	}
	buf_free(&b);
}

static void threader_free(struct threader *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->info[i].base);
	free(t->info);
	for (uint32_t i = 0; i < t->count; i++) {
		free(t->c[i].kids);
		free(t->c[i].id);
	}
	free(t->c);
	free(t->table);
}

/* message container of input i: a leaf with its sort key */
static void set_msg(struct threader *t, uint32_t x, size_t i)
{
	t->c[x].msg = (uint32_t)i;
	t->c[x].date = t->info[i].date;
	t->c[x].seq = t->in[i].seq;
}

static void build_references(struct threader *t)
{
	struct buf id = BUF_INIT;
	uint32_t *refs = xcalloc(IMAP_THREAD_REFS_MAX, sizeof(*refs));
	bool created;

	t->table_size = 64;
	while (t->table_size < t->n * 4 && t->table_size < (1u << 30))
		t->table_size *= 2;
	t->table = xcalloc(t->table_size, sizeof(*t->table));
	memset(t->table, 0xff, t->table_size * sizeof(*t->table));

	for (size_t i = 0; i < t->n; i++) {
		const struct imap_thread_input *m = &t->in[i];
		uint32_t x = NONE;
		size_t pos = 0;

		/* (1A) the message's own container */
		buf_reset(&id);
		if (m->message_id != NULL &&
		    imap_thread_msgid_next(m->message_id, strlen(m->message_id), &pos, &id)) {
			x = lookup(t, id.data, id.len, &created);
			if (t->c[x].msg != NONE)
				x = NONE; /* a duplicate: unique instead */
		}
		if (x == NONE)
			x = new_container(t, NULL);
		set_msg(t, x, i);

		/* (1B) the references, chained; the last IMAP_THREAD_REFS_MAX */
		unsigned int nrefs = 0, first = 0;
		const char *src = m->references;
		for (int pass = 0; pass < 2 && nrefs == 0; pass++) {
			if (pass == 1)
				src = m->in_reply_to;
			if (src == NULL)
				continue;
			size_t len = strlen(src);
			pos = 0;
			buf_reset(&id);
			unsigned int total = 0;
			while (imap_thread_msgid_next(src, len, &pos, &id)) {
				buf_append_c(&id, '\0');
				total++;
				if (pass == 1)
					break; /* In-Reply-To: the first ID only */
			}
			/* ids are NUL-separated in id; keep the last REFS_MAX */
			nrefs = total < IMAP_THREAD_REFS_MAX ? total : IMAP_THREAD_REFS_MAX;
			first = total - nrefs;
			const char *p = id.data;
			for (unsigned int k = 0, r = 0; k < total; k++) {
				size_t l = strlen(p);
				if (k >= first)
					refs[r++] = lookup(t, p, l, &created);
				p += l + 1;
			}
		}
		for (unsigned int k = 0; k + 1 < nrefs; k++) {
			uint32_t a = refs[k], b = refs[k + 1];
			if (t->c[b].parent == NONE && !would_loop(t, a, b))
				add_kid(t, a, b);
		}
		/* (1C) the last reference is the parent */
		remove_kid(t, x);
		if (nrefs > 0 && !would_loop(t, refs[nrefs - 1], x))
			add_kid(t, refs[nrefs - 1], x);
	}
	free(refs);
	buf_free(&id);
}

void imap_thread_build(enum imap_thread_algorithm alg, const struct imap_thread_input *in, size_t n,
                       struct buf *out)
{
	struct threader t;
	if (n == 0)
		return;
	threader_init(&t, in, n);
	if (alg == IMAP_THREAD_REFERENCES) {
		build_references(&t);
		/* (2) the root set */
		uint32_t count = t.count;
		t.root = new_container(&t, NULL);
		for (uint32_t i = 0; i < count; i++)
			if (t.c[i].parent == NONE)
				add_kid(&t, t.root, i);
		prune(&t);           /* (4) */
		sort_all(&t);        /* the root set in date order */
		gather_subjects(&t); /* (5) */
		sort_all(&t);        /* (6) */
	} else {
		/* ORDEREDSUBJECT: by base subject, then date; one thread each */
		uint32_t *idx = xcalloc(n, sizeof(*idx));
		t.root = new_container(&t, NULL);
		for (size_t i = 0; i < n; i++) {
			uint32_t x = new_container(&t, NULL);
			set_msg(&t, x, i);
			idx[i] = x;
		}
		struct os_item *v = xcalloc(n, sizeof(*v));
		for (size_t i = 0; i < n; i++) {
			v[i].base = t.info[i].base;
			v[i].c = &t.c[idx[i]];
			v[i].x = idx[i];
		}
		qsort(v, n, sizeof(*v), cmp_os);
		uint32_t head = NONE;
		const char *head_base = NULL;
		for (size_t i = 0; i < n; i++) {
			if (head == NONE || imap_sort_casecmp(head_base, strlen(head_base),
			                                      v[i].base, strlen(v[i].base)) != 0) {
				head = v[i].x;
				head_base = v[i].base;
				add_kid(&t, t.root, head);
			} else {
				add_kid(&t, head, v[i].x);
			}
		}
		free(v);
		free(idx);
		sort_all(&t);
	}
	format(&t, out);
	threader_free(&t);
}

int imap_thread_parse_algorithm(const struct imap_arg *arg, enum imap_thread_algorithm *alg_r,
                                const char **error_r)
{
	if (arg != NULL && imap_arg_atom_equals(arg, "REFERENCES")) {
		*alg_r = IMAP_THREAD_REFERENCES;
		return 0;
	}
	if (arg != NULL && imap_arg_atom_equals(arg, "ORDEREDSUBJECT")) {
		*alg_r = IMAP_THREAD_ORDEREDSUBJECT;
		return 0;
	}
	*error_r = "Unknown thread algorithm";
	return -1;
}

unsigned int imap_thread_needs(enum imap_thread_algorithm alg, const char *headers_r[5],
                               unsigned int *nheaders_r)
{
	unsigned int n = 0;
	headers_r[n++] = "Subject";
	headers_r[n++] = "Date";
	if (alg == IMAP_THREAD_REFERENCES) {
		headers_r[n++] = "Message-ID";
		headers_r[n++] = "References";
		headers_r[n++] = "In-Reply-To";
	}
	*nheaders_r = n;
	return IMAP_SEARCH_NEED_HEADERS | IMAP_SEARCH_NEED_INTERNAL_DATE;
}

int imap_thread(enum imap_thread_algorithm alg, const struct imap_search_ops *ops,
                const struct imap_search_msg *msgs, size_t n, bool uid, struct buf *out,
                const char **error_r)
{
	static const char *const names[5] = {"Subject", "Date", "Message-ID", "References",
	                                     "In-Reply-To"};
	unsigned int nnames = alg == IMAP_THREAD_REFERENCES ? 5 : 2;
	struct imap_thread_input *in = xcalloc(n + 1, sizeof(*in));
	struct buf *vals = xcalloc((n + 1) * 5, sizeof(*vals));
	int ret = 0;

	for (size_t i = 0; i < n && ret == 0; i++) {
		in[i].num = uid ? msgs[i].uid : msgs[i].seq;
		in[i].seq = msgs[i].seq;
		in[i].internal_date = ops->internal_date(msgs[i].ctx);
		const char **fields[5] = {&in[i].subject, &in[i].date, &in[i].message_id,
		                          &in[i].references, &in[i].in_reply_to};
		for (unsigned int k = 0; k < nnames; k++) {
			struct buf *v = &vals[i * 5 + k];
			int r = ops->header != NULL ? ops->header(msgs[i].ctx, names[k], v) : 0;
			if (r < 0) {
				*error_r = "Failed to read message header";
				ret = -1;
				break;
			}
			if (r > 0) {
				buf_truncate(v, strnlen(v->data, v->len));
				*fields[k] = v->data;
			}
		}
	}
	if (ret == 0 && n > 0) {
		buf_append_c(out, ' ');
		imap_thread_build(alg, in, n, out);
	}
	for (size_t i = 0; i < n * 5; i++)
		buf_free(&vals[i]);
	free(vals);
	free(in);
	return ret;
}
