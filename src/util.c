/*-------------------------------------------------------------------------
 * util.c
 *	  Helpers shared by every room of migrate_ext: script checksums, the
 *	  natural order of versions, argument checks, who is calling, who is
 *	  blocking us, and set-returning-function setup.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/socket.h>
#include <netdb.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "access/xlog.h"
#include "common/ip.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/acl.h"
#if PG_VERSION_NUM >= 140000
#include "utils/backend_status.h"
#else
#include "pgstat.h"
#endif
#include "catalog/pg_authid.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "executor/spi.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#if PG_VERSION_NUM >= 140000
#include "common/cryptohash.h"
#endif
#include "common/sha2.h"

#include "errors.h"
#include "migrate_ext.h"
#include "util.h"

/*
 * A SHA-256 hasher, reused for many buffers (a snapshot hashes one per
 * object: creating the hash context each time would cost more than the
 * hashing).
 */
struct MigrateHasher
{
#if PG_VERSION_NUM >= 140000
	pg_cryptohash_ctx *ctx;
#else
	pg_sha256_ctx ctx;
#endif
};

/* A new hasher (free it with migrate_hasher_free). */
MigrateHasher *
migrate_hasher_create(void)
{
	MigrateHasher *h = palloc0(sizeof(MigrateHasher));

#if PG_VERSION_NUM >= 140000
	h->ctx = pg_cryptohash_create(PG_SHA256);
	if (h->ctx == NULL)
		elog(ERROR, "could not create a sha256 context");
#endif
	return h;
}

/* Start a new hash with a hasher (its input given by migrate_hasher_update). */
void
migrate_hasher_reset(MigrateHasher *h)
{
#if PG_VERSION_NUM >= 140000
	if (pg_cryptohash_init(h->ctx) < 0)
		elog(ERROR, "could not compute sha256 checksum");
#else
	pg_sha256_init(&h->ctx);
#endif
}

/* Add bytes to the hash being computed. */
void
migrate_hasher_update(MigrateHasher *h, const char *data, size_t len)
{
#if PG_VERSION_NUM >= 140000
	if (pg_cryptohash_update(h->ctx, (const uint8 *) data, len) < 0)
		elog(ERROR, "could not compute sha256 checksum");
#else
	pg_sha256_update(&h->ctx, (const uint8 *) data, len);
#endif
}

