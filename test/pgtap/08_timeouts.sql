-- Timeouts: migrate.lock_timeout and migrate.statement_timeout apply to the
-- script's statements only; the caller's settings are back after the apply.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(16);

-- pgTAP's throws_ok() cannot catch 57014: WHEN OTHERS excludes query_canceled
CREATE FUNCTION pg_temp.sqlstate_of(sql text) RETURNS text
LANGUAGE plpgsql AS $f$
BEGIN
    EXECUTE sql;
    RETURN NULL;
EXCEPTION WHEN query_canceled OR others THEN
    RETURN SQLSTATE;
END
$f$;

SET LOCAL lock_timeout = '3s';
SET LOCAL statement_timeout = 0;

SELECT is(
    migrate.apply('1', 'default lock_timeout',
        $s$CREATE TABLE lt1 AS SELECT current_setting('lock_timeout') AS lt$s$),
    'applied', 'apply 1');
SELECT is((SELECT lt FROM lt1), '5s', 'inside the script lock_timeout is migrate.lock_timeout (default 5s)');
SELECT is(current_setting('lock_timeout'), '3s', 'after the apply lock_timeout is the caller''s again');

SET LOCAL migrate.lock_timeout = '2s';
SELECT is(
    migrate.apply('2', 'lock_timeout 2s',
        $s$CREATE TABLE lt2 AS SELECT current_setting('lock_timeout') AS lt$s$),
    'applied', 'apply 2 with SET LOCAL migrate.lock_timeout = 2s');
SELECT is((SELECT lt FROM lt2), '2s', 'inside the script lock_timeout follows migrate.lock_timeout');
SELECT is(current_setting('lock_timeout'), '3s', 'after the apply lock_timeout is the caller''s again');

SELECT is(
    migrate.apply('3', 'own lock_timeout',
        $s$SET LOCAL lock_timeout = '7s';
CREATE TABLE lt3 AS SELECT current_setting('lock_timeout') AS lt$s$),
    'applied', 'apply 3 whose script sets its own lock_timeout');
SELECT is((SELECT lt FROM lt3), '7s', 'the script''s own lock_timeout is kept for its statements');
SELECT is(current_setting('lock_timeout'), '3s', 'after the apply lock_timeout is the caller''s again');
SELECT is(
    migrate.apply('4', 'own lock_timeout, reset',
        $s$SET LOCAL lock_timeout = '7s';
RESET lock_timeout;
CREATE TABLE lt4 AS SELECT current_setting('lock_timeout') AS lt$s$),
    'applied', 'apply 4 whose script sets and resets lock_timeout');
SELECT isnt((SELECT lt FROM lt4), '2s', 'a script that manages lock_timeout itself does not get migrate.lock_timeout');

--
-- statement_timeout
--
SET LOCAL migrate.statement_timeout = '200ms';
SELECT is(
    pg_temp.sqlstate_of($$SELECT migrate.apply('5', 'too slow', $s$CREATE TABLE slow_t (i int); SELECT pg_sleep(1)$s$)$$),
    '57014', 'with migrate.statement_timeout = 200ms a statement sleeping 1s fails with 57014');
SELECT ok(to_regclass('slow_t') IS NULL AND NOT EXISTS (SELECT FROM migrate.migrations WHERE version = '5')
          AND NOT EXISTS (SELECT FROM migrate.history WHERE version = '5'),
    'nothing of the timed-out migration was recorded');
SELECT is(
    migrate.apply('5', 'fast enough',
        $s$CREATE TABLE st5 AS SELECT current_setting('statement_timeout') AS st$s$),
    'applied', 'a fast script applies under migrate.statement_timeout');
SELECT is((SELECT st FROM st5), '200ms', 'inside the script statement_timeout is migrate.statement_timeout');
SELECT is(current_setting('statement_timeout'), '0', 'after the apply statement_timeout is the caller''s again');

SELECT * FROM finish();
ROLLBACK;
