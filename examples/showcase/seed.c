/* examples/showcase/seed.c -- create and fill the default SQLite database.
 *
 * So that the first command a newcomer types serves every endpoint with no
 * database server: on first start the showcase creates World (10,000 rows,
 * randomNumber in 1..10000) and Fortune (the 12 standard TechEmpower
 * fortunes of data/tfb-fortunes.tsv, linked into the binary; FORTUNES_TSV
 * names another file). Done in one transaction, with bound
 * parameters, through greentor's own API. PostgreSQL and MariaDB are
 * seeded by scripts/seed_db.sh instead. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "world.h"

/* The seed data, linked into the binary from data/tfb-fortunes.tsv (see
 * the Makefile), so the showcase seeds itself wherever it is run from. */
extern const char _binary_data_tfb_fortunes_tsv_start[];
extern const char _binary_data_tfb_fortunes_tsv_end[];

static FILE *open_fortunes(void)
{
    const char *env = getenv("FORTUNES_TSV");
    size_t n = (size_t)(_binary_data_tfb_fortunes_tsv_end -
                        _binary_data_tfb_fortunes_tsv_start);

    if (env)
        return fopen(env, "r");
    return fmemopen((void *)_binary_data_tfb_fortunes_tsv_start, n, "r");
}

static int exec(gt_db *db, const char *sql, const gt_db_value *p, int n,
                char *err, size_t errlen)
{
    if (gt_db_exec(db, sql, p, n, GT_NEVER) >= 0)
        return 0;
    snprintf(err, errlen, "%s: %s", sql, gt_db_errmsg(db));
    return GT_EDB;
}

static int insert_fortunes(gt_db *db, char *err, size_t errlen)
{
    FILE *f = open_fortunes();
    char line[4096];
    int rc = 0, count = 0;

    if (!f) {
        snprintf(err, errlen, "cannot open the fortunes (FORTUNES_TSV)");
        return -ENOENT;
    }
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        char *tab = strchr(line, '\t');
        gt_db_value p[2];

        if (!tab)
            continue;
        line[strcspn(line, "\r\n")] = '\0';
        p[0] = gt_db_int(atoi(line));
        p[1] = gt_db_text(tab + 1);
        rc = exec(db, "INSERT INTO Fortune (id, message) VALUES (?, ?)", p, 2,
                  err, errlen);
        count++;
    }
    fclose(f);
    if (rc == 0 && count != 12) {
        snprintf(err, errlen, "tfb-fortunes.tsv has %d rows, not 12", count);
        rc = -EINVAL;
    }
    return rc;
}

static int insert_worlds(gt_db *db, char *err, size_t errlen)
{
    int rc = 0;

    srand(1);
    for (int id = 1; rc == 0 && id <= 10000; id++) {
        gt_db_value p[2] = {gt_db_int(id), gt_db_int(rand() % 10000 + 1)};

        rc = exec(db, "INSERT INTO World (id, randomNumber) VALUES (?, ?)", p,
                  2, err, errlen);
    }
    return rc;
}

static int is_empty(gt_db *db)
{
    gt_rows *r = NULL;
    int n =
        gt_db_query(db, &r, "SELECT COUNT(*) FROM World", NULL, 0, GT_NEVER);
    int empty = n == 1 && gt_rows_int(r, 0, 0) == 0;

    gt_rows_free(r);
    return empty;
}

int world_seed_sqlite(gt_db *db, char *err, size_t errlen)
{
    int rc = exec(db,
                  "CREATE TABLE IF NOT EXISTS World (id INTEGER "
                  "PRIMARY KEY, randomNumber INTEGER NOT NULL)",
                  NULL, 0, err, errlen);

    if (rc == 0)
        rc = exec(db,
                  "CREATE TABLE IF NOT EXISTS Fortune (id INTEGER "
                  "PRIMARY KEY, message TEXT NOT NULL)",
                  NULL, 0, err, errlen);
    if (rc < 0 || !is_empty(db))
        return rc;
    fprintf(stderr, "showcase: seeding the SQLite database\n");
    rc = gt_db_begin(db, GT_NEVER);
    if (rc == 0)
        rc = insert_worlds(db, err, errlen);
    if (rc == 0)
        rc = exec(db, "DELETE FROM Fortune", NULL, 0, err, errlen);
    if (rc == 0)
        rc = insert_fortunes(db, err, errlen);
    return rc == 0 ? gt_db_commit(db, GT_NEVER) : rc;
}
