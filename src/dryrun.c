/*-------------------------------------------------------------------------
 * dryrun.c
 *	  migrate.dry_run: run a script for real in a subtransaction, record each
 *	  statement's time, rows and locks, then roll everything back.
 *
 * The statements run as migrate.apply runs them: the same parser and
 * classification, the migration's lock_timeout and statement_timeout (GUC
 * level from push_migration_gucs, statement_timeout armed per statement),
 * the caller's privileges.  They run inside one internal subtransaction
 * that is always rolled back.  The first error ends the run: it is
 * reported in that statement's row, not raised, and later statements are
 * not run.  A statement migrate.apply would refuse (transaction control,
 * statements that cannot run in a transaction block, COPY FROM STDIN) is
 * not run either: its row says why, and the run stops there.
 *
 * Locks: before and after each statement this backend's relation locks
 * are read from the lock manager (GetLockStatusData, which includes
 * fast-path locks).  The modes held after the statement that were not held
 * before it are the ones it acquired; each relation is reported once, with
 * the strongest of them.  A mode the transaction already held (taken by
 * the caller earlier in its transaction, or by an earlier statement of the
 * script) is not acquired again, so it is not reported.  Relations in
 * pg_catalog, pg_toast and information_schema are left out.  A relation
 * that existed before the statement is named as it was then (so a renamed,
 * moved or dropped relation keeps the name the script used); one the
 * statement created is named as it is now.
 *
 * Sequences: a rollback does not undo nextval() and setval().  Before the
 * run, the state (last_value, is_called) of every sequence the caller may
 * read is recorded.  It is read with SELECT, not pg_sequence_last_value():
 * that takes a lock owned by the top-level transaction, which would stay
 * on every sequence until the caller's transaction ends and hide the locks
 * the script's nextval() calls take.  nextval() and setval() take exactly
 * such a lock, so after the rollback the sequences the script used are the
 * ones this backend still holds a lock on; each of them whose state
 * changed is put back with setval(), and a NOTICE lists them.  PostgreSQL
 * cannot undo nextval(): a concurrent session taking values from the same
 * sequence during the dry run is affected by the restore and may be handed
 * the same values again (and one the caller's own transaction used before
 * the dry run is restored if another session advanced it meanwhile).
 * Sequences the caller cannot SELECT are not recorded, and those it cannot
 * UPDATE (setval) cannot be restored: they keep what the script did to
 * them and a WARNING lists them.  currval() and lastval() are session
 * state that cannot be put back: after a restore, currval() of the
 * sequence returns its restored value.
 *
 * Session state outside the transaction (session-level advisory locks,
 * prepared statements) is not rolled back.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "context.h"
#include "errors.h"
#include "lockwatch.h"
#include "migrations.h"
#include "script.h"
#include "migrate_ext.h"
#include "util.h"

/* A relation this backend holds locks on, with the modes held. */
typedef struct RelLock
{
	Oid			relid;
	LOCKMASK	mask;
} RelLock;

/* This backend's relation locks at one moment, one entry per relation. */
typedef struct RelLockSet
{
	int			n;
	RelLock    *locks;			/* sorted by relid */
} RelLockSet;

/* One row of the result. */
typedef struct DryRunRow
{
	int			no;
	const char *command;
	bool		has_ms;			/* the statement ran (until done or error) */
	double		ms;
	bool		ok;				/* it ran without error: rows, locks known */
	uint64		rows;
	Datum		locks;			/* text[] */
	char	   *error;			/* NULL on success */
} DryRunRow;

/* The run in progress; palloc'd, so that it is intact after a longjmp. */
typedef struct DryRun
{
	List	   *stmts;
	MemoryContext cxt;			/* the rows live here */
	MemoryContext scratch;		/* lock data of one statement */
	List	   *rows;			/* DryRunRow */
	ScriptStmt *cur;			/* statement being run, NULL between */
	TimestampTz started;		/* when it started */
	StmtTimer	timer;
	Snapshot	before;			/* the catalog just before it */
	bool		failed;			/* an error ended the run */
} DryRun;

/* State of one sequence. */
typedef struct SeqState
{
	Oid			relid;
	int64		last_value;
	bool		is_called;
} SeqState;

/* Sequences recorded before the run. */
typedef struct SeqSnapshot
{
	int			n;
	SeqState   *seqs;			/* sorted by relid */
	RelLockSet	held;			/* this backend's locks when the run began */
	Oid		   *oids;			/* readable sequences, while recording */
	int			noids;
	int			batch_start;	/* the batch being recorded */
} SeqSnapshot;

