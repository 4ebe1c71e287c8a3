/*-------------------------------------------------------------------------
 * events.c
 *	  Monitoring events: migrate.record_event (transactional, or autonomous
 *	  through a background worker), NOTIFY on migrate_events, the guard of
 *	  the logs and the bounded retention delete.
 *
 * An event is inserted as the extension owner through one kept SPI plan
 * with bound parameters; the session facts (users, client address) are
 * cached per backend and looked up again only when the user changes, so a
 * call does no catalog lookup.  An autonomous event is handed to a dynamic
 * background worker in a DSM segment: the worker connects as the extension
 * owner, inserts the row (and sends the NOTIFY) in its own transaction and
 * commits, so the event survives the caller's rollback.  The caller waits
 * for the worker to finish (a process start and a connection: milliseconds,
 * see the README).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_type.h"
#include "utils/syscache.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_authid.h"
#include "commands/async.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inet.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/xid8.h"

#include "context.h"
#include "errors.h"
#include "events.h"
#include "migrate_ext.h"
#include "util.h"

/* GUCs (defined in migrate_ext.c) */
int			migrate_notify_min_severity = EVENT_WARNING;
bool		migrate_notify_message = false;

static const char *const severity_names[] = {
	NULL, "debug", "info", "notice", "warning", "error", "critical"
};

/* the insert, kept for the backend's life */
static SPIPlanPtr insert_plan = NULL;

/* session facts, cached per backend */
static Oid	cached_session_oid = InvalidOid;
static char *cached_session_name = NULL;
static Oid	cached_current_oid = InvalidOid;
static char *cached_current_name = NULL;
static bool client_addr_loaded = false;
static char *cached_client_addr = NULL;	/* text form, NULL when local */

/* set while the retention functions delete (see migrate_guard_log) */
static bool retention_write = false;

#define EVENT_NARGS 11
#define EVENT_INSERT \
	"INSERT INTO migrate.events (kind, severity, message, details, session_user_name," \
	" current_user_name, application_name, client_addr, pid, txid, migration_version)" \
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id"

/*
 * longest message sent in a NOTIFY payload: the payload limit is 8000 bytes,
 * and JSON escaping can grow text up to six times (kind and migration
 * version are at most 200 bytes each)
 */
#define NOTIFY_MESSAGE_MAX 800

/* Severity number (1..6) of a name, 0 if it is none of the six. */
int
migrate_event_severity(const char *name)
{
	for (int i = EVENT_DEBUG; i <= EVENT_CRITICAL; i++)
		if (strcmp(name, severity_names[i]) == 0)
			return i;
	return 0;
}

/* Severity name or a clear error. */
static int
check_severity(const char *severity)
{
	int			s = migrate_event_severity(severity);

	if (s == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid event severity \"%s\"", severity),
				 errhint("Use one of debug, info, notice, warning, error, critical.")));
	return s;
}

/* Everything one event records. */
typedef struct EventData
{
	const char *kind;
	int			severity;
	const char *message;		/* NULL allowed */
	const char *details;		/* jsonb text; NULL means {} */
	Jsonb	   *details_jsonb;	/* or the value itself */
	const char *session_user_name;
	const char *current_user_name;
	const char *application_name;
	const char *client_addr;	/* NULL when local */
	int			pid;
	FullTransactionId txid;		/* invalid: none */
	const char *migration;		/* NULL outside migrate.apply */
} EventData;

/* Fill the session facts of an event from this backend (cached). */
static void
gather_session(EventData *ev)
{
	if (GetSessionUserId() != cached_session_oid || cached_session_name == NULL)
	{
		char	   *name = migrate_session_user_name();

		if (cached_session_name)
			pfree(cached_session_name);
		cached_session_name = MemoryContextStrdup(TopMemoryContext, name);
		cached_session_oid = GetSessionUserId();
	}
	if (GetUserId() != cached_current_oid || cached_current_name == NULL)
	{
		char	   *name = migrate_current_user_name();

		if (cached_current_name)
			pfree(cached_current_name);
		cached_current_name = MemoryContextStrdup(TopMemoryContext, name);
		cached_current_oid = GetUserId();
	}
	if (!client_addr_loaded)
	{
		bool		isnull;
		Datum		d = migrate_client_addr_datum(&isnull);

		if (!isnull)
			cached_client_addr = MemoryContextStrdup(TopMemoryContext,
													 DatumGetCString(DirectFunctionCall1(inet_out, d)));
		client_addr_loaded = true;
	}
	ev->session_user_name = cached_session_name;
	ev->current_user_name = cached_current_name;
	ev->application_name = application_name ? application_name : "";
	ev->client_addr = cached_client_addr;
	ev->pid = MyProcPid;
	ev->migration = migrate_context_current();
}

