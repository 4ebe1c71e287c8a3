#!/usr/bin/env bash
# Installs the Debian packages migrate_ext needs to build and test, when missing.
set -euo pipefail
PGVER="${PGVER:-15}"
need=()
command -v make >/dev/null && command -v gcc >/dev/null || need+=(build-essential)
[ -x "/usr/lib/postgresql/$PGVER/bin/postgres" ] || need+=("postgresql-$PGVER")
[ -f "/usr/include/postgresql/$PGVER/server/postgres.h" ] || need+=("postgresql-server-dev-$PGVER")
command -v pg_virtualenv >/dev/null || need+=(postgresql-common)
[ -f "/usr/share/postgresql/$PGVER/extension/pgtap.control" ] || need+=("postgresql-$PGVER-pgtap")
command -v pg_prove >/dev/null || need+=(libtap-parser-sourcehandler-pgtap-perl)
perl -MIPC::Run -e 1 2>/dev/null || need+=(libipc-run-perl)
command -v valgrind >/dev/null || need+=(valgrind)
if [ ${#need[@]} -gt 0 ]; then
	echo "installing: ${need[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages and not root: run as root or: apt-get install ${need[*]}" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${need[@]}" >/dev/null
fi
