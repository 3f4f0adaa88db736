/*
 * connect-api/tls_env.h - the HTTPS variables of connect-api (docs/tls.md).
 */
#ifndef CONNECT_API_TLS_ENV_H
#define CONNECT_API_TLS_ENV_H

#include <stddef.h>

#include <opconnect/opconnect.h>

/*
 * Read OP_HTTPS_PORT, OP_TLS_CERT_FILE, OP_TLS_KEY_FILE,
 * OP_TLS_USE_LETSENCRYPT, OP_TLS_DOMAIN, OP_ACME_DIRECTORY_URL,
 * OP_ACME_CA_FILE and OP_ACME_EMAIL and configure api. cache_path is the
 * cache file: ACME state lives in its directory. On a bad value: an error
 * with one line in err naming the variable.
 */
opc_err tls_env_apply(opc_api *api, const char *cache_path, char *err, size_t err_len);

#endif
