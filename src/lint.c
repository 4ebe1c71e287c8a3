/*-------------------------------------------------------------------------
 * lint.c
 *	  The lock-aware linter: rules over statements parsed by PostgreSQL's own
 *	  parser plus facts from the live catalog (table size, column types,
 *	  validated NOT NULL checks, function volatility), with the exact lock
 *	  each statement takes and per-statement suppression comments.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/index.h"
#include "catalog/pg_inherits.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/tablecmds.h"
#include "common/keywords.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_type.h"
#include "parser/scanner.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"
#include "utils/json.h"

#include "errors.h"
#include "events.h"
#include "lint.h"
#include "script.h"
#include "util.h"

/* Everything the rules need while walking one script. */
typedef struct LintState
{
	const char *script;
	List	   *findings;		/* LintFinding * */
	HTAB	   *names;			/* relations created or renamed by the script */
	List	   *new_enum_values;	/* values added by ALTER TYPE ... ADD VALUE */
	bool		lock_timeout_on;	/* a nonzero lock_timeout was SET so far */
	bool		reported_timeout;
	bool		has_normal;		/* statements that run in a transaction */
	bool		has_non_txn;	/* statements that cannot */
	ScriptStmt *st;				/* statement being linted */
	List	   *allowed;		/* rules suppressed for it */
} LintState;

/* ---------------------------------------------------------------------
 * Findings
 * ---------------------------------------------------------------------
 */

/* Is a rule suppressed for the current statement? */
static bool
rule_allowed(LintState *ls, const char *rule)
{
	ListCell   *lc;

	foreach(lc, ls->allowed)
		if (strcmp((char *) lfirst(lc), rule) == 0 ||
			strcmp((char *) lfirst(lc), "all") == 0)
			return true;
	return false;
}

/* Record a finding for the current statement (honouring migrate:allow). */
static void
add_finding(LintState *ls, const char *rule, const char *severity,
			LOCKMODE mode, const char *relation, char *message, const char *hint)
{
	LintFinding *f = palloc0(sizeof(LintFinding));

	f->statement_no = ls->st ? ls->st->no : 0;
	f->line = ls->st ? ls->st->line : 0;
	f->rule = rule;
	f->severity = severity;
	f->lock_mode = mode != NoLock ? GetLockmodeName(DEFAULT_LOCKMETHOD, mode) : NULL;
	f->relation = relation ? pstrdup(relation) : NULL;
	f->message = message;
	f->hint = hint ? pstrdup(hint) : NULL;
	if (strcmp(severity, "info") != 0 && rule_allowed(ls, rule))
	{
		f->severity = "info";
		f->message = psprintf("allowed by -- migrate:allow %s: %s", rule, message);
	}
	ls->findings = lappend(ls->findings, f);
}

/* ---------------------------------------------------------------------
 * Catalog facts
 * ---------------------------------------------------------------------
 */

/* A relation as named in a statement, resolved against the catalog. */
typedef struct RelInfo
{
	Oid			relid;			/* InvalidOid: does not exist (yet) */
	bool		created_here;	/* created earlier in this script */
	char	   *name;			/* schema-qualified when it exists */
	char	   *size;			/* "~1,234 rows, 8 MB" */
	float4		reltuples;
	BlockNumber relpages;
} RelInfo;

/* Human-readable byte size. */
static char *
pretty_bytes(double bytes)
{
	const char *units[] = {"bytes", "kB", "MB", "GB", "TB"};
	int			u = 0;

	while (bytes >= 10240 && u < 4)
	{
		bytes /= 1024;
		u++;
	}
	return psprintf("%.0f %s", bytes, units[u]);
}

/* Key under which a relation name of the script is remembered. */
static char *
rangevar_key(RangeVar *rv)
{
	return rv->schemaname ? psprintf("%s.%s", rv->schemaname, rv->relname)
		: pstrdup(rv->relname);
}

/* What a name used by the script stands for. */
typedef struct ScriptName
{
	char		key[NAMEDATALEN * 2 + 2];	/* [schema.]name as written */
	Oid			relid;			/* InvalidOid: created by the script */
} ScriptName;

/* Remember that a name now means a new relation, or an existing relid. */
static void
note_name(LintState *ls, RangeVar *rv, Oid relid)
{
	char	   *key = rangevar_key(rv);
	ScriptName *entry;

	if (strlen(key) >= sizeof(entry->key))
		return;
	if (ls->names == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(entry->key);
		ctl.entrysize = sizeof(ScriptName);
		ctl.hcxt = CurrentMemoryContext;
		ls->names = hash_create("migrate_ext lint names", 64, &ctl,
#if PG_VERSION_NUM >= 140000
								HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
#else
								HASH_ELEM | HASH_CONTEXT);
#endif
	}
	entry = (ScriptName *) hash_search(ls->names, key, HASH_ENTER, NULL);
	entry->relid = relid;
}

/*
 * Look a relation up without ACL checks (lint must not fail where the
 * script itself would switch role) and without locking it.
 */
static Oid
lookup_relid(RangeVar *rv)
{
	if (rv->schemaname)
	{
		Oid			nsp = get_namespace_oid(rv->schemaname, true);

		return OidIsValid(nsp) ? get_relname_relid(rv->relname, nsp) : InvalidOid;
	}
	return RelnameGetRelid(rv->relname);
}

/* Resolve a relation (no lock taken: lint only reads the catalog). */
static RelInfo
rel_info(LintState *ls, RangeVar *rv)
{
	RelInfo		ri = {0};
	HeapTuple	tup;
	ScriptName *entry = NULL;

	if (ls->names)
	{
		char	   *key = rangevar_key(rv);

		if (strlen(key) < sizeof(entry->key))
			entry = (ScriptName *) hash_search(ls->names, key, HASH_FIND, NULL);
	}
	ri.created_here = entry != NULL && !OidIsValid(entry->relid);
	ri.relid = entry ? entry->relid : lookup_relid(rv);
	if (!OidIsValid(ri.relid))
	{
		ri.name = rangevar_key(rv);
		ri.size = pstrdup(ri.created_here ? "created earlier in this script" : "does not exist yet");
		return ri;
	}
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(ri.relid));
	if (!HeapTupleIsValid(tup))
	{
		ri.relid = InvalidOid;
		ri.name = rangevar_key(rv);
		ri.size = pstrdup("does not exist");
		return ri;
	}
	{
		Form_pg_class c = (Form_pg_class) GETSTRUCT(tup);

		ri.name = quote_qualified_identifier(get_namespace_name(c->relnamespace),
											 NameStr(c->relname));
		ri.reltuples = c->reltuples;
		ri.relpages = c->relpages;
		if (c->reltuples < 0)
			ri.size = psprintf("never analyzed, %s", pretty_bytes((double) c->relpages * BLCKSZ));
		else
			ri.size = psprintf("~%.0f %s, %s", c->reltuples,
							   c->reltuples == 1 ? "row" : "rows",
							   pretty_bytes((double) c->relpages * BLCKSZ));
	}
	ReleaseSysCache(tup);
	return ri;
}

/*
 * Does the (existing) table possibly hold rows?  Never analyzed nor vacuumed
 * (reltuples -1) means unknown, so yes.
 */
static bool
may_have_rows(const RelInfo *ri)
{
	return ri->relpages > 0 || ri->reltuples != 0;
}

