/*-------------------------------------------------------------------------
 * script.c
 *	  Split a migration script into statements with PostgreSQL's own parser
 *	  (raw_parser), with each statement's position and line, and classify
 *	  them: transaction control, statements that cannot run inside a
 *	  transaction block, statements SPI cannot run.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/defrem.h"
#include "commands/tablecmds.h"
#include "storage/lockdefs.h"
#include "common/keywords.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "parser/scanner.h"
#include "parser/scansup.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"
#include "funcapi.h"

#include "errors.h"
#include "script.h"
#include "util.h"

/* Byte offset of a 1-based character position (as in ErrorData.cursorpos). */
static int
char_pos_to_byte(const char *str, int charpos)
{
	int			off = 0;
	int			len = strlen(str);

	for (int i = 1; i < charpos && off < len; i++)
		off += pg_mblen(str + off);
	return Min(off, len);
}

/* Keyword token code of a keyword, or -1. */
static int
keyword_token(const char *kw)
{
	int			idx = ScanKeywordLookup(kw, &ScanKeywords);

	return idx < 0 ? -1 : ScanKeywordTokens[idx];
}

typedef struct StmtLocation
{
	int			count;			/* complete statements before the error */
	int			cur_start;		/* start of the statement being scanned */
	int			stmt_end;		/* ';' ending the failing statement */
	int			errpos;			/* byte offset of the error */
} StmtLocation;

/*
 * Scan tokens with the core scanner up to the ';' after "errpos", counting
 * the ';' that end non-empty statements (not those inside BEGIN ATOMIC ...
 * END bodies).  May raise a scanner error (e.g. unterminated literal).
 */
static void
scan_statements(const char *script, StmtLocation *loc)
{
	int			errpos = loc->errpos;
	core_yy_extra_type yyext;
	core_yyscan_t scanner;
	core_YYSTYPE yylval;
	YYLTYPE		yylloc;
	int			tok_begin = keyword_token("begin");
	int			tok_atomic = keyword_token("atomic");
	int			tok_case = keyword_token("case");
	int			tok_end = keyword_token("end");
	int			prev = 0;
	int			atomic_depth = 0;
	int			tok;

	scanner = scanner_init(script, &yyext, &ScanKeywords, ScanKeywordTokens);
	while ((tok = core_yylex(&yylval, &yylloc, scanner)) != 0)
	{
		if (yylloc >= errpos && tok == ';' && atomic_depth == 0)
		{
			loc->stmt_end = yylloc;
			break;
		}
		if (loc->cur_start < 0 && tok != ';')
			loc->cur_start = yylloc;
		if (tok == tok_atomic && prev == tok_begin)
			atomic_depth++;
		else if (atomic_depth > 0 && tok == tok_case)
			atomic_depth++;
		else if (atomic_depth > 0 && tok == tok_end)
			atomic_depth--;
		else if (tok == ';' && atomic_depth == 0)
		{
			if (loc->cur_start >= 0)
				loc->count++;
			loc->cur_start = -1;
		}
		prev = tok;
	}
	scanner_finish(scanner);
}

/*
 * Fill in loc (errpos set by the caller): the number of the statement
 * containing the error and its byte range.  A scanner error ends the scan
 * where it occurred.
 */
static void
locate_statement(const char *script, StmtLocation *loc)
{
	MemoryContext oldcxt = CurrentMemoryContext;

	PG_TRY();
	{
		scan_statements(script, loc);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		FlushErrorState();
	}
	PG_END_TRY();

	if (loc->cur_start < 0 || loc->cur_start > loc->errpos)
		loc->cur_start = loc->errpos;
	if (loc->stmt_end < 0)
		loc->stmt_end = strlen(script);
}

/* Error context callback: keep a syntax error's position for ourselves. */
static void
parse_error_callback(void *arg)
{
	int			pos = geterrposition();

	/* only syntax errors: leave e.g. escape-string warnings alone */
	if (pos > 0 && geterrcode() == ERRCODE_SYNTAX_ERROR)
	{
		*(volatile int *) arg = pos;
		errposition(0);
	}
}

/*
 * Run raw_parser; on a syntax error, re-raise it pointing into the failing
 * statement (its text as the internal query, the position within it) and
 * naming the statement number and line of the script.
 */
