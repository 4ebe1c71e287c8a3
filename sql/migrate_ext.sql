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
	chain_hash text,
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
COMMENT ON COLUMN migrate.migrations.chain_hash IS 'chain hash of the latest migrate.history entry of this version (see migrate.history_check)';

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
	details jsonb NOT NULL DEFAULT '{}',
	prev_hash text,
	chain_hash text
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
COMMENT ON COLUMN migrate.history.prev_hash IS 'chain hash of the entry before this one (NULL for the first)';
COMMENT ON COLUMN migrate.history.chain_hash IS
'sha256(prev_hash || version || checksum) for an apply, sha256(prev_hash || action || '' '' || version || checksum) otherwise, as hex (migrate.chain_link)';

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

CREATE FUNCTION migrate.record_applied(
	version text,
	name text,
	checksum text,
	script text DEFAULT NULL,
	down_script text DEFAULT NULL,
	verify_script text DEFAULT NULL,
	requires text[] DEFAULT '{}',
	execution_ms double precision DEFAULT 0,
	statement_count integer DEFAULT 0,
	details jsonb DEFAULT '{}')
RETURNS text
AS 'MODULE_PATHNAME', 'migrate_record_applied'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION migrate.record_applied(text, text, text, text, text, text, text[], double precision, integer, jsonb) IS
'records a migration whose statements the caller ran outside a transaction (pg_migrate), with the checks, history entry, chain and event of migrate.apply; returns recorded or already_applied';

