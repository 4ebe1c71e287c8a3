/*-------------------------------------------------------------------------
 * audit.h
 *	  Audit capture: the trigger's callbacks and the migrate.app_user GUC.
 *-------------------------------------------------------------------------
 */
#ifndef MIGRATE_AUDIT_H
#define MIGRATE_AUDIT_H

extern char *migrate_app_user;

extern void audit_init(void);

#endif							/* MIGRATE_AUDIT_H */
