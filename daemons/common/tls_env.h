/*
 * daemons/common/tls_env.h - the HTTPS variables of connect-api and
 * op-account-server (docs/tls.md): read and checked once, applied to
 * either server through its setters (tls_env_target).
 */
#ifndef DAEMON_TLS_ENV_H
#define DAEMON_TLS_ENV_H

#include <stddef.h>

#include <opconnect/opconnect.h>

typedef struct tls_env {
    int https_port;          /* OP_HTTPS_PORT, or -1 when unset */
    const char *cert_file;   /* OP_TLS_CERT_FILE */
    const char *key_file;    /* OP_TLS_KEY_FILE */
    const char *letsencrypt; /* OP_TLS_USE_LETSENCRYPT */
    const char *domain;      /* OP_TLS_DOMAIN */
} tls_env;

/* The HTTPS variables in the daemons' --help (dmn_prog.env). */
#define TLS_ENV_HELP                                                                               \
    "  OP_HTTPS_PORT       the HTTPS port, 0-65535, with a certificate or ACME\n"                  \
    "                      (default 8443)\n"                                                       \
    "  OP_TLS_CERT_FILE    HTTPS with this PEM chain, leaf first; with\n"                          \
    "                      OP_TLS_KEY_FILE (default none: no HTTPS)\n"                             \
    "  OP_TLS_KEY_FILE     the PEM key (RSA or EC) of OP_TLS_CERT_FILE (default none)\n"           \
    "  OP_TLS_USE_LETSENCRYPT  any value: the certificate from ACME (default unset)\n"             \
    "  OP_TLS_DOMAIN       the name to certify, required with ACME (default none)\n"               \
    "  OP_ACME_DIRECTORY_URL  the ACME directory, https:// (default Let's Encrypt's)\n"            \
    "  OP_ACME_CA_FILE     PEM trust for the ACME directory's TLS (default the\n"                  \
    "                      system's)\n"                                                            \
    "  OP_ACME_EMAIL       the ACME account's contact (default none)\n"

/*
 * Read OP_HTTPS_PORT, OP_TLS_CERT_FILE, OP_TLS_KEY_FILE,
 * OP_TLS_USE_LETSENCRYPT and OP_TLS_DOMAIN and check what needs no
 * library: a bad port, one file of the pair, ACME with a certificate or
 * without a domain stop start-up with one line naming the variable
 * (dmn_bad, before dmn_open).
 */
void tls_env_read(tls_env *t);

/* The HTTPS port connect-api will listen on, or -1 without HTTPS (neither
 * a certificate nor ACME). */
int tls_env_https_port(const tls_env *t);

/* The setters of the server the variables configure (opc_api,
 * opc_account_server), with obj as their first argument. */
typedef struct tls_env_target {
    void *obj;
    opc_err (*set_https_port)(void *obj, int port);
    opc_err (*set_files)(void *obj, const char *cert_file, const char *key_file, char *errbuf,
                         size_t errbuf_len);
    /* data_dir: where the ACME state lives. */
    opc_err (*set_acme)(void *obj, const char *domain, const char *directory_url,
                        const char *ca_file, const char *email, const char *data_dir,
                        char *errbuf, size_t errbuf_len);
} tls_env_target;

/*
 * Configure the target from t and OP_ACME_DIRECTORY_URL, OP_ACME_CA_FILE
 * and OP_ACME_EMAIL: certificate files are loaded and checked, ACME
 * settings checked, its state in data_dir. On failure: the error, with one
 * line in err naming the variable.
 */
opc_err tls_env_apply(const tls_env_target *target, const tls_env *t, const char *data_dir,
                      char *err, size_t err_len);

#endif
