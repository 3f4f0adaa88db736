/*
 * tls/acme_msg.c - ACME messages (RFC 8555): the JWS of each request, the
 * key authorization, and strict parsers of the CA's responses.
 */
#include "internal.h"

#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/strparse.h"
#include "core/time.h"
#include "crypto/base64.h"
#include "crypto/jwt.h"
#include "crypto/kdf.h"
#include "tls/acme.h"

static const opc__json_limits acme_limits = {.max_size = OPC_ACME_JSON_MAX, .max_depth = 8};

static const struct {
    const char *name;
    opc__acme_status status;
} statuses[] = {
    {"pending", OPC_ACME_PENDING},       {"ready", OPC_ACME_READY},
    {"processing", OPC_ACME_PROCESSING}, {"valid", OPC_ACME_VALID},
    {"invalid", OPC_ACME_INVALID},       {"deactivated", OPC_ACME_DEACTIVATED},
    {"expired", OPC_ACME_EXPIRED},       {"revoked", OPC_ACME_REVOKED},
};

const char *opc__acme_status_name(opc__acme_status s)
{
    for (size_t i = 0; i < OPC_ARRAY_LEN(statuses); i++) {
        if (statuses[i].status == s) {
            return statuses[i].name;
        }
    }
    return "unknown";
}

bool opc__acme_url_ok(const char *url)
{
    size_t n = strlen(url);
    if (n <= 8 || n >= OPC_ACME_URL_MAX || strncmp(url, "https://", 8) != 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f) {
            return false;
        }
    }
    return true;
}

/* Copy a required (or optional) https URL member into out[OPC_ACME_URL_MAX]. */
static opc_err get_url(const cJSON *obj, const char *key, bool required, const char *what,
                       char *out, opc__ebuf *eb)
{
    const char *s = NULL;
    opc_err rc = opc__json_get_str(obj, key, required, what, &s, eb);
    if (rc != OPC_OK || s == NULL) {
        return rc;
    }
    if (!opc__acme_url_ok(s)) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s: \"%s\" is not an https URL", what, key);
    }
    memcpy(out, s, strlen(s) + 1);
    return OPC_OK;
}

