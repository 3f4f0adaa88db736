/*
 * account/owner.c - creating, opening, unlocking and closing an account, and
 * the owner's keyset (design: schema.c).
 *
 * No SQL (docs/protocol.md, "The owner's store protocol"): the account row
 * is read by named reads through a->rows (account.get when the handle is
 * opened, account.keyset to unlock, account.srp for sign-in), and create
 * writes it with ONE batch (account.insert, the issuer key's change and
 * account.issuer_key_insert, account.srp_insert for a sign-up) that the
 * store runs in the transaction which makes the file's schema
 * (opc__acct_schema_create: the file and its schema are the store's own).
 * The server's entry points (opc__account_rows_read / _batch) refuse the
 * statements that only the store runs.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account/account_int.h"
#include "account/signup.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/rand.h"
#include "core/secret.h"
#include "core/time.h"
#include "crypto/base64.h"
#include "crypto/srp.h"
#include "wire/labels.h"

#define AUK_KID "mp"
#define KDF_ALG OPC_2SKD_LABEL_AUK
/* Iteration counts above this are refused too (a denial-of-service file). */
#define MAX_ITERATIONS 100000000u

/* Open one of the owner's sealed keys; its AAD names which one it is. */
static opc_err open_key(const opc_account *a, opc__wire_account_key which, const opc__key *under,
                        const char *env_text, const char *what, opc_secret **out, opc__ebuf *eb)
{
    char aad[OPC_WIRE_LABEL_MAX];
    opc_err rc = opc__wire_account_key_aad(aad, sizeof aad, which, a->id);
    return rc == OPC_OK ? opc__acct_open(under, aad, env_text, what, out, eb) : rc;
}

/* ---- handle ---- */

void opc__acct_lock(opc_account *a)
{
    opc__key_free(a->sym);
    opc__key_free(a->rsa);
    opc__key_free(a->sign);
    opc__key_free(a->sign_pub);
    a->sym = a->rsa = a->sign = a->sign_pub = NULL;
    opc__wipe(a->auk, sizeof a->auk);
    for (size_t i = 0; i < a->n_vkeys; i++) {
        opc__key_free(a->vkeys[i].key);
    }
    opc__secret_free(a->vkeys, a->cap_vkeys * sizeof *a->vkeys);
    a->vkeys = NULL;
    a->n_vkeys = a->cap_vkeys = 0;
    a->unlocked = false;
}

void opc_account_free(opc_account *a)
{
    if (a == NULL) {
        return;
    }
    opc__acct_lock(a);
    opc__key_free(a->rsa_pub);
    opc__rows_close(a->rows);
    opc__db_close(a->db);
    opc__free(a->email);
    opc__free(a->address);
    opc__secret_free(a, sizeof *a);
}

void opc_account_close(opc_account *a)
{
    opc_account_free(a);
}

const char *opc_account_errmsg(const opc_account *a)
{
    return a == NULL ? "" : a->errmsg;
}

const char *opc_account_id(const opc_account *a)
{
    return a == NULL ? NULL : a->id;
}

const char *opc_account_address(const opc_account *a)
{
    return a == NULL ? NULL : a->address;
}

const char *opc_account_email(const opc_account *a)
{
    return a == NULL ? NULL : a->email;
}

bool opc_account_is_unlocked(const opc_account *a)
{
    return a != NULL && a->unlocked;
}

/* ---- inputs ---- */

/* Lower-cased copy of a plausible email address. */
opc_err opc__acct_normalize_email(const char *email, char **out, opc__ebuf *eb)
{
    opc_err rc = opc__acct_check_name(email, OPC_ACCOUNT_MAX_EMAIL, "email", eb);
    if (rc != OPC_OK) {
        return rc;
    }
    const char *at = strchr(email, '@');
    if (at == NULL || at == email || at[1] == '\0' || strchr(at + 1, '@') != NULL ||
        strchr(email, ' ') != NULL) {
        return opc__fail(eb, OPC_ERR_PARSE, "email must look like name@example.com");
    }
    char *e = opc__strdup(email);
    if (e == NULL) {
        return OPC_ERR_NOMEM;
    }
    for (char *p = e; *p != '\0'; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            *p = (char)(*p - 'A' + 'a');
        }
    }
    *out = e;
    return OPC_OK;
}

static opc_err check_password(const char *password, opc__ebuf *eb)
{
    size_t n = strlen(password);
    if (n == 0) {
        return opc__fail(eb, OPC_ERR_PARSE, "the password must not be empty");
    }
    if (n > 4096) {
        return opc__fail(eb, OPC_ERR_TOO_LARGE, "the password is longer than 4096 bytes");
    }
    /* A new password is UTF-8: 2SKD normalises it to NFKD (crypto/twoskd.h). */
    return opc__2skd_password_check(password, eb);
}

static opc_err check_iterations(uint32_t iterations, uint32_t floor, opc__ebuf *eb)
{
    if (iterations < floor) {
        return opc__fail(eb, OPC_ERR_RANGE,
                         "account asks for %u 2SKD iterations, below the minimum of %u "
                         "(refused: a downgraded account file is an attack)",
                         iterations, floor);
    }
    if (iterations > MAX_ITERATIONS) {
        return opc__fail(eb, OPC_ERR_RANGE, "account asks for %u 2SKD iterations, above %u",
                         iterations, MAX_ITERATIONS);
    }
    return OPC_OK;
}

