/*-------------------------------------------------------------------------
 * context.h
 *	  Per-transaction session context: which migration is running now.
 *-------------------------------------------------------------------------
 */
#ifndef MIGRATE_CONTEXT_H
#define MIGRATE_CONTEXT_H

extern void migrate_context_init(void);
extern void migrate_context_begin(const char *version);
extern void migrate_context_end(void);
extern const char *migrate_context_current(void);

#endif							/* MIGRATE_CONTEXT_H */
