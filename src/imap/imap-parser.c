/*
 * imap-parser.c - streaming IMAP command parser (see imap-parser.h).
 *
 * The parser works on whole lines: a line is looked at only when its line
 * end is buffered (or, for the length limits, when more bytes than allowed
 * are buffered without one), and literal data is counted in bytes, so no
 * decision depends on where a chunk ended. The state that spans lines of
 * one command (open lists and sections, the tag and name) lives in the
 * parser; the arguments are kept as a tree of nodes linked by index with
 * their strings in one buffer, and laid out as the contiguous arrays of
 * struct imap_arg only when the command is complete.
 *
 * After an error the rest of the command is skipped byte by byte: only the
 * last bytes of each skipped line are kept, enough to see whether the line
 * ended with a non-synchronizing literal header whose data must be
 * skipped too.
 */
#include "imap/imap-parser.h"

#include "core/xalloc.h"

#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN  64
#define STACK_MAX     63
#define TEXT_KEEP_CAP (64 * 1024)

struct imap_parser_node {
	enum imap_arg_type type;
	size_t off, len;                /* in p->text */
	unsigned int first, last, next; /* children / sibling: index + 1 */
	unsigned int count;
	uint64_t lit_size;
	bool sync, binary, streamed, has_nul;
	bool has_partial;
	uint64_t pstart, plen;
	size_t tail_off, tail_len;
	bool raw_ok;
	size_t raw_off, raw_len;
	unsigned int open_line; /* SECTION: lineno where "[" was */
	size_t open_pos;        /* SECTION: token start in that line */
};

const char *imap_parser_state_name(enum imap_parser_state state)
{
	switch (state) {
	case IMAP_PARSER_STATE_LINE:
		return "line";
	case IMAP_PARSER_STATE_LITERAL:
		return "literal";
	case IMAP_PARSER_STATE_DATA:
		return "data";
	case IMAP_PARSER_STATE_RAW:
		return "raw";
	case IMAP_PARSER_STATE_SKIP_LINE:
		return "skip-line";
	case IMAP_PARSER_STATE_SKIP_DATA:
		return "skip-data";
	}
	return "?";
}

static void apply_limits(struct imap_parser *p, const struct imap_parser_limits *limits)
{
	memset(&p->limits, 0, sizeof(p->limits));
	if (limits != NULL)
		p->limits = *limits;
	if (p->limits.max_line == 0)
		p->limits.max_line = IMAP_PARSER_LINE_MAX_DEFAULT;
	if (p->limits.max_command == 0)
		p->limits.max_command = IMAP_PARSER_COMMAND_MAX_DEFAULT;
	if (p->limits.max_literal == 0)
		p->limits.max_literal = IMAP_PARSER_LITERAL_MAX_DEFAULT;
	if (p->limits.max_depth == 0)
		p->limits.max_depth = IMAP_PARSER_DEPTH_MAX_DEFAULT;
	if (p->limits.max_depth > STACK_MAX)
		p->limits.max_depth = STACK_MAX;
	if (p->limits.max_args == 0)
		p->limits.max_args = IMAP_PARSER_ARGS_MAX_DEFAULT;
}

void imap_parser_init(struct imap_parser *p, const struct imap_parser_limits *limits)
{
	memset(p, 0, sizeof(*p));
	apply_limits(p, limits);
	p->state = IMAP_PARSER_STATE_LINE;
}

void imap_parser_set_limits(struct imap_parser *p, const struct imap_parser_limits *limits)
{
	apply_limits(p, limits);
}

void imap_parser_deinit(struct imap_parser *p)
{
	buf_free(&p->in);
	buf_free(&p->text);
	buf_free(&p->err);
	buf_free(&p->error_tag);
	free(p->nodes);
	free(p->out);
	memset(p, 0, sizeof(*p));
}

void imap_parser_feed(struct imap_parser *p, const void *data, size_t len)
{
	if (p->pos > 0) {
		buf_consume(&p->in, p->pos);
		p->pos = 0;
	}
	buf_append(&p->in, data, len);
}

size_t imap_parser_pending(const struct imap_parser *p)
{
	return p->in.len - p->pos;
}

enum imap_parser_error imap_parser_error(const struct imap_parser *p)
{
	return p->error;
}

const char *imap_parser_error_tag(const struct imap_parser *p)
{
	return p->error_tag_set ? buf_cstr(&p->error_tag) : NULL;
}

/* ---- the command being built ---- */

