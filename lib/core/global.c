#include "internal.h"

#include <pthread.h>

#include <curl/curl.h>
#include <sqlite3.h>

#include <opconnect/global.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned init_count;
static opc_malloc_fn cur_malloc;
static opc_realloc_fn cur_realloc;
static opc_free_fn cur_free;

static opc_err init_locked(uint32_t flags, opc_malloc_fn m, opc_realloc_fn r, opc_free_fn f)
{
    if (flags != OPC_GLOBAL_DEFAULT) {
        return OPC_ERR_INVALID_ARG;
    }
    if (init_count > 0) {
        if (m != NULL && (m != cur_malloc || r != cur_realloc || f != cur_free)) {
            return OPC_ERR_INVALID_ARG;
        }
        init_count++;
        return OPC_OK;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return OPC_ERR_INTERNAL;
    }
    if (sqlite3_initialize() != SQLITE_OK) {
        curl_global_cleanup();
        return OPC_ERR_INTERNAL;
    }
    cur_malloc = m;
    cur_realloc = r;
    cur_free = f;
    opc__alloc_set_hooks(m, r, f);
    init_count = 1;
    return OPC_OK;
}

opc_err opc_global_init(uint32_t flags)
{
    pthread_mutex_lock(&init_lock);
    opc_err rc = init_locked(flags, NULL, NULL, NULL);
    pthread_mutex_unlock(&init_lock);
    return rc;
}

opc_err opc_global_init_mem(uint32_t flags, opc_malloc_fn malloc_fn, opc_realloc_fn realloc_fn,
                            opc_free_fn free_fn)
{
    if (malloc_fn == NULL || realloc_fn == NULL || free_fn == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    pthread_mutex_lock(&init_lock);
    opc_err rc = init_locked(flags, malloc_fn, realloc_fn, free_fn);
    pthread_mutex_unlock(&init_lock);
    return rc;
}

void opc_global_cleanup(void)
{
    pthread_mutex_lock(&init_lock);
    if (init_count > 0 && --init_count == 0) {
        opc__log_reset();
        opc__alloc_set_hooks(NULL, NULL, NULL);
        cur_malloc = NULL;
        cur_realloc = NULL;
        cur_free = NULL;
        /* sqlite3_shutdown() is not called: the host may use SQLite too. */
        curl_global_cleanup();
    }
    pthread_mutex_unlock(&init_lock);
}

opc_err opc__require_init(void)
{
    pthread_mutex_lock(&init_lock);
    unsigned n = init_count;
    pthread_mutex_unlock(&init_lock);
    return n > 0 ? OPC_OK : OPC_ERR_NOT_INITIALIZED;
}

void opc_free(void *ptr)
{
    opc__free(ptr);
}

void opc_memzero(void *ptr, size_t len)
{
    opc__wipe(ptr, len);
}
