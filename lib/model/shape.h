/*
 * model/shape.h - the Connect vault object and the server-side members of a
 * Connect item, built alike by the owner's account (op) and by a Connect
 * server's view of its cache (the REST API).
 *
 * Vault: {id, name, description (when not empty), attributeVersion,
 * contentVersion, items, type, createdAt, updatedAt}.
 * Item (FullItem and list summary alike): id, vault {id}, version,
 * lastEditedBy (when known), createdAt, updatedAt; each file's
 * content_path. Times are RFC 3339
 * (whole seconds, Z). Where the members go among the item's own members is
 * the caller's: each side keeps the order its clients have always seen.
 */
#ifndef OPC_MODEL_SHAPE_H
#define OPC_MODEL_SHAPE_H

#include <cjson/cJSON.h>

#include "core/err.h"
#include "internal.h"

/* The type of every vault this project creates. */
#define OPC_VAULT_TYPE_USER "USER_CREATED"

typedef struct opc__vault_info {
    const char *id;
    const char *name;
    const char *description; /* NULL or "": left out */
    const char *type;        /* NULL: OPC_VAULT_TYPE_USER */
    int64_t attr_version;
    int64_t content_version;
    int64_t items;   /* the number of active items */
    int64_t created; /* Unix seconds */
    int64_t updated;
} opc__vault_info;

/* A new vault object (cJSON_Delete). OPC_ERR_NOMEM, or OPC_ERR_RANGE for a
 * time outside RFC 3339; *out is NULL on failure. */
opc_err opc__vault_json(const opc__vault_info *v, cJSON **out);

/* {"id": vault_id}, an item's reference to its vault; NULL when out of memory. */
cJSON *opc__item_vault_ref(const char *vault_id);

/* Set "id" then "vault" on obj (each replacing a member of that name, added
 * after the others). */
opc_err opc__item_set_ids(cJSON *obj, const char *vault_id, const char *item_id);

/* The server's record of an item's changes. */
typedef struct opc__item_stamp {
    int64_t version;
    const char *editor; /* lastEditedBy; NULL or "": left out */
    int64_t created;    /* Unix seconds */
    int64_t updated;
} opc__item_stamp;

/* Set version, lastEditedBy, createdAt and updatedAt on obj, in that order
 * (each replacing a member of that name, added after the others).
 * OPC_ERR_NOMEM or OPC_ERR_RANGE (a time outside RFC 3339). */
opc_err opc__item_set_stamp(cJSON *obj, const opc__item_stamp *s);

/* Room for a file's content path with the project's 26-character ids. */
#define OPC_ITEM_FILE_PATH_MAX 160

/* "/v1/vaults/<vaultId>/items/<itemId>/files/<fileId>/content", where the
 * Connect API serves a file's content (a file's content_path). OPC_OK, or
 * OPC_ERR_TOO_LARGE (out "" when cap > 0) when it does not fit in out[cap]. */
opc_err opc__item_file_path(char *out, size_t cap, const char *vault_id, const char *item_id,
                            const char *file_id);

#endif
