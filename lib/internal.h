/*
 * lib/internal.h - first include of every library source file.
 *
 * Sets the feature macros and pulls in the public export macros. Private
 * headers are never installed.
 */
#ifndef OPC_INTERNAL_H
#define OPC_INTERNAL_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <opconnect/error.h>
#include <opconnect/export.h>

#define OPC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif /* OPC_INTERNAL_H */