/* JSON string of s, or null. */
static void
json_str(StringInfo buf, const char *s)
{
	if (s)
		escape_json(buf, s);
	else
		appendStringInfoString(buf, "null");
}

/* NOTIFY migrate_events with a small JSON payload, if severe enough. */
static void
notify_event(const EventData *ev, int64 id)
{
	StringInfoData buf;
	char	   *message = NULL;

	if (ev->severity < migrate_notify_min_severity)
		return;
	/* any role may LISTEN: the message goes out only where that is allowed */
	if (ev->message && migrate_notify_message)
	{
		int			len = strlen(ev->message);

		if (len > NOTIFY_MESSAGE_MAX)
			len = pg_mbcliplen(ev->message, len, NOTIFY_MESSAGE_MAX);
		message = pnstrdup(ev->message, len);
	}
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"id\": " INT64_FORMAT ", \"kind\": ", id);
	json_str(&buf, ev->kind);
	appendStringInfoString(&buf, ", \"severity\": ");
	json_str(&buf, severity_names[ev->severity]);
	appendStringInfoString(&buf, ", \"message\": ");
	json_str(&buf, message);
	appendStringInfoString(&buf, ", \"migration_version\": ");
	json_str(&buf, ev->migration);
	appendStringInfoString(&buf, ", \"pid\": ");
	appendStringInfo(&buf, "%d}", ev->pid);
	Async_Notify("migrate_events", buf.data);
	pfree(buf.data);
}

/* Insert an event in the current transaction (SPI connected); its id. */
static int64
insert_event(const EventData *ev)
{
	Oid			types[EVENT_NARGS] = {TEXTOID, TEXTOID, TEXTOID, JSONBOID, TEXTOID, TEXTOID,
	TEXTOID, INETOID, INT4OID, XID8OID, TEXTOID};
	Datum		values[EVENT_NARGS];
	char		nulls[EVENT_NARGS];
	int			rc;
	bool		isnull;
	int64		id;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(ev->kind);
	values[1] = CStringGetTextDatum(severity_names[ev->severity]);
	values[2] = migrate_text_or_null(ev->message, &nulls[2]);
	if (ev->details_jsonb)
		values[3] = JsonbPGetDatum(ev->details_jsonb);
	else
		values[3] = DirectFunctionCall1(jsonb_in, CStringGetDatum(ev->details ? ev->details : "{}"));
	values[4] = CStringGetTextDatum(ev->session_user_name);
	values[5] = CStringGetTextDatum(ev->current_user_name);
	values[6] = CStringGetTextDatum(ev->application_name);
	if (ev->client_addr)
		values[7] = DirectFunctionCall1(inet_in, CStringGetDatum(ev->client_addr));
	else
		nulls[7] = 'n';
	values[8] = Int32GetDatum(ev->pid);
	if (FullTransactionIdIsValid(ev->txid))
		values[9] = FullTransactionIdGetDatum(ev->txid);
	else
		nulls[9] = 'n';
	values[10] = migrate_text_or_null(ev->migration, &nulls[10]);

	/* written as the extension owner: callers need no right on the table */
	if (insert_plan == NULL)
		insert_plan = migrate_keep_plan_as_owner(EVENT_INSERT, EVENT_NARGS, types);

	rc = migrate_execute_plan_as_owner(insert_plan, values, nulls, 1);
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "event insert failed: %s", SPI_result_code_string(rc));
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	notify_event(ev, id);
	return id;
}

/*
 * Record an event in the current transaction (for the extension's own
 * activity); does nothing on a read-only server or transaction.
 */
