-- bench/pgbench_updates20.sql -- the database's own ceiling for GET
-- /updates?queries=20 on PostgreSQL, as the showcase sends it: 20 random
-- World rows by primary key in one libpq pipeline, then 20 updates in a
-- second pipeline (one implicit transaction), ids ascending so that two
-- clients lock rows in the same order -- each :uN is drawn from its own
-- twentieth of 1..10000, which keeps them ascending and random
-- (pgbench 15 -M prepared).
\set id1 random(1, 10000)
\set id2 random(1, 10000)
\set id3 random(1, 10000)
\set id4 random(1, 10000)
\set id5 random(1, 10000)
\set id6 random(1, 10000)
\set id7 random(1, 10000)
\set id8 random(1, 10000)
\set id9 random(1, 10000)
\set id10 random(1, 10000)
\set id11 random(1, 10000)
\set id12 random(1, 10000)
\set id13 random(1, 10000)
\set id14 random(1, 10000)
\set id15 random(1, 10000)
\set id16 random(1, 10000)
\set id17 random(1, 10000)
\set id18 random(1, 10000)
\set id19 random(1, 10000)
\set id20 random(1, 10000)
\set u1 random(1, 500)
\set rn1 random(1, 10000)
\set u2 random(501, 1000)
\set rn2 random(1, 10000)
\set u3 random(1001, 1500)
\set rn3 random(1, 10000)
\set u4 random(1501, 2000)
\set rn4 random(1, 10000)
\set u5 random(2001, 2500)
\set rn5 random(1, 10000)
\set u6 random(2501, 3000)
\set rn6 random(1, 10000)
\set u7 random(3001, 3500)
\set rn7 random(1, 10000)
\set u8 random(3501, 4000)
\set rn8 random(1, 10000)
\set u9 random(4001, 4500)
\set rn9 random(1, 10000)
\set u10 random(4501, 5000)
\set rn10 random(1, 10000)
\set u11 random(5001, 5500)
\set rn11 random(1, 10000)
\set u12 random(5501, 6000)
\set rn12 random(1, 10000)
\set u13 random(6001, 6500)
\set rn13 random(1, 10000)
\set u14 random(6501, 7000)
\set rn14 random(1, 10000)
\set u15 random(7001, 7500)
\set rn15 random(1, 10000)
\set u16 random(7501, 8000)
\set rn16 random(1, 10000)
\set u17 random(8001, 8500)
\set rn17 random(1, 10000)
\set u18 random(8501, 9000)
\set rn18 random(1, 10000)
\set u19 random(9001, 9500)
\set rn19 random(1, 10000)
\set u20 random(9501, 10000)
\set rn20 random(1, 10000)
\startpipeline
SELECT id, randomnumber FROM world WHERE id = :id1;
SELECT id, randomnumber FROM world WHERE id = :id2;
SELECT id, randomnumber FROM world WHERE id = :id3;
SELECT id, randomnumber FROM world WHERE id = :id4;
SELECT id, randomnumber FROM world WHERE id = :id5;
SELECT id, randomnumber FROM world WHERE id = :id6;
SELECT id, randomnumber FROM world WHERE id = :id7;
SELECT id, randomnumber FROM world WHERE id = :id8;
SELECT id, randomnumber FROM world WHERE id = :id9;
SELECT id, randomnumber FROM world WHERE id = :id10;
SELECT id, randomnumber FROM world WHERE id = :id11;
SELECT id, randomnumber FROM world WHERE id = :id12;
SELECT id, randomnumber FROM world WHERE id = :id13;
SELECT id, randomnumber FROM world WHERE id = :id14;
SELECT id, randomnumber FROM world WHERE id = :id15;
SELECT id, randomnumber FROM world WHERE id = :id16;
SELECT id, randomnumber FROM world WHERE id = :id17;
SELECT id, randomnumber FROM world WHERE id = :id18;
SELECT id, randomnumber FROM world WHERE id = :id19;
SELECT id, randomnumber FROM world WHERE id = :id20;
\endpipeline
\startpipeline
UPDATE world SET randomnumber = :rn1 WHERE id = :u1;
UPDATE world SET randomnumber = :rn2 WHERE id = :u2;
UPDATE world SET randomnumber = :rn3 WHERE id = :u3;
UPDATE world SET randomnumber = :rn4 WHERE id = :u4;
UPDATE world SET randomnumber = :rn5 WHERE id = :u5;
UPDATE world SET randomnumber = :rn6 WHERE id = :u6;
UPDATE world SET randomnumber = :rn7 WHERE id = :u7;
UPDATE world SET randomnumber = :rn8 WHERE id = :u8;
UPDATE world SET randomnumber = :rn9 WHERE id = :u9;
UPDATE world SET randomnumber = :rn10 WHERE id = :u10;
UPDATE world SET randomnumber = :rn11 WHERE id = :u11;
UPDATE world SET randomnumber = :rn12 WHERE id = :u12;
UPDATE world SET randomnumber = :rn13 WHERE id = :u13;
UPDATE world SET randomnumber = :rn14 WHERE id = :u14;
UPDATE world SET randomnumber = :rn15 WHERE id = :u15;
UPDATE world SET randomnumber = :rn16 WHERE id = :u16;
UPDATE world SET randomnumber = :rn17 WHERE id = :u17;
UPDATE world SET randomnumber = :rn18 WHERE id = :u18;
UPDATE world SET randomnumber = :rn19 WHERE id = :u19;
UPDATE world SET randomnumber = :rn20 WHERE id = :u20;
\endpipeline
