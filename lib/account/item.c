/*
 * account/item.c - items: validation through lib/model, encryption of the
 * overview and details under the vault key, optimistic concurrency
 * (design: schema.c).
 *
 * Store protocol (rows.h): no SQL here. A call reads (item.get, item.list,
 * item.is_active; the vault and its key through vault.c), validates and
 * seals in the client, makes its output, then sends ONE batch: a guard that
 * the vault key serial is still the one sealed under, item_upsert or
 * item_delete, the row written at the (version, seq) read (expecting 1
 * row), the vault touch. A conflict committed nothing: the call starts
 * again from its reads (OPC__ITEM_TRIES attempts); an expected version the
 * caller gave is then checked against the new row, as before.
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
    cJSON *rows = NULL;
    opc_err rc = opc__rows_read(a->rows, "item.is_active", &rows, eb, "tt", id, vault_id);
    *found = rc == OPC_OK && cJSON_GetArraySize(rows) > 0;
    cJSON_Delete(rows);
    return rc;
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
    cJSON *rows = NULL;
    opc_err rc = opc__rows_read(a->rows, "item.list", &rows, eb, "t", vault_id);
    const cJSON *row = rc == OPC_OK ? rows->child : NULL;
    for (; rc == OPC_OK && row != NULL; row = row->next) {
        char item[OPC_ID_LEN + 1];
        (void)snprintf(item, sizeof item, "%s", opc__rows_str(row, 0));
        cJSON *ov = NULL;
        rc = open_part(a, vault_id, item, OPC_WIRE_ITEM_OVERVIEW, opc__rows_int(row, 2),
                       opc__rows_str(row, 3), &ov, eb);
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
    cJSON_Delete(rows);
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
    cJSON *rows = NULL;
    opc_err rc = opc__rows_read(a->rows, "item.get", &rows, eb, "tt", item_id, vault_id);
    const cJSON *row = rc == OPC_OK ? cJSON_GetArrayItem(rows, 0) : NULL;
    if (rc == OPC_OK && row == NULL) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "item %s not found", item_id);
    }
    cJSON *ov = NULL;
    cJSON *det = NULL;
    if (rc == OPC_OK) {
        int64_t sn = opc__rows_int(row, 1);
        meta->version = opc__rows_int(row, 0);
        meta->created = opc__rows_int(row, 4);
        meta->updated = opc__rows_int(row, 5);
        (void)snprintf(meta->editor, sizeof meta->editor, "%s", opc__rows_str(row, 6));
        meta->seq = opc__rows_int(row, 7);
        rc = open_part(a, vault_id, item_id, OPC_WIRE_ITEM_OVERVIEW, sn, opc__rows_str(row, 2), &ov,
                       eb);
        if (rc == OPC_OK) {
            rc = open_part(a, vault_id, item_id, OPC_WIRE_ITEM_DETAILS, sn, opc__rows_str(row, 3),
                           &det, eb);
        }
    }
    if (rc == OPC_OK) {
        rc = opc__item_join(ov, det, full);
    }
    cJSON_Delete(rows);
    opc__json_delete_secret(ov);
    opc__json_delete_secret(det);
    return rc;
}

int opc__acct_item_batch_write(opc__rows_batch *b, const opc__sealed_item *it, bool is_new,
                               int64_t version, int64_t seq, int64_t now)
{
    opc__rows_batch_add(b, "item.vault_sn", 1, "ti", it->vault_id, it->key_sn);
    opc__change c = {.kind = OPC_CHANGE_ITEM_UPSERT,
                     .vault = it->vault_id,
                     .item = it->item_id,
                     .version = is_new ? 1 : version + 1};
    int k = opc__acct_batch_change(b, &c, now);
    if (is_new) {
        opc__rows_batch_add(b, "item.insert", 1, "ttittiiqt", it->item_id, it->vault_id, it->key_sn,
                            it->overview, it->details, now, now, k, it->editor);
    } else {
        opc__rows_batch_add(b, "item.update", 1, "ittiqtttii", it->key_sn, it->overview,
                            it->details, now, k, it->editor, it->item_id, it->vault_id, version,
                            seq);
    }
    opc__rows_batch_add(b, "item.vault_touch", 1, "iiqt", (int64_t)(is_new ? 1 : 0), now, k,
                        it->vault_id);
    return k;
}

void opc__acct_item_batch_tombstone(opc__rows_batch *b, const char *vault_id, const char *item_id,
                                    int64_t version, int64_t seq, const char *editor,
                                    int64_t n_chunks, int64_t now)
{
    opc__change c = {
        .kind = OPC_CHANGE_ITEM_DELETE, .vault = vault_id, .item = item_id, .version = version + 1};
    int k = opc__acct_batch_change(b, &c, now);
    opc__rows_batch_add(b, "item.tombstone", 1, "iqtttii", now, k, editor, item_id, vault_id,
                        version, seq);
    opc__rows_batch_add(b, "item.files_delete", n_chunks, "t", item_id);
    opc__rows_batch_add(b, "item.vault_touch", 1, "iiqt", (int64_t)-1, now, k, vault_id);
}

/* Seal full's overview and details under the vault's current key. */
static opc_err item_seal(opc_account *a, const char *vault_id, const char *item_id,
                         const cJSON *full, int64_t *key_sn, char **ov_env, char **det_env,
                         opc__ebuf *eb)
{
    const opc__key *k = NULL;
    int64_t sn = 0;
    cJSON *ov = NULL;
    cJSON *det = NULL;
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
        rc = opc__acct_seal_json(k, aad, ov, ov_env);
    }
    if (rc == OPC_OK) {
        rc = opc__wire_item_aad(aad, sizeof aad, vault_id, item_id, OPC_WIRE_ITEM_DETAILS, sn);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_seal_json(k, aad, det, det_env);
        if (rc == OPC_ERR_TOO_LARGE) {
            rc = opc__fail(eb, rc, "item %s is too large", item_id);
        }
    }
    *key_sn = sn;
    opc__json_delete_secret(ov);
    opc__json_delete_secret(det);
    return rc;
}

