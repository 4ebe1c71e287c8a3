/*-------------------------------------------------------------------------
 * datamove.c
 *	  Data migrations: migrate.copy_rows (batched, resumable copies of a
 *	  query's rows into a table, ordered by a key, each batch in a
 *	  subtransaction; a failing batch is split by key ranges down to the
 *	  failing rows, which are recorded in migrate.copy_errors) and the
 *	  checks migrate.reconcile shares with it (the source is one SELECT,
 *	  the key and source columns exist).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/xact.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "parser/scansup.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/datum.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/acl.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "errors.h"
#include "migrate_ext.h"
#include "util.h"

/* A copy job while it runs. */
typedef struct CopyJob
{
	const char *job;
	const char *source_orig;	/* as given (the job's identity) */
	const char *source;			/* the statement alone, to embed */
	Oid			target;
	const char *target_name;	/* qualified, quoted */
	int			nkeys;
	char	  **keys;			/* key column names */
	Oid		   *key_types;
	int16	   *key_len;		/* typlen and typbyval of the key types */
	bool	   *key_byval;
	int			ncols;
	char	  **cols;			/* source (and target) column names */
	int			batch_size;
	bool		on_conflict_nothing;
	bool		key_arbiter;	/* the target has a unique index on exactly the key
								 * columns, and the caller may read them */
	bool		conflicts_seen; /* nothing: a batch met a row already there */

	/* SQL, built once per call */
	char	   *key_list;		/* "k1", "k2" */
	char	   *key_desc;		/* "k1" DESC, "k2" DESC */
	char	   *s_key_list;		/* s."k1", s."k2" */
	char	   *key_json_b;		/* jsonb_build_object('k1', b.k1, ...) */
	char	   *col_list;
	char	   *s_col_list;		/* s."c1", s."c2" (the source's, beside the joined tables) */
	char	   *not_null;		/* "k1" IS NOT NULL AND ... */
	char	   *bad_expr;		/* the precheck: the number of the constraint a row breaks, or NULL */
	char	   *bad_detail;		/* its detail (foreign keys: the key values) */
	char	   *bad_join;		/* LEFT JOINs to the referenced tables of the foreign keys */
	List	   *bad_messages;	/* message of each precheck, by number - 1 */
	List	   *bad_states;		/* SQLSTATE of each */

	/* the last key copied (resume point), in job_cxt */
	bool		have_last;
	Datum	   *last;
	MemoryContext job_cxt;		/* the call */
	MemoryContext batch_cxt;	/* one batch: reset after each */

	/* totals of this call, and of the job */
	int64		read,
				copied,
				skipped,
				failed,
				batches;
	int64		job_read,
				job_copied,
				job_skipped,
				job_failed,
				job_batches;
} CopyJob;

/*
 * Is this error about the database, the session or the statement rather
 * than a row?  Then the job stops (a later call resumes).  Row errors are
 * data exceptions (22), integrity violations (23), WITH CHECK OPTION (44),
 * errors raised by triggers and functions (P0, 2F, 39) and "row is too big"
 * (54000); anything else (cancel, timeouts, lock timeout, out of memory,
 * serialization failure, deadlock, missing privileges, ...) stops it.
 */
static bool
is_stop_error(ErrorData *edata)
{
	int			code = edata->sqlerrcode;
	int			cls = ERRCODE_TO_CATEGORY(code);

	if (code == ERRCODE_PROGRAM_LIMIT_EXCEEDED)
		return false;
	return !(cls == ERRCODE_DATA_EXCEPTION ||
			 cls == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION ||
			 cls == ERRCODE_WITH_CHECK_OPTION_VIOLATION ||
			 cls == ERRCODE_RAISE_EXCEPTION ||
			 cls == ERRCODE_SQL_ROUTINE_EXCEPTION ||
			 cls == ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION);
}

/*
 * Refuse a source that is not one plain SELECT: no DML or DDL smuggled
 * through (data-modifying WITH, SELECT INTO, several statements).
 */
static char *
check_select(const char *source)
{
	List	   *raw;
	Node	   *stmt;
	SelectStmt *sel;
	ListCell   *lc;
	RawStmt    *rawstmt;

	raw = raw_parser(source, RAW_PARSE_DEFAULT);
	if (list_length(raw) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source_query must be one SELECT statement, not %d statements", list_length(raw)),
				 errhint("Pass a single SELECT whose output columns are named like the target's columns.")));
	stmt = linitial_node(RawStmt, raw)->stmt;
	rawstmt = linitial_node(RawStmt, raw);
	if (!IsA(stmt, SelectStmt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source_query must be a SELECT, not %s", CreateCommandName(stmt)),
				 errhint("Data is only read from the source; write the rows with migrate.copy_rows itself.")));
	sel = (SelectStmt *) stmt;
	if (sel->intoClause != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source_query must not be SELECT ... INTO"),
				 errhint("Pass a plain SELECT.")));
	if (sel->withClause != NULL)
		foreach(lc, sel->withClause->ctes)
		{
			CommonTableExpr *cte = lfirst_node(CommonTableExpr, lc);

			if (!IsA(cte->ctequery, SelectStmt))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("source_query must not modify data: WITH %s AS (%s ...)", cte->ctename,
								CreateCommandName(cte->ctequery)),
						 errhint("Pass a SELECT that only reads.")));
		}

	/*
	 * The statement's own text, between line breaks, to be embedded as a
	 * subquery: no trailing semicolon, and a trailing -- comment cannot
	 * swallow what follows it.
	 */
	{
		int			loc = rawstmt->stmt_location > 0 ? rawstmt->stmt_location : 0;
		int			len = rawstmt->stmt_len > 0 ? rawstmt->stmt_len : (int) strlen(source) - loc;

		return psprintf("\n%.*s\n", len, source + loc);
	}
}

/* The output columns of the source: names and types (from a prepared, unexecuted plan). */
static void
describe_source(CopyJob *cj)
{
	StringInfoData sql;
	SPIPlanPtr	plan;
	TupleDesc	td;
	int			i,
				n = 0;

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT * FROM (%s) AS s LIMIT 0", cj->source);
	plan = SPI_prepare(sql.data, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_execute_plan(plan, NULL, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not describe the source");
	td = SPI_tuptable->tupdesc;
	cj->cols = palloc(sizeof(char *) * td->natts);
	for (i = 0; i < td->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(td, i);

		if (a->attisdropped)
			continue;
		cj->cols[n++] = pstrdup(NameStr(a->attname));
	}
	cj->ncols = n;
	cj->key_types = palloc(sizeof(Oid) * cj->nkeys);
	for (i = 0; i < cj->nkeys; i++)
	{
		int			col = SPI_fnumber(td, cj->keys[i]);

		if (col <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("key column \"%s\" is not an output column of source_query", cj->keys[i]),
					 errhint("Name the key columns as source_query's output columns (use AS in the SELECT list).")));
		cj->key_types[i] = SPI_gettypeid(td, col);
	}
	cj->key_len = palloc(sizeof(int16) * cj->nkeys);
	cj->key_byval = palloc(sizeof(bool) * cj->nkeys);
	for (i = 0; i < cj->nkeys; i++)
		get_typlenbyval(cj->key_types[i], &cj->key_len[i], &cj->key_byval[i]);
	SPI_freeplan(plan);
}

/* Every key column must be a column of the target (copy_rows and reconcile). */
static void
check_target_keys(CopyJob *cj)
{
	for (int i = 0; i < cj->nkeys; i++)
		if (get_attnum(cj->target, cj->keys[i]) == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("key column \"%s\" is not a column of %s", cj->keys[i], cj->target_name),
					 errhint("Name the key columns after columns the target has (rename them in source_query with AS).")));
}

