/*
 * tests/daemon/upstream_probe.c - one upstream operation, as a Connect
 * server makes it, for the daemon tests (test_net_trust.sh: account
 * isolation). Opens the upstream that a credentials file names (the local
 * account file or the https:// account server, as connect-sync does: the
 * outer layer only) and calls one opc__upstream_* operation with the ids
 * given, so a test can try another account's ids through the real client.
 * Linked like the unit tests, against the static library's internals.
 *
 *   upstream_probe CREDS OP [ARGS...]
 *     changes                              the feed from 0 (its entries on line 2)
 *     issuer_key KID | access VAULT | vault VAULT | item ITEM | token JTI
 *     vault_items VAULT
 *     vault_files VAULT FIRST LAST         the chunks of the vault's items FIRST..LAST
 *     item_files ITEM
 *     item_put VAULT ITEM EXPECTED SRC     a write whose envelopes and key serial
 *                                          are those of item SRC (read first
 *                                          through the same upstream), their
 *                                          kid set to VAULT: well-formed for
 *                                          VAULT as far as the account server
 *                                          can tell (it cannot open them)
 *     item_delete VAULT ITEM EXPECTED
 *
 * Prints "OK" or the error's symbolic name (opc_errname) and its message
 * on line 1; on OK, the answer as compact JSON on line 2. Exit 0 when the
 * operation ran (whatever its result), 2 when it could not be tried
 * (usage, credentials, or SRC unreadable for item_put).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <opconnect/credentials.h>
#include <opconnect/opconnect.h>

#include "core/err.h"
#include "upstream/upstream.h"
#include "wire/rows.h"

static int usage(void)
{
    (void)fprintf(stderr, "usage: upstream_probe CREDS OP [ARGS...] (see the source)\n");
    return 2;
}

static void print_result(opc_err rc, const opc__ebuf *eb, cJSON *a, cJSON *b)
{
    if (rc != OPC_OK) {
        (void)printf("%s %s\n", opc_errname(rc), eb->msg);
        return;
    }
    (void)printf("OK\n");
    cJSON *both = NULL;
    if (b != NULL) {
        both = cJSON_CreateArray();
        if (both != NULL) {
            (void)cJSON_AddItemReferenceToArray(both, a);
            (void)cJSON_AddItemReferenceToArray(both, b);
        }
    }
    char *text = cJSON_PrintUnformatted(both != NULL ? both : a);
    (void)printf("%s\n", text != NULL ? text : "null");
    cJSON_free(text);
    cJSON_Delete(both);
}

/* The envelope text with its kid set to vault (new text, cJSON_free), NULL on failure. */
static char *relabel(const char *envelope, const char *vault)
{
    cJSON *env = cJSON_Parse(envelope);
    char *text = NULL;
    if (env != NULL && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(env, "kid")) &&
        cJSON_ReplaceItemInObjectCaseSensitive(env, "kid", cJSON_CreateString(vault))) {
        text = cJSON_PrintUnformatted(env);
    }
    cJSON_Delete(env);
    return text;
}

static int64_t arg_int(const char *s)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    return (end == s || *end != '\0') ? -1 : (int64_t)v;
}

