/*-------------------------------------------------------------------------
 * drift.c
 *	  Schema snapshots: migrate.snapshot() reads the catalog in one pass and
 *	  describes every object canonically (no OIDs, names schema-qualified
 *	  with search_path pinned to pg_catalog), with a hash per object and a
 *	  fingerprint over all of them.
 *
 * The kinds with many objects (tables, columns, constraints, indexes,
 * triggers, policies) are read from the catalog directly, with the MVCC
 * snapshot the SPI queries use: a whole snapshot reads each catalog once,
 * sequentially; a partial one looks its relations up through the catalog
 * indexes.  One scope of relations (pg_class once, members of extensions
 * from pg_depend's reference index) serves all of them, and the columns
 * read serve the definitions of the others.  The rarer kinds (schemas,
 * extensions, types, views, sequences, functions, event triggers,
 * publications) come from one query each through SPI in read-only mode,
 * which returns the identity, parent and definition (jsonb) of each
 * object ordered by identity in the C collation.  Index, constraint and
 * plain trigger definitions are written here, to the letter of
 * pg_get_indexdef, pg_get_constraintdef and pg_get_triggerdef (the shapes
 * they cannot express are left to those functions); the other text comes
 * from the server's own deparsers (pg_get_functiondef, pg_get_viewdef,
 * pg_get_expr, ...), with search_path pinned, so it never depends on the
 * caller's path; an expression (default, check, index predicate, policy)
 * is rendered once per distinct node tree and column names.
 * The document is written as it is read: each object is turned into jsonb
 * when it is finished and appended, in jsonb's binary layout, to the
 * objects array, whose header is put in front at the end (byte for byte
 * what JsonbValueToJsonb gives for the whole tree, without ever holding
 * it).  An object's hash is the first 128 bits (32 hex digits) of the
 * SHA-256 of its definition's jsonb text; the fingerprint is the SHA-256
 * of a line per object (kind, identity, hash).
 * Privileges are normalised through acldefault (a NULL ACL and the
 * explicit default compare equal).  Objects that belong to an extension
 * are left out (the extension is listed); kinds not modelled are counted
 * under "unmodeled", never skipped silently.
 * A partial snapshot (objects given) describes those objects and the
 * objects of those tables, plus every schema, extension, event trigger and
 * publication: database-wide objects are few, and some of their changes
 * (ALTER EVENT TRIGGER, ALTER PUBLICATION ... ADD TABLE) leave nothing
 * usable in the DDL ledger.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/amapi.h"
#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_attrdef.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_description.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_policy.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "commands/event_trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "lib/qunique.h"
#include "nodes/parsenodes.h"
#include "storage/lock.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/formatting.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
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


/*
 * Reads the objects of a kind from the catalog itself and pushes them
 * (objects, in identity order; finish_object for each); returns their
 * number.  schemas: the schemas asked for (NULL: every user schema);
 * relids: the relations of a partial snapshot (NULL: a whole snapshot).
 */
typedef int (*NativeReader) (JsonbParseState **state, ArrayType *schemas, ArrayType *relids);

/*
 * Whether a whole snapshot may have objects of a kind (false: the kind's
 * query is not run at all).
 */
typedef bool (*KindPrecheck) (ArrayType *schemas);

/* One object kind: its name, and the query or the reader describing its objects. */
typedef struct SnapshotKind
{
	const char *kind;
	const char *sql;			/* returns identity, parent, definition (jsonb) */
	NativeReader native;		/* instead of sql */
	KindPrecheck precheck;		/* NULL: always run */
} SnapshotKind;

static bool types_may_exist(ArrayType *schemas);

static int	read_columns(JsonbParseState **state, ArrayType *schemas, ArrayType *relids);
static int	read_indexes(JsonbParseState **state, ArrayType *schemas, ArrayType *relids);
static int	read_constraints(JsonbParseState **state, ArrayType *schemas, ArrayType *relids);
static int	read_triggers(JsonbParseState **state, ArrayType *schemas, ArrayType *relids);
static int	read_tables(JsonbParseState **state, ArrayType *schemas, ArrayType *relids);
static int	read_policies(JsonbParseState **state, ArrayType *schemas, ArrayType *relids);



static const SnapshotKind snapshot_kinds[] = {
	{"schema",
		"SELECT quote_ident(n.nspname), NULL::text, jsonb_strip_nulls(jsonb_build_object("
		" 'owner', pg_get_userbyid(n.nspowner), 'comment', " COMMENT("n.oid", "pg_namespace", "0") ","
		" 'privileges', " ACL("n.nspacl", "n", "n.nspowner") "))"
		" FROM pg_namespace n WHERE " NSF("n") " AND " NOTEXT("pg_namespace", "n.oid"),
		NULL, NULL},
	{"extension",
		"SELECT quote_ident(e.extname), NULL::text, jsonb_build_object("
		" 'version', e.extversion, 'schema', quote_ident(en.nspname))"
		" FROM pg_extension e JOIN pg_namespace en ON en.oid = e.extnamespace",
		NULL, NULL},
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
		NULL, types_may_exist},
	/* read from pg_class directly (read_tables) */
	{"table", NULL, read_tables, NULL},
	/* read from pg_attribute directly (read_columns): the largest kind */
	{"column", NULL, read_columns, NULL},
	/* read from pg_constraint directly (read_constraints) */
	{"constraint", NULL, read_constraints, NULL},
	/* read from pg_index directly (read_indexes) */
	{"index", NULL, read_indexes, NULL},
	/* read from pg_trigger directly (read_triggers) */
	{"trigger", NULL, read_triggers, NULL},
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
		NULL, NULL},
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
		NULL, NULL},
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
		NULL, NULL},
	/* read from pg_policy directly (read_policies) */
	{"policy", NULL, read_policies, NULL},
	{"event trigger",
		"SELECT quote_ident(e.evtname), NULL::text, jsonb_strip_nulls(jsonb_build_object("
		" 'event', e.evtevent, 'tags', (SELECT jsonb_agg(t ORDER BY t COLLATE \"C\") FROM unnest(e.evttags) t),"
		" 'function', e.evtfoid::regproc::text,"
		" 'enabled', CASE e.evtenabled WHEN 'O' THEN 'origin' WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'replica' WHEN 'A' THEN 'always' END,"
		" 'owner', pg_get_userbyid(e.evtowner), 'comment', " COMMENT("e.oid", "pg_event_trigger", "0") "))"
		" FROM pg_event_trigger e WHERE " NOTEXT("pg_event_trigger", "e.oid"),
		NULL, NULL},
	{"publication",
		"SELECT quote_ident(p.pubname), NULL::text, jsonb_strip_nulls(jsonb_build_object("
		" 'all_tables', p.puballtables, 'insert', p.pubinsert, 'update', p.pubupdate, 'delete', p.pubdelete,"
		" 'truncate', p.pubtruncate, 'via_root', p.pubviaroot,"
		" 'tables', CASE WHEN NOT p.puballtables THEN (SELECT jsonb_agg(format('%I.%I', pt.schemaname, pt.tablename) ORDER BY pt.schemaname COLLATE \"C\", pt.tablename COLLATE \"C\")"
		"   FROM pg_publication_tables pt WHERE pt.pubname = p.pubname) END,"
		" 'owner', pg_get_userbyid(p.pubowner), 'comment', " COMMENT("p.oid", "pg_publication", "0") "))"
		" FROM pg_publication p",
		NULL, NULL},
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

/* "a.b": a qualified name from its quoted parts (psprintf's formatting costs more, 100,000 times over). */
static char *
join_names(const char *a, const char *b)
{
	size_t		alen = strlen(a);
	size_t		blen = strlen(b);
	char	   *name = palloc(alen + blen + 2);

	memcpy(name, a, alen);
	name[alen] = '.';
	memcpy(name + alen + 1, b, blen + 1);
	return name;
}

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

/* A built text, in memory of its own size (the buffer's 1 kB goes back): kept long. */
static char *
text_of(StringInfo buf)
{
	char	   *text = pnstrdup(buf->data, buf->len);

	pfree(buf->data);
	return text;
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

/*
 * The small integers pushed (column positions), made once per backend in
 * slots of one array (so that a pointer into it tells which), and their text.
 */
typedef union SmallNumeric
{
	char		bytes[16];
	int32		align;
} SmallNumeric;

static SmallNumeric small_numerics[MaxHeapAttributeNumber + 1];
static char *small_numeric_texts[MaxHeapAttributeNumber + 1];

/* Push an integer value. */
static void
push_int(JsonbParseState **state, int64 n)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	if (n >= 0 && n <= MaxHeapAttributeNumber)
	{
		if (small_numeric_texts[n] == NULL)
		{
			Numeric		num = DatumGetNumeric(DirectFunctionCall1(int8_numeric, Int64GetDatum(n)));

			if (VARSIZE(num) > sizeof(SmallNumeric))
				elog(ERROR, "numeric %d does not fit its slot", (int) n);
			memcpy(small_numerics[n].bytes, num, VARSIZE(num));
			small_numeric_texts[n] = MemoryContextStrdup(TopMemoryContext, psprintf(INT64_FORMAT, n));
		}
		v.val.numeric = (Numeric) small_numerics[n].bytes;
	}
	else
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

/* Push a member (key and string value) of an object being built. */
static void
push_string_member(JsonbParseState **state, const char *key, const char *str)
{
	push_key(state, key);
	push_string(state, str);
}

/* Push a member (key and boolean value) of an object being built. */
static void
push_bool_member(JsonbParseState **state, const char *key, bool b)
{
	push_key(state, key);
	push_bool(state, b);
}

/* ---------------------------------------------------------------------
 * The columns of the tables in scope, by (relation, number), as the
 * snapshot's read of pg_attribute met them (read_columns): the names the
 * definitions of indexes, constraints and expressions need, without a
 * catalog cache lookup (a miss in a new session) per column.
 * ---------------------------------------------------------------------
 */
typedef struct AttrKey
{
	Oid			relid;
	int32		attnum;
} AttrKey;

/* A column as read_columns met it: kept with its relation (ScopeRel), by number. */
typedef struct ColumnInfo
{
	char	   *name;			/* NULL: no such column (or dropped) */
	Oid			typid;
	Oid			collation;
} ColumnInfo;

static const ColumnInfo *scope_column(Oid relid, AttrNumber attnum);

/* the hex digits of an object's hash: the first 128 bits of the SHA-256 */
#define OBJECT_HASH_HEX_DIGITS 32

/* this snapshot's hasher of object definitions */
static MigrateHasher *snapshot_hasher = NULL;

/* this snapshot's fingerprint: the hash of a line per object (kind, identity, hash) */
static MigrateHasher *snapshot_fingerprint = NULL;
static StringInfoData snapshot_fingerprint_buf;	/* lines not hashed yet */

/* Hash the lines buffered. */
static void
fingerprint_flush(void)
{
	migrate_hasher_update(snapshot_fingerprint, snapshot_fingerprint_buf.data, snapshot_fingerprint_buf.len);
	resetStringInfo(&snapshot_fingerprint_buf);
}

/* Add a line to the fingerprint input: three tab-separated fields (their lengths given). */
static void
fingerprint_line(const char *a, int alen, const char *b, int blen, const char *c, int clen)
{
	StringInfo	buf = &snapshot_fingerprint_buf;

	/* hashed 64 kB at a time */
	if (buf->len + alen + blen + clen + 3 > 65536)
		fingerprint_flush();
	appendBinaryStringInfo(buf, a, alen);
	appendStringInfoCharMacro(buf, '\t');
	appendBinaryStringInfo(buf, b, blen);
	appendStringInfoCharMacro(buf, '\t');
	appendBinaryStringInfo(buf, c, clen);
	appendStringInfoCharMacro(buf, '\n');
}

/* The fingerprint, of all the lines added (the hasher freed). */
static char *
fingerprint_finish(void)
{
	char	   *fingerprint;

	fingerprint_flush();
	fingerprint = migrate_hasher_final_hex(snapshot_fingerprint);
	migrate_hasher_free(snapshot_fingerprint);
	snapshot_fingerprint = NULL;
	pfree(snapshot_fingerprint_buf.data);
	return fingerprint;
}

/*
 * The name, type and collation of a column (not dropped); as the
 * snapshot's read of pg_attribute met it, else from the catalog cache.
 * false when there is no such column.
 */
static bool
column_info(Oid relid, AttrNumber attnum, const char **name, Oid *typid, Oid *collation)
{
	const ColumnInfo *e;
	HeapTuple	tup;
	Form_pg_attribute att;

	if ((e = scope_column(relid, attnum)) != NULL)
	{
		*name = e->name;
		*typid = e->typid;
		*collation = e->collation;
		return true;
	}
	tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
	if (!HeapTupleIsValid(tup))
		return false;
	att = (Form_pg_attribute) GETSTRUCT(tup);
	if (att->attisdropped)
	{
		ReleaseSysCache(tup);
		return false;
	}
	*name = pstrdup(NameStr(att->attname));
	*typid = att->atttypid;
	*collation = att->attcollation;
	ReleaseSysCache(tup);
	return true;
}

/* The name of a column, or an error. */
static const char *
column_name(Oid relid, AttrNumber attnum)
{
	const char *name;
	Oid			typid;
	Oid			collation;

	if (!column_info(relid, attnum, &name, &typid, &collation))
		elog(ERROR, "cache lookup failed for attribute %d of relation %u", attnum, relid);
	return name;
}

/* ---------------------------------------------------------------------
 * Expressions (column defaults, check constraints, index predicates,
 * policies) rendered by pg_get_expr(), once per distinct expression: the
 * text depends only on the stored node tree and the names of the columns
 * its Vars refer to, so the tables of a schema made from one template
 * share one rendering, and deparsing (which builds the relcache entry of
 * the table) happens once.  An expression with a subquery or a whole-row
 * reference also depends on the table's name: it is remembered per table.
 * ---------------------------------------------------------------------
 */
typedef struct ExprTextEntry
{
	uint64		hash;			/* key: hash of the rendering's inputs */
	char	   *input;			/* the inputs, to tell a collision */
	int			input_len;
	char	   *text;
} ExprTextEntry;

/* this snapshot's renderings (created at its start, in its memory) */
static HTAB *expr_texts = NULL;

/* pg_get_expr(expr, relid), or NULL when the relation is gone. */
static char *
server_expr_text(Datum expr, Oid relid)
{
	LOCAL_FCINFO(fcinfo, 2);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, NULL, 2, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = expr;
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = ObjectIdGetDatum(relid);
	fcinfo->args[1].isnull = false;
	result = pg_get_expr(fcinfo);
	if (fcinfo->isnull)
		return NULL;
	return TextDatumGetCString(result);
}

/*
 * The text a server deparser gives for an object by OID; an object
 * dropped meanwhile (the deparser returns NULL) fails as a catalog cache
 * miss, which migrate.snapshot reads again.
 */
static char *
server_text(PGFunction fn, Oid oid, const char *what)
{
	LOCAL_FCINFO(fcinfo, 1);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, NULL, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = ObjectIdGetDatum(oid);
	fcinfo->args[0].isnull = false;
	result = fn(fcinfo);
	if (fcinfo->isnull)
		elog(ERROR, "cache lookup failed for %s %u", what, oid);
	return TextDatumGetCString(result);
}

/*
 * What rendering an expression needs besides the names of its columns,
 * remembered by its stored bytes (maybe compressed: equal trees give equal
 * bytes), so that a tree met again is neither decompressed nor scanned.
 */
typedef struct ExprShape
{
	uint64		hash;			/* key: hash of the stored bytes */
	char	   *raw;			/* the stored bytes, to tell a collision */
	int			rawlen;
	int			id;				/* its number, in the keys of the renderings */
	bool		shared;			/* no subquery: the text depends on column names only */
	int			nvars;
	long	   *attnos;			/* the column number of each Var, in order */
	struct ExprShape *next;		/* another shape with the same hash */
} ExprShape;

/* this snapshot's shapes (created at its start, in its memory) */
static HTAB *expr_shapes = NULL;
static int	expr_shape_count = 0;

/* The shape of a stored expression (made when first met). */
static ExprShape *
expr_shape(Datum expr)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(expr);
	struct varlena *raw = VARATT_IS_EXTERNAL(v) ? pg_detoast_datum_packed(v) : v;
	int			rawlen = VARSIZE_ANY(raw);
	uint64		hash = hash_bytes_extended((const unsigned char *) raw, rawlen, 0);
	ExprShape  *shape;
	ExprShape  *first;
	bool		found;
	char	   *str;
	int			max = 8;
	MemoryContext old;

	first = (ExprShape *) hash_search(expr_shapes, &hash, HASH_ENTER, &found);
	if (found)
		for (shape = first; shape != NULL; shape = shape->next)
			if (shape->rawlen == rawlen && memcmp(shape->raw, raw, rawlen) == 0)
				return shape;
	old = MemoryContextSwitchTo(GetMemoryChunkContext(expr_shapes));
	shape = found ? palloc(sizeof(ExprShape)) : first;
	if (found)
	{
		shape->next = first->next;
		first->next = shape;
	}
	else
		shape->next = NULL;
	shape->hash = hash;
	shape->raw = palloc(rawlen);
	memcpy(shape->raw, raw, rawlen);
	shape->rawlen = rawlen;
	shape->id = ++expr_shape_count;
	str = text_to_cstring((text *) raw);
	shape->shared = strstr(str, "{QUERY") == NULL;
	shape->nvars = 0;
	shape->attnos = palloc(sizeof(long) * max);
	/* the column numbers, in the order of the Vars */
	for (const char *p = str; shape->shared && (p = strstr(p, ":varattno ")) != NULL;)
	{
		char	   *end;

		if (shape->nvars == max)
		{
			max *= 2;
			shape->attnos = repalloc(shape->attnos, sizeof(long) * max);
		}
		shape->attnos[shape->nvars++] = strtol(p + strlen(":varattno "), &end, 10);
		p = end;
	}
	pfree(str);
	MemoryContextSwitchTo(old);
	return shape;
}