static void reset_command(struct imap_parser *p)
{
	p->in_command = p->have_tag = p->have_name = p->uid = false;
	p->text_used = 0;
	p->lit_bytes = 0;
	p->lineno = 0;
	p->need_sep = false;
	p->nnodes = 0;
	p->depth = 0;
	if (p->text.cap > TEXT_KEEP_CAP)
		buf_free(&p->text);
	else
		buf_reset(&p->text);
}

void imap_parser_read_line(struct imap_parser *p)
{
	assert(p->state == IMAP_PARSER_STATE_LINE && !p->in_command);
	reset_command(p);
	p->state = IMAP_PARSER_STATE_RAW;
}

static size_t add_text(struct imap_parser *p, const char *s, size_t n)
{
	size_t off = p->text.len;
	buf_append(&p->text, s, n);
	buf_append_c(&p->text, '\0');
	return off;
}

/* the root node (index 0) is a LIST holding the top-level arguments */
static void start_command(struct imap_parser *p)
{
	reset_command(p);
	p->in_command = true;
	if (p->nodes_cap == 0) {
		p->nodes_cap = 16;
		p->nodes = xreallocarray(NULL, p->nodes_cap, sizeof(*p->nodes));
	}
	memset(&p->nodes[0], 0, sizeof(p->nodes[0]));
	p->nodes[0].type = IMAP_ARG_LIST;
	p->nnodes = 1;
}

static struct imap_parser_node *node(struct imap_parser *p, unsigned int idx)
{
	return &p->nodes[idx];
}

static unsigned int container(const struct imap_parser *p)
{
	return p->depth == 0 ? 0 : p->stack[p->depth - 1] - 1;
}

/* ---- errors ---- */

static void set_error_tag(struct imap_parser *p, const char *tag, size_t len)
{
	buf_reset(&p->error_tag);
	buf_append(&p->error_tag, tag, len);
	p->error_tag_set = true;
}

/*
 * fail: report err for the command in progress and skip from the start
 * of the current line (p->pos) to the end of the command.
 */
static int fail(struct imap_parser *p, enum imap_parser_error err, const char **error_r,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(struct imap_parser *p, enum imap_parser_error err, const char **error_r,
                const char *fmt, ...)
{
	va_list ap;

	p->error = err;
	buf_reset(&p->err);
	va_start(ap, fmt);
	buf_vappendf(&p->err, fmt, ap);
	va_end(ap);
	if (p->have_tag)
		set_error_tag(p, buf_cstr(&p->text) + p->tag_off,
		              strlen(p->text.data + p->tag_off));
	reset_command(p);
	p->state = IMAP_PARSER_STATE_SKIP_LINE;
	p->skip_raw = false;
	p->tail_len = 0;
	*error_r = buf_cstr(&p->err);
	return -1;
}

static int syntax_error(struct imap_parser *p, size_t at, const char **error_r, const char *what)
{
	return fail(p, IMAP_PARSER_ERR_SYNTAX, error_r, "Syntax error at position %zu: %s",
	            p->text_used + at, what);
}

/* ---- character classes (RFC 9051 section 9) ---- */

/* tag: ASTRING-CHAR but "+" */
static bool is_tag_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '%' && c != '*' &&
	       c != '"' && c != '\\' && c != '+';
}

static bool is_name_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/* liberal atom: printable ASCII but SP ( ) { " (and "[" / "]" are
 * looked at by the caller) */
static bool is_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '"';
}

static bool parse_u64(const char *s, size_t n, uint64_t *v_r)
{
	uint64_t v = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned int d = (unsigned int)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*v_r = v;
	return true;
}

/* partial: "<" number "." nz-number ">" (RFC 9051 section 9, fetch-att) */
static bool parse_partial(const char *s, size_t n, uint64_t *start_r, uint64_t *len_r)
{
	const char *dot;

	if (n < 5 || s[0] != '<' || s[n - 1] != '>')
		return false;
	dot = memchr(s, '.', n);
	if (dot == NULL)
		return false;
	size_t a = (size_t)(dot - s) - 1, b = n - 2 - a - 1;
	if (!parse_u64(s + 1, a, start_r) || !parse_u64(dot + 1, b, len_r))
		return false;
	return *start_r <= UINT32_MAX && *len_r <= UINT32_MAX && *len_r > 0;
}