static List *
parse_or_report(const char *script, const char *what)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	List	   *volatile result = NIL;
	volatile int syntax_pos = 0;
	ErrorContextCallback cb;

	/*
	 * When we are called through SPI (e.g. from PL/pgSQL), SPI's own error
	 * callback would move the cursor position into the calling query; take
	 * it first.
	 */
	cb.callback = parse_error_callback;
	cb.arg = (void *) &syntax_pos;
	cb.previous = error_context_stack;
	error_context_stack = &cb;

	PG_TRY();
	{
#if PG_VERSION_NUM >= 140000
		result = raw_parser(script, RAW_PARSE_DEFAULT);
#else
		result = raw_parser(script);
#endif
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		StmtLocation loc = {0, -1, -1, 0};
		int			line;
		char	   *ctx;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();

		if (syntax_pos <= 0)
			ReThrowError(edata);

		loc.errpos = char_pos_to_byte(script, syntax_pos);
		locate_statement(script, &loc);
		line = migrate_line_of(script, loc.errpos);

		edata->internalquery = pnstrdup(script + loc.cur_start, loc.stmt_end - loc.cur_start);
		edata->internalpos = pg_mbstrlen_with_len(script + loc.cur_start,
												  loc.errpos - loc.cur_start) + 1;
		edata->cursorpos = 0;
		ctx = psprintf("statement %d (line %d) of the %s", loc.count + 1, line, what);
		if (edata->context)
			edata->context = psprintf("%s\n%s", ctx, edata->context);
		else
			edata->context = ctx;
		ReThrowError(edata);
	}
	PG_END_TRY();
	error_context_stack = cb.previous;

	return result;
}

/* Is a DefElem list option "name" set to true (or given without a value)? */
static bool
option_true(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		if (strcmp(opt->defname, name) == 0)
			return defGetBoolean(opt);
	}
	return false;
}

/* Is a DefElem list option "name" given and false? */
static bool
option_false(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		if (strcmp(opt->defname, name) == 0)
			return !defGetBoolean(opt);
	}
	return false;
}

