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
#include "events.h"
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
int			migrate_maintain_lock_timeout = 100;
int			migrate_premake_days = 7;
int			migrate_maintain_delete_limit = 100000;
int			migrate_slow_query_ms = 100;
int			migrate_copy_notice_batches = 10;
bool		migrate_snapshot_on_apply = true;

static const struct config_enum_entry lint_level_options[] = {
	{"off", LINT_OFF, false},
	{"warn", LINT_WARN, false},
	{"error", LINT_ERROR, false},
	{NULL, 0, false}
};

static const struct config_enum_entry severity_options[] = {
	{"debug", EVENT_DEBUG, false},
	{"info", EVENT_INFO, false},
	{"notice", EVENT_NOTICE, false},
	{"warning", EVENT_WARNING, false},
	{"error", EVENT_ERROR, false},
	{"critical", EVENT_CRITICAL, false},
	{"off", EVENT_NOTIFY_OFF, false},
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

	DefineCustomEnumVariable("migrate.notify_min_severity",
							 "Lowest event severity sent with NOTIFY on the channel migrate_events.",
							 "debug, info, notice, warning, error, critical, or off (no NOTIFY: e.g. for transactions that use PREPARE TRANSACTION).",
							 &migrate_notify_min_severity,
							 EVENT_WARNING,
							 severity_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("migrate.notify_message",
							 "Include the event's message in the NOTIFY payload.",
							 "Any role may LISTEN, so by default the payload carries only id, kind, severity, migration version and pid.",
							 &migrate_notify_message,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("migrate.maintain_lock_timeout",
							"lock_timeout of each DDL statement migrate.maintain and migrate.cleanup run.",
							"A partition that cannot be locked in time is truncated instead of dropped, or left for the next run.",
							&migrate_maintain_lock_timeout,
							100, 1, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("migrate.premake_days",
							"How many UTC days ahead migrate.maintain creates partitions of migrate.events and migrate.audit_log.",
							NULL,
							&migrate_premake_days,
							7, 1, 366,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("migrate.maintain_delete_limit",
							"Most rows migrate.maintain deletes row by row in one run (expired rows outside whole expired partitions).",
							NULL,
							&migrate_maintain_delete_limit,
							100000, 0, INT_MAX,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("migrate.snapshot_on_apply",
							 "Keep the expected schema (migrate.snapshots) up to date with what migrate.apply and migrate.revert change.",
							 "The objects a migration's DDL touched are read again when the expected schema is next needed: by migrate.drift, or before an out-of-band DDL command.",
							 &migrate_snapshot_on_apply,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("migrate.slow_query_ms",
							"Mean (pg_stat_statements) or current running time from which migrate.slow_queries lists a query.",
							NULL,
							&migrate_slow_query_ms,
							100, 0, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("migrate.copy_notice_batches",
							"Every how many batches migrate.copy_rows and migrate.copy_rows_each report their progress with a NOTICE.",
							"0 reports none; the progress is also in migrate.copy_jobs.",
							&migrate_copy_notice_batches,
							10, 0, INT_MAX,
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
