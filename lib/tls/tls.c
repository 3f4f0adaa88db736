/*
 * tls/tls.c - the TLS manager: the served certificate, the SSL_CTX the
 * HTTPS listener serves it with (civetweb's, see rest/server.c), and one
 * background thread that keeps the certificate fresh.
 *
 * Own certificate: the files are checked at configuration time (errors
 * name the file), then re-read when opc__tls_reload() is called (SIGHUP in
 * the daemon) or when their inode, size, mtime or ctime change (checked
 * every file_check_ms). A replacement that fails to load is logged and the
 * old certificate stays.
 *
 * ACME: a stored certificate for the domain is served at once; a new one
 * is ordered when there is none or when a third of its lifetime is left.
 * Failures are logged with the CA's detail and retried after
 * retry_min_ms, doubling up to an hour (with jitter, and never sooner than
 * the CA's Retry-After). The thread never ends the process.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <opconnect/api.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/time.h"
#include "tls/acme.h"
#include "tls/tls.h"

#define FILE_CHECK_MS_DEFAULT 10000
#define RETRY_MIN_MS_DEFAULT 5000
#define RETRY_MAX_MS 3600000
#define SLEEP_MAX_MS 3600000

typedef enum { MODE_NONE = 0, MODE_FILES, MODE_ACME } tls_mode;

typedef struct file_sig {
    bool ok;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    struct timespec ctime;
} file_sig;

struct opc__tls {
    tls_mode mode;
    opc__tls_certs *certs;
    SSL_CTX *ctx;
    int port; /* the HTTPS port served, -1 when not running */
    /* own certificate */
    char *cert_path;
    char *key_path;
    file_sig sig[2];
    /* ACME */
    opc__acme_config acme; /* owned copies */
    opc__acme_client *client;
    /* the thread */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    bool reload;
    int64_t file_check_ms;
    int64_t retry_min_ms;
};

static void stat_sig(const char *path, file_sig *s)
{
    struct stat st;
    memset(s, 0, sizeof *s);
    if (stat(path, &st) == 0) {
        s->ok = true;
        s->dev = st.st_dev;
        s->ino = st.st_ino;
        s->size = st.st_size;
        s->mtime = st.st_mtim;
        s->ctime = st.st_ctim;
    }
}

static bool sig_equal(const file_sig *a, const file_sig *b)
{
    return a->ok == b->ok && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static void log_cert(const char *what, const opc__certkey *ck)
{
    char until[OPC_TIME_STRLEN] = "?";
    (void)opc__time_format(opc__certkey_not_after(ck), until);
    opc__log(OPC_LOG_INFO, "tls", "%s: serial %s, valid until %s", what, opc__certkey_serial(ck),
             until);
}

opc_err opc__tls_create(opc__tls **out)
{
    *out = NULL;
    opc__tls *t = opc__calloc(1, sizeof *t);
    if (t == NULL) {
        return OPC_ERR_NOMEM;
    }
    t->file_check_ms = FILE_CHECK_MS_DEFAULT;
    t->retry_min_ms = RETRY_MIN_MS_DEFAULT;
    pthread_condattr_t ca;
    bool ca_ok = pthread_condattr_init(&ca) == 0;
    if (!ca_ok || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&t->cv, &ca) != 0) {
        if (ca_ok) {
            pthread_condattr_destroy(&ca);
        }
        opc__free(t);
        return OPC_ERR_INTERNAL;
    }
    pthread_condattr_destroy(&ca);
    if (pthread_mutex_init(&t->mu, NULL) != 0) {
        pthread_cond_destroy(&t->cv);
        opc__free(t);
        return OPC_ERR_INTERNAL;
    }
    opc_err rc = opc__tls_certs_create(&t->certs);
    if (rc != OPC_OK) {
        opc__tls_free(t);
        return rc;
    }
    *out = t;
    return OPC_OK;
}

static void clear_config(opc__tls *t)
{
    opc__free(t->cert_path);
    opc__free(t->key_path);
    t->cert_path = t->key_path = NULL;
    opc__free((void *)(uintptr_t)t->acme.domain);
    opc__free((void *)(uintptr_t)t->acme.directory_url);
    opc__free((void *)(uintptr_t)t->acme.ca_file);
    opc__free((void *)(uintptr_t)t->acme.email);
    opc__free((void *)(uintptr_t)t->acme.data_dir);
    memset(&t->acme, 0, sizeof t->acme);
    t->mode = MODE_NONE;
    opc__tls_certs_set(t->certs, NULL);
}

