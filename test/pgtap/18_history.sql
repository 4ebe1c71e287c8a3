-- Tamper-evident history and comparing histories across databases:
-- chain_hash on every migrate.history entry and migrations row, the
-- formula (sha256(prev || version || checksum) for an apply, the action
-- first for the others), migrate.history_check() finding entries and rows
-- changed, inserted or deleted behind the functions' back (each case in its
-- own savepoint, triggers disabled as a superuser would), migrate.fingerprint()
-- (order-independent), migrate.history_export() and migrate.history_compare(),
-- and migrate.record_applied() (the pg_migrate path for statements run
-- outside a transaction): bookkeeping, chain, event, idempotence, refusals,
-- the lint findings it stores; and migrate.lint_gate() (apply's lint policy
-- for a script pg_migrate is about to run outside a transaction).
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(100);

-- SHA-256 as hex of a text (the test database is UTF8)
CREATE FUNCTION pg_temp.h(t text) RETURNS text LANGUAGE sql AS
$$ SELECT encode(sha256(convert_to(t, 'UTF8')), 'hex') $$;

SELECT migrate.apply('1', 'one', 'CREATE TABLE hist_t1 (id int)', 'DROP TABLE hist_t1');
SELECT migrate.apply('2', 'two', 'CREATE TABLE hist_t2 (id int)', 'DROP TABLE hist_t2');
SELECT migrate.apply('10', 'ten', 'CREATE TABLE hist_t10 (id int)', 'DROP TABLE hist_t10');

--
-- the chain
--
SELECT is((SELECT prev_hash FROM migrate.history ORDER BY id LIMIT 1), NULL, 'the first entry has no previous hash');
SELECT is((SELECT chain_hash FROM migrate.history ORDER BY id LIMIT 1),
          pg_temp.h('1' || migrate.checksum('CREATE TABLE hist_t1 (id int)')), 'first entry: sha256(version || checksum)');
SELECT is((SELECT count(*) FROM (SELECT h.prev_hash, lag(h.chain_hash) OVER (ORDER BY h.id) AS before FROM migrate.history h) x
            WHERE x.prev_hash IS DISTINCT FROM x.before), 0::bigint, 'every entry is chained to the entry before it');
SELECT is((SELECT count(*) FROM migrate.history h
            WHERE h.chain_hash <> pg_temp.h(COALESCE(h.prev_hash, '') || h.version || h.checksum)), 0::bigint,
          'every apply entry: sha256(previous chain_hash || version || checksum)');
SELECT is((SELECT count(*) FROM migrate.migrations m
            WHERE m.chain_hash IS DISTINCT FROM (SELECT h.chain_hash FROM migrate.history h WHERE h.version = m.version ORDER BY h.id DESC LIMIT 1)),
          0::bigint, 'each migration row carries the chain hash of its latest entry');
SELECT is((SELECT count(DISTINCT chain_hash) FROM migrate.history), 3::bigint, 'three distinct chain hashes');

SELECT migrate.revert('2');
SELECT is((SELECT chain_hash FROM migrate.history ORDER BY id DESC LIMIT 1),
          pg_temp.h((SELECT chain_hash FROM migrate.history ORDER BY id DESC OFFSET 1 LIMIT 1) || 'revert 2'
                    || migrate.checksum('CREATE TABLE hist_t2 (id int)')),
          'a revert entry: sha256(prev || ''revert '' || version || checksum)');
SELECT is((SELECT chain_hash FROM migrate.migrations WHERE version = '2'),
          (SELECT chain_hash FROM migrate.history ORDER BY id DESC LIMIT 1), 'the reverted row carries the revert entry''s hash');
SET LOCAL migrate.allow_out_of_order = on;
SELECT migrate.apply('2', 'two', 'CREATE TABLE hist_t2 (id int)', 'DROP TABLE hist_t2');
RESET migrate.allow_out_of_order;
SELECT migrate.repair('10', 'CREATE TABLE hist_t10 (id int); -- realigned', 'comment added to the file');
SELECT is((SELECT chain_hash FROM migrate.history ORDER BY id DESC LIMIT 1),
          pg_temp.h((SELECT chain_hash FROM migrate.history ORDER BY id DESC OFFSET 1 LIMIT 1) || 'repair 10'
                    || migrate.checksum('CREATE TABLE hist_t10 (id int); -- realigned')),
          'a repair entry: the action, then version and new checksum');
