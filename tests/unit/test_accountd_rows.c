/*
 * tests/unit/test_accountd_rows.c - the owner's store protocol over the
 * network, the server's side (lib/accountd/server.c owner_rows(),
 * large_gate(); lib/store owner_read / owner_batch; docs/protocol.md, "On
 * the wire: the owner's store protocol over the network"): reads and
 * batches on the
 * owner session's account only, the error statuses, the account row's
 * server pin, a batch waking a Connect server's long poll, and the gate on
 * bodies above OPC_PROTO_MAX_REQUEST.
 *
 * Sessions are added to the server's table by hand (opc__accountd_state):
 * the SRP sign-in and the handshake that make them are tested in
 * test_owner.c, test_accountd.c and tests/daemon/test_owner_remote.sh;
 * here every request is still signed and every answer's MAC checked.
 */
#include "store_fixture.h"
#include "http_client.h"

#include <errno.h>
#include <pthread.h>
#include <sys/time.h>

#include "accountd/accountd.h"
#include "core/alloc.h"
#include "core/rand.h"
#include "crypto/base64.h"
#include "crypto/gcm.h"
#include "model/file.h"
#include "wire/proto.h"

/* ---- a session by hand, signed requests ---- */

typedef struct cl {
    int port;
    char sid[OPC_PROTO_NONCE_B64 + 1];
    opc__proto_keys keys;
    uint64_t n;
} cl;

/* A new live session of kind for account (server "" for the owner). */
static void session(opc_accountd *s, cl *c, opc__ad_kind kind, const char *account,
                    const char *server)
{
    uint8_t raw[16];
    assert_int_equal(opc__rand_bytes(raw, sizeof raw), OPC_OK);
    assert_int_equal(opc__b64_encode_to(raw, sizeof raw, OPC_B64URL, c->sid, sizeof c->sid, NULL),
                     OPC_OK);
    assert_int_equal(opc__rand_bytes(c->keys.k_req, sizeof c->keys.k_req), OPC_OK);
    assert_int_equal(opc__rand_bytes(c->keys.k_res, sizeof c->keys.k_res), OPC_OK);
    c->n = 0;
    c->port = opc_accountd_http_port(s);
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(opc__ad_state_session_add(opc__accountd_state(s), c->sid, kind, account,
                                               server, &c->keys, now + 3600, now, NULL),
                     OPC_OK);
}

/* A header's value in a->head ("" when absent). */
static void header(const resp *a, const char *name, char *out, size_t cap)
{
    char needle[64];
    snprintf(needle, sizeof needle, "\n%s: ", name);
    const char *p = strstr(a->head, needle);
    out[0] = '\0';
    if (p != NULL) {
        p += strlen(needle);
        size_t n = strcspn(p, "\r\n");
        snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
    }
}

/* A signed request of c (counter n) with a body of len bytes. */
static void send_req(const cl *c, const char *method, const char *target, const char *body,
                     size_t len, uint64_t n, resp *a)
{
    memset(a, 0, sizeof *a);
    CURL *h = curl_easy_init();
    assert_non_null(h);
    char url[2200];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", c->port, target);
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    char mac[OPC_PROTO_HASH_B64 + 1];
    assert_int_equal(opc__proto_mac_request(&c->keys, c->sid, n, method, target,
                                            body != NULL ? body : "", len, mac),
                     OPC_OK);
    char line[256];
    snprintf(line, sizeof line, "Authorization: OPC-Session %s", c->sid);
    hl = curl_slist_append(hl, line);
    snprintf(line, sizeof line, "OPC-Counter: %llu", (unsigned long long)n);
    hl = curl_slist_append(hl, line);
    snprintf(line, sizeof line, "OPC-MAC: %s", mac);
    hl = curl_slist_append(hl, line);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, opc_test_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, opc_test_on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(h);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    /* A refusal before the body is read may close the connection while
     * curl still sends: the answer counts when it arrived. */
    if (cc != CURLE_OK && a->status == 0) {
        fail_msg("%s %s: %s", method, target, curl_easy_strerror(cc));
    }
}

