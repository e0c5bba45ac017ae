/*
 * core/json.c - the core's one JSON writer, over cJSON.
 *
 * Every JSON text that core/ hands out (records, changes, the lines around
 * a bundle, history, conflicts, rejected changes) is a cJSON tree printed
 * by cJSON, so strings are escaped in one place, cJSON's, and nowhere else.
 *
 * Text the store printed itself is spliced into the tree as a raw member,
 * without a parse: a record row's `fields`, a change's `body` and `base`.
 * They are written only by the core, always by cJSON_PrintUnformatted()
 * (record.c saves fields, merge.c logs body and base; a creation stored once
 * takes its body from the record's fields, M7), so they are whole, compact
 * JSON.  Text that came from outside, such as a rejected change as it was
 * received, is parsed before it is written, never spliced.
 *
 * A writer (mq__json) remembers a failed allocation: an add that fails sets
 * `oom` and leaves the tree without the member, and mq__json_print() then
 * refuses to print, so a text that lost a member is never handed out.  The
 * printed text lives in the writer's buffer and is reused from one text to
 * the next: a walk over a township's records prints into one buffer.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void mq__json_init(mq__json *j)
{
    memset(j, 0, sizeof(*j));
}

static void form_free(struct mq__form *f);

void mq__json_free(mq__json *j)
{
    form_free(j->form[0]);
    form_free(j->form[1]);
    free(j->text);
    memset(j, 0, sizeof(*j));
}

cJSON *mq__json_object(mq__json *j)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL)
        j->oom = 1;
    return o;
}

cJSON *mq__json_array(mq__json *j)
{
    cJSON *a = cJSON_CreateArray();

    if (a == NULL)
        j->oom = 1;
    return a;
}

cJSON *mq__json_add(mq__json *j, cJSON *to, const char *key, cJSON *item)
{
    int ok = to != NULL && item != NULL &&
             (key != NULL ? cJSON_AddItemToObject(to, key, item)
                          : cJSON_AddItemToArray(to, item));

    if (!ok) {
        cJSON_Delete(item);
        j->oom = 1;
        return NULL;
    }
    return item;
}

cJSON *mq__json_add_str(mq__json *j, cJSON *to, const char *key, const char *v)
{
    return mq__json_add(j, to, key,
                        v != NULL ? cJSON_CreateString(v) : cJSON_CreateNull());
}

cJSON *mq__json_add_raw(mq__json *j, cJSON *to, const char *key, const char *raw)
{
    return mq__json_add(j, to, key, cJSON_CreateRaw(raw));
}

int mq__json_print(mq__json *j, cJSON *root, const char **out)
{
    *out = NULL;
    if (j->oom || root == NULL)
        return MQ_ENOMEM;
    /*
     * Into the buffer when the text fits (cJSON_PrintPreallocated() fails
     * when it does not); else printed by cJSON, and the buffer grown to hold
     * it and more.  After the first few rows of a walk every row fits, and
     * printing one costs no allocation.
     */
    if (j->cap > 0 && cJSON_PrintPreallocated(root, j->text, (int)j->cap, 0)) {
        *out = j->text;
        return 0;
    }
    char *printed = cJSON_PrintUnformatted(root);
    if (printed == NULL) {
        j->oom = 1;
        return MQ_ENOMEM;
    }
    size_t n = strlen(printed) + 1;
    if (n > j->cap) {
        size_t ncap = j->cap * 2 > n ? j->cap * 2 : n + n / 2;
        char *grown = ncap <= INT_MAX ? realloc(j->text, ncap) : NULL;
        if (grown == NULL) {
            cJSON_free(printed);
            j->oom = 1;
            return MQ_ENOMEM;
        }
        j->text = grown;
        j->cap = ncap;
    }
    memcpy(j->text, printed, n);
    cJSON_free(printed);
    *out = j->text;
    return 0;
}

/*
 * The two forms printed once per row of a walk (a record, a change) are
 * trees built once per writer and printed again for every row: their
 * members are nodes that borrow the row's text (cJSON string and raw
 * references, never freed by cJSON_Delete()), re-pointed at each row's
 * columns before each print.  A row then costs no allocation: an export of
 * a township prints each record without one malloc() (the snprintf() splice
 * this replaced cost one per row, the tree made per row six).  Every linked
 * slot is re-pointed before every print, so a stale pointer is never read.
 */
enum { FORM_RECORD, FORM_CHANGE, FORM_SLOTS = 6 };

struct mq__form {
    cJSON *obj;
    cJSON *slot[FORM_SLOTS];
    unsigned linked; /* the slots linked into obj, in slot order */
    unsigned truth;  /* the slots that hold the constant true */
};

/* Makes form `f` once: slots marked in `raw` hold stored JSON text, `truth`
 * the constant true, the others strings. */
