/*-------------------------------------------------------------------------
 * drift.c
 *	  Schema snapshots: migrate.snapshot() reads the catalog in one pass and
 *	  describes every object canonically (no OIDs, names schema-qualified
 *	  with search_path pinned to pg_catalog), with a hash per object and a
 *	  fingerprint over all of them.
 *
 * One query per object kind runs through SPI in read-only mode, so all of
 * them see the same snapshot; each returns the identity and parent of its
 * objects, ordered by identity in the C collation, and either the whole
 * definition as jsonb (the rarer kinds) or one column per attribute, from
 * which the definition is pushed here straight into the result (no
 * jsonb_build_object per row, no text round trip; NULLs are left out).
 * The text comes from the server's own deparsers (pg_get_constraintdef,
 * pg_get_functiondef, pg_get_expr, ...), which qualify every name not on
 * the pinned search_path, so it never depends on the caller's path; index
 * definitions on plain columns are written here, to the letter of
 * pg_get_indexdef, which would open every table and scan the operator
 * classes once per index column.  An object's hash is the SHA-256 of its
 * definition's jsonb text.  Privileges are normalised through
 * acldefault (a NULL ACL and the explicit default compare equal).  Objects
 * that belong to an extension are left out (the extension is listed);
 * kinds not modelled are counted under "unmodeled", never skipped silently.
 * A partial snapshot (objects given) describes those objects and the
 * objects of those tables, plus every schema, extension, event trigger and
 * publication: database-wide objects are few, and some of their changes
 * (ALTER EVENT TRIGGER, ALTER PUBLICATION ... ADD TABLE) leave nothing
 * usable in the DDL ledger.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/amapi.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "storage/lock.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/ruleutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/xid8.h"
#include "tcop/tcopprot.h"

#include "context.h"
#include "migrate_ext.h"
#include "util.h"

/* schemas in scope: user schemas (and migrate only when asked for by name) */
#define NSF(n) \
	"(" n ".nspname !~ '^pg_' AND " n ".nspname <> 'information_schema'" \
	" AND (($1::text[] IS NULL AND " n ".nspname <> 'migrate') OR " n ".nspname = ANY ($1::text[])))"

/* not a member of an extension */
#define NOTEXT(catalog, oid) \
	"NOT EXISTS (SELECT 1 FROM pg_depend x_d WHERE x_d.classid = '" catalog "'::regclass" \
	" AND x_d.objid = " oid " AND x_d.deptype = 'e')"

/*
 * privileges as sorted "grantee:PRIVILEGE" strings ("*": grantable); the
 * default privileges (a NULL ACL, or one equal to the default) are left out,
 * so both compare equal and the common case costs nothing
 */
#define ACL(acl, type, owner) \
	"CASE WHEN " acl " IS NULL OR " acl " = acldefault('" type "', " owner ") THEN NULL ELSE" \
	" (SELECT jsonb_agg(x_a.g ORDER BY x_a.g COLLATE \"C\") FROM (SELECT" \
	" CASE x_e.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x_e.grantee)::text END" \
	" || ':' || x_e.privilege_type || CASE WHEN x_e.is_grantable THEN '*' ELSE '' END AS g" \
	" FROM aclexplode(" acl ") x_e) x_a) END"

#define QNAME(n, c) "format('%I.%I', " n ".nspname, " c ")"

/* a comment, read from pg_description directly (obj_description() is an SQL function call per row) */
#define COMMENT(oid, catalog, subid) \
	"(SELECT x_c.description FROM pg_description x_c WHERE x_c.objoid = " oid \
	" AND x_c.classoid = '" catalog "'::regclass AND x_c.objsubid = " subid ")"

/* only the objects (or the tables of the objects) listed in $2, when given */
#define ONLY(expr) "($2::text[] IS NULL OR " expr " = ANY ($2::text[]))"
/* the same for relations, by OID ($3: the relations named in $2), through the catalog indexes */
#define ONLYREL(oid) "($2::text[] IS NULL OR " oid " = ANY ($3::oid[]))"
/* an SQL literal matching a schema-qualified name as the snapshot writes it (for to_regclass, to_regtype) */
#define QUALIFIED_NAME_RE "'^(\"([^\"]|\"\")+\"|[a-z_][a-z0-9_$]*)\\.(\"([^\"]|\"\")+\"|[a-z_][a-z0-9_$]*)$'"

#if PG_VERSION_NUM >= 150000
#define NULLS_NOT_DISTINCT "x.indnullsnotdistinct"
#else
#define NULLS_NOT_DISTINCT "false"
#endif

/*
 * Builds the definition of one object from the columns of a row whose
 * names start with "_" (inputs the object's columns do not show): pushes
 * keys and values into the definition object being built.
 */
typedef void (*DefinitionHook) (JsonbParseState **state, HeapTuple tup, TupleDesc desc);

/* One object kind: its name and the query describing its objects. */
typedef struct SnapshotKind
{
	const char *kind;
	const char *sql;			/* returns identity, parent, definition */
	bool		columns;		/* definition: one key per further column */
	DefinitionHook hook;		/* adds keys computed from "_" columns */
} SnapshotKind;

static void index_definition(JsonbParseState **state, HeapTuple tup, TupleDesc desc);