CREATE FUNCTION migrate.lint_gate(version text, script text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'migrate_lint_gate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION migrate.lint_gate(text, text) IS
'applies the lint policy of migrate.apply (migrate.lint_level: WARNINGs, and under error the MG015 refusal) to a script the caller is about to run outside a transaction (pg_migrate, before a non-transactional migration); returns the findings as migrate.apply stores them';

CREATE FUNCTION migrate.record_reverted(
	version text,
	execution_ms double precision DEFAULT 0,
	statement_count integer DEFAULT 0,
	details jsonb DEFAULT '{}')
RETURNS text
AS 'MODULE_PATHNAME', 'migrate_record_reverted'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION migrate.record_reverted(text, double precision, integer, jsonb) IS
'records that the caller (pg_migrate) ran the stored down script of an applied migration outside a transaction, with the checks, history entry, chain and event of migrate.revert; returns recorded';

CREATE FUNCTION migrate.client_migration(version text)
RETURNS text
AS 'MODULE_PATHNAME', 'migrate_client_migration'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION migrate.client_migration(text) IS
'marks the statements this session runs next, outside a transaction, as migration version''s (pg_migrate): the DDL ledger counts them as in band and migrate.current_migration() returns it; NULL clears it';

CREATE FUNCTION migrate.chain_link(prev_hash text, action text, version text, checksum text)
RETURNS text
AS 'MODULE_PATHNAME', 'migrate_chain_link_sql'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION migrate.chain_link(text, text, text, text) IS
'the chain hash of a history entry: sha256(prev_hash || version || checksum) for an apply, sha256(prev_hash || action || '' '' || version || checksum) for the other actions, as hex';

CREATE FUNCTION migrate.fingerprint()
RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT migrate.checksum(COALESCE(string_agg(m.version || ' ' || COALESCE(m.checksum, 'baselined'), E'\n'
												ORDER BY m.version_key), ''))
	  FROM migrate.migrations m
	 WHERE m.state IN ('applied', 'baselined')
$$;
COMMENT ON FUNCTION migrate.fingerprint() IS
'SHA-256 of the applied migrations in natural version order (version and checksum; a baseline counts as its version): equal on two databases with the same migrations, whatever order they were applied in';

CREATE FUNCTION migrate.history_check()
RETURNS TABLE(problem text, table_name text, id bigint, version text, detail text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	WITH h AS (
		SELECT h.id, h.action, h.version, h.checksum, h.prev_hash, h.chain_hash,
			   h.chain_hash IS NOT DISTINCT FROM migrate.chain_link(h.prev_hash, h.action, h.version, h.checksum) AS intact
		  FROM migrate.history h
	), c AS (
		SELECT h.*, lag(h.chain_hash) OVER w AS before_hash, lag(h.id) OVER w AS before_id,
			   COALESCE(lag(h.intact) OVER w, true) AS before_intact
		  FROM h WINDOW w AS (ORDER BY h.id)
	), latest AS (
		SELECT DISTINCT ON (h.version) h.version, h.id, h.chain_hash, h.checksum,
			   CASE h.action WHEN 'revert' THEN 'reverted' WHEN 'baseline' THEN 'baselined' ELSE 'applied' END AS state
		  FROM migrate.history h
		 ORDER BY h.version, h.id DESC
	)
	SELECT p.problem, p.table_name, p.id, p.version, p.detail
	  FROM (
		SELECT CASE WHEN c.prev_hash IS NOT DISTINCT FROM c.before_hash THEN 'changed' ELSE 'inserted' END AS problem,
			   'history' AS table_name, c.id, c.version,
			   CASE WHEN c.prev_hash IS NOT DISTINCT FROM c.before_hash
					THEN format('history entry %s (%s %s) does not match its chain hash: its action, version or checksum was changed', c.id, c.action, c.version)
					ELSE format('history entry %s (%s %s) is not chained to the entry before it: it was written behind the extension''s functions', c.id, c.action, c.version)
			   END AS detail
		  FROM c WHERE NOT c.intact
		UNION ALL
		SELECT 'deleted', 'history', c.id, c.version,
			   format('entries before history entry %s are missing: it is chained to %s, which no entry after %s has', c.id,
					  COALESCE(c.prev_hash, 'the start of the history'), COALESCE('entry ' || c.before_id, 'the start'))
		  FROM c WHERE c.intact AND c.before_intact AND c.prev_hash IS DISTINCT FROM c.before_hash
		UNION ALL
		SELECT 'changed', 'migrations', l.id, m.version,
			   format('migrate.migrations says %s is %s with checksum %s (chain %s); its latest history entry %s says %s with checksum %s (chain %s)',
					  m.version, m.state, COALESCE(m.checksum, 'none'), COALESCE(m.chain_hash, 'none'),
					  l.id, l.state, COALESCE(l.checksum, 'none'), l.chain_hash)
		  FROM migrate.migrations m JOIN latest l ON l.version = m.version
		 WHERE (m.state, m.checksum, m.chain_hash) IS DISTINCT FROM (l.state, l.checksum, l.chain_hash)
		UNION ALL
		SELECT 'inserted', 'migrations', NULL, m.version,
			   format('migration %s is in migrate.migrations (%s) but migrate.history has no entry for it', m.version, m.state)
		  FROM migrate.migrations m
		 WHERE NOT EXISTS (SELECT 1 FROM latest l WHERE l.version = m.version)
		UNION ALL
		SELECT 'deleted', 'migrations', l.id, l.version,
			   format('migrate.history says %s is %s (entry %s) but migrate.migrations has no row for it', l.version, l.state, l.id)
		  FROM latest l
		 WHERE NOT EXISTS (SELECT 1 FROM migrate.migrations m WHERE m.version = l.version)
	  ) p
	 ORDER BY p.id NULLS LAST, p.table_name, p.version
$$;
COMMENT ON FUNCTION migrate.history_check() IS
'recomputes the hash chain of migrate.history and replays it against migrate.migrations: one row per entry or row changed, inserted or deleted behind the functions'' back; no rows means the history is intact';

CREATE FUNCTION migrate.history_export()
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT jsonb_build_object(
		'format', 1,
		'database', current_database(),
		'exported_at', clock_timestamp(),
		'fingerprint', migrate.fingerprint(),
		'chain_head', (SELECT h.chain_hash FROM migrate.history h ORDER BY h.id DESC LIMIT 1),
		'migrations', COALESCE((
			SELECT jsonb_agg(jsonb_build_object(
						'version', m.version, 'name', m.name, 'state', m.state, 'checksum', m.checksum,
						'applied_at', m.applied_at, 'out_of_order', m.out_of_order, 'chain_hash', m.chain_hash)
					ORDER BY m.version_key)
			  FROM migrate.migrations m), '[]'::jsonb))
$$;
COMMENT ON FUNCTION migrate.history_export() IS
'the recorded migrations as jsonb (version, name, state, checksum, when, chain hash) with the fingerprint and the head of the hash chain, for migrate.history_compare on another database';

CREATE FUNCTION migrate.history_compare(other jsonb)
RETURNS TABLE(version text, name text, here text, there text, difference text, first_divergence boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF other IS NULL OR jsonb_typeof(other) <> 'object' OR jsonb_typeof(other -> 'migrations') IS DISTINCT FROM 'array'
	   OR EXISTS (SELECT 1 FROM jsonb_array_elements(other -> 'migrations') o
				   WHERE jsonb_typeof(o) <> 'object' OR jsonb_typeof(o -> 'version') IS DISTINCT FROM 'string') THEN
		RAISE EXCEPTION 'other is not a migration history'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'Expected an object with a "migrations" array of objects with a "version", as migrate.history_export() returns.',
				  HINT = 'On the other database: psql -XAt -c "SELECT migrate.history_export()" > other.json; here: SELECT * FROM migrate.history_compare(pg_read_file(...)::jsonb), or pass the text as a parameter.';
	END IF;
	RETURN QUERY
	WITH h AS (
		SELECT m.version, m.name, COALESCE(m.checksum, 'baselined') AS sum
		  FROM migrate.migrations m WHERE m.state IN ('applied', 'baselined')
	), t AS (
		SELECT o ->> 'version' AS version, o ->> 'name' AS name,
			   COALESCE(o ->> 'checksum', 'baselined') AS sum
		  FROM jsonb_array_elements(other -> 'migrations') o
		 WHERE COALESCE(o ->> 'state', 'applied') IN ('applied', 'baselined')
	), j AS (
		SELECT COALESCE(h.version, t.version) AS version, COALESCE(h.name, t.name) AS name,
			   h.sum AS here, t.sum AS there,
			   CASE WHEN h.version IS NULL THEN 'only_there' WHEN t.version IS NULL THEN 'only_here'
					WHEN h.sum <> t.sum THEN 'checksum_differs' ELSE 'same' END AS difference
		  FROM h FULL JOIN t ON t.version = h.version
	), o AS (
		SELECT j.*, migrate.version_key(j.version) AS k FROM j
	)
	SELECT o.version, o.name, o.here, o.there, o.difference,
		   o.difference <> 'same' AND NOT EXISTS (SELECT 1 FROM o o2 WHERE o2.difference <> 'same' AND o2.k < o.k)
	  FROM o
	 ORDER BY o.k;
END
$$;
COMMENT ON FUNCTION migrate.history_compare(jsonb) IS
'compares the applied migrations here with another database''s migrate.history_export(): one row per version in natural order, here and there the checksums, difference only_here, only_there, checksum_differs or same; first_divergence marks the first version that differs';

REVOKE ALL ON FUNCTION migrate.record_applied(text, text, text, text, text, text, text[], double precision, integer, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.lint_gate(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.record_reverted(text, double precision, integer, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.client_migration(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.fingerprint() FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.history_check() FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.history_export() FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.history_compare(jsonb) FROM PUBLIC;

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

CREATE FUNCTION migrate.script_statements(script text)
RETURNS TABLE(statement_no integer, line integer, command text, statement_class text, why text,
			  index_name text, table_name text, statement text)
AS 'MODULE_PATHNAME', 'migrate_script_statements'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION migrate.script_statements(text) IS
'splits a script into statements with PostgreSQL''s parser: text, line, command and class (transactional, non_transactional, transaction_control, unsupported); for CREATE INDEX CONCURRENTLY the index and table names; pg_migrate runs non-transactional files with it';

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
	relid regclass NOT NULL,
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
-- indexes per partition (migrate.new_log_partition creates them for each day),
-- none on the partitioned table: ATTACH PARTITION would clone those under the
-- names pg_dump then restores them with, so a pg_restore failed on them
CREATE INDEX audit_log_default_row_key_idx ON migrate.audit_log_default USING hash (row_key);
CREATE INDEX audit_log_default_relid_id_idx ON migrate.audit_log_default (relid, id);
CREATE INDEX audit_log_default_relid_id_idx1 ON migrate.audit_log_default (relid, id) WHERE operation = 'TRUNCATE';
COMMENT ON TABLE migrate.audit_log IS
'row changes of audited tables, written by migrate.audit_trigger as the extension owner; range-partitioned by logged_at; each partition has a hash index on row_key (history of one row) and a btree on (relid, id) (changes of one table in order)';
COMMENT ON TABLE migrate.audit_log_default IS 'default partition of migrate.audit_log: rows no dated partition covers';
COMMENT ON INDEX migrate.audit_log_default_row_key_idx IS 'history of one row (hash: row keys of any size)';
COMMENT ON INDEX migrate.audit_log_default_relid_id_idx IS 'changes of one table in order';
COMMENT ON INDEX migrate.audit_log_default_relid_id_idx1 IS 'TRUNCATEs of one table (migrate.audit_row_as_of)';
COMMENT ON COLUMN migrate.audit_log.id IS 'order in which changes were logged';
COMMENT ON COLUMN migrate.audit_log.logged_at IS 'when the change was logged (end of its statement)';
COMMENT ON COLUMN migrate.audit_log.txid IS 'top-level transaction id of the change';
COMMENT ON COLUMN migrate.audit_log.statement_at IS 'start time of the statement that made the change';
COMMENT ON COLUMN migrate.audit_log.relid IS 'audited table (the partitioned table for a partition); regclass, so pg_dump writes it by name and a restore points it at the restored table (a dropped table stays a bare OID)';
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
	-- two indexed branches (see audit_row_as_of)
	RETURN QUERY
		SELECT s.* FROM (SELECT l.* FROM migrate.audit_log l
						  WHERE l.row_key OPERATOR(pg_catalog.=) audit_history.row_key
							AND l.relid OPERATOR(pg_catalog.=) tbl
						 UNION ALL
						 SELECT l.* FROM migrate.audit_log l
						  WHERE l.operation OPERATOR(pg_catalog.=) 'TRUNCATE' AND l.row_key IS NULL
							AND l.relid OPERATOR(pg_catalog.=) tbl) s
		 ORDER BY s.id;
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
	-- two branches, each with its index (the row's key: hash on row_key;
	-- TRUNCATEs logged without rows: the partial index on TRUNCATE rows), as
	-- an OR of both would read every change of the table
	FOR r IN SELECT s.operation, s.old_values, s.row_key
			   FROM (SELECT l.id, l.operation, l.old_values, l.row_key
					   FROM migrate.audit_log l
					  WHERE l.row_key OPERATOR(pg_catalog.=) audit_row_as_of.row_key
						AND l.relid OPERATOR(pg_catalog.=) tbl
						AND l.logged_at OPERATOR(pg_catalog.>) audit_row_as_of.at
					 UNION ALL
					 SELECT l.id, l.operation, l.old_values, l.row_key
					   FROM migrate.audit_log l
					  WHERE l.operation OPERATOR(pg_catalog.=) 'TRUNCATE' AND l.row_key IS NULL
						AND l.relid OPERATOR(pg_catalog.=) tbl
						AND l.logged_at OPERATOR(pg_catalog.>) audit_row_as_of.at) s
			  ORDER BY s.id DESC
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
SET "TimeZone" = 'UTC'
AS $$
BEGIN
	IF days IS NULL OR days OPERATOR(pg_catalog.<) 0 OR days OPERATOR(pg_catalog.>) 3660 THEN
		RAISE EXCEPTION 'days must be between 0 and 3660' USING ERRCODE = '22023';
	END IF;
	RETURN pg_catalog.cardinality(migrate.add_partitions('audit_log', CURRENT_DATE, CURRENT_DATE OPERATOR(pg_catalog.+) days));
END
$$;
COMMENT ON FUNCTION migrate.audit_add_partitions(integer) IS
'creates UTC-day partitions of migrate.audit_log from today to today + days (migrate.maintain does this too; inserts never fail: the default partition catches the rest)';

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

--
-- Monitoring events, retention and health views
--
CREATE FUNCTION migrate.severity_rank(severity text)
RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE severity WHEN 'debug' THEN 1 WHEN 'info' THEN 2 WHEN 'notice' THEN 3
						 WHEN 'warning' THEN 4 WHEN 'error' THEN 5 WHEN 'critical' THEN 6 END
$$;
COMMENT ON FUNCTION migrate.severity_rank(text) IS
'order of event severities: debug 1, info 2, notice 3, warning 4, error 5, critical 6 (NULL for anything else)';

CREATE SEQUENCE migrate.events_id_seq;
COMMENT ON SEQUENCE migrate.events_id_seq IS 'ids of migrate.events rows, in the order events were recorded';

CREATE TABLE migrate.events (
	id bigint NOT NULL DEFAULT pg_catalog.nextval('migrate.events_id_seq'),
	logged_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	kind text NOT NULL,
	severity text NOT NULL CONSTRAINT events_severity_check
		CHECK (severity IN ('debug', 'info', 'notice', 'warning', 'error', 'critical')),
	message text,
	details jsonb NOT NULL DEFAULT '{}',
	session_user_name text,
	current_user_name text,
	application_name text,
	client_addr inet,
	pid integer,
	txid xid8,
	migration_version text
) PARTITION BY RANGE (logged_at);
CREATE TABLE migrate.events_default PARTITION OF migrate.events DEFAULT;
-- per partition, as for audit_log (migrate.new_log_partition indexes each leaf)
CREATE INDEX events_default_logged_at_idx ON migrate.events_default (logged_at);
COMMENT ON TABLE migrate.events IS
'monitoring events, written by migrate.record_event as the extension owner; partitioned by UTC day (migrate.maintain creates days ahead), each day by severity class, so retention drops whole partitions';
COMMENT ON TABLE migrate.events_default IS
'default partition of migrate.events: events of days without a partition (migrate.maintain removes expired ones in bounded chunks)';
COMMENT ON INDEX migrate.events_default_logged_at_idx IS 'events by time (time ranges, retention of the default partition); every leaf partition has one';
COMMENT ON COLUMN migrate.events.id IS 'order in which events were recorded';
COMMENT ON COLUMN migrate.events.logged_at IS 'when the event was recorded (clock time)';
COMMENT ON COLUMN migrate.events.kind IS 'what happened, e.g. migration_applied, disk_full, nightly_job';
COMMENT ON COLUMN migrate.events.severity IS 'debug, info, notice, warning, error or critical';
COMMENT ON COLUMN migrate.events.message IS 'human-readable description';
COMMENT ON COLUMN migrate.events.details IS 'structured details (jsonb)';
COMMENT ON COLUMN migrate.events.session_user_name IS 'session user of the recording backend';
COMMENT ON COLUMN migrate.events.current_user_name IS 'current (effective) user when the event was recorded';
COMMENT ON COLUMN migrate.events.application_name IS 'application_name of the recording session';
COMMENT ON COLUMN migrate.events.client_addr IS 'client address of the recording session (NULL for local connections)';
COMMENT ON COLUMN migrate.events.pid IS 'backend pid of the recording session';
COMMENT ON COLUMN migrate.events.txid IS 'transaction that recorded the event (for autonomous events: the caller''s transaction, NULL if it had no transaction id yet)';
COMMENT ON COLUMN migrate.events.migration_version IS 'migration being applied when the event was recorded (migrate.current_migration())';
COMMENT ON CONSTRAINT events_severity_check ON migrate.events IS 'the six severities';
SELECT pg_catalog.pg_extension_config_dump('migrate.events_default', '');
SELECT pg_catalog.pg_extension_config_dump('migrate.events_id_seq', '');
REVOKE ALL ON migrate.events, migrate.events_default FROM PUBLIC;

CREATE TABLE migrate.retention (
	what text NOT NULL CHECK (what IN ('events', 'audit_log')),
	severity text CHECK (severity IN ('debug', 'info', 'notice', 'warning', 'error', 'critical')),
	keep interval CHECK (keep > interval '0'
						 AND EXTRACT(year FROM keep) >= 0 AND EXTRACT(month FROM keep) >= 0
						 AND EXTRACT(day FROM keep) >= 0 AND EXTRACT(hour FROM keep) >= 0
						 AND EXTRACT(minute FROM keep) >= 0 AND EXTRACT(second FROM keep) >= 0),
	updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CHECK (what = 'events' OR severity IS NULL)
);
CREATE UNIQUE INDEX retention_what_severity_idx ON migrate.retention (what, (COALESCE(severity, '')));
INSERT INTO migrate.retention (what, severity, keep) VALUES
	('events', NULL, interval '30 days'),
	('events', 'debug', interval '7 days'),
	('events', 'info', interval '7 days'),
	('events', 'error', interval '90 days'),
	('events', 'critical', interval '90 days'),
	('audit_log', NULL, NULL);
COMMENT ON TABLE migrate.retention IS
'how long migrate.maintain keeps events and audit rows: one row per table (severity NULL: the default) and optional rows per event severity; keep NULL = forever';
COMMENT ON COLUMN migrate.retention.what IS 'events or audit_log';
COMMENT ON COLUMN migrate.retention.severity IS 'event severity this row applies to; NULL: every severity without a row of its own';
COMMENT ON COLUMN migrate.retention.keep IS 'how long rows are kept; NULL keeps them forever';
COMMENT ON COLUMN migrate.retention.updated_at IS 'when the row was inserted (update it yourself when you change keep)';
COMMENT ON INDEX migrate.retention_what_severity_idx IS 'one retention row per table and severity';
SELECT pg_catalog.pg_extension_config_dump('migrate.retention', '');
REVOKE ALL ON migrate.retention FROM PUBLIC;

-- pg_restore loads the saved rows with COPY into the table CREATE EXTENSION
-- filled with the defaults: a COPY of a table and severity that has a row
-- already updates that row (the saved setting wins), so the restore keeps
-- the settings instead of failing on the unique index
CREATE FUNCTION migrate.retention_upsert()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- only for COPY (what pg_restore loads with); an INSERT of a duplicate is an error
	IF pg_catalog.current_query() OPERATOR(pg_catalog.!~*) '^\s*COPY\s' THEN
		RETURN NEW;
	END IF;
	UPDATE migrate.retention r SET keep = NEW.keep, updated_at = NEW.updated_at
	 WHERE r.what OPERATOR(pg_catalog.=) NEW.what
	   AND COALESCE(r.severity, '') OPERATOR(pg_catalog.=) COALESCE(NEW.severity, '');
	IF FOUND THEN
		RETURN NULL;
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION migrate.retention_upsert() IS
'trigger function: a COPY into migrate.retention of a table and severity that has a row updates that row (so pg_restore keeps the saved settings over the installed defaults); an INSERT of a duplicate stays an error';
CREATE TRIGGER retention_upsert BEFORE INSERT ON migrate.retention
	FOR EACH ROW EXECUTE FUNCTION migrate.retention_upsert();
COMMENT ON TRIGGER retention_upsert ON migrate.retention IS
'a COPY of an existing table and severity updates it: pg_restore of the saved settings over the defaults';

-- C: record_event, its autonomous writer and the guard of the logs
CREATE FUNCTION migrate.record_event(kind text, severity text DEFAULT 'info', message text DEFAULT NULL,
									 details jsonb DEFAULT '{}', autonomous boolean DEFAULT false)
RETURNS bigint
AS 'MODULE_PATHNAME', 'migrate_record_event'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION migrate.record_event(text, text, text, jsonb, boolean) IS
'records a monitoring event in migrate.events (and NOTIFY migrate_events at or above migrate.notify_min_severity); autonomous => true writes it in its own transaction through a background worker, so it survives a rollback';
REVOKE ALL ON FUNCTION migrate.record_event(text, text, text, jsonb, boolean) FROM PUBLIC;

CREATE FUNCTION migrate.guard_log()
RETURNS trigger
AS 'MODULE_PATHNAME', 'migrate_guard_log'
LANGUAGE C;
COMMENT ON FUNCTION migrate.guard_log() IS
'trigger function refusing UPDATE, DELETE and TRUNCATE of migrate.events and migrate.audit_log that do not come from the retention functions';
REVOKE ALL ON FUNCTION migrate.guard_log() FROM PUBLIC;

CREATE TRIGGER events_guard BEFORE UPDATE OR DELETE ON migrate.events
	FOR EACH ROW EXECUTE FUNCTION migrate.guard_log();
CREATE TRIGGER events_guard_truncate BEFORE TRUNCATE ON migrate.events
	FOR EACH STATEMENT EXECUTE FUNCTION migrate.guard_log();
CREATE TRIGGER audit_log_guard BEFORE UPDATE OR DELETE ON migrate.audit_log
	FOR EACH ROW EXECUTE FUNCTION migrate.guard_log();
CREATE TRIGGER audit_log_guard_truncate BEFORE TRUNCATE ON migrate.audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION migrate.guard_log();
-- statement triggers are not cloned to partitions: each partition gets its own
-- (add_partitions adds it to the partitions it creates)
CREATE TRIGGER events_guard_truncate BEFORE TRUNCATE ON migrate.events_default
	FOR EACH STATEMENT EXECUTE FUNCTION migrate.guard_log();
CREATE TRIGGER audit_log_guard_truncate BEFORE TRUNCATE ON migrate.audit_log_default
	FOR EACH STATEMENT EXECUTE FUNCTION migrate.guard_log();
COMMENT ON TRIGGER events_guard_truncate ON migrate.events_default IS 'refuses TRUNCATE of the default partition of migrate.events';
COMMENT ON TRIGGER audit_log_guard_truncate ON migrate.audit_log_default IS 'refuses TRUNCATE of the default partition of migrate.audit_log';
-- ENABLE ALWAYS: session_replication_role = replica does not switch them off
ALTER TABLE migrate.events ENABLE ALWAYS TRIGGER events_guard;
ALTER TABLE migrate.events ENABLE ALWAYS TRIGGER events_guard_truncate;
ALTER TABLE migrate.audit_log ENABLE ALWAYS TRIGGER audit_log_guard;
ALTER TABLE migrate.audit_log ENABLE ALWAYS TRIGGER audit_log_guard_truncate;
ALTER TABLE migrate.events_default ENABLE ALWAYS TRIGGER events_guard_truncate;
ALTER TABLE migrate.audit_log_default ENABLE ALWAYS TRIGGER audit_log_guard_truncate;
COMMENT ON TRIGGER events_guard ON migrate.events IS 'events are never changed, and deleted only by retention';
COMMENT ON TRIGGER events_guard_truncate ON migrate.events IS 'refuses TRUNCATE of migrate.events';
COMMENT ON TRIGGER audit_log_guard ON migrate.audit_log IS 'audit rows are never changed, and deleted only by retention';
COMMENT ON TRIGGER audit_log_guard_truncate ON migrate.audit_log IS 'refuses TRUNCATE of migrate.audit_log';

CREATE FUNCTION migrate.retention_delete(part regclass, cutoff timestamptz, severities text[] DEFAULT NULL,
										 max_rows bigint DEFAULT NULL, not_before timestamptz DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'migrate_retention_delete'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION migrate.retention_delete(regclass, timestamptz, text[], bigint, timestamptz) IS
'internal: deletes rows logged before cutoff (and not before not_before; of the given severities) from one partition of migrate.events or migrate.audit_log, in chunks of 5,000 through the logged_at index, at most max_rows; used by maintain, cleanup and add_partitions';
REVOKE ALL ON FUNCTION migrate.retention_delete(regclass, timestamptz, text[], bigint, timestamptz) FROM PUBLIC;

CREATE FUNCTION migrate.retention_truncate(part regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'migrate_retention_truncate'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION migrate.retention_truncate(regclass) IS
'internal: truncates one expired partition of migrate.events or migrate.audit_log (past its guard); used by maintain and cleanup when a partition cannot be dropped';
REVOKE ALL ON FUNCTION migrate.retention_truncate(regclass) FROM PUBLIC;

-- effective retention of each event severity
CREATE FUNCTION migrate.event_retention()
RETURNS TABLE(severity text, keep interval)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT s.severity,
		   CASE WHEN EXISTS (SELECT 1 FROM migrate.retention r
							  WHERE r.what OPERATOR(pg_catalog.=) 'events'
								AND r.severity OPERATOR(pg_catalog.=) s.severity)
				THEN (SELECT r.keep FROM migrate.retention r
					   WHERE r.what OPERATOR(pg_catalog.=) 'events'
						 AND r.severity OPERATOR(pg_catalog.=) s.severity)
				ELSE (SELECT r.keep FROM migrate.retention r
					   WHERE r.what OPERATOR(pg_catalog.=) 'events' AND r.severity IS NULL)
		   END
	  FROM pg_catalog.unnest(ARRAY['debug', 'info', 'notice', 'warning', 'error', 'critical'])
		   WITH ORDINALITY AS s(severity, n)
	 ORDER BY s.n
$$;
COMMENT ON FUNCTION migrate.event_retention() IS
'how long events of each severity are kept, from migrate.retention (NULL = forever)';

-- a new, detached day partition of events (LIST-partitioned by retention class) or
-- audit_log, with its indexes (the partitioned tables have none: see audit_log)
CREATE FUNCTION migrate.new_log_partition(what text, name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cls record;
BEGIN
	IF what OPERATOR(pg_catalog.=) 'events' THEN
		EXECUTE pg_catalog.format('CREATE TABLE migrate.%I (LIKE migrate.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY LIST (severity)', name);
		-- one leaf per retention class, so expiry drops whole leaves
		FOR cls IN SELECT pg_catalog.array_agg(r.severity ORDER BY migrate.severity_rank(r.severity)) AS sevs
					 FROM migrate.event_retention() r
					GROUP BY r.keep
					ORDER BY pg_catalog.min(migrate.severity_rank(r.severity)) LOOP
			EXECUTE pg_catalog.format('CREATE TABLE migrate.%I PARTITION OF migrate.%I FOR VALUES IN (%s)',
									  name OPERATOR(pg_catalog.||) '_' OPERATOR(pg_catalog.||) cls.sevs[1], name,
									  (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(s), ', ') FROM pg_catalog.unnest(cls.sevs) s));
			EXECUTE pg_catalog.format('CREATE INDEX ON migrate.%I (logged_at)',
									  name OPERATOR(pg_catalog.||) '_' OPERATOR(pg_catalog.||) cls.sevs[1]);
			EXECUTE pg_catalog.format('CREATE TRIGGER %I BEFORE TRUNCATE ON migrate.%I FOR EACH STATEMENT EXECUTE FUNCTION migrate.guard_log()',
									  'events_guard_truncate', name OPERATOR(pg_catalog.||) '_' OPERATOR(pg_catalog.||) cls.sevs[1]);
			EXECUTE pg_catalog.format('ALTER TABLE migrate.%I ENABLE ALWAYS TRIGGER events_guard_truncate',
									  name OPERATOR(pg_catalog.||) '_' OPERATOR(pg_catalog.||) cls.sevs[1]);
		END LOOP;
	ELSE
		EXECUTE pg_catalog.format('CREATE TABLE migrate.%I (LIKE migrate.audit_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
		EXECUTE pg_catalog.format('CREATE INDEX ON migrate.%I USING hash (row_key)', name);
		EXECUTE pg_catalog.format('CREATE INDEX ON migrate.%I (relid, id)', name);
		EXECUTE pg_catalog.format('CREATE INDEX ON migrate.%I (relid, id) WHERE operation OPERATOR(pg_catalog.=) ''TRUNCATE''', name);
	END IF;
	-- statement triggers are not cloned to partitions: TRUNCATE needs its own guard
	EXECUTE pg_catalog.format('CREATE TRIGGER %I BEFORE TRUNCATE ON migrate.%I FOR EACH STATEMENT EXECUTE FUNCTION migrate.guard_log()',
							  what OPERATOR(pg_catalog.||) '_guard_truncate', name);
	EXECUTE pg_catalog.format('ALTER TABLE migrate.%I ENABLE ALWAYS TRIGGER %I', name, what OPERATOR(pg_catalog.||) '_guard_truncate');
END
$$;
COMMENT ON FUNCTION migrate.new_log_partition(text, text) IS
'internal: creates a detached day partition for migrate.events (sub-partitioned by retention class) or migrate.audit_log, with the indexes of each leaf and its TRUNCATE guard';
REVOKE ALL ON FUNCTION migrate.new_log_partition(text, text) FROM PUBLIC;

-- UTC day partitions: created detached, then attached
CREATE FUNCTION migrate.add_partitions(what text, first_day date, last_day date)
RETURNS text[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET "DateStyle" = 'ISO, YMD'
SET "TimeZone" = 'UTC'
AS $$
DECLARE
	d date;
	name text;
	dflt text;
	lo timestamptz;
	hi timestamptz;
	n bigint;
	move_limit bigint := COALESCE(pg_catalog.current_setting('migrate.maintain_delete_limit', true), '100000')::bigint;
	created text[] := '{}';
BEGIN
	IF what IS NULL OR what NOT IN ('events', 'audit_log') THEN
		RAISE EXCEPTION 'what must be events or audit_log, not %', COALESCE(pg_catalog.quote_literal(what), 'NULL')
			USING ERRCODE = '22023';
	END IF;
	IF first_day IS NULL OR last_day IS NULL OR (last_day OPERATOR(pg_catalog.-) first_day) OPERATOR(pg_catalog.>) 3660 THEN
		RAISE EXCEPTION 'first_day and last_day must be given and at most 3660 days apart'
			USING ERRCODE = '22023';
	END IF;
	dflt := what OPERATOR(pg_catalog.||) '_default';
	d := first_day;
	WHILE d OPERATOR(pg_catalog.<=) last_day LOOP
		name := what OPERATOR(pg_catalog.||) '_p' OPERATOR(pg_catalog.||) pg_catalog.to_char(d, 'YYYYMMDD');
		lo := d::timestamp AT TIME ZONE 'UTC';
		hi := (d OPERATOR(pg_catalog.+) 1)::timestamp AT TIME ZONE 'UTC';
		IF EXISTS (SELECT 1 FROM pg_catalog.pg_class c
					WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('migrate.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(name))
					  AND NOT c.relispartition) THEN
			-- that day was expired and detached by maintain: its table goes first
			IF EXISTS (SELECT 1 FROM pg_catalog.pg_depend dp
						WHERE dp.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::regclass
						  AND dp.objid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('migrate.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(name))
						  AND dp.deptype OPERATOR(pg_catalog.=) 'e') THEN
				EXECUTE pg_catalog.format('ALTER EXTENSION migrate_ext DROP TABLE migrate.%I', name);
			END IF;
			EXECUTE pg_catalog.format('DROP TABLE migrate.%I', name);
		END IF;
		IF pg_catalog.to_regclass('migrate.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(name)) IS NULL THEN
			BEGIN
				-- ATTACH takes only SHARE UPDATE EXCLUSIVE on the parent, so writers
				-- of other partitions go on (and ACCESS EXCLUSIVE on the default
				-- partition, normally empty, until the transaction ends)
				PERFORM migrate.new_log_partition(what, name);
				EXECUTE pg_catalog.format('ALTER TABLE migrate.%I ATTACH PARTITION migrate.%I FOR VALUES FROM (%L) TO (%L)',
										  what, name, lo, hi);
				created := created OPERATOR(pg_catalog.||) ('migrate.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(name));
			EXCEPTION WHEN invalid_object_definition THEN
				-- a partition made by hand already covers (part of) that day
				RAISE NOTICE 'partition migrate.% not created: %', name, SQLERRM
					USING HINT = 'Rows of that day go to the partition that covers it.';
			WHEN lock_not_available THEN
				-- ATTACH also locks the default partition (ACCESS EXCLUSIVE): a
				-- session reading migrate.events or writing to the default
				-- partition holds it up; leave the day to a later run
				RAISE NOTICE 'partition migrate.% not created: migrate.% or its default partition is in use (lock_timeout)', name, what
					USING HINT = 'A later migrate.maintain retries; until then rows of that day go to the default partition.';
			WHEN check_violation THEN
				-- rows of that day already went to the default partition (e.g.
				-- before the first maintain): move them into the new partition,
				-- holding back only inserts that go to the default partition
				BEGIN
					EXECUTE pg_catalog.format('LOCK TABLE migrate.%I IN SHARE ROW EXCLUSIVE MODE', dflt);
					EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM migrate.%I WHERE logged_at OPERATOR(pg_catalog.>=) $1 AND logged_at OPERATOR(pg_catalog.<) $2', dflt)
						INTO n USING lo, hi;
					IF n OPERATOR(pg_catalog.>) move_limit THEN
						RAISE NOTICE 'partition migrate.% not created: the default partition holds % rows of %, more than migrate.maintain_delete_limit (%)',
							name, n, d, move_limit
							USING HINT = 'Raise migrate.maintain_delete_limit for one run of migrate.maintain, or leave them: they expire from the default partition.';
					ELSE
						PERFORM migrate.new_log_partition(what, name);
						EXECUTE pg_catalog.format('INSERT INTO migrate.%I SELECT * FROM migrate.%I WHERE logged_at OPERATOR(pg_catalog.>=) $1 AND logged_at OPERATOR(pg_catalog.<) $2',
												  name, dflt) USING lo, hi;
						PERFORM migrate.retention_delete(('migrate.' OPERATOR(pg_catalog.||) dflt)::regclass, hi, NULL, NULL, lo);
						EXECUTE pg_catalog.format('ALTER TABLE migrate.%I ATTACH PARTITION migrate.%I FOR VALUES FROM (%L) TO (%L)',
												  what, name, lo, hi);
						created := created OPERATOR(pg_catalog.||) ('migrate.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(name));
						RAISE NOTICE 'partition migrate.% created with % rows moved from the default partition', name, n;
					END IF;
				EXCEPTION WHEN lock_not_available OR check_violation THEN
					-- busy, or (REPEATABLE READ) rows committed since this snapshot
					RAISE NOTICE 'partition migrate.% not created: the default partition holds rows of % and is busy', name, d
						USING HINT = 'A later migrate.maintain retries.';
				END;
			END;
		END IF;
		d := d OPERATOR(pg_catalog.+) 1;
	END LOOP;
	RETURN created;
END
$$;
COMMENT ON FUNCTION migrate.add_partitions(text, date, date) IS
'creates the missing UTC-day partitions of migrate.events or migrate.audit_log from first_day to last_day (created detached and attached, so writers are not blocked; rows of such a day already in the default partition are moved in); returns their names';
REVOKE ALL ON FUNCTION migrate.add_partitions(text, date, date) FROM PUBLIC;

-- one partition of events or audit_log, with its bounds and (events) severities
CREATE FUNCTION migrate.log_partitions(what text)
RETURNS TABLE(day_partition regclass, leaf regclass, is_default boolean, lower_bound timestamptz,
			  upper_bound timestamptz, severities text[])
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET "DateStyle" = 'ISO, YMD'
SET "TimeZone" = 'UTC'
AS $$
	WITH days AS (
		SELECT c.oid, c.relkind, pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bound
		  FROM pg_catalog.pg_inherits i
		  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.inhrelid
		 WHERE i.inhparent OPERATOR(pg_catalog.=) pg_catalog.to_regclass('migrate.' OPERATOR(pg_catalog.||) what)
	), days_b AS (
		SELECT d.oid, d.relkind, d.bound OPERATOR(pg_catalog.=) 'DEFAULT' AS is_default,
			   (pg_catalog.regexp_match(d.bound, 'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)')) AS b
		  FROM days d
	)
	SELECT d.oid::regclass, COALESCE(l.oid, d.oid)::regclass, d.is_default,
		   d.b[1]::timestamptz, d.b[2]::timestamptz,
		   CASE WHEN l.oid IS NOT NULL
				THEN ARRAY(SELECT m[1] FROM pg_catalog.regexp_matches(pg_catalog.pg_get_expr(l.relpartbound, l.oid), '''([a-z]+)''', 'g') m) END
	  FROM days_b d
	  LEFT JOIN LATERAL (
		SELECT c.oid, c.relpartbound
		  FROM pg_catalog.pg_inherits i
		  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.inhrelid
		 WHERE i.inhparent OPERATOR(pg_catalog.=) d.oid AND d.relkind OPERATOR(pg_catalog.=) 'p') l ON true
	 ORDER BY d.b[1] NULLS FIRST, 2
$$;
COMMENT ON FUNCTION migrate.log_partitions(text) IS
'partitions of migrate.events or migrate.audit_log with their UTC bounds (and, for events, the severities of each leaf)';

-- drop one expired partition; when its parent is busy, empty it instead
CREATE FUNCTION migrate.remove_log_partition(part regclass, detach boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	name text := part::text;
	parent regclass;
BEGIN
	IF detach THEN
		-- a whole day of the log: DETACH changes only the catalog, so the
		-- ACCESS EXCLUSIVE lock on migrate.events (bounded by lock_timeout) is
		-- held for a moment; the files are removed by a later run, which drops
		-- the detached table without locking migrate.events
		SELECT i.inhparent::regclass INTO parent FROM pg_catalog.pg_inherits i
		 WHERE i.inhrelid OPERATOR(pg_catalog.=) part;
		BEGIN
			EXECUTE pg_catalog.format('ALTER TABLE %s DETACH PARTITION %s', parent, name);
			-- a member of the extension until it is dropped, so DROP EXTENSION
			-- takes it along (and pg_dump leaves the expired rows out)
			IF EXISTS (SELECT 1 FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'migrate_ext') THEN
				EXECUTE pg_catalog.format('ALTER EXTENSION migrate_ext ADD TABLE %s', name);
			END IF;
			RETURN 'detached';
		EXCEPTION WHEN lock_not_available THEN
			NULL;
		END;
	ELSE
		BEGIN
			-- a leaf of an ended day: the lock is on that day's table, which no writer uses
			EXECUTE pg_catalog.format('DROP TABLE %s', name);
			RETURN 'dropped';
		EXCEPTION WHEN lock_not_available OR dependent_objects_still_exist THEN
			-- busy, or something (a view made by hand) depends on it: empty it
			NULL;
		END;
	END IF;
	BEGIN
		-- TRUNCATE locks only the expired partition, which no current writer uses;
		-- the empty partition is removed by a later run
		PERFORM migrate.retention_truncate(part);
		RETURN 'truncated';
	EXCEPTION WHEN lock_not_available THEN
		RETURN 'deferred';
	END;
END
$$;
COMMENT ON FUNCTION migrate.remove_log_partition(regclass, boolean) IS
'internal: removes an expired partition of migrate.events or migrate.audit_log: detaches it (detach => true, for a whole day: its files are removed by a later run) or drops it; truncates it when the parent cannot be locked within lock_timeout; returns detached, dropped, truncated or deferred';
REVOKE ALL ON FUNCTION migrate.remove_log_partition(regclass, boolean) FROM PUBLIC;

-- drop day tables detached by earlier runs (their files are removed at this commit)
CREATE FUNCTION migrate.drop_detached_partitions()
RETURNS text[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t record;
	freed text[] := '{}';
BEGIN
	FOR t IN SELECT c.oid::regclass AS rel, c.oid::regclass::text AS name
			   FROM pg_catalog.pg_class c
			  WHERE c.relnamespace OPERATOR(pg_catalog.=) 'migrate'::regnamespace
				AND c.relkind IN ('r', 'p') AND NOT c.relispartition
				AND c.relname OPERATOR(pg_catalog.~) '^(events|audit_log)_p[0-9]{8}$'
			  ORDER BY c.relname LOOP
		BEGIN
			IF EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
						WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::regclass
						  AND d.objid OPERATOR(pg_catalog.=) t.rel AND d.deptype OPERATOR(pg_catalog.=) 'e') THEN
				EXECUTE pg_catalog.format('ALTER EXTENSION migrate_ext DROP TABLE %s', t.rel);
			END IF;
			EXECUTE pg_catalog.format('DROP TABLE %s', t.rel);
			freed := freed OPERATOR(pg_catalog.||) t.name;
		EXCEPTION WHEN lock_not_available OR dependent_objects_still_exist THEN
			RAISE NOTICE 'detached partition % not dropped yet: %', t.name, SQLERRM;
		END;
	END LOOP;
	RETURN freed;
END
$$;
COMMENT ON FUNCTION migrate.drop_detached_partitions() IS
'internal: drops the expired day tables migrate.maintain detached in earlier runs (their storage is freed at this commit, with no lock on migrate.events)';
REVOKE ALL ON FUNCTION migrate.drop_detached_partitions() FROM PUBLIC;

CREATE FUNCTION migrate.maintain()
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET "DateStyle" = 'ISO, YMD'
SET "TimeZone" = 'UTC'
AS $$
DECLARE
	started timestamptz := pg_catalog.clock_timestamp();
	today date := CURRENT_DATE;
	-- the settings are defined when the library loads; before that, only a
	-- value set with SET / ALTER ... SET exists (or none: the default)
	ahead integer := COALESCE(pg_catalog.current_setting('migrate.premake_days', true), '7')::integer;
	budget bigint := COALESCE(pg_catalog.current_setting('migrate.maintain_delete_limit', true), '100000')::bigint;
	maintain_lock_timeout text := COALESCE(NULLIF(pg_catalog.current_setting('migrate.maintain_lock_timeout', true), ''), '100ms');
	old_lock_timeout text := pg_catalog.current_setting('lock_timeout');
	created text[] := '{}';
	detached text[] := '{}';
	freed text[] := '{}';
	dropped text[] := '{}';
	truncated text[] := '{}';
	deferred text[] := '{}';
	deleted bigint := 0;
	n bigint;
	d record;
	l record;
	r record;
	last_day oid;
	nm text;
	outcome text;
	audit_keep interval;
	result jsonb;
BEGIN
	IF pg_catalog.pg_is_in_recovery() THEN
		RAISE EXCEPTION 'cannot run migrate.maintain on a server in recovery'
			USING ERRCODE = '25006', DETAIL = 'The server is a read-only hot standby.', HINT = 'Run migrate.maintain on the primary.';
	END IF;
	IF NOT pg_catalog.pg_try_advisory_xact_lock(1835624306, 2) THEN
		RAISE NOTICE 'migrate.maintain is already running in another session; skipped';
		RETURN pg_catalog.jsonb_build_object('skipped', true, 'reason', 'another migrate.maintain or migrate.cleanup is running');
	END IF;
	PERFORM pg_catalog.set_config('lock_timeout', maintain_lock_timeout, true);

	-- 2. expired events: whole days, whole leaves, or (a leaf mixing severities
	--    of different retention) a bounded delete of the expired severities;
	--    one pass over the partitions of the days that have ended
	last_day := NULL;
	FOR l IN WITH ret AS (SELECT e.severity, e.keep FROM migrate.event_retention() e),
				  leaves AS (
					SELECT p.day_partition, p.upper_bound, p.leaf,
						   -- a partition made by hand, not split by severity, holds all six
						   COALESCE(p.severities, ARRAY['debug', 'info', 'notice', 'warning', 'error', 'critical']) AS severities,
						   ARRAY(SELECT rt.severity FROM ret rt
								  WHERE rt.severity OPERATOR(pg_catalog.=) ANY (COALESCE(p.severities, ARRAY['debug', 'info', 'notice', 'warning', 'error', 'critical'])) AND rt.keep IS NOT NULL
									AND p.upper_bound OPERATOR(pg_catalog.<=) (pg_catalog.now() OPERATOR(pg_catalog.-) rt.keep)) AS expired
					  FROM migrate.log_partitions('events') p
					 WHERE NOT p.is_default AND p.upper_bound OPERATOR(pg_catalog.<=) pg_catalog.now())
			 SELECT v.day_partition, v.day_partition::text AS day_name, v.leaf, v.leaf::text AS leaf_name,
					v.severities, v.expired, v.upper_bound,
					v.severities IS NOT NULL
					AND pg_catalog.cardinality(v.expired) OPERATOR(pg_catalog.=) pg_catalog.cardinality(v.severities) AS leaf_expired,
					pg_catalog.bool_and(v.severities IS NOT NULL
										AND pg_catalog.cardinality(v.expired) OPERATOR(pg_catalog.=) pg_catalog.cardinality(v.severities))
						OVER (PARTITION BY v.day_partition) AS day_expired
			   FROM leaves v
			  ORDER BY v.upper_bound, v.leaf LOOP
		IF l.day_expired THEN
			-- the whole day at once (once per day)
			CONTINUE WHEN last_day IS NOT DISTINCT FROM l.day_partition::oid;
			last_day := l.day_partition::oid;
			nm := l.day_name;
			outcome := migrate.remove_log_partition(l.day_partition, true);
		ELSIF l.leaf_expired THEN
			nm := l.leaf_name;
			outcome := migrate.remove_log_partition(l.leaf);
		ELSE
			IF pg_catalog.cardinality(l.expired) OPERATOR(pg_catalog.>) 0 AND budget OPERATOR(pg_catalog.>) deleted THEN
				deleted := deleted OPERATOR(pg_catalog.+)
					migrate.retention_delete(l.leaf, l.upper_bound, l.expired, budget OPERATOR(pg_catalog.-) deleted);
			END IF;
			CONTINUE;
		END IF;
		CASE outcome
			WHEN 'detached' THEN detached := detached OPERATOR(pg_catalog.||) nm;
			WHEN 'dropped' THEN dropped := dropped OPERATOR(pg_catalog.||) nm;
			WHEN 'truncated' THEN truncated := truncated OPERATOR(pg_catalog.||) nm;
			ELSE deferred := deferred OPERATOR(pg_catalog.||) nm;
		END CASE;
	END LOOP;

	-- 3. expired events in the default partition: bounded, index-driven deletes
	FOR r IN SELECT e.severity, e.keep FROM migrate.event_retention() e WHERE e.keep IS NOT NULL LOOP
		EXIT WHEN deleted OPERATOR(pg_catalog.>=) budget;
		deleted := deleted OPERATOR(pg_catalog.+)
			migrate.retention_delete('migrate.events_default', pg_catalog.now() OPERATOR(pg_catalog.-) r.keep,
									 ARRAY[r.severity], budget OPERATOR(pg_catalog.-) deleted);
	END LOOP;

	-- 4. the audit log (kept forever unless migrate.retention says otherwise)
	SELECT rt.keep INTO audit_keep FROM migrate.retention rt
	 WHERE rt.what OPERATOR(pg_catalog.=) 'audit_log' AND rt.severity IS NULL;
	IF audit_keep IS NOT NULL THEN
		FOR d IN SELECT p.day_partition, p.day_partition::text AS name FROM migrate.log_partitions('audit_log') p
				  WHERE NOT p.is_default
					AND p.upper_bound OPERATOR(pg_catalog.<=) (pg_catalog.now() OPERATOR(pg_catalog.-) audit_keep) LOOP
			outcome := migrate.remove_log_partition(d.day_partition, true);
			CASE outcome
				WHEN 'detached' THEN detached := detached OPERATOR(pg_catalog.||) d.name;
				WHEN 'dropped' THEN dropped := dropped OPERATOR(pg_catalog.||) d.name;
				WHEN 'truncated' THEN truncated := truncated OPERATOR(pg_catalog.||) d.name;
				ELSE deferred := deferred OPERATOR(pg_catalog.||) d.name;
			END CASE;
		END LOOP;
		IF deleted OPERATOR(pg_catalog.<) budget THEN
			deleted := deleted OPERATOR(pg_catalog.+)
				migrate.retention_delete('migrate.audit_log_default', pg_catalog.now() OPERATOR(pg_catalog.-) audit_keep,
										 NULL, budget OPERATOR(pg_catalog.-) deleted);
		END IF;
	END IF;

	-- 5. the days detached by earlier runs are dropped now, unless this run
	--    detached one: its lock on migrate.events would then be held while
	--    the files are removed at commit
	IF pg_catalog.cardinality(detached) OPERATOR(pg_catalog.=) 0 THEN
		freed := migrate.drop_detached_partitions();
	END IF;

	-- 6. partitions ahead, last: ATTACH locks the default partition until
	--    commit, so it is taken after the waits of the drops, not before
	created := migrate.add_partitions('events', today, today OPERATOR(pg_catalog.+) ahead)
		OPERATOR(pg_catalog.||) migrate.add_partitions('audit_log', today, today OPERATOR(pg_catalog.+) ahead);

	PERFORM pg_catalog.set_config('lock_timeout', old_lock_timeout, true);
	result := pg_catalog.jsonb_build_object(
		'created_partitions', pg_catalog.to_jsonb(created),
		'detached_partitions', pg_catalog.to_jsonb(detached),
		'freed_partitions', pg_catalog.to_jsonb(freed),
		'dropped_partitions', pg_catalog.to_jsonb(dropped),
		'truncated_partitions', pg_catalog.to_jsonb(truncated),
		'deferred_partitions', pg_catalog.to_jsonb(deferred),
		'deleted_rows', deleted,
		'delete_limit_reached', budget OPERATOR(pg_catalog.>) 0 AND deleted OPERATOR(pg_catalog.>=) budget,
		'duration_ms', pg_catalog.round((EXTRACT(epoch FROM pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) started) OPERATOR(pg_catalog.*) 1000)::numeric, 1));
	IF pg_catalog.cardinality(created) OPERATOR(pg_catalog.>) 0 OR pg_catalog.cardinality(dropped) OPERATOR(pg_catalog.>) 0
	   OR pg_catalog.cardinality(detached) OPERATOR(pg_catalog.>) 0 OR pg_catalog.cardinality(freed) OPERATOR(pg_catalog.>) 0
	   OR pg_catalog.cardinality(truncated) OPERATOR(pg_catalog.>) 0 OR deleted OPERATOR(pg_catalog.>) 0 THEN
		PERFORM migrate.record_event('maintenance', 'info', 'migrate.maintain removed expired rows or created partitions', result);
	END IF;
	IF pg_catalog.cardinality(deferred) OPERATOR(pg_catalog.>) 0 THEN
		PERFORM migrate.record_event('maintenance_deferred', 'warning',
									 'migrate.maintain could not lock expired partitions within migrate.maintain_lock_timeout; a later run retries',
									 pg_catalog.jsonb_build_object('partitions', pg_catalog.to_jsonb(deferred)));
	END IF;
	RETURN result;
END
$$;
COMMENT ON FUNCTION migrate.maintain() IS
'creates partitions of migrate.events and migrate.audit_log ahead (migrate.premake_days) and removes expired ones per migrate.retention by dropping or truncating whole partitions; never waits longer than migrate.maintain_lock_timeout for a lock; returns what it did';
REVOKE ALL ON FUNCTION migrate.maintain() FROM PUBLIC;

CREATE FUNCTION migrate.cleanup(older_than interval, include_audit_log boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET "DateStyle" = 'ISO, YMD'
SET "TimeZone" = 'UTC'
AS $$
DECLARE
	started timestamptz := pg_catalog.clock_timestamp();
	cutoff timestamptz;
	old_lock_timeout text := pg_catalog.current_setting('lock_timeout');
	dropped text[] := '{}';
	truncated text[] := '{}';
	deferred text[] := '{}';
	deleted bigint := 0;
	done oid[] := '{}';
	p record;
	outcome text;
	result jsonb;
BEGIN
	IF older_than IS NULL OR older_than OPERATOR(pg_catalog.<) interval '0' THEN
		RAISE EXCEPTION 'older_than must be a non-negative interval'
			USING ERRCODE = '22023', HINT = 'E.g. SELECT migrate.cleanup(''30 days'').';
	END IF;
	IF pg_catalog.pg_is_in_recovery() THEN
		RAISE EXCEPTION 'cannot run migrate.cleanup on a server in recovery'
			USING ERRCODE = '25006', DETAIL = 'The server is a read-only hot standby.', HINT = 'Run migrate.cleanup on the primary.';
	END IF;
	cutoff := pg_catalog.now() OPERATOR(pg_catalog.-) older_than;
	-- waits for a running migrate.maintain instead of skipping: cleanup is asked for now
	PERFORM pg_catalog.pg_advisory_xact_lock(1835624306, 2);
	PERFORM pg_catalog.set_config('lock_timeout',
								  COALESCE(NULLIF(pg_catalog.current_setting('migrate.maintain_lock_timeout', true), ''), '100ms'), true);
	FOR p IN SELECT x.day_partition::oid AS day_oid, x.day_partition::text AS name, x.*
			   FROM migrate.log_partitions('events') x
			 UNION ALL
			 SELECT y.day_partition::oid, y.day_partition::text, y.* FROM migrate.log_partitions('audit_log') y
			  WHERE COALESCE(include_audit_log, false) LOOP
		IF NOT p.is_default AND p.upper_bound OPERATOR(pg_catalog.<=) cutoff THEN
			CONTINUE WHEN p.day_oid OPERATOR(pg_catalog.=) ANY (done);
			done := done OPERATOR(pg_catalog.||) p.day_oid;
			outcome := migrate.remove_log_partition(p.day_partition);
			CASE outcome
				WHEN 'dropped' THEN dropped := dropped OPERATOR(pg_catalog.||) p.name;
				WHEN 'truncated' THEN truncated := truncated OPERATOR(pg_catalog.||) p.name;
				ELSE deferred := deferred OPERATOR(pg_catalog.||) p.name;
			END CASE;
		ELSIF p.is_default OR p.lower_bound OPERATOR(pg_catalog.<) cutoff THEN
			deleted := deleted OPERATOR(pg_catalog.+) migrate.retention_delete(p.leaf, cutoff, NULL, NULL);
		END IF;
	END LOOP;
	-- day tables detached by maintain are expired data: gone now too
	dropped := dropped OPERATOR(pg_catalog.||) migrate.drop_detached_partitions();
	PERFORM pg_catalog.set_config('lock_timeout', old_lock_timeout, true);
	result := pg_catalog.jsonb_build_object(
		'cutoff', cutoff,
		'include_audit_log', COALESCE(include_audit_log, false),
		'dropped_partitions', pg_catalog.to_jsonb(dropped),
		'truncated_partitions', pg_catalog.to_jsonb(truncated),
		'deferred_partitions', pg_catalog.to_jsonb(deferred),
		'deleted_rows', deleted,
		'duration_ms', pg_catalog.round((EXTRACT(epoch FROM pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) started) OPERATOR(pg_catalog.*) 1000)::numeric, 1));
	PERFORM migrate.record_event('cleanup', CASE WHEN include_audit_log THEN 'warning' ELSE 'notice' END,
								 pg_catalog.format('migrate.cleanup removed events%s older than %s',
												   CASE WHEN include_audit_log THEN ' and audit rows' ELSE '' END, older_than), result);
	RETURN result;
END
$$;
COMMENT ON FUNCTION migrate.cleanup(interval, boolean) IS
'removes every event (and with include_audit_log every audit row) older than older_than now: whole partitions dropped (or truncated), the rest deleted through the logged_at index; returns what it did';
REVOKE ALL ON FUNCTION migrate.cleanup(interval, boolean) FROM PUBLIC;

--
-- Monitoring: slow queries, connections, table health, row-level security, summary
--

-- slow statements from pg_stat_statements when it is installed and readable,
-- else the statements running now (pg_stat_activity)
CREATE FUNCTION migrate.slow_query_rows()
RETURNS TABLE(source text, queryid bigint, query text, user_name text, database_name text, calls bigint,
			  total_ms double precision, mean_ms double precision, max_ms double precision, rows bigint,
			  pid integer, state text, running_ms double precision)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- migrate.slow_query_ms has unit ms, so current_setting shows it as e.g. 100ms, 2s or 1min;
	-- a placeholder set before the module was loaded shows the bare number of ms
	raw text := pg_catalog.current_setting('migrate.slow_query_ms', true);
	threshold interval;
	threshold_ms double precision;
	pgss_schema name;
	suffix text;
BEGIN
	IF raw IS NULL OR pg_catalog.btrim(raw) OPERATOR(pg_catalog.=) '' THEN
		raw := '100';
	END IF;
	IF raw OPERATOR(pg_catalog.~) '^\s*[0-9]+(\.[0-9]+)?\s*$' THEN
		threshold := pg_catalog.make_interval(secs => raw::double precision OPERATOR(pg_catalog./) 1000);
	ELSE
		BEGIN
			threshold := raw::interval;
		EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
			threshold := interval '100 ms';
		END;
	END IF;
	threshold_ms := EXTRACT(epoch FROM threshold)::double precision OPERATOR(pg_catalog.*) 1000;

	SELECT n.nspname INTO pgss_schema
	  FROM pg_catalog.pg_extension e
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
	 WHERE e.extname OPERATOR(pg_catalog.=) 'pg_stat_statements';
	IF pgss_schema IS NOT NULL THEN
		BEGIN
			-- pg_stat_statements 1.8 (PostgreSQL 13) renamed *_time to *_exec_time;
			-- a cluster upgraded without ALTER EXTENSION UPDATE still has the old names
			suffix := CASE WHEN EXISTS (
							SELECT 1 FROM pg_catalog.pg_attribute a
							 WHERE a.attrelid OPERATOR(pg_catalog.=)
								   pg_catalog.to_regclass(pg_catalog.format('%I.pg_stat_statements', pgss_schema))
							   AND a.attname OPERATOR(pg_catalog.=) 'mean_exec_time'
							   AND NOT a.attisdropped)
						   THEN '_exec_time' ELSE '_time' END;
			RETURN QUERY EXECUTE pg_catalog.format($q$
				SELECT 'pg_stat_statements'::pg_catalog.text, s.queryid, s.query,
					   r.rolname::pg_catalog.text, d.datname::pg_catalog.text,
					   s.calls, s.total%2$s, s.mean%2$s, s.max%2$s, s.rows,
					   NULL::pg_catalog.int4, NULL::pg_catalog.text, NULL::pg_catalog.float8
				  FROM %1$I.pg_stat_statements s
				  LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) s.userid
				  LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) s.dbid
				 WHERE s.mean%2$s OPERATOR(pg_catalog.>=) $1
				 ORDER BY s.mean%2$s DESC, s.queryid$q$, pgss_schema, suffix)
				USING threshold_ms;
			RETURN;
		EXCEPTION WHEN OTHERS THEN
			-- e.g. not in shared_preload_libraries (55000), or no privilege on its schema (42501)
			RAISE DEBUG 'migrate.slow_query_rows: pg_stat_statements not usable (%: %), using pg_stat_activity',
				SQLSTATE, SQLERRM;
		END;
	END IF;

	RETURN QUERY
		SELECT 'pg_stat_activity'::pg_catalog.text,
			   -- query_id exists from PostgreSQL 14 on
			   (pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.->>) 'query_id')::pg_catalog.int8,
			   a.query, a.usename::pg_catalog.text, a.datname::pg_catalog.text,
			   NULL::pg_catalog.int8, NULL::pg_catalog.float8, NULL::pg_catalog.float8, NULL::pg_catalog.float8,
			   NULL::pg_catalog.int8,
			   a.pid, a.state,
			   (EXTRACT(epoch FROM pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) a.query_start)::pg_catalog.float8
				   OPERATOR(pg_catalog.*) 1000)
		  FROM pg_catalog.pg_stat_activity a
		 WHERE a.backend_type OPERATOR(pg_catalog.=) 'client backend'
		   AND a.state OPERATOR(pg_catalog.<>) 'idle'
		   AND a.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
		   AND a.query_start IS NOT NULL
		   AND (pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) a.query_start) OPERATOR(pg_catalog.>=) threshold
		 ORDER BY a.query_start, a.pid;
END
$$;
COMMENT ON FUNCTION migrate.slow_query_rows() IS
'rows of migrate.slow_queries: statements of pg_stat_statements (when installed and loaded) with a mean time of at least migrate.slow_query_ms, slowest first; otherwise the statements of other client backends running for at least migrate.slow_query_ms';
REVOKE ALL ON FUNCTION migrate.slow_query_rows() FROM PUBLIC;

CREATE VIEW migrate.slow_queries AS
	SELECT s.source, s.queryid, s.query, s.user_name, s.database_name, s.calls,
		   s.total_ms, s.mean_ms, s.max_ms, s.rows, s.pid, s.state, s.running_ms
	  FROM migrate.slow_query_rows() s;
COMMENT ON VIEW migrate.slow_queries IS
'slow statements: from pg_stat_statements (mean time >= migrate.slow_query_ms, slowest first) when it is installed and loaded, else those running now for at least migrate.slow_query_ms (pg_stat_activity); other users'' statements need pg_read_all_stats';
COMMENT ON COLUMN migrate.slow_queries.source IS 'pg_stat_statements or pg_stat_activity';
COMMENT ON COLUMN migrate.slow_queries.queryid IS 'query identifier (pg_stat_activity: NULL before PostgreSQL 14 or without compute_query_id)';
COMMENT ON COLUMN migrate.slow_queries.query IS 'statement text (<insufficient privilege> for other users'' statements without pg_read_all_stats)';
COMMENT ON COLUMN migrate.slow_queries.user_name IS 'role that ran the statement';
COMMENT ON COLUMN migrate.slow_queries.database_name IS 'database the statement ran in';
COMMENT ON COLUMN migrate.slow_queries.calls IS 'number of executions (pg_stat_statements only)';
COMMENT ON COLUMN migrate.slow_queries.total_ms IS 'total execution time in ms (pg_stat_statements only)';
COMMENT ON COLUMN migrate.slow_queries.mean_ms IS 'mean execution time in ms (pg_stat_statements only)';
COMMENT ON COLUMN migrate.slow_queries.max_ms IS 'longest execution in ms (pg_stat_statements only)';
COMMENT ON COLUMN migrate.slow_queries.rows IS 'rows retrieved or affected in total (pg_stat_statements only)';
COMMENT ON COLUMN migrate.slow_queries.pid IS 'backend running the statement (pg_stat_activity only)';
COMMENT ON COLUMN migrate.slow_queries.state IS 'backend state, e.g. active or idle in transaction (pg_stat_activity only)';
COMMENT ON COLUMN migrate.slow_queries.running_ms IS 'ms since the statement started (pg_stat_activity only)';
REVOKE ALL ON migrate.slow_queries FROM PUBLIC;

CREATE VIEW migrate.connections AS
	SELECT a.datname::pg_catalog.text AS database_name,
		   a.usename::pg_catalog.text AS user_name,
		   a.application_name,
		   COALESCE(a.state, 'unknown') AS state,
		   pg_catalog.count(*) AS connections,
		   pg_catalog.count(*) FILTER (WHERE a.wait_event_type OPERATOR(pg_catalog.=) 'Lock') AS waiting,
		   pg_catalog.count(*) FILTER (WHERE a.state OPERATOR(pg_catalog.~~) 'idle in transaction%') AS idle_in_transaction,
		   pg_catalog.max(pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) a.xact_start) AS oldest_xact_age,
		   pg_catalog.max(pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) a.query_start)
			   FILTER (WHERE a.state OPERATOR(pg_catalog.=) 'active') AS longest_query_age
	  FROM pg_catalog.pg_stat_activity a
	 -- without pg_read_all_stats, other users' sessions show no backend_type
	 -- (nor state or times) but still their database and user
	 WHERE (a.backend_type OPERATOR(pg_catalog.=) 'client backend'
			OR (a.backend_type IS NULL AND a.datid IS NOT NULL AND a.usename IS NOT NULL))
	 GROUP BY a.datname, a.usename, a.application_name, COALESCE(a.state, 'unknown')
	 ORDER BY 1, 2, 3, 4;
COMMENT ON VIEW migrate.connections IS
'client connections grouped by database, user, application and state (pg_stat_activity; without pg_read_all_stats other users'' sessions are counted with state unknown and no times)';
COMMENT ON COLUMN migrate.connections.database_name IS 'database connected to';
COMMENT ON COLUMN migrate.connections.user_name IS 'role connected as';
COMMENT ON COLUMN migrate.connections.application_name IS 'application_name of the connections';
COMMENT ON COLUMN migrate.connections.state IS 'active, idle, idle in transaction, ... (unknown: another user''s sessions, not visible without pg_read_all_stats)';
COMMENT ON COLUMN migrate.connections.connections IS 'number of connections';
COMMENT ON COLUMN migrate.connections.waiting IS 'connections waiting for a heavyweight lock';
COMMENT ON COLUMN migrate.connections.idle_in_transaction IS 'connections idle in a transaction (also aborted)';
COMMENT ON COLUMN migrate.connections.oldest_xact_age IS 'age of the oldest open transaction';
COMMENT ON COLUMN migrate.connections.longest_query_age IS 'running time of the longest running active statement';
REVOKE ALL ON migrate.connections FROM PUBLIC;

CREATE VIEW migrate.table_health AS
	SELECT s.schemaname::pg_catalog.text AS schema_name,
		   s.relname::pg_catalog.text AS table_name,
		   s.n_live_tup AS live_tuples,
		   s.n_dead_tup AS dead_tuples,
		   pg_catalog.round(COALESCE(s.n_dead_tup::pg_catalog.numeric
									 OPERATOR(pg_catalog./) NULLIF(s.n_live_tup OPERATOR(pg_catalog.+) s.n_dead_tup, 0),
									 0), 4) AS dead_ratio,
		   s.last_vacuum,
		   s.last_autovacuum,
		   s.last_analyze,
		   s.last_autoanalyze,
		   pg_catalog.age(c.relfrozenxid) AS xid_age,
		   pg_catalog.pg_total_relation_size(c.oid) AS size_bytes,
		   pg_catalog.pg_size_pretty(pg_catalog.pg_total_relation_size(c.oid)) AS size,
		   s.seq_scan,
		   s.idx_scan,
		   -- OPERATOR() forms all have the same precedence: parenthesised
		   (s.n_dead_tup::pg_catalog.float8 OPERATOR(pg_catalog.>)
				(o.vacuum_threshold OPERATOR(pg_catalog.+)
				 (o.vacuum_scale_factor OPERATOR(pg_catalog.*) GREATEST(c.reltuples, 0)::pg_catalog.float8)))
		   OR (pg_catalog.age(c.relfrozenxid)::pg_catalog.float8 OPERATOR(pg_catalog.>)
				(o.freeze_max_age OPERATOR(pg_catalog.*) 0.8)) AS needs_vacuum
	  FROM pg_catalog.pg_stat_user_tables s
	  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) s.relid
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
	  -- the autovacuum settings, overridden by the table's storage parameters as autovacuum does
	  CROSS JOIN LATERAL (
		SELECT COALESCE(pg_catalog.max(t.option_value) FILTER (WHERE t.option_name OPERATOR(pg_catalog.=) 'autovacuum_vacuum_threshold'),
						pg_catalog.current_setting('autovacuum_vacuum_threshold'))::pg_catalog.float8 AS vacuum_threshold,
			   COALESCE(pg_catalog.max(t.option_value) FILTER (WHERE t.option_name OPERATOR(pg_catalog.=) 'autovacuum_vacuum_scale_factor'),
						pg_catalog.current_setting('autovacuum_vacuum_scale_factor'))::pg_catalog.float8 AS vacuum_scale_factor,
			   LEAST(COALESCE(pg_catalog.max(t.option_value) FILTER (WHERE t.option_name OPERATOR(pg_catalog.=) 'autovacuum_freeze_max_age'),
							  pg_catalog.current_setting('autovacuum_freeze_max_age'))::pg_catalog.float8,
					 pg_catalog.current_setting('autovacuum_freeze_max_age')::pg_catalog.float8) AS freeze_max_age
		  FROM pg_catalog.pg_options_to_table(c.reloptions) t) o
	 WHERE c.relkind OPERATOR(pg_catalog.=) 'r'
	   AND n.nspname OPERATOR(pg_catalog.<>) ALL (ARRAY['pg_catalog', 'information_schema']::pg_catalog.name[])
	   AND NOT pg_catalog.starts_with(n.nspname::pg_catalog.text, 'pg_toast')
	 ORDER BY 1, 2;
COMMENT ON VIEW migrate.table_health IS
'vacuum state, size and scans of ordinary tables and leaf partitions (pg_stat_user_tables); needs_vacuum when dead tuples pass the autovacuum threshold or the xid age passes 80% of autovacuum_freeze_max_age';
COMMENT ON COLUMN migrate.table_health.schema_name IS 'schema of the table';
COMMENT ON COLUMN migrate.table_health.table_name IS 'table (or leaf partition) name';
COMMENT ON COLUMN migrate.table_health.live_tuples IS 'estimated live rows (n_live_tup)';
COMMENT ON COLUMN migrate.table_health.dead_tuples IS 'estimated dead rows (n_dead_tup)';
COMMENT ON COLUMN migrate.table_health.dead_ratio IS 'dead / (live + dead), rounded to 4 digits; 0 when there are none';
COMMENT ON COLUMN migrate.table_health.last_vacuum IS 'last manual VACUUM';
COMMENT ON COLUMN migrate.table_health.last_autovacuum IS 'last vacuum by autovacuum';
COMMENT ON COLUMN migrate.table_health.last_analyze IS 'last manual ANALYZE';
COMMENT ON COLUMN migrate.table_health.last_autoanalyze IS 'last analyze by autovacuum';
COMMENT ON COLUMN migrate.table_health.xid_age IS 'transactions since relfrozenxid (age(relfrozenxid))';
COMMENT ON COLUMN migrate.table_health.size_bytes IS 'total size with indexes and TOAST, in bytes';
COMMENT ON COLUMN migrate.table_health.size IS 'total size with indexes and TOAST, human-readable';
COMMENT ON COLUMN migrate.table_health.seq_scan IS 'sequential scans started';
COMMENT ON COLUMN migrate.table_health.idx_scan IS 'index scans started (NULL without indexes)';
COMMENT ON COLUMN migrate.table_health.needs_vacuum IS 'dead tuples > autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor * reltuples (table storage parameters first), or xid_age > 0.8 * autovacuum_freeze_max_age';
REVOKE ALL ON migrate.table_health FROM PUBLIC;

CREATE VIEW migrate.rls_status AS
	SELECT n.nspname::pg_catalog.text AS schema_name,
		   c.relname::pg_catalog.text AS table_name,
		   c.relrowsecurity AS rls_enabled,
		   c.relforcerowsecurity AS rls_forced,
		   p.policies,
		   CASE WHEN NOT c.relrowsecurity THEN 'exposed: no RLS'
				WHEN p.policies OPERATOR(pg_catalog.=) 0 THEN 'RLS on but no policies'
				ELSE 'ok' END AS verdict
	  FROM pg_catalog.pg_class c
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
	  CROSS JOIN LATERAL (
		SELECT pg_catalog.count(*)::pg_catalog.int4 AS policies
		  FROM pg_catalog.pg_policy pol
		 WHERE pol.polrelid OPERATOR(pg_catalog.=) c.oid) p
	 WHERE c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::pg_catalog.char[])
	   AND NOT c.relispartition
	   AND n.nspname OPERATOR(pg_catalog.<>) ALL (ARRAY['pg_catalog', 'information_schema', 'migrate']::pg_catalog.name[])
	   AND NOT pg_catalog.starts_with(n.nspname::pg_catalog.text, 'pg_toast')
	   AND NOT pg_catalog.starts_with(n.nspname::pg_catalog.text, 'pg_temp')
	   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
						WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
						  AND d.objid OPERATOR(pg_catalog.=) c.oid
						  AND d.deptype OPERATOR(pg_catalog.=) 'e')
	 ORDER BY 1, 2;
COMMENT ON VIEW migrate.rls_status IS
'row-level security of the tables in user schemas (not partitions, not extension members, not schema migrate): whether RLS is enabled and forced and how many policies each table has';
COMMENT ON COLUMN migrate.rls_status.schema_name IS 'schema of the table';
COMMENT ON COLUMN migrate.rls_status.table_name IS 'table (or partitioned table) name';
COMMENT ON COLUMN migrate.rls_status.rls_enabled IS 'ALTER TABLE ... ENABLE ROW LEVEL SECURITY is in effect';
COMMENT ON COLUMN migrate.rls_status.rls_forced IS 'FORCE ROW LEVEL SECURITY: policies apply to the table owner too';
COMMENT ON COLUMN migrate.rls_status.policies IS 'number of policies on the table';
COMMENT ON COLUMN migrate.rls_status.verdict IS 'exposed: no RLS, RLS on but no policies (no rows visible except to the owner and BYPASSRLS roles), or ok';
REVOKE ALL ON migrate.rls_status FROM PUBLIC;

-- rows waiting in the default partitions of events and audit_log
CREATE FUNCTION migrate.default_partition_rows()
RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	raw text;
	rel regclass;
	est real;
	old_pages integer;
	cur_pages bigint;
	n bigint;
	total bigint := 0;
BEGIN
	-- the planner's estimate (reltuples scaled to the current size), counted
	-- only when there is none (never vacuumed or analyzed)
	FOREACH raw IN ARRAY ARRAY['migrate.events_default', 'migrate.audit_log_default'] LOOP
		rel := pg_catalog.to_regclass(raw);
		CONTINUE WHEN rel IS NULL;
		SELECT c.reltuples, c.relpages,
			   (pg_catalog.pg_relation_size(c.oid) OPERATOR(pg_catalog./) pg_catalog.current_setting('block_size')::pg_catalog.int8)
		  INTO est, old_pages, cur_pages
		  FROM pg_catalog.pg_class c
		 WHERE c.oid OPERATOR(pg_catalog.=) rel;
		IF cur_pages OPERATOR(pg_catalog.=) 0 THEN
			n := 0;
		ELSIF est OPERATOR(pg_catalog.>=) 0 AND old_pages OPERATOR(pg_catalog.>) 0 THEN
			n := pg_catalog.round((est OPERATOR(pg_catalog./) old_pages) OPERATOR(pg_catalog.*) cur_pages)::pg_catalog.int8;
		ELSE
			EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM %s', rel) INTO n;
		END IF;
		total := total OPERATOR(pg_catalog.+) n;
	END LOOP;
	RETURN total;
END
$$;
COMMENT ON FUNCTION migrate.default_partition_rows() IS
'rows in the default partitions of migrate.events and migrate.audit_log (an estimate once analyzed): non-zero means migrate.maintain is not creating partitions ahead';

CREATE FUNCTION migrate.monitoring_summary(since interval DEFAULT '1 hour')
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET "DateStyle" = 'ISO, YMD'
AS $$
DECLARE
	window_start timestamptz;
	result jsonb := '{}';
	pending jsonb := '{}';
	errors jsonb := '{}';
	section text;
	v jsonb;
	raw text;
	ahead integer;
	today date := (pg_catalog.now() AT TIME ZONE 'UTC')::date;
	n bigint;
	total bigint;
	rel regclass;
	est double precision;
	old_pages bigint;
	cur_pages bigint;
BEGIN
	IF since IS NULL OR since OPERATOR(pg_catalog.<) interval '0' THEN
		RAISE EXCEPTION 'since must be a non-negative interval'
			USING ERRCODE = '22023', HINT = 'E.g. SELECT migrate.monitoring_summary(''24 hours'').';
	END IF;
	BEGIN
		window_start := pg_catalog.now() OPERATOR(pg_catalog.-) since;
	EXCEPTION WHEN datetime_field_overflow THEN
		window_start := '-infinity';	-- a window reaching before any timestamp
	END;
	result := pg_catalog.jsonb_build_object('since', since::pg_catalog.text, 'generated_at', pg_catalog.now());

	-- Each section on its own: one the caller may not read (e.g. no SELECT on
	-- migrate.events) is null, with the reason under "errors".

	section := 'events_by_severity';
	BEGIN
		SELECT COALESCE(pg_catalog.jsonb_object_agg(x.severity, x.n), '{}') INTO v
		  FROM (SELECT e.severity, pg_catalog.count(*) AS n
				  FROM migrate.events e
				 WHERE e.logged_at OPERATOR(pg_catalog.>=) window_start
				 GROUP BY e.severity) x;
	EXCEPTION WHEN OTHERS THEN
		errors := errors OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(section, SQLERRM);
		v := NULL;
	END;
	result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(section, v);

	section := 'events_by_kind';
	BEGIN
		SELECT COALESCE(pg_catalog.jsonb_object_agg(x.kind, x.n), '{}') INTO v
		  FROM (SELECT e.kind, pg_catalog.count(*) AS n
				  FROM migrate.events e
				 WHERE e.logged_at OPERATOR(pg_catalog.>=) window_start
				 GROUP BY e.kind) x;
	EXCEPTION WHEN OTHERS THEN
		errors := errors OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(section, SQLERRM);
		v := NULL;
	END;
	result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(section, v);

	section := 'latest_errors';
	BEGIN
		SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
					'id', x.id, 'logged_at', x.logged_at, 'kind', x.kind,
					'severity', x.severity, 'message', x.message)
				  ORDER BY x.logged_at DESC, x.id DESC), '[]') INTO v
		  FROM (SELECT e.id, e.logged_at, e.kind, e.severity, e.message
				  FROM migrate.events e
				 WHERE e.logged_at OPERATOR(pg_catalog.>=) window_start
				   AND e.severity OPERATOR(pg_catalog.=) ANY (ARRAY['error', 'critical'])
				 ORDER BY e.logged_at DESC, e.id DESC
				 LIMIT 10) x;
	EXCEPTION WHEN OTHERS THEN
		errors := errors OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(section, SQLERRM);
		v := NULL;
	END;
	result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(section, v);

	section := 'connections_by_state';
	BEGIN
		SELECT COALESCE(pg_catalog.jsonb_object_agg(x.state, x.n), '{}') INTO v
		  FROM (SELECT COALESCE(a.state, 'unknown') AS state, pg_catalog.count(*) AS n
				  FROM pg_catalog.pg_stat_activity a
				 -- other users' sessions without pg_read_all_stats: no backend_type, no state
				 WHERE (a.backend_type OPERATOR(pg_catalog.=) 'client backend'
						OR (a.backend_type IS NULL AND a.datid IS NOT NULL AND a.usename IS NOT NULL))
				 GROUP BY 1) x;
	EXCEPTION WHEN OTHERS THEN
		errors := errors OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(section, SQLERRM);
		v := NULL;
	END;
	result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(section, v);

	section := 'longest_running';
	BEGIN
		SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
					'pid', x.pid, 'user_name', x.usename, 'application_name', x.application_name,
					'running_for', (pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) x.query_start)::pg_catalog.text,
					'query', pg_catalog.left(x.query, 200))
				  ORDER BY x.query_start, x.pid), '[]') INTO v
		  FROM (SELECT a.pid, a.usename, a.application_name, a.query_start, a.query
				  FROM pg_catalog.pg_stat_activity a
				 WHERE a.backend_type OPERATOR(pg_catalog.=) 'client backend'
				   AND a.state OPERATOR(pg_catalog.=) 'active'
				   AND a.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
				   AND a.query_start IS NOT NULL
				 ORDER BY a.query_start, a.pid
				 LIMIT 5) x;
	EXCEPTION WHEN OTHERS THEN
		errors := errors OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(section, SQLERRM);
		v := NULL;
	END;
	result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(section, v);

	section := 'idle_in_transaction';
	BEGIN
		SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
					'pid', x.pid, 'user_name', x.usename, 'application_name', x.application_name,
					'idle_for', (pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) x.state_change)::pg_catalog.text,
					'xact_age', (pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) x.xact_start)::pg_catalog.text)
				  ORDER BY x.state_change, x.pid), '[]') INTO v
		  FROM (SELECT a.pid, a.usename, a.application_name, a.state_change, a.xact_start
				  FROM pg_catalog.pg_stat_activity a
				 WHERE a.backend_type OPERATOR(pg_catalog.=) 'client backend'
				   AND a.state OPERATOR(pg_catalog.~~) 'idle in transaction%'
				   AND a.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
				 ORDER BY a.state_change, a.pid
				 LIMIT 5) x;
	EXCEPTION WHEN OTHERS THEN
		errors := errors OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(section, SQLERRM);
		v := NULL;
	END;
	result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(section, v);

	-- waiting backends from pg_locks, which (unlike pg_stat_activity) shows
	-- every backend's locks to every role; waitstart exists from PostgreSQL 14 on
	section := 'blocked_sessions';
	BEGIN
		SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
					'pid', w.pid, 'blocked_by', pg_catalog.to_jsonb(b.blockers),
					'wait_event', a.wait_event,
					'waiting_for', (pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) COALESCE(w.waitstart, a.query_start))::pg_catalog.text,
					'query', pg_catalog.left(a.query, 200))
				  ORDER BY COALESCE(w.waitstart, a.query_start), w.pid), '[]') INTO v
		  FROM (SELECT l.pid,
					   pg_catalog.min((pg_catalog.to_jsonb(l) OPERATOR(pg_catalog.->>) 'waitstart')::pg_catalog.timestamptz) AS waitstart
				  FROM pg_catalog.pg_locks l
				 WHERE NOT l.granted AND l.pid IS NOT NULL
				 GROUP BY l.pid) w
		  CROSS JOIN LATERAL (SELECT pg_catalog.pg_blocking_pids(w.pid) AS blockers) b
		  LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) w.pid
		 WHERE pg_catalog.cardinality(b.blockers) OPERATOR(pg_catalog.>) 0;
	EXCEPTION WHEN OTHERS THEN
		errors := errors OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(section, SQLERRM);
		v := NULL;
	END;
	result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(section, v);

	section := 'cache_hit_ratio';
	BEGIN
		SELECT pg_catalog.to_jsonb(pg_catalog.round(d.blks_hit::pg_catalog.numeric
					OPERATOR(pg_catalog./) NULLIF(d.blks_hit OPERATOR(pg_catalog.+) d.blks_read, 0), 4)) INTO v
		  FROM pg_catalog.pg_stat_database d
		 WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database();
	EXCEPTION WHEN OTHERS THEN
		errors := errors OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(section, SQLERRM);
		v := NULL;
	END;
	result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(section, COALESCE(v, 'null'));

	section := 'database_size_bytes';
	BEGIN
		n := pg_catalog.pg_database_size(pg_catalog.current_database());
	EXCEPTION WHEN OTHERS THEN
		errors := errors OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(section, SQLERRM);
		n := NULL;
	END;
	result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
		'database_size_bytes', n, 'database_size', pg_catalog.pg_size_pretty(n));

	section := 'tables_needing_vacuum';
	BEGIN
		SELECT COALESCE(pg_catalog.jsonb_agg(x.name ORDER BY x.dead_ratio DESC, x.xid_age DESC, x.name), '[]') INTO v
		  FROM (SELECT pg_catalog.format('%I.%I', h.schema_name, h.table_name) AS name, h.dead_ratio, h.xid_age
				  FROM migrate.table_health h
				 WHERE h.needs_vacuum
				 ORDER BY h.dead_ratio DESC, h.xid_age DESC, 1
				 LIMIT 20) x;
	EXCEPTION WHEN OTHERS THEN
		errors := errors OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(section, SQLERRM);
		v := NULL;
	END;
	result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(section, v);

	section := 'tables_exposed_without_rls';
	BEGIN
		SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.format('%I.%I', r.schema_name, r.table_name)
				  ORDER BY r.schema_name, r.table_name), '[]') INTO v
		  FROM migrate.rls_status r
		 WHERE r.verdict OPERATOR(pg_catalog.=) 'exposed: no RLS';
	EXCEPTION WHEN OTHERS THEN
		errors := errors OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(section, SQLERRM);
		v := NULL;
	END;
	result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(section, v);

	-- pending maintenance: UTC days today .. today + migrate.premake_days without a partition
	raw := pg_catalog.current_setting('migrate.premake_days', true);
	ahead := CASE WHEN raw OPERATOR(pg_catalog.~) '^\s*[0-9]+\s*$' THEN raw::pg_catalog.int4 ELSE 7 END;
	FOR i IN 1 .. 2 LOOP
		section := CASE i WHEN 1 THEN 'events' ELSE 'audit_log' END;
		BEGIN
			WITH parts AS MATERIALIZED (
				SELECT DISTINCT p.lower_bound, p.upper_bound
				  FROM migrate.log_partitions(section) p
				 WHERE NOT p.is_default
			)
			SELECT pg_catalog.count(*) INTO n
			  FROM pg_catalog.generate_series(0, ahead) g(k)
			 WHERE NOT EXISTS (
				SELECT 1 FROM parts p
				 WHERE p.lower_bound OPERATOR(pg_catalog.<=)
					   ((today OPERATOR(pg_catalog.+) g.k)::timestamp AT TIME ZONE 'UTC')
				   AND p.upper_bound OPERATOR(pg_catalog.>=)
					   ((today OPERATOR(pg_catalog.+) g.k OPERATOR(pg_catalog.+) 1)::timestamp AT TIME ZONE 'UTC'));
		EXCEPTION WHEN OTHERS THEN
			errors := errors OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
				'pending_maintenance.' OPERATOR(pg_catalog.||) section OPERATOR(pg_catalog.||) '_days_ahead_missing', SQLERRM);
			n := NULL;
		END;
		pending := pending OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
			section OPERATOR(pg_catalog.||) '_days_ahead_missing', n::pg_catalog.int4);
	END LOOP;

	-- day partitions of events past the shortest retention (migrate.maintain removes them, or parts of them)
	BEGIN
		SELECT pg_catalog.count(DISTINCT p.day_partition) INTO n
		  FROM migrate.log_partitions('events') p
		 WHERE NOT p.is_default
		   AND p.upper_bound OPERATOR(pg_catalog.<=)
			   (pg_catalog.now() OPERATOR(pg_catalog.-) (SELECT pg_catalog.min(r.keep) FROM migrate.event_retention() r));
	EXCEPTION WHEN OTHERS THEN
		errors := errors OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('pending_maintenance.expired_event_partitions', SQLERRM);
		n := NULL;
	END;
	pending := pending OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('expired_event_partitions', n::pg_catalog.int4);

	-- rows in the default partitions (read as the extension owner: a monitoring
	-- role needs no right on the partitions)
	BEGIN
		total := migrate.default_partition_rows();
	EXCEPTION WHEN OTHERS THEN
		errors := errors OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('pending_maintenance.rows_in_default_partitions', SQLERRM);
		total := NULL;
	END;
	pending := pending OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('rows_in_default_partitions', total);

	RETURN result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('pending_maintenance', pending, 'errors', errors);
