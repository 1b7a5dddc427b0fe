/*
 * imap-search.c - SEARCH programs: parsing, preparing, evaluating and the
 * responses (see imap-search.h and docs/imap-search.md).
 */
#include "imap/imap-search.h"

#include "core/xalloc.h"
#include "mail/date.h"
#include "mail/mime.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum key {
	K_ALL,
	K_AND,
	K_OR,
	K_NOT,
	K_SEQSET,
	K_UIDSET,
	K_SAVED, /* "$" (also "UID $") */
	K_FLAG,  /* flag set */
	K_NOFLAG,
	K_NEW,
	K_OLD,
	K_KEYWORD,
	K_LARGER,
	K_SMALLER,
	K_BEFORE,
	K_ON,
	K_SINCE,
	K_SENTBEFORE,
	K_SENTON,
	K_SENTSINCE,
	K_SAVEDBEFORE,
	K_SAVEDON,
	K_SAVEDSINCE,
	K_SAVEDATESUPPORTED,
	K_OLDER,
	K_YOUNGER,
	K_MODSEQ,
	K_HEADER,  /* HEADER name value: the decoded value */
	K_DECODED, /* FROM TO CC BCC SUBJECT: decoded value */
	K_BODY,
	K_TEXT,
};

/* costs: relative, to order AND / OR terms */
#define COST_CHEAP  1
#define COST_NUMBER 2
#define COST_HEADER 20
#define COST_ALLHDR 40
#define COST_BODY   1000

struct node {
	enum key type;
	unsigned int cost;
	struct node **kids;
	unsigned int nkids;
	struct imap_seqset set, resolved;
	unsigned int flag;
	uint64_t num;
	int64_t day;    /* date keys: days since the epoch */
	int64_t t0, t1; /* internal-date keys: [t0, t1) in local time */
	char *str;      /* folded needle; KEYWORD: the name */
	size_t str_len;
	unsigned int hdr; /* header index */
};

struct hdr_cache {
	char *name;
	unsigned int gen;
	int count;
	struct buf raw;     /* values, each followed by '\0' */
	struct buf decoded; /* decoded and folded, each followed by '\0' */
	bool have_decoded;
};

struct imap_search_program {
	struct node *root;
	unsigned int needs;
	unsigned int ret;
	bool esearch, has_modseq, uses_saved, has_older;
	struct hdr_cache *hdrs;
	unsigned int nhdrs;
	const struct imap_seqset *saved;
	int64_t now;

	/* per-message caches, valid while their gen equals gen */
	unsigned int gen;
	unsigned int body_gen, text_gen, date_gen;
	struct buf body, text, scratch;
	int64_t sent_day;
};

struct pstate {
	struct imap_search_program *prog;
	unsigned int max_depth, max_keys, nkeys;
	size_t max_string;
	const char *error;
	int err;
};

static struct node *node_new(struct pstate *ps, enum key type, unsigned int cost)
{
	struct node *n = xcalloc(1, sizeof(*n));
	n->type = type;
	n->cost = cost;
	imap_seqset_init(&n->set);
	imap_seqset_init(&n->resolved);
	ps->nkeys++;
	return n;
}

