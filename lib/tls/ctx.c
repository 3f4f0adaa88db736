/*
 * tls/ctx.c - the server SSL_CTX and the choice of certificate per
 * handshake.
 *
 * The ClientHello callback reads the SNI name and the ALPN list straight
 * from the hello; when the client offers acme-tls/1 for a name with a
 * pending TLS-ALPN-01 challenge, the handshake is marked (ex_data holding a
 * reference to the challenge certificate). The certificate callback then
 * installs that certificate, or else the current one, on the SSL; the ALPN
 * callback selects acme-tls/1 for marked handshakes and http/1.1 (when
 * offered) for the others. The current certificate is a refcounted object
 * swapped under a mutex, so handshakes never see a half-updated pair and
 * connections keep the certificate they started with.
 */
#include "internal.h"

#include <pthread.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/strparse.h"
#include "tls/tls.h"

#define MAX_CHALLENGES 8
#define DOMAIN_MAX 253

/* TLS 1.2 suites: forward secrecy and AEAD only (TLS 1.3 keeps OpenSSL's). */
#define CIPHERS_TLS12                                                                          \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct opc__tls_certs {
    pthread_mutex_t mu;
    opc__certkey *current;
    struct {
        char domain[DOMAIN_MAX + 1];
        opc__certkey *ck;
    } challenges[MAX_CHALLENGES];
};

opc_err opc__tls_certs_create(opc__tls_certs **out)
{
    *out = NULL;
    opc__tls_certs *c = opc__calloc(1, sizeof *c);
    if (c == NULL) {
        return OPC_ERR_NOMEM;
    }
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        opc__free(c);
        return OPC_ERR_INTERNAL;
    }
    *out = c;
    return OPC_OK;
}

void opc__tls_certs_free(opc__tls_certs *c)
{
    if (c == NULL) {
        return;
    }
    opc__certkey_unref(c->current);
    for (size_t i = 0; i < MAX_CHALLENGES; i++) {
        opc__certkey_unref(c->challenges[i].ck);
    }
    pthread_mutex_destroy(&c->mu);
    opc__free(c);
}

void opc__tls_certs_set(opc__tls_certs *c, opc__certkey *ck)
{
    opc__certkey_ref(ck);
    pthread_mutex_lock(&c->mu);
    opc__certkey *old = c->current;
    c->current = ck;
    pthread_mutex_unlock(&c->mu);
    opc__certkey_unref(old);
}

opc__certkey *opc__tls_certs_get(opc__tls_certs *c)
{
    pthread_mutex_lock(&c->mu);
    opc__certkey *ck = c->current;
    opc__certkey_ref(ck);
    pthread_mutex_unlock(&c->mu);
    return ck;
}

static bool domain_eq(const char *a, const unsigned char *b, size_t blen)
{
    if (strlen(a) != blen) {
        return false;
    }
    for (size_t i = 0; i < blen; i++) {
        if (opc__to_lower((unsigned char)a[i]) != opc__to_lower(b[i])) {
            return false;
        }
    }
    return true;
}

opc_err opc__tls_certs_set_challenge(opc__tls_certs *c, const char *domain, opc__certkey *ck)
{
    size_t n = strlen(domain);
    if (n == 0 || n > DOMAIN_MAX) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__certkey *old = NULL;
    opc_err rc = OPC_OK;
    opc__certkey_ref(ck);
    pthread_mutex_lock(&c->mu);
    size_t slot = MAX_CHALLENGES;
    for (size_t i = 0; i < MAX_CHALLENGES; i++) {
        if (c->challenges[i].ck != NULL &&
            domain_eq(c->challenges[i].domain, (const unsigned char *)domain, n)) {
            slot = i;
            break;
        }
        if (c->challenges[i].ck == NULL && slot == MAX_CHALLENGES) {
            slot = i;
        }
    }
    if (slot == MAX_CHALLENGES) {
        rc = ck != NULL ? OPC_ERR_TOO_LARGE : OPC_OK;
    } else {
        old = c->challenges[slot].ck;
        c->challenges[slot].ck = ck;
        memcpy(c->challenges[slot].domain, domain, n + 1);
        ck = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    opc__certkey_unref(old);
    opc__certkey_unref(ck); /* not stored */
    return rc;
}

/* A new reference to the challenge certificate for name, or NULL. */
static opc__certkey *find_challenge(opc__tls_certs *c, const unsigned char *name, size_t len)
{
    opc__certkey *ck = NULL;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < MAX_CHALLENGES; i++) {
        if (c->challenges[i].ck != NULL && domain_eq(c->challenges[i].domain, name, len)) {
            ck = c->challenges[i].ck;
            opc__certkey_ref(ck);
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return ck;
}

/* ---- per-handshake state: ex_data holding the challenge certificate ---- */

static pthread_once_t ex_once = PTHREAD_ONCE_INIT;
static int ex_index = -1;

static void ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    opc__certkey_unref(ptr);
}

static void ex_init(void)
{
    ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, ex_free);
}