/* A session request; its answer's MAC must verify. */
static void call_len(cl *c, const char *method, const char *target, const char *body, size_t len,
                     resp *a)
{
    c->n++;
    send_req(c, method, target, body, len, c->n, a);
    char got[128];
    header(a, "OPC-MAC", got, sizeof got);
    char want[OPC_PROTO_HASH_B64 + 1];
    assert_int_equal(
        opc__proto_mac_answer(&c->keys, c->sid, c->n, (int)a->status, a->body, a->body_len, want),
        OPC_OK);
    if (!opc__proto_mac_equal(got, want)) {
        fail_msg("%s %s: %ld, answer MAC does not verify (%s)", method, target, a->status, a->body);
    }
}

static void call(cl *c, const char *method, const char *target, const char *body, resp *a)
{
    call_len(c, method, target, body, body != NULL ? strlen(body) : 0, a);
}

/* ---- the log, captured ---- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_text[1 << 20];
static size_t log_len;

static void on_log(const opc_log_record *rec, void *ud)
{
    (void)ud;
    (void)pthread_mutex_lock(&log_mu);
    int n = snprintf(log_text + log_len, sizeof log_text - log_len, "%d %s\n", (int)rec->level,
                     rec->message);
    if (n > 0 && (size_t)n < sizeof log_text - log_len) {
        log_len += (size_t)n;
    }
    (void)pthread_mutex_unlock(&log_mu);
}

/* Whether the captured log holds s. */
static bool logged(const char *str)
{
    (void)pthread_mutex_lock(&log_mu);
    bool found = strstr(log_text, str) != NULL;
    (void)pthread_mutex_unlock(&log_mu);
    return found;
}

#define READ "/v1/owner/rows/read"
#define BATCH "/v1/owner/rows/batch"

/* POST a rows request of c; the status, the answer in *a. */
static long rows(cl *c, const char *path, const char *body, resp *a)
{
    call(c, "POST", path, body, a);
    return a->status;
}

/* The highest seq of the feed of the account file at path, read directly. */
static int64_t file_head(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT coalesce(max(seq), 0) FROM changes", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t head = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return head;
}

/* vault.feed_head through the owner's read. */
static int64_t rows_head(cl *c)
{
    resp a;
    assert_int_equal(rows(c, READ, "{\"read\":\"vault.feed_head\",\"args\":[]}", &a), 200);
    cJSON *j = cJSON_Parse(a.body);
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "rows");
    assert_int_equal(cJSON_GetArraySize(r), 1);
    int64_t head = (int64_t)cJSON_GetArrayItem(cJSON_GetArrayItem(r, 0), 0)->valuedouble;
    cJSON_Delete(j);
    return head;
}

/* A batch: a vault_update change of vault, then the vault's touch at its seq. */
static void touch_batch(char *out, size_t cap, const char *vault)
{
    long long now = (long long)time(NULL);
    snprintf(out, cap,
             "{\"batch\":[{\"stmt\":\"change.append\",\"args\":[\"vault_update\",\"%s\",null,null,"
             "null,null,null,null,%lld],\"expect\":1},{\"stmt\":\"vault.touch\",\"args\":[0,%lld,"
             "{\"seq\":0},\"%s\"],\"expect\":1}]}",
             vault, now, now, vault);
}

typedef struct poll_arg {
    cl *c;
    char target[256];
    resp a;
    int64_t took_ms;
} poll_arg;

static void *poll_main(void *p)
{
    poll_arg *pa = p;
    int64_t t0 = tx_now_ms();
    call(pa->c, "GET", pa->target, NULL, &pa->a);
    pa->took_ms = tx_now_ms() - t0;
    return NULL;
}

static opc_accountd *serve(tx *t)
{
    opc_accountd *s = NULL;
    char err[OPC_ERRBUF_SIZE] = "";
    if (opc_accountd_create(t->data, &s, err, sizeof err) != OPC_OK) {
        fail_msg("create: %s", err);
    }
    assert_int_equal(opc_accountd_set_bind_address(s, "127.0.0.1"), OPC_OK);
    assert_int_equal(opc_accountd_set_http_port(s, 0), OPC_OK);
    assert_int_equal(opc_accountd_set_threads(s, 16), OPC_OK);
    if (opc_accountd_start(s, err, sizeof err) != OPC_OK) {
        fail_msg("start: %s", err);
    }
    return s;
}

