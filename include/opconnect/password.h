/*
 * opconnect/password.h - password recipes in their command-line form.
 *
 * A Connect item field with "generate": true gets a value from the library's
 * generator, shaped by the field's "recipe" (a Connect GeneratorRecipe
 * object: "length", "characterSets", "excludeCharacters"). Programs that
 * take a recipe from a user in the short form of the 1Password CLI turn it
 * into that object here, with the same rules the library applies.
 * Thread safety: any thread.
 */
#ifndef OPCONNECT_PASSWORD_H
#define OPCONNECT_PASSWORD_H

#include <stddef.h>

#include "error.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * opc_password_recipe_parse - parse "letters,digits,symbols,LENGTH": a comma
 * list, in any order, of character sets (case-insensitive, each at most
 * once) and at most one decimal length from 1 to 64; spaces around a part
 * are ignored. Omitted sets mean all three, an omitted length 32; an empty
 * (or all-space) text means both defaults.
 *
 * On success *out_json is a GeneratorRecipe object as JSON text, e.g.
 * {"length":20,"characterSets":["LETTERS","DIGITS"]} (sets in that fixed
 * order), to be released with opc_free(). On failure *out_json is NULL:
 * OPC_ERR_PARSE for an unknown, repeated or empty part, a second length or
 * a malformed length; OPC_ERR_RANGE for a length outside 1..64;
 * OPC_ERR_INVALID_ARG for NULL; OPC_ERR_NOT_INITIALIZED, OPC_ERR_NOMEM.
 * errbuf (may be NULL) says which part is wrong. Since 0.1.0.
 */
OPC_API OPC_NODISCARD opc_err opc_password_recipe_parse(const char *text, char **out_json,
                                                        char *errbuf, size_t errbuf_len)
    OPC_NONNULL(1, 2);

#ifdef __cplusplus
}
#endif

#endif /* OPCONNECT_PASSWORD_H */