/* Classify one parsed statement. */
static void
classify(ScriptStmt *st)
{
	Node	   *n = st->parsetree;

	st->stmt_class = SCRIPT_STMT_NORMAL;
	st->why = NULL;

	switch (nodeTag(n))
	{
		case T_TransactionStmt:
			st->stmt_class = SCRIPT_STMT_TXN_CONTROL;
			st->why = st->command;
			break;
		case T_IndexStmt:
			if (((IndexStmt *) n)->concurrent)
			{
				st->stmt_class = SCRIPT_STMT_NON_TXN;
				st->why = "CREATE INDEX CONCURRENTLY";
			}
			break;
		case T_DropStmt:
			if (((DropStmt *) n)->concurrent)
			{
				st->stmt_class = SCRIPT_STMT_NON_TXN;
				st->why = "DROP INDEX CONCURRENTLY";
			}
			break;
		case T_ReindexStmt:
			{
				ReindexStmt *r = (ReindexStmt *) n;

#if PG_VERSION_NUM >= 140000
				if (option_true(r->params, "concurrently"))
#else
				if (r->concurrent)
#endif
				{
					st->stmt_class = SCRIPT_STMT_NON_TXN;
					st->why = "REINDEX CONCURRENTLY";
				}
				else if (r->kind == REINDEX_OBJECT_SYSTEM ||
						 r->kind == REINDEX_OBJECT_DATABASE ||
						 r->kind == REINDEX_OBJECT_SCHEMA)
				{
					st->stmt_class = SCRIPT_STMT_NON_TXN;
					st->why = "REINDEX SCHEMA/SYSTEM/DATABASE";
				}
				break;
			}
		case T_VacuumStmt:
			if (((VacuumStmt *) n)->is_vacuumcmd)
			{
				st->stmt_class = SCRIPT_STMT_NON_TXN;
				st->why = "VACUUM";
			}
			break;
		case T_ClusterStmt:
			if (((ClusterStmt *) n)->relation == NULL)
			{
				st->stmt_class = SCRIPT_STMT_NON_TXN;
				st->why = "CLUSTER without a table";
			}
			break;
		case T_AlterSystemStmt:
			st->stmt_class = SCRIPT_STMT_NON_TXN;
			st->why = "ALTER SYSTEM";
			break;
		case T_CreatedbStmt:
			st->stmt_class = SCRIPT_STMT_NON_TXN;
			st->why = "CREATE DATABASE";
			break;
		case T_DropdbStmt:
			st->stmt_class = SCRIPT_STMT_NON_TXN;
			st->why = "DROP DATABASE";
			break;
		case T_AlterDatabaseStmt:
			{
				ListCell   *lc;

				foreach(lc, ((AlterDatabaseStmt *) n)->options)
					if (strcmp(((DefElem *) lfirst(lc))->defname, "tablespace") == 0)
					{
						st->stmt_class = SCRIPT_STMT_NON_TXN;
						st->why = "ALTER DATABASE SET TABLESPACE";
					}
				break;
			}
		case T_CreateTableSpaceStmt:
			st->stmt_class = SCRIPT_STMT_NON_TXN;
			st->why = "CREATE TABLESPACE";
			break;
		case T_DropTableSpaceStmt:
			st->stmt_class = SCRIPT_STMT_NON_TXN;
			st->why = "DROP TABLESPACE";
			break;
		case T_CreateSubscriptionStmt:
			{
				List	   *opts = ((CreateSubscriptionStmt *) n)->options;

				if (!option_false(opts, "create_slot") && !option_false(opts, "connect"))
				{
					st->stmt_class = SCRIPT_STMT_NON_TXN;
					st->why = "CREATE SUBSCRIPTION that creates a slot";
				}
				break;
			}
		case T_DropSubscriptionStmt:
			/* drops its replication slot unless slot_name was set to NONE */
			st->stmt_class = SCRIPT_STMT_NON_TXN;
			st->why = "DROP SUBSCRIPTION";
			break;
		case T_AlterSubscriptionStmt:
			{
				AlterSubscriptionStmt *a = (AlterSubscriptionStmt *) n;

				if (a->kind == ALTER_SUBSCRIPTION_REFRESH ||
					((a->kind == ALTER_SUBSCRIPTION_SET_PUBLICATION
#if PG_VERSION_NUM >= 140000
					  || a->kind == ALTER_SUBSCRIPTION_ADD_PUBLICATION
					  || a->kind == ALTER_SUBSCRIPTION_DROP_PUBLICATION
#endif
					  ) && !option_false(a->options, "refresh")))
				{
					st->stmt_class = SCRIPT_STMT_NON_TXN;
					st->why = "ALTER SUBSCRIPTION with refresh";
				}
				break;
			}
		case T_DiscardStmt:
			if (((DiscardStmt *) n)->target == DISCARD_ALL)
			{
				st->stmt_class = SCRIPT_STMT_NON_TXN;
				st->why = "DISCARD ALL";
			}
			break;
#if PG_VERSION_NUM >= 140000
		case T_AlterTableStmt:
			{
				ListCell   *lc;

				foreach(lc, ((AlterTableStmt *) n)->cmds)
				{
					AlterTableCmd *cmd = (AlterTableCmd *) lfirst(lc);

					if (cmd->subtype == AT_DetachPartition &&
						cmd->def && IsA(cmd->def, PartitionCmd) &&
						((PartitionCmd *) cmd->def)->concurrent)
					{
						st->stmt_class = SCRIPT_STMT_NON_TXN;
						st->why = "ALTER TABLE ... DETACH PARTITION CONCURRENTLY";
					}
				}
				break;
			}
#endif
		case T_CopyStmt:
			if (((CopyStmt *) n)->filename == NULL)
			{
				st->stmt_class = SCRIPT_STMT_UNSUPPORTED;
				st->why = ((CopyStmt *) n)->is_from ? "COPY ... FROM STDIN" : "COPY ... TO STDOUT";
			}
			break;
		case T_VariableSetStmt:
			{
				VariableSetStmt *v = (VariableSetStmt *) n;

				if (v->name && strcmp(v->name, "lock_timeout") == 0)
					st->sets_lock_timeout = true;
				if (v->name && strcmp(v->name, "statement_timeout") == 0)
					st->sets_statement_timeout = true;
				break;
			}
		case T_SelectStmt:
			st->is_select = (((SelectStmt *) n)->intoClause == NULL);
			break;
		default:
			break;
	}
}

