/*
 * account/remote.c - the owner's client of op-account-server
 * (<opconnect/account.h>, opc_account_remote_*; docs/protocol.md, "Owner
 * sign-in"): sign-up, the SRP sign-in, the owner session file, signed
 * owner requests (the same MACs as a Connect session's), the account row
 * and sign-out. The HTTP exchanges are net/transport.c's.
 *
 * The session file <dir>/session-<accountId> (0600, dir 0700) holds
 *
 *   {"accountId", "exp", "address",
 *    "remote": envelope_S({"auk","sid","kReq","kRes","counter"},
 *                         AAD "opconnect/owner-session/v1|<accountId>|<exp>|<address>")}
 *
 * with S the random 32-byte session token returned to the caller, as for a
 * local session (session.c): the file alone holds only ciphertext, the
 * token alone is a random key. The counter grows with every request; the
 * file holds the highest counter reserved, sealed again (same S) once per
 * block of requests. One process at a time uses a session (a lock file
 * next to it), so two `op` never collide on a counter. Never the password
 * or the Secret Key.
 *
 * An open session (remote_int.h: opc__remote_attach) holds the session
 * file's lock while it is used, and reserves counters in blocks; a remote
 * handle (remote_rows.c: opc_account_remote_open) downloads the account
 * row and runs the owner's store protocol over its opc__remote_request,
 * so it works like an account file.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "account/account_int.h"
#include "account/remote_int.h"
#include "account/signup.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/rand.h"
#include "core/secret.h"
#include "core/time.h"
#include "crypto/base64.h"
#include "crypto/envelope.h"
#include "crypto/srp.h"
#include "net/transport.h"
#include "wire/labels.h"
#include "wire/proto.h"

#define SESSION_KID "session"
#define SESSION_MAX_FILE 16384
#define MAX_ADDRESS 200
#define CALL_TIMEOUT_MS 30000

/* ---- the exchange ---- */

typedef struct remote {
    opc__transport *t;
    char address[MAX_ADDRESS + 1];
    bool lost; /* the last request left without an answer coming back (outcome unknown) */
} remote;

static opc_err remote_open(remote *r, const char *address, const char *ca_file, opc__ebuf *eb)
{
    memset(r, 0, sizeof *r);
    if (address == NULL || strlen(address) > MAX_ADDRESS) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "the account server's address is too long");
    }
    opc_err rc = opc__transport_open(address, ca_file, &r->t, eb);
    if (rc == OPC_ERR_CREDENTIALS) {
        rc = OPC_ERR_INVALID_ARG; /* the message names the URL's problem */
    }
    if (rc == OPC_OK) {
        (void)snprintf(r->address, sizeof r->address, "%s", address);
    }
    return rc;
}

static void remote_close(remote *r)
{
    opc__transport_close(r->t);
    r->t = NULL;
}

static opc_err check_protocol(const remote *r, const char *v, opc__ebuf *eb)
{
    char *end = NULL;
    errno = 0;
    unsigned long major = v[0] != '\0' ? strtoul(v, &end, 10) : 0;
    if (v[0] == '\0' || errno != 0 || end == v || (*end != '\0' && *end != '.') ||
        major != OPC_PROTO_VERSION) {
        return opc__fail(eb, OPC_ERR_IO, "%s is not an account server of protocol %d",
                         opc__transport_host(r->t), OPC_PROTO_VERSION);
    }
    return OPC_OK;
}

/*
 * One exchange: body j (NULL: none), signed with keys/sid/counter when
 * keys is not NULL (the answer's MAC is then checked before anything
 * else). OPC_OK with *out the 200 answer's JSON; an error answer mapped by
 * opc__proto_error_decode; a 429 is OPC_ERR_IO "rate limited".
 */
