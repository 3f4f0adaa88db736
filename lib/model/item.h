/*
 * model/item.h - the Connect item model: validation, normalisation, the
 * category built-in fields, and the overview/details split used for
 * encryption.
 *
 * Items are handled as cJSON trees in the Connect REST API's FullItem shape
 * (spec §2.3-2.6). Read-only members sent by clients (id, vault, version,
 * createdAt, updatedAt, lastEditedBy, state, trashed, entropy, totp,
 * files' content_path) are ignored; empty strings mean "not set" (the Go
 * SDK sends "id":"" and "type":"").
 */
#ifndef OPC_MODEL_ITEM_H
#define OPC_MODEL_ITEM_H

#include <cjson/cJSON.h>

#include "core/err.h"
#include "internal.h"

/* Largest item JSON accepted, in bytes, and its nesting limit. */
#define OPC_ITEM_MAX_JSON ((size_t)1024 * 1024)
#define OPC_ITEM_MAX_DEPTH 16
/* Array limits on the client's input (the built-in fields a category adds
 * come on top of OPC_ITEM_MAX_FIELDS). More is OPC_ERR_TOO_LARGE. */
#define OPC_ITEM_MAX_FIELDS 1000
#define OPC_ITEM_MAX_SECTIONS 200
#define OPC_ITEM_MAX_URLS 100
#define OPC_ITEM_MAX_TAGS 100

/* Categories. CUSTOM and DOCUMENT exist but are not creatable by clients. */
typedef enum opc__category {
    OPC_CAT_LOGIN = 1,
    OPC_CAT_PASSWORD,
    OPC_CAT_API_CREDENTIAL,
    OPC_CAT_SERVER,
    OPC_CAT_DATABASE,
    OPC_CAT_CREDIT_CARD,
    OPC_CAT_MEMBERSHIP,
    OPC_CAT_PASSPORT,
    OPC_CAT_SOFTWARE_LICENSE,
    OPC_CAT_OUTDOOR_LICENSE,
    OPC_CAT_SECURE_NOTE,
    OPC_CAT_WIRELESS_ROUTER,
    OPC_CAT_BANK_ACCOUNT,
    OPC_CAT_DRIVER_LICENSE,
    OPC_CAT_IDENTITY,
    OPC_CAT_REWARD_PROGRAM,
    OPC_CAT_DOCUMENT,
    OPC_CAT_EMAIL_ACCOUNT,
    OPC_CAT_SOCIAL_SECURITY_NUMBER,
    OPC_CAT_MEDICAL_RECORD,
    OPC_CAT_SSH_KEY,
    OPC_CAT_CUSTOM
} opc__category;

/* The canonical (upper-case) name; NULL for a value outside the enum. */
const char *opc__category_name(opc__category c);
/* Case-insensitive. OPC_ERR_PARSE "Invalid item category" for unknown names. */
opc_err opc__category_parse(const char *s, opc__category *out, opc__ebuf *eb);
/* False for CUSTOM, DOCUMENT and values outside the enum. */
bool opc__category_creatable(opc__category c);

/* A built-in field of a category (category.c documents the whole table). */
typedef struct opc__field_template {
    const char *id;      /* well-known id: "username", "password", "notesPlain", ... */
    const char *label;   /* label given to the field when it is added */
    const char *type;    /* canonical field type ("STRING", "CONCEALED", ...) */
    const char *purpose; /* "" or "USERNAME" / "PASSWORD" / "NOTES" */
} opc__field_template;

/* The built-in fields of c, in order; *n = 0 (and NULL) for CUSTOM. */
const opc__field_template *opc__category_template(opc__category c, size_t *n);

