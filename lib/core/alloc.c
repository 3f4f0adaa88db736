#include "internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/alloc.h"

static void *(*hook_malloc)(size_t) = malloc;
static void *(*hook_realloc)(void *, size_t) = realloc;
static void (*hook_free)(void *) = free;

void opc__alloc_set_hooks(void *(*m)(size_t), void *(*r)(void *, size_t), void (*f)(void *))
{
    if (m == NULL || r == NULL || f == NULL) {
        hook_malloc = malloc;
        hook_realloc = realloc;
        hook_free = free;
        return;
    }
    hook_malloc = m;
    hook_realloc = r;
    hook_free = f;
}

void *opc__malloc(size_t size)
{
    return hook_malloc(size == 0 ? 1 : size);
}

void *opc__calloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        return NULL;
    }
    void *p = opc__malloc(n * size);
    if (p != NULL) {
        memset(p, 0, n * size);
    }
    return p;
}

void *opc__realloc(void *ptr, size_t size)
{
    return hook_realloc(ptr, size == 0 ? 1 : size);
}

void *opc__grow(void *arr, size_t *cap, size_t n, size_t elem, size_t first)
{
    if (n < *cap) {
        return arr;
    }
    size_t ncap = *cap == 0 ? first : *cap * 2;
    if (ncap < *cap || ncap > SIZE_MAX / elem) {
        return NULL;
    }
    void *p = opc__realloc(arr, ncap * elem);
    if (p != NULL) {
        *cap = ncap;
    }
    return p;
}

void opc__free(void *ptr)
{
    if (ptr == NULL) {
        return;
    }
    int saved = errno;
    hook_free(ptr);
    errno = saved;
}

char *opc__strndup(const char *s, size_t n)
{
    if (s == NULL) {
        return NULL;
    }
    char *p = opc__malloc(n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *opc__strdup(const char *s)
{
    return s == NULL ? NULL : opc__strndup(s, strlen(s));
}

void *opc__memdup(const void *p, size_t n)
{
    void *q = opc__malloc(n);
    if (q != NULL && n > 0) {
        memcpy(q, p, n);
    }
    return q;
}

void opc__wipe(void *ptr, size_t len)
{
    if (ptr != NULL && len > 0) {
        OPENSSL_cleanse(ptr, len);
    }
}

void opc__secret_free(void *ptr, size_t len)
{
    if (ptr == NULL) {
        return;
    }
    opc__wipe(ptr, len);
    opc__free(ptr);
}

void opc__secret_free_str(char *s)
{
    if (s != NULL) {
        opc__secret_free(s, strlen(s));
    }
}
