/*
 * opconnect/secret.h - owned secret bytes.
 *
 * Secrets the library hands out (decrypted values, keys) come back as an
 * opc_secret. Its memory is wiped when it is freed. Thread safety: one thread
 * per object at a time.
 */
#ifndef OPCONNECT_SECRET_H
#define OPCONNECT_SECRET_H

#include <stddef.h>

#include "error.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct opc_secret opc_secret;

/*
 * opc_secret_data - the secret's bytes, followed by one NUL byte that is not
 * counted in opc_secret_len() (so text secrets can be used as C strings).
 * Valid until opc_secret_free(). Returns NULL for a NULL secret. Since 0.1.0.
 */
OPC_API const void *opc_secret_data(const opc_secret *secret);

/* opc_secret_len - the number of bytes; 0 for a NULL secret. Since 0.1.0. */
OPC_API size_t opc_secret_len(const opc_secret *secret);

/* opc_secret_free - wipe and release; NULL is a no-op. Since 0.1.0. */
OPC_API void opc_secret_free(opc_secret *secret);

#ifdef __cplusplus
}
#endif

#endif /* OPCONNECT_SECRET_H */
