/*
 * daemons/common/tls_env.c - HTTPS from the environment, for connect-api
 * and op-account-server (docs/tls.md, docs/configuration.md):
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

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"

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

void tls_env_read(tls_env *t)
{
    t->https_port = dmn_env("OP_HTTPS_PORT") != NULL ? dmn_env_port("OP_HTTPS_PORT", -1) : -1;
    t->cert_file = dmn_env("OP_TLS_CERT_FILE");
    t->key_file = dmn_env("OP_TLS_KEY_FILE");
    t->letsencrypt = dmn_env("OP_TLS_USE_LETSENCRYPT");
    t->domain = dmn_env("OP_TLS_DOMAIN");
    if (t->cert_file == NULL && t->key_file != NULL) {
        dmn_bad("OP_TLS_CERT_FILE", "not set, but OP_TLS_KEY_FILE is (set both or neither)");
    }
    if (t->cert_file != NULL && t->key_file == NULL) {
        dmn_bad("OP_TLS_KEY_FILE", "not set, but OP_TLS_CERT_FILE is (set both or neither)");
    }
    if (t->cert_file != NULL && t->letsencrypt != NULL) {
        dmn_bad("OP_TLS_USE_LETSENCRYPT",
                "cannot be combined with OP_TLS_CERT_FILE and OP_TLS_KEY_FILE");
    }
    if (t->letsencrypt != NULL && t->domain == NULL) {
        dmn_bad("OP_TLS_DOMAIN", "required with OP_TLS_USE_LETSENCRYPT");
    }
}

int tls_env_https_port(const tls_env *t)
{
    if (t->cert_file == NULL && t->letsencrypt == NULL) {
        return -1;
    }
    return t->https_port >= 0 ? t->https_port : OPC_API_DEFAULT_HTTPS_PORT;
}

opc_err tls_env_apply(const tls_env_target *target, const tls_env *t, const char *data_dir,
                      char *err, size_t err_len)
{
    char msg[OPC_ERRBUF_SIZE];
    if (t->https_port >= 0 && target->set_https_port(target->obj, t->https_port) != OPC_OK) {
        (void)snprintf(err, err_len, "OP_HTTPS_PORT: not a port number (0-65535)");
        return OPC_ERR_INVALID_ARG;
    }
    if (t->cert_file != NULL) {
        opc_err rc = target->set_files(target->obj, t->cert_file, t->key_file, msg, sizeof msg);
        if (rc != OPC_OK) {
            (void)snprintf(err, err_len, "%s: %s",
                           starts(msg, "key file") ? "OP_TLS_KEY_FILE" : "OP_TLS_CERT_FILE", msg);
        }
        return rc;
    }
    if (t->letsencrypt == NULL) {
        return OPC_OK; /* no HTTPS */
    }
    opc_err rc = target->set_acme(target->obj, t->domain, dmn_env("OP_ACME_DIRECTORY_URL"),
                                  dmn_env("OP_ACME_CA_FILE"), dmn_env("OP_ACME_EMAIL"), data_dir,
                                  msg, sizeof msg);
    if (rc != OPC_OK) {
        (void)snprintf(err, err_len, "%s: %s", acme_var(msg), msg);
    }
    return rc;
}
