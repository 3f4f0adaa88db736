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
 * Bounds: a byte budget. Every entry is charged its sealed body plus a
 * fixed overhead (OPC_RENDER_ENTRY_OVERHEAD: the entry header plus the
 * allocator's header and rounding), and the hash-bucket arrays are charged
 * too, so what the entries and tables hold stays within the budget (the
 * object itself adds a few KiB). The table is split into shards by a hash of the ids, each with
 * an equal part of the budget and its own lock; a put that does not fit
 * evicts from its shard by CLOCK (an entry read since the hand last passed
 * gets a second chance). Budget 0 caches nothing; bodies larger than
 * `max_body` (or than a shard's part) are not cached.
 *
 * Thread safety: any thread; a lookup takes one shard lock, for one hash
 * walk and one AES-GCM open.
 */
#ifndef OPC_VIEW_RENDER_H
#define OPC_VIEW_RENDER_H

#include "core/buf.h"
#include "core/err.h"
#include "internal.h"

#define OPC_RENDER_MAX_BODY ((size_t)16 * 1024)
/* The largest budget opc__render_create accepts (1 GiB). */
#define OPC_RENDER_MAX_BYTES ((size_t)1 << 30)
/* Bytes an entry costs on top of its body (render.c checks it). */
#define OPC_RENDER_ENTRY_OVERHEAD ((size_t)192)

typedef struct opc__render opc__render;

/* A cache holding at most `budget` bytes (0: an empty cache that stores
 * nothing). OPC_ERR_INVALID_ARG for max_body 0 or a budget over
 * OPC_RENDER_MAX_BYTES; OPC_ERR_NOMEM; OPC_ERR_CRYPTO when no random key
 * can be drawn. */
opc_err opc__render_create(size_t budget, size_t max_body, opc__render **out);
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
 * seconds, exclusive), in place of any entry of the same ids. Best effort:
 * too large or out of memory stores nothing (and keeps the old entry). */
void opc__render_put(opc__render *r, const char *vault, const char *item, int64_t version,
                     int64_t valid_until, const char *body, size_t len);

/* Drop the entry of these ids, if any (an item this process deleted: its
 * entry could never hit again, and would hold its bytes until evicted). */
void opc__render_drop(opc__render *r, const char *vault, const char *item);

/* Drop every entry (e.g. when the server locks). */
void opc__render_clear(opc__render *r);

/* Hits and misses so far (for metrics and tests). */
void opc__render_stats(const opc__render *r, uint64_t *hits, uint64_t *misses);

/* The bytes charged now (entries and bucket arrays), the number of
 * entries, and the budget (for tests and docs). */
void opc__render_usage(opc__render *r, size_t *bytes, size_t *entries, size_t *budget);

#endif
