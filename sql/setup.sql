-- install the extension and show what it created
CREATE EXTENSION migrate_ext;
SELECT extversion FROM pg_extension WHERE extname = 'migrate_ext';
SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS args,
       obj_description(p.oid, 'pg_proc') IS NOT NULL AS has_comment
  FROM pg_proc p WHERE p.pronamespace = 'migrate'::regnamespace ORDER BY 1, 2;
SELECT c.relname, c.relkind, obj_description(c.oid, 'pg_class') IS NOT NULL AS has_comment
  FROM pg_class c WHERE c.relnamespace = 'migrate'::regnamespace AND c.relkind IN ('r', 'v') ORDER BY 1;
-- every column of the bookkeeping tables is documented (partitions inherit
-- their parent's definition and documentation)
SELECT count(*) AS undocumented_columns
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'migrate'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
   AND a.attnum > 0 AND NOT a.attisdropped AND col_description(c.oid, a.attnum) IS NULL;
-- every trigger, index and sequence is documented too
SELECT count(*) AS undocumented_triggers FROM pg_trigger t
 WHERE t.tgrelid IN ('migrate.migrations'::regclass, 'migrate.history'::regclass)
   AND obj_description(t.oid, 'pg_trigger') IS NULL;
SELECT count(*) AS undocumented_relations FROM pg_class c
 WHERE c.relnamespace = 'migrate'::regnamespace AND obj_description(c.oid, 'pg_class') IS NULL
   AND NOT c.relispartition;
-- GUCs and their defaults
SELECT name, setting, unit FROM pg_settings WHERE name LIKE 'migrate.%' ORDER BY 1;
SELECT migrate.current_migration() IS NULL AS no_migration_running;
