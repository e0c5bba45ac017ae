/*
 * bench/proxy.c - a TCP proxy on loopback that counts every byte and can
 * play a slow link: a bandwidth per direction and a round-trip time.
 *
 * The sync cases route `minqing sync` through it.  Without a rate it only
 * counts: bytes up (client to server) and down, HTTP headers and all, which
 * is what a metered 2G/3G uplink bills.  With --kbit and --rtt-ms it models
 * one full-duplex link shared by all connections:
 *
 *   - bytes read from one side at time t are serialised on the link of their
 *     direction after whatever is queued before them, at --kbit, and are
 *     delivered to the other side half a round trip after they leave the
 *     link;
 *   - a new connection's first bytes to the server wait one round trip more
 *     (the TCP handshake that the local connect() did not pay);
 *   - each direction of each connection queues at most QUEUE_MAX bytes, then
 *     stops reading, so a fast sender is held back as a slow link would.
 *
 * Invariants: (1) bytes leave a queue in the order they entered it; (2) a
 * chunk is never written before its delivery time; (3) the write side of a
 * socket is shut only after its source ended and its queue drained.
 * Slow start and loss are not modelled: the figure to beat is the physical
 * limit, bytes divided by bandwidth.
 *
 * Usage: mqb_proxy --to HOST:PORT [--listen HOST:PORT] [--kbit N] [--rtt-ms N]
 *                  [--max-seconds N]
 * Prints "listening on HOST:PORT" when ready; on SIGTERM or SIGINT (or after
 * --max-seconds) stops and prints
 * {"connections":C,"up_bytes":U,"down_bytes":D,"seconds":T}
 * where T runs from the first byte received to the last byte delivered.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "util.h"

enum {
    MAX_CONN = 256,         /* connection pairs at once */
    CHUNK_SLOW = 1448,      /* a TCP segment's payload: the shaping granularity */
    CHUNK_FAST = 64 * 1024, /* read size when only counting */
    QUEUE_MAX = 64 * 1024   /* bytes queued per direction per connection */
};

typedef struct chunk {
    struct chunk *next;
    double deliver_at;
    size_t len, off;
    unsigned char data[];
} chunk;

/* One direction of one connection: from fd[src] to fd[dst]. */
typedef struct flow {
    chunk *head, *tail;
    size_t queued;
    int src_eof, shut;
} flow;

typedef struct conn {
    int fd[2]; /* 0: the client's socket, 1: the server's; -1 when free */
    flow f[2]; /* 0: up (client to server), 1: down */
    double not_before;
} conn;