END
$$;
COMMENT ON FUNCTION migrate.monitoring_summary(interval) IS
'health snapshot as jsonb: events of the last since by severity and kind, latest errors, connections, long-running, idle-in-transaction and blocked sessions, cache hit ratio, database size, tables needing vacuum or exposed without RLS, and pending partition maintenance; a section the caller may not read is null, with the reason under errors';
REVOKE ALL ON FUNCTION migrate.monitoring_summary(interval) FROM PUBLIC;

--
-- Schema drift: snapshots, the DDL ledger, drift reports
--
CREATE FUNCTION migrate.snapshot(schemas text[] DEFAULT NULL, objects text[] DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'migrate_snapshot'
LANGUAGE C STABLE;
COMMENT ON FUNCTION migrate.snapshot(text[], text[]) IS
'canonical description of the schema (user schemas, or the schemas given; the extension''s own schema only when named): every object with kind, identity, definition and hash, a fingerprint over all; objects limits it to those objects and the objects of those tables';

CREATE TABLE migrate.snapshots (
	id bigserial PRIMARY KEY,
	taken_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	label text,
	migration_version text,
	taken_by text NOT NULL DEFAULT session_user,
	fingerprint text NOT NULL,
	object_count integer NOT NULL,
	partial boolean NOT NULL DEFAULT false,
	ledger_id bigint,
	ledger_snapshot pg_snapshot,
	snapshot jsonb NOT NULL
);
COMMENT ON TABLE migrate.snapshots IS 'saved schema snapshots: by migrate.snapshot_save, and by migrate.apply and migrate.revert after each migration';
COMMENT ON COLUMN migrate.snapshots.id IS 'order in which snapshots were saved';
COMMENT ON COLUMN migrate.snapshots.taken_at IS 'when the snapshot was taken';
COMMENT ON COLUMN migrate.snapshots.label IS 'label given to snapshot_save, or after_apply/after_revert';
COMMENT ON COLUMN migrate.snapshots.migration_version IS 'migration applied or reverted just before (automatic snapshots)';
COMMENT ON COLUMN migrate.snapshots.taken_by IS 'session user who saved it';
COMMENT ON COLUMN migrate.snapshots.fingerprint IS 'fingerprint of the snapshot (equal fingerprints: equal schemas)';
COMMENT ON COLUMN migrate.snapshots.object_count IS 'number of objects described';
COMMENT ON COLUMN migrate.snapshots.snapshot IS 'the snapshot, as migrate.snapshot() returns it';
COMMENT ON COLUMN migrate.snapshots.partial IS 'true for the automatic snapshot of a migration: only the objects its DDL touched';
COMMENT ON COLUMN migrate.snapshots.ledger_id IS 'last migrate.ddl_log entry the snapshot includes';
COMMENT ON COLUMN migrate.snapshots.ledger_snapshot IS 'transactions visible when the snapshot was taken (a ledger entry of a transaction that committed later is not included, whatever its id)';

CREATE TABLE migrate.expected_objects (
	kind text NOT NULL,
	identity text NOT NULL,
	parent text,
	hash text NOT NULL,
	definition jsonb NOT NULL,
	snapshot_id bigint NOT NULL,
	PRIMARY KEY (kind, identity)
);
CREATE INDEX expected_objects_parent_idx ON migrate.expected_objects (parent);
CREATE INDEX expected_objects_identity_idx ON migrate.expected_objects (identity);
CREATE INDEX expected_objects_partition_of_idx ON migrate.expected_objects ((definition ->> 'partition_of')) WHERE kind = 'table';
CREATE INDEX expected_objects_inherits_idx ON migrate.expected_objects USING gin ((definition -> 'inherits')) WHERE kind = 'table';
COMMENT ON TABLE migrate.expected_objects IS
'the schema the migrations produce, object by object: replaced by migrate.snapshot_save, updated after each migration with the objects its DDL touched; what migrate.drift compares with by default';
COMMENT ON COLUMN migrate.expected_objects.kind IS 'object kind';
COMMENT ON COLUMN migrate.expected_objects.identity IS 'object identity';
COMMENT ON COLUMN migrate.expected_objects.parent IS 'table of a column, constraint, index, trigger or policy';
COMMENT ON COLUMN migrate.expected_objects.hash IS 'the first 128 bits of the sha256 of the definition''s jsonb text, as 32 hex digits';
COMMENT ON COLUMN migrate.expected_objects.definition IS 'normalised definition';
COMMENT ON COLUMN migrate.expected_objects.snapshot_id IS 'snapshot that last set it';
COMMENT ON INDEX migrate.expected_objects_pkey IS 'one row per object';
COMMENT ON INDEX migrate.expected_objects_parent_idx IS 'objects of one table';
COMMENT ON INDEX migrate.expected_objects_identity_idx IS 'an object by identity, whatever its kind';
COMMENT ON INDEX migrate.expected_objects_partition_of_idx IS 'the partitions of a table in the expected schema';
COMMENT ON INDEX migrate.expected_objects_inherits_idx IS 'the children of a table in the expected schema';
SELECT pg_catalog.pg_extension_config_dump('migrate.expected_objects', '');
REVOKE ALL ON migrate.expected_objects FROM PUBLIC;
COMMENT ON SEQUENCE migrate.snapshots_id_seq IS 'ids of migrate.snapshots';
COMMENT ON INDEX migrate.snapshots_pkey IS 'snapshots by id';
CREATE INDEX snapshots_ledger_idx ON migrate.snapshots (ledger_id);
COMMENT ON INDEX migrate.snapshots_ledger_idx IS 'the latest ledger entry a snapshot includes (migrate.snapshot_flush)';
SELECT pg_catalog.pg_extension_config_dump('migrate.snapshots', '');
SELECT pg_catalog.pg_extension_config_dump('migrate.snapshots_id_seq', '');
REVOKE ALL ON migrate.snapshots FROM PUBLIC;

CREATE FUNCTION migrate.snapshot_save(label text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	snap jsonb := migrate.snapshot();
	new_id bigint;
BEGIN
	INSERT INTO migrate.snapshots (label, migration_version, taken_by, fingerprint, object_count, ledger_id, ledger_snapshot, snapshot)
	VALUES (snapshot_save.label, migrate.current_migration(), session_user, snap ->> 'fingerprint',
			(snap ->> 'object_count')::integer, (SELECT pg_catalog.max(l.id) FROM migrate.ddl_log l),
			pg_catalog.pg_current_snapshot(), snap)
	RETURNING id INTO new_id;
	DELETE FROM migrate.expected_objects;
	INSERT INTO migrate.expected_objects (kind, identity, parent, hash, definition, snapshot_id)
	SELECT o ->> 'kind', o ->> 'identity', o ->> 'parent', o ->> 'hash', o -> 'definition', new_id
	  FROM pg_catalog.jsonb_array_elements(snap -> 'objects') o;
	RETURN new_id;
END
$$;
COMMENT ON FUNCTION migrate.snapshot_save(text) IS
'saves migrate.snapshot() into migrate.snapshots and makes it the expected schema for migrate.drift; returns its id';
REVOKE ALL ON FUNCTION migrate.snapshot_save(text) FROM PUBLIC;

-- objects a set of ledger entries touched: identities and the tables of sub-objects
CREATE FUNCTION migrate.ledger_touched(first_id bigint, last_id bigint DEFAULT NULL, only_txid xid8 DEFAULT NULL,
									   seen pg_snapshot DEFAULT NULL, in_band_only boolean DEFAULT false)
RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	-- the entries: two branches, each through an index (an OR of the two
	-- would scan the whole ledger: the plan of a function is made before the
	-- arguments are known)
	WITH entries AS MATERIALIZED (
		SELECT l.object_identity FROM (
			SELECT e.object_identity, e.txid, e.out_of_band FROM migrate.ddl_log e
			 WHERE e.id OPERATOR(pg_catalog.>=) first_id
			   AND (last_id IS NULL OR e.id OPERATOR(pg_catalog.<=) last_id)
			UNION ALL
			-- an entry of a transaction still running when the snapshot was taken
			-- (its txid is at least the snapshot's xmin: found through the txid index)
			SELECT e.object_identity, e.txid, e.out_of_band FROM migrate.ddl_log e
			 WHERE e.txid OPERATOR(pg_catalog.>=) pg_catalog.pg_snapshot_xmin(seen)
			   AND NOT pg_catalog.pg_visible_in_snapshot(e.txid, seen)
			   AND e.id OPERATOR(pg_catalog.<) first_id
			   AND (last_id IS NULL OR e.id OPERATOR(pg_catalog.<=) last_id)) l
		 WHERE (only_txid IS NULL OR l.txid OPERATOR(pg_catalog.=) only_txid)
		   AND NOT (in_band_only AND l.out_of_band)
	), named AS (
		SELECT DISTINCT v.x
		  FROM entries l,
			   LATERAL (VALUES (l.object_identity),
							   -- "name on schema.table" (policies, triggers, rules)
							   (pg_catalog.regexp_replace(l.object_identity, '^.* on ', '')),
							   -- "schema.table in publication p"
							   (pg_catalog.regexp_replace(l.object_identity, ' in publication .*$', '')),
							   -- "schema.table.column": the table
							   (pg_catalog.regexp_replace(l.object_identity, '\.[^.]*$', '')),
							   -- functions: argument types as the snapshot writes them
							   (pg_catalog.regexp_replace(pg_catalog.replace(l.object_identity, ',', ', '), 'pg_catalog\.', '', 'g'))) v(x)
		 WHERE v.x IS NOT NULL
	), rels AS (
		SELECT c.oid FROM named
		  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(named.x)
		 WHERE named.x OPERATOR(pg_catalog.~) '^("([^"]|"")+"|[a-z_][a-z0-9_$]*)\.("([^"]|"")+"|[a-z_][a-z0-9_$]*)$'
	)
	-- NULL when an entry names no object (GRANT, REVOKE, ...): everything may have changed
	SELECT CASE WHEN EXISTS (SELECT 1 FROM entries l WHERE l.object_identity IS NULL)
				THEN NULL ELSE COALESCE(pg_catalog.array_agg(DISTINCT t.x), '{}') END FROM (
		SELECT named.x FROM named
		UNION ALL
		-- partitions and children of a touched table, and its parents (ATTACH,
		-- DETACH and INHERIT are logged under one of the two)
		SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
		  FROM pg_catalog.pg_inherits i
		  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.inhrelid OR c.oid OPERATOR(pg_catalog.=) i.inhparent
		  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
		 WHERE i.inhparent IN (SELECT rels.oid FROM rels) OR i.inhrelid IN (SELECT rels.oid FROM rels)
		UNION ALL
		-- tables that were partitions or children of a touched table when the expected schema was recorded
		SELECT e.identity FROM migrate.expected_objects e
		 WHERE e.kind OPERATOR(pg_catalog.=) 'table'
		   AND (e.definition ->> 'partition_of') OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT named.x FROM named))
		UNION ALL
		SELECT e.identity FROM migrate.expected_objects e
		 WHERE e.kind OPERATOR(pg_catalog.=) 'table'
		   AND (e.definition -> 'inherits') OPERATOR(pg_catalog.?|) ARRAY(SELECT named.x FROM named)
	) t
$$;
COMMENT ON FUNCTION migrate.ledger_touched(bigint, bigint, xid8, pg_snapshot, boolean) IS
'internal: identities of the objects (and tables) the DDL ledger entries in a range (only those of migrations when in_band_only) touched; NULL when an entry names no object (GRANT, REVOKE), i.e. anything may have changed';
REVOKE ALL ON FUNCTION migrate.ledger_touched(bigint, bigint, xid8, pg_snapshot, boolean) FROM PUBLIC;

-- the expected schema follows the migrations: the objects the migrations'
-- DDL touched since the last saved snapshot, read again into it. Deferred:
-- migrate.apply only leaves its ledger entries; this runs when the expected
-- schema is needed (migrate.drift) or is about to be overtaken (before an
-- out-of-band DDL command, from the ddl_command_start event trigger)
CREATE FUNCTION migrate.snapshot_flush()
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	last_saved bigint;
	upto bigint;
	touched text[];
	snap jsonb;
	new_id bigint;
	versions text[];
BEGIN
	-- (the setting is unknown until the library is loaded: on, its default)
	IF NOT COALESCE(pg_catalog.current_setting('migrate.snapshot_on_apply', true), 'on')::boolean THEN
		RETURN NULL;
	END IF;
	-- cheap when there is nothing to do (it runs before every out-of-band DDL
	-- command): two index lookups
	SELECT pg_catalog.max(l.id) INTO upto FROM migrate.ddl_log l WHERE NOT l.out_of_band;
	IF upto IS NULL THEN
		RETURN NULL;			-- no migration ever changed the schema
	END IF;
	SELECT pg_catalog.max(s.ledger_id) INTO last_saved FROM migrate.snapshots s;
	IF last_saved OPERATOR(pg_catalog.>=) upto THEN
		RETURN NULL;			-- nothing since the last saved snapshot
	END IF;
	SELECT pg_catalog.array_agg(DISTINCT l.migration_version) INTO versions
	  FROM migrate.ddl_log l
	 WHERE l.id OPERATOR(pg_catalog.>) COALESCE(last_saved, 0) AND l.id OPERATOR(pg_catalog.<=) upto
	   AND NOT l.out_of_band;
	-- the first one: a complete snapshot
	IF last_saved IS NULL AND NOT EXISTS (SELECT 1 FROM migrate.snapshots) THEN
		RETURN migrate.snapshot_save('after migrations ' OPERATOR(pg_catalog.||) pg_catalog.array_to_string(versions, ', '));
	END IF;
	touched := migrate.ledger_touched(COALESCE(last_saved, 0) OPERATOR(pg_catalog.+) 1, upto, NULL, NULL, true);
	IF touched IS NULL THEN
		-- a command the ledger cannot tie to one object (GRANT, REVOKE, ...)
		RETURN migrate.snapshot_save('after migrations ' OPERATOR(pg_catalog.||) pg_catalog.array_to_string(versions, ', '));
	END IF;
	snap := migrate.snapshot(NULL, touched);
	INSERT INTO migrate.snapshots (label, migration_version, taken_by, fingerprint, object_count, partial, ledger_id, snapshot)
	VALUES ('after migrations ' OPERATOR(pg_catalog.||) pg_catalog.array_to_string(versions, ', '),
			versions[pg_catalog.array_upper(versions, 1)], session_user, snap ->> 'fingerprint',
			(snap ->> 'object_count')::integer, true, upto,
			snap OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('touched', pg_catalog.to_jsonb(touched),
																	   'migrations', pg_catalog.to_jsonb(versions)))
	RETURNING id INTO new_id;
	DELETE FROM migrate.expected_objects e
	 WHERE e.identity OPERATOR(pg_catalog.=) ANY (touched) OR e.parent OPERATOR(pg_catalog.=) ANY (touched)
		OR e.kind IN ('schema', 'extension', 'event trigger', 'publication')
		-- an object that moved under another parent (a table renamed: its index keeps its name)
		OR (e.kind, e.identity) IN (SELECT o ->> 'kind', o ->> 'identity' FROM pg_catalog.jsonb_array_elements(snap -> 'objects') o);
	INSERT INTO migrate.expected_objects (kind, identity, parent, hash, definition, snapshot_id)
	SELECT o ->> 'kind', o ->> 'identity', o ->> 'parent', o ->> 'hash', o -> 'definition', new_id
	  FROM pg_catalog.jsonb_array_elements(snap -> 'objects') o;
	RETURN new_id;
END
$$;
COMMENT ON FUNCTION migrate.snapshot_flush() IS
'internal (migrate.drift, the ddl_command_start event trigger): reads the objects that migrations changed since the last saved snapshot into the expected schema (a partial snapshot; the first one complete); NULL when there is nothing to do or migrate.snapshot_on_apply is off';
REVOKE ALL ON FUNCTION migrate.snapshot_flush() FROM PUBLIC;

CREATE FUNCTION migrate.ddl_start()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'migrate_ddl_start'
LANGUAGE C;
COMMENT ON FUNCTION migrate.ddl_start() IS
'event trigger function (ddl_command_start): takes the schema read lock (so that a DDL command waits while migrate.snapshot holds it) and, before an out-of-band DDL command, brings the expected schema up to date with the migrations applied since the last snapshot (migrate.snapshot_flush)';
REVOKE ALL ON FUNCTION migrate.ddl_start() FROM PUBLIC;

CREATE TABLE migrate.ddl_log (
	id bigserial PRIMARY KEY,
	logged_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	txid xid8,
	event text NOT NULL,
	command_tag text NOT NULL,
	object_type text,
	object_identity text,
	schema_name text,
	statement text,
	session_user_name text,
	current_user_name text,
	application_name text,
	client_addr inet,
	migration_version text,
	out_of_band boolean GENERATED ALWAYS AS (migration_version IS NULL) STORED
);
CREATE INDEX ddl_log_identity_idx ON migrate.ddl_log (object_identity, id);
CREATE INDEX ddl_log_txid_idx ON migrate.ddl_log (txid);
CREATE INDEX ddl_log_in_band_idx ON migrate.ddl_log (id) WHERE NOT out_of_band;
COMMENT ON TABLE migrate.ddl_log IS
'every DDL command (ddl_command_end, sql_drop, table_rewrite event triggers), who ran it and whether it came from migrate.apply; written by the extension only';
COMMENT ON COLUMN migrate.ddl_log.id IS 'order of the commands';
COMMENT ON COLUMN migrate.ddl_log.logged_at IS 'when the command ran';
COMMENT ON COLUMN migrate.ddl_log.txid IS 'transaction of the command';
COMMENT ON COLUMN migrate.ddl_log.event IS 'ddl_command_end, sql_drop or table_rewrite';
COMMENT ON COLUMN migrate.ddl_log.command_tag IS 'e.g. ALTER TABLE, CREATE INDEX, DROP POLICY';
COMMENT ON COLUMN migrate.ddl_log.object_type IS 'type of the object, as the event trigger reports it';
COMMENT ON COLUMN migrate.ddl_log.object_identity IS 'identity of the object (schema-qualified), as the event trigger reports it';
COMMENT ON COLUMN migrate.ddl_log.schema_name IS 'schema of the object';
COMMENT ON COLUMN migrate.ddl_log.statement IS 'the statement text the client sent';
COMMENT ON COLUMN migrate.ddl_log.session_user_name IS 'session user who ran it';
COMMENT ON COLUMN migrate.ddl_log.current_user_name IS 'current user who ran it';
COMMENT ON COLUMN migrate.ddl_log.application_name IS 'application_name of the session';
COMMENT ON COLUMN migrate.ddl_log.client_addr IS 'client address of the session';
COMMENT ON COLUMN migrate.ddl_log.migration_version IS 'migration being applied (migrate.apply), NULL for an out-of-band change';
COMMENT ON COLUMN migrate.ddl_log.out_of_band IS 'true when the command did not come from migrate.apply/revert';
COMMENT ON SEQUENCE migrate.ddl_log_id_seq IS 'ids of migrate.ddl_log';
COMMENT ON INDEX migrate.ddl_log_pkey IS 'ledger by id';
COMMENT ON INDEX migrate.ddl_log_identity_idx IS 'ledger entries of one object';
COMMENT ON INDEX migrate.ddl_log_txid_idx IS 'ledger entries of transactions not yet visible to a snapshot';
COMMENT ON INDEX migrate.ddl_log_in_band_idx IS 'the latest ledger entry of a migration (migrate.snapshot_flush)';
SELECT pg_catalog.pg_extension_config_dump('migrate.ddl_log', '');
SELECT pg_catalog.pg_extension_config_dump('migrate.ddl_log_id_seq', '');
REVOKE ALL ON migrate.ddl_log FROM PUBLIC;
CREATE TRIGGER ddl_log_guard BEFORE UPDATE OR DELETE ON migrate.ddl_log
	FOR EACH ROW EXECUTE FUNCTION migrate.guard_bookkeeping();
CREATE TRIGGER ddl_log_guard_truncate BEFORE TRUNCATE ON migrate.ddl_log
	FOR EACH STATEMENT EXECUTE FUNCTION migrate.guard_bookkeeping();
COMMENT ON TRIGGER ddl_log_guard ON migrate.ddl_log IS 'keeps the DDL ledger append-only';
COMMENT ON TRIGGER ddl_log_guard_truncate ON migrate.ddl_log IS 'refuses TRUNCATE of the DDL ledger';

CREATE FUNCTION migrate.ddl_ledger()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'migrate_ddl_ledger'
LANGUAGE C;
COMMENT ON FUNCTION migrate.ddl_ledger() IS 'event trigger function writing migrate.ddl_log';
REVOKE ALL ON FUNCTION migrate.ddl_ledger() FROM PUBLIC;
CREATE EVENT TRIGGER migrate_ddl_ledger ON ddl_command_end EXECUTE FUNCTION migrate.ddl_ledger();
CREATE EVENT TRIGGER migrate_ddl_ledger_drop ON sql_drop EXECUTE FUNCTION migrate.ddl_ledger();
CREATE EVENT TRIGGER migrate_ddl_ledger_rewrite ON table_rewrite EXECUTE FUNCTION migrate.ddl_ledger();
CREATE EVENT TRIGGER migrate_ddl_start ON ddl_command_start EXECUTE FUNCTION migrate.ddl_start();
COMMENT ON EVENT TRIGGER migrate_ddl_start IS 'before an out-of-band DDL command: the expected schema catches up with the migrations (migrate.snapshot_flush)';
COMMENT ON EVENT TRIGGER migrate_ddl_ledger IS 'DDL ledger: every DDL command into migrate.ddl_log';
COMMENT ON EVENT TRIGGER migrate_ddl_ledger_drop IS 'DDL ledger: every dropped object into migrate.ddl_log';
COMMENT ON EVENT TRIGGER migrate_ddl_ledger_rewrite IS 'DDL ledger: every table rewrite into migrate.ddl_log';

-- the differences between two snapshots (expected, actual)
CREATE FUNCTION migrate.snapshot_diff(expected jsonb, actual jsonb)
RETURNS TABLE(kind text, identity text, parent text, change text, attribute text, expected text, actual text)
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH e AS (SELECT o ->> 'kind' AS k, o ->> 'identity' AS i, o ->> 'parent' AS p, o ->> 'hash' AS h, o -> 'definition' AS d
				 FROM pg_catalog.jsonb_array_elements(snapshot_diff.expected -> 'objects') o),
		 a AS (SELECT o ->> 'kind' AS k, o ->> 'identity' AS i, o ->> 'parent' AS p, o ->> 'hash' AS h, o -> 'definition' AS d
				 FROM pg_catalog.jsonb_array_elements(snapshot_diff.actual -> 'objects') o),
		 d AS (SELECT COALESCE(e.k, a.k) AS k, COALESCE(e.i, a.i) AS i, COALESCE(e.p, a.p) AS p,
					  CASE WHEN a.k IS NULL THEN 'missing' WHEN e.k IS NULL THEN 'unexpected' ELSE 'changed' END AS c,
					  e.d AS ed, a.d AS ad
				 FROM e FULL JOIN a ON a.k OPERATOR(pg_catalog.=) e.k AND a.i OPERATOR(pg_catalog.=) e.i
				WHERE e.h IS DISTINCT FROM a.h)
	SELECT d.k, d.i, d.p, d.c, NULL::text, d.ed::text, d.ad::text FROM d WHERE d.c OPERATOR(pg_catalog.<>) 'changed'
	UNION ALL
	SELECT d.k, d.i, d.p, d.c, x.key,
		   CASE pg_catalog.jsonb_typeof(d.ed -> x.key) WHEN 'string' THEN d.ed ->> x.key ELSE (d.ed -> x.key)::text END,
		   CASE pg_catalog.jsonb_typeof(d.ad -> x.key) WHEN 'string' THEN d.ad ->> x.key ELSE (d.ad -> x.key)::text END
	  FROM d, LATERAL (SELECT k.key FROM pg_catalog.jsonb_object_keys(d.ed) k(key)
					   UNION SELECT k.key FROM pg_catalog.jsonb_object_keys(d.ad) k(key)) x
	 WHERE d.c OPERATOR(pg_catalog.=) 'changed' AND (d.ed -> x.key) IS DISTINCT FROM (d.ad -> x.key)
$$;
COMMENT ON FUNCTION migrate.snapshot_diff(jsonb, jsonb) IS
'differences between two snapshots: missing and unexpected objects, and one row per changed attribute of a changed object';

CREATE FUNCTION migrate.drift_report(expected_snapshot jsonb, only_schemas text[], full_check boolean)
RETURNS TABLE(kind text, identity text, change text, attribute text, expected_value text, actual_value text,
			  changed_by text, changed_at timestamptz, statement text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	exp jsonb := drift_report.expected_snapshot;
	since timestamptz;
	since_id bigint;
	seen pg_snapshot;
	scope text[] := drift_report.only_schemas;
	touched text[];
	incremental boolean;
	live jsonb;
	n bigint;
	pend jsonb;
	pend_touched text[];
	last_saved bigint;
	upto bigint;
BEGIN
	IF exp IS NULL THEN
		-- the expected schema catches up with the migrations applied since
		IF NOT pg_catalog.pg_is_in_recovery() AND NOT pg_catalog.current_setting('transaction_read_only')::boolean THEN
			PERFORM migrate.snapshot_flush();
		ELSIF COALESCE(pg_catalog.current_setting('migrate.snapshot_on_apply', true), 'on')::boolean THEN
			-- read-only (a standby): what snapshot_flush would save, read
			-- here and laid over the saved expected schema, saving nothing
			SELECT pg_catalog.max(s.ledger_id) INTO last_saved FROM migrate.snapshots s;
			SELECT pg_catalog.max(l.id) INTO upto FROM migrate.ddl_log l WHERE NOT l.out_of_band;
			IF last_saved IS NOT NULL AND upto OPERATOR(pg_catalog.>) last_saved THEN
				pend_touched := migrate.ledger_touched(last_saved OPERATOR(pg_catalog.+) 1, upto, NULL, NULL, true);
				IF pend_touched IS NOT NULL THEN
					pend := migrate.snapshot(NULL, pend_touched);
				END IF;
			END IF;
		END IF;
		-- from the latest complete snapshot: the partial ones after migrations
		-- do not vouch for other sessions' changes made in between
		SELECT s.ledger_id, s.ledger_snapshot INTO since_id, seen FROM migrate.snapshots s
		 WHERE NOT s.partial ORDER BY s.id DESC LIMIT 1;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'no saved snapshot to compare with'
				USING ERRCODE = 'MG020', HINT = 'Save the expected schema with migrate.snapshot_save(), or pass a snapshot: migrate.drift(expected => <jsonb from migrate.snapshot()>).';
		END IF;
		since := pg_catalog.now();
		incremental := NOT COALESCE(full_check, false) AND scope IS NULL;
		IF incremental THEN
			-- the ledger says what changed since: only that is read again (NULL:
			-- an entry names no object, read everything); the database-wide
			-- objects always, as ALTER EVENT TRIGGER leaves no ledger entry
			touched := migrate.ledger_touched(COALESCE(since_id, 0) OPERATOR(pg_catalog.+) 1, NULL, NULL, seen);
		END IF;
		exp := pg_catalog.jsonb_build_object('objects', COALESCE(
			(SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('kind', e.kind, 'identity', e.identity, 'parent', e.parent,
																	   'hash', e.hash, 'definition', e.definition))
			   FROM (SELECT x.kind, x.identity, x.parent, x.hash, x.definition
					   FROM migrate.expected_objects x
					  WHERE pend IS NULL
						 OR (x.identity OPERATOR(pg_catalog.=) ANY (pend_touched) OR x.parent OPERATOR(pg_catalog.=) ANY (pend_touched)
							 OR x.kind IN ('schema', 'extension', 'event trigger', 'publication')
							 OR (x.kind, x.identity) IN (SELECT o ->> 'kind', o ->> 'identity'
														   FROM pg_catalog.jsonb_array_elements(pend -> 'objects') o)) IS NOT TRUE
					 UNION ALL
					 SELECT o ->> 'kind', o ->> 'identity', o ->> 'parent', o ->> 'hash', o -> 'definition'
					   FROM pg_catalog.jsonb_array_elements(COALESCE(pend -> 'objects', '[]')) o) e
			  WHERE CASE WHEN incremental
						 THEN touched IS NULL
							  OR e.identity OPERATOR(pg_catalog.=) ANY (touched) OR e.parent OPERATOR(pg_catalog.=) ANY (touched)
							  OR e.kind IN ('schema', 'extension', 'event trigger', 'publication')
						 ELSE scope IS NULL
							  OR pg_catalog.split_part(e.identity, '.', 1) OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT pg_catalog.quote_ident(x) FROM pg_catalog.unnest(scope) x))
							  OR e.kind IN ('extension', 'event trigger', 'publication') END), '[]'));
		live := CASE WHEN incremental THEN migrate.snapshot(NULL, touched) ELSE migrate.snapshot(scope) END;
	ELSE
		IF pg_catalog.jsonb_typeof(exp -> 'objects') IS DISTINCT FROM 'array'
		   OR pg_catalog.jsonb_typeof(exp -> 'schemas') NOT IN ('array', 'null')
		   OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(exp -> 'objects') o
					   WHERE pg_catalog.jsonb_typeof(o) IS DISTINCT FROM 'object'
						  OR pg_catalog.jsonb_typeof(o -> 'kind') IS DISTINCT FROM 'string'
						  OR pg_catalog.jsonb_typeof(o -> 'identity') IS DISTINCT FROM 'string'
						  OR pg_catalog.jsonb_typeof(o -> 'definition') IS DISTINCT FROM 'object') THEN
			RAISE EXCEPTION 'expected is not a snapshot'
				USING ERRCODE = '22023', HINT = 'Pass the jsonb migrate.snapshot() returns.';
		END IF;
		IF scope IS NULL AND pg_catalog.jsonb_typeof(exp -> 'schemas') OPERATOR(pg_catalog.=) 'array' THEN
			scope := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(exp -> 'schemas'));
		END IF;
		live := migrate.snapshot(scope);
	END IF;

	RETURN QUERY
	WITH led AS MATERIALIZED (
		-- the latest ledger entry per object, computed once (the ledger only
		-- grows): for the saved schema only entries made after it
		SELECT DISTINCT ON (k.key) k.key, l.id, l.out_of_band,
			   pg_catalog.format('%s (current_user %s, application %s%s)', l.session_user_name, l.current_user_name,
								 COALESCE(NULLIF(l.application_name, ''), '-'),
								 COALESCE(', client ' OPERATOR(pg_catalog.||) pg_catalog.host(l.client_addr), '')) AS who,
			   l.logged_at AS at, l.statement AS stmt
		  FROM migrate.ddl_log l,
			   LATERAL (VALUES (l.object_identity),
							   -- functions: the snapshot's spelling of argument types
							   (pg_catalog.regexp_replace(pg_catalog.replace(l.object_identity, ',', ', '), 'pg_catalog\.', '', 'g')),
							   -- triggers: "name on schema.table" in the ledger
							   (CASE WHEN l.object_type OPERATOR(pg_catalog.=) 'trigger'
									 THEN pg_catalog.regexp_replace(l.object_identity, '^(.*) on (.*)$', '\2.\1') END),
							   -- columns and constraints change through their table
							   (CASE WHEN l.object_type IN ('table', 'foreign table')
									 THEN 'table:' OPERATOR(pg_catalog.||) l.object_identity END)) k(key)
		 WHERE k.key IS NOT NULL
		   AND (since_id IS NULL OR l.id OPERATOR(pg_catalog.>) since_id
				OR (l.txid OPERATOR(pg_catalog.>=) pg_catalog.pg_snapshot_xmin(seen)
					AND NOT pg_catalog.pg_visible_in_snapshot(l.txid, seen)))
		 ORDER BY k.key, l.id DESC
	), rows AS (
		-- the object's own entry, or (columns, constraints) its table's: the later one
		SELECT d.*,
			   CASE WHEN t.id IS NOT NULL AND (o.id IS NULL OR t.id OPERATOR(pg_catalog.>) o.id) THEN t.out_of_band ELSE o.out_of_band END AS oob,
			   CASE WHEN t.id IS NOT NULL AND (o.id IS NULL OR t.id OPERATOR(pg_catalog.>) o.id) THEN t.who ELSE o.who END AS who,
			   CASE WHEN t.id IS NOT NULL AND (o.id IS NULL OR t.id OPERATOR(pg_catalog.>) o.id) THEN t.at ELSE o.at END AS at,
			   CASE WHEN t.id IS NOT NULL AND (o.id IS NULL OR t.id OPERATOR(pg_catalog.>) o.id) THEN t.stmt ELSE o.stmt END AS stmt
		  FROM migrate.snapshot_diff(exp, live) d
		  LEFT JOIN led o ON o.key OPERATOR(pg_catalog.=) d.identity
		  LEFT JOIN led t ON d.kind IN ('column', 'constraint')
						 AND t.key OPERATOR(pg_catalog.=) ('table:' OPERATOR(pg_catalog.||) d.parent)
	)
	-- the latest command on the object: if a migration made it, nobody is blamed
	SELECT r.kind, r.identity, r.change, r.attribute, r.expected, r.actual,
		   CASE WHEN r.oob THEN r.who END, CASE WHEN r.oob THEN r.at END, CASE WHEN r.oob THEN r.stmt END
	  FROM rows r
	 ORDER BY r.kind COLLATE "C", r.identity COLLATE "C", r.attribute COLLATE "C" NULLS FIRST;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n OPERATOR(pg_catalog.>) 0 AND NOT pg_catalog.pg_is_in_recovery() AND NOT pg_catalog.current_setting('transaction_read_only')::boolean THEN
		PERFORM migrate.record_event('drift_found', 'warning',
									 pg_catalog.format('migrate.drift found %s difference(s) from the expected schema', n),
									 pg_catalog.jsonb_build_object('differences', n, 'expected_fingerprint', exp ->> 'fingerprint',
																   'compared_with', CASE WHEN since IS NULL THEN 'given snapshot' ELSE 'latest saved snapshot' END));
	END IF;
