/*
 * bench/deployed/populate.c - the account-side helper of bench/deployed/run:
 * writes items straight into an account file with the library, instead of
 * paying one `op` process (~70 ms) per item.
 *
 *   populate create ACCOUNT_DB VAULT_ID COUNT
 *       COUNT login items (username, password, one URL, a note, two tags).
 *       Titles are "<Word> login <n>" with Word taken from ten words in turn,
 *       so `title co "Harbor"` matches one item in ten. The file's
 *       synchronous pragma is lowered to OFF for this bulk load only (the
 *       daemons open the file with their own settings).
 *   populate edit ACCOUNT_DB VAULT_ID ITEM_ID
 *       One edit of ITEM_ID (full replace: a new password and note) per
 *       line read on stdin; after each, one line on stdout:
 *       "<monotonic s before> <monotonic s after commit> <new version>".
 *       End of input ends it. Normal durability (the library's settings).
 *
 * Both unlock the account with the session of `op signin`: the token in
 * OP_SESSION_TOKEN, the session files in $XDG_RUNTIME_DIR/opconnect (the
 * CLI's place). ACCOUNT_DB "remote:<accountId>" is instead the account on
 * op-account-server that `op signin --address` signed in to (its session in
 * the same place, OP_CA_FILE the CA bundle if any): every item is then one
 * owner batch over HTTPS (bench/pg/run loads a PostgreSQL-backed account
 * so). The create mode prints its rate on stderr. A benchmark tool, not
 * part of the library or of `make check`.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include <opconnect/opconnect.h>

#include "account/account_int.h"

static const char *const words[10] = {"Acme",  "Bolt",  "Cedar",  "Delta", "Ember",
                                      "Fjord", "Grove", "Harbor", "Iris",  "Juniper"};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(opc_account *a, opc_err rc, const char *what)
{
    if (rc != OPC_OK) {
        fprintf(stderr, "populate: %s: %s (%s)\n", what, opc_strerror(rc),
                a != NULL ? opc_account_errmsg(a) : "");
        exit(1);
    }
}

static opc_account *unlock(const char *path)
{
    const char *token = getenv("OP_SESSION_TOKEN");
    const char *rt = getenv("XDG_RUNTIME_DIR");
    if (token == NULL || rt == NULL) {
        fprintf(stderr, "populate: OP_SESSION_TOKEN and XDG_RUNTIME_DIR must be set\n");
        exit(1);
    }
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s/opconnect", rt) >= (int)sizeof dir) {
        fprintf(stderr, "populate: XDG_RUNTIME_DIR too long\n");
        exit(1);
    }
    char err[256] = "";
    opc_account *a = NULL;
    if (strncmp(path, "remote:", 7) == 0) {
        const char *ca = getenv("OP_CA_FILE");
        if (opc_account_remote_open(dir, path + 7, token, ca != NULL && ca[0] != '\0' ? ca : NULL,
                                    &a, err, sizeof err) != OPC_OK) {
            fprintf(stderr, "populate: open %s: %s\n", path, err);
            exit(1);
        }
        return a;
    }
    if (opc_account_open(path, &a, err, sizeof err) != OPC_OK) {
        fprintf(stderr, "populate: open %s: %s\n", path, err);
        exit(1);
    }
    check(a, opc_account_session_unlock(a, dir, token), "session unlock");
    return a;
}

/* A login item as the CLI would send it; n picks the title and values. */
static int login_json(char *buf, size_t len, long n, const char *note)
{
    return snprintf(buf, len,
                    "{\"title\":\"%s login %05ld\",\"category\":\"LOGIN\","
                    "\"tags\":[\"bench\",\"team-%ld\"],"
                    "\"urls\":[{\"label\":\"website\",\"primary\":true,"
                    "\"href\":\"https://app%ld.%s.example.com/login\"}],"
                    "\"fields\":["
                    "{\"id\":\"username\",\"type\":\"STRING\",\"purpose\":\"USERNAME\","
                    "\"label\":\"username\",\"value\":\"user%ld@%s.example.com\"},"
                    "{\"id\":\"password\",\"type\":\"CONCEALED\",\"purpose\":\"PASSWORD\","
                    "\"label\":\"password\",\"value\":\"pw-%08lx-%s-Zq7!rT\"},"
                    "{\"id\":\"notesPlain\",\"type\":\"STRING\",\"purpose\":\"NOTES\","
                    "\"label\":\"notesPlain\",\"value\":\"%s\"}]}",
                    words[n % 10], n, n % 7, n, words[n % 10], n, words[n % 10],
                    (unsigned long)(n * 2654435761u), words[(n / 10) % 10], note);
}

