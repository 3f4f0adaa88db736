/*
 * store/store.c - the store's dispatchers (store.h): the checks every
 * backend would make, then the backend.
 */
#include "internal.h"

#include <stdarg.h>
#include <string.h>

#include "core/alloc.h"
#include "store/store.h"

/* Whether each of the n ids is one (NULL or "" allowed where opt). */
static bool ids(size_t n, ...)
{
    va_list ap;
    va_start(ap, n);
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        const char *id = va_arg(ap, const char *);
        bool opt = va_arg(ap, int) != 0;
        ok = (opt && (id == NULL || id[0] == '\0')) || opc__id_valid_str(id);
    }
    va_end(ap);
    return ok;
}

/* The common start of a call: s usable, *out cleared, ids checked. */
#define BEGIN(s, out, idsok)                                                                       \
    do {                                                                                           \
        if ((out) != NULL) {                                                                       \
            *(out) = NULL;                                                                         \
        }                                                                                          \
        if ((s) == NULL || (s)->ops == NULL || (out) == NULL) {                                    \
            return OPC_ERR_INVALID_ARG;                                                            \
        }                                                                                          \
        if (!(idsok)) {                                                                            \
            return opc__fail(eb, OPC_ERR_INVALID_ARG, "store: invalid id");                        \
        }                                                                                          \
    } while (0)

static opc_err limit_ok(size_t limit, opc__ebuf *eb)
{
    return limit >= 1 && limit <= OPC_STORE_MAX_LIMIT
               ? OPC_OK
               : opc__fail(eb, OPC_ERR_RANGE, "store: page size out of range");
}

opc_err opc__store_account(opc__store *s, const char *account, opc__ebuf *eb)
{
    if (s == NULL || s->ops == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (!opc__id_valid_str(account)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "store: invalid id");
    }
    return s->ops->account(s, account, eb);
}

opc_err opc__store_device_key(opc__store *s, const char *account, const char *server,
                              opc__key **out, opc__ebuf *eb)
{
    BEGIN(s, out, ids(2, account, 0, server, 0));
    return s->ops->device_key(s, account, server, out, eb);
}

opc_err opc__store_changes(opc__store *s, const char *account, const char *server, int64_t since,
                           size_t limit, int64_t wait_ms, cJSON **out, int64_t *out_next,
                           opc__ebuf *eb)
{
    BEGIN(s, out, ids(2, account, 0, server, 0));
    if (out_next == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out_next = since;
    if (since < 0 || wait_ms < 0 || wait_ms > OPC_STORE_MAX_WAIT_MS) {
        return opc__fail(eb, OPC_ERR_RANGE, "store: since or wait out of range");
    }
    opc_err rc = limit_ok(limit, eb);
    return rc == OPC_OK
               ? s->ops->changes(s, account, server, since, limit, wait_ms, out, out_next, eb)
               : rc;
}

opc_err opc__store_issuer_key(opc__store *s, const char *account, const char *kid, cJSON **out,
                              opc__ebuf *eb)
{
    BEGIN(s, out, ids(2, account, 0, kid, 0));
    return s->ops->issuer_key(s, account, kid, out, eb);
}

opc_err opc__store_access(opc__store *s, const char *account, const char *server, const char *vault,
                          cJSON **out, opc__ebuf *eb)
{
    BEGIN(s, out, ids(3, account, 0, server, 0, vault, 0));
    return s->ops->access(s, account, server, vault, out, eb);
}

opc_err opc__store_vault(opc__store *s, const char *account, const char *server, const char *vault,
                         cJSON **out, opc__ebuf *eb)
{
    BEGIN(s, out, ids(3, account, 0, server, 0, vault, 0));
    return s->ops->vault(s, account, server, vault, out, eb);
}

opc_err opc__store_vault_items(opc__store *s, const char *account, const char *server,
                               const char *vault, const char *after, size_t limit, cJSON **out,
                               opc__ebuf *eb)
{
    BEGIN(s, out, ids(4, account, 0, server, 0, vault, 0, after, 1));
    opc_err rc = limit_ok(limit, eb);
    return rc == OPC_OK ? s->ops->vault_items(s, account, server, vault, after, limit, out, eb)
                        : rc;
}

opc_err opc__store_item(opc__store *s, const char *account, const char *server, const char *item,
                        cJSON **out, opc__ebuf *eb)
{
    BEGIN(s, out, ids(3, account, 0, server, 0, item, 0));
    return s->ops->item(s, account, server, item, out, eb);
}

opc_err opc__store_item_files(opc__store *s, const char *account, const char *server,
                              const char *item, const char *after_file, int64_t after_idx,
                              size_t limit, cJSON **out, opc__ebuf *eb)
{
    BEGIN(s, out, ids(4, account, 0, server, 0, item, 0, after_file, 1));
    opc_err rc = limit_ok(limit, eb);
    return rc == OPC_OK
               ? s->ops->item_files(s, account, server, item, after_file, after_idx, limit, out, eb)
               : rc;
}

opc_err opc__store_vault_files(opc__store *s, const char *account, const char *server,
                               const char *vault, const char *after_item, const char *after_file,
                               int64_t after_idx, const char *last_item, size_t limit, cJSON **out,
                               opc__ebuf *eb)
{
    BEGIN(s, out,
          ids(6, account, 0, server, 0, vault, 0, after_item, 0, last_item, 0, after_file, 1));
    if (strcmp(after_item, last_item) > 0) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "store: invalid item range");
    }
    opc_err rc = limit_ok(limit, eb);
    return rc == OPC_OK ? s->ops->vault_files(s, account, server, vault, after_item, after_file,
                                              after_idx, last_item, limit, out, eb)
                        : rc;
}

