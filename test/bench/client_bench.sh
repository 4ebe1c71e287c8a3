#!/usr/bin/env bash
# Measures the pg_migrate client on a folder of migration files against plain
# psql and against sqitch (Debian package sqitch, installed here when missing).
# Generates 200 migration files <version>__<name>.sql (2 to 6 statements each:
# CREATE TABLE with a primary key, INSERT ... SELECT generate_series, ALTER
# TABLE ADD COLUMN, CREATE INDEX, CREATE VIEW, CREATE FUNCTION in SQL, COMMENT
# ON) and applies them on a fresh database in three ways:
#   psql       : one psql -1 -f FILE per file, in version order (a process, a
#                connection and a transaction per file)
#   pg_migrate : pg_migrate up DIR on a database with migrate_ext (one
#                connection, each file through migrate.apply)
#   sqitch     : sqitch deploy of a project with one change per file (deploy
#                script = the file between BEGIN; and COMMIT;, as sqitch's own
#                template has it; sqitch's default deploy, without verify)
# psql is the binary in $(pg_config --bindir), for the baseline and as sqitch's
# client: Debian's /usr/bin/psql is a Perl wrapper (pg_wrapper) that adds about
# 30 ms to every start, which would count against psql and sqitch only.
# CREATE EXTENSION and the creation of sqitch's registry (by deploying another
# project into the database first) are setup, outside the timings. Each side
# runs 3 times, in turn, on a fresh database each run; the median wall-clock
# times, the time per migration and the ratios pg_migrate/psql (target <= 1.5)
# and sqitch/pg_migrate (target >= 5) are printed. Every run must end with the
# same objects in schema public. Always exits 0 once the measurement ran (a
# missed target is reported as MISS, not as a failure).
# pg_migrate is taken from $(pg_config --bindir) (make install puts it there),
# or from $PG_MIGRATE. Runs against the server in PGHOST/PGPORT/PGUSER (e.g.
# inside pg_virtualenv; PGPORT is set from the server when missing, since
# pg_virtualenv leaves it to psql's wrapper and libpq would not find the
# server); creates and drops databases named migrate_cbench_*.
set -euo pipefail

N=${BENCH_MIGRATIONS:-200}
ROUNDS=${BENCH_ROUNDS:-3}
TARGET_PSQL=1.5
TARGET_SQITCH=5

. "$(dirname "$0")/common.sh"

pg_migrate=${PG_MIGRATE:-"$(pg_config --bindir)/pg_migrate"}
psql_bin="$(pg_config --bindir)/psql"
if [ ! -x "$pg_migrate" ]; then
	echo "error: the pg_migrate client is not installed at $pg_migrate (make && make install builds and installs it)" >&2
	exit 1
fi
if ! command -v sqitch >/dev/null; then
	echo "installing sqitch ..."
	# (apt-get update first only when the package lists are too old to find it)
	{ DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqitch ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqitch; }; } >"$work/apt.log" 2>&1 || {
		cat "$work/apt.log" >&2
		echo "error: could not install sqitch" >&2
		exit 1
	}
fi
# libpq-based clients (pg_migrate, sqitch's DBD::Pg) need the port itself
if [ -z "${PGPORT:-}" ]; then
	PGPORT=$(psql_admin -Atc 'SHOW port')
	export PGPORT
fi
# sqitch reads and writes no configuration of the real user
mkdir "$work/home"
sqitch_env=(env HOME="$work/home" SQITCH_USER_CONFIG="$work/home/sqitch.conf"
	SQITCH_FULLNAME='Migrate Bench' SQITCH_EMAIL=bench@example.com)

echo "== migrate_ext client benchmark (pg_migrate, psql, sqitch) =="
echo "PostgreSQL: $(psql_admin -Atc 'SELECT version()')"
echo "sqitch: $(sqitch --version)"
echo "nproc: $(nproc)"
echo "settings: $(psql_admin -Atc "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'wal_level')")"
echo "migrations: $N, rounds per side: $ROUNDS"

# --- generate the migrations and the sqitch project ----------------------------
# groups of five files, each on its own pair of tables:
#   1 create a table with a primary key, comment it, fill it with 100 rows
#   2 add two columns and an index
#   3 a view and its comment
#   4 a SQL function and its comment
#   5 a child table with a foreign key, its index and 100 rows, a new column
#     and an index on the parent, a column comment
dir="$work/migrations"
sq="$work/sqitch"
mkdir "$dir" "$sq"
(cd "$sq" && "${sqitch_env[@]}" sqitch init bench --engine pg >/dev/null)
plan="$sq/sqitch.plan"
for ((i = 1; i <= N; i++)); do
	g=$(printf '%03d' $(((i - 1) / 5 + 1)))
	t="app_t$g"
	case $((i % 5)) in
	1)
		name="create_$t"
		sql="CREATE TABLE $t (
    id bigint PRIMARY KEY,
    name text NOT NULL,
    status smallint NOT NULL DEFAULT 0,
    amount numeric(12,2),
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE $t IS 'benchmark table $g';
INSERT INTO $t (id, name, amount)
SELECT g, 'name ' || g, g * 1.5 FROM generate_series(1, 100) g;"
		drop="DROP TABLE $t;"
		;;
	2)
		name="extend_$t"
		sql="ALTER TABLE $t ADD COLUMN note text;