/*
 * Number of leading bytes of str (of length len) that are blanks, "--"
 * comments or (nested) block comments.
 */
static int
skip_blanks_and_comments(const char *str, int len)
{
	int			i = 0;

	for (;;)
	{
		while (i < len && scanner_isspace(str[i]))
			i++;
		if (i + 1 < len && str[i] == '-' && str[i + 1] == '-')
		{
			while (i < len && str[i] != '\n')
				i++;
		}
		else if (i + 1 < len && str[i] == '/' && str[i + 1] == '*')
		{
			int			depth = 1;

			i += 2;
			while (i < len && depth > 0)
			{
				if (i + 1 < len && str[i] == '/' && str[i + 1] == '*')
				{
					depth++;
					i += 2;
				}
				else if (i + 1 < len && str[i] == '*' && str[i + 1] == '/')
				{
					depth--;
					i += 2;
				}
				else
					i++;
			}
		}
		else
			return i;
	}
}

/* Parse a script into a list of ScriptStmt. */
List *
script_parse(const char *script, const char *what)
{
	List	   *raw = parse_or_report(script, what);
	List	   *result = NIL;
	ListCell   *lc;
	int			no = 0;
	int			scriptlen = strlen(script);
	int			line = 1;
	int			line_pos = 0;

	foreach(lc, raw)
	{
		RawStmt    *rs = lfirst_node(RawStmt, lc);
		ScriptStmt *st = palloc0(sizeof(ScriptStmt));
		int			loc = rs->stmt_location;
		int			len = rs->stmt_len > 0 ? rs->stmt_len : scriptlen - loc;

		/* skip the blanks and comments the location may include */
		{
			int			skip = skip_blanks_and_comments(script + loc, len);

			loc += skip;
			len -= skip;
		}
		while (len > 0 && scanner_isspace(script[loc + len - 1]))
			len--;

		CHECK_FOR_INTERRUPTS();
		/* count lines from the previous statement on, not from the start */
		for (; line_pos < loc; line_pos++)
			if (script[line_pos] == '\n')
				line++;

		st->no = ++no;
		st->location = loc;
		st->len = len;
		st->line = line;
		st->sql = pnstrdup(script + loc, len);
		st->parsetree = rs->stmt;
		st->command = CreateCommandName(rs->stmt);
		classify(st);
		result = lappend(result, st);
	}
	return result;
}

/*
 * Refuse scripts with transaction control, statements that cannot run in a
 * transaction block (unless allow_non_txn), or statements SPI cannot run,
 * before anything runs.
 */
void
script_check_transactional(List *stmts, const char *what, bool allow_non_txn)
{
	ListCell   *lc;

	foreach(lc, stmts)
	{
		ScriptStmt *st = (ScriptStmt *) lfirst(lc);

		switch (st->stmt_class)
		{
			case SCRIPT_STMT_NORMAL:
				break;
			case SCRIPT_STMT_TXN_CONTROL:
				ereport(ERROR,
						(errcode(ERRCODE_MIGRATE_TRANSACTION_CONTROL),
						 errmsg("%s contains transaction control statement %s at statement %d (line %d)",
								what, st->why, st->no, st->line),
						 errdetail("A migration runs inside the caller's transaction; nothing was run."),
						 errhint("Remove BEGIN, COMMIT, ROLLBACK and SAVEPOINT statements from the script.")));
				break;
			case SCRIPT_STMT_NON_TXN:
				if (allow_non_txn)
					break;
				ereport(ERROR,
						(errcode(ERRCODE_MIGRATE_NON_TRANSACTIONAL),
						 errmsg("%s contains %s at statement %d (line %d), which cannot run inside a transaction block",
								what, st->why, st->no, st->line),
						 errdetail("Nothing was run."),
						 errhint("Put this statement in a non-transactional migration step run outside a transaction (for example by the pg_migrate client).")));
				break;
			case SCRIPT_STMT_UNSUPPORTED:
				ereport(ERROR,
						(errcode(ERRCODE_MIGRATE_UNSUPPORTED_STATEMENT),
						 errmsg("%s contains %s at statement %d (line %d), which cannot run inside a migration",
								what, st->why, st->no, st->line),
						 errdetail("Nothing was run."),
						 errhint("Load data with INSERT ... SELECT or COPY from a server-side file instead.")));
				break;
		}
	}
}