static void node_free(struct node *n)
{
	if (n == NULL)
		return;
	for (unsigned int i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	imap_seqset_free(&n->set);
	imap_seqset_free(&n->resolved);
	free(n->str);
	free(n);
}

static void node_add(struct node *parent, struct node *kid)
{
	parent->kids = xreallocarray(parent->kids, parent->nkids + 1, sizeof(*parent->kids));
	parent->kids[parent->nkids++] = kid;
}

static struct node *fail(struct pstate *ps, int err, const char *error)
{
	if (ps->error == NULL) {
		ps->error = error;
		ps->err = err;
	}
	return NULL;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *v_r)
{
	uint64_t v = 0;
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		unsigned int d = (unsigned int)(*s - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*v_r = v;
	return true;
}

int imap_search_parse_date(const char *s, size_t len, int64_t *y_r, unsigned int *m_r,
                           unsigned int *d_r)
{
	size_t i = 0;
	unsigned int d = 0, y = 0;
	while (i < len && i < 2 && s[i] >= '0' && s[i] <= '9')
		d = d * 10 + (unsigned int)(s[i++] - '0');
	if (i == 0 || i >= len || s[i] != '-' || len - i - 1 < 3)
		return -1;
	i++;
	unsigned int m = mail_date_month(s + i, 3, false);
	i += 3;
	if (m == 0 || i >= len || s[i] != '-' || len - i - 1 != 4)
		return -1;
	for (i++; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		y = y * 10 + (unsigned int)(s[i] - '0');
	}
	if (d < 1 || d > mail_date_days_in_month(y, m))
		return -1;
	*y_r = y;
	*m_r = m;
	*d_r = d;
	return 0;
}

static int64_t local_midnight(int64_t day)
{
	int64_t y;
	unsigned int m, d;
	struct tm tm;
	mail_date_civil_from_days(day, &y, &m, &d);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (int)(y - 1900);
	tm.tm_mon = (int)m - 1;
	tm.tm_mday = (int)d;
	tm.tm_isdst = -1;
	time_t t = mktime(&tm);
	if (t == (time_t)-1)
		return day * 86400; /* out of range: UTC */
	return (int64_t)t;
}

static unsigned int header_index(struct imap_search_program *prog, const char *name)
{
	for (unsigned int i = 0; i < prog->nhdrs; i++)
		if (strcasecmp(prog->hdrs[i].name, name) == 0)
			return i;
	prog->hdrs = xreallocarray(prog->hdrs, prog->nhdrs + 1, sizeof(*prog->hdrs));
	memset(&prog->hdrs[prog->nhdrs], 0, sizeof(*prog->hdrs));
	prog->hdrs[prog->nhdrs].name = xstrdup(name);
	prog->needs |= IMAP_SEARCH_NEED_HEADERS;
	return prog->nhdrs++;
}

static bool take_astring(struct pstate *ps, const struct imap_arg *args, unsigned int count,
                         unsigned int *pos, const char **s_r, size_t *len_r)
{
	if (*pos >= count) {
		fail(ps, IMAP_SEARCH_ERR_BAD, "Missing argument for search key");
		return false;
	}
	if (!imap_arg_astring(&args[*pos], s_r, len_r)) {
		fail(ps, IMAP_SEARCH_ERR_BAD, "Invalid argument for search key");
		return false;
	}
	if (*len_r > ps->max_string) {
		fail(ps, IMAP_SEARCH_ERR_BAD, "Search string too long");
		return false;
	}
	(*pos)++;
	return true;
}

static bool take_atom(struct pstate *ps, const struct imap_arg *args, unsigned int count,
                      unsigned int *pos, const char **s_r)
{
	size_t len;
	if (*pos >= count) {
		fail(ps, IMAP_SEARCH_ERR_BAD, "Missing argument for search key");
		return false;
	}
	/* numbers and dates come as atoms, dates also quoted */
	if (!imap_arg_atom(&args[*pos], s_r) &&
	    !(args[*pos].type == IMAP_ARG_QUOTED && imap_arg_string(&args[*pos], s_r, &len))) {
		fail(ps, IMAP_SEARCH_ERR_BAD, "Invalid argument for search key");
		return false;
	}
	(*pos)++;
	return true;
}

static struct node *new_string_node(struct pstate *ps, enum key type, unsigned int cost,
                                    const char *s, size_t len)
{
	struct node *n = node_new(ps, type, cost);
	struct buf b = BUF_INIT;
	imap_search_fold(s, len, &b);
	n->str_len = b.len;
	n->str = b.data != NULL ? buf_steal(&b) : xstrdup("");
	return n;
}

static struct node *parse_date_key(struct pstate *ps, enum key type, const struct imap_arg *args,
                                   unsigned int count, unsigned int *pos)
{
	const char *s;
	int64_t y;
	unsigned int m, d;
	if (!take_atom(ps, args, count, pos, &s))
		return NULL;
	if (imap_search_parse_date(s, strlen(s), &y, &m, &d) < 0)
		return fail(ps, IMAP_SEARCH_ERR_BAD, "Invalid search date");
	struct node *n = node_new(ps, type, COST_NUMBER);
	n->day = mail_date_days_from_civil(y, m, d);
	switch (type) {
	case K_BEFORE:
	case K_ON:
	case K_SINCE:
		ps->prog->needs |= IMAP_SEARCH_NEED_INTERNAL_DATE;
		break;
	case K_SAVEDBEFORE:
	case K_SAVEDON:
	case K_SAVEDSINCE:
		ps->prog->needs |= IMAP_SEARCH_NEED_SAVE_DATE;
		break;
	default: /* SENT*: the Date: header */
		n->hdr = header_index(ps->prog, "Date");
		n->cost = COST_HEADER;
		break;
	}
	n->t0 = local_midnight(n->day);
	n->t1 = local_midnight(n->day + 1);
	return n;
}

static const struct {
	const char *name;
	enum key type;
	unsigned int flag;
} simple_keys[] = {
    {"ALL", K_ALL, 0},
    {"ANSWERED", K_FLAG, IMAP_SEARCH_F_ANSWERED},
    {"DELETED", K_FLAG, IMAP_SEARCH_F_DELETED},
    {"DRAFT", K_FLAG, IMAP_SEARCH_F_DRAFT},
    {"FLAGGED", K_FLAG, IMAP_SEARCH_F_FLAGGED},
    {"NEW", K_NEW, 0},
    {"OLD", K_OLD, 0},
    {"RECENT", K_FLAG, IMAP_SEARCH_F_RECENT},
    {"SEEN", K_FLAG, IMAP_SEARCH_F_SEEN},
    {"UNANSWERED", K_NOFLAG, IMAP_SEARCH_F_ANSWERED},
    {"UNDELETED", K_NOFLAG, IMAP_SEARCH_F_DELETED},
    {"UNDRAFT", K_NOFLAG, IMAP_SEARCH_F_DRAFT},
    {"UNFLAGGED", K_NOFLAG, IMAP_SEARCH_F_FLAGGED},
    {"UNSEEN", K_NOFLAG, IMAP_SEARCH_F_SEEN},
    {"SAVEDATESUPPORTED", K_SAVEDATESUPPORTED, 0},
};

static const struct {
	const char *name;
	enum key type;
} date_keys[] = {
    {"BEFORE", K_BEFORE},           {"ON", K_ON},           {"SINCE", K_SINCE},
    {"SENTBEFORE", K_SENTBEFORE},   {"SENTON", K_SENTON},   {"SENTSINCE", K_SENTSINCE},
    {"SAVEDBEFORE", K_SAVEDBEFORE}, {"SAVEDON", K_SAVEDON}, {"SAVEDSINCE", K_SAVEDSINCE},
};

static const char *const decoded_headers[][2] = {
    {"FROM", "From"}, {"TO", "To"}, {"CC", "Cc"}, {"BCC", "Bcc"}, {"SUBJECT", "Subject"},
};

static const struct {
	const char *name;
	unsigned int flag;
} system_flags[] = {
    {"\\Answered", IMAP_SEARCH_F_ANSWERED}, {"\\Flagged", IMAP_SEARCH_F_FLAGGED},
    {"\\Deleted", IMAP_SEARCH_F_DELETED},   {"\\Seen", IMAP_SEARCH_F_SEEN},
    {"\\Draft", IMAP_SEARCH_F_DRAFT},       {"\\Recent", IMAP_SEARCH_F_RECENT},
};

static struct node *parse_key(struct pstate *ps, const struct imap_arg *args, unsigned int count,
                              unsigned int *pos, unsigned int depth);

/* parse_and: the keys of args[*pos..count) into one AND node */
static struct node *parse_and(struct pstate *ps, const struct imap_arg *args, unsigned int count,
                              unsigned int depth)
{
	unsigned int pos = 0;
	if (count == 0)
		return fail(ps, IMAP_SEARCH_ERR_BAD, "Empty search key list");
	struct node *n = node_new(ps, K_AND, 0);
	while (pos < count) {
		struct node *k = parse_key(ps, args, count, &pos, depth + 1);
		if (k == NULL) {
			node_free(n);
			return NULL;
		}
		node_add(n, k);
	}
	return n;
}

static bool is_seqset_atom(const char *s)
{
	return (*s >= '0' && *s <= '9') || *s == '*' || *s == '$';
}

static struct node *parse_seqset(struct pstate *ps, enum key type, const char *s)
{
	struct node *n = node_new(ps, type, COST_CHEAP);
	const char *error;
	if (imap_seqset_parse(&n->set, s, strlen(s), &error) < 0) {
		node_free(n);
		return fail(ps, IMAP_SEARCH_ERR_BAD, "Invalid sequence set in search");
	}
	if (n->set.last_result) {
		n->type = K_SAVED;
		ps->prog->uses_saved = true;
	}
	return n;
}

static struct node *parse_modseq(struct pstate *ps, const struct imap_arg *args, unsigned int count,
                                 unsigned int *pos)
{
	const char *s;
	uint64_t v;
	if (*pos < count && !(args[*pos].type == IMAP_ARG_ATOM && args[*pos].str[0] >= '0' &&
	                      args[*pos].str[0] <= '9')) {
		/* entry-name entry-type-req */
		size_t len;
		const char *type;
		if (!imap_arg_string(&args[*pos], &s, &len) || strncasecmp(s, "/flags/", 7) != 0)
			return fail(ps, IMAP_SEARCH_ERR_BAD, "Invalid MODSEQ entry name");
		(*pos)++;
		if (!take_atom(ps, args, count, pos, &type))
			return NULL;
		if (strcasecmp(type, "priv") != 0 && strcasecmp(type, "shared") != 0 &&
		    strcasecmp(type, "all") != 0)
			return fail(ps, IMAP_SEARCH_ERR_BAD, "Invalid MODSEQ entry type");
	}
	if (!take_atom(ps, args, count, pos, &s))
		return NULL;
	if (!parse_u64(s, INT64_MAX, &v))
		return fail(ps, IMAP_SEARCH_ERR_BAD, "Invalid MODSEQ value");
	struct node *n = node_new(ps, K_MODSEQ, COST_NUMBER);
	n->num = v;
	ps->prog->needs |= IMAP_SEARCH_NEED_MODSEQ;
	ps->prog->has_modseq = true;
	return n;
}

static struct node *parse_key(struct pstate *ps, const struct imap_arg *args, unsigned int count,
                              unsigned int *pos, unsigned int depth)
{
	const struct imap_arg *arg = &args[*pos];
	const char *word, *s;
	size_t len;
	uint64_t v;

	if (depth > ps->max_depth)
		return fail(ps, IMAP_SEARCH_ERR_BAD, "Search nesting too deep");
	if (ps->nkeys >= ps->max_keys)
		return fail(ps, IMAP_SEARCH_ERR_BAD, "Too many search keys");
	if (arg->type == IMAP_ARG_LIST) {
		(*pos)++;
		return parse_and(ps, arg->list, arg->count, depth);
	}
	if (!imap_arg_atom(arg, &word))
		return fail(ps, IMAP_SEARCH_ERR_BAD, "Invalid search key");
	(*pos)++;
	if (is_seqset_atom(word))
		return parse_seqset(ps, K_SEQSET, word);

	for (size_t i = 0; i < sizeof(simple_keys) / sizeof(simple_keys[0]); i++) {
		if (strcasecmp(word, simple_keys[i].name) == 0) {
			struct node *n = node_new(ps, simple_keys[i].type, COST_CHEAP);
			n->flag = simple_keys[i].flag;
			return n;
		}
	}
	for (size_t i = 0; i < sizeof(date_keys) / sizeof(date_keys[0]); i++)
		if (strcasecmp(word, date_keys[i].name) == 0)
			return parse_date_key(ps, date_keys[i].type, args, count, pos);
	for (size_t i = 0; i < sizeof(decoded_headers) / sizeof(decoded_headers[0]); i++) {
		if (strcasecmp(word, decoded_headers[i][0]) == 0) {
			if (!take_astring(ps, args, count, pos, &s, &len))
				return NULL;
			struct node *n = new_string_node(ps, K_DECODED, COST_HEADER, s, len);
			n->hdr = header_index(ps->prog, decoded_headers[i][1]);
			return n;
		}
	}
	if (strcasecmp(word, "NOT") == 0) {
		if (*pos >= count)
			return fail(ps, IMAP_SEARCH_ERR_BAD, "Missing argument for NOT");
		struct node *k = parse_key(ps, args, count, pos, depth + 1);
		if (k == NULL)
			return NULL;
		struct node *n = node_new(ps, K_NOT, 0);
		node_add(n, k);
		return n;
	}
	if (strcasecmp(word, "OR") == 0) {
		struct node *n = node_new(ps, K_OR, 0);
		for (int i = 0; i < 2; i++) {
			if (*pos >= count) {
				node_free(n);
				return fail(ps, IMAP_SEARCH_ERR_BAD, "Missing argument for OR");
			}
			struct node *k = parse_key(ps, args, count, pos, depth + 1);
			if (k == NULL) {
				node_free(n);
				return NULL;
			}
			node_add(n, k);
		}
		return n;
	}
	if (strcasecmp(word, "UID") == 0) {
		if (!take_atom(ps, args, count, pos, &s))
			return NULL;
		if (!is_seqset_atom(s))
			return fail(ps, IMAP_SEARCH_ERR_BAD, "Invalid UID set in search");
		return parse_seqset(ps, K_UIDSET, s);
	}
	if (strcasecmp(word, "KEYWORD") == 0 || strcasecmp(word, "UNKEYWORD") == 0) {
		bool un = word[0] == 'U' || word[0] == 'u';
		if (!take_atom(ps, args, count, pos, &s))
			return NULL;
		struct node *n = NULL;
		for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]); i++) {
			if (strcasecmp(s, system_flags[i].name) == 0) {
				n = node_new(ps, un ? K_NOFLAG : K_FLAG, COST_CHEAP);
				n->flag = system_flags[i].flag;
				return n;
			}
		}
		n = node_new(ps, K_KEYWORD, COST_NUMBER);
		n->str = xstrdup(s);
		n->str_len = strlen(s);
		ps->prog->needs |= IMAP_SEARCH_NEED_KEYWORDS;
		if (!un)
			return n;
		struct node *neg = node_new(ps, K_NOT, 0);
		node_add(neg, n);
		return neg;
	}
	if (strcasecmp(word, "LARGER") == 0 || strcasecmp(word, "SMALLER") == 0) {
		bool larger = word[0] == 'L' || word[0] == 'l';
		if (!take_atom(ps, args, count, pos, &s))
			return NULL;
		if (!parse_u64(s, INT64_MAX, &v))
			return fail(ps, IMAP_SEARCH_ERR_BAD, "Invalid size in search");
		struct node *n = node_new(ps, larger ? K_LARGER : K_SMALLER, COST_NUMBER);
		n->num = v;
		ps->prog->needs |= IMAP_SEARCH_NEED_SIZE;
		return n;
	}
	if (strcasecmp(word, "OLDER") == 0 || strcasecmp(word, "YOUNGER") == 0) {
		bool older = word[0] == 'O' || word[0] == 'o';
		if (!take_atom(ps, args, count, pos, &s))
			return NULL;
		if (!parse_u64(s, UINT32_MAX, &v) || v == 0)
			return fail(ps, IMAP_SEARCH_ERR_BAD, "Invalid interval in search");
		struct node *n = node_new(ps, older ? K_OLDER : K_YOUNGER, COST_NUMBER);
		n->num = v;
		ps->prog->needs |= IMAP_SEARCH_NEED_INTERNAL_DATE;
		return n;
	}
	if (strcasecmp(word, "MODSEQ") == 0)
		return parse_modseq(ps, args, count, pos);
	if (strcasecmp(word, "HEADER") == 0) {
		const char *name;
		size_t name_len;
		if (!take_astring(ps, args, count, pos, &name, &name_len))
			return NULL;
		if (name_len == 0 || memchr(name, '\0', name_len) != NULL)
			return fail(ps, IMAP_SEARCH_ERR_BAD, "Invalid header name in search");
		for (size_t i = 0; i < name_len; i++)
			if ((unsigned char)name[i] <= ' ' || (unsigned char)name[i] >= 127 ||
			    name[i] == ':')
				return fail(ps, IMAP_SEARCH_ERR_BAD,
				            "Invalid header name in search");
		if (!take_astring(ps, args, count, pos, &s, &len))
			return NULL;
		struct node *n = new_string_node(ps, K_HEADER, COST_HEADER, s, len);
		n->hdr = header_index(ps->prog, name);
		return n;
	}
	if (strcasecmp(word, "BODY") == 0 || strcasecmp(word, "TEXT") == 0) {
		bool body = word[0] == 'B' || word[0] == 'b';
		if (!take_astring(ps, args, count, pos, &s, &len))
			return NULL;
		struct node *n = new_string_node(
		    ps, body ? K_BODY : K_TEXT, body ? COST_BODY : COST_BODY + COST_ALLHDR, s, len);
		ps->prog->needs |= IMAP_SEARCH_NEED_BODY;
		if (!body)
			ps->prog->needs |= IMAP_SEARCH_NEED_ALL_HEADERS;
		return n;
	}
	return fail(ps, IMAP_SEARCH_ERR_BAD, "Unknown search key");
}

