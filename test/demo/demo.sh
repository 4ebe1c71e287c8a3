#!/usr/bin/env bash
# migrate_ext demo, modelled on scenario S1: a Supabase-style app database
# whose dev and prod histories diverged is reconciled with additive "bridge"
# migrations. Reads the migration files in test/demo/migrations/
# (<version>__<name>.sql, with optional .down.sql and .verify.sql companions
# and "-- requires: <version>" header lines) and walks through apply, status,
# idempotent re-run, checksum protection, verify, revert, re-apply and history
# with psql, then lint, auditing, schema drift (scenario S4) and monitoring.
# Runs against the server in PGHOST/PGPORT/PGUSER as a superuser (meant for a
# throwaway cluster: run-demo.sh uses pg_virtualenv -t); creates the database
# migrate_demo_app and the roles "authenticated" and "ops_dba" (a superuser
# that logs in with PGPASSWORD, to play the DBA who changes production by hand).
# Exits 0 when every step behaved as expected, non-zero otherwise.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
MIGRATIONS="$here/migrations"
DB=migrate_demo_app
step_no=0
SOFT_DELETE=20251014220200
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'echo "demo: FAILED in step $step_no (unexpected error above)" >&2' ERR

PG_MIGRATE="$(pg_config --bindir)/pg_migrate"
PROD=migrate_demo_prod

# psql on the demo database: stop on the first error, no pager, no row counts
psql_app() { psql -X -q -v ON_ERROR_STOP=1 -P pager=off -P footer=off -d "$DB" "$@"; }

step() {
	step_no=$((step_no + 1))
	printf '\n== Step %d: %s ==\n' "$step_no" "$1"
	printf '%s\n\n' "$2"
}

# show the query, then its result
show() {
	printf 'sql> %s\n' "$1"
	psql_app -c "$1"
}

# the up scripts of a folder, in version order
up_files() {
	local f
	for f in "$1"/*__*.sql; do
		case "$f" in *.down.sql | *.verify.sql) continue ;; esac
		printf '%s\n' "$f"
	done
}

# apply_file FILE: migrate.apply() with the file's version and name, its
# script, its .down.sql and .verify.sql companions (when present) and the
# versions listed on "-- requires:" lines. Prints "version name -> result".
apply_file() {
	local f=$1 dir base ver name requires result
	local down_arg=NULL verify_arg=NULL
	dir=$(dirname "$f")
	base=$(basename "$f" .sql)
	ver=${base%%__*}
	name=${base#*__}
	requires=$(sed -n 's/^-- requires:[[:space:]]*//p' "$f" | tr -d ' ' | paste -sd, -)
	local -a vars=(-v "ver=$ver" -v "mname=$name" -v "script=$(cat "$f")" -v "requires={$requires}")
	if [ -f "$dir/$base.down.sql" ]; then
		vars+=(-v "down=$(cat "$dir/$base.down.sql")")
		down_arg=":'down'"
	fi
	if [ -f "$dir/$base.verify.sql" ]; then
		vars+=(-v "verify=$(cat "$dir/$base.verify.sql")")
		verify_arg=":'verify'"
	fi
	# the script travels as a psql variable quoted by :'script', never spliced
	result=$(psql_app -At "${vars[@]}" <<-SQL
		SET client_min_messages = warning;
		SELECT migrate.apply(:'ver', :'mname', :'script', $down_arg, :'requires', $verify_arg);
	SQL
	) || return $?
	printf '  %-15s %-28s -> %s\n' "$ver" "$name" "$result"
}

echo "migrate_ext demo: reconciling a Supabase-style app database with bridge migrations"
echo "server: $(psql -X -At -d postgres -c 'SHOW server_version')"
echo "migration folder: test/demo/migrations/ ($(up_files "$MIGRATIONS" | wc -l) migrations)"

# -----------------------------------------------------------------------------
step "create the app database and the extension" \
	"A fresh database with stand-ins for what Supabase provides (role \"authenticated\", auth.uid()), then CREATE EXTENSION migrate_ext."