void
migrate_event_record(const char *kind, const char *severity, const char *message,
					 const char *details_json)
{
	EventData	ev = {0};

	if (RecoveryInProgress() || XactReadOnly)
		return;
	ev.kind = kind;
	ev.severity = check_severity(severity);
	ev.message = message;
	ev.details = details_json;
	gather_session(&ev);
	ev.txid = GetTopFullTransactionId();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) insert_event(&ev);
	SPI_finish();
}

/* ---------------------------------------------------------------------
 * Autonomous events: a background worker writes them
 * ---------------------------------------------------------------------
 */

/* what the caller hands the worker, followed by the strings */
typedef struct EventMessage
{
	Oid			database;
	Oid			owner;
	int			severity;
	int			notify_min_severity;	/* the caller's migrate.notify_min_severity */
	bool		notify_message; /* the caller's migrate.notify_message */
	int			pid;
	uint64		txid;			/* 0: none */
	volatile int status;		/* 0 pending, 1 written, 2 failed */
	int64		id;
	char		error[1024];
	Size		len;			/* bytes of data[] */
	char		data[FLEXIBLE_ARRAY_MEMBER];	/* length-prefixed strings */
} EventMessage;

#define EVENT_STRINGS 8			/* kind message details session current app addr migration */

/* Append one length-prefixed (or NULL) string to a buffer. */
static void
put_string(StringInfo buf, const char *s)
{
	int32		len = s ? (int32) strlen(s) : -1;

	appendBinaryStringInfo(buf, (char *) &len, sizeof(len));
	if (s)
		appendBinaryStringInfo(buf, s, len);
}

/* Read back a string written by put_string. */
static const char *
get_string(const char **p)
{
	int32		len;
	const char *s;

	memcpy(&len, *p, sizeof(len));
	*p += sizeof(len);
	if (len < 0)
		return NULL;
	s = pnstrdup(*p, len);
	*p += len;
	return s;
}

/* Entry point of the worker that writes one autonomous event. */
PGDLLEXPORT void migrate_event_worker_main(Datum main_arg);

/* Background worker: insert the event of a DSM message and commit. */
void
migrate_event_worker_main(Datum main_arg)
{
	dsm_segment *seg;
	EventMessage *msg;
	EventData	ev = {0};
	const char *p;
	int64		id = 0;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("migrate_ext event writer could not attach to its dynamic shared memory segment")));
	msg = (EventMessage *) dsm_segment_address(seg);
#if PG_VERSION_NUM >= 170000
	BackgroundWorkerInitializeConnectionByOid(msg->database, msg->owner, BGWORKER_BYPASS_ROLELOGINCHECK);
#else
	BackgroundWorkerInitializeConnectionByOid(msg->database, msg->owner, 0);
#endif
	/* the event is written even if the owner's transactions default to read-only */
	(void) set_config_option("default_transaction_read_only", "off", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SET, true, 0, false);

	p = msg->data;
	ev.kind = get_string(&p);
	ev.message = get_string(&p);
	ev.details = get_string(&p);
	ev.session_user_name = get_string(&p);
	ev.current_user_name = get_string(&p);
	ev.application_name = get_string(&p);
	ev.client_addr = get_string(&p);
	ev.migration = get_string(&p);
	ev.severity = msg->severity;
	ev.pid = msg->pid;
	/* NOTIFY as the caller's setting says, not the worker's */
	migrate_notify_min_severity = msg->notify_min_severity;
	migrate_notify_message = msg->notify_message;
	ev.txid = msg->txid ? FullTransactionIdFromU64(msg->txid) : InvalidFullTransactionId;

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		/* never wait long behind the caller's own locks */
		(void) set_config_option("lock_timeout", "5s", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SET, true, 0, false);
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "migrate_ext: writing an autonomous event");
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		id = insert_event(&ev);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(TopMemoryContext);
		edata = CopyErrorData();
		strlcpy(msg->error, edata->message ? edata->message : "unknown error", sizeof(msg->error));
		pg_write_barrier();
		msg->status = 2;
		PG_RE_THROW();
	}
	PG_END_TRY();
	msg->id = id;
	pg_write_barrier();
	msg->status = 1;
	dsm_detach(seg);
	proc_exit(0);
}

