-- Data migrations: migrate.copy_rows (keyset batches, each in a
-- subtransaction; a failing batch bisected down to its failing rows, which
-- are recorded in migrate.copy_errors; progress in migrate.copy_jobs; stop
-- errors raised; finished jobs not run again), migrate.copy_rows_each (the
-- same, committing per batch: only its refusal inside a transaction block can
-- be tested here) and migrate.reconcile (key sets of a source and a target
-- compared with GROUP BY and EXCEPT; duplicate and NULL keys reported).
-- The progress NOTICEs are checked by test/client/copy_rows_resume.sh.
-- Resuming after a stop cannot be tested in one transaction (the failing call
-- rolls back with its batches); a running job is simulated by setting its
-- copy_jobs row back to 'running'.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(201);

-- a copy_rows result without elapsed_ms and any key the API does not document
-- (the exact key set is tested once below)
CREATE FUNCTION pg_temp.dm_doc(r jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_object_agg(key, value) FROM jsonb_each(r)
	 WHERE key IN ('job', 'rows_read', 'rows_copied', 'rows_skipped', 'rows_failed', 'batches', 'state', 'resumed')
$$;
-- the SQLSTATE a statement raises (NULL when it succeeds); unlike throws_ok
-- it also catches query_canceled (57014)
CREATE FUNCTION pg_temp.dm_sqlstate(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN NULL;
EXCEPTION
	WHEN query_canceled THEN RETURN SQLSTATE;
	WHEN OTHERS THEN RETURN SQLSTATE;
END $$;

--
-- the API
--
SELECT is((SELECT prorettype::regtype::text FROM pg_proc
            WHERE oid = to_regprocedure('migrate.copy_rows(text, text, regclass, text[], integer, text)')),
          'jsonb', 'copy_rows(job, source_query, target, key_columns, batch_size, on_conflict) returns jsonb');
SELECT is((SELECT prokind::text FROM pg_proc
            WHERE oid = to_regprocedure('migrate.copy_rows_each(text, text, regclass, text[], integer, text)')),
          'p', 'copy_rows_each(job, source_query, target, key_columns, batch_size, on_conflict) is a procedure');
SELECT is((SELECT prorettype::regtype::text FROM pg_proc
            WHERE oid = to_regprocedure('migrate.reconcile(text, regclass, text[])')),
          'jsonb', 'reconcile(source_query, target, key_columns) returns jsonb');
SELECT is((SELECT pg_get_function_arguments(to_regprocedure('migrate.copy_rows(text, text, regclass, text[], integer, text)'))),
          'job text, source_query text, target regclass, key_columns text[], batch_size integer DEFAULT 10000, on_conflict text DEFAULT ''nothing''::text',
          'copy_rows: argument names and defaults');
SELECT columns_are('migrate', 'copy_jobs',
                   ARRAY['job', 'source', 'target', 'key_columns', 'batch_size', 'on_conflict', 'last_key', 'last_key_text', 'rows_read',
                         'rows_copied', 'rows_skipped', 'rows_failed', 'batches', 'started', 'updated', 'finished', 'state'],
                   'copy_jobs columns');
SELECT columns_are('migrate', 'copy_errors',
                   ARRAY['id', 'job', 'row_key', 'sqlstate', 'message', 'detail', 'row_data', 'logged_at'],
                   'copy_errors columns');

--
-- the data
--
CREATE TABLE dm_customers (id int PRIMARY KEY);
INSERT INTO dm_customers SELECT generate_series(1, 5);
CREATE TABLE dm_src (id int PRIMARY KEY, cust int, label text, amount int, made text);
INSERT INTO dm_src SELECT g, 1 + g % 5, 'label ' || g, g * 10, '2024-01-' || lpad(g::text, 2, '0')
  FROM generate_series(1, 25) g ORDER BY random();
-- the source query maps the columns to the target's names
CREATE TABLE dm_dst (key int PRIMARY KEY, customer_id int NOT NULL REFERENCES dm_customers, name text,
                     amount int CHECK (amount >= 0), made_at date, status text DEFAULT 'new');

--
-- a plain copy: 25 rows in batches of 10
--
CREATE TEMP TABLE r_basic AS
SELECT migrate.copy_rows('dm_basic', 'SELECT id AS key, cust AS customer_id, label AS name, amount, made::date AS made_at FROM dm_src',
                         'dm_dst', '{key}', 10) AS r;
SELECT is((SELECT pg_temp.dm_doc(r) FROM r_basic),
          '{"job": "dm_basic", "rows_read": 25, "rows_copied": 25, "rows_skipped": 0, "rows_failed": 0, "batches": 3,
            "state": "finished", "resumed": false}'::jsonb,
          'copy_rows returns the totals: 25 rows in 3 batches of at most 10');
SELECT is((SELECT array_agg(k ORDER BY k) FROM r_basic, jsonb_object_keys(r) k),
          '{batches,elapsed_ms,job,job_rows_copied,job_rows_failed,resumed,rows_copied,rows_failed,rows_read,rows_skipped,state}'::text[],
          'the result has exactly the documented keys');
SELECT ok((SELECT jsonb_typeof(r -> 'elapsed_ms') = 'number' AND (r ->> 'elapsed_ms')::numeric >= 0 FROM r_basic),
          'elapsed_ms is a number >= 0');
SELECT set_eq('SELECT key, customer_id, name, amount, made_at FROM dm_dst',
              'SELECT id, cust, label, amount, made::date FROM dm_src',
              'every row copied, the columns mapped by name');
SELECT is((SELECT array_agg(DISTINCT status) FROM dm_dst), '{new}'::text[],
          'a target column the source does not have gets its default');
SELECT is((SELECT (source, target, key_columns, batch_size, on_conflict, rows_read, rows_copied, rows_skipped, rows_failed, batches, state)
             FROM migrate.copy_jobs WHERE job = 'dm_basic'),
          ('SELECT id AS key, cust AS customer_id, label AS name, amount, made::date AS made_at FROM dm_src'::text,
           'public.dm_dst'::text, '{key}'::text[], 10, 'nothing'::text, 25::bigint, 25::bigint, 0::bigint, 0::bigint, 3::bigint, 'finished'::text),
          'copy_jobs: the job, its totals and state finished');
SELECT ok((SELECT started IS NOT NULL AND updated >= started AND finished >= started FROM migrate.copy_jobs WHERE job = 'dm_basic'),
          'copy_jobs: started, updated and finished are set');
SELECT is((SELECT last_key ->> 'key' FROM migrate.copy_jobs WHERE job = 'dm_basic'), '25',
          'copy_jobs: last_key is the key of the last row copied, {"key": ...}');
SELECT is((SELECT count(*) FROM migrate.copy_errors WHERE job = 'dm_basic'), 0::bigint, 'no copy_errors for a clean copy');
SELECT is((SELECT array_agg(kind ORDER BY id) FROM migrate.events
            WHERE kind LIKE 'copy\_%' AND (details ->> 'job' = 'dm_basic' OR message LIKE '%dm_basic%')),
          '{copy_started,copy_finished}'::text[],
          'events copy_started and copy_finished (no copy_rows_failed)');

-- a target whose NOT NULL columns are its primary key only (no foreign key)
CREATE TABLE dm_plain (key int PRIMARY KEY, name text);
SELECT is(pg_temp.dm_sqlstate($$SELECT migrate.copy_rows('dm_plain', 'SELECT id AS key, label AS name FROM dm_src', 'dm_plain', '{key}', 10)$$),
          NULL, 'a target with NOT NULL columns and no foreign key');

-- the progress NOTICE every migrate.copy_notice_batches batches (its text is
-- checked by test/client/copy_rows_resume.sh: pgTAP cannot see NOTICEs)
SELECT is(current_setting('migrate.copy_notice_batches'), '10', 'migrate.copy_notice_batches defaults to 10');
SELECT lives_ok($$SET LOCAL migrate.copy_notice_batches = 0$$, 'migrate.copy_notice_batches = 0 (no NOTICE) is accepted');
SELECT throws_ok($$SET LOCAL migrate.copy_notice_batches = -1$$, '22023', NULL, 'migrate.copy_notice_batches = -1 is refused with 22023');
RESET migrate.copy_notice_batches;

--
-- a finished job called again does nothing
--
INSERT INTO dm_src SELECT g, 1 + g % 5, 'label ' || g, g * 10, '2024-01-' || lpad(g::text, 2, '0') FROM generate_series(26, 30) g;
SELECT is(pg_temp.dm_doc(migrate.copy_rows('dm_basic', 'SELECT id AS key, cust AS customer_id, label AS name, amount, made::date AS made_at FROM dm_src',
                            'dm_dst', '{key}', 10)),
          '{"job": "dm_basic", "rows_read": 25, "rows_copied": 25, "rows_skipped": 0, "rows_failed": 0, "batches": 3,
            "state": "finished", "resumed": true}'::jsonb,
          'a finished job called again returns its totals, state finished, resumed');
SELECT is((SELECT count(*) FROM dm_dst), 25::bigint, '... and copies nothing (the source rows added since are not copied)');
SELECT is((SELECT (rows_read, rows_copied, batches, state) FROM migrate.copy_jobs WHERE job = 'dm_basic'),
          (25::bigint, 25::bigint, 3::bigint, 'finished'::text), '... and its copy_jobs row is unchanged');

