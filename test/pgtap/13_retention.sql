-- Monitoring events, retention: migrate.retention and event_retention(),
-- add_partitions (UTC days, one leaf per retention class, rows moved out of
-- the default partition), log_partitions, maintain (partitions ahead, whole
-- days and single leaves dropped, partial deletes of leaves whose severities
-- no longer share a retention, chunked deletes in the default partitions,
-- migrate.maintain_delete_limit, audit_log retention, idempotence, the
-- advisory lock, the TRUNCATE fallback when the parent is busy), cleanup,
-- retention_delete, settings and privileges.
--
-- Days are UTC days: D-n below is current_date - n with TimeZone = UTC.
-- Test rows are inserted directly as superuser (INSERT is not guarded) with
-- a logged_at in the past.  A second session (dblink) holds the advisory
-- lock or a lock on migrate.events where a test needs another session; it
-- only runs before this session takes strong locks on migrate.events.
--
-- Tests marked "bug:" failed when they were written (see the commit message).
BEGIN;
SET LOCAL client_min_messages = error;
SET LOCAL TimeZone = 'UTC';
SELECT plan(179);

-- name of the partition of day D-n (with an optional leaf suffix)
-- add_partitions returns schema-qualified names; the tests compare bare ones
CREATE FUNCTION pg_temp.added(what text, first_day date, last_day date) RETURNS text[]
LANGUAGE sql AS $$ SELECT ARRAY(SELECT regexp_replace(n, '^migrate\.', '') FROM unnest(migrate.add_partitions(what, first_day, last_day)) n) $$;
CREATE FUNCTION pg_temp.p(what text, n int, suffix text DEFAULT '') RETURNS text
LANGUAGE sql AS $$ SELECT what || '_p' || to_char(current_date - n, 'YYYYMMDD') || suffix $$;
-- D-n at a UTC time of day
CREATE FUNCTION pg_temp.at(n int, tod text DEFAULT '12:00') RETURNS timestamptz
LANGUAGE sql AS $$ SELECT ((current_date - n) + tod::time) AT TIME ZONE 'UTC' $$;
-- a test event of severity sev on D-n
CREATE FUNCTION pg_temp.put(n int, sev text, tod text DEFAULT '12:00') RETURNS void
LANGUAGE sql AS $$ INSERT INTO migrate.events (kind, severity, logged_at) VALUES ('tap_ret', sev, pg_temp.at(n, tod)) $$;
-- a test audit row on D-n
CREATE FUNCTION pg_temp.put_audit(n int, tod text DEFAULT '12:00') RETURNS void
LANGUAGE sql AS $$
    INSERT INTO migrate.audit_log (logged_at, relid, schema_name, table_name, operation)
    VALUES (pg_temp.at(n, tod), 'pg_class'::regclass, 'tap', 'tap_ret', 'INSERT')
$$;
-- partition names of a maintain/cleanup result list, without schema, sorted
CREATE FUNCTION pg_temp.names(j jsonb) RETURNS text[]
LANGUAGE sql AS $$ SELECT ARRAY(SELECT regexp_replace(x, '^migrate\.', '') FROM jsonb_array_elements_text(j) x ORDER BY 1) $$;
CREATE FUNCTION pg_temp.sorted(a text[]) RETURNS text[]
LANGUAGE sql AS $$ SELECT ARRAY(SELECT x FROM unnest(a) x ORDER BY 1) $$;
-- the test events left: (days ago, severity), oldest first
CREATE FUNCTION pg_temp.left_events() RETURNS TABLE(days_ago int, severity text)
LANGUAGE sql AS $$
    SELECT current_date - (logged_at AT TIME ZONE 'UTC')::date, severity FROM migrate.events
     WHERE kind = 'tap_ret' ORDER BY 1 DESC, migrate.severity_rank(severity)
$$;
-- the relation holding the test event of severity sev on D-n
CREATE FUNCTION pg_temp.holder(n int, sev text) RETURNS text
LANGUAGE sql AS $$
    SELECT string_agg(tableoid::regclass::text, ',') FROM migrate.events
     WHERE kind = 'tap_ret' AND severity = sev AND (logged_at AT TIME ZONE 'UTC')::date = current_date - n
$$;
-- the SQLSTATE a statement raises ('ok' when it succeeds), its effects rolled back
CREATE FUNCTION pg_temp.sqlstate_of(cmd text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        EXECUTE cmd;
        RAISE SQLSTATE 'TAP00';
    EXCEPTION WHEN OTHERS THEN
        RETURN CASE SQLSTATE WHEN 'TAP00' THEN 'ok' ELSE SQLSTATE END;
    END;
END
$$;
CREATE FUNCTION pg_temp.n_ev(k text) RETURNS bigint
LANGUAGE sql AS $$ SELECT count(*) FROM migrate.events WHERE kind = k $$;
-- maintain and cleanup results, in order
CREATE TEMP TABLE runs (n serial PRIMARY KEY, r jsonb);
CREATE FUNCTION pg_temp.maintain() RETURNS jsonb
LANGUAGE sql AS $$ INSERT INTO runs (r) SELECT migrate.maintain() RETURNING r $$;
CREATE FUNCTION pg_temp.last_run() RETURNS jsonb
LANGUAGE sql AS $$ SELECT r FROM runs ORDER BY n DESC LIMIT 1 $$;

--
-- a fresh session (the library not loaded yet) can run maintain and cleanup
--
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT is(dblink_connect('tap_a', format('dbname=%s port=%s host=%s', current_database(), current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1))), 'OK',
    'a second session (dblink)');
SELECT is((SELECT s FROM dblink('tap_a', $q$SELECT current_setting('migrate.premake_days', true)$q$) AS t(s text)), NULL,
    '... in which the library is not loaded (migrate.premake_days is not defined)');
DO $$ BEGIN PERFORM dblink_exec('tap_a', 'BEGIN'); END $$;
SELECT lives_ok($$SELECT * FROM dblink('tap_a', 'SELECT migrate.maintain()::text') AS t(r text)$$,
    'maintain works in a session that has not loaded the library');
DO $$ BEGIN PERFORM dblink_exec('tap_a', 'ROLLBACK'); END $$;
SELECT is(dblink_connect('tap_b', format('dbname=%s port=%s host=%s', current_database(), current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1))), 'OK',
    'a third session');
DO $$ BEGIN PERFORM dblink_exec('tap_b', 'BEGIN'); END $$;
SELECT lives_ok($$SELECT * FROM dblink('tap_b', $q$SELECT migrate.cleanup('100 years')::text$q$) AS t(r text)$$,
    'cleanup works in a session that has not loaded the library');
DO $$ BEGIN PERFORM dblink_exec('tap_b', 'ROLLBACK'); END $$;
SELECT is(dblink_disconnect('tap_b'), 'OK', 'the third session ends');

