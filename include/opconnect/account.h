/*
 * opconnect/account.h - the owner's account: vaults, items, files, Connect
 * servers and tokens, end-to-end encrypted in one SQLite file (account.db).
 *
 * The file holds ciphertext, public keys and signed grants only. Opening it
 * gives a locked handle; opc_account_unlock() derives the Account Unlock Key
 * from the password and the Secret Key (2SKD) and opens the owner's keyset
 * in memory. Every call that reads or writes vault content needs an
 * unlocked handle (OPC_ERR_LOCKED otherwise).
 *
 * Data crosses this API as JSON text in the Connect REST API's shapes
 * (docs/API.md): a vault object, a full item, an item summary. JSON that
 * can hold secrets (items, credentials files, tokens) comes back as an
 * opc_secret, wiped when freed; other JSON is a char * released with
 * opc_free().
 *
 * Vaults and servers are named by id or by name (ids are tried first; a
 * name matching several objects is OPC_ERR_CONFLICT with a message listing
 * the ids). Items are named by id or title within a vault.
 *
 * Errors: every function returns an opc_err; the handle keeps a one-line,
 * secret-free explanation of the last failure (opc_account_errmsg()).
 * A failed call changes nothing on disk (each change is one transaction).
 *
 * Thread safety: one thread per handle at a time. Two processes may use
 * the same file at once (SQLite locking with a busy timeout).
 */
#ifndef OPCONNECT_ACCOUNT_H
#define OPCONNECT_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "export.h"
#include "secret.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct opc_account opc_account;

/* 2SKD iterations: default for new accounts, and the floor below which an
 * account file is refused (a downgraded file is an attack). */
#define OPC_ACCOUNT_DEFAULT_ITERATIONS 650000u
#define OPC_ACCOUNT_MIN_ITERATIONS 100000u

/* Largest file attachment, in bytes (64 MiB). */
#define OPC_ACCOUNT_MAX_FILE_SIZE (64u * 1024u * 1024u)

/*
 * opc_account_create - create a new account file at path (refuses an
 * existing file: OPC_ERR_EXISTS) for the owner's email and password.
 *
 * A new Secret Key is generated and returned once in *out_secret_key
 * ("A3-XXXXXX-..."); it is never stored. iterations 0 means the default;
 * below OPC_ACCOUNT_MIN_ITERATIONS is OPC_ERR_RANGE. The file is created
 * with mode 0600. On success *out is an unlocked handle. errbuf (may be
 * NULL) explains a failure. The password must be UTF-8 (OPC_ERR_PARSE
 * otherwise): 2SKD normalises it to Unicode NFKD, so its composed,
 * decomposed and compatibility forms are one password (docs/account.md,
 * "Passwords"). Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_account_create(const char *path, const char *email,
                                                 const char *password, uint32_t iterations,
                                                 opc_account **out, opc_secret **out_secret_key,
                                                 char *errbuf, size_t errbuf_len)
    OPC_NONNULL(1, 2, 3, 5, 6);

/*
 * opc_account_open - open an existing account file, locked.
 * OPC_ERR_NOT_FOUND when the file does not exist, OPC_ERR_UNSUPPORTED for a
 * newer schema, OPC_ERR_PARSE for a file that is not an account. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_account_open(const char *path, opc_account **out, char *errbuf,
                                               size_t errbuf_len) OPC_NONNULL(1, 2);

/* opc_account_free - wipe keys and close; NULL is a no-op. Since 0.1.0. */
OPC_API void opc_account_free(opc_account *a);

/* opc_account_close - the former name of opc_account_free(), kept exported
 * so that programs built against it still load. Deprecated since 0.1.0. */
OPC_API void opc_account_close(opc_account *a)
    OPC_DEPRECATED("since 0.1.0; use opc_account_free");

/* The last failure's message on this handle ("" when none). Since 0.1.0. */
OPC_API const char *opc_account_errmsg(const opc_account *a);

/* The account's id and the owner's email (borrowed). Since 0.1.0. */
OPC_API const char *opc_account_id(const opc_account *a);
OPC_API const char *opc_account_email(const opc_account *a);