static opc_err exchange(remote *r, const char *method, const char *target, const cJSON *j,
                        const opc__proto_keys *keys, const char *sid, uint64_t counter,
                        const opc__remote_limits *lim, cJSON **out, opc__ebuf *eb)
{
    static const opc__remote_limits small = {OPC_PROTO_MAX_OWNER_MSG, CALL_TIMEOUT_MS};
    if (lim == NULL) {
        lim = &small;
    }
    *out = NULL;
    r->lost = false;
    char *body = NULL;
    size_t len = 0;
    opc_err rc = j != NULL ? opc__json_print(j, &body, &len) : OPC_OK;
    if (rc != OPC_OK) {
        return rc;
    }
    char auth[96] = "", ctr[64] = "", mach[96] = "";
    const char *headers[4] = {NULL, NULL, NULL, NULL};
    if (keys != NULL) {
        char mac[OPC_PROTO_HASH_B64 + 1];
        rc = opc__proto_mac_request(keys, sid, counter, method, target, body != NULL ? body : "",
                                    len, mac);
        if (rc != OPC_OK) {
            opc__free(body);
            return rc;
        }
        (void)snprintf(auth, sizeof auth, "Authorization: %s %s", OPC_PROTO_AUTH_SCHEME, sid);
        (void)snprintf(ctr, sizeof ctr, "%s: %" PRIu64, OPC_PROTO_COUNTER_HEADER, counter);
        (void)snprintf(mach, sizeof mach, "%s: %s", OPC_PROTO_MAC_HEADER, mac);
        OPENSSL_cleanse(mac, sizeof mac);
        headers[0] = auth;
        headers[1] = ctr;
        headers[2] = mach;
    }
    opc__transport_answer a;
    char why[OPC_TRANSPORT_WHY_MAX] = "";
    opc__net net = opc__transport_send(r->t, method, target, headers, body, len, lim->timeout_ms,
                                       NULL, &a, why);
    r->lost = net == OPC__NET_LOST || net == OPC__NET_INTERRUPTED || net == OPC__NET_TOO_LARGE;
    OPENSSL_cleanse(mach, sizeof mach);
    if (body != NULL) {
        opc__secret_free(body, len);
    }
    if (net == OPC__NET_NOMEM) {
        rc = OPC_ERR_NOMEM;
    } else if (net != OPC__NET_ANSWERED) {
        rc = opc__fail(eb, OPC_ERR_IO, "account server %s: %s", opc__transport_host(r->t),
                       why[0] != '\0' ? why : "no answer");
    }
    if (rc == OPC_OK && keys != NULL) {
        char want[OPC_PROTO_HASH_B64 + 1];
        rc = opc__proto_mac_answer(keys, sid, counter, (int)a.status, a.body != NULL ? a.body : "",
                                   a.len, want);
        bool ok = rc == OPC_OK && !a.mac_bad && opc__proto_mac_equal(a.mac, want);
        /* Refusals made before the server reads the body (a body too
         * large, too many large bodies at once, a rate limit) carry no
         * MAC: taken as refusals, never as answers. */
        bool refusal = rc == OPC_OK && !ok && a.mac[0] == '\0' &&
                       (a.status == 413 || a.status == 429 || a.status == 503);
        if (refusal) {
            rc = a.status == 413 ? opc__fail(eb, OPC_ERR_TOO_LARGE,
                                             "account server %s: the request is too large",
                                             opc__transport_host(r->t))
                                 : opc__fail(eb, OPC_ERR_IO,
                                             "account server %s: busy, retry in %s s",
                                             opc__transport_host(r->t),
                                             a.retry_after[0] != '\0' ? a.retry_after : "a few");
        } else if (rc == OPC_OK && !ok) {
            rc = a.status == 401 ? opc__fail(eb, OPC_ERR_PERMISSION,
                                             "the account server does not know this session "
                                             "(expired or signed out): sign in again")
                                 : opc__fail(eb, OPC_ERR_SIGNATURE,
                                             "account server %s: answer failed its MAC check",
                                             opc__transport_host(r->t));
        }
    }
    if (rc == OPC_OK) {
        rc = check_protocol(r, a.protocol, eb);
    }
    cJSON *doc = NULL;
    if (rc == OPC_OK && a.len > 0) {
        opc__json_limits jl = {.max_size = lim->max_answer, .max_depth = 8};
        opc__ebuf peb;
        opc__ebuf_clear(&peb);
        if (opc__json_parse(a.body, a.len, &jl, &doc, &peb) != OPC_OK) {
            rc = opc__fail(eb, OPC_ERR_IO, "account server %s: malformed answer (%s)",
                           opc__transport_host(r->t), peb.msg);
        }
    }
    if (rc == OPC_OK && a.status == 429) {
        rc = opc__fail(eb, OPC_ERR_IO, "account server %s: rate limited, retry in %s s",
                       opc__transport_host(r->t), a.retry_after[0] != '\0' ? a.retry_after : "?");
    } else if (rc == OPC_OK && a.status != 200 && a.status != 201) {
        rc = opc__proto_error_decode((int)a.status, doc, eb);
        if (rc == OPC_OK) {
            rc = opc__fail(eb, OPC_ERR_IO, "account server: HTTP %ld", a.status);
        }
    }
    opc__transport_answer_clear(&a);
    if (rc != OPC_OK) {
        cJSON_Delete(doc);
        return rc;
    }
    *out = doc;
    return OPC_OK;
}

