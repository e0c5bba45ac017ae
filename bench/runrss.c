/*
 * bench/runrss.c - runs one command and reports its wall time and peak
 * resident set size, as the kernel accounted them.
 *
 * The harness measures every process-level figure through this program
 * (imports, syncs), so that times do not include the shell's own work and
 * peak RSS comes from wait4()'s ru_maxrss of exactly that process.
 *
 * Usage: mqb_runrss [--in FILE] [--out FILE] [--err FILE] -- COMMAND [ARG...]
 * Standard input comes from FILE (default /dev/null); standard output and
 * error go to the given files (default /dev/null and inherited).
 * Prints {"status":S,"seconds":T,"maxrss_kib":K,"user_s":U,"sys_s":Y}: wall
 * time, peak RSS, and the CPU time the process used; exits 0 when COMMAND
 * exited 0, else 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

/* wait4() is not in POSIX; glibc and the BSDs declare it under _DEFAULT_SOURCE. */
pid_t wait4(pid_t pid, int *status, int options, struct rusage *rusage);

static void redirect(const char *path, int fd, int flags)
{
    int f = open(path, flags, 0644);
    if (f < 0) {
        perror(path);
        _exit(126);
    }
    if (dup2(f, fd) < 0)
        _exit(126);
    close(f);
}

int main(int argc, char **argv)
{
    const char *in = "/dev/null", *out = "/dev/null", *errf = NULL;
    int i = 1;

    mqb_set_program(argv[0]);
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (i + 1 >= argc)
            mqb_die("usage: mqb_runrss [--in F] [--out F] [--err F] -- COMMAND [ARG...]");
        if (strcmp(argv[i], "--in") == 0)
            in = argv[++i];
        else if (strcmp(argv[i], "--out") == 0)
            out = argv[++i];
        else if (strcmp(argv[i], "--err") == 0)
            errf = argv[++i];
        else
            mqb_die("unknown option %s", argv[i]);
    }
    if (i >= argc)
        mqb_die("no command given");

    fflush(NULL);
    double t0 = mqb_now();
    pid_t pid = fork();
    if (pid < 0)
        mqb_die("fork: %s", strerror(errno));
    if (pid == 0) {
        redirect(in, 0, O_RDONLY);
        redirect(out, 1, O_WRONLY | O_CREAT | O_TRUNC);
        if (errf != NULL)
            redirect(errf, 2, O_WRONLY | O_CREAT | O_TRUNC);
        execvp(argv[i], argv + i);
        perror(argv[i]);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR)
            mqb_die("wait4: %s", strerror(errno));
    }
    double t1 = mqb_now();
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    printf("{\"status\":%d,\"seconds\":%.6f,\"maxrss_kib\":%ld,\"user_s\":%.3f,"
           "\"sys_s\":%.3f}\n",
           code, t1 - t0, ru.ru_maxrss,
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    return code == 0 ? 0 : 1;
}
