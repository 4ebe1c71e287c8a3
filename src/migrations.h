/*-------------------------------------------------------------------------
 * migrations.h
 *	  What other rooms reuse of the migration runner: the migration's GUC
 *	  level (timeouts), the per-statement timer and statement execution.
 *-------------------------------------------------------------------------
 */
#ifndef MIGRATE_MIGRATIONS_H
#define MIGRATE_MIGRATIONS_H

#include "nodes/pg_list.h"
#include "utils/timestamp.h"

#include "script.h"

/* statement_timeout armed for one migration statement */
typedef struct StmtTimer
{
	bool		armed;
	bool		outer_active;
	TimestampTz outer_fin;
} StmtTimer;

/*
 * Open a GUC nest level with the migration's lock_timeout and
 * statement_timeout (and search_path if given); pop it with
 * AtEOXact_GUC(true, level).
 */
extern int	push_migration_gucs(List *stmts, const char *search_path);

/* Arm statement_timeout for one statement; disarm restores the outer one. */
extern void stmt_timer_arm(StmtTimer *t);
extern void stmt_timer_disarm(StmtTimer *t);

/* Execute one statement through SPI (caller arms the timer); SPI result code. */
extern int	migration_exec_statement(ScriptStmt *st);

/* Rows the statement just executed affected; frees its SPI result. */
extern uint64 migration_rows_affected(ScriptStmt *st);

#endif							/* MIGRATE_MIGRATIONS_H */
