-- The server side of the pg_migrate client: migrate.script_statements()
-- (statements split by PostgreSQL's parser with their text, line and class,
-- index and table of CREATE INDEX CONCURRENTLY) and migrate.record_reverted()
-- (records a down script the client ran outside a transaction, with the
-- checks, state, history entry, chain and event of migrate.revert).
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(37);

--
-- script_statements
--
CREATE TEMP TABLE st AS
SELECT * FROM migrate.script_statements(E'-- a comment\nALTER TABLE a ADD COLUMN b int;\n\nCREATE INDEX CONCURRENTLY IF NOT EXISTS a_b_idx ON s.a (b);\n'
                                        'CREATE INDEX CONCURRENTLY ON a (lower(c));\nSELECT $x$;$x$; VACUUM a;\nBEGIN;\nCOPY a FROM STDIN;');
SELECT is((SELECT count(*) FROM st), 7::bigint, 'seven statements');
SELECT is((SELECT array_agg(statement_no ORDER BY statement_no) FROM st), '{1,2,3,4,5,6,7}'::int[], 'numbered from 1');
SELECT is((SELECT array_agg(line ORDER BY statement_no) FROM st), '{2,4,5,6,6,7,8}'::int[], 'line of each statement, comments skipped');
SELECT is((SELECT array_agg(statement_class ORDER BY statement_no) FROM st),
          '{transactional,non_transactional,non_transactional,transactional,non_transactional,transaction_control,unsupported}'::text[],
          'classes');
SELECT is((SELECT statement FROM st WHERE statement_no = 1), 'ALTER TABLE a ADD COLUMN b int', 'text without the comment or the semicolon');
SELECT is((SELECT statement FROM st WHERE statement_no = 4), 'SELECT $x$;$x$', 'a semicolon inside dollar quotes does not split');
SELECT is((SELECT why FROM st WHERE statement_no = 2), 'CREATE INDEX CONCURRENTLY', 'why it cannot run in a transaction');
SELECT is((SELECT why FROM st WHERE statement_no = 1), NULL, 'no why for a transactional statement');
SELECT is((SELECT (index_name, table_name) FROM st WHERE statement_no = 2), ('a_b_idx'::text, 's.a'::text),
          'CREATE INDEX CONCURRENTLY: index and qualified table');
SELECT is((SELECT (index_name, table_name) FROM st WHERE statement_no = 3), (NULL::text, 'a'::text),
          'an unnamed concurrent index: table only');
SELECT is((SELECT count(*) FROM st WHERE statement_no NOT IN (2, 3) AND (index_name IS NOT NULL OR table_name IS NOT NULL)),
          0::bigint, 'no index or table for other statements');
SELECT is((SELECT command FROM st WHERE statement_no = 5), 'VACUUM', 'command tag');
SELECT is((SELECT table_name FROM migrate.script_statements('CREATE INDEX CONCURRENTLY i ON "My Schema"."T" (x)')),
          '"My Schema"."T"', 'the table name is quoted as an identifier');
SELECT is((SELECT count(*) FROM migrate.script_statements('')), 0::bigint, 'an empty script has no statements');
SELECT throws_ok($$SELECT * FROM migrate.script_statements('CREATE TABLE (')$$, '42601', NULL, 'a syntax error is a syntax error');
SELECT throws_ok($$SELECT * FROM migrate.script_statements(NULL)$$, '22004', 'script must not be NULL', 'NULL is refused');
SELECT ok(has_function_privilege('public', 'migrate.script_statements(text)', 'EXECUTE')
          OR (SELECT proacl IS NULL FROM pg_proc WHERE oid = 'migrate.script_statements(text)'::regprocedure),
          'script_statements is executable by everyone (it only parses)');

