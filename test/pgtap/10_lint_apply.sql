-- Lint policy of migrate.apply (migrate.lint_level off | warn | error): what
-- is stored with the migration, what is refused before anything runs, and
-- migrate:allow; the migrate.lock_retries setting; migrate.lock_waits is
-- append-only and not for PUBLIC.
BEGIN;
-- warn mode raises a WARNING per finding: keep them out of the TAP stream
SET LOCAL client_min_messages = error;
SELECT plan(52);

-- the migrate.* settings exist once the library is loaded: call into it
DO $$ BEGIN PERFORM migrate.checksum(''); END $$;

CREATE ROLE mg_tap_lint_nobody NOLOGIN;
CREATE TABLE la_t (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0, v text);
INSERT INTO la_t SELECT g, g, md5(g::text) FROM generate_series(1, 100) AS g;
ANALYZE la_t;
-- sequences are not transactional: a nextval() survives the rollback of a
-- failed apply, so it shows whether a script started running at all
CREATE SEQUENCE la_seq;

-- the findings stored with a migration, without their (variable) messages
CREATE FUNCTION pg_temp.stored(v text) RETURNS SETOF jsonb
LANGUAGE sql AS $f$
    SELECT f - 'message' FROM migrate.migrations m, jsonb_array_elements(m.lint_findings) AS f
     WHERE m.version = v ORDER BY (f->>'statement_no')::int, f->>'rule'
$f$;

--
-- settings
--
SELECT is(current_setting('migrate.lint_level'), 'warn', 'migrate.lint_level defaults to warn');
SELECT is(current_setting('migrate.lock_retries'), '0', 'migrate.lock_retries defaults to 0');
SELECT throws_ok($$SET migrate.lint_level = 'strict'$$, '22023', NULL, 'an unknown lint_level is refused with 22023');
SELECT throws_ok($$SET migrate.lint_level = ''$$, '22023', NULL, 'an empty lint_level is refused with 22023');
SELECT throws_ok($$SET migrate.lock_retries = -1$$, '22023', NULL, 'lock_retries = -1 is refused with 22023');
SELECT throws_ok($$SET migrate.lock_retries = 101$$, '22023', NULL, 'lock_retries = 101 is refused with 22023');
SELECT lives_ok($$SET LOCAL migrate.lock_retries = 100$$, 'lock_retries = 100 is accepted');
SELECT is(current_setting('migrate.lock_retries'), '100', '... and in effect');
RESET migrate.lock_retries;
SELECT throws_ok($$SELECT * FROM migrate.lint(NULL)$$, '22004', NULL, 'migrate.lint(NULL) is refused with 22004');

--
-- warn (the default): a migration with a warning finding applies, the
-- finding is stored with it and in its history row
--
SELECT is(
    migrate.apply('1', 'index la_t',
        $s$-- an index on an existing table
CREATE INDEX la_t_v_idx ON la_t (v);$s$),
    'applied', 'warn: a migration with a warning finding applies');
SELECT isnt(to_regclass('la_t_v_idx'), NULL, '... and its index exists');
SELECT is(
    (SELECT f FROM pg_temp.stored('1') AS f WHERE f->>'rule' = 'create-index-non-concurrent'),
    '{"rule": "create-index-non-concurrent", "severity": "warning", "statement_no": 1, "line": 2,
      "lock_mode": "ShareLock", "relation": "public.la_t"}'::jsonb,
    'warn: lint_findings holds the finding: rule, severity, statement_no, line, lock_mode, relation');
SELECT ok(
    (SELECT f->>'message' LIKE '%public.la_t (~100 rows%' FROM migrate.migrations m, jsonb_array_elements(m.lint_findings) AS f
      WHERE m.version = '1' AND f->>'rule' = 'create-index-non-concurrent'),
    '... with a message naming the table and its size');
SELECT ok(
    EXISTS (SELECT FROM migrate.lint($s$-- an index on an existing table
CREATE INDEX la_t_v_idx2 ON la_t (v);$s$) WHERE rule = 'lock-profile'),
    'migrate.lint reports lock-profile rows for the script');
SELECT is(
    (SELECT count(*) FROM pg_temp.stored('1') AS f WHERE f->>'rule' = 'lock-profile'),
    0::bigint, '... but they are not stored with the migration');
