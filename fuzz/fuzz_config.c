/* Configuration-value parsers: durations, integers, RFC 3339 timestamps. */
#include "internal.h"

#include "fuzz_common.h"

#include "core/strparse.h"
#include "core/time.h"

FUZZ_DEFINE_DEFAULT_INITIALIZE

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    int64_t ms = -1;
    if (opc__parse_duration_ms(s, size, INT64_C(3650) * 86400000, &ms, NULL) == OPC_OK &&
        (ms < 0 || ms > INT64_C(3650) * 86400000)) {
        abort();
    }
    uint64_t u;
    int64_t i;
    (void)opc__parse_u64(s, size, 10, UINT64_MAX, &u, NULL);
    (void)opc__parse_u64(s, size, 16, 65535, &u, NULL);
    (void)opc__parse_i64(s, size, -1000, 1000, &i, NULL);
    int64_t us;
    if (opc__time_parse(s, size, &us, NULL) == OPC_OK) {
        /* Whole-second "Z" forms print back exactly. */
        char out[OPC_TIME_STRLEN];
        if (size == 20 && s[19] == 'Z' && s[10] == 'T' && us % 1000000 == 0 &&
            opc__time_format(us / 1000000, out) == OPC_OK && memcmp(out, s, 20) != 0) {
            abort();
        }
    }
    return 0;
}
