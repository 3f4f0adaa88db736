/*
 * server/tls.c - HTTPS of the embedded server: the opc_api settings,
 * passed through (docs/tls.md). The ACME client runs on a thread of the
 * library, so an application embedding opc_server gets automatic
 * certificates without any code of its own.
 */
#include "internal.h"

#include <opconnect/api.h>
#include <opconnect/server.h>

#include "server/server_api.h"

opc_err opc_server_set_https_port(opc_server *srv, int port)
{
    return srv != NULL ? opc_api_set_https_port(opc__server_api(srv), port) : OPC_ERR_INVALID_ARG;
}

opc_err opc_server_set_tls_files(opc_server *srv, const char *cert_file, const char *key_file,
                                 char *errbuf, size_t errbuf_len)
{
    if (srv == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    return opc_api_set_tls_files(opc__server_api(srv), cert_file, key_file, errbuf, errbuf_len);
}

opc_err opc_server_set_acme(opc_server *srv, const char *domain, const char *directory_url,
                            const char *ca_file, const char *email, const char *data_dir,
                            char *errbuf, size_t errbuf_len)
{
    if (srv == NULL) {
        return OPC_ERR_INVALID_ARG;
    }
    return opc_api_set_acme(opc__server_api(srv), domain, directory_url, ca_file, email,
                            data_dir, errbuf, errbuf_len);
}

opc_err opc_server_tls_reload(opc_server *srv)
{
    return srv != NULL ? opc_api_tls_reload(opc__server_api(srv)) : OPC_ERR_INVALID_ARG;
}

int opc_server_https_port(const opc_server *srv)
{
    return srv != NULL ? opc_api_https_port(opc__server_api(srv)) : -1;
}
