/*
 * wire/rows.c - the upstream protocol's messages (rows.h): each message is
 * a table of its members, which one encoder and one decoder walk.
 */
#include "internal.h"

#include <stddef.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "crypto/base64.h"
#include "wire/rows.h"

/* Largest integer of a message (2^53 - 1: exact in a JSON number). */
#define INT_MAX53 INT64_C(9007199254740991)

typedef enum ftype {
    F_ID,        /* char[OPC_ID_LEN + 1], a valid id */
    F_NAME,      /* char[OPC_ID_LEN + 1], a string of at most OPC_ID_LEN characters */
    F_TEXT,      /* char *, a string */
    F_TEXT_NULL, /* char *, a string or null */
    F_INT,       /* int64_t in [min, max] */
    F_BLOB,      /* const void * at off, its size_t length at off_len: b64url */
} ftype;

typedef struct field {
    const char *name;
    ftype type;
    size_t off;
    int64_t min;
    int64_t max;
    const char *const *one_of; /* F_TEXT: the only values allowed (NULL: any) */
    size_t off_len;            /* F_BLOB */
} field;

typedef struct message {
    const char *what;
    const field *fields;
    size_t n;
} message;

#define ID(T, m, name)                                                                             \
    {                                                                                              \
        name, F_ID, offsetof(T, m), 0, 0, NULL, 0                                                  \
    }
#define TEXT(T, m, name)                                                                           \
    {                                                                                              \
        name, F_TEXT, offsetof(T, m), 0, 0, NULL, 0                                                \
    }
#define INT(T, m, name, lo, hi)                                                                    \
    {                                                                                              \
        name, F_INT, offsetof(T, m), lo, hi, NULL, 0                                               \
    }
#define COUNT(T, m, name) INT(T, m, name, 0, INT_MAX53)
#define MSG(what, fields)                                                                          \
    {                                                                                              \
        what, fields, sizeof(fields) / sizeof((fields)[0])                                         \
    }

static const char *const item_states[] = {"active", "deleted", NULL};
static const char *const token_states[] = {"active", "revoked", NULL};

static const field issuer_key_fields[] = {
    ID(opc__wire_issuer_key, kid, "kid"),
    TEXT(opc__wire_issuer_key, jwk, "jwk"),
    COUNT(opc__wire_issuer_key, seq, "seq"),
};

static const field access_fields[] = {
    ID(opc__wire_access, vault, "vault_id"),
    INT(opc__wire_access, key_sn, "key_sn", 1, INT_MAX53),
    TEXT(opc__wire_access, enc_key, "enc_key"),
    INT(opc__wire_access, acl, "acl", 0, INT64_C(0xffffffff)),
    COUNT(opc__wire_access, granted, "granted"),
    TEXT(opc__wire_access, grant_sig, "grant_sig"),
    COUNT(opc__wire_access, seq, "seq"),
};

static const field vault_fields[] = {
    ID(opc__wire_vault, id, "id"),
    TEXT(opc__wire_vault, type, "type"),
    INT(opc__wire_vault, key_sn, "key_sn", 1, INT_MAX53),
    TEXT(opc__wire_vault, attrs, "attrs"),
    COUNT(opc__wire_vault, attr_version, "attr_version"),
    COUNT(opc__wire_vault, content_version, "content_version"),
    COUNT(opc__wire_vault, items, "items"),
    COUNT(opc__wire_vault, created, "created"),
    COUNT(opc__wire_vault, updated, "updated"),
    COUNT(opc__wire_vault, seq, "seq"),
};

static const field item_fields[] = {
    ID(opc__wire_item, id, "id"),
    ID(opc__wire_item, vault, "vault_id"),
    INT(opc__wire_item, version, "version", 1, INT_MAX53),
    {"state", F_TEXT, offsetof(opc__wire_item, state), 0, 0, item_states, 0},
    INT(opc__wire_item, key_sn, "key_sn", 1, INT_MAX53),
    {"overview", F_TEXT_NULL, offsetof(opc__wire_item, overview), 0, 0, NULL, 0},
    {"details", F_TEXT_NULL, offsetof(opc__wire_item, details), 0, 0, NULL, 0},
    COUNT(opc__wire_item, created, "created"),
    COUNT(opc__wire_item, updated, "updated"),
    {"last_edited_by", F_NAME, offsetof(opc__wire_item, last_edited_by), 0, 0, NULL, 0},
    COUNT(opc__wire_item, seq, "seq"),
};