/* optimize: compute costs bottom-up, order AND terms and OR branches by
 * cost, fold single-term ANDs */
static struct node *optimize(struct node *n)
{
	for (unsigned int i = 0; i < n->nkids; i++)
		n->kids[i] = optimize(n->kids[i]);
	switch (n->type) {
	case K_AND:
		if (n->nkids == 1) {
			struct node *k = n->kids[0];
			n->nkids = 0;
			node_free(n);
			return k;
		}
		/* stable insertion sort by cost */
		for (unsigned int i = 1; i < n->nkids; i++) {
			struct node *k = n->kids[i];
			unsigned int j = i;
			while (j > 0 && n->kids[j - 1]->cost > k->cost) {
				n->kids[j] = n->kids[j - 1];
				j--;
			}
			n->kids[j] = k;
		}
		n->cost = 0;
		for (unsigned int i = 0; i < n->nkids; i++)
			n->cost += n->kids[i]->cost;
		break;
	case K_OR:
		if (n->kids[1]->cost < n->kids[0]->cost) {
			struct node *k = n->kids[0];
			n->kids[0] = n->kids[1];
			n->kids[1] = k;
		}
		n->cost = n->kids[0]->cost + n->kids[1]->cost;
		break;
	case K_NOT:
		n->cost = n->kids[0]->cost;
		break;
	default:
		break;
	}
	return n;
}

