/*
 * tests/unit/test_api_auth.c - the bearer-token pipeline of lib/view/auth.c
 * (security-model §2.5 and §3.4) against a fake token registry and tokens
 * signed here with a pinned issuer key.
 *
 * routes.c maps OPC_ERR_TOKEN to 401 and a missing or insufficient vts bit
 * to 403; status_of() and scope_status() below restate that mapping so the
 * tests can assert the HTTP codes.
 */
#include "harness.h"

#include "view/auth.h"
#include "core/alloc.h"
#include "core/err.h"
#include "credentials/credentials.h"
#include "crypto/base64.h"
#include "crypto/jwt.h"
#include "crypto/key.h"

#define SERVER_ID "serverserverserverserver22"
#define ACCOUNT_ID "accountaccountaccountacc22"
#define OTHER_ID "otherotherotherotherother2"
#define DEVICE_UUID "devicedevicedevicedevice22"
#define SERVICE_URL "https://account.example.test:8443"
#define VAULT_R "vaultreadvaultreadvaultrea"
#define VAULT_RW "vaultrwvaultrwvaultrwvault"
#define VAULT_OUT "vaultoutvaultoutvaultoutva"
#define JTI1 "tokenonetokenonetokenoneto"
#define JTI2 "tokentwotokentwotokentwoto"
#define NOW ((int64_t)1700000000)
#define DEFAULT_VTS "[{\"u\":\"" VAULT_R "\",\"a\":1},{\"u\":\"" VAULT_RW "\",\"a\":3}]"

/* Keys and the credentials file, made once per group (RSA is slow). */
static struct {
    opc__key *device;
    opc__key *issuer;   /* pinned, kid issuer-1 */
    opc__key *rogue;    /* not pinned, same kid issuer-1 */
    opc__key *stranger; /* not pinned, kid issuer-x */
    opc__key *enc;
    opc__key *sym;
    uint8_t T[32];
    uint8_t T2[32];
    char *creds_json; /* plain malloc */
} K;

/* The fake registry. */
typedef struct reg_row {
    const char *jti;
    opc__token_state state;
    int64_t expires;
} reg_row;

static struct {
    reg_row rows[4];
    size_t n;
    uint64_t gen;
    unsigned lookups;
} R;

/* Per-test objects. */
static struct {
    opc_credentials *creds;
    opc__auth *auth;
} F;

static uint64_t reg_generation(void *ud)
{
    assert_ptr_equal(ud, &R);
    return R.gen;
}

static opc__token_state reg_lookup(void *ud, const char *jti, int64_t *expires)
{
    assert_ptr_equal(ud, &R);
    R.lookups++;
    for (size_t i = 0; i < R.n; i++) {
        if (strcmp(R.rows[i].jti, jti) == 0) {
            *expires = R.rows[i].expires;
            return R.rows[i].state;
        }
    }
    return OPC_TOKEN_UNKNOWN;
}

static void reg_put(const char *jti, opc__token_state st, int64_t expires)
{
    for (size_t i = 0; i < R.n; i++) {
        if (strcmp(R.rows[i].jti, jti) == 0) {
            R.rows[i].state = st;
            R.rows[i].expires = expires;
            return;
        }
    }
    assert_true(R.n < sizeof R.rows / sizeof R.rows[0]);
    R.rows[R.n++] = (reg_row){jti, st, expires};
}

static int group_setup(void **state)
{
    if (opc_test_group_setup(state) != 0) {
        return -1;
    }
    for (size_t i = 0; i < sizeof K.T; i++) {
        K.T[i] = (uint8_t)(0xa0 + i); /* obviously fake */
        K.T2[i] = (uint8_t)(0x50 + i);
    }
    if (opc__key_generate_ec("device-1", OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, &K.device) != OPC_OK ||
        opc__key_generate_ec("issuer-1", OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, &K.issuer) != OPC_OK ||
        opc__key_generate_ec("issuer-1", OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, &K.rogue) != OPC_OK ||
        opc__key_generate_ec("issuer-x", OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, &K.stranger) !=
            OPC_OK ||
        opc__key_generate_rsa("enc-1", OPC_KEYOP_WRAP | OPC_KEYOP_UNWRAP, &K.enc) != OPC_OK ||
        opc__key_generate_oct("sym-1", OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &K.sym) != OPC_OK) {
        return -1;
    }
    const opc__key *issuers[1] = {K.issuer};
    opc__credentials_params p = {
        .server_id = SERVER_ID,
        .account_id = ACCOUNT_ID,
        .service_url = SERVICE_URL,
        .device_key = K.device,
        .issuer_keys = issuers,
        .n_issuer_keys = 1,
        .enc_key = K.enc,
        .sym_key = K.sym,
        .device_uuid = DEVICE_UUID,
    };
    char *json = NULL;
    size_t len = 0;
    if (opc__credentials_create(&p, K.T, &json, &len, NULL) != OPC_OK) {
        return -1;
    }
    K.creds_json = strdup(json);
    opc__secret_free(json, len);
    return K.creds_json != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
    opc__key_free(K.device);
    opc__key_free(K.issuer);
    opc__key_free(K.rogue);
    opc__key_free(K.stranger);
    opc__key_free(K.enc);
    opc__key_free(K.sym);
    free(K.creds_json);
    memset(&K, 0, sizeof K);
    return opc_test_group_teardown(state);
}

