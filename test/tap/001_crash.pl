# Crash safety of migrate_ext: the server is stopped with "immediate" (every
# process killed, crash recovery at the next start) in the middle of
#
#  (a) migrations: an apply sleeping after its DDL, a bulk INSERT in a
#      migration, verify checks, two applies in one transaction, a revert,
#      an applier holding the migration lock with a second one waiting for it.
#      After recovery nothing of an unfinished migration exists (no row, no
#      history entry, no table, no event), the hash chain is intact, and the
#      same migration applies (or reverts) normally.
#
#  (b) a pgbench write load on an audited table (INSERT, UPDATE, DELETE, with
#      an event per transaction). After recovery every committed change has
#      exactly one audit row and one event, no audit row belongs to a
#      transaction that did not commit, what was committed before the crash is
#      still there, and the indexes of the logs match their heaps (amcheck).
#
#  (c) a data migration (migrate.copy_rows_each): the committed batches and the
#      job's progress agree after the crash, and the job resumes to copy every
#      row exactly once.
#
# The figures (crash cycles survived, audit rows checked) are printed as TAP
# notes at the end. Run by test/scripts/run-tap.sh.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);

my $db = 'postgres';

# migration crash cycles: each variant once per round
my $rounds = $ENV{MIGRATE_CRASH_ROUNDS} // 2;
# crashes under the pgbench load, and how long the load runs before each
my $load_crashes = $ENV{MIGRATE_CRASH_LOAD_CYCLES} // 5;
my $load_seconds = $ENV{MIGRATE_CRASH_LOAD_SECONDS} // 3;

my $node = PostgreSQL::Test::Cluster->new('crash');
# wal_level = replica, as in production (minimal would skip WAL for tables
# created in the crashed transaction)
$node->init(allows_streaming => 1);
$node->append_conf(
	'postgresql.conf', q{
max_connections = 40
shared_buffers = 32MB
max_wal_size = 1GB
});
$node->start;

$node->safe_psql($db, q{CREATE EXTENSION migrate_ext});
my $has_amcheck =
  $node->safe_psql($db, q{SELECT count(*) FROM pg_available_extensions WHERE name = 'amcheck'}) eq '1';
$node->safe_psql($db, q{CREATE EXTENSION amcheck}) if $has_amcheck;

# a committed migration before any crash: it must stay as it is
$node->safe_psql($db, q{
SELECT migrate.apply('0001', 'base', 'CREATE TABLE base_t (id int PRIMARY KEY)', down_script => 'DROP TABLE base_t');
});

my $crash_cycles = 0;

