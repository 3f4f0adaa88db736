/*
 * opconnect/api.h - connect-api: the Connect REST API served from the local
 * cache (1password.sqlite) that connect-sync fills.
 *
 * The server starts locked: the credentials' inner layer stays closed until
 * the first request with a valid token of this server (any /v1 route, or
 * /health with a bearer token) unlocks it. Reads are served from the cache;
 * vault names and item summaries are decrypted once into an in-memory index
 * that is refreshed when the cache changes. See docs/API.md ("Connect API")
 * for the routes, the status codes and the logging.
 *
 * The HTTP engine (civetweb) is compiled into the library; the shared
 * library exports none of its symbols (a program may use its own civetweb
 * beside it), the static archive carries them (mg_*). Start and stop
 * servers from one thread at a time.
 *
 * Thread safety: one thread per object at a time (configure, start, stop,
 * free from the thread that owns it); requests are served by civetweb's
 * worker threads.
 */
#ifndef OPCONNECT_API_H
#define OPCONNECT_API_H

#include <stddef.h>
#include <stdint.h>

#include "credentials.h"
#include "error.h"
#include "export.h"
#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct opc_api opc_api;

/* The API version announced in 1Password-Connect-Version and /health. */
#define OPC_API_CONNECT_VERSION OPC_CONNECT_VERSION
/* Defaults of the setters below. */
#define OPC_API_DEFAULT_PORT 8080
#define OPC_API_DEFAULT_THREADS 1280
#define OPC_API_MAX_THREADS 16384
#define OPC_API_DEFAULT_KEEPALIVE_MS 65000
#define OPC_API_DEFAULT_SYNC_TIMEOUT_MS 10000
#define OPC_API_DEFAULT_JWT_LEEWAY_S 5
#define OPC_API_MAX_JWT_LEEWAY_S 300
#define OPC_API_DEFAULT_MAX_INLINE_FILE_KB 100
/* The largest inline limit: the largest file (64 MiB). */
#define OPC_API_MAX_INLINE_FILE_KB 65536
/* The rendered-item cache: 16 MiB holds about 10,000 items of 1.2 KB. */
#define OPC_API_DEFAULT_RENDER_CACHE_BYTES ((size_t)16 * 1024 * 1024)
#define OPC_API_MAX_RENDER_CACHE_BYTES ((size_t)1024 * 1024 * 1024)

/*
 * opc_api_create - a stopped API server.
 *
 * creds: parsed credentials (opc_credentials_load/parse), normally locked;
 * borrowed: it must outlive the server, which unlocks it on the first valid
 * token and locks it again on free. cache_path: the cache file (it need not
 * exist yet; requests wait for it as for the initial sync). Returns
 * OPC_ERR_NOT_INITIALIZED, OPC_ERR_INVALID_ARG, OPC_ERR_NOMEM; errbuf (may
 * be NULL) says why. Thread safety: any thread. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_api_create(opc_credentials *creds, const char *cache_path,
                                             opc_api **out, char *errbuf, size_t errbuf_len)
    OPC_NONNULL(1, 2, 3);

/* Settings, before opc_api_start(); OPC_ERR_INVALID_ARG when out of range or
 * the server runs. Since 0.1.0. */
/* TCP port, 0-65535 (0 picks a free port); default 8080. */
OPC_API OPC_NODISCARD opc_err opc_api_set_http_port(opc_api *api, int port);
/* Numeric IPv4 or IPv6 address to listen on: "0.0.0.0" every IPv4 address
 * (the default), "::" every address of both families. Since 0.1.0. */
OPC_API OPC_NODISCARD opc_err opc_api_set_bind_address(opc_api *api, const char *address);
/* How long a request waits for the initial sync before 408 (0-3600000 ms). */
OPC_API OPC_NODISCARD opc_err opc_api_set_sync_timeout_ms(opc_api *api, int64_t timeout_ms);
/*
 * Clock skew, in seconds, allowed when checking a token's exp, nbf and iat
 * and the token registry's expiry: a token is refused once now - seconds
 * has reached its exp. 0 to OPC_API_MAX_JWT_LEEWAY_S; default
 * OPC_API_DEFAULT_JWT_LEEWAY_S (the daemon reads OP_JWT_LEEWAY). Since
 * 0.2.0.
 */
OPC_API OPC_NODISCARD opc_err opc_api_set_jwt_leeway_s(opc_api *api, int seconds);
/* Worker threads = connections served at once, idle keep-alive ones
 * included (1-OPC_API_MAX_THREADS); default OPC_API_DEFAULT_THREADS. Each
 * costs a thread with a 256 KiB stack (reserved, mostly untouched). */
OPC_API OPC_NODISCARD opc_err opc_api_set_threads(opc_api *api, int threads);
/* How long an idle keep-alive connection waits for its next request
 * (0-3600000 ms; 0 closes after every answer); default
 * OPC_API_DEFAULT_KEEPALIVE_MS. Since 0.1.0. */
