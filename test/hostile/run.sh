#!/usr/bin/env bash
# test/hostile/run.sh: hostile and malformed input for every SQL function and
# procedure of schema migrate (TAP). Inside a throwaway cluster (PGHOST/PGPORT/
# PGUSER set by pg_virtualenv -t, superuser):
#
#   pg_virtualenv -t prove -v --exec bash test/hostile/run.sh
#
# Creates a fresh database with migrate_ext and the fixtures of
# test/hostile/fixtures.sql, reads the functions from pg_catalog, generates the
# cases (test/hostile/gen.py: NULL in every argument, '' and injections in every
# text argument, 10 MB values, odd identifiers, wrong types, ...) and runs each
# in its own transaction (BEGIN; SET LOCAL statement_timeout; call; ROLLBACK;
# procedures in autocommit). One TAP line per case: "ok" when the call
# succeeded or failed with a SQLSTATE other than XX000, "not ok" for XX000, a
# lost connection (server crash or FATAL), a call that outlives its
# statement_timeout, or an injection that ran. After a lost connection it
# waits for the server to come back and goes on with the next case. Then a
# "# summary:" line, the cases slower than 5 s, and one last assertion: the
# table "victim" every injection aims at still exists with its rows.
#
# Environment: HOSTILE_DB (database, default migrate_hostile, dropped and
# created), HOSTILE_BATCH (cases per psql session, default 250),
# HOSTILE_KEEP=1 (keep the database and the work directory).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
here=test/hostile
db=${HOSTILE_DB:-migrate_hostile}
batch=${HOSTILE_BATCH:-250}
limit=60	# seconds a case may run (statement_timeout is 20s) before it counts as hung
work=$(mktemp -d "${TMPDIR:-/tmp}/migrate_hostile.XXXXXX")
export PGCLIENTENCODING=UTF8
py=$(python3 -c 'import sys; print(sys.executable)') || py=python3	# not through a pyenv shim each time
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

bail() {
	echo "Bail out! $*"
	exit 255
}

# waits until the server accepts connections again (after a crash the
# postmaster reinitializes); returns 1 after 120 s
server_up() {
	for _ in $(seq 1 240); do
		if psql -X -q -At -d "$db" -c 'SELECT 1' >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.5
	done
	return 1
}

# the server log of the pg_virtualenv cluster (for the reason of a crash)
logfile=$(pg_lsclusters -h 2>/dev/null | awk -v p="${PGPORT:-5432}" '$3 == p { print $7; exit }')
log_offset() {
	if [ -n "$logfile" ] && [ -r "$logfile" ]; then stat -c %s "$logfile"; else echo 0; fi
}

dropdb --if-exists "$db" >/dev/null 2>&1
createdb -E UTF8 -T template0 "$db" 2>/dev/null || createdb "$db" || bail "createdb $db failed"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION migrate_ext' >/dev/null ||
	bail "CREATE EXTENSION migrate_ext failed"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -o /dev/null -f "$here/fixtures.sql" >"$work/fixtures.log" 2>&1 || {
	cat "$work/fixtures.log"
	bail "fixtures failed"
}

# every function and procedure of schema migrate, with its input arguments
psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" >"$work/catalog.json" <<'SQL' || bail "reading the catalog failed"
SELECT json_agg(json_build_object(
         'sig', p.oid::regprocedure::text,
         'name', p.proname,
         'kind', p.prokind,
         'retset', p.proretset,
         'proargnames', p.proargnames,
         'proargmodes', p.proargmodes::text[],
         'argtypes', (SELECT coalesce(json_agg(format_type(t, NULL) ORDER BY o), '[]')
                        FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY u(t, o)))
       ORDER BY p.oid::regprocedure::text)
  FROM pg_catalog.pg_proc p
 WHERE p.pronamespace = 'migrate'::regnamespace
