/* examples/showcase/world.h -- the TechEmpower database test types on
 * greentor's pool: /db, /queries, /fortunes, /updates, /cached-queries and
 * /metrics, on whichever database DATABASE_URL names. */
#ifndef SHOWCASE_WORLD_H
#define SHOWCASE_WORLD_H

#include <stddef.h>

#include "greentor.h"

/* The database used when DATABASE_URL is not set: an SQLite file next to
 * the working directory, created and seeded on first start. */
#define WORLD_DEFAULT_URL "sqlite:greentor-showcase.db?max_open=8"

/* Make the pool for 'url' on 'rt' and add the database routes to 'r'.
 * Any thread, before gt_rt_run(). Returns 0 or a negative error with a
 * message in 'err'. */
int world_setup(gt_rt *rt, gt_http_router *r, const char *url, char *err,
                size_t errlen);

/* Run in a coroutine on a worker before serving: checks that the database
 * answers, creates and seeds an SQLite database, and loads the cache of
 * /cached-queries. Returns 0 or a negative error with a message in 'err'. */
int world_start(char *err, size_t errlen);

/* seed.c: create the tables of an SQLite database and fill them when
 * empty (10,000 World rows, the 12 standard fortunes). */
int world_seed_sqlite(gt_db *db, char *err, size_t errlen);

/* Free what world_setup() made, after gt_rt_run() has returned. */
void world_teardown(void);

#endif
