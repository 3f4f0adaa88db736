/*
 * opconnect/version.h - the one place the library version is written.
 *
 * The Makefile reads OPC_VERSION_MAJOR/MINOR/PATCH from this file to name
 * libopconnect.so.X.Y.Z and its soname. Compare the compile-time values with
 * opc_version_num() at run time to detect a header/library mismatch.
 */
#ifndef OPCONNECT_VERSION_H
#define OPCONNECT_VERSION_H

#include <stdint.h>

#include "export.h"

#define OPC_VERSION_MAJOR 0
#define OPC_VERSION_MINOR 1
#define OPC_VERSION_PATCH 0
#define OPC_VERSION_STRING "0.1.0"

/* 0xXXYYZZ: major << 16 | minor << 8 | patch. */
#define OPC_VERSION_NUM \
    ((OPC_VERSION_MAJOR << 16) | (OPC_VERSION_MINOR << 8) | OPC_VERSION_PATCH)

/* True when the headers are at least version x.y.z. */
#define OPC_VERSION_AT_LEAST(x, y, z) (OPC_VERSION_NUM >= (((x) << 16) | ((y) << 8) | (z)))

/*
 * The version of the 1Password Connect API the servers of this library
 * speak: announced in the 1Password-Connect-Version header of every
 * response and in /health, by connect-api (OPC_API_CONNECT_VERSION) and by
 * connect-sync's status listener alike.
 */
#define OPC_CONNECT_VERSION "1.8.0"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * opc_version - the library's version string, e.g. "0.1.0".
 *
 * Returns a static string, never NULL. Thread safety: any thread.
 * Since 0.1.0.
 */
OPC_API const char *opc_version(void);

/*
 * opc_version_num - the library's version as OPC_VERSION_NUM.
 *
 * Thread safety: any thread. Since 0.1.0.
 */
OPC_API uint32_t opc_version_num(void);

#ifdef __cplusplus
}
#endif

#endif /* OPCONNECT_VERSION_H */
