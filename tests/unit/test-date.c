/*
 * test-date.c - RFC 5322 dates (mail/date.h): the standard form, the
 * obsolete forms real mail carries, zones, and what must be refused;
 * calendar arithmetic around leap years and the epoch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "mail/date.h"

static int64_t ts(int64_t y, unsigned int m, unsigned int d, int hh, int mm, int ss)
{
	return mail_date_days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
}

static void test_parse(void **state)
{
	static const struct {
		const char *s;
		int ok;
		int64_t y;
		unsigned int mo, d;
		int hh, mi, ss, off;
	} table[] = {
	    {"Thu, 1 Feb 2024 23:30:00 -0500", 1, 2024, 2, 2, 4, 30, 0, -300},
	    {"Fri, 21 Nov 1997 09:55:06 -0600", 1, 1997, 11, 21, 15, 55, 6, -360},
	    {"Tue, 1 Jul 2003 10:52:37 +0200", 1, 2003, 7, 1, 8, 52, 37, 120},
	    {"1 Jul 2003 10:52:37 +0200", 1, 2003, 7, 1, 8, 52, 37, 120},
	    {"Tue,1 Jul 2003 10:52:37 +0200", 1, 2003, 7, 1, 8, 52, 37, 120},
	    {"Thu, 13 Feb 1969 23:32:54 -0330", 1, 1969, 2, 14, 3, 2, 54, -210},
	    {"Mon, 01 Jan 2024 00:00 +0000", 1, 2024, 1, 1, 0, 0, 0, 0},
	    {"Mon, 1 Jan 2024 0:00:00 GMT", 1, 2024, 1, 1, 0, 0, 0, 0},
	    {"Mon, 1 Jan 2024 12:00:00 UT", 1, 2024, 1, 1, 12, 0, 0, 0},
	    {"Mon, 1 Jan 2024 12:00:00 EST", 1, 2024, 1, 1, 17, 0, 0, -300},
	    {"Mon, 1 Jan 2024 12:00:00 pdt", 1, 2024, 1, 1, 19, 0, 0, -420},
	    {"Mon, 1 Jan 2024 12:00:00 Z", 1, 2024, 1, 1, 12, 0, 0, 0},
	    {"Mon, 1 Jan 2024 12:00:00 A", 1, 2024, 1, 1, 12, 0, 0, 0},
	    {"Mon, 1 Jan 2024 12:00:00 -0000", 1, 2024, 1, 1, 12, 0, 0, 0},
	    {"Mon, 1 Jan 2024 12:00:00", 1, 2024, 1, 1, 12, 0, 0, 0},
	    {"Mon, 1 Jan 2024", 1, 2024, 1, 1, 0, 0, 0, 0},
	    {"Mon, 1 Jan 2024 12:00:00 +0100 (CET)", 1, 2024, 1, 1, 11, 0, 0, 60},
	    {"(comment) Mon, 1 (x) Jan 2024 12:00:00 +0100", 1, 2024, 1, 1, 11, 0, 0, 60},
	    {"  Mon,  1  Jan  2024  12:00:00  +0100  ", 1, 2024, 1, 1, 11, 0, 0, 60},
	    {"Mon, 1 jan 24 12:00:00 +0100", 1, 2024, 1, 1, 11, 0, 0, 60},
	    {"Mon, 1 Jan 99 12:00:00 +0000", 1, 1999, 1, 1, 12, 0, 0, 0},
	    {"Mon, 1 Jan 49 12:00:00 +0000", 1, 2049, 1, 1, 12, 0, 0, 0},
	    {"Mon, 1 Jan 104 12:00:00 +0000", 1, 2004, 1, 1, 12, 0, 0, 0},
	    {"Mon, 1 January 2024 12:00:00 +0000", 1, 2024, 1, 1, 12, 0, 0, 0},
	    {"Monday, 1 Jan 2024 12:00:00 +0000", 1, 2024, 1, 1, 12, 0, 0, 0},
	    {"1-Jan-2024 12:00:00 +0000", 1, 2024, 1, 1, 12, 0, 0, 0},
	    {"Mon, 1 Jan 2024 12.30.15 +0000", 1, 2024, 1, 1, 12, 30, 15, 0},
	    {"Mon, 1 Jan 2024 23:59:60 +0000", 1, 2024, 1, 1, 23, 59, 59, 0},
	    {"Mon, 29 Feb 2016 12:00:00 +0000", 1, 2016, 2, 29, 12, 0, 0, 0},
	    {"Mon Jan  1 12:00:00 2024", 1, 2024, 1, 1, 12, 0, 0, 0},
	    {"Mon Jan 1 12:00:00 UTC 2024", 1, 2024, 1, 1, 12, 0, 0, 0},
	    {"Mon, 1 Jan 2024 12:00:00 +01", 1, 2024, 1, 1, 11, 0, 0, 60},
	    {"Mon, 1 Jan 2024 12:00:00 GMT+0100", 1, 2024, 1, 1, 11, 0, 0, 60},
	    {"Mon, 1 Jan 1970 00:00:00 +0100", 1, 1969, 12, 31, 23, 0, 0, 60},
	    {"", 0, 0, 0, 0, 0, 0, 0, 0},
	    {"not a date", 0, 0, 0, 0, 0, 0, 0, 0},
	    {"Mon, 32 Jan 2024 12:00:00 +0000", 0, 0, 0, 0, 0, 0, 0, 0},
	    {"Mon, 29 Feb 2023 12:00:00 +0000", 0, 0, 0, 0, 0, 0, 0, 0},
	    {"Mon, 0 Jan 2024 12:00:00 +0000", 0, 0, 0, 0, 0, 0, 0, 0},
	    {"Mon, 1 Foo 2024 12:00:00 +0000", 0, 0, 0, 0, 0, 0, 0, 0},
	    {"Mon, 1 Jan", 0, 0, 0, 0, 0, 0, 0, 0},
	    {"Mon, 1 Jan 20245 12:00:00 +0000", 0, 0, 0, 0, 0, 0, 0, 0},
	    {"Mon, 1 Jan 2024 24:00:00 +0000", 0, 0, 0, 0, 0, 0, 0, 0},
	    {"Mon, 1 Jan 2024 12:60:00 +0000", 0, 0, 0, 0, 0, 0, 0, 0},
	    {"Mon, 1 Jan 2024 12 +0000", 0, 0, 0, 0, 0, 0, 0, 0},
	    {"Mon, 123 Jan 2024", 0, 0, 0, 0, 0, 0, 0, 0},
	    {"Mon, 1 Jan 2024 12:00:00 +0199", 1, 2024, 1, 1, 12, 0, 0, 0}, /* bad zone */
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		int64_t utc;
		int off;
		int r = mail_date_parse(table[i].s, strlen(table[i].s), &utc, &off);
		if (!table[i].ok) {
			if (r != -1)
				fail_msg("\"%s\" should fail", table[i].s);
			continue;
		}
		if (r != 0)
			fail_msg("\"%s\" should parse", table[i].s);
		int64_t expect =
		    ts(table[i].y, table[i].mo, table[i].d, table[i].hh, table[i].mi, table[i].ss);
		if (utc != expect || off != table[i].off)
			fail_msg("\"%s\": %lld %d, expected %lld %d", table[i].s, (long long)utc,
			         off, (long long)expect, table[i].off);
	}
}

static void test_civil(void **state)
{
	assert_int_equal(mail_date_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(mail_date_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(mail_date_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(mail_date_days_in_month(2000, 2), 29);
	assert_int_equal(mail_date_days_in_month(1900, 2), 28);
	assert_int_equal(mail_date_days_in_month(2024, 2), 29);
	assert_int_equal(mail_date_days_in_month(2023, 4), 30);
	for (int64_t d = -800000; d < 800000; d += 97) {
		int64_t y;
		unsigned int m, dd;
		mail_date_civil_from_days(d, &y, &m, &dd);
		assert_int_equal(mail_date_days_from_civil(y, m, dd), d);
	}
	assert_int_equal(mail_date_month("jan", 3, false), 1);
	assert_int_equal(mail_date_month("DEC", 3, false), 12);
	assert_int_equal(mail_date_month("December", 8, false), 0);
	assert_int_equal(mail_date_month("December", 8, true), 12);
	assert_int_equal(mail_date_month("Ja", 2, true), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_civil),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