--
-- settings (the library loaded in this session)
--
DO $$ BEGIN PERFORM migrate.checksum(''); END $$;
SELECT is(current_setting('migrate.premake_days'), '7', 'migrate.premake_days defaults to 7');
SELECT is(current_setting('migrate.maintain_delete_limit'), '100000', 'migrate.maintain_delete_limit defaults to 100000');
SELECT is(current_setting('migrate.maintain_lock_timeout'), '100ms', 'migrate.maintain_lock_timeout defaults to 100ms');
SELECT throws_ok($$SET migrate.premake_days = 0$$, '22023', NULL, 'premake_days = 0 is refused with 22023');
SELECT throws_ok($$SET migrate.premake_days = 367$$, '22023', NULL, 'premake_days = 367 is refused with 22023');
SELECT throws_ok($$SET migrate.maintain_delete_limit = -1$$, '22023', NULL, 'maintain_delete_limit = -1 is refused with 22023');

--
-- privileges
--
CREATE ROLE mg_tap_ret_nobody NOLOGIN;
CREATE ROLE mg_tap_ret_admin NOLOGIN;
GRANT EXECUTE ON FUNCTION migrate.maintain(), migrate.cleanup(interval, boolean) TO mg_tap_ret_admin;
SELECT is(
    ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
           WHERE p.oid IN ('migrate.maintain()'::regprocedure, 'migrate.cleanup(interval, boolean)'::regprocedure,
                           'migrate.add_partitions(text, date, date)'::regprocedure,
                           'migrate.retention_delete(regclass, timestamptz, text[], bigint, timestamptz)'::regprocedure,
                           'migrate.remove_log_partition(regclass, boolean)'::regprocedure,
                           'migrate.new_log_partition(text, text)'::regprocedure)
             AND a.grantee = 0 AND a.privilege_type = 'EXECUTE'),
    '{}'::text[], 'PUBLIC may execute none of maintain, cleanup, add_partitions, retention_delete, remove_log_partition, new_log_partition');
SELECT ok(NOT has_function_privilege('mg_tap_ret_nobody', 'migrate.retention_truncate(regclass)', 'EXECUTE'),
    'PUBLIC may not execute retention_truncate (it gets past the TRUNCATE guard)');
SELECT ok(NOT has_function_privilege('mg_tap_ret_nobody', 'migrate.maintain()', 'EXECUTE')
          AND NOT has_function_privilege('mg_tap_ret_nobody', 'migrate.cleanup(interval, boolean)', 'EXECUTE'),
    'a role without grants may not execute maintain or cleanup');
SELECT is(
    ARRAY(SELECT (proname, prosecdef, proconfig)::text FROM pg_proc
           WHERE oid IN ('migrate.maintain()'::regprocedure, 'migrate.cleanup(interval, boolean)'::regprocedure) ORDER BY proname),
    ARRAY['(cleanup,t,"{""search_path=pg_catalog, pg_temp"",""DateStyle=ISO, YMD"",TimeZone=UTC}")',
          '(maintain,t,"{""search_path=pg_catalog, pg_temp"",""DateStyle=ISO, YMD"",TimeZone=UTC}")'],
    'maintain and cleanup are SECURITY DEFINER with search_path pinned to pg_catalog, pg_temp (and TimeZone UTC)');
SELECT is((SELECT prosecdef FROM pg_proc WHERE oid = 'migrate.add_partitions(text, date, date)'::regprocedure), false,
    'add_partitions is not SECURITY DEFINER');
SELECT ok(NOT has_table_privilege('mg_tap_ret_nobody', 'migrate.retention', 'SELECT')
          AND NOT has_table_privilege('mg_tap_ret_nobody', 'migrate.retention', 'UPDATE'),
    'PUBLIC has no right on migrate.retention');
SET LOCAL ROLE mg_tap_ret_nobody;
SELECT throws_ok($$SELECT migrate.maintain()$$, '42501', NULL, 'a role without the grant cannot run maintain: 42501');
SELECT throws_ok($$SELECT migrate.cleanup('1 day')$$, '42501', NULL, '... nor cleanup: 42501');
SELECT throws_ok($$SELECT migrate.add_partitions('events', current_date, current_date)$$, '42501', NULL,
    '... nor add_partitions: 42501');
SELECT throws_ok($$SELECT migrate.retention_delete('migrate.events_default', now())$$, '42501', NULL,
    '... nor retention_delete: 42501');
RESET ROLE;

--
-- the advisory lock: maintain skips while another session holds it, cleanup waits
--
SELECT is((SELECT l FROM dblink('tap_a', 'SELECT pg_advisory_lock(1835624306, 2)::text') AS t(l text)), '',
    'the second session takes the maintenance advisory lock');
SELECT is(pg_temp.maintain(), '{"skipped": true, "reason": "another migrate.maintain or migrate.cleanup is running"}'::jsonb,
    'maintain returns skipped while another session holds the lock');
SELECT is(pg_temp.n_ev('maintenance'), 0::bigint, '... and records no maintenance event');
SELECT is((SELECT count(*) FROM migrate.log_partitions('events') WHERE NOT is_default), 0::bigint, '... and creates no partition');
SET LOCAL lock_timeout = '200ms';
SELECT throws_ok($$SELECT migrate.cleanup('1 day')$$, '55P03', NULL,
    'cleanup waits for the lock instead of skipping (here: until lock_timeout)');
SET LOCAL lock_timeout = 0;
SELECT is((SELECT l FROM dblink('tap_a', 'SELECT pg_advisory_unlock(1835624306, 2)::text') AS t(l text)), 'true',
    'the second session releases the lock');