opc_err opc__tls_set_files(opc__tls *t, const char *cert_path, const char *key_path,
                           opc__ebuf *eb)
{
    if (t->thread_started) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "TLS is running");
    }
    if (cert_path == NULL || key_path == NULL || cert_path[0] == '\0' || key_path[0] == '\0') {
        return opc__fail(eb, OPC_ERR_INVALID_ARG,
                         "both a certificate file and a key file are needed");
    }
    opc__certkey *ck = NULL;
    file_sig sig[2];
    stat_sig(cert_path, &sig[0]);
    stat_sig(key_path, &sig[1]);
    opc_err rc = opc__certkey_load_files(cert_path, key_path, opc__now_s(), &ck, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    clear_config(t);
    t->cert_path = opc__strdup(cert_path);
    t->key_path = opc__strdup(key_path);
    if (t->cert_path == NULL || t->key_path == NULL) {
        clear_config(t);
        opc__certkey_unref(ck);
        return opc__fail(eb, OPC_ERR_NOMEM, "out of memory");
    }
    memcpy(t->sig, sig, sizeof sig);
    t->mode = MODE_FILES;
    opc__tls_certs_set(t->certs, ck);
    log_cert("TLS certificate loaded", ck);
    opc__certkey_unref(ck);
    return OPC_OK;
}

static char *dup_opt(const char *s, bool *fail)
{
    if (s == NULL || s[0] == '\0') {
        return NULL;
    }
    char *d = opc__strdup(s);
    *fail = *fail || d == NULL;
    return d;
}

opc_err opc__tls_set_acme(opc__tls *t, const opc__acme_config *cfg, opc__ebuf *eb)
{
    if (t->thread_started) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "TLS is running");
    }
    char domain[OPC_ACME_DOMAIN_MAX + 1];
    if (cfg->domain == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "domain: missing");
    }
    opc_err rc = opc__acme_domain_check(cfg->domain, domain, eb);
    if (rc != OPC_OK) {
        return rc;
    }
    const char *directory_url = cfg->directory_url != NULL && cfg->directory_url[0] != '\0'
                                    ? cfg->directory_url
                                    : OPC_ACME_DIRECTORY_LETSENCRYPT;
    if (!opc__acme_url_ok(directory_url)) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "directory URL: must be an https:// URL");
    }
    if (cfg->ca_file != NULL && cfg->ca_file[0] != '\0' && access(cfg->ca_file, R_OK) != 0) {
        return opc__fail(eb, OPC_ERR_IO, "CA file %s: cannot read: %s", cfg->ca_file,
                         strerror(errno));
    }
    if (cfg->email != NULL && cfg->email[0] != '\0') {
        const char *at = strchr(cfg->email, '@');
        bool ok = at != NULL && at != cfg->email && at[1] != '\0' && strlen(cfg->email) < 250;
        for (const char *p = cfg->email; ok && *p != '\0'; p++) {
            ok = (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f && *p != '"' && *p != '\\';
        }
        if (!ok) {
            return opc__fail(eb, OPC_ERR_INVALID_ARG, "email: not an address such as a@b.example");
        }
    }
    if (cfg->data_dir == NULL || cfg->data_dir[0] != '/') {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "data directory: must be an absolute path");
    }
    clear_config(t);
    bool fail = false;
    t->acme.domain = dup_opt(domain, &fail);
    t->acme.directory_url = dup_opt(directory_url, &fail);
    t->acme.ca_file = dup_opt(cfg->ca_file, &fail);
    t->acme.email = dup_opt(cfg->email, &fail);
    t->acme.data_dir = dup_opt(cfg->data_dir, &fail);
    if (fail) {
        clear_config(t);
        return opc__fail(eb, OPC_ERR_NOMEM, "out of memory");
    }
    t->mode = MODE_ACME;
    return OPC_OK;
}

bool opc__tls_configured(const opc__tls *t)
{
    return t != NULL && t->mode != MODE_NONE;
}

/* ---- the thread ---- */

/* Wait up to ms on the condition; true when woken for stop. */
static bool wait_ms(opc__tls *t, int64_t ms, bool wake_on_reload)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ms < 1) {
        ms = 1;
    }
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->mu);
    while (!t->stop && !(wake_on_reload && t->reload)) {
        if (pthread_cond_timedwait(&t->cv, &t->mu, &ts) == ETIMEDOUT) {
            break;
        }
    }
    bool stop = t->stop;
    pthread_mutex_unlock(&t->mu);
    return stop;
}

static bool take_reload(opc__tls *t)
{
    pthread_mutex_lock(&t->mu);
    bool r = t->reload;
    t->reload = false;
    pthread_mutex_unlock(&t->mu);
    return r;
}

