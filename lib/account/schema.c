/*
 * account/schema.c - the account store's design, its SQLite schema and its
 * migrations.
 *
 * DESIGN
 *
 * One SQLite file (account.db) holds an account: ciphertext, public keys,
 * signed grants and non-secret metadata only. It is the "1Password.com" of
 * this project; op-account-server serves it to Connect servers, and the
 * owner's CLI works on it directly.
 *
 * File. Created with open(O_CREAT|O_EXCL, 0600) (an existing file is
 * OPC_ERR_EXISTS), then opened by SQLite, which creates -wal and -shm with
 * the database file's permissions; all three are chmod'ed to 0600 after
 * creation as well. Connection pragmas: journal_mode=WAL, secure_delete=ON,
 * foreign_keys=ON, busy_timeout 5000 ms. PRAGMA application_id is
 * 0x4f504341 ("OPCA"): a SQLite file with another id is "not an account
 * file" (OPC_ERR_PARSE), as is a non-SQLite file. PRAGMA user_version is the
 * schema version; a newer version than this library knows is
 * OPC_ERR_UNSUPPORTED; older versions run the migrations below. Every change is one BEGIN IMMEDIATE
 * ... COMMIT transaction, rolled back on any failure, so a failed call changes nothing; reads run
 * in a BEGIN ... COMMIT snapshot. Two processes may write at once: the second waits on the lock
 * (busy timeout).
 *
 * Owner (table account, one row). email (lower-cased), the Secret Key's id
 * (skid; the Secret Key itself is returned once by create and never stored),
 * kdf_alg "PBES2g-HS256", a 16-byte salt, the iteration count (default
 * 650,000; files below the floor of 100,000 are refused on open and unlock:
 * a downgraded file is an attack; only the internal test hook
 * opc__account_create_ex/opc__account_open_ex lowers the floor).
 *   AUK       = 2SKD(password, email, Secret Key, salt, "PBES2g-HS256", iterations),
 *               an oct key with kid "mp"
 *   symKey    = 32 random bytes, kid = keyset_id (26-char id)
 *   enc_sym_key  = envelope_AUK(JWK(symKey), AAD "opconnect/account/v1|keyset|<accountId>")
 *   enc_pri_key  = envelope_symKey(JWK(RSA-2048 private),
 *                                  AAD "opconnect/account/v1|rsa|<accountId>")
 *   enc_spri_key = envelope_symKey(JWK(P-256 private),
 *                                  AAD "opconnect/account/v1|sign|<accountId>")
 *   pub_key / spub_key: the public JWKs in the clear. The P-256 key's kid is
 *   the account's issuer key id (26 chars): it signs grants, server keys and
 *   tokens, and is the pinned issuer key of every credentials file.
 * Unlock opens the three envelopes and checks that the private keys match
 * the stored public keys (a swapped public key is OPC_ERR_KEY). A wrong
 * password or Secret Key fails the first envelope: OPC_ERR_DECRYPT "wrong
 * password or Secret Key".
 *
 * Envelopes are 1Password's {kid, enc, cty, iv, data} (crypto/envelope.h);
 * AADs are rebuilt from context and never stored. Every AAD, wrapping label
 * and signed string below is built in one place, lib/wire/labels.h, whose
 * tests pin their bytes; the text here describes them.
 *
 * Vaults (table vaults). Vault key VK = 32 random bytes with serial number
 * key_sn (1 for now; rotation would add sn + 1), kid = vault id. The name and
 * description are sealed in attrs = envelope_VK({"name","description"},
 * AAD "opconnect/vault/v1|<vaultId>|attrs|<sn>"), so listing or finding a
 * vault by name needs the owner unlocked. Names are unique case-insensitively
 * (ASCII case), checked inside the write transaction. attr_version bumps on
 * edit; content_version and items (active count) on each item change.
 *
 * Grants (table vault_access: vault, accessor_type owner|server,
 * accessor_id, key_sn, enc_key, acl, granted, grant_sig). enc_key =
 * b64url(RSA-OAEP-256(accessor RSA public key, VK,
 *        label "opconnect/vaultkey/v1|<vaultId>|<sn>|<accessorId>")).
 * grant_sig = b64url(ES256 by the owner's signing key over
 *   "opconnect/grant/v1|<accountId>|<vaultId>|<accessorType>|<accessorId>|<sn>|<acl>|"
 *   "<granted>|<H>")   (one string; <granted> is the grant's Unix time)
 * where H = b64url(SHA-256(the wrapped key bytes)), so a grant can be neither
 * forged nor moved, and its wrapped key not swapped. The owner's accessor id
 * is the account id; acl is read|write (3). The owner's own grant is verified
 * before its vault key is unwrapped.
 *
 * Items (table items: id, vault_id, version from 1, state active|deleted,
 * key_sn, overview, details, created, updated, editor). Items go through
 * opc__item_prepare (lib/model) and are split into overview and details,
 * sealed under VK with the security model's implicit AADs
 * "v1|<vaultId>|<itemId>|overview|<sn>" and "v1|<vaultId>|<itemId>|details|<sn>",
 * so a ciphertext swapped between items, parts or vaults fails to decrypt.
 * Reads join the parts and add id, vault {id}, version, createdAt, updatedAt
 * and lastEditedBy: the upper-cased id of whoever made the last change, the
 * account (editor NULL, the owner's writes) or a Connect server (editor =
 * its id, server writes below). Optimistic concurrency:
 * writes with expected_version > 0 that differs are OPC_ERR_CONFLICT; the
 * UPDATE is conditional on the version inside the write transaction. A
 * deleted item stays as a tombstone (state deleted, no ciphertext, files
 * removed).
 *
 * Files (security-model §3.9; table files: item_id, file_id, idx, blob).
 * Each file has a random 32-byte key FK and a random 7-byte nonce prefix;
 * its entry in the item's details is {id, name, size, section?, key (b64url
 * FK), chunkSize (65536), nonce (b64url prefix), sha256 (b64url SHA-256 of
 * the concatenated chunk blobs)}; key, chunkSize, nonce and sha256 never
 * leave the library. Content is cut into 64 KiB chunks (an empty file is one
 * empty chunk); chunk i is AES-256-GCM(FK, nonce = prefix7 || be32(i) ||
 * last, AAD "f1|<fileId>|<i>|<last>"), last = 1 on the final chunk only,
 * stored as ciphertext || tag. Reading checks the chunk count against size,
 * the indices, the hash and every tag, so truncation, reordering or a swapped
 * chunk fails (OPC_ERR_DECRYPT). Largest file: OPC_ACCOUNT_MAX_FILE_SIZE.
 * The layout is coded once, in model/file.h (connect-api reads it too).
 *
 * Connect servers (table servers: id, name (unique among active servers,
 * ASCII case-insensitive), state active|deleted, device_pub, device_sig,
 * enc_pub, enc_sig, record). Created on the owner's side: device key (P-256),
 * RSA-2048 key (receives vault keys), symmetric key, T = 32 random bytes; the
 * credentials file comes from opc__credentials_create with the owner's
 * signing public key as the one pinned issuer key.
 *   device_sig = ES256 over "opconnect/device/v1|<accountId>|<serverId>|<device_pub JWK text>"
 *   enc_sig    = ES256 over "opconnect/serverkey/v1|<accountId>|<serverId>|<enc_pub JWK text>"
 *   record     = envelope_symKey({"T": b64url(T), "name"}, AAD "opconnect/server/v1|<serverId>")
 * enc_sig is verified before any vault key is wrapped to the server. Delete
 * sets state deleted, removes the grants, revokes the tokens and clears the
 * keys and record.
 *
 * Tokens (table tokens: jti, server_id, name, scopes, created, expires,
 * state active|revoked). The token itself (an ES256 JWT signed with the
 * owner's key, claims as ARCHITECTURE §2) is returned once and never stored;
 * only its registry row is. scopes is the JSON [{"u": vaultId, "a": acl}].
 * Names are unique among a server's active tokens.
 *
 * Change feed (table changes; feed.h). Every change gets an account-wide,
 * strictly increasing sequence number (INTEGER PRIMARY KEY AUTOINCREMENT,
 * never reused), written in the change's own transaction: issuer_key,
 * vault_create, vault_update, vault_delete, grant, grant_revoke,
 * item_upsert, item_delete, file_add, server_create, server_update,
 * server_delete, token_create, token_update, token_revoke. A change names ids
 * only (vault, item, file, server, jti, kid, item version); the consumer
 * reads the payload (ciphertext, wrapped keys, registry rows) from the state
 * tables, each of whose rows carries the seq of its last change. See feed.h
 * for what a Connect server may see.
 *
 * Sessions (session.c): <dir>/session-<accountId> (0600, dir 0700) holds
 * {"accountId", "exp", "session": envelope_S(AUK, AAD
 * "opconnect/session/v1|<accountId>|<exp>")} with S a random 32-byte session
 * key, returned to the caller as b64url text (the session token).
 *
 * Secrets: password, Secret Key, AUK, private keys, vault keys, file keys, T,
 * tokens and item plaintext exist only in memory, are wiped after use and
 * never appear in messages; messages may name vaults, items (titles),
 * servers and tokens.
 */