--
-- a job name is one copy: another source, target or key is refused
--
CREATE TABLE dm_dst2 (LIKE dm_dst INCLUDING ALL);
SELECT throws_ok($$SELECT migrate.copy_rows('dm_basic', 'SELECT id AS key FROM dm_src', 'dm_dst', '{key}', 10)$$,
                 '22023', NULL, 'an existing job with another source query is refused');
SELECT throws_ok($$SELECT migrate.copy_rows('dm_basic', 'SELECT id AS key, cust AS customer_id, label AS name, amount, made::date AS made_at FROM dm_src',
                                            'dm_dst2', '{key}', 10)$$,
                 '22023', NULL, 'an existing job with another target is refused');
SELECT throws_ok($$SELECT migrate.copy_rows('dm_basic', 'SELECT id AS key, cust AS customer_id, label AS name, amount, made::date AS made_at FROM dm_src',
                                            'dm_dst', '{key,name}', 10)$$,
                 '22023', NULL, 'an existing job with other key columns is refused');

--
-- ON CONFLICT DO NOTHING: a new job over copied rows copies only the new ones
--
SELECT is(pg_temp.dm_doc(migrate.copy_rows('dm_again1', 'SELECT id AS key, cust AS customer_id, label AS name, amount, made::date AS made_at FROM dm_src',
                            'dm_dst', '{key}', 10)),
          '{"job": "dm_again1", "rows_read": 30, "rows_copied": 5, "rows_skipped": 25, "rows_failed": 0, "batches": 3,
            "state": "finished", "resumed": false}'::jsonb,
          'on_conflict nothing: the 25 rows already there are skipped, the 5 new ones copied');
SELECT is(pg_temp.dm_doc(migrate.copy_rows('dm_again2', 'SELECT id AS key, cust AS customer_id, label AS name, amount, made::date AS made_at FROM dm_src',
                            'dm_dst', '{key}', 10)),
          '{"job": "dm_again2", "rows_read": 30, "rows_copied": 0, "rows_skipped": 30, "rows_failed": 0, "batches": 3,
            "state": "finished", "resumed": false}'::jsonb,
          'on_conflict nothing: a third run copies nothing (idempotent)');
SELECT is((SELECT count(*) FROM dm_dst), 30::bigint, '... and the target has each row once');
SELECT is((SELECT count(*) FROM migrate.copy_errors WHERE job IN ('dm_again1', 'dm_again2')), 0::bigint,
          '... and rows already present are not errors');

-- on_conflict nothing skips the rows whose KEY is already there; a new key
-- that breaks another unique constraint is a failed row (23505)
CREATE TABLE dm_u_src (id int PRIMARY KEY, email text);
INSERT INTO dm_u_src SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 20) g;
CREATE TABLE dm_u_dst (id int PRIMARY KEY, email text UNIQUE);
SELECT is(migrate.copy_rows('dm_u1', 'SELECT id, email FROM dm_u_src WHERE id <= 10', 'dm_u_dst', '{id}', 4) ->> 'rows_copied', '10',
          'unique e-mails: the first 10 users copied');
UPDATE dm_u_src SET email = 'user3@example.com' WHERE id = 15;   -- a new id, an e-mail already copied
UPDATE dm_u_src SET email = 'user4@example.com' WHERE id = 6;    -- an id already copied (its e-mail changed since)
SELECT is(pg_temp.dm_doc(migrate.copy_rows('dm_u2', 'SELECT id, email FROM dm_u_src', 'dm_u_dst', '{id}', 4)),
          '{"job": "dm_u2", "rows_read": 20, "rows_copied": 9, "rows_skipped": 10, "rows_failed": 1, "batches": 5,
            "state": "finished", "resumed": false}'::jsonb,
          'on_conflict nothing, re-run: the 10 ids already there skipped, the new id with a taken e-mail failed, 9 copied');
SELECT results_eq($$SELECT row_key, sqlstate, message, detail, row_data FROM migrate.copy_errors WHERE job = 'dm_u2'$$,
                  $$VALUES ('{"id": 15}'::jsonb, '23505'::text, 'duplicate key value violates unique constraint "dm_u_dst_email_key"'::text,
                            'Key (email)=(user3@example.com) already exists.'::text, '{"id": 15, "email": "user3@example.com"}'::jsonb)$$,
                  '... the e-mail collision recorded in copy_errors with 23505, its message, detail and row');
SELECT is((SELECT array_agg(id ORDER BY id) FROM dm_u_dst), (SELECT array_agg(g ORDER BY g) FROM generate_series(1, 20) g WHERE g <> 15),
          '... every other id is in the target once');
SELECT is((SELECT email FROM dm_u_dst WHERE id = 6), 'user6@example.com', '... and a skipped row is left as it was');
SELECT is(pg_temp.dm_doc(migrate.copy_rows('dm_u3', 'SELECT id, email FROM dm_u_src', 'dm_u_dst', '{id}', 4)),
          '{"job": "dm_u3", "rows_read": 20, "rows_copied": 0, "rows_skipped": 19, "rows_failed": 1, "batches": 5,
            "state": "finished", "resumed": false}'::jsonb,
          'a third run: the 19 ids there skipped, the collision fails again (not counted as already present)');
-- the key's unique index in another column order, or with INCLUDE columns, is the key's
CREATE TABLE dm_u_rev (region text, num int, v text, PRIMARY KEY (num, region));
CREATE TABLE dm_u_inc (id int, email text);
CREATE UNIQUE INDEX dm_u_inc_id ON dm_u_inc (id) INCLUDE (email);
SELECT is((SELECT array_agg(r ->> 'rows_skipped' ORDER BY n)
             FROM (SELECT 1, migrate.copy_rows('dm_u_rev1', $$SELECT * FROM (VALUES ('a', 1, 'x'), ('b', 1, 'y')) t(region, num, v)$$, 'dm_u_rev', '{region,num}')
                   UNION ALL
                   SELECT 2, migrate.copy_rows('dm_u_rev2', $$SELECT * FROM (VALUES ('a', 1, 'x'), ('b', 1, 'y'), ('c', 1, 'z')) t(region, num, v)$$, 'dm_u_rev', '{region,num}')
                   UNION ALL
                   SELECT 3, migrate.copy_rows('dm_u_inc1', 'SELECT id, email FROM dm_u_src WHERE id <= 3', 'dm_u_inc', '{id}')
                   UNION ALL
                   SELECT 4, migrate.copy_rows('dm_u_inc2', 'SELECT id, email FROM dm_u_src WHERE id <= 5', 'dm_u_inc', '{id}')) c (n, r)),
          '{0,2,0,3}'::text[], 'a primary key (num, region) for the key {region,num}, and a unique index on id INCLUDE (email): rows already there skipped');
-- without a unique index on the key the key cannot say what is "already
-- there": a row that meets any unique constraint is (S3: UUID primary key
-- made from the legacy id, the key the legacy id, a re-run under a new job)
CREATE TABLE dm_u_nokey (id int, email text UNIQUE);
SELECT is(migrate.copy_rows('dm_u_nk1', 'SELECT id, email FROM dm_u_src WHERE id <= 5', 'dm_u_nokey', '{id}', 2) ->> 'rows_copied', '5',
          'a target whose only unique index is not on the key: 5 rows copied');
SELECT is(pg_temp.dm_doc(migrate.copy_rows('dm_u_nk2', 'SELECT id, email FROM dm_u_src WHERE id <= 5 OR id = 7', 'dm_u_nokey', '{id}', 2)),
          '{"job": "dm_u_nk2", "rows_read": 6, "rows_copied": 1, "rows_skipped": 5, "rows_failed": 0, "batches": 3,
            "state": "finished", "resumed": false}'::jsonb,
          '... copied again by a new job: the 5 rows there skipped (any unique constraint, without one on the key), the new one copied');
SELECT is((SELECT count(*) FROM migrate.copy_errors WHERE job = 'dm_u_nk2'), 0::bigint, '... and nothing recorded as failed');
-- ON CONFLICT with a conflict target needs SELECT on the key columns: a role
-- that may only INSERT into the target re-runs a job all the same
CREATE ROLE mg_dm_inserter NOLOGIN;
CREATE TABLE dm_u_ins (id int PRIMARY KEY, email text);
INSERT INTO dm_u_ins SELECT id, email FROM dm_u_src WHERE id <= 5;
GRANT SELECT ON dm_u_src TO mg_dm_inserter;
GRANT INSERT ON dm_u_ins TO mg_dm_inserter;
GRANT USAGE ON SCHEMA migrate TO mg_dm_inserter;
GRANT EXECUTE ON FUNCTION migrate.copy_rows(text, text, regclass, text[], integer, text) TO mg_dm_inserter;
SET LOCAL ROLE mg_dm_inserter;
SELECT is((SELECT (r ->> 'rows_copied', r ->> 'rows_skipped', r ->> 'rows_failed')
             FROM migrate.copy_rows('dm_u_ins1', 'SELECT id, email FROM dm_u_src WHERE id <= 8', 'dm_u_ins', '{id}', 4) r),
          ('3'::text, '5'::text, '0'::text),
          'a role with INSERT but not SELECT on the target: the 5 rows there skipped, 3 copied (no 42501)');
RESET ROLE;

