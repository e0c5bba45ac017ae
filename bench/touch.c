/*
 * bench/touch.c - the edits of case 4 (incremental sync): one field changed
 * on a fraction of the households of a replica.
 *
 * Lists the live households, sorts their ids (so that a run picks the same
 * households whatever the store's order), and puts a new phone number on
 * every k-th one, all in one transaction: a day of field work that the next
 * sync must carry.  Each put is one change of one field.
 *
 * With --list FILE it also writes what changed, one line per change with
 * only what a receiver must learn ({"id":ID,"phone":VALUE}): the harness
 * compresses that file as the floor of the bytes a sync of these edits
 * needs.
 *
 * Usage: mqb_touch --db STORE [--every K] [--salt N] [--list FILE]
 * Prints {"households":H,"changed":N,"seconds":S}.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minqing/minqing.h"
#include "ids.h"
#include "util.h"

int main(int argc, char **argv)
{
    const char *dbpath = NULL, *listpath = NULL;
    FILE *list = NULL;
    long every = 10, salt = 0;
    mq_store *store = NULL;
    mq_error err;
    mqb_ids hh = {NULL, 0, 0};
    size_t changed = 0;

    mqb_set_program(argv[0]);
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            mqb_die("%s needs a value", a);
        if (strcmp(a, "--db") == 0)
            dbpath = v;
        else if (strcmp(a, "--every") == 0)
            every = atol(v);
        else if (strcmp(a, "--salt") == 0)
            salt = atol(v);
        else if (strcmp(a, "--list") == 0)
            listpath = v;
        else
            mqb_die("unknown option %s", a);
    }
    if (dbpath == NULL || every < 1 || salt < 0 || salt > 9999)
        mqb_die("usage: mqb_touch --db STORE [--every K] [--salt N] [--list FILE]");
    if (listpath != NULL && (list = fopen(listpath, "w")) == NULL)
        mqb_die("cannot write %s", listpath);

    mq_error_clear(&err);
    double t0 = mqb_now();
    if (mq_store_open(&store, dbpath, &err) != 0)
        mqb_die("%s: %s", dbpath, err.message);
    if (mq_store_list(store, "household", NULL, 0, mqb_collect_id, &hh, &err) != 0)
        mqb_die("listing households: %s", err.message);
    mqb_ids_sort(&hh);
    if (mq_store_begin(store, &err) != 0)
        mqb_die("begin: %s", err.message);
    for (size_t i = 0; i < hh.n; i += (size_t)every) {
        char fields[48];
        snprintf(fields, sizeof fields, "{\"phone\":\"137%04ld%04zu\"}", salt, i % 10000);
        if (mq_store_put(store, "household", hh.v[i], fields, NULL, NULL, &err) != 0)
            mqb_die("put %s: %s", hh.v[i], err.message);
        if (list != NULL)
            fprintf(list, "{\"id\":\"%s\",\"phone\":\"137%04ld%04zu\"}\n", hh.v[i], salt,
                    i % 10000);
        changed++;
    }
    if (mq_store_commit(store, &err) != 0)
        mqb_die("commit: %s", err.message);
    mq_store_close(store);
    if (list != NULL && fclose(list) != 0)
        mqb_die("cannot write %s", listpath);
    printf("{\"households\":%zu,\"changed\":%zu,\"seconds\":%.6f}\n", hh.n, changed,
           mqb_now() - t0);
    mqb_ids_free(&hh);
    return 0;
}
