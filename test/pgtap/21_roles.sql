-- The role model (migrate.setup_roles) as a matrix: for each role and each
-- function and table, what is allowed and what is refused, checked in the
-- catalog and by calling as the role; SECURITY DEFINER functions pinned to
-- search_path = pg_catalog, pg_temp; and a hostile schema early on the
-- search_path whose look-alike functions and operators none of the
-- extension's functions or triggers call.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(228);

SELECT is(migrate.setup_roles('tap_admin', 'tap_monitor', 'tap_app'),
          'roles tap_admin (admin), tap_monitor (monitor), tap_app (app) ready; created: tap_admin, tap_monitor, tap_app',
          'setup_roles creates the three roles');
SELECT is(migrate.setup_roles('tap_admin', 'tap_monitor', 'tap_app'),
          'roles tap_admin (admin), tap_monitor (monitor), tap_app (app) ready', 'setup_roles again: nothing to create');
SELECT throws_ok($$SELECT migrate.setup_roles(NULL)$$, '22004', NULL, 'NULL role names are refused');
CREATE ROLE tap_nobody;

-- expected EXECUTE per function: a = admin, m = monitor (and admin), p = app, e = everyone
CREATE TEMP TABLE expect_fn (fn text, who text);
INSERT INTO expect_fn VALUES
  ('migrate.apply(text,text,text,text,text[],text)', 'a'),
  ('migrate.revert(text)', 'a'),
  ('migrate.baseline(text,text)', 'a'),
  ('migrate.repair(text,text,text)', 'a'),
  ('migrate.dry_run(text)', 'a'),
  ('migrate.record_applied(text,text,text,text,text,text,text[],double precision,integer,jsonb)', 'a'),
  ('migrate.record_reverted(text,double precision,integer,jsonb)', 'a'),
  ('migrate.client_migration(text)', 'a'),
  ('migrate.lint_gate(text,text)', 'a'),
  ('migrate.maintain()', 'a'),
  ('migrate.cleanup(interval,boolean)', 'a'),
  ('migrate.audit_revert(regclass,jsonb,timestamptz,boolean)', 'a'),
  ('migrate.audit_add_partitions(integer)', 'a'),
  ('migrate.snapshot_save(text)', 'a'),
  ('migrate.drift(jsonb,text[],boolean)', 'a'),
  ('migrate.drift_sql(jsonb)', 'a'),
  ('migrate.copy_rows(text,text,regclass,text[],integer,text)', 'a'),
  ('migrate.copy_rows_each(text,text,regclass,text[],integer,text)', 'a'),
  ('migrate.status()', 'm'),
  ('migrate.verify(text)', 'm'),
  ('migrate.fingerprint()', 'm'),
  ('migrate.history_check()', 'm'),
  ('migrate.history_export()', 'm'),
  ('migrate.history_compare(jsonb)', 'm'),
  ('migrate.monitoring_summary(interval)', 'm'),
  ('migrate.slow_query_rows()', 'm'),
  ('migrate.audit_status()', 'm'),
  ('migrate.audit_history(regclass,jsonb)', 'm'),
  ('migrate.audit_row_as_of(regclass,jsonb,timestamptz)', 'm'),
  ('migrate.record_event(text,text,text,jsonb,boolean)', 'ap'),
  ('migrate.lint(text)', 'e'),
  ('migrate.script_statements(text)', 'e'),
  ('migrate.checksum(text)', 'e'),
  ('migrate.snapshot(text[],text[])', 'e'),
  ('migrate.reconcile(text,regclass,text[])', 'e'),
  ('migrate.setup_roles(text,text,text)', '');
-- 36 functions x 4 roles = 144
SELECT is(has_function_privilege(r.role, e.fn::regprocedure, 'EXECUTE'),
          e.who LIKE '%e%'
          OR (r.code = 'a' AND (e.who LIKE '%a%' OR e.who LIKE '%m%'))
          OR (r.code = 'm' AND e.who LIKE '%m%')
          OR (r.code = 'p' AND e.who LIKE '%p%'),
          format('%s may%s execute %s', r.role,
                 CASE WHEN e.who LIKE '%e%' OR (r.code = 'a' AND (e.who LIKE '%a%' OR e.who LIKE '%m%'))
                           OR (r.code = 'm' AND e.who LIKE '%m%') OR (r.code = 'p' AND e.who LIKE '%p%')
                      THEN '' ELSE ' not' END, e.fn))
  FROM expect_fn e
 CROSS JOIN (VALUES ('tap_admin', 'a'), ('tap_monitor', 'm'), ('tap_app', 'p'), ('tap_nobody', 'n')) r(role, code)
 ORDER BY e.fn, r.code;