/* ---- sign-up ---- */

static void copy_id(const char *id, char *out, size_t out_len)
{
    if (out != NULL && out_len > 0) {
        (void)snprintf(out, out_len, "%s", id);
    }
}

static opc_err remote_create(const char *address, const char *ca_file, const char *email,
                             const char *password, char *out_id, size_t out_id_len,
                             opc_secret **out_secret_key, opc__ebuf *eb)
{
    opc__proto_signup su;
    opc_secret *sk = NULL;
    remote r;
    if (out_secret_key == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    opc_err rc = remote_open(&r, address, ca_file, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    rc = opc__account_signup_make(email, password, OPC_ACCOUNT_DEFAULT_ITERATIONS,
                                  OPC_ACCOUNT_MIN_ITERATIONS, &su, &sk, eb);
    cJSON *msg = NULL;
    cJSON *ans = NULL;
    if (rc == OPC_OK) {
        rc = opc__proto_signup_encode(&su, &msg);
    }
    if (rc == OPC_OK) {
        rc = exchange(&r, "POST", "/v1/owner/signup", msg, NULL, NULL, 0, NULL, &ans, eb);
        if (rc == OPC_ERR_EXISTS || rc == OPC_ERR_CONFLICT) {
            rc = opc__fail(eb, OPC_ERR_EXISTS, "the account server already has an account for %s",
                           su.account.email);
        }
    }
    if (rc == OPC_OK) {
        copy_id(su.account.id, out_id, out_id_len);
        *out_secret_key = sk;
        sk = NULL;
    }
    cJSON_Delete(msg);
    cJSON_Delete(ans);
    opc_secret_free(sk);
    opc__proto_signup_clear(&su);
    remote_close(&r);
    return rc;
}

opc_err opc_account_remote_create(const char *address, const char *ca_file, const char *email,
                                  const char *password, char *out_id, size_t out_id_len,
                                  opc_secret **out_secret_key, char *errbuf, size_t errbuf_len)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__require_init();
    if (out_secret_key != NULL) {
        *out_secret_key = NULL;
    }
    if (rc == OPC_OK && (address == NULL || email == NULL || password == NULL ||
                         out_secret_key == NULL || out_id == NULL || out_id_len < OPC_ID_LEN + 1)) {
        (void)opc__fail(&eb, OPC_ERR_INVALID_ARG, "account create: missing argument");
        rc = OPC_ERR_INVALID_ARG;
    }
    if (rc == OPC_OK) {
        rc = remote_create(address, ca_file, email, password, out_id, out_id_len, out_secret_key,
                           &eb);
    }
    opc__ebuf_export(&eb, errbuf, errbuf_len);
    return rc;
}

/* ---- the session file ---- */

typedef struct rsession {
    char account[OPC_ID_LEN + 1];
    char address[MAX_ADDRESS + 1];
    int64_t exp;
    char sid[OPC_PROTO_NONCE_B64 + 1];
    opc__proto_keys keys;
    uint64_t counter;
    uint8_t auk[32];
    uint8_t token[32]; /* S */
} rsession;

static void rsession_wipe(rsession *s)
{
    OPENSSL_cleanse(s, sizeof *s);
}

static opc_err session_path(const char *dir, const char *account, char out[PATH_MAX], opc__ebuf *eb)
{
    if (!opc__id_valid_str(account)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "not an account id");
    }
    int n = snprintf(out, PATH_MAX, "%s/session-%s", dir, account);
    if (n < 0 || n >= PATH_MAX) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "session directory path is too long");
    }
    return OPC_OK;
}

static opc_err add_b64(cJSON *o, const char *name, const uint8_t *p, size_t n)
{
    char buf[64];
    opc_err rc = opc__b64_encode_to(p, n, OPC_B64URL, buf, sizeof buf, NULL);
    if (rc == OPC_OK && cJSON_AddStringToObject(o, name, buf) == NULL) {
        rc = OPC_ERR_NOMEM;
    }
    OPENSSL_cleanse(buf, sizeof buf);
    return rc;
}

static opc_err get_b64(const cJSON *o, const char *name, uint8_t *out, size_t n)
{
    const char *s = NULL;
    size_t got = 0;
    if (opc__json_get_str(o, name, true, "session", &s, NULL) != OPC_OK ||
        opc__b64_decode_to(s, strlen(s), OPC_B64URL, out, n, &got, NULL) != OPC_OK || got != n) {
        return OPC_ERR_PARSE;
    }
    return OPC_OK;
}

