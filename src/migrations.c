/*-------------------------------------------------------------------------
 * migrations.c
 *	  Versioned migrations: apply, revert, verify, baseline, repair, the
 *	  migration lock, per-statement timeouts, and the bookkeeping tables
 *	  migrate.migrations and migrate.history (written only from here, as
 *	  their owner, through kept SPI plans).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#if PG_VERSION_NUM >= 150000
#include "common/pg_prng.h"
#endif
#include "storage/latch.h"
#include "utils/wait_event.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/dest.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/pg_lsn.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timeout.h"

#include "context.h"
#include "errors.h"
#include "events.h"
#include "lint.h"
#include "lockwatch.h"
#include "migrate_ext.h"
#include "migrations.h"
#include "script.h"
#include "util.h"

/* advisory lock key of the migration lock: ('migr', 1) in this database */
#define MIGRATE_LOCK_KEY1 0x6D696772
#define MIGRATE_LOCK_KEY2 1

/* true only while this file writes the bookkeeping tables */
static bool bookkeeping_write = false;

/* ---------------------------------------------------------------------
 * Kept SPI plans for the bookkeeping tables
 * ---------------------------------------------------------------------
 */
typedef enum BkPlan
{
	BK_GET,
	BK_BASELINE_COVERS,
	BK_HIGHER,
	BK_MISSING_REQS,
	BK_UPSERT,
	BK_HISTORY,
	BK_MARK_REVERTED,
	BK_DEPENDENTS,
	BK_COUNT,
	BK_BASELINE,
	BK_REPAIR,
	BK_LOCK_HOLDER,
	BK_HISTORY_MAX,
	BK_LOCK_WAIT,
	BK_CHAIN_HEAD,
	BK_SET_CHAIN,
	BK_NPLANS
} BkPlan;

typedef struct BkPlanDef
{
	const char *sql;
	int			nargs;
	Oid			argtypes[24];
} BkPlanDef;

#define EQ " OPERATOR(pg_catalog.=) "

static const BkPlanDef bk_defs[BK_NPLANS] = {
	[BK_GET] = {
		"SELECT state, checksum, name, down_script, verify_script,"
		"       current_user_name, search_path"
		"  FROM migrate.migrations WHERE version" EQ "$1",
		1, {TEXTOID}
	},
	[BK_BASELINE_COVERS] = {
		"SELECT version FROM migrate.migrations"
		" WHERE state" EQ "'baselined'"
		"   AND version_key OPERATOR(pg_catalog.>=) migrate.version_key($1)",
		1, {TEXTOID}
	},
	[BK_HIGHER] = {
		"SELECT version FROM migrate.migrations"
		" WHERE state OPERATOR(pg_catalog.<>) 'reverted'"
		"   AND version_key OPERATOR(pg_catalog.>) migrate.version_key($1)"
		" ORDER BY version_key DESC LIMIT 1",
		1, {TEXTOID}
	},
	[BK_MISSING_REQS] = {
		"SELECT pg_catalog.string_agg(r.v, ', ' ORDER BY r.n)"
		"  FROM pg_catalog.unnest($1::pg_catalog.text[]) WITH ORDINALITY AS r(v, n)"
		" WHERE NOT EXISTS (SELECT 1 FROM migrate.migrations m"
		"                    WHERE m.version" EQ "r.v"
		"                      AND m.state OPERATOR(pg_catalog.<>) 'reverted')"
		"   AND NOT EXISTS (SELECT 1 FROM migrate.migrations b"
		"                    WHERE b.state" EQ "'baselined'"
		"                      AND b.version_key OPERATOR(pg_catalog.>=) migrate.version_key(r.v))",
		1, {TEXTARRAYOID}
	},
	[BK_UPSERT] = {
		"INSERT INTO migrate.migrations AS m (version, name, state, checksum, script,"
		"  down_script, verify_script, requires, session_user_name, current_user_name,"
		"  application_name, client_addr, backend_pid, txid, started_at, applied_at,"
		"  lock_wait_ms, execution_ms, statement_count, rows_affected, wal_lsn_before,"
		"  wal_lsn_after, out_of_order, search_path, lint_findings, reverted_at, reverted_by)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
		"  pg_catalog.inet_client_addr(), pg_catalog.pg_backend_pid(),"
		"  pg_catalog.pg_current_xact_id(), $12, pg_catalog.clock_timestamp(),"
		"  $13, $14, $15, $16, $17, $18, $19, $20, $21::pg_catalog.jsonb, NULL, NULL)"
		" ON CONFLICT (version) DO UPDATE SET"
		"  name = excluded.name, state = excluded.state, checksum = excluded.checksum,"
		"  script = excluded.script, down_script = excluded.down_script,"
		"  verify_script = excluded.verify_script, requires = excluded.requires,"
		"  session_user_name = excluded.session_user_name,"
		"  current_user_name = excluded.current_user_name,"
		"  application_name = excluded.application_name, client_addr = excluded.client_addr,"
		"  backend_pid = excluded.backend_pid, txid = excluded.txid,"
		"  started_at = excluded.started_at, applied_at = excluded.applied_at,"
		"  lock_wait_ms = excluded.lock_wait_ms, execution_ms = excluded.execution_ms,"
		"  statement_count = excluded.statement_count, rows_affected = excluded.rows_affected,"
		"  wal_lsn_before = excluded.wal_lsn_before, wal_lsn_after = excluded.wal_lsn_after,"
		"  out_of_order = excluded.out_of_order, search_path = excluded.search_path,"
		"  lint_findings = excluded.lint_findings,"
		"  reverted_at = NULL, reverted_by = NULL"
		" WHERE m.state" EQ "'reverted'",
		21, {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID,
			TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, FLOAT8OID, FLOAT8OID, INT4OID,
		INT8OID, PG_LSNOID, PG_LSNOID, BOOLOID, TEXTOID, TEXTOID}
	},
	[BK_HISTORY] = {
		"INSERT INTO migrate.history (action, version, name, checksum, previous_checksum,"
		"  session_user_name, current_user_name, application_name, client_addr,"
		"  backend_pid, txid, details, prev_hash, chain_hash)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, pg_catalog.inet_client_addr(),"
		"  pg_catalog.pg_backend_pid(), pg_catalog.pg_current_xact_id(), $9::pg_catalog.jsonb,"
		"  $10, $11)",
		11, {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID}
	},
	[BK_MARK_REVERTED] = {
		"UPDATE migrate.migrations SET state = 'reverted',"
		"  reverted_at = pg_catalog.clock_timestamp(), reverted_by = $2"
		" WHERE version" EQ "$1",
		2, {TEXTOID, TEXTOID}
	},
	[BK_DEPENDENTS] = {
		"SELECT pg_catalog.string_agg(version, ', ' ORDER BY version_key)"
		"  FROM migrate.migrations"
		" WHERE state" EQ "'applied' AND $1" EQ "ANY (requires)",
		1, {TEXTOID}
	},
	[BK_COUNT] = {
		"SELECT pg_catalog.count(*) FROM migrate.migrations",
		0, {InvalidOid}
	},
	[BK_BASELINE] = {
		"INSERT INTO migrate.migrations (version, name, state, session_user_name,"
		"  current_user_name, application_name, client_addr, backend_pid, txid,"
		"  started_at, applied_at)"
		" VALUES ($1, $2, 'baselined', $3, $4, $5, pg_catalog.inet_client_addr(),"
		"  pg_catalog.pg_backend_pid(), pg_catalog.pg_current_xact_id(),"
		"  pg_catalog.clock_timestamp(), pg_catalog.clock_timestamp())",
		5, {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID}
	},
	[BK_REPAIR] = {
		"UPDATE migrate.migrations SET checksum = $2, script = $3"
		" WHERE version" EQ "$1",
		3, {TEXTOID, TEXTOID, TEXTOID}
	},
	[BK_LOCK_HOLDER] = {
		"SELECT pid FROM pg_catalog.pg_locks"
		" WHERE locktype" EQ "'advisory' AND database" EQ "$1"
		"   AND classid" EQ "$2 AND objid" EQ "$3"
		"   AND objsubid OPERATOR(pg_catalog.=) 2 AND granted"
		"   AND pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()"
		" LIMIT 1",
		3, {OIDOID, OIDOID, OIDOID}
	},
	[BK_LOCK_WAIT] = {
		"INSERT INTO migrate.lock_waits (version, statement_no, attempt, relation,"
		"  wanted_mode, blockers, waited_ms, outcome)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		8, {TEXTOID, INT4OID, INT4OID, TEXTOID, TEXTOID, TEXTOID, FLOAT8OID, TEXTOID}
	},
	[BK_CHAIN_HEAD] = {
		"SELECT chain_hash FROM migrate.history ORDER BY id DESC LIMIT 1",
		0, {InvalidOid}
	},
	[BK_SET_CHAIN] = {
		"UPDATE migrate.migrations SET chain_hash = $2 WHERE version" EQ "$1",
		2, {TEXTOID, TEXTOID}
	},
	[BK_HISTORY_MAX] = {
		"SELECT COALESCE(pg_catalog.max(id), 0) FROM migrate.history",
		0, {InvalidOid}
	},
};

static SPIPlanPtr bk_plans[BK_NPLANS];

