/*
 * tests/fuzz/fuzz_server.c - the server's request handling, whole: the
 * input is the bytes a client sends on one connection, written to a real
 * minqing server (mq_server_serve(), in a thread of this process, over a
 * replica file in /dev/shm when there is one) on loopback, followed by a
 * last request that asks the server to close (CLOSING), then half-closed;
 * the answers are read until the server closes.  (The last request is
 * there because libmicrohttpd 0.9.75 answers a whole keep-alive request
 * whose connection was half-closed before the answer, but then keeps the
 * connection open until its idle timeout.)
 *
 * The handler (sync/server/http.c) is only reachable through
 * libmicrohttpd's connection: it has no entry point that takes a request
 * without a socket.  So the target goes through the socket, and covers
 * libmicrohttpd's parsing of the request line, the head and chunked
 * bodies too, the checks of the head (framing, Host, lengths, target), the
 * token, gzip bodies, the push body decoder and the pull's cursor and
 * limit.  The price: inputs take a round trip each, the server keeps what
 * inputs pushed (an input is not replayed on the same state), and the
 * server's threads run beside the fuzzer's.
 *
 * The input is rewritten before it is sent, so that mutations reach past
 * the token and the framing: "@TOKEN@" and "@TOKEN2@" become the tokens of
 * devices tab-1 (the village) and tab-2 (its group); a body (what follows
 * the first blank line) that starts with "@GZ@" is gzipped; and "@LEN@" in
 * the head becomes the body's length.
 *
 * What must hold, whatever the input:
 *   1. The server answers, and closes the connection, or waits for the
 *      rest of a request (nothing for QUIET_MS: libmicrohttpd does not
 *      close a half-closed connection in the middle of a body; it holds it
 *      until its idle timeout, as any idle connection).
 *   2. What it answers is HTTP: each answer is a status line, a head and a
 *      body of the declared length; its body is a JSON object with
 *      "server_time", in UTF-8, and an answer other than 2xx says its
 *      error as {"code","message"}.  Except where libmicrohttpd answers
 *      by itself, before the handler is called, framing it cannot parse (a
 *      malformed request line, header, length or chunk, an HTTP version
 *      such as 2.0): those answers are its own HTML pages, a 4xx or 505
 *      with no Content-Type, which the server cannot change (not covered: counted, and
 * printed at the end of a replay).  An answer may be cut by the reset of a connection
 * that the server closes with bytes of it unread.
 *   3. It serves a normal request afterwards, within 10 s: tab-1 pulls,
 *      200.  A server that hangs or deadlocks on an input fails here.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "proto.h"
#include "platform.h"
#include "server.h"

#define ANSWER_WAIT_MS 10000
/* Silence after which the server is taken to wait for more of a request. */
#define QUIET_MS 100

/* Sent after every input: a request that ends the connection. */
static const char CLOSING[] =
    "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

static char dir[320], db[352], listen_at[32];
static char token1[MQ_PROTO_TOKEN_LEN + 1], token2[MQ_PROTO_TOKEN_LEN + 1];
static unsigned short port;
static pthread_t server_thread;
static int started;
/* Answers that libmicrohttpd made by itself (invariant 2); inputs after
 * which the server waited for more (invariant 1). */
static unsigned long library_answers, waits;

static void *serve(void *arg)
{
    (void)arg;
    mq_server_opts o = {db, listen_at, NULL, NULL, 2, 0, NULL, NULL, 0, 0, 0, NULL};
    mq_error e;
    if (mq_server_serve(&o, &e) != 0)
        fuzz_fail("the server stopped: %s", e.message);
    return NULL;
}

