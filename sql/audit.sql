-- Audit capture: what migrate.audit_log holds for each operation and option,
-- partitions, tables without key, odd names, column types, app user and
-- migration tag, history / as-of / revert across real transactions, errors,
-- privileges.  Sections marked "Regression (fixed)" cover bugs found while writing them.
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, MDY';
SET migrate.allow_out_of_order = on;
CREATE FUNCTION log_of(tbl regclass) RETURNS TABLE (operation text, row_key jsonb, old_values jsonb,
    new_values jsonb, changed_columns text[], app_user text, migration_version text)
LANGUAGE sql AS $$
  SELECT operation, row_key, old_values, new_values, changed_columns, app_user, migration_version
    FROM migrate.audit_log WHERE relid = tbl ORDER BY id $$;
-- INSERT, UPDATE, DELETE, TRUNCATE with the default options
CREATE TABLE acct (id int PRIMARY KEY, name text, secret text);
SELECT migrate.audit_enable('acct', '{secret}');
INSERT INTO acct VALUES (1, 'ann', 's'), (2, 'bob', 's');
UPDATE acct SET name = 'anne' WHERE id = 1;
UPDATE acct SET name = name;      -- changes nothing: not logged
UPDATE acct SET secret = 'x';     -- only an excluded column: not logged
DELETE FROM acct WHERE id = 2;
TRUNCATE acct;
SELECT * FROM log_of('acct');
SELECT DISTINCT schema_name, table_name, txid IS NOT NULL AS has_txid, logged_at IS NOT NULL AS has_time,
       current_user_name = current_user AS by_me FROM migrate.audit_log WHERE relid = 'acct'::regclass;
-- every option; a second audit_enable reconfigures, with the same 3 triggers
SELECT migrate.audit_enable('acct', '{secret}', '{"log_unchanged_updates": true, "full_rows": true, "truncate_rows": true}');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'acct'::regclass ORDER BY 1;
INSERT INTO acct VALUES (1, 'ann', 's'), (2, 'bob', 's');
UPDATE acct SET name = 'anne' WHERE id = 1;
UPDATE acct SET name = name WHERE id = 1;
UPDATE acct SET secret = 'y' WHERE id = 1;
TRUNCATE acct;
SELECT operation, row_key, old_values, new_values, changed_columns FROM log_of('acct') OFFSET 5;
SELECT relid, exclude_columns, options, enabled_by = current_user AS by_me, triggers_present, logged_changes
  FROM migrate.audit_status();
