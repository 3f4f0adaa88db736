/*
 * bench/bench_sync.c - the initial sync of a local account into an empty
 * cache (issue 11), with the figures needed to explain it:
 *
 *   sync        opc_sync steps from an empty cache until the initial sync
 *               is complete (plus the one draining step sx_run does)
 *   reads       the upstream reads alone, made the way the sync makes them
 *               (feed pages, then per entry its rows), no cache at all
 *   reference   a plain SQLite bulk insert of the cached item rows into an
 *               empty table of a fresh WAL file, one transaction
 *
 * The account (N login items with a few fields, tags, a URL and notes in
 * one vault, a Connect server granted it, created after the items as in
 * real life) is built once under $OPC_BENCH_DIR (default
 * /tmp/opc-bench-sync) and reused: building it is not what is measured.
 *
 * Usage: bench_sync [items (10000)] [runs (3)]. A benchmark, not a test: it
 * asserts nothing about speed, only that the cache ends up with N items.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include <opconnect/opconnect.h>

#include "account/account_int.h"
#include "cache/cache.h"
#include "sync/sync.h"
#include "upstream/upstream.h"

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of the process: on a loaded machine a steadier figure than wall time. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(opc_err rc, const char *what, const char *msg)
{
    if (rc != OPC_OK) {
        fprintf(stderr, "bench_sync: %s failed: %s (%s)\n", what, opc_strerror(rc),
                msg != NULL ? msg : "");
        exit(1);
    }
}

static void die_sql(int src, const char *what)
{
    if (src != SQLITE_OK && src != SQLITE_DONE && src != SQLITE_ROW) {
        fprintf(stderr, "bench_sync: %s: %s\n", what, sqlite3_errstr(src));
        exit(1);
    }
}

typedef struct setup {
    char dir[200];
    char account[300];
    char server[OPC_ID_LEN + 1];
    char account_id[OPC_ID_LEN + 1];
} setup;

static const char item_fmt[] =
    "{\"title\":\"Login %d at example-%d.com\",\"category\":\"LOGIN\","
    "\"tags\":[\"bench\",\"team-%d\"],"
    "\"urls\":[{\"href\":\"https://login.example-%d.com/signin?from=bench\",\"primary\":true}],"
    "\"fields\":["
    "{\"id\":\"username\",\"purpose\":\"USERNAME\",\"type\":\"STRING\","
    "\"value\":\"user%d@example.com\"},"
    "{\"id\":\"password\",\"purpose\":\"PASSWORD\",\"type\":\"CONCEALED\","
    "\"value\":\"pw-%08x-%08x-correct-horse\"},"
    "{\"id\":\"notesPlain\",\"purpose\":\"NOTES\",\"type\":\"STRING\","
    "\"value\":\"Shared login number %d; rotate every 90 days; owner: team %d.\"},"
    "{\"id\":\"pin\",\"type\":\"CONCEALED\",\"label\":\"PIN\",\"value\":\"%04d\"}]}";

/* Read "server account" from ids, or build the account and write it. */
static void prepare(setup *x, int n)
{
    const char *base = getenv("OPC_BENCH_DIR");
    (void)snprintf(x->dir, sizeof x->dir, "%s/n%d", base != NULL ? base : "/tmp/opc-bench-sync",
                   n);
    (void)snprintf(x->account, sizeof x->account, "%s/account.db", x->dir);
    char ids[320];
    (void)snprintf(ids, sizeof ids, "%s/ids", x->dir);
    FILE *f = fopen(ids, "r");
    if (f != NULL) {
        int got = fscanf(f, "%26s %26s", x->server, x->account_id);
        fclose(f);
        if (got == 2) {
            return;
        }
    }
    char cmd[512];
    (void)snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", x->dir, x->dir);
    if (system(cmd) != 0) {
        die(OPC_ERR_IO, "mkdir", x->dir);
    }
    fprintf(stderr, "bench_sync: building an account of %d items in %s (once)...\n", n, x->dir);
    double t0 = seconds();
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_account *a = NULL;
    opc_secret *sk = NULL;
    die(opc__account_create_ex(x->account, "bench@example.com", "bench password", 2, 1, &a, &sk,
                               &eb),
        "account create", eb.msg);
    opc_secret_free(sk);
    /* Building only: the measured sync reads the file, it never writes it. */
    die(opc__db_exec(a->db, "PRAGMA synchronous = OFF", &eb), "pragma", eb.msg);
    char *out = NULL;
    die(opc_account_vault_create(a, "Shared", NULL, &out), "vault", opc_account_errmsg(a));
    cJSON *v = cJSON_Parse(out);
    opc_free(out);
    char vault[OPC_ID_LEN + 1];
    (void)snprintf(vault, sizeof vault, "%s", cJSON_GetObjectItem(v, "id")->valuestring);
    cJSON_Delete(v);
    char json[1024];
    for (int i = 0; i < n; i++) {
        (void)snprintf(json, sizeof json, item_fmt, i, i % 97, i % 7, i % 97, i,
                       (unsigned)(i * 2654435761u), (unsigned)(i * 40503u), i, i % 7, i % 10000);
        opc_secret *item = NULL;
        die(opc_account_item_create(a, vault, json, &item), "item", opc_account_errmsg(a));
        opc_secret_free(item);
    }
    const char *vaults[] = {vault};
    opc_secret *creds = NULL;
    die(opc_account_server_create(a, "Bench", vaults, 1, NULL, &out, &creds), "server",
        opc_account_errmsg(a));
    opc_secret_free(creds);
    cJSON *s = cJSON_Parse(out);
    opc_free(out);
    (void)snprintf(x->server, sizeof x->server, "%s", cJSON_GetObjectItem(s, "id")->valuestring);
    cJSON_Delete(s);
    (void)snprintf(x->account_id, sizeof x->account_id, "%s", opc_account_id(a));
    opc_account_free(a);
    f = fopen(ids, "w");
    if (f == NULL || fprintf(f, "%s %s\n", x->server, x->account_id) < 0 || fclose(f) != 0) {
        die(OPC_ERR_IO, "write ids", ids);
    }
    fprintf(stderr, "bench_sync: built in %.1f s\n", seconds() - t0);
}

