#!/usr/bin/env bash
# Runs the pgTAP suites in test/pgtap/ with pg_prove against a fresh database
# of the server in PGHOST/PGPORT (e.g. inside pg_virtualenv).
set -euo pipefail
cd "$(dirname "$0")/../.."
db=migrate_ext_tap
psql -Xq -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -Xq -d "$db" -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION migrate_ext"
pg_prove -d "$db" --ext .sql -r test/pgtap/