--
-- on_conflict error: a duplicate key is a row error
--
CREATE TABLE dm_dst_e (LIKE dm_dst INCLUDING ALL);
INSERT INTO dm_dst_e (key, customer_id, name) SELECT g, 1, 'kept ' || g FROM generate_series(1, 5) g;
SELECT is(pg_temp.dm_doc(migrate.copy_rows('dm_err', 'SELECT id AS key, cust AS customer_id, label AS name, amount, made::date AS made_at FROM dm_src',
                            'dm_dst_e', '{key}', 10, 'error')),
          '{"job": "dm_err", "rows_read": 30, "rows_copied": 25, "rows_skipped": 0, "rows_failed": 5, "batches": 3,
            "state": "finished", "resumed": false}'::jsonb,
          'on_conflict error: the 5 rows already there fail, the other 25 are copied');
SELECT results_eq($$SELECT row_key, sqlstate FROM migrate.copy_errors WHERE job = 'dm_err' ORDER BY (row_key ->> 'key')::int$$,
                  $$SELECT jsonb_build_object('key', g), '23505'::text FROM generate_series(1, 5) g$$,
                  'on_conflict error: each duplicate recorded with its key and 23505');
SELECT ok((SELECT bool_and(message LIKE 'duplicate key value violates unique constraint%' AND detail LIKE 'Key (key)=(%) already exists.')
             FROM migrate.copy_errors WHERE job = 'dm_err'),
          '... with the message and detail of the error');
SELECT is((SELECT array_agg(name ORDER BY key) FROM dm_dst_e WHERE key <= 5), '{"kept 1","kept 2","kept 3","kept 4","kept 5"}'::text[],
          '... and the rows already there are left as they were');
SELECT is((SELECT on_conflict FROM migrate.copy_jobs WHERE job = 'dm_err'), 'error', 'copy_jobs records on_conflict');

--
-- row errors: NOT NULL, foreign key, CHECK; only the failing rows are skipped
--
CREATE TABLE dm_bad_src AS SELECT * FROM dm_src WHERE id <= 25;
UPDATE dm_bad_src SET cust = NULL WHERE id = 3;     -- 23502
UPDATE dm_bad_src SET cust = 99 WHERE id = 7;       -- 23503
UPDATE dm_bad_src SET amount = -1 WHERE id = 12;    -- 23514
CREATE TABLE dm_dst_b (key int PRIMARY KEY, customer_id int NOT NULL REFERENCES dm_customers, name text,
                       amount int CONSTRAINT dm_amount_positive CHECK (amount >= 0), made_at date);
SELECT is(pg_temp.dm_doc(migrate.copy_rows('dm_bad', 'SELECT id AS key, cust AS customer_id, label AS name, amount, made::date AS made_at FROM dm_bad_src',
                            'dm_dst_b', '{key}', 10)),
          '{"job": "dm_bad", "rows_read": 25, "rows_copied": 22, "rows_skipped": 0, "rows_failed": 3, "batches": 3,
            "state": "finished", "resumed": false}'::jsonb,
          'three failing rows: 22 copied, 3 failed, still 3 batches (bisection does not add batches)');
SELECT is((SELECT array_agg(key ORDER BY key) FROM dm_dst_b),
          (SELECT array_agg(g ORDER BY g) FROM generate_series(1, 25) g WHERE g NOT IN (3, 7, 12)),
          'the good rows of the failing batches are copied, only the failing rows skipped');
SELECT results_eq($$SELECT row_key, sqlstate FROM migrate.copy_errors WHERE job = 'dm_bad' ORDER BY (row_key ->> 'key')::int$$,
                  $$VALUES ('{"key": 3}'::jsonb, '23502'::text), ('{"key": 7}', '23503'), ('{"key": 12}', '23514')$$,
                  'each failing row recorded with its key (an object of key column -> value) and SQLSTATE');
SELECT is((SELECT message FROM migrate.copy_errors WHERE job = 'dm_bad' AND row_key = '{"key": 3}'),
          'null value in column "customer_id" of relation "dm_dst_b" violates not-null constraint', 'NOT NULL: the message');
SELECT ok((SELECT detail LIKE 'Failing row contains (3, null, label 3, 30, 2024-01-03).' FROM migrate.copy_errors WHERE job = 'dm_bad' AND row_key = '{"key": 3}'),
          'NOT NULL: the detail');
SELECT is((SELECT (message, detail) FROM migrate.copy_errors WHERE job = 'dm_bad' AND row_key = '{"key": 7}'),
          ('insert or update on table "dm_dst_b" violates foreign key constraint "dm_dst_b_customer_id_fkey"'::text,
           'Key (customer_id)=(99) is not present in table "dm_customers".'::text),
          'foreign key: the message and detail');
SELECT is((SELECT message FROM migrate.copy_errors WHERE job = 'dm_bad' AND row_key = '{"key": 12}'),
          'new row for relation "dm_dst_b" violates check constraint "dm_amount_positive"', 'CHECK: the message');
SELECT is((SELECT row_data FROM migrate.copy_errors WHERE job = 'dm_bad' AND row_key = '{"key": 7}'),
          '{"key": 7, "customer_id": 99, "name": "label 7", "amount": 70, "made_at": "2024-01-07"}'::jsonb,
          'row_data is the source row as to_jsonb (the source query''s column names)');
SELECT is((SELECT row_data FROM migrate.copy_errors WHERE job = 'dm_bad' AND row_key = '{"key": 3}'),
          '{"key": 3, "customer_id": null, "name": "label 3", "amount": 30, "made_at": "2024-01-03"}'::jsonb,
          'row_data keeps the NULL that failed');
SELECT ok((SELECT bool_and(id IS NOT NULL AND logged_at IS NOT NULL) FROM migrate.copy_errors WHERE job = 'dm_bad'),
          'copy_errors: id and logged_at set');
SELECT is((SELECT (rows_failed, rows_copied, state) FROM migrate.copy_jobs WHERE job = 'dm_bad'), (3::bigint, 22::bigint, 'finished'::text),
          'copy_jobs counts the failed rows');
SELECT is((SELECT array_agg(severity) FROM migrate.events
            WHERE kind = 'copy_rows_failed' AND (details ->> 'job' = 'dm_bad' OR message LIKE '%dm_bad%')),
          '{warning}'::text[], 'a copy_rows_failed warning event when rows failed');
SELECT is((SELECT count(*) FROM migrate.events WHERE kind = 'copy_finished' AND (details ->> 'job' = 'dm_bad' OR message LIKE '%dm_bad%')),
          1::bigint, '... and still a copy_finished event');
SELECT is(migrate.reconcile('SELECT id AS key FROM dm_bad_src', 'dm_dst_b', '{key}'),
          '{"source_count": 25, "source_keys": 25, "target_count": 22, "matched": 22, "missing_in_target": 3, "missing_keys": [3, 7, 12],
            "extra_in_target": 0, "extra_keys": [], "success_rate": 88.00, "duplicate_source_keys": 0, "duplicate_keys": [], "null_keys_in_source": 0, "null_keys_in_target": 0}'::jsonb,
          'reconcile after the copy: the three failed keys are missing, success_rate 88.00');

-- what PostgreSQL accepts is copied: a foreign key to a partitioned table, a
-- NOT NULL column of a row type holding ROW(NULL, NULL) (not a NULL value)
CREATE TABLE dm_pcust (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE dm_pcust_1 PARTITION OF dm_pcust FOR VALUES FROM (1) TO (1000);
INSERT INTO dm_pcust SELECT generate_series(1, 5);
CREATE TABLE dm_pfk (key int PRIMARY KEY, customer_id int NOT NULL REFERENCES dm_pcust);
SELECT is((SELECT (r ->> 'rows_copied', r ->> 'rows_failed')
             FROM migrate.copy_rows('dm_partfk', 'SELECT id AS key, cust AS customer_id FROM dm_bad_src', 'dm_pfk', '{key}', 10) r),
          ('23'::text, '2'::text), 'a foreign key to a partitioned table: the rows it accepts are copied');
SELECT results_eq($$SELECT row_key, sqlstate FROM migrate.copy_errors WHERE job = 'dm_partfk' ORDER BY (row_key ->> 'key')::int$$,
                  $$VALUES ('{"key": 3}'::jsonb, '23502'::text), ('{"key": 7}', '23503')$$,
                  '... and only the NULL and the unknown customer fail');
CREATE TYPE dm_pair AS (a int, b int);
CREATE TABLE dm_rowt (key int PRIMARY KEY, customer_id int REFERENCES dm_customers, p dm_pair NOT NULL);
SELECT is((SELECT (r ->> 'rows_copied', r ->> 'rows_failed')
             FROM migrate.copy_rows('dm_rowtype', 'SELECT id AS key, cust AS customer_id, ROW(NULL, NULL)::dm_pair AS p FROM dm_src', 'dm_rowt', '{key}', 10) r),
          ('30'::text, '0'::text), 'a NOT NULL column of a row type holding ROW(NULL, NULL): copied, as INSERT does');

--
-- bisection: 14 failing rows scattered in one batch of 100 (the default batch size)
--
CREATE TABLE dm_many (id int PRIMARY KEY, amount int);
INSERT INTO dm_many SELECT g, CASE WHEN g % 7 = 3 THEN -g ELSE g END FROM generate_series(1, 100) g;
CREATE TABLE dm_many_dst (key int PRIMARY KEY, amount int CHECK (amount >= 0));
SELECT is(pg_temp.dm_doc(migrate.copy_rows('dm_many', 'SELECT id AS key, amount FROM dm_many', 'dm_many_dst', '{key}')),
          '{"job": "dm_many", "rows_read": 100, "rows_copied": 86, "rows_skipped": 0, "rows_failed": 14, "batches": 1,
            "state": "finished", "resumed": false}'::jsonb,
          '14 failing rows in one batch (default batch_size): 86 copied, 14 failed');
