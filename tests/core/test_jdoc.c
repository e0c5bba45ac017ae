/*
 * tests/core/test_jdoc.c - the arena parser (core/jdoc.c) against cJSON:
 * whatever it accepts must be cJSON's tree for the same text, member for
 * member, and a container it calls plain must be the text cJSON prints.
 * Hand-picked texts at the edges of its subset, then random ones.
 */
#include <cjson/cJSON.h>

#include "harness.h"
#include "internal.h"

/* Same tree, including member order, duplicate keys and number fields. */
static int same_tree(const cJSON *a, const cJSON *b)
{
    if ((a == NULL) != (b == NULL))
        return 0;
    if (a == NULL)
        return 1;
    if ((a->type & 0xFF) != (b->type & 0xFF))
        return 0;
    if ((a->string == NULL) != (b->string == NULL) ||
        (a->string != NULL && strcmp(a->string, b->string) != 0))
        return 0;
    if (cJSON_IsString(a) && strcmp(a->valuestring, b->valuestring) != 0)
        return 0;
    if (cJSON_IsNumber(a) && (a->valueint != b->valueint ||
                              memcmp(&a->valuedouble, &b->valuedouble, sizeof(double))))
        return 0;
    if (cJSON_IsTrue(a) && a->valueint != b->valueint)
        return 0;
    const cJSON *x = a->child, *y = b->child;
    for (; x != NULL && y != NULL; x = x->next, y = y->next)
        if (!same_tree(x, y))
            return 0;
    if (x != NULL || y != NULL)
        return 0;
    /* cJSON's own layout: the first child's prev is the last */
    if (a->child != NULL) {
        const cJSON *last = a->child;
        while (last->next != NULL)
            last = last->next;
        if (a->child->prev != last)
            return 0;
    }
    return 1;
}

static int checked, taken;

/* Checks one text; `want` 1: must be taken, 0: must be left to cJSON, -1:
 * either. */
static void one(mq__jdoc *d, const char *text, int want, int want_plain)
{
    const cJSON *t = mq__jdoc_parse(d, text);
    cJSON *c = cJSON_ParseWithOpts(text, NULL, 1);

    checked++;
    if (want == 1 && t == NULL)
        fprintf(stderr, "  not taken: %s\n", text);
    if (want != -1)
        CHECK((t != NULL) == (want == 1));
    if (t != NULL) {
        taken++;
        CHECK(c != NULL);
        if (!same_tree(t, c)) {
            fprintf(stderr, "  tree differs from cJSON's: %s\n", text);
            CHECK(0);
        }
        size_t len = 0;
        const char *plain = mq__jdoc_plain(t, &len);
        char *printed = c != NULL ? cJSON_PrintUnformatted(c) : NULL;
        if (plain != NULL) {
            /* plain means: exactly cJSON's print */
            CHECK(printed != NULL && strlen(printed) == len &&
                  memcmp(printed, plain, len) == 0);
        } else if (want_plain == 1) {
            fprintf(stderr, "  not plain: %s\n", text);
            CHECK(0);
        }
        if (want_plain == 0)
            CHECK(plain == NULL);
        cJSON_free(printed);
    }
    cJSON_Delete(c);
}

static void test_edges(void)
{
    mq__jdoc *d = mq__jdoc_new();

    CHECK(d != NULL);
    one(d, "{\"a\":1,\"b\":\"x\",\"c\":[true,false,null],\"d\":{}}", 1, 1);
    one(d, "{\"name\":\"永仁县\",\"tags\":[\"低保户\",\"留守儿童\"],\"n\":-123456789}", 1,
        1);
    one(d, "[]", 1, 1);
    one(d, " { \"a\" : 1 } ", 1, 0);
    one(d, "{\"a\":1}\r\n", 1, 1);
    one(d, "{\"a\":\"x\\ny\\t\\\"q\\\\\"}", 1, 1); /* printed back the same */
    one(d, "{\"a\":\"x\\/y\"}", 1, 0);             /* cJSON prints '/' */
    one(d, "{\"a\":\"\\b\\f\\r\"}", 1, 1);
    one(d, "{\"a\":-0}", 1, 0);
    one(d, "{\"a\":0}", 1, 1);
    one(d, "{\"a\":1234567890}", 1, 0); /* ten digits: past what "%d" is sure of */
    one(d, "{\"a\":3000000000}", 1, 0);
    one(d, "{\"a\":1.5,\"b\":1e3,\"c\":-2.5E-3,\"d\":1E+2}", 1, 0);
    one(d, "{\"a\":1,\"a\":2}", 1, 1); /* duplicates kept, as cJSON keeps them */
    one(d, "{\"a\":[[[[[]]]]]}", 1, 1);
    /* outside the subset: left to cJSON, valid or not */
    one(d, "{\"a\":\"\\u4e2d\"}", 0, -1);
    one(d, "{\"a\":+1}", 0, -1);
    one(d, "{\"a\":01}", 0, -1);
    one(d, "{\"a\":1.}", 0, -1);
    one(d, "{\"a\":.5}", 0, -1);
    one(d, "{\"a\":\"tab\there\"}", 0, -1);
    one(d, "{\"a\":1,}", 0, -1);
    one(d, "{\"a\" 1}", 0, -1);
    one(d, "{\"a\":1} x", 0, -1);
    one(d, "\xEF\xBB\xBF{\"a\":1}", 0, -1);
    one(d, "{\"a\":tru}", 0, -1);
    one(d, "", 0, -1);
    one(d, "{\"a\":\"unterminated}", 0, -1);
    one(d, "{\"a\":1\f}", 0, -1);
    char deep[300];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    deep[200] = '\0';
    one(d, deep, 0, -1);
    /* a second parse forgets the first */
    const cJSON *a = mq__jdoc_parse(d, "{\"k\":\"first\"}");
    CHECK(a != NULL && strcmp(a->child->valuestring, "first") == 0);
    const cJSON *b = mq__jdoc_parse(d, "{\"k\":\"second\"}");
    CHECK(b != NULL && strcmp(b->child->valuestring, "second") == 0);
    mq__jdoc_free(d);
}