/*
 * The canonical name of a field type given case-insensitively: "" is
 * STRING, "TOTP" is OTP, "SSH_KEY" is SSHKEY (an old Go SDK spelling).
 * Accepted: STRING EMAIL CONCEALED URL OTP DATE MONTH_YEAR MENU and the
 * types the apps produce (ADDRESS CREDIT_CARD_NUMBER CREDIT_CARD_TYPE GENDER
 * PHONE REFERENCE FILE SSHKEY UNKNOWN). NULL for anything else.
 */
const char *opc__field_type_parse(const char *s);

/*
 * Check a non-empty field value against its canonical type: DATE is a real
 * calendar date YYYY-MM-DD (years 0001-9999); MONTH_YEAR is YYYYMM or
 * YYYY/MM with month 01-12 and is rewritten in place as YYYYMM; OTP must
 * pass opc__totp_parse(). Other types take any string. OPC_ERR_PARSE with
 * a message that never quotes the value.
 */
opc_err opc__field_value_check(const char *type, char *value, opc__ebuf *eb);

typedef enum opc__item_op {
    OPC_ITEM_CREATE = 1,     /* client creates: CUSTOM/DOCUMENT refused */
    OPC_ITEM_REPLACE,        /* full replace of `existing` */
    OPC_ITEM_CREATE_DOCUMENT /* internal: a DOCUMENT item (op document create) */
} opc__item_op;

/*
 * Parse an item's JSON text as core/json.h's opc__json_parse() does, with
 * the item's limits (OPC_ITEM_MAX_JSON bytes, OPC_ITEM_MAX_DEPTH levels):
 * the one strict parse of a client's item. On success *out is the tree
 * (it may hold secrets: free it with opc__json_delete_secret()), on
 * failure NULL.
 */
opc_err opc__item_parse(const char *json, size_t len, cJSON **out, opc__ebuf *eb);

/*
 * Hold a tree built in memory (a patched item) to the same limits, with
 * the same errors as opc__item_parse() of its printed text, without
 * printing it (opc__json_check_printed()).
 */
opc_err opc__item_check(const cJSON *in, opc__ebuf *eb);

/*
 * Validate and normalise a client item `in`, a tree from opc__item_parse()
 * or passed by opc__item_check(), into a new full item tree:
 *  - category required and known (create: not CUSTOM/DOCUMENT; replace:
 *    must equal the existing item's category);
 *  - title string (may be empty), urls [{href (required), label?, primary?}],
 *    tags (strings, de-duplicated), favorite bool;
 *  - sections [{id, label}]: ids kept when given (any non-empty string),
 *    otherwise generated (26-char ids); duplicates refused;
 *  - fields: type parsed case-insensitively ("" = STRING; TOTP accepted as
 *    an alias of OTP); purpose "" | USERNAME | PASSWORD | NOTES, at most
 *    one PASSWORD ("You can only use one \"password\" field."); section
 *    must name an existing section; ids kept or generated; DATE is
 *    YYYY-MM-DD, MONTH_YEAR YYYYMM or YYYY/MM (stored as YYYYMM), OTP an
 *    otpauth://totp URI that parses; generate:true with no value produces
 *    a password from the recipe and sets "entropy";
 *  - the category's built-in fields are added when absent (LOGIN:
 *    username/password/notesPlain; PASSWORD: password/notesPlain; ...),
 *    and USERNAME/PASSWORD purpose fields get the labels username/password
 *    when unlabelled;
 *  - on replace: files of `existing` are kept (the client cannot change
 *    them through JSON); if the PASSWORD-purpose value changed, the old
 *    value is appended to "passwordHistory" (kept in the details).
 * Errors: OPC_ERR_PARSE / OPC_ERR_RANGE / OPC_ERR_TOO_LARGE with a message
 * in the Connect API's words where it has them.
 *
 * Details of the normalisation (item.c has the full account):
 *  - output members, in order: title, category, favorite, tags (if any),
 *    urls (if any), sections (if any), fields, files (replace, if any),
 *    passwordHistory (replace, if any). Fields are {id, section?, type,
 *    purpose?, label, value?, entropy?}; empty values are left out;
 *    generate/recipe/totp are not stored.
 *  - a built-in field counts as present when a field has its id; else (if
 *    it has a purpose) a field with that purpose; else a field without an
 *    id, outside any section, whose label matches (case-insensitively).
 *    A matched field without an id takes the built-in id; without a type,
 *    the built-in type; without a label or purpose, the built-in ones
 *    (purpose only when no other field has it). Built-in fields come first
 *    in the category's order, then the other fields in the client's order.
 *  - on replace, a field whose id and value are unchanged keeps the
 *    existing "entropy"; passwordHistory entries are {"value", "time"
 *    (Unix seconds)}, oldest first, at most 50.
 *  - client "files" are ignored (create: no files; replace: existing's);
 *    empty tags are dropped; OPC_ITEM_CREATE_DOCUMENT needs category
 *    DOCUMENT. Every category error starts "Invalid item category".
 * `in` stays the caller's, but its strings may be rewritten in place (a
 * MONTH_YEAR value YYYY/MM becomes YYYYMM). On success *out is a new tree
 * holding secrets: free it with opc__json_delete_secret(). On failure
 * *out is NULL.
 */
