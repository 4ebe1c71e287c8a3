# shellcheck shell=bash
# test/client/lib/tap.sh: a small TAP producer for bash test scripts
# (sourced, not run: it lives in lib/ so that `prove --ext .sh test/client/`
# does not pick it up as a test).
#
#   run CMD [ARG]...        run a command; sets RC, OUT (stdout) and ERR (stderr)
#   exit_code WANT DESC     RC of the last run is WANT (diagnostics: its stdout/stderr)
#   ok DESC CMD [ARG]...    CMD exits 0
#   is GOT WANT DESC        string equality
#   isnt GOT NOTWANT DESC   string inequality
#   like GOT ERE DESC       GOT matches the extended regular expression ERE (bash =~)
#   unlike GOT ERE DESC     GOT does not match ERE
#   pass DESC / fail DESC [DIAG]...
#   diag MSG...             "# " lines on stderr (shown by prove)
#   note MSG...             "# " lines on stdout (shown by prove -v)
#   bail_out MSG            "Bail out!" and exit 255
#   done_testing            print the plan "1..N"; exit 1 if any test failed
#   sql DB QUERY            one query through psql (see below)
#   create_test_db DB [noext]  a fresh database, remembered in DBS
#
# Failure diagnostics go to stderr, as Test::More does, so that prove shows
# them without -v.

_tap_n=0
_tap_failed=0
_tap_failed_list=()
RC=0
OUT=
ERR=

diag() {
	local line
	while IFS= read -r line; do
		printf '# %s\n' "$line" >&2
	done <<<"$*"
}

note() {
	local line
	while IFS= read -r line; do
		printf '# %s\n' "$line"
	done <<<"$*"
}

bail_out() {
	printf 'Bail out! %s\n' "$*"
	exit 255
}

pass() {
	_tap_n=$((_tap_n + 1))
	printf 'ok %d - %s\n' "$_tap_n" "$1"
}

# fail DESC [DIAG]...
fail() {
	local desc=$1
	shift
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	_tap_failed_list+=("$_tap_n")
	printf 'not ok %d - %s\n' "$_tap_n" "$desc"
	diag "  Failed test $_tap_n: $desc"
	local d
	for d in "$@"; do
		diag "$d"
	done
	return 0
}

# the first lines of a text, indented, for diagnostics
_tap_head() {
	local text=$1 max=${2:-25}
	printf '%s\n' "$text" | head -n "$max" | sed 's/^/    /'
	local n
	n=$(printf '%s\n' "$text" | wc -l)
	[ "$n" -gt "$max" ] && printf '    ... (%d more lines)\n' $((n - max))
	return 0
}

# run CMD [ARG]...: RC, OUT, ERR
run() {
	local o e
	o=$(mktemp "${TMPDIR:-/tmp}/tap_out.XXXXXX")
	e=$(mktemp "${TMPDIR:-/tmp}/tap_err.XXXXXX")
	"$@" >"$o" 2>"$e"
	RC=$?
	OUT=$(cat "$o")
	ERR=$(cat "$e")
	rm -f "$o" "$e"
	return 0
}

# exit_code WANT DESC: the exit status of the last run
exit_code() {
	if [ "$RC" = "$1" ]; then
		pass "$2"
	else
		fail "$2" "  exit status: $RC, expected: $1" "  stdout:" "$(_tap_head "$OUT")" "  stderr:" "$(_tap_head "$ERR")"
	fi
}

# ok DESC CMD [ARG]...
ok() {
	local desc=$1
	shift
	local out
	if out=$("$@" 2>&1); then
		pass "$desc"
	else
		fail "$desc" "  command failed: $*" "$(_tap_head "$out")"
	fi
}

is() {
	if [ "$1" == "$2" ]; then
		pass "$3"
	else
		fail "$3" "         got: '$1'" "    expected: '$2'"
	fi
}

isnt() {
	if [ "$1" != "$2" ]; then
		pass "$3"
	else
		fail "$3" "         got: '$1'" "    expected anything else"
	fi
}

like() {
	if [[ $1 =~ $2 ]]; then
		pass "$3"
	else
		fail "$3" "    '$(_tap_head "$1" 15)'" "    does not match: /$2/"
	fi
}

unlike() {
	if [[ $1 =~ $2 ]]; then
		fail "$3" "    '$(_tap_head "$1" 15)'" "    matches: /$2/ (it should not)"
	else
		pass "$3"
	fi
}

done_testing() {
	printf '1..%d\n' "$_tap_n"
	if [ "$_tap_failed" -gt 0 ]; then
		diag "Looks like you failed $_tap_failed test(s) of $_tap_n: ${_tap_failed_list[*]}"
		return 1
	fi
	return 0
}

# require_server: bail out unless a server answers (PGHOST/PGPORT, e.g. from
# pg_virtualenv -t), and export PGPORT for libpq clients, which do not read
# psql's wrapper settings
require_server() {
	psql -XAtq -d postgres -c 'SELECT 1' >/dev/null 2>&1 || bail_out "no server: run inside pg_virtualenv -t"
	if [ -z "${PGPORT:-}" ]; then
		PGPORT=$(psql -XAtq -d postgres -c 'SHOW port')
		export PGPORT
	fi
}

# require_pg_migrate: PGM is the installed client ($PG_MIGRATE to override)
require_pg_migrate() {
	PGM=${PG_MIGRATE:-"$("${PG_CONFIG:-pg_config}" --bindir)/pg_migrate"}
	[ -x "$PGM" ] || bail_out "pg_migrate is not installed at $PGM (make && make install)"
}

# sql DB QUERY: one psql call in autocommit, unaligned, tuples only, NOTICEs
# off; stops at the first error (stderr kept in the output)
sql() {
	PGOPTIONS="-c client_min_messages=warning" psql -XAtq -v ON_ERROR_STOP=1 -d "$1" -c "$2" 2>&1
}

# create_test_db DB [noext]: DB dropped and created again, with migrate_ext
# unless noext; its name is added to the array DBS (for the script's cleanup)
create_test_db() {
	dropdb --if-exists --force "$1" >/dev/null 2>&1
	createdb "$1" || bail_out "cannot create database $1"
	DBS+=("$1")
	if [ "${2:-}" != noext ]; then
		sql "$1" 'CREATE EXTENSION migrate_ext' >/dev/null || bail_out "cannot create the extension in $1"
	fi
}
