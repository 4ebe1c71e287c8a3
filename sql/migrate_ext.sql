/* migrate_ext install script (built into migrate_ext--<version>.sql by make) */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION migrate_ext" to load this file. \quit

COMMENT ON SCHEMA migrate IS 'migrate_ext: versioned migrations and their history';
GRANT USAGE ON SCHEMA migrate TO PUBLIC;

--
-- Version ordering
--
CREATE FUNCTION migrate.version_key(version text)
RETURNS bytea
AS 'MODULE_PATHNAME', 'migrate_version_key'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION migrate.version_key(text) IS
'sort key of a migration version: digit runs compare numerically (2 < 10, 1.2.9 < 1.2.10), ties broken bytewise';

CREATE FUNCTION migrate.version_compare(a text, b text)
RETURNS integer
AS 'MODULE_PATHNAME', 'migrate_version_compare'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION migrate.version_compare(text, text) IS
'compares two migration versions in natural order: -1, 0 or 1';

CREATE FUNCTION migrate.checksum(script text)
RETURNS text
AS 'MODULE_PATHNAME', 'migrate_checksum'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION migrate.checksum(text) IS
'sha256 (hex) of a migration script with CRLF line ends normalised to LF, as recorded by migrate.apply';

--
-- Bookkeeping tables: written only by the extension's functions
--
CREATE TABLE migrate.migrations (
	version text PRIMARY KEY,
	version_key bytea GENERATED ALWAYS AS (migrate.version_key(version)) STORED,
	name text NOT NULL,
	state text NOT NULL CHECK (state IN ('applied', 'reverted', 'baselined')),
	checksum text,
	script text,
	down_script text,
	verify_script text,
	requires text[] NOT NULL DEFAULT '{}',
	search_path text,
	session_user_name text NOT NULL,
	current_user_name text NOT NULL,
	application_name text,
	client_addr inet,
	backend_pid integer NOT NULL,
	txid xid8,
	started_at timestamptz NOT NULL,
	applied_at timestamptz NOT NULL,
	lock_wait_ms double precision NOT NULL DEFAULT 0,
	execution_ms double precision NOT NULL DEFAULT 0,
	statement_count integer NOT NULL DEFAULT 0,
	rows_affected bigint NOT NULL DEFAULT 0,
	wal_lsn_before pg_lsn,
	wal_lsn_after pg_lsn,
	out_of_order boolean NOT NULL DEFAULT false,
	lint_findings jsonb NOT NULL DEFAULT '[]',
	reverted_at timestamptz,
	reverted_by text,
	CONSTRAINT migrations_version_check CHECK (version <> ''),
	CONSTRAINT migrations_checksum_check CHECK (state = 'baselined' OR checksum IS NOT NULL)
);
CREATE UNIQUE INDEX migrations_version_key_idx ON migrate.migrations (version_key);
COMMENT ON INDEX migrate.migrations_version_key_idx IS 'natural version order of migrations';
COMMENT ON TABLE migrate.migrations IS
'one row per known migration version with its current state; written only by migrate.apply, revert, baseline and repair';
COMMENT ON COLUMN migrate.migrations.version IS 'migration version (natural order, see migrate.version_key)';
COMMENT ON COLUMN migrate.migrations.version_key IS 'natural-order sort key of version';
COMMENT ON COLUMN migrate.migrations.name IS 'human-readable migration name';
COMMENT ON COLUMN migrate.migrations.state IS 'applied, reverted or baselined';
COMMENT ON COLUMN migrate.migrations.checksum IS 'sha256 hex of the script, CRLF normalised to LF (NULL for a baseline)';
COMMENT ON COLUMN migrate.migrations.script IS 'the up script as applied (or as realigned by migrate.repair)';
COMMENT ON COLUMN migrate.migrations.down_script IS 'script run by migrate.revert';
COMMENT ON COLUMN migrate.migrations.verify_script IS 'checks run after the apply and by migrate.verify';
COMMENT ON COLUMN migrate.migrations.requires IS 'versions that had to be applied first';
COMMENT ON COLUMN migrate.migrations.search_path IS 'search_path in effect when the migration was applied; its down and verify scripts run with it';
COMMENT ON COLUMN migrate.migrations.session_user_name IS 'session user who applied the migration';
COMMENT ON COLUMN migrate.migrations.current_user_name IS 'current user (role in effect) who applied the migration; its down and verify scripts run as this role';
COMMENT ON COLUMN migrate.migrations.application_name IS 'application_name of the applying session';
COMMENT ON COLUMN migrate.migrations.client_addr IS 'client address of the applying session (NULL for a Unix socket)';
COMMENT ON COLUMN migrate.migrations.backend_pid IS 'backend process id of the applying session';
COMMENT ON COLUMN migrate.migrations.txid IS 'top-level transaction id the migration committed in';
COMMENT ON COLUMN migrate.migrations.started_at IS 'when the migration statements started (after the migration lock was taken)';
COMMENT ON COLUMN migrate.migrations.applied_at IS 'when the apply finished';
COMMENT ON COLUMN migrate.migrations.lock_wait_ms IS 'time spent waiting for the migration lock';
COMMENT ON COLUMN migrate.migrations.execution_ms IS 'time spent running the script and its verify checks';
COMMENT ON COLUMN migrate.migrations.statement_count IS 'number of statements in the script';
COMMENT ON COLUMN migrate.migrations.rows_affected IS 'rows inserted, updated or deleted by the script''s statements';
COMMENT ON COLUMN migrate.migrations.wal_lsn_before IS 'WAL insert position before the script ran';
COMMENT ON COLUMN migrate.migrations.wal_lsn_after IS 'WAL insert position after the script ran';
COMMENT ON COLUMN migrate.migrations.out_of_order IS 'applied while a higher version was already applied (migrate.allow_out_of_order)';
COMMENT ON COLUMN migrate.migrations.lint_findings IS 'findings of migrate.lint for the script when it was applied (also in its history row)';
COMMENT ON COLUMN migrate.migrations.reverted_at IS 'when migrate.revert last reverted this version';
COMMENT ON COLUMN migrate.migrations.reverted_by IS 'session user who last reverted this version';

