/*
 * tests/core/test_forms.c - what a form needs from the core: the schema's
 * Chinese labels and how the parser checks them, the schema as JSON for a
 * page, the check of a form that names every problem, the defaults a new
 * record gets, the rules across fields (a need of an area, a talk with
 * somebody), duplicate warnings and the search a front end makes.
 */
#include <stdint.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "harness.h"
#include "internal.h"
#include "minqing/minqing.h"
#include "minqing/report.h"

#define COUNTY  "00000000-0000-4000-8000-000000000001"
#define VILLAGE "00000000-0000-4000-8000-000000000002"
#define GROUP   "00000000-0000-4000-8000-000000000003"
#define CADRE   "00000000-0000-4000-8000-0000000000c1"
#define CADRE2  "00000000-0000-4000-8000-0000000000c2"
#define HH      "00000000-0000-4000-8000-0000000000a1"
#define HH2     "00000000-0000-4000-8000-0000000000a2"
#define HH3     "00000000-0000-4000-8000-0000000000a3"
#define NEED    "00000000-0000-4000-8000-0000000000d1"
#define ID1     "11010519491231002X"
#define ID2     "532327198001010015"
#define ID3     "532327198001010031"

static char dir[] = "/tmp/mq-test-forms-XXXXXX";
static int serial;

/* A replica with a county, village, group and two cadres; `cadre` (may be
 * NULL) is the replica's own. */
static mq_store *open_replica(const char *cadre)
{
    char path[256];
    mq_store *s = NULL;
    mq_error err;

    snprintf(path, sizeof(path), "%s/r%d.db", dir, serial++);
    if (mq_store_open(&s, path, &err) != 0 || mq_store_init(s, "t", cadre, &err) != 0) {
        fprintf(stderr, "open %s: %s\n", path, err.message);
        exit(2);
    }
    static const char *const recs[][3] = {
        {"area", COUNTY, "{\"name\":\"县\",\"level\":\"county\"}"},
        {"area", VILLAGE,
         "{\"name\":\"中和村\",\"level\":\"village\",\"parent\":\"" COUNTY "\"}"},
        {"area", GROUP,
         "{\"name\":\"大村组\",\"level\":\"group\",\"parent\":\"" VILLAGE "\"}"},
        {"cadre", CADRE, "{\"name\":\"陈永丽\"}"},
        {"cadre", CADRE2, "{\"name\":\"马正光\"}"}};
    for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
        if (mq_store_put(s, recs[i][0], recs[i][1], recs[i][2], NULL, NULL, &err) != 0) {
            fprintf(stderr, "seed %s: %s\n", recs[i][1], err.message);
            exit(2);
        }
    }
    return s;
}

/* A member of the record `id` of `s`, as a cJSON tree the caller deletes. */
static cJSON *fields_of(mq_store *s, const char *id)
{
    char *json = NULL;
    mq_error err;

    if (mq_store_get(s, id, &json, &err) != 0)
        return NULL;
    cJSON *o = cJSON_Parse(json);
    mq_free(json);
    cJSON *f = cJSON_DetachItemFromObject(o, "fields");
    cJSON_Delete(o);
    return f;
}

static const char *str(const cJSON *o, const char *name)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

static void today(mq_store *s, char out[11], long plus)
{
    char iso[MQ_ISO_MAX];

    mq__iso_time(iso, mq_store_now_ms(s));
    iso[10] = '\0';
    CHECK(mq__date_add(iso, plus, out) == 0);
}

/* ---- labels ------------------------------------------------------------ */

static void test_default_labels(void)
{
    mq_schema *schema = NULL;
    mq_error err;
    size_t unlabelled = 0;

    CHECK(mq__schema_default(&schema, &err) == 0);
    for (size_t i = 0; schema != NULL && i < schema->ntypes; i++) {
        const mq_type *t = &schema->types[i];
        if (t->label == NULL) {
            fprintf(stderr, "  type %s has no label\n", t->name);
            unlabelled++;
        }
        for (size_t k = 0; k < t->nfields; k++) {
            const mq_field *f = &t->fields[k];
            if (f->label == NULL) {
                fprintf(stderr, "  %s.%s has no label\n", t->name, f->name);
                unlabelled++;
            }
            for (size_t v = 0; v < f->nvalues; v++) {
                if (f->labels == NULL || f->labels[v] == NULL) {
                    fprintf(stderr, "  %s.%s: choice %s has no label\n", t->name, f->name,
                            f->values[v]);
                    unlabelled++;
                }
            }
        }
    }
    CHECK(unlabelled == 0);
    const mq_type *need = mq__schema_type(schema, "need");
    CHECK_STR(need->label, "民情诉求");
    const mq_field *cat = mq__type_field(need, "category");
    CHECK_STR(cat->values[0], "drinking_water");
    CHECK_STR(cat->labels[0], "饮水");
    mq__schema_free(schema);
}

