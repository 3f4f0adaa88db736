/*
 * fuzz/fuzz_common.h - shared set-up of the libFuzzer targets: the library
 * is initialized once; FUZZ_ISSUER_JWK is a fixed test-only P-256 key (not a
 * secret of anything) so that seed tokens signed with it reach the claim
 * checks.
 */
#ifndef OPC_FUZZ_COMMON_H
#define OPC_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <opconnect/opconnect.h>

#define FUZZ_ISSUER_JWK                                                                    \
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"fuzzissuerkeyaaaaaaaaaaaaa\","             \
    "\"x\":\"lkzIVjMxd-BdI_fwcTeaqu4EAjj67UFHztq3K0d-GVA\","                                 \
    "\"y\":\"kbjFN0jLG9rybbw3CSklE_Zfs2MbmcB7mToK52KI3Q8\","                                 \
    "\"d\":\"6y7f5aag2UO544W86SFgCigEXSqIOJ6q0BCSWoEYRGw\"}"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fuzz_init_library(void)
{
    if (opc_global_init(OPC_GLOBAL_DEFAULT) != OPC_OK) {
        abort();
    }
}

/* For targets that need nothing but the library. */
#define FUZZ_DEFINE_DEFAULT_INITIALIZE                                                         \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                                          \
    {                                                                                          \
        (void)argc;                                                                            \
        (void)argv;                                                                            \
        fuzz_init_library();                                                                   \
        return 0;                                                                              \
    }

#endif