static opc_err get_status(const cJSON *obj, const char *what, opc__acme_status *out,
                          opc__ebuf *eb)
{
    const char *s = NULL;
    opc_err rc = opc__json_get_str(obj, "status", true, what, &s, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    for (size_t i = 0; i < OPC_ARRAY_LEN(statuses); i++) {
        if (strcmp(statuses[i].name, s) == 0) {
            *out = statuses[i].status;
            return OPC_OK;
        }
    }
    return opc__fail(eb, OPC_ERR_PARSE, "%s: unknown status \"%.32s\"", what, s);
}

/* Printable copy of untrusted text: controls and non-ASCII become '?'. */
static void copy_text(char *out, size_t cap, const char *s)
{
    size_t i = 0;
    for (; s[i] != '\0' && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        char ch = s[i];
        if (c < 0x20 || c >= 0x7f) {
            ch = '?';
        }
        out[i] = ch;
    }
    out[i] = '\0';
}

static opc_err parse_root(const char *body, size_t len, const char *what, cJSON **root,
                          opc__ebuf *eb)
{
    opc_err rc = opc__json_parse(body, len, &acme_limits, root, eb);
    if (rc != OPC_OK) {
        opc__ebuf_prefix(eb, "%s", what);
        return rc;
    }
    if (!cJSON_IsObject(*root)) {
        cJSON_Delete(*root);
        *root = NULL;
        return opc__fail(eb, OPC_ERR_PARSE, "%s: not a JSON object", what);
    }
    return OPC_OK;
}

/* A JSON object with a "status" member (orders, authorizations). */
static opc_err parse_with_status(const char *body, size_t len, const char *what, cJSON **root,
                                 opc__acme_status *status, opc__ebuf *eb)
{
    opc_err rc = parse_root(body, len, what, root, eb);
    if (rc == OPC_OK) {
        rc = get_status(*root, what, status, eb);
    }
    return rc;
}

opc_err opc__acme_parse_directory(const char *body, size_t len, opc__acme_directory *out,
                                  opc__ebuf *eb)
{
    memset(out, 0, sizeof *out);
    cJSON *root = NULL;
    static const char what[] = "ACME directory";
    opc_err rc = parse_root(body, len, what, &root, eb);
    if (rc == OPC_OK) {
        rc = get_url(root, "newNonce", true, what, out->new_nonce, eb);
    }
    if (rc == OPC_OK) {
        rc = get_url(root, "newAccount", true, what, out->new_account, eb);
    }
    if (rc == OPC_OK) {
        rc = get_url(root, "newOrder", true, what, out->new_order, eb);
    }
    cJSON_Delete(root);
    return rc;
}

static void problem_from(const cJSON *obj, opc__acme_problem *out)
{
    memset(out, 0, sizeof *out);
    const char *s = NULL;
    if (opc__json_get_str(obj, "type", false, "problem", &s, NULL) == OPC_OK && s != NULL) {
        copy_text(out->type, sizeof out->type, s);
    }
    s = NULL;
    if (opc__json_get_str(obj, "detail", false, "problem", &s, NULL) == OPC_OK && s != NULL) {
        copy_text(out->detail, sizeof out->detail, s);
    }
    int64_t st = 0;
    if (opc__json_get_int(obj, "status", false, "problem", 0, 999, &st, NULL) == OPC_OK) {
        out->status = st;
    }
}

/* The optional "error" member of an order or challenge. */
static void error_member(const cJSON *obj, opc__acme_problem *out)
{
    const cJSON *err = opc__json_member(obj, "error");
    if (cJSON_IsObject(err)) {
        problem_from(err, out);
    }
}

opc_err opc__acme_parse_problem(const char *body, size_t len, opc__acme_problem *out,
                                opc__ebuf *eb)
{
    memset(out, 0, sizeof *out);
    cJSON *root = NULL;
    opc_err rc = parse_root(body, len, "ACME problem", &root, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    problem_from(root, out);
    cJSON_Delete(root);
    if (out->type[0] == '\0' && out->detail[0] == '\0') {
        return opc__fail(eb, OPC_ERR_PARSE, "ACME problem: neither type nor detail");
    }
    return OPC_OK;
}

opc_err opc__acme_parse_order(const char *body, size_t len, opc__acme_order *out,
                              opc__ebuf *eb)
{
    memset(out, 0, sizeof *out);
    cJSON *root = NULL;
    static const char what[] = "ACME order";
    opc_err rc = parse_with_status(body, len, what, &root, &out->status, eb);
    if (rc == OPC_OK) {
        rc = get_url(root, "finalize", true, what, out->finalize, eb);
    }
    if (rc == OPC_OK) {
        rc = get_url(root, "certificate", false, what, out->certificate, eb);
    }
    const cJSON *az = opc__json_member(root, "authorizations");
    if (rc == OPC_OK && !cJSON_IsArray(az)) {
        rc = opc__fail(eb, OPC_ERR_PARSE, "%s: \"authorizations\" must be an array", what);
    }
    if (rc == OPC_OK) {
        for (const cJSON *a = az->child; a != NULL; a = a->next) {
            if (out->n_authz == OPC_ACME_MAX_AUTHZ) {
                rc = opc__fail(eb, OPC_ERR_TOO_LARGE, "%s: more than %d authorizations", what,
                               OPC_ACME_MAX_AUTHZ);
                break;
            }
            if (!cJSON_IsString(a) || !opc__acme_url_ok(a->valuestring)) {
                rc = opc__fail(eb, OPC_ERR_PARSE, "%s: an authorization is not an https URL",
                               what);
                break;
            }
            memcpy(out->authz[out->n_authz++], a->valuestring, strlen(a->valuestring) + 1);
        }
    }
    if (rc == OPC_OK) {
        error_member(root, &out->error);
    }
    cJSON_Delete(root);
    return rc;
}

static bool token_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > OPC_ACME_TOKEN_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return false;
        }
    }
    return true;
}