static bool charset_ok(const char *s)
{
	return strcasecmp(s, "US-ASCII") == 0 || strcasecmp(s, "UTF-8") == 0;
}

#define BADCHARSET "[BADCHARSET (US-ASCII UTF-8)] Unsupported charset"

int imap_search_parse(const struct imap_arg *args, unsigned int count,
                      const struct imap_search_limits *limits, unsigned int parse_flags,
                      struct imap_search_program **prog_r, const char **error_r)
{
	struct pstate ps;
	unsigned int pos = 0;
	const char *s;
	size_t len;

	memset(&ps, 0, sizeof(ps));
	ps.max_depth = limits != NULL && limits->max_depth != 0 ? limits->max_depth
	                                                        : IMAP_SEARCH_DEPTH_MAX_DEFAULT;
	ps.max_keys = limits != NULL && limits->max_keys != 0 ? limits->max_keys
	                                                      : IMAP_SEARCH_KEYS_MAX_DEFAULT;
	ps.max_string = limits != NULL && limits->max_string != 0 ? limits->max_string
	                                                          : IMAP_SEARCH_STRING_MAX_DEFAULT;
	*prog_r = NULL;
	struct imap_search_program *prog = xcalloc(1, sizeof(*prog));
	ps.prog = prog;

	if ((parse_flags & IMAP_SEARCH_PARSE_RETURN) != 0 && pos < count &&
	    imap_arg_atom_equals(&args[pos], "RETURN")) {
		const struct imap_arg *list;
		unsigned int n;
		pos++;
		if (pos >= count || !imap_arg_list(&args[pos], &list, &n)) {
			fail(&ps, IMAP_SEARCH_ERR_BAD, "Invalid RETURN options");
			goto error;
		}
		pos++;
		prog->esearch = true;
		static const struct {
			const char *name;
			unsigned int bit;
		} opts[] = {{"MIN", IMAP_SEARCH_RETURN_MIN},
		            {"MAX", IMAP_SEARCH_RETURN_MAX},
		            {"ALL", IMAP_SEARCH_RETURN_ALL},
		            {"COUNT", IMAP_SEARCH_RETURN_COUNT},
		            {"SAVE", IMAP_SEARCH_RETURN_SAVE}};
		for (unsigned int i = 0; i < n; i++) {
			unsigned int bit = 0;
			for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
				if (imap_arg_atom_equals(&list[i], opts[k].name))
					bit = opts[k].bit;
			if (bit == 0) {
				fail(&ps, IMAP_SEARCH_ERR_BAD, "Invalid RETURN options");
				goto error;
			}
			prog->ret |= bit;
		}
		if (prog->ret == 0)
			prog->ret = IMAP_SEARCH_RETURN_ALL;
	}
	if ((parse_flags & IMAP_SEARCH_PARSE_CHARSET_FIRST) != 0) {
		if (pos >= count || !imap_arg_astring(&args[pos], &s, &len)) {
			fail(&ps, IMAP_SEARCH_ERR_BAD, "Missing charset");
			goto error;
		}
		pos++;
		if (!charset_ok(s)) {
			fail(&ps, IMAP_SEARCH_ERR_NO, BADCHARSET);
			goto error;
		}
	} else if (pos < count && imap_arg_atom_equals(&args[pos], "CHARSET")) {
		pos++;
		if (pos >= count || !imap_arg_astring(&args[pos], &s, &len)) {
			fail(&ps, IMAP_SEARCH_ERR_BAD, "Missing charset");
			goto error;
		}
		pos++;
		if (!charset_ok(s)) {
			fail(&ps, IMAP_SEARCH_ERR_NO, BADCHARSET);
			goto error;
		}
	}
	if (pos >= count) {
		fail(&ps, IMAP_SEARCH_ERR_BAD, "Missing search keys");
		goto error;
	}
	prog->root = parse_and(&ps, args + pos, count - pos, 0);
	if (prog->root == NULL)
		goto error;
	prog->root = optimize(prog->root);
	*prog_r = prog;
	return 0;
error:
	imap_search_program_free(&prog);
	*error_r = ps.error != NULL ? ps.error : "Invalid search";
	return ps.err != 0 ? ps.err : IMAP_SEARCH_ERR_BAD;
}