static int run(opc__upstream *u, int argc, char **argv)
{
    const char *op = argv[0];
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    cJSON *out = NULL;
    cJSON *out2 = NULL;
    opc_err rc;
    if (strcmp(op, "changes") == 0 && argc == 1) {
        int64_t next = 0;
        rc = opc__upstream_changes(u, 0, OPC_UPSTREAM_MAX_LIMIT, 0, &out, &next, &eb);
    } else if (strcmp(op, "issuer_key") == 0 && argc == 2) {
        rc = opc__upstream_issuer_key(u, argv[1], &out, &eb);
    } else if (strcmp(op, "access") == 0 && argc == 2) {
        rc = opc__upstream_access(u, argv[1], &out, &eb);
    } else if (strcmp(op, "vault") == 0 && argc == 2) {
        rc = opc__upstream_vault(u, argv[1], &out, &eb);
    } else if (strcmp(op, "item") == 0 && argc == 2) {
        rc = opc__upstream_item(u, argv[1], &out, &eb);
    } else if (strcmp(op, "token") == 0 && argc == 2) {
        rc = opc__upstream_token(u, argv[1], &out, &eb);
    } else if (strcmp(op, "vault_items") == 0 && argc == 2) {
        rc = opc__upstream_vault_items(u, argv[1], NULL, 100, &out, &eb);
    } else if (strcmp(op, "vault_files") == 0 && argc == 4) {
        rc = opc__upstream_vault_files(u, argv[1], argv[2], "", 0, argv[3], 100, &out, &eb);
    } else if (strcmp(op, "item_files") == 0 && argc == 2) {
        rc = opc__upstream_item_files(u, argv[1], NULL, 0, 100, &out, &eb);
    } else if (strcmp(op, "item_put") == 0 && argc == 5) {
        cJSON *src = NULL;
        rc = opc__upstream_item(u, argv[4], &src, &eb);
        opc__wire_item row;
        if (rc == OPC_OK) {
            rc = opc__wire_item_decode(src, &row, &eb);
        }
        char *overview = NULL;
        char *details = NULL;
        if (rc == OPC_OK && row.overview != NULL && row.details != NULL) {
            overview = relabel(row.overview, argv[1]);
            details = relabel(row.details, argv[1]);
        }
        if (overview == NULL || details == NULL) {
            (void)fprintf(stderr, "upstream_probe: source item %s unusable: %s\n", argv[4],
                          rc != OPC_OK ? opc_errname(rc) : "no envelopes");
            cJSON_free(overview);
            cJSON_free(details);
            cJSON_Delete(src);
            return 2;
        }
        opc__item_write w = {.vault_id = argv[1],
                             .item_id = argv[2],
                             .expected_version = arg_int(argv[3]),
                             .key_sn = row.key_sn,
                             .overview = overview,
                             .details = details};
        rc = opc__upstream_item_put(u, &w, &out, &out2, &eb);
        cJSON_free(overview);
        cJSON_free(details);
        cJSON_Delete(src);
    } else if (strcmp(op, "item_delete") == 0 && argc == 4) {
        rc = opc__upstream_item_delete(u, argv[1], argv[2], arg_int(argv[3]), &out, &out2, &eb);
    } else {
        return usage();
    }
    print_result(rc, &eb, out, out2);
    cJSON_Delete(out);
    cJSON_Delete(out2);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        return usage();
    }
    if (opc_global_init(OPC_GLOBAL_DEFAULT) != OPC_OK) {
        (void)fprintf(stderr, "upstream_probe: opc_global_init failed\n");
        return 2;
    }
    /* As connect-sync does with OP_UPSTREAM_CA_FILE (daemons/common). */
    const char *ca = getenv("OP_UPSTREAM_CA_FILE");
    if (opc_global_set_upstream_ca_file(ca) != OPC_OK) {
        (void)fprintf(stderr, "upstream_probe: OP_UPSTREAM_CA_FILE: the path is too long\n");
        opc_global_cleanup();
        return 2;
    }
    char errbuf[OPC_ERRBUF_SIZE];
    opc_credentials *creds = NULL;
    if (opc_credentials_load(argv[1], &creds, errbuf, sizeof errbuf) != OPC_OK) {
        (void)fprintf(stderr, "upstream_probe: %s\n", errbuf);
        opc_global_cleanup();
        return 2;
    }
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__upstream *u = NULL;
    opc_err rc = opc__upstream_open(creds, &u, &eb);
    int status;
    if (rc != OPC_OK) {
        (void)fprintf(stderr, "upstream_probe: %s: %s\n", opc_errname(rc), eb.msg);
        status = 2;
    } else {
        status = run(u, argc - 2, argv + 2);
    }
    opc__upstream_close(u);
    opc_credentials_free(creds);
    opc_global_cleanup();
    return status;
}
