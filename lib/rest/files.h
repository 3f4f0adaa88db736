/*
 * rest/files.h - connect-api's file routes (connect-api spec §1.3 nos. 10-12,
 * §2.6; docs/decisions.md "Files"):
 *
 *   GET /v1/vaults/{v}/items/{i}/files              200 [File]
 *   GET /v1/vaults/{v}/items/{i}/files/{f}          200 File
 *   GET /v1/vaults/{v}/items/{i}/files/{f}/content  200 the bytes
 *
 * A File is {"id", "name", "size", "content_path": "/v1/vaults/<v>/items/
 * <i>/files/<f>/content", "section": {"id"}?}, never the entry's internal
 * members (key, chunkSize, nonce, sha256). With inline_files=true or
 * inline_content=true (either; Go's strconv.ParseBool spellings of true)
 * each File also carries "content", standard base64 of the bytes, when its
 * size is at most the inline limit (opc_api_set_max_inline_file_kb, KiB);
 * one larger file makes the request 413 with the spec's message naming its
 * ids.
 *
 * Content is streamed from the cache one chunk at a time, inside one read
 * transaction (a consistent snapshot):
 *   1. a pass over the stored blobs checks indices, lengths and, when the
 *      entry has one, the SHA-256 of all blobs - no plaintext yet. No chunk
 *      at all: the file is not synced yet (503, Retry-After). Anything else
 *      wrong: 500, logged with ids; nothing of the file has been sent.
 *   2. each chunk is opened (GCM tag verified) into one chunk-sized buffer
 *      before any of its bytes is written: the status line, headers and
 *      chunk 0 in one write, then one write per chunk. Should a chunk fail
 *      to open now (possible only for an entry without sha256), the response
 *      stops there and the connection is closed (the client sees fewer bytes
 *      than Content-Length); the error is logged with ids.
 * Memory: one chunk plus headers, whatever the file size.
 *
 * Secrets: file content, keys and names (names are item data) live in
 * secret buffers and are wiped; logs carry ids only.
 */
#ifndef OPC_REST_FILES_H
#define OPC_REST_FILES_H

#include "rest/http.h"
#include "cache/cache.h"
#include "core/buf.h"
#include "core/err.h"
#include "internal.h"
#include "model/file.h"

struct mg_request_info;

typedef enum opc__files_route {
    OPC_FILES_LIST = 1, /* .../files */
    OPC_FILES_GET,      /* .../files/{f} */
    OPC_FILES_CONTENT   /* .../files/{f}/content */
} opc__files_route;

/*
 * Serve a file route for item iid of vault v; fid is NULL for the list.
 * routes.c has checked the token, the ids' form, the scope (read) and the
 * vault. Returns the status sent.
 */
int opc__api_files(opc__req *r, const struct mg_request_info *ri, const opc__ix_vault *v,
                   const char *iid, const char *fid, opc__files_route route);

/* ---- the pieces, testable without HTTP ---- */

/* Whether the raw query string asks for inline content (inline_files or
 * inline_content is 1, t, T, true, TRUE or True). */
bool opc__files_inline_wanted(const char *query);

/* Whether a file of size bytes may be inlined under a limit of max_kb KiB. */
bool opc__files_inline_fits(size_t size, int max_kb);

/*
 * Append the header line "Content-Disposition: attachment; filename=\"...\"
 * [; filename*=UTF-8''...]\r\n" for a file name to out. filename= gets a
 * printable-ASCII fallback: '"', '\\', '/', '%', control characters and
 * DEL become '_', each non-ASCII UTF-8 sequence one '_'; an empty result
 * is "file". filename* (RFC 6266 / RFC 8187) carries the exact name,
 * percent-encoded, and is added only when the fallback differs from the
 * name. Errors: the buffer's (OPC_ERR_NOMEM).
 */
opc_err opc__files_disposition(const char *name, opc__buf *out);

/* Writes bytes to the client; false when it failed (client gone). */
typedef bool (*opc__files_write_fn)(void *ud, const void *p, size_t n);

/*
 * Stream file e (of item `item` in vault `vault`) from the cache c as
 * described above: head (status line and headers, head_len bytes) goes out
 * with chunk 0. scratch: a secret buffer for one chunk (reset on return).
 * *started: whether anything was handed to write (after that a failure
 * can only cut the response short). Errors: OPC_ERR_NOT_FOUND (no chunk
 * cached: not synced yet), OPC_ERR_DECRYPT (the cache does not verify),
 * OPC_ERR_IO (SQLite, or write returned false: "the client stopped
 * reading"), OPC_ERR_NOMEM.
 */
opc_err opc__files_stream(opc__cache *c, const char *vault, const char *item,
                          const opc__file_entry *e, const char *head, size_t head_len,
                          opc__buf *scratch, opc__files_write_fn write, void *ud, bool *started,
                          opc__ebuf *eb);

/*
 * The whole content of e into out (e->size bytes, the caller's secret
 * buffer), checked as above, in one pass. Errors as opc__files_stream.
 */
opc_err opc__files_read(opc__cache *c, const char *vault, const char *item,
                        const opc__file_entry *e, uint8_t *out, opc__ebuf *eb);

#endif