SELECT is((SELECT array_agg((row_key ->> 'key')::int ORDER BY (row_key ->> 'key')::int) FROM migrate.copy_errors WHERE job = 'dm_many'),
          (SELECT array_agg(g ORDER BY g) FROM generate_series(1, 100) g WHERE g % 7 = 3),
          'exactly the failing rows recorded, each once');
SELECT is((SELECT count(*) FROM dm_many_dst WHERE key % 7 <> 3), 86::bigint, 'every good row copied');
SELECT is((SELECT batch_size FROM migrate.copy_jobs WHERE job = 'dm_many'), 10000, 'batch_size defaults to 10000');

--
-- errors raised while inserting a row: row errors are recorded, the others stop the job
--
CREATE TABLE dm_trg (key int PRIMARY KEY, name text, code text);
CREATE FUNCTION dm_trg_raise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.code = 'sleep' THEN
		PERFORM pg_sleep(2);
	ELSIF NEW.code IS NOT NULL THEN
		RAISE EXCEPTION 'dm boom at %', NEW.key USING ERRCODE = NEW.code, DETAIL = 'code ' || NEW.code;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER dm_trg_raise BEFORE INSERT ON dm_trg FOR EACH ROW EXECUTE FUNCTION dm_trg_raise();
SELECT is(migrate.copy_rows('dm_trg_row', $$SELECT id AS key, label AS name, CASE WHEN id IN (4, 17) THEN '22012' END AS code FROM dm_src$$,
                            'dm_trg', '{key}', 10) ->> 'rows_failed',
          '2', 'an error raised by a trigger (22012) is a row error');
SELECT results_eq($$SELECT row_key, sqlstate, message, detail FROM migrate.copy_errors WHERE job = 'dm_trg_row' ORDER BY id$$,
                  $$VALUES ('{"key": 4}'::jsonb, '22012'::text, 'dm boom at 4'::text, 'code 22012'::text),
                           ('{"key": 17}', '22012', 'dm boom at 17', 'code 22012')$$,
                  '... recorded with its SQLSTATE, message and detail, in key order');
SELECT is((SELECT count(*) FROM dm_trg), 28::bigint, '... and the other 28 rows copied');
-- an error computing one source row is that row's error too
CREATE TABLE dm_div_dst (key int PRIMARY KEY, amount int);
SELECT is(pg_temp.dm_sqlstate($$SELECT migrate.copy_rows('dm_srcerr', 'SELECT id AS key, 100 / (id - 5) AS amount FROM dm_src', 'dm_div_dst', '{key}', 10)$$),
          NULL, 'an error computing one source row (division by zero) does not stop the job');
SELECT is((SELECT array_agg(sqlstate || ' ' || (row_key ->> 'key')) FROM migrate.copy_errors WHERE job = 'dm_srcerr'), '{"22012 5"}'::text[],
          '... it is recorded as that row''s error');
SELECT is((SELECT count(*) FROM dm_div_dst), 29::bigint, '... and the other 29 rows are copied');
DELETE FROM dm_trg;
SELECT throws_ok(format($$SELECT migrate.copy_rows('dm_stop_%s', 'SELECT id AS key, label AS name, CASE WHEN id = 14 THEN ''%s'' END AS code FROM dm_src',
                                                   'dm_trg', '{key}', 10)$$, code, code),
                 code, NULL, format('%s (%s) is not a row error: copy_rows raises it', code, what))
  FROM (VALUES ('55P03', 'lock_not_available'), ('40001', 'serialization_failure'), ('40P01', 'deadlock_detected'),
               ('53100', 'disk_full'), ('53200', 'out_of_memory'), ('08006', 'connection_failure'),
               ('57P01', 'admin_shutdown'), ('58030', 'io_error'), ('XX000', 'internal_error')) AS c (code, what);
SELECT is((SELECT count(*) FROM migrate.copy_errors WHERE job LIKE 'dm\_stop\_%'), 0::bigint,
          'a stop error records nothing in copy_errors');
-- statement_timeout cancels a batch: 57014 is raised, not recorded
SET LOCAL statement_timeout = '400ms';
SELECT is(pg_temp.dm_sqlstate($$SELECT migrate.copy_rows('dm_timeout', 'SELECT id AS key, label AS name, CASE WHEN id = 14 THEN ''sleep'' END AS code FROM dm_src',
                                                         'dm_trg', '{key}', 10)$$),
          '57014', 'a batch cancelled by statement_timeout stops the job with 57014');
SET LOCAL statement_timeout = 0;
SELECT is((SELECT count(*) FROM migrate.copy_errors WHERE job = 'dm_timeout' OR sqlstate = '57014'), 0::bigint,
          '... and no row is recorded as failed with 57014');

--
-- resume: a job left running (as after a stop) continues after last_key
--
CREATE TABLE dm_rsrc (id int PRIMARY KEY, label text);
INSERT INTO dm_rsrc SELECT g, 'r' || g FROM generate_series(1, 10) g;
CREATE TABLE dm_rdst (key int PRIMARY KEY, name text);
SELECT is(migrate.copy_rows('dm_resume', 'SELECT id AS key, label AS name FROM dm_rsrc', 'dm_rdst', '{key}', 4) ->> 'rows_copied',
          '10', 'resume: the first run copies 10 rows');
INSERT INTO dm_rsrc SELECT g, 'r' || g FROM generate_series(11, 17) g;
UPDATE migrate.copy_jobs SET state = 'running', finished = NULL WHERE job = 'dm_resume';   -- as if stopped after its last batch
CREATE TEMP TABLE r_resume AS
SELECT migrate.copy_rows('dm_resume', 'SELECT id AS key, label AS name FROM dm_rsrc', 'dm_rdst', '{key}', 4) AS r;
SELECT is((SELECT (r ->> 'state', r ->> 'resumed', r ->> 'rows_skipped', r ->> 'rows_failed') FROM r_resume),
          ('finished'::text, 'true'::text, '0'::text, '0'::text),
          'resume: a running job continues, resumed true, no row read again (none skipped)');
SELECT is((SELECT array_agg(key ORDER BY key) FROM dm_rdst), (SELECT array_agg(g ORDER BY g) FROM generate_series(1, 17) g),
          'resume: the rows after last_key are copied');
SELECT is((SELECT (rows_read, rows_copied, rows_skipped, state) FROM migrate.copy_jobs WHERE job = 'dm_resume'),
          (17::bigint, 17::bigint, 0::bigint, 'finished'::text), 'resume: copy_jobs totals cover both calls');
SELECT is((SELECT last_key ->> 'key' FROM migrate.copy_jobs WHERE job = 'dm_resume'), '17', 'resume: last_key moved on');

--
-- NULL keys are reported, not dropped
--
CREATE TABLE dm_nsrc (id int, label text);
INSERT INTO dm_nsrc VALUES (1, 'a'), (NULL, 'n1'), (2, 'b'), (NULL, 'n2'), (3, 'c');
CREATE TABLE dm_ndst (key int PRIMARY KEY, name text);
CREATE TEMP TABLE r_null AS
SELECT migrate.copy_rows('dm_null', 'SELECT id AS key, label AS name FROM dm_nsrc', 'dm_ndst', '{key}', 2) AS r;
SELECT is((SELECT (r ->> 'rows_copied', r ->> 'rows_failed') FROM r_null), ('3'::text, '2'::text),
          'rows with a NULL key: counted in rows_failed');
SELECT is((SELECT (r ->> 'rows_read')::int FROM r_null),
          (SELECT (r ->> 'rows_copied')::int + (r ->> 'rows_skipped')::int + (r ->> 'rows_failed')::int FROM r_null),
          'rows_read = rows_copied + rows_skipped + rows_failed (NULL keys are read rows too)');
SELECT results_eq($$SELECT row_key, sqlstate, row_data FROM migrate.copy_errors WHERE job = 'dm_null' ORDER BY row_data ->> 'name'$$,
                  $$VALUES ('{"key": null}'::jsonb, '22004'::text, '{"key": null, "name": "n1"}'::jsonb),
                           ('{"key": null}', '22004', '{"key": null, "name": "n2"}')$$,
                  'each NULL-key row recorded with 22004, its key and its data');
SELECT ok((SELECT bool_and(message IS NOT NULL AND message <> '') FROM migrate.copy_errors WHERE job = 'dm_null'),
          '... with a message');

--
-- composite keys
--
CREATE TABLE dm_csrc (region text, num int, val text);
INSERT INTO dm_csrc SELECT r, n, CASE WHEN (r, n) = ('b', 3) THEN 'bad' ELSE r || n END
  FROM unnest('{c,a,b}'::text[]) r, generate_series(8, 1, -1) n ORDER BY random();
INSERT INTO dm_csrc VALUES ('c', NULL, 'null num');
CREATE TABLE dm_cdst (region text, num int, val text CHECK (val <> 'bad'), PRIMARY KEY (region, num));
CREATE TEMP TABLE r_comp AS
SELECT migrate.copy_rows('dm_comp', 'SELECT region, num, val FROM dm_csrc', 'dm_cdst', '{region,num}', 5) AS r;
SELECT is((SELECT pg_temp.dm_doc(r) FROM r_comp),
          '{"job": "dm_comp", "rows_read": 25, "rows_copied": 23, "rows_skipped": 0, "rows_failed": 2, "batches": 5,
            "state": "finished", "resumed": false}'::jsonb,
          'composite key: 24 keyed rows in 5 batches across the regions, 1 CHECK failure, 1 NULL key part');