/* Does a function name resolve to a volatile function (any overload)? */
static bool
funcname_is_volatile(List *funcname)
{
#if PG_VERSION_NUM >= 140000
	FuncCandidateList c = FuncnameGetCandidates(funcname, -1, NIL, false, false, false, true);
#else
	FuncCandidateList c = FuncnameGetCandidates(funcname, -1, NIL, false, false, true);
#endif

	for (; c; c = c->next)
		if (func_volatile(c->oid) == PROVOLATILE_VOLATILE)
			return true;
	return false;
}

/* raw_expression_tree_walker callback: any volatile function call? */
static bool
volatile_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, FuncCall) && funcname_is_volatile(((FuncCall *) node)->funcname))
		return true;
	return raw_expression_tree_walker(node, volatile_walker, context);
}

/* Is a raw default expression volatile (evaluated per row)? */
static bool
raw_expr_is_volatile(Node *expr)
{
	return volatile_walker(expr, NULL);
}

/* The last name of a TypeName, e.g. "int4", "varchar", "serial". */
static const char *
type_last_name(TypeName *tn)
{
	if (tn == NULL || tn->names == NIL)
		return "";
	return strVal(llast(tn->names));
}

/* Is the type name one of the serial pseudo-types? */
static bool
is_serial(TypeName *tn)
{
	const char *t = type_last_name(tn);

	return list_length(tn->names) == 1 &&
		(strcmp(t, "serial") == 0 || strcmp(t, "serial4") == 0 ||
		 strcmp(t, "bigserial") == 0 || strcmp(t, "serial8") == 0 ||
		 strcmp(t, "smallserial") == 0 || strcmp(t, "serial2") == 0);
}

/*
 * Would changing column attnum of relid to the given type rewrite the
 * table?  The same test as ALTER TABLE's: coerce the column to the new type,
 * simplify (length coercions that only widen become no-ops), and see whether
 * anything but relabelling remains.
 */
static bool
type_change_rewrites(Oid relid, AttrNumber attnum, TypeName *tn, Node *using_expr,
					 char **why)
{
	Oid			oldtype;
	int32		oldtypmod;
	Oid			oldcoll;
	Oid			newtype;
	int32		newtypmod;
	Type		typ;
	Node	   *expr;

	/* USING the column itself is the same as no USING */
	if (using_expr != NULL &&
		!(IsA(using_expr, ColumnRef) &&
		  list_length(((ColumnRef *) using_expr)->fields) == 1 &&
		  IsA(linitial(((ColumnRef *) using_expr)->fields), String) &&
		  strcmp(strVal(linitial(((ColumnRef *) using_expr)->fields)),
				 get_attname(relid, attnum, false)) == 0))
	{
		*why = "a USING expression rewrites every row";
		return true;
	}
	typ = LookupTypeName(NULL, tn, &newtypmod, true);
	if (typ == NULL)
	{
		*why = "the new type does not exist yet";
		return true;
	}
	newtype = ((Form_pg_type) GETSTRUCT(typ))->oid;
	ReleaseSysCache(typ);
	get_atttypetypmodcoll(relid, attnum, &oldtype, &oldtypmod, &oldcoll);

	expr = (Node *) makeVar(1, attnum, oldtype, oldtypmod, oldcoll, 0);
	expr = coerce_to_target_type(NULL, expr, oldtype, newtype, newtypmod,
								 COERCION_ASSIGNMENT, COERCE_IMPLICIT_CAST, -1);
	if (expr == NULL)
	{
		*why = "there is no assignment cast between the types";
		return true;
	}
	expr = (Node *) expression_planner((Expr *) expr);
	for (;;)
	{
		if (IsA(expr, Var) && ((Var *) expr)->varattno == attnum)
			return false;
		else if (IsA(expr, RelabelType))
			expr = (Node *) ((RelabelType *) expr)->arg;
		else if (IsA(expr, CoerceToDomain))
		{
			CoerceToDomain *d = (CoerceToDomain *) expr;

			if (DomainHasConstraints(d->resulttype))
			{
				*why = "the domain's constraints are checked on every row";
				return true;
			}
			expr = (Node *) d->arg;
		}
		else if (IsA(expr, FuncExpr) &&
				 (((FuncExpr *) expr)->funcid == F_TIMESTAMPTZ_TIMESTAMP ||
				  ((FuncExpr *) expr)->funcid == F_TIMESTAMP_TIMESTAMPTZ) &&
				 !TimestampTimestampTzRequiresRewrite())
			expr = linitial(((FuncExpr *) expr)->args);
		else
		{
			*why = "the types are not binary-coercible";
			return true;
		}
	}
}

/* Does the column exist and allow NULL? */
static bool
column_nullable(Oid relid, const char *colname)
{
	HeapTuple	tup = SearchSysCacheAttName(relid, colname);
	bool		nullable;

	if (!HeapTupleIsValid(tup))
		return false;
	nullable = !((Form_pg_attribute) GETSTRUCT(tup))->attnotnull;
	ReleaseSysCache(tup);
	return nullable;
}

/* The query of has_valid_not_null_check, for migrate_subxact. */
typedef struct NotNullCheckTry
{
	Oid			relid;
	const char *colname;
	bool		found;
} NotNullCheckTry;

/* migrate_subxact callback: look for the CHECK. */
static void
not_null_check_try(void *arg)
{
	NotNullCheckTry *t = (NotNullCheckTry *) arg;
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		values[2];
	int			rc;

	values[0] = ObjectIdGetDatum(t->relid);
	values[1] = CStringGetTextDatum(psprintf("CHECK ((%s IS NOT NULL))", quote_identifier(t->colname)));
	rc = SPI_execute_with_args("SELECT 1 FROM pg_catalog.pg_constraint c"
							   " WHERE c.conrelid OPERATOR(pg_catalog.=) $1"
							   "   AND c.contype OPERATOR(pg_catalog.=) 'c' AND c.convalidated"
							   "   AND pg_catalog.pg_get_constraintdef(c.oid) OPERATOR(pg_catalog.=) $2",
							   2, argtypes, values, NULL, true, 1);
	t->found = rc == SPI_OK_SELECT && SPI_processed > 0;
}

/*
 * Does a validated CHECK (col IS NOT NULL) exist on the table?  Lint takes
 * no lock: a table dropped meanwhile has none (the deparser would fail on
 * it, so the look runs in a subtransaction).
 */
static bool
has_valid_not_null_check(Oid relid, const char *colname)
{
	NotNullCheckTry t = {relid, colname, false};
	ErrorData  *edata = migrate_subxact(not_null_check_try, &t, true);

	if (edata != NULL)
	{
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);
		FreeErrorData(edata);
		return false;
	}
	return t.found;
}

/* ---------------------------------------------------------------------
 * Rules
 * ---------------------------------------------------------------------
 */

