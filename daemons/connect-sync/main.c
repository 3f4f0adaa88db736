/*
 * connect-sync - mirror the Connect server's granted vaults and token
 * registry into the local cache, and serve GET /heartbeat and GET /health
 * on OP_HTTP_PORT: a thin shell over opc_sync and its status listener
 * (docs/configuration.md, docs/API.md). Start-up, logging, signals and the
 * variables both daemons read are daemons/common/daemon.c's; connect-sync
 * has none of its own.
 *
 * SIGTERM/SIGINT: stop syncing (the page in progress commits or rolls
 * back), finish the status requests in progress, exit 0. SIGHUP is
 * ignored. A cache failure that stops the sync exits 1.
 */
#include "daemon.h"

static const dmn_prog prog = {
    .name = "connect-sync",
    .title = "1Password Connect Sync",
    .about = "Mirrors the vaults granted to a Connect server, and its token registry, from\n"
             "the upstream account into the local cache that connect-api serves; answers\n"
             "GET /heartbeat and GET /health on OP_HTTP_PORT. It is configured by its\n"
             "environment only, and has no variables of its own.\n",
    .env = "",
};

int main(int argc, char **argv)
{
    dmn d;
    int status = dmn_begin(&d, &prog, argc, argv);
    if (status >= 0) {
        return status;
    }
    dmn_upstream_ca_file(dmn_env("OP_UPSTREAM_CA_FILE"));
    if (dmn_open(&d) != 0) {
        return 1;
    }
    char err[OPC_ERRBUF_SIZE] = "";
    opc_sync *sync = NULL;
    opc_err rc = opc_sync_create(d.creds, d.cache_path, &sync, err, sizeof err);
    dmn_drop_credentials(&d); /* only the outer layer was needed, and only to start */
    if (rc == OPC_OK) {
        rc = opc_sync_listen(sync, d.bind_address, d.http_port, err, sizeof err);
    }
    if (rc != OPC_OK) {
        opc_sync_free(sync); /* closes what it had bound */
        const dmn_port ports[] = {{"OP_HTTP_PORT", d.http_port}};
        dmn_fail_start(&d, err, ports, 1);
        return 1;
    }
    rc = opc_sync_run(sync, dmn_stop_flag());
    if (rc != OPC_OK) {
        dmn_log(OPC_LOG_ERROR, "the sync stopped (%s): exiting", opc_errname(rc));
    } else {
        dmn_log(OPC_LOG_INFO, "shutting down");
    }
    opc_sync_free(sync); /* finishes the status requests in progress */
    dmn_close(&d);
    return rc == OPC_OK ? 0 : 1;
}