/*
 * Whether this transaction holds a lock on migrate.events or its default
 * partition that the worker's insert (ROW EXCLUSIVE) would wait for, e.g.
 * after migrate.maintain attached or dropped partitions.
 */
static bool
holds_conflicting_event_lock(void)
{
	Oid			nsp = get_namespace_oid(MIGRATE_SCHEMA, false);
	Oid			events_oid = get_relname_relid("events", nsp);
	Oid			seq_oid = get_relname_relid("events_id_seq", nsp);
	LOCKMODE	modes[4] = {ShareLock, ShareRowExclusiveLock, ExclusiveLock, AccessExclusiveLock};
	List	   *rels;
	ListCell   *lc;

	if (!OidIsValid(events_oid))
		return false;
	rels = find_all_inheritors(events_oid, NoLock, NULL);
	if (OidIsValid(seq_oid))
		rels = lappend_oid(rels, seq_oid);
	foreach(lc, rels)
	{
		LOCKTAG		tag;

		SET_LOCKTAG_RELATION(tag, MyDatabaseId, lfirst_oid(lc));
		for (int m = 0; m < 4; m++)
#if PG_VERSION_NUM >= 170000
			if (LockHeldByMe(&tag, modes[m], false))
#else
			if (LockHeldByMe(&tag, modes[m]))
#endif
				return true;
	}
	return false;
}

/* Refuse at once what the worker cannot do (instead of failing in it). */
static void
check_worker_can_connect(Oid owner)
{
	HeapTuple	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(owner));
	bool		canlogin;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for role %u", owner);
	canlogin = ((Form_pg_authid) GETSTRUCT(tup))->rolcanlogin;
	ReleaseSysCache(tup);
#if PG_VERSION_NUM < 170000
	if (!canlogin)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("cannot write an autonomous event: the extension owner \"%s\" cannot log in",
						GetUserNameFromId(owner, false)),
				 errdetail("The event writer is a background worker that connects as the extension owner."),
				 errhint("ALTER ROLE %s LOGIN, or record the event with autonomous => false.",
						 quote_identifier(GetUserNameFromId(owner, false)))));
#else
	(void) canlogin;
#endif
}

/* Write an event through a background worker and wait for it; its id. */
static int64
record_autonomous(EventData *ev)
{
	StringInfoData strings;
	dsm_segment *seg;
	EventMessage *msg;
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	BgwHandleStatus status;
	int64		id;

	if (holds_conflicting_event_lock())
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("cannot write an autonomous event while this transaction locks migrate.events"),
				 errdetail("This transaction changed the partitions of migrate.events (migrate.maintain, migrate.cleanup or migrate.add_partitions); the event writer would wait for that lock until this transaction ends."),
				 errhint("Record the event in another transaction, or with autonomous => false.")));
	initStringInfo(&strings);
	put_string(&strings, ev->kind);
	put_string(&strings, ev->message);
	put_string(&strings, ev->details);
	put_string(&strings, ev->session_user_name);
	put_string(&strings, ev->current_user_name);
	put_string(&strings, ev->application_name);
	put_string(&strings, ev->client_addr);
	put_string(&strings, ev->migration);

	seg = dsm_create(offsetof(EventMessage, data) + strings.len, 0);
	msg = (EventMessage *) dsm_segment_address(seg);
	memset(msg, 0, offsetof(EventMessage, data));
	msg->database = MyDatabaseId;
	msg->owner = migrate_extension_owner();
	check_worker_can_connect(msg->owner);
	msg->severity = ev->severity;
	msg->notify_min_severity = migrate_notify_min_severity;
	msg->notify_message = migrate_notify_message;
	msg->pid = ev->pid;
	msg->txid = FullTransactionIdIsValid(ev->txid) ? U64FromFullTransactionId(ev->txid) : 0;
	msg->len = strings.len;
	memcpy(msg->data, strings.data, strings.len);

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "migrate_ext");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "migrate_event_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "migrate_ext event writer for PID %d", MyProcPid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "migrate_ext event writer");
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a background worker for an autonomous event"),
				 errdetail("Every background worker slot (max_worker_processes) is in use."),
				 errhint("Raise max_worker_processes, or record the event with autonomous => false.")));
	PG_TRY();
	{
		status = WaitForBackgroundWorkerShutdown(handle);
	}
	PG_CATCH();
	{
		/* cancelled while waiting: do not let the event appear afterwards */
		TerminateBackgroundWorker(handle);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (status == BGWH_POSTMASTER_DIED)
		ereport(FATAL,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("postmaster exited while an autonomous event was being written")));
	pg_read_barrier();
	if (msg->status != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("autonomous event was not written: %s",
						msg->status == 2 ? msg->error : "the background worker exited before writing it"),
				 errhint("See the server log for the event writer's error.")));
	id = msg->id;
	dsm_detach(seg);
	return id;
}