# Checks that hold after every restart.
sub check_recovered_state
{
	my ($label) = @_;
	is($node->safe_psql($db, q{SELECT count(*) FROM migrate.history_check()}),
		'0', "$label: migrate.history_check() returns no rows");
	is( $node->safe_psql(
			$db, q{SELECT count(*) FROM migrate.migrations m
				 WHERE m.chain_hash IS DISTINCT FROM (SELECT h.chain_hash FROM migrate.history h
													  WHERE h.version = m.version ORDER BY h.id DESC LIMIT 1)}),
		'0',
		"$label: every migrations row carries the chain hash of its latest history entry");
	is($node->safe_psql($db, q{SELECT state FROM migrate.migrations WHERE version = '0001'}),
		'applied', "$label: the migration committed before the crashes is still applied");
	my ($rc, $out, $err) = $node->psql($db,
		q{SELECT count(*) >= 0 FROM migrate.events; SELECT migrate.monitoring_summary('1 day') -> 'errors'});
	is($rc, 0, "$label: migrate.events and migrate.monitoring_summary() read without error")
	  or diag("stderr: $err");
	is((split /\n/, $out)[1] // '', '{}', "$label: no section of migrate.monitoring_summary() failed");
	if ($has_amcheck)
	{
		# every btree index of the logs and bookkeeping tables (and the
		# audited table) has exactly the entries of its heap
		($rc, $out, $err) = $node->psql(
			$db, q{
SELECT count(bt_index_check(i.indexrelid, true))
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
 WHERE am.amname = 'btree' AND c.relkind = 'i'
   AND (i.indrelid IN (SELECT relid FROM pg_partition_tree('migrate.audit_log')
                       UNION SELECT relid FROM pg_partition_tree('migrate.events'))
        OR i.indrelid IN ('migrate.migrations'::regclass, 'migrate.history'::regclass)
        OR i.indrelid = to_regclass('public.acct'));
SELECT count(*)
  FROM (SELECT c.oid AS relid FROM pg_class c
         WHERE c.relkind = 'r'
           AND c.oid IN (SELECT relid FROM pg_partition_tree('migrate.audit_log')
                         UNION SELECT relid FROM pg_partition_tree('migrate.events'))
        OFFSET 0) h,
       LATERAL verify_heapam(h.relid);});
		is($rc, 0, "$label: amcheck: the btree indexes of the logs match their heaps")
		  or diag("stderr: $err");
		is((split /\n/, $out)[1] // '', '0', "$label: amcheck: no corruption in the heaps of the logs");
	}
	return;
}

# Crashes the server while $bgs (background psql sessions) are in the middle
# of their work, restarts it.
sub crash_and_restart
{
	my ($label, @bgs) = @_;
	$node->stop('immediate');
	for my $bg (@bgs)
	{
		# psql lost its connection (and may have exited already)
		eval { $bg->quit; 1 } or eval { $bg->{run}->kill_kill; 1 };
	}
	$node->start;
	$crash_cycles++;
	is($node->safe_psql($db, 'SELECT 1'), '1', "$label: the server is back after the crash");
	return;
}

# a background session with the crash settings
sub start_session
{
	my $bg = $node->background_psql($db, on_error_stop => 0);
	my $pid = $bg->query_safe(q{SET crash.sleep = 600; SET crash.rows = 100000000;
		SET migrate.statement_timeout = 0; SET migrate.lock_wait_timeout = '10min';
		SELECT pg_backend_pid()});
	chomp $pid;
	return ($bg, $pid);
}

# waits until $sql returns true; gives up at once if one of the background
# sessions or programs @bgs reports an error (its work will not get there)
sub wait_for
{
	my ($label, $sql, @bgs) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline)
	{
		return pass($label) if $node->safe_psql($db, $sql) eq 't';
		for my $bg (@bgs)
		{
			# a BackgroundPsql, or [ IPC::Run harness, \$stderr ] (pgbench)
			my ($h, $errref) = ref($bg) eq 'ARRAY' ? @$bg : ($bg->{run}, \$bg->{stderr});
			eval { $h->pump_nb; 1 };
			if ($$errref =~ /(ERROR:[^\n]*|error:[^\n]*)/)
			{
				fail($label);
				diag("the background session failed: $1");
				return;
			}
		}
		usleep(100_000);
	}
	fail($label);
	diag("timed out waiting for: $sql");
	return;
}

sub sleeping_sql
{
	my ($pid) = @_;
	return qq{SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $pid AND state = 'active' AND wait_event = 'PgSleep')};
}

sub holds_migration_lock
{
	my ($pid) = @_;
	return $node->safe_psql(
		$db, qq{SELECT count(*) FROM pg_locks WHERE pid = $pid AND locktype = 'advisory' AND granted
				AND classid = 1835624306 AND objid = 1 AND objsubid = 2});
}

sub count_sql
{
	my ($sql) = @_;
	return $node->safe_psql($db, $sql);
}

# the scripts; crash.sleep and crash.rows are 600 s and 100M rows in the
# crashed session, 0 and 1000 when the same migration is applied again (so
# the script, and its checksum, are the same)
sub script_sleep
{
	my ($t) = @_;
	return qq{CREATE TABLE $t (id int PRIMARY KEY, v text);
INSERT INTO $t SELECT g, md5(g::text) FROM generate_series(1, 10000) g;
CREATE INDEX ${t}_v_idx ON $t (v);
SELECT pg_sleep(COALESCE(current_setting('crash.sleep', true), '0')::float8);};
}