SELECT is((SELECT count(*) FROM migrate.history h
            WHERE h.chain_hash <> migrate.chain_link(h.prev_hash, h.action, h.version, h.checksum)), 0::bigint,
          'migrate.chain_link recomputes every entry');
SELECT is(migrate.chain_link(NULL, 'baseline', '5', NULL), pg_temp.h('baseline 5'), 'chain_link of a baseline (no checksum)');
SELECT is(migrate.chain_link('x', NULL, '5', 'y'), NULL, 'chain_link without an action is NULL');

--
-- history_check: intact, then one tampering per savepoint
--
SELECT is((SELECT count(*) FROM migrate.history_check()), 0::bigint, 'an intact history: no rows');
ALTER TABLE migrate.history DISABLE TRIGGER USER;
ALTER TABLE migrate.migrations DISABLE TRIGGER USER;

SAVEPOINT tamper;
UPDATE migrate.history SET checksum = repeat('0', 64) WHERE id = (SELECT min(id) FROM migrate.history);
SELECT results_eq($$ SELECT problem, table_name, version FROM migrate.history_check() WHERE table_name = 'history' $$,
    $$ VALUES ('changed', 'history', '1') $$, 'an edited checksum in a history entry: changed');
SELECT is((SELECT count(*) FROM migrate.history_check() WHERE table_name = 'migrations' AND version = '1' AND problem = 'changed'), 1::bigint,
          'and the row no longer matches its history');
SELECT matches((SELECT detail FROM migrate.history_check() WHERE table_name = 'history'),
               '^history entry [0-9]+ \(apply 1\) does not match its chain hash', 'the detail names the entry');
ROLLBACK TO SAVEPOINT tamper;

SAVEPOINT tamper;
UPDATE migrate.history SET version = '1.0' WHERE id = (SELECT min(id) FROM migrate.history);
SELECT ok((SELECT bool_or(problem = 'changed' AND table_name = 'history') FROM migrate.history_check()), 'an edited version: changed');
ROLLBACK TO SAVEPOINT tamper;

SAVEPOINT tamper;
DELETE FROM migrate.history WHERE id = (SELECT min(id) FROM migrate.history WHERE version = '2');
SELECT results_eq($$ SELECT problem, table_name FROM migrate.history_check() WHERE table_name = 'history' $$,
    $$ VALUES ('deleted', 'history') $$, 'an entry deleted from the middle: deleted, at the entry after it');
ROLLBACK TO SAVEPOINT tamper;

SAVEPOINT tamper;
DELETE FROM migrate.history WHERE id = (SELECT max(id) FROM migrate.history);
SELECT results_eq($$ SELECT problem, table_name, version FROM migrate.history_check() $$,
    $$ VALUES ('changed', 'migrations', '10') $$, 'the last entry deleted: the row no longer matches the history left');
ROLLBACK TO SAVEPOINT tamper;

SAVEPOINT tamper;
INSERT INTO migrate.history (action, version, name, checksum, session_user_name, current_user_name, backend_pid)
VALUES ('apply', '99', 'forged', repeat('a', 64), 'mallory', 'mallory', 1);
SELECT results_eq($$ SELECT problem, table_name, version FROM migrate.history_check() $$,
    $$ VALUES ('inserted', 'history', '99'), ('deleted', 'migrations', '99') $$,
    'a forged entry: inserted (not chained), and no row for it');
ROLLBACK TO SAVEPOINT tamper;

SAVEPOINT tamper;
UPDATE migrate.migrations SET checksum = repeat('b', 64) WHERE version = '1';
SELECT results_eq($$ SELECT problem, table_name, version FROM migrate.history_check() $$,
    $$ VALUES ('changed', 'migrations', '1') $$, 'a migrations row edited: changed');
ROLLBACK TO SAVEPOINT tamper;

SAVEPOINT tamper;
UPDATE migrate.migrations SET state = 'reverted' WHERE version = '10';
SELECT results_eq($$ SELECT problem, table_name, version FROM migrate.history_check() $$,
    $$ VALUES ('changed', 'migrations', '10') $$, 'a migrations row''s state edited: changed');
