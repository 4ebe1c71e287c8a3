-- Monitoring events, recording: migrate.record_event (arguments, what each
-- event records, autonomous events, huge details, read-only transactions),
-- who may record and read events, the guard of migrate.events and
-- migrate.audit_log, and the events the extension records about its own
-- activity (migrations, refusals, lint errors, audit enable/disable).
--
-- Everything runs in one transaction that is rolled back, except the
-- autonomous events: a background worker commits them, so they stay in the
-- database (13_retention.sql starts by removing older events).  NOTIFY is
-- covered by an isolation spec.
--
-- Tests marked "bug:" failed when they were written (see the commit message).
BEGIN;
-- warn-mode lint raises WARNINGs and the guard of add_partitions NOTICEs:
-- keep them out of the TAP stream
SET LOCAL client_min_messages = error;
SET LOCAL TimeZone = 'UTC';
SET LOCAL migrate.lint_level = warn;
SELECT plan(158);

-- one event by id; the newest event of a kind and the number of events of a
-- kind recorded by this transaction (autonomous events of earlier test files,
-- e.g. migration_refused, were committed)
CREATE FUNCTION pg_temp.ev(bigint) RETURNS migrate.events
LANGUAGE sql AS $$ SELECT * FROM migrate.events WHERE id = $1 $$;
CREATE FUNCTION pg_temp.last_ev(k text) RETURNS migrate.events
LANGUAGE sql AS $$ SELECT * FROM migrate.events WHERE kind = k AND txid = pg_current_xact_id() ORDER BY id DESC LIMIT 1 $$;
CREATE FUNCTION pg_temp.n_ev(k text) RETURNS bigint
LANGUAGE sql AS $$ SELECT count(*) FROM migrate.events WHERE kind = k AND txid = pg_current_xact_id() $$;
-- the SQLSTATE a statement raises ('ok' when it succeeds); its effects are
-- always rolled back, so a guard that fails to refuse does not destroy rows
-- the later tests read; with read_only, it runs in a read-only subtransaction
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
-- ids returned by record_event
CREATE TEMP TABLE ids (name text PRIMARY KEY, id bigint);

--
-- the table and the function
--
SELECT columns_are('migrate', 'events',
    ARRAY['id', 'logged_at', 'kind', 'severity', 'message', 'details', 'session_user_name',
          'current_user_name', 'application_name', 'client_addr', 'pid', 'txid', 'migration_version'],
    'migrate.events has exactly the documented columns');
SELECT is(pg_get_partkeydef('migrate.events'::regclass), 'RANGE (logged_at)',
    'migrate.events is range-partitioned on logged_at');
SELECT is((SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE oid = 'migrate.events_default'::regclass),
    'DEFAULT', 'migrate.events_default is its default partition');
SELECT function_returns('migrate', 'record_event', ARRAY['text', 'text', 'text', 'jsonb', 'boolean'], 'bigint',
    'record_event(text, text, text, jsonb, boolean) returns bigint');
SELECT is(ARRAY(SELECT migrate.severity_rank(s)
                  FROM unnest(ARRAY['debug', 'info', 'notice', 'warning', 'error', 'critical']) AS s),
    ARRAY[1, 2, 3, 4, 5, 6], 'severity_rank orders debug < info < notice < warning < error < critical');
SELECT is(migrate.severity_rank('fatal'), NULL, 'severity_rank of an unknown severity is NULL');

--
-- a minimal event: defaults and the facts of the session
--
SET LOCAL application_name = 'tap events';
INSERT INTO ids VALUES ('min', migrate.record_event('tap_min'));
SELECT isnt((SELECT id FROM ids WHERE name = 'min'), NULL, 'record_event returns the id of the event');
SELECT is((SELECT (e.kind, e.severity, e.message, e.details)::text FROM ids, pg_temp.ev(ids.id) e WHERE name = 'min'),
    '(tap_min,info,,{})', 'defaults: severity info, no message, details {}');
SELECT is((SELECT e.session_user_name FROM ids, pg_temp.ev(ids.id) e WHERE name = 'min'), session_user::text,
    'session_user_name is the session user');
SELECT is((SELECT e.current_user_name FROM ids, pg_temp.ev(ids.id) e WHERE name = 'min'), current_user::text,
    'current_user_name is the current user');
SELECT is((SELECT e.application_name FROM ids, pg_temp.ev(ids.id) e WHERE name = 'min'), 'tap events',
    'application_name is recorded');
SELECT ok((SELECT e.client_addr IS NOT DISTINCT FROM inet_client_addr() FROM ids, pg_temp.ev(ids.id) e WHERE name = 'min'),
    'client_addr is the client address (inet_client_addr())');
SELECT is((SELECT e.pid FROM ids, pg_temp.ev(ids.id) e WHERE name = 'min'), pg_backend_pid(),
    'pid is the backend pid');
