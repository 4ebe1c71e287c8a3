/*-------------------------------------------------------------------------
 * lockwatch.c
 *	  Records which sessions block a migration statement's lock request.
 *
 * When lock_timeout fires, PostgreSQL leaves the lock's wait queue before it
 * raises the error, so the blockers can no longer be read on the error path.
 * Instead, while a migration statement runs, log_lock_waits is on and
 * deadlock_timeout is below lock_timeout: after deadlock_timeout the waiting
 * backend itself reports "still waiting" from ProcSleep, still queued and
 * holding no LWLock.  Our emit_log_hook catches that report, describes the
 * blockers then (as pg_blocking_pids() would), and keeps the text for the
 * lock-timeout error's detail.  Reports we forced on are kept out of the
 * server log.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "lockwatch.h"
#include "util.h"

static emit_log_hook_type prev_emit_log_hook = NULL;
static bool watching = false;
static bool forced_log = false;
static bool see_all = false;	/* may show other roles' activity */
static char *blockers = NULL;
static char *waited_for = NULL;
static Oid	waited_relid = InvalidOid;	/* relation of the last watched wait */
static int	waited_mode = 0;			/* its lock mode */

/* Forget what was captured. */
static void
lockwatch_clear(void)
{
	if (blockers)
		pfree(blockers);
	if (waited_for)
		pfree(waited_for);
	blockers = NULL;
	waited_for = NULL;
	waited_relid = InvalidOid;
	waited_mode = 0;
}

/* emit_log_hook: capture blockers from ProcSleep's lock-wait reports. */
static void
lockwatch_emit_log_hook(ErrorData *edata)
{
	if (watching && edata->elevel == LOG && edata->funcname != NULL &&
		strcmp(edata->funcname, "ProcSleep") == 0)
	{
		if (MyProc != NULL && MyProc->waitLock != NULL)
		{
			/*
			 * We are queued for a lock: no catalog access, no interrupts,
			 * and everything built in a scratch context but the result.
			 */
			MemoryContext scratch = AllocSetContextCreate(TopMemoryContext,
														  "migrate_ext lockwatch",
														  ALLOCSET_SMALL_SIZES);
			MemoryContext oldcxt = MemoryContextSwitchTo(scratch);
			char	   *b;
			bool		waiting;
			LOCKTAG		tag;
			LOCKMODE	mode = NoLock;

			HOLD_INTERRUPTS();
			b = migrate_describe_my_lock_blockers(see_all, &waiting, &tag, &mode);
			if (waiting)
			{
				lockwatch_clear();
				if (b)
					blockers = MemoryContextStrdup(TopMemoryContext, b);
				if (edata->message)
					waited_for = MemoryContextStrdup(TopMemoryContext, edata->message);
				if (tag.locktag_type == LOCKTAG_RELATION)
					waited_relid = tag.locktag_field2;
				waited_mode = mode;
			}
			RESUME_INTERRUPTS();
			MemoryContextSwitchTo(oldcxt);
			MemoryContextDelete(scratch);
		}
		if (forced_log)
			edata->output_to_server = false;
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/* Install the hook (from _PG_init). */
void
lockwatch_init(void)
{
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = lockwatch_emit_log_hook;
}

/*
 * Within the caller's GUC nest level: make lock waits reported before
 * lock_timeout fires (log_lock_waits on, deadlock_timeout below it).
 * "first" at the start of a migration, false after its script changed
 * lock_timeout.
 */
void
lockwatch_setup_gucs(int lock_timeout_ms, bool first)
{
	see_all = migrate_may_see_all_activity();
	/* a later call (after the script's own SET) keeps what we forced */
	forced_log = (first ? false : forced_log) || !log_lock_waits;
	if (lock_timeout_ms <= 0)
		return;
	if (!log_lock_waits)
		(void) set_config_option("log_lock_waits", "on", PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	if (DeadlockTimeout >= lock_timeout_ms)
	{
		char		buf[32];

		/* not below 10 ms: each expiry runs a deadlock check over the lock table */
		snprintf(buf, sizeof(buf), "%d", Max(lock_timeout_ms / 2, 10));
		(void) set_config_option("deadlock_timeout", buf, PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}
}

/* Start watching a statement. */
void
lockwatch_begin(void)
{
	lockwatch_clear();
	watching = true;
}

/* Stop watching (what was captured stays readable until the next begin). */
void
lockwatch_end(void)
{
	watching = false;
}

/* Blockers captured during the last watched wait, or NULL. */
const char *
lockwatch_blockers(void)
{
	return blockers;
}

/* Relation of the last watched wait, or InvalidOid. */
Oid
lockwatch_waited_relid(void)
{
	return waited_relid;
}

/* Lock mode of the last watched wait, or 0. */
int
lockwatch_waited_mode(void)
{
	return waited_mode;
}

/* PostgreSQL's description of the last watched wait, or NULL. */
const char *
lockwatch_waited_for(void)
{
	return waited_for;
}
