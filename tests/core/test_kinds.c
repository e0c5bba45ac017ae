/*
 * tests/core/test_kinds.c - field kinds: identity numbers (GB 11643),
 * phone numbers, calendar dates, text lengths in characters, numbers,
 * enums and tags.
 */
#include <cjson/cJSON.h>

#include "harness.h"
#include "internal.h"

static const mq_field *field_of(const mq_schema *s, const char *type, const char *name)
{
    return mq__type_field(mq__schema_type(s, type), name);
}

static int ok_value(const mq_field *f, const char *json)
{
    cJSON *v = cJSON_Parse(json);
    char why[256];
    int rc = mq__check_value(f, v, why, sizeof(why));

    cJSON_Delete(v);
    return rc == 0;
}

static mq_schema *schema;

static void test_id_number(void)
{
    const mq_field *f = field_of(schema, "household", "head_id_number");

    CHECK(ok_value(f, "\"532327198001010015\""));
    CHECK(ok_value(f, "\"11010519491231002X\""));
    CHECK(!ok_value(f, "\"532327198001010011\"")); /* wrong check digit */
    CHECK(!ok_value(f, "\"11010519491231002x\"")); /* lower-case x */
    CHECK(!ok_value(f, "\"5323271980010100\""));   /* too short */
    CHECK(!ok_value(f, "\"532327198002300010\"")); /* 30 February */
    CHECK(!ok_value(f, "53232719800101001"));      /* a number, not a string */

    cJSON *v = cJSON_CreateString("532327198001010011");
    char why[256];
    mq__check_value(f, v, why, sizeof(why));
    CHECK_HAS(why, "check digit is 1, expected 5");
    CHECK_HAS(why, "532327198001010011");
    cJSON_Delete(v);
}

static void test_phone(void)
{
    const mq_field *f = field_of(schema, "household", "phone");

    CHECK(ok_value(f, "\"13812345678\""));
    CHECK(ok_value(f, "\"0878-6123456\""));
    CHECK(ok_value(f, "\"01012345678\""));
    CHECK(!ok_value(f, "\"12812345678\""));
    CHECK(!ok_value(f, "\"1381234567\""));
    CHECK(!ok_value(f, "\"phone\""));
    CHECK(!ok_value(f, "\"0878-0123456\""));
}

static void test_date(void)
{
    const mq_field *f = field_of(schema, "visit", "at");
    const mq_field *birth = field_of(schema, "member", "birth_date");
    char why[128];

    CHECK(ok_value(f, "\"2012-02-29\""));
    CHECK(ok_value(f, "\"2000-02-29\""));
    CHECK(!ok_value(f, "\"1900-02-29\""));
    CHECK(!ok_value(f, "\"2011-02-29\""));
    CHECK(!ok_value(f, "\"2012-13-45\""));
    CHECK(!ok_value(f, "\"2012-04-31\""));
    CHECK(!ok_value(f, "\"2012-4-3\""));
    CHECK(!ok_value(birth, "\"1850-01-01\"")); /* before the schema's bound */
    CHECK(mq__check_date("2012-13-45", why, sizeof(why)) != 0);
    CHECK_HAS(why, "not a real calendar date");
}

static void test_text(void)
{
    const mq_field *name = field_of(schema, "household", "head_name");

    CHECK(ok_value(name, "\"李明\""));
    CHECK(!ok_value(name, "\"\""));
    /* 32 Chinese characters are 96 bytes but within max_length 32 */
    CHECK(ok_value(
        name, "\"一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二\""));
    CHECK(!ok_value(
        name, "\"一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三\""));
    CHECK(!ok_value(name, "\"a\\u0001b\""));
    CHECK(!ok_value(name, "null")); /* required */
}

static void test_numbers_enums_tags(void)
{
    const mq_field *size = field_of(schema, "household", "size");
    const mq_field *amount = field_of(schema, "need_action", "amount_yuan");
    const mq_field *action = field_of(schema, "need_action", "action");
    const mq_field *tags = field_of(schema, "household", "tags");
    const mq_field *ref = field_of(schema, "member", "household");

    CHECK(ok_value(size, "3"));
    CHECK(!ok_value(size, "3.5"));
    CHECK(!ok_value(size, "0"));
    CHECK(!ok_value(size, "\"3\""));
    CHECK(ok_value(amount, "12.5"));
    CHECK(!ok_value(amount, "-1"));
    CHECK(ok_value(action, "\"resolve\""));
    CHECK(!ok_value(action, "\"explode\""));
    CHECK(ok_value(tags, "[\"低保户\",\"监测户\"]"));
    CHECK(ok_value(tags, "[]"));
    CHECK(!ok_value(tags, "[\"低保户\",\"低保户\"]"));
    CHECK(!ok_value(tags, "[\"富裕户\"]"));
    CHECK(ok_value(ref, "\"b74f9d16-f13e-499b-afd9-9a725607562a\""));
    CHECK(!ok_value(ref, "\"not-a-known-household\""));
    CHECK(!ok_value(ref, "\"B74F9D16-F13E-499B-AFD9-9A725607562A\""));
}

static void test_bad_schemas(void)
{
    mq_schema *s = NULL;
    mq_error err;

    CHECK(mq__schema_parse(&s,
                           "{\"types\":{\"x\":{\"kind\":\"mutable\",\"fields\":"
                           "{\"a\":{\"kind\":\"texte\"}}}}}",
                           &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "unknown kind \"texte\"");
    CHECK(mq__schema_parse(&s,
                           "{\"types\":{\"x\":{\"kind\":\"mutable\",\"fields\":"
                           "{\"a\":{\"kind\":\"ref\",\"to\":\"y\"}}}}}",
                           &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "unknown type \"y\"");
    CHECK(mq__schema_parse(&s,
                           "{\"types\":{\"x\":{\"kind\":\"mutable\",\"fields\":"
                           "{\"a\":{\"kind\":\"text\",\"maxlen\":3}}}}}",
                           &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "unknown key \"maxlen\"");
    CHECK(mq__schema_parse(
              &s,
              "{\"types\":{\"x'; DROP TABLE record; --\":{\"kind\":\"mutable\","
              "\"fields\":{\"a\":{\"kind\":\"text\"}}}}}",
              &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "type name");
    CHECK(s == NULL);
}

int main(void)
{
    mq_error err;

    if (mq__schema_default(&schema, &err) != 0) {
        fprintf(stderr, "default schema: %s\n", err.message);
        return 1;
    }
    RUN(test_id_number);
    RUN(test_phone);
    RUN(test_date);
    RUN(test_text);
    RUN(test_numbers_enums_tags);
    RUN(test_bad_schemas);
    mq__schema_free(schema);
    return mq_test_done();
}
