/*
 * store/pg_sql.c - the PostgreSQL store's schema and statements (pg_sql.h).
 *
 * The schema is account/schema.c's (schema_v1 and its migrations: the
 * items.editor column, the owner_srp table) with every account in one
 * database: account_id leads every primary key, index and foreign key, and
 * every table's rows belong to their account row (deleting it deletes the
 * account). Deliberate differences:
 *   - table account: account_id is its key (replacing `one` and the id
 *     column), last_seq is the account's feed counter (the seq of its
 *     newest change: pg.c takes the account row FOR UPDATE first in every
 *     write transaction, gives the batch's changes last_seq + 1, ... and
 *     stores the last; writers of one account commit in seq order, as with
 *     SQLite's one writer per file), and an email names one account;
 *   - changes.seq is given by the store (no sequence);
 *   - the foreign keys to account are DEFERRABLE INITIALLY DEFERRED, so a
 *     create batch may write its rows in any order (as files -> items);
 *   - items_vault and files_item carry their paging order (id; file_id,
 *     idx) so that a vault's items and chunks are read in keyset order from
 *     the index (SQLite needed the unary + trick instead).
 *
 * Every parameter is cast where it first appears ($k::text, $k::bigint,
 * $k::bytea; pg.c gives no types). A NOCASE comparison of SQLite is
 * lower(col) = lower($k::text COLLATE "C"): the "C" collation makes lower()
 * fold ASCII only, whatever the database's default collation, and the
 * partial unique indexes on (account_id, lower(name)) answer it. Orders on
 * a nullable column say NULLS FIRST (SQLite's order).
 */
#include "internal.h"

#include <string.h>

#include "store/pg_sql.h"

/* A text column: byte order, as SQLite's BINARY. */
#define TXT " text COLLATE \"C\""
/* The owner of a table's rows. */
#define ACCOUNT_ID                                                                                 \
    " account_id" TXT " NOT NULL REFERENCES account ON DELETE CASCADE"                             \
    " DEFERRABLE INITIALLY DEFERRED,"