/* sequences read per subtransaction (each read holds a lock until its end) */
#define SEQ_BATCH 100

/* Finding the recorded sequences the script changed. */
typedef struct SeqCheck
{
	SeqSnapshot *snap;
	RelLockSet	held;			/* this backend's locks after the rollback */
	List	   *changed;		/* indexes into snap->seqs */
} SeqCheck;

/* qsort/bsearch comparator: RelLock by relid. */
static int
rellock_cmp(const void *a, const void *b)
{
	Oid			x = ((const RelLock *) a)->relid;
	Oid			y = ((const RelLock *) b)->relid;

	return (x > y) - (x < y);
}

/* qsort comparator: C strings. */
static int
cstring_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * This backend's locks on relations of this database, from the lock
 * manager (main table and fast-path slots), one entry per relation.
 */
static RelLockSet
my_relation_locks(void)
{
	LockData   *data = GetLockStatusData();
	RelLockSet	set;
	int			n = 0;

	set.locks = palloc(sizeof(RelLock) * (data->nelements + 1));
	for (int i = 0; i < data->nelements; i++)
	{
		LockInstanceData *inst = &data->locks[i];

		if (inst->pid != MyProcPid ||
			inst->locktag.locktag_type != LOCKTAG_RELATION ||
			inst->locktag.locktag_field1 != MyDatabaseId ||
			inst->holdMask == 0)
			continue;
		set.locks[n].relid = (Oid) inst->locktag.locktag_field2;
		set.locks[n].mask = inst->holdMask;
		n++;
	}
	qsort(set.locks, n, sizeof(RelLock), rellock_cmp);

	/* a relation can have some modes fast-path and others in the table */
	set.n = 0;
	for (int i = 0; i < n; i++)
	{
		if (set.n > 0 && set.locks[set.n - 1].relid == set.locks[i].relid)
			set.locks[set.n - 1].mask |= set.locks[i].mask;
		else
			set.locks[set.n++] = set.locks[i];
	}
	return set;
}

/* Modes held on a relation in a lock set (0 if none). */
static LOCKMASK
lockset_mask(const RelLockSet *set, Oid relid)
{
	RelLock		key;
	RelLock    *found;

	if (set->n == 0)
		return 0;
	key.relid = relid;
	found = bsearch(&key, set->locks, set->n, sizeof(RelLock), rellock_cmp);
	return found ? found->mask : 0;
}