/* The AUK from the password and a parsed Secret Key. */
static opc_err derive_auk(const opc_account *a, const char *password, const opc__secret_key *sk,
                          uint8_t auk[32], opc__ebuf *eb)
{
    opc_err rc = check_iterations(a->iterations, a->min_iterations, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    return opc__2skd_raw(password, a->email, sk, a->salt, KDF_ALG, a->iterations, auk, eb);
}

/* The AUK of an account made before passwords were normalised (the bytes
 * as typed; crypto/twoskd.h). */
static opc_err derive_auk_legacy(const opc_account *a, const char *password,
                                 const opc__secret_key *sk, uint8_t auk[32], opc__ebuf *eb)
{
    opc_err rc = check_iterations(a->iterations, a->min_iterations, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    return opc__2skd_legacy(password, a->email, sk, a->salt, KDF_ALG, a->iterations, auk, eb);
}

/* ---- keyset ---- */

/* Parse a decrypted private JWK and check its type. */
static opc_err import_private(const opc_secret *text, opc__kty kty, const char *what,
                              opc__key **out, opc__ebuf *eb)
{
    /* Sealed: text came out of the keyset's envelope, authenticated under
     * the AUK; the public halves are compared with the stored ones after. */
    opc_err rc = opc__jwk_parse(opc_secret_data(text), opc_secret_len(text),
                                OPC_JWK_REQUIRE_PRIVATE | OPC_JWK_SEALED, out, NULL);
    if (rc == OPC_OK && opc__key_type(*out) != kty) {
        opc__key_free(*out);
        *out = NULL;
        rc = OPC_ERR_KEY;
    }
    if (rc != OPC_OK && rc != OPC_ERR_NOMEM) {
        return opc__fail(eb, OPC_ERR_KEY, "account keyset: %s is not a usable key", what);
    }
    return rc;
}

/* Read the account's one row by the statement name (no arguments): *rows
 * the answer (cJSON_Delete), *row its row. */
static opc_err account_read(opc_account *a, const char *name, cJSON **rows, const cJSON **row,
                            opc__ebuf *eb)
{
    *row = NULL;
    opc_err rc = opc__rows_read(a->rows, name, rows, eb, "");
    if (rc == OPC_OK && (*row = cJSON_GetArrayItem(*rows, 0)) == NULL) {
        rc = opc__fail(eb, OPC_ERR_PARSE, "account file has no account");
    }
    return rc;
}

/* An owned copy of a text cell of a checked row. */
static opc_err cell_text(const cJSON *row, int col, char **out)
{
    *out = opc__strdup(opc__rows_str(row, col));
    return *out == NULL ? OPC_ERR_NOMEM : OPC_OK;
}

/* account.keyset's row: the sealed keyset and the public keys. */
typedef struct keyset_rows {
    char *enc_sym_key;
    char *enc_pri_key;
    char *enc_spri_key;
    char *spub_key;
    char *pub_key;
} keyset_rows;

static void keyset_rows_free(keyset_rows *r)
{
    opc__free(r->enc_sym_key);
    opc__free(r->enc_pri_key);
    opc__free(r->enc_spri_key);
    opc__free(r->spub_key);
    opc__free(r->pub_key);
}

static opc_err load_keyset_rows(opc_account *a, keyset_rows *r, opc__ebuf *eb)
{
    cJSON *rows = NULL;
    const cJSON *row = NULL;
    opc_err rc = account_read(a, "account.keyset", &rows, &row, eb);
    char **const out[] = {&r->enc_sym_key, &r->enc_pri_key, &r->enc_spri_key, &r->spub_key,
                          &r->pub_key};
    for (size_t i = 0; rc == OPC_OK && i < OPC_ARRAY_LEN(out); i++) {
        rc = cell_text(row, (int)i, out[i]);
    }
    cJSON_Delete(rows);
    return rc;
}

/* Open the keyset of rows with the AUK and check it against the public keys. */
static opc_err unlock_rows(opc_account *a, const keyset_rows *r, const uint8_t auk[32],
                           opc__ebuf *eb);

opc_err opc__acct_unlock_auk(opc_account *a, const uint8_t auk[32], opc__ebuf *eb)
{
    keyset_rows rows = {0};
    opc_err rc = load_keyset_rows(a, &rows, eb);
    if (rc == OPC_OK) {
        rc = unlock_rows(a, &rows, auk, eb);
    }
    keyset_rows_free(&rows);
    return rc;
}

static opc_err unlock_rows(opc_account *a, const keyset_rows *r, const uint8_t auk[32],
                           opc__ebuf *eb)
{
    const keyset_rows rows = *r;
    opc__key *auk_key = NULL;
    opc__key *sym = NULL;
    opc__key *rsa = NULL;
    opc__key *sign = NULL;
    opc__key *sign_pub = NULL;
    opc__key *spub_stored = NULL;
    opc_secret *pt = NULL;

    opc_err rc =
        opc__key_from_oct(auk, 32, AUK_KID, OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &auk_key);
    if (rc == OPC_OK) {
        rc = open_key(a, OPC_WIRE_ACCOUNT_KEYSET, auk_key, rows.enc_sym_key, "account keyset", &pt,
                      eb);
        if (rc == OPC_ERR_DECRYPT) {
            rc = opc__fail(eb, OPC_ERR_DECRYPT, "wrong password or Secret Key");
        }
    }
    if (rc == OPC_OK) {
        rc = import_private(pt, OPC_KTY_OCT, "the symmetric key", &sym, eb);
        opc_secret_free(pt);
        pt = NULL;
    }
    if (rc == OPC_OK) {
        rc = open_key(a, OPC_WIRE_ACCOUNT_RSA, sym, rows.enc_pri_key, "account keyset (RSA key)",
                      &pt, eb);
    }
    if (rc == OPC_OK) {
        rc = import_private(pt, OPC_KTY_RSA, "the RSA key", &rsa, eb);
        opc_secret_free(pt);
        pt = NULL;
    }
    if (rc == OPC_OK) {
        rc = open_key(a, OPC_WIRE_ACCOUNT_SIGN, sym, rows.enc_spri_key,
                      "account keyset (signing key)", &pt, eb);
    }
    if (rc == OPC_OK) {
        rc = import_private(pt, OPC_KTY_EC, "the signing key", &sign, eb);
        opc_secret_free(pt);
        pt = NULL;
    }
    if (rc == OPC_OK && rows.spub_key != NULL) {
        rc = opc__jwk_parse(rows.spub_key, strlen(rows.spub_key), OPC_JWK_PUBLIC_ONLY, &spub_stored,
                            NULL);
        if (rc != OPC_OK && rc != OPC_ERR_NOMEM) {
            rc = opc__fail(eb, OPC_ERR_KEY, "account file: the signing public key is malformed");
        }
    }
    bool rsa_ok = false;
    bool sign_ok = false;
    if (rc == OPC_OK) {
        rc = opc__key_compare_public(rsa, a->rsa_pub, &rsa_ok);
    }
    if (rc == OPC_OK) {
        rc = opc__key_compare_public(sign, spub_stored, &sign_ok);
    }
    if (rc == OPC_OK && (!rsa_ok || !sign_ok || strcmp(opc__key_kid(sign), a->issuer_kid) != 0)) {
        rc = opc__fail(eb, OPC_ERR_KEY,
                       "account file: the public keys do not match the keyset (tampered file)");
    }
    if (rc == OPC_OK) {
        rc = opc__key_public(sign, &sign_pub);
    }
    if (rc == OPC_OK) {
        opc__acct_lock(a);
        a->sym = sym;
        a->rsa = rsa;
        a->sign = sign;
        a->sign_pub = sign_pub;
        memcpy(a->auk, auk, sizeof a->auk);
        a->unlocked = true;
        sym = rsa = sign = sign_pub = NULL;
    }
    opc_secret_free(pt);
    opc__key_free(auk_key);
    opc__key_free(sym);
    opc__key_free(rsa);
    opc__key_free(sign);
    opc__key_free(sign_pub);
    opc__key_free(spub_stored);
    return rc;
}

/* ---- create ---- */

static void remove_files(const char *path)
{
    char p[PATH_MAX + 8];
    (void)unlink(path);
    (void)snprintf(p, sizeof p, "%s-wal", path);
    (void)unlink(p);
    (void)snprintf(p, sizeof p, "%s-shm", path);
    (void)unlink(p);
    (void)snprintf(p, sizeof p, "%s-journal", path);
    (void)unlink(p);
}

static opc_err chmod_files(const char *path, opc__ebuf *eb)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(suffixes); i++) {
        char p[PATH_MAX + 8];
        (void)snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
        if (chmod(p, 0600) != 0 && errno != ENOENT) {
            return opc__fail(eb, OPC_ERR_IO, "cannot set mode 0600 on the account file");
        }
    }
    return OPC_OK;
}