static void save_guc(const char *name, const char *value);


/*
 * Run a bookkeeping plan as the tables' owner (the caller needs no
 * privilege on them), with direct-write protection lifted.
 */
static int
bk_exec_snapshot(BkPlan id, Datum *values, const char *nulls, long tcount,
				 Snapshot snapshot)
{
	OwnerSwitch sw;
	volatile int rc = 0;

	if (bk_plans[id] == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(bk_defs[id].sql, bk_defs[id].nargs,
									   (Oid *) bk_defs[id].argtypes);

		if (plan == NULL)
			elog(ERROR, "could not prepare bookkeeping query: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "could not keep bookkeeping plan");
		bk_plans[id] = plan;
	}

	migrate_become_owner(&sw, true);
	bookkeeping_write = true;
	PG_TRY();
	{
		if (snapshot != InvalidSnapshot)
			rc = SPI_execute_snapshot(bk_plans[id], values, nulls, snapshot,
									  InvalidSnapshot, true, false, tcount);
		else
			rc = SPI_execute_plan(bk_plans[id], values, nulls, false, tcount);
	}
	PG_FINALLY();
	{
		bookkeeping_write = false;
		migrate_restore_user(&sw, false);
	}
	PG_END_TRY();
	AtEOXact_GUC(true, sw.nest);

	if (rc < 0)
		elog(ERROR, "bookkeeping query failed: %s", SPI_result_code_string(rc));
	return rc;
}

/* Run a bookkeeping plan as the tables' owner with the current snapshot. */
static int
bk_exec(BkPlan id, Datum *values, const char *nulls, long tcount)
{
	return bk_exec_snapshot(id, values, nulls, tcount, InvalidSnapshot);
}

/* Text of column "col" of the first result row, or NULL. */
static char *
bk_text(int col)
{
	if (SPI_processed == 0)
		return NULL;
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col);
}

/* A migrations row as far as the functions need it. */
typedef struct MigrationRow
{
	bool		found;
	char	   *state;
	char	   *checksum;
	char	   *name;
	char	   *down_script;
	char	   *verify_script;
	char	   *applier;		/* current_user_name at apply time */
	char	   *search_path;	/* search_path at apply time */
} MigrationRow;

/* Look up a version in migrate.migrations. */
static MigrationRow
get_migration(const char *version)
{
	MigrationRow row = {0};
	Datum		values[1] = {CStringGetTextDatum(version)};

	bk_exec(BK_GET, values, NULL, 1);
	if (SPI_processed > 0)
	{
		row.found = true;
		row.state = bk_text(1);
		row.checksum = bk_text(2);
		row.name = bk_text(3);
		row.down_script = bk_text(4);
		row.verify_script = bk_text(5);
		row.applier = bk_text(6);
		row.search_path = bk_text(7);
	}
	return row;
}

/*
 * The role stored scripts of a migration run as: the role that applied it,
 * so a down or verify script never runs with more privileges than its
 * author had (e.g. when a superuser reverts a migration another role
 * applied).
 */
static Oid
applier_role(const MigrationRow *row, const char *version)
{
	Oid			role = row->applier ? get_role_oid(row->applier, true) : InvalidOid;

	if (!OidIsValid(role))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" that applied migration %s no longer exists",
						row->applier ? row->applier : "", version),
				 errdetail("Down and verify scripts run as the role that applied the migration."),
				 errhint("Recreate the role, or undo the migration with a new migration.")));
	return role;
}

/* Append "key": value pairs to a JSON object under construction. */
static void
json_add_str(StringInfo buf, const char *key, const char *val)
{
	appendStringInfoString(buf, buf->len > 1 ? ", " : "");
	escape_json(buf, key);
	appendStringInfoString(buf, ": ");
	if (val)
		escape_json(buf, val);
	else
		appendStringInfoString(buf, "null");
}

/* Append a numeric "key": value pair. */
static void
json_add_num(StringInfo buf, const char *key, const char *fmt_val)
{
	appendStringInfoString(buf, buf->len > 1 ? ", " : "");
	escape_json(buf, key);
	appendStringInfo(buf, ": %s", fmt_val);
}

/* Who is acting: recorded with every bookkeeping row. */
typedef struct Actor
{
	char	   *session_user;
	char	   *current_user;
	char	   *application_name;
} Actor;

/* Capture the acting session's identity. */
static Actor
current_actor(void)
{
	Actor		a;

	a.session_user = migrate_session_user_name();
	a.current_user = migrate_current_user_name();
	a.application_name = pstrdup(application_name ? application_name : "");
	return a;
}

static Datum apply_impl(PG_FUNCTION_ARGS);
static Datum revert_impl(PG_FUNCTION_ARGS);

/* The monitoring event of a history row: migration_applied, ... */
static void
history_event(const char *action, const char *version, const char *name,
			  const char *checksum, const char *details_json)
{
	StringInfoData details;
	const char *kind;
	const char *done;
	const char *severity = "info";

	if (strcmp(action, "apply") == 0)
		kind = "migration_applied", done = "applied";
	else if (strcmp(action, "revert") == 0)
		kind = "migration_reverted", done = "reverted", severity = "notice";
	else if (strcmp(action, "repair") == 0)
		kind = "migration_repaired", done = "repaired", severity = "notice";
	else if (strcmp(action, "baseline") == 0)
		kind = "migration_baselined", done = "baselined";
	else
		return;
	initStringInfo(&details);
	appendStringInfoString(&details, "{\"version\": ");
	escape_json(&details, version);
	appendStringInfoString(&details, ", \"name\": ");
	if (name)
		escape_json(&details, name);
	else
		appendStringInfoString(&details, "null");
	appendStringInfoString(&details, ", \"checksum\": ");
	if (checksum)
		escape_json(&details, checksum);
	else
		appendStringInfoString(&details, "null");
	appendStringInfo(&details, ", \"history\": %s}", details_json ? details_json : "{}");
	migrate_event_record(kind, severity,
						 psprintf("migration %s%s%s %s", version, name ? " " : "", name ? name : "", done),
						 details.data);
}

/* Append a row to migrate.history (and its monitoring event). */
static void
write_history(const char *action, const char *version, const char *name,
			  const char *checksum, const char *previous_checksum,
			  const Actor *actor, const char *details_json)
{
	Datum		values[11];
	char		nulls[11];
	char	   *prev;
	char	   *chain;

	/*
	 * The chain: each entry's hash covers the one before it (writers hold
	 * the migration lock and see the latest committed history, so the head
	 * read here is the head)
	 */
	bk_exec(BK_CHAIN_HEAD, NULL, NULL, 1);
	prev = SPI_processed > 0 ? bk_text(1) : NULL;
	chain = migrate_chain_link(prev, action, version, checksum);

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(action);
	values[1] = CStringGetTextDatum(version);
	values[2] = migrate_text_or_null(name, &nulls[2]);
	values[3] = migrate_text_or_null(checksum, &nulls[3]);
	values[4] = migrate_text_or_null(previous_checksum, &nulls[4]);
	values[5] = CStringGetTextDatum(actor->session_user);
	values[6] = CStringGetTextDatum(actor->current_user);
	values[7] = CStringGetTextDatum(actor->application_name);
	values[8] = CStringGetTextDatum(details_json ? details_json : "{}");
	values[9] = migrate_text_or_null(prev, &nulls[9]);
	values[10] = CStringGetTextDatum(chain);
	bk_exec(BK_HISTORY, values, nulls, 0);
	/* the migration's row carries the hash of its latest entry */
	{
		Datum		v[2] = {CStringGetTextDatum(version), CStringGetTextDatum(chain)};

		bk_exec(BK_SET_CHAIN, v, NULL, 0);
	}
	history_event(action, version, name, checksum, details_json);
}

/* ---------------------------------------------------------------------
 * The migration lock
 * ---------------------------------------------------------------------
 */

/* Describe the session holding the migration lock, if any. */
static char *
describe_lock_holder(void)
{
	Datum		values[3] = {
		ObjectIdGetDatum(MyDatabaseId),
		ObjectIdGetDatum((Oid) MIGRATE_LOCK_KEY1),
		ObjectIdGetDatum((Oid) MIGRATE_LOCK_KEY2)
	};
	bool		isnull;
	int			pid;

	bk_exec(BK_LOCK_HOLDER, values, NULL, 1);
	if (SPI_processed == 0)
		return pstrdup("a session that has since finished");
	pid = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	return migrate_describe_backend(pid, false, migrate_may_see_all_activity());
}

/*
 * Take the transaction-level migration lock, waiting up to
 * migrate.lock_wait_timeout; on timeout fail naming the holder.
 * Returns the time waited in ms.
 */
static double
acquire_migration_lock(void)
{
	LOCKTAG		tag;
	char	   *holder;
	int			nest;
	char		buf[32];
	TimestampTz start;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, MIGRATE_LOCK_KEY1, MIGRATE_LOCK_KEY2, 2);
	if (LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL)
		return 0;

	/* contended: note who holds it, then queue for it */
	holder = describe_lock_holder();
	start = GetCurrentTimestamp();
	nest = NewGUCNestLevel();
	snprintf(buf, sizeof(buf), "%d", migrate_lock_wait_timeout);
	save_guc("lock_timeout", buf);
	PG_TRY();
	{
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(CurTransactionContext);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			PG_RE_THROW();
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_MIGRATE_LOCK_TIMEOUT),
				 errmsg("another migration is in progress: could not take the migration lock within migrate.lock_wait_timeout (%d ms)",
						migrate_lock_wait_timeout),
				 errdetail("The migration lock is held by %s.", holder),
				 errhint("Wait for that migration to finish and try again, or raise migrate.lock_wait_timeout.")));
	}
	PG_END_TRY();
	AtEOXact_GUC(true, nest);
	return migrate_elapsed_ms(start, GetCurrentTimestamp());
}

