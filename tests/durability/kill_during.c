/*
 * tests/durability/kill_during.c - kill -9 in the middle of a write, then
 * check that the store is whole and holds all or none of that write.
 *
 * For one command (import of a township file, put of a new or a patched
 * household, apply of a township bundle) the driver first runs it to the end
 * on a copy of a prepared store, to learn how long it takes (T) and what the
 * store holds afterwards.  Then, many times over (for put: that many times
 * for a new household and as many for a patch), it starts the command on a
 * fresh copy, waits a random time between 0.1 T and 1.2 T, sends SIGKILL, and
 * asserts:
 *   1. `check` passes (SQLite's integrity check and the change log);
 *   2. the exported records are exactly those of before or exactly those of
 *      after, nothing in between (all or nothing); a command that had
 *      already exited 0 must have left "after";
 *   3. every few rounds, running the command again to the end gives "after"
 *      and the change log holds as many changes as after one clean run (a
 *      killed run applied nothing twice).
 *
 * --via cli runs the real `minqing` binary; --via lib forks a child that
 * calls the library directly and checks with the library, so the store can
 * be tested without the front end.
 *
 * Usage: kill_during --via cli|lib [--minqing PATH] --gen gen_cards.py
 *                    --work DIR --command import|put|apply
 *                    [--iterations N] [--households N] [--seed N]
 *                    [--rerun-every N] [--python PATH]
 */
#include <cjson/cJSON.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "minqing/minqing.h"

#if defined(__GNUC__)
#define MQ_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MQ_PRINTF(a, b)
#endif

static struct {
    const char *via, *minqing, *gen, *python, *work, *command;
    int iterations, households, rerun_every, lib;
    uint64_t seed;
} o = {.python = "python3", .iterations = 20, .rerun_every = 4};

static unsigned long failures;

static void fail(const char *fmt, ...) MQ_PRINTF(1, 2);
_Noreturn static void die(const char *fmt, ...) MQ_PRINTF(1, 2);

static void fail(const char *fmt, ...)
{
    va_list ap;
    failures++;
    fprintf(stderr, "FAIL (seed %" PRIu64 "): ", o.seed);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

_Noreturn static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FATAL (seed %" PRIu64 "): ", o.seed);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static uint64_t rng_state;

static uint64_t rnd64(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_us(uint64_t us)
{
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* mkdir -p */
static int make_dirs(const char *dir)
{
    char p[1024];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            return -1;
        *s = '/';
    }
    return mkdir(p, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* Paths that main() keeps, freed at its end. */
static char *kept[32];
static size_t nkept;

static char *path_in(const char *name)
{
    size_t n = strlen(o.work) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p)
        abort();
    snprintf(p, n, "%s/%s", o.work, name);
    return p;
}

/* A path_in() that main() keeps and frees at the end. */
static char *kept_path(const char *name)
{
    char *p = path_in(name);
    if (nkept < sizeof kept / sizeof kept[0])
        kept[nkept++] = p;
    return p;
}

/* ---- files ---------------------------------------------------------------- */

static void remove_db(const char *db)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char p[1024];
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", db, suffix[i]);
        unlink(p);
    }
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in) {
        if (errno == ENOENT)
            return;
        die("cannot read %s: %s", from, strerror(errno));
    }
    FILE *out = fopen(to, "wb");
    if (!out)
        die("cannot write %s: %s", to, strerror(errno));
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            die("short write to %s", to);
    fclose(in);
    if (fclose(out) != 0)
        die("cannot write %s", to);
}

/* Copies a store with its WAL, so a copy is the same replica state. */
static void copy_db(const char *from, const char *to)
{
    char a[1024], b[1024];
    remove_db(to);
    copy_file(from, to);
    snprintf(a, sizeof a, "%s-wal", from);
    snprintf(b, sizeof b, "%s-wal", to);
    copy_file(a, b);
}

typedef struct lines {
    char **a;
    size_t n, cap;
} lines;

static void lines_free(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->a[i]);
    free(l->a);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The non-empty lines of a file, sorted. */
static void read_lines(const char *path, lines *l)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    memset(l, 0, sizeof *l);
    if (!f)
        die("cannot read %s: %s", path, strerror(errno));
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (!n)
            continue;
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 1024;
            l->a = realloc(l->a, l->cap * sizeof *l->a);
            if (!l->a)
                abort();
        }
        l->a[l->n++] = strdup(line);
    }
    free(line);
    fclose(f);
    if (l->n > 1)
        qsort(l->a, l->n, sizeof *l->a, cmp_str);
}

