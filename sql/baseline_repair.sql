-- baseline and repair
SELECT migrate.baseline('5');
SELECT migrate.baseline(NULL);
SELECT migrate.repair('1', 'CREATE TABLE profiles (id int); -- reformatted', 'renamed comment');
SELECT migrate.apply('1', 'create profiles', 'CREATE TABLE profiles (id int); -- reformatted');
SELECT migrate.repair('1', 'CREATE TABLE profiles (id int); -- reformatted', 'again');
SELECT migrate.repair('1', 'CREATE TABLE profiles (id int', 'broken');
SELECT migrate.repair('1', 'SELECT 1', NULL);
SELECT migrate.repair('1', 'SELECT 1', '');
SELECT migrate.repair('77', 'SELECT 1', 'unknown');
SELECT migrate.repair('30', 'SELECT 1', 'not applied? it is applied');
SELECT action, version, previous_checksum IS NOT NULL AS has_previous, details->>'reason' AS reason
  FROM migrate.history WHERE action = 'repair' ORDER BY id;
-- a database adopted mid-life: baseline, then only newer versions run
CREATE DATABASE migrate_regress_baseline;
\c migrate_regress_baseline
CREATE EXTENSION migrate_ext;
CREATE TABLE legacy (a int);
SELECT migrate.baseline('20250101000000', 'existing production schema');
SELECT migrate.baseline('20250101000000');
SELECT migrate.apply('20240101000000', 'older than baseline', 'CREATE TABLE never_created (a int)');
SELECT migrate.apply('20250101000000', 'the baseline itself', 'CREATE TABLE never_created (a int)');
SELECT migrate.apply('20250201000000', 'newer', 'ALTER TABLE legacy ADD COLUMN b int', requires => '{20240601000000}');
SELECT to_regclass('never_created') IS NULL AS skipped;
SELECT version, name, state, checksum FROM migrate.status();
SELECT action, version, name FROM migrate.history ORDER BY id;
SELECT migrate.revert('20250101000000');
\c contrib_regression
DROP DATABASE migrate_regress_baseline;
