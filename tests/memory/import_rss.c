/*
 * tests/memory/import_rss.c - a county imports in bounded memory.
 *
 * Generates the county file (gen_cards.py --households 30000, about 78 MB)
 * once into the work folder, initialises a fresh store, and runs
 * `minqing import` on it as a child process.  The child's peak resident set
 * (ru_maxrss from wait4) must stay under the limit, 64 MiB by default: a
 * tablet has little memory, so import must stream.  Then the store must
 * hold every record of the file.  The peaks of `export` and `check` on the
 * same store are printed for information.
 *
 * --via lib measures a forked child that calls mq_store_import() directly,
 * which tells the library's share from the front end's.
 *
 * Usage: import_rss --via cli|lib [--minqing PATH] --gen gen_cards.py
 *                   --work DIR [--households N] [--limit-mib N]
 *                   [--python PATH]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "minqing/minqing.h"

/* wait4() is not in POSIX; declare it as glibc and the BSDs have it. */
pid_t wait4(pid_t pid, int *status, int options, struct rusage *rusage);

static struct {
    const char *via, *minqing, *gen, *python, *work;
    int households, lib;
    long limit_mib;
} o = {.python = "python3", .households = 30000, .limit_mib = 64};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

static char *path_in(const char *name)
{
    const char *dir = o.work ? o.work : ".";
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p)
        abort();
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void remove_db(const char *db)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char p[1024];
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", db, suffix[i]);
        unlink(p);
    }
}

/* One finished child: how it ended and its peak RSS in KiB. */
typedef struct outcome {
    int status;
    long maxrss_kib;
    double seconds;
} outcome;

static outcome wait_child(pid_t pid, double t0)
{
    outcome r;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &r.status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("wait4");
            exit(1);
        }
    }
    r.maxrss_kib = ru.ru_maxrss; /* Linux: kilobytes */
    r.seconds = now_s() - t0;
    return r;
}

/* Runs argv with stdout to `out` (NULL: /dev/null). */
static outcome run(char *const argv[], const char *out)
{
    double t0 = now_s();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        int fo = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fi = open("/dev/null", O_RDONLY);
        if (fo < 0 || fi < 0)
            _exit(126);
        dup2(fi, 0);
        dup2(fo, 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    return wait_child(pid, t0);
}

static int ok(const outcome *r)
{
    return WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
}

static size_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t n = 0;
    int c, last = '\n';
    if (!f)
        return 0;
    while ((c = getc(f)) != EOF) {
        if (c == '\n')
            n++;
        last = c;
    }
    fclose(f);
    return n + (last != '\n');
}

_Noreturn static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s --via cli|lib [--minqing PATH] --gen gen_cards.py --work DIR\n"
            "          [--households N] [--limit-mib N] [--python PATH]\n",
            argv0);
    exit(2);
}

/* The child of --via lib: import through the library and exit. */
static int lib_import(const char *db, const char *data)
{
    mq_store *st = NULL;
    mq_error err;
    mq_import_opts io;
    mq_import_stats s;
    FILE *in = fopen(data, "r");
    memset(&io, 0, sizeof io);
    mq_error_clear(&err);
    if (!in || mq_store_open(&st, db, &err) != 0)
        return 1;
    int rc = mq_store_import(st, in, &io, &s, &err);
    if (rc != 0)
        fprintf(stderr, "import: %s\n", err.message);
    mq_store_close(st);
    fclose(in);
    return rc != 0;
}

static int lib_init(const char *db)
{
    mq_store *st = NULL;
    mq_error err;
    mq_error_clear(&err);
    int rc = mq_store_open(&st, db, &err);
    if (rc == 0)
        rc = mq_store_init(st, "county-mem", NULL, &err);
    if (rc != 0)
        fprintf(stderr, "init %s: %s\n", db, err.message);
    mq_store_close(st);
    return rc;
}

static size_t lib_export(const char *db, const char *out)
{
    mq_store *st = NULL;
    mq_error err;
    FILE *f = fopen(out, "w");
    mq_error_clear(&err);
    if (!f || mq_store_open(&st, db, &err) != 0 ||
        mq_store_export(st, NULL, f, &err) != 0)
        fprintf(stderr, "export %s: %s\n", db, err.message);
    mq_store_close(st);
    if (f)
        fclose(f);
    return count_lines(out);
}

/* Generates the county file once, imports it into a fresh store under
 * measurement and checks the result.  Returns 1 on any failure. */
