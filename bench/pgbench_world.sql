-- bench/pgbench_world.sql -- the database's own ceiling for GET /db:
-- pgbench -n -M prepared -f bench/pgbench_world.sql, one random World row
-- by primary key per transaction, as the showcase's /db handler does.
\set id random(1, 10000)
SELECT id, randomnumber FROM world WHERE id = :id;