/* Seal s into its file (written whole to a temporary file, then renamed). */
static opc_err session_write(const char *dir, const rsession *s, opc__ebuf *eb)
{
    char path[PATH_MAX];
    opc_err rc = session_path(dir, s->account, path, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_session_dir(dir, eb);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    char aad[OPC_WIRE_LABEL_MAX];
    rc = opc__wire_remote_session_aad(aad, sizeof aad, s->account, s->exp, s->address);
    cJSON *inner = cJSON_CreateObject();
    cJSON *doc = cJSON_CreateObject();
    cJSON *env = NULL;
    opc__key *key = NULL;
    char *pt = NULL;
    size_t pt_len = 0;
    char *text = NULL;
    size_t text_len = 0;
    if (rc == OPC_OK && (inner == NULL || doc == NULL)) {
        rc = OPC_ERR_NOMEM;
    }
    if (rc == OPC_OK) {
        rc = add_b64(inner, "auk", s->auk, sizeof s->auk);
    }
    if (rc == OPC_OK) {
        rc = add_b64(inner, "kReq", s->keys.k_req, sizeof s->keys.k_req);
    }
    if (rc == OPC_OK) {
        rc = add_b64(inner, "kRes", s->keys.k_res, sizeof s->keys.k_res);
    }
    if (rc == OPC_OK && (cJSON_AddStringToObject(inner, "sid", s->sid) == NULL ||
                         cJSON_AddNumberToObject(inner, "counter", (double)s->counter) == NULL)) {
        rc = OPC_ERR_NOMEM;
    }
    if (rc == OPC_OK) {
        rc = opc__json_print(inner, &pt, &pt_len);
    }
    if (rc == OPC_OK) {
        rc = opc__key_from_oct(s->token, sizeof s->token, SESSION_KID,
                               OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &key);
    }
    if (rc == OPC_OK) {
        rc = opc__envelope_seal(key, aad, strlen(aad), pt, pt_len, &env);
    }
    if (rc == OPC_OK) {
        if (cJSON_AddStringToObject(doc, "accountId", s->account) == NULL ||
            cJSON_AddNumberToObject(doc, "exp", (double)s->exp) == NULL ||
            cJSON_AddStringToObject(doc, "address", s->address) == NULL) {
            rc = OPC_ERR_NOMEM;
        } else {
            cJSON_AddItemToObject(doc, "remote", env);
            env = NULL;
        }
    }
    if (rc == OPC_OK) {
        rc = opc__json_print(doc, &text, &text_len);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_session_store(dir, path, text, text_len, eb);
    }
    if (pt != NULL) {
        opc__secret_free(pt, pt_len);
    }
    opc__free(text);
    opc__json_delete_secret(inner);
    cJSON_Delete(doc);
    cJSON_Delete(env);
    opc__key_free(key);
    return rc;
}

static opc_err session_read(const char *dir, const char *account, const char *token, rsession *s,
                            opc__ebuf *eb)
{
    memset(s, 0, sizeof *s);
    char path[PATH_MAX];
    opc_err rc = session_path(dir, account, path, eb);
    char *text = NULL;
    size_t len = 0;
    if (rc == OPC_OK) {
        rc = opc__acct_session_load(path, dir, &text, &len, eb);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    cJSON *doc = NULL;
    cJSON *inner = NULL;
    opc__key *key = NULL;
    opc_secret *pt = NULL;
    const char *acct = NULL;
    const char *addr = NULL;
    size_t tl = 0;
    rc = opc__json_parse(text, len, NULL, &doc, NULL);
    if (rc == OPC_OK) {
        rc = opc__json_get_str(doc, "accountId", true, "session file", &acct, NULL);
    }
    if (rc == OPC_OK) {
        rc = opc__json_get_str(doc, "address", true, "session file", &addr, NULL);
    }
    if (rc == OPC_OK) {
        rc =
            opc__json_get_int(doc, "exp", true, "session file", 0, INT64_C(1) << 40, &s->exp, NULL);
    }
    if (rc == OPC_OK &&
        (addr == NULL || strlen(addr) > MAX_ADDRESS || opc__json_member(doc, "remote") == NULL)) {
        rc = OPC_ERR_PARSE;
    }
    if (rc != OPC_OK) {
        rc = rc == OPC_ERR_NOMEM
                 ? rc
                 : opc__fail(eb, OPC_ERR_PARSE, "the session file in %s is malformed", dir);
    }
    if (rc == OPC_OK && (acct == NULL || addr == NULL)) {
        rc = opc__fail(eb, OPC_ERR_PARSE, "the session file in %s is malformed", dir);
    }
    if (rc == OPC_OK && acct != NULL && strcmp(acct, account) != 0) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "no session for this account in %s", dir);
    }
    if (rc == OPC_OK && opc__now_s() >= s->exp) {
        rc = opc__fail(eb, OPC_ERR_RANGE, "the session has expired: sign in again");
    }
    if (rc == OPC_OK) {
        memcpy(s->account, account, OPC_ID_LEN + 1);
        (void)snprintf(s->address, sizeof s->address, "%s", addr);
        if (opc__b64_decode_to(token, strlen(token), OPC_B64URL, s->token, sizeof s->token, &tl,
                               NULL) != OPC_OK ||
            tl != sizeof s->token) {
            rc = opc__fail(eb, OPC_ERR_DECRYPT, "wrong session token");
        }
    }
    if (rc == OPC_OK) {
        rc = opc__key_from_oct(s->token, sizeof s->token, SESSION_KID,
                               OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &key);
    }
    if (rc == OPC_OK) {
        char aad[OPC_WIRE_LABEL_MAX];
        char *env_text = NULL;
        rc = opc__wire_remote_session_aad(aad, sizeof aad, s->account, s->exp, s->address);
        if (rc == OPC_OK) {
            rc = opc__json_print(opc__json_member(doc, "remote"), &env_text, NULL);
        }
        if (rc == OPC_OK) {
            rc = opc__acct_open(key, aad, env_text, "session", &pt, NULL);
        }
        opc__free(env_text);
        if (rc != OPC_OK && rc != OPC_ERR_NOMEM) {
            rc = opc__fail(eb, OPC_ERR_DECRYPT, "wrong session token");
        }
    }
    if (rc == OPC_OK) {
        int64_t counter = 0;
        const char *sid = NULL;
        if (opc__json_parse(opc_secret_data(pt), opc_secret_len(pt), NULL, &inner, NULL) !=
                OPC_OK ||
            get_b64(inner, "auk", s->auk, sizeof s->auk) != OPC_OK ||
            get_b64(inner, "kReq", s->keys.k_req, sizeof s->keys.k_req) != OPC_OK ||
            get_b64(inner, "kRes", s->keys.k_res, sizeof s->keys.k_res) != OPC_OK ||
            opc__json_get_str(inner, "sid", true, "session", &sid, NULL) != OPC_OK ||
            strlen(sid) != OPC_PROTO_NONCE_B64 ||
            opc__json_get_int(inner, "counter", true, "session", 0, INT64_C(1) << 52, &counter,
                              NULL) != OPC_OK) {
            rc = opc__fail(eb, OPC_ERR_PARSE, "the session file in %s is malformed", dir);
        } else {
            memcpy(s->sid, sid, sizeof s->sid);
            s->counter = (uint64_t)counter;
        }
    }
    opc__json_delete_secret(inner);
    opc_secret_free(pt);
    opc__key_free(key);
    cJSON_Delete(doc);
    opc__free(text);
    if (rc != OPC_OK) {
        rsession_wipe(s);
    }
    return rc;
}