/*
 * Per-test objects are made and released inside each test body: cmocka counts
 * a block the test allocates (e.g. the keys an unlock opens) and teardown
 * frees as a leak.
 */
static int up(void)
{
    memset(&R, 0, sizeof R);
    R.gen = 1;
    memset(&F, 0, sizeof F);
    char err[OPC_ERRBUF_SIZE] = "";
    if (opc_credentials_parse(K.creds_json, strlen(K.creds_json), &F.creds, err, sizeof err) !=
        OPC_OK) {
        return -1;
    }
    opc__auth_registry reg = {.ud = &R, .generation = reg_generation, .lookup = reg_lookup};
    return opc__auth_create(F.creds, &reg, &F.auth) == OPC_OK ? 0 : -1;
}

static void down(void)
{
    opc__auth_free(F.auth);
    opc_credentials_free(F.creds);
    memset(&F, 0, sizeof F);
}

/* ---- tokens ---- */

typedef struct tspec {
    const opc__key *key; /* signer; its kid goes in the header */
    const char *sub;
    const char *auuid;
    const char *aud;  /* a JSON value */
    const uint8_t *T; /* NULL: no 1password.com/token claim */
    const char *jti;
    int64_t iat;
    int64_t exp;     /* 0: no exp */
    const char *vts; /* a JSON array */
    const char *fts; /* a JSON array; NULL: ["vaultaccess"] */
} tspec;

static tspec spec(void)
{
    tspec s = {
        .key = K.issuer,
        .sub = SERVER_ID,
        .auuid = ACCOUNT_ID,
        .aud = "[\"" OPC_JWT_AUDIENCE "\"]",
        .T = K.T,
        .jti = JTI1,
        .iat = NOW - 10,
        .exp = NOW + 3600,
        .vts = DEFAULT_VTS,
    };
    return s;
}

/* The base64url form of T, as it appears in tokens. */
static void t64_of(const uint8_t *T, char out[48])
{
    assert_int_equal(opc__b64_encode_to(T, 32, OPC_B64URL, out, 48, NULL), OPC_OK);
}

/* "Bearer <compact JWS>" as a plain malloc'ed string. */
static char *bearer_for(const tspec *s)
{
    char header[128];
    snprintf(header, sizeof header, "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
             opc__key_kid(s->key));
    char t64[48] = "";
    char token_claim[80] = "";
    if (s->T != NULL) {
        t64_of(s->T, t64);
        snprintf(token_claim, sizeof token_claim, "\"1password.com/token\":\"%s\",", t64);
    }
    char exp_claim[40] = "";
    if (s->exp != 0) {
        snprintf(exp_claim, sizeof exp_claim, "\"exp\":%lld,", (long long)s->exp);
    }
    char payload[2048];
    int n = snprintf(payload, sizeof payload,
                     "{\"1password.com/auuid\":\"%s\",%s\"1password.com/fts\":%s,"
                     "\"1password.com/vts\":%s,\"aud\":%s,\"sub\":\"%s\","
                     "\"iss\":\"" OPC_JWT_ISSUER "\",\"iat\":%lld,%s\"jti\":\"%s\"}",
                     s->auuid, token_claim, s->fts != NULL ? s->fts : "[\"vaultaccess\"]", s->vts,
                     s->aud, s->sub, (long long)s->iat, exp_claim, s->jti);
    assert_true(n > 0 && (size_t)n < sizeof payload);
    char *tok = NULL;
    assert_int_equal(opc__jws_sign_es256(s->key, header, payload, &tok), OPC_OK);
    size_t len = strlen("Bearer ") + strlen(tok) + 1;
    char *out = malloc(len);
    assert_non_null(out);
    snprintf(out, len, "Bearer %s", tok);
    opc__free(tok);
    return out;
}

static char *bearer_default(void)
{
    tspec s = spec();
    return bearer_for(&s);
}

/* ---- checks ---- */

/* The HTTP status routes.c answers for an opc__auth_check result. */
static int status_of(opc_err rc)
{
    return rc == OPC_OK ? 200 : rc == OPC_ERR_TOKEN ? 401 : 500;
}

/* The status routes.c answers for a vault request by an authenticated token. */
static int scope_status(const opc__auth_token *tok, const char *vault, bool write)
{
    unsigned acl = opc__auth_acl(tok, vault);
    unsigned need = write ? OPC_ACL_WRITE : OPC_ACL_READ;
    if (acl == 0 || (acl & need) == 0) {
        return 403;
    }
    return 200;
}

static opc_err check_n(const char *const *hv, size_t n, int64_t now, opc__auth_token *tok,
                       opc__ebuf *eb)
{
    opc__ebuf_clear(eb);
    memset(tok, 0x5a, sizeof *tok); /* stale garbage the check must reset */
    return opc__auth_check(F.auth, hv, n, now, tok, eb);
}

static opc_err check1(const char *h, int64_t now, opc__auth_token *tok, opc__ebuf *eb)
{
    const char *hv[1] = {h};
    return check_n(hv, 1, now, tok, eb);
}

