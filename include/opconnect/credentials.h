/*
 * opconnect/credentials.h - the Connect server's 1password-credentials.json.
 *
 * The file keeps 1Password's layout (version "2", verifier, encCredentials,
 * deviceUuid, uniqueKey). It is opened in two layers:
 *
 *  - parsing opens the outer layer with uniqueKey alone, which yields the
 *    server and account ids, the upstream URL and the public material that
 *    connect-sync needs to mirror ciphertext;
 *  - opc_credentials_unlock() takes the bearer secret T carried by every
 *    token of this server, checks it against the verifier and opens the inner
 *    layer (the server's private keys). Only then can vault keys be unwrapped.
 *
 * Thread safety: one thread per object at a time; getters on an object that
 * is no longer modified may be called from any thread.
 */
#ifndef OPCONNECT_CREDENTIALS_H
#define OPCONNECT_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct opc_credentials opc_credentials;

/* Largest credentials file accepted, in bytes. */
#define OPC_CREDENTIALS_MAX_SIZE (64 * 1024)

/*
 * opc_credentials_parse - parse a credentials file held in memory and open
 * its outer layer.
 *
 * json/len: the file's bytes (need not be NUL-terminated). On success *out is
 * a new object to release with opc_credentials_free(); on failure *out is
 * NULL and errbuf (may be NULL) says what is wrong, e.g. "credentials file is
 * not version 2". Returns OPC_ERR_NOT_INITIALIZED, OPC_ERR_INVALID_ARG,
 * OPC_ERR_NOMEM, OPC_ERR_TOO_LARGE, OPC_ERR_PARSE or OPC_ERR_CREDENTIALS
 * (structure, key or decryption failure). Thread safety: any thread.
 * Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_credentials_parse(const char *json, size_t len,
                                                    opc_credentials **out, char *errbuf,
                                                    size_t errbuf_len) OPC_NONNULL(1, 3);

/*
 * opc_credentials_load - load credentials from an OP_SESSION value.
 *
 * op_session may be (tried in this order) the path of a readable file, the
 * base64 of the file (standard or URL alphabet, padded or not, surrounded by
 * white space) or the raw JSON. When all fail, errbuf says which forms were
 * tried and why each failed. errbuf never quotes op_session (it may be the
 * file's content); a path is named only once it proved to be a readable
 * file. Returns as opc_credentials_parse() (OPC_ERR_INVALID_ARG for an empty
 * value), plus OPC_ERR_IO. Thread safety: any thread. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_credentials_load(const char *op_session, opc_credentials **out,
                                                   char *errbuf, size_t errbuf_len)
    OPC_NONNULL(1, 2);

/* opc_credentials_free - wipe and release; NULL is a no-op. Since 0.1.0. */
OPC_API void opc_credentials_free(opc_credentials *creds);

/*
 * Getters for the outer layer. Each returns a borrowed NUL-terminated string
 * valid until opc_credentials_free(), or NULL for a NULL object. Since 0.1.0.
 */
OPC_API const char *opc_credentials_device_uuid(const opc_credentials *creds);
OPC_API const char *opc_credentials_server_id(const opc_credentials *creds);
OPC_API const char *opc_credentials_account_id(const opc_credentials *creds);
/*
 * The upstream: an account.db path or an https:// URL; when the file names
 * several account servers (serviceUrl as an array of 1 to
 * OPC_CREDENTIALS_MAX_UPSTREAMS https:// URLs, all serving the account from
 * one database with one server key), the first of them.
 */
OPC_API const char *opc_credentials_upstream_url(const opc_credentials *creds);

/* The most account-server URLs one credentials file names. */
#define OPC_CREDENTIALS_MAX_UPSTREAMS 8

/*
 * opc_credentials_upstream_count - how many upstreams the file names: 1
 * for a path or one URL, up to OPC_CREDENTIALS_MAX_UPSTREAMS for a list of
 * account servers (0 for a NULL object). Since 0.2.0.
 */
OPC_API size_t opc_credentials_upstream_count(const opc_credentials *creds);
/*
 * opc_credentials_upstream_url_at - the i-th upstream (0-based, in the
 * file's order; i = 0 is opc_credentials_upstream_url()), borrowed until
 * opc_credentials_free(); NULL when i is out of range or creds is NULL.
 * Since 0.2.0.
 */
OPC_API const char *opc_credentials_upstream_url_at(const opc_credentials *creds, size_t i);

/*
 * opc_credentials_check_secret - true when secret (the 32-byte bearer secret
 * T decoded from a token) matches the file's verifier. Constant time in the
 * secret's value. Thread safety: any thread. Since 0.1.0.
 */
OPC_API bool opc_credentials_check_secret(const opc_credentials *creds, const void *secret,
                                          size_t secret_len);

/*
 * opc_credentials_unlock - check T against the verifier and open the inner
 * layer.
 *
 * Returns OPC_OK (also when already unlocked with the same T),
 * OPC_ERR_VERIFIER when T does not match (a secret_len other than 32 never
 * matches), OPC_ERR_CREDENTIALS when the inner layer does not decrypt or is
 * malformed; on failure the object stays as it was. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_credentials_unlock(opc_credentials *creds, const void *secret,
                                                     size_t secret_len, char *errbuf,
                                                     size_t errbuf_len) OPC_NONNULL(1, 2);

/* opc_credentials_is_unlocked - whether unlock succeeded. Since 0.1.0. */
OPC_API bool opc_credentials_is_unlocked(const opc_credentials *creds);

/*
 * opc_credentials_lock - wipe the inner layer's keys again (the state after
 * parsing). Since 0.1.0.
 */
OPC_API void opc_credentials_lock(opc_credentials *creds);

#ifdef __cplusplus
}
#endif

#endif /* OPCONNECT_CREDENTIALS_H */
