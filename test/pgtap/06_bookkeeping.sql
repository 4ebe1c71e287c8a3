-- Bookkeeping: what migrate.migrations and migrate.history record, and that
-- nobody (not even the superuser owner) can UPDATE, DELETE or TRUNCATE them.
BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL application_name = 'tap_bookkeeping';
SELECT plan(45);

SELECT pg_current_wal_insert_lsn() AS lsn_before_apply \gset

SELECT is(
    migrate.apply('1', 'bookkeeping',
        $s$CREATE TABLE bk_t (id int, v int);
INSERT INTO bk_t SELECT g, 0 FROM generate_series(1, 3) AS g;
UPDATE bk_t SET v = 1 WHERE id <= 2;
SELECT count(*) FROM bk_t;$s$,
        'DROP TABLE bk_t',
        '{}',
        'SELECT count(*) = 3 FROM bk_t'),
    'applied', 'apply 1');

--
-- migrate.migrations
--
SELECT is((SELECT count(*) FROM migrate.migrations), 1::bigint, 'one migrations row');
SELECT is((SELECT name FROM migrate.migrations WHERE version = '1'), 'bookkeeping', 'name');
SELECT is((SELECT state FROM migrate.migrations WHERE version = '1'), 'applied', 'state');
SELECT is((SELECT script FROM migrate.migrations WHERE version = '1'),
    $s$CREATE TABLE bk_t (id int, v int);
INSERT INTO bk_t SELECT g, 0 FROM generate_series(1, 3) AS g;
UPDATE bk_t SET v = 1 WHERE id <= 2;
SELECT count(*) FROM bk_t;$s$, 'script is recorded verbatim');
SELECT is((SELECT checksum FROM migrate.migrations WHERE version = '1'),
    (SELECT migrate.checksum(script) FROM migrate.migrations WHERE version = '1'), 'checksum is that of the script');
SELECT is((SELECT down_script FROM migrate.migrations WHERE version = '1'), 'DROP TABLE bk_t', 'down_script');
SELECT is((SELECT verify_script FROM migrate.migrations WHERE version = '1'), 'SELECT count(*) = 3 FROM bk_t', 'verify_script');
SELECT is((SELECT requires FROM migrate.migrations WHERE version = '1'), '{}'::text[], 'requires (empty)');
SELECT ok((SELECT session_user_name = session_user FROM migrate.migrations WHERE version = '1'), 'session_user_name');
SELECT ok((SELECT current_user_name = current_user FROM migrate.migrations WHERE version = '1'), 'current_user_name');
SELECT is((SELECT application_name FROM migrate.migrations WHERE version = '1'), 'tap_bookkeeping',
    'application_name follows SET LOCAL application_name');
SELECT ok((SELECT client_addr IS NOT DISTINCT FROM inet_client_addr() FROM migrate.migrations WHERE version = '1'),
    'client_addr is inet_client_addr()');
SELECT is((SELECT backend_pid FROM migrate.migrations WHERE version = '1'), pg_backend_pid(), 'backend_pid');
SELECT is((SELECT txid FROM migrate.migrations WHERE version = '1'), pg_current_xact_id(),
    'txid is the caller''s transaction id');
SELECT ok((SELECT started_at >= now() AND started_at <= applied_at AND applied_at <= clock_timestamp()
             FROM migrate.migrations WHERE version = '1'),
    'transaction start <= started_at <= applied_at <= now');
SELECT ok((SELECT execution_ms >= 0 AND lock_wait_ms >= 0 FROM migrate.migrations WHERE version = '1'),
    'execution_ms and lock_wait_ms are >= 0');
SELECT is((SELECT statement_count FROM migrate.migrations WHERE version = '1'), 4, 'statement_count is exactly 4');
SELECT is((SELECT rows_affected FROM migrate.migrations WHERE version = '1'), 5::bigint,
    'rows_affected is exactly 5 (INSERT of 3 + UPDATE of 2; the SELECT does not count)');
SELECT ok((SELECT wal_lsn_before IS NOT NULL AND wal_lsn_before <= wal_lsn_after FROM migrate.migrations WHERE version = '1'),
    'wal_lsn_before <= wal_lsn_after');
SELECT ok((SELECT wal_lsn_before >= :'lsn_before_apply'::pg_lsn AND wal_lsn_after <= pg_current_wal_insert_lsn()
             FROM migrate.migrations WHERE version = '1'),
    'the WAL positions lie between those before and after the call');
SELECT is((SELECT out_of_order FROM migrate.migrations WHERE version = '1'), false, 'out_of_order is false');
SELECT ok((SELECT reverted_at IS NULL AND reverted_by IS NULL FROM migrate.migrations WHERE version = '1'),
    'reverted_at and reverted_by are NULL');

