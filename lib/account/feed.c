/*
 * account/feed.c - reading the change feed (feed.h).
 */
#include "internal.h"

#include <string.h>

#include "account/account_int.h"
#include "account/feed.h"
#include "core/time.h"

/* Visibility rule of feed.h, as SQL. ?2 is the server id (NULL: everything). */
static const char changes_sql[] =
    "SELECT seq, kind, vault_id, item_id, file_id, server_id, jti, kid, version FROM changes c"
    " WHERE c.seq > ?1 AND (?2 IS NULL OR c.server_id = ?2"
    "  OR (c.server_id IS NULL AND c.kind = 'issuer_key')"
    "  OR (c.server_id IS NULL AND c.vault_id IS NOT NULL AND EXISTS (SELECT 1 FROM vault_access g"
    "      WHERE g.vault_id = c.vault_id AND g.accessor_type = 'server' AND g.accessor_id = ?2)))"
    " ORDER BY c.seq LIMIT ?3";

static const char *const id_columns[] = {"vault", "item", "file", "server", "jti", "kid"};

static opc_err entry(sqlite3_stmt *st, cJSON **out)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL ||
        cJSON_AddNumberToObject(o, "seq", (double)sqlite3_column_int64(st, 0)) == NULL ||
        cJSON_AddStringToObject(o, "kind", opc__acct_col_str(st, 1)) == NULL) {
        cJSON_Delete(o);
        return OPC_ERR_NOMEM;
    }
    for (int i = 0; i < (int)OPC_ARRAY_LEN(id_columns); i++) {
        if (sqlite3_column_type(st, 2 + i) != SQLITE_NULL &&
            cJSON_AddStringToObject(o, id_columns[i], opc__acct_col_str(st, 2 + i)) == NULL) {
            cJSON_Delete(o);
            return OPC_ERR_NOMEM;
        }
    }
    if (sqlite3_column_type(st, 8) != SQLITE_NULL &&
        cJSON_AddNumberToObject(o, "version", (double)sqlite3_column_int64(st, 8)) == NULL) {
        cJSON_Delete(o);
        return OPC_ERR_NOMEM;
    }
    *out = o;
    return OPC_OK;
}

static opc_err changes(opc_account *a, const char *server_id, int64_t since, size_t limit,
                       cJSON **out, int64_t *out_last, opc__ebuf *eb)
{
    opc_err rc = opc__acct_begin(a, false, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    sqlite3_stmt *st = NULL;
    cJSON *arr = cJSON_CreateArray();
    size_t n = 0;
    int64_t last = since;
    rc = arr == NULL
             ? OPC_ERR_NOMEM
             : opc__acct_query(a, &st, eb, changes_sql, "iti", since, server_id, (int64_t)limit);
    while (rc == OPC_OK) {
        bool row = false;
        rc = opc__acct_step(a, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        cJSON *o = NULL;
        rc = entry(st, &o);
        if (rc == OPC_OK) {
            cJSON_AddItemToArray(arr, o);
            last = sqlite3_column_int64(st, 0);
            n++;
        }
    }
    sqlite3_finalize(st);
    if (rc == OPC_OK && n < limit) {
        /* Nothing more is visible up to the newest change: skip past it. A
         * cursor beyond it (the account restored to an earlier point) is
         * answered with the head, below it: the reader starts again. */
        bool found = false;
        int64_t max = 0;
        rc = opc__acct_query_int(a, &found, &max, eb, "SELECT MAX(seq) FROM changes", "");
        if (rc == OPC_OK && found && (max > last || (n == 0 && max < since))) {
            last = max;
        }
    }
    rc = opc__acct_end(a, rc, eb);
    if (rc != OPC_OK) {
        cJSON_Delete(arr);
        return rc;
    }
    *out = arr;
    *out_last = last;
    return OPC_OK;
}

opc_err opc__account_changes(opc_account *a, const char *server_id, int64_t since, size_t limit,
                             cJSON **out, int64_t *out_last)
{
    opc__ebuf eb;
    opc_err rc =
        opc__acct_enter(a, OPC__ACCT_FILE, out != NULL && out_last != NULL, NULL, NULL, &eb);
    if (rc == OPC_OK) {
        *out = NULL;
        *out_last = since;
        if (since < 0 || limit == 0 || limit > OPC_FEED_MAX_LIMIT) {
            rc = opc__fail(&eb, OPC_ERR_RANGE, "feed: since must be >= 0 and limit 1 to %d",
                           OPC_FEED_MAX_LIMIT);
        }
    }
    if (rc == OPC_OK) {
        rc = changes(a, server_id, since, limit, out, out_last, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

opc_err opc__account_changes_wait(int64_t since, int64_t wait_ms, int64_t poll_ms,
                                  opc__feed_read_fn read, opc__feed_pause_fn pause, void *ud,
                                  cJSON **out, int64_t *out_next)
{
    int64_t deadline = opc__monotonic_ms() + wait_ms;
    int64_t cursor = since;
    bool stop = false;
    for (;;) {
        cJSON *page = NULL;
        int64_t next = cursor;
        opc_err rc = read(ud, cursor, &page, &next);
        if (rc != OPC_OK) {
            return rc;
        }
        int64_t left = deadline - opc__monotonic_ms();
        if (cJSON_GetArraySize(page) > 0 || next < cursor || left <= 0 || stop) {
            *out = page;
            *out_next = next;
            return OPC_OK;
        }
        cJSON_Delete(page);
        cursor = next;
        stop = pause(ud, left < poll_ms ? left : poll_ms);
    }
}