ALTER TABLE $t ADD COLUMN updated_at timestamptz;
CREATE INDEX ${t}_status_idx ON $t (status, created_at);"
		drop="DROP INDEX ${t}_status_idx; ALTER TABLE $t DROP COLUMN note, DROP COLUMN updated_at;"
		;;
	3)
		name="view_app_v$g"
		sql="CREATE VIEW app_v$g AS
SELECT id, name, amount, created_at FROM $t WHERE status = 0;
COMMENT ON VIEW app_v$g IS 'open rows of $t';"
		drop="DROP VIEW app_v$g;"
		;;
	4)
		name="function_app_f$g"
		sql="CREATE FUNCTION app_f$g(p_id bigint) RETURNS numeric
LANGUAGE sql STABLE
AS \$\$ SELECT amount FROM $t WHERE id = p_id \$\$;
COMMENT ON FUNCTION app_f$g(bigint) IS 'amount of one row of $t';"
		drop="DROP FUNCTION app_f$g(bigint);"
		;;
	0)
		name="child_app_c$g"
		sql="CREATE TABLE app_c$g (
    id bigint PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES $t (id),
    qty integer NOT NULL,
    label text
);
CREATE INDEX app_c${g}_parent_idx ON app_c$g (parent_id);
INSERT INTO app_c$g (id, parent_id, qty, label)
SELECT g, g, g % 7, 'child ' || g FROM generate_series(1, 100) g;
ALTER TABLE $t ADD COLUMN child_count integer NOT NULL DEFAULT 0;
CREATE INDEX ${t}_name_idx ON $t (name);
COMMENT ON COLUMN $t.child_count IS 'number of rows in app_c$g';"
		drop="DROP TABLE app_c$g; DROP INDEX ${t}_name_idx; ALTER TABLE $t DROP COLUMN child_count;"
		;;
	esac
	version=$(printf '20250101%06d' "$i")
	change="${version}__$name"
	printf '%s\n' "$sql" >"$dir/$change.sql"
	printf -- '-- Deploy bench:%s to pg\n\nBEGIN;\n\n%s\n\nCOMMIT;\n' "$change" "$sql" >"$sq/deploy/$change.sql"
	printf -- '-- Revert bench:%s from pg\n\nBEGIN;\n\n%s\n\nCOMMIT;\n' "$change" "$drop" >"$sq/revert/$change.sql"
	printf -- '-- Verify bench:%s on pg\n\nSELECT 1;\n' "$change" >"$sq/verify/$change.sql"
	# the plan format sqitch add writes (see sqitch-add and sqitch.plan)
	printf '%s 2025-01-01T00:00:00Z Migrate Bench <bench@example.com> # %s\n' "$change" "$name" >>"$plan"