/* Style rules on a column definition (CREATE TABLE or ADD COLUMN). */
static void
lint_column_style(LintState *ls, ColumnDef *col, const char *relname)
{
	TypeName   *tn = col->typeName;
	const char *t = type_last_name(tn);
	bool		is_key = false;
	ListCell   *lc;

	if (tn == NULL)
		return;
	foreach(lc, col->constraints)
	{
		Constraint *c = (Constraint *) lfirst(lc);

		if (c->contype == CONSTR_PRIMARY || c->contype == CONSTR_IDENTITY)
			is_key = true;
	}
	if (col->colname && (strcmp(col->colname, "id") == 0 ||
						 (strlen(col->colname) > 3 &&
						  strcmp(col->colname + strlen(col->colname) - 3, "_id") == 0)))
		is_key = true;

	if (is_serial(tn))
		add_finding(ls, "prefer-identity", "info", NoLock, relname,
					psprintf("column %s uses %s", col->colname, t),
					"Use bigint GENERATED ALWAYS AS IDENTITY: standard SQL, no separate sequence grants, and no surprises on dump/restore.");
	if (is_key && (strcmp(t, "int4") == 0 || strcmp(t, "int2") == 0 ||
				   strcmp(t, "serial") == 0 || strcmp(t, "serial4") == 0 ||
				   strcmp(t, "smallserial") == 0 || strcmp(t, "serial2") == 0))
		add_finding(ls, "prefer-bigint", "info", NoLock, relname,
					psprintf("key column %s is %s and may run out of values", col->colname,
							 strcmp(t, "int4") == 0 ? "integer" : strcmp(t, "int2") == 0 ? "smallint" : t),
					"Use bigint (or bigint identity) for ids: changing it later rewrites the table and every referencing table.");
	if ((strcmp(t, "varchar") == 0 || strcmp(t, "bpchar") == 0) && tn->typmods != NIL)
		add_finding(ls, "prefer-text", "info", NoLock, relname,
					psprintf("column %s is %s(n)", col->colname,
							 strcmp(t, "varchar") == 0 ? "varchar" : "char"),
					"Use text with a CHECK (length(col) <= n) if a limit is needed: changing a CHECK does not rewrite, and char(n) pads with blanks.");
	if (strcmp(t, "timestamp") == 0)
		add_finding(ls, "prefer-timestamptz", "info", NoLock, relname,
					psprintf("column %s is timestamp without time zone", col->colname),
					"Use timestamptz: it stores an instant, so results do not depend on the session's TimeZone.");
	if (strcmp(t, "json") == 0 && list_length(tn->names) <= 2)
		add_finding(ls, "prefer-jsonb", "info", NoLock, relname,
					psprintf("column %s is json", col->colname),
					"Use jsonb: it can be indexed and compared (json has no equality operator, so DISTINCT and UNION fail).");
}

/* Rules for ALTER TABLE ... ADD COLUMN on an existing table. */
static void
lint_add_column(LintState *ls, ColumnDef *col, const RelInfo *ri, LOCKMODE mode)
{
	bool		not_null = col->is_not_null;
	Node	   *def = col->raw_default;
	bool		identity = false;
	bool		stored_generated = false;
	ListCell   *lc;

	foreach(lc, col->constraints)
	{
		Constraint *c = (Constraint *) lfirst(lc);

		if (c->contype == CONSTR_NOTNULL || c->contype == CONSTR_PRIMARY)
			not_null = true;
		else if (c->contype == CONSTR_DEFAULT)
			def = c->raw_expr;
		else if (c->contype == CONSTR_IDENTITY)
			identity = true;
		else if (c->contype == CONSTR_GENERATED)
			stored_generated = true;
		else if (c->contype == CONSTR_FOREIGN && !c->skip_validation)
			add_finding(ls, "add-foreign-key-not-valid", "warning", mode, ri->name,
						psprintf("column %s REFERENCES %s is validated while %s (%s) is locked",
								 col->colname, c->pktable ? c->pktable->relname : "?", ri->name, ri->size),
						"Add the column first, then ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, and VALIDATE CONSTRAINT in a later migration.");
		else if (c->contype == CONSTR_CHECK && !c->skip_validation)
			add_finding(ls, "add-check-not-valid", "warning", mode, ri->name,
						psprintf("column %s has a CHECK validated while %s (%s) is locked",
								 col->colname, ri->name, ri->size),
						"Add the column, then ADD CONSTRAINT ... CHECK (...) NOT VALID and VALIDATE CONSTRAINT in a later migration.");
		else if (c->contype == CONSTR_UNIQUE)
			add_finding(ls, "add-unique-without-index", "warning", mode, ri->name,
						psprintf("column %s UNIQUE builds an index while %s (%s) is locked",
								 col->colname, ri->name, ri->size),
						"Add the column, CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE USING INDEX.");
	}

	if (identity || is_serial(col->typeName))
		add_finding(ls, "add-column-volatile-default", "warning", mode, ri->name,
					psprintf("adding %s column %s fills every row: %s (%s) is rewritten under %s",
							 identity ? "identity" : type_last_name(col->typeName), col->colname,
							 ri->name, ri->size, GetLockmodeName(DEFAULT_LOCKMETHOD, mode)),
					"Add a nullable bigint column, attach a sequence default for new rows, and backfill in batches.");
	else if (stored_generated)
		add_finding(ls, "add-column-stored-generated", "warning", mode, ri->name,
					psprintf("adding stored generated column %s rewrites %s (%s) under %s",
							 col->colname, ri->name, ri->size, GetLockmodeName(DEFAULT_LOCKMETHOD, mode)),
					"Add a plain nullable column, backfill in batches, and maintain it with a trigger or in the application.");
	else if (def && raw_expr_is_volatile(def))
		add_finding(ls, "add-column-volatile-default", "warning", mode, ri->name,
					psprintf("column %s has a volatile default: %s (%s) is rewritten under %s",
							 col->colname, ri->name, ri->size, GetLockmodeName(DEFAULT_LOCKMETHOD, mode)),
					"Add the column without default (or with a constant one), then SET DEFAULT for new rows and backfill existing rows in batches.");
	else if (not_null && def == NULL)
		add_finding(ls, "add-column-not-null-no-default",
					may_have_rows(ri) ? "error" : "warning", mode, ri->name,
					psprintf("column %s is NOT NULL without a default: this fails if %s (%s) has any row",
							 col->colname, ri->name, ri->size),
					"Add the column with a constant DEFAULT (no rewrite since PostgreSQL 11), or add it nullable, backfill, then SET NOT NULL behind a validated CHECK.");
	lint_column_style(ls, col, ri->name);
}

