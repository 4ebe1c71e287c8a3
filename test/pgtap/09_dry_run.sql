-- migrate.dry_run: the locks each kind of statement takes, rows, error rows
-- (the first error ends the run without being raised), statements that are
-- not run, argument errors, privileges, and that everything is rolled back,
-- sequences included.
--
-- The fixtures are committed before the test transaction, so that it holds
-- no lock on them and the locks each dry run takes show.  The lock checks
-- come first: once the test transaction reads a table it holds that lock.
\set QUIET on
SET client_min_messages = warning;
DROP TABLE IF EXISTS dr_tap_t, dr_tap_u;
DROP SEQUENCE IF EXISTS dr_tap_s;
DROP FUNCTION IF EXISTS dr_tap_trg();
CREATE TABLE dr_tap_t (id int PRIMARY KEY, v int);
INSERT INTO dr_tap_t VALUES (1, 10), (2, 20);
CREATE TABLE dr_tap_u (i int);
INSERT INTO dr_tap_u VALUES (1), (2), (3);
CREATE SEQUENCE dr_tap_s;
DO $$BEGIN PERFORM pg_catalog.setval('dr_tap_s', 41); END$$;
CREATE FUNCTION dr_tap_trg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
RESET client_min_messages;

BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(47);

-- the locks array of statement n of a dry run
CREATE FUNCTION pg_temp.locks_of(script text, n int DEFAULT 1) RETURNS text[]
LANGUAGE sql AS $f$
    SELECT locks FROM migrate.dry_run(script) WHERE statement_no = n
$f$;

--
-- locks, one kind of statement at a time
--
SELECT is(pg_temp.locks_of('CREATE INDEX dr_tap_t_v ON dr_tap_t (v)'),
    '{"public.dr_tap_t: ShareLock","public.dr_tap_t_v: AccessExclusiveLock"}',
    'CREATE INDEX: ShareLock on the table, AccessExclusiveLock on the new index');
SELECT is(pg_temp.locks_of('ALTER TABLE dr_tap_u ADD COLUMN note text'),
    '{"public.dr_tap_u: AccessExclusiveLock"}', 'ALTER TABLE ADD COLUMN: AccessExclusiveLock');
SELECT is(pg_temp.locks_of('ALTER TABLE dr_tap_u ALTER COLUMN i SET NOT NULL'),
    '{"public.dr_tap_u: AccessExclusiveLock"}', 'ALTER TABLE SET NOT NULL: AccessExclusiveLock');
SELECT is(pg_temp.locks_of('CREATE TRIGGER dr_tap_trg BEFORE UPDATE ON dr_tap_u FOR EACH ROW EXECUTE FUNCTION dr_tap_trg()'),
    '{"public.dr_tap_u: ShareRowExclusiveLock"}', 'CREATE TRIGGER: ShareRowExclusiveLock');
SELECT is(pg_temp.locks_of('CREATE POLICY dr_tap_p ON dr_tap_u USING (true)'),
    '{"public.dr_tap_u: AccessExclusiveLock"}', 'CREATE POLICY: AccessExclusiveLock');
SELECT is(pg_temp.locks_of('UPDATE dr_tap_u SET i = i + 1'),
    '{"public.dr_tap_u: RowExclusiveLock"}', 'UPDATE: RowExclusiveLock');
SELECT is(pg_temp.locks_of('DELETE FROM dr_tap_t WHERE id = 1'),
    '{"public.dr_tap_t: RowExclusiveLock","public.dr_tap_t_pkey: RowExclusiveLock"}',
    'DELETE: RowExclusiveLock on the table and its index');
SELECT is(pg_temp.locks_of('SELECT * FROM dr_tap_u'),
    '{"public.dr_tap_u: AccessShareLock"}', 'SELECT: AccessShareLock');
SELECT is(pg_temp.locks_of('LOCK TABLE dr_tap_u IN SHARE MODE'),
    '{"public.dr_tap_u: ShareLock"}', 'LOCK TABLE IN SHARE MODE: ShareLock');
SELECT is(pg_temp.locks_of('TRUNCATE dr_tap_u'),
    '{"public.dr_tap_u: AccessExclusiveLock"}', 'TRUNCATE: AccessExclusiveLock');
