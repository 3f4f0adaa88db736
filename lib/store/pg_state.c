/*
 * store/pg_state.c - the account servers' shared state on PostgreSQL
 * (pg_state.h; store.h, "the shared state"): one statement of pg_sql.c per
 * operation, each atomic on its own, so that any number of account servers
 * share the sessions, nonces, limiter windows and pending sign-ins:
 *   - a request's counter is accepted by one UPDATE ... WHERE counter < $c
 *     AND <live> RETURNING (store.session_use): of two servers given the
 *     same counter, one row update wins and the other finds no row;
 *   - a nonce by INSERT ... ON CONFLICT DO UPDATE ... WHERE <expired>
 *     RETURNING: a live nonce gives no row (a replay);
 *   - a limiter event by one upsert of the key's window;
 *   - a pending sign-in is taken by DELETE ... RETURNING (once).
 * The rows hold what lib/accountd gives: hashed keys, sealed secrets.
 * Errors of the database are OPC_ERR_IO (messages name the statement).
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "store/pg_state.h"

static bool key_ok(const char *key)
{
    size_t n = key != NULL ? strlen(key) : 0;
    return n > 0 && n <= 96;
}

/* One statement on a connection of the pool; *out the result (PQclear). */
static opc_err run(opc__store *s, const char *name, const opc__pg_args *a, PGresult **out,
                   opc__ebuf *eb)
{
    opc_err rc = opc__pg_run_pooled(opc__pg_store_pool(s), name, a, out, eb);
    if (rc != OPC_OK && rc != OPC_ERR_NOMEM) {
        rc = OPC_ERR_IO; /* the message names the statement */
    }
    return rc;
}

opc_err opc__pg_session_put(opc__store *s, const char *key, const opc__store_session *in,
                            int64_t now_s, opc__ebuf *eb)
{
    if (!key_ok(key) || in == NULL || in->sealed == NULL || in->sealed_len == 0) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "store.session_put: invalid argument");
    }
    opc__pg_args a;
    opc__pg_args_init(&a);
    opc__pg_arg_text(&a, key);
    opc__pg_arg_int(&a, in->kind);
    opc__pg_arg_text(&a, in->account);
    opc__pg_arg_text(&a, in->server);
    opc__pg_arg_bytes(&a, in->sealed, in->sealed_len);
    opc__pg_arg_int(&a, in->expires);
    opc__pg_arg_int(&a, in->idle_s);
    opc__pg_arg_int(&a, now_s);
    PGresult *r = NULL;
    opc_err rc = run(s, "store.session_put", &a, &r, eb);
    PQclear(r);
    opc__pg_args_free(&a);
    return rc;
}

/* An id-sized text cell into out ("" for null); false when longer. */
static bool cell_id(const PGresult *r, int row, int col, char out[OPC_ID_LEN + 1])
{
    const char *v = opc__pg_text(r, row, col);
    size_t n = v != NULL ? strlen(v) : 0;
    if (n > OPC_ID_LEN) {
        return false;
    }
    memcpy(out, v != NULL ? v : "", n);
    out[n] = '\0';
    return true;
}

opc_err opc__pg_session_get(opc__store *s, const char *key, int64_t now_s, opc__store_session *out,
                            opc__ebuf *eb)
{
    memset(out, 0, sizeof *out);
    if (!key_ok(key)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "store.session_get: invalid argument");
    }
    opc__pg_args a;
    opc__pg_args_init(&a);
    opc__pg_arg_text(&a, key);
    opc__pg_arg_int(&a, now_s);
    PGresult *r = NULL;
    opc_err rc = run(s, "store.session_get", &a, &r, eb);
    if (rc == OPC_OK && PQntuples(r) == 0) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "no live session");
    }
    if (rc == OPC_OK) {
        out->kind = (int)opc__pg_int(r, 0, 0);
        out->expires = opc__pg_int(r, 0, 4);
        out->idle_s = opc__pg_int(r, 0, 5);
        out->last_s = opc__pg_int(r, 0, 6);
        int64_t ctr = opc__pg_int(r, 0, 7);
        out->counter = ctr > 0 ? (uint64_t)ctr : 0;
        if (!cell_id(r, 0, 1, out->account) || !cell_id(r, 0, 2, out->server)) {
            rc = opc__fail(eb, OPC_ERR_IO, "store.session_get: malformed row");
        }
    }
    if (rc == OPC_OK) {
        rc = opc__pg_bytes(r, 0, 3, &out->sealed, &out->sealed_len);
    }
    PQclear(r);
    if (rc != OPC_OK) {
        opc__free(out->sealed);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

opc_err opc__pg_session_use(opc__store *s, const char *key, uint64_t counter, int64_t now_s,
                            opc__ebuf *eb)
{
    if (!key_ok(key)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "store.session_use: invalid argument");
    }
    if (counter > (uint64_t)INT64_MAX) {
        return opc__fail(eb, OPC_ERR_TOKEN, "counter above the database's range");
    }
    opc__pg_args a;
    opc__pg_args_init(&a);
    opc__pg_arg_text(&a, key);
    opc__pg_arg_int(&a, (int64_t)counter);
    opc__pg_arg_int(&a, now_s);
    PGresult *r = NULL;
    opc_err rc = run(s, "store.session_use", &a, &r, eb);
    if (rc == OPC_OK && PQntuples(r) != 1) {
        rc = opc__fail(eb, OPC_ERR_TOKEN, "no live session with a lower counter");
    }
    PQclear(r);
    return rc;
}