static void rm_cache(const char *path)
{
    char p[400];
    remove(path);
    (void)snprintf(p, sizeof p, "%s-wal", path);
    remove(p);
    (void)snprintf(p, sizeof p, "%s-shm", path);
    remove(p);
}

/* One initial sync into an empty cache: seconds, steps and cached items. */
static double run_sync(const setup *x, const char *cache, int *steps, int64_t *items, double *cpu)
{
    rm_cache(cache);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    double t0 = seconds();
    double c0 = cpu_seconds();
    opc__upstream *u = NULL;
    die(opc__upstream_local_open(x->account, x->server, x->account_id, &u, &eb), "upstream",
        eb.msg);
    opc_sync *s = NULL;
    /* A cache key, as the daemons have one: every commit seals (cache.h). */
    static const uint8_t cache_key[OPC_CACHE_MAC_LEN] = {0x42};
    die(opc__sync_create_ex(u, cache, cache_key, &s, &eb), "sync create", eb.msg);
    /* Knobs for the page size experiments (defaults: the sync's). */
    const char *page = getenv("OPC_BENCH_PAGE");
    const char *items_page = getenv("OPC_BENCH_ITEM_PAGE");
    if (page != NULL) {
        opc__sync_set_page_size(s, (size_t)atol(page));
    }
    if (items_page != NULL) {
        opc__sync_set_fetch_limits(s, (size_t)atol(items_page), OPC_SYNC_CHUNK_PAGE,
                                   OPC_SYNC_BATCH_BYTES);
    }
    char err[OPC_ERRBUF_SIZE];
    *steps = 0;
    for (;;) {
        die(opc_sync_run_once(s, err, sizeof err), "sync step", err);
        (*steps)++;
        opc__cache_meta m;
        die(opc__cache_meta_get(opc__sync_cache(s), &m, &eb), "meta", eb.msg);
        if (m.initial_sync_complete) {
            die(opc_sync_run_once(s, err, sizeof err), "sync step", err);
            (*steps)++;
            break;
        }
    }
    double t = seconds() - t0;
    *cpu = cpu_seconds() - c0;
    die(opc__cache_item_count(opc__sync_cache(s), NULL, items, &eb), "count", eb.msg);
    opc_sync_free(s);
    return t;
}

