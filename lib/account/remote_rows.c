/*
 * account/remote_rows.c - a remote handle (opc_account_remote_open): the
 * account row downloaded over the open session (remote.c, remote_int.h)
 * and unlocked with the session's AUK, and the owner's store protocol over
 * that session (rows.h; docs/protocol.md, "The owner's store protocol"):
 * the rows backend of the handle sends each named read and each write batch as
 * wire/rows_rpc.h's JSON over the signed owner session
 * (POST /v1/owner/rows/read, POST /v1/owner/rows/batch). The server runs the
 * same checks and the same statements as the local implementation; the
 * client code above the backend (vault.c, item.c, ...) does not change.
 *
 * Reads may be large (a vault's items, a page of file chunks): their
 * answers are parsed up to OPC_PROTO_MAX_ANSWER. A batch whose answer never
 * came (the connection broke after it left) may or may not have been
 * committed: the error says so instead of guessing, since most batches are
 * guarded by versions and a blind retry would either conflict or, for a
 * new item, write it twice.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include <opconnect/account.h>

#include "account/account_int.h"
#include "account/remote_int.h"
#include "account/signup.h"
#include "account/rows.h"
#include "core/alloc.h"
#include "wire/proto.h"
#include "wire/rows_rpc.h"

#define READ_TIMEOUT_MS 60000
/* A batch may carry a 64 MiB document: minutes on a slow uplink. */
#define BATCH_TIMEOUT_MS 600000

static const opc__remote_limits read_limits = {OPC_PROTO_MAX_ANSWER, READ_TIMEOUT_MS};
static const opc__remote_limits batch_limits = {OPC_PROTO_MAX_OWNER_MSG, BATCH_TIMEOUT_MS};