opc_err opc__store_token(opc__store *s, const char *account, const char *server, const char *jti,
                         cJSON **out, opc__ebuf *eb)
{
    BEGIN(s, out, ids(3, account, 0, server, 0, jti, 0));
    return s->ops->token(s, account, server, jti, out, eb);
}

opc_err opc__store_item_put(opc__store *s, const char *account, const char *server,
                            const opc__item_write *w, cJSON **out_item, cJSON **out_vault,
                            opc__ebuf *eb)
{
    if (out_vault != NULL) {
        *out_vault = NULL;
    }
    BEGIN(s, out_item, out_vault != NULL && w != NULL && ids(2, account, 0, server, 0));
    return s->ops->item_put(s, account, server, w, out_item, out_vault, eb);
}

opc_err opc__store_item_delete(opc__store *s, const char *account, const char *server,
                               const char *vault, const char *item, int64_t expected_version,
                               cJSON **out_item, cJSON **out_vault, opc__ebuf *eb)
{
    if (out_vault != NULL) {
        *out_vault = NULL;
    }
    BEGIN(s, out_item, out_vault != NULL && ids(4, account, 0, server, 0, vault, 0, item, 0));
    return s->ops->item_delete(s, account, server, vault, item, expected_version, out_item,
                               out_vault, eb);
}

uint64_t opc__store_generation(opc__store *s, const char *account)
{
    return s != NULL && s->ops != NULL && opc__id_valid_str(account)
               ? s->ops->generation(s, account)
               : 0;
}

bool opc__store_wait(opc__store *s, const char *account, uint64_t gen, int64_t timeout_ms)
{
    return s != NULL && s->ops != NULL && opc__id_valid_str(account) && timeout_ms >= 0 &&
           s->ops->wait(s, account, gen, timeout_ms);
}

opc_err opc__store_owner_create(opc__store *s, const opc__proto_signup *su, opc__ebuf *eb)
{
    if (s == NULL || s->ops == NULL || su == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (!opc__id_valid_str(su->account.id)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "store: invalid id");
    }
    return s->ops->owner_create(s, su, eb);
}

opc_err opc__store_owner_lookup(opc__store *s, const char *email, opc__store_owner *out,
                                opc__ebuf *eb)
{
    if (s == NULL || s->ops == NULL || email == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    memset(out, 0, sizeof *out);
    return s->ops->owner_lookup(s, email, out, eb);
}

opc_err opc__store_owner_account(opc__store *s, const char *account, opc__proto_account *out,
                                 opc__ebuf *eb)
{
    if (s == NULL || s->ops == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    memset(out, 0, sizeof *out);
    if (!opc__id_valid_str(account)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "store: invalid id");
    }
    return s->ops->owner_account(s, account, out, eb);
}

opc_err opc__store_owner_read(opc__store *s, const char *account, const char *name,
                              const cJSON *args, cJSON **rows, opc__ebuf *eb)
{
    BEGIN(s, rows, opc__id_valid_str(account));
    if (name == NULL || !cJSON_IsArray(args)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "store: missing statement or arguments");
    }
    return s->ops->owner_read(s, account, name, args, rows, eb);
}

opc_err opc__store_owner_batch(opc__store *s, const char *account, const opc__rpc_step *steps,
                               size_t n, int64_t *seqs, size_t *n_seqs, opc__ebuf *eb)
{
    if (s == NULL || s->ops == NULL || seqs == NULL || n_seqs == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *n_seqs = 0;
    if (!opc__id_valid_str(account)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "store: invalid id");
    }
    if (steps == NULL || n == 0 || n > OPC__RPC_MAX_STEPS) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "store: a batch has 1 to %d statements",
                         OPC__RPC_MAX_STEPS);
    }
    return s->ops->owner_batch(s, account, steps, n, seqs, n_seqs, eb);
}

int opc__store_count(opc__store *s)
{
    return s != NULL && s->ops != NULL ? s->ops->count(s) : -1;
}

void opc__store_shutdown(opc__store *s)
{
    if (s != NULL && s->ops != NULL) {
        s->ops->shutdown(s);
    }
}

void opc__store_close(opc__store *s)
{
    if (s == NULL) {
        return;
    }
    if (s->ops != NULL) {
        s->ops->close(s);
    }
    opc__free(s);
}