SELECT is(pg_temp.locks_of('DROP TABLE dr_tap_t'),
    '{"public.dr_tap_t: AccessExclusiveLock","public.dr_tap_t_pkey: AccessExclusiveLock"}',
    'DROP TABLE: the dropped table and index are named as they were');
SELECT is(pg_temp.locks_of('CREATE TABLE dr_tap_new (id int PRIMARY KEY)'),
    '{"public.dr_tap_new: AccessExclusiveLock","public.dr_tap_new_pkey: AccessExclusiveLock"}',
    'CREATE TABLE: the new table and its index, no TOAST or catalog relations');
SELECT is(pg_temp.locks_of('CREATE TEMP TABLE dr_tap_tmp (i int)'),
    '{"pg_temp.dr_tap_tmp: AccessExclusiveLock"}', 'a temporary table is in pg_temp');
SELECT is(pg_temp.locks_of('SELECT count(*) FROM pg_catalog.pg_class'),
    '{}', 'catalog relations are left out: an empty array, not NULL');
SELECT is(pg_temp.locks_of('ALTER TABLE dr_tap_u ADD COLUMN a int; ALTER TABLE dr_tap_u ADD COLUMN b int', 2),
    '{}', 'a lock an earlier statement of the script took is not reported again');
SELECT is(pg_temp.locks_of($$SELECT nextval('dr_tap_s')$$),
    '{"public.dr_tap_s: RowExclusiveLock"}', 'nextval: RowExclusiveLock on the sequence');

