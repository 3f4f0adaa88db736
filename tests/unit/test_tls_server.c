/*
 * tests/unit/test_tls_server.c - HTTPS of the embedded server (opc_server
 * over opc_api over lib/tls), as an application embedding the library sees
 * it: the setters and their errors, HTTPS next to HTTP on free ports, a
 * request over TLS, and a replaced certificate picked up by
 * opc_server_tls_reload() while the server runs.
 *
 * The library uses the system allocator here (threads allocate at once).
 */
#include "account_fixture.h"
#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* Write a self-signed localhost certificate with this serial, and its key. */
static void write_pair(const char *cert_path, const char *key_path, long serial)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(k);
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, k);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    FILE *f = fopen(cert_path, "w");
    assert_non_null(f);
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(key_path, "w");
    assert_non_null(f);
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(k);
}

/* GET /heartbeat over a new TLS connection; the serial of the server's
 * certificate, or -1 when the handshake or the request failed. */
static long https_serial(int port, char *status_line, size_t cap)
{
    int fd = opc_test_connect_local(port);
    if (fd < 0) {
        return -1;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    long serial = -1;
    static const char req[] = "GET /heartbeat HTTP/1.1\r\nHost: localhost\r\n"
                              "Connection: close\r\n\r\n";
    char buf[512];
    if (SSL_connect(ssl) == 1 && SSL_write(ssl, req, (int)sizeof req - 1) > 0) {
        int n = SSL_read(ssl, buf, (int)sizeof buf - 1);
        if (n > 0) {
            buf[n] = '\0';
            char *eol = strstr(buf, "\r\n");
            if (eol != NULL) {
                *eol = '\0';
            }
            size_t len = strlen(buf) < cap - 1 ? strlen(buf) : cap - 1;
            memcpy(status_line, buf, len);
            status_line[len] = '\0';
            X509 *peer = SSL_get1_peer_certificate(ssl);
            serial = ASN1_INTEGER_get(X509_get0_serialNumber(peer));
            X509_free(peer);
        }
    }
    ERR_clear_error();
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return serial;
}

static void test_embedded_https(void **state)
{
    (void)state;
    fx f;
    fx_create(&f);
    char vault[27];
    fx_vault(f.a, "Demo", vault);
    const char *vaults[] = {vault};
    opc_credentials *creds = NULL;
    cJSON_Delete(fx_server(f.a, "Embedded TLS", vaults, 1, &creds));
    char err[OPC_ERRBUF_SIZE];

    char cache[300], cert[300], key[300], bad[300];
    snprintf(cache, sizeof cache, "%s/data/1password.sqlite", f.dir);
    snprintf(cert, sizeof cert, "%s/cert.pem", f.dir);
    snprintf(key, sizeof key, "%s/key.pem", f.dir);
    snprintf(bad, sizeof bad, "%s/missing.pem", f.dir);
    write_pair(cert, key, 11);

    opc_server *srv = NULL;
    assert_int_equal(opc_server_create(creds, cache, &srv, err, sizeof err), OPC_OK);
    assert_int_equal(opc_server_tls_reload(srv), OPC_ERR_INVALID_ARG); /* nothing configured */
    assert_int_equal(opc_server_set_https_port(srv, 65536), OPC_ERR_INVALID_ARG);
    assert_int_equal(opc_server_set_tls_files(srv, bad, key, err, sizeof err), OPC_ERR_IO);
    assert_non_null(strstr(err, "missing.pem: cannot read"));
    assert_int_equal(opc_server_set_tls_files(srv, key, key, err, sizeof err), OPC_ERR_PARSE);
    assert_non_null(strstr(err, "no PEM certificate data"));
    assert_int_equal(
        opc_server_set_acme(srv, "bad domain", NULL, NULL, NULL, f.dir, err, sizeof err),
        OPC_ERR_INVALID_ARG);
    assert_int_equal(
        opc_server_set_acme(srv, "ok.example", NULL, NULL, NULL, "relative", err, sizeof err),
        OPC_ERR_INVALID_ARG);
    assert_int_equal(opc_server_set_tls_files(srv, cert, key, err, sizeof err), OPC_OK);
    assert_int_equal(opc_server_set_https_port(srv, 0), OPC_OK);
    assert_int_equal(opc_server_set_http_port(srv, 0), OPC_OK);
    assert_int_equal(opc_server_set_bind_address(srv, "127.0.0.1"), OPC_OK);
    assert_int_equal(opc_server_https_port(srv), -1);
    assert_int_equal(opc_server_start(srv, err, sizeof err), OPC_OK);
    int https = opc_server_https_port(srv);
    assert_true(https > 0);
    assert_true(https != opc_server_port(srv));
    assert_int_equal(opc_server_set_tls_files(srv, cert, key, err, sizeof err),
                     OPC_ERR_INVALID_ARG); /* running */

    char line[128] = "";
    assert_int_equal(https_serial(https, line, sizeof line), 11);
    assert_string_equal(line, "HTTP/1.1 200 OK");

    /* replace the files, reload: new connections get the new certificate */
    write_pair(cert, key, 12);
    assert_int_equal(opc_server_tls_reload(srv), OPC_OK);
    long serial = 0;
    for (int i = 0; i < 60 && serial != 12; i++) {
        nanosleep(&(struct timespec){.tv_nsec = 50000000L}, NULL);
        serial = https_serial(https, line, sizeof line);
    }
    assert_int_equal(serial, 12);

    opc_server_stop(srv);
    assert_int_equal(opc_server_https_port(srv), -1);
    assert_int_equal(https_serial(https, line, sizeof line), -1); /* closed */
    opc_server_free(srv);
    opc_credentials_free(creds);
    fx_destroy(&f);
}

static int group_setup(void **state)
{
    (void)state;
    return opc_global_init(OPC_GLOBAL_DEFAULT) == OPC_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    opc_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded_https),
    };
    return cmocka_run_group_tests_name("tls_server", tests, group_setup, group_teardown);
}
