/*
 * tests/unit/test_upstream_https.c - the https:// upstream (lib/upstream/
 * https.c, transport.c) against a small account server built here on
 * core/httpd and wire/proto.h: backend selection and its refusals (no
 * pin, http:// on a non-loopback host, a missing CA file), the session
 * handshake and the pin, signed requests, the answer MAC refused, a new
 * session after a 401, the retries of reads with their backoff, a write
 * whose answer was lost read back, an interrupted long poll, and one
 * exchange over TLS with a private CA (OP_UPSTREAM_CA_FILE's bundle); the
 * failover between several account servers (a dead port, 503s, a lost
 * write read back through the next server, a write refused by 503 never
 * sent again).
 *
 * The library uses the system allocator here (civetweb's worker threads
 * run the server's side).
 */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <civetweb.h>

#include "core/buf.h"
#include "core/httpd.h"
#include "core/json.h"
#include "core/alloc.h"
#include "core/time.h"
#include "credentials/credentials.h"
#include "crypto/key.h"
#include "upstream/upstream.h"
#include "wire/proto.h"
#include "wire/rows.h"

#define SERVER_ID "srvrsrvrsrvrsrvrsrvrsrvr22"
#define ACCOUNT_ID "acctacctacctacctacctacct22"
#define VAULT_ID "vaultvaultvaultvaultvault2"
#define ITEM_ID "itemitemitemitemitemitem22"
#define OVERVIEW                                                                                   \
    "{\"kid\":\"k\",\"enc\":\"A256GCM\",\"cty\":\"b5+jwk+json\",\"iv\":\"a\",\"data\":\"o\"}"
#define DETAILS                                                                                    \
    "{\"kid\":\"k\",\"enc\":\"A256GCM\",\"cty\":\"b5+jwk+json\",\"iv\":\"a\",\"data\":\"d\"}"

static const char fallback[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";

/* What the test server does with the next requests. */
enum mode {
    NORMAL,
    BAD_MAC,        /* answers carry a wrong MAC */
    FAIL_503,       /* verified 503 answers (fail_left of them) */
    GATEWAY_502,    /* 502 without MAC or protocol (fail_left of them) */
    NO_PROTOCOL,    /* answers without OPC-Protocol */
    FORGET_ONCE,    /* the next request's session is unknown (401), once */
    PUT_LOST,       /* PUT applies, then the answer is a gateway 502 */
    PUT_LOST_OTHER, /* PUT "applies" another write, then a gateway 502 */
    HANDSHAKE_502   /* the handshake meets a gateway's 502 (fail_left times) */
};

static struct {
    opc__key *server_key; /* signs welcomes */
    opc__key *device;     /* the Connect server's device key (private) */
    opc__key *device_pub;
    char pin[OPC_PROTO_HASH_B64 + 1];
    pthread_mutex_t lock;
    /* The session the server knows. */
    bool live;
    char sid[OPC_PROTO_NONCE_B64 + 1];
    opc__proto_keys keys;
    uint64_t last_counter;
    /* Behaviour and counts. */
    atomic_int mode;
    atomic_int fail_left;
    atomic_int handshakes;
    atomic_int requests;
    atomic_int mac_refused; /* requests whose MAC did not verify */
    atomic_int stop;
    int64_t item_version; /* the stored item's version (0: none) */
    char item_overview[512];
} S;

static void server_keys(void)
{
    assert_int_equal(opc__key_generate_ec("srv", OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, &S.server_key),
                     OPC_OK);
    opc__key *pub = NULL;
    assert_int_equal(opc__key_public(S.server_key, &pub), OPC_OK);
    assert_int_equal(opc__proto_pin(pub, S.pin), OPC_OK);
    opc__key_free(pub);
    assert_int_equal(opc__key_generate_ec("dev", OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, &S.device),
                     OPC_OK);
    assert_int_equal(opc__key_public(S.device, &S.device_pub), OPC_OK);
}

static void reset_server(void)
{
    pthread_mutex_lock(&S.lock);
    S.live = false;
    S.last_counter = 0;
    S.item_version = 0;
    pthread_mutex_unlock(&S.lock);
    atomic_store(&S.mode, NORMAL);
    atomic_store(&S.fail_left, 0);
    atomic_store(&S.handshakes, 0);
    atomic_store(&S.requests, 0);
    atomic_store(&S.mac_refused, 0);
    atomic_store(&S.stop, 0);
}

/* ---- the server's side ---- */

static int send_json(struct mg_connection *conn, int status, const char *extra, const char *body)
{
    return opc__httpd_send_body(conn, status, "application/json", extra, body, strlen(body), false,
                                fallback);
}

/* An answer signed for (sid, n), or with a wrong MAC in BAD_MAC mode. */
static int send_signed(struct mg_connection *conn, uint64_t n, int status, const char *body)
{
    char mac[OPC_PROTO_HASH_B64 + 1];
    pthread_mutex_lock(&S.lock);
    opc_err rc = opc__proto_mac_answer(&S.keys, S.sid, n, status, body, strlen(body), mac);
    pthread_mutex_unlock(&S.lock);
    assert_int_equal(rc, OPC_OK);
    if (atomic_load(&S.mode) == BAD_MAC) {
        mac[0] = mac[0] == 'A' ? 'B' : 'A';
    }
    char extra[256];
    if (atomic_load(&S.mode) == NO_PROTOCOL) {
        (void)snprintf(extra, sizeof extra, "%s: %s\r\n", OPC_PROTO_MAC_HEADER, mac);
    } else {
        (void)snprintf(extra, sizeof extra, "%s: 1\r\n%s: %s\r\n", OPC_PROTO_HEADER,
                       OPC_PROTO_MAC_HEADER, mac);
    }
    return send_json(conn, status, extra, body);
}

static int handshake(struct mg_connection *conn)
{
    opc__buf body;
    opc__buf_init(&body, false);
    assert_int_equal(opc__httpd_read_body(conn, 4096, &body), OPC_OK);
    cJSON *j = NULL;
    assert_int_equal(opc__json_parse(body.data, body.len, NULL, &j, NULL), OPC_OK);
    opc__buf_free(&body);
    opc__proto_hello h;
    assert_int_equal(opc__proto_hello_decode(j, &h, NULL), OPC_OK);
    cJSON_Delete(j);
    assert_string_equal(h.server, SERVER_ID);
    assert_string_equal(h.account, ACCOUNT_ID);
    if (opc__proto_hello_verify(&h, S.device_pub, opc__now_us() / 1000, NULL) != OPC_OK) {
        return send_json(conn, 401, "OPC-Protocol: 1\r\n",
                         "{\"error\":{\"code\":\"unauthorized\",\"message\":\"authentication "
                         "failed\"}}");
    }
    opc__proto_welcome w;
    opc__proto_keys keys;
    assert_int_equal(opc__proto_welcome_make(&h, S.server_key, opc__now_s() + 600, &w, &keys, NULL),
                     OPC_OK);
    assert_int_equal(opc__proto_welcome_encode(&w, &j), OPC_OK);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    pthread_mutex_lock(&S.lock);
    S.live = true;
    memcpy(S.sid, w.session, sizeof S.sid);
    S.keys = keys;
    S.last_counter = 0;
    pthread_mutex_unlock(&S.lock);
    opc__proto_welcome_clear(&w);
    atomic_fetch_add(&S.handshakes, 1);
    int st = send_json(conn, 200, "OPC-Protocol: 1\r\n", text);
    cJSON_free(text);
    return st;
}

static char *item_row(int64_t version, const char *state, const char *overview)
{
    opc__wire_item r = {.id = ITEM_ID,
                        .vault = VAULT_ID,
                        .version = version,
                        .state = (char *)(uintptr_t)state,
                        .key_sn = 1,
                        .overview = (char *)(uintptr_t)overview,
                        .details = overview == NULL ? NULL : (char *)(uintptr_t)DETAILS,
                        .created = 1,
                        .updated = 2,
                        .last_edited_by = "",
                        .seq = 5};
    cJSON *j = NULL;
    assert_int_equal(opc__wire_item_encode(&r, &j, NULL), OPC_OK);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

static const char vault_json[] =
    "{\"id\":\"" VAULT_ID "\",\"type\":\"USER_CREATED\",\"key_sn\":1,\"attrs\":\"{}\","
    "\"attr_version\":1,\"content_version\":2,\"items\":1,\"created\":1,\"updated\":2,\"seq\":3}";

/* Hold a long poll until stop or 3 s. */
static void hold(void)
{
    for (int i = 0; i < 300 && atomic_load(&S.stop) == 0; i++) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 10000000L};
        nanosleep(&ts, NULL);
    }
}

