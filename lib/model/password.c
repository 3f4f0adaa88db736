/*
 * model/password.c - the password generator (GeneratorRecipe).
 *
 * Character sets: LETTERS A-Z a-z (52), DIGITS 0-9 (10), SYMBOLS the 32
 * printable ASCII punctuation characters !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~.
 * The pool is the union of the chosen sets minus the excluded characters.
 *
 * Generation: every character is drawn uniformly from the pool with
 * opc__rand_uniform() (OpenSSL's CSPRNG, rejection sampling, no modulo
 * bias). A candidate that misses one of the chosen sets is thrown away
 * whole and a new one drawn. Rejecting whole candidates keeps the output
 * uniform over exactly the set V of pool strings of that length that
 * contain every chosen set (placing one character per set and shuffling
 * would not: it favours strings with few characters of the small sets).
 *
 * Entropy: log2 |V|, the Shannon entropy of that uniform choice, computed
 * by inclusion-exclusion over the chosen sets:
 *     |V| = sum over subsets S of the sets of (-1)^|S| (pool - |∪S|)^length.
 * With one set this is length * log2(pool) (digits-only length 10: 33.22
 * bits); with several it is slightly less (letters+digits length 2:
 * log2(62^2 - 52^2 - 10^2) = log2 1040 = 10.02 bits, not 11.91).
 */
#include "internal.h"

#include <math.h>
#include <string.h>

#include <opconnect/password.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/json.h"
#include "core/rand.h"
#include "core/strparse.h"
#include "model/password.h"

/* Give up (OPC_ERR_INTERNAL) after this many rejected candidates. The worst
 * recipe (three sets, length 3, two of them cut to one character) accepts
 * about one candidate in 500, so this is never reached by chance. */
#define MAX_ATTEMPTS 1000000u

static const char letters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
static const char digits[] = "0123456789";
static const char symbols[] = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

static const struct {
    unsigned bit;
    const char *name;
    const char *chars;
} sets[] = {
    {OPC_CHARSET_LETTERS, "LETTERS", letters},
    {OPC_CHARSET_DIGITS, "DIGITS", digits},
    {OPC_CHARSET_SYMBOLS, "SYMBOLS", symbols},
};

#define NSETS 3

void opc__recipe_default(opc__recipe *r)
{
    if (r == NULL) {
        return;
    }
    memset(r, 0, sizeof *r);
    r->length = OPC_RECIPE_DEFAULT_LENGTH;
    r->sets = OPC_CHARSET_ALL;
}

/* Add the characters of s[0..len) to r->exclude, without duplicates. */
static opc_err add_excludes(opc__recipe *r, const char *s, size_t len, opc__ebuf *eb)
{
    size_t n = strlen(r->exclude);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e) {
            return opc__fail(eb, OPC_ERR_PARSE,
                             "recipe: excludeCharacters must be printable ASCII characters");
        }
        if (memchr(r->exclude, c, n) == NULL) {
            r->exclude[n++] = (char)c; /* 95 printable characters < sizeof exclude */
            r->exclude[n] = '\0';
        }
    }
    return OPC_OK;
}

static int set_index(const char *s, size_t len)
{
    for (int i = 0; i < NSETS; i++) {
        size_t n = strlen(sets[i].name);
        if (n != len) {
            continue;
        }
        bool eq = true;
        for (size_t k = 0; k < n; k++) {
            if (opc__to_lower((unsigned char)s[k]) !=
                opc__to_lower((unsigned char)sets[i].name[k])) {
                eq = false;
                break;
            }
        }
        if (eq) {
            return i;
        }
    }
    return -1;
}