/*
 * The text pg_get_expr() gives for a stored expression of a relation.  It
 * depends only on the stored tree and the names of the columns its Vars
 * refer to (also on the table's name when it has a subquery or a whole-row
 * or system column reference): rendered once per distinct key.
 */
static char *
expr_text(Datum expr, Oid relid)
{
	ExprShape  *shape = expr_shape(expr);
	StringInfoData input;
	bool		shared = shape->shared;
	ExprTextEntry *entry;
	uint64		hash;
	bool		found;
	char	   *text;

	initStringInfo(&input);
	appendStringInfo(&input, "%d", shape->id);
	/* the names of the columns, in the order of the Vars */
	for (int i = 0; shared && i < shape->nvars; i++)
	{
		long		attno = shape->attnos[i];
		const char *name;
		Oid			typid;
		Oid			collation;

		if (attno <= 0 || attno > MaxAttrNumber ||
			!column_info(relid, (AttrNumber) attno, &name, &typid, &collation))
			shared = false;
		else
		{
			appendStringInfoChar(&input, '\x01');
			appendStringInfoString(&input, name);
		}
	}
	if (!shared)
		appendStringInfo(&input, "\x02%u", relid);
	hash = hash_bytes_extended((const unsigned char *) input.data, input.len, 0);
	entry = (ExprTextEntry *) hash_search(expr_texts, &hash, HASH_ENTER, &found);
	if (found)
	{
		if (entry->input_len == input.len && memcmp(entry->input, input.data, input.len) == 0)
			text = entry->text;
		else
			text = server_expr_text(expr, relid);	/* a hash collision */
	}
	else
	{
		MemoryContext old;

		/* a failed rendering must not leave a half-made entry behind */
		entry->input = NULL;
		entry->input_len = -1;
		entry->text = NULL;
		text = server_expr_text(expr, relid);
		old = MemoryContextSwitchTo(GetMemoryChunkContext(expr_texts));
		entry->input = pnstrdup(input.data, input.len);
		entry->input_len = input.len;
		entry->text = text ? pstrdup(text) : NULL;
		MemoryContextSwitchTo(old);
		if (text == NULL)
			(void) hash_search(expr_texts, &hash, HASH_REMOVE, NULL);
	}
	pfree(input.data);
	return text;
}

/* Push key: the text of an expression (nothing when it is NULL or its relation is gone). */
static void
push_expr(JsonbParseState **state, const char *key, Datum expr, bool isnull, Oid relid)
{
	char	   *text;

	if (isnull || (text = expr_text(expr, relid)) == NULL)
		return;
	push_key(state, key);
	push_string(state, text);
}


/* Append the quoted names of an int2[] of column numbers of a relation. */
static void
append_column_list(StringInfo buf, Datum attnums, Oid relid, int first)
{
	Datum	   *keys;
	int			n;

	deconstruct_array(DatumGetArrayTypeP(attnums), INT2OID, 2, true, TYPALIGN_SHORT, &keys, NULL, &n);
	for (int i = first; i < n; i++)
	{
		if (i > first)
			appendStringInfoString(buf, ", ");
		appendStringInfoString(buf, quote_identifier(column_name(relid, DatumGetInt16(keys[i]))));
	}
}

/* The number of elements of an array. */
static int
array_length_of(Datum array)
{
	ArrayType  *a = DatumGetArrayTypeP(array);

	return ARR_NDIM(a) == 0 ? 0 : ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
}

/* A referential action as pg_get_constraintdef writes it (NULL: NO ACTION, left out). */
static const char *
fk_action(char action)
{
	switch (action)
	{
		case FKCONSTR_ACTION_RESTRICT:
			return "RESTRICT";
		case FKCONSTR_ACTION_CASCADE:
			return "CASCADE";
		case FKCONSTR_ACTION_SETNULL:
			return "SET NULL";
		case FKCONSTR_ACTION_SETDEFAULT:
			return "SET DEFAULT";
		default:
			return NULL;
	}
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

/* Forget the lookups of the previous snapshot; the renderings of this one go in cxt. */
static void
reset_snapshot_caches(MemoryContext cxt)
{
	HASHCTL		ctl;

	opclass_cache_used = 0;
	canorder_am = InvalidOid;
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(ExprTextEntry);
	ctl.hcxt = cxt;
	expr_texts = hash_create("migrate snapshot expressions", 256, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.entrysize = sizeof(ExprShape);
	expr_shapes = hash_create("migrate snapshot expression shapes", 256, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	expr_shape_count = 0;
	/* freed at the end of the snapshot, or with the resource owner on error */
	snapshot_hasher = migrate_hasher_create();
	snapshot_fingerprint = migrate_hasher_create();
	migrate_hasher_reset(snapshot_fingerprint);
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		initStringInfo(&snapshot_fingerprint_buf);
		enlargeStringInfo(&snapshot_fingerprint_buf, 65536);
		MemoryContextSwitchTo(old);
	}
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

/* Whether a numeric is one of the small integers push_int made (n: which). */
static bool
numeric_is_small_pushed(Numeric num, int64 *n)
{
	uintptr_t	p = (uintptr_t) num;
	uintptr_t	first = (uintptr_t) small_numerics;

	if (p < first || p >= first + sizeof(small_numerics) || (p - first) % sizeof(SmallNumeric) != 0)
		return false;
	*n = (int64) ((p - first) / sizeof(SmallNumeric));
	return small_numeric_texts[*n] != NULL;
}

/*
 * Append a string as a JSON string literal, as escape_json() writes it
 * (runs of characters that need no escape are copied at once).
 */
static void
append_json_string(StringInfo out, const char *str, int len)
{
	int			start = 0;

	enlargeStringInfo(out, len + 2);
	appendStringInfoCharMacro(out, '"');
	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) str[i];

		if (c >= ' ' && c != '"' && c != '\\')
			continue;
		appendBinaryStringInfo(out, str + start, i - start);
		start = i + 1;
		switch (c)
		{
			case '\b':
				appendStringInfoString(out, "\\b");
				break;
			case '\f':
				appendStringInfoString(out, "\\f");
				break;
			case '\n':
				appendStringInfoString(out, "\\n");
				break;
			case '\r':
				appendStringInfoString(out, "\\r");
				break;
			case '\t':
				appendStringInfoString(out, "\\t");
				break;
			case '"':
				appendStringInfoString(out, "\\\"");
				break;
			case '\\':
				appendStringInfoString(out, "\\\\");
				break;
			default:
				appendStringInfo(out, "\\u%04x", (int) c);
				break;
		}
	}
	appendBinaryStringInfo(out, str + start, len - start);
	appendStringInfoCharMacro(out, '"');
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
			append_json_string(out, v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			{
				/* a small integer pushed by push_int: its text is known */
				Numeric		num = v->val.numeric;
				int64		n;
				bool		small = false;

				if (numeric_is_small_pushed(num, &n))
				{
					appendStringInfoString(out, small_numeric_texts[n]);
					small = true;
				}
				if (!small)
					appendStringInfoString(out, DatumGetCString(DirectFunctionCall1(numeric_out,
																					NumericGetDatum(num))));
				break;
			}
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

/* ---------------------------------------------------------------------
 * The snapshot's document, written as it is read.  Each object is built
 * with pushJsonbValue in a memory context of its own, turned into jsonb as
 * soon as it is finished, and its bytes appended to the objects array; the
 * array and the few members of the document are then written around them
 * in jsonb's binary layout (utils/jsonb.h), byte for byte as
 * JsonbValueToJsonb writes a whole tree.  So a snapshot of tens of
 * thousands of objects is never held as one tree of JsonbValues (hundreds
 * of megabytes, whose page faults and copies were most of its time).
 * ---------------------------------------------------------------------
 */
typedef struct ObjectsOut
{
	StringInfoData data;		/* the objects' containers, one after another; */
								/* in the end, the document itself */
	uint32	   *lengths;		/* the length of each, its leading padding included */
	StringInfoData hashinput;	/* the text of the definition being hashed */
	int			count;
	int			max;
	MemoryContext objcxt;		/* the object being built (reset after each) */
	MemoryContext outer;		/* where its builder came from */
} ObjectsOut;

/* this snapshot's objects (created at its start, in its memory) */
static ObjectsOut *snapshot_objects = NULL;

/* Start the objects of a snapshot, in the current memory context. */
static void
objects_begin(void)
{
	ObjectsOut *out = palloc0(sizeof(ObjectsOut));

	initStringInfo(&out->data);
	initStringInfo(&out->hashinput);
	out->max = 1024;
	out->lengths = palloc(sizeof(uint32) * out->max);
	/* a first block large enough for any usual object: reset, it is kept, so no malloc per object */
	out->objcxt = AllocSetContextCreate(CurrentMemoryContext, "migrate snapshot object",
										0, 64 * 1024, ALLOCSET_DEFAULT_MAXSIZE);
	snapshot_objects = out;
}

/* Pad a buffer of jsonb to a 4-byte boundary, as jsonb aligns its containers and numerics. */
static void
pad_to_int(StringInfo buf)
{
	static const char zeros[sizeof(int32)] = {0};
	int			padlen = INTALIGN(buf->len) - buf->len;

	appendBinaryStringInfo(buf, zeros, padlen);
}

/*
 * Start an object of the snapshot: what its builder allocates from here
 * on, until finish_object, goes in the object's memory context.  The
 * builder then pushes the object's definition (a root object).
 */
static void
begin_object(JsonbParseState **state)
{
	Assert(*state == NULL);
	snapshot_objects->outer = MemoryContextSwitchTo(snapshot_objects->objcxt);
}

/* A member of the snapshot document: its key and the bytes of its value. */
typedef struct DocMember
{
	const char *key;
	int			keylen;
	uint32		type;			/* JENTRY_ISSTRING, ISNUMERIC, ISBOOL_*, ISNULL or ISCONTAINER */
	const char *data;			/* NULL for a container: the objects array */
	int			len;
} DocMember;

/* A member whose value is a container (an array or object built apart). */
static DocMember
doc_container(const char *key, JsonbValue *value)
{
	Jsonb	   *jb = JsonbValueToJsonb(value);
	DocMember	m = {key, (int) strlen(key), JENTRY_ISCONTAINER, (char *) &jb->root, (int) (VARSIZE(jb) - VARHDRSZ)};

	return m;
}

/* A member whose value is an integer. */
static DocMember
doc_int(const char *key, int64 n)
{
	Numeric		num = DatumGetNumeric(DirectFunctionCall1(int8_numeric, Int64GetDatum(n)));
	DocMember	m = {key, (int) strlen(key), JENTRY_ISNUMERIC, (char *) num, (int) VARSIZE_ANY(num)};

	return m;
}

/* A member whose value is a string (key a literal; the string's length given). */
#define DOC_STRING(key, str, strlen) ((DocMember) {key, sizeof(key) - 1, JENTRY_ISSTRING, str, strlen})

/* Write an entry of a container: its length, or every JB_OFFSET_STRIDE'th its end offset. */
static void
write_jentry(StringInfo buf, int at, int index, uint32 type, uint32 len, uint32 *total)
{
	JEntry		meta = type | len;

	*total += len;
	if (*total > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the snapshot exceeds the maximum size of a jsonb object (%d bytes)",
						JENTRY_OFFLENMASK),
				 errhint("Take snapshots of fewer schemas at a time (the schemas argument).")));
	if (index % JB_OFFSET_STRIDE == 0)
		meta = type | *total | JENTRY_HAS_OFF;
	memcpy(buf->data + at, &meta, sizeof(JEntry));
}

/*
 * Write the members of an object container (in jsonb's order of keys:
 * shorter first, then bytewise) into buf, whose length is a multiple of 4:
 * its header, entries and keys, then each value.  A container-typed member
 * whose data is NULL is the objects array: its header and entries are
 * written, and its objects, which are in snapshot_objects->data, are moved
 * behind them, so that the document is written in that buffer from then
 * on (returned: the buffer written to in the end).
 */
static StringInfo
write_object(StringInfo buf, const DocMember *members, int n)
{
	ObjectsOut *out = snapshot_objects;
	uint32		header = n | JB_FOBJECT;
	int			entries;
	uint32		total = 0;

	Assert(buf->len % sizeof(int32) == 0);
	appendBinaryStringInfo(buf, (char *) &header, sizeof(uint32));
	entries = buf->len;
	enlargeStringInfo(buf, 2 * n * sizeof(JEntry));
	buf->len += 2 * n * sizeof(JEntry);
	for (int i = 0; i < n; i++)
	{
		int			len = members[i].keylen;

		Assert(i == 0 || len > members[i - 1].keylen ||
			   (len == members[i - 1].keylen && memcmp(members[i - 1].key, members[i].key, len) < 0));
		appendBinaryStringInfo(buf, members[i].key, len);
		write_jentry(buf, entries + i * sizeof(JEntry), i, JENTRY_ISSTRING, len, &total);
	}
	for (int i = 0; i < n; i++)
	{
		const DocMember *m = &members[i];
		int			start = buf->len;

		if (m->type == JENTRY_ISNUMERIC || m->type == JENTRY_ISCONTAINER)
			pad_to_int(buf);
		if (m->type == JENTRY_ISCONTAINER && m->data == NULL)
		{
			/* the objects array: its header and entries, then the objects */
			uint32		arrheader = out->count | JB_FARRAY;
			int			arrentries;
			uint32		arrtotal = 0;
			StringInfo	data = &out->data;
			int			prefix;

			appendBinaryStringInfo(buf, (char *) &arrheader, sizeof(uint32));
			arrentries = buf->len;
			enlargeStringInfo(buf, out->count * sizeof(JEntry));
			buf->len += out->count * sizeof(JEntry);
			for (int e = 0; e < out->count; e++)
				write_jentry(buf, arrentries + e * sizeof(JEntry), e, JENTRY_ISCONTAINER,
							 out->lengths[e], &arrtotal);
			/* what is written so far goes in front of the objects (a multiple of 4 long) */
			prefix = buf->len;
			if ((uint64) prefix + data->len + 1024 >= MaxAllocSize)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("the snapshot exceeds the maximum size of a jsonb value"),
						 errhint("Take snapshots of fewer schemas at a time (the schemas argument).")));
			enlargeStringInfo(data, prefix + 1024);
			memmove(data->data + prefix, data->data, data->len);
			memcpy(data->data, buf->data, prefix);
			data->len += prefix;
			pfree(buf->data);
			buf = data;
		}
		else if (m->len > 0)
			appendBinaryStringInfo(buf, m->data, m->len);
		write_jentry(buf, entries + (n + i) * sizeof(JEntry), n + i, m->type,
					 buf->len - start, &total);
	}
	return buf;
}