static const field chunk_fields[] = {
    ID(opc__wire_chunk, file, "file_id"),
    INT(opc__wire_chunk, idx, "idx", 0, INT32_MAX),
    ID(opc__wire_chunk, item, "item_id"),
    ID(opc__wire_chunk, vault, "vault_id"),
    {"blob", F_BLOB, offsetof(opc__wire_chunk, blob), 0, 0, NULL, offsetof(opc__wire_chunk, len)},
};

static const field token_fields[] = {
    ID(opc__wire_token, jti, "jti"),
    ID(opc__wire_token, server, "server_id"),
    TEXT(opc__wire_token, name, "name"),
    TEXT(opc__wire_token, scopes, "scopes"),
    COUNT(opc__wire_token, created, "created"),
    COUNT(opc__wire_token, expires, "expires"),
    {"state", F_TEXT, offsetof(opc__wire_token, state), 0, 0, token_states, 0},
    COUNT(opc__wire_token, updated, "updated"),
    COUNT(opc__wire_token, seq, "seq"),
};

/* The item write's ids are pointers (borrowed strings): text checked as ids below. */
static const field item_write_fields[] = {
    TEXT(opc__item_write, vault_id, "vault_id"),
    TEXT(opc__item_write, item_id, "item_id"),
    COUNT(opc__item_write, expected_version, "expected_version"),
    INT(opc__item_write, key_sn, "key_sn", 1, INT_MAX53),
    TEXT(opc__item_write, overview, "overview"),
    TEXT(opc__item_write, details, "details"),
};

static const message issuer_key_msg = MSG("issuer key row", issuer_key_fields);
static const message access_msg = MSG("grant row", access_fields);
static const message vault_msg = MSG("vault row", vault_fields);
static const message item_msg = MSG("item row", item_fields);
static const message chunk_msg = MSG("file chunk row", chunk_fields);
static const message token_msg = MSG("token row", token_fields);
static const message item_write_msg = MSG("item write", item_write_fields);

/* ---- one member ---- */

static char *at_chars(const void *r, const field *f)
{
    return (char *)(uintptr_t)r + f->off;
}

static char **at_text(const void *r, const field *f)
{
    return (char **)(void *)at_chars(r, f);
}

static int64_t *at_int(const void *r, const field *f)
{
    return (int64_t *)(void *)at_chars(r, f);
}