/* Does any statement set or reset lock_timeout itself? */
bool
script_sets_lock_timeout(List *stmts)
{
	ListCell   *lc;

	foreach(lc, stmts)
		if (((ScriptStmt *) lfirst(lc))->sets_lock_timeout)
			return true;
	return false;
}

/* Does any statement set or reset statement_timeout itself? */
bool
script_sets_statement_timeout(List *stmts)
{
	ListCell   *lc;

	foreach(lc, stmts)
		if (((ScriptStmt *) lfirst(lc))->sets_statement_timeout)
			return true;
	return false;
}

/* Append a predicted lock, keeping the strongest mode per relation. */
static List *
add_lock(List *locks, RangeVar *rel, LOCKMODE mode, bool is_index)
{
	ListCell   *lc;
	ScriptLock *l;

	if (rel == NULL)
		return locks;
	foreach(lc, locks)
	{
		l = (ScriptLock *) lfirst(lc);
		if (strcmp(l->relation->relname, rel->relname) == 0 &&
			((l->relation->schemaname == NULL && rel->schemaname == NULL) ||
			 (l->relation->schemaname && rel->schemaname &&
			  strcmp(l->relation->schemaname, rel->schemaname) == 0)))
		{
			if (mode > l->mode)
				l->mode = mode;
			return locks;
		}
	}
	l = palloc0(sizeof(ScriptLock));
	l->relation = rel;
	l->mode = mode;
	l->is_index = is_index;
	return lappend(locks, l);
}

/* Locks of ALTER TABLE: the table, plus FK targets and partitions. */
static List *
alter_table_locks(AlterTableStmt *stmt)
{
	List	   *locks = NIL;
	ListCell   *lc;

	locks = add_lock(locks, stmt->relation, AlterTableGetLockLevel(stmt->cmds),
#if PG_VERSION_NUM >= 140000
					 stmt->objtype == OBJECT_INDEX
#else
					 stmt->relkind == OBJECT_INDEX
#endif
		);
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = (AlterTableCmd *) lfirst(lc);
		Node	   *def = cmd->def;

		if (def && IsA(def, Constraint) &&
			((Constraint *) def)->contype == CONSTR_FOREIGN)
			locks = add_lock(locks, ((Constraint *) def)->pktable, ShareRowExclusiveLock, false);
		else if (def && IsA(def, ColumnDef))
		{
			ListCell   *c;

			foreach(c, ((ColumnDef *) def)->constraints)
			{
				Constraint *con = (Constraint *) lfirst(c);

				if (con->contype == CONSTR_FOREIGN)
					locks = add_lock(locks, con->pktable, ShareRowExclusiveLock, false);
			}
		}
		else if (def && IsA(def, PartitionCmd))
			locks = add_lock(locks, ((PartitionCmd *) def)->name, AccessExclusiveLock, false);
	}
	return locks;
}

/* RangeVar of a DROP/COMMENT object name list, or NULL. */
static RangeVar *
object_rangevar(Node *object, int skip_last)
{
	List	   *names;

	if (object == NULL || !IsA(object, List))
		return NULL;
	names = (List *) object;
	if (list_length(names) <= skip_last)
		return NULL;
#if PG_VERSION_NUM >= 150000
	names = list_copy_head(names, list_length(names) - skip_last);
#else
	names = list_truncate(list_copy(names), list_length(names) - skip_last);
#endif
	return makeRangeVarFromNameList(names);
}

