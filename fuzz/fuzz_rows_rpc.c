/*
 * The owner's store protocol's decoders (wire/rows_rpc.h) and the store's
 * checks of a request (account/rows.h), fed the same input parsed as JSON
 * (size and depth limited). Properties: a refusal is OPC_ERR_PARSE (or
 * NOMEM) and leaves nothing decoded; what a decoder accepts its encoder
 * sends again, and that encoding decodes and encodes to the same JSON; the
 * table's checks of an accepted request refuse only with INVALID_ARG (or
 * NOMEM) and accept only known statements.
 */
#include "internal.h"

#include "fuzz_common.h"

#include "account/rows.h"
#include "core/alloc.h"
#include "core/json.h"
#include "wire/rows_rpc.h"

FUZZ_DEFINE_DEFAULT_INITIALIZE

static void must(bool ok)
{
    if (!ok) {
        abort();
    }
}

static cJSON *encode(const opc__rpc_request *r)
{
    cJSON *out = NULL;
    opc_err rc = r->read != NULL ? opc__rpc_read_encode(r->read, r->args, &out, NULL)
                                 : opc__rpc_batch_encode(r->steps, r->n_steps, &out, NULL);
    must(rc == OPC_OK); /* accepted, so it can be sent */
    return out;
}

/* The store's checks: only known statements pass, refusals are INVALID_ARG. */
static void table_checks(const opc__rpc_request *r)
{
    const opc__rows_stmt *s = NULL;
    if (r->read != NULL) {
        opc_err rc = opc__rows_check_read(r->read, r->args, &s, NULL);
        must(rc == OPC_OK ? s == opc__rows_find(r->read) : rc == OPC_ERR_INVALID_ARG);
        return;
    }
    size_t n_changes = 0;
    for (size_t i = 0; i < r->n_steps; i++) {
        opc_err rc = opc__rows_check_step(&r->steps[i], n_changes, &s, NULL);
        if (rc != OPC_OK) {
            must(rc == OPC_ERR_INVALID_ARG);
            return;
        }
        must(s != NULL && s == opc__rows_find(r->steps[i].stmt));
        n_changes += s->kind == OPC__ROWS_CHANGE;
    }
}

static void check_request(const cJSON *in)
{
    opc__rpc_request r;
    opc_err rc = opc__rpc_request_decode(in, &r, NULL);
    if (rc != OPC_OK) {
        must((rc == OPC_ERR_PARSE || rc == OPC_ERR_NOMEM) && r.steps == NULL && r.read == NULL);
        return;
    }
    table_checks(&r);
    cJSON *once = encode(&r);
    opc__rpc_request again;
    must(opc__rpc_request_decode(once, &again, NULL) == OPC_OK);
    cJSON *twice = encode(&again);
    must(cJSON_Compare(once, twice, 1));
    cJSON_Delete(twice);
    cJSON_Delete(once);
    opc__rpc_request_free(&again);
    opc__rpc_request_free(&r);
}

static void check_answers(const cJSON *in)
{
    const cJSON *rows = NULL;
    opc_err rc = opc__rpc_rows_decode(in, &rows, NULL);
    if (rc == OPC_OK) {
        cJSON *once = NULL;
        must(opc__rpc_rows_encode(rows, &once, NULL) == OPC_OK);
        const cJSON *rows2 = NULL;
        must(opc__rpc_rows_decode(once, &rows2, NULL) == OPC_OK && cJSON_Compare(rows, rows2, 1));
        cJSON_Delete(once);
    } else {
        must((rc == OPC_ERR_PARSE || rc == OPC_ERR_NOMEM) && rows == NULL);
    }
    int64_t *seqs = NULL;
    size_t n = 0;
    rc = opc__rpc_seqs_decode(in, &seqs, &n, NULL);
    if (rc == OPC_OK) {
        cJSON *once = NULL;
        must(opc__rpc_seqs_encode(seqs, n, &once, NULL) == OPC_OK);
        int64_t *seqs2 = NULL;
        size_t n2 = 0;
        must(opc__rpc_seqs_decode(once, &seqs2, &n2, NULL) == OPC_OK && n2 == n);
        for (size_t i = 0; i < n; i++) {
            must(seqs[i] == seqs2[i]);
        }
        opc__free(seqs2);
        cJSON_Delete(once);
    } else {
        must((rc == OPC_ERR_PARSE || rc == OPC_ERR_NOMEM) && seqs == NULL);
    }
    opc__free(seqs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *j = NULL;
    opc__json_limits lim = {.max_size = 1 << 20, .max_depth = 8};
    if (opc__json_parse((const char *)data, size, &lim, &j, NULL) != OPC_OK) {
        return 0;
    }
    check_request(j);
    check_answers(j);
    cJSON_Delete(j);
    return 0;
}