static void remove_files(void)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char path[400];
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        snprintf(path, sizeof path, "%s%s", db, suffix[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* At exit: the server stops as on SIGTERM, then its files go. */
static void stop(void)
{
    fprintf(stderr,
            "fuzz: %lu answers were libmicrohttpd's own (HTML); after %lu inputs the "
            "server waited for more\n",
            library_answers, waits);
    if (started) {
        pthread_kill(server_thread, SIGTERM);
        pthread_join(server_thread, NULL);
        started = 0;
    }
    remove_files();
}

/*
 * Removes the replicas that runs which crashed left in `tmp` (a crash
 * aborts, and atexit() handlers do not run): folders
 * mq-fuzz-PID-XXXXXX whose process is gone.
 */
static void remove_stale(const char *tmp)
{
    DIR *d = opendir(tmp);
    struct dirent *ent;
    if (d == NULL)
        return;
    while ((ent = readdir(d)) != NULL) {
        long pid = 0;
        char rest[16];
        if (sscanf(ent->d_name, "mq-fuzz-%ld-%15s", &pid, rest) != 2 || pid <= 0 ||
            kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(dir, sizeof dir, "%s/%s", tmp, ent->d_name);
        snprintf(db, sizeof db, "%s/server.db", dir);
        remove_files();
    }
    closedir(d);
}

/* A free port on loopback: bound by the system, then given back. */
static unsigned short free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        fuzz_fail("no free port on loopback: %s", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

static int connect_server(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        fuzz_fail("socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        /* libFuzzer's -timeout alarm may interrupt the connect, which then
         * goes on by itself: its end is waited for, not asked again. */
        int ok = errno == EINTR;
        if (ok) {
            struct pollfd p = {fd, POLLOUT, 0};
            int r, soerr = 0;
            socklen_t sl = sizeof soerr;
            while ((r = poll(&p, 1, ANSWER_WAIT_MS)) < 0 && errno == EINTR)
                ;
            ok = r == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
                 soerr == 0;
            if (!ok && soerr != 0)
                errno = soerr;
        }
        if (!ok) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
    }
    /* Closed with a reset, so that thousands of inputs leave no sockets in
     * TIME_WAIT to run the ephemeral ports out. */
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    return fd;
}

/*
 * Sends `n` bytes on a new connection, half-closes it and reads the answer
 * until the server closes it, or until the server has sent nothing for
 * `quiet_ms` (it waits for the rest of a request: *waiting is set; with
 * `quiet_ms` 0, ANSWER_WAIT_MS of silence fails).  *reset is set when the
 * connection ended in a reset.  Returns the answer, the caller's.
 */
static mq__buf exchange(const char *req, size_t n, int quiet_ms, int *reset, int *waiting)
{
    mq__buf got = {0};
    *reset = *waiting = 0;
    int fd = connect_server();
    if (fd < 0)
        fuzz_fail("the server refuses connections: %s", strerror(errno));
    for (size_t off = 0; off < n;) {
        ssize_t k = send(fd, req + off, n - off, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break; /* the server closed early: its answer is what counts */
        off += (size_t)k;
    }
    shutdown(fd, SHUT_WR);
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, quiet_ms > 0 ? quiet_ms : ANSWER_WAIT_MS);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 && quiet_ms > 0) {
            *waiting = 1;
            break;
        }
        if (r == 0)
            fuzz_fail("the server neither answered nor closed within %d ms (%zu bytes "
                      "answered)",
                      ANSWER_WAIT_MS, got.len);
        char chunk[16384];
        ssize_t k = recv(fd, chunk, sizeof chunk, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            *reset = 1;
        if (k <= 0)
            break; /* closed, or reset after its answer */
        mq__buf_add(&got, chunk, (size_t)k);
    }
    close(fd);
    if (mq__buf_check(&got, "the answer", NULL) != 0)
        fuzz_fail("out of memory");
    return got;
}

/* The value of header `name` in head `h` (of `n` bytes), or NULL. */
static const char *header(const char *h, size_t n, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (const char *p = h; p < h + n;) {
        const char *eol = memchr(p, '\n', (size_t)(h + n - p));
        if (eol == NULL)
            eol = h + n;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < eol && *v == ' ')
                v++;
            *len = (size_t)(eol - v);
            if (*len > 0 && v[*len - 1] == '\r')
                --*len;
            return v;
        }
        p = eol + 1;
    }
    return NULL;
}

/* Checks one answer's body (invariant 2). */
static void check_body(int status, const char *body, size_t n, int gz)
{
    char *plain = NULL;
    size_t len = n;
    mq_error e;
    if (gz) {
        if (mq__gunzip(body, n, MQ_PROTO_MAX_INFLATED, &plain, &len, &e) != 0)
            fuzz_fail("an answer of %d says gzip, but is not: %s", status, e.message);
    } else {
        plain = fuzz_text((const uint8_t *)body, n);
    }
    if (!fuzz_utf8_ok(plain, len) || memchr(plain, '\0', len) != NULL)
        fuzz_fail("the answer of %d is not UTF-8 text: %.200s", status, plain);
    cJSON *j = cJSON_Parse(plain);
    if (!cJSON_IsObject(j) ||
        !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "server_time")))
        fuzz_fail("the answer of %d is not a JSON object with server_time: %.300s",
                  status, plain);
    if (status >= 300) {
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(err, "code")) ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(err, "message")))
            fuzz_fail("the answer of %d names no error code and message: %.300s", status,
                      plain);
    }
    cJSON_Delete(j);
    free(plain);
}

