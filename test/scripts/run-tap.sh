#!/usr/bin/env bash
# Runs the Perl TAP tests in test/tap/ (crash safety, hot standby) with prove.
# Each test builds its own clusters with PostgreSQL::Test::Cluster (initdb,
# pg_ctl, pgbench of the server's bin directory) in a temporary directory:
# no running server is needed, and PGHOST/PGPORT (e.g. of pg_virtualenv) are
# ignored. initdb refuses to run as root: run as root, the tests run as the
# postgres OS user (runuser), in a directory that user owns.
#
# Environment: PG_CONFIG (default pg_config); PG_TEST_NOCLEAN=1 keeps the
# clusters; TAP_KEEP=1 keeps the work directory (logs) even when all pass.
# Arguments: test files (default: every test/tap/*.pl).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

pg_config=${PG_CONFIG:-pg_config}
bindir=$("$pg_config" --bindir)
pgxs_src=$(dirname "$(dirname "$("$pg_config" --pgxs)")")    # .../lib/pgxs/src
perl_lib=$pgxs_src/test/perl
pg_regress=$pgxs_src/test/regress/pg_regress

if [ ! -f "$perl_lib/PostgreSQL/Test/Cluster.pm" ]; then
	echo "run-tap.sh: PostgreSQL::Test::Cluster not found in $perl_lib (postgresql-server-dev-15)" >&2
	exit 1
fi
for cmd in prove perl "$bindir/initdb" "$bindir/pg_ctl" "$bindir/pgbench"; do
	command -v "$cmd" >/dev/null || { echo "run-tap.sh: $cmd not found" >&2; exit 1; }
done
perl -MIPC::Run -e 1 2>/dev/null || { echo "run-tap.sh: the Perl module IPC::Run is missing (libipc-run-perl)" >&2; exit 1; }

if [ $# -gt 0 ]; then
	tests=("$@")
else
	tests=(test/tap/*.pl)
fi

run_as=()
if [ "$(id -u)" -eq 0 ]; then
	id postgres >/dev/null 2>&1 || { echo "run-tap.sh: running as root needs a postgres OS user" >&2; exit 1; }
	run_as=(runuser -u postgres --)
fi

# the work directory: TESTDIR (tmp_check/ with the logs, the port locks and
# the clusters), the current directory of prove, a copy of the tests
base=${TMPDIR:-/tmp}
if [ ${#run_as[@]} -gt 0 ] && ! "${run_as[@]}" test -w "$base" -a -x "$base"; then
	base=/tmp
fi
work=$(mktemp -d "$base/migrate_ext_tap.XXXXXX")
chmod 755 "$work"
mkdir "$work/tap"
for t in "${tests[@]}"; do
	cp "$repo/$t" "$work/tap/" 2>/dev/null || cp "$t" "$work/tap/"
done
[ ${#run_as[@]} -gt 0 ] && chown -R postgres: "$work"

# PG_REGRESS: Cluster->init runs "pg_regress --config-auth" (nothing to do
# with Unix sockets, but it must exist)
set +e
(
	cd "$work"
	env=(PATH="$bindir:$PATH" TESTDIR="$work" PG_REGRESS="$pg_regress" TMPDIR="$work")
	[ -n "${PG_TEST_NOCLEAN:-}" ] && env+=(PG_TEST_NOCLEAN=1)
	"${run_as[@]}" env "${env[@]}" prove --ext .pl -I "$perl_lib" tap/
)
rc=$?
set -e

if [ "$rc" -ne 0 ]; then
	# the per-test logs: what each test ran and saw (the server logs stay in $work)
	for f in "$work"/tmp_check/log/regress_log_*; do
		[ -f "$f" ] || continue
		echo "===== $f (last 80 lines)"
		tail -n 80 "$f"
	done
	echo "run-tap.sh: failed; logs kept in $work/tmp_check/log"
elif [ -n "${TAP_KEEP:-}" ]; then
	echo "run-tap.sh: logs in $work/tmp_check/log"
else
	rm -rf "$work"
fi
exit "$rc"
