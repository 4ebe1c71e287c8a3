-- migrate.dry_run: runs a script in a subtransaction, reports each
-- statement's command, rows and locks, then rolls everything back
-- (durations vary, so only duration_ms >= 0 is shown)
\set VERBOSITY default
CREATE TABLE dr_accounts (id serial PRIMARY KEY, email text, balance int);
INSERT INTO dr_accounts (email, balance) VALUES ('a@example.com', 10), ('b@example.com', 20);
CREATE TABLE dr_old (i int);
INSERT INTO dr_old VALUES (1), (2), (3);
CREATE SEQUENCE dr_seq;
SELECT nextval('dr_seq');

-- a script with statements of many kinds
SELECT statement_no, command, duration_ms >= 0 AS timed, rows, locks, error
  FROM migrate.dry_run($s$
CREATE TABLE dr_new (id int PRIMARY KEY, note text);
INSERT INTO dr_new VALUES (1, 'x'), (2, 'y'), (3, 'z');
CREATE INDEX dr_accounts_email ON dr_accounts (email);
CREATE FUNCTION dr_touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER dr_touch BEFORE UPDATE ON dr_accounts FOR EACH ROW EXECUTE FUNCTION dr_touch();
UPDATE dr_accounts SET balance = balance + 1;
SELECT nextval('dr_seq');
INSERT INTO dr_accounts (email, balance) VALUES ('c@example.com', 30);
LOCK TABLE dr_old IN SHARE MODE;
TRUNCATE dr_old;
DROP TABLE dr_old;
$s$);

-- each kind of statement alone, and the locks it takes
SELECT s.script, d.statement_no AS no, d.command, d.rows, d.locks, d.error
  FROM (VALUES (1, 'ALTER TABLE dr_accounts ADD COLUMN created_at timestamptz'),
               (2, 'ALTER TABLE dr_accounts ALTER COLUMN email SET NOT NULL'),
               (3, 'CREATE INDEX ON dr_accounts (balance)'),
               (4, 'CREATE POLICY dr_own ON dr_accounts USING (email = current_user)'),
               (5, 'ALTER TABLE dr_accounts ENABLE ROW LEVEL SECURITY'),
               (6, 'UPDATE dr_accounts SET balance = 0 WHERE id = 1'),
               (7, 'DELETE FROM dr_accounts'),
               (8, 'SELECT count(*) FROM dr_old'),
               (9, 'LOCK TABLE dr_old IN SHARE MODE'),
               (10, 'TRUNCATE dr_old'),
               (11, 'DROP TABLE dr_old'),
               (12, 'DROP TABLE dr_accounts'),
               (13, 'CREATE TABLE dr_new (id serial PRIMARY KEY, payload text)'),
               (14, 'INSERT INTO dr_accounts (email) VALUES (''e@example.com'')')) AS s(n, script),
       LATERAL migrate.dry_run(s.script) AS d
 ORDER BY s.n, d.statement_no;

-- a lock mode an earlier statement of the script took is not taken again
SELECT statement_no, command, rows, locks, error
  FROM migrate.dry_run($s$
ALTER TABLE dr_accounts ADD COLUMN created_at timestamptz;
ALTER TABLE dr_accounts ALTER COLUMN email SET NOT NULL;
CREATE POLICY dr_own ON dr_accounts USING (email = current_user);
ALTER TABLE dr_accounts ENABLE ROW LEVEL SECURITY;
SELECT count(*) FROM dr_accounts;
$s$);

-- nothing is left behind
SELECT to_regclass('dr_new') AS dr_new, to_regclass('dr_accounts_email') AS dr_accounts_email,
       to_regprocedure('dr_touch()') AS dr_touch;
SELECT id, email, balance FROM dr_accounts ORDER BY id;
SELECT count(*) AS dr_old_rows FROM dr_old;
SELECT string_agg(attname, ', ' ORDER BY attnum) AS dr_accounts_columns,
       bool_or(attnotnull) FILTER (WHERE attname = 'email') AS email_not_null
  FROM pg_attribute WHERE attrelid = 'dr_accounts'::regclass AND attnum > 0 AND NOT attisdropped;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'dr_accounts'::regclass;
SELECT count(*) AS policies FROM pg_policy WHERE polrelid = 'dr_accounts'::regclass;
SELECT count(*) AS indexes FROM pg_index WHERE indrelid = 'dr_accounts'::regclass;
SELECT relrowsecurity FROM pg_class WHERE oid = 'dr_accounts'::regclass;
-- sequences are put back: nextval continues where it was
SELECT currval('dr_seq'), last_value, is_called FROM dr_seq;
SELECT last_value, is_called FROM dr_accounts_id_seq;
SELECT nextval('dr_seq') AS next_dr_seq, nextval('dr_accounts_id_seq') AS next_id;

-- the script's own settings end with the dry run
SELECT statement_no, command, error
  FROM migrate.dry_run($s$SET search_path = nowhere; SET LOCAL lock_timeout = '1s'; SELECT 1$s$);
SELECT current_setting('search_path') AS search_path, current_setting('lock_timeout') AS lock_timeout;

-- an error stops the run: it is reported in its row, later statements do not run
SELECT statement_no, command, duration_ms >= 0 AS timed, rows, locks, error
  FROM migrate.dry_run($s$
CREATE TABLE dr_err (a int);
INSERT INTO dr_missing VALUES (1);
INSERT INTO dr_err VALUES (1);
$s$);
SELECT to_regclass('dr_err') AS dr_err;
SELECT statement_no, command, rows, error
  FROM migrate.dry_run($s$INSERT INTO dr_accounts (email, balance) VALUES ('d@example.com', 1); SELECT 1 / 0$s$);
SELECT count(*) AS accounts FROM dr_accounts;
-- a statement timeout is reported too (57014)
SET migrate.statement_timeout = '50ms';
SELECT statement_no, command, CASE WHEN error IS NOT NULL THEN duration_ms >= 50 END AS waited_50ms, error
  FROM migrate.dry_run('SELECT 1; SELECT pg_sleep(5); SELECT 2');
RESET migrate.statement_timeout;

-- statements migrate.apply refuses are reported and not run
SELECT statement_no, command, duration_ms IS NULL AS not_run, error
  FROM migrate.dry_run($s$CREATE TABLE dr_cic (a int); CREATE INDEX CONCURRENTLY dr_cic_a ON dr_cic (a); SELECT 1$s$);
SELECT statement_no, command, duration_ms IS NULL AS not_run, error
  FROM migrate.dry_run('SELECT 1; COMMIT; SELECT 2');
SELECT statement_no, command, duration_ms IS NULL AS not_run, error
  FROM migrate.dry_run('COPY dr_accounts FROM STDIN');
SELECT to_regclass('dr_cic') AS dr_cic;

-- refused before anything runs
SELECT * FROM migrate.dry_run(NULL);
SELECT * FROM migrate.dry_run('');
SELECT * FROM migrate.dry_run('   ');
SELECT * FROM migrate.dry_run('-- only a comment');
SELECT * FROM migrate.dry_run(E'SELECT 1;\nCREATE TABEL dr_typo (a int);');
BEGIN READ ONLY;
SELECT * FROM migrate.dry_run('SELECT 1');
ROLLBACK;
SELECT migrate.apply('dr1', 'nested dry run', $s$SELECT * FROM migrate.dry_run('SELECT 1')$s$);
SELECT count(*) AS recorded FROM migrate.migrations WHERE version = 'dr1';

DROP TABLE dr_accounts, dr_old;
DROP SEQUENCE dr_seq;
