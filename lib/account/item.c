/*
 * account/item.c - items: validation through lib/model, encryption of the
 * overview and details under the vault key, optimistic concurrency
 * (design: schema.c).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account/account_int.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/secret.h"
#include "core/strparse.h"
#include "core/time.h"
#include "model/item.h"
#include "model/shape.h"
#include "wire/labels.h"

/* ---- helpers ---- */

static void item_what(const char *item_id, opc__wire_item_part part, char out[80])
{
    (void)snprintf(out, 80, "item %s %s", item_id, opc__wire_item_part_name(part));
}

/* The title of an overview ("" when absent). */
static const char *overview_title(const cJSON *ov)
{
    const cJSON *t = opc__json_member(ov, "title");
    return (cJSON_IsString(t) && t->valuestring != NULL) ? t->valuestring : "";
}

static opc_err open_part(opc_account *a, const char *vault_id, const char *item_id,
                         opc__wire_item_part part, int64_t row_sn, const char *env, cJSON **out,
                         opc__ebuf *eb)
{
    const opc__key *k = NULL;
    int64_t sn = 0;
    opc_err rc = opc__acct_vault_key(a, vault_id, &k, &sn, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (row_sn != sn) {
        return opc__fail(eb, OPC_ERR_DECRYPT, "item %s is sealed under an unknown key version",
                         item_id);
    }
    char aad[OPC_WIRE_LABEL_MAX];
    char what[80];
    rc = opc__wire_item_aad(aad, sizeof aad, vault_id, item_id, part, sn);
    item_what(item_id, part, what);
    return rc == OPC_OK ? opc__acct_open_json(k, aad, env, what, out, eb) : rc;
}

/* ---- resolution ---- */

static opc_err item_active(opc_account *a, const char *vault_id, const char *id, bool *found,
                           opc__ebuf *eb)
{
    int64_t one = 0;
    return opc__acct_query_int(a, found, &one, eb,
                               "SELECT 1 FROM items WHERE id = ? AND vault_id = ? AND state = "
                               "'active'",
                               "tt", id, vault_id);
}

typedef struct match_list {
    size_t n;
    char first[OPC_ID_LEN + 1];
    char text[3 * (OPC_ID_LEN + 2)];
} match_list;

static void match_add(match_list *m, const char *id)
{
    if (m->n == 0) {
        memcpy(m->first, id, OPC_ID_LEN + 1);
    }
    if (m->n < 3) {
        size_t len = strlen(m->text);
        (void)snprintf(m->text + len, sizeof m->text - len, "%s%s", m->n > 0 ? ", " : "", id);
    }
    m->n++;
}

opc_err opc__acct_item_resolve(opc_account *a, const char *vault_id, const char *ref,
                               char id[OPC_ID_LEN + 1], opc__ebuf *eb)
{
    if (ref[0] == '\0') {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "an item title or id is required");
    }
    if (opc__id_valid_str(ref)) {
        bool found = false;
        opc_err rc = item_active(a, vault_id, ref, &found, eb);
        if (rc != OPC_OK || found) {
            if (rc == OPC_OK) {
                memcpy(id, ref, OPC_ID_LEN + 1);
            }
            return rc;
        }
    }
    /* By title: exact (case-sensitive) matches first, then ASCII case-insensitive. */
    match_list exact;
    match_list loose;
    memset(&exact, 0, sizeof exact);
    memset(&loose, 0, sizeof loose);
    sqlite3_stmt *st = NULL;
    opc_err rc = opc__acct_query(a, &st, eb,
                                 "SELECT id, key_sn, overview FROM items WHERE vault_id = ? AND "
                                 "state = 'active' ORDER BY id",
                                 "t", vault_id);
    while (rc == OPC_OK) {
        bool row = false;
        rc = opc__acct_step(a, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        char item[OPC_ID_LEN + 1];
        (void)snprintf(item, sizeof item, "%s", opc__acct_col_str(st, 0));
        cJSON *ov = NULL;
        rc = open_part(a, vault_id, item, OPC_WIRE_ITEM_OVERVIEW, sqlite3_column_int64(st, 1),
                       (const char *)sqlite3_column_text(st, 2), &ov, eb);
        if (rc == OPC_OK) {
            const char *title = overview_title(ov);
            if (strcmp(title, ref) == 0) {
                match_add(&exact, item);
            } else if (opc__strcasecmp(title, ref) == 0) {
                match_add(&loose, item);
            }
        }
        opc__json_delete_secret(ov);
    }
    sqlite3_finalize(st);
    if (rc != OPC_OK) {
        return rc;
    }
    const match_list *m = exact.n > 0 ? &exact : &loose;
    if (m->n == 0) {
        return opc__fail(eb, OPC_ERR_NOT_FOUND, "item \"%s\" not found in vault %s", ref, vault_id);
    }
    if (m->n > 1) {
        return opc__fail(eb, OPC_ERR_CONFLICT, "item title \"%s\" matches %zu items: %s; use an id",
                         ref, m->n, m->text);
    }
    memcpy(id, m->first, OPC_ID_LEN + 1);
    return OPC_OK;
}

/* ---- load / store ---- */

opc_err opc__acct_item_load(opc_account *a, const char *vault_id, const char *item_id, cJSON **full,
                            opc__item_meta *meta, opc__ebuf *eb)
{
    *full = NULL;
    sqlite3_stmt *st = NULL;
    bool row = false;
    opc_err rc =
        opc__acct_query_row(a, &st, &row, eb,
                            "SELECT version, key_sn, overview, details, created, updated, "
                            "editor FROM items WHERE id = ? AND vault_id = ? AND state = 'active'",
                            "tt", item_id, vault_id);
    if (rc == OPC_OK && !row) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "item %s not found", item_id);
    }
    cJSON *ov = NULL;
    cJSON *det = NULL;
    if (rc == OPC_OK) {
        int64_t sn = sqlite3_column_int64(st, 1);
        meta->version = sqlite3_column_int64(st, 0);
        meta->created = sqlite3_column_int64(st, 4);
        meta->updated = sqlite3_column_int64(st, 5);
        (void)snprintf(meta->editor, sizeof meta->editor, "%s", opc__acct_col_str(st, 6));
        rc = open_part(a, vault_id, item_id, OPC_WIRE_ITEM_OVERVIEW, sn,
                       (const char *)sqlite3_column_text(st, 2), &ov, eb);
        if (rc == OPC_OK) {
            rc = open_part(a, vault_id, item_id, OPC_WIRE_ITEM_DETAILS, sn,
                           (const char *)sqlite3_column_text(st, 3), &det, eb);
        }
    }
    if (rc == OPC_OK) {
        rc = opc__item_join(ov, det, full);
    }
    sqlite3_finalize(st);
    opc__json_delete_secret(ov);
    opc__json_delete_secret(det);
    return rc;
}