void imap_search_program_free(struct imap_search_program **progp)
{
	struct imap_search_program *prog = *progp;
	if (prog == NULL)
		return;
	*progp = NULL;
	node_free(prog->root);
	for (unsigned int i = 0; i < prog->nhdrs; i++) {
		free(prog->hdrs[i].name);
		buf_free(&prog->hdrs[i].raw);
		buf_free(&prog->hdrs[i].decoded);
	}
	free(prog->hdrs);
	buf_free(&prog->body);
	buf_free(&prog->text);
	buf_free(&prog->scratch);
	free(prog);
}

unsigned int imap_search_needs(const struct imap_search_program *prog)
{
	return prog->needs;
}

unsigned int imap_search_header_count(const struct imap_search_program *prog)
{
	return prog->nhdrs;
}

const char *imap_search_header_name(const struct imap_search_program *prog, unsigned int i)
{
	return i < prog->nhdrs ? prog->hdrs[i].name : NULL;
}

unsigned int imap_search_return(const struct imap_search_program *prog)
{
	return prog->ret;
}

bool imap_search_esearch(const struct imap_search_program *prog)
{
	return prog->esearch;
}

bool imap_search_has_modseq(const struct imap_search_program *prog)
{
	return prog->has_modseq;
}

bool imap_search_uses_saved(const struct imap_search_program *prog)
{
	return prog->uses_saved;
}