/*
 * Checks the answers (invariant 2), one after the other.  An answer to HEAD
 * declares a length it does not send, so an answer's body is checked only
 * when no request before it may be a HEAD: `first_head` when the first
 * request is one (no body is checked), `heads` when any may be (only the
 * first answer's body is).  A "100 Continue" before an answer is passed
 * over.  Returns the first status of a final answer.
 */
static int check_answers(const mq__buf *a, int first_head, int heads, int reset)
{
    const char *p = a->data, *end = a->data + a->len;
    int first = 0;
    while (p != NULL && p < end) {
        const char *blank = NULL;
        for (const char *q = p; q + 3 < end && blank == NULL; q++)
            if (memcmp(q, "\r\n\r\n", 4) == 0)
                blank = q;
        if (blank == NULL && reset)
            break; /* cut by the reset */
        if ((size_t)(end - p) < 12 ||
            (memcmp(p, "HTTP/1.1 ", 9) != 0 && memcmp(p, "HTTP/1.0 ", 9) != 0) ||
            blank == NULL)
            fuzz_fail("the server answered what is not HTTP: %.200s", p);
        int status = atoi(p + 9);
        if (status < 100 || status > 599)
            fuzz_fail("the server answered status %d", status);
        if (status == 100) {
            /* The interim answer to "Expect: 100-continue": a head alone,
             * with no length and no body (RFC 9110 15.2); the answer to the
             * request follows it. */
            p = blank + 4;
            continue;
        }
        if (status < 200)
            fuzz_fail("the server answered status %d", status);
        if (first == 0)
            first = status;
        size_t hn = (size_t)(blank - p), vl = 0;
        const char *cl = header(p, hn, "Content-Length", &vl);
        if (cl == NULL)
            fuzz_fail("an answer of %d has no Content-Length", status);
        size_t blen = (size_t)strtoull(cl, NULL, 10);
        const char *ce = header(p, hn, "Content-Encoding", &vl);
        int gz = ce != NULL && vl == 4 && strncmp(ce, "gzip", 4) == 0;
        const char *ct = header(p, hn, "Content-Type", &vl);
        const char *body = blank + 4;
        int whole = (size_t)(end - body) >= blen;
        if (!whole && !heads && ct != NULL) {
            /* A server that closes with a request unread resets the
             * connection, and the reset may cut its last answer. */
            if (reset)
                break;
            fuzz_fail("an answer of %d declares %zu bytes and sends %zu", status, blen,
                      (size_t)(end - body));
        }
        /* libmicrohttpd's own page has no Content-Type, and ends the
         * connection; what follows it is not checked (0.9.75 sends the
         * head of its 400 twice for a Content-Length such as "-3"). */
        if (ct == NULL && status >= 400) {
            library_answers++;
            break;
        }
        if (ct == NULL || vl < 16 || strncmp(ct, "application/json", 16) != 0)
            fuzz_fail("an answer of %d is not application/json: %.*s", status, (int)hn,
                      p);
        if (first_head)
            break; /* what follows the head is the next answer */
        if (heads) {
            if (p == a->data && whole && blen > 0)
                check_body(status, body, blen, gz);
            break;
        }
        check_body(status, body, blen, gz);
        p = body + blen;
    }
    return first;
}

/* Replaces every `from` in `b` by `to`. */
static void replace(mq__buf *b, const char *from, const char *to)
{
    size_t fl = strlen(from);
    mq__buf out = {0};
    if (b->data == NULL)
        return;
    for (size_t i = 0; i < b->len;) {
        if (b->len - i >= fl && memcmp(b->data + i, from, fl) == 0) {
            mq__buf_puts(&out, to);
            i += fl;
        } else {
            mq__buf_add(&out, b->data + i, 1);
            i++;
        }
    }
    if (mq__buf_check(&out, "a request", NULL) != 0)
        fuzz_fail("out of memory");
    mq__buf_free(b);
    *b = out;
}

/* The input as it is sent: tokens, a gzipped body and its length put in. */
static mq__buf rewrite(const uint8_t *data, size_t size)
{
    mq__buf b = {0};
    mq__buf_add(&b, data, size);
    replace(&b, "@TOKEN@", token1);
    replace(&b, "@TOKEN2@", token2);
    if (b.data == NULL)
        return b;
    char *blank = NULL;
    for (size_t i = 0; i + 3 < b.len && blank == NULL; i++)
        if (memcmp(b.data + i, "\r\n\r\n", 4) == 0)
            blank = b.data + i;
    if (blank == NULL)
        return b;
    size_t head = (size_t)(blank - b.data) + 4;
    mq__buf body = {0};
    unsigned char *z = NULL;
    size_t zn = 0;
    mq_error e;
    if (b.len - head >= 4 && memcmp(b.data + head, "@GZ@", 4) == 0) {
        if (mq__gzip(b.data + head + 4, b.len - head - 4, &z, &zn, &e) != 0)
            fuzz_fail("gzip: %s", e.message);
        mq__buf_add(&body, z, zn);
        free(z);
    } else {
        mq__buf_add(&body, b.data + head, b.len - head);
    }
    mq__buf out = {0};
    char len[24];
    snprintf(len, sizeof len, "%zu", body.len);
    mq__buf_add(&out, b.data, head);
    replace(&out, "@LEN@", len);
    mq__buf_add(&out, body.data ? body.data : "", body.len);
    if (mq__buf_check(&out, "a request", NULL) != 0)
        fuzz_fail("out of memory");
    mq__buf_free(&b);
    mq__buf_free(&body);
    return out;
}

