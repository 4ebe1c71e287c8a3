-- per-migration lock_timeout and statement_timeout
SHOW lock_timeout;
SELECT migrate.apply('50', 'show timeouts',
  'CREATE TABLE t50 AS SELECT current_setting(''lock_timeout'') AS lt, current_setting(''statement_timeout'') AS st');
SELECT * FROM t50;
SHOW lock_timeout;
SET migrate.lock_timeout = '2s';
SET migrate.statement_timeout = '1min';
SELECT migrate.apply('51', 'custom timeouts',
  'CREATE TABLE t51 AS SELECT current_setting(''lock_timeout'') AS lt, current_setting(''statement_timeout'') AS st');
SELECT * FROM t51;
-- a script that sets its own keeps it, for its own statements only
SELECT migrate.apply('52', 'own timeouts',
  E'SET lock_timeout = ''250ms'';\nCREATE TABLE t52 AS SELECT current_setting(''lock_timeout'') AS lt;');
SELECT * FROM t52;
SHOW lock_timeout;
RESET migrate.lock_timeout;
-- statement_timeout applies to each statement of the migration
SET migrate.statement_timeout = '100ms';
SELECT migrate.apply('53', 'too slow', E'CREATE TABLE t53 (a int);\nSELECT pg_sleep(2);');
SELECT to_regclass('t53') IS NULL AS nothing_applied;
SELECT migrate.apply('53', 'fast enough', E'CREATE TABLE t53 (a int);\nSELECT pg_sleep(0.01);');
RESET migrate.statement_timeout;
-- the caller's own statement_timeout still bounds the whole call
SET statement_timeout = '200ms';
SELECT migrate.apply('54', 'outer timeout', 'SELECT pg_sleep(2)');
RESET statement_timeout;
SHOW statement_timeout;
-- verify checks obey the caller's statement_timeout and a cancel ends migrate.verify
SELECT migrate.apply('55', 'slow checks', 'CREATE TABLE t55 (a int)',
  verify_script => E'SELECT pg_sleep(0.3) IS NOT NULL;\nSELECT pg_sleep(0.3) IS NOT NULL;');
SET statement_timeout = '150ms';
SELECT * FROM migrate.verify('55');
RESET statement_timeout;
-- and migrate.statement_timeout bounds the checks run at apply time
SET migrate.statement_timeout = '100ms';
SELECT migrate.apply('56', 'slow check at apply', 'CREATE TABLE t56 (a int)', verify_script => 'SELECT pg_sleep(1) IS NOT NULL');
RESET migrate.statement_timeout;
SELECT to_regclass('t56') IS NULL AS nothing_applied;
