#!/usr/bin/env bash
# Memory errors (issue 9): the pg_regress/isolation and pgTAP suites run
# against the extension built with UndefinedBehaviorSanitizer, loaded into the
# stock server running under valgrind (memcheck, every backend: forks are
# followed), with the UBSan runtime preloaded. An invalid read or write, a
# use of uninitialised memory or a jump on it in a stack that passes through
# migrate_ext.so, or any UBSan report, fails the run.
#
# Why not AddressSanitizer: preloaded into the stock server (LD_PRELOAD), its
# runtime deadlocks before main() on Debian 12 (libgnutls's constructor,
# loaded through libldap, leaves glibc's gettext lock taken; psql -V and
# postgres -V hang in bindtextdomain), so valgrind checks the memory instead.
#
# Nothing installed is touched: the server runs from a private copy of the
# installation (bin copied, lib symlinked, share copied) in a temporary
# directory. PostgreSQL finds its lib and share directories relative to its
# binary, so $libdir and the extension directory are those of the copy, where
# the instrumented build is installed (make install DESTDIR=...). The cluster
# (initdb in the same directory, as the postgres OS user when run as root)
# listens only on a Unix socket there, so it never collides with another run.
#
# Prints the suites' results and "memcheck: N passed, N failed, N errors";
# exits non-zero on a failure or an error. SAN_KEEP=1 keeps the directory.
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

pg_config=${PG_CONFIG:-pg_config}
bindir=$("$pg_config" --bindir)
libdir=$("$pg_config" --pkglibdir)
sharedir=$("$pg_config" --sharedir)
command -v valgrind >/dev/null || { echo "run-sanitized.sh: valgrind not found (Debian package valgrind)" >&2; exit 1; }
ubsan=$(readlink -f "$(gcc -print-file-name=libubsan.so)")
[ -e "$ubsan" ] || { echo "run-sanitized.sh: libubsan not found (gcc's libubsan1)" >&2; exit 1; }

run_as=()
if [ "$(id -u)" -eq 0 ]; then
	id postgres >/dev/null 2>&1 || { echo "run-sanitized.sh: running as root needs a postgres OS user" >&2; exit 1; }
	run_as=(runuser -u postgres --)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/migrate_ext_san.XXXXXX")
chmod 755 "$work"
root=$work/root
stop_server() {
	if [ -f "$work/data/postmaster.pid" ]; then
		kill -QUIT "$(head -1 "$work/data/postmaster.pid")" 2>/dev/null
		sleep 2
	fi
	if [ -z "${SAN_KEEP:-}" ]; then
		rm -rf "$work"
	else
		echo "run-sanitized.sh: kept $work"
	fi
}
trap stop_server EXIT