static int handle(struct mg_connection *conn, void *data)
{
    (void)data;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    char target[512];
    (void)snprintf(target, sizeof target, "%s%s%s", ri->local_uri,
                   ri->query_string != NULL ? "?" : "",
                   ri->query_string != NULL ? ri->query_string : "");
    if (strcmp(ri->request_method, "POST") == 0 && strcmp(target, "/v1/connect/session") == 0) {
        if (atomic_load(&S.mode) == HANDSHAKE_502 && atomic_fetch_sub(&S.fail_left, 1) > 0) {
            return send_json(conn, 502, NULL, "{\"status\":502,\"message\":\"bad gateway\"}");
        }
        return handshake(conn);
    }
    atomic_fetch_add(&S.requests, 1);
    int mode = atomic_load(&S.mode);
    if (mode == GATEWAY_502 && atomic_fetch_sub(&S.fail_left, 1) > 0) {
        return send_json(conn, 502, NULL, "{\"status\":502,\"message\":\"bad gateway\"}");
    }
    opc__buf body;
    opc__buf_init(&body, false);
    if (strcmp(ri->request_method, "PUT") == 0) {
        assert_int_equal(opc__httpd_read_body(conn, OPC_PROTO_MAX_REQUEST, &body), OPC_OK);
    }
    /* The session, the counter and the MAC, as the account server checks them. */
    const char *auth = mg_get_header(conn, "Authorization");
    const char *counter = mg_get_header(conn, OPC_PROTO_COUNTER_HEADER);
    const char *mac = mg_get_header(conn, OPC_PROTO_MAC_HEADER);
    char want_auth[64];
    pthread_mutex_lock(&S.lock);
    (void)snprintf(want_auth, sizeof want_auth, "%s %s", OPC_PROTO_AUTH_SCHEME, S.sid);
    bool known = S.live && auth != NULL && strcmp(auth, want_auth) == 0;
    if (mode == FORGET_ONCE) {
        known = false;
        S.live = false;
        atomic_store(&S.mode, NORMAL);
    }
    uint64_t n = counter != NULL ? strtoull(counter, NULL, 10) : 0;
    char want[OPC_PROTO_HASH_B64 + 1] = "";
    if (known) {
        assert_int_equal(opc__proto_mac_request(&S.keys, S.sid, n, ri->request_method, target,
                                                body.data, body.len, want),
                         OPC_OK);
    }
    bool ok = known && n > S.last_counter && opc__proto_mac_equal(mac, want);
    if (ok) {
        S.last_counter = n;
    }
    pthread_mutex_unlock(&S.lock);
    if (!ok) {
        if (known) {
            atomic_fetch_add(&S.mac_refused, 1);
        }
        opc__buf_free(&body);
        return send_json(conn, 401, "OPC-Protocol: 1\r\n",
                         "{\"error\":{\"code\":\"unauthorized\",\"message\":\"authentication "
                         "failed\"}}");
    }
    int st;
    if (mode == FAIL_503 && atomic_fetch_sub(&S.fail_left, 1) > 0) {
        st = send_signed(conn, n, 503,
                         "{\"error\":{\"code\":\"unavailable\",\"message\":\"store busy\"}}");
    } else if (strncmp(target, "/v1/connect/changes?", 20) == 0) {
        hold();
        st = send_signed(conn, n, 200, "{\"changes\":[],\"next\":7}");
    } else if (strcmp(target, "/v1/connect/vaults/" VAULT_ID) == 0) {
        st = send_signed(conn, n, 200, vault_json);
    } else if (strcmp(target, "/v1/connect/items/" ITEM_ID) == 0) {
        pthread_mutex_lock(&S.lock);
        int64_t v = S.item_version;
        char ov[512];
        memcpy(ov, S.item_overview, sizeof ov);
        pthread_mutex_unlock(&S.lock);
        if (v == 0) {
            st = send_signed(conn, n, 404,
                             "{\"error\":{\"code\":\"not_found\",\"message\":\"no item " ITEM_ID
                             "\"}}");
        } else {
            char *row = item_row(v, "active", ov);
            st = send_signed(conn, n, 200, row);
            cJSON_free(row);
        }
    } else if (strcmp(ri->request_method, "PUT") == 0) {
        cJSON *j = NULL;
        assert_int_equal(opc__json_parse(body.data, body.len, NULL, &j, NULL), OPC_OK);
        opc__item_write w;
        assert_int_equal(opc__wire_item_write_decode(j, &w, NULL), OPC_OK);
        pthread_mutex_lock(&S.lock);
        S.item_version = w.expected_version + 1;
        (void)snprintf(S.item_overview, sizeof S.item_overview, "%s",
                       mode == PUT_LOST_OTHER ? DETAILS : w.overview);
        char *row = item_row(S.item_version, "active", S.item_overview);
        pthread_mutex_unlock(&S.lock);
        cJSON_Delete(j);
        if (mode == PUT_LOST || mode == PUT_LOST_OTHER) {
            st = send_json(conn, 502, NULL, "{\"status\":502,\"message\":\"bad gateway\"}");
        } else {
            char *res = NULL;
            size_t len = strlen(row) + sizeof vault_json + 32;
            res = malloc(len);
            (void)snprintf(res, len, "{\"item\":%s,\"vault\":%s}", row, vault_json);
            st = send_signed(conn, n, 200, res);
            free(res);
        }
        cJSON_free(row);
    } else {
        st = send_signed(conn, n, 404, "{\"error\":{\"code\":\"not_found\",\"message\":\"no\"}}");
    }
    opc__buf_free(&body);
    return st;
}

