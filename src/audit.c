/*-------------------------------------------------------------------------
 * audit.c
 *	  Audit capture: the C row trigger, its per-relation cache, the log
 *	  writer, and audit_enable / audit_disable.
 *
 * Row triggers (AFTER INSERT/UPDATE/DELETE FOR EACH ROW) build the log row
 * straight from the tuples: jsonb from the datums, an UPDATE diffed column
 * by column on the binary datums (an unchanged TOASTed value compares equal
 * without being detoasted), key columns from the relcache's primary-key
 * bitmap.  Everything about a relation comes from a cache keyed by its OID
 * and invalidated by relcache callbacks, so no catalog query runs per row.
 * Rows are buffered for the statement and written by its AFTER ... FOR EACH
 * STATEMENT trigger straight into migrate.audit_log, the way COPY writes
 * (tuple routing, table_multi_insert in batches, index entries): no SQL and
 * no permission check, so writers of an audited table need no right on the
 * log and cannot change it.  Rows buffered in a subtransaction that aborts
 * are dropped.
 *
 * A row moved between partitions fires a DELETE on the old partition (its
 * tuple marked as moved) and an INSERT on the new one, in that order: the
 * two are logged as one UPDATE.  TRUNCATE is logged from a BEFORE TRUNCATE
 * trigger, which can still count (or, with truncate_rows, log) the rows.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "nodes/makefuncs.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/xid8.h"
#include "access/heapam.h"
#include "access/tableam.h"
#include "commands/sequence.h"
#include "executor/execPartition.h"
#include "executor/executor.h"
#include "nodes/execnodes.h"
#include "utils/fmgrprotos.h"

#include <math.h>

#include "audit.h"
#include "events.h"
#include "context.h"
#include "errors.h"
#include "migrate_ext.h"
#include "util.h"

/* GUC migrate.app_user */
char	   *migrate_app_user = NULL;

/* How a column's datums become jsonb values. */
typedef enum ColKind
{
	COL_BOOL,
	COL_INT,
	COL_FLOAT,
	COL_NUMERIC,
	COL_TEXT,
	COL_JSONB,
	COL_OTHER
} ColKind;

/* Everything the trigger needs about one relation (a table or a partition). */
typedef struct AuditRel
{
	Oid			relid;			/* hash key */
	bool		valid;
	MemoryContext cxt;			/* owns everything below */
	Oid			root;			/* the audited table */
	char	   *schema_name;	/* of the audited table */
	char	   *table_name;
	int			natts;
	bool	   *skip;			/* per column: dropped or excluded */
	bool	   *is_key;			/* per column: part of the primary key */
	bool		has_key;
	char	  **attname;
	Oid		   *typid;
	ColKind    *kind;
	FmgrInfo   *tojsonb;		/* to_jsonb, for COL_OTHER columns */
	bool		log_unchanged_updates;
	bool		full_rows;
	bool		truncate_rows;
	List	   *exclude_columns;	/* names, for TRUNCATE with truncate_rows */
	bool	   *last_changed;	/* the columns of the last UPDATE logged */
	Datum		last_names;		/* and their text[] (in cxt) */
} AuditRel;

/* One log row waiting for the end of its statement. */
typedef struct AuditRow
{
	SubTransactionId subid;
	Oid			root;
	const char *schema_name;
	const char *table_name;
	const char *operation;
	Datum		row_key;		/* jsonb, or 0 */
	Datum		old_values;
	Datum		new_values;
	Datum		changed;		/* text[] of changed columns, or 0 */
	TimestampTz statement_at;
	char	   *current_user;
	char	   *app_user;
	const char *migration;
} AuditRow;

static HTAB *audit_rels = NULL;
static MemoryContext buffer_cxt = NULL;
static List *buffer = NIL;		/* AuditRow * */
static AuditRow *pending_move = NULL;	/* DELETE half of a partition move */
static char *session_user_name = NULL;
static Oid	current_user_oid = InvalidOid;	/* whose name current_user_name is */
static List *truncate_covered = NIL;	/* partitions whose rows a TRUNCATE of
										 * their table already counted */
static char *current_user_name = NULL;

/* ---------------------------------------------------------------------
 * Relation cache
 * ---------------------------------------------------------------------
 */

/* Relcache callback: forget what we know about a relation (or all). */
static void
audit_relcache_callback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	AuditRel   *ar;

	if (audit_rels == NULL)
		return;
	hash_seq_init(&status, audit_rels);
	while ((ar = (AuditRel *) hash_seq_search(&status)) != NULL)
		if (relid == InvalidOid || ar->relid == relid || ar->root == relid)
			ar->valid = false;
}

/* The category of a column type. */
static ColKind
col_kind(Oid typid)
{
	switch (typid)
	{
		case BOOLOID:
			return COL_BOOL;
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return COL_INT;
		case FLOAT4OID:
		case FLOAT8OID:
			return COL_FLOAT;
		case NUMERICOID:
			return COL_NUMERIC;
		case TEXTOID:
		case VARCHAROID:
			return COL_TEXT;
		case JSONBOID:
			return COL_JSONB;
		default:
			return COL_OTHER;
	}
}

/* Read a table's audit options (as the owner: the writer may lack rights). */
static void
load_config(AuditRel *ar)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(ar->root)};
	int			rc;
	List	   *excluded = NIL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = migrate_owner_spi("SELECT (SELECT pg_catalog.string_agg(a.attname, pg_catalog.chr(1))"
						   "          FROM pg_catalog.pg_attribute a"
						   "         WHERE a.attrelid OPERATOR(pg_catalog.=) c.relid"
						   "           AND a.attnum OPERATOR(pg_catalog.=) ANY (c.exclude_attnums)),"
						   "       COALESCE((c.options OPERATOR(pg_catalog.->>) 'log_unchanged_updates')::pg_catalog.bool, false),"
						   "       COALESCE((c.options OPERATOR(pg_catalog.->>) 'full_rows')::pg_catalog.bool, false),"
						   "       COALESCE((c.options OPERATOR(pg_catalog.->>) 'truncate_rows')::pg_catalog.bool, false)"
						   "  FROM migrate.audit_config c"
						   " WHERE c.relid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
						   1, argtypes, values, NULL, true, 1, true);

	if (rc == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;
		char	   *ex = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		MemoryContext old = MemoryContextSwitchTo(ar->cxt);

		if (ex && ex[0])
		{
			char	   *tok;
			char	   *save;

			for (tok = strtok_r(pstrdup(ex), "\x01", &save); tok; tok = strtok_r(NULL, "\x01", &save))
				excluded = lappend(excluded, pstrdup(tok));
		}
		ar->exclude_columns = excluded;
		MemoryContextSwitchTo(old);
		ar->log_unchanged_updates = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		ar->full_rows = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
		ar->truncate_rows = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
	}
	SPI_finish();
}

