/*
 * The activity log's client-facing input: the limit/offset query parser
 * (GET /v1/activity), the user-agent cleaner and its JSON output, the
 * metrics label escaper, and what one reader sees of a log (the scoped
 * listing): records made from the input go into one small log (64 kept,
 * in a temporary directory), then a reader made from the input lists a
 * page, which must hold only its own records, or others' on its vaults
 * without their jti, user agent and address (all of them in full with the
 * full-log permission).
 */
#include "internal.h"

#include <stdio.h>
#include <unistd.h>

#include "fuzz_common.h"

#include "observe/activity.h"
#include "observe/metrics.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"

FUZZ_DEFINE_DEFAULT_INITIALIZE

#define LOG_RECORDS 64

static const char *const jtis[] = {"jtiajtiajtiajtiajtiajtiajt", "jtibjtibjtibjtibjtibjtibjt",
                                   "jticjticjticjticjticjticjt", ""};
static const char *const vault_ids[] = {"vaultavaultavaultavaultava", "vaultbvaultbvaultbvaultbva",
                                        "vaultcvaultcvaultcvaultcva", NULL};

static char log_dir[64];
static char log_path[128];
static opc__activity *log_obj;

static void log_remove(void)
{
    opc__activity_close(log_obj);
    log_obj = NULL;
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(suffixes); i++) {
        char p[160];
        (void)snprintf(p, sizeof p, "%s%s", log_path, suffixes[i]);
        (void)unlink(p);
    }
    (void)rmdir(log_dir);
}