/*
 * tail_literal: does the line content s[0..n) end with a literal header
 * "{N}" / "{N+}" (with or without "~")? Returns false if not; sets
 * *size_r (UINT64_MAX when N does not fit) and *nonsync_r.
 */
static bool tail_literal(const char *s, size_t n, uint64_t *size_r, bool *nonsync_r)
{
	size_t end, i;

	if (n < 3 || s[n - 1] != '}')
		return false;
	end = n - 1;
	*nonsync_r = s[end - 1] == '+';
	if (*nonsync_r)
		end--;
	i = end;
	while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
		i--;
	if (i == end || i == 0 || s[i - 1] != '{')
		return false;
	if (!parse_u64(s + i, end - i, size_r))
		*size_r = UINT64_MAX;
	return true;
}

/* ---- nodes ---- */

static int add_node(struct imap_parser *p, enum imap_arg_type type, unsigned int *idx_r,
                    const char **error_r)
{
	if (p->nnodes - 1 >= p->limits.max_args)
		return fail(p, IMAP_PARSER_ERR_TOO_MANY_ARGS, error_r, "Too many arguments");
	if (p->nnodes == p->nodes_cap) {
		p->nodes_cap *= 2;
		p->nodes = xreallocarray(p->nodes, p->nodes_cap, sizeof(*p->nodes));
	}
	unsigned int idx = p->nnodes++;
	struct imap_parser_node *n = node(p, idx);
	memset(n, 0, sizeof(*n));
	n->type = type;

	struct imap_parser_node *c = node(p, container(p));
	if (c->last == 0)
		c->first = idx + 1;
	else
		node(p, c->last - 1)->next = idx + 1;
	c->last = idx + 1;
	c->count++;
	*idx_r = idx;
	return 0;
}

static int push(struct imap_parser *p, unsigned int idx, const char **error_r)
{
	if (p->depth >= p->limits.max_depth)
		return fail(p, IMAP_PARSER_ERR_NESTING, error_r, "Nesting too deep");
	p->stack[p->depth++] = idx + 1;
	return 0;
}

/* ---- output ---- */

static void convert(struct imap_parser *p, const struct imap_parser_node *n, struct imap_arg *a)
{
	const char *text = buf_cstr(&p->text);

	memset(a, 0, sizeof(*a));
	a->type = n->type;
	a->str = n->type == IMAP_ARG_LIST ? "" : text + n->off;
	a->len = n->type == IMAP_ARG_LIST ? 0 : n->len;
	a->literal_size = n->lit_size;
	a->literal_sync = n->sync;
	a->literal_binary = n->binary;
	a->literal_streamed = n->streamed;
	a->has_nul = n->has_nul;
	a->has_partial = n->has_partial;
	a->partial_start = n->pstart;
	a->partial_length = n->plen;
	if (n->type == IMAP_ARG_SECTION) {
		a->tail = text + n->tail_off;
		a->tail_len = n->tail_len;
		if (n->raw_ok) {
			a->raw = text + n->raw_off;
			a->raw_len = n->raw_len;
		}
	}
}

/* build: lay the tree out breadth first into p->out */
static void build(struct imap_parser *p, struct imap_command *cmd)
{
	unsigned int total = p->nnodes - 1, placed = 0;
	unsigned int *order;

	if (p->out_cap < total + 1) {
		p->out_cap = total + 1;
		p->out = xreallocarray(p->out, p->out_cap, sizeof(*p->out));
	}
	order = xreallocarray(NULL, total + 1, sizeof(*order));
	for (unsigned int c = node(p, 0)->first; c != 0; c = node(p, c - 1)->next) {
		convert(p, node(p, c - 1), &p->out[placed]);
		order[placed++] = c - 1;
	}
	for (unsigned int k = 0; k < placed; k++) {
		struct imap_parser_node *n = node(p, order[k]);
		if (n->type != IMAP_ARG_LIST && n->type != IMAP_ARG_SECTION)
			continue;
		p->out[k].list = &p->out[placed];
		p->out[k].count = n->count;
		for (unsigned int c = n->first; c != 0; c = node(p, c - 1)->next) {
			convert(p, node(p, c - 1), &p->out[placed]);
			order[placed++] = c - 1;
		}
	}
	free(order);
	cmd->args = p->out;
	cmd->count = node(p, 0)->count;
}

static void fill_cmd(struct imap_parser *p, struct imap_command *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->tag = buf_cstr(&p->text) + p->tag_off;
	cmd->name = buf_cstr(&p->text) + p->name_off;
	cmd->uid = p->uid;
}