/* The message names no part of the token (segments of 8+ chars) and not T. */
static void assert_no_secret(const char *msg, const char *header)
{
    const char *tok = header;
    if (strncmp(tok, "Bearer ", 7) == 0) {
        tok += 7;
    }
    const char *seg = tok;
    for (;;) {
        const char *dot = strchr(seg, '.');
        size_t n = dot != NULL ? (size_t)(dot - seg) : strlen(seg);
        if (n >= 8) {
            char part[OPC_JWT_MAX_LEN + 2];
            if (n < sizeof part) {
                memcpy(part, seg, n);
                part[n] = '\0';
                if (strstr(msg, part) != NULL) {
                    fail_msg("message names the token: %s", msg);
                }
            }
        }
        if (dot == NULL) {
            break;
        }
        seg = dot + 1;
    }
    char t64[48];
    t64_of(K.T, t64);
    if (strstr(msg, t64) != NULL) {
        fail_msg("message names T: %s", msg);
    }
    t64_of(K.T2, t64);
    if (strstr(msg, t64) != NULL) {
        fail_msg("message names T2: %s", msg);
    }
}

/* A single header h is refused with 401 and reason. */
static void expect_denied_at(const char *h, int64_t now, int reason)
{
    opc__auth_token tok;
    opc__ebuf eb;
    opc_err rc = check1(h, now, &tok, &eb);
    if (rc != OPC_ERR_TOKEN || eb.reason != reason) {
        fail_msg("expected %s, got %s (%s): %s", opc__auth_reason_name(reason), opc_errname(rc),
                 opc__auth_reason_name(eb.reason), eb.msg);
    }
    assert_int_equal(status_of(rc), 401);
    assert_false(tok.cache_hit);
    assert_int_equal(tok.n_vaults, 0);
    assert_true(eb.msg[0] != '\0');
    assert_no_secret(eb.msg, h);
}

static void expect_denied(const char *h, int reason)
{
    expect_denied_at(h, NOW, reason);
}

/* A single header h is accepted; fills *tok. */
static void expect_ok_at(const char *h, int64_t now, opc__auth_token *tok)
{
    opc__ebuf eb;
    opc_err rc = check1(h, now, tok, &eb);
    if (rc != OPC_OK) {
        fail_msg("expected OK, got %s (%s): %s", opc_errname(rc), opc__auth_reason_name(eb.reason),
                 eb.msg);
    }
    assert_int_equal(status_of(rc), 200);
}

static void assert_locked(void)
{
    assert_false(opc__auth_unlocked(F.auth));
    assert_false(opc_credentials_is_unlocked(F.creds));
    assert_null(opc__credentials_enc_key(F.creds));
}

static void assert_stats(uint64_t hits, uint64_t misses)
{
    uint64_t h = 99, m = 99;
    opc__auth_stats(F.auth, &h, &m);
    assert_int_equal(h, hits);
    assert_int_equal(m, misses);
}

/* up() with JTI1 active and never expiring in the registry. */
static void up_active(void)
{
    assert_int_equal(up(), 0);
    reg_put(JTI1, OPC_TOKEN_ACTIVE, 0);
}

/* up_active() and a first accepted check of the default token, left in *tok. */
static char *up_unlocked(opc__auth_token *tok)
{
    up_active();
    char *h = bearer_default();
    expect_ok_at(h, NOW, tok);
    return h;
}

/* The token made from s is refused with reason. */
static void expect_spec_denied(const tspec *s, int reason)
{
    char *h = bearer_for(s);
    expect_denied(h, reason);
    free(h);
}

/* Nothing reached the registry or unlocked the server. */
static void assert_untouched(void)
{
    assert_int_equal(R.lookups, 0);
    assert_locked();
}

/* A claim test: with JTI1 active, the token of s is refused with reason before the registry. */
static void check_spec_refused(const tspec *s, int reason)
{
    up_active();
    expect_spec_denied(s, reason);
    assert_untouched();
    down();
}

/* ---- step 1: the header ---- */

static void test_api_auth_check_missing_header(void **state)
{
    (void)state;
    up_active();
    opc__auth_token tok;
    opc__ebuf eb;
    opc_err rc = check_n(NULL, 0, NOW, &tok, &eb);
    assert_int_equal(rc, OPC_ERR_TOKEN);
    assert_int_equal(status_of(rc), 401);
    assert_int_equal(eb.reason, OPC_AUTH_MISSING);
    assert_string_equal(tok.jti, "");
    assert_int_equal(tok.n_vaults, 0);
    const char *none[1] = {NULL};
    assert_int_equal(check_n(none, 1, NOW, &tok, &eb), OPC_ERR_TOKEN);
    assert_int_equal(eb.reason, OPC_AUTH_MISSING);
    assert_untouched();
    down();
}

static void test_api_auth_check_two_headers(void **state)
{
    (void)state;
    up_active();
    char *h = bearer_default();
    const char *hv[2] = {h, h}; /* even two copies of a valid token */
    opc__auth_token tok;
    opc__ebuf eb;
    opc_err rc = check_n(hv, 2, NOW, &tok, &eb);
    assert_int_equal(rc, OPC_ERR_TOKEN);
    assert_int_equal(status_of(rc), 401);
    assert_int_equal(eb.reason, OPC_AUTH_MULTIPLE);
    assert_no_secret(eb.msg, h);
    assert_untouched();
    /* Also after an unlock (the cache must not be consulted first). */
    expect_ok_at(h, NOW, &tok);
    rc = check_n(hv, 2, NOW, &tok, &eb);
    assert_int_equal(rc, OPC_ERR_TOKEN);
    assert_int_equal(eb.reason, OPC_AUTH_MULTIPLE);
    free(h);
    down();
}

