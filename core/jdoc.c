/*
 * core/jdoc.c - a JSON text parsed into cJSON nodes that live in one arena,
 * each container remembering where it stands in the text.
 *
 * Bulk paths (import, and any caller that parses many texts one after the
 * other) spend most of a cJSON_Parse() in malloc() and most of a
 * cJSON_Delete() in free(): three allocations per member, each freed again.
 * Here the nodes and their strings are carved from blocks that are kept from
 * one text to the next, so parsing a line costs no allocation once the first
 * few lines have sized the arena, and forgetting it costs nothing.
 *
 * The tree is made of ordinary cJSON nodes, so every reader of cJSON trees
 * (validation, the merge, cJSON_Print) reads it as it reads cJSON's own.  It
 * must not be handed to anything that frees or relinks nodes: cJSON_Delete(),
 * cJSON_Detach*(), cJSON_Replace*().
 *
 * The parser takes a strict subset of what cJSON_Parse() takes, and when it
 * succeeds the tree is exactly cJSON's (same types, strings, numbers, member
 * order, duplicate keys kept): numbers in JSON's own grammar, strings
 * without \u escapes or raw control characters, whitespace of the four JSON
 * kinds, nesting under 64 levels.  On anything else it returns NULL and the
 * caller asks cJSON, which then decides exactly as it did before this file
 * existed.  So a text is never judged differently for having come this way.
 *
 * A container is "plain" when its text is byte for byte what
 * cJSON_PrintUnformatted() prints for it: no whitespace, every number an
 * int printed as "%d" prints it, no "\/" escape.  A plain container's text
 * can be stored as it is, without printing the tree again.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define JDOC_BLOCK     ((size_t)64 * 1024)
#define JDOC_MAX_DEPTH 64

/* A node and where its text is; `j` first, so a cJSON pointer of a node
 * made here is a pointer to its jnode. */
struct jnode {
    cJSON j;
    const char *start;
    size_t len;
    int plain;
};

struct block {
    struct block *next;
    size_t cap, used;
    /* the memory follows, aligned as max_align_t */
};

struct mq__jdoc {
    struct block *head; /* blocks in use, most recent first; kept on reset */
    struct block *spare;
    int oom;
};

mq__jdoc *mq__jdoc_new(void)
{
    return calloc(1, sizeof(mq__jdoc));
}

static void blocks_free(struct block *b)
{
    while (b != NULL) {
        struct block *next = b->next;
        free(b);
        b = next;
    }
}

void mq__jdoc_free(mq__jdoc *d)
{
    if (d == NULL)
        return;
    blocks_free(d->head);
    blocks_free(d->spare);
    free(d);
}

/* Empties the arena, keeping its blocks for the next text. */
static void reset(mq__jdoc *d)
{
    while (d->head != NULL) {
        struct block *b = d->head;
        d->head = b->next;
        b->used = 0;
        b->next = d->spare;
        d->spare = b;
    }
    d->oom = 0;
}

#define ALIGN_UP(n) (((n) + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1))

static void *arena(mq__jdoc *d, size_t n)
{
    struct block *b = d->head;
    size_t hdr = ALIGN_UP(sizeof(struct block));

    n = ALIGN_UP(n);
    if (b == NULL || b->cap - b->used < n) {
        /* Take a spare block big enough, else make one. */
        struct block **p = &d->spare;
        while (*p != NULL && (*p)->cap < n)
            p = &(*p)->next;
        if (*p != NULL) {
            b = *p;
            *p = b->next;
        } else {
            size_t cap = n > JDOC_BLOCK ? n : JDOC_BLOCK;
            if ((b = malloc(hdr + cap)) == NULL) {
                d->oom = 1;
                return NULL;
            }
            b->cap = cap;
        }
        b->used = 0;
        b->next = d->head;
        d->head = b;
    }
    void *m = (char *)b + hdr + b->used;
    b->used += n;
    return m;
}

struct parser {
    mq__jdoc *d;
    const char *p;
    int ws; /* whitespace seen since the container being parsed began */
};

static void skip_ws(struct parser *ps)
{
    const char *p = ps->p;

    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (p != ps->p)
        ps->ws = 1;
    ps->p = p;
}

static struct jnode *node(struct parser *ps, int type, const char *start)
{
    struct jnode *n = arena(ps->d, sizeof(*n));

    if (n == NULL)
        return NULL;
    memset(n, 0, sizeof(*n));
    n->j.type = type;
    n->start = start;
    n->plain = 1;
    return n;
}

/* The bytes that end a plain run inside a string: quote, backslash and the
 * control characters (NUL, the end of the text, among them). */