psql -X -q -v ON_ERROR_STOP=1 -d postgres <<SQL
SET client_min_messages = warning;
DROP DATABASE IF EXISTS $DB;
CREATE DATABASE $DB;
DO \$\$ BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
		CREATE ROLE authenticated NOLOGIN;
	END IF;
END \$\$;
SQL
psql_app <<'SQL'
CREATE SCHEMA auth;
-- Supabase's auth.uid(): the user id from the request's JWT claims
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE
AS $$ SELECT nullif(current_setting('request.jwt.claims', true)::jsonb ->> 'sub', '')::uuid $$;
GRANT USAGE ON SCHEMA auth TO authenticated;
CREATE EXTENSION migrate_ext;
SQL
show "SELECT extname, extversion FROM pg_extension WHERE extname = 'migrate_ext'"

# -----------------------------------------------------------------------------
step "apply the app's existing migration" \
	"profiles (RLS on, two policies) is what dev and prod already share; its verify checks run inside the same transaction."
apply_file "$MIGRATIONS/20251001090000__create_profiles.sql"

# -----------------------------------------------------------------------------
step "apply the bridge migrations with pg_migrate" \
	"Additive bridge_* migrations, each requiring the profiles migration, each with a down script (.down.sql) and verify checks (.verify.sql). pg_migrate up applies the folder's pending files in version order through migrate.apply, one transaction each, on one connection."
printf '$ pg_migrate -d %s up test/demo/migrations\n' "$DB"
"$PG_MIGRATE" -d "$DB" up "$MIGRATIONS"
show "SELECT version, name, requires FROM migrate.migrations ORDER BY version_key"
echo "A quick look at the bridges at work: a new profile is written to the audit trail."
show "INSERT INTO public.profiles (email, display_name) VALUES ('ada@example.com', 'Ada')"
show "SELECT table_name, action, new_data->>'email' AS email FROM public.user_audits ORDER BY id"

# -----------------------------------------------------------------------------
step "status" \
	"migrate.status(): one row per migration in version order (timestamps and timings left out, checksums shortened). pg_migrate status compares the folder with it: applied, pending, out-of-order, applied-but-file-missing, checksum-differs."
show "SELECT version, name, state, left(checksum, 12) AS checksum, applied_by, out_of_order FROM migrate.status()"
printf '$ pg_migrate -d %s status test/demo/migrations   (applied-at column cut)\n' "$DB"
"$PG_MIGRATE" -d "$DB" status "$MIGRATIONS" | cut -c1-80

# -----------------------------------------------------------------------------
step "re-run the whole folder" \
	"Deploy tooling can simply apply every file again: applied migrations with an unchanged checksum are skipped (migrate.apply returns already_applied; pg_migrate up finds nothing pending)."
while read -r f; do
	apply_file "$f"
done < <(up_files "$MIGRATIONS")
printf '$ pg_migrate -d %s up test/demo/migrations\n' "$DB"
"$PG_MIGRATE" -d "$DB" up "$MIGRATIONS"

# -----------------------------------------------------------------------------
step "an applied migration was edited: it is refused" \
	"Someone reworded a column comment in the soft-delete file after it was applied; its checksum no longer matches the record."
for f in "$MIGRATIONS/${SOFT_DELETE}__"*.sql; do cp "$f" "$work/"; done
edited="$work/${SOFT_DELETE}__bridge_add_soft_delete.sql"
sed -i "s/why the profile was soft-deleted/free-text reason given for the soft delete/" "$edited"
echo "The edit:"
diff -u --label "migrations/$(basename "$edited") (as applied)" --label "migrations/$(basename "$edited") (edited)" \
	"$MIGRATIONS/$(basename "$edited")" "$edited" || true
echo
if out=$(apply_file "$edited" 2>&1); then
	echo "$out"
	echo "UNEXPECTED: the edited migration was accepted" >&2
	exit 1
fi
echo "$out"
if ! grep -q "was already applied with a different checksum" <<<"$out"; then
	echo "UNEXPECTED: the edited migration failed for another reason" >&2
	exit 1
