/*-------------------------------------------------------------------------
 * events.h
 *	  Monitoring events: recording them from the other rooms.
 *-------------------------------------------------------------------------
 */
#ifndef MIGRATE_EVENTS_H
#define MIGRATE_EVENTS_H

/* severities, in order */
#define EVENT_DEBUG		1
#define EVENT_INFO		2
#define EVENT_NOTICE	3
#define EVENT_WARNING	4
#define EVENT_ERROR		5
#define EVENT_CRITICAL	6
#define EVENT_NOTIFY_OFF 7		/* migrate.notify_min_severity = off */

extern int	migrate_notify_min_severity;
extern bool migrate_notify_message;

extern int	migrate_event_severity(const char *name);
extern void migrate_event_record(const char *kind, const char *severity, const char *message,
								 const char *details_json);
extern void migrate_event_record_autonomous(const char *kind, const char *severity,
											const char *message, const char *details_json);

#endif							/* MIGRATE_EVENTS_H */