static int lines_equal(const lines *a, const lines *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->a[i], b->a[i]) != 0)
            return 0;
    return 1;
}

/* How many lines of `a` are missing from `b` (both sorted). */
static size_t lines_missing(const lines *a, const lines *b)
{
    size_t i = 0, j = 0, missing = 0;
    while (i < a->n) {
        int c = j < b->n ? strcmp(a->a[i], b->a[j]) : -1;
        if (c == 0) {
            i++;
            j++;
        } else if (c < 0) {
            missing++;
            i++;
        } else {
            j++;
        }
    }
    return missing;
}

/* ---- processes ------------------------------------------------------------- */

/* Starts argv with stdin from `in` and stdout to `out` (either may be NULL:
 * /dev/null); stderr to `err` or inherited. */
static pid_t spawn(char *const argv[], const char *in, const char *out, const char *err)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        int fi = open(in ? in : "/dev/null", O_RDONLY);
        int fo = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fi < 0 || fo < 0)
            _exit(126);
        dup2(fi, 0);
        dup2(fo, 1);
        if (err) {
            int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fe >= 0)
                dup2(fe, 2);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static int wait_for(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            die("waitpid: %s", strerror(errno));
    return st;
}

static int exited_ok(int st)
{
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void describe(int st, char *buf, size_t n)
{
    if (WIFEXITED(st))
        snprintf(buf, n, "exit %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, n, "signal %d", WTERMSIG(st));
    else
        snprintf(buf, n, "status %d", st);
}

static void show_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char buf[512];
    if (!f)
        return;
    for (int i = 0; i < 20 && fgets(buf, sizeof buf, f); i++)
        fprintf(stderr, "    %s", buf);
    fclose(f);
}

/* ---- the command under test, through the CLI or the library -------------- */

typedef struct plan {
    const char *name;
    const char *op;    /* import | put | apply */
    const char *input; /* the file read by import/apply, the fields of put */
    const char *type;  /* put */
    char id[64];       /* put */
    char *base;        /* the store before */
    lines before, after;
    size_t after_changes;
    double seconds;
} plan;

static int lib_child_run(const plan *p, const char *db)
{
    mq_store *st = NULL;
    mq_error err;
    int rc;
    FILE *in = fopen(p->input, "r");
    mq_error_clear(&err);
    if (mq_store_open(&st, db, &err) != 0) {
        if (in)
            fclose(in);
        return 3;
    }
    if (!strcmp(p->op, "import")) {
        mq_import_opts io;
        mq_import_stats s;
        memset(&io, 0, sizeof io);
        rc = in ? mq_store_import(st, in, &io, &s, &err) : MQ_EIO;
    } else if (!strcmp(p->op, "apply")) {
        mq_apply_stats s;
        rc = in ? mq_store_apply_bundle(st, in, NULL, &s, &err) : MQ_EIO;
    } else {
        char buf[4096];
        size_t n = in ? fread(buf, 1, sizeof buf - 1, in) : 0;
        char *out = NULL;
        buf[n] = 0;
        rc = mq_store_put(st, p->type, p->id, buf, NULL, &out, &err);
        mq_free(out);
    }
    if (rc != 0)
        fprintf(stderr, "%s: %s\n", p->op, err.message);
    if (in)
        fclose(in);
    mq_store_close(st);
    return rc != 0;
}

/* Starts the command of `p` on store `db`. */
static pid_t start(const plan *p, const char *db, const char *errlog)
{
    if (o.lib) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
            die("fork: %s", strerror(errno));
        if (pid == 0) {
            int fe = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fe >= 0)
                dup2(fe, 2);
            _exit(lib_child_run(p, db));
        }
        return pid;
    }
    if (!strcmp(p->op, "put")) {
        char *argv[] = {(char *)o.minqing, "--db", (char *)db,    "put",
                        (char *)p->type,   "--id", (char *)p->id, NULL};
        return spawn(argv, p->input, NULL, errlog);
    }
    char *argv[] = {(char *)o.minqing, "--db",           (char *)db,
                    (char *)p->op,     (char *)p->input, NULL};
    return spawn(argv, NULL, NULL, errlog);
}