SELECT is((SELECT e.txid FROM ids, pg_temp.ev(ids.id) e WHERE name = 'min'), pg_current_xact_id(),
    'txid is the current transaction id');
SELECT is((SELECT e.migration_version FROM ids, pg_temp.ev(ids.id) e WHERE name = 'min'), NULL,
    'migration_version is NULL outside migrate.apply');
SELECT ok((SELECT e.logged_at >= now() AND e.logged_at <= clock_timestamp() FROM ids, pg_temp.ev(ids.id) e WHERE name = 'min'),
    'logged_at is the clock time of the call (after the transaction start)');
INSERT INTO ids VALUES ('min2', migrate.record_event('tap_min'));
SELECT cmp_ok((SELECT id FROM ids WHERE name = 'min2'), '>', (SELECT id FROM ids WHERE name = 'min'),
    'a later event has a larger id');

--
-- arguments
--
INSERT INTO ids SELECT 'sev_' || s, migrate.record_event('tap_sev', s, 'severity ' || s)
  FROM unnest(ARRAY['debug', 'info', 'notice', 'warning', 'error', 'critical']) AS s;
SELECT is(ARRAY(SELECT severity FROM migrate.events WHERE kind = 'tap_sev' ORDER BY id),
    ARRAY['debug', 'info', 'notice', 'warning', 'error', 'critical'], 'all six severities are recorded');
SELECT throws_ok($$SELECT migrate.record_event('tap_bad', 'fatal')$$, '22023', 'invalid event severity "fatal"',
    'an unknown severity: 22023');
SELECT throws_ok($$SELECT migrate.record_event('tap_bad', 'INFO')$$, '22023', NULL,
    'severities are lower case: INFO is refused with 22023');
SELECT throws_ok($$SELECT migrate.record_event('tap_bad', '')$$, '22023', NULL, 'an empty severity: 22023');
SELECT throws_ok($$SELECT migrate.record_event('tap_bad', NULL)$$, '22004', NULL, 'a NULL severity: 22004');
SELECT throws_ok($$SELECT migrate.record_event(NULL)$$, '22004', NULL, 'a NULL kind: 22004');
SELECT throws_ok($$SELECT migrate.record_event('')$$, '22023', NULL, 'an empty kind: 22023');
SELECT throws_ok($$SELECT migrate.record_event('   ')$$, '22023', NULL, 'a blank kind: 22023');
SELECT is(pg_temp.n_ev('tap_bad'), 0::bigint, 'refused calls record nothing');
SELECT lives_ok($$SELECT migrate.record_event(repeat('k', 200))$$, 'a kind of 200 bytes is accepted');
SELECT throws_ok($$SELECT migrate.record_event(repeat('k', 201))$$, '22001', NULL, 'a kind of 201 bytes: 22001');
SELECT lives_ok($$SELECT migrate.record_event(repeat('é', 100))$$, 'a kind of 100 two-byte characters (200 bytes) is accepted');
SELECT throws_ok($$SELECT migrate.record_event(repeat('é', 101))$$, '22001', NULL,
    'a kind of 101 two-byte characters (202 bytes): 22001 (the limit is in bytes)');
INSERT INTO ids VALUES ('nulls', migrate.record_event('tap_nulls', 'notice', NULL, NULL));
SELECT is((SELECT (e.message, e.details)::text FROM ids, pg_temp.ev(ids.id) e WHERE name = 'nulls'),
    '(,{})', 'NULL message is stored as NULL, NULL details as {}');
INSERT INTO ids VALUES ('full', migrate.record_event('tap_full', 'warning', E'line 1\nline "2" ✓',
    '{"a": [1, {"b": null}], "u": "ü ✓", "n": 1.50, "t": true}'));
SELECT is((SELECT e.message FROM ids, pg_temp.ev(ids.id) e WHERE name = 'full'), E'line 1\nline "2" ✓',
    'the message is stored as given');
SELECT is((SELECT e.details FROM ids, pg_temp.ev(ids.id) e WHERE name = 'full'),
    '{"a": [1, {"b": null}], "u": "ü ✓", "n": 1.50, "t": true}'::jsonb, 'nested details are stored as given');
SELECT is((SELECT e.details->>'n' FROM ids, pg_temp.ev(ids.id) e WHERE name = 'full'), '1.50',
    '... numbers keep their scale');

--
-- huge details and message
--
INSERT INTO ids VALUES ('huge', migrate.record_event('tap_huge', 'info', repeat('m', 100000),
    jsonb_build_object('blob', repeat('x', 1048576), 'n', 1)));
SELECT is((SELECT length(e.details->>'blob') FROM ids, pg_temp.ev(ids.id) e WHERE name = 'huge'), 1048576,
    'a 1 MB details value is stored whole');
SELECT is((SELECT length(e.message) FROM ids, pg_temp.ev(ids.id) e WHERE name = 'huge'), 100000,
    'a 100 kB message is stored whole');