/* Invariant 3: a device pulls, 200, whatever came before. */
static void still_serves(void)
{
    char req[256];
    int n = snprintf(req, sizeof req,
                     "GET /v1/pull?limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Authorization: Bearer %s\r\nConnection: close\r\n\r\n",
                     token1);
    int reset, waiting;
    mq__buf a = exchange(req, (size_t)n, 0, &reset, &waiting);
    int status = a.len > 0 ? check_answers(&a, 0, 0, reset) : 0;
    if (status != 200)
        fuzz_fail("after the input, a pull is answered %d", status);
    mq__buf_free(&a);
}

static void setup_store(void)
{
    mq_store *s = NULL;
    mq_error e;
    if (mq_server_open(&s, db, &e) != 0)
        fuzz_fail("cannot open the server's replica %s: %s", db, e.message);
    FILE *f = fopen(FUZZ_SOURCE_DIR "/base.bundle", "rb");
    mq_apply_stats st;
    if (f == NULL || mq_store_apply_bundle(s, f, NULL, &st, &e) != 0)
        fuzz_fail("cannot apply the base bundle to the server: %s",
                  f ? e.message : "cannot open it");
    fclose(f);
    const char *village[] = {fuzz_village}, *group[] = {fuzz_group};
    if (mq_device_add(s, "tab-1", village, 1, NULL, token1, sizeof token1, &e) != 0 ||
        mq_device_add(s, "tab-2", group, 1, NULL, token2, sizeof token2, &e) != 0)
        fuzz_fail("cannot enrol the devices: %s", e.message);
    mq_store_close(s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct stat st;
    const char *tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm"
                      : getenv("TMPDIR") != NULL                        ? getenv("TMPDIR")
                                                                        : "/tmp";
    remove_stale(tmp);
    snprintf(dir, sizeof dir, "%s/mq-fuzz-%ld-XXXXXX", tmp, (long)getpid());
    if (mkdtemp(dir) == NULL)
        fuzz_fail("mkdtemp %s: %s", dir, strerror(errno));
    snprintf(db, sizeof db, "%s/server.db", dir);
    atexit(stop);
    setup_store();

    port = free_port();
    snprintf(listen_at, sizeof listen_at, "127.0.0.1:%u", (unsigned)port);
    if (pthread_create(&server_thread, NULL, serve, NULL) != 0)
        fuzz_fail("cannot start the server's thread");
    started = 1;
    for (int i = 0; i < 500; i++) {
        int fd = connect_server();
        if (fd >= 0) {
            close(fd);
            still_serves();
            return 0;
        }
        mq_platform_sleep_ms(10);
    }
    fuzz_fail("the server does not listen on %s", listen_at);
}

/* Whether the first request of the `n` bytes at `p` is a HEAD (the server
 * skips blank lines before a request line). */
static int first_is_head(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && (p[i] == '\r' || p[i] == '\n'))
        i++;
    return n - i >= 5 && memcmp(p + i, "HEAD ", 5) == 0;
}

/* Whether the `n` bytes at `p` hold "HEAD". */
static int asks_head(const char *p, size_t n)
{
    for (size_t i = 0; i + 4 <= n; i++)
        if (memcmp(p + i, "HEAD", 4) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mq__buf req = rewrite(data, size);
    mq__buf_puts(&req, CLOSING);
    if (mq__buf_check(&req, "a request", NULL) != 0)
        fuzz_fail("out of memory");
    int reset, waiting;
    mq__buf a = exchange(req.data, req.len, QUIET_MS, &reset, &waiting);
    int heads = asks_head(req.data, req.len);
    waits += waiting;
    if (a.len > 0)
        check_answers(&a, first_is_head(req.data, req.len), heads, reset || waiting);
    mq__buf_free(&a);
    mq__buf_free(&req);
    still_serves();
    return 0;
}
