-- Versions: natural order (digit runs compare numerically), validation,
-- status() order, and out-of-order applies.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(37);

--
-- version_compare
--
SELECT is(migrate.version_compare('2', '10'), -1, 'version_compare(2, 10) = -1');
SELECT is(migrate.version_compare('10', '2'), 1, 'version_compare(10, 2) = 1');
SELECT is(migrate.version_compare('1.2.9', '1.2.10'), -1, 'version_compare(1.2.9, 1.2.10) = -1');
SELECT is(migrate.version_compare('20251014220000', '2'), 1, 'version_compare(20251014220000, 2) = 1');
SELECT is(migrate.version_compare('1.2.10', '1.2.10'), 0, 'equal versions compare 0');
SELECT is(migrate.version_compare('V3', 'V3'), 0, 'equal non-numeric versions compare 0');
SELECT is(migrate.version_compare('V2', 'V10'), -1, 'version_compare(V2, V10) = -1');
SELECT is(migrate.version_compare('1', '1.0'), -1, 'a version sorts before its own extension: 1 < 1.0');
SELECT is(migrate.version_compare('2025_01_02', '2025_1_10'), -1, 'every digit run compares numerically');
SELECT is(migrate.version_compare(NULL, '1'), NULL, 'version_compare is strict');

--
-- validation
--
SELECT throws_ok($$SELECT migrate.apply('1 2', 'n', 'SELECT 1')$$, '22023', NULL, 'a version with a blank: 22023');
SELECT throws_ok($$SELECT migrate.apply(E'1\t2', 'n', 'SELECT 1')$$, '22023', NULL, 'a version with a tab: 22023');
SELECT throws_ok($$SELECT migrate.apply(E'1\n', 'n', 'SELECT 1')$$, '22023', NULL, 'a version with a newline: 22023');
SELECT throws_ok($$SELECT migrate.apply('1' || chr(1), 'n', 'SELECT 1')$$, '22023', NULL, 'a version with a control character: 22023');
SELECT throws_ok($$SELECT migrate.apply('1' || chr(127), 'n', 'SELECT 1')$$, '22023', NULL, 'a version with DEL: 22023');
SELECT throws_ok($$SELECT migrate.apply(repeat('a', 201), 'n', 'SELECT 1')$$, '22023', NULL, 'a version of 201 bytes: 22023');
SELECT throws_ok($$SELECT migrate.apply(repeat('é', 101), 'n', 'SELECT 1')$$, '22023', NULL,
    'a version of 101 two-byte characters (202 bytes): 22023');
SELECT is((SELECT count(*) FROM migrate.migrations), 0::bigint, 'no invalid version was recorded');

--
-- status() in natural order
--
SELECT is(migrate.apply('1', 'one', 'SELECT 1'), 'applied', 'apply 1');
SELECT is(migrate.apply('1.2.9', 'one two nine', 'SELECT 1'), 'applied', 'apply 1.2.9');
SELECT is(migrate.apply('1.2.10', 'one two ten', 'SELECT 1'), 'applied', 'apply 1.2.10 (after 1.2.9: in order)');
SELECT is(migrate.apply('2', 'two', 'SELECT 1'), 'applied', 'apply 2');
SELECT is(migrate.apply('10', 'ten', 'SELECT 1'), 'applied', 'apply 10 (after 2: in order)');
SELECT is(migrate.apply('20251014220000', 'timestamp', 'SELECT 1'), 'applied', 'apply 20251014220000');
SELECT results_eq(
    $$SELECT version FROM migrate.status()$$,
    $$VALUES ('1'), ('1.2.9'), ('1.2.10'), ('2'), ('10'), ('20251014220000')$$,
    'status() lists the versions in natural order');

--
-- out of order
--
SELECT throws_ok($$SELECT migrate.apply('3', 'three', 'CREATE TABLE ooo_t (i int)')$$, 'MG003', NULL,
    'a version lower than the highest applied: MG003');
SELECT ok(to_regclass('ooo_t') IS NULL AND NOT EXISTS (SELECT FROM migrate.migrations WHERE version = '3'),
    'after MG003 nothing was applied');
SELECT is(migrate.apply('2', 'two', 'SELECT 1'), 'already_applied',
    're-applying an applied lower version is already_applied, not MG003');
SET LOCAL migrate.allow_out_of_order = on;
SELECT is(migrate.apply('3', 'three', 'CREATE TABLE ooo_t (i int)'), 'applied',
    'with migrate.allow_out_of_order = on the lower version applies');
SELECT ok(to_regclass('ooo_t') IS NOT NULL, '... its script ran');
SELECT results_eq(
    $$SELECT version, out_of_order FROM migrate.status()$$,
    $$VALUES ('1', false), ('1.2.9', false), ('1.2.10', false), ('2', false), ('3', true), ('10', false), ('20251014220000', false)$$,
    'status() shows it in natural order, flagged out_of_order');
SELECT is((SELECT (details->>'out_of_order')::boolean FROM migrate.history WHERE version = '3'), true,
    'the history details flag it out_of_order');
SET LOCAL migrate.allow_out_of_order = off;
SELECT throws_ok($$SELECT migrate.apply('4', 'four', 'SELECT 1')$$, 'MG003', NULL,
    'with migrate.allow_out_of_order = off again: MG003');

-- a reverted higher version does not make a lower one out of order
SELECT is(migrate.apply('30000000000000', 'later', 'SELECT 1', 'SELECT 1'), 'applied', 'apply 30000000000000');
SELECT is(migrate.revert('30000000000000'), 'reverted', 'revert it');
SELECT is(migrate.apply('20251014220001', 'next', 'SELECT 1'), 'applied',
    'a version below a reverted one is not out of order');

--
-- the longest valid versions
--
SELECT is(migrate.apply(repeat('é', 100), 'long', 'SELECT 1'), 'applied', 'a version of exactly 200 bytes applies');

SELECT * FROM finish();
ROLLBACK;