/* Every source column and key column must be a column of the target. */
static void
check_target_columns(CopyJob *cj)
{
	StringInfoData missing;
	int			i;

	/* the key first: its own message, though it is a source column too */
	check_target_keys(cj);
	initStringInfo(&missing);
	for (i = 0; i < cj->ncols; i++)
	{
		AttrNumber	att = get_attnum(cj->target, cj->cols[i]);

		if (att == InvalidAttrNumber)
			appendStringInfo(&missing, "%s%s", missing.len ? ", " : "", quote_identifier(cj->cols[i]));
	}
	if (missing.len > 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("source_query has columns that %s does not have: %s", cj->target_name, missing.data),
				 errhint("Name source_query's output columns like the target's columns (use AS), or leave them out.")));
}

/*
 * Does the target have a unique index on exactly the key columns, one that
 * ON CONFLICT (key columns) can use as its arbiter (valid, not deferrable,
 * not partial, no expressions)?  Only then can on_conflict nothing tell a
 * row whose key is already there from a row that breaks another unique
 * constraint.
 */
static bool
has_key_arbiter(CopyJob *cj)
{
	Oid			types[2] = {OIDOID, INT2ARRAYOID};
	Datum		v[2];
	Datum	   *atts = palloc(sizeof(Datum) * cj->nkeys);
	bool		isnull;

	for (int i = 0; i < cj->nkeys; i++)
		atts[i] = Int16GetDatum(get_attnum(cj->target, cj->keys[i]));
	v[0] = ObjectIdGetDatum(cj->target);
	v[1] = PointerGetDatum(construct_array(atts, cj->nkeys, INT2OID, 2, true, TYPALIGN_SHORT));
	/*
	 * the key attributes of the index (not its INCLUDE columns) are the key
	 * columns, in any order; and the caller may read them (ON CONFLICT with a
	 * conflict target checks SELECT on its columns)
	 */
	if (SPI_execute_with_args("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = $1"
							  " AND i.indisunique AND i.indimmediate AND i.indisvalid"
							  " AND i.indpred IS NULL AND i.indexprs IS NULL"
							  " AND i.indnkeyatts = pg_catalog.cardinality($2)"
							  " AND (i.indkey::pg_catalog.int2[])[0:i.indnkeyatts - 1] OPERATOR(pg_catalog.@>) $2)"
							  " AND (SELECT pg_catalog.bool_and(pg_catalog.has_column_privilege($1, a, 'SELECT'))"
							  " FROM pg_catalog.unnest($2) a)",
							  2, types, v, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the target's unique indexes");
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Append jsonb_build_object('k1', <alias>.k1, ...) of the key columns, or
 * of parameters $1.. when alias is NULL.
 */
static void
append_key_object(StringInfo buf, CopyJob *cj, const char *alias)
{
	appendStringInfoString(buf, "pg_catalog.jsonb_build_object(");
	for (int i = 0; i < cj->nkeys; i++)
	{
		appendStringInfo(buf, "%s%s, ", i ? ", " : "", quote_literal_cstr(cj->keys[i]));
		if (alias)
			appendStringInfo(buf, "%s.%s", alias, quote_identifier(cj->keys[i]));
		else
			appendStringInfo(buf, "$%d", i + 1);
	}
	appendStringInfoChar(buf, ')');
}

/* Copy a key's values into cxt: from columns first.. of a tuple, or from src. */
static Datum *
copy_key(CopyJob *cj, MemoryContext cxt, HeapTuple tup, TupleDesc td, int first, Datum *src)
{
	Datum	   *key = MemoryContextAlloc(cxt, sizeof(Datum) * cj->nkeys);
	MemoryContext old = MemoryContextSwitchTo(cxt);

	for (int i = 0; i < cj->nkeys; i++)
	{
		bool		isnull = false;
		Datum		d = src ? src[i] : SPI_getbinval(tup, td, first + i, &isnull);

		key[i] = datumCopy(d, cj->key_byval[i], cj->key_len[i]);
	}
	MemoryContextSwitchTo(old);
	return key;
}

/* Build the column lists of the statements. */
static void
build_lists(CopyJob *cj)
{
	StringInfoData k,
				kd,
				c,
				nn;
	int			i;

	initStringInfo(&k);
	initStringInfo(&kd);
	initStringInfo(&c);
	initStringInfo(&nn);
	for (i = 0; i < cj->nkeys; i++)
	{
		appendStringInfo(&k, "%s%s", i ? ", " : "", quote_identifier(cj->keys[i]));
		appendStringInfo(&kd, "%s%s DESC", i ? ", " : "", quote_identifier(cj->keys[i]));
		appendStringInfo(&nn, "%ss.%s IS NOT NULL", i ? " AND " : "", quote_identifier(cj->keys[i]));
	}
	for (i = 0; i < cj->ncols; i++)
		appendStringInfo(&c, "%s%s", i ? ", " : "", quote_identifier(cj->cols[i]));
	{
		StringInfoData sc;

		initStringInfo(&sc);
		for (i = 0; i < cj->ncols; i++)
			appendStringInfo(&sc, "%ss.%s", i ? ", " : "", quote_identifier(cj->cols[i]));
		cj->s_col_list = sc.data;
	}
	cj->key_list = k.data;
	cj->key_desc = kd.data;
	{
		StringInfoData sk;

		initStringInfo(&sk);
		for (i = 0; i < cj->nkeys; i++)
			appendStringInfo(&sk, "%ss.%s", i ? ", " : "", quote_identifier(cj->keys[i]));
		cj->s_key_list = sk.data;
	}
	{
		StringInfoData kj;

		initStringInfo(&kj);
		append_key_object(&kj, cj, "b");
		cj->key_json_b = kj.data;
	}
	cj->col_list = c.data;
	cj->not_null = nn.data;
}

/* Append "ROW(s.k1, ...) <op> ROW($first, ...)" to buf. */
static void
append_key_cmp(StringInfo buf, CopyJob *cj, const char *op, int first)
{
	int			i;

	appendStringInfoString(buf, " AND ROW(");
	for (i = 0; i < cj->nkeys; i++)
		appendStringInfo(buf, "%ss.%s", i ? ", " : "", quote_identifier(cj->keys[i]));
	appendStringInfo(buf, ") %s ROW(", op);
	for (i = 0; i < cj->nkeys; i++)
		appendStringInfo(buf, "%s$%d", i ? ", " : "", first + i);
	appendStringInfoChar(buf, ')');
}

/* Argument types: an int limit (when with_limit) then the key types, n_key_sets times. */
static Oid *
arg_types(CopyJob *cj, bool with_limit, int n_key_sets, int *nargs)
{
	Oid		   *t = palloc(sizeof(Oid) * (1 + cj->nkeys * n_key_sets));
	int			n = 0;
	int			s,
				i;

	if (with_limit)
		t[n++] = INT4OID;
	for (s = 0; s < n_key_sets; s++)
		for (i = 0; i < cj->nkeys; i++)
			t[n++] = cj->key_types[i];
	*nargs = n;
	return t;
}

/*
 * The prechecks of a batch: rows that would break a NOT NULL or a foreign
 * key of the target are found with the batch's own query and left out of
 * its INSERT (recorded as failed with PostgreSQL's message), so that a few
 * bad rows do not make every batch fail and be split.  Only for an
 * ordinary table without BEFORE ROW INSERT triggers (a trigger may change
 * the values); deferrable foreign keys are left to the end of the
 * transaction as usual.  Anything else a row breaks fails the batch, which
 * is then split by key ranges.
 */
static void
build_prechecks(CopyJob *cj)
{
	StringInfoData bad,
				detail,
				join,
				rowtext;
	int			n = 0;
	Oid			types[1] = {OIDOID};
	Datum		v[1] = {ObjectIdGetDatum(cj->target)};
	SPITupleTable *tt;
	uint64		nfk;
	const char *relname = get_rel_name(cj->target);

	cj->bad_expr = "NULL::integer";
	cj->bad_detail = "NULL::text";
	cj->bad_join = "";
	if (get_rel_relkind(cj->target) != RELKIND_RELATION)
		return;
	if (SPI_execute_with_args("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = $1"
							  " AND NOT t.tgisinternal AND t.tgenabled <> 'D'"
							  " AND (t.tgtype::integer & 7) = 7)", 1, types, v, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the target's triggers");
	{
		bool		isnull;

		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
			return;
	}
	initStringInfo(&bad);
	initStringInfo(&detail);
	initStringInfo(&join);
	appendStringInfoString(&bad, "CASE");
	appendStringInfoString(&detail, "CASE");

	/*
	 * PostgreSQL's detail of a NOT NULL violation lists the row as it would
	 * have been inserted; the same when the copy gives every column
	 */
	{
		Relation	rel = relation_open(cj->target, AccessShareLock);
		TupleDesc	td = RelationGetDescr(rel);
		bool		all = true;
		bool		first = true;

		initStringInfo(&rowtext);
		/* an array, not concat_ws: a table may have more than 100 columns */
		appendStringInfoString(&rowtext, "pg_catalog.format('Failing row contains (%s).', pg_catalog.array_to_string(ARRAY[");
		for (int a = 0; a < td->natts && all; a++)
		{
			Form_pg_attribute att = TupleDescAttr(td, a);
			bool		copied = false;

			if (att->attisdropped)
				continue;
			for (int j = 0; j < cj->ncols; j++)
				if (strcmp(cj->cols[j], NameStr(att->attname)) == 0)
					copied = true;
			if (!copied)
				all = false;
			else
				appendStringInfo(&rowtext, "%3$sCASE WHEN s.%1$s IS NULL THEN 'null'"
								 " WHEN pg_catalog.length(s.%1$s::%2$s::text) > 64 THEN pg_catalog.left(s.%1$s::%2$s::text, 64) || '...'"
								 " ELSE s.%1$s::%2$s::text END",
								 quote_identifier(NameStr(att->attname)),
								 format_type_with_typemod(att->atttypid, att->atttypmod), first ? "" : ", ");
			first = false;
		}
		appendStringInfoString(&rowtext, "]::text[], ', '))");
		if (!all)
		{
			resetStringInfo(&rowtext);
			appendStringInfoString(&rowtext, "NULL::text");
		}
		relation_close(rel, AccessShareLock);
	}
	for (int i = 0; i < cj->ncols; i++)
	{
		AttrNumber	att = get_attnum(cj->target, cj->cols[i]);
		HeapTuple	tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(cj->target), Int16GetDatum(att));
		bool		notnull;

		if (!HeapTupleIsValid(tup))
			continue;
		notnull = ((Form_pg_attribute) GETSTRUCT(tup))->attnotnull &&
			!type_is_rowtype(((Form_pg_attribute) GETSTRUCT(tup))->atttypid);
		ReleaseSysCache(tup);
		/* a row value of NULLs IS NULL, yet it is no NULL to the constraint */
		if (!notnull)
			continue;
		n++;
		appendStringInfo(&bad, " WHEN s.%s IS NULL THEN %d", quote_identifier(cj->cols[i]), n);
		appendStringInfo(&detail, " WHEN s.%s IS NULL THEN %s", quote_identifier(cj->cols[i]), rowtext.data);
		cj->bad_messages = lappend(cj->bad_messages,
								   psprintf("null value in column \"%s\" of relation \"%s\" violates not-null constraint",
											cj->cols[i], relname));
		cj->bad_states = lappend(cj->bad_states, "23502");
	}
	if (SPI_execute_with_args("SELECT c.conname::text, c.confrelid, c.conkey, c.confkey FROM pg_catalog.pg_constraint c"
							  " WHERE c.conrelid = $1 AND c.contype = 'f' AND NOT c.condeferrable ORDER BY c.conname",
							  1, types, v, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the target's foreign keys");
	tt = SPI_tuptable;
	nfk = SPI_processed;
	SPI_tuptable = NULL;
	for (uint64 r = 0; r < nfk; r++)
	{
		bool		isnull;
		char	   *conname = SPI_getvalue(tt->vals[r], tt->tupdesc, 1);
		Oid			ref = DatumGetObjectId(SPI_getbinval(tt->vals[r], tt->tupdesc, 2, &isnull));
		Datum	   *ck,
				   *rk;
		int			nck,
					nrk;
		bool		usable = true;
		StringInfoData nn,
					match,
					cols,
					vals;

		deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tt->vals[r], tt->tupdesc, 3, &isnull)),
						  INT2OID, 2, true, TYPALIGN_SHORT, &ck, NULL, &nck);
		deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tt->vals[r], tt->tupdesc, 4, &isnull)),
						  INT2OID, 2, true, TYPALIGN_SHORT, &rk, NULL, &nrk);
		initStringInfo(&nn);
		initStringInfo(&match);
		initStringInfo(&cols);
		initStringInfo(&vals);
		for (int i = 0; i < nck && usable; i++)
		{
			char	   *col = get_attname(cj->target, DatumGetInt16(ck[i]), false);
			char	   *rcol = get_attname(ref, DatumGetInt16(rk[i]), false);
			bool		copied = false;

			for (int j = 0; j < cj->ncols; j++)
				if (strcmp(cj->cols[j], col) == 0)
					copied = true;
			/* a key column the copy leaves to its default: not prechecked */
			if (!copied)
			{
				usable = false;
				break;
			}
			appendStringInfo(&nn, "%ss.%s IS NOT NULL", i ? " AND " : "", quote_identifier(col));
			appendStringInfo(&match, "%sr%d.%s = s.%s::%s", i ? " AND " : "", n + 1, quote_identifier(rcol),
							 quote_identifier(col),
							 format_type_be(get_atttype(cj->target, DatumGetInt16(ck[i]))));
			appendStringInfo(&cols, "%s%s", i ? ", " : "", quote_identifier(col));
			appendStringInfo(&vals, ", s.%s", quote_identifier(col));
		}
		/*
		 * The foreign key's own check reads the referenced table as its
		 * owner, past row security: the precheck can only say the same when
		 * the caller may read it all.
		 */
		if (pg_class_aclcheck(ref, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
			usable = false;
		else
		{
			HeapTuple	ctup = SearchSysCache1(RELOID, ObjectIdGetDatum(ref));

			if (!HeapTupleIsValid(ctup))
				usable = false;
			else
			{
				if (((Form_pg_class) GETSTRUCT(ctup))->relrowsecurity)
					usable = false;
				ReleaseSysCache(ctup);
			}
		}
		if (!usable)
			continue;
		n++;
		/* a join (the referenced key is unique: no row doubles), so the planner picks how */
		appendStringInfo(&join, " LEFT JOIN %s%s AS r%d ON %s",
						 get_rel_relkind(ref) == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ",
						 migrate_qualified_relname(ref), n, match.data);
		appendStringInfo(&bad, " WHEN %s AND r%d.ctid IS NULL THEN %d", nn.data, n, n);
		appendStringInfo(&detail, " WHEN %s AND r%d.ctid IS NULL"
						 " THEN pg_catalog.format('Key (%%s)=(%%s) is not present in table \"%%s\".', %s, pg_catalog.concat_ws(', '%s), %s)",
						 nn.data, n, quote_literal_cstr(cols.data), vals.data, quote_literal_cstr(get_rel_name(ref)));
		cj->bad_messages = lappend(cj->bad_messages,
								   psprintf("insert or update on table \"%s\" violates foreign key constraint \"%s\"",
											relname, conname));
		cj->bad_states = lappend(cj->bad_states, "23503");
	}
	SPI_freetuptable(tt);
	if (n == 0)
		return;
	appendStringInfoString(&bad, " END");
	appendStringInfoString(&detail, " END");
	cj->bad_expr = bad.data;
	cj->bad_detail = detail.data;
	cj->bad_join = join.data;
}

/* The plans of a job (prepared once per call, for the caller as the caller). */
typedef struct CopyPlans
{
	SPIPlanPtr	batch[2][2];	/* [have_last][with on_conflict nothing's ON
								 * CONFLICT, NULL for error]: next batch: read,
								 * insert, count, last key */
	SPIPlanPtr	keys[2];		/* [have_last]: the keys of the next batch */
	SPIPlanPtr	range[2];		/* [have_lo]: insert the rows with lo < key <= hi */
	SPIPlanPtr	row;			/* one row and its key as jsonb */
	SPIPlanPtr	keyjson;		/* a key as jsonb */
} CopyPlans;

/* Prepare a statement with its argument types. */
static SPIPlanPtr
prepare(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

	if (p == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	return p;
}

/* Build and prepare the job's statements. */
static void
prepare_plans(CopyJob *cj, CopyPlans *pl)
{
	/*
	 * on_conflict nothing skips the rows whose key is already there: ON
	 * CONFLICT on the key columns (their unique index is the arbiter), so a
	 * row that breaks another unique constraint still fails with 23505 and is
	 * recorded.  Without such an index (or without the right to read the key
	 * columns, which a conflict target needs) a row that meets any unique
	 * constraint is taken as already there.
	 */
	const char *conflict = !cj->on_conflict_nothing ? "" :
		cj->key_arbiter ? psprintf(" ON CONFLICT (%s) DO NOTHING", cj->key_list) : " ON CONFLICT DO NOTHING";
	int			v,
				nargs;
	Oid		   *types;
	StringInfoData sql;

	for (v = 0; v < 2; v++)
	{
		/* a limit, then the last key (v) */
		types = arg_types(cj, true, v ? 1 : 0, &nargs);
		pl->batch[v][1] = NULL;
		for (int c = 0; c < (*conflict ? 2 : 1); c++)
		{
			/*
			 * A batch: its rows with the precheck's verdict, the good ones
			 * inserted, the counts, the rows left out (code, detail, key, row),
			 * and its last key.
			 */
			initStringInfo(&sql);
			appendStringInfo(&sql, "WITH b AS MATERIALIZED (SELECT %s, %s AS \"_migrate_bad\", %s AS \"_migrate_detail\""
							 " FROM (%s) AS s%s WHERE %s",
							 cj->s_col_list, cj->bad_expr, cj->bad_detail, cj->source, cj->bad_join, cj->not_null);
			if (v)
				append_key_cmp(&sql, cj, ">", 2);
			/* WITH TIES: rows sharing the last key stay in one batch, none is lost */
			appendStringInfo(&sql, " ORDER BY %s FETCH FIRST $1 ROWS WITH TIES), ins AS (INSERT INTO %s (%s) SELECT %s FROM b"
							 " WHERE \"_migrate_bad\" IS NULL%s RETURNING 1)"
							 " SELECT (SELECT count(*) FROM b), (SELECT count(*) FROM ins),"
							 " x.codes, x.details, x.keys, x.rows_, l.*"
							 " FROM (SELECT %s FROM b ORDER BY %s LIMIT 1) l,"
							 " (SELECT pg_catalog.array_agg(\"_migrate_bad\" ORDER BY %s) AS codes,"
							 " pg_catalog.array_agg(\"_migrate_detail\" ORDER BY %s) AS details,"
							 " pg_catalog.array_agg(%s ORDER BY %s) AS keys,"
							 " pg_catalog.array_agg(pg_catalog.to_jsonb(b) - '_migrate_bad' - '_migrate_detail' ORDER BY %s) AS rows_"
							 " FROM b WHERE \"_migrate_bad\" IS NOT NULL) x",
							 cj->s_key_list, cj->target_name, cj->col_list, cj->col_list, c ? conflict : "",
							 cj->key_list, cj->key_desc, cj->key_list, cj->key_list, cj->key_json_b, cj->key_list,
							 cj->key_list);
			pl->batch[v][c] = prepare(sql.data, nargs, types);
		}

		/* the keys of a batch */
		initStringInfo(&sql);
		appendStringInfo(&sql, "SELECT %s FROM (%s) AS s WHERE %s", cj->key_list, cj->source, cj->not_null);
		if (v)
			append_key_cmp(&sql, cj, ">", 2);
		appendStringInfo(&sql, " ORDER BY %s FETCH FIRST $1 ROWS WITH TIES", cj->key_list);
		pl->keys[v] = prepare(sql.data, nargs, types);

		/* the rows of a key range (lo, hi] */
		initStringInfo(&sql);
		appendStringInfo(&sql, "WITH ins AS (INSERT INTO %s (%s) SELECT %s FROM (%s) AS s WHERE %s",
						 cj->target_name, cj->col_list, cj->col_list, cj->source, cj->not_null);
		append_key_cmp(&sql, cj, "<=", 1);
		if (v)
			append_key_cmp(&sql, cj, ">", 1 + cj->nkeys);
		appendStringInfo(&sql, "%s RETURNING 1) SELECT count(*) FROM ins", conflict);
		types = arg_types(cj, false, v ? 2 : 1, &nargs);
		pl->range[v] = prepare(sql.data, nargs, types);
	}

	/* one row: its data and its key */
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT pg_catalog.to_jsonb(s), ");
	append_key_object(&sql, cj, "s");
	appendStringInfo(&sql, " FROM (%s) AS s WHERE %s", cj->source, cj->not_null);
	append_key_cmp(&sql, cj, "=", 1);
	appendStringInfoString(&sql, " LIMIT 1");
	types = arg_types(cj, false, 1, &nargs);
	pl->row = prepare(sql.data, nargs, types);

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	append_key_object(&sql, cj, NULL);
	pl->keyjson = prepare(sql.data, nargs, types);
}

/* Record a failed row in migrate.copy_errors (as the extension owner). */
static void
record_row_error(CopyJob *cj, Datum row_key, bool key_null, Datum row_data, bool data_null,
				 ErrorData *edata, const char *sqlstate, const char *message)
{
	Oid			types[6] = {TEXTOID, JSONBOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID};
	Datum		v[6];
	char		n[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	v[0] = CStringGetTextDatum(cj->job);
	v[1] = row_key;
	n[1] = key_null ? 'n' : ' ';
	v[2] = CStringGetTextDatum(sqlstate ? sqlstate : unpack_sql_state(edata->sqlerrcode));
	v[3] = CStringGetTextDatum(message ? message : edata->message);
	v[4] = migrate_text_or_null(edata ? edata->detail : NULL, &n[4]);
	v[5] = row_data;
	n[5] = data_null ? 'n' : ' ';
	if (migrate_owner_spi("INSERT INTO migrate.copy_errors (job, row_key, sqlstate, message, detail, row_data)"
						  " VALUES ($1, $2, $3, $4, $5, $6)", 6, types, v, n, false, 0, true) != SPI_OK_INSERT)
		elog(ERROR, "could not record the failed row");
}

/* A failed row's data, for migrate_subxact (computing the row may be what failed). */
typedef struct RowTry
{
	CopyPlans  *pl;
	Datum	   *key;
	Datum		data;
	bool		isnull;
} RowTry;

/* migrate_subxact callback: fetch one source row as jsonb. */
static void
row_try(void *arg)
{
	RowTry	   *t = (RowTry *) arg;
	MemoryContext cxt = CurrentMemoryContext;

	t->isnull = true;
	if (SPI_execute_plan(t->pl->row, t->key, NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &t->isnull);

		if (!t->isnull)
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			t->data = PointerGetDatum(PG_DETOAST_DATUM_COPY(d));
			MemoryContextSwitchTo(old);
		}
	}
}

/* A failed single row: its key and (when it can be computed) its data, and the error. */
static void
record_failed_row(CopyJob *cj, CopyPlans *pl, Datum *key, ErrorData *edata)
{
	RowTry		t = {0};
	Datum		rkey = (Datum) 0;
	bool		knull = true;
	ErrorData  *rowerr;

	if (SPI_execute_plan(pl->keyjson, key, NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		rkey = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &knull);
		if (!knull)
			rkey = PointerGetDatum(PG_DETOAST_DATUM_COPY(rkey));
	}
	t.pl = pl;
	t.key = key;
	rowerr = migrate_subxact(row_try, &t, true);
	if (rowerr != NULL && is_stop_error(rowerr))
		ReThrowError(rowerr);
	record_row_error(cj, rkey, knull, t.data, rowerr != NULL || t.isnull, edata, NULL, NULL);
	cj->failed++;
}

/* Arguments of a range insert, for migrate_subxact. */
typedef struct RangeTry
{
	CopyPlans  *pl;
	Datum	   *args;
	bool		have_lo;
	int64		inserted;
} RangeTry;

/* migrate_subxact callback: insert one key range. */
static void
range_try(void *arg)
{
	RangeTry   *t = (RangeTry *) arg;

	bool		isnull;

	if (SPI_execute_plan(t->pl->range[t->have_lo], t->args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "range insert failed");
	t->inserted = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Insert the rows whose keys are keys[lo+1..hi] (lo = -1: from the batch's
 * start, after *start or from the beginning); a failing range is split in
 * up to 8 parts, down to single rows, whose errors are recorded.
 */
static void
insert_range(CopyJob *cj, CopyPlans *pl, Datum **keys, int lo, int hi, Datum *start)
{
	RangeTry	t;
	ErrorData  *edata;
	int			nk = cj->nkeys;
	Datum	   *lo_key = lo >= 0 ? keys[lo] : start;
	int			n = hi - lo;

	CHECK_FOR_INTERRUPTS();
	t.pl = pl;
	t.have_lo = lo_key != NULL;
	t.args = palloc(sizeof(Datum) * nk * 2);
	memcpy(t.args, keys[hi], sizeof(Datum) * nk);
	if (t.have_lo)
		memcpy(t.args + nk, lo_key, sizeof(Datum) * nk);
	t.inserted = 0;
	edata = migrate_subxact(range_try, &t, true);
	if (edata == NULL)
	{
		cj->copied += t.inserted;
		cj->skipped += n - t.inserted;
		return;
	}
	if (is_stop_error(edata))
		ReThrowError(edata);
	if (n == 1)
	{
		record_failed_row(cj, pl, keys[hi], edata);
		return;
	}
	{
		int			parts = n < 8 ? n : 8;
		int			from = lo;

		for (int p = 1; p <= parts; p++)
		{
			int			to = lo + (int) (((int64) n * p) / parts);

			if (to > from)
				insert_range(cj, pl, keys, from, to, start);
			from = to;
		}
	}
}

/* Arguments of a batch, for migrate_subxact. */
typedef struct BatchTry
{
	CopyJob    *cj;
	CopyPlans  *pl;
	Datum	   *args;
	int64		read;
	int64		inserted;
	int64		bad;			/* rows the prechecks left out (recorded) */
	Datum	   *last;			/* the batch's last key, in job_cxt */
} BatchTry;

/* migrate_subxact callback: one batch as one statement. */
static void
batch_try(void *arg)
{
	BatchTry   *t = (BatchTry *) arg;
	CopyJob    *cj = t->cj;
	bool		isnull;
	SPITupleTable *tt;

	if (SPI_execute_plan(t->pl->batch[cj->have_last][cj->conflicts_seen], t->args,
						 NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "batch failed");
	if (SPI_processed == 0)
	{
		t->read = 0;
		return;
	}
	/* recording a failed row runs queries of its own: keep the batch's result */
	tt = SPI_tuptable;
	t->read = DatumGetInt64(SPI_getbinval(tt->vals[0], tt->tupdesc, 1, &isnull));
	t->inserted = DatumGetInt64(SPI_getbinval(tt->vals[0], tt->tupdesc, 2, &isnull));
	t->bad = 0;
	{
		HeapTuple	tup = tt->vals[0];
		TupleDesc	td = tt->tupdesc;
		Datum		codes = SPI_getbinval(tup, td, 3, &isnull);

		if (!isnull)
		{
			Datum	   *c,
					   *d,
					   *k,
					   *r;
			bool	   *dn,
					   *kn,
					   *rn;
			int			n;

			deconstruct_array(DatumGetArrayTypeP(codes), INT4OID, 4, true, TYPALIGN_INT, &c, NULL, &n);
			deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, td, 4, &isnull)), TEXTOID, -1, false,
							  TYPALIGN_INT, &d, &dn, &n);
			deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, td, 5, &isnull)), JSONBOID, -1, false,
							  TYPALIGN_INT, &k, &kn, &n);
			deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, td, 6, &isnull)), JSONBOID, -1, false,
							  TYPALIGN_INT, &r, &rn, &n);
			for (int i = 0; i < n; i++)
			{
				int			code = DatumGetInt32(c[i]);
				ErrorData	e = {0};

				e.detail = dn[i] ? NULL : TextDatumGetCString(d[i]);
				record_row_error(cj, k[i], kn[i], r[i], rn[i], &e,
								 (const char *) list_nth(cj->bad_states, code - 1),
								 (const char *) list_nth(cj->bad_messages, code - 1));
			}
			t->bad = n;
		}
	}
	t->last = copy_key(cj, cj->job_cxt, tt->vals[0], tt->tupdesc, 7, NULL);
	SPI_freetuptable(tt);
}