/*
 * Record an event that survives the current transaction's rollback (for
 * refusals); a failure becomes a WARNING, so the refusal itself is raised.
 */
void
migrate_event_record_autonomous(const char *kind, const char *severity, const char *message,
								const char *details_json)
{
	EventData	ev = {0};
	MemoryContext cxt = CurrentMemoryContext;

	if (RecoveryInProgress())
		return;
	ev.kind = kind;
	ev.severity = check_severity(severity);
	ev.message = message;
	ev.details = details_json;
	PG_TRY();
	{
		gather_session(&ev);
		ev.txid = GetTopFullTransactionIdIfAny();
		(void) record_autonomous(&ev);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("event \"%s\" could not be recorded: %s", kind, edata->message)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

PG_FUNCTION_INFO_V1(migrate_record_event);
/* SQL: migrate.record_event(kind, severity, message, details, autonomous) */
Datum
migrate_record_event(PG_FUNCTION_ARGS)
{
	EventData	ev = {0};
	char	   *severity;
	bool		autonomous = PG_ARGISNULL(4) ? false : PG_GETARG_BOOL(4);
	int64		id;

	ev.kind = migrate_text_arg(fcinfo, 0, "kind", false, false);
	severity = migrate_text_arg(fcinfo, 1, "severity", false, false);
	ev.severity = check_severity(severity);
	ev.message = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (!PG_ARGISNULL(3))
		ev.details_jsonb = PG_GETARG_JSONB_P(3);
	if (strlen(ev.kind) > 200)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("event kind is longer than 200 bytes"),
				 errhint("Use a short identifier such as \"disk_full\" and put the rest in message or details.")));
	if (!autonomous || RecoveryInProgress())
		migrate_check_writable("migrate.record_event");
	gather_session(&ev);

	if (autonomous)
	{
		/* its own transaction is read-write even if the caller's is not */
		/* the worker gets the details as text */
		if (ev.details_jsonb)
			ev.details = JsonbToCString(NULL, &ev.details_jsonb->root, VARSIZE(ev.details_jsonb));
		ev.details_jsonb = NULL;
		ev.txid = GetTopFullTransactionIdIfAny();
		PG_RETURN_INT64(record_autonomous(&ev));
	}

	ev.txid = GetTopFullTransactionId();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	id = insert_event(&ev);
	SPI_finish();
	PG_RETURN_INT64(id);
}

/* ---------------------------------------------------------------------
 * Guard and retention
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(migrate_guard_log);
/* Trigger: refuse UPDATE, DELETE, TRUNCATE of the logs outside retention. */
Datum
migrate_guard_log(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *op;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("migrate.guard_log() must be called as a trigger")));
	if (retention_write && TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		return PointerGetDatum(trigdata->tg_trigtuple);
	if (retention_write && TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		return PointerGetDatum(NULL);

	op = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? "UPDATE" :
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ? "DELETE" :
		TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event) ? "TRUNCATE" : "change";
	ereport(ERROR,
			(errcode(ERRCODE_MIGRATE_LOG_READ_ONLY),
			 errmsg("%s of %s is not allowed", op, migrate_qualified_relname(RelationGetRelid(trigdata->tg_relation))),
			 errdetail("Events and audit rows are never changed; they are removed only by retention."),
			 errhint("Set how long rows are kept in migrate.retention and run migrate.maintain(), or remove old rows with migrate.cleanup(interval).")));
	PG_RETURN_NULL();
}

