/*
 * core/date.c - what a calendar date is: "YYYY-MM-DD" naming a day that
 * exists in the proleptic Gregorian calendar.  Shared by the schema (date
 * bounds), validation (date fields, the birth date inside an identity
 * number) and the needs report (deadlines).
 */
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