ROLLBACK TO SAVEPOINT tamper;

SAVEPOINT tamper;
DELETE FROM migrate.migrations WHERE version = '2';
SELECT results_eq($$ SELECT problem, table_name, version FROM migrate.history_check() $$,
    $$ VALUES ('deleted', 'migrations', '2') $$, 'a migrations row deleted: deleted');
ROLLBACK TO SAVEPOINT tamper;

SAVEPOINT tamper;
INSERT INTO migrate.migrations (version, name, state, checksum, session_user_name, current_user_name, backend_pid, started_at, applied_at)
VALUES ('7', 'sneaky', 'applied', repeat('c', 64), 'mallory', 'mallory', 1, now(), now());
SELECT results_eq($$ SELECT problem, table_name, version FROM migrate.history_check() $$,
    $$ VALUES ('inserted', 'migrations', '7') $$, 'a migrations row inserted: inserted');
ROLLBACK TO SAVEPOINT tamper;

SELECT is((SELECT count(*) FROM migrate.history_check()), 0::bigint, 'intact again after the savepoints');
ALTER TABLE migrate.history ENABLE TRIGGER USER;
ALTER TABLE migrate.migrations ENABLE TRIGGER USER;

--
-- fingerprint: the applied set in version order, whatever the apply order
--
SELECT matches(migrate.fingerprint(), '^[0-9a-f]{64}$', 'fingerprint is 64 hex digits');
SELECT is(migrate.fingerprint(),
          migrate.checksum((SELECT string_agg(version || ' ' || checksum, E'\n' ORDER BY version_key) FROM migrate.migrations WHERE state = 'applied')),
          'fingerprint: sha256 of "version checksum" lines in natural version order');
SELECT migrate.fingerprint() AS fp_all \gset
SELECT chain_hash AS head_all FROM migrate.history ORDER BY id DESC LIMIT 1 \gset
SAVEPOINT order_test;
SELECT migrate.revert('2');
SELECT isnt(migrate.fingerprint(), :'fp_all', 'a reverted migration changes the fingerprint');
-- rebuild the same set in another order: 1, 10, then 2 (out of order)
SELECT migrate.revert('10');
SELECT migrate.apply('10', 'ten', 'CREATE TABLE hist_t10 (id int); -- realigned');
SET LOCAL migrate.allow_out_of_order = on;
SELECT migrate.apply('2', 'two', 'CREATE TABLE hist_t2 (id int)', 'DROP TABLE hist_t2');
RESET migrate.allow_out_of_order;
SELECT is(migrate.fingerprint(), :'fp_all', 'same migrations applied in another order: the same fingerprint');
SELECT isnt((SELECT chain_hash FROM migrate.history ORDER BY id DESC LIMIT 1), :'head_all', 'while the chain (the order) differs');
SELECT is((SELECT count(*) FROM migrate.history_check()), 0::bigint, 'and the history is intact');
ROLLBACK TO SAVEPOINT order_test;

--
-- history_export and history_compare
--
SELECT migrate.history_export() AS ex \gset
SELECT is((:'ex'::jsonb) ->> 'fingerprint', migrate.fingerprint(), 'export carries the fingerprint');
SELECT is((:'ex'::jsonb) ->> 'chain_head', (SELECT chain_hash FROM migrate.history ORDER BY id DESC LIMIT 1), 'and the chain head');
SELECT is(jsonb_array_length((:'ex'::jsonb) -> 'migrations'), 3, 'and every migration');
SELECT is((SELECT string_agg(o ->> 'version', ',') FROM jsonb_array_elements((:'ex'::jsonb) -> 'migrations') o), '1,2,10',
          'in natural version order');
SELECT ok((SELECT bool_and(o ? 'checksum' AND o ? 'name' AND o ? 'state' AND o ? 'applied_at' AND o ? 'chain_hash')
             FROM jsonb_array_elements((:'ex'::jsonb) -> 'migrations') o), 'each with version, name, state, checksum, applied_at, chain_hash');