--
-- transactional and autonomous events
--
SAVEPOINT before_events;
DO $$ BEGIN
    PERFORM migrate.record_event('tap_sp_normal', 'error', 'rolled back');
    PERFORM migrate.record_event('tap_sp_auto', 'error', 'survives', '{"k": "v", "u": "ü ✓", "a": [1, null]}', true);
    PERFORM migrate.record_event('tap_sp_auto_null', 'error', autonomous => NULL);
END $$;
SELECT pg_temp.n_ev('tap_sp_normal') AS sp_normal_inside \gset
ROLLBACK TO SAVEPOINT before_events;
SELECT is(:'sp_normal_inside'::bigint, 1::bigint, 'before the rollback the normal event exists');
SELECT is(pg_temp.n_ev('tap_sp_normal'), 0::bigint, 'a normal event is gone after ROLLBACK TO SAVEPOINT');
SELECT is(pg_temp.n_ev('tap_sp_auto'), 1::bigint, 'an autonomous event survives ROLLBACK TO SAVEPOINT');
SELECT is(pg_temp.n_ev('tap_sp_auto_null'), 0::bigint, 'autonomous => NULL records a normal (rolled back) event');
SELECT is((SELECT (e.kind, e.severity, e.message, e.details)::text FROM pg_temp.last_ev('tap_sp_auto') e),
    '(tap_sp_auto,error,survives,"{""a"": [1, null], ""k"": ""v"", ""u"": ""ü ✓""}")',
    'the autonomous event has its kind, severity, message and details');
SELECT is((SELECT e.txid FROM pg_temp.last_ev('tap_sp_auto') e), pg_current_xact_id(),
    'its txid is the caller''s transaction id');
SELECT is((SELECT e.pid FROM pg_temp.last_ev('tap_sp_auto') e), pg_backend_pid(),
    'its pid is the caller''s (not the worker''s)');
SELECT is((SELECT (e.session_user_name, e.current_user_name, e.application_name)::text FROM pg_temp.last_ev('tap_sp_auto') e),
    (SELECT (session_user, current_user, 'tap events')::text), 'its users and application_name are the caller''s');
SELECT ok((SELECT e.client_addr IS NOT DISTINCT FROM inet_client_addr() FROM pg_temp.last_ev('tap_sp_auto') e),
    'its client_addr is the caller''s');
SELECT is((SELECT e.migration_version FROM pg_temp.last_ev('tap_sp_auto') e), NULL,
    'its migration_version is NULL outside migrate.apply');

INSERT INTO ids VALUES ('auto', migrate.record_event('tap_auto', 'critical', autonomous => true));
SELECT is((SELECT (e.kind, e.severity, e.message, e.details)::text FROM ids, pg_temp.ev(ids.id) e WHERE name = 'auto'),
    '(tap_auto,critical,,{})', 'an autonomous call returns the id of its event; no message, details {}');
INSERT INTO ids VALUES ('auto_null', migrate.record_event('tap_auto_null', 'info', NULL, NULL, true));
SELECT is((SELECT (e.message, e.details)::text FROM ids, pg_temp.ev(ids.id) e WHERE name = 'auto_null'),
    '(,{})', 'autonomous: NULL message stays NULL, NULL details become {}');
INSERT INTO ids VALUES ('auto_huge', migrate.record_event('tap_auto_huge', 'error', repeat('m', 100000),
    jsonb_build_object('blob', repeat('y', 1048576)), true));
SELECT is((SELECT length(e.details->>'blob') FROM ids, pg_temp.ev(ids.id) e WHERE name = 'auto_huge'), 1048576,
    'autonomous: a 1 MB details value is stored whole');
SELECT is((SELECT length(e.message) FROM ids, pg_temp.ev(ids.id) e WHERE name = 'auto_huge'), 100000,
    'autonomous: a 100 kB message is stored whole');
SELECT throws_ok($$SELECT migrate.record_event('tap_bad', 'fatal', autonomous => true)$$, '22023', NULL,
    'autonomous: an unknown severity is refused with 22023 too');
SELECT throws_ok($$SELECT migrate.record_event(repeat('k', 201), autonomous => true)$$, '22001', NULL,
    'autonomous: a kind of 201 bytes is refused with 22001 too');
SELECT is(pg_temp.n_ev('tap_bad'), 0::bigint, '... and nothing was written');

-- a caller without a transaction id: a second session, autocommit (dblink)
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT is(dblink_connect('tap_ev', format('dbname=%s port=%s host=%s', current_database(), current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1))), 'OK',
    'a second session (dblink)');
SELECT pid AS remote_pid FROM dblink('tap_ev', 'SELECT pg_backend_pid()') AS t(pid int) \gset
SELECT id AS remote_id
  FROM dblink('tap_ev', $q$SELECT migrate.record_event('tap_auto_noxid', 'warning', autonomous => true)$q$) AS t(id bigint) \gset
