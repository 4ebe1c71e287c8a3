/*-------------------------------------------------------------------------
 * lint.h
 *	  The lock-aware linter, used by migrate.lint and migrate.apply.
 *-------------------------------------------------------------------------
 */
#ifndef MIGRATE_LINT_H
#define MIGRATE_LINT_H

#include "nodes/pg_list.h"

typedef struct LintFinding
{
	int			statement_no;	/* 0: about the whole script */
	int			line;
	const char *rule;			/* stable kebab-case name */
	const char *severity;		/* "error", "warning" or "info" */
	const char *lock_mode;		/* e.g. "AccessExclusiveLock", or NULL */
	char	   *relation;		/* schema-qualified, or NULL */
	char	   *message;
	char	   *hint;
} LintFinding;

/* GUC migrate.lint_level */
typedef enum LintLevel
{
	LINT_OFF,
	LINT_WARN,
	LINT_ERROR
} LintLevel;

extern int	migrate_lint_level;

/* Lint a script parsed by script_parse (SPI must be connected). */
extern List *lint_script(const char *script, List *stmts);
extern List *lint_script_catch(const char *script, List *stmts, ErrorData **edata);
extern int	lint_error_count(List *findings);
extern char *lint_findings_json(List *findings);

extern void lint_record_errors(List *findings);

#endif							/* MIGRATE_LINT_H */