opc_err opc__pg_session_end(opc__store *s, const char *key, opc__ebuf *eb)
{
    if (!key_ok(key)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "store.session_end: invalid argument");
    }
    opc__pg_args a;
    opc__pg_args_init(&a);
    opc__pg_arg_text(&a, key);
    PGresult *r = NULL;
    opc_err rc = run(s, "store.session_end", &a, &r, eb);
    if (rc == OPC_OK && opc__pg_changed(r) == 0) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "no such session");
    }
    PQclear(r);
    return rc;
}

opc_err opc__pg_nonce_take(opc__store *s, const char *nonce, int64_t expires_ms, int64_t now_ms,
                           opc__ebuf *eb)
{
    if (!key_ok(nonce)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "store.nonce_take: invalid argument");
    }
    opc__pg_args a;
    opc__pg_args_init(&a);
    opc__pg_arg_text(&a, nonce);
    opc__pg_arg_int(&a, expires_ms);
    opc__pg_arg_int(&a, now_ms);
    PGresult *r = NULL;
    opc_err rc = run(s, "store.nonce_take", &a, &r, eb);
    if (rc == OPC_OK && PQntuples(r) != 1) {
        rc = opc__fail(eb, OPC_ERR_EXISTS, "nonce seen");
    }
    PQclear(r);
    return rc;
}

opc_err opc__pg_limit_hit(opc__store *s, const char *key, int limit, int64_t window_ms,
                          int64_t now_ms, opc__ebuf *eb)
{
    if (!key_ok(key) || limit < 1 || window_ms < 1) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "store.limit_hit: invalid argument");
    }
    opc__pg_args a;
    opc__pg_args_init(&a);
    opc__pg_arg_text(&a, key);
    opc__pg_arg_int(&a, now_ms);
    opc__pg_arg_int(&a, window_ms);
    opc__pg_arg_int(&a, limit);
    PGresult *r = NULL;
    opc_err rc = run(s, "store.limit_hit", &a, &r, eb);
    PQclear(r);
    return rc;
}

opc_err opc__pg_limit_until(opc__store *s, const char *key, int limit, int64_t now_ms,
                            int64_t *until_ms, opc__ebuf *eb)
{
    *until_ms = 0;
    if (!key_ok(key) || limit < 1) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "store.limit_until: invalid argument");
    }
    opc__pg_args a;
    opc__pg_args_init(&a);
    opc__pg_arg_text(&a, key);
    opc__pg_arg_int(&a, limit);
    opc__pg_arg_int(&a, now_ms);
    PGresult *r = NULL;
    opc_err rc = run(s, "store.limit_until", &a, &r, eb);
    if (rc == OPC_OK && PQntuples(r) == 1) {
        *until_ms = opc__pg_int(r, 0, 0);
    }
    PQclear(r);
    return rc;
}

opc_err opc__pg_pending_put(opc__store *s, const char *key, const void *sealed, size_t len,
                            int64_t expires_ms, opc__ebuf *eb)
{
    if (!key_ok(key) || sealed == NULL || len == 0) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "store.pending_put: invalid argument");
    }
    opc__pg_args a;
    opc__pg_args_init(&a);
    opc__pg_arg_text(&a, key);
    opc__pg_arg_bytes(&a, sealed, len);
    opc__pg_arg_int(&a, expires_ms);
    PGresult *r = NULL;
    opc_err rc = run(s, "store.pending_put", &a, &r, eb);
    PQclear(r);
    opc__pg_args_free(&a);
    return rc;
}

opc_err opc__pg_pending_take(opc__store *s, const char *key, int64_t now_ms, unsigned char **sealed,
                             size_t *len, int64_t *expires_ms, opc__ebuf *eb)
{
    *sealed = NULL;
    *len = 0;
    *expires_ms = 0;
    if (!key_ok(key)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "store.pending_take: invalid argument");
    }
    opc__pg_args a;
    opc__pg_args_init(&a);
    opc__pg_arg_text(&a, key);
    PGresult *r = NULL;
    opc_err rc = run(s, "store.pending_take", &a, &r, eb);
    if (rc == OPC_OK && (PQntuples(r) != 1 || opc__pg_int(r, 0, 1) <= now_ms)) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "no such pending sign-in");
    }
    if (rc == OPC_OK) {
        *expires_ms = opc__pg_int(r, 0, 1);
        rc = opc__pg_bytes(r, 0, 0, sealed, len);
    }
    PQclear(r);
    return rc;
}

opc_err opc__pg_state_sweep(opc__store *s, int64_t now_ms, opc__ebuf *eb)
{
    static const char *const names[] = {"store.sweep_sessions", "store.sweep_nonces",
                                        "store.sweep_limits", "store.sweep_pending"};
    opc_err rc = OPC_OK;
    for (size_t i = 0; i < OPC_ARRAY_LEN(names) && rc == OPC_OK; i++) {
        opc__pg_args a;
        opc__pg_args_init(&a);
        /* sessions count in seconds, the rest in milliseconds */
        opc__pg_arg_int(&a, i == 0 ? now_ms / 1000 : now_ms);
        PGresult *r = NULL;
        rc = run(s, names[i], &a, &r, eb);
        PQclear(r);
    }
    return rc;
}
