/*-------------------------------------------------------------------------
 * context.c
 *	  Per-transaction session context: the migration being applied or
 *	  reverted in this transaction, reset by transaction callbacks so that
 *	  nothing survives the transaction that set it.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "context.h"

static char *current_version = NULL;

/* Forget the current migration. */
static void
context_reset(void)
{
	if (current_version != NULL)
		pfree(current_version);
	current_version = NULL;
}

/* Transaction callback: the context never outlives its transaction. */
static void
context_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			context_reset();
			break;
		default:
			break;
	}
}

/* Register the callbacks (called once from _PG_init). */
void
migrate_context_init(void)
{
	RegisterXactCallback(context_xact_callback, NULL);
}

/* Mark "version" as the migration running in this transaction. */
void
migrate_context_begin(const char *version)
{
	context_reset();
	current_version = MemoryContextStrdup(TopMemoryContext, version);
}

/* The running migration has finished (or failed). */
void
migrate_context_end(void)
{
	context_reset();
}

/* The version being applied now, or NULL. */
const char *
migrate_context_current(void)
{
	return current_version;
}

PG_FUNCTION_INFO_V1(migrate_current_migration);
/* SQL: migrate.current_migration() */
Datum
migrate_current_migration(PG_FUNCTION_ARGS)
{
	if (current_version == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(current_version));
}
