-- applying migrations: splitting with the real parser, history, idempotence
SELECT migrate.apply('1', 'create profiles', $m$
-- profiles; the comment has a semicolon
CREATE TABLE profiles (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE,
    note text
);
/* block comment ; still one statement */
INSERT INTO profiles (email, note) VALUES ('a@example.com', 'semi;colon'), ('b@example.com', E'quote\'s');
CREATE FUNCTION profiles_touch() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    NEW.note := coalesce(NEW.note, '') || ';touched';
    RETURN NEW;
END;
$f$;
CREATE FUNCTION add_one(i int) RETURNS int LANGUAGE sql
BEGIN ATOMIC
    SELECT i + 1;
END;
DO $$ BEGIN RAISE NOTICE 'running inside migration %', migrate.current_migration(); END $$;
$m$);
SELECT email, note FROM profiles ORDER BY id;
SELECT add_one(41);
SELECT version, name, state, statement_count, rows_affected, out_of_order,
       session_user_name = session_user AS by_me, backend_pid = pg_backend_pid() AS my_pid,
       wal_lsn_after >= wal_lsn_before AS wal_moved, execution_ms >= 0 AS timed,
       checksum = migrate.checksum(script) AS checksum_ok
  FROM migrate.migrations;
-- same version, same script: nothing runs
SELECT migrate.apply('1', 'create profiles', (SELECT script FROM migrate.migrations WHERE version = '1'));
SELECT count(*) AS still_two_rows FROM profiles;
-- CRLF line ends give the same checksum
SELECT migrate.apply('1', 'create profiles',
       replace((SELECT script FROM migrate.migrations WHERE version = '1'), E'\n', E'\r\n'));
-- edited script: refused with both checksums
SELECT migrate.apply('1', 'create profiles', 'CREATE TABLE profiles (id int);');
-- requires
SELECT migrate.apply('3', 'needs 2', 'SELECT 1', requires => '{2}');
SELECT migrate.apply('2', 'user audits', $$CREATE TABLE user_audits (id bigint PRIMARY KEY, table_name text, action text)$$,
                     down_script => 'DROP TABLE user_audits', requires => '{1}');
SELECT migrate.apply('3', 'needs 2', 'UPDATE profiles SET note = NULL WHERE email LIKE ''a%''', requires => '{1,2}');
-- the transaction owns the change: roll it back and nothing is left
BEGIN;
SELECT migrate.apply('4', 'rolled back', 'CREATE TABLE gone (a int)');
ROLLBACK;
SELECT to_regclass('gone') IS NULL AS table_gone,
       NOT EXISTS (SELECT 1 FROM migrate.migrations WHERE version = '4') AS row_gone;
SELECT version, name, state, statement_count, rows_affected, requires FROM migrate.status() s
  JOIN migrate.migrations m USING (version, name, state) ORDER BY m.version_key;
SELECT action, version, name, details->>'statement_count' AS statements, details->>'rows_affected' AS rows
  FROM migrate.history ORDER BY id;