static void test_api_auth_check_not_bearer(void **state)
{
    (void)state;
    up_active();
    char *h = bearer_default();
    const char *tok = h + 7;
    static const char *const schemes[] = {"Basic ", "Token ", "Bearer:", "Bearer\t", "Bearerx ",
                                          "Bear ",  "",       "JWT ",    "Bearer"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t len = strlen(schemes[i]) + strlen(tok) + 1;
        char *v = malloc(len);
        assert_non_null(v);
        snprintf(v, len, "%s%s", schemes[i], tok);
        expect_denied(v, OPC_AUTH_SCHEME);
        free(v);
    }
    expect_denied("Bearer", OPC_AUTH_SCHEME);
    expect_denied("Basic dXNlcjpwYXNz", OPC_AUTH_SCHEME);
    assert_untouched();
    free(h);
    down();
}

/* The scheme is case-insensitive (RFC 7235 §2.1); the token is not. */
static void test_api_auth_check_scheme_case_insensitive(void **state)
{
    (void)state;
    up_active();
    char *h = bearer_default();
    memcpy(h, "bEARER", 6);
    opc__auth_token tok;
    expect_ok_at(h, NOW, &tok);
    assert_string_equal(tok.jti, JTI1);
    free(h);
    down();
}

static void test_api_auth_check_empty_token(void **state)
{
    (void)state;
    assert_int_equal(up(), 0);
    expect_denied("Bearer ", OPC_AUTH_SCHEME);
    expect_denied("Bearer     ", OPC_AUTH_SCHEME);
    expect_denied("Bearer  \t ", OPC_AUTH_SCHEME);
    assert_untouched();
    down();
}

static void test_api_auth_check_malformed_token(void **state)
{
    (void)state;
    up_active();
    expect_denied("Bearer abc", OPC_JWT_SEGMENTS);
    expect_denied("Bearer a.b", OPC_JWT_SEGMENTS);
    expect_denied("Bearer a..c", OPC_JWT_SEGMENTS);
    expect_denied("Bearer a.b.c.d", OPC_JWT_SEGMENTS);
    expect_denied("Bearer a+b.c/d.e==", OPC_JWT_BASE64);
    expect_denied("Bearer eyJh bGci.x.y", OPC_AUTH_SCHEME); /* white space inside */
    expect_denied("Bearer eyJ\x01.x.y", OPC_AUTH_SCHEME);
    expect_denied("Bearer eyJ\xc3\xa9.x.y", OPC_AUTH_SCHEME);
    /* A valid token with one character of the payload changed. */
    char *h = bearer_default();
    char *p = strchr(h, '.') + 5;
    *p = *p == 'A' ? 'B' : 'A';
    expect_denied(h, OPC_JWT_SIG_INVALID);
    free(h);
    /* Over 8 KiB of token text. */
    char *big = malloc(7 + OPC_JWT_MAX_LEN + 2);
    assert_non_null(big);
    memcpy(big, "Bearer ", 7);
    memset(big + 7, 'a', OPC_JWT_MAX_LEN + 1);
    big[7 + OPC_JWT_MAX_LEN + 1] = '\0';
    expect_denied(big, OPC_JWT_TOO_LONG);
    free(big);
    assert_untouched();
    down();
}

/* ---- step 3: signature and claims ---- */

static void test_api_auth_check_bad_signature(void **state)
{
    (void)state;
    up_active();
    /* Signed by a key that claims the pinned kid. */
    tspec s = spec();
    s.key = K.rogue;
    expect_spec_denied(&s, OPC_JWT_SIG_INVALID);
    /* A valid token with its signature altered. */
    char *h = bearer_default();
    char *sig = strrchr(h, '.') + 10;
    *sig = *sig == 'A' ? 'B' : 'A';
    expect_denied(h, OPC_JWT_SIG_INVALID);
    free(h);
    /* A kid that is not pinned. */
    s.key = K.stranger;
    expect_spec_denied(&s, OPC_JWT_KID_UNKNOWN);
    /* None of these reached the registry or unlocked the server. */
    assert_untouched();
    down();
}

static void test_api_auth_check_expired(void **state)
{
    (void)state;
    up_active();
    tspec s = spec();
    s.iat = NOW - 7200;
    s.exp = NOW - OPC_JWT_LEEWAY_S;
    expect_spec_denied(&s, OPC_JWT_EXPIRED);
    assert_untouched();
    /* Within the leeway it is still valid. */
    s.exp = NOW - OPC_JWT_LEEWAY_S + 1;
    char *h = bearer_for(&s);
    opc__auth_token tok;
    expect_ok_at(h, NOW, &tok);
    free(h);
    down();
}

/* Issue 15 point 7: the leeway is a setting (default OPC_JWT_LEEWAY_S, 5 s).
 * A token that expired 10 s ago is refused with the default and accepted
 * with 30 s; no clock is shifted: the check takes now as an argument. */
