-- migrate.apply refusals: argument checks, syntax errors (with the statement
-- and line in the CONTEXT), transaction control, non-transactional and
-- unsupported statements, requires, runtime errors, read-only transactions.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(68);

-- nextval() is not rolled back: shows whether any script statement ran
CREATE SEQUENCE tap_seq;

-- run sql, return the SQLSTATE, message and context of the error it raises
CREATE FUNCTION pg_temp.error_of(sql text, OUT state text, OUT msg text, OUT ctx text)
LANGUAGE plpgsql AS $f$
BEGIN
    EXECUTE sql;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            ctx = PG_EXCEPTION_CONTEXT;
END
$f$;

--
-- NULL, empty and blank arguments
--
SELECT throws_ok($$SELECT migrate.apply(NULL, 'n', 'SELECT 1')$$, '22004', NULL, 'NULL version: 22004');
SELECT throws_ok($$SELECT migrate.apply('1', NULL, 'SELECT 1')$$, '22004', NULL, 'NULL name: 22004');
SELECT throws_ok($$SELECT migrate.apply('1', 'n', NULL)$$, '22004', NULL, 'NULL script: 22004');
SELECT throws_ok($$SELECT migrate.apply('', 'n', 'SELECT 1')$$, '22023', NULL, 'empty version: 22023');
SELECT throws_ok($$SELECT migrate.apply('  ', 'n', 'SELECT 1')$$, '22023', NULL, 'blank version: 22023');
SELECT throws_ok($$SELECT migrate.apply('1', '', 'SELECT 1')$$, '22023', NULL, 'empty name: 22023');
SELECT throws_ok($$SELECT migrate.apply('1', E' \t', 'SELECT 1')$$, '22023', NULL, 'blank name: 22023');
SELECT throws_ok($$SELECT migrate.apply('1', 'n', '')$$, '22023', NULL, 'empty script: 22023');
SELECT throws_ok($$SELECT migrate.apply('1', 'n', E' \n\t\r\n ')$$, '22023', NULL, 'blank script: 22023');
SELECT throws_ok($$SELECT migrate.apply('1', 'n', E'-- only a comment; with a semicolon\n/* and ; another */\n')$$,
    '22023', NULL, 'a script with only comments: 22023');
SELECT throws_ok($$SELECT migrate.apply('1', 'n', ' ; ;; ')$$, '22023', NULL, 'a script of empty statements: 22023');
SELECT throws_ok($$SELECT migrate.apply('1', 'n', 'SELECT 1', '')$$, '22023', NULL, 'empty down_script: 22023');
SELECT throws_ok($$SELECT migrate.apply('1', 'n', 'SELECT 1', '-- nothing')$$, '22023', NULL,
    'a down_script with only comments: 22023');
SELECT throws_ok($$SELECT migrate.apply('1', 'n', 'SELECT 1', verify_script => ' ')$$, '22023', NULL,
    'blank verify_script: 22023');
SELECT throws_ok($$SELECT migrate.apply('1', 'n', 'SELECT 1', requires => NULL)$$, '22004', NULL,
    'NULL requires: 22004');
SELECT throws_ok($$SELECT migrate.apply('2', 'n', 'SELECT 1', requires => ARRAY['1', NULL])$$, '22004', NULL,
    'requires with a NULL element: 22004');
SELECT throws_ok($$SELECT migrate.apply('2', 'n', 'SELECT 1', requires => ARRAY['1', ''])$$, '22023', NULL,
    'requires with an empty element: 22023');
SELECT throws_ok($$SELECT migrate.apply('2', 'n', 'SELECT 1', requires => ARRAY['a b'])$$, '22023', NULL,
    'requires with an invalid version: 22023');
SELECT throws_ok($$SELECT migrate.apply('2', 'n', 'SELECT 1', requires => ARRAY['1', '2'])$$, '22023', NULL,
    'a migration requiring itself: 22023');
SELECT is((SELECT count(*) FROM migrate.migrations), 0::bigint, 'none of the refused calls recorded anything');

--
-- syntax errors: 42601 with "statement N (line L) of the script" in the CONTEXT
--
CREATE TEMP TABLE caught (label text PRIMARY KEY, state text, ctx text);
DO $do$
DECLARE
    s text;
    c text;
BEGIN
    PERFORM migrate.apply('1', 'syntax', E'CREATE TABLE syn_t (id int);\nSELECT 1;\n\nSELEC 2;\nSELECT 3;');
    INSERT INTO caught VALUES ('simple', NULL, NULL);
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, c = PG_EXCEPTION_CONTEXT;
    INSERT INTO caught VALUES ('simple', s, c);
