/*
 * Allocation failures in owner.c's calls on the owner's store protocol
 * (docs/protocol.md, "The account (owner.c), converted"): open (account.get),
 * the store's reads (opc__account_row: account.keyset, unlock's read;
 * opc__account_srp) and the server's create (one batch in the schema's
 * transaction, the same write_account as opc_account_create). Every
 * injected failure is OPC_ERR_NOMEM with nothing leaked (cmocka checks each
 * run's blocks), and a create that failed leaves no file behind.
 *
 * Unlock too: an allocation failing while the keyset's public keys are
 * compared with the stored ones (opc__key_compare_public) is
 * OPC_ERR_NOMEM, not "tampered file" (OPC_ERR_KEY).
 */
#include "account_fixture.h"
#include "oom_fixture.h"

#include "account/signup.h"

typedef opc_err (*owner_op)(void *ctx);

/* Run op with the k-th allocation failing, k = 1, 2, ... until a run
 * makes no allocation fail; check_after (may be NULL) after each failure. */
static void torture(const char *what, owner_op op, void *ctx, void (*check_after)(void *ctx))
{
    long k;
    for (k = 1; k < 100000; k++) {
        fail_at = k;
        alloc_no = 0;
        injected = 0;
        opc_err rc = op(ctx);
        fail_at = 0;
        if (injected == 0) {
            assert_int_equal(rc, OPC_OK);
            break;
        }
        if (rc != OPC_ERR_NOMEM) {
            fail_msg("%s: allocation %ld failed but the call returned %s", what, k,
                     opc_errname(rc));
        }
        if (check_after != NULL) {
            check_after(ctx);
        }
    }
    print_message("%s: %ld allocation failures survived\n", what, k - 1);
    assert_true(k > 1);
}

typedef struct ctx {
    fx f;
    char path[512]; /* a create's path */
    opc__proto_signup su;
} ctx;

static opc_err op_open_rows(void *p)
{
    ctx *c = p;
    opc_account *a = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__account_open_ex(c->f.path, 1, &a, &eb);
    opc__proto_account row;
    if (rc == OPC_OK) {
        rc = opc__account_row(a, &row, &eb);
    }
    if (rc == OPC_OK) {
        assert_string_equal(row.id, opc_account_id(a));
        opc__proto_account_clear(&row);
        uint8_t salt[OPC_PROTO_SRP_SALT_LEN];
        uint8_t verifier[OPC_PROTO_SRP_LEN];
        rc = opc__account_srp(a, salt, verifier, &eb);
        rc = rc == OPC_ERR_NOT_FOUND ? OPC_OK : rc; /* a local file has none */
    }
    opc_account_free(a);
    return rc;
}

static void no_file(void *p)
{
    ctx *c = p;
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(suffixes); i++) {
        char q[600];
        struct stat sb;
        snprintf(q, sizeof q, "%s%s", c->path, suffixes[i]);
        if (stat(q, &sb) == 0) {
            fail_msg("a failed create left %s", q);
        }
    }
}

/* The account file made by a successful run goes, so that the next starts afresh. */
static void remove_created(ctx *c)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < OPC_ARRAY_LEN(suffixes); i++) {
        char q[600];
        snprintf(q, sizeof q, "%s%s", c->path, suffixes[i]);
        (void)unlink(q);
    }
}

static opc_err op_create_signup(void *p)
{
    ctx *c = p;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    return opc__account_create_signup(c->path, &c->su, &eb);
}

static opc_err op_unlock(void *p)
{
    ctx *c = p;
    opc_account *a = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc = opc__account_open_ex(c->f.path, 1, &a, &eb);
    if (rc == OPC_OK) {
        rc = opc_account_unlock(a, FX_PASSWORD, c->f.sk_text);
    }
    opc_account_free(a);
    return rc;
}

static void test_owner_oom_unlock(void **state)
{
    (void)state;
    ctx c;
    memset(&c, 0, sizeof c);
    fx_create(&c.f);
    torture("account open and unlock", op_unlock, &c, NULL);
    fx_destroy(&c.f);
}

static void test_owner_oom_open_rows(void **state)
{
    (void)state;
    ctx c;
    memset(&c, 0, sizeof c);
    fx_create(&c.f);
    torture("account open, row, srp", op_open_rows, &c, NULL);
    fx_destroy(&c.f);
}

static void test_owner_oom_create(void **state)
{
    (void)state;
    ctx c;
    memset(&c, 0, sizeof c);
    char dir[64];
    opc_test_mkdtemp(dir, sizeof dir, "opc-owner-oom", "account.db", c.path, sizeof c.path);
    opc_secret *sk = NULL;
    opc__ebuf eb;
    opc__ebuf_clear(&eb);
    opc_err rc =
        opc__account_signup_make(FX_EMAIL, FX_PASSWORD, FX_ITERATIONS, 1, &c.su, &sk, &eb);
    if (rc != OPC_OK) {
        fail_msg("signup make: %s (%s)", opc_errname(rc), eb.msg);
    }
    opc_secret_free(sk);
    torture("account create (a sign-up's file)", op_create_signup, &c, no_file);
    /* The last run succeeded: the file is there, and opens. */
    opc_account *a = NULL;
    assert_int_equal(opc__account_open_ex(c.path, 1, &a, &eb), OPC_OK);
    assert_string_equal(opc_account_id(a), c.su.account.id);
    opc_account_free(a);
    remove_created(&c);
    opc__proto_signup_clear(&c.su);
    (void)rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_owner_oom_open_rows),
        cmocka_unit_test(test_owner_oom_unlock),
        cmocka_unit_test(test_owner_oom_create),
    };
    return cmocka_run_group_tests_name("account_owner_oom", tests, oom_setup,
                                       opc_test_group_teardown);
}