typedef struct new_keys {
    opc__key *auk;
    opc__key *sym;
    opc__key *rsa;
    opc__key *sign;
    char *enc_sym_key;
    char *enc_pri_key;
    char *enc_spri_key;
    char *pub_key;
    char *spub_key;
} new_keys;

static void new_keys_free(new_keys *k)
{
    opc__key_free(k->auk);
    opc__key_free(k->sym);
    opc__key_free(k->rsa);
    opc__key_free(k->sign);
    opc__free(k->enc_sym_key);
    opc__free(k->enc_pri_key);
    opc__free(k->enc_spri_key);
    opc__free(k->pub_key);
    opc__free(k->spub_key);
    memset(k, 0, sizeof *k);
}

/* Seal one of the owner's private keys (its JWK) under `under`; its AAD
 * names which one it is. */
static opc_err seal_key(const opc_account *a, opc__wire_account_key which, const opc__key *under,
                        const opc__key *k, char **out)
{
    char aad[OPC_WIRE_LABEL_MAX];
    char *text = NULL;
    opc_err rc = opc__wire_account_key_aad(aad, sizeof aad, which, a->id);
    if (rc == OPC_OK) {
        rc = opc__acct_jwk_text(k, true, &text);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_seal(under, aad, text, strlen(text), out);
    }
    opc__secret_free_str(text);
    return rc;
}

static opc_err make_keyset(opc_account *a, const uint8_t auk[32], new_keys *k)
{
    opc_err rc =
        opc__key_from_oct(auk, 32, AUK_KID, OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &k->auk);
    if (rc == OPC_OK) {
        rc = opc__key_generate_oct(a->keyset_id, OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &k->sym);
    }
    if (rc == OPC_OK) {
        rc = opc__key_generate_rsa(a->keyset_id, OPC_KEYOP_WRAP | OPC_KEYOP_UNWRAP, &k->rsa);
    }
    if (rc == OPC_OK) {
        rc = opc__key_generate_ec(a->issuer_kid, OPC_KEYOP_SIGN | OPC_KEYOP_VERIFY, &k->sign);
    }
    if (rc == OPC_OK) {
        rc = seal_key(a, OPC_WIRE_ACCOUNT_KEYSET, k->auk, k->sym, &k->enc_sym_key);
    }
    if (rc == OPC_OK) {
        rc = seal_key(a, OPC_WIRE_ACCOUNT_RSA, k->sym, k->rsa, &k->enc_pri_key);
    }
    if (rc == OPC_OK) {
        rc = seal_key(a, OPC_WIRE_ACCOUNT_SIGN, k->sym, k->sign, &k->enc_spri_key);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_jwk_text(k->rsa, false, &k->pub_key);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_jwk_text(k->sign, false, &k->spub_key);
    }
    return rc;
}

/* The account row of a (its ids, email, salt, iterations) and k (borrowed
 * texts: r lives no longer than k, and is not cleared). */
static void row_of(const opc_account *a, const new_keys *k, opc__proto_account *r)
{
    memset(r, 0, sizeof *r);
    memcpy(r->id, a->id, sizeof r->id);
    (void)snprintf(r->email, sizeof r->email, "%s", a->email);
    memcpy(r->skid, a->skid, sizeof r->skid);
    (void)snprintf(r->kdf_alg, sizeof r->kdf_alg, "%s", KDF_ALG);
    memcpy(r->kdf_salt, a->salt, sizeof r->kdf_salt);
    r->iterations = a->iterations;
    memcpy(r->keyset_id, a->keyset_id, sizeof r->keyset_id);
    memcpy(r->issuer_kid, a->issuer_kid, sizeof r->issuer_kid);
    r->enc_sym_key = k->enc_sym_key;
    r->pub_key = k->pub_key;
    r->enc_pri_key = k->enc_pri_key;
    r->spub_key = k->spub_key;
    r->enc_spri_key = k->enc_spri_key;
}

/* The first rows of a new account as ONE batch, each statement expecting 1
 * row: the account row, the issuer key with its change and (srp non-NULL:
 * an account of op-account-server) the SRP salt and verifier. */
