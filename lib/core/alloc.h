/*
 * core/alloc.h - every allocation of the library goes through these, so the
 * hooks of opc_global_init_mem() see all of libopconnect's own memory.
 */
#ifndef OPC_CORE_ALLOC_H
#define OPC_CORE_ALLOC_H

#include "internal.h"

void *opc__malloc(size_t size);
void *opc__calloc(size_t n, size_t size); /* zeroed; NULL on overflow */
void *opc__realloc(void *ptr, size_t size);
/*
 * Room for element n of a growing array of elem-byte elements: when n has
 * reached *cap, reallocate to twice *cap (first when *cap is 0) and update
 * *cap. Returns the array (arr itself while there is room), or NULL (arr
 * and *cap untouched) when that fails.
 */
void *opc__grow(void *arr, size_t *cap, size_t n, size_t elem, size_t first);
void opc__free(void *ptr); /* preserves errno; NULL is a no-op */
char *opc__strdup(const char *s);
char *opc__strndup(const char *s, size_t n);
void *opc__memdup(const void *p, size_t n);

/* Wipe len bytes (OPENSSL_cleanse), then free. NULL is a no-op. */
void opc__secret_free(void *ptr, size_t len);
/* Wipe a NUL-terminated string, then free. NULL is a no-op. */
void opc__secret_free_str(char *s);
/* Wipe without freeing. */
void opc__wipe(void *ptr, size_t len);

/* Installed by global.c; NULL restores the C library's functions. */
void opc__alloc_set_hooks(void *(*m)(size_t), void *(*r)(void *, size_t), void (*f)(void *));

#endif