/* Name and namespace of a relation in the pg_class a snapshot sees. */
static bool
class_as_of(Oid relid, Snapshot snap, char **relname, Oid *nspid)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	rel = table_open(RelationRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_class_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, ClassOidIndexId, true, snap, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		Form_pg_class form = (Form_pg_class) GETSTRUCT(tup);

		*relname = pstrdup(NameStr(form->relname));
		*nspid = form->relnamespace;
		found = true;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/* Name of a namespace in the pg_namespace a snapshot sees, or NULL. */
static char *
namespace_as_of(Oid nspid, Snapshot snap)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *name = NULL;

	rel = table_open(NamespaceRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_namespace_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(nspid));
	scan = systable_beginscan(rel, NamespaceOidIndexId, true, snap, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		name = pstrdup(NameStr(((Form_pg_namespace) GETSTRUCT(tup))->nspname));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return name;
}

/*
 * Quoted "schema.name" of a relation: its current name or, if it is gone,
 * the one it had in the snapshot "before" (if given).  Our own temporary
 * schema is called pg_temp.  NULL for relations in pg_catalog, pg_toast
 * and information_schema; "relation <oid>" if it cannot be named.
 */
static char *
relation_label(Oid relid, Snapshot before)
{
	char	   *relname = NULL;
	Oid			nspid = InvalidOid;
	char	   *nspname;

	/*
	 * Named as it was before the statement when it existed then, so a
	 * renamed, moved or dropped relation keeps the name the script used;
	 * otherwise (created by the statement) by its current name.
	 */
	if (before == NULL || !class_as_of(relid, before, &relname, &nspid))
	{
		relname = get_rel_name(relid);
		if (relname == NULL)
			return psprintf("relation %u", relid);
		nspid = get_rel_namespace(relid);
	}

	if (nspid == PG_CATALOG_NAMESPACE || IsToastNamespace(nspid))
		return NULL;
	if (isTempNamespace(nspid))
		nspname = "pg_temp";
	else
	{
		nspname = get_namespace_name(nspid);
		if (nspname == NULL && before != NULL)
			nspname = namespace_as_of(nspid, before);
		if (nspname == NULL)
			return psprintf("relation %u", relid);
	}
	/* the extension's own bookkeeping (the DDL ledger, ...) is not the script's doing */
	if (strcmp(nspname, "information_schema") == 0 ||
		strncmp(nspname, "pg_toast", 8) == 0 ||
		strcmp(nspname, MIGRATE_SCHEMA) == 0)
		return NULL;
	return quote_qualified_identifier(nspname, relname);
}

/*
 * The locks a statement acquired, as a sorted text[] of "schema.name:
 * LockMode" built in cxt: for each relation, the strongest of the modes
 * held after it and not before it.
 */
static Datum
acquired_locks(const RelLockSet *before, const RelLockSet *after,
			   Snapshot catalog_before, MemoryContext cxt)
{
	char	  **items = palloc(sizeof(char *) * (after->n + 1));
	int			n = 0;
	Datum	   *elems;
	MemoryContext oldcxt;
	Datum		result;

	for (int i = 0; i < after->n; i++)
	{
		Oid			relid = after->locks[i].relid;
		LOCKMASK	acquired = after->locks[i].mask & ~lockset_mask(before, relid);
		LOCKMODE	mode;
		char	   *label;

		if (acquired == 0)
			continue;
		label = relation_label(relid, catalog_before);
		if (label == NULL)
			continue;
		for (mode = MaxLockMode; mode > NoLock; mode--)
			if (acquired & LOCKBIT_ON(mode))
				break;
		items[n++] = psprintf("%s: %s", label, GetLockmodeName(DEFAULT_LOCKMETHOD, mode));
	}
	qsort(items, n, sizeof(char *), cstring_cmp);

	oldcxt = MemoryContextSwitchTo(cxt);
	if (n == 0)
		result = PointerGetDatum(construct_empty_array(TEXTOID));
	else
	{
		elems = palloc(sizeof(Datum) * n);
		for (int i = 0; i < n; i++)
			elems[i] = CStringGetTextDatum(items[i]);
		result = PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
	}
	MemoryContextSwitchTo(oldcxt);
	return result;
}

/*
 * Run fn(arg) in a subtransaction that is then rolled back, releasing the
 * locks it took; an error is rethrown after the rollback.
 */
static void
run_rolled_back(void (*fn) (void *arg), void *arg)
{
	ErrorData  *edata = migrate_subxact(fn, arg, false);

	if (edata)
		ReThrowError(edata);
}

/* Read a sequence's last_value and is_called (SELECT privilege needed). */
static void
read_sequence(Oid relid, SeqState *state)
{
	char	   *rel = get_rel_name(relid);
	Oid			nspid = get_rel_namespace(relid);
	char	   *nsp;
	char	   *sql;
	bool		isnull;

	if (rel == NULL)
		elog(ERROR, "cache lookup failed for relation %u", relid);
	nsp = isTempNamespace(nspid) ? "pg_temp" : get_namespace_name(nspid);
	if (nsp == NULL)
		elog(ERROR, "cache lookup failed for namespace %u", nspid);
	sql = psprintf("SELECT last_value, is_called FROM %s",
				   quote_qualified_identifier(nsp, rel));
	if (SPI_execute(sql, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read sequence %s", quote_qualified_identifier(nsp, rel));
	state->relid = relid;
	state->last_value = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 1, &isnull));
	state->is_called = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 2, &isnull));
	SPI_freetuptable(SPI_tuptable);
	pfree(sql);
}