/* Is a column name in the excluded list? */
static bool
is_excluded(AuditRel *ar, const char *name)
{
	ListCell   *lc;

	foreach(lc, ar->exclude_columns)
		if (strcmp((char *) lfirst(lc), name) == 0)
			return true;
	return false;
}

/*
 * The audited table a trigger fires for: its argument, the OID audit_enable
 * saw.  A dump restored elsewhere gives every table a new OID while the
 * argument keeps the old one: then a table that is no partition is its own
 * root, and a partition's root is its topmost ancestor.
 */
static Oid
audit_root(Relation rel, Oid arg)
{
	Oid			relid = RelationGetRelid(rel);

	if (arg == relid)
		return relid;
	if (!rel->rd_rel->relispartition)
		return relid;
	if (get_rel_relkind(arg) == RELKIND_PARTITIONED_TABLE)
		return arg;
	return llast_oid(get_partition_ancestors(relid));
}

/* The cache entry of a relation, built on first use or after invalidation. */
static AuditRel *
audit_rel(Relation rel, Oid root)
{
	Oid			relid = RelationGetRelid(rel);
	AuditRel   *ar;
	bool		found;
	TupleDesc	desc = RelationGetDescr(rel);
	Bitmapset  *pk;
	MemoryContext old;

	if (audit_rels == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(AuditRel);
		ctl.hcxt = CacheMemoryContext;
		audit_rels = hash_create("migrate_ext audited relations", 32, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterRelcacheCallback(audit_relcache_callback, (Datum) 0);
	}
	ar = (AuditRel *) hash_search(audit_rels, &relid, HASH_ENTER, &found);
	if (found && ar->valid && ar->root == root)
		return ar;

	if (found && ar->cxt)
		MemoryContextDelete(ar->cxt);
	memset(((char *) ar) + sizeof(Oid), 0, sizeof(AuditRel) - sizeof(Oid));
	ar->cxt = AllocSetContextCreate(CacheMemoryContext, "migrate_ext audit relation",
									ALLOCSET_SMALL_SIZES);
	ar->root = root;
	load_config(ar);

	old = MemoryContextSwitchTo(ar->cxt);
	ar->schema_name = get_namespace_name(get_rel_namespace(root));
	ar->table_name = get_rel_name(root);
	if (ar->schema_name == NULL || ar->table_name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("audited table %u does not exist", root),
				 errhint("Run migrate.audit_disable or drop the migrate_audit triggers.")));
	ar->natts = desc->natts;
	ar->skip = palloc0(sizeof(bool) * desc->natts);
	ar->is_key = palloc0(sizeof(bool) * desc->natts);
	ar->attname = palloc0(sizeof(char *) * desc->natts);
	ar->kind = palloc0(sizeof(ColKind) * desc->natts);
	ar->typid = palloc0(sizeof(Oid) * desc->natts);
	ar->tojsonb = palloc0(sizeof(FmgrInfo) * desc->natts);
	pk = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_PRIMARY_KEY);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		ar->attname[i] = pstrdup(NameStr(att->attname));
		ar->skip[i] = att->attisdropped || is_excluded(ar, ar->attname[i]);
		if (att->attisdropped)
			continue;
		ar->is_key[i] = bms_is_member(att->attnum - FirstLowInvalidHeapAttributeNumber, pk);
		if (ar->is_key[i])
			ar->has_key = true;
		ar->typid[i] = att->atttypid;
		ar->kind[i] = col_kind(att->atttypid);
		if (ar->kind[i] == COL_OTHER)
		{
			/* to_jsonb itself, told the argument's type through fn_expr */
			fmgr_info_cxt(F_TO_JSONB, &ar->tojsonb[i], ar->cxt);
			ar->tojsonb[i].fn_expr = (Node *)
				makeFuncExpr(F_TO_JSONB, JSONBOID,
							 list_make1(makeNullConst(att->atttypid, att->atttypmod, att->attcollation)),
							 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
		}
	}
	MemoryContextSwitchTo(old);
	ar->valid = true;
	return ar;
}

/* ---------------------------------------------------------------------
 * jsonb from tuples
 * ---------------------------------------------------------------------
 */

/* A jsonb string value. */
static void
string_value(JsonbValue *v, char *str, int len)
{
	v->type = jbvString;
	v->val.string.val = str;
	v->val.string.len = len;
}

/* A jsonb datum as a JsonbValue (scalars unwrapped). */
static void
jsonb_value(JsonbValue *v, Jsonb *j)
{
	if (JB_ROOT_IS_SCALAR(j))
		JsonbExtractScalar(&j->root, v);
	else
	{
		v->type = jbvBinary;
		v->val.binary.data = &j->root;
		v->val.binary.len = VARSIZE(j) - VARHDRSZ;
	}
}