--
-- migrate.retention_truncate (maintain's TRUNCATE fallback) gets past the
-- guard only while it runs: when its TRUNCATE fails (here: another session
-- reads the default partition), a TRUNCATE right after is refused again
--
DO $$ BEGIN PERFORM dblink_exec('tap_a', 'BEGIN'); PERFORM dblink_exec('tap_a', 'LOCK TABLE migrate.events_default IN ACCESS SHARE MODE'); END $$;
SET LOCAL lock_timeout = '100ms';
SELECT is(pg_temp.sqlstate_of($$SELECT migrate.retention_truncate('migrate.events_default')$$), '55P03',
    'retention_truncate of a partition another session reads: 55P03 (lock_timeout)');
SET LOCAL lock_timeout = 0;
DO $$ BEGIN PERFORM dblink_exec('tap_a', 'ROLLBACK'); END $$;
SELECT is(pg_temp.sqlstate_of('TRUNCATE migrate.events_default'), 'MG019',
    '... then a TRUNCATE of that partition is refused again: MG019');
SELECT is(pg_temp.sqlstate_of($$SELECT migrate.retention_truncate('migrate.events_default')$$), 'ok',
    'retention_truncate of the default partition works once it is free (rolled back here)');
SELECT is(pg_temp.sqlstate_of('TRUNCATE migrate.audit_log_default'), 'MG019',
    '... and leaves the guard on: TRUNCATE of a log partition right after: MG019');
SELECT is(pg_temp.sqlstate_of($$SELECT migrate.retention_truncate('migrate.events')$$), '22023',
    'retention_truncate of migrate.events itself: 22023');
SELECT is(pg_temp.sqlstate_of($$SELECT migrate.retention_truncate('pg_class')$$), '22023',
    'retention_truncate of a relation that is not a log partition: 22023');

--
-- cleanup(0): a clean slate (events committed by earlier test files)
--
SELECT throws_ok($$SELECT migrate.cleanup(NULL)$$, '22023', NULL, 'cleanup(NULL): 22023');
SELECT throws_ok($$SELECT migrate.cleanup('-1 second')$$, '22023', NULL, 'cleanup of a negative interval: 22023');
SELECT (SELECT count(*) FROM migrate.events WHERE logged_at < now())
     + (SELECT count(*) FROM migrate.audit_log WHERE logged_at < now()) AS old_rows \gset
INSERT INTO runs (r) SELECT migrate.cleanup('0', include_audit_log => true);
SELECT is((SELECT r - 'duration_ms' FROM runs ORDER BY n DESC LIMIT 1),
    jsonb_build_object('cutoff', now(), 'include_audit_log', true, 'dropped_partitions', '[]'::jsonb, 'truncated_partitions', '[]'::jsonb,
                       'deferred_partitions', '[]'::jsonb, 'deleted_rows', :old_rows),
    'cleanup(0) deletes every row logged before now() from the default partitions and says so');
SELECT is((SELECT count(*) FROM migrate.events WHERE logged_at < now())
        + (SELECT count(*) FROM migrate.audit_log WHERE logged_at < now()), 0::bigint,
    '... no row older than now() is left');
SELECT is((SELECT (severity, details)::text FROM migrate.events WHERE kind = 'cleanup'),
    (SELECT ('warning', r)::text FROM runs ORDER BY n DESC LIMIT 1), 'cleanup with include_audit_log records a cleanup event (warning) with its result');

--
-- first maintain: today .. today + 7; the cleanup event of today is moved out
-- of the default partition; an expired day whose parent is locked by another
-- session is truncated instead of dropped
--
SELECT is(pg_temp.added('events', current_date - 200, current_date - 200), ARRAY[pg_temp.p('events', 200)],
    'add_partitions(events, D-200, D-200) creates events_pD-200');
DO $$ BEGIN PERFORM pg_temp.put(200, 'debug'); PERFORM pg_temp.put(200, 'error'); END $$;
DO $$ BEGIN PERFORM dblink_exec('tap_a', 'BEGIN'); PERFORM dblink_exec('tap_a', 'LOCK TABLE ONLY migrate.events IN ACCESS SHARE MODE'); END $$;
SELECT ok(pg_temp.maintain() IS NOT NULL, 'maintain while another session reads migrate.events');
DO $$ BEGIN PERFORM dblink_exec('tap_a', 'ROLLBACK'); END $$;
SELECT is(pg_temp.names(pg_temp.last_run()->'created_partitions'),
    pg_temp.sorted(ARRAY(SELECT pg_temp.p(w, -k) FROM unnest(ARRAY['events', 'audit_log']) w, generate_series(0, 7) k)),
    'it creates the partitions of events and audit_log for today .. today + 7');
-- indexes per partition, none on the partitioned tables (ATTACH PARTITION would
-- clone those under the names pg_restore then creates them with)
SELECT is((SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid IN ('migrate.audit_log'::regclass, 'migrate.events'::regclass)
               OR i.indrelid IN (SELECT inhrelid FROM pg_inherits JOIN pg_class p ON p.oid = inhrelid
                                  WHERE inhparent = 'migrate.events'::regclass AND p.relkind = 'p')),
    0::bigint, 'the partitioned tables (events, audit_log, a day of events) have no index of their own');
SELECT is((SELECT string_agg(pg_get_indexdef(i.indexrelid), '; ' ORDER BY pg_get_indexdef(i.indexrelid))
             FROM pg_index i WHERE i.indrelid = ('migrate.' || pg_temp.p('audit_log', 0))::regclass),
    format('CREATE INDEX %1$s_relid_id_idx ON migrate.%1$s USING btree (relid, id); '
           'CREATE INDEX %1$s_relid_id_idx1 ON migrate.%1$s USING btree (relid, id) WHERE (operation = ''TRUNCATE''::text); '
           'CREATE INDEX %1$s_row_key_idx ON migrate.%1$s USING hash (row_key)', pg_temp.p('audit_log', 0)),
    'a new day of audit_log has its three indexes (row key, table order, TRUNCATEs)');
SELECT is((SELECT count(*) FROM pg_inherits h JOIN pg_class l ON l.oid = h.inhrelid
            WHERE h.inhparent = ('migrate.' || pg_temp.p('events', 0))::regclass
              AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = l.oid
                                 AND pg_get_indexdef(i.indexrelid) LIKE '%USING btree (logged_at)')),
    0::bigint, 'every leaf of a new day of events has its index on logged_at');
SELECT is((SELECT attr.atttypid::regtype::text FROM pg_attribute attr
            WHERE attr.attrelid = 'migrate.audit_log'::regclass AND attr.attname = 'relid'),
    'regclass', 'audit_log.relid is a regclass (pg_dump writes it by name: a restore keeps the history of a table)');
SELECT is(pg_temp.names(pg_temp.last_run()->'truncated_partitions'), ARRAY[pg_temp.p('events', 200)],
    'the expired day D-200 could not be dropped (its parent is locked): it is truncated');
SELECT is(pg_temp.names(pg_temp.last_run()->'dropped_partitions'), '{}'::text[], '... not dropped');
SELECT is((SELECT count(*) FROM migrate.events WHERE kind = 'tap_ret'), 0::bigint, '... its rows are gone');
SELECT isnt(to_regclass('migrate.' || pg_temp.p('events', 200)), NULL, '... the partition is still there');

-- the guard stays on: TRUNCATE of the logs and of every one of their
-- partitions is refused even for a superuser, also of the day maintain has
-- just truncated through migrate.retention_truncate
SELECT is(pg_temp.sqlstate_of(format('TRUNCATE migrate.%I', pg_temp.p('events', 200))), 'MG019',
    'TRUNCATE of the day maintain has just truncated (superuser): MG019');
SELECT is(pg_temp.sqlstate_of(format('TRUNCATE migrate.%I', pg_temp.p('events', 200, '_error'))), 'MG019',
    '... of one of its leaves: MG019');
SELECT is(pg_temp.sqlstate_of('TRUNCATE migrate.events_default'), 'MG019',
    'TRUNCATE of the default partition of events (superuser): MG019');
SELECT is(pg_temp.sqlstate_of(format('TRUNCATE migrate.%I', pg_temp.p('events', 0))), 'MG019',
    'TRUNCATE of today''s day partition of events, a partitioned table (superuser): MG019');
