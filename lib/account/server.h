/*
 * account/server.h - what the account offers to the module above it that
 * provisions a Connect server (lib/provision): the server is made here, its
 * credentials file there, so that the account never writes one itself.
 */
#ifndef OPC_ACCOUNT_SERVER_H
#define OPC_ACCOUNT_SERVER_H

#include <opconnect/account.h>

#include "core/err.h"
#include "crypto/key.h"
#include "internal.h"

/* The length of a server's bearer secret T, in bytes. */
#define OPC_ACCOUNT_SERVER_SECRET_LEN 32

/* What a new server's credentials file is made of, valid during the call
 * of the opc__acct_creds_fn that receives it. */
typedef struct opc__acct_new_server {
    const char *server_id;      /* 26-char id */
    const char *account_id;     /* 26-char id */
    const char *service_url;    /* the upstream given, or the account file's path */
    const char *upstream_pin;   /* the account server's key pin, or NULL */
    const opc__key *device_key; /* EC P-256 private (signs) */
    const opc__key *issuer_key; /* the account's signing key, public */
    const opc__key *enc_key;    /* RSA private (unwraps) */
    const opc__key *sym_key;    /* oct */
    const uint8_t *T;           /* OPC_ACCOUNT_SERVER_SECRET_LEN bytes */
} opc__acct_new_server;

/* Make the credentials file of s: *out (secret: opc__secret_free(*out,
 * *out_len)) on success; eb says why not. */
typedef opc_err (*opc__acct_creds_fn)(const opc__acct_new_server *s, char **out, size_t *out_len,
                                      opc__ebuf *eb);

/*
 * opc_account_server_create() (<opconnect/account.h>) with the credentials
 * file made by `creds`, called once the server's keys exist and before
 * anything is stored: when it fails, nothing is. Arguments, errors and the
 * account's last error as opc_account_server_create()'s.
 */
opc_err opc__acct_server_create(opc_account *a, const char *name, const char *const *vaults,
                                size_t n_vaults, const char *upstream, const char *upstream_pin,
                                opc__acct_creds_fn creds,
                                char **out_json, opc_secret **out_credentials);

#endif
