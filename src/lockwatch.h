/*-------------------------------------------------------------------------
 * lockwatch.h
 *	  Who blocked a migration statement's lock request.
 *-------------------------------------------------------------------------
 */
#ifndef MIGRATE_LOCKWATCH_H
#define MIGRATE_LOCKWATCH_H

extern void lockwatch_init(void);
extern void lockwatch_setup_gucs(int lock_timeout_ms, bool first);
extern void lockwatch_begin(void);
extern void lockwatch_end(void);
extern const char *lockwatch_blockers(void);
extern const char *lockwatch_waited_for(void);
extern Oid	lockwatch_waited_relid(void);
extern int	lockwatch_waited_mode(void);

#endif							/* MIGRATE_LOCKWATCH_H */