static void test_api_auth_leeway_setting(void **state)
{
    (void)state;
    assert_int_equal(OPC_JWT_LEEWAY_S, 5);
    up_active();
    tspec s = spec();
    s.iat = NOW - 3600;
    s.exp = NOW - 10;
    char *h = bearer_for(&s);
    expect_denied_at(h, NOW, OPC_JWT_EXPIRED);
    assert_int_equal(opc__auth_set_leeway(F.auth, 30), OPC_OK);
    opc__auth_token tok;
    expect_ok_at(h, NOW, &tok);
    expect_ok_at(h, NOW + 19, &tok); /* 29 s past exp: in the cache, still valid */
    assert_true(tok.cache_hit);
    expect_denied_at(h, NOW + 20, OPC_JWT_EXPIRED); /* 30 s past exp */
    free(h);

    /* Leeway 0: exp == now is expired; the registry's expiry alike. */
    assert_int_equal(opc__auth_set_leeway(F.auth, 0), OPC_OK);
    s = spec();
    s.exp = NOW + 1;
    h = bearer_for(&s);
    expect_ok_at(h, NOW, &tok);
    expect_denied_at(h, NOW + 1, OPC_JWT_EXPIRED);
    free(h);
    reg_put(JTI1, OPC_TOKEN_ACTIVE, NOW + 1);
    s = spec();
    s.exp = 0; /* the token itself never expires */
    h = bearer_for(&s);
    expect_ok_at(h, NOW, &tok);
    expect_denied_at(h, NOW + 1, OPC_AUTH_REGISTRY_EXPIRED);
    free(h);

    assert_int_equal(opc__auth_set_leeway(F.auth, -1), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__auth_set_leeway(F.auth, OPC_JWT_LEEWAY_MAX_S + 1), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__auth_set_leeway(NULL, 5), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__auth_set_leeway(F.auth, OPC_JWT_LEEWAY_MAX_S), OPC_OK);
    down();
}

static void test_api_auth_check_wrong_sub(void **state)
{
    (void)state;
    tspec s = spec();
    s.sub = OTHER_ID;
    check_spec_refused(&s, OPC_JWT_SUB);
}

static void test_api_auth_check_wrong_auuid(void **state)
{
    (void)state;
    tspec s = spec();
    s.auuid = OTHER_ID;
    check_spec_refused(&s, OPC_JWT_AUUID);
}

static void test_api_auth_check_wrong_aud(void **state)
{
    (void)state;
    up_active();
    static const char *const auds[] = {"[\"com.1password.other\"]", "\"com.1password.other\"", "[]",
                                       "[\"com.1password.connect.x\"]"};
    for (size_t i = 0; i < sizeof auds / sizeof auds[0]; i++) {
        tspec s = spec();
        s.aud = auds[i];
        char *h = bearer_for(&s);
        expect_denied(h, OPC_JWT_AUD);
        free(h);
    }
    assert_untouched();
    down();
}

/* ---- step 4: the registry ---- */

static void test_api_auth_check_unknown_jti(void **state)
{
    (void)state;
    assert_int_equal(up(), 0);
    reg_put(JTI2, OPC_TOKEN_ACTIVE, 0); /* another token */
    char *h = bearer_default();
    opc__auth_token tok;
    opc__ebuf eb;
    assert_int_equal(check1(h, NOW, &tok, &eb), OPC_ERR_TOKEN);
    assert_int_equal(eb.reason, OPC_AUTH_UNKNOWN_JTI);
    assert_string_equal(tok.jti, JTI1); /* known for the log */
    assert_int_equal(R.lookups, 1);
    expect_denied(h, OPC_AUTH_UNKNOWN_JTI);
    free(h);
    assert_locked();
    down();
}

static void test_api_auth_check_revoked_jti(void **state)
{
    (void)state;
    assert_int_equal(up(), 0);
    reg_put(JTI1, OPC_TOKEN_REVOKED, 0);
    char *h = bearer_default();
    expect_denied(h, OPC_AUTH_REVOKED);
    free(h);
    assert_int_equal(R.lookups, 1);
    assert_locked();
    down();
}

static void test_api_auth_check_registry_expired(void **state)
{
    (void)state;
    assert_int_equal(up(), 0);
    reg_put(JTI1, OPC_TOKEN_ACTIVE, NOW - OPC_JWT_LEEWAY_S);
    char *h = bearer_default(); /* its own exp is an hour away */
    expect_denied(h, OPC_AUTH_REGISTRY_EXPIRED);
    free(h);
    assert_locked();
    down();
}

/* ---- step 5: the bearer secret T ---- */

static void test_api_auth_check_wrong_secret_stays_locked(void **state)
{
    (void)state;
    up_active();
    tspec s = spec();
    s.T = K.T2;
    char *h = bearer_for(&s);
    expect_denied(h, OPC_AUTH_SECRET);
    expect_denied(h, OPC_AUTH_SECRET);
    assert_locked();
    /* The right T still unlocks afterwards; the wrong one stays refused. */
    char *good = bearer_default();
    opc__auth_token tok;
    expect_ok_at(good, NOW, &tok);
    assert_true(opc__auth_unlocked(F.auth));
    expect_denied(h, OPC_AUTH_SECRET);
    free(good);
    free(h);
    down();
}

static void test_api_auth_check_missing_secret(void **state)
{
    (void)state;
    up_active();
    tspec s = spec();
    s.T = NULL;
    expect_spec_denied(&s, OPC_JWT_CLAIM_MISSING);
    assert_locked();
    down();
}