OPC_API OPC_NODISCARD opc_err opc_api_set_keepalive_ms(opc_api *api, int keepalive_ms);
/*
 * Largest file, in KiB (1 KB = 1024 bytes), whose content a File object
 * carries inline when a request asks for it (inline_files=true or
 * inline_content=true); a larger file makes such a request 413. 0 to
 * OPC_API_MAX_INLINE_FILE_KB; default OPC_API_DEFAULT_MAX_INLINE_FILE_KB
 * (the daemon reads OP_MAX_INLINE_FILE_SIZE_KB). Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_api_set_max_inline_file_kb(opc_api *api, int kb);
/*
 * Memory, in bytes, for the rendered-item cache: full item responses kept
 * sealed (AES-256-GCM under a per-process key) so that a GET of an
 * unchanged item skips the decrypt and render. Each entry counts its body
 * plus about 190 bytes; when it is full, entries not read lately go
 * first. 0 disables the cache; 0 to OPC_API_MAX_RENDER_CACHE_BYTES; default
 * OPC_API_DEFAULT_RENDER_CACHE_BYTES (the daemon reads OP_RENDER_CACHE_MB;
 * docs/performance.md). Also OPC_ERR_NOMEM, or OPC_ERR_CRYPTO when no key
 * can be drawn. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_api_set_render_cache_bytes(opc_api *api, size_t bytes);

/*
 * HTTPS (docs/tls.md). With a certificate (opc_api_set_tls_files) or ACME
 * (opc_api_set_acme) configured, opc_api_start() also serves HTTPS on the
 * HTTPS port, on the same bind address, next to plain HTTP; TLS 1.2
 * minimum, 1.3 preferred, forward-secret AEAD suites only, full chain
 * sent. The certificate is chosen per handshake, so a replacement (files
 * re-read by opc_api_tls_reload() or the periodic check, or a renewed ACME
 * certificate) reaches new connections while open ones keep theirs.
 * Set before opc_api_start(); the last of the two setters wins.
 */
#define OPC_API_DEFAULT_HTTPS_PORT 8443
/* The ACME directory used when none is given: Let's Encrypt production. */
#define OPC_ACME_DIRECTORY_LETSENCRYPT "https://acme-v02.api.letsencrypt.org/directory"

/* HTTPS port, 0-65535 (0 picks a free port); default 8443. OPC_ERR_NOMEM,
 * OPC_ERR_INVALID_ARG when out of range or running. Since 0.1.0. */
OPC_API OPC_NODISCARD opc_err opc_api_set_https_port(opc_api *api, int port);

/*
 * opc_api_set_tls_files - serve HTTPS with the certificate chain in
 * cert_file (PEM, leaf first, then intermediates) and its private key in
 * key_file (PEM, RSA or EC, unencrypted). Both are read and checked now;
 * errbuf names the file and the problem: OPC_ERR_IO (unreadable),
 * OPC_ERR_PARSE (no PEM data), OPC_ERR_KEY (key and certificate do not
 * match), OPC_ERR_RANGE (certificate expired), OPC_ERR_UNSUPPORTED
 * (encrypted or non-RSA/EC key), OPC_ERR_TOO_LARGE. While serving, the
 * files are read again on opc_api_tls_reload() and when they change on
 * disk (checked every 10 s); a replacement that does not load is logged
 * and the previous certificate stays. The paths are copied. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_api_set_tls_files(opc_api *api, const char *cert_file,
                                                    const char *key_file, char *errbuf,
                                                    size_t errbuf_len) OPC_NONNULL(1, 2, 3);

/*
 * opc_api_set_acme - obtain and renew the certificate for domain from an
 * ACME CA (RFC 8555) with the TLS-ALPN-01 challenge (RFC 8737), answered
 * on the HTTPS listener itself: the CA must reach it on port 443 (forward
 * 443 to the HTTPS port). directory_url: the CA's directory (NULL or "" =
 * OPC_ACME_DIRECTORY_LETSENCRYPT); ca_file: PEM trust anchors for the
 * directory's own TLS (NULL = the system's); email: account contact (may
 * be NULL); data_dir: absolute directory where the account key and the
 * certificate are kept (<data_dir>/acme/, files 0600) and reused across
 * restarts. Only the settings are checked here (OPC_ERR_INVALID_ARG for a
 * bad domain, URL, email or path, OPC_ERR_IO for an unreadable ca_file);
 * the CA is contacted by a background thread of the server, which renews
 * when a third of the lifetime is left, retries failures with backoff and
 * logs them (never stopping the server). Until a certificate exists,
 * HTTPS handshakes fail and plain HTTP works. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_api_set_acme(opc_api *api, const char *domain,
                                               const char *directory_url, const char *ca_file,
                                               const char *email, const char *data_dir,
                                               char *errbuf, size_t errbuf_len)
    OPC_NONNULL(1, 2, 6);

/*
 * opc_api_tls_reload - re-read the certificate files now, or (ACME) reload
 * the stored certificate and check the renewal at once. Returns at once;
 * the work and its log lines happen on the TLS thread. Safe from any
 * thread while the server runs (e.g. a daemon's SIGHUP loop).
 * OPC_ERR_INVALID_ARG when TLS is not configured. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_api_tls_reload(opc_api *api);

/* The bound HTTPS port while serving HTTPS, else -1. Since 0.1.0. */
OPC_API int opc_api_https_port(const opc_api *api);

/*
 * opc_api_start - listen and serve. Returns OPC_OK, OPC_ERR_IO when the
 * port (or the HTTPS port) cannot be bound (errbuf says so),
 * OPC_ERR_INVALID_ARG when already running. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_api_start(opc_api *api, char *errbuf, size_t errbuf_len)
    OPC_NONNULL(1);

/* The bound TCP port while running, else -1. Since 0.1.0. */
OPC_API int opc_api_port(const opc_api *api);

/* Stop serving: finishes the requests in progress (drains), then closes.
 * No-op when stopped. Since 0.1.0. */
OPC_API void opc_api_stop(opc_api *api);

/* Stop, wipe the keys and decrypted data, lock the credentials, release.
 * NULL is a no-op. Since 0.1.0. */
OPC_API void opc_api_free(opc_api *api);

#ifdef __cplusplus
}
#endif

#endif /* OPCONNECT_API_H */