SQL
nfuncs=$(psql -X -q -At -d "$db" -c "SELECT count(*) FROM pg_proc WHERE pronamespace = 'migrate'::regnamespace")
ncases=$("$py" "$here/gen.py" cases "$work/catalog.json" "$work/cases.jsonl") || bail "generating the cases failed"
[ "$ncases" -ge 500 ] || bail "only $ncases cases generated"
echo "# $ncases cases for $nfuncs functions and procedures of schema migrate (work directory $work)" >&2

start=$(date +%s)
next=1
retries=0
outs=()
while [ "$next" -le "$ncases" ]; do
	last=$((next + batch - 1))
	[ "$last" -gt "$ncases" ] && last=$ncases
	out=$(printf '%s/out.%05d' "$work" "$next")
	[ "${#outs[@]}" -gt 0 ] && [ "${outs[-1]}" = "$out" ] || outs+=("$out")
	off=$(log_offset)
	begun=$("$py" "$here/gen.py" run "$db" "$work/cases.jsonl" "$next" "$last" "$out" "$limit")
	rc=$?
	if [ "$rc" -eq 4 ]; then
		# could not connect (the server is still recovering): nothing ran
		retries=$((retries + 1))
		[ "$retries" -le 10 ] || bail "cannot connect to run case $next"
		sleep 1
		server_up || bail "the server did not come back before case $next"
		continue
	fi
	retries=0
	if [ "$rc" -ne 0 ] || [ "${begun:-0}" -lt "$last" ]; then
		# connection lost, client failure or hang: the server's reason, then
		# wait for it to accept connections again (after a crash the
		# postmaster first ends every session, then recovers)
		sleep 1
		if [ -n "$logfile" ] && [ -r "$logfile" ]; then
			tail -c +"$((off + 1))" "$logfile" |
				grep -E 'terminated by signal|was terminated by|PANIC|TRAP:|exited with exit code' |
				head -20 | sed 's/^/@@log /' >>"$out"
		fi
		server_up || bail "the server did not come back after case $begun"
		[ "${begun:-0}" -ge "$next" ] || begun=$next
		next=$((begun + 1))
	else
		next=$((last + 1))
	fi
	# the session of the next batch must work
	server_up || bail "SELECT 1 fails after case $((next - 1))"
done
elapsed=$(($(date +%s) - start))

# one TAP line per case; failures, the summary and slow cases as diagnostics
"$py" "$here/gen.py" report "$work/cases.jsonl" "${outs[@]}" | tee "$work/report.tap"
failed=$(grep -c '^not ok' "$work/report.tap")
echo "# cases ran in ${elapsed} s" >&2

# the canary works: dropping victim is seen (WARNING) and refused (IJ001)
n=$((ncases + 1))
canary=$(psql -X -q -v VERBOSITY=verbose -d "$db" -c 'BEGIN' -c 'DROP TABLE public.victim' -c 'ROLLBACK' 2>&1)
if echo "$canary" | grep -q 'WARNING: .*HOSTILE-INJECTION' && echo "$canary" | grep -q 'ERROR:  IJ001'; then
	echo "ok $n - the injection canary fires: DROP TABLE victim is reported and refused"
else
	echo "not ok $n - the injection canary fires: DROP TABLE victim is reported and refused"
	echo "# got: $canary" >&2
	failed=$((failed + 1))
fi

# the last assertion: no injection dropped or emptied the table they all aim at
n=$((n + 1))
rows=$(psql -X -q -At -d "$db" -c "SELECT count(*) FROM public.victim" 2>&1)
if [ "$rows" = "10" ]; then
	echo "ok $n - victim table still exists with its 10 rows (no injection ran)"
else
	echo "not ok $n - victim table still exists with its 10 rows (no injection ran)"
	echo "# got: $rows" >&2
	failed=$((failed + 1))
fi
echo "1..$n"

if [ "${HOSTILE_KEEP:-0}" != 1 ]; then
	dropdb --if-exists "$db" >/dev/null 2>&1
	# the outputs of a failed run stay for a look
	[ "$failed" -eq 0 ] && rm -rf "$work"
fi
[ "$failed" -eq 0 ]
