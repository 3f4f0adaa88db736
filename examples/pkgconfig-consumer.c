/* Built by `make check` against a staged install, through pkg-config. */
#include <stdio.h>

#include <opconnect/opconnect.h>

int main(void)
{
    printf("libopconnect %s\n", opc_version());
    return opc_version_num() == OPC_VERSION_NUM ? 0 : 1;
}
