/*
 * account/remote_int.h - an open owner session on op-account-server
 * (remote.c), as a remote handle (remote_rows.c: opc_account_remote_open,
 * the owner's store protocol over the network) uses it: the session file
 * locked for this process, its keys and counter, and one connection to
 * the server.
 */
#ifndef OPC_ACCOUNT_REMOTE_INT_H
#define OPC_ACCOUNT_REMOTE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "internal.h"

typedef struct opc__remote opc__remote;

/* What one request may take: the largest answer parsed, and the time. */
typedef struct opc__remote_limits {
    size_t max_answer;
    long timeout_ms;
} opc__remote_limits;

/*
 * Open dir's session of account (sealed under token): the session file is
 * locked for this process until opc__remote_detach (another process waits
 * up to 30 s, then OPC_ERR_IO), read, and a connection to its address made
 * (ca_file may be NULL). The session file's errors are remote.c's.
 */
opc_err opc__remote_attach(const char *dir, const char *account, const char *token,
                           const char *ca_file, opc__remote **out, opc__ebuf *eb);
void opc__remote_detach(opc__remote *x);
const char *opc__remote_address(const opc__remote *x);
const char *opc__remote_account(const opc__remote *x);
/*
 * One signed request (body may be NULL; lim NULL: the small owner
 * messages' limits). OPC_OK with *out the 200 answer's JSON, its MAC
 * checked; an error answer is decoded to its code and message.
 */
opc_err opc__remote_request(opc__remote *x, const char *method, const char *target,
                            const cJSON *body, const opc__remote_limits *lim, cJSON **out,
                            opc__ebuf *eb);
/* The session's Account Unlock Key (32 bytes, borrowed). */
const uint8_t *opc__remote_auk(const opc__remote *x);
/* Whether the last request left (in part or whole) and no answer came
 * back: a write's outcome is then unknown. A request that could not be
 * sent (no connection) is not lost. */
bool opc__remote_lost(const opc__remote *x);


#endif