static const SnapshotKind snapshot_kinds[] = {
	{"schema",
		"SELECT quote_ident(n.nspname), NULL::text, jsonb_strip_nulls(jsonb_build_object("
		" 'owner', pg_get_userbyid(n.nspowner), 'comment', " COMMENT("n.oid", "pg_namespace", "0") ","
		" 'privileges', " ACL("n.nspacl", "n", "n.nspowner") "))"
		" FROM pg_namespace n WHERE " NSF("n") " AND " NOTEXT("pg_namespace", "n.oid"),
		false, NULL},
	{"extension",
		"SELECT quote_ident(e.extname), NULL::text, jsonb_build_object("
		" 'version', e.extversion, 'schema', quote_ident(en.nspname))"
		" FROM pg_extension e JOIN pg_namespace en ON en.oid = e.extnamespace",
		false, NULL},
	{"type",
		"SELECT " QNAME("n", "t.typname") ", NULL::text, jsonb_strip_nulls(jsonb_build_object("
		" 'kind', CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'c' THEN 'composite' WHEN 'd' THEN 'domain' WHEN 'r' THEN 'range' END,"
		" 'values', CASE WHEN t.typtype = 'e' THEN (SELECT jsonb_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) END,"
		" 'attributes', CASE WHEN t.typtype = 'c' THEN (SELECT jsonb_agg(jsonb_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum)"
		"   FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) END,"
		" 'base_type', CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,"
		" 'not_null', CASE WHEN t.typtype = 'd' THEN t.typnotnull END,"
		" 'default', t.typdefault,"
		" 'constraints', CASE WHEN t.typtype = 'd' THEN (SELECT jsonb_agg(jsonb_build_object('name', k.conname, 'definition', pg_get_constraintdef(k.oid), 'validated', k.convalidated) ORDER BY k.conname COLLATE \"C\")"
		"   FROM pg_constraint k WHERE k.contypid = t.oid) END,"
		" 'range', CASE WHEN t.typtype = 'r' THEN (SELECT jsonb_strip_nulls(jsonb_build_object('subtype', format_type(r.rngsubtype, NULL),"
		"   'subtype_opclass', (SELECT format('%I.%I', on2.nspname, oc.opcname) FROM pg_opclass oc JOIN pg_namespace on2 ON on2.oid = oc.opcnamespace WHERE oc.oid = r.rngsubopc),"
		"   'canonical', NULLIF(r.rngcanonical, 0)::regproc::text, 'subtype_diff', NULLIF(r.rngsubdiff, 0)::regproc::text)) FROM pg_range r WHERE r.rngtypid = t.oid) END,"
		" 'collation', CASE WHEN t.typcollation <> 0 AND t.typtype = 'd' AND t.typcollation <> (SELECT bt.typcollation FROM pg_type bt WHERE bt.oid = t.typbasetype)"
		"   THEN (SELECT format('%I.%I', cn.nspname, co.collname) FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation) END,"
		" 'owner', pg_get_userbyid(t.typowner), 'comment', " COMMENT("t.oid", "pg_type", "0") ","
		" 'privileges', " ACL("t.typacl", "T", "t.typowner") "))"
		" FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
		" WHERE t.typtype IN ('e', 'c', 'd', 'r')"
		" AND (t.typtype <> 'c' OR (SELECT tc.relkind FROM pg_class tc WHERE tc.oid = t.typrelid) = 'c')"
		/*
		 * a partial snapshot: by OID, through the catalog indexes (the row
		 * types of the relations asked for, and the types named: split by
		 * parse_ident, as to_regtype would raise a syntax error for a name
		 * such as user.x)
		 */
		" AND ($2::text[] IS NULL OR t.oid = ANY (ARRAY(SELECT rc.reltype FROM pg_class rc WHERE rc.oid = ANY ($3::oid[]))"
		"   || ARRAY(SELECT nt.oid FROM (SELECT parse_ident(q.x) AS p FROM (SELECT x FROM unnest($2::text[]) x"
		"     WHERE x ~ " QUALIFIED_NAME_RE " OFFSET 0) q) i"
		"     JOIN pg_namespace nn ON nn.nspname = i.p[1] JOIN pg_type nt ON nt.typnamespace = nn.oid AND nt.typname = i.p[2])))"
		" AND " NSF("n") " AND " NOTEXT("pg_type", "t.oid"),
		false, NULL},
	{"table",
		"SELECT " QNAME("n", "c.relname") " AS _identity, NULL::text AS _parent,"
		" CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'f' THEN 'foreign table' END AS kind,"
		" CASE c.relpersistence WHEN 'p' THEN 'permanent' WHEN 'u' THEN 'unlogged' WHEN 't' THEN 'temporary' END AS persistence,"
		" CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,"
		" CASE WHEN c.relispartition THEN (SELECT format('%I.%I', pn.nspname, pc.relname) FROM pg_inherits i"
		"   JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid) END AS partition_of,"
		" CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,"
		" CASE WHEN NOT c.relispartition THEN (SELECT jsonb_agg(format('%I.%I', pn.nspname, pc.relname) ORDER BY i.inhseqno) FROM pg_inherits i"
		"   JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid) END AS inherits,"
		" CASE c.relreplident WHEN 'd' THEN 'default' WHEN 'n' THEN 'nothing' WHEN 'f' THEN 'full'"
		"   WHEN 'i' THEN 'index ' || (SELECT quote_ident(ic.relname) FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid WHERE x.indrelid = c.oid AND x.indisreplident) END AS replica_identity,"
		" c.relrowsecurity AS row_level_security, c.relforcerowsecurity AS force_row_level_security,"
		" CASE WHEN c.reloptions IS NOT NULL THEN (SELECT jsonb_agg(o ORDER BY o COLLATE \"C\") FROM unnest(c.reloptions) o) END AS options,"
		" am.amname::text AS access_method,"
		" pg_get_userbyid(c.relowner)::text AS owner, dsc.description AS comment,"
		" " ACL("c.relacl", "r", "c.relowner") " AS privileges"
		" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
		" LEFT JOIN pg_am am ON am.oid = c.relam"
		" LEFT JOIN pg_description dsc ON dsc.objoid = c.oid AND dsc.classoid = 'pg_class'::regclass AND dsc.objsubid = 0"
		" WHERE c.relkind IN ('r', 'p', 'f') AND " NSF("n") " AND " NOTEXT("pg_class", "c.oid") " AND " ONLYREL("c.oid"),
		true, NULL},
	{"column",
		"SELECT format('%I.%I.%I', n.nspname, c.relname, a.attname) AS _identity, " QNAME("n", "c.relname") " AS _parent,"
		" format_type(a.atttypid, a.atttypmod) AS type,"
		" CASE WHEN a.attcollation <> ty.typcollation THEN (SELECT format('%I.%I', cn.nspname, co.collname)"
		"   FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) END AS collation,"
		" a.attnotnull AS not_null,"
		" CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END AS default,"
		" CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END AS identity,"
		" CASE WHEN a.attgenerated = 's' THEN pg_get_expr(d.adbin, d.adrelid) END AS generated,"
		" row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum) AS position,"
		" dsc.description AS comment,"
		" CASE WHEN a.attacl IS NOT NULL THEN (SELECT jsonb_agg(x_a.g ORDER BY x_a.g COLLATE \"C\") FROM (SELECT"
		"   CASE x_e.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x_e.grantee)::text END"
		"   || ':' || x_e.privilege_type || CASE WHEN x_e.is_grantable THEN '*' ELSE '' END AS g"
		"   FROM aclexplode(a.attacl) x_e) x_a) END AS privileges"
		" FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
		" JOIN pg_type ty ON ty.oid = a.atttypid"
		" LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
		" LEFT JOIN pg_description dsc ON dsc.objoid = c.oid AND dsc.classoid = 'pg_class'::regclass AND dsc.objsubid = a.attnum"
		" WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f')"
		" AND " NSF("n") " AND " NOTEXT("pg_class", "c.oid") " AND " ONLYREL("c.oid"),
		true, NULL},
	{"constraint",
		"SELECT format('%I.%I.%I', n.nspname, c.relname, k.conname) AS _identity, " QNAME("n", "c.relname") " AS _parent,"
		" CASE k.contype WHEN 'c' THEN 'check' WHEN 'f' THEN 'foreign key' WHEN 'p' THEN 'primary key'"
		"   WHEN 'u' THEN 'unique' WHEN 'x' THEN 'exclusion' WHEN 't' THEN 'constraint trigger' ELSE k.contype::text END AS type,"
		" regexp_replace(pg_get_constraintdef(k.oid), '( DEFERRABLE| NOT DEFERRABLE| INITIALLY DEFERRED| INITIALLY IMMEDIATE| NOT VALID)+$', '') AS definition,"
		" k.convalidated AS validated,"
		" k.condeferrable AS deferrable, k.condeferred AS initially_deferred, k.connoinherit AS no_inherit,"
		" dsc.description AS comment"
		" FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
		" LEFT JOIN pg_description dsc ON dsc.objoid = k.oid AND dsc.classoid = 'pg_constraint'::regclass AND dsc.objsubid = 0"
		" WHERE k.conparentid = 0 AND (k.conislocal OR k.contype <> 'c')"
		" AND " NSF("n") " AND " NOTEXT("pg_class", "c.oid") " AND " ONLYREL("c.oid"),
		true, NULL},
	{"index",
		"SELECT " QNAME("n", "ic.relname") " AS _identity, " QNAME("n", "c.relname") " AS _parent,"
		" x.indisvalid AS valid, x.indisclustered AS clustered, dsc.description AS comment,"
		" x.indexrelid AS _indexrelid, x.indrelid AS _indrelid, ic.relam AS _relam, quote_ident(ic.relname) AS _name,"
		" " QNAME("cn", "c.relname") " AS _table, quote_ident(am.amname) AS _am, x.indisunique AS _unique,"
		" ic.relkind = 'I' AS _only, x.indnkeyatts AS _nkeyatts, x.indkey::int2[] AS _key, x.indclass::oid[] AS _class,"
		" x.indcollation::oid[] AS _collation, x.indoption::int2[] AS _option,"
		" " NULLS_NOT_DISTINCT " AS _nulls_not_distinct,"
		" CASE WHEN x.indpred IS NOT NULL THEN pg_get_expr(x.indpred, x.indrelid) END AS _predicate,"
		" (x.indexprs IS NOT NULL OR ic.reloptions IS NOT NULL"
		"   OR EXISTS (SELECT 1 FROM pg_attribute ao WHERE ao.attrelid = x.indexrelid AND ao.attoptions IS NOT NULL)) AS _server_deparse"
		" FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid"
		" JOIN pg_namespace n ON n.oid = ic.relnamespace JOIN pg_namespace cn ON cn.oid = c.relnamespace"
		" JOIN pg_am am ON am.oid = ic.relam"
		" LEFT JOIN pg_description dsc ON dsc.objoid = ic.oid AND dsc.classoid = 'pg_class'::regclass AND dsc.objsubid = 0"
		" WHERE NOT ic.relispartition AND " NSF("n") " AND " NOTEXT("pg_class", "c.oid")
		" AND ($2::text[] IS NULL OR x.indrelid = ANY ($3::oid[]) OR x.indexrelid = ANY ($3::oid[]))",
		true, index_definition},
	{"trigger",
		"SELECT format('%I.%I.%I', n.nspname, c.relname, tg.tgname) AS _identity, " QNAME("n", "c.relname") " AS _parent,"
		" pg_get_triggerdef(tg.oid) AS definition,"
		" CASE tg.tgenabled WHEN 'O' THEN 'origin' WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'replica' WHEN 'A' THEN 'always' END AS enabled,"
		" dsc.description AS comment"
		" FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
		" LEFT JOIN pg_description dsc ON dsc.objoid = tg.oid AND dsc.classoid = 'pg_trigger'::regclass AND dsc.objsubid = 0"
		" WHERE NOT tg.tgisinternal AND tg.tgparentid = 0"
		" AND " NSF("n") " AND " NOTEXT("pg_class", "c.oid") " AND " ONLYREL("c.oid"),
		true, NULL},
	{"view",
		"SELECT " QNAME("n", "c.relname") ", NULL::text, jsonb_strip_nulls(jsonb_build_object("
		" 'kind', CASE c.relkind WHEN 'v' THEN 'view' ELSE 'materialized view' END,"
		" 'definition', pg_get_viewdef(c.oid),"
		" 'options', (SELECT jsonb_agg(o ORDER BY o COLLATE \"C\") FROM unnest(c.reloptions) o),"
		" 'owner', pg_get_userbyid(c.relowner), 'comment', " COMMENT("c.oid", "pg_class", "0") ","
		" 'column_comments', (SELECT jsonb_object_agg(a.attname, " COMMENT("c.oid", "pg_class", "a.attnum") ") FROM pg_attribute a"
		"   WHERE a.attrelid = c.oid AND a.attnum > 0 AND " COMMENT("c.oid", "pg_class", "a.attnum") " IS NOT NULL),"
		" 'privileges', " ACL("c.relacl", "r", "c.relowner") "))"
		" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
		" WHERE c.relkind IN ('v', 'm') AND " NSF("n") " AND " NOTEXT("pg_class", "c.oid") " AND " ONLYREL("c.oid"),
		false, NULL},
	{"sequence",
		"SELECT " QNAME("n", "c.relname") ", NULL::text, jsonb_strip_nulls(jsonb_build_object("
		" 'type', format_type(s.seqtypid, NULL), 'start', s.seqstart, 'increment', s.seqincrement,"
		" 'min', s.seqmin, 'max', s.seqmax, 'cache', s.seqcache, 'cycle', s.seqcycle,"
		" 'owned_by', (SELECT format('%I.%I.%I', dn.nspname, dc.relname, da.attname) FROM pg_depend dep"
		"   JOIN pg_class dc ON dc.oid = dep.refobjid JOIN pg_namespace dn ON dn.oid = dc.relnamespace"
		"   JOIN pg_attribute da ON da.attrelid = dep.refobjid AND da.attnum = dep.refobjsubid"
		"   WHERE dep.classid = 'pg_class'::regclass AND dep.objid = c.oid AND dep.refclassid = 'pg_class'::regclass AND dep.deptype = 'a'),"
		" 'owner', pg_get_userbyid(c.relowner), 'comment', " COMMENT("c.oid", "pg_class", "0") ","
		" 'privileges', " ACL("c.relacl", "s", "c.relowner") "))"
		" FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
		" WHERE " NSF("n") " AND " NOTEXT("pg_class", "c.oid") " AND " ONLYREL("c.oid")
		" AND NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = 'pg_class'::regclass AND dep.objid = c.oid AND dep.deptype = 'i')",
		false, NULL},
	{"function",
		"SELECT format('%I.%I(%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes)), NULL::text,"
		" jsonb_strip_nulls(jsonb_build_object("
		" 'kind', CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'w' THEN 'window function' ELSE 'function' END,"
		" 'definition', pg_get_functiondef(p.oid),"
		" 'owner', pg_get_userbyid(p.proowner), 'comment', " COMMENT("p.oid", "pg_proc", "0") ","
		" 'privileges', " ACL("p.proacl", "f", "p.proowner") "))"
		" FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
		" WHERE p.prokind IN ('f', 'p', 'w') AND " NSF("n") " AND " NOTEXT("pg_proc", "p.oid")
		" AND " ONLY("format('%I.%I(%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes))"),
		false, NULL},
	{"policy",
		"SELECT format('%I on %I.%I', pol.polname, n.nspname, c.relname), " QNAME("n", "c.relname") ", jsonb_strip_nulls(jsonb_build_object("
		" 'command', CASE pol.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,"
		" 'permissive', pol.polpermissive,"
		" 'roles', (SELECT jsonb_agg(x.r ORDER BY x.r COLLATE \"C\") FROM (SELECT CASE ro WHEN 0 THEN 'public' ELSE pg_get_userbyid(ro)::text END AS r FROM unnest(pol.polroles) ro) x),"
		" 'using', pg_get_expr(pol.polqual, pol.polrelid), 'with_check', pg_get_expr(pol.polwithcheck, pol.polrelid),"
		" 'comment', " COMMENT("pol.oid", "pg_policy", "0") "))"
		" FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
		" WHERE " NSF("n") " AND " NOTEXT("pg_class", "c.oid") " AND " ONLYREL("c.oid"),
		false, NULL},
	{"event trigger",
		"SELECT quote_ident(e.evtname), NULL::text, jsonb_strip_nulls(jsonb_build_object("
		" 'event', e.evtevent, 'tags', (SELECT jsonb_agg(t ORDER BY t COLLATE \"C\") FROM unnest(e.evttags) t),"
		" 'function', e.evtfoid::regproc::text,"
		" 'enabled', CASE e.evtenabled WHEN 'O' THEN 'origin' WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'replica' WHEN 'A' THEN 'always' END,"
		" 'owner', pg_get_userbyid(e.evtowner), 'comment', " COMMENT("e.oid", "pg_event_trigger", "0") "))"
		" FROM pg_event_trigger e WHERE " NOTEXT("pg_event_trigger", "e.oid"),
		false, NULL},
	{"publication",
		"SELECT quote_ident(p.pubname), NULL::text, jsonb_strip_nulls(jsonb_build_object("
		" 'all_tables', p.puballtables, 'insert', p.pubinsert, 'update', p.pubupdate, 'delete', p.pubdelete,"
		" 'truncate', p.pubtruncate, 'via_root', p.pubviaroot,"
		" 'tables', CASE WHEN NOT p.puballtables THEN (SELECT jsonb_agg(format('%I.%I', pt.schemaname, pt.tablename) ORDER BY pt.schemaname COLLATE \"C\", pt.tablename COLLATE \"C\")"
		"   FROM pg_publication_tables pt WHERE pt.pubname = p.pubname) END,"
		" 'owner', pg_get_userbyid(p.pubowner), 'comment', " COMMENT("p.oid", "pg_publication", "0") "))"
		" FROM pg_publication p",
		false, NULL},
};

