/*
 * tests/unit/test_metrics.c - connect-api's metrics (observe/metrics.c):
 * the exposition text is checked by a strict validator of the Prometheus
 * text format 0.0.4 written here (and proven strict on bad inputs), and by
 * the prometheus_client parser (tests/unit/prom_check.py) when Debian's
 * python3-prometheus-client is installed; exact totals from 8 recording
 * threads; bucket edges; label escaping; gauges.
 */
#include "harness.h"

#include <math.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "observe/metrics.h"
#include "core/buf.h"

/* ---- a strict validator of the text exposition format 0.0.4 ---- */

#define V_MAX_FAMILIES 64
#define V_MAX_SERIES 4096
#define V_MAX_GROUPS 64
#define V_MAX_BUCKETS 40

typedef struct vfam {
    char name[128];
    char type[16]; /* "" until TYPE */
    bool help;
    bool closed; /* another family started after it */
    bool has_samples;
} vfam;

typedef struct vgroup { /* one histogram series: family + labels without le */
    int fam;
    char labels[512];
    size_t n;
    double le[V_MAX_BUCKETS];
    double count[V_MAX_BUCKETS];
    bool has_sum;
    bool has_count;
    double count_value;
} vgroup;

typedef struct vstate {
    vfam fam[V_MAX_FAMILIES];
    int n_fam;
    int current;
    char *series[V_MAX_SERIES]; /* "name{labels}" seen */
    int n_series;
    vgroup groups[V_MAX_GROUPS];
    int n_groups;
    int line;
    char err[256];
} vstate;