static int lib_open(const char *db, mq_store **st)
{
    mq_error err;
    mq_error_clear(&err);
    int rc = mq_store_open(st, db, &err);
    if (rc != 0)
        fail("mq_store_open %s returned %d: %s", db, rc, err.message);
    return rc;
}

static void problem_cb(void *ctx, const char *problem)
{
    (void)ctx;
    fprintf(stderr, "    check: %s\n", problem);
}

/* Whether the store passes `check`. */
static int check_ok(const char *db, const char *errlog)
{
    if (o.lib) {
        mq_store *st;
        mq_error err;
        size_t problems = 0;
        if (lib_open(db, &st) != 0)
            return 0;
        mq_error_clear(&err);
        int rc = mq_store_check(st, problem_cb, NULL, &problems, &err);
        mq_store_close(st);
        if (rc != 0)
            fprintf(stderr, "    check returned %d: %s\n", rc, err.message);
        return rc == 0 && problems == 0;
    }
    char *argv[] = {(char *)o.minqing, "--db", (char *)db, "check", NULL};
    int st = wait_for(spawn(argv, NULL, errlog, errlog));
    if (!exited_ok(st)) {
        char d[32];
        describe(st, d, sizeof d);
        fprintf(stderr, "    `minqing check` ended with %s:\n", d);
        show_file(errlog);
    }
    return exited_ok(st);
}

/* Writes the exported records of `db` to `out`. */
static void export_to(const char *db, const char *out, const char *errlog)
{
    if (o.lib) {
        mq_store *st;
        mq_error err;
        FILE *f = fopen(out, "w");
        if (!f || lib_open(db, &st) != 0)
            die("cannot export %s", db);
        mq_error_clear(&err);
        int rc = mq_store_export(st, NULL, f, &err);
        mq_store_close(st);
        fclose(f);
        if (rc != 0)
            die("export of %s returned %d: %s", db, rc, err.message);
        return;
    }
    char *argv[] = {(char *)o.minqing, "--db", (char *)db, "export", NULL};
    int st = wait_for(spawn(argv, NULL, out, errlog));
    if (!exited_ok(st)) {
        show_file(errlog);
        die("`minqing --db %s export` failed", db);
    }
}

static int count_cb(void *ctx, const char *json)
{
    (void)json;
    ++*(size_t *)ctx;
    return 0;
}

/* How many changes the change log of `db` holds. */
static size_t count_changes(const char *db, const char *errlog)
{
    if (o.lib) {
        mq_store *st;
        mq_error err;
        mq_changes_query q;
        size_t n = 0;
        memset(&q, 0, sizeof q);
        if (lib_open(db, &st) != 0)
            die("cannot open %s", db);
        mq_error_clear(&err);
        int rc = mq_store_changes(st, &q, count_cb, &n, NULL, &err);
        mq_store_close(st);
        if (rc != 0)
            die("changes of %s returned %d: %s", db, rc, err.message);
        return n;
    }
    char *out = path_in("changes.out");
    char *argv[] = {(char *)o.minqing, "--db", (char *)db, "changes", NULL};
    int st = wait_for(spawn(argv, NULL, out, errlog));
    if (!exited_ok(st)) {
        show_file(errlog);
        die("`minqing --db %s changes` failed", db);
    }
    lines l;
    read_lines(out, &l);
    size_t n = l.n;
    lines_free(&l);
    free(out);
    return n;
}

/* ---- preparing the stores ------------------------------------------------- */

static void run_or_die(char *const argv[], const char *in, const char *out)
{
    char *errlog = path_in("setup.err");
    int st = wait_for(spawn(argv, in, out, errlog));
    if (!exited_ok(st)) {
        char d[32];
        describe(st, d, sizeof d);
        fprintf(stderr, "setup command %s %s ... ended with %s:\n", argv[0],
                argv[1] ? argv[1] : "", d);
        show_file(errlog);
        die("setup failed");
    }
    free(errlog);
}

