/*
 * upstream/upstream.c - backend selection and the dispatchers (upstream.h).
 */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <opconnect/global.h>

#include "core/alloc.h"
#include "credentials/credentials.h"
#include "upstream/upstream.h"

/* opc_global_set_upstream_ca_file(): process-wide, "" for none. */
static pthread_mutex_t g_ca_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_ca_file[OPC_UPSTREAM_CA_PATH_MAX];

opc_err opc_global_set_upstream_ca_file(const char *path)
{
    if (path != NULL && strlen(path) >= sizeof g_ca_file) {
        return OPC_ERR_TOO_LARGE;
    }
    pthread_mutex_lock(&g_ca_lock);
    (void)snprintf(g_ca_file, sizeof g_ca_file, "%s", path == NULL ? "" : path);
    pthread_mutex_unlock(&g_ca_lock);
    return OPC_OK;
}

static opc_err make(const char *server_id, const char *account_id, opc__upstream **out,
                    opc__ebuf *eb)
{
    if (!opc__id_valid_str(server_id) || !opc__id_valid_str(account_id)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "upstream: invalid server or account id");
    }
    opc__upstream *u = opc__calloc(1, sizeof *u);
    if (u == NULL) {
        return OPC_ERR_NOMEM;
    }
    memcpy(u->server_id, server_id, OPC_ID_LEN + 1);
    memcpy(u->account_id, account_id, OPC_ID_LEN + 1);
    atomic_init(&u->interrupted, 0);
    *out = u;
    return OPC_OK;
}

opc_err opc__upstream_local_open(const char *path, const char *server_id, const char *account_id,
                                 opc__upstream **out, opc__ebuf *eb)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (path == NULL || path[0] == '\0') {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "upstream: missing account file path");
    }
    opc__upstream *u = NULL;
    opc_err rc = make(server_id, account_id, &u, eb);
    if (rc == OPC_OK) {
        rc = opc__upstream_local_init(u, path, eb);
    }
    if (rc != OPC_OK) {
        opc__upstream_close(u);
        return rc;
    }
    *out = u;
    return OPC_OK;
}

opc_err opc__upstream_open(const opc_credentials *creds, opc__upstream **out, opc__ebuf *eb)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (creds == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "upstream: missing credentials");
    }
    const char *url = opc_credentials_upstream_url(creds);
    if (url == NULL || url[0] == '\0') {
        return opc__fail(eb, OPC_ERR_CREDENTIALS, "credentials name no upstream");
    }
    size_t n = opc_credentials_upstream_count(creds);
    if (n > 1 || strstr(url, "://") != NULL) {
        char ca[OPC_UPSTREAM_CA_PATH_MAX];
        pthread_mutex_lock(&g_ca_lock);
        memcpy(ca, g_ca_file, sizeof ca);
        pthread_mutex_unlock(&g_ca_lock);
        const char *urls[OPC_CREDENTIALS_MAX_UPSTREAMS];
        for (size_t i = 0; i < n && i < OPC_CREDENTIALS_MAX_UPSTREAMS; i++) {
            urls[i] = opc_credentials_upstream_url_at(creds, i);
        }
        return opc__upstream_https_open_list(
            urls, n, opc_credentials_server_id(creds), opc_credentials_account_id(creds),
            opc__credentials_device_key(creds), opc__credentials_account_server_pin(creds),
            ca[0] != '\0' ? ca : NULL, out, eb);
    }
    return opc__upstream_local_open(url, opc_credentials_server_id(creds),
                                    opc_credentials_account_id(creds), out, eb);
}

