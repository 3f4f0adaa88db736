/*
 * model/password.h - the password generator (GeneratorRecipe).
 */
#ifndef OPC_MODEL_PASSWORD_H
#define OPC_MODEL_PASSWORD_H

#include <cjson/cJSON.h>

#include "core/err.h"
#include "internal.h"

#define OPC_RECIPE_DEFAULT_LENGTH 32
#define OPC_RECIPE_MAX_LENGTH 64

#define OPC_CHARSET_LETTERS 0x1u
#define OPC_CHARSET_DIGITS 0x2u
#define OPC_CHARSET_SYMBOLS 0x4u
#define OPC_CHARSET_ALL 0x7u

typedef struct opc__recipe {
    unsigned length;   /* 1..64 */
    unsigned sets;     /* OPC_CHARSET_* (0 = all) */
    char exclude[128]; /* printable ASCII characters to leave out */
} opc__recipe;

/* Defaults: length 32, all sets, no exclusions. */
void opc__recipe_default(opc__recipe *r);

/* Parse a GeneratorRecipe object (NULL = defaults). Unknown or duplicate
 * character sets, length outside 1..64, non-string excludeCharacters are
 * errors. */
opc_err opc__recipe_parse(const cJSON *recipe, opc__recipe *out, opc__ebuf *eb);

/* Parse the CLI form "letters,digits,symbols,32" (any order, any subset). */
opc_err opc__recipe_parse_cli(const char *s, opc__recipe *out, opc__ebuf *eb);

/*
 * Generate a password: CSPRNG, unbiased (rejection) sampling, at least one
 * character of each chosen set (OPC_ERR_RANGE when the length is smaller
 * than the number of sets or exclusions empty a set). out must hold
 * r->length + 1 bytes (out is "" on failure). The output is uniform over
 * the strings of the pool that hold every chosen set, and *entropy_bits
 * (may be NULL) is log2 of their number: length * log2(pool) for one set,
 * slightly less for several (password.c shows the computation).
 * OPC_ERR_INVALID_ARG for NULL, a length outside 1..64 or an exclude
 * string that is not NUL-terminated.
 */
opc_err opc__password_generate(const opc__recipe *r, char *out, double *entropy_bits,
                               opc__ebuf *eb);

#endif