static void test_api_auth_check_first_token_unlocks(void **state)
{
    (void)state;
    assert_int_equal(up(), 0);
    reg_put(JTI1, OPC_TOKEN_ACTIVE, NOW + 3600);
    assert_locked();
    char *h = bearer_default();
    opc__auth_token tok;
    expect_ok_at(h, NOW, &tok);
    assert_true(opc__auth_unlocked(F.auth));
    assert_true(opc_credentials_is_unlocked(F.creds));
    assert_non_null(opc__credentials_enc_key(F.creds));
    assert_non_null(opc__credentials_sym_key(F.creds));
    assert_string_equal(tok.jti, JTI1);
    assert_false(tok.cache_hit);
    assert_int_equal(tok.n_vaults, 2);
    assert_string_equal(tok.vaults[0].vault, VAULT_R);
    assert_int_equal(tok.vaults[0].acl, OPC_ACL_READ);
    assert_string_equal(tok.vaults[1].vault, VAULT_RW);
    assert_int_equal(tok.vaults[1].acl, OPC_ACL_READ | OPC_ACL_WRITE);
    assert_int_equal(R.lookups, 1);
    assert_stats(0, 1);
    free(h);
    down();
}

static void test_api_auth_check_other_secret_after_unlock(void **state)
{
    (void)state;
    up_active();
    reg_put(JTI2, OPC_TOKEN_ACTIVE, 0);
    char *h = bearer_default();
    opc__auth_token tok;
    expect_ok_at(h, NOW, &tok);
    assert_true(opc__auth_unlocked(F.auth));
    tspec s = spec();
    s.jti = JTI2;
    s.T = K.T2;
    char *other = bearer_for(&s);
    expect_denied(other, OPC_AUTH_SECRET);
    expect_denied(other, OPC_AUTH_SECRET); /* never cached */
    assert_true(opc__auth_unlocked(F.auth));
    /* The first token still works. */
    expect_ok_at(h, NOW, &tok);
    assert_true(tok.cache_hit);
    free(other);
    free(h);
    down();
}

/* Credentials already unlocked when the object is made: T is still checked. */
static void test_api_auth_create_with_unlocked_credentials(void **state)
{
    (void)state;
    assert_int_equal(up(), 0);
    opc__auth_free(F.auth);
    F.auth = NULL;
    assert_int_equal(opc_credentials_unlock(F.creds, K.T, sizeof K.T, NULL, 0), OPC_OK);
    opc__auth_registry reg = {.ud = &R, .generation = reg_generation, .lookup = reg_lookup};
    assert_int_equal(opc__auth_create(F.creds, &reg, &F.auth), OPC_OK);
    reg_put(JTI1, OPC_TOKEN_ACTIVE, 0);
    reg_put(JTI2, OPC_TOKEN_ACTIVE, 0);
    tspec s = spec();
    s.jti = JTI2;
    s.T = K.T2;
    char *other = bearer_for(&s);
    expect_denied(other, OPC_AUTH_SECRET);
    char *h = bearer_default();
    opc__auth_token tok;
    expect_ok_at(h, NOW, &tok);
    assert_string_equal(tok.jti, JTI1);
    assert_true(opc__auth_unlocked(F.auth));
    expect_denied(other, OPC_AUTH_SECRET);
    free(other);
    free(h);
    down();
}

/* ---- the verified-token cache ---- */

static void test_api_auth_check_cache_hit(void **state)
{
    (void)state;
    opc__auth_token tok;
    char *h = up_unlocked(&tok);
    assert_false(tok.cache_hit);
    assert_int_equal(R.lookups, 1);
    assert_stats(0, 1);
    expect_ok_at(h, NOW + 1, &tok);
    assert_true(tok.cache_hit);
    assert_string_equal(tok.jti, JTI1);
    assert_int_equal(tok.n_vaults, 2);
    assert_int_equal(opc__auth_acl(&tok, VAULT_RW), OPC_ACL_READ | OPC_ACL_WRITE);
    assert_int_equal(R.lookups, 1); /* no registry lookup on a hit */
    assert_stats(1, 1);
    expect_ok_at(h, NOW + 2, &tok);
    assert_true(tok.cache_hit);
    assert_stats(2, 1);
    /* The same token with another scheme spelling and trailing space: same text, a hit. */
    size_t len = strlen(h) + 3;
    char *h2 = malloc(len);
    assert_non_null(h2);
    snprintf(h2, len, "bearer%s  ", h + 6);
    expect_ok_at(h2, NOW + 3, &tok);
    assert_true(tok.cache_hit);
    assert_stats(3, 1);
    free(h2);
    free(h);
    down();
}

/* The full-log permission ("activitylog" in 1password.com/fts) comes with
 * the token, verified or from the cache, and only with the token that
 * carries it. */
static void test_api_auth_check_features(void **state)
{
    (void)state;
    opc__auth_token tok;
    char *plain = up_unlocked(&tok);
    assert_int_equal(tok.features, 0);
    reg_put(JTI2, OPC_TOKEN_ACTIVE, 0);
    tspec s = spec();
    s.jti = JTI2;
    s.fts = "[\"vaultaccess\",\"" OPC_JWT_FEATURE_ACTIVITY_LOG "\"]";
    char *full = bearer_for(&s);
    expect_ok_at(full, NOW, &tok);
    assert_false(tok.cache_hit);
    assert_string_equal(tok.jti, JTI2);
    assert_int_equal(tok.features, OPC_JWT_FT_ACTIVITY_LOG);
    expect_ok_at(full, NOW + 1, &tok);
    assert_true(tok.cache_hit);
    assert_int_equal(tok.features, OPC_JWT_FT_ACTIVITY_LOG);
    /* The plain token, now a cache hit, right after: no feature left over. */
    expect_ok_at(plain, NOW + 1, &tok);
    assert_true(tok.cache_hit);
    assert_string_equal(tok.jti, JTI1);
    assert_int_equal(tok.features, 0);
    /* After a registry change the hit is looked up again: still the token's. */
    reg_put(JTI2, OPC_TOKEN_ACTIVE, 0);
    R.gen++;
    expect_ok_at(full, NOW + 2, &tok);
    assert_int_equal(tok.features, OPC_JWT_FT_ACTIVITY_LOG);
    free(full);
    free(plain);
    down();
}

