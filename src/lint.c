/*-------------------------------------------------------------------------
 * lint.c
 *	  The lock-aware linter: rules over parsed statements plus catalog facts.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "errors.h"

PG_FUNCTION_INFO_V1(migrate_lint);
/* SQL: migrate.lint(script) -- being written */
Datum
migrate_lint(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("migrate.lint is not implemented yet")));
	PG_RETURN_NULL();
}