SELECT is((SELECT e.pid FROM pg_temp.ev(:'remote_id') e), :'remote_pid'::int,
    'an autonomous event of another session records that session''s pid');
SELECT is((SELECT e.txid FROM pg_temp.ev(:'remote_id') e), NULL,
    'autonomous: txid is NULL when the caller had no transaction id');
SELECT is(dblink_disconnect('tap_ev'), 'OK', 'the second session ends');

-- read-only transactions
SELECT is(pg_temp.sqlstate_of($$SELECT migrate.record_event('tap_ro')$$, true), '25006',
    'in a read-only transaction record_event is refused with 25006');
SELECT is(pg_temp.n_ev('tap_ro'), 0::bigint, '... and nothing was written');
SELECT is(pg_temp.sqlstate_of($$SELECT migrate.record_event('tap_ro_auto', 'error', autonomous => true)$$, true), 'ok',
    'an autonomous event may be recorded in a read-only transaction (the worker''s transaction is read-write)');
SELECT is(pg_temp.n_ev('tap_ro_auto'), 1::bigint, '... and it is written');
SELECT is(pg_temp.sqlstate_of($$SELECT count(*) FROM migrate.lint('DROP DATABASE tap_nowhere')$$, true), 'ok',
    'in a read-only transaction migrate.lint with an error finding works (its lint_error event is not recorded)');

--
-- who records: the current (effective) user; PUBLIC may not record
--
CREATE ROLE mg_tap_ev_nobody NOLOGIN;
CREATE ROLE mg_tap_ev_writer NOLOGIN;
GRANT EXECUTE ON FUNCTION migrate.record_event(text, text, text, jsonb, boolean) TO mg_tap_ev_writer;

-- bug: record_event is not revoked from PUBLIC
SELECT ok(NOT EXISTS (SELECT FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                       WHERE p.oid = 'migrate.record_event(text, text, text, jsonb, boolean)'::regprocedure
                         AND a.grantee = 0 AND a.privilege_type = 'EXECUTE'),
    'PUBLIC has no EXECUTE on record_event');
SELECT ok(NOT has_function_privilege('mg_tap_ev_nobody', 'migrate.record_event(text, text, text, jsonb, boolean)', 'EXECUTE'),
    'a role without a grant cannot execute record_event');
SELECT ok(has_function_privilege('mg_tap_ev_writer', 'migrate.record_event(text, text, text, jsonb, boolean)', 'EXECUTE'),
    'the role granted EXECUTE can');
SELECT ok(NOT has_table_privilege('mg_tap_ev_writer', 'migrate.events', 'SELECT')
          AND NOT has_table_privilege('mg_tap_ev_writer', 'migrate.events', 'INSERT')
          AND NOT has_table_privilege('mg_tap_ev_writer', 'migrate.events_default', 'SELECT')
          AND NOT has_table_privilege('mg_tap_ev_writer', 'migrate.events_default', 'INSERT'),
    '... and has no right on migrate.events or its default partition');

SET LOCAL ROLE mg_tap_ev_nobody;
SELECT throws_ok($$SELECT migrate.record_event('tap_nobody')$$, '42501', NULL,
    'a role without the grant cannot record an event: 42501');
RESET ROLE;

SET LOCAL ROLE mg_tap_ev_writer;
SELECT lives_ok($$SELECT migrate.record_event('tap_writer', 'notice', 'by the writer')$$,
    'the writer records an event');
SELECT lives_ok($$SELECT migrate.record_event('tap_writer_auto', 'error', 'by the writer', autonomous => true)$$,
    'the writer records an autonomous event');
SELECT throws_ok($$SELECT * FROM migrate.events$$, '42501', NULL, 'the writer cannot read migrate.events');
SELECT throws_ok($$SELECT * FROM migrate.events_default$$, '42501', NULL, '... nor its default partition');
SELECT throws_ok($$INSERT INTO migrate.events (kind, severity) VALUES ('forged', 'info')$$, '42501', NULL,
    '... nor insert into it directly');
SELECT throws_ok($$UPDATE migrate.events SET message = 'changed'$$, '42501', NULL, '... nor update it');
SELECT throws_ok($$DELETE FROM migrate.events$$, '42501', NULL, '... nor delete from it');
SELECT throws_ok($$TRUNCATE migrate.events$$, '42501', NULL, '... nor truncate it');
RESET ROLE;
SELECT is((SELECT (e.session_user_name, e.current_user_name)::text FROM pg_temp.last_ev('tap_writer') e),
    (SELECT (session_user, 'mg_tap_ev_writer')::text), 'under SET ROLE current_user_name is the role, session_user_name the session user');
SELECT is((SELECT (e.session_user_name, e.current_user_name)::text FROM pg_temp.last_ev('tap_writer_auto') e),
    (SELECT (session_user, 'mg_tap_ev_writer')::text), '... also for an autonomous event');