/* Push one column value, as to_jsonb renders it. */
static void
push_value(JsonbParseState **state, AuditRel *ar, int i, Datum d, bool isnull)
{
	JsonbValue	v;

	if (isnull)
	{
		v.type = jbvNull;
		pushJsonbValue(state, WJB_VALUE, &v);
		return;
	}
	switch (ar->kind[i])
	{
		case COL_BOOL:
			v.type = jbvBool;
			v.val.boolean = DatumGetBool(d);
			break;
		case COL_INT:
			v.type = jbvNumeric;
			v.val.numeric = int64_to_numeric(ar->typid[i] == INT2OID ? (int64) DatumGetInt16(d) :
											 ar->typid[i] == INT4OID ? (int64) DatumGetInt32(d) :
											 DatumGetInt64(d));
			break;
		case COL_FLOAT:
			{
				double		f = ar->typid[i] == FLOAT4OID ? (double) DatumGetFloat4(d) : DatumGetFloat8(d);

				if (isnan(f) || isinf(f))
				{
					/* to_jsonb renders these as strings */
					char	   *str = isnan(f) ? "NaN" : (f > 0 ? "Infinity" : "-Infinity");

					string_value(&v, str, strlen(str));
				}
				else
				{
					v.type = jbvNumeric;
					v.val.numeric = DatumGetNumeric(DirectFunctionCall1(float8_numeric, Float8GetDatum(f)));
				}
				break;
			}
		case COL_NUMERIC:
			{
				Numeric		n = DatumGetNumeric(d);

				if (numeric_is_nan(n) || numeric_is_inf(n))
				{
					char	   *str = DatumGetCString(DirectFunctionCall1(numeric_out, d));

					string_value(&v, str, strlen(str));
				}
				else
				{
					v.type = jbvNumeric;
					v.val.numeric = n;
				}
				break;
			}
		case COL_TEXT:
			{
				text	   *t = DatumGetTextPP(d);

				string_value(&v, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
				break;
			}
		case COL_JSONB:
			jsonb_value(&v, DatumGetJsonbP(d));
			break;
		default:
			jsonb_value(&v, DatumGetJsonbP(FunctionCall1(&ar->tojsonb[i], d)));
			break;
	}
	pushJsonbValue(state, WJB_VALUE, &v);
}

/*
 * jsonb object of a tuple's columns: those with include[i] (or all not
 * skipped when include is NULL).
 */
static Datum
tuple_jsonb(AuditRel *ar, HeapTuple tup, TupleDesc desc, const bool *include)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < ar->natts; i++)
	{
		JsonbValue	k;
		bool		isnull;
		Datum		d;

		if (ar->skip[i] || (include && !include[i]))
			continue;
		string_value(&k, ar->attname[i], strlen(ar->attname[i]));
		pushJsonbValue(&state, WJB_KEY, &k);
		d = heap_getattr(tup, i + 1, desc, &isnull);
		push_value(&state, ar, i, d, isnull);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(res));
}

/* The row key: primary-key columns, or the whole row without a key. */
static Datum
tuple_key(AuditRel *ar, HeapTuple tup, TupleDesc desc)
{
	if (!ar->has_key)
		return tuple_jsonb(ar, tup, desc, NULL);
	return tuple_jsonb(ar, tup, desc, ar->is_key);
}

/* ---------------------------------------------------------------------
 * The buffer and the writer
 * ---------------------------------------------------------------------
 */

/* Session facts gathered once. */
static void
load_session(void)
{
	MemoryContext old;

	if (session_user_name != NULL)
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	session_user_name = migrate_session_user_name();
	MemoryContextSwitchTo(old);
}

/* A new buffered row for the current statement. */
static AuditRow *
new_row(AuditRel *ar, const char *operation)
{
	AuditRow   *r;

	if (buffer_cxt == NULL)
		buffer_cxt = AllocSetContextCreate(TopTransactionContext, "migrate_ext audit buffer",
										   ALLOCSET_DEFAULT_SIZES);
	r = MemoryContextAllocZero(buffer_cxt, sizeof(AuditRow));
	r->subid = GetCurrentSubTransactionId();
	r->root = ar->root;
	r->schema_name = ar->schema_name;
	r->table_name = ar->table_name;
	r->operation = operation;
	r->statement_at = GetCurrentStatementStartTimestamp();
	if (GetUserId() != current_user_oid || current_user_name == NULL)
	{
		char	   *name = GetUserNameFromId(GetUserId(), false);

		if (current_user_name)
			pfree(current_user_name);
		current_user_name = MemoryContextStrdup(TopMemoryContext, name);
		current_user_oid = GetUserId();
	}
	r->current_user = MemoryContextStrdup(buffer_cxt, current_user_name);
	r->app_user = (migrate_app_user && migrate_app_user[0]) ?
		MemoryContextStrdup(buffer_cxt, migrate_app_user) : NULL;
	r->migration = migrate_context_current() ?
		MemoryContextStrdup(buffer_cxt, migrate_context_current()) : NULL;
	return r;
}

/* Queue a row for writing at the end of the statement. */
static void
buffer_row(AuditRow *r)
{
	MemoryContext old = MemoryContextSwitchTo(buffer_cxt);

	buffer = lappend(buffer, r);
	MemoryContextSwitchTo(old);
}

/* Where the columns of migrate.audit_log are (looked up once per table OID). */
typedef struct LogLayout
{
	Oid			relid;
	Oid			seqid;
	int			natts;
	int			id, logged_at, txid, statement_at, relid_col, schema_name, table_name,
				operation, row_key, old_values, new_values, changed_columns,
				session_user_name, current_user_name, app_user, application_name,
				client_addr, migration_version;
} LogLayout;

static LogLayout layout;

/* 0-based position of a column of migrate.audit_log. */
static int
log_attno(Oid relid, const char *name)
{
	AttrNumber	attno = get_attnum(relid, name);

	if (attno == InvalidAttrNumber)
		elog(ERROR, "column %s of migrate.audit_log is missing", name);
	return attno - 1;
}

/* Find migrate.audit_log and its columns. */
static void
load_layout(void)
{
	Oid			nsp = get_namespace_oid(MIGRATE_SCHEMA, false);
	Oid			relid = get_relname_relid("audit_log", nsp);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table migrate.audit_log does not exist"),
				 errhint("Reinstall the extension.")));
	if (relid == layout.relid)
		return;
	layout.seqid = get_relname_relid("audit_log_id_seq", nsp);
	layout.id = log_attno(relid, "id");
	layout.logged_at = log_attno(relid, "logged_at");
	layout.txid = log_attno(relid, "txid");
	layout.statement_at = log_attno(relid, "statement_at");
	layout.relid_col = log_attno(relid, "relid");
	layout.schema_name = log_attno(relid, "schema_name");
	layout.table_name = log_attno(relid, "table_name");
	layout.operation = log_attno(relid, "operation");
	layout.row_key = log_attno(relid, "row_key");
	layout.old_values = log_attno(relid, "old_values");
	layout.new_values = log_attno(relid, "new_values");
	layout.changed_columns = log_attno(relid, "changed_columns");
	layout.session_user_name = log_attno(relid, "session_user_name");
	layout.current_user_name = log_attno(relid, "current_user_name");
	layout.app_user = log_attno(relid, "app_user");
	layout.application_name = log_attno(relid, "application_name");
	layout.client_addr = log_attno(relid, "client_addr");
	layout.migration_version = log_attno(relid, "migration_version");
	layout.relid = relid;
}

