/*
 * date - dates of Internet mail: the RFC 5322 section 3.3 date-time of a
 * Date: header (with the obsolete forms of section 4.3), and calendar
 * arithmetic on civil dates.
 *
 * Owns: turning a Date: field value into the instant it names (seconds
 * since the epoch, UTC) and the zone it was written in (minutes east of
 * UTC), so that callers can compare instants (SORT DATE) or the date as
 * written in the sender's zone (SEARCH SENTON).
 *
 * Lenient, as real mail needs: the day of week is optional and never
 * checked; comments "( ... )" and extra white space anywhere; month names
 * in any case, full names too ("March"); one-digit hours and a missing
 * seconds field; "." as well as ":" between time fields; two-digit years
 * (00-49 -> 2000-2049, 50-99 -> 1950-1999) and three-digit years (+1900);
 * the obsolete zones UT, GMT, Z, EST/EDT, CST/CDT, MST/MDT, PST/PDT and
 * military letters (taken as +0000, as RFC 5322 section 4.3 says); a
 * missing or unknown zone is +0000; "-0000" is +0000. The asctime order
 * "Mon Jan  2 15:04:05 2006" is accepted too. Rejected: no day, month or
 * year, a day over 31 or past the month's end, hour > 23, minute > 59,
 * second > 60 (60 is taken as 59), zone offsets over 99:59.
 *
 * Returns 0 / -1. Pure: no I/O, no allocation, no global state.
 */
#ifndef VMAILD_MAIL_DATE_H
#define VMAILD_MAIL_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * mail_date_parse: parse s[0..len). On success *utc_r is the instant in
 * seconds since 1970-01-01T00:00:00Z and *tz_offset_r the zone offset in
 * minutes east of UTC (local time = utc + offset * 60).
 */
int mail_date_parse(const char *s, size_t len, int64_t *utc_r, int *tz_offset_r);

/* mail_date_days_from_civil: days since 1970-01-01 of y-m-d (proleptic
 * Gregorian; m 1..12, d 1..31; negative before 1970). */
int64_t mail_date_days_from_civil(int64_t y, unsigned int m, unsigned int d);

/* mail_date_civil_from_days: the inverse. */
void mail_date_civil_from_days(int64_t days, int64_t *y_r, unsigned int *m_r, unsigned int *d_r);

/* mail_date_days_in_month: 28..31 */
unsigned int mail_date_days_in_month(int64_t y, unsigned int m);

/* mail_date_month: "Jan".."Dec" (any case; with full_ok also "January")
 * to 1..12, or 0. */
unsigned int mail_date_month(const char *s, size_t len, bool full_ok);

#endif