SELECT set_eq('SELECT region, num, val FROM dm_cdst',
              $$SELECT region, num, val FROM dm_csrc WHERE num IS NOT NULL AND val <> 'bad'$$,
              'composite key: every good row copied once (the keyset compares the whole key)');
SELECT results_eq($$SELECT row_key, sqlstate FROM migrate.copy_errors WHERE job = 'dm_comp' ORDER BY sqlstate$$,
                  $$VALUES ('{"region": "c", "num": null}'::jsonb, '22004'::text), ('{"region": "b", "num": 3}', '23514')$$,
                  'composite key: row_key is an object of each key column');
SELECT is((SELECT (last_key ->> 'region', last_key ->> 'num') FROM migrate.copy_jobs WHERE job = 'dm_comp'), ('c'::text, '8'::text),
          'composite key: last_key holds the whole last key');

--
-- other key types, quoted names, another schema
--
SET LOCAL TimeZone = 'America/St_Johns';
CREATE TABLE dm_tsrc (t timestamptz PRIMARY KEY, v int);
INSERT INTO dm_tsrc SELECT timestamptz '2024-03-10 01:59:59.999999+00' + g * interval '1.000001 seconds', g FROM generate_series(1, 10) g;
CREATE TABLE dm_tdst (t timestamptz PRIMARY KEY, v int);
SELECT is((SELECT (r ->> 'rows_copied', r ->> 'rows_skipped', r ->> 'batches')
             FROM migrate.copy_rows('dm_ts', 'SELECT t, v FROM dm_tsrc', 'dm_tdst', '{t}', 3) r),
          ('10'::text, '0'::text, '4'::text), 'a timestamptz key with microseconds: every row once, 4 batches');
SELECT set_eq('SELECT t, v FROM dm_tdst', 'SELECT t, v FROM dm_tsrc', '... the same rows');
CREATE TABLE dm_xsrc (k text PRIMARY KEY);
INSERT INTO dm_xsrc VALUES ('a'), ('B'), ('c'), ('D'), ('e e'), ('''q'''), ('"x"'), ('z,1');
CREATE TABLE dm_xdst (k text PRIMARY KEY);
SELECT is((SELECT (r ->> 'rows_copied', r ->> 'rows_skipped') FROM migrate.copy_rows('dm_text', 'SELECT k FROM dm_xsrc', 'dm_xdst', '{k}', 3) r),
          ('8'::text, '0'::text), 'a text key with quotes, commas and mixed case: every row once');
CREATE SCHEMA "dm Schema";
CREATE TABLE "dm Schema"."Dst T" ("Order Id" int PRIMARY KEY, "Value" text, note text DEFAULT 'dflt');
SELECT is(migrate.copy_rows('dm_quoted', 'SELECT id AS "Order Id", label AS "Value" FROM dm_src WHERE id <= 12',
                            '"dm Schema"."Dst T"', ARRAY['Order Id'], 5) ->> 'batches',
          '3', 'quoted table and column names: 12 rows in 3 batches');
SELECT is((SELECT count(*) FROM "dm Schema"."Dst T" WHERE note = 'dflt' AND "Value" = 'label ' || "Order Id"), 12::bigint,
          '... all copied, the column missing from the source defaulted');
SELECT is((SELECT target FROM migrate.copy_jobs WHERE job = 'dm_quoted'), '"dm Schema"."Dst T"',
          'copy_jobs.target is the qualified, quoted name');
RESET TimeZone;
-- a resumed job reads its last key back whatever the session's settings
SET LOCAL DateStyle = 'SQL, MDY';
CREATE TABLE dm_dsrc (d date PRIMARY KEY, v int);
INSERT INTO dm_dsrc SELECT date '2024-03-01' + g, g FROM generate_series(0, 9) g;
CREATE TABLE dm_ddst (d date PRIMARY KEY, v int);
SELECT is(migrate.copy_rows('dm_date', 'SELECT d, v FROM dm_dsrc', 'dm_ddst', '{d}', 5) ->> 'rows_copied', '10',
          'a date key: 10 rows copied (DateStyle SQL, MDY)');
INSERT INTO dm_dsrc SELECT date '2024-03-11' + g, 10 + g FROM generate_series(0, 9) g;
UPDATE migrate.copy_jobs SET state = 'running', finished = NULL WHERE job = 'dm_date';
SET LOCAL DateStyle = 'SQL, DMY';
SELECT is(migrate.copy_rows('dm_date', 'SELECT d, v FROM dm_dsrc', 'dm_ddst', '{d}', 5) ->> 'state', 'finished', '... resumed under DateStyle SQL, DMY');
SELECT is((SELECT count(*) FROM dm_ddst), 20::bigint, '... from the same key: the 10 new rows copied (the saved key does not depend on DateStyle)');
RESET DateStyle;
-- source queries in the forms people write them
CREATE TABLE dm_fdst (key int PRIMARY KEY, name text);
SELECT is(pg_temp.dm_sqlstate($$SELECT migrate.copy_rows('dm_comment', E'SELECT id AS key, label AS name\nFROM dm_src -- the legacy rows', 'dm_fdst', '{key}')$$),
          NULL, 'a source ending with a -- comment is one SELECT');
SELECT is(pg_temp.dm_sqlstate($$SELECT migrate.copy_rows('dm_semicolon', 'SELECT id AS key, label AS name FROM dm_src;', 'dm_fdst', '{key}')$$),
          NULL, 'a source ending with a semicolon is one SELECT');
DELETE FROM dm_fdst;
SELECT is(migrate.copy_rows('dm_limit', 'SELECT id AS key, label AS name FROM dm_src ORDER BY id DESC LIMIT 7', 'dm_fdst', '{key}', 3) ->> 'rows_copied',
          '7', 'a source with its own ORDER BY and LIMIT: its 7 rows');
SELECT is((SELECT array_agg(key ORDER BY key) FROM dm_fdst), '{24,25,26,27,28,29,30}'::int[], '... the right 7 rows');

--
-- bad input
--
CREATE SEQUENCE dm_seq;
SELECT throws_ok($$SELECT migrate.copy_rows('dm_in', 'SELECT id AS key FROM dm_src', 'dm_no_such_table', '{key}')$$,
                 '42P01', NULL, 'an unknown target: 42P01');
SELECT throws_ok($$SELECT migrate.copy_rows('dm_in', 'SELECT id AS key, cust AS customer_id FROM dm_src', 'dm_dst', '{amount}')$$,
                 '42703', NULL, 'a key column the source does not have: 42703');
SELECT throws_ok($$SELECT migrate.copy_rows('dm_in', 'SELECT id AS key, cust AS customer_id FROM dm_src', 'dm_dst', '{nope}')$$,
                 '42703', NULL, 'a key column neither has: 42703');
SELECT throws_ok($$SELECT migrate.copy_rows('dm_in', 'SELECT id AS key, cust AS customer_id, label AS nickname FROM dm_src', 'dm_dst', '{key}')$$,
                 '42703', NULL, 'a source column the target does not have: 42703');
SELECT throws_ok($$SELECT migrate.copy_rows('dm_in', 'SELECT id AS key, id AS legacy_id FROM dm_src', 'dm_dst', '{legacy_id}')$$,
                 '42703', 'key column "legacy_id" is not a column of public.dm_dst',
                 'a key column of the source that the target does not have: 42703, with its own message');
-- a target that is not a table
CREATE VIEW dm_view AS SELECT * FROM dm_dst;
CREATE MATERIALIZED VIEW dm_mview AS SELECT * FROM dm_dst;
CREATE SEQUENCE dm_tseq;
SELECT throws_ok(format($$SELECT migrate.copy_rows('dm_in', 'SELECT id AS %s FROM dm_src', %L, '{%s}')$$, v.k, v.t, v.k),
                 '42809', format('target public.%s is not a table', v.t), format('%s as target: 42809', v.what))
  FROM (VALUES ('dm_view', 'key', 'a view'), ('dm_mview', 'key', 'a materialized view'),
               ('dm_tseq', 'last_value', 'a sequence (even with a key named like its column)'),
               ('dm_dst_pkey', 'key', 'an index')) v (t, k, what);
-- DDL as the source: refused before it runs
SELECT throws_ok(format($$SELECT migrate.copy_rows('dm_in', %L, 'dm_dst', '{key}')$$, v.q), '22023', v.msg,
                 format('%s as source_query: 22023', v.what))
  FROM (VALUES ('CREATE TABLE dm_ddl_made ()', 'source_query must be a SELECT, not CREATE TABLE', 'CREATE TABLE'),
               ('DROP TABLE dm_src', 'source_query must be a SELECT, not DROP TABLE', 'DROP TABLE'),
               ('TRUNCATE dm_src', 'source_query must be a SELECT, not TRUNCATE TABLE', 'TRUNCATE'),
               ('SELECT id AS key FROM dm_src; DROP TABLE dm_src', 'source_query must be one SELECT statement, not 2 statements',
                'a SELECT followed by DROP TABLE')) v (q, msg, what);
SELECT ok(to_regclass('dm_ddl_made') IS NULL AND (SELECT count(*) FROM dm_src) = 30,
          '... none of them ran (no table created, dm_src still there with its rows)');
SELECT throws_ok($$SELECT migrate.copy_rows('dm_in', 'DELETE FROM dm_src WHERE id = nextval(''dm_seq'') RETURNING id AS key', 'dm_dst', '{key}')$$,
                 '22023', NULL, 'DELETE ... RETURNING is not a SELECT: 22023');
