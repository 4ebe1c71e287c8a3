-- migrate.lint: every rule fires on its hazard and stays quiet on the safe pattern
--
-- Each rule has a "fires" case and a "safe" case (the recommended pattern).
-- Tables have fixed row counts and are analyzed, so the sizes in messages
-- ("~5000 rows, 256 kB") are deterministic.
SET client_min_messages = warning;
CREATE SCHEMA lr;
SET search_path = lr, public;
CREATE TABLE accounts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                       email varchar(100), name varchar(50), n int, created timestamp);
INSERT INTO accounts (email, name, n) SELECT 'u' || g || '@example.com', 'user ' || g, g
  FROM generate_series(1, 1000) g;
CREATE TABLE orders (id bigint PRIMARY KEY, account_id bigint, amount int, note text, during tstzrange);
INSERT INTO orders SELECT g, 1 + g % 1000, g, NULL, NULL FROM generate_series(1, 5000) g;
CREATE UNIQUE INDEX orders_amount_key ON orders (amount);
CREATE INDEX orders_account_idx ON orders (account_id);
CREATE TABLE empty_t (a int, b text);
-- a validated CHECK (v IS NOT NULL), added the online way
CREATE TABLE checked (id bigint NOT NULL, v text);
INSERT INTO checked SELECT g, 'v' || g FROM generate_series(1, 2000) g;
ALTER TABLE checked ADD CONSTRAINT checked_v_not_null CHECK (v IS NOT NULL) NOT VALID;
ALTER TABLE checked VALIDATE CONSTRAINT checked_v_not_null;
CREATE UNIQUE INDEX checked_id_key ON checked (id);
CREATE MATERIALIZED VIEW order_totals AS
  SELECT account_id, sum(amount) AS total FROM orders GROUP BY account_id;
CREATE UNIQUE INDEX order_totals_account_key ON order_totals (account_id);
CREATE TABLE events (id bigint, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TYPE mood AS ENUM ('ok', 'sad');
CREATE DOMAIN posint AS int;
CREATE SCHEMA old_stuff;
CREATE POLICY accounts_all ON accounts USING (true);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
ANALYZE accounts, orders, empty_t, checked;
SELECT relname, reltuples, relpages FROM pg_class
 WHERE relnamespace = 'lr'::regnamespace AND relname IN ('accounts', 'orders', 'empty_t', 'checked')
 ORDER BY 1;

-- findings without the lock profile and the (once per script) lock-timeout-missing
-- note, which have cases of their own below
CREATE FUNCTION f(script text)
RETURNS TABLE(statement_no int, rule text, severity text, lock_mode text, relation text)
LANGUAGE sql AS $$
  SELECT statement_no, rule, severity, lock_mode, relation FROM migrate.lint(script)
   WHERE rule NOT IN ('lock-profile', 'lock-timeout-missing')
$$;

-- an example with every column
\x on
SELECT * FROM migrate.lint($$SET lock_timeout = '2s';
ALTER TABLE orders ADD CONSTRAINT orders_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id);$$);
\x off

--
-- lock-profile: one info row per relation a statement locks
--
-- fires: the lock of each statement on an existing relation, with its size
SELECT statement_no, line, rule, severity, lock_mode, relation, message FROM migrate.lint($$
ALTER TABLE orders ADD COLUMN shipped boolean;
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_note_idx ON orders (note);
UPDATE accounts SET name = 'x' WHERE id = 1;
LOCK TABLE empty_t IN SHARE MODE;
$$) WHERE rule = 'lock-profile';
-- safe: a new table and a query lock nothing that exists
SELECT * FROM migrate.lint('CREATE TABLE fresh (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY); SELECT 1');

--
-- lock-timeout-missing: reported once, on the first statement taking ShareLock or stronger
--
-- fires
SELECT statement_no, rule, severity, lock_mode, relation, message, hint FROM migrate.lint($$
UPDATE accounts SET name = 'x' WHERE id = 1;
CREATE INDEX orders_note_idx ON orders (note);
ALTER TABLE orders ADD COLUMN shipped boolean;
$$) WHERE rule = 'lock-timeout-missing';
-- safe: the script sets its own lock_timeout
SELECT * FROM migrate.lint($$SET lock_timeout = '2s';
CREATE INDEX orders_note_idx ON orders (note);$$) WHERE rule = 'lock-timeout-missing';
-- safe: only weak locks (RowExclusiveLock)
SELECT * FROM migrate.lint('UPDATE accounts SET name = ''x'' WHERE id = 1') WHERE rule = 'lock-timeout-missing';

