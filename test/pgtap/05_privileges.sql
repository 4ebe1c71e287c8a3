-- Privileges: the state-changing functions and the bookkeeping tables are
-- not for PUBLIC; a role granted EXECUTE on migrate.apply can apply without
-- any privilege on the tables; the pure helpers are for everybody.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(32);

CREATE ROLE mg_tap_nobody NOLOGIN;
CREATE ROLE mg_tap_deployer NOLOGIN;
GRANT CREATE ON SCHEMA public TO mg_tap_deployer;
GRANT EXECUTE ON FUNCTION migrate.apply(text, text, text, text, text[], text) TO mg_tap_deployer;

SELECT is(migrate.apply('1', 'setup', 'CREATE TABLE priv_t (i int)', 'DROP TABLE priv_t'), 'applied',
    'the superuser applies 1');

--
-- an ordinary role
--
SET LOCAL ROLE mg_tap_nobody;
SELECT throws_ok($$SELECT migrate.apply('2', 'n', 'SELECT 1')$$, '42501', NULL, 'ordinary role: apply is denied');
SELECT throws_ok($$SELECT migrate.revert('1')$$, '42501', NULL, 'ordinary role: revert is denied');
SELECT throws_ok($$SELECT migrate.baseline('9')$$, '42501', NULL, 'ordinary role: baseline is denied');
SELECT throws_ok($$SELECT migrate.repair('1', 'SELECT 1', 'r')$$, '42501', NULL, 'ordinary role: repair is denied');
SELECT throws_ok($$SELECT * FROM migrate.verify('1')$$, '42501', NULL, 'ordinary role: verify is denied');
SELECT throws_ok($$SELECT * FROM migrate.status()$$, '42501', NULL, 'ordinary role: status is denied');
SELECT throws_ok($$SELECT * FROM migrate.migrations$$, '42501', NULL, 'ordinary role: SELECT on migrate.migrations is denied');
SELECT throws_ok($$SELECT * FROM migrate.history$$, '42501', NULL, 'ordinary role: SELECT on migrate.history is denied');
SELECT throws_ok(
    $$INSERT INTO migrate.migrations (version, name, state, session_user_name, current_user_name, backend_pid, started_at, applied_at)
      VALUES ('99', 'forged', 'applied', 'x', 'x', 0, now(), now())$$,
    '42501', NULL, 'ordinary role: INSERT into migrate.migrations is denied');
SELECT throws_ok(
    $$INSERT INTO migrate.history (action, version, session_user_name, current_user_name, backend_pid)
      VALUES ('apply', '99', 'x', 'x', 0)$$,
    '42501', NULL, 'ordinary role: INSERT into migrate.history is denied');
SELECT throws_ok($$UPDATE migrate.migrations SET name = 'x'$$, '42501', NULL, 'ordinary role: UPDATE of migrate.migrations is denied');
SELECT throws_ok($$UPDATE migrate.history SET name = 'x'$$, '42501', NULL, 'ordinary role: UPDATE of migrate.history is denied');
SELECT throws_ok($$DELETE FROM migrate.migrations$$, '42501', NULL, 'ordinary role: DELETE from migrate.migrations is denied');
SELECT throws_ok($$DELETE FROM migrate.history$$, '42501', NULL, 'ordinary role: DELETE from migrate.history is denied');
SELECT is(migrate.checksum(E'a\r\nb'), encode(sha256(convert_to(E'a\nb', 'UTF8')), 'hex'),
    'ordinary role: checksum() is executable by PUBLIC');
SELECT is(migrate.version_compare('2', '10'), -1, 'ordinary role: version_compare() is executable by PUBLIC');
SELECT is(migrate.current_migration(), NULL, 'ordinary role: current_migration() is executable by PUBLIC');
RESET ROLE;

--
-- a role granted EXECUTE on migrate.apply only
--
SET LOCAL ROLE mg_tap_deployer;
SELECT is(
    migrate.apply('2', 'by the deployer', 'CREATE TABLE public.deployed AS SELECT current_user::text AS u, migrate.current_migration() AS v'),
    'applied', 'a role granted EXECUTE on apply applies a migration');
SELECT throws_ok($$SELECT * FROM migrate.migrations$$, '42501', NULL,
    '... yet it still has no privilege on migrate.migrations');
SELECT throws_ok($$SELECT migrate.revert('2')$$, '42501', NULL, '... and it still cannot revert');
SELECT throws_ok($$SELECT migrate.apply('3', 'peek', 'CREATE TABLE public.peek AS SELECT * FROM migrate.history')$$,
    '42501', NULL, 'the script runs with the caller''s privileges, not the tables'' owner''s');
RESET ROLE;

SELECT is((SELECT u FROM deployed), 'mg_tap_deployer', 'the script ran as the deployer');
SELECT is((SELECT v FROM deployed), '2', '... with current_migration() set');
SELECT is((SELECT tableowner::text FROM pg_tables WHERE tablename = 'deployed'), 'mg_tap_deployer',
    'the table created by the script belongs to the deployer');
SELECT is((SELECT state FROM migrate.migrations WHERE version = '2'), 'applied',
    'the migrations row was written');
SELECT is((SELECT current_user_name FROM migrate.migrations WHERE version = '2'), 'mg_tap_deployer',
    'current_user_name records the deployer');
SELECT ok((SELECT session_user_name = session_user FROM migrate.migrations WHERE version = '2'),
    'session_user_name records the session user');
SELECT is((SELECT current_user_name FROM migrate.history WHERE version = '2' AND action = 'apply'), 'mg_tap_deployer',
    'the history row was written and records the deployer');
SELECT is((SELECT count(*) FROM migrate.migrations WHERE version = '3'), 0::bigint,
    'the migration whose script was denied is not recorded');

GRANT EXECUTE ON FUNCTION migrate.status() TO mg_tap_deployer;
SET LOCAL ROLE mg_tap_deployer;
SELECT results_eq($$SELECT version, state FROM migrate.status()$$, $$VALUES ('1', 'applied'), ('2', 'applied')$$,
    'a role granted EXECUTE on status() reads the status without privileges on the tables');
RESET ROLE;
SELECT is(current_user::text, session_user::text, 'RESET ROLE is back to the session user');

SELECT * FROM finish();
ROLLBACK;
