/*
 * rest/write.h - item writes (write.c has the whole account).
 */
#ifndef OPC_REST_WRITE_H
#define OPC_REST_WRITE_H

#include "rest/http.h"
#include "view/index.h"
#include "internal.h"


/*
 * Serve POST (iid NULL), PUT, PATCH or DELETE (iid set) on vault v, after
 * routes.c checked the token, the ids, scope, permissions and that v and
 * (for iid) the item exist in the index. Returns the status sent.
 */
int opc__api_item_write(opc__req *r, const opc__ix_vault *v, const char *iid);

#endif
