/*-------------------------------------------------------------------------
 * migrate_ext.c
 *	  Module entry point: PG_MODULE_MAGIC, _PG_init, the GUCs and callbacks.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "utils/guc.h"

#include "audit.h"
#include "context.h"
#include "lint.h"
#include "lockwatch.h"
#include "migrate_ext.h"

PG_MODULE_MAGIC;

int			migrate_lock_timeout = 5000;
int			migrate_statement_timeout = 0;
int			migrate_lock_wait_timeout = 30000;
bool		migrate_allow_out_of_order = false;
int			migrate_lock_retries = 0;
int			migrate_lint_level = LINT_WARN;

static const struct config_enum_entry lint_level_options[] = {
	{"off", LINT_OFF, false},
	{"warn", LINT_WARN, false},
	{"error", LINT_ERROR, false},
	{NULL, 0, false}
};

void		_PG_init(void);

/* Define the GUCs and register the transaction callbacks. */
void
_PG_init(void)
{
	DefineCustomIntVariable("migrate.lock_timeout",
							"lock_timeout for each statement of a migration, unless the script sets its own.",
							"0 disables the timeout.",
							&migrate_lock_timeout,
							5000, 0, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("migrate.statement_timeout",
							"statement_timeout for each statement of a migration, unless the script sets its own.",
							"0 disables the timeout.",
							&migrate_statement_timeout,
							0, 0, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("migrate.lock_wait_timeout",
							"How long migrate.apply waits for another session's migration to finish.",
							"0 waits indefinitely.",
							&migrate_lock_wait_timeout,
							30000, 0, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("migrate.allow_out_of_order",
							 "Allow applying a version lower than the highest applied one.",
							 "Such migrations are recorded with out_of_order = true.",
							 &migrate_allow_out_of_order,
							 false,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomEnumVariable("migrate.lint_level",
							 "What migrate.apply does with lint findings: off, warn or error.",
							 "warn raises a WARNING per error or warning finding; error also refuses a migration with error findings before anything runs.",
							 &migrate_lint_level,
							 LINT_WARN,
							 lint_level_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("migrate.lock_retries",
							"How many times migrate.apply retries a statement that hit lock_timeout.",
							"Each retry runs in a subtransaction after a backoff; every wait is logged in migrate.lock_waits.",
							&migrate_lock_retries,
							0, 0, 100,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("migrate");
#else
	EmitWarningsOnPlaceholders("migrate");
#endif

	migrate_context_init();
	lockwatch_init();
	audit_init();
}
