-- monitoring events: exact messages of record_event, the guard and retention
SET client_min_messages = notice;
SET TimeZone = 'UTC';
-- arguments
SELECT migrate.record_event('regress', 'fatal');
SELECT migrate.record_event(NULL);
SELECT migrate.record_event('regress', NULL);
SELECT migrate.record_event('');
SELECT migrate.record_event(repeat('k', 201));
-- a recorded event, all its columns
SELECT migrate.record_event('regress_kind', 'notice', 'a message', '{"a": [1, 2]}') > 0 AS recorded;
SELECT kind, severity, message, details, session_user_name = session_user AS su,
       current_user_name = current_user AS cu, pid = pg_backend_pid() AS pid,
       txid IS NOT NULL AS has_txid, migration_version
  FROM migrate.events WHERE kind = 'regress_kind';
SELECT migrate.record_event('regress_null_details', details => NULL) > 0 AS recorded;
SELECT details FROM migrate.events WHERE kind = 'regress_null_details';
-- the guard
UPDATE migrate.events SET message = 'forged' WHERE kind = 'regress_kind';
DELETE FROM migrate.events WHERE kind = 'regress_kind';
TRUNCATE migrate.events;
TRUNCATE migrate.events_default;
TRUNCATE migrate.audit_log_default;
-- retention arguments
SELECT migrate.cleanup(NULL);
SELECT migrate.cleanup('-1 day');
SELECT migrate.add_partitions('logs', current_date, current_date);
SELECT migrate.add_partitions('events', current_date - 4000, current_date);
SELECT migrate.retention_delete('pg_class', now());
SELECT migrate.retention_delete('migrate.audit_log_default', now(), '{info}');
SELECT migrate.monitoring_summary(NULL);
SELECT migrate.monitoring_summary('-1 hour');
-- effective retention per severity
SELECT * FROM migrate.event_retention();
SELECT migrate.severity_rank(s) FROM unnest('{debug,info,notice,warning,error,critical,bogus}'::text[]) s;
-- maintain runs (its NOTICEs name today's partitions, so they are not shown)
SET client_min_messages = warning;
SELECT (migrate.maintain() ->> 'delete_limit_reached') IS NOT NULL AS maintain_ran;
SET client_min_messages = notice;
-- events of the extension's own activity (this session; lint_review applied a higher version)
SET migrate.allow_out_of_order = on;
SELECT migrate.apply('ev1', 'events regress', 'CREATE TABLE ev_regress (id int)');
SELECT migrate.apply('ev1', 'events regress', 'CREATE TABLE ev_regress (id int, x int)');
SELECT kind, severity, message, details ->> 'sqlstate' AS sqlstate
  FROM migrate.events WHERE kind IN ('migration_applied', 'migration_refused') AND details ->> 'version' = 'ev1' ORDER BY id;