/* The log of this process (opened on first use, removed at exit). */
static opc__activity *the_log(void)
{
    if (log_obj != NULL) {
        return log_obj;
    }
    const char *tmp = getenv("TMPDIR");
    (void)snprintf(log_dir, sizeof log_dir, "%s/opc-fuzz-activity.XXXXXX",
                   tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
    if (mkdtemp(log_dir) == NULL) {
        abort();
    }
    (void)snprintf(log_path, sizeof log_path, "%s/%s", log_dir, OPC_ACTIVITY_FILE_NAME);
    opc__activity_config cfg = {.path = log_path,
                                .server_id = "fuzzserveraaaaaaaaaaaaaaaa",
                                .account_id = "fuzzaccountaaaaaaaaaaaaaaa",
                                .max_records = LOG_RECORDS,
                                .no_writer_thread = true};
    if (opc__activity_open(&cfg, &log_obj, NULL) != OPC_OK) {
        abort();
    }
    (void)atexit(log_remove);
    return log_obj;
}

static bool in_list(const char *id, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (list[i] != NULL && strcmp(list[i], id) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * data[0]: the reader (bits 0-1 its jti, 3: none; bit 2 the full-log
 * permission; bits 3-5 which of three vaults it reads; bit 6 the input
 * text as one more "vault"); data[1], data[2]: limit and offset (mod 64);
 * then two bytes a record (jti, vault, item, result; a user agent byte).
 */
static void check_scoped(const uint8_t *data, size_t size, const char *text)
{
    if (size < 3) {
        return;
    }
    opc__activity *act = the_log();
    for (size_t i = 3; i + 1 < size && i < 3 + 2 * 16; i += 2) {
        uint8_t b = data[i];
        char ua[8] = {'u', 'a', '-', (char)data[i + 1], '\0'};
        const char *vault = vault_ids[(b >> 2) & 3];
        opc__activity_event ev = {
            .request_id = "fuzz",
            .action = OPC_ACTIVITY_READ,
            .result = (b & 0x40) != 0 ? OPC_ACTIVITY_DENY : OPC_ACTIVITY_SUCCESS,
            .jti = jtis[b & 3],
            .user_agent = ua,
            .request_ip = "192.0.2.1",
            .resource_type = vault == NULL     ? OPC_ACTIVITY_RES_NONE
                             : (b & 0x10) != 0 ? OPC_ACTIVITY_RES_ITEM
                                               : OPC_ACTIVITY_RES_VAULT,
            .vault_id = vault,
            .item_id = (b & 0x10) != 0 ? "itemaitemaitemaitemaitemai" : NULL,
        };
        opc__activity_record(act, &ev);
    }
    uint8_t r = data[0];
    const char *vaults[4];
    size_t nv = 0;
    for (size_t v = 0; v < 3; v++) {
        if ((r & (8u << v)) != 0) {
            vaults[nv++] = vault_ids[v];
        }
    }
    if ((r & 0x40) != 0) {
        vaults[nv++] = text;
    }
    opc__activity_scope scope = {.full = (r & 4) != 0,
                                 .jti = (r & 3) == 3 ? NULL : jtis[r & 3],
                                 .vaults = vaults,
                                 .n_vaults = nv};
    size_t limit = data[1] % 64;
    size_t offset = data[2] % 64;
    opc__activity_page page;
    if (opc__activity_list_scoped(act, &scope, limit, offset, &page, NULL) != OPC_OK) {
        abort();
    }
    cJSON *j = NULL;
    if (opc__json_parse(page.json, page.json_len, NULL, &j, NULL) != OPC_OK || !cJSON_IsArray(j) ||
        (size_t)cJSON_GetArraySize(j) != page.count || page.count > limit ||
        page.count > LOG_RECORDS || page.total > LOG_RECORDS ||
        (page.count > 0 && offset + page.count > page.total)) {
        abort();
    }
    for (const cJSON *e = j->child; e != NULL && !scope.full; e = e->next) {
        const cJSON *actor = opc__json_member(e, "actor");
        const cJSON *jti = opc__json_member(actor, "jti");
        if (jti != NULL) {
            /* A record in full is the reader's own. */
            if (scope.jti == NULL || !cJSON_IsString(jti) ||
                strcmp(jti->valuestring, scope.jti) != 0) {
                abort();
            }
            continue;
        }
        /* Anything else: on a vault the reader reads, without who or from where. */
        const cJSON *vault = opc__json_member(opc__json_member(e, "resource"), "vault");
        const cJSON *vid = opc__json_member(vault, "id");
        if (opc__json_member(actor, "userAgent") != NULL ||
            opc__json_member(actor, "requestIp") != NULL || !cJSON_IsString(vid) ||
            !in_list(vid->valuestring, vaults, nv)) {
            abort();
        }
    }
    cJSON_Delete(j);
    opc__activity_page_clear(&page);
}

static void check_query(const char *q)
{
    size_t limit = 0;
    size_t offset = 0;
    opc__ebuf eb;
    opc_err rc = opc__activity_parse_query(q, &limit, &offset, &eb);
    if (rc == OPC_OK) {
        if (limit > OPC_ACTIVITY_MAX_LIMIT || offset > OPC_ACTIVITY_MAX_OFFSET) {
            abort();
        }
    } else if (rc != OPC_ERR_PARSE || limit != OPC_ACTIVITY_DEFAULT_LIMIT || offset != 0 ||
               (strcmp(eb.msg, "Invalid limit") != 0 && strcmp(eb.msg, "Invalid offset") != 0)) {
        abort();
    }
    char cr[OPC_ACTIVITY_RANGE_LEN];
    opc__activity_content_range(offset, limit, offset + limit, cr);
    if (strlen(cr) >= sizeof cr) {
        abort();
    }
}

/* Cleaned text is valid UTF-8, capped, unchanged when it was valid and
 * short, and survives JSON escaping and a strict parse. */
static void check_text(const char *s, size_t cap)
{
    char out[OPC_ACTIVITY_MAX_UA + 1];
    size_t n = opc__activity_clean_text(out, cap, s);
    size_t in_len = strlen(s);
    if (n >= cap || strlen(out) != n || !opc__utf8_valid(out, n)) {
        abort();
    }
    if (in_len < cap && opc__utf8_valid(s, in_len) && strcmp(out, s) != 0) {
        abort();
    }
    opc__buf b;
    opc__buf_init(&b, false);
    opc__buf_append_json_str(&b, out, n);
    if (opc__buf_err(&b) != OPC_OK) {
        abort();
    }
    cJSON *j = NULL;
    if (opc__json_parse(b.data, b.len, NULL, &j, NULL) != OPC_OK || !cJSON_IsString(j) ||
        strcmp(j->valuestring, out) != 0) {
        abort();
    }
    cJSON_Delete(j);
    opc__buf_free(&b);
}

/* Escaped label values unescape to the input and hold no raw '"' or LF. */
static void check_label(const char *s)
{
    opc__buf b;
    opc__buf_init(&b, false);
    opc__metrics_escape_label(&b, s);
    if (opc__buf_err(&b) != OPC_OK) {
        abort();
    }
    size_t o = 0;
    for (size_t i = 0; i < b.len; i++, o++) {
        char c = b.data[i];
        if (c == '"' || c == '\n') {
            abort();
        }
        if (c == '\\') {
            i++;
            c = b.data[i] == 'n' ? '\n' : b.data[i];
            if (b.data[i] != 'n' && b.data[i] != '\\' && b.data[i] != '"') {
                abort();
            }
        }
        if (s[o] != c) {
            abort();
        }
    }
    if (s[o] != '\0') {
        abort();
    }
    opc__buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) {
        return 0;
    }
    char *s = opc__malloc(size + 1);
    if (s == NULL) {
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    check_query(s);
    check_text(s, OPC_ACTIVITY_MAX_UA + 1);
    check_text(s, 5);
    check_text(s, 1);
    check_label(s);
    check_scoped(data, size, s);
    opc__free(s);
    return 0;
}