opc_err opc__item_prepare(cJSON *in, opc__item_op op, const cJSON *existing, cJSON **out,
                          opc__ebuf *eb);

/* For callers holding text: opc__item_parse(), then opc__item_prepare(). */
opc_err opc__item_prepare_json(const char *json, size_t len, opc__item_op op, const cJSON *existing,
                               cJSON **out, opc__ebuf *eb);

/* The most passwordHistory entries kept (the oldest are dropped). */
#define OPC_ITEM_MAX_PASSWORD_HISTORY 50

/*
 * Split a full item into the overview (title, category, urls, tags,
 * favorite) and the details (sections, fields, files with their keys,
 * passwordHistory), the two parts encrypted separately. join() rebuilds
 * the full item. Server-side members (id, vault, version, timestamps)
 * are not in either part.
 */
/*
 * split: overview = {title, category, urls, tags, favorite} and details =
 * {sections, fields, files, passwordHistory}, each member copied when
 * present; every other member of full is dropped. join: a new object with
 * every member of the overview, then every member of the details (a name
 * in both is OPC_ERR_PARSE); non-object inputs are OPC_ERR_PARSE. The new
 * trees hold secrets (opc__json_delete_secret). On failure the outputs are
 * NULL.
 */
opc_err opc__item_split(const cJSON *full, cJSON **overview, cJSON **details);
opc_err opc__item_join(const cJSON *overview, const cJSON *details, cJSON **full);
/* join without copies: the members of details move to the end of overview,
 * which becomes *full (details is left empty; the caller still frees it).
 * On failure (a name in both, a non-object) nothing moves and *full is
 * NULL. */
opc_err opc__item_join_take(cJSON *overview, cJSON *details, cJSON **full);

/* The fields of an item summary (list) built from an overview: a new
 * object with title, category, urls, tags and favorite (those present). */
opc_err opc__item_summary(const cJSON *overview, cJSON **out);

/*
 * Prepare a full item for output at time `now`: OTP fields get "totp" (the
 * current code); internal members (file keys, passwordHistory, chunk
 * layout) are removed. Modifies the tree in place.
 * Precisely: "passwordHistory" is removed; each file keeps only id, name,
 * size, content_path and section; each OTP field whose value parses gets
 * "totp" (replacing any old one), and one whose value does not parse is
 * left without "totp". *valid_until (optional) receives the first second
 * at which the output changes: the start of the next period of the OTP
 * field with the earliest one, INT64_MAX without OTP codes (now on
 * failure). OPC_ERR_NOMEM, OPC_ERR_INVALID_ARG (NULL, not an object).
 */
opc_err opc__item_present(cJSON *full, int64_t now, int64_t *valid_until, opc__ebuf *eb);

#endif