CREATE TABLE migrate.history (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	logged_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	action text NOT NULL CHECK (action IN ('apply', 'revert', 'baseline', 'repair')),
	version text NOT NULL,
	name text,
	checksum text,
	previous_checksum text,
	session_user_name text NOT NULL,
	current_user_name text NOT NULL,
	application_name text,
	client_addr inet,
	backend_pid integer NOT NULL,
	txid xid8,
	details jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX history_version_idx ON migrate.history (version);
COMMENT ON INDEX migrate.history_version_idx IS 'history entries of one version';
COMMENT ON TABLE migrate.history IS
'append-only log of every apply, revert, baseline and repair; written only by the extension''s functions';
COMMENT ON COLUMN migrate.history.id IS 'sequence number of the entry';
COMMENT ON COLUMN migrate.history.logged_at IS 'when the entry was written';
COMMENT ON COLUMN migrate.history.action IS 'apply, revert, baseline or repair';
COMMENT ON COLUMN migrate.history.version IS 'migration version acted on';
COMMENT ON COLUMN migrate.history.name IS 'migration name';
COMMENT ON COLUMN migrate.history.checksum IS 'checksum after the action';
COMMENT ON COLUMN migrate.history.previous_checksum IS 'checksum before a repair';
COMMENT ON COLUMN migrate.history.session_user_name IS 'session user who acted';
COMMENT ON COLUMN migrate.history.current_user_name IS 'current user (role in effect) who acted';
COMMENT ON COLUMN migrate.history.application_name IS 'application_name of the acting session';
COMMENT ON COLUMN migrate.history.client_addr IS 'client address of the acting session';
COMMENT ON COLUMN migrate.history.backend_pid IS 'backend process id of the acting session';
COMMENT ON COLUMN migrate.history.txid IS 'top-level transaction id of the action';
COMMENT ON COLUMN migrate.history.details IS 'action details: timings, statement and row counts, WAL positions, repair reason';

COMMENT ON SEQUENCE migrate.history_id_seq IS 'sequence numbers of migrate.history entries';
COMMENT ON INDEX migrate.migrations_pkey IS 'one row per version';
COMMENT ON INDEX migrate.history_pkey IS 'history entries by sequence number';

CREATE TABLE migrate.lock_waits (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	logged_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	version text NOT NULL,
	statement_no integer NOT NULL,
	attempt integer NOT NULL,
	relation text,
	wanted_mode text,
	blockers text,
	waited_ms double precision NOT NULL,
	outcome text NOT NULL CHECK (outcome IN ('retried', 'gave_up'))
);
COMMENT ON TABLE migrate.lock_waits IS
'every lock_timeout a migration statement hit under migrate.lock_retries: what it waited for, who blocked it, for how long';
COMMENT ON COLUMN migrate.lock_waits.id IS 'sequence number of the wait';
COMMENT ON COLUMN migrate.lock_waits.logged_at IS 'when the wait ended';
COMMENT ON COLUMN migrate.lock_waits.version IS 'migration being applied';
COMMENT ON COLUMN migrate.lock_waits.statement_no IS 'statement of the script that waited';
COMMENT ON COLUMN migrate.lock_waits.attempt IS '1 for the first try, 2 for the first retry, ...';
COMMENT ON COLUMN migrate.lock_waits.relation IS 'relation whose lock was awaited (schema-qualified), if it was a relation lock';
COMMENT ON COLUMN migrate.lock_waits.wanted_mode IS 'lock mode the statement asked for, e.g. AccessExclusiveLock';
COMMENT ON COLUMN migrate.lock_waits.blockers IS 'blocking sessions: pid, application_name, state, transaction age, query';
COMMENT ON COLUMN migrate.lock_waits.waited_ms IS 'how long the statement waited before lock_timeout fired';
COMMENT ON COLUMN migrate.lock_waits.outcome IS 'retried (another attempt followed) or gave_up (migrate.lock_retries exhausted)';
COMMENT ON SEQUENCE migrate.lock_waits_id_seq IS 'sequence numbers of migrate.lock_waits entries';
COMMENT ON INDEX migrate.lock_waits_pkey IS 'lock waits by sequence number';
SELECT pg_catalog.pg_extension_config_dump('migrate.lock_waits', '');
SELECT pg_catalog.pg_extension_config_dump('migrate.lock_waits_id_seq', '');

REVOKE ALL ON migrate.migrations, migrate.history, migrate.lock_waits FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('migrate.migrations', '');
SELECT pg_catalog.pg_extension_config_dump('migrate.history', '');
SELECT pg_catalog.pg_extension_config_dump('migrate.history_id_seq', '');

-- Refuse UPDATE, DELETE and TRUNCATE that do not come from the extension's functions
CREATE FUNCTION migrate.guard_bookkeeping()
RETURNS trigger
AS 'MODULE_PATHNAME', 'migrate_guard_bookkeeping'
LANGUAGE C;
COMMENT ON FUNCTION migrate.guard_bookkeeping() IS
'trigger function refusing direct UPDATE, DELETE and TRUNCATE of migrate.migrations and migrate.history';
REVOKE ALL ON FUNCTION migrate.guard_bookkeeping() FROM PUBLIC;

CREATE TRIGGER migrations_guard BEFORE UPDATE OR DELETE ON migrate.migrations
	FOR EACH ROW EXECUTE FUNCTION migrate.guard_bookkeeping();
CREATE TRIGGER migrations_guard_truncate BEFORE TRUNCATE ON migrate.migrations
	FOR EACH STATEMENT EXECUTE FUNCTION migrate.guard_bookkeeping();
CREATE TRIGGER history_guard BEFORE UPDATE OR DELETE ON migrate.history
	FOR EACH ROW EXECUTE FUNCTION migrate.guard_bookkeeping();
CREATE TRIGGER history_guard_truncate BEFORE TRUNCATE ON migrate.history
	FOR EACH STATEMENT EXECUTE FUNCTION migrate.guard_bookkeeping();
CREATE TRIGGER lock_waits_guard BEFORE UPDATE OR DELETE ON migrate.lock_waits
	FOR EACH ROW EXECUTE FUNCTION migrate.guard_bookkeeping();
CREATE TRIGGER lock_waits_guard_truncate BEFORE TRUNCATE ON migrate.lock_waits
	FOR EACH STATEMENT EXECUTE FUNCTION migrate.guard_bookkeeping();
COMMENT ON TRIGGER lock_waits_guard ON migrate.lock_waits IS
'keeps migrate.lock_waits append-only: refuses UPDATE and DELETE';
COMMENT ON TRIGGER lock_waits_guard_truncate ON migrate.lock_waits IS
'refuses TRUNCATE of migrate.lock_waits';
COMMENT ON TRIGGER migrations_guard ON migrate.migrations IS
'refuses UPDATE and DELETE of migrate.migrations outside the extension''s functions';
COMMENT ON TRIGGER migrations_guard_truncate ON migrate.migrations IS
'refuses TRUNCATE of migrate.migrations';
COMMENT ON TRIGGER history_guard ON migrate.history IS
'keeps migrate.history append-only: refuses UPDATE and DELETE';
COMMENT ON TRIGGER history_guard_truncate ON migrate.history IS
'refuses TRUNCATE of migrate.history';

--
-- Applying and managing migrations
--
CREATE FUNCTION migrate.apply(
	version text,
	name text,
	script text,
	down_script text DEFAULT NULL,
	requires text[] DEFAULT '{}',
	verify_script text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'migrate_apply'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION migrate.apply(text, text, text, text, text[], text) IS
'applies a migration script in the caller''s transaction and records it; returns applied or already_applied';

CREATE FUNCTION migrate.revert(version text)
RETURNS text
AS 'MODULE_PATHNAME', 'migrate_revert'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION migrate.revert(text) IS
'runs the stored down script of an applied migration in the caller''s transaction and marks it reverted';

CREATE FUNCTION migrate.baseline(version text, name text DEFAULT 'baseline')
RETURNS text
AS 'MODULE_PATHNAME', 'migrate_baseline'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION migrate.baseline(text, text) IS
'marks an existing database as being at a version; refused once anything is recorded';

CREATE FUNCTION migrate.repair(version text, script text, reason text)
RETURNS text
AS 'MODULE_PATHNAME', 'migrate_repair'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION migrate.repair(text, text, text) IS
'realigns the recorded checksum and script of an applied migration with an edited script; logs old and new checksum and the reason';

CREATE FUNCTION migrate.verify(version text)
RETURNS TABLE(check_no integer, check_sql text, passed boolean, message text)
AS 'MODULE_PATHNAME', 'migrate_verify'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION migrate.verify(text) IS
're-runs the verify checks of a migration now and reports each check as passed or failed';

CREATE FUNCTION migrate.current_migration()
RETURNS text
AS 'MODULE_PATHNAME', 'migrate_current_migration'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION migrate.current_migration() IS
'version of the migration being applied or reverted in this transaction, NULL outside one';

CREATE FUNCTION migrate.status()
RETURNS TABLE(
	version text,
	name text,
	state text,
	checksum text,
	applied_at timestamptz,
	applied_by text,
	execution_ms double precision,
	out_of_order boolean)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT m.version, m.name, m.state, m.checksum, m.applied_at,
		   m.session_user_name, m.execution_ms, m.out_of_order
	  FROM migrate.migrations m
	 ORDER BY m.version_key
$$;
COMMENT ON FUNCTION migrate.status() IS
'one row per known migration version in natural version order: state, checksum, when, by whom, how long';

--
-- Migration safety: lint and dry run
--
CREATE FUNCTION migrate.lint(script text)
RETURNS TABLE(statement_no integer, line integer, rule text, severity text,
			  lock_mode text, relation text, message text, hint text)
AS 'MODULE_PATHNAME', 'migrate_lint'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION migrate.lint(text) IS
'lints a migration script with PostgreSQL''s parser and the live catalog: one row per finding, with the lock each statement takes';

CREATE FUNCTION migrate.dry_run(script text)
RETURNS TABLE(statement_no integer, command text, duration_ms numeric, rows bigint,
			  locks text[], error text)
AS 'MODULE_PATHNAME', 'migrate_dry_run'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION migrate.dry_run(text) IS
'runs a migration script in a subtransaction with the migration timeouts, reports each statement''s time, rows and locks, then rolls everything back';

--
-- Audit capture
--
CREATE SEQUENCE migrate.audit_log_id_seq;
COMMENT ON SEQUENCE migrate.audit_log_id_seq IS 'ids of migrate.audit_log rows, in the order changes were logged';

CREATE TABLE migrate.audit_log (
	id bigint NOT NULL DEFAULT pg_catalog.nextval('migrate.audit_log_id_seq'),
	logged_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	txid xid8,
	statement_at timestamptz,
	relid oid NOT NULL,
	schema_name text NOT NULL,
	table_name text NOT NULL,
	operation text NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')),
	row_key jsonb,
	old_values jsonb,
	new_values jsonb,
	changed_columns text[],
	session_user_name text,
	current_user_name text,
	app_user text,
	application_name text,
	client_addr inet,
	migration_version text
) PARTITION BY RANGE (logged_at);
CREATE TABLE migrate.audit_log_default PARTITION OF migrate.audit_log DEFAULT;
CREATE INDEX audit_log_row_key_idx ON migrate.audit_log USING hash (row_key);
CREATE INDEX audit_log_relid_id_idx ON migrate.audit_log (relid, id);
COMMENT ON TABLE migrate.audit_log IS
'row changes of audited tables, written by migrate.audit_trigger as the extension owner; range-partitioned by logged_at';
COMMENT ON TABLE migrate.audit_log_default IS 'default partition of migrate.audit_log: rows no dated partition covers';
COMMENT ON INDEX migrate.audit_log_row_key_idx IS 'history of one row (hash: row keys of any size)';
COMMENT ON INDEX migrate.audit_log_relid_id_idx IS 'changes of one table in order';
COMMENT ON COLUMN migrate.audit_log.id IS 'order in which changes were logged';
COMMENT ON COLUMN migrate.audit_log.logged_at IS 'when the change was logged (end of its statement)';
COMMENT ON COLUMN migrate.audit_log.txid IS 'top-level transaction id of the change';
COMMENT ON COLUMN migrate.audit_log.statement_at IS 'start time of the statement that made the change';
COMMENT ON COLUMN migrate.audit_log.relid IS 'audited table (the partitioned table for a partition)';
COMMENT ON COLUMN migrate.audit_log.schema_name IS 'schema of the table at the time of the change';
COMMENT ON COLUMN migrate.audit_log.table_name IS 'name of the table at the time of the change';
COMMENT ON COLUMN migrate.audit_log.operation IS 'INSERT, UPDATE, DELETE or TRUNCATE';
COMMENT ON COLUMN migrate.audit_log.row_key IS 'primary-key columns of the row (the whole old row for a table without primary key)';
COMMENT ON COLUMN migrate.audit_log.old_values IS 'values before the change (changed columns only for UPDATE unless full_rows)';
COMMENT ON COLUMN migrate.audit_log.new_values IS 'values after the change (changed columns only for UPDATE unless full_rows)';
COMMENT ON COLUMN migrate.audit_log.changed_columns IS 'columns an UPDATE changed';
COMMENT ON COLUMN migrate.audit_log.session_user_name IS 'session user who made the change';
COMMENT ON COLUMN migrate.audit_log.current_user_name IS 'current user (role in effect) who made the change';
COMMENT ON COLUMN migrate.audit_log.app_user IS 'application user from migrate.app_user (SET LOCAL migrate.app_user = ...)';
COMMENT ON COLUMN migrate.audit_log.application_name IS 'application_name of the session';
COMMENT ON COLUMN migrate.audit_log.client_addr IS 'client address of the session';
COMMENT ON COLUMN migrate.audit_log.migration_version IS 'migration being applied when the change was made (migrate.current_migration())';

CREATE TABLE migrate.audit_config (
	relid regclass PRIMARY KEY,
	exclude_columns text[] NOT NULL DEFAULT '{}',
	exclude_attnums smallint[] NOT NULL DEFAULT '{}',
	options jsonb NOT NULL DEFAULT '{}',
	enabled_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	enabled_by text NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE migrate.audit_config IS 'audited tables and their options, written by migrate.audit_enable and audit_disable';
COMMENT ON COLUMN migrate.audit_config.relid IS 'audited table';
COMMENT ON COLUMN migrate.audit_config.exclude_columns IS 'columns never written to the log, as given to audit_enable';
COMMENT ON COLUMN migrate.audit_config.exclude_attnums IS 'the same columns by number: what the trigger enforces (renames keep them excluded)';
COMMENT ON COLUMN migrate.audit_config.options IS 'log_unchanged_updates, full_rows, truncate_rows';
COMMENT ON COLUMN migrate.audit_config.enabled_at IS 'when auditing was (last) enabled';
COMMENT ON COLUMN migrate.audit_config.enabled_by IS 'role that enabled it';
COMMENT ON INDEX migrate.audit_config_pkey IS 'one configuration per table';

REVOKE ALL ON migrate.audit_log, migrate.audit_config FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('migrate.audit_log_default', '');
SELECT pg_catalog.pg_extension_config_dump('migrate.audit_log_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('migrate.audit_config', '');

CREATE FUNCTION migrate.audit_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'migrate_audit_trigger'
LANGUAGE C;
COMMENT ON FUNCTION migrate.audit_trigger() IS
'audit trigger installed by migrate.audit_enable: logs row changes to migrate.audit_log';
REVOKE ALL ON FUNCTION migrate.audit_trigger() FROM PUBLIC;

CREATE FUNCTION migrate.audit_enable(tbl regclass, exclude_columns text[] DEFAULT '{}', options jsonb DEFAULT '{}')
RETURNS void
AS 'MODULE_PATHNAME', 'migrate_audit_enable'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION migrate.audit_enable(regclass, text[], jsonb) IS
'starts (or reconfigures) auditing of a table: AFTER row triggers for INSERT/UPDATE/DELETE and a TRUNCATE trigger; only the table owner';

CREATE FUNCTION migrate.audit_disable(tbl regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'migrate_audit_disable'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION migrate.audit_disable(regclass) IS
'stops auditing a table (its log rows stay); only the table owner';

CREATE FUNCTION migrate.audit_status()
RETURNS TABLE(relid regclass, exclude_columns text[], options jsonb, enabled_at timestamptz,
			  enabled_by text, triggers_present boolean, logged_changes bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT c.relid,
		   ARRAY(SELECT a.attname::pg_catalog.text FROM pg_catalog.pg_attribute a
				  WHERE a.attrelid OPERATOR(pg_catalog.=) c.relid
					AND a.attnum OPERATOR(pg_catalog.=) ANY (c.exclude_attnums)
				  ORDER BY a.attnum),
		   c.options, c.enabled_at, c.enabled_by,
		   EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
					WHERE t.tgrelid OPERATOR(pg_catalog.=) c.relid
					  AND t.tgname OPERATOR(pg_catalog.=) 'migrate_audit'),
		   (SELECT pg_catalog.count(*) FROM migrate.audit_log l
			 WHERE l.relid OPERATOR(pg_catalog.=) c.relid)
	  FROM migrate.audit_config c
	 WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_class r WHERE r.oid OPERATOR(pg_catalog.=) c.relid)
	 ORDER BY c.relid::pg_catalog.text
$$;
COMMENT ON FUNCTION migrate.audit_status() IS
'audited tables with their options, whether their triggers are in place, and how many changes are logged';

-- New or attached partitions of an audited table get its TRUNCATE trigger
-- (row triggers are cloned by PostgreSQL, statement triggers are not).
CREATE FUNCTION migrate.audit_partition_hook()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cmd record;
	part regclass;
	root oid;
BEGIN
	FOR cmd IN SELECT DISTINCT c.objid FROM pg_catalog.pg_event_trigger_ddl_commands() c
				WHERE c.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
				  AND c.object_type OPERATOR(pg_catalog.=) 'table'
	LOOP
		FOR part IN SELECT t.relid FROM pg_catalog.pg_partition_tree(cmd.objid::pg_catalog.regclass) t LOOP
			SELECT a.relid INTO root
			  FROM pg_catalog.pg_partition_ancestors(part) a
			  JOIN migrate.audit_config c ON c.relid OPERATOR(pg_catalog.=) a.relid
			 WHERE a.relid OPERATOR(pg_catalog.<>) part
			 LIMIT 1;
			IF root IS NOT NULL AND NOT EXISTS (
				SELECT 1 FROM pg_catalog.pg_trigger t
				 WHERE t.tgrelid OPERATOR(pg_catalog.=) part
				   AND t.tgname OPERATOR(pg_catalog.=) 'migrate_audit_truncate') THEN
				EXECUTE pg_catalog.format('CREATE TRIGGER migrate_audit_truncate BEFORE TRUNCATE ON %s'
										  ' FOR EACH STATEMENT EXECUTE FUNCTION migrate.audit_trigger(%L)',
										  part, root::pg_catalog.text);
			END IF;
		END LOOP;
	END LOOP;
END
$$;
COMMENT ON FUNCTION migrate.audit_partition_hook() IS
'event trigger function: gives new or attached partitions of an audited table its TRUNCATE audit trigger';
REVOKE ALL ON FUNCTION migrate.audit_partition_hook() FROM PUBLIC;
CREATE EVENT TRIGGER migrate_audit_partitions ON ddl_command_end
	WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
	EXECUTE FUNCTION migrate.audit_partition_hook();
COMMENT ON EVENT TRIGGER migrate_audit_partitions IS
'gives new or attached partitions of audited tables the TRUNCATE audit trigger';

CREATE FUNCTION migrate.audit_history(tbl regclass, row_key jsonb)
RETURNS SETOF migrate.audit_log
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF tbl IS NULL OR row_key IS NULL THEN
		RAISE EXCEPTION 'tbl and row_key must not be NULL'
			USING ERRCODE = '22004', HINT = 'Pass the table and the row''s key as in migrate.audit_log.row_key, e.g. ''{"id": 42}''.';
	END IF;
	RETURN QUERY
		SELECT l.* FROM migrate.audit_log l
		 WHERE l.relid OPERATOR(pg_catalog.=) tbl
		   AND (l.row_key OPERATOR(pg_catalog.=) audit_history.row_key
				OR (l.operation OPERATOR(pg_catalog.=) 'TRUNCATE' AND l.row_key IS NULL))
		 ORDER BY l.id;
END
$$;
COMMENT ON FUNCTION migrate.audit_history(regclass, jsonb) IS
'the logged changes of one row (and the TRUNCATEs of its table), oldest first';

-- the current row of tbl with this key, as jsonb without excluded columns (internal)
CREATE FUNCTION migrate.audit_current_row(tbl regclass, row_key jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	has_pk boolean;
	cond text;
	result jsonb;
BEGIN
	SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index i
					WHERE i.indrelid OPERATOR(pg_catalog.=) tbl AND i.indisprimary)
	  INTO has_pk;
	SELECT pg_catalog.string_agg(pg_catalog.format(
			 CASE WHEN has_pk THEN 't.%1$I OPERATOR(pg_catalog.=) r.%1$I'
				  ELSE 't.%1$I IS NOT DISTINCT FROM r.%1$I' END, k), ' AND ')
	  INTO cond
	  FROM pg_catalog.jsonb_object_keys(row_key) k;
	IF cond IS NULL THEN
		RETURN NULL;
	END IF;
	EXECUTE pg_catalog.format('SELECT pg_catalog.to_jsonb(t) FROM %s t, pg_catalog.jsonb_populate_record(NULL::%s, $1) r WHERE %s LIMIT 1',
							  tbl, tbl, cond)
	   INTO result USING row_key;
	RETURN result OPERATOR(pg_catalog.-) COALESCE((SELECT ARRAY(SELECT a.attname::pg_catalog.text
													   FROM pg_catalog.pg_attribute a
													  WHERE a.attrelid OPERATOR(pg_catalog.=) c.relid
														AND a.attnum OPERATOR(pg_catalog.=) ANY (c.exclude_attnums))
													 FROM migrate.audit_config c
													 WHERE c.relid OPERATOR(pg_catalog.=) tbl), '{}');
END
$$;
COMMENT ON FUNCTION migrate.audit_current_row(regclass, jsonb) IS
'internal: the current row of an audited table with the given key, as jsonb without excluded columns';

CREATE FUNCTION migrate.audit_row_as_of(tbl regclass, row_key jsonb, at timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	state jsonb;
	r record;
BEGIN
	IF tbl IS NULL OR row_key IS NULL OR at IS NULL THEN
		RAISE EXCEPTION 'tbl, row_key and at must not be NULL'
			USING ERRCODE = '22004', HINT = 'Pass the table, the row''s key as in migrate.audit_log.row_key, and a time.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM migrate.audit_config c WHERE c.relid OPERATOR(pg_catalog.=) tbl)
	   AND NOT EXISTS (SELECT 1 FROM migrate.audit_log l WHERE l.relid OPERATOR(pg_catalog.=) tbl) THEN
		RAISE EXCEPTION 'table % is not audited', tbl
			USING ERRCODE = 'MG018', HINT = 'Enable auditing with migrate.audit_enable.';
	END IF;
	-- walk back from the current row through the changes made after "at"
	state := migrate.audit_current_row(tbl, row_key);
	FOR r IN SELECT l.operation, l.old_values, l.row_key
			   FROM migrate.audit_log l
			  WHERE l.relid OPERATOR(pg_catalog.=) tbl
				AND (l.row_key OPERATOR(pg_catalog.=) audit_row_as_of.row_key
					 OR (l.operation OPERATOR(pg_catalog.=) 'TRUNCATE' AND l.row_key IS NULL))
				AND l.logged_at OPERATOR(pg_catalog.>) audit_row_as_of.at
			  ORDER BY l.id DESC
	LOOP
		CASE r.operation
			WHEN 'INSERT' THEN state := NULL;
			WHEN 'UPDATE' THEN state := COALESCE(state, '{}') OPERATOR(pg_catalog.||) r.old_values;
			WHEN 'DELETE' THEN state := r.old_values;
			WHEN 'TRUNCATE' THEN
				IF r.row_key IS NULL THEN
					RAISE EXCEPTION 'cannot reconstruct the row: table % was truncated after % and its rows were not logged', tbl, at
						USING ERRCODE = 'MG017', HINT = 'Enable auditing with options => ''{"truncate_rows": true}'' to log truncated rows.';
				END IF;
				state := r.old_values;
		END CASE;
	END LOOP;
	RETURN state;
END
$$;
COMMENT ON FUNCTION migrate.audit_row_as_of(regclass, jsonb, timestamptz) IS
'the row (without excluded columns) as it was at a time, reconstructed from the current row and the log; NULL if it did not exist';

CREATE FUNCTION migrate.audit_revert(tbl regclass, row_key jsonb, at timestamptz, force boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	target jsonb;
	cur jsonb;
	later bigint;
	cols text;
	cond text;
BEGIN
	IF force IS NULL THEN
		RAISE EXCEPTION 'force must not be NULL' USING ERRCODE = '22004';
	END IF;
	target := migrate.audit_row_as_of(tbl, row_key, at);
	SELECT pg_catalog.count(DISTINCT l.txid) INTO later
	  FROM migrate.audit_log l
	 WHERE l.relid OPERATOR(pg_catalog.=) tbl AND l.row_key OPERATOR(pg_catalog.=) audit_revert.row_key
	   AND l.logged_at OPERATOR(pg_catalog.>) audit_revert.at;
	IF later OPERATOR(pg_catalog.>) 1 AND NOT force THEN
		RAISE EXCEPTION 'reverting this row of % to % would overwrite % later transactions'' changes', tbl, at, later - 1
			USING ERRCODE = 'MG016',
				  DETAIL = 'Only the changes of one transaction after that time can be undone without force.',
				  HINT = 'Review migrate.audit_history(tbl, row_key), then call migrate.audit_revert(..., force => true).';
	END IF;
	cur := migrate.audit_current_row(tbl, row_key);
	IF target IS NOT DISTINCT FROM cur THEN
		RETURN 'unchanged';
	END IF;
	SELECT pg_catalog.string_agg(pg_catalog.format(
			 CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_index i
								WHERE i.indrelid OPERATOR(pg_catalog.=) tbl AND i.indisprimary)
				  THEN '%1$I OPERATOR(pg_catalog.=) (SELECT r.%1$I FROM pg_catalog.jsonb_populate_record(NULL::%2$s, $1) r)'
				  ELSE '%1$I IS NOT DISTINCT FROM (SELECT r.%1$I FROM pg_catalog.jsonb_populate_record(NULL::%2$s, $1) r)' END,
			 k, tbl), ' AND ')
	  INTO cond FROM pg_catalog.jsonb_object_keys(row_key) k;
	IF target IS NULL THEN
		EXECUTE pg_catalog.format('DELETE FROM %s WHERE %s', tbl, cond) USING row_key;
		RETURN 'deleted';
	END IF;
	-- the columns to write: those in the reconstructed row that are not generated
	SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
	  FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid OPERATOR(pg_catalog.=) tbl AND a.attnum OPERATOR(pg_catalog.>) 0
	   AND NOT a.attisdropped AND a.attgenerated OPERATOR(pg_catalog.=) ''
	   AND target ? a.attname;
	IF cur IS NULL THEN
		EXECUTE pg_catalog.format('INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM pg_catalog.jsonb_populate_record(NULL::%s, $1)',
								  tbl, cols, cols, tbl) USING target;
		RETURN 'inserted';
	END IF;
	EXECUTE pg_catalog.format('UPDATE %s SET (%s) = (SELECT %s FROM pg_catalog.jsonb_populate_record(NULL::%s, $2)) WHERE %s',
							  tbl, cols, cols, tbl, cond) USING row_key, target;
	RETURN 'updated';
END
$$;
COMMENT ON FUNCTION migrate.audit_revert(regclass, jsonb, timestamptz, boolean) IS
'restores a row to its state at a time (update, insert or delete); refused when changes of more than one later transaction would be overwritten, unless force';

CREATE FUNCTION migrate.audit_add_partitions(days integer DEFAULT 7)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	d date;
	created integer := 0;
	name text;
BEGIN
	IF days IS NULL OR days OPERATOR(pg_catalog.<) 0 OR days OPERATOR(pg_catalog.>) 3660 THEN
		RAISE EXCEPTION 'days must be between 0 and 3660' USING ERRCODE = '22023';
	END IF;
	FOR i IN 0 .. days LOOP
		d := CURRENT_DATE OPERATOR(pg_catalog.+) i;
		name := 'audit_log_p' OPERATOR(pg_catalog.||) pg_catalog.to_char(d, 'YYYYMMDD');
		CONTINUE WHEN pg_catalog.to_regclass('migrate.' OPERATOR(pg_catalog.||) name) IS NOT NULL;
		BEGIN
			EXECUTE pg_catalog.format('CREATE TABLE migrate.%I PARTITION OF migrate.audit_log FOR VALUES FROM (%L) TO (%L)',
									  name, d, d OPERATOR(pg_catalog.+) 1);
			created := created OPERATOR(pg_catalog.+) 1;
		EXCEPTION WHEN check_violation THEN
			RAISE NOTICE 'partition % not created: the default partition already holds rows of %', name, d;
		END;
	END LOOP;
	RETURN created;
END
$$;
COMMENT ON FUNCTION migrate.audit_add_partitions(integer) IS
'creates daily partitions of migrate.audit_log from today to today + days (inserts never fail: the default partition catches the rest)';

-- state-changing and history-reading functions are not for PUBLIC
REVOKE ALL ON FUNCTION migrate.apply(text, text, text, text, text[], text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.revert(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.baseline(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.repair(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.verify(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.status() FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.dry_run(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.audit_status() FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.audit_history(regclass, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.audit_current_row(regclass, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.audit_row_as_of(regclass, jsonb, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.audit_revert(regclass, jsonb, timestamptz, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.audit_add_partitions(integer) FROM PUBLIC;
