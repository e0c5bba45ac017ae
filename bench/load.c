/*
 * bench/load.c - case 6: many devices syncing with one server at once.
 *
 * Each simulated device is a real replica (its own SQLite file) driven by
 * the real client, mq_sync_run(), on its own thread, so the server sees
 * what a township's tablets would send.  The devices come from a file the
 * harness writes after enrolling them, one per line: NAME TOKEN AREA.
 *
 *   1. Every device initialises its replica, then all of them make their
 *      first sync at the same instant (a barrier): the initial pull of their
 *      area, timed as "initial".
 *   2. For each of --rounds rounds, every device edits --edits households of
 *      its area (two fields each: phone and income) offline, then all of
 *      them sync at the same instant.  Devices that share an area edit
 *      disjoint households, so no edit races another.
 *
 * A round's wall time runs from the barrier to the last sync's end; the
 * merged field changes per second are the fields the server applied over
 * the sum of the rounds' wall times.  Latency is one device's mq_sync_run().
 * Errors are syncs that did not return 0, plus changes refused either way.
 *
 * Usage: mqb_load --url URL --devices FILE --work DIR [--rounds N] [--edits N]
 * Prints one JSON object.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minqing/minqing.h"
#include "minqing/sync.h"
#include "ids.h"
#include "util.h"

enum { MAX_DEVICES = 1000, MAX_ROUNDS = 100 };

typedef struct device {
    char name[64], token[80], area[40];
    size_t slot, nslots; /* which share of its area's households it edits */
    pthread_t thread;
    /* results */
    double initial_ms, round_ms[MAX_ROUNDS], round_start[MAX_ROUNDS],
        round_end[MAX_ROUNDS];
    double initial_start, initial_end;
    size_t pulled_initial, fields_applied, retries, rejected, errors, households;
    char first_error[MQ_ERROR_MESSAGE_MAX + 32];
} device;

static struct {
    const char *url, *work;
    long rounds, edits;
    device *dev;
    size_t ndev;
    pthread_barrier_t barrier;
} g = {.rounds = 5, .edits = 10};

static void note_error(device *d, const char *what, const mq_error *e)
{
    d->errors++;
    if (d->first_error[0] == '\0')
        snprintf(d->first_error, sizeof d->first_error, "%s: %s", what, e->message);
}

/* One sync; fills the latency and the counters.  Returns the fields applied. */
static void sync_once(device *d, mq_store *st, double *start, double *end, size_t *pulled,
                      size_t *applied)
{
    mq_sync_opts o;
    mq_sync_report r;
    mq_error e;
    memset(&o, 0, sizeof o);
    memset(&r, 0, sizeof r);
    mq_error_clear(&e);
    o.server_url = g.url;
    o.token = d->token;
    *start = mqb_now();
    int rc = mq_sync_run(st, &o, &r, &e);
    *end = mqb_now();
    if (rc != 0)
        note_error(d, "sync", &e);
    d->retries += r.retries;
    d->rejected += r.push_rejected + r.pull_rejected;
    if (pulled != NULL)
        *pulled = r.pulled;
    if (applied != NULL)
        *applied = r.push_applied;
}

static void *run_device(void *arg)
{
    device *d = arg;
    mq_store *st = NULL;
    mq_error e;
    char path[1024];
    mqb_ids hh = {NULL, 0, 0};

    mq_error_clear(&e);
    snprintf(path, sizeof path, "%s/%s.db", g.work, d->name);
    if (mq_store_open(&st, path, &e) != 0 || mq_store_init(st, d->name, NULL, &e) != 0)
        note_error(d, "open", &e);

    pthread_barrier_wait(&g.barrier);
    if (st != NULL)
        sync_once(d, st, &d->initial_start, &d->initial_end, &d->pulled_initial, NULL);
    d->initial_ms = (d->initial_end - d->initial_start) * 1000.0;

    mq_where w = {"area", d->area};
    if (st != NULL && mq_store_list(st, "household", &w, 1, mqb_collect_id, &hh, &e) != 0)
        note_error(d, "list", &e);
    mqb_ids_sort(&hh);
    d->households = hh.n;
    /* this device's share: households slot, slot + nslots, ... */
    size_t mine = hh.n > d->slot ? (hh.n - d->slot + d->nslots - 1) / d->nslots : 0;

    for (long r = 0; r < g.rounds; r++) {
        for (long j = 0; j < g.edits && mine > 0 && st != NULL; j++) {
            size_t k = d->slot + ((size_t)(r * g.edits + j) % mine) * d->nslots;
            char fields[96];
            unsigned v = (unsigned)((r * g.edits + j) % 100000000);
            snprintf(fields, sizeof fields,
                     "{\"phone\":\"138%08u\",\"income_per_capita_yuan\":%u}", v,
                     2000 + v);
            if (mq_store_put(st, "household", hh.v[k], fields, NULL, NULL, &e) != 0)
                note_error(d, "put", &e);
        }
        pthread_barrier_wait(&g.barrier);
        size_t applied = 0;
        if (st != NULL)
            sync_once(d, st, &d->round_start[r], &d->round_end[r], NULL, &applied);
        d->round_ms[r] = (d->round_end[r] - d->round_start[r]) * 1000.0;
        d->fields_applied += 2 * applied; /* each change sets two fields */
        pthread_barrier_wait(&g.barrier);
    }
    mqb_ids_free(&hh);
    mq_store_close(st);
    return NULL;
}