SELECT is(ARRAY(SELECT pg_temp.sqlstate_of(format('TRUNCATE migrate.%I', pg_temp.p('events', 0, l)))
                  FROM unnest(ARRAY['_debug', '_notice', '_error']) l),
    '{MG019,MG019,MG019}'::text[], 'TRUNCATE of each leaf of today''s events partition (superuser): MG019');
SELECT is(pg_temp.sqlstate_of(format('TRUNCATE migrate.%I', pg_temp.p('events', -7, '_notice'))), 'MG019',
    'TRUNCATE of a leaf of a day ahead (superuser): MG019');
SELECT is(pg_temp.sqlstate_of(format('TRUNCATE migrate.%I CASCADE', pg_temp.p('events', 0, '_error'))), 'MG019',
    'TRUNCATE ... CASCADE of a leaf: MG019');
SELECT is(pg_temp.sqlstate_of(format('TRUNCATE pg_temp.runs, migrate.%I', pg_temp.p('events', 0, '_error'))), 'MG019',
    'TRUNCATE of another table together with a leaf: MG019');
SELECT is(pg_temp.sqlstate_of('TRUNCATE migrate.audit_log_default'), 'MG019',
    'TRUNCATE of the default partition of audit_log (superuser): MG019');
SELECT is(pg_temp.sqlstate_of(format('TRUNCATE migrate.%I', pg_temp.p('audit_log', 0))), 'MG019',
    'TRUNCATE of today''s audit_log partition (superuser): MG019');
SELECT is(
    ARRAY(SELECT t.relid::text FROM (SELECT relid FROM pg_partition_tree('migrate.events')
                                     UNION ALL SELECT relid FROM pg_partition_tree('migrate.audit_log')) t
           WHERE pg_temp.sqlstate_of(format('TRUNCATE %s', t.relid)) IS DISTINCT FROM 'MG019' ORDER BY 1),
    '{}'::text[], 'TRUNCATE of events, audit_log and each of their partitions (defaults, days, leaves): MG019 for every one');
SELECT is(
    ARRAY(SELECT t.relid::text FROM (SELECT relid FROM pg_partition_tree('migrate.events')
                                     UNION ALL SELECT relid FROM pg_partition_tree('migrate.audit_log')) t
           WHERE NOT EXISTS (SELECT FROM pg_trigger g
                              WHERE g.tgrelid = t.relid AND g.tgfoid = 'migrate.guard_log()'::regprocedure
                                AND (g.tgtype & 32) <> 0 AND g.tgenabled <> 'D')
           ORDER BY 1),
    '{}'::text[], '... each has its own enabled BEFORE TRUNCATE guard trigger');
SELECT cmp_ok((SELECT count(*) FROM pg_partition_tree('migrate.events') WHERE isleaf AND level = 2), '>=', 3::bigint,
    '... (the leaves of the days were among them)');
SELECT is((SELECT array_agg(k ORDER BY k COLLATE "C") FROM jsonb_object_keys(pg_temp.last_run()) k),
    '{created_partitions,deferred_partitions,delete_limit_reached,deleted_rows,detached_partitions,dropped_partitions,duration_ms,freed_partitions,truncated_partitions}'::text[],
    'the result has the documented keys');
SELECT is(pg_temp.last_run()->'deleted_rows', '0'::jsonb, 'deleted_rows 0');
SELECT is(pg_temp.last_run()->'delete_limit_reached', 'false'::jsonb, 'delete_limit_reached false');
SELECT ok((pg_temp.last_run()->>'duration_ms')::numeric >= 0, 'duration_ms is a number');
SELECT is((SELECT tableoid::regclass::text FROM migrate.events WHERE kind = 'cleanup'), 'migrate.' || pg_temp.p('events', 0, '_notice'),
    'the cleanup event of today was moved from the default partition into today''s partition');
SELECT is((SELECT count(*) FROM migrate.events_default), 0::bigint, 'the default partition of events is empty');
SELECT is((SELECT (e.severity, e.details = pg_temp.last_run(), e.current_user_name = (SELECT r.rolname::text FROM pg_roles r, pg_class c WHERE c.oid = 'migrate.events'::regclass AND r.oid = c.relowner))::text
             FROM migrate.events e WHERE e.kind = 'maintenance' ORDER BY id DESC LIMIT 1),
    '(info,t,t)', 'maintain records a maintenance event (info) with its result, as the extension owner');
SELECT results_eq(
    $$SELECT leaf::text, is_default, lower_bound, upper_bound, severities FROM migrate.log_partitions('events')
       WHERE day_partition = ('migrate.' || pg_temp.p('events', -1))::regclass OR is_default$$,
    $$VALUES ('migrate.events_default', true, NULL::timestamptz, NULL::timestamptz, NULL::text[]),
             ('migrate.' || pg_temp.p('events', -1, '_debug'), false, pg_temp.at(-1, '00:00'), pg_temp.at(-2, '00:00'), '{debug,info}'),
             ('migrate.' || pg_temp.p('events', -1, '_notice'), false, pg_temp.at(-1, '00:00'), pg_temp.at(-2, '00:00'), '{notice,warning}'),
             ('migrate.' || pg_temp.p('events', -1, '_error'), false, pg_temp.at(-1, '00:00'), pg_temp.at(-2, '00:00'), '{error,critical}')$$,
    'log_partitions(events): the default partition and, per UTC day, one leaf per retention class');
SELECT results_eq(
    $$SELECT leaf::text, is_default, lower_bound, upper_bound, severities FROM migrate.log_partitions('audit_log')
       WHERE day_partition = ('migrate.' || pg_temp.p('audit_log', 0))::regclass OR is_default$$,
    $$VALUES ('migrate.audit_log_default', true, NULL::timestamptz, NULL::timestamptz, NULL::text[]),
             ('migrate.' || pg_temp.p('audit_log', 0), false, pg_temp.at(0, '00:00'), pg_temp.at(-1, '00:00'), NULL)$$,
    'log_partitions(audit_log): the default partition and one partition per UTC day');

SELECT ok(pg_temp.maintain() IS NOT NULL, 'maintain again, the other session gone');
SELECT is(pg_temp.names(pg_temp.last_run()->'detached_partitions'), ARRAY[pg_temp.p('events', 200)],
    'the truncated day is detached by the next run');
SELECT is((SELECT relispartition FROM pg_class WHERE oid = to_regclass('migrate.' || pg_temp.p('events', 200))), false,
    '... it is no longer a partition of migrate.events');
SELECT is(pg_temp.names(pg_temp.last_run()->'created_partitions'), '{}'::text[], '... and nothing is created');
SELECT is(pg_temp.names(pg_temp.maintain()->'freed_partitions'), ARRAY[pg_temp.p('events', 200)],
    'the run after drops the detached day');
SELECT is(to_regclass('migrate.' || pg_temp.p('events', 200)), NULL, '... it is gone');

