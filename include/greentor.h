/* greentor.h -- write web services as plain, straight-line C that never
 * blocks: stackful coroutines on libuv, an HTTP/1.1 server, database
 * drivers whose calls look blocking but yield, and a connection pool whose
 * connections belong to the request that took them.
 *
 * This umbrella header includes every module's public header, and
 * greentor/version.h for the version macros and gt_version(). */
#ifndef GREENTOR_H
#define GREENTOR_H

#include "greentor/client.h"
#include "greentor/db.h"
#include "greentor/http.h"
#include "greentor/net.h"
#include "greentor/pool.h"
#include "greentor/redis.h"
#include "greentor/runtime.h"
#include "greentor/version.h"

#endif
