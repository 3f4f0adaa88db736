/*
 * ACME responses (lib/tls/acme_msg.c): the first byte picks the parser
 * (directory, problem, order, authorization, Retry-After), the rest is the
 * response. Accepted documents must hold only https URLs and printable
 * problem text.
 */
#include "internal.h"

#include "fuzz_common.h"

#include "core/time.h"
#include "tls/acme.h"

FUZZ_DEFINE_DEFAULT_INITIALIZE

static void check_text(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) {
            abort();
        }
    }
}

static void check_url(const char *s)
{
    if (s[0] != '\0' && !opc__acme_url_ok(s)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    static opc__acme_order order;
    static opc__acme_authz authz;
    opc__acme_directory dir;
    opc__acme_problem prob;
    int64_t secs = 0;
    switch (data[0] % 5) {
    case 0:
        if (opc__acme_parse_directory(body, len, &dir, NULL) == OPC_OK) {
            check_url(dir.new_nonce);
            check_url(dir.new_account);
            check_url(dir.new_order);
        }
        break;
    case 1:
        if (opc__acme_parse_problem(body, len, &prob, NULL) == OPC_OK) {
            check_text(prob.type);
            check_text(prob.detail);
        }
        break;
    case 2:
        if (opc__acme_parse_order(body, len, &order, NULL) == OPC_OK) {
            if (order.n_authz > OPC_ACME_MAX_AUTHZ) {
                abort();
            }
            for (size_t i = 0; i < order.n_authz; i++) {
                check_url(order.authz[i]);
            }
            check_url(order.finalize);
            check_url(order.certificate);
            check_text(order.error.detail);
        }
        break;
    case 3:
        if (opc__acme_parse_authz(body, len, &authz, NULL) == OPC_OK) {
            check_url(authz.challenge_url);
            check_text(authz.domain);
            check_text(authz.token);
            check_text(authz.challenge_error.detail);
        }
        break;
    default:
        if (opc__acme_parse_retry_after(body, len, 1700000000, &secs) == OPC_OK &&
            (secs < 0 || secs > 86400)) {
            abort();
        }
        break;
    }
    return 0;
}
