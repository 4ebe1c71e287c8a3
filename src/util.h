/*-------------------------------------------------------------------------
 * util.h
 *	  Shared helpers: checksums, natural version order, argument checks,
 *	  session identity, lock-blocker descriptions, SRF setup.
 *-------------------------------------------------------------------------
 */
#ifndef MIGRATE_UTIL_H
#define MIGRATE_UTIL_H

#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "storage/lock.h"
#include "utils/timestamp.h"

/* longest version string accepted, in bytes */
#define MIGRATE_MAX_VERSION_LEN 200

extern char *migrate_sha256_hex(const char *data, size_t len);
typedef struct MigrateHasher MigrateHasher;
extern MigrateHasher *migrate_hasher_create(void);
extern char *migrate_hasher_hex(MigrateHasher *h, const char *data, size_t len);
extern void migrate_hasher_reset(MigrateHasher *h);
extern void migrate_hasher_update(MigrateHasher *h, const char *data, size_t len);
extern char *migrate_hasher_final_hex(MigrateHasher *h);
extern void migrate_hasher_free(MigrateHasher *h);
extern char *migrate_chain_link(const char *prev, const char *action, const char *version,
								const char *checksum);
extern char *migrate_checksum_cstring(const char *script, size_t len);
extern bytea *migrate_version_key_bytes(const char *version, int len);
extern int	migrate_version_cmp(const char *a, int alen, const char *b, int blen);

extern char *migrate_text_arg(FunctionCallInfo fcinfo, int argno, const char *argname,
							  bool allow_null, bool allow_empty);
extern void migrate_check_version(const char *version);
extern void migrate_check_writable(const char *what);

extern Oid	migrate_extension_owner(void);
extern int	migrate_pin_search_path(void);

/* Running as the extension owner, with search_path pinned (see util.c). */
typedef struct OwnerSwitch
{
	Oid			save_userid;
	int			save_sec_context;
	int			nest;
} OwnerSwitch;

extern void migrate_become_owner(OwnerSwitch *sw, bool restricted);
extern void migrate_restore_user(OwnerSwitch *sw, bool pop_gucs);
extern int	migrate_owner_spi(const char *sql, int nargs, Oid *argtypes, Datum *values,
							  const char *nulls, bool read_only, long tcount, bool restricted);
extern SPIPlanPtr migrate_keep_plan_as_owner(const char *sql, int nargs, Oid *argtypes);
extern int	migrate_execute_plan_as_owner(SPIPlanPtr plan, Datum *values, const char *nulls,
										  long tcount);
extern Datum migrate_text_or_null(const char *str, char *null);
extern char *migrate_current_user_name(void);
extern char *migrate_qualified_relname(Oid relid);
extern Datum migrate_client_addr_datum(bool *isnull);
extern char *migrate_session_user_name(void);

extern bool migrate_may_see_all_activity(void);
extern char *migrate_describe_backend(int pid, bool with_query, bool see_all);
extern char *migrate_describe_my_lock_blockers(bool see_all, bool *waiting,
											   LOCKTAG *tag, LOCKMODE *mode);

extern double migrate_elapsed_ms(TimestampTz start, TimestampTz end);
extern int	migrate_line_of(const char *str, int byte_offset);

extern void migrate_materialize_srf(FunctionCallInfo fcinfo);

extern ErrorData *migrate_subxact(void (*fn) (void *arg), void *arg, bool keep);
extern bool migrate_is_concurrent_drop(ErrorData *edata);
extern void migrate_concurrent_drop_error(const char *what, ErrorData *edata, const char *hint) pg_attribute_noreturn();

#endif							/* MIGRATE_UTIL_H */
