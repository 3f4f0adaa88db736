/*
 * core/id.h - 26-character lowercase base32 identifiers (1Password's UUID
 * form): 128 random bits, alphabet a-z2-7.
 */
#ifndef OPC_CORE_ID_H
#define OPC_CORE_ID_H

#include "internal.h"

#define OPC_ID_LEN 26

/* Write a fresh id and a NUL into out[27]. */
opc_err opc__id_generate(char out[OPC_ID_LEN + 1]);

/* True when s[0..len) matches ^[a-z2-7]{26}$. */
bool opc__id_valid(const char *s, size_t len);

/* As opc__id_valid() for a NUL-terminated string (NULL is invalid). */
bool opc__id_valid_str(const char *s);

#endif