static struct mg_context *start_server(void *ssl_ctx, int *port)
{
    opc__httpd_config cfg = {.name = "test",
                             .bind = "127.0.0.1",
                             .port = 0,
                             .tls_port = ssl_ctx != NULL ? 0 : -1,
                             .ssl_ctx = ssl_ctx,
                             .threads = 4,
                             .keepalive_ms = 5000,
                             .head_timeout_ms = 2000,
                             .max_head = 8192,
                             .handler = handle};
    struct mg_context *ctx = NULL;
    int plain = 0, tls = 0;
    assert_int_equal(opc__httpd_start(&cfg, &ctx, &plain, &tls, NULL), OPC_OK);
    *port = ssl_ctx != NULL ? tls : plain;
    return ctx;
}

static void stop_server(struct mg_context *ctx, int port)
{
    atomic_store(&S.stop, 1);
    opc__httpd_stop(ctx, "127.0.0.1", port);
}

static opc__upstream *open_url(const char *url, const char *pin, const char *ca)
{
    opc__upstream *u = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__upstream_https_open(url, SERVER_ID, ACCOUNT_ID, S.device, pin, ca, &u, &eb);
    if (rc != OPC_OK) {
        fail_msg("open %s: %s", url, eb.msg);
    }
    return u;
}

static opc__upstream *open_port(int port)
{
    char url[64];
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    return open_url(url, S.pin, NULL);
}

/* The test server afresh (plain HTTP), and a client of it. */
static struct mg_context *serve(int *port, opc__upstream **u)
{
    reset_server();
    *port = 0;
    struct mg_context *ctx = start_server(NULL, port);
    *u = open_port(*port);
    return ctx;
}

/* The write the tests send: a create of ITEM_ID in VAULT_ID. */
static opc__item_write new_item(void)
{
    opc__item_write w = {.vault_id = VAULT_ID,
                         .item_id = ITEM_ID,
                         .expected_version = 0,
                         .key_sn = 1,
                         .overview = OVERVIEW,
                         .details = DETAILS};
    return w;
}

/* ---- selection and refusals ---- */