sub script_bulk
{
	my ($t) = @_;
	return qq{CREATE TABLE $t (id int PRIMARY KEY, v text);
INSERT INTO $t SELECT g, md5(g::text) FROM generate_series(1, COALESCE(current_setting('crash.rows', true), '1000')::int) g;};
}

sub quote_lit
{
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}

sub apply_sql
{
	my ($version, $name, $script, %opt) = @_;
	my $sql = "SELECT migrate.apply(" . quote_lit($version) . ", " . quote_lit($name) . ", " . quote_lit($script);
	$sql .= ", down_script => " . quote_lit($opt{down}) if defined $opt{down};
	$sql .= ", verify_script => " . quote_lit($opt{verify}) if defined $opt{verify};
	return "$sql)";
}

# re-applies in a fresh session with the quick settings
sub reapply
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $node->psql($db,
		"SET crash.sleep = 0; SET crash.rows = 1000;\n$sql");
	diag("stderr: $err") if $rc;
	return $out;
}

# asserts that nothing of @versions (and @tables) exists
sub nothing_of
{
	my ($label, $versions, $tables) = @_;
	my $list = join(',', map { quote_lit($_) } @$versions);
	is(count_sql(qq{SELECT count(*) FROM migrate.migrations WHERE version IN ($list)}),
		'0', "$label: the unfinished migration is not recorded in migrate.migrations");
	is(count_sql(qq{SELECT count(*) FROM migrate.history WHERE version IN ($list)}),
		'0', "$label: no migrate.history entry for it");
	is(count_sql(qq{SELECT count(*) FROM migrate.events WHERE migration_version IN ($list)}),
		'0', "$label: no event of it");
	for my $t (@$tables)
	{
		is(count_sql(qq{SELECT to_regclass('$t') IS NULL}), 't', "$label: its table $t does not exist");
	}
	return;
}