/*
 * opc_account_unlock - derive the Account Unlock Key with 2SKD from the
 * password and Secret Key and open the owner's keyset. A wrong password or
 * Secret Key is OPC_ERR_DECRYPT ("wrong password or Secret Key"); a
 * malformed Secret Key is OPC_ERR_PARSE. The password is normalised to
 * NFKD; an account made before passwords were normalised opens with the
 * password's bytes as typed and is re-keyed to the normalised password in
 * the same call (docs/account.md, "Passwords"). Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_account_unlock(opc_account *a, const char *password,
                                                 const char *secret_key) OPC_NONNULL(1, 2, 3);

/* Whether the handle is unlocked. Since 0.1.0. */
OPC_API bool opc_account_is_unlocked(const opc_account *a);

/*
 * Unlocked sessions, so that a script pays for 2SKD once.
 *
 * opc_account_session_save() writes, under dir (created 0700 if missing),
 * a 0600 file holding the Account Unlock Key sealed under a fresh random
 * session key, bound to this account and valid for ttl_s seconds; the
 * session key is returned as *out_token (base64url text). Neither the file
 * nor the token alone unlocks anything. opc_account_session_unlock() opens
 * the account with a token (OPC_ERR_NOT_FOUND: no session; OPC_ERR_DECRYPT:
 * wrong token; OPC_ERR_RANGE: expired). opc_account_session_end() deletes
 * the session file. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_account_session_save(opc_account *a, const char *dir,
                                                       int64_t ttl_s, opc_secret **out_token)
    OPC_NONNULL(1, 2, 4);
OPC_API OPC_NODISCARD opc_err opc_account_session_unlock(opc_account *a, const char *dir,
                                                         const char *token) OPC_NONNULL(1, 2, 3);
OPC_API OPC_NODISCARD opc_err opc_account_session_end(opc_account *a, const char *dir)
    OPC_NONNULL(1, 2);

/*
 * An account held by op-account-server (docs/protocol.md, "Owner
 * sign-in"). address is "https://host[:port]" (http:// for a loopback host
 * only); ca_file, when not NULL, is the PEM bundle that verifies the
 * server's certificate (verification is always on). Since 0.1.0.
 *
 * opc_account_remote_create() makes the account exactly as
 * opc_account_create() does (keys, envelopes, 2SKD) plus an SRP salt and
 * verifier, and sends only public material and ciphertext; the Secret Key
 * is returned once (*out_secret_key), the account id in out_id (27
 * bytes). An email the server already holds is OPC_ERR_EXISTS.
 *
 * opc_account_remote_signin() signs in with SRP-6a (the password and the
 * Secret Key never leave the process) and writes dir/session-<accountId>
 * (0600), sealed under a new random token returned as *out_token: the
 * address, the session id, its request and answer keys, its counter and
 * the Account Unlock Key. A refused sign-in is OPC_ERR_PERMISSION (wrong
 * email, password or Secret Key: the server does not say which);
 * OPC_ERR_IO with "rate limited" when the server asks to wait. The
 * password is normalised to NFKD; an account made before that is signed
 * in with the bytes as typed by a second exchange, and not re-keyed.
 *
 * opc_account_remote_open() opens that session: it downloads the account
 * row (GET /v1/owner/account) and unlocks it with the sealed AUK. The
 * handle is unlocked and every vault, item, file, server and token call
 * works on it as on a file, through the server (the owner's store
 * protocol); the handle holds the session (a lock file next to it: another
 * process opening the same session waits up to 30 s) until
 * opc_account_free. Calls on the file itself (opc_account_unlock, the
 * local session calls) are OPC_ERR_UNSUPPORTED. A write whose answer was
 * lost is OPC_ERR_IO saying its outcome is unknown.
 * opc_account_remote_signout() ends the session on the server and deletes
 * the file (the file is deleted even when the server cannot be reached).
 * A session the server no longer knows is OPC_ERR_PERMISSION.
 */