/* The hex sha256 of what was added since migrate_hasher_reset. */
char *
migrate_hasher_final_hex(MigrateHasher *h)
{
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char	   *out = palloc(PG_SHA256_DIGEST_LENGTH * 2 + 1);
	static const char hexdigits[] = "0123456789abcdef";

#if PG_VERSION_NUM >= 150000
	if (pg_cryptohash_final(h->ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not compute sha256 checksum");
#elif PG_VERSION_NUM >= 140000
	if (pg_cryptohash_final(h->ctx, digest) < 0)
		elog(ERROR, "could not compute sha256 checksum");
#else
	pg_sha256_final(&h->ctx, digest);
#endif
	for (int i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
	{
		out[i * 2] = hexdigits[digest[i] >> 4];
		out[i * 2 + 1] = hexdigits[digest[i] & 0x0F];
	}
	out[PG_SHA256_DIGEST_LENGTH * 2] = '\0';
	return out;
}

/* Hex sha256 of a buffer, with a hasher. */
char *
migrate_hasher_hex(MigrateHasher *h, const char *data, size_t len)
{
	migrate_hasher_reset(h);
	migrate_hasher_update(h, data, len);
	return migrate_hasher_final_hex(h);
}

/* Free a hasher. */
void
migrate_hasher_free(MigrateHasher *h)
{
#if PG_VERSION_NUM >= 140000
	pg_cryptohash_free(h->ctx);
#endif
	pfree(h);
}

/* Hex sha256 of a buffer. */
char *
migrate_sha256_hex(const char *data, size_t len)
{
	MigrateHasher *h = migrate_hasher_create();
	char	   *out = migrate_hasher_hex(h, data, len);

	migrate_hasher_free(h);
	return out;
}

/* Checksum of a migration script: sha256 hex with CRLF normalised to LF. */
char *
migrate_checksum_cstring(const char *script, size_t len)
{
	char	   *norm;
	size_t		n = 0;
	char	   *result;

	if (memchr(script, '\r', len) == NULL)
		return migrate_sha256_hex(script, len);

	norm = palloc(len + 1);
	for (size_t i = 0; i < len; i++)
	{
		if (script[i] == '\r' && i + 1 < len && script[i + 1] == '\n')
			continue;
		norm[n++] = script[i];
	}
	result = migrate_sha256_hex(norm, n);
	pfree(norm);
	return result;
}

/*
 * Natural-order sort key of a version.
 *
 * Each run of digits becomes 0x01, the count of its significant digits and
 * the digits (so 2 < 10 and leading zeros do not matter); every other
 * character becomes 0x02 followed by its bytes.  A 0x00 and the raw version
 * follow, so distinct versions never share a key ("01" sorts just before
 * "1") and a version sorts before its own extensions ("1" < "1.0").
 */
bytea *
migrate_version_key_bytes(const char *version, int len)
{
	StringInfoData buf;
	int			i = 0;
	bytea	   *result;

	initStringInfo(&buf);
	while (i < len)
	{
		if (version[i] >= '0' && version[i] <= '9')
		{
			int			start = i;
			int			ndigits;

			while (i < len && version[i] >= '0' && version[i] <= '9')
				i++;
			while (start < i - 1 && version[start] == '0')
				start++;
			ndigits = i - start;
			if (ndigits > 255)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("version has a run of more than 255 digits")));
			appendStringInfoChar(&buf, 0x01);
			appendStringInfoChar(&buf, (char) ndigits);
			appendBinaryStringInfo(&buf, version + start, ndigits);
		}
		else
		{
			int			clen = pg_mblen(version + i);

			if (clen > len - i)
				clen = len - i;
			appendStringInfoChar(&buf, 0x02);
			appendBinaryStringInfo(&buf, version + i, clen);
			i += clen;
		}
	}
	appendStringInfoChar(&buf, 0x00);
	appendBinaryStringInfo(&buf, version, len);

	result = (bytea *) palloc(VARHDRSZ + buf.len);
	SET_VARSIZE(result, VARHDRSZ + buf.len);
	memcpy(VARDATA(result), buf.data, buf.len);
	pfree(buf.data);
	return result;
}

/* Compare two versions in natural order: -1, 0 or 1. */
int
migrate_version_cmp(const char *a, int alen, const char *b, int blen)
{
	bytea	   *ka = migrate_version_key_bytes(a, alen);
	bytea	   *kb = migrate_version_key_bytes(b, blen);
	int			la = VARSIZE(ka) - VARHDRSZ;
	int			lb = VARSIZE(kb) - VARHDRSZ;
	int			cmp = memcmp(VARDATA(ka), VARDATA(kb), Min(la, lb));

	if (cmp == 0)
		cmp = (la > lb) - (la < lb);
	pfree(ka);
	pfree(kb);
	return (cmp > 0) - (cmp < 0);
}

/*
 * Fetch a text argument as a C string, refusing NULL (22004) and, unless
 * allowed, an empty or all-blank value (22023).  Returns NULL for an allowed
 * NULL.
 */
char *
migrate_text_arg(FunctionCallInfo fcinfo, int argno, const char *argname,
				 bool allow_null, bool allow_empty)
{
	char	   *s;

	if (PG_ARGISNULL(argno))
	{
		if (allow_null)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", argname),
				 errhint("Pass a non-empty value for %s.", argname)));
	}
	s = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (!allow_empty && s[strspn(s, " \t\r\n\f\v")] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", argname),
				 errhint("Pass a non-empty value for %s.", argname)));
	return s;
}

