/*
 * tests/unit/test_httpd.c - lib/core/httpd.c: the response writer that
 * the API and the sync's status listener share, its bytes pinned as a
 * client reads them from a civetweb server on 127.0.0.1, and its reason
 * phrases.
 *
 * The library is initialized with the system allocator (not cmocka's,
 * whose bookkeeping is not thread-safe): the writer runs on civetweb's
 * worker thread.
 */
#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <civetweb.h>

#include "core/buf.h"
#include "core/httpd.h"
#include "core/time.h"

#define VERSION_LINE "1Password-Connect-Version: " OPC_CONNECT_VERSION "\r\n"

static const char fallback[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";

static atomic_int sent_status; /* what opc__httpd_send() returned last */

/* Each path sends "hello" in another way. */
static int handle(struct mg_connection *conn, void *cbdata)
{
    (void)cbdata;
    const char *uri = mg_get_request_info(conn)->local_uri;
    char long_header[OPC_HTTPD_HEADER_GAP + 16];
    memset(long_header, 'x', sizeof long_header);
    memcpy(long_header, "X-Long: ", 8);
    memcpy(long_header + sizeof long_header - 3, "\r\n", 3);
    opc__buf b;
    opc__buf_init(&b, true);
    opc__httpd_begin(&b);
    opc__buf_append_str(&b, "hello");
    int st;
    if (strcmp(uri, "/ok") == 0) {
        st = opc__httpd_send(conn, &b, 200, "text/plain", "X-A: 1\r\n", false, fallback);
    } else if (strcmp(uri, "/head") == 0) {
        st = opc__httpd_send(conn, &b, 404, "application/json", NULL, true, fallback);
    } else if (strcmp(uri, "/none") == 0) {
        st = opc__httpd_send(conn, &b, 204, "application/json", "X-B: 2\r\n", false, fallback);
    } else if (strcmp(uri, "/teapot") == 0) {
        st = opc__httpd_send(conn, &b, 418, "text/plain", NULL, false, fallback);
    } else if (strcmp(uri, "/long") == 0) {
        st = opc__httpd_send(conn, &b, 200, "text/plain", long_header, false, fallback);
    } else {
        opc__buf_reset(&b); /* no gap: a buffer that was never begun */
        st = opc__httpd_send(conn, &b, 200, "text/plain", NULL, false, fallback);
    }
    opc__buf_free(&b);
    atomic_store(&sent_status, st);
    return st;
}

/* GET path with a raw socket; out is everything the server sent. */
static void raw_get(int port, const char *path, char *out, size_t cap)
{
    int fd = opc_test_connect_local(port);
    assert_true(fd >= 0);
    char req[256];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    assert_int_equal(write(fd, req, (size_t)n), n);
    size_t len = 0;
    ssize_t got;
    while (len < cap - 1 && (got = read(fd, out + len, cap - 1 - len)) > 0) {
        len += (size_t)got;
    }
    out[len] = '\0';
    close(fd);
}

static void test_httpd_send_writes_one_response(void **state)
{
    (void)state;
    const char *options[] = {"listening_ports", "127.0.0.1:0", "num_threads", "1", NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    struct mg_context *ctx = mg_start(&cb, NULL, options);
    assert_non_null(ctx);
    mg_set_request_handler(ctx, "/", handle, NULL);
    struct mg_server_port sp[1];
    memset(sp, 0, sizeof sp);
    assert_int_equal(mg_get_server_ports(ctx, 1, sp), 1);
    int port = sp[0].port;
    char got[2048];

    raw_get(port, "/ok", got, sizeof got);
    assert_string_equal(got, "HTTP/1.1 200 OK\r\n"
                             "Content-Type: text/plain\r\n"
                             "Content-Length: 5\r\n" VERSION_LINE "Cache-Control: no-store\r\n"
                             "X-A: 1\r\n"
                             "\r\n"
                             "hello");
    assert_int_equal(atomic_load(&sent_status), 200);
    /* HEAD: the body's length, not the body. */
    raw_get(port, "/head", got, sizeof got);
    assert_string_equal(got, "HTTP/1.1 404 Not Found\r\n"
                             "Content-Type: application/json\r\n"
                             "Content-Length: 5\r\n" VERSION_LINE "Cache-Control: no-store\r\n"
                             "\r\n");
    /* 204: neither body nor Content-Type nor Content-Length. */
    raw_get(port, "/none", got, sizeof got);
    assert_string_equal(got,
                        "HTTP/1.1 204 No Content\r\n" VERSION_LINE "Cache-Control: no-store\r\n"
                        "X-B: 2\r\n"
                        "\r\n");
    assert_int_equal(atomic_load(&sent_status), 204);
    raw_get(port, "/teapot", got, sizeof got);
    assert_non_null(strstr(got, "HTTP/1.1 418 Internal Server Error\r\n"));
    /* Headers beyond the gap, and a buffer never begun: the fallback. */
    raw_get(port, "/long", got, sizeof got);
    assert_string_equal(got, fallback);
    assert_int_equal(atomic_load(&sent_status), 500);
    atomic_store(&sent_status, 0);
    raw_get(port, "/unbegun", got, sizeof got);
    assert_string_equal(got, fallback);
    assert_int_equal(atomic_load(&sent_status), 500);
    opc__httpd_stop(ctx, "127.0.0.1", port);
}

/* /body reads up to 64 bytes and answers them; /ignore answers without
 * reading. */
static int handle_body(struct mg_connection *conn, void *cbdata)
{
    (void)cbdata;
    const char *uri = mg_get_request_info(conn)->local_uri;
    opc__buf body;
    opc__buf_init(&body, true);
    opc__buf b;
    opc__buf_init(&b, true);
    opc__httpd_begin(&b);
    int status = 200;
    if (strcmp(uri, "/body") == 0) {
        opc_err rc = opc__httpd_read_body(conn, 64, &body);
        status = rc == OPC_OK              ? 200
                 : rc == OPC_ERR_TOO_LARGE ? 413
                 : rc == OPC_ERR_RANGE     ? 408
                                           : 400;
        opc__buf_append(&b, body.data != NULL ? body.data : "", body.len);
    } else {
        opc__buf_append_str(&b, "ignored");
    }
    int st = opc__httpd_send(conn, &b, status, "text/plain", NULL, false, fallback);
    opc__buf_free(&b);
    opc__buf_free(&body);
    return st;
}

static struct mg_context *start_body_server(const char *bind, int *port)
{
    opc__httpd_config cfg = {.name = "test",
                             .bind = bind,
                             .port = 0,
                             .tls_port = -1,
                             .threads = 4,
                             .keepalive_ms = 5000,
                             .head_timeout_ms = 2000,
                             .max_head = 4096,
                             .body_grace_ms = 300,
                             .handler = handle_body};
    struct mg_context *ctx = NULL;
    int tls_port = 0;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__httpd_start(&cfg, &ctx, port, &tls_port, &eb), OPC_OK);
    assert_true(*port > 0);
    assert_int_equal(tls_port, -1);
    return ctx;
}

/* Send req, then read until the server closes or wait_ms pass; whether it
 * closed goes to *closed, the time taken to *ms. */
static void exchange(int port, const char *req, char *out, size_t cap, int wait_ms, bool *closed,
                     int64_t *ms)
{
    int fd = opc_test_connect_local(port);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = wait_ms / 1000, .tv_usec = (wait_ms % 1000) * 1000};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    int64_t t0 = opc__monotonic_ms();
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    size_t len = 0;
    ssize_t got = 0;
    while (len < cap - 1 && (got = read(fd, out + len, cap - 1 - len)) > 0) {
        len += (size_t)got;
    }
    out[len] = '\0';
    *closed = got == 0;
    *ms = opc__monotonic_ms() - t0;
    close(fd);
}