/*
 * Under REPEATABLE READ or SERIALIZABLE the transaction snapshot may predate
 * a migration another session committed: the recorded state we would check
 * against is stale.  Compare the history as our snapshot sees it with the
 * latest committed history (nobody can be writing it: we hold the lock).
 */
static void
check_snapshot_current(void)
{
	bool		isnull;
	int64		mine;
	int64		latest;

	if (!IsolationUsesXactSnapshot())
		return;
	bk_exec(BK_HISTORY_MAX, NULL, NULL, 1);
	mine = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	bk_exec_snapshot(BK_HISTORY_MAX, NULL, NULL, 1, GetLatestSnapshot());
	latest = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (mine != latest)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize migration with a concurrent one"),
				 errdetail("Another session changed the migration history after this REPEATABLE READ or SERIALIZABLE transaction took its snapshot."),
				 errhint("Retry the transaction.")));
}

/* Take the migration lock and make sure we see the latest history. */
static double
lock_migrations(void)
{
	double		waited = acquire_migration_lock();

	check_snapshot_current();
	return waited;
}

/* ---------------------------------------------------------------------
 * Running script statements
 * ---------------------------------------------------------------------
 */
typedef struct RunState
{
	const char *version;
	const char *what;			/* "script", "down script", "verify check" */
	ScriptStmt *st;
} RunState;

/* Error context: which statement of which migration. */
static void
run_error_callback(void *arg)
{
	RunState   *rs = (RunState *) arg;

	if (rs->st)
		errcontext("%s %d (line %d) of migration %s",
				   rs->what, rs->st->no, rs->st->line, rs->version);
}

/* Saved state of the statement timer around one migration statement. */

/*
 * statement_timeout is armed once per top-level statement, so setting the
 * GUC inside a function does nothing by itself: arm the timer for each
 * migration statement with the statement_timeout in effect now, unless the
 * outer statement's own timer would fire first.
 */
void
stmt_timer_arm(StmtTimer *t)
{
	TimestampTz fin;

	t->armed = false;
	if (StatementTimeout <= 0)
		return;
	t->outer_active = get_timeout_active(STATEMENT_TIMEOUT);
	t->outer_fin = t->outer_active ? get_timeout_finish_time(STATEMENT_TIMEOUT) : 0;
	fin = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), StatementTimeout);
	if (t->outer_active && t->outer_fin <= fin)
		return;
	enable_timeout_at(STATEMENT_TIMEOUT, fin);
	t->armed = true;
}

/* Put the outer statement's timer back. */
void
stmt_timer_disarm(StmtTimer *t)
{
	if (!t->armed)
		return;
	if (t->outer_active)
		enable_timeout_at(STATEMENT_TIMEOUT, t->outer_fin);
	else
		disable_timeout(STATEMENT_TIMEOUT, false);
	t->armed = false;
}

/* Execute one statement through SPI, discarding any rows it returns. */
static int
spi_run(const char *sql)
{
#if PG_VERSION_NUM >= 140000
	SPIExecuteOptions opts;

	memset(&opts, 0, sizeof(opts));
	opts.read_only = false;
	opts.dest = None_Receiver;
	return SPI_execute_extended(sql, &opts);
#else
	return SPI_execute(sql, false, 0);
#endif
}

/*
 * Execute one migration statement through SPI (the caller arms the statement
 * timer).  A script's own SET lock_timeout / statement_timeout runs as SET
 * LOCAL inside the migration's GUC level, so it ends with the migration.
 * Returns the SPI result code.
 */
int
migration_exec_statement(ScriptStmt *st)
{
	if (st->sets_lock_timeout || st->sets_statement_timeout)
	{
		VariableSetStmt *v = copyObject(castNode(VariableSetStmt, st->parsetree));

		v->is_local = true;
		ExecSetVariableStmt(v, false);
		lockwatch_setup_gucs(LockTimeout, false);
		return SPI_OK_UTILITY;
	}
	return spi_run(st->sql);
}

/* Rows the statement just executed affected (0 for SELECT and SET). */
uint64
migration_rows_affected(ScriptStmt *st)
{
	uint64		rows = 0;

	if (!st->is_select && !IsA(st->parsetree, VariableSetStmt))
		rows = SPI_processed;
	if (SPI_tuptable)
		SPI_freetuptable(SPI_tuptable);
	return rows;
}

/* Is this error a lock_timeout (raised by ProcessInterrupts), not NOWAIT? */
static bool
is_lock_timeout(ErrorData *edata)
{
	return edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE &&
		edata->funcname != NULL &&
		strcmp(edata->funcname, "ProcessInterrupts") == 0;
}

/*
 * Run one statement with its timer armed and its lock waits watched.  A
 * lock timeout's error names the sessions that blocked the statement.
 * Returns the rows it affected.
 */
static uint64
run_one(RunState *rs, ScriptStmt *st)
{
	StmtTimer	timer;
	MemoryContext oldcxt = CurrentMemoryContext;
	volatile int rc = 0;

	stmt_timer_arm(&timer);
	lockwatch_begin();
	PG_TRY();
	{
		rc = migration_exec_statement(st);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		const char *blockers = lockwatch_blockers();

		lockwatch_end();
		stmt_timer_disarm(&timer);
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		if (!is_lock_timeout(edata))
			PG_RE_THROW();
		FlushErrorState();
		if (blockers)
			edata->detail = psprintf("The statement waited longer than lock_timeout (%d ms) for %s%s. Blocked by: %s.",
									 LockTimeout,
									 lockwatch_waited_mode() > 0 ?
									 GetLockmodeName(DEFAULT_LOCKMETHOD, lockwatch_waited_mode()) : "a lock",
									 OidIsValid(lockwatch_waited_relid()) ?
									 psprintf(" on relation %u", lockwatch_waited_relid()) : "",
									 blockers);
		else
			edata->detail = psprintf("The statement waited longer than lock_timeout (%d ms); the blocking sessions could not be identified.",
									 LockTimeout);
		edata->hint = pstrdup("Nothing was applied. Retry when the blocking sessions have finished, end them, raise migrate.lock_timeout, or set migrate.lock_retries.");
		ReThrowError(edata);
	}
	PG_END_TRY();
	lockwatch_end();
	stmt_timer_disarm(&timer);

	if (rc < 0)
		ereport(ERROR,
				(errcode(ERRCODE_MIGRATE_UNSUPPORTED_STATEMENT),
				 errmsg("%s %d of migration %s cannot run inside a migration: %s",
						rs->what, st->no, rs->version, SPI_result_code_string(rc))));
	return migration_rows_affected(st);
}

/* Log one lock wait of a statement in migrate.lock_waits (and as a WARNING). */
static void
record_lock_wait(RunState *rs, ScriptStmt *st, int attempt, double waited_ms,
				 bool gave_up, int backoff_ms)
{
	Oid			relid = lockwatch_waited_relid();
	int			mode = lockwatch_waited_mode();
	char	   *relname = NULL;
	const char *modename = mode > 0 ? GetLockmodeName(DEFAULT_LOCKMETHOD, mode) : NULL;
	const char *blockers = lockwatch_blockers();
	Datum		values[8];
	char		nulls[8];

	if (OidIsValid(relid) && get_rel_name(relid) != NULL)
		relname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
											 get_rel_name(relid));
	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(rs->version);
	values[1] = Int32GetDatum(st->no);
	values[2] = Int32GetDatum(attempt);
	values[3] = migrate_text_or_null(relname, &nulls[3]);
	values[4] = migrate_text_or_null(modename, &nulls[4]);
	values[5] = migrate_text_or_null(blockers, &nulls[5]);
	values[6] = Float8GetDatum(waited_ms);
	values[7] = CStringGetTextDatum(gave_up ? "gave_up" : "retried");
	bk_exec(BK_LOCK_WAIT, values, nulls, 0);

	ereport(WARNING,
			(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
			 errmsg("%s %d of migration %s waited %.0f ms for %s on %s (attempt %d of %d)%s",
					rs->what, st->no, rs->version, waited_ms,
					modename ? modename : "a lock", relname ? relname : "an object",
					attempt, migrate_lock_retries + 1,
					gave_up ? "" : psprintf(", retrying in %d ms", backoff_ms)),
			 blockers ? errdetail("Blocked by: %s.", blockers) : 0));
}

