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
 * With --seconds S (case 9) the rounds are timed instead: after the
 * initial sync, every device loops for S seconds on its own, without
 * barriers: it makes --edits new changes offline (new visits to households
 * of its areas and, when the device has a home group, one phone update of a
 * household of that group that no other device edits), syncs, and waits a
 * random 0 to --think-ms.  The last --cli devices sync by running the real
 * command, `minqing --db FILE sync` (--minqing PATH), as a process; the
 * others call mq_sync_run().  A push request's latency is taken from the
 * client's own progress lines: from "connected" (the session's answer) or
 * the previous "pushed" to the next "pushed" (the answer, committed here).
 * When the time is up every device syncs twice more (all of them push, then
 * all of them pull), so that each has pulled what every other pushed, and
 * the server's /v1/health is asked.  A sync
 * that fails or times out is an error; so is a change refused.
 *
 * Usage: mqb_load --url URL --devices FILE --work DIR [--rounds N] [--edits N]
 *                 [--seconds S [--think-ms N] [--cli N --minqing PATH]]
 * The devices file has a line per device: NAME TOKEN HOME [AREAS], HOME the
 * area whose households it edits ("-": none; it only adds visits).  Prints
 * one JSON object.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "minqing/minqing.h"
#include "minqing/sync.h"
#include "ids.h"
#include "util.h"

enum { MAX_DEVICES = 1000, MAX_ROUNDS = 100 };

extern char **environ;

/* A growing sample of latencies, in ms. */
typedef struct sample {
    double *v;
    size_t n, cap;
} sample;

static void sample_add(sample *s, double x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->v = mqb_xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = x;
}

static void sample_join(sample *to, const sample *from)
{
    for (size_t i = 0; i < from->n; i++)
        sample_add(to, from->v[i]);
}

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
    /* timed mode (--seconds) */
    int cli;                     /* syncs by running `minqing sync` */
    size_t syncs, made, applied; /* syncs done, changes made, applied there */
    size_t final_failed;         /* of the last sync after the time is up */
    sample sync_ms, push_ms;     /* every sync; every push request */
    double last_line;            /* time of the client's last progress line */
} device;

static struct {
    const char *url, *work, *minqing;
    long rounds, edits, seconds, think_ms, cli;
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

/* The client's progress lines time each push request (timed mode). */
static void on_line(void *ctx, const char *line)
{
    device *d = ctx;
    double now = mqb_now();
    if (strncmp(line, "pushed ", 7) == 0)
        sample_add(&d->push_ms, (now - d->last_line) * 1000.0);
    if (strncmp(line, "pushed ", 7) == 0 || strncmp(line, "connected ", 10) == 0)
        d->last_line = now;
}

/* One sync; fills the latency and the counters.  Returns 0 when it did. */
static int sync_once(device *d, mq_store *st, double *start, double *end, size_t *pulled,
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
    if (g.seconds > 0) {
        o.notify = on_line;
        o.ctx = d;
    }
    *start = mqb_now();
    d->last_line = *start;
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
    return rc == 0 && r.push_rejected + r.pull_rejected == 0 ? 0 : -1;
}

/* Runs `minqing --db PATH sync` as a process; 0 when it reported success. */
static int sync_cli(device *d, const char *path)
{
    char out[1024], err[1024], line[4096];
    char *argv[] = {(char *)g.minqing, "--db",    (char *)path, "sync", "--server",
                    (char *)g.url,     "--token", d->token,     NULL};
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int status = 0, ok = 0;
    snprintf(out, sizeof out, "%s/%s.out", g.work, d->name);
    snprintf(err, sizeof err, "%s/%s.err", g.work, d->name);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = posix_spawn(&pid, g.minqing, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0 || waitpid(pid, &status, 0) != pid) {
        mq_error e;
        mq_error_set(&e, MQ_EIO, MQ_DOMAIN_MINQING, MQ_EIO, "cannot run %s", g.minqing);
        note_error(d, "spawn", &e);
        return -1;
    }
    /* the report: the last line of stdout that is a JSON object */
    FILE *f = fopen(out, "r");
    cJSON *rep = NULL;
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (line[0] == '{') {
            cJSON_Delete(rep);
            rep = cJSON_Parse(line);
        }
    }
    if (f != NULL)
        fclose(f);
    if (rep != NULL) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(rep, "retries");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(rep, "push_applied");
        d->retries += cJSON_IsNumber(r) ? (size_t)r->valuedouble : 0;
        d->applied += cJSON_IsNumber(a) ? (size_t)a->valuedouble : 0;
        ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "ok"));
    }
    cJSON_Delete(rep);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !ok) {
        mq_error e;
        mq_error_set(&e, MQ_EIO, MQ_DOMAIN_MINQING, MQ_EIO,
                     "minqing sync exited %d (see %s)",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1, err);
        note_error(d, "sync", &e);
        return -1;
    }
    return 0;
}