static void prepare_node(struct node *n, const struct imap_search_context *ctx)
{
	for (unsigned int i = 0; i < n->nkids; i++)
		prepare_node(n->kids[i], ctx);
	if (n->type == K_SEQSET || n->type == K_UIDSET) {
		imap_seqset_clear(&n->resolved);
		for (unsigned int i = 0; i < n->set.count; i++)
			imap_seqset_add(&n->resolved, n->set.ranges[i].lo, n->set.ranges[i].hi);
		imap_seqset_resolve(&n->resolved, n->type == K_SEQSET ? ctx->exists : ctx->max_uid);
	}
}

void imap_search_prepare(struct imap_search_program *prog, const struct imap_search_context *ctx)
{
	prog->saved = ctx->saved_uids;
	prog->now = ctx->now;
	prepare_node(prog->root, ctx);
}

/* fetch header h of the message into the cache */
static int get_header(struct imap_search_program *prog, const struct imap_search_ops *ops,
                      const struct imap_search_msg *msg, unsigned int h, const char **error_r)
{
	struct hdr_cache *c = &prog->hdrs[h];
	if (c->gen == prog->gen)
		return 0;
	buf_reset(&c->raw);
	c->have_decoded = false;
	c->count = ops->header == NULL ? 0 : ops->header(msg->ctx, c->name, &c->raw);
	if (c->count < 0) {
		*error_r = "Failed to read message header";
		return -1;
	}
	c->gen = prog->gen;
	return 0;
}

static const struct buf *header_decoded(struct imap_search_program *prog, struct hdr_cache *c)
{
	if (!c->have_decoded) {
		buf_reset(&c->decoded);
		size_t pos = 0;
		while (pos < c->raw.len) {
			const char *v = c->raw.data + pos;
			size_t vlen = strnlen(v, c->raw.len - pos);
			buf_reset(&prog->scratch);
			mime_decode_words(v, vlen, &prog->scratch);
			imap_search_fold(prog->scratch.data, prog->scratch.len, &c->decoded);
			buf_append_c(&c->decoded, '\0');
			pos += vlen + 1;
		}
		c->have_decoded = true;
	}
	return &c->decoded;
}

