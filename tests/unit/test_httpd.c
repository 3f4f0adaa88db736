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
#include <unistd.h>

#include <civetweb.h>

#include "core/buf.h"
#include "core/httpd.h"

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
        cmocka_unit_test(test_httpd_reason_phrases),
    };
    return cmocka_run_group_tests_name("httpd", tests, group_setup, group_teardown);
}