/* the kept plan of each kind's query (prepared with search_path pinned) */
static SPIPlanPtr kind_plans[2][lengthof(snapshot_kinds)];

/* Kinds not modelled: what is there, so nothing is skipped silently. */
static const char *const unmodeled_sql =
"SELECT u.kind, count(*)::int, jsonb_agg(u.identity ORDER BY u.identity COLLATE \"C\") FILTER (WHERE u.identity IS NOT NULL)"
" FROM ("
"  SELECT 'aggregate' AS kind, format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS identity"
"   FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.prokind = 'a' AND " NSF("n") " AND " NOTEXT("pg_proc", "p.oid") ""
"  UNION ALL SELECT 'operator', format('%I.%s', n.nspname, o.oprname) FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace"
"   WHERE " NSF("n") " AND " NOTEXT("pg_operator", "o.oid") ""
"  UNION ALL SELECT 'operator class', format('%I.%I', n.nspname, oc.opcname) FROM pg_opclass oc JOIN pg_namespace n ON n.oid = oc.opcnamespace"
"   WHERE " NSF("n") " AND " NOTEXT("pg_opclass", "oc.oid") ""
"  UNION ALL SELECT 'operator family', format('%I.%I', n.nspname, f.opfname) FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace"
"   WHERE " NSF("n") " AND " NOTEXT("pg_opfamily", "f.oid") ""
"  UNION ALL SELECT 'collation', format('%I.%I', n.nspname, co.collname) FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace"
"   WHERE " NSF("n") " AND " NOTEXT("pg_collation", "co.oid") ""
"  UNION ALL SELECT 'conversion', format('%I.%I', n.nspname, cv.conname) FROM pg_conversion cv JOIN pg_namespace n ON n.oid = cv.connamespace"
"   WHERE " NSF("n") " AND " NOTEXT("pg_conversion", "cv.oid") ""
"  UNION ALL SELECT 'text search configuration', format('%I.%I', n.nspname, ts.cfgname) FROM pg_ts_config ts JOIN pg_namespace n ON n.oid = ts.cfgnamespace"
"   WHERE " NSF("n") " AND " NOTEXT("pg_ts_config", "ts.oid") ""
"  UNION ALL SELECT 'text search dictionary', format('%I.%I', n.nspname, td.dictname) FROM pg_ts_dict td JOIN pg_namespace n ON n.oid = td.dictnamespace"
"   WHERE " NSF("n") " AND " NOTEXT("pg_ts_dict", "td.oid") ""
"  UNION ALL SELECT 'statistics object', format('%I.%I', n.nspname, st.stxname) FROM pg_statistic_ext st JOIN pg_namespace n ON n.oid = st.stxnamespace"
"   WHERE " NSF("n") " AND " NOTEXT("pg_statistic_ext", "st.oid") ""
"  UNION ALL SELECT 'rule', format('%I on %I.%I', r.rulename, n.nspname, c.relname) FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class"
"   JOIN pg_namespace n ON n.oid = c.relnamespace WHERE r.rulename <> '_RETURN' AND " NSF("n") " AND " NOTEXT("pg_class", "c.oid") ""
"  UNION ALL SELECT 'cast', format('%s AS %s', format_type(ca.castsource, NULL), format_type(ca.casttarget, NULL)) FROM pg_cast ca"
"   WHERE ca.oid >= 16384 AND " NOTEXT("pg_cast", "ca.oid") ""
"  UNION ALL SELECT 'foreign data wrapper', quote_ident(w.fdwname) FROM pg_foreign_data_wrapper w WHERE " NOTEXT("pg_foreign_data_wrapper", "w.oid") ""
"  UNION ALL SELECT 'foreign server', quote_ident(fs.srvname) FROM pg_foreign_server fs WHERE " NOTEXT("pg_foreign_server", "fs.oid") ""
"  UNION ALL SELECT 'language', quote_ident(l.lanname) FROM pg_language l WHERE l.oid >= 16384 AND " NOTEXT("pg_language", "l.oid") ""
"  UNION ALL SELECT 'default privileges', NULL FROM pg_default_acl da"
"  UNION ALL SELECT 'access method', quote_ident(am.amname) FROM pg_am am WHERE am.oid >= 16384 AND " NOTEXT("pg_am", "am.oid") ""
"  UNION ALL SELECT 'transform', NULL FROM pg_transform tr WHERE " NOTEXT("pg_transform", "tr.oid") ""
" ) u GROUP BY u.kind ORDER BY u.kind COLLATE \"C\"";