/* The tls-alpn-01 entry of "challenges", if any. */
static opc_err parse_challenges(const cJSON *root, opc__acme_authz *out, opc__ebuf *eb)
{
    static const char what[] = "ACME challenge";
    const cJSON *ch = opc__json_member(root, "challenges");
    if (!cJSON_IsArray(ch)) {
        return opc__fail(eb, OPC_ERR_PARSE, "ACME authorization: \"challenges\" must be an array");
    }
    for (const cJSON *c = ch->child; c != NULL; c = c->next) {
        const char *type = NULL;
        opc_err rc = opc__json_get_str(c, "type", true, what, &type, eb);
        if (rc != OPC_OK) {
            return rc;
        }
        if (strcmp(type, "tls-alpn-01") != 0 || out->has_challenge) {
            continue;
        }
        const char *token = NULL;
        rc = get_status(c, what, &out->challenge_status, eb);
        if (rc == OPC_OK) {
            rc = get_url(c, "url", true, what, out->challenge_url, eb);
        }
        if (rc == OPC_OK) {
            rc = opc__json_get_str(c, "token", true, what, &token, eb);
        }
        if (rc == OPC_OK && !token_ok(token)) {
            rc = opc__fail(eb, OPC_ERR_PARSE, "%s: \"token\" is not base64url", what);
        }
        if (rc != OPC_OK) {
            return rc;
        }
        memcpy(out->token, token, strlen(token) + 1);
        error_member(c, &out->challenge_error);
        out->has_challenge = true;
    }
    return OPC_OK;
}

opc_err opc__acme_parse_authz(const char *body, size_t len, opc__acme_authz *out,
                              opc__ebuf *eb)
{
    memset(out, 0, sizeof *out);
    cJSON *root = NULL;
    static const char what[] = "ACME authorization";
    opc_err rc = parse_with_status(body, len, what, &root, &out->status, eb);
    const cJSON *id = opc__json_member(root, "identifier");
    const char *type = NULL;
    const char *value = NULL;
    if (rc == OPC_OK) {
        rc = opc__json_get_str(id, "type", true, "ACME identifier", &type, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__json_get_str(id, "value", true, "ACME identifier", &value, eb);
    }
    if (rc == OPC_OK && strcmp(type, "dns") != 0) {
        rc = opc__fail(eb, OPC_ERR_UNSUPPORTED, "%s: identifier type \"%.16s\"", what, type);
    }
    if (rc == OPC_OK) {
        rc = opc__acme_domain_check(value, out->domain, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__json_get_bool(root, "wildcard", false, what, &out->wildcard, eb);
    }
    if (rc == OPC_OK) {
        rc = parse_challenges(root, out, eb);
    }
    cJSON_Delete(root);
    return rc;
}

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool digits(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (exactly 29 characters). */
static bool imf_fixdate(const char *s, size_t n, int64_t *out)
{
    int64_t d, y, hh, mm, ss;
    if (n != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[19] != ':' || s[22] != ':' || memcmp(s + 25, " GMT", 4) != 0 ||
        !digits(s + 5, 2, &d) || !digits(s + 12, 4, &y) || !digits(s + 17, 2, &hh) ||
        !digits(s + 20, 2, &mm) || !digits(s + 23, 2, &ss) || d < 1 || d > 31 || y < 1970 ||
        hh > 23 || mm > 59 || ss > 60) {
        return false;
    }
    for (unsigned m = 0; m < 12; m++) {
        if (memcmp(s + 8, months[m], 3) == 0) {
            *out = opc__days_from_civil(y, m + 1, (unsigned)d) * 86400 + hh * 3600 + mm * 60 + ss;
            return true;
        }
    }
    return false;
}

opc_err opc__acme_parse_retry_after(const char *v, size_t len, int64_t now, int64_t *out_s)
{
    size_t n = len;
    const char *s = opc__trim(v, &n);
    int64_t secs = 0;
    if (n == 0) {
        return OPC_ERR_PARSE;
    }
    if (n <= 9 && digits(s, n, &secs)) {
        /* delay-seconds */
    } else {
        int64_t when = 0;
        if (!imf_fixdate(s, n, &when)) {
            return OPC_ERR_PARSE;
        }
        secs = when - now;
    }
    *out_s = secs < 0 ? 0 : secs > 86400 ? 86400 : secs;
    return OPC_OK;
}

opc_err opc__acme_domain_check(const char *domain, char out[OPC_ACME_DOMAIN_MAX + 1],
                               opc__ebuf *eb)
{
    size_t n = strlen(domain);
    if (n == 0 || n > OPC_ACME_DOMAIN_MAX) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "domain: must be 1-%d characters",
                         OPC_ACME_DOMAIN_MAX);
    }
    size_t label = 0;
    bool all_digits_or_dots = true;
    for (size_t i = 0; i <= n; i++) {
        char c = (char)opc__to_lower((unsigned char)domain[i]);
        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || out[i - 1] == '-' || out[i - label] == '-') {
                return opc__fail(eb, OPC_ERR_INVALID_ARG, "domain \"%.64s\": bad label", domain);
            }
            label = 0;
            out[i] = c;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return opc__fail(eb, OPC_ERR_INVALID_ARG,
                             "domain \"%.64s\": only letters, digits, '-' and '.' (no wildcard)",
                             domain);
        }
        if (c < '0' || c > '9') {
            all_digits_or_dots = false;
        }
        out[i] = c;
        label++;
    }
    if (all_digits_or_dots) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "domain \"%.64s\": an IP address, not a name",
                         domain);
    }
    return OPC_OK;
}