--
-- transaction-control
--
-- fires
SELECT * FROM f(E'BEGIN;\nCREATE TABLE t1 (a int);\nSAVEPOINT s;\nCOMMIT;');
-- safe: BEGIN ... END of a DO block is not transaction control
SELECT * FROM f('DO $do$BEGIN PERFORM 1; END$do$');

--
-- non-transactional-statement (info: migrate.apply refuses these)
--
-- fires
SELECT * FROM f('REINDEX TABLE CONCURRENTLY orders');
SELECT * FROM f('ALTER SYSTEM SET work_mem = ''8MB''');
-- safe: REINDEX TABLE runs in a transaction
SELECT * FROM f('REINDEX TABLE empty_t');

--
-- unsupported-statement
--
-- fires
SELECT * FROM f('COPY orders FROM STDIN');
SELECT * FROM f('COPY orders TO STDOUT');
-- safe: a server-side COPY runs inside a migration
SELECT * FROM f('COPY empty_t FROM ''/tmp/empty_t.csv''');

--
-- mixed-transactional (about the whole script: no statement_no)
--
-- fires
SELECT * FROM f($$ALTER TABLE orders ADD COLUMN shipped boolean;
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_note_idx ON orders (note);$$);
-- safe: SET does not count as a transactional statement
SELECT * FROM f($$SET lock_timeout = '2s';
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_note_idx ON orders (note);$$);

--
-- create-index-non-concurrent
--
-- fires
SELECT * FROM f('CREATE INDEX orders_note_idx ON orders (note)');
-- safe: CONCURRENTLY (a non-transactional step)
SELECT * FROM f('CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_note_idx ON orders (note)');
-- safe: the table is created earlier in the same script
SELECT * FROM f('CREATE TABLE t1 (a int); CREATE INDEX t1_a_idx ON t1 (a)');

--
-- prefer-robust-statements (info)
--
-- fires: CONCURRENTLY without IF [NOT] EXISTS
SELECT * FROM f('CREATE INDEX CONCURRENTLY orders_note_idx ON orders (note)');
SELECT * FROM f('DROP INDEX CONCURRENTLY orders_account_idx');
-- safe
SELECT * FROM f('CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_note_idx ON orders (note)');
SELECT * FROM f('DROP INDEX CONCURRENTLY IF EXISTS orders_account_idx');