/*
 * A batch failed on a row: read its keys, insert it range by range, and
 * return its last key.
 */
static Datum *
batch_by_ranges(CopyJob *cj, CopyPlans *pl, Datum *args, int64 *read)
{
	Datum	  **keys;
	uint64		n;

	if (SPI_execute_plan(pl->keys[cj->have_last], args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the keys of the batch");
	n = SPI_processed;
	*read = n;
	if (n == 0)
		return NULL;
	keys = MemoryContextAlloc(cj->batch_cxt, sizeof(Datum *) * n);
	for (uint64 r = 0; r < n; r++)
		keys[r] = copy_key(cj, cj->batch_cxt, SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, NULL);
	SPI_freetuptable(SPI_tuptable);
	insert_range(cj, pl, keys, -1, (int) n - 1, cj->have_last ? cj->last : NULL);
	/* the last key outlives the batch */
	return copy_key(cj, cj->job_cxt, NULL, NULL, 0, keys[n - 1]);
}

/*
 * Pin the settings that change the text form of values (dates, intervals,
 * floats), so that a saved key reads back the same in another session.
 * Returns the GUC nest level to pop with AtEOXact_GUC.
 */
static int
pin_text_forms(void)
{
	int			nest = NewGUCNestLevel();

	(void) set_config_option("datestyle", "ISO, YMD", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("intervalstyle", "postgres", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("extra_float_digits", "3", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return nest;
}

/* The key values as a jsonb object {"k1": v1, ...} and as a text[] of their text forms. */
static void
key_to_json(CopyJob *cj, Datum *key, Datum *json, Datum *texts)
{
	StringInfoData buf;
	Datum	   *t = palloc(sizeof(Datum) * cj->nkeys);
	int			nest = pin_text_forms();

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < cj->nkeys; i++)
	{
		Oid			out;
		bool		varlena;
		char	   *s;

		getTypeOutputInfo(cj->key_types[i], &out, &varlena);
		s = OidOutputFunctionCall(out, key[i]);
		t[i] = CStringGetTextDatum(s);
		if (i)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, cj->keys[i]);
		appendStringInfoString(&buf, ": ");
		escape_json(&buf, s);
	}
	appendStringInfoChar(&buf, '}');
	AtEOXact_GUC(true, nest);
	*json = DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
	*texts = PointerGetDatum(construct_array(t, cj->nkeys, TEXTOID, -1, false, TYPALIGN_INT));
}

/* Save the job's progress (as the extension owner). */
static void
save_progress(CopyJob *cj, bool finished)
{
	Oid			types[9] = {TEXTOID, JSONBOID, TEXTARRAYOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, BOOLOID};
	Datum		v[9];
	char		n[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	v[0] = CStringGetTextDatum(cj->job);
	if (cj->have_last)
		key_to_json(cj, cj->last, &v[1], &v[2]);
	else
		n[1] = n[2] = 'n';
	v[3] = Int64GetDatum(cj->job_read + cj->read);
	v[4] = Int64GetDatum(cj->job_copied + cj->copied);
	v[5] = Int64GetDatum(cj->job_skipped + cj->skipped);
	v[6] = Int64GetDatum(cj->job_failed + cj->failed);
	v[7] = Int64GetDatum(cj->job_batches + cj->batches);
	v[8] = BoolGetDatum(finished);
	if (migrate_owner_spi("UPDATE migrate.copy_jobs SET last_key = COALESCE($2, last_key),"
						  " last_key_text = COALESCE($3, last_key_text), rows_read = $4, rows_copied = $5,"
						  " rows_skipped = $6, rows_failed = $7, batches = $8, updated = pg_catalog.clock_timestamp(),"
						  " state = CASE WHEN $9 THEN 'finished' ELSE 'running' END,"
						  " finished = CASE WHEN $9 THEN pg_catalog.clock_timestamp() END"
						  " WHERE job = $1", 9, types, v, n, false, 0, true) != SPI_OK_UPDATE)
		elog(ERROR, "could not save the progress of the copy job");
}

/* Record an event (as the extension owner). */
static void
copy_event(CopyJob *cj, const char *kind, const char *severity, const char *message)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, JSONBOID};
	Datum		v[4];
	StringInfoData d;

	initStringInfo(&d);
	appendStringInfoString(&d, "{\"job\": ");
	escape_json(&d, cj->job);
	appendStringInfoString(&d, ", \"target\": ");
	escape_json(&d, cj->target_name);
	appendStringInfo(&d, ", \"rows_read\": " INT64_FORMAT ", \"rows_copied\": " INT64_FORMAT
					 ", \"rows_skipped\": " INT64_FORMAT ", \"rows_failed\": " INT64_FORMAT "}",
					 cj->read, cj->copied, cj->skipped, cj->failed);
	v[0] = CStringGetTextDatum(kind);
	v[1] = CStringGetTextDatum(severity);
	v[2] = CStringGetTextDatum(message);
	v[3] = DirectFunctionCall1(jsonb_in, CStringGetDatum(d.data));
	if (migrate_owner_spi("SELECT migrate.record_event($1, $2, $3, $4)", 4, types, v, NULL, false, 0, true) != SPI_OK_SELECT)
		elog(ERROR, "could not record the event");
}

/* A query's text with every run of blanks as one space, for comparing two spellings of it. */
static char *
collapse_blanks(const char *q)
{
	StringInfoData b;
	bool		blank = false;

	initStringInfo(&b);
	for (; *q; q++)
	{
		if (scanner_isspace(*q))
			blank = b.len > 0;
		else
		{
			if (blank)
				appendStringInfoChar(&b, ' ');
			blank = false;
			appendStringInfoChar(&b, *q);
		}
	}
	return b.data;
}

/* Are the stored key columns (a text[]) the job's? */
static bool
same_keys(CopyJob *cj, Datum stored)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	deconstruct_array(DatumGetArrayTypeP(stored), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n != cj->nkeys)
		return false;
	for (int i = 0; i < n; i++)
		if (nulls[i] || strcmp(TextDatumGetCString(elems[i]), cj->keys[i]) != 0)
			return false;
	return true;
}

/*
 * Find or create the job's row.  Returns true when it existed (a resume);
 * sets *finished when it had finished.
 */
static bool
open_job(CopyJob *cj, ArrayType *keys_arr, bool *finished)
{
	Oid			types[6] = {TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, INT4OID, TEXTOID};
	Datum		v[6];
	TupleDesc	td;
	HeapTuple	tup;
	bool		isnull;
	char	   *src,
			   *tgt,
			   *state;
	Datum		keys_d;

	v[0] = CStringGetTextDatum(cj->job);
	if (migrate_owner_spi("SELECT source, target, key_columns, state, last_key_text, rows_read, rows_copied,"
						  " rows_skipped, rows_failed, batches FROM migrate.copy_jobs WHERE job = $1 FOR UPDATE",
						  1, types, v, NULL, false, 1, true) != SPI_OK_SELECT)
		elog(ERROR, "could not read the copy job");
	*finished = false;
	if (SPI_processed == 0)
	{
		v[1] = CStringGetTextDatum(cj->source_orig);
		v[2] = CStringGetTextDatum(cj->target_name);
		v[3] = PointerGetDatum(keys_arr);
		v[4] = Int32GetDatum(cj->batch_size);
		v[5] = CStringGetTextDatum(cj->on_conflict_nothing ? "nothing" : "error");
		if (migrate_owner_spi("INSERT INTO migrate.copy_jobs (job, source, target, key_columns, batch_size, on_conflict)"
							  " VALUES ($1, $2, $3, $4, $5, $6)", 6, types, v, NULL, false, 0, true) != SPI_OK_INSERT)
			elog(ERROR, "could not create the copy job");
		return false;
	}
	td = SPI_tuptable->tupdesc;
	tup = SPI_tuptable->vals[0];
	src = SPI_getvalue(tup, td, 1);
	tgt = SPI_getvalue(tup, td, 2);
	keys_d = SPI_getbinval(tup, td, 3, &isnull);
	state = SPI_getvalue(tup, td, 4);
	/* the same query, however its lines are broken and indented */
	if (strcmp(collapse_blanks(src), collapse_blanks(cj->source_orig)) != 0 ||
		strcmp(tgt, cj->target_name) != 0 || !same_keys(cj, keys_d))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("copy job \"%s\" exists and copies something else", cj->job),
				 errdetail("It copies into %s, by %s, from: %s", tgt, SPI_getvalue(tup, td, 3), src),
				 errhint("Give this copy another job name, or call it with the job's own arguments to resume it.")));
	cj->job_read = DatumGetInt64(SPI_getbinval(tup, td, 6, &isnull));
	cj->job_copied = DatumGetInt64(SPI_getbinval(tup, td, 7, &isnull));
	cj->job_skipped = DatumGetInt64(SPI_getbinval(tup, td, 8, &isnull));
	cj->job_failed = DatumGetInt64(SPI_getbinval(tup, td, 9, &isnull));
	cj->job_batches = DatumGetInt64(SPI_getbinval(tup, td, 10, &isnull));
	*finished = strcmp(state, "finished") == 0;
	/* the resume point, from the text forms of the last key */
	{
		Datum		lt = SPI_getbinval(tup, td, 5, &isnull);

		if (!isnull)
		{
			Datum	   *elems;
			bool	   *nulls;
			int			nelems;
			int			nest;

			deconstruct_array(DatumGetArrayTypeP(lt), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &nelems);
			if (nelems != cj->nkeys)
				elog(ERROR, "copy job \"%s\" has a last key of %d values for %d key columns", cj->job, nelems, cj->nkeys);
			nest = pin_text_forms();

			cj->last = MemoryContextAlloc(cj->job_cxt, sizeof(Datum) * cj->nkeys);
			for (int i = 0; i < cj->nkeys; i++)
			{
				Oid			in,
							ioparam;
				MemoryContext old = MemoryContextSwitchTo(cj->job_cxt);

				getTypeInputInfo(cj->key_types[i], &in, &ioparam);
				cj->last[i] = OidInputFunctionCall(in, TextDatumGetCString(elems[i]), ioparam, -1);
				MemoryContextSwitchTo(old);
			}
			AtEOXact_GUC(true, nest);
			cj->have_last = true;
		}
	}
	return true;
}