static opc_err account_batch(const opc__proto_account *r, const opc__proto_signup *srp,
                             int64_t now, opc__rows_batch *b, opc__ebuf *eb)
{
    char salt_b64[32];
    char ssalt[32];
    char *v = NULL;
    size_t vn = 0;
    opc_err rc = opc__b64_encode_to(r->kdf_salt, sizeof r->kdf_salt, OPC_B64URL, salt_b64,
                                    sizeof salt_b64, NULL);
    if (rc == OPC_OK && srp != NULL) {
        rc = opc__b64_encode_to(srp->srp_salt, sizeof srp->srp_salt, OPC_B64URL, ssalt,
                                sizeof ssalt, NULL);
        if (rc == OPC_OK) {
            rc = opc__b64_encode(srp->verifier, sizeof srp->verifier, OPC_B64URL, &v, &vn);
        }
    }
    if (rc != OPC_OK) {
        return opc__fail(eb, rc, "account create: %s", opc_strerror(rc));
    }
    opc__rows_batch_add(b, "account.insert", 1,
                        "ttttti"
                        "ttttttt"
                        "i",
                        r->id, r->email, r->skid, r->kdf_alg, salt_b64, (int64_t)r->iterations,
                        r->keyset_id, r->enc_sym_key, r->pub_key, r->enc_pri_key, r->issuer_kid,
                        r->spub_key, r->enc_spri_key, now);
    opc__change c = {.kind = OPC_CHANGE_ISSUER_KEY, .kid = r->issuer_kid};
    int k = opc__acct_batch_change(b, &c, now);
    opc__rows_batch_add(b, "account.issuer_key_insert", 1, "ttiq", r->issuer_kid, r->spub_key,
                        now, k);
    if (srp != NULL) {
        opc__rows_batch_add(b, "account.srp_insert", 1, "tti", ssalt, v, now);
    }
    opc__free(v);
    return OPC_OK;
}

/* Write a new account into the empty file of a: the schema and the
 * account's first rows (account_batch). */
static opc_err write_account(opc_account *a, const opc__proto_account *r,
                             const opc__proto_signup *srp, opc__ebuf *eb)
{
    opc__rows_batch b;
    opc__rows_batch_init(&b);
    opc_err rc = account_batch(r, srp, opc__now_s(), &b, eb);
    if (rc == OPC_OK) {
        rc = opc__acct_schema_create(a, &b, eb);
    }
    opc__rows_batch_free(&b);
    return rc;
}

opc_err opc__account_signup_batch(const opc__proto_signup *su, int64_t now, opc__rows_batch *b,
                                  opc__ebuf *eb)
{
    if (su == NULL || b == NULL || strcmp(su->account.kdf_alg, KDF_ALG) != 0) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "account create: bad argument");
    }
    return account_batch(&su->account, su, now, b, eb);
}

static opc_err new_handle(opc_account **out)
{
    opc_account *a = opc__calloc(1, sizeof *a);
    if (a == NULL) {
        return OPC_ERR_NOMEM;
    }
    *out = a;
    return OPC_OK;
}

/* A new handle for a new account: email normalized, password and iterations checked. */
static opc_err begin_new(const char *email, const char *password, uint32_t iterations,
                         uint32_t min_iterations, opc_account **out, opc__ebuf *eb)
{
    opc_account *a = NULL;
    opc_err rc = new_handle(&a);
    if (rc != OPC_OK) {
        return rc;
    }
    a->min_iterations = min_iterations;
    a->iterations = iterations;
    rc = opc__acct_normalize_email(email, &a->email, eb);
    if (rc == OPC_OK) {
        rc = check_password(password, eb);
    }
    if (rc == OPC_OK) {
        rc = check_iterations(iterations, min_iterations, eb);
    }
    if (rc != OPC_OK) {
        opc_account_free(a);
        return rc;
    }
    *out = a;
    return OPC_OK;
}

/*
 * The keys of a new account, made the same way for a local file and for
 * op-account-server: ids, a Secret Key (sk_text, parsed into *sk), the
 * salt, the AUK (auk) and the sealed keyset (k); a->rsa_pub is set.
 */
static opc_err make_account(opc_account *a, const char *password,
                            char sk_text[OPC_SECRET_KEY_STRLEN + 1], opc__secret_key *sk,
                            uint8_t auk[32], new_keys *k, opc__ebuf *eb)
{
    opc_err rc = opc__id_generate(a->id);
    if (rc == OPC_OK) {
        rc = opc__id_generate(a->keyset_id);
    }
    if (rc == OPC_OK) {
        rc = opc__id_generate(a->issuer_kid);
    }
    if (rc == OPC_OK) {
        rc = opc__secret_key_generate(sk_text);
    }
    if (rc == OPC_OK) {
        rc = opc__secret_key_parse(sk_text, sk, eb);
    }
    if (rc == OPC_OK) {
        memcpy(a->skid, sk->id, sizeof sk->id);
        rc = opc__rand_bytes(a->salt, sizeof a->salt);
    }
    if (rc == OPC_OK) {
        rc = derive_auk(a, password, sk, auk, eb);
    }
    if (rc == OPC_OK) {
        rc = make_keyset(a, auk, k);
    }
    if (rc == OPC_OK) {
        rc = opc__key_public(k->rsa, &a->rsa_pub);
    }
    return rc;
}

/* Create path (O_EXCL, 0600) and open it as a's SQLite file in WAL mode;
 * *created once the file exists. */
static opc_err create_file(opc_account *a, const char *path, bool *created, opc__ebuf *eb)
{
    opc_err rc = OPC_OK;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = errno == EEXIST ? opc__fail(eb, OPC_ERR_EXISTS, "account file %s already exists", path)
                             : opc__fail(eb, OPC_ERR_IO, "cannot create the account file %s", path);
    } else {
        *created = true;
        if (fchmod(fd, 0600) != 0) {
            rc = opc__fail(eb, OPC_ERR_IO, "cannot set mode 0600 on the account file");
        }
        (void)close(fd);
    }
    if (rc == OPC_OK && realpath(path, a->path) == NULL) {
        rc = opc__fail(eb, OPC_ERR_IO, "cannot resolve the account file's path");
    }
    if (rc == OPC_OK) {
        rc = opc__acct_db_open(a, a->path, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_db_wal(a, eb);
    }
    return rc;
}

/* Undo a failed create: free a, remove the files when they were made. */
static void create_failed(opc_account *a, const char *path, bool created)
{
    char p[PATH_MAX];
    (void)snprintf(p, sizeof p, "%s", a->path[0] != '\0' ? a->path : path);
    opc_account_free(a);
    if (created) {
        remove_files(p);
    }
}