static bool vfail(vstate *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool vfail(vstate *v, const char *fmt, ...)
{
    int n = snprintf(v->err, sizeof v->err, "line %d: ", v->line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->err + n, sizeof v->err - (size_t)n, fmt, ap);
    va_end(ap);
    return false;
}

static bool name_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool name_char(int c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

/* A metric name at *p (advanced); false if none. */
static bool read_name(const char **p, char *out, size_t cap, bool label)
{
    const char *s = *p;
    size_t n = 0;
    if (!name_start((unsigned char)s[0]) || (label && s[0] == ':')) {
        return false;
    }
    while (name_char((unsigned char)s[n]) && !(label && s[n] == ':')) {
        n++;
    }
    if (n >= cap) {
        return false;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    *p = s + n;
    return true;
}

static int find_family(vstate *v, const char *name)
{
    for (int i = 0; i < v->n_fam; i++) {
        if (strcmp(v->fam[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

/* Make fam the current family (families may not interleave). */
static bool enter_family(vstate *v, int f)
{
    if (v->current == f) {
        return true;
    }
    if (v->fam[f].closed) {
        return vfail(v, "family %s continues after another family", v->fam[f].name);
    }
    if (v->current >= 0) {
        v->fam[v->current].closed = true;
    }
    v->current = f;
    return true;
}

static int family_for_meta(vstate *v, const char *name)
{
    int f = find_family(v, name);
    if (f < 0) {
        if (v->n_fam == V_MAX_FAMILIES) {
            return -1;
        }
        f = v->n_fam++;
        memset(&v->fam[f], 0, sizeof v->fam[f]);
        snprintf(v->fam[f].name, sizeof v->fam[f].name, "%s", name);
    }
    return f;
}

static bool parse_value(const char *s, size_t n, double *out)
{
    char tmp[64];
    if (n == 0 || n >= sizeof tmp) {
        return false;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (strcmp(tmp, "+Inf") == 0 || strcmp(tmp, "Inf") == 0) {
        *out = INFINITY;
        return true;
    }
    if (strcmp(tmp, "-Inf") == 0) {
        *out = -INFINITY;
        return true;
    }
    if (strcmp(tmp, "NaN") == 0) {
        *out = NAN;
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        if (strchr("0123456789+-.eE", tmp[i]) == NULL) {
            return false;
        }
    }
    char *end = NULL;
    *out = strtod(tmp, &end);
    return end == tmp + n;
}

static bool check_help(vstate *v, const char *rest)
{
    char name[128];
    const char *p = rest;
    if (!read_name(&p, name, sizeof name, false) || (*p != ' ' && *p != '\0')) {
        return vfail(v, "bad HELP line");
    }
    int f = family_for_meta(v, name);
    if (f < 0 || !enter_family(v, f)) {
        return f >= 0 ? false : vfail(v, "too many families");
    }
    if (v->fam[f].help) {
        return vfail(v, "second HELP for %s", name);
    }
    if (v->fam[f].has_samples) {
        return vfail(v, "HELP after samples of %s", name);
    }
    v->fam[f].help = true;
    for (p = *p == ' ' ? p + 1 : p; *p != '\0'; p++) {
        if (*p == '\\') {
            p++;
            if (*p != '\\' && *p != 'n') {
                return vfail(v, "bad escape in HELP of %s", name);
            }
        }
    }
    if (p == rest) {
        return vfail(v, "empty HELP");
    }
    return true;
}

static bool check_type(vstate *v, const char *rest)
{
    static const char *const types[] = {"counter", "gauge", "histogram", "summary", "untyped"};
    char name[128];
    const char *p = rest;
    if (!read_name(&p, name, sizeof name, false) || *p != ' ') {
        return vfail(v, "bad TYPE line");
    }
    p++;
    bool ok = false;
    for (size_t i = 0; i < OPC_ARRAY_LEN(types); i++) {
        ok = ok || strcmp(p, types[i]) == 0;
    }
    if (!ok) {
        return vfail(v, "unknown type %s", p);
    }
    int f = family_for_meta(v, name);
    if (f < 0 || !enter_family(v, f)) {
        return f >= 0 ? false : vfail(v, "too many families");
    }
    if (v->fam[f].type[0] != '\0') {
        return vfail(v, "second TYPE for %s", name);
    }
    if (v->fam[f].has_samples) {
        return vfail(v, "TYPE after samples of %s", name);
    }
    snprintf(v->fam[f].type, sizeof v->fam[f].type, "%s", p);
    return true;
}

static bool ends_with(const char *s, const char *suffix, char *base, size_t cap)
{
    size_t n = strlen(s);
    size_t k = strlen(suffix);
    if (n <= k || strcmp(s + n - k, suffix) != 0 || n - k >= cap) {
        return false;
    }
    memcpy(base, s, n - k);
    base[n - k] = '\0';
    return true;
}

/* The family of a sample name and which part of it the sample is. */
static int sample_family(vstate *v, const char *name, const char **part)
{
    char base[128];
    *part = "";
    int f = find_family(v, name);
    if (f >= 0 && v->fam[f].type[0] != '\0' && strcmp(v->fam[f].type, "histogram") != 0 &&
        strcmp(v->fam[f].type, "summary") != 0) {
        return f;
    }
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(suffixes); i++) {
        if (ends_with(name, suffixes[i], base, sizeof base)) {
            f = find_family(v, base);
            if (f >= 0 && (strcmp(v->fam[f].type, "histogram") == 0 ||
                           (i > 0 && strcmp(v->fam[f].type, "summary") == 0))) {
                *part = suffixes[i];
                return f;
            }
        }
    }
    return -1;
}

static vgroup *group_for(vstate *v, int f, const char *labels)
{
    for (int i = 0; i < v->n_groups; i++) {
        if (v->groups[i].fam == f && strcmp(v->groups[i].labels, labels) == 0) {
            return &v->groups[i];
        }
    }
    if (v->n_groups == V_MAX_GROUPS) {
        return NULL;
    }
    vgroup *g = &v->groups[v->n_groups++];
    memset(g, 0, sizeof *g);
    g->fam = f;
    snprintf(g->labels, sizeof g->labels, "%s", labels);
    return g;
}

static bool check_sample(vstate *v, const char *line)
{
    char name[128];
    const char *p = line;
    if (!read_name(&p, name, sizeof name, false)) {
        return vfail(v, "bad metric name");
    }
    /* Labels: name="value" with \\ \" \n escapes; the labels other than le
     * are collected (in order) to group histogram series. */
    char others[512] = "";
    char le[256] = "";
    bool has_le = false;
    char seen_names[16][64];
    int n_seen = 0;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            char lname[64];
            if (!read_name(&p, lname, sizeof lname, true) || *p != '=' || p[1] != '"') {
                return vfail(v, "bad label in %s", name);
            }
            if (strncmp(lname, "__", 2) == 0) {
                return vfail(v, "reserved label name %s", lname);
            }
            for (int i = 0; i < n_seen; i++) {
                if (strcmp(seen_names[i], lname) == 0) {
                    return vfail(v, "duplicate label %s", lname);
                }
            }
            if (n_seen < 16) {
                snprintf(seen_names[n_seen++], sizeof seen_names[0], "%s", lname);
            }
            p += 2;
            char val[256];
            size_t n = 0;
            while (*p != '"') {
                if (*p == '\0' || *p == '\n') {
                    return vfail(v, "unterminated label value in %s", name);
                }
                char c = *p;
                if (c == '\\') {
                    p++;
                    if (*p != '\\' && *p != '"' && *p != 'n') {
                        return vfail(v, "bad escape in a label value of %s", name);
                    }
                    c = *p == 'n' ? '\n' : *p;
                }
                if (n + 1 < sizeof val) {
                    val[n++] = c;
                }
                p++;
            }
            val[n] = '\0';
            p++;
            if (strcmp(lname, "le") == 0) {
                has_le = true;
                snprintf(le, sizeof le, "%s", val);
            } else {
                size_t used = strlen(others);
                snprintf(others + used, sizeof others - used, "%s=%s;", lname, val);
            }
            if (*p == ',') {
                p++;
            } else if (*p != '}') {
                return vfail(v, "bad label list in %s", name);
            }
        }
        p++;
    }
    if (*p != ' ') {
        return vfail(v, "no value separator in %s", name);
    }
    p++;
    const char *val_end = strchr(p, ' ');
    size_t vlen = val_end != NULL ? (size_t)(val_end - p) : strlen(p);
    double value = 0;
    if (!parse_value(p, vlen, &value)) {
        return vfail(v, "bad value in %s", name);
    }
    if (val_end != NULL) { /* optional timestamp: an integer */
        const char *ts = val_end + 1;
        if (*ts == '\0' || strspn(ts + (*ts == '-'), "0123456789") != strlen(ts + (*ts == '-'))) {
            return vfail(v, "bad timestamp in %s", name);
        }
    }
    const char *part = "";
    int f = sample_family(v, name, &part);
    if (f < 0) {
        return vfail(v, "sample %s has no TYPE", name);
    }
    if (!v->fam[f].help) {
        return vfail(v, "sample %s has no HELP", name);
    }
    if (!enter_family(v, f)) {
        return false;
    }
    v->fam[f].has_samples = true;
    const char *type = v->fam[f].type;
    if (strcmp(type, "counter") == 0 && (isnan(value) || value < 0)) {
        return vfail(v, "counter %s is negative or NaN", name);
    }
    bool is_bucket = strcmp(part, "_bucket") == 0;
    if (has_le != is_bucket) {
        return vfail(v, "le label on a non-bucket sample or missing on %s", name);
    }
    /* No series twice. */
    char key[1024];
    snprintf(key, sizeof key, "%s{%s|%s}", name, others, le);
    for (int i = 0; i < v->n_series; i++) {
        if (strcmp(v->series[i], key) == 0) {
            return vfail(v, "duplicate series %s", key);
        }
    }
    if (v->n_series < V_MAX_SERIES) {
        v->series[v->n_series++] = strdup(key);
    }
    if (strcmp(type, "histogram") == 0) {
        vgroup *g = group_for(v, f, others);
        if (g == NULL) {
            return vfail(v, "too many histogram series");
        }
        if (is_bucket) {
            double bound = 0;
            if (g->has_count || g->has_sum) {
                return vfail(v, "bucket after _sum/_count in %s", name);
            }
            if (!parse_value(le, strlen(le), &bound) || isnan(bound) || g->n == V_MAX_BUCKETS) {
                return vfail(v, "bad le in %s", name);
            }
            if (g->n > 0 && !(bound > g->le[g->n - 1])) {
                return vfail(v, "le not increasing in %s", name);
            }
            if (g->n > 0 && value < g->count[g->n - 1]) {
                return vfail(v, "buckets not cumulative in %s", name);
            }
            g->le[g->n] = bound;
            g->count[g->n] = value;
            g->n++;
        } else if (strcmp(part, "_sum") == 0) {
            g->has_sum = true;
        } else {
            g->has_count = true;
            g->count_value = value;
        }
    }
    return true;
}

static void v_free(vstate *v)
{
    for (int i = 0; i < v->n_series; i++) {
        free(v->series[i]);
    }
    v->n_series = 0;
}

/* Validate text; false with v->err on the first problem. */
static bool prom_validate(const char *text, vstate *v)
{
    memset(v, 0, sizeof *v);
    v->current = -1;
    size_t len = strlen(text);
    if (len == 0 || text[len - 1] != '\n') {
        snprintf(v->err, sizeof v->err, "text does not end with a newline");
        return false;
    }
    bool ok = true;
    const char *p = text;
    while (ok && *p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = (size_t)(nl - p);
        char *line = malloc(n + 1);
        memcpy(line, p, n);
        line[n] = '\0';
        v->line++;
        if (n == 0) {
            ok = true; /* empty lines are allowed */
        } else if (strncmp(line, "# HELP ", 7) == 0) {
            ok = check_help(v, line + 7);
        } else if (strncmp(line, "# TYPE ", 7) == 0) {
            ok = check_type(v, line + 7);
        } else if (line[0] == '#') {
            ok = true; /* a comment */
        } else {
            ok = check_sample(v, line);
        }
        free(line);
        p = nl + 1;
    }
    for (int i = 0; ok && i < v->n_groups; i++) {
        const vgroup *g = &v->groups[i];
        const char *fname = v->fam[g->fam].name;
        if (g->n == 0 || !isinf(g->le[g->n - 1])) {
            ok = vfail(v, "histogram %s has no +Inf bucket", fname);
        } else if (!g->has_sum || !g->has_count) {
            ok = vfail(v, "histogram %s lacks _sum or _count", fname);
        } else if (g->count[g->n - 1] != g->count_value) {
            ok = vfail(v, "histogram %s: +Inf bucket differs from _count", fname);
        }
    }
    for (int i = 0; ok && i < v->n_fam; i++) {
        if (!v->fam[i].help || v->fam[i].type[0] == '\0') {
            ok = vfail(v, "family %s lacks HELP or TYPE", v->fam[i].name);
        }
    }
    v_free(v);
    return ok;
}

/* The value of the sample whose line starts with prefix (then ' '); -1 if absent. */
static double sample_value(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, prefix, n) == 0 && p[n] == ' ') {
            return strtod(p + n + 1, NULL);
        }
        p = strchr(p, '\n');
        p = p != NULL ? p + 1 : NULL;
    }
    return -1;
}

static char *render(opc__metrics *m, int64_t now_ms)
{
    opc__buf b;
    opc__buf_init(&b, false);
    assert_int_equal(opc__metrics_render_at(m, now_ms, &b), OPC_OK);
    char *text = strdup(b.data);
    opc__buf_free(&b);
    return text;
}

static void assert_valid(const char *text)
{
    vstate *v = malloc(sizeof *v);
    if (!prom_validate(text, v)) {
        fail_msg("invalid exposition: %s\n%s", v->err, text);
    }
    free(v);
}

static void expect_invalid(const char *text, const char *why)
{
    vstate *v = malloc(sizeof *v);
    if (prom_validate(text, v)) {
        fail_msg("the validator accepted (%s):\n%s", why, text);
    }
    free(v);
}

/* ---- tests ---- */

static void test_metrics_validator_is_strict(void **state)
{
    (void)state;
    static const char good[] = "# HELP a_total A \\\\ help\\n.\n# TYPE a_total counter\n"
                               "a_total{x=\"q\\\"\\\\\\n\",y=\"\"} 3\n"
                               "# HELP h H.\n# TYPE h histogram\n"
                               "h_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                               "h_sum 0.7\nh_count 2\n";
    assert_valid(good);
    expect_invalid("# TYPE a counter\na 1\n", "no HELP");
    expect_invalid("# HELP a A.\na 1\n", "no TYPE");
    expect_invalid("# HELP a A.\n# TYPE a counter\na 1", "no final newline");
    expect_invalid("# HELP a A.\n# TYPE a counter\na -1\n", "negative counter");
    expect_invalid("# HELP a A.\n# TYPE a gauge\na{x=\"\\t\"} 1\n", "bad label escape");
    expect_invalid("# HELP a A.\n# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n", "duplicate label");
    expect_invalid("# HELP a A.\n# TYPE a gauge\na 1\na 2\n", "duplicate series");
    expect_invalid("# HELP a A.\n# TYPE a gauge\na one\n", "bad value");
    expect_invalid("# HELP 1a A.\n# TYPE 1a gauge\n1a 1\n", "bad name");
    expect_invalid(
        "# HELP a A.\n# TYPE a gauge\na 1\n# HELP b B.\n# TYPE b gauge\nb 1\na{x=\"y\"} 1\n",
        "interleaved families");
    expect_invalid("# HELP a A.\n# TYPE a gauge\na 1\n# TYPE a gauge\n", "second TYPE");
    expect_invalid("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
                   "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
                   "buckets not cumulative");
    expect_invalid("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
                   "h_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
                   "le not increasing");
    expect_invalid("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
                   "no +Inf");
    expect_invalid("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\n"
                   "h_count 3\n",
                   "+Inf != _count");
    expect_invalid("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n",
                   "no _sum");
    expect_invalid("# HELP h H.\n# TYPE h histogram\nh_bucket 2\n", "bucket without le");
}

static void test_metrics_render_empty(void **state)
{
    (void)state;
    opc__metrics *m = NULL;
    assert_int_equal(opc__metrics_create(&m), OPC_OK);
    char *text = render(m, 1700000000000);
    assert_valid(text);
    static const char *const families[] = {
        "# TYPE opconnect_http_requests_total counter\n",
        "# TYPE opconnect_http_request_duration_seconds histogram\n",
        "# TYPE opconnect_items_cached gauge\n",
        "# TYPE opconnect_vaults_cached gauge\n",
        "# TYPE opconnect_sync_lag_seconds gauge\n",
        "# TYPE opconnect_sync_last_success_timestamp_seconds gauge\n",
        "# TYPE opconnect_unlocked gauge\n",
        "# TYPE opconnect_index_full_builds_total counter\n",
        "# TYPE opconnect_token_cache_hits_total counter\n",
        "# TYPE opconnect_token_cache_misses_total counter\n",
        "# TYPE process_start_time_seconds gauge\n",
    };
    for (size_t i = 0; i < OPC_ARRAY_LEN(families); i++) {
        if (strstr(text, families[i]) == NULL) {
            fail_msg("missing %s", families[i]);
        }
    }
    /* Before any sync success there is no lag sample. */
    assert_true(sample_value(text, "opconnect_sync_lag_seconds") < 0);
    assert_true(sample_value(text, "opconnect_unlocked") == 0);
    assert_true(sample_value(text, "process_start_time_seconds") > 1.6e9);
    free(text);
    opc__metrics_free(m);
}

static void test_metrics_requests_and_buckets(void **state)
{
    (void)state;
    opc__metrics *m = NULL;
    assert_int_equal(opc__metrics_create(&m), OPC_OK);
    /* Bounds are inclusive: 50 us lands in le="0.00005". */
    opc__metrics_record_request(m, OPC_METRICS_ROUTE_ITEM, OPC_METRICS_METHOD_GET, 200, 50000);
    opc__metrics_record_request(m, OPC_METRICS_ROUTE_ITEM, OPC_METRICS_METHOD_GET, 200, 50001);
    opc__metrics_record_request(m, OPC_METRICS_ROUTE_ITEM, OPC_METRICS_METHOD_GET, 404, 1);
    opc__metrics_record_request(m, OPC_METRICS_ROUTE_ITEM, OPC_METRICS_METHOD_GET, 200,
                                UINT64_C(20000000000)); /* 20 s: only +Inf */
    opc__metrics_record_request(m, OPC_METRICS_ROUTE_VAULTS, opc__metrics_method_id("GET"), 401,
                                1500000);
    /* Out of range ids and statuses count as "other". */
    opc__metrics_record_request(m, (opc__metrics_route)99, opc__metrics_method_id("BREW"), 42,
                                1000);
    opc__metrics_record_request(NULL, OPC_METRICS_ROUTE_ITEM, OPC_METRICS_METHOD_GET, 200, 1);
    char *text = render(m, 1700000000000);
    assert_valid(text);
    static const char item[] = "/v1/vaults/{vaultUuid}/items/{itemUuid}";
    char key[256];
    snprintf(key, sizeof key,
             "opconnect_http_requests_total{route=\"%s\",method=\"GET\",status=\"200\"}", item);
    assert_true(sample_value(text, key) == 3);
    snprintf(key, sizeof key,
             "opconnect_http_requests_total{route=\"%s\",method=\"GET\",status=\"404\"}", item);
    assert_true(sample_value(text, key) == 1);
    assert_true(sample_value(text, "opconnect_http_requests_total{route=\"/v1/vaults\","
                                   "method=\"GET\",status=\"401\"}") == 1);
    assert_true(sample_value(text, "opconnect_http_requests_total{route=\"other\","
                                   "method=\"other\",status=\"other\"}") == 1);
    /* Only series that were used appear. */
    assert_null(strstr(text, "status=\"500\""));
    static const struct {
        const char *le;
        double want;
    } buckets[] = {{"0.00005", 2}, {"0.0001", 3}, {"10", 3}, {"+Inf", 4}};
    for (size_t i = 0; i < OPC_ARRAY_LEN(buckets); i++) {
        snprintf(key, sizeof key,
                 "opconnect_http_request_duration_seconds_bucket{route=\"%s\",le=\"%s\"}", item,
                 buckets[i].le);
        if (sample_value(text, key) != buckets[i].want) {
            fail_msg("%s: %g, want %g", key, sample_value(text, key), buckets[i].want);
        }
    }
    snprintf(key, sizeof key, "opconnect_http_request_duration_seconds_count{route=\"%s\"}", item);
    assert_true(sample_value(text, key) == 4);
    /* The sum is exact fixed-point: 50000 + 50001 + 1 + 2e10 ns. */
    snprintf(key, sizeof key,
             "opconnect_http_request_duration_seconds_sum{route=\"%s\"} "
             "20.000100002\n",
             item);
    assert_non_null(strstr(text, key));
    free(text);
    opc__metrics_free(m);
}

static void test_metrics_gauges(void **state)
{
    (void)state;
    opc__metrics *m = NULL;
    assert_int_equal(opc__metrics_create(&m), OPC_OK);
    opc__metrics_set_cached(m, 3, 1234);
    opc__metrics_set_unlocked(m, true);
    opc__metrics_set_token_cache(m, 99, 7);
    opc__metrics_set_activity(m, 5, 2);
    opc__metrics_set_sync(m, 1700000000250, 4);
    char *text = render(m, 1700000001750);
    assert_valid(text);
    assert_true(sample_value(text, "opconnect_vaults_cached") == 3);
    assert_true(sample_value(text, "opconnect_items_cached") == 1234);
    assert_true(sample_value(text, "opconnect_unlocked") == 1);
    assert_true(sample_value(text, "opconnect_token_cache_hits_total") == 99);
    assert_true(sample_value(text, "opconnect_token_cache_misses_total") == 7);
    assert_true(sample_value(text, "opconnect_activity_dropped_total") == 5);
    assert_true(sample_value(text, "opconnect_activity_lost_total") == 2);
    assert_true(sample_value(text, "opconnect_sync_consecutive_failures") == 4);
    assert_non_null(strstr(text, "\nopconnect_sync_lag_seconds 1.5\n"));
    assert_non_null(
        strstr(text, "\nopconnect_sync_last_success_timestamp_seconds 1700000000.25\n"));
    free(text);
    /* A clock behind the last success: lag 0, never negative. */
    text = render(m, 1700000000000);
    assert_non_null(strstr(text, "\nopconnect_sync_lag_seconds 0\n"));
    free(text);
    opc__metrics_free(m);
}

static void test_metrics_label_escaping(void **state)
{
    (void)state;
    opc__buf b;
    opc__buf_init(&b, false);
    opc__metrics_escape_label(&b, "a\\b\"c\nd/{e}");
    assert_string_equal(b.data, "a\\\\b\\\"c\\nd/{e}");
    /* The escaped value reads back through the validator. */
    char text[256];
    snprintf(text, sizeof text, "# HELP x X.\n# TYPE x gauge\nx{l=\"%s\"} 1\n", b.data);
    assert_valid(text);
    opc__buf_free(&b);
    assert_string_equal(opc__metrics_route_name(OPC_METRICS_ROUTE_FILE_CONTENT),
                        "/v1/vaults/{vaultUuid}/items/{itemUuid}/files/{fileUuid}/content");
    assert_string_equal(opc__metrics_route_name((opc__metrics_route)-1), "other");
    assert_int_equal(opc__metrics_method_id("PATCH"), OPC_METRICS_METHOD_PATCH);
    assert_int_equal(opc__metrics_method_id("get"), OPC_METRICS_METHOD_OTHER);
    assert_int_equal(opc__metrics_method_id(NULL), OPC_METRICS_METHOD_OTHER);
}

enum { THREADS = 8, PER_THREAD = 100000 };

static void *record_thread(void *arg)
{
    opc__metrics *m = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        /* Alternate two routes and two statuses; durations cycle through the buckets. */
        opc__metrics_route r = (i & 1) ? OPC_METRICS_ROUTE_ITEM : OPC_METRICS_ROUTE_VAULTS;
        int status = (i % 10 == 0) ? 404 : 200;
        opc__metrics_record_request(m, r, OPC_METRICS_METHOD_GET, status,
                                    (uint64_t)(i % 1000) * 20000);
    }
    return NULL;
}

static void test_metrics_eight_threads_exact(void **state)
{
    (void)state;
    opc__metrics *m = NULL;
    assert_int_equal(opc__metrics_create(&m), OPC_OK);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, record_thread, m), 0);
    }
    /* Render concurrently with the recording: always valid. */
    for (int k = 0; k < 20; k++) {
        char *text = render(m, 1700000000000);
        assert_valid(text);
        free(text);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
    }
    char *text = render(m, 1700000000000);
    assert_valid(text);
    /* Per thread: i odd -> item; i % 10 == 0 -> 404 (always even i: vaults). */
    double vaults_404 = THREADS * (PER_THREAD / 10);
    double vaults_200 = THREADS * (PER_THREAD / 2) - vaults_404;
    double items_200 = THREADS * (PER_THREAD / 2);
    assert_true(sample_value(text, "opconnect_http_requests_total{route=\"/v1/vaults\","
                                   "method=\"GET\",status=\"404\"}") == vaults_404);
    assert_true(sample_value(text, "opconnect_http_requests_total{route=\"/v1/vaults\","
                                   "method=\"GET\",status=\"200\"}") == vaults_200);
    assert_true(sample_value(text,
                             "opconnect_http_requests_total{route=\"/v1/vaults/{vaultUuid}/"
                             "items/{itemUuid}\",method=\"GET\",status=\"200\"}") == items_200);
    assert_true(sample_value(text, "opconnect_http_request_duration_seconds_count{route=\"/v1/"
                                   "vaults\"}") == THREADS * PER_THREAD / 2);
    /* Sum: per thread, sum over i of (i % 1000) * 20 us, split by parity. */
    uint64_t even = 0;
    for (int i = 0; i < PER_THREAD; i += 2) {
        even += (uint64_t)(i % 1000) * 20000;
    }
    char want[160];
    uint64_t ns = even * THREADS;
    assert_int_equal(ns % 1000000000, 0); /* so the text is a whole number */
    snprintf(want, sizeof want,
             "opconnect_http_request_duration_seconds_sum{route=\"/v1/vaults\"} %llu\n",
             (unsigned long long)(ns / 1000000000));
    assert_non_null(strstr(text, want));
    free(text);
    opc__metrics_free(m);
}