/* Predicted relation locks of one statement (see script.h). */
List *
script_statement_locks(Node *n)
{
	List	   *locks = NIL;
	ListCell   *lc;

	switch (nodeTag(n))
	{
		case T_AlterTableStmt:
			return alter_table_locks((AlterTableStmt *) n);
		case T_IndexStmt:
			{
				IndexStmt  *i = (IndexStmt *) n;

				return add_lock(locks, i->relation,
								i->concurrent ? ShareUpdateExclusiveLock : ShareLock, false);
			}
		case T_DropStmt:
			{
				DropStmt   *d = (DropStmt *) n;

				foreach(lc, d->objects)
				{
					Node	   *obj = (Node *) lfirst(lc);

					switch (d->removeType)
					{
						case OBJECT_TABLE:
						case OBJECT_VIEW:
						case OBJECT_MATVIEW:
						case OBJECT_SEQUENCE:
						case OBJECT_FOREIGN_TABLE:
							locks = add_lock(locks, object_rangevar(obj, 0), AccessExclusiveLock, false);
							break;
						case OBJECT_INDEX:
							locks = add_lock(locks, object_rangevar(obj, 0),
											 d->concurrent ? ShareUpdateExclusiveLock : AccessExclusiveLock,
											 true);
							break;
						case OBJECT_POLICY:
						case OBJECT_TRIGGER:
						case OBJECT_RULE:
							/* name list is table name + object name */
							locks = add_lock(locks, object_rangevar(obj, 1), AccessExclusiveLock, false);
							break;
						default:
							break;
					}
				}
				return locks;
			}
		case T_TruncateStmt:
			foreach(lc, ((TruncateStmt *) n)->relations)
				locks = add_lock(locks, (RangeVar *) lfirst(lc), AccessExclusiveLock, false);
			return locks;
		case T_CreateTrigStmt:
			return add_lock(locks, ((CreateTrigStmt *) n)->relation, ShareRowExclusiveLock, false);
		case T_CreatePolicyStmt:
			return add_lock(locks, ((CreatePolicyStmt *) n)->table, AccessExclusiveLock, false);
		case T_AlterPolicyStmt:
			return add_lock(locks, ((AlterPolicyStmt *) n)->table, AccessExclusiveLock, false);
		case T_RenameStmt:
			{
				RenameStmt *r = (RenameStmt *) n;

				if (r->relation == NULL)
					return NIL;
				if (r->renameType == OBJECT_INDEX)
					return add_lock(locks, r->relation, ShareUpdateExclusiveLock, true);
				return add_lock(locks, r->relation, AccessExclusiveLock, false);
			}
		case T_VacuumStmt:
			{
				VacuumStmt *v = (VacuumStmt *) n;
				LOCKMODE	mode = ShareUpdateExclusiveLock;

				if (v->is_vacuumcmd && option_true(v->options, "full"))
					mode = AccessExclusiveLock;
				foreach(lc, v->rels)
					locks = add_lock(locks, ((VacuumRelation *) lfirst(lc))->relation, mode, false);
				return locks;
			}
		case T_ClusterStmt:
			return add_lock(locks, ((ClusterStmt *) n)->relation, AccessExclusiveLock, false);
		case T_AlterObjectSchemaStmt:
			return add_lock(locks, ((AlterObjectSchemaStmt *) n)->relation, AccessExclusiveLock, false);
		case T_RuleStmt:
			return add_lock(locks, ((RuleStmt *) n)->relation, AccessExclusiveLock, false);
		case T_CreateStatsStmt:
			foreach(lc, ((CreateStatsStmt *) n)->relations)
				if (IsA(lfirst(lc), RangeVar))
					locks = add_lock(locks, (RangeVar *) lfirst(lc), ShareUpdateExclusiveLock, false);
			return locks;
		case T_AlterSeqStmt:
			return add_lock(locks, ((AlterSeqStmt *) n)->sequence, ShareRowExclusiveLock, false);
		case T_RefreshMatViewStmt:
			{
				RefreshMatViewStmt *r = (RefreshMatViewStmt *) n;

				return add_lock(locks, r->relation,
								r->concurrent ? ExclusiveLock : AccessExclusiveLock, false);
			}
		case T_LockStmt:
			{
				LockStmt   *l = (LockStmt *) n;

				foreach(lc, l->relations)
					locks = add_lock(locks, (RangeVar *) lfirst(lc), l->mode, false);
				return locks;
			}
		case T_InsertStmt:
			return add_lock(locks, ((InsertStmt *) n)->relation, RowExclusiveLock, false);
		case T_UpdateStmt:
			return add_lock(locks, ((UpdateStmt *) n)->relation, RowExclusiveLock, false);
		case T_DeleteStmt:
			return add_lock(locks, ((DeleteStmt *) n)->relation, RowExclusiveLock, false);
#if PG_VERSION_NUM >= 150000
		case T_MergeStmt:
			return add_lock(locks, ((MergeStmt *) n)->relation, RowExclusiveLock, false);
#endif
		case T_CommentStmt:
			{
				CommentStmt *c = (CommentStmt *) n;

				if (c->objtype == OBJECT_TABLE || c->objtype == OBJECT_VIEW ||
					c->objtype == OBJECT_MATVIEW || c->objtype == OBJECT_INDEX)
					return add_lock(locks, object_rangevar(c->object, 0), ShareUpdateExclusiveLock,
									c->objtype == OBJECT_INDEX);
				if (c->objtype == OBJECT_COLUMN)
					return add_lock(locks, object_rangevar(c->object, 1), ShareUpdateExclusiveLock, false);
				return NIL;
			}
		case T_ReindexStmt:
			{
				ReindexStmt *r = (ReindexStmt *) n;

				if (r->kind == REINDEX_OBJECT_TABLE && r->relation)
					return add_lock(locks, r->relation, ShareLock, false);
				if (r->kind == REINDEX_OBJECT_INDEX && r->relation)
					return add_lock(locks, r->relation, AccessExclusiveLock, true);
				return NIL;
			}
		case T_CreateStmt:
			{
				CreateStmt *c = (CreateStmt *) n;

				foreach(lc, c->inhRelations)
					locks = add_lock(locks, (RangeVar *) lfirst(lc),
									 c->partbound ? AccessExclusiveLock : ShareUpdateExclusiveLock,
									 false);
				foreach(lc, c->tableElts)
				{
					Node	   *e = (Node *) lfirst(lc);
					ListCell   *c2;

					if (IsA(e, Constraint) && ((Constraint *) e)->contype == CONSTR_FOREIGN)
						locks = add_lock(locks, ((Constraint *) e)->pktable, ShareRowExclusiveLock, false);
					else if (IsA(e, ColumnDef))
						foreach(c2, ((ColumnDef *) e)->constraints)
						{
							Constraint *con = (Constraint *) lfirst(c2);

							if (con->contype == CONSTR_FOREIGN)
								locks = add_lock(locks, con->pktable, ShareRowExclusiveLock, false);
						}
				}
				return locks;
			}
		default:
			return NIL;
	}
}