/* ---- one line of a command ---- */

/* parse_name: the command name at s[*i..n), upper-cased into text */
static int parse_name(struct imap_parser *p, const char *s, size_t n, size_t *i, size_t *off_r,
                      const char **error_r)
{
	size_t start = *i, j = start;
	char name[NAME_MAX_LEN + 1];

	while (j < n && s[j] != ' ')
		j++;
	if (j == start)
		return syntax_error(p, start, error_r, "missing command");
	if (j - start > NAME_MAX_LEN)
		return syntax_error(p, start, error_r, "invalid command name");
	for (size_t k = start; k < j; k++) {
		unsigned char c = (unsigned char)s[k];
		if (!is_name_char(c))
			return syntax_error(p, k, error_r, "invalid command name");
		name[k - start] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
	}
	name[j - start] = '\0';
	*off_r = add_text(p, name, j - start);
	*i = j;
	return 0;
}

static int parse_quoted(struct imap_parser *p, const char *s, size_t n, size_t *i,
                        const char **error_r)
{
	size_t j = *i + 1;
	struct buf *t = &p->text;
	size_t off = t->len;
	unsigned int idx;

	for (;;) {
		if (j >= n)
			return syntax_error(p, *i, error_r, "unterminated quoted string");
		unsigned char c = (unsigned char)s[j];
		if (c == '"')
			break;
		if (c == '\\') {
			if (j + 1 >= n || (s[j + 1] != '\\' && s[j + 1] != '"'))
				return syntax_error(p, j, error_r, "bad escape in quoted string");
			c = (unsigned char)s[j + 1];
			j++;
		} else if (c == '\0' || c == '\r') {
			return syntax_error(p, j, error_r, "bad character in quoted string");
		}
		buf_append_c(t, (char)c);
		j++;
	}
	size_t len = t->len - off;
	buf_append_c(t, '\0');
	if (add_node(p, IMAP_ARG_QUOTED, &idx, error_r) < 0)
		return -1;
	node(p, idx)->off = off;
	node(p, idx)->len = len;
	*i = j + 1;
	return 0;
}

static char ascii_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
}

/* ascii_eq: a[0..n) equals word, ignoring ASCII case */
static bool ascii_eq(const char *a, size_t n, const char *word)
{
	if (strlen(word) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (ascii_upper(a[i]) != ascii_upper(word[i]))
			return false;
	}
	return true;
}

/* close_section: "]" at s[*i]; reads the tail after it */
static void close_section(struct imap_parser *p, const char *s, size_t n, size_t *i)
{
	unsigned int idx = p->stack[--p->depth] - 1;
	size_t j = *i + 1, tail_start = j;
	bool outer_section = node(p, container(p))->type == IMAP_ARG_SECTION;

	while (j < n && is_atom_char((unsigned char)s[j]) && s[j] != '[' &&
	       !(s[j] == ']' && outer_section))
		j++;
	struct imap_parser_node *nd = node(p, idx);
	uint64_t ps, pl;
	if (parse_partial(s + tail_start, j - tail_start, &ps, &pl)) {
		nd->has_partial = true;
		nd->pstart = ps;
		nd->plen = pl;
		nd->tail_off = add_text(p, "", 0);
	} else {
		nd->tail_off = add_text(p, s + tail_start, j - tail_start);
		nd->tail_len = j - tail_start;
	}
	nd = node(p, idx);
	if (nd->open_line == p->lineno) {
		nd->raw_ok = true;
		nd->raw_off = add_text(p, s + nd->open_pos, j - nd->open_pos);
		nd->raw_len = j - nd->open_pos;
	}
	*i = j;
}