/* ---- the open session (remote_int.h) ---- */

/*
 * One process at a time uses a session: the counter must grow with every
 * request, so two processes sharing it would collide (the second one's
 * request refused as a replay). The lock file session-<accountId>.lock
 * (0600, next to the session) is held from opening to closing; another
 * `op` waits up to LOCK_WAIT_MS for it.
 */
#define LOCK_WAIT_MS 30000
/* Counters are reserved in blocks: the file holds the highest counter this
 * process may use, so it is rewritten once every COUNTER_BLOCK requests,
 * and a process that dies never lets the next reuse a counter. The server
 * only needs them to grow. */
#define COUNTER_BLOCK 64

struct opc__remote {
    char dir[PATH_MAX];
    rsession s;
    remote r;
    int lock_fd;
    uint64_t reserved; /* the counter in the file */
};

static opc_err lock_session(const char *dir, const char *account, int *out, opc__ebuf *eb)
{
    *out = -1;
    char session[PATH_MAX];
    char path[PATH_MAX];
    opc_err rc = session_path(dir, account, session, eb);
    if (rc == OPC_OK) {
        int n = snprintf(path, sizeof path, "%s.lock", session);
        if (n < 0 || (size_t)n >= sizeof path) {
            rc = opc__fail(eb, OPC_ERR_INVALID_ARG, "session directory path is too long");
        }
    }
    if (rc == OPC_OK) {
        rc = opc__acct_session_dir(dir, eb);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return opc__fail(eb, OPC_ERR_IO, "cannot open the session's lock file in %s: %s", dir,
                         strerror(errno));
    }
    int64_t until = opc__monotonic_ms() + LOCK_WAIT_MS;
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            rc = opc__fail(eb, OPC_ERR_IO, "cannot lock the session in %s: %s", dir,
                           strerror(errno));
            break;
        }
        if (opc__monotonic_ms() >= until) {
            rc = opc__fail(eb, OPC_ERR_IO,
                           "another op has used the session of account %s for %d s: try again "
                           "when it is done",
                           account, LOCK_WAIT_MS / 1000);
            break;
        }
        (void)usleep(10000);
    }
    if (rc != OPC_OK) {
        (void)close(fd);
        return rc;
    }
    *out = fd;
    return OPC_OK;
}