/* Rows with a NULL key cannot be ordered or found again: each is recorded as failed. */
static void
record_null_keys(CopyJob *cj)
{
	StringInfoData sql;
	StringInfoData isnull_cond;
	uint64		n;
	SPITupleTable *tt;

	initStringInfo(&isnull_cond);
	for (int i = 0; i < cj->nkeys; i++)
		appendStringInfo(&isnull_cond, "%ss.%s IS NULL", i ? " OR " : "", quote_identifier(cj->keys[i]));
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT pg_catalog.to_jsonb(s), ");
	append_key_object(&sql, cj, "s");
	appendStringInfo(&sql, " FROM (%s) AS s WHERE %s", cj->source, isnull_cond.data);
	if (SPI_execute(sql.data, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not look for NULL keys");
	n = SPI_processed;
	tt = SPI_tuptable;
	SPI_tuptable = NULL;
	for (uint64 r = 0; r < n; r++)
	{
		bool		dn,
					kn;
		Datum		data = SPI_getbinval(tt->vals[r], tt->tupdesc, 1, &dn);
		Datum		key = SPI_getbinval(tt->vals[r], tt->tupdesc, 2, &kn);

		record_row_error(cj, key, kn, data, dn, NULL, "22004",
						 "a key column is NULL: the row cannot be ordered or found again");
		cj->failed++;
		cj->read++;
	}
	SPI_freetuptable(tt);
}

/* The result document of a call. */
static Datum
copy_result(CopyJob *cj, bool resumed, bool finished, TimestampTz started)
{
	StringInfoData r;

	initStringInfo(&r);
	appendStringInfoString(&r, "{\"job\": ");
	escape_json(&r, cj->job);
	appendStringInfo(&r, ", \"rows_read\": " INT64_FORMAT ", \"rows_copied\": " INT64_FORMAT
					 ", \"rows_skipped\": " INT64_FORMAT ", \"rows_failed\": " INT64_FORMAT
					 ", \"batches\": " INT64_FORMAT ", \"elapsed_ms\": %.3f, \"state\": \"%s\", \"resumed\": %s"
					 ", \"job_rows_copied\": " INT64_FORMAT ", \"job_rows_failed\": " INT64_FORMAT "}",
					 cj->read, cj->copied, cj->skipped, cj->failed, cj->batches,
					 migrate_elapsed_ms(started, GetCurrentTimestamp()),
					 finished ? "finished" : "running", resumed ? "true" : "false",
					 cj->job_copied + cj->copied, cj->job_failed + cj->failed);
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(r.data));
}

/* May the current user run migrate.copy_rows? */
static bool
has_copy_rows_privilege(void)
{
	Oid			f = DatumGetObjectId(DirectFunctionCall1(to_regprocedure,
														 CStringGetTextDatum("migrate.copy_rows(text, text, regclass, text[], integer, text)")));

	return OidIsValid(f) && pg_proc_aclcheck(f, GetUserId(), ACL_EXECUTE) == ACLCHECK_OK;
}

/*
 * The target argument: not NULL and a relation that exists (both callers;
 * copy_rows also requires a table).  Sets the job's target and its name.
 */
static void
target_arg(FunctionCallInfo fcinfo, int argno, CopyJob *cj)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("target must not be NULL")));
	cj->target = PG_GETARG_OID(argno);
	if (get_rel_relkind(cj->target) == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("target relation with OID %u does not exist", cj->target)));
	cj->target_name = migrate_qualified_relname(cj->target);
}

