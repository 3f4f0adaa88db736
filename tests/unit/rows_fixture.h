/*
 * tests/unit/rows_fixture.h - helpers shared by the tests of the owner's
 * store protocol (test_account_rows.c, test_account_server_rows.c,
 * test_account_vault_rows.c, test_account_item_rows.c), on top of
 * account_fixture.h.
 *
 * The interposer is a rows backend (account/rows.h) put in front of a
 * handle's own: before forwarding a batch it lets a second handle on the
 * same file (ip->other, unlocked) make a concurrent change (ip->race), the
 * first `rounds` times, so that a call's batch conflicts between its read
 * phase and its commit and the call's retry can be observed. Reads pass
 * through unchanged.
 */
#ifndef OPC_TEST_ROWS_FIXTURE_H
#define OPC_TEST_ROWS_FIXTURE_H

#include "account_fixture.h"

#include "account/rows.h"
#include "wire/rows_rpc.h"

#define RX_WATCH 4

typedef struct interposer interposer;
struct interposer {
    opc__rows inner;              /* the handle's own backend */
    opc_account *other;           /* a second handle on the file, unlocked */
    void (*race)(interposer *ip); /* the concurrent change */
    int rounds;                   /* how many batches race */
    /* Only batches holding this statement race and count in `batches`;
     * NULL: every batch. */
    const char *trigger;
    int batches; /* batches that could race (those holding trigger) */
    int all;     /* every batch */
    /* The last batch: its length, and which of the statements named in
     * watch (NULL: none) it held. */
    const char *watch[RX_WATCH];
    size_t last_n;
    bool last_has[RX_WATCH];
    /* What the race is about (each test uses those it needs). */
    const char *vault;
    const char *item;
    const char *jti;
    const char *what;
};

/* True when the batch holds the statement `name`. */
static OPC_TEST_UNUSED bool rx_holds(const opc__rpc_step *steps, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(steps[i].stmt, name) == 0) {
            return true;
        }
    }
    return false;
}

static opc_err rx_read(void *self, const char *name, const cJSON *args, cJSON **rows, opc__ebuf *eb)
{
    interposer *ip = self;
    return ip->inner.vt->read(ip->inner.self, name, args, rows, eb);
}

static opc_err rx_batch(void *self, const opc__rpc_step *steps, size_t n, int64_t *seqs,
                        size_t n_seqs, opc__ebuf *eb)
{
    interposer *ip = self;
    ip->all++;
    if ((ip->trigger == NULL || rx_holds(steps, n, ip->trigger)) && ip->batches++ < ip->rounds) {
        ip->race(ip);
    }
    ip->last_n = n;
    for (size_t w = 0; w < RX_WATCH; w++) {
        ip->last_has[w] = ip->watch[w] != NULL && rx_holds(steps, n, ip->watch[w]);
    }
    return ip->inner.vt->batch(ip->inner.self, steps, n, seqs, n_seqs, eb);
}

static void rx_close(void *self)
{
    (void)self;
}

static const opc__rows_backend rx_vt = {rx_read, rx_batch, rx_close};

/* Put ip in front of f->a's backend; the other fields are the caller's to
 * set afterwards. */
static OPC_TEST_UNUSED void rx_install(interposer *ip, fx *f, void (*race)(interposer *),
                                       int rounds)
{
    memset(ip, 0, sizeof *ip);
    ip->inner = *f->a->rows;
    ip->other = fx_reopen(f);
    FX_OK(ip->other, opc_account_unlock(ip->other, FX_PASSWORD, f->sk_text));
    ip->race = race;
    ip->rounds = rounds;
    f->a->rows->vt = &rx_vt;
    f->a->rows->self = ip;
}

static OPC_TEST_UNUSED void rx_remove(interposer *ip, fx *f)
{
    *f->a->rows = ip->inner;
    opc_account_free(ip->other);
}

/* A one-number query on the account file through a second connection. */
static OPC_TEST_UNUSED int64_t rx_count(const fx *f, const char *sql)
{
    sqlite3 *db = fx_db(f);
    int64_t n = fx_count(db, sql);
    sqlite3_close(db);
    return n;
}

#endif
