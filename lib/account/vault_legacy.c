/*
 * account/vault_legacy.c - TRANSITION: the SQL forms of two vault.c
 * helpers, for the modules not yet converted to the owner's store protocol
 * (docs/protocol.md, "The owner's store protocol"): item.c touches the vault
 * and server.c writes a server's grant inside their own SQLite transaction,
 * with a seq they got from opc__acct_change. The store protocol has no way to
 * give a seq other than a placeholder of the same batch, so these cannot be
 * named statements; their converted forms are opc__acct_vault_touch_step and
 * opc__acct_grant_add (vault.c). This file goes away with its last caller.
 */
#include "internal.h"

#include "account/account_int.h"
#include "core/alloc.h"

opc_err opc__acct_grant_write(opc_account *a, const char *vault_id, int64_t sn, const opc__key *vk,
                              const char *accessor_type, const char *accessor_id,
                              const opc__key *accessor_pub, unsigned acl, int64_t now, int64_t seq,
                              opc__ebuf *eb)
{
    char *enc = NULL;
    char *sig = NULL;
    opc_err rc = opc__acct_grant_seal(a, vault_id, sn, vk, accessor_type, accessor_id, accessor_pub,
                                      acl, now, &enc, &sig, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_run(a, NULL, eb,
                           "INSERT OR REPLACE INTO vault_access (vault_id, accessor_type, "
                           "accessor_id, key_sn, enc_key, acl, granted, grant_sig, seq) VALUES "
                           "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           "tttitiiti", vault_id, accessor_type, accessor_id, sn, enc, (int64_t)acl,
                           now, sig, seq);
    }
    opc__free(sig);
    opc__free(enc);
    return rc;
}

opc_err opc__acct_vault_touch(opc_account *a, const char *vault_id, int delta_items, int64_t now,
                              int64_t seq, opc__ebuf *eb)
{
    int changed = 0;
    opc_err rc = opc__acct_run(a, &changed, eb,
                               "UPDATE vaults SET content_version = content_version + 1, items = "
                               "items + ?, updated = ?, seq = ? WHERE id = ?",
                               "iiit", (int64_t)delta_items, now, seq, vault_id);
    if (rc == OPC_OK && changed != 1) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "vault %s not found", vault_id);
    }
    return rc;
}