SELECT throws_ok($$SELECT migrate.copy_rows('dm_in', 'INSERT INTO dm_customers VALUES (nextval(''dm_seq'') + 100) RETURNING id AS key', 'dm_dst', '{key}')$$,
                 '22023', NULL, 'INSERT ... RETURNING is not a SELECT: 22023');
SELECT throws_ok($$SELECT migrate.copy_rows('dm_in', 'SELECT nextval(''dm_seq'')::int AS key; SELECT 2 AS key', 'dm_dst', '{key}')$$,
                 '22023', NULL, 'two statements: 22023');
SELECT throws_ok($$SELECT migrate.copy_rows('dm_in', 'WITH d AS (DELETE FROM dm_src WHERE id = nextval(''dm_seq'') RETURNING id) SELECT id AS key FROM d', 'dm_dst', '{key}')$$,
                 '22023', NULL, 'a WITH with DELETE: 22023');
SELECT throws_ok($$SELECT migrate.copy_rows('dm_in', 'WITH u AS (UPDATE dm_src SET label = nextval(''dm_seq'')::text RETURNING id) SELECT id AS key FROM u', 'dm_dst', '{key}')$$,
                 '22023', NULL, 'a WITH with UPDATE: 22023');
SELECT throws_ok($$SELECT migrate.copy_rows('dm_in', 'WITH i AS (INSERT INTO dm_customers VALUES (nextval(''dm_seq'') + 100) RETURNING id) SELECT id AS key FROM i', 'dm_dst', '{key}')$$,
                 '22023', NULL, 'a WITH with INSERT: 22023');
SELECT throws_ok($$SELECT migrate.copy_rows('dm_in', 'SELECT nextval(''dm_seq'')::int AS key INTO dm_into FROM dm_src', 'dm_dst', '{key}')$$,
                 '22023', NULL, 'SELECT ... INTO: 22023');
SELECT is((SELECT is_called FROM dm_seq), false, 'the refused queries did not run (the sequence was never called)');
SELECT ok(to_regclass('dm_into') IS NULL, '... and SELECT INTO created no table');
SELECT throws_ok($$SELECT migrate.copy_rows('dm_in', 'SELECT id AS key FROM dm_src', 'dm_dst', '{key}', 0)$$,
                 '22023', NULL, 'batch_size 0: 22023');
SELECT throws_ok($$SELECT migrate.copy_rows('dm_in', 'SELECT id AS key FROM dm_src', 'dm_dst', '{key}', -5)$$,
                 '22023', NULL, 'a negative batch_size: 22023');
SELECT throws_ok($$SELECT migrate.copy_rows('dm_in', 'SELECT id AS key FROM dm_src', 'dm_dst', '{key}', 10, 'update')$$,
                 '22023', NULL, 'on_conflict other than nothing or error: 22023');
SELECT throws_ok($$SELECT migrate.copy_rows(NULL, 'SELECT id AS key FROM dm_src', 'dm_dst', '{key}')$$,
                 '22004', NULL, 'a NULL job: 22004');
SELECT throws_ok($$SELECT migrate.copy_rows('dm_in', NULL, 'dm_dst', '{key}')$$,
                 '22004', NULL, 'a NULL source_query: 22004');
SELECT throws_ok($$SELECT migrate.copy_rows('dm_in', 'SELECT id AS key FROM dm_src', 'dm_dst', NULL)$$,
                 '22004', NULL, 'NULL key_columns: 22004');
SELECT throws_ok($$SELECT migrate.copy_rows('dm_in', 'SELECT id AS key FROM dm_src', 'dm_dst', '{}')$$,
                 '22023', NULL, 'empty key_columns: 22023');
SELECT is((SELECT count(*) FROM migrate.copy_jobs WHERE job = 'dm_in'), 0::bigint, 'a refused call leaves no job');

--
-- copy_rows_each commits: it cannot run inside a transaction block
--
SELECT is((SELECT CASE WHEN s IN ('25001', '2D000') THEN 'refused' ELSE COALESCE(s, 'no error') END
             FROM pg_temp.dm_sqlstate($$CALL migrate.copy_rows_each('dm_each', 'SELECT id AS key, label AS name FROM dm_rsrc', 'dm_rdst', '{key}', 5)$$) s),
          'refused', 'copy_rows_each inside a transaction block fails for it (25001 or 2D000, not another error)');
SELECT is((SELECT count(*) FROM migrate.copy_jobs WHERE job = 'dm_each'), 0::bigint, '... and leaves no job');

--
-- reconcile
--
CREATE TABLE dm_r_src (k int);
INSERT INTO dm_r_src SELECT g FROM generate_series(1, 250) g ORDER BY random();
CREATE TABLE dm_r_dst (k int PRIMARY KEY, payload text);
INSERT INTO dm_r_dst SELECT g, 'p' FROM generate_series(51, 300) g ORDER BY random();
CREATE TEMP TABLE r_rec AS SELECT migrate.reconcile('SELECT k FROM dm_r_src', 'dm_r_dst', '{k}') AS r;
SELECT is((SELECT r - 'missing_keys' - 'extra_keys' FROM r_rec),
          '{"source_count": 250, "source_keys": 250, "target_count": 250, "matched": 200, "missing_in_target": 50, "extra_in_target": 50,
            "success_rate": 80.00, "duplicate_source_keys": 0, "duplicate_keys": [], "null_keys_in_source": 0, "null_keys_in_target": 0}'::jsonb,
          'reconcile: counts and success_rate');
SELECT is((SELECT array_agg(k ORDER BY k) FROM r_rec, jsonb_object_keys(r) k),
          '{duplicate_keys,duplicate_source_keys,extra_in_target,extra_keys,matched,missing_in_target,missing_keys,null_keys_in_source,null_keys_in_target,source_count,source_keys,success_rate,target_count}'::text[],
          'reconcile: exactly the documented keys');
SELECT is((SELECT r -> 'missing_keys' FROM r_rec), (SELECT jsonb_agg(g ORDER BY g) FROM generate_series(1, 50) g),
          'reconcile: missing_keys, plain values in key order');
SELECT is((SELECT r -> 'extra_keys' FROM r_rec), (SELECT jsonb_agg(g ORDER BY g) FROM generate_series(251, 300) g),
          'reconcile: extra_keys, plain values in key order');
INSERT INTO dm_r_src SELECT g FROM generate_series(251, 1000) g ORDER BY random();
CREATE TEMP TABLE r_rec2 AS SELECT migrate.reconcile('SELECT k FROM dm_r_src', 'dm_r_dst', '{k}') AS r;
SELECT is((SELECT (r ->> 'missing_in_target', r ->> 'extra_in_target', jsonb_array_length(r -> 'missing_keys')) FROM r_rec2),
          ('750'::text, '0'::text, 100), 'reconcile: the count of all missing keys, only the first 100 listed');
SELECT is((SELECT r -> 'missing_keys' FROM r_rec2),
          (SELECT jsonb_agg(g ORDER BY g) FROM (SELECT g FROM generate_series(1, 50) g UNION ALL SELECT g FROM generate_series(301, 350) g) s),
          'reconcile: the first 100 missing keys in key order');
SELECT is((SELECT r -> 'extra_keys' FROM r_rec2), '[]'::jsonb, 'reconcile: no extra key is an empty array');
SELECT is((SELECT r ->> 'success_rate' FROM r_rec2)::numeric, 25.00, 'reconcile: success_rate 250 of 1000');
SELECT is(migrate.reconcile('SELECT k FROM (VALUES (100), (2), (10)) v (k)', 'dm_r_dst', '{k}') -> 'missing_keys',
          '[2, 10]'::jsonb, 'reconcile: integer keys in numeric order, not text order');
CREATE TABLE dm_r_empty (k int PRIMARY KEY);
SELECT is(migrate.reconcile('SELECT k FROM (VALUES (3), (1), (2)) v (k)', 'dm_r_empty', '{k}'),
          '{"source_count": 3, "source_keys": 3, "target_count": 0, "matched": 0, "missing_in_target": 3, "missing_keys": [1, 2, 3],
            "extra_in_target": 0, "extra_keys": [], "success_rate": 0.00, "duplicate_source_keys": 0, "duplicate_keys": [], "null_keys_in_source": 0, "null_keys_in_target": 0}'::jsonb,
          'reconcile: an empty target, every key missing, success_rate 0');
SELECT is(migrate.reconcile($$SELECT k FROM (VALUES ('a'), ('B'), ('zz'), ('yy')) v (k)$$, 'dm_xdst', '{k}') - 'extra_keys',
          '{"source_count": 4, "source_keys": 4, "target_count": 8, "matched": 2, "missing_in_target": 2, "missing_keys": ["yy", "zz"],
            "extra_in_target": 6, "success_rate": 50.00, "duplicate_source_keys": 0, "duplicate_keys": [], "null_keys_in_source": 0, "null_keys_in_target": 0}'::jsonb,
          'reconcile: a text key gives JSON strings');
SELECT is(migrate.reconcile('SELECT k FROM (VALUES (51), (52), (9999)) v (k)', 'dm_r_dst', '{k}') ->> 'success_rate', '66.67',
          'reconcile: success_rate rounded to 2 decimals');