SELECT results_eq($$ SELECT version, difference, first_divergence FROM migrate.history_compare(migrate.history_export()) $$,
    $$ VALUES ('1', 'same', false), ('2', 'same', false), ('10', 'same', false) $$, 'compared with itself: all same');

-- the other database: 2 missing, 10 with another checksum, 3 and 11 only there
SELECT results_eq(
    format($$ SELECT version, name, difference, first_divergence FROM migrate.history_compare(%L::jsonb) $$,
           jsonb_build_object('migrations', jsonb_build_array(
               (:'ex'::jsonb) -> 'migrations' -> 0,
               jsonb_build_object('version', '3', 'name', 'three', 'state', 'applied', 'checksum', repeat('3', 64)),
               jsonb_set((:'ex'::jsonb) -> 'migrations' -> 2, '{checksum}', to_jsonb(repeat('f', 64))),
               jsonb_build_object('version', '11', 'name', 'eleven', 'state', 'applied', 'checksum', repeat('e', 64)),
               jsonb_build_object('version', '12', 'name', 'twelve', 'state', 'reverted', 'checksum', repeat('d', 64))))::text),
    $$ VALUES ('1', 'one', 'same', false), ('2', 'two', 'only_here', true), ('3', 'three', 'only_there', false),
              ('10', 'ten', 'checksum_differs', false), ('11', 'eleven', 'only_there', false) $$,
    'diverged: only_here, only_there, checksum_differs in natural order, the first divergence marked, reverted there = absent');
SELECT is((SELECT here || '|' || COALESCE(there, '') FROM migrate.history_compare('{"migrations": []}') WHERE version = '1'),
          (SELECT checksum FROM migrate.migrations WHERE version = '1') || '|', 'here and there are the checksums');
SELECT throws_ok($$ SELECT * FROM migrate.history_compare('[]') $$, '22023', 'other is not a migration history',
                 'an array is refused');
SELECT throws_ok($$ SELECT * FROM migrate.history_compare('{"migrations": [{"name": "x"}]}') $$, '22023', NULL,
                 'an entry without a version is refused');
SELECT throws_ok($$ SELECT * FROM migrate.history_compare(NULL) $$, '22023', NULL, 'NULL is refused');

--
-- record_applied
--
SELECT is(migrate.record_applied('20', 'cic', migrate.checksum('CREATE INDEX CONCURRENTLY hist_i ON hist_t1 (id)'),
                                 'CREATE INDEX CONCURRENTLY hist_i ON hist_t1 (id)', 'DROP INDEX CONCURRENTLY hist_i',
                                 NULL, '{1}', 42.5, 1, '{"client": "pg_migrate"}'),
          'recorded', 'record_applied: recorded');
SELECT is((SELECT state || ' ' || checksum || ' ' || statement_count || ' ' || execution_ms FROM migrate.migrations WHERE version = '20'),
          'applied ' || migrate.checksum('CREATE INDEX CONCURRENTLY hist_i ON hist_t1 (id)') || ' 1 42.5', 'its row: state, checksum, counts');
SELECT is((SELECT down_script FROM migrate.migrations WHERE version = '20'), 'DROP INDEX CONCURRENTLY hist_i', 'its down script');
SELECT is((SELECT requires FROM migrate.migrations WHERE version = '20'), '{1}'::text[], 'its requirements');
SELECT is((SELECT wal_lsn_before FROM migrate.migrations WHERE version = '20'), NULL, 'no WAL positions (the statements ran elsewhere)');
SELECT is((SELECT details -> 'recorded_from' FROM migrate.history WHERE version = '20'), '{"client": "pg_migrate"}'::jsonb,
          'the caller''s details in the history entry');
SELECT is((SELECT chain_hash FROM migrate.history WHERE version = '20'),
          pg_temp.h((SELECT chain_hash FROM migrate.history WHERE id < (SELECT id FROM migrate.history WHERE version = '20') ORDER BY id DESC LIMIT 1)
                    || '20' || migrate.checksum('CREATE INDEX CONCURRENTLY hist_i ON hist_t1 (id)')),
          'chained as an apply');
SELECT is((SELECT count(*) FROM migrate.events WHERE kind = 'migration_applied' AND migration_version = '20'), 1::bigint,
          'the migration_applied event');