static int run_test(const char *data, const char *tmp, const char *db, const char *out)
{
    char n[16];
    snprintf(n, sizeof n, "%d", o.households);
    struct stat sb;
    if (stat(data, &sb) != 0 || sb.st_size == 0) {
        char *gen[] = {(char *)o.python, (char *)o.gen, "--households", n, NULL};
        outcome g = run(gen, tmp);
        if (!ok(&g) || rename(tmp, data) != 0) {
            fprintf(stderr, "FAIL: generating %s failed\n", data);
            return 1;
        }
        stat(data, &sb);
        printf("generated %s in %.1f s\n", data, g.seconds);
    }
    size_t records = count_lines(data);
    printf("county file: %s, %.1f MB, %zu records\n", data, (double)sb.st_size / 1e6,
           records);

    remove_db(db);
    outcome imp;
    if (o.lib) {
        if (lib_init(db) != 0)
            return 1;
        double t0 = now_s();
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0)
            _exit(lib_import(db, data));
        imp = wait_child(pid, t0);
    } else {
        char *init[] = {(char *)o.minqing, "--db",       (char *)db, "init",
                        "--site",          "county-mem", NULL};
        outcome r = run(init, NULL);
        if (!ok(&r)) {
            fprintf(stderr, "FAIL: minqing init failed\n");
            return 1;
        }
        char *import[] = {(char *)o.minqing, "--db",       (char *)db,
                          "import",          (char *)data, NULL};
        imp = run(import, NULL);
    }
    double mib = (double)imp.maxrss_kib / 1024.0;
    printf("import (%s): peak RSS %.1f MiB (limit %ld MiB), %.1f s\n", o.via, mib,
           o.limit_mib, imp.seconds);
    int failed = 0;
    if (!ok(&imp)) {
        fprintf(stderr, "FAIL: the import did not exit 0 (status %d)\n", imp.status);
        failed = 1;
    }
    if (imp.maxrss_kib > o.limit_mib * 1024) {
        fprintf(stderr,
                "FAIL: importing %zu records took a peak RSS of %.1f MiB, over %ld MiB\n",
                records, mib, o.limit_mib);
        failed = 1;
    }

    /* every record is there; export and check peaks for information */
    size_t exported;
    if (o.lib) {
        exported = lib_export(db, out);
    } else {
        char *exp[] = {(char *)o.minqing, "--db", (char *)db, "export", NULL};
        outcome e = run(exp, out);
        printf("export (cli): peak RSS %.1f MiB, %.1f s\n", (double)e.maxrss_kib / 1024.0,
               e.seconds);
        char *chk[] = {(char *)o.minqing, "--db", (char *)db, "check", NULL};
        outcome c = run(chk, NULL);
        printf("check (cli): peak RSS %.1f MiB, %.1f s, %s\n",
               (double)c.maxrss_kib / 1024.0, c.seconds, ok(&c) ? "passed" : "FAILED");
        if (!ok(&c)) {
            fprintf(stderr, "FAIL: check fails after the county import\n");
            failed = 1;
        }
        exported = count_lines(out);
    }
    if (exported != records) {
        fprintf(stderr, "FAIL: the store exports %zu records, the file has %zu\n",
                exported, records);
        failed = 1;
    }
    remove_db(db);
    unlink(out);
    return failed;
}

int main(int argc, char **argv)
{
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
        else if (!strcmp(a, "--households"))
            o.households = atoi(v);
        else if (!strcmp(a, "--limit-mib"))
            o.limit_mib = atol(v);
        else
            usage(argv[0]);
    }
    if (!o.via || !o.gen || !o.work)
        usage(argv[0]);
    o.lib = !strcmp(o.via, "lib");
    if (!o.lib && (strcmp(o.via, "cli") != 0 || !o.minqing))
        usage(argv[0]);
    if (make_dirs(o.work) != 0) {
        fprintf(stderr, "mkdir %s: %s\n", o.work, strerror(errno));
        return 1;
    }

    char name[64];
    snprintf(name, sizeof name, "county-%d.jsonl", o.households);
    char *data = path_in(name), *tmp = path_in("county.tmp"), *db = path_in("county.db"),
         *out = path_in("export.out");
    int failed = run_test(data, tmp, db, out);
    printf("%s\n", failed ? "FAILED" : "ok");
    free(data);
    free(tmp);
    free(db);
    free(out);
    return failed;
}