/*
 * The key_columns argument: not NULL, not empty, no NULL element.  Sets the
 * job's keys and returns the array.
 */
static ArrayType *
key_columns_arg(FunctionCallInfo fcinfo, int argno, CopyJob *cj)
{
	ArrayType  *arr;
	Datum	   *kd;
	bool	   *kn;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("key_columns must not be NULL"),
				 errhint("Pass the columns that order and identify the rows, e.g. '{legacy_id}'.")));
	arr = PG_GETARG_ARRAYTYPE_P(argno);
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &kd, &kn, &cj->nkeys);
	if (cj->nkeys == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key_columns must name at least one column"),
				 errhint("Pass the columns that order and identify the rows, e.g. '{legacy_id}'.")));
	cj->keys = palloc(sizeof(char *) * cj->nkeys);
	for (int i = 0; i < cj->nkeys; i++)
	{
		if (kn[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("key_columns must not contain NULL")));
		cj->keys[i] = TextDatumGetCString(kd[i]);
	}
	return arr;
}

PG_FUNCTION_INFO_V1(migrate_copy_rows);
/*
 * SQL: migrate.copy_rows(job, source_query, target, key_columns, batch_size,
 * on_conflict) and migrate.copy_rows_step(..., max_batches): copy the
 * source's rows into target in key order, batch by batch; returns the
 * counts as jsonb.
 */