/* A copy of str with every occurrence of from replaced by to. */
static char *
replace_all(const char *str, const char *from, const char *to)
{
	StringInfoData buf;
	size_t		flen = strlen(from);
	const char *p;

	initStringInfo(&buf);
	while ((p = strstr(str, from)) != NULL)
	{
		appendBinaryStringInfo(&buf, str, p - str);
		appendStringInfoString(&buf, to);
		str = p + flen;
	}
	appendStringInfoString(&buf, str);
	return buf.data;
}

/* Push a key of an object being built. */
static void
push_key(JsonbParseState **state, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) key;
	v.val.string.len = strlen(key);
	(void) pushJsonbValue(state, WJB_KEY, &v);
}

/* Push a string value (NULL: a JSON null). */
static void
push_string(JsonbParseState **state, const char *str)
{
	JsonbValue	v;

	if (str == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) str;
		v.val.string.len = strlen(str);
	}
	(void) pushJsonbValue(state, WJB_VALUE, &v);
}

/* Push an integer value. */
static void
push_int(JsonbParseState **state, int64 n)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = DatumGetNumeric(DirectFunctionCall1(int8_numeric, Int64GetDatum(n)));
	(void) pushJsonbValue(state, WJB_VALUE, &v);
}

/* Push a boolean value. */
static void
push_bool(JsonbParseState **state, bool b)
{
	JsonbValue	v;

	v.type = jbvBool;
	v.val.boolean = b;
	(void) pushJsonbValue(state, WJB_VALUE, &v);
}

/* ---------------------------------------------------------------------
 * Index definitions, built here: the text of pg_get_indexdef() for an
 * index on plain columns, without its per-index relation open and scan of
 * the operator classes (most of the time of a snapshot otherwise).  An
 * index with expressions, storage options or column options is left to
 * pg_get_indexdef() itself.
 * ---------------------------------------------------------------------
 */

/* lookups remembered during one snapshot (reset at its start) */
typedef struct OpclassCacheEntry
{
	Oid			type;			/* key column type */
	Oid			am;
	Oid			opclass;		/* the default operator class, or InvalidOid */
} OpclassCacheEntry;

#define OPCLASS_CACHE_SIZE 64
static OpclassCacheEntry opclass_cache[OPCLASS_CACHE_SIZE];
static int	opclass_cache_used = 0;
static Oid	canorder_am = InvalidOid;
static bool canorder_value = false;

/* Forget the lookups of the previous snapshot. */
static void
reset_index_caches(void)
{
	opclass_cache_used = 0;
	canorder_am = InvalidOid;
}

/* The default operator class of a type for an access method (remembered). */
static Oid
default_opclass(Oid type, Oid am)
{
	Oid			opclass;

	for (int i = 0; i < opclass_cache_used; i++)
		if (opclass_cache[i].type == type && opclass_cache[i].am == am)
			return opclass_cache[i].opclass;
	opclass = GetDefaultOpClass(type, am);
	if (opclass_cache_used < OPCLASS_CACHE_SIZE)
	{
		opclass_cache[opclass_cache_used].type = type;
		opclass_cache[opclass_cache_used].am = am;
		opclass_cache[opclass_cache_used].opclass = opclass;
		opclass_cache_used++;
	}
	return opclass;
}

/* Whether an index access method orders its entries (remembered). */
static bool
am_can_order(Oid am)
{
	if (am != canorder_am)
	{
		IndexAmRoutine *routine = GetIndexAmRoutineByAmId(am, false);

		canorder_value = routine->amcanorder;
		canorder_am = am;
		pfree(routine);
	}
	return canorder_value;
}

/* Append " opclass" when it is not the default for the type, as ruleutils does. */
static void
append_opclass(StringInfo buf, Oid opclass, Oid type, Oid am)
{
	HeapTuple	tup;
	Form_pg_opclass opc;

	if (default_opclass(type, am) == opclass)
		return;
	tup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclass));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator class %u", opclass);
	opc = (Form_pg_opclass) GETSTRUCT(tup);
	if (OpclassIsVisible(opclass))
		appendStringInfo(buf, " %s", quote_identifier(NameStr(opc->opcname)));
	else
		appendStringInfo(buf, " %s",
						 quote_qualified_identifier(get_namespace_name_or_temp(opc->opcnamespace),
													NameStr(opc->opcname)));
	ReleaseSysCache(tup);
}

