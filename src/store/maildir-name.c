/*
 * maildir-name.c - Maildir file names (see maildir.h): the host part, the
 * process-wide unique name, the parser of S=, W=, ":2," flags and the
 * origin (secs, pid, host), and the CRLF-counting size of W=.
 */
#include "store/maildir.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define HOST_MAX 128

static pthread_once_t host_once = PTHREAD_ONCE_INIT;
static char host_name[HOST_MAX + 1];

static pthread_mutex_t uniq_lock = PTHREAD_MUTEX_INITIALIZER;
static struct timeval uniq_last;

static void host_init(void)
{
	char raw[256];
	size_t o = 0;

	if (gethostname(raw, sizeof(raw)) < 0 || raw[0] == '\0')
		snprintf(raw, sizeof(raw), "localhost");
	raw[sizeof(raw) - 1] = '\0';
	for (const char *p = raw; *p != '\0'; p++) {
		const char *rep = NULL;
		if (*p == '/')
			rep = "\\057";
		else if (*p == ':')
			rep = "\\072";
		size_t need = rep != NULL ? 4 : 1;
		if (o + need > HOST_MAX)
			break;
		if (rep != NULL)
			memcpy(host_name + o, rep, 4);
		else
			host_name[o] = *p;
		o += need;
	}
	host_name[o] = '\0';
}

const char *maildir_hostname(void)
{
	pthread_once(&host_once, host_init);
	return host_name;
}

void maildir_unique_name(char *out, size_t outlen)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	pthread_mutex_lock(&uniq_lock);
	if (timercmp(&tv, &uniq_last, <=)) {
		tv = uniq_last;
		if (++tv.tv_usec >= 1000000) {
			tv.tv_sec++;
			tv.tv_usec = 0;
		}
	}
	uniq_last = tv;
	pthread_mutex_unlock(&uniq_lock);
	snprintf(out, outlen, "%lld.M%ldP%ld.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
	         (long)getpid(), maildir_hostname());
}

/* Decimal digits of [p, end) into *v; false when empty or overflowing. */
static bool parse_u64(const char *p, const char *end, uint64_t *v)
{
	uint64_t n = 0;

	if (p == end)
		return false;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		unsigned d = (unsigned)(*p - '0');
		if (n > (UINT64_MAX - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*v = n;
	return true;
}

/* The middle part of "<secs>.<middle>.<host>": letter+digits groups
 * (M<usecs>P<pid>Q<n>V<dev>I<ino>...) or, in the old form, the pid. */
static long parse_middle_pid(const char *p, const char *end)
{
	uint64_t v;

	if (parse_u64(p, end, &v))
		return v <= 0x7fffffff ? (long)v : 0;
	while (p < end) {
		char letter = *p++;
		const char *d = p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (letter < 'A' || letter > 'Z')
			return 0;
		if (letter == 'P' && parse_u64(d, p, &v) && v <= 0x7fffffff)
			return (long)v;
	}
	return 0;
}

static void parse_origin(const char *name, size_t len, struct maildir_name *r)
{
	const char *end = name + len;
	const char *dot1 = memchr(name, '.', len);
	uint64_t secs;

	if (dot1 == NULL || !parse_u64(name, dot1, &secs) || secs > INT64_MAX)
		return;
	const char *mid = dot1 + 1;
	const char *dot2 = memchr(mid, '.', (size_t)(end - mid));
	if (dot2 == NULL || dot2 == mid || dot2 + 1 == end)
		return;
	r->have_origin = true;
	r->secs = (int64_t)secs;
	r->pid = parse_middle_pid(mid, dot2);
	r->host = dot2 + 1;
	r->host_len = (size_t)(end - r->host);
}

static void parse_info(const char *p, const char *end, struct maildir_name *r)
{
	bool have[26] = {false};
	bool kw[26] = {false};
	size_t nf = 0, nk = 0;

	for (; p < end; p++) {
		if (*p >= 'A' && *p <= 'Z')
			have[*p - 'A'] = true;
		else if (*p >= 'a' && *p <= 'z')
			kw[*p - 'a'] = true;
	}
	for (int i = 0; i < 26; i++) {
		if (have[i] && strchr("DFPRST", 'A' + i) != NULL && nf < sizeof(r->flags) - 1)
			r->flags[nf++] = (char)('A' + i);
		if (kw[i])
			r->keywords[nk++] = (char)('a' + i);
	}
	r->flags[nf] = '\0';
	r->keywords[nk] = '\0';
}

int maildir_name_parse(const char *name, size_t len, struct maildir_name *r)
{
	memset(r, 0, sizeof(*r));
	if (len == 0 || name[0] == '.' || memchr(name, '/', len) != NULL ||
	    memchr(name, '\0', len) != NULL)
		return -1;

	const char *end = name + len;
	const char *colon = memchr(name, ':', len);
	const char *base_end = colon != NULL ? colon : end;

	if (colon != NULL && end - colon >= 3 && colon[1] == '2' && colon[2] == ',') {
		r->have_info = true;
		parse_info(colon + 3, end, r);
	}

	const char *comma = memchr(name, ',', (size_t)(base_end - name));
	const char *uniq_end = comma != NULL ? comma : base_end;
	r->base_len = (size_t)(uniq_end - name);
	parse_origin(name, r->base_len, r);

	/* ",S=<digits>" and ",W=<digits>" fields of the base. */
	const char *p = uniq_end;
	while (p < base_end) {
		const char *f = p + 1; /* after ',' */
		const char *next = memchr(f, ',', (size_t)(base_end - f));
		const char *fend = next != NULL ? next : base_end;
		uint64_t v;

		if (fend - f >= 2 && f[1] == '=' && parse_u64(f + 2, fend, &v)) {
			if (f[0] == 'S' && !r->have_size) {
				r->have_size = true;
				r->size = v;
			} else if (f[0] == 'W' && !r->have_vsize) {
				r->have_vsize = true;
				r->vsize = v;
			}
		}
		p = fend;
	}
	return 0;
}

int maildir_flags_normalize(const char *flags, char out[8])
{
	static const char order[] = "DFPRST";
	bool have[6] = {false};
	size_t n = 0;

	for (const char *p = flags != NULL ? flags : ""; *p != '\0'; p++) {
		const char *at = strchr(order, *p);
		if (at == NULL)
			return -1;
		have[at - order] = true;
	}
	for (size_t i = 0; i < 6; i++) {
		if (have[i])
			out[n++] = order[i];
	}
	out[n] = '\0';
	return 0;
}

void maildir_vsize_update(struct maildir_vsize *v, const void *data, size_t n)
{
	const unsigned char *p = data;
	bool cr = v->last_cr;
	uint64_t bare = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' && !cr)
			bare++;
		cr = p[i] == '\r';
	}
	v->size += n;
	v->vsize += n + bare;
	v->last_cr = cr;
}