/* log rows written per table_multi_insert call */
#define AUDIT_BATCH 1000

/* Insert a batch of log rows into one partition, then their index entries. */
static void
write_batch(EState *estate, ResultRelInfo *part, TupleTableSlot **slots, int n,
			CommandId cid, BulkInsertState bistate)
{
	table_multi_insert(part->ri_RelationDesc, slots, n, cid, 0, bistate);
	if (part->ri_NumIndices > 0)
		for (int i = 0; i < n; i++)
		{
#if PG_VERSION_NUM >= 160000
			(void) ExecInsertIndexTuples(part, slots[i], estate, false, false, NULL, NIL, false);
#else
			(void) ExecInsertIndexTuples(part, slots[i], estate, false, false, NULL, NIL);
#endif
			ResetPerTupleExprContext(estate);
		}
}

/*
 * Write every buffered row straight into migrate.audit_log, the way COPY
 * does: tuple routing to the partition, heap insert, index entries.  No
 * SQL is parsed, planned or executed, and no permission is checked (the
 * log is the extension's own table; writers need no right on it).
 */
static void
flush_buffer(void)
{
	List	   *rows = buffer;
	EState	   *estate;
	RangeTblEntry *rte;
	ResultRelInfo *root_rri;
	ModifyTableState *mtstate;
	PartitionTupleRouting *proute;
	TupleTableSlot *slot;
	TupleTableSlot *batch[AUDIT_BATCH] = {0};
	int			nbatch = 0;
	ResultRelInfo *batch_part = NULL;
	BulkInsertState bistate;
	Relation	rel;
	Datum		txid;
	Datum		su;
	Datum		an;
	Datum		ca;
	bool		ca_null;
	TimestampTz now;
	CommandId	cid;
	ListCell   *lc;
	MemoryContext old;

	if (pending_move)
	{
		/* a DELETE half whose INSERT never came: it was a delete */
		rows = lappend(rows, pending_move);
		pending_move = NULL;
	}
	buffer = NIL;
	if (rows == NIL)
		return;

	load_session();
	load_layout();
	old = MemoryContextSwitchTo(buffer_cxt);
	txid = FullTransactionIdGetDatum(GetTopFullTransactionId());
	su = CStringGetTextDatum(session_user_name);
	an = CStringGetTextDatum(application_name ? application_name : "");
	ca = migrate_client_addr_datum(&ca_null);
	now = GetCurrentTimestamp();
	cid = GetCurrentCommandId(true);

	estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = layout.relid;
	rte->relkind = RELKIND_PARTITIONED_TABLE;
	rte->rellockmode = RowExclusiveLock;
#if PG_VERSION_NUM >= 160000
	ExecInitRangeTable(estate, list_make1(rte), NIL);
#else
	ExecInitRangeTable(estate, list_make1(rte));
#endif
	root_rri = makeNode(ResultRelInfo);
	ExecInitResultRelation(estate, root_rri, 1);
	rel = root_rri->ri_RelationDesc;
	mtstate = makeNode(ModifyTableState);
	mtstate->ps.plan = NULL;
	mtstate->ps.state = estate;
	mtstate->operation = CMD_INSERT;
	mtstate->mt_nrels = 1;
	mtstate->resultRelInfo = root_rri;
	mtstate->rootResultRelInfo = root_rri;
	proute = ExecSetupPartitionTupleRouting(estate, rel);
	bistate = GetBulkInsertState();

	foreach(lc, rows)
	{
		AuditRow   *r = (AuditRow *) lfirst(lc);
		ResultRelInfo *part;
		Datum	   *v;
		bool	   *n;

		CHECK_FOR_INTERRUPTS();
		if (batch[nbatch] == NULL)
			batch[nbatch] = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsVirtual);
		slot = batch[nbatch];
		ExecClearTuple(slot);
		v = slot->tts_values;
		n = slot->tts_isnull;
		memset(n, true, sizeof(bool) * RelationGetDescr(rel)->natts);
#define SETCOL(col, val) (v[layout.col] = (val), n[layout.col] = false)
		SETCOL(id, Int64GetDatum(nextval_internal(layout.seqid, false)));
		SETCOL(logged_at, TimestampTzGetDatum(now));
		SETCOL(txid, txid);
		SETCOL(statement_at, TimestampTzGetDatum(r->statement_at));
		SETCOL(relid_col, ObjectIdGetDatum(r->root));
		SETCOL(schema_name, CStringGetTextDatum(r->schema_name));
		SETCOL(table_name, CStringGetTextDatum(r->table_name));
		SETCOL(operation, CStringGetTextDatum(r->operation));
		if (r->row_key)
			SETCOL(row_key, r->row_key);
		if (r->old_values)
			SETCOL(old_values, r->old_values);
		if (r->new_values)
			SETCOL(new_values, r->new_values);
		if (r->changed)
			SETCOL(changed_columns, r->changed);
		SETCOL(session_user_name, su);
		SETCOL(current_user_name, CStringGetTextDatum(r->current_user));
		if (r->app_user)
			SETCOL(app_user, CStringGetTextDatum(r->app_user));
		SETCOL(application_name, an);
		if (!ca_null)
			SETCOL(client_addr, ca);
		if (r->migration)
			SETCOL(migration_version, CStringGetTextDatum(r->migration));
#undef SETCOL
		ExecStoreVirtualTuple(slot);

		part = ExecFindPartition(mtstate, root_rri, proute, slot, estate);
		if (part != batch_part && nbatch > 0)
		{
			/* the row goes elsewhere: write what is pending (slots 0..nbatch-1) */
			write_batch(estate, batch_part, batch, nbatch, cid, bistate);
			/* the current row's slot moves to position 0 */
			batch[nbatch] = batch[0];
			batch[0] = slot;
			nbatch = 0;
		}
		if (part->ri_RootToPartitionMap != NULL)
		{
			/* a partition with another column order: convert, one by one */
			TupleTableSlot *pslot = MakeSingleTupleTableSlot(RelationGetDescr(part->ri_RelationDesc),
															 &TTSOpsVirtual);

			pslot = execute_attr_map_slot(part->ri_RootToPartitionMap->attrMap, slot, pslot);
			write_batch(estate, part, &pslot, 1, cid, bistate);
			ExecDropSingleTupleTableSlot(pslot);
			continue;
		}
		batch_part = part;
		if (++nbatch == AUDIT_BATCH)
		{
			write_batch(estate, batch_part, batch, nbatch, cid, bistate);
			nbatch = 0;
		}
	}
	if (nbatch > 0)
		write_batch(estate, batch_part, batch, nbatch, cid, bistate);
	for (int i = 0; i < AUDIT_BATCH && batch[i] != NULL; i++)
		ExecDropSingleTupleTableSlot(batch[i]);
	FreeBulkInsertState(bistate);
	ExecCleanupTupleRouting(mtstate, proute);
	ExecCloseResultRelations(estate);
	ExecCloseRangeTableRelations(estate);
	FreeExecutorState(estate);
	CommandCounterIncrement();
	MemoryContextSwitchTo(old);
	MemoryContextReset(buffer_cxt);
}