/* Sleep before a retry, interruptibly. */
static void
backoff_sleep(int ms)
{
	TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);

	for (;;)
	{
		long		left = (long) migrate_elapsed_ms(GetCurrentTimestamp(), end);

		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* One try of a statement, for migrate_subxact. */
typedef struct OneTry
{
	RunState   *rs;
	ScriptStmt *st;
	uint64		rows;
} OneTry;

/* migrate_subxact callback: run the statement once. */
static void
run_one_try(void *arg)
{
	OneTry	   *t = (OneTry *) arg;

	t->rows = run_one(t->rs, t->st);
}

/*
 * Run one statement, retrying it after lock_timeout up to
 * migrate.lock_retries times: each try runs in a subtransaction so a failed
 * try leaves nothing behind; the backoff doubles from 100 ms (at most 5 s,
 * with jitter).  Every wait is logged in migrate.lock_waits.
 */
static uint64
run_one_retrying(RunState *rs, ScriptStmt *st)
{
	int			attempt = 1;
	OneTry		try;

	for (;;)
	{
		TimestampTz start = GetCurrentTimestamp();
		int			backoff_ms = Min(100 << Min(attempt - 1, 10), 5000);
		ErrorData  *edata;
		bool		gave_up;

#if PG_VERSION_NUM >= 150000
		backoff_ms += (int) (pg_prng_double(&pg_global_prng_state) * backoff_ms / 2);
#else
		backoff_ms += random() % (backoff_ms / 2 + 1);
#endif
		try.rs = rs;
		try.st = st;
		edata = migrate_subxact(run_one_try, &try, true);
		if (edata == NULL)
			return try.rows;
		if (!is_lock_timeout(edata))
			ReThrowError(edata);
		gave_up = attempt > migrate_lock_retries;
		record_lock_wait(rs, st, attempt, migrate_elapsed_ms(start, GetCurrentTimestamp()),
						 gave_up, backoff_ms);
		if (gave_up)
		{
			edata->hint = psprintf("Nothing was applied: the statement hit lock_timeout %d times (migrate.lock_retries = %d); the waits are in the WARNINGs above. Retry later, or end the blocking sessions.",
								   attempt, migrate_lock_retries);
			ReThrowError(edata);
		}
		backoff_sleep(backoff_ms);
		attempt++;
	}
}

/*
 * Run a script's statements in order (as run_as if valid), with lock
 * retries when migrate.lock_retries > 0.  Returns rows affected by
 * non-SELECT statements.
 */
static uint64
run_statements(const char *version, List *stmts, const char *what, Oid run_as)
{
	Oid			save_userid;
	int			save_sec_context;
	RunState	rs = {version, what, NULL};
	ErrorContextCallback cb;
	ListCell   *lc;
	uint64		rows = 0;

	/* an error aborts the (sub)transaction, which restores the user id */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	if (OidIsValid(run_as))
		SetUserIdAndSecContext(run_as, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);

	cb.callback = run_error_callback;
	cb.arg = &rs;
	cb.previous = error_context_stack;
	error_context_stack = &cb;

	foreach(lc, stmts)
	{
		ScriptStmt *st = (ScriptStmt *) lfirst(lc);

		rs.st = st;
		if (migrate_lock_retries > 0)
			rows += run_one_retrying(&rs, st);
		else
			rows += run_one(&rs, st);
	}

	error_context_stack = cb.previous;
	SetUserIdAndSecContext(save_userid, save_sec_context);
	return rows;
}

/* Set a GUC in the current nest level, to be restored when it is popped. */
static void
save_guc(const char *name, const char *value)
{
	(void) set_config_option(name, value, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * Open a GUC nest level for a migration: lock_timeout = migrate.lock_timeout
 * and statement_timeout = migrate.statement_timeout (if set) from the first
 * statement on; a script's own SET of these takes over from where it stands
 * and is confined to the migration.  Stored scripts also get the search_path
 * recorded at apply time.  Returns the level to pop with AtEOXact_GUC.
 */
int
push_migration_gucs(List *stmts, const char *search_path)
{
	int			nest = NewGUCNestLevel();
	char		buf[32];

	if (search_path)
		save_guc("search_path", search_path);

	/* from the first statement on; a SET in the script takes over from there */
	snprintf(buf, sizeof(buf), "%d", migrate_lock_timeout);
	save_guc("lock_timeout", buf);
	if (script_sets_statement_timeout(stmts))
		save_guc("statement_timeout", GetConfigOption("statement_timeout", false, false));
	else if (migrate_statement_timeout > 0)
	{
		snprintf(buf, sizeof(buf), "%d", migrate_statement_timeout);
		save_guc("statement_timeout", buf);
	}
	lockwatch_setup_gucs(LockTimeout, true);
	return nest;
}

/*
 * Evaluate one verify check: NULL when it returned exactly one row whose
 * first column is boolean true, else why it failed.
 */
static char *
eval_check(ScriptStmt *st)
{
	StmtTimer	timer;
	volatile int rc = 0;
	Oid			typid;
	bool		isnull;
	Datum		val;

	stmt_timer_arm(&timer);
	PG_TRY();
	{
		rc = SPI_execute(st->sql, false, 2);
	}
	PG_CATCH();
	{
		stmt_timer_disarm(&timer);
		PG_RE_THROW();
	}
	PG_END_TRY();
	stmt_timer_disarm(&timer);

	if (rc != SPI_OK_SELECT || SPI_tuptable == NULL)
		return pstrdup("it returned no result set");
	if (SPI_processed == 0)
		return pstrdup("it returned no row");
	if (SPI_processed > 1)
		return pstrdup("it returned more than one row");
	if (SPI_tuptable->tupdesc->natts < 1)
		return pstrdup("it returned no column");
	typid = SPI_gettypeid(SPI_tuptable->tupdesc, 1);
	if (typid != BOOLOID)
		return psprintf("its first column is of type %s, not boolean", format_type_be(typid));
	val = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return pstrdup("it returned NULL");
	if (!DatumGetBool(val))
		return pstrdup("it returned false");
	return NULL;
}

/* Run verify checks after an apply: the first failing one fails the apply. */
static void
run_verify_strict(const char *version, List *checks)
{
	RunState	rs = {version, "verify check", NULL};
	ErrorContextCallback cb;
	ListCell   *lc;

	cb.callback = run_error_callback;
	cb.arg = &rs;
	cb.previous = error_context_stack;
	error_context_stack = &cb;

	foreach(lc, checks)
	{
		ScriptStmt *st = (ScriptStmt *) lfirst(lc);
		char	   *failure;

		rs.st = st;
		failure = eval_check(st);
		if (failure)
		{
			error_context_stack = cb.previous;
			ereport(ERROR,
					(errcode(ERRCODE_MIGRATE_VERIFY_FAILED),
					 errmsg("verify check %d of migration %s failed: %s", st->no, version, failure),
					 errdetail("Check (line %d of the verify script): %s", st->line, st->sql),
					 errhint("Nothing was applied. Fix the migration or its verify script and apply it again.")));
		}
	}
	error_context_stack = cb.previous;
}

/*
 * Parse the script (what: "script" or "down script") of a migration: its
 * statements; one with no statement is refused (hint: NULL for none).
 */
static List *
parse_migration_script(const char *script, const char *what, const char *version, const char *hint)
{
	List	   *stmts = script_parse(script, what);

	if (stmts == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s of migration %s contains no SQL statement", what, version),
				 hint ? errhint("%s", hint) : 0));
	return stmts;
}

/* Parse a verify script: every statement must be a SELECT. */
static List *
parse_verify_script(const char *verify)
{
	List	   *checks = script_parse(verify, "verify script");
	ListCell   *lc;

	if (checks == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("verify script contains no SQL statement"),
				 errhint("Pass NULL for a migration without verify checks.")));

	foreach(lc, checks)
	{
		ScriptStmt *st = (ScriptStmt *) lfirst(lc);

		if (!st->is_select)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("verify script statement %d (line %d) is %s, not a SELECT",
							st->no, st->line, st->command),
					 errhint("Each verify check is a query returning one row whose first column is true, e.g. SELECT count(*) = 3 FROM pg_policies WHERE tablename = 'profiles'.")));
	}
	return checks;
}

/* Refuse calling apply/revert/... from inside a migration script. */
static void
check_not_nested(const char *fn)
{
	if (migrate_context_current() != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_MIGRATE_NESTED),
				 errmsg("%s cannot be called while migration %s is running", fn,
						migrate_context_current()),
				 errhint("Apply migrations one after the other, not from inside a migration script.")));
}

/* The requires array as a list of C strings, validated. */
static List *
requires_list(FunctionCallInfo fcinfo, int argno, const char *version)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	List	   *result = NIL;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("requires must not be NULL"),
				 errhint("Pass '{}' for a migration without requirements.")));
	arr = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("requires must be a one-dimensional array")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		char	   *v;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("requires must not contain NULL")));
		v = TextDatumGetCString(elems[i]);
		if (v[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("requires must not contain an empty version")));
		migrate_check_version(v);
		if (strcmp(v, version) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("migration %s cannot require itself", version)));
		result = lappend(result, v);
	}
	return result;
}

/* A C string list as a text[] datum. */
static Datum
list_to_text_array(List *l)
{
	Datum	   *d = palloc(sizeof(Datum) * (list_length(l) + 1));
	int			i = 0;
	ListCell   *lc;

	foreach(lc, l)
		d[i++] = CStringGetTextDatum((char *) lfirst(lc));
	return PointerGetDatum(construct_array(d, i, TEXTOID, -1, false, TYPALIGN_INT));
}

