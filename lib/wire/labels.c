/*
 * wire/labels.c - the strings bound into ciphertexts and signatures
 * (labels.h). Each label's text is written here and nowhere else in lib/.
 */
#include "wire/labels.h"

#include <stdarg.h>
#include <stdio.h>

#include "core/id.h"

#define CREDENTIALS_OUTER "opconnect/credentials/v2|outer|"
#define CREDENTIALS_INNER "opconnect/credentials/v2|inner|"

_Static_assert(sizeof CREDENTIALS_OUTER == sizeof CREDENTIALS_INNER,
               "both credentials AAD prefixes have one length");
_Static_assert(sizeof CREDENTIALS_OUTER - 1 + OPC_ID_LEN == OPC_WIRE_CREDENTIALS_AAD_LEN,
               "OPC_WIRE_CREDENTIALS_AAD_LEN is the length of a credentials AAD");

static opc_err put(char *out, size_t cap, const char *fmt, ...) OPC_PRINTF(3, 4);

static opc_err put(char *out, size_t cap, const char *fmt, ...)
{
    if (cap == 0) {
        return OPC_ERR_TOO_LARGE;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return OPC_ERR_TOO_LARGE;
    }
    return OPC_OK;
}

const char *opc__wire_item_part_name(opc__wire_item_part part)
{
    return part == OPC_WIRE_ITEM_DETAILS ? "details" : "overview";
}

opc_err opc__wire_item_aad(char *out, size_t cap, const char *vault_id, const char *item_id,
                           opc__wire_item_part part, int64_t key_sn)
{
    return put(out, cap, "v1|%s|%s|%s|%lld", vault_id, item_id, opc__wire_item_part_name(part),
               (long long)key_sn);
}

opc_err opc__wire_vault_attrs_aad(char *out, size_t cap, const char *vault_id, int64_t key_sn)
{
    return put(out, cap, "opconnect/vault/v1|%s|attrs|%lld", vault_id, (long long)key_sn);
}

opc_err opc__wire_vault_key_label(char *out, size_t cap, const char *vault_id, int64_t key_sn,
                                  const char *accessor_id)
{
    return put(out, cap, "opconnect/vaultkey/v1|%s|%lld|%s", vault_id, (long long)key_sn,
               accessor_id);
}

opc_err opc__wire_grant_message(char *out, size_t cap, const opc__wire_grant *g)
{
    return put(out, cap, "opconnect/grant/v1|%s|%s|%s|%s|%lld|%u|%lld|%s", g->account_id,
               g->vault_id, g->accessor_type, g->accessor_id, (long long)g->key_sn, g->acl,
               (long long)g->granted, g->key_hash);
}

opc_err opc__wire_server_record_aad(char *out, size_t cap, const char *server_id)
{
    return put(out, cap, "opconnect/server/v1|%s", server_id);
}

opc_err opc__wire_server_key_message(opc__buf *b, opc__wire_server_key which,
                                     const char *account_id, const char *server_id, const char *jwk)
{
    const char *prefix =
        which == OPC_WIRE_SERVER_ENC_KEY ? "opconnect/serverkey/v1" : "opconnect/device/v1";
    (void)opc__buf_appendf(b, "%s|%s|%s|", prefix, account_id, server_id);
    (void)opc__buf_append_str(b, jwk);
    return opc__buf_err(b);
}

opc_err opc__wire_session_aad(char *out, size_t cap, const char *account_id, int64_t exp)
{
    return put(out, cap, "opconnect/session/v1|%s|%lld", account_id, (long long)exp);
}

opc_err opc__wire_remote_session_aad(char *out, size_t cap, const char *account_id, int64_t exp,
                                     const char *address)
{
    return put(out, cap, "opconnect/owner-session/v1|%s|%lld|%s", account_id, (long long)exp,
               address);
}

opc_err opc__wire_account_key_aad(char *out, size_t cap, opc__wire_account_key which,
                                  const char *account_id)
{
    const char *part = which == OPC_WIRE_ACCOUNT_RSA    ? "rsa"
                       : which == OPC_WIRE_ACCOUNT_SIGN ? "sign"
                                                        : "keyset";
    return put(out, cap, "opconnect/account/v1|%s|%s", part, account_id);
}

opc_err opc__wire_credentials_aad(char *out, size_t cap, opc__wire_credentials_layer layer,
                                  const char *device_uuid)
{
    return put(out, cap, "%s%s",
               layer == OPC_WIRE_CREDENTIALS_INNER ? CREDENTIALS_INNER : CREDENTIALS_OUTER,
               device_uuid);
}

opc_err opc__wire_file_chunk_aad(char *out, size_t cap, const char *file_id, uint32_t i, bool last)
{
    return put(out, cap, "f1|%s|%u|%d", file_id, (unsigned)i, last ? 1 : 0);
}
