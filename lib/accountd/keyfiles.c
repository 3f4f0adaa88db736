/*
 * accountd/keyfiles.c - the files of op-account-server's data directory
 * besides the accounts (accountd.h): the server key every session
 * handshake is signed with (its pin is in every Connect server's
 * credentials) and the owner secret behind the answers for unknown
 * emails. Several servers may share one directory: each file is made once,
 * linked in whole and never replaced, so instances starting at once agree.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include <opconnect/account_server.h>

#include "accountd/accountd.h"
#include "core/alloc.h"
#include "core/file.h"
#include "core/json.h"
#include "core/log.h"
#include "core/rand.h"
#include "crypto/base64.h"
#include "crypto/key.h"
#include "wire/proto.h"

#define LOG "account"
#define KEY_FILE "server-key.jwk"
#define OWNER_SECRET_FILE "owner-secret"
#define KEY_FILE_MAX 16384

opc_err opc__ad_join(char out[OPC_AD_PATH_CAP], const char *dir, const char *name, opc__ebuf *eb)
{
    int n = snprintf(out, OPC_AD_PATH_CAP, "%s/%s", dir, name);
    return n > 0 && n < OPC_AD_PATH_CAP
               ? OPC_OK
               : opc__fail(eb, OPC_ERR_INVALID_ARG, "data directory path too long");
}

/* Load <dir>/server-key.jwk, or make it (atomic write, 0600) when missing. */
opc_err opc__ad_server_key(const char *dir, opc__key **out, opc__ebuf *eb)
{
    *out = NULL;
    char path[OPC_AD_PATH_CAP];
    opc_err rc = opc__ad_join(path, dir, KEY_FILE, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        if (errno != ENOENT) {
            return opc__fail(eb, OPC_ERR_IO, "%s: %s", path, strerror(errno));
        }
        opc__key *k = NULL;
        cJSON *jwk = NULL;
        char *text = NULL;
        size_t len = 0;
        rc = opc__key_generate_ec("", OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, &k);
        if (rc == OPC_OK) {
            rc = opc__jwk_export(k, true, &jwk);
        }
        if (rc == OPC_OK) {
            rc = opc__json_print(jwk, &text, &len);
        }
        opc__json_delete_secret(jwk);
        if (rc == OPC_OK) {
            /* Never over a key another instance on this directory made
             * meanwhile: that one is everybody's (read below). */
            rc = opc__file_write_new(dir, path, text, len, eb);
        } else {
            rc = opc__fail(eb, rc, "cannot make the server key: %s", opc_strerror(rc));
        }
        if (text != NULL) {
            opc__secret_free(text, len);
        }
        if (rc == OPC_OK) {
            opc__log(OPC_LOG_INFO, LOG, "created the server key %s", path);
            *out = k;
            return OPC_OK;
        }
        opc__key_free(k);
        if (rc != OPC_ERR_EXISTS || lstat(path, &sb) != 0) {
            return rc;
        }
        opc__ebuf_clear(eb);
    }
    if (!S_ISREG(sb.st_mode)) {
        return opc__fail(eb, OPC_ERR_IO, "%s is not a regular file", path);
    }
    if ((sb.st_mode & 077) != 0) {
        if (chmod(path, 0600) != 0) {
            return opc__fail(eb, OPC_ERR_IO, "%s: readable by others, and cannot chmod: %s", path,
                             strerror(errno));
        }
        opc__log(OPC_LOG_WARN, LOG, "%s was readable by others: now mode 0600", path);
    }
    char *text = NULL;
    size_t len = 0;
    rc = opc__file_read(path, KEY_FILE_MAX, &text, &len, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    opc__key *k = NULL;
    rc = opc__jwk_parse(text, len, OPC_JWK_REQUIRE_PRIVATE, &k, NULL);
    opc__secret_free(text, len);
    if (rc == OPC_OK && opc__key_check(k, OPC_KTY_EC, OPC_KEYOP_SIGN, NULL) != OPC_OK) {
        rc = OPC_ERR_KEY;
    }
    if (rc != OPC_OK) {
        opc__key_free(k);
        return opc__fail(eb, rc == OPC_ERR_NOMEM ? rc : OPC_ERR_KEY,
                         "%s is not a P-256 private JWK that may sign", path);
    }
    *out = k;
    return OPC_OK;
}

opc_err opc__ad_pin_of(const opc__key *k, char out[OPC_PROTO_HASH_B64 + 1])
{
    opc__key *pub = NULL;
    opc_err rc = opc__key_public(k, &pub);
    if (rc == OPC_OK) {
        rc = opc__proto_pin(pub, out);
    }
    opc__key_free(pub);
    return rc;
}

opc_err opc_accountd_pin(const char *data_dir, char *out, size_t out_len, char *errbuf,
                         size_t errbuf_len)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__require_init();
    if (rc == OPC_OK && (data_dir == NULL || data_dir[0] == '\0' || out == NULL ||
                         out_len < OPC_ACCOUNTD_PIN_LEN + 1)) {
        rc = opc__fail(&eb, OPC_ERR_INVALID_ARG, "missing argument or a short buffer");
    }
    opc__key *k = NULL;
    if (rc == OPC_OK) {
        rc = opc__ad_server_key(data_dir, &k, &eb);
    }
    char pin[OPC_PROTO_HASH_B64 + 1];
    if (rc == OPC_OK) {
        rc = opc__ad_pin_of(k, pin);
    }
    opc__key_free(k);
    if (rc == OPC_OK && out != NULL) {
        memcpy(out, pin, sizeof pin);
    }
    opc__ebuf_export(&eb, errbuf, errbuf_len);
    return rc;
}

/* Load <dir>/owner-secret (32 random bytes, b64url), or make it (written
 * whole, 0600, never over another's): the key of the answers for unknown emails, kept so that
 * they stay the same across restarts, as a real account's do. */
opc_err opc__ad_owner_secret(const char *dir, uint8_t out[32], opc__ebuf *eb)
{
    char path[OPC_AD_PATH_CAP];
    opc_err rc = opc__ad_join(path, dir, OWNER_SECRET_FILE, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        if (errno != ENOENT) {
            return opc__fail(eb, OPC_ERR_IO, "%s: %s", path, strerror(errno));
        }
        char text[64];
        rc = opc__rand_bytes(out, 32);
        if (rc == OPC_OK) {
            rc = opc__b64_encode_to(out, 32, OPC_B64URL, text, sizeof text, NULL);
        }
        if (rc == OPC_OK) {
            /* Never over one another instance made meanwhile (read below):
             * servers sharing the directory must give the same answers. */
            rc = opc__file_write_new(dir, path, text, strlen(text), eb);
        }
        OPENSSL_cleanse(text, sizeof text);
        if (rc != OPC_ERR_EXISTS || lstat(path, &sb) != 0) {
            return rc;
        }
        opc__ebuf_clear(eb);
    }
    if (!S_ISREG(sb.st_mode)) {
        return opc__fail(eb, OPC_ERR_IO, "%s is not a regular file", path);
    }
    char *text = NULL;
    size_t len = 0;
    rc = opc__file_read(path, 1024, &text, &len, eb);
    if (rc != OPC_OK) {
        opc__ebuf_prefix(eb, "%s", path);
        return rc;
    }
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) {
        len--;
    }
    size_t n = 0;
    if (opc__b64_decode_to(text, len, OPC_B64URL, out, 32, &n, NULL) != OPC_OK || n != 32) {
        rc = opc__fail(eb, OPC_ERR_IO, "%s is not 32 bytes in base64url", path);
    }
    opc__secret_free(text, len);
    return rc;
}