static void test_httpd_body_against_the_clock(void **state)
{
    (void)state;
    int port = 0;
    struct mg_context *ctx = start_body_server("127.0.0.1", &port);
    char got[2048];
    bool closed = false;
    int64_t ms = 0;

    /* A body that comes: read and answered; the connection stays open. */
    exchange(port, "POST /body HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", got,
             sizeof got, 400, &closed, &ms);
    assert_non_null(strstr(got, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(got, "\r\n\r\nhello"));
    assert_null(strstr(got, "Connection: close"));
    assert_false(closed);

    /* Expect: 100-continue is answered before the body is read. */
    exchange(port,
             "POST /body HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
             got, sizeof got, 400, &closed, &ms);
    assert_non_null(strstr(got, "HTTP/1.1 200 OK\r\n"));
    assert_null(strstr(got, "100 Continue"));
    exchange(port,
             "POST /body HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
             got, sizeof got, 400, &closed, &ms);
    assert_true(strncmp(got, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);

    /* Declared over the limit: 413 at once, closed, nothing drained. */
    exchange(port, "POST /body HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\nxx", got,
             sizeof got, 3000, &closed, &ms);
    assert_non_null(strstr(got, "HTTP/1.1 413 "));
    assert_non_null(strstr(got, "Connection: close\r\n"));
    assert_true(closed);
    assert_true(ms < 1000);

    /* A body never read by the handler: the answer closes the connection. */
    exchange(port, "POST /ignore HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\nxx", got,
             sizeof got, 3000, &closed, &ms);
    assert_non_null(strstr(got, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(got, "Connection: close\r\n"));
    assert_true(closed);
    assert_true(ms < 1000);

    /* Too slow: 40 of 60 bytes, then silence: 408 after the grace
     * (300 ms here), closed. */
    exchange(port,
             "POST /body HTTP/1.1\r\nHost: h\r\nContent-Length: "
             "60\r\n\r\n0123456789012345678901234567890123456789",
             got, sizeof got, 3000, &closed, &ms);
    assert_non_null(strstr(got, "HTTP/1.1 408 "));
    assert_true(closed);
    assert_true(ms >= 250 && ms < 2500);

    /* Framing refused before the handler, as JSON, closed. */
    exchange(port,
             "POST /body HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
             got, sizeof got, 3000, &closed, &ms);
    assert_non_null(strstr(got, "HTTP/1.1 400 "));
    assert_non_null(strstr(got, "{\"status\":400,\"message\":\"more than one Content-Length\"}"));
    assert_non_null(strstr(got, "X-Request-ID: "));
    assert_true(closed);
    exchange(port,
             "POST /body HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nX-Request-ID: abc "
             "1\r\n\r\n0\r\n\r\n",
             got, sizeof got, 3000, &closed, &ms);
    assert_non_null(strstr(got, "HTTP/1.1 411 "));
    assert_non_null(strstr(got, "X-Request-ID: abc 1\r\n"));
    assert_true(closed);
    opc__httpd_stop(ctx, "127.0.0.1", port);
}

/* IPv6 on ::1 when the machine has it; a port in use says so. */
static void test_httpd_ipv6_and_port_in_use(void **state)
{
    (void)state;
    int port = 0;
    struct mg_context *ctx = start_body_server("127.0.0.1", &port);
    opc__httpd_config cfg = {.name = "test",
                             .bind = "127.0.0.1",
                             .port = port,
                             .tls_port = -1,
                             .threads = 1,
                             .keepalive_ms = 0,
                             .head_timeout_ms = 1000,
                             .max_head = 4096,
                             .handler = handle_body};
    struct mg_context *ctx2 = NULL;
    int p2 = 0;
    int t2 = 0;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__httpd_start(&cfg, &ctx2, &p2, &t2, &eb), OPC_ERR_IO);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d: address in use", port);
    assert_non_null(strstr(eb.msg, want));
    opc__httpd_stop(ctx, "127.0.0.1", port);

    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool have_v6 = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0) {
        close(fd);
    }
    if (!have_v6) {
        return; /* no IPv6 loopback here: nothing more to test */
    }
    ctx = start_body_server("::1", &port);
    fd = socket(AF_INET6, SOCK_STREAM, 0);
    sa.sin6_port = htons((uint16_t)port);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    const char req[] =
        "POST /body HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 2\r\n\r\nv6";
    assert_int_equal(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
    char got[1024];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof got - 1 && (n = read(fd, got + len, sizeof got - 1 - len)) > 0) {
        len += (size_t)n;
    }
    got[len] = '\0';
    close(fd);
    assert_non_null(strstr(got, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(got, "\r\n\r\nv6"));
    opc__httpd_stop(ctx, "::1", port); /* the stop's poke reaches ::1 */
}

static void test_httpd_reason_phrases(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *reason;
    } want[] = {{200, "OK"},
                {204, "No Content"},
                {400, "Bad Request"},
                {401, "Unauthorized"},
                {403, "Forbidden"},
                {404, "Not Found"},
                {405, "Method Not Allowed"},
                {408, "Request Timeout"},
                {409, "Conflict"},
                {413, "Payload Too Large"},
                {503, "Service Unavailable"},
                {500, "Internal Server Error"},
                {299, "Internal Server Error"}};
    for (size_t i = 0; i < OPC_ARRAY_LEN(want); i++) {
        assert_string_equal(opc__httpd_reason(want[i].status), want[i].reason);
    }
}

static int group_setup(void **state)
{
    (void)state;
    mg_init_library(0);
    return opc_global_init(OPC_GLOBAL_DEFAULT) == OPC_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    opc_global_cleanup();
    mg_exit_library();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_httpd_send_writes_one_response),
        cmocka_unit_test(test_httpd_body_against_the_clock),
        cmocka_unit_test(test_httpd_ipv6_and_port_in_use),
        cmocka_unit_test(test_httpd_reason_phrases),
    };
    return cmocka_run_group_tests_name("httpd", tests, group_setup, group_teardown);
}