/* A version is non-empty, at most 200 bytes, without blanks or control characters. */
void
migrate_check_version(const char *version)
{
	size_t		len = strlen(version);

	if (len > MIGRATE_MAX_VERSION_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("version is too long (%zu bytes)", len),
				 errdetail("Versions are at most %d bytes.", MIGRATE_MAX_VERSION_LEN)));
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) version[i];

		if (c <= ' ' || c == 0x7F)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("version \"%s\" contains a blank or control character", version),
					 errhint("Use versions such as 1, 1.2.10, V3 or 20251014220000.")));
	}
}

/*
 * The chain hash of a migrate.history entry, as hex: SHA-256 of the
 * previous entry's chain hash (nothing for the first) followed by, for an
 * apply, the version and the checksum; for the other actions, the action,
 * a blank, the version and the checksum if any (no version holds a blank,
 * and a checksum is hex, so no two inputs read alike).
 */
char *
migrate_chain_link(const char *prev, const char *action, const char *version,
				   const char *checksum)
{
	StringInfoData buf;
	char	   *hash;

	initStringInfo(&buf);
	if (prev)
		appendStringInfoString(&buf, prev);
	if (strcmp(action, "apply") != 0)
		appendStringInfo(&buf, "%s ", action);
	appendStringInfoString(&buf, version);
	if (checksum)
		appendStringInfoString(&buf, checksum);
	hash = migrate_sha256_hex(buf.data, buf.len);
	pfree(buf.data);
	return hash;
}

/* Refuse to change state on a standby or in a read-only transaction. */
void
migrate_check_writable(const char *what)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot run %s on a server in recovery", what),
				 errdetail("The server is a read-only hot standby."),
				 errhint("Run %s on the primary.", what)));
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot run %s in a read-only transaction", what),
				 errhint("Run it in a read-write transaction.")));
}

/* the extension owner, cached until migrate.migrations changes (owner, drop) */
static Oid	cached_owner = InvalidOid;
static Oid	owner_relid = InvalidOid;
static bool owner_callback_registered = false;

/* Relcache callback: forget the cached owner when its table changes. */
static void
owner_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == owner_relid)
		cached_owner = InvalidOid;
}

/*
 * The owner of the extension's tables (that of migrate.migrations): the
 * bookkeeping and the audit log are written as this role.
 */
Oid
migrate_extension_owner(void)
{
	Oid			nsp;
	Oid			relid;
	HeapTuple	tup;
	Oid			owner;

	if (OidIsValid(cached_owner))
		return cached_owner;
	nsp = get_namespace_oid(MIGRATE_SCHEMA, false);
	relid = get_relname_relid("migrations", nsp);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table migrate.migrations does not exist"),
				 errhint("Reinstall the extension: DROP EXTENSION migrate_ext; CREATE EXTENSION migrate_ext;")));
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	if (!owner_callback_registered)
	{
		CacheRegisterRelcacheCallback(owner_relcache_callback, (Datum) 0);
		owner_callback_registered = true;
	}
	owner_relid = relid;
	cached_owner = owner;
	return owner;
}

/*
 * Open a GUC level with search_path = pg_catalog, pg_temp (pop it with
 * AtEOXact_GUC(true, level)): for SQL the extension runs with raised
 * rights, so nothing the caller put on its search_path can be reached.
 */
int
migrate_pin_search_path(void)
{
	int			nest = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return nest;
}

/*
 * Become the extension owner for the extension's own SQL (bookkeeping,
 * audit configuration and log), with search_path = pg_catalog, pg_temp so
 * nothing on the caller's path is reachable; "restricted" also forbids
 * what SECURITY_RESTRICTED_OPERATION forbids.  Undo with
 * migrate_restore_user (in PG_FINALLY: an error pops the GUC level by
 * itself, so pop_gucs only on success).
 */
void
migrate_become_owner(OwnerSwitch *sw, bool restricted)
{
	sw->nest = migrate_pin_search_path();
	GetUserIdAndSecContext(&sw->save_userid, &sw->save_sec_context);
	SetUserIdAndSecContext(migrate_extension_owner(),
						   sw->save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   (restricted ? SECURITY_RESTRICTED_OPERATION : 0));
}

