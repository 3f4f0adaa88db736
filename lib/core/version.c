#include "internal.h"

#include <opconnect/version.h>

const char *opc_version(void)
{
    return OPC_VERSION_STRING;
}

uint32_t opc_version_num(void)
{
    return OPC_VERSION_NUM;
}