/* ---- reads, batches, errors ---- */

static void test_rows(void **state)
{
    (void)state;
    tx t;
    tx_setup(&t);
    log_len = 0;
    log_text[0] = '\0';
    assert_int_equal(opc_global_set_log(on_log, NULL, OPC_LOG_DEBUG), OPC_OK);
    opc_accountd *s = serve(&t);
    cl ca, cb, cc;
    session(s, &ca, OPC_AD_KIND_OWNER, t.id_a, "");
    session(s, &cb, OPC_AD_KIND_OWNER, t.id_b, "");
    session(s, &cc, OPC_AD_KIND_CONNECT, t.id_a, t.sa);
    resp a;
    char body[1024];

    /* A read gives the rows of the session's account, and only of it. */
    assert_int_equal(rows(&ca, READ, "{\"read\":\"server.find_name\",\"args\":[\"Alpha\"]}", &a),
                     200);
    snprintf(body, sizeof body, "{\"rows\":[[\"%s\"]]}", t.sa);
    assert_string_equal(a.body, body);
    assert_int_equal(rows(&cb, READ, "{\"read\":\"server.find_name\",\"args\":[\"Alpha\"]}", &a),
                     200);
    assert_string_equal(a.body, "{\"rows\":[]}");
    assert_int_equal(rows(&cb, READ, "{\"read\":\"server.find_name\",\"args\":[\"Beta\"]}", &a),
                     200);
    snprintf(body, sizeof body, "{\"rows\":[[\"%s\"]]}", t.sb);
    assert_string_equal(a.body, body);
    /* A's vault, asked for by B: B's account has no such row. */
    snprintf(body, sizeof body, "{\"read\":\"vault.server_grants\",\"args\":[\"%s\"]}", t.va);
    assert_int_equal(rows(&cb, READ, body, &a), 200);
    assert_string_equal(a.body, "{\"rows\":[]}");
    assert_int_equal(rows(&ca, READ, body, &a), 200);
    assert_non_null(strstr(a.body, t.sa));

    /* A batch commits; its seqs are the feed's. */
    int64_t head = rows_head(&ca);
    assert_int_equal(head, file_head(t.a.path));
    int64_t head_b = file_head(t.b.path);
    touch_batch(body, sizeof body, t.va);
    assert_int_equal(rows(&ca, BATCH, body, &a), 200);
    char want[64];
    snprintf(want, sizeof want, "{\"seqs\":[%lld]}", (long long)head + 1);
    assert_string_equal(a.body, want);
    assert_int_equal(file_head(t.a.path), head + 1);
    assert_int_equal(rows_head(&ca), head + 1);
    assert_int_equal(file_head(t.b.path), head_b);
    /* B's batch naming A's vault: B's account has no such vault, the
     * touch changes nothing: a conflict, A's file untouched. */
    assert_int_equal(rows(&cb, BATCH, body, &a), 409);
    assert_int_equal(file_head(t.a.path), head + 1);
    assert_int_equal(file_head(t.b.path), head_b);

    /* A failed expectation: 409 naming the statement, nothing committed. */
    long long now = (long long)time(NULL);
    snprintf(body, sizeof body,
             "{\"batch\":[{\"stmt\":\"change.append\",\"args\":[\"token_update\",null,null,null,"
             "\"%s\",\"nosuchjti\",null,null,%lld],\"expect\":1},{\"stmt\":\"token.rename\","
             "\"args\":[\"secret name\",%lld,{\"seq\":0},\"nosuchjti\",1],\"expect\":1}]}",
             t.sa, now, now);
    assert_int_equal(rows(&ca, BATCH, body, &a), 409);
    assert_non_null(strstr(a.body, "\"code\":\"conflict\""));
    assert_non_null(strstr(a.body, "token.rename (statement 1 of the batch) changed 0 rows"));
    assert_null(strstr(a.body, "secret name"));
    assert_null(strstr(a.body, "nosuchjti"));
    assert_int_equal(file_head(t.a.path), head + 1);

    /* A unique index: 409 exists (the vault's id again), nothing committed. */
    snprintf(body, sizeof body,
             "{\"batch\":[{\"stmt\":\"change.append\",\"args\":[\"vault_create\",\"%s\",null,null,"
             "null,null,null,null,%lld],\"expect\":1},{\"stmt\":\"vault.insert\",\"args\":[\"%s\","
             "\"U\",1,\"x\",%lld,%lld,{\"seq\":0}],\"expect\":1}]}",
             t.va, now, t.va, now, now);
    assert_int_equal(rows(&ca, BATCH, body, &a), 409);
    assert_non_null(strstr(a.body, "\"code\":\"exists\""));
    assert_int_equal(file_head(t.a.path), head + 1);

    /* Refused requests: 400, nothing run. */
    assert_int_equal(rows(&ca, READ, "{\"read\":\"nope.nothing\",\"args\":[]}", &a), 400);
    assert_non_null(strstr(a.body, "\"invalid_arg\""));
    assert_non_null(strstr(a.body, "unknown statement"));
    assert_int_equal(rows(&ca, READ, "{\"read\":\"server.find_name\",\"args\":[1]}", &a), 400);
    assert_non_null(strstr(a.body, "\"invalid_arg\""));
    assert_int_equal(rows(&ca, READ, "{\"read\":\"server.find_name\",\"args\":[]}", &a), 400);
    /* a write is not a read */
    snprintf(body, sizeof body, "{\"read\":\"vault.delete\",\"args\":[\"%s\"]}", t.va);
    assert_int_equal(rows(&ca, READ, body, &a), 400);
    /* a placeholder naming no earlier change */
    snprintf(body, sizeof body,
             "{\"batch\":[{\"stmt\":\"vault.touch\",\"args\":[0,%lld,{\"seq\":0},\"%s\"],"
             "\"expect\":1}]}",
             now, t.va);
    assert_int_equal(rows(&ca, BATCH, body, &a), 400);
    assert_non_null(strstr(a.body, "\"invalid_arg\""));
    assert_int_equal(file_head(t.a.path), head + 1);
    /* a read on /batch, a batch on /read, malformed JSON, an unknown member */
    assert_int_equal(rows(&ca, BATCH, "{\"read\":\"vault.feed_head\",\"args\":[]}", &a), 400);
    touch_batch(body, sizeof body, t.va);
    assert_int_equal(rows(&ca, READ, body, &a), 400);
    assert_int_equal(file_head(t.a.path), head + 1);
    assert_int_equal(rows(&ca, READ, "{\"read\":", &a), 400);
    assert_non_null(strstr(a.body, "\"parse\""));
    assert_int_equal(
        rows(&ca, READ, "{\"read\":\"vault.feed_head\",\"args\":[],\"account\":\"x\"}", &a), 400);
    assert_int_equal(rows(&ca, READ, "[[[[[[1]]]]]]", &a), 400);
    /* a query, another method */
    assert_int_equal(rows(&ca, READ "?limit=1", "{\"read\":\"vault.feed_head\",\"args\":[]}", &a),
                     400);
    call(&ca, "GET", READ, NULL, &a);
    assert_int_equal(a.status, 405);

    /* A Connect session on the owner's endpoints: 401, nothing run. */
    static const char head_read[] = "{\"read\":\"vault.feed_head\",\"args\":[]}";
    send_req(&cc, "POST", READ, head_read, strlen(head_read), ++cc.n, &a);
    assert_int_equal(a.status, 401);
    touch_batch(body, sizeof body, t.va);
    send_req(&cc, "POST", BATCH, body, strlen(body), ++cc.n, &a);
    assert_int_equal(a.status, 401);
    assert_int_equal(file_head(t.a.path), head + 1);
    /* A counter used before (a replay): 401. */
    send_req(&ca, "POST", BATCH, body, strlen(body), ca.n, &a);
    assert_int_equal(a.status, 401);
    assert_int_equal(file_head(t.a.path), head + 1);

    /* The account row carries the server's pin. */
    call(&ca, "GET", "/v1/owner/account", NULL, &a);
    assert_int_equal(a.status, 200);
    char pin[OPC_ACCOUNTD_PIN_LEN + 1];
    char err[OPC_ERRBUF_SIZE];
    assert_int_equal(opc_accountd_pin(t.data, pin, sizeof pin, err, sizeof err), OPC_OK);
    cJSON *j = cJSON_Parse(a.body);
    opc__proto_account row;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    assert_int_equal(opc__proto_account_decode(j, &row, &eb), OPC_OK);
    assert_string_equal(row.server_pin, pin);
    assert_string_equal(row.id, t.id_a);
    opc__proto_account_clear(&row);
    cJSON_Delete(j);

    /* A batch wakes a Connect server's long poll at once. */
    call(&cc, "GET", "/v1/connect/changes?since=0&limit=10000", NULL, &a);
    assert_int_equal(a.status, 200);
    j = cJSON_Parse(a.body);
    int64_t next = (int64_t)cJSON_GetObjectItemCaseSensitive(j, "next")->valuedouble;
    cJSON_Delete(j);
    poll_arg pa = {.c = &cc};
    snprintf(pa.target, sizeof pa.target, "/v1/connect/changes?since=%lld&wait=30000",
             (long long)next);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, poll_main, &pa), 0);
    nanosleep(&(struct timespec){0, 300000000L}, NULL);
    touch_batch(body, sizeof body, t.va);
    assert_int_equal(rows(&ca, BATCH, body, &a), 200);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(pa.a.status, 200);
    assert_non_null(strstr(pa.a.body, "vault_update"));
    assert_true(pa.took_ms < 10000);

    opc_accountd_free(s);
    assert_int_equal(opc_global_set_log(NULL, NULL, OPC_LOG_INFO), OPC_OK);
    /* The log: a debug line per call (the statement or the batch's size),
     * an info line per committed batch; never an argument's value. */
    char line[256];
    snprintf(line, sizeof line, "%d owner read server.find_name on account %s", OPC_LOG_DEBUG,
             t.id_a);
    assert_true(logged(line));
    snprintf(line, sizeof line, "%d owner batch of 2 statements on account %s", OPC_LOG_DEBUG,
             t.id_a);
    assert_true(logged(line));
    snprintf(line, sizeof line, "%d owner batch of 2 statements, 1 changes on account %s",
             OPC_LOG_INFO, t.id_a);
    assert_true(logged(line));
    snprintf(line, sizeof line, "owner batch of 2 statements, 1 changes on account %s", t.id_b);
    assert_false(logged(line)); /* B's batch conflicted */
    assert_false(logged("secret name"));
    assert_false(logged("nosuchjti"));
    assert_false(logged("Alpha"));
    tx_teardown(&t);
}

