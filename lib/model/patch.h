/*
 * model/patch.h - JSON Patch (RFC 6902) for Connect items, the body of
 * PATCH /v1/vaults/{vault}/items/{item} (connect-api spec §1.3 no. 8).
 *
 * A patch only edits the item's structure. Whether the result is a valid
 * item (types, one PASSWORD field, dates, sections referenced, the
 * category unchanged) is decided by opc__item_prepare(OPC_ITEM_REPLACE),
 * which opc__item_patch_apply() runs on the result.
 *
 * The subset (docs/decisions.md "Item PATCH" has the reasons):
 *  - the body is a JSON array of at most OPC_PATCH_MAX_OPS operations
 *    {op, path, value?}; "op" is add, remove or replace (matched
 *    case-insensitively); move, copy and test are OPC_ERR_UNSUPPORTED;
 *    other members of an operation are ignored (RFC 6902 §4); "value" is
 *    required for add and replace;
 *  - "path" is an RFC 6901 pointer (~0 is '~', ~1 is '/'). Supported
 *    shapes, anything else is OPC_ERR_UNSUPPORTED:
 *      ""  or "/"                     the whole item (add/replace; the
 *                                     value must be an object; remove is
 *                                     refused: that is DELETE)
 *      /title /category /favorite     top-level attributes
 *      /tags /urls /sections /fields
 *      /tags/<i>  /urls/<i>           array elements by index; "-"
 *                                     appends (add only)
 *      /urls/<i>/{href,label,primary}
 *      /fields/<id>  /sections/<id>   by id, never by index; with add,
 *                                     "-" appends (elsewhere "-" is an id
 *                                     like any other); "" is refused
 *      /fields/<id>/<attr>            id type purpose label value
 *                                     generate section recipe
 *      /fields/<id>/section/id
 *      /fields/<id>/recipe/{length,characterSets,excludeCharacters}
 *      /fields/<id>/recipe/characterSets/<i>
 *      /sections/<id>/{id,label}
 *  - read-only targets are OPC_ERR_UNSUPPORTED "... is read-only": id,
 *    vault, version, createdAt, updatedAt, lastEditedBy, state, trashed,
 *    files (kept from the stored item by item_prepare) and a field's
 *    entropy and totp; the check comes before any lookup, so the answer
 *    does not depend on the item's content;
 *  - semantics are RFC 6902's with these Connect deviations:
 *      * add on /tags, /urls, /sections or /fields with a value that is
 *        not an array appends it (the Connect API appends a field with
 *        `add /fields`); an array value replaces the whole array;
 *      * add on /fields/<id> or /sections/<id> sets the element with
 *        that id (replacing it, in place) or appends one; replace needs
 *        the element to exist. The value must be an object; its "id",
 *        when non-empty, must equal <id>, and an absent, null or empty
 *        one is set to <id>;
 *      * replace of an absent attribute of an object (e.g.
 *        /fields/password/value: the stored item leaves empty values
 *        out) acts as add;
 *      * the parent of an add or replace target may be absent when it
 *        is a known attribute of an existing object: it is created empty
 *        first (/tags/- on an item without tags);
 *      * remove needs its target (RFC 6902).
 *    An empty array leaves the item as it is (*n_ops = 0: the caller
 *    writes nothing, as Connect answers the item unmodified).
 *
 * Errors (the message never quotes a value; it names the operation by
 * index, "patch[2]: ..."), and the HTTP status a route answers with:
 *   OPC_ERR_PARSE        400  not JSON, not an array, an operation not an
 *                             object, "op"/"path"/"value" missing or of the
 *                             wrong type, a bad pointer (no leading '/', a
 *                             '~' not followed by 0 or 1, a malformed array
 *                             index), a value of the wrong kind (the whole
 *                             item or a field/section not an object, an id
 *                             that contradicts the path)
 *   OPC_ERR_UNSUPPORTED  400  move/copy/test, a path outside the subset, a
 *                             read-only target, remove of the whole item
 *   OPC_ERR_RANGE        400  an array index past the end ("-" for remove
 *                             or replace)
 *   OPC_ERR_NOT_FOUND    400  the target (remove, replace of an element) or
 *                             the target's parent does not exist; for a
 *                             field the message is the Connect one, "The
 *                             item doesn't have a <id> field." This is
 *                             400, not 404: a 404 on PATCH means the item
 *                             itself is gone, and clients act on that
 *                             (Terraform drops the resource).
 *   OPC_ERR_TOO_LARGE    413  body over OPC_PATCH_MAX_JSON, more than
 *                             OPC_PATCH_MAX_OPS operations, a path over
 *                             OPC_PATCH_MAX_PATH bytes; nesting deeper than
 *                             OPC_PATCH_MAX_DEPTH is OPC_ERR_PARSE (400) as
 *                             for items
 *   OPC_ERR_NOMEM, OPC_ERR_INVALID_ARG: 500.
 * opc__item_patch_apply() adds item_check's and item_prepare's errors
 * (400, or 413 for OPC_ERR_TOO_LARGE: a result over OPC_ITEM_MAX_JSON
 * bytes printed).
 *
 * Permission: the route must check read permission before it runs a
 * patch, not only before it returns the body. Error answers depend on the
 * item's content ("The item doesn't have a x field.", item_prepare's
 * value checks after a type change), so a write-only token could probe
 * an item through them (the 1.7.1 fix of the original server).
 */