/* Transaction callback: flush before commit, forget on abort. */
static void
audit_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			/* rows of statements that had no statement trigger (on a partition) */
			if (buffer != NIL || pending_move != NULL)
			{
				PushActiveSnapshot(GetTransactionSnapshot());
				flush_buffer();
				PopActiveSnapshot();
			}
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* the context goes with TopTransactionContext */
			buffer = NIL;
			pending_move = NULL;
			buffer_cxt = NULL;
			truncate_covered = NIL;
			break;
		default:
			break;
	}
}

/* Subtransaction callback: rows of an aborted subtransaction are dropped. */
static void
audit_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;
	List	   *keep = NIL;

	if (event != SUBXACT_EVENT_ABORT_SUB || (buffer == NIL && pending_move == NULL))
		return;
	foreach(lc, buffer)
	{
		AuditRow   *r = (AuditRow *) lfirst(lc);

		if (r->subid < mySubid)
			keep = lappend(keep, r);
	}
	buffer = keep;
	if (pending_move && pending_move->subid >= mySubid)
		pending_move = NULL;
}

/* Register callbacks and GUC (from _PG_init). */
void
audit_init(void)
{
	DefineCustomStringVariable("migrate.app_user",
							   "Application user recorded with audited changes.",
							   "Applications set it per transaction: SET LOCAL migrate.app_user = 'alice'.",
							   &migrate_app_user,
							   "",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);
	RegisterXactCallback(audit_xact_callback, NULL);
	RegisterSubXactCallback(audit_subxact_callback, NULL);
}

/* ---------------------------------------------------------------------
 * The trigger
 * ---------------------------------------------------------------------
 */

/* A text[] of column names. */
static Datum
names_array(AuditRel *ar, const bool *which)
{
	Datum	   *d = palloc(sizeof(Datum) * ar->natts);
	int			n = 0;

	for (int i = 0; i < ar->natts; i++)
		if (which[i])
			d[n++] = CStringGetTextDatum(ar->attname[i]);
	return PointerGetDatum(construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* Copy a jsonb datum into the buffer's memory. */
static Datum
keep(Datum d)
{
	MemoryContext old = MemoryContextSwitchTo(buffer_cxt);
	Datum		copy = datumCopy(d, false, -1);

	MemoryContextSwitchTo(old);
	return copy;
}


/* The keys of a jsonb object that are column names with which[i]. */
static Datum
tuple_jsonb_from(Jsonb *obj, AuditRel *ar, const bool *which)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < ar->natts; i++)
	{
		JsonbValue	k;
		JsonbValue *v;

		if (!which[i])
			continue;
		string_value(&k, ar->attname[i], strlen(ar->attname[i]));
		v = findJsonbValueFromContainer(&obj->root, JB_FOBJECT, &k);
		if (v == NULL)
			continue;
		pushJsonbValue(&state, WJB_KEY, &k);
		pushJsonbValue(&state, WJB_VALUE, v);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(res));
}

/*
 * The INSERT half of a partition move: combine it with the buffered DELETE
 * half into one UPDATE (columns compared by name: partitions may differ in
 * column order).
 */
static void
finish_move(AuditRel *ar, HeapTuple tup, TupleDesc desc)
{
	AuditRow   *r = pending_move;
	Jsonb	   *oldj = DatumGetJsonbP(r->old_values);
	Jsonb	   *newj = DatumGetJsonbP(tuple_jsonb(ar, tup, desc, NULL));
	bool	   *changed = palloc0(sizeof(bool) * ar->natts);
	bool		any = false;

	pending_move = NULL;
	for (int i = 0; i < ar->natts; i++)
	{
		JsonbValue	k;
		JsonbValue *ov;
		JsonbValue *nv;

		if (ar->skip[i])
			continue;
		string_value(&k, ar->attname[i], strlen(ar->attname[i]));
		ov = findJsonbValueFromContainer(&oldj->root, JB_FOBJECT, &k);
		nv = findJsonbValueFromContainer(&newj->root, JB_FOBJECT, &k);
		if (ov == NULL || nv == NULL ||
			!DatumGetBool(DirectFunctionCall2(jsonb_eq,
											  JsonbPGetDatum(JsonbValueToJsonb(ov)),
											  JsonbPGetDatum(JsonbValueToJsonb(nv)))))
		{
			changed[i] = true;
			any = true;
		}
	}
	r->operation = "UPDATE";
	r->changed = keep(names_array(ar, changed));
	if (ar->full_rows)
		r->new_values = keep(JsonbPGetDatum(newj));
	else if (any)
	{
		r->old_values = keep(tuple_jsonb_from(oldj, ar, changed));
		r->new_values = keep(tuple_jsonb_from(newj, ar, changed));
	}
	buffer_row(r);
}

/*
 * Are two values of a column the same bytes?  Equal datums (an unchanged
 * TOAST pointer included) are; varlena values may differ only in their
 * header (a value filled from a column's "missing" default has a 4-byte
 * header, the same value in a tuple a 1-byte one), so their payloads are
 * compared, detoasting only when one side is external or compressed.
 */