OPC_API OPC_NODISCARD opc_err opc_account_remote_create(const char *address, const char *ca_file,
                                                        const char *email, const char *password,
                                                        char *out_id, size_t out_id_len,
                                                        opc_secret **out_secret_key, char *errbuf,
                                                        size_t errbuf_len);
OPC_API OPC_NODISCARD opc_err opc_account_remote_signin(const char *address, const char *ca_file,
                                                        const char *email, const char *password,
                                                        const char *secret_key, const char *dir,
                                                        char *out_id, size_t out_id_len,
                                                        opc_secret **out_token, char *errbuf,
                                                        size_t errbuf_len);
OPC_API OPC_NODISCARD opc_err opc_account_remote_open(const char *dir, const char *account_id,
                                                      const char *token, const char *ca_file,
                                                      opc_account **out, char *errbuf,
                                                      size_t errbuf_len);
OPC_API OPC_NODISCARD opc_err opc_account_remote_signout(const char *dir, const char *account_id,
                                                         const char *token, const char *ca_file,
                                                         char *errbuf, size_t errbuf_len);
/* The address of a remote handle (NULL for an account file). */
OPC_API const char *opc_account_address(const opc_account *a);

/* ---- vaults (JSON: the Connect vault object) ---- */

OPC_API OPC_NODISCARD opc_err opc_account_vault_create(opc_account *a, const char *name,
                                                       const char *description, char **out_json)
    OPC_NONNULL(1, 2, 4);
/* A JSON array of vault objects, ordered by name. */
OPC_API OPC_NODISCARD opc_err opc_account_vault_list(opc_account *a, char **out_json)
    OPC_NONNULL(1, 2);
OPC_API OPC_NODISCARD opc_err opc_account_vault_get(opc_account *a, const char *vault,
                                                    char **out_json) OPC_NONNULL(1, 2, 3);
/* NULL new_name / new_description keep the current value. */
OPC_API OPC_NODISCARD opc_err opc_account_vault_edit(opc_account *a, const char *vault,
                                                     const char *new_name,
                                                     const char *new_description, char **out_json)
    OPC_NONNULL(1, 2, 5);
/* Deletes the vault, its items and files, and every server's grant to it. */
OPC_API OPC_NODISCARD opc_err opc_account_vault_delete(opc_account *a, const char *vault)
    OPC_NONNULL(1, 2);

/* ---- items (JSON: the Connect FullItem / item summary) ---- */

/*
 * opc_account_item_create - validate item_json (Connect FullItem shape;
 * category required, id/vault/version/timestamps ignored), apply the
 * category's built-in fields, generate requested values, encrypt and store.
 * *out is the created full item. Validation errors are OPC_ERR_PARSE or
 * OPC_ERR_RANGE with the Connect API's message where it has one ("Invalid
 * item category"). Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_account_item_create(opc_account *a, const char *vault,
                                                      const char *item_json, opc_secret **out)
    OPC_NONNULL(1, 2, 3, 4);
/* The full item (fields, sections, files' metadata; OTP fields carry the
 * current code in "totp"). */
OPC_API OPC_NODISCARD opc_err opc_account_item_get(opc_account *a, const char *vault,
                                                   const char *item, opc_secret **out)
    OPC_NONNULL(1, 2, 3, 4);
/* A JSON array of item summaries, ordered by title. */
OPC_API OPC_NODISCARD opc_err opc_account_item_list(opc_account *a, const char *vault,
                                                    opc_secret **out) OPC_NONNULL(1, 2, 3);
/*
 * opc_account_item_replace - replace the item with item_json (full
 * replace; files are kept; the previous password value goes into the
 * password history). expected_version > 0 must equal the stored version
 * (else OPC_ERR_CONFLICT and nothing changes); 0 skips the check. The
 * version is bumped by one. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_account_item_replace(opc_account *a, const char *vault,
                                                       const char *item, const char *item_json,
                                                       int64_t expected_version, opc_secret **out)
    OPC_NONNULL(1, 2, 3, 4, 6);
OPC_API OPC_NODISCARD opc_err opc_account_item_delete(opc_account *a, const char *vault,
                                                      const char *item, int64_t expected_version)
    OPC_NONNULL(1, 2, 3);

/* ---- files ---- */

