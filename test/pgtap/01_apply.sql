-- migrate.apply: applying, already_applied, checksum mismatch, checksums,
-- script splitting with PostgreSQL's parser, the caller's transaction,
-- migrate.current_migration() and nested calls.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(42);

-- a sequence is not transactional: nextval() from a script that ran stays
-- visible even after the failing apply was rolled back
CREATE SEQUENCE tap_seq;

--
-- apply, already_applied
--
SELECT is(
    migrate.apply('1', 'create widgets',
        $s$CREATE TABLE widgets (id serial PRIMARY KEY, name text NOT NULL);
INSERT INTO widgets (name) VALUES ('a'), ('b'), ('c');$s$),
    'applied',
    'apply of a new version returns applied');
SELECT ok(to_regclass('public.widgets') IS NOT NULL, 'the script ran: table widgets exists');
SELECT is((SELECT count(*) FROM widgets), 3::bigint, 'the script inserted 3 rows');
SELECT is((SELECT state FROM migrate.migrations WHERE version = '1'), 'applied',
    'migrations row is in state applied');
SELECT is((SELECT checksum FROM migrate.migrations WHERE version = '1'),
    migrate.checksum($s$CREATE TABLE widgets (id serial PRIMARY KEY, name text NOT NULL);
INSERT INTO widgets (name) VALUES ('a'), ('b'), ('c');$s$),
    'recorded checksum is migrate.checksum(script)');

SELECT is(
    migrate.apply('1', 'create widgets',
        $s$CREATE TABLE widgets (id serial PRIMARY KEY, name text NOT NULL);
INSERT INTO widgets (name) VALUES ('a'), ('b'), ('c');$s$),
    'already_applied',
    'same version and same checksum returns already_applied');
SELECT is((SELECT count(*) FROM widgets), 3::bigint,
    'already_applied runs nothing: the INSERT did not run twice');
SELECT is((SELECT count(*) FROM migrate.history WHERE version = '1'), 1::bigint,
    'already_applied writes no history row');

--
-- same version, different checksum: MG001, nothing runs
--
SELECT throws_ok(
    $t$SELECT migrate.apply('1', 'create widgets', $s$SELECT nextval('tap_seq');
INSERT INTO widgets (name) VALUES ('d');$s$)$t$,
    'MG001', NULL,
    'same version with a different checksum is refused with MG001');
SELECT is(nextval('tap_seq'), 1::bigint,
    'MG001 is raised before any statement of the script runs');
SELECT is((SELECT checksum FROM migrate.migrations WHERE version = '1'),
    migrate.checksum($s$CREATE TABLE widgets (id serial PRIMARY KEY, name text NOT NULL);
INSERT INTO widgets (name) VALUES ('a'), ('b'), ('c');$s$),
    'MG001 leaves the recorded checksum alone');

--
-- checksums: sha256 hex, CRLF normalised to LF
--
SELECT is(migrate.checksum(E'a\r\nb'), migrate.checksum(E'a\nb'),
    'checksum normalises CRLF to LF');
SELECT is(migrate.checksum(E'a\nb'), encode(sha256(convert_to(E'a\nb', 'UTF8')), 'hex'),
    'checksum is the sha256 hex of the script');
SELECT is(migrate.checksum(E'x\r\ny\r\nz'), encode(sha256(convert_to(E'x\ny\nz', 'UTF8')), 'hex'),
    'every CRLF is normalised');
SELECT is(migrate.checksum(E'a\rb'), encode(sha256(convert_to(E'a\rb', 'UTF8')), 'hex'),
    'a lone CR is kept');
SELECT is(migrate.checksum(''), encode(sha256(''::bytea), 'hex'),
    'checksum of the empty string');
SELECT isnt(migrate.checksum('SELECT 1'), migrate.checksum('SELECT 1 '),
    'any other byte changes the checksum');

SELECT is(
    migrate.apply('2', 'crlf', E'INSERT INTO widgets (name) VALUES (''crlf'');\r\nSELECT 1;\r\n'),
    'applied', 'a script with CRLF line ends applies');
SELECT is((SELECT checksum FROM migrate.migrations WHERE version = '2'),
    migrate.checksum(E'INSERT INTO widgets (name) VALUES (''crlf'');\nSELECT 1;\n'),
    'its recorded checksum is that of the LF variant');
SELECT is(
    migrate.apply('2', 'crlf', E'INSERT INTO widgets (name) VALUES (''crlf'');\nSELECT 1;\n'),
    'already_applied', 'the LF variant of an applied CRLF script is already_applied');
SELECT is((SELECT count(*) FROM widgets WHERE name = 'crlf'), 1::bigint,
    'the LF variant did not run again');

