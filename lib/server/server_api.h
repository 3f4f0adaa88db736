/*
 * server/server_api.h - what other files of lib/server reach inside the
 * opc_server object.
 */
#ifndef OPC_SERVER_SERVER_API_H
#define OPC_SERVER_SERVER_API_H

#include <opconnect/api.h>
#include <opconnect/server.h>

#include "internal.h"

/* The server's API object (never NULL for a created server). */
opc_api *opc__server_api(const opc_server *srv);

#endif