static void test_api_auth_check_cache_sees_revocation(void **state)
{
    (void)state;
    opc__auth_token tok;
    char *h = up_unlocked(&tok);
    expect_ok_at(h, NOW, &tok);
    assert_true(tok.cache_hit);
    assert_int_equal(R.lookups, 1);
    /* The registry moves without touching this token: still a hit, one lookup. */
    R.gen++;
    expect_ok_at(h, NOW, &tok);
    assert_true(tok.cache_hit);
    assert_int_equal(R.lookups, 2);
    expect_ok_at(h, NOW, &tok);
    assert_true(tok.cache_hit);
    assert_int_equal(R.lookups, 2);
    /* Revoked, but the generation has not moved yet: still served. */
    reg_put(JTI1, OPC_TOKEN_REVOKED, 0);
    expect_ok_at(h, NOW, &tok);
    assert_true(tok.cache_hit);
    /* Once it moves, the revocation is seen, and stays seen. */
    R.gen++;
    expect_denied(h, OPC_AUTH_REVOKED);
    expect_denied(h, OPC_AUTH_REVOKED);
    assert_stats(4, 2);
    free(h);
    down();
}

static void test_api_auth_check_cache_sees_deletion(void **state)
{
    (void)state;
    opc__auth_token tok;
    char *h = up_unlocked(&tok);
    R.n = 0;
    R.gen++;
    expect_denied(h, OPC_AUTH_UNKNOWN_JTI);
    free(h);
    down();
}

static void test_api_auth_check_cache_respects_exp(void **state)
{
    (void)state;
    up_active();
    tspec s = spec();
    s.exp = NOW + 100;
    char *h = bearer_for(&s);
    opc__auth_token tok;
    expect_ok_at(h, NOW, &tok);
    expect_ok_at(h, NOW + 100 + OPC_JWT_LEEWAY_S - 1, &tok);
    assert_true(tok.cache_hit);
    expect_denied_at(h, NOW + 100 + OPC_JWT_LEEWAY_S, OPC_JWT_EXPIRED);
    free(h);
    down();
}

/* The registry's expiry holds for cached tokens too (without a generation change). */
static void test_api_auth_check_cache_respects_registry_expiry(void **state)
{
    (void)state;
    assert_int_equal(up(), 0);
    reg_put(JTI1, OPC_TOKEN_ACTIVE, NOW + 100);
    tspec s = spec();
    s.exp = 0; /* the token itself never expires */
    char *h = bearer_for(&s);
    opc__auth_token tok;
    expect_ok_at(h, NOW, &tok);
    expect_ok_at(h, NOW + 100 + OPC_JWT_LEEWAY_S - 1, &tok);
    assert_true(tok.cache_hit);
    expect_denied_at(h, NOW + 100 + OPC_JWT_LEEWAY_S, OPC_AUTH_REGISTRY_EXPIRED);
    expect_denied_at(h, NOW + 100 + OPC_JWT_LEEWAY_S, OPC_AUTH_REGISTRY_EXPIRED);
    /* Also when the generation moved meanwhile. */
    R.gen++;
    expect_denied_at(h, NOW + 100 + OPC_JWT_LEEWAY_S, OPC_AUTH_REGISTRY_EXPIRED);
    free(h);
    down();
}

static void test_api_auth_lock_empties_cache(void **state)
{
    (void)state;
    opc__auth_token tok;
    char *h = up_unlocked(&tok);
    expect_ok_at(h, NOW, &tok);
    assert_true(tok.cache_hit);
    opc__auth_lock(F.auth);
    assert_locked();
    expect_ok_at(h, NOW, &tok);
    assert_false(tok.cache_hit);
    assert_true(opc__auth_unlocked(F.auth));
    assert_true(opc_credentials_is_unlocked(F.creds));
    assert_int_equal(R.lookups, 2);
    free(h);
    down();
}

/* ---- scope (step 6, answered by routes.c from opc__auth_acl) ---- */

static void test_api_auth_acl_read_in_vts(void **state)
{
    (void)state;
    opc__auth_token tok;
    char *h = up_unlocked(&tok);
    assert_int_equal(opc__auth_acl(&tok, VAULT_R), OPC_ACL_READ);
    assert_int_equal(scope_status(&tok, VAULT_R, false), 200);
    assert_int_equal(scope_status(&tok, VAULT_RW, false), 200);
    assert_int_equal(scope_status(&tok, VAULT_RW, true), 200);
    /* The same from the cache. */
    expect_ok_at(h, NOW, &tok);
    assert_true(tok.cache_hit);
    assert_int_equal(scope_status(&tok, VAULT_R, false), 200);
    free(h);
    down();
}

