#!/usr/bin/env bash
# TAP tests of the pg_migrate client (src/pg_migrate.c), run against the
# installed binary ($(pg_config --bindir)/pg_migrate, or $PG_MIGRATE) inside a
# throwaway cluster (PGHOST/PGPORT/PGUSER set, e.g. by pg_virtualenv -t):
#
#   pg_virtualenv -t prove --exec bash test/client/pg_migrate.sh
#
# Every group creates its own databases (pgm_*, dropped on exit) with the
# extension and writes its migration folders into a mktemp directory (removed
# on exit). Checks exit codes exactly, the --json documents (parsed with
# python3) and the database itself (psql).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/tap.sh
. "$here/lib/tap.sh"

require_pg_migrate
command -v python3 >/dev/null || bail_out "python3 is needed to read the --json output"
require_server

W=$(mktemp -d "${TMPDIR:-/tmp}/pg_migrate_test.XXXXXX")
DBS=()
ROLES=()
cleanup() {
	local db r
	for db in "${DBS[@]}"; do
		dropdb --if-exists --force "$db" >/dev/null 2>&1
	done
	for r in "${ROLES[@]}"; do
		psql -XAtq -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1
	done
	rm -rf "$W"
}
trap cleanup EXIT
cd "$W" || bail_out "cannot cd to $W"

# newdb NAME [noext]: a fresh database pgm_NAME with migrate_ext
newdb() {
	create_test_db "pgm_$1" "${2:-}"
}

# mf DIR FILE: write stdin to DIR/FILE
mf() {
	mkdir -p "$1" && cat >"$1/$2"
}

# pgm ARG...: run pg_migrate (RC, OUT, ERR)
pgm() {
	run "$PGM" "$@"
}

# jv EXPR: a Python expression over the JSON document in $OUT (as d), printed
# flat: true/false/null, lists space-separated, sets sorted, dicts as JSON.
# sv(field[, key]) is "version=field ..." over d[key] (default "migrations").
_jv_py='
import json, sys
def fmt(v):
    if isinstance(v, bool): return "true" if v else "false"
    if v is None: return "null"
    if isinstance(v, (list, tuple)): return " ".join(fmt(x) for x in v)
    if isinstance(v, (set, frozenset)): return " ".join(sorted(fmt(x) for x in v))
    if isinstance(v, dict): return json.dumps(v, sort_keys=True)
    return str(v)
try:
    d = json.loads(sys.stdin.read())
except ValueError as e:
    print("INVALID JSON: %s" % e)
    sys.exit(0)
def sv(field, key="migrations"):
    return " ".join("%s=%s" % (m["version"], fmt(m[field])) for m in d[key])
def where(key, **cond):
    return [m for m in d[key] if all(m.get(k) == v for k, v in cond.items())]
try:
    print(fmt(eval(sys.argv[1])))
except Exception as e:
    print("ERROR %s: %s" % (type(e).__name__, e))
'
jv() {
	python3 -c "$_jv_py" "$1" <<<"$OUT"
}