opc_err opc__account_create_ex(const char *path, const char *email, const char *password,
                               uint32_t iterations, uint32_t min_iterations, opc_account **out,
                               opc_secret **out_secret_key, opc__ebuf *eb)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (out_secret_key != NULL) {
        *out_secret_key = NULL;
    }
    if (path == NULL || email == NULL || password == NULL || out == NULL ||
        out_secret_key == NULL || path[0] == '\0') {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "account create: missing argument");
    }
    opc_err rc = opc__require_init();
    if (rc != OPC_OK) {
        return opc__fail(eb, rc, "opc_global_init() was not called");
    }
    if (min_iterations == 0 || strlen(path) >= PATH_MAX) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "account create: bad argument");
    }
    opc_account *a = NULL;
    rc = begin_new(email, password, iterations, min_iterations, &a, eb);
    if (rc != OPC_OK) {
        return rc;
    }

    bool created = false;
    char sk_text[OPC_SECRET_KEY_STRLEN + 1] = {0};
    opc__secret_key sk;
    uint8_t auk[32];
    new_keys keys = {0};
    memset(&sk, 0, sizeof sk);

    rc = create_file(a, path, &created, eb);
    if (rc == OPC_OK) {
        rc = make_account(a, password, sk_text, &sk, auk, &keys, eb);
    }
    if (rc == OPC_OK) {
        opc__proto_account row;
        row_of(a, &keys, &row);
        rc = write_account(a, &row, NULL, eb);
    }
    if (rc == OPC_OK) {
        rc = chmod_files(a->path, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_unlock_auk(a, auk, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__secret_new(sk_text, strlen(sk_text), out_secret_key);
    }
    opc__wipe(auk, sizeof auk);
    opc__wipe(&sk, sizeof sk);
    opc__wipe(sk_text, sizeof sk_text);
    new_keys_free(&keys);
    if (rc != OPC_OK) {
        create_failed(a, path, created);
        return rc;
    }
    *out = a;
    return OPC_OK;
}

opc_err opc__account_signup_make(const char *email, const char *password, uint32_t iterations,
                                 uint32_t min_iterations, opc__proto_signup *out,
                                 opc_secret **out_secret_key, opc__ebuf *eb)
{
    memset(out, 0, sizeof *out);
    *out_secret_key = NULL;
    opc_err rc = opc__require_init();
    if (rc != OPC_OK) {
        return opc__fail(eb, rc, "opc_global_init() was not called");
    }
    opc_account *a = NULL;
    rc = begin_new(email, password, iterations, min_iterations, &a, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    char sk_text[OPC_SECRET_KEY_STRLEN + 1] = {0};
    opc__secret_key sk;
    uint8_t auk[32];
    uint8_t x[32];
    new_keys keys = {0};
    memset(&sk, 0, sizeof sk);
    rc = make_account(a, password, sk_text, &sk, auk, &keys, eb);
    /* The account row, with owned copies of the texts. */
    if (rc == OPC_OK) {
        opc__proto_account row;
        row_of(a, &keys, &row);
        out->account = row;
        out->account.enc_sym_key = opc__strdup(row.enc_sym_key);
        out->account.pub_key = opc__strdup(row.pub_key);
        out->account.enc_pri_key = opc__strdup(row.enc_pri_key);
        out->account.spub_key = opc__strdup(row.spub_key);
        out->account.enc_spri_key = opc__strdup(row.enc_spri_key);
        if (out->account.enc_sym_key == NULL || out->account.pub_key == NULL ||
            out->account.enc_pri_key == NULL || out->account.spub_key == NULL ||
            out->account.enc_spri_key == NULL) {
            rc = OPC_ERR_NOMEM;
        }
    }
    /* The SRP salt (its own) and verifier v = g^x. */
    if (rc == OPC_OK) {
        rc = opc__rand_bytes(out->srp_salt, sizeof out->srp_salt);
    }
    if (rc == OPC_OK) {
        rc = opc__2skd_srp_x_raw(password, a->email, &sk, out->srp_salt, a->iterations, x, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__srp_verifier(opc__srp_group_get(OPC_SRP_GROUP_BITS), x, sizeof x, out->verifier,
                               sizeof out->verifier, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__secret_new(sk_text, strlen(sk_text), out_secret_key);
    }
    opc__wipe(x, sizeof x);
    opc__wipe(auk, sizeof auk);
    opc__wipe(&sk, sizeof sk);
    opc__wipe(sk_text, sizeof sk_text);
    new_keys_free(&keys);
    opc_account_free(a);
    if (rc != OPC_OK) {
        opc__proto_signup_clear(out);
    }
    return rc;
}

opc_err opc__account_create_signup(const char *path, const opc__proto_signup *su, opc__ebuf *eb)
{
    if (path == NULL || su == NULL || strlen(path) >= PATH_MAX ||
        strcmp(su->account.kdf_alg, KDF_ALG) != 0) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "account create: bad argument");
    }
    opc_account *a = NULL;
    opc_err rc = new_handle(&a);
    if (rc != OPC_OK) {
        return rc;
    }
    bool created = false;
    rc = create_file(a, path, &created, eb);
    if (rc == OPC_OK) {
        rc = write_account(a, &su->account, su, eb);
    }
    if (rc == OPC_OK) {
        rc = chmod_files(a->path, eb);
    }
    if (rc != OPC_OK) {
        create_failed(a, path, created);
        return rc;
    }
    opc_account_free(a);
    return OPC_OK;
}

opc_err opc_account_create(const char *path, const char *email, const char *password,
                           uint32_t iterations, opc_account **out, opc_secret **out_secret_key,
                           char *errbuf, size_t errbuf_len)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc;
    if (iterations == 0) {
        iterations = OPC_ACCOUNT_DEFAULT_ITERATIONS;
    }
    if (iterations < OPC_ACCOUNT_MIN_ITERATIONS) {
        if (out != NULL) {
            *out = NULL;
        }
        if (out_secret_key != NULL) {
            *out_secret_key = NULL;
        }
        rc = opc__fail(&eb, OPC_ERR_RANGE, "2SKD iterations must be at least %u",
                       OPC_ACCOUNT_MIN_ITERATIONS);
    } else {
        rc = opc__account_create_ex(path, email, password, iterations, OPC_ACCOUNT_MIN_ITERATIONS,
                                    out, out_secret_key, &eb);
    }
    if (rc != OPC_OK) {
        opc__ebuf_export(&eb, errbuf, errbuf_len);
    } else if (errbuf != NULL && errbuf_len > 0) {
        errbuf[0] = '\0';
    }
    return rc;
}

/* ---- open ---- */

static opc_err load_account(opc_account *a, opc__ebuf *eb)
{
    cJSON *rows = NULL;
    const cJSON *row = NULL;
    opc_err rc = account_read(a, "account.get", &rows, &row, eb);
    if (rc == OPC_OK) {
        const char *id = opc__rows_str(row, 0);
        const char *skid = opc__rows_str(row, 2);
        const char *keyset = opc__rows_str(row, 6);
        const char *issuer = opc__rows_str(row, 7);
        if (!opc__id_valid_str(id) || !opc__id_valid_str(keyset) || !opc__id_valid_str(issuer) ||
            strlen(skid) != 6) {
            rc = opc__fail(eb, OPC_ERR_PARSE, "account file: malformed account row");
        } else {
            memcpy(a->id, id, OPC_ID_LEN + 1);
            memcpy(a->keyset_id, keyset, OPC_ID_LEN + 1);
            memcpy(a->issuer_kid, issuer, OPC_ID_LEN + 1);
            memcpy(a->skid, skid, 7);
        }
    }
    if (rc == OPC_OK && strcmp(opc__rows_str(row, 3), KDF_ALG) != 0) {
        rc = opc__fail(eb, OPC_ERR_UNSUPPORTED, "account file: unsupported key derivation");
    }
    if (rc == OPC_OK) {
        const char *salt = opc__rows_str(row, 4);
        size_t n = 0;
        if (opc__b64_decode_to(salt, strlen(salt), OPC_B64URL, a->salt, sizeof a->salt, &n, NULL) !=
                OPC_OK ||
            n != sizeof a->salt) {
            rc = opc__fail(eb, OPC_ERR_PARSE, "account file: malformed salt");
        }
    }
    if (rc == OPC_OK) {
        int64_t it = opc__rows_int(row, 5);
        if (it < 1 || it > (int64_t)MAX_ITERATIONS) {
            rc = opc__fail(eb, OPC_ERR_RANGE, "account file: iteration count out of range");
        } else {
            a->iterations = (uint32_t)it;
            rc = check_iterations(a->iterations, a->min_iterations, eb);
        }
    }
    if (rc == OPC_OK) {
        rc = cell_text(row, 1, &a->email);
    }
    if (rc == OPC_OK) {
        const char *pub = opc__rows_str(row, 8);
        rc = opc__jwk_parse(pub, strlen(pub), OPC_JWK_PUBLIC_ONLY, &a->rsa_pub, NULL);
        if (rc == OPC_OK && opc__key_type(a->rsa_pub) != OPC_KTY_RSA) {
            rc = OPC_ERR_KEY;
        }
        if (rc != OPC_OK && rc != OPC_ERR_NOMEM) {
            rc = opc__fail(eb, OPC_ERR_KEY, "account file: the owner's public key is malformed");
        }
    }
    cJSON_Delete(rows);
    return rc;
}

opc_err opc__account_open_ex(const char *path, uint32_t min_iterations, opc_account **out,
                             opc__ebuf *eb)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (path == NULL || out == NULL || path[0] == '\0' || min_iterations == 0) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "account open: missing argument");
    }
    opc_err rc = opc__require_init();
    if (rc != OPC_OK) {
        return opc__fail(eb, rc, "opc_global_init() was not called");
    }
    struct stat sb;
    if (stat(path, &sb) != 0) {
        return errno == ENOENT
                   ? opc__fail(eb, OPC_ERR_NOT_FOUND, "account file %s does not exist", path)
                   : opc__fail(eb, OPC_ERR_IO, "cannot read the account file %s", path);
    }
    if (!S_ISREG(sb.st_mode)) {
        return opc__fail(eb, OPC_ERR_PARSE, "%s is not an account file", path);
    }
    opc_account *a = NULL;
    rc = new_handle(&a);
    if (rc != OPC_OK) {
        return rc;
    }
    a->min_iterations = min_iterations;
    if (realpath(path, a->path) == NULL) {
        rc = opc__fail(eb, OPC_ERR_IO, "cannot resolve the account file's path");
    }
    if (rc == OPC_OK) {
        rc = opc__acct_db_open(a, a->path, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_schema_check(a, eb);
    }
    if (rc == OPC_OK) {
        rc = opc__acct_db_wal(a, eb);
    }
    if (rc == OPC_OK) {
        rc = load_account(a, eb);
    }
    if (rc != OPC_OK) {
        opc_account_free(a);
        return rc;
    }
    *out = a;
    return OPC_OK;
}