--
-- the report
--
SELECT results_eq(
    $$SELECT statement_no, command, rows, error, duration_ms >= 0
        FROM migrate.dry_run('CREATE TABLE dr_tap_x (i int); INSERT INTO dr_tap_x SELECT generate_series(1, 5);
                              UPDATE dr_tap_x SET i = i + 1 WHERE i > 2; SELECT * FROM dr_tap_x')$$,
    $$VALUES (1, 'CREATE TABLE', 0::bigint, NULL::text, true), (2, 'INSERT', 5, NULL, true),
             (3, 'UPDATE', 3, NULL, true), (4, 'SELECT', 0, NULL, true)$$,
    'one row per statement: number, command tag, rows affected, no error');
SELECT results_eq(
    $$SELECT statement_no, command, rows IS NULL, locks IS NULL, duration_ms IS NOT NULL, error
        FROM migrate.dry_run('CREATE TABLE dr_tap_y (i int); INSERT INTO dr_tap_nope VALUES (1); DROP TABLE dr_tap_u')$$,
    $$VALUES (1, 'CREATE TABLE', false, false, true, NULL),
             (2, 'INSERT', true, true, true, 'ERROR 42P01: relation "dr_tap_nope" does not exist')$$,
    'an error is reported in its row (rows and locks NULL); later statements get no row');
SELECT is(to_regclass('dr_tap_y'), NULL, '... and what ran before it is rolled back');
SELECT lives_ok($$SELECT 1$$, '... and the caller''s transaction goes on');

SET LOCAL migrate.statement_timeout = '50ms';
SELECT results_eq(
    $$SELECT statement_no, error FROM migrate.dry_run('SELECT 1; SELECT pg_sleep(5); SELECT 2')$$,
    $$VALUES (1, NULL), (2, 'ERROR 57014: canceling statement due to statement timeout')$$,
    'a statement timeout (migrate.statement_timeout) is reported in its row, not raised');
RESET migrate.statement_timeout;
SELECT is(current_setting('lock_timeout'), '0', 'the migration''s lock_timeout ends with the dry run');

SELECT results_eq(
    $$SELECT statement_no, duration_ms IS NULL, rows IS NULL, locks IS NULL, error
        FROM migrate.dry_run('SELECT 1; CREATE INDEX CONCURRENTLY dr_tap_cic ON dr_tap_u (i); SELECT 2')$$,
    $$VALUES (1, false, false, false, NULL),
             (2, true, true, true, 'ERROR MG006: CREATE INDEX CONCURRENTLY cannot run inside a transaction block (not run)')$$,
    'a non-transactional statement is not run, its row says why, and the run stops');
SELECT is((SELECT error FROM migrate.dry_run('ROLLBACK') WHERE statement_no = 1),
    'ERROR MG005: transaction control statement ROLLBACK is not allowed in a migration script (not run)',
    'transaction control is not run');
SELECT is((SELECT error FROM migrate.dry_run('COPY dr_tap_u FROM STDIN') WHERE statement_no = 1),
    'ERROR MG014: COPY ... FROM STDIN cannot run inside a migration (not run)',
    'COPY FROM STDIN is not run');

--
-- everything is rolled back
--
SELECT is(to_regclass('dr_tap_t_v'), NULL, 'the index is gone');
SELECT is(to_regclass('dr_tap_new'), NULL, 'the table is gone');
SELECT is(to_regclass('pg_temp.dr_tap_tmp'), NULL, 'the temporary table is gone');
SELECT is(to_regclass('dr_tap_x'), NULL, 'the table of the report test is gone');
SELECT hasnt_column('dr_tap_u', 'note', 'the added column is gone');
SELECT col_is_null('dr_tap_u', 'i', 'the column is nullable again');
SELECT is((SELECT count(*) FROM pg_trigger WHERE tgrelid = 'dr_tap_u'::regclass), 0::bigint, 'the trigger is gone');
SELECT is((SELECT count(*) FROM pg_policy WHERE polrelid = 'dr_tap_u'::regclass), 0::bigint, 'the policy is gone');
SELECT results_eq('SELECT i FROM dr_tap_u ORDER BY i', ARRAY[1, 2, 3], 'the rows are as before');
SELECT results_eq('SELECT id, v FROM dr_tap_t ORDER BY id', $$VALUES (1, 10), (2, 20)$$, 'the other table too');
SELECT results_eq('SELECT last_value, is_called FROM dr_tap_s', $$VALUES (41::bigint, true)$$,
    'the sequence nextval() advanced is put back');
SELECT results_eq(
    $$SELECT statement_no, locks, error FROM migrate.dry_run('SELECT nextval(''dr_tap_s''); SELECT 1 / 0')$$,
    $$VALUES (1, '{}'::text[], NULL), (2, NULL, 'ERROR 22012: division by zero')$$,
    'a second nextval: the lock is already held by the transaction, so not reported');
SELECT results_eq('SELECT last_value, is_called FROM dr_tap_s', $$VALUES (41::bigint, true)$$,
    '... and the sequence is put back after an error row too');
SELECT is(nextval('dr_tap_s'), 42::bigint, 'nextval continues where it was');

--
-- refusals
--
SELECT throws_ok($$SELECT * FROM migrate.dry_run(NULL)$$, '22004', NULL, 'NULL script: 22004');
SELECT throws_ok($$SELECT * FROM migrate.dry_run(' ')$$, '22023', NULL, 'blank script: 22023');
SELECT throws_ok($$SELECT * FROM migrate.dry_run('-- nothing')$$, '22023', NULL, 'script without a statement: 22023');
SELECT throws_ok($$SELECT * FROM migrate.dry_run('SELECT 1; SELEC 2')$$, '42601', NULL, 'syntax error: 42601, raised');
SELECT throws_ok($$SELECT migrate.apply('dr', 'nested', 'SELECT * FROM migrate.dry_run(''SELECT 1'')')$$,
    'MG012', NULL, 'from inside a migration: MG012');

CREATE ROLE dr_tap_nobody NOLOGIN;
CREATE ROLE dr_tap_runner NOLOGIN;
GRANT EXECUTE ON FUNCTION migrate.dry_run(text) TO dr_tap_runner;
SET LOCAL ROLE dr_tap_nobody;
SELECT throws_ok($$SELECT * FROM migrate.dry_run('SELECT 1')$$, '42501', NULL, 'a role without EXECUTE: 42501');
RESET ROLE;
SET LOCAL ROLE dr_tap_runner;
SELECT is((SELECT error FROM migrate.dry_run('DELETE FROM dr_tap_u') WHERE statement_no = 1),
    'ERROR 42501: permission denied for table dr_tap_u',
    'a role granted EXECUTE: the script runs with its own privileges');
RESET ROLE;

SET LOCAL transaction_read_only = on;
SELECT throws_ok($$SELECT * FROM migrate.dry_run('SELECT 1')$$, '25006', NULL, 'read-only transaction: 25006');

SELECT * FROM finish();
ROLLBACK;

SET client_min_messages = warning;
DROP TABLE dr_tap_t, dr_tap_u;
DROP SEQUENCE dr_tap_s;
DROP FUNCTION dr_tap_trg();
