# Helpers shared by the benchmarks (sourced; the caller sets "db" for psql_db
# and may set PSQL_DB_OPTIONS for extra settings of its sessions).
# a scratch directory, removed on exit
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# the installed library, to tell when a different build is installed mid-run
lib="$(pg_config --pkglibdir)/migrate_ext.so"
lib_stamp() { md5sum <"$lib" 2>/dev/null || echo none; }
lib_at_start=$(lib_stamp)

psql_admin() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }
psql_db() { PGOPTIONS="-c client_min_messages=warning ${PSQL_DB_OPTIONS:-}" psql -X -q -At -F ' ' -v ON_ERROR_STOP=1 -d "$db" "$@"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# the value of "<key> <value>" lines in file $2
get() { awk -v k="$1" '$1 == k { print $2; exit }' "$2"; }