static opc_credentials *make_creds(const char *url, const char *pin)
{
    opc__key *enc = NULL, *sym = NULL, *issuer = NULL;
    assert_int_equal(opc__key_generate_rsa("enc", OPC_KEYOP_UNWRAP, &enc), OPC_OK);
    assert_int_equal(opc__key_generate_oct("sym", OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &sym),
                     OPC_OK);
    assert_int_equal(opc__key_generate_ec("iss", OPC_KEYOP_VERIFY, &issuer), OPC_OK);
    const opc__key *issuers[1] = {issuer};
    opc__credentials_params p = {.server_id = SERVER_ID,
                                 .account_id = ACCOUNT_ID,
                                 .service_url = url,
                                 .account_server_pin = pin,
                                 .device_key = S.device,
                                 .issuer_keys = issuers,
                                 .n_issuer_keys = 1,
                                 .enc_key = enc,
                                 .sym_key = sym};
    uint8_t T[OPC_CREDENTIALS_SECRET_LEN];
    memset(T, 0x5a, sizeof T);
    char *json = NULL;
    size_t len = 0;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (opc__credentials_create(&p, T, &json, &len, &eb) != OPC_OK) {
        fail_msg("credentials: %s", eb.msg);
    }
    opc_credentials *c = NULL;
    assert_int_equal(opc__credentials_parse_ex(json, len, &c, &eb), OPC_OK);
    opc__secret_free(json, len);
    opc__key_free(enc);
    opc__key_free(sym);
    opc__key_free(issuer);
    return c;
}

static void test_https_selection(void **state)
{
    (void)state;
    opc__ebuf eb;
    opc__upstream *u = NULL;
    /* https:// with a pin: this backend (nothing is contacted at open; the
     * first call names the host it tried). */
    opc_credentials *c = make_creds("https://127.0.0.1:1", S.pin);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_open(c, &u, &eb), OPC_OK);
    assert_non_null(u);
    cJSON *out = NULL;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_vault(u, VAULT_ID, &out, &eb), OPC_ERR_IO);
    assert_memory_equal(eb.msg, "upstream 127.0.0.1:1: ", 22);
    opc__upstream_close(u);
    opc_credentials_free(c);
    /* Without the pin: refused. */
    c = make_creds("https://account.example.test:8443", NULL);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_open(c, &u, &eb), OPC_ERR_CREDENTIALS);
    assert_null(u);
    assert_string_equal(eb.msg, "credentials name an https:// upstream without the account "
                                "server's key pin");
    opc_credentials_free(c);
    /* http:// on loopback: accepted (tests). */
    c = make_creds("http://127.0.0.1:1", S.pin);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_open(c, &u, &eb), OPC_OK);
    opc__upstream_close(u);
    opc_credentials_free(c);
    /* A path upstream stays the local backend. */
    c = make_creds("/nonexistent/account.db", NULL);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_open(c, &u, &eb), OPC_OK);
    opc__upstream_close(u);
    opc_credentials_free(c);
}

static void test_https_refusals(void **state)
{
    (void)state;
    opc__ebuf eb;
    opc__upstream *u = NULL;
    /* http:// on a host that is not loopback. */
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_https_open("http://192.0.2.7:8080", SERVER_ID, ACCOUNT_ID,
                                              S.device, S.pin, NULL, &u, &eb),
                     OPC_ERR_CREDENTIALS);
    assert_non_null(strstr(eb.msg, "plain http:// is accepted for a loopback host only"));
    assert_int_equal(opc__upstream_https_open("http://127.0.0.1.example.test", SERVER_ID,
                                              ACCOUNT_ID, S.device, S.pin, NULL, &u, &eb),
                     OPC_ERR_CREDENTIALS);
    /* A path, a query or user info. */
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_https_open("https://account.example.test/base", SERVER_ID,
                                              ACCOUNT_ID, S.device, S.pin, NULL, &u, &eb),
                     OPC_ERR_CREDENTIALS);
    assert_non_null(strstr(eb.msg, "without a path"));
    /* A pin that is not a thumbprint. */
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_https_open("https://account.example.test", SERVER_ID, ACCOUNT_ID,
                                              S.device, "short", NULL, &u, &eb),
                     OPC_ERR_CREDENTIALS);
    /* The CA file: missing, then without a certificate. */
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_https_open("https://account.example.test", SERVER_ID, ACCOUNT_ID,
                                              S.device, S.pin, "/nonexistent/ca.pem", &u, &eb),
                     OPC_ERR_IO);
    assert_string_equal(
        eb.msg, "OP_UPSTREAM_CA_FILE /nonexistent/ca.pem: cannot read: No such file or directory");
    char dir[64], path[128];
    opc_test_mkdtemp(dir, sizeof dir, "opc-https", "ca.pem", path, sizeof path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not a certificate\n", f);
    fclose(f);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_https_open("https://account.example.test", SERVER_ID, ACCOUNT_ID,
                                              S.device, S.pin, path, &u, &eb),
                     OPC_ERR_IO);
    assert_non_null(strstr(eb.msg, "holds no PEM certificate"));
    assert_null(u);
    /* Through opc__upstream_open and the process-wide setting. */
    opc_credentials *c = make_creds("https://account.example.test", S.pin);
    assert_int_equal(opc_global_set_upstream_ca_file("/nonexistent/ca.pem"), OPC_OK);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_open(c, &u, &eb), OPC_ERR_IO);
    assert_non_null(strstr(eb.msg, "OP_UPSTREAM_CA_FILE"));
    assert_int_equal(opc_global_set_upstream_ca_file(NULL), OPC_OK);
    opc_credentials_free(c);
    unlink(path);
    rmdir(dir);
}

