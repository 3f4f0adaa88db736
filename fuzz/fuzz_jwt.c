/*
 * Connect token validation. The pinned issuer is FUZZ_ISSUER_JWK, so seeds
 * signed with it get past the signature to the claim checks. The clock is
 * fixed so that runs are reproducible.
 */
#include "internal.h"

#include "fuzz_common.h"

#include "crypto/jwt.h"
#include "crypto/key.h"

static opc__key *issuer;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_library();
    opc__key *priv = NULL;
    if (opc__jwk_parse(FUZZ_ISSUER_JWK, strlen(FUZZ_ISSUER_JWK), 0, &priv, NULL) != OPC_OK ||
        opc__key_public(priv, &issuer) != OPC_OK) {
        abort();
    }
    opc__key_free(priv);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const opc__key *keys[1] = {issuer};
    opc__jwt_expect expect = {
        .keys = keys,
        .n_keys = 1,
        .audience = OPC_JWT_AUDIENCE,
        .sub = "fuzzserveraaaaaaaaaaaaaaaa",
        .auuid = "fuzzaccountaaaaaaaaaaaaaaa",
        .now = 1800000000,
        .leeway = OPC_JWT_LEEWAY_S,
    };
    static opc__jwt_claims claims;
    opc__ebuf eb;
    opc_err rc = opc__jwt_verify((const char *)data, size, &expect, &claims, &eb);
    if (rc == OPC_OK) {
        if (claims.n_vaults > OPC_JWT_MAX_VAULTS || claims.jti[0] == '\0' ||
            (claims.features & ~OPC_JWT_FT_ACTIVITY_LOG) != 0) {
            abort();
        }
    } else if (rc != OPC_ERR_TOKEN || eb.reason <= 0 || eb.reason >= OPC_JWT_REASON_COUNT) {
        abort();
    }
    return 0;
}