fi
echo
echo "pg_migrate verify on a folder holding the edited file says which file changed, and exits 1:"
mkdir "$work/edited" && cp "$MIGRATIONS"/*.sql "$work/edited/" && cp "$edited" "$work/edited/"
printf '$ pg_migrate -d %s verify <folder with the edited file>\n' "$DB"
rc=0
"$PG_MIGRATE" -d "$DB" verify "$work/edited" | sed "s|$work/edited|<folder>|" || rc=$?
[ "$rc" -eq 1 ] || { echo "UNEXPECTED: pg_migrate verify exited $rc, not 1" >&2; exit 1; }
echo
echo "Expected: refused. Nothing ran, the column comment is still the original:"
show "SELECT col_description('public.profiles'::regclass, attnum) AS deletion_reason_comment FROM pg_attribute WHERE attrelid = 'public.profiles'::regclass AND attname = 'deletion_reason'"

# -----------------------------------------------------------------------------
step "verify the soft-delete migration now" \
	"migrate.verify() re-runs the stored verify checks against the current schema and reports each one."
show "SELECT check_no, passed, message, check_sql FROM migrate.verify('$SOFT_DELETE')"

# -----------------------------------------------------------------------------
step "revert the soft-delete migration" \
	"migrate.revert() runs the stored down script in one transaction and marks the migration reverted."
show "SELECT migrate.revert('$SOFT_DELETE') AS result"
show "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'profiles' ORDER BY ordinal_position"
show "SELECT version, name, state FROM migrate.status() WHERE version = '$SOFT_DELETE'"
n=$(psql_app -At -c "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'profiles' AND column_name IN ('deleted_by', 'deletion_reason')")
[ "$n" -eq 0 ] || { echo "UNEXPECTED: the soft-delete columns are still there" >&2; exit 1; }

# -----------------------------------------------------------------------------
step "re-apply the soft-delete migration" \
	"A reverted migration can be applied again from its (unchanged) file; its verify checks run again."
apply_file "$MIGRATIONS/${SOFT_DELETE}__bridge_add_soft_delete.sql"
show "SELECT version, name, state FROM migrate.status() WHERE version = '$SOFT_DELETE'"

# -----------------------------------------------------------------------------
step "history" \
	"migrate.history is append-only: every apply and revert, by whom and how long the script took (ms). Skips and refusals change nothing, so they leave no entry."
show "SELECT id, action, version, name, session_user_name, details->>'execution_ms' AS execution_ms FROM migrate.history ORDER BY id"

# -----------------------------------------------------------------------------
step "dev and prod diverged: compare and reconcile them with pg_migrate" \
	"Scenario S1. Production ($PROD) only ever got the profiles migration. pg_migrate compare connects to both databases, exports the history on one and compares it on the other, and compares their schemas; it exits 1 while they differ. Then pg_migrate up brings prod level, and compare finds nothing: the same migrations (same fingerprint) and the same schema."
psql -X -q -v ON_ERROR_STOP=1 -d postgres <<SQL
SET client_min_messages = warning;
DROP DATABASE IF EXISTS $PROD;
CREATE DATABASE $PROD;
SQL
psql -X -q -v ON_ERROR_STOP=1 -d "$PROD" <<'SQL'
CREATE SCHEMA auth;
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE
AS $$ SELECT nullif(current_setting('request.jwt.claims', true)::jsonb ->> 'sub', '')::uuid $$;
GRANT USAGE ON SCHEMA auth TO authenticated;
CREATE EXTENSION migrate_ext;
SQL
"$PG_MIGRATE" -q -d "$PROD" up --target 20251001090000 "$MIGRATIONS"
printf '$ pg_migrate compare %s %s   (schema lines cut)\n' "$DB" "$PROD"
rc=0
"$PG_MIGRATE" compare "$DB" "$PROD" | cut -c1-110 || rc=$?
[ "$rc" -eq 1 ] || { echo "UNEXPECTED: compare of the diverged databases exited $rc, not 1" >&2; exit 1; }
echo
printf '$ pg_migrate -d %s up test/demo/migrations\n' "$PROD"
"$PG_MIGRATE" -d "$PROD" up "$MIGRATIONS"
printf '$ pg_migrate compare %s %s\n' "$DB" "$PROD"
"$PG_MIGRATE" compare "$DB" "$PROD" | sed 's/fingerprint \([0-9a-f]\{12\}\)[0-9a-f]*/fingerprint \1.../' \
	|| { echo "UNEXPECTED: dev and prod still differ after the bridge migrations" >&2; exit 1; }