/*
 * Add an object (its members given) to the objects: its container written
 * at a 4-byte boundary (the padding counts as the object's) behind the
 * others.  The buffer, reserved ahead for a whole snapshot, grows by
 * realloc, which moves its pages rather than copying them.
 */
static void
objects_add(ObjectsOut *out, const DocMember *members, int n)
{
	uint32		start = out->data.len;

	pad_to_int(&out->data);
	(void) write_object(&out->data, members, n);
	if (out->data.len > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the snapshot exceeds the maximum size of a jsonb array (%d bytes)",
						JENTRY_OFFLENMASK),
				 errhint("Take snapshots of fewer schemas at a time (the schemas argument).")));
	if (out->count == out->max)
	{
		out->max *= 2;
		out->lengths = repalloc(out->lengths, sizeof(uint32) * out->max);
	}
	out->lengths[out->count++] = out->data.len - start;
}

/*
 * The snapshot document: an object of the members given (in jsonb's order
 * of keys), the container-typed member whose data is NULL being the
 * objects array.
 */
static Jsonb *
write_document(const DocMember *members, int n)
{
	StringInfoData buf;
	StringInfo	doc;

	initStringInfo(&buf);
	buf.len = VARHDRSZ;
	doc = write_object(&buf, members, n);
	SET_VARSIZE(doc->data, doc->len);
	return (Jsonb *) doc->data;
}

/*
 * Finish an object whose definition was pushed (the root value given): its
 * hash (the first 128 bits of the SHA-256 of the definition's jsonb text,
 * in hex), kind, identity and
 * parent, written around the definition's jsonb in jsonb's layout (as
 * pushJsonbValue and JsonbValueToJsonb would, without building them);
 * add it to the fingerprint input and to the objects; then free what was
 * built for it.
 */
static void
finish_object(JsonbParseState **state, const char *kind,
			  const char *identity, const char *parent, JsonbValue *definition)
{
	ObjectsOut *out = snapshot_objects;
	char	   *hash;
	Jsonb	   *jb;
	DocMember	members[5];
	int			n = 0;
	int			kindlen = strlen(kind);
	int			identitylen = strlen(identity);

	Assert(*state == NULL);
	resetStringInfo(&out->hashinput);
	append_value_text(&out->hashinput, definition);
	hash = migrate_hasher_hex(snapshot_hasher, out->hashinput.data, out->hashinput.len);
	/* its first 128 bits: as safe against a collision, and a tenth less text to send */
	hash[OBJECT_HASH_HEX_DIGITS] = '\0';
	fingerprint_line(kind, kindlen, identity, identitylen, hash, OBJECT_HASH_HEX_DIGITS);

	/* in jsonb's order of keys: shorter first, then bytewise */
	jb = JsonbValueToJsonb(definition);
	members[n++] = DOC_STRING("hash", hash, OBJECT_HASH_HEX_DIGITS);
	members[n++] = DOC_STRING("kind", kind, kindlen);
	if (parent)
		members[n++] = DOC_STRING("parent", parent, (int) strlen(parent));
	members[n++] = DOC_STRING("identity", identity, identitylen);
	members[n++] = (DocMember) {"definition", 10, JENTRY_ISCONTAINER, (char *) &jb->root, (int) (VARSIZE(jb) - VARHDRSZ)};
	objects_add(out, members, n);

	MemoryContextSwitchTo(out->outer);
	MemoryContextReset(out->objcxt);
}

/* ---------------------------------------------------------------------
 * Native readers: kinds read from the catalog directly, with the snapshot
 * the SPI queries use, instead of through a query (which would sort and
 * project wide rows and render them with SQL functions).  A whole snapshot
 * reads each catalog once, sequentially; a partial one looks up the
 * relations asked for through the catalog indexes.
 * ---------------------------------------------------------------------
 */

/* A scan of a catalog: all of it, or the rows of some relations through an index. */
typedef struct CatalogScan
{
	Relation	rel;
	SysScanDesc scan;
	Oid			index;			/* its first column: the relation's OID */
	AttrNumber	keyatt;			/* that column in the catalog */
	const Oid  *relids;			/* NULL: the whole catalog */
	int			nrelids;
	int			next;
	ScanKeyData key;
} CatalogScan;

/* Start a scan of a catalog (relids NULL: all of it). */
static void
catalog_scan_begin(CatalogScan *cs, Oid catalog, Oid index, AttrNumber keyatt, const Oid *relids,
				   int nrelids)
{
	cs->rel = table_open(catalog, AccessShareLock);
	cs->index = index;
	cs->keyatt = keyatt;
	cs->relids = relids;
	cs->nrelids = nrelids;
	cs->next = 0;
	cs->scan = relids == NULL ?
		systable_beginscan(cs->rel, InvalidOid, false, GetActiveSnapshot(), 0, NULL) : NULL;
}

/* The next row of a catalog scan, or NULL. */
static HeapTuple
catalog_scan_next(CatalogScan *cs)
{
	for (;;)
	{
		if (cs->scan != NULL)
		{
			HeapTuple	tup = systable_getnext(cs->scan);

			if (HeapTupleIsValid(tup) || cs->relids == NULL)
				return tup;
			systable_endscan(cs->scan);
			cs->scan = NULL;
		}
		if (cs->next >= cs->nrelids)
			return NULL;
		ScanKeyInit(&cs->key, cs->keyatt, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(cs->relids[cs->next++]));
		cs->scan = systable_beginscan(cs->rel, cs->index, true, GetActiveSnapshot(), 1, &cs->key);
	}
}

/* End a catalog scan. */
static void
catalog_scan_end(CatalogScan *cs)
{
	if (cs->scan != NULL)
		systable_endscan(cs->scan);
	table_close(cs->rel, AccessShareLock);
}

/* Whether a schema is in a snapshot's scope (as the NSF condition of the queries). */
static bool
schema_in_scope(const char *nspname, ArrayType *schemas)
{
	Datum	   *elems;
	bool	   *elem_nulls;
	int			n;

	if (strncmp(nspname, "pg_", 3) == 0 || strcmp(nspname, "information_schema") == 0)
		return false;
	if (schemas == NULL)
		return strcmp(nspname, MIGRATE_SCHEMA) != 0;
	deconstruct_array(schemas, TEXTOID, -1, false, TYPALIGN_INT, &elems, &elem_nulls, &n);
	for (int i = 0; i < n; i++)
		if (!elem_nulls[i] && strcmp(TextDatumGetCString(elems[i]), nspname) == 0)
			return true;
	return false;
}

/* A relation in a schema in a snapshot's scope, as pg_class gives it. */
typedef struct ScopeRel
{
	Oid			relid;			/* key */
	char	   *qualified;		/* schema.name, quoted as format('%I.%I'); NULL: out of scope */
	char	   *name;			/* the name, quoted */
	const char *schema;			/* its schema's name, quoted */
	char		relkind;
	bool		ispartition;
	bool		has_options;	/* reloptions set */
	bool		ext_member;		/* a member of an extension */
	Oid			relam;
	HeapTuple	tup;			/* a table's pg_class row (a copy), for read_tables */
	ColumnInfo *cols;			/* a table's columns, by number - 1 (read_columns) */
	int			ncols;
	int16	   *positions;		/* their positions among those not dropped */
} ScopeRel;

/* The scope's relations by OID: an open-addressing table (simplehash) of pointers to them. */
typedef struct ScopeRelSlot
{
	Oid			relid;
	char		status;
	ScopeRel   *rel;
} ScopeRelSlot;

#define SH_PREFIX scoperels
#define SH_ELEMENT_TYPE ScopeRelSlot
#define SH_KEY_TYPE Oid
#define SH_KEY relid
#define SH_HASH_KEY(tb, key) murmurhash32(key)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* The relation of the scope with that OID (met, in scope or not), or NULL. */
static inline ScopeRel *
scoperels_find(scoperels_hash *rels, Oid relid)
{
	ScopeRelSlot *slot = scoperels_lookup(rels, relid);

	return slot ? slot->rel : NULL;
}

/* The entry of a relation of the scope, made (zeroed) when new. */
static ScopeRel *
scoperels_enter(scoperels_hash *rels, Oid relid)
{
	bool		found;
	ScopeRelSlot *slot = scoperels_insert(rels, relid, &found);

	if (!found)
	{
		slot->rel = MemoryContextAllocZero(rels->ctx, sizeof(ScopeRel));
		slot->rel->relid = relid;
	}
	return slot->rel;
}

/*
 * The relations of this snapshot: every relation of the schemas in scope
 * (a whole snapshot, read in one pass of pg_class), or those met so far (a
 * partial one: the relations asked for, and the others looked up by OID as
 * they are needed).  Created at the start of the snapshot, in its memory.
 */
typedef struct SnapshotScope
{
	scoperels_hash *rels;		/* ScopeRel by OID */
	HTAB	   *namespaces;		/* quoted name by OID, NULL when out of scope */
	ArrayType  *schemas;		/* the schemas asked for (NULL: every user schema) */
	bool		partial;
	const Oid  *relids;			/* a partial snapshot's relations */
	int			nrelids;
	HTAB	   *attoptions;		/* relations with column options (a whole snapshot) */
	HTAB	   *comments;		/* pg_description (a whole snapshot), by object */
	HTAB	   *indexes;		/* pg_index rows of the scope's indexes, by OID */
	bool		indexes_read;	/* all of them (a whole snapshot) */
	Oid			last_relid;		/* the relation scope_rel was asked for last */
	ScopeRel   *last;			/* and its answer */
} SnapshotScope;

static SnapshotScope *snapshot_scope = NULL;

/* A namespace met by the scope: its quoted name, NULL when out of scope. */
typedef struct ScopeNamespace
{
	Oid			nspid;			/* key */
	char	   *quoted;
} ScopeNamespace;

/* Add a pg_class row to the scope (when its schema is in scope); returns its entry or NULL. */
static ScopeRel *
scope_add(SnapshotScope *sc, HeapTuple tup, TupleDesc desc)
{
	Form_pg_class c = (Form_pg_class) GETSTRUCT(tup);
	ScopeNamespace *nsp;
	ScopeRel   *r;
	bool		found;

	nsp = hash_search(sc->namespaces, &c->relnamespace, HASH_ENTER, &found);
	if (!found)
	{
		char	   *nspname = get_namespace_name(c->relnamespace);

		nsp->quoted = nspname && schema_in_scope(nspname, sc->schemas) ?
			pstrdup(quote_identifier(nspname)) : NULL;
	}
	if (nsp->quoted == NULL)
		return NULL;
	r = scoperels_enter(sc->rels, c->oid);
	r->name = pstrdup(quote_identifier(NameStr(c->relname)));
	r->schema = nsp->quoted;
	r->qualified = join_names(nsp->quoted, r->name);
	r->relkind = c->relkind;
	r->ispartition = c->relispartition;
	r->has_options = !heap_attisnull(tup, Anum_pg_class_reloptions, desc);
	r->ext_member = false;
	r->relam = c->relam;
	r->cols = NULL;
	r->ncols = 0;
	r->positions = NULL;
	r->tup = (c->relkind == RELKIND_RELATION || c->relkind == RELKIND_PARTITIONED_TABLE ||
			  c->relkind == RELKIND_FOREIGN_TABLE) ? heap_copytuple(tup) : NULL;
	return r;
}

