/*
 * core/id.h - 26-character lowercase base32 identifiers (1Password's UUID
 * form): 128 random bits, alphabet a-z2-7.
 *
 * What the server makes and stores is always of that form
 * (opc__id_valid). What a client may send where an id goes is wider: the
 * official SDKs take any [a-z0-9]{26} for an id (opc__id_client_valid), so
 * such a string names nothing here (404) rather than being malformed (400).
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

/* True when s[0..len) matches ^[a-z0-9]{26}$: an id as a client may send
 * it. One that is not also opc__id_valid() can name nothing stored. */
bool opc__id_client_valid(const char *s, size_t len);
bool opc__id_client_valid_str(const char *s);

#endif