--
-- scripts are split with PostgreSQL's parser
--
SELECT is(
    migrate.apply('3', 'parser', $script$CREATE TABLE parse_t (id int, note text);
-- a line comment; with a semicolon
/* a block comment; with; semicolons */
INSERT INTO parse_t VALUES (1, E'semi;colon \'quoted\'');
INSERT INTO parse_t VALUES (2, $$dollar; quoted$$);
INSERT INTO parse_t VALUES (3, $tag$nested $$ ; $tag$);
DO $$
BEGIN
    INSERT INTO parse_t VALUES (4, 'from a DO; block');
END
$$;
CREATE FUNCTION parse_f(i int) RETURNS int LANGUAGE plpgsql AS $body$
BEGIN
    RETURN i + 1;  -- inner ;
END;
$body$;
CREATE FUNCTION parse_atomic(i int) RETURNS int LANGUAGE sql
BEGIN ATOMIC
    SELECT 1;
    SELECT CASE WHEN i > 0 THEN i * 2 ELSE 0 END;
END;
SELECT 'last statement without a semicolon'$script$),
    'applied',
    'a script with dollar quotes, comments with ;, E'''' strings, DO, function bodies and BEGIN ATOMIC applies');
SELECT is((SELECT statement_count FROM migrate.migrations WHERE version = '3'), 8,
    'the script was split into exactly 8 statements');
SELECT results_eq(
    'SELECT id, note FROM parse_t ORDER BY id',
    $v$VALUES (1, 'semi;colon ''quoted'''), (2, 'dollar; quoted'), (3, 'nested $$ ; '), (4, 'from a DO; block')$v$,
    'literals, dollar quotes and the DO block ran intact');
SELECT is(parse_f(1), 2, 'the plpgsql function body was kept whole');
SELECT is(parse_atomic(3), 6, 'the BEGIN ATOMIC body was kept whole');

--
-- apply runs in the caller's transaction
--
SAVEPOINT before_apply;
SELECT migrate.apply('4', 'rolled back', 'CREATE TABLE sp_t (i int)') AS sp_result \gset
SELECT to_regclass('public.sp_t') IS NOT NULL
       AND EXISTS (SELECT FROM migrate.migrations WHERE version = '4')
       AND EXISTS (SELECT FROM migrate.history WHERE version = '4') AS sp_inside \gset
ROLLBACK TO SAVEPOINT before_apply;
SELECT is(:'sp_result'::text, 'applied', 'apply inside a savepoint returned applied');
SELECT ok(:'sp_inside'::boolean, 'before the rollback the table, the migrations row and the history row exist');
SELECT ok(to_regclass('public.sp_t') IS NULL, 'after ROLLBACK TO SAVEPOINT the table is gone');
SELECT is((SELECT count(*) FROM migrate.migrations WHERE version = '4'), 0::bigint,
    'after ROLLBACK TO SAVEPOINT the migrations row is gone');
SELECT is((SELECT count(*) FROM migrate.history WHERE version = '4'), 0::bigint,
    'after ROLLBACK TO SAVEPOINT the history row is gone');
SELECT is(migrate.apply('4', 'rolled back', 'CREATE TABLE sp_t (i int)'), 'applied',
    'the rolled-back version can be applied again');

--
-- migrate.current_migration()
--
SELECT is(migrate.current_migration(), NULL, 'current_migration() is NULL outside a migration');
SELECT is(
    migrate.apply('5', 'current', 'CREATE TABLE cm_t AS SELECT migrate.current_migration() AS v'),
    'applied', 'a script reading current_migration() applies');
SELECT is((SELECT v FROM cm_t), '5', 'inside the script current_migration() is the version being applied');
SELECT is(migrate.current_migration(), NULL, 'current_migration() is NULL again after the apply');

--
-- nested calls from inside a script: MG012
--
SELECT throws_ok(
    $t$SELECT migrate.apply('6', 'nested', $s$SELECT migrate.apply('7', 'inner', 'SELECT 1')$s$)$t$,
    'MG012', NULL, 'migrate.apply from inside a script is refused with MG012');
SELECT throws_ok(
    $t$SELECT migrate.apply('6', 'nested', $s$SELECT migrate.revert('1')$s$)$t$,
    'MG012', NULL, 'migrate.revert from inside a script is refused with MG012');
SELECT throws_ok(
    $t$SELECT migrate.apply('6', 'nested', $s$SELECT migrate.baseline('0')$s$)$t$,
    'MG012', NULL, 'migrate.baseline from inside a script is refused with MG012');
SELECT throws_ok(
    $t$SELECT migrate.apply('6', 'nested', $s$SELECT migrate.repair('1', 'SELECT 1', 'r')$s$)$t$,
    'MG012', NULL, 'migrate.repair from inside a script is refused with MG012');
SELECT is(migrate.current_migration(), NULL, 'current_migration() is NULL after a failed apply');
SELECT is((SELECT count(*) FROM migrate.migrations WHERE version IN ('6', '7')), 0::bigint,
    'neither the outer nor the inner migration was recorded');

SELECT * FROM finish();
ROLLBACK;