static void read_devices(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[512];
    if (f == NULL)
        mqb_die("cannot open %s", path);
    g.dev = calloc(MAX_DEVICES, sizeof *g.dev);
    if (g.dev == NULL)
        mqb_die("out of memory");
    while (fgets(line, sizeof line, f) != NULL && g.ndev < MAX_DEVICES) {
        device *d = &g.dev[g.ndev];
        if (sscanf(line, "%63s %79s %39s", d->name, d->token, d->area) == 3)
            g.ndev++;
    }
    fclose(f);
    if (g.ndev == 0)
        mqb_die("%s lists no device", path);
    /* devices sharing an area split its households */
    for (size_t i = 0; i < g.ndev; i++) {
        g.dev[i].nslots = 0;
        for (size_t j = 0; j < g.ndev; j++) {
            if (strcmp(g.dev[i].area, g.dev[j].area) == 0) {
                if (j < i)
                    g.dev[i].slot++;
                g.dev[i].nslots++;
            }
        }
    }
}

int main(int argc, char **argv)
{
    const char *devices = NULL;

    mqb_set_program(argv[0]);
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            mqb_die("%s needs a value", a);
        if (strcmp(a, "--url") == 0)
            g.url = v;
        else if (strcmp(a, "--devices") == 0)
            devices = v;
        else if (strcmp(a, "--work") == 0)
            g.work = v;
        else if (strcmp(a, "--rounds") == 0)
            g.rounds = atol(v);
        else if (strcmp(a, "--edits") == 0)
            g.edits = atol(v);
        else
            mqb_die("unknown option %s", a);
    }
    if (g.url == NULL || devices == NULL || g.work == NULL || g.rounds < 1 ||
        g.rounds > MAX_ROUNDS || g.edits < 0 || g.edits > 100000)
        mqb_die("usage: mqb_load --url URL --devices FILE --work DIR [--rounds N] "
                "[--edits N]");
    read_devices(devices);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        mqb_die("cannot initialise libcurl");
    pthread_barrier_init(&g.barrier, NULL, (unsigned)g.ndev);
    for (size_t i = 0; i < g.ndev; i++)
        if (pthread_create(&g.dev[i].thread, NULL, run_device, &g.dev[i]) != 0)
            mqb_die("cannot start thread %zu", i);
    for (size_t i = 0; i < g.ndev; i++)
        pthread_join(g.dev[i].thread, NULL);
    pthread_barrier_destroy(&g.barrier);

    size_t n = g.ndev, nr = (size_t)g.rounds;
    double *lat = mqb_xmalloc(n * nr * sizeof(double));
    double *ini = mqb_xmalloc(n * sizeof(double));
    double walls = 0, ini_start = 1e300, ini_end = 0;
    size_t fields = 0, errors = 0, retries = 0, rejected = 0, pulled = 0, households = 0;
    for (long r = 0; r < g.rounds; r++) {
        double s = 1e300, e = 0;
        for (size_t i = 0; i < n; i++) {
            const device *d = &g.dev[i];
            s = d->round_start[r] < s ? d->round_start[r] : s;
            e = d->round_end[r] > e ? d->round_end[r] : e;
            lat[(size_t)r * n + i] = d->round_ms[r];
        }
        walls += e - s;
    }
    for (size_t i = 0; i < n; i++) {
        const device *d = &g.dev[i];
        ini[i] = d->initial_ms;
        ini_start = d->initial_start < ini_start ? d->initial_start : ini_start;
        ini_end = d->initial_end > ini_end ? d->initial_end : ini_end;
        fields += d->fields_applied;
        errors += d->errors;
        retries += d->retries;
        rejected += d->rejected;
        pulled += d->pulled_initial;
        households += d->households;
        if (d->first_error[0] != '\0')
            fprintf(stderr, "mqb_load: %s: %s\n", d->name, d->first_error);
    }
    double ini_p50 = mqb_percentile(ini, n, 50), ini_p99 = mqb_percentile(ini, n, 99);
    double p50 = mqb_percentile(lat, n * nr, 50), p99 = mqb_percentile(lat, n * nr, 99);
    double max = lat[n * nr - 1];
    printf("{\"devices\":%zu,\"households\":%zu,\"rounds\":%ld,\"edits\":%ld,"
           "\"initial_pulled\":%zu,\"initial_wall_s\":%.4f,\"initial_p50_ms\":%.2f,"
           "\"initial_p99_ms\":%.2f,"
           "\"field_changes\":%zu,\"wall_s\":%.4f,\"field_changes_per_s\":%.1f,"
           "\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,"
           "\"errors\":%zu,\"rejected\":%zu,\"retries\":%zu}\n",
           n, households, g.rounds, g.edits, pulled, ini_end - ini_start, ini_p50,
           ini_p99, fields, walls, walls > 0 ? (double)fields / walls : 0.0, p50, p99,
           max, errors + rejected, rejected, retries);
    free(lat);
    free(ini);
    free(g.dev);
    curl_global_cleanup();
    return errors + rejected == 0 ? 0 : 1;
}
