/*
 * client.c - blocking request/response over the wire protocol (client.h).
 */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "text.h"
#include "wire.h"

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
fail(struct client *c, int code, const char *what)
{
    if (code == -ECANCELED) /* the user knows which request it was */
        snprintf(c->err, sizeof(c->err), "cancelled");
    else
        snprintf(c->err, sizeof(c->err), "%s %s: %s", what, c->addr,
                 dyn_strerror(code));
    return code;
}

/*
 * Wait until fd is ready for `events` (*revents: which, when not NULL),
 * the deadline passes (-ETIMEDOUT) or c->cancel_fd is readable
 * (-ECANCELED).
 */
static int
wait_fd(const struct client *c, int fd, short events, int64_t deadline,
        short *revents)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p[2] = {{.fd = fd, .events = events},
                              {.fd = c->cancel_fd, .events = POLLIN}};
        int n = poll(p, c->cancel_fd >= 0 ? 2 : 1, (int)left);
        if (n > 0 && p[1].revents != 0 && c->cancel_fd >= 0)
            return -ECANCELED;
        if (n > 0) {
            if (revents != NULL)
                *revents = p[0].revents;
            return 0;
        }
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

static int
connect_addr(struct client *c, const struct addrinfo *ai, int64_t deadline)
{
    int fd =
        socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        rc = errno == EINPROGRESS ? wait_fd(c, fd, POLLOUT, deadline, NULL)
                                  : -errno;
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
            rc = -errno;
        if (rc == 0 && soerr != 0)
            rc = -soerr;
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    return 0;
}

int
client_connect(struct client *c, const char *hostport, int timeout_ms)
{
    return client_connect_cancel(c, hostport, timeout_ms, -1);
}

int
client_connect_cancel(struct client *c, const char *hostport, int timeout_ms,
                      int cancel_fd)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->cancel_fd = cancel_fd;
    c->timeout_ms = timeout_ms;
    c->next_id = 1;
    dyn_text_escape(c->addr, sizeof(c->addr), (const uint8_t *)hostport,
                    strlen(hostport));
    char host[256];
    uint16_t port;
    if (dyn_config_parse_hostport(hostport, host, sizeof(host), &port) < 0) {
        snprintf(c->err, sizeof(c->err), "'%s' is not HOST:PORT", c->addr);
        return -DYN_EBADARG;
    }
    char service[8];
    snprintf(service, sizeof(service), "%u", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0) {
        snprintf(c->err, sizeof(c->err), "%s: %s", c->addr, gai_strerror(gai));
        return -EHOSTUNREACH;
    }
    int64_t deadline = now_ms() + timeout_ms;
    int rc = -ECONNREFUSED;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        rc = connect_addr(c, ai, deadline);
        if (rc == 0 || rc == -ECANCELED)
            break;
    }
    freeaddrinfo(res);
    return rc < 0 ? fail(c, rc, "connect") : 0;
}

