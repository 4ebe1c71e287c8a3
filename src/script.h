/*-------------------------------------------------------------------------
 * script.h
 *	  A migration script split into statements by PostgreSQL's own parser.
 *-------------------------------------------------------------------------
 */
#ifndef MIGRATE_SCRIPT_H
#define MIGRATE_SCRIPT_H

#include "nodes/pg_list.h"
#include "nodes/nodes.h"
#include "nodes/primnodes.h"

typedef enum ScriptStmtClass
{
	SCRIPT_STMT_NORMAL,			/* runs inside a transaction block */
	SCRIPT_STMT_TXN_CONTROL,	/* BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ... */
	SCRIPT_STMT_NON_TXN,		/* cannot run inside a transaction block */
	SCRIPT_STMT_UNSUPPORTED		/* cannot run through SPI (COPY FROM STDIN) */
} ScriptStmtClass;

typedef struct ScriptStmt
{
	int			no;				/* 1-based statement number */
	int			location;		/* byte offset in the script */
	int			len;			/* byte length of the statement text */
	int			line;			/* 1-based line where the statement starts */
	char	   *sql;			/* the statement text, without the ';' */
	Node	   *parsetree;		/* raw parse tree (RawStmt->stmt) */
	const char *command;		/* command tag, e.g. "CREATE INDEX" */
	ScriptStmtClass stmt_class;
	const char *why;			/* for non-normal classes: what it is */
	bool		sets_lock_timeout;	/* SET/RESET lock_timeout */
	bool		sets_statement_timeout; /* SET/RESET statement_timeout */
	bool		is_select;		/* a plain SELECT / VALUES / WITH ... SELECT */
} ScriptStmt;

/*
 * Parse a script; a syntax error is raised with the statement number and
 * line (within the script named by "what") added.
 */
extern List *script_parse(const char *script, const char *what);

/*
 * Refuse transaction control and statements SPI cannot run, and unless
 * allow_non_txn, statements that cannot run in a transaction block.
 */
extern void script_check_transactional(List *stmts, const char *what, bool allow_non_txn);

/* A relation lock a statement takes, predicted from its parse tree. */
typedef struct ScriptLock
{
	RangeVar   *relation;		/* as written in the statement */
	int			mode;			/* LOCKMODE */
	bool		is_index;		/* relation names an index (DROP/REINDEX INDEX) */
} ScriptLock;

/*
 * The relation locks a statement takes on relations it names (strongest per
 * relation), as PostgreSQL takes them (ALTER TABLE: AlterTableGetLockLevel).
 */
extern List *script_statement_locks(Node *parsetree);

extern bool script_sets_lock_timeout(List *stmts);
extern bool script_sets_statement_timeout(List *stmts);

#endif							/* MIGRATE_SCRIPT_H */
