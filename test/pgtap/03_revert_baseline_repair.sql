-- migrate.baseline, migrate.revert and migrate.repair.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(55);

--
-- baseline
--
SELECT throws_ok($$SELECT migrate.baseline(NULL)$$, '22004', NULL, 'baseline(NULL): 22004');
SELECT throws_ok($$SELECT migrate.baseline('')$$, '22023', NULL, 'baseline of an empty version: 22023');
SELECT throws_ok($$SELECT migrate.baseline('5 6')$$, '22023', NULL, 'baseline of a version with a blank: 22023');
SELECT throws_ok($$SELECT migrate.baseline('5', NULL)$$, '22004', NULL, 'baseline with a NULL name: 22004');

SELECT is(migrate.baseline('5'), 'baselined', 'baseline(5) returns baselined');
SELECT results_eq(
    $$SELECT version, name, state, checksum FROM migrate.migrations$$,
    $$VALUES ('5', 'baseline', 'baselined', NULL::text)$$,
    'the baseline is recorded in state baselined, named baseline, without checksum');
SELECT results_eq(
    $$SELECT action, version, name FROM migrate.history$$,
    $$VALUES ('baseline', '5', 'baseline')$$,
    'the baseline is logged in history');
SELECT throws_ok($$SELECT migrate.baseline('6', 'again')$$, 'MG011', NULL,
    'a second baseline is refused with MG011');

SELECT is(migrate.apply('3', 'below the baseline', 'CREATE TABLE b3 (i int)'), 'already_applied',
    'a version below the baseline is already_applied');
SELECT ok(to_regclass('b3') IS NULL AND NOT EXISTS (SELECT FROM migrate.migrations WHERE version = '3'),
    '... its script did not run and it is not recorded');
SELECT is(migrate.apply('5', 'the baseline', 'CREATE TABLE b5 (i int)'), 'already_applied',
    'the baseline version itself is already_applied');
SELECT ok(to_regclass('b5') IS NULL, '... its script did not run');
SELECT is(migrate.apply('6', 'above the baseline', 'CREATE TABLE b6 (i int)'), 'applied',
    'a version above the baseline applies');
SELECT ok(to_regclass('b6') IS NOT NULL, '... its script ran');
SELECT is(migrate.apply('7', 'requires 3', 'CREATE TABLE b7 (i int)', requires => '{3}'), 'applied',
    'requires => {3} is satisfied by the baseline 5');
SELECT is(migrate.apply('8', 'requires 5', 'SELECT 1', requires => '{5}'), 'applied',
    'requires => {5} is satisfied by the baseline 5');
SELECT throws_ok($$SELECT migrate.apply('9', 'requires 8.5', 'SELECT 1', requires => '{8.5}')$$, 'MG002', NULL,
    'a requirement above the baseline must itself be applied: MG002');
SELECT throws_ok($$SELECT migrate.revert('5')$$, 'MG010', NULL, 'the baseline cannot be reverted: MG010');
SELECT throws_ok($$SELECT migrate.repair('5', 'SELECT 1', 'r')$$, 'MG010', NULL, 'the baseline cannot be repaired: MG010');

--
-- revert
--
SELECT is(
    migrate.apply('10', 'revertible', 'CREATE TABLE rv_t (i int)',
        'DROP TABLE rv_t; CREATE TABLE rv_down AS SELECT migrate.current_migration() AS v'),
    'applied', 'apply 10 with a down script');
SELECT is(migrate.revert('10'), 'reverted', 'revert(10) returns reverted');
SELECT ok(to_regclass('rv_t') IS NULL, 'the down script ran: rv_t is dropped');
SELECT is((SELECT v FROM rv_down), '10', 'inside the down script current_migration() is the version reverted');
SELECT is(migrate.current_migration(), NULL, 'current_migration() is NULL after the revert');
SELECT results_eq(
    $$SELECT state, reverted_by = session_user, reverted_at IS NOT NULL FROM migrate.migrations WHERE version = '10'$$,
    $$VALUES ('reverted', true, true)$$,
    'the row is in state reverted, with reverted_at and reverted_by');
SELECT is((SELECT state FROM migrate.status() WHERE version = '10'), 'reverted', 'status() shows it reverted');
SELECT is((SELECT count(*) FROM migrate.history WHERE version = '10' AND action = 'revert'), 1::bigint,
    'the revert is logged in history');
SELECT throws_ok($$SELECT migrate.revert('10')$$, 'MG010', NULL, 'reverting twice: MG010');
SELECT throws_ok($$SELECT migrate.revert('404')$$, 'MG010', NULL, 'reverting an unknown version: MG010');
SELECT throws_ok($$SELECT migrate.revert(NULL)$$, '22004', NULL, 'revert(NULL): 22004');