opc_err opc__acct_item_write(opc_account *a, const opc__sealed_item *it, bool is_new,
                             int64_t expected_version, int64_t now, int64_t *new_version,
                             opc__ebuf *eb)
{
    int64_t version = is_new ? 1 : expected_version + 1;
    int64_t seq = 0;
    opc__change c = {.kind = OPC_CHANGE_ITEM_UPSERT,
                     .vault = it->vault_id,
                     .item = it->item_id,
                     .version = version};
    opc_err rc = opc__acct_change(a, &c, &seq, eb);
    if (rc == OPC_OK && is_new) {
        rc = opc__acct_run(a, NULL, eb,
                           "INSERT INTO items (id, vault_id, version, state, key_sn, overview, "
                           "details, created, updated, seq, editor) VALUES (?, ?, 1, 'active', ?, "
                           "?, ?, ?, ?, ?, ?)",
                           "ttittiiit", it->item_id, it->vault_id, it->key_sn, it->overview,
                           it->details, now, now, seq, it->editor);
    } else if (rc == OPC_OK) {
        int changed = 0;
        rc = opc__acct_run(a, &changed, eb,
                           "UPDATE items SET version = version + 1, key_sn = ?, overview = ?, "
                           "details = ?, updated = ?, seq = ?, editor = ? WHERE id = ? AND "
                           "vault_id = ? AND state = 'active' AND version = ?",
                           "ittiittti", it->key_sn, it->overview, it->details, now, seq, it->editor,
                           it->item_id, it->vault_id, expected_version);
        if (rc == OPC_OK && changed != 1) {
            rc = opc__fail(eb, OPC_ERR_CONFLICT, "item %s was changed (expected version %lld)",
                           it->item_id, (long long)expected_version);
        }
    }
    if (rc == OPC_OK) {
        rc = opc__acct_vault_touch(a, it->vault_id, is_new ? 1 : 0, now, seq, eb);
    }
    if (rc == OPC_OK) {
        *new_version = version;
    }
    return rc;
}

