/*
 * connect-api/tls_env.c - HTTPS from the environment (docs/tls.md,
 * docs/configuration.md):
 *
 *   OP_HTTPS_PORT           HTTPS port (default 8443; 0 picks a free one)
 *   OP_TLS_CERT_FILE        PEM chain, leaf first   } both or neither
 *   OP_TLS_KEY_FILE         PEM key (RSA or EC)     }
 *   OP_TLS_USE_LETSENCRYPT  any non-empty value: certificate from ACME
 *   OP_TLS_DOMAIN           the name to certify (required with ACME)
 *   OP_ACME_DIRECTORY_URL   default Let's Encrypt production
 *   OP_ACME_CA_FILE         PEM trust for the directory's own TLS
 *   OP_ACME_EMAIL           account contact
 *
 * Without a certificate or ACME only plain HTTP is served. Errors are one
 * line naming the variable.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "tls_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The variable's value, NULL when unset or empty. */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static opc_err bad(char *err, size_t len, const char *name, const char *why)
{
    snprintf(err, len, "%s: %s", name, why);
    return OPC_ERR_INVALID_ARG;
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Which variable an error of opc_api_set_acme() is about. */
static const char *acme_var(const char *msg)
{
    if (starts(msg, "directory URL")) {
        return "OP_ACME_DIRECTORY_URL";
    }
    if (starts(msg, "CA file")) {
        return "OP_ACME_CA_FILE";
    }
    if (starts(msg, "email")) {
        return "OP_ACME_EMAIL";
    }
    if (starts(msg, "data directory")) {
        return "XDG_DATA_HOME";
    }
    return "OP_TLS_DOMAIN";
}

opc_err tls_env_apply(opc_api *api, const char *cache_path, char *err, size_t err_len)
{
    const char *port = env("OP_HTTPS_PORT");
    const char *cert = env("OP_TLS_CERT_FILE");
    const char *key = env("OP_TLS_KEY_FILE");
    const char *le = env("OP_TLS_USE_LETSENCRYPT");
    const char *domain = env("OP_TLS_DOMAIN");
    char msg[OPC_ERRBUF_SIZE];
    if (port != NULL) {
        long v = 0;
        for (const char *p = port; v <= 65535 && *p != '\0'; p++) {
            v = *p >= '0' && *p <= '9' && p - port < 6 ? v * 10 + (*p - '0') : 65536;
        }
        if (v > 65535 || opc_api_set_https_port(api, (int)v) != OPC_OK) {
            return bad(err, err_len, "OP_HTTPS_PORT", "not a port number (0-65535)");
        }
    }
    if ((cert == NULL) != (key == NULL)) {
        return bad(err, err_len, cert == NULL ? "OP_TLS_CERT_FILE" : "OP_TLS_KEY_FILE",
                   cert == NULL ? "not set, but OP_TLS_KEY_FILE is (set both or neither)"
                                : "not set, but OP_TLS_CERT_FILE is (set both or neither)");
    }
    if (cert != NULL && le != NULL) {
        return bad(err, err_len, "OP_TLS_USE_LETSENCRYPT",
                   "cannot be combined with OP_TLS_CERT_FILE and OP_TLS_KEY_FILE");
    }
    if (cert != NULL) {
        opc_err rc = opc_api_set_tls_files(api, cert, key, msg, sizeof msg);
        if (rc != OPC_OK) {
            snprintf(err, err_len, "%s: %s",
                     starts(msg, "key file") ? "OP_TLS_KEY_FILE" : "OP_TLS_CERT_FILE", msg);
        }
        return rc;
    }
    if (le == NULL) {
        return OPC_OK; /* plain HTTP only */
    }
    if (domain == NULL) {
        return bad(err, err_len, "OP_TLS_DOMAIN", "required with OP_TLS_USE_LETSENCRYPT");
    }
    char dir[4096];
    const char *slash = strrchr(cache_path, '/');
    size_t n = slash != NULL ? (size_t)(slash - cache_path) : 0;
    if (n == 0 || n >= sizeof dir) {
        return bad(err, err_len, "XDG_DATA_HOME", "no usable data directory");
    }
    memcpy(dir, cache_path, n);
    dir[n] = '\0';
    opc_err rc = opc_api_set_acme(api, domain, env("OP_ACME_DIRECTORY_URL"),
                                  env("OP_ACME_CA_FILE"), env("OP_ACME_EMAIL"), dir, msg,
                                  sizeof msg);
    if (rc != OPC_OK) {
        snprintf(err, err_len, "%s: %s", acme_var(msg), msg);
    }
    return rc;
}