/* The output of full from a copy (full stays as it is, for another attempt). */
static opc_err output_of_copy(opc_account *a, const char *vault_id, const char *item_id,
                              const cJSON *full, const opc__item_meta *meta, opc_secret **out,
                              opc__ebuf *eb)
{
    cJSON *copy = cJSON_Duplicate(full, true);
    opc_err rc = copy == NULL ? OPC_ERR_NOMEM
                              : opc__acct_item_output(a, vault_id, item_id, copy, meta, out, eb);
    opc__json_delete_secret(copy);
    return rc;
}

opc_err opc__acct_item_put(opc_account *a, opc__rows_batch *b, const opc__item_put *p,
                           const cJSON *full, opc__item_meta *meta, int64_t now, opc_secret **out,
                           bool *stale, opc__ebuf *eb)
{
    *stale = false;
    char *ov_env = NULL;
    char *det_env = NULL;
    int64_t sn = 0;
    opc_err rc = item_seal(a, p->vault_id, p->item_id, full, &sn, &ov_env, &det_env, eb);
    if (rc == OPC_OK) {
        meta->version = p->is_new ? 1 : p->version + 1;
        meta->updated = now;
        meta->editor[0] = '\0';
        /* The output is made before the batch: once it commits nothing is
         * left that can fail, so a call that fails has changed nothing. */
        rc = output_of_copy(a, p->vault_id, p->item_id, full, meta, out, eb);
    }
    if (rc == OPC_OK) {
        opc__sealed_item it = {p->vault_id, p->item_id, sn, ov_env, det_env, NULL};
        (void)opc__acct_item_batch_write(b, &it, p->is_new, p->version, p->seq, now);
        if (p->file_id != NULL) {
            opc__change c = {.kind = OPC_CHANGE_FILE_ADD,
                             .vault = p->vault_id,
                             .item = p->item_id,
                             .file = p->file_id,
                             .version = meta->version};
            (void)opc__acct_batch_change(b, &c, now);
        }
        rc = opc__rows_batch_run(a->rows, b, eb);
        *stale = rc == OPC_ERR_CONFLICT;
    }
    if (rc != OPC_OK) {
        opc_secret_free(*out);
        *out = NULL;
    }
    opc__free(ov_env);
    opc__free(det_env);
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

/* ---- public API ---- */

/* One attempt of a create: reads, seal, one batch. */
static opc_err create_once(opc_account *a, const char *vault, const cJSON *full, opc_secret **out,
                           bool *stale, opc__ebuf *eb)
{
    *stale = false;
    char vault_id[OPC_ID_LEN + 1];
    char item_id[OPC_ID_LEN + 1];
    int64_t now = opc__now_s();
    opc__item_meta meta = {0, now, now, "", 0};
    opc_err rc = opc__id_generate(item_id);
    if (rc == OPC_OK) {
        rc = opc__acct_vault_resolve(a, vault, vault_id, eb);
    }
    if (rc == OPC_OK) {
        opc__rows_batch b;
        opc__rows_batch_init(&b);
        opc__item_put p = {vault_id, item_id, true, 0, 0, NULL};
        rc = opc__acct_item_put(a, &b, &p, full, &meta, now, out, stale, eb);
        opc__rows_batch_free(&b);
    }
    return rc;
}

static opc_err item_create(opc_account *a, const char *vault, const char *json, opc_secret **out,
                           opc__ebuf *eb)
{
    cJSON *full = NULL;
    opc_err rc = opc__item_prepare_json(json, strlen(json), OPC_ITEM_CREATE, NULL, &full, eb);
    bool again = rc == OPC_OK;
    for (int i = 0; again && i < OPC__ITEM_TRIES; i++) {
        rc = create_once(a, vault, full, out, &again, eb);
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
    char vault_id[OPC_ID_LEN + 1];
    char item_id[OPC_ID_LEN + 1];
    cJSON *full = NULL;
    opc__item_meta meta = {0, 0, 0, "", 0};
    opc_err rc = opc__acct_item_find(a, vault, item, 0, vault_id, item_id, &full, &meta, eb);
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

static opc_err summary_of(opc_account *a, const char *vault_id, const cJSON *row, summary *s,
                          opc__ebuf *eb)
{
    (void)snprintf(s->id, sizeof s->id, "%s", opc__rows_str(row, 0));
    cJSON *ov = NULL;
    opc_err rc = open_part(a, vault_id, s->id, OPC_WIRE_ITEM_OVERVIEW, opc__rows_int(row, 2),
                           opc__rows_str(row, 3), &ov, eb);
    if (rc == OPC_OK) {
        rc = opc__item_summary(ov, &s->json);
    }
    if (rc == OPC_OK) {
        opc__item_meta meta = {opc__rows_int(row, 1), opc__rows_int(row, 4), opc__rows_int(row, 5),
                               "", opc__rows_int(row, 7)};
        (void)snprintf(meta.editor, sizeof meta.editor, "%s", opc__rows_str(row, 6));
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
    char vault_id[OPC_ID_LEN + 1];
    cJSON *rows = NULL;
    summary *list = NULL;
    size_t n = 0;
    opc_err rc = opc__acct_vault_resolve(a, vault, vault_id, eb);
    if (rc == OPC_OK) {
        rc = opc__rows_read(a->rows, "item.list", &rows, eb, "t", vault_id);
    }
    size_t max = rc == OPC_OK ? (size_t)cJSON_GetArraySize(rows) : 0;
    if (rc == OPC_OK) {
        list = opc__calloc(max > 0 ? max : 1, sizeof *list);
        rc = list == NULL ? OPC_ERR_NOMEM : OPC_OK;
    }
    const cJSON *row = rc == OPC_OK ? rows->child : NULL;
    for (; rc == OPC_OK && list != NULL && row != NULL && n < max; row = row->next) {
        rc = summary_of(a, vault_id, row, &list[n++], eb);
    }
    cJSON_Delete(rows);
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

opc_err opc__acct_item_check_expected(int64_t expected_version, opc__ebuf *eb)
{
    if (expected_version < 0) {
        return opc__fail(eb, OPC_ERR_RANGE, "expected version must not be negative");
    }
    return OPC_OK;
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

/* One attempt of a replace: reads (the row's version and seq), seal, one batch. */
static opc_err replace_once(opc_account *a, const char *vault, const char *item, const char *json,
                            int64_t expected_version, opc_secret **out, bool *stale, opc__ebuf *eb)
{
    *stale = false;
    char vault_id[OPC_ID_LEN + 1];
    char item_id[OPC_ID_LEN + 1];
    cJSON *existing = NULL;
    cJSON *full = NULL;
    opc__item_meta meta = {0, 0, 0, "", 0};
    int64_t now = opc__now_s();
    opc_err rc = opc__acct_item_find(a, vault, item, expected_version, vault_id, item_id, &existing,
                                     &meta, eb);
    if (rc == OPC_OK) {
        rc = opc__item_prepare_json(json, strlen(json), OPC_ITEM_REPLACE, existing, &full, eb);
    }
    if (rc == OPC_OK) {
        opc__rows_batch b;
        opc__rows_batch_init(&b);
        opc__item_put p = {vault_id, item_id, false, meta.version, meta.seq, NULL};
        rc = opc__acct_item_put(a, &b, &p, full, &meta, now, out, stale, eb);
        opc__rows_batch_free(&b);
    }
    opc__json_delete_secret(existing);
    opc__json_delete_secret(full);
    return rc;
}

static opc_err item_replace(opc_account *a, const char *vault, const char *item, const char *json,
                            int64_t expected_version, opc_secret **out, opc__ebuf *eb)
{
    opc_err rc = opc__acct_item_check_expected(expected_version, eb);
    bool again = rc == OPC_OK;
    for (int i = 0; again && i < OPC__ITEM_TRIES; i++) {
        rc = replace_once(a, vault, item, json, expected_version, out, &again, eb);
    }
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

/* One attempt of a delete: reads (version, seq, the item's chunks), one batch. */
static opc_err delete_once(opc_account *a, const char *vault, const char *item,
                           int64_t expected_version, bool *stale, opc__ebuf *eb)
{
    *stale = false;
    char vault_id[OPC_ID_LEN + 1];
    char item_id[OPC_ID_LEN + 1];
    int64_t now = opc__now_s();
    cJSON *rows = NULL;
    cJSON *count = NULL;
    opc_err rc = opc__acct_vault_resolve(a, vault, vault_id, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_item_resolve(a, vault_id, item, item_id, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__rows_read(a->rows, "item.get", &rows, eb, "tt", item_id, vault_id);
    }
    const cJSON *row = rc == OPC_OK ? cJSON_GetArrayItem(rows, 0) : NULL;
    if (rc == OPC_OK && row == NULL) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "item %s not found", item_id);
    }
    if (rc == OPC_OK) {
        rc = version_check(item_id, opc__rows_int(row, 0), expected_version, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__rows_read(a->rows, "item.chunk_count", &count, eb, "t", item_id);
    }
    if (rc == OPC_OK) {
        opc__rows_batch b;
        opc__rows_batch_init(&b);
        opc__acct_item_batch_tombstone(&b, vault_id, item_id, opc__rows_int(row, 0),
                                       opc__rows_int(row, 7), NULL,
                                       opc__rows_int(cJSON_GetArrayItem(count, 0), 0), now);
        rc = opc__rows_batch_run(a->rows, &b, eb);
        *stale = rc == OPC_ERR_CONFLICT;
        opc__rows_batch_free(&b);
    }
    cJSON_Delete(rows);
    cJSON_Delete(count);
    return rc;
}

static opc_err item_delete(opc_account *a, const char *vault, const char *item,
                           int64_t expected_version, opc__ebuf *eb)
{
    opc_err rc = opc__acct_item_check_expected(expected_version, eb);
    bool again = rc == OPC_OK;
    for (int i = 0; again && i < OPC__ITEM_TRIES; i++) {
        rc = delete_once(a, vault, item, expected_version, &again, eb);
    }
    return rc;
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