SELECT is((SELECT (e.message, e.details)::text FROM pg_temp.last_ev('tap_writer') e), '("by the writer",{})',
    'the writer''s event is stored with its message');
INSERT INTO ids VALUES ('after_role', migrate.record_event('tap_after_role'));
SELECT is((SELECT e.current_user_name FROM ids, pg_temp.ev(ids.id) e WHERE name = 'after_role'), current_user::text,
    'after RESET ROLE current_user_name is the session user again');

-- inside a SECURITY DEFINER function the current user is the function's owner
CREATE FUNCTION public.tap_ev_definer() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog
AS $$ SELECT migrate.record_event('tap_definer') $$;
ALTER FUNCTION public.tap_ev_definer() OWNER TO mg_tap_ev_writer;
INSERT INTO ids VALUES ('definer', public.tap_ev_definer());
SELECT is((SELECT (e.session_user_name, e.current_user_name)::text FROM ids, pg_temp.ev(ids.id) e WHERE name = 'definer'),
    (SELECT (session_user, 'mg_tap_ev_writer')::text),
    'in a SECURITY DEFINER function current_user_name is its owner');

--
-- the guard: events are never changed, even by a superuser
--
SELECT lives_ok($$INSERT INTO migrate.events (kind, severity, logged_at) VALUES ('tap_direct', 'debug', now() - interval '1 day')$$,
    'a superuser may insert an event directly');
SELECT is(pg_temp.sqlstate_of($$UPDATE migrate.events SET message = 'changed' WHERE kind = 'tap_min'$$), 'MG019',
    'UPDATE of migrate.events (superuser): MG019');
SELECT is(pg_temp.sqlstate_of($$DELETE FROM migrate.events WHERE kind = 'tap_min'$$), 'MG019',
    'DELETE from migrate.events (superuser): MG019');
SELECT is(pg_temp.sqlstate_of($$TRUNCATE migrate.events$$), 'MG019', 'TRUNCATE of migrate.events (superuser): MG019');
SELECT is(pg_temp.sqlstate_of($$UPDATE migrate.events_default SET kind = 'x' WHERE kind = 'tap_min'$$), 'MG019',
    'UPDATE of the default partition directly: MG019');
SELECT is(pg_temp.sqlstate_of($$DELETE FROM migrate.events_default WHERE kind = 'tap_min'$$), 'MG019',
    'DELETE from the default partition directly: MG019');
-- bug: statement-level TRUNCATE triggers are not inherited by partitions
SELECT is(pg_temp.sqlstate_of($$TRUNCATE migrate.events_default$$), 'MG019',
    'TRUNCATE of the default partition directly: MG019');
SELECT is(pg_temp.sqlstate_of($$UPDATE migrate.events SET logged_at = logged_at - interval '1 day' WHERE kind = 'tap_min'$$), 'MG019',
    'an UPDATE moving an event to another day: MG019');
SELECT throws_like($$DELETE FROM migrate.events WHERE kind = 'tap_min'$$, 'DELETE of migrate.events% is not allowed',
    'the error names the operation and the table');
SELECT is(pg_temp.n_ev('tap_min'), 2::bigint, 'the events are still there');

--
-- the extension's own events: migrations
--
SELECT is(migrate.baseline('1', 'tap base'), 'baselined', 'baseline 1');
SELECT is((SELECT (e.severity, e.message, e.details->>'version', e.details->>'name', e.txid = pg_current_xact_id())::text
             FROM pg_temp.last_ev('migration_baselined') e),
    '(info,"migration 1 tap base baselined",1,"tap base",t)',
    'migration_baselined (info) with version and name, in the current transaction');

SELECT is(migrate.apply('10', 'events', $s$CREATE TABLE ev_m (i int);
SELECT migrate.record_event('from_migration', 'notice', 'inside');
SELECT migrate.record_event('from_migration_auto', 'error', 'inside, autonomous', autonomous => true);$s$,
    'DROP TABLE ev_m'), 'applied', 'apply 10, whose script records events');
SELECT is((SELECT e.migration_version FROM pg_temp.last_ev('from_migration') e), '10',
    'an event recorded by a migration script has migration_version');
SELECT is((SELECT e.migration_version FROM pg_temp.last_ev('from_migration_auto') e), '10',
    '... also an autonomous one');
SELECT is((SELECT (e.severity, e.message, e.migration_version, e.details->>'version', e.details->>'name')::text
             FROM pg_temp.last_ev('migration_applied') e),
    '(info,"migration 10 events applied",10,10,events)',
    'migration_applied (info) with migration_version, version and name');
SELECT is((SELECT e.details->>'checksum' FROM pg_temp.last_ev('migration_applied') e),
    (SELECT checksum FROM migrate.migrations WHERE version = '10'), '... and the checksum');
SELECT is((SELECT e.txid FROM pg_temp.last_ev('migration_applied') e), pg_current_xact_id(),
    '... in the current transaction');