/* Format a double for JSON. */
static char *
fmt_ms(double ms)
{
	return psprintf("%.3f", ms);
}

/* Format an LSN for JSON. */
static char *
fmt_lsn(XLogRecPtr lsn)
{
	if (XLogRecPtrIsInvalid(lsn))
		return "null";
	return psprintf("\"%X/%X\"", (uint32) (lsn >> 32), (uint32) lsn);
}

/* ---------------------------------------------------------------------
 * SQL functions
 * ---------------------------------------------------------------------
 */

/* Everything an apply or revert needs once the checks have passed. */
typedef struct MigrationJob
{
	const char *version;
	const char *name;
	const char *script;
	const char *down;
	const char *verify;
	const char *checksum;
	const char *previous_checksum;
	List	   *requires;
	List	   *stmts;
	List	   *checks;
	double		lock_wait_ms;
	bool		out_of_order;
	Actor		actor;
	const char *lint_json;		/* apply: lint findings as JSON */
	Oid			run_as;			/* revert: role the down script runs as */
	const char *search_path;	/* revert: search_path recorded at apply */
	double		recorded_ms;	/* record_applied: what the statements took */
	int32		recorded_stmts; /* record_applied: how many there were */
	const char *recorded_from;	/* record_applied: the caller's details (JSON) */
} MigrationJob;

/* Run fn(job) with current_migration() set to the job's version. */
static void
run_as_current_migration(void (*fn) (MigrationJob *), MigrationJob *job)
{
	migrate_context_begin(job->version);
	PG_TRY();
	{
		fn(job);
	}
	PG_FINALLY();
	{
		migrate_context_end();
	}
	PG_END_TRY();
}

/*
 * Record an applied migration: its row and its history entry (apply and
 * record_applied).  A WAL position is left NULL when invalid; extra_key and
 * extra_json add one member to the entry's details.
 */
static void
record_apply(MigrationJob *job, TimestampTz started, double ms, int nstmts, uint64 rows,
			 XLogRecPtr wal_before, XLogRecPtr wal_after,
			 const char *extra_key, const char *extra_json)
{
	Datum		values[21];
	char		nulls[21];
	StringInfoData details;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(job->version);
	values[1] = CStringGetTextDatum(job->name);
	values[2] = CStringGetTextDatum("applied");
	values[3] = CStringGetTextDatum(job->checksum);
	values[4] = migrate_text_or_null(job->script, &nulls[4]);
	values[5] = migrate_text_or_null(job->down, &nulls[5]);
	values[6] = migrate_text_or_null(job->verify, &nulls[6]);
	values[7] = list_to_text_array(job->requires);
	values[8] = CStringGetTextDatum(job->actor.session_user);
	values[9] = CStringGetTextDatum(job->actor.current_user);
	values[10] = CStringGetTextDatum(job->actor.application_name);
	values[11] = TimestampTzGetDatum(started);
	values[12] = Float8GetDatum(job->lock_wait_ms);
	values[13] = Float8GetDatum(ms);
	values[14] = Int32GetDatum(nstmts);
	values[15] = Int64GetDatum((int64) rows);
	values[16] = LSNGetDatum(wal_before);
	nulls[16] = XLogRecPtrIsInvalid(wal_before) ? 'n' : ' ';
	values[17] = LSNGetDatum(wal_after);
	nulls[17] = XLogRecPtrIsInvalid(wal_after) ? 'n' : ' ';
	values[18] = BoolGetDatum(job->out_of_order);
	values[19] = CStringGetTextDatum(GetConfigOption("search_path", false, false));
	values[20] = CStringGetTextDatum(job->lint_json ? job->lint_json : "[]");
	bk_exec(BK_UPSERT, values, nulls, 0);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("migration %s was recorded concurrently", job->version),
				 errhint("Retry the transaction.")));

	initStringInfo(&details);
	appendStringInfoChar(&details, '{');
	json_add_num(&details, "execution_ms", fmt_ms(ms));
	json_add_num(&details, "lock_wait_ms", fmt_ms(job->lock_wait_ms));
	json_add_num(&details, "statement_count", psprintf("%d", nstmts));
	json_add_num(&details, "rows_affected", psprintf(UINT64_FORMAT, rows));
	json_add_num(&details, "wal_lsn_before", fmt_lsn(wal_before));
	json_add_num(&details, "wal_lsn_after", fmt_lsn(wal_after));
	json_add_num(&details, "out_of_order", job->out_of_order ? "true" : "false");
	json_add_num(&details, "verify_checks", psprintf("%d", list_length(job->checks)));
	json_add_num(&details, "lint", job->lint_json ? job->lint_json : "[]");
	if (extra_key)
		json_add_num(&details, extra_key, extra_json);
	appendStringInfoChar(&details, '}');
	write_history("apply", job->version, job->name, job->checksum, NULL,
				  &job->actor, details.data);
}

/* Apply: run the script and verify checks, then record row and history. */
static void
apply_job(MigrationJob *job)
{
	int			nest = push_migration_gucs(job->stmts, NULL);
	XLogRecPtr	wal_before = GetXLogInsertRecPtr();
	TimestampTz started = GetCurrentTimestamp();
	TimestampTz finished;
	XLogRecPtr	wal_after;
	uint64		rows;

	rows = run_statements(job->version, job->stmts, "script statement", InvalidOid);
	if (job->checks != NIL)
		run_verify_strict(job->version, job->checks);
	finished = GetCurrentTimestamp();
	wal_after = GetXLogInsertRecPtr();
	AtEOXact_GUC(true, nest);
	record_apply(job, started, migrate_elapsed_ms(started, finished), list_length(job->stmts),
				 rows, wal_before, wal_after, NULL, NULL);
}

/*
 * Mark a migration reverted and log it (revert and record_reverted); rows is
 * left out of the details when negative (not known).
 */
static void
record_revert(MigrationJob *job, double ms, int nstmts, int64 rows, const char *recorded_from)
{
	Datum		v[2];
	StringInfoData details;

	v[0] = CStringGetTextDatum(job->version);
	v[1] = CStringGetTextDatum(job->actor.session_user);
	bk_exec(BK_MARK_REVERTED, v, NULL, 0);

	initStringInfo(&details);
	appendStringInfoChar(&details, '{');
	json_add_num(&details, "execution_ms", fmt_ms(ms));
	json_add_num(&details, "statement_count", psprintf("%d", nstmts));
	if (rows >= 0)
		json_add_num(&details, "rows_affected", psprintf(INT64_FORMAT, rows));
	if (recorded_from)
		json_add_num(&details, "recorded_from", recorded_from);
	appendStringInfoChar(&details, '}');
	write_history("revert", job->version, job->name, job->checksum, NULL,
				  &job->actor, details.data);
}

/* Revert: run the down script, then mark the row reverted and log it. */
static void
revert_job(MigrationJob *job)
{
	int			nest = push_migration_gucs(job->stmts, job->search_path);
	TimestampTz started = GetCurrentTimestamp();
	uint64		rows;
	double		ms;

	rows = run_statements(job->version, job->stmts, "down script statement", job->run_as);
	ms = migrate_elapsed_ms(started, GetCurrentTimestamp());
	AtEOXact_GUC(true, nest);
	record_revert(job, ms, list_length(job->stmts), (int64) rows, NULL);
}

/* record_reverted: the caller ran the down script; mark and log it. */
static void
record_revert_job(MigrationJob *job)
{
	record_revert(job, job->recorded_ms, job->recorded_stmts, -1, job->recorded_from);
}

/*
 * Lint a script, catching the linter's errors: a linter failure (e.g. a name it
 * cannot look up as the current role, where the script itself switches
 * role) becomes a WARNING, never a failed migration.
 */
static List *
lint_script_safely(const char *script, List *stmts, const char *version)
{
	ErrorData  *edata;
	List	   *findings = lint_script_catch(script, stmts, &edata);

	if (edata == NULL)
		return findings;
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		ReThrowError(edata);
	ereport(WARNING,
			(errcode(ERRCODE_MIGRATE_LINT_WARNING),
			 errmsg("could not lint migration %s: %s", version, edata->message),
			 errhint("The migration is applied without lint.")));
	return NIL;
}

/*
 * Lint a migration's script per migrate.lint_level and return the findings
 * as JSON to store with it ("[]" when the level is off).  With enforce (apply
 * and lint_gate, before anything runs): warn raises a WARNING for each error
 * or warning finding; error also refuses the migration when there are error
 * findings.  Without (record_applied: the statements already ran), the
 * findings are only returned.  SPI must be connected.
 */