SELECT is(migrate.reconcile('SELECT region, num FROM dm_csrc WHERE num IS NOT NULL', 'dm_cdst', '{region,num}') - 'extra_keys',
          '{"source_count": 24, "source_keys": 24, "target_count": 23, "matched": 23, "missing_in_target": 1, "missing_keys": [{"region": "b", "num": 3}],
            "extra_in_target": 0, "success_rate": 95.83, "duplicate_source_keys": 0, "duplicate_keys": [], "null_keys_in_source": 0, "null_keys_in_target": 0}'::jsonb,
          'reconcile: a composite key lists objects');
DELETE FROM dm_cdst WHERE (region, num) IN (('a', 2), ('c', 1));
INSERT INTO dm_cdst VALUES ('a', 100, 'x'), ('0', 1, 'x');
SELECT is((SELECT (r -> 'missing_keys', r -> 'extra_keys')
             FROM migrate.reconcile('SELECT region, num FROM dm_csrc WHERE num IS NOT NULL', 'dm_cdst', '{region,num}') r),
          ('[{"region": "a", "num": 2}, {"region": "b", "num": 3}, {"region": "c", "num": 1}]'::jsonb,
           '[{"region": "0", "num": 1}, {"region": "a", "num": 100}]'::jsonb),
          'reconcile: composite keys ordered by the key columns in turn');
SELECT is(migrate.reconcile('SELECT k FROM dm_r_src WHERE false', 'dm_r_dst', '{k}') - 'extra_keys',
          '{"source_count": 0, "source_keys": 0, "target_count": 250, "matched": 0, "missing_in_target": 0, "missing_keys": [],
            "extra_in_target": 250, "success_rate": null, "duplicate_source_keys": 0, "duplicate_keys": [], "null_keys_in_source": 0, "null_keys_in_target": 0}'::jsonb,
          'reconcile: an empty source, success_rate null');
SELECT throws_ok($$SELECT migrate.reconcile('SELECT k FROM dm_r_src', 'dm_r_dst', '{nope}')$$, '42703', NULL,
                 'reconcile: an unknown key column: 42703');
SELECT throws_ok($$SELECT migrate.reconcile('DELETE FROM dm_r_src WHERE k = nextval(''dm_seq'') RETURNING k', 'dm_r_dst', '{k}')$$, '22023', NULL,
                 'reconcile: a source that is not a SELECT: 22023');
SELECT is((SELECT is_called FROM dm_seq), false, '... and it did not run');
SELECT throws_ok($$SELECT migrate.reconcile('SELECT k, k AS legacy_k FROM dm_r_src', 'dm_r_dst', '{legacy_k}')$$, '42703',
                 'key column "legacy_k" is not a column of public.dm_r_dst',
                 'reconcile: a key column of the source that the target does not have: 42703, with its own message');
SELECT throws_ok($$SELECT migrate.reconcile('SELECT 1 AS last_value', 'dm_tseq', '{last_value}')$$, '42809',
                 'target public.dm_tseq is not a table, view or materialized view', 'reconcile: a sequence as target: 42809');
SELECT throws_ok($$SELECT migrate.reconcile('SELECT 1 AS k', 'dm_r_dst_pkey', '{k}')$$, '42809',
                 'target public.dm_r_dst_pkey is not a table, view or materialized view', 'reconcile: an index as target: 42809');
SELECT throws_ok($$SELECT migrate.reconcile('CREATE TABLE dm_ddl_made ()', 'dm_r_dst', '{k}')$$, '22023',
                 'source_query must be a SELECT, not CREATE TABLE', 'reconcile: CREATE TABLE as source_query: 22023');
SELECT throws_ok($$SELECT migrate.reconcile('DROP TABLE dm_r_src', 'dm_r_dst', '{k}')$$, '22023',
                 'source_query must be a SELECT, not DROP TABLE', 'reconcile: DROP TABLE as source_query: 22023');
SELECT ok(to_regclass('dm_ddl_made') IS NULL AND to_regclass('dm_r_src') IS NOT NULL, '... neither ran');
CREATE VIEW dm_r_view AS SELECT k FROM dm_r_dst;
SELECT is(migrate.reconcile('SELECT k FROM dm_r_src', 'dm_r_view', '{k}'), migrate.reconcile('SELECT k FROM dm_r_src', 'dm_r_dst', '{k}'),
          'reconcile: a view as target is compared like its table (reconcile only reads)');
-- a target named like the CTEs of reconcile's own query is still the table
CREATE TABLE s (k int);
CREATE TABLE t (k int);
INSERT INTO s VALUES (1), (2), (3);
INSERT INTO t VALUES (1), (2), (3), (4);
SELECT is((SELECT (a.r ->> 'target_count', a.r ->> 'extra_in_target', b.r ->> 'target_count', b.r ->> 'extra_in_target')
             FROM migrate.reconcile('SELECT 1 AS k', 's', '{k}') a (r), migrate.reconcile('SELECT 1 AS k', 't', '{k}') b (r)),
          ('3'::text, '2'::text, '4'::text, '3'::text), 'reconcile: targets named s and t are the tables, not the query''s CTEs');
DROP TABLE s, t;
-- key columns named like the row alias of reconcile's own query (x), and the
-- names it keeps for itself ("_migrate_...")
CREATE TABLE dm_r_x (x int, y text);
INSERT INTO dm_r_x VALUES (1, 'a'), (4, 'd'), (NULL, 'n');
SELECT is((SELECT (r -> 'missing_keys', r -> 'extra_keys', r -> 'duplicate_keys')
             FROM migrate.reconcile('SELECT x FROM (VALUES (1), (2), (2), (NULL), (3)) v (x)', 'dm_r_x', '{x}') r),
          ('[2, 3]'::jsonb, '[4]'::jsonb, '[2]'::jsonb), 'reconcile: a key column named x lists its values, not nulls');
SELECT is((SELECT (r -> 'missing_keys', r -> 'duplicate_keys')
             FROM migrate.reconcile($$SELECT x, y FROM (VALUES (1, 'a'), (2, 'b'), (2, 'b')) v (x, y)$$, 'dm_r_x', '{x,y}') r),
          ('[{"x": 2, "y": "b"}]'::jsonb, '[{"x": 2, "y": "b"}]'::jsonb), 'reconcile: keys {x,y} list objects');
CREATE TABLE dm_r_res ("_migrate_known" int);
SELECT throws_ok($$SELECT migrate.reconcile('SELECT 1 AS "_migrate_known"', 'dm_r_res', '{_migrate_known}')$$, '42939',
                 'key column names beginning with "_migrate_" are reserved', 'reconcile: a key column named _migrate_...: 42939');
-- duplicate keys in the source: reported, and not held against success_rate
CREATE TABLE dm_r_four (k int PRIMARY KEY);
INSERT INTO dm_r_four VALUES (1), (2), (3), (4);
SELECT is(migrate.reconcile('SELECT k FROM (VALUES (3), (1), (2), (2), (3), (4), (3)) v (k)', 'dm_r_four', '{k}'),
          '{"source_count": 7, "source_keys": 4, "target_count": 4, "matched": 4, "missing_in_target": 0, "missing_keys": [],
            "extra_in_target": 0, "extra_keys": [], "duplicate_source_keys": 2, "duplicate_keys": [2, 3],
            "null_keys_in_source": 0, "null_keys_in_target": 0, "success_rate": 100.00}'::jsonb,
          'reconcile: duplicate source keys: every key present is 100.00; duplicate_source_keys 2, duplicate_keys [2, 3]');
SELECT is(migrate.reconcile('SELECT k FROM (VALUES (5), (1), (5)) v (k)', 'dm_r_four', '{k}') - 'extra_keys',
          '{"source_count": 3, "source_keys": 2, "target_count": 4, "matched": 1, "missing_in_target": 1, "missing_keys": [5],
            "extra_in_target": 3, "duplicate_source_keys": 1, "duplicate_keys": [5],
            "null_keys_in_source": 0, "null_keys_in_target": 0, "success_rate": 50.00}'::jsonb,
          'reconcile: a missing key repeated in the source is missing once (success_rate over distinct keys)');
SELECT is(migrate.reconcile('SELECT k FROM generate_series(1, 150) k, generate_series(1, 2)', 'dm_r_four', '{k}') ->> 'duplicate_source_keys', '150',
          'reconcile: duplicate_source_keys counts every duplicated key ...');
SELECT is(migrate.reconcile('SELECT k FROM generate_series(1, 150) k, generate_series(1, 2)', 'dm_r_four', '{k}') -> 'duplicate_keys',
          (SELECT jsonb_agg(g ORDER BY g) FROM generate_series(1, 100) g), '... and duplicate_keys lists the first 100 in key order');
-- NULL keys in the source: reported, never matched, and counted as not found
SELECT is(migrate.reconcile('SELECT k FROM (VALUES (1), (NULL), (2), (NULL), (5)) v (k)', 'dm_r_four', '{k}'),
          '{"source_count": 5, "source_keys": 3, "target_count": 4, "matched": 2, "missing_in_target": 1, "missing_keys": [5],
            "extra_in_target": 2, "extra_keys": [3, 4], "duplicate_source_keys": 0, "duplicate_keys": [],
            "null_keys_in_source": 2, "null_keys_in_target": 0, "success_rate": 40.00}'::jsonb,
          'reconcile: 2 NULL keys in the source: null_keys_in_source 2, not in missing_keys, success_rate 2 of 5 entities');