-- tables: SELECT for monitor and admin; writes for nobody but the extension (retention: admin)
CREATE TEMP TABLE expect_tbl (tbl text);
INSERT INTO expect_tbl VALUES ('migrate.migrations'), ('migrate.history'), ('migrate.events'), ('migrate.audit_log'),
  ('migrate.ddl_log'), ('migrate.copy_jobs'), ('migrate.copy_errors'), ('migrate.snapshots');
-- 8 tables x (select for admin, monitor; none for app, nobody; no insert/update/delete for anyone) = 8 x 6 = 48
SELECT ok(has_table_privilege('tap_admin', t.tbl, 'SELECT') AND has_table_privilege('tap_monitor', t.tbl, 'SELECT'),
          format('admin and monitor read %s', t.tbl)) FROM expect_tbl t ORDER BY 1;
SELECT ok(NOT has_table_privilege('tap_app', t.tbl, 'SELECT') AND NOT has_table_privilege('tap_nobody', t.tbl, 'SELECT'),
          format('app and nobody cannot read %s', t.tbl)) FROM expect_tbl t ORDER BY 1;
SELECT ok(NOT has_table_privilege(r.role, t.tbl, 'INSERT, UPDATE, DELETE, TRUNCATE'),
          format('%s cannot write %s', r.role, t.tbl))
  FROM expect_tbl t CROSS JOIN (VALUES ('tap_admin'), ('tap_monitor'), ('tap_app'), ('tap_nobody')) r(role) ORDER BY 1;
SELECT ok(has_table_privilege('tap_admin', 'migrate.retention', 'INSERT, UPDATE, DELETE')
          AND NOT has_table_privilege('tap_monitor', 'migrate.retention', 'UPDATE'),
          'admin sets the retention, monitor only reads it');

-- calling as the roles
CREATE TABLE public.tap_roles_t (id int PRIMARY KEY, v text);
GRANT CREATE ON SCHEMA public TO tap_admin;
GRANT ALL ON public.tap_roles_t TO tap_admin;
SET LOCAL ROLE tap_admin;
SELECT is(migrate.apply('tap_r1', 'as admin', 'CREATE TABLE public.tap_roles_made (id int)'), 'applied', 'admin applies a migration');
SELECT is((SELECT count(*) FROM migrate.status() WHERE version = 'tap_r1'), 1::bigint, 'admin reads the status');
SELECT ok(migrate.record_event('tap_role', 'info', 'from admin') > 0, 'admin records an event');
RESET ROLE;
SET LOCAL ROLE tap_monitor;
SELECT is((SELECT state FROM migrate.status() WHERE version = 'tap_r1'), 'applied', 'monitor reads the status');
SELECT ok((SELECT count(*) FROM migrate.history) > 0, 'monitor reads the history');
SELECT ok(migrate.monitoring_summary('1 hour') ? 'events_by_severity', 'monitor reads the monitoring summary');
SELECT throws_ok($$SELECT migrate.apply('tap_r2', 'as monitor', 'SELECT 1')$$, '42501', NULL, 'monitor cannot apply');
SELECT throws_ok($$SELECT migrate.maintain()$$, '42501', NULL, 'monitor cannot run maintain');
SELECT throws_ok($$DELETE FROM migrate.events$$, '42501', NULL, 'monitor cannot delete events');
RESET ROLE;
SET LOCAL ROLE tap_app;
SELECT ok(migrate.record_event('tap_role', 'warning', 'from the app') > 0, 'app records an event');
SELECT throws_ok($$SELECT * FROM migrate.events$$, '42501', NULL, 'app cannot read events');
SELECT throws_ok($$SELECT * FROM migrate.status()$$, '42501', NULL, 'app cannot read the status');
RESET ROLE;
SET LOCAL ROLE tap_nobody;
SELECT throws_ok($$SELECT migrate.record_event('x', 'info', 'y')$$, '42501', NULL, 'nobody cannot record events');
SELECT throws_ok($$SELECT migrate.apply('tap_r3', 'x', 'SELECT 1')$$, '42501', NULL, 'nobody cannot apply');
SELECT throws_ok($$UPDATE migrate.history SET name = 'x'$$, '42501', NULL, 'nobody cannot rewrite the history');
SELECT lives_ok($$SELECT * FROM migrate.lint('SELECT 1')$$, 'nobody may lint');
RESET ROLE;

-- SECURITY DEFINER functions are pinned to search_path = pg_catalog, pg_temp
SELECT is_empty($$SELECT p.oid::regprocedure FROM pg_proc p
                   WHERE p.pronamespace = 'migrate'::regnamespace AND p.prosecdef
                     AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)$$,
                'every SECURITY DEFINER function has SET search_path = pg_catalog, pg_temp');
