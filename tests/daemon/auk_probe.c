/*
 * tests/daemon/auk_probe.c - the Account Unlock Key of an account, for the
 * canary scans of the daemon tests (test_owner_store.sh): the key `op`
 * derives from the password and the Secret Key (2SKD) and keeps sealed in
 * its session file, which must appear nowhere on the account server's
 * side. Reads the account's email, salt and iterations from its file (the
 * account row, as the server sends it), the password and the Secret Key
 * from the environment (AUK_PASSWORD, AUK_SECRET_KEY: not on the command
 * line). Linked like the unit tests, against the static library's
 * internals.
 *
 *   auk_probe ACCOUNT_DB
 *
 * Prints the AUK in hex on line 1 and in base64url (no padding) on line 2;
 * exit 0, or 2 with one line on stderr.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <opconnect/opconnect.h>

#include "account/account_int.h"
#include "account/signup.h"
#include "crypto/base64.h"
#include "crypto/twoskd.h"
#include "wire/proto.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: auk_probe ACCOUNT_DB (AUK_PASSWORD, AUK_SECRET_KEY set)\n");
        return 2;
    }
    const char *pw = getenv("AUK_PASSWORD");
    const char *skt = getenv("AUK_SECRET_KEY");
    if (pw == NULL || skt == NULL || opc_global_init(0) != OPC_OK) {
        fprintf(stderr, "auk_probe: AUK_PASSWORD and AUK_SECRET_KEY must be set\n");
        return 2;
    }
    char errbuf[OPC_ERRBUF_SIZE] = "";
    opc_account *a = NULL;
    opc__proto_account row;
    memset(&row, 0, sizeof row);
    opc__secret_key sk;
    memset(&sk, 0, sizeof sk);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    uint8_t auk[32];
    opc_err rc = opc_account_open(argv[1], &a, errbuf, sizeof errbuf);
    if (rc == OPC_OK) {
        rc = opc__account_row(a, &row, &eb);
    }
    if (rc == OPC_OK) {
        rc = opc__secret_key_parse(skt, &sk, &eb);
    }
    if (rc == OPC_OK) {
        rc = opc__account_auk(pw, row.email, &sk, row.kdf_salt, row.iterations,
                              OPC_ACCOUNT_MIN_ITERATIONS, auk, &eb);
    }
    char b64[64] = "";
    if (rc == OPC_OK) {
        rc = opc__b64_encode_to(auk, sizeof auk, OPC_B64URL, b64, sizeof b64, NULL);
    }
    if (rc != OPC_OK) {
        fprintf(stderr, "auk_probe: %s: %s%s\n", opc_errname(rc), errbuf, eb.msg);
    } else {
        for (size_t i = 0; i < sizeof auk; i++) {
            printf("%02x", auk[i]);
        }
        printf("\n%s\n", b64);
    }
    opc__proto_account_clear(&row);
    opc_account_free(a);
    opc_global_cleanup();
    return rc == OPC_OK ? 0 : 2;
}