SELECT is(migrate.record_applied('20', 'cic', migrate.checksum('CREATE INDEX CONCURRENTLY hist_i ON hist_t1 (id)')),
          'already_applied', 'recording it again: already_applied');
SELECT throws_ok($$ SELECT migrate.record_applied('20', 'cic', repeat('1', 64)) $$, 'MG001', NULL,
                 'recorded again with another checksum: checksum mismatch');
SELECT throws_ok($$ SELECT migrate.record_applied('21', 'x', repeat('1', 64), 'SELECT 1') $$, 'MG001',
                 'checksum of migration 21 does not match its script', 'a checksum that is not the script''s');
SELECT throws_ok($$ SELECT migrate.record_applied('21', 'x', 'abc') $$, '22023', 'checksum "abc" is not a migrate_ext checksum',
                 'a malformed checksum');
SELECT throws_ok($$ SELECT migrate.record_applied('21', 'x', repeat('1', 64), details => '[1]') $$, '22023', 'details must be a JSON object',
                 'details not an object');
SELECT throws_ok($$ SELECT migrate.record_applied('21', 'x', repeat('1', 64), execution_ms => -1) $$, '22023', NULL,
                 'a negative duration');
SELECT throws_ok($$ SELECT migrate.record_applied('21', 'x', repeat('1', 64), requires => '{404}') $$, 'MG002', NULL,
                 'a missing requirement');
SELECT throws_ok($$ SELECT migrate.record_applied('15', 'x', repeat('1', 64)) $$, 'MG003', NULL,
                 'lower than the highest applied: out of order refused');
SELECT throws_ok($$ SELECT migrate.record_applied('21', 'x', repeat('1', 64), verify_script => 'SELECT false') $$, 'MG007', NULL,
                 'a failing verify check: refused');
SELECT is((SELECT count(*) FROM migrate.migrations WHERE version IN ('15', '21')), 0::bigint, 'nothing recorded by the refusals');
SELECT throws_ok($$ SELECT migrate.record_applied('a b', 'x', repeat('1', 64)) $$, '22023', NULL, 'a version with a blank');
SELECT throws_ok($$ SELECT migrate.record_applied(NULL, 'x', repeat('1', 64)) $$, '22004', 'version must not be NULL', 'a NULL version');
SELECT throws_ok($$ SELECT migrate.record_applied('21', 'x', NULL) $$, '22004', 'checksum must not be NULL', 'a NULL checksum');
SELECT throws_ok($$ SELECT migrate.record_applied('21', 'x', repeat('1', 64), requires => ARRAY[NULL]) $$, '22004', NULL,
                 'a NULL requirement');
SELECT throws_ok($$ SELECT migrate.record_applied('21', 'x', repeat('1', 64), execution_ms => 'NaN') $$, '22023',
                 'execution_ms and statement_count must be zero or more', 'a NaN duration');
SELECT is((SELECT count(*) FROM migrate.history_check()), 0::bigint, 'the history is intact after record_applied');

--
-- record_applied stores the lint findings of its script, linted without
-- refusing (the statements already ran), as migrate.apply stores them
--
SELECT is((SELECT lint_findings FROM migrate.migrations WHERE version = '20'),
          migrate.lint_gate('20', 'CREATE INDEX CONCURRENTLY hist_i ON hist_t1 (id)'),
          'record_applied stores the lint findings of its script (those lint_gate returns for it)');
SELECT ok((SELECT lint_findings @> '[{"rule": "non-transactional-statement", "severity": "info", "statement_no": 1}]'
             FROM migrate.migrations WHERE version = '20'), '... the real findings, not an empty array');
SELECT is((SELECT details -> 'lint' FROM migrate.history WHERE version = '20' AND action = 'apply'),
          (SELECT lint_findings FROM migrate.migrations WHERE version = '20'), '... also in its history entry');
SET LOCAL client_min_messages = error;
SET LOCAL migrate.lint_level = error;
SELECT is(migrate.record_applied('30', 'vacuum', migrate.checksum('VACUUM FULL hist_t1'), 'VACUUM FULL hist_t1'), 'recorded',
          'record_applied under lint_level = error: an error finding refuses nothing (the statements already ran)');
