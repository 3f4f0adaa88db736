/*
 * wire/rows_rpc.h - the owner's store protocol (docs/protocol.md, "The
 * owner's store protocol"): the JSON of a named read, of a write batch and
 * of their answers, with ONE encoder and ONE strict decoder each, shared by
 * both ends (the owner's client, lib/account; the account server later).
 * No SQL crosses this boundary: a request names a statement of the table in
 * lib/account/rows.h and gives its arguments.
 *
 *   read     {"read": NAME, "args": [V...]}
 *   batch    {"batch": [{"stmt": NAME, "args": [V...], "expect": N}, ...]}
 *   rows     {"rows": [[C...], ...]}        (the answer to a read)
 *   seqs     {"seqs": [S...]}               (the answer to a batch: the seq of
 *                                            each of its changes, in order)
 *
 * NAME is "<module>.<verb>": [a-z][a-z0-9_]* "." [a-z][a-z0-9_]*, at most
 * OPC__RPC_MAX_NAME bytes. An argument V is a string (valid UTF-8), an
 * integer (|n| <= 2^53 - 1), null, or the seq placeholder {"seq": K}: the
 * sequence number the store gives to the batch's K-th change (K from 0;
 * reads have no placeholders, the table says which parameters take one).
 * A result cell C is a string, an integer or null. N (rows the statement
 * must change, or match for a guard) is 0..OPC__RPC_MAX_EXPECT; a seq is
 * 1..2^53 - 1. At most OPC__RPC_MAX_ARGS arguments per statement and
 * OPC__RPC_MAX_STEPS statements per batch (at least one; see below).
 *
 * Requests are strict: a member other than those above is refused (a
 * request is a command; a member the server did not understand must not be
 * silently dropped). Answers ignore members beyond these. Refusals are
 * OPC_ERR_PARSE, "malformed <message>: ..." naming members and positions,
 * never a value. Encoders check the same rules (OPC_ERR_INVALID_ARG) and
 * return a new object (*out, cJSON_Delete); decoded names and arguments are
 * BORROWED from the decoded object.
 */
#ifndef OPC_WIRE_ROWS_RPC_H
#define OPC_WIRE_ROWS_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "internal.h"

#define OPC__RPC_MAX_NAME 64
#define OPC__RPC_MAX_ARGS 32
/*
 * A batch: at most OPC__RPC_MAX_PLAIN_STEPS statements without bytes and
 * OPC__RPC_MAX_BLOB_STEPS with bytes (file chunks: a new document of the
 * largest size is 1,024 chunks, and its item row must be written in the
 * same batch), OPC__RPC_MAX_STEPS in all; at most OPC__RPC_MAX_CHANGES
 * changes (the placeholders' K and the seqs of the answer). This module
 * checks the total; the store, which knows the parameters' types, the split.
 */
#define OPC__RPC_MAX_PLAIN_STEPS 1024
#define OPC__RPC_MAX_BLOB_STEPS 1024
#define OPC__RPC_MAX_STEPS (OPC__RPC_MAX_PLAIN_STEPS + OPC__RPC_MAX_BLOB_STEPS)
#define OPC__RPC_MAX_CHANGES 1024
#define OPC__RPC_MAX_EXPECT 1000000

/* One statement of a batch. */
typedef struct opc__rpc_step {
    const char *stmt;  /* statement name */
    const cJSON *args; /* JSON array of arguments */
    int64_t expect;    /* rows it must change (write, change) or match (guard) */
} opc__rpc_step;

/* A decoded request: a read (steps NULL) or a batch (read NULL). */
typedef struct opc__rpc_request {
    const char *read;     /* read: statement name */
    const cJSON *args;    /* read: its arguments */
    opc__rpc_step *steps; /* batch: new memory (opc__rpc_request_free) */
    size_t n_steps;
} opc__rpc_request;

/* Whether s is a statement name of the syntax above. */
bool opc__rpc_name_valid(const char *s);
/* Whether v is an argument of the syntax above (a placeholder's K is not
 * checked against the batch here: the store does that). */
bool opc__rpc_arg_valid(const cJSON *v);
/* Whether v is a seq placeholder; *k gets K. */
bool opc__rpc_arg_seq(const cJSON *v, int64_t *k);
/* A new placeholder {"seq": k} (NULL: out of memory). */
cJSON *opc__rpc_seq_new(int64_t k);

/*
 * Bytes (the table's type 'b', e.g. a file chunk) travel as a string: their
 * base64url without padding. The table says which parameters and columns
 * are bytes; this is the encoding both ends use. Blob values are at most
 * OPC__RPC_MAX_BLOB bytes.
 */
#define OPC__RPC_MAX_BLOB 131072 /* 128 KiB */
/* Whether v is the base64url text of at most OPC__RPC_MAX_BLOB bytes. */
bool opc__rpc_blob_valid(const cJSON *v);
/* A new string holding the base64url of data[len] (NULL: out of memory or
 * len above OPC__RPC_MAX_BLOB). */
cJSON *opc__rpc_blob_new(const void *data, size_t len);
/* Decode a valid blob v into out[cap]; *len its length. OPC_ERR_PARSE when
 * v is not a blob, OPC_ERR_RANGE when it does not fit. */
opc_err opc__rpc_blob_get(const cJSON *v, void *out, size_t cap, size_t *len, opc__ebuf *eb);

opc_err opc__rpc_read_encode(const char *name, const cJSON *args, cJSON **out, opc__ebuf *eb);
opc_err opc__rpc_batch_encode(const opc__rpc_step *steps, size_t n, cJSON **out, opc__ebuf *eb);
/* Decode either request into *out (zeroed first; free it with opc__rpc_request_free). */
opc_err opc__rpc_request_decode(const cJSON *o, opc__rpc_request *out, opc__ebuf *eb);
void opc__rpc_request_free(opc__rpc_request *r);

/* The answer to a read: rows is an array of arrays of cells (copied). */
opc_err opc__rpc_rows_encode(const cJSON *rows, cJSON **out, opc__ebuf *eb);
/* *rows is borrowed from o. */
opc_err opc__rpc_rows_decode(const cJSON *o, const cJSON **rows, opc__ebuf *eb);
/* The answer to a batch. */
opc_err opc__rpc_seqs_encode(const int64_t *seqs, size_t n, cJSON **out, opc__ebuf *eb);
/* *seqs is new memory (opc__free; NULL when n is 0). */
opc_err opc__rpc_seqs_decode(const cJSON *o, int64_t **seqs, size_t *n, opc__ebuf *eb);

#endif