opc_err opc__acme_key_authorization(const char *token, const opc__key *k, char **out)
{
    *out = NULL;
    char tp[OPC_JWK_THUMBPRINT_LEN + 1];
    opc_err rc = opc__jwk_thumbprint(k, tp);
    if (rc != OPC_OK) {
        return rc;
    }
    opc__buf b;
    opc__buf_init(&b, false);
    (void)opc__buf_appendf(&b, "%s.%s", token, tp);
    rc = opc__buf_err(&b);
    if (rc != OPC_OK) {
        opc__buf_free(&b);
        return rc;
    }
    *out = opc__buf_detach(&b, NULL);
    return OPC_OK;
}

opc_err opc__acme_jws(const opc__key *k, const char *kid, const char *nonce, const char *url,
                      const char *payload, char **out)
{
    *out = NULL;
    opc__buf h;
    opc__buf_init(&h, false);
    (void)opc__buf_append_str(&h, "{\"alg\":\"ES256\",");
    if (kid != NULL) {
        (void)opc__buf_append_str(&h, "\"kid\":");
        (void)opc__buf_append_json_str(&h, kid, strlen(kid));
    } else {
        char *jwk = NULL;
        opc_err rc = opc__jwk_canonical(k, &jwk);
        if (rc != OPC_OK) {
            opc__buf_free(&h);
            return rc;
        }
        (void)opc__buf_appendf(&h, "\"jwk\":%s", jwk);
        opc__free(jwk);
    }
    (void)opc__buf_append_str(&h, ",\"nonce\":");
    (void)opc__buf_append_json_str(&h, nonce, strlen(nonce));
    (void)opc__buf_append_str(&h, ",\"url\":");
    (void)opc__buf_append_json_str(&h, url, strlen(url));
    (void)opc__buf_append_char(&h, '}');
    opc_err rc = opc__buf_err(&h);
    char *compact = NULL;
    if (rc == OPC_OK) {
        rc = opc__jws_sign_es256(k, h.data, payload, &compact);
    }
    opc__buf_free(&h);
    if (rc != OPC_OK) {
        return rc;
    }
    /* compact = protected "." payload "." signature: re-shape as flattened JSON */
    char *dot1 = strchr(compact, '.');
    char *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    if (dot2 == NULL) {
        opc__free(compact);
        return OPC_ERR_INTERNAL;
    }
    *dot1 = '\0';
    *dot2 = '\0';
    opc__buf j;
    opc__buf_init(&j, false);
    (void)opc__buf_appendf(&j, "{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}",
                           compact, dot1 + 1, dot2 + 1);
    opc__free(compact);
    rc = opc__buf_err(&j);
    if (rc != OPC_OK) {
        opc__buf_free(&j);
        return rc;
    }
    *out = opc__buf_detach(&j, NULL);
    return OPC_OK;
}