END
$$;
COMMENT ON FUNCTION migrate.drift_report(jsonb, text[], boolean) IS
'internal (migrate.drift): compares the live schema with expected (default: the latest saved snapshot, re-reading only what the DDL ledger says changed unless full_check): one row per missing, unexpected or changed object attribute, with who changed it out of band, when, and the statement';
REVOKE ALL ON FUNCTION migrate.drift_report(jsonb, text[], boolean) FROM PUBLIC;

CREATE FUNCTION migrate.drift(expected jsonb DEFAULT NULL, schemas text[] DEFAULT NULL, full_check boolean DEFAULT false)
RETURNS TABLE(kind text, identity text, change text, attribute text, expected text, actual text,
			  changed_by text, changed_at timestamptz, statement text)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM migrate.drift_report($1, $2, $3) $$;
COMMENT ON FUNCTION migrate.drift(jsonb, text[], boolean) IS
'compares the live schema with expected (default: the latest saved snapshot, re-reading only what the DDL ledger says changed unless full_check): one row per missing, unexpected or changed object attribute, with who changed it out of band, when, and the statement; zero rows: no drift';
REVOKE ALL ON FUNCTION migrate.drift(jsonb, text[], boolean) FROM PUBLIC;

-- the statements that bring the live schema back to the expected one, where unambiguous
CREATE FUNCTION migrate.drift_sql(expected jsonb DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	d record;
	def jsonb;
	obj text;
	tbl text;
	stmts text[] := '{}';
	manual text[] := '{}';
	item text;
	script text;
	f record;
	lint_lines text[] := '{}';
BEGIN
	-- the expected definitions keyed once (not searched again per drift row)
	FOR d IN WITH given AS MATERIALIZED (
				SELECT o ->> 'kind' AS k, o ->> 'identity' AS i, o ->> 'parent' AS p, o -> 'definition' AS def
				  FROM pg_catalog.jsonb_array_elements(drift_sql.expected -> 'objects') o)
			 SELECT r.kind, r.identity, r.change, r.attribute, r.expected_value, r.actual_value,
					COALESCE(g.def, e.definition) AS exp_def, COALESCE(g.p, e.parent) AS exp_parent
			   FROM migrate.drift_report(drift_sql.expected, NULL, true) r
			   LEFT JOIN given g ON g.k OPERATOR(pg_catalog.=) r.kind AND g.i OPERATOR(pg_catalog.=) r.identity
			   LEFT JOIN migrate.expected_objects e ON drift_sql.expected IS NULL
					 AND e.kind OPERATOR(pg_catalog.=) r.kind AND e.identity OPERATOR(pg_catalog.=) r.identity
			  ORDER BY r.kind COLLATE "C", r.identity COLLATE "C", r.attribute COLLATE "C" NULLS FIRST LOOP
		def := d.exp_def;
		IF d.kind OPERATOR(pg_catalog.=) 'index' AND d.change OPERATOR(pg_catalog.=) 'missing' THEN
			stmts := stmts OPERATOR(pg_catalog.||) ((def ->> 'definition') OPERATOR(pg_catalog.||) ';');
		ELSIF d.kind OPERATOR(pg_catalog.=) 'column' AND d.change IN ('missing', 'changed')
			  AND (d.change OPERATOR(pg_catalog.=) 'missing' OR d.attribute OPERATOR(pg_catalog.=) 'default') THEN
			-- identity: <table>.<column>, the table being a schema-qualified name itself
			tbl := COALESCE(d.exp_parent, pg_catalog.regexp_replace(d.identity, '\.("([^"]|"")+"|[^.]+)$', ''));
			obj := pg_catalog.substr(d.identity, pg_catalog.length(tbl) OPERATOR(pg_catalog.+) 2);
			IF d.change OPERATOR(pg_catalog.=) 'missing' THEN
				stmts := stmts OPERATOR(pg_catalog.||) pg_catalog.format('ALTER TABLE %s ADD COLUMN %s %s%s%s%s;', tbl, obj, def ->> 'type',
					COALESCE(' COLLATE ' OPERATOR(pg_catalog.||) (def ->> 'collation'), ''),
					COALESCE(' DEFAULT ' OPERATOR(pg_catalog.||) (def ->> 'default'), ''),
					CASE WHEN (def ->> 'not_null')::boolean THEN ' NOT NULL' ELSE '' END);
			ELSIF d.expected_value IS NULL THEN
				stmts := stmts OPERATOR(pg_catalog.||) pg_catalog.format('ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT;', tbl, obj);
			ELSE
				stmts := stmts OPERATOR(pg_catalog.||) pg_catalog.format('ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s;', tbl, obj, d.expected_value);
			END IF;
		ELSIF d.kind OPERATOR(pg_catalog.=) 'policy' AND d.change IN ('missing', 'changed') THEN
			-- identity: <policy> on <table>; the table is the parent (a quoted policy
			-- name may itself contain " on ")
			tbl := COALESCE(d.exp_parent, pg_catalog.regexp_replace(d.identity, '^.* on ', ''));
			obj := pg_catalog.left(d.identity, pg_catalog.length(d.identity) OPERATOR(pg_catalog.-) pg_catalog.length(tbl) OPERATOR(pg_catalog.-) 4);
			-- one statement per policy (a changed policy has a row per attribute)
			CONTINUE WHEN pg_catalog.format('DROP POLICY IF EXISTS %s ON %s;', obj, tbl) OPERATOR(pg_catalog.=) ANY (stmts);
			IF d.change OPERATOR(pg_catalog.=) 'changed' THEN
				stmts := stmts OPERATOR(pg_catalog.||) pg_catalog.format('DROP POLICY IF EXISTS %s ON %s;', obj, tbl);
			END IF;
			stmts := stmts OPERATOR(pg_catalog.||) pg_catalog.format('CREATE POLICY %s ON %s AS %s FOR %s TO %s%s%s;', obj, tbl,
				CASE WHEN (def ->> 'permissive')::boolean THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END, def ->> 'command',
				(SELECT pg_catalog.string_agg(CASE r OPERATOR(pg_catalog.=) 'public' WHEN true THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r) END, ', ')
				   FROM pg_catalog.jsonb_array_elements_text(def -> 'roles') r),
				COALESCE(' USING (' OPERATOR(pg_catalog.||) (def ->> 'using') OPERATOR(pg_catalog.||) ')', ''),
				COALESCE(' WITH CHECK (' OPERATOR(pg_catalog.||) (def ->> 'with_check') OPERATOR(pg_catalog.||) ')', ''));
		ELSIF d.kind IN ('function', 'procedure') AND d.change OPERATOR(pg_catalog.=) 'changed' AND d.attribute OPERATOR(pg_catalog.=) 'definition' THEN
			stmts := stmts OPERATOR(pg_catalog.||) (pg_catalog.rtrim(d.expected_value, E'\n') OPERATOR(pg_catalog.||) ';');
		ELSIF d.change OPERATOR(pg_catalog.=) 'changed' AND d.attribute OPERATOR(pg_catalog.=) 'privileges'
			  AND d.kind IN ('table', 'view', 'sequence', 'function', 'schema') AND d.expected_value IS NOT NULL THEN
			-- the grants the expected schema has and the live one lacks
			-- (the owner's own privileges are implicit: not granted again)
			FOR item IN SELECT x FROM pg_catalog.jsonb_array_elements_text(d.expected_value::jsonb) x
						  WHERE pg_catalog.split_part(x, ':', 1) IS DISTINCT FROM (def ->> 'owner')
						 EXCEPT SELECT y FROM pg_catalog.jsonb_array_elements_text(COALESCE(d.actual_value, '[]')::jsonb) y LOOP
				stmts := stmts OPERATOR(pg_catalog.||) pg_catalog.format('GRANT %s ON %s %s TO %s%s;',
					pg_catalog.rtrim(pg_catalog.split_part(item, ':', 2), '*'),
					CASE d.kind WHEN 'table' THEN 'TABLE' WHEN 'view' THEN 'TABLE' WHEN 'sequence' THEN 'SEQUENCE'
								WHEN 'function' THEN 'FUNCTION' ELSE 'SCHEMA' END,
					d.identity,
					CASE pg_catalog.split_part(item, ':', 1) WHEN 'PUBLIC' THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.split_part(item, ':', 1)) END,
					CASE WHEN item OPERATOR(pg_catalog.~~) '%*' THEN ' WITH GRANT OPTION' ELSE '' END);
			END LOOP;
			IF EXISTS (SELECT y FROM pg_catalog.jsonb_array_elements_text(COALESCE(d.actual_value, '[]')::jsonb) y
					   EXCEPT SELECT x FROM pg_catalog.jsonb_array_elements_text(d.expected_value::jsonb) x) THEN
				manual := manual OPERATOR(pg_catalog.||) pg_catalog.format('%s %s has privileges the expected schema lacks: revoke them by hand if they are unwanted', d.kind, d.identity);
			END IF;
		ELSE
			manual := manual OPERATOR(pg_catalog.||) pg_catalog.format('%s %s: %s%s', d.kind, d.identity, d.change,
																		 COALESCE(' ' OPERATOR(pg_catalog.||) d.attribute, ''));
		END IF;
	END LOOP;

	script := pg_catalog.array_to_string(stmts, E'\n');
	IF script OPERATOR(pg_catalog.<>) '' THEN
		FOR f IN SELECT * FROM migrate.lint(script) l WHERE l.severity OPERATOR(pg_catalog.<>) 'info' LOOP
			lint_lines := lint_lines OPERATOR(pg_catalog.||) pg_catalog.format('-- lint: statement %s (line %s): %s %s: %s',
				f.statement_no, f.line, f.severity, f.rule, f.message);
		END LOOP;
	END IF;
	RETURN pg_catalog.concat_ws(E'\n',
		'-- migrate.drift_sql: statements that bring the live schema back to the expected one',
		NULLIF(script, ''),
		CASE WHEN pg_catalog.cardinality(lint_lines) OPERATOR(pg_catalog.>) 0
			 THEN pg_catalog.array_to_string(lint_lines, E'\n') END,
		CASE WHEN pg_catalog.cardinality(manual) OPERATOR(pg_catalog.>) 0
			 THEN '-- needs a manual decision:' OPERATOR(pg_catalog.||) E'\n' OPERATOR(pg_catalog.||)
				  (SELECT pg_catalog.string_agg('--   ' OPERATOR(pg_catalog.||) m, E'\n') FROM pg_catalog.unnest(manual) m) END,
		CASE WHEN script OPERATOR(pg_catalog.=) '' AND pg_catalog.cardinality(manual) OPERATOR(pg_catalog.=) 0
			 THEN '-- no drift' END);
