-- errors: every refusal is specific and happens before anything runs
\set VERBOSITY default
-- syntax error: statement number and line within the script
SELECT migrate.apply('10', 'typo', E'CREATE TABLE t10 (a int);\n\nCREATE TABEL t11 (b int);\nSELECT 1;');
SELECT migrate.apply('10', 'unterminated', E'SELECT 1;\nSELECT ''abc;\nSELECT 2;');
SELECT migrate.apply('10', 'bad verify', 'SELECT 1', verify_script => E'SELECT true;\nSELEC false;');
SELECT migrate.apply('10', 'bad down', 'SELECT 1', down_script => 'DROP TABLE;');
-- transaction control
SELECT migrate.apply('10', 'begin', E'BEGIN;\nCREATE TABLE t10 (a int);\nCOMMIT;');
SELECT migrate.apply('10', 'savepoint', E'CREATE TABLE t10 (a int);\nSAVEPOINT s1;');
SELECT to_regclass('t10') IS NULL AS nothing_ran;
-- statements that cannot run in a transaction block
SELECT migrate.apply('10', 'cic', 'CREATE TABLE t10 (a int); CREATE INDEX CONCURRENTLY t10_a ON t10 (a);');
SELECT migrate.apply('10', 'dic', 'DROP INDEX CONCURRENTLY IF EXISTS foo;');
SELECT migrate.apply('10', 'ric', 'REINDEX TABLE CONCURRENTLY profiles;');
SELECT migrate.apply('10', 'vacuum', 'VACUUM profiles;');
SELECT migrate.apply('10', 'alter system', 'ALTER SYSTEM SET work_mem = ''8MB'';');
SELECT migrate.apply('10', 'create db', 'CREATE DATABASE nope;');
SELECT migrate.apply('10', 'detach', 'ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY;');
-- a down script that cannot run in a transaction is stored; revert refuses it
-- (pg_migrate down runs it outside a transaction and calls record_reverted)
BEGIN;
SELECT migrate.apply('10', 'down cic', 'SELECT 1', down_script => 'DROP INDEX CONCURRENTLY foo;');
SELECT migrate.revert('10');
ROLLBACK;
SELECT migrate.apply('10', 'copy', 'COPY profiles FROM STDIN;');
SELECT to_regclass('t10') IS NULL AS nothing_ran;
-- NULL and empty arguments
SELECT migrate.apply(NULL, 'x', 'SELECT 1');
SELECT migrate.apply('10', NULL, 'SELECT 1');
SELECT migrate.apply('10', 'x', NULL);
SELECT migrate.apply('', 'x', 'SELECT 1');
SELECT migrate.apply('10', '  ', 'SELECT 1');
SELECT migrate.apply('10', 'x', '');
SELECT migrate.apply('10', 'x', '-- only a comment');
SELECT migrate.apply('10', 'x', 'SELECT 1', requires => NULL);
SELECT migrate.apply('10', 'x', 'SELECT 1', requires => '{NULL}');
SELECT migrate.apply('10', 'x', 'SELECT 1', requires => '{10}');
SELECT migrate.apply('10 2', 'x', 'SELECT 1');
SELECT migrate.apply(repeat('9', 201), 'x', 'SELECT 1');
SELECT migrate.apply('10', 'x', 'SELECT 1', verify_script => 'INSERT INTO profiles (email) VALUES (''v'')');
-- wrong types
SELECT migrate.apply(1, 'x', 'SELECT 1');
SELECT migrate.apply('10', 'x', 'SELECT 1', requires => 'not an array');
SELECT migrate.revert(10);
-- nested apply from inside a migration
SELECT migrate.apply('10', 'nested', 'SELECT migrate.apply(''11'', ''inner'', ''SELECT 1'')');
-- a runtime error names the statement and its line; nothing is recorded
SELECT migrate.apply('10', 'runtime', E'CREATE TABLE t10 (a int);\nINSERT INTO t10 VALUES (1);\nINSERT INTO t10 VALUES (''x'');');
SELECT to_regclass('t10') IS NULL AS nothing_ran,
       NOT EXISTS (SELECT 1 FROM migrate.migrations WHERE version = '10') AS nothing_recorded;
-- read-only transaction
BEGIN READ ONLY;
SELECT migrate.apply('10', 'ro', 'SELECT 1');
ROLLBACK;
-- review regressions: a check without columns, a comment-only verify script,
-- REINDEX SCHEMA and subscription refreshes are refused before anything runs
SELECT migrate.apply('10', 'x', 'CREATE TABLE t10 (a int)', verify_script => 'SELECT');
SELECT migrate.apply('10', 'x', 'CREATE TABLE t10 (a int)', verify_script => '-- nothing to check');
SELECT migrate.apply('10', 'x', 'CREATE TABLE t10 (a int); REINDEX SCHEMA public;');
SELECT migrate.apply('10', 'x', 'ALTER SUBSCRIPTION s REFRESH PUBLICATION;');
SELECT statement_class, why FROM migrate.script_statements('DROP SUBSCRIPTION s;');
-- lines are those of the statements, not of the comments before them
SELECT migrate.apply('10', 'x', E'-- header\n/* block /* nested */ comment */\n-- more\nSELECT 1/0;');
SELECT to_regclass('t10') IS NULL AS nothing_ran;
-- a syntax error inside a script applied from PL/pgSQL still names statement and line
DO $$ BEGIN PERFORM migrate.apply('10', 'x', E'SELECT 1;\n\nSELEC 2;'); END $$;
