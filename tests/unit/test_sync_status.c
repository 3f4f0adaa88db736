/*
 * tests/unit/test_sync_status.c - lib/sync/status.c: the sync's status
 * listener (opc_sync_listen) queried with real HTTP (libcurl) on
 * 127.0.0.1, before, during and after a sync, with the upstream gone and
 * back, with the sync on its own thread, and its argument and bind errors.
 *
 * The library is initialized with the system allocator (not cmocka's,
 * whose bookkeeping is not thread-safe): civetweb's workers allocate
 * concurrently. Leaks are checked by the ASan run of this program.
 */
#include "sync_fixture.h"

#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* method (NULL = GET, "HEAD", or any other verb) on http://127.0.0.1:port/path. */
static void http(const char *method, int port, const char *path, resp *r)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    opc_test_http(method, url, NULL, r);
}

/* True when a connection to 127.0.0.1:port is refused. */
static bool refused(int port)
{
    int fd = opc_test_connect_local(port);
    if (fd >= 0) {
        close(fd);
    }
    return fd < 0;
}

static bool has_header(const resp *r, const char *line)
{
    return strstr(r->head, line) != NULL;
}

/* The status of dependency `service` in a /health body (test-owned copy). */
static void dep_status(const resp *r, const char *service, char *status, char *message, size_t n)
{
    cJSON *j = fx_json(r->body);
    const cJSON *deps = cJSON_GetObjectItemCaseSensitive(j, "dependencies");
    assert_true(cJSON_IsArray(deps));
    status[0] = '\0';
    if (message != NULL) {
        message[0] = '\0';
    }
    const cJSON *d = NULL;
    cJSON_ArrayForEach(d, deps)
    {
        if (strcmp(fx_str(d, "service"), service) == 0) {
            snprintf(status, n, "%s", fx_str(d, "status"));
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(d, "message");
            if (message != NULL && cJSON_IsString(m)) {
                snprintf(message, n, "%s", m->valuestring);
            }
        }
    }
    cJSON_Delete(j);
    assert_true(status[0] != '\0');
}

static int listen_local(opc_sync *s)
{
    char err[OPC_ERRBUF_SIZE];
    opc_err rc = opc_sync_listen(s, "127.0.0.1", 0, err, sizeof err);
    if (rc != OPC_OK) {
        fail_msg("listen: %s (%s)", opc_errname(rc), err);
    }
    int port = opc_sync_port(s);
    assert_true(port > 0);
    return port;
}

