/*
 * view/keys.h - unwrapped vault keys of the Connect server.
 *
 * A vault key reaches the cache wrapped to this server: enc_key =
 * b64url(RSA-OAEP-256(server RSA public key, VK (32 bytes), the vault key
 * label for this server (wire/labels.h))) (account/schema.c).
 * It is unwrapped with the server's RSA private key from the unlocked
 * credentials (inner layer) and becomes an oct key whose kid is the vault id
 * (the envelopes of that vault name it).
 *
 * Not verified yet: the grant signature (grant_sig, by the owner's key over
 * the grant and the hash of the wrapped key). A malicious upstream could
 * therefore hand this server a key of its choosing for a vault it was
 * granted; it still cannot read other vaults, and it cannot learn keys.
 * Verifying grant_sig against the pinned issuer keys is a planned
 * hardening (security-model §3.5).
 *
 * Cache: at most OPC_VAULT_KEYS_MAX keys, each for ttl_ms after its unwrap
 * (security-model §3.8 suggests 5 minutes); expired or evicted keys are
 * wiped when the last user releases them; opc__vault_keys_wipe() (on lock)
 * and _free() wipe everything. Keys are reference-counted so a request may
 * use one while another thread evicts it.
 *
 * Thread safety: any thread (one mutex).
 */
#ifndef OPC_VIEW_KEYS_H
#define OPC_VIEW_KEYS_H

#include <opconnect/credentials.h>

#include "core/err.h"
#include "crypto/key.h"
#include "internal.h"
#include "wire/rows.h"

#define OPC_VAULT_KEYS_MAX 512
#define OPC_VAULT_KEYS_TTL_MS ((int64_t)5 * 60 * 1000)
#define OPC_VAULT_KEY_LEN 32

typedef struct opc__vault_keys opc__vault_keys;
typedef struct opc__vkey opc__vkey;

/* creds borrowed for the object's life. ttl_ms > 0. */
/*
 * Whether a vault grant row as cached (cache/cache.h) carries the account
 * owner's signature for this server: grant_sig (ES256, b64url r||s) over
 * wire/labels.h's grant message (account_id, the row's vault, accessor
 * "server" server_id, key_sn, acl, granted, b64url SHA-256 of the wrapped
 * key), checked with each of the credentials' pinned issuer keys (the
 * owner's signing key is the pinned one; account/schema.c). Outer layer
 * only. Pure function, any thread.
 */
bool opc__vault_grant_signed(const opc_credentials *creds, const char *server_id,
                             const char *account_id, const opc__wire_access *a);

opc_err opc__vault_keys_create(const opc_credentials *creds, int64_t ttl_ms, opc__vault_keys **out);
void opc__vault_keys_free(opc__vault_keys *k);
/* Wipe every cached key (keys still in use are wiped on release). */
void opc__vault_keys_wipe(opc__vault_keys *k);

/*
 * The key of vault (serial sn) wrapped in enc_key_b64; unwraps when not
 * cached or expired at now_ms (monotonic). OPC_ERR_LOCKED while the
 * credentials are locked; OPC_ERR_DECRYPT when the key does not unwrap.
 * Release with opc__vault_keys_release().
 */
opc_err opc__vault_keys_get(opc__vault_keys *k, const char *vault, int64_t sn,
                            const char *enc_key_b64, int64_t now_ms, opc__vkey **out,
                            opc__ebuf *eb);
void opc__vault_keys_release(opc__vault_keys *k, opc__vkey *v);
/* The oct key (kid = vault id), valid until release. */
const opc__key *opc__vkey_key(const opc__vkey *v);

#endif