static int parse_atom(struct imap_parser *p, const char *s, size_t n, size_t *i,
                      const char **error_r)
{
	size_t start = *i, j = start;
	bool in_section = node(p, container(p))->type == IMAP_ARG_SECTION;
	unsigned int idx;

	while (j < n && is_atom_char((unsigned char)s[j]) && s[j] != '[' &&
	       !(s[j] == ']' && in_section))
		j++;
	if (j < n && s[j] == '[') {
		if (add_node(p, IMAP_ARG_SECTION, &idx, error_r) < 0)
			return -1;
		struct imap_parser_node *nd = node(p, idx);
		nd->off = add_text(p, s + start, j - start);
		nd = node(p, idx);
		nd->len = j - start;
		nd->open_line = p->lineno;
		nd->open_pos = start;
		if (push(p, idx, error_r) < 0)
			return -1;
		*i = j + 1;
		p->need_sep = false;
		return 0;
	}
	if (j == start) {
		unsigned char c = (unsigned char)s[j];
		if (c == ']')
			return syntax_error(p, j, error_r, "unexpected ']'");
		if (c < 0x20 || c == 0x7f)
			return syntax_error(p, j, error_r, "control character");
		if (c >= 0x80)
			return syntax_error(p, j, error_r, "8-bit character outside a string");
		return syntax_error(p, j, error_r, "unexpected character");
	}
	bool nil = ascii_eq(s + start, j - start, "NIL");
	if (add_node(p, nil ? IMAP_ARG_NIL : IMAP_ARG_ATOM, &idx, error_r) < 0)
		return -1;
	node(p, idx)->off = add_text(p, s + start, j - start);
	node(p, idx)->len = j - start;
	*i = j;
	p->need_sep = true;
	return 0;
}

/*
 * literal_header: "{N}" "{N+}" "~{N}" "~{N+}" at s[*i..n), which must end
 * the line. Returns 1 with the LITERAL event filled, -1 on error.
 */
static int literal_header(struct imap_parser *p, const char *s, size_t n, size_t i,
                          struct imap_parser_event *ev, const char **error_r)
{
	size_t start = i, j;
	bool binary = false, nonsync = false;
	uint64_t size;
	unsigned int idx;

	if (s[i] == '~') {
		binary = true;
		i++;
	}
	j = ++i;
	while (j < n && s[j] >= '0' && s[j] <= '9')
		j++;
	size_t digits_end = j;
	if (j < n && s[j] == '+') {
		nonsync = true;
		j++;
	}
	if (j >= n || s[j] != '}' || digits_end == i)
		return syntax_error(p, start, error_r, "bad literal");
	if (j + 1 != n)
		return syntax_error(p, j + 1, error_r, "literal not at the end of the line");
	if (!parse_u64(s + i, digits_end - i, &size) ||
	    (nonsync && p->limits.max_nonsync != 0 && size > p->limits.max_nonsync))
		return fail(p, IMAP_PARSER_ERR_LITERAL_TOO_LARGE, error_r,
		            "[TOOBIG] Literal too large");
	if (add_node(p, IMAP_ARG_LITERAL, &idx, error_r) < 0)
		return -1;
	struct imap_parser_node *nd = node(p, idx);
	nd->lit_size = size;
	nd->sync = !nonsync;
	nd->binary = binary;

	p->lit_node = idx;
	p->lit_size = p->lit_left = size;
	p->lit_sync = !nonsync;
	p->lit_binary = binary;
	p->lit_decided = false;
	p->lit_stream = false;
	p->need_sep = true;
	p->text_used += n;

	memset(ev, 0, sizeof(*ev));
	ev->type = IMAP_PARSER_EV_LITERAL;
	fill_cmd(p, &ev->cmd);
	ev->literal_size = size;
	ev->literal_sync = !nonsync;
	ev->literal_binary = binary;
	ev->literal_fits = size <= p->limits.max_literal &&
	                   p->text_used + p->lit_bytes + size <= p->limits.max_command;
	ev->literal_depth = p->depth;
	ev->literal_arg = node(p, 0)->count - 1;
	p->state = IMAP_PARSER_STATE_LITERAL;
	return 1;
}

/*
 * parse_line: one complete line s[0..n) (no line end) of the command.
 * Returns 1 with an event (COMMAND or LITERAL), -1 on error; the caller
 * has checked the length limits and consumes the line on 1.
 */