# -----------------------------------------------------------------------------
PENDING="$here/pending"
RISKY="$PENDING/20251020090000__profiles_status.risky.sql"
SAFE="$PENDING/20251020090000__profiles_status.sql"
psql_app -c "ANALYZE public.profiles"
step "lint a risky migration before it runs" \
	"migrate.lint parses the draft with the server's own parser and looks at the live table: the lock each statement takes, and what would hurt production."
sed 's/^/    /' "$RISKY"
echo
psql_app -v script="$(cat "$RISKY")" <<'SQL'
SELECT statement_no AS stmt, rule, severity, lock_mode, relation
  FROM migrate.lint(:'script') ORDER BY statement_no, rule;
SQL

# -----------------------------------------------------------------------------
step "lint policy: the risky draft is refused" \
	"With migrate.lint_level = error, migrate.apply refuses a migration with error findings before anything runs."
rc=0
psql -X -q -P pager=off -d "$DB" -v ON_ERROR_STOP=1 -v script="$(cat "$RISKY")" 2>&1 <<'SQL' || rc=$?
SET client_min_messages = error;
SET migrate.lint_level = error;
SELECT migrate.apply('20251020090000', 'profiles_status', :'script');
SQL
if [ "$rc" -eq 0 ]; then
	echo "demo: the risky draft was NOT refused" >&2
	exit 1
fi
echo
echo "Expected: refused, nothing ran:"
show "SELECT count(*) AS status_columns FROM information_schema.columns WHERE table_name = 'profiles' AND column_name = 'status'"

# -----------------------------------------------------------------------------
step "the safe rewrite: lint, dry run, apply" \
	"The rewritten migration only has informational findings. migrate.dry_run runs it for real in a subtransaction, reports time, rows and the locks each statement took, then rolls everything back."
sed 's/^/    /' "$SAFE"
echo
psql_app -v script="$(cat "$SAFE")" <<'SQL'
SELECT statement_no AS stmt, rule, severity, lock_mode
  FROM migrate.lint(:'script') WHERE rule <> 'lock-profile' ORDER BY 1, 2;
SELECT statement_no AS stmt, command, rows, locks, error FROM migrate.dry_run(:'script');
SELECT count(*) AS status_columns_after_dry_run FROM information_schema.columns
 WHERE table_name = 'profiles' AND column_name = 'status';
SQL
apply_file "$SAFE"
show "SELECT email, status FROM public.profiles"

# -----------------------------------------------------------------------------
step "an index built concurrently, outside a transaction" \
	"CREATE INDEX CONCURRENTLY cannot run inside a transaction, so migrate.apply refuses it. pg_migrate asks the server which statements cannot (migrate.script_statements), runs them one by one outside a transaction with migrate.lock_timeout, then records the migration with migrate.record_applied: same checksum, history entry, hash chain and verify checks as an apply."
sed 's/^/    /' "$here/concurrent/20251021090000__profiles_email_lookup_idx.sql"
echo
printf '$ pg_migrate -d %s up test/demo/concurrent\n' "$DB"
"$PG_MIGRATE" -d "$DB" up "$here/concurrent"
show "SELECT indexrelid::regclass AS index, indisvalid AS valid FROM pg_index WHERE indexrelid = 'public.profiles_email_lower_idx'::regclass"
show "SELECT action, version, details->'recorded_from'->>'non_transactional' AS outside_a_transaction FROM migrate.history ORDER BY id DESC LIMIT 1"

# -----------------------------------------------------------------------------
step "audit who changes profiles, in C" \
	"migrate.audit_enable installs the extension's C audit triggers: every change is logged with who made it (session and application user), from where, and in which migration."