/* Rules for one ALTER TABLE command. */
static void
lint_alter_cmd(LintState *ls, AlterTableCmd *cmd, const RelInfo *ri, LOCKMODE mode)
{
	Node	   *def = cmd->def;
	const char *lockname = GetLockmodeName(DEFAULT_LOCKMETHOD, mode);

	switch (cmd->subtype)
	{
		case AT_AddColumn:
#if PG_VERSION_NUM < 160000
		case AT_AddColumnRecurse:
#endif
			if (def && IsA(def, ColumnDef) &&
				!(cmd->missing_ok && get_attnum(ri->relid, ((ColumnDef *) def)->colname) > 0))
				lint_add_column(ls, (ColumnDef *) def, ri, mode);
			break;
		case AT_DropColumn:
#if PG_VERSION_NUM < 160000
		case AT_DropColumnRecurse:
#endif
			add_finding(ls, "drop-column", "warning", mode, ri->name,
						psprintf("dropping column %s of %s: code still reading it breaks", cmd->name, ri->name),
						"First deploy code that no longer uses the column (or make it unused), then drop it in a later migration.");
			break;
		case AT_AlterColumnType:
			if (def && IsA(def, ColumnDef))
			{
				AttrNumber	attnum = get_attnum(ri->relid, cmd->name);
				char	   *why = NULL;

				if (attnum > 0 &&
					type_change_rewrites(ri->relid, attnum, ((ColumnDef *) def)->typeName,
										 ((ColumnDef *) def)->raw_default, &why))
					add_finding(ls, "alter-column-type", may_have_rows(ri) ? "error" : "warning",
								mode, ri->name,
								psprintf("changing the type of %s.%s rewrites the table and its indexes under %s (%s): %s",
										 ri->name, cmd->name, lockname, ri->size, why),
								"Add a new column of the new type, backfill in batches, switch the code, then drop the old column.");
			}
			break;
		case AT_SetNotNull:
			if (column_nullable(ri->relid, cmd->name) &&
				!has_valid_not_null_check(ri->relid, cmd->name))
				add_finding(ls, "set-not-null", may_have_rows(ri) ? "warning" : "info", mode, ri->name,
							psprintf("SET NOT NULL on %s.%s scans %s (%s) under %s",
									 ri->name, cmd->name, ri->name, ri->size, lockname),
							psprintf("First ADD CONSTRAINT ... CHECK (%s IS NOT NULL) NOT VALID and VALIDATE it in a separate migration; SET NOT NULL then skips the scan.",
									 quote_identifier(cmd->name)));
			break;
		case AT_AddConstraint:
#if PG_VERSION_NUM < 160000
		case AT_AddConstraintRecurse:
#endif
			if (def && IsA(def, Constraint))
			{
				Constraint *c = (Constraint *) def;

				switch (c->contype)
				{
					case CONSTR_FOREIGN:
						if (!c->skip_validation)
							add_finding(ls, "add-foreign-key-not-valid", "warning", mode, ri->name,
										psprintf("FOREIGN KEY validated while %s (%s) and %s are locked (%s)",
												 ri->name, ri->size, c->pktable ? c->pktable->relname : "?", lockname),
										"ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT in a later migration (it only takes SHARE UPDATE EXCLUSIVE).");
						break;
					case CONSTR_CHECK:
						if (!c->skip_validation)
							add_finding(ls, "add-check-not-valid", "warning", mode, ri->name,
										psprintf("CHECK validated while %s (%s) is locked (%s)",
												 ri->name, ri->size, lockname),
										"ADD CONSTRAINT ... CHECK (...) NOT VALID, then VALIDATE CONSTRAINT in a later migration.");
						break;
					case CONSTR_PRIMARY:
						if (c->indexname == NULL)
							add_finding(ls, "add-primary-key-without-index", "warning", mode, ri->name,
										psprintf("ADD PRIMARY KEY builds its index while %s (%s) is locked (%s)",
												 ri->name, ri->size, lockname),
										"CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... PRIMARY KEY USING INDEX.");
						break;
					case CONSTR_UNIQUE:
						if (c->indexname == NULL)
							add_finding(ls, "add-unique-without-index", "warning", mode, ri->name,
										psprintf("ADD UNIQUE builds its index while %s (%s) is locked (%s)",
												 ri->name, ri->size, lockname),
										"CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... UNIQUE USING INDEX.");
						break;
					case CONSTR_EXCLUSION:
						add_finding(ls, "add-exclusion-constraint", "warning", mode, ri->name,
									psprintf("ADD EXCLUDE builds its index and checks every row while %s (%s) is locked (%s)",
											 ri->name, ri->size, lockname),
									"There is no online way to add an exclusion constraint: do it in a maintenance window or on a new table.");
						break;
					default:
						break;
				}
			}
			break;
		case AT_DropNotNull:
			add_finding(ls, "drop-not-null", "info", mode, ri->name,
						psprintf("DROP NOT NULL on %s.%s: code that relies on the column never being NULL may break",
								 ri->name, cmd->name),
						"Make sure every reader handles NULL before allowing it.");
			break;
		case AT_EnableRowSecurity:
		case AT_ForceRowSecurity:
		case AT_DisableRowSecurity:
		case AT_NoForceRowSecurity:
			add_finding(ls, "row-level-security-change", "warning", mode, ri->name,
						psprintf("changing row level security of %s takes %s: it waits for, and blocks, every query on the table",
								 ri->name, lockname),
						"Keep it short and behind a lock_timeout; enable RLS together with its policies in one migration, when the table is quiet.");
			break;
		case AT_DetachPartition:
			if (def && IsA(def, PartitionCmd)
#if PG_VERSION_NUM >= 140000
				&& !((PartitionCmd *) def)->concurrent
#endif
				)
				add_finding(ls, "detach-partition-non-concurrent", "warning", mode, ri->name,
							psprintf("DETACH PARTITION takes %s on %s", lockname, ri->name),
							"Use ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY in a non-transactional step (PostgreSQL 14+).");
			break;
		default:
			break;
	}
}

/* Rules for ALTER TABLE. */
static void
lint_alter_table(LintState *ls, AlterTableStmt *stmt)
{
	RelInfo		ri = rel_info(ls, stmt->relation);
	LOCKMODE	mode = AlterTableGetLockLevel(stmt->cmds);
	ListCell   *lc;

	if (!OidIsValid(ri.relid))
		return;
	foreach(lc, stmt->cmds)
		lint_alter_cmd(ls, (AlterTableCmd *) lfirst(lc), &ri, mode);
}

/*
 * Remember the relations a statement creates (only names that do not exist
 * yet: CREATE TABLE IF NOT EXISTS of an existing table creates nothing) and
 * the new names of renamed relations.
 */
static void
note_created(LintState *ls, Node *n)
{
	RangeVar   *rv = NULL;

	switch (nodeTag(n))
	{
		case T_CreateStmt:
			rv = ((CreateStmt *) n)->relation;
			break;
		case T_CreateTableAsStmt:
			rv = ((CreateTableAsStmt *) n)->into->rel;
			break;
		case T_ViewStmt:
			rv = ((ViewStmt *) n)->view;
			break;
		case T_IndexStmt:
			if (((IndexStmt *) n)->idxname)
				rv = makeRangeVar(((IndexStmt *) n)->relation->schemaname,
								  ((IndexStmt *) n)->idxname, -1);
			break;
		case T_CreateSeqStmt:
			rv = ((CreateSeqStmt *) n)->sequence;
			break;
		case T_RenameStmt:
			{
				RenameStmt *r = (RenameStmt *) n;

				if (r->relation && r->subname == NULL &&
					(r->renameType == OBJECT_TABLE || r->renameType == OBJECT_INDEX ||
					 r->renameType == OBJECT_VIEW || r->renameType == OBJECT_MATVIEW ||
					 r->renameType == OBJECT_SEQUENCE))
				{
					RelInfo		ri = rel_info(ls, r->relation);

					note_name(ls, makeRangeVar(r->relation->schemaname, r->newname, -1),
							  ri.relid);
				}
				return;
			}
		default:
			break;
	}
	if (rv && !OidIsValid(rel_info(ls, rv).relid))
		note_name(ls, rv, InvalidOid);
}

/* First token code the core scanner returns for str. */
static int
first_token(const char *str)
{
	core_yy_extra_type yyext;
	core_yyscan_t scanner;
	core_YYSTYPE yylval;
	YYLTYPE		yylloc;
	int			tok;

	scanner = scanner_init(str, &yyext, &ScanKeywords, ScanKeywordTokens);
	tok = core_yylex(&yylval, &yylloc, scanner);
	scanner_finish(scanner);
	return tok;
}

/*
 * Does the statement text use a string constant equal to value?  The
 * token code of string constants is learnt by scanning 'x', so no generated
 * grammar header is needed.
 */
static bool
uses_literal(const char *sql, const char *value)
{
	static int	sconst = -1;
	core_yy_extra_type yyext;
	core_yyscan_t scanner;
	core_YYSTYPE yylval;
	YYLTYPE		yylloc;
	int			tok;
	bool		found = false;

	if (sconst < 0)
		sconst = first_token("'x'");
	scanner = scanner_init(sql, &yyext, &ScanKeywords, ScanKeywordTokens);
	while ((tok = core_yylex(&yylval, &yylloc, scanner)) != 0)
	{
		if (tok == sconst && strcmp(yylval.str, value) == 0)
		{
			found = true;
			break;
		}
	}
	scanner_finish(scanner);
	return found;
}

