-- verify scripts: pass/fail checks after apply, and on demand
SELECT migrate.apply('40', 'checked', $$CREATE TABLE v40 (id int PRIMARY KEY, name text);
ALTER TABLE v40 ENABLE ROW LEVEL SECURITY;
CREATE POLICY v40_read ON v40 FOR SELECT USING (true);
INSERT INTO v40 VALUES (1, 'a'), (2, 'b');$$,
  down_script => 'DROP TABLE v40',
  verify_script => $$SELECT to_regclass('v40') IS NOT NULL;
SELECT relrowsecurity FROM pg_class WHERE oid = 'v40'::regclass;
SELECT count(*) = 1 FROM pg_policies WHERE tablename = 'v40';
SELECT count(*) >= 2 FROM v40;$$);
SELECT * FROM migrate.verify('40');
-- a check that fails at apply time: nothing is applied
SELECT migrate.apply('41', 'fails check', 'CREATE TABLE v41 (a int)',
  verify_script => E'SELECT true;\nSELECT count(*) = 1 FROM v41;');
SELECT migrate.apply('41', 'no row', 'CREATE TABLE v41 (a int)', verify_script => 'SELECT true WHERE false');
SELECT migrate.apply('41', 'not boolean', 'CREATE TABLE v41 (a int)', verify_script => 'SELECT 1');
SELECT migrate.apply('41', 'two rows', 'CREATE TABLE v41 (a int)', verify_script => 'SELECT true FROM generate_series(1,2)');
SELECT migrate.apply('41', 'null', 'CREATE TABLE v41 (a int)', verify_script => 'SELECT NULL::boolean');
SELECT migrate.apply('41', 'error', 'CREATE TABLE v41 (a int)', verify_script => 'SELECT 1/0 = 1');
SELECT to_regclass('v41') IS NULL AS nothing_applied;
-- checks re-run now: drift since the apply is reported, errors are reported, not raised
DROP POLICY v40_read ON v40;
DELETE FROM v40;
SELECT * FROM migrate.verify('40');
ALTER TABLE v40 RENAME TO v40_renamed;
SELECT check_no, passed, message FROM migrate.verify('40');
ALTER TABLE v40_renamed RENAME TO v40;
SELECT * FROM migrate.verify('1');
SELECT * FROM migrate.verify('404');
SELECT * FROM migrate.verify(NULL);