psql_app <<'SQL'
\o /dev/null
SELECT migrate.audit_enable('public.profiles', exclude_columns => '{}');
BEGIN;
SET LOCAL migrate.app_user = 'alice@support';
SET LOCAL application_name = 'support-console';
UPDATE public.profiles SET display_name = 'Ada Lovelace' WHERE email = 'ada@example.com';
COMMIT;
SELECT pg_sleep(0.01);
BEGIN;
SET LOCAL migrate.app_user = 'bob@moderation';
UPDATE public.profiles SET status = 'suspended' WHERE email = 'ada@example.com';
COMMIT;
\o
SQL
show "SELECT operation, changed_columns, old_values, new_values, app_user, application_name, session_user_name FROM migrate.audit_log WHERE table_name = 'profiles' ORDER BY id"

# -----------------------------------------------------------------------------
step "the row as it was, and undoing the last change" \
	"migrate.audit_row_as_of rebuilds the row at a time from the current row and the log; migrate.audit_revert puts it back (refusing when it would overwrite more than one later change)."
psql_app <<'SQL'
SELECT migrate.audit_row_as_of('public.profiles', l.row_key, l.logged_at) ->> 'status' AS status_after_alice
  FROM migrate.audit_log l WHERE l.table_name = 'profiles' AND l.app_user = 'alice@support';
SELECT migrate.audit_revert('public.profiles', l.row_key, l.logged_at) AS undo_bob
  FROM migrate.audit_log l WHERE l.table_name = 'profiles' AND l.app_user = 'alice@support';
SELECT display_name, status FROM public.profiles WHERE email = 'ada@example.com';
SQL

# -----------------------------------------------------------------------------
step "drift: an out-of-band change on production, with who and when" \
	"Scenario S4. migrate.snapshot_save records the schema the migrations produced as the expected one. Then a DBA changes production by hand from a laptop, outside any migration. Event triggers write every DDL command to the ledger (migrate.ddl_log), so migrate.drift finds each difference and says who made it, when and with which statement. Changes made through migrate.apply count as in-band, so nobody is blamed for them."
show "SELECT migrate.snapshot_save('after the bridge migrations') > 0 AS saved"
show "SELECT count(*) AS differences FROM migrate.drift()"
# the DBA's own login role (the role is global: created once per cluster)
psql_app -v pw="${PGPASSWORD:-}" <<'SQL'
SET client_min_messages = warning;
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ops_dba') AS create_dba \gset
\if :create_dba
CREATE ROLE ops_dba LOGIN SUPERUSER PASSWORD :'pw';
\endif
SQL
echo "Meanwhile, ops_dba connects with application_name dba-laptop and changes production by hand:"
dba_sql="ALTER POLICY profiles_owner_select ON public.profiles USING (true);
CREATE INDEX profiles_display_name_idx ON public.profiles (display_name);"
sed 's/^/    /' <<<"$dba_sql"
# a separate session, as another role and application, outside migrate.apply
PGUSER=ops_dba PGAPPNAME=dba-laptop psql -X -q -v ON_ERROR_STOP=1 -d "$DB" <<<"$dba_sql"
echo
echo "The widened policy lets every signed-in user read every profile. migrate.drift shows what changed (changed_at cut to the second):"
psql_app <<'SQL'
\x on
SELECT kind, identity, change, attribute, expected, actual, changed_by, changed_at::time(0), statement
  FROM migrate.drift();
\x off
SQL
# the check reads drift in a read-only transaction, which records no second drift_found event
n=$(psql_app -At <<'SQL'
BEGIN READ ONLY;
SELECT count(*) FILTER (WHERE changed_by LIKE 'ops_dba (%application dba-laptop%') || '/' || count(*) FROM migrate.drift();
COMMIT;
SQL
)
[ "$n" = "2/2" ] || { echo "UNEXPECTED: drift should report the two changes by ops_dba from dba-laptop, got $n" >&2; exit 1; }
echo "migrate.drift also recorded a drift_found warning event, which monitoring can pick up:"
show "SELECT kind, severity, message FROM migrate.events WHERE kind = 'drift_found' ORDER BY id"

