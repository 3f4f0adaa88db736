/*
 * account/session.c - unlocked sessions, so that a script pays for 2SKD once.
 *
 * <dir>/session-<accountId>, mode 0600 (dir created 0700), holds
 *
 *   {"accountId": <id>, "exp": <Unix seconds>,
 *    "session": envelope_S(AUK, AAD "opconnect/session/v1|<accountId>|<exp>")}
 *
 * where S is a fresh random 32-byte session key (kid "session") returned to
 * the caller as b64url text: the session token. The file alone holds only
 * ciphertext; the token alone is a random key. The AAD binds the envelope to
 * the account and the expiry, so editing exp breaks decryption.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account/account_int.h"
#include "core/alloc.h"
#include "core/file.h"
#include "core/json.h"
#include "core/rand.h"
#include "core/secret.h"
#include "core/time.h"
#include "crypto/base64.h"
#include "crypto/envelope.h"
#include "wire/labels.h"

#define SESSION_KID "session"
#define SESSION_MAX_FILE 8192
#define SESSION_MAX_TTL (INT64_C(366) * 24 * 3600)

static opc_err session_path(const opc_account *a, const char *dir, char out[PATH_MAX],
                            opc__ebuf *eb)
{
    int n = snprintf(out, PATH_MAX, "%s/session-%s", dir, a->id);
    if (n < 0 || n >= PATH_MAX) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "session directory path is too long");
    }
    return OPC_OK;
}

opc_err opc__acct_session_dir(const char *dir, opc__ebuf *eb)
{
    if (mkdir(dir, 0700) == 0) {
        return OPC_OK;
    }
    struct stat sb;
    if (errno == EEXIST && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        return OPC_OK;
    }
    return opc__fail(eb, OPC_ERR_IO, "cannot create the session directory %s", dir);
}

static opc_err write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return OPC_ERR_IO;
        }
        p += w;
        n -= (size_t)w;
    }
    return OPC_OK;
}

static opc_err session_save(opc_account *a, const char *dir, int64_t ttl_s, opc_secret **out_token,
                            opc__ebuf *eb)
{
    if (ttl_s <= 0 || ttl_s > SESSION_MAX_TTL) {
        return opc__fail(eb, OPC_ERR_RANGE, "session lifetime must be 1 s to 366 days");
    }
    opc_err rc = opc__acct_need_unlocked(a, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    char path[PATH_MAX];
    rc = session_path(a, dir, path, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_session_dir(dir, eb);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    int64_t exp = opc__now_s() + ttl_s;
    char aad[OPC_WIRE_LABEL_MAX];
    rc = opc__wire_session_aad(aad, sizeof aad, a->id, exp);

    opc__key *sk = NULL;
    cJSON *doc = NULL;
    cJSON *env = NULL;
    char *text = NULL;
    size_t text_len = 0;
    char *token = NULL;
    size_t token_len = 0;
    if (rc == OPC_OK) {
        rc = opc__key_generate_oct(SESSION_KID, OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &sk);
    }
    if (rc == OPC_OK) {
        rc = opc__envelope_seal(sk, aad, strlen(aad), a->auk, sizeof a->auk, &env);
    }
    if (rc == OPC_OK) {
        doc = cJSON_CreateObject();
        if (doc == NULL || cJSON_AddStringToObject(doc, "accountId", a->id) == NULL ||
            cJSON_AddNumberToObject(doc, "exp", (double)exp) == NULL) {
            rc = OPC_ERR_NOMEM;
        } else {
            cJSON_AddItemToObject(doc, "session", env);
            env = NULL;
        }
    }
    if (rc == OPC_OK) {
        rc = opc__json_print(doc, &text, &text_len);
    }
    if (rc == OPC_OK) {
        rc = opc__b64_encode(opc__key_oct(sk), 32, OPC_B64URL, &token, &token_len);
    }
    if (rc == OPC_OK) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            rc = opc__fail(eb, OPC_ERR_IO, "cannot write the session file in %s", dir);
        } else {
            if (fchmod(fd, 0600) != 0 || write_all(fd, text, text_len) != OPC_OK) {
                rc = opc__fail(eb, OPC_ERR_IO, "cannot write the session file in %s", dir);
            }
            if (close(fd) != 0 && rc == OPC_OK) {
                rc = opc__fail(eb, OPC_ERR_IO, "cannot write the session file in %s", dir);
            }
            if (rc != OPC_OK) {
                (void)unlink(path);
            }
        }
    }
    if (rc == OPC_OK) {
        rc = opc__secret_new(token, token_len, out_token);
    }
    opc__secret_free(token, token_len);
    opc__free(text);
    cJSON_Delete(doc);
    cJSON_Delete(env);
    opc__key_free(sk);
    return rc;
}

opc_err opc_account_session_save(opc_account *a, const char *dir, int64_t ttl_s,
                                 opc_secret **out_token)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(
        a, OPC__ACCT_FILE, dir != NULL && out_token != NULL && dir[0] != '\0', NULL, out_token, &eb);
    if (rc == OPC_OK) {
        rc = session_save(a, dir, ttl_s, out_token, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

opc_err opc__acct_session_load(const char *path, const char *dir, char **out, size_t *out_len,
                               opc__ebuf *eb)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return errno == ENOENT
                   ? opc__fail(eb, OPC_ERR_NOT_FOUND, "no session in %s", dir)
                   : opc__fail(eb, OPC_ERR_IO, "cannot read the session file in %s", dir);
    }
    char *buf = opc__malloc(SESSION_MAX_FILE + 1);
    size_t n = 0;
    opc_err rc = buf == NULL ? OPC_ERR_NOMEM : OPC_OK;
    while (rc == OPC_OK) {
        ssize_t r = read(fd, buf + n, SESSION_MAX_FILE + 1 - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            rc = opc__fail(eb, OPC_ERR_IO, "cannot read the session file in %s", dir);
        } else if (r == 0) {
            break;
        } else {
            n += (size_t)r;
            if (n > SESSION_MAX_FILE) {
                rc = opc__fail(eb, OPC_ERR_PARSE, "the session file in %s is malformed", dir);
            }
        }
    }
    (void)close(fd);
    if (rc != OPC_OK) {
        opc__free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return OPC_OK;
}

static opc_err session_unlock(opc_account *a, const char *dir, const char *token, opc__ebuf *eb)
{
    char path[PATH_MAX];
    opc_err rc = session_path(a, dir, path, eb);
    char *text = NULL;
    size_t len = 0;
    if (rc == OPC_OK) {
        rc = opc__acct_session_load(path, dir, &text, &len, eb);
    }
    if (rc != OPC_OK) {
        return rc;
    }
    cJSON *doc = NULL;
    const char *acct = NULL;
    int64_t exp = 0;
    opc__key *sk = NULL;
    opc_secret *auk = NULL;
    uint8_t raw[32];
    size_t raw_len = 0;
    static const char *const members[] = {"accountId", "exp", "session", NULL};
    rc = opc__json_parse(text, len, NULL, &doc, NULL);
    if (rc == OPC_OK) {
        rc = opc__json_only_members(doc, members, "session file", NULL);
    }
    if (rc == OPC_OK) {
        rc = opc__json_get_str(doc, "accountId", true, "session file", &acct, NULL);
    }
    if (rc == OPC_OK) {
        rc = opc__json_get_int(doc, "exp", true, "session file", 0, INT64_C(1) << 40, &exp, NULL);
    }
    if (rc != OPC_OK) {
        rc = rc == OPC_ERR_NOMEM
                 ? rc
                 : opc__fail(eb, OPC_ERR_PARSE, "the session file in %s is malformed", dir);
    }
    if (rc == OPC_OK && (acct == NULL || strcmp(acct, a->id) != 0)) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "no session for this account in %s", dir);
    }
    if (rc == OPC_OK && opc__now_s() >= exp) {
        rc = opc__fail(eb, OPC_ERR_RANGE, "the session has expired: unlock with the password");
    }
    if (rc == OPC_OK) {
        if (opc__b64_decode_to(token, strlen(token), OPC_B64URL, raw, sizeof raw, &raw_len, NULL) !=
                OPC_OK ||
            raw_len != sizeof raw) {
            rc = opc__fail(eb, OPC_ERR_DECRYPT, "wrong session token");
        }
    }
    if (rc == OPC_OK) {
        rc = opc__key_from_oct(raw, sizeof raw, SESSION_KID, OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT,
                               &sk);
    }
    if (rc == OPC_OK) {
        char aad[OPC_WIRE_LABEL_MAX];
        rc = opc__wire_session_aad(aad, sizeof aad, a->id, exp);
        const cJSON *env_json = opc__json_member(doc, "session");
        char *env_text = NULL;
        if (rc == OPC_OK) {
            rc = env_json == NULL ? OPC_ERR_PARSE : opc__json_print(env_json, &env_text, NULL);
        }
        if (rc == OPC_OK) {
            rc = opc__acct_open(sk, aad, env_text, "session", &auk, NULL);
        }
        opc__free(env_text);
        if (rc == OPC_OK && opc_secret_len(auk) != 32) {
            rc = OPC_ERR_DECRYPT;
        }
        if (rc != OPC_OK && rc != OPC_ERR_NOMEM) {
            rc = opc__fail(eb, OPC_ERR_DECRYPT, "wrong session token");
        }
    }
    if (rc == OPC_OK) {
        rc = opc__acct_unlock_auk(a, opc_secret_data(auk), eb);
    }
    opc__wipe(raw, sizeof raw);
    opc_secret_free(auk);
    opc__key_free(sk);
    cJSON_Delete(doc);
    opc__free(text);
    return rc;
}

opc_err opc_account_session_unlock(opc_account *a, const char *dir, const char *token)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_FILE, dir != NULL && token != NULL && dir[0] != '\0',
                                 NULL, NULL, &eb);
    if (rc == OPC_OK) {
        rc = session_unlock(a, dir, token, &eb);
    }
    return opc__acct_finish(a, rc, &eb);
}

opc_err opc_account_session_end(opc_account *a, const char *dir)
{
    opc__ebuf eb;
    opc_err rc = opc__acct_enter(a, OPC__ACCT_FILE, dir != NULL && dir[0] != '\0', NULL, NULL, &eb);
    char path[PATH_MAX];
    if (rc == OPC_OK) {
        rc = session_path(a, dir, path, &eb);
    }
    if (rc == OPC_OK && unlink(path) != 0 && errno != ENOENT) {
        rc = opc__fail(&eb, OPC_ERR_IO, "cannot delete the session file in %s", dir);
    }
    return opc__acct_finish(a, rc, &eb);
}

opc_err opc__acct_session_store(const char *dir, const char *path, const char *text, size_t len,
                                opc__ebuf *eb)
{
    opc__ebuf feb;
    opc__ebuf_clear(&feb);
    opc_err rc = opc__file_write_atomic(dir, path, text, len, &feb);
    if (rc != OPC_OK && rc != OPC_ERR_NOMEM) {
        rc = opc__fail(eb, OPC_ERR_IO, "cannot write the session file in %s", dir);
    }
    return rc;
}
