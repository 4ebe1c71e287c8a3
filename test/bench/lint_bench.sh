#!/usr/bin/env bash
# Measures the linter: its raw speed and what migrate.lint_level costs
# migrate.apply.
#   lint  : a 10,000-statement script of mixed DDL and DML (CREATE INDEX,
#           ADD COLUMN with and without defaults, SET NOT NULL, foreign keys
#           and checks, ALTER COLUMN TYPE, CREATE TRIGGER, CREATE POLICY,
#           renames, DROP INDEX, INSERT/UPDATE, CREATE TABLE, ...) against 50
#           existing, analyzed tables with rows; SELECT count(*) FROM
#           migrate.lint(:'script') runs 3 times after a warm-up run, the
#           median is printed as statements per second with the number of
#           findings.
#   apply : the 1,000 migrations of apply_bench.sh (a table with a primary key
#           and an index each) applied with SET migrate.lint_level = off and
#           = warn, each run on a fresh database, 3 alternating rounds,
#           medians; the lint cost is warn over off (target <= 10%). Those
#           scripts have no warning finding (the index is on a table created
#           in the same script), so a second variant adds a CREATE INDEX on a
#           pre-existing table to each migration: with warn every migration
#           then raises a WARNING (client_min_messages = error keeps them off
#           the terminal; the server log still gets them).
#   alone : migrate.lint of each of the same 1,000 scripts in one query, for
#           a figure of the lint cost that the run-to-run noise of the apply
#           timings does not drown.
# Always exits 0 once the measurement ran (a missed target is reported as
# MISS, not as a failure).
# Runs against the server in PGHOST/PGPORT/PGUSER (e.g. inside pg_virtualenv);
# creates and drops databases named migrate_lint_bench*.
set -euo pipefail

STATEMENTS=${BENCH_LINT_STATEMENTS:-10000}
N=${BENCH_MIGRATIONS:-1000}
ROUNDS=${BENCH_ROUNDS:-3}
TABLES=50
TARGET=10

. "$(dirname "$0")/common.sh"


echo
echo "== migrate_ext lint benchmark =="
echo "statements: $STATEMENTS on $TABLES existing tables; migrations: $N, rounds per side: $ROUNDS"

# --- (a) migrate.lint on a large script ----------------------------------------
lint_db=migrate_lint_bench
psql_admin -c "DROP DATABASE IF EXISTS $lint_db" -c "CREATE DATABASE $lint_db"
# 50 tables with 1,000 rows each, an index, and a trigger function; analyzed
# so the linter sees them as non-empty
psql -X -q -v ON_ERROR_STOP=1 -d "$lint_db" <<EOF
CREATE EXTENSION migrate_ext;
CREATE FUNCTION lb_touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
SELECT format('CREATE TABLE lb_t%s (id bigint PRIMARY KEY, ref_id bigint, n int NOT NULL DEFAULT 0, v varchar(40), at timestamp);
INSERT INTO lb_t%s SELECT g, g %% 100 + 1, g, md5(g::text) FROM generate_series(1, 1000) AS g;
CREATE INDEX lb_t%s_v_idx ON lb_t%s (v);', i, i, i, i)
  FROM generate_series(1, $TABLES) AS i \gexec
ANALYZE;
EOF

# the script: statement k works on table k % 50 + 1 and cycles through 20
# kinds; each kind appears about 500 times
script="$work/lint.sql"
awk -v n="$STATEMENTS" -v tables="$TABLES" 'BEGIN {
	for (k = 0; k < n; k++) {
		t = "lb_t" (k % tables + 1)
		r = "lb_t" ((k + 7) % tables + 1)
		m = k % 20
		if (m == 0) printf "CREATE INDEX %s_i%d ON %s (v, n);\n", t, k, t
		else if (m == 1) printf "ALTER TABLE %s ADD COLUMN c%d int;\n", t, k
		else if (m == 2) printf "ALTER TABLE %s ADD COLUMN c%d text NOT NULL DEFAULT '\''none'\'';\n", t, k
		else if (m == 3) printf "ALTER TABLE %s ADD COLUMN c%d timestamptz DEFAULT clock_timestamp();\n", t, k
		else if (m == 4) printf "ALTER TABLE %s ALTER COLUMN v SET NOT NULL;\n", t
		else if (m == 5) printf "ALTER TABLE %s ADD CONSTRAINT %s_fk%d FOREIGN KEY (ref_id) REFERENCES %s (id);\n", t, t, k, r
		else if (m == 6) printf "ALTER TABLE %s ADD CONSTRAINT %s_ck%d CHECK (n >= 0)%s;\n", t, t, k, (k % 40 == 6) ? " NOT VALID" : ""
		else if (m == 7) printf "ALTER TABLE %s ALTER COLUMN n TYPE %s;\n", t, (k % 40 == 7) ? "bigint" : "int"
		else if (m == 8) printf "CREATE TRIGGER %s_tr%d BEFORE UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION lb_touch();\n", t, k, t
		else if (m == 9) printf "CREATE POLICY %s_p%d ON %s USING (n >= 0);\n", t, k, t
		else if (m == 10) printf "ALTER TABLE %s RENAME COLUMN v TO v%d;\n", t, k
		else if (m == 11) printf "DROP INDEX %s_v_idx;\n", t
		else if (m == 12) printf "INSERT INTO %s (id, ref_id, n, v) VALUES (%d, 1, %d, '\''row %d'\'');\n", t, 100000 + k, k, k
		else if (m == 13) printf "UPDATE %s SET n = n + 1 WHERE id < %d;\n", t, k % 100 + 10
		else if (m == 14) printf "CREATE TABLE lb_new%d (id serial PRIMARY KEY, %s_id bigint REFERENCES %s, note varchar(20), at timestamp, doc json);\n", k, t, t
		else if (m == 15) printf "CREATE INDEX lb_new%d_at_idx ON lb_new%d (at);\n", k - 1, k - 1
		else if (m == 16) printf "ALTER TABLE %s ADD COLUMN c%d int NOT NULL;\n", t, k
		else if (m == 17) printf "ALTER TABLE %s ALTER COLUMN at TYPE timestamptz;\n", t
		else if (m == 18) printf "ALTER TABLE %s RENAME TO %s_old%d;\n", t, t, k
		else if (m == 19) printf "DELETE FROM %s WHERE id > 990;\n", t
	}
}' >"$script"
[ "$(grep -c ';$' "$script")" -eq "$STATEMENTS" ] || { echo "error: generated script does not have $STATEMENTS statements" >&2; exit 1; }