#ifndef OPC_MODEL_PATCH_H
#define OPC_MODEL_PATCH_H

#include <cjson/cJSON.h>

#include "core/err.h"
#include "internal.h"
#include "model/item.h"

/* The largest patch body, in bytes (the same as a whole item). */
#define OPC_PATCH_MAX_JSON OPC_ITEM_MAX_JSON
/* The most operations in one patch. */
#define OPC_PATCH_MAX_OPS 1000
/* Nesting of the body: the array and an operation around a value that
 * may nest as deep as an item. */
#define OPC_PATCH_MAX_DEPTH (OPC_ITEM_MAX_DEPTH + 2)
/* The longest "path", in bytes. */
#define OPC_PATCH_MAX_PATH 1024

/*
 * Apply the patch patch_json[0..len) to a copy of `full` (an object: the
 * stored full item or the item as GET returns it; it is not modified).
 * On success *out is the patched tree, which may hold secrets: free it
 * with opc__json_delete_secret(); it still has to go through
 * opc__item_prepare_patched(). *n_ops (may be NULL) is the number
 * of operations, 0 for an empty patch. On failure *out is NULL and eb
 * says why (the errors above). Thread-safety: any thread (no shared
 * state).
 */
opc_err opc__item_patch(const cJSON *full, const char *patch_json, size_t len, cJSON **out,
                        size_t *n_ops, opc__ebuf *eb);

/*
 * The second half of a PATCH: the patched tree, as it is (never printed
 * and parsed back), held to an item's limits by opc__item_check(), then
 * opc__item_prepare(OPC_ITEM_REPLACE, existing). `patched` stays the
 * caller's (item_prepare may rewrite its strings). *out as item_prepare's.
 */
opc_err opc__item_prepare_patched(cJSON *patched, const cJSON *existing, cJSON **out,
                                  opc__ebuf *eb);

/*
 * The whole PATCH step: opc__item_patch() on `existing` (the stored full
 * item), then opc__item_prepare_patched() on the
 * result. *out is the new full item to store (free with
 * opc__json_delete_secret()); *n_ops as above (an empty patch still
 * returns the prepared item, which the caller need not store). Errors:
 * those of both functions; on failure *out is NULL.
 */
opc_err opc__item_patch_apply(const cJSON *existing, const char *patch_json, size_t len,
                              cJSON **out, size_t *n_ops, opc__ebuf *eb);

#endif