#include "internal.h"

#include <stdio.h>

#include "account/account_int.h"
#include "core/err.h"

/* Version 1. STRICT tables: column types are enforced. */
static const char schema_v1[] =
    "CREATE TABLE account ("
    " one INTEGER PRIMARY KEY CHECK (one = 1),"
    " id TEXT NOT NULL,"
    " email TEXT NOT NULL,"
    " skid TEXT NOT NULL,"
    " kdf_alg TEXT NOT NULL,"
    " kdf_salt TEXT NOT NULL,"
    " kdf_iterations INTEGER NOT NULL,"
    " keyset_id TEXT NOT NULL,"
    " enc_sym_key TEXT NOT NULL,"
    " pub_key TEXT NOT NULL,"
    " enc_pri_key TEXT NOT NULL,"
    " issuer_kid TEXT NOT NULL,"
    " spub_key TEXT NOT NULL,"
    " enc_spri_key TEXT NOT NULL,"
    " created INTEGER NOT NULL) STRICT;"
    "CREATE TABLE changes ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " kind TEXT NOT NULL,"
    " vault_id TEXT, item_id TEXT, file_id TEXT, server_id TEXT, jti TEXT, kid TEXT,"
    " version INTEGER,"
    " at INTEGER NOT NULL) STRICT;"
    "CREATE INDEX changes_server ON changes(server_id, seq);"
    "CREATE INDEX changes_vault ON changes(vault_id, seq);"
    "CREATE TABLE issuer_keys ("
    " kid TEXT PRIMARY KEY,"
    " jwk TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " seq INTEGER NOT NULL) STRICT;"
    "CREATE TABLE vaults ("
    " id TEXT PRIMARY KEY,"
    " type TEXT NOT NULL,"
    " key_sn INTEGER NOT NULL,"
    " attrs TEXT NOT NULL,"
    " attr_version INTEGER NOT NULL,"
    " content_version INTEGER NOT NULL,"
    " items INTEGER NOT NULL,"
    " created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL,"
    " seq INTEGER NOT NULL) STRICT;"
    "CREATE TABLE vault_access ("
    " vault_id TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,"
    " accessor_type TEXT NOT NULL CHECK (accessor_type IN ('owner', 'server')),"
    " accessor_id TEXT NOT NULL,"
    " key_sn INTEGER NOT NULL,"
    " enc_key TEXT NOT NULL,"
    " acl INTEGER NOT NULL,"
    " granted INTEGER NOT NULL,"
    " grant_sig TEXT NOT NULL,"
    " seq INTEGER NOT NULL,"
    " PRIMARY KEY (vault_id, accessor_type, accessor_id)) STRICT;"
    "CREATE INDEX vault_access_accessor ON vault_access(accessor_type, accessor_id);"
    "CREATE TABLE items ("
    " id TEXT PRIMARY KEY,"
    " vault_id TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,"
    " version INTEGER NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('active', 'deleted')),"
    " key_sn INTEGER NOT NULL,"
    " overview TEXT,"
    " details TEXT,"
    " created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL,"
    " seq INTEGER NOT NULL) STRICT;"
    "CREATE INDEX items_vault ON items(vault_id, state);"
    "CREATE TABLE files ("
    " item_id TEXT NOT NULL REFERENCES items(id) ON DELETE CASCADE"
    "  DEFERRABLE INITIALLY DEFERRED,"
    " file_id TEXT NOT NULL,"
    " idx INTEGER NOT NULL,"
    " blob BLOB NOT NULL,"
    " PRIMARY KEY (file_id, idx)) STRICT;"
    "CREATE INDEX files_item ON files(item_id);"
    "CREATE TABLE servers ("
    " id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('active', 'deleted')),"
    " device_pub TEXT, device_sig TEXT, enc_pub TEXT, enc_sig TEXT, record TEXT,"
    " created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL,"
    " seq INTEGER NOT NULL) STRICT;"
    "CREATE UNIQUE INDEX servers_active_name ON servers(name COLLATE NOCASE)"
    " WHERE state = 'active';"
    "CREATE TABLE tokens ("
    " jti TEXT PRIMARY KEY,"
    " server_id TEXT NOT NULL REFERENCES servers(id),"
    " name TEXT NOT NULL,"
    " scopes TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " expires INTEGER,"
    " state TEXT NOT NULL CHECK (state IN ('active', 'revoked')),"
    " updated INTEGER NOT NULL,"
    " seq INTEGER NOT NULL) STRICT;"
    "CREATE UNIQUE INDEX tokens_active_name ON tokens(server_id, name COLLATE NOCASE)"
    " WHERE state = 'active';";