# json_ok DESC: $OUT is one JSON object, without duplicate keys
json_ok() {
	local r
	r=$(python3 -c '
import json, sys
def hook(pairs):
    keys = [k for k, _ in pairs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ValueError("duplicate key(s): " + ", ".join(dup))
    return dict(pairs)
try:
    d = json.loads(sys.stdin.read(), object_pairs_hook=hook)
    print("ok" if isinstance(d, dict) else "not a JSON object")
except ValueError as e:
    print("invalid: %s" % e)
' <<<"$OUT")
	is "$r" ok "$1"
}

# states DB: "version:state ..." of migrate.migrations in natural version order
states() {
	sql "$1" "SELECT coalesce(string_agg(version || ':' || state, ' ' ORDER BY version_key), '') FROM migrate.migrations"
}

###########################################################################
# 1. command line
###########################################################################
pgm --help
exit_code 0 "--help exits 0"
help=$OUT
for c in up status verify down lint dry-run compare drift; do
	like "$help" "pg_migrate \[OPTION\]\.\.\. $c " "--help shows the command $c"
done
like "$help" "64 +bad command line" "--help documents the exit status 64"
pgm -?
exit_code 0 "-? exits 0"
is "$OUT" "$help" "-? prints the same help as --help"
pgm help
is "$RC:$OUT" "0:$help" "the help command prints the help and exits 0"
# the help is a man-style text: its sections, every option, every exit status
for s in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS ENVIRONMENT "EXIT STATUS" EXAMPLES; do
	like "$help" "(^|"$'\n'")$s"$'\n'"  [^ ]" "--help has the man-style section $s"
done
for o in -h --host= -p --port= -U --username= -d --dbname= --json -q --quiet -v --verbose --retry --target= \
	--allow-out-of-order -V --version -? --help; do
	if [[ $help == *"$o"* ]]; then
		pass "--help documents the option $o"
	else
		fail "--help documents the option $o"
	fi
done
for x in 0 1 2 3 4 5 64; do
	like "$help" $'\n'"  $x +[a-z]" "--help documents the exit status $x"
done
like "$help" "the lint policy \(migrate\.lint_level = error\)" "--help: exit 4 includes the lint policy"
like "$help" "PGOPTIONS" "--help: ENVIRONMENT names PGOPTIONS (to set migrate.lint_level and migrate.lock_timeout)"
is "$(awk 'length > 80' <<<"$help")" "" "--help: no line is wider than 80 columns"

extversion=$(sql postgres "SELECT default_version FROM pg_available_extensions WHERE name = 'migrate_ext'")
pgm --version
exit_code 0 "--version exits 0"
is "$OUT" "pg_migrate (migrate_ext) $extversion" "--version prints the name and the extension's version"
pgm -V
is "$RC:$OUT" "0:pg_migrate (migrate_ext) $extversion" "-V is --version"

pgm
exit_code 64 "no command: exit 64"
like "$ERR" "no command given" "no command: says so"
pgm -p 1 frobnicate
exit_code 64 "unknown command: exit 64"
like "$ERR" 'unknown command "frobnicate"' "unknown command: named"
# wrong argument counts are refused before connecting (-p 1 would give 5)
for args in "up" "up a b" "status" "status a b" "verify" "down" "down a b c" "lint" "dry-run" "dry-run a b" \
	"compare" "compare a" "compare a b c" "drift x"; do
	# shellcheck disable=SC2086
	pgm -p 1 $args
	exit_code 64 "wrong argument count: pg_migrate $args exits 64"
done
like "$ERR" "usage: pg_migrate \[OPTION\]\.\.\. drift" "wrong argument count: the usage of the command is printed"
pgm --bogus status x
exit_code 64 "unknown long option: exit 64"
like "$ERR" "unrecognized option '--bogus'" "unknown long option: named"
pgm -x status x
exit_code 64 "unknown short option: exit 64"
pgm status --target
exit_code 64 "--target without a value: exit 64"
pgm -p 1 status "$W/no/such/dir"
exit_code 64 "a folder that does not exist: exit 64"
like "$ERR" "could not open directory" "a folder that does not exist: says so"

###########################################################################
# 2. connections
###########################################################################
mf conn 1__a.sql <<<'CREATE TABLE a (id int);'
pgm -p 1 -d postgres status conn
exit_code 5 "cannot connect (bad port): exit 5"
like "$ERR" "could not connect" "cannot connect: says so"
pgm -d pgm_no_such_database status conn
exit_code 5 "missing database: exit 5"
like "$ERR" 'database "pgm_no_such_database" does not exist' "missing database: named"
newdb noext noext
pgm -d pgm_noext status conn
exit_code 5 "database without the extension: exit 5"
like "$ERR" "CREATE EXTENSION migrate_ext" "database without the extension: tells to CREATE EXTENSION"
pgm -d pgm_noext drift
exit_code 5 "drift in a database without the extension: exit 5"
pgm -d "host=$PGHOST port=1 dbname=pgm_x password=pgm_s3cret_pw" status conn
exit_code 5 "connection string with a password, server down: exit 5"
unlike "$ERR" "pgm_s3cret_pw" "a connection failure does not print the password of the connection string"

###########################################################################
# 3. migration files
###########################################################################
newdb files
mf files V1__create_t.sql <<'EOF'
-- migrate:up
CREATE TABLE t (id int PRIMARY KEY, v text);
-- migrate:down
DROP TABLE t;
-- migrate:verify
SELECT to_regclass('t') IS NOT NULL;
EOF
mf files V2__add_u.sql <<<'CREATE TABLE u (id int);'
mf files V2__add_u.down.sql <<<'DROP TABLE u;'
mf files V2__add_u.verify.sql <<<"SELECT to_regclass('u') IS NOT NULL;"
mf files V10__w.sql <<'EOF'
-- requires: V2
CREATE TABLE w (id int);
EOF
mf files foo.sql <<<'CREATE TABLE junk_foo (id int);'
mf files .V5__hidden.sql <<<'CREATE TABLE junk_hidden (id int);'
mf files V6__not_sql.txt <<<'CREATE TABLE junk_txt (id int);'

pgm -d pgm_files --json up files
exit_code 0 "files: up exits 0"
json_ok "files: up --json is one JSON object"
is "$(jv '[m["version"] for m in d["migrations"]]')" "V1 V2 V10" "files: applied in natural version order (V2 before V10)"
is "$(jv 'sv("result")')" "V1=applied V2=applied V10=applied" "files: every migration applied"
is "$(sql pgm_files "SELECT string_agg(version, ' ' ORDER BY id) FROM migrate.history")" "V1 V2 V10" \
	"files: the history records them in that order"
is "$(sql pgm_files "SELECT concat_ws(',', to_regclass('junk_foo'), to_regclass('junk_hidden'), to_regclass('junk_txt'))")" "" \
	"files: foo.sql (no double underscore), dot files and .txt files are ignored"
pgm -d pgm_files --json status files
is "$(jv 'sv("state")')" "V1=applied V2=applied V10=applied" "files: status lists only the migration files"
is "$(sql pgm_files "SELECT btrim(script, E'\n') || '|' || btrim(down_script, E'\n') || '|' || btrim(verify_script, E'\n') FROM migrate.migrations WHERE version = 'V1'")" \
	"CREATE TABLE t (id int PRIMARY KEY, v text);|DROP TABLE t;|SELECT to_regclass('t') IS NOT NULL;" \
	"files: up, down and verify sections recorded separately"
is "$(sql pgm_files "SELECT btrim(down_script, E'\n') || '|' || btrim(verify_script, E'\n') FROM migrate.migrations WHERE version = 'V2'")" \
	"DROP TABLE u;|SELECT to_regclass('u') IS NOT NULL;" "files: .down.sql and .verify.sql companions recorded"
is "$(sql pgm_files "SELECT requires::text || '|' || coalesce(down_script, 'no down') FROM migrate.migrations WHERE version = 'V10'")" \
	"{V2}|no down" "files: -- requires: recorded; no down script"
is "$(sql pgm_files "SELECT concat_ws(',', to_regclass('t'), to_regclass('u'), to_regclass('w'))")" "t,u,w" "files: the tables exist"
is "$(sql pgm_files "SELECT checksum = migrate.checksum(\$s\$$(cat files/V2__add_u.sql)\$s\$) FROM migrate.migrations WHERE version = 'V2'")" "t" \
	"files: the checksum of a file without sections is migrate.checksum of its text"
printf '\n\n' >>files/V2__add_u.sql
printf -- '-- migrate:down\nDROP TABLE w;\n' >>files/V10__w.sql
pgm -d pgm_files --json status files
is "$RC $(jv 'sv("state")')" "0 V1=applied V2=applied V10=applied" \
	"files: trailing blank lines, and a down section added to an applied file, change no checksum"
pgm -d pgm_files --json verify files
exit_code 0 "files: verify exits 0"
is "$(jv '[d["checksum_differs"], d["checks_failed"]]')" "0 0" "files: verify finds nothing (checks from a section and a companion)"

# bad folders: refused (exit 4) before anything runs
mf bad_dup 7__a.sql <<<'CREATE TABLE bad1 (id int);'
mf bad_dup 7__b.sql <<<'CREATE TABLE bad2 (id int);'
mf bad_noversion __x.sql <<<'CREATE TABLE bad3 (id int);'
mf bad_noname 7__.sql <<<'CREATE TABLE bad4 (id int);'
printf -- '-- migrate:down\nDROP TABLE bad5;\n' | mf bad_noup 7__onlydown.sql
printf -- '-- migrate:up\nCREATE TABLE bad6 (id int);\n-- migrate:sideways\n' | mf bad_marker 7__m.sql
printf -- '-- migrate:up\nCREATE TABLE bad7 (id int);\n-- migrate:down\nDROP TABLE bad7;\n-- migrate:down\nSELECT 1;\n' | mf bad_twodown 7__d.sql
printf -- 'CREATE TABLE bad8 (id int);\n-- migrate:down\nDROP TABLE bad8;\n' | mf bad_conflict 7__c.sql
mf bad_conflict 7__c.down.sql <<<'DROP TABLE bad8;'
printf 'CREATE TABLE bad9 (id int);\0\n' | mf bad_zero 7__z.sql
pgm -d pgm_files up bad_dup
exit_code 4 "files: a version in two files: exit 4"
like "$ERR" 'version 7 is in two files: "bad_dup/7__a.sql" and "bad_dup/7__b.sql"' "files: duplicate version names both files"
pgm -d pgm_files up bad_noversion
exit_code 4 "files: __x.sql (no version): exit 4"
like "$ERR" 'is not named <version>__<name>.sql' "files: __x.sql: says what the naming rule is"
pgm -d pgm_files up bad_noname
exit_code 4 "files: 7__.sql (no name): exit 4"
like "$ERR" 'has no name after the double underscore' "files: 7__.sql: says so"
pgm -d pgm_files up bad_noup
exit_code 4 "files: only a down section: exit 4"
like "$ERR" 'has no up script' "files: only a down section: says so"
pgm -d pgm_files up bad_marker
exit_code 4 "files: unknown -- migrate: marker: exit 4"
like "$ERR" 'bad_marker/7__m.sql:3: unknown marker "-- migrate:sideways"' "files: unknown marker: file and line named"
pgm -d pgm_files up bad_twodown
exit_code 4 "files: two down sections: exit 4"
pgm -d pgm_files up bad_conflict
exit_code 4 "files: down section and .down.sql companion: exit 4"
like "$ERR" 'both give the same script' "files: section and companion: says so"
pgm -d pgm_files up bad_zero
exit_code 4 "files: a file with a zero byte: exit 4"
is "$(states pgm_files)" "V1:applied V2:applied V10:applied" "files: nothing of the refused folders was applied"
is "$(sql pgm_files "SELECT concat_ws(',', to_regclass('bad1'), to_regclass('bad6'), to_regclass('bad8'), to_regclass('bad9'))")" "" \
	"files: none of their tables exists"
mf vers 1__a.sql <<<'SELECT 1;'
mf vers 01__b.sql <<<'SELECT 2;'
pgm -d pgm_files --json status vers
is "$RC $(jv 'sv("state")')" "1 01=out-of-order 1=out-of-order V1=applied-but-file-missing V2=applied-but-file-missing V10=applied-but-file-missing" \
	"files: 01 and 1 are distinct versions (01 first, digits before letters); recorded versions without a file listed"

###########################################################################
# 4. up
###########################################################################
newdb up
mf up 1__a.sql <<<'CREATE TABLE ua (id int);'
printf 'CREATE TABLE ub (id int);\nINSERT INTO ub VALUES (1), (2);\n' | mf up 2__b.sql
printf -- '-- migrate:up\nCREATE TABLE uc (id int);\nINSERT INTO uc VALUES (1);\nINSERT INTO nosuch_table VALUES (1);\n' | mf up 3__c.sql
mf up 4__d.sql <<<'CREATE TABLE ud (id int);'

pgm -d pgm_up --json --target=2 up up
exit_code 0 "up --target=2: exit 0"
is "$(jv 'sv("result")')" "1=applied 2=applied" "up --target=2: applies 1 and 2 only"
is "$(states pgm_up)" "1:applied 2:applied" "up --target=2: recorded 1 and 2"
is "$(jv 'd["pending_left"]')" "2" "up --target=2: pending_left counts the 2 migrations left beyond the target"
pgm -d pgm_up up up
exit_code 3 "up: a failing migration: exit 3"
like "$ERR" 'migration 3 \(up/3__c.sql\) failed: relation "nosuch_table" does not exist' "up: failure names the migration and the server's message"
like "$ERR" 'script statement 3' "up: failure names the failing statement"
like "$ERR" 'INSERT INTO nosuch_table VALUES \(1\)' "up: the failing statement's text is printed (as --help and the README say)"
like "$ERR" 'line 4[^0-9]' "up: the failing statement's line in the file (4, not the up section's line 3)"
like "$OUT" 'stopped at a failure; 2 pending left' "up: the summary says it stopped"
pgm -d pgm_up --json up up
exit_code 3 "up --json: failing migration: exit 3"
json_ok "up --json: a failure is still one JSON object"
is "$(jv '[d["failure"]["version"], d["failure"]["error"]["sqlstate"], sv("result"), d["applied"], d["failed"]]')" \
	"3 42P01 3=failed 0 1" "up --json: failure with version and SQLSTATE, per-migration result failed"
is "$(states pgm_up)" "1:applied 2:applied" "up: after the failure the earlier migrations stay applied, 3 and 4 are not recorded"
is "$(sql pgm_up "SELECT concat_ws(',', to_regclass('uc'), to_regclass('ud')) || '|' || (SELECT count(*) FROM ub)")" "|2" \
	"up: nothing of the failed migration remains, the later one did not run"
printf -- '-- migrate:up\nCREATE TABLE uc (id int);\nINSERT INTO uc VALUES (1);\nINSERT INTO uc VALUES (2);\n' >up/3__c.sql
pgm -d pgm_up up up
exit_code 0 "up: after fixing the file: exit 0"
like "$OUT" '\[1/2\] 3 c \.\.\. applied' "up: progress line per migration"
# its duration: "(7.1 ms)", or "(1.25 s)" from a second on
like "$OUT" '\[1/2\] 3 c \.\.\. applied \(([0-9]+\.[0-9] ms|[0-9]+\.[0-9]{2} s)\)'$'\n' "up: the progress line gives the migration's duration"
like "$OUT" '\[2/2\] 4 d \.\.\. applied \(([0-9]+\.[0-9] ms|[0-9]+\.[0-9]{2} s)\)'$'\n' "up: ... on every progress line"
is "$(states pgm_up) $(sql pgm_up 'SELECT count(*) FROM uc')" "1:applied 2:applied 3:applied 4:applied 2" "up: 3 and 4 applied"
pgm -d pgm_up up up
exit_code 0 "up: re-run: exit 0"
like "$OUT" 'nothing to apply: 4 migration\(s\) already applied' "up: re-run: nothing to apply"
pgm -d pgm_up --json up up
is "$(jv '[d["applied"], d["already_applied"], len(d["migrations"])]')" "0 4 0" "up --json: re-run applies nothing"
is "$(sql pgm_up "SELECT count(*) FROM migrate.history WHERE action = 'apply'")" "4" "up: re-runs add no history"

# an applied file changed: refused
cp up/2__b.sql "$W/2__b.sql.orig"
printf 'CREATE TABLE ub (id bigint);\nINSERT INTO ub VALUES (1), (2);\n' >up/2__b.sql
mf up 5__e.sql <<<'CREATE TABLE ue (id int);'
pgm -d pgm_up --json up up
exit_code 4 "up: an applied file was changed: exit 4"
like "$ERR" 'up/2__b.sql was changed after migration 2 was applied' "up: changed file named"
is "$(jv 'd["result"]')" "refused" "up --json: result refused"
is "$(states pgm_up) $(sql pgm_up "SELECT coalesce(to_regclass('ue')::text, 'none')")" \
	"1:applied 2:applied 3:applied 4:applied none" "up: refused before anything ran (5 not applied)"
cp "$W/2__b.sql.orig" up/2__b.sql
pgm -d pgm_up up up
exit_code 0 "up: file restored: exit 0, 5 applied"

# out of order
mf up 3.1__late.sql <<<'CREATE TABLE ulate (id int);'
pgm -d pgm_up up up
exit_code 4 "up: a migration older than an applied one without --allow-out-of-order is refused: exit 4 (MG003)"
like "$ERR" 'lower than the highest applied version 5' "up: out of order: says so"
like "$ERR" 'allow_out_of_order' "up: out of order: hints at allowing it"
is "$(sql pgm_up "SELECT count(*) FROM migrate.migrations WHERE version = '3.1'")" "0" "up: out of order: not recorded"
pgm -d pgm_up --json --allow-out-of-order up up
exit_code 0 "up --allow-out-of-order: exit 0"
is "$(jv 'sv("result")')" "3.1=applied" "up --allow-out-of-order: applies it"
is "$(sql pgm_up "SELECT state || ' ' || out_of_order FROM migrate.migrations WHERE version = '3.1'")" "applied true" \
	"up --allow-out-of-order: recorded with out_of_order"
pgm -d pgm_up --json status up
is "$(jv '[m["version"] for m in d["migrations"] if m["applied_out_of_order"]]')" "3.1" "status --json: applied_out_of_order flag"

# a verify check that fails at apply time
printf -- '-- migrate:up\nCREATE TABLE uf (id int);\n-- migrate:verify\nSELECT count(*) > 0 FROM uf;\n' | mf up 6__checked.sql
pgm -d pgm_up up up
exit_code 3 "up: a failing verify check: exit 3"
like "$ERR" 'MG007' "up: failing verify check: MG007"
is "$(sql pgm_up "SELECT coalesce(to_regclass('uf')::text, 'none') || ' ' || count(*) FROM migrate.migrations WHERE version = '6'")" \
	"none 0" "up: failing verify check: the migration is rolled back and not recorded"
rm up/6__checked.sql

# a missing requirement (documented: exit 4, refused before running)
printf -- '-- requires: 99\nCREATE TABLE ug (id int);\n' | mf up 7__needs.sql
pgm -d pgm_up up up
exit_code 4 "up: a missing requirement is refused with exit 4 (as --help documents)"
like "$ERR" 'requires.*99' "up: missing requirement named"
is "$(sql pgm_up "SELECT coalesce(to_regclass('ug')::text, 'none') || ' ' || count(*) FROM migrate.migrations WHERE version = '7'")" \
	"none 0" "up: missing requirement: nothing run, nothing recorded"
rm up/7__needs.sql

# lint warnings of migrate.apply: on stderr under the progress line; none with -q
mf up 8__idx.sql <<<'CREATE INDEX ub_i ON ub (id);'
pgm -d pgm_up up up
exit_code 0 "up: a migration with a lint warning: exit 0"
like "$ERR" 'create-index-non-concurrent' "up: the lint warning is printed on stderr"
unlike "$OUT" 'create-index-non-concurrent' "up: ... and not on stdout"
mf up 9__idx2.sql <<<'CREATE INDEX ua_i ON ua (id);'
pgm -d pgm_up -q up up
is "$RC:$ERR" "0:" "up -q: no notices"
like "$OUT" '^up: 1 applied, 7 already applied, 0 pending left \([0-9.]+ m?s\)$' "up -q: only the summary line, no progress"

###########################################################################
# 5. status
###########################################################################
newdb status
for i in 1 2 3; do mf st "${i}__s$i.sql" <<<"CREATE TABLE s$i (id int);"; done
printf -- '-- migrate:up\nCREATE TABLE s5 (id int);\n-- migrate:down\nDROP TABLE s5;\n' | mf st 5__s5.sql
pgm -d pgm_status -q up st
exit_code 0 "status: setup applied"
pgm -d pgm_status status st
exit_code 0 "status: all applied: exit 0"
like "$OUT" '4 applied, 0 baselined, 0 below the baseline, 0 pending' "status: summary line"
mf st 4__s4.sql <<<'CREATE TABLE s4 (id int);'
mf st 6__s6.sql <<<'CREATE TABLE s6 (id int);'
pgm -d pgm_status --json status st
exit_code 0 "status: pending and out-of-order files only: exit 0"
is "$(jv 'sv("state")')" "1=applied 2=applied 3=applied 4=out-of-order 5=applied 6=pending" "status --json: pending and out-of-order"
pgm -d pgm_status status st
like "$OUT" '4 +s4 +out-of-order +\(older than an applied migration\)' "status: out-of-order explained"
rm st/3__s3.sql
pgm -d pgm_status --json status st
exit_code 1 "status: an applied migration's file is missing: exit 1"
is "$(jv 'sv("state")')" "1=applied 2=applied 3=applied-but-file-missing 4=out-of-order 5=applied 6=pending" \
	"status --json: applied-but-file-missing"
is "$(jv '[(m["file"], m["recorded_state"]) for m in where("migrations", version="3")]')" \
	"null applied" "status --json: missing file is null, recorded state applied"
printf 'CREATE TABLE s2 (id int, x int);\n' >st/2__s2.sql
printf -- '-- migrate:up\nCREATE TABLE s5 (id int);\n-- migrate:down\nDROP TABLE IF EXISTS s5;\n' >st/5__s5.sql
pgm -d pgm_status --json status st
exit_code 1 "status: an applied file's up section changed: exit 1"
is "$(jv 'sv("state")')" "1=applied 2=checksum-differs 3=applied-but-file-missing 4=out-of-order 5=applied 6=pending" \
	"status --json: checksum-differs (and an edited down section alone changes nothing)"
is "$(jv '[m["recorded_checksum"] != m["file_checksum"] for m in where("migrations", version="2")]')" "true" \
	"status --json: recorded and file checksums differ"
is "$(jv 'json.dumps(d["counts"], sort_keys=True)')" \
	'{"applied": 2, "applied-but-file-missing": 1, "baselined": 0, "below-baseline": 0, "checksum-differs": 1, "out-of-order": 1, "pending": 1, "reverted": 0}' \
	"status --json: counts"
pgm -d pgm_status down st 5
exit_code 0 "status: down st 5 (setup)"
rm st/5__s5.sql
pgm -d pgm_status --json status st
exit_code 1 "status: still exit 1"
is "$(jv 'sv("state")')" "1=applied 2=checksum-differs 3=applied-but-file-missing 4=pending 5=reverted 6=pending" \
	"status --json: a reverted migration without file is 'reverted'; 4 no longer out of order"

###########################################################################
# 6. verify
###########################################################################
newdb verify
printf -- "-- migrate:up\nCREATE TABLE vt (id int);\n-- migrate:verify\nSELECT count(*) = 0 FROM vt;\nSELECT to_regclass('vt') IS NOT NULL;\n" | mf vf 1__vt.sql
mf vf 2__other.sql <<<'CREATE TABLE vo (id int);'
pgm -d pgm_verify -q up vf
exit_code 0 "verify: setup applied"
pgm -d pgm_verify verify vf
exit_code 0 "verify: everything matches: exit 0"
like "$OUT" '0 of 2 verify check\(s\) failed' "verify: two checks passed"
pgm -d pgm_verify --json verify vf
json_ok "verify --json: one JSON object without duplicate keys (\"checks\" is both the list and the count)"
sql pgm_verify 'INSERT INTO vt VALUES (1)' >/dev/null
pgm -d pgm_verify verify vf
exit_code 1 "verify: a verify check fails now: exit 1"
like "$OUT" '1: verify check 1 failed: it returned false' "verify: the failing check is named"
pgm -d pgm_verify --json verify vf
is "$(jv '[d["checks_failed"], d["checksum_differs"]]')" "1 0" "verify --json: one check failed"
sql pgm_verify 'DELETE FROM vt' >/dev/null
pgm -d pgm_verify verify vf
exit_code 0 "verify: check holds again: exit 0"
mf vf 2__other.sql <<<'CREATE TABLE vo (id bigint);'
pgm -d pgm_verify --json verify vf
exit_code 1 "verify: a checksum differs: exit 1"
is "$(jv '[d["checksum_differs"], [c["version"] for c in d["checksums"] if c["state"] == "checksum-differs"]]')" "1 2" \
	"verify --json: the changed migration listed"
rm vf/2__other.sql
pgm -d pgm_verify --json verify vf
is "$(jv 'd["file_missing"]')" "1" "verify --json: a missing file counted"
is "$RC" "1" "verify: an applied migration's file missing: exit 1 (as --help documents)"

###########################################################################
# 7. down
###########################################################################
newdb down
for i in 1 2 3 4; do
	printf -- '-- migrate:up\nCREATE TABLE dn%s (id int);\n-- migrate:down\nDROP TABLE dn%s;\n' "$i" "$i" | mf dn "${i}__dn$i.sql"
done
printf -- '-- requires: 2\nCREATE TABLE dn10 (id int);\n' | mf dn 10__dn10.sql
mf dn 10__dn10.down.sql <<<'DROP TABLE dn10;'
pgm -d pgm_down -q up dn
exit_code 0 "down: setup applied"
pgm -d pgm_down --json down dn
exit_code 0 "down DIR: exit 0"
is "$(jv 'sv("result")')" "10=reverted" "down DIR: reverts only the latest applied migration"
is "$(states pgm_down) $(sql pgm_down "SELECT coalesce(to_regclass('dn10')::text, 'none')")" \
	"1:applied 2:applied 3:applied 4:applied 10:reverted none" "down DIR: 10 reverted, its table dropped"
pgm -d pgm_down --json down dn 2
exit_code 0 "down DIR VERSION: exit 0"
is "$(jv 'sv("result")')" "4=reverted 3=reverted 2=reverted" "down DIR 2: reverts 2 and every later applied one, newest first"
is "$(states pgm_down)" "1:applied 2:reverted 3:reverted 4:reverted 10:reverted" "down DIR 2: states"
is "$(sql pgm_down "SELECT concat_ws(',', to_regclass('dn1'), to_regclass('dn2'), to_regclass('dn3'), to_regclass('dn4'))")" "dn1" \
	"down DIR 2: the tables of 2, 3 and 4 are gone"
pgm -d pgm_down down dn 3
exit_code 4 "down DIR VERSION: version not applied: exit 4"
like "$ERR" 'migration 3 is not applied' "down: not applied: says so"
pgm -d pgm_down down dn 77
exit_code 4 "down DIR VERSION: unknown version: exit 4"
pgm -d pgm_down -q up dn
exit_code 0 "down: re-applying the reverted migrations: exit 0"
is "$(states pgm_down)" "1:applied 2:applied 3:applied 4:applied 10:applied" "down: all applied again"
pgm -d pgm_down --json down dn 2
is "$RC $(jv 'sv("result")')" "0 10=reverted 4=reverted 3=reverted 2=reverted" \
	"down DIR 2: 10 (which requires 2) is reverted before 2"
pgm -d pgm_down -q up dn
mf dn 11__nodown.sql <<<'CREATE TABLE dn11 (id int);'
pgm -d pgm_down -q up dn
pgm -d pgm_down --json down dn
exit_code 4 "down: the latest migration has no down script: refused, exit 4 (MG008)"
like "$ERR" 'migration 11 has no down script' "down: no down script: says so"
is "$(jv '[sv("result"), d["reverted"]]')" "11=failed 0" "down --json: failed, nothing reverted"
is "$(sql pgm_down "SELECT state FROM migrate.migrations WHERE version = '11'") $(sql pgm_down "SELECT to_regclass('dn11')")" \
	"applied dn11" "down: no down script: still applied"

# a down script that fails: exit 3, in a transaction and outside one
newdb downfail
printf -- '-- migrate:up\nCREATE TABLE df1 (id int);\n-- migrate:down\nDROP TABLE df1;\nDROP TABLE df_nosuch;\n' | mf df 1__df1.sql
pgm -d pgm_downfail -q up df
exit_code 0 "down fails: setup applied"
pgm -d pgm_downfail --json down df
exit_code 3 "down: a down script that fails: exit 3"
json_ok "down --json: a failed down script is still one JSON object"
is "$(jv '[sv("result"), d["reverted"], d["failure"]["error"]["sqlstate"]]')" "1=failed 0 42P01" \
	"down --json: failed, nothing reverted, the server's SQLSTATE"
like "$(jv 'd["failure"]["error"]["context"]')" 'down script statement 2 \(line 2\) of migration 1' \
	"down --json: the context names the failing statement of the down script"
like "$ERR" 'migration 1 \(df/1__df1.sql\) could not be reverted: table "df_nosuch" does not exist' "down: the failure names the migration and the server's message"
like "$ERR" 'DROP TABLE df_nosuch' "down: the failing statement is printed"
is "$(states pgm_downfail) $(sql pgm_downfail "SELECT to_regclass('df1')") $(sql pgm_downfail "SELECT count(*) FROM migrate.history WHERE action = 'revert'")" \
	"1:applied df1 0" "down: the failed down script was rolled back: still applied, table kept, no revert recorded"
printf -- '-- migrate:up\nCREATE INDEX CONCURRENTLY df1_a ON df1 (id);\nCREATE INDEX CONCURRENTLY df1_b ON df1 (id);\n-- migrate:down\nDROP INDEX CONCURRENTLY df1_a;\nDROP INDEX CONCURRENTLY df1_nosuch;\n' |
	mf df 2__idx.sql
pgm -d pgm_downfail -q up df
exit_code 0 "down fails: a non-transactional migration applied"
pgm -d pgm_downfail --json down df
exit_code 3 "down: a non-transactional down script that fails: exit 3"
is "$(jv '[(m["version"], m["result"], m["non_transactional"]) for m in d["migrations"]] + [d["failure"]["error"]["sqlstate"]]')" \
	"2 failed true 42704" "down --json: the non-transactional down script failed (42704)"
like "$ERR" 'index "df1_nosuch" does not exist' "down: non-transactional: the server's message"
like "$ERR" 'the statements before it stay done; nothing was recorded' "down: non-transactional: says what stays done"
is "$(states pgm_downfail) $(sql pgm_downfail "SELECT coalesce(to_regclass('df1_a')::text, 'none') || ' ' || coalesce(to_regclass('df1_b')::text, 'none')") $(sql pgm_downfail "SELECT count(*) FROM migrate.history WHERE action = 'revert'")" \
	"1:applied 2:applied none df1_b 0" \
	"down: non-transactional: the statement before the failure ran (df1_a dropped), the migration is still applied, no revert recorded"

###########################################################################
# 8. lint
###########################################################################
newdb lint
sql pgm_lint "CREATE TABLE lt (id bigint PRIMARY KEY, v text); INSERT INTO lt SELECT g, g FROM generate_series(1, 100) g; ANALYZE lt" >/dev/null
mf lint clean.sql <<<'CREATE TABLE clean_t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);'
mf lint warn.sql <<<'CREATE INDEX lt_i ON lt (v);'
printf 'BEGIN;\nCREATE TABLE x (id bigint);\nCOMMIT;\n' | mf lint begin.sql
mf lint syntax.sql <<<'CREATE TABEL x (id bigint);'
mf lint info.sql <<<'CREATE TABLE info_t (id serial PRIMARY KEY);'
pgm -d pgm_lint lint lint/clean.sql
exit_code 0 "lint: a clean file: exit 0"
like "$OUT" 'worst: ok' "lint: clean: worst ok"
pgm -d pgm_lint --json lint lint/warn.sql
exit_code 1 "lint: CREATE INDEX on an existing table: exit 1 (warning)"
json_ok "lint --json: one JSON object"
is "$(jv '[(f["rule"], f["severity"], f["relation"], f["line"]) for f in d["findings"]]')" \
	"create-index-non-concurrent warning public.lt 1" "lint --json: create-index-non-concurrent warning on public.lt"
pgm -d pgm_lint lint lint/warn.sql
like "$OUT" 'lint/warn.sql:1: warning: create-index-non-concurrent' "lint: warning printed with file and line"
pgm -d pgm_lint --json lint lint/begin.sql
exit_code 2 "lint: BEGIN/COMMIT in a script: exit 2 (error)"
is "$(jv '[(f["rule"], f["severity"], f["line"]) for f in d["findings"]]')" \
	"transaction-control error 1 transaction-control error 3" "lint --json: transaction-control errors on lines 1 and 3"
pgm -d pgm_lint --json lint lint/syntax.sql
exit_code 2 "lint: a syntax error: exit 2"
is "$(jv '[(f["rule"], f["severity"], f["error"]["sqlstate"]) for f in d["findings"]]')" "syntax-error error 42601" \
	"lint --json: syntax-error finding with SQLSTATE 42601"
pgm -d pgm_lint lint lint/info.sql
is "$RC $(grep -c 'info:' <<<"$OUT")" "0 0" "lint: info findings alone: exit 0, not shown"
pgm -d pgm_lint -v lint lint/info.sql
like "$OUT" 'info: prefer-identity' "lint -v: info findings shown"
pgm -d pgm_lint --json lint lint/clean.sql lint/warn.sql
is "$RC $(jv '[d["files"], d["worst"]]')" "1 2 warning" "lint: two files, the worst decides (warning)"
pgm -d pgm_lint --json lint lint/clean.sql lint/warn.sql lint/begin.sql
is "$RC $(jv '[d["files"], d["worst"]]')" "2 3 error" "lint: three files, the worst decides (error)"
printf -- '-- migrate:up\n\nCREATE INDEX lt_i2 ON lt (v);\n-- migrate:down\nDROP TABLE lt;\n' | mf lintdir 1__x.sql
mf lintdir 2__y.sql <<<'CREATE TABLE ok2 (id bigint);'
mf lintdir notes.md <<<'not sql'
pgm -d pgm_lint --json lint lintdir
exit_code 1 "lint DIR: exit 1 (warnings)"
is "$(jv '[(f["section"], f["rule"], f["line"]) for f in d["findings"]]')" \
	"up create-index-non-concurrent 3" "lint DIR: lines are lines of the file; only up scripts without -v"
is "$(jv 'd["files"]')" "2" "lint DIR: the migration files of the folder"
pgm -d pgm_lint -v --json lint lintdir
is "$RC $(jv '[(f["section"], f["rule"], f["line"]) for f in d["findings"] if f["severity"] != "info"]')" \
	"1 up create-index-non-concurrent 3 down drop-table 5" "lint -v DIR: down sections linted too"
printf -- 'SELECT 1;\n-- migrate:down\nDROP TABLE lt;\n' | mf lint downonly.sql
pgm -d pgm_lint lint lint/downonly.sql
exit_code 0 "lint: a warning in the down section only: exit 0 without -v"
pgm -d pgm_lint -v lint lint/downonly.sql
exit_code 1 "lint -v: a warning in the down section: exit 1"
like "$OUT" 'lint/downonly.sql:3: warning: drop-table' "lint -v: down finding at its file line"
pgm -d pgm_lint lint lint/no_such_file.sql
exit_code 64 "lint: a file that does not exist: exit 64"
: | mf lint empty.sql
printf -- '-- migrate:down\nDROP TABLE lt;\n' | mf lint onlydown.sql
pgm -d pgm_lint lint lint/empty.sql
exit_code 4 "lint: an empty file: exit 4 (no SQL)"
like "$ERR" '"lint/empty.sql" contains no SQL to lint' "lint: an empty file: says so"
pgm -d pgm_lint --json lint lint/clean.sql lint/onlydown.sql
exit_code 4 "lint: a file with no up script: exit 4 (no SQL), whatever the other files"
json_ok "lint --json: no SQL: still one JSON object"
is "$(jv '[d["exit_code"], d["error"]["message"]]')" '4 "lint/onlydown.sql" contains no SQL to lint' \
	"lint --json: no SQL: the error and the exit code in the document"
is "$(sql pgm_lint "SELECT concat_ws(',', to_regclass('lt_i'), to_regclass('clean_t'), to_regclass('x'))")" "" "lint: changes nothing"

###########################################################################
# 9. dry-run
###########################################################################
newdb dry
printf 'CREATE TABLE d1 (id int);\nINSERT INTO d1 VALUES (1), (2);\n' | mf dr 1__a.sql
mf dr 2__b.sql <<<'INSERT INTO d1 SELECT id + 10 FROM d1;'
pgm -d pgm_dry dry-run dr
exit_code 0 "dry-run: exit 0"
like "$OUT" 'dry-run: 2 pending migration\(s\) tried and rolled back' "dry-run: summary"
pgm -d pgm_dry --json dry-run dr
json_ok "dry-run --json: one JSON object"
is "$(jv '[sv("result"), d["dry_run"]]')" "1=ok 2=ok 2" "dry-run --json: both ok"
is "$(jv '[s["rows"] for m in where("migrations", version="2") for s in m["statements"]]')" "2" \
	"dry-run: 2 sees the table and rows of 1 (a later pending file depending on an earlier one)"
is "$(sql pgm_dry "SELECT coalesce(to_regclass('d1')::text, 'none') || ' ' || (SELECT count(*) FROM migrate.migrations) || ' ' || (SELECT count(*) FROM migrate.history)")" \
	"none 0 0" "dry-run: nothing created, nothing recorded"
pgm -d pgm_dry --json --target=1 dry-run dr
is "$RC $(jv '[sv("result"), d["dry_run"]]')" "0 1=ok 1" "dry-run --target=1: only 1"
mf dr 3__cic.sql <<<'CREATE INDEX CONCURRENTLY d1_i ON d1 (id);'
pgm -d pgm_dry --json dry-run dr
is "$RC $(jv 'sv("result")')" "0 1=ok 2=ok 3=not_run_non_transactional" "dry-run: a non-transactional file is not run"
rm dr/3__cic.sql
printf 'INSERT INTO d1 VALUES (3);\nINSERT INTO nosuch VALUES (1);\n' | mf dr 3__c.sql
pgm -d pgm_dry --json dry-run dr
exit_code 3 "dry-run: a failing migration: exit 3"
is "$(jv 'sv("result")')" "1=ok 2=ok 3=failed" "dry-run --json: 3 failed"
like "$(jv '[s["error"] for m in where("migrations", version="3") for s in m["statements"] if s["error"]]')" \
	'42P01.*"nosuch" does not exist' "dry-run --json: the statement's error"
is "$(sql pgm_dry "SELECT coalesce(to_regclass('d1')::text, 'none') || ' ' || (SELECT count(*) FROM migrate.migrations)")" \
	"none 0" "dry-run: a failed dry run leaves nothing either"
pgm -d pgm_dry -q up dr
exit_code 3 "dry-run: (up of the same folder fails at 3 too)"

###########################################################################
# 10. statements that cannot run in a transaction
###########################################################################
newdb nt
printf "CREATE TABLE nt (id int, v int, email text);\nINSERT INTO nt VALUES (1, 1, 'a'), (2, 2, 'a'), (3, 3, 'b');\n" | mf nt 1__t.sql
printf -- '-- migrate:up\nCREATE INDEX CONCURRENTLY nt_v ON nt (v);\n-- migrate:down\nDROP INDEX CONCURRENTLY nt_v;\n' | mf nt 2__cic.sql
pgm -d pgm_nt --json up nt
exit_code 0 "non-transactional: CREATE INDEX CONCURRENTLY file: exit 0"
is "$(jv '[(m["version"], m["result"], m["non_transactional"]) for m in d["migrations"]]')" \
	"1 applied false 2 recorded true" "non-transactional: recorded outside a transaction"
is "$(sql pgm_nt "SELECT indisvalid FROM pg_index WHERE indexrelid = 'nt_v'::regclass")" "t" "non-transactional: the index is valid"
is "$(sql pgm_nt "SELECT (details->'recorded_from'->>'non_transactional') || ' ' || (details->'recorded_from'->>'client') FROM migrate.history WHERE version = '2' AND action = 'apply'")" \
	"true pg_migrate" "non-transactional: history details recorded_from.non_transactional = true"
is "$(states pgm_nt)" "1:applied 2:applied" "non-transactional: migration 2 applied"
like "$ERR" '\[2/2\] 2 cic \.\.\. recorded, outside a transaction \(([0-9]+\.[0-9] ms|[0-9]+\.[0-9]{2} s)\)('$'\n''|$)' \
	"non-transactional: the progress line (on stderr with --json) gives the duration"
is "$(sql pgm_nt "SELECT lint_findings @> '[{\"rule\": \"non-transactional-statement\", \"statement_no\": 1}]' AND lint_findings = (SELECT details->'lint' FROM migrate.history WHERE version = '2' AND action = 'apply') FROM migrate.migrations WHERE version = '2'")" \
	"t" "non-transactional: record_applied stored the script's lint findings (not []), in the row and the history entry"
pgm -d pgm_nt --json down nt
exit_code 0 "non-transactional: down with DROP INDEX CONCURRENTLY: exit 0"
is "$(jv '[(m["version"], m["result"], m["non_transactional"]) for m in d["migrations"]]')" "2 reverted true" \
	"non-transactional: reverted outside a transaction"
is "$(sql pgm_nt "SELECT coalesce(to_regclass('nt_v')::text, 'none')") $(states pgm_nt)" "none 1:applied 2:reverted" \
	"non-transactional: index dropped, migration reverted"
is "$(sql pgm_nt "SELECT details->'recorded_from'->>'non_transactional' FROM migrate.history WHERE version = '2' AND action = 'revert'")" \
	"true" "non-transactional: the revert went through migrate.record_reverted"
pgm -d pgm_nt -q up nt
is "$RC $(sql pgm_nt "SELECT indisvalid FROM pg_index WHERE indexrelid = 'nt_v'::regclass")" "0 t" "non-transactional: re-applied"

# a file mixing transactional statements with CREATE INDEX CONCURRENTLY
printf 'ALTER TABLE nt ADD COLUMN w int;\nCREATE INDEX CONCURRENTLY nt_w ON nt (w);\n' | mf nt 3__mixed.sql
pgm -d pgm_nt --json up nt
exit_code 4 "non-transactional: a mixed file is refused: exit 4"
like "$ERR" 'mixes statements that cannot run in a transaction block' "non-transactional: mixed file: says so"
like "$(jv 'd["failure"]["message"]')" 'line 2: CREATE INDEX CONCURRENTLY' "non-transactional: mixed file: the statement named in the JSON failure"
is "$(sql pgm_nt "SELECT count(*) FROM pg_attribute WHERE attrelid = 'nt'::regclass AND attname = 'w'") $(sql pgm_nt "SELECT coalesce(to_regclass('nt_w')::text, 'none')") $(states pgm_nt)" \
	"0 none 1:applied 2:applied" "non-transactional: mixed file: nothing run, nothing recorded"
printf -- '-- migrate:no-transaction\nALTER TABLE nt ADD COLUMN w int;\nCREATE INDEX CONCURRENTLY nt_w ON nt (w);\n' >nt/3__mixed.sql
pgm -d pgm_nt --json up nt
exit_code 0 "non-transactional: the mixed file marked -- migrate:no-transaction: exit 0"
is "$(sql pgm_nt "SELECT count(*) FROM pg_attribute WHERE attrelid = 'nt'::regclass AND attname = 'w'") $(sql pgm_nt "SELECT indisvalid FROM pg_index WHERE indexrelid = 'nt_w'::regclass") $(states pgm_nt)" \
	"1 t 1:applied 2:applied 3:applied" "non-transactional: no-transaction file run and recorded"

# a CREATE UNIQUE INDEX CONCURRENTLY that fails on duplicates leaves an INVALID index
mf nt 4__uniq.sql <<<'CREATE UNIQUE INDEX CONCURRENTLY nt_email ON nt (email);'
mf nt 5__after.sql <<<'CREATE TABLE nt_after (id int);'
pgm -d pgm_nt --json up nt
exit_code 3 "failed CIC: exit 3"
like "$ERR" 'could not create unique index "nt_email"' "failed CIC: the server's message"
like "$ERR" 'left the INVALID index public.nt_email behind' "failed CIC: the INVALID index named"
is "$(jv '[d["failure"]["invalid_index"], d["failure"]["statement_no"], d["failure"]["error"]["sqlstate"]]')" \
	"public.nt_email 1 23505" "failed CIC --json: invalid_index, statement, SQLSTATE"
is "$(sql pgm_nt "SELECT indisvalid FROM pg_index WHERE indexrelid = 'nt_email'::regclass") $(sql pgm_nt "SELECT coalesce(to_regclass('nt_after')::text, 'none')") $(states pgm_nt)" \
	"f none 1:applied 2:applied 3:applied" "failed CIC: INVALID index left, 4 not recorded, 5 not run"
pgm -d pgm_nt --json up nt
exit_code 4 "failed CIC: re-run without --retry: exit 4"
like "$ERR" 'index public.nt_email on nt is INVALID' "failed CIC: re-run names the INVALID index"
like "$ERR" '--retry' "failed CIC: re-run hints at --retry"
is "$(jv 'd["failure"]["invalid_index"]')" "public.nt_email" "failed CIC: re-run --json names it"
pgm -d pgm_nt up --retry nt
exit_code 3 "failed CIC: --retry with the duplicates still there: exit 3 again"
is "$(sql pgm_nt "SELECT string_agg(indexrelid::regclass || ':' || indisvalid, ' ') FROM pg_index WHERE indrelid = 'nt'::regclass AND indexrelid::regclass::text LIKE 'nt_email%'")" \
	"nt_email:false" "failed CIC: still one INVALID nt_email"
sql pgm_nt "UPDATE nt SET email = 'c' WHERE id = 2" >/dev/null
pgm -d pgm_nt up --retry nt
exit_code 0 "failed CIC: data fixed, up --retry: exit 0"
like "$OUT" 'dropping INVALID index public.nt_email \(--retry\)' "failed CIC: --retry drops the INVALID index"
is "$(sql pgm_nt "SELECT string_agg(indexrelid::regclass || ':' || indisvalid, ' ') FROM pg_index WHERE indrelid = 'nt'::regclass AND indexrelid::regclass::text LIKE 'nt_email%'")" \
	"nt_email:true" "failed CIC: rebuilt, valid"
is "$(states pgm_nt) $(sql pgm_nt "SELECT to_regclass('nt_after')")" "1:applied 2:applied 3:applied 4:applied 5:applied nt_after" \
	"failed CIC: 4 recorded, 5 applied after it"

# an out-of-order non-transactional file must be refused before it runs
mf nt 2.5__late_cic.sql <<<'CREATE INDEX CONCURRENTLY nt_late ON nt (v);'
pgm -d pgm_nt up nt
isnt "$RC" "0" "non-transactional out of order without --allow-out-of-order: fails"
is "$(sql pgm_nt "SELECT coalesce(to_regclass('nt_late')::text, 'none')")" "none" \
	"non-transactional out of order: refused before the index is built"
pgm -d pgm_nt up --allow-out-of-order nt
exit_code 0 "non-transactional out of order: then applies with --allow-out-of-order"

# an unnamed CREATE INDEX CONCURRENTLY that fails
newdb nt2
printf "CREATE TABLE cu (id int, email text);\nINSERT INTO cu VALUES (1, 'a'), (2, 'a');\n" | mf nt2 1__t.sql
mf nt2 2__uniq.sql <<<'CREATE UNIQUE INDEX CONCURRENTLY ON cu (email);'
pgm -d pgm_nt2 up nt2
exit_code 3 "unnamed failed CIC: exit 3"
like "$ERR" 'left the INVALID index public.cu_email_idx behind' "unnamed failed CIC: the INVALID index found and named"
pgm -d pgm_nt2 up nt2
exit_code 4 "unnamed failed CIC: re-run without --retry refused (exit 4)"
is "$(sql pgm_nt2 "SELECT count(*) FROM pg_index WHERE indrelid = 'cu'::regclass")" "1" \
	"unnamed failed CIC: re-run leaves no second INVALID index"
sql pgm_nt2 "UPDATE cu SET email = 'b' WHERE id = 2" >/dev/null
pgm -d pgm_nt2 up --retry nt2
exit_code 0 "unnamed failed CIC: data fixed, up --retry: exit 0"
is "$(sql pgm_nt2 "SELECT count(*) FILTER (WHERE NOT indisvalid) || ' ' || count(*) FILTER (WHERE indisvalid) FROM pg_index WHERE indrelid = 'cu'::regclass")" \
	"0 1" "unnamed failed CIC: --retry leaves no INVALID index behind"

# -- requires: on a non-transactional file, the required one applied in the same run
newdb nt3
mf nt3 1__t.sql <<<'CREATE TABLE rq (id int);'
printf -- '-- requires: 1\nCREATE INDEX CONCURRENTLY rq_i ON rq (id);\n' | mf nt3 2__cic.sql
pgm -d pgm_nt3 up nt3
exit_code 0 "non-transactional file requiring a migration applied earlier in the same run: exit 0"
pgm -d pgm_nt3 -q up nt3
is "$(states pgm_nt3)" "1:applied 2:applied" "non-transactional with -- requires: applied (by the second run at the latest)"
printf -- '-- requires: 42\nCREATE INDEX CONCURRENTLY rq_j ON rq (id);\n' | mf nt3 3__cic.sql
pgm -d pgm_nt3 up nt3
exit_code 4 "non-transactional file with a missing requirement: exit 4"
is "$(sql pgm_nt3 "SELECT coalesce(to_regclass('rq_j')::text, 'none')")" "none" "non-transactional, missing requirement: nothing run"
rm nt3/3__cic.sql
# a transactional up script whose down script cannot run in a transaction
printf -- '-- migrate:up\nCREATE TABLE nd2 (id int);\nINSERT INTO nd2 VALUES (1);\nINSERT INTO nosuch VALUES (1);\n-- migrate:down\nDROP INDEX CONCURRENTLY IF EXISTS nd2_i;\nDROP TABLE nd2;\n' | mf nt3 4__x.sql
pgm -d pgm_nt3 up nt3
exit_code 3 "transactional up, non-transactional down, failing: exit 3"
is "$(sql pgm_nt3 "SELECT coalesce(to_regclass('nd2')::text, 'none')")" "none" \
	"a failing transactional up script leaves nothing behind (not run statement by statement because of its down script)"

# the lint policy of migrate.apply (migrate.lint_level) holds for non-transactional files too
newdb ntlint
printf 'CREATE TABLE nl (id int);\nINSERT INTO nl SELECT generate_series(1, 10);\n' | mf ntl 1__t.sql
printf -- '-- migrate:no-transaction\nCREATE TABLE nl_made (id int);\nVACUUM FULL nl;\n' | mf ntl 2__vac.sql
pgm -d pgm_ntlint -q --target=1 up ntl
filenode=$(sql pgm_ntlint "SELECT pg_relation_filenode('nl')")
PGOPTIONS="${PGOPTIONS:-} -c migrate.lint_level=error" run "$PGM" -d pgm_ntlint --json up ntl
exit_code 4 "lint policy: lint_level = error refuses a non-transactional file with an error finding: exit 4 (as apply's MG015)"
json_ok "lint policy --json: one JSON object"
is "$(jv '[d["failure"]["error"]["sqlstate"], d["failure"]["error"]["message"], sv("result"), sv("non_transactional")]')" \
	"MG015 migration 2 has 1 lint error 2=failed 2=true" "lint policy --json: refused with MG015 and apply's message"
like "$ERR" 'migration 2 \(ntl/2__vac.sql\) failed: migration 2 has 1 lint error \[MG015\]' "lint policy: the refusal names the migration and the file"
like "$ERR" 'detail: statement 2 \(line [0-9]+\): vacuum-full: VACUUM FULL rewrites the table' "lint policy: the error finding in the detail"
like "$ERR" 'hint: Nothing was run\. Fix the script' "lint policy: the hint says nothing ran and what to do"
is "$(sql pgm_ntlint "SELECT coalesce(to_regclass('nl_made')::text, 'none') || ' ' || (pg_relation_filenode('nl') = $filenode)") $(states pgm_ntlint)" \
	"none true 1:applied" "lint policy: refused before anything ran (not even the CREATE TABLE before the VACUUM FULL), nothing recorded"
pgm -d pgm_ntlint up ntl
exit_code 0 "lint policy: under warn (the default) the same file runs: exit 0"
like "$ERR" 'WARNING: +lint error vacuum-full' "lint policy: under warn the error finding is a WARNING"
is "$(sql pgm_ntlint "SELECT (lint_findings @> '[{\"rule\": \"vacuum-full\", \"severity\": \"error\"}]') || ' ' || (pg_relation_filenode('nl') <> $filenode) || ' ' || (to_regclass('nl_made') IS NOT NULL) FROM migrate.migrations WHERE version = '2'")" \
	"true true true" "lint policy: under warn it ran, and its findings are stored"
mf ntl 3__vac_again.sql <<<'VACUUM FULL nl;'
PGOPTIONS="${PGOPTIONS:-} -c migrate.lint_level=off" run "$PGM" -d pgm_ntlint up ntl
exit_code 0 "lint policy: lint_level = off: exit 0"
unlike "$ERR" 'vacuum-full' "lint policy: off: no lint warning"
is "$(sql pgm_ntlint "SELECT lint_findings FROM migrate.migrations WHERE version = '3'")" "[]" "lint policy: off: no findings stored, as apply"

# a non-transactional statement obeys the migration's lock_timeout (migrate.lock_timeout)
newdb ntlock
printf 'CREATE TABLE lk (id int);\nINSERT INTO lk VALUES (1);\n' | mf ntlk 1__t.sql
mf ntlk 2__idx.sql <<<'CREATE INDEX CONCURRENTLY lk_id ON lk (id);'
pgm -d pgm_ntlock -q --target=1 up ntlk
sql pgm_ntlock "ALTER DATABASE pgm_ntlock SET migrate.lock_timeout = '300ms'" >/dev/null
# another session holds ACCESS EXCLUSIVE on lk (as a long ALTER TABLE would);
# CREATE INDEX CONCURRENTLY needs SHARE UPDATE EXCLUSIVE on it and waits
PGAPPNAME=pgm_locker psql -XAtq -d pgm_ntlock -c 'BEGIN' -c 'LOCK TABLE lk IN ACCESS EXCLUSIVE MODE' -c 'SELECT pg_sleep(120)' -c 'COMMIT' \
	>/dev/null 2>&1 &
locker=$!
locked="SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE a.application_name = 'pgm_locker' AND l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.granted"
for _ in $(seq 1 100); do
	[ "$(sql pgm_ntlock "$locked")" = 1 ] && break
	sleep 0.1
done
is "$(sql pgm_ntlock "$locked")" "1" "lock_timeout: another session holds ACCESS EXCLUSIVE on the table"
t0=$(date +%s%N)
run timeout 60 "$PGM" -d pgm_ntlock --json up ntlk
ms=$((($(date +%s%N) - t0) / 1000000))
exit_code 3 "lock_timeout: CREATE INDEX CONCURRENTLY behind the lock fails: exit 3 (a failed migration)"
is "$(jv '[d["failure"]["error"]["sqlstate"], d["failure"]["error"]["message"], d["failure"]["statement_no"], sv("result")]')" \
	"55P03 canceling statement due to lock timeout 1 2=failed" "lock_timeout --json: 55P03 at statement 1"
like "$ERR" 'migration 2 \(ntlk/2__idx.sql\) failed: canceling statement due to lock timeout \[55P03\]' \
	"lock_timeout: the failure says it was the lock timeout"
if [ "$ms" -ge 300 ] && [ "$ms" -lt 10000 ]; then
	pass "lock_timeout: it waited for migrate.lock_timeout (300 ms) and no longer (${ms} ms; the lock is held for 120 s)"
else
	fail "lock_timeout: it waited for migrate.lock_timeout (300 ms) and no longer" "  pg_migrate took ${ms} ms"
fi
is "$(sql pgm_ntlock "$locked")" "1" "lock_timeout: the other session still holds its lock"
is "$(states pgm_ntlock) $(sql pgm_ntlock "SELECT count(*) FROM pg_index WHERE indrelid = 'lk'::regclass") $(sql pgm_ntlock "SELECT count(*) FROM migrate.history WHERE version = '2'")" \
	"1:applied 0 0" "lock_timeout: nothing recorded, no index left (not even an INVALID one)"
sql pgm_ntlock "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgm_locker'" >/dev/null
wait "$locker" 2>/dev/null
pgm -d pgm_ntlock up ntlk
is "$RC $(states pgm_ntlock)" "0 1:applied 2:applied" "lock_timeout: once the lock is released, up applies it"

###########################################################################
# 11. S1: dev and prod diverged, reconciled with bridge migrations
###########################################################################
newdb dev
newdb prod
# every migration is idempotent (IF NOT EXISTS), so each side can apply the other's
printf -- '-- migrate:up\nCREATE TABLE IF NOT EXISTS users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);\n-- migrate:down\nDROP TABLE users;\n' |
	mf s1common 20250101000000__users.sql
mf s1common 20250102000000__orders.sql <<<'CREATE TABLE IF NOT EXISTS orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id bigint NOT NULL REFERENCES users, total numeric NOT NULL DEFAULT 0);'
mf s1common 20250103000000__orders_user_idx.sql <<<'CREATE INDEX IF NOT EXISTS orders_user_id_idx ON orders (user_id);'
mf s1dev 20250201000000__profiles.sql <<<'CREATE TABLE IF NOT EXISTS profiles (user_id bigint PRIMARY KEY REFERENCES users, bio text);'
mf s1dev 20250203000000__orders_status.sql <<<"ALTER TABLE orders ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'new';"
mf s1dev 20250205000000__tags.sql <<<'CREATE TABLE IF NOT EXISTS tags (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label text NOT NULL UNIQUE);'
mf s1dev 20250207000000__users_email.sql <<<'ALTER TABLE users ADD COLUMN IF NOT EXISTS email text;'
# prod's hotfix made the same change as dev's 20250203000000, under its own version
mf s1prod 20250202000000__hotfix_orders_status.sql <<<"ALTER TABLE orders ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'new';"
mf s1prod 20250204000000__upload_errors.sql <<<'CREATE TABLE IF NOT EXISTS upload_errors (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, file_name text, error text NOT NULL);'
mf s1prod 20250206000000__orders_total_idx.sql <<<'CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_total_idx ON orders (total);'
common_v="20250101000000 20250102000000 20250103000000"
dev_v="20250201000000 20250203000000 20250205000000 20250207000000"
prod_v="20250202000000 20250204000000 20250206000000"
cp s1common/* s1dev/
cp s1common/* s1prod/
mkdir -p s1all
cp s1dev/* s1all/
cp -n s1prod/* s1all/ 2>/dev/null

pgm -d pgm_dev --json up s1dev
is "$RC $(jv 'd["applied"]')" "0 7" "S1: dev has the common and its own 4 migrations"
pgm -d pgm_prod --json up s1prod
is "$RC $(jv '[d["applied"], [m["version"] for m in d["migrations"] if m["non_transactional"]]]')" "0 6 20250206000000" \
	"S1: prod has the common and its own 3 migrations (one CREATE INDEX CONCURRENTLY)"
pgm compare pgm_dev pgm_prod
exit_code 1 "S1: compare dev prod: exit 1 (differences)"
like "$OUT" 'compare: 7 history difference\(s\)' "S1: compare: summary"
pgm --json compare pgm_dev pgm_prod
exit_code 1 "S1: compare --json: exit 1"
json_ok "S1: compare --json: one JSON object"
is "$(jv '{m["version"] for m in where("history", difference="only_in_a")}')" "$dev_v" "S1: compare: only_in_a is exactly dev's 4 versions"
is "$(jv '{m["version"] for m in where("history", difference="only_in_b")}')" "$prod_v" "S1: compare: only_in_b is exactly prod's 3 versions"
is "$(jv '{m["version"] for m in where("history", difference="same")}')" "$common_v" "S1: compare: the common versions are the same"
is "$(jv '[len(d["history"]), d["history_differences"], d["first_divergence"], d["same_fingerprint"], d["a"], d["b"]]')" \
	"10 7 20250201000000 false pgm_dev pgm_prod" "S1: compare: 10 versions, 7 differ, first divergence, fingerprints differ"
is "$(jv '{m["change"] + " " + m["identity"] for m in where("drift", kind="table")}')" \
	"missing public.profiles missing public.tags unexpected public.upload_errors" "S1: compare: tables only on dev missing, only on prod unexpected"
is "$(jv '{m["change"] + " " + m["identity"] for m in where("drift", kind="column")}')" \
	"missing public.profiles.bio missing public.profiles.user_id missing public.tags.id missing public.tags.label missing public.users.email unexpected public.upload_errors.error unexpected public.upload_errors.file_name unexpected public.upload_errors.id" \
	"S1: compare: column differences (orders.status is on both)"
is "$(jv '{m["change"] + " " + m["identity"] for m in where("drift", kind="index")}')" \
	"missing public.profiles_pkey missing public.tags_label_key missing public.tags_pkey unexpected public.orders_total_idx unexpected public.upload_errors_pkey" \
	"S1: compare: index differences"
is "$(jv 'd["schema_differences"] == len(d["drift"]) > 0')" "true" "S1: compare: schema_differences counts the drift list"

pgm -d pgm_dev --json status s1all
is "$RC $(jv 'sv("state")')" \
	"0 20250101000000=applied 20250102000000=applied 20250103000000=applied 20250201000000=applied 20250202000000=out-of-order 20250203000000=applied 20250204000000=out-of-order 20250205000000=applied 20250206000000=out-of-order 20250207000000=applied" \
	"S1: status of the union on dev: prod's 3 migrations out-of-order"
pgm -d pgm_prod --json status s1all
is "$RC $(jv 'sv("state")')" \
	"0 20250101000000=applied 20250102000000=applied 20250103000000=applied 20250201000000=out-of-order 20250202000000=applied 20250203000000=out-of-order 20250204000000=applied 20250205000000=out-of-order 20250206000000=applied 20250207000000=pending" \
	"S1: status of the union on prod: dev's 3 older migrations out-of-order, 20250207000000 pending"
pgm -d pgm_dev up s1all
exit_code 4 "S1: up of the union on dev without --allow-out-of-order is refused: exit 4"
is "$(sql pgm_dev 'SELECT count(*) FROM migrate.migrations')" "7" "S1: nothing applied without --allow-out-of-order"
pgm -d pgm_dev --json --allow-out-of-order up s1all
exit_code 0 "S1: bridge dev: up --allow-out-of-order: exit 0"
json_ok "S1: bridge dev --json: one JSON object (notices go to stderr)"
is "$(jv 'sv("result")')" "20250202000000=applied 20250204000000=applied 20250206000000=recorded" "S1: bridge dev: prod's migrations applied"
pgm -d pgm_prod --json --allow-out-of-order up s1all
exit_code 0 "S1: bridge prod: up --allow-out-of-order: exit 0"
is "$(jv 'sv("result")')" "20250201000000=applied 20250203000000=applied 20250205000000=applied 20250207000000=applied" \
	"S1: bridge prod: dev's migrations applied"
pgm --json compare pgm_dev pgm_prod
exit_code 0 "S1: after the bridge, compare: exit 0"
is "$(jv '[len(d["history"]), {m["difference"] for m in d["history"]}, d["history_differences"], d["first_divergence"]]')" "10 same 0 null" \
	"S1: after the bridge: all 10 versions the same"
is "$(jv '[d["same_fingerprint"], d["fingerprint_a"] == d["fingerprint_b"], d["schema_differences"], len(d["drift"])]')" "true true 0 0" \
	"S1: after the bridge: same fingerprint, no schema differences"
fp_json=$(jv 'd["fingerprint_a"]')
fp_dev=$(sql pgm_dev 'SELECT migrate.fingerprint()')
fp_prod=$(sql pgm_prod 'SELECT migrate.fingerprint()')
is "$fp_dev" "$fp_prod" "S1: migrate.fingerprint() equal on dev and prod"
is "$fp_json" "$fp_dev" "S1: compare reports that fingerprint"
pgm compare pgm_prod pgm_dev
exit_code 0 "S1: compare prod dev: exit 0 too"
pgm -d pgm_dev --json status s1all
is "$RC $(jv '{m["state"] for m in d["migrations"]}') $(jv '[m["version"] for m in d["migrations"] if m["applied_out_of_order"]]')" \
	"0 applied $prod_v" "S1: dev: all applied, prod's flagged out of order"
pgm -d pgm_prod --json status s1all
is "$RC $(jv '{m["state"] for m in d["migrations"]}') $(jv '[m["version"] for m in d["migrations"] if m["applied_out_of_order"]]')" \
	"0 applied 20250201000000 20250203000000 20250205000000" "S1: prod: all applied, dev's older ones flagged out of order"
is "$(sql pgm_dev 'SELECT count(*) FROM migrate.history_check()') $(sql pgm_prod 'SELECT count(*) FROM migrate.history_check()')" "0 0" \
	"S1: both histories intact"

###########################################################################
# 12. tampering with the history behind the functions' back
###########################################################################
newdb tamper
newdb twin
for i in 1 2 3 4; do mf tp "${i}__tp$i.sql" <<<"CREATE TABLE tp$i (id int);"; done
pgm -d pgm_tamper -q up tp
pgm -d pgm_twin -q up tp
# problems DB: "problem table version ..." from migrate.history_check()
problems() {
	sql "$1" "SELECT coalesce(string_agg(problem || ' ' || table_name || ' ' || version, ', ' ORDER BY table_name, version, problem), '') FROM migrate.history_check()"
}
is "$(problems pgm_tamper)" "" "tamper: history_check finds nothing after applies"
like "$(sql pgm_tamper "UPDATE migrate.migrations SET checksum = repeat('0', 64) WHERE version = '2'")" 'not allowed' \
	"tamper: the guard trigger refuses a direct UPDATE"
pgm compare pgm_twin pgm_tamper
exit_code 0 "tamper: compare with a twin: exit 0 before"
tamper() {
	sql pgm_tamper "SET session_replication_role = replica; $1"
}
tamper "UPDATE migrate.migrations SET checksum = repeat('0', 64) WHERE version = '2'" >/dev/null
is "$(problems pgm_tamper)" "changed migrations 2" "tamper: a changed checksum in migrate.migrations: history_check says changed"
pgm -d pgm_tamper --json status tp
is "$RC $(jv 'sv("state")')" "1 1=applied 2=checksum-differs 3=applied 4=applied" "tamper: status: checksum-differs, exit 1"
pgm --json compare pgm_twin pgm_tamper
is "$RC $(jv '[(m["version"], m["difference"]) for m in d["history"] if m["difference"] != "same"]')" "1 2 checksum_differs" \
	"tamper: compare with the twin: checksum_differs, exit 1"
tamper "DELETE FROM migrate.migrations WHERE version = '3'" >/dev/null
is "$(problems pgm_tamper)" "changed migrations 2, deleted migrations 3" "tamper: a deleted migrations row: history_check says deleted"
pgm -d pgm_tamper --json status tp
is "$(jv 'sv("state")')" "1=applied 2=checksum-differs 3=out-of-order 4=applied" "tamper: status: the deleted one looks out-of-order"
pgm --json compare pgm_twin pgm_tamper
is "$RC $(jv '[(m["version"], m["difference"]) for m in d["history"] if m["difference"] != "same"]')" \
	"1 2 checksum_differs 3 only_in_a" "tamper: compare: 3 only in the twin"
tamper "UPDATE migrate.history SET checksum = repeat('1', 64) WHERE version = '4'" >/dev/null
is "$(problems pgm_tamper)" "changed history 4, changed migrations 2, deleted migrations 3, changed migrations 4" \
	"tamper: a changed history entry: changed (history, and the row no longer matches it)"
tamper "DELETE FROM migrate.history WHERE version = '1'" >/dev/null
is "$(problems pgm_tamper)" \
	"deleted history 2, changed history 4, inserted migrations 1, changed migrations 2, deleted migrations 3, changed migrations 4" \
	"tamper: a deleted history entry: the next entry's chain is broken, the row has no entry"
is "$(sql pgm_twin 'SELECT count(*) FROM migrate.history_check()')" "0" "tamper: the twin is intact"

###########################################################################
# 13. drift
###########################################################################
newdb drift
mf dft 1__t.sql <<<'CREATE TABLE dt (id int);'
pgm -d pgm_drift --json drift
exit_code 5 "drift: nothing applied and no snapshot saved: exit 5 (a server error)"
is "$(jv 'd["error"]["sqlstate"]')" "MG020" "drift --json: no snapshot: MG020"
like "$ERR" 'no saved snapshot.*snapshot_save' "drift: no snapshot: hints at migrate.snapshot_save()"
pgm -d pgm_drift -q up dft
pgm -d pgm_drift drift
exit_code 0 "drift: after up, the expected schema is what the migrations produced: exit 0"
like "$OUT" 'drift: none' "drift: none"
# a migration pg_migrate runs outside a transaction counts as in band too
mf dft 2__idx.sql <<<'CREATE INDEX CONCURRENTLY dt_id_idx ON dt (id);'
pgm -d pgm_drift -q up dft
exit_code 0 "drift: a non-transactional migration applied"
is "$(sql pgm_drift "SELECT string_agg(DISTINCT migration_version, ',') FROM migrate.ddl_log WHERE object_identity = 'public.dt_id_idx'")" "2" \
	"drift: the ledger marks the concurrent index as migration 2's"
pgm -d pgm_drift drift
exit_code 0 "drift: the concurrent index of a migration is not drift"
is "$(sql pgm_drift "SELECT count(*) FROM migrate.expected_objects WHERE kind = 'index' AND identity = 'public.dt_id_idx'")" "1" \
	"drift: the expected schema has the concurrent index"
is "$(sql pgm_drift "SELECT migrate.current_migration() IS NULL")" "t" "drift: no migration marked in a new session"
sql pgm_drift 'ALTER TABLE dt ADD COLUMN extra text' >/dev/null
pgm -d pgm_drift --json drift
exit_code 1 "drift: after an out-of-band ADD COLUMN: exit 1"
json_ok "drift --json: one JSON object"
is "$(jv '[(m["kind"], m["identity"], m["change"]) for m in d["drift"]] + [d["differences"]]')" "column public.dt.extra unexpected 1" \
	"drift --json: the new column, unexpected"
like "$(jv 'd["drift"][0]["statement"]')" 'ALTER TABLE dt ADD COLUMN extra text' "drift --json: the statement from the ledger"
like "$(jv 'd["drift"][0]["changed_by"]')" "^$PGUSER " "drift --json: who changed it"
sql pgm_drift "SELECT migrate.snapshot_save('accepted')" >/dev/null
pgm -d pgm_drift drift
exit_code 0 "drift: after saving a new snapshot: exit 0"

###########################################################################
# 14. connection strings and PGDATABASE
###########################################################################
newdb conn
pgm -d "dbname=pgm_conn" --json status conn
is "$RC $(jv '[d["database"], sv("state")]')" "0 pgm_conn 1=pending" "-d with a connection string"
pgm -d "postgresql:///pgm_conn?host=$PGHOST&port=$PGPORT" --json status conn
is "$RC $(jv 'd["database"]')" "0 pgm_conn" "-d with a URI"
pgm --dbname=pgm_conn -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" --json status conn
is "$RC $(jv 'd["database"]')" "0 pgm_conn" "--dbname, -h, -p, -U"
PGDATABASE=pgm_conn run "$PGM" --json up conn
is "$RC $(jv 'd["database"]') $(states pgm_conn)" "0 pgm_conn 1:applied" "PGDATABASE names the database"
PGDATABASE=pgm_noext run "$PGM" -d pgm_conn --json status conn
is "$RC $(jv 'd["database"]')" "0 pgm_conn" "-d wins over PGDATABASE"
run "$PGM" --json compare "dbname=pgm_conn" "host=$PGHOST port=$PGPORT dbname=pgm_conn"
is "$RC $(jv '[d["a"], d["b"], d["same_fingerprint"]]')" "0 pgm_conn pgm_conn true" "compare takes connection strings"

###########################################################################
# a role without the extension's privileges
###########################################################################
ROLES+=(pgm_reader)
sql postgres "DROP ROLE IF EXISTS pgm_reader; CREATE ROLE pgm_reader LOGIN PASSWORD '${PGPASSWORD:-pgm_reader}'" >/dev/null
PGPASSWORD=${PGPASSWORD:-pgm_reader} run "$PGM" -U pgm_reader -d pgm_lint lint lint/warn.sql
exit_code 1 "privileges: lint works for any role (migrate.lint is PUBLIC)"
PGPASSWORD=${PGPASSWORD:-pgm_reader} run "$PGM" -U pgm_reader -d pgm_files status files
exit_code 5 "privileges: status needs EXECUTE on migrate.status(): exit 5"
like "$ERR" 'permission denied for function status' "privileges: status: permission denied"
PGPASSWORD=${PGPASSWORD:-pgm_reader} run "$PGM" -U pgm_reader -d pgm_files up files
exit_code 5 "privileges: up as a role without privileges: exit 5"

# compare: exit 5 when a database cannot be read
pgm compare pgm_files pgm_noext
exit_code 5 "compare with a database without the extension: exit 5"
like "$ERR" 'the extension migrate_ext is not installed in database "pgm_noext"' "compare: names the database without the extension"
pgm --json compare pgm_no_such_database pgm_files
exit_code 5 "compare with a database that does not exist: exit 5"
json_ok "compare --json: cannot connect: still one JSON object"
is "$(jv 'd["exit_code"]')" "5" "compare --json: cannot connect: the exit code in the document"
like "$(jv 'd["error"]["message"]')" 'database "pgm_no_such_database" does not exist' "compare --json: cannot connect: the error in the document"
PGPASSWORD=${PGPASSWORD:-pgm_reader} run "$PGM" -U pgm_reader --json compare pgm_files pgm_files
exit_code 5 "compare as a role without EXECUTE on migrate.history_export: exit 5 (a server error)"
json_ok "compare --json: a server error is one JSON object"
is "$(jv 'd["error"]["sqlstate"]')" "42501" "compare --json: permission denied (42501)"
like "$ERR" 'permission denied for function history_export' "compare: the server's error is printed"

###########################################################################
# baselined databases
###########################################################################
newdb baseline
sql pgm_baseline "CREATE TABLE bl1 (id int); CREATE TABLE bl2 (id int); SELECT migrate.baseline('2')" >/dev/null
mf bl 1__bl1.sql <<<'CREATE TABLE bl1 (id int);'
mf bl 2__bl2.sql <<<'CREATE TABLE bl2 (id int);'
mf bl 3__bl3.sql <<<'CREATE TABLE bl3 (id int);'
pgm -d pgm_baseline --json up bl
is "$RC $(jv 'sv("result")')" "0 3=applied" "baseline: up skips what the baseline covers"
is "$(jv 'd["pending_left"]')" "0" "baseline: up --json: nothing is pending left"
pgm -d pgm_baseline --json status bl
is "$(jv '[m["state"] for m in where("migrations", version="2")]')" "baselined" "baseline: status shows the baseline"
is "$(jv '[m["state"] for m in where("migrations", version="1")]')" 'below-baseline' \
	"baseline: status shows a version covered by the baseline as below-baseline"

done_testing