/*
 * Does SET give a nonzero timeout?  SET ... = 0, SET ... TO DEFAULT and
 * RESET count as no timeout (the default is 0).
 */
static bool
set_value_nonzero(VariableSetStmt *v)
{
	Node	   *arg;
	int			ms;

	if (v->kind != VAR_SET_VALUE || v->args == NIL)
		return false;
	arg = (Node *) linitial(v->args);
	if (!IsA(arg, A_Const))
		return true;
	if (IsA(&((A_Const *) arg)->val, Integer))
		return intVal(&((A_Const *) arg)->val) != 0;
	if (IsA(&((A_Const *) arg)->val, String))
		return !parse_int(strVal(&((A_Const *) arg)->val), &ms, GUC_UNIT_MS, NULL) || ms != 0;
	return true;
}

/* Does the enum type already have this value? */
static bool
enum_value_exists(List *typname, const char *value)
{
	Oid			typoid = LookupTypeNameOid(NULL, makeTypeNameFromNameList(typname), true);
	HeapTuple	tup;

	if (!OidIsValid(typoid))
		return false;
	tup = SearchSysCache2(ENUMTYPOIDNAME, ObjectIdGetDatum(typoid), CStringGetDatum(value));
	if (!HeapTupleIsValid(tup))
		return false;
	ReleaseSysCache(tup);
	return true;
}

/* A RangeVar naming an existing relation by OID. */
static RangeVar *
rangevar_of(Oid relid)
{
	return makeRangeVar(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid), -1);
}

/* Append a lock unless the relation is already listed. */
static List *
add_catalog_lock(List *extra, List *locks, Oid relid, LOCKMODE mode)
{
	ListCell   *lc;
	ScriptLock *l;
	char	   *relname = get_rel_name(relid);

	if (relname == NULL)
		return extra;
	foreach(lc, locks)
		if (strcmp(((ScriptLock *) lfirst(lc))->relation->relname, relname) == 0)
			return extra;
	foreach(lc, extra)
		if (strcmp(((ScriptLock *) lfirst(lc))->relation->relname, relname) == 0)
			return extra;
	l = palloc0(sizeof(ScriptLock));
	l->relation = rangevar_of(relid);
	l->mode = mode;
	return lappend(extra, l);
}

/* Tables at the other end of a table's foreign keys (constraint name or all). */
static List *
fk_partner_tables(Oid relid, const char *conname)
{
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		values[2] = {ObjectIdGetDatum(relid), conname ? CStringGetTextDatum(conname) : (Datum) 0};
	char		nulls[2] = {' ', conname ? ' ' : 'n'};
	List	   *result = NIL;

	if (SPI_execute_with_args("SELECT CASE WHEN c.conrelid OPERATOR(pg_catalog.=) $1"
							  "            THEN c.confrelid ELSE c.conrelid END"
							  "  FROM pg_catalog.pg_constraint c"
							  " WHERE c.contype OPERATOR(pg_catalog.=) 'f'"
							  "   AND (c.conrelid OPERATOR(pg_catalog.=) $1 OR c.confrelid OPERATOR(pg_catalog.=) $1)"
							  "   AND ($2 IS NULL OR c.conname OPERATOR(pg_catalog.=) $2)",
							  2, argtypes, values, nulls, true, 0) == SPI_OK_SELECT)
	{
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			Oid			other = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
															   SPI_tuptable->tupdesc, 1, &isnull));

			if (other != relid)
				result = lappend_oid(result, other);
		}
	}
	return result;
}

/*
 * Locks the statement takes on relations it does not name, found in the
 * catalog: the partitions of a partitioned table it changes, the other
 * table of foreign keys it drops, the table of an index it reindexes, a
 * view it replaces.
 */
static List *
catalog_locks(LintState *ls, Node *n, List *locks)
{
	List	   *extra = NIL;
	ListCell   *lc;

	/* DDL on a partitioned table (without ONLY) takes the same lock on its partitions */
	if (IsA(n, AlterTableStmt) || IsA(n, TruncateStmt) ||
		(IsA(n, IndexStmt) && !((IndexStmt *) n)->concurrent))
	{
		foreach(lc, locks)
		{
			ScriptLock *l = (ScriptLock *) lfirst(lc);
			RelInfo		ri = rel_info(ls, l->relation);
			ListCell   *c;

			if (!OidIsValid(ri.relid) || !l->relation->inh ||
				get_rel_relkind(ri.relid) != RELKIND_PARTITIONED_TABLE)
				continue;
			foreach(c, find_all_inheritors(ri.relid, NoLock, NULL))
				if (lfirst_oid(c) != ri.relid)
					extra = add_catalog_lock(extra, locks, lfirst_oid(c), l->mode);
		}
	}

	switch (nodeTag(n))
	{
		case T_AlterTableStmt:
			{
				AlterTableStmt *a = (AlterTableStmt *) n;
				RelInfo		ri = rel_info(ls, a->relation);

				if (!OidIsValid(ri.relid))
					break;
				foreach(lc, a->cmds)
				{
					AlterTableCmd *cmd = (AlterTableCmd *) lfirst(lc);
					ListCell   *c;

					if (cmd->subtype == AT_DropConstraint && cmd->name)
						foreach(c, fk_partner_tables(ri.relid, cmd->name))
							extra = add_catalog_lock(extra, locks, lfirst_oid(c), AccessExclusiveLock);
				}
				break;
			}
		case T_DropStmt:
			if (((DropStmt *) n)->removeType == OBJECT_TABLE)
				foreach(lc, locks)
				{
					RelInfo		ri = rel_info(ls, ((ScriptLock *) lfirst(lc))->relation);
					ListCell   *c;

					if (OidIsValid(ri.relid))
						foreach(c, fk_partner_tables(ri.relid, NULL))
							extra = add_catalog_lock(extra, locks, lfirst_oid(c), AccessExclusiveLock);
				}
			break;
		case T_ReindexStmt:
			{
				ReindexStmt *r = (ReindexStmt *) n;

				if (r->kind == REINDEX_OBJECT_INDEX && r->relation)
				{
					RelInfo		ri = rel_info(ls, r->relation);
					Oid			tbl = OidIsValid(ri.relid) ? IndexGetRelation(ri.relid, true) : InvalidOid;

					if (OidIsValid(tbl))
						extra = add_catalog_lock(extra, locks, tbl, ShareLock);
				}
				break;
			}
		case T_ViewStmt:
			{
				ViewStmt   *v = (ViewStmt *) n;
				RelInfo		ri = rel_info(ls, v->view);

				if (v->replace && OidIsValid(ri.relid))
					extra = add_catalog_lock(extra, locks, ri.relid, AccessExclusiveLock);
				break;
			}
		default:
			break;
	}
	return extra;
}

