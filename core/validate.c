/*
 * core/validate.c - checks one field value against its declaration.
 *
 * Each check writes the rule that failed and the offending value into the
 * caller's buffer, so that the message reaching the cadre reads like
 * "field head_id_number: check digit is 1, expected X (value ...)".  The
 * caller adds the line, record and field.
 */
#include <math.h>
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

/*
 * GB 11643-1999: six digits of region, eight of birth date, three of
 * sequence, then a check digit: the weighted sum of the first 17 digits
 * (weights 2^(17-i) mod 11) taken mod 11 indexes "10X98765432".
 */
static int check_id_number(const char *s, char *why, size_t n)
{
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char check[] = "10X98765432";
    char birth[11];
    int sum = 0;

    if (strlen(s) != 18 || !all_digits(s, 17) ||
        !((s[17] >= '0' && s[17] <= '9') || s[17] == 'X')) {
        snprintf(why, n, "must be 18 characters: 17 digits and a check digit 0-9 or X");
        return MQ_EINVAL;
    }
    memcpy(birth, s + 6, 4);
    birth[4] = '-';
    memcpy(birth + 5, s + 10, 2);
    birth[7] = '-';
    memcpy(birth + 8, s + 12, 2);
    birth[10] = '\0';
    if (mq__check_date(birth, why, n) != 0) {
        snprintf(why, n, "birth date %s in the number is not a real date", birth);
        return MQ_EINVAL;
    }
    for (int i = 0; i < 17; i++)
        sum += (s[i] - '0') * w[i];
    if (s[17] != check[sum % 11]) {
        snprintf(why, n, "check digit is %c, expected %c (GB 11643)", s[17],
                 check[sum % 11]);
        return MQ_EINVAL;
    }
    return 0;
}

/* A mainland mobile number (1[3-9] and nine digits) or a landline with its
 * area code (0, two or three digits, an optional dash, seven or eight). */
static int check_phone(const char *s)
{
    size_t len = strlen(s);

    if (len == 11 && s[0] == '1' && s[1] >= '3' && s[1] <= '9' && all_digits(s, 11))
        return 0;
    if (s[0] != '0')
        return MQ_EINVAL;
    for (size_t area = 3; area <= 4; area++) {
        if (len <= area || !all_digits(s, area))
            continue;
        const char *rest = s + area + (s[area] == '-');
        size_t rl = strlen(rest);
        if ((rl == 7 || rl == 8) && all_digits(rest, rl) && rest[0] != '0')
            return 0;
    }
    return MQ_EINVAL;
}

static int in_values(const mq_field *f, const char *v)
{
    for (size_t i = 0; i < f->nvalues; i++)
        if (strcmp(f->values[i], v) == 0)
            return 1;
    return 0;
}

static int check_text(const mq_field *f, const char *s, char *why, size_t n)
{
    long len = mq__utf8_length(s);

    if (len < 0) {
        snprintf(why, n, "is not valid UTF-8");
        return MQ_EINVAL;
    }
    for (const char *p = s; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t') {
            snprintf(why, n, "contains a control character");
            return MQ_EINVAL;
        }
    }
    if (f->min_length >= 0 && len < f->min_length) {
        snprintf(why, n, "must be at least %ld characters, has %ld", f->min_length, len);
        return MQ_EINVAL;
    }
    if (f->max_length >= 0 && len > f->max_length) {
        snprintf(why, n, "must be at most %ld characters, has %ld", f->max_length, len);
        return MQ_EINVAL;
    }
    return 0;
}

static int check_number(const mq_field *f, const cJSON *v, char *why, size_t n)
{
    double d = v->valuedouble;

    if (!isfinite(d)) {
        snprintf(why, n, "must be a finite number");
        return MQ_EINVAL;
    }
    if (f->kind == MQ_KIND_INTEGER && (d != floor(d) || fabs(d) > 9007199254740992.0)) {
        snprintf(why, n, "must be a whole number");
        return MQ_EINVAL;
    }
    if (f->has_min && d < f->min) {
        snprintf(why, n, "must be at least %.15g", f->min);
        return MQ_EINVAL;
    }
    if (f->has_max && d > f->max) {
        snprintf(why, n, "must be at most %.15g", f->max);
        return MQ_EINVAL;
    }
    return 0;
}