/* Whether an object is a member of an extension (through pg_depend's index). */
static bool
is_extension_member(Oid classid, Oid objid)
{
	Relation	deprel = table_open(DependRelationId, AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	bool		member = false;

	ScanKeyInit(&key[0], Anum_pg_depend_classid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(classid));
	ScanKeyInit(&key[1], Anum_pg_depend_objid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(objid));
	scan = systable_beginscan(deprel, DependDependerIndexId, true, GetActiveSnapshot(), 2, key);
	while (!member && HeapTupleIsValid(tup = systable_getnext(scan)))
		member = ((Form_pg_depend) GETSTRUCT(tup))->deptype == DEPENDENCY_EXTENSION;
	systable_endscan(scan);
	table_close(deprel, AccessShareLock);
	return member;
}

/*
 * Start the scope of a snapshot: the relations of the schemas in scope,
 * with the members of extensions marked.  relids: the relations of a
 * partial snapshot (NULL: a whole snapshot).
 */
static SnapshotScope *
scope_begin(ArrayType *schemas, const Oid *relids, int nrelids)
{
	SnapshotScope *sc = palloc0(sizeof(SnapshotScope));
	HASHCTL		ctl;
	CatalogScan cs;
	HeapTuple	tup;
	Relation	deprel;
	SysScanDesc scan;
	ScanKeyData key[2];

	sc->schemas = schemas;
	sc->partial = relids != NULL;
	sc->relids = relids;
	sc->nrelids = nrelids;
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(ScopeRel);
	ctl.hcxt = CurrentMemoryContext;
	sc->rels = scoperels_create(CurrentMemoryContext, 1024, NULL);
	ctl.entrysize = sizeof(ScopeNamespace);
	sc->namespaces = hash_create("migrate snapshot schemas", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	catalog_scan_begin(&cs, RelationRelationId, ClassOidIndexId, Anum_pg_class_oid, relids, nrelids);
	while ((tup = catalog_scan_next(&cs)) != NULL)
		(void) scope_add(sc, tup, RelationGetDescr(cs.rel));
	catalog_scan_end(&cs);

	/* the members of extensions */
	deprel = table_open(DependRelationId, AccessShareLock);
	if (relids == NULL)
	{
		/* what each extension's members depend on it with: through pg_depend's reference index */
		CatalogScan ext;

		catalog_scan_begin(&ext, ExtensionRelationId, InvalidOid, InvalidAttrNumber, NULL, 0);
		while ((tup = catalog_scan_next(&ext)) != NULL)
		{
			HeapTuple	dtup;

			ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
						ObjectIdGetDatum(ExtensionRelationId));
			ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber, F_OIDEQ,
						ObjectIdGetDatum(((Form_pg_extension) GETSTRUCT(tup))->oid));
			scan = systable_beginscan(deprel, DependReferenceIndexId, true, GetActiveSnapshot(), 2, key);
			while (HeapTupleIsValid(dtup = systable_getnext(scan)))
			{
				Form_pg_depend d = (Form_pg_depend) GETSTRUCT(dtup);
				ScopeRel   *r;

				if (d->classid == RelationRelationId && d->deptype == DEPENDENCY_EXTENSION &&
					(r = scoperels_find(sc->rels, d->objid)) != NULL)
					r->ext_member = true;
			}
			systable_endscan(scan);
		}
		catalog_scan_end(&ext);
	}
	table_close(deprel, AccessShareLock);
	if (relids != NULL)
	{
		scoperels_iterator it;
		ScopeRelSlot *slot;

		scoperels_start_iterate(sc->rels, &it);
		while ((slot = scoperels_iterate(sc->rels, &it)) != NULL)
			slot->rel->ext_member = is_extension_member(RelationRelationId, slot->relid);
	}
	return sc;
}

/*
 * A relation of the scope, or NULL when its schema is out of scope (or it
 * does not exist); a partial snapshot looks up what it has not met yet.
 */
static ScopeRel *
scope_rel(Oid relid)
{
	SnapshotScope *sc = snapshot_scope;
	ScopeRel   *r;
	CatalogScan cs;
	HeapTuple	tup;
	MemoryContext old;

	/* the catalogs list a relation's rows together: the last one asked for comes again */
	if (OidIsValid(sc->last_relid) && sc->last_relid == relid)
		return sc->last;
	if ((r = scoperels_find(sc->rels, relid)) != NULL || !sc->partial)
	{
		sc->last_relid = relid;
		sc->last = (r && r->qualified) ? r : NULL;
		return sc->last;
	}
	/* what is met lasts as long as the scope (an object's builder may be asking) */
	old = MemoryContextSwitchTo(GetMemoryChunkContext(sc));
	catalog_scan_begin(&cs, RelationRelationId, ClassOidIndexId, Anum_pg_class_oid, &relid, 1);
	if ((tup = catalog_scan_next(&cs)) != NULL && (r = scope_add(sc, tup, RelationGetDescr(cs.rel))) != NULL)
		r->ext_member = is_extension_member(RelationRelationId, relid);
	catalog_scan_end(&cs);
	MemoryContextSwitchTo(old);
	if (r == NULL)
	{
		/* remembered as out of scope */
		r = scoperels_enter(sc->rels, relid);
	}
	sc->last_relid = relid;
	sc->last = r->qualified ? r : NULL;
	return sc->last;
}

/* A table (relkind r, p or f) of the scope that is not a member of an extension, or NULL. */
static ScopeRel *
scope_table(Oid relid)
{
	ScopeRel   *r = scope_rel(relid);

	if (r == NULL || r->ext_member ||
		(r->relkind != RELKIND_RELATION && r->relkind != RELKIND_PARTITIONED_TABLE &&
		 r->relkind != RELKIND_FOREIGN_TABLE))
		return NULL;
	return r;
}

/* A column of a table in scope as read_columns met it, or NULL. */
static const ColumnInfo *
scope_column(Oid relid, AttrNumber attnum)
{
	ScopeRel   *r;

	if (snapshot_scope == NULL || (r = scope_rel(relid)) == NULL ||
		attnum < 1 || attnum > r->ncols || r->cols[attnum - 1].name == NULL)
		return NULL;
	return &r->cols[attnum - 1];
}

/*
 * The scope of this snapshot, started by the first native reader: schemas
 * asked for (NULL: every user schema), relid_array the relations of a
 * partial snapshot (NULL: a whole snapshot).
 */
static SnapshotScope *
scope_get(ArrayType *schemas, ArrayType *relid_array)
{
	Oid		   *relids = NULL;
	int			nrelids = 0;

	if (snapshot_scope != NULL)
		return snapshot_scope;
	if (relid_array != NULL)
	{
		Datum	   *elems;

		deconstruct_array(relid_array, OIDOID, sizeof(Oid), true, TYPALIGN_INT, &elems, NULL, &nrelids);
		relids = palloc(sizeof(Oid) * (nrelids + 1));
		for (int i = 0; i < nrelids; i++)
			relids[i] = DatumGetObjectId(elems[i]);
		/* each once: two names may be given for one relation, and every reader scans per relation */
		qsort(relids, nrelids, sizeof(Oid), oid_cmp);
		nrelids = qunique(relids, nrelids, sizeof(Oid), oid_cmp);
	}
	snapshot_scope = scope_begin(schemas, relids, nrelids);
	/*
	 * Room for the objects of a whole snapshot, about 1 kB per relation:
	 * the pages are touched only as they are written
	 */
	if (relids == NULL && snapshot_objects != NULL)
		enlargeStringInfo(&snapshot_objects->data,
						  (int) Min((uint64) snapshot_scope->rels->members * 1024, MaxAllocSize / 4));
	return snapshot_scope;
}

typedef struct ScopeIndex
{
	Oid			indexrelid;		/* key */
	ScopeRel   *rel;			/* the index's relation; NULL: no such index in scope */
	ScopeRel   *table;			/* its table's, NULL when out of scope */
	bool		valid;
	bool		clustered;
	bool		nulls_not_distinct;
	int			natts;			/* key and INCLUDE columns */
	int16	   *keys;			/* their numbers */
	char	   *definition;		/* as pg_get_indexdef() writes it, when the snapshot lists it */
} ScopeIndex;

static char *index_definition(HeapTuple tup, TupleDesc desc, ScopeRel *index, ScopeRel *table);

/* Fill an index's entry from its pg_index row (read with the snapshot's catalog scan). */
static void
scope_index_fill(ScopeIndex *e, HeapTuple tup, TupleDesc desc, ScopeRel *rel)
{
	Form_pg_index x = (Form_pg_index) GETSTRUCT(tup);

	e->rel = rel;
	e->table = scope_rel(x->indrelid);
	e->valid = x->indisvalid;
	e->clustered = x->indisclustered;
#if PG_VERSION_NUM >= 150000
	e->nulls_not_distinct = x->indnullsnotdistinct;
#else
	e->nulls_not_distinct = false;
#endif
	/* indkey is the last fixed-width column: in the struct */
	e->natts = x->indkey.dim1;
	e->keys = palloc(sizeof(int16) * (e->natts + 1));
	memcpy(e->keys, x->indkey.values, sizeof(int16) * e->natts);
	/* written while the row is at hand (no copy of it kept) for the indexes the snapshot lists */
	e->definition = (!rel->ispartition && e->table != NULL && !e->table->ext_member) ?
		index_definition(tup, desc, rel, e->table) : NULL;
}

/*
 * The indexes in scope: a whole snapshot reads pg_index once; a partial
 * one looks an index up through its index.  Returns the map (full: every
 * index in scope).
 */
static HTAB *
scope_indexes(void)
{
	SnapshotScope *sc = snapshot_scope;

	if (sc->indexes == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(ScopeIndex);
		ctl.hcxt = GetMemoryChunkContext(sc);
		sc->indexes = hash_create("migrate snapshot indexes", 1024, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	if (!sc->partial && !sc->indexes_read)
	{
		CatalogScan cs;
		HeapTuple	tup;
		MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(sc));

		sc->indexes_read = true;
		catalog_scan_begin(&cs, IndexRelationId, InvalidOid, InvalidAttrNumber, NULL, 0);
		while ((tup = catalog_scan_next(&cs)) != NULL)
		{
			Oid			indexrelid = ((Form_pg_index) GETSTRUCT(tup))->indexrelid;
			ScopeRel   *rel = scope_rel(indexrelid);
			ScopeIndex *e;

			if (rel == NULL)
				continue;
			e = hash_search(sc->indexes, &indexrelid, HASH_ENTER, NULL);
			scope_index_fill(e, tup, RelationGetDescr(cs.rel), rel);
		}
		catalog_scan_end(&cs);
		MemoryContextSwitchTo(old);
	}
	return sc->indexes;
}

/* An index in scope, or NULL. */
static ScopeIndex *
scope_index(Oid indexrelid)
{
	SnapshotScope *sc = snapshot_scope;
	HTAB	   *indexes = scope_indexes();
	ScopeIndex *e;
	bool		found;
	CatalogScan cs;
	HeapTuple	tup;
	ScopeRel   *rel;

	if (!sc->partial)
		return hash_search(indexes, &indexrelid, HASH_FIND, NULL);
	e = hash_search(indexes, &indexrelid, HASH_ENTER, &found);
	if (found)
		return e->rel ? e : NULL;
	e->rel = NULL;
	catalog_scan_begin(&cs, IndexRelationId, IndexRelidIndexId, Anum_pg_index_indexrelid, &indexrelid, 1);
	if ((tup = catalog_scan_next(&cs)) != NULL && (rel = scope_rel(indexrelid)) != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(sc));

		scope_index_fill(e, tup, RelationGetDescr(cs.rel), rel);
		MemoryContextSwitchTo(old);
	}
	catalog_scan_end(&cs);
	return e->rel ? e : NULL;
}

/* A comment, read from pg_description as it was at the snapshot. */
typedef struct CommentKey
{
	Oid			classoid;
	Oid			objoid;
	int32		subid;
} CommentKey;

typedef struct CommentEntry
{
	CommentKey	key;
	char	   *text;
} CommentEntry;

/*
 * The comment on an object, or NULL: a whole snapshot reads pg_description
 * once (the comments on relations, their columns, constraints and
 * triggers); a partial one looks each object up through its index.
 */
static char *
object_comment(Oid classoid, Oid objoid, int32 subid)
{
	SnapshotScope *sc = snapshot_scope;
	CommentKey	key;
	CommentEntry *e;

	if (sc->partial)
	{
		Relation	rel = table_open(DescriptionRelationId, AccessShareLock);
		ScanKeyData skey[3];
		SysScanDesc scan;
		HeapTuple	tup;
		char	   *comment = NULL;

		ScanKeyInit(&skey[0], Anum_pg_description_objoid, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(objoid));
		ScanKeyInit(&skey[1], Anum_pg_description_classoid, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(classoid));
		ScanKeyInit(&skey[2], Anum_pg_description_objsubid, BTEqualStrategyNumber, F_INT4EQ,
					Int32GetDatum(subid));
		scan = systable_beginscan(rel, DescriptionObjIndexId, true, GetActiveSnapshot(), 3, skey);
		if (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			bool		isnull;
			Datum		d = heap_getattr(tup, Anum_pg_description_description, RelationGetDescr(rel), &isnull);

			if (!isnull)
				comment = TextDatumGetCString(d);
		}
		systable_endscan(scan);
		table_close(rel, AccessShareLock);
		return comment;
	}
	if (sc->comments == NULL)
	{
		HASHCTL		ctl;
		CatalogScan cs;
		HeapTuple	tup;
		MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(sc));

		ctl.keysize = sizeof(CommentKey);
		ctl.entrysize = sizeof(CommentEntry);
		ctl.hcxt = CurrentMemoryContext;
		sc->comments = hash_create("migrate snapshot comments", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		catalog_scan_begin(&cs, DescriptionRelationId, InvalidOid, InvalidAttrNumber, NULL, 0);
		while ((tup = catalog_scan_next(&cs)) != NULL)
		{
			Form_pg_description d = (Form_pg_description) GETSTRUCT(tup);
			bool		isnull;
			Datum		value;

			if (d->classoid != RelationRelationId && d->classoid != ConstraintRelationId &&
				d->classoid != TriggerRelationId && d->classoid != PolicyRelationId)
				continue;
			if (d->classoid == RelationRelationId && scope_rel(d->objoid) == NULL)
				continue;
			value = heap_getattr(tup, Anum_pg_description_description, RelationGetDescr(cs.rel), &isnull);
			if (isnull)
				continue;
			memset(&key, 0, sizeof(key));
			key.classoid = d->classoid;
			key.objoid = d->objoid;
			key.subid = d->objsubid;
			e = hash_search(sc->comments, &key, HASH_ENTER, NULL);
			e->text = TextDatumGetCString(value);
		}
		catalog_scan_end(&cs);
		MemoryContextSwitchTo(old);
	}
	memset(&key, 0, sizeof(key));
	key.classoid = classoid;
	key.objoid = objoid;
	key.subid = subid;
	e = hash_search(sc->comments, &key, HASH_FIND, NULL);
	return e ? e->text : NULL;
}

/* Push key "comment": the comment on an object (nothing when it has none). */
static void
push_comment(JsonbParseState **state, Oid classoid, Oid objoid, int32 subid)
{
	char	   *comment = object_comment(classoid, objoid, subid);

	if (comment != NULL)
		push_string_member(state, "comment", comment);
}

/* The name of a role as pg_get_userbyid() gives it. */
static char *
role_name(Oid roleid)
{
	char	   *name = GetUserNameFromId(roleid, true);

	return name ? name : psprintf("unknown (OID=%u)", roleid);
}

/* The privilege names of aclexplode(), by bit. */
static const char *
privilege_name(AclMode bit)
{
	switch (bit)
	{
		case ACL_INSERT:
			return "INSERT";
		case ACL_SELECT:
			return "SELECT";
		case ACL_UPDATE:
			return "UPDATE";
		case ACL_DELETE:
			return "DELETE";
		case ACL_TRUNCATE:
			return "TRUNCATE";
		case ACL_REFERENCES:
			return "REFERENCES";
		case ACL_TRIGGER:
			return "TRIGGER";
		case ACL_EXECUTE:
			return "EXECUTE";
		case ACL_USAGE:
			return "USAGE";
		case ACL_CREATE:
			return "CREATE";
		case ACL_CREATE_TEMP:
			return "TEMPORARY";
		case ACL_CONNECT:
			return "CONNECT";
#if PG_VERSION_NUM >= 150000
		case ACL_SET:
			return "SET";
		case ACL_ALTER_SYSTEM:
			return "ALTER SYSTEM";
#endif
		default:
			return "UNKNOWN";
	}
}

