/*
 * opconnect/account_server.h - op-account-server: the account protocol
 * (docs/protocol.md, "The network protocol") served over HTTPS to the
 * Connect servers of many accounts, from a data directory:
 *
 *   <data dir>/server-key.jwk   the server key (P-256, 0600), created at
 *                               the first start; the credentials of every
 *                               Connect server pin it (opc_accountd_pin)
 *   <data dir>/accounts/NAME.db  one account file per account
 *
 * A Connect server opens a session with its device key (the handshake is
 * signed by both sides), then every request and answer carries a MAC under
 * the session's keys. See docs/account-server.md.
 *
 * HTTPS only, except for plain HTTP on a loopback address (a local proxy
 * or tests): opc_accountd_start() refuses a plain HTTP port on any
 * other address. Thread safety: one thread per object at a time; requests
 * are served by the library's worker threads.
 */
#ifndef OPCONNECT_ACCOUNT_SERVER_H
#define OPCONNECT_ACCOUNT_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct opc_accountd opc_accountd;

/* Defaults of the setters below. */
#define OPC_ACCOUNTD_DEFAULT_HTTPS_PORT 8443
#define OPC_ACCOUNTD_DEFAULT_THREADS 256
#define OPC_ACCOUNTD_MAX_THREADS 16384
/* Database connections of one server (opc_accountd_set_database). */
#define OPC_ACCOUNTD_DEFAULT_DB_POOL 16
#define OPC_ACCOUNTD_MAX_DB_POOL 64
/* The length of a pin (RFC 7638 thumbprint, b64url) and its buffer. */
#define OPC_ACCOUNTD_PIN_LEN 43

/*
 * opc_accountd_create - a stopped account server over data_dir,
 * which must exist; its accounts/ directory is created (0700) when
 * missing, and the server key loaded, or created when missing (written
 * atomically, mode 0600). OPC_ERR_NOT_INITIALIZED, OPC_ERR_INVALID_ARG,
 * OPC_ERR_IO (the directory or the key file), OPC_ERR_KEY (a key file
 * that is not a P-256 private JWK), OPC_ERR_NOMEM; errbuf (may be NULL)
 * says why. Since 0.2.0.
 */
OPC_API OPC_NODISCARD opc_err opc_accountd_create(const char *data_dir, opc_accountd **out,
                                                  char *errbuf, size_t errbuf_len)
    OPC_NONNULL(1, 2);

/* Settings, before opc_accountd_start(); OPC_ERR_INVALID_ARG when out
 * of range or the server runs. Since 0.2.0. */
/* Plain HTTP port, 0-65535 (0 picks a free one), or -1 for none (default).
 * Served only on a loopback bind address (see start). */
OPC_API OPC_NODISCARD opc_err opc_accountd_set_http_port(opc_accountd *s, int port);
/* HTTPS port, 0-65535; default 8443. HTTPS needs a certificate (files or
 * ACME). */
OPC_API OPC_NODISCARD opc_err opc_accountd_set_https_port(opc_accountd *s, int port);
/* Numeric IPv4 or IPv6 address; default "0.0.0.0", "::" both families. */
OPC_API OPC_NODISCARD opc_err opc_accountd_set_bind_address(opc_accountd *s, const char *address);
/* Worker threads = connections served at once (1-16384; default 256). */
OPC_API OPC_NODISCARD opc_err opc_accountd_set_threads(opc_accountd *s, int threads);
/*
 * The accounts in a PostgreSQL database instead of the data directory's
 * accounts/ files (docs/postgres.md): conninfo is a libpq connection string
 * (host=... dbname=... user=..., or a postgresql:// URI; TLS to the
 * database with sslmode=verify-full and sslrootcert=...), pool the most
 * connections this server opens (1-64; 0: 16). Any number of account
 * servers may share one database; they must share the data directory's
 * server key too. The database is reached and its schema brought up to
 * date now: OPC_ERR_IO when it cannot be reached, OPC_ERR_UNSUPPORTED when
 * its schema is newer than this library; errbuf says why (never the
 * password). Since 0.2.0.
 */