# ---------------------------------------------------------------------------
# (a) crashes in the middle of migrations
# ---------------------------------------------------------------------------
my @variants = (
	# an apply sleeping after its DDL and 10,000 inserted rows
	sub {
		my ($c, $v) = @_;
		my $t = "crash_$c";
		my $sql = apply_sql($v, "sleep $c", script_sleep($t));
		my ($bg, $pid) = start_session();
		$bg->query_until(qr/started/, "\\echo started\n$sql;\n");
		wait_for("cycle $c (sleep after DDL): the apply runs its last statement", sleeping_sql($pid), $bg);
		is(holds_migration_lock($pid), '1', "cycle $c: the applier holds the migration lock");
		crash_and_restart("cycle $c", $bg);
		nothing_of("cycle $c", [$v], [$t]);
		check_recovered_state("cycle $c");
		is(reapply($sql), 'applied', "cycle $c: the same migration applies after the crash");
		is(count_sql("SELECT count(*) FROM $t"), '10000', "cycle $c: with all its rows");
	},
	# a bulk INSERT of a migration in progress
	sub {
		my ($c, $v) = @_;
		my $t = "crash_$c";
		my $sql = apply_sql($v, "bulk $c", script_bulk($t));
		my ($bg, $pid) = start_session();
		$bg->query_until(qr/started/, "\\echo started\n$sql;\n");
		# the new table is locked by the applier: the INSERT has started
		wait_for("cycle $c (bulk insert): the migration's INSERT is running",
			qq{SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
			   WHERE l.pid = $pid AND l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'
				 AND a.state = 'active' AND now() - a.query_start > interval '1 s')}, $bg);
		is(holds_migration_lock($pid), '1', "cycle $c: the applier holds the migration lock");
		crash_and_restart("cycle $c", $bg);
		nothing_of("cycle $c", [$v], [$t]);
		check_recovered_state("cycle $c");
		is(reapply($sql), 'applied', "cycle $c: the same migration applies after the crash");
		is(count_sql("SELECT count(*) FROM $t"), '1000', "cycle $c: with its rows");
	},
	# the verify checks are running (the script is done)
	sub {
		my ($c, $v) = @_;
		my $t = "crash_$c";
		my $sql = apply_sql($v, "verify $c", "CREATE TABLE $t (id int PRIMARY KEY)",
			verify => qq{SELECT to_regclass('$t') IS NOT NULL;
SELECT (SELECT true FROM pg_sleep(COALESCE(current_setting('crash.sleep', true), '0')::float8))});
		my ($bg, $pid) = start_session();
		$bg->query_until(qr/started/, "\\echo started\n$sql;\n");
		wait_for("cycle $c (verify checks): the second verify check runs", sleeping_sql($pid), $bg);
		crash_and_restart("cycle $c", $bg);
		nothing_of("cycle $c", [$v], [$t]);
		check_recovered_state("cycle $c");
		is(reapply($sql), 'applied', "cycle $c: the same migration applies after the crash");
		is(count_sql(qq{SELECT bool_and(passed) FROM migrate.verify('$v')}), 't',
			"cycle $c: its verify checks pass");
	},
	# two applies in one transaction: the first finished, the second running
	sub {
		my ($c, $v) = @_;
		my ($v2, $t1, $t2) = ("$v.1", "crash_$c", "crash_${c}_b");
		my $sql1 = apply_sql($v,  "first of two $c",  "CREATE TABLE $t1 (id int PRIMARY KEY)");
		my $sql2 = apply_sql($v2, "second of two $c", script_sleep($t2));
		my ($bg, $pid) = start_session();
		$bg->query_until(qr/started/, "BEGIN;\n$sql1;\n\\echo started\n$sql2;\n");
		wait_for("cycle $c (two in one transaction): the second apply runs", sleeping_sql($pid), $bg);
		crash_and_restart("cycle $c", $bg);
		nothing_of("cycle $c", [ $v, $v2 ], [ $t1, $t2 ]);
		check_recovered_state("cycle $c");
		is(reapply("BEGIN;\n$sql1;\n$sql2;\nCOMMIT;"), "applied\napplied",
			"cycle $c: both migrations apply after the crash");
	},
	# a revert running its down script
	sub {
		my ($c, $v) = @_;
		my $t = "crash_$c";
		is( reapply(
				apply_sql(
					$v, "to revert $c", "CREATE TABLE $t (id int PRIMARY KEY); INSERT INTO $t VALUES (1), (2)",
					down => "DROP TABLE $t; SELECT pg_sleep(COALESCE(current_setting('crash.sleep', true), '0')::float8)")),
			'applied',
			"cycle $c (revert): the migration to revert is applied");
		my $hist = count_sql(qq{SELECT count(*) FROM migrate.history WHERE version = '$v'});
		my $events = count_sql(qq{SELECT count(*) FROM migrate.events WHERE migration_version = '$v'});
		my ($bg, $pid) = start_session();
		$bg->query_until(qr/started/, "\\echo started\nSELECT migrate.revert('$v');\n");
		wait_for("cycle $c (revert): the down script runs", sleeping_sql($pid), $bg);
		is(holds_migration_lock($pid), '1', "cycle $c: the reverter holds the migration lock");
		crash_and_restart("cycle $c", $bg);
		is(count_sql(qq{SELECT state FROM migrate.migrations WHERE version = '$v'}),
			'applied', "cycle $c: the migration is still applied after the crashed revert");
		is(count_sql(qq{SELECT count(*) FROM migrate.history WHERE version = '$v'}),
			$hist, "cycle $c: no history entry for the crashed revert");
		is(count_sql(qq{SELECT count(*) FROM migrate.events WHERE migration_version = '$v'}),
			$events, "cycle $c: no event for the crashed revert");
		is(count_sql("SELECT count(*) FROM $t"), '2', "cycle $c: its table is still there with its rows");
		check_recovered_state("cycle $c");
		is(reapply("SELECT migrate.revert('$v')"), 'reverted', "cycle $c: the revert succeeds after the crash");
		is(count_sql(qq{SELECT to_regclass('$t') IS NULL}), 't', "cycle $c: the table is gone");
		is(reapply(apply_sql($v, "to revert $c", "CREATE TABLE $t (id int PRIMARY KEY)")),
			'applied', "cycle $c: the reverted version applies again");
	},
	# one applier holds the migration lock, a second one waits for it
	sub {
		my ($c, $v) = @_;
		my ($v2, $t1, $t2) = ("$v.1", "crash_$c", "crash_${c}_b");
		my $sql1 = apply_sql($v,  "holder $c", script_sleep($t1));
		my $sql2 = apply_sql($v2, "waiter $c", "CREATE TABLE $t2 (id int PRIMARY KEY)");
		my ($bg1, $pid1) = start_session();
		my ($bg2, $pid2) = start_session();
		$bg1->query_until(qr/started/, "\\echo started\n$sql1;\n");
		wait_for("cycle $c (lock holder and waiter): the holder runs", sleeping_sql($pid1), $bg1);
		$bg2->query_until(qr/started/, "\\echo started\n$sql2;\n");
		wait_for(
			"cycle $c: the second applier waits for the migration lock",
			qq{SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $pid2 AND locktype = 'advisory' AND NOT granted
			   AND classid = 1835624306 AND objid = 1 AND objsubid = 2)}, $bg1, $bg2);
		crash_and_restart("cycle $c", $bg1, $bg2);
		nothing_of("cycle $c", [ $v, $v2 ], [ $t1, $t2 ]);
		check_recovered_state("cycle $c");
		is(reapply("$sql1;\n$sql2"), "applied\napplied", "cycle $c: both migrations apply after the crash");
	},);