static int parse_line(struct imap_parser *p, const char *s, size_t n, struct imap_parser_event *ev,
                      const char **error_r)
{
	size_t i = 0;
	bool sep = false;

	if (!p->in_command) {
		start_command(p);
		while (i < n && s[i] != ' ')
			i++;
		if (i == 0)
			return syntax_error(p, 0, error_r, "missing tag");
		for (size_t k = 0; k < i; k++) {
			if (!is_tag_char((unsigned char)s[k]))
				return syntax_error(p, k, error_r, "invalid tag");
		}
		p->tag_off = add_text(p, s, i);
		p->have_tag = true;
		if (i == n)
			return syntax_error(p, i, error_r, "missing command");
		while (i < n && s[i] == ' ')
			i++;
		if (parse_name(p, s, n, &i, &p->name_off, error_r) < 0)
			return -1;
		if (strcmp(p->text.data + p->name_off, "UID") == 0) {
			p->uid = true;
			while (i < n && s[i] == ' ')
				i++;
			if (parse_name(p, s, n, &i, &p->name_off, error_r) < 0)
				return -1;
		}
		p->have_name = true;
		p->need_sep = true;
	}
	p->lineno++;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		unsigned int top = container(p);
		enum imap_arg_type ctype = node(p, top)->type;
		unsigned int idx;

		if (c == ' ') {
			sep = true;
			i++;
			continue;
		}
		if (c == ')') {
			if (top == 0 || ctype != IMAP_ARG_LIST)
				return syntax_error(p, i, error_r, "unexpected ')'");
			p->depth--;
			i++;
			p->need_sep = true;
			sep = false;
			continue;
		}
		if (c == ']' && ctype == IMAP_ARG_SECTION) {
			close_section(p, s, n, &i);
			p->need_sep = true;
			sep = false;
			continue;
		}
		if (p->need_sep && !sep)
			return syntax_error(p, i, error_r, "missing space");
		sep = false;
		if (c == '(') {
			if (add_node(p, IMAP_ARG_LIST, &idx, error_r) < 0 ||
			    push(p, idx, error_r) < 0)
				return -1;
			i++;
			p->need_sep = false;
		} else if (c == '"') {
			if (parse_quoted(p, s, n, &i, error_r) < 0)
				return -1;
			p->need_sep = true;
		} else if (c == '{' || (c == '~' && i + 1 < n && s[i + 1] == '{')) {
			return literal_header(p, s, n, i, ev, error_r);
		} else {
			if (parse_atom(p, s, n, &i, error_r) < 0)
				return -1;
		}
	}
	if (p->depth > 0) {
		if (node(p, container(p))->type == IMAP_ARG_SECTION)
			return syntax_error(p, n, error_r, "missing ']'");
		return syntax_error(p, n, error_r, "missing ')'");
	}
	p->text_used += n;
	memset(ev, 0, sizeof(*ev));
	ev->type = IMAP_PARSER_EV_COMMAND;
	fill_cmd(p, &ev->cmd);
	build(p, &ev->cmd);
	p->in_command = false; /* the text stays until the next call */
	return 1;
}

/* ---- states ---- */

/* line_budget: content bytes the current line may still have */
static size_t line_budget(const struct imap_parser *p)
{
	size_t a = p->limits.max_line > p->text_used ? p->limits.max_line - p->text_used : 0;
	uint64_t used = p->text_used + p->lit_bytes;
	uint64_t b = p->limits.max_command > used ? p->limits.max_command - used : 0;
	return b < a ? (size_t)b : a;
}

static int too_long(struct imap_parser *p, const char *line, size_t budget, const char **error_r)
{
	if (!p->in_command) {
		/* the tag, if the allowed part of the line shows one */
		const char *sp = memchr(line, ' ', budget);
		if (sp != NULL && sp > line) {
			size_t k = 0, n = (size_t)(sp - line);
			while (k < n && is_tag_char((unsigned char)line[k]))
				k++;
			if (k == n)
				set_error_tag(p, line, n);
		}
	}
	return fail(p, IMAP_PARSER_ERR_TOO_LONG, error_r, "Command line too long");
}

static int state_line(struct imap_parser *p, struct imap_parser_event *ev, const char **error_r)
{
	for (;;) {
		const char *line = buf_cstr(&p->in) + p->pos;
		size_t avail = p->in.len - p->pos;
		const char *lf = avail > 0 ? memchr(line, '\n', avail) : NULL;
		size_t content = lf != NULL ? (size_t)(lf - line) : avail;
		size_t budget = line_budget(p);

		if (content > 0 && line[content - 1] == '\r')
			content--;
		if (content > budget)
			return too_long(p, line, budget, error_r);
		if (lf == NULL)
			return 0;
		if (!p->in_command && content == 0) {
			p->pos += (size_t)(lf - line) + 1; /* empty line: ignored */
			continue;
		}
		if (memchr(line, '\r', content) != NULL) {
			size_t at = (size_t)((const char *)memchr(line, '\r', content) - line);
			if (!p->in_command)
				start_command(p);
			return syntax_error(p, at, error_r, "CR without LF");
		}
		int ret = parse_line(p, line, content, ev, error_r);
		if (ret > 0)
			p->pos += (size_t)(lf - line) + 1;
		return ret;
	}
}