static bool contains(const struct buf *hay, const struct node *n)
{
	if (n->str_len == 0)
		return true;
	return hay->len > 0 && memmem(hay->data, hay->len, n->str, n->str_len) != NULL;
}

static int get_sent_day(struct imap_search_program *prog, const struct imap_search_ops *ops,
                        const struct imap_search_msg *msg, unsigned int h, const char **error_r)
{
	if (prog->date_gen == prog->gen)
		return 0;
	if (get_header(prog, ops, msg, h, error_r) < 0)
		return -1;
	struct hdr_cache *c = &prog->hdrs[h];
	int64_t utc;
	int off;
	/* as Dovecot: a missing or unparsable Date: is 1 Jan 1970 */
	if (c->count > 0 && mail_date_parse(c->raw.data, strlen(c->raw.data), &utc, &off) == 0) {
		int64_t local = utc + (int64_t)off * 60;
		prog->sent_day = (local >= 0 ? local : local - 86399) / 86400;
	} else {
		prog->sent_day = 0;
	}
	prog->date_gen = prog->gen;
	return 0;
}

static int get_body(struct imap_search_program *prog, const struct imap_search_ops *ops,
                    const struct imap_search_msg *msg, const char **error_r)
{
	if (prog->body_gen == prog->gen)
		return 0;
	buf_reset(&prog->scratch);
	if (ops->body_text == NULL || ops->body_text(msg->ctx, &prog->scratch) < 0) {
		*error_r = "Failed to read message body";
		return -1;
	}
	buf_reset(&prog->body);
	imap_search_fold(prog->scratch.data, prog->scratch.len, &prog->body);
	prog->body_gen = prog->gen;
	return 0;
}

static int get_text(struct imap_search_program *prog, const struct imap_search_ops *ops,
                    const struct imap_search_msg *msg, const char **error_r)
{
	if (prog->text_gen == prog->gen)
		return 0;
	struct buf raw = BUF_INIT;
	if (ops->all_headers == NULL || ops->all_headers(msg->ctx, &raw) < 0) {
		buf_free(&raw);
		*error_r = "Failed to read message header";
		return -1;
	}
	buf_reset(&prog->scratch);
	mime_decode_words(raw.data != NULL ? raw.data : "", raw.len, &prog->scratch);
	buf_free(&raw);
	buf_reset(&prog->text);
	imap_search_fold(prog->scratch.data, prog->scratch.len, &prog->text);
	prog->text_gen = prog->gen;
	return 0;
}

static int eval(struct imap_search_program *prog, const struct node *n,
                const struct imap_search_ops *ops, const struct imap_search_msg *m,
                const char **error_r)
{
	int ret;
	int64_t t;

	switch (n->type) {
	case K_ALL:
		return 1;
	case K_AND:
		for (unsigned int i = 0; i < n->nkids; i++) {
			ret = eval(prog, n->kids[i], ops, m, error_r);
			if (ret <= 0)
				return ret;
		}
		return 1;
	case K_OR:
		ret = eval(prog, n->kids[0], ops, m, error_r);
		if (ret != 0)
			return ret;
		return eval(prog, n->kids[1], ops, m, error_r);
	case K_NOT:
		ret = eval(prog, n->kids[0], ops, m, error_r);
		return ret < 0 ? ret : !ret;
	case K_SEQSET:
		return imap_seqset_contains(&n->resolved, m->seq);
	case K_UIDSET:
		return imap_seqset_contains(&n->resolved, m->uid);
	case K_SAVED:
		return prog->saved != NULL && imap_seqset_contains(prog->saved, m->uid);
	case K_FLAG:
		return (m->flags & n->flag) != 0;
	case K_NOFLAG:
		return (m->flags & n->flag) == 0;
	case K_NEW:
		return (m->flags & (IMAP_SEARCH_F_RECENT | IMAP_SEARCH_F_SEEN)) ==
		       IMAP_SEARCH_F_RECENT;
	case K_OLD:
		return (m->flags & IMAP_SEARCH_F_RECENT) == 0;
	case K_KEYWORD:
		return ops->has_keyword != NULL && ops->has_keyword(m->ctx, n->str);
	case K_LARGER:
		return ops->size(m->ctx) > n->num;
	case K_SMALLER:
		return ops->size(m->ctx) < n->num;
	case K_BEFORE:
		return ops->internal_date(m->ctx) < n->t0;
	case K_ON:
		t = ops->internal_date(m->ctx);
		return t >= n->t0 && t < n->t1;
	case K_SINCE:
		return ops->internal_date(m->ctx) >= n->t0;
	case K_SAVEDATESUPPORTED:
		return ops->save_date != NULL;
	case K_SAVEDBEFORE:
		return ops->save_date != NULL && ops->save_date(m->ctx) < n->t0;
	case K_SAVEDON:
		if (ops->save_date == NULL)
			return 0;
		t = ops->save_date(m->ctx);
		return t >= n->t0 && t < n->t1;
	case K_SAVEDSINCE:
		return ops->save_date != NULL && ops->save_date(m->ctx) >= n->t0;
	case K_OLDER:
		return ops->internal_date(m->ctx) <= prog->now - (int64_t)n->num;
	case K_YOUNGER:
		return ops->internal_date(m->ctx) > prog->now - (int64_t)n->num;
	case K_SENTBEFORE:
	case K_SENTON:
	case K_SENTSINCE:
		if (get_sent_day(prog, ops, m, n->hdr, error_r) < 0)
			return -1;
		if (n->type == K_SENTBEFORE)
			return prog->sent_day < n->day;
		if (n->type == K_SENTON)
			return prog->sent_day == n->day;
		return prog->sent_day >= n->day;
	case K_MODSEQ:
		return ops->modseq(m->ctx) >= n->num;
	case K_HEADER:
		if (get_header(prog, ops, m, n->hdr, error_r) < 0)
			return -1;
		if (prog->hdrs[n->hdr].count == 0)
			return 0;
		return contains(header_decoded(prog, &prog->hdrs[n->hdr]), n);
	case K_DECODED:
		if (get_header(prog, ops, m, n->hdr, error_r) < 0)
			return -1;
		if (prog->hdrs[n->hdr].count == 0)
			return 0;
		return contains(header_decoded(prog, &prog->hdrs[n->hdr]), n);
	case K_BODY:
		if (get_body(prog, ops, m, error_r) < 0)
			return -1;
		return contains(&prog->body, n);
	case K_TEXT:
		if (get_text(prog, ops, m, error_r) < 0)
			return -1;
		if (contains(&prog->text, n))
			return 1;
		if (get_body(prog, ops, m, error_r) < 0)
			return -1;
		return contains(&prog->body, n);
	}
	return 0;
}