CREATE TABLE dm_r_nullt (k int);
INSERT INTO dm_r_nullt VALUES (1), (NULL), (NULL);
SELECT is(migrate.reconcile('SELECT k FROM (VALUES (1), (NULL)) v (k)', 'dm_r_nullt', '{k}'),
          '{"source_count": 2, "source_keys": 1, "target_count": 3, "matched": 1, "missing_in_target": 0, "missing_keys": [],
            "extra_in_target": 0, "extra_keys": [], "duplicate_source_keys": 0, "duplicate_keys": [],
            "null_keys_in_source": 1, "null_keys_in_target": 2, "success_rate": 50.00}'::jsonb,
          'reconcile: a NULL key matches nothing, not even a NULL key in the target (null_keys_in_target 2, not extra)');
SELECT is(migrate.reconcile('SELECT k FROM (VALUES (NULL::int), (NULL)) v (k)', 'dm_r_four', '{k}') ->> 'success_rate', '0.00',
          'reconcile: a source of NULL keys only: success_rate 0.00 (not NULL: it has rows)');
SELECT is(migrate.reconcile('SELECT region, num FROM dm_csrc', 'dm_cdst', '{region,num}') - 'missing_keys' - 'extra_keys',
          '{"source_count": 25, "source_keys": 24, "target_count": 23, "matched": 21, "missing_in_target": 3,
            "extra_in_target": 2, "duplicate_source_keys": 0, "duplicate_keys": [],
            "null_keys_in_source": 1, "null_keys_in_target": 0, "success_rate": 84.00}'::jsonb,
          'reconcile: a composite key with one NULL part is a NULL key (21 of 24 keys + 1 NULL key = 84.00)');
SELECT is(migrate.reconcile($$SELECT * FROM (VALUES ('a', 1), ('a', 1), ('b', 2)) v (region, num)$$, 'dm_cdst', '{region,num}') -> 'duplicate_keys',
          '[{"region": "a", "num": 1}]'::jsonb, 'reconcile: composite duplicate_keys are objects');

--
-- privileges
--
SELECT ok(NOT has_function_privilege('public', 'migrate.copy_rows(text, text, regclass, text[], integer, text)', 'EXECUTE'),
          'copy_rows is not granted to PUBLIC');
SELECT ok(NOT has_function_privilege('public', 'migrate.copy_rows_each(text, text, regclass, text[], integer, text)', 'EXECUTE'),
          'copy_rows_each is not granted to PUBLIC');
SELECT ok(NOT has_table_privilege('public', 'migrate.copy_jobs', 'SELECT') AND NOT has_table_privilege('public', 'migrate.copy_jobs', 'INSERT'),
          'copy_jobs is not readable or writable by PUBLIC');
SELECT ok(NOT has_table_privilege('public', 'migrate.copy_errors', 'SELECT') AND NOT has_table_privilege('public', 'migrate.copy_errors', 'INSERT'),
          'copy_errors is not readable or writable by PUBLIC');
CREATE ROLE mg_dm_nobody NOLOGIN;
CREATE ROLE mg_dm_mover NOLOGIN;
CREATE TABLE dm_pdst (key int PRIMARY KEY, name text);
CREATE TABLE dm_secret (id int PRIMARY KEY, label text);
INSERT INTO dm_secret VALUES (1, 'secret');
GRANT SELECT ON dm_rsrc TO mg_dm_mover;
GRANT SELECT, INSERT ON dm_pdst TO mg_dm_mover;
GRANT SELECT ON dm_rdst TO mg_dm_mover;
GRANT EXECUTE ON FUNCTION migrate.copy_rows(text, text, regclass, text[], integer, text) TO mg_dm_mover;
SET LOCAL ROLE mg_dm_nobody;
SELECT throws_ok($$SELECT migrate.copy_rows('dm_priv', 'SELECT id AS key FROM dm_rsrc', 'dm_pdst', '{key}')$$, '42501', NULL,
                 'an ordinary role cannot run copy_rows');
SELECT throws_ok($$SELECT * FROM migrate.copy_jobs$$, '42501', NULL, 'an ordinary role cannot read copy_jobs');
SELECT throws_ok($$SELECT * FROM migrate.copy_errors$$, '42501', NULL, 'an ordinary role cannot read copy_errors');
SELECT throws_ok($$SELECT migrate.reconcile('SELECT id AS key FROM dm_secret', 'dm_pdst', '{key}')$$, '42501', NULL,
                 'reconcile cannot read a table the caller cannot read');
RESET ROLE;
SET LOCAL ROLE mg_dm_mover;
SELECT is(migrate.copy_rows('dm_priv', 'SELECT id AS key, label AS name FROM dm_rsrc', 'dm_pdst', '{key}') ->> 'rows_copied', '17',
          'a role granted EXECUTE on copy_rows copies without privileges on copy_jobs or copy_errors');
SELECT throws_ok($$SELECT migrate.copy_rows('dm_priv2', 'SELECT id AS key, label AS name FROM dm_secret', 'dm_pdst', '{key}')$$, '42501', NULL,
                 '... but the source query runs with its privileges (no SELECT on the source: 42501)');
SELECT throws_ok($$SELECT migrate.copy_rows('dm_priv3', 'SELECT id AS key, label AS name FROM dm_rsrc', 'dm_rdst', '{key}')$$, '42501', NULL,
                 '... and so does the insert (no INSERT on the target: 42501)');
RESET ROLE;
-- the foreign key check sees every referenced row, whatever the row security of the caller
CREATE TABLE dm_rlscust (id int PRIMARY KEY, tenant text);
INSERT INTO dm_rlscust SELECT g, CASE WHEN g <= 2 THEN 'a' ELSE 'b' END FROM generate_series(1, 5) g;
ALTER TABLE dm_rlscust ENABLE ROW LEVEL SECURITY;
CREATE POLICY dm_tenant_a ON dm_rlscust USING (tenant = 'a');
CREATE TABLE dm_rlsdst (key int PRIMARY KEY, customer_id int NOT NULL REFERENCES dm_rlscust);
GRANT SELECT ON dm_rlscust TO mg_dm_mover;
GRANT SELECT, INSERT ON dm_rlsdst TO mg_dm_mover;
SET LOCAL ROLE mg_dm_mover;
SELECT is((SELECT (r ->> 'rows_copied', r ->> 'rows_failed')
             FROM migrate.copy_rows('dm_rls', 'SELECT id AS key, 1 + id % 5 AS customer_id FROM dm_rsrc', 'dm_rlsdst', '{key}', 5) r),
          ('17'::text, '0'::text),
          'rows referencing rows the caller''s row security hides are copied (the foreign key accepts them)');
RESET ROLE;
-- EXECUTE on copy_rows_each is enough (in a transaction block it gets as far as its first COMMIT)
GRANT EXECUTE ON PROCEDURE migrate.copy_rows_each(text, text, regclass, text[], integer, text) TO mg_dm_mover;
SET LOCAL ROLE mg_dm_mover;
SELECT is((SELECT CASE WHEN s IN ('25001', '2D000') THEN 'only refused for the transaction block' ELSE COALESCE(s, 'no error') END
             FROM pg_temp.dm_sqlstate($$CALL migrate.copy_rows_each('dm_each_priv', 'SELECT id AS key, label AS name FROM dm_rsrc', 'dm_pdst', '{key}')$$) s),
          'only refused for the transaction block', 'a role granted EXECUTE on copy_rows_each needs no grant on its internals');
RESET ROLE;
SELECT is((SELECT (rows_copied, state) FROM migrate.copy_jobs WHERE job = 'dm_priv'), (17::bigint, 'finished'::text),
          'the job of the granted role is recorded');

-- duplicate keys in the source: rows sharing a key stay in one batch (none is lost)
CREATE TABLE dm_dup_dst (k int PRIMARY KEY, v text);
CREATE TEMP TABLE dm_dup_r AS
SELECT migrate.copy_rows('dm_dup', $$SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (2, 'c'), (3, 'd')) AS t(k, v)$$, 'dm_dup_dst', '{k}', 2) AS r;
SELECT is((SELECT (r ->> 'rows_read', r ->> 'rows_copied', r ->> 'rows_skipped') FROM dm_dup_r), ('4'::text, '3'::text, '1'::text),
          'duplicate source keys: every row read, the second (2) skipped as already there, not lost');
SELECT is((SELECT array_agg(k ORDER BY k) FROM dm_dup_dst), '{1,2,3}'::int[], '... and the keys after it copied');

-- regressions found by the hostile-input suite
SELECT throws_ok($$SELECT migrate.reconcile('SELECT 1 AS id', 0::oid::regclass, ARRAY['id'])$$, '42P01', NULL,
                 'reconcile with a target OID that is no relation: 42P01, no crash');
DO $$ DECLARE c text; BEGIN
	SELECT string_agg(format('c%s int', g), ', ') INTO c FROM generate_series(1, 150) g;
	EXECUTE format('CREATE TABLE dm_wide_s (id int PRIMARY KEY, %s)', c);
	EXECUTE format('CREATE TABLE dm_wide_t (id int PRIMARY KEY, %s)', replace(c, 'c1 int,', 'c1 int NOT NULL,'));
END $$;
INSERT INTO dm_wide_s (id, c1) VALUES (1, 1), (2, NULL), (3, 3);
SELECT is(migrate.copy_rows('dm_wide', 'SELECT * FROM dm_wide_s', 'dm_wide_t', '{id}') ->> 'rows_failed', '1',
          'a 151-column target: the NOT NULL precheck works past 100 columns');
SELECT ok((SELECT detail LIKE 'Failing row contains (2, null, null, %' FROM migrate.copy_errors WHERE job = 'dm_wide'),
          '... with the whole row in its detail');

SELECT * FROM finish();
ROLLBACK;