static const unsigned char stop[256] = {
    [0] = 1,  [1] = 1,  [2] = 1,  [3] = 1,  [4] = 1,   [5] = 1,   [6] = 1,
    [7] = 1,  [8] = 1,  [9] = 1,  [10] = 1, [11] = 1,  [12] = 1,  [13] = 1,
    [14] = 1, [15] = 1, [16] = 1, [17] = 1, [18] = 1,  [19] = 1,  [20] = 1,
    [21] = 1, [22] = 1, [23] = 1, [24] = 1, [25] = 1,  [26] = 1,  [27] = 1,
    [28] = 1, [29] = 1, [30] = 1, [31] = 1, ['"'] = 1, ['\\'] = 1};

/*
 * Parses a string at ps->p (its opening quote) into a NUL-terminated copy in
 * the arena.  *plain is cleared when printing the copy would not give the
 * same text back.
 */
static char *string(struct parser *ps, int *plain)
{
    const unsigned char *q = (const unsigned char *)ps->p + 1;
    size_t escapes = 0;

    for (;; q++) {
        /* most bytes are plain: one look-up tells them from the rest */
        while (!stop[*q])
            q++;
        if (*q == '"')
            break;
        if (*q < 0x20)
            return NULL; /* raw control character, or the end of the text */
        if (*q == '\\') {
            q++;
            if (*q == 'u' || *q == '\0')
                return NULL; /* cJSON decides \u (surrogates and all) */
            if (strchr("\"\\/bfnrt", *q) == NULL)
                return NULL;
            if (*q == '/')
                *plain = 0; /* cJSON prints '/' bare */
            escapes++;
        }
    }
    size_t raw = (size_t)(q - (const unsigned char *)ps->p) - 1;
    char *out = arena(ps->d, raw - escapes + 1);
    if (out == NULL)
        return NULL;
    const char *src = ps->p + 1;
    if (escapes == 0) {
        memcpy(out, src, raw);
        out[raw] = '\0';
    } else {
        char *o = out;
        for (size_t i = 0; i < raw; i++) {
            char c = src[i];
            if (c == '\\') {
                c = src[++i];
                switch (c) {
                case 'b':
                    c = '\b';
                    break;
                case 'f':
                    c = '\f';
                    break;
                case 'n':
                    c = '\n';
                    break;
                case 'r':
                    c = '\r';
                    break;
                case 't':
                    c = '\t';
                    break;
                default:
                    break; /* '"', '\\', '/' stand for themselves */
                }
            }
            *o++ = c;
        }
        *o = '\0';
    }
    ps->p = (const char *)q + 1;
    return out;
}

/* A number in JSON's grammar, converted as cJSON converts it. */
static struct jnode *number(struct parser *ps)
{
    const char *s = ps->p, *p = s;
    int digits_only = 1;

    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    if (*p == '.') {
        digits_only = 0;
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        digits_only = 0;
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    size_t n = (size_t)(p - s);
    char buf[64];
    if (n >= sizeof(buf))
        return NULL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    double v = strtod(buf, &end);
    if (end != buf + n)
        return NULL; /* a locale whose decimal point is not '.': cJSON copes */
    struct jnode *nd = node(ps, cJSON_Number, s);
    if (nd == NULL)
        return NULL;
    nd->j.valuedouble = v;
    /* cJSON's saturation of valueint */
    if (v >= INT_MAX)
        nd->j.valueint = INT_MAX;
    else if (v <= (double)INT_MIN)
        nd->j.valueint = INT_MIN;
    else
        nd->j.valueint = (int)v;
    /* printed by cJSON as "%d" of valueint: the same text when it is an
     * int's own digits (not "-0", not past nine digits) */
    size_t nd_digits = n - (s[0] == '-');
    nd->plain = digits_only && nd_digits <= 9 && !(s[0] == '-' && s[1] == '0');
    nd->len = n;
    ps->p = p;
    return nd;
}

static struct jnode *value(struct parser *ps, int depth);

/* Links `kid` as the last child of `parent` (cJSON's layout: the first
 * child's prev is the last child). */
static void link(struct jnode *parent, struct jnode *kid)
{
    cJSON *first = parent->j.child;

    if (first == NULL) {
        parent->j.child = &kid->j;
        kid->j.prev = &kid->j;
    } else {
        cJSON *last = first->prev;
        last->next = &kid->j;
        kid->j.prev = last;
        first->prev = &kid->j;
    }
    if (!kid->plain)
        parent->plain = 0;
}

static struct jnode *container(struct parser *ps, int depth, int object)
{
    const char close = object ? '}' : ']';
    struct jnode *n = node(ps, object ? cJSON_Object : cJSON_Array, ps->p);
    int outer_ws = ps->ws;

