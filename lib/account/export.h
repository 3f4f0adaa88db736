/*
 * account/export.h - the raw state rows a Connect server mirrors, as the
 * upstream (the local account.db backend now, op-account-server later)
 * hands them to connect-sync.
 *
 * Every function works on a LOCKED handle: the rows are ciphertext, wrapped
 * keys, signatures, public keys and metadata. Each row is the protocol
 * message of wire/rows.h (issuer key, access, vault, item, file chunk,
 * token), encoded by its encoder there.
 *
 * Everything is scoped to one Connect server: vaults, items and files only
 * of vaults the server holds a grant for, its own grant rows and tokens. A
 * row that does not exist or is out of scope is OPC_ERR_NOT_FOUND. Only
 * active items are exported (a deleted item is NOT_FOUND). Integers are
 * below 2^53. Errors also: OPC_ERR_INVALID_ARG, OPC_ERR_NOMEM and SQLite
 * failures (OPC_ERR_IO, OPC_ERR_PARSE...), with the handle's errmsg.
 */
#ifndef OPC_ACCOUNT_EXPORT_H
#define OPC_ACCOUNT_EXPORT_H

#include <cjson/cJSON.h>

#include <opconnect/account.h>

#include "core/err.h"
#include "crypto/key.h"
#include "internal.h"

/* Largest page of items or file chunks one call returns. */
#define OPC_EXPORT_MAX_LIMIT 10000

/*
 * Open an account file for export: a locked handle that can never be
 * unlocked (no KDF floor is needed since it never derives a key from a
 * password; the floor is enforced to the maximum, so any unlock attempt
 * fails). As opc_account_open otherwise.
 */
opc_err opc__account_open_export(const char *path, opc_account **out, opc__ebuf *eb);

/* Issuer key by kid (issuer keys are account-wide). */
opc_err opc__account_export_issuer_key(opc_account *a, const char *kid, cJSON **out);
/* The server's grant row for a vault. */
opc_err opc__account_export_access(opc_account *a, const char *server_id, const char *vault_id,
                                   cJSON **out);
/* The vault row, when the server holds a grant for it. */
opc_err opc__account_export_vault(opc_account *a, const char *server_id, const char *vault_id,
                                  cJSON **out);
/* One active item of a granted vault. */
opc_err opc__account_export_item(opc_account *a, const char *server_id, const char *item_id,
                                 cJSON **out);
/*
 * Pages of a granted vault's active items and of one active item's file
 * chunks (JSON arrays): keyset paging, so a large vault or file is read in
 * bounded pieces. Items are ordered by id, the page after after_id (NULL or
 * "": from the first); chunks by (file_id, idx), the page after
 * (after_file, after_idx) (after_file NULL or "": from the first). At most
 * limit rows (1..OPC_EXPORT_MAX_LIMIT, else OPC_ERR_RANGE); fewer means the
 * end was reached. Out of scope: an empty array.
 */
opc_err opc__account_export_vault_items(opc_account *a, const char *server_id, const char *vault_id,
                                        const char *after_id, size_t limit, cJSON **out);
opc_err opc__account_export_item_files(opc_account *a, const char *server_id, const char *item_id,
                                       const char *after_file, int64_t after_idx, size_t limit,
                                       cJSON **out);
/*
 * A page of a granted vault's file chunks for a range of its active items,
 * ordered by (item_id, file_id, idx): the chunks of after_item after
 * (after_file, after_idx) (after_file NULL or "": all of after_item's), then
 * those of the items after it up to last_item included. One read for many
 * items, which mostly have no file at all. Limits as above.
 */
opc_err opc__account_export_vault_files(opc_account *a, const char *server_id,
                                        const char *vault_id, const char *after_item,
                                        const char *after_file, int64_t after_idx,
                                        const char *last_item, size_t limit, cJSON **out);
/* The server's token registry row. */
opc_err opc__account_export_token(opc_account *a, const char *server_id, const char *jti,
                                  cJSON **out);

/*
 * The device public key (EC P-256, verify only) the owner registered for an
 * ACTIVE Connect server (servers.device_pub): what the account server checks
 * a session handshake's signature with. A deleted or unknown server is
 * OPC_ERR_NOT_FOUND; a stored key that does not import is OPC_ERR_KEY.
 * *out: opc__key_free.
 */
opc_err opc__account_export_device_key(opc_account *a, const char *server_id, opc__key **out);
/* A stored device key (a public EC JWK) as a verify key: OPC_ERR_KEY naming
 * the server when it is not one (the store's fault, not the caller's). */
opc_err opc__account_device_key_parse(const char *jwk, const char *server_id, opc__key **out,
                                      opc__ebuf *eb);

/*
 * What the account's upstream error rc means to a Connect server (the
 * upstream's contract, upstream/upstream.h): OPC_ERR_NOT_FOUND, NOMEM and
 * INVALID_ARG stay, and for a write (import.h) also the caller's own
 * problems (CONFLICT, EXISTS, PERMISSION, PARSE, TOO_LARGE, RANGE);
 * everything else is the file's side: OPC_ERR_IO. OPC_OK stays OPC_OK.
 * Shared by every backend over account files (upstream/local.c, store/).
 */
opc_err opc__account_upstream_code(opc_err rc, bool write);

#endif
