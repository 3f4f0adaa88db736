/*
 * The upstream protocol's message decoders (wire/rows.h), each fed the
 * same input parsed as JSON (size and depth limited). Properties: a
 * refusal is OPC_ERR_PARSE (or NOMEM) and leaves no decoded blob; what a
 * decoder accepts its encoder sends again, and that encoding decodes and
 * encodes to the same JSON (one definition, both directions agree).
 */
#include "internal.h"

#include "fuzz_common.h"

#include "core/alloc.h"
#include "core/json.h"
#include "wire/rows.h"

FUZZ_DEFINE_DEFAULT_INITIALIZE

typedef union row {
    opc__wire_issuer_key issuer_key;
    opc__wire_access access;
    opc__wire_vault vault;
    opc__wire_item item;
    opc__wire_chunk chunk;
    opc__wire_token token;
    opc__item_write write;
} row;

typedef struct codec {
    opc_err (*decode)(const cJSON *o, row *r, unsigned char **blob);
    opc_err (*encode)(const row *r, cJSON **out);
} codec;

#define CODEC(name, member)                                                                        \
    static opc_err dec_##name(const cJSON *o, row *r, unsigned char **blob)                        \
    {                                                                                              \
        *blob = NULL;                                                                              \
        return opc__wire_##name##_decode(o, &r->member, NULL);                                     \
    }                                                                                              \
    static opc_err enc_##name(const row *r, cJSON **out)                                           \
    {                                                                                              \
        return opc__wire_##name##_encode(&r->member, out, NULL);                                   \
    }

CODEC(issuer_key, issuer_key)
CODEC(access, access)
CODEC(vault, vault)
CODEC(item, item)
CODEC(token, token)
CODEC(item_write, write)

static opc_err dec_chunk(const cJSON *o, row *r, unsigned char **blob)
{
    return opc__wire_chunk_decode(o, &r->chunk, blob, NULL);
}

static opc_err enc_chunk(const row *r, cJSON **out)
{
    return opc__wire_chunk_encode(&r->chunk, out, NULL);
}

static const codec codecs[] = {
    {dec_issuer_key, enc_issuer_key}, {dec_access, enc_access},
    {dec_vault, enc_vault},           {dec_item, enc_item},
    {dec_chunk, enc_chunk},           {dec_token, enc_token},
    {dec_item_write, enc_item_write},
};

static void check(const codec *c, const cJSON *in)
{
    row r;
    unsigned char *blob = NULL;
    opc_err rc = c->decode(in, &r, &blob);
    if (rc != OPC_OK) {
        if ((rc != OPC_ERR_PARSE && rc != OPC_ERR_NOMEM) || blob != NULL) {
            abort();
        }
        return;
    }
    cJSON *once = NULL;
    if (c->encode(&r, &once) != OPC_OK) {
        abort(); /* accepted, so it can be sent */
    }
    row again;
    unsigned char *blob2 = NULL;
    cJSON *twice = NULL;
    if (c->decode(once, &again, &blob2) != OPC_OK || c->encode(&again, &twice) != OPC_OK ||
        !cJSON_Compare(once, twice, 1)) {
        abort();
    }
    cJSON_Delete(twice);
    cJSON_Delete(once);
    opc__free(blob2);
    opc__free(blob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *j = NULL;
    opc__json_limits lim = {.max_size = 1 << 20, .max_depth = 8};
    if (opc__json_parse((const char *)data, size, &lim, &j, NULL) != OPC_OK) {
        return 0;
    }
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++) {
        check(&codecs[i], j);
    }
    cJSON_Delete(j);
    return 0;
}