static int form_make(mq__json *j, struct mq__form **fp, unsigned raw, unsigned truth)
{
    struct mq__form *f = *fp;

    if (f != NULL)
        return 0;
    if ((f = calloc(1, sizeof(*f))) == NULL || (f->obj = cJSON_CreateObject()) == NULL) {
        free(f);
        j->oom = 1;
        return MQ_ENOMEM;
    }
    for (int i = 0; i < FORM_SLOTS; i++) {
        cJSON *n =
            (truth >> i) & 1u ? cJSON_CreateTrue() : cJSON_CreateStringReference("");
        if (n == NULL) {
            *fp = f;
            j->oom = 1;
            return MQ_ENOMEM;
        }
        /* A raw reference (cJSON has no constructor for one): printed as
         * it is, and its text is not cJSON_Delete()'s to free. */
        if ((raw >> i) & 1u)
            n->type = cJSON_Raw | cJSON_IsReference;
        f->slot[i] = n;
    }
    f->truth = truth;
    *fp = f;
    return 0;
}

static void form_free(struct mq__form *f)
{
    if (f == NULL)
        return;
    while (f->obj != NULL && f->obj->child != NULL)
        cJSON_DetachItemViaPointer(f->obj, f->obj->child);
    cJSON_Delete(f->obj);
    for (int i = 0; i < FORM_SLOTS; i++)
        cJSON_Delete(f->slot[i]);
    free(f);
}

/*
 * Prints form `f` with member i named keys[i] holding vals[i]; a NULL
 * vals[i] leaves the member out.  A truth slot takes any non-NULL value.
 * The members stay linked from one row to the next and are relinked only
 * when the set present changes (rows of a walk mostly have the same).
 */
static int form_print(mq__json *j, struct mq__form *f, const char *const *keys,
                      const char *const *vals, int n, const char **out)
{
    unsigned want = 0;

    *out = NULL;
    if (j->oom)
        return MQ_ENOMEM;
    for (int i = 0; i < n; i++)
        if (vals[i] != NULL)
            want |= 1u << i;
    if (want != f->linked) {
        while (f->obj->child != NULL)
            cJSON_DetachItemViaPointer(f->obj, f->obj->child);
        for (int i = 0; i < n; i++)
            if ((want >> i) & 1u)
                cJSON_AddItemToObjectCS(f->obj, keys[i], f->slot[i]); /* links only */
        f->linked = want;
    }
    unsigned strings = want & ~f->truth;
    for (int i = 0; strings != 0; i++, strings >>= 1)
        if (strings & 1u)
            f->slot[i]->valuestring = (char *)vals[i]; /* borrowed: a reference */
    return mq__json_print(j, f->obj, out);
}

int mq__json_record(mq__json *j, const char *type, const char *id, const char *fields,
                    int deleted, const char **out)
{
    static const char *const keys[] = {"type", "id", "fields", "deleted"};
    const char *vals[] = {type, id, fields, deleted ? "" : NULL};

    *out = NULL;
    if (form_make(j, &j->form[FORM_RECORD], 1u << 2, 1u << 3) != 0)
        return MQ_ENOMEM;
    return form_print(j, j->form[FORM_RECORD], keys, vals, 4, out);
}

int mq__json_change(mq__json *j, const char *v, const char *type, const char *id,
                    const char *by, const char *body, const char *base, const char **out)
{
    static const char *const keys[] = {"v", "type", "id", "by", "set", "base"};
    const char *vals[] = {v, type, id, by, body, base};

    *out = NULL;
    if (form_make(j, &j->form[FORM_CHANGE], (1u << 4) | (1u << 5), 0) != 0)
        return MQ_ENOMEM;
    return form_print(j, j->form[FORM_CHANGE], keys, vals, 6, out);
}

cJSON *mq__json_strip_nulls(const cJSON *fields)
{
    cJSON *copy = cJSON_CreateObject();
    const cJSON *it;

    if (copy == NULL)
        return NULL;
    cJSON_ArrayForEach(it, fields)
    {
        if (cJSON_IsNull(it))
            continue;
        cJSON *dup = cJSON_Duplicate(it, 1);
        if (dup == NULL || !cJSON_AddItemToObject(copy, it->string, dup)) {
            cJSON_Delete(dup);
            cJSON_Delete(copy);
            return NULL;
        }
    }
    return copy;
}

char *mq__value_text(const cJSON *v)
{
    /* cJSON prints what it read as 1e400 as null. */
    if (cJSON_IsNumber(v) && !isfinite(v->valuedouble))
        return mq__strdup("a number beyond the range of a double");
    char *s = cJSON_PrintUnformatted(v);
    size_t n;

    if (s == NULL)
        return mq__strdup("?");
    n = strlen(s);
    if (n > 80) {
        /* Cut on a UTF-8 boundary so the message stays valid text. */
        size_t cut = 77;
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--;
        memcpy(s + cut, "...", 4);
    }
    return s;
}