SELECT is(migrate.apply('11', 'no down script', 'CREATE TABLE nd_t (i int)'), 'applied', 'apply 11 without down script');
SELECT throws_ok($$SELECT migrate.revert('11')$$, 'MG008', NULL, 'reverting a migration without down script: MG008');
SELECT ok(to_regclass('nd_t') IS NOT NULL AND (SELECT state FROM migrate.migrations WHERE version = '11') = 'applied',
    'after MG008 the migration is still applied');

SELECT is(migrate.apply('12', 'base', 'CREATE TABLE dep_base (i int)', 'DROP TABLE dep_base'), 'applied', 'apply 12');
SELECT is(migrate.apply('13', 'dependent', 'CREATE TABLE dep_on (i int)', 'DROP TABLE dep_on', '{12}'), 'applied',
    'apply 13 requiring 12');
SELECT throws_ok($$SELECT migrate.revert('12')$$, 'MG009', NULL,
    'reverting a migration an applied one requires: MG009');
SELECT ok(to_regclass('dep_base') IS NOT NULL, 'after MG009 the down script has not run');
SELECT is(migrate.revert('13'), 'reverted', 'revert the dependent 13 first');
SELECT is(migrate.revert('12'), 'reverted', 'then 12 can be reverted');
SELECT throws_ok($$SELECT migrate.apply('14', 'requires 12', 'SELECT 1', requires => '{12}')$$, 'MG002', NULL,
    'a reverted migration does not satisfy requires: MG002');

SELECT is(migrate.apply('12', 'base v2', 'CREATE TABLE dep_base2 (i int)', 'DROP TABLE dep_base2'), 'applied',
    'a reverted version can be applied again, with a different script');
SELECT results_eq(
    $$SELECT state, name, checksum, reverted_at FROM migrate.migrations WHERE version = '12'$$,
    $$VALUES ('applied', 'base v2', migrate.checksum('CREATE TABLE dep_base2 (i int)'), NULL::timestamptz)$$,
    'it is applied again with the new name and checksum');

--
-- repair
--
SELECT is(migrate.apply('20', 'to repair', 'CREATE TABLE rp_t (i int);'), 'applied', 'apply 20');
SELECT throws_ok($$SELECT migrate.apply('20', 'to repair', 'CREATE TABLE rp_t (i int); -- edited')$$, 'MG001', NULL,
    'the edited script is refused with MG001');
SELECT is(migrate.repair('20', 'CREATE TABLE rp_t (i int); -- edited', 'only a comment was added'), 'repaired',
    'repair returns repaired');
SELECT is(migrate.apply('20', 'to repair', 'CREATE TABLE rp_t (i int); -- edited'), 'already_applied',
    'after the repair the edited script is already_applied');
SELECT results_eq(
    $$SELECT checksum, script FROM migrate.migrations WHERE version = '20'$$,
    $$VALUES (migrate.checksum('CREATE TABLE rp_t (i int); -- edited'), 'CREATE TABLE rp_t (i int); -- edited')$$,
    'the recorded checksum and script are those of the edited script');
SELECT results_eq(
    $$SELECT previous_checksum, checksum, details->>'reason' FROM migrate.history WHERE version = '20' AND action = 'repair'$$,
    $$VALUES (migrate.checksum('CREATE TABLE rp_t (i int);'), migrate.checksum('CREATE TABLE rp_t (i int); -- edited'), 'only a comment was added')$$,
    'history has a repair row with previous_checksum, checksum and the reason');
SELECT is(migrate.repair('20', E'CREATE TABLE rp_t (i int); -- edited', 'again'), 'unchanged',
    'repairing to the same checksum returns unchanged');
SELECT throws_ok($$SELECT migrate.repair('404', 'SELECT 1', 'r')$$, 'MG010', NULL, 'repair of an unknown version: MG010');
SELECT throws_ok($$SELECT migrate.repair('10', 'SELECT 1', 'r')$$, 'MG010', NULL, 'repair of a reverted version: MG010');
SELECT throws_ok($$SELECT migrate.repair('20', 'SELECT 2', NULL)$$, '22004', NULL, 'repair with a NULL reason: 22004');
SELECT throws_ok($$SELECT migrate.repair('20', 'SELECT 2', '')$$, '22023', NULL, 'repair with an empty reason: 22023');
SELECT throws_ok($$SELECT migrate.repair('20', 'CREATE TABL rp_t (i int)', 'r')$$, '42601', NULL,
    'repair with a syntactically invalid script: 42601');
-- Regression: repair used to only parse the script, accepting a COMMIT that
-- migrate.apply refuses (MG005), so the repaired record could never match.
SELECT throws_ok($$SELECT migrate.repair('20', 'CREATE TABLE rp_t (i int); COMMIT;', 'r')$$, 'MG005', NULL,
    'repair with a script containing COMMIT: MG005, like apply');

SELECT * FROM finish();
ROLLBACK;