static const char *
lint_migration(const char *version, const char *script, List *stmts, bool enforce)
{
	List	   *findings;
	ListCell   *lc;
	int			nerrors;

	if (migrate_lint_level == LINT_OFF)
		return "[]";
	findings = lint_script_safely(script, stmts, version);
	if (!enforce)
		return lint_findings_json(findings);
	foreach(lc, findings)
	{
		LintFinding *f = (LintFinding *) lfirst(lc);

		if (strcmp(f->severity, "info") == 0)
			continue;
		ereport(WARNING,
				(errcode(ERRCODE_MIGRATE_LINT_WARNING),
				 errmsg("lint %s %s: %s", f->severity, f->rule, f->message),
				 errdetail("Statement %d (line %d) of migration %s.", f->statement_no, f->line, version),
				 f->hint ? errhint("%s", f->hint) : 0));
	}
	nerrors = lint_error_count(findings);
	if (migrate_lint_level == LINT_WARN)
		lint_record_errors(findings);
	if (migrate_lint_level == LINT_ERROR && nerrors > 0)
	{
		StringInfoData buf;

		initStringInfo(&buf);
		foreach(lc, findings)
		{
			LintFinding *f = (LintFinding *) lfirst(lc);

			if (strcmp(f->severity, "error") == 0)
				appendStringInfo(&buf, "%sstatement %d (line %d): %s: %s", buf.len ? "; " : "",
								 f->statement_no, f->line, f->rule, f->message);
		}
		ereport(ERROR,
				(errcode(ERRCODE_MIGRATE_LINT_FAILED),
				 errmsg_plural("migration %s has %d lint error", "migration %s has %d lint errors",
							   nerrors, version, nerrors),
				 errdetail("%s.", buf.data),
				 errhint("Nothing was run. Fix the script, allow a rule for one statement with a comment \"-- migrate:allow <rule>\" on the line before it, or SET migrate.lint_level = warn.")));
	}
	return lint_findings_json(findings);
}

/* Return a text result after closing SPI. */
#define RETURN_RESULT(str) \
	do { SPI_finish(); PG_RETURN_TEXT_P(cstring_to_text(str)); } while (0)

/*
 * Whether an error is one of the refusals apply and revert raise from their
 * own checks, before any statement of the script runs (so nothing is half
 * done when the event is written).
 */
static bool
is_refusal(int sqlerrcode)
{
	switch (sqlerrcode)
	{
		case ERRCODE_MIGRATE_CHECKSUM_MISMATCH:
		case ERRCODE_MIGRATE_MISSING_REQUIREMENT:
		case ERRCODE_MIGRATE_OUT_OF_ORDER:
		case ERRCODE_MIGRATE_LOCK_TIMEOUT:
		case ERRCODE_MIGRATE_TRANSACTION_CONTROL:
		case ERRCODE_MIGRATE_NON_TRANSACTIONAL:
		case ERRCODE_MIGRATE_NO_DOWN_SCRIPT:
		case ERRCODE_MIGRATE_HAS_DEPENDENTS:
		case ERRCODE_MIGRATE_NOT_FOUND:
		case ERRCODE_MIGRATE_UNSUPPORTED_STATEMENT:
		case ERRCODE_MIGRATE_LINT_FAILED:
			return true;
		default:
			return false;
	}
}

/*
 * Run apply or revert; when the extension refuses it (an MGxxx error),
 * record a migration_refused event in its own transaction, so the event
 * outlives the rollback the error causes.
 */
static Datum
refusal_recorded(PGFunction impl, const char *function, FunctionCallInfo fcinfo)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile Datum result = (Datum) 0;

	PG_TRY();
	{
		result = impl(fcinfo);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		StringInfoData details;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (!is_refusal(edata->sqlerrcode))
			PG_RE_THROW();
		FlushErrorState();
		initStringInfo(&details);
		appendStringInfoString(&details, "{\"function\": ");
		escape_json(&details, function);
		appendStringInfoString(&details, ", \"version\": ");
		if (!PG_ARGISNULL(0))
			escape_json(&details, text_to_cstring(PG_GETARG_TEXT_PP(0)));
		else
			appendStringInfoString(&details, "null");
		appendStringInfo(&details, ", \"sqlstate\": \"%s\", \"detail\": ", unpack_sql_state(edata->sqlerrcode));
		if (edata->detail)
			escape_json(&details, edata->detail);
		else
			appendStringInfoString(&details, "null");
		appendStringInfoChar(&details, '}');
		migrate_event_record_autonomous("migration_refused", "error", edata->message, details.data);
		ReThrowError(edata);
	}
	PG_END_TRY();
	return result;
}

/*
 * The checks apply and record_applied share, under the migration lock:
 * NULL when the migration is to be recorded, else the result to return
 * (already applied, or covered by the baseline); errors for a different
 * checksum, missing requirements, or a version lower than the highest
 * applied one when that is not allowed (else the job is flagged).
 */
static const char *
check_applicable(MigrationJob *job)
{
	MigrationRow row;

	row = get_migration(job->version);
	if (row.found && strcmp(row.state, "applied") == 0)
	{
		if (row.checksum == NULL || strcmp(row.checksum, job->checksum) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_MIGRATE_CHECKSUM_MISMATCH),
					 errmsg("migration %s was already applied with a different checksum", job->version),
					 errdetail("Recorded checksum: %s. Checksum of the script given: %s.",
							   row.checksum ? row.checksum : "(none)", job->checksum),
					 errhint("The applied migration was edited afterwards. Restore the original file, or if the edit is intended and harmless, realign the record with migrate.repair('%s', <script>, <reason>).",
							 job->version)));
		ereport(NOTICE,
				(errmsg("migration %s is already applied, skipping", job->version)));
		return "already_applied";
	}
	if (row.found && strcmp(row.state, "baselined") == 0)
	{
		ereport(NOTICE,
				(errmsg("migration %s is the baseline, skipping", job->version)));
		return "already_applied";
	}
	if (!row.found)
	{
		Datum		v[1] = {CStringGetTextDatum(job->version)};

		bk_exec(BK_BASELINE_COVERS, v, NULL, 1);
		if (SPI_processed > 0)
		{
			ereport(NOTICE,
					(errmsg("migration %s is at or below the baseline %s, skipping",
							job->version, bk_text(1))));
			return "already_applied";
		}
	}

	if (job->requires != NIL)
	{
		Datum		v[1] = {list_to_text_array(job->requires)};
		char	   *missing;

		bk_exec(BK_MISSING_REQS, v, NULL, 1);
		missing = bk_text(1);
		if (missing)
			ereport(ERROR,
					(errcode(ERRCODE_MIGRATE_MISSING_REQUIREMENT),
					 errmsg("migration %s requires migrations that are not applied: %s",
							job->version, missing),
					 errhint("Apply the required migrations first.")));
	}

	{
		Datum		v[1] = {CStringGetTextDatum(job->version)};
		char	   *higher;

		bk_exec(BK_HIGHER, v, NULL, 1);
		higher = bk_text(1);
		if (higher)
		{
			if (!migrate_allow_out_of_order)
				ereport(ERROR,
						(errcode(ERRCODE_MIGRATE_OUT_OF_ORDER),
						 errmsg("migration %s is lower than the highest applied version %s",
								job->version, higher),
						 errdetail("Versions are applied in natural order (digit runs compare as numbers)."),
						 errhint("To apply it anyway, SET migrate.allow_out_of_order = on; it will be flagged out_of_order.")));
			job->out_of_order = true;
		}
	}

	return NULL;
}

PG_FUNCTION_INFO_V1(migrate_apply);
/* SQL: migrate.apply(version, name, script, down_script, requires, verify_script) */
Datum
migrate_apply(PG_FUNCTION_ARGS)
{
	return refusal_recorded(apply_impl, "migrate.apply", fcinfo);
}

/* migrate.apply itself. */
static Datum
apply_impl(PG_FUNCTION_ARGS)
{
	MigrationJob job = {0};
	const char *result;

	job.version = migrate_text_arg(fcinfo, 0, "version", false, false);
	job.name = migrate_text_arg(fcinfo, 1, "name", false, false);
	job.script = migrate_text_arg(fcinfo, 2, "script", false, false);
	job.down = migrate_text_arg(fcinfo, 3, "down_script", true, false);
	job.verify = migrate_text_arg(fcinfo, 5, "verify_script", true, false);
	migrate_check_version(job.version);
	job.requires = requires_list(fcinfo, 4, job.version);
	migrate_check_writable("migrate.apply");
	check_not_nested("migrate.apply");

	/* parse and classify everything before anything runs */
	job.checksum = migrate_checksum_cstring(job.script, strlen(job.script));
	job.stmts = parse_migration_script(job.script, "script", job.version, NULL);
	script_check_transactional(job.stmts, "script", false);
	if (job.down)
	{
		List	   *down_stmts = parse_migration_script(job.down, "down script", job.version, NULL);

		/*
		 * A down script that cannot run in a transaction (DROP INDEX
		 * CONCURRENTLY) is stored: revert refuses it and pg_migrate down
		 * runs it outside a transaction (record_reverted).
		 */
		script_check_transactional(down_stmts, "down script", true);
	}
	if (job.verify)
		job.checks = parse_verify_script(job.verify);
	job.actor = current_actor();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	job.lock_wait_ms = lock_migrations();

	result = check_applicable(&job);
	if (result)
		RETURN_RESULT(result);

	job.lint_json = lint_migration(job.version, job.script, job.stmts, true);
	run_as_current_migration(apply_job, &job);
	RETURN_RESULT("applied");
}

/* record_applied: the verify checks hold now, then the row and entry as for an apply. */
static void
record_job(MigrationJob *job)
{
	if (job->checks != NIL)
		run_verify_strict(job->version, job->checks);
	record_apply(job, GetCurrentTimestamp() - (TimestampTz) (job->recorded_ms * 1000.0),
				 job->recorded_ms, job->recorded_stmts, 0, InvalidXLogRecPtr, InvalidXLogRecPtr,
				 "recorded_from", job->recorded_from);
}