SELECT ok((SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'migrate'::regnamespace AND p.prosecdef) >= 10,
          'there are SECURITY DEFINER functions to check');

-- a hostile schema early on the search_path: look-alike functions and operators that fail
CREATE SCHEMA tap_evil;
CREATE FUNCTION tap_evil.boom_text(a text, b text) RETURNS boolean LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'tap_evil operator called'; END $$;
CREATE FUNCTION tap_evil.boom_cat(a text, b text) RETURNS text LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'tap_evil || called'; END $$;
CREATE OPERATOR tap_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = tap_evil.boom_text);
CREATE OPERATOR tap_evil.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = tap_evil.boom_cat);
CREATE FUNCTION tap_evil.lower(text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'tap_evil.lower called'; END $$;
CREATE FUNCTION tap_evil.now() RETURNS timestamptz LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'tap_evil.now called'; END $$;
CREATE FUNCTION tap_evil.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'tap_evil.clock_timestamp called'; END $$;
CREATE FUNCTION tap_evil.to_jsonb(anyelement) RETURNS jsonb LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'tap_evil.to_jsonb called'; END $$;
CREATE FUNCTION tap_evil.format(text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'tap_evil.format called'; END $$;
CREATE FUNCTION tap_evil.current_setting(text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'tap_evil.current_setting called'; END $$;
CREATE FUNCTION tap_evil.session_user_fn() RETURNS text LANGUAGE sql AS 'SELECT 1::text';
SELECT migrate.audit_enable('public.tap_roles_t');
-- run sql with the hostile schema first on the search_path (pgTAP itself would
-- call the look-alikes, so the calls run in here): 'ok' or the error
CREATE FUNCTION pg_temp.under_evil(sql text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
	old text := pg_catalog.current_setting('search_path');
BEGIN
	PERFORM pg_catalog.set_config('search_path', 'tap_evil, public, pg_catalog', true);
	EXECUTE sql;
	PERFORM pg_catalog.set_config('search_path', old, true);
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	PERFORM pg_catalog.set_config('search_path', old, true);
	RETURN SQLERRM;
END
$f$;
SELECT is(pg_temp.under_evil($$SELECT 'a'::text || 'b'::text$$), 'tap_evil || called',
          'the hostile operator is really first on the path (a plain query calls it)');
SELECT is(pg_temp.under_evil($$SELECT migrate.status()$$), 'ok', 'hostile search_path: status');
SELECT is(pg_temp.under_evil($$SELECT migrate.history_export()$$), 'ok', 'hostile search_path: history_export');
SELECT is(pg_temp.under_evil($$SELECT migrate.fingerprint()$$), 'ok', 'hostile search_path: fingerprint');
SELECT is(pg_temp.under_evil($$SELECT * FROM migrate.history_check()$$), 'ok', 'hostile search_path: history_check');
SELECT is(pg_temp.under_evil($$SELECT migrate.record_event('tap_evil', 'info', 'still fine', '{"a": 1}')$$), 'ok', 'hostile search_path: record_event');
SELECT is(pg_temp.under_evil($$SELECT migrate.snapshot(ARRAY['public'])$$), 'ok', 'hostile search_path: snapshot');
SELECT is(pg_temp.under_evil($$SELECT * FROM migrate.lint('ALTER TABLE public.tap_roles_t ADD COLUMN w int NOT NULL')$$), 'ok', 'hostile search_path: lint');
SELECT is(pg_temp.under_evil($$INSERT INTO public.tap_roles_t VALUES (1, 'a'); UPDATE public.tap_roles_t SET v = 'b' WHERE id = 1$$), 'ok', 'hostile search_path: the audit trigger');
SELECT is(pg_temp.under_evil($$SELECT migrate.monitoring_summary('1 hour')$$), 'ok', 'hostile search_path: monitoring_summary');
SELECT is(pg_temp.under_evil($$SELECT migrate.apply('tap_r4', 'evil path', 'CREATE TABLE public.tap_evil_made (id int)')$$), 'ok', 'hostile search_path: apply (its own bookkeeping)');
SELECT is(pg_temp.under_evil($$SELECT * FROM migrate.drift(migrate.snapshot(ARRAY['public']), ARRAY['public'])$$), 'ok', 'hostile search_path: drift');
SELECT is(pg_temp.under_evil($$SELECT migrate.maintain()$$), 'ok', 'hostile search_path: maintain');
SELECT is((SELECT count(*) FROM migrate.audit_log WHERE table_name = 'tap_roles_t'), 2::bigint,
          'the audit rows were written under the hostile search_path');

SELECT * FROM finish();
ROLLBACK;