/* The generator's output for `households`, made once per work folder. */
static char *data_file(int households)
{
    char name[64];
    snprintf(name, sizeof name, "households-%d.jsonl", households);
    char *path = kept_path(name);
    struct stat sb;
    if (stat(path, &sb) == 0 && sb.st_size > 0)
        return path;
    char *tmp = path_in("households.tmp");
    char n[16];
    snprintf(n, sizeof n, "%d", households);
    char *argv[] = {(char *)o.python, (char *)o.gen, "--households", n, NULL};
    run_or_die(argv, NULL, tmp);
    if (rename(tmp, path) != 0)
        die("rename %s: %s", tmp, strerror(errno));
    free(tmp);
    return path;
}

static void init_store(const char *db, const char *site)
{
    remove_db(db);
    if (o.lib) {
        mq_store *st;
        mq_error err;
        mq_error_clear(&err);
        if (mq_store_open(&st, db, &err) != 0 || mq_store_init(st, site, NULL, &err) != 0)
            die("init %s: %s", db, err.message);
        mq_store_close(st);
        return;
    }
    char *argv[] = {(char *)o.minqing, "--db",       (char *)db, "init",
                    "--site",          (char *)site, NULL};
    run_or_die(argv, NULL, NULL);
}

static void import_into(const char *db, const char *file)
{
    if (o.lib) {
        plan p;
        memset(&p, 0, sizeof p);
        p.op = "import";
        p.input = file;
        if (lib_child_run(&p, db) != 0)
            die("import of %s into %s failed", file, db);
        return;
    }
    char *argv[] = {(char *)o.minqing, "--db", (char *)db, "import", (char *)file, NULL};
    run_or_die(argv, NULL, NULL);
}

static void bundle_of(const char *db, const char *out)
{
    if (o.lib) {
        mq_store *st;
        mq_error err;
        mq_changes_query q;
        FILE *f = fopen(out, "w");
        memset(&q, 0, sizeof q);
        mq_error_clear(&err);
        if (!f || mq_store_open(&st, db, &err) != 0 ||
            mq_store_write_bundle(st, &q, f, NULL, &err) != 0)
            die("bundle of %s: %s", db, err.message);
        mq_store_close(st);
        fclose(f);
        return;
    }
    char *argv[] = {(char *)o.minqing, "--db", (char *)db, "changes", NULL};
    run_or_die(argv, NULL, out);
}

/* The first record of `type` in an interchange file; its id in `id`. */
static void first_of(const char *file, const char *type, char *id, size_t n, char *area,
                     size_t an)
{
    FILE *f = fopen(file, "r");
    char *line = NULL;
    size_t cap = 0;
    id[0] = 0;
    if (area)
        area[0] = 0;
    while (f && getline(&line, &cap, f) > 0) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
        if (cJSON_IsString(t) && !strcmp(t->valuestring, type)) {
            const cJSON *i = cJSON_GetObjectItemCaseSensitive(j, "id");
            const cJSON *fs = cJSON_GetObjectItemCaseSensitive(j, "fields");
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(fs, "area");
            snprintf(id, n, "%s", cJSON_IsString(i) ? i->valuestring : "");
            if (area)
                snprintf(area, an, "%s", cJSON_IsString(a) ? a->valuestring : "");
            cJSON_Delete(j);
            break;
        }
        cJSON_Delete(j);
    }
    free(line);
    if (f)
        fclose(f);
    if (!id[0])
        die("no %s in %s", type, file);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        die("cannot write %s", path);
}

/* Runs the plan's command to the end on a copy of its base store: what the
 * store holds before and after, and how long it takes. */
static void measure(plan *p)
{
    char *work = path_in("measure.db"), *out = path_in("export.out"),
         *errlog = path_in("measure.err");
    copy_db(p->base, work);
    export_to(work, out, errlog);
    read_lines(out, &p->before);
    /* the faster of two clean runs: the first may pay for a cold cache */
    for (int run = 0; run < 2; run++) {
        copy_db(p->base, work);
        double t0 = now_s();
        int st = wait_for(start(p, work, errlog));
        double t = now_s() - t0;
        if (!exited_ok(st)) {
            show_file(errlog);
            die("%s: a clean run failed", p->name);
        }
        if (run == 0 || t < p->seconds)
            p->seconds = t;
    }
    if (!check_ok(work, errlog))
        die("%s: the store fails check after a clean run", p->name);
    export_to(work, out, errlog);
    read_lines(out, &p->after);
    p->after_changes = count_changes(work, errlog);
    if (lines_equal(&p->before, &p->after))
        die("%s: a clean run changed no record", p->name);
    printf("%s: a clean run takes %.3f s; %zu records before, %zu after, %zu changes\n",
           p->name, p->seconds, p->before.n, p->after.n, p->after_changes);
    remove_db(work);
    free(work);
    free(out);
    free(errlog);
}