END
$$;
COMMENT ON FUNCTION migrate.drift_sql(jsonb) IS
'the statements that bring the live schema back to expected (default: the saved expected schema) for the unambiguous drift kinds (missing index, missing column, changed default, missing or changed policy, missing grant, changed function body), with their lint findings; the rest listed as comments needing a manual decision';
REVOKE ALL ON FUNCTION migrate.drift_sql(jsonb) FROM PUBLIC;

--
-- Data migrations: batched, resumable copies and reconciliation
--
CREATE TABLE migrate.copy_jobs (
	job text PRIMARY KEY,
	source text NOT NULL,
	target text NOT NULL,
	key_columns text[] NOT NULL,
	batch_size integer NOT NULL,
	on_conflict text NOT NULL CHECK (on_conflict IN ('nothing', 'error')),
	last_key jsonb,
	last_key_text text[],
	rows_read bigint NOT NULL DEFAULT 0,
	rows_copied bigint NOT NULL DEFAULT 0,
	rows_skipped bigint NOT NULL DEFAULT 0,
	rows_failed bigint NOT NULL DEFAULT 0,
	batches bigint NOT NULL DEFAULT 0,
	started timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	updated timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	finished timestamptz,
	state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'finished'))
);
COMMENT ON TABLE migrate.copy_jobs IS
'one row per migrate.copy_rows job: what it copies, how far it got (the last key of the last committed batch) and its counts; a job resumes from it';
COMMENT ON COLUMN migrate.copy_jobs.job IS 'the job name given to copy_rows';
COMMENT ON COLUMN migrate.copy_jobs.source IS 'the source query';
COMMENT ON COLUMN migrate.copy_jobs.target IS 'the target table (qualified name)';
COMMENT ON COLUMN migrate.copy_jobs.key_columns IS 'the columns that order and identify the rows';
COMMENT ON COLUMN migrate.copy_jobs.batch_size IS 'rows per batch of the first call';
COMMENT ON COLUMN migrate.copy_jobs.on_conflict IS 'nothing (rows already in the target are skipped: by the unique index on the key columns when there is one, else by any unique constraint) or error (they are failed rows)';
COMMENT ON COLUMN migrate.copy_jobs.last_key IS 'the last key copied, as {"column": "value"} (text forms); the next batch starts after it';
COMMENT ON COLUMN migrate.copy_jobs.last_key_text IS 'the last key copied as the text forms of its values (how a resumed job reads it back)';
COMMENT ON COLUMN migrate.copy_jobs.rows_read IS 'source rows read so far';
COMMENT ON COLUMN migrate.copy_jobs.rows_copied IS 'rows inserted into the target so far';
COMMENT ON COLUMN migrate.copy_jobs.rows_skipped IS 'rows skipped as already in the target (on_conflict nothing)';
COMMENT ON COLUMN migrate.copy_jobs.rows_failed IS 'rows that failed (in migrate.copy_errors)';
COMMENT ON COLUMN migrate.copy_jobs.batches IS 'batches done';
COMMENT ON COLUMN migrate.copy_jobs.started IS 'when the job was first started';
COMMENT ON COLUMN migrate.copy_jobs.updated IS 'when the last batch was done';
COMMENT ON COLUMN migrate.copy_jobs.finished IS 'when the job finished';
COMMENT ON COLUMN migrate.copy_jobs.state IS 'running (call copy_rows again to go on) or finished';
COMMENT ON INDEX migrate.copy_jobs_pkey IS 'jobs by name';
REVOKE ALL ON migrate.copy_jobs FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('migrate.copy_jobs', '');