/* prometheus_client's parser, when Debian's package is installed. */
static void test_metrics_python_parser(void **state)
{
    (void)state;
    if (access("/usr/bin/python3", X_OK) != 0) {
        skip();
    }
    opc__metrics *m = NULL;
    assert_int_equal(opc__metrics_create(&m), OPC_OK);
    opc__metrics_record_request(m, OPC_METRICS_ROUTE_ITEM, OPC_METRICS_METHOD_GET, 200, 70000);
    opc__metrics_record_request(m, OPC_METRICS_ROUTE_HEALTH, OPC_METRICS_METHOD_GET, 200, 9000);
    opc__metrics_set_sync(m, 1700000000000, 0);
    char *text = render(m, 1700000000500);
    opc__metrics_free(m);
    char path[] = "/tmp/opc-metrics-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    free(text);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/../unit/prom_check.py %s", OPC_TEST_VECTOR_DIR,
             path);
    int rc = system(cmd);
    unlink(path);
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
        print_message("python3-prometheus-client is not installed: skipped\n");
        skip();
    }
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_validator_is_strict),
        cmocka_unit_test(test_metrics_render_empty),
        cmocka_unit_test(test_metrics_requests_and_buckets),
        cmocka_unit_test(test_metrics_gauges),
        cmocka_unit_test(test_metrics_label_escaping),
        cmocka_unit_test(test_metrics_eight_threads_exact),
        cmocka_unit_test(test_metrics_python_parser),
    };
    return cmocka_run_group_tests_name("metrics", tests, opc_test_group_setup,
                                       opc_test_group_teardown);
}
