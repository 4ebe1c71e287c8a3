-- verify_script at apply time, and migrate.verify(version) afterwards.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(30);

-- nextval() is not rolled back: shows whether any script statement ran
CREATE SEQUENCE tap_seq;

--
-- checks that pass
--
SELECT is(
    migrate.apply('1', 'verified',
        'CREATE TABLE v_t (i int); INSERT INTO v_t VALUES (1), (2)',
        verify_script => E'SELECT count(*) = 2 FROM v_t;\nSELECT to_regclass(''v_t'') IS NOT NULL'),
    'applied', 'a migration whose verify checks pass applies');
SELECT is((SELECT verify_script FROM migrate.migrations WHERE version = '1'),
    E'SELECT count(*) = 2 FROM v_t;\nSELECT to_regclass(''v_t'') IS NOT NULL',
    'the verify script is recorded');
SELECT is((SELECT (details->>'verify_checks')::int FROM migrate.history WHERE version = '1'), 2,
    'the history details count 2 verify checks');
SELECT results_eq(
    $$SELECT check_no, check_sql, passed, message FROM migrate.verify('1')$$,
    $$VALUES (1, 'SELECT count(*) = 2 FROM v_t', true, 'ok'),
             (2, 'SELECT to_regclass(''v_t'') IS NOT NULL', true, 'ok')$$,
    'verify() reports each check as passed');

INSERT INTO v_t VALUES (3);
SELECT results_eq(
    $$SELECT check_no, passed FROM migrate.verify('1')$$,
    $$VALUES (1, false), (2, true)$$,
    'verify() re-runs the checks now: check 1 fails after a row was added');
SELECT matches((SELECT message FROM migrate.verify('1') WHERE check_no = 1), 'false',
    'the message of a check returning false says false');

--
-- verify() reports every kind of failure and errors without aborting
--
SELECT is(
    migrate.apply('2', 'many checks',
        'CREATE TABLE e_t (i int); INSERT INTO e_t VALUES (1), (2); CREATE TABLE e_drop (i int)',
        verify_script => $v$SELECT bool_and(i > 0) FROM e_t;
SELECT true FROM e_t WHERE i = 1;
SELECT 10 / min(i) > 0 FROM e_t;
SELECT true FROM e_t WHERE i = 2;
SELECT count(*) >= 0 FROM e_t;
SELECT count(*) = 0 FROM e_drop$v$),
    'applied', 'apply 2 with 6 checks that pass now');
SELECT results_eq(
    $$SELECT check_no, passed, message FROM migrate.verify('2')$$,
    $$VALUES (1, true, 'ok'), (2, true, 'ok'), (3, true, 'ok'), (4, true, 'ok'), (5, true, 'ok'), (6, true, 'ok')$$,
    'all checks pass right after the apply');
DELETE FROM e_t WHERE i = 1;
INSERT INTO e_t VALUES (0), (2);
DROP TABLE e_drop;
SELECT results_eq(
    $$SELECT check_no, passed FROM migrate.verify('2')$$,
    $$VALUES (1, false), (2, false), (3, false), (4, false), (5, true), (6, false)$$,
    'verify() reports the failing checks and goes on after errors');
SELECT matches((SELECT message FROM migrate.verify('2') WHERE check_no = 1), 'false', 'check 1: message says false');
SELECT matches((SELECT message FROM migrate.verify('2') WHERE check_no = 2), 'no row', 'check 2: message says no row');
SELECT matches((SELECT message FROM migrate.verify('2') WHERE check_no = 3), 'division by zero',
    'check 3: message carries the error');
SELECT matches((SELECT message FROM migrate.verify('2') WHERE check_no = 4), 'more than one row',
    'check 4: message says more than one row');
SELECT matches((SELECT message FROM migrate.verify('2') WHERE check_no = 6), 'e_drop',
    'check 6: message carries the error about the missing relation');
SELECT is((SELECT count(*) FROM e_t), 3::bigint, 'the transaction goes on after errors inside checks');

SELECT is(migrate.apply('3', 'no checks', 'SELECT 1'), 'applied', 'apply 3 without verify script');
SELECT is((SELECT count(*) FROM migrate.verify('3')), 0::bigint, 'verify() of a migration without checks: zero rows');
SELECT throws_ok($$SELECT * FROM migrate.verify('404')$$, 'MG010', NULL, 'verify() of an unknown version: MG010');
SELECT throws_ok($$SELECT * FROM migrate.verify(NULL)$$, '22004', NULL, 'verify(NULL): 22004');

--
-- failing checks at apply time: MG007, nothing applied
--
SELECT throws_ok($$SELECT migrate.apply('4', 'v', 'CREATE TABLE f_t (i int)', verify_script => 'SELECT count(*) = 1 FROM f_t')$$,
    'MG007', NULL, 'a check returning false: MG007');
SELECT throws_ok($$SELECT migrate.apply('4', 'v', 'CREATE TABLE f_t (i int)', verify_script => 'SELECT true FROM f_t')$$,
    'MG007', NULL, 'a check returning no row: MG007');
SELECT throws_ok($$SELECT migrate.apply('4', 'v', 'CREATE TABLE f_t (i int)', verify_script => 'SELECT 1')$$,
    'MG007', NULL, 'a check returning a non-boolean: MG007');
SELECT throws_ok($$SELECT migrate.apply('4', 'v', 'CREATE TABLE f_t (i int)', verify_script => 'SELECT true UNION ALL SELECT true')$$,
    'MG007', NULL, 'a check returning more than one row: MG007');
SELECT throws_ok($$SELECT migrate.apply('4', 'v', 'CREATE TABLE f_t (i int)', verify_script => 'SELECT NULL::boolean')$$,
    'MG007', NULL, 'a check returning NULL: MG007');
SELECT throws_ok($$SELECT migrate.apply('4', 'v', 'CREATE TABLE f_t (i int)', verify_script => 'SELECT true; SELECT false')$$,
    'MG007', NULL, 'a later failing check fails the apply too: MG007');
SELECT ok(to_regclass('f_t') IS NULL AND NOT EXISTS (SELECT FROM migrate.migrations WHERE version = '4')
          AND NOT EXISTS (SELECT FROM migrate.history WHERE version = '4'),
    'after MG007 nothing is applied or recorded');

--
-- verify statements that are not SELECTs: 22023 before anything runs
--
SELECT throws_ok($$SELECT migrate.apply('4', 'v', $s$SELECT nextval('tap_seq'); CREATE TABLE f_t (i int)$s$, verify_script => 'INSERT INTO f_t VALUES (1)')$$,
    '22023', NULL, 'an INSERT as verify statement: 22023');
SELECT throws_ok($$SELECT migrate.apply('4', 'v', $s$SELECT nextval('tap_seq'); CREATE TABLE f_t (i int)$s$, verify_script => 'SELECT true; UPDATE f_t SET i = 1')$$,
    '22023', NULL, 'an UPDATE as second verify statement: 22023');
SELECT throws_ok($$SELECT migrate.apply('4', 'v', $s$SELECT nextval('tap_seq'); CREATE TABLE f_t (i int)$s$, verify_script => 'SELECT true INTO f_copy')$$,
    '22023', NULL, 'SELECT ... INTO as verify statement: 22023');
SELECT is(nextval('tap_seq'), 1::bigint, 'the script did not run when the verify script was refused');

SELECT * FROM finish();
ROLLBACK;
