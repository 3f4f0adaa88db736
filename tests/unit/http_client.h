/*
 * tests/unit/http_client.h - real HTTP requests (libcurl) for the unit tests
 * of the listeners, and the group set-up those tests share.
 *
 * The group set-up initializes libcurl and the library with the system
 * allocator (not cmocka's, whose bookkeeping is not thread-safe): civetweb's
 * workers and the sync thread allocate concurrently.
 */
#ifndef OPC_TEST_HTTP_CLIENT_H
#define OPC_TEST_HTTP_CLIENT_H

#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

/* One response: the status, and the body and headers cut to fit. */
typedef struct resp {
    long status;
    char body[8192];
    size_t body_len;
    char head[4096];
    size_t head_len;
} resp;

static size_t opc_test_append(char *dst, size_t cap, size_t *len, const char *p, size_t n)
{
    size_t k = n;
    if (k > cap - 1 - *len) {
        k = cap - 1 - *len;
    }
    memcpy(dst + *len, p, k);
    *len += k;
    dst[*len] = '\0';
    return n;
}

static size_t opc_test_on_body(char *p, size_t size, size_t n, void *ud)
{
    resp *r = ud;
    return opc_test_append(r->body, sizeof r->body, &r->body_len, p, size * n);
}

static size_t opc_test_on_header(char *p, size_t size, size_t n, void *ud)
{
    resp *r = ud;
    return opc_test_append(r->head, sizeof r->head, &r->head_len, p, size * n);
}

/*
 * method (NULL = GET, "HEAD", or any other verb) on url, with
 * "Authorization: Bearer token" unless token is NULL. A transfer that fails
 * fails the test.
 */
static OPC_TEST_UNUSED void opc_test_http_send(const char *method, const char *url,
                                               const char *token, const char *body, resp *r);

static OPC_TEST_UNUSED void opc_test_http(const char *method, const char *url, const char *token,
                                          resp *r)
{
    opc_test_http_send(method, url, token, NULL, r);
}

/* opc_test_http with a request body (JSON) when body is not NULL. */
static OPC_TEST_UNUSED void opc_test_http_send(const char *method, const char *url,
                                               const char *token, const char *body, resp *r)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    struct curl_slist *h = NULL;
    if (token != NULL) {
        char auth[1024];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(NULL, auth);
        assert_non_null(h);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, opc_test_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, opc_test_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body != NULL) {
        h = curl_slist_append(h, "Content-Type: application/json");
        assert_non_null(h);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    if (method != NULL && strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (method != NULL) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK) {
        fail_msg("%s %s: %s", method != NULL ? method : "GET", url, curl_easy_strerror(cc));
    }
}

/* A TCP connection to 127.0.0.1:port: its descriptor, or -1 when refused. */
static OPC_TEST_UNUSED int opc_test_connect_local(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (const struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static OPC_TEST_UNUSED int opc_test_http_group_setup(void **state)
{
    (void)state;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return -1;
    }
    return opc_global_init(OPC_GLOBAL_DEFAULT) == OPC_OK ? 0 : -1;
}

static OPC_TEST_UNUSED int opc_test_http_group_teardown(void **state)
{
    (void)state;
    opc_global_cleanup();
    curl_global_cleanup();
    return 0;
}

#endif