/* ---- the rounds ---------------------------------------------------------- */

typedef struct tally {
    unsigned killed_none, killed_all, exited_all, bad;
} tally;

static void one_round(plan *p, int i, tally *t)
{
    char *work = path_in("work.db"), *out = path_in("export.out"),
         *errlog = path_in("round.err"), *cmdlog = path_in("command.err");
    copy_db(p->base, work);
    /* from 0.1 T to 1.2 T: the first tenth is mostly the start of a process */
    uint64_t window = (uint64_t)(p->seconds * 1.1e6) + 1;
    uint64_t delay = (uint64_t)(p->seconds * 0.1e6) + rnd64() % window;
    pid_t pid = start(p, work, cmdlog);
    sleep_us(delay);
    kill(pid, SIGKILL);
    int st = wait_for(pid);
    int killed = WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
    char d[32];
    describe(st, d, sizeof d);
    if (!killed && !exited_ok(st)) {
        fail("%s round %d: the command ended with %s before the kill", p->name, i, d);
        show_file(cmdlog);
    }

    int ok = check_ok(work, errlog);
    if (!ok)
        fail("%s round %d: killed after %.1f ms (%s): the store fails check", p->name, i,
             (double)delay / 1000.0, d);
    lines now;
    export_to(work, out, errlog);
    read_lines(out, &now);
    int none = lines_equal(&now, &p->before), all = lines_equal(&now, &p->after);
    const char *what = all ? "all" : none ? "none" : "PART";
    printf("  round %2d: kill after %8.1f ms (%s): %s (%zu records)\n", i,
           (double)delay / 1000.0, killed ? "killed" : "had exited", what, now.n);
    if (!none && !all) {
        fail(
            "%s round %d: killed after %.1f ms the store holds %zu records: %zu of the "
            "%zu "
            "before are missing, %zu of the %zu after are missing (neither all nor none)",
            p->name, i, (double)delay / 1000.0, now.n, lines_missing(&p->before, &now),
            p->before.n, lines_missing(&p->after, &now), p->after.n);
        t->bad++;
    } else if (!killed && exited_ok(st) && !all) {
        fail("%s round %d: the command exited 0 but its records are not in the store",
             p->name, i);
        t->bad++;
    } else if (killed) {
        if (all)
            t->killed_all++;
        else
            t->killed_none++;
    } else {
        t->exited_all++;
    }
    lines_free(&now);

    if (ok && o.rerun_every > 0 && i % o.rerun_every == 0) {
        /* run it again to the end: same records, no change logged twice */
        st = wait_for(start(p, work, cmdlog));
        if (!exited_ok(st)) {
            describe(st, d, sizeof d);
            fail("%s round %d: running the command again after the kill ended with %s",
                 p->name, i, d);
            show_file(cmdlog);
        } else {
            export_to(work, out, errlog);
            read_lines(out, &now);
            size_t nch = count_changes(work, errlog);
            if (!lines_equal(&now, &p->after))
                fail("%s round %d: after a kill and a full rerun the store holds %zu "
                     "records, "
                     "a clean run leaves %zu",
                     p->name, i, now.n, p->after.n);
            if (nch != p->after_changes)
                fail(
                    "%s round %d: after a kill and a full rerun the change log holds %zu "
                    "changes, a clean run leaves %zu",
                    p->name, i, nch, p->after_changes);
            if (!check_ok(work, errlog))
                fail("%s round %d: the store fails check after the rerun", p->name, i);
            lines_free(&now);
        }
    }
    remove_db(work);
    free(work);
    free(out);
    free(errlog);
    free(cmdlog);
}

static void run_plan(plan *p, int iterations)
{
    tally t = {0, 0, 0, 0};
    measure(p);
    for (int i = 1; i <= iterations; i++)
        one_round(p, i, &t);
    printf("%s: %d kills: %u left none, %u left all, %u came after the command had "
           "finished, %u broken\n",
           p->name, iterations, t.killed_none, t.killed_all, t.exited_all, t.bad);
    if (t.killed_none + t.killed_all + t.bad == 0)
        printf("%s: note: no kill landed while the command ran\n", p->name);
    lines_free(&p->before);
    lines_free(&p->after);
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s --via cli|lib [--minqing PATH] --gen gen_cards.py --work DIR\n"
            "          --command import|put|apply [--iterations N] [--households N]\n"
            "          [--seed N] [--rerun-every N] [--python PATH]\n",
            argv0);
    exit(2);
}