SELECT pg_temp.n_ev('maintenance') AS maint_before \gset
SELECT is(pg_temp.maintain() - 'duration_ms',
    '{"created_partitions": [], "detached_partitions": [], "freed_partitions": [], "dropped_partitions": [],
      "truncated_partitions": [], "deferred_partitions": [], "deleted_rows": 0, "delete_limit_reached": false}'::jsonb,
    'a fourth maintain has nothing to do');
SELECT is(pg_temp.n_ev('maintenance'), :'maint_before'::bigint, '... and records no maintenance event');

SET LOCAL migrate.premake_days = 9;
SELECT is(pg_temp.names(pg_temp.maintain()->'created_partitions'),
    pg_temp.sorted(ARRAY[pg_temp.p('events', -8), pg_temp.p('events', -9), pg_temp.p('audit_log', -8), pg_temp.p('audit_log', -9)]),
    'with premake_days = 9 maintain creates days 8 and 9 ahead');
RESET migrate.premake_days;

--
-- add_partitions
--
SELECT throws_ok($$SELECT migrate.add_partitions('bogus', current_date, current_date)$$, '22023', NULL,
    'add_partitions of something else than events or audit_log: 22023');
SELECT throws_ok($$SELECT migrate.add_partitions(NULL, current_date, current_date)$$, '22023', NULL, 'add_partitions(NULL, ...): 22023');
SELECT throws_ok($$SELECT migrate.add_partitions('events', NULL, current_date)$$, '22023', NULL, 'add_partitions with a NULL day: 22023');
SELECT throws_ok($$SELECT migrate.add_partitions('events', current_date - 3661, current_date)$$, '22023', NULL,
    'add_partitions over more than 3660 days: 22023');
SELECT is(pg_temp.added('events', current_date, current_date + 1), '{}'::text[],
    'add_partitions of existing days creates nothing');
SELECT is(pg_temp.added('events', current_date - 5, current_date - 6), '{}'::text[],
    'add_partitions with last_day before first_day creates nothing');

-- rows already in the default partition are moved into the new partition
DO $$ BEGIN PERFORM pg_temp.put(60, 'debug'); PERFORM pg_temp.put(60, 'warning'); PERFORM pg_temp.put(60, 'error'); END $$;
SELECT is(pg_temp.holder(60, 'warning'), 'migrate.events_default', 'an event of a day without partition goes to the default partition');
SELECT is(pg_temp.added('events', current_date - 60, current_date - 60), ARRAY[pg_temp.p('events', 60)],
    'add_partitions(D-60) creates the day although the default partition holds rows of it');
SELECT is(ARRAY[pg_temp.holder(60, 'debug'), pg_temp.holder(60, 'warning'), pg_temp.holder(60, 'error')],
    ARRAY['migrate.' || pg_temp.p('events', 60, '_debug'), 'migrate.' || pg_temp.p('events', 60, '_notice'),
          'migrate.' || pg_temp.p('events', 60, '_error')],
    '... and moves them into its leaves');
SELECT is((SELECT count(*) FROM migrate.events_default), 0::bigint, '... out of the default partition');
DO $$ BEGIN PERFORM pg_temp.put_audit(25, '01:00'); PERFORM pg_temp.put_audit(25, '23:00'); END $$;
SELECT is(pg_temp.added('audit_log', current_date - 25, current_date - 25), ARRAY[pg_temp.p('audit_log', 25)],
    'add_partitions(audit_log, D-25) with rows of the day in the default partition');
SELECT results_eq($$SELECT tableoid::regclass::text FROM migrate.audit_log WHERE table_name = 'tap_ret'$$,
    $$VALUES ('migrate.' || pg_temp.p('audit_log', 25)), ('migrate.' || pg_temp.p('audit_log', 25))$$,
    '... moves them into the new partition');


-- unless there are more than migrate.maintain_delete_limit of them
DO $$ BEGIN PERFORM pg_temp.put(20, 'info'); PERFORM pg_temp.put(20, 'notice'); END $$;
SET LOCAL migrate.maintain_delete_limit = 1;
SELECT is(pg_temp.added('events', current_date - 20, current_date - 20), '{}'::text[],
    'add_partitions(D-20) with 2 rows of the day in the default partition and maintain_delete_limit = 1 creates nothing');
RESET migrate.maintain_delete_limit;
SELECT is(to_regclass('migrate.' || pg_temp.p('events', 20)), NULL, '... no partition');
SELECT is(ARRAY[pg_temp.holder(20, 'info'), pg_temp.holder(20, 'notice')],
    '{migrate.events_default,migrate.events_default}'::text[], '... the rows stay in the default partition');

--
-- retention: mixed severities, empty days, the default partition
--
SELECT results_eq($$SELECT severity, keep FROM migrate.event_retention()$$,
    $$VALUES ('debug', interval '7 days'), ('info', interval '7 days'), ('notice', interval '30 days'),
             ('warning', interval '30 days'), ('error', interval '90 days'), ('critical', interval '90 days')$$,
    'event_retention(): debug, info 7 days; notice, warning 30 days (the default row); error, critical 90 days');
SELECT results_eq($$SELECT what, severity, keep FROM migrate.retention WHERE what = 'audit_log'$$,
    $$VALUES ('audit_log', NULL::text, NULL::interval)$$, 'the audit log is kept forever by default');

SELECT is(
    pg_temp.added('events', current_date - 120, current_date - 120)
    || pg_temp.added('events', current_date - 95, current_date - 95)
    || pg_temp.added('events', current_date - 50, current_date - 50)
    || pg_temp.added('events', current_date - 40, current_date - 40)
    || pg_temp.added('events', current_date - 10, current_date - 10)
    || pg_temp.added('events', current_date - 3, current_date - 3),
    ARRAY[pg_temp.p('events', 120), pg_temp.p('events', 95), pg_temp.p('events', 50), pg_temp.p('events', 40),
          pg_temp.p('events', 10), pg_temp.p('events', 3)],
    'add_partitions of past days D-120, D-95, D-50, D-40, D-10, D-3');
-- every severity on D-95, D-40, D-10 and D-3; D-120 and D-50 stay empty
DO $$ BEGIN
    PERFORM pg_temp.put(n, s)
       FROM unnest(ARRAY[95, 40, 10, 3]) n, unnest(ARRAY['debug', 'info', 'notice', 'warning', 'error', 'critical']) s;
END $$;
-- the default partition: days without partition
DO $$ BEGIN PERFORM pg_temp.put(100, 'critical'); PERFORM pg_temp.put(45, s) FROM unnest(ARRAY['debug', 'warning', 'error']) s; END $$;
SELECT is(pg_temp.holder(40, 'info'), 'migrate.' || pg_temp.p('events', 40, '_debug'), 'info events of D-40 are in the _debug leaf');
SELECT is(pg_temp.sqlstate_of(format('DELETE FROM migrate.%I', pg_temp.p('events', 40, '_debug'))), 'MG019',
    'the guard covers the leaves add_partitions creates: DELETE from a leaf directly: MG019');