    if (n == NULL || depth >= JDOC_MAX_DEPTH)
        return NULL;
    ps->p++;
    ps->ws = 0;
    skip_ws(ps);
    if (*ps->p != close) {
        for (;;) {
            char *key = NULL;
            if (object) {
                int key_plain = 1;
                if (*ps->p != '"' || (key = string(ps, &key_plain)) == NULL)
                    return NULL;
                if (!key_plain)
                    n->plain = 0;
                skip_ws(ps);
                if (*ps->p != ':')
                    return NULL;
                ps->p++;
                skip_ws(ps);
            }
            struct jnode *kid = value(ps, depth + 1);
            if (kid == NULL)
                return NULL;
            kid->j.string = key;
            link(n, kid);
            skip_ws(ps);
            if (*ps->p == ',') {
                ps->p++;
                skip_ws(ps);
                continue;
            }
            if (*ps->p != close)
                return NULL;
            break;
        }
    }
    ps->p++;
    if (ps->ws)
        n->plain = 0;
    ps->ws = outer_ws;
    n->len = (size_t)(ps->p - n->start);
    return n;
}

static struct jnode *literal(struct parser *ps, const char *word, int type)
{
    size_t n = strlen(word);
    struct jnode *nd;

    if (strncmp(ps->p, word, n) != 0 || (nd = node(ps, type, ps->p)) == NULL)
        return NULL;
    if (type == cJSON_True)
        nd->j.valueint = 1;
    nd->len = n;
    ps->p += n;
    return nd;
}

static struct jnode *value(struct parser *ps, int depth)
{
    const char *start = ps->p;

    switch (*ps->p) {
    case '{':
        return container(ps, depth, 1);
    case '[':
        return container(ps, depth, 0);
    case '"': {
        struct jnode *n = node(ps, cJSON_String, start);
        int plain = 1;
        if (n == NULL || (n->j.valuestring = string(ps, &plain)) == NULL)
            return NULL;
        n->plain = plain;
        n->len = (size_t)(ps->p - start);
        return n;
    }
    case 't':
        return literal(ps, "true", cJSON_True);
    case 'f':
        return literal(ps, "false", cJSON_False);
    case 'n':
        return literal(ps, "null", cJSON_NULL);
    default:
        return number(ps);
    }
}

const cJSON *mq__jdoc_parse(mq__jdoc *d, const char *text)
{
    struct parser ps = {d, text, 0};

    reset(d);
    skip_ws(&ps);
    struct jnode *root = value(&ps, 0);
    if (root == NULL)
        return NULL;
    skip_ws(&ps);
    if (*ps.p != '\0')
        return NULL;
    return &root->j;
}

const char *mq__jdoc_plain(const cJSON *node, size_t *len)
{
    const struct jnode *n = (const struct jnode *)node;

    if (node == NULL || !n->plain)
        return NULL;
    *len = n->len;
    return n->start;
}

/* ---- the public document (minqing/store.h) -------------------------------- */

struct mq_json_doc {
    mq__jdoc *arena; /* NULL when cJSON parsed the text */
    cJSON *tree;     /* cJSON's tree when the arena did not take the text */
    const cJSON *root;
    char *text; /* the copy the arena's spans point into */
};

int mq_json_doc_parse(mq_json_doc **out, const char *text, size_t len, mq_error *err)
{
    mq_json_doc *d;

    *out = NULL;
    if (memchr(text, '\0', len) != NULL) /* both parsers would stop there */
        return mq__fail(err, MQ_EINVAL,
                        "not one valid JSON value: a NUL byte in the text");
    if ((d = calloc(1, sizeof(*d))) == NULL)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    if ((d->text = malloc(len + 1)) == NULL) {
        free(d);
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    }
    memcpy(d->text, text, len);
    d->text[len] = '\0';
    if ((d->arena = mq__jdoc_new()) != NULL)
        d->root = mq__jdoc_parse(d->arena, d->text);
    if (d->root == NULL) {
        /* cJSON decides what the arena did not take (a number cJSON reads
         * otherwise, say), with the same rule: nothing after the value */
        mq__jdoc_free(d->arena);
        d->arena = NULL;
        d->root = d->tree = cJSON_ParseWithOpts(d->text, NULL, 1);
    }
    if (d->root == NULL) {
        mq_json_doc_free(d);
        return mq__fail(err, MQ_EINVAL, "not one valid JSON value");
    }
    *out = d;
    return 0;
}

const cJSON *mq_json_doc_root(const mq_json_doc *d)
{
    return d != NULL ? d->root : NULL;
}

void mq_json_doc_free(mq_json_doc *d)
{
    if (d == NULL)
        return;
    mq__jdoc_free(d->arena);
    cJSON_Delete(d->tree);
    free(d->text);
    free(d);
}

int mq__json_doc_arena(const mq_json_doc *d)
{
    return d != NULL && d->arena != NULL;
}