Datum
migrate_copy_rows(PG_FUNCTION_ARGS)
{
	CopyJob		cj = {0};
	CopyPlans	pl;
	ArrayType  *keys_arr;
	char	   *on_conflict;
	int			max_batches = 0;
	bool		resumed,
				finished;
	TimestampTz started = GetCurrentTimestamp();
	Datum		result;
	MemoryContext caller_cxt = CurrentMemoryContext;

	cj.job = migrate_text_arg(fcinfo, 0, "job", false, false);
	cj.source_orig = migrate_text_arg(fcinfo, 1, "source_query", false, false);
	target_arg(fcinfo, 2, &cj);
	keys_arr = key_columns_arg(fcinfo, 3, &cj);
	for (int i = 0; i < cj.nkeys; i++)
	{
		for (int j = 0; j < i; j++)
			if (strcmp(cj.keys[i], cj.keys[j]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("key column \"%s\" is named twice", cj.keys[i])));
	}
	cj.batch_size = PG_ARGISNULL(4) ? 10000 : PG_GETARG_INT32(4);
	if (cj.batch_size <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch_size must be greater than zero, not %d", cj.batch_size)));
	on_conflict = PG_ARGISNULL(5) ? "nothing" : text_to_cstring(PG_GETARG_TEXT_PP(5));
	if (strcmp(on_conflict, "nothing") != 0 && strcmp(on_conflict, "error") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("on_conflict must be nothing or error, not \"%s\"", on_conflict),
				 errhint("nothing: rows whose key is already in the target are skipped (re-runs are idempotent); error: they are recorded as failed rows.")));
	cj.on_conflict_nothing = strcmp(on_conflict, "nothing") == 0;
	if (PG_NARGS() > 6)
	{
		/* copy_rows_step: for the callers of copy_rows_each (or copy_rows) */
		Oid			each = DatumGetObjectId(DirectFunctionCall1(to_regprocedure,
																CStringGetTextDatum("migrate.copy_rows_each(text, text, regclass, text[], integer, text)")));

		if (!OidIsValid(each) ||
			(pg_proc_aclcheck(each, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK &&
			 !has_copy_rows_privilege()))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for function copy_rows_step"),
					 errhint("It is the step of migrate.copy_rows_each; grant EXECUTE on that procedure.")));
		if (!PG_ARGISNULL(6))
			max_batches = PG_GETARG_INT32(6);
	}
	{
		char		relkind = get_rel_relkind(cj.target);

		if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("target %s is not a table", cj.target_name),
					 errhint("Copy into an ordinary or partitioned table.")));
	}
	cj.source = check_select(cj.source_orig);
	migrate_check_writable("migrate.copy_rows");
	cj.job_cxt = AllocSetContextCreate(CurrentMemoryContext, "migrate copy job", ALLOCSET_DEFAULT_SIZES);
	cj.batch_cxt = AllocSetContextCreate(cj.job_cxt, "migrate copy batch", ALLOCSET_DEFAULT_SIZES);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	describe_source(&cj);
	check_target_columns(&cj);
	cj.key_arbiter = cj.on_conflict_nothing && has_key_arbiter(&cj);
	build_lists(&cj);
	build_prechecks(&cj);
	prepare_plans(&cj, &pl);

	resumed = open_job(&cj, keys_arr, &finished);
	if (finished)
	{
		/* nothing to do: the job's totals */
		cj.read = cj.job_read;
		cj.copied = cj.job_copied;
		cj.skipped = cj.job_skipped;
		cj.failed = cj.job_failed;
		cj.batches = cj.job_batches;
		cj.job_read = cj.job_copied = cj.job_skipped = cj.job_failed = cj.job_batches = 0;
		/* the result outlives SPI: built in the caller's context */
		MemoryContextSwitchTo(caller_cxt);
		result = copy_result(&cj, true, true, started);
		SPI_finish();
		PG_RETURN_DATUM(result);
	}
	if (!resumed)
	{
		copy_event(&cj, "copy_started", "info", psprintf("copy job %s started: into %s", cj.job, cj.target_name));
		record_null_keys(&cj);
	}

	for (;;)
	{
		BatchTry	t = {0};
		Datum		args[1 + INDEX_MAX_KEYS];
		ErrorData  *edata;

		CHECK_FOR_INTERRUPTS();
		if (max_batches > 0 && cj.batches >= max_batches)
			break;
		if (cj.nkeys > INDEX_MAX_KEYS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("at most %d key columns", INDEX_MAX_KEYS)));
		args[0] = Int32GetDatum(cj.batch_size);
		if (cj.have_last)
			memcpy(&args[1], cj.last, sizeof(Datum) * cj.nkeys);
		t.cj = &cj;
		t.pl = &pl;
		t.args = args;
		edata = migrate_subxact(batch_try, &t, true);
		/*
		 * on_conflict nothing: batches go without ON CONFLICT (speculative
		 * insertion costs) until one breaks a unique constraint; that batch
		 * and the rest use ON CONFLICT (see prepare_plans: on the key
		 * columns when they have a unique index, so a row that breaks another
		 * unique constraint fails that batch again and is found range by
		 * range)
		 */
		if (edata != NULL && edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION &&
			cj.on_conflict_nothing && !cj.conflicts_seen)
		{
			cj.conflicts_seen = true;
			edata = migrate_subxact(batch_try, &t, true);
		}
		if (edata != NULL)
		{
			if (is_stop_error(edata))
				ReThrowError(edata);
			/* a row failed: the batch again, range by range */
			t.last = batch_by_ranges(&cj, &pl, args, &t.read);
			cj.read += t.read;
		}
		else
		{
			cj.read += t.read;
			cj.copied += t.inserted;
			cj.failed += t.bad;
			cj.skipped += t.read - t.inserted - t.bad;
		}
		if (t.read == 0)
		{
			finished = true;
			break;
		}
		cj.last = t.last;
		cj.have_last = true;
		cj.batches++;
		save_progress(&cj, false);
		MemoryContextReset(cj.batch_cxt);
		if (migrate_copy_notice_batches > 0 &&
			(cj.job_batches + cj.batches) % migrate_copy_notice_batches == 0)
			ereport(NOTICE,
					(errmsg("copy job %s: " INT64_FORMAT " batches, " INT64_FORMAT " rows copied, " INT64_FORMAT
							" skipped, " INT64_FORMAT " failed",
							cj.job, cj.job_batches + cj.batches, cj.job_copied + cj.copied,
							cj.job_skipped + cj.skipped, cj.job_failed + cj.failed)));
		if (t.read < cj.batch_size)
		{
			finished = true;
			break;
		}
	}
	save_progress(&cj, finished);
	if (cj.failed > 0)
		copy_event(&cj, "copy_rows_failed", "warning",
				   psprintf("copy job %s: " INT64_FORMAT " row(s) failed (see migrate.copy_errors)", cj.job, cj.failed));
	if (finished)
		copy_event(&cj, "copy_finished", "info",
				   psprintf("copy job %s finished: " INT64_FORMAT " rows copied, " INT64_FORMAT " skipped, " INT64_FORMAT " failed",
							cj.job, cj.job_copied + cj.copied, cj.job_skipped + cj.skipped, cj.job_failed + cj.failed));
	MemoryContextSwitchTo(caller_cxt);
	result = copy_result(&cj, resumed, finished, started);
	SPI_finish();
	MemoryContextDelete(cj.job_cxt);
	PG_RETURN_DATUM(result);
}

PG_FUNCTION_INFO_V1(migrate_check_copy_source);
/*
 * SQL: migrate.check_copy_source(source_query, target, key_columns):
 * the checks of copy_rows for migrate.reconcile (a target with rows to
 * read; one SELECT; the key columns are output columns of it and columns
 * of target).
 */
Datum
migrate_check_copy_source(PG_FUNCTION_ARGS)
{
	CopyJob		cj = {0};

	cj.source_orig = migrate_text_arg(fcinfo, 0, "source_query", false, false);
	target_arg(fcinfo, 1, &cj);
	(void) key_columns_arg(fcinfo, 2, &cj);
	{
		/* a relation with rows to compare (a view will do: nothing is written) */
		char		relkind = get_rel_relkind(cj.target);

		if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE && relkind != RELKIND_VIEW &&
			relkind != RELKIND_MATVIEW && relkind != RELKIND_FOREIGN_TABLE)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("target %s is not a table, view or materialized view", cj.target_name),
					 errhint("Compare with the table the rows were copied into.")));
	}
	cj.source = check_select(cj.source_orig);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	describe_source(&cj);
	check_target_keys(&cj);
	SPI_finish();
	PG_RETURN_VOID();
}