/* ---- exchanges ---- */

static void test_https_session_and_reads(void **state)
{
    (void)state;
    int port = 0;
    opc__upstream *u = NULL;
    struct mg_context *ctx = serve(&port, &u);
    opc__ebuf eb;
    cJSON *out = NULL;
    for (int i = 0; i < 3; i++) {
        opc__ebuf_clear(&eb);
        assert_int_equal(opc__upstream_vault(u, VAULT_ID, &out, &eb), OPC_OK);
        assert_non_null(opc__json_member(out, "content_version"));
        cJSON_Delete(out);
    }
    /* One session for all three; each request verified with a growing counter. */
    assert_int_equal(atomic_load(&S.handshakes), 1);
    assert_int_equal(atomic_load(&S.requests), 3);
    assert_int_equal(atomic_load(&S.mac_refused), 0);
    /* An error answer maps through the protocol's codes. */
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_item(u, ITEM_ID, &out, &eb), OPC_ERR_NOT_FOUND);
    assert_null(out);
    assert_non_null(strstr(eb.msg, "no item " ITEM_ID));
    /* The server forgot the session: a new one, the request sent again. */
    atomic_store(&S.mode, FORGET_ONCE);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_vault(u, VAULT_ID, &out, &eb), OPC_OK);
    cJSON_Delete(out);
    assert_int_equal(atomic_load(&S.handshakes), 2);
    opc__upstream_close(u);
    /* Another pin: the welcome is refused before anything is sent. */
    char url[64];
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    u = open_url(url, "obviouslyfakepin-obviouslyfakepin_obviously", NULL);
    int before = atomic_load(&S.requests);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_vault(u, VAULT_ID, &out, &eb), OPC_ERR_SIGNATURE);
    assert_non_null(strstr(eb.msg, "the account server's key is not the one the credentials pin"));
    assert_int_equal(atomic_load(&S.requests), before);
    opc__upstream_close(u);
    stop_server(ctx, port);
}

static void test_https_answer_mac_refused(void **state)
{
    (void)state;
    int port = 0;
    opc__upstream *u = NULL;
    struct mg_context *ctx = serve(&port, &u);
    opc__ebuf eb;
    cJSON *out = NULL;
    atomic_store(&S.mode, BAD_MAC);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_vault(u, VAULT_ID, &out, &eb), OPC_ERR_SIGNATURE);
    assert_null(out);
    assert_non_null(strstr(eb.msg, "upstream: answer failed its MAC check"));
    /* Not retried, and the session was dropped: the next call makes a new one. */
    assert_int_equal(atomic_load(&S.requests), 1);
    atomic_store(&S.mode, NORMAL);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_vault(u, VAULT_ID, &out, &eb), OPC_OK);
    cJSON_Delete(out);
    assert_int_equal(atomic_load(&S.handshakes), 2);
    /* An answer without OPC-Protocol is refused too. */
    atomic_store(&S.mode, NO_PROTOCOL);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_vault(u, VAULT_ID, &out, &eb), OPC_ERR_IO);
    assert_non_null(strstr(eb.msg, "without OPC-Protocol"));
    /* A write's answer failing its MAC: refused, nothing returned. */
    atomic_store(&S.mode, BAD_MAC);
    opc__item_write w = new_item();
    cJSON *item = NULL, *vault = NULL;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_item_put(u, &w, &item, &vault, &eb), OPC_ERR_SIGNATURE);
    assert_null(item);
    assert_null(vault);
    opc__upstream_close(u);
    stop_server(ctx, port);
}

static void test_https_retries(void **state)
{
    (void)state;
    int port = 0;
    opc__upstream *u = NULL;
    struct mg_context *ctx = serve(&port, &u);
    opc__ebuf eb;
    cJSON *out = NULL;
    /* Two 503s, then the answer: three tries, two backoffs (>= 50 + 100 ms). */
    atomic_store(&S.mode, FAIL_503);
    atomic_store(&S.fail_left, 2);
    int64_t t0 = opc__monotonic_ms();
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_vault(u, VAULT_ID, &out, &eb), OPC_OK);
    int64_t ms = opc__monotonic_ms() - t0;
    cJSON_Delete(out);
    assert_int_equal(atomic_load(&S.requests), 3);
    assert_true(ms >= 150);
    /* Always failing: four tries, then OPC_ERR_IO naming the host and the cause. */
    atomic_store(&S.requests, 0);
    atomic_store(&S.mode, GATEWAY_502);
    atomic_store(&S.fail_left, 100);
    t0 = opc__monotonic_ms();
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_vault(u, VAULT_ID, &out, &eb), OPC_ERR_IO);
    ms = opc__monotonic_ms() - t0;
    assert_int_equal(atomic_load(&S.requests), OPC_HTTPS_TRIES);
    /* backoffs >= 50 + 100 + 200; <= 100 + 200 + 400 plus the exchanges */
    assert_true(ms >= 350);
    assert_true(ms < 3000);
    char want[64];
    (void)snprintf(want, sizeof want, "upstream 127.0.0.1:%d: HTTP 502", port);
    assert_string_equal(eb.msg, want);
    /* A write is not retried after a verified 503 (the server said it wrote nothing). */
    atomic_store(&S.requests, 0);
    atomic_store(&S.mode, FAIL_503);
    atomic_store(&S.fail_left, 1);
    opc__item_write w = new_item();
    cJSON *item = NULL, *vault = NULL;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_item_put(u, &w, &item, &vault, &eb), OPC_ERR_IO);
    assert_int_equal(atomic_load(&S.requests), 1);
    opc__upstream_close(u);
    stop_server(ctx, port);
    /* Nothing listens: connection refused, four tries, OPC_ERR_IO naming the host. */
    u = open_port(port);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_vault(u, VAULT_ID, &out, &eb), OPC_ERR_IO);
    (void)snprintf(want, sizeof want, "upstream 127.0.0.1:%d: ", port);
    assert_memory_equal(eb.msg, want, strlen(want));
    opc__upstream_close(u);
    /* The backoff's bounds. */
    for (int n = 1; n <= 6; n++) {
        int64_t d = opc__upstream_https_backoff_ms(n);
        int64_t cap = (int64_t)OPC_HTTPS_BACKOFF_MS << (n - 1);
        cap = cap > OPC_HTTPS_BACKOFF_CAP_MS ? OPC_HTTPS_BACKOFF_CAP_MS : cap;
        assert_true(d >= cap / 2 && d <= cap);
    }
}