static opc_err remote_read(void *self, const char *name, const cJSON *args, cJSON **rows,
                           opc__ebuf *eb)
{
    opc__remote *x = self;
    *rows = NULL;
    cJSON *req = NULL;
    cJSON *ans = NULL;
    const cJSON *got = NULL;
    opc_err rc = opc__rpc_read_encode(name, args, &req, eb);
    if (rc == OPC_OK) {
        rc = opc__remote_request(x, "POST", "/v1/owner/rows/read", req, &read_limits, &ans, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__rpc_rows_decode(ans, &got, eb);
    }
    if (rc == OPC_OK) {
        /* got is ans's "rows", checked: taken out of the answer whole. */
        *rows = cJSON_DetachItemFromObjectCaseSensitive(ans, "rows");
        rc = *rows == got ? OPC_OK : OPC_ERR_INTERNAL;
    }
    cJSON_Delete(req);
    cJSON_Delete(ans);
    return rc;
}

static opc_err remote_batch(void *self, const opc__rpc_step *steps, size_t n, int64_t *seqs,
                            size_t n_seqs, opc__ebuf *eb)
{
    opc__remote *x = self;
    cJSON *req = NULL;
    cJSON *ans = NULL;
    int64_t *got = NULL;
    size_t n_got = 0;
    opc_err rc = opc__rpc_batch_encode(steps, n, &req, eb);
    if (rc == OPC_OK) {
        rc = opc__remote_request(x, "POST", "/v1/owner/rows/batch", req, &batch_limits, &ans, eb);
        if (rc == OPC_ERR_IO && opc__remote_lost(x)) {
            char why[sizeof eb->msg];
            (void)snprintf(why, sizeof why, "%s", eb->msg);
            rc = opc__fail(eb, OPC_ERR_IO,
                           "%s; the change may or may not have been made: look before trying "
                           "again",
                           why);
        }
    }
    if (rc == OPC_OK) {
        rc = opc__rpc_seqs_decode(ans, &got, &n_got, eb);
    }
    if (rc == OPC_OK && n_got != n_seqs) {
        rc = opc__fail(eb, OPC_ERR_PARSE,
                       "the account server answered %zu seqs for a batch of %zu changes", n_got,
                       n_seqs);
    }
    if (rc == OPC_OK && n_seqs > 0) {
        memcpy(seqs, got, n_seqs * sizeof *seqs);
    }
    opc__free(got);
    cJSON_Delete(req);
    cJSON_Delete(ans);
    return rc;
}

static void remote_close(void *self)
{
    opc__remote_detach(self);
}

static const opc__rows_backend remote_vt = {remote_read, remote_batch, remote_close};

/* The rows backend of a remote handle; it owns x from the call on
 * (detached by opc__rows_close, or here on failure). */
static opc_err rows_remote_open(opc__remote *x, opc__rows **out, opc__ebuf *eb)
{
    *out = NULL;
    opc__rows *r = opc__calloc(1, sizeof *r);
    if (r == NULL) {
        opc__remote_detach(x);
        return opc__fail(eb, OPC_ERR_NOMEM, "out of memory");
    }
    r->vt = &remote_vt;
    r->self = x;
    *out = r;
    return OPC_OK;
}

/* ---- the account row ---- */

static opc_err remote_open_account(const char *dir, const char *account_id, const char *token,
                                   const char *ca_file, opc_account **out, opc__ebuf *eb)
{
    opc__remote *x = NULL;
    opc_err rc = opc__remote_attach(dir, account_id, token, ca_file, &x, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    cJSON *ans = NULL;
    opc__proto_account row;
    memset(&row, 0, sizeof row);
    rc = opc__remote_request(x, "GET", "/v1/owner/account", NULL, NULL, &ans, eb);
    if (rc == OPC_OK) {
        rc = opc__proto_account_decode(ans, &row, eb);
    }
    if (rc == OPC_OK && strcmp(row.id, account_id) != 0) {
        rc = opc__fail(eb, OPC_ERR_SIGNATURE, "the account server answered another account");
    }
    if (rc == OPC_OK && row.iterations < OPC_ACCOUNT_MIN_ITERATIONS) {
        rc = opc__fail(eb, OPC_ERR_RANGE, "the account row asks for too few 2SKD iterations");
    }
    if (rc == OPC_OK) {
        rc = opc__account_from_row(&row, opc__remote_auk(x), out, eb);
    }
    if (rc == OPC_OK && *out == NULL) {
        rc = OPC_ERR_INTERNAL; /* not reached */
    }
    if (rc == OPC_OK) {
        (*out)->address = opc__strdup(opc__remote_address(x));
        rc = (*out)->address != NULL ? OPC_OK : OPC_ERR_NOMEM;
        /* From the MAC'd answer: the pin of the server this session reached. */
        (void)snprintf((*out)->server_pin, sizeof (*out)->server_pin, "%s", row.server_pin);
    }
    if (rc == OPC_OK) {
        /* The handle's store is the account server, over this session. */
        rc = rows_remote_open(x, &(*out)->rows, eb);
        x = NULL; /* the rows own it now, or closed it */
    }
    if (rc != OPC_OK && *out != NULL) {
        opc_account_free(*out);
        *out = NULL;
    }
    opc__proto_account_clear(&row);
    cJSON_Delete(ans);
    opc__remote_detach(x);
    return rc;
}

opc_err opc_account_remote_open(const char *dir, const char *account_id, const char *token,
                                const char *ca_file, opc_account **out, char *errbuf,
                                size_t errbuf_len)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (out != NULL) {
        *out = NULL;
    }
    opc_err rc = opc__require_init();
    if (rc == OPC_OK && (dir == NULL || account_id == NULL || token == NULL || out == NULL)) {
        (void)opc__fail(&eb, OPC_ERR_INVALID_ARG, "missing argument");
        rc = OPC_ERR_INVALID_ARG;
    }
    if (rc == OPC_OK) {
        rc = remote_open_account(dir, account_id, token, ca_file, out, &eb);
    }
    opc__ebuf_export(&eb, errbuf, errbuf_len);
    return rc;
}