int main(int argc, char **argv)
{
    o.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage(argv[0]);
        if (!strcmp(a, "--via"))
            o.via = v;
        else if (!strcmp(a, "--minqing"))
            o.minqing = v;
        else if (!strcmp(a, "--gen"))
            o.gen = v;
        else if (!strcmp(a, "--python"))
            o.python = v;
        else if (!strcmp(a, "--work"))
            o.work = v;
        else if (!strcmp(a, "--command"))
            o.command = v;
        else if (!strcmp(a, "--iterations"))
            o.iterations = atoi(v);
        else if (!strcmp(a, "--households"))
            o.households = atoi(v);
        else if (!strcmp(a, "--seed"))
            o.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--rerun-every"))
            o.rerun_every = atoi(v);
        else
            usage(argv[0]);
    }
    if (!o.via || !o.gen || !o.work || !o.command)
        usage(argv[0]);
    o.lib = !strcmp(o.via, "lib");
    if (!o.lib && (strcmp(o.via, "cli") != 0 || !o.minqing))
        usage(argv[0]);
    rng_state = o.seed;
    if (make_dirs(o.work) != 0)
        die("mkdir %s: %s", o.work, strerror(errno));
    printf("kill_during --via %s --command %s --seed %" PRIu64 " (%d rounds)\n", o.via,
           o.command, o.seed, o.iterations);

    char *empty = kept_path("empty.db");
    init_store(empty, "tablet-k");

    if (!strcmp(o.command, "import")) {
        plan p;
        memset(&p, 0, sizeof p);
        p.name = "import";
        p.op = "import";
        p.input = data_file(o.households ? o.households : 5000);
        p.base = empty;
        run_plan(&p, o.iterations);
    } else if (!strcmp(o.command, "apply")) {
        plan p;
        char *src = kept_path("source.db"), *bundle = kept_path("bundle.jsonl");
        memset(&p, 0, sizeof p);
        init_store(src, "office-s");
        import_into(src, data_file(o.households ? o.households : 5000));
        bundle_of(src, bundle);
        p.name = "apply";
        p.op = "apply";
        p.input = bundle;
        p.base = empty;
        run_plan(&p, o.iterations);
    } else if (!strcmp(o.command, "put")) {
        char *village = kept_path("village.db"), *file = data_file(88);
        char *create = kept_path("put-create.json"), *patch = kept_path("put-patch.json");
        char hh[64], area[64], text[1024];
        init_store(village, "tablet-v");
        import_into(village, file);
        first_of(file, "household", hh, sizeof hh, area, sizeof area);
        snprintf(text, sizeof text,
                 "{\"area\":\"%s\",\"head_name\":\"普春华\",\"head_id_number\":"
                 "\"532327198001010015\",\"phone\":\"13887812345\",\"size\":3,"
                 "\"tags\":[\"低保户\"]}\n",
                 area);
        write_text(create, text);
        write_text(patch,
                   "{\"head_name\":\"普春华\",\"phone\":\"13887812345\",\"size\":7,"
                   "\"address\":\"永仁县立戈村民小组99号\"}\n");
        plan pc, pp;
        memset(&pc, 0, sizeof pc);
        memset(&pp, 0, sizeof pp);
        pc.name = "put (new household)";
        pc.op = "put";
        pc.type = "household";
        snprintf(pc.id, sizeof pc.id, "%s", "7d0c1f8e-3a52-4c1b-9e4f-2b6a8d90c001");
        pc.input = create;
        pc.base = village;
        pp.name = "put (patch of a household)";
        pp.op = "put";
        pp.type = "household";
        snprintf(pp.id, sizeof pp.id, "%s", hh);
        pp.input = patch;
        pp.base = village;
        run_plan(&pc, o.iterations);
        run_plan(&pp, o.iterations);
    } else {
        usage(argv[0]);
    }
    for (size_t i = 0; i < nkept; i++)
        free(kept[i]);
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