/* The upstream reads alone, shaped like the sync's (feed, item, files, vault pages). */
static double run_reads(const setup *x, size_t page, long *calls)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    double t0 = seconds();
    opc__upstream *u = NULL;
    die(opc__upstream_local_open(x->account, x->server, x->account_id, &u, &eb), "upstream",
        eb.msg);
    int64_t cursor = 0;
    *calls = 0;
    for (;;) {
        cJSON *pg = NULL;
        int64_t next = 0;
        die(opc__upstream_changes(u, cursor, page, 0, &pg, &next, &eb), "changes", eb.msg);
        (*calls)++;
        int n = cJSON_GetArraySize(pg);
        const cJSON *e = NULL;
        cJSON_ArrayForEach(e, pg)
        {
            const char *kind = cJSON_GetObjectItem(e, "kind")->valuestring;
            const cJSON *item = cJSON_GetObjectItem(e, "item");
            const cJSON *vault = cJSON_GetObjectItem(e, "vault");
            cJSON *row = NULL;
            if (strcmp(kind, "item_upsert") == 0 && cJSON_IsString(item)) {
                if (opc__upstream_item(u, item->valuestring, &row, &eb) == OPC_OK) {
                    cJSON_Delete(row);
                    row = NULL;
                    die(opc__upstream_item_files(u, item->valuestring, "", 0, OPC_SYNC_CHUNK_PAGE,
                                                 &row, &eb),
                        "files", eb.msg);
                }
                *calls += 2;
            } else if (strcmp(kind, "grant") == 0 && cJSON_IsString(vault)) {
                char after[OPC_ID_LEN + 1] = "";
                for (;;) {
                    cJSON *items = NULL;
                    die(opc__upstream_vault_items(u, vault->valuestring, after,
                                                  OPC_SYNC_ITEM_PAGE, &items, &eb),
                        "vault items", eb.msg);
                    (*calls)++;
                    int k = cJSON_GetArraySize(items);
                    const cJSON *it = NULL;
                    cJSON_ArrayForEach(it, items)
                    {
                        const char *id = cJSON_GetObjectItem(it, "id")->valuestring;
                        cJSON *files = NULL;
                        die(opc__upstream_item_files(u, id, "", 0, OPC_SYNC_CHUNK_PAGE, &files,
                                                     &eb),
                            "files", eb.msg);
                        (*calls)++;
                        cJSON_Delete(files);
                        (void)snprintf(after, sizeof after, "%s", id);
                    }
                    cJSON_Delete(items);
                    if (k < (int)OPC_SYNC_ITEM_PAGE) {
                        break;
                    }
                }
            }
            cJSON_Delete(row);
        }
        cJSON_Delete(pg);
        cursor = next;
        if ((size_t)n < page) {
            break;
        }
    }
    opc__upstream_close(u);
    return seconds() - t0;
}

/*
 * The upstream reads the sync makes now: the feed in pages plus one read-ahead
 * of it, then the grant's items by OPC_SYNC_ITEM_PAGE with one chunk read a
 * page. *decode gets the seconds spent decoding the item rows (wire/rows.h)
 * as the sync does before it writes them.
 */
