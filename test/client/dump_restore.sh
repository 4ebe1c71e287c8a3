#!/usr/bin/env bash
# TAP: pg_dump -Fc / pg_restore of a database that uses migrate_ext keeps the
# extension's own data: the history (ids, chain hashes), the audit log (and
# auditing keeps working), the events, migrate.retention, copy_jobs and
# copy_errors, the snapshots and the expected schema, with no drift reported.
#
# A plain pg_restore (as a superuser) restores everything: the extension's
# event triggers do not log the restore's own DDL (its sessions are named
# pg_restore), so the saved ledger loads without a collision. A plain-format
# dump restored with psql does the same when its session is named so
# (PGAPPNAME=pg_restore); without that, the saved ledger collides with the
# rows the restore's DDL added (README, Restoring a dump).
#
# Runs inside a throwaway cluster (pg_virtualenv -t) as a superuser:
#   pg_virtualenv -t prove --exec bash test/client/dump_restore.sh
# (run by the test command with the other client TAP scripts)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/tap.sh
. "$here/lib/tap.sh"

require_server

SRC=pgm_dump_src
PLAIN=pgm_dump_plain
DST=pgm_dump_dst
work=$(mktemp -d "${TMPDIR:-/tmp}/pgm_dump.XXXXXX")
cleanup_dbs_only() {
	local d
	for d in "$SRC" "$PLAIN" "$DST"; do
		dropdb --if-exists --force "$d" >/dev/null 2>&1
	done
}
cleanup() {
	cleanup_dbs_only
	rm -rf "$work"
}
cleanup_dbs_only
trap cleanup EXIT
createdb "$SRC" || bail_out "cannot create $SRC"

# same QUERY DESC: QUERY gives the same, non-empty output on the source and
# on the restored database (and succeeds on both)
same() {
	local q=$1 desc=$2 a b ra rb
	a=$(sql "$SRC" "$q")
	ra=$?
	b=$(sql "$DST" "$q")
	rb=$?
	if [ "$ra" != 0 ] || [ "$rb" != 0 ]; then
		fail "$desc" "  query failed: $q" "  source (rc $ra):" "$(_tap_head "$a")" "  restored (rc $rb):" "$(_tap_head "$b")"
	elif [ -z "$a" ]; then
		fail "$desc" "  empty result on the source: $q"
	elif [ "$a" != "$b" ]; then
		fail "$desc" "  source:" "$(_tap_head "$a")" "  restored:" "$(_tap_head "$b")" \
			"  diff:" "$(_tap_head "$(diff <(printf '%s\n' "$a") <(printf '%s\n' "$b"))" 40)"
	else
		pass "$desc"
	fi
}