/* Parses a one-type schema whose field `a` is `decl`; returns the code. */
static int parse_field(const char *decl, mq_error *err)
{
    char json[1024];
    mq_schema *s = NULL;

    snprintf(json, sizeof(json),
             "{\"types\":{\"x\":{\"kind\":\"mutable\",\"label\":\"某\",\"fields\":"
             "{\"a\":%s}}}}",
             decl);
    int rc = mq__schema_parse(&s, json, err);
    mq__schema_free(s);
    return rc;
}

static void test_bad_labels(void)
{
    mq_error err;

    /* Labels are optional for other schemas. */
    CHECK(parse_field("{\"kind\":\"enum\",\"values\":[\"p\",\"q\"]}", &err) == 0);
    CHECK(parse_field("{\"kind\":\"enum\",\"values\":[\"p\",\"q\"],\"label\":\"甲\","
                      "\"labels\":{\"q\":\"乙\"}}",
                      &err) == 0);

    CHECK(parse_field("{\"kind\":\"text\",\"label\":7}", &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "type x: field a: label: must be a string (value 7)");
    CHECK(parse_field("{\"kind\":\"text\",\"label\":\"\"}", &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "type x: field a: label: must not be empty");
    CHECK(parse_field(
              "{\"kind\":\"text\",\"label\":"
              "\"一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三\"}",
              &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "type x: field a: label: must be at most 32 characters");
    CHECK_HAS(err.message, "(value \"一二三");
    CHECK(parse_field("{\"kind\":\"text\",\"label\":\"a\\u0001\"}", &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "contains a control character");
    CHECK(parse_field("{\"kind\":\"text\",\"label\":\"\xc3\x28\"}", &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "label: is not valid UTF-8");
    CHECK(parse_field("{\"kind\":\"enum\",\"values\":[\"p\"],\"labels\":{\"r\":\"乙\"}}",
                      &err) == MQ_EINVAL);
    CHECK_HAS(err.message,
              "type x: field a: labels: \"r\" is not one of the field's \"values\"");
    CHECK(parse_field("{\"kind\":\"enum\",\"values\":[\"p\"],\"labels\":{\"p\":false}}",
                      &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "type x: field a: labels: p: label: must be a string");
    CHECK(parse_field("{\"kind\":\"enum\",\"values\":[\"p\"],\"labels\":[\"乙\"]}",
                      &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "\"labels\" must be an object");
    CHECK(parse_field("{\"kind\":\"text\",\"labels\":{\"p\":\"乙\"}}", &err) ==
          MQ_EINVAL);
    CHECK_HAS(err.message, "\"labels\" name the choices of an enum or tags field");

    mq_schema *s = NULL;
    CHECK(mq__schema_parse(&s,
                           "{\"types\":{\"x\":{\"kind\":\"mutable\",\"label\":[],"
                           "\"fields\":{\"a\":{\"kind\":\"text\"}}}}}",
                           &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "schema: type x: label: must be a string (value [])");
    CHECK(mq__schema_parse(&s,
                           "{\"types\":{\"x\":{\"kind\":\"mutable\",\"lable\":\"某\","
                           "\"fields\":{\"a\":{\"kind\":\"text\"}}}}}",
                           &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "schema: type x: unknown key \"lable\"");
    CHECK(s == NULL);
}

/* Parses a one-type schema with fields d (date), c (enum p/q), r (ref to x)
 * and t (text), and `rules` added to the type. */
static int parse_rules(const char *rules, mq_error *err)
{
    char json[1024];
    mq_schema *s = NULL;

    snprintf(
        json, sizeof(json),
        "{\"types\":{\"cadre\":{\"kind\":\"mutable\",\"fields\":{\"n\":{\"kind\":"
        "\"text\"}}},\"x\":{\"kind\":\"mutable\",\"fields\":{\"d\":{\"kind\":\"date\"},"
        "\"e\":{\"kind\":\"date\"},\"c\":{\"kind\":\"enum\",\"values\":[\"p\",\"q\"]},"
        "\"r\":{\"kind\":\"ref\",\"to\":\"cadre\"},\"t\":{\"kind\":\"text\"}},%s}}}",
        rules);
    int rc = mq__schema_parse(&s, json, err);
    mq__schema_free(s);
    return rc;
}

static void test_bad_rules(void)
{
    mq_error err;

    CHECK(
        parse_rules("\"defaults\":{\"r\":\"cadre\",\"d\":\"today\",\"e\":{\"after\":"
                    "\"d\",\"by\":\"c\",\"days\":{\"p\":3}}},\"one_of\":[[\"r\",\"t\"]],"
                    "\"warn_duplicate\":[\"t\"]",
                    &err) == 0);
    CHECK(parse_rules("\"defaults\":{\"d\":\"cadre\"}", &err) == MQ_EINVAL);
    CHECK_HAS(err.message,
              "type x: defaults: d: \"cadre\" fills a ref to a cadre record");
    CHECK(parse_rules("\"defaults\":{\"t\":\"today\"}", &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "\"today\" fills a date field, and t is not one");
    CHECK(parse_rules("\"defaults\":{\"zz\":\"today\"}", &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "type x: defaults: \"zz\" is not a field of the type");
    CHECK(parse_rules("\"defaults\":{\"d\":\"now\"}", &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "a rule is \"cadre\", \"today\" or");
    CHECK(parse_rules("\"defaults\":{\"e\":{\"after\":\"d\",\"by\":\"c\",\"days\":"
                      "{\"s\":3}}}",
                      &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "days: \"s\" is not a choice of c");
    CHECK(parse_rules("\"defaults\":{\"e\":{\"after\":\"d\",\"by\":\"c\",\"days\":"
                      "{\"p\":-1}}}",
                      &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "days: p: must be a whole number of days from 0 to 36500");
    CHECK(parse_rules("\"defaults\":{\"e\":{\"after\":\"t\",\"by\":\"c\",\"days\":{}}}",
                      &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "field t must be a date");
    CHECK(parse_rules("\"one_of\":[[\"t\"]]", &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "one_of: each entry lists two fields or more");
    CHECK(parse_rules("\"one_of\":[[\"t\",\"nope\"]]", &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "one_of: \"nope\" is not a field of the type");
    CHECK(parse_rules("\"warn_duplicate\":[\"nope\"]", &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "warn_duplicate: \"nope\" is not a field of the type");
    CHECK(parse_rules("\"scope\":[\"r\",\"t\"]", &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "scope \"t\" is not another ref field of the type");
}

/* ---- the schema for forms ------------------------------------------------ */

static void test_schema_json(void)
{
    mq_store *s = open_replica(CADRE);
    char *json = NULL;
    mq_error err;

    CHECK(mq_store_schema_json(s, &json, &err) == 0);
    cJSON *o = cJSON_Parse(json);
    CHECK(o != NULL);
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(o, "types");
    const cJSON *hh = cJSON_GetObjectItemCaseSensitive(types, "household");
    CHECK_STR(str(hh, "label"), "农户");
    CHECK_STR(str(hh, "kind"), "mutable");
    const cJSON *hf = cJSON_GetObjectItemCaseSensitive(hh, "fields");
    const cJSON *idn = cJSON_GetObjectItemCaseSensitive(hf, "head_id_number");
    CHECK_STR(str(idn, "label"), "户主身份证号");
    CHECK_STR(str(idn, "kind"), "id_number");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(idn, "required")));
    /* Fields in the schema's order: a form lays them out so. */
    CHECK_STR(hf->child->string, "area");
    CHECK_STR(str(cJSON_GetObjectItemCaseSensitive(hf, "paired_cadre"), "to"), "cadre");
    const cJSON *need = cJSON_GetObjectItemCaseSensitive(types, "need");
    const cJSON *cat = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(need, "fields"), "category");
    CHECK_STR(str(cJSON_GetObjectItemCaseSensitive(cat, "labels"), "medical"), "医疗");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cat, "values")) == 11);
    const cJSON *scope = cJSON_GetObjectItemCaseSensitive(need, "scope");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(scope, 0)), "household");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(scope, 1)), "area");
    const cJSON *dl = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "defaults"),
                                         "need"),
        "deadline");
    CHECK_STR(str(dl, "after"), "recorded_at");
    CHECK(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(dl, "days"),
                                           "medical")
              ->valueint == 15);
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(o, "labels");
    CHECK_STR(str(cJSON_GetObjectItemCaseSensitive(labels, "status"), "overdue"), "超期");
    CHECK_STR(str(cJSON_GetObjectItemCaseSensitive(labels, "category"), "dispute"),
              "纠纷");
    CHECK_STR(str(o, "cadre"), CADRE);
    cJSON_Delete(o);
    mq_free(json);

    /* The report's groups named TYPE.FIELD come from the field's labels. */
    CHECK(mq_report_labels(s, &json, &err) == 0);
    o = cJSON_Parse(json);
    CHECK_STR(str(cJSON_GetObjectItemCaseSensitive(o, "level"), "village"), "村");
    CHECK_STR(
        str(cJSON_GetObjectItemCaseSensitive(o, "visit_kind"), "petition_reception"),
        "信访接待");
    CHECK_STR(str(cJSON_GetObjectItemCaseSensitive(o, "occasion"), "key_post"),
              "重要岗位");
    cJSON_Delete(o);
    mq_free(json);
    mq_store_close(s);
}

/* ---- checking a form ------------------------------------------------------- */

typedef struct seen {
    char text[2048];
    size_t n;
} seen;

static void note(void *ctx, const char *field, const char *problem)
{
    seen *w = ctx;
    size_t used = strlen(w->text);

    snprintf(w->text + used, sizeof(w->text) - used, "[%s] %s\n", field ? field : "-",
             problem);
    w->n++;
}

static size_t count_type(mq_store *s, const char *type);

static void test_validate(void)
{
    mq_store *s = open_replica(CADRE);
    seen w = {"", 0};
    size_t n = 99;
    mq_error err;

    /* Every problem, each with its field and rule, and nothing written. */
    CHECK(mq_store_validate(s, "household", NULL,
                            "{\"area\":\"" GROUP
                            "\",\"head_id_number\":\"110105194912310021\","
                            "\"phone\":\"12345\",\"size\":0,\"colour\":\"red\","
                            "\"tags\":[\"富户\"]}",
                            note, &w, &n, &err) == 0);
    CHECK(n == 6);
    CHECK(w.n == 6);
    CHECK_HAS(w.text, "[head_id_number] check digit is 1, expected X (GB 11643)\n");
    CHECK_HAS(w.text, "[phone] must be a mobile number");
    CHECK_HAS(w.text, "[size] must be at least 1\n");
    CHECK_HAS(w.text, "[colour] not a field of household\n");
    CHECK_HAS(w.text, "[tags] every tag must be one of the choices");
    CHECK_HAS(w.text, "[head_name] is required\n");
    CHECK(count_type(s, "household") == 0);

    /* put refuses the same input with the first problem. */
    CHECK(mq_store_put(s, "household", NULL,
                       "{\"area\":\"" GROUP
                       "\",\"head_id_number\":\"110105194912310021\"}",
                       NULL, NULL, &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "household (new): field head_id_number: check digit is 1, "
                           "expected X (GB 11643) (value \"110105194912310021\")");

    w.text[0] = '\0';
    w.n = 0;
    CHECK(mq_store_validate(s, "need", NULL,
                            "{\"category\":\"medical\",\"description\":\"药\","
                            "\"recorded_at\":\"2024-02-30\",\"household\":\"" VILLAGE
                            "\"}",
                            note, &w, &n, &err) == 0);
    CHECK(n == 2);
    CHECK_HAS(w.text, "[recorded_at] is not a real calendar date\n");
    CHECK_HAS(w.text, "[household] must refer to a household record, but " VILLAGE
                      " is of type area\n");
    w.text[0] = '\0';
    CHECK(mq_store_validate(s, "need", NULL,
                            "{\"category\":\"medical\",\"description\":\"药\","
                            "\"deadline\":\"soon\"}",
                            note, &w, &n, &err) == 0);
    CHECK(n == 2);
    CHECK_HAS(w.text, "[deadline] must be a date written YYYY-MM-DD\n");
    CHECK_HAS(w.text, "[-] household or area is required: give one of them");

    /* A good form has no problem; the defaults fill what a visit requires. */
    CHECK(mq_store_validate(s, "visit", NULL,
                            "{\"household\":null,\"kind\":\"home_visit\"}", note, &w, &n,
                            &err) == 0);
    CHECK(n == 1); /* household is required; cadre and at are filled */
    CHECK(mq_store_put(s, "household", HH,
                       "{\"area\":\"" GROUP "\",\"head_name\":\"马正光\","
                       "\"head_id_number\":\"" ID1 "\"}",
                       NULL, NULL, &err) == 0);
    CHECK(mq_store_validate(s, "visit", NULL,
                            "{\"household\":\"" HH "\",\"kind\":\"home_visit\"}", note,
                            &w, &n, &err) == 0);
    CHECK(n == 0);
    /* A patch: only what it sets is checked, required fields stay. */
    CHECK(mq_store_validate(s, "household", HH, "{\"phone\":\"13912345678\"}", note, &w,
                            &n, &err) == 0);
    CHECK(n == 0);
    w.text[0] = '\0';
    CHECK(mq_store_validate(s, "household", HH, "{\"head_name\":null}", note, &w, &n,
                            &err) == 0);
    CHECK(n == 1);
    CHECK_HAS(w.text, "[head_name] is required\n");
    /* A log record is never edited. */
    char *visit = NULL;
    CHECK(mq_store_put(s, "visit", NULL,
                       "{\"household\":\"" HH "\",\"kind\":\"home_visit\"}", NULL, &visit,
                       &err) == 0);
    w.text[0] = '\0';
    CHECK(mq_store_validate(s, "visit", visit, "{\"notes\":\"改\"}", note, &w, &n,
                            &err) == 0);
    CHECK(n == 1);
    CHECK_HAS(w.text, "[-] is a log record");
    mq_free(visit);

    /* What stops the check itself. */
    CHECK(mq_store_validate(s, "houshold", NULL, "{}", note, &w, &n, &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "unknown record type \"houshold\"");
    CHECK(mq_store_validate(s, "household", NULL, "{\"a\":", note, &w, &n, &err) ==
          MQ_EINVAL);
    CHECK_HAS(err.message, "household (new): fields: must be one JSON object");
    CHECK(mq_store_validate(s, "household", NULL, "[1]", note, &w, &n, &err) ==
          MQ_EINVAL);
    CHECK(mq_store_validate(s, "household", "HH", "{}", note, &w, &n, &err) == MQ_EINVAL);
    CHECK(mq_store_validate(s, "household", NEED, "{}", NULL, NULL, &n, &err) == 0);
    CHECK(n == 3); /* area, head_name, head_id_number; no callback needed */
    CHECK(mq_store_validate(s, "need", HH, "{}", note, &w, &n, &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "record " HH " is of type household, not need");
    mq_store_close(s);
}

/* ---- defaults ------------------------------------------------------------- */

static int count_line(void *ctx, const char *json)
{
    (void)json;
    (*(size_t *)ctx)++;
    return 0;
}

static size_t count_type(mq_store *s, const char *type)
{
    size_t n = 0;
    mq_error err;

    CHECK(mq_store_list(s, type, NULL, 0, count_line, &n, &err) == 0);
    return n;
}

static void test_defaults(void)
{
    mq_store *s = open_replica(CADRE);
    char *id = NULL, day[11], day15[11];
    mq_error err;

    CHECK(mq_store_put(s, "household", HH,
                       "{\"area\":\"" GROUP "\",\"head_name\":\"马正光\","
                       "\"head_id_number\":\"" ID1 "\"}",
                       NULL, NULL, &err) == 0);
    /* A deadline N days after recorded_at, N by category. */
    static const char *const cases[][3] = {
        {"medical", "2024-03-20", "2024-04-04"},
        {"drinking_water", "2024-12-20", "2025-01-04"},
        {"social_assistance", "2024-02-15", "2024-03-16"},
        {"dispute", "2023-12-31", "2024-02-29"},
        {"housing", "2024-01-31", "2024-03-01"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char json[256];
        snprintf(json, sizeof(json),
                 "{\"household\":\"" HH "\",\"category\":\"%s\",\"description\":\"x\","
                 "\"recorded_at\":\"%s\"}",
                 cases[i][0], cases[i][1]);
        CHECK(mq_store_put(s, "need", NULL, json, NULL, &id, &err) == 0);
        cJSON *f = fields_of(s, id);
        CHECK_STR(str(f, "deadline"), cases[i][2]);
        CHECK_STR(str(f, "recorded_by"), CADRE);
        cJSON_Delete(f);
        mq_free(id);
    }
    /* recorded_at today, on the replica's clock, and the deadline from it. */
    today(s, day, 0);
    today(s, day15, 15);
    CHECK(mq_store_put(s, "need", NEED,
                       "{\"household\":\"" HH "\",\"category\":\"medical\","
                       "\"description\":\"x\",\"recorded_at\":null}",
                       NULL, NULL, &err) == 0);
    cJSON *f = fields_of(s, NEED);
    CHECK_STR(str(f, "recorded_at"), day);
    CHECK_STR(str(f, "deadline"), day15);
    cJSON_Delete(f);
    /* A value given is never replaced; a patch fills nothing. */
    CHECK(mq_store_put(s, "need", NULL,
                       "{\"household\":\"" HH "\",\"category\":\"medical\","
                       "\"description\":\"x\",\"recorded_at\":\"2024-01-01\","
                       "\"deadline\":\"2024-01-02\",\"recorded_by\":\"" CADRE2 "\"}",
                       NULL, &id, &err) == 0);
    f = fields_of(s, id);
    CHECK_STR(str(f, "deadline"), "2024-01-02");
    CHECK_STR(str(f, "recorded_by"), CADRE2);
    cJSON_Delete(f);
    CHECK(mq_store_put(s, "need", id, "{\"deadline\":null,\"recorded_by\":null}", NULL,
                       NULL, &err) == 0);
    f = fields_of(s, id);
    CHECK(cJSON_GetObjectItemCaseSensitive(f, "deadline") == NULL);
    CHECK(cJSON_GetObjectItemCaseSensitive(f, "recorded_by") == NULL);
    cJSON_Delete(f);
    mq_free(id);

    /* The cadre and today on the log records a cadre writes. */
    static const char *const logs[][3] = {
        {"visit", "{\"household\":\"" HH "\",\"kind\":\"home_visit\"}", "cadre at"},
        {"contact_card", "{\"household\":\"" HH "\"}", "cadre issued_at"},
        {"talk", "{\"area\":\"" GROUP "\",\"with_name\":\"李四\"}", "cadre at"},
        {"need_action", "{\"need\":\"" NEED "\",\"action\":\"accept\"}", "by at"}};
    for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
        CHECK(mq_store_put(s, logs[i][0], NULL, logs[i][1], NULL, &id, &err) == 0);
        f = fields_of(s, id);
        char who[16], when[16];
        sscanf(logs[i][2], "%15s %15s", who, when);
        CHECK_STR(str(f, who), CADRE);
        CHECK_STR(str(f, when), day);
        cJSON_Delete(f);
        mq_free(id);
    }
    CHECK(mq_store_put(s, "visit", NULL,
                       "{\"household\":\"" HH "\",\"kind\":\"home_visit\","
                       "\"cadre\":\"" CADRE2 "\",\"at\":\"2020-05-05\"}",
                       NULL, &id, &err) == 0);
    f = fields_of(s, id);
    CHECK_STR(str(f, "cadre"), CADRE2);
    CHECK_STR(str(f, "at"), "2020-05-05");
    cJSON_Delete(f);
    mq_free(id);

    /* Import takes the file as it is: no defaults. */
    char path[300];
    snprintf(path, sizeof(path), "%s/import.jsonl", dir);
    FILE *out = fopen(path, "w");
    fputs("{\"type\":\"need\",\"id\":\"00000000-0000-4000-8000-0000000000d9\",\"fields\":"
          "{\"household\":\"" HH "\",\"category\":\"medical\",\"description\":\"x\","
          "\"recorded_at\":\"2024-03-20\"}}\n",
          out);
    fclose(out);
    FILE *in = fopen(path, "r");
    mq_import_opts o = {0};
    mq_import_stats st = {0};
    CHECK(mq_store_import(s, in, &o, &st, &err) == 0);
    fclose(in);
    f = fields_of(s, "00000000-0000-4000-8000-0000000000d9");
    CHECK(cJSON_GetObjectItemCaseSensitive(f, "deadline") == NULL);
    CHECK(cJSON_GetObjectItemCaseSensitive(f, "recorded_by") == NULL);
    cJSON_Delete(f);
    mq_store_close(s);

    /* A replica without a cadre (the server) fills nothing. */
    s = open_replica(NULL);
    CHECK(mq_store_put(s, "household", HH,
                       "{\"area\":\"" GROUP "\",\"head_name\":\"马正光\","
                       "\"head_id_number\":\"" ID1 "\"}",
                       NULL, NULL, &err) == 0);
    CHECK(mq_store_put(s, "need", NEED,
                       "{\"household\":\"" HH "\",\"category\":\"medical\","
                       "\"description\":\"x\",\"recorded_at\":\"2024-03-20\"}",
                       NULL, NULL, &err) == 0);
    f = fields_of(s, NEED);
    CHECK(cJSON_GetObjectItemCaseSensitive(f, "deadline") == NULL);
    cJSON_Delete(f);
    CHECK(mq_store_put(s, "visit", NULL, "{\"household\":\"" HH "\",\"kind\":\"talk\"}",
                       NULL, NULL, &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "visit (new): field cadre: is required");
    mq_store_close(s);
}

/* ---- rules across fields --------------------------------------------------- */

static void test_need_of_an_area(void)
{
    mq_store *s = open_replica(CADRE);
    mq__kind k;
    mq_error err;

    /* A cistern for a group: no household, the need's area is the group. */
    CHECK(mq_store_put(s, "need", NEED,
                       "{\"area\":\"" GROUP "\",\"category\":\"drinking_water\","
                       "\"description\":\"水窖\",\"served_households\":23}",
                       NULL, NULL, &err) == 0);
    CHECK(mq__kind_get(s, NEED, &k, &err) == 0);
    CHECK_STR(k.area, GROUP);
    /* ...and its actions follow it into the group. */
    char *act = NULL;
    CHECK(mq_store_put(s, "need_action", NULL,
                       "{\"need\":\"" NEED "\",\"action\":\"accept\"}", NULL, &act,
                       &err) == 0);
    CHECK(mq__kind_get(s, act, &k, &err) == 0);
    CHECK_STR(k.area, GROUP);
    mq_free(act);
    /* A household given later takes over the scope. */
    CHECK(mq_store_put(s, "household", HH,
                       "{\"area\":\"" VILLAGE "\",\"head_name\":\"马正光\","
                       "\"head_id_number\":\"" ID1 "\"}",
                       NULL, NULL, &err) == 0);
    CHECK(mq_store_put(s, "need", NEED, "{\"household\":\"" HH "\"}", NULL, NULL, &err) ==
          0);
    CHECK(mq__kind_get(s, NEED, &k, &err) == 0);
    CHECK_STR(k.area, VILLAGE);
    /* Neither: refused, and the patch that would clear both too. */
    CHECK(mq_store_put(s, "need", NULL, "{\"category\":\"other\",\"description\":\"x\"}",
                       NULL, NULL, &err) == MQ_EINVAL);
    CHECK_HAS(err.message,
              "need (new): household or area is required: give one of them (all are "
              "empty)");
    CHECK(mq_store_put(s, "need", NEED, "{\"household\":null,\"area\":null}", NULL, NULL,
                       &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "need " NEED ": household or area is required");
    CHECK(mq_store_put(s, "need", NEED, "{\"household\":null}", NULL, NULL, &err) == 0);
    CHECK(mq__kind_get(s, NEED, &k, &err) == 0);
    CHECK_STR(k.area, GROUP);
    size_t problems = 1;
    CHECK(mq_store_check(s, NULL, NULL, &problems, &err) == 0);
    CHECK(problems == 0);

    /* A talk names a cadre or a person. */
    CHECK(mq_store_put(s, "talk", NULL,
                       "{\"area\":\"" GROUP "\",\"with_unit\":\"村委会\"}", NULL, NULL,
                       &err) == MQ_EINVAL);
    CHECK_HAS(err.message,
              "talk (new): with_cadre or with_name is required: give one of them");
    CHECK(mq_store_put(s, "talk", NULL,
                       "{\"area\":\"" GROUP "\",\"with_cadre\":\"" CADRE2 "\"}", NULL,
                       NULL, &err) == 0);
    mq_store_close(s);
}

/* ---- duplicates ------------------------------------------------------------ */

typedef struct warned {
    char text[1024];
    int n;
} warned;

static void on_warning(void *ctx, const char *message)
{
    warned *w = ctx;

    snprintf(w->text, sizeof(w->text), "%s", message);
    w->n++;
}

static int keep_line(void *ctx, const char *json)
{
    snprintf(ctx, 512, "%s", json);
    return 0;
}

static void test_duplicates(void)
{
    mq_store *s = open_replica(CADRE);
    warned w = {"", 0};
    char line[512] = "";
    mq_error err;

    mq_store_on_warning(s, on_warning, &w);
    CHECK(mq_store_put(s, "household", HH,
                       "{\"area\":\"" GROUP "\",\"head_name\":\"马正光\","
                       "\"head_id_number\":\"" ID1 "\"}",
                       NULL, NULL, &err) == 0);
    CHECK(w.n == 0);
    CHECK(mq_store_put(s, "household", HH2,
                       "{\"area\":\"" GROUP "\",\"head_name\":\"马正明\","
                       "\"head_id_number\":\"" ID2 "\"}",
                       NULL, NULL, &err) == 0);
    CHECK(w.n == 0);
    /* The second household with the first's head: written, and warned of. */
    CHECK(mq_store_put(s, "household", HH2, "{\"head_id_number\":\"" ID1 "\"}", NULL,
                       NULL, &err) == 0);
    CHECK(w.n == 1);
    CHECK_HAS(w.text, "warning: household " HH2 ": field head_id_number: 1 other "
                      "household record holds the same value (value \"" ID1 "\"): " HH);
    CHECK(mq_store_duplicates(s, keep_line, line, &err) == 0);
    CHECK_STR(line,
              "{\"type\":\"household\",\"field\":\"head_id_number\",\"value\":\"" ID1
              "\",\"ids\":[\"" HH "\",\"" HH2 "\"]}");
    /* A patch that does not touch the number does not warn again. */
    CHECK(mq_store_put(s, "household", HH2, "{\"size\":3}", NULL, NULL, &err) == 0);
    CHECK(w.n == 1);

    /* Import warns too, for records of the same file. */
    char path[300];
    snprintf(path, sizeof(path), "%s/dups.jsonl", dir);
    FILE *out = fopen(path, "w");
    fputs("{\"type\":\"household\",\"id\":\"00000000-0000-4000-8000-0000000000a7\","
          "\"fields\":{\"area\":\"" GROUP
          "\",\"head_name\":\"甲\",\"head_id_number\":\"" ID2 "\"}}\n"
          "{\"type\":\"household\",\"id\":\"00000000-0000-4000-8000-0000000000a8\","
          "\"fields\":{\"area\":\"" GROUP
          "\",\"head_name\":\"乙\",\"head_id_number\":\"" ID2 "\"}}\n",
          out);
    fclose(out);
    FILE *in = fopen(path, "r");
    mq_import_opts o = {0};
    mq_import_stats st = {0};
    w.n = 0;
    CHECK(mq_store_import(s, in, &o, &st, &err) == 0);
    fclose(in);
    CHECK(st.created == 2);
    CHECK(w.n == 1);
    CHECK_HAS(w.text, "household 00000000-0000-4000-8000-0000000000a8: field "
                      "head_id_number: 1 other household record holds");
    /* A deleted household no longer counts. */
    CHECK(mq_store_delete(s, HH, NULL, &err) == 0);
    line[0] = '\0';
    CHECK(mq_store_duplicates(s, keep_line, line, &err) == 0);
    CHECK_HAS(line, "\"value\":\"" ID2 "\"");
    mq_store_close(s);
}

/* ---- search ------------------------------------------------------------- */

static int gather(void *ctx, const char *json)
{
    cJSON *o = cJSON_Parse(json);
    size_t used = strlen(ctx);

    snprintf((char *)ctx + used, 1024 - used, "%s ", str(o, "id"));
    cJSON_Delete(o);
    return 0;
}

static const char *found(mq_store *s, const char *text, char out[1024])
{
    mq_error err;

    out[0] = '\0';
    CHECK(mq_store_search(s, text, gather, out, &err) == 0);
    return out;
}

/* The first column of the first row of `sql` on `db`, as text ("" when
 * none); kept until the next call. */
static const char *sql_text(sqlite3 *db, const char *sql)
{
    static char out[256];
    sqlite3_stmt *st = NULL;

    out[0] = '\0';
    CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
    if (st != NULL && sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_text(st, 0) != NULL)
        snprintf(out, sizeof(out), "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

/* Appends each problem `check` finds to the text `ctx` (1024 bytes). */
static void keep_problem(void *ctx, const char *problem)
{
    size_t used = strlen(ctx);
    snprintf((char *)ctx + used, 1024 - used, "%s\n", problem);
}

static void test_search(void)
{
    mq_store *s = open_replica(CADRE);
    char got[1024], path[300];
    mq_error err;

    CHECK(mq_store_put(s, "household", HH,
                       "{\"area\":\"" GROUP "\",\"head_name\":\"马正光\","
                       "\"head_id_number\":\"" ID1 "\",\"phone\":\"13912345678\","
                       "\"address\":\"永仁县龙潭村民小组104号\"}",
                       NULL, NULL, &err) == 0);
    CHECK(mq_store_put(s, "household", HH2,
                       "{\"area\":\"" GROUP "\",\"head_name\":\"李永\","
                       "\"head_id_number\":\"" ID2 "\"}",
                       NULL, NULL, &err) == 0);
    /* A prefix of a name, a substring of the number, phone and address. */
    CHECK_STR(found(s, "马正", got), CADRE2 " " HH " "); /* cadres first */
    CHECK_STR(found(s, "1949123", got), HH " ");
    CHECK_STR(found(s, "234567", got), HH " ");
    CHECK_STR(found(s, "龙潭村", got), HH " ");
    CHECK_STR(found(s, "永", got), CADRE " " HH " " HH2 " "); /* names, address */
    CHECK_STR(found(s, "陈永丽", got), CADRE " ");            /* a cadre by name */
    CHECK_STR(found(s, "104号马", got), "");                  /* not across two values */
    CHECK_STR(found(s, "mutable", got), ""); /* not in the JSON around them */
    /* The index follows edits and deletes. */
    CHECK(mq_store_put(s, "household", HH, "{\"address\":\"大村组8号\"}", NULL, NULL,
                       &err) == 0);
    CHECK_STR(found(s, "龙潭村", got), "");
    CHECK_STR(found(s, "大村组", got), HH " ");
    CHECK(mq_store_delete(s, HH2, NULL, &err) == 0);
    CHECK_STR(found(s, "李永", got), "");
    CHECK(mq_store_search(s, "", gather, got, &err) == MQ_EINVAL);
    snprintf(path, sizeof(path), "%s/r%d.db", dir, serial - 1);
    mq_store_close(s);

    /* A store made before the index (or before address was searchable)
     * gets it filled when it is opened. */
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(
              db, "DROP TABLE record_search; DELETE FROM meta WHERE key = 'search_sql';",
              NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(mq_store_open(&s, path, &err) == 0);
    CHECK_STR(found(s, "大村组", got), HH " ");
    CHECK_STR(found(s, "李永", got), "");
    mq_store_close(s);

    /* A store whose text was kept by triggers loses them at open: the
     * writer keeps it (S2), once. */
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "CREATE TRIGGER record_search_ins AFTER INSERT ON record BEGIN"
                       " INSERT OR REPLACE INTO record_search(rid, text)"
                       " VALUES(NEW.rowid, 'stale'); END;"
                       "UPDATE meta SET value = 'older' WHERE key = 'search_sql';",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(mq_store_open(&s, path, &err) == 0);
    CHECK(mq_store_put(s, "household", HH3,
                       "{\"area\":\"" GROUP "\",\"head_name\":\"王五\","
                       "\"head_id_number\":\"" ID3 "\"}",
                       NULL, NULL, &err) == 0);
    CHECK_STR(found(s, "王五", got), HH3 " ");
    CHECK_STR(found(s, "stale", got), "");
    size_t problems = 99;
    CHECK(mq_store_check(s, NULL, NULL, &problems, &err) == 0);
    CHECK(problems == 0);
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK_STR(sql_text(db, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"),
              "0");
    sqlite3_close(db);
    mq_store_close(s);

    /* S1: check finds a text that is not its record's, a row of no record,
     * and a row of a deleted one, each by name. */
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "UPDATE record_search SET text = 'x' WHERE rid ="
                       " (SELECT rowid FROM record WHERE id = '" HH "');"
                       "INSERT INTO record_search(rid, text) VALUES(1000000, 'ghost');"
                       "INSERT INTO record_search(rid, text) SELECT rowid, 'gone'"
                       " FROM record WHERE id = '" HH2 "';",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(mq_store_open(&s, path, &err) == 0);
    char said[1024] = "";
    CHECK(mq_store_check(s, keep_problem, said, &problems, &err) == 0);
    CHECK(problems == 3);
    CHECK_HAS(said, "record_search: household " HH ": search text is \"x\", its fields"
                    " give \"马正光 | " ID1 " | 13912345678 | 大村组8号\" (S1)");
    CHECK_HAS(said, "record_search: row 1000000 names no record (S1)");
    CHECK_HAS(said, "is household " HH2 "'s, which is deleted or not searchable (S1)");
    mq_store_close(s);
}

int main(void)
{
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    RUN(test_default_labels);
    RUN(test_bad_labels);
    RUN(test_bad_rules);
    RUN(test_schema_json);
    RUN(test_validate);
    RUN(test_defaults);
    RUN(test_need_of_an_area);
    RUN(test_duplicates);
    RUN(test_search);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return mq_test_done();
}
