/*
 * view/items.h - a vault's items as the routes handle them: the stored full
 * item (decrypted and joined), its response form, and new versions sealed
 * for the upstream.
 *
 * Item AADs: the owner's (wire/labels.h, opc__wire_item_aad). The vault key
 * comes from the API's vault-key cache (keys.h), unwrapped from the
 * server's grant.
 *
 * Secrets: every tree and text here may hold item secrets; trees are freed
 * with opc__json_delete_secret, texts with opc__secret_free.
 */
#ifndef OPC_VIEW_ITEMS_H
#define OPC_VIEW_ITEMS_H

#include <cjson/cJSON.h>

#include "cache/cache.h"
#include "core/err.h"
#include "view/index.h"
#include "view/keys.h"
#include "internal.h"

/*
 * The stored item iid of vault v: *full is the joined overview + details
 * (with passwordHistory and file keys: the form item_prepare's `existing`
 * takes), *row the cache row (clear it with opc__cache_item_clear). A
 * missing or deleted item is OPC_ERR_NOT_FOUND.
 */
opc_err opc__view_item_load(opc__index *ix, opc__vault_keys *keys, const opc__ix_vault *v,
                            const char *iid, cJSON **full, opc__cache_item *row, opc__ebuf *eb);

/*
 * A full item as GET shows it: a copy of `full` with the server-side
 * members of row (id, vault, version, lastEditedBy, createdAt, updatedAt)
 * and files' content_path, presented at now (opc__item_present: OTP codes,
 * internal members removed). *out: free with opc__json_delete_secret.
 * *valid_until (may be NULL) as opc__item_present's.
 */
opc_err opc__view_item_view(const cJSON *full, const opc__cache_item *row, int64_t now,
                           cJSON **out, int64_t *valid_until, opc__ebuf *eb);

/* The same view printed: the response body of a full item. */
opc_err opc__view_item_body(const cJSON *full, const opc__cache_item *row, int64_t now, char **body,
                           size_t *len, int64_t *valid_until, opc__ebuf *eb);
/* The same, made in `full` itself (no copy; full is changed, the caller
 * still frees it): for a GET, which needs the stored form no more. */
opc_err opc__view_item_body_take(cJSON *full, const opc__cache_item *row, int64_t now, char **body,
                                 size_t *len, int64_t *valid_until, opc__ebuf *eb);

/*
 * Split a full item (item_prepare's output) and seal both halves under the
 * vault's current key for item iid: *overview and *details are envelope
 * JSON texts (not secret), *key_sn the key serial used.
 */
opc_err opc__view_item_seal(opc__vault_keys *keys, const opc__ix_vault *v, const char *iid,
                            const cJSON *full, char **overview, char **details, int64_t *key_sn,
                            opc__ebuf *eb);

#endif