static void test_https_write_lost(void **state)
{
    (void)state;
    int port = 0;
    opc__upstream *u = NULL;
    struct mg_context *ctx = serve(&port, &u);
    opc__ebuf eb;
    opc__item_write w = new_item();
    cJSON *item = NULL, *vault = NULL;
    /* The answer is there: the rows come back. */
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_item_put(u, &w, &item, &vault, &eb), OPC_OK);
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(item, "version")), 1);
    cJSON_Delete(item);
    cJSON_Delete(vault);
    /* Applied, the answer lost: read back, it is the write's own (version 2). */
    atomic_store(&S.mode, PUT_LOST);
    w.expected_version = 1;
    atomic_store(&S.requests, 0);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_item_put(u, &w, &item, &vault, &eb), OPC_OK);
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(item, "version")), 2);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(item, "overview")), OVERVIEW);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(vault, "id")), VAULT_ID);
    /* PUT once (not retried), then the item and the vault read. */
    assert_int_equal(atomic_load(&S.requests), 3);
    cJSON_Delete(item);
    cJSON_Delete(vault);
    /* The handshake before a write meets a gateway error: the write never
     * left, so it is sent on the next try (not read back). */
    opc__upstream_close(u);
    u = open_port(port);
    atomic_store(&S.mode, HANDSHAKE_502);
    atomic_store(&S.fail_left, 1);
    atomic_store(&S.requests, 0);
    w.expected_version = 2;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_item_put(u, &w, &item, &vault, &eb), OPC_OK);
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(item, "version")), 3);
    assert_int_equal(atomic_load(&S.requests), 1);
    cJSON_Delete(item);
    cJSON_Delete(vault);
    /* Lost, and the item read back holds other envelopes: OPC_ERR_IO. */
    atomic_store(&S.mode, PUT_LOST_OTHER);
    w.expected_version = 3;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_item_put(u, &w, &item, &vault, &eb), OPC_ERR_IO);
    assert_null(item);
    assert_null(vault);
    assert_non_null(strstr(eb.msg, "the answer to the write of item " ITEM_ID " was lost"));
    opc__upstream_close(u);
    stop_server(ctx, port);
}

static void *interrupt_later(void *arg)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 200000000L};
    nanosleep(&ts, NULL);
    opc__upstream_interrupt(arg);
    return NULL;
}

static void test_https_interrupted_wait(void **state)
{
    (void)state;
    int port = 0;
    opc__upstream *u = NULL;
    struct mg_context *ctx = serve(&port, &u);
    opc__ebuf eb;
    cJSON *out = NULL;
    int64_t next = 0;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, interrupt_later, u), 0);
    int64_t t0 = opc__monotonic_ms();
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_changes(u, 5, 100, 30000, &out, &next, &eb), OPC_OK);
    int64_t ms = opc__monotonic_ms() - t0;
    pthread_join(th, NULL);
    assert_int_equal(cJSON_GetArraySize(out), 0);
    assert_int_equal(next, 5);
    cJSON_Delete(out);
    /* The interrupt wakes libcurl's poll at once (200 ms after the start). */
    assert_true(ms < 600);
    /* Not interrupted: the server's answer (after its 3 s hold). */
    atomic_store(&S.stop, 1);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_changes(u, 5, 100, 1000, &out, &next, &eb), OPC_OK);
    assert_int_equal(next, 7);
    cJSON_Delete(out);
    opc__upstream_close(u);
    stop_server(ctx, port);
}

/* ---- TLS with a private CA ---- */

/* A CA, and a certificate for 127.0.0.1 it signed; the CA to ca_path, the
 * server's key and certificate into an SSL_CTX. */
