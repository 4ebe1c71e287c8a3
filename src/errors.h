/*-------------------------------------------------------------------------
 * errors.h
 *	  The SQLSTATEs migrate_ext raises, in one list (documented in README.md).
 *
 * Class MG is the extension's own; standard codes are used where one fits
 * (22004 NULL argument, 22023 bad argument value, 42601 syntax error,
 * 55P03 lock timeout, 57014 statement timeout, 25006 read-only server).
 *-------------------------------------------------------------------------
 */
#ifndef MIGRATE_ERRORS_H
#define MIGRATE_ERRORS_H

#include "utils/elog.h"

/* same version already applied with another checksum */
#define ERRCODE_MIGRATE_CHECKSUM_MISMATCH		MAKE_SQLSTATE('M','G','0','0','1')
/* a version listed in requires is not applied */
#define ERRCODE_MIGRATE_MISSING_REQUIREMENT		MAKE_SQLSTATE('M','G','0','0','2')
/* version lower than the highest applied and out-of-order not allowed */
#define ERRCODE_MIGRATE_OUT_OF_ORDER			MAKE_SQLSTATE('M','G','0','0','3')
/* another session holds the migration lock past migrate.lock_wait_timeout */
#define ERRCODE_MIGRATE_LOCK_TIMEOUT			MAKE_SQLSTATE('M','G','0','0','4')
/* BEGIN/COMMIT/ROLLBACK/SAVEPOINT... inside a script */
#define ERRCODE_MIGRATE_TRANSACTION_CONTROL		MAKE_SQLSTATE('M','G','0','0','5')
/* statement that cannot run inside a transaction block */
#define ERRCODE_MIGRATE_NON_TRANSACTIONAL		MAKE_SQLSTATE('M','G','0','0','6')
/* a verify check returned false, no row, or not a boolean */
#define ERRCODE_MIGRATE_VERIFY_FAILED			MAKE_SQLSTATE('M','G','0','0','7')
/* revert of a migration without down script */
#define ERRCODE_MIGRATE_NO_DOWN_SCRIPT			MAKE_SQLSTATE('M','G','0','0','8')
/* revert refused: applied migrations require this one */
#define ERRCODE_MIGRATE_HAS_DEPENDENTS			MAKE_SQLSTATE('M','G','0','0','9')
/* version not recorded, or not in the state the action needs */
#define ERRCODE_MIGRATE_NOT_FOUND				MAKE_SQLSTATE('M','G','0','1','0')
/* baseline refused because history is not empty */
#define ERRCODE_MIGRATE_BASELINE_REFUSED		MAKE_SQLSTATE('M','G','0','1','1')
/* migrate.apply/revert called from inside a migration script */
#define ERRCODE_MIGRATE_NESTED					MAKE_SQLSTATE('M','G','0','1','2')
/* direct write to migrate.migrations or migrate.history */
#define ERRCODE_MIGRATE_HISTORY_READ_ONLY		MAKE_SQLSTATE('M','G','0','1','3')
/* statement that migrate.apply cannot run through SPI (COPY FROM STDIN...) */
#define ERRCODE_MIGRATE_UNSUPPORTED_STATEMENT	MAKE_SQLSTATE('M','G','0','1','4')
/* migrate.lint_level = error and the script has error-severity findings */
#define ERRCODE_MIGRATE_LINT_FAILED				MAKE_SQLSTATE('M','G','0','1','5')
/* lint finding reported as a WARNING (migrate.lint_level = warn) */
#define ERRCODE_MIGRATE_LINT_WARNING			MAKE_SQLSTATE('0','1','M','G','1')

/* raised by SQL functions of the audit capture (sql/migrate_ext.sql) */
/* audit_revert would overwrite changes of later transactions */
#define ERRCODE_MIGRATE_AUDIT_CONFLICT			MAKE_SQLSTATE('M','G','0','1','6')
/* audit_row_as_of cannot reconstruct a row (TRUNCATE without truncate_rows) */
#define ERRCODE_MIGRATE_AUDIT_UNRECOVERABLE		MAKE_SQLSTATE('M','G','0','1','7')
/* the table is not audited */
#define ERRCODE_MIGRATE_NOT_AUDITED				MAKE_SQLSTATE('M','G','0','1','8')

/* raised by the monitoring events and retention (src/events.c) */
/* direct UPDATE, DELETE or TRUNCATE of migrate.events or migrate.audit_log */
#define ERRCODE_MIGRATE_LOG_READ_ONLY			MAKE_SQLSTATE('M','G','0','1','9')

/* raised by the schema drift SQL functions */
/* migrate.drift without a saved snapshot or a given one */
#define ERRCODE_MIGRATE_NO_SNAPSHOT				MAKE_SQLSTATE('M','G','0','2','0')

#endif							/* MIGRATE_ERRORS_H */