void
client_close(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/*
 * Send all of buf, unless the node answers first: a node that refuses a
 * frame (too large, say) replies and closes without reading the rest, so
 * the reply must be read, not lost to a reset.  Returns 0, 1 when the
 * node replied before everything was sent, or a negative code.
 */
static int
send_all(struct client *c, const uint8_t *buf, size_t len, int64_t deadline)
{
    while (len > 0) {
        short revents;
        int rc = wait_fd(c, c->fd, POLLIN | POLLOUT, deadline, &revents);
        if (rc < 0)
            return rc;
        if (revents & POLLIN)
            return 1;
        ssize_t sent = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (sent > 0) {
            buf += sent;
            len -= (size_t)sent;
        } else if (sent < 0 && errno != EAGAIN && errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

static int
recv_some(struct client *c, uint8_t *buf, size_t len, int64_t deadline)
{
    for (;;) {
        ssize_t n = recv(c->fd, buf, len, 0);
        if (n > 0)
            return (int)n;
        if (n == 0)
            return -ECONNRESET;
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
        int rc = wait_fd(c, c->fd, POLLIN, deadline, NULL);
        if (rc < 0)
            return rc;
    }
}

/* Read exactly len bytes. */
static int
recv_all(struct client *c, uint8_t *buf, size_t len, int64_t deadline)
{
    while (len > 0) {
        int n = recv_some(c, buf, len, deadline);
        if (n < 0)
            return n;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/*
 * A reply whose header no node sends (a length of 0 or over the largest
 * frame): the server speaks another protocol, HTTP or redis, say.  Says so
 * in c->err with the first line of what it sent (of the header and what
 * has arrived after it, without waiting), escaped, "..." when cut.
 * Returns -DYN_EFOREIGN.
 */
static int
not_our_protocol(struct client *c, const uint8_t *hdr)
{
    uint8_t first[CLIENT_FOREIGN_BYTES];
    memcpy(first, hdr, DYN_WIRE_HEADER_BYTES);
    ssize_t more = recv(c->fd, first + DYN_WIRE_HEADER_BYTES,
                        sizeof(first) - DYN_WIRE_HEADER_BYTES, MSG_DONTWAIT);
    size_t len = DYN_WIRE_HEADER_BYTES + (more > 0 ? (size_t)more : 0);
    size_t line = 0;
    while (line < len && first[line] != '\r' && first[line] != '\n')
        line++;
    char text[CLIENT_FOREIGN_BYTES * 4 + 1]; /* every byte as \xHH */
    dyn_text_escape(text, sizeof(text), first, line);
    snprintf(c->err, sizeof(c->err),
             "%s does not speak the dynamo protocol (got \"%s%s\")", c->addr,
             text, line == sizeof(first) ? "..." : "");
    return -DYN_EFOREIGN;
}

/* Read one frame and decode it. */
static int
recv_frame(struct client *c, int64_t deadline, ProtobufCMessage **msg)
{
    uint8_t hdr[DYN_WIRE_HEADER_BYTES];
    int rc = recv_all(c, hdr, sizeof(hdr), deadline);
    if (rc < 0)
        return rc;
    uint8_t code;
    uint32_t body_len;
    /* Peek the header alone: the length check happens before the body
     * is read or any memory is sized by it. */
    int64_t n = dyn_wire_frame_peek(hdr, sizeof(hdr), CLIENT_MAX_FRAME_BYTES,
                                    &code, &body_len);
    if (n < 0)
        return not_our_protocol(c, hdr);
    body_len = ((uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
                (uint32_t)hdr[2] << 8 | hdr[3]) -
               1;
    code = hdr[DYN_WIRE_LEN_BYTES];
    uint8_t *body = malloc(body_len ? body_len : 1);
    if (body == NULL)
        return -ENOMEM;
    rc = recv_all(c, body, body_len, deadline);
    if (rc == 0)
        rc = dyn_wire_decode(code, body, body_len, msg);
    free(body);
    return rc;
}

static void
set_id(ProtobufCMessage *msg, uint64_t id)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(msg->descriptor, 1);
    if (f != NULL && f->type == PROTOBUF_C_TYPE_UINT64 &&
        strcmp(f->name, "id") == 0)
        memcpy((char *)msg + f->offset, &id, sizeof(id));
}

static int
send_request(struct client *c, ProtobufCMessage *req, int64_t deadline)
{
    size_t size = dyn_wire_frame_size(req);
    uint8_t *buf = malloc(size);
    if (buf == NULL)
        return -ENOMEM;
    int64_t n = dyn_wire_frame_pack(req, buf);
    int rc = n < 0 ? (int)n : send_all(c, buf, (size_t)n, deadline);
    free(buf);
    return rc > 0 ? 0 : rc; /* an early reply is read like any other */
}

/* An Error reply: its code, its text into c->err. */
static int
take_error(struct client *c, ProtobufCMessage *msg)
{
    Dynpb__Error *e = (Dynpb__Error *)msg;
    int code = e->code < 0 ? e->code : -DYN_EINTERNAL;
    snprintf(c->err, sizeof(c->err), "%s",
             e->message && *e->message ? e->message : dyn_strerror(code));
    dyn_wire_msg_free(msg);
    return code;
}

int
client_call(struct client *c, ProtobufCMessage *req,
            const ProtobufCMessageDescriptor *want, ProtobufCMessage **resp)
{
    int64_t deadline = now_ms() + c->timeout_ms;
    uint64_t id = c->next_id++;
    set_id(req, id);
    int rc = send_request(c, req, deadline);
    while (rc == 0) {
        ProtobufCMessage *msg;
        rc = recv_frame(c, deadline, &msg);
        if (rc < 0)
            break;
        uint64_t got = dyn_wire_msg_id(msg);
        if (msg->descriptor == &dynpb__error__descriptor &&
            (got == id || got == 0))
            return take_error(c, msg);
        if (got != id) { /* a late reply to an earlier request */
            dyn_wire_msg_free(msg);
            continue;
        }
        if (msg->descriptor != want) {
            dyn_wire_msg_free(msg);
            return fail(c, -DYN_EPROTO, "reply from");
        }
        *resp = msg;
        return 0;
    }
    if (rc == -ETIMEDOUT) {
        snprintf(c->err, sizeof(c->err), "%s: no reply within %d ms", c->addr,
                 c->timeout_ms);
        return rc;
    }
    if (rc == -DYN_EFOREIGN) /* c->err says what came */
        return rc;
    return fail(c, rc, "request to");
}
