/*
 * provision/server.c - provisioning a Connect server: the account makes
 * the server (account/server.h) and the credentials file it is handed is
 * made here (credentials/credentials.h). This is the one place that
 * composes the two; neither includes the other.
 */
#include "internal.h"

#include <opconnect/account.h>

#include "account/server.h"
#include "core/err.h"
#include "credentials/credentials.h"

_Static_assert(OPC_ACCOUNT_SERVER_SECRET_LEN == OPC_CREDENTIALS_SECRET_LEN,
               "the account's bearer secret is the credentials file's");

/* opc__acct_creds_fn: the file names the account's signing key as its one
 * issuer; the account server's key pin when given; a device UUID of its
 * own. */
static opc_err make_credentials(const opc__acct_new_server *s, char **out, size_t *out_len,
                                opc__ebuf *eb)
{
    const opc__key *issuers[1] = {s->issuer_key};
    opc__credentials_params p = {
        .server_id = s->server_id,
        .account_id = s->account_id,
        .service_url = s->service_url,
        .account_server_pin = s->upstream_pin,
        .device_key = s->device_key,
        .issuer_keys = issuers,
        .n_issuer_keys = 1,
        .enc_key = s->enc_key,
        .sym_key = s->sym_key,
        .device_uuid = NULL,
    };
    opc_err rc = opc__credentials_create(&p, s->T, out, out_len, eb);
    if (rc != OPC_OK) {
        opc__ebuf_prefix(eb, "cannot create the credentials file");
    }
    return rc;
}

opc_err opc_account_server_create(opc_account *a, const char *name, const char *const *vaults,
                                  size_t n_vaults, const char *upstream, char **out_json,
                                  opc_secret **out_credentials)
{
    return opc__acct_server_create(a, name, vaults, n_vaults, upstream, NULL, make_credentials,
                                   out_json, out_credentials);
}

opc_err opc_account_server_create2(opc_account *a, const char *name, const char *const *vaults,
                                   size_t n_vaults, const char *upstream, const char *upstream_pin,
                                   char **out_json, opc_secret **out_credentials)
{
    return opc__acct_server_create(a, name, vaults, n_vaults, upstream, upstream_pin,
                                   make_credentials, out_json, out_credentials);
}
