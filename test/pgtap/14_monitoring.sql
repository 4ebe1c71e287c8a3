-- Monitoring views and summary: migrate.slow_queries (pg_stat_activity
-- fallback without pg_stat_statements, with it installed in its own schema,
-- installed but not loaded, installed but not readable, the pre-1.8 column
-- names, migrate.slow_query_ms and its units), migrate.connections (idle in
-- transaction, waiting on a lock, other users' sessions), migrate.table_health
-- (dead tuples against the table's autovacuum threshold), migrate.rls_status
-- (verdicts, FORCE, partitions, schema migrate, extension members),
-- migrate.monitoring_summary (sections, window, errors, blocked sessions,
-- pending maintenance, read-only transactions), privileges (nothing for
-- PUBLIC; the documented monitoring role; a section the caller may not read)
-- and a hostile search_path.
--
-- The file passes whether or not the cluster preloads pg_stat_statements
-- (shared_preload_libraries): the assertions that need one or the other are
-- skipped on the other kind of cluster (test/run-tests.sh preloads it).
--
-- Everything runs in one transaction that is rolled back, but other sessions
-- (dblink) play the part of the application: a long statement, a session
-- idle in transaction, a session waiting for an advisory lock held by
-- another, and the writes whose dead tuples table_health must see (they must
-- commit to be counted; the tables are dropped after the ROLLBACK).
-- pg_stat_activity and the table statistics are read once per transaction
-- (a snapshot): pg_stat_clear_snapshot() is called before each new look.
--
-- Tests marked "bug:" failed when they were written (see the commit message).
BEGIN;
SET LOCAL client_min_messages = error;
SET LOCAL TimeZone = 'UTC';
SELECT plan(179);

SELECT 'pg_stat_statements' = ANY (string_to_array(translate(current_setting('shared_preload_libraries'), ' "', ''), ','))
    AS pgss_preloaded \gset
CREATE EXTENSION IF NOT EXISTS dblink;

-- the SQLSTATE a statement raises ('ok' when it succeeds), its effects rolled
-- back; with read_only, it runs in a read-only subtransaction
CREATE FUNCTION pg_temp.sqlstate_of(cmd text, read_only boolean DEFAULT false) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        IF read_only THEN
            PERFORM set_config('transaction_read_only', 'on', true);
        END IF;
        EXECUTE cmd;
        RAISE SQLSTATE 'TAP00';
    EXCEPTION WHEN OTHERS THEN
        RETURN CASE SQLSTATE WHEN 'TAP00' THEN 'ok' ELSE SQLSTATE END;
    END;
END
$$;
-- the rows of a view or function result as jsonb, after a fresh look at the statistics
CREATE FUNCTION pg_temp.rows_of(q text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
    PERFORM pg_stat_clear_snapshot();
    EXECUTE format('SELECT coalesce(jsonb_agg(to_jsonb(x)), ''[]'') FROM (%s) x', q) INTO r;
    RETURN r;
END
$$;
-- migrate.connections of one application_name (and state), after a fresh look
CREATE FUNCTION pg_temp.conn(app text, st text DEFAULT NULL) RETURNS SETOF migrate.connections
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_stat_clear_snapshot();
    RETURN QUERY SELECT * FROM migrate.connections c
                  WHERE c.application_name = app AND (st IS NULL OR c.state IS NOT DISTINCT FROM st);
END
$$;
-- the summary, after a fresh look
CREATE FUNCTION pg_temp.summary(since interval DEFAULT '1 hour') RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_stat_clear_snapshot();
    RETURN migrate.monitoring_summary(since);
END
$$;
-- the summary, or NULL when it fails
CREATE FUNCTION pg_temp.try_summary(since interval) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    RETURN migrate.monitoring_summary(since);
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;
-- a dblink session of this database with an application_name
CREATE FUNCTION pg_temp.open(name text) RETURNS text
LANGUAGE sql AS $$
    SELECT dblink_connect(name, format('dbname=%s port=%s application_name=%s host=%s',
                                       current_database(), current_setting('port'), name,
                                       split_part(current_setting('unix_socket_directories'), ',', 1)))
$$;
-- one value from a dblink session
CREATE FUNCTION pg_temp.remote(name text, q text) RETURNS text
LANGUAGE sql AS $$ SELECT v FROM dblink(name, q) AS t(v text) $$;
-- wait (up to 30 s) until cond is true, looking at fresh statistics each time
CREATE FUNCTION pg_temp.wait_for(cond text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE ok boolean;
BEGIN
    FOR i IN 1 .. 600 LOOP
        PERFORM pg_stat_clear_snapshot();
        EXECUTE 'SELECT ' || cond INTO ok;
        IF ok THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN false;
END
$$;
-- of the rows (a jsonb array) whose column col is LIKE pattern, the columns cols
CREATE FUNCTION pg_temp.pick(rows jsonb, col text, cols text[], pattern text DEFAULT 'tap\_mon\_%') RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_agg((SELECT jsonb_agg(r->c ORDER BY n) FROM unnest(cols) WITH ORDINALITY AS u(c, n)) ORDER BY i)
      FROM jsonb_array_elements(rows) WITH ORDINALITY AS x(r, i)
     WHERE r->>col LIKE pattern
$$;
-- a summary without what changes from one call to the next (times, sizes, cache hits)
CREATE FUNCTION pg_temp.steady(j jsonb) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT j - '{generated_at,cache_hit_ratio,database_size_bytes,database_size}'::text[]
           || jsonb_build_object(
                'longest_running', (SELECT jsonb_agg(e - 'running_for') FROM jsonb_array_elements(j->'longest_running') e),
                'idle_in_transaction', (SELECT jsonb_agg(e - '{idle_for,xact_age}'::text[]) FROM jsonb_array_elements(j->'idle_in_transaction') e),
                'blocked_sessions', (SELECT jsonb_agg(e - 'waiting_for') FROM jsonb_array_elements(j->'blocked_sessions') e))
$$;
-- the planner statistics of the default partitions of events and audit_log
-- as ANALYZE leaves them, or as they are before the first ANALYZE
CREATE FUNCTION pg_temp.default_partition_stats(analyzed boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE rel regclass;
BEGIN
    FOREACH rel IN ARRAY ARRAY['migrate.events_default'::regclass, 'migrate.audit_log_default'::regclass] LOOP
        IF analyzed THEN
            EXECUTE format('UPDATE pg_class SET relpages = pg_relation_size(%L::regclass) / current_setting(''block_size'')::int,
                                                reltuples = (SELECT count(*) FROM %s) WHERE oid = %L::regclass', rel, rel, rel);
        ELSE
            UPDATE pg_class SET relpages = 0, reltuples = -1 WHERE oid = rel;
        END IF;
    END LOOP;
END
$$;

--
-- the views and the function
--
SELECT columns_are('migrate', 'slow_queries',
    ARRAY['source', 'queryid', 'query', 'user_name', 'database_name', 'calls', 'total_ms', 'mean_ms', 'max_ms',
          'rows', 'pid', 'state', 'running_ms'],
    'migrate.slow_queries has exactly the documented columns');
SELECT columns_are('migrate', 'connections',
    ARRAY['database_name', 'user_name', 'application_name', 'state', 'connections', 'waiting',
          'idle_in_transaction', 'oldest_xact_age', 'longest_query_age'],
    'migrate.connections has exactly the documented columns');
SELECT columns_are('migrate', 'table_health',
    ARRAY['schema_name', 'table_name', 'live_tuples', 'dead_tuples', 'dead_ratio', 'last_vacuum', 'last_autovacuum',
          'last_analyze', 'last_autoanalyze', 'xid_age', 'size_bytes', 'size', 'seq_scan', 'idx_scan', 'needs_vacuum'],
    'migrate.table_health has exactly the documented columns');
SELECT columns_are('migrate', 'rls_status',
    ARRAY['schema_name', 'table_name', 'rls_enabled', 'rls_forced', 'policies', 'verdict'],
    'migrate.rls_status has exactly the documented columns');
SELECT function_returns('migrate', 'monitoring_summary', ARRAY['interval'], 'jsonb',
    'monitoring_summary(interval) returns jsonb');
SELECT is((SELECT pg_get_function_arguments('migrate.monitoring_summary(interval)'::regprocedure)),
    'since interval DEFAULT ''01:00:00''::interval', 'its argument since defaults to 1 hour');
SELECT is(
    ARRAY(SELECT (proname, prosecdef, provolatile, 'search_path=pg_catalog, pg_temp' = ANY (proconfig))::text FROM pg_proc
           WHERE oid IN ('migrate.monitoring_summary(interval)'::regprocedure, 'migrate.slow_query_rows()'::regprocedure)
           ORDER BY proname),
    ARRAY['(monitoring_summary,f,s,t)', '(slow_query_rows,f,s,t)'],
    'monitoring_summary and slow_query_rows run with the caller''s rights, are STABLE, with search_path pinned');

--
-- slow_queries without pg_stat_statements: the statements running now
--
SELECT is((SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'), 0::bigint,
    'pg_stat_statements is not installed in this database');
SELECT is(pg_temp.open('tap_mon_slow'), 'OK', 'a session for a long statement (dblink)');
SELECT pg_temp.remote('tap_mon_slow', 'SELECT pg_backend_pid()')::int AS slow_pid \gset
-- should this file fail half-way, the statement ends soon after this session
DO $$ BEGIN PERFORM dblink_exec('tap_mon_slow', $q$SET client_connection_check_interval = '500ms'$q$); END $$;
SELECT is(dblink_send_query('tap_mon_slow', 'SELECT pg_sleep(60) AS tap_mon_sleeper'), 1,
    'it starts SELECT pg_sleep(60)');
SELECT ok(pg_temp.wait_for(format($c$EXISTS (SELECT FROM pg_stat_activity WHERE pid = %s AND state = 'active'
                                                AND clock_timestamp() - query_start >= interval '1.6 s')$c$, :slow_pid)),
    '... which is running for more than 1.6 s');
-- a fresh session, in which the library is not loaded: migrate.slow_query_ms
-- is a placeholder holding what SET gave it
SELECT is(pg_temp.open('tap_mon_fresh'), 'OK', 'a fresh session (dblink)');
SELECT pg_temp.remote('tap_mon_fresh', 'SELECT pg_backend_pid()')::int AS fresh_pid \gset
SELECT is(pg_temp.remote('tap_mon_fresh', $q$SELECT current_setting('migrate.slow_query_ms', true)$q$), NULL,
    '... in which the library is not loaded');
SELECT is(pg_temp.remote('tap_mon_fresh', $q$SET migrate.slow_query_ms = 1000; SELECT jsonb_agg(to_jsonb(s))::text FROM migrate.slow_queries s$q$)::jsonb
            @? format('$[*] ? (@.pid == %s)', :slow_pid)::jsonpath, true,
    'slow_queries (migrate.slow_query_ms = 1000, a bare number of ms) lists the statement running for more than 1 s');
SELECT pg_temp.remote('tap_mon_fresh', format($q$SELECT coalesce((SELECT to_jsonb(s)::text FROM migrate.slow_queries s WHERE pid = %s), 'null')$q$, :slow_pid))
    AS slow_row \gset
SELECT is((:'slow_row'::jsonb)->>'source', 'pg_stat_activity', '... from pg_stat_activity');
SELECT is((:'slow_row'::jsonb)->>'query', 'SELECT pg_sleep(60) AS tap_mon_sleeper', '... with its text');
SELECT is((:'slow_row'::jsonb)->>'state', 'active', '... its state active');
SELECT is(((:'slow_row'::jsonb)->>'user_name', (:'slow_row'::jsonb)->>'database_name')::text,
    (current_user, current_database())::text, '... its user and database');
SELECT cmp_ok(((:'slow_row'::jsonb)->>'running_ms')::float8, '>=', 1000::float8, '... and a running_ms >= the threshold');
SELECT is(jsonb_build_array((:'slow_row'::jsonb)->'calls', (:'slow_row'::jsonb)->'total_ms', (:'slow_row'::jsonb)->'mean_ms',
                            (:'slow_row'::jsonb)->'max_ms', (:'slow_row'::jsonb)->'rows'),
    '[null, null, null, null, null]'::jsonb, '... and no calls, times or rows (pg_stat_statements only)');
SELECT is((:'slow_row'::jsonb)->'queryid',
    (SELECT coalesce(to_jsonb(query_id), 'null') FROM pg_stat_activity WHERE pid = :slow_pid),
    '... its queryid is pg_stat_activity.query_id');
SELECT is(pg_temp.remote('tap_mon_fresh', $q$SELECT count(*) FROM migrate.slow_queries WHERE pid = pg_backend_pid()$q$), '0',
    'the session looking is not listed');
SELECT is(pg_temp.remote('tap_mon_fresh', $q$SELECT count(*) FROM migrate.slow_queries WHERE source <> 'pg_stat_activity'$q$), '0',
    'every row comes from pg_stat_activity');
SELECT is(pg_temp.remote('tap_mon_fresh', format($q$SET migrate.slow_query_ms = '1min'; SELECT count(*) FROM migrate.slow_queries WHERE pid = %s$q$, :slow_pid)),
    '0', 'with migrate.slow_query_ms = 1min (a unit) it is not listed');
SELECT is(pg_temp.remote('tap_mon_fresh', format($q$SET migrate.slow_query_ms = '1s'; SELECT count(*) FROM migrate.slow_queries WHERE pid = %s$q$, :slow_pid)),
    '1', 'with 1s it is');
SELECT is(pg_temp.remote('tap_mon_fresh', format($q$SET migrate.slow_query_ms = 'soon'; SELECT count(*) FROM migrate.slow_queries WHERE pid = %s$q$, :slow_pid)),
    '1', 'an unreadable placeholder value counts as the default 100 ms (no error)');
-- the library loaded: the setting has its unit
DO $$ BEGIN PERFORM dblink_exec('tap_mon_fresh', 'RESET migrate.slow_query_ms'); PERFORM dblink_exec('tap_mon_fresh', $q$LOAD 'migrate_ext'$q$); END $$;
SELECT is(pg_temp.remote('tap_mon_fresh', $q$SET migrate.slow_query_ms = 1500; SELECT current_setting('migrate.slow_query_ms')$q$), '1500ms',
    'in a session with the library loaded, SET migrate.slow_query_ms = 1500 shows as 1500ms');
SELECT is(pg_temp.remote('tap_mon_fresh', format($q$SELECT count(*) FROM migrate.slow_queries WHERE pid = %s$q$, :slow_pid)),
    '1', '... and slow_queries lists the statement running for more than 1.5 s');
SELECT is(pg_temp.remote('tap_mon_fresh', format($q$SET migrate.slow_query_ms = 3600000; SELECT count(*) FROM migrate.slow_queries WHERE pid = %s$q$, :slow_pid)),
    '0', '... not with 3600000 (1h)');
DO $$ BEGIN PERFORM dblink_exec('tap_mon_fresh', 'RESET migrate.slow_query_ms'); END $$;
-- in this session, whose transaction began before the statement
SET LOCAL migrate.slow_query_ms = '1s';
-- bug: running_ms is measured from now(), the start of the caller's transaction
SELECT is(pg_temp.rows_of(format('SELECT source, pid FROM migrate.slow_queries WHERE pid = %s', :slow_pid)),
    jsonb_build_array(jsonb_build_object('source', 'pg_stat_activity', 'pid', :slow_pid)),
    'slow_queries lists the statement running for more than 1 s also in a transaction that began before it');
SELECT ok(NOT (pg_temp.rows_of('SELECT running_ms FROM migrate.slow_queries') @? '$[*] ? (@.running_ms < 0)'),
    '... no running_ms is negative');
RESET migrate.slow_query_ms;
SELECT is(pg_temp.sqlstate_of('SELECT * FROM migrate.slow_queries'), 'ok', 'slow_queries without pg_stat_statements does not fail');

--
-- pg_stat_statements installed (in a schema of its own) by another session,
-- in its own transaction
--
DO $$ BEGIN
    PERFORM dblink_exec('tap_mon_fresh', 'BEGIN');
    PERFORM dblink_exec('tap_mon_fresh', 'CREATE SCHEMA "tap Stats"');
    PERFORM dblink_exec('tap_mon_fresh', 'CREATE EXTENSION pg_stat_statements SCHEMA "tap Stats"');
    PERFORM dblink_exec('tap_mon_fresh', 'SET LOCAL migrate.slow_query_ms = 40');
    PERFORM dblink_exec('tap_mon_fresh', 'CREATE FUNCTION pg_temp.tap_mon_remote_marker() RETURNS void LANGUAGE sql AS $f$ SELECT pg_sleep(0.05) $f$');
    PERFORM * FROM dblink('tap_mon_fresh', 'SELECT pg_temp.tap_mon_remote_marker()') AS t(v text);
END $$;
SELECT pg_temp.remote('tap_mon_fresh', $q$SELECT coalesce(jsonb_agg(to_jsonb(s)), '[]')::text FROM migrate.slow_queries s$q$) AS remote_pgss \gset
DO $$ BEGIN PERFORM dblink_exec('tap_mon_fresh', 'ROLLBACK'); END $$;
\if :pgss_preloaded
SELECT ok(:'remote_pgss'::jsonb @> '[{"source": "pg_stat_statements", "query": "SELECT pg_temp.tap_mon_remote_marker()", "calls": 1}]',
    'pg_stat_statements installed in schema "tap Stats" and loaded: slow_queries (threshold 40 ms) lists a 50 ms statement from it');
SELECT is(jsonb_path_query_array(:'remote_pgss'::jsonb, '$[*].source') - 'pg_stat_statements', '[]'::jsonb,
    '... every row comes from it (not the running statement: pg_stat_activity)');
\else
SELECT is(jsonb_path_query_array(:'remote_pgss'::jsonb, '$[*] ? (@.pid == $p).source', jsonb_build_object('p', :slow_pid)),
    '["pg_stat_activity"]'::jsonb,
    'pg_stat_statements installed but not loaded (shared_preload_libraries): slow_queries lists the running statement from pg_stat_activity');
SELECT is(jsonb_path_query_array(:'remote_pgss'::jsonb, '$[*].source') - 'pg_stat_activity', '[]'::jsonb,
    '... and every row comes from pg_stat_activity');
\endif

--
-- pg_stat_statements installed in this transaction
--
CREATE SCHEMA "tap Stats";
CREATE EXTENSION pg_stat_statements SCHEMA "tap Stats";
-- statements of their own in pg_stat_statements (a column alias would not
-- make them so: statements differing in aliases or constants share an entry)
CREATE FUNCTION pg_temp.tap_mon_marker() RETURNS void LANGUAGE sql AS $$ SELECT pg_sleep(0.05) $$;
CREATE FUNCTION pg_temp.tap_mon_fast() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
SELECT pg_temp.tap_mon_marker() \gset
SELECT pg_temp.tap_mon_marker() \gset
SELECT pg_temp.tap_mon_fast() \gset
SET LOCAL migrate.slow_query_ms = 40;
SELECT is(pg_temp.sqlstate_of('SELECT * FROM migrate.slow_queries'), 'ok',
    'slow_queries with pg_stat_statements installed does not fail');
\if :pgss_preloaded
SELECT pg_temp.rows_of($q$SELECT * FROM migrate.slow_queries$q$) AS pgss_rows \gset
SELECT coalesce((SELECT to_jsonb(s) FROM migrate.slow_queries s WHERE query = 'SELECT pg_temp.tap_mon_marker()'
                    AND database_name = current_database()), 'null') AS marker \gset
SELECT is(jsonb_path_query_array(:'pgss_rows'::jsonb, '$[*].source') - 'pg_stat_statements', '[]'::jsonb,
    'loaded: every row of slow_queries comes from pg_stat_statements');
SELECT is((:'marker'::jsonb)->>'calls', '2', 'a statement with a mean of 50 ms (threshold 40 ms) is listed, with its calls');
SELECT is((:'marker'::jsonb)->>'rows', '2', '... its rows');
SELECT is(((:'marker'::jsonb)->>'user_name', (:'marker'::jsonb)->>'database_name')::text,
    (current_user, current_database())::text, '... its user and database');
SELECT is(
    (SELECT jsonb_build_array(s.queryid, s.total_exec_time, s.mean_exec_time, s.max_exec_time)
       FROM "tap Stats".pg_stat_statements s
      WHERE s.query = 'SELECT pg_temp.tap_mon_marker()' AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())),
    jsonb_build_array((:'marker'::jsonb)->'queryid', (:'marker'::jsonb)->'total_ms', (:'marker'::jsonb)->'mean_ms',
                      (:'marker'::jsonb)->'max_ms'),
    '... its queryid, total, mean and max time as in pg_stat_statements');
SELECT cmp_ok(((:'marker'::jsonb)->>'mean_ms')::float8, '>=', 50::float8, '... a mean of at least 50 ms');
SELECT is(jsonb_build_array((:'marker'::jsonb)->'pid', (:'marker'::jsonb)->'state', (:'marker'::jsonb)->'running_ms'),
    '[null, null, null]'::jsonb, '... and no pid, state or running_ms (pg_stat_activity only)');
SELECT ok(NOT :'pgss_rows'::jsonb @? '$[*] ? (@.mean_ms < 40)', 'no row has a mean below the threshold');
SELECT ok(NOT :'pgss_rows'::jsonb @? '$[*] ? (@.query == "SELECT pg_temp.tap_mon_fast()")', '... a fast statement is not listed');
SELECT is(ARRAY(SELECT (r->>'mean_ms')::float8 FROM jsonb_array_elements(:'pgss_rows'::jsonb) WITH ORDINALITY AS x(r, n) ORDER BY n),
    ARRAY(SELECT (r->>'mean_ms')::float8 FROM jsonb_array_elements(:'pgss_rows'::jsonb) AS x(r) ORDER BY 1 DESC),
    'rows are ordered slowest first');
SET LOCAL migrate.slow_query_ms = 0;
SELECT ok(pg_temp.rows_of('SELECT query FROM migrate.slow_queries WHERE database_name = current_database()')
            @? '$[*] ? (@.query == "SELECT pg_temp.tap_mon_fast()")',
    'with migrate.slow_query_ms = 0 every statement is listed');
SET LOCAL migrate.slow_query_ms = '1s';
SELECT is(pg_temp.rows_of($q$SELECT query FROM migrate.slow_queries WHERE query LIKE '%tap_mon_marker%'$q$), '[]'::jsonb,
    'with 1s the 50 ms statement is not listed');
SET LOCAL migrate.slow_query_ms = 40;
-- usable only with USAGE on its schema
CREATE ROLE mg_tap_mon_reader NOLOGIN;
GRANT pg_read_all_stats TO mg_tap_mon_reader;
GRANT SELECT ON migrate.slow_queries TO mg_tap_mon_reader;
GRANT EXECUTE ON FUNCTION migrate.slow_query_rows() TO mg_tap_mon_reader;
SET LOCAL ROLE mg_tap_mon_reader;
SELECT pg_temp.rows_of('SELECT source, query FROM migrate.slow_queries') AS reader_rows \gset
RESET ROLE;
GRANT USAGE ON SCHEMA "tap Stats" TO mg_tap_mon_reader;
SET LOCAL ROLE mg_tap_mon_reader;
SELECT pg_temp.rows_of('SELECT source, query FROM migrate.slow_queries') AS reader_rows_usage \gset
RESET ROLE;
SELECT is(jsonb_path_query_array(:'reader_rows'::jsonb, '$[*].source') - 'pg_stat_activity', '[]'::jsonb,
    'installed but not readable (no USAGE on its schema): slow_queries falls back to pg_stat_activity, no error');
SELECT ok(:'reader_rows_usage'::jsonb @> '[{"source": "pg_stat_statements", "query": "SELECT pg_temp.tap_mon_marker()"}]',
    '... with USAGE on the schema the statement is listed from pg_stat_statements');
-- the column names before pg_stat_statements 1.8 (total_time, mean_time, max_time)
SAVEPOINT pgss_old;
DROP EXTENSION pg_stat_statements;
CREATE EXTENSION pg_stat_statements VERSION '1.7' SCHEMA "tap Stats";
SELECT is(
    (SELECT jsonb_build_array(s.source, s.calls, s.mean_ms) FROM migrate.slow_queries s
      WHERE s.query = 'SELECT pg_temp.tap_mon_marker()' AND s.database_name = current_database()),
    (SELECT jsonb_build_array('pg_stat_statements', s.calls, s.mean_time) FROM "tap Stats".pg_stat_statements s
      WHERE s.query = 'SELECT pg_temp.tap_mon_marker()' AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())),
    'pg_stat_statements 1.7 (mean_time, before the rename to mean_exec_time): the statement is listed with its calls and mean');
ROLLBACK TO SAVEPOINT pgss_old;
\else
SELECT skip('pg_stat_statements is not in shared_preload_libraries', 15);
\endif
\if :pgss_preloaded
SELECT skip('pg_stat_statements is in shared_preload_libraries', 2);
\else
SELECT is(jsonb_path_query_array(pg_temp.rows_of('SELECT source FROM migrate.slow_queries'), '$[*].source') - 'pg_stat_activity', '[]'::jsonb,
    'installed but not loaded: every row of slow_queries comes from pg_stat_activity');
SAVEPOINT pgss_old;
DROP EXTENSION pg_stat_statements;
CREATE EXTENSION pg_stat_statements VERSION '1.7' SCHEMA "tap Stats";
SELECT is(pg_temp.sqlstate_of('SELECT * FROM migrate.slow_queries'), 'ok',
    '... also pg_stat_statements 1.7: slow_queries does not fail');
ROLLBACK TO SAVEPOINT pgss_old;
\endif

--
-- connections: a session idle in transaction, one waiting for a lock held by another
--
SELECT is(pg_temp.open('tap_mon_idle'), 'OK', 'a session idle in transaction (dblink)');
SELECT pg_temp.remote('tap_mon_idle', 'SELECT pg_backend_pid()')::int AS idle_pid \gset
DO $$ BEGIN PERFORM dblink_exec('tap_mon_idle', 'BEGIN'); END $$;
SELECT isnt(pg_temp.remote('tap_mon_idle', 'SELECT pg_current_xact_id()'), NULL, '... with a transaction id');
SELECT is((SELECT (connections, idle_in_transaction, waiting)::text FROM pg_temp.conn('tap_mon_idle')),
    '(1,1,0)', 'connections: one connection of the application, idle in transaction, not waiting');
SELECT is((SELECT state FROM pg_temp.conn('tap_mon_idle')), 'idle in transaction', '... in state idle in transaction');
SELECT is((SELECT (database_name, user_name)::text FROM pg_temp.conn('tap_mon_idle')),
    (current_database(), current_user)::text, '... with its database and user');
SELECT ok(pg_temp.remote('tap_mon_fresh', $q$SELECT oldest_xact_age > interval '0' FROM migrate.connections
                                              WHERE application_name = 'tap_mon_idle'$q$)::boolean,
    'oldest_xact_age > 0 (seen from a fresh transaction)');
-- bug: ages are measured from now(), the start of the caller's transaction
SELECT ok((SELECT oldest_xact_age > interval '0' FROM pg_temp.conn('tap_mon_idle')),
    'oldest_xact_age > 0 also in a transaction that began before the session''s');
SELECT is((SELECT (state, connections, idle_in_transaction)::text FROM pg_temp.conn('tap_mon_slow')),
    '(active,1,0)', 'the session running pg_sleep: active, not idle in transaction');
SELECT ok(pg_temp.remote('tap_mon_fresh', $q$SELECT longest_query_age >= interval '1 s' FROM migrate.connections
                                              WHERE application_name = 'tap_mon_slow'$q$)::boolean,
    '... its longest_query_age is at least 1 s');

SELECT is(pg_temp.open('tap_mon_holder'), 'OK', 'a session holding an advisory lock (dblink)');
SELECT pg_temp.remote('tap_mon_holder', 'SELECT pg_backend_pid()')::int AS holder_pid \gset
SELECT is(pg_temp.remote('tap_mon_holder', 'SELECT pg_advisory_lock(7361, 14)'), '', '... takes it');
SELECT is(pg_temp.open('tap_mon_blocked'), 'OK', 'a session waiting for it (dblink)');
SELECT pg_temp.remote('tap_mon_blocked', 'SELECT pg_backend_pid()')::int AS blocked_pid \gset
SELECT is(dblink_send_query('tap_mon_blocked', 'SELECT pg_advisory_lock(7361, 14)'), 1, '... asks for it');
SELECT ok(pg_temp.wait_for(format($c$EXISTS (SELECT FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock')$c$, :blocked_pid)),
    '... and waits');
SELECT is((SELECT (state, connections, waiting)::text FROM pg_temp.conn('tap_mon_blocked')), '(active,1,1)',
    'connections: the waiting session is counted in waiting');
SELECT is((SELECT waiting FROM pg_temp.conn('tap_mon_holder')), 0::bigint, '... the holder is not');

--
-- table_health: tables written by another session (committed), autovacuum off
--
SELECT is(pg_temp.open('tap_mon_w'), 'OK', 'a session writing tables (dblink)');
DO $$ BEGIN
    PERFORM dblink_exec('tap_mon_w', $s$
        CREATE TABLE public.tap_mon_dead (id int PRIMARY KEY, v text)
            WITH (autovacuum_enabled = false, autovacuum_vacuum_threshold = 10, autovacuum_vacuum_scale_factor = 0);
        CREATE TABLE public.tap_mon_few (id int PRIMARY KEY, v text)
            WITH (autovacuum_enabled = false, autovacuum_vacuum_threshold = 10, autovacuum_vacuum_scale_factor = 0);
        CREATE TABLE public.tap_mon_scaled (id int, v text)
            WITH (autovacuum_enabled = false, autovacuum_vacuum_threshold = 10, autovacuum_vacuum_scale_factor = 0.5);
        CREATE TABLE public.tap_mon_gucs (id int, v text) WITH (autovacuum_enabled = false);
        CREATE TABLE public.tap_mon_gucs2 (id int, v text) WITH (autovacuum_enabled = false)$s$);
    PERFORM dblink_exec('tap_mon_w', $s$
        INSERT INTO public.tap_mon_dead SELECT g, 'x' FROM generate_series(1, 100) g;
        INSERT INTO public.tap_mon_few SELECT g, 'x' FROM generate_series(1, 100) g;
        INSERT INTO public.tap_mon_scaled SELECT g, 'x' FROM generate_series(1, 100) g;
        INSERT INTO public.tap_mon_gucs SELECT g, 'x' FROM generate_series(1, 100) g;
        INSERT INTO public.tap_mon_gucs2 SELECT g, 'x' FROM generate_series(1, 100) g$s$);
    PERFORM dblink_exec('tap_mon_w', $s$
        DELETE FROM public.tap_mon_dead WHERE id <= 60;
        DELETE FROM public.tap_mon_few WHERE id <= 5;
        DELETE FROM public.tap_mon_scaled WHERE id <= 25;
        DELETE FROM public.tap_mon_gucs WHERE id <= 49;
        DELETE FROM public.tap_mon_gucs2 WHERE id <= 51$s$);
    -- ANALYZE sets the live and dead tuples: the counts of the writes must reach
    -- the shared statistics before, lest they be added again after
    PERFORM * FROM dblink('tap_mon_w', 'SELECT pg_stat_force_next_flush()') AS t(v text);
    PERFORM dblink_exec('tap_mon_w', 'ANALYZE public.tap_mon_scaled');
    -- the session's table statistics reach the shared statistics when it goes idle next
    PERFORM * FROM dblink('tap_mon_w', 'SELECT pg_stat_force_next_flush()') AS t(v text);
END $$;
SELECT pg_temp.rows_of($q$SELECT table_name, live_tuples, dead_tuples, dead_ratio, needs_vacuum
                            FROM migrate.table_health WHERE schema_name = 'public' AND table_name LIKE 'tap_mon_%'$q$) AS th \gset
SELECT is(jsonb_path_query_first(:'th'::jsonb, '$[*] ? (@.table_name == "tap_mon_dead")'),
    '{"table_name": "tap_mon_dead", "live_tuples": 40, "dead_tuples": 60, "dead_ratio": 0.6000, "needs_vacuum": true}'::jsonb,
    '100 rows, 60 deleted, threshold 10: 40 live, 60 dead, dead_ratio 0.6, needs_vacuum');
SELECT is(jsonb_path_query_first(:'th'::jsonb, '$[*] ? (@.table_name == "tap_mon_few")'),
    '{"table_name": "tap_mon_few", "live_tuples": 95, "dead_tuples": 5, "dead_ratio": 0.0500, "needs_vacuum": false}'::jsonb,
    '5 deleted, threshold 10: dead_ratio 0.05, no vacuum needed');
SELECT is(jsonb_path_query_first(:'th'::jsonb, '$[*] ? (@.table_name == "tap_mon_scaled")'),
    '{"table_name": "tap_mon_scaled", "live_tuples": 75, "dead_tuples": 25, "dead_ratio": 0.2500, "needs_vacuum": false}'::jsonb,
    '25 dead, threshold 10 + 0.5 * 75 rows (analyzed): no vacuum needed (the scale factor of the table counts)');
SELECT is(jsonb_path_query_first(:'th'::jsonb, '$[*] ? (@.table_name == "tap_mon_gucs")') ->> 'needs_vacuum', 'false',
    'without storage parameters autovacuum_vacuum_threshold (50) applies: 49 dead tuples need no vacuum');
SELECT is(jsonb_path_query_first(:'th'::jsonb, '$[*] ? (@.table_name == "tap_mon_gucs2")') ->> 'needs_vacuum', 'true',
    '... 51 do');
SELECT is((SELECT (size_bytes = pg_total_relation_size('public.tap_mon_dead'), size = pg_size_pretty(size_bytes),
                   xid_age = age(c.relfrozenxid), last_analyze IS NULL, last_vacuum IS NULL)::text
             FROM migrate.table_health h, pg_class c
            WHERE h.schema_name = 'public' AND h.table_name = 'tap_mon_dead' AND c.oid = 'public.tap_mon_dead'::regclass),
    '(t,t,t,t,t)', 'size_bytes, size and xid_age of the table; never vacuumed or analyzed');
SELECT isnt((SELECT last_analyze FROM migrate.table_health WHERE schema_name = 'public' AND table_name = 'tap_mon_scaled'), NULL,
    'last_analyze of the analyzed table');
SELECT is((SELECT (seq_scan, idx_scan)::text FROM migrate.table_health WHERE schema_name = 'public' AND table_name = 'tap_mon_gucs'),
    '(1,)', 'seq_scan counts the scan of the DELETE; idx_scan is NULL without indexes');
CREATE TABLE tap_mon_parted (id int, d date) PARTITION BY RANGE (d);
CREATE TABLE tap_mon_parted_1 PARTITION OF tap_mon_parted FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE MATERIALIZED VIEW tap_mon_mv AS SELECT 1 AS one;
SELECT is(ARRAY(SELECT table_name FROM migrate.table_health WHERE table_name IN ('tap_mon_parted', 'tap_mon_parted_1', 'tap_mon_mv')),
    ARRAY['tap_mon_parted_1'], 'a leaf partition is listed, not its partitioned table nor a materialized view');
SELECT is((SELECT count(*) FROM migrate.table_health WHERE schema_name IN ('pg_catalog', 'information_schema') OR schema_name LIKE 'pg_toast%'),
    0::bigint, 'no system catalog or TOAST table is listed');

--
-- rls_status
--
CREATE SCHEMA "tap Mon";
CREATE TABLE "tap Mon"."Exposed T" (id int);
CREATE TABLE "tap Mon".rls_nopol (id int);
ALTER TABLE "tap Mon".rls_nopol ENABLE ROW LEVEL SECURITY;
CREATE TABLE "tap Mon".rls_ok (id int, owner name);
ALTER TABLE "tap Mon".rls_ok ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON "tap Mon".rls_ok USING (owner = current_user);
CREATE POLICY ins ON "tap Mon".rls_ok FOR INSERT WITH CHECK (true);
CREATE TABLE "tap Mon".rls_forced (id int);
ALTER TABLE "tap Mon".rls_forced ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY p ON "tap Mon".rls_forced USING (true);
CREATE TABLE "tap Mon".forced_only (id int);
ALTER TABLE "tap Mon".forced_only FORCE ROW LEVEL SECURITY;
CREATE TABLE "tap Mon".parted (id int) PARTITION BY LIST (id);
ALTER TABLE "tap Mon".parted ENABLE ROW LEVEL SECURITY;
CREATE POLICY p ON "tap Mon".parted USING (true);
CREATE TABLE "tap Mon".parted_1 PARTITION OF "tap Mon".parted FOR VALUES IN (1) PARTITION BY LIST (id);
CREATE TABLE "tap Mon".parted_1_1 PARTITION OF "tap Mon".parted_1 FOR VALUES IN (1);
CREATE TABLE "tap Mon".member (id int);
ALTER EXTENSION dblink ADD TABLE "tap Mon".member;
CREATE VIEW "tap Mon".v AS SELECT 1 AS one;
CREATE TEMP TABLE tap_mon_temp (id int);
SELECT is(pg_temp.rows_of($q$SELECT * FROM migrate.rls_status WHERE schema_name = 'tap Mon'$q$),
    '[{"schema_name": "tap Mon", "table_name": "Exposed T", "rls_enabled": false, "rls_forced": false, "policies": 0, "verdict": "exposed: no RLS"},
      {"schema_name": "tap Mon", "table_name": "forced_only", "rls_enabled": false, "rls_forced": true, "policies": 0, "verdict": "exposed: no RLS"},
      {"schema_name": "tap Mon", "table_name": "parted", "rls_enabled": true, "rls_forced": false, "policies": 1, "verdict": "ok"},
      {"schema_name": "tap Mon", "table_name": "rls_forced", "rls_enabled": true, "rls_forced": true, "policies": 1, "verdict": "ok"},
      {"schema_name": "tap Mon", "table_name": "rls_nopol", "rls_enabled": true, "rls_forced": false, "policies": 0, "verdict": "RLS on but no policies"},
      {"schema_name": "tap Mon", "table_name": "rls_ok", "rls_enabled": true, "rls_forced": false, "policies": 2, "verdict": "ok"}]'::jsonb,
    'rls_status: no RLS, FORCE without ENABLE, RLS without policies, with policies, FORCE; a partitioned table but not its partitions; '
    'no extension member, no view; ordered by name');
SELECT is((SELECT count(*) FROM migrate.rls_status WHERE schema_name = 'migrate'), 0::bigint,
    'the tables of schema migrate are not listed');
SELECT is((SELECT count(*) FROM migrate.rls_status WHERE schema_name IN ('pg_catalog', 'information_schema')
              OR schema_name LIKE 'pg\_toast%' OR schema_name LIKE 'pg\_temp%'), 0::bigint,
    'no system, TOAST or temporary table is listed');
SELECT is((SELECT verdict FROM migrate.rls_status WHERE schema_name = 'public' AND table_name = 'tap_mon_dead'), 'exposed: no RLS',
    'a committed table of public without RLS is exposed');

--
-- monitoring_summary
--
SELECT throws_ok($$SELECT migrate.monitoring_summary(NULL)$$, '22023', 'since must be a non-negative interval',
    'monitoring_summary(NULL): 22023');
SELECT throws_ok($$SELECT migrate.monitoring_summary('-1 second')$$, '22023', NULL, 'a negative since: 22023');
SELECT throws_ok($$SELECT migrate.monitoring_summary('1 day -25 hours')$$, '22023', NULL,
    'a since of 1 day - 25 hours (negative): 22023');
SELECT is((SELECT array_agg(k ORDER BY k COLLATE "C") FROM jsonb_object_keys(migrate.monitoring_summary()) k),
    ARRAY['blocked_sessions', 'cache_hit_ratio', 'connections_by_state', 'database_size', 'database_size_bytes', 'errors',
          'events_by_kind', 'events_by_severity', 'generated_at', 'idle_in_transaction', 'latest_errors', 'longest_running',
          'pending_maintenance', 'since', 'tables_exposed_without_rls', 'tables_needing_vacuum'],
    'the summary has the documented sections (and since, generated_at, errors)');
SELECT is((SELECT array_agg(k ORDER BY k COLLATE "C") FROM jsonb_object_keys(migrate.monitoring_summary()->'pending_maintenance') k),
    ARRAY['audit_log_days_ahead_missing', 'events_days_ahead_missing', 'expired_event_partitions', 'rows_in_default_partitions'],
    'pending_maintenance has the documented keys');
SELECT is(migrate.monitoring_summary()->'errors', '{}'::jsonb, 'a superuser''s summary has no errors');
SELECT is(migrate.monitoring_summary()->>'since', (interval '1 hour')::text, 'since defaults to 1 hour');
SELECT ok((migrate.monitoring_summary('0')->>'generated_at')::timestamptz BETWEEN now() AND clock_timestamp(),
    'generated_at is a time of this transaction');

-- events: since '0' counts exactly the events of this transaction
SELECT is(migrate.monitoring_summary('0')->'events_by_severity', '{}'::jsonb, 'no event since now(): events_by_severity {}');
SELECT is(migrate.monitoring_summary('0')->'latest_errors', '[]'::jsonb, '... latest_errors []');
CREATE TEMP TABLE ids (name text PRIMARY KEY, id bigint);
INSERT INTO ids SELECT 'info' || g, migrate.record_event('tap_mon_a', 'info') FROM generate_series(1, 3) g;
INSERT INTO ids SELECT 'warning' || g, migrate.record_event('tap_mon_b', 'warning') FROM generate_series(1, 2) g;
INSERT INTO ids VALUES ('error', migrate.record_event('tap_mon_err', 'error', 'tap error'));
INSERT INTO ids VALUES ('critical', migrate.record_event('tap_mon_crit', 'critical', 'tap critical'));
INSERT INTO migrate.events (kind, severity, message, logged_at) VALUES ('tap_mon_old', 'error', 'two hours ago', now() - interval '2 hours');
SELECT is(migrate.monitoring_summary('0')->'events_by_severity', '{"info": 3, "warning": 2, "error": 1, "critical": 1}'::jsonb,
    'events_by_severity counts the events of the window by severity');
SELECT is(migrate.monitoring_summary('0')->'events_by_kind', '{"tap_mon_a": 3, "tap_mon_b": 2, "tap_mon_err": 1, "tap_mon_crit": 1}'::jsonb,
    'events_by_kind counts them by kind');
SELECT is(jsonb_path_query_array(migrate.monitoring_summary('0')->'latest_errors', '$[*].id'),
    (SELECT jsonb_build_array((SELECT id FROM ids WHERE name = 'critical'), (SELECT id FROM ids WHERE name = 'error'))),
    'latest_errors: the error and critical events, newest first');
SELECT is((migrate.monitoring_summary('0')->'latest_errors'->1) - 'logged_at',
    (SELECT jsonb_build_object('id', id, 'kind', 'tap_mon_err', 'severity', 'error', 'message', 'tap error') FROM ids WHERE name = 'error'),
    '... each with id, kind, severity and message');
SELECT is((migrate.monitoring_summary('0')->'latest_errors'->1->>'logged_at')::timestamptz,
    (SELECT logged_at FROM migrate.events WHERE id = (SELECT id FROM ids WHERE name = 'error')), '... and logged_at');
SELECT ok(NOT migrate.monitoring_summary('1 hour')->'events_by_kind' ? 'tap_mon_old'
          AND NOT migrate.monitoring_summary('1 hour')->'latest_errors' @? '$[*] ? (@.kind == "tap_mon_old")',
    'an error of two hours ago is not in the window of 1 hour');
SELECT is(migrate.monitoring_summary('3 hours')->'events_by_kind'->'tap_mon_old', '1'::jsonb,
    '... it is in that of 3 hours');
INSERT INTO ids SELECT 'error' || g, migrate.record_event('tap_mon_err', 'error', 'tap error ' || g) FROM generate_series(1, 10) g;
SELECT is(jsonb_path_query_array(migrate.monitoring_summary('0')->'latest_errors', '$[*].id'),
    (SELECT jsonb_agg(id ORDER BY id DESC) FROM ids WHERE name ~ '^error[0-9]+$'),
    'latest_errors lists at most 10, the newest');
SELECT is(migrate.monitoring_summary('0')->'events_by_severity'->'error', '11'::jsonb, '... while events_by_severity counts all 11');
-- bug: now() - since is out of the range of timestamptz (22008)
SELECT is(pg_temp.sqlstate_of($$SELECT migrate.monitoring_summary('10000 years')$$), 'ok',
    'a window of 10000 years (reaching before the first timestamp) works');
SELECT is(pg_temp.try_summary('10000 years')->'events_by_severity',
    (SELECT jsonb_object_agg(severity, n) FROM (SELECT severity, count(*) AS n FROM migrate.events GROUP BY 1) x),
    '... and counts every event');

-- sessions
SELECT pg_temp.summary() AS summ \gset
SELECT is(jsonb_path_query_array(:'summ'::jsonb->'blocked_sessions', '$[*] ? (@.pid == $p)', jsonb_build_object('p', :blocked_pid)) #- '{0,waiting_for}',
    jsonb_build_array(jsonb_build_object('pid', :blocked_pid, 'blocked_by', jsonb_build_array(:holder_pid), 'wait_event', 'advisory',
                                         'query', 'SELECT pg_advisory_lock(7361, 14)')),
    'blocked_sessions: the waiting session, blocked_by the holder, its wait_event and query');
SELECT is(jsonb_path_query_array(:'summ'::jsonb->'blocked_sessions', '$[*].pid'), jsonb_build_array(:blocked_pid),
    '... and no other session');
SELECT ok((:'summ'::jsonb->'connections_by_state'->>'idle in transaction')::int >= 1
          AND (:'summ'::jsonb->'connections_by_state'->>'active')::int >= 3,
    'connections_by_state counts the sessions idle in transaction and active ones');
SELECT is(jsonb_path_query_array(:'summ'::jsonb->'idle_in_transaction', '$[*] ? (@.pid == $p).application_name', jsonb_build_object('p', :idle_pid)),
    '["tap_mon_idle"]'::jsonb, 'idle_in_transaction lists the session idle in transaction');
-- bug: ages are measured from now(), the start of the caller's transaction
SELECT ok(NOT (jsonb_path_query_first(:'summ'::jsonb->'idle_in_transaction', '$[*] ? (@.pid == $p).xact_age', jsonb_build_object('p', :idle_pid)) #>> '{}') LIKE '-%',
    '... with a transaction age that is not negative');
SELECT ok(jsonb_path_exists(:'summ'::jsonb->'longest_running', '$[*] ? (@.pid == $p && @.query == "SELECT pg_sleep(60) AS tap_mon_sleeper")',
                            jsonb_build_object('p', :slow_pid)),
    'longest_running lists the long statement');
SELECT ok(NOT jsonb_path_exists(:'summ'::jsonb->'longest_running', '$[*] ? (@.pid == $p)', jsonb_build_object('p', pg_backend_pid())),
    '... not the session looking');
SELECT is(pg_temp.remote('tap_mon_fresh', format($q$SELECT migrate.monitoring_summary()->'longest_running'->0->>'pid'$q$)), :'slow_pid',
    '... the long statement first');
SELECT is(:'summ'::jsonb->'database_size_bytes', to_jsonb(pg_database_size(current_database())),
    'database_size_bytes is the size of the database');
SELECT is(:'summ'::jsonb->>'database_size', pg_size_pretty((:'summ'::jsonb->>'database_size_bytes')::bigint), '... database_size the same, readable');
SELECT ok(jsonb_typeof(:'summ'::jsonb->'cache_hit_ratio') = 'number'
          AND (:'summ'::jsonb->>'cache_hit_ratio')::numeric BETWEEN 0 AND 1, 'cache_hit_ratio is a number between 0 and 1');
SELECT ok(:'summ'::jsonb->'tables_needing_vacuum' ? 'public.tap_mon_dead'
          AND :'summ'::jsonb->'tables_needing_vacuum' ? 'public.tap_mon_gucs2'
          AND NOT :'summ'::jsonb->'tables_needing_vacuum' ? 'public.tap_mon_few',
    'tables_needing_vacuum lists the tables needing vacuum (not the others)');
SELECT ok((SELECT array_position(ARRAY(SELECT jsonb_array_elements_text(:'summ'::jsonb->'tables_needing_vacuum')), 'public.tap_mon_dead')
               < array_position(ARRAY(SELECT jsonb_array_elements_text(:'summ'::jsonb->'tables_needing_vacuum')), 'public.tap_mon_gucs2')),
    '... the highest dead_ratio first');
SELECT ok(:'summ'::jsonb->'tables_exposed_without_rls' ? '"tap Mon"."Exposed T"'
          AND :'summ'::jsonb->'tables_exposed_without_rls' ? 'public.tap_mon_dead'
          AND NOT :'summ'::jsonb->'tables_exposed_without_rls' ? '"tap Mon".rls_ok'
          AND NOT :'summ'::jsonb->'tables_exposed_without_rls' ? '"tap Mon".parted_1_1',
    'tables_exposed_without_rls lists tables without RLS, quoted where needed (not one with RLS and policies, nor partitions)');

-- read-only transactions
SELECT is(pg_temp.sqlstate_of('SELECT migrate.monitoring_summary()', true), 'ok', 'the summary works in a read-only transaction');
SELECT is(pg_temp.sqlstate_of('SELECT count(*) FROM migrate.slow_queries UNION ALL SELECT count(*) FROM migrate.connections
                               UNION ALL SELECT count(*) FROM migrate.table_health UNION ALL SELECT count(*) FROM migrate.rls_status', true),
    'ok', '... and the views');
DO $$ BEGIN PERFORM dblink_exec('tap_mon_fresh', 'BEGIN READ ONLY'); END $$;
SELECT is(pg_temp.remote('tap_mon_fresh', $q$SELECT (migrate.monitoring_summary('1 day')->'errors')::text$q$), '{}',
    'the summary in a read-only transaction of another session: no errors');
DO $$ BEGIN PERFORM dblink_exec('tap_mon_fresh', 'ROLLBACK'); END $$;

--
-- privileges
--
CREATE ROLE mg_tap_mon_nobody NOLOGIN;
CREATE ROLE mg_tap_mon_summary NOLOGIN;      -- only EXECUTE on the summary
GRANT EXECUTE ON FUNCTION migrate.monitoring_summary(interval) TO mg_tap_mon_summary;
CREATE ROLE mg_tap_mon_nostats NOLOGIN;      -- the grants of the documented role, without pg_monitor
CREATE ROLE mg_tap_mon_monitor NOLOGIN;      -- the documented monitoring role
GRANT pg_monitor TO mg_tap_mon_monitor;
GRANT SELECT ON migrate.events, migrate.retention TO mg_tap_mon_nostats, mg_tap_mon_monitor;
GRANT SELECT ON migrate.slow_queries, migrate.connections, migrate.table_health, migrate.rls_status
    TO mg_tap_mon_nostats, mg_tap_mon_monitor;
GRANT EXECUTE ON FUNCTION migrate.monitoring_summary(interval), migrate.slow_query_rows()
    TO mg_tap_mon_nostats, mg_tap_mon_monitor;

SELECT is(
    ARRAY(SELECT c.oid::regclass::text FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
           WHERE c.oid IN ('migrate.slow_queries'::regclass, 'migrate.connections'::regclass,
                           'migrate.table_health'::regclass, 'migrate.rls_status'::regclass)
             AND a.grantee = 0),
    '{}'::text[], 'PUBLIC has no privilege on the views');
SELECT is(
    ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
           WHERE p.oid IN ('migrate.monitoring_summary(interval)'::regprocedure, 'migrate.slow_query_rows()'::regprocedure)
             AND a.grantee = 0 AND a.privilege_type = 'EXECUTE'),
    '{}'::text[], 'PUBLIC may not execute monitoring_summary or slow_query_rows');
SET LOCAL ROLE mg_tap_mon_nobody;
SELECT throws_ok($$SELECT * FROM migrate.slow_queries$$, '42501', NULL, 'a role without grants: slow_queries 42501');
SELECT throws_ok($$SELECT * FROM migrate.connections$$, '42501', NULL, '... connections 42501');
SELECT throws_ok($$SELECT * FROM migrate.table_health$$, '42501', NULL, '... table_health 42501');
SELECT throws_ok($$SELECT * FROM migrate.rls_status$$, '42501', NULL, '... rls_status 42501');
SELECT throws_ok($$SELECT migrate.monitoring_summary()$$, '42501', NULL, '... monitoring_summary 42501');
SELECT throws_ok($$SELECT * FROM migrate.slow_query_rows()$$, '42501', NULL, '... slow_query_rows 42501');
RESET ROLE;

-- the documented monitoring role (pg_monitor): everything, every session
-- (the default partitions as after an ANALYZE: rows_in_default_partitions is
-- an estimate; see pending maintenance for never analyzed ones)
SELECT pg_temp.default_partition_stats(true) \gset
SET LOCAL ROLE mg_tap_mon_monitor;
SELECT is(pg_temp.sqlstate_of('SELECT * FROM migrate.slow_queries'), 'ok', 'the monitoring role reads slow_queries');
SELECT is((SELECT (state, idle_in_transaction)::text FROM pg_temp.conn('tap_mon_idle')), '("idle in transaction",1)',
    '... connections, with the state of other users'' sessions (pg_monitor)');
SELECT is((SELECT waiting FROM pg_temp.conn('tap_mon_blocked')), 1::bigint, '... and who waits');
SELECT is((SELECT needs_vacuum FROM migrate.table_health WHERE schema_name = 'public' AND table_name = 'tap_mon_dead'), true,
    '... table_health');
SELECT is((SELECT verdict FROM migrate.rls_status WHERE schema_name = 'tap Mon' AND table_name = 'rls_nopol'), 'RLS on but no policies',
    '... rls_status');
SELECT pg_temp.summary('0') AS summ_monitor \gset
RESET ROLE;
SELECT is(:'summ_monitor'::jsonb->'errors', '{}'::jsonb, 'the monitoring role''s summary has no errors');
SELECT is(:'summ_monitor'::jsonb->'events_by_severity', migrate.monitoring_summary('0')->'events_by_severity',
    '... the same events_by_severity as the superuser''s');
SELECT is(jsonb_path_query_array(:'summ_monitor'::jsonb->'blocked_sessions', '$[*] ? (@.pid == $p)', jsonb_build_object('p', :blocked_pid)) #- '{0,waiting_for}',
    jsonb_build_array(jsonb_build_object('pid', :blocked_pid, 'blocked_by', jsonb_build_array(:holder_pid), 'wait_event', 'advisory',
                                         'query', 'SELECT pg_advisory_lock(7361, 14)')),
    '... the blocked session with its wait_event and query');
SELECT is(:'summ_monitor'::jsonb->'tables_exposed_without_rls', migrate.monitoring_summary('0')->'tables_exposed_without_rls',
    '... the same tables_exposed_without_rls');
-- without pg_monitor: other users' sessions are counted with state unknown
SET LOCAL ROLE mg_tap_mon_nostats;
SELECT is(pg_temp.sqlstate_of('SELECT * FROM migrate.slow_queries'), 'ok', 'without pg_monitor: slow_queries works');
SELECT is((SELECT count(*) FROM migrate.slow_queries WHERE pid = :slow_pid), 0::bigint, '... without other users'' statements');
SELECT pg_temp.rows_of('SELECT * FROM migrate.connections') AS conns_nostats \gset
SELECT pg_temp.summary('0') AS summ_nostats \gset
RESET ROLE;
-- bug: the view groups them under state NULL
SELECT ok(:'conns_nostats'::jsonb @? '$[*] ? (@.state == "unknown" && @.user_name == "postgres")'
          AND NOT :'conns_nostats'::jsonb @? '$[*] ? (@.state == null)',
    'connections counts other users'' sessions with state unknown');
SELECT ok((SELECT sum((c->>'connections')::int) FROM jsonb_array_elements(:'conns_nostats'::jsonb) c
            WHERE c->>'application_name' LIKE 'tap_mon_%') >= 5,
    '... all of them (with their application_name)');
SELECT ok(:'summ_nostats'::jsonb->'connections_by_state' ? 'unknown'
          AND NOT :'summ_nostats'::jsonb->'connections_by_state' ? 'idle in transaction',
    'connections_by_state of the summary counts them as unknown');
SELECT is(:'summ_nostats'::jsonb->'errors', '{}'::jsonb, '... no errors');
SELECT is(jsonb_path_query_array(:'summ_nostats'::jsonb->'blocked_sessions', '$[*] ? (@.pid == $p).blocked_by', jsonb_build_object('p', :blocked_pid)),
    jsonb_build_array(jsonb_build_array(:holder_pid)), '... blocked_sessions still shows who blocks whom (pg_locks)');

-- only EXECUTE on the summary: the sections it may not read are null, with the reason
SET LOCAL ROLE mg_tap_mon_summary;
SELECT pg_temp.summary('0') AS summ_limited \gset
RESET ROLE;
SELECT is(jsonb_build_array(:'summ_limited'::jsonb->'events_by_severity', :'summ_limited'::jsonb->'events_by_kind',
                            :'summ_limited'::jsonb->'latest_errors'),
    '[null, null, null]'::jsonb, 'a role without SELECT on migrate.events: events_by_severity, events_by_kind, latest_errors are null');
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'summ_limited'::jsonb->'errors') k
            WHERE k IN ('events_by_severity', 'events_by_kind', 'latest_errors')),
    ARRAY['events_by_kind', 'events_by_severity', 'latest_errors'], '... each listed under errors');
SELECT is(:'summ_limited'::jsonb->'errors'->>'events_by_severity', 'permission denied for table events', '... with the reason');
SELECT is(jsonb_build_array(:'summ_limited'::jsonb->'tables_needing_vacuum', :'summ_limited'::jsonb->'tables_exposed_without_rls'),
    '[null, null]'::jsonb, '... tables_needing_vacuum and tables_exposed_without_rls (no SELECT on the views) are null');
SELECT ok(:'summ_limited'::jsonb->'errors' ? 'tables_needing_vacuum' AND :'summ_limited'::jsonb->'errors' ? 'tables_exposed_without_rls',
    '... and listed under errors');
SELECT ok(jsonb_typeof(:'summ_limited'::jsonb->'connections_by_state') = 'object'
          AND jsonb_typeof(:'summ_limited'::jsonb->'blocked_sessions') = 'array'
          AND jsonb_typeof(:'summ_limited'::jsonb->'database_size_bytes') = 'number'
          AND jsonb_typeof(:'summ_limited'::jsonb->'pending_maintenance'->'events_days_ahead_missing') = 'number',
    '... the other sections are filled in');

--
-- a hostile search_path: a role's functions and operators shadowing the
-- catalog's in a schema first on the caller's search_path
--
CREATE ROLE mg_tap_mon_evil NOLOGIN;
CREATE SCHEMA tap_evil AUTHORIZATION mg_tap_mon_evil;
GRANT USAGE ON SCHEMA tap_evil TO PUBLIC;
SET LOCAL ROLE mg_tap_mon_evil;
CREATE FUNCTION tap_evil.trap() RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RAISE SQLSTATE 'TAPEV' USING MESSAGE = 'shadow called'; END $$;
CREATE FUNCTION tap_evil.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT CASE WHEN tap_evil.trap() THEN NULL::timestamptz END $$;
CREATE FUNCTION tap_evil.clock_timestamp() RETURNS timestamptz LANGUAGE sql AS $$ SELECT CASE WHEN tap_evil.trap() THEN NULL::timestamptz END $$;
CREATE FUNCTION tap_evil.pg_backend_pid() RETURNS int LANGUAGE sql AS $$ SELECT CASE WHEN tap_evil.trap() THEN 0 END $$;
CREATE FUNCTION tap_evil.current_setting(text) RETURNS text LANGUAGE sql AS $$ SELECT CASE WHEN tap_evil.trap() THEN '0' END $$;
CREATE FUNCTION tap_evil.current_setting(text, boolean) RETURNS text LANGUAGE sql AS $$ SELECT CASE WHEN tap_evil.trap() THEN '0' END $$;
CREATE FUNCTION tap_evil.format(text, name, name) RETURNS text LANGUAGE sql AS $$ SELECT CASE WHEN tap_evil.trap() THEN '' END $$;
CREATE FUNCTION tap_evil.format(text, text, text) RETURNS text LANGUAGE sql AS $$ SELECT CASE WHEN tap_evil.trap() THEN '' END $$;
CREATE FUNCTION tap_evil.count_sf(bigint) RETURNS bigint LANGUAGE sql AS $$ SELECT CASE WHEN tap_evil.trap() THEN $1 END $$;
CREATE AGGREGATE tap_evil.count(*) (SFUNC = tap_evil.count_sf, STYPE = bigint, INITCOND = '1000');
CREATE FUNCTION tap_evil.eq(oid, oid) RETURNS boolean LANGUAGE sql AS $$ SELECT tap_evil.trap() $$;
CREATE FUNCTION tap_evil.eq(name, name) RETURNS boolean LANGUAGE sql AS $$ SELECT tap_evil.trap() $$;
CREATE FUNCTION tap_evil.eq(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT tap_evil.trap() $$;
CREATE FUNCTION tap_evil.eq(int, int) RETURNS boolean LANGUAGE sql AS $$ SELECT tap_evil.trap() $$;
CREATE FUNCTION tap_evil.like(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT tap_evil.trap() $$;
CREATE OPERATOR tap_evil.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = tap_evil.eq);
CREATE OPERATOR tap_evil.= (LEFTARG = name, RIGHTARG = name, FUNCTION = tap_evil.eq);
CREATE OPERATOR tap_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = tap_evil.eq);
CREATE OPERATOR tap_evil.= (LEFTARG = int, RIGHTARG = int, FUNCTION = tap_evil.eq);
CREATE OPERATOR tap_evil.~~ (LEFTARG = text, RIGHTARG = text, FUNCTION = tap_evil.like);
CREATE FUNCTION tap_evil.cat(jsonb, jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT CASE WHEN tap_evil.trap() THEN $1 END $$;
CREATE OPERATOR tap_evil.|| (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = tap_evil.cat);
RESET ROLE;
-- the SQLSTATE of a statement run with the hostile search_path
CREATE FUNCTION pg_temp.hostile_sqlstate(q text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'tap_evil, pg_catalog, public', true);
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;
SELECT is(ARRAY[pg_temp.hostile_sqlstate('SELECT now()'), pg_temp.hostile_sqlstate('SELECT count(*) FROM pg_class'),
                pg_temp.hostile_sqlstate('SELECT 1::oid = 1::oid'), pg_temp.hostile_sqlstate($q$SELECT 'a'::text ~~ 'a'$q$),
                pg_temp.hostile_sqlstate($q$SELECT current_setting('work_mem')$q$)],
    ARRAY['TAPEV', 'TAPEV', 'TAPEV', 'TAPEV', 'TAPEV'],
    'with search_path = tap_evil, pg_catalog the shadowing now(), count(*), =, ~~ and current_setting are the ones called');

GRANT USAGE ON SCHEMA "tap Stats" TO mg_tap_mon_monitor;
SET LOCAL ROLE mg_tap_mon_monitor;
SET LOCAL migrate.slow_query_ms = 40;
SELECT pg_stat_clear_snapshot() \gset
SET LOCAL search_path = tap_evil, pg_catalog, public;
SELECT coalesce((SELECT jsonb_agg(to_jsonb(r)) FROM migrate.rls_status r), '[]') AS h_rls,
       coalesce((SELECT jsonb_agg(to_jsonb(h)) FROM migrate.table_health h), '[]') AS h_health,
       coalesce((SELECT jsonb_agg(to_jsonb(c)) FROM migrate.connections c), '[]') AS h_conns,
       coalesce((SELECT jsonb_agg(to_jsonb(s)) FROM migrate.slow_queries s), '[]') AS h_slow,
       migrate.monitoring_summary('0') AS h_summ \gset
RESET search_path;
SELECT coalesce((SELECT jsonb_agg(to_jsonb(r)) FROM migrate.rls_status r), '[]') AS n_rls,
       coalesce((SELECT jsonb_agg(to_jsonb(h)) FROM migrate.table_health h), '[]') AS n_health,
       coalesce((SELECT jsonb_agg(to_jsonb(c)) FROM migrate.connections c), '[]') AS n_conns,
       coalesce((SELECT jsonb_agg(to_jsonb(s)) FROM migrate.slow_queries s), '[]') AS n_slow,
       migrate.monitoring_summary('0') AS n_summ \gset
RESET migrate.slow_query_ms;
RESET ROLE;
SELECT is(:'h_rls'::jsonb, :'n_rls'::jsonb, 'hostile search_path: rls_status is the same');
SELECT ok(:'h_rls'::jsonb @> '[{"schema_name": "tap Mon", "table_name": "rls_ok", "policies": 2, "verdict": "ok"}]', '... and right');
SELECT is(pg_temp.pick(:'h_health', 'table_name', '{table_name,dead_tuples,needs_vacuum}'),
    pg_temp.pick(:'n_health', 'table_name', '{table_name,dead_tuples,needs_vacuum}'), '... table_health is the same');
SELECT ok(:'h_health'::jsonb @> '[{"table_name": "tap_mon_dead", "dead_tuples": 60, "needs_vacuum": true}]', '... and right');
SELECT is(pg_temp.pick(:'h_conns', 'application_name', '{application_name,state,connections,waiting,idle_in_transaction}'),
    pg_temp.pick(:'n_conns', 'application_name', '{application_name,state,connections,waiting,idle_in_transaction}'),
    '... connections are the same');
SELECT ok(:'h_conns'::jsonb @> '[{"application_name": "tap_mon_blocked", "connections": 1, "waiting": 1}]', '... and right');
SELECT is(pg_temp.pick(:'h_slow', 'query', '{source,query,calls}', '%tap\_mon\_%'),
    pg_temp.pick(:'n_slow', 'query', '{source,query,calls}', '%tap\_mon\_%'), '... slow_queries are the same');
SELECT is(pg_temp.steady(:'h_summ'), pg_temp.steady(:'n_summ'), '... the summary is the same');
SELECT is(:'h_summ'::jsonb->'events_by_severity', '{"info": 3, "warning": 2, "error": 11, "critical": 1}'::jsonb, '... and right');

-- release the sessions
SELECT is(dblink_cancel_query('tap_mon_slow'), 'OK', 'the long statement is cancelled');
SELECT is((SELECT count(*) FROM dblink_get_result('tap_mon_slow', false) AS t(v text)), 0::bigint, '... it ends');
SELECT is(pg_temp.remote('tap_mon_holder', 'SELECT pg_advisory_unlock(7361, 14)'), 't', 'the holder releases its lock');
SELECT is((SELECT v FROM dblink_get_result('tap_mon_blocked') AS t(v text)), '', '... the waiting session gets it');
DO $$ BEGIN
    PERFORM * FROM dblink_get_result('tap_mon_slow', false) AS t(v text);
    PERFORM * FROM dblink_get_result('tap_mon_blocked', false) AS t(v text);
    PERFORM dblink_exec('tap_mon_idle', 'ROLLBACK');
END $$;
SELECT is(pg_temp.remote('tap_mon_blocked', 'SELECT pg_advisory_unlock(7361, 14)'), 't', '... and releases it');
SELECT ok(pg_temp.wait_for(format($c$NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid IN (%s, %s) AND state <> 'idle')$c$, :slow_pid, :blocked_pid)),
    'the sessions are idle');
SELECT is(migrate.monitoring_summary()->'blocked_sessions', '[]'::jsonb, 'no blocked session is left');

--
-- pending maintenance
--
SELECT is(pg_temp.summary()->'pending_maintenance'->'events_days_ahead_missing',
    to_jsonb(8 - (SELECT count(DISTINCT day_partition)::int FROM migrate.log_partitions('events')
                   WHERE NOT is_default AND lower_bound >= current_date::timestamptz AND upper_bound <= (current_date + 8)::timestamptz)),
    'events_days_ahead_missing counts the days today .. today + 7 without a partition');
SELECT ok(migrate.add_partitions('events', current_date, current_date + 7) IS NOT NULL
          AND migrate.add_partitions('audit_log', current_date, current_date + 7) IS NOT NULL,
    'add_partitions for today .. today + 7');
SELECT is(migrate.monitoring_summary()->'pending_maintenance'->'events_days_ahead_missing', '0'::jsonb,
    '... then no day of events is missing');
SELECT is(migrate.monitoring_summary()->'pending_maintenance'->'audit_log_days_ahead_missing', '0'::jsonb,
    '... nor of audit_log');
SET LOCAL migrate.premake_days = 10;
SELECT is((migrate.monitoring_summary()->'pending_maintenance') - 'expired_event_partitions' - 'rows_in_default_partitions',
    '{"events_days_ahead_missing": 3, "audit_log_days_ahead_missing": 3}'::jsonb,
    'with migrate.premake_days = 10, 3 days of each are missing');
RESET migrate.premake_days;
SELECT (migrate.monitoring_summary()->'pending_maintenance'->>'expired_event_partitions')::int AS expired_before \gset
SELECT ok(migrate.add_partitions('events', current_date - 20, current_date - 20) IS NOT NULL, 'add_partitions for D-20');
SELECT is((migrate.monitoring_summary()->'pending_maintenance'->>'expired_event_partitions')::int, :expired_before + 1,
    '... an expired partition (the shortest retention is 7 days)');
-- rows in the default partitions: counted when never analyzed (as here), else estimated
INSERT INTO migrate.events (kind, severity, logged_at) VALUES ('tap_mon_future', 'info', now() + interval '10 years');
SELECT pg_temp.default_partition_stats(false) \gset
SELECT is(migrate.monitoring_summary()->'pending_maintenance'->'rows_in_default_partitions',
    to_jsonb((SELECT count(*) FROM migrate.events_default) + (SELECT count(*) FROM migrate.audit_log_default)),
    'rows_in_default_partitions counts the rows of the default partitions');
SET LOCAL ROLE mg_tap_mon_monitor;
SELECT migrate.monitoring_summary() AS summ_monitor \gset
RESET ROLE;
-- bug: the rows are counted in the partition itself, on which the role has no privilege
SELECT is(:'summ_monitor'::jsonb->'errors', '{}'::jsonb,
    'the monitoring role''s summary has no errors when the default partitions hold rows never analyzed');
SELECT is(:'summ_monitor'::jsonb->'pending_maintenance'->'rows_in_default_partitions',
    to_jsonb((SELECT count(*) FROM migrate.events_default) + (SELECT count(*) FROM migrate.audit_log_default)),
    '... and rows_in_default_partitions counts them');

--
-- the sessions end
--
SELECT is(ARRAY[dblink_disconnect('tap_mon_slow'), dblink_disconnect('tap_mon_fresh'), dblink_disconnect('tap_mon_idle'),
                dblink_disconnect('tap_mon_holder'), dblink_disconnect('tap_mon_blocked'), dblink_disconnect('tap_mon_w')],
    ARRAY['OK', 'OK', 'OK', 'OK', 'OK', 'OK'], 'the other sessions end');

SELECT * FROM finish();
ROLLBACK;

-- the tables written by the other session were committed
DROP TABLE public.tap_mon_dead, public.tap_mon_few, public.tap_mon_scaled, public.tap_mon_gucs, public.tap_mon_gucs2;