static const char schema_v1[] =
    "CREATE TABLE account ("
    " account_id" TXT " NOT NULL PRIMARY KEY,"
    " email" TXT " NOT NULL,"
    " skid" TXT " NOT NULL,"
    " kdf_alg" TXT " NOT NULL,"
    " kdf_salt" TXT " NOT NULL,"
    " kdf_iterations bigint NOT NULL,"
    " keyset_id" TXT " NOT NULL,"
    " enc_sym_key" TXT " NOT NULL,"
    " pub_key" TXT " NOT NULL,"
    " enc_pri_key" TXT " NOT NULL,"
    " issuer_kid" TXT " NOT NULL,"
    " spub_key" TXT " NOT NULL,"
    " enc_spri_key" TXT " NOT NULL,"
    " created bigint NOT NULL,"
    " last_seq bigint NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX account_email ON account (email);"
    "CREATE TABLE owner_srp ("
    " account_id" TXT " NOT NULL PRIMARY KEY REFERENCES account ON DELETE CASCADE"
    " DEFERRABLE INITIALLY DEFERRED,"
    " salt" TXT " NOT NULL,"
    " verifier" TXT " NOT NULL,"
    " created bigint NOT NULL);"
    "CREATE TABLE changes (" ACCOUNT_ID " seq bigint NOT NULL,"
    " kind" TXT " NOT NULL,"
    " vault_id" TXT ", item_id" TXT ", file_id" TXT ", server_id" TXT ", jti" TXT ", kid" TXT ","
    " version bigint,"
    " at bigint NOT NULL,"
    " PRIMARY KEY (account_id, seq));"
    "CREATE INDEX changes_server ON changes (account_id, server_id, seq);"
    "CREATE INDEX changes_vault ON changes (account_id, vault_id, seq);"
    "CREATE TABLE issuer_keys (" ACCOUNT_ID " kid" TXT " NOT NULL,"
    " jwk" TXT " NOT NULL,"
    " created bigint NOT NULL,"
    " seq bigint NOT NULL,"
    " PRIMARY KEY (account_id, kid));"
    "CREATE TABLE vaults (" ACCOUNT_ID " id" TXT " NOT NULL,"
    " type" TXT " NOT NULL,"
    " key_sn bigint NOT NULL,"
    " attrs" TXT " NOT NULL,"
    " attr_version bigint NOT NULL,"
    " content_version bigint NOT NULL,"
    " items bigint NOT NULL,"
    " created bigint NOT NULL,"
    " updated bigint NOT NULL,"
    " seq bigint NOT NULL,"
    " PRIMARY KEY (account_id, id));"
    "CREATE TABLE vault_access (" ACCOUNT_ID " vault_id" TXT " NOT NULL,"
    " accessor_type" TXT " NOT NULL CHECK (accessor_type IN ('owner', 'server')),"
    " accessor_id" TXT " NOT NULL,"
    " key_sn bigint NOT NULL,"
    " enc_key" TXT " NOT NULL,"
    " acl bigint NOT NULL,"
    " granted bigint NOT NULL,"
    " grant_sig" TXT " NOT NULL,"
    " seq bigint NOT NULL,"
    " PRIMARY KEY (account_id, vault_id, accessor_type, accessor_id),"
    " FOREIGN KEY (account_id, vault_id) REFERENCES vaults (account_id, id) ON DELETE CASCADE);"
    "CREATE INDEX vault_access_accessor ON vault_access (account_id, accessor_type, accessor_id);"
    "CREATE TABLE items (" ACCOUNT_ID " id" TXT " NOT NULL,"
    " vault_id" TXT " NOT NULL,"
    " version bigint NOT NULL,"
    " state" TXT " NOT NULL CHECK (state IN ('active', 'deleted')),"
    " key_sn bigint NOT NULL,"
    " overview" TXT ","
    " details" TXT ","
    " created bigint NOT NULL,"
    " updated bigint NOT NULL,"
    " seq bigint NOT NULL,"
    " editor" TXT ","
    " PRIMARY KEY (account_id, id),"
    " FOREIGN KEY (account_id, vault_id) REFERENCES vaults (account_id, id) ON DELETE CASCADE);"
    "CREATE INDEX items_vault ON items (account_id, vault_id, state, id);"
    "CREATE TABLE files (" ACCOUNT_ID " item_id" TXT " NOT NULL,"
    " file_id" TXT " NOT NULL,"
    " idx bigint NOT NULL,"
    " blob bytea NOT NULL,"
    " PRIMARY KEY (account_id, file_id, idx),"
    " FOREIGN KEY (account_id, item_id) REFERENCES items (account_id, id) ON DELETE CASCADE"
    "  DEFERRABLE INITIALLY DEFERRED);"
    "CREATE INDEX files_item ON files (account_id, item_id, file_id, idx);"
    "CREATE TABLE servers (" ACCOUNT_ID " id" TXT " NOT NULL,"
    " name" TXT " NOT NULL,"
    " state" TXT " NOT NULL CHECK (state IN ('active', 'deleted')),"
    " device_pub" TXT ", device_sig" TXT ", enc_pub" TXT ", enc_sig" TXT ", record" TXT ","
    " created bigint NOT NULL,"
    " updated bigint NOT NULL,"
    " seq bigint NOT NULL,"
    " PRIMARY KEY (account_id, id));"
    "CREATE UNIQUE INDEX servers_active_name ON servers (account_id, lower(name))"
    " WHERE state = 'active';"
    "CREATE TABLE tokens (" ACCOUNT_ID " jti" TXT " NOT NULL,"
    " server_id" TXT " NOT NULL,"
    " name" TXT " NOT NULL,"
    " scopes" TXT " NOT NULL,"
    " created bigint NOT NULL,"
    " expires bigint,"
    " state" TXT " NOT NULL CHECK (state IN ('active', 'revoked')),"
    " updated bigint NOT NULL,"
    " seq bigint NOT NULL,"
    " PRIMARY KEY (account_id, jti),"
    " FOREIGN KEY (account_id, server_id) REFERENCES servers (account_id, id));"
    "CREATE UNIQUE INDEX tokens_active_name ON tokens (account_id, server_id, lower(name))"
    " WHERE state = 'active';";

/*
 * 1 -> 2: the account servers' shared state (store.h, "the shared state";
 * docs/postgres.md, "What is kept where"). No foreign key to account: a
 * session's row must not wait on the account row's lock of a write. The
 * keys are hashes of the session and sign-in ids (nonces as they are), the
 * secrets sealed by lib/accountd. Rows die by time and are swept
 * (store.sweep_*); session rows are updated on every request, so no index
 * beyond the key (the sweep reads the small table through).
 *
 * UNLOGGED: a Connect server's every request updates its session's
 * counter, and a logged table would wait for a WAL flush on each (about
 * 2 ms against 0.2 ms on one machine). A clean restart of the database
 * keeps these tables; a crash (or a failover to a standby, which never
 * has them) empties them as a whole: every session ends at once (the
 * owner signs in again, Connect servers open new sessions by themselves),
 * never an older counter of a live session.
 */