static int do_create(const char *path, const char *vault, long count)
{
    opc_account *a = unlock(path);
    /* Bulk load: no fsync per item (the file is a throw-away benchmark
     * account; a remote account keeps the server's settings). */
    char *msg = NULL;
    if (strncmp(path, "remote:", 7) != 0 &&
        sqlite3_exec(opc__db_sqlite(a->db), "PRAGMA synchronous=OFF", NULL, NULL, &msg) !=
            SQLITE_OK) {
        fprintf(stderr, "populate: PRAGMA synchronous: %s\n", msg != NULL ? msg : "?");
        sqlite3_free(msg);
        return 1;
    }
    char json[2048];
    double t0 = now_s();
    for (long n = 0; n < count; n++) {
        char note[160];
        (void)snprintf(note, sizeof note,
                       "Shared login for the %s team; rotate every 90 days. Ticket OPS-%ld.",
                       words[(n / 10) % 10], 1000 + n);
        if (login_json(json, sizeof json, n, note) >= (int)sizeof json) {
            fprintf(stderr, "populate: item JSON too long\n");
            return 1;
        }
        opc_secret *out = NULL;
        check(a, opc_account_item_create(a, vault, json, &out), "item create");
        opc_secret_free(out);
    }
    double dt = now_s() - t0;
    fprintf(stderr, "populate: %ld items in %.2f s (%.0f/s)\n", count, dt,
            dt > 0 ? (double)count / dt : 0.0);
    opc_account_free(a);
    return 0;
}

static int do_edit(const char *path, const char *vault, const char *item)
{
    opc_account *a = unlock(path);
    char line[64];
    char json[2048];
    long k = 0;
    while (fgets(line, sizeof line, stdin) != NULL) {
        char note[160];
        (void)snprintf(note, sizeof note, "Edited by the propagation benchmark, edit %ld.", k);
        if (login_json(json, sizeof json, 7, note) >= (int)sizeof json) {
            return 1;
        }
        opc_secret *out = NULL;
        double t0 = now_s();
        check(a, opc_account_item_replace(a, vault, item, json, 0, &out), "item replace");
        double t1 = now_s();
        /* The new version, from the returned item's "version": N. */
        const char *s = strstr((const char *)opc_secret_data(out), "\"version\":");
        long version = s != NULL ? strtol(s + 10, NULL, 10) : -1;
        opc_secret_free(out);
        printf("%.6f %.6f %ld\n", t0, t1, version);
        fflush(stdout);
        k++;
    }
    opc_account_free(a);
    return 0;
}

int main(int argc, char **argv)
{
    if (opc_global_init(OPC_GLOBAL_DEFAULT) != OPC_OK) {
        fprintf(stderr, "populate: cannot initialize libopconnect\n");
        return 1;
    }
    int rc = 2;
    if (argc == 5 && strcmp(argv[1], "create") == 0) {
        rc = do_create(argv[2], argv[3], strtol(argv[4], NULL, 10));
    } else if (argc == 5 && strcmp(argv[1], "edit") == 0) {
        rc = do_edit(argv[2], argv[3], argv[4]);
    } else {
        fprintf(stderr, "usage: populate create ACCOUNT_DB VAULT_ID COUNT\n"
                        "       populate edit ACCOUNT_DB VAULT_ID ITEM_ID\n");
    }
    opc_global_cleanup();
    return rc;
}