/* The host name of a server_name extension (RFC 6066 §3), or false. */
static bool sni_name(const unsigned char *p, size_t n, const unsigned char **name, size_t *len)
{
    if (n < 2 || (size_t)(p[0] << 8 | p[1]) != n - 2) {
        return false;
    }
    p += 2;
    n -= 2;
    while (n >= 3) {
        size_t l = (size_t)(p[1] << 8 | p[2]);
        if (l > n - 3) {
            return false;
        }
        if (p[0] == 0 /* host_name */) {
            *name = p + 3;
            *len = l;
            return l > 0 && l <= DOMAIN_MAX;
        }
        p += 3 + l;
        n -= 3 + l;
    }
    return false;
}

/* True when an ALPN protocol list (without its 2-byte length) has proto
 * (length-prefixed); *at points at it. */
static bool alpn_has(const unsigned char *p, size_t n, const char *proto,
                     const unsigned char **at)
{
    size_t plen = strlen(proto);
    size_t i = 0;
    while (i < n) {
        size_t l = p[i];
        if (l == 0 || l > n - i - 1) {
            return false;
        }
        if (l + 1 == plen && memcmp(p + i, proto, plen) == 0) { /* opc-public-compare */
            if (at != NULL) {
                *at = p + i;
            }
            return true;
        }
        i += 1 + l;
    }
    return false;
}

static int on_client_hello(SSL *ssl, int *alert, void *arg)
{
    (void)alert;
    opc__tls_certs *c = arg;
    const unsigned char *alpn = NULL;
    size_t alpn_len = 0;
    const unsigned char *sni = NULL;
    size_t sni_len = 0;
    const unsigned char *name = NULL;
    size_t name_len = 0;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation,
                                  &alpn, &alpn_len) != 1 ||
        alpn_len < 2 || (size_t)(alpn[0] << 8 | alpn[1]) != alpn_len - 2 ||
        !alpn_has(alpn + 2, alpn_len - 2, OPC_ACME_TLS_ALPN, NULL)) {
        return SSL_CLIENT_HELLO_SUCCESS; /* an ordinary handshake */
    }
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &sni, &sni_len) != 1 ||
        !sni_name(sni, sni_len, &name, &name_len)) {
        return SSL_CLIENT_HELLO_SUCCESS;
    }
    opc__certkey *ck = find_challenge(c, name, name_len);
    if (ck != NULL && SSL_set_ex_data(ssl, ex_index, ck) != 1) {
        opc__certkey_unref(ck);
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

static int on_cert(SSL *ssl, void *arg)
{
    opc__tls_certs *c = arg;
    const opc__certkey *challenge = SSL_get_ex_data(ssl, ex_index);
    if (challenge != NULL) {
        /* RFC 8737 §3: the validator closes after the handshake */
        opc__log(OPC_LOG_DEBUG, "tls", "answered an acme-tls/1 validation handshake");
        return opc__certkey_use(challenge, ssl);
    }
    opc__certkey *ck = opc__tls_certs_get(c);
    if (ck == NULL) {
        return 0; /* no certificate yet (ACME pending): the handshake fails */
    }
    int ok = opc__certkey_use(ck, ssl);
    opc__certkey_unref(ck);
    return ok;
}

static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)arg;
    const unsigned char *at = NULL;
    if (SSL_get_ex_data(ssl, ex_index) != NULL) {
        if (alpn_has(in, inlen, OPC_ACME_TLS_ALPN, &at)) {
            *out = at + 1;
            *outlen = at[0];
            return SSL_TLSEXT_ERR_OK;
        }
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    if (alpn_has(in, inlen, "\x08http/1.1", &at)) {
        *out = at + 1;
        *outlen = at[0];
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

opc_err opc__tls_ctx_new(opc__tls_certs *c, void **out, opc__ebuf *eb)
{
    *out = NULL;
    if (pthread_once(&ex_once, ex_init) != 0 || ex_index < 0) {
        return opc__fail(eb, OPC_ERR_INTERNAL, "TLS: cannot allocate SSL ex_data");
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        ERR_clear_error();
        return opc__fail(eb, OPC_ERR_INTERNAL, "TLS: cannot create an SSL_CTX");
    }
    static const unsigned char sid_ctx[] = "opconnect";
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, CIPHERS_TLS12) != 1 ||
        SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1) != 1) {
        ERR_clear_error();
        SSL_CTX_free(ctx);
        return opc__fail(eb, OPC_ERR_INTERNAL, "TLS: cannot set the protocol policy");
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_client_hello_cb(ctx, on_client_hello, c);
    SSL_CTX_set_cert_cb(ctx, on_cert, c);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, c);
    *out = ctx;
    return OPC_OK;
}