done
n_statements=$(cat "$dir"/*.sql | grep -c ';$')
echo "files: $(find "$dir" -name '*.sql' | wc -l) in $dir, $n_statements statements, $(cat "$dir"/*.sql | wc -c) bytes"
# another project, deployed before the timed run to create sqitch's registry
init="$work/sqitch_init"
mkdir "$init"
(cd "$init" && "${sqitch_env[@]}" sqitch init registry_init --engine pg >/dev/null &&
	"${sqitch_env[@]}" sqitch add init -n 'creates the registry' >/dev/null)

# --- one timed run -----------------------------------------------------------
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", b - a }'; }

# run_one psql|pg_migrate|sqitch round -> prints "elapsed setup" in seconds;
# leaves the database
run_one() {
	local side=$1 round=$2
	local db="migrate_cbench_${side}_$round" f t0 t1 s0 s1
	psql_admin -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
	s0=$(date +%s.%N)
	case $side in
	pg_migrate) psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION migrate_ext' ;;
	sqitch) (cd "$init" && "${sqitch_env[@]}" sqitch deploy --client "$psql_bin" --target "db:pg:$db" >"$work/sqitch_init.log" 2>&1) ||
		{ cat "$work/sqitch_init.log" >&2; echo "error: sqitch could not create its registry in $db" >&2; exit 1; } ;;
	esac
	s1=$(date +%s.%N)
	# start each run from a clean checkpoint so runs do not pay for each other
	psql_admin -c CHECKPOINT
	t0=$(date +%s.%N)
	case $side in
	psql)
		for f in "$dir"/*.sql; do
			"$psql_bin" -X -q -v ON_ERROR_STOP=1 -1 -f "$f" -d "$db" >/dev/null
		done
		;;
	pg_migrate)
		"$pg_migrate" -d "$db" up "$dir" >"$work/pg_migrate.log" 2>&1 ||
			{ cat "$work/pg_migrate.log" >&2; echo "error: pg_migrate up failed on $db" >&2; exit 1; }
		;;
	sqitch)
		(cd "$sq" && "${sqitch_env[@]}" sqitch deploy --client "$psql_bin" --target "db:pg:$db" >"$work/sqitch.log" 2>&1) ||
			{ cat "$work/sqitch.log" >&2; echo "error: sqitch deploy failed on $db" >&2; exit 1; }
		;;
	esac
	t1=$(date +%s.%N)
	echo "$(elapsed "$t0" "$t1") $(elapsed "$s0" "$s1")"
}

# what the migrations built in schema public, the same for every side
objects() {
	psql -X -At -d "$1" -c "
		SELECT 'tables=' || count(*) FILTER (WHERE c.relkind = 'r')
		    || ' views=' || count(*) FILTER (WHERE c.relkind = 'v')
		    || ' indexes=' || count(*) FILTER (WHERE c.relkind = 'i')
		    || ' columns=' || (SELECT count(*) FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid
		                        WHERE r.relnamespace = 'public'::regnamespace AND r.relkind IN ('r', 'v')
		                          AND a.attnum > 0 AND NOT a.attisdropped)
		    || ' functions=' || (SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace)
		    || ' comments=' || (SELECT count(*) FROM pg_description d
		                         WHERE d.objoid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace
		                                            UNION ALL SELECT oid FROM pg_proc WHERE pronamespace = 'public'::regnamespace))
		  FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace"
}

# sanity check: every side built the same objects and recorded N migrations
expected=
check_db() {
	local side=$1 db=$2 got n
	got=$(objects "$db")
	if [ -z "$expected" ]; then
		expected=$got
		echo "  objects in public: $expected"
	elif [ "$got" != "$expected" ]; then
		echo "error: $db has $got in public, the first run had $expected" >&2
		exit 1
	fi
	case $side in
	pg_migrate) n=$(psql -X -At -d "$db" -c "SELECT count(*) FROM migrate.migrations WHERE state = 'applied'") ;;
	sqitch) n=$(psql -X -At -d "$db" -c "SELECT count(*) FROM sqitch.changes WHERE project = 'bench'") ;;
	*) n=$N ;;
	esac
	[ "$n" -eq "$N" ] || { echo "error: $db recorded $n $side migrations, expected $N" >&2; exit 1; }
}

sides=(psql pg_migrate sqitch)
declare -A times setups
for ((r = 1; r <= ROUNDS; r++)); do
	for side in "${sides[@]}"; do
		res=$(run_one "$side" "$r")
		read -r t s <<<"$res"
		check_db "$side" "migrate_cbench_${side}_$r"
		printf '  round %d %-10s %7s s\n' "$r" "$side" "$t"
		times[$side]+=" $t"
		setups[$side]+=" $s"
		psql_admin -c "DROP DATABASE migrate_cbench_${side}_$r"
	done
done
if [ "$(lib_stamp)" != "$lib_at_start" ]; then
	echo "warning: $lib changed during the run (another make install?): the numbers may mix two builds" >&2
fi

# shellcheck disable=SC2086 # the lists are split on purpose
p=$(median ${times[psql]})
# shellcheck disable=SC2086
m=$(median ${times[pg_migrate]})
# shellcheck disable=SC2086
q=$(median ${times[sqitch]})
# shellcheck disable=SC2086
ms=$(median ${setups[pg_migrate]})
# shellcheck disable=SC2086
qs=$(median ${setups[sqitch]})

echo
awk -v n="$N" -v p="$p" -v m="$m" -v q="$q" -v ms="$ms" -v qs="$qs" -v tp="$TARGET_PSQL" -v tq="$TARGET_SQITCH" 'BEGIN {
	printf "apply %d migration files (median of the rounds):\n", n
	printf "  psql -1 -f per file  %7.2f s  %6.2f ms per migration\n", p, 1000 * p / n
	printf "  pg_migrate up        %7.2f s  %6.2f ms per migration\n", m, 1000 * m / n
	printf "  sqitch deploy        %7.2f s  %6.2f ms per migration\n", q, 1000 * q / n
	printf "  (setup, not timed above: CREATE EXTENSION migrate_ext %.2f s, sqitch registry %.2f s)\n", ms, qs
	r1 = m / p
	r2 = q / m
	printf "ratio pg_migrate/psql %.2fx (target <= %.1fx)\n", r1, tp
	printf "ratio sqitch/pg_migrate %.2fx (target >= %.0fx)\n", r2, tq
	# compare the rounded figures that are printed
	if (sprintf("%.2f", r1) + 0 <= tp + 0)
		printf "PASS: pg_migrate/psql %.2fx <= %.1fx\n", r1, tp
	else
		printf "MISS: pg_migrate/psql %.2fx > %.1fx (by %.2f)\n", r1, tp, r1 - tp
	if (sprintf("%.2f", r2) + 0 >= tq + 0)
		printf "PASS: sqitch/pg_migrate %.2fx >= %.0fx\n", r2, tq
	else
		printf "MISS: sqitch/pg_migrate %.2fx < %.0fx (by %.2f)\n", r2, tq, tq - r2
}'
