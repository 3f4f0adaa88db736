/*
 * tests/cli/credcheck.c - does a token's secret T open a credentials file?
 *
 *   credcheck CREDENTIALS_FILE T_FILE
 *
 * T_FILE holds the raw bytes of the token's `1password.com/token` claim
 * (base64url-decoded by the test script). Parses the file's outer layer,
 * checks T against the verifier and unlocks the inner layer, through the
 * public API only. Prints "server=<id> account=<id> verifier=<yes|no>
 * unlocked=<yes|no>"; exits 0 only when the inner layer opened.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>

#include <opconnect/opconnect.h>

static int read_all(const char *path, char *buf, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return -1;
    }
    *len = fread(buf, 1, cap, f);
    int bad = ferror(f) || !feof(f);
    (void)fclose(f);
    return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
    static char creds_json[OPC_CREDENTIALS_MAX_SIZE + 1];
    unsigned char t[256];
    size_t creds_len = 0;
    size_t t_len = 0;
    if (argc != 3) {
        (void)fprintf(stderr, "usage: credcheck CREDENTIALS_FILE T_FILE\n");
        return 2;
    }
    if (read_all(argv[1], creds_json, sizeof(creds_json) - 1, &creds_len) != 0 ||
        read_all(argv[2], (char *)t, sizeof(t), &t_len) != 0) {
        (void)fprintf(stderr, "credcheck: cannot read the inputs\n");
        return 2;
    }
    if (opc_global_init(OPC_GLOBAL_DEFAULT) != OPC_OK) {
        return 2;
    }
    char errbuf[OPC_ERRBUF_SIZE] = "";
    opc_credentials *c = NULL;
    opc_err err = opc_credentials_parse(creds_json, creds_len, &c, errbuf, sizeof(errbuf));
    if (err != OPC_OK) {
        (void)fprintf(stderr, "credcheck: parse: %s: %s\n", opc_errname(err), errbuf);
        opc_global_cleanup();
        return 2;
    }
    bool verifier = opc_credentials_check_secret(c, t, t_len);
    err = opc_credentials_unlock(c, t, t_len, errbuf, sizeof(errbuf));
    (void)printf("server=%s account=%s verifier=%s unlocked=%s\n", opc_credentials_server_id(c),
                 opc_credentials_account_id(c), verifier ? "yes" : "no",
                 err == OPC_OK && opc_credentials_is_unlocked(c) ? "yes" : "no");
    int rc = err == OPC_OK ? 0 : 1;
    opc_credentials_free(c);
    opc_global_cleanup();
    opc_memzero(t, sizeof(t));
    return rc;
}
