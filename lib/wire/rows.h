/*
 * wire/rows.h - the upstream protocol's messages: the state rows a Connect
 * server mirrors and the item write it makes, each with ONE encoder (the
 * producer: lib/account/export.c now, the network account server later)
 * and ONE strict decoder (the consumer: lib/sync, the cache's
 * write-through, the https:// backend later).
 *
 * Every message is a JSON object; its members are named as the cache's
 * columns (cache/cache.h), and these names are the protocol:
 *
 *   issuer key   {"kid","jwk","seq"}
 *   access       {"vault_id","key_sn","enc_key","acl","granted","grant_sig","seq"}
 *   vault        {"id","type","key_sn","attrs","attr_version","content_version","items",
 *                 "created","updated","seq"}
 *   item         {"id","vault_id","version","state","key_sn","overview","details",
 *                 "created","updated","last_edited_by","seq"}
 *   file chunk   {"file_id","idx","item_id","vault_id","blob"}
 *   token        {"jti","server_id","name","scopes","created","expires","state",
 *                 "updated","seq"}
 *   item write   {"vault_id","item_id","expected_version","key_sn","overview","details"}
 *
 * Types: ids are 26-character base32 strings (core/id.h); last_edited_by is
 * a string of at most OPC_ID_LEN characters (an id upper-cased); a chunk's
 * blob is the chunk's bytes in base64url without padding; every other
 * string is text (JSON text of envelopes, JWKs, scopes; key material in
 * b64url). Integers are whole numbers from 0 to 2^53 - 1, with narrower
 * ranges where a member has one: key_sn >= 1, an item's version >= 1, acl
 * 0..0xffffffff, idx 0..2^31 - 1; expires 0 means none. An item's overview
 * and details may be null only in a tombstone (state "deleted"); state is
 * "active" or "deleted", a token's "active" or "revoked".
 *
 * Decoders reject a message that is not an object, lacks a member or has
 * one of the wrong type or range: OPC_ERR_PARSE, "malformed <message>:
 * \"<member>\" ..." (names only, never a value). Members beyond these are
 * ignored (a newer producer may add some). Decoded strings are BORROWED
 * from the JSON object: valid while it lives. Encoders check the same rules
 * (a producer can never send what its consumer refuses: OPC_ERR_INVALID_ARG
 * naming the member) and return a new object (*out, cJSON_Delete);
 * OPC_ERR_NOMEM.
 */
#ifndef OPC_WIRE_ROWS_H
#define OPC_WIRE_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "core/id.h"
#include "internal.h"

typedef struct opc__wire_issuer_key {
    char kid[OPC_ID_LEN + 1];
    char *jwk; /* public JWK, JSON text */
    int64_t seq;
} opc__wire_issuer_key;

/* A Connect server's grant for a vault. */
typedef struct opc__wire_access {
    char vault[OPC_ID_LEN + 1];
    int64_t key_sn;
    char *enc_key; /* b64url of the RSA-OAEP-256 wrapped vault key */
    int64_t acl;
    int64_t granted; /* Unix s */
    char *grant_sig; /* b64url ES256 signature (account/schema.c) */
    int64_t seq;
} opc__wire_access;

typedef struct opc__wire_vault {
    char id[OPC_ID_LEN + 1];
    char *type; /* "USER_CREATED", ... as upstream */
    int64_t key_sn;
    char *attrs; /* envelope JSON text */
    int64_t attr_version;
    int64_t content_version;
    int64_t items;
    int64_t created; /* Unix s */
    int64_t updated; /* Unix s */
    int64_t seq;
} opc__wire_vault;

typedef struct opc__wire_item {
    char id[OPC_ID_LEN + 1];
    char vault[OPC_ID_LEN + 1];
    int64_t version;
    char *state; /* "active" | "deleted" */
    int64_t key_sn;
    char *overview;  /* envelope JSON text; NULL in a tombstone */
    char *details;   /* envelope JSON text; NULL in a tombstone (and in the cache's walks
                        without details) */
    int64_t created; /* Unix s */
    int64_t updated; /* Unix s */
    char last_edited_by[OPC_ID_LEN + 1];
    int64_t seq;
} opc__wire_item;

typedef struct opc__wire_chunk {
    char file[OPC_ID_LEN + 1];
    char item[OPC_ID_LEN + 1];
    char vault[OPC_ID_LEN + 1];
    int64_t idx;
    const void *blob; /* the chunk's bytes (ciphertext || tag) */
    size_t len;
} opc__wire_chunk;

typedef struct opc__wire_token {
    char jti[OPC_ID_LEN + 1];
    char server[OPC_ID_LEN + 1];
    char *name;
    char *scopes;    /* JSON text [{"u": vaultId, "a": acl}] */
    int64_t created; /* Unix s */
    int64_t expires; /* Unix s; 0 = never */
    char *state;     /* "active" | "revoked" */
    int64_t updated;
    int64_t seq;
} opc__wire_token;

/* An item write by a Connect server (account/import.h; the strings are borrowed). */
typedef struct opc__item_write {
    const char *vault_id;
    const char *item_id;      /* create: chosen by the caller (opc__id_generate) */
    int64_t expected_version; /* 0: create; > 0: replace the item at exactly this version */
    int64_t key_sn;           /* the vault key serial the envelopes are sealed under */
    const char *overview;     /* envelope JSON text */
    const char *details;      /* envelope JSON text */
} opc__item_write;

opc_err opc__wire_issuer_key_encode(const opc__wire_issuer_key *r, cJSON **out, opc__ebuf *eb);
opc_err opc__wire_issuer_key_decode(const cJSON *o, opc__wire_issuer_key *out, opc__ebuf *eb);
opc_err opc__wire_access_encode(const opc__wire_access *r, cJSON **out, opc__ebuf *eb);
opc_err opc__wire_access_decode(const cJSON *o, opc__wire_access *out, opc__ebuf *eb);
opc_err opc__wire_vault_encode(const opc__wire_vault *r, cJSON **out, opc__ebuf *eb);
opc_err opc__wire_vault_decode(const cJSON *o, opc__wire_vault *out, opc__ebuf *eb);
opc_err opc__wire_item_encode(const opc__wire_item *r, cJSON **out, opc__ebuf *eb);
opc_err opc__wire_item_decode(const cJSON *o, opc__wire_item *out, opc__ebuf *eb);
/* The decoded blob is new memory: *blob (== out->blob; opc__free), NULL on failure. */
opc_err opc__wire_chunk_encode(const opc__wire_chunk *r, cJSON **out, opc__ebuf *eb);
opc_err opc__wire_chunk_decode(const cJSON *o, opc__wire_chunk *out, unsigned char **blob,
                               opc__ebuf *eb);
opc_err opc__wire_token_encode(const opc__wire_token *r, cJSON **out, opc__ebuf *eb);
opc_err opc__wire_token_decode(const cJSON *o, opc__wire_token *out, opc__ebuf *eb);
opc_err opc__wire_item_write_encode(const opc__item_write *r, cJSON **out, opc__ebuf *eb);
opc_err opc__wire_item_write_decode(const cJSON *o, opc__item_write *out, opc__ebuf *eb);

#endif