/* ---- bodies above OPC_PROTO_MAX_REQUEST ---- */

/* A raw request whose head declares len bytes of body, with the first
 * bytes of it sent: the server waits for the rest. */
static int raw_start(int port, const char *path, const char *sid, size_t len)
{
    int fd = opc_test_connect_local(port);
    assert_true(fd >= 0);
    char head[512];
    int n = snprintf(head, sizeof head,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: OPC-Session %s\r\n"
                     "OPC-Counter: 1000\r\nOPC-MAC: AAAA\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n{\"batch\":[",
                     path, sid, len);
    assert_int_equal(write(fd, head, (size_t)n), n);
    return fd;
}

/* The status of the answer on fd (0: none within 10 s). */
static int raw_status(int fd)
{
    struct timeval tv = {10, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[256];
    size_t got = 0;
    while (got < 12) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0) {
            return 0;
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    int status = 0;
    return sscanf(buf, "HTTP/1.1 %d", &status) == 1 ? status : 0;
}

/* A batch of len bytes or more that is run and conflicts: a token rename
 * of an unknown token, to a long name. */
static char *big_batch(size_t len)
{
    char *b = malloc(len + 512);
    assert_non_null(b);
    long long now = (long long)time(NULL);
    int n = snprintf(b, 512,
                     "{\"batch\":[{\"stmt\":\"change.append\",\"args\":[\"token_update\",null,null,"
                     "null,null,\"nosuchjti\",null,null,%lld],\"expect\":1},{\"stmt\":"
                     "\"token.rename\",\"args\":[\"",
                     now);
    memset(b + n, 'x', len);
    snprintf(b + n + len, 512 - (size_t)n, "\",%lld,{\"seq\":0},\"nosuchjti\",1],\"expect\":1}]}",
             now);
    return b;
}

static void test_large_bodies(void **state)
{
    (void)state;
    tx t;
    tx_setup(&t);
    opc_accountd *s = serve(&t);
    int port = opc_accountd_http_port(s);
    cl ca, cc;
    session(s, &ca, OPC_AD_KIND_OWNER, t.id_a, "");
    session(s, &cc, OPC_AD_KIND_CONNECT, t.id_a, t.sa);
    int64_t head = file_head(t.a.path);
    resp a;

    /* Above 4 MiB: read and run for the owner (the conflict proves it ran). */
    char *big = big_batch(OPC_PROTO_MAX_REQUEST + 4096);
    call(&ca, "POST", BATCH, big, &a);
    assert_int_equal(a.status, 409);
    assert_non_null(strstr(a.body, "token.rename"));
    /* ... but not for a Connect session (413, unread), nor on another
     * endpoint, nor without a session (401). */
    send_req(&cc, "POST", BATCH, big, strlen(big), ++cc.n, &a);
    assert_int_equal(a.status, 413);
    send_req(&ca, "POST", READ, big, strlen(big), ++ca.n, &a);
    assert_int_equal(a.status, 413); /* refused before the MAC: not signed */
    cl nobody = ca;
    nobody.sid[0] = nobody.sid[0] == 'A' ? 'B' : 'A';
    send_req(&nobody, "POST", BATCH, big, strlen(big), 1, &a);
    assert_int_equal(a.status, 401);
    free(big);
    /* Up to 4 MiB: as any request. */
    big = big_batch(OPC_PROTO_MAX_REQUEST - 4096);
    send_req(&cc, "POST", BATCH, big, strlen(big), ++cc.n, &a);
    assert_int_equal(a.status, 401); /* the owner's endpoint */
    call(&ca, "POST", BATCH, big, &a);
    assert_int_equal(a.status, 409);
    free(big);
    /* Above OPC_PROTO_MAX_OWNER_BATCH: 413 from the head alone. */
    int fd = raw_start(port, BATCH, ca.sid, OPC_PROTO_MAX_OWNER_BATCH + 1);
    assert_int_equal(raw_status(fd), 413);
    close(fd);
    /* A Connect session's head announcing 5 MiB: 413 at once. */
    fd = raw_start(port, BATCH, cc.sid, 5u * 1024 * 1024);
    assert_int_equal(raw_status(fd), 413);
    close(fd);

    /* Two large bodies being read at once: a third is 503 with Retry-After,
     * unread; once they are gone, large bodies are read again. */
    int f1 = raw_start(port, BATCH, ca.sid, 8u * 1024 * 1024);
    int f2 = raw_start(port, BATCH, ca.sid, 8u * 1024 * 1024);
    nanosleep(&(struct timespec){0, 500000000L}, NULL);
    big = big_batch(OPC_PROTO_MAX_REQUEST + 4096);
    send_req(&ca, "POST", BATCH, big, strlen(big), ++ca.n, &a);
    assert_int_equal(a.status, 503); /* refused before the MAC: not signed */
    char ra[16];
    header(&a, "Retry-After", ra, sizeof ra);
    assert_true(atoi(ra) > 0);
    assert_non_null(strstr(a.body, "\"unavailable\""));
    /* a small request still goes */
    assert_int_equal(rows(&ca, READ, "{\"read\":\"vault.feed_head\",\"args\":[]}", &a), 200);
    close(f1);
    close(f2);
    long st = 0;
    for (int i = 0; i < 100 && st != 409; i++) {
        send_req(&ca, "POST", BATCH, big, strlen(big), ++ca.n, &a);
        st = a.status;
        if (st == 503) {
            nanosleep(&(struct timespec){0, 100000000L}, NULL);
        }
    }
    assert_int_equal(st, 409);
    free(big);
    assert_int_equal(file_head(t.a.path), head);

    opc_accountd_free(s);
    tx_teardown(&t);
}

/* The largest batch for real: a 64 MiB document's 1,024 sealed chunks in
 * one request (~85.5 MiB of JSON) fits OPC_PROTO_MAX_OWNER_BATCH, is read
 * for the owner and committed whole. */
static void test_largest_batch(void **state)
{
    (void)state;
    tx t;
    tx_setup(&t);
    opc_accountd *s = serve(&t);
    cl ca;
    session(s, &ca, OPC_AD_KIND_OWNER, t.id_a, "");
    size_t chunk = OPC_FILE_CHUNK_SIZE + OPC_GCM_TAG_LEN; /* a sealed chunk */
    size_t n_chunks = OPC_ACCOUNT_MAX_FILE_SIZE / OPC_FILE_CHUNK_SIZE;
    uint8_t *raw = malloc(chunk);
    assert_non_null(raw);
    assert_int_equal(opc__rand_bytes(raw, chunk), OPC_OK);
    char *b64 = NULL;
    size_t b64_len = 0;
    assert_int_equal(opc__b64_encode(raw, chunk, OPC_B64URL, &b64, &b64_len), OPC_OK);
    free(raw);
    size_t cap = n_chunks * (b64_len + 200) + 64;
    char *body = malloc(cap);
    assert_non_null(body);
    char file_id[27];
    assert_int_equal(opc__id_generate(file_id), OPC_OK);
    size_t len = (size_t)snprintf(body, cap, "{\"batch\":[");
    for (size_t i = 0; i < n_chunks; i++) {
        len += (size_t)snprintf(body + len, cap - len,
                                "%s{\"stmt\":\"file.chunk_insert\",\"args\":[\"%s\",\"%s\",%zu,\"",
                                i > 0 ? "," : "", t.ia, file_id, i);
        memcpy(body + len, b64, b64_len);
        len += b64_len;
        len += (size_t)snprintf(body + len, cap - len, "\"],\"expect\":1}");
    }
    len += (size_t)snprintf(body + len, cap - len, "]}");
    opc__free(b64);
    assert_true(len > OPC_PROTO_MAX_REQUEST);
    /* room left for the item row's statements */
    assert_true(len + 8u * 1024 * 1024 < OPC_PROTO_MAX_OWNER_BATCH);
    resp a;
    int64_t t0 = tx_now_ms();
    call_len(&ca, "POST", BATCH, body, len, &a);
    if (a.status != 200) {
        fail_msg("%zu bytes: %ld %s", len, a.status, a.body);
    }
    assert_string_equal(a.body, "{\"seqs\":[]}");
    print_message("a batch of %zu bytes in %lld ms\n", len, (long long)(tx_now_ms() - t0));
    free(body);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(t.a.path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*), sum(length(blob)) FROM files WHERE "
                                        "item_id = ?1 AND file_id = ?2",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, t.ia, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, file_id, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), (int64_t)n_chunks);
    assert_int_equal(sqlite3_column_int64(st, 1), (int64_t)(n_chunks * chunk));
    sqlite3_finalize(st);
    sqlite3_close(db);
    opc_accountd_free(s);
    tx_teardown(&t);
}

int main(void)
{
    /* The server allocates on threads of its own: the system allocator. */
    const struct CMUnitTest served[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_large_bodies),
        cmocka_unit_test(test_largest_batch),
    };
    return cmocka_run_group_tests_name("accountd_rows", served, opc_test_http_group_setup,
                                       opc_test_http_group_teardown);
}