static void test_api_auth_acl_write_with_read_only(void **state)
{
    (void)state;
    opc__auth_token tok;
    char *h = up_unlocked(&tok);
    assert_int_equal(opc__auth_acl(&tok, VAULT_R) & OPC_ACL_WRITE, 0);
    assert_int_equal(scope_status(&tok, VAULT_R, true), 403);
    expect_ok_at(h, NOW, &tok);
    assert_true(tok.cache_hit);
    assert_int_equal(scope_status(&tok, VAULT_R, true), 403);
    free(h);
    down();
}

static void test_api_auth_acl_vault_not_in_vts(void **state)
{
    (void)state;
    opc__auth_token tok;
    char *h = up_unlocked(&tok);
    assert_int_equal(opc__auth_acl(&tok, VAULT_OUT), 0);
    assert_int_equal(scope_status(&tok, VAULT_OUT, false), 403);
    assert_int_equal(scope_status(&tok, VAULT_OUT, true), 403);
    /* Ids are compared exactly (vts ids are lower-cased by the verifier). */
    assert_int_equal(opc__auth_acl(&tok, "VAULTREADVAULTREADVAULTREA"), 0);
    assert_int_equal(opc__auth_acl(&tok, "vaultreadvaultreadvaultre"), 0);
    assert_int_equal(opc__auth_acl(&tok, ""), 0);
    assert_int_equal(opc__auth_acl(&tok, NULL), 0);
    assert_int_equal(opc__auth_acl(NULL, VAULT_R), 0);
    free(h);
    /* A token with an empty vts has no vault at all. */
    reg_put(JTI2, OPC_TOKEN_ACTIVE, 0);
    tspec s = spec();
    s.jti = JTI2;
    s.vts = "[]";
    h = bearer_for(&s);
    expect_ok_at(h, NOW, &tok);
    assert_int_equal(tok.n_vaults, 0);
    assert_int_equal(scope_status(&tok, VAULT_R, false), 403);
    free(h);
    down();
}

/* ---- misc ---- */

static void test_api_auth_check_bad_args(void **state)
{
    (void)state;
    assert_int_equal(up(), 0);
    opc__auth_token tok;
    opc__ebuf eb;
    const char *hv[1] = {"Bearer x.y.z"};
    assert_int_equal(opc__auth_check(NULL, hv, 1, NOW, &tok, &eb), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__auth_check(F.auth, hv, 1, NOW, NULL, &eb), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__auth_check(F.auth, NULL, 1, NOW, &tok, &eb), OPC_ERR_INVALID_ARG);
    opc__auth *a = (opc__auth *)1;
    opc__auth_registry reg = {.ud = &R, .generation = reg_generation, .lookup = NULL};
    assert_int_equal(opc__auth_create(F.creds, &reg, &a), OPC_ERR_INVALID_ARG);
    assert_null(a);
    assert_int_equal(opc__auth_create(NULL, &reg, &a), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc__auth_create(F.creds, NULL, &a), OPC_ERR_INVALID_ARG);
    assert_string_equal(opc__auth_reason_name(OPC_AUTH_REVOKED), "revoked");
    assert_string_equal(opc__auth_reason_name(OPC_JWT_SIG_INVALID),
                        opc__jwt_reason_name(OPC_JWT_SIG_INVALID));
    assert_string_equal(opc__auth_reason_name(-1), "unknown");
    opc__auth_free(NULL);
    opc__auth_lock(NULL);
    assert_false(opc__auth_unlocked(NULL));
    down();
}

#define T_(name) cmocka_unit_test(name)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T_(test_api_auth_check_missing_header),
        T_(test_api_auth_check_two_headers),
        T_(test_api_auth_check_not_bearer),
        T_(test_api_auth_check_scheme_case_insensitive),
        T_(test_api_auth_check_empty_token),
        T_(test_api_auth_check_malformed_token),
        T_(test_api_auth_check_bad_signature),
        T_(test_api_auth_check_expired),
        T_(test_api_auth_leeway_setting),
        T_(test_api_auth_check_wrong_sub),
        T_(test_api_auth_check_wrong_auuid),
        T_(test_api_auth_check_wrong_aud),
        T_(test_api_auth_check_unknown_jti),
        T_(test_api_auth_check_revoked_jti),
        T_(test_api_auth_check_registry_expired),
        T_(test_api_auth_check_wrong_secret_stays_locked),
        T_(test_api_auth_check_missing_secret),
        T_(test_api_auth_check_first_token_unlocks),
        T_(test_api_auth_check_other_secret_after_unlock),
        T_(test_api_auth_create_with_unlocked_credentials),
        T_(test_api_auth_check_cache_hit),
        T_(test_api_auth_check_features),
        T_(test_api_auth_check_cache_sees_revocation),
        T_(test_api_auth_check_cache_sees_deletion),
        T_(test_api_auth_check_cache_respects_exp),
        T_(test_api_auth_check_cache_respects_registry_expiry),
        T_(test_api_auth_lock_empties_cache),
        T_(test_api_auth_acl_read_in_vts),
        T_(test_api_auth_acl_write_with_read_only),
        T_(test_api_auth_acl_vault_not_in_vts),
        T_(test_api_auth_check_bad_args),
    };
    return cmocka_run_group_tests_name("api_auth", tests, group_setup, group_teardown);
}
