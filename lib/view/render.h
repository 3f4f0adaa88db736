/*
 * view/render.h - the rendered-item cache: full item response bodies kept
 * sealed in memory, so a GET of an unchanged item costs a hash lookup and
 * one AES-GCM open instead of a SQLite read, two envelope opens, two JSON
 * parses, the join and a print (docs/performance.md has the figures).
 *
 * Entries are keyed by (vault id, item id) and carry the item version they
 * were rendered from and the first second at which they go stale (the next
 * TOTP period of an item with OTP fields; never otherwise). A lookup hits
 * only for the same version, before that second. The caller looks the
 * version up in the index, which follows the cache, so an edited item
 * simply misses and is rendered again; access checks (token scope, vault
 * grants) always run before a lookup.
 *
 * Secrets: bodies are sealed with AES-256-GCM under a key drawn at creation
 * that exists only in this object (wiped on free); a 96-bit counter is the
 * nonce, and the AAD binds vault, item and version, so an entry cannot be
 * served for another item. Plaintext exists only in the caller's (secret)
 * buffer for the time of a response.
 *
 * Bounds: a fixed table of `slots` entries, direct-mapped by a hash of the
 * ids (a new entry replaces whatever held its slot); bodies larger than
 * `max_body` are not cached. Memory is at most slots * (max_body + ~100).
 *
 * Thread safety: any thread; each slot has its own lock.
 */
#ifndef OPC_VIEW_RENDER_H
#define OPC_VIEW_RENDER_H

#include "core/buf.h"
#include "core/err.h"
#include "internal.h"

#define OPC_RENDER_SLOTS 4096
#define OPC_RENDER_MAX_BODY ((size_t)16 * 1024)

typedef struct opc__render opc__render;

/* OPC_ERR_INVALID_ARG for 0 slots or max_body; OPC_ERR_NOMEM; OPC_ERR_CRYPTO
 * when no random key can be drawn. */
opc_err opc__render_create(size_t slots, size_t max_body, opc__render **out);
void opc__render_free(opc__render *r);

/*
 * On a hit (same ids and version, now_s before the entry's valid_until)
 * append the body to out and return true. A miss (or an append/decrypt
 * failure, which also drops the entry) returns false and leaves out as it
 * was.
 */
bool opc__render_get(opc__render *r, const char *vault, const char *item, int64_t version,
                     int64_t now_s, opc__buf *out);

/* Store a body rendered from `version`, valid until valid_until (Unix
 * seconds, exclusive). Best effort: too large or out of memory stores
 * nothing. */
void opc__render_put(opc__render *r, const char *vault, const char *item, int64_t version,
                     int64_t valid_until, const char *body, size_t len);

/* Drop every entry (e.g. when the server locks). */
void opc__render_clear(opc__render *r);

/* Hits and misses so far (for metrics and tests). */
void opc__render_stats(const opc__render *r, uint64_t *hits, uint64_t *misses);

#endif