--
-- drop-index-non-concurrent (reported on the index's table)
--
-- fires
SELECT * FROM f('DROP INDEX orders_account_idx');
-- safe: CONCURRENTLY
SELECT * FROM f('DROP INDEX CONCURRENTLY IF EXISTS orders_account_idx');
-- safe: an index created earlier in the same script
SELECT * FROM f('CREATE TABLE t1 (a int); CREATE INDEX t1_a_idx ON t1 (a); DROP INDEX t1_a_idx');

--
-- add-foreign-key-not-valid
--
-- fires: ADD CONSTRAINT and a new column's REFERENCES
SELECT * FROM f('ALTER TABLE orders ADD CONSTRAINT orders_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id)');
-- Regression (fixed): for ADD COLUMN ... REFERENCES the finding says ShareRowExclusiveLock, but the
-- statement validates while holding AccessExclusiveLock on orders (the mode of its
-- own lock-profile row); lint_add_column hard-codes ShareRowExclusiveLock
SELECT statement_no, rule, lock_mode, relation
  FROM migrate.lint('ALTER TABLE orders ADD COLUMN buyer_id bigint REFERENCES accounts (id)')
 WHERE relation = 'lr.orders' AND rule IN ('lock-profile', 'add-foreign-key-not-valid');
-- safe: NOT VALID, then VALIDATE CONSTRAINT (ShareUpdateExclusiveLock)
SELECT * FROM f($$ALTER TABLE orders ADD CONSTRAINT orders_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_account_fk;$$);

--
-- add-check-not-valid
--
-- fires
SELECT * FROM f('ALTER TABLE orders ADD CONSTRAINT orders_amount_check CHECK (amount > 0)');
SELECT * FROM f('ALTER TABLE orders ADD COLUMN qty int CHECK (qty > 0)');
-- safe
SELECT * FROM f($$ALTER TABLE orders ADD CONSTRAINT orders_amount_check CHECK (amount > 0) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_amount_check;$$);

--
-- set-not-null (warning on a table with rows, info on an empty one)
--
-- fires
SELECT * FROM f('ALTER TABLE orders ALTER COLUMN note SET NOT NULL');
SELECT * FROM f('ALTER TABLE empty_t ALTER COLUMN a SET NOT NULL');
-- safe: a validated CHECK (v IS NOT NULL) exists, so SET NOT NULL skips the scan
SELECT * FROM f('ALTER TABLE checked ALTER COLUMN v SET NOT NULL');

--
-- drop-not-null (info)
--
-- fires
SELECT * FROM f('ALTER TABLE checked ALTER COLUMN id DROP NOT NULL');
-- safe: a table created earlier in the script
SELECT * FROM f('CREATE TABLE t1 (a int NOT NULL); ALTER TABLE t1 ALTER COLUMN a DROP NOT NULL');

--
-- add-column-not-null-no-default (error when the table has rows)
--
-- fires
SELECT * FROM f('ALTER TABLE orders ADD COLUMN qty int NOT NULL');
SELECT * FROM f('ALTER TABLE empty_t ADD COLUMN c int NOT NULL');
-- safe: a constant default (no rewrite since PostgreSQL 11)
SELECT * FROM f('ALTER TABLE orders ADD COLUMN qty int NOT NULL DEFAULT 1');
-- safe: a table created earlier in the script
SELECT * FROM f('CREATE TABLE t1 (a int); ALTER TABLE t1 ADD COLUMN b int NOT NULL');

--
-- add-column-volatile-default (also serial and identity columns)
--
-- fires
SELECT * FROM f('ALTER TABLE orders ADD COLUMN r double precision DEFAULT random()');
SELECT * FROM f('ALTER TABLE orders ADD COLUMN u uuid DEFAULT gen_random_uuid()');
SELECT * FROM f('ALTER TABLE orders ADD COLUMN at timestamptz DEFAULT clock_timestamp()');
SELECT * FROM f('ALTER TABLE orders ADD COLUMN seq bigserial');
SELECT * FROM f('ALTER TABLE orders ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY');
-- safe: constant and stable defaults are stored once, not per row
SELECT * FROM f('ALTER TABLE orders ADD COLUMN status text DEFAULT ''new''');
SELECT * FROM f('ALTER TABLE orders ADD COLUMN at timestamptz DEFAULT now()');

--
-- add-column-stored-generated
--
-- fires
SELECT * FROM f('ALTER TABLE orders ADD COLUMN double_amount int GENERATED ALWAYS AS (amount * 2) STORED');
-- safe: a plain nullable column (backfilled in batches later)
SELECT * FROM f('ALTER TABLE orders ADD COLUMN double_amount int');

--
-- alter-column-type (error when the table has rows; catalog-aware: binary-coercible
-- changes do not rewrite)
--
-- fires
SELECT * FROM f('ALTER TABLE orders ALTER COLUMN amount TYPE bigint');
SELECT * FROM f('ALTER TABLE accounts ALTER COLUMN email TYPE varchar(20)');
SELECT * FROM f('ALTER TABLE accounts ALTER COLUMN n TYPE bigint USING n::bigint');
SELECT * FROM f('ALTER TABLE empty_t ALTER COLUMN a TYPE bigint');
-- the message says why
SELECT message FROM migrate.lint($$ALTER TABLE orders ALTER COLUMN amount TYPE bigint;
ALTER TABLE accounts ALTER COLUMN n TYPE bigint USING n::bigint;
ALTER TABLE accounts ALTER COLUMN email TYPE no_such_type;$$) WHERE rule = 'alter-column-type';
-- safe: varchar(n) -> text, -> longer varchar, -> varchar without limit
SELECT * FROM f('ALTER TABLE accounts ALTER COLUMN email TYPE text');
SELECT * FROM f('ALTER TABLE accounts ALTER COLUMN email TYPE varchar(200)');
SELECT * FROM f('ALTER TABLE accounts ALTER COLUMN name TYPE varchar');
-- timestamp -> timestamptz rewrites unless the session time zone is UTC
SET timezone = 'UTC';
SELECT * FROM f('ALTER TABLE accounts ALTER COLUMN created TYPE timestamptz');
SET timezone = 'America/New_York';
SELECT * FROM f('ALTER TABLE accounts ALTER COLUMN created TYPE timestamptz');
RESET timezone;

--
-- add-primary-key-without-index
--
-- fires
SELECT * FROM f('ALTER TABLE checked ADD PRIMARY KEY (id)');
-- safe: USING INDEX an index built CONCURRENTLY (id is already NOT NULL)
SELECT * FROM f('ALTER TABLE checked ADD CONSTRAINT checked_pkey PRIMARY KEY USING INDEX checked_id_key');

--
-- add-unique-without-index
--
-- fires
SELECT * FROM f('ALTER TABLE orders ADD CONSTRAINT orders_amount_unique UNIQUE (amount)');
SELECT * FROM f('ALTER TABLE orders ADD COLUMN code text UNIQUE');
-- safe
SELECT * FROM f('ALTER TABLE orders ADD CONSTRAINT orders_amount_unique UNIQUE USING INDEX orders_amount_key');

--
-- add-exclusion-constraint
--
-- fires
SELECT * FROM f('ALTER TABLE orders ADD CONSTRAINT orders_no_overlap EXCLUDE USING gist (during WITH &&)');
-- safe: on a new table, in CREATE TABLE
SELECT * FROM f('CREATE TABLE bookings (during tstzrange, EXCLUDE USING gist (during WITH &&))');

--
-- drop-table
--
-- fires
SELECT * FROM f('DROP TABLE empty_t');
-- safe: a table created earlier in the script
SELECT * FROM f('CREATE TABLE t1 (a int); DROP TABLE t1');

--
-- drop-column
--
-- fires
SELECT * FROM f('ALTER TABLE accounts DROP COLUMN name');
-- safe: allowed for this statement (the code no longer reads it): reported at info
SELECT * FROM f($$-- migrate:allow drop-column
ALTER TABLE accounts DROP COLUMN name;$$);

--
-- drop-schema
--
-- fires
SELECT * FROM f('DROP SCHEMA old_stuff');
SELECT * FROM f('DROP SCHEMA old_stuff CASCADE');
-- safe: allowed
SELECT * FROM f($$-- migrate:allow drop-schema
DROP SCHEMA old_stuff;$$);

--
-- drop-database (error; also non-transactional)
--
-- fires
SELECT * FROM f('DROP DATABASE some_db');
-- safe: allowed (the non-transactional note stays)
SELECT * FROM f($$-- migrate:allow drop-database
DROP DATABASE some_db;$$);

--
-- rename-table, rename-column
--
-- fires
SELECT * FROM f('ALTER TABLE accounts RENAME TO customers');
SELECT * FROM f('ALTER TABLE accounts RENAME COLUMN name TO full_name');
-- safe: renaming an index, and renaming in a table created earlier in the script
SELECT * FROM f('ALTER INDEX orders_account_idx RENAME TO orders_account_id_idx');
SELECT * FROM f('CREATE TABLE t1 (a int); ALTER TABLE t1 RENAME COLUMN a TO b; ALTER TABLE t1 RENAME TO t2');

--
-- truncate-cascade
--
-- fires
SELECT * FROM f('TRUNCATE orders CASCADE');
-- safe: the referencing tables named explicitly
SELECT * FROM f('TRUNCATE orders');

--
-- vacuum-full (error; VACUUM is non-transactional)
--
-- fires
SELECT * FROM f('VACUUM FULL orders');
SELECT * FROM f('VACUUM (FULL, ANALYZE) orders');
-- safe: plain VACUUM
SELECT * FROM f('VACUUM (ANALYZE) orders');

--
-- cluster (error)
--
-- fires
SELECT * FROM f('CLUSTER orders USING orders_pkey');
-- safe: allowed in a maintenance window
SELECT * FROM f($$/* migrate:allow cluster */
CLUSTER orders USING orders_pkey;$$);

--
-- refresh-materialized-view-non-concurrent
--
-- fires
SELECT * FROM f('REFRESH MATERIALIZED VIEW order_totals');
-- safe
SELECT * FROM f('REFRESH MATERIALIZED VIEW CONCURRENTLY order_totals');

--
-- detach-partition-non-concurrent
--
-- fires
SELECT * FROM f('ALTER TABLE events DETACH PARTITION events_2024');
-- safe: CONCURRENTLY (a non-transactional step)
SELECT * FROM f('ALTER TABLE events DETACH PARTITION events_2024 CONCURRENTLY');

--
-- policy-change
--
-- fires
SELECT * FROM f('CREATE POLICY accounts_own ON accounts USING (name = current_user)');
SELECT * FROM f('ALTER POLICY accounts_all ON accounts USING (false)');
SELECT * FROM f('DROP POLICY accounts_all ON accounts');
-- safe: policies of a table created earlier in the script
SELECT * FROM f('CREATE TABLE t1 (owner name); CREATE POLICY t1_own ON t1 USING (owner = current_user)');

--
-- row-level-security-change
--
-- fires
SELECT * FROM f('ALTER TABLE accounts ENABLE ROW LEVEL SECURITY');
SELECT * FROM f('ALTER TABLE accounts FORCE ROW LEVEL SECURITY');
SELECT * FROM f('ALTER TABLE accounts DISABLE ROW LEVEL SECURITY');
-- safe: a table created earlier in the script
SELECT * FROM f('CREATE TABLE t1 (a int); ALTER TABLE t1 ENABLE ROW LEVEL SECURITY');

--
-- create-trigger
--
-- fires
SELECT * FROM f('CREATE TRIGGER accounts_touch BEFORE UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION touch()');
-- safe: a table created earlier in the script
SELECT * FROM f('CREATE TABLE t1 (a int); CREATE TRIGGER t1_touch BEFORE UPDATE ON t1 FOR EACH ROW EXECUTE FUNCTION touch()');

--
-- enum-value-used-same-script (error)
--
-- fires
SELECT * FROM f($$ALTER TYPE mood ADD VALUE 'happy';
ALTER TABLE accounts ADD COLUMN mood mood DEFAULT 'happy';$$);
-- safe: existing values, and the new one used by a later migration
SELECT * FROM f($$ALTER TYPE mood ADD VALUE 'happy';
SELECT 'ok'::mood;$$);
SELECT * FROM f($$SELECT 'happy'::text;$$);

--
-- add-domain-constraint-not-valid
--
-- fires
SELECT * FROM f('ALTER DOMAIN posint ADD CONSTRAINT posint_check CHECK (VALUE > 0)');
-- safe
SELECT * FROM f($$ALTER DOMAIN posint ADD CONSTRAINT posint_check CHECK (VALUE > 0) NOT VALID;
ALTER DOMAIN posint VALIDATE CONSTRAINT posint_check;$$);

--
-- create-domain-with-constraint (info)
--
-- fires
SELECT * FROM f('CREATE DOMAIN email AS text CHECK (VALUE LIKE ''%@%'')');
-- safe
SELECT * FROM f('CREATE DOMAIN email AS text');

--
-- backfill-in-migration
--
-- fires: UPDATE or DELETE of every row of a table with rows
SELECT * FROM f('UPDATE orders SET note = ''none''');
SELECT * FROM f('DELETE FROM accounts');
-- safe: a batch (WHERE), an empty table, a table created earlier in the script
SELECT * FROM f('UPDATE orders SET note = ''none'' WHERE id BETWEEN 1 AND 1000');
SELECT * FROM f('UPDATE empty_t SET b = ''none''');
SELECT * FROM f('CREATE TABLE t1 (a int); UPDATE t1 SET a = 1');

--
-- style rules on new columns (info): prefer-bigint, prefer-identity, prefer-text,
-- prefer-timestamptz, prefer-jsonb
--
-- fires
SELECT * FROM f($$CREATE TABLE people (
  id serial PRIMARY KEY,
  team_id integer,
  rank smallint GENERATED BY DEFAULT AS IDENTITY,
  code char(8),
  email varchar(200),
  born timestamp,
  seen timestamp(3) without time zone,
  profile json);$$);
SELECT * FROM f('ALTER TABLE orders ADD COLUMN meta json, ADD COLUMN shipped_at timestamp');
-- safe: bigint identity, text, timestamptz, jsonb
SELECT * FROM f($$CREATE TABLE people (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  team_id bigint,
  rank integer,
  code text CHECK (length(code) <= 8),
  email text,
  born timestamptz,
  seen timestamp(3) with time zone,
  profile jsonb);$$);
SELECT * FROM f('ALTER TABLE orders ADD COLUMN meta jsonb, ADD COLUMN shipped_at timestamptz');

--
-- suppression: "-- migrate:allow rule[, rule]" before a statement reports its
-- findings at info; "all" allows every rule; the next statement is not affected
--
SELECT statement_no, line, rule, severity, message FROM migrate.lint($$
-- migrate:allow drop-column, rename-column
ALTER TABLE accounts DROP COLUMN name, DROP COLUMN n;
-- migrate:allow all
ALTER TABLE accounts RENAME COLUMN email TO mail;
ALTER TABLE accounts RENAME COLUMN created TO created_at;
-- migrate:allow drop-column
ALTER TABLE orders ALTER COLUMN amount TYPE bigint;
$$) WHERE rule NOT IN ('lock-profile', 'lock-timeout-missing');

--
-- full messages and hints of a few findings
--
\x on
SELECT * FROM migrate.lint($$SET lock_timeout = '2s';
ALTER TABLE orders ADD COLUMN qty int NOT NULL;
ALTER TABLE orders ALTER COLUMN note SET NOT NULL;
CREATE INDEX orders_note_idx ON orders (note);
DROP TABLE empty_t;$$) WHERE rule <> 'lock-profile';
\x off

--
-- errors and edge cases
--
SELECT * FROM migrate.lint(NULL);
SELECT * FROM migrate.lint('');
SELECT * FROM migrate.lint('   ');
-- a comment only: nothing to report
SELECT * FROM migrate.lint('-- nothing here');
-- a syntax error names the statement and its line
SELECT * FROM migrate.lint(E'CREATE TABLE t1 (a int);\n\nCREATE TABEL t2 (b int);');
-- statement numbers and lines
SELECT statement_no, line, rule FROM migrate.lint(E'-- header\nSET lock_timeout = ''1s'';\n\nALTER TABLE orders\n  ADD COLUMN a int;  ALTER TABLE accounts ADD COLUMN b int;\n/* c */ TRUNCATE empty_t;');
-- a 1,000-statement script
SELECT count(*) AS findings, count(DISTINCT statement_no) AS statements,
       count(*) FILTER (WHERE rule = 'lock-profile') AS lock_profile_rows,
       count(*) FILTER (WHERE rule = 'drop-column') AS drop_column
  FROM migrate.lint((SELECT string_agg(format('ALTER TABLE orders ADD COLUMN c%s int; ALTER TABLE orders DROP COLUMN c%s', g, g), E';\n')
                       FROM generate_series(1, 500) g));
-- tables that do not exist yet: the lock profile says so, no crash
SELECT statement_no, rule, severity, lock_mode, relation, message FROM migrate.lint($$
ALTER TABLE no_such_table ADD COLUMN a int NOT NULL;
ALTER TABLE no_such_table ALTER COLUMN b TYPE bigint;
CREATE INDEX ON no_such_table (a);
DROP INDEX no_such_index;
ALTER TABLE no_such_table RENAME TO other;
CREATE TRIGGER tt BEFORE INSERT ON no_such_table FOR EACH ROW EXECUTE FUNCTION touch();
UPDATE no_such_table SET a = 1;
ALTER TABLE no_such_schema.t ADD COLUMN x int;
ALTER TABLE orders ALTER COLUMN no_such_column TYPE bigint;
$$);
-- lint reads the catalog only: nothing was changed
SELECT count(*) AS columns FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attnum > 0 AND NOT attisdropped;
SELECT to_regclass('lr.t1') IS NULL AS no_t1;

--
-- lock-timeout-missing: a script that turns the timeout off, or sets it only
-- after the strong lock, has no lock_timeout protecting that statement
--
-- Regression (fixed): lint.c counts any SET/RESET of lock_timeout anywhere in the script
-- (script_sets_lock_timeout), so SET lock_timeout = 0 (no timeout at all) hides the note
SELECT statement_no, rule, lock_mode, relation FROM migrate.lint($$SET lock_timeout = 0;
ALTER TABLE orders ADD COLUMN shipped boolean;$$) WHERE rule = 'lock-timeout-missing';
-- Regression (fixed): a SET lock_timeout after the statement hides the note too, although the
-- ALTER runs before it (and migrate.apply, seeing the script set its own
-- lock_timeout, does not apply migrate.lock_timeout to it either)
SELECT statement_no, rule, lock_mode, relation FROM migrate.lint($$ALTER TABLE orders ADD COLUMN shipped boolean;
SET lock_timeout = '2s';$$) WHERE rule = 'lock-timeout-missing';

RESET search_path;
DROP SCHEMA lr CASCADE;