OPC_API OPC_NODISCARD opc_err opc_accountd_set_database(opc_accountd *s, const char *conninfo,
                                                        int pool, char *errbuf,
                                                        size_t errbuf_len);
/* The HTTPS certificate from PEM files (chain leaf first, key RSA or EC),
 * loaded and checked now; as opc_api_set_tls_files(). Since 0.2.0. */
OPC_API OPC_NODISCARD opc_err opc_accountd_set_tls_files(opc_accountd *s, const char *cert_file,
                                                         const char *key_file, char *errbuf,
                                                         size_t errbuf_len);
/* The HTTPS certificate from ACME (TLS-ALPN-01 on the HTTPS port), its
 * state in <data dir>/acme/; arguments as opc_api_set_acme(). Since 0.2.0. */
OPC_API OPC_NODISCARD opc_err opc_accountd_set_acme(opc_accountd *s, const char *domain,
                                                    const char *directory_url, const char *ca_file,
                                                    const char *email, char *errbuf,
                                                    size_t errbuf_len);

/*
 * opc_accountd_start - listen and serve. Refuses (OPC_ERR_INVALID_ARG,
 * "plain HTTP ...") a plain HTTP port on a bind address other than a
 * loopback one, and a server with neither HTTPS nor plain HTTP. OPC_ERR_IO
 * "cannot listen on ADDR:PORT[: why]". Since 0.2.0.
 */
OPC_API OPC_NODISCARD opc_err opc_accountd_start(opc_accountd *s, char *errbuf, size_t errbuf_len);
/* The bound ports, or -1 (not running, or that listener is off). Since 0.2.0. */
OPC_API int opc_accountd_http_port(const opc_accountd *s);
OPC_API int opc_accountd_https_port(const opc_accountd *s);
/* Re-read the certificate files or ACME state (SIGHUP). Since 0.2.0. */
OPC_API OPC_NODISCARD opc_err opc_accountd_tls_reload(opc_accountd *s);
/*
 * opc_accountd_stop - stop listening: every long poll ends at once
 * with an empty page, requests in progress finish. A stopped server is
 * not started again (start: OPC_ERR_INVALID_ARG); free it. Since 0.2.0.
 */
OPC_API void opc_accountd_stop(opc_accountd *s);
/* Stop, wipe the keys and sessions, free; NULL is a no-op. Since 0.2.0. */
OPC_API void opc_accountd_free(opc_accountd *s);

/*
 * opc_accountd_pin - the pin of the server key in data_dir (its RFC
 * 7638 thumbprint, OPC_ACCOUNTD_PIN_LEN characters, into out of at
 * least OPC_ACCOUNTD_PIN_LEN + 1 bytes), creating the key as
 * opc_accountd_create() does when it is missing. The value of
 * accountServerPin in the credentials of the Connect servers. Since 0.2.0.
 */
OPC_API OPC_NODISCARD opc_err opc_accountd_pin(const char *data_dir, char *out, size_t out_len,
                                               char *errbuf, size_t errbuf_len) OPC_NONNULL(1, 2);

/*
 * opc_accountd_probe - GET /heartbeat on host:port over TLS (tls
 * nonzero) or plain HTTP, within timeout_ms: OPC_OK on a 200. For a
 * daemon's --healthcheck: the certificate is not verified (the probe
 * carries and receives nothing secret; it asks whether the local instance
 * answers). OPC_ERR_IO otherwise. Since 0.2.0.
 */
OPC_API OPC_NODISCARD opc_err opc_accountd_probe(const char *host, int port, int tls,
                                                 int timeout_ms) OPC_NONNULL(1);

#ifdef __cplusplus
}
#endif

#endif
