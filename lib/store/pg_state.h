/*
 * store/pg_state.h - the account servers' shared state on PostgreSQL
 * (pg_state.c): store.h's optional session_*, nonce_take, limit_*,
 * pending_* and state_sweep operations of the PostgreSQL store, over its
 * pool (pg.c wires them into its vtable).
 */
#ifndef OPC_STORE_PG_STATE_H
#define OPC_STORE_PG_STATE_H

#include "internal.h"
#include "store/pg_conn.h"
#include "store/store.h"

/* The pool of a PostgreSQL store (pg.c). */
opc__pg_pool *opc__pg_store_pool(opc__store *s);

opc_err opc__pg_session_put(opc__store *s, const char *key, const opc__store_session *in,
                            int64_t now_s, opc__ebuf *eb);
opc_err opc__pg_session_get(opc__store *s, const char *key, int64_t now_s, opc__store_session *out,
                            opc__ebuf *eb);
opc_err opc__pg_session_use(opc__store *s, const char *key, uint64_t counter, int64_t now_s,
                            opc__ebuf *eb);
opc_err opc__pg_session_end(opc__store *s, const char *key, opc__ebuf *eb);
opc_err opc__pg_nonce_take(opc__store *s, const char *nonce, int64_t expires_ms, int64_t now_ms,
                           opc__ebuf *eb);
opc_err opc__pg_limit_hit(opc__store *s, const char *key, int limit, int64_t window_ms,
                          int64_t now_ms, opc__ebuf *eb);
opc_err opc__pg_limit_until(opc__store *s, const char *key, int limit, int64_t now_ms,
                            int64_t *until_ms, opc__ebuf *eb);
opc_err opc__pg_pending_put(opc__store *s, const char *key, const void *sealed, size_t len,
                            int64_t expires_ms, opc__ebuf *eb);
opc_err opc__pg_pending_take(opc__store *s, const char *key, int64_t now_ms, unsigned char **sealed,
                             size_t *len, int64_t *expires_ms, opc__ebuf *eb);
opc_err opc__pg_state_sweep(opc__store *s, int64_t now_ms, opc__ebuf *eb);

#endif