# -----------------------------------------------------------------------------
step "a data migration with a reconciliation report" \
	"Scenario S3: legacy messages move into a new messages table. Legacy integer ids become UUID keys (legacy_message_id kept for traceability), the author's e-mail becomes a profile id, body becomes content and created becomes uploaded_at. migrate.copy_rows copies in batches ordered by the legacy id, each in a subtransaction; rows that fail are skipped and recorded with their error, the rest go in; migrate.reconcile then compares the keys on both sides."
psql_app <<'SQL'
\o /dev/null
CREATE TABLE public.legacy_messages (id int PRIMARY KEY, author_email text, body text, created text);
INSERT INTO public.legacy_messages
SELECT g, CASE WHEN g IN (4, 9) THEN 'gone@example.com' ELSE 'ada@example.com' END,
       CASE WHEN g = 7 THEN NULL ELSE 'message ' || g END, '2025-09-' || lpad(g::text, 2, '0') || ' 10:00:00+00'
  FROM generate_series(1, 12) g;
CREATE TABLE public.messages (
    id                uuid PRIMARY KEY,
    legacy_message_id int UNIQUE NOT NULL,
    profile_id        uuid NOT NULL REFERENCES public.profiles,
    content           text NOT NULL,
    uploaded_at       timestamptz NOT NULL
);
\o
SELECT r ->> 'rows_read' AS rows_read, r ->> 'rows_copied' AS copied, r ->> 'rows_failed' AS failed,
       r ->> 'batches' AS batches, r ->> 'state' AS state
  FROM migrate.copy_rows('messages_from_legacy',
       $$SELECT md5('message ' || m.id)::uuid AS id, m.id AS legacy_message_id,
                (SELECT p.id FROM public.profiles p WHERE p.email = m.author_email) AS profile_id,
                m.body AS content, m.created::timestamptz AS uploaded_at
           FROM public.legacy_messages m$$,
       'public.messages', '{legacy_message_id}', batch_size => 5) r;
SELECT row_key ->> 'legacy_message_id' AS legacy_id, sqlstate, message
  FROM migrate.copy_errors WHERE job = 'messages_from_legacy' ORDER BY id;
SELECT jsonb_pretty(migrate.reconcile('SELECT id AS legacy_message_id FROM public.legacy_messages',
                                      'public.messages', '{legacy_message_id}')) AS report;
SELECT state, rows_copied, rows_failed, last_key FROM migrate.copy_jobs WHERE job = 'messages_from_legacy';
SQL
echo "Running the same job again (the query on one line this time) does nothing: it finished, and says so with its totals."
show "SELECT r ->> 'state' AS state, r ->> 'resumed' AS resumed, r ->> 'rows_copied' AS copied_in_all FROM migrate.copy_rows('messages_from_legacy', \$\$SELECT md5('message ' || m.id)::uuid AS id, m.id AS legacy_message_id, (SELECT p.id FROM public.profiles p WHERE p.email = m.author_email) AS profile_id, m.body AS content, m.created::timestamptz AS uploaded_at FROM public.legacy_messages m\$\$, 'public.messages', '{legacy_message_id}', batch_size => 5) r"
n=$(psql_app -At -c "SELECT (migrate.reconcile('SELECT id AS legacy_message_id FROM public.legacy_messages', 'public.messages', '{legacy_message_id}') -> 'missing_keys')::text")
[ "$n" = "[4, 7, 9]" ] || { echo "UNEXPECTED: reconcile should miss exactly 4, 7 and 9, got $n" >&2; exit 1; }

# -----------------------------------------------------------------------------
step "monitoring events: what happened, recorded in the database" \
	"Every apply, revert, refusal and audit change above recorded an event in migrate.events (the refusal in its own transaction, so it survived the rollback). Applications record their own with migrate.record_event; warnings and worse are also sent with NOTIFY migrate_events."
psql_app <<'SQL'
SELECT kind, severity, migration_version, message
  FROM migrate.events
 WHERE kind IN ('migration_applied', 'migration_refused', 'migration_reverted', 'audit_enabled')
 ORDER BY id;
LISTEN migrate_events;
SELECT migrate.record_event('avatar_upload', 'warning', 'storage bucket avatars is 91% full',
                            '{"bucket": "avatars", "used_pct": 91}') > 0 AS recorded;