/* qsort comparator of C strings, by their bytes (the C collation). */
static int
cmp_cstring(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * Push an ACL as the privileges of the queries' column kind do: the sorted
 * "grantee:PRIVILEGE" strings of aclexplode() ("*": grantable); nothing
 * when it has no entries.
 */
static void
push_acl(JsonbParseState **state, const char *key, Acl *acl)
{
	/* ACL_DAT, without its signed/unsigned mix (an ACL has no NULLs) */
	AclItem    *items = (AclItem *) ((char *) acl + ARR_OVERHEAD_NONULLS(ARR_NDIM(acl)));
	int			nitems = ACL_NUM(acl);
	char	  **strs;
	int			n = 0;

	if (nitems == 0)
		return;
	strs = palloc(sizeof(char *) * nitems * N_ACL_RIGHTS);
	for (int i = 0; i < nitems; i++)
	{
		AclMode		privs = ACLITEM_GET_PRIVS(items[i]);
		AclMode		goptions = ACLITEM_GET_GOPTIONS(items[i]);
		char	   *grantee = items[i].ai_grantee == ACL_ID_PUBLIC ? "PUBLIC" : role_name(items[i].ai_grantee);

		for (int b = 0; b < N_ACL_RIGHTS; b++)
		{
			AclMode		bit = ((AclMode) 1) << b;

			if (privs & bit)
				strs[n++] = psprintf("%s:%s%s", grantee, privilege_name(bit), (goptions & bit) ? "*" : "");
		}
	}
	if (n == 0)
		return;
	qsort(strs, n, sizeof(char *), cmp_cstring);
	push_key(state, key);
	(void) pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < n; i++)
	{
		JsonbValue	v;

		v.type = jbvString;
		v.val.string.val = strs[i];
		v.val.string.len = strlen(strs[i]);
		(void) pushJsonbValue(state, WJB_ELEM, &v);
	}
	(void) pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

/* A text column of a catalog row about a table in scope or one of its columns. */
typedef struct TableText
{
	AttrKey		key;			/* relation, column number (or sub-id) */
	Datum		text;			/* detoasted copy */
} TableText;

/*
 * The non-null values of a text column (valatt) of a catalog whose rows
 * are about relations (relatt) and their columns (subatt), for the tables
 * in scope, by (relation, sub-id): the whole catalog, or through its index
 * (relatt its first column) for the relations of a partial snapshot.
 */
static HTAB *
table_texts(Oid catalog, Oid index, AttrNumber relatt, AttrNumber subatt, AttrNumber valatt,
			const Oid *relids, int nrelids)
{
	HASHCTL		ctl;
	HTAB	   *texts;
	CatalogScan cs;
	HeapTuple	tup;

	ctl.keysize = sizeof(AttrKey);
	ctl.entrysize = sizeof(TableText);
	ctl.hcxt = CurrentMemoryContext;
	texts = hash_create("migrate snapshot texts", 1024, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	catalog_scan_begin(&cs, catalog, index, relatt, relids, nrelids);
	while ((tup = catalog_scan_next(&cs)) != NULL)
	{
		TupleDesc	desc = RelationGetDescr(cs.rel);
		bool		isnull;
		Oid			relid = DatumGetObjectId(heap_getattr(tup, relatt, desc, &isnull));
		AttrKey		key;
		TableText  *e;
		Datum		value;

		if (scope_table(relid) == NULL)
			continue;
		value = heap_getattr(tup, valatt, desc, &isnull);
		if (isnull)
			continue;
		memset(&key, 0, sizeof(key));
		key.relid = relid;
		key.attnum = (TupleDescAttr(desc, subatt - 1)->atttypid == INT2OID) ?
			DatumGetInt16(heap_getattr(tup, subatt, desc, &isnull)) :
			DatumGetInt32(heap_getattr(tup, subatt, desc, &isnull));
		e = hash_search(texts, &key, HASH_ENTER, NULL);
		e->text = PointerGetDatum(PG_DETOAST_DATUM_COPY(value));
	}
	catalog_scan_end(&cs);
	return texts;
}

/* The value table_texts read for a relation and sub-id, or NULL. */
static TableText *
table_text(HTAB *texts, Oid relid, int32 subid)
{
	AttrKey		key;

	memset(&key, 0, sizeof(key));
	key.relid = relid;
	key.attnum = subid;
	return hash_search(texts, &key, HASH_FIND, NULL);
}

/* A column of a table in scope, as read_columns collects it. */
typedef struct NativeColumn
{
	char	   *identity;
	const char *parent;
	Oid			relid;
	AttrNumber	attnum;
	Oid			typid;
	int32		typmod;
	Oid			collation;
	bool		notnull;
	char		identity_kind;
	char		generated;
	Acl		   *acl;			/* NULL: none */
	int			position;
} NativeColumn;

/* qsort comparator: by identity, bytewise. */
static int
cmp_column_identity(const void *a, const void *b)
{
	return strcmp(((const NativeColumn *) a)->identity, ((const NativeColumn *) b)->identity);
}

/* A type's name as format_type(type, typmod) writes it, and its collation (remembered). */
typedef struct TypeNameKey
{
	Oid			typid;
	int32		typmod;
} TypeNameKey;

typedef struct TypeNameEntry
{
	TypeNameKey key;
	char	   *name;
	Oid			collation;
} TypeNameEntry;

/*
 * Native reader of the column kind: the columns of the tables in scope,
 * with the keys of their definitions (type, collation when not the type's,
 * not_null, default or generated, identity, position among the columns not
 * dropped, comment, privileges).
 */
static int
read_columns(JsonbParseState **state, ArrayType *schemas, ArrayType *relid_array)
{
	SnapshotScope *sc = scope_get(schemas, relid_array);
	HTAB	   *defaults;
	HTAB	   *types;
	HASHCTL		ctl;
	CatalogScan cs;
	HeapTuple	tup;
	NativeColumn *cols;
	int			ncols = 0;
	int			maxcols = 1024;
	MemoryContext cxt = CurrentMemoryContext;

	/* the default and generation expressions */
	defaults = table_texts(AttrDefaultRelationId, AttrDefaultIndexId, Anum_pg_attrdef_adrelid,
						   Anum_pg_attrdef_adnum, Anum_pg_attrdef_adbin, sc->relids, sc->nrelids);
	if (!sc->partial)
	{
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(Oid);
		ctl.hcxt = CurrentMemoryContext;
		sc->attoptions = hash_create("migrate snapshot column options", 64, &ctl,
									 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	/* the columns */
	cols = palloc(sizeof(NativeColumn) * maxcols);
	catalog_scan_begin(&cs, AttributeRelationId, AttributeRelidNumIndexId, Anum_pg_attribute_attrelid,
					   sc->relids, sc->nrelids);
	while ((tup = catalog_scan_next(&cs)) != NULL)
	{
		Form_pg_attribute a = (Form_pg_attribute) GETSTRUCT(tup);
		ScopeRel   *t;
		NativeColumn *c;
		bool		isnull;
		Datum		acl;

		/* the relations with column options (the index definitions' concern) */
		if (sc->attoptions != NULL && !heap_attisnull(tup, Anum_pg_attribute_attoptions, RelationGetDescr(cs.rel)))
			(void) hash_search(sc->attoptions, &a->attrelid, HASH_ENTER, NULL);
		if (a->attnum <= 0 || a->attisdropped || (t = scope_table(a->attrelid)) == NULL)
			continue;
		if (ncols == maxcols)
		{
			maxcols *= 2;
			cols = repalloc(cols, sizeof(NativeColumn) * maxcols);
		}
		c = &cols[ncols++];
		/* kept with its table, for the definitions of the other kinds */
		if (a->attnum > t->ncols)
		{
			int			n = Max(a->attnum, 2 * t->ncols);

			t->cols = t->cols == NULL ? MemoryContextAllocZero(cxt, sizeof(ColumnInfo) * n) :
				repalloc(t->cols, sizeof(ColumnInfo) * n);
			memset(t->cols + t->ncols, 0, sizeof(ColumnInfo) * (n - t->ncols));
			t->ncols = n;
		}
		t->cols[a->attnum - 1].name = pstrdup(NameStr(a->attname));
		t->cols[a->attnum - 1].typid = a->atttypid;
		t->cols[a->attnum - 1].collation = a->attcollation;
		c->identity = join_names(t->qualified, quote_identifier(NameStr(a->attname)));
		c->parent = t->qualified;
		c->relid = a->attrelid;
		c->attnum = a->attnum;
		c->typid = a->atttypid;
		c->typmod = a->atttypmod;
		c->collation = a->attcollation;
		c->notnull = a->attnotnull;
		c->identity_kind = a->attidentity;
		c->generated = a->attgenerated;
		acl = heap_getattr(tup, Anum_pg_attribute_attacl, RelationGetDescr(cs.rel), &isnull);
		c->acl = isnull ? NULL : DatumGetAclPCopy(acl);
	}
	catalog_scan_end(&cs);

	/*
	 * positions among the columns not dropped (from the table's columns by
	 * number, as the scan kept them), then the order of the snapshot
	 */
	for (int i = 0; i < ncols; i++)
	{
		ScopeRel   *t = scope_rel(cols[i].relid);

		if (t->positions == NULL)
		{
			int			p = 0;

			t->positions = palloc(sizeof(int16) * t->ncols);
			for (int a = 0; a < t->ncols; a++)
				t->positions[a] = t->cols[a].name ? ++p : 0;
		}
		cols[i].position = t->positions[cols[i].attnum - 1];
	}
	qsort(cols, ncols, sizeof(NativeColumn), cmp_column_identity);

	ctl.keysize = sizeof(TypeNameKey);
	ctl.entrysize = sizeof(TypeNameEntry);
	ctl.hcxt = cxt;
	types = hash_create("migrate snapshot type names", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (int i = 0; i < ncols; i++)
	{
		NativeColumn *c = &cols[i];
		TypeNameKey tkey;
		TypeNameEntry *type;
		bool		found;
		TableText  *def;
		JsonbValue *definition;

		memset(&tkey, 0, sizeof(tkey));
		tkey.typid = c->typid;
		tkey.typmod = c->typmod;
		type = hash_search(types, &tkey, HASH_ENTER, &found);
		if (!found)
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			type->name = NULL;
			type->collation = get_typcollation(c->typid);
			type->name = format_type_extended(c->typid, c->typmod,
											  FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_ALLOW_INVALID);
			MemoryContextSwitchTo(old);
		}
		begin_object(state);
		(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
		push_string_member(state, "type", type->name);
		if (c->collation != type->collation)
		{
			HeapTuple	colltup = SearchSysCache1(COLLOID, ObjectIdGetDatum(c->collation));

			if (HeapTupleIsValid(colltup))
			{
				Form_pg_collation coll = (Form_pg_collation) GETSTRUCT(colltup);
				char	   *nspname = get_namespace_name(coll->collnamespace);

				if (nspname != NULL)
				{
					push_string_member(state, "collation", quote_qualified_identifier(nspname, NameStr(coll->collname)));
				}
				ReleaseSysCache(colltup);
			}
		}
		push_bool_member(state, "not_null", c->notnull);
		def = table_text(defaults, c->relid, c->attnum);
		if (def != NULL && (c->generated == '\0' || c->generated == ATTRIBUTE_GENERATED_STORED))
			push_expr(state, c->generated == '\0' ? "default" : "generated", def->text, false, c->relid);
		if (c->identity_kind == ATTRIBUTE_IDENTITY_ALWAYS || c->identity_kind == ATTRIBUTE_IDENTITY_BY_DEFAULT)
		{
			push_string_member(state, "identity", c->identity_kind == ATTRIBUTE_IDENTITY_ALWAYS ? "always" : "by default");
		}
		push_key(state, "position");
		push_int(state, c->position);
		push_comment(state, RelationRelationId, c->relid, c->attnum);
		if (c->acl != NULL)
			push_acl(state, "privileges", c->acl);
		definition = pushJsonbValue(state, WJB_END_OBJECT, NULL);
		finish_object(state, "column", c->identity, c->parent, definition);
	}
	return ncols;
}

/* An index as its definition needs it (read_indexes). */
typedef struct IndexRow
{
	char	   *identity;		/* schema.index */
	char	   *parent;			/* schema.table */
	ScopeIndex *index;
} IndexRow;

/* The name of an access method, quoted (remembered). */
static const char *
am_name(Oid am)
{
	static Oid	last_am = InvalidOid;
	static char last_name[NAMEDATALEN * 2 + 3];

	if (am != last_am)
	{
		char	   *name = get_am_name(am);

		if (name == NULL)
			elog(ERROR, "cache lookup failed for access method %u", am);
		strlcpy(last_name, quote_identifier(name), sizeof(last_name));
		last_am = am;
	}
	return last_name;
}

/*
 * Whether pg_get_indexdef() itself must write an index's definition: it
 * has expressions, storage options or column options (operator class
 * parameters).
 */
static bool
index_needs_server(HeapTuple tup, TupleDesc desc, ScopeRel *index)
{
	SnapshotScope *sc = snapshot_scope;
	Oid			indexrelid = ((Form_pg_index) GETSTRUCT(tup))->indexrelid;
	bool		found = false;

	if (!heap_attisnull(tup, Anum_pg_index_indexprs, desc) || index->has_options)
		return true;
	if (sc->attoptions != NULL)
		return hash_search(sc->attoptions, &indexrelid, HASH_FIND, NULL) != NULL;
	/* a partial snapshot: the index's columns, through pg_attribute's index */
	{
		CatalogScan cs;
		HeapTuple	tup;

		catalog_scan_begin(&cs, AttributeRelationId, AttributeRelidNumIndexId, Anum_pg_attribute_attrelid,
						   &indexrelid, 1);
		while (!found && (tup = catalog_scan_next(&cs)) != NULL)
			found = !heap_attisnull(tup, Anum_pg_attribute_attoptions, RelationGetDescr(cs.rel));
		catalog_scan_end(&cs);
	}
	return found;
}

/* The "definition" of an index, as pg_get_indexdef() writes it. */
static char *
index_definition(HeapTuple tup, TupleDesc desc, ScopeRel *index, ScopeRel *table)
{
	Form_pg_index x = (Form_pg_index) GETSTRUCT(tup);
	Oid			am = index->relam;
	int			nkeyatts = x->indnkeyatts;
	int			natts = x->indnatts;
	bool		isnull;
	oidvector  *opclasses;
	oidvector  *collations;
	int2vector *options;
	Datum		pred;
	StringInfoData buf;
	bool		canorder;
	const char *sep = "";

	if (index_needs_server(tup, desc, index))
		return server_text(pg_get_indexdef, x->indexrelid, "index");
	opclasses = (oidvector *) DatumGetPointer(heap_getattr(tup, Anum_pg_index_indclass, desc, &isnull));
	collations = (oidvector *) DatumGetPointer(heap_getattr(tup, Anum_pg_index_indcollation, desc, &isnull));
	options = (int2vector *) DatumGetPointer(heap_getattr(tup, Anum_pg_index_indoption, desc, &isnull));
	if (nkeyatts > natts || x->indkey.dim1 < natts || opclasses->dim1 < nkeyatts ||
		collations->dim1 < nkeyatts || options->dim1 < nkeyatts)
		elog(ERROR, "malformed pg_index row for index %u", x->indexrelid);
	canorder = am_can_order(am);

	initStringInfo(&buf);
	appendStringInfo(&buf, "CREATE %sINDEX %s ON %s%s USING %s (",
					 x->indisunique ? "UNIQUE " : "", index->name,
					 index->relkind == RELKIND_PARTITIONED_INDEX ? "ONLY " : "",
					 table->qualified, am_name(am));
	for (int keyno = 0; keyno < natts; keyno++)
	{
		const char *attname;
		Oid			atttypid;
		Oid			attcollation;

		if (keyno == nkeyatts)
		{
			appendStringInfoString(&buf, ") INCLUDE (");
			sep = "";
		}
		appendStringInfoString(&buf, sep);
		sep = ", ";
		if (!column_info(x->indrelid, x->indkey.values[keyno], &attname, &atttypid, &attcollation))
			elog(ERROR, "cache lookup failed for attribute %d of relation %u",
				 x->indkey.values[keyno], x->indrelid);
		appendStringInfoString(&buf, quote_identifier(attname));
		if (keyno < nkeyatts)
		{
			int16		opt = options->values[keyno];
			Oid			coll = collations->values[keyno];

			if (OidIsValid(coll) && coll != attcollation)
				appendStringInfo(&buf, " COLLATE %s", generate_collation_name(coll));
			append_opclass(&buf, opclasses->values[keyno], atttypid, am);
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
	}
	appendStringInfoChar(&buf, ')');
#if PG_VERSION_NUM >= 150000
	if (x->indnullsnotdistinct)
		appendStringInfoString(&buf, " NULLS NOT DISTINCT");
#endif
	pred = heap_getattr(tup, Anum_pg_index_indpred, desc, &isnull);
	if (!isnull)
	{
		char	   *text = expr_text(pred, x->indrelid);

		if (text == NULL)
			elog(ERROR, "cache lookup failed for relation %u", x->indrelid);	/* dropped meanwhile */
		appendStringInfo(&buf, " WHERE %s", text);
	}
	return text_of(&buf);
}

/* qsort comparator of rows whose first member is their identity, bytewise. */
static int
cmp_row_identity(const void *a, const void *b)
{
	return strcmp(**(char *const *const *) a, **(char *const *const *) b);
}

/* The rows a native reader collects, to write them in the order of their identities. */
typedef struct RowList
{
	void	  **rows;			/* each row's first member: its identity (char *) */
	int			count;
	int			max;
} RowList;

/* Start a list of rows. */
static void
rowlist_init(RowList *list)
{
	list->max = 256;
	list->count = 0;
	list->rows = palloc(sizeof(void *) * list->max);
}

/* A new row (zeroed) of the size given, added to the list. */
static void *
rowlist_add(RowList *list, size_t size)
{
	if (list->count == list->max)
	{
		list->max *= 2;
		list->rows = repalloc(list->rows, sizeof(void *) * list->max);
	}
	return list->rows[list->count++] = palloc0(size);
}

/* Sort the rows by identity, bytewise (the C collation). */
static void
rowlist_sort(RowList *list)
{
	qsort(list->rows, list->count, sizeof(void *), cmp_row_identity);
}

/* Takes a catalog row about a table in scope into rows (or leaves it out). */
typedef void (*TableRowCollector) (RowList *rows, HeapTuple tup, TupleDesc desc, ScopeRel *table);

/*
 * The rows of a catalog about relations (relatt: their OID, the first
 * column of index), sorted by identity: each row about a relation in scope
 * that is not a member of an extension is given to collect.  A whole
 * snapshot reads the catalog once; a partial one through the index.
 * Returns the catalog's tuple descriptor.
 */
static TupleDesc
collect_table_rows(RowList *rows, Oid catalog, Oid index, AttrNumber relatt, TableRowCollector collect)
{
	SnapshotScope *sc = snapshot_scope;
	CatalogScan cs;
	HeapTuple	tup;
	TupleDesc	desc;

	rowlist_init(rows);
	catalog_scan_begin(&cs, catalog, index, relatt, sc->relids, sc->nrelids);
	desc = CreateTupleDescCopy(RelationGetDescr(cs.rel));
	while ((tup = catalog_scan_next(&cs)) != NULL)
	{
		bool		isnull;
		ScopeRel   *table = scope_rel(DatumGetObjectId(heap_getattr(tup, relatt, desc, &isnull)));

		if (table != NULL && !table->ext_member)
			collect(rows, tup, desc, table);
	}
	catalog_scan_end(&cs);
	rowlist_sort(rows);
	return desc;
}

/* Add an index to the rows of read_indexes, when the snapshot describes it. */
static void
add_index_row(RowList *rows, ScopeIndex *index)
{
	IndexRow   *row;

	/* not the partitions of partitioned indexes, nor the indexes of extensions' tables */
	if (index == NULL || index->definition == NULL)
		return;
	row = rowlist_add(rows, sizeof(IndexRow));
	row->identity = index->rel->qualified;
	/* the index's schema: an index is always in its table's */
	row->parent = join_names(index->rel->schema, index->table->name);
	row->index = index;
}

/*
 * Native reader of the index kind: the indexes (not partitions of
 * partitioned indexes) in the schemas in scope whose table is not a member
 * of an extension; valid, clustered, comment and definition.
 */
static int
read_indexes(JsonbParseState **state, ArrayType *schemas, ArrayType *relid_array)
{
	SnapshotScope *sc = scope_get(schemas, relid_array);
	RowList		rows;
	HTAB	   *seen = NULL;

	rowlist_init(&rows);
	if (!sc->partial)
	{
		/* every index in scope */
		HASH_SEQ_STATUS seq;
		ScopeIndex *e;

		hash_seq_init(&seq, scope_indexes());
		while ((e = hash_seq_search(&seq)) != NULL)
			add_index_row(&rows, e);
	}
	else
	{
		/* the indexes of its relations, and its indexes */
		CatalogScan cs;
		HeapTuple	tup;
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(Oid);
		ctl.hcxt = CurrentMemoryContext;
		seen = hash_create("migrate snapshot indexes", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		catalog_scan_begin(&cs, IndexRelationId, IndexIndrelidIndexId, Anum_pg_index_indrelid,
						   sc->relids, sc->nrelids);
		while ((tup = catalog_scan_next(&cs)) != NULL)
			(void) hash_search(seen, &((Form_pg_index) GETSTRUCT(tup))->indexrelid, HASH_ENTER, NULL);
		catalog_scan_end(&cs);
		for (int i = 0; i < sc->nrelids; i++)
			(void) hash_search(seen, &sc->relids[i], HASH_ENTER, NULL);
		{
			HASH_SEQ_STATUS seq;
			Oid		   *indexrelid;

			hash_seq_init(&seq, seen);
			while ((indexrelid = hash_seq_search(&seq)) != NULL)
				add_index_row(&rows, scope_index(*indexrelid));
		}
	}
	rowlist_sort(&rows);

	for (int i = 0; i < rows.count; i++)
	{
		IndexRow   *row = rows.rows[i];
		ScopeIndex *index = row->index;
		JsonbValue *definition;

		begin_object(state);
		(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
		push_bool_member(state, "valid", index->valid);
		push_bool_member(state, "clustered", index->clustered);
		push_comment(state, RelationRelationId, index->indexrelid, 0);
		push_string_member(state, "definition", index->definition);
		definition = pushJsonbValue(state, WJB_END_OBJECT, NULL);
		finish_object(state, "index", row->identity, row->parent, definition);
	}
	return rows.count;
}

/* A constraint of a table in scope (read_constraints). */
typedef struct ConstraintRow
{
	char	   *identity;		/* schema.table.constraint */
	ScopeRel   *table;
	char	   *definition;		/* written as it was read (no copy of the row kept) */
	Oid			oid;
	char		contype;
	bool		validated;
	bool		deferrable;
	bool		deferred;
	bool		noinherit;
} ConstraintRow;

/*
 * The "definition" of a constraint: the text of pg_get_constraintdef()
 * without the DEFERRABLE, INITIALLY and NOT VALID clauses (attributes of
 * their own).  Primary keys, unique constraints, foreign keys and checks
 * are written here (a check's expression through the shared renderings);
 * the other types, and temporal keys (PERIOD, WITHOUT OVERLAPS:
 * PostgreSQL 17), are left to the server.
 */
static char *
constraint_definition(HeapTuple tup, TupleDesc desc)
{
	Form_pg_constraint k = (Form_pg_constraint) GETSTRUCT(tup);
	char		contype = k->contype;
	Oid			relid = k->conrelid;
	StringInfoData buf;
	bool		isnull;
	Datum		d;

#if PG_VERSION_NUM >= 170000
	if (k->conperiod)
		contype = '\0';
#endif
	initStringInfo(&buf);
	switch (contype)
	{
		case CONSTRAINT_PRIMARY:
		case CONSTRAINT_UNIQUE:
			{
				Datum		conkey = heap_getattr(tup, Anum_pg_constraint_conkey, desc, &isnull);
				int			nkeys;
				ScopeIndex *index = scope_index(k->conindid);

				if (isnull)
					elog(ERROR, "null conkey for constraint %u", k->oid);
				nkeys = array_length_of(conkey);
				appendStringInfoString(&buf, contype == CONSTRAINT_PRIMARY ? "PRIMARY KEY " : "UNIQUE ");
				if (contype == CONSTRAINT_UNIQUE && index != NULL && index->nulls_not_distinct)
					appendStringInfoString(&buf, "NULLS NOT DISTINCT ");
				appendStringInfoChar(&buf, '(');
				append_column_list(&buf, conkey, relid, 0);
				appendStringInfoChar(&buf, ')');
				if (index != NULL && index->natts > nkeys)
				{
					appendStringInfoString(&buf, " INCLUDE (");
					for (int i = nkeys; i < index->natts; i++)
					{
						if (i > nkeys)
							appendStringInfoString(&buf, ", ");
						appendStringInfoString(&buf, quote_identifier(column_name(relid, index->keys[i])));
					}
					appendStringInfoChar(&buf, ')');
				}
				break;
			}
		case CONSTRAINT_FOREIGN:
			{
				Oid			frelid = k->confrelid;
				const char *action;
				ScopeRel   *ftable = scope_rel(frelid);

				appendStringInfoString(&buf, "FOREIGN KEY (");
				d = heap_getattr(tup, Anum_pg_constraint_conkey, desc, &isnull);
				if (isnull)
					elog(ERROR, "null conkey for constraint %u", k->oid);
				append_column_list(&buf, d, relid, 0);
				if (ftable != NULL)
				{
					/* in a user schema: never visible with search_path pinned */
					appendStringInfo(&buf, ") REFERENCES %s(", ftable->qualified);
				}
				else
				{
					char	   *relname = get_rel_name(frelid);

					if (relname == NULL)
						elog(ERROR, "cache lookup failed for relation %u", frelid);
					/* qualified unless visible, as ruleutils' generate_relation_name */
					appendStringInfo(&buf, ") REFERENCES %s(",
									 RelationIsVisible(frelid) ? quote_identifier(relname) :
									 quote_qualified_identifier(get_namespace_name_or_temp(get_rel_namespace(frelid)),
																relname));
				}
				d = heap_getattr(tup, Anum_pg_constraint_confkey, desc, &isnull);
				if (isnull)
					elog(ERROR, "null confkey for constraint %u", k->oid);
				append_column_list(&buf, d, frelid, 0);
				appendStringInfoChar(&buf, ')');
				if (k->confmatchtype == FKCONSTR_MATCH_FULL)
					appendStringInfoString(&buf, " MATCH FULL");
				else if (k->confmatchtype == FKCONSTR_MATCH_PARTIAL)
					appendStringInfoString(&buf, " MATCH PARTIAL");
				if ((action = fk_action(k->confupdtype)) != NULL)
					appendStringInfo(&buf, " ON UPDATE %s", action);
				if ((action = fk_action(k->confdeltype)) != NULL)
					appendStringInfo(&buf, " ON DELETE %s", action);
#if PG_VERSION_NUM >= 150000
				d = heap_getattr(tup, Anum_pg_constraint_confdelsetcols, desc, &isnull);
				if (!isnull)
				{
					appendStringInfoString(&buf, " (");
					append_column_list(&buf, d, relid, 0);
					appendStringInfoChar(&buf, ')');
				}
#endif
				break;
			}
		case CONSTRAINT_CHECK:
			{
				char	   *text;

				d = heap_getattr(tup, Anum_pg_constraint_conbin, desc, &isnull);
				if (isnull || (text = expr_text(d, relid)) == NULL)
					elog(ERROR, "cache lookup failed for relation %u", relid);	/* dropped meanwhile */
				appendStringInfo(&buf, "CHECK (%s)%s", text, k->connoinherit ? " NO INHERIT" : "");
				break;
			}
		default:
			{
				static const char *const suffixes[] = {
					" DEFERRABLE", " NOT DEFERRABLE", " INITIALLY DEFERRED", " INITIALLY IMMEDIATE", " NOT VALID"
				};
				char	   *def = server_text(pg_get_constraintdef, k->oid, "constraint");
				size_t		len = strlen(def);
				bool		cut = true;

				/* without the clauses that are attributes of their own */
				while (cut)
				{
					cut = false;
					for (size_t i = 0; i < lengthof(suffixes); i++)
					{
						size_t		slen = strlen(suffixes[i]);

						if (len > slen && strcmp(def + len - slen, suffixes[i]) == 0)
						{
							len -= slen;
							def[len] = '\0';
							cut = true;
						}
					}
				}
				appendStringInfoString(&buf, def);
			}
	}
	return text_of(&buf);
}

/* The type of a constraint as the snapshot names it. */
static const char *
constraint_type_name(char contype)
{
	static char other[2];

	switch (contype)
	{
		case CONSTRAINT_CHECK:
			return "check";
		case CONSTRAINT_FOREIGN:
			return "foreign key";
		case CONSTRAINT_PRIMARY:
			return "primary key";
		case CONSTRAINT_UNIQUE:
			return "unique";
		case CONSTRAINT_EXCLUSION:
			return "exclusion";
		case CONSTRAINT_TRIGGER:
			return "constraint trigger";
		default:
			other[0] = contype;
			other[1] = '\0';
			return other;
	}
}

/* Collector of read_constraints: not the clones of a partitioned table's, nor inherited checks. */
static void
collect_constraint(RowList *rows, HeapTuple tup, TupleDesc desc, ScopeRel *table)
{
	Form_pg_constraint k = (Form_pg_constraint) GETSTRUCT(tup);
	ConstraintRow *row;

	if (OidIsValid(k->conparentid) || (!k->conislocal && k->contype == CONSTRAINT_CHECK))
		return;
	row = rowlist_add(rows, sizeof(ConstraintRow));
	row->identity = join_names(table->qualified, quote_identifier(NameStr(k->conname)));
	row->table = table;
	row->definition = constraint_definition(tup, desc);
	row->oid = k->oid;
	row->contype = k->contype;
	row->validated = k->convalidated;
	row->deferrable = k->condeferrable;
	row->deferred = k->condeferred;
	row->noinherit = k->connoinherit;
}

/*
 * Native reader of the constraint kind: the constraints of the relations
 * in scope (not members of extensions) that are not inherited from a
 * partitioned table's, nor inherited checks; type, validated, deferrable,
 * initially deferred, no inherit, comment and definition.
 */
static int
read_constraints(JsonbParseState **state, ArrayType *schemas, ArrayType *relid_array)
{
	RowList		rows;

	(void) scope_get(schemas, relid_array);
	(void) collect_table_rows(&rows, ConstraintRelationId, ConstraintRelidTypidNameIndexId,
							  Anum_pg_constraint_conrelid, collect_constraint);

	for (int i = 0; i < rows.count; i++)
	{
		ConstraintRow *row = rows.rows[i];
		JsonbValue *definition;

		begin_object(state);
		(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
		push_string_member(state, "type", constraint_type_name(row->contype));
		push_bool_member(state, "validated", row->validated);
		push_bool_member(state, "deferrable", row->deferrable);
		push_bool_member(state, "initially_deferred", row->deferred);
		push_bool_member(state, "no_inherit", row->noinherit);
		push_comment(state, ConstraintRelationId, row->oid, 0);
		push_string_member(state, "definition", row->definition);
		definition = pushJsonbValue(state, WJB_END_OBJECT, NULL);
		finish_object(state, "constraint", row->identity, row->table->qualified, definition);
	}
	return rows.count;
}

/* A trigger of a relation in scope (read_triggers). */
typedef struct TriggerRow
{
	char	   *identity;		/* schema.table.trigger */
	HeapTuple	tup;			/* its pg_trigger row (a copy) */
	ScopeRel   *table;
} TriggerRow;

/* The function name of the triggers' EXECUTE FUNCTION clause, by function (this snapshot's). */
typedef struct TriggerFunction
{
	Oid			funcid;			/* key */
	char	   *name;			/* as pg_get_triggerdef writes it */
} TriggerFunction;

static HTAB *trigger_functions = NULL;

/* Append a string literal as ruleutils' simple_quote_literal does. */
static void
append_quoted_literal(StringInfo buf, const char *val)
{
	appendStringInfoChar(buf, '\'');
	for (const char *p = val; *p; p++)
	{
		if (SQL_STR_DOUBLE(*p, !standard_conforming_strings))
			appendStringInfoChar(buf, *p);
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '\'');
}

/*
 * The definition of a trigger, as pg_get_triggerdef() writes it.  A plain
 * trigger (no constraint, transition tables or WHEN condition) is written
 * here: all of it but the function's name, which pg_get_triggerdef gives
 * for the first trigger calling the function (the rest of its text must be
 * what is written here, else the server's text is taken as it is).  The
 * other triggers are left to pg_get_triggerdef.
 */
static char *
trigger_definition(TriggerRow *row, TupleDesc desc)
{
	Form_pg_trigger tg = (Form_pg_trigger) GETSTRUCT(row->tup);
	StringInfoData prefix;
	StringInfoData suffix;
	const char *events[4] = {NULL, NULL, NULL, NULL};
	int			nevents = 0;
	TriggerFunction *fn;
	bool		found;
	char	   *def;
	size_t		deflen;

	if (OidIsValid(tg->tgconstraint) ||
		!heap_attisnull(row->tup, Anum_pg_trigger_tgoldtable, desc) ||
		!heap_attisnull(row->tup, Anum_pg_trigger_tgnewtable, desc) ||
		!heap_attisnull(row->tup, Anum_pg_trigger_tgqual, desc))
		return server_text(pg_get_triggerdef, tg->oid, "trigger");

	initStringInfo(&prefix);
	appendStringInfo(&prefix, "CREATE TRIGGER %s %s", quote_identifier(NameStr(tg->tgname)),
					 TRIGGER_FOR_BEFORE(tg->tgtype) ? "BEFORE" :
					 TRIGGER_FOR_AFTER(tg->tgtype) ? "AFTER" : "INSTEAD OF");
	if (TRIGGER_FOR_INSERT(tg->tgtype))
		events[nevents++] = "INSERT";
	if (TRIGGER_FOR_DELETE(tg->tgtype))
		events[nevents++] = "DELETE";
	if (TRIGGER_FOR_UPDATE(tg->tgtype))
		events[nevents++] = "UPDATE";
	if (TRIGGER_FOR_TRUNCATE(tg->tgtype))
		events[nevents++] = "TRUNCATE";
	for (int i = 0; i < nevents; i++)
	{
		appendStringInfo(&prefix, "%s%s", i > 0 ? " OR " : " ", events[i]);
		/* tgattr is the first variable-width column: in the struct */
		if (strcmp(events[i], "UPDATE") == 0 && tg->tgattr.dim1 > 0)
		{
			appendStringInfoString(&prefix, " OF ");
			for (int a = 0; a < tg->tgattr.dim1; a++)
				appendStringInfo(&prefix, "%s%s", a > 0 ? ", " : "",
								 quote_identifier(column_name(tg->tgrelid, tg->tgattr.values[a])));
		}
	}
	appendStringInfo(&prefix, " ON %s FOR EACH %s EXECUTE FUNCTION ", row->table->qualified,
					 TRIGGER_FOR_ROW(tg->tgtype) ? "ROW" : "STATEMENT");

	initStringInfo(&suffix);
	appendStringInfoChar(&suffix, '(');
	if (tg->tgnargs > 0)
	{
		bool		isnull;
		bytea	   *args = DatumGetByteaPP(heap_getattr(row->tup, Anum_pg_trigger_tgargs, desc, &isnull));
		const char *p = VARDATA_ANY(args);
		const char *end = p + VARSIZE_ANY_EXHDR(args);

		for (int i = 0; i < tg->tgnargs; i++)
		{
			if (p >= end || memchr(p, '\0', end - p) == NULL)
				return server_text(pg_get_triggerdef, tg->oid, "trigger");
			if (i > 0)
				appendStringInfoString(&suffix, ", ");
			append_quoted_literal(&suffix, p);
			p += strlen(p) + 1;
		}
	}
	appendStringInfoChar(&suffix, ')');

	if (trigger_functions == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(TriggerFunction);
		ctl.hcxt = GetMemoryChunkContext(snapshot_scope);
		trigger_functions = hash_create("migrate snapshot trigger functions", 64, &ctl,
										HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	fn = hash_search(trigger_functions, &tg->tgfoid, HASH_ENTER, &found);
	if (found && fn->name != NULL)
	{
		appendStringInfoString(&prefix, fn->name);
		appendBinaryStringInfo(&prefix, suffix.data, suffix.len);
		return prefix.data;
	}
	fn->name = NULL;
	/* the server's text, and from it the function's name */
	def = server_text(pg_get_triggerdef, tg->oid, "trigger");
	deflen = strlen(def);
	if (deflen > (size_t) (prefix.len + suffix.len) &&
		strncmp(def, prefix.data, prefix.len) == 0 &&
		strcmp(def + deflen - suffix.len, suffix.data) == 0)
		fn->name = MemoryContextStrdup(GetMemoryChunkContext(snapshot_scope),
									   pnstrdup(def + prefix.len, deflen - prefix.len - suffix.len));
	else
		(void) hash_search(trigger_functions, &tg->tgfoid, HASH_REMOVE, NULL);
	return def;
}

/* Collector of read_triggers: not internal triggers, nor the clones of a partitioned table's. */
static void
collect_trigger(RowList *rows, HeapTuple tup, TupleDesc desc, ScopeRel *table)
{
	Form_pg_trigger tg = (Form_pg_trigger) GETSTRUCT(tup);
	TriggerRow *row;

	if (tg->tgisinternal || OidIsValid(tg->tgparentid))
		return;
	row = rowlist_add(rows, sizeof(TriggerRow));
	row->identity = join_names(table->qualified, quote_identifier(NameStr(tg->tgname)));
	row->tup = heap_copytuple(tup);
	row->table = table;
}

/*
 * Native reader of the trigger kind: the triggers of the relations in
 * scope (not members of extensions) that are neither internal nor clones
 * of a partitioned table's; definition, enabled state and comment.
 */
static int
read_triggers(JsonbParseState **state, ArrayType *schemas, ArrayType *relid_array)
{
	RowList		rows;
	TupleDesc	desc;

	(void) scope_get(schemas, relid_array);
	trigger_functions = NULL;	/* in the scope's memory: a new one per snapshot */
	desc = collect_table_rows(&rows, TriggerRelationId, TriggerRelidNameIndexId, Anum_pg_trigger_tgrelid,
							  collect_trigger);

	for (int i = 0; i < rows.count; i++)
	{
		TriggerRow *row = rows.rows[i];
		Form_pg_trigger tg = (Form_pg_trigger) GETSTRUCT(row->tup);
		const char *enabled = NULL;
		JsonbValue *definition;

		switch (tg->tgenabled)
		{
			case TRIGGER_FIRES_ON_ORIGIN:
				enabled = "origin";
				break;
			case TRIGGER_DISABLED:
				enabled = "disabled";
				break;
			case TRIGGER_FIRES_ON_REPLICA:
				enabled = "replica";
				break;
			case TRIGGER_FIRES_ALWAYS:
				enabled = "always";
				break;
		}
		begin_object(state);
		(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
		push_string_member(state, "definition", trigger_definition(row, desc));
		if (enabled != NULL)
		{
			push_string_member(state, "enabled", enabled);
		}
		push_comment(state, TriggerRelationId, tg->oid, 0);
		definition = pushJsonbValue(state, WJB_END_OBJECT, NULL);
		finish_object(state, "trigger", row->identity, row->table->qualified, definition);
	}
	return rows.count;
}

/* The name of a relation as format('%I.%I') writes it, in scope or not (NULL: none). */
static char *
relation_qualified_name(Oid relid)
{
	ScopeRel   *r = scope_rel(relid);
	char	   *relname;
	char	   *nspname;

	if (r != NULL)
		return r->qualified;
	if ((relname = get_rel_name(relid)) == NULL ||
		(nspname = get_namespace_name(get_rel_namespace(relid))) == NULL)
		return NULL;
	return quote_qualified_identifier(nspname, relname);
}

/* A table in scope (read_tables). */
typedef struct TableRow
{
	char	   *identity;		/* schema.table */
	HeapTuple	tup;			/* its pg_class row (a copy) */
} TableRow;

/* Push key: a text[] column's elements sorted bytewise, as a JSON array (nothing when NULL). */
static void
push_sorted_text_array(JsonbParseState **state, const char *key, Datum array, bool isnull)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	char	  **strs;
	int			nstrs = 0;

	if (isnull)
		return;
	deconstruct_array(DatumGetArrayTypeP(array), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	strs = palloc(sizeof(char *) * (n + 1));
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			strs[nstrs++] = TextDatumGetCString(elems[i]);
	if (nstrs == 0)
		return;
	qsort(strs, nstrs, sizeof(char *), cmp_cstring);
	push_key(state, key);
	(void) pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < nstrs; i++)
	{
		JsonbValue	v;

		v.type = jbvString;
		v.val.string.val = strs[i];
		v.val.string.len = strlen(strs[i]);
		(void) pushJsonbValue(state, WJB_ELEM, &v);
	}
	(void) pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

/*
 * Push key "inherits" (the parents of a table, in order) or "partition_of"
 * (the parent of a partition), from pg_inherits through its index.
 */
static void
push_parents(JsonbParseState **state, Oid relid, bool ispartition)
{
	CatalogScan cs;
	HeapTuple	tup;
	bool		any = false;

	catalog_scan_begin(&cs, InheritsRelationId, InheritsRelidSeqnoIndexId, Anum_pg_inherits_inhrelid, &relid, 1);
	while ((tup = catalog_scan_next(&cs)) != NULL)
	{
		char	   *name = relation_qualified_name(((Form_pg_inherits) GETSTRUCT(tup))->inhparent);
		JsonbValue	v;

		if (name == NULL)
			continue;
		if (ispartition)
		{
			push_string_member(state, "partition_of", name);
			break;
		}
		if (!any)
		{
			push_key(state, "inherits");
			(void) pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
			any = true;
		}
		v.type = jbvString;
		v.val.string.val = name;
		v.val.string.len = strlen(name);
		(void) pushJsonbValue(state, WJB_ELEM, &v);
	}
	catalog_scan_end(&cs);
	if (any)
		(void) pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

/* The name of a table's replica identity index, quoted, or NULL. */
static char *
replica_identity_index(Oid relid)
{
	CatalogScan cs;
	HeapTuple	tup;
	char	   *name = NULL;

	catalog_scan_begin(&cs, IndexRelationId, IndexIndrelidIndexId, Anum_pg_index_indrelid, &relid, 1);
	while (name == NULL && (tup = catalog_scan_next(&cs)) != NULL)
	{
		Form_pg_index x = (Form_pg_index) GETSTRUCT(tup);
		char	   *relname;

		if (x->indisreplident && (relname = get_rel_name(x->indexrelid)) != NULL)
			name = pstrdup(quote_identifier(relname));
	}
	catalog_scan_end(&cs);
	return name;
}

/* Add a relation of the scope to the rows of read_tables, when it is a table. */
static void
add_table_row(RowList *rows, ScopeRel *r)
{
	TableRow   *row;

	if (r == NULL || r->tup == NULL || r->ext_member)
		return;
	row = rowlist_add(rows, sizeof(TableRow));
	row->identity = r->qualified;
	row->tup = r->tup;
}

/*
 * Native reader of the table kind: the tables in scope (relkind r, p and
 * f; not members of extensions); kind, persistence, partitioning,
 * inheritance, replica identity, row level security, options, access
 * method, owner, comment and privileges (when not the default).
 */
static int
read_tables(JsonbParseState **state, ArrayType *schemas, ArrayType *relid_array)
{
	SnapshotScope *sc = scope_get(schemas, relid_array);
	RowList		rows;
	HTAB	   *children = NULL;
	CatalogScan cs;
	HeapTuple	tup;
	TupleDesc	desc;

	/* a whole snapshot: the tables that have parents, in one read of pg_inherits */
	if (!sc->partial)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(Oid);
		ctl.hcxt = CurrentMemoryContext;
		children = hash_create("migrate snapshot children", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		catalog_scan_begin(&cs, InheritsRelationId, InvalidOid, InvalidAttrNumber, NULL, 0);
		while ((tup = catalog_scan_next(&cs)) != NULL)
			(void) hash_search(children, &((Form_pg_inherits) GETSTRUCT(tup))->inhrelid, HASH_ENTER, NULL);
		catalog_scan_end(&cs);
	}
	/*
	 * the tables in scope, as the scope's read of pg_class met them: all of
	 * them, or the relations of a partial snapshot
	 */
	rowlist_init(&rows);
	if (!sc->partial)
	{
		scoperels_iterator it;
		ScopeRelSlot *slot;

		scoperels_start_iterate(sc->rels, &it);
		while ((slot = scoperels_iterate(sc->rels, &it)) != NULL)
			add_table_row(&rows, slot->rel);
	}
	else
		for (int i = 0; i < sc->nrelids; i++)
			add_table_row(&rows, scope_rel(sc->relids[i]));
	{
		Relation	rel = table_open(RelationRelationId, AccessShareLock);

		desc = CreateTupleDescCopy(RelationGetDescr(rel));
		table_close(rel, AccessShareLock);
	}
	rowlist_sort(&rows);

	for (int i = 0; i < rows.count; i++)
	{
		TableRow   *row = rows.rows[i];
		Form_pg_class c = (Form_pg_class) GETSTRUCT(row->tup);
		const char *persistence = NULL;
		const char *replident = NULL;
		bool		isnull;
		Datum		d;
		JsonbValue *definition;

		begin_object(state);
		(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
		push_string_member(state, "kind", c->relkind == RELKIND_RELATION ? "table" :
					c->relkind == RELKIND_PARTITIONED_TABLE ? "partitioned table" : "foreign table");
		switch (c->relpersistence)
		{
			case RELPERSISTENCE_PERMANENT:
				persistence = "permanent";
				break;
			case RELPERSISTENCE_UNLOGGED:
				persistence = "unlogged";
				break;
			case RELPERSISTENCE_TEMP:
				persistence = "temporary";
				break;
		}
		if (persistence != NULL)
		{
			push_string_member(state, "persistence", persistence);
		}
		if (c->relkind == RELKIND_PARTITIONED_TABLE)
		{
			push_string_member(state, "partition_key", server_text(pg_get_partkeydef, c->oid, "relation"));
		}
		if (children == NULL || hash_search(children, &c->oid, HASH_FIND, NULL) != NULL)
			push_parents(state, c->oid, c->relispartition);
		if (c->relispartition)
		{
			char	   *bound;

			d = heap_getattr(row->tup, Anum_pg_class_relpartbound, desc, &isnull);
			if (!isnull && (bound = server_expr_text(d, c->oid)) != NULL)
			{
				push_string_member(state, "partition_bound", bound);
			}
		}
		switch (c->relreplident)
		{
			case REPLICA_IDENTITY_DEFAULT:
				replident = "default";
				break;
			case REPLICA_IDENTITY_NOTHING:
				replident = "nothing";
				break;
			case REPLICA_IDENTITY_FULL:
				replident = "full";
				break;
			case REPLICA_IDENTITY_INDEX:
				{
					char	   *index = replica_identity_index(c->oid);

					replident = index ? psprintf("index %s", index) : NULL;
					break;
				}
		}
		if (replident != NULL)
		{
			push_string_member(state, "replica_identity", replident);
		}
		push_bool_member(state, "row_level_security", c->relrowsecurity);
		push_bool_member(state, "force_row_level_security", c->relforcerowsecurity);
		d = heap_getattr(row->tup, Anum_pg_class_reloptions, desc, &isnull);
		push_sorted_text_array(state, "options", d, isnull);
		if (OidIsValid(c->relam))
		{
			char	   *am = get_am_name(c->relam);

			if (am != NULL)
			{
				push_string_member(state, "access_method", am);
			}
		}
		push_string_member(state, "owner", role_name(c->relowner));
		push_comment(state, RelationRelationId, c->oid, 0);
		d = heap_getattr(row->tup, Anum_pg_class_relacl, desc, &isnull);
		if (!isnull && !aclequal(DatumGetAclP(d), acldefault(OBJECT_TABLE, c->relowner)))
			push_acl(state, "privileges", DatumGetAclP(d));
		definition = pushJsonbValue(state, WJB_END_OBJECT, NULL);
		finish_object(state, "table", row->identity, NULL, definition);
	}
	return rows.count;
}

/* A policy of a table in scope (read_policies). */
typedef struct PolicyRow
{
	char	   *identity;		/* policy on schema.table */
	HeapTuple	tup;			/* its pg_policy row (a copy) */
	ScopeRel   *table;
} PolicyRow;

/* Collector of read_policies: every policy. */
static void
collect_policy(RowList *rows, HeapTuple tup, TupleDesc desc, ScopeRel *table)
{
	Form_pg_policy pol = (Form_pg_policy) GETSTRUCT(tup);
	PolicyRow  *row = rowlist_add(rows, sizeof(PolicyRow));

	row->identity = psprintf("%s on %s", quote_identifier(NameStr(pol->polname)), table->qualified);
	row->tup = heap_copytuple(tup);
	row->table = table;
}

/*
 * Native reader of the policy kind: the row level security policies of the
 * tables in scope (not members of extensions); command, permissive, roles
 * (sorted), comment, USING and WITH CHECK.
 */
static int
read_policies(JsonbParseState **state, ArrayType *schemas, ArrayType *relid_array)
{
	RowList		rows;
	TupleDesc	desc;

	(void) scope_get(schemas, relid_array);
	desc = collect_table_rows(&rows, PolicyRelationId, PolicyPolrelidPolnameIndexId, Anum_pg_policy_polrelid,
							  collect_policy);

	for (int i = 0; i < rows.count; i++)
	{
		PolicyRow  *row = rows.rows[i];
		Form_pg_policy pol = (Form_pg_policy) GETSTRUCT(row->tup);
		const char *command;
		bool		isnull;
		Datum		d;
		JsonbValue *definition;

		switch (pol->polcmd)
		{
			case ACL_SELECT_CHR:
				command = "SELECT";
				break;
			case ACL_INSERT_CHR:
				command = "INSERT";
				break;
			case ACL_UPDATE_CHR:
				command = "UPDATE";
				break;
			case ACL_DELETE_CHR:
				command = "DELETE";
				break;
			default:
				command = "ALL";
				break;
		}
		begin_object(state);
		(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
		push_string_member(state, "command", command);
		push_bool_member(state, "permissive", pol->polpermissive);
		d = heap_getattr(row->tup, Anum_pg_policy_polroles, desc, &isnull);
		if (!isnull)
		{
			Datum	   *elems;
			int			n;
			char	  **names;

			deconstruct_array(DatumGetArrayTypeP(d), OIDOID, sizeof(Oid), true, TYPALIGN_INT, &elems, NULL, &n);
			names = palloc(sizeof(char *) * (n + 1));
			for (int r = 0; r < n; r++)
				names[r] = DatumGetObjectId(elems[r]) == ACL_ID_PUBLIC ? "public" :
					role_name(DatumGetObjectId(elems[r]));
			qsort(names, n, sizeof(char *), cmp_cstring);
			if (n > 0)
			{
				push_key(state, "roles");
				(void) pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
				for (int r = 0; r < n; r++)
				{
					JsonbValue	v;

					v.type = jbvString;
					v.val.string.val = names[r];
					v.val.string.len = strlen(names[r]);
					(void) pushJsonbValue(state, WJB_ELEM, &v);
				}
				(void) pushJsonbValue(state, WJB_END_ARRAY, NULL);
			}
		}
		push_comment(state, PolicyRelationId, pol->oid, 0);
		d = heap_getattr(row->tup, Anum_pg_policy_polqual, desc, &isnull);
		push_expr(state, "using", d, isnull, pol->polrelid);
		d = heap_getattr(row->tup, Anum_pg_policy_polwithcheck, desc, &isnull);
		push_expr(state, "with_check", d, isnull, pol->polrelid);
		definition = pushJsonbValue(state, WJB_END_OBJECT, NULL);
		finish_object(state, "policy", row->identity, row->table->qualified, definition);
	}
	return rows.count;
}

/*
 * Precheck of the type kind: whether a schema in scope may hold an enum,
 * domain, range or composite type (one pass over pg_type, instead of the
 * query's look at the relation of every table's row type).
 */
static bool
types_may_exist(ArrayType *schemas)
{
	CatalogScan cs;
	HeapTuple	tup;
	bool		found = false;
	Oid			last_nsp = InvalidOid;
	bool		last_in_scope = false;

	(void) scope_get(schemas, NULL);
	catalog_scan_begin(&cs, TypeRelationId, InvalidOid, InvalidAttrNumber, NULL, 0);
	while (!found && (tup = catalog_scan_next(&cs)) != NULL)
	{
		Form_pg_type t = (Form_pg_type) GETSTRUCT(tup);

		if (t->typtype != TYPTYPE_ENUM && t->typtype != TYPTYPE_DOMAIN && t->typtype != TYPTYPE_RANGE &&
			t->typtype != TYPTYPE_COMPOSITE)
			continue;
		if (t->typnamespace != last_nsp)
		{
			char	   *nspname = get_namespace_name(t->typnamespace);

			last_nsp = t->typnamespace;
			last_in_scope = nspname != NULL && schema_in_scope(nspname, schemas);
		}
		if (!last_in_scope)
			continue;
		/* a composite type of its own (not a relation's row type): the scope knows the relation */
		if (t->typtype == TYPTYPE_COMPOSITE)
		{
			ScopeRel   *r = scope_rel(t->typrelid);

			found = r == NULL || r->relkind == RELKIND_COMPOSITE_TYPE;
		}
		else
			found = true;
	}
	catalog_scan_end(&cs);
	return found;
}

/*
 * Push the rows of one kind's query as objects of the snapshot, and add
 * them to the fingerprint input.  Nothing goes through text but the input
 * of the hashes: a definition is built from the row's columns (one key per
 * column, NULLs left out), or pushed as the jsonb document the query built.
 */
static int
append_kind(JsonbParseState **state, int kind_no, Datum *values, char *nulls,
			MemoryContext cxt)
{
	const SnapshotKind *k = &snapshot_kinds[kind_no];
	int			partial = (nulls[1] == 'n') ? 0 : 1;
	Oid			argtypes[3] = {TEXTARRAYOID, TEXTARRAYOID, OIDARRAYOID};
	int			rc;
	int			count = 0;
	TimestampTz t0;
	TupleDesc	desc;

	if (k->native != NULL)
	{
		MemoryContextSwitchTo(cxt);
		return k->native(state, nulls[0] == 'n' ? NULL : DatumGetArrayTypeP(values[0]),
						 partial ? DatumGetArrayTypeP(values[2]) : NULL);
	}
	if (!partial && k->precheck != NULL &&
		!k->precheck(nulls[0] == 'n' ? NULL : DatumGetArrayTypeP(values[0])))
		return 0;
	/*
	 * The objects of a kind in the C collation: the same order everywhere.
	 * Plans are kept, one for a whole snapshot and one for a partial one:
	 * the object filter is folded to a constant in each, so a generic plan
	 * of the partial query still looks the objects up through the catalog
	 * indexes.
	 */
	if (kind_plans[partial][kind_no] == NULL)
	{
		char	   *sql = psprintf("SELECT * FROM (%s) q(identity, parent, definition)"
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
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		isnull;
		Datum		id_datum = SPI_getbinval(tup, desc, 1, &isnull);
		char	   *identity;
		char	   *parent = NULL;
		Jsonb	   *jb;
		JsonbValue *definition;

		/* both text: no output function call needed; no object without a definition */
		if (isnull)
			continue;
		(void) SPI_getbinval(tup, desc, 3, &isnull);
		if (isnull)
			continue;
		/* from here on, allocations are the object's (freed when it is finished) */
		begin_object(state);
		identity = TextDatumGetCString(id_datum);
		id_datum = SPI_getbinval(tup, desc, 2, &isnull);
		if (!isnull)
			parent = TextDatumGetCString(id_datum);
		jb = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 3, &isnull));
		if (!JB_ROOT_IS_OBJECT(jb))
			elog(ERROR, "snapshot query for %s returned a definition that is not an object", k->kind);
		definition = push_jsonb_stripped(state, jb, WJB_VALUE);
		finish_object(state, k->kind, identity, parent, definition);
		count++;
	}
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
	JsonbValue *unmodeled = NULL;
	JsonbValue *schemas_value = NULL;
	TimestampTz start;
	char	   *fingerprint;
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

	start = GetCurrentTimestamp();
	reset_snapshot_caches(cxt);
	snapshot_scope = NULL;		/* started by the first native reader */
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
	objects_begin();
	MemoryContextSwitchTo(old);
	for (size_t k = 0; k < lengthof(snapshot_kinds); k++)
	{
		TimestampTz t0 = GetCurrentTimestamp();

		old = CurrentMemoryContext;
		objects += append_kind(&state, (int) k, values, nulls, cxt);
		MemoryContextSwitchTo(old);
		elog(DEBUG1, "snapshot of %s: %.1f ms", snapshot_kinds[k].kind,
			 migrate_elapsed_ms(t0, GetCurrentTimestamp()));
	}

	/* what is there but not modelled */
	{
		Oid			argtypes[3] = {TEXTARRAYOID, TEXTARRAYOID, OIDARRAYOID};
		TimestampTz t0 = GetCurrentTimestamp();

		/* a partial snapshot (objects given) describes only those */
		if (SPI_execute_with_args(only_null ? unmodeled_sql : "SELECT NULL::text, NULL::int, NULL::jsonb WHERE false",
								  3, argtypes, values, nulls, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "snapshot query for unmodeled kinds failed");
		elog(DEBUG1, "snapshot of unmodeled kinds: %.1f ms", migrate_elapsed_ms(t0, GetCurrentTimestamp()));
		old = MemoryContextSwitchTo(cxt);
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
			{
				char	   *countstr = psprintf("%d", count);

				fingerprint_line("unmodeled", 9, kind, strlen(kind), countstr, strlen(countstr));
			}
		}
		unmodeled = pushJsonbValue(&state, WJB_END_ARRAY, NULL);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	AtEOXact_GUC(true, nest);
	hash_destroy(expr_texts);
	expr_texts = NULL;
	hash_destroy(expr_shapes);
	expr_shapes = NULL;
	snapshot_scope = NULL;
	migrate_hasher_free(snapshot_hasher);
	snapshot_hasher = NULL;
	fingerprint = fingerprint_finish();

	/* the schemas asked for: an array, or null */
	if (!schemas_null)
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
		schemas_value = pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	}
	{
		/* in jsonb's order of keys: shorter first, then bytewise */
		DocMember	members[] = {
			doc_int("format", 1),
			{"objects", 7, JENTRY_ISCONTAINER, NULL, 0},
			{"partial", 7, only_null ? JENTRY_ISBOOL_FALSE : JENTRY_ISBOOL_TRUE, NULL, 0},
			schemas_null ? (DocMember) {"schemas", 7, JENTRY_ISNULL, NULL, 0} : doc_container("schemas", schemas_value),
			doc_container("unmodeled", unmodeled),
			DOC_STRING("fingerprint", fingerprint, (int) strlen(fingerprint)),
			doc_int("object_count", objects),
		};

		result = write_document(members, lengthof(members));
	}
	MemoryContextDelete(snapshot_objects->objcxt);
	pfree(snapshot_objects->lengths);
	pfree(snapshot_objects->hashinput.data);
	snapshot_objects = NULL;
	elog(DEBUG1, "snapshot: %d objects, %u bytes, %.1f ms", objects, (uint32) VARSIZE(result),
		 migrate_elapsed_ms(start, GetCurrentTimestamp()));
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