/* Rules that look at the whole statement. */
static void
lint_statement(LintState *ls)
{
	Node	   *n = ls->st->parsetree;
	List	   *locks = script_statement_locks(n);
	ListCell   *lc;
	LOCKMODE	strongest = NoLock;
	char	   *strongest_rel = NULL;

	locks = list_concat(locks, catalog_locks(ls, n, locks));

	/* the lock profile: every lock on an existing relation */
	foreach(lc, locks)
	{
		ScriptLock *l = (ScriptLock *) lfirst(lc);
		RelInfo		ri = rel_info(ls, l->relation);

		add_finding(ls, "lock-profile", "info", l->mode, ri.name,
					psprintf("%s takes %s on %s (%s)", ls->st->command,
							 GetLockmodeName(DEFAULT_LOCKMETHOD, l->mode), ri.name, ri.size),
					NULL);
		if (OidIsValid(ri.relid) && l->mode > strongest)
		{
			strongest = l->mode;
			strongest_rel = ri.name;
		}
	}

	switch (ls->st->stmt_class)
	{
		case SCRIPT_STMT_TXN_CONTROL:
			add_finding(ls, "transaction-control", "error", NoLock, NULL,
						psprintf("%s in a migration script", ls->st->command),
						"Remove it: migrate.apply runs the whole script in the caller's transaction.");
			break;
		case SCRIPT_STMT_NON_TXN:
			ls->has_non_txn = true;
			add_finding(ls, "non-transactional-statement", "info", NoLock, NULL,
						psprintf("%s cannot run inside a transaction block: migrate.apply refuses it", ls->st->why),
						"Run it as a non-transactional step (pg_migrate runs such a file statement by statement outside a transaction).");
			break;
		case SCRIPT_STMT_UNSUPPORTED:
			add_finding(ls, "unsupported-statement", "error", NoLock, NULL,
						psprintf("%s cannot run inside a migration", ls->st->why),
						"Load data with INSERT ... SELECT or COPY from a server-side file.");
			break;
		case SCRIPT_STMT_NORMAL:
			if (!IsA(n, VariableSetStmt))
				ls->has_normal = true;
			break;
	}

	switch (nodeTag(n))
	{
		case T_AlterTableStmt:
			lint_alter_table(ls, (AlterTableStmt *) n);
			break;
		case T_IndexStmt:
			{
				IndexStmt  *i = (IndexStmt *) n;
				RelInfo		ri = rel_info(ls, i->relation);

				if (i->concurrent && !i->if_not_exists)
					add_finding(ls, "prefer-robust-statements", "info", NoLock, ri.name,
								pstrdup("CREATE INDEX CONCURRENTLY without IF NOT EXISTS cannot simply be re-run after a failure (it leaves an INVALID index)"),
								"Use CREATE INDEX CONCURRENTLY IF NOT EXISTS, and drop an INVALID leftover with DROP INDEX CONCURRENTLY before retrying.");

				if (!i->concurrent && OidIsValid(ri.relid))
					add_finding(ls, "create-index-non-concurrent", "warning", ShareLock, ri.name,
								psprintf("CREATE INDEX blocks writes to %s (%s) while the index is built",
										 ri.name, ri.size),
								"CREATE INDEX CONCURRENTLY in a non-transactional step.");
				break;
			}
		case T_DropStmt:
			{
				DropStmt   *d = (DropStmt *) n;

				if (d->concurrent && !d->missing_ok)
					add_finding(ls, "prefer-robust-statements", "info", NoLock, NULL,
								pstrdup("DROP INDEX CONCURRENTLY without IF EXISTS fails when re-run after a partial run"),
								"Use DROP INDEX CONCURRENTLY IF EXISTS.");
				foreach(lc, d->objects)
				{
					Node	   *obj = (Node *) lfirst(lc);
					RangeVar   *rv;
					RelInfo		ri;

					switch (d->removeType)
					{
						case OBJECT_TABLE:
							rv = makeRangeVarFromNameList((List *) obj);
							ri = rel_info(ls, rv);
							if (OidIsValid(ri.relid))
								add_finding(ls, "drop-table", "warning", AccessExclusiveLock, ri.name,
											psprintf("dropping table %s (%s) cannot be undone", ri.name, ri.size),
											"Make sure no code uses it any more and a backup exists; consider renaming it first and dropping it later.");
							break;
						case OBJECT_INDEX:
							if (!d->concurrent)
							{
								rv = makeRangeVarFromNameList((List *) obj);
								ri = rel_info(ls, rv);
								if (OidIsValid(ri.relid))
								{
									Oid			tbl = IndexGetRelation(ri.relid, true);

									add_finding(ls, "drop-index-non-concurrent", "warning", AccessExclusiveLock,
												OidIsValid(tbl) ? quote_qualified_identifier(get_namespace_name(get_rel_namespace(tbl)), get_rel_name(tbl)) : ri.name,
												psprintf("DROP INDEX %s takes AccessExclusiveLock on its table", ri.name),
												"DROP INDEX CONCURRENTLY in a non-transactional step.");
								}
							}
							break;
						case OBJECT_SCHEMA:
							add_finding(ls, "drop-schema", "warning", NoLock, strVal(obj),
										psprintf("dropping schema %s%s", strVal(obj),
												 d->behavior == DROP_CASCADE ? " and everything in it (CASCADE)" : ""),
										"Drop the objects you mean explicitly, after making sure nothing uses them.");
							break;
						case OBJECT_POLICY:
							rv = makeRangeVarFromNameList(list_truncate(list_copy((List *) obj),
																		list_length((List *) obj) - 1));
							ri = rel_info(ls, rv);
							if (OidIsValid(ri.relid))
								add_finding(ls, "policy-change", "warning", AccessExclusiveLock, ri.name,
											psprintf("DROP POLICY takes AccessExclusiveLock on %s (%s)", ri.name, ri.size),
											"Keep policy changes short and behind a lock_timeout; do them when the table is quiet.");
							break;
						default:
							break;
					}
				}
				break;
			}
		case T_DropdbStmt:
			add_finding(ls, "drop-database", "error", NoLock, ((DropdbStmt *) n)->dbname,
						psprintf("dropping database %s", ((DropdbStmt *) n)->dbname),
						"Never from a migration.");
			break;
		case T_RenameStmt:
			{
				RenameStmt *r = (RenameStmt *) n;

				if (r->relation && (r->renameType == OBJECT_TABLE || r->renameType == OBJECT_COLUMN))
				{
					RelInfo		ri = rel_info(ls, r->relation);

					if (OidIsValid(ri.relid))
						add_finding(ls, r->renameType == OBJECT_TABLE ? "rename-table" : "rename-column",
									"warning", AccessExclusiveLock, ri.name,
									r->renameType == OBJECT_TABLE ?
									psprintf("renaming table %s to %s breaks code using the old name", ri.name, r->newname) :
									psprintf("renaming column %s.%s to %s breaks code using the old name", ri.name, r->subname, r->newname),
									"Add the new name alongside (a view or a new column kept in sync), move the code, then drop the old name.");
				}
				break;
			}
		case T_TruncateStmt:
			if (((TruncateStmt *) n)->behavior == DROP_CASCADE)
				add_finding(ls, "truncate-cascade", "warning", AccessExclusiveLock, strongest_rel,
							pstrdup("TRUNCATE ... CASCADE also empties every table with a foreign key to these, recursively"),
							"Truncate the referencing tables explicitly.");
			break;
		case T_VacuumStmt:
			{
				VacuumStmt *v = (VacuumStmt *) n;
				ListCell   *o;
				bool		full = false;

				foreach(o, v->options)
					if (strcmp(((DefElem *) lfirst(o))->defname, "full") == 0)
						full = defGetBoolean((DefElem *) lfirst(o));
				if (v->is_vacuumcmd && full)
					add_finding(ls, "vacuum-full", "error", AccessExclusiveLock, strongest_rel,
								pstrdup("VACUUM FULL rewrites the table under AccessExclusiveLock"),
								"Use pg_repack or pg_squeeze, or plain VACUUM.");
				break;
			}
		case T_ClusterStmt:
			add_finding(ls, "cluster", "error", AccessExclusiveLock, strongest_rel,
						pstrdup("CLUSTER rewrites the table under AccessExclusiveLock"),
						"Use pg_repack, or accept a maintenance window.");
			break;
		case T_RefreshMatViewStmt:
			if (!((RefreshMatViewStmt *) n)->concurrent)
				add_finding(ls, "refresh-materialized-view-non-concurrent", "warning", AccessExclusiveLock,
							strongest_rel,
							pstrdup("REFRESH MATERIALIZED VIEW blocks every read of the view while it runs"),
							"REFRESH MATERIALIZED VIEW CONCURRENTLY (needs a unique index on the view).");
			break;
		case T_CreatePolicyStmt:
		case T_AlterPolicyStmt:
			if (strongest != NoLock)
				add_finding(ls, "policy-change", "warning", strongest, strongest_rel,
							psprintf("%s takes AccessExclusiveLock on %s: it waits for, and blocks, every query on the table",
									 ls->st->command, strongest_rel),
							"Keep policy changes short and behind a lock_timeout; do them when the table is quiet.");
			break;
		case T_CreateTrigStmt:
			if (strongest != NoLock)
				add_finding(ls, "create-trigger", "warning", strongest, strongest_rel,
							psprintf("CREATE TRIGGER takes ShareRowExclusiveLock on %s: it blocks writes and waits for running ones",
									 strongest_rel),
							"Keep it short and behind a lock_timeout; CREATE OR REPLACE TRIGGER avoids a drop-and-create gap.");
			break;
		case T_AlterDomainStmt:
			{
				AlterDomainStmt *a = (AlterDomainStmt *) n;

				if (a->subtype == 'C' && a->def && IsA(a->def, Constraint) &&
					!((Constraint *) a->def)->skip_validation)
					add_finding(ls, "add-domain-constraint-not-valid", "warning", NoLock, NULL,
								pstrdup("ALTER DOMAIN ADD CONSTRAINT checks every column of the domain while holding locks"),
								"ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT.");
				break;
			}
		case T_CreateDomainStmt:
			{
				ListCell   *c;

				foreach(c, ((CreateDomainStmt *) n)->constraints)
					if (((Constraint *) lfirst(c))->contype == CONSTR_CHECK)
					{
						add_finding(ls, "create-domain-with-constraint", "info", NoLock, NULL,
									pstrdup("a CHECK on a domain is validated against every column using it whenever it changes, under locks on all those tables"),
									"Prefer a CHECK constraint on each table column (it can be added NOT VALID and validated online).");
						break;
					}
				break;
			}
		case T_UpdateStmt:
		case T_DeleteStmt:
			{
				Node	   *where = IsA(n, UpdateStmt) ? ((UpdateStmt *) n)->whereClause
				: ((DeleteStmt *) n)->whereClause;
				RangeVar   *rv = IsA(n, UpdateStmt) ? ((UpdateStmt *) n)->relation
				: ((DeleteStmt *) n)->relation;
				RelInfo		ri = rel_info(ls, rv);

				if (where == NULL && OidIsValid(ri.relid) && may_have_rows(&ri))
					add_finding(ls, "backfill-in-migration", "warning", RowExclusiveLock, ri.name,
								psprintf("%s of every row of %s (%s) in one transaction: row locks held to the end of the migration, and WAL and bloat in one burst",
										 ls->st->command, ri.name, ri.size),
								"Backfill in batches outside the schema migration (e.g. with migrate.copy_rows or a loop committing per batch).");
				break;
			}
		case T_AlterEnumStmt:
			{
				AlterEnumStmt *e = (AlterEnumStmt *) n;

				if (e->newVal && e->oldVal == NULL &&
					!enum_value_exists(e->typeName, e->newVal))
					ls->new_enum_values = lappend(ls->new_enum_values, e->newVal);
				break;
			}
		case T_CreateStmt:
			{
				CreateStmt *c = (CreateStmt *) n;
				char	   *relname = rangevar_key(c->relation);

				foreach(lc, c->tableElts)
					if (IsA(lfirst(lc), ColumnDef))
						lint_column_style(ls, (ColumnDef *) lfirst(lc), relname);
				break;
			}
		default:
			break;
	}

	/* a value added to an enum cannot be used in the same transaction */
	if (!IsA(n, AlterEnumStmt))
	{
		foreach(lc, ls->new_enum_values)
		{
			char	   *v = (char *) lfirst(lc);

			if (strstr(ls->st->sql, v) != NULL && uses_literal(ls->st->sql, v))
				add_finding(ls, "enum-value-used-same-script", "error", NoLock, NULL,
							psprintf("enum value '%s' is added earlier in this script and used here: PostgreSQL refuses it in the same transaction", v),
							"Add the value in one migration and use it in a later one.");
		}
	}

	/* the script's own lock_timeout, as of this statement */
	if (IsA(n, VariableSetStmt) && ((VariableSetStmt *) n)->name &&
		strcmp(((VariableSetStmt *) n)->name, "lock_timeout") == 0)
		ls->lock_timeout_on = set_value_nonzero((VariableSetStmt *) n);

	/* strong locks without a lock_timeout of the script's own */
	if (!ls->lock_timeout_on && !ls->reported_timeout && strongest >= ShareLock)
	{
		ls->reported_timeout = true;
		add_finding(ls, "lock-timeout-missing", "info", strongest, strongest_rel,
					psprintf("%s takes %s without a lock_timeout set by the script (migrate.apply sets lock_timeout = migrate.lock_timeout)",
							 ls->st->command, GetLockmodeName(DEFAULT_LOCKMETHOD, strongest)),
					"Outside migrate.apply, start the script with SET lock_timeout = '5s' so it cannot queue behind a long transaction and block everyone.");
	}

	note_created(ls, n);
}