SELECT cmp_ok((SELECT id FROM pg_temp.last_ev('migration_applied')), '>', (SELECT id FROM pg_temp.last_ev('from_migration')),
    'migration_applied comes after the events of the script');
INSERT INTO ids VALUES ('after_apply', migrate.record_event('tap_after_apply'));
SELECT is((SELECT e.migration_version FROM ids, pg_temp.ev(ids.id) e WHERE name = 'after_apply'), NULL,
    'after apply migration_version is NULL again');
SELECT is(migrate.apply('10', 'events', $s$CREATE TABLE ev_m (i int);
SELECT migrate.record_event('from_migration', 'notice', 'inside');
SELECT migrate.record_event('from_migration_auto', 'error', 'inside, autonomous', autonomous => true);$s$,
    'DROP TABLE ev_m'), 'already_applied', 'applying 10 again: already_applied');
SELECT is(pg_temp.n_ev('migration_applied'), 1::bigint, '... records no second migration_applied');

SELECT is(migrate.revert('10'), 'reverted', 'revert 10');
SELECT is((SELECT (e.severity, e.message, e.details->>'version')::text FROM pg_temp.last_ev('migration_reverted') e),
    '(notice,"migration 10 events reverted",10)', 'migration_reverted (notice) with the version');

SELECT is(migrate.apply('12', 'to repair', 'SELECT 1'), 'applied', 'apply 12');
SELECT is(migrate.repair('12', 'SELECT 1 -- edited', 'only a comment'), 'repaired', 'repair 12');
SELECT is((SELECT (e.severity, e.details->>'version', e.details->>'checksum')::text FROM pg_temp.last_ev('migration_repaired') e),
    (SELECT ('notice', '12', migrate.checksum('SELECT 1 -- edited'))::text),
    'migration_repaired (notice) with the version and the new checksum');

--
-- refusals are recorded autonomously: they outlive the rollback of the error
--
SELECT throws_ok($$SELECT migrate.apply('12', 'to repair', 'SELECT 2')$$, 'MG001', NULL,
    'apply 12 with another script: MG001');
SELECT is((SELECT count(*) FROM migrate.events WHERE kind = 'migration_refused' AND details->>'version' = '12' AND txid = pg_current_xact_id()), 1::bigint,
    'a migration_refused event exists after the error was rolled back');
SELECT is((SELECT (e.severity, e.details->>'function', e.details->>'version', e.details->>'sqlstate')::text
             FROM pg_temp.last_ev('migration_refused') e),
    '(error,migrate.apply,12,MG001)', 'migration_refused: error, function, version and SQLSTATE');
SELECT ok((SELECT e.message IS NOT NULL AND e.details ? 'detail' FROM pg_temp.last_ev('migration_refused') e),
    '... with the error message and a detail key');
SELECT is((SELECT e.txid FROM pg_temp.last_ev('migration_refused') e), pg_current_xact_id(),
    '... and the caller''s transaction id');

DO $$
BEGIN
    BEGIN
        PERFORM migrate.revert('404');
    EXCEPTION WHEN SQLSTATE 'MG010' THEN
        NULL;
    END;
END
$$;
SELECT is((SELECT (e.details->>'function', e.details->>'version', e.details->>'sqlstate')::text
             FROM pg_temp.last_ev('migration_refused') e),
    '(migrate.revert,404,MG010)', 'a refused revert caught in an EXCEPTION block is recorded too');

SELECT throws_ok($$SELECT migrate.apply('13', 'syntax', 'SELEC 1')$$, '42601', NULL, 'apply of a script with a syntax error: 42601');
SELECT is((SELECT count(*) FROM migrate.events WHERE kind = 'migration_refused' AND details->>'version' = '13' AND txid = pg_current_xact_id()), 0::bigint,
    '... is a failure, not a refusal: no migration_refused');

--
-- an autonomous event in a transaction that itself locks migrate.events
-- (LOCK TABLE, or migrate.maintain / add_partitions attaching partitions,
-- which keeps ACCESS EXCLUSIVE on the default partition until the end of the
-- transaction): the worker's insert would wait for the caller's own lock
-- until its lock_timeout (5 s), so the call is refused at once with 55P03;
-- a refusal of migrate.apply then raises its own error, its
-- migration_refused event not written (a WARNING)
--
SAVEPOINT own_lock;
LOCK TABLE migrate.events IN SHARE MODE;
SELECT clock_timestamp() AS t0 \gset
SELECT throws_ok($$SELECT migrate.record_event('tap_own_lock', 'error', 'blocked', autonomous => true)$$,
    '55P03', 'cannot write an autonomous event while this transaction locks migrate.events',
    'an autonomous event after LOCK TABLE migrate.events IN SHARE MODE: 55P03');
SELECT cmp_ok(clock_timestamp() - :'t0'::timestamptz, '<', interval '2 s',
    '... at once (the worker would have waited 5 s)');