my $c = 0;
for my $round (1 .. $rounds)
{
	for my $variant (@variants)
	{
		$c++;
		# versions keep increasing: each cycle's migrations come after the last one
		$variant->($c, sprintf('%04d', 100 + 10 * $c));
	}
}
my $migration_crashes = $crash_cycles;

my $expected_applied = 1 + $rounds * 8;    # base, 1+1+1+2+1+2 per round
is(count_sql(q{SELECT count(*) FROM migrate.migrations WHERE state = 'applied'}),
	$expected_applied, "after $migration_crashes crash cycles: $expected_applied migrations applied");
is(count_sql(q{SELECT count(*) FROM migrate.history_check()}), '0',
	"after $migration_crashes crash cycles: the history chain is intact");
is(count_sql(q{SELECT count(*) FROM migrate.history}),
	$expected_applied + 2 * $rounds,
	'after the crash cycles: one history entry per apply and revert that committed');

# ---------------------------------------------------------------------------
# (b) crashes under a write load on an audited table
# ---------------------------------------------------------------------------
# rows 1-5000 are updated (n counts the updates), 5001-6000 deleted at random,
# new rows (ids from 100001) inserted 1 to 3 at a time with an event listing them
$node->safe_psql($db, q{
SELECT migrate.apply('90000', 'accounts',
    $m$CREATE TABLE acct (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0, note text);
       CREATE SEQUENCE acct_id_seq START 100001;$m$);
SELECT migrate.audit_enable('acct');
INSERT INTO acct (id, note) SELECT g, 'seed' FROM generate_series(1, 6000) g;
});

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $script = "$tmp/audit_load.sql";
PostgreSQL::Test::Utils::append_to_file(
	$script, q{\set k random(1, 5000)
\set d random(5001, 6000)
\set m random(1, 3)
\set p random(1, 10)
BEGIN;
WITH ins AS (INSERT INTO acct (id, note) SELECT nextval('acct_id_seq'), 'client ' || :client_id FROM generate_series(1, :m) RETURNING id)
SELECT migrate.record_event('bench_write', 'info', NULL, jsonb_build_object('ids', jsonb_agg(id ORDER BY id))) FROM ins;
UPDATE acct SET n = n + 1 WHERE id = :k;
\if :p = 1
DELETE FROM acct WHERE id = :d;
\endif
END;
});