-- a partitioned table: logged as itself; a move between partitions is one UPDATE
CREATE TABLE pt (id int, region text, v int, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE pt_a PARTITION OF pt FOR VALUES IN ('a');
CREATE TABLE pt_b PARTITION OF pt FOR VALUES IN ('b');
SELECT migrate.audit_enable('pt');
INSERT INTO pt VALUES (1, 'a', 1), (2, 'b', 2);
UPDATE pt SET region = 'b', v = 10 WHERE id = 1;
DELETE FROM pt WHERE id = 2;
SELECT l.operation, l.relid::regclass, l.table_name, l.row_key, l.old_values, l.new_values, l.changed_columns
  FROM migrate.audit_log l WHERE l.table_name LIKE 'pt%' ORDER BY l.id;
-- no primary key: the row key is the whole row
CREATE TABLE nopk (a int, b text);
SELECT migrate.audit_enable('nopk');
INSERT INTO nopk VALUES (1, 'x'), (2, NULL);
UPDATE nopk SET b = 'y' WHERE a = 2;
DELETE FROM nopk WHERE a = 1;
SELECT operation, row_key, old_values, new_values, changed_columns FROM log_of('nopk');
-- odd identifiers
CREATE SCHEMA "odd schema";
CREATE TABLE "odd schema"."Mixed Case" ("select" int PRIMARY KEY, "order" text, "Ünï ß" text, "we""ird" text);
SELECT migrate.audit_enable('"odd schema"."Mixed Case"', ARRAY['we"ird'], '{"truncate_rows": true}');
INSERT INTO "odd schema"."Mixed Case" VALUES (1, 'o', 'ü', 'w');
UPDATE "odd schema"."Mixed Case" SET "order" = 'p', "we""ird" = 'v';
TRUNCATE "odd schema"."Mixed Case";
SELECT schema_name, table_name, operation, row_key, old_values, new_values, changed_columns
  FROM migrate.audit_log WHERE relid = '"odd schema"."Mixed Case"'::regclass ORDER BY id;
-- column types
CREATE TABLE ty (id int8 PRIMARY KEY, i2 int2, i4 int4, num numeric, num_nan numeric, f8 float8, f8_inf float8,
                 b bool, t text, vc varchar(5), jb jsonb, u uuid, nul text);
SELECT migrate.audit_enable('ty');
INSERT INTO ty VALUES (9223372036854775807, -32768, 2147483647, 1.50, 'NaN', 0.25, '-Infinity', false, 'tëxt "q"',
                       'vc', '{"a": [1, {"b": null}]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', NULL);
SELECT l.new_values, l.new_values = to_jsonb(r) AS as_to_jsonb FROM log_of('ty') l, ty r;
-- migrate.app_user, the migration tag, savepoints
CREATE TABLE who (id int PRIMARY KEY, v text);
SELECT migrate.audit_enable('who');
BEGIN;
SET LOCAL migrate.app_user = 'alice';
INSERT INTO who VALUES (1, 'a');
SET LOCAL migrate.app_user = '';
INSERT INTO who VALUES (2, 'b');
SAVEPOINT s;
INSERT INTO who VALUES (3, 'rolled back');
ROLLBACK TO SAVEPOINT s;
SELECT migrate.apply('audit-1', 'audited change', 'UPDATE public.who SET v = ''m'' WHERE id = 2');
COMMIT;
UPDATE who SET v = 'n' WHERE id = 2;
SELECT operation, row_key, new_values, app_user, migration_version FROM log_of('who');
-- history, as-of and revert across transactions
CREATE TABLE hist (id int PRIMARY KEY, v text);
SELECT migrate.audit_enable('hist');
SELECT clock_timestamp() AS t0 \gset
INSERT INTO hist VALUES (1, 'a');
SELECT clock_timestamp() AS t1 \gset
UPDATE hist SET v = 'b';
SELECT clock_timestamp() AS t2 \gset
UPDATE hist SET v = 'c';
SELECT operation, old_values, new_values FROM migrate.audit_history('hist', '{"id": 1}');
SELECT migrate.audit_row_as_of('hist', '{"id": 1}', :'t0') AS before_creation,
       migrate.audit_row_as_of('hist', '{"id": 1}', :'t1') AS at_t1,
       migrate.audit_row_as_of('hist', '{"id": 1}', :'t2') AS at_t2;
\set VERBOSITY sqlstate
SELECT migrate.audit_revert('hist', '{"id": 1}', :'t1');  -- two later transactions
\set VERBOSITY terse
SELECT migrate.audit_revert('hist', '{"id": 1}', :'t2');  -- one later transaction
TABLE hist;
SELECT migrate.audit_revert('hist', '{"id": 1}', :'t1', force => true);
TABLE hist;
SELECT migrate.audit_revert('hist', '{"id": 1}', now());
SELECT clock_timestamp() AS t3 \gset
DELETE FROM hist;
SELECT migrate.audit_row_as_of('hist', '{"id": 1}', now()) AS now_deleted,
       migrate.audit_row_as_of('hist', '{"id": 1}', :'t3') AS before_delete;
SELECT migrate.audit_revert('hist', '{"id": 1}', :'t3');
TABLE hist;
SELECT migrate.audit_revert('hist', '{"id": 1}', :'t0', force => true);
TABLE hist;
INSERT INTO hist VALUES (2, 'x');
SELECT clock_timestamp() AS t4 \gset
TRUNCATE hist;
\set VERBOSITY sqlstate
SELECT migrate.audit_row_as_of('hist', '{"id": 2}', :'t4');  -- rows of the TRUNCATE not logged
\set VERBOSITY terse
-- bad input
CREATE VIEW hist_v AS SELECT * FROM hist;
SELECT migrate.audit_enable(NULL);
SELECT migrate.audit_enable('hist', NULL);
SELECT migrate.audit_enable('hist', '{}', NULL);
SELECT migrate.audit_enable('hist', '{nope}');
SELECT migrate.audit_enable('hist', '{}', '[]');
SELECT migrate.audit_enable('hist', '{}', '{"bogus": true}');
SELECT migrate.audit_enable('hist', '{}', '{"full_rows": "yes"}');
SELECT migrate.audit_enable('hist_v');
SELECT migrate.audit_enable('migrate.audit_log');
SELECT migrate.audit_enable(4000000000::oid::regclass);
SELECT migrate.audit_row_as_of('hist_v', '{"id": 1}', now());
-- audit_disable: nothing more is logged, the rows stay
SELECT migrate.audit_disable('acct');
INSERT INTO acct VALUES (3, 'cy', 's');
SELECT count(*) AS acct_rows, (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'acct'::regclass) AS triggers
  FROM migrate.audit_log WHERE relid = 'acct'::regclass;
SET client_min_messages = notice;
SELECT migrate.audit_disable('acct');
SET client_min_messages = warning;
-- privileges: a writer's changes are logged; the log is out of its reach
CREATE ROLE migrate_regress_audit_writer;
CREATE TABLE priv (id int PRIMARY KEY, v text);
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON priv TO migrate_regress_audit_writer;
SELECT migrate.audit_enable('priv');
SET ROLE migrate_regress_audit_writer;
INSERT INTO priv VALUES (1, 'a');
UPDATE priv SET v = 'b';
DELETE FROM priv;
TRUNCATE priv;
SELECT count(*) FROM migrate.audit_log;
UPDATE migrate.audit_log SET app_user = 'forged';
DELETE FROM migrate.audit_log;
TRUNCATE migrate.audit_log;
SELECT migrate.audit_disable('priv');
DROP TRIGGER migrate_audit ON priv;
RESET ROLE;
SELECT operation, current_user_name FROM migrate.audit_log WHERE relid = 'priv'::regclass ORDER BY id;
-- Regression (fixed): statements directly on a partition.  Their rows are written
-- at the next statement on the partitioned table or at COMMIT (README); the write at
-- COMMIT used to fail for want of a snapshot, and TRUNCATE of a partition is logged
INSERT INTO pt_a VALUES (3, 'a', 3);
TRUNCATE pt_a;
SELECT operation, relid::regclass, row_key, old_values, new_values FROM migrate.audit_log
 WHERE relid = 'pt'::regclass ORDER BY id OFFSET 4;
-- Regression (fixed): json, arrays and timestamptz are logged as to_jsonb renders them
-- (each column compared with its latest logged value)
CREATE TABLE ty2 (id int PRIMARY KEY, js json, arr int[], ts timestamptz, d date);
SELECT migrate.audit_enable('ty2');
SET DateStyle = 'SQL, DMY';
INSERT INTO ty2 VALUES (1, '{"b": [true]}', '{1,NULL}', '2024-01-02 03:04:05+00', '2024-01-02');
SELECT extract(epoch FROM clock_timestamp()) AS t5 \gset
UPDATE ty2 SET js = '[]', d = '2030-12-31';
SET DateStyle = 'ISO, MDY';
SELECT k, (SELECT l.new_values->k FROM migrate.audit_log l
            WHERE l.relid = 'ty2'::regclass AND l.new_values ? k ORDER BY l.id DESC LIMIT 1)
          = to_jsonb(r)->k AS as_to_jsonb
  FROM ty2 r, unnest('{js,arr,ts,d}'::text[]) AS k;
-- Regression (fixed): so a revert restores the json value and the date as they were
SELECT migrate.audit_revert('ty2', '{"id": 1}', to_timestamp(:t5));
SELECT js, d FROM ty2;
-- Regression (fixed): search_path: the trigger never calls functions planted by a writer
CREATE ROLE migrate_regress_audit_planter;
GRANT CREATE ON SCHEMA public TO migrate_regress_audit_planter;
GRANT INSERT ON priv TO migrate_regress_audit_planter;
CREATE TABLE planted_calls (fn text, by_role text);
GRANT INSERT ON planted_calls TO PUBLIC;
SET ROLE migrate_regress_audit_planter;
CREATE FUNCTION public.chr(integer) RETURNS text LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO public.planted_calls VALUES ('chr', current_user); RETURN pg_catalog.chr($1); END $$;
CREATE FUNCTION public.to_jsonb(anyelement) RETURNS jsonb LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO public.planted_calls VALUES ('to_jsonb', current_user); RETURN pg_catalog.to_jsonb($1); END $$;
RESET ROLE;
SELECT migrate.audit_enable('priv');
SET ROLE migrate_regress_audit_planter;
SET search_path = public, pg_catalog;
INSERT INTO priv VALUES (5, 'p');
RESET search_path;
RESET ROLE;
SELECT operation, row_key, new_values, current_user_name FROM migrate.audit_log
 WHERE relid = 'priv'::regclass ORDER BY id DESC LIMIT 1;
SELECT fn, by_role = current_user AS as_superuser FROM planted_calls;
-- clean up the roles
DROP OWNED BY migrate_regress_audit_planter, migrate_regress_audit_writer;
DROP ROLE migrate_regress_audit_planter, migrate_regress_audit_writer;