CREATE TABLE migrate.copy_errors (
	id bigserial PRIMARY KEY,
	job text NOT NULL,
	row_key jsonb,
	sqlstate text NOT NULL,
	message text NOT NULL,
	detail text,
	row_data jsonb,
	logged_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
CREATE INDEX copy_errors_job_idx ON migrate.copy_errors (job, id);
COMMENT ON TABLE migrate.copy_errors IS
'the rows migrate.copy_rows could not copy: the key, the error and the row';
COMMENT ON COLUMN migrate.copy_errors.id IS 'order of the failures';
COMMENT ON COLUMN migrate.copy_errors.job IS 'the copy job';
COMMENT ON COLUMN migrate.copy_errors.row_key IS 'the key of the row, {"column": value}';
COMMENT ON COLUMN migrate.copy_errors.sqlstate IS 'the error''s SQLSTATE (22004: a NULL key)';
COMMENT ON COLUMN migrate.copy_errors.message IS 'the error message';
COMMENT ON COLUMN migrate.copy_errors.detail IS 'the error detail';
COMMENT ON COLUMN migrate.copy_errors.row_data IS 'the source row (to_jsonb)';
COMMENT ON COLUMN migrate.copy_errors.logged_at IS 'when it failed';
COMMENT ON SEQUENCE migrate.copy_errors_id_seq IS 'ids of migrate.copy_errors';
COMMENT ON INDEX migrate.copy_errors_pkey IS 'failures by id';
COMMENT ON INDEX migrate.copy_errors_job_idx IS 'failures of a job in order';
REVOKE ALL ON migrate.copy_errors FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('migrate.copy_errors', '');
SELECT pg_catalog.pg_extension_config_dump('migrate.copy_errors_id_seq', '');

CREATE FUNCTION migrate.copy_rows(job text, source_query text, target regclass, key_columns text[],
								  batch_size integer DEFAULT 10000, on_conflict text DEFAULT 'nothing')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'migrate_copy_rows'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION migrate.copy_rows(text, text, regclass, text[], integer, text) IS
'copies the rows of source_query into target in batches ordered by key_columns, each batch in a subtransaction; only failing rows are skipped (recorded in migrate.copy_errors); progress in migrate.copy_jobs, so a job resumes where it stopped; returns rows read, copied, skipped, failed and the time';
REVOKE ALL ON FUNCTION migrate.copy_rows(text, text, regclass, text[], integer, text) FROM PUBLIC;

CREATE FUNCTION migrate.copy_rows_step(job text, source_query text, target regclass, key_columns text[],
									   batch_size integer, on_conflict text, max_batches integer)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'migrate_copy_rows'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION migrate.copy_rows_step(text, text, regclass, text[], integer, text, integer) IS
'internal (migrate.copy_rows_each): copy_rows for at most max_batches batches';
-- executable by those who may run copy_rows_each or copy_rows: it checks that itself
GRANT EXECUTE ON FUNCTION migrate.copy_rows_step(text, text, regclass, text[], integer, text, integer) TO PUBLIC;

CREATE PROCEDURE migrate.copy_rows_each(job text, source_query text, target regclass, key_columns text[],
										batch_size integer DEFAULT 10000, on_conflict text DEFAULT 'nothing')
LANGUAGE plpgsql
-- no SET clause: it would forbid the COMMITs, and the source query is the
-- caller's, resolved with the caller's search_path (as in copy_rows)
AS $$
DECLARE
	r jsonb;
	copied bigint := 0;
	skipped bigint := 0;
	failed bigint := 0;
	n bigint := 0;
BEGIN
	LOOP
		r := migrate.copy_rows_step(job, source_query, target, key_columns, batch_size, on_conflict, 1);
		COMMIT;
		copied := copied OPERATOR(pg_catalog.+) (r OPERATOR(pg_catalog.->>) 'rows_copied')::pg_catalog.int8;
		skipped := skipped OPERATOR(pg_catalog.+) (r OPERATOR(pg_catalog.->>) 'rows_skipped')::pg_catalog.int8;
		failed := failed OPERATOR(pg_catalog.+) (r OPERATOR(pg_catalog.->>) 'rows_failed')::pg_catalog.int8;
		n := n OPERATOR(pg_catalog.+) (r OPERATOR(pg_catalog.->>) 'batches')::pg_catalog.int8;
		EXIT WHEN (r OPERATOR(pg_catalog.->>) 'state') OPERATOR(pg_catalog.=) 'finished';
	END LOOP;
	RAISE NOTICE 'copy job %: % batches, % rows copied, % skipped, % failed', job, n, copied, skipped, failed;
END
$$;
COMMENT ON PROCEDURE migrate.copy_rows_each(text, text, regclass, text[], integer, text) IS
'migrate.copy_rows committing after each batch (CALL it outside a transaction block): for very large tables; an interrupted job resumes from its last committed batch';
REVOKE ALL ON PROCEDURE migrate.copy_rows_each(text, text, regclass, text[], integer, text) FROM PUBLIC;

CREATE FUNCTION migrate.check_copy_source(source_query text, target regclass, key_columns text[])
RETURNS void
AS 'MODULE_PATHNAME', 'migrate_check_copy_source'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION migrate.check_copy_source(text, regclass, text[]) IS
'internal (migrate.reconcile): source_query is one SELECT and key_columns are columns of it and of target';

CREATE FUNCTION migrate.reconcile(source_query text, target regclass, key_columns text[])
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	k text;
	known text;
	one boolean;
	tname text;
	r jsonb;
BEGIN
	PERFORM migrate.check_copy_source(source_query, target, key_columns);
	-- the query's own columns are named "_migrate_..."
	IF EXISTS (SELECT 1 FROM pg_catalog.unnest(key_columns) c WHERE pg_catalog.starts_with(c, '_migrate_')) THEN
		RAISE EXCEPTION 'key column names beginning with "_migrate_" are reserved'
			USING ERRCODE = '42939',
				  HINT = 'Rename the key column in source_query (AS) and compare through a view of the target that renames it too.';
	END IF;
	-- qualified: an unqualified name could be one of the query's own CTEs (s, t)
	SELECT pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname)
	  INTO tname
	  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
	 WHERE c.oid OPERATOR(pg_catalog.=) target;
	SELECT pg_catalog.string_agg(pg_catalog.quote_ident(c), ', ' ORDER BY o),
		   pg_catalog.string_agg(pg_catalog.quote_ident(c) OPERATOR(pg_catalog.||) ' IS NOT NULL', ' AND ' ORDER BY o),
		   pg_catalog.count(*) OPERATOR(pg_catalog.=) 1
	  INTO k, known, one
	  FROM pg_catalog.unnest(key_columns) WITH ORDINALITY AS u(c, o);
	-- the source's keys grouped (how many rows each: duplicates; the NULL
	-- keys apart), the target's keys, compared with set operations; a key
	-- with a NULL in it identifies nothing, so it matches nothing
	EXECUTE pg_catalog.format($q$
		WITH s AS MATERIALIZED (SELECT %1$s, %6$s AS "_migrate_known", pg_catalog.count(*) AS "_migrate_n" FROM (%2$s) AS q GROUP BY %1$s),
			 t AS MATERIALIZED (SELECT %1$s, %6$s AS "_migrate_known" FROM %3$s),
			 missing AS MATERIALIZED (SELECT %1$s FROM s WHERE "_migrate_known" EXCEPT SELECT %1$s FROM t WHERE "_migrate_known"),
			 extra AS MATERIALIZED (SELECT %1$s FROM t WHERE "_migrate_known" EXCEPT SELECT %1$s FROM s WHERE "_migrate_known"),
			 sc AS (SELECT COALESCE(pg_catalog.sum("_migrate_n"), 0)::bigint AS source_count,
						   pg_catalog.count(*) FILTER (WHERE "_migrate_known") AS source_keys,
						   pg_catalog.count(*) FILTER (WHERE "_migrate_known" AND "_migrate_n" OPERATOR(pg_catalog.>) 1) AS duplicate_source_keys,
						   COALESCE(pg_catalog.sum("_migrate_n") FILTER (WHERE NOT "_migrate_known"), 0)::bigint AS null_keys_in_source
					  FROM s),
			 mc AS (SELECT pg_catalog.count(*) AS missing_in_target FROM missing)
		SELECT pg_catalog.jsonb_build_object(
			'source_count', sc.source_count,
			'source_keys', sc.source_keys,
			'target_count', (SELECT pg_catalog.count(*) FROM t),
			'matched', sc.source_keys OPERATOR(pg_catalog.-) mc.missing_in_target,
			'missing_in_target', mc.missing_in_target,
			'missing_keys', COALESCE((SELECT pg_catalog.jsonb_agg(CASE WHEN %4$L THEN pg_catalog.to_jsonb(x.*) -> %5$L ELSE pg_catalog.to_jsonb(x.*) END ORDER BY %1$s)
										FROM (SELECT * FROM missing ORDER BY %1$s LIMIT 100) x), '[]'),
			'extra_in_target', (SELECT pg_catalog.count(*) FROM extra),
			'extra_keys', COALESCE((SELECT pg_catalog.jsonb_agg(CASE WHEN %4$L THEN pg_catalog.to_jsonb(x.*) -> %5$L ELSE pg_catalog.to_jsonb(x.*) END ORDER BY %1$s)
									  FROM (SELECT * FROM extra ORDER BY %1$s LIMIT 100) x), '[]'),
			'duplicate_source_keys', sc.duplicate_source_keys,
			'duplicate_keys', COALESCE((SELECT pg_catalog.jsonb_agg(CASE WHEN %4$L THEN pg_catalog.to_jsonb(x.*) -> %5$L ELSE pg_catalog.to_jsonb(x.*) END ORDER BY %1$s)
										  FROM (SELECT %1$s FROM s WHERE "_migrate_known" AND "_migrate_n" OPERATOR(pg_catalog.>) 1 ORDER BY %1$s LIMIT 100) x), '[]'),
			'null_keys_in_source', sc.null_keys_in_source,
			'null_keys_in_target', (SELECT pg_catalog.count(*) FROM t WHERE NOT "_migrate_known"),
			-- the share of the source's entities found in the target: each
			-- distinct key once, and each row with a NULL key (never found)
			'success_rate', CASE WHEN sc.source_keys OPERATOR(pg_catalog.+) sc.null_keys_in_source OPERATOR(pg_catalog.>) 0
								 THEN pg_catalog.round(100.0 OPERATOR(pg_catalog.*) (sc.source_keys OPERATOR(pg_catalog.-) mc.missing_in_target)
													   OPERATOR(pg_catalog./) (sc.source_keys OPERATOR(pg_catalog.+) sc.null_keys_in_source), 2) END)
		  FROM sc, mc
		$q$, k, source_query, tname, one, key_columns[1], known) INTO r;
	RETURN r;