opc_err opc__remote_attach(const char *dir, const char *account, const char *token,
                           const char *ca_file, opc__remote **out, opc__ebuf *eb)
{
    *out = NULL;
    if (strlen(dir) >= PATH_MAX) {
        (void)opc__fail(eb, OPC_ERR_INVALID_ARG, "session directory path is too long");
        return OPC_ERR_INVALID_ARG; /* literally, for the analyzer */
    }
    opc__remote *x = opc__calloc(1, sizeof *x);
    if (x == NULL) {
        return OPC_ERR_NOMEM;
    }
    x->lock_fd = -1;
    (void)snprintf(x->dir, sizeof x->dir, "%s", dir);
    opc_err rc = lock_session(dir, account, &x->lock_fd, eb);
    if (rc == OPC_OK) {
        rc = session_read(dir, account, token, &x->s, eb);
    }
    if (rc == OPC_OK) {
        x->reserved = x->s.counter;
        rc = remote_open(&x->r, x->s.address, ca_file, eb);
    }
    if (rc != OPC_OK) {
        opc__remote_detach(x);
        return rc;
    }
    *out = x;
    return OPC_OK;
}

void opc__remote_detach(opc__remote *x)
{
    if (x == NULL) {
        return;
    }
    remote_close(&x->r);
    rsession_wipe(&x->s);
    if (x->lock_fd >= 0) {
        (void)close(x->lock_fd); /* releases the lock */
    }
    opc__free(x);
}

const char *opc__remote_address(const opc__remote *x)
{
    return x->s.address;
}

const char *opc__remote_account(const opc__remote *x)
{
    return x->s.account;
}

bool opc__remote_lost(const opc__remote *x)
{
    return x->r.lost;
}

const uint8_t *opc__remote_auk(const opc__remote *x)
{
    return x->s.auk;
}

/*
 * The one signed owner request: the counter is reserved in the session
 * file before the request leaves, so a counter is never used twice even
 * when the process dies.
 */
opc_err opc__remote_request(opc__remote *x, const char *method, const char *target,
                            const cJSON *body, const opc__remote_limits *lim, cJSON **out,
                            opc__ebuf *eb)
{
    rsession *s = &x->s;
    s->counter++;
    if (s->counter > x->reserved) {
        uint64_t next = s->counter;
        s->counter = next + COUNTER_BLOCK - 1;
        opc_err rc = session_write(x->dir, s, eb);
        s->counter = next;
        if (rc != OPC_OK) {
            x->r.lost = false;
            return rc;
        }
        x->reserved = next + COUNTER_BLOCK - 1;
    }
    return exchange(&x->r, method, target, body, &s->keys, s->sid, s->counter, lim, out, eb);
}

/* ---- sign-in ---- */

/* One sign-in: legacy derives x and the AUK from the password's bytes as
 * typed (an account made before passwords were normalised). */