--
-- migrate.history: the apply
--
SELECT is((SELECT count(*) FROM migrate.history), 1::bigint, 'one history row after one apply');
SELECT results_eq(
    $$SELECT action, version, name, checksum, previous_checksum, application_name, backend_pid, txid
        FROM migrate.history$$,
    $$SELECT 'apply'::text, '1'::text, 'bookkeeping'::text, m.checksum, NULL::text,
             'tap_bookkeeping'::text, pg_backend_pid(), pg_current_xact_id()
        FROM migrate.migrations m WHERE version = '1'$$,
    'the history row: action apply, version, name, checksum, application_name, backend_pid, txid');
SELECT ok((SELECT session_user_name = session_user AND current_user_name = current_user
                  AND client_addr IS NOT DISTINCT FROM inet_client_addr()
             FROM migrate.history),
    'the history row records session user, current user and client address');
SELECT results_eq(
    $$SELECT (details->>'statement_count')::int, (details->>'rows_affected')::bigint,
             (details->>'verify_checks')::int, (details->>'out_of_order')::boolean,
             (details->>'execution_ms')::float8 >= 0,
             (details->>'wal_lsn_before')::pg_lsn <= (details->>'wal_lsn_after')::pg_lsn
        FROM migrate.history WHERE version = '1'$$,
    $$VALUES (4, 5::bigint, 1, false, true, true)$$,
    'the history details carry statement_count, rows_affected, verify_checks, out_of_order, timings and WAL positions');

--
-- one history row per apply, revert, repair (baseline: see 03)
--
SELECT is(migrate.apply('2', 'second', 'CREATE TABLE bk2 (i int)', 'DROP TABLE bk2', '{1}'), 'applied', 'apply 2 requiring 1');
SELECT is((SELECT requires FROM migrate.migrations WHERE version = '2'), '{1}'::text[], 'requires is recorded');
SELECT is(migrate.apply('2', 'second', 'CREATE TABLE bk2 (i int)', 'DROP TABLE bk2', '{1}'), 'already_applied',
    're-apply 2: already_applied');
SELECT is(migrate.revert('2'), 'reverted', 'revert 2');
SELECT is(migrate.apply('2', 'second', 'CREATE TABLE bk2 (i int)', 'DROP TABLE bk2', '{1}'), 'applied', 'apply 2 again');
SELECT is(migrate.repair('1', 'SELECT 1', 'testing history'), 'repaired', 'repair 1');
SELECT is(migrate.repair('1', 'SELECT 1', 'testing history'), 'unchanged', 'repair 1 again: unchanged');
SELECT results_eq(
    $$SELECT action, version FROM migrate.history ORDER BY id$$,
    $$VALUES ('apply', '1'), ('apply', '2'), ('revert', '2'), ('apply', '2'), ('repair', '1')$$,
    'history has exactly one row per apply, revert and repair, in order; none for already_applied or unchanged');
SELECT is((SELECT statement_count FROM migrate.migrations WHERE version = '2'), 1,
    'the re-applied row is rewritten');

--
-- the bookkeeping tables cannot be changed directly, even by their owner
--
SELECT is((SELECT relowner::regrole::text FROM pg_class WHERE oid = 'migrate.migrations'::regclass), current_user::text,
    'the tests run as the owner of the bookkeeping tables');
SELECT throws_ok($$UPDATE migrate.migrations SET name = 'forged'$$, 'MG013', NULL, 'UPDATE of migrate.migrations: MG013');
SELECT throws_ok($$DELETE FROM migrate.migrations WHERE version = '2'$$, 'MG013', NULL, 'DELETE from migrate.migrations: MG013');
SELECT throws_ok($$TRUNCATE migrate.migrations$$, 'MG013', NULL, 'TRUNCATE of migrate.migrations: MG013');
SELECT throws_ok($$UPDATE migrate.history SET details = '{}'$$, 'MG013', NULL, 'UPDATE of migrate.history: MG013');
SELECT throws_ok($$DELETE FROM migrate.history$$, 'MG013', NULL, 'DELETE from migrate.history: MG013');
SELECT throws_ok($$TRUNCATE migrate.history$$, 'MG013', NULL, 'TRUNCATE of migrate.history: MG013');
SELECT throws_ok($$SELECT migrate.guard_bookkeeping()$$, '39P01', NULL, 'the guard function cannot be called directly');
SELECT results_eq(
    $$SELECT (SELECT count(*) FROM migrate.migrations), (SELECT count(*) FROM migrate.history)$$,
    $$VALUES (2::bigint, 5::bigint)$$,
    'both tables are unchanged');

SELECT * FROM finish();
ROLLBACK;