/* Back to the caller's identity (and search_path when pop_gucs). */
void
migrate_restore_user(OwnerSwitch *sw, bool pop_gucs)
{
	SetUserIdAndSecContext(sw->save_userid, sw->save_sec_context);
	if (pop_gucs)
		AtEOXact_GUC(true, sw->nest);
}

/* SPI_execute_with_args as the extension owner (see migrate_become_owner). */
int
migrate_owner_spi(const char *sql, int nargs, Oid *argtypes, Datum *values,
				  const char *nulls, bool read_only, long tcount, bool restricted)
{
	OwnerSwitch sw;
	volatile int rc = 0;

	migrate_become_owner(&sw, restricted);
	PG_TRY();
	{
		rc = SPI_execute_with_args(sql, nargs, argtypes, values, nulls, read_only, tcount);
	}
	PG_FINALLY();
	{
		migrate_restore_user(&sw, false);
	}
	PG_END_TRY();
	AtEOXact_GUC(true, sw.nest);
	return rc;
}

/* Name of the current (effective) user. */
char *
migrate_current_user_name(void)
{
	return GetUserNameFromId(GetUserId(), false);
}

/* Name of the session user. */
char *
migrate_session_user_name(void)
{
	return GetUserNameFromId(GetSessionUserId(), false);
}

/* Milliseconds between two timestamps. */
double
migrate_elapsed_ms(TimestampTz start, TimestampTz end)
{
	return (double) (end - start) / 1000.0;
}

/* 1-based line number of a byte offset in a string. */
int
migrate_line_of(const char *str, int byte_offset)
{
	int			line = 1;

	for (int i = 0; i < byte_offset && str[i] != '\0'; i++)
		if (str[i] == '\n')
			line++;
	return line;
}

/* Human-readable backend state. */
static const char *
backend_state_name(BackendState state)
{
	switch (state)
	{
		case STATE_IDLE:
			return "idle";
		case STATE_RUNNING:
			return "active";
		case STATE_IDLEINTRANSACTION:
			return "idle in transaction";
		case STATE_FASTPATH:
			return "fastpath function call";
		case STATE_IDLEINTRANSACTION_ABORTED:
			return "idle in transaction (aborted)";
		case STATE_DISABLED:
			return "disabled";
		default:
			return "unknown";
	}
}

/*
 * May the current user see other roles' activity (client, state, query),
 * as pg_stat_activity decides?  Needs the catalog: call it before waiting.
 */
bool
migrate_may_see_all_activity(void)
{
#if PG_VERSION_NUM >= 140000
	return has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
#else
	return has_privs_of_role(GetUserId(), DEFAULT_ROLE_READ_ALL_STATS);
#endif
}

/*
 * Describe another backend from its shared status entry: pid,
 * application_name and, if it runs as the current user or see_all (see
 * migrate_may_see_all_activity), client address, state, transaction start
 * and age and (with_query) its current query.  No catalog access, so it is
 * safe while this backend waits for a lock.
 */