static double run_reads_new(const setup *x, size_t page, long *calls, double *decode)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    double t0 = seconds();
    *decode = 0;
    opc__upstream *u = NULL;
    die(opc__upstream_local_open(x->account, x->server, x->account_id, &u, &eb), "upstream",
        eb.msg);
    *calls = 0;
    char vault[OPC_ID_LEN + 1] = "";
    for (int pass = 0; pass < 2; pass++) {
        size_t limit = pass == 0 ? OPC_UPSTREAM_MAX_LIMIT : page;
        int64_t cursor = 0;
        for (;;) {
            cJSON *pg = NULL;
            int64_t next = 0;
            die(opc__upstream_changes(u, cursor, limit, 0, &pg, &next, &eb), "changes", eb.msg);
            (*calls)++;
            int n = cJSON_GetArraySize(pg);
            const cJSON *e = NULL;
            cJSON_ArrayForEach(e, pg)
            {
                if (pass == 0 && strcmp(cJSON_GetObjectItem(e, "kind")->valuestring, "grant") == 0) {
                    (void)snprintf(vault, sizeof vault, "%s",
                                   cJSON_GetObjectItem(e, "vault")->valuestring);
                }
            }
            cJSON_Delete(pg);
            cursor = next;
            if ((size_t)n < limit) {
                break;
            }
        }
    }
    char after[OPC_ID_LEN + 1] = "";
    for (;;) {
        cJSON *items = NULL;
        die(opc__upstream_vault_items(u, vault, after, OPC_SYNC_ITEM_PAGE, &items, &eb),
            "vault items", eb.msg);
        (*calls)++;
        int k = cJSON_GetArraySize(items);
        double d0 = seconds();
        char first[OPC_ID_LEN + 1] = "";
        const cJSON *it = NULL;
        cJSON_ArrayForEach(it, items)
        {
            opc__wire_item w;
            die(opc__wire_item_decode(it, &w, &eb), "decode", eb.msg);
            if (first[0] == '\0') {
                (void)snprintf(first, sizeof first, "%s", w.id);
            }
            (void)snprintf(after, sizeof after, "%s", w.id);
        }
        *decode += seconds() - d0;
        if (k > 0) {
            cJSON *files = NULL;
            die(opc__upstream_vault_files(u, vault, first, NULL, 0, after, OPC_SYNC_CHUNK_PAGE,
                                          &files, &eb),
                "vault files", eb.msg);
            (*calls)++;
            cJSON_Delete(files);
        }
        cJSON_Delete(items);
        if (k < (int)OPC_SYNC_ITEM_PAGE) {
            break;
        }
    }
    opc__upstream_close(u);
    return seconds() - t0;
}

/* The cached item rows, held in memory so only the inserts are timed. */
typedef struct row {
    char *t[6];
    int64_t i[5];
} row;
static const int tcol[6] = {0, 1, 3, 5, 6, 9};
static const int icol[5] = {2, 4, 7, 8, 10};

static row *load_rows(const char *cache, size_t *count)
{
    sqlite3 *src = NULL;
    die_sql(sqlite3_open_v2(cache, &src, SQLITE_OPEN_READONLY, NULL), "open cache");
    sqlite3_stmt *rd = NULL;
    die_sql(sqlite3_prepare_v2(src,
                               "SELECT id, vault_id, version, state, key_sn, overview, details,"
                               " created, updated, last_edited_by, seq FROM items",
                               -1, &rd, NULL),
            "select");
    row *all = NULL;
    size_t n = 0;
    size_t cap = 0;
    while (sqlite3_step(rd) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap == 0 ? 1024 : cap * 2;
            all = realloc(all, cap * sizeof *all);
            if (all == NULL) {
                die(OPC_ERR_NOMEM, "reference", NULL);
            }
        }
        for (int k = 0; k < 6; k++) {
            all[n].t[k] = strdup((const char *)sqlite3_column_text(rd, tcol[k]));
        }
        for (int k = 0; k < 5; k++) {
            all[n].i[k] = sqlite3_column_int64(rd, icol[k]);
        }
        n++;
    }
    sqlite3_finalize(rd);
    sqlite3_close(src);
    *count = n;
    return all;
}