static void test_sync_status_serves_heartbeat_and_health(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 2);
    opc_sync *s = sx_sync(&x, 500);
    assert_int_equal(opc_sync_port(s), -1);
    int port = listen_local(s);
    resp r;

    http(NULL, port, "/heartbeat", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, ".");
    assert_true(has_header(&r, "Content-Type: text/plain\r\n"));
    assert_true(has_header(&r, "1Password-Connect-Version: " OPC_CONNECT_VERSION "\r\n"));
    assert_true(has_header(&r, "Cache-Control: no-store\r\n"));

    /* Before any sync: not synced, upstream not tried yet. */
    http(NULL, port, "/health", &r);
    assert_int_equal(r.status, 200);
    assert_true(has_header(&r, "Content-Type: application/json\r\n"));
    assert_true(has_header(&r, "1Password-Connect-Version: " OPC_CONNECT_VERSION "\r\n"));
    cJSON *j = fx_json(r.body);
    assert_string_equal(fx_str(j, "name"), "1Password Connect Sync");
    assert_string_equal(fx_str(j, "version"), OPC_CONNECT_VERSION);
    const cJSON *deps = cJSON_GetObjectItemCaseSensitive(j, "dependencies");
    assert_int_equal(cJSON_GetArraySize(deps), 3);
    assert_string_equal(fx_str(cJSON_GetArrayItem(deps, 0), "service"), "sqlite");
    assert_string_equal(fx_str(cJSON_GetArrayItem(deps, 1), "service"), "account_data");
    assert_string_equal(fx_str(cJSON_GetArrayItem(deps, 2), "service"), "upstream");
    cJSON_Delete(j);
    char st[512];
    char msg[512];
    char want[512];
    dep_status(&r, "sqlite", st, msg, sizeof st);
    snprintf(want, sizeof want, "Connected to %s", x.cache_path);
    assert_string_equal(st, "ACTIVE");
    assert_string_equal(msg, want);
    dep_status(&r, "account_data", st, msg, sizeof st);
    assert_string_equal(st, "NOT_SYNCED");
    assert_non_null(strstr(msg, "not yet completed"));
    dep_status(&r, "upstream", st, NULL, sizeof st);
    assert_string_equal(st, "UNINITIALIZED");

    /* Synced. */
    sx_run(s);
    http(NULL, port, "/health/", &r); /* one trailing slash is ignored */
    assert_int_equal(r.status, 200);
    dep_status(&r, "account_data", st, msg, sizeof st);
    assert_string_equal(st, "ACTIVE");
    assert_string_equal(msg, "");
    dep_status(&r, "upstream", st, NULL, sizeof st);
    assert_string_equal(st, "ACTIVE");

    /* The upstream goes away: UNREACHABLE with the sync's error; back: ACTIVE. */
    char away[300];
    snprintf(away, sizeof away, "%s.away", x.f.path);
    assert_int_equal(rename(x.f.path, away), 0);
    char err[OPC_ERRBUF_SIZE];
    assert_int_not_equal(opc_sync_run_once(s, err, sizeof err), OPC_OK);
    http(NULL, port, "/health", &r);
    assert_int_equal(r.status, 200);
    dep_status(&r, "upstream", st, msg, sizeof st);
    assert_string_equal(st, "UNREACHABLE");
    assert_true(msg[0] != '\0');
    dep_status(&r, "account_data", st, NULL, sizeof st);
    assert_string_equal(st, "ACTIVE");
    assert_int_equal(rename(away, x.f.path), 0);
    assert_int_equal(opc_sync_run_once(s, err, sizeof err), OPC_OK);
    http(NULL, port, "/health", &r);
    dep_status(&r, "upstream", st, NULL, sizeof st);
    assert_string_equal(st, "ACTIVE");

    opc_sync_free(s);
    assert_true(refused(port));
    sx_teardown(&x);
}

/* An https:// upstream that is down: UNREACHABLE, the message names the
 * host and the cause, never the pin or a header. */
static void test_sync_status_https_upstream_down(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 0);
    static const char pin[] = "obviouslyfakepin-obviouslyfakepin_obviously";
    const char *vaults[] = {x.v1};
    char *json = NULL;
    opc_secret *file = NULL;
    FX_OK(x.f.a, opc_account_server_create2(x.f.a, "Net", vaults, 1, "http://127.0.0.1:1", pin,
                                            &json, &file));
    opc_free(json);
    opc_credentials *creds = NULL;
    char err[OPC_ERRBUF_SIZE];
    assert_int_equal(
        opc_credentials_parse(opc_secret_data(file), opc_secret_len(file), &creds, err, sizeof err),
        OPC_OK);
    opc_secret_free(file);
    opc_sync *s = NULL;
    if (opc_sync_create(creds, x.cache_path, &s, err, sizeof err) != OPC_OK) {
        fail_msg("sync create: %s", err);
    }
    int port = listen_local(s);
    assert_int_equal(opc_sync_run_once(s, err, sizeof err), OPC_ERR_IO);
    assert_non_null(strstr(err, "upstream 127.0.0.1:1: "));
    resp r;
    http(NULL, port, "/health", &r);
    assert_int_equal(r.status, 200);
    char st[512];
    char msg[512];
    dep_status(&r, "upstream", st, msg, sizeof st);
    assert_string_equal(st, "UNREACHABLE");
    assert_non_null(strstr(msg, "upstream 127.0.0.1:1: "));
    assert_null(strstr(r.body, pin));
    assert_null(strstr(r.body, "OPC-"));
    opc_sync_free(s);
    opc_credentials_free(creds);
    sx_teardown(&x);
}