END
$do$;
SELECT is((SELECT state FROM caught WHERE label = 'simple'), '42601', 'a syntax error raises 42601');
-- Regression: called through SPI (a DO block, any PL/pgSQL function, pgTAP),
-- SPI's error callback used to move the syntax error's position into the
-- calling statement before script.c saw it, losing "statement N (line L)".
SELECT matches((SELECT ctx FROM caught WHERE label = 'simple'),
    '(^|\n)statement 3 \(line 4\) of the script(\n|$)',
    'caught in a DO block, the CONTEXT names statement 3 (line 4) of the script');
SELECT ok(to_regclass('syn_t') IS NULL, 'nothing of a script with a syntax error ran');

-- the same at top level, in a separate session through dblink
CREATE EXTENSION dblink;
CREATE FUNCTION pg_temp.toplevel_error_of(sql text, OUT state text, OUT msg text, OUT ctx text)
LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM dblink_exec(format('dbname=%s port=%s host=%s', current_database(),
                               current_setting('port'),
                               split_part(current_setting('unix_socket_directories'), ',', 1)),
                        sql);
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            ctx = PG_EXCEPTION_CONTEXT;
END
$f$;
SELECT is(
    (pg_temp.toplevel_error_of($t$SELECT migrate.apply('1', 'syntax', E'CREATE TABLE syn_t (id int);\nSELECT 1;\n\nSELEC 2;\nSELECT 3;')$t$)).state,
    '42601', 'top level: a syntax error raises 42601');
SELECT matches(
    (pg_temp.toplevel_error_of($t$SELECT migrate.apply('1', 'syntax', E'CREATE TABLE syn_t (id int);\nSELECT 1;\n\nSELEC 2;\nSELECT 3;')$t$)).ctx,
    '(^|\n)statement 3 \(line 4\) of the script(\n|$)',
    'top level: the CONTEXT names statement 3 (line 4) of the script');
SELECT matches(
    (pg_temp.toplevel_error_of($t$SELECT migrate.apply('1', 'syntax', $s$/* ; ; */ SELECT $$;$$, E'\';';
-- a comment; SELEC
DO $$ BEGIN PERFORM 1; END $$;
CREATE FUNCTION syn_f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END;
SELECT 1;
CREATE TABL syn_t2 (id int);$s$)$t$)).ctx,
    '(^|\n)statement 5 \(line 6\) of the script(\n|$)',
    'statement counting skips ; in comments, literals, dollar quotes, DO and BEGIN ATOMIC bodies');
SELECT matches(
    (pg_temp.toplevel_error_of($t$SELECT migrate.apply('1', 'syntax', E'-- é ü ä\nSELECT ''é'';\nSELECT ''ä'',\n  FROM;')$t$)).ctx,
    '(^|\n)statement 2 \(line 4\) of the script(\n|$)',
    'with multibyte characters the CONTEXT names statement 2 and the line of the error (4)');
SELECT matches(
    (pg_temp.toplevel_error_of($t$SELECT migrate.apply('1', 'syntax', E'SELECT 1;\nSELECT ''unterminated')$t$)).ctx,
    '(^|\n)statement 2 \(line 2\) of the script(\n|$)',
    'an unterminated literal is located too');
SELECT is(
    (pg_temp.error_of($t$SELECT migrate.apply('1', 'syntax', 'CREATE TABLE syn_t (id int)', E'DROP TABLE syn_t;\nDROPP TABLE x;')$t$)).state,
    '42601', 'a syntax error in the down script raises 42601 at apply time');
SELECT matches(
    (pg_temp.toplevel_error_of($t$SELECT migrate.apply('1', 'syntax', 'CREATE TABLE syn_t (id int)', E'DROP TABLE syn_t;\nDROPP TABLE x;')$t$)).ctx,
    '(^|\n)statement 2 \(line 2\) of the down script(\n|$)',
    'the CONTEXT names statement 2 (line 2) of the down script');
SELECT matches(
    (pg_temp.toplevel_error_of($t$SELECT migrate.apply('1', 'syntax', 'CREATE TABLE syn_t (id int)', verify_script => E'SELECT true;\n\nSELECT true FROM FROM;')$t$)).ctx,
    '(^|\n)statement 2 \(line 3\) of the verify script(\n|$)',
    'the CONTEXT names statement 2 (line 3) of the verify script');
SELECT is((SELECT count(*) FROM dblink(format('dbname=%s port=%s host=%s', current_database(),
                                              current_setting('port'),
                                              split_part(current_setting('unix_socket_directories'), ',', 1)),
                                       'SELECT version FROM migrate.migrations') AS r(version text)),
    0::bigint, 'the top-level sessions recorded nothing');

--
-- transaction control: MG005 before anything runs
--
SELECT throws_ok($$SELECT migrate.apply('1', 'txn', $s$SELECT nextval('tap_seq'); CREATE TABLE txn_t (i int); COMMIT;$s$)$$,
    'MG005', NULL, 'COMMIT in a script: MG005');