static void free_rows(row *all, size_t n)
{
    for (size_t r = 0; r < n; r++) {
        for (int k = 0; k < 6; k++) {
            free(all[r].t[k]);
        }
    }
    free(all);
}

/* The rows into an empty plain table of a fresh WAL file, one transaction. */
static double run_reference(const row *all, size_t n, const char *dir)
{
    char path[300];
    (void)snprintf(path, sizeof path, "%s/reference.sqlite", dir);
    rm_cache(path);
    double t0 = seconds();
    sqlite3 *db = NULL;
    die_sql(sqlite3_open(path, &db), "open reference");
    die_sql(sqlite3_exec(db,
                         "PRAGMA journal_mode = WAL;"
                         "CREATE TABLE items (id TEXT PRIMARY KEY, vault_id TEXT NOT NULL,"
                         " version INTEGER NOT NULL, state TEXT NOT NULL, key_sn INTEGER NOT NULL,"
                         " overview TEXT NOT NULL, details TEXT NOT NULL, created INTEGER NOT NULL,"
                         " updated INTEGER NOT NULL, last_edited_by TEXT NOT NULL,"
                         " seq INTEGER NOT NULL) STRICT;"
                         "BEGIN",
                         NULL, NULL, NULL),
            "create");
    sqlite3_stmt *ins = NULL;
    die_sql(sqlite3_prepare_v2(db,
                               "INSERT INTO items VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
                               " ?11)",
                               -1, &ins, NULL),
            "insert");
    for (size_t r = 0; r < n; r++) {
        for (int k = 0; k < 6; k++) {
            sqlite3_bind_text(ins, tcol[k] + 1, all[r].t[k], -1, SQLITE_STATIC);
        }
        for (int k = 0; k < 5; k++) {
            sqlite3_bind_int64(ins, icol[k] + 1, all[r].i[k]);
        }
        die_sql(sqlite3_step(ins), "step");
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    die_sql(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
    sqlite3_close(db);
    double t = seconds() - t0;
    rm_cache(path);
    return t;
}

/*
 * The rows through the cache's own item put (its schema, indexes, pragmas,
 * the lseq stamp) into a fresh cache, one transaction; with or without the
 * change-log triggers (dropped beforehand).
 */
static double run_cache_puts(const row *all, size_t n, const char *dir, bool triggers)
{
    char path[300];
    (void)snprintf(path, sizeof path, "%s/puts.sqlite", dir);
    rm_cache(path);
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc__cache *c = NULL;
    die(opc__cache_open(path, OPC_CACHE_CREATE, &c, &eb), "cache open", eb.msg);
    if (!triggers) {
        opc__cache_close(c);
        sqlite3 *db = NULL;
        die_sql(sqlite3_open(path, &db), "open puts");
        die_sql(sqlite3_exec(db,
                             "DROP TRIGGER items_added; DROP TRIGGER items_changed;"
                             " DROP TRIGGER items_gone;",
                             NULL, NULL, NULL),
                "drop triggers");
        sqlite3_close(db);
        die(opc__cache_open(path, OPC_CACHE_WRITE, &c, &eb), "cache open", eb.msg);
    }
    double t0 = seconds();
    die(opc__cache_begin(c, true, &eb), "begin", eb.msg);
    for (size_t r = 0; r < n; r++) {
        opc__cache_item it = {.version = all[r].i[0],
                              .state = all[r].t[2],
                              .key_sn = all[r].i[1],
                              .overview = all[r].t[3],
                              .details = all[r].t[4],
                              .created = all[r].i[2],
                              .updated = all[r].i[3],
                              .seq = all[r].i[4]};
        (void)snprintf(it.id, sizeof it.id, "%s", all[r].t[0]);
        (void)snprintf(it.vault, sizeof it.vault, "%s", all[r].t[1]);
        (void)snprintf(it.last_edited_by, sizeof it.last_edited_by, "%s", all[r].t[5]);
        die(opc__cache_item_put(c, &it, NULL, &eb), "put", eb.msg);
    }
    die(opc__cache_commit(c, &eb), "commit", eb.msg);
    double t = seconds() - t0;
    opc__cache_close(c);
    rm_cache(path);
    return t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define MAX_RUNS 32

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    if (n < 1 || runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "usage: bench_sync [items] [runs (1..%d)]\n", MAX_RUNS);
        return 2;
    }
    die(opc_global_init(0), "init", NULL);
    setup x;
    memset(&x, 0, sizeof x);
    prepare(&x, n);
    char cache[300];
    (void)snprintf(cache, sizeof cache, "%s/1password.sqlite", x.dir);
    double t_sync[MAX_RUNS];
    double c_sync[MAX_RUNS];
    double t_reads[MAX_RUNS];
    double t_new[MAX_RUNS];
    double t_decode[MAX_RUNS];
    long calls_new = 0;
    double t_ref[MAX_RUNS];
    double t_puts[MAX_RUNS];
    double t_bare[MAX_RUNS];
    int steps = 0;
    int64_t items = 0;
    size_t ref_rows = 0;
    long calls = 0;
    const char *only = getenv("OPC_BENCH_ONLY"); /* "sync": skip the rest (for perf) */
    bool all = only == NULL || strcmp(only, "sync") != 0;
    /* Alternate the measurements so the machine's load hits them alike. */
    for (int r = 0; r < runs; r++) {
        t_sync[r] = run_sync(&x, cache, &steps, &items, &c_sync[r]);
        if (items != n) {
            fprintf(stderr, "bench_sync: the cache holds %lld items, not %d\n", (long long)items,
                    n);
            return 1;
        }
        if (all) {
            t_reads[r] = run_reads(&x, OPC_SYNC_PAGE_SIZE, &calls);
            t_new[r] = run_reads_new(&x, OPC_SYNC_PAGE_SIZE, &calls_new, &t_decode[r]);
            row *rows = load_rows(cache, &ref_rows);
            t_ref[r] = run_reference(rows, ref_rows, x.dir);
            t_puts[r] = run_cache_puts(rows, ref_rows, x.dir, true);
            t_bare[r] = run_cache_puts(rows, ref_rows, x.dir, false);
            free_rows(rows, ref_rows);
        }
    }
    printf("items %d, runs %d (medians)\n", n, runs);
    printf("  initial sync          %8.3f s  (%d steps; CPU %.3f s)\n", median(t_sync, runs),
           steps, median(c_sync, runs));
    if (all) {
        double ref = median(t_ref, runs);
        printf("  upstream reads, old   %8.3f s  (%ld calls: each item entry, then the grant)\n",
               median(t_reads, runs), calls);
        printf("  upstream reads, now   %8.3f s  (%ld calls: feed, read-ahead, grant pages)\n",
               median(t_new, runs), calls_new);
        printf("    item row decoding   %8.3f s  (in the sync, of the rows read)\n",
               median(t_decode, runs));
        printf("  reference insert      %8.3f s  (%zu rows, plain table, one transaction)\n", ref,
               ref_rows);
        printf("  cache item puts       %8.3f s  (same rows, the cache's put, one transaction)\n",
               median(t_puts, runs));
        printf("    without triggers    %8.3f s\n", median(t_bare, runs));
        printf("  ratio sync/reference  %8.1f\n", median(t_sync, runs) / ref);
    }
    rm_cache(cache);
    opc_global_cleanup();
    return 0;
}
