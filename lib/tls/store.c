/*
 * tls/store.c - the ACME files in the data directory:
 *
 *   <data_dir>/acme/                 0700
 *     account.json                   0600 {"directory","kid","key":<private JWK>}
 *     <domain>/                      0700
 *       fullchain.pem                0600 leaf first, then the CA's chain
 *       privkey.pem                  0600 PKCS#8
 *
 * Files are written to a temporary name, synced and renamed, so a crash
 * leaves the old or the new version, never half of one. The certificate's
 * key is written before the chain: a chain on disk always has its key.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/file.h"
#include "core/json.h"
#include "core/rand.h"
#include "tls/acme.h"

#define PATH_CAP 4096

static opc_err path_join(char out[PATH_CAP], const char *a, const char *b, const char *c)
{
    int n = snprintf(out, PATH_CAP, "%s/acme%s%s%s%s", a, b != NULL ? "/" : "",
                     b != NULL ? b : "", c != NULL ? "/" : "", c != NULL ? c : "");
    return n > 0 && n < PATH_CAP ? OPC_OK : OPC_ERR_TOO_LARGE;
}

/* mkdir -p path with mode 0700 for what it creates. */
static opc_err mkdirs(const char *path, opc__ebuf *eb)
{
    char tmp[PATH_CAP];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "data directory: bad path");
    }
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0') {
            continue;
        }
        char saved = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
            return opc__fail(eb, OPC_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
        }
        tmp[i] = saved;
    }
    return OPC_OK;
}

opc_err opc__acme_store_load_cert(const opc__acme_config *cfg, int64_t now, opc__certkey **out,
                                  opc__ebuf *eb)
{
    *out = NULL;
    char chain[PATH_CAP];
    char key[PATH_CAP];
    if (path_join(chain, cfg->data_dir, cfg->domain, "fullchain.pem") != OPC_OK ||
        path_join(key, cfg->data_dir, cfg->domain, "privkey.pem") != OPC_OK) {
        return opc__fail(eb, OPC_ERR_TOO_LARGE, "data directory path too long");
    }
    if (access(chain, F_OK) != 0) {
        opc__ebuf_clear(eb);
        return OPC_ERR_NOT_FOUND;
    }
    opc__certkey *ck = NULL;
    opc_err rc = opc__certkey_load_files(chain, key, now, &ck, eb);
    if (rc != OPC_OK) {
        return OPC_ERR_NOT_FOUND; /* eb says why; a new certificate replaces it */
    }
    if (!opc__certkey_matches_host(ck, cfg->domain)) {
        opc__certkey_unref(ck);
        opc__fail(eb, OPC_ERR_NOT_FOUND, "%s is not valid for %s", chain, cfg->domain);
        return OPC_ERR_NOT_FOUND;
    }
    *out = ck;
    return OPC_OK;
}

