#!/usr/bin/env bash
# TAP (issue 9): the memory of a backend that calls each function of the
# extension many times (100,000 for the cheap ones) stays flat.
#
# Each function runs in its own backend (one psql kept open as a bash
# coprocess), in a DO/plpgsql loop split into chunks, each chunk its own
# statement (and transaction), so per-statement memory is released between
# them. After the first chunk (the warm-up: catalog caches, kept plans, ...)
# and after the last one, the backend's memory is measured:
#   - ctx: sum(total_bytes) of pg_backend_memory_contexts, from that session;
#   - RssAnon / VmRSS: /proc/<pid>/status of that backend, read from the shell.
#     RssAnon (private anonymous memory: palloc'd and malloc'd memory) is what
#     is asserted; VmRSS is only printed, because it also counts the shared
#     buffers the backend touches (RssShmem), which grows with the data a
#     loop writes (events, audit rows) without being a leak.
# The growth between the warm-up and the end must stay below CTX_LIMIT and
# RSS_LIMIT. The figures are printed as diag lines.
#
# Runs inside a throwaway cluster (pg_virtualenv -t), as a superuser:
#   pg_virtualenv -t prove -v --exec bash test/client/memory_flat.sh
# MEM_SCALE (default 1) divides every count, for a quick try.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/tap.sh
. "$here/lib/tap.sh"

require_server
DB=pgm_mem
CHUNKS=10
CTX_LIMIT=$((2 * 1024 * 1024)) # bytes of memory contexts
RSS_LIMIT=$((8 * 1024))        # kB of RssAnon
SCALE=${MEM_SCALE:-1}

dropdb --if-exists --force "$DB" >/dev/null 2>&1
createdb "$DB" || bail_out "cannot create $DB"
cleanup() {
	[ -n "${PSQL_PID:-}" ] && kill "$PSQL_PID" 2>/dev/null
	dropdb --if-exists --force "$DB" >/dev/null 2>&1
}
trap cleanup EXIT