/* The "_" columns of the index query, in the order of index_column_names. */
typedef enum IndexColumn
{
	IC_INDEXRELID, IC_INDRELID, IC_RELAM, IC_NAME, IC_TABLE, IC_AM, IC_UNIQUE, IC_ONLY,
	IC_NKEYATTS, IC_KEY, IC_CLASS, IC_COLLATION, IC_OPTION, IC_NULLS_NOT_DISTINCT,
	IC_PREDICATE, IC_SERVER_DEPARSE, IC_COUNT
} IndexColumn;

static const char *const index_column_names[IC_COUNT] = {
	"_indexrelid", "_indrelid", "_relam", "_name", "_table", "_am", "_unique", "_only",
	"_nkeyatts", "_key", "_class", "_collation", "_option", "_nulls_not_distinct",
	"_predicate", "_server_deparse"
};

/* The value of a column of the index query. */
static Datum
index_column(HeapTuple tup, TupleDesc desc, IndexColumn col, bool *isnull)
{
	/* the query is fixed: its column numbers are looked up once */
	static int	fnumbers[IC_COUNT];
	static bool looked_up = false;

	if (!looked_up)
	{
		for (int i = 0; i < IC_COUNT; i++)
			if ((fnumbers[i] = SPI_fnumber(desc, index_column_names[i])) <= 0)
				elog(ERROR, "index query has no column %s", index_column_names[i]);
		looked_up = true;
	}
	return SPI_getbinval(tup, desc, fnumbers[col], isnull);
}

/* Hook of the index kind: its "definition", as pg_get_indexdef() writes it. */
static void
index_definition(JsonbParseState **state, HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	Oid			indexrelid = DatumGetObjectId(index_column(tup, desc, IC_INDEXRELID, &isnull));
	Oid			indrelid = DatumGetObjectId(index_column(tup, desc, IC_INDRELID, &isnull));
	Oid			am = DatumGetObjectId(index_column(tup, desc, IC_RELAM, &isnull));
	int			nkeyatts = DatumGetInt16(index_column(tup, desc, IC_NKEYATTS, &isnull));
	Datum		pred;
	bool		pred_null;
	StringInfoData buf;
	Datum	   *keys;
	Datum	   *opclasses;
	Datum	   *collations;
	Datum	   *options;
	int			natts;
	int			nopclasses;
	int			ncollations;
	int			noptions;
	bool		canorder;
	const char *sep = "";

	push_key(state, "definition");
	if (DatumGetBool(index_column(tup, desc, IC_SERVER_DEPARSE, &isnull)))
	{
		push_string(state, TextDatumGetCString(DirectFunctionCall1(pg_get_indexdef,
																   ObjectIdGetDatum(indexrelid))));
		return;
	}
	/* int2vector and oidvector columns, as arrays without NULLs */
	deconstruct_array(DatumGetArrayTypeP(index_column(tup, desc, IC_KEY, &isnull)),
					  INT2OID, 2, true, TYPALIGN_SHORT, &keys, NULL, &natts);
	deconstruct_array(DatumGetArrayTypeP(index_column(tup, desc, IC_CLASS, &isnull)),
					  OIDOID, sizeof(Oid), true, TYPALIGN_INT, &opclasses, NULL, &nopclasses);
	deconstruct_array(DatumGetArrayTypeP(index_column(tup, desc, IC_COLLATION, &isnull)),
					  OIDOID, sizeof(Oid), true, TYPALIGN_INT, &collations, NULL, &ncollations);
	deconstruct_array(DatumGetArrayTypeP(index_column(tup, desc, IC_OPTION, &isnull)),
					  INT2OID, 2, true, TYPALIGN_SHORT, &options, NULL, &noptions);
	if (nkeyatts > natts || nopclasses < nkeyatts || ncollations < nkeyatts || noptions < nkeyatts)
		elog(ERROR, "malformed pg_index row for index %u", indexrelid);
	canorder = am_can_order(am);

	initStringInfo(&buf);
	appendStringInfo(&buf, "CREATE %sINDEX %s ON %s%s USING %s (",
					 DatumGetBool(index_column(tup, desc, IC_UNIQUE, &isnull)) ? "UNIQUE " : "",
					 TextDatumGetCString(index_column(tup, desc, IC_NAME, &isnull)),
					 DatumGetBool(index_column(tup, desc, IC_ONLY, &isnull)) ? "ONLY " : "",
					 TextDatumGetCString(index_column(tup, desc, IC_TABLE, &isnull)),
					 TextDatumGetCString(index_column(tup, desc, IC_AM, &isnull)));
	for (int keyno = 0; keyno < natts; keyno++)
	{
		HeapTuple	atttup;
		Form_pg_attribute att;

		if (keyno == nkeyatts)
		{
			appendStringInfoString(&buf, ") INCLUDE (");
			sep = "";
		}
		appendStringInfoString(&buf, sep);
		sep = ", ";
		atttup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(indrelid), keys[keyno]);
		if (!HeapTupleIsValid(atttup))
			elog(ERROR, "cache lookup failed for attribute %d of relation %u",
				 DatumGetInt16(keys[keyno]), indrelid);
		att = (Form_pg_attribute) GETSTRUCT(atttup);
		appendStringInfoString(&buf, quote_identifier(NameStr(att->attname)));
		if (keyno < nkeyatts)
		{
			int16		opt = DatumGetInt16(options[keyno]);
			Oid			coll = DatumGetObjectId(collations[keyno]);

			if (OidIsValid(coll) && coll != att->attcollation)
				appendStringInfo(&buf, " COLLATE %s", generate_collation_name(coll));
			append_opclass(&buf, DatumGetObjectId(opclasses[keyno]), att->atttypid, am);
			if (canorder)
			{
				if (opt & INDOPTION_DESC)
				{
					appendStringInfoString(&buf, " DESC");
					if (!(opt & INDOPTION_NULLS_FIRST))
						appendStringInfoString(&buf, " NULLS LAST");
				}
				else if (opt & INDOPTION_NULLS_FIRST)
					appendStringInfoString(&buf, " NULLS FIRST");
			}
		}
		ReleaseSysCache(atttup);
	}
	appendStringInfoChar(&buf, ')');
	if (DatumGetBool(index_column(tup, desc, IC_NULLS_NOT_DISTINCT, &isnull)))
		appendStringInfoString(&buf, " NULLS NOT DISTINCT");
	pred = index_column(tup, desc, IC_PREDICATE, &pred_null);
	if (!pred_null)
		appendStringInfo(&buf, " WHERE %s", TextDatumGetCString(pred));
	push_string(state, buf.data);
}

/*
 * Push a jsonb document as the value of the pending key or element, leaving
 * out object members whose value is null (as jsonb_strip_nulls does); the
 * document must outlive the state.  Returns the value pushed.
 */
static JsonbValue *
push_jsonb_stripped(JsonbParseState **state, Jsonb *jb, JsonbIteratorToken seq)
{
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;
	JsonbValue	key;
	bool		have_key = false;
	JsonbValue *res = NULL;

	if (JB_ROOT_IS_SCALAR(jb))
	{
		(void) JsonbExtractScalar(&jb->root, &v);
		return pushJsonbValue(state, seq, &v);
	}
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = v;
			have_key = true;
			continue;
		}
		if (tok == WJB_VALUE && v.type == jbvNull)
		{
			have_key = false;
			continue;
		}
		if (have_key)
		{
			(void) pushJsonbValue(state, WJB_KEY, &key);
			have_key = false;
		}
		res = pushJsonbValue(state, tok, (tok == WJB_VALUE || tok == WJB_ELEM) ? &v : NULL);
	}
	return res;
}

/* Whether a jsonb document is the JSON null. */
static bool
jsonb_is_null(Jsonb *jb)
{
	JsonbValue	v;

	return JB_ROOT_IS_SCALAR(jb) && JsonbExtractScalar(&jb->root, &v) && v.type == jbvNull;
}

