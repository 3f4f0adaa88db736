/*
 * account/signup.h - an account of op-account-server (docs/protocol.md,
 * "Owner sign-in"): the rows `op` makes and sends at sign-up (made by the
 * same code as a local account file: owner.c), the server's side of
 * writing them into a new account file, and what the server reads back
 * (the SRP salt and verifier, the account row). Only public material and
 * ciphertext cross: the password, the Secret Key and the AUK stay with
 * the owner.
 */
#ifndef OPC_ACCOUNT_SIGNUP_H
#define OPC_ACCOUNT_SIGNUP_H

#include <stdint.h>

#include <opconnect/account.h>

#include "account/rows.h"
#include "core/err.h"
#include "crypto/twoskd.h"
#include "internal.h"
#include "wire/proto.h"
#include "wire/rows_rpc.h"

/*
 * The owner's side: a new account as opc_account_create makes it (ids, a
 * Secret Key returned once in *out_secret_key, the 2SKD salt, the keyset
 * sealed under the AUK) plus a fresh SRP salt and the verifier
 * v = g^x, x = opc__2skd_srp_x(...) in the 4096-bit group. *out is the
 * sign-up message's content (opc__proto_signup_clear).
 */
opc_err opc__account_signup_make(const char *email, const char *password, uint32_t iterations,
                                 uint32_t min_iterations, opc__proto_signup *out,
                                 opc_secret **out_secret_key, opc__ebuf *eb);

/* The server's side: a new account file at path (O_EXCL: OPC_ERR_EXISTS)
 * holding su's rows, its issuer key and its SRP row. */
opc_err opc__account_create_signup(const char *path, const opc__proto_signup *su, opc__ebuf *eb);

/* The same first rows as ONE batch of the statement table, for a store
 * that keeps its accounts elsewhere (the PostgreSQL store): the account
 * row, the issuer key and its change, the SRP row (opc__rows_batch_init'ed
 * by the caller; OPC_ERR_INVALID_ARG for an unknown key derivation). */
opc_err opc__account_signup_batch(const opc__proto_signup *su, int64_t now, opc__rows_batch *b,
                                  opc__ebuf *eb);

/* A locked handle on the account behind rows (owned by the handle from
 * now on, also on failure): the account row read and checked as an
 * account file's at open. The store's side: opc__account_srp,
 * opc__account_row and the owner's rows calls work on it. */
opc_err opc__account_open_rows(opc__rows *rows, opc_account **out, opc__ebuf *eb);

/* The SRP salt and verifier of a's account; OPC_ERR_NOT_FOUND for an
 * account without (a local account file served as is). */
opc_err opc__account_srp(opc_account *a, uint8_t salt[OPC_PROTO_SRP_SALT_LEN],
                         uint8_t verifier[OPC_PROTO_SRP_LEN], opc__ebuf *eb);

/* The account row of a (opc__proto_account_clear). */
opc_err opc__account_row(opc_account *a, opc__proto_account *out, opc__ebuf *eb);

/*
 * The server's side of the owner's store protocol (docs/protocol.md, "The
 * owner's store protocol"): a named read and a write batch run through the
 * handle's own local implementation (a->rows, rows_local.c, which checks
 * every request with opc__rows_check_read / _step first). A locked handle
 * will do: the rows are ciphertext. The statements only the store runs
 * (account.srp, create's account.insert, account.issuer_key_insert,
 * account.srp_insert) are refused before anything runs. Errors as rows.h's:
 * OPC_ERR_INVALID_ARG for a refused request, OPC_ERR_CONFLICT for a failed expectation (nothing
 * committed), OPC_ERR_EXISTS for a unique index, SQLite's codes for the
 * file; the message in eb names statements, never a value.
 */
opc_err opc__account_rows_read(opc_account *a, const char *name, const cJSON *args, cJSON **rows,
                               opc__ebuf *eb);
/* seqs holds OPC__RPC_MAX_CHANGES; *n_seqs gets the batch's changes (the
 * seqs the store gave them, in order). */
opc_err opc__account_rows_batch(opc_account *a, const opc__rpc_step *steps, size_t n, int64_t *seqs,
                                size_t *n_seqs, opc__ebuf *eb);

/*
 * The owner's side after a sign-in: a handle on the row downloaded from
 * the server (no file behind it: only the id, email and keyset calls
 * work), unlocked with the AUK (OPC_ERR_DECRYPT when it does not open the
 * keyset, OPC_ERR_KEY when the public keys do not match it).
 */
opc_err opc__account_from_row(const opc__proto_account *row, const uint8_t auk[32],
                              opc_account **out, opc__ebuf *eb);

/* The AUK of the owner from the password, the Secret Key and the row's
 * kdf parameters (floor: OPC_ACCOUNT_MIN_ITERATIONS unless min_iterations
 * is lower: tests). */
opc_err opc__account_auk(const char *password, const char *email, const opc__secret_key *sk,
                         const uint8_t salt[16], uint32_t iterations, uint32_t min_iterations,
                         uint8_t auk[32], opc__ebuf *eb);
/* The same with the derivation of accounts made before passwords were
 * normalised (crypto/twoskd.h, opc__2skd_legacy): sign-in falls back on it. */
opc_err opc__account_auk_legacy(const char *password, const char *email, const opc__secret_key *sk,
                                const uint8_t salt[16], uint32_t iterations,
                                uint32_t min_iterations, uint8_t auk[32], opc__ebuf *eb);

#endif