/* Random texts from a small grammar, with random damage now and then. */
static void test_random(void)
{
    static const char *const atoms[] = {
        "0",           "-1",       "7",         "123456789", "-0",       "1.25",
        "1e5",         "2E-2",     "true",      "false",     "null",     "\"\"",
        "\"ab\"",      "\"中文\"", "\"a\\nb\"", "\"\\/\"",   "\"\\\\\"", "\"q\\\"\"",
        "99999999999", "[]",       "{}"};
    static const char *const keys[] = {"\"a\"", "\"bb\"", "\"名\"", "\"a\""};
    static const char *const gaps[] = {"", "", "", " ", "\n", "\t"};
    mq__jdoc *d = mq__jdoc_new();
    char text[2048];

    srand(4711);
    for (int round = 0; round < 3000; round++) {
        size_t n = 0;
        int depth = 0, need_value = 1, stack[16], members[16];
        int in_object = 0;
        n += (size_t)snprintf(text + n, sizeof(text) - n, "{");
        stack[depth] = 1;
        members[depth++] = 0;
        in_object = 1;
        while (n < sizeof(text) - 64 && depth > 0) {
            int r = rand() % 10;
            if (need_value && members[depth - 1] < 6 && r < 7) {
                if (members[depth - 1] > 0)
                    n += (size_t)snprintf(text + n, sizeof(text) - n, ",%s",
                                          gaps[rand() % 6]);
                if (in_object)
                    n += (size_t)snprintf(text + n, sizeof(text) - n, "%s:%s",
                                          keys[rand() % 4], gaps[rand() % 6]);
                members[depth - 1]++;
                if (r < 2 && depth < 15) {
                    int obj = rand() % 2;
                    n += (size_t)snprintf(text + n, sizeof(text) - n, "%s",
                                          obj ? "{" : "[");
                    stack[depth] = obj;
                    members[depth++] = 0;
                    in_object = obj;
                } else {
                    n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%s",
                                          atoms[rand() % 21], gaps[rand() % 6]);
                }
            } else {
                n += (size_t)snprintf(text + n, sizeof(text) - n, "%s",
                                      stack[depth - 1] ? "}" : "]");
                depth--;
                in_object = depth > 0 ? stack[depth - 1] : 0;
            }
        }
        while (depth > 0)
            n += (size_t)snprintf(text + n, sizeof(text) - n, "%s",
                                  stack[--depth] ? "}" : "]");
        if (rand() % 8 == 0 && n > 2)
            text[rand() % (int)n] = "x,:\"{}[]\\ 1"[rand() % 11]; /* damage */
        one(d, text, -1, -1);
    }
    mq__jdoc_free(d);
    CHECK(taken > 1000); /* most texts are in the subset */
}

/* The public document: the arena's tree, or cJSON's when the arena does
 * not take the text; either way what cJSON_Parse() gives, and only for a
 * text that is one value (a push body with more is refused). */
static void test_public_doc(void)
{
    static const char *const texts[] = {
        "{\"batch\":\"b1\",\"changes\":[{\"v\":\"x\",\"set\":{\"a\":1}}]}",
        "{\"a\":\"\\u4e2d\"}", /* \u: cJSON's */
        "{\"a\":1} \n\t",      /* white space after the value */
        "[1,2,3]"};
    static const char *const refused[] = {
        "{\"a\":",            /* cut */
        "{\"a\":1} trailing", /* cJSON_Parse() would ignore what follows */
        "{\"a\":1}{\"b\":2}", "{\"a\":\"\\u4e2d\"} x", /* taken by cJSON, then more */
    };
    mq_json_doc *d;
    mq_error err;

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        CHECK(mq_json_doc_parse(&d, texts[i], strlen(texts[i]), &err) == 0);
        cJSON *c = cJSON_Parse(texts[i]);
        CHECK(d != NULL && same_tree(mq_json_doc_root(d), c));
        cJSON_Delete(c);
        mq_json_doc_free(d);
    }
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        d = (mq_json_doc *)&err; /* set to NULL on refusal */
        CHECK(mq_json_doc_parse(&d, refused[i], strlen(refused[i]), &err) == MQ_EINVAL);
        CHECK(d == NULL);
    }
    /* A NUL byte inside the length: both parsers would stop at it. */
    CHECK(mq_json_doc_parse(&d, "{\"a\":1}\0{\"b\":2}", 15, &err) == MQ_EINVAL);
    CHECK(d == NULL && strstr(err.message, "NUL") != NULL);
    CHECK(mq_json_doc_root(NULL) == NULL);
    mq_json_doc_free(NULL);
}

int main(void)
{
    RUN(test_edges);
    RUN(test_public_doc);
    RUN(test_random);
    printf("%d texts, %d taken by the arena parser\n", checked, taken);
    return mq_test_done();
}