/* The name of a statement class, as migrate.script_statements reports it. */
static const char *
class_name(ScriptStmtClass c)
{
	switch (c)
	{
		case SCRIPT_STMT_NORMAL:
			return "transactional";
		case SCRIPT_STMT_TXN_CONTROL:
			return "transaction_control";
		case SCRIPT_STMT_NON_TXN:
			return "non_transactional";
		case SCRIPT_STMT_UNSUPPORTED:
			return "unsupported";
	}
	return "unknown";
}

PG_FUNCTION_INFO_V1(migrate_script_statements);
/*
 * SQL: migrate.script_statements(script) -> one row per statement with its
 * text, line and class, so a client (pg_migrate) can run a non-transactional
 * script statement by statement without a SQL lexer of its own.
 */
Datum
migrate_script_statements(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *script = migrate_text_arg(fcinfo, 0, "script", false, true);
	List	   *stmts;
	ListCell   *lc;

	migrate_materialize_srf(fcinfo);
	stmts = script_parse(script, "script");
	foreach(lc, stmts)
	{
		ScriptStmt *st = (ScriptStmt *) lfirst(lc);
		Datum		values[8];
		bool		nulls[8];

		memset(nulls, 0, sizeof(nulls));
		values[0] = Int32GetDatum(st->no);
		values[1] = Int32GetDatum(st->line);
		values[2] = CStringGetTextDatum(st->command);
		values[3] = CStringGetTextDatum(class_name(st->stmt_class));
		nulls[4] = (st->why == NULL);
		values[4] = st->why ? CStringGetTextDatum(st->why) : (Datum) 0;
		nulls[5] = nulls[6] = true;
		if (IsA(st->parsetree, IndexStmt) && ((IndexStmt *) st->parsetree)->concurrent)
		{
			IndexStmt  *i = (IndexStmt *) st->parsetree;

			if (i->idxname)
			{
				values[5] = CStringGetTextDatum(i->idxname);
				nulls[5] = false;
			}
			values[6] = CStringGetTextDatum(quote_qualified_identifier(i->relation->schemaname,
																	   i->relation->relname));
			nulls[6] = false;
		}
		values[7] = CStringGetTextDatum(st->sql);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
