/*-------------------------------------------------------------------------
 * context.c
 *	  Per-transaction session context: the migration being applied or
 *	  reverted in this transaction, reset by transaction callbacks so that
 *	  nothing survives the transaction that set it; and the migration a
 *	  client (pg_migrate) is running outside a transaction, which lasts
 *	  until the client clears it or the session ends.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "context.h"
#include "errors.h"
#include "util.h"

static char *current_version = NULL;
static char *client_version = NULL;

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

/* The version being applied now (by migrate.apply, or by a client), or NULL. */
const char *
migrate_context_current(void)
{
	return current_version ? current_version : client_version;
}

PG_FUNCTION_INFO_V1(migrate_current_migration);
/* SQL: migrate.current_migration() */
Datum
migrate_current_migration(PG_FUNCTION_ARGS)
{
	const char *v = migrate_context_current();

	if (v == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(v));
}

PG_FUNCTION_INFO_V1(migrate_client_migration);
/*
 * SQL: migrate.client_migration(version) -> the version now set.  A client
 * running a migration's statements outside a transaction (pg_migrate) marks
 * them as that migration's for the session, so the DDL ledger and audit log
 * count them as in band; NULL clears it (before migrate.record_applied).
 */
Datum
migrate_client_migration(PG_FUNCTION_ARGS)
{
	char	   *version = migrate_text_arg(fcinfo, 0, "version", true, false);

	if (current_version != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_MIGRATE_NESTED),
				 errmsg("migrate.client_migration cannot be called inside migration %s", current_version),
				 errhint("A client marks the statements it runs outside a transaction; migrate.apply marks its own.")));
	if (version)
		migrate_check_version(version);
	if (client_version != NULL)
		pfree(client_version);
	client_version = version ? MemoryContextStrdup(TopMemoryContext, version) : NULL;
	if (client_version == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(client_version));
}
