/*
 * date.c - RFC 5322 dates (see date.h).
 */
#include "mail/date.h"

#include <string.h>
#include <strings.h>

static const char months[12][4] = {"jan", "feb", "mar", "apr", "may", "jun",
                                   "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const month_names[12] = {"january",   "february", "march",    "april",
                                            "may",       "june",     "july",     "august",
                                            "september", "october",  "november", "december"};

int64_t mail_date_days_from_civil(int64_t y, unsigned int m, unsigned int d)
{
	/* Howard Hinnant's algorithm, public domain arithmetic */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = (m + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void mail_date_civil_from_days(int64_t z, int64_t *y_r, unsigned int *m_r, unsigned int *d_r)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	unsigned int d = (unsigned int)(doy - (153 * mp + 2) / 5 + 1);
	unsigned int m = (unsigned int)(mp < 10 ? mp + 3 : mp - 9);
	*y_r = y + (m <= 2);
	*m_r = m;
	*d_r = d;
}

unsigned int mail_date_days_in_month(int64_t y, unsigned int m)
{
	static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return m >= 1 && m <= 12 ? dim[m - 1] : 0;
}

unsigned int mail_date_month(const char *s, size_t len, bool full_ok)
{
	for (unsigned int i = 0; i < 12; i++) {
		if (len == 3 && strncasecmp(s, months[i], 3) == 0)
			return i + 1;
		if (full_ok && len > 3 && len == strlen(month_names[i]) &&
		    strncasecmp(s, month_names[i], len) == 0)
			return i + 1;
	}
	return 0;
}

/* A token of the date: a run of digits, of letters, or one other char. */
struct tok {
	const char *s;
	size_t len;
	char kind; /* 'd' digits, 'a' letters, else the char itself */
};

#define MAX_TOKS 24

static size_t tokenize(const char *s, size_t len, struct tok *t)
{
	size_t n = 0, i = 0;
	int comment = 0;
	while (i < len && n < MAX_TOKS) {
		char c = s[i];
		if (comment > 0) {
			if (c == '\\')
				i++;
			else if (c == '(')
				comment++;
			else if (c == ')')
				comment--;
			i++;
			continue;
		}
		if (c == '(') {
			comment = 1;
			i++;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',') {
			i++;
			continue;
		}
		size_t start = i;
		if (c >= '0' && c <= '9') {
			while (i < len && s[i] >= '0' && s[i] <= '9')
				i++;
			t[n].kind = 'd';
		} else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
			while (i < len && (s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z')
				i++;
			t[n].kind = 'a';
		} else {
			i++;
			t[n].kind = c;
		}
		t[n].s = s + start;
		t[n].len = i - start;
		n++;
	}
	return n;
}

static bool tok_num(const struct tok *t, size_t maxlen, unsigned int *v_r)
{
	if (t->kind != 'd' || t->len > maxlen)
		return false;
	unsigned int v = 0;
	for (size_t i = 0; i < t->len; i++)
		v = v * 10 + (unsigned int)(t->s[i] - '0');
	*v_r = v;
	return true;
}

static bool is_dow(const struct tok *t)
{
	static const char *const dows[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
	if (t->kind != 'a' || t->len < 3)
		return false;
	for (unsigned int i = 0; i < 7; i++)
		if (strncasecmp(t->s, dows[i], 3) == 0)
			return true;
	return false;
}

/* zone: returns minutes east, or false when the tokens at *i are no zone */
static bool parse_zone(const struct tok *t, size_t n, size_t *i, int *off_r)
{
	static const struct {
		const char *name;
		int off;
	} names[] = {{"ut", 0},        {"gmt", 0},       {"utc", 0},       {"z", 0},
	             {"est", -5 * 60}, {"edt", -4 * 60}, {"cst", -6 * 60}, {"cdt", -5 * 60},
	             {"mst", -7 * 60}, {"mdt", -6 * 60}, {"pst", -8 * 60}, {"pdt", -7 * 60}};
	if (*i >= n)
		return false;
	if ((t[*i].kind == '+' || t[*i].kind == '-') && *i + 1 < n && t[*i + 1].kind == 'd') {
		unsigned int v;
		const struct tok *d = &t[*i + 1];
		if (d->len != 4 && d->len != 2 && d->len != 3)
			return false;
		if (!tok_num(d, 4, &v))
			return false;
		unsigned int hh = d->len == 2 ? v : v / 100, mm = d->len == 2 ? 0 : v % 100;
		if (mm > 59)
			return false;
		int off = (int)(hh * 60 + mm);
		*off_r = t[*i].kind == '-' ? -off : off;
		*i += 2;
		return true;
	}
	if (t[*i].kind == 'a') {
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			if (t[*i].len == strlen(names[k].name) &&
			    strncasecmp(t[*i].s, names[k].name, t[*i].len) == 0) {
				*off_r = names[k].off;
				(*i)++;
				/* "GMT+0100" */
				int extra;
				if (*i < n && parse_zone(t, n, i, &extra))
					*off_r += extra;
				return true;
			}
		}
		*off_r = 0; /* military or unknown zone: +0000 */
		(*i)++;
		return true;
	}
	return false;
}

static bool parse_time(const struct tok *t, size_t n, size_t *i, unsigned int *hh, unsigned int *mm,
                       unsigned int *ss)
{
	size_t k = *i;
	unsigned int h, m, s = 0;
	if (k + 2 >= n || !tok_num(&t[k], 2, &h) ||
	    (t[k + 1].kind != ':' && t[k + 1].kind != '.') || !tok_num(&t[k + 2], 2, &m))
		return false;
	k += 3;
	if (k + 1 < n && (t[k].kind == ':' || t[k].kind == '.') && tok_num(&t[k + 1], 2, &s))
		k += 2;
	if (h > 23 || m > 59 || s > 60)
		return false;
	*hh = h;
	*mm = m;
	*ss = s == 60 ? 59 : s;
	*i = k;
	return true;
}

static bool fix_year(unsigned int y, size_t digits, int64_t *y_r)
{
	if (digits <= 2)
		*y_r = y < 50 ? 2000 + y : 1900 + y;
	else if (digits == 3)
		*y_r = 1900 + y;
	else if (digits == 4)
		*y_r = y;
	else
		return false;
	return true;
}

int mail_date_parse(const char *s, size_t len, int64_t *utc_r, int *tz_offset_r)
{
	struct tok t[MAX_TOKS];
	size_t n = tokenize(s, len, t), i = 0;
	unsigned int day, mon, year, hh = 0, mm = 0, ss = 0;
	int64_t y;
	int off = 0;
	size_t ydigits;

	if (i < n && is_dow(&t[i]) && (t[i].len == 3 || mail_date_month(t[i].s, 3, false) == 0))
		i++;
	if (i < n && t[i].kind == 'a') {
		/* asctime: Jan 2 15:04:05 [zone] 2006 */
		if ((mon = mail_date_month(t[i].s, t[i].len, true)) == 0)
			return -1;
		i++;
		if (i >= n || !tok_num(&t[i], 2, &day))
			return -1;
		i++;
		if (!parse_time(t, n, &i, &hh, &mm, &ss))
			return -1;
		(void)parse_zone(t, n, &i, &off);
		if (i >= n || !tok_num(&t[i], 4, &year))
			return -1;
		ydigits = t[i].len;
		i++;
	} else {
		if (i >= n || !tok_num(&t[i], 2, &day))
			return -1;
		i++;
		if (i < n && t[i].kind == '-')
			i++;
		if (i >= n || t[i].kind != 'a' ||
		    (mon = mail_date_month(t[i].s, t[i].len, true)) == 0)
			return -1;
		i++;
		if (i < n && t[i].kind == '-')
			i++;
		if (i >= n || !tok_num(&t[i], 4, &year))
			return -1;
		ydigits = t[i].len;
		i++;
		if (i < n && t[i].kind == 'd') {
			if (!parse_time(t, n, &i, &hh, &mm, &ss))
				return -1;
			(void)parse_zone(t, n, &i, &off);
		}
	}
	if (!fix_year(year, ydigits, &y) || day < 1 || day > mail_date_days_in_month(y, mon))
		return -1;
	int64_t days = mail_date_days_from_civil(y, mon, day);
	*utc_r = days * 86400 + hh * 3600 + mm * 60 + ss - (int64_t)off * 60;
	*tz_offset_r = off;
	return 0;
}