/* List the sequences the caller can read (in a rolled-back subtransaction). */
static void
sequences_list(void *arg)
{
	SeqSnapshot *snap = (SeqSnapshot *) arg;
	int			n;

	if (SPI_execute("SELECT c.oid FROM pg_catalog.pg_class c"
					" WHERE c.relkind OPERATOR(pg_catalog.=) 'S'"
					"   AND NOT pg_catalog.pg_is_other_temp_schema(c.relnamespace)"
					"   AND pg_catalog.has_schema_privilege(c.relnamespace, 'USAGE')"
					/* has_sequence_privilege() errors on other relkinds */
					"   AND pg_catalog.has_table_privilege(c.oid, 'SELECT')"
					" ORDER BY c.oid", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list sequences");
	n = (int) SPI_processed;
	snap->oids = palloc(sizeof(Oid) * (n + 1));
	snap->noids = n;
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		snap->oids[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
													   SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	snap->seqs = palloc(sizeof(SeqState) * (n + 1));
	snap->n = 0;
}

/*
 * Read one batch of sequence states (its locks go with its subtransaction).
 * A sequence another session holds locked is skipped rather than waited
 * for: a script using it would wait for that session anyway.
 */
static void
sequences_read_batch(void *arg)
{
	SeqSnapshot *snap = (SeqSnapshot *) arg;
	int			end = Min(snap->batch_start + SEQ_BATCH, snap->noids);

	for (int i = snap->batch_start; i < end; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (!ConditionalLockRelationOid(snap->oids[i], AccessShareLock))
			continue;
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(snap->oids[i])))
			continue;
		read_sequence(snap->oids[i], &snap->seqs[snap->n++]);
	}
}

/*
 * Record the state of every readable sequence, SEQ_BATCH at a time, each
 * batch in its own rolled-back subtransaction so that the locks the reads
 * take never pile up in the shared lock table.
 */
static void
sequences_record(SeqSnapshot *snap)
{
	run_rolled_back(sequences_list, snap);
	for (snap->batch_start = 0; snap->batch_start < snap->noids;
		 snap->batch_start += SEQ_BATCH)
		run_rolled_back(sequences_read_batch, snap);
	pfree(snap->oids);
	snap->oids = NULL;
}

/*
 * After the run: which recorded sequences did the script change?  Those it
 * used are still locked by this backend (see the file header).
 */
static void
sequences_find_changed(void *arg)
{
	SeqCheck   *check = (SeqCheck *) arg;

	for (int i = 0; i < check->snap->n; i++)
	{
		SeqState   *before = &check->snap->seqs[i];
		SeqState	now;

		if (lockset_mask(&check->held, before->relid) == 0 ||
			!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(before->relid)))
			continue;
		read_sequence(before->relid, &now);
		if (now.last_value != before->last_value || now.is_called != before->is_called)
			check->changed = lappend_int(check->changed, i);
	}
}

/* Was a sequence recorded before the run? */
static bool
sequence_recorded(const SeqSnapshot *snap, Oid relid)
{
	for (int i = 0; i < snap->n; i++)
		if (snap->seqs[i].relid == relid)
			return true;
	return false;
}

