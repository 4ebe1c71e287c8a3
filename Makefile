# migrate_ext: PGXS build
EXTENSION = migrate_ext
EXTVERSION = $(shell sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" $(EXTENSION).control)

MODULE_big = migrate_ext
OBJS = \
	src/migrate_ext.o \
	src/util.o \
	src/context.o \
	src/script.o \
	src/lockwatch.o \
	src/lint.o \
	src/dryrun.o \
	src/audit.o \
	src/events.o \
	src/drift.o \
	src/datamove.o \
	src/migrations.o

DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql

# the pg_migrate client (libpq), installed into the server's bin directory
SCRIPTS_built = src/pg_migrate
DATA = $(wildcard sql/$(EXTENSION)--*--*.sql)

# pg_regress suites: inputs in sql/, outputs in expected/
REGRESS = setup apply_basic apply_errors versions revert baseline_repair verify_checks timeouts privileges lint_rules lint_locks dry_run lint_review audit events
REGRESS_OPTS = --inputdir=.

# isolation specs for concurrency
ISOLATION = concurrent_apply concurrent_lock_timeout lock_retries events_notify maintain_concurrent maintain_skip
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=test/isolation/output

# -Wextra warns about unused parameters inside PostgreSQL's own inline header
# functions (ilist.h, bufpage.h), so that one warning is off; all others are errors.
PG_CPPFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter
EXTRA_CLEAN = test/isolation/output test/bench/out src/pg_migrate

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/$(EXTENSION)--$(EXTVERSION).sql: sql/$(EXTENSION).sql
	cp $< $@

# a frontend program: libpq only, none of the server's headers
src/pg_migrate: src/pg_migrate.c
	$(CC) $(CFLAGS) -Wall -Wextra -Werror -std=gnu99 -I$(shell $(PG_CONFIG) --includedir) \
		-o $@ $< -L$(shell $(PG_CONFIG) --libdir) -lpq $(LDFLAGS)

.PHONY: prove bench demo test

# pgTAP suites (needs a running server and pg_prove; test/run-tests.sh sets that up)
prove:
	test/scripts/run-pgtap.sh

# benchmarks: not part of the tests
bench:
	test/bench/run.sh

demo:
	test/demo/run-demo.sh

# every suite on a throwaway cluster
test:
	test/run-tests.sh