static const char schema_v2[] = "CREATE UNLOGGED TABLE ad_sessions ("
                                " sid" TXT " NOT NULL PRIMARY KEY,"
                                " kind bigint NOT NULL,"
                                " account_id" TXT " NOT NULL,"
                                " server_id" TXT " NOT NULL,"
                                " sealed bytea NOT NULL,"
                                " expires bigint NOT NULL,"
                                " idle_s bigint NOT NULL,"
                                " last_s bigint NOT NULL,"
                                " counter bigint NOT NULL DEFAULT 0);"
                                "CREATE UNLOGGED TABLE ad_nonces ("
                                " nonce" TXT " NOT NULL PRIMARY KEY,"
                                " expires_ms bigint NOT NULL);"
                                "CREATE INDEX ad_nonces_expires ON ad_nonces (expires_ms);"
                                "CREATE UNLOGGED TABLE ad_limits ("
                                " key" TXT " NOT NULL PRIMARY KEY,"
                                " ends_ms bigint NOT NULL,"
                                " hits bigint NOT NULL);"
                                "CREATE INDEX ad_limits_ends ON ad_limits (ends_ms);"
                                "CREATE UNLOGGED TABLE ad_pending ("
                                " id" TXT " NOT NULL PRIMARY KEY,"
                                " sealed bytea NOT NULL,"
                                " expires_ms bigint NOT NULL);"
                                "CREATE INDEX ad_pending_expires ON ad_pending (expires_ms);";

const char *const opc__pg_migrations[OPC_PG_SCHEMA_VERSION] = {
    schema_v1, /* 0 -> 1: the schema of account/schema.c's version 3 */
    schema_v2, /* 1 -> 2: the account servers' shared state */
};

/* An ASCII case-insensitive match of column col and parameter p (SQLite's NOCASE). */
#define NOCASE(col, p) "lower(" col ") = lower(" p "::text COLLATE \"C\")"

/* rows.c's TOKEN_COLS */
#define TOKEN_COLS "jti, server_id, name, scopes, created, expires, state, seq"

/* vault.get and vault.list's row: $2 the owner (the account id's twin in rows.c). */
#define VAULT_SELECT                                                                               \
    "SELECT v.id, v.type, v.key_sn, v.attr_version, v.content_version, v.items, v.created, "       \
    "v.updated, v.attrs, v.seq, g.key_sn, g.enc_key, g.acl, g.granted, g.grant_sig FROM vaults "   \
    "v LEFT JOIN vault_access g ON g.account_id = v.account_id AND g.vault_id = v.id AND "         \
    "g.accessor_type = 'owner' AND g.accessor_id = $2::text WHERE v.account_id = $1::text"

#define VAULT_TOUCH                                                                                \
    "UPDATE vaults SET content_version = content_version + 1, items = items + $2::bigint, "        \
    "updated = $3::bigint, seq = $4::bigint WHERE account_id = $1::text AND id = $5::text"

/* export.c's: a vault the server $2 holds a grant for. */
#define GRANTED(col)                                                                               \
    "EXISTS (SELECT 1 FROM vault_access g WHERE g.account_id = $1::text AND g.vault_id = " col     \
    " AND g.accessor_type = 'server' AND g.accessor_id = $2::text)"
#define ITEM_COLS                                                                                  \
    "i.id, i.vault_id, i.version, i.state, i.key_sn, i.overview, i.details, i.created,"            \
    " i.updated, upper(coalesce(i.editor, i.account_id)) AS last_edited_by, i.seq"
#define VAULT_COLS                                                                                 \
    "v.id, v.type, v.key_sn, v.attrs, v.attr_version, v.content_version, v.items, v.created,"      \
    " v.updated, v.seq"
#define FILE_COLS "f.file_id, f.idx, f.item_id, i.vault_id, f.blob"