--
-- record_reverted
--
SELECT migrate.apply('1', 'one', 'CREATE TABLE rr_t (id int)', 'DROP TABLE rr_t');
SELECT migrate.record_applied('2', 'idx', migrate.checksum('CREATE INDEX CONCURRENTLY rr_i ON rr_t (id)'),
                              'CREATE INDEX CONCURRENTLY rr_i ON rr_t (id)', 'DROP INDEX CONCURRENTLY rr_i');
CREATE INDEX rr_i ON rr_t (id);   -- what the client ran
SELECT throws_ok($$SELECT migrate.revert('2')$$, 'MG006', NULL, 'revert refuses a down script that cannot run in a transaction');
SELECT migrate.apply('3', 'three', 'SELECT 1');
SELECT migrate.apply('4', 'four', 'SELECT 4', 'SELECT 4', '{1}');
SELECT throws_ok($$SELECT migrate.record_reverted('1')$$, 'MG009', 'migration 1 is required by applied migrations: 4',
                 'a migration that applied ones require is refused as by revert');
DROP INDEX rr_i;                  -- what the client ran
SELECT is(migrate.record_reverted('2', 12.5, 1, '{"client": "pg_migrate"}'), 'recorded', 'record_reverted returns recorded');
SELECT is((SELECT state FROM migrate.migrations WHERE version = '2'), 'reverted', 'the migration is reverted');
SELECT is((SELECT (action, details -> 'execution_ms', details -> 'statement_count', details -> 'recorded_from' -> 'client')
             FROM migrate.history ORDER BY id DESC LIMIT 1),
          ('revert'::text, '12.5'::jsonb, '1'::jsonb, '"pg_migrate"'::jsonb), 'history entry with the caller''s timing and details');
SELECT is((SELECT count(*) FROM migrate.history_check()), 0::bigint, 'the chain is intact after record_reverted');
SELECT throws_ok($$SELECT migrate.record_reverted('2')$$, 'MG010', 'migration 2 is not applied (its state is reverted)',
                 'a reverted migration cannot be recorded as reverted again');
SELECT throws_ok($$SELECT migrate.record_reverted('nope')$$, 'MG010', 'migration nope is not recorded', 'unknown version');
SELECT throws_ok($$SELECT migrate.record_reverted('1', -1)$$, '22023', NULL, 'a negative duration is refused');
SELECT throws_ok($$SELECT migrate.record_reverted('3')$$, 'MG008', 'migration 3 has no down script', 'no down script: refused as by revert');
SELECT ok(NOT has_function_privilege('public', 'migrate.record_reverted(text, double precision, integer, jsonb)', 'EXECUTE'),
          'record_reverted is not granted to PUBLIC');

--
-- client_migration
--
SELECT is(migrate.client_migration('c1'), 'c1', 'client_migration marks the session''s statements');
SELECT is(migrate.current_migration(), 'c1', 'current_migration() returns it meanwhile');
CREATE TABLE cm_t (id int);
SELECT is((SELECT migration_version FROM migrate.ddl_log WHERE object_identity = 'public.cm_t' ORDER BY id DESC LIMIT 1), 'c1',
          'the DDL ledger counts the statement as the migration''s');
SELECT is(migrate.client_migration(NULL), NULL, 'NULL clears it');
SELECT is(migrate.current_migration(), NULL, '... and current_migration() is NULL again');
SELECT throws_ok($$SELECT migrate.client_migration(' ')$$, '22023', NULL, 'a blank version is refused');
SELECT throws_ok($$SELECT migrate.client_migration(repeat('9', 300))$$, '22023', NULL, 'an overlong version is refused');
SELECT ok(NOT has_function_privilege('public', 'migrate.client_migration(text)', 'EXECUTE'), 'client_migration is not granted to PUBLIC');
SELECT throws_ok($$SELECT migrate.apply('cm_nested', 'x', 'SELECT migrate.client_migration(''y'')')$$, 'MG012', NULL,
                 'client_migration inside a migration is refused');

SELECT * FROM finish();
ROLLBACK;