/* Join sorted names with ", ". */
static char *
join_sorted(List *names)
{
	int			n = list_length(names);
	char	  **arr = palloc(sizeof(char *) * (n + 1));
	StringInfoData buf;
	int			i = 0;
	ListCell   *lc;

	foreach(lc, names)
		arr[i++] = (char *) lfirst(lc);
	qsort(arr, n, sizeof(char *), cstring_cmp);
	initStringInfo(&buf);
	for (i = 0; i < n; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", arr[i]);
	return buf.data;
}

/*
 * Put back the recorded sequences the script changed, with setval() as the
 * caller, and NOTICE which.  WARNING for those the caller may not update,
 * and for those the script used that could not be recorded (no SELECT
 * privilege: the lock nextval() left was not held when the run began).
 */
static void
restore_sequences(SeqSnapshot *snap)
{
	SeqCheck	check;
	List	   *restored = NIL;
	List	   *refused = NIL;
	ListCell   *lc;

	check.snap = snap;
	check.held = my_relation_locks();
	check.changed = NIL;
	if (snap->n > 0)
		run_rolled_back(sequences_find_changed, &check);

	for (int i = 0; i < check.held.n; i++)
	{
		Oid			relid = check.held.locks[i].relid;

		if (lockset_mask(&snap->held, relid) == 0 &&
			get_rel_relkind(relid) == RELKIND_SEQUENCE &&
			!sequence_recorded(snap, relid))
		{
			char	   *name = relation_label(relid, NULL);

			/* NULL: a system or extension sequence (the DDL ledger's), not the script's */
			if (name != NULL)
				refused = lappend(refused, name);
		}
	}

	foreach(lc, check.changed)
	{
		SeqState   *s = &snap->seqs[lfirst_int(lc)];
		char	   *name = relation_label(s->relid, NULL);
		Oid			argtypes[3] = {REGCLASSOID, INT8OID, BOOLOID};
		Datum		values[3];

		/* NULL: the extension's own (the DDL ledger's ids): put back, not reported */
		bool		own = (name == NULL);

		if (own)
			name = psprintf("relation %u", s->relid);
		if (pg_class_aclcheck(s->relid, GetUserId(), ACL_UPDATE) != ACLCHECK_OK)
		{
			if (!own)
				refused = lappend(refused, name);
			continue;
		}
		values[0] = ObjectIdGetDatum(s->relid);
		values[1] = Int64GetDatum(s->last_value);
		values[2] = BoolGetDatum(s->is_called);
		if (SPI_execute_with_args("SELECT pg_catalog.setval($1, $2, $3)", 3, argtypes,
								  values, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not restore sequence %s", name);
		SPI_freetuptable(SPI_tuptable);
		if (!own)
			restored = lappend(restored, name);
	}

	if (restored != NIL)
		ereport(NOTICE,
				(errmsg_plural("migrate.dry_run restored sequence %s, which the script changed",
							   "migrate.dry_run restored sequences %s, which the script changed",
							   list_length(restored), join_sorted(restored)),
				 errdetail("A rollback does not undo nextval() or setval(); values other sessions took from these sequences during the dry run may be handed out again.")));
	if (refused != NIL)
		ereport(WARNING,
				(errmsg_plural("migrate.dry_run could not restore sequence %s, which the script used",
							   "migrate.dry_run could not restore sequences %s, which the script used",
							   list_length(refused), join_sorted(refused)),
				 errdetail("Restoring a sequence needs the SELECT and UPDATE privileges on it; it keeps the values the script took."),
				 errhint("Dry-run scripts that use sequences as a role that may read and update them.")));
}

/* Append an empty result row for a statement. */
static DryRunRow *
new_row(DryRun *dr, ScriptStmt *st)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(dr->cxt);
	DryRunRow  *row = palloc0(sizeof(DryRunRow));

	row->no = st->no;
	row->command = st->command;
	dr->rows = lappend(dr->rows, row);
	MemoryContextSwitchTo(oldcxt);
	return row;
}

/* Why a statement that migrate.apply would refuse is not run. */
static char *
not_runnable_error(ScriptStmt *st)
{
	switch (st->stmt_class)
	{
		case SCRIPT_STMT_TXN_CONTROL:
			return psprintf("ERROR %s: transaction control statement %s is not allowed in a migration script (not run)",
							unpack_sql_state(ERRCODE_MIGRATE_TRANSACTION_CONTROL), st->why);
		case SCRIPT_STMT_NON_TXN:
			return psprintf("ERROR %s: %s cannot run inside a transaction block (not run)",
							unpack_sql_state(ERRCODE_MIGRATE_NON_TRANSACTIONAL), st->why);
		case SCRIPT_STMT_UNSUPPORTED:
			return psprintf("ERROR %s: %s cannot run inside a migration (not run)",
							unpack_sql_state(ERRCODE_MIGRATE_UNSUPPORTED_STATEMENT), st->why);
		case SCRIPT_STMT_NORMAL:
			break;
	}
	return NULL;
}

/*
 * Run one statement inside the dry run's subtransaction and record its row.
 * Returns false when the statement may not run (its row says why): the run
 * stops.  An error is caught by run_script.
 */
static bool
run_one(DryRun *dr, ScriptStmt *st)
{
	RelLockSet	before;
	RelLockSet	after;
	MemoryContext oldcxt;
	DryRunRow  *row;
	int			rc;
	uint64		rows;
	double		ms;
	Datum		locks;

	if (st->stmt_class != SCRIPT_STMT_NORMAL)
	{
		row = new_row(dr, st);
		row->error = MemoryContextStrdup(dr->cxt, not_runnable_error(st));
		return false;
	}

	dr->cur = st;
	dr->started = GetCurrentTimestamp();
	MemoryContextReset(dr->scratch);
	oldcxt = MemoryContextSwitchTo(dr->scratch);
	/* the catalog as it is now names the relations the statement drops */
	CommandCounterIncrement();
	dr->before = RegisterSnapshot(GetLatestSnapshot());
	before = my_relation_locks();
	MemoryContextSwitchTo(oldcxt);

	dr->started = GetCurrentTimestamp();
	stmt_timer_arm(&dr->timer);
	lockwatch_begin();
	rc = migration_exec_statement(st);
	lockwatch_end();
	stmt_timer_disarm(&dr->timer);
	ms = migrate_elapsed_ms(dr->started, GetCurrentTimestamp());
	if (rc < 0)
		ereport(ERROR,
				(errcode(ERRCODE_MIGRATE_UNSUPPORTED_STATEMENT),
				 errmsg("%s cannot run inside a migration: %s",
						st->command, SPI_result_code_string(rc))));
	rows = migration_rows_affected(st);

	oldcxt = MemoryContextSwitchTo(dr->scratch);
	after = my_relation_locks();
	locks = acquired_locks(&before, &after, dr->before, dr->cxt);
	MemoryContextSwitchTo(oldcxt);
	UnregisterSnapshot(dr->before);
	dr->before = NULL;

	row = new_row(dr, st);
	row->has_ms = true;
	row->ms = ms;
	row->ok = true;
	row->rows = rows;
	row->locks = locks;
	dr->cur = NULL;
	return true;
}

/*
 * Run the statements in a subtransaction that is always rolled back,
 * recording a row per statement.  The first error is recorded in its
 * statement's row (a cancel or statement timeout too) and ends the run.
 */
static void
run_script(DryRun *dr)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		ListCell   *lc;

		/* the migration's timeouts; the subtransaction's rollback pops them */
		(void) push_migration_gucs(dr->stmts, NULL);
		foreach(lc, dr->stmts)
		{
			if (!run_one(dr, (ScriptStmt *) lfirst(lc)))
				break;
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		const char *blockers;
		DryRunRow  *row;

		lockwatch_end();
		stmt_timer_disarm(&dr->timer);
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		/* only a lock_timeout (raised by ProcessInterrupts) has blockers */
		blockers = lockwatch_blockers();
		if (blockers == NULL || edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE ||
			edata->funcname == NULL || strcmp(edata->funcname, "ProcessInterrupts") != 0)
			blockers = NULL;
		else
			blockers = pstrdup(blockers);
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		dr->before = NULL;		/* released with the subtransaction */
		if (dr->cur == NULL)
			ReThrowError(edata);

		row = new_row(dr, dr->cur);
		row->has_ms = true;
		row->ms = migrate_elapsed_ms(dr->started, GetCurrentTimestamp());
		row->error = MemoryContextStrdup(dr->cxt,
										 psprintf("ERROR %s: %s%s%s",
												  unpack_sql_state(edata->sqlerrcode),
												  edata->message ? edata->message : "",
												  blockers ? "; blocked by: " : "",
												  blockers ? blockers : ""));
		FreeErrorData(edata);
		dr->failed = true;
	}
	PG_END_TRY();

	if (!dr->failed)
	{
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
}

PG_FUNCTION_INFO_V1(migrate_dry_run);
/* SQL: migrate.dry_run(script): run it, measure each statement, roll back */
Datum
migrate_dry_run(PG_FUNCTION_ARGS)
{
	char	   *script = migrate_text_arg(fcinfo, 0, "script", false, false);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *stmts;
	DryRun	   *dr;
	SeqSnapshot seqs = {0};
	ListCell   *lc;

	migrate_check_writable("migrate.dry_run");
	if (migrate_context_current() != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_MIGRATE_NESTED),
				 errmsg("migrate.dry_run cannot be called while migration %s is running",
						migrate_context_current()),
				 errhint("Dry-run a script before applying it, not from inside a migration script.")));

	/* a syntax error is raised, as migrate.apply raises it */
	stmts = script_parse(script, "script");
	if (stmts == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("script contains no SQL statement")));

	migrate_materialize_srf(fcinfo);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	dr = palloc0(sizeof(DryRun));
	dr->stmts = stmts;
	dr->cxt = CurrentMemoryContext;
	dr->scratch = AllocSetContextCreate(CurrentMemoryContext, "migrate_ext dry run",
										ALLOCSET_DEFAULT_SIZES);

	sequences_record(&seqs);
	seqs.held = my_relation_locks();
	run_script(dr);
	restore_sequences(&seqs);

	foreach(lc, dr->rows)
	{
		DryRunRow  *row = (DryRunRow *) lfirst(lc);
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};

		values[0] = Int32GetDatum(row->no);
		values[1] = CStringGetTextDatum(row->command);
		if (row->has_ms)
			values[2] = DirectFunctionCall3(numeric_in,
											CStringGetDatum(psprintf("%.3f", Max(row->ms, 0.0))),
											ObjectIdGetDatum(InvalidOid),
											Int32GetDatum(-1));
		else
			nulls[2] = true;
		if (row->ok)
		{
			values[3] = Int64GetDatum((int64) row->rows);
			values[4] = row->locks;
		}
		else
			nulls[3] = nulls[4] = true;
		if (row->error)
			values[5] = CStringGetTextDatum(row->error);
		else
			nulls[5] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	MemoryContextDelete(dr->scratch);
	SPI_finish();
	return (Datum) 0;
}