# the consistency of table, audit log and events: one row per broken key
my $audit_check = q{
WITH a AS (
  SELECT (row_key ->> 'id')::bigint AS id, operation, old_values, new_values
    FROM migrate.audit_log WHERE relid = 'acct'::regclass),
per AS (
  SELECT id,
         count(*) FILTER (WHERE operation = 'INSERT') AS ins,
         count(*) FILTER (WHERE operation = 'UPDATE') AS upd,
         count(*) FILTER (WHERE operation = 'DELETE') AS del,
         count(*) FILTER (WHERE operation NOT IN ('INSERT', 'UPDATE', 'DELETE')) AS other,
         bool_and((new_values ->> 'n')::int = 0 AND (new_values ->> 'id')::bigint = id) FILTER (WHERE operation = 'INSERT') AS ins_ok,
         array_agg((new_values ->> 'n')::int ORDER BY (new_values ->> 'n')::int) FILTER (WHERE operation = 'UPDATE') AS new_ns,
         bool_and((new_values ->> 'n')::int = (old_values ->> 'n')::int + 1) FILTER (WHERE operation = 'UPDATE') AS steps_ok,
         max((old_values ->> 'n')::int) FILTER (WHERE operation = 'DELETE') AS n_at_delete
    FROM a GROUP BY id)
SELECT COALESCE(t.id, p.id) AS id, t.n, p.ins, p.upd, p.del, p.other, p.new_ns
  FROM acct t FULL JOIN per p ON p.id = t.id
 WHERE NOT COALESCE(
         p.ins = 1 AND p.other = 0 AND p.ins_ok
         AND COALESCE(p.new_ns, '{}') = ARRAY(SELECT generate_series(1, COALESCE(t.n, p.n_at_delete)))
         AND COALESCE(p.steps_ok, true)
         AND ((t.id IS NOT NULL AND p.del = 0) OR (t.id IS NULL AND p.del = 1)), false)
 ORDER BY 1 LIMIT 20};

my $events_check = q{
WITH ev AS (SELECT (jsonb_array_elements_text(details -> 'ids'))::bigint AS id, txid
              FROM migrate.events WHERE kind = 'bench_write'),
     au AS (SELECT (row_key ->> 'id')::bigint AS id, txid
              FROM migrate.audit_log WHERE relid = 'acct'::regclass AND operation = 'INSERT'
               AND (row_key ->> 'id')::bigint > 100000),
     tb AS (SELECT id FROM acct WHERE id > 100000)
SELECT (SELECT count(*) FROM ev) = (SELECT count(DISTINCT id) FROM ev),
       (SELECT count(*) FROM ev) = (SELECT count(*) FROM tb),
       (SELECT count(*) FROM au) = (SELECT count(*) FROM tb),
       NOT EXISTS (SELECT id FROM ev EXCEPT SELECT id FROM tb),
       NOT EXISTS (SELECT id FROM tb EXCEPT SELECT id FROM ev),
       NOT EXISTS (SELECT 1 FROM ev JOIN au USING (id) WHERE ev.txid IS DISTINCT FROM au.txid),
       (SELECT count(*) FROM tb)};