static opc_err signin(const char *address, const char *ca_file, const char *email,
                      const char *password, const char *secret_key, const char *dir, bool legacy,
                      char *out_id, size_t out_id_len, opc_secret **out_token, opc__ebuf *eb)
{
    const opc__srp_group *g = opc__srp_group_get(OPC_SRP_GROUP_BITS);
    opc__proto_auth_start st;
    opc__proto_auth_challenge ch;
    opc__proto_auth_verify vf;
    opc__proto_auth_session ss;
    opc__secret_key sk;
    rsession s;
    uint8_t x[32];
    uint8_t K[OPC_PROTO_SRP_PROOF_LEN];
    opc__srp_client *c = NULL;
    cJSON *msg = NULL;
    cJSON *ans = NULL;
    char *email_lc = NULL;
    char *tr = NULL;
    size_t tr_len = 0;
    remote r;
    memset(&st, 0, sizeof st);
    memset(&vf, 0, sizeof vf);
    memset(&ch, 0, sizeof ch);
    memset(&ss, 0, sizeof ss);
    memset(&sk, 0, sizeof sk);
    memset(&s, 0, sizeof s);

    opc_err rc = remote_open(&r, address, ca_file, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    rc = opc__acct_normalize_email(email, &email_lc, eb);
    if (rc == OPC_OK) {
        rc = opc__secret_key_parse(secret_key, &sk, eb);
    }
    if (rc == OPC_OK) {
        (void)snprintf(st.email, sizeof st.email, "%s", email_lc);
        rc = opc__srp_client_start(g, st.A, sizeof st.A, &c, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__proto_auth_start_encode(&st, &msg);
    }
    if (rc == OPC_OK) {
        rc = exchange(&r, "POST", "/v1/owner/auth/start", msg, NULL, NULL, 0, NULL, &ans, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__proto_auth_challenge_decode(ans, &ch, eb);
    }
    cJSON_Delete(msg);
    cJSON_Delete(ans);
    msg = ans = NULL;
    if (rc == OPC_OK && ch.iterations < OPC_ACCOUNT_MIN_ITERATIONS) {
        rc = opc__fail(eb, OPC_ERR_RANGE,
                       "the account server asks for %u 2SKD iterations, below the minimum of %u "
                       "(refused: a downgrade is an attack)",
                       ch.iterations, OPC_ACCOUNT_MIN_ITERATIONS);
    }
    if (rc == OPC_OK) {
        rc = legacy ? opc__2skd_legacy(password, email_lc, &sk, ch.srp_salt, OPC_2SKD_LABEL_SRP,
                                       ch.iterations, x, eb)
                    : opc__2skd_srp_x(password, email_lc, &sk, ch.srp_salt, ch.iterations, x, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__srp_client_finish(c, email_lc, strlen(email_lc), ch.srp_salt, sizeof ch.srp_salt,
                                    x, sizeof x, ch.B, sizeof ch.B, vf.M1, sizeof vf.M1, eb);
        if (rc != OPC_OK && rc != OPC_ERR_NOMEM) {
            rc = opc__fail(eb, OPC_ERR_PERMISSION,
                           "sign-in refused: the server's challenge is "
                           "invalid");
        }
    }
    if (rc == OPC_OK) {
        memcpy(vf.id, ch.id, sizeof vf.id);
        rc = opc__proto_auth_verify_encode(&vf, &msg);
    }
    if (rc == OPC_OK) {
        rc = exchange(&r, "POST", "/v1/owner/auth/verify", msg, NULL, NULL, 0, NULL, &ans, eb);
        if (rc == OPC_ERR_PERMISSION) {
            rc = opc__fail(eb, OPC_ERR_PERMISSION,
                           "sign-in refused: wrong email, password or Secret Key");
        }
    }
    if (rc == OPC_OK) {
        rc = opc__proto_auth_session_decode(ans, &ss, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__srp_client_verify(c, ss.M2, sizeof ss.M2, K, sizeof K, eb);
        if (rc != OPC_OK && rc != OPC_ERR_NOMEM) {
            rc = opc__fail(eb, OPC_ERR_SIGNATURE,
                           "the account server did not prove it holds the verifier");
        }
    }
    /* The session's keys, and the AUK that unlocks the keyset it will download. */
    if (rc == OPC_OK) {
        rc = opc__proto_owner_transcript(ch.id, ss.account, ss.session, ss.expires, &tr, &tr_len);
    }
    if (rc == OPC_OK) {
        rc = opc__proto_session_keys(K, sizeof K, tr, tr_len, OPC_PROTO_KEYS_INFO_OWNER, &s.keys);
    }
    if (rc == OPC_OK) {
        rc = legacy ? opc__account_auk_legacy(password, email_lc, &sk, ch.kdf_salt, ch.iterations,
                                              OPC_ACCOUNT_MIN_ITERATIONS, s.auk, eb)
                    : opc__account_auk(password, email_lc, &sk, ch.kdf_salt, ch.iterations,
                                       OPC_ACCOUNT_MIN_ITERATIONS, s.auk, eb);
    }
    if (rc == OPC_OK) {
        memcpy(s.account, ss.account, sizeof s.account);
        (void)snprintf(s.address, sizeof s.address, "%s", r.address);
        memcpy(s.sid, ss.session, sizeof s.sid);
        s.exp = ss.expires;
        s.counter = 0;
        rc = opc__rand_bytes(s.token, sizeof s.token);
    }
    if (rc == OPC_OK) {
        /* Under the session's lock: an op still using the old session
         * would otherwise write it back over the new one. */
        int fd = -1;
        rc = lock_session(dir, s.account, &fd, eb);
        if (rc == OPC_OK) {
            rc = session_write(dir, &s, eb);
            (void)close(fd);
        }
    }
    if (rc == OPC_OK) {
        char tok[64];
        rc = opc__b64_encode_to(s.token, sizeof s.token, OPC_B64URL, tok, sizeof tok, NULL);
        if (rc == OPC_OK) {
            rc = opc__secret_new(tok, strlen(tok), out_token);
        }
        OPENSSL_cleanse(tok, sizeof tok);
    }
    if (rc == OPC_OK) {
        copy_id(s.account, out_id, out_id_len);
    }
    opc__free(tr);
    cJSON_Delete(msg);
    cJSON_Delete(ans);
    opc__srp_client_free(c);
    opc__free(email_lc);
    OPENSSL_cleanse(x, sizeof x);
    OPENSSL_cleanse(K, sizeof K);
    OPENSSL_cleanse(&sk, sizeof sk);
    OPENSSL_cleanse(&vf, sizeof vf);
    OPENSSL_cleanse(&ss, sizeof ss);
    rsession_wipe(&s);
    remote_close(&r);
    return rc;
}

opc_err opc_account_remote_signin(const char *address, const char *ca_file, const char *email,
                                  const char *password, const char *secret_key, const char *dir,
                                  char *out_id, size_t out_id_len, opc_secret **out_token,
                                  char *errbuf, size_t errbuf_len)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (out_token != NULL) {
        *out_token = NULL;
    }
    opc_err rc = opc__require_init();
    if (rc == OPC_OK && (address == NULL || email == NULL || password == NULL ||
                         secret_key == NULL || dir == NULL || dir[0] == '\0' || out_token == NULL ||
                         out_id == NULL || out_id_len < OPC_ID_LEN + 1)) {
        (void)opc__fail(&eb, OPC_ERR_INVALID_ARG, "signin: missing argument");
        rc = OPC_ERR_INVALID_ARG;
    }
    /*
     * The normalised password first; an account made before passwords
     * were normalised answers only to the bytes as typed (docs/account.md,
     * "Passwords"): a second sign-in with those, when they differ (or the
     * password is not UTF-8, which only that derivation takes). The server
     * counts the first as a failed handshake. It is not re-keyed: the
     * protocol has no step that replaces the verifier and the keyset's
     * envelope.
     */
    bool utf8 = false;
    bool differ = false;
    if (rc == OPC_OK) {
        rc = opc__2skd_password_forms(password, &utf8, &differ, &eb);
    }
    if (rc == OPC_OK && utf8) {
        rc = signin(address, ca_file, email, password, secret_key, dir, false, out_id, out_id_len,
                    out_token, &eb);
    } else if (rc == OPC_OK) {
        rc = OPC_ERR_PERMISSION;
    }
    if (rc == OPC_ERR_PERMISSION && differ) {
        opc__ebuf_clear(&eb);
        rc = signin(address, ca_file, email, password, secret_key, dir, true, out_id, out_id_len,
                    out_token, &eb);
    }
    opc__ebuf_export(&eb, errbuf, errbuf_len);
    return rc;
}

/* ---- sign-out ---- */

opc_err opc_account_remote_signout(const char *dir, const char *account_id, const char *token,
                                   const char *ca_file, char *errbuf, size_t errbuf_len)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__require_init();
    if (rc == OPC_OK && (dir == NULL || account_id == NULL || token == NULL)) {
        (void)opc__fail(&eb, OPC_ERR_INVALID_ARG, "missing argument");
        rc = OPC_ERR_INVALID_ARG;
    }
    opc__remote *x = NULL;
    if (rc == OPC_OK) {
        rc = opc__remote_attach(dir, account_id, token, ca_file, &x, &eb);
    }
    if (rc == OPC_OK) {
        cJSON *ans = NULL;
        rc = opc__remote_request(x, "POST", "/v1/owner/signout", NULL, NULL, &ans, &eb);
        cJSON_Delete(ans);
    }
    /* The local file goes whatever the server said (its session expires
     * on its own when it could not be told); the lock is held meanwhile. */
    char path[PATH_MAX];
    opc__ebuf peb;
    opc__ebuf_clear(&peb);
    if (dir != NULL && account_id != NULL && session_path(dir, account_id, path, &peb) == OPC_OK &&
        unlink(path) != 0 && errno != ENOENT && rc == OPC_OK) {
        rc = opc__fail(&eb, OPC_ERR_IO, "cannot delete the session file in %s", dir);
    }
    opc__remote_detach(x);
    opc__ebuf_export(&eb, errbuf, errbuf_len);
    return rc;
}