/*
 * Append a built value as jsonb's text output writes it (the input of the
 * object hashes, so they stay portable: the binary form is in the
 * machine's byte order).
 */
static void
append_value_text(StringInfo out, JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			appendStringInfoString(out, "null");
			break;
		case jbvString:
			{
				char	   *str = pnstrdup(v->val.string.val, v->val.string.len);

				escape_json(out, str);
				pfree(str);
				break;
			}
		case jbvNumeric:
			appendStringInfoString(out, DatumGetCString(DirectFunctionCall1(numeric_out,
																			NumericGetDatum(v->val.numeric))));
			break;
		case jbvBool:
			appendStringInfoString(out, v->val.boolean ? "true" : "false");
			break;
		case jbvArray:
			appendStringInfoChar(out, '[');
			for (int i = 0; i < v->val.array.nElems; i++)
			{
				if (i > 0)
					appendStringInfoString(out, ", ");
				append_value_text(out, &v->val.array.elems[i]);
			}
			appendStringInfoChar(out, ']');
			break;
		case jbvObject:
			appendStringInfoChar(out, '{');
			for (int i = 0; i < v->val.object.nPairs; i++)
			{
				if (i > 0)
					appendStringInfoString(out, ", ");
				append_value_text(out, &v->val.object.pairs[i].key);
				appendStringInfoString(out, ": ");
				append_value_text(out, &v->val.object.pairs[i].value);
			}
			appendStringInfoChar(out, '}');
			break;
		case jbvBinary:
			(void) JsonbToCString(out, v->val.binary.data, v->val.binary.len);
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
}

/* Push the value of one column of a kind's row (not NULL) as the value of the pending key. */
static void
push_column(JsonbParseState **state, Datum d, Oid type)
{
	JsonbValue	v;

	switch (type)
	{
		case BOOLOID:
			push_bool(state, DatumGetBool(d));
			break;
		case INT2OID:
			push_int(state, DatumGetInt16(d));
			break;
		case INT4OID:
			push_int(state, DatumGetInt32(d));
			break;
		case INT8OID:
			push_int(state, DatumGetInt64(d));
			break;
		case NUMERICOID:
			v.type = jbvNumeric;
			v.val.numeric = DatumGetNumericCopy(d);
			(void) pushJsonbValue(state, WJB_VALUE, &v);
			break;
		case JSONBOID:
			(void) push_jsonb_stripped(state, DatumGetJsonbPCopy(d), WJB_VALUE);
			break;
		case TEXTOID:
		case VARCHAROID:
			push_string(state, TextDatumGetCString(d));
			break;
		case NAMEOID:
			push_string(state, pstrdup(NameStr(*DatumGetName(d))));
			break;
		default:
			{
				Oid			out;
				bool		varlena;

				getTypeOutputInfo(type, &out, &varlena);
				push_string(state, OidOutputFunctionCall(out, d));
			}
	}
}

/*
 * Push the rows of one kind's query as objects of the snapshot, and add
 * them to the fingerprint input.  Nothing goes through text but the input
 * of the hashes: a definition is built from the row's columns (one key per
 * column, NULLs left out), or pushed as the jsonb document the query built.
 */