SELECT is(pg_temp.n_ev('tap_own_lock'), 0::bigint, '... and nothing was written');
SELECT lives_ok($$SELECT migrate.record_event('tap_own_lock_tx', 'error', 'transactional')$$,
    '... a transactional event in the same transaction is recorded');
SELECT (SELECT count(*) FROM migrate.events WHERE kind = 'migration_refused' AND details->>'version' = '12') AS refused_before \gset
SELECT clock_timestamp() AS t0 \gset
SELECT throws_ok($$SELECT migrate.apply('12', 'to repair', 'SELECT 3')$$, 'MG001', NULL,
    'a refused apply while this transaction locks migrate.events still raises its error (MG001)');
SELECT cmp_ok(clock_timestamp() - :'t0'::timestamptz, '<', interval '2 s', '... at once');
SELECT is((SELECT count(*) FROM migrate.events WHERE kind = 'migration_refused' AND details->>'version' = '12'),
    :'refused_before'::bigint, '... its migration_refused event could not be written');
ROLLBACK TO SAVEPOINT own_lock;

SAVEPOINT own_lock;
LOCK TABLE migrate.events_default IN EXCLUSIVE MODE;
SELECT throws_ok($$SELECT migrate.record_event('tap_own_lock', 'error', autonomous => true)$$,
    '55P03', 'cannot write an autonomous event while this transaction locks migrate.events',
    'a lock on the default partition alone (EXCLUSIVE): 55P03 too');
ROLLBACK TO SAVEPOINT own_lock;

-- locks that do not conflict with the worker's ROW EXCLUSIVE do not stop it
SAVEPOINT own_lock;
LOCK TABLE migrate.events IN ROW EXCLUSIVE MODE;
LOCK TABLE migrate.events IN SHARE UPDATE EXCLUSIVE MODE;
SELECT count(*) >= 0 AS read_events FROM migrate.events \gset
SELECT lives_ok($$SELECT migrate.record_event('tap_own_weak_lock', 'error', autonomous => true)$$,
    'an autonomous event after reading migrate.events and ROW / SHARE UPDATE EXCLUSIVE locks on it is written');
ROLLBACK TO SAVEPOINT own_lock;
SELECT is(pg_temp.n_ev('tap_own_weak_lock'), 1::bigint, '... and survives the rollback');

SAVEPOINT own_lock;
INSERT INTO ids VALUES ('own_maintain', 0);
UPDATE ids SET id = jsonb_array_length(migrate.maintain()->'created_partitions') WHERE name = 'own_maintain';
SELECT cmp_ok((SELECT id FROM ids WHERE name = 'own_maintain'), '>', 0::bigint,
    'migrate.maintain created partitions in this transaction');
SELECT clock_timestamp() AS t0 \gset
SELECT throws_ok($$SELECT migrate.record_event('tap_own_lock', 'error', autonomous => true)$$,
    '55P03', 'cannot write an autonomous event while this transaction locks migrate.events',
    '... then an autonomous event: 55P03');
SELECT cmp_ok(clock_timestamp() - :'t0'::timestamptz, '<', interval '2 s', '... at once');
SELECT clock_timestamp() AS t0 \gset
SELECT throws_ok($$SELECT migrate.revert('404')$$, 'MG010', NULL,
    '... a refused revert still raises its error (MG010)');
SELECT cmp_ok(clock_timestamp() - :'t0'::timestamptz, '<', interval '2 s', '... at once');
ROLLBACK TO SAVEPOINT own_lock;

SAVEPOINT own_lock;
SELECT cmp_ok(cardinality(migrate.add_partitions('events', current_date + 400, current_date + 400)), '=', 1,
    'add_partitions attached a partition in this transaction');
SELECT throws_ok($$SELECT migrate.record_event('tap_own_lock', 'error', autonomous => true)$$,
    '55P03', NULL, '... then an autonomous event: 55P03');
ROLLBACK TO SAVEPOINT own_lock;
SELECT is(pg_temp.n_ev('tap_own_lock'), 0::bigint, 'none of the refused autonomous events was written');
SELECT lives_ok($$SELECT migrate.record_event('tap_own_lock_after', 'info', autonomous => true)$$,
    'after ROLLBACK TO SAVEPOINT (the locks released) autonomous events are written again');

--
-- lint errors
--
CREATE TABLE ev_rows (id int PRIMARY KEY, n int);
INSERT INTO ev_rows SELECT g, g FROM generate_series(1, 10) AS g;
ANALYZE ev_rows;
SELECT pg_temp.n_ev('lint_error') AS lint_errors_before \gset
SELECT ok(NOT EXISTS (SELECT FROM migrate.lint('SELECT 1') WHERE severity = 'error'), 'lint of a harmless script');
SELECT is(pg_temp.n_ev('lint_error'), :'lint_errors_before'::bigint, '... records no lint_error');
SELECT ok(EXISTS (SELECT FROM migrate.lint('DROP DATABASE tap_nowhere') WHERE severity = 'error'),
    'lint of DROP DATABASE has an error finding');