static volatile sig_atomic_t stop_flag;
static conn conns[MAX_CONN];
static double link_free[2];
static double bits_per_s; /* 0: unlimited */
static double one_way;    /* seconds */
static uint64_t bytes[2], connections;
static double first_byte = -1, last_byte = -1;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void parse_addr(const char *text, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(text, ':');
    if (colon == NULL || (size_t)(colon - text) >= sizeof host)
        mqb_die("bad address %s (want HOST:PORT)", text);
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        mqb_die("bad host %s (want an IPv4 address such as 127.0.0.1)", host);
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        mqb_die("fcntl: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void free_flow(flow *f)
{
    chunk *c = f->head;
    while (c != NULL) {
        chunk *n = c->next;
        free(c);
        c = n;
    }
    memset(f, 0, sizeof *f);
}

static void close_conn(conn *c)
{
    for (int i = 0; i < 2; i++) {
        if (c->fd[i] >= 0)
            close(c->fd[i]);
        c->fd[i] = -1;
        free_flow(&c->f[i]);
    }
}

static void accept_one(int lfd, const struct sockaddr_in *to, double now)
{
    int cfd = accept(lfd, NULL, NULL);
    if (cfd < 0)
        return;
    conn *c = NULL;
    for (int i = 0; i < MAX_CONN && c == NULL; i++)
        if (conns[i].fd[0] < 0)
            c = &conns[i];
    if (c == NULL) {
        close(cfd);
        return;
    }
    int sfd = socket(AF_INET, SOCK_STREAM, 0);
    if (sfd < 0 || connect(sfd, (const struct sockaddr *)to, sizeof *to) != 0) {
        if (sfd >= 0)
            close(sfd);
        close(cfd);
        return;
    }
    set_nonblock(cfd);
    set_nonblock(sfd);
    memset(c, 0, sizeof *c);
    c->fd[0] = cfd;
    c->fd[1] = sfd;
    /* the handshake the local connect() skipped: one round trip */
    c->not_before = bits_per_s > 0 || one_way > 0 ? now + 2 * one_way : now;
    connections++;
}

/* Reads what fd[d] offers into flow d; returns -1 when the connection broke. */
static int pull_in(conn *c, int d, double now)
{
    flow *f = &c->f[d];
    size_t want = bits_per_s > 0 ? CHUNK_SLOW : CHUNK_FAST;
    if (f->src_eof)
        return 0;
    if (QUEUE_MAX - f->queued < want)
        want = QUEUE_MAX - f->queued;
    if (want == 0) {
        /* the queue is full: only notice an end of stream, read nothing */
        unsigned char b;
        if (recv(c->fd[d], &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
            f->src_eof = 1;
        return 0;
    }
    chunk *k = malloc(sizeof *k + want);
    if (k == NULL)
        return -1;
    ssize_t n = read(c->fd[d], k->data, want);
    if (n <= 0) {
        free(k);
        if (n == 0) {
            f->src_eof = 1;
            return 0;
        }
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    }
    k->len = (size_t)n;
    k->off = 0;
    k->next = NULL;
    if (bits_per_s > 0) {
        double start = now > link_free[d] ? now : link_free[d];
        link_free[d] = start + (double)n * 8.0 / bits_per_s;
        k->deliver_at = link_free[d] + one_way;
    } else {
        k->deliver_at = now + one_way;
    }
    if (d == 0 && k->deliver_at < c->not_before + one_way)
        k->deliver_at = c->not_before + one_way;
    if (f->tail != NULL)
        f->tail->next = k;
    else
        f->head = k;
    f->tail = k;
    f->queued += (size_t)n;
    bytes[d] += (uint64_t)n;
    if (first_byte < 0)
        first_byte = now;
    return 0;
}

/* Writes the due chunks of flow d to the other side; -1 when it broke. */
static int push_out(conn *c, int d, double now)
{
    flow *f = &c->f[d];
    int dst = c->fd[1 - d];
    while (f->head != NULL && f->head->deliver_at <= now) {
        chunk *k = f->head;
        ssize_t n = write(dst, k->data + k->off, k->len - k->off);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        k->off += (size_t)n;
        f->queued -= (size_t)n;
        last_byte = now;
        if (k->off < k->len)
            return 0;
        f->head = k->next;
        if (f->head == NULL)
            f->tail = NULL;
        free(k);
    }
    if (f->src_eof && f->head == NULL && !f->shut) {
        shutdown(dst, SHUT_WR);
        f->shut = 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *listen_at = "127.0.0.1:0", *to_text = NULL;
    double kbit = 0, rtt_ms = 0, max_seconds = 7200;
    struct sockaddr_in la, to;
    struct pollfd pfd[1 + 2 * MAX_CONN];
    int owner[1 + 2 * MAX_CONN];

    mqb_set_program(argv[0]);
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            mqb_die("%s needs a value", a);
        if (strcmp(a, "--listen") == 0)
            listen_at = v;
        else if (strcmp(a, "--to") == 0)
            to_text = v;
        else if (strcmp(a, "--kbit") == 0)
            kbit = atof(v);
        else if (strcmp(a, "--rtt-ms") == 0)
            rtt_ms = atof(v);
        else if (strcmp(a, "--max-seconds") == 0)
            max_seconds = atof(v);
        else
            mqb_die("unknown option %s", a);
    }
    if (to_text == NULL || kbit < 0 || rtt_ms < 0 || max_seconds <= 0)
        mqb_die("usage: mqb_proxy --to HOST:PORT [--listen HOST:PORT] [--kbit N] "
                "[--rtt-ms N] [--max-seconds N]");
    bits_per_s = kbit * 1000.0;
    one_way = rtt_ms / 2000.0;
    parse_addr(listen_at, &la);
    parse_addr(to_text, &to);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&la, sizeof la) != 0 ||
        listen(lfd, 128) != 0)
        mqb_die("cannot listen on %s: %s", listen_at, strerror(errno));
    socklen_t len = sizeof la;
    getsockname(lfd, (struct sockaddr *)&la, &len);
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &la.sin_addr, host, sizeof host);
    printf("listening on %s:%u\n", host, (unsigned)ntohs(la.sin_port));
    fflush(stdout);

    for (int i = 0; i < MAX_CONN; i++)
        conns[i].fd[0] = conns[i].fd[1] = -1;
    double t_end = mqb_now() + max_seconds;
    while (!stop_flag) {
        double now = mqb_now();
        if (now >= t_end)
            break;
        /* what each socket waits for, and when the next chunk falls due */
        nfds_t n = 0;
        double next_due = now + 1.0;
        pfd[n].fd = lfd;
        pfd[n].events = POLLIN;
        owner[n++] = -1;
        for (int i = 0; i < MAX_CONN; i++) {
            conn *c = &conns[i];
            if (c->fd[0] < 0)
                continue;
            for (int s = 0; s < 2; s++) {
                /* socket s reads flow s and writes flow 1-s */
                flow *in = &c->f[s], *out = &c->f[1 - s];
                short ev = 0;
                if (!in->src_eof && in->queued < QUEUE_MAX)
                    ev |= POLLIN;
                if (out->head != NULL) {
                    if (out->head->deliver_at <= now)
                        ev |= POLLOUT;
                    else if (out->head->deliver_at < next_due)
                        next_due = out->head->deliver_at;
                }
                /* a socket with nothing left to read or write is not polled:
                 * its POLLHUP would wake the loop until the other side drains */
                pfd[n].fd = in->src_eof && out->shut ? -1 : c->fd[s];
                pfd[n].events = ev;
                pfd[n].revents = 0;
                owner[n++] = i;
            }
        }
        int timeout = (int)((next_due - now) * 1000.0) + 1;
        if (poll(pfd, n, timeout) < 0 && errno != EINTR)
            mqb_die("poll: %s", strerror(errno));
        now = mqb_now();
        if (pfd[0].revents & POLLIN)
            accept_one(lfd, &to, now);
        for (nfds_t k = 1; k < n; k += 2) {
            conn *c = &conns[owner[k]];
            if (c->fd[0] < 0)
                continue;
            int broke = 0;
            for (int s = 0; s < 2 && !broke; s++)
                if (pfd[k + (nfds_t)s].revents & (POLLIN | POLLHUP | POLLERR))
                    broke = pull_in(c, s, now) != 0;
            for (int d = 0; d < 2 && !broke; d++)
                broke = push_out(c, d, now) != 0;
            if (broke || (c->f[0].shut && c->f[1].shut))
                close_conn(c);
        }
    }
    for (int i = 0; i < MAX_CONN; i++)
        if (conns[i].fd[0] >= 0)
            close_conn(&conns[i]);
    close(lfd);
    printf(
        "{\"connections\":%llu,\"up_bytes\":%llu,\"down_bytes\":%llu,\"seconds\":%.6f}\n",
        (unsigned long long)connections, (unsigned long long)bytes[0],
        (unsigned long long)bytes[1],
        first_byte >= 0 && last_byte >= first_byte ? last_byte - first_byte : 0.0);
    return 0;
}