SELECT throws_ok($$SELECT migrate.apply('1', 'txn', $s$SELECT nextval('tap_seq'); BEGIN; CREATE TABLE txn_t (i int);$s$)$$,
    'MG005', NULL, 'BEGIN in a script: MG005');
SELECT throws_ok($$SELECT migrate.apply('1', 'txn', $s$SELECT nextval('tap_seq'); START TRANSACTION;$s$)$$,
    'MG005', NULL, 'START TRANSACTION in a script: MG005');
SELECT throws_ok($$SELECT migrate.apply('1', 'txn', $s$SELECT nextval('tap_seq'); CREATE TABLE txn_t (i int); ROLLBACK;$s$)$$,
    'MG005', NULL, 'ROLLBACK in a script: MG005');
SELECT throws_ok($$SELECT migrate.apply('1', 'txn', $s$SELECT nextval('tap_seq'); SAVEPOINT s1; CREATE TABLE txn_t (i int);$s$)$$,
    'MG005', NULL, 'SAVEPOINT in a script: MG005');
SELECT throws_ok($$SELECT migrate.apply('1', 'txn', 'CREATE TABLE txn_t (i int)', 'DROP TABLE txn_t; COMMIT')$$,
    'MG005', NULL, 'COMMIT in the down script: MG005 at apply time');
SELECT ok(to_regclass('txn_t') IS NULL, 'the CREATE TABLE before the transaction control did not survive');

--
-- statements that cannot run in a transaction block: MG006 before anything runs
--
SELECT throws_ok($$SELECT migrate.apply('1', 'ntx', $s$SELECT nextval('tap_seq'); CREATE INDEX CONCURRENTLY ntx_i ON widgets (id);$s$)$$,
    'MG006', NULL, 'CREATE INDEX CONCURRENTLY: MG006');
SELECT throws_ok($$SELECT migrate.apply('1', 'ntx', $s$SELECT nextval('tap_seq'); DROP INDEX CONCURRENTLY ntx_i;$s$)$$,
    'MG006', NULL, 'DROP INDEX CONCURRENTLY: MG006');
SELECT throws_ok($$SELECT migrate.apply('1', 'ntx', $s$SELECT nextval('tap_seq'); REINDEX INDEX CONCURRENTLY ntx_i;$s$)$$,
    'MG006', NULL, 'REINDEX INDEX CONCURRENTLY: MG006');
SELECT throws_ok($$SELECT migrate.apply('1', 'ntx', $s$SELECT nextval('tap_seq'); REINDEX (CONCURRENTLY) TABLE widgets;$s$)$$,
    'MG006', NULL, 'REINDEX (CONCURRENTLY) TABLE: MG006');
SELECT throws_ok($$SELECT migrate.apply('1', 'ntx', $s$SELECT nextval('tap_seq'); VACUUM;$s$)$$,
    'MG006', NULL, 'VACUUM: MG006');
SELECT throws_ok($$SELECT migrate.apply('1', 'ntx', $s$SELECT nextval('tap_seq'); VACUUM (ANALYZE) widgets;$s$)$$,
    'MG006', NULL, 'VACUUM (ANALYZE) of a table: MG006');
SELECT throws_ok($$SELECT migrate.apply('1', 'ntx', $s$SELECT nextval('tap_seq'); ALTER SYSTEM SET work_mem = '8MB';$s$)$$,
    'MG006', NULL, 'ALTER SYSTEM: MG006');
SELECT throws_ok($$SELECT migrate.apply('1', 'ntx', $s$SELECT nextval('tap_seq'); CREATE DATABASE mg_tap_never;$s$)$$,
    'MG006', NULL, 'CREATE DATABASE: MG006');
SELECT throws_ok($$SELECT migrate.apply('1', 'ntx', $s$SELECT nextval('tap_seq'); DROP DATABASE mg_tap_never;$s$)$$,
    'MG006', NULL, 'DROP DATABASE: MG006');
SELECT throws_ok($$SELECT migrate.apply('1', 'ntx', $s$SELECT nextval('tap_seq'); ALTER TABLE parts DETACH PARTITION parts_1 CONCURRENTLY;$s$)$$,
    'MG006', NULL, 'ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY: MG006');
SELECT throws_ok($$SELECT migrate.apply('1', 'ntx', $s$SELECT nextval('tap_seq'); CREATE TABLESPACE mg_tap_ts LOCATION '/nonexistent';$s$)$$,
    'MG006', NULL, 'CREATE TABLESPACE: MG006');
-- a down script that cannot run in a transaction is stored (pg_migrate down runs it
-- outside one); revert refuses it, which also rolls back the apply here
CREATE FUNCTION pg_temp.apply_then_revert() RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
	PERFORM migrate.apply('1', 'ntx', 'CREATE TABLE ntx_t (i int)', 'VACUUM ntx_t');
	PERFORM migrate.revert('1');