static bool
same_value(Datum d1, Datum d2, Form_pg_attribute att)
{
	struct varlena *v1;
	struct varlena *v2;

	if (datumIsEqual(d1, d2, att->attbyval, att->attlen))
		return true;
	if (att->attlen != -1)
		return false;
	v1 = (struct varlena *) DatumGetPointer(d1);
	v2 = (struct varlena *) DatumGetPointer(d2);
	if (VARATT_IS_EXTENDED(v1) && !VARATT_IS_SHORT(v1))
		v1 = pg_detoast_datum_packed(v1);
	if (VARATT_IS_EXTENDED(v2) && !VARATT_IS_SHORT(v2))
		v2 = pg_detoast_datum_packed(v2);
	return VARSIZE_ANY_EXHDR(v1) == VARSIZE_ANY_EXHDR(v2) &&
		memcmp(VARDATA_ANY(v1), VARDATA_ANY(v2), VARSIZE_ANY_EXHDR(v1)) == 0;
}

/* Log an UPDATE: changed columns (or whole rows), unless nothing changed. */
static void
log_update(AuditRel *ar, HeapTuple oldtup, HeapTuple newtup, TupleDesc desc)
{
	bool	   *changed = palloc0(sizeof(bool) * ar->natts);
	bool		any = false;
	AuditRow   *r;

	for (int i = 0; i < ar->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		bool		n1;
		bool		n2;
		Datum		d1;
		Datum		d2;

		if (ar->skip[i])
			continue;
		d1 = heap_getattr(oldtup, i + 1, desc, &n1);
		d2 = heap_getattr(newtup, i + 1, desc, &n2);
		/* binary comparison: no equality operator, no detoasting when unchanged */
		if (n1 != n2 || (!n1 && !same_value(d1, d2, att)))
		{
			changed[i] = true;
			any = true;
		}
	}
	if (!any && !ar->log_unchanged_updates)
		return;

	r = new_row(ar, "UPDATE");
	r->row_key = keep(tuple_key(ar, oldtup, desc));
	/* bulk UPDATEs change the same columns row after row */
	if (ar->last_changed == NULL ||
		memcmp(ar->last_changed, changed, sizeof(bool) * ar->natts) != 0)
	{
		MemoryContext old = MemoryContextSwitchTo(ar->cxt);

		if (ar->last_changed == NULL)
			ar->last_changed = palloc(sizeof(bool) * ar->natts);
		memcpy(ar->last_changed, changed, sizeof(bool) * ar->natts);
		ar->last_names = datumCopy(names_array(ar, changed), false, -1);
		MemoryContextSwitchTo(old);
	}
	r->changed = keep(ar->last_names);
	if (ar->full_rows)
	{
		r->old_values = keep(tuple_jsonb(ar, oldtup, desc, NULL));
		r->new_values = keep(tuple_jsonb(ar, newtup, desc, NULL));
	}
	else
	{
		r->old_values = keep(tuple_jsonb(ar, oldtup, desc, changed));
		r->new_values = keep(tuple_jsonb(ar, newtup, desc, changed));
	}
	buffer_row(r);
}

/* Run a query as the extension owner (for TRUNCATE logging). */
static int
exec_as_owner(const char *sql, int nargs, Oid *argtypes, Datum *values)
{
	return migrate_owner_spi(sql, nargs, argtypes, values, NULL, false, 0, true);
}

/*
 * BEFORE TRUNCATE: one row with the row count, or (truncate_rows) one row
 * per row that is about to go.
 */
static void
log_truncate(Relation rel, Oid root)
{
	AuditRel   *ar;
	char	   *qname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												   RelationGetRelationName(rel));
	AuditRow   *r;
	bool		isnull;

	/*
	 * TRUNCATE of a partitioned table fires the trigger of the table and of
	 * each partition, all before anything is truncated: the table's count
	 * covers the partitions, so theirs are skipped.
	 */
	if (RelationGetRelid(rel) == root)
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

		truncate_covered = list_delete_first(find_all_inheritors(root, NoLock, NULL));
		MemoryContextSwitchTo(old);
	}
	else if (list_member_oid(truncate_covered, RelationGetRelid(rel)))
	{
		truncate_covered = list_delete_oid(truncate_covered, RelationGetRelid(rel));
		return;
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ar = audit_rel(rel, root);
	if (!ar->truncate_rows)
	{
		int64		count;

		if (exec_as_owner(psprintf("SELECT pg_catalog.count(*) FROM %s", qname), 0, NULL, NULL) != SPI_OK_SELECT)
			elog(ERROR, "could not count the rows of %s", qname);
		count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		r = new_row(ar, "TRUNCATE");
		r->old_values = keep(DirectFunctionCall1(jsonb_in,
												 CStringGetDatum(psprintf("{\"rows\": " INT64_FORMAT "}", count))));
		buffer_row(r);
	}
	else
	{
		StringInfoData key;
		bool		first = true;
		Datum		values[1];
		Oid			argtypes[1] = {TEXTARRAYOID};
		Datum	   *ex = palloc(sizeof(Datum) * (list_length(ar->exclude_columns) + 1));
		int			nex = 0;
		ListCell   *lc;

		initStringInfo(&key);
		for (int i = 0; i < ar->natts; i++)
			if (ar->is_key[i])
			{
				appendStringInfo(&key, "%s%s, t.%s", first ? "" : ", ",
								 quote_literal_cstr(ar->attname[i]), quote_identifier(ar->attname[i]));
				first = false;
			}
		foreach(lc, ar->exclude_columns)
			ex[nex++] = CStringGetTextDatum((char *) lfirst(lc));
		values[0] = PointerGetDatum(construct_array(ex, nex, TEXTOID, -1, false, TYPALIGN_INT));
		r = new_row(ar, "TRUNCATE");
		load_session();
		if (exec_as_owner(psprintf("INSERT INTO migrate.audit_log (txid, statement_at, relid, schema_name,"
								   "  table_name, operation, row_key, old_values, session_user_name,"
								   "  current_user_name, app_user, application_name, client_addr, migration_version)"
								   " SELECT pg_catalog.pg_current_xact_id(), pg_catalog.statement_timestamp(),"
								   "  %u, %s, %s, 'TRUNCATE', %s, pg_catalog.to_jsonb(t) OPERATOR(pg_catalog.-) $1,"
								   "  %s, %s, %s, %s, %s, %s FROM %s t",
								   root, quote_literal_cstr(ar->schema_name), quote_literal_cstr(ar->table_name),
								   ar->has_key ? psprintf("pg_catalog.jsonb_build_object(%s)", key.data) :
								   "pg_catalog.to_jsonb(t) OPERATOR(pg_catalog.-) $1",
								   quote_literal_cstr(session_user_name), quote_literal_cstr(r->current_user),
								   r->app_user ? quote_literal_cstr(r->app_user) : "NULL",
								   quote_literal_cstr(application_name ? application_name : ""),
								   "pg_catalog.inet_client_addr()",
								   r->migration ? quote_literal_cstr(r->migration) : "NULL",
								   qname),
						  1, argtypes, values) != SPI_OK_INSERT)
			elog(ERROR, "could not log the rows of %s", qname);
	}
	SPI_finish();
	if (buffer != NIL)
		flush_buffer();
}