SELECT is(pg_temp.n_ev('lint_error'), :'lint_errors_before'::bigint + 1, '... and records one lint_error event');
SELECT is((SELECT (e.severity, e.message, e.details->'findings'->0->>'rule', jsonb_array_length(e.details->'findings'))::text
             FROM pg_temp.last_ev('lint_error') e),
    '(error,"migrate.lint found 1 error finding",drop-database,1)',
    'lint_error: error, the count in the message, the findings in details');

SELECT is(migrate.apply('14', 'retype', 'ALTER TABLE ev_rows ALTER COLUMN n TYPE bigint'), 'applied',
    'warn: a migration with an error finding (alter-column-type) applies');
SELECT is((SELECT e.details->'findings'->0->>'rule' FROM pg_temp.last_ev('lint_error') e), 'alter-column-type',
    '... and records a lint_error event with its finding');

SET LOCAL migrate.lint_level = error;
SELECT pg_temp.n_ev('lint_error') AS lint_errors_before \gset
SELECT throws_ok($$SELECT migrate.apply('15', 'retype again', 'ALTER TABLE ev_rows ALTER COLUMN n TYPE int')$$, 'MG015', NULL,
    'error: the same kind of migration is refused with MG015');
SELECT is((SELECT (e.details->>'version', e.details->>'sqlstate')::text FROM pg_temp.last_ev('migration_refused') e),
    '(15,MG015)', '... recorded as migration_refused with MG015');
SELECT is(pg_temp.n_ev('lint_error'), :'lint_errors_before'::bigint,
    '... its (transactional) lint_error event went with the rollback');
SET LOCAL migrate.lint_level = warn;

--
-- audit_enable and audit_disable, and the guard of migrate.audit_log
--
CREATE TABLE ev_aud (id int PRIMARY KEY, v text, secret text);
SELECT lives_ok($$SELECT migrate.audit_enable('ev_aud', '{secret}')$$, 'audit_enable(ev_aud)');
SELECT is((SELECT (e.severity, e.message, e.details->>'table', e.details->>'relid', e.details->'exclude_columns')::text
             FROM pg_temp.last_ev('audit_enabled') e),
    (SELECT ('info', 'auditing enabled on public.ev_aud', 'public.ev_aud', 'ev_aud'::regclass::oid::text, '["secret"]')::text),
    'audit_enabled (info) with the table, its oid and the excluded columns');
INSERT INTO ev_aud VALUES (1, 'a', 's');
SELECT is((SELECT count(*) FROM migrate.audit_log WHERE relid = 'ev_aud'::regclass), 1::bigint, 'an audit row is written');
SELECT is(pg_temp.sqlstate_of($$UPDATE migrate.audit_log SET table_name = 'x' WHERE relid = 'ev_aud'::regclass$$), 'MG019',
    'UPDATE of migrate.audit_log (superuser): MG019');
SELECT is(pg_temp.sqlstate_of($$DELETE FROM migrate.audit_log WHERE relid = 'ev_aud'::regclass$$), 'MG019',
    'DELETE from migrate.audit_log (superuser): MG019');
SELECT is(pg_temp.sqlstate_of($$TRUNCATE migrate.audit_log$$), 'MG019', 'TRUNCATE of migrate.audit_log (superuser): MG019');
SELECT is(pg_temp.sqlstate_of($$DELETE FROM migrate.audit_log_default WHERE relid = 'ev_aud'::regclass$$), 'MG019',
    'DELETE from the default partition of migrate.audit_log: MG019');
-- bug: statement-level TRUNCATE triggers are not inherited by partitions
SELECT is(pg_temp.sqlstate_of($$TRUNCATE migrate.audit_log_default$$), 'MG019',
    'TRUNCATE of the default partition of migrate.audit_log: MG019');
SELECT is((SELECT count(*) FROM migrate.audit_log WHERE relid = 'ev_aud'::regclass), 1::bigint, 'the audit row is still there');
SELECT lives_ok($$SELECT migrate.audit_disable('ev_aud')$$, 'audit_disable(ev_aud)');
SELECT is((SELECT (e.severity, e.message, e.details->>'table', e.details->>'relid')::text FROM pg_temp.last_ev('audit_disabled') e),
    (SELECT ('notice', 'auditing disabled on public.ev_aud', 'public.ev_aud', 'ev_aud'::regclass::oid::text)::text),
    'audit_disabled (notice) with the table and its oid');
SELECT is(pg_temp.n_ev('audit_disabled'), 1::bigint, 'one audit_disabled event');
SELECT lives_ok($$SELECT migrate.audit_disable('ev_aud')$$, 'audit_disable of a table no longer audited');
SELECT is(pg_temp.n_ev('audit_disabled'), 1::bigint, '... records no second audit_disabled');

SELECT * FROM finish();
ROLLBACK;