# ---------------------------------------------------------------- the source
sql "$SRC" "CREATE EXTENSION migrate_ext" >/dev/null || bail_out "CREATE EXTENSION failed"
out=$(sql "$SRC" "
SELECT migrate.apply('20250101000001', 'accounts', 'CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL, balance numeric DEFAULT 0)', 'DROP TABLE accounts');
SELECT migrate.apply('20250101000002', 'accounts.email', 'ALTER TABLE accounts ADD COLUMN email text', 'ALTER TABLE accounts DROP COLUMN email');
SELECT migrate.apply('20250101000003', 'targets', 'CREATE TABLE targets (k int PRIMARY KEY, v int NOT NULL)', 'DROP TABLE targets');
SELECT migrate.apply('20250101000004', 'accounts_name_idx', 'CREATE INDEX accounts_name_idx ON accounts (name)', 'DROP INDEX accounts_name_idx');
SELECT migrate.revert('20250101000004');") || bail_out "migrations failed: $out"

out=$(sql "$SRC" "SELECT migrate.audit_enable('public.accounts')") || bail_out "audit_enable failed: $out"
out=$(sql "$SRC" "
INSERT INTO accounts (id, name, balance) VALUES (1, 'ada', 10), (2, 'bob', 20), (3, 'cy', 30);
BEGIN; SET LOCAL migrate.app_user = 'alice@support'; UPDATE accounts SET balance = balance + 5 WHERE id IN (1, 2); COMMIT;
UPDATE accounts SET email = 'bob@example.org' WHERE id = 2;
DELETE FROM accounts WHERE id = 3;") || bail_out "audited changes failed: $out"

out=$(sql "$SRC" "
SELECT migrate.record_event('nightly_import', 'info', 'imported 3 rows', '{\"rows\": 3}');
SELECT migrate.record_event('disk', 'warning', 'tablespace is 91% full');
SELECT migrate.record_event('payment_sync', 'error', 'provider timed out', '{\"code\": 504}');
SELECT migrate.maintain();
SELECT migrate.record_event('after_maintain', 'notice', 'in a dated partition');") || bail_out "events failed: $out"

out=$(sql "$SRC" "
UPDATE migrate.retention SET keep = interval '14 days' WHERE what = 'events' AND severity = 'info';
INSERT INTO migrate.retention (what, severity, keep) VALUES ('events', 'warning', interval '60 days');
UPDATE migrate.retention SET keep = interval '1 year' WHERE what = 'audit_log';") || bail_out "retention change failed: $out"

out=$(sql "$SRC" "SELECT migrate.copy_rows('targets_from_series',
	'SELECT g AS k, CASE WHEN g = 4 THEN NULL ELSE g * 10 END AS v FROM generate_series(1, 7) g',
	'targets', '{k}', 3) ->> 'rows_failed'")
is "$out" "1" "source: copy_rows job with one failing row"
out=$(sql "$SRC" "SELECT migrate.snapshot_save('before dump') IS NOT NULL")
is "$out" "t" "source: snapshot_save"
is "$(sql "$SRC" "SELECT count(*) FROM migrate.drift()")" "0" "source: no drift before the dump"
is "$(sql "$SRC" "SELECT count(*) FROM migrate.history_check()")" "0" "source: history_check clean"

# ---------------------------------------------------------------- the dump
dump=$work/src.dump
run pg_dump -Fc -f "$dump" "$SRC"
exit_code 0 "pg_dump -Fc of the source"

# ---------------------------------------------------------------- pg_restore
# a plain pg_restore, as a superuser: the DDL it runs is not logged in the
# ledger (application_name pg_restore), so the saved ledger loads without a
# collision
createdb "$DST" || bail_out "cannot create $DST"
run pg_restore -d "$DST" "$dump"
note "pg_restore: exit status $RC"
[ -n "$ERR" ] && note "$ERR"
exit_code 0 "pg_restore of the whole dump succeeds"
is "$ERR" "" "pg_restore prints no error or warning"

# ---------------------------------------------------------------- comparisons
same "SELECT * FROM migrate.status() ORDER BY version" "migrate.status() identical"
same "SELECT version, name, state, checksum, chain_hash, applied_at, reverted_at FROM migrate.migrations ORDER BY version" \
	"migrate.migrations identical"
same "SELECT h.* FROM migrate.history h ORDER BY id" "migrate.history identical (every column: ids, chain hashes)"
same "SELECT id, action, version, details ->> 'prev_hash', details ->> 'chain_hash' FROM migrate.history ORDER BY id" \
	"migrate.history ids and chain hashes identical"
same "SELECT last_value FROM migrate.history_id_seq" "history_id_seq restored"
same "SELECT migrate.fingerprint()" "migrate.fingerprint() equal"
same "SELECT count(*) FROM migrate.audit_log" "audit_log: same count"
same "SELECT id, logged_at, txid, statement_at, schema_name, table_name, operation, row_key, old_values, new_values,
	changed_columns, session_user_name, current_user_name, app_user, application_name, client_addr, migration_version
	FROM migrate.audit_log ORDER BY id" "audit_log: same content (all columns but relid)"
same "SELECT id, relid::regclass::text FROM migrate.audit_log ORDER BY id" \
	"audit_log: relid still names the audited table"
same "SELECT relid::text, exclude_columns, options, enabled_at, enabled_by FROM migrate.audit_config ORDER BY 1" \
	"audit_config identical"
same "SELECT operation, row_key, old_values, new_values FROM migrate.audit_history('public.accounts', '{\"id\": 2}')" \
	"audit_history of a row identical"
same "SELECT relid::text, options, s::text FROM migrate.audit_status() s" "audit_status identical"
same "SELECT e.* FROM migrate.events e ORDER BY id" "events identical"
same "SELECT tableoid::regclass::text, id FROM migrate.events ORDER BY id" "events in the same partitions"
same "SELECT what, severity, keep FROM migrate.retention ORDER BY what, severity NULLS FIRST" "retention identical"
same "SELECT * FROM migrate.event_retention()" "effective event retention identical"
same "SELECT j.* FROM migrate.copy_jobs j ORDER BY job" "copy_jobs identical"
same "SELECT e.* FROM migrate.copy_errors e ORDER BY id" "copy_errors identical"
same "SELECT * FROM targets ORDER BY k" "copied rows identical"
same "SELECT count(*), md5(string_agg(s::text, E'\\n' ORDER BY id)) FROM migrate.snapshots s" "snapshots identical"
same "SELECT count(*), md5(string_agg(o::text, E'\\n' ORDER BY kind, identity)) FROM migrate.expected_objects o" \
	"expected_objects identical"
same "SELECT count(*), md5(string_agg(l::text, E'\\n' ORDER BY id)) FROM migrate.ddl_log l" "ddl_log identical"
same "SELECT migrate.snapshot() ->> 'fingerprint'" "live schema fingerprint (migrate.snapshot()) equal"

is "$(sql "$DST" "SELECT string_agg(evtname || '=' || evtenabled::text, ' ' ORDER BY evtname) FROM pg_event_trigger WHERE evtname LIKE 'migrate%'")" \
	"migrate_audit_partitions=O migrate_ddl_ledger=O migrate_ddl_ledger_drop=O migrate_ddl_ledger_rewrite=O migrate_ddl_start=O" \
	"restored: every event trigger of the extension enabled"
is "$(sql "$DST" "SELECT count(*) FROM migrate.history_check()")" "0" "restored: history_check() returns no rows"
out=$(sql "$DST" "SELECT * FROM migrate.history_check()")
[ -n "$out" ] && diag "history_check on the restored database:" "$out"
out=$(sql "$DST" "SELECT kind, identity, change, attribute FROM migrate.drift()")
rc=$?
is "$rc:$out" "0:" "restored: migrate.drift() reports no drift"
out=$(sql "$DST" "SELECT kind, identity, change, attribute FROM migrate.drift(full_check => true)")
rc=$?
is "$rc:$out" "0:" "restored: migrate.drift(full_check => true) reports no drift"

# auditing still works on the restored database
before=$(sql "$DST" "SELECT max(id) FROM migrate.audit_log")
run sql "$DST" "UPDATE accounts SET name = 'ada lovelace' WHERE id = 1"
exit_code 0 "restored: an UPDATE of the audited table"
is "$(sql "$DST" "SELECT operation, row_key, old_values, new_values, relid::regclass::text FROM migrate.audit_log WHERE id > $before ORDER BY id" | tr '|' ' ')" \
	'UPDATE {"id": 1} {"name": "ada"} {"name": "ada lovelace"} accounts' \
	"restored: the new UPDATE is audited (after the restored rows)"
is "$(sql "$DST" "SELECT count(*) FROM migrate.audit_history('public.accounts', '{\"id\": 1}')")" \
	"$(($(sql "$SRC" "SELECT count(*) FROM migrate.audit_history('public.accounts', '{\"id\": 1}')") + 1))" \
	"restored: audit_history of the row has its old changes and the new one"

# new work on the restored database goes on from the restored sequences
out=$(sql "$DST" "SELECT migrate.record_event('after_restore', 'info', 'hello') > (SELECT max(id) FROM migrate.events WHERE kind <> 'after_restore')")
is "$out" "t" "restored: a new event gets an id after the restored ones"
out=$(sql "$DST" "SELECT migrate.apply('20250101000005', 'accounts.note', 'ALTER TABLE accounts ADD COLUMN note text')")
is "$out" "applied" "restored: a new migration applies"
is "$(sql "$DST" "SELECT count(*) FROM migrate.history_check()")" "0" "restored: history_check() still clean after a new apply"
is "$(sql "$DST" "SELECT count(*) FROM migrate.drift()")" "0" "restored: no drift after a new apply"
out=$(sql "$DST" "SELECT count(*) > 0 FROM migrate.ddl_log WHERE migration_version = '20250101000005' AND command_tag = 'ALTER TABLE'")
is "$out" "t" "restored: the re-enabled ledger logs the new migration's DDL"

# ---------------------------------------------------------------- plain-format dump with psql
run pg_dump -Fp -f "$work/src.sql" "$SRC"
exit_code 0 "pg_dump -Fp of the source"
createdb "$PLAIN" || bail_out "cannot create $PLAIN"
run env PGAPPNAME=pg_restore psql -X -q -v ON_ERROR_STOP=1 -d "$PLAIN" -f "$work/src.sql"
exit_code 0 "psql -f of the plain dump, named pg_restore: no error"
for q in "SELECT h.* FROM migrate.history h ORDER BY id" \
	"SELECT count(*), md5(string_agg(l::text, E'\\n' ORDER BY id)) FROM migrate.ddl_log l" \
	"SELECT id, relid::regclass::text, row_key, old_values, new_values FROM migrate.audit_log ORDER BY id" \
	"SELECT e.* FROM migrate.events e ORDER BY id" \
	"SELECT migrate.fingerprint()"; do
	is "$(sql "$PLAIN" "$q")" "$(sql "$SRC" "$q")" "psql restore: same result for: ${q:0:60}"
done
is "$(sql "$PLAIN" "SELECT count(*) FROM migrate.drift()")" "0" "psql restore: no drift"
dropdb --force "$PLAIN" >/dev/null 2>&1
# without the name, the restore's DDL is logged and the saved ledger collides
createdb "$PLAIN" || bail_out "cannot create $PLAIN"
run psql -X -q -d "$PLAIN" -f "$work/src.sql"
like "$ERR" 'duplicate key value violates unique constraint "ddl_log_pkey"' \
	"psql restore under another name: the saved ledger collides with the restore's own DDL rows (README, Restoring a dump)"

done_testing