opc_err opc__acme_store_save_cert(const opc__acme_config *cfg, const char *chain_pem,
                                  size_t chain_len, const char *key_pem, size_t key_len,
                                  opc__ebuf *eb)
{
    char dir[PATH_CAP];
    char chain[PATH_CAP];
    char key[PATH_CAP];
    if (path_join(dir, cfg->data_dir, cfg->domain, NULL) != OPC_OK ||
        path_join(chain, cfg->data_dir, cfg->domain, "fullchain.pem") != OPC_OK ||
        path_join(key, cfg->data_dir, cfg->domain, "privkey.pem") != OPC_OK) {
        return opc__fail(eb, OPC_ERR_TOO_LARGE, "data directory path too long");
    }
    opc_err rc = mkdirs(dir, eb);
    if (rc == OPC_OK) {
        rc = opc__file_write_atomic(dir, key, key_pem, key_len, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__file_write_atomic(dir, chain, chain_pem, chain_len, eb);
    }
    return rc;
}

opc_err opc__acme_store_load_account(const opc__acme_config *cfg, opc__key **key,
                                     char kid[OPC_ACME_URL_MAX], opc__ebuf *eb)
{
    *key = NULL;
    kid[0] = '\0';
    char path[PATH_CAP];
    if (path_join(path, cfg->data_dir, NULL, "account.json") != OPC_OK) {
        return opc__fail(eb, OPC_ERR_TOO_LARGE, "data directory path too long");
    }
    char *text = NULL;
    size_t len = 0;
    opc_err rc = opc__file_read(path, (size_t)64 * 1024, &text, &len, eb);
    if (rc != OPC_OK) {
        if (access(path, F_OK) == 0) {
            opc__ebuf_prefix(eb, "%s", path);
            return rc;
        }
        /* No account yet: a new key, saved before its first use. */
        opc__key *k = NULL;
        rc = opc__key_generate_ec(NULL, OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, &k);
        if (rc == OPC_OK) {
            rc = opc__acme_store_save_account(cfg, k, "", eb);
        } else {
            opc__fail(eb, rc, "cannot generate the ACME account key");
        }
        if (rc != OPC_OK) {
            opc__key_free(k);
            return rc;
        }
        *key = k;
        return OPC_OK;
    }
    cJSON *root = NULL;
    rc = opc__json_parse(text, len, NULL, &root, eb);
    opc__secret_free(text, len + 1);
    const char *dir = NULL;
    const char *stored_kid = NULL;
    if (rc == OPC_OK) {
        rc = opc__json_get_str(root, "directory", true, "account.json", &dir, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__json_get_str(root, "kid", true, "account.json", &stored_kid, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__jwk_import(opc__json_member(root, "key"), OPC_JWK_REQUIRE_PRIVATE, key, eb);
    }
    if (rc == OPC_OK && opc__key_type(*key) != OPC_KTY_EC) {
        opc__key_free(*key);
        *key = NULL;
        rc = opc__fail(eb, OPC_ERR_KEY, "account.json: the key is not P-256");
    }
    if (rc == OPC_OK && strcmp(dir, cfg->directory_url) == 0 && strlen(stored_kid) > 0 &&
        opc__acme_url_ok(stored_kid)) {
        memcpy(kid, stored_kid, strlen(stored_kid) + 1);
    }
    opc__json_delete_secret(root);
    if (rc != OPC_OK) {
        opc__ebuf_prefix(eb, "%s", path);
    }
    return rc;
}

opc_err opc__acme_store_save_account(const opc__acme_config *cfg, const opc__key *key,
                                     const char *kid, opc__ebuf *eb)
{
    char dir[PATH_CAP];
    char path[PATH_CAP];
    if (path_join(dir, cfg->data_dir, NULL, NULL) != OPC_OK ||
        path_join(path, cfg->data_dir, NULL, "account.json") != OPC_OK) {
        return opc__fail(eb, OPC_ERR_TOO_LARGE, "data directory path too long");
    }
    opc_err rc = mkdirs(dir, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    cJSON *jwk = NULL;
    rc = opc__jwk_export(key, true, &jwk);
    cJSON *root = rc == OPC_OK ? cJSON_CreateObject() : NULL;
    if (rc == OPC_OK &&
        (root == NULL || cJSON_AddStringToObject(root, "directory", cfg->directory_url) == NULL ||
         cJSON_AddStringToObject(root, "kid", kid) == NULL)) {
        rc = OPC_ERR_NOMEM;
    }
    if (rc == OPC_OK) {
        cJSON_AddItemToObject(root, "key", jwk);
        jwk = NULL;
    }
    char *text = NULL;
    size_t len = 0;
    if (rc == OPC_OK) {
        rc = opc__json_print(root, &text, &len);
    }
    opc__json_delete_secret(jwk);
    opc__json_delete_secret(root);
    if (rc != OPC_OK) {
        return opc__fail(eb, rc, "cannot encode the ACME account");
    }
    rc = opc__file_write_atomic(dir, path, text, len, eb);
    opc__secret_free(text, len + 1);
    return rc;
}