static void test_sync_status_errors_and_methods(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 0);
    opc_sync *s = sx_sync(&x, 500);
    int port = listen_local(s);
    resp r;

    http(NULL, port, "/nope", &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "{\"status\":404,\"message\":\"Not found\"}");
    assert_true(has_header(&r, "Content-Type: application/json\r\n"));
    assert_true(has_header(&r, "1Password-Connect-Version: " OPC_CONNECT_VERSION "\r\n"));
    http(NULL, port, "/", &r);
    assert_int_equal(r.status, 404);
    http(NULL, port, "/v1/vaults", &r);
    assert_int_equal(r.status, 404);
    http(NULL, port, "/heartbeatx", &r);
    assert_int_equal(r.status, 404);
    http(NULL, port, "/health/x", &r);
    assert_int_equal(r.status, 404);
    http("POST", port, "/nope", &r);
    assert_int_equal(r.status, 404);

    http("POST", port, "/health", &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.body, "{\"status\":405,\"message\":\"Method not allowed\"}");
    assert_true(has_header(&r, "Allow: GET, HEAD\r\n"));
    assert_true(has_header(&r, "1Password-Connect-Version: " OPC_CONNECT_VERSION "\r\n"));
    http("DELETE", port, "/heartbeat", &r);
    assert_int_equal(r.status, 405);
    http("PUT", port, "/heartbeat/", &r);
    assert_int_equal(r.status, 405);

    http("HEAD", port, "/heartbeat", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    assert_true(has_header(&r, "Content-Length: 1\r\n"));
    http("HEAD", port, "/health", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);

    /* Arguments. */
    char err[OPC_ERRBUF_SIZE];
    assert_int_equal(opc_sync_listen(s, "127.0.0.1", 0, err, sizeof err), OPC_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "already"));
    assert_int_equal(opc_sync_port(s), port);
    assert_int_equal(opc_sync_port(NULL), -1);

    /* Stopped: refused; listening again works; stop is idempotent. */
    opc_sync_stop(s);
    assert_int_equal(opc_sync_port(s), -1);
    assert_true(refused(port));
    opc_sync_stop(s);
    assert_int_equal(opc_sync_listen(s, "127.0.0.1", 70000, err, sizeof err), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc_sync_listen(s, "127.0.0.1", -1, err, sizeof err), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc_sync_listen(s, "localhost", 0, err, sizeof err), OPC_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "numeric IP address"));
    assert_int_equal(opc_sync_listen(s, "::1::2", 0, err, sizeof err), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc_sync_listen(s, "256.1.1.1", 0, err, sizeof err), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc_sync_listen(s, "1.2.3", 0, NULL, 0), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc_sync_port(s), -1);
    port = listen_local(s);
    http(NULL, port, "/heartbeat", &r);
    assert_int_equal(r.status, 200);

    /* A port in use: OPC_ERR_IO naming it; the first listener keeps serving. */
    opc_sync *s2 = sx_sync(&x, 500);
    assert_int_equal(opc_sync_listen(s2, "127.0.0.1", port, err, sizeof err), OPC_ERR_IO);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d: address in use", port);
    assert_non_null(strstr(err, want));
    assert_int_equal(opc_sync_port(s2), -1);
    opc_sync_free(s2);
    http(NULL, port, "/heartbeat", &r);
    assert_int_equal(r.status, 200);

    opc_sync_free(s);
    sx_teardown(&x);
}

/* The sync on its own thread and the listener together; free stops both. */
static void test_sync_status_with_sync_thread(void **state)
{
    (void)state;
    sx x;
    sx_setup(&x, 3);
    opc_sync *s = sx_sync(&x, 1);
    opc__sync_set_wait_ms(s, 50);
    int port = listen_local(s);
    assert_int_equal(opc_sync_start(s), OPC_OK);
    resp r;
    char st[64];
    bool synced = false;
    for (int i = 0; i < 400 && !synced; i++) {
        http(NULL, port, "/health", &r);
        assert_int_equal(r.status, 200);
        dep_status(&r, "account_data", st, NULL, sizeof st);
        synced = strcmp(st, "ACTIVE") == 0;
        if (!synced) {
            nap_ms(25);
        }
    }
    assert_true(synced);
    http(NULL, port, "/heartbeat", &r);
    assert_int_equal(r.status, 200);
    /* More probes than the listener has threads: each closes its connection. */
    for (int i = 0; i < 20; i++) {
        http(NULL, port, i % 2 == 0 ? "/health" : "/heartbeat", &r);
        assert_int_equal(r.status, 200);
    }
    opc_sync_free(s);
    assert_true(refused(port));
    sx_teardown(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_status_serves_heartbeat_and_health),
        cmocka_unit_test(test_sync_status_https_upstream_down),
        cmocka_unit_test(test_sync_status_errors_and_methods),
        cmocka_unit_test(test_sync_status_with_sync_thread),
    };
    return cmocka_run_group_tests_name("sync_status", tests, opc_test_http_group_setup,
                                       opc_test_http_group_teardown);
}