static const opc__pg_sql table[] = {
    /* ---- the owner's table (account/rows.c), name for name ---- */
    {"account.get",
     "SELECT account_id, email, skid, kdf_alg, kdf_salt, kdf_iterations, keyset_id, issuer_kid, "
     "pub_key FROM account WHERE account_id = $1::text"},
    {"account.keyset", "SELECT enc_sym_key, enc_pri_key, enc_spri_key, spub_key, pub_key FROM "
                       "account WHERE account_id = $1::text"},
    {"account.srp", "SELECT salt, verifier FROM owner_srp WHERE account_id = $1::text"},
    /* rows.c's id parameter ($2) must be the account: else no row (the
     * batch's expectation fails). */
    {"account.insert",
     "INSERT INTO account (account_id, email, skid, kdf_alg, kdf_salt, kdf_iterations, keyset_id, "
     "enc_sym_key, pub_key, enc_pri_key, issuer_kid, spub_key, enc_spri_key, created) SELECT "
     "$1::text, $3::text, $4::text, $5::text, $6::text, $7::bigint, $8::text, $9::text, $10::text, "
     "$11::text, $12::text, $13::text, $14::text, $15::bigint WHERE $2::text = $1::text"},
    {"account.issuer_key_insert",
     "INSERT INTO issuer_keys (account_id, kid, jwk, created, seq) VALUES ($1::text, $2::text, "
     "$3::text, $4::bigint, $5::bigint)"},
    {"account.srp_insert", "INSERT INTO owner_srp (account_id, salt, verifier, created) VALUES "
                           "($1::text, $2::text, $3::text, $4::bigint)"},
    /* The re-key runs on a local file's unlock only (owner.c): no request
     * reaches these here; they keep the table name for name with rows.c. */
    {"account.rekey", "UPDATE account SET enc_sym_key = $2::text WHERE account_id = $1::text AND "
                      "enc_sym_key = $3::text"},
    {"account.srp_rekey", "UPDATE owner_srp SET verifier = $2::text WHERE account_id = $1::text"},

    /* $2: the seq pg.c gives the change. */
    {"change.append",
     "INSERT INTO changes (account_id, seq, kind, vault_id, item_id, file_id, server_id, jti, kid, "
     "version, at) VALUES ($1::text, $2::bigint, $3::text, $4::text, $5::text, $6::text, $7::text, "
     "$8::text, $9::text, $10::bigint, $11::bigint)"},

    {"server.is_active", "SELECT id FROM servers WHERE account_id = $1::text AND id = $2::text AND "
                         "state = 'active'"},
    {"access.server_vault",
     "SELECT vault_id FROM vault_access WHERE account_id = $1::text AND vault_id = $2::text AND "
     "accessor_type = 'server' AND accessor_id = $3::text"},

    {"token.get",
     "SELECT " TOKEN_COLS " FROM tokens WHERE account_id = $1::text AND jti = $2::text"},
    {"token.list", "SELECT " TOKEN_COLS " FROM tokens WHERE account_id = $1::text AND ($2::text "
                   "IS NULL OR server_id = $2::text) ORDER BY lower(name), name, created, jti"},
    {"token.find_jti", "SELECT jti FROM tokens WHERE account_id = $1::text AND jti = $2::text AND "
                       "($3::text IS NULL OR server_id = $3::text)"},
    {"token.find_active_name",
     "SELECT jti FROM tokens WHERE account_id = $1::text AND " NOCASE(
         "name",
         "$2") " AND state = 'active' AND ($3::text IS NULL OR server_id = $3::text) ORDER BY jti"},
    {"token.find_name",
     "SELECT jti FROM tokens WHERE account_id = $1::text AND " NOCASE(
         "name", "$2") " AND ($3::text IS NULL OR server_id = $3::text) ORDER BY jti"},
    {"token.name_taken",
     "SELECT jti FROM tokens WHERE account_id = $1::text AND server_id = $2::text AND state = "
     "'active' AND " NOCASE("name", "$3") " AND jti IS DISTINCT FROM $4::text"},
    {"token.active_by_server", "SELECT jti, seq FROM tokens WHERE account_id = $1::text AND "
                               "server_id = $2::text AND state = 'active' ORDER BY jti"},
    {"token.insert",
     "INSERT INTO tokens (account_id, jti, server_id, name, scopes, created, expires, state, "
     "updated, seq) VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::bigint, "
     "$7::bigint, 'active', $8::bigint, $9::bigint)"},
    {"token.rename", "UPDATE tokens SET name = $2::text, updated = $3::bigint, seq = $4::bigint "
                     "WHERE account_id = $1::text AND jti = $5::text AND seq = $6::bigint"},
    {"token.revoke",
     "UPDATE tokens SET state = 'revoked', updated = $2::bigint, seq = $3::bigint WHERE "
     "account_id = $1::text AND jti = $4::text AND seq = $5::bigint AND state = 'active'"},

    {"server.find_name", "SELECT id FROM servers WHERE account_id = $1::text AND state = 'active' "
                         "AND " NOCASE("name", "$2") " ORDER BY id"},
    {"server.name_taken",
     "SELECT id FROM servers WHERE account_id = $1::text AND state = 'active' AND " NOCASE(
         "name", "$2") " AND id IS DISTINCT FROM $3::text"},
    {"server.show",
     "SELECT s.id, s.name, s.created, s.updated, s.seq, g.vault_id FROM servers s LEFT JOIN "
     "vault_access g ON g.account_id = s.account_id AND g.accessor_type = 'server' AND "
     "g.accessor_id = s.id WHERE s.account_id = $1::text AND s.state = 'active' AND ($2::text IS "
     "NULL OR s.id = $2::text) ORDER BY lower(s.name), s.name, s.id, g.vault_id NULLS FIRST"},
    {"server.record", "SELECT record FROM servers WHERE account_id = $1::text AND id = $2::text "
                      "AND record IS NOT NULL"},
    {"server.enc_key", "SELECT enc_pub, enc_sig FROM servers WHERE account_id = $1::text AND id = "
                       "$2::text AND enc_pub IS NOT NULL AND enc_sig IS NOT NULL"},
    {"server.insert",
     "INSERT INTO servers (account_id, id, name, state, device_pub, device_sig, enc_pub, enc_sig, "
     "record, created, updated, seq) VALUES ($1::text, $2::text, $3::text, 'active', $4::text, "
     "$5::text, $6::text, $7::text, $8::text, $9::bigint, $10::bigint, $11::bigint)"},
    {"server.rename",
     "UPDATE servers SET name = $2::text, record = $3::text, updated = $4::bigint, seq = "
     "$5::bigint WHERE account_id = $1::text AND id = $6::text AND seq = $7::bigint AND state = "
     "'active'"},
    {"server.delete",
     "UPDATE servers SET state = 'deleted', device_pub = NULL, device_sig = NULL, enc_pub = NULL, "
     "enc_sig = NULL, record = NULL, updated = $2::bigint, seq = $3::bigint WHERE account_id = "
     "$1::text AND id = $4::text AND seq = $5::bigint AND state = 'active'"},
    {"access.server_grant",
     "SELECT seq FROM vault_access WHERE account_id = $1::text AND vault_id = $2::text AND "
     "accessor_type = 'server' AND accessor_id = $3::text"},
    {"access.server_grants",
     "SELECT vault_id, accessor_id FROM vault_access WHERE account_id = $1::text AND "
     "accessor_type = 'server' AND ($2::text IS NULL OR vault_id = $2::text) AND ($3::text IS "
     "NULL OR accessor_id = $3::text) ORDER BY vault_id, accessor_id"},
    {"access.grant_server",
     "INSERT INTO vault_access (account_id, vault_id, accessor_type, accessor_id, key_sn, enc_key, "
     "acl, granted, grant_sig, seq) SELECT v.account_id, v.id, 'server', $3::text, $4::bigint, "
     "$5::text, $6::bigint, $7::bigint, $8::text, $9::bigint FROM vaults v WHERE v.account_id = "
     "$1::text AND v.id = $2::text AND v.key_sn = $4::bigint"},
    {"access.revoke_server",
     "DELETE FROM vault_access WHERE account_id = $1::text AND vault_id = $2::text AND "
     "accessor_type = 'server' AND accessor_id = $3::text AND seq = $4::bigint"},
    {"access.revoke_all_server", "DELETE FROM vault_access WHERE account_id = $1::text AND "
                                 "accessor_type = 'server' AND accessor_id = $2::text"},

    {"vault.get", VAULT_SELECT " AND v.id = $3::text"},
    {"vault.list", VAULT_SELECT " ORDER BY v.id"},
    {"vault.feed_head", "SELECT coalesce(max(seq), 0) FROM changes WHERE account_id = $1::text"},
    {"vault.names_since",
     "SELECT seq FROM changes WHERE account_id = $1::text AND seq > $2::bigint AND kind IN "
     "('vault_create', 'vault_update') ORDER BY seq"},
    {"vault.grants_since",
     "SELECT seq FROM changes WHERE account_id = $1::text AND vault_id = $2::text AND seq > "
     "$3::bigint AND kind IN ('grant', 'grant_revoke') ORDER BY seq"},
    {"vault.server_grants",
     "SELECT accessor_id FROM vault_access WHERE account_id = $1::text AND vault_id = $2::text "
     "AND accessor_type = 'server' ORDER BY accessor_id"},
    {"vault.insert",
     "INSERT INTO vaults (account_id, id, type, key_sn, attrs, attr_version, content_version, "
     "items, created, updated, seq) VALUES ($1::text, $2::text, $3::text, $4::bigint, $5::text, "
     "1, 1, 0, $6::bigint, $7::bigint, $8::bigint)"},
    /* SQLite's INSERT OR REPLACE: one row either way. */
    {"vault.grant_put",
     "INSERT INTO vault_access (account_id, vault_id, accessor_type, accessor_id, key_sn, enc_key, "
     "acl, granted, grant_sig, seq) VALUES ($1::text, $2::text, $3::text, $4::text, $5::bigint, "
     "$6::text, $7::bigint, $8::bigint, $9::text, $10::bigint) ON CONFLICT (account_id, "
     "vault_id, accessor_type, accessor_id) DO UPDATE SET key_sn = EXCLUDED.key_sn, enc_key = "
     "EXCLUDED.enc_key, acl = EXCLUDED.acl, granted = EXCLUDED.granted, grant_sig = "
     "EXCLUDED.grant_sig, seq = EXCLUDED.seq"},
    {"vault.set_attrs",
     "UPDATE vaults SET attrs = $2::text, attr_version = attr_version + 1, updated = $3::bigint, "
     "seq = $4::bigint WHERE account_id = $1::text AND id = $5::text AND seq = $6::bigint"},
    {"vault.touch", VAULT_TOUCH},
    {"vault.delete", "DELETE FROM vaults WHERE account_id = $1::text AND id = $2::text"},

    {"item.get",
     "SELECT version, key_sn, overview, details, created, updated, editor, seq FROM items WHERE "
     "account_id = $1::text AND id = $2::text AND vault_id = $3::text AND state = 'active'"},
    {"item.list",
     "SELECT id, version, key_sn, overview, created, updated, editor, seq FROM items WHERE "
     "account_id = $1::text AND vault_id = $2::text AND state = 'active' ORDER BY id"},
    {"item.is_active", "SELECT id FROM items WHERE account_id = $1::text AND id = $2::text AND "
                       "vault_id = $3::text AND state = 'active'"},
    {"item.chunk_count",
     "SELECT count(*) FROM files WHERE account_id = $1::text AND item_id = $2::text"},
    {"item.vault_sn", "SELECT id FROM vaults WHERE account_id = $1::text AND id = $2::text AND "
                      "key_sn = $3::bigint"},
    {"item.insert",
     "INSERT INTO items (account_id, id, vault_id, version, state, key_sn, overview, details, "
     "created, updated, seq, editor) VALUES ($1::text, $2::text, $3::text, 1, 'active', "
     "$4::bigint, $5::text, $6::text, $7::bigint, $8::bigint, $9::bigint, $10::text)"},
    {"item.update",
     "UPDATE items SET version = version + 1, key_sn = $2::bigint, overview = $3::text, details = "
     "$4::text, updated = $5::bigint, seq = $6::bigint, editor = $7::text WHERE account_id = "
     "$1::text AND id = $8::text AND vault_id = $9::text AND state = 'active' AND version = "
     "$10::bigint AND seq = $11::bigint"},
    {"item.tombstone",
     "UPDATE items SET state = 'deleted', version = version + 1, overview = NULL, details = NULL, "
     "updated = $2::bigint, seq = $3::bigint, editor = $4::text WHERE account_id = $1::text AND "
     "id = $5::text AND vault_id = $6::text AND state = 'active' AND version = $7::bigint AND seq "
     "= $8::bigint"},
    {"item.files_delete", "DELETE FROM files WHERE account_id = $1::text AND item_id = $2::text"},
    {"item.vault_touch", VAULT_TOUCH},

    {"file.chunk_insert", "INSERT INTO files (account_id, item_id, file_id, idx, blob) VALUES "
                          "($1::text, $2::text, $3::text, $4::bigint, $5::bytea)"},
    {"file.chunks",
     "SELECT idx, blob FROM files WHERE account_id = $1::text AND item_id = $2::text AND file_id = "
     "$3::text AND idx >= $4::bigint ORDER BY idx LIMIT $5::bigint"},
    {"file.chunks_delete", "DELETE FROM files WHERE account_id = $1::text AND item_id = $2::text "
                           "AND file_id = $3::text"},

    /* ---- the store's own (the Connect server's side; pg_sql.h) ---- */
    /*
     * $1 account, $2 since, $3 server, $4 limit: the feed head (last_seq)
     * then the visible changes after since (feed.c's changes_sql), one row
     * with NULLs after the head when there is none; no row: no account.
     */
    {"store.changes",
     "SELECT a.last_seq, c.seq, c.kind, c.vault_id, c.item_id, c.file_id, c.server_id, c.jti, "
     "c.kid, c.version FROM account a LEFT JOIN LATERAL (SELECT seq, kind, vault_id, item_id, "
     "file_id, server_id, jti, kid, version FROM changes c WHERE c.account_id = a.account_id AND "
     "c.seq > $2::bigint AND (c.server_id = $3::text OR (c.server_id IS NULL AND c.kind = "
     "'issuer_key') OR (c.server_id IS NULL AND c.vault_id IS NOT NULL AND EXISTS (SELECT 1 FROM "
     "vault_access g WHERE g.account_id = $1::text AND g.vault_id = c.vault_id AND "
     "g.accessor_type = 'server' AND g.accessor_id = $3::text))) ORDER BY c.seq LIMIT "
     "$4::bigint) c ON true WHERE a.account_id = $1::text ORDER BY c.seq"},
    {"store.account", "SELECT 1::bigint FROM account WHERE account_id = $1::text"},
    /* No parameter: every account. */
    {"store.count", "SELECT count(*) FROM account"},
    {"store.device_key", "SELECT device_pub FROM servers WHERE account_id = $1::text AND id = "
                         "$2::text AND state = 'active'"},
    {"store.issuer_key",
     "SELECT kid, jwk, seq FROM issuer_keys WHERE account_id = $1::text AND kid = $2::text"},
    {"store.access",
     "SELECT vault_id, key_sn, enc_key, acl, granted, grant_sig, seq FROM vault_access WHERE "
     "account_id = $1::text AND accessor_type = 'server' AND accessor_id = $2::text AND vault_id "
     "= $3::text"},
    {"store.vault", "SELECT " VAULT_COLS " FROM vaults v WHERE v.account_id = $1::text AND v.id = "
                    "$3::text AND " GRANTED("v.id")},
    {"store.item", "SELECT " ITEM_COLS " FROM items i WHERE i.account_id = $1::text AND i.id = "
                   "$3::text AND i.state = 'active' AND " GRANTED("i.vault_id")},
    /* Keyset pages, as export.c's; the indexes hold their order. */
    {"store.vault_items",
     "SELECT " ITEM_COLS " FROM items i WHERE i.account_id = $1::text AND i.vault_id = $3::text "
     "AND i.state = 'active' AND i.id > $4::text AND " GRANTED(
         "i.vault_id") " ORDER BY i.id LIMIT $5::bigint"},
    {"store.item_files",
     "SELECT " FILE_COLS " FROM files f JOIN items i ON i.account_id = f.account_id AND i.id = "
     "f.item_id WHERE f.account_id = $1::text AND f.item_id = $3::text AND (f.file_id, f.idx) > "
     "($4::text, $5::bigint) AND i.state = 'active' AND " GRANTED(
         "i.vault_id") " ORDER BY f.file_id, f.idx LIMIT $6::bigint"},
    /* items $4 (after $5, $6 within it) to $7 */
    {"store.vault_files",
     "SELECT " FILE_COLS " FROM files f JOIN items i ON i.account_id = f.account_id AND i.id = "
     "f.item_id WHERE f.account_id = $1::text AND i.vault_id = $3::text AND (f.item_id, "
     "f.file_id, f.idx) > ($4::text, $5::text, $6::bigint) AND f.item_id <= $7::text AND i.state "
     "= 'active' AND " GRANTED("i.vault_id") " ORDER BY f.item_id, f.file_id, f.idx LIMIT "
                                             "$8::bigint"},
    {"store.vault_row",
     "SELECT " VAULT_COLS " FROM vaults v WHERE v.account_id = $1::text AND v.id = $2::text"},
    {"store.item_row",
     "SELECT " ITEM_COLS " FROM items i WHERE i.account_id = $1::text AND i.id = $2::text"},
    {"store.token",
     "SELECT jti, server_id, name, scopes, created, coalesce(expires, 0) AS expires, state, "
     "updated, seq FROM tokens WHERE account_id = $1::text AND server_id = $2::text AND jti = "
     "$3::text"},
    /* server_write.c's authorize(): (server active 1/0, the vault's key_sn
     * or NULL, the server's grant acl on it or NULL), always one row. */
    {"store.write_auth",
     "SELECT CASE WHEN EXISTS (SELECT 1 FROM servers s WHERE s.account_id = $1::text AND s.id = "
     "$2::text AND s.state = 'active') THEN 1::bigint ELSE 0::bigint END, (SELECT v.key_sn FROM "
     "vaults v WHERE v.account_id = $1::text AND v.id = $3::text), (SELECT g.acl FROM "
     "vault_access g WHERE g.account_id = $1::text AND g.vault_id = $3::text AND g.accessor_type = "
     "'server' AND g.accessor_id = $2::text)"},
    /* $2 vault, $3 item: (in the vault 1/0, active 1/0, version, seq). */
    {"store.item_state",
     "SELECT CASE WHEN vault_id = $2::text THEN 1::bigint ELSE 0::bigint END, CASE WHEN state = "
     "'active' THEN 1::bigint ELSE 0::bigint END, version, seq FROM items WHERE account_id = "
     "$1::text AND id = $3::text FOR UPDATE"},
    /* The write transaction's first statement: one writer per account. */
    {"store.lock", "SELECT last_seq FROM account WHERE account_id = $1::text FOR UPDATE"},
    {"store.set_seq", "UPDATE account SET last_seq = $2::bigint WHERE account_id = $1::text"},
    /* $1 the email (lower-case). */
    {"store.owner_lookup",
     "SELECT a.account_id, s.salt, s.verifier, a.kdf_salt, a.kdf_iterations FROM account a JOIN "
     "owner_srp s ON s.account_id = a.account_id WHERE a.email = $1::text"},

    /* ---- the account servers' shared state (pg_state.c; schema_v2) ---- */
    /* $1 key, $2 kind, $3 account, $4 server, $5 sealed keys, $6 expires,
     * $7 idle_s, $8 now: a key again starts afresh. */
    {"store.session_put",
     "INSERT INTO ad_sessions (sid, kind, account_id, server_id, sealed, expires, idle_s, last_s, "
     "counter) VALUES ($1::text, $2::bigint, $3::text, $4::text, $5::bytea, $6::bigint, "
     "$7::bigint, $8::bigint, 0) ON CONFLICT (sid) DO UPDATE SET kind = EXCLUDED.kind, account_id "
     "= EXCLUDED.account_id, server_id = EXCLUDED.server_id, sealed = EXCLUDED.sealed, expires = "
     "EXCLUDED.expires, idle_s = EXCLUDED.idle_s, last_s = EXCLUDED.last_s, counter = 0"},
    /* $1 key, $2 now: a live session (accountd.h's dead(): now >= expires
     * or now - last_s >= idle_s). */
    {"store.session_get",
     "SELECT kind, account_id, server_id, sealed, expires, idle_s, last_s, counter FROM "
     "ad_sessions WHERE sid = $1::text AND expires > $2::bigint AND last_s + idle_s > $2::bigint"},
    /* $1 key, $2 counter, $3 now: the one statement of a request. */
    {"store.session_use",
     "UPDATE ad_sessions SET counter = $2::bigint, last_s = greatest(last_s, $3::bigint) WHERE sid "
     "= $1::text AND counter < $2::bigint AND expires > $3::bigint AND last_s + idle_s > "
     "$3::bigint RETURNING counter"},
    {"store.session_end", "DELETE FROM ad_sessions WHERE sid = $1::text"},
    /* $1 nonce, $2 its expiry, $3 now: a row back unless a live one holds it. */
    {"store.nonce_take",
     "INSERT INTO ad_nonces (nonce, expires_ms) VALUES ($1::text, $2::bigint) ON CONFLICT (nonce) "
     "DO UPDATE SET expires_ms = EXCLUDED.expires_ms WHERE ad_nonces.expires_ms <= $3::bigint "
     "RETURNING expires_ms"},
    /* $1 key, $2 now, $3 window, $4 limit: one event in the key's window
     * (a window that ended starts afresh). */
    {"store.limit_hit",
     "INSERT INTO ad_limits (key, ends_ms, hits) VALUES ($1::text, $2::bigint + $3::bigint, 1) ON "
     "CONFLICT (key) DO UPDATE SET ends_ms = CASE WHEN ad_limits.ends_ms <= $2::bigint THEN "
     "EXCLUDED.ends_ms ELSE ad_limits.ends_ms END, hits = CASE WHEN ad_limits.ends_ms <= "
     "$2::bigint THEN 1 ELSE least(ad_limits.hits + 1, $4::bigint) END"},
    /* $1 key, $2 limit, $3 now: the end of a window that reached the limit. */
    {"store.limit_until", "SELECT ends_ms FROM ad_limits WHERE key = $1::text AND hits >= "
                          "$2::bigint AND ends_ms > $3::bigint"},
    {"store.pending_put", "INSERT INTO ad_pending (id, sealed, expires_ms) VALUES ($1::text, "
                          "$2::bytea, $3::bigint)"},
    /* Taken once, live or not: the caller checks expires_ms. */
    {"store.pending_take",
     "DELETE FROM ad_pending WHERE id = $1::text RETURNING sealed, expires_ms"},
    /* $1 now (s for sessions, ms for the rest). */
    {"store.sweep_sessions",
     "DELETE FROM ad_sessions WHERE expires <= $1::bigint OR last_s + idle_s <= $1::bigint"},
    {"store.sweep_nonces", "DELETE FROM ad_nonces WHERE expires_ms <= $1::bigint"},
    {"store.sweep_limits", "DELETE FROM ad_limits WHERE ends_ms <= $1::bigint"},
    {"store.sweep_pending", "DELETE FROM ad_pending WHERE expires_ms <= $1::bigint"},
};

const opc__pg_sql *opc__pg_sql_table(size_t *n)
{
    *n = OPC_ARRAY_LEN(table);
    return table;
}

const char *opc__pg_sql_find(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < OPC_ARRAY_LEN(table); i++) {
        if (strcmp(table[i].name, name) == 0) {
            return table[i].sql;
        }
    }
    return NULL;
}
