/*
 * account/feed.h - the account's change feed, as connect-sync consumes it
 * (through a local account.db upstream today, op-account-server later).
 *
 * Every change to the account is logged in its own transaction with an
 * account-wide, strictly increasing sequence number. An entry names ids only:
 *
 *   {"seq": N, "kind": K, "vault": id?, "item": id?, "file": id?,
 *    "server": id?, "jti": id?, "kid": id?, "version": N?}
 *
 * kind and what the consumer does with it:
 *   issuer_key     (kid)               pin/refresh the issuer key (table issuer_keys)
 *   vault_create   (vault)             load the vault row and its attrs
 *   vault_update   (vault)             reload the vault row (attrs, versions)
 *   vault_delete   (vault)             drop the vault (owner view only; servers
 *                                      see a grant_revoke first)
 *   grant          (vault, server)     load the server's vault_access row and
 *                                      then the vault's WHOLE state (vault row,
 *                                      every item, every file): earlier item
 *                                      changes of that vault may predate the
 *                                      consumer's cursor
 *   grant_revoke   (vault, server)     drop the vault and everything in it
 *   item_upsert    (vault, item, version)  reload the item row (and the vault
 *                                      row: contentVersion, items, updatedAt)
 *   item_delete    (vault, item, version)  drop the item and its files
 *   file_add       (vault, item, file, version)  fetch the file's chunk rows
 *   server_create / server_update / server_delete (server)
 *   token_create / token_update / token_revoke    (server, jti): reload the
 *                                      registry row (tokens table)
 *
 * Payloads (ciphertext, wrapped keys, signatures, registry rows) are read by
 * the consumer from the state tables, whose rows carry the seq of their last
 * change; the feed itself holds no secret and no ciphertext.
 *
 * What a Connect server S sees: changes with server = S (its own
 * server/token/grant changes), account-wide issuer_key changes, and changes
 * of vaults for which S currently holds a grant. So a second server never
 * sees the first server's vaults, tokens or grants.
 */
#ifndef OPC_ACCOUNT_FEED_H
#define OPC_ACCOUNT_FEED_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include <opconnect/account.h>

#include "internal.h"

/* Largest page returned by one call. */
#define OPC_FEED_MAX_LIMIT 10000

/*
 * The changes after `since` visible to server_id (NULL: every change, the
 * owner's view), at most limit (1..OPC_FEED_MAX_LIMIT) entries in order.
 * *out is a new JSON array (cJSON_Delete it). *out_last is the cursor to
 * pass as `since` next time: the seq of the last entry returned, or, when
 * fewer than limit entries came back, the account's latest seq (so changes
 * invisible to this server are skipped for good). A `since` beyond the
 * latest seq (the account restored to an earlier point) gets no entries
 * and *out_last = the latest seq, BELOW since: a reader seeing its cursor
 * go back knows that what it holds past it may be gone, and starts again
 * (connect-sync empties its cache). Works on a locked handle:
 * the feed holds no secret. Errors: OPC_ERR_INVALID_ARG, OPC_ERR_RANGE,
 * OPC_ERR_NOMEM, SQLite failures (OPC_ERR_IO...), with the handle's errmsg.
 */
opc_err opc__account_changes(opc_account *a, const char *server_id, int64_t since, size_t limit,
                             cJSON **out, int64_t *out_last);

/*
 * The long poll of the feed, for every backend that serves it (the local
 * upstream, the account server's store): read(ud, since, &page, &next)
 * the page after since; when it is empty and wait_ms has not passed,
 * pause(ud, ms) for at most poll_ms (it may return early: a commit, a
 * file change) and read again after the page's cursor; it returns true
 * to end the wait at once (an interrupt, a shutdown), which answers the
 * empty page. *out (cJSON_Delete) and *out_next as opc__account_changes();
 * a failure of read is returned as it is.
 */
typedef opc_err (*opc__feed_read_fn)(void *ud, int64_t since, cJSON **out, int64_t *out_next);
typedef bool (*opc__feed_pause_fn)(void *ud, int64_t ms);
opc_err opc__account_changes_wait(int64_t since, int64_t wait_ms, int64_t poll_ms,
                                  opc__feed_read_fn read, opc__feed_pause_fn pause, void *ud,
                                  cJSON **out, int64_t *out_next);

#endif