opc_err opc__account_open_rows(opc__rows *rows, opc_account **out, opc__ebuf *eb)
{
    *out = NULL;
    if (rows == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "account open: missing argument");
    }
    opc_account *a = NULL;
    opc_err rc = new_handle(&a);
    if (rc != OPC_OK) {
        opc__rows_close(rows);
        return rc;
    }
    a->rows = rows;
    a->min_iterations = 1;
    rc = load_account(a, eb);
    if (rc != OPC_OK) {
        opc_account_free(a);
        return rc;
    }
    *out = a;
    return OPC_OK;
}

opc_err opc_account_open(const char *path, opc_account **out, char *errbuf, size_t errbuf_len)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__account_open_ex(path, OPC_ACCOUNT_MIN_ITERATIONS, out, &eb);
    if (rc != OPC_OK) {
        opc__ebuf_export(&eb, errbuf, errbuf_len);
    } else if (errbuf != NULL && errbuf_len > 0) {
        errbuf[0] = '\0';
    }
    return rc;
}

/* ---- unlock ---- */

/*
 * Re-key an account that was opened with the legacy derivation (a is
 * unlocked): the keyset's symmetric key sealed again under auk, the AUK of
 * the normalised password, and, when the file holds an SRP verifier (an
 * account file of op-account-server's SQLite store), the verifier of the
 * normalised password over the same SRP salt. ONE batch: a failure changes
 * nothing, and the old derivation still opens the account. The vault keys,
 * the RSA and signing keys are sealed under the symmetric key, which does
 * not change. a->auk becomes auk (a session saved after holds the new one).
 */
