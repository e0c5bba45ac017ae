/*
 * core/date.c - what a calendar date is: "YYYY-MM-DD" naming a day that
 * exists in the proleptic Gregorian calendar.  Shared by the schema (date
 * bounds), validation (date fields, the birth date inside an identity
 * number), the needs report (deadlines) and the defaults of a write (a
 * deadline N days after the day a need was recorded).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int date_parts_valid(int y, int m, int d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    if (y < 1 || m < 1 || m > 12 || d < 1)
        return 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

int mq__check_date(const char *s, char *why, size_t n)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !all_digits(s, 4) ||
        !all_digits(s + 5, 2) || !all_digits(s + 8, 2)) {
        snprintf(why, n, "must be a date written YYYY-MM-DD");
        return MQ_EINVAL;
    }
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    if (!date_parts_valid(y, m, d)) {
        snprintf(why, n, "is not a real calendar date");
        return MQ_EINVAL;
    }
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (the inverse of
 * hlc.c's civil_from_days): March-based years, so that the leap day ends
 * a year. */
static int64_t days_from_civil(int y, int m, int d)
{
    int64_t yy = m <= 2 ? y - 1 : y;
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

int mq__date_add(const char *date, long days, char out[11])
{
    char why[64], iso[MQ_ISO_MAX];

    if (mq__check_date(date, why, sizeof(why)) != 0)
        return MQ_EINVAL;
    int64_t n = days_from_civil(atoi(date), atoi(date + 5), atoi(date + 8)) + days;
    if (n >= days_from_civil(10000, 1, 1))
        return MQ_EINVAL; /* past what YYYY-MM-DD can write */
    mq__iso_time(iso, n * 86400000);
    snprintf(out, 11, "%.10s", iso);
    return 0;
}
