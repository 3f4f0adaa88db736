/*
 * wire/labels.h - the strings bound into ciphertexts and signatures.
 *
 * Every AAD, RSA-OAEP label, signed message and derivation label that two
 * parties must write byte for byte alike (the owner's account file and a
 * Connect server, the credentials file and its reader, a file's writer and
 * reader) is written here, once. A change to one of them makes existing
 * data undecryptable or signatures invalid: tests/unit/test_wire.c pins the
 * exact bytes of each, so such a change is a visible, deliberate break.
 *
 *   item part      "v1|<vaultId>|<itemId>|overview|<keySn>"   (or details)
 *   vault attrs    "opconnect/vault/v1|<vaultId>|attrs|<keySn>"
 *   vault key wrap "opconnect/vaultkey/v1|<vaultId>|<keySn>|<accessorId>"
 *   grant          "opconnect/grant/v1|<accountId>|<vaultId>|<accessorType>|
 *                   <accessorId>|<keySn>|<acl>|<granted>|<keyHash>" (one line)
 *   server record  "opconnect/server/v1|<serverId>"
 *   server keys    "opconnect/device/v1|<accountId>|<serverId>|<JWK text>"
 *                  "opconnect/serverkey/v1|<accountId>|<serverId>|<JWK text>"
 *   session        "opconnect/session/v1|<accountId>|<exp>"
 *   account keys   "opconnect/account/v1|keyset|<accountId>" (or rsa, sign)
 *   credentials    "opconnect/credentials/v2|outer|<deviceUuid>" (or inner)
 *   file chunk     "f1|<fileId>|<i>|<last: 0 or 1>"
 *
 * Numbers are decimal. What each label protects is told where it is used
 * (account/schema.c, credentials/credentials.c, model/file.h).
 *
 * The builders write a NUL-terminated label into out[cap] and return OPC_OK,
 * or OPC_ERR_TOO_LARGE with out set to "" (when cap > 0) if it does not fit.
 */
#ifndef OPC_WIRE_LABELS_H
#define OPC_WIRE_LABELS_H

#include "internal.h"

#include "core/buf.h"
#include "core/err.h"

/* Room for any label but the server-key messages (which carry a JWK and go
 * to an opc__buf): ids, serials, times and a 43-character hash. */
#define OPC_WIRE_LABEL_MAX 256
/* Length of a credentials AAD (its device uuid is an id). */
#define OPC_WIRE_CREDENTIALS_AAD_LEN 57
/* The longest file chunk AAD and its NUL ("f1|" + id + "|" + 10 digits + "|1"). */
#define OPC_WIRE_FILE_AAD_MAX 64

/* HKDF info strings of the credentials file (credentials/credentials.c). */
#define OPC_WIRE_KDF_LOCALAUTH "connect/localauth/v2"
#define OPC_WIRE_KDF_CREDENTIALS "connect/credentials/v2"
/* HKDF info of the Connect server's cache key (credentials/rules.c, cache/cache.h). */
#define OPC_WIRE_KDF_CACHE "opconnect/cache-mac/v1"

/* The two separately sealed halves of an item (model/item.h). */
typedef enum opc__wire_item_part {
    OPC_WIRE_ITEM_OVERVIEW,
    OPC_WIRE_ITEM_DETAILS
} opc__wire_item_part;

/* "overview" or "details" (also used in messages). */
const char *opc__wire_item_part_name(opc__wire_item_part part);

opc_err opc__wire_item_aad(char *out, size_t cap, const char *vault_id, const char *item_id,
                           opc__wire_item_part part, int64_t key_sn);

opc_err opc__wire_vault_attrs_aad(char *out, size_t cap, const char *vault_id, int64_t key_sn);

/* The RSA-OAEP label under which a vault key is wrapped for an accessor
 * (the owner's account id or a server id). */
opc_err opc__wire_vault_key_label(char *out, size_t cap, const char *vault_id, int64_t key_sn,
                                  const char *accessor_id);

/* What the owner signs when granting a vault to an accessor. */
typedef struct opc__wire_grant {
    const char *account_id;
    const char *vault_id;
    const char *accessor_type; /* "owner" or "server" */
    const char *accessor_id;
    int64_t key_sn;
    unsigned acl;
    int64_t granted;      /* Unix seconds */
    const char *key_hash; /* b64url hash of the wrapped key */
} opc__wire_grant;

opc_err opc__wire_grant_message(char *out, size_t cap, const opc__wire_grant *g);

opc_err opc__wire_server_record_aad(char *out, size_t cap, const char *server_id);

/* A server's two public keys, each signed by the owner. */
typedef enum opc__wire_server_key {
    OPC_WIRE_SERVER_DEVICE_KEY, /* the device (signing) key */
    OPC_WIRE_SERVER_ENC_KEY     /* the encryption key vault keys are wrapped for */
} opc__wire_server_key;

/* Append the signed message of a server's public key (its JWK text) to b;
 * opc__buf_err(b) afterwards. */
opc_err opc__wire_server_key_message(opc__buf *b, opc__wire_server_key which,
                                     const char *account_id, const char *server_id,
                                     const char *jwk);

opc_err opc__wire_session_aad(char *out, size_t cap, const char *account_id, int64_t exp);
/* The session file of a remote account (account/remote.c):
 * "opconnect/owner-session/v1|<accountId>|<exp>|<address>". */
opc_err opc__wire_remote_session_aad(char *out, size_t cap, const char *account_id, int64_t exp,
                                     const char *address);

/* The owner's keys, each sealed under the one before it (account/schema.c). */
typedef enum opc__wire_account_key {
    OPC_WIRE_ACCOUNT_KEYSET, /* the symmetric key, under the AUK */
    OPC_WIRE_ACCOUNT_RSA,    /* the RSA private key, under the symmetric key */
    OPC_WIRE_ACCOUNT_SIGN    /* the signing private key, under the symmetric key */
} opc__wire_account_key;

opc_err opc__wire_account_key_aad(char *out, size_t cap, opc__wire_account_key which,
                                  const char *account_id);

/* The two sealed layers of a credentials file. */
typedef enum opc__wire_credentials_layer {
    OPC_WIRE_CREDENTIALS_OUTER,
    OPC_WIRE_CREDENTIALS_INNER
} opc__wire_credentials_layer;

opc_err opc__wire_credentials_aad(char *out, size_t cap, opc__wire_credentials_layer layer,
                                  const char *device_uuid);

/* The AAD of chunk i of a file; last marks the final chunk. */
opc_err opc__wire_file_chunk_aad(char *out, size_t cap, const char *file_id, uint32_t i, bool last);

#endif