opc_err opc__acct_item_store(opc_account *a, const char *vault_id, const char *item_id,
                             const cJSON *full, bool is_new, int64_t expected_version, int64_t now,
                             int64_t *new_version, opc__ebuf *eb)
{
    const opc__key *k = NULL;
    int64_t sn = 0;
    cJSON *ov = NULL;
    cJSON *det = NULL;
    char *ov_env = NULL;
    char *det_env = NULL;
    char aad[OPC_WIRE_LABEL_MAX];
    opc_err rc = opc__acct_vault_key(a, vault_id, &k, &sn, eb);
    if (rc == OPC_OK) {
        rc = opc__item_split(full, &ov, &det);
        if (rc != OPC_OK && rc != OPC_ERR_NOMEM) {
            rc = opc__fail(eb, rc, "item %s cannot be split for encryption", item_id);
        }
    }
    if (rc == OPC_OK) {
        rc = opc__wire_item_aad(aad, sizeof aad, vault_id, item_id, OPC_WIRE_ITEM_OVERVIEW, sn);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_seal_json(k, aad, ov, &ov_env);
    }
    if (rc == OPC_OK) {
        rc = opc__wire_item_aad(aad, sizeof aad, vault_id, item_id, OPC_WIRE_ITEM_DETAILS, sn);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_seal_json(k, aad, det, &det_env);
        if (rc == OPC_ERR_TOO_LARGE) {
            rc = opc__fail(eb, rc, "item %s is too large", item_id);
        }
    }
    if (rc == OPC_OK) {
        opc__sealed_item it = {vault_id, item_id, sn, ov_env, det_env, NULL};
        rc = opc__acct_item_write(a, &it, is_new, expected_version, now, new_version, eb);
    }
    opc__free(ov_env);
    opc__free(det_env);
    opc__json_delete_secret(ov);
    opc__json_delete_secret(det);
    return rc;
}

opc_err opc__acct_item_tombstone(opc_account *a, const char *vault_id, const char *item_id,
                                 int64_t stored_version, const char *editor, int64_t now,
                                 opc__ebuf *eb)
{
    int64_t seq = 0;
    opc__change c = {.kind = OPC_CHANGE_ITEM_DELETE,
                     .vault = vault_id,
                     .item = item_id,
                     .version = stored_version + 1};
    opc_err rc = opc__acct_change(a, &c, &seq, eb);
    if (rc == OPC_OK) {
        int changed = 0;
        rc = opc__acct_run(a, &changed, eb,
                           "UPDATE items SET state = 'deleted', version = version + 1, overview = "
                           "NULL, details = NULL, updated = ?, seq = ?, editor = ? WHERE id = ? "
                           "AND vault_id = ? AND version = ? AND state = 'active'",
                           "iittti", now, seq, editor, item_id, vault_id, stored_version);
        if (rc == OPC_OK && changed != 1) {
            rc = opc__fail(eb, OPC_ERR_CONFLICT, "item %s was changed", item_id);
        }
    }
    if (rc == OPC_OK) {
        rc = opc__acct_run(a, NULL, eb, "DELETE FROM files WHERE item_id = ?", "t", item_id);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_vault_touch(a, vault_id, -1, now, seq, eb);
    }
    return rc;
}