int imap_search_match(struct imap_search_program *prog, const struct imap_search_ops *ops,
                      const struct imap_search_msg *msg, const char **error_r)
{
	/* a new message: every cache is stale (gen 0 is never current) */
	if (++prog->gen == 0)
		prog->gen = 1;
	return eval(prog, prog->root, ops, msg, error_r);
}

void imap_search_format_search(struct buf *out, const uint32_t *nums, size_t n, uint64_t modseq)
{
	buf_append_str(out, "* SEARCH");
	for (size_t i = 0; i < n; i++)
		buf_appendf(out, " %u", nums[i]);
	if (modseq != 0 && n > 0)
		buf_appendf(out, " (MODSEQ %llu)", (unsigned long long)modseq);
}

static void nums_to_set(const uint32_t *nums, size_t n, struct imap_seqset *set)
{
	imap_seqset_clear(set);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && nums[j + 1] == nums[j] + 1)
			j++;
		imap_seqset_add(set, nums[i], nums[j]);
		i = j + 1;
	}
	imap_seqset_resolve(set, UINT32_MAX);
}

bool imap_search_format_esearch(struct buf *out, const char *tag, bool uid, unsigned int ret,
                                const uint32_t *nums, size_t n, uint64_t modseq)
{
	if (ret == IMAP_SEARCH_RETURN_SAVE)
		return false;
	buf_append_str(out, "* ESEARCH");
	if (tag != NULL) {
		buf_append_str(out, " (TAG \"");
		for (const char *p = tag; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				buf_append_c(out, '\\');
			buf_append_c(out, *p);
		}
		buf_append_str(out, "\")");
	}
	if (uid)
		buf_append_str(out, " UID");
	if (n > 0 && (ret & IMAP_SEARCH_RETURN_MIN) != 0)
		buf_appendf(out, " MIN %u", nums[0]);
	if (n > 0 && (ret & IMAP_SEARCH_RETURN_MAX) != 0)
		buf_appendf(out, " MAX %u", nums[n - 1]);
	if (n > 0 && (ret & IMAP_SEARCH_RETURN_ALL) != 0) {
		struct imap_seqset set;
		imap_seqset_init(&set);
		nums_to_set(nums, n, &set);
		buf_append_str(out, " ALL ");
		imap_seqset_format(&set, out);
		imap_seqset_free(&set);
	}
	if ((ret & IMAP_SEARCH_RETURN_COUNT) != 0)
		buf_appendf(out, " COUNT %zu", n);
	if (modseq != 0 && n > 0)
		buf_appendf(out, " MODSEQ %llu", (unsigned long long)modseq);
	return true;
}

void imap_search_save_result(unsigned int ret, const uint32_t *uids, size_t n,
                             struct imap_seqset *out)
{
	bool min = (ret & IMAP_SEARCH_RETURN_MIN) != 0, max = (ret & IMAP_SEARCH_RETURN_MAX) != 0;
	if (n == 0 || (!min && !max) || (ret & IMAP_SEARCH_RETURN_ALL) != 0 ||
	    (ret & IMAP_SEARCH_RETURN_COUNT) != 0) {
		/* RFC 5182 section 2.4: ALL or COUNT with SAVE saves all */
		nums_to_set(uids, n, out);
		return;
	}
	imap_seqset_clear(out);
	if (min)
		imap_seqset_add(out, uids[0], uids[0]);
	if (max)
		imap_seqset_add(out, uids[n - 1], uids[n - 1]);
	imap_seqset_resolve(out, UINT32_MAX);
}