/* every rule name, for parsing migrate:allow comments */
static const char *const rule_names[] = {
	"add-check-not-valid",
	"add-column-not-null-no-default",
	"add-column-stored-generated",
	"add-column-volatile-default",
	"add-domain-constraint-not-valid",
	"add-exclusion-constraint",
	"add-foreign-key-not-valid",
	"add-primary-key-without-index",
	"add-unique-without-index",
	"alter-column-type",
	"backfill-in-migration",
	"cluster",
	"create-domain-with-constraint",
	"create-index-non-concurrent",
	"create-trigger",
	"detach-partition-non-concurrent",
	"drop-column",
	"drop-database",
	"drop-index-non-concurrent",
	"drop-not-null",
	"drop-schema",
	"drop-table",
	"enum-value-used-same-script",
	"lock-profile",
	"lock-timeout-missing",
	"mixed-transactional",
	"non-transactional-statement",
	"policy-change",
	"prefer-bigint",
	"prefer-identity",
	"prefer-jsonb",
	"prefer-robust-statements",
	"prefer-text",
	"prefer-timestamptz",
	"refresh-materialized-view-non-concurrent",
	"rename-column",
	"rename-table",
	"row-level-security-change",
	"set-not-null",
	"transaction-control",
	"truncate-cascade",
	"unsupported-statement",
	"vacuum-full",
	"all",
	NULL
};

/* Is this word a rule name (or "all")? */
static bool
is_rule_name(const char *word)
{
	for (int i = 0; rule_names[i]; i++)
		if (strcmp(rule_names[i], word) == 0)
			return true;
	return false;
}

/*
 * Rules suppressed for a statement: "-- migrate:allow a, b" comments
 * between the previous statement and this one.  The list ends at the first
 * word that is not a rule name ("-- migrate:allow drop-column: unused").
 */