# one psql session: the script goes in as a variable; after a warm-up run,
# each run is timed from the statement before it to the one after it (so the
# time includes sending the script, as any caller pays it)
psql -X -q -At -F ' ' -v ON_ERROR_STOP=1 -d "$lint_db" >"$work/lint.out" <<EOF
\set script \`cat $script\`
SELECT count(*) AS findings FROM migrate.lint(:'script') \gset
$(for ((r = 1; r <= ROUNDS; r++)); do
	printf '%s\n' "SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset" \
		"SELECT count(*) AS findings FROM migrate.lint(:'script') \\gset" \
		"SELECT 'run', round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 3), :findings;"
done)
SELECT 'severity', severity, count(*) FROM migrate.lint(:'script') GROUP BY severity ORDER BY severity;
SELECT 'rules', count(DISTINCT rule) FROM migrate.lint(:'script');
EOF
lint_times=()
findings=
while read -r kind a b; do
	case "$kind" in
	run)
		lint_times+=("$a")
		findings=$b
		printf '  lint run %d %s s, %s findings\n' "${#lint_times[@]}" "$a" "$b" ;;
	severity) printf '  findings of severity %-7s %s\n' "$a" "$b" ;;
	rules) printf '  distinct rules hit: %s\n' "$a" ;;
	esac
done <"$work/lint.out"

l=$(median "${lint_times[@]}")
echo
awk -v n="$STATEMENTS" -v l="$l" -v f="$findings" 'BEGIN {
	printf "lint %d statements: %.3f s, %.0f statements/s (%d findings, %.1f us per statement)\n", n, l, n / l, f, 1e6 * l / n
}'

# --- (b) migrate.apply with migrate.lint_level off and warn ------------------
# two variants: "plain" (the migrations of apply_bench.sh: no warning
# finding) and "existing" (each also indexes a pre-existing table: one
# create-index-non-concurrent WARNING per migration under warn)
for variant in plain existing; do
	for level in off warn; do
		f="$work/apply_${variant}_$level.sql"
		{
			echo "SET client_min_messages = error;"
			echo "SET migrate.lint_level = $level;"
		} >"$f"
	done
done
for ((i = 1; i <= N; i++)); do
	v=$(printf '%04d' "$i")
	plain="CREATE TABLE bench_t$v (id bigint PRIMARY KEY, v text, created_at timestamptz DEFAULT now());
CREATE INDEX bench_t${v}_v_idx ON bench_t$v (v);"
	existing="$plain
CREATE INDEX bench_existing_v${v}_idx ON bench_existing (v);"
	printf "SELECT migrate.apply('%s', 'create bench_t%s', \$m\$%s\$m\$);\n" "$v" "$v" "$plain" >&3
	printf "SELECT migrate.apply('%s', 'create bench_t%s', \$m\$%s\$m\$);\n" "$v" "$v" "$existing" >&4
done 3>"$work/plain.sql" 4>"$work/existing.sql"
for variant in plain existing; do
	for level in off warn; do
		cat "$work/$variant.sql" >>"$work/apply_${variant}_$level.sql"
	done
done

# run_one variant level round -> prints elapsed seconds; leaves the database
run_one() {
	local variant=$1 level=$2 round=$3 t0 t1
	local db="migrate_lint_bench_${variant}_${level}_$round"
	psql_admin -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
	psql -X -q -v ON_ERROR_STOP=1 -d "$db" \
		-c 'CREATE EXTENSION migrate_ext' \
		-c 'CREATE TABLE bench_existing (id bigint PRIMARY KEY, v text)' \
		-c 'INSERT INTO bench_existing SELECT g, md5(g::text) FROM generate_series(1, 100) AS g' \
		-c 'ANALYZE bench_existing'
	# start each run from a clean checkpoint so runs do not pay for each other
	psql_admin -c CHECKPOINT
	t0=$(date +%s.%N)
	psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$work/apply_${variant}_$level.sql" >/dev/null
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

# sanity check: N applied migrations whose stored findings match the level
check_db() {
	local variant=$1 level=$2 db=$3 n want
	n=$(psql -X -At -d "$db" -c "SELECT count(*) FROM migrate.migrations WHERE state = 'applied'")
	[ "$n" -eq "$N" ] || { echo "error: $db has $n applied migrations, expected $N" >&2; exit 1; }
	n=$(psql -X -At -d "$db" -c "SELECT count(*) FROM migrate.migrations WHERE lint_findings @> '[{\"severity\": \"warning\"}]'")
	want=0
	[ "$variant" = existing ] && [ "$level" = warn ] && want=$N
	[ "$n" -eq "$want" ] || { echo "error: $db has $n migrations with warning findings, expected $want" >&2; exit 1; }
}

declare -A times
for ((r = 1; r <= ROUNDS; r++)); do
	for variant in plain existing; do
		# alternate which level goes first
		if [ $((r % 2)) -eq 1 ]; then levels="off warn"; else levels="warn off"; fi
		for level in $levels; do
			db="migrate_lint_bench_${variant}_${level}_$r"
			t=$(run_one "$variant" "$level" "$r")
			check_db "$variant" "$level" "$db"
			printf '  round %d %-8s lint %-4s %s s\n' "$r" "$variant" "$level" "$t"
			times[$variant.$level]="${times[$variant.$level]:-} $t"
			psql_admin -c "DROP DATABASE $db"
		done
	done
done

echo
for variant in plain existing; do
	# shellcheck disable=SC2086
	off=$(median ${times[$variant.off]})
	# shellcheck disable=SC2086
	warn=$(median ${times[$variant.warn]})
	if [ "$variant" = plain ]; then
		label="apply $N migrations"
	else
		label="apply $N migrations + CREATE INDEX on an existing table (1 WARNING each)"
	fi
	awk -v label="$label" -v off="$off" -v warn="$warn" -v target="$TARGET" 'BEGIN {
		pct = 100 * (warn - off) / off
		printf "%s: lint off %.2f s, lint warn %.2f s, lint cost %+.1f%% (target <= %d%%)\n", label, off, warn, pct, target
		# compare the rounded figure that is printed
		if (sprintf("%.1f", pct) + 0 <= target + 0)
			printf "PASS: lint cost %+.1f%% <= %d%%\n", pct, target
		else
			printf "MISS: lint cost %+.1f%% > %d%% (by %.1f points)\n", pct, target, pct - target
	}'
done

# --- the linter alone on the same migration scripts ----------------------------
# migrate.lint of each of the N scripts (it parses them again, so this is an
# upper bound of what lint_for_apply adds), timed like the runs above
psql -X -q -v ON_ERROR_STOP=1 -d "$lint_db" \
	-c 'CREATE TABLE bench_existing (id bigint PRIMARY KEY, v text)' \
	-c 'INSERT INTO bench_existing SELECT g, md5(g::text) FROM generate_series(1, 100) AS g' \
	-c 'ANALYZE bench_existing'
for variant in plain existing; do
	# shellcheck disable=SC2016 # format() placeholders, not shell expansions
	fmt='CREATE TABLE bench_t%1$s (id bigint PRIMARY KEY, v text, created_at timestamptz DEFAULT now());
CREATE INDEX bench_t%1$s_v_idx ON bench_t%1$s (v);'
	[ "$variant" = existing ] && fmt="$fmt"$'\nCREATE INDEX bench_existing_v%1$s_idx ON bench_existing (v);'
	psql -X -q -At -F ' ' -v ON_ERROR_STOP=1 -d "$lint_db" -v fmt="$fmt" <<EOF
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT sum((SELECT count(*) FROM migrate.lint(format(:'fmt', lpad(i::text, 4, '0'))))) AS findings
  FROM generate_series(1, $N) AS i \gset
SELECT round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 3), :findings;
EOF
done | {
	read -r plain_s plain_f
	read -r existing_s existing_f
	# shellcheck disable=SC2086
	awk -v n="$N" -v ps="$plain_s" -v pf="$plain_f" -v es="$existing_s" -v ef="$existing_f" \
		-v po="$(median ${times[plain.off]})" -v eo="$(median ${times[existing.off]})" 'BEGIN {
		printf "migrate.lint alone on the same scripts: %.3f ms per migration (%.1f%% of an apply with lint off, %d findings in all)\n", 1000 * ps / n, 100 * ps / po, pf
		printf "  with the CREATE INDEX on an existing table: %.3f ms per migration (%.1f%%, %d findings in all)\n", 1000 * es / n, 100 * es / eo, ef
	}'
}
psql_admin -c "DROP DATABASE $lint_db"
