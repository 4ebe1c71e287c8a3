/*-------------------------------------------------------------------------
 * dryrun.c
 *	  migrate.dry_run: run a script for real in a subtransaction, record each
 *	  statement's time, rows and locks, then roll everything back.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "errors.h"

PG_FUNCTION_INFO_V1(migrate_dry_run);
/* SQL: migrate.dry_run(script) -- being written */
Datum
migrate_dry_run(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("migrate.dry_run is not implemented yet")));
	PG_RETURN_NULL();
}