/* The log (migrate.events or migrate.audit_log) a partition belongs to, or an error. */
static Oid
log_partition_root(Oid part)
{
	Oid			nsp = get_namespace_oid(MIGRATE_SCHEMA, false);
	Oid			events_oid = get_relname_relid("events", nsp);
	Oid			audit_oid = get_relname_relid("audit_log", nsp);
	Oid			root = part;

	while (OidIsValid(root) && get_rel_relispartition(root))
		root = get_partition_parent(root, false);
	if (!OidIsValid(root) || (root != events_oid && root != audit_oid) || root == part)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("relation with OID %u is not a partition of migrate.events or migrate.audit_log", part),
				 errhint("Retention works on the partitions listed by migrate.log_partitions().")));
	return root;
}

PG_FUNCTION_INFO_V1(migrate_retention_truncate);
/* SQL: migrate.retention_truncate(part) */
Datum
migrate_retention_truncate(PG_FUNCTION_ARGS)
{
	Oid			part = PG_GETARG_OID(0);
	char	   *sql;

	(void) log_partition_root(part);
	sql = psprintf("TRUNCATE %s", migrate_qualified_relname(part));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	retention_write = true;
	PG_TRY();
	{
		if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "retention truncate failed");
	}
	PG_FINALLY();
	{
		retention_write = false;
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_VOID();
}

/* rows deleted per statement by retention_delete */
#define RETENTION_CHUNK 5000

PG_FUNCTION_INFO_V1(migrate_retention_delete);
/* SQL: migrate.retention_delete(part, cutoff, severities, max_rows, not_before) */
Datum
migrate_retention_delete(PG_FUNCTION_ARGS)
{
	Oid			part;
	Oid			events_oid;
	Oid			root;
	char	   *sql;
	int64		limit;
	volatile int64 total = 0;
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	Oid			types[4] = {TIMESTAMPTZOID, TEXTARRAYOID, INT4OID, TIMESTAMPTZOID};
	SPIPlanPtr	plan;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("part and cutoff must not be NULL")));
	part = PG_GETARG_OID(0);
	limit = PG_ARGISNULL(3) ? PG_INT64_MAX : PG_GETARG_INT64(3);
	if (limit <= 0)
		PG_RETURN_INT64(0);

	root = log_partition_root(part);
	events_oid = get_relname_relid("events", get_namespace_oid(MIGRATE_SCHEMA, false));
	if (!PG_ARGISNULL(2) && root != events_oid)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("severities apply only to partitions of migrate.events"),
				 errhint("Pass NULL as severities for a partition of migrate.audit_log.")));

	values[0] = PG_GETARG_DATUM(1);
	if (PG_ARGISNULL(2))
	{
		values[1] = (Datum) 0;
		nulls[1] = 'n';
	}
	else
		values[1] = PG_GETARG_DATUM(2);
	if (PG_NARGS() < 5 || PG_ARGISNULL(4))
	{
		values[3] = (Datum) 0;
		nulls[3] = 'n';
	}
	else
		values[3] = PG_GETARG_DATUM(4);

	/* the oldest rows first, through the logged_at index, a chunk at a time */
	sql = psprintf("DELETE FROM %s WHERE ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
				   "SELECT ctid FROM %s WHERE logged_at OPERATOR(pg_catalog.<) $1"
				   " AND ($4 IS NULL OR logged_at OPERATOR(pg_catalog.>=) $4)%s"
				   " ORDER BY logged_at LIMIT $3))",
				   migrate_qualified_relname(part), migrate_qualified_relname(part),
				   root == events_oid ? " AND ($2 IS NULL OR severity OPERATOR(pg_catalog.=) ANY ($2))" : "");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = SPI_prepare(sql, 4, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	retention_write = true;
	PG_TRY();
	{
		for (;;)
		{
			int			chunk = (int) Min((int64) RETENTION_CHUNK, limit - total);
			int			rc;

			CHECK_FOR_INTERRUPTS();
			values[2] = Int32GetDatum(chunk);
			rc = SPI_execute_plan(plan, values, nulls, false, 0);
			if (rc != SPI_OK_DELETE)
				elog(ERROR, "retention delete failed: %s", SPI_result_code_string(rc));
			total += SPI_processed;
			if (SPI_processed < (uint64) chunk || total >= limit)
				break;
		}
	}
	PG_FINALLY();
	{
		retention_write = false;
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_INT64(total);
}