static bool one_of(const field *f, const char *s)
{
    if (f->one_of == NULL) {
        return true;
    }
    for (const char *const *v = f->one_of; *v != NULL; v++) {
        if (strcmp(*v, s) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * Whether a string or an integer is allowed in f: NULL when it is, else
 * what it must be (for the message).
 */
static const char *text_rule(const field *f, const char *s)
{
    switch (f->type) {
    case F_ID:
        return opc__id_valid_str(s) ? NULL : "must be an id";
    case F_NAME:
        return s != NULL && strlen(s) <= OPC_ID_LEN ? NULL : "must be a short string";
    case F_TEXT_NULL:
        return NULL;
    default:
        if (s == NULL) {
            return "must be a string";
        }
        return one_of(f, s) ? NULL : "is not one of the allowed values";
    }
}

static const char *int_rule(const field *f, int64_t v)
{
    return v >= f->min && v <= f->max ? NULL : "is out of range";
}

/* ---- decoding ---- */

static opc_err bad(opc__ebuf *eb, const message *m, const field *f, const char *rule)
{
    return opc__fail(eb, OPC_ERR_PARSE, "malformed %s: \"%s\" %s", m->what, f->name, rule);
}

static opc_err decode_field(const message *m, const field *f, const cJSON *o, void *out,
                            unsigned char **blob, opc__ebuf *eb)
{
    const cJSON *v = opc__json_member(o, f->name);
    if (v == NULL) {
        return bad(eb, m, f, "is missing");
    }
    if (f->type == F_INT) {
        int64_t n = 0;
        if (!opc__json_is_int(v, &n)) {
            return bad(eb, m, f, "must be an integer");
        }
        const char *rule = int_rule(f, n);
        *at_int(out, f) = n;
        return rule == NULL ? OPC_OK : bad(eb, m, f, rule);
    }
    if (f->type == F_TEXT_NULL && cJSON_IsNull(v)) {
        *at_text(out, f) = NULL;
        return OPC_OK;
    }
    if (!cJSON_IsString(v) || v->valuestring == NULL) {
        return bad(eb, m, f,
                   f->type == F_TEXT_NULL ? "must be a string or null" : "must be a string");
    }
    const char *s = v->valuestring;
    if (f->type == F_BLOB) {
        if (blob == NULL) {
            return OPC_ERR_INTERNAL; /* a message with a blob is decoded with a place for it */
        }
        size_t len = 0;
        opc_err rc = opc__b64_decode(s, strlen(s), OPC_B64URL, blob, &len, NULL);
        if (rc != OPC_OK) {
            *blob = NULL;
            return rc == OPC_ERR_NOMEM ? rc : bad(eb, m, f, "must be base64url");
        }
        *(const void **)(void *)at_chars(out, f) = *blob;
        *(size_t *)(void *)((char *)out + f->off_len) = len;
        return OPC_OK;
    }
    const char *rule = text_rule(f, s);
    if (rule != NULL) {
        return bad(eb, m, f, rule);
    }
    if (f->type == F_ID || f->type == F_NAME) {
        memcpy(at_chars(out, f), s, strlen(s) + 1);
    } else {
        *at_text(out, f) = (char *)(uintptr_t)s;
    }
    return OPC_OK;
}

static opc_err decode(const message *m, const cJSON *o, void *out, size_t size,
                      unsigned char **blob, opc__ebuf *eb)
{
    memset(out, 0, size);
    if (!cJSON_IsObject(o)) {
        return opc__fail(eb, OPC_ERR_PARSE, "malformed %s: not an object", m->what);
    }
    opc_err rc = OPC_OK;
    for (size_t i = 0; i < m->n && rc == OPC_OK; i++) {
        rc = decode_field(m, &m->fields[i], o, out, blob, eb);
    }
    if (rc != OPC_OK && blob != NULL) {
        opc__free(*blob);
        *blob = NULL;
    }
    return rc;
}

/* ---- encoding ---- */

static opc_err refuse(opc__ebuf *eb, const message *m, const field *f, const char *rule)
{
    return opc__fail(eb, OPC_ERR_INVALID_ARG, "cannot send the %s: \"%s\" %s", m->what, f->name,
                     rule);
}

static opc_err encode_field(const message *m, const field *f, const void *r, cJSON *o,
                            opc__ebuf *eb)
{
    cJSON *v = NULL;
    if (f->type == F_INT) {
        const char *rule = int_rule(f, *at_int(r, f));
        if (rule != NULL) {
            return refuse(eb, m, f, rule);
        }
        v = cJSON_CreateNumber((double)*at_int(r, f));
    } else if (f->type == F_BLOB) {
        const void *bytes = *(const void *const *)(const void *)at_chars(r, f);
        size_t len = *(const size_t *)(const void *)((const char *)r + f->off_len);
        if (bytes == NULL && len > 0) {
            return refuse(eb, m, f, "is missing");
        }
        char *b64 = NULL;
        size_t n = 0;
        if (opc__b64_encode(bytes, len, OPC_B64URL, &b64, &n) != OPC_OK) {
            return OPC_ERR_NOMEM;
        }
        v = cJSON_CreateString(b64);
        opc__free(b64);
    } else {
        const char *s = f->type == F_ID || f->type == F_NAME ? at_chars(r, f) : *at_text(r, f);
        const char *rule = text_rule(f, s);
        if (rule != NULL) {
            return refuse(eb, m, f, rule);
        }
        v = s == NULL ? cJSON_CreateNull() : cJSON_CreateString(s);
    }
    if (v == NULL) {
        return OPC_ERR_NOMEM;
    }
    cJSON_AddItemToObject(o, f->name, v);
    return OPC_OK;
}

static opc_err encode(const message *m, const void *r, cJSON **out, opc__ebuf *eb)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (r == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "cannot send the %s: missing", m->what);
    }
    cJSON *o = cJSON_CreateObject();
    opc_err rc = o == NULL ? OPC_ERR_NOMEM : OPC_OK;
    for (size_t i = 0; i < m->n && rc == OPC_OK; i++) {
        rc = encode_field(m, &m->fields[i], r, o, eb);
    }
    if (rc != OPC_OK) {
        cJSON_Delete(o);
        return rc;
    }
    *out = o;
    return OPC_OK;
}

/* ---- the messages ---- */

/* An item's rule across members: only a tombstone may lack its envelopes. */
static const char *item_rule(const opc__wire_item *r)
{
    bool tombstone = strcmp(r->state, "deleted") == 0;
    if (!tombstone && (r->overview == NULL || r->details == NULL)) {
        return "an active item needs overview and details";
    }
    return NULL;
}

/* The item write's ids (pointers to borrowed strings). */
static const char *item_write_rule(const opc__item_write *r)
{
    return opc__id_valid_str(r->vault_id) && opc__id_valid_str(r->item_id)
               ? NULL
               : "\"vault_id\" and \"item_id\" must be ids";
}

opc_err opc__wire_issuer_key_encode(const opc__wire_issuer_key *r, cJSON **out, opc__ebuf *eb)
{
    return encode(&issuer_key_msg, r, out, eb);
}

opc_err opc__wire_issuer_key_decode(const cJSON *o, opc__wire_issuer_key *out, opc__ebuf *eb)
{
    return decode(&issuer_key_msg, o, out, sizeof *out, NULL, eb);
}

opc_err opc__wire_access_encode(const opc__wire_access *r, cJSON **out, opc__ebuf *eb)
{
    return encode(&access_msg, r, out, eb);
}

opc_err opc__wire_access_decode(const cJSON *o, opc__wire_access *out, opc__ebuf *eb)
{
    return decode(&access_msg, o, out, sizeof *out, NULL, eb);
}

opc_err opc__wire_vault_encode(const opc__wire_vault *r, cJSON **out, opc__ebuf *eb)
{
    return encode(&vault_msg, r, out, eb);
}

opc_err opc__wire_vault_decode(const cJSON *o, opc__wire_vault *out, opc__ebuf *eb)
{
    return decode(&vault_msg, o, out, sizeof *out, NULL, eb);
}

opc_err opc__wire_item_encode(const opc__wire_item *r, cJSON **out, opc__ebuf *eb)
{
    opc_err rc = encode(&item_msg, r, out, eb);
    const char *rule = rc == OPC_OK ? item_rule(r) : NULL;
    if (rule != NULL) {
        cJSON_Delete(*out);
        *out = NULL;
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "cannot send the item row: %s", rule);
    }
    return rc;
}