/*
 * The caller's details argument of record_applied/record_reverted as JSON
 * text (NULL when NULL), after checking it and the duration and count.
 */
static char *
recorded_details(FunctionCallInfo fcinfo, int argno, double ms, int32 nstmts)
{
	char	   *details = NULL;

	if (!PG_ARGISNULL(argno))
	{
		Jsonb	   *jb = PG_GETARG_JSONB_P(argno);

		if (!JB_ROOT_IS_OBJECT(jb))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("details must be a JSON object"),
					 errhint("Pass e.g. '{\"client\": \"pg_migrate\"}', or leave it out.")));
		details = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	}
	if (ms < 0 || isnan(ms) || nstmts < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("execution_ms and statement_count must be zero or more"),
				 errhint("Pass what the statements took, or leave them out.")));
	return details;
}

static Datum record_applied_impl(PG_FUNCTION_ARGS);

PG_FUNCTION_INFO_V1(migrate_record_applied);
/*
 * SQL: migrate.record_applied(version, name, checksum, script, down_script,
 * verify_script, requires, execution_ms, statement_count, details)
 */
Datum
migrate_record_applied(PG_FUNCTION_ARGS)
{
	return refusal_recorded(record_applied_impl, "migrate.record_applied", fcinfo);
}

/*
 * migrate.record_applied itself: record a migration whose statements the
 * caller ran outside a transaction (pg_migrate, for CREATE INDEX
 * CONCURRENTLY and the like), with the checks, row, history entry, chain
 * and event of migrate.apply.
 */
static Datum
record_applied_impl(PG_FUNCTION_ARGS)
{
	MigrationJob job = {0};
	const char *result;
	double		ms;
	int32		nstmts;
	char	   *details = NULL;

	job.version = migrate_text_arg(fcinfo, 0, "version", false, false);
	job.name = migrate_text_arg(fcinfo, 1, "name", false, false);
	job.checksum = migrate_text_arg(fcinfo, 2, "checksum", false, false);
	job.script = migrate_text_arg(fcinfo, 3, "script", true, false);
	job.down = migrate_text_arg(fcinfo, 4, "down_script", true, false);
	job.verify = migrate_text_arg(fcinfo, 5, "verify_script", true, false);
	migrate_check_version(job.version);
	job.requires = requires_list(fcinfo, 6, job.version);
	ms = PG_ARGISNULL(7) ? 0 : PG_GETARG_FLOAT8(7);
	nstmts = PG_ARGISNULL(8) ? 0 : PG_GETARG_INT32(8);
	details = recorded_details(fcinfo, 9, ms, nstmts);
	if (strlen(job.checksum) != 64 || strspn(job.checksum, "0123456789abcdef") != 64)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("checksum \"%s\" is not a migrate_ext checksum", job.checksum),
				 errdetail("A checksum is 64 lower-case hexadecimal digits (SHA-256 of the script)."),
				 errhint("Compute it with migrate.checksum(script).")));
	if (job.script)
	{
		char	   *actual = migrate_checksum_cstring(job.script, strlen(job.script));

		if (strcmp(actual, job.checksum) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_MIGRATE_CHECKSUM_MISMATCH),
					 errmsg("checksum of migration %s does not match its script", job.version),
					 errdetail("Checksum given: %s. Checksum of the script given: %s.",
							   job.checksum, actual),
					 errhint("Pass migrate.checksum(script), or leave the script out.")));
		job.stmts = parse_migration_script(job.script, "script", job.version, NULL);
	}
	if (job.verify)
		job.checks = parse_verify_script(job.verify);
	migrate_check_writable("migrate.record_applied");
	check_not_nested("migrate.record_applied");
	job.actor = current_actor();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	job.recorded_ms = ms;
	job.recorded_stmts = nstmts;
	job.recorded_from = details ? details : "{}";
	job.lock_wait_ms = lock_migrations();
	result = check_applicable(&job);
	if (result)
		RETURN_RESULT(result);
	/* the statements already ran: the findings are stored, nothing is refused */
	if (job.script)
		job.lint_json = lint_migration(job.version, job.script, job.stmts, false);
	run_as_current_migration(record_job, &job);
	RETURN_RESULT("recorded");
}

static Datum lint_gate_impl(PG_FUNCTION_ARGS);

PG_FUNCTION_INFO_V1(migrate_lint_gate);
/* SQL: migrate.lint_gate(version, script) */
Datum
migrate_lint_gate(PG_FUNCTION_ARGS)
{
	return refusal_recorded(lint_gate_impl, "migrate.lint_gate", fcinfo);
}

/*
 * migrate.lint_gate itself: the lint policy of migrate.apply (WARNINGs, and
 * under migrate.lint_level = error the MG015 refusal) for a script the
 * caller is about to run outside a transaction (pg_migrate); returns the
 * findings as jsonb, as apply stores them.
 */
static Datum
lint_gate_impl(PG_FUNCTION_ARGS)
{
	const char *version = migrate_text_arg(fcinfo, 0, "version", false, false);
	const char *script = migrate_text_arg(fcinfo, 1, "script", false, false);
	MemoryContext outer = CurrentMemoryContext;
	List	   *stmts;
	const char *json;
	Datum		result;

	migrate_check_version(version);
	stmts = parse_migration_script(script, "script", version, "Pass the script the migration is about to run.");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	json = lint_migration(version, script, stmts, true);
	/* the findings live in SPI's memory: build the result outside it */
	MemoryContextSwitchTo(outer);
	result = DirectFunctionCall1(jsonb_in, CStringGetDatum(json));
	SPI_finish();
	PG_RETURN_DATUM(result);
}

PG_FUNCTION_INFO_V1(migrate_revert);
/* SQL: migrate.revert(version) */
Datum
migrate_revert(PG_FUNCTION_ARGS)
{
	return refusal_recorded(revert_impl, "migrate.revert", fcinfo);
}

/*
 * The checks before reverting job->version (revert and record_reverted):
 * applied, has a down script, nothing applied requires it.  Fills in the
 * job's name, checksum, role and search_path; returns the down script.
 */
static char *
check_revertable(MigrationJob *job)
{
	MigrationRow row;
	char	   *dependents;
	Datum		v[1];

	row = get_migration(job->version);
	if (!row.found)
		ereport(ERROR,
				(errcode(ERRCODE_MIGRATE_NOT_FOUND),
				 errmsg("migration %s is not recorded", job->version),
				 errhint("migrate.status() lists the recorded migrations.")));
	if (strcmp(row.state, "applied") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_MIGRATE_NOT_FOUND),
				 errmsg("migration %s is not applied (its state is %s)", job->version, row.state),
				 errhint("Only applied migrations can be reverted.")));
	if (row.down_script == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_MIGRATE_NO_DOWN_SCRIPT),
				 errmsg("migration %s has no down script", job->version),
				 errhint("Write and apply a new migration that undoes it.")));
	v[0] = CStringGetTextDatum(job->version);
	bk_exec(BK_DEPENDENTS, v, NULL, 1);
	dependents = bk_text(1);
	if (dependents)
		ereport(ERROR,
				(errcode(ERRCODE_MIGRATE_HAS_DEPENDENTS),
				 errmsg("migration %s is required by applied migrations: %s", job->version, dependents),
				 errhint("Revert those migrations first.")));

	job->name = row.name;
	job->checksum = row.checksum;
	job->run_as = applier_role(&row, job->version);
	job->search_path = row.search_path;
	return row.down_script;
}

/* migrate.revert itself. */
static Datum
revert_impl(PG_FUNCTION_ARGS)
{
	MigrationJob job = {0};
	char	   *down;

	job.version = migrate_text_arg(fcinfo, 0, "version", false, false);
	migrate_check_writable("migrate.revert");
	check_not_nested("migrate.revert");
	job.actor = current_actor();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	job.lock_wait_ms = lock_migrations();

	down = check_revertable(&job);
	job.stmts = script_parse(down, "down script");
	script_check_transactional(job.stmts, "down script", false);

	run_as_current_migration(revert_job, &job);
	RETURN_RESULT("reverted");
}

static Datum record_reverted_impl(PG_FUNCTION_ARGS);

PG_FUNCTION_INFO_V1(migrate_record_reverted);
/* SQL: migrate.record_reverted(version, execution_ms, statement_count, details) */
Datum
migrate_record_reverted(PG_FUNCTION_ARGS)
{
	return refusal_recorded(record_reverted_impl, "migrate.record_reverted", fcinfo);
}

/*
 * migrate.record_reverted itself: record that the caller (pg_migrate) ran
 * the stored down script of an applied migration outside a transaction,
 * with the checks, state change, history entry, chain and event of
 * migrate.revert.
 */
static Datum
record_reverted_impl(PG_FUNCTION_ARGS)
{
	MigrationJob job = {0};

	job.version = migrate_text_arg(fcinfo, 0, "version", false, false);
	job.recorded_ms = PG_ARGISNULL(1) ? 0 : PG_GETARG_FLOAT8(1);
	job.recorded_stmts = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2);
	job.recorded_from = recorded_details(fcinfo, 3, job.recorded_ms, job.recorded_stmts);
	if (job.recorded_from == NULL)
		job.recorded_from = "{}";
	migrate_check_writable("migrate.record_reverted");
	check_not_nested("migrate.record_reverted");
	job.actor = current_actor();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	job.lock_wait_ms = lock_migrations();
	(void) check_revertable(&job);
	run_as_current_migration(record_revert_job, &job);
	RETURN_RESULT("recorded");
}