/* drop_after_literal: the command of a literal whose header line is
 * consumed is dropped; skip its data if the client sends it anyway */
static void drop_after_literal(struct imap_parser *p)
{
	bool nonsync = !p->lit_sync;
	uint64_t size = p->lit_size;

	reset_command(p);
	if (nonsync) {
		p->state = IMAP_PARSER_STATE_SKIP_DATA;
		p->skip_left = size;
	} else {
		p->state = IMAP_PARSER_STATE_LINE;
	}
}

bool imap_parser_literal_accept(struct imap_parser *p, bool stream)
{
	assert(p->state == IMAP_PARSER_STATE_LITERAL && !p->lit_decided);
	p->lit_decided = true;
	p->lit_stream = stream;
	if (!stream) {
		bool fits = p->lit_size <= p->limits.max_literal &&
		            p->text_used + p->lit_bytes + p->lit_size <= p->limits.max_command;
		if (!fits)
			return false; /* next() reports it */
		p->lit_bytes += p->lit_size;
		node(p, p->lit_node)->off = p->text.len;
		buf_reserve(&p->text, (size_t)p->lit_size + 1);
	} else {
		node(p, p->lit_node)->streamed = true;
		node(p, p->lit_node)->off = add_text(p, "", 0);
	}
	p->state = IMAP_PARSER_STATE_DATA;
	return true;
}

void imap_parser_literal_refuse(struct imap_parser *p)
{
	assert(p->state == IMAP_PARSER_STATE_LITERAL && !p->lit_decided);
	drop_after_literal(p);
}

static int state_data(struct imap_parser *p, struct imap_parser_event *ev)
{
	size_t avail = p->in.len - p->pos;
	const char *data = buf_cstr(&p->in) + p->pos;
	size_t n = p->lit_left < avail ? (size_t)p->lit_left : avail;

	if (p->lit_stream) {
		if (n == 0 && p->lit_left > 0)
			return 0;
		memset(ev, 0, sizeof(*ev));
		ev->type = IMAP_PARSER_EV_LITERAL_DATA;
		fill_cmd(p, &ev->cmd);
		ev->data = data;
		ev->len = n;
		p->pos += n;
		p->lit_left -= n;
		ev->last = p->lit_left == 0;
		if (ev->last)
			p->state = IMAP_PARSER_STATE_LINE;
		return 1;
	}
	if (n > 0) {
		struct imap_parser_node *nd = node(p, p->lit_node);
		if (memchr(data, '\0', n) != NULL)
			nd->has_nul = true;
		buf_append(&p->text, data, n);
		p->pos += n;
		p->lit_left -= n;
	}
	if (p->lit_left > 0)
		return 0;
	struct imap_parser_node *nd = node(p, p->lit_node);
	nd->len = (size_t)p->lit_size;
	buf_append_c(&p->text, '\0');
	p->state = IMAP_PARSER_STATE_LINE;
	return -2; /* go on */
}

static int state_raw(struct imap_parser *p, struct imap_parser_event *ev, const char **error_r)
{
	const char *line = buf_cstr(&p->in) + p->pos;
	size_t avail = p->in.len - p->pos;
	const char *lf = avail > 0 ? memchr(line, '\n', avail) : NULL;
	size_t content = lf != NULL ? (size_t)(lf - line) : avail;

	if (content > 0 && line[content - 1] == '\r')
		content--;
	if (content > p->limits.max_line) {
		int ret = fail(p, IMAP_PARSER_ERR_TOO_LONG, error_r, "Line too long");
		p->skip_raw = true;
		return ret;
	}
	if (lf == NULL)
		return 0;
	memset(ev, 0, sizeof(*ev));
	ev->type = IMAP_PARSER_EV_LINE;
	ev->data = line;
	ev->len = content;
	p->pos += (size_t)(lf - line) + 1;
	p->state = IMAP_PARSER_STATE_LINE;
	return 1;
}

static void tail_add(struct imap_parser *p, const char *s, size_t n)
{
	const size_t cap = sizeof(p->tail);

	if (n >= cap) {
		memcpy(p->tail, s + n - cap, cap);
		p->tail_len = cap;
		return;
	}
	if (p->tail_len + n > cap) {
		size_t drop = p->tail_len + n - cap;
		memmove(p->tail, p->tail + drop, p->tail_len - drop);
		p->tail_len -= (unsigned int)drop;
	}
	memcpy(p->tail + p->tail_len, s, n);
	p->tail_len += (unsigned int)n;
}