static opc_err rekey(opc_account *a, const char *password, const opc__secret_key *sk,
                     const uint8_t auk[32], opc__ebuf *eb)
{
    keyset_rows old = {0};
    opc__key *auk_key = NULL;
    char *enc = NULL;
    char *v_b64 = NULL;
    size_t v_len = 0;
    uint8_t srp_salt[OPC_PROTO_SRP_SALT_LEN];
    uint8_t verifier[OPC_PROTO_SRP_LEN];
    uint8_t x[32];
    opc__rows_batch b;
    opc__rows_batch_init(&b);
    opc_err rc = load_keyset_rows(a, &old, eb);
    if (rc == OPC_OK) {
        rc = opc__key_from_oct(auk, 32, AUK_KID, OPC_KEYOP_ENCRYPT | OPC_KEYOP_DECRYPT, &auk_key);
    }
    if (rc == OPC_OK) {
        rc = seal_key(a, OPC_WIRE_ACCOUNT_KEYSET, auk_key, a->sym, &enc);
    }
    bool srp = false;
    if (rc == OPC_OK) {
        rc = opc__account_srp(a, srp_salt, verifier, eb);
        srp = rc == OPC_OK;
        if (rc == OPC_ERR_NOT_FOUND) {
            opc__ebuf_clear(eb);
            rc = OPC_OK; /* a local account: no verifier */
        }
    }
    if (rc == OPC_OK && srp) {
        rc = opc__2skd_srp_x_raw(password, a->email, sk, srp_salt, a->iterations, x, eb);
        if (rc == OPC_OK) {
            rc = opc__srp_verifier(opc__srp_group_get(OPC_SRP_GROUP_BITS), x, sizeof x, verifier,
                                   sizeof verifier, eb);
        }
        if (rc == OPC_OK) {
            rc = opc__b64_encode(verifier, sizeof verifier, OPC_B64URL, &v_b64, &v_len);
        }
    }
    if (rc == OPC_OK) {
        /* The old envelope as the guard: a concurrent re-key wins once. */
        opc__rows_batch_add(&b, "account.rekey", 1, "tt", enc, old.enc_sym_key);
        if (srp) {
            opc__rows_batch_add(&b, "account.srp_rekey", 1, "t", v_b64);
        }
        rc = opc__rows_batch_run(a->rows, &b, eb);
    }
    if (rc == OPC_OK) {
        memcpy(a->auk, auk, sizeof a->auk);
    }
    opc__rows_batch_free(&b);
    opc__wipe(x, sizeof x);
    opc__free(v_b64);
    opc__free(enc);
    opc__key_free(auk_key);
    keyset_rows_free(&old);
    return rc;
}

opc_err opc_account_unlock(opc_account *a, const char *password, const char *secret_key)
{
    opc__ebuf eb;
    opc_err rc =
        opc__acct_enter(a, OPC__ACCT_FILE, password != NULL && secret_key != NULL, NULL, NULL, &eb);
    if (rc != OPC_OK) {
        return opc__acct_finish(a, rc, &eb);
    }
    opc__secret_key sk;
    uint8_t auk[32];
    uint8_t old[32];
    bool utf8 = false;
    bool differ = false;
    memset(&sk, 0, sizeof sk);
    rc = opc__secret_key_parse(secret_key, &sk, &eb);
    if (rc == OPC_OK) {
        rc = opc__2skd_password_forms(password, &utf8, &differ, &eb);
    }
    if (rc == OPC_OK && utf8) {
        rc = derive_auk(a, password, &sk, auk, &eb);
        if (rc == OPC_OK) {
            rc = opc__acct_unlock_auk(a, auk, &eb);
        }
    } else if (rc == OPC_OK) {
        rc = OPC_ERR_DECRYPT; /* not UTF-8: only the legacy derivation can open it */
    }
    /*
     * An account made before passwords were normalised (docs/account.md,
     * "Passwords"): the bytes as typed, tried only when they differ from
     * the normalised ones. Once open, it is re-keyed to the normalised
     * password (a valid UTF-8 one); a failed re-key (a read-only file)
     * leaves the file as it was, opened, and is tried again next time.
     */
    if (rc == OPC_ERR_DECRYPT && differ) {
        opc__ebuf_clear(&eb);
        rc = derive_auk_legacy(a, password, &sk, old, &eb);
        if (rc == OPC_OK) {
            rc = opc__acct_unlock_auk(a, old, &eb);
        }
        if (rc == OPC_OK && utf8) {
            opc__ebuf ignored;
            opc__ebuf_clear(&ignored);
            (void)rekey(a, password, &sk, auk, &ignored);
        }
    }
    opc__wipe(auk, sizeof auk);
    opc__wipe(old, sizeof old);
    opc__wipe(&sk, sizeof sk);
    return opc__acct_finish(a, rc, &eb);
}

/* ---- an account of op-account-server (signup.h) ---- */

opc_err opc__account_srp(opc_account *a, uint8_t salt[OPC_PROTO_SRP_SALT_LEN],
                         uint8_t verifier[OPC_PROTO_SRP_LEN], opc__ebuf *eb)
{
    cJSON *rows = NULL;
    opc_err rc = opc__rows_read(a->rows, "account.srp", &rows, eb, "");
    const cJSON *row = rc == OPC_OK ? cJSON_GetArrayItem(rows, 0) : NULL;
    if (rc == OPC_OK && row == NULL) {
        rc = opc__fail(eb, OPC_ERR_NOT_FOUND, "account %s has no SRP verifier", a->id);
    }
    if (rc == OPC_OK) {
        const char *s = opc__rows_str(row, 0);
        const char *v = opc__rows_str(row, 1);
        size_t ns = 0;
        size_t nv = 0;
        if (opc__b64_decode_to(s, strlen(s), OPC_B64URL, salt, OPC_PROTO_SRP_SALT_LEN, &ns, NULL) !=
                OPC_OK ||
            ns != OPC_PROTO_SRP_SALT_LEN ||
            opc__b64_decode_to(v, strlen(v), OPC_B64URL, verifier, OPC_PROTO_SRP_LEN, &nv, NULL) !=
                OPC_OK ||
            nv != OPC_PROTO_SRP_LEN) {
            rc = opc__fail(eb, OPC_ERR_PARSE, "account %s: malformed SRP row", a->id);
        }
    }
    cJSON_Delete(rows);
    return rc;
}

