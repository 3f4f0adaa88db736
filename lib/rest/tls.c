/*
 * rest/tls.c - the HTTPS setters of opc_api: the state lives in a small
 * object created by the first setter, so a server without TLS carries
 * nothing but a NULL pointer.
 */
#include "internal.h"

#include <string.h>

#include "rest/api.h"
#include "rest/tls.h"
#include "core/alloc.h"
#include "core/err.h"
#include "tls/tls.h"

struct opc__api_tls {
    opc__tls *tls;
    int port;
};

static opc_err get_state(opc_api *api, struct opc__api_tls **out)
{
    if (api->tls == NULL) {
        struct opc__api_tls *s = opc__calloc(1, sizeof *s);
        if (s == NULL) {
            return OPC_ERR_NOMEM;
        }
        s->port = OPC_API_DEFAULT_HTTPS_PORT;
        if (opc__tls_create(&s->tls) != OPC_OK) {
            opc__free(s);
            return OPC_ERR_NOMEM;
        }
        api->tls = s;
    }
    *out = api->tls;
    return OPC_OK;
}

opc_err opc_api_set_https_port(opc_api *api, int port)
{
    struct opc__api_tls *s = NULL;
    if (api == NULL || api->ctx != NULL || port < 0 || port > 65535) {
        return OPC_ERR_INVALID_ARG;
    }
    opc_err rc = get_state(api, &s);
    if (rc == OPC_OK) {
        s->port = port;
    }
    return rc;
}

static opc_err finish(opc__ebuf *eb, opc_err rc, char *errbuf, size_t errbuf_len)
{
    opc__ebuf_export(eb, errbuf, errbuf_len);
    return rc;
}

/* Common checks of the TLS setters; the state is created when missing. */
static opc_err begin(opc_api *api, bool args_ok, struct opc__api_tls **s, opc__ebuf *eb)
{
    opc__ebuf_clear(eb);
    if (api == NULL || api->ctx != NULL || !args_ok) {
        (void)opc__fail(eb, OPC_ERR_INVALID_ARG, "missing argument, or the server runs");
        return OPC_ERR_INVALID_ARG;
    }
    opc_err rc = get_state(api, s);
    if (rc != OPC_OK) {
        (void)opc__fail(eb, rc, "out of memory");
        return rc;
    }
    return OPC_OK;
}

opc_err opc_api_set_tls_files(opc_api *api, const char *cert_file, const char *key_file,
                              char *errbuf, size_t errbuf_len)
{
    opc__ebuf eb;
    struct opc__api_tls *s = NULL;
    opc_err rc = begin(api, cert_file != NULL && key_file != NULL, &s, &eb);
    if (rc != OPC_OK) {
        return finish(&eb, rc, errbuf, errbuf_len);
    }
    return finish(&eb, opc__tls_set_files(s->tls, cert_file, key_file, &eb), errbuf, errbuf_len);
}

opc_err opc_api_set_acme(opc_api *api, const char *domain, const char *directory_url,
                         const char *ca_file, const char *email, const char *data_dir,
                         char *errbuf, size_t errbuf_len)
{
    opc__ebuf eb;
    struct opc__api_tls *s = NULL;
    opc_err rc = begin(api, domain != NULL && data_dir != NULL, &s, &eb);
    if (rc != OPC_OK) {
        return finish(&eb, rc, errbuf, errbuf_len);
    }
    opc__acme_config cfg = {
        .domain = domain,
        .directory_url = directory_url,
        .ca_file = ca_file,
        .email = email,
        .data_dir = data_dir,
    };
    return finish(&eb, opc__tls_set_acme(s->tls, &cfg, &eb), errbuf, errbuf_len);
}

opc_err opc_api_tls_reload(opc_api *api)
{
    if (api == NULL || api->tls == NULL || !opc__tls_configured(api->tls->tls)) {
        return OPC_ERR_INVALID_ARG;
    }
    opc__tls_reload(api->tls->tls);
    return OPC_OK;
}

int opc_api_https_port(const opc_api *api)
{
    return api != NULL && api->tls != NULL ? opc__tls_port(api->tls->tls) : -1;
}

opc_err opc__api_httpd_start(opc_api *api, opc__httpd_config *cfg, opc__ebuf *eb)
{
    int tls_port = -1;
    return opc__tls_httpd_start(api->tls != NULL ? api->tls->tls : NULL,
                                api->tls != NULL ? api->tls->port : -1, cfg, &api->ctx,
                                &api->bound_port, &tls_port, eb);
}

void opc__api_tls_stop(opc_api *api)
{
    if (api->tls != NULL) {
        opc__tls_stop(api->tls->tls);
    }
}

void opc__api_tls_free(opc_api *api)
{
    if (api->tls != NULL) {
        opc__tls_free(api->tls->tls);
        opc__free(api->tls);
        api->tls = NULL;
    }
}