SELECT is(
    (SELECT h.details->'lint' FROM migrate.history h WHERE h.version = '1' AND h.action = 'apply'),
    (SELECT m.lint_findings FROM migrate.migrations m WHERE m.version = '1'),
    'history.details->''lint'' holds the same findings');
SELECT is(
    (SELECT jsonb_typeof(h.details->'lint') FROM migrate.history h WHERE h.version = '1'),
    'array', '... as a JSON array');

-- warn does not stop an error finding: the script runs (and here fails at run time)
SELECT throws_ok(
    $$SELECT migrate.apply('2', 'not null column', $s$SELECT nextval('la_seq');
ALTER TABLE la_t ADD COLUMN c int NOT NULL$s$)$$,
    '23502', NULL, 'warn: a script with an error finding runs (and fails on the rows)');
SELECT is((SELECT is_called FROM la_seq), true, '... its first statement did run');

--
-- error: error findings refuse the migration before anything runs
--
DO $$ BEGIN PERFORM setval('la_seq', 1, false); END $$;
SET LOCAL migrate.lint_level = error;
SELECT throws_ok(
    $$SELECT migrate.apply('2', 'not null column', $s$SELECT nextval('la_seq');
CREATE TABLE la_new (i int);
ALTER TABLE la_t ADD COLUMN c int NOT NULL$s$)$$,
    'MG015', 'migration 2 has 1 lint error',
    'error: ADD COLUMN NOT NULL without default on a table with rows is refused with MG015');
SELECT is((SELECT is_called FROM la_seq), false, '... before anything ran (nextval was not called)');
SELECT is(to_regclass('la_new'), NULL, '... nothing was created');
SELECT hasnt_column('la_t', 'c', '... the column was not added');
SELECT ok(NOT EXISTS (SELECT FROM migrate.migrations WHERE version = '2')
          AND NOT EXISTS (SELECT FROM migrate.history WHERE version = '2'),
    '... and nothing was recorded');

SELECT throws_ok(
    $$SELECT migrate.apply('2', 'enum', $s$CREATE TYPE la_mood AS ENUM ('ok');
ALTER TYPE la_mood ADD VALUE 'great';
CREATE TABLE la_moods AS SELECT 'great'::la_mood AS m$s$)$$,
    'MG015', 'migration 2 has 1 lint error',
    'error: an enum value used in the script that adds it is refused with MG015');
SELECT is(to_regtype('la_mood'), NULL, '... and the type was not created');

SELECT throws_ok(
    $$SELECT migrate.apply('2', 'two errors', $s$ALTER TABLE la_t ALTER COLUMN n TYPE bigint;
ALTER TABLE la_t ADD COLUMN c int NOT NULL$s$)$$,
    'MG015', 'migration 2 has 2 lint errors', 'error: the message counts the error findings');

SELECT is(
    migrate.apply('2', 'another index', 'CREATE INDEX la_t_n_idx ON la_t (n)'),
    'applied', 'error: a migration with only warning findings applies');
SELECT is(
    (SELECT f FROM pg_temp.stored('2') AS f WHERE f->>'rule' = 'create-index-non-concurrent'),
    '{"rule": "create-index-non-concurrent", "severity": "warning", "statement_no": 1, "line": 1,
      "lock_mode": "ShareLock", "relation": "public.la_t"}'::jsonb,
    '... and its warning finding is stored');
SELECT is(
    migrate.apply('3', 'new table', 'CREATE TABLE la_clean (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text)'),
    'applied', 'error: a migration without findings applies');
SELECT is((SELECT lint_findings FROM migrate.migrations WHERE version = '3'), '[]'::jsonb,
    '... with lint_findings []');

--
-- migrate:allow <rule> on the line before a statement
--
SELECT is(
    migrate.apply('4', 'allowed type change',
        $s$CREATE TABLE la_other (i int);
-- migrate:allow alter-column-type
ALTER TABLE la_t ALTER COLUMN n TYPE bigint;$s$),
    'applied', 'error: -- migrate:allow alter-column-type lets the type change apply');
SELECT col_type_is('la_t', 'n', 'bigint', '... the column type changed');
SELECT is(
    (SELECT f FROM pg_temp.stored('4') AS f WHERE f->>'rule' = 'alter-column-type'),
    '{"rule": "alter-column-type", "severity": "info", "statement_no": 2, "line": 3,
      "lock_mode": "AccessExclusiveLock", "relation": "public.la_t"}'::jsonb,
    '... and the finding is stored with severity info');
