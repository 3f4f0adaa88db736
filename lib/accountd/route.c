/*
 * accountd/route.c - the protocol's paths and their query parameters
 * (accountd.h; docs/protocol.md, "Endpoints").
 */
#include "internal.h"

#include <string.h>

#include "accountd/accountd.h"
#include "core/strparse.h"
#include "store/store.h"

#define PREFIX "/v1/connect/"
/* The largest integer of the protocol (2^53 - 1). */
#define MAX53 INT64_C(9007199254740991)

/* Copy the id segment [s, s + n) to out; false when it is not an id. */
static bool seg_id(const char *s, size_t n, char out[OPC_ID_LEN + 1])
{
    if (n != OPC_ID_LEN || !opc__id_valid(s, n)) {
        return false;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

/* The path's segments after PREFIX: up to 4, their starts and lengths. */
static size_t split(const char *p, const char *seg[4], size_t len[4])
{
    size_t n = 0;
    while (*p != '\0') {
        if (n == 4) {
            return 5; /* too many: no route */
        }
        const char *slash = strchr(p, '/');
        size_t l = slash != NULL ? (size_t)(slash - p) : strlen(p);
        seg[n] = p;
        len[n] = l;
        n++;
        if (l == 0) {
            return 5; /* an empty segment */
        }
        p += l;
        if (*p == '/') {
            p++;
            if (*p == '\0') {
                return 5; /* a trailing slash */
            }
        }
    }
    return n;
}

static bool is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* The route of GET paths: seg[0] names the collection. */
static opc__ad_route get_route(const char *seg[4], const size_t len[4], size_t n)
{
    if (n == 1 && is(seg[0], len[0], "changes")) {
        return OPC_AD_CHANGES;
    }
    if (n == 2 && is(seg[0], len[0], "issuer-keys")) {
        return OPC_AD_ISSUER_KEY;
    }
    if (n == 2 && is(seg[0], len[0], "access")) {
        return OPC_AD_ACCESS;
    }
    if (n == 2 && is(seg[0], len[0], "tokens")) {
        return OPC_AD_TOKEN;
    }
    if (is(seg[0], len[0], "vaults")) {
        if (n == 2) {
            return OPC_AD_VAULT;
        }
        if (n == 3 && is(seg[2], len[2], "items")) {
            return OPC_AD_VAULT_ITEMS;
        }
        if (n == 3 && is(seg[2], len[2], "files")) {
            return OPC_AD_VAULT_FILES;
        }
    }
    if (is(seg[0], len[0], "items")) {
        if (n == 2) {
            return OPC_AD_ITEM;
        }
        if (n == 3 && is(seg[2], len[2], "files")) {
            return OPC_AD_ITEM_FILES;
        }
    }
    return OPC_AD_NONE;
}

opc_err opc__ad_route_match(const char *method, const char *path, opc__ad_match *out, opc__ebuf *eb)
{
    memset(out, 0, sizeof *out);
    bool get = strcmp(method, "GET") == 0;
    if (strcmp(path, "/heartbeat") == 0 || strcmp(path, "/health") == 0) {
        out->route = strcmp(path, "/heartbeat") == 0 ? OPC_AD_HEARTBEAT : OPC_AD_HEALTH;
        out->bad_method = !get;
        return OPC_OK;
    }
    if (strcmp(path, PREFIX "session") == 0) {
        out->route = OPC_AD_SESSION;
        out->bad_method = strcmp(method, "POST") != 0;
        return OPC_OK;
    }
    static const struct {
        const char *path;
        const char *method;
        opc__ad_route route;
    } owner[] = {
        {"/v1/owner/signup", "POST", OPC_AD_OWNER_SIGNUP},
        {"/v1/owner/auth/start", "POST", OPC_AD_OWNER_AUTH_START},
        {"/v1/owner/auth/verify", "POST", OPC_AD_OWNER_AUTH_VERIFY},
        {"/v1/owner/signout", "POST", OPC_AD_OWNER_SIGNOUT},
        {"/v1/owner/account", "GET", OPC_AD_OWNER_ACCOUNT},
        {"/v1/owner/rows/read", "POST", OPC_AD_OWNER_ROWS_READ},
        {"/v1/owner/rows/batch", "POST", OPC_AD_OWNER_ROWS_BATCH},
    };
    for (size_t i = 0; i < sizeof owner / sizeof owner[0]; i++) {
        if (strcmp(path, owner[i].path) == 0) {
            out->route = owner[i].route;
            out->bad_method = strcmp(method, owner[i].method) != 0;
            return OPC_OK;
        }
    }
    if (strncmp(path, PREFIX, sizeof PREFIX - 1) != 0) {
        return OPC_OK;
    }
    const char *seg[4];
    size_t len[4];
    size_t n = split(path + sizeof PREFIX - 1, seg, len);
    if (n == 0 || n > 4) {
        return OPC_OK;
    }
    bool write = strcmp(method, "PUT") == 0 || strcmp(method, "DELETE") == 0;
    if (n == 4 && is(seg[0], len[0], "vaults") && is(seg[2], len[2], "items")) {
        out->route = strcmp(method, "DELETE") == 0 ? OPC_AD_ITEM_DELETE : OPC_AD_ITEM_PUT;
        out->bad_method = !write;
        if (!seg_id(seg[1], len[1], out->id1) || !seg_id(seg[3], len[3], out->id2)) {
            return opc__fail(eb, OPC_ERR_INVALID_ARG, "invalid vault or item id in the path");
        }
        return OPC_OK;
    }
    out->route = get_route(seg, len, n);
    if (out->route == OPC_AD_NONE) {
        return OPC_OK;
    }
    out->bad_method = !get;
    if (out->route != OPC_AD_CHANGES && !seg_id(seg[1], len[1], out->id1)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "invalid id in the path");
    }
    return OPC_OK;
}

opc__ad_kind opc__ad_route_kind(opc__ad_route r)
{
    switch (r) {
    case OPC_AD_NONE:
    case OPC_AD_HEARTBEAT:
    case OPC_AD_HEALTH:
    case OPC_AD_SESSION:
    case OPC_AD_OWNER_SIGNUP:
    case OPC_AD_OWNER_AUTH_START:
    case OPC_AD_OWNER_AUTH_VERIFY:
        return (opc__ad_kind)0;
    case OPC_AD_OWNER_SIGNOUT:
    case OPC_AD_OWNER_ACCOUNT:
    case OPC_AD_OWNER_ROWS_READ:
    case OPC_AD_OWNER_ROWS_BATCH:
        return OPC_AD_KIND_OWNER;
    default:
        return OPC_AD_KIND_CONNECT;
    }
}

/* ---- queries ---- */

enum {
    P_SINCE,
    P_LIMIT,
    P_WAIT,
    P_AFTER,
    P_AFTER_ITEM,
    P_AFTER_FILE,
    P_AFTER_IDX,
    P_LAST_ITEM,
    P_EXPECTED,
    P_N
};

static const char *const pnames[P_N] = {"since",     "limit",      "wait",
                                        "after",     "after_item", "after_file",
                                        "after_idx", "last_item",  "expected_version"};

/* The parameters each route takes, as bits of 1 << P_x. */
static unsigned allowed(opc__ad_route r)
{
    switch (r) {
    case OPC_AD_CHANGES:
        return 1u << P_SINCE | 1u << P_LIMIT | 1u << P_WAIT;
    case OPC_AD_VAULT_ITEMS:
        return 1u << P_AFTER | 1u << P_LIMIT;
    case OPC_AD_VAULT_FILES:
        return 1u << P_AFTER_ITEM | 1u << P_AFTER_FILE | 1u << P_AFTER_IDX | 1u << P_LAST_ITEM |
               1u << P_LIMIT;
    case OPC_AD_ITEM_FILES:
        return 1u << P_AFTER_FILE | 1u << P_AFTER_IDX | 1u << P_LIMIT;
    case OPC_AD_ITEM_DELETE:
        return 1u << P_EXPECTED;
    default:
        return 0;
    }
}

/* One parameter's value (decoded) into q. */
static opc_err take(opc__ad_query *q, int p, const char *v, size_t n, opc__ebuf *eb)
{
    char *id = p == P_AFTER        ? q->after
               : p == P_AFTER_ITEM ? q->after_item
               : p == P_AFTER_FILE ? q->after_file
               : p == P_LAST_ITEM  ? q->last_item
                                   : NULL;
    if (id != NULL) {
        /* after and after_file may be empty (from the first row). */
        bool empty_ok = p == P_AFTER || p == P_AFTER_FILE;
        if (n == 0 && empty_ok) {
            id[0] = '\0';
            return OPC_OK;
        }
        if (!seg_id(v, n, id)) {
            return opc__fail(eb, OPC_ERR_INVALID_ARG, "query parameter %s: not an id", pnames[p]);
        }
        return OPC_OK;
    }
    static const int64_t lo[P_N] = {
        [P_SINCE] = 0, [P_LIMIT] = 1, [P_WAIT] = 0, [P_AFTER_IDX] = -1, [P_EXPECTED] = 0};
    const int64_t hi[P_N] = {[P_SINCE] = MAX53,
                             [P_LIMIT] = OPC_STORE_MAX_LIMIT,
                             [P_WAIT] = OPC_STORE_MAX_WAIT_MS,
                             [P_AFTER_IDX] = MAX53,
                             [P_EXPECTED] = MAX53};
    int64_t *dst = p == P_SINCE       ? &q->since
                   : p == P_LIMIT     ? &q->limit
                   : p == P_WAIT      ? &q->wait_ms
                   : p == P_AFTER_IDX ? &q->after_idx
                                      : &q->expected_version;
    bool digits = n > 0 && n <= 17;
    for (size_t i = 0; i < n && digits; i++) {
        digits = (v[i] >= '0' && v[i] <= '9') || (i == 0 && v[i] == '-' && n > 1);
    }
    if (!digits) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "query parameter %s: not an integer", pnames[p]);
    }
    if (opc__parse_i64(v, n, lo[p], hi[p], dst, NULL) != OPC_OK) {
        return opc__fail(eb, OPC_ERR_RANGE, "query parameter %s: out of range (%lld to %lld)",
                         pnames[p], (long long)lo[p], (long long)hi[p]);
    }
    return OPC_OK;
}