/* The server-side members, after the item's own (model/shape.h). */
static opc_err add_meta(opc_account *a, cJSON *obj, const char *vault_id, const char *item_id,
                        const opc__item_meta *meta)
{
    char editor[OPC_ID_LEN + 1];
    opc__acct_editor(a, meta->editor, editor);
    opc__item_stamp stamp = {meta->version, editor, meta->created, meta->updated};
    opc_err rc = opc__item_set_ids(obj, vault_id, item_id);
    return rc == OPC_OK ? opc__item_set_stamp(obj, &stamp) : rc;
}

static opc_err print_secret(const cJSON *j, opc_secret **out)
{
    char *text = NULL;
    size_t len = 0;
    opc_err rc = opc__json_print(j, &text, &len);
    if (rc == OPC_OK) {
        rc = opc__secret_new(text, len, out);
    }
    opc__secret_free(text, len);
    return rc;
}

opc_err opc__acct_item_output(opc_account *a, const char *vault_id, const char *item_id,
                              cJSON *full, const opc__item_meta *meta, opc_secret **out,
                              opc__ebuf *eb)
{
    opc_err rc = add_meta(a, full, vault_id, item_id, meta);
    if (rc == OPC_OK) {
        rc = opc__acct_files_paths(full, vault_id, item_id);
    }
    if (rc == OPC_OK) {
        rc = opc__item_present(full, opc__now_s(), NULL, eb);
    }
    if (rc == OPC_OK) {
        opc__acct_files_strip(full);
        rc = print_secret(full, out);
    }
    return rc;
}