static int check_kind(const mq_field *f, const cJSON *v, char *why, size_t n)
{
    switch (f->kind) {
    case MQ_KIND_TEXT:
        if (!cJSON_IsString(v))
            break;
        return check_text(f, v->valuestring, why, n);
    case MQ_KIND_INTEGER:
    case MQ_KIND_DECIMAL:
        if (!cJSON_IsNumber(v))
            break;
        return check_number(f, v, why, n);
    case MQ_KIND_DATE:
        if (!cJSON_IsString(v))
            break;
        if (mq__check_date(v->valuestring, why, n) != 0)
            return MQ_EINVAL;
        if ((f->min_date != NULL && strcmp(v->valuestring, f->min_date) < 0) ||
            (f->max_date != NULL && strcmp(v->valuestring, f->max_date) > 0)) {
            snprintf(why, n, "must be between %s and %s", f->min_date ? f->min_date : "-",
                     f->max_date ? f->max_date : "-");
            return MQ_EINVAL;
        }
        return 0;
    case MQ_KIND_ENUM:
        if (!cJSON_IsString(v))
            break;
        if (!in_values(f, v->valuestring)) {
            size_t used = (size_t)snprintf(why, n, "must be one of");
            for (size_t i = 0; i < f->nvalues && used < n; i++)
                used += (size_t)snprintf(why + used, n - used, "%s%s", i ? ", " : " ",
                                         f->values[i]);
            return MQ_EINVAL;
        }
        return 0;
    case MQ_KIND_TAGS: {
        const cJSON *a, *b;
        if (!cJSON_IsArray(v))
            break;
        cJSON_ArrayForEach(a, v)
        {
            if (!cJSON_IsString(a) || !in_values(f, a->valuestring)) {
                snprintf(why, n, "every tag must be one of the choices of the schema");
                return MQ_EINVAL;
            }
            for (b = a->next; b != NULL; b = b->next)
                if (cJSON_IsString(b) && strcmp(a->valuestring, b->valuestring) == 0) {
                    snprintf(why, n, "lists a tag twice");
                    return MQ_EINVAL;
                }
        }
        return 0;
    }
    case MQ_KIND_REF:
        if (!cJSON_IsString(v))
            break;
        if (!mq_valid_uuid(v->valuestring)) {
            snprintf(why, n, "must be the id (a lower-case UUID) of a %s record", f->to);
            return MQ_EINVAL;
        }
        return 0;
    case MQ_KIND_ID_NUMBER:
        if (!cJSON_IsString(v))
            break;
        return check_id_number(v->valuestring, why, n);
    case MQ_KIND_PHONE:
        if (!cJSON_IsString(v))
            break;
        if (check_phone(v->valuestring) != 0) {
            snprintf(why, n,
                     "must be a mobile number (11 digits from 13-19) or a landline "
                     "with its area code");
            return MQ_EINVAL;
        }
        return 0;
    case MQ_KIND_BOOLEAN:
        if (!cJSON_IsBool(v))
            break;
        return 0;
    }
    static const char *const wanted[] = {"text",
                                         "a whole number",
                                         "a number",
                                         "a date string",
                                         "a text choice",
                                         "an array of tags",
                                         "a record id",
                                         "an identity number string",
                                         "a phone number string",
                                         "true or false"};
    snprintf(why, n, "must be %s", wanted[f->kind]);
    return MQ_EINVAL;
}

int mq__check_rule(const mq_field *f, const cJSON *value, char *why, size_t n)
{
    if (cJSON_IsNull(value)) {
        if (f->required) {
            snprintf(why, n, "is required");
            return MQ_EINVAL;
        }
        return 0;
    }
    return check_kind(f, value, why, n);
}

int mq__check_value(const mq_field *f, const cJSON *value, char *why, size_t n)
{
    int rc = mq__check_rule(f, value, why, n);

    if (rc != 0 && !cJSON_IsNull(value)) {
        /* Append the offending value, shortened. */
        char *txt = mq__value_text(value);
        size_t used = strlen(why);
        if (used + 1 < n)
            snprintf(why + used, n - used, " (value %s)", txt != NULL ? txt : "?");
        free(txt);
    }
    return rc;
}

int mq__check_ref(mq_store *s, const mq_field *f, const char *value, char *why, size_t n,
                  mq_error *err)
{
    mq__kind k;
    int rc = mq__kind_get(s, value, &k, err);

    if (rc != 0)
        return rc;
    if (!k.exists) {
        snprintf(why, n, "refers to %s %s, which does not exist", f->to, value);
        return MQ_ENOTFOUND;
    }
    if (strcmp(k.type_name, f->to) != 0) {
        snprintf(why, n, "must refer to a %s record, but %s is of type %s", f->to, value,
                 k.type_name);
        return MQ_EINVAL;
    }
    if (k.deleted) {
        snprintf(why, n, "refers to %s %s, which is deleted", f->to, value);
        return MQ_EINVAL;
    }
    return 0;
}