my $audit_rows_checked = 0;
my $load_txns = 0;
for my $l (1 .. $load_crashes)
{
	my $label = "load crash $l";
	my ($out, $err) = ('', '');
	my $pgbench = IPC::Run::start(
		[
			'pgbench', '-n', '-h', $node->host, '-p', $node->port, '-c', '4', '-j', '2',
			'-T', '600', '-f', $script, $db
		],
		'>', \$out, '2>', \$err);
	my $seed_rows = count_sql(q{SELECT count(*) FROM acct WHERE id > 100000});
	wait_for("$label: the load writes to the audited table",
		qq{SELECT count(*) > $seed_rows + 200 FROM acct WHERE id > 100000}, [ $pgbench, \$err ]);
	sleep($load_seconds);
	# committed and visible just before the crash: must survive it
	my ($before_rows, $before_max, $before_audit) = split /\|/, count_sql(
		q{SELECT count(*), max(id), (SELECT count(*) FROM migrate.audit_log WHERE relid = 'acct'::regclass)
		    FROM acct WHERE id > 100000});
	$node->stop('immediate');
	$pgbench->finish;    # its clients lost their connections
	$node->start;
	$crash_cycles++;
	is($node->safe_psql($db, 'SELECT 1'), '1', "$label: the server is back after the crash");

	my ($rows, $max, $audit) = split /\|/, count_sql(
		q{SELECT count(*), max(id), (SELECT count(*) FROM migrate.audit_log WHERE relid = 'acct'::regclass)
		    FROM acct WHERE id > 100000});
	cmp_ok($rows, '>=', $before_rows, "$label: the rows committed before the crash are there ($before_rows, now $rows)");
	cmp_ok($max, '>=', $before_max, "$label: up to the last one seen ($before_max)");
	cmp_ok($audit, '>=', $before_audit, "$label: so are their audit rows ($before_audit, now $audit)");
	is(count_sql($audit_check), '',
		"$label: every committed INSERT, UPDATE and DELETE of the audited table has exactly one audit row");
	is( count_sql(
			q{SELECT count(*) FROM migrate.audit_log WHERE relid = 'acct'::regclass
			   AND pg_xact_status(txid) IS DISTINCT FROM 'committed'}),
		'0',
		"$label: every audit row belongs to a committed transaction");
	is( count_sql(
			q{SELECT count(*) FROM migrate.audit_log WHERE relid = 'acct'::regclass
			   AND xmin::text::bigint <> (txid::text::bigint % 4294967296)}),
		'0',
		"$label: every audit row was written by the transaction it names (its xmin)");
	my @ev = split /\|/, count_sql($events_check);
	is(join(',', @ev[ 0 .. 5 ]), 't,t,t,t,t,t',
		"$label: one event per committed transaction, naming exactly the rows it inserted, in the same transaction as their audit rows");
	check_recovered_state($label);

	$audit_rows_checked = count_sql(q{SELECT count(*) FROM migrate.audit_log WHERE relid = 'acct'::regclass});
	$load_txns = count_sql(q{SELECT count(*) FROM migrate.events WHERE kind = 'bench_write'});
	note("$label: $audit_rows_checked audit rows, $ev[6] inserted rows, $load_txns load transactions checked");
}

# after all the crashes the log still works as before
$node->safe_psql($db, q{UPDATE acct SET n = n + 1 WHERE id = 1});
is( count_sql(
		q{SELECT count(*) FROM migrate.audit_history('acct', '{"id": 1}') WHERE operation = 'UPDATE'}),
	count_sql(q{SELECT n FROM acct WHERE id = 1}),
	'after the crashes: migrate.audit_history() of a row has one UPDATE per increment');
is(count_sql($audit_check), '', 'after the crashes: the audit log is still consistent with the table');
my $maint = $node->psql($db, q{SELECT migrate.maintain()});
is($maint, 0, 'after the crashes: migrate.maintain() runs');

$audit_rows_checked = count_sql(q{SELECT count(*) FROM migrate.audit_log WHERE relid = 'acct'::regclass});
my $load_crash_count = $crash_cycles - $migration_crashes;