out=$(sql "$DB" "CREATE EXTENSION migrate_ext;
CREATE TABLE public.t (id int PRIMARY KEY, v int, note text);
INSERT INTO public.t SELECT g, g, 'row ' || g FROM generate_series(1, 20) g;
CREATE INDEX t_v_idx ON public.t (v);
-- audited: rows 1..1000 are updated by the loop, 1001 has a short history
CREATE TABLE public.aud (id int PRIMARY KEY, v int, label text);
INSERT INTO public.aud SELECT g, 0, 'label ' || g FROM generate_series(1, 1001) g;
SELECT migrate.audit_enable('public.aud');
UPDATE public.aud SET v = 1 WHERE id = 1001;
UPDATE public.aud SET v = 2, label = 'changed' WHERE id = 1001;
UPDATE public.aud SET v = 3 WHERE id = 1001;
-- copy_rows / reconcile: a tiny source and target
CREATE TABLE public.csrc (id int PRIMARY KEY, label text);
INSERT INTO public.csrc SELECT g, 'c ' || g FROM generate_series(1, 5) g;
CREATE TABLE public.cdst (k int PRIMARY KEY, name text);
SELECT migrate.copy_rows('mem_done', 'SELECT id AS k, label AS name FROM public.csrc', 'public.cdst', '{k}');
-- a few applied migrations
SELECT migrate.apply('1', 'one', 'CREATE TABLE public.m1 (a int)');
SELECT migrate.apply('2', 'two', 'ALTER TABLE public.m1 ADD COLUMN b int', down_script => 'ALTER TABLE public.m1 DROP COLUMN b');
SELECT migrate.apply('3', 'three', 'CREATE INDEX m1_a ON public.m1 (a)');") || bail_out "setup failed: $out"

is "$(sql "$DB" "SELECT migrate.apply('1', 'one', 'CREATE TABLE public.m1 (a int)')")" "already_applied" \
	"setup: applying migration 1 again returns already_applied"
is "$(sql "$DB" "SELECT migrate.copy_rows('mem_done', 'SELECT id AS k, label AS name FROM public.csrc', 'public.cdst', '{k}') ->> 'state'")" \
	"finished" "setup: copy job mem_done is finished"
is "$(sql "$DB" "SELECT count(*) FROM migrate.audit_log WHERE row_key = '{\"id\": 1001}'")" "3" \
	"setup: the audited row 1001 has 3 logged changes"

# --- one backend, kept open -------------------------------------------------
PSQL_PID=
open_backend() {
	coproc PSQL { PGOPTIONS="-c client_min_messages=warning" exec psql -XAtq -v ON_ERROR_STOP=0 -d "$DB" 2>&1; }
}
close_backend() {
	printf '\\q\n' >&"${PSQL[1]}"
	wait "$PSQL_PID" 2>/dev/null
	PSQL_PID=
}
# q SQL: run SQL in the kept backend; Q = its output (errors included)
q() {
	local line
	Q=
	printf '%s;\n\\echo @@END@@\n' "$1" >&"${PSQL[1]}"
	while IFS= read -r -t 300 line <&"${PSQL[0]}"; do
		[ "$line" = "@@END@@" ] && return 0
		Q+="${Q:+$'\n'}$line"
	done
	Q+=" (no answer from the backend)"
	return 1
}
rss() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
kb() { awk -v b="$1" 'BEGIN { printf "%+.1f", b / 1024 }'; }

SUMMARY=()
# measure NAME COUNT BODY: run BODY (plpgsql, loop variable i) COUNT times
measure() {
	local name=$1 count=$2 body=$3
	count=$((count / SCALE))
	local per=$((count / CHUNKS)) c lo hi errs="" t0 t1
	local pid ctx0 ctx1 anon0 anon1 vm0 vm1
	open_backend
	q "SELECT pg_backend_pid()"
	pid=$Q
	t0=$(date +%s.%N)
	for c in $(seq 1 "$CHUNKS"); do
		lo=$(((c - 1) * per + 1))
		hi=$((c * per))
		q "DO \$mem\$ BEGIN FOR i IN $lo..$hi LOOP $body; END LOOP; END \$mem\$;"
		[ -n "$Q" ] && errs+="$Q"$'\n'
		if [ "$c" = 1 ]; then
			q "SELECT sum(total_bytes) FROM pg_backend_memory_contexts"
			ctx0=$Q
			anon0=$(rss "$pid" RssAnon)
			vm0=$(rss "$pid" VmRSS)
		fi
	done
	q "SELECT sum(total_bytes) FROM pg_backend_memory_contexts"
	ctx1=$Q
	anon1=$(rss "$pid" RssAnon)
	vm1=$(rss "$pid" VmRSS)
	t1=$(date +%s.%N)
	close_backend
	local secs dctx danon dvm
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	dctx=$((ctx1 - ctx0))
	danon=$((anon1 - anon0))
	dvm=$((vm1 - vm0))
	is "$errs" "" "$name: $count calls in $CHUNKS chunks without error"
	diag "$name: $count calls, ${secs}s; contexts ${ctx0} -> ${ctx1} bytes ($(kb "$dctx") kB); RssAnon ${anon0} -> ${anon1} kB (+${danon}); VmRSS ${vm0} -> ${vm1} kB (+${dvm})"
	SUMMARY+=("$(printf '%-28s %7d %6s %+10.1f %+8d %+8d' "$name" "$count" "$secs" "$(kb "$dctx")" "$danon" "$dvm")")
	if [ "$dctx" -lt "$CTX_LIMIT" ]; then
		pass "$name: memory contexts grow less than $((CTX_LIMIT / 1024)) kB after the warm-up ($(kb "$dctx") kB)"
	else
		fail "$name: memory contexts grow less than $((CTX_LIMIT / 1024)) kB after the warm-up" \
			"  grew by $dctx bytes ($ctx0 -> $ctx1)"
	fi
	if [ "$danon" -lt "$RSS_LIMIT" ]; then
		pass "$name: RssAnon grows less than $((RSS_LIMIT / 1024)) MB after the warm-up ($(printf %+d "$danon") kB)"
	else
		fail "$name: RssAnon grows less than $((RSS_LIMIT / 1024)) MB after the warm-up" \
			"  grew by $danon kB ($anon0 -> $anon1)"
	fi
}

LINT_SCRIPT="ALTER TABLE public.t ADD COLUMN x int NOT NULL DEFAULT 0; CREATE INDEX t_note_idx ON public.t (note); UPDATE public.t SET v = 0"

# the cheap ones: 100,000 calls
measure "lint" 100000 \
	"PERFORM * FROM migrate.lint('$LINT_SCRIPT -- ' || i)"
measure "checksum" 100000 \
	"PERFORM migrate.checksum('CREATE TABLE t' || i || E' (a int);\\r\\nCREATE INDEX ON t' || i || ' (a);')"
measure "script_statements" 100000 \
	"PERFORM * FROM migrate.script_statements('ALTER TABLE t ADD COLUMN b' || i || ' int; CREATE INDEX CONCURRENTLY i' || i || ' ON t (a); SELECT 1')"
measure "version_compare" 100000 \
	"PERFORM migrate.version_compare('1.2.' || i, '1.10.' || (i % 97))"
measure "record_event" 100000 \
	"PERFORM migrate.record_event('mem_test', 'info', 'call ' || i, jsonb_build_object('i', i))"

is "$(sql "$DB" "SELECT count(*) FROM migrate.events WHERE kind = 'mem_test'")" "$((100000 / SCALE))" \
	"record_event: every call recorded its event"

# the expensive ones: fewer
measure "snapshot(public, public.t)" 2000 \
	"PERFORM migrate.snapshot(ARRAY['public'], ARRAY['public.t'])"
measure "status()" 10000 \
	"PERFORM * FROM migrate.status()"
measure "history_export()" 10000 \
	"PERFORM migrate.history_export()"
measure "fingerprint()" 10000 \
	"PERFORM migrate.fingerprint()"
measure "apply (already_applied)" 10000 \
	"PERFORM migrate.apply('1', 'one', 'CREATE TABLE public.m1 (a int)')"
measure "audit trigger (UPDATE)" 20000 \
	"UPDATE public.aud SET v = v + 1 WHERE id = i % 1000 + 1"
is "$(sql "$DB" "SELECT count(*) FROM migrate.audit_log WHERE operation = 'UPDATE'")" "$((20000 / SCALE + 3))" \
	"audit trigger: every UPDATE was logged"
measure "audit_row_as_of" 5000 \
	"PERFORM migrate.audit_row_as_of('public.aud', '{\"id\": 1001}', now())"
measure "reconcile" 10000 \
	"PERFORM migrate.reconcile('SELECT id AS k FROM public.csrc', 'public.cdst', '{k}')"
measure "copy_rows (finished job)" 10000 \
	"PERFORM migrate.copy_rows('mem_done', 'SELECT id AS k, label AS name FROM public.csrc', 'public.cdst', '{k}')"

diag "summary (growth between the warm-up chunk and the last chunk):"
diag "$(printf '%-28s %7s %6s %10s %8s %8s' function calls secs ctx_kB anon_kB vmrss_kB)"
for s in "${SUMMARY[@]}"; do diag "$s"; done

done_testing