static void reload_files(opc__tls *t, bool forced)
{
    file_sig sig[2];
    stat_sig(t->cert_path, &sig[0]);
    stat_sig(t->key_path, &sig[1]);
    if (!forced && sig_equal(&sig[0], &t->sig[0]) && sig_equal(&sig[1], &t->sig[1])) {
        return;
    }
    /* Remember the new state either way: a failed load is reported once
     * per change, not on every check. */
    memcpy(t->sig, sig, sizeof sig);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__certkey *ck = NULL;
    if (opc__certkey_load_files(t->cert_path, t->key_path, opc__now_s(), &ck, &eb) != OPC_OK) {
        opc__log(OPC_LOG_ERROR, "tls", "TLS certificate not reloaded (still serving the old one): %s",
                 eb.msg);
        return;
    }
    opc__tls_certs_set(t->certs, ck);
    log_cert("TLS certificate reloaded", ck);
    opc__certkey_unref(ck);
}

static void run_files(opc__tls *t)
{
    while (!wait_ms(t, t->file_check_ms, true)) {
        reload_files(t, take_reload(t));
    }
}

static bool hook_stopping(void *ud)
{
    opc__tls *t = ud;
    pthread_mutex_lock(&t->mu);
    bool s = t->stop;
    pthread_mutex_unlock(&t->mu);
    return s;
}

static void hook_sleep(void *ud, int64_t ms)
{
    (void)wait_ms(ud, ms, false);
}

static opc_err hook_challenge(void *ud, const char *domain, opc__certkey *ck)
{
    opc__tls *t = ud;
    return opc__tls_certs_set_challenge(t->certs, domain, ck);
}

/* When the certificate should be replaced: a third of its life left. */
static int64_t renew_at(const opc__certkey *ck)
{
    int64_t nb = opc__certkey_not_before(ck);
    int64_t na = opc__certkey_not_after(ck);
    return na > nb ? nb + (na - nb) * 2 / 3 : na;
}

static int64_t backoff_ms(const opc__tls *t, int failures, int64_t retry_after_s)
{
    int64_t d = t->retry_min_ms;
    for (int i = 1; i < failures && d < RETRY_MAX_MS; i++) {
        d *= 2;
    }
    if (d > RETRY_MAX_MS) {
        d = RETRY_MAX_MS;
    }
    uint32_t j = 0;
    if (opc__rand_uniform(1000, &j) == OPC_OK) {
        d += d * (int64_t)j / 10000; /* up to +10% */
    }
    if (retry_after_s * 1000 > d) {
        d = retry_after_s * 1000;
    }
    return d;
}

/* Serve a newer stored certificate (replaced on disk) after a reload. */
static void reload_stored(opc__tls *t)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__certkey *stored = NULL;
    if (opc__acme_store_load_cert(&t->acme, opc__now_s(), &stored, &eb) != OPC_OK) {
        return;
    }
    opc__certkey *cur = opc__tls_certs_get(t->certs);
    if (cur == NULL || strcmp(opc__certkey_serial(cur), opc__certkey_serial(stored)) != 0) {
        opc__tls_certs_set(t->certs, stored);
        log_cert("stored ACME certificate loaded", stored);
    }
    opc__certkey_unref(cur);
    opc__certkey_unref(stored);
}

static void run_acme(opc__tls *t)
{
    int failures = 0;
    int64_t next_try = 0; /* monotonic ms */
    for (;;) {
        if (take_reload(t)) {
            reload_stored(t);
            next_try = 0;
        }
        opc__certkey *cur = opc__tls_certs_get(t->certs);
        int64_t now = opc__now_s();
        int64_t due_at = cur != NULL ? renew_at(cur) : 0;
        int64_t sleep_ms;
        if (now >= due_at && opc__monotonic_ms() >= next_try) {
            opc__ebuf eb;
            opc__ebuf_clear(&eb);
            opc__certkey *ck = NULL;
            int64_t retry_after = 0;
            if (cur != NULL) {
                opc__log(OPC_LOG_INFO, "tls", "renewing the certificate for %s (serial %s)",
                         t->acme.domain, opc__certkey_serial(cur));
            }
            if (opc__acme_obtain(t->client, &ck, &retry_after, &eb) == OPC_OK) {
                opc__tls_certs_set(t->certs, ck);
                log_cert("ACME certificate installed", ck);
                opc__certkey_unref(ck);
                failures = 0;
                sleep_ms = 0;
            } else if (hook_stopping(t)) {
                opc__certkey_unref(cur);
                return;
            } else {
                failures++;
                int64_t d = backoff_ms(t, failures, retry_after);
                next_try = opc__monotonic_ms() + d;
                opc__log(OPC_LOG_ERROR, "tls", "ACME for %s failed (attempt %d, next in %lld s): %s",
                         t->acme.domain, failures, (long long)(d + 999) / 1000, eb.msg);
                if (cur != NULL && opc__certkey_not_after(cur) <= now) {
                    opc__log(OPC_LOG_ERROR, "tls", "the served certificate for %s has expired",
                             t->acme.domain);
                }
                sleep_ms = d;
            }
        } else if (now >= due_at) {
            sleep_ms = next_try - opc__monotonic_ms();
        } else {
            sleep_ms = (due_at - now) * 1000;
            int64_t wait_retry = next_try - opc__monotonic_ms();
            if (wait_retry > sleep_ms) {
                sleep_ms = wait_retry;
            }
        }
        opc__certkey_unref(cur);
        if (sleep_ms > SLEEP_MAX_MS) {
            sleep_ms = SLEEP_MAX_MS;
        }
        if (wait_ms(t, sleep_ms, true)) {
            return;
        }
    }
}