opc_err opc__recipe_parse(const cJSON *recipe, opc__recipe *out, opc__ebuf *eb)
{
    if (out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__recipe r;
    opc__recipe_default(&r);
    if (recipe == NULL || cJSON_IsNull(recipe)) {
        *out = r;
        return OPC_OK;
    }
    static const char *const allowed[] = {"length", "characterSets", "excludeCharacters", NULL};
    opc_err rc = opc__json_only_members(recipe, allowed, "recipe", eb);
    if (rc != OPC_OK) {
        return rc;
    }
    int64_t len = OPC_RECIPE_DEFAULT_LENGTH;
    const cJSON *m = opc__json_member(recipe, "length");
    if (m != NULL && !cJSON_IsNull(m)) {
        rc = opc__json_get_int(recipe, "length", false, "recipe", 1, OPC_RECIPE_MAX_LENGTH, &len,
                               eb);
        if (rc != OPC_OK) {
            return rc;
        }
    }
    r.length = (unsigned)len;
    m = opc__json_member(recipe, "characterSets");
    if (m != NULL && !cJSON_IsNull(m)) {
        if (!cJSON_IsArray(m)) {
            return opc__fail(eb, OPC_ERR_PARSE, "recipe: \"characterSets\" must be an array");
        }
        unsigned chosen = 0;
        for (const cJSON *c = m->child; c != NULL; c = c->next) {
            if (!cJSON_IsString(c) || c->valuestring == NULL) {
                return opc__fail(eb, OPC_ERR_PARSE, "recipe: \"characterSets\" must hold strings");
            }
            int k = set_index(c->valuestring, strlen(c->valuestring));
            if (k < 0) {
                return opc__fail(eb, OPC_ERR_PARSE,
                                 "recipe: unknown character set \"%.32s\" (LETTERS, DIGITS or "
                                 "SYMBOLS)",
                                 c->valuestring);
            }
            if ((chosen & sets[k].bit) != 0) {
                return opc__fail(eb, OPC_ERR_PARSE, "recipe: character set %s given twice",
                                 sets[k].name);
            }
            chosen |= sets[k].bit;
        }
        r.sets = chosen == 0 ? OPC_CHARSET_ALL : chosen;
    }
    m = opc__json_member(recipe, "excludeCharacters");
    if (m != NULL && !cJSON_IsNull(m)) {
        if (!cJSON_IsString(m) || m->valuestring == NULL) {
            return opc__fail(eb, OPC_ERR_PARSE, "recipe: \"excludeCharacters\" must be a string");
        }
        rc = add_excludes(&r, m->valuestring, strlen(m->valuestring), eb);
        if (rc != OPC_OK) {
            return rc;
        }
    }
    *out = r;
    return OPC_OK;
}

opc_err opc__recipe_parse_cli(const char *s, opc__recipe *out, opc__ebuf *eb)
{
    if (s == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__recipe r;
    opc__recipe_default(&r);
    size_t total = strlen(s);
    size_t tl = total;
    (void)opc__trim(s, &tl);
    if (tl == 0) {
        *out = r;
        return OPC_OK;
    }
    unsigned chosen = 0;
    bool have_len = false;
    size_t i = 0;
    while (i <= total) {
        size_t end = i;
        while (end < total && s[end] != ',') {
            end++;
        }
        size_t n = end - i;
        const char *tok = opc__trim(s + i, &n);
        i = end + 1;
        if (n == 0) {
            return opc__fail(eb, OPC_ERR_PARSE, "password recipe: empty item in \"%.64s\"", s);
        }
        if (tok[0] >= '0' && tok[0] <= '9') {
            uint64_t v = 0;
            if (have_len) {
                return opc__fail(eb, OPC_ERR_PARSE, "password recipe: more than one length");
            }
            if (opc__parse_u64(tok, n, 10, UINT32_MAX, &v, NULL) != OPC_OK) {
                return opc__fail(eb, OPC_ERR_PARSE, "password recipe: invalid length \"%.*s\"",
                                 (int)(n > 16 ? 16 : n), tok);
            }
            if (v < 1 || v > OPC_RECIPE_MAX_LENGTH) {
                return opc__fail(eb, OPC_ERR_RANGE,
                                 "password recipe: length must be between 1 and %d",
                                 OPC_RECIPE_MAX_LENGTH);
            }
            r.length = (unsigned)v;
            have_len = true;
            continue;
        }
        int k = set_index(tok, n);
        if (k < 0) {
            return opc__fail(eb, OPC_ERR_PARSE,
                             "password recipe: unknown item \"%.*s\" (letters, digits, symbols "
                             "or a length)",
                             (int)(n > 32 ? 32 : n), tok);
        }
        if ((chosen & sets[k].bit) != 0) {
            return opc__fail(eb, OPC_ERR_PARSE, "password recipe: %s given twice", sets[k].name);
        }
        chosen |= sets[k].bit;
    }
    r.sets = chosen == 0 ? OPC_CHARSET_ALL : chosen;
    *out = r;
    return OPC_OK;
}

/* The GeneratorRecipe object of a CLI-form recipe (no exclusions). */
static opc_err recipe_json(const opc__recipe *r, char **out)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *names = cJSON_CreateArray();
    bool ok = o != NULL && names != NULL &&
              cJSON_AddNumberToObject(o, "length", (double)r->length) != NULL;
    for (int k = 0; ok && k < NSETS; k++) {
        if ((r->sets & sets[k].bit) != 0) {
            cJSON *s = cJSON_CreateString(sets[k].name);
            ok = s != NULL && cJSON_AddItemToArray(names, s);
        }
    }
    if (ok && cJSON_AddItemToObject(o, "characterSets", names)) {
        names = NULL; /* owned by o now */
    } else {
        ok = false;
    }
    opc_err rc = ok ? opc__json_print(o, out, NULL) : OPC_ERR_NOMEM;
    cJSON_Delete(names);
    cJSON_Delete(o);
    return rc;
}

opc_err opc_password_recipe_parse(const char *text, char **out_json, char *errbuf,
                                  size_t errbuf_len)
{
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    if (out_json != NULL) {
        *out_json = NULL;
    }
    opc_err rc = opc__require_init();
    opc__recipe r;
    opc__recipe_default(&r);
    if (rc == OPC_OK) {
        rc = opc__recipe_parse_cli(text, &r, &eb);
    }
    if (rc == OPC_OK) {
        rc = recipe_json(&r, out_json);
    }
    opc__ebuf_export(&eb, errbuf, errbuf_len);
    return rc;
}

/* Build the pool and record which set each pool character comes from. */
static size_t build_pool(const opc__recipe *r, unsigned chosen, char *pool, uint8_t *owner,
                         size_t set_size[NSETS])
{
    size_t n = 0;
    for (int k = 0; k < NSETS; k++) {
        set_size[k] = 0;
        if ((chosen & sets[k].bit) == 0) {
            continue;
        }
        for (const char *c = sets[k].chars; *c != '\0'; c++) {
            if (strchr(r->exclude, *c) != NULL) {
                continue;
            }
            pool[n] = *c;
            owner[n] = (uint8_t)k;
            n++;
            set_size[k]++;
        }
    }
    return n;
}

/* log2 of the number of length-L pool strings holding every chosen set. */
static double entropy_bits(unsigned length, size_t pool, const size_t set_size[NSETS],
                           unsigned chosen)
{
    /* |V| / pool^L = sum over S of (-1)^|S| ((pool - |∪S|) / pool)^L. */
    double frac = 0.0;
    for (unsigned s = 0; s < (1u << NSETS); s++) {
        if ((s & ~chosen) != 0) {
            continue;
        }
        size_t removed = 0;
        int parity = 0;
        for (int k = 0; k < NSETS; k++) {
            if ((s & (1u << k)) != 0) {
                removed += set_size[k];
                parity ^= 1;
            }
        }
        double t = pow((double)(pool - removed) / (double)pool, (double)length);
        frac += parity != 0 ? -t : t;
    }
    return (double)length * log2((double)pool) + log2(frac);
}

opc_err opc__password_generate(const opc__recipe *r, char *out, double *entropy, opc__ebuf *eb)
{
    if (r == NULL || out == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    out[0] = '\0';
    if (r->length < 1 || r->length > OPC_RECIPE_MAX_LENGTH ||
        memchr(r->exclude, '\0', sizeof r->exclude) == NULL) {
        return opc__fail(eb, OPC_ERR_INVALID_ARG, "recipe: length must be between 1 and %d",
                         OPC_RECIPE_MAX_LENGTH);
    }
    unsigned chosen =
        (r->sets & OPC_CHARSET_ALL) == 0 ? OPC_CHARSET_ALL : r->sets & OPC_CHARSET_ALL;
    char pool[128];
    uint8_t owner[128];
    size_t set_size[NSETS];
    size_t n = build_pool(r, chosen, pool, owner, set_size);
    unsigned nsets = 0;
    for (int k = 0; k < NSETS; k++) {
        if ((chosen & sets[k].bit) == 0) {
            continue;
        }
        nsets++;
        if (set_size[k] == 0) {
            return opc__fail(eb, OPC_ERR_RANGE,
                             "recipe: excludeCharacters leaves no character of %s", sets[k].name);
        }
    }
    if (r->length < nsets) {
        return opc__fail(eb, OPC_ERR_RANGE, "recipe: length %u is too short for %u character sets",
                         r->length, nsets);
    }
    char cand[OPC_RECIPE_MAX_LENGTH];
    opc_err rc = OPC_OK;
    bool done = false;
    for (unsigned attempt = 0; attempt < MAX_ATTEMPTS && !done; attempt++) {
        unsigned seen = 0;
        for (unsigned i = 0; i < r->length; i++) {
            uint32_t x = 0;
            rc = opc__rand_uniform((uint32_t)n, &x);
            if (rc != OPC_OK) {
                goto out;
            }
            cand[i] = pool[x];
            seen |= sets[owner[x]].bit;
            x = 0;
        }
        done = seen == chosen;
    }
    if (!done) {
        rc = opc__fail(eb, OPC_ERR_INTERNAL, "password generator: no acceptable candidate");
        goto out;
    }
    memcpy(out, cand, r->length);
    out[r->length] = '\0';
    if (entropy != NULL) {
        *entropy = entropy_bits(r->length, n, set_size, chosen);
    }
out:
    opc__wipe(cand, sizeof cand);
    return rc;
}