PG_FUNCTION_INFO_V1(migrate_baseline);
/* SQL: migrate.baseline(version, name) */
Datum
migrate_baseline(PG_FUNCTION_ARGS)
{
	char	   *version = migrate_text_arg(fcinfo, 0, "version", false, false);
	char	   *name = migrate_text_arg(fcinfo, 1, "name", false, false);
	Actor		actor;
	int64		n;
	bool		isnull;

	migrate_check_version(version);
	migrate_check_writable("migrate.baseline");
	check_not_nested("migrate.baseline");
	actor = current_actor();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) lock_migrations();

	bk_exec(BK_COUNT, NULL, NULL, 1);
	n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (n > 0)
		ereport(ERROR,
				(errcode(ERRCODE_MIGRATE_BASELINE_REFUSED),
				 errmsg_plural("cannot baseline: %lld migration is already recorded",
							   "cannot baseline: %lld migrations are already recorded",
							   n, (long long) n),
				 errdetail("A baseline marks an existing database that has no recorded migrations."),
				 errhint("Use migrate.status() to see what is recorded.")));
	{
		Datum		v[5] = {
			CStringGetTextDatum(version), CStringGetTextDatum(name),
			CStringGetTextDatum(actor.session_user), CStringGetTextDatum(actor.current_user),
			CStringGetTextDatum(actor.application_name)
		};

		bk_exec(BK_BASELINE, v, NULL, 0);
	}
	write_history("baseline", version, name, NULL, NULL, &actor, "{}");
	RETURN_RESULT("baselined");
}

PG_FUNCTION_INFO_V1(migrate_repair);
/* SQL: migrate.repair(version, script, reason) */
Datum
migrate_repair(PG_FUNCTION_ARGS)
{
	char	   *version = migrate_text_arg(fcinfo, 0, "version", false, false);
	char	   *script = migrate_text_arg(fcinfo, 1, "script", false, false);
	char	   *reason = migrate_text_arg(fcinfo, 2, "reason", false, false);
	char	   *checksum;
	List	   *stmts;
	MigrationRow row;
	Actor		actor;
	StringInfoData details;

	migrate_check_writable("migrate.repair");
	check_not_nested("migrate.repair");
	actor = current_actor();

	/* the realigned script must be one migrate.apply would accept */
	stmts = script_parse(script, "script");
	if (stmts == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("script contains no SQL statement")));
	script_check_transactional(stmts, "script", false);
	checksum = migrate_checksum_cstring(script, strlen(script));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) lock_migrations();

	row = get_migration(version);
	if (!row.found)
		ereport(ERROR,
				(errcode(ERRCODE_MIGRATE_NOT_FOUND),
				 errmsg("migration %s is not recorded", version),
				 errhint("migrate.status() lists the recorded migrations.")));
	if (strcmp(row.state, "applied") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_MIGRATE_NOT_FOUND),
				 errmsg("migration %s is not applied (its state is %s)", version, row.state),
				 errhint("Only the checksum of an applied migration can be repaired.")));
	if (row.checksum != NULL && strcmp(row.checksum, checksum) == 0)
	{
		ereport(NOTICE,
				(errmsg("checksum of migration %s already matches, nothing to repair", version)));
		RETURN_RESULT("unchanged");
	}
	{
		Datum		v[3] = {CStringGetTextDatum(version), CStringGetTextDatum(checksum),
		CStringGetTextDatum(script)};

		bk_exec(BK_REPAIR, v, NULL, 0);
	}
	initStringInfo(&details);
	appendStringInfoChar(&details, '{');
	json_add_str(&details, "reason", reason);
	appendStringInfoChar(&details, '}');
	write_history("repair", version, row.name, checksum, row.checksum, &actor, details.data);
	RETURN_RESULT("repaired");
}

/* One verify check, for migrate_subxact. */
typedef struct CheckTry
{
	ScriptStmt *st;
	char	   *failure;		/* NULL: passed */
} CheckTry;

/* migrate_subxact callback: evaluate the check. */
static void
check_try(void *arg)
{
	CheckTry   *t = (CheckTry *) arg;

	t->failure = eval_check(t->st);
}

PG_FUNCTION_INFO_V1(migrate_verify);
/* SQL: migrate.verify(version): each check in a subtransaction, reported */
Datum
migrate_verify(PG_FUNCTION_ARGS)
{
	char	   *version = migrate_text_arg(fcinfo, 0, "version", false, false);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MigrationRow row;
	List	   *checks;
	ListCell   *lc;
	Oid			run_as;
	int			nest;
	Oid			save_userid;
	int			save_sec_context;

	migrate_materialize_srf(fcinfo);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	row = get_migration(version);
	if (!row.found)
		ereport(ERROR,
				(errcode(ERRCODE_MIGRATE_NOT_FOUND),
				 errmsg("migration %s is not recorded", version),
				 errhint("migrate.status() lists the recorded migrations.")));
	if (row.verify_script == NULL)
	{
		ereport(NOTICE,
				(errmsg("migration %s has no verify checks", version)));
		SPI_finish();
		return (Datum) 0;
	}
	checks = parse_verify_script(row.verify_script);

	/* like the down script: as the applier, with the recorded search_path */
	run_as = applier_role(&row, version);
	nest = NewGUCNestLevel();
	if (row.search_path)
		save_guc("search_path", row.search_path);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(run_as, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);

	foreach(lc, checks)
	{
		CheckTry	t = {(ScriptStmt *) lfirst(lc), NULL};
		ScriptStmt *st = t.st;
		char	   *failure;
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		ErrorData  *edata = migrate_subxact(check_try, &t, true);

		failure = t.failure;
		if (edata)
		{
			/* a cancel or timeout ends the whole call, as in PL/pgSQL */
			if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
				ReThrowError(edata);
			failure = psprintf("error %s: %s", unpack_sql_state(edata->sqlerrcode),
							   edata->message);
		}

		values[0] = Int32GetDatum(st->no);
		values[1] = CStringGetTextDatum(st->sql);
		values[2] = BoolGetDatum(failure == NULL);
		values[3] = CStringGetTextDatum(failure ? failure : "ok");
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	SetUserIdAndSecContext(save_userid, save_sec_context);
	AtEOXact_GUC(true, nest);
	SPI_finish();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(migrate_guard_bookkeeping);
/* Trigger: refuse UPDATE, DELETE, TRUNCATE not made by this file. */
Datum
migrate_guard_bookkeeping(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *op;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("migrate.guard_bookkeeping() must be called as a trigger")));

	if (bookkeeping_write)
	{
		if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
			return PointerGetDatum(trigdata->tg_newtuple);
		if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
			return PointerGetDatum(trigdata->tg_trigtuple);
		return PointerGetDatum(NULL);
	}

	op = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? "UPDATE" :
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ? "DELETE" :
		TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event) ? "TRUNCATE" : "change";
	ereport(ERROR,
			(errcode(ERRCODE_MIGRATE_HISTORY_READ_ONLY),
			 errmsg("%s of migrate.%s is not allowed", op,
					RelationGetRelationName(trigdata->tg_relation)),
			 errdetail("The migration history is written only by migrate_ext's functions, so it can be trusted."),
			 errhint("Use migrate.apply, migrate.revert, migrate.baseline or migrate.repair.")));
	PG_RETURN_NULL();
}

PG_FUNCTION_INFO_V1(migrate_chain_link_sql);
/* SQL: migrate.chain_link(prev_hash, action, version, checksum) */
Datum
migrate_chain_link_sql(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(migrate_chain_link(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)),
														text_to_cstring(PG_GETARG_TEXT_PP(1)),
														text_to_cstring(PG_GETARG_TEXT_PP(2)),
														PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3)))));
}

PG_FUNCTION_INFO_V1(migrate_checksum);
/* SQL: migrate.checksum(script) */
Datum
migrate_checksum(PG_FUNCTION_ARGS)
{
	text	   *script = PG_GETARG_TEXT_PP(0);

	PG_RETURN_TEXT_P(cstring_to_text(migrate_checksum_cstring(VARDATA_ANY(script),
															  VARSIZE_ANY_EXHDR(script))));
}

PG_FUNCTION_INFO_V1(migrate_version_key);
/* SQL: migrate.version_key(version) */
Datum
migrate_version_key(PG_FUNCTION_ARGS)
{
	text	   *v = PG_GETARG_TEXT_PP(0);

	PG_RETURN_BYTEA_P(migrate_version_key_bytes(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v)));
}

PG_FUNCTION_INFO_V1(migrate_version_compare);
/* SQL: migrate.version_compare(a, b) */
Datum
migrate_version_compare(PG_FUNCTION_ARGS)
{
	text	   *a = PG_GETARG_TEXT_PP(0);
	text	   *b = PG_GETARG_TEXT_PP(1);

	PG_RETURN_INT32(migrate_version_cmp(VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a),
										VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b)));
}