# the private installation: bin copied (a symlink would lead the server back
# to the real directories), lib symlinked but for migrate_ext, share copied
mkdir -p "$root$bindir" "$root$libdir" "$root$sharedir"
cp -a "$bindir/." "$root$bindir/"
for f in "$libdir"/*; do
	case "$(basename "$f")" in
	migrate_ext*) ;;
	*) ln -s "$f" "$root$libdir/" ;;
	esac
done
cp -a "$sharedir/." "$root$sharedir/"
rm -f "$root$sharedir"/extension/migrate_ext*

# the instrumented build, from a copy of the working tree
mkdir "$work/build"
tar -C "$repo" --exclude=./.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . | tar -C "$work/build" -xf -
san_flags="-fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
if ! make -C "$work/build" clean >/dev/null 2>&1 ||
	! make -C "$work/build" with_llvm=no PG_CFLAGS="$san_flags" PG_LDFLAGS="-fsanitize=undefined" >"$work/build.log" 2>&1 ||
	! make -C "$work/build" with_llvm=no install DESTDIR="$root" >>"$work/build.log" 2>&1; then
	cat "$work/build.log"
	echo "run-sanitized.sh: the instrumented build failed" >&2
	exit 1
fi
[ -f "$root$libdir/migrate_ext.so" ] && [ ! -L "$root$libdir/migrate_ext.so" ] ||
	{ echo "run-sanitized.sh: the instrumented migrate_ext.so was not installed into the copy" >&2; exit 1; }
# (no grep -q in a pipe: under pipefail, nm's SIGPIPE would fail the test)
[ "$(nm -D "$root$libdir/migrate_ext.so" | grep -c __ubsan_handle)" -gt 0 ] ||
	{ echo "run-sanitized.sh: migrate_ext.so is not instrumented" >&2; exit 1; }
[ ${#run_as[@]} -gt 0 ] && chown -R postgres: "$work"

# the cluster
"${run_as[@]}" "$root$bindir/initdb" -D "$work/data" -U postgres -A trust --no-sync >"$work/initdb.log" 2>&1 ||
	{ cat "$work/initdb.log"; exit 1; }
mkdir "$work/vg"
[ ${#run_as[@]} -gt 0 ] && chown postgres: "$work/vg"
# one log per process (%p); no leak check (a backend leaves its memory to
# exit by design); the server's own, known-benign reports (padding bytes
# written to files and sockets) are filtered out below by their stacks
"${run_as[@]}" env LD_PRELOAD="$ubsan" UBSAN_OPTIONS="print_stacktrace=1:log_path=$work/vg/ubsan" \
	valgrind --trace-children=yes --leak-check=no --track-origins=no --num-callers=30 \
	--error-limit=no --log-file="$work/vg/memcheck.%p" \
	"$root$bindir/postgres" -D "$work/data" -c listen_addresses='' -k "$work" \
	-c shared_preload_libraries=pg_stat_statements -c fsync=off -c max_connections=40 \
	-c autovacuum=off -c log_min_messages=warning >"$work/server.log" 2>&1 &
export PGHOST=$work PGPORT=5432 PGUSER=postgres
unset PGDATABASE PGSERVICE
for _ in $(seq 1 240); do
	pg_isready -q -d postgres && break
	sleep 0.5
done
pg_isready -q -d postgres || { echo "run-sanitized.sh: the server under valgrind did not start" >&2; cat "$work/server.log"; exit 1; }
# the instrumented library is the one the server loads
psql -XAtq -d postgres -c "CREATE EXTENSION migrate_ext; SELECT migrate.version_compare('1', '2'); DROP EXTENSION migrate_ext" >/dev/null ||
	{ echo "run-sanitized.sh: the instrumented extension does not load" >&2; cat "$work/server.log"; exit 1; }

passed=0
failed=0
# pg_regress and isolation (from the build copy: it writes its results there),
# but for timeouts: its statement timeouts of 100 ms fire elsewhere in a
# server many times slower under valgrind, which changes its expected output
regress=$(make -s -C "$work/build" -f Makefile -f - print-regress <<<'print-regress: ; @echo $(REGRESS)' 2>/dev/null | sed 's/\btimeouts\b//')
[ -n "$regress" ] || { echo "run-sanitized.sh: could not read REGRESS from the Makefile" >&2; exit 1; }
out=$(make -C "$work/build" with_llvm=no REGRESS="$regress" installcheck 2>&1)
rc=$?
echo "$out" | grep -E "tests (passed|failed)|FAILED|failed \(" | sed 's/^/  /'
n=$(echo "$out" | grep -oE "All [0-9]+ tests passed" | grep -oE "[0-9]+" | awk '{s+=$1} END {print s+0}')
passed=$((passed + n))
if [ "$rc" -ne 0 ]; then
	f=$(echo "$out" | grep -oE "[0-9]+ of [0-9]+ tests failed" | awk '{f+=$1; t+=$3} END {print f+0, t+0}')
	failed=$((failed + ${f%% *}))
	passed=$((passed + ${f##* } - ${f%% *}))
	[ "${f%% *}" -eq 0 ] && failed=$((failed + 1))
	for d in "$work/build/regression.diffs" "$work/build/test/isolation/output/regression.diffs"; do
		[ -f "$d" ] && { echo "===== $d"; head -n 100 "$d"; }
	done
fi

# pgTAP
out=$(test/scripts/run-pgtap.sh 2>&1)
rc=$?
echo "$out" | grep -vE '^ok|^\s*$|^test/pgtap/.* ok$' | sed 's/^/  /'
t=$(echo "$out" | sed -n 's/.*Tests=\([0-9]*\).*/\1/p' | tail -1)
f=$(echo "$out" | grep -oE 'Failed [0-9]+/[0-9]+ subtests' | grep -oE '^Failed [0-9]+' | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
t=${t:-0}
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
passed=$((passed + t - f))
failed=$((failed + f))

# stop, then read the logs
psql -XAtq -d postgres -c "CHECKPOINT" >/dev/null 2>&1
kill -INT "$(head -1 "$work/data/postmaster.pid")" 2>/dev/null
for _ in $(seq 1 120); do
	[ -f "$work/data/postmaster.pid" ] || break
	sleep 0.5
done
procs=$(ls "$work"/vg/memcheck.* 2>/dev/null | wc -l)
# an error block: from "==PID== <kind>" to the blank "==PID== " line after it
errors=0
for f in "$work"/vg/memcheck.*; do
	[ -f "$f" ] || continue
	awk -v file="$f" '
		function flush() {
			if (blk != "" && blk ~ /migrate_ext\.so/) { printf "===== %s\n%s", file, blk; n++ }
			blk = ""
		}
		/^==[0-9]+== (Invalid|Conditional jump|Use of uninitialised|Syscall param|Mismatched|Source and destination|Argument .* of function)/ { flush(); inblk = 1 }
		inblk && /^==[0-9]+== *$/ { flush(); inblk = 0; next }
		inblk { blk = blk $0 "\n" }
		END { flush(); exit n > 0 ? 1 : 0 }
	' "$f" >>"$work/errors.txt" || true
done
errors=$(grep -c '^=====' "$work/errors.txt" 2>/dev/null || true)
errors=${errors:-0}
other=$(cat "$work"/vg/memcheck.* 2>/dev/null | grep -cE '^==[0-9]+== (Invalid|Conditional jump|Use of uninitialised|Syscall param)' || true)
ubsan_reports=$(ls "$work"/vg/ubsan.* 2>/dev/null | wc -l)
if [ "$errors" -gt 0 ]; then
	head -n 200 "$work/errors.txt"
fi
for r in "$work"/vg/ubsan.*; do
	[ -f "$r" ] || continue
	echo "===== UBSan report $(basename "$r")"
	head -n 40 "$r"
done
if grep -q "runtime error:" "$work/server.log"; then
	ubsan_reports=$((ubsan_reports + 1))
	grep -A 10 "runtime error:" "$work/server.log" | head -n 40
fi
echo "memcheck: $procs processes checked; errors in the extension's stacks: $errors; in the server's own (not counted): $other; UBSan reports: $ubsan_reports"
echo "memcheck: $passed passed, $failed failed, $((errors + ubsan_reports)) errors"
[ "$failed" -eq 0 ] && [ "$errors" -eq 0 ] && [ "$ubsan_reports" -eq 0 ]