opc_err opc__account_row(opc_account *a, opc__proto_account *out, opc__ebuf *eb)
{
    memset(out, 0, sizeof *out);
    keyset_rows k = {0};
    /* The rest of the row was read when the handle was opened: the row is
     * written once, by create. */
    opc_err rc = load_keyset_rows(a, &k, eb);
    if (rc == OPC_OK) {
        memcpy(out->id, a->id, sizeof out->id);
        (void)snprintf(out->email, sizeof out->email, "%s", a->email);
        memcpy(out->skid, a->skid, sizeof out->skid);
        (void)snprintf(out->kdf_alg, sizeof out->kdf_alg, "%s", KDF_ALG);
        memcpy(out->kdf_salt, a->salt, sizeof out->kdf_salt);
        out->iterations = a->iterations;
        memcpy(out->keyset_id, a->keyset_id, sizeof out->keyset_id);
        memcpy(out->issuer_kid, a->issuer_kid, sizeof out->issuer_kid);
        out->enc_sym_key = k.enc_sym_key;
        out->enc_pri_key = k.enc_pri_key;
        out->enc_spri_key = k.enc_spri_key;
        out->spub_key = k.spub_key;
        out->pub_key = k.pub_key;
        memset(&k, 0, sizeof k);
    }
    keyset_rows_free(&k);
    if (rc != OPC_OK) {
        opc__proto_account_clear(out);
    }
    return rc;
}

opc_err opc__account_rows_read(opc_account *a, const char *name, const cJSON *args, cJSON **rows,
                               opc__ebuf *eb)
{
    *rows = NULL;
    if (a == NULL || a->rows == NULL || name == NULL || args == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "rows: no store on this handle");
    }
    const char *own = opc__rows_store_own(name);
    if (own != NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "rows: %s is the store's own statement", own);
    }
    return a->rows->vt->read(a->rows->self, name, args, rows, eb);
}

opc_err opc__account_rows_batch(opc_account *a, const opc__rpc_step *steps, size_t n, int64_t *seqs,
                                size_t *n_seqs, opc__ebuf *eb)
{
    *n_seqs = 0;
    if (a == NULL || a->rows == NULL || steps == NULL || seqs == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "rows: no store on this handle");
    }
    /* The changes the batch names; the backend checks each step, and that
     * they are as many as the seqs it is given. */
    size_t changes = 0;
    for (size_t i = 0; i < n; i++) {
        const char *own = opc__rows_store_own(steps[i].stmt);
        if (own != NULL) {
            return opc__fail(eb, OPC_ERR_INVALID_ARG,
                             "rows: %s (statement %zu of the batch) is the store's own statement",
                             own, i);
        }
        const opc__rows_stmt *s = opc__rows_find(steps[i].stmt);
        changes += s != NULL && s->kind == OPC__ROWS_CHANGE;
    }
    if (changes > OPC__RPC_MAX_CHANGES) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "rows: a batch has at most %d changes",
                         OPC__RPC_MAX_CHANGES);
    }
    opc_err rc = a->rows->vt->batch(a->rows->self, steps, n, seqs, changes, eb);
    if (rc == OPC_OK) {
        *n_seqs = changes;
    }
    return rc;
}

opc_err opc__account_from_row(const opc__proto_account *row, const uint8_t auk[32],
                              opc_account **out, opc__ebuf *eb)
{
    *out = NULL;
    if (strcmp(row->kdf_alg, KDF_ALG) != 0) {
        return opc__fail(eb, OPC_ERR_UNSUPPORTED, "account %s: unsupported key derivation",
                         row->id);
    }
    opc_account *a = NULL;
    opc_err rc = new_handle(&a);
    if (rc != OPC_OK) {
        return rc;
    }
    a->min_iterations = 1;
    memcpy(a->id, row->id, sizeof a->id);
    memcpy(a->keyset_id, row->keyset_id, sizeof a->keyset_id);
    memcpy(a->issuer_kid, row->issuer_kid, sizeof a->issuer_kid);
    memcpy(a->skid, row->skid, sizeof a->skid);
    memcpy(a->salt, row->kdf_salt, sizeof a->salt);
    a->iterations = row->iterations;
    a->email = opc__strdup(row->email);
    rc = a->email != NULL ? OPC_OK : OPC_ERR_NOMEM;
    if (rc == OPC_OK) {
        rc = opc__jwk_parse(row->pub_key, strlen(row->pub_key), OPC_JWK_PUBLIC_ONLY, &a->rsa_pub,
                            NULL);
        if (rc == OPC_OK && opc__key_type(a->rsa_pub) != OPC_KTY_RSA) {
            rc = OPC_ERR_KEY;
        }
        if (rc != OPC_OK && rc != OPC_ERR_NOMEM) {
            rc = opc__fail(eb, OPC_ERR_KEY, "account %s: the owner's public key is malformed",
                           row->id);
        }
    }
    if (rc == OPC_OK) {
        keyset_rows k = {.enc_sym_key = row->enc_sym_key,
                         .enc_pri_key = row->enc_pri_key,
                         .enc_spri_key = row->enc_spri_key,
                         .spub_key = row->spub_key,
                         .pub_key = row->pub_key};
        rc = unlock_rows(a, &k, auk, eb);
    }
    if (rc != OPC_OK) {
        opc_account_free(a);
        return rc;
    }
    *out = a;
    return OPC_OK;
}

opc_err opc__account_auk(const char *password, const char *email, const opc__secret_key *sk,
                         const uint8_t salt[16], uint32_t iterations, uint32_t min_iterations,
                         uint8_t auk[32], opc__ebuf *eb)
{
    opc_err rc = check_iterations(iterations, min_iterations, eb);
    if (rc == OPC_OK) {
        rc = opc__2skd_raw(password, email, sk, salt, KDF_ALG, iterations, auk, eb);
    }
    return rc;
}

opc_err opc__account_auk_legacy(const char *password, const char *email, const opc__secret_key *sk,
                                const uint8_t salt[16], uint32_t iterations,
                                uint32_t min_iterations, uint8_t auk[32], opc__ebuf *eb)
{
    opc_err rc = check_iterations(iterations, min_iterations, eb);
    if (rc == OPC_OK) {
        rc = opc__2skd_legacy(password, email, sk, salt, KDF_ALG, iterations, auk, eb);
    }
    return rc;
}