/*
 * Migrations: migrations[i] takes a database from version i to i + 1.
 * Version 0 is an empty database; v1 is created by opc__acct_schema_create
 * together with the account row. Append "ALTER TABLE ..." steps here.
 *   1 -> 2: items.editor, the Connect server that made the item's last
 *           change (NULL: the owner).
 *   2 -> 3: owner_srp, the SRP salt and verifier of an account that
 *           op-account-server holds (signed up over the network; none for
 *           a local account file): docs/protocol.md, "Owner sign-in".
 */
static const char *const migrations[] = {
    NULL, /* 0 -> 1: creation only */
    "ALTER TABLE items ADD COLUMN editor TEXT;",
    "CREATE TABLE owner_srp ("
    " one INTEGER PRIMARY KEY CHECK (one = 1),"
    " salt TEXT NOT NULL,"
    " verifier TEXT NOT NULL,"
    " created INTEGER NOT NULL) STRICT;",
};

_Static_assert(OPC_ARRAY_LEN(migrations) == OPC_ACCOUNT_SCHEMA_VERSION,
               "one migration step per schema version");

/* The schema (v1, then every migration) in an empty database, inside the
 * caller's transaction. */
static opc_err schema_make(opc_account *a, opc__ebuf *eb)
{
    opc_err rc = opc__acct_exec(a, schema_v1, eb);
    for (size_t v = 1; rc == OPC_OK && v < OPC_ACCOUNT_SCHEMA_VERSION; v++) {
        rc = opc__acct_exec(a, migrations[v], eb);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    char pragma[96];
    (void)snprintf(pragma, sizeof pragma, "PRAGMA application_id = %d; PRAGMA user_version = %d;",
                   OPC_ACCOUNT_APPLICATION_ID, OPC_ACCOUNT_SCHEMA_VERSION);
    return opc__acct_exec(a, pragma, eb);
}

opc_err opc__acct_schema_create(opc_account *a, opc__rows_batch *b, opc__ebuf *eb)
{
    opc_err rc = opc__acct_begin(a, true, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    rc = schema_make(a, eb);
    if (rc == OPC_OK) {
        rc = opc__rows_batch_run(a->rows, b, eb);
    }
    return opc__acct_end(a, rc, eb);
}

static opc_err pragma_int(opc_account *a, const char *sql, int64_t *out, opc__ebuf *eb)
{
    bool found = false;
    opc_err rc = opc__acct_query_int(a, &found, out, eb, sql, "");
    if (rc == OPC_OK && !found) {
        rc = opc__fail(eb, OPC_ERR_INTERNAL, "account file: %s returned nothing", sql);
    }
    return rc;
}

opc_err opc__acct_schema_check(opc_account *a, opc__ebuf *eb)
{
    int64_t app = 0;
    int64_t version = 0;
    opc_err rc = pragma_int(a, "PRAGMA application_id", &app, eb);
    if (rc == OPC_OK) {
        rc = pragma_int(a, "PRAGMA user_version", &version, eb);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    if (app != OPC_ACCOUNT_APPLICATION_ID || version == 0) {
        return opc__fail(eb, OPC_ERR_PARSE, "not an opconnect account file");
    }
    if (version > OPC_ACCOUNT_SCHEMA_VERSION) {
        return opc__fail(eb, OPC_ERR_UNSUPPORTED,
                         "account file has schema version %lld; this library knows up to %d",
                         (long long)version, OPC_ACCOUNT_SCHEMA_VERSION);
    }
    if (version < OPC_ACCOUNT_SCHEMA_VERSION) {
        rc = opc__acct_begin(a, true, eb);
        for (int64_t v = version; rc == OPC_OK && v < OPC_ACCOUNT_SCHEMA_VERSION; v++) {
            const char *step = migrations[v];
            if (step != NULL) {
                rc = opc__acct_exec(a, step, eb);
            }
        }
        if (rc == OPC_OK) {
            char pragma[64];
            (void)snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d;",
                           OPC_ACCOUNT_SCHEMA_VERSION);
            rc = opc__acct_exec(a, pragma, eb);
        }
        rc = opc__acct_end(a, rc, eb);
    }
    return rc;
}

opc_err opc__acct_db_open(opc_account *a, const char *path, opc__ebuf *eb)
{
    opc__db_config cfg = {
        .path = path,
        .label = "account file",
        .flags = OPC_DB_SHARED,
        .busy_timeout_ms = OPC_ACCOUNT_BUSY_TIMEOUT_MS,
        .pragmas = "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
        .stmts = opc__acct_export_sql,
        .n_stmts = OPC__ACCT_EXPORT_N,
    };
    opc_err rc = opc__db_open(&cfg, &a->db, eb);
    if (rc == OPC_OK) {
        rc = opc__rows_local_open(a->db, &a->rows, eb);
    }
    return rc;
}

opc_err opc__acct_db_wal(opc_account *a, opc__ebuf *eb)
{
    return opc__db_wal(a->db, eb);
}