opc_err opc__upstream_https_open(const char *url, const char *server_id, const char *account_id,
                                 const opc__key *device_key, const char *pin, const char *ca_file,
                                 opc__upstream **out, opc__ebuf *eb)
{
    if (out == NULL || url == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    const char *urls[1] = {url};
    return opc__upstream_https_open_list(urls, 1, server_id, account_id, device_key, pin, ca_file,
                                         out, eb);
}

opc_err opc__upstream_https_open_list(const char *const *urls, size_t n_urls, const char *server_id,
                                      const char *account_id, const opc__key *device_key,
                                      const char *pin, const char *ca_file, opc__upstream **out,
                                      opc__ebuf *eb)
{
    if (out == NULL || urls == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (n_urls < 1 || n_urls > OPC_CREDENTIALS_MAX_UPSTREAMS) {
        return opc__fail(eb, OPC_ERR_CREDENTIALS, "upstream: 1 to %d account servers",
                         OPC_CREDENTIALS_MAX_UPSTREAMS);
    }
    for (size_t i = 0; i < n_urls; i++) {
        const char *url = urls[i];
        if (url == NULL) {
            return OPC_ERR_INVALID_ARG;
        }
        if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
            return opc__fail(eb, OPC_ERR_CREDENTIALS, "upstream URL must be https://");
        }
        if (strncmp(url, "http://", 7) == 0 && !opc__credentials_url_loopback(url)) {
            return opc__fail(eb, OPC_ERR_CREDENTIALS,
                             "upstream: plain http:// is accepted for a loopback host only (use "
                             "https://)");
        }
    }
    opc__upstream *u = NULL;
    opc_err rc = make(server_id, account_id, &u, eb);
    if (rc == OPC_OK) {
        rc = opc__upstream_https_init(u, urls, n_urls, device_key, pin, ca_file, eb);
    }
    if (rc != OPC_OK) {
        opc__upstream_close(u);
        return rc;
    }
    *out = u;
    return OPC_OK;
}

void opc__upstream_close(opc__upstream *u)
{
    if (u == NULL) {
        return;
    }
    if (u->ops != NULL && u->ops->close != NULL) {
        u->ops->close(u);
    }
    opc__free(u);
}

void opc__upstream_interrupt(opc__upstream *u)
{
    if (u != NULL) {
        atomic_store(&u->interrupted, 1);
        if (u->ops != NULL && u->ops->wakeup != NULL) {
            u->ops->wakeup(u);
        }
    }
}

opc_err opc__upstream_changes(opc__upstream *u, int64_t since, size_t limit, int64_t wait_ms,
                              cJSON **out, int64_t *out_next, opc__ebuf *eb)
{
    if (u == NULL || u->ops == NULL || out == NULL || out_next == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    *out_next = since;
    if (since < 0 || limit == 0 || limit > OPC_UPSTREAM_MAX_LIMIT || wait_ms < 0 ||
        wait_ms > OPC_UPSTREAM_MAX_WAIT_MS) {
        return opc__fail(eb, OPC_ERR_RANGE, "upstream: since, limit or wait out of range");
    }
    return u->ops->changes(u, since, limit, wait_ms, out, out_next, eb);
}

typedef opc_err (*row_fn)(opc__upstream *u, const char *id, cJSON **out, opc__ebuf *eb);

static opc_err row(opc__upstream *u, row_fn fn, const char *id, cJSON **out, opc__ebuf *eb)
{
    if (u == NULL || fn == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (!opc__id_valid_str(id)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "upstream: invalid id");
    }
    return fn(u, id, out, eb);
}

opc_err opc__upstream_issuer_key(opc__upstream *u, const char *kid, cJSON **out, opc__ebuf *eb)
{
    return row(u, u == NULL ? NULL : u->ops->issuer_key, kid, out, eb);
}

opc_err opc__upstream_access(opc__upstream *u, const char *vault, cJSON **out, opc__ebuf *eb)
{
    return row(u, u == NULL ? NULL : u->ops->access, vault, out, eb);
}

opc_err opc__upstream_vault(opc__upstream *u, const char *vault, cJSON **out, opc__ebuf *eb)
{
    return row(u, u == NULL ? NULL : u->ops->vault, vault, out, eb);
}

opc_err opc__upstream_item(opc__upstream *u, const char *item, cJSON **out, opc__ebuf *eb)
{
    return row(u, u == NULL ? NULL : u->ops->item, item, out, eb);
}

/* The checks of a page: an id, the key after which it starts ("" or an id), its size. */
static opc_err page_args(opc__upstream *u, const char *id, const char *after, size_t limit,
                         cJSON **out, opc__ebuf *eb)
{
    if (u == NULL || u->ops == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (!opc__id_valid_str(id) ||
        (after != NULL && after[0] != '\0' && !opc__id_valid_str(after))) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "upstream: invalid id");
    }
    if (limit == 0 || limit > OPC_UPSTREAM_MAX_LIMIT) {
        return opc__fail(eb, OPC_ERR_RANGE, "upstream: page size out of range");
    }
    return OPC_OK;
}

opc_err opc__upstream_vault_items(opc__upstream *u, const char *vault, const char *after,
                                  size_t limit, cJSON **out, opc__ebuf *eb)
{
    opc_err rc = page_args(u, vault, after, limit, out, eb);
    return rc == OPC_OK ? u->ops->vault_items(u, vault, after, limit, out, eb) : rc;
}

opc_err opc__upstream_item_files(opc__upstream *u, const char *item, const char *after_file,
                                 int64_t after_idx, size_t limit, cJSON **out, opc__ebuf *eb)
{
    opc_err rc = page_args(u, item, after_file, limit, out, eb);
    return rc == OPC_OK ? u->ops->item_files(u, item, after_file, after_idx, limit, out, eb) : rc;
}

opc_err opc__upstream_vault_files(opc__upstream *u, const char *vault, const char *after_item,
                                  const char *after_file, int64_t after_idx, const char *last_item,
                                  size_t limit, cJSON **out, opc__ebuf *eb)
{
    opc_err rc = page_args(u, vault, after_file, limit, out, eb);
    if (rc == OPC_OK && (!opc__id_valid_str(after_item) || !opc__id_valid_str(last_item) ||
                         strcmp(after_item, last_item) > 0)) {
        rc = opc__fail(eb, OPC_ERR_INVALID_ARG, "upstream: invalid item range");
    }
    return rc == OPC_OK ? u->ops->vault_files(u, vault, after_item, after_file, after_idx,
                                              last_item, limit, out, eb)
                        : rc;
}

opc_err opc__upstream_token(opc__upstream *u, const char *jti, cJSON **out, opc__ebuf *eb)
{
    return row(u, u == NULL ? NULL : u->ops->token, jti, out, eb);
}

/* Clear the outputs and check what every write needs. */
static opc_err write_args(opc__upstream *u, const char *vault, const char *item,
                          int64_t expected_version, cJSON **out_item, cJSON **out_vault,
                          opc__ebuf *eb)
{
    if (out_item != NULL) {
        *out_item = NULL;
    }
    if (out_vault != NULL) {
        *out_vault = NULL;
    }
    if (u == NULL || u->ops == NULL || out_item == NULL || out_vault == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    if (!opc__id_valid_str(vault) || !opc__id_valid_str(item)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "upstream: invalid vault or item id");
    }
    if (expected_version < 0) {
        return opc__fail(eb, OPC_ERR_RANGE, "upstream: expected version must not be negative");
    }
    return OPC_OK;
}

static opc_err cannot_write(opc__ebuf *eb)
{
    return opc__fail(eb, OPC_ERR_UNSUPPORTED, "upstream: this backend cannot write items");
}

opc_err opc__upstream_item_put(opc__upstream *u, const opc__item_write *w, cJSON **out_item,
                               cJSON **out_vault, opc__ebuf *eb)
{
    opc_err rc = w == NULL ? write_args(NULL, NULL, NULL, 0, out_item, out_vault, eb)
                           : write_args(u, w->vault_id, w->item_id, w->expected_version, out_item,
                                        out_vault, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (w->overview == NULL || w->details == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "upstream: an item write needs both envelopes");
    }
    if (u->ops->item_put == NULL) {
        return cannot_write(eb);
    }
    return u->ops->item_put(u, w, out_item, out_vault, eb);
}

opc_err opc__upstream_item_delete(opc__upstream *u, const char *vault, const char *item,
                                  int64_t expected_version, cJSON **out_item, cJSON **out_vault,
                                  opc__ebuf *eb)
{
    opc_err rc = write_args(u, vault, item, expected_version, out_item, out_vault, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    if (u->ops->item_delete == NULL) {
        return cannot_write(eb);
    }
    return u->ops->item_delete(u, vault, item, expected_version, out_item, out_vault, eb);
}