opc_err opc__wire_item_decode(const cJSON *o, opc__wire_item *out, opc__ebuf *eb)
{
    opc_err rc = decode(&item_msg, o, out, sizeof *out, NULL, eb);
    const char *rule = rc == OPC_OK ? item_rule(out) : NULL;
    return rule == NULL ? rc : opc__fail(eb, OPC_ERR_PARSE, "malformed item row: %s", rule);
}

opc_err opc__wire_chunk_encode(const opc__wire_chunk *r, cJSON **out, opc__ebuf *eb)
{
    return encode(&chunk_msg, r, out, eb);
}

opc_err opc__wire_chunk_decode(const cJSON *o, opc__wire_chunk *out, unsigned char **blob,
                               opc__ebuf *eb)
{
    *blob = NULL;
    return decode(&chunk_msg, o, out, sizeof *out, blob, eb);
}

opc_err opc__wire_token_encode(const opc__wire_token *r, cJSON **out, opc__ebuf *eb)
{
    return encode(&token_msg, r, out, eb);
}

opc_err opc__wire_token_decode(const cJSON *o, opc__wire_token *out, opc__ebuf *eb)
{
    return decode(&token_msg, o, out, sizeof *out, NULL, eb);
}

opc_err opc__wire_item_write_encode(const opc__item_write *r, cJSON **out, opc__ebuf *eb)
{
    const char *rule = r != NULL ? item_write_rule(r) : NULL;
    if (rule != NULL) {
        if (out != NULL) {
            *out = NULL;
        }
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "cannot send the item write: %s", rule);
    }
    return encode(&item_write_msg, r, out, eb);
}

opc_err opc__wire_item_write_decode(const cJSON *o, opc__item_write *out, opc__ebuf *eb)
{
    opc_err rc = decode(&item_write_msg, o, out, sizeof *out, NULL, eb);
    const char *rule = rc == OPC_OK ? item_write_rule(out) : NULL;
    return rule == NULL ? rc : opc__fail(eb, OPC_ERR_PARSE, "malformed item write: %s", rule);
}
