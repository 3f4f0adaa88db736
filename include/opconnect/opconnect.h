/*
 * opconnect/opconnect.h - umbrella header of libopconnect.
 *
 * #include <opconnect/opconnect.h> and link with the flags of
 * `pkg-config --cflags --libs libopconnect`.
 */
#ifndef OPCONNECT_OPCONNECT_H
#define OPCONNECT_OPCONNECT_H

#include "export.h"
#include "version.h"
#include "error.h"
#include "global.h"
#include "secret.h"
#include "credentials.h"
#include "account.h"
#include "password.h"
#include "sync.h"
#include "api.h"
#include "server.h"
#include "account_server.h"

#endif /* OPCONNECT_OPCONNECT_H */