END
$$;
COMMENT ON FUNCTION migrate.reconcile(text, regclass, text[]) IS
'compares the keys of source_query with those of target with set operations: source_count (rows), source_keys (distinct keys), target_count, matched, missing_in_target and the first 100 missing_keys, extra_in_target and extra_keys, duplicate_source_keys and the first 100 duplicate_keys, null_keys_in_source, null_keys_in_target, success_rate (percent of the source''s entities, distinct keys and NULL-key rows, found in target)';

--
-- The role model
--
CREATE FUNCTION migrate.setup_roles(admin text DEFAULT 'migrate_admin', monitor text DEFAULT 'migrate_monitor',
									app text DEFAULT 'migrate_app')
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r text;
	f text;
	made text[] := '{}';
	admin_functions text[] := ARRAY[
		'migrate.apply(text, text, text, text, text[], text)', 'migrate.revert(text)',
		'migrate.baseline(text, text)', 'migrate.repair(text, text, text)', 'migrate.dry_run(text)',
		'migrate.record_applied(text, text, text, text, text, text, text[], double precision, integer, jsonb)',
		'migrate.record_reverted(text, double precision, integer, jsonb)', 'migrate.client_migration(text)',
		'migrate.lint_gate(text, text)', 'migrate.maintain()', 'migrate.cleanup(interval, boolean)', 'migrate.audit_revert(regclass, jsonb, timestamptz, boolean)',
		'migrate.audit_add_partitions(integer)', 'migrate.snapshot_save(text)', 'migrate.drift(jsonb, text[], boolean)',
		'migrate.drift_sql(jsonb)', 'migrate.copy_rows(text, text, regclass, text[], integer, text)',
		'migrate.record_event(text, text, text, jsonb, boolean)'];
	monitor_functions text[] := ARRAY[
		'migrate.status()', 'migrate.verify(text)', 'migrate.fingerprint()', 'migrate.history_check()',
		'migrate.history_export()', 'migrate.history_compare(jsonb)', 'migrate.monitoring_summary(interval)',
		'migrate.slow_query_rows()', 'migrate.audit_status()', 'migrate.audit_history(regclass, jsonb)',
		'migrate.audit_current_row(regclass, jsonb)', 'migrate.audit_row_as_of(regclass, jsonb, timestamptz)'];
	monitor_tables text[] := ARRAY[
		'migrate.migrations', 'migrate.history', 'migrate.lock_waits', 'migrate.events', 'migrate.retention',
		'migrate.audit_log', 'migrate.audit_config', 'migrate.snapshots', 'migrate.ddl_log', 'migrate.copy_jobs',
		'migrate.copy_errors', 'migrate.slow_queries', 'migrate.connections', 'migrate.table_health', 'migrate.rls_status'];