/* An mq_json_cb: keeps the "id" of the first record walked in `ctx`. */
static int first_id(void *ctx, const char *json)
{
    char *out = ctx;
    cJSON *j = cJSON_Parse(json);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    if (out[0] == '\0' && cJSON_IsString(id))
        snprintf(out, 40, "%s", id->valuestring);
    cJSON_Delete(j);
    return 0;
}

/*
 * Timed mode: edits and syncs until `deadline`.  `all` holds the households
 * in the device's store (its scope), `home` those of its home group, of
 * which it edits its share.  A `minqing sync` process writes the file, so a
 * device that syncs so closes its store around the process.
 */
static void run_timed(device *d, mq_store **st, const char *path, const mqb_ids *all,
                      const mqb_ids *home, const char *cadre, double deadline)
{
    unsigned seed = (unsigned)(d->slot * 7919u + d->nslots * 104729u) ^
                    (unsigned)(size_t)strlen(d->name) * 2654435761u;
    size_t mine = home->n > d->slot ? (home->n - d->slot + d->nslots - 1) / d->nslots : 0;
    mq_error e;
    mq_error_clear(&e);
    for (size_t round = 0; mqb_now() < deadline && *st != NULL; round++) {
        for (long j = 0; j < g.edits; j++) {
            char fields[512];
            int rc;
            if (j == 0 && mine > 0) {
                size_t k = d->slot + (round % mine) * d->nslots;
                unsigned v = (unsigned)(round % 100000000);
                snprintf(fields, sizeof fields, "{\"phone\":\"139%08u\"}", v);
                rc = mq_store_put(*st, "household", home->v[k], fields, NULL, NULL, &e);
            } else if (all->n > 0 && cadre[0] != '\0') {
                seed = seed * 1103515245u + 12345u;
                snprintf(fields, sizeof fields,
                         "{\"household\":\"%s\",\"cadre\":\"%s\",\"at\":\"2012-06-15\","
                         "\"kind\":\"home_visit\",\"notes\":\"%s round %zu visit %ld\"}",
                         all->v[(seed >> 8) % all->n], cadre, d->name, round, j);
                rc = mq_store_put(*st, "visit", NULL, fields, NULL, NULL, &e);
            } else {
                continue;
            }
            if (rc != 0)
                note_error(d, "put", &e);
            else
                d->made++;
        }
        double t0 = mqb_now(), t1;
        int ok;
        if (d->cli) {
            mq_store_close(*st);
            *st = NULL;
            ok = sync_cli(d, path) == 0;
            t1 = mqb_now();
            if (mq_store_open(st, path, &e) != 0) {
                note_error(d, "open", &e);
                *st = NULL;
            }
        } else {
            size_t applied = 0;
            ok = sync_once(d, *st, &t0, &t1, NULL, &applied) == 0;
            d->applied += applied;
        }
        (void)ok; /* failures are counted by note_error() */
        d->syncs++;
        sample_add(&d->sync_ms, (t1 - t0) * 1000.0);
        if (g.think_ms > 0) {
            seed = seed * 1103515245u + 12345u;
            mqb_sleep((double)((seed >> 8) % (unsigned)(g.think_ms + 1)) / 1000.0);
        }
    }
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

    if (g.seconds > 0) {
        /* timed mode: every household in scope may get a visit; the home
         * group's households are shared out for phone updates */
        mqb_ids all = {NULL, 0, 0};
        char cadre[40] = "";
        if (st != NULL &&
            (mq_store_list(st, "household", NULL, 0, mqb_collect_id, &all, &e) != 0 ||
             mq_store_list(st, "cadre", NULL, 0, first_id, cadre, &e) != 0))
            note_error(d, "list", &e);
        mq_where w = {"area", d->area};
        if (st != NULL && strcmp(d->area, "-") != 0 &&
            mq_store_list(st, "household", &w, 1, mqb_collect_id, &hh, &e) != 0)
            note_error(d, "list", &e);
        mqb_ids_sort(&all);
        mqb_ids_sort(&hh);
        d->households = all.n;
        pthread_barrier_wait(&g.barrier);
        run_timed(d, &st, path, &all, &hh, cadre, mqb_now() + (double)g.seconds);
        /* Time is up.  A first sync pushes what a failed last sync left (it
         * counts as failed, but must not hide a loss); once every device has
         * done so, a second pulls what every other pushed. */
        for (int k = 0; k < 2; k++) {
            double t0, t1;
            pthread_barrier_wait(&g.barrier);
            if (st == NULL || sync_once(d, st, &t0, &t1, NULL, NULL) != 0)
                d->final_failed++;
        }
        mqb_ids_free(&all);
        mqb_ids_free(&hh);
        mq_store_close(st);
        return NULL;
    }

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

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

/* Whether GET /v1/health answers 200 within 10 s. */
static int healthy(void)
{
    char url[1024];
    long status = 0;
    CURL *c = curl_easy_init();
    if (c == NULL)
        return 0;
    snprintf(url, sizeof url, "%s/v1/health", g.url);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status == 200;
}

/* The figures of the timed mode, as one JSON object; 0 when nothing failed. */
static int report_timed(void)
{
    sample sync = {NULL, 0, 0}, push = {NULL, 0, 0}, cli = {NULL, 0, 0};
    size_t syncs = 0, errors = 0, retries = 0, rejected = 0, made = 0, applied = 0,
           final_failed = 0, households = 0, ncli = 0;
    for (size_t i = 0; i < g.ndev; i++) {
        device *d = &g.dev[i];
        syncs += d->syncs;
        errors += d->errors;
        retries += d->retries;
        rejected += d->rejected;
        made += d->made;
        applied += d->applied;
        final_failed += d->final_failed;
        households += d->households;
        sample_join(&sync, &d->sync_ms);
        sample_join(&push, &d->push_ms);
        if (d->cli) {
            sample_join(&cli, &d->sync_ms);
            ncli++;
        }
        if (d->first_error[0] != '\0')
            fprintf(stderr, "mqb_load: %s: %s\n", d->name, d->first_error);
        free(d->sync_ms.v);
        free(d->push_ms.v);
    }
    int ok = healthy();
    double secs = (double)g.seconds;
    printf("{\"mode\":\"timed\",\"devices\":%zu,\"cli_devices\":%zu,\"seconds\":%ld,"
           "\"think_ms\":%ld,\"edits\":%ld,\"households\":%zu,\"syncs\":%zu,"
           "\"changes_made\":%zu,\"push_applied\":%zu,\"syncs_per_s\":%.2f,"
           "\"changes_per_s\":%.1f,\"sync_p50_ms\":%.2f,\"sync_p99_ms\":%.2f,"
           "\"sync_max_ms\":%.2f,\"push_requests\":%zu,\"push_p50_ms\":%.2f,"
           "\"push_p99_ms\":%.2f,\"cli_syncs\":%zu,\"cli_p50_ms\":%.2f,"
           "\"cli_p99_ms\":%.2f,\"errors\":%zu,\"rejected\":%zu,\"retries\":%zu,"
           "\"final_failed\":%zu,\"healthy\":%s}\n",
           g.ndev, ncli, g.seconds, g.think_ms, g.edits, households, syncs, made, applied,
           (double)syncs / secs, (double)applied / secs,
           mqb_percentile(sync.v, sync.n, 50), mqb_percentile(sync.v, sync.n, 99),
           mqb_percentile(sync.v, sync.n, 100), push.n,
           mqb_percentile(push.v, push.n, 50), mqb_percentile(push.v, push.n, 99), cli.n,
           mqb_percentile(cli.v, cli.n, 50), mqb_percentile(cli.v, cli.n, 99),
           errors + rejected, rejected, retries, final_failed, ok ? "true" : "false");
    free(sync.v);
    free(push.v);
    free(cli.v);
    return errors + rejected + final_failed == 0 && ok ? 0 : 1;
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
        else if (strcmp(a, "--seconds") == 0)
            g.seconds = atol(v);
        else if (strcmp(a, "--think-ms") == 0)
            g.think_ms = atol(v);
        else if (strcmp(a, "--cli") == 0)
            g.cli = atol(v);
        else if (strcmp(a, "--minqing") == 0)
            g.minqing = v;
        else
            mqb_die("unknown option %s", a);
    }
    if (g.url == NULL || devices == NULL || g.work == NULL || g.rounds < 1 ||
        g.rounds > MAX_ROUNDS || g.edits < 0 || g.edits > 100000 || g.seconds < 0 ||
        g.think_ms < 0 || g.cli < 0 || (g.cli > 0 && g.minqing == NULL))
        mqb_die("usage: mqb_load --url URL --devices FILE --work DIR [--rounds N] "
                "[--edits N] [--seconds S [--think-ms N] [--cli N --minqing PATH]]");
    read_devices(devices);
    for (size_t i = 0; i < g.ndev; i++)
        g.dev[i].cli = g.seconds > 0 && i + (size_t)g.cli >= g.ndev;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        mqb_die("cannot initialise libcurl");
    pthread_barrier_init(&g.barrier, NULL, (unsigned)g.ndev);
    for (size_t i = 0; i < g.ndev; i++)
        if (pthread_create(&g.dev[i].thread, NULL, run_device, &g.dev[i]) != 0)
            mqb_die("cannot start thread %zu", i);
    for (size_t i = 0; i < g.ndev; i++)
        pthread_join(g.dev[i].thread, NULL);
    pthread_barrier_destroy(&g.barrier);
    if (g.seconds > 0) {
        int rc = report_timed();
        free(g.dev);
        curl_global_cleanup();
        return rc;
    }

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