SELECT is(pg_temp.sqlstate_of(format('UPDATE migrate.%I SET message = %L', pg_temp.p('events', 40), 'x')), 'MG019',
    '... UPDATE of a day partition directly: MG019');

SELECT ok(pg_temp.maintain() IS NOT NULL, 'maintain with expired days, leaves and default rows');
SELECT is(pg_temp.names(pg_temp.last_run()->'detached_partitions'),
    pg_temp.sorted(ARRAY[pg_temp.p('events', 120), pg_temp.p('events', 95)]),
    'detached: whole days past 90 days (D-120 empty, D-95); their files go in the next run');
SELECT is(pg_temp.names(pg_temp.last_run()->'dropped_partitions'),
    pg_temp.sorted(ARRAY[pg_temp.p('events', 60, '_debug'), pg_temp.p('events', 60, '_notice'),
                         pg_temp.p('events', 50, '_debug'), pg_temp.p('events', 50, '_notice'),
                         pg_temp.p('events', 40, '_debug'), pg_temp.p('events', 40, '_notice'),
                         pg_temp.p('events', 10, '_debug')]),
    'dropped: the debug and notice leaves past 30 days (D-60, D-50 empty, D-40), the debug leaf past 7 days (D-10)');
SELECT is(pg_temp.last_run()->'deleted_rows', '4'::jsonb,
    'deleted_rows: the 4 expired events of the default partition (D-100 critical, D-45 debug and warning, D-20 info)');
SELECT is(pg_temp.last_run()->'delete_limit_reached', 'false'::jsonb, '... below the limit');
SELECT is(pg_temp.names(pg_temp.last_run()->'truncated_partitions'), '{}'::text[], 'nothing truncated');
SELECT is(pg_temp.names(pg_temp.last_run()->'created_partitions'), '{}'::text[], 'nothing created');
SELECT results_eq($$SELECT * FROM pg_temp.left_events()$$,
    $$VALUES (60, 'error'), (45, 'error'), (40, 'error'), (40, 'critical'), (20, 'notice'),
             (10, 'notice'), (10, 'warning'), (10, 'error'), (10, 'critical'),
             (3, 'debug'), (3, 'info'), (3, 'notice'), (3, 'warning'), (3, 'error'), (3, 'critical')$$,
    'the events left are exactly those within their retention');
SELECT ok(to_regclass('migrate.' || pg_temp.p('events', 40)) IS NOT NULL
          AND to_regclass('migrate.' || pg_temp.p('events', 40, '_error')) IS NOT NULL,
    'D-40 keeps its day partition and its _error leaf');
SELECT ok(to_regclass('migrate.' || pg_temp.p('events', 50, '_error')) IS NOT NULL,
    'the empty D-50 keeps its _error leaf (90 days not over)');
SELECT is((SELECT (details = pg_temp.last_run())::text FROM migrate.events WHERE kind = 'maintenance' ORDER BY id DESC LIMIT 1),
    'true', 'the maintenance event holds this result');

SELECT pg_temp.n_ev('maintenance') AS maint_before \gset
SELECT is(pg_temp.maintain() - 'duration_ms',
    ('{"created_partitions": [], "detached_partitions": [], "dropped_partitions": [], "truncated_partitions": [],
      "deferred_partitions": [], "deleted_rows": 0, "delete_limit_reached": false,
      "freed_partitions": ["migrate.events_p' || to_char(current_date - 120, 'YYYYMMDD') || '", "migrate.events_p' || to_char(current_date - 95, 'YYYYMMDD') || '"]}')::jsonb,
    'the next maintain only drops the two detached days');
SELECT is(to_regclass('migrate.' || pg_temp.p('events', 95)), NULL, '... D-95 is gone');
SELECT pg_temp.n_ev('maintenance') AS maint_before \gset
SELECT is(pg_temp.maintain() - 'duration_ms',
    '{"created_partitions": [], "detached_partitions": [], "freed_partitions": [], "dropped_partitions": [],
      "truncated_partitions": [], "deferred_partitions": [], "deleted_rows": 0, "delete_limit_reached": false}'::jsonb,
    'idempotent: the run after that has nothing to do');
SELECT is(pg_temp.n_ev('maintenance'), :'maint_before'::bigint, '... and records no maintenance event');

-- days are UTC days whatever the session's TimeZone
SELECT current_date - 7 AS d7, pg_temp.p('events', 7) AS p7 \gset
SET LOCAL TimeZone = 'Pacific/Kiritimati';
SELECT is(pg_temp.added('events', :'d7', :'d7'), ARRAY[:'p7'],
    'add_partitions in a session with TimeZone UTC+14');
SELECT is(pg_temp.maintain()->'created_partitions', '[]'::jsonb,
    'maintain in a session with TimeZone UTC+14 creates nothing new (today is the UTC day)');
SET LOCAL TimeZone = 'UTC';
SELECT results_eq(
    $$SELECT DISTINCT lower_bound, upper_bound FROM migrate.log_partitions('events') WHERE day_partition = ('migrate.' || pg_temp.p('events', 7))::regclass$$,
    $$VALUES (pg_temp.at(7, '00:00'), pg_temp.at(6, '00:00'))$$, '... its bounds are UTC midnights');

--
-- migrate.retention changed after the partitions were created
--
SELECT throws_ok($$INSERT INTO migrate.retention (what, severity, keep) VALUES ('events', 'debug', '1 day')$$, '23505', NULL,
    'one retention row per severity');
SELECT throws_ok($$INSERT INTO migrate.retention (what, severity, keep) VALUES ('events', NULL, '1 day')$$, '23505', NULL,
    'one default retention row per table');
SELECT throws_ok($$INSERT INTO migrate.retention (what, severity, keep) VALUES ('events', 'fatal', '1 day')$$, '23514', NULL,
    'retention of an unknown severity: 23514');
SELECT throws_ok($$INSERT INTO migrate.retention (what, severity, keep) VALUES ('audit_log', 'info', '1 day')$$, '23514', NULL,
    'the audit log has no severities: 23514');
SELECT throws_ok($$UPDATE migrate.retention SET keep = '0 days' WHERE severity = 'debug'$$, '23514', NULL,
    'keep must be positive: 23514');
INSERT INTO migrate.retention (what, severity, keep) VALUES ('events', 'warning', NULL);
SELECT is((SELECT array_agg(keep::text ORDER BY migrate.severity_rank(severity)) FROM migrate.event_retention() WHERE severity IN ('notice', 'warning')),
    ARRAY['30 days', NULL], 'a severity row with keep NULL keeps that severity forever (not the default row''s 30 days)');
DELETE FROM migrate.retention WHERE what = 'events' AND severity = 'warning';