static List *
allowed_rules(const char *script, int from, int to)
{
	List	   *rules = NIL;
	const char *marker = "migrate:allow";
	char	   *gap = pnstrdup(script + from, to - from);
	char	   *p = gap;

	while ((p = strstr(p, marker)) != NULL)
	{
		char	   *end = strchr(p, '\n');
		char	   *list;
		char	   *tok;
		char	   *save;

		p += strlen(marker);
		list = end ? pnstrdup(p, end - p) : pstrdup(p);
		for (tok = strtok_r(list, " ,\t\r*/", &save); tok; tok = strtok_r(NULL, " ,\t\r*/", &save))
		{
			if (!is_rule_name(tok))
				break;
			rules = lappend(rules, pstrdup(tok));
		}
		if (end == NULL)
			break;
		p = end;
	}
	return rules;
}

/* Lint a parsed script once: the findings, in statement order. */
static List *
lint_script_once(const char *script, List *stmts)
{
	LintState	ls = {0};
	ListCell   *lc;
	int			prev_end = 0;

	ls.script = script;

	foreach(lc, stmts)
	{
		ScriptStmt *st = (ScriptStmt *) lfirst(lc);

		CHECK_FOR_INTERRUPTS();
		ls.st = st;
		ls.allowed = allowed_rules(script, prev_end, st->location);
		lint_statement(&ls);
		prev_end = st->location + st->len;
	}

	/* a script mixing both kinds cannot run as one step anywhere */
	if (ls.has_non_txn && ls.has_normal)
	{
		ls.st = NULL;
		ls.allowed = NIL;
		add_finding(&ls, "mixed-transactional", "warning", NoLock, NULL,
					pstrdup("the script mixes statements that need a transaction block with statements that cannot run in one"),
					"Split it: one migration for the transactional statements, one non-transactional step for the rest.");
	}
	return ls.findings;
}

/* A lint of a script, for migrate_subxact. */
typedef struct LintTry
{
	const char *script;
	List	   *stmts;
	List	   *findings;
} LintTry;

/* migrate_subxact callback: lint the script. */
static void
lint_script_try(void *arg)
{
	LintTry    *t = (LintTry *) arg;

	t->findings = lint_script_once(t->script, t->stmts);
}

/*
 * Lint a parsed script, catching the linter's errors: the findings, in
 * statement order, or NIL with *edata set (nothing is thrown).  Lint takes
 * no lock, so a table another session drops meanwhile can vanish between two
 * catalog lookups of one statement (cache lookup failed): then the script is
 * linted again, from a catalog where it is gone, at most ten times.
 */
List *
lint_script_catch(const char *script, List *stmts, ErrorData **edata)
{
	LintTry		t = {script, stmts, NIL};

	for (int attempt = 1; attempt <= 10; attempt++)
	{
		*edata = migrate_subxact(lint_script_try, &t, true);
		if (*edata == NULL)
			return t.findings;
		if (!migrate_is_concurrent_drop(*edata))
			break;
		pg_usleep(attempt * 2000L);
		CHECK_FOR_INTERRUPTS();
	}
	return NIL;
}

/*
 * Lint a parsed script: the findings, in statement order.  A schema that
 * keeps changing under it fails with a serialization failure (40001) to
 * retry; the linter's other errors are raised as they are.
 */
List *
lint_script(const char *script, List *stmts)
{
	ErrorData  *edata;
	List	   *findings = lint_script_catch(script, stmts, &edata);

	if (edata == NULL)
		return findings;
	if (migrate_is_concurrent_drop(edata))
		migrate_concurrent_drop_error("migrate.lint", edata, "Run it again.");
	ReThrowError(edata);
	return NIL;					/* keep the compiler quiet */
}

/* Number of findings of severity error (not suppressed). */
int
lint_error_count(List *findings)
{
	ListCell   *lc;
	int			n = 0;

	foreach(lc, findings)
		if (strcmp(((LintFinding *) lfirst(lc))->severity, "error") == 0)
			n++;
	return n;
}

/* Findings as a jsonb-ready JSON array text. */
char *
lint_findings_json(List *findings)
{
	StringInfoData buf;
	ListCell   *lc;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	foreach(lc, findings)
	{
		LintFinding *f = (LintFinding *) lfirst(lc);

		if (strcmp(f->rule, "lock-profile") == 0)
			continue;
		appendStringInfoString(&buf, first ? "{" : ", {");
		first = false;
		appendStringInfo(&buf, "\"statement_no\": %d, \"line\": %d, \"rule\": ", f->statement_no, f->line);
		escape_json(&buf, f->rule);
		appendStringInfoString(&buf, ", \"severity\": ");
		escape_json(&buf, f->severity);
		appendStringInfoString(&buf, ", \"lock_mode\": ");
		if (f->lock_mode)
			escape_json(&buf, f->lock_mode);
		else
			appendStringInfoString(&buf, "null");
		appendStringInfoString(&buf, ", \"relation\": ");
		if (f->relation)
			escape_json(&buf, f->relation);
		else
			appendStringInfoString(&buf, "null");
		appendStringInfoString(&buf, ", \"message\": ");
		escape_json(&buf, f->message);
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/* An event for a lint run with error findings (not on a read-only server). */
void
lint_record_errors(List *findings)
{
	StringInfoData details;
	ListCell   *lc;
	int			errors = 0;

	initStringInfo(&details);
	appendStringInfoString(&details, "{\"findings\": [");
	foreach(lc, findings)
	{
		LintFinding *f = (LintFinding *) lfirst(lc);

		if (strcmp(f->severity, "error") != 0)
			continue;
		if (errors++ > 0)
			appendStringInfoString(&details, ", ");
		appendStringInfo(&details, "{\"statement_no\": %d, \"line\": %d, \"rule\": ", f->statement_no, f->line);
		escape_json(&details, f->rule);
		appendStringInfoString(&details, ", \"message\": ");
		escape_json(&details, f->message);
		appendStringInfoChar(&details, '}');
	}
	appendStringInfoString(&details, "]}");
	if (errors > 0)
		migrate_event_record("lint_error", "error",
							 psprintf(ngettext("migrate.lint found %d error finding",
											   "migrate.lint found %d error findings", errors), errors),
							 details.data);
}

PG_FUNCTION_INFO_V1(migrate_lint);
/* SQL: migrate.lint(script) */
Datum
migrate_lint(PG_FUNCTION_ARGS)
{
	char	   *script = migrate_text_arg(fcinfo, 0, "script", false, false);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *stmts;
	List	   *findings;
	ListCell   *lc;

	migrate_materialize_srf(fcinfo);
	stmts = script_parse(script, "script");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	findings = lint_script(script, stmts);

	/* the findings live in SPI's memory: emit them before SPI_finish */
	foreach(lc, findings)
	{
		LintFinding *f = (LintFinding *) lfirst(lc);
		Datum		values[8];
		bool		nulls[8] = {0};

		values[0] = Int32GetDatum(f->statement_no);
		nulls[0] = f->statement_no == 0;
		values[1] = Int32GetDatum(f->line);
		nulls[1] = f->line == 0;
		values[2] = CStringGetTextDatum(f->rule);
		values[3] = CStringGetTextDatum(f->severity);
		nulls[4] = f->lock_mode == NULL;
		values[4] = f->lock_mode ? CStringGetTextDatum(f->lock_mode) : (Datum) 0;
		nulls[5] = f->relation == NULL;
		values[5] = f->relation ? CStringGetTextDatum(f->relation) : (Datum) 0;
		values[6] = CStringGetTextDatum(f->message);
		nulls[7] = f->hint == NULL;
		values[7] = f->hint ? CStringGetTextDatum(f->hint) : (Datum) 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	lint_record_errors(findings);
	SPI_finish();
	return (Datum) 0;
}