PG_FUNCTION_INFO_V1(migrate_audit_trigger);
/* Trigger: log row changes of an audited table. */
Datum
migrate_audit_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	AuditRel   *ar;
	Oid			root;
	AuditRow   *r;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("migrate.audit_trigger() must be called as a trigger")));
	if (td->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("migrate.audit_trigger() must be installed by migrate.audit_enable"),
				 errhint("Use SELECT migrate.audit_enable('table').")));
	rel = td->tg_relation;
	root = audit_root(rel, atooid(td->tg_trigger->tgargs[0]));

	if (TRIGGER_FIRED_FOR_STATEMENT(td->tg_event))
	{
		if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
			log_truncate(rel, root);
		else if (buffer != NIL || pending_move != NULL)
			flush_buffer();
		return PointerGetDatum(NULL);
	}
	if (!TRIGGER_FIRED_AFTER(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("migrate.audit_trigger() must fire AFTER each row")));

	ar = audit_rel(rel, root);
	desc = RelationGetDescr(rel);

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		if (pending_move != NULL && pending_move->root == root)
			finish_move(ar, td->tg_trigtuple, desc);
		else
		{
			r = new_row(ar, "INSERT");
			r->row_key = keep(tuple_key(ar, td->tg_trigtuple, desc));
			r->new_values = keep(tuple_jsonb(ar, td->tg_trigtuple, desc, NULL));
			buffer_row(r);
		}
	}
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		HeapTuple	tup = td->tg_trigtuple;

		r = new_row(ar, "DELETE");
		r->row_key = keep(tuple_key(ar, tup, desc));
		r->old_values = keep(tuple_jsonb(ar, tup, desc, NULL));
		if (HeapTupleHeaderIndicatesMovedPartitions(tup->t_data))
		{
			/* the row moves to another partition: its INSERT comes next */
			if (pending_move != NULL)
				buffer_row(pending_move);
			pending_move = r;
		}
		else
			buffer_row(r);
	}
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		log_update(ar, td->tg_trigtuple, td->tg_newtuple, desc);

	return PointerGetDatum(NULL);
}

/* ---------------------------------------------------------------------
 * audit_enable / audit_disable
 * ---------------------------------------------------------------------
 */

/* The table argument: a table or partitioned table the caller owns. */
static Oid
audited_table_arg(FunctionCallInfo fcinfo, const char *fn)
{
	Oid			relid;
	char		relkind;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("tbl must not be NULL"),
				 errhint("Pass a table, e.g. %s('public.profiles').", fn)));
	relid = PG_GETARG_OID(0);
	relkind = get_rel_relkind(relid);
	if (relkind == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", get_rel_name(relid)),
				 errhint("Only tables and partitioned tables can be audited.")));
	if (get_rel_namespace(relid) == get_namespace_oid(MIGRATE_SCHEMA, false))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot audit migrate_ext's own table \"%s\"", get_rel_name(relid))));
#if PG_VERSION_NUM >= 160000
	if (!object_ownercheck(RelationRelationId, relid, GetUserId()))
#else
	if (!pg_class_ownercheck(relid, GetUserId()))
#endif
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of table %s to change its auditing", get_rel_name(relid)),
				 errhint("Ask the table's owner (or a superuser) to run %s.", fn)));
	migrate_check_writable(fn);

	/*
	 * One audit_enable or audit_disable of a table at a time (the lock
	 * CREATE TRIGGER takes; it conflicts with itself): two of them would
	 * drop each other's triggers and deadlock on the config row.
	 */
	LockRelationOid(relid, ShareRowExclusiveLock);
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u was dropped", relid)));
	return relid;
}

/* Run a statement (DDL too) as the extension owner, with SPI connected. */
static void
owner_exec(const char *sql, int nargs, Oid *argtypes, Datum *values, const char *nulls)
{
	int			rc = migrate_owner_spi(sql, nargs, argtypes, values, nulls, false, 0, false);

	if (rc < 0)
		elog(ERROR, "could not run \"%s\": %s", sql, SPI_result_code_string(rc));
}

/*
 * Drop the audit triggers a table has (as the extension owner), and the
 * TRUNCATE triggers of its partitions.
 */
static void
drop_triggers(Oid relid, const char *qname)
{
	const char *names[] = {"migrate_audit", "migrate_audit_flush", "migrate_audit_truncate"};
	ListCell   *lc;

	for (int i = 0; i < (int) lengthof(names); i++)
		if (OidIsValid(get_trigger_oid(relid, names[i], true)))
			owner_exec(psprintf("DROP TRIGGER %s ON %s", names[i], qname), 0, NULL, NULL, NULL);
	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
		if (lfirst_oid(lc) != relid &&
			OidIsValid(get_trigger_oid(lfirst_oid(lc), "migrate_audit_truncate", true)))
			owner_exec(psprintf("DROP TRIGGER migrate_audit_truncate ON %s", migrate_qualified_relname(lfirst_oid(lc))),
					   0, NULL, NULL, NULL);
}