SELECT ok((SELECT lint_findings @> '[{"rule": "vacuum-full", "severity": "error"}]' FROM migrate.migrations WHERE version = '30'),
          '... and the error finding is stored');
SET LOCAL migrate.lint_level = off;
SELECT is(migrate.record_applied('31', 'vacuum2', migrate.checksum('VACUUM FULL hist_t2'), 'VACUUM FULL hist_t2'), 'recorded',
          'record_applied under lint_level = off');
SELECT is((SELECT lint_findings FROM migrate.migrations WHERE version = '31'), '[]'::jsonb,
          '... stores no findings, as apply under off');
SET LOCAL migrate.lint_level = warn;
SELECT is(migrate.record_applied('32', 'noscript', repeat('2', 64)), 'recorded', 'record_applied without the script');
SELECT is((SELECT lint_findings FROM migrate.migrations WHERE version = '32'), '[]'::jsonb, '... has no findings to store');

--
-- lint_gate: the lint policy of migrate.apply for a script the caller is
-- about to run outside a transaction (pg_migrate)
--
CREATE TABLE gate_t (id int);
INSERT INTO gate_t VALUES (1), (2);
ANALYZE gate_t;
CREATE FUNCTION pg_temp.n_ev(k text) RETURNS bigint LANGUAGE sql AS
$$ SELECT count(*) FROM migrate.events WHERE kind = k $$;
-- the error of a query as "sqlstate|message|detail|hint", or "no error"
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	s text; m text; d text; h text;
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
	RETURN concat_ws('|', s, m, d, h);
END
$$;
SELECT pg_temp.n_ev('lint_error') AS gate_ev0 \gset
SET LOCAL migrate.lint_level = off;
SELECT is(migrate.lint_gate('40', 'VACUUM FULL gate_t'), '[]'::jsonb, 'lint_gate under lint_level = off: no lint, no findings');
SELECT is(pg_temp.n_ev('lint_error'), :'gate_ev0'::bigint, '... and no lint_error event');
SET LOCAL migrate.lint_level = warn;
SELECT ok(migrate.lint_gate('40', 'VACUUM FULL gate_t') @> '[{"rule": "vacuum-full", "severity": "error", "statement_no": 1, "line": 1}]',
          'lint_gate under warn: the error finding is returned, not refused');
SELECT is(pg_temp.n_ev('lint_error'), :'gate_ev0'::bigint + 1, '... and recorded as a lint_error event, as apply does under warn');
SELECT migrate.lint_gate('41', 'CREATE INDEX gate_i ON gate_t (id)') AS gate_f \gset
SELECT ok(:'gate_f'::jsonb @> '[{"rule": "create-index-non-concurrent", "severity": "warning"}]'
          AND NOT :'gate_f'::jsonb @> '[{"rule": "lock-profile"}]', 'lint_gate: a warning finding; the lock profile left out');
SAVEPOINT gate;
SELECT migrate.apply('41', 'idx', 'CREATE INDEX gate_i ON gate_t (id)');
SELECT is((SELECT lint_findings FROM migrate.migrations WHERE version = '41'), :'gate_f'::jsonb,
          'lint_gate returns the findings migrate.apply stores for the same script');
ROLLBACK TO SAVEPOINT gate;
SET LOCAL migrate.lint_level = error;
SELECT ok(migrate.lint_gate('41', 'CREATE INDEX gate_i ON gate_t (id)') @> '[{"rule": "create-index-non-concurrent"}]',
          'lint_gate under error: warning findings only are not refused');
SELECT throws_ok($$ SELECT migrate.lint_gate('40', 'VACUUM FULL gate_t') $$, 'MG015', 'migration 40 has 1 lint error',
                 'lint_gate under error: an error finding is refused with MG015');
SELECT is((SELECT count(*) FROM migrate.events WHERE kind = 'migration_refused' AND details ->> 'function' = 'migrate.lint_gate'
              AND details ->> 'version' = '40' AND txid = pg_current_xact_id()), 1::bigint,
          '... and recorded as a migration_refused event, as a refused apply');
