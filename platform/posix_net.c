/*
 * platform/posix_net.c - the server's listening socket: "ADDR:PORT" parsed
 * strictly, resolved, bound and listening, handed over as a descriptor
 * (libmicrohttpd takes it through MHD_OPTION_LISTEN_SOCKET).
 *
 * The parse is strict because a lenient one listens somewhere else than
 * asked: strtoul() would read "99999" and the kernel truncate it to a
 * 16-bit port, "80x" would be port 80.  PORT is digits only, 0 to 65535.
 *
 * A server holds one descriptor per connection, so it may raise its own
 * limit of open files up to what the system allows it, and it may end a
 * connection from a thread that does not own it by shutting its socket
 * down (the owner then reads end-of-file and closes it).
 */
#include "platform.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static const char form[] = "give ADDR:PORT, e.g. 0.0.0.0:8080 or [::1]:8080";

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 4, 5)))
#endif
/* Writes the sentence to `why` if there is one; returns -1 with errno `e`. */
static int
refuse(char *why, size_t why_size, int e, const char *fmt, ...)
{
    if (why != NULL && why_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
    }
    errno = e;
    return -1;
}

int mq_platform_parse_listen(const char *addr_port, char host[MQ_PLATFORM_HOST_MAX],
                             unsigned *port, char *why, size_t why_size)
{
    const char *colon = strrchr(addr_port, ':');
    const char *h = addr_port;
    size_t hl;

    host[0] = '\0';
    *port = 0;
    if (colon == NULL || colon == addr_port || colon[1] == '\0')
        return refuse(why, why_size, EINVAL, "%s", form);
    hl = (size_t)(colon - addr_port);
    if (h[0] == '[') {
        /* "[v6]:PORT": the brackets must close just before the colon. */
        if (hl < 3 || h[hl - 1] != ']')
            return refuse(why, why_size, EINVAL, "%s", form);
        h++;
        hl -= 2;
        if (memchr(h, ']', hl) != NULL || memchr(h, '[', hl) != NULL)
            return refuse(why, why_size, EINVAL, "%s", form);
    } else if (memchr(h, ':', hl) != NULL || memchr(h, ']', hl) != NULL) {
        return refuse(why, why_size, EINVAL, "%s",
                      "an IPv6 address goes in brackets, e.g. [::1]:8080");
    }
    if (hl >= MQ_PLATFORM_HOST_MAX)
        return refuse(why, why_size, EINVAL, "%s", "the address is too long");
    unsigned long v = 0;
    for (const char *p = colon + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || (v = v * 10 + (unsigned long)(*p - '0')) > 65535)
            return refuse(why, why_size, EINVAL,
                          "the port is a number from 0 to 65535, not '%s'", colon + 1);
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (unsigned)v;
    return 0;
}

/* errno for a getaddrinfo() failure: a name that resolves to nothing is the
 * caller's mistake (EINVAL); the rest are the system's. */
static int gai_errno(int g)
{
    switch (g) {
    case EAI_SYSTEM:
        return errno;
    case EAI_MEMORY:
        return ENOMEM;
    case EAI_AGAIN:
        return EAGAIN;
    default:
        return EINVAL;
    }
}

/* A socket of `ai`'s family bound to its address and listening, or -1. */
static int bind_one(const struct addrinfo *ai)
{
    int one = 1;
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);

    if (fd < 0)
        return -1;
    /* Without SO_REUSEADDR a restart waits out the old connections'
     * TIME_WAIT before it can bind the port again. */
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (ai->ai_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* The port `fd` is bound to, or 0 if the system will not say. */
static unsigned bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

int mq_platform_listen(mq_platform_listener *out, const char *addr_port, char *why,
                       size_t why_size)
{
    struct addrinfo hints, *ai = NULL;
    char service[8];
    unsigned port;

    out->fd = -1;
    out->port = 0;
    out->ipv6 = 0;
    if (mq_platform_parse_listen(addr_port, out->host, &port, why, why_size) != 0)
        return -1;
    snprintf(service, sizeof service, "%u", port);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int g = getaddrinfo(out->host, service, &hints, &ai);
    if (g != 0) {
        return refuse(why, why_size, gai_errno(g), "cannot resolve '%s': %s", out->host,
                      gai_strerror(g));
    }
    int e = EADDRNOTAVAIL;
    for (const struct addrinfo *p = ai; p != NULL; p = p->ai_next) {
        int fd = bind_one(p);
        if (fd >= 0) {
            out->fd = fd;
            out->ipv6 = p->ai_family == AF_INET6;
            break;
        }
        e = errno;
    }
    freeaddrinfo(ai);
    if (out->fd < 0)
        return refuse(why, why_size, e, "cannot listen there: %s", strerror(e));
    out->port = bound_port(out->fd);
    return 0;
}

void mq_platform_close_socket(int fd)
{
    if (fd >= 0)
        close(fd);
}

int mq_platform_shutdown_socket(int fd)
{
    if (fd < 0)
        return 0;
    return shutdown(fd, SHUT_RDWR);
}

unsigned mq_platform_raise_open_files(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rlim_t to =
            rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        struct rlimit up = {to, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl.rlim_cur = to;
    }
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > want ? want
                                                              : (unsigned)rl.rlim_cur;
}

int mq_platform_addr_text(const void *sa, char *out, size_t size)
{
    const struct sockaddr *a = sa;
    socklen_t len;
    if (size > 0)
        out[0] = '\0';
    if (a == NULL || size == 0)
        return -1;
    if (a->sa_family == AF_INET)
        len = sizeof(struct sockaddr_in);
    else if (a->sa_family == AF_INET6)
        len = sizeof(struct sockaddr_in6);
    else
        return -1;
    if (getnameinfo(a, len, out, (socklen_t)size, NULL, 0, NI_NUMERICHOST) != 0) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

int mq_platform_addr_canon(const char *text, char *out, size_t size)
{
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    if (size > 0)
        out[0] = '\0';
    if (text == NULL || size == 0)
        return -1;
    memset(&v4, 0, sizeof v4);
    memset(&v6, 0, sizeof v6);
    if (inet_pton(AF_INET, text, &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        return mq_platform_addr_text(&v4, out, size);
    }
    if (inet_pton(AF_INET6, text, &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        return mq_platform_addr_text(&v6, out, size);
    }
    return -1;
}