static int
append_kind(JsonbParseState **state, StringInfo fp, int kind_no, Datum *values, char *nulls,
			MemoryContext cxt)
{
	const SnapshotKind *k = &snapshot_kinds[kind_no];
	int			partial = (nulls[1] == 'n') ? 0 : 1;
	Oid			argtypes[3] = {TEXTARRAYOID, TEXTARRAYOID, OIDARRAYOID};
	int			rc;
	int			count = 0;
	TimestampTz t0;
	StringInfoData hashinput;
	TupleDesc	desc;
	char	  **keys;

	/*
	 * The objects of a kind in the C collation: the same order everywhere.
	 * Plans are kept, one for a whole snapshot and one for a partial one:
	 * the object filter is folded to a constant in each, so a generic plan
	 * of the partial query still looks the objects up through the catalog
	 * indexes.
	 */
	if (kind_plans[partial][kind_no] == NULL)
	{
		char	   *sql = k->columns ?
			psprintf("SELECT * FROM (%s) q ORDER BY q._identity COLLATE \"C\"", k->sql) :
			psprintf("SELECT * FROM (%s) q(identity, parent, definition)"
					 " ORDER BY q.identity COLLATE \"C\"", k->sql);
		SPIPlanPtr	plan;

		sql = replace_all(sql, "$2::text[] IS NULL OR", partial ? "false OR" : "true OR");
		/* generic: replanning per call would cost more than the partial query itself */
		plan = SPI_prepare_cursor(sql, 3, argtypes, CURSOR_OPT_GENERIC_PLAN);
		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the snapshot query for %s", k->kind);
		elog(DEBUG2, "snapshot query of %s: %s", k->kind, sql);
		kind_plans[partial][kind_no] = plan;
	}
	t0 = GetCurrentTimestamp();
	rc = SPI_execute_plan(kind_plans[partial][kind_no], values, nulls, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "snapshot query for %s failed: %s", k->kind, SPI_result_code_string(rc));
	elog(DEBUG1, "snapshot query of %s: %.1f ms", k->kind, migrate_elapsed_ms(t0, GetCurrentTimestamp()));
	/* SPI left us in its own context: what is pushed must outlive SPI_finish */
	MemoryContextSwitchTo(cxt);
	desc = SPI_tuptable->tupdesc;
	/* the keys: the column names, copied (the result goes before the state does) */
	keys = palloc0(sizeof(char *) * desc->natts);
	for (int c = 2; c < desc->natts; c++)
		keys[c] = pstrdup(NameStr(TupleDescAttr(desc, c)->attname));
	initStringInfo(&hashinput);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		isnull;
		Datum		id_datum = SPI_getbinval(tup, desc, 1, &isnull);
		char	   *identity;
		char	   *parent = NULL;
		JsonbValue *definition;
		char	   *hash;

		/* both text: no output function call needed */
		if (isnull)
			continue;
		identity = TextDatumGetCString(id_datum);
		id_datum = SPI_getbinval(tup, desc, 2, &isnull);
		if (!isnull)
			parent = TextDatumGetCString(id_datum);
		if (!k->columns)
		{
			Datum		d = SPI_getbinval(tup, desc, 3, &isnull);

			if (isnull)
				continue;
			(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
			push_key(state, "definition");
			definition = push_jsonb_stripped(state, DatumGetJsonbPCopy(d), WJB_VALUE);
		}
		else
		{
			(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
			push_key(state, "definition");
			(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
			for (int c = 2; c < desc->natts; c++)
			{
				Oid			type = TupleDescAttr(desc, c)->atttypid;
				Datum		d;

				if (keys[c][0] == '_')
					continue;
				d = SPI_getbinval(tup, desc, c + 1, &isnull);
				if (isnull || (type == JSONBOID && jsonb_is_null(DatumGetJsonbP(d))))
					continue;
				push_key(state, keys[c]);
				push_column(state, d, type);
			}
			if (k->hook)
				k->hook(state, tup, desc);
			definition = pushJsonbValue(state, WJB_END_OBJECT, NULL);
		}
		resetStringInfo(&hashinput);
		append_value_text(&hashinput, definition);
		hash = migrate_sha256_hex(hashinput.data, hashinput.len);

		push_key(state, "kind");
		push_string(state, k->kind);
		push_key(state, "identity");
		push_string(state, identity);
		if (parent)
		{
			push_key(state, "parent");
			push_string(state, parent);
		}
		push_key(state, "hash");
		push_string(state, hash);
		(void) pushJsonbValue(state, WJB_END_OBJECT, NULL);
		appendStringInfo(fp, "%s\t%s\t%s\n", k->kind, identity, hash);
		count++;
	}
	pfree(hashinput.data);
	SPI_freetuptable(SPI_tuptable);
	return count;
}

/* migrate.snapshot itself: one read of the catalog into the jsonb snapshot. */
static Datum
snapshot_impl(FunctionCallInfo fcinfo)
{
	bool		schemas_null = PG_ARGISNULL(0);
	Datum		schemas = schemas_null ? (Datum) 0 : PG_GETARG_DATUM(0);
	bool		only_null = PG_NARGS() < 2 || PG_ARGISNULL(1);
	Datum		values[3] = {schemas, only_null ? (Datum) 0 : PG_GETARG_DATUM(1), (Datum) 0};
	char		nulls[3] = {schemas_null ? 'n' : ' ', only_null ? 'n' : ' ', 'n'};
	JsonbParseState *state = NULL;
	JsonbValue *root;
	StringInfoData fp;
	int			nest;
	int			objects = 0;
	Jsonb	   *result;
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext old;

	if (!schemas_null && array_contains_nulls(PG_GETARG_ARRAYTYPE_P(0)))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("schemas must not contain NULL"),
				 errhint("Pass schema names, or NULL for every user schema.")));

	reset_index_caches();
	/* rendering must not depend on the caller's search_path */
	nest = migrate_pin_search_path();
	/* many small catalog queries: compiling them costs more than it saves */
	(void) set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	/*
	 * The sorts of the larger kinds (columns, indexes) in memory, not in
	 * temporary files, and no parallel workers: a catalog read of a few
	 * hundred milliseconds gains nothing from them on a busy server
	 */
	(void) set_config_option("work_mem", "65536", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("max_parallel_workers_per_gather", "0", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	old = MemoryContextSwitchTo(cxt);
	initStringInfo(&fp);
	MemoryContextSwitchTo(old);

	/* the relations among the objects asked for, by OID */
	if (!only_null)
	{
		Oid			argtypes[1] = {TEXTARRAYOID};
		bool		isnull;

		/*
		 * Through the catalog index: only the names shaped like a qualified
		 * relation name go to to_regclass() (the list holds identities of
		 * other kinds too, e.g. "p on s.t", which it would reject)
		 */
		if (SPI_execute_with_args("SELECT pg_catalog.array_agg(r.oid) FROM (SELECT pg_catalog.to_regclass(x)::pg_catalog.oid AS oid"
								  " FROM pg_catalog.unnest($1) x WHERE x OPERATOR(pg_catalog.~) " QUALIFIED_NAME_RE ") r"
								  " WHERE r.oid IS NOT NULL",
								  1, argtypes, &values[1], &nulls[1], true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not resolve the relations of a partial snapshot");
		values[2] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (isnull)
			values[2] = PointerGetDatum(construct_empty_array(OIDOID));
		nulls[2] = ' ';
	}
	old = MemoryContextSwitchTo(cxt);
	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	push_key(&state, "format");
	push_int(&state, 1);
	push_key(&state, "objects");
	(void) pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	MemoryContextSwitchTo(old);
	for (size_t k = 0; k < lengthof(snapshot_kinds); k++)
	{
		TimestampTz t0 = GetCurrentTimestamp();

		old = CurrentMemoryContext;
		objects += append_kind(&state, &fp, (int) k, values, nulls, cxt);
		MemoryContextSwitchTo(old);
		elog(DEBUG1, "snapshot of %s: %.1f ms", snapshot_kinds[k].kind,
			 migrate_elapsed_ms(t0, GetCurrentTimestamp()));
	}

	/* what is there but not modelled */
	{
		Oid			argtypes[3] = {TEXTARRAYOID, TEXTARRAYOID, OIDARRAYOID};

		/* a partial snapshot (objects given) describes only those */
		if (SPI_execute_with_args(only_null ? unmodeled_sql : "SELECT NULL::text, NULL::int, NULL::jsonb WHERE false",
								  3, argtypes, values, nulls, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "snapshot query for unmodeled kinds failed");
		old = MemoryContextSwitchTo(cxt);
		(void) pushJsonbValue(&state, WJB_END_ARRAY, NULL);
		push_key(&state, "unmodeled");
		(void) pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			char	   *kind = SPI_getvalue(tup, desc, 1);
			bool		isnull;
			int32		count = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
			Datum		ids = SPI_getbinval(tup, desc, 3, &isnull);

			(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
			push_key(&state, "kind");
			push_string(&state, kind);
			push_key(&state, "count");
			push_int(&state, count);
			push_key(&state, "identities");
			if (isnull)
			{
				(void) pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
				(void) pushJsonbValue(&state, WJB_END_ARRAY, NULL);
			}
			else
				(void) push_jsonb_stripped(&state, DatumGetJsonbPCopy(ids), WJB_VALUE);
			(void) pushJsonbValue(&state, WJB_END_OBJECT, NULL);
			appendStringInfo(&fp, "unmodeled\t%s\t%d\n", kind, count);
		}
		(void) pushJsonbValue(&state, WJB_END_ARRAY, NULL);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	AtEOXact_GUC(true, nest);

	push_key(&state, "object_count");
	push_int(&state, objects);
	push_key(&state, "fingerprint");
	push_string(&state, migrate_sha256_hex(fp.data, fp.len));
	push_key(&state, "schemas");
	if (schemas_null)
		push_string(&state, NULL);
	else
	{
		Datum	   *elems;
		int			n;

		deconstruct_array(DatumGetArrayTypeP(schemas), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, NULL, &n);
		(void) pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
		for (int i = 0; i < n; i++)
		{
			JsonbValue	v;

			v.type = jbvString;
			v.val.string.val = TextDatumGetCString(elems[i]);
			v.val.string.len = strlen(v.val.string.val);
			(void) pushJsonbValue(&state, WJB_ELEM, &v);
		}
		(void) pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	}
	push_key(&state, "partial");
	push_bool(&state, !only_null);
	root = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	result = JsonbValueToJsonb(root);
	pfree(fp.data);
	PG_RETURN_JSONB_P(result);
}

/* ---------------------------------------------------------------------
 * The DDL ledger: an event trigger writes every DDL command to
 * migrate.ddl_log, as the extension owner, through a kept plan
 * ---------------------------------------------------------------------
 */

static SPIPlanPtr ddl_insert_plan = NULL;

#define DDL_NARGS 12
#define DDL_INSERT \
	"INSERT INTO migrate.ddl_log (event, command_tag, object_type, object_identity, schema_name," \
	" statement, session_user_name, current_user_name, application_name, client_addr," \
	" migration_version, txid) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"

/*
 * The statement text for the ledger, or NULL when it may hold a secret:
 * passwords and connection options of servers, user mappings and
 * subscriptions are not kept (the whole query string is left out, as other
 * statements may have come in the same string).
 */
static const char *
ledger_statement(void)
{
	static const char *const secret_words[] = {
		"password", "user mapping", "server", "subscription", "connection", NULL
	};
	char	   *lower;

	if (debug_query_string == NULL)
		return NULL;
	lower = asc_tolower(debug_query_string, strlen(debug_query_string));
	for (int i = 0; secret_words[i] != NULL; i++)
		if (strstr(lower, secret_words[i]) != NULL)
			return NULL;
	pfree(lower);
	return debug_query_string;
}

/* Write the ledger rows for the objects the current query returns. */
static void
write_ddl_rows(const char *event, const char *tag, const char *query)
{
	SPITupleTable *tt;
	uint64		n;
	char	   *user = migrate_current_user_name();
	char	   *suser = migrate_session_user_name();
	const char *migration = migrate_context_current();
	const char *statement = ledger_statement();
	bool		ca_null;
	Datum		ca = migrate_client_addr_datum(&ca_null);

	if (SPI_execute(query, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "ledger query failed");
	tt = SPI_tuptable;
	n = SPI_processed;
	if (n == 0)
		return;
	if (ddl_insert_plan == NULL)
	{
		Oid			types[DDL_NARGS] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, TEXTOID, INETOID, TEXTOID, XID8OID};

		ddl_insert_plan = migrate_keep_plan_as_owner(DDL_INSERT, DDL_NARGS, types);
	}
	for (uint64 i = 0; i < n; i++)
	{
		char	   *otype = SPI_getvalue(tt->vals[i], tt->tupdesc, 1);
		char	   *ident = SPI_getvalue(tt->vals[i], tt->tupdesc, 2);
		char	   *schema = SPI_getvalue(tt->vals[i], tt->tupdesc, 3);
		Datum		values[DDL_NARGS];
		char		nulls[DDL_NARGS];

		/* the extension's own objects and temporary ones are not schema drift */
		if (schema && (strcmp(schema, MIGRATE_SCHEMA) == 0 || strncmp(schema, "pg_temp", 7) == 0))
			continue;
		memset(nulls, ' ', sizeof(nulls));
		values[0] = CStringGetTextDatum(event);
		values[1] = CStringGetTextDatum(tag);
		values[2] = migrate_text_or_null(otype, &nulls[2]);
		values[3] = migrate_text_or_null(ident, &nulls[3]);
		values[4] = migrate_text_or_null(schema, &nulls[4]);
		values[5] = migrate_text_or_null(statement, &nulls[5]);
		values[6] = CStringGetTextDatum(suser);
		values[7] = CStringGetTextDatum(user);
		values[8] = CStringGetTextDatum(application_name ? application_name : "");
		values[9] = ca;
		nulls[9] = ca_null ? 'n' : ' ';
		values[10] = migrate_text_or_null(migration, &nulls[10]);
		values[11] = FullTransactionIdGetDatum(GetTopFullTransactionId());

		if (migrate_execute_plan_as_owner(ddl_insert_plan, values, nulls, 0) != SPI_OK_INSERT)
			elog(ERROR, "ledger insert failed");
	}
}

/*
 * Is this session a restore (pg_restore, as a superuser)?  Its DDL recreates
 * the dumped schema, whose ledger, snapshots and expected schema the restore
 * loads afterwards (COPY): logging that DDL would add rows under the ids the
 * saved ledger comes back with.  pg_restore names its sessions pg_restore
 * (application_name); a plain-format dump restored with psql can be named so
 * with PGAPPNAME=pg_restore.  Only a superuser, who could as well disable the
 * event triggers, can keep DDL out of the ledger this way.
 */
static bool
session_is_restore(void)
{
	return application_name != NULL && strcmp(application_name, "pg_restore") == 0 &&
		superuser();
}

PG_FUNCTION_INFO_V1(migrate_ddl_ledger);
/*
 * Event trigger (ddl_command_end, sql_drop, table_rewrite): the DDL ledger.
 * The DDL of a restore is not logged (session_is_restore).
 */
Datum
migrate_ddl_ledger(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	const char *tag;
	const char *query;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("migrate.ddl_ledger() must be called as an event trigger")));
	if (RecoveryInProgress() || session_is_restore())
		PG_RETURN_NULL();
	trigdata = (EventTriggerData *) fcinfo->context;
	tag = GetCommandTagName(trigdata->tag);
	if (strcmp(trigdata->event, "sql_drop") == 0)
		query = "SELECT object_type, object_identity, schema_name FROM pg_catalog.pg_event_trigger_dropped_objects()"
			" WHERE (original OR normal) AND NOT is_temporary";
	else if (strcmp(trigdata->event, "table_rewrite") == 0)
		query = "SELECT 'table', pg_catalog.format('%I.%I', n.nspname, c.relname), n.nspname"
			" FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
			" WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.pg_event_trigger_table_rewrite_oid()";
	else
		query = "SELECT object_type, object_identity, schema_name FROM pg_catalog.pg_event_trigger_ddl_commands()"
			" WHERE NOT in_extension";
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	write_ddl_rows(trigdata->event, tag, query);
	SPI_finish();
	PG_RETURN_NULL();
}

/*
 * The schema read lock, on which a snapshot that keeps meeting objects
 * dropped under it waits for the DDL in progress and holds off new DDL
 * (ShareLock), and which every DDL command takes at ddl_command_start
 * (RowExclusiveLock: DDL commands do not wait for one another).  An
 * advisory lock tag of this database with a fourth field (3) that the
 * pg_advisory_lock functions never use, shown in pg_locks as locktype
 * advisory, classid 1835624306, objid 1935894640, objsubid 3.
 */
static void
schema_read_locktag(LOCKTAG *tag)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, 0x6D696772, 0x73636870, 3);
}

static SPIPlanPtr flush_plan = NULL;

PG_FUNCTION_INFO_V1(migrate_ddl_start);
/*
 * Event trigger (ddl_command_start): before an out-of-band DDL command, the
 * expected schema catches up with the migrations applied since the last
 * snapshot, so that the command is compared with what they produced.
 * Commands of a migration (migrate.apply) leave it for later.  Every DDL
 * command first takes the schema read lock in RowExclusiveLock mode (until
 * the end of its transaction), so it waits while a snapshot holds it.
 */
Datum
migrate_ddl_start(PG_FUNCTION_ARGS)
{
	LOCKTAG		tag;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("migrate.ddl_start() must be called as an event trigger")));
	if (RecoveryInProgress())
		PG_RETURN_NULL();
	schema_read_locktag(&tag);
	(void) LockAcquire(&tag, RowExclusiveLock, false, false);
	if (creating_extension || migrate_context_current() != NULL ||
		!migrate_snapshot_on_apply || XactReadOnly || session_is_restore())
		PG_RETURN_NULL();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (flush_plan == NULL)
		flush_plan = migrate_keep_plan_as_owner("SELECT migrate.snapshot_flush()", 0, NULL);
	if (migrate_execute_plan_as_owner(flush_plan, NULL, NULL, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not bring the expected schema up to date");
	SPI_finish();
	PG_RETURN_NULL();
}

/* A snapshot, for migrate_subxact. */
typedef struct SnapshotTry
{
	FunctionCallInfo fcinfo;
	Datum		result;
} SnapshotTry;

/* migrate_subxact callback: read the snapshot. */
static void
snapshot_try(void *arg)
{
	SnapshotTry *t = (SnapshotTry *) arg;

	t->result = snapshot_impl(t->fcinfo);
}

PG_FUNCTION_INFO_V1(migrate_snapshot);
/*
 * SQL: migrate.snapshot(schemas, objects).  The catalog is read with one
 * snapshot, but the server's deparsers look objects up as they are now: an
 * object dropped meanwhile by another session makes them fail.  Then the
 * snapshot is read again with a new snapshot (READ COMMITTED); from the
 * third try on, under the schema read lock, which waits for the DDL
 * transactions in progress and holds off new DDL commands until the read
 * ends.  Only DDL that fires no event trigger (session_replication_role
 * replica, DROP INDEX CONCURRENTLY's last step) can still get in the way:
 * after ten tries it fails with a serialization failure (40001) to retry.
 */
Datum
migrate_snapshot(PG_FUNCTION_ARGS)
{
	SnapshotTry t = {fcinfo, (Datum) 0};
	ErrorData  *edata = NULL;
	LOCKTAG		tag;
	bool		locked = false;

	for (int attempt = 1; attempt <= 10; attempt++)
	{
		bool		fresh = attempt > 1 && !IsolationUsesXactSnapshot();

		if (attempt == 3 && fresh)
		{
			schema_read_locktag(&tag);
			(void) LockAcquire(&tag, ShareLock, false, false);
			locked = true;
		}
		if (fresh)
			PushActiveSnapshot(GetTransactionSnapshot());
		edata = migrate_subxact(snapshot_try, &t, true);
		if (fresh)
			PopActiveSnapshot();
		if (edata == NULL)
		{
			if (locked)
				LockRelease(&tag, ShareLock, false);
			PG_RETURN_DATUM(t.result);
		}
		if (!migrate_is_concurrent_drop(edata) || IsolationUsesXactSnapshot())
			break;
		/* let the other session's DDL finish */
		if (attempt >= 2)
			pg_usleep(attempt * 5000L);
		CHECK_FOR_INTERRUPTS();
	}
	if (locked)
		LockRelease(&tag, ShareLock, false);
	if (migrate_is_concurrent_drop(edata))
		migrate_concurrent_drop_error("migrate.snapshot", edata,
									  "Run it again; in a REPEATABLE READ transaction, start a new transaction.");
	ReThrowError(edata);
}