SELECT is(pg_temp.err($$ SELECT migrate.lint_gate('42', 'ALTER TABLE gate_t ADD COLUMN c int NOT NULL') $$),
          pg_temp.err($$ SELECT migrate.apply('42', 'c', 'ALTER TABLE gate_t ADD COLUMN c int NOT NULL') $$),
          'lint_gate refuses with the SQLSTATE, message, detail and hint of migrate.apply');
SELECT matches(pg_temp.err($$ SELECT migrate.lint_gate('42', 'ALTER TABLE gate_t ADD COLUMN c int NOT NULL') $$),
               '^MG015\|migration 42 has 1 lint error\|statement 1 \(line 1\): add-column-not-null-no-default: .*\|Nothing was run\. Fix the script',
               '... the finding in the detail, what to do in the hint');
SET LOCAL migrate.lint_level = warn;
SELECT ok(jsonb_typeof(migrate.lint_gate('43', 'CREATE TABLE gate_made (id int)')) = 'array', 'lint_gate of a CREATE TABLE');
SELECT is(to_regclass('gate_made'), NULL, '... runs nothing');
SELECT is((SELECT count(*) FROM migrate.migrations WHERE version IN ('40', '41', '42', '43')), 0::bigint, 'lint_gate records nothing');
SELECT throws_ok($$ SELECT migrate.lint_gate(NULL, 'SELECT 1') $$, '22004', 'version must not be NULL', 'lint_gate: a NULL version');
SELECT throws_ok($$ SELECT migrate.lint_gate('44', NULL) $$, '22004', 'script must not be NULL', 'lint_gate: a NULL script');
SELECT throws_ok($$ SELECT migrate.lint_gate('44', '  ') $$, '22023', NULL, 'lint_gate: a blank script');
SELECT throws_ok($$ SELECT migrate.lint_gate('44', '-- nothing') $$, '22023', 'script of migration 44 contains no SQL statement',
                 'lint_gate: a script without a statement');
SELECT throws_ok($$ SELECT migrate.lint_gate('a b', 'SELECT 1') $$, '22023', NULL, 'lint_gate: an invalid version');
SELECT throws_ok($$ SELECT migrate.lint_gate('44', 'CREATE TABEL x (id int)') $$, '42601', NULL, 'lint_gate: a syntax error');
SET LOCAL client_min_messages = warning;

--
-- privileges: nothing for PUBLIC
--
CREATE ROLE hist_nobody;
SELECT ok(NOT has_function_privilege('hist_nobody', 'migrate.record_applied(text, text, text, text, text, text, text[], double precision, integer, jsonb)', 'EXECUTE')
          AND NOT has_function_privilege('hist_nobody', 'migrate.history_check()', 'EXECUTE')
          AND NOT has_function_privilege('hist_nobody', 'migrate.history_export()', 'EXECUTE')
          AND NOT has_function_privilege('hist_nobody', 'migrate.history_compare(jsonb)', 'EXECUTE')
          AND NOT has_function_privilege('hist_nobody', 'migrate.fingerprint()', 'EXECUTE'),
          'record_applied, history_check, history_export, history_compare and fingerprint are not granted to PUBLIC');
SELECT ok(NOT has_function_privilege('hist_nobody', 'migrate.lint_gate(text, text)', 'EXECUTE'), 'lint_gate is not granted to PUBLIC');
SELECT migrate.setup_roles('hist_admin', 'hist_monitor', 'hist_app');
SELECT ok(has_function_privilege('hist_admin', 'migrate.lint_gate(text, text)', 'EXECUTE')
          AND NOT has_function_privilege('hist_monitor', 'migrate.lint_gate(text, text)', 'EXECUTE')
          AND NOT has_function_privilege('hist_app', 'migrate.lint_gate(text, text)', 'EXECUTE'),
          'setup_roles grants lint_gate to the admin role only, as record_applied');
SET LOCAL ROLE hist_nobody;
SELECT throws_ok($$ SELECT migrate.lint_gate('44', 'SELECT 1') $$, '42501', NULL, 'a role without the grant cannot call lint_gate');
RESET ROLE;
SET LOCAL ROLE hist_admin;
SELECT is(migrate.lint_gate('44', 'SELECT 1'), '[]'::jsonb, 'the admin role calls lint_gate');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