BEGIN
	IF admin IS NULL OR monitor IS NULL OR app IS NULL THEN
		RAISE EXCEPTION 'role names must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	FOREACH r IN ARRAY ARRAY[admin, monitor, app] LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) r) THEN
			EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
			made := made OPERATOR(pg_catalog.||) r;
		END IF;
	END LOOP;
	-- the monitor reads migration state, history, events, health, audit and copy records
	FOREACH f IN ARRAY monitor_functions LOOP
		EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %I', f, monitor);
	END LOOP;
	FOREACH f IN ARRAY monitor_tables LOOP
		EXECUTE pg_catalog.format('GRANT SELECT ON %s TO %I', f, monitor);
	END LOOP;
	-- the admin is a monitor that also changes things: migrations, retention, audit, drift, copies
	IF NOT pg_catalog.pg_has_role(admin, monitor, 'MEMBER') THEN
		EXECUTE pg_catalog.format('GRANT %I TO %I', monitor, admin);
	END IF;
	FOREACH f IN ARRAY admin_functions LOOP
		EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %I', f, admin);
	END LOOP;
	EXECUTE pg_catalog.format('GRANT EXECUTE ON PROCEDURE migrate.copy_rows_each(text, text, regclass, text[], integer, text) TO %I', admin);
	EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON migrate.retention TO %I', admin);
	-- applications record events, and read nothing
	EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION migrate.record_event(text, text, text, jsonb, boolean) TO %I', app);
	RETURN pg_catalog.format('roles %s (admin), %s (monitor), %s (app) ready%s', admin, monitor, app,
							 CASE WHEN pg_catalog.cardinality(made) OPERATOR(pg_catalog.>) 0
								  THEN '; created: ' OPERATOR(pg_catalog.||) pg_catalog.array_to_string(made, ', ') ELSE '' END);
END
$$;
COMMENT ON FUNCTION migrate.setup_roles(text, text, text) IS
'creates (NOLOGIN, when missing) and grants the role model: admin runs migrations, retention, audit, drift and copies; monitor reads state, history, events, health, audit and copy records; app records events only. Run by a role that may create roles; grant the roles to login roles';
REVOKE ALL ON FUNCTION migrate.setup_roles(text, text, text) FROM PUBLIC;
