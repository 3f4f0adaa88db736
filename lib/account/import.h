/*
 * account/import.h - item writes by a Connect server: the write half of
 * export.h, behind the upstream's item_put and item_delete.
 *
 * Every function works on a LOCKED handle. A Connect server never holds the
 * owner's keys: it seals the overview and details under the vault key it
 * unwrapped from its own grant, with the item AADs of schema.c
 *
 *   "v1|<vaultId>|<itemId>|overview|<key_sn>"   "v1|<vaultId>|<itemId>|details|<key_sn>"
 *
 * and the account stores the envelopes as they are. It cannot open them, so
 * it checks their shape only (crypto/envelope.h, opc__envelope_check), with
 * the kid equal to the vault id (the vault key's kid).
 *
 * Checks, in this order; the ones after the envelope check run in ONE write
 * transaction (BEGIN IMMEDIATE) together with the effects, so a concurrent
 * writer can neither slip in between check and write nor see half a write:
 *   1. arguments: ids of 26 base32 characters; expected_version >= 0;
 *      key_sn >= 1                                           OPC_ERR_INVALID_ARG,
 *                                                            OPC_ERR_RANGE
 *   2. (put) overview and details are envelopes sealed under the vault's
 *      key (kid = vault id)                                  OPC_ERR_PARSE,
 *                                                            OPC_ERR_TOO_LARGE
 *   3. the server is an active Connect server of the account OPC_ERR_PERMISSION
 *   4. the vault exists                                      OPC_ERR_NOT_FOUND
 *   5. the server holds a grant for it with OPC_ACL_WRITE    OPC_ERR_PERMISSION
 *   6. (put) key_sn is the vault's current key serial        OPC_ERR_CONFLICT
 *   7. create (expected_version 0): the id was never used, in any vault or
 *      state (a deleted item's tombstone keeps its id)       OPC_ERR_EXISTS
 *      replace / delete: the item exists, is active and is in this vault
 *                                                            OPC_ERR_NOT_FOUND
 *      and its version is expected_version (delete: unless 0) OPC_ERR_CONFLICT
 *
 * Effects, as the owner's writes (item.c shares the SQL): version + 1
 * (create: 1), updated = now (create: created too), editor = the server (so
 * lastEditedBy is the server id upper-cased), the vault touched
 * (content_version + 1, items +1/0/-1, updated = now), one change-feed entry
 * (item_upsert or item_delete, with the new version, no server: every server
 * granted the vault sees it, the writer's own sync included). A replace
 * keeps the item's file chunks (the file keys travel inside the details); a
 * delete leaves a tombstone (state deleted, no ciphertext) and drops the
 * files.
 *
 * The write is the protocol message opc__item_write (wire/rows.h).
 *
 * Output: *out_item and *out_vault are the item row and the vault row after
 * the write, as wire/rows.h encodes them, built before
 * the commit so a failure changes nothing. After a delete the item row is
 * the tombstone: state "deleted", overview and details null.
 *
 * Errors besides the above: OPC_ERR_NOMEM, and SQLite failures, which are
 * OPC_ERR_IO here (busy beyond the 5 s busy timeout, read-only or corrupt
 * file...), so OPC_ERR_PARSE always means a bad envelope. Messages are
 * secret-free and name ids only. The handle's errmsg is set as by every
 * account call, and eb (may be NULL) gets the same message.
 */
#ifndef OPC_ACCOUNT_IMPORT_H
#define OPC_ACCOUNT_IMPORT_H

#include <cjson/cJSON.h>

#include <opconnect/account.h>

#include "core/err.h"
#include "account/rows.h"
#include "internal.h"
#include "wire/rows.h"

/* Create or replace an item (see above). now: Unix seconds of the write. */
opc_err opc__account_server_item_put(opc_account *a, const char *server_id,
                                     const opc__item_write *w, int64_t now, cJSON **out_item,
                                     cJSON **out_vault, opc__ebuf *eb);

/*
 * Delete an item (see above). expected_version > 0 must match the stored
 * version; 0 deletes whatever version is stored.
 */
opc_err opc__account_server_item_delete(opc_account *a, const char *server_id, const char *vault_id,
                                        const char *item_id, int64_t expected_version, int64_t now,
                                        cJSON **out_item, cJSON **out_vault, opc__ebuf *eb);

/*
 * The same write for a store that keeps the account elsewhere (the
 * PostgreSQL store), in two halves around what it reads in its own write
 * transaction. First, before the transaction: the arguments and (a put)
 * both envelopes. remove: a delete (w's key serial and envelopes unused).
 */
opc_err opc__item_write_check(const char *server_id, const opc__item_write *w, bool remove,
                              opc__ebuf *eb);

/* What the store read in the transaction. */
typedef struct opc__item_write_state {
    bool server_active;  /* the server is an active server of the account */
    bool vault_found;    /* the vault exists ... */
    int64_t key_sn;      /* ... under this key serial */
    bool granted;        /* the server holds a grant on the vault ... */
    int64_t acl;         /* ... with these bits */
    bool item_found;     /* a row with the item's id exists ... */
    bool item_active;    /* ... active ... */
    bool item_in_vault;  /* ... in the write's vault ... */
    int64_t version;     /* ... at this version ... */
    int64_t seq;         /* ... and seq */
    int64_t chunks;      /* its file chunks (a delete) */
} opc__item_write_state;

/*
 * Then: the write's verdict on st (checks 3-7 above: PERMISSION,
 * NOT_FOUND, CONFLICT, EXISTS, as the account file's write says them) and,
 * when it may go ahead, its statements appended to b, to run in the same
 * transaction; the item and vault rows to return are read after them.
 */
opc_err opc__item_write_plan(const char *server_id, const opc__item_write *w, bool remove,
                             const opc__item_write_state *st, int64_t now, opc__rows_batch *b,
                             opc__ebuf *eb);

#endif