PG_FUNCTION_INFO_V1(migrate_audit_enable);
/* SQL: migrate.audit_enable(tbl, exclude_columns, options) */
Datum
migrate_audit_enable(PG_FUNCTION_ARGS)
{
	Oid			relid = audited_table_arg(fcinfo, "migrate.audit_enable");
	char	   *qname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												   get_rel_name(relid));
	ArrayType  *exclude;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	Datum		options;
	Oid			argtypes[4] = {OIDOID, TEXTARRAYOID, JSONBOID, TEXTOID};
	Datum		values[4];
	bool		isnull;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("exclude_columns must not be NULL"),
				 errhint("Pass '{}' to log every column.")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("options must not be NULL"),
				 errhint("Pass '{}' for the defaults.")));
	exclude = PG_GETARG_ARRAYTYPE_P(1);
	options = PG_GETARG_DATUM(2);
	deconstruct_array(exclude, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		char	   *col;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("exclude_columns must not contain NULL")));
		col = TextDatumGetCString(elems[i]);
		if (get_attnum(relid, col) == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of table %s does not exist", col, qname),
					 errhint("exclude_columns names columns of the audited table.")));
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* options: an object of known boolean options */
	values[0] = options;
	if (SPI_execute_with_args("SELECT pg_catalog.jsonb_typeof($1) OPERATOR(pg_catalog.=) 'object'"
							  "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_each($1) e"
							  "                    WHERE e.key OPERATOR(pg_catalog.<>) ALL"
							  "                          ('{log_unchanged_updates,full_rows,truncate_rows}')"
							  "                       OR pg_catalog.jsonb_typeof(e.value) OPERATOR(pg_catalog.<>) 'boolean')",
							  1, &argtypes[2], values, NULL, true, 1) != SPI_OK_SELECT ||
		!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid audit options: %s",
						DatumGetCString(DirectFunctionCall1(jsonb_out, options))),
				 errhint("Options are a JSON object of booleans: log_unchanged_updates, full_rows, truncate_rows.")));

	values[0] = ObjectIdGetDatum(relid);
	values[1] = PointerGetDatum(exclude);
	values[2] = options;
	values[3] = CStringGetTextDatum(migrate_current_user_name());
	/* forget tables dropped since they were audited */
	owner_exec("DELETE FROM migrate.audit_config c WHERE NOT EXISTS"
			   " (SELECT 1 FROM pg_catalog.pg_class r WHERE r.oid OPERATOR(pg_catalog.=) c.relid)",
			   0, NULL, NULL, NULL);
	/* exclusions are kept as column numbers, so a rename cannot leak a column */
	owner_exec("INSERT INTO migrate.audit_config (relid, exclude_columns, exclude_attnums, options, enabled_by)"
			   " VALUES ($1::pg_catalog.regclass, $2,"
			   "  ARRAY(SELECT a.attnum FROM pg_catalog.pg_attribute a"
			   "         WHERE a.attrelid OPERATOR(pg_catalog.=) $1"
			   "           AND a.attname OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.name[])),"
			   "  $3, $4)"
			   " ON CONFLICT (relid) DO UPDATE SET exclude_columns = excluded.exclude_columns,"
			   "  exclude_attnums = excluded.exclude_attnums,"
			   "  options = excluded.options, enabled_at = pg_catalog.now(),"
			   "  enabled_by = excluded.enabled_by",
			   4, argtypes, values, NULL);
	drop_triggers(relid, qname);
	owner_exec(psprintf("CREATE TRIGGER migrate_audit AFTER INSERT OR UPDATE OR DELETE ON %s"
						" FOR EACH ROW EXECUTE FUNCTION migrate.audit_trigger('%u')", qname, relid),
			   0, NULL, NULL, NULL);
	owner_exec(psprintf("CREATE TRIGGER migrate_audit_flush AFTER INSERT OR UPDATE OR DELETE ON %s"
						" FOR EACH STATEMENT EXECUTE FUNCTION migrate.audit_trigger('%u')", qname, relid),
			   0, NULL, NULL, NULL);
	owner_exec(psprintf("CREATE TRIGGER migrate_audit_truncate BEFORE TRUNCATE ON %s"
						" FOR EACH STATEMENT EXECUTE FUNCTION migrate.audit_trigger('%u')", qname, relid),
			   0, NULL, NULL, NULL);
	/* statement triggers are not cloned: TRUNCATE of a partition needs its own */
	{
		ListCell   *lc;

		foreach(lc, find_all_inheritors(relid, NoLock, NULL))
			if (lfirst_oid(lc) != relid)
				owner_exec(psprintf("CREATE TRIGGER migrate_audit_truncate BEFORE TRUNCATE ON %s"
									" FOR EACH STATEMENT EXECUTE FUNCTION migrate.audit_trigger('%u')",
									migrate_qualified_relname(lfirst_oid(lc)), relid),
						   0, NULL, NULL, NULL);
	}
	SPI_finish();
	/* every backend re-reads the options */
	CacheInvalidateRelcacheByRelid(relid);
	{
		StringInfoData details;

		initStringInfo(&details);
		appendStringInfoString(&details, "{\"table\": ");
		escape_json(&details, qname);
		appendStringInfo(&details, ", \"relid\": %u, \"options\": %s, \"exclude_columns\": %s}", relid,
						 DatumGetCString(DirectFunctionCall1(jsonb_out, options)),
						 TextDatumGetCString(DirectFunctionCall1(array_to_json, PointerGetDatum(exclude))));
		migrate_event_record("audit_enabled", "info", psprintf("auditing enabled on %s", qname), details.data);
	}
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(migrate_audit_disable);
/* SQL: migrate.audit_disable(tbl) */
Datum
migrate_audit_disable(PG_FUNCTION_ARGS)
{
	Oid			relid = audited_table_arg(fcinfo, "migrate.audit_disable");
	char	   *qname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												   get_rel_name(relid));
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	drop_triggers(relid, qname);
	owner_exec("DELETE FROM migrate.audit_config WHERE relid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
			   1, argtypes, values, NULL);
	if (SPI_processed == 0)
		ereport(NOTICE,
				(errmsg("table %s was not audited", qname)));
	else
	{
		StringInfoData details;

		initStringInfo(&details);
		appendStringInfoString(&details, "{\"table\": ");
		escape_json(&details, qname);
		appendStringInfo(&details, ", \"relid\": %u}", relid);
		migrate_event_record("audit_disabled", "notice", psprintf("auditing disabled on %s", qname), details.data);
	}
	SPI_finish();
	CacheInvalidateRelcacheByRelid(relid);
	PG_RETURN_VOID();
}