END
$f$;
SELECT throws_ok($$SELECT pg_temp.apply_then_revert()$$,
    'MG006', NULL, 'VACUUM in the down script: stored by apply, MG006 at revert');

--
-- statements SPI cannot run: MG014
--
SELECT throws_ok($$SELECT migrate.apply('1', 'copy', $s$SELECT nextval('tap_seq'); CREATE TABLE copy_t (i int); COPY copy_t FROM STDIN;$s$)$$,
    'MG014', NULL, 'COPY ... FROM STDIN: MG014');
SELECT throws_ok($$SELECT migrate.apply('1', 'copy', 'CREATE TABLE copy_t (i int)', 'COPY copy_t FROM STDIN')$$,
    'MG014', NULL, 'COPY ... FROM STDIN in the down script: MG014 at apply time');

SELECT is(nextval('tap_seq'), 1::bigint,
    'no statement of any refused script ran (transaction control, non-transactional, COPY)');

--
-- ANALYZE is allowed
--
SELECT is(migrate.apply('1', 'analyze', 'CREATE TABLE an_t (i int); INSERT INTO an_t VALUES (1); ANALYZE an_t'),
    'applied', 'ANALYZE runs inside a migration');

--
-- requires
--
SELECT is(
    (pg_temp.error_of($$SELECT migrate.apply('10', 'needs 2 and 3', 'SELECT 1', requires => '{2,3}')$$)).state,
    'MG002', 'missing requirements: MG002');
SELECT matches(
    (pg_temp.error_of($$SELECT migrate.apply('10', 'needs 2 and 3', 'SELECT 1', requires => '{2,3}')$$)).msg,
    '\m2, 3\M', 'the MG002 message names the missing versions');
SELECT is(migrate.apply('2', 'two', 'SELECT 1'), 'applied', 'apply 2');
SELECT matches(
    (pg_temp.error_of($$SELECT migrate.apply('10', 'needs 2 and 3', 'SELECT 1', requires => '{2,3}')$$)).msg,
    '\m3\M[^,]*$', 'with 2 applied the MG002 message still names 3');
SELECT unalike(
    (pg_temp.error_of($$SELECT migrate.apply('10', 'needs 2 and 3', 'SELECT 1', requires => '{2,3}')$$)).msg,
    '%2, %', '... and no longer names 2');
SELECT is(migrate.apply('3', 'three', 'SELECT 1'), 'applied', 'apply 3');
SELECT is(migrate.apply('10', 'needs 2 and 3', 'SELECT 1', requires => '{2,3}'), 'applied',
    'with its requirements applied the migration applies');

--
-- runtime errors name the statement and its line
--
SELECT is(
    (pg_temp.error_of($t$SELECT migrate.apply('11', 'runtime', E'CREATE TABLE rt_t (i int);\nINSERT INTO rt_t VALUES (1);\nSELECT 1/0;')$t$)).state,
    '22012', 'a failing statement raises its own error');
SELECT matches(
    (pg_temp.error_of($t$SELECT migrate.apply('11', 'runtime', E'CREATE TABLE rt_t (i int);\nINSERT INTO rt_t VALUES (1);\nSELECT 1/0;')$t$)).ctx,
    '(^|\n)script statement 3 \(line 3\) of migration 11(\n|$)',
    'its CONTEXT names script statement 3 (line 3) of migration 11');
SELECT ok(to_regclass('rt_t') IS NULL AND NOT EXISTS (SELECT FROM migrate.migrations WHERE version = '11'),
    'nothing of the failed migration remains');

-- Regression: RawStmt.stmt_location starts right after the previous ';', so
-- comments before a statement used to be counted as part of it.
SELECT matches(
    (pg_temp.error_of($t$SELECT migrate.apply('11', 'runtime', E'-- migration 11: header comment\n-- second comment line\nSELECT 1/0;')$t$)).ctx,
    '(^|\n)script statement 1 \(line 3\) of migration 11(\n|$)',
    'a runtime error after header comments names the line of the statement (3)');
-- Regression: same cause, in the MG005/MG006/MG014 messages.
SELECT matches(
    (pg_temp.error_of($t$SELECT migrate.apply('11', 'txn', E'CREATE TABLE t11 (i int);\n-- now commit\nCOMMIT;')$t$)).msg,
    'statement 2 \(line 3\)',
    'the MG005 message names the line of the COMMIT (3), not of the comment before it');

--
-- read-only transactions
--
SELECT throws_ok(
    $$SET LOCAL transaction_read_only = on; SELECT migrate.apply('12', 'read only', 'CREATE TABLE ro_t (i int)')$$,
    '25006', NULL, 'apply in a read-only transaction: 25006');

SELECT * FROM finish();
ROLLBACK;