opc_err opc__ad_query_parse(opc__ad_route route, const char *qs, opc__ad_query *out, opc__ebuf *eb)
{
    memset(out, 0, sizeof *out);
    out->limit = OPC_AD_DEFAULT_LIMIT;
    out->after_idx = -1;
    unsigned ok = allowed(route);
    unsigned seen = 0;
    const char *p = qs != NULL ? qs : "";
    while (*p != '\0') {
        const char *amp = strchr(p, '&');
        size_t n = amp != NULL ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (eq == NULL) {
            return opc__fail(eb, OPC_ERR_INVALID_ARG, "query: a parameter without a value");
        }
        size_t kn = (size_t)(eq - p);
        int which = -1;
        for (int i = 0; i < P_N; i++) {
            if (is(p, kn, pnames[i])) {
                which = i;
            }
        }
        if (which < 0 || (ok & (1u << which)) == 0) {
            return opc__fail(eb, OPC_ERR_INVALID_ARG, "query: unknown parameter");
        }
        if ((seen & (1u << which)) != 0) {
            return opc__fail(eb, OPC_ERR_INVALID_ARG, "query parameter %s: given twice",
                             pnames[which]);
        }
        seen |= 1u << which;
        char val[64];
        size_t vn = 0;
        if (opc__form_decode(eq + 1, n - kn - 1, val, sizeof val, &vn, "query", NULL) != OPC_OK) {
            return opc__fail(eb, OPC_ERR_INVALID_ARG, "query parameter %s: malformed",
                             pnames[which]);
        }
        opc_err rc = take(out, which, val, vn, eb);
        if (rc != OPC_OK) {
            return rc;
        }
        p += n;
        if (*p == '&') {
            p++;
            if (*p == '\0') {
                return opc__fail(eb, OPC_ERR_INVALID_ARG, "query: a trailing '&'");
            }
        }
    }
    if (route == OPC_AD_VAULT_FILES &&
        ((seen & (1u << P_AFTER_ITEM)) == 0 || (seen & (1u << P_LAST_ITEM)) == 0)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "query: after_item and last_item are required");
    }
    return OPC_OK;
}
