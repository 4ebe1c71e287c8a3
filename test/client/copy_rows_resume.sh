#!/usr/bin/env bash
# TAP: migrate.copy_rows_each (commits after each batch) interrupted in the
# middle of a job, by an error that is not about a row and by the death of
# its backend (pg_terminate_backend), resumes from its last committed batch
# when called again: no row copied twice, none lost, the counts add up.
# Runs inside a throwaway cluster (pg_virtualenv -t), like pg_migrate.sh:
#   pg_virtualenv -t prove --exec bash test/client/copy_rows_resume.sh
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/tap.sh
. "$here/lib/tap.sh"

require_server
DB=pgm_copy_resume
dropdb --if-exists --force "$DB" >/dev/null 2>&1
createdb "$DB" || bail_out "cannot create $DB"
trap 'dropdb --if-exists --force "$DB" >/dev/null 2>&1' EXIT


sql "$DB" "CREATE EXTENSION migrate_ext;
CREATE TABLE src (id int PRIMARY KEY, label text);
INSERT INTO src SELECT g, 'row ' || g FROM generate_series(1, 50) g;
CREATE TABLE dst (k int PRIMARY KEY, name text);
-- the trap: an error that is not about a row (57014) or a long sleep, on key 27
CREATE TABLE trap (mode text);
CREATE FUNCTION trap_fn() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	IF NEW.k = 27 THEN
		IF (SELECT mode FROM trap) = 'cancel' THEN
			RAISE EXCEPTION 'simulated cancel at 27' USING ERRCODE = 'query_canceled';
		ELSIF (SELECT mode FROM trap) = 'sleep' THEN
			PERFORM pg_sleep(30);
		END IF;
	END IF;
	RETURN NEW;
END \$\$;
CREATE TRIGGER trap BEFORE INSERT ON dst FOR EACH ROW EXECUTE FUNCTION trap_fn();
INSERT INTO trap VALUES ('cancel');" >/dev/null || bail_out "setup failed"

CALL_EACH="CALL migrate.copy_rows_each('resume', 'SELECT id AS k, label AS name FROM src', 'dst', '{k}', 10)"

# 1. an error that is not about a row stops the job in batch 3
out=$(sql "$DB" "$CALL_EACH")
rc=$?
isnt "$rc" "0" "an error that is not about a row stops copy_rows_each"
like "$out" "simulated cancel at 27" "... with that error"
is "$(sql "$DB" "SELECT count(*) FROM dst")" "20" "the two committed batches stay"
is "$(sql "$DB" "SELECT state, rows_copied, batches, last_key FROM migrate.copy_jobs WHERE job = 'resume'" | tr '|' ' ')" \
	'running 20 2 {"k": "20"}' "copy_jobs: running, 20 rows, 2 batches, the last key of batch 2"
is "$(sql "$DB" "SELECT count(*) FROM migrate.copy_errors WHERE job = 'resume'")" "0" "the error is not recorded as a row failure"

# 2. called again (still failing): nothing more, nothing twice
out=$(sql "$DB" "$CALL_EACH")
is "$(sql "$DB" "SELECT count(*) FROM dst")" "20" "a second failing call adds nothing"

# 3. the cause is gone: it resumes after key 20
sql "$DB" "UPDATE trap SET mode = 'none'" >/dev/null
out=$(sql "$DB" "$CALL_EACH")
is "$?" "0" "after the cause is fixed, the same CALL goes on"
is "$(sql "$DB" "SELECT count(*), count(DISTINCT k), min(k), max(k) FROM dst" | tr '|' ' ')" "50 50 1 50" \
	"every row copied once"
is "$(sql "$DB" "SELECT state, rows_copied, rows_failed, batches FROM migrate.copy_jobs WHERE job = 'resume'" | tr '|' ' ')" \
	"finished 50 0 5" "copy_jobs: finished, 50 copied, 5 batches in all"

# 4. the backend dies in the middle of a batch: the committed batches stay
sql "$DB" "TRUNCATE dst; UPDATE trap SET mode = 'sleep'" >/dev/null
PGAPPNAME=copy_victim PGOPTIONS="-c client_min_messages=warning" \
	psql -XAtq -d "$DB" -c "CALL migrate.copy_rows_each('crash', 'SELECT id AS k, label AS name FROM src', 'dst', '{k}', 10)" \
	>/dev/null 2>&1 &
victim=$!
for _ in $(seq 1 100); do
	[ "$(sql "$DB" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'copy_victim' AND wait_event = 'PgSleep'")" = "1" ] && break
	sleep 0.1
done
is "$(sql "$DB" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'copy_victim'")" "t" \
	"the copying backend is terminated while it sleeps in batch 3"
wait "$victim"
is "$(sql "$DB" "SELECT count(*) FROM dst")" "20" "after the crash of its backend, the two committed batches stay"
is "$(sql "$DB" "SELECT state, rows_copied FROM migrate.copy_jobs WHERE job = 'crash'" | tr '|' ' ')" "running 20" \
	"copy_jobs says running, 20 rows"
sql "$DB" "UPDATE trap SET mode = 'none'" >/dev/null
out=$(sql "$DB" "CALL migrate.copy_rows_each('crash', 'SELECT id AS k, label AS name FROM src', 'dst', '{k}', 10)")
is "$?" "0" "called again, it resumes"
is "$(sql "$DB" "SELECT count(*), count(DISTINCT k) FROM dst" | tr '|' ' ')" "50 50" "every row copied once after the crash"
is "$(sql "$DB" "SELECT state, rows_copied FROM migrate.copy_jobs WHERE job = 'crash'" | tr '|' ' ')" "finished 50" \
	"the job finished with 50 rows"

# 5. reconcile agrees
is "$(sql "$DB" "SELECT migrate.reconcile('SELECT id AS k FROM src', 'dst', '{k}') ->> 'success_rate'")" "100.00" \
	"reconcile: success_rate 100.00"

done_testing