/* skip: returns 0 when the input is used up, 1 when back at a command */
static int state_skip(struct imap_parser *p)
{
	for (;;) {
		const char *s = buf_cstr(&p->in) + p->pos;
		size_t avail = p->in.len - p->pos;

		if (p->state == IMAP_PARSER_STATE_SKIP_DATA) {
			size_t n = p->skip_left < avail ? (size_t)p->skip_left : avail;
			p->pos += n;
			p->skip_left -= n;
			if (p->skip_left > 0)
				return 0;
			p->state = IMAP_PARSER_STATE_SKIP_LINE;
			p->tail_len = 0;
			continue;
		}
		const char *lf = avail > 0 ? memchr(s, '\n', avail) : NULL;
		if (lf == NULL) {
			tail_add(p, s, avail);
			p->pos += avail;
			return 0;
		}
		tail_add(p, s, (size_t)(lf - s));
		p->pos += (size_t)(lf - s) + 1;
		size_t n = p->tail_len;
		if (n > 0 && p->tail[n - 1] == '\r')
			n--;
		uint64_t size;
		bool nonsync;
		if (!p->skip_raw && tail_literal(p->tail, n, &size, &nonsync) && nonsync) {
			p->state = IMAP_PARSER_STATE_SKIP_DATA;
			p->skip_left = size;
			continue;
		}
		p->state = IMAP_PARSER_STATE_LINE;
		p->skip_raw = false;
		return 1;
	}
}

int imap_parser_next(struct imap_parser *p, struct imap_parser_event *ev, const char **error_r)
{
	p->error = IMAP_PARSER_OK;
	p->error_tag_set = false;
	for (;;) {
		int ret;

		switch (p->state) {
		case IMAP_PARSER_STATE_LINE:
			if (!p->in_command)
				reset_command(p);
			return state_line(p, ev, error_r);
		case IMAP_PARSER_STATE_LITERAL:
			assert(p->lit_decided);
			/* decided but not accepted: a buffered literal too big */
			set_error_tag(p, buf_cstr(&p->text) + p->tag_off,
			              strlen(buf_cstr(&p->text) + p->tag_off));
			drop_after_literal(p);
			p->error = IMAP_PARSER_ERR_LITERAL_TOO_LARGE;
			buf_reset(&p->err);
			buf_append_str(&p->err, "[TOOBIG] Literal too large");
			*error_r = buf_cstr(&p->err);
			return -1;
		case IMAP_PARSER_STATE_DATA:
			ret = state_data(p, ev);
			if (ret != -2)
				return ret;
			break;
		case IMAP_PARSER_STATE_RAW:
			return state_raw(p, ev, error_r);
		case IMAP_PARSER_STATE_SKIP_LINE:
		case IMAP_PARSER_STATE_SKIP_DATA:
			if (state_skip(p) == 0)
				return 0;
			break;
		}
	}
}

/* ---- accessors ---- */

bool imap_arg_atom(const struct imap_arg *arg, const char **str_r)
{
	if (arg->type != IMAP_ARG_ATOM)
		return false;
	*str_r = arg->str;
	return true;
}

bool imap_arg_atom_equals(const struct imap_arg *arg, const char *word)
{
	return arg->type == IMAP_ARG_ATOM && ascii_eq(arg->str, arg->len, word);
}

bool imap_arg_string(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type != IMAP_ARG_QUOTED &&
	    (arg->type != IMAP_ARG_LITERAL || arg->literal_streamed))
		return false;
	*str_r = arg->str;
	*len_r = arg->len;
	return true;
}

bool imap_arg_astring(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_NIL) {
		*str_r = arg->str;
		*len_r = arg->len;
		return true;
	}
	if (arg->type == IMAP_ARG_SECTION && arg->raw != NULL) {
		*str_r = arg->raw;
		*len_r = arg->raw_len;
		return true;
	}
	return imap_arg_string(arg, str_r, len_r);
}

bool imap_arg_nstring(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type == IMAP_ARG_NIL) {
		*str_r = NULL;
		*len_r = 0;
		return true;
	}
	return imap_arg_string(arg, str_r, len_r);
}

bool imap_arg_list(const struct imap_arg *arg, const struct imap_arg **list_r,
                   unsigned int *count_r)
{
	if (arg->type != IMAP_ARG_LIST)
		return false;
	*list_r = arg->list;
	*count_r = arg->count;
	return true;
}