UPDATE migrate.retention SET keep = '1 day' WHERE what = 'events' AND severity = 'debug';
SELECT results_eq($$SELECT severity, keep FROM migrate.event_retention() WHERE severity IN ('debug', 'info')$$,
    $$VALUES ('debug', interval '1 day'), ('info', interval '7 days')$$, 'debug now 1 day, info still 7 days');
SELECT ok(pg_temp.maintain() IS NOT NULL, 'maintain after the change');
SELECT is(pg_temp.last_run()->'deleted_rows', '1'::jsonb,
    'the debug event of D-3, in a leaf shared with info, is deleted row-wise');
SELECT is(pg_temp.names(pg_temp.last_run()->'dropped_partitions'), '{}'::text[], '... the leaf is not dropped');
SELECT results_eq($$SELECT * FROM pg_temp.left_events() WHERE days_ago = 3 AND severity IN ('debug', 'info')$$,
    $$VALUES (3, 'info')$$, '... its info event stays');

SELECT is(pg_temp.added('events', current_date - 2, current_date - 2), ARRAY[pg_temp.p('events', 2)],
    'a day created after the change');
SELECT results_eq(
    $$SELECT leaf::text, severities FROM migrate.log_partitions('events') WHERE day_partition = ('migrate.' || pg_temp.p('events', 2))::regclass$$,
    $$VALUES ('migrate.' || pg_temp.p('events', 2, '_debug'), '{debug}'::text[]), ('migrate.' || pg_temp.p('events', 2, '_info'), '{info}'),
             ('migrate.' || pg_temp.p('events', 2, '_notice'), '{notice,warning}'), ('migrate.' || pg_temp.p('events', 2, '_error'), '{error,critical}')$$,
    '... has a leaf per new retention class: debug alone, info alone');
DO $$ BEGIN PERFORM pg_temp.put(2, 'debug'); PERFORM pg_temp.put(2, 'info'); END $$;
SELECT is(pg_temp.names(pg_temp.maintain()->'dropped_partitions'), ARRAY[pg_temp.p('events', 2, '_debug')],
    'its debug leaf is dropped once debug expired');
SELECT results_eq($$SELECT * FROM pg_temp.left_events() WHERE days_ago = 2$$, $$VALUES (2, 'info')$$,
    '... its info event stays');

--
-- migrate.maintain_delete_limit
--
DO $$ BEGIN PERFORM pg_temp.put(30, 'debug', t) FROM unnest(ARRAY['01:00', '02:00', '03:00', '04:00', '05:00']) t; END $$;
SET LOCAL migrate.maintain_delete_limit = 3;
SELECT ok(pg_temp.maintain() IS NOT NULL, 'maintain with 5 expired events in the default partition and maintain_delete_limit = 3');
SELECT is(pg_temp.last_run()->'deleted_rows', '3'::jsonb, '... deletes 3');
SELECT is(pg_temp.last_run()->'delete_limit_reached', 'true'::jsonb, '... and says the limit was reached');
SELECT results_eq($$SELECT (logged_at AT TIME ZONE 'UTC')::time::text FROM migrate.events WHERE kind = 'tap_ret' AND (logged_at AT TIME ZONE 'UTC')::date = current_date - 30 ORDER BY 1$$,
    $$VALUES ('04:00:00'), ('05:00:00')$$, '... the oldest first');
SELECT ok(pg_temp.maintain() IS NOT NULL, 'maintain again');
SELECT is(pg_temp.last_run()->'deleted_rows', '2'::jsonb, '... deletes the other 2');
SELECT is(pg_temp.last_run()->'delete_limit_reached', 'false'::jsonb, '... below the limit');
RESET migrate.maintain_delete_limit;

--
-- the audit log: kept forever unless migrate.retention says otherwise
--
DO $$ BEGIN PERFORM pg_temp.put_audit(15); END $$;
SELECT is(pg_temp.added('audit_log', current_date - 20, current_date - 20)
          || pg_temp.added('audit_log', current_date - 5, current_date - 5),
    ARRAY[pg_temp.p('audit_log', 20), pg_temp.p('audit_log', 5)], 'add_partitions(audit_log) of D-20 and D-5');
DO $$ BEGIN PERFORM pg_temp.put_audit(20); PERFORM pg_temp.put_audit(5); END $$;
SELECT is(pg_temp.sqlstate_of(format('DELETE FROM migrate.%I', pg_temp.p('audit_log', 5))), 'MG019',
    'DELETE from an audit_log partition created by add_partitions: MG019');
SELECT ok(pg_temp.maintain() IS NOT NULL, 'maintain with audit_log kept forever');
SELECT is(pg_temp.last_run()->'dropped_partitions', '[]'::jsonb, '... drops no audit partition');
SELECT is((SELECT count(*) FROM migrate.audit_log WHERE table_name = 'tap_ret'), 5::bigint, '... and deletes no audit row');
UPDATE migrate.retention SET keep = '10 days' WHERE what = 'audit_log';
SELECT ok(pg_temp.maintain() IS NOT NULL, 'maintain with audit_log kept 10 days');
SELECT is(pg_temp.names(pg_temp.last_run()->'detached_partitions'), ARRAY[pg_temp.p('audit_log', 25), pg_temp.p('audit_log', 20)],
    '... detaches the audit partitions of D-25 and D-20');
SELECT is(pg_temp.last_run()->'deleted_rows', '1'::jsonb, '... and deletes the D-15 row of the default partition');
SELECT results_eq($$SELECT tableoid::regclass::text FROM migrate.audit_log WHERE table_name = 'tap_ret'$$,
    $$VALUES ('migrate.' || pg_temp.p('audit_log', 5))$$, '... the D-5 row stays');
SELECT ok(to_regclass('migrate.' || pg_temp.p('audit_log', 0)) IS NOT NULL, '... and so do today''s and later partitions');
UPDATE migrate.retention SET keep = NULL WHERE what = 'audit_log';

--
-- retention_delete (internal)
--
SELECT throws_ok($$SELECT migrate.retention_delete('pg_class', now())$$, '22023', NULL,
    'retention_delete of a relation that is not a log partition: 22023');
SELECT throws_ok($$SELECT migrate.retention_delete('migrate.events', now())$$, '22023', NULL,
    'retention_delete of migrate.events itself: 22023');
SELECT throws_ok($$SELECT migrate.retention_delete('migrate.audit_log_default', now(), '{info}')$$, '22023', NULL,
    'retention_delete with severities on an audit_log partition: 22023');
SELECT throws_ok($$SELECT migrate.retention_delete(NULL, now())$$, '22004', NULL, 'retention_delete(NULL, ...): 22004');
SELECT is(migrate.retention_delete('migrate.events_default', now(), NULL, 0), 0::bigint, 'retention_delete with max_rows 0 deletes nothing');
DO $$ BEGIN
    INSERT INTO migrate.events (kind, severity, logged_at)
    SELECT 'tap_rd', s, pg_temp.at(70, t) FROM unnest(ARRAY['01:00', '02:00', '03:00']) t, unnest(ARRAY['info', 'error']) s;