opc_err opc__acct_item_end(opc_account *a, opc_err rc, const char *vault_id, const char *item_id,
                           cJSON *full, const opc__item_meta *meta, opc_secret **out, opc__ebuf *eb)
{
    /* The output is built before the commit, so a call that fails (even
     * for want of memory) has changed nothing. */
    if (rc == OPC_OK) {
        rc = opc__acct_item_output(a, vault_id, item_id, full, meta, out, eb);
    }
    rc = opc__acct_end(a, rc, eb);
    if (rc != OPC_OK) {
        opc_secret_free(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- public API ---- */

static opc_err item_create(opc_account *a, const char *vault, const char *json, opc_secret **out,
                           opc__ebuf *eb)
{
    cJSON *full = NULL;
    opc_err rc = opc__item_prepare_json(json, strlen(json), OPC_ITEM_CREATE, NULL, &full, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    char vault_id[OPC_ID_LEN + 1];
    char item_id[OPC_ID_LEN + 1];
    int64_t now = opc__now_s();
    opc__item_meta meta = {0, now, now, ""};
    rc = opc__id_generate(item_id);
    if (rc == OPC_OK) {
        rc = opc__acct_begin(a, true, eb);
        if (rc == OPC_OK) {
            rc = opc__acct_vault_resolve(a, vault, vault_id, eb);
            if (rc == OPC_OK) {
                rc = opc__acct_item_store(a, vault_id, item_id, full, true, 0, now, &meta.version,
                                          eb);
            }
            rc = opc__acct_item_end(a, rc, vault_id, item_id, full, &meta, out, eb);
        }
    }
    opc__json_delete_secret(full);
    return rc;
}

opc_err opc_account_item_create(opc_account *a, const char *vault, const char *item_json,
                                opc_secret **out)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED,
                                 vault != NULL && item_json != NULL && out != NULL, NULL, out, &eb);
    if (rc == OPC_OK) {
        rc = item_create(a, vault, item_json, out, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

static opc_err item_get(opc_account *a, const char *vault, const char *item, opc_secret **out,
                        opc__ebuf *eb)
{
    opc_err rc = opc__acct_begin(a, false, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    char vault_id[OPC_ID_LEN + 1];
    char item_id[OPC_ID_LEN + 1];
    cJSON *full = NULL;
    opc__item_meta meta = {0, 0, 0, ""};
    rc = opc__acct_item_find(a, vault, item, 0, vault_id, item_id, &full, &meta, eb);
    rc = opc__acct_end(a, rc, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_item_output(a, vault_id, item_id, full, &meta, out, eb);
    }
    opc__json_delete_secret(full);
    return rc;
}

opc_err opc_account_item_get(opc_account *a, const char *vault, const char *item, opc_secret **out)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED,
                                 vault != NULL && item != NULL && out != NULL, NULL, out, &eb);
    if (rc == OPC_OK) {
        rc = item_get(a, vault, item, out, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

typedef struct summary {
    cJSON *json;
    const char *title; /* borrowed from json */
    char id[OPC_ID_LEN + 1];
} summary;

static int summary_cmp(const void *x, const void *y)
{
    const summary *a = x;
    const summary *b = y;
    int c = opc__strcasecmp(a->title, b->title);
    if (c == 0) {
        c = strcmp(a->title, b->title);
    }
    return c != 0 ? c : strcmp(a->id, b->id);
}

static opc_err summary_of(opc_account *a, const char *vault_id, sqlite3_stmt *st, summary *s,
                          opc__ebuf *eb)
{
    (void)snprintf(s->id, sizeof s->id, "%s", opc__acct_col_str(st, 0));
    cJSON *ov = NULL;
    opc_err rc = open_part(a, vault_id, s->id, OPC_WIRE_ITEM_OVERVIEW, sqlite3_column_int64(st, 2),
                           (const char *)sqlite3_column_text(st, 3), &ov, eb);
    if (rc == OPC_OK) {
        rc = opc__item_summary(ov, &s->json);
    }
    if (rc == OPC_OK) {
        opc__item_meta meta = {sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 4),
                               sqlite3_column_int64(st, 5), ""};
        (void)snprintf(meta.editor, sizeof meta.editor, "%s", opc__acct_col_str(st, 6));
        rc = add_meta(a, s->json, vault_id, s->id, &meta);
    }
    if (rc == OPC_OK) {
        s->title = overview_title(s->json);
    }
    opc__json_delete_secret(ov);
    return rc;
}

static opc_err item_list(opc_account *a, const char *vault, opc_secret **out, opc__ebuf *eb)
{
    opc_err rc = opc__acct_begin(a, false, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    char vault_id[OPC_ID_LEN + 1];
    sqlite3_stmt *st = NULL;
    summary *list = NULL;
    size_t n = 0;
    size_t cap = 0;
    rc = opc__acct_vault_resolve(a, vault, vault_id, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_query(a, &st, eb,
                             "SELECT id, version, key_sn, overview, created, updated, editor "
                             "FROM items WHERE vault_id = ? AND state = 'active'",
                             "t", vault_id);
    }
    while (rc == OPC_OK) {
        bool row = false;
        rc = opc__acct_step(a, st, &row, eb);
        if (rc != OPC_OK || !row) {
            break;
        }
        summary *l = opc__grow(list, &cap, n, sizeof *l, 16);
        if (l == NULL) {
            rc = OPC_ERR_NOMEM;
            break;
        }
        list = l;
        memset(&list[n], 0, sizeof list[n]);
        n++;
        rc = summary_of(a, vault_id, st, &list[n - 1], eb);
    }
    sqlite3_finalize(st);
    rc = opc__acct_end(a, rc, eb);
    cJSON *arr = NULL;
    if (rc == OPC_OK) {
        if (n > 1) {
            qsort(list, n, sizeof *list, summary_cmp);
        }
        arr = cJSON_CreateArray();
        rc = arr == NULL ? OPC_ERR_NOMEM : OPC_OK;
    }
    for (size_t i = 0; rc == OPC_OK && i < n; i++) {
        cJSON_AddItemToArray(arr, list[i].json);
        list[i].json = NULL;
    }
    if (rc == OPC_OK) {
        rc = print_secret(arr, out);
    }
    opc__json_delete_secret(arr);
    for (size_t i = 0; i < n; i++) {
        opc__json_delete_secret(list[i].json);
    }
    opc__free(list);
    return rc;
}

opc_err opc_account_item_list(opc_account *a, const char *vault, opc_secret **out)
{
    opc__ebuf eb;
    opc_err rc =
        opc__acct_enter(a, OPC__ACCT_UNLOCKED, vault != NULL && out != NULL, NULL, out, &eb);
    if (rc == OPC_OK) {
        rc = item_list(a, vault, out, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

static opc_err version_check(const char *item_id, int64_t stored, int64_t expected, opc__ebuf *eb)
{
    if (expected > 0 && expected != stored) {
        return opc__fail(eb, OPC_ERR_CONFLICT, "item %s was changed (version %lld, expected %lld)",
                         item_id, (long long)stored, (long long)expected);
    }
    return OPC_OK;
}

opc_err opc__acct_item_begin(opc_account *a, int64_t expected_version, opc__ebuf *eb)
{
    if (expected_version < 0) {
        return opc__fail(eb, OPC_ERR_RANGE, "expected version must not be negative");
    }
    return opc__acct_begin(a, true, eb);
}

opc_err opc__acct_item_find(opc_account *a, const char *vault, const char *item,
                            int64_t expected_version, char vault_id[OPC_ID_LEN + 1],
                            char item_id[OPC_ID_LEN + 1], cJSON **full, opc__item_meta *meta,
                            opc__ebuf *eb)
{
    opc_err rc = opc__acct_vault_resolve(a, vault, vault_id, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_item_resolve(a, vault_id, item, item_id, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_item_load(a, vault_id, item_id, full, meta, eb);
    }
    if (rc == OPC_OK) {
        rc = version_check(item_id, meta->version, expected_version, eb);
    }
    return rc;
}

static opc_err item_replace(opc_account *a, const char *vault, const char *item, const char *json,
                            int64_t expected_version, opc_secret **out, opc__ebuf *eb)
{
    opc_err rc = opc__acct_item_begin(a, expected_version, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    char vault_id[OPC_ID_LEN + 1];
    char item_id[OPC_ID_LEN + 1];
    cJSON *existing = NULL;
    cJSON *full = NULL;
    opc__item_meta meta = {0, 0, 0, ""};
    int64_t now = opc__now_s();
    rc = opc__acct_item_find(a, vault, item, expected_version, vault_id, item_id, &existing, &meta,
                             eb);
    if (rc == OPC_OK) {
        rc = opc__item_prepare_json(json, strlen(json), OPC_ITEM_REPLACE, existing, &full, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_item_store(a, vault_id, item_id, full, false, meta.version, now,
                                  &meta.version, eb);
        meta.updated = now;
        meta.editor[0] = '\0';
    }
    rc = opc__acct_item_end(a, rc, vault_id, item_id, full, &meta, out, eb);
    opc__json_delete_secret(existing);
    opc__json_delete_secret(full);
    return rc;
}

opc_err opc_account_item_replace(opc_account *a, const char *vault, const char *item,
                                 const char *item_json, int64_t expected_version, opc_secret **out)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_UNLOCKED,
                                 vault != NULL && item != NULL && item_json != NULL && out != NULL,
                                 NULL, out, &eb);
    if (rc == OPC_OK) {
        rc = item_replace(a, vault, item, item_json, expected_version, out, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

static opc_err item_delete(opc_account *a, const char *vault, const char *item,
                           int64_t expected_version, opc__ebuf *eb)
{
    opc_err rc = opc__acct_item_begin(a, expected_version, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    char vault_id[OPC_ID_LEN + 1];
    char item_id[OPC_ID_LEN + 1];
    int64_t stored = 0;
    int64_t now = opc__now_s();
    bool found = false;
    rc = opc__acct_vault_resolve(a, vault, vault_id, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_item_resolve(a, vault_id, item, item_id, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_query_int(a, &found, &stored, eb,
                                 "SELECT version FROM items WHERE id = ? AND state = 'active'", "t",
                                 item_id);
        if (rc == OPC_OK && !found) {
            rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "item %s not found", item_id);
        }
    }
    if (rc == OPC_OK) {
        rc = version_check(item_id, stored, expected_version, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_item_tombstone(a, vault_id, item_id, stored, NULL, now, eb);
    }
    return opc__acct_end(a, rc, eb);
}

opc_err opc_account_item_delete(opc_account *a, const char *vault, const char *item,
                                int64_t expected_version)
{
    opc__ebuf eb;
    opc_err rc =
        opc__acct_enter(a, OPC__ACCT_UNLOCKED, vault != NULL && item != NULL, NULL, NULL, &eb);
    if (rc == OPC_OK) {
        rc = item_delete(a, vault, item, expected_version, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}
