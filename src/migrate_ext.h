/*-------------------------------------------------------------------------
 * migrate_ext.h
 *	  GUC variables and the few declarations every room of migrate_ext shares.
 *-------------------------------------------------------------------------
 */
#ifndef MIGRATE_EXT_H
#define MIGRATE_EXT_H

#include "postgres.h"

/* GUCs, defined in migrate_ext.c */
extern int	migrate_lock_timeout;		/* ms, per migration statement */
extern int	migrate_statement_timeout;	/* ms, per migration statement */
extern int	migrate_lock_wait_timeout;	/* ms, wait for the migration lock */
extern bool migrate_allow_out_of_order;
extern int	migrate_lock_retries;		/* retries after lock_timeout */
extern int	migrate_maintain_lock_timeout;	/* ms, DDL of maintain/cleanup */
extern int	migrate_premake_days;
extern int	migrate_maintain_delete_limit;
extern int	migrate_slow_query_ms;
extern int	migrate_copy_notice_batches;	/* NOTICE every N batches of copy_rows */
extern bool migrate_snapshot_on_apply;

/* schema holding the extension's objects (fixed: not relocatable) */
#define MIGRATE_SCHEMA "migrate"

#endif							/* MIGRATE_EXT_H */