BEGIN;
SELECT migrate.record_event('payment_sync', 'error', 'provider timed out',
                            '{"provider": "stripe"}', autonomous => true) > 0 AS recorded_autonomously;
ROLLBACK;
SELECT kind, severity, message FROM migrate.events WHERE kind IN ('avatar_upload', 'payment_sync') ORDER BY id;
SQL

# -----------------------------------------------------------------------------
step "dashboard summary and retention" \
	"migrate.monitoring_summary gives the dashboard in one jsonb; migrate.maintain creates partitions ahead and drops expired ones whole (DROP instead of DELETE: no bloat, almost no WAL)."
psql_app <<'SQL'
SELECT jsonb_pretty(migrate.monitoring_summary('1 hour') - 'longest_running' - 'idle_in_transaction'
                    - 'blocked_sessions' - 'tables_needing_vacuum' - 'latest_errors' - 'generated_at'
                    - 'database_size_bytes' - 'cache_hit_ratio' - 'database_size' - 'connections_by_state') AS summary;
SELECT what, severity, keep FROM migrate.retention ORDER BY what, severity NULLS FIRST;
SELECT jsonb_array_length(m -> 'created_partitions') AS partitions_created,
       m -> 'dropped_partitions' AS dropped
  FROM migrate.maintain() m;
SELECT schema_name, table_name, rls_enabled, policies, verdict FROM migrate.rls_status ORDER BY 1, 2;
SQL

# -----------------------------------------------------------------------------
printf '\n== Summary ==\n'
psql_app -At <<'SQL'
SELECT format('- migrate.migrations: %s migrations, %s', sum(n),
              string_agg(format('%s %s', n, state), ', ' ORDER BY state))
  FROM (SELECT state, count(*) AS n FROM migrate.migrations GROUP BY state) s;
SELECT format('- migrate.history: %s entries, %s', sum(n),
              string_agg(format('%s %s', n, action), ', ' ORDER BY action))
  FROM (SELECT action, count(*) AS n FROM migrate.history GROUP BY action) h;
SQL
cat <<'TEXT'
- profiles, then three bridge migrations (audit trail, upload error log, soft-delete
  columns) were applied once each, every one checked by its verify queries before
  it committed.
- Re-running the whole folder changed nothing: every migration returned already_applied.
- The edited soft-delete file was refused (checksum mismatch) and nothing of it ran.
- migrate.verify confirmed the soft-delete columns; migrate.revert removed them with the
  stored down script; applying the unchanged file again restored them.
- migrate.history records every apply and revert, who ran it and how long it took.
- pg_migrate applied the folder, showed its status, flagged the edited file (verify), and
  reconciled a production database that had only the first migration: compare showed
  the three missing bridges and the schema differences, and after pg_migrate up the two
  databases had the same fingerprint and no differences.
- migrate.lint found the outages in a draft (index without CONCURRENTLY, NOT NULL
  without default on a table with rows, CHECK validated under lock); with
  migrate.lint_level = error it was refused before running; the safe rewrite was
  dry-run (locks shown, nothing changed) and then applied.
- A CREATE INDEX CONCURRENTLY migration ran through pg_migrate outside a transaction and
  was recorded with migrate.record_applied (verify check included).
- migrate.copy_rows moved 12 legacy messages in batches: 9 copied, the 3 that could not be
  (two unknown authors, one without a body) skipped and recorded with their errors;
  migrate.reconcile reported the 3 missing legacy ids and a success rate of 75%.
- migrate.audit_enable turned on C audit triggers on profiles: each change was logged
  with the application user, application and session user; the row was rebuilt as it
  was after alice's change, and bob's later change was reverted.
- migrate.snapshot_save recorded the expected schema; ops_dba then widened an RLS policy
  and created an index by hand (application dba-laptop), and migrate.drift found both
  changes from the DDL ledger, each with who made it, when and the statement, and
  recorded a drift_found warning event.
- migrate.events holds what happened (applies, the refusal, audit changes, the app's own
  warning and the autonomous error that survived its rollback); migrate.maintain keeps
  it partitioned by day and drops expired days whole.
TEXT
echo
echo "demo: OK"
