#!/usr/bin/env bash
# TAP: migrate.copy_rows_each (commits after each batch) interrupted in the
# middle of a job, by an error that is not about a row and by the death of
# its backend (pg_terminate_backend), resumes from its last committed batch
# when called again: no row copied twice, none lost, the counts add up.
# Also the progress NOTICE of copy_rows and copy_rows_each, every
# migrate.copy_notice_batches batches, as psql shows it (pgTAP cannot see it).
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

# 6. the progress NOTICE, every migrate.copy_notice_batches batches (default
# 10, 0: none), with the job's totals so far; only the NOTICEs (stderr) kept
notices() {
	PGOPTIONS="-c client_min_messages=notice" psql -XAtq -v ON_ERROR_STOP=1 -d "$DB" "$@" 2>&1 >/dev/null
}
sql "$DB" "CREATE TABLE dst_n (k int PRIMARY KEY, name text CHECK (name <> 'row 13'));
INSERT INTO dst_n SELECT g, 'row ' || g FROM generate_series(1, 3) g;
CREATE TABLE dst_d (k int PRIMARY KEY, name text);
CREATE TABLE dst_z (k int PRIMARY KEY, name text);
CREATE TABLE dst_e (k int PRIMARY KEY, name text);" >/dev/null || bail_out "setup of the NOTICE checks failed"
# 50 rows in batches of 2: 25 batches, a NOTICE after batches 10 and 20
is "$(notices -c "SELECT migrate.copy_rows('notice_default', 'SELECT id AS k, label AS name FROM src', 'dst_d', '{k}', 2) ->> 'batches'")" \
	"NOTICE:  copy job notice_default: 10 batches, 20 rows copied, 0 skipped, 0 failed
NOTICE:  copy job notice_default: 20 batches, 40 rows copied, 0 skipped, 0 failed" \
	"a NOTICE every 10 batches by default (25 batches: after 10 and 20)"
# every 4 batches of 5 rows: 3 rows already there (skipped), row 13 fails its CHECK
is "$(notices -c "SET migrate.copy_notice_batches = 4" \
	-c "SELECT migrate.copy_rows('notice_4', 'SELECT id AS k, label AS name FROM src', 'dst_n', '{k}', 5) ->> 'batches'")" \
	"NOTICE:  copy job notice_4: 4 batches, 16 rows copied, 3 skipped, 1 failed
NOTICE:  copy job notice_4: 8 batches, 36 rows copied, 3 skipped, 1 failed" \
	"migrate.copy_notice_batches = 4: a NOTICE after batches 4 and 8 of 10, with the rows copied, skipped and failed so far"
is "$(notices -c "SET migrate.copy_notice_batches = 0" \
	-c "SELECT migrate.copy_rows('notice_0', 'SELECT id AS k, label AS name FROM src', 'dst_z', '{k}', 1) ->> 'batches'")" \
	"" "migrate.copy_notice_batches = 0: no NOTICE in 50 batches"
# copy_rows_each commits each batch in a step of its own: the count is the job's
is "$(notices -c "SET migrate.copy_notice_batches = 3" \
	-c "CALL migrate.copy_rows_each('notice_each', 'SELECT id AS k, label AS name FROM src', 'dst_e', '{k}', 10)")" \
	"NOTICE:  copy job notice_each: 3 batches, 30 rows copied, 0 skipped, 0 failed
NOTICE:  copy job notice_each: 5 batches, 50 rows copied, 0 skipped, 0 failed" \
	"copy_rows_each: a NOTICE after batch 3 of the job (across its commits), then its summary"

done_testing