char *
migrate_describe_backend(int pid, bool with_query, bool see_all)
{
	StringInfoData buf;
	int			n;
	TimestampTz now = GetCurrentTimestamp();

	initStringInfo(&buf);
#if PG_VERSION_NUM >= 140000
	pgstat_clear_backend_activity_snapshot();
#else
	pgstat_clear_snapshot();
#endif
	n = pgstat_fetch_stat_numbackends();
	for (int i = 1; i <= n; i++)
	{
#if PG_VERSION_NUM >= 160000
		LocalPgBackendStatus *local = pgstat_get_local_beentry_by_index(i);
#else
		LocalPgBackendStatus *local = pgstat_fetch_stat_local_beentry(i);
#endif
		PgBackendStatus *be;
		char		host[NI_MAXHOST];

		if (local == NULL)
			continue;
		be = &local->backendStatus;
		if (be->st_procpid != pid)
			continue;

		appendStringInfo(&buf, "pid %d, application_name \"%s\"", pid,
						 be->st_appname ? be->st_appname : "");
		if (be->st_userid != GetUserId() && !see_all)
		{
			appendStringInfoString(&buf, ", <insufficient privilege to see more>");
			return buf.data;
		}
		host[0] = '\0';
		if (be->st_clientaddr.addr.ss_family == AF_INET ||
			be->st_clientaddr.addr.ss_family == AF_INET6)
		{
			if (pg_getnameinfo_all(&be->st_clientaddr.addr, be->st_clientaddr.salen,
								   host, sizeof(host), NULL, 0, NI_NUMERICHOST) != 0)
				host[0] = '\0';
		}
		appendStringInfo(&buf, ", client %s", host[0] ? host : "local");
		appendStringInfo(&buf, ", state %s", backend_state_name(be->st_state));
		if (be->st_xact_start_timestamp != 0)
			appendStringInfo(&buf, ", in transaction since %s (%.1f s)",
							 timestamptz_to_str(be->st_xact_start_timestamp),
							 migrate_elapsed_ms(be->st_xact_start_timestamp, now) / 1000.0);
		if (with_query)
		{
			char	   *q = pnstrdup(be->st_activity_raw,
									 pg_mbcliplen(be->st_activity_raw,
												  strlen(be->st_activity_raw), 200));

			appendStringInfo(&buf, ", query: %s", q);
		}
		return buf.data;
	}
	appendStringInfo(&buf, "pid %d (no longer running)", pid);
	return buf.data;
}

/* Add a pid to an array unless it is there already. */
static void
add_pid(int *pids, int *npids, int pid)
{
	for (int i = 0; i < *npids; i++)
		if (pids[i] == pid)
			return;
	pids[(*npids)++] = pid;
}

/*
 * While this backend is queued for a lock, list the sessions that block it,
 * the way pg_blocking_pids() does, each described by
 * migrate_describe_backend().  Everything, including which lock we wait
 * for (*tag, *mode), comes from one snapshot of the lock table taken under
 * its partition locks: the wait may end at any moment, so MyProc->waitLock
 * is not read again.  *waiting is false (and NULL returned) when the
 * snapshot shows no wait; NULL is also returned when nobody blocks us.
 */
char *
migrate_describe_my_lock_blockers(bool see_all, bool *waiting, LOCKTAG *tag,
								  LOCKMODE *mode)
{
	BlockedProcsData *data;
	int		   *pids;
	int			npids = 0;
	StringInfoData buf;

	*waiting = false;
	if (MyProc == NULL)
		return NULL;

	data = GetBlockerStatusData(MyProcPid);
	pids = palloc(sizeof(int) * (data->nlocks + 1));
	for (int i = 0; i < data->nprocs; i++)
	{
		BlockedProcData *bproc = &data->procs[i];
		LockInstanceData *instances = &data->locks[bproc->first_lock];
		int		   *preceding = &data->waiter_pids[bproc->first_waiter];
		LockInstanceData *blocked = NULL;
		LockMethod	method;
		LOCKMASK	conflicts;

		for (int j = 0; j < bproc->num_locks; j++)
			if (instances[j].pid == bproc->pid)
			{
				blocked = &instances[j];
				break;
			}
		if (blocked == NULL || blocked->waitLockMode == NoLock)
			continue;
		if (bproc->pid == MyProcPid)
		{
			*waiting = true;
			*tag = blocked->locktag;
			*mode = blocked->waitLockMode;
		}
		method = GetLockTagsMethodTable(&blocked->locktag);
		conflicts = method->conflictTab[blocked->waitLockMode];

		for (int j = 0; j < bproc->num_locks; j++)
		{
			LockInstanceData *inst = &instances[j];

			if (inst->leaderPid == blocked->leaderPid)
				continue;
			if (conflicts & inst->holdMask)
				add_pid(pids, &npids, inst->pid);
			else
			{
				for (int k = 0; k < bproc->num_waiters; k++)
					if (preceding[k] == inst->pid)
					{
						if (conflicts & LOCKBIT_ON(inst->waitLockMode))
							add_pid(pids, &npids, inst->pid);
						break;
					}
			}
		}
	}

	if (npids == 0)
		return NULL;
	initStringInfo(&buf);
	for (int i = 0; i < npids; i++)
	{
		if (i > 0)
			appendStringInfoString(&buf, "; ");
		appendStringInfoString(&buf, migrate_describe_backend(pids[i], true, see_all));
	}
	return buf.data;
}