static SSL_CTX *tls_setup(const char *ca_path)
{
    EVP_PKEY *cak = EVP_EC_gen("P-256");
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *ca = X509_new();
    X509 *x = X509_new();
    assert_true(cak != NULL && k != NULL && ca != NULL && x != NULL);
    X509_set_version(ca, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(ca), 1);
    X509_gmtime_adj(X509_getm_notBefore(ca), -60);
    X509_gmtime_adj(X509_getm_notAfter(ca), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(ca), "CN", MBSTRING_ASC,
                               (const unsigned char *)"test CA", -1, -1, 0);
    X509_set_issuer_name(ca, X509_get_subject_name(ca));
    X509_set_pubkey(ca, cak);
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, ca, ca, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(ca, e, -1);
    X509_EXTENSION_free(e);
    assert_true(X509_sign(ca, cak, EVP_sha256()) > 0);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 2);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"127.0.0.1", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(ca));
    X509_set_pubkey(x, k);
    X509V3_set_ctx(&v3, ca, x, NULL, NULL, 0);
    e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    assert_true(X509_sign(x, cak, EVP_sha256()) > 0);
    FILE *f = fopen(ca_path, "w");
    assert_non_null(f);
    PEM_write_X509(f, ca);
    fclose(f);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, k), 1);
    X509_free(ca);
    X509_free(x);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(k);
    return ctx;
}

static void test_https_tls_private_ca(void **state)
{
    (void)state;
    reset_server();
    char dir[64], ca_path[128];
    opc_test_mkdtemp(dir, sizeof dir, "opc-https", "ca.pem", ca_path, sizeof ca_path);
    SSL_CTX *ssl = tls_setup(ca_path);
    int port = 0;
    struct mg_context *ctx = start_server(ssl, &port);
    char url[64];
    (void)snprintf(url, sizeof url, "https://127.0.0.1:%d", port);
    opc__ebuf eb;
    cJSON *out = NULL;
    /* With the CA bundle: verified, the session made, the read signed. */
    opc__upstream *u = open_url(url, S.pin, ca_path);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_vault(u, VAULT_ID, &out, &eb), OPC_OK);
    cJSON_Delete(out);
    opc__upstream_close(u);
    /* Without it, the system's trust: the certificate is refused (never sent). */
    u = open_url(url, S.pin, NULL);
    int before = atomic_load(&S.handshakes);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_vault(u, VAULT_ID, &out, &eb), OPC_ERR_IO);
    assert_non_null(strstr(eb.msg, "upstream 127.0.0.1:"));
    assert_int_equal(atomic_load(&S.handshakes), before);
    opc__upstream_close(u);
    stop_server(ctx, port);
    SSL_CTX_free(ssl);
    unlink(ca_path);
    rmdir(dir);
}

/* ---- several account servers ---- */

/* A port on 127.0.0.1 where nothing listens (bound, then closed). */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static opc__upstream *open_list(const char *const *urls, size_t n)
{
    opc__upstream *u = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__upstream_https_open_list(urls, n, SERVER_ID, ACCOUNT_ID, S.device, S.pin,
                                               NULL, &u, &eb);
    if (rc != OPC_OK) {
        fail_msg("open list: %s", eb.msg);
    }
    return u;
}