/*
 * opc_account_file_attach - add a file (name, data) to an item, optionally
 * in a section (NULL: none). The content is encrypted in chunks under a
 * fresh per-file key kept in the item's encrypted details. The item's
 * version is bumped; *out is the updated full item. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_account_file_attach(opc_account *a, const char *vault,
                                                      const char *item, const char *name,
                                                      const char *section_id, const void *data,
                                                      size_t len, int64_t expected_version,
                                                      opc_secret **out)
    OPC_NONNULL(1, 2, 3, 4, 9);
/* The decrypted content of a file (every chunk verified). Since 0.1.0. */
OPC_API OPC_NODISCARD opc_err opc_account_file_read(opc_account *a, const char *vault,
                                                    const char *item, const char *file_id,
                                                    opc_secret **out) OPC_NONNULL(1, 2, 3, 4, 5);
/* A DOCUMENT item holding one file. *out is the full item. Since 0.1.0. */
OPC_API OPC_NODISCARD opc_err opc_account_document_create(opc_account *a, const char *vault,
                                                          const char *title, const char *filename,
                                                          const void *data, size_t len,
                                                          opc_secret **out)
    OPC_NONNULL(1, 2, 3, 4, 7);

/* ---- Connect servers (JSON: {"id","name","state","vaults":[{"id","name"}],"createdAt",
 *                             "updatedAt"}; lists and lookups see active servers only) ---- */

/*
 * opc_account_server_create - create a Connect server with access to the
 * given vaults (names or ids; at least one): its keyset, device key, bearer
 * secret T, uniqueKey, vault keys wrapped to it and grants signed by the
 * owner. *out_credentials is the 1password-credentials.json text (shown
 * once, never stored); upstream is what the file names as the server's
 * upstream (NULL: this account file's absolute path). A duplicate name is
 * OPC_ERR_EXISTS. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_account_server_create(opc_account *a, const char *name,
                                                        const char *const *vaults, size_t n_vaults,
                                                        const char *upstream, char **out_json,
                                                        opc_secret **out_credentials)
    OPC_NONNULL(1, 2, 3, 6, 7);
/*
 * opc_account_server_create2 - opc_account_server_create() with the key pin
 * of an https:// upstream: upstream_pin is the RFC 7638 thumbprint (43
 * base64url characters) of the account server's P-256 key
 * (`op-account-server` prints it; docs/protocol.md), written into the
 * credentials as accountServerPin. NULL for none (a local upstream); a pin
 * that is not a thumbprint is OPC_ERR_INVALID_ARG. The library does not
 * require the pin here; the Connect server refuses an https:// upstream
 * without one. On a remote handle (opc_account_remote_open) a NULL upstream
 * is the account server itself, and a NULL pin its key's pin as the signed
 * account row gave it. upstream may also be a comma-separated list of up
 * to 8 https:// URLs of account servers serving the account from one
 * database with one server key (upstream_pin): the credentials then list
 * them all (docs/credentials.md) and the Connect server fails over between
 * them; a list with a path, a server twice or a ninth entry is
 * OPC_ERR_INVALID_ARG (since 0.2.0). Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_account_server_create2(opc_account *a, const char *name,
                                                         const char *const *vaults,
                                                         size_t n_vaults, const char *upstream,
                                                         const char *upstream_pin, char **out_json,
                                                         opc_secret **out_credentials)
    OPC_NONNULL(1, 2, 3, 7, 8);
/* A JSON array of servers, ordered by name. */
OPC_API OPC_NODISCARD opc_err opc_account_server_list(opc_account *a, char **out_json)
    OPC_NONNULL(1, 2);
OPC_API OPC_NODISCARD opc_err opc_account_server_get(opc_account *a, const char *server,
                                                     char **out_json) OPC_NONNULL(1, 2, 3);