static void *thread_main(void *arg)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    opc__tls *t = arg;
    if (t->mode == MODE_FILES) {
        run_files(t);
    } else {
        run_acme(t);
    }
    return NULL;
}

opc_err opc__tls_prepare(opc__tls *t, void **ssl_ctx, opc__ebuf *eb)
{
    if (t == NULL || t->mode == MODE_NONE || t->thread_started) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "TLS is not configured or already running");
    }
    if (t->mode == MODE_ACME && t->client == NULL) {
        opc__acme_hooks hooks = {.ud = t,
                                 .stopping = hook_stopping,
                                 .sleep_ms = hook_sleep,
                                 .set_challenge = hook_challenge};
        if (opc__acme_client_create(&t->acme, &hooks, &t->client) != OPC_OK) {
            return opc__fail(eb, OPC_ERR_NOMEM, "cannot create the ACME client");
        }
        opc__ebuf seb;
        opc__ebuf_clear(&seb);
        opc__certkey *stored = NULL;
        if (opc__acme_store_load_cert(&t->acme, opc__now_s(), &stored, &seb) == OPC_OK) {
            opc__tls_certs_set(t->certs, stored);
            log_cert("stored ACME certificate loaded", stored);
            opc__certkey_unref(stored);
        } else if (seb.msg[0] != '\0') {
            opc__log(OPC_LOG_WARN, "tls", "stored ACME certificate not used: %s", seb.msg);
        }
    }
    if (t->ctx == NULL) {
        void *ctx = NULL;
        opc_err rc = opc__tls_ctx_new(t->certs, &ctx, eb);
        if (rc != OPC_OK) {
            return rc;
        }
        t->ctx = ctx;
    }
    *ssl_ctx = t->ctx;
    return OPC_OK;
}

opc_err opc__tls_run(opc__tls *t, const char *addr, int port, opc__ebuf *eb)
{
    if (t == NULL || t->ctx == NULL || t->thread_started) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "TLS is not prepared or already running");
    }
    pthread_mutex_lock(&t->mu);
    t->stop = false;
    t->reload = false;
    pthread_mutex_unlock(&t->mu);
    if (pthread_create(&t->thread, NULL, thread_main, t) != 0) {
        return opc__fail(eb, OPC_ERR_INTERNAL, "cannot start the TLS thread");
    }
    t->thread_started = true;
    t->port = port;
    opc__log(OPC_LOG_INFO, "tls", "serving HTTPS on %s port %d%s", addr, port,
             t->mode == MODE_ACME ? " (certificate from ACME)" : "");
    return OPC_OK;
}

opc_err opc__tls_httpd_start(opc__tls *t, int https_port, opc__httpd_config *cfg,
                             struct mg_context **ctx, int *port, int *tls_port, opc__ebuf *eb)
{
    bool tls = t != NULL && opc__tls_configured(t);
    opc_err rc = OPC_OK;
    cfg->tls_port = -1;
    cfg->ssl_ctx = NULL;
    if (tls) {
        rc = opc__tls_prepare(t, &cfg->ssl_ctx, eb);
        cfg->tls_port = https_port;
    }
    if (rc == OPC_OK) {
        rc = opc__httpd_start(cfg, ctx, port, tls_port, eb);
    }
    if (rc == OPC_OK && tls) {
        rc = opc__tls_run(t, cfg->bind, *tls_port, eb);
    }
    return rc;
}

int opc__tls_port(const opc__tls *t)
{
    return t != NULL && t->thread_started ? t->port : -1;
}

void opc__tls_reload(opc__tls *t)
{
    if (t == NULL) {
        return;
    }
    pthread_mutex_lock(&t->mu);
    t->reload = true;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

void opc__tls_stop(opc__tls *t)
{
    if (t == NULL) {
        return;
    }
    if (t->thread_started) {
        pthread_mutex_lock(&t->mu);
        t->stop = true;
        pthread_cond_broadcast(&t->cv);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->thread, NULL);
        t->thread_started = false;
    }
    t->port = -1;
}

void opc__tls_free(opc__tls *t)
{
    if (t == NULL) {
        return;
    }
    opc__tls_stop(t);
    opc__acme_client_free(t->client);
    SSL_CTX_free(t->ctx);
    if (t->certs != NULL) {
        clear_config(t);
    }
    opc__tls_certs_free(t->certs);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    opc__free(t);
}