static void test_https_failover(void **state)
{
    (void)state;
    reset_server();
    int port = 0;
    struct mg_context *ctx = start_server(NULL, &port);
    char dead[64], b[64], c[64];
    (void)snprintf(dead, sizeof dead, "http://127.0.0.1:%d", dead_port());
    (void)snprintf(b, sizeof b, "http://127.0.0.1:%d", port);
    /* The same server by another name (a second "account server" that
     * shares the first's state, as two servers on one database do). */
    (void)snprintf(c, sizeof c, "http://localhost:%d", port);
    opc__ebuf eb;
    cJSON *out = NULL, *item = NULL, *vault = NULL;

    /* The first server is down: a read moves to the second and stays there. */
    const char *down_first[2] = {dead, b};
    opc__upstream *u = open_list(down_first, 2);
    assert_string_equal(opc__upstream_https_current(u), dead);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_vault(u, VAULT_ID, &out, &eb), OPC_OK);
    cJSON_Delete(out);
    assert_string_equal(opc__upstream_https_current(u), b);
    assert_int_equal(opc__upstream_https_moves(u), 1);
    assert_int_equal(atomic_load(&S.handshakes), 1);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_vault(u, VAULT_ID, &out, &eb), OPC_OK);
    cJSON_Delete(out);
    assert_int_equal(opc__upstream_https_moves(u), 1);
    assert_int_equal(atomic_load(&S.handshakes), 1); /* the session kept */
    opc__upstream_close(u);

    /* A write that cannot have reached the dead server goes to the next, once. */
    u = open_list(down_first, 2);
    atomic_store(&S.requests, 0);
    opc__item_write w = new_item();
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_item_put(u, &w, &item, &vault, &eb), OPC_OK);
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(item, "version")), 1);
    cJSON_Delete(item);
    cJSON_Delete(vault);
    assert_int_equal(atomic_load(&S.requests), 1);
    assert_string_equal(opc__upstream_https_current(u), b);
    opc__upstream_close(u);

    /* A 503 moves to the next server, a new session there; another 503
     * moves back (round robin, no preferred server). */
    const char *both[2] = {b, c};
    u = open_list(both, 2);
    atomic_store(&S.handshakes, 0);
    atomic_store(&S.mode, FAIL_503);
    atomic_store(&S.fail_left, 1);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_vault(u, VAULT_ID, &out, &eb), OPC_OK);
    cJSON_Delete(out);
    assert_string_equal(opc__upstream_https_current(u), c);
    assert_int_equal(atomic_load(&S.handshakes), 2);
    atomic_store(&S.fail_left, 1);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_vault(u, VAULT_ID, &out, &eb), OPC_OK);
    cJSON_Delete(out);
    assert_string_equal(opc__upstream_https_current(u), b);
    assert_int_equal(opc__upstream_https_moves(u), 2);
    assert_int_equal(atomic_load(&S.handshakes), 3);

    /* A write refused by a 503 is not sent again, on this server or the
     * next; the handle moves for the calls to come. */
    atomic_store(&S.requests, 0);
    atomic_store(&S.fail_left, 1);
    w.expected_version = 1;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_item_put(u, &w, &item, &vault, &eb), OPC_ERR_IO);
    assert_null(item);
    assert_int_equal(atomic_load(&S.requests), 1);
    assert_string_equal(opc__upstream_https_current(u), c);
    (void)snprintf(dead, sizeof dead, "upstream 127.0.0.1:%d: HTTP 503", port);
    assert_memory_equal(eb.msg, dead, strlen(dead)); /* names the server that failed */

    /* Applied, the answer lost behind a gateway (502): the write is not
     * sent again; the item is read back through the next server and is the
     * write's own. */
    atomic_store(&S.mode, PUT_LOST);
    atomic_store(&S.requests, 0);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_item_put(u, &w, &item, &vault, &eb), OPC_OK);
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(item, "version")), 2);
    assert_int_equal(atomic_load(&S.requests), 3); /* PUT, item, vault */
    assert_string_equal(opc__upstream_https_current(u), b);
    cJSON_Delete(item);
    cJSON_Delete(vault);

    /* Lost and not the write's: OPC_ERR_IO saying it may or may not have been made. */
    atomic_store(&S.mode, PUT_LOST_OTHER);
    w.expected_version = 2;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_item_put(u, &w, &item, &vault, &eb), OPC_ERR_IO);
    assert_non_null(strstr(eb.msg, "may or may not have been made"));
    opc__upstream_close(u);

    /* An answer failing its MAC: refused as ever (no retry), and the
     * handle moves on for the calls to come. */
    u = open_list(both, 2);
    atomic_store(&S.mode, BAD_MAC);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_vault(u, VAULT_ID, &out, &eb), OPC_ERR_SIGNATURE);
    assert_null(out);
    assert_string_equal(opc__upstream_https_current(u), c);
    atomic_store(&S.mode, NORMAL);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_vault(u, VAULT_ID, &out, &eb), OPC_OK);
    cJSON_Delete(out);
    assert_string_equal(opc__upstream_https_current(u), c);
    /* An answer without OPC-Protocol (not an account server): refused as
     * ever, and the handle moves on. */
    atomic_store(&S.mode, NO_PROTOCOL);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_vault(u, VAULT_ID, &out, &eb), OPC_ERR_IO);
    assert_string_equal(opc__upstream_https_current(u), b);
    atomic_store(&S.mode, NORMAL);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_vault(u, VAULT_ID, &out, &eb), OPC_OK);
    cJSON_Delete(out);
    assert_string_equal(opc__upstream_https_current(u), b);
    assert_int_equal(opc__upstream_https_moves(u), 2);
    opc__upstream_close(u);

    /* All down: each server tried, OPC_ERR_IO after OPC_HTTPS_TRIES + 1 tries. */
    stop_server(ctx, port);
    atomic_store(&S.mode, NORMAL);
    u = open_list(both, 2);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_vault(u, VAULT_ID, &out, &eb), OPC_ERR_IO);
    assert_int_equal(opc__upstream_https_moves(u), OPC_HTTPS_TRIES + 1);
    opc__upstream_close(u);

    /* The list's refusals. */
    const char *plain[2] = {b, "http://192.0.2.7:8080"};
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_https_open_list(plain, 2, SERVER_ID, ACCOUNT_ID, S.device, S.pin,
                                                   NULL, &u, &eb),
                     OPC_ERR_CREDENTIALS);
    assert_null(u);
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_https_open_list(both, 0, SERVER_ID, ACCOUNT_ID, S.device, S.pin,
                                                   NULL, &u, &eb),
                     OPC_ERR_CREDENTIALS);
}

/* Credentials naming several account servers select the https backend with all of them. */
static void test_https_selection_list(void **state)
{
    (void)state;
    opc_credentials *creds =
        make_creds("https://acct-a.example.test:8443,https://acct-b.example.test", S.pin);
    opc__upstream *u = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__upstream_open(creds, &u, &eb), OPC_OK);
    assert_string_equal(opc__upstream_https_current(u), "https://acct-a.example.test:8443");
    assert_int_equal(opc__upstream_https_moves(u), 0);
    opc__upstream_close(u);
    opc_credentials_free(creds);
}

static int group_setup(void **state)
{
    (void)state;
    mg_init_library(MG_FEATURES_TLS);
    if (opc_global_init(OPC_GLOBAL_DEFAULT) != OPC_OK) {
        return -1;
    }
    pthread_mutex_init(&S.lock, NULL);
    server_keys();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    opc__key_free(S.server_key);
    opc__key_free(S.device);
    opc__key_free(S.device_pub);
    opc_global_cleanup();
    mg_exit_library();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_https_selection),
        cmocka_unit_test(test_https_refusals),
        cmocka_unit_test(test_https_session_and_reads),
        cmocka_unit_test(test_https_answer_mac_refused),
        cmocka_unit_test(test_https_retries),
        cmocka_unit_test(test_https_write_lost),
        cmocka_unit_test(test_https_interrupted_wait),
        cmocka_unit_test(test_https_tls_private_ca),
        cmocka_unit_test(test_https_failover),
        cmocka_unit_test(test_https_selection_list),
    };
    return cmocka_run_group_tests_name("upstream_https", tests, group_setup, group_teardown);
}
