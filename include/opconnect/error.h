/*
 * opconnect/error.h - result codes.
 *
 * Every fallible function returns an opc_err. OPC_OK is 0; every other value
 * is an error. Codes are appended, never renumbered or removed (a retired code
 * becomes OPC_ERR_OBSOLETE_<n>), so callers must treat unknown values as
 * generic failures. The detail of a failure (which field, which check) comes
 * through the error buffer of the call, when it has one: see OPC_ERRBUF_SIZE.
 */
#ifndef OPCONNECT_ERROR_H
#define OPCONNECT_ERROR_H

#include <stddef.h>

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum opc_err {
    OPC_OK = 0,
    OPC_ERR_NOMEM = 1,           /* an allocation failed */
    OPC_ERR_INVALID_ARG = 2,     /* misuse: NULL or out-of-range argument */
    OPC_ERR_NOT_INITIALIZED = 3, /* opc_global_init() was not called */
    OPC_ERR_INTERNAL = 4,        /* a dependency failed unexpectedly */
    OPC_ERR_PARSE = 5,           /* malformed input (syntax, encoding, type) */
    OPC_ERR_RANGE = 6,           /* a value is outside its allowed range */
    OPC_ERR_TOO_LARGE = 7,       /* input exceeds a documented size limit */
    OPC_ERR_IO = 8,              /* reading or writing a file failed */
    OPC_ERR_NOT_FOUND = 9,       /* the named thing does not exist */
    OPC_ERR_UNSUPPORTED = 10,    /* well-formed but not supported (version, algorithm) */
    OPC_ERR_CRYPTO = 11,         /* a cryptographic operation could not run */
    OPC_ERR_DECRYPT = 12,        /* authenticated decryption failed (wrong key or tampered) */
    OPC_ERR_SIGNATURE = 13,      /* a signature does not verify */
    OPC_ERR_KEY = 14,            /* unusable key material (type, size, curve, key_ops) */
    OPC_ERR_TOKEN = 15,          /* a bearer token was rejected */
    OPC_ERR_CREDENTIALS = 16,    /* the credentials file is invalid */
    OPC_ERR_VERIFIER = 17,       /* a token secret does not match the credentials verifier */
    OPC_ERR_LOCKED = 18,         /* the object needs a token before this call */
    OPC_ERR_EXISTS = 19,         /* the thing already exists */
    OPC_ERR_CONFLICT = 20,       /* a concurrent change won (stale version) */
    OPC_ERR_PERMISSION = 21,     /* the caller lacks the right to do this */
    OPC_ERR_LAST                 /* never use: grows with every new code */
} opc_err;

/*
 * Size of the error buffers that functions taking `char *errbuf, size_t
 * errbuf_len` fill with a one-line, secret-free explanation. A shorter buffer
 * truncates the text; errbuf may be NULL.
 */
#define OPC_ERRBUF_SIZE 256

/*
 * opc_strerror - a short English description of a result code.
 *
 * Returns static text for every input, never NULL ("unknown error" for codes
 * this version does not know). Thread safety: any thread. Since 0.1.0.
 */
OPC_API const char *opc_strerror(opc_err code);

/*
 * opc_errname - the code's symbolic name, e.g. "OPC_ERR_NOMEM".
 *
 * Returns static text, never NULL. Thread safety: any thread. Since 0.1.0.
 */
OPC_API const char *opc_errname(opc_err code);

#ifdef __cplusplus
}
#endif

#endif /* OPCONNECT_ERROR_H */