SELECT ok(
    (SELECT f->>'message' LIKE 'allowed by -- migrate:allow alter-column-type: %'
       FROM migrate.migrations m, jsonb_array_elements(m.lint_findings) AS f
      WHERE m.version = '4' AND f->>'rule' = 'alter-column-type'),
    '... its message says it was allowed');
SELECT throws_ok(
    $$SELECT migrate.apply('5', 'allowed the wrong rule', $s$-- migrate:allow drop-column
ALTER TABLE la_t ALTER COLUMN n TYPE numeric;$s$)$$,
    'MG015', 'migration 5 has 1 lint error', 'error: allowing another rule does not help');
SELECT throws_ok(
    $$SELECT migrate.apply('5', 'allow too early', $s$-- migrate:allow alter-column-type
SELECT 1;
ALTER TABLE la_t ALTER COLUMN n TYPE numeric;$s$)$$,
    'MG015', 'migration 5 has 1 lint error', 'error: an allow before an earlier statement does not cover the next one');
SELECT is(
    migrate.apply('5', 'allow all', $s$-- migrate:allow all
ALTER TABLE la_t ALTER COLUMN n TYPE numeric;$s$),
    'applied', 'error: -- migrate:allow all allows every rule of the statement');

--
-- off: nothing linted, nothing stored
--
SET LOCAL migrate.lint_level = off;
SELECT is(
    migrate.apply('6', 'off', $s$CREATE INDEX la_t_id_v_idx ON la_t (id, v);
ALTER TABLE la_t ALTER COLUMN n TYPE bigint;$s$),
    'applied', 'off: a script with warning and error findings applies');
SELECT is((SELECT lint_findings FROM migrate.migrations WHERE version = '6'), '[]'::jsonb,
    'off: lint_findings is []');
SELECT is((SELECT details->'lint' FROM migrate.history WHERE version = '6'), '[]'::jsonb,
    'off: history.details->''lint'' is []');
RESET migrate.lint_level;
SELECT is(current_setting('migrate.lint_level'), 'warn', 'RESET brings back warn');

--
-- migrate.lock_waits: append-only, not for PUBLIC
--
SELECT lives_ok(
    $$INSERT INTO migrate.lock_waits (version, statement_no, attempt, relation, wanted_mode, blockers, waited_ms, outcome)
      VALUES ('6', 1, 1, 'public.la_t', 'AccessExclusiveLock', 'pid 1', 200, 'retried')$$,
    'setup: a row in migrate.lock_waits (INSERT by the owner is not guarded)');
SELECT throws_ok($$UPDATE migrate.lock_waits SET outcome = 'gave_up'$$, 'MG013', NULL,
    'owner: UPDATE of migrate.lock_waits is refused with MG013');
SELECT throws_ok($$DELETE FROM migrate.lock_waits$$, 'MG013', NULL,
    'owner: DELETE from migrate.lock_waits is refused with MG013');
SELECT throws_ok($$TRUNCATE migrate.lock_waits$$, 'MG013', NULL,
    'owner: TRUNCATE of migrate.lock_waits is refused with MG013');
SELECT is((SELECT count(*) FROM migrate.lock_waits), 1::bigint, '... the row is still there');
SELECT throws_ok($$INSERT INTO migrate.lock_waits (version, statement_no, attempt, waited_ms, outcome)
                   VALUES ('6', 1, 1, 1, 'waited')$$, '23514', NULL,
    'outcome is retried or gave_up');

SET LOCAL ROLE mg_tap_lint_nobody;
SELECT throws_ok($$SELECT * FROM migrate.lock_waits$$, '42501', NULL,
    'ordinary role: SELECT on migrate.lock_waits is denied');
SELECT throws_ok(
    $$INSERT INTO migrate.lock_waits (version, statement_no, attempt, waited_ms, outcome)
      VALUES ('9', 1, 1, 1, 'retried')$$,
    '42501', NULL, 'ordinary role: INSERT into migrate.lock_waits is denied');
SELECT throws_ok($$DELETE FROM migrate.lock_waits$$, '42501', NULL,
    'ordinary role: DELETE from migrate.lock_waits is denied');
SELECT ok(EXISTS (SELECT FROM migrate.lint('CREATE INDEX ON la_t (v)') WHERE rule = 'create-index-non-concurrent'),
    'ordinary role: migrate.lint is executable by PUBLIC');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