/*
 * Run fn(arg) in an internal subtransaction, kept (keep) or always rolled
 * back, with the caller's memory context and resource owner restored.
 * Returns NULL, or the error fn raised (copied into the caller's context,
 * its subtransaction rolled back): the caller decides whether to re-raise.
 */
ErrorData *
migrate_subxact(void (*fn) (void *arg), void *arg, bool keep)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		fn(arg);
		if (keep)
			ReleaseCurrentSubTransaction();
		else
			RollbackAndReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	CurrentResourceOwner = oldowner;
	return edata;
}

/*
 * Is this the error of an object another session dropped while it was being
 * read without a lock (the server's deparsers and syscache lookups)?
 */
bool
migrate_is_concurrent_drop(ErrorData *edata)
{
	return edata->sqlerrcode == ERRCODE_INTERNAL_ERROR && edata->message &&
		(strncmp(edata->message, "could not open relation with OID", 32) == 0 ||
		 strncmp(edata->message, "cache lookup failed", 19) == 0);
}

/*
 * Fail with a serialization failure (40001): "what" kept meeting objects
 * another session dropped (edata: the last such error).
 */
void
migrate_concurrent_drop_error(const char *what, ErrorData *edata, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("the schema changed while %s read it", what),
			 errdetail("Another session dropped an object being read: %s.", edata->message),
			 errhint("%s", hint)));
}

/* Set up a set-returning function in materialize mode. */
void
migrate_materialize_srf(FunctionCallInfo fcinfo)
{
#if PG_VERSION_NUM >= 150000
	InitMaterializedSRF(fcinfo, 0);
#else
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TupleDesc	tupdesc;
	MemoryContext oldcxt;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	oldcxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->setDesc = CreateTupleDescCopy(tupdesc);
	MemoryContextSwitchTo(oldcxt);
#endif
}

/* Schema-qualified, quoted name of a relation. */
char *
migrate_qualified_relname(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/* inet_client_addr(), NULL for a local connection. */
Datum
migrate_client_addr_datum(bool *isnull)
{
	LOCAL_FCINFO(fcinfo, 0);
	Datum		d;

	InitFunctionCallInfoData(*fcinfo, NULL, 0, InvalidOid, NULL, NULL);
	d = inet_client_addr(fcinfo);
	*isnull = fcinfo->isnull;
	return d;
}

/* Prepare and keep a plan as the extension owner, with search_path pinned. */
SPIPlanPtr
migrate_keep_plan_as_owner(const char *sql, int nargs, Oid *argtypes)
{
	OwnerSwitch sw;
	SPIPlanPtr volatile plan = NULL;

	migrate_become_owner(&sw, true);
	PG_TRY();
	{
		plan = SPI_prepare(sql, nargs, argtypes);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
	}
	PG_FINALLY();
	{
		migrate_restore_user(&sw, false);
	}
	PG_END_TRY();
	AtEOXact_GUC(true, sw.nest);
	return plan;
}

/*
 * Run a kept plan as the extension owner.  The plan names everything
 * schema-qualified and by OID, so only the user is switched (as the
 * foreign-key triggers do), not search_path.
 */
int
migrate_execute_plan_as_owner(SPIPlanPtr plan, Datum *values, const char *nulls, long tcount)
{
	Oid			save_userid;
	int			save_sec_context;
	volatile int rc = 0;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(migrate_extension_owner(),
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		rc = SPI_execute_plan(plan, values, nulls, false, tcount);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
	return rc;
}

/* A text Datum for SPI, or a NULL marked in *null ('n'; ' ' otherwise). */
Datum
migrate_text_or_null(const char *str, char *null)
{
	*null = str ? ' ' : 'n';
	return str ? CStringGetTextDatum(str) : (Datum) 0;
}