OPC_API OPC_NODISCARD opc_err opc_account_server_rename(opc_account *a, const char *server,
                                                        const char *new_name, char **out_json)
    OPC_NONNULL(1, 2, 3, 4);
/* Deletes the server: its grants, device key and tokens are revoked. */
OPC_API OPC_NODISCARD opc_err opc_account_server_delete(opc_account *a, const char *server)
    OPC_NONNULL(1, 2);
/* Grant or revoke a vault (the grant is signed by the owner). Granting a
 * vault the server already holds is a no-op; revoking one it lacks is
 * OPC_ERR_NOT_FOUND. Tokens keep their scopes: connect-api serves only the
 * vaults the server still holds. */
OPC_API OPC_NODISCARD opc_err opc_account_server_grant(opc_account *a, const char *server,
                                                       const char *vault) OPC_NONNULL(1, 2, 3);
OPC_API OPC_NODISCARD opc_err opc_account_server_revoke(opc_account *a, const char *server,
                                                        const char *vault) OPC_NONNULL(1, 2, 3);

/* ---- tokens (JSON: {"id" (jti),"name","server" (server id),
 *                     "vaults":[{"id","name","access":"r"|"w"|"rw"}],
 *                     "state":"active"|"revoked","createdAt","expiresAt"?};
 *      names are unique among a server's active tokens) ---- */

/*
 * opc_account_token_create - mint an ES256 Connect token for server,
 * signed with the owner's key. Each vault spec is "<vault>[,r|,w|,rw]"
 * (no suffix: rw); every vault must be granted to the server
 * (OPC_ERR_PERMISSION otherwise). expires_in_s 0 means no expiry. The token
 * is returned once in *out_token and never stored: the account keeps only
 * its registry entry {jti, server, scopes, exp, status}. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_account_token_create(opc_account *a, const char *name,
                                                       const char *server,
                                                       const char *const *vault_specs,
                                                       size_t n_specs, int64_t expires_in_s,
                                                       char **out_json, opc_secret **out_token)
    OPC_NONNULL(1, 2, 3, 4, 7, 8);
/*
 * opc_account_token_create2 - opc_account_token_create() with flags:
 * OPC_TOKEN_ACTIVITY_LOG gives the token the full-log permission of
 * GET /v1/activity (the feature "activitylog" in its signed
 * 1password.com/fts claim; docs/connect-api.md): it sees every token's
 * requests with their token id, user agent and address. Without it a token
 * sees its own requests and, without those three, other tokens' requests
 * on the vaults it can read. Only the token carries the permission (its
 * registry entry does not): to take it away, revoke the token. Other bits
 * are OPC_ERR_INVALID_ARG. Since 0.2.0.
 */
#define OPC_TOKEN_ACTIVITY_LOG 0x1u
OPC_API OPC_NODISCARD opc_err opc_account_token_create2(opc_account *a, const char *name,
                                                        const char *server,
                                                        const char *const *vault_specs,
                                                        size_t n_specs, int64_t expires_in_s,
                                                        uint32_t flags, char **out_json,
                                                        opc_secret **out_token)
    OPC_NONNULL(1, 2, 3, 4, 8, 9);
/* Tokens of one server (or all when server is NULL), active and revoked. */
OPC_API OPC_NODISCARD opc_err opc_account_token_list(opc_account *a, const char *server,
                                                     char **out_json) OPC_NONNULL(1, 3);
/* token: jti or name (server narrows a name; active tokens are preferred
 * over revoked ones of the same name). Revoking a revoked token is a no-op. */
OPC_API OPC_NODISCARD opc_err opc_account_token_rename(opc_account *a, const char *token,
                                                       const char *server, const char *new_name,
                                                       char **out_json) OPC_NONNULL(1, 2, 4, 5);
OPC_API OPC_NODISCARD opc_err opc_account_token_revoke(opc_account *a, const char *token,
                                                       const char *server) OPC_NONNULL(1, 2);

#ifdef __cplusplus
}
#endif

#endif /* OPCONNECT_ACCOUNT_H */