END $$;
SELECT is(migrate.retention_delete('migrate.events_default', pg_temp.at(70, '02:30'), '{error}', NULL, pg_temp.at(70, '01:30')), 1::bigint,
    'retention_delete(cutoff, severities, not_before) deletes only rows of those severities in [not_before, cutoff)');
SELECT is(migrate.retention_delete('migrate.events_default', pg_temp.at(70, '23:00'), NULL, 2), 2::bigint,
    'retention_delete with max_rows 2 deletes 2 rows');
SELECT results_eq($$SELECT (logged_at AT TIME ZONE 'UTC')::time::text, severity FROM migrate.events WHERE kind = 'tap_rd' ORDER BY 1, 2$$,
    $$VALUES ('02:00:00', 'info'), ('03:00:00', 'error'), ('03:00:00', 'info')$$, '... the oldest');
SELECT is(migrate.retention_delete('migrate.events_default', pg_temp.at(70, '23:00')), 3::bigint, 'retention_delete without limits deletes the rest');

--
-- a role granted maintain and cleanup runs them as the extension owner
--
SET LOCAL ROLE mg_tap_ret_admin;
SELECT lives_ok($$SELECT migrate.maintain()$$, 'a role granted EXECUTE on maintain runs it');
SELECT lives_ok($$SELECT migrate.cleanup('1000 days')$$, '... and cleanup');
SELECT throws_ok($$SELECT migrate.add_partitions('events', current_date, current_date)$$, '42501', NULL,
    '... but not add_partitions');
RESET ROLE;
SELECT is((SELECT (session_user_name, current_user_name)::text FROM migrate.events WHERE kind = 'cleanup' ORDER BY id DESC LIMIT 1),
    (SELECT (session_user, r.rolname)::text FROM pg_roles r, pg_class c WHERE c.oid = 'migrate.events'::regclass AND r.oid = c.relowner),
    'its cleanup event names the session user, and the extension owner (not the role) as current user');

--
-- cleanup: whole partitions before the cut-off dropped, straddling ones and
-- the default partitions deleted row-wise, whatever migrate.retention says
--
SELECT is(pg_temp.added('events', current_date - 4, current_date - 4)
          || pg_temp.added('audit_log', current_date - 4, current_date - 4),
    ARRAY[pg_temp.p('events', 4), pg_temp.p('audit_log', 4)], 'partitions of D-4');
DO $$ BEGIN PERFORM pg_temp.put(4, s, t) FROM unnest(ARRAY['notice', 'error']) s, unnest(ARRAY['06:00', '18:00']) t; END $$;
DO $$ BEGIN PERFORM pg_temp.put_audit(4, '06:00'); PERFORM pg_temp.put_audit(4, '18:00'); END $$;
DO $$ BEGIN PERFORM pg_temp.put(6, 'error'); PERFORM pg_temp.put(1, 'error'); END $$;
SELECT is(pg_temp.holder(6, 'error') || ' ' || pg_temp.holder(1, 'error'), 'migrate.events_default migrate.events_default',
    'events of D-6 and D-1 are in the default partition');
SELECT (SELECT count(*) FROM migrate.events WHERE kind = 'tap_ret' AND logged_at >= pg_temp.at(4))
     + (SELECT count(*) FROM migrate.audit_log WHERE table_name = 'tap_ret' AND logged_at >= pg_temp.at(4)) AS newer_rows \gset
-- cut-off: D-4 12:00 UTC; first events only, the audit log is left alone
SELECT (SELECT count(*) FROM migrate.audit_log) AS audit_rows_before \gset
INSERT INTO runs (r) SELECT migrate.cleanup(now() - pg_temp.at(4));
SELECT is((SELECT count(*) FROM migrate.audit_log), :'audit_rows_before'::bigint,
    'cleanup without include_audit_log leaves the audit log alone');
SELECT is((SELECT count(*) FROM migrate.events WHERE logged_at < pg_temp.at(4)), 0::bigint,
    '... and removes the events older than the cut-off');
SELECT is((SELECT pg_temp.names(r->'dropped_partitions') FROM runs ORDER BY n DESC LIMIT 1),
    pg_temp.sorted(ARRAY[pg_temp.p('events', 60), pg_temp.p('events', 50), pg_temp.p('events', 40), pg_temp.p('events', 10),
                         pg_temp.p('events', 7)]),
    '... dropping every partition of events that ends before the cut-off');
SELECT is((SELECT r->'deleted_rows' FROM runs ORDER BY n DESC LIMIT 1), '5'::jsonb,
    '... and deleting the older rows of the straddling D-4 partition (2 events) and of the default partition (D-45, D-20, D-6)');
INSERT INTO runs (r) SELECT migrate.cleanup(now() - pg_temp.at(4), include_audit_log => true);
SELECT is((SELECT (r->>'cutoff')::timestamptz FROM runs ORDER BY n DESC LIMIT 1), pg_temp.at(4),
    'cleanup(now() - D-4 12:00) has its cut-off at D-4 12:00');
SELECT is((SELECT pg_temp.names(r->'dropped_partitions') FROM runs ORDER BY n DESC LIMIT 1),
    ARRAY[pg_temp.p('audit_log', 5)],
    'it drops every partition of the audit log that ends before the cut-off');
SELECT is((SELECT r->'deleted_rows' FROM runs ORDER BY n DESC LIMIT 1), '1'::jsonb,
    'with include_audit_log it deletes the older row of the straddling D-4 audit partition (the events went in the first run)');
SELECT is((SELECT count(*) FROM migrate.events WHERE logged_at < pg_temp.at(4))
        + (SELECT count(*) FROM migrate.audit_log WHERE logged_at < pg_temp.at(4)), 0::bigint,
    'no event or audit row older than the cut-off is left');
SELECT is((SELECT count(*) FROM migrate.events WHERE kind = 'tap_ret' AND logged_at >= pg_temp.at(4))
        + (SELECT count(*) FROM migrate.audit_log WHERE table_name = 'tap_ret' AND logged_at >= pg_temp.at(4)), :'newer_rows'::bigint,
    'every newer row is left');
SELECT ok(to_regclass('migrate.' || pg_temp.p('events', 4)) IS NOT NULL AND to_regclass('migrate.' || pg_temp.p('audit_log', 4)) IS NOT NULL
          AND to_regclass('migrate.' || pg_temp.p('events', 3)) IS NOT NULL,
    'the straddling partitions and the later ones stay');
SELECT is((SELECT (severity, details)::text FROM migrate.events WHERE kind = 'cleanup' ORDER BY id DESC LIMIT 1),
    (SELECT ('warning', r)::text FROM runs ORDER BY n DESC LIMIT 1), 'cleanup records its result in a cleanup event');

SELECT is(dblink_disconnect('tap_a'), 'OK', 'the second session ends');

SELECT * FROM finish();
ROLLBACK;