# ---------------------------------------------------------------------------
# (c) crashes in the middle of a data migration (copy_rows_each commits per
#     batch): the committed batches and the job's progress agree, and the job
#     resumes to copy every row exactly once
# ---------------------------------------------------------------------------
my $copy_rows = 400000;
$node->safe_psql($db, qq{
SELECT migrate.apply('90001', 'copy source and target',
    \$m\$CREATE TABLE legacy (legacy_id int PRIMARY KEY, label text NOT NULL);
       INSERT INTO legacy SELECT g, 'row ' || g FROM generate_series(1, $copy_rows) g;
       CREATE TABLE copied (id bigint PRIMARY KEY, name text NOT NULL);\$m\$);
});
my $call_each = q{CALL migrate.copy_rows_each('crash_copy', 'SELECT legacy_id AS id, label AS name FROM legacy', 'copied', '{id}', 2000)};
my $copy_crashes = 2;
my $copied_before = 0;
for my $k (1 .. $copy_crashes)
{
	my $label = "copy crash $k";
	my ($bg, $pid) = start_session();
	$bg->query_until(qr/started/, "\\echo started\n$call_each;\n");
	wait_for("$label: copy_rows_each is copying",
		qq{SELECT COALESCE((SELECT rows_copied > $copied_before + 20000 FROM migrate.copy_jobs WHERE job = 'crash_copy'), false)}, $bg);
	crash_and_restart($label, $bg);
	my ($state, $job_rows, $target_rows, $distinct, $max_key, $last_key) = split /\|/, count_sql(
		q{SELECT j.state, j.rows_copied, (SELECT count(*) FROM copied), (SELECT count(DISTINCT id) FROM copied),
		         (SELECT max(id) FROM copied), j.last_key ->> 'id'
		    FROM migrate.copy_jobs j WHERE j.job = 'crash_copy'});
	is($state, 'running', "$label: the job is still running (interrupted)");
	cmp_ok($target_rows, '<', $copy_rows, "$label: the crash came before the end ($target_rows of $copy_rows rows)");
	cmp_ok($target_rows, '>', $copied_before, "$label: batches were committed before the crash");
	is($job_rows, $target_rows, "$label: the job's progress counts exactly the committed rows ($job_rows)");
	is($distinct, $target_rows, "$label: no row twice");
	is($last_key, $max_key, "$label: the job resumes after the last committed key ($max_key)");
	is(count_sql(q{SELECT count(*) FROM copied c LEFT JOIN legacy l ON l.legacy_id = c.id
	                WHERE l.legacy_id IS NULL OR c.name <> l.label OR c.id > (SELECT (last_key ->> 'id')::bigint FROM migrate.copy_jobs WHERE job = 'crash_copy')}),
		'0', "$label: the committed rows are the source's first rows, unchanged");
	check_recovered_state($label);
	$copied_before = $target_rows;
}
my ($rc_copy, $out_copy, $err_copy) = $node->psql($db, $call_each);
is($rc_copy, 0, 'after the copy crashes: the same CALL resumes the job') or diag("stderr: $err_copy");
is( count_sql(
		q{SELECT j.state, j.rows_copied, j.rows_skipped, j.rows_failed, (SELECT count(*) FROM copied)
		    FROM migrate.copy_jobs j WHERE j.job = 'crash_copy'}),
	"finished|$copy_rows|0|0|$copy_rows",
	"after the copy crashes: finished, $copy_rows rows copied exactly once, none skipped or failed");
is( count_sql(
		q{SELECT count(*) FROM (SELECT legacy_id, label FROM legacy EXCEPT SELECT id, name FROM copied) x}),
	'0',
	'after the copy crashes: the target holds every source row');
is( count_sql(
		q{SELECT migrate.reconcile('SELECT legacy_id AS id FROM legacy', 'copied', '{id}') ->> 'success_rate'}),
	'100.00',
	'after the copy crashes: migrate.reconcile() reports 100% matched');
my $copy_crash_count = $copy_crashes;

note("crash cycles survived: $crash_cycles ($migration_crashes during migrations, "
	  . "$load_crash_count under the audited write load, $copy_crash_count during a copy_rows_each job)");
note("audit rows checked: $audit_rows_checked (one per committed change of "
	  . count_sql(q{SELECT count(*) FROM acct}) . " rows; $load_txns load transactions with their events)");
diag("crash cycles survived: $crash_cycles; audit rows checked: $audit_rows_checked");

$node->stop;
done_testing();
