#!/usr/bin/env python3
"""test/hostile/gen.py: the hostile-input cases of test/hostile/run.sh.

  gen.py cases CATALOG.json CASES.jsonl   one case per line (id, function, label, mode, sql)
  gen.py script CASES.jsonl FIRST LAST    the psql script running cases FIRST..LAST
  gen.py run DB CASES.jsonl FIRST LAST OUT LIMIT
                                          runs that script with psql (stderr to OUT), ending
                                          a case that runs longer than LIMIT seconds
  gen.py report CASES.jsonl OUT...        TAP lines, the summary and the slow cases

CATALOG.json is what run.sh reads from pg_proc: every function and procedure
of schema migrate with its input argument names and types. Each function is
called with valid defaults in every argument but one, which gets a hostile
value of its type (NULL, '', blanks, quotes, unterminated quotes and comments,
unicode, 63/64-byte identifiers, 10 MB values, injections, out-of-range
numbers, wrong shapes of jsonb and arrays, odd relations); plus all arguments
NULL, a wrong type per argument and a wrong argument count. Values built
server-side (10 MB scripts, big arrays) keep the script small. Functions the
tables below do not know get the generic values of their argument types, so a
new function is covered as soon as it is in the catalog.
"""
import json
import os
import re
import sys

MB10 = 10 * 1024 * 1024


def lit(s):
    """a standard SQL string literal"""
    return "'" + s.replace("'", "''") + "'"


# ---------------------------------------------------------------- values
# A value is (label, SQL expression). Labels appear in the TAP lines: short,
# printable, no '#'.

INJECTIONS = [
    ("inj:quote-paren", "'); DROP TABLE victim; --"),
    ("inj:dquote", 'x" ; DROP TABLE victim; --'),
    ("inj:dollar", "$$; DROP TABLE victim; --"),
    ("inj:truncate", "'; TRUNCATE victim; --"),
    ("inj:comment", "*/ DROP TABLE victim; /*"),
    ("inj:backslash", "\\'); DROP TABLE victim; --"),
    ("inj:number", "1); DROP TABLE victim; --"),
    ("inj:ident-paren", '"); DROP TABLE victim; --'),
]

TEXT_VALUES = [
    ("NULL", "NULL::text"),
    ("empty", "''"),
    ("blank", "' '"),
    ("tab-newline", "chr(9) || chr(10) || chr(13)"),
    ("squote", lit("'")),
    ("dquote", lit('"')),
    ("dollar-dollar", lit("$$")),
    ("dollar-tag-unterminated", lit("$x$ unterminated")),
    ("comment-unterminated", lit("/* unterminated")),
    ("comment-only", lit("-- comment only")),
    ("unicode", lit("é😀")),
    ("zero-width", "chr(8203)"),
    ("zero-width-inside", "'a' || chr(8203) || 'b'"),
    ("bom", "chr(65279) || 'x'"),
    ("control-chars", "chr(1) || chr(27) || '[31m' || chr(127)"),
    ("backslash", lit("\\")),
    ("format-specifiers", lit("%s%s%s%s%n%x%d%1$s%%")),
    ("ident-63-bytes", "repeat('a', 63)"),
    ("ident-64-bytes", "repeat('b', 64)"),
    ("ident-63-bytes-multibyte", "repeat('é', 31) || 'x'"),
    ("ident-64-bytes-multibyte", "repeat('é', 32)"),
    ("huge-10MB", "repeat('x', %d)" % MB10),
] + [(l, lit(v)) for l, v in INJECTIONS]

# extra values for arguments holding SQL (scripts, source queries)
SCRIPT_VALUES = [
    ("script:semicolons-only", lit("; ;;\n;")),
    ("script:transaction-control", lit("BEGIN; SELECT 1; COMMIT")),
    ("script:savepoint", lit("SAVEPOINT s; SELECT 1")),
    ("script:copy-stdin", lit("COPY victim FROM STDIN")),
    ("script:concurrently", lit("CREATE INDEX CONCURRENTLY hostile_idx ON public.audited (v)")),
    ("script:vacuum", lit("VACUUM public.audited")),
    ("script:nested-dollar", lit("DO $o$ BEGIN PERFORM $i$ $x$ $i$; PERFORM 1; END $o$; SELECT $a$ $$ $b$ $a$")),
    ("script:mismatched-dollar", lit("SELECT $a$ x $b$")),
    ("script:nested-comment-unterminated", lit("/* outer /* inner */ SELECT 1")),
    ("script:nested-comment", lit("/* a /* b */ c */ SELECT 1 -- tail")),
    ("script:quote-unterminated", lit("SELECT 'abc")),
    ("script:dquote-unterminated", lit('SELECT "abc')),
    ("script:estring-backslash", lit("SELECT E'\\\\'';' AS x")),
    ("script:estring-unterminated", lit("SELECT E'\\'")),
    ("script:uescape-bad", lit("SELECT U&'\\D800'")),
    ("script:begin-atomic", lit("CREATE FUNCTION hostile_f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END")),
    ("script:crlf", "'SELECT 1;' || chr(13) || chr(10) || 'SELECT 2'"),
    ("script:select-into", lit("SELECT 1 INTO hostile_into")),
    ("script:write-cte", lit("WITH d AS (DELETE FROM public.nokey RETURNING *) SELECT * FROM d")),
    ("script:deep-parens", "'SELECT ' || repeat('(', 100000) || '1' || repeat(')', 100000)"),
    ("script:many-unions", "'SELECT 1' || repeat(' UNION ALL SELECT 1', 20000)"),
    ("script:10MB-literal", "'SELECT ''' || repeat('x', %d) || ''''" % MB10),
    ("script:10MB-comment", "'-- ' || repeat('x', %d) || chr(10) || 'SELECT 1'" % MB10),
    # valid statements on the odd and wide tables (ledger, lint, audit triggers)
    ("script:create-unicode-table", lit('CREATE TABLE public."é😀 new" ("ключ" int PRIMARY KEY, "😀" text)')),
    ("script:create-63-byte-multibyte-table", lit('CREATE TABLE public."%s" (id int)' % ("ü" * 31 + "y"))),
    ("script:add-column-odd-table", lit('ALTER TABLE public."we""ird\'name" ADD COLUMN "new""col\'umn" text')),
    ("script:index-on-injection-named-table", lit('CREATE INDEX ON public."victim""; DROP TABLE victim; --" (note)')),
    ("script:wide-add-column", lit("ALTER TABLE public.wide1000 ADD COLUMN c1001 int")),
    ("script:wide-alter-type", lit("ALTER TABLE public.wide1000 ALTER COLUMN c2 TYPE bigint")),
    ("script:wide-update-audited", lit("UPDATE public.wide1000 SET c3 = 7")),
    ("script:truncate-audited", lit("TRUNCATE public.audited")),
    ("script:comment-with-injection", lit("COMMENT ON TABLE public.audited IS $c$'); DROP TABLE victim; --$c$")),
    ("script:select-odd-table", lit('SELECT "i""d", "no\'te" FROM public."we""ird\'name"')),
]

# the costly ones (0.5 to 6 s a call), for the main script argument of each
# function only (not for down and verify scripts)
HEAVY_SCRIPT_VALUES = [
    ("script:10MB-quote-unterminated", "'SELECT ''' || repeat('x', %d)" % MB10),
    ("script:10MB-1.2M-statements", "repeat('SELECT 1;', 1200000)"),
]
HEAVY_SCRIPT_ARGS = {"script", "source_query"}

# extra values for version-like arguments
VERSION_VALUES = [
    ("version:200-bytes", "repeat('9', 200)"),
    ("version:201-bytes", "repeat('9', 201)"),
    ("version:inner-blank", lit("1 2")),
    ("version:leading-zeros-10k", "repeat('0', 10000) || '1'"),
    ("version:digits-100k", "repeat('9', 100000)"),
    ("version:fullwidth-digits", lit("１２３")),
    ("version:negative", lit("-1")),
    ("version:NaN", lit("NaN")),
    ("version:dots", lit("...")),
    ("version:newline", "'1' || chr(10) || '2'"),
]

# extra values for role names
ROLE_VALUES = [
    ("role:existing-superuser", "current_user"),
    ("role:public", lit("public")),
    ("role:reserved-pg-prefix", lit("pg_hostile")),
    ("role:same-as-another", lit("hostile_monitor")),
]

# extra values for hex digests
HASH_VALUES = [
    ("hash:63-hex", "repeat('a', 63)"),
    ("hash:64-hex", "repeat('a', 64)"),
    ("hash:64-upper-hex", "repeat('A', 64)"),
    ("hash:64-non-hex", "repeat('g', 64)"),
    ("hash:65-hex", "repeat('a', 65)"),
]

TEXT_ARRAY_VALUES = [
    ("NULL", "NULL::text[]"),
    ("empty-array", "'{}'::text[]"),
    ("array-of-NULL", "ARRAY[NULL]::text[]"),
    ("array-NULL-and-value", "ARRAY[NULL, 'id']::text[]"),
    ("array-of-empty", "ARRAY['']::text[]"),
    ("array-of-blank", "ARRAY[' ']::text[]"),
    ("array-2d", "'{{id,note},{a,b}}'::text[]"),
    ("array-lower-bound-0", "'[0:1]={id,note}'::text[]"),
    ("array-lower-bound-5", "'[5:5]={id}'::text[]"),
    ("array-10000-elements", "(SELECT array_agg('c' || g) FROM generate_series(1, 10000) g)"),
    ("array-duplicates", "ARRAY['id', 'id']"),
    ("array-unicode", "ARRAY['é😀']"),
    ("array-squote", "ARRAY['''']"),
    ("array-dquote", "ARRAY['\"']"),
    ("array-ident-63", "ARRAY[repeat('a', 63)]"),
    ("array-ident-64", "ARRAY[repeat('b', 64)]"),
    ("array-huge-10MB-element", "ARRAY[repeat('x', %d)]" % MB10),
] + [("array-" + l, "ARRAY[%s]" % lit(v)) for l, v in INJECTIONS]

ARRAY_EXTRA = {
    "key_columns": [
        ("keys:odd-quote-column", "ARRAY['i\"d']"),
        ("keys:unicode-column", "ARRAY['ключ']"),
        ("keys:two", "ARRAY['note', 'id']"),
        ("keys:missing-column", "ARRAY['nonexistent']"),
        ("keys:star", "ARRAY['*']"),
        ("keys:expression", "ARRAY['id) OR (1=1']"),
        ("keys:quoted-list", "ARRAY['id\",\"note']"),
    ],
    "requires": [
        ("requires:applied", "ARRAY['1']"),
        ("requires:reverted", "ARRAY['4']"),
        ("requires:unknown", "ARRAY['nope']"),
        ("requires:201-bytes", "ARRAY[repeat('9', 201)]"),
        ("requires:self", "ARRAY['9001']"),
    ],
    "schemas": [
        ("schemas:pg_catalog", "ARRAY['pg_catalog']"),
        ("schemas:migrate", "ARRAY['migrate']"),
        ("schemas:information_schema", "ARRAY['information_schema']"),
        ("schemas:odd", "ARRAY['sch\"ema $$']"),
        ("schemas:unknown", "ARRAY['nonexistent']"),
    ],
    "only_schemas": [
        ("schemas:pg_catalog", "ARRAY['pg_catalog']"),
        ("schemas:migrate", "ARRAY['migrate']"),
        ("schemas:odd", "ARRAY['sch\"ema $$']"),
    ],
    "objects": [
        ("objects:wide1000", "ARRAY['public.wide1000']"),
        ("objects:unqualified", "ARRAY['wide1000']"),
        ("objects:odd-name", "ARRAY['public.\"we\"\"ird''name\"']"),
        ("objects:catalog", "ARRAY['pg_catalog.pg_class']"),
        ("objects:dot-only", "ARRAY['.']"),
        ("objects:trailing-dot", "ARRAY['public.']"),
        ("objects:four-parts", "ARRAY['a.b.c.d']"),
        ("objects:function-like", "ARRAY['public.f(int)']"),
    ],
    "severities": [
        ("severities:debug", "ARRAY['debug']"),
        ("severities:unknown", "ARRAY['bogus']"),
        ("severities:all", "ARRAY['debug','info','notice','warning','error','critical']"),
    ],
    "exclude_columns": [
        ("exclude:key-column", "ARRAY['id']"),
        ("exclude:missing-column", "ARRAY['nonexistent']"),
        ("exclude:all-columns", "ARRAY['id', 'v', 'secret', 'at']"),
        ("exclude:system-column", "ARRAY['ctid']"),
    ],
}

REGCLASS_VALUES = [
    ("NULL", "NULL::regclass"),
    ("wide1000", "'public.wide1000'::regclass"),
    ("view", "'public.v_hostile'::regclass"),
    ("sequence", "'public.s_hostile'::regclass"),
    ("matview", "'public.mv_hostile'::regclass"),
    ("composite-type", "'public.ct_hostile'::regclass"),
    ("partitioned", "'public.parted'::regclass"),
    ("partition", "'public.parted_1'::regclass"),
    ("unlogged", "'public.unlogged_t'::regclass"),
    ("no-primary-key", "'public.nokey'::regclass"),
    ("index", "'public.audited_pkey'::regclass"),
    ("toast-table", "(SELECT reltoastrelid::regclass FROM pg_class WHERE oid = 'public.audited'::regclass)"),
    ("pg_class", "'pg_catalog.pg_class'::regclass"),
    ("migrate.events", "'migrate.events'::regclass"),
    ("migrate.audit_log", "'migrate.audit_log'::regclass"),
    ("migrate.migrations", "'migrate.migrations'::regclass"),
    ("odd:quotes", "'public.\"we\"\"ird''name\"'::regclass"),
    ("odd:unicode", "'public.\"é😀 täble\"'::regclass"),
    ("odd:63-bytes", "'public.t23456789012345678901234567890123456789012345678901234567890123'::regclass"),
    ("odd:63-bytes-multibyte", "'public.\"ééééééééééééééééééééééééééééééée\"'::regclass"),
    ("odd:injection-name", "'public.\"victim\"\"; DROP TABLE victim; --\"'::regclass"),
    ("odd:dot-in-name", "'public.\"with.dot\"'::regclass"),
    ("odd:zero-width", "'public.\"zero​width\"'::regclass"),
    ("odd:schema", "'\"sch\"\"ema $$\".\"t.a.b\"'::regclass"),
    ("oid-0", "0::oid::regclass"),
    ("oid-dangling", "4294967295::oid::regclass"),
    ("oid-of-a-function", "'migrate.apply(text,text,text,text,text[],text)'::regprocedure::oid::regclass"),
]

JSONB_VALUES = [
    ("NULL", "NULL::jsonb"),
    ("empty-object", "'{}'::jsonb"),
    ("empty-array", "'[]'::jsonb"),
    ("json-null", "'null'::jsonb"),
    ("string", "'\"str\"'::jsonb"),
    ("number", "'1'::jsonb"),
    ("boolean", "'true'::jsonb"),
    ("array", "'[1, \"a\", null, {}]'::jsonb"),
    ("null-member", "'{\"a\": null}'::jsonb"),
    ("empty-key", "'{\"\": \"\"}'::jsonb"),
    ("huge-number", "'{\"id\": 1e1000}'::jsonb"),
    ("deep-2000", "(repeat('[', 2000) || repeat(']', 2000))::jsonb"),
    ("100k-keys", "(SELECT jsonb_object_agg('k' || g, g) FROM generate_series(1, 100000) g)"),
    ("huge-10MB-string", "to_jsonb(repeat('x', %d))" % MB10),
    ("unicode-keys", "jsonb_build_object('é😀', chr(8203), 'ключ', 'ü')"),
] + [("jsonb-" + l, "jsonb_build_object(%s, %s)" % (lit(v), lit(v))) for l, v in INJECTIONS[:3]]

LATEST_DAY = ("(SELECT c.oid::regclass FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid"
              " WHERE i.inhparent = 'migrate.events'::regclass AND c.relkind = 'p' ORDER BY c.relname DESC LIMIT 1)")
SNAP = "(SELECT doc FROM public.hostile_docs WHERE name = 'snapshot')"
HIST = "(SELECT doc FROM public.hostile_docs WHERE name = 'history')"

SNAPSHOT_SHAPES = [
    ("snap:objects-null", "'{\"objects\": null}'::jsonb"),
    ("snap:objects-object", "'{\"objects\": {}}'::jsonb"),
    ("snap:objects-string", "'{\"objects\": \"x\"}'::jsonb"),
    ("snap:objects-numbers", "'{\"objects\": [1, 2]}'::jsonb"),
    ("snap:objects-json-null", "'{\"objects\": [null]}'::jsonb"),
    ("snap:objects-empty-object", "'{\"objects\": [{}]}'::jsonb"),
    ("snap:kind-identity-numbers", "'{\"objects\": [{\"kind\": 1, \"identity\": 2, \"definition\": 3, \"hash\": 4}]}'::jsonb"),
    ("snap:table-definition-string", "'{\"objects\": [{\"kind\": \"table\", \"identity\": \"public.t\", \"definition\": \"x\"}]}'::jsonb"),
    ("snap:column-wrong-types", "'{\"objects\": [{\"kind\": \"column\", \"identity\": \"public.t.c\", \"parent\": 5, \"definition\": {\"type\": 1, \"position\": \"x\", \"not_null\": \"yes\"}}]}'::jsonb"),
    ("snap:unknown-kind", "'{\"objects\": [{\"kind\": \"bogus\", \"identity\": \"x\", \"definition\": {}}]}'::jsonb"),
    ("snap:format-99", "'{\"format\": 99, \"objects\": []}'::jsonb"),
    ("snap:injection-identity", "jsonb_build_object('objects', jsonb_build_array(jsonb_build_object('kind', 'index', 'identity', 'public.x''); DROP TABLE victim; --', 'parent', 'public.victim', 'definition', jsonb_build_object('definition', 'CREATE INDEX x ON public.victim (id); DROP TABLE victim'))))"),
    ("snap:injection-default", "jsonb_build_object('objects', jsonb_build_array(jsonb_build_object('kind', 'column', 'identity', 'public.victim.note', 'parent', 'public.victim', 'definition', jsonb_build_object('type', 'text); DROP TABLE victim; --', 'default', '''x''); DROP TABLE victim; --', 'position', 2))))"),
    ("snap:real", SNAP),
    ("snap:real-definitions-arrays", "jsonb_set(%s, '{objects}', (SELECT jsonb_agg(o || '{\"definition\": []}') FROM jsonb_array_elements(%s -> 'objects') o))" % (SNAP, SNAP)),
    ("snap:real-definitions-null", "jsonb_set(%s, '{objects}', (SELECT jsonb_agg(o || '{\"definition\": null}') FROM jsonb_array_elements(%s -> 'objects') o))" % (SNAP, SNAP)),
    ("snap:real-kinds-removed", "jsonb_set(%s, '{objects}', (SELECT jsonb_agg(o - 'kind') FROM jsonb_array_elements(%s -> 'objects') o))" % (SNAP, SNAP)),
    ("snap:real-identities-duplicated", "jsonb_set(%s, '{objects}', (%s -> 'objects') || (%s -> 'objects'))" % (SNAP, SNAP, SNAP)),
    ("snap:real-unmodeled-number", "%s || '{\"unmodeled\": 5}'" % SNAP),
    ("snap:real-attribute-values-numbers", "jsonb_set(%s, '{objects}', (SELECT jsonb_agg(CASE WHEN jsonb_typeof(o -> 'definition') = 'object' THEN jsonb_set(o, '{definition}', (SELECT coalesce(jsonb_object_agg(k, 42), '{}') FROM jsonb_object_keys(o -> 'definition') k)) ELSE o END) FROM jsonb_array_elements(%s -> 'objects') o))" % (SNAP, SNAP)),
]

HISTORY_SHAPES = [
    ("hist:real", HIST),
    ("hist:migrations-null", "'{\"migrations\": null}'::jsonb"),
    ("hist:migrations-number", "'{\"migrations\": 1}'::jsonb"),
    ("hist:migrations-numbers", "'{\"migrations\": [1, 2]}'::jsonb"),
    ("hist:migrations-empty-object", "'{\"migrations\": [{}]}'::jsonb"),
    ("hist:version-number", "'{\"migrations\": [{\"version\": 1}]}'::jsonb"),
    ("hist:version-null", "'{\"migrations\": [{\"version\": null}]}'::jsonb"),
    ("hist:version-empty", "'{\"migrations\": [{\"version\": \"\"}]}'::jsonb"),
    ("hist:version-object", "'{\"migrations\": [{\"version\": {\"a\": 1}}]}'::jsonb"),
    ("hist:checksum-number", "'{\"migrations\": [{\"version\": \"1\", \"checksum\": 5, \"state\": 7, \"name\": []}]}'::jsonb"),
    ("hist:duplicate-versions", "'{\"migrations\": [{\"version\": \"1\"}, {\"version\": \"1\"}]}'::jsonb"),
    ("hist:version-huge", "jsonb_build_object('migrations', jsonb_build_array(jsonb_build_object('version', repeat('9', 100000))))"),
    ("hist:10000-versions", "jsonb_build_object('migrations', (SELECT jsonb_agg(jsonb_build_object('version', g::text, 'checksum', md5(g::text))) FROM generate_series(1, 10000) g))"),
    ("hist:injection-version", "jsonb_build_object('migrations', jsonb_build_array(jsonb_build_object('version', '''); DROP TABLE victim; --', 'name', 'x\" ; DROP TABLE victim; --', 'checksum', '$$; DROP TABLE victim; --')))"),
]

ROW_KEY_SHAPES = [
    ("key:id-1", "'{\"id\": 1}'::jsonb"),
    ("key:id-missing-row", "'{\"id\": 424242}'::jsonb"),
    ("key:id-string", "'{\"id\": \"x\"}'::jsonb"),
    ("key:id-null", "'{\"id\": null}'::jsonb"),
    ("key:id-object", "'{\"id\": {\"nested\": 1}}'::jsonb"),
    ("key:id-array", "'{\"id\": [1]}'::jsonb"),
    ("key:id-float", "'{\"id\": 1.5}'::jsonb"),
    ("key:id-out-of-range", "'{\"id\": 99999999999999999999}'::jsonb"),
    ("key:unknown-column", "'{\"nocol\": 1}'::jsonb"),
    ("key:extra-column", "'{\"id\": 1, \"v\": \"x\"}'::jsonb"),
    ("key:excluded-column", "'{\"secret\": \"s1\"}'::jsonb"),
    ("key:injection-column", "jsonb_build_object('id\"); DROP TABLE victim; --', 1)"),
    ("key:injection-value", "jsonb_build_object('id', '1); DROP TABLE victim; --')"),
]

OPTION_SHAPES = [
    ("opts:full_rows-string", "'{\"full_rows\": \"yes\"}'::jsonb"),
    ("opts:full_rows-null", "'{\"full_rows\": null}'::jsonb"),
    ("opts:full_rows-number", "'{\"full_rows\": 1}'::jsonb"),
    ("opts:unknown-option", "'{\"bogus\": true}'::jsonb"),
    ("opts:all-true", "'{\"full_rows\": true, \"truncate_rows\": true, \"log_unchanged_updates\": true}'::jsonb"),
]

DETAILS_SHAPES = [
    ("details:object", "'{\"client\": \"pg_migrate\"}'::jsonb"),
    ("details:nested", "'{\"a\": {\"b\": [1, {\"c\": null}]}}'::jsonb"),
]

INTEGER_VALUES = [
    ("NULL", "NULL::integer"), ("0", "0"), ("-1", "-1"), ("1", "1"),
    ("int-min", "(-2147483648)::integer"), ("int-max", "2147483647"), ("1000000", "1000000"),
]
BIGINT_VALUES = [
    ("NULL", "NULL::bigint"), ("0", "0::bigint"), ("-1", "-1::bigint"), ("1", "1::bigint"),
    ("bigint-min", "(-9223372036854775808)::bigint"), ("bigint-max", "9223372036854775807::bigint"),
]
FLOAT_VALUES = [
    ("NULL", "NULL::float8"), ("NaN", "'NaN'::float8"), ("Infinity", "'Infinity'::float8"),
    ("-Infinity", "'-Infinity'::float8"), ("-1", "-1::float8"), ("1e308", "1e308::float8"),
    ("-0", "'-0'::float8"), ("denormal", "1e-320::float8"),
]
BOOL_VALUES = [("NULL", "NULL::boolean"), ("true", "true"), ("false", "false")]
INTERVAL_VALUES = [
    ("NULL", "NULL::interval"), ("-1 day", "'-1 day'::interval"), ("1000 years", "'1000 years'::interval"),
    ("0", "'0'::interval"), ("1 microsecond", "'1 microsecond'::interval"),
    ("-1 microsecond", "'-1 microsecond'::interval"),
    ("178000000 years", "'178000000 years'::interval"), ("-178000000 years", "'-178000000 years'::interval"),
    ("1 mon -30 days", "'1 mon -30 days'::interval"),
]
TIMESTAMPTZ_VALUES = [
    ("NULL", "NULL::timestamptz"), ("infinity", "'infinity'::timestamptz"),
    ("-infinity", "'-infinity'::timestamptz"), ("4713 BC", "'4713-01-01 00:00:00+00 BC'::timestamptz"),
    ("294276 AD", "'294276-12-31 23:59:59+00'::timestamptz"), ("epoch", "'epoch'::timestamptz"),
    ("now", "now()"), ("now+1000y", "now() + interval '1000 years'"),
]
DATE_VALUES = [
    ("NULL", "NULL::date"), ("infinity", "'infinity'::date"), ("-infinity", "'-infinity'::date"),
    ("4713 BC", "'4713-01-01 BC'::date"), ("5874897 AD", "'5874897-12-31'::date"),
    ("yesterday", "current_date - 1"), ("3700 days ago", "current_date - 3700"),
]
XID8_VALUES = [
    ("NULL", "NULL::xid8"), ("0", "'0'::xid8"), ("1", "'1'::xid8"),
    ("max", "'18446744073709551615'::xid8"), ("current", "pg_current_xact_id()"),
]
SNAPSHOT_TYPE_VALUES = [
    ("NULL", "NULL::pg_snapshot"), ("1:1:", "'1:1:'::pg_snapshot"), ("current", "pg_current_snapshot()"),
    ("with-xips", "'10:20:10,11,19'::pg_snapshot"),
    ("max", "'18446744073709551614:18446744073709551615:'::pg_snapshot"),
]

# a failing cast (or a value of another type) per argument type: "wrong type"
WRONG_TYPE = {
    "text": ("wrong-type:integer", "42"),
    "text[]": ("wrong-type:text", "'id'::text"),
    "regclass": ("wrong-type:no-such-table", "'no_such_table_hostile'::regclass"),
    "jsonb": ("wrong-type:bad-json", "'{\"unterminated'::jsonb"),
    "integer": ("wrong-type:overflow", "'2147483648'::integer"),
    "bigint": ("wrong-type:not-a-number", "'abc'::bigint"),
    "double precision": ("wrong-type:not-a-number", "'one'::float8"),
    "boolean": ("wrong-type:maybe", "'maybe'::boolean"),
    "interval": ("wrong-type:forever", "'forever'::interval"),
    "timestamp with time zone": ("wrong-type:bad-timestamp", "'yesterday-ish'::timestamptz"),
    "date": ("wrong-type:bad-date", "'2025-02-30'::date"),
    "xid8": ("wrong-type:negative-xid", "'-1'::xid8"),
    "pg_snapshot": ("wrong-type:bad-snapshot", "'20:10:'::pg_snapshot"),
}

BY_TYPE = {
    "text": TEXT_VALUES,
    "text[]": TEXT_ARRAY_VALUES,
    "regclass": REGCLASS_VALUES,
    "jsonb": JSONB_VALUES,
    "integer": INTEGER_VALUES,
    "bigint": BIGINT_VALUES,
    "double precision": FLOAT_VALUES,
    "boolean": BOOL_VALUES,
    "interval": INTERVAL_VALUES,
    "timestamp with time zone": TIMESTAMPTZ_VALUES,
    "date": DATE_VALUES,
    "xid8": XID8_VALUES,
    "pg_snapshot": SNAPSHOT_TYPE_VALUES,
}

SCRIPT_ARGS = {"script", "down_script", "verify_script", "source_query"}
ROLE_ARGS = {"admin", "monitor", "app"}
VERSION_ARGS = {"version", "a", "b"}
HASH_ARGS = {"checksum", "prev_hash"}
JSONB_EXTRA = {
    "other": HISTORY_SHAPES,
    "expected": SNAPSHOT_SHAPES,
    "actual": SNAPSHOT_SHAPES,
    "expected_snapshot": SNAPSHOT_SHAPES,
    "row_key": ROW_KEY_SHAPES,
    "options": OPTION_SHAPES,
    "details": DETAILS_SHAPES,
}

# ---------------------------------------------------------------- defaults
# valid values, so that the hostile value of one argument gets past the
# checks of the others: by (function, argument), then by argument, then by type

DEFAULT_BY_TYPE = {
    "text": "'hostile'",
    "text[]": "'{}'::text[]",
    "regclass": "'public.audited'::regclass",
    "jsonb": "'{}'::jsonb",
    "integer": "1",
    "bigint": "1::bigint",
    "double precision": "0::float8",
    "boolean": "false",
    "interval": "'1 hour'::interval",
    "timestamp with time zone": "now()",
    "date": "current_date",
    "xid8": "NULL::xid8",
    "pg_snapshot": "NULL::pg_snapshot",
}

DEFAULT_BY_ARG = {
    "version": "'9001'",
    "name": "'hostile test'",
    "script": "'SELECT 1'",
    "down_script": "'SELECT 1'",
    "verify_script": "'SELECT true'",
    "requires": "'{}'::text[]",
    "reason": "'hostile test'",
    "kind": "'hostile'",
    "severity": "'info'",
    "message": "'hostile message'",
    "details": "'{}'::jsonb",
    "autonomous": "false",
    "job": "'hostile_job'",
    "source_query": "'SELECT id, note FROM public.src_rows'",
    "target": "'public.dst_rows'::regclass",
    "key_columns": "ARRAY['id']",
    "batch_size": "100",
    "on_conflict": "'nothing'",
    "max_batches": "1",
    "tbl": "'public.audited'::regclass",
    "row_key": "'{\"id\": 1}'::jsonb",
    "at": "now() - interval '1 hour'",
    "force": "false",
    "exclude_columns": "ARRAY['secret']",
    "options": "'{}'::jsonb",
    "days": "1",
    "older_than": "'1000 years'::interval",
    "include_audit_log": "false",
    "part": "'public.scratch_part'::regclass",
    "cutoff": "now()",
    "severities": "NULL::text[]",
    "max_rows": "NULL::bigint",
    "not_before": "NULL::timestamptz",
    "detach": "false",
    "what": "'events'",
    "first_day": "current_date + 100",
    "last_day": "current_date + 101",
    "since": "'1 hour'::interval",
    "schemas": "NULL::text[]",
    "objects": "NULL::text[]",
    "label": "'hostile'",
    "first_id": "1::bigint",
    "last_id": "NULL::bigint",
    "only_txid": "NULL::xid8",
    "seen": "NULL::pg_snapshot",
    "in_band_only": "false",
    "expected": SNAP,
    "actual": SNAP,
    "expected_snapshot": SNAP,
    "only_schemas": "NULL::text[]",
    "full_check": "false",
    "other": HIST,
    "prev_hash": "NULL::text",
    "action": "'apply'",
    "checksum": "migrate.checksum('SELECT 1')",
    "execution_ms": "0::float8",
    "statement_count": "0",
    "a": "'1.2.9'",
    "b": "'1.2.10'",
    "admin": "'hostile_admin'",
    "monitor": "'hostile_monitor'",
    "app": "'hostile_app'",
}

DEFAULT_BY_FUNC = {
    ("revert", "version"): "'3'",
    ("verify", "version"): "'1'",
    ("repair", "version"): "'3'",
    ("record_reverted", "version"): "'3'",
    ("record_applied", "version"): "'9002'",
    ("record_applied", "down_script"): "NULL::text",
    ("record_applied", "verify_script"): "NULL::text",
    ("baseline", "version"): "'0'",
    ("client_migration", "version"): "'9003'",
    ("version_key", "version"): "'1.2.10'",
    ("chain_link", "version"): "'1'",
    ("new_log_partition", "name"): "'hostile_part'",
    ("severity_rank", "severity"): "'warning'",
    ("snapshot", "objects"): "ARRAY['public.audited']",
    ("retention_delete", "part"): "'migrate.events_default'::regclass",
    ("retention_truncate", "part"): "'migrate.events_default'::regclass",
    ("remove_log_partition", "part"): LATEST_DAY,
}

# arguments whose default depends on another argument's value
def coupled(func, argnames, exprs, varied):
    """adjust defaults that must agree with the varied argument"""
    if func == "record_applied" and varied == "script" and "checksum" in argnames:
        i = argnames.index("checksum")
        exprs[i] = "migrate.checksum(%s)" % exprs[argnames.index("script")]
    return exprs


# cases changing several arguments together (odd tables with their odd key
# columns, the wide table as source and target), by function name
ODD = 'public."we""ird\'\'name"'
INJ_T = 'public."victim""; DROP TABLE victim; --"'
COPY_COMBOS = [
    ("odd table to itself", {
        "source_query": lit('SELECT "i""d", "no\'te" FROM %s' % ODD.replace("''", "'")),
        "target": "%s::regclass" % lit(ODD.replace("''", "'")),
        "key_columns": "ARRAY['i\"d']"}),
    ("unicode table to itself", {
        "source_query": lit('SELECT "ключ", "😀" FROM public."é😀 täble"'),
        "target": "'public.\"é😀 täble\"'::regclass",
        "key_columns": "ARRAY['ключ']"}),
    ("injection-named table and column", {
        "source_query": lit('SELECT "id""); DROP TABLE victim; --", note FROM %s' % INJ_T),
        "target": "%s::regclass" % lit(INJ_T),
        "key_columns": "ARRAY['id\"); DROP TABLE victim; --']"}),
    ("wide1000 to itself", {
        "source_query": lit("SELECT id + 100 AS id, c2, c1000 FROM public.wide1000"),
        "target": "'public.wide1000'::regclass",
        "key_columns": "ARRAY['id']"}),
    ("wide1000 all columns", {
        "source_query": lit("SELECT * FROM public.wide1000"),
        "target": "'public.wide1000'::regclass",
        "key_columns": "ARRAY['id']"}),
    ("key of two columns with NULLs", {
        "source_query": lit("SELECT a AS id, b AS note FROM public.nokey"),
        "key_columns": "ARRAY['id', 'note']"}),
]
AUDIT_COMBOS = [
    ("odd table with its key", {"tbl": "%s::regclass" % lit(ODD.replace("''", "'")), "row_key": "'{\"i\\\"d\": 1}'::jsonb"}),
    ("wide1000 with its key", {"tbl": "'public.wide1000'::regclass", "row_key": "'{\"id\": 1}'::jsonb"}),
    ("row deleted earlier", {"tbl": "'public.audited'::regclass", "row_key": "'{\"id\": 20}'::jsonb"}),
    ("row inserted later", {"tbl": "'public.audited'::regclass", "row_key": "'{\"id\": 21}'::jsonb"}),
]
COMBOS = {
    "copy_rows": COPY_COMBOS, "copy_rows_step": COPY_COMBOS, "copy_rows_each": COPY_COMBOS,
    "reconcile": COPY_COMBOS, "check_copy_source": COPY_COMBOS,
    "audit_history": AUDIT_COMBOS, "audit_current_row": AUDIT_COMBOS,
    "audit_row_as_of": AUDIT_COMBOS, "audit_revert": AUDIT_COMBOS,
    "audit_enable": [("odd table", {"tbl": "%s::regclass" % lit(ODD.replace("''", "'")), "exclude_columns": "ARRAY['no''te']"}),
                     ("wide1000 excluding 999 columns", {"tbl": "'public.wide1000'::regclass",
                      "exclude_columns": "(SELECT array_agg('c' || g) FROM generate_series(2, 1000) g)"})],
    "revert": [("dependent migration", {"version": "'1'"}), ("reverted migration", {"version": "'4'"}),
               ("recorded non-transactional down script", {"version": "'6'"}), ("no down script", {"version": "'5'"})],
    "verify": [("odd-named migration", {"version": "'3'"}), ("no checks", {"version": "'5'"})],
    "record_reverted": [("non-transactional down script", {"version": "'6'"}), ("no down script", {"version": "'5'"})],
    "repair": [("new script", {"version": "'3'", "script": "'SELECT 2'"}),
               ("reverted migration", {"version": "'4'", "script": "'SELECT 2'"})],
}


def default_for(func, arg, typ):
    if (func, arg) in DEFAULT_BY_FUNC:
        return DEFAULT_BY_FUNC[(func, arg)]
    if arg in DEFAULT_BY_ARG:
        return DEFAULT_BY_ARG[arg]
    return DEFAULT_BY_TYPE.get(typ, "NULL")


def values_for(arg, typ):
    vals = list(BY_TYPE.get(typ, [("NULL", "NULL")]))
    if typ == "text":
        if arg in SCRIPT_ARGS:
            vals += SCRIPT_VALUES
        if arg in HEAVY_SCRIPT_ARGS:
            vals += HEAVY_SCRIPT_VALUES
        if arg in VERSION_ARGS:
            vals += VERSION_VALUES
        if arg in HASH_ARGS:
            vals += HASH_VALUES
        if arg in ROLE_ARGS:
            vals += ROLE_VALUES
    elif typ == "text[]":
        vals += ARRAY_EXTRA.get(arg, [])
    elif typ == "jsonb":
        vals += JSONB_EXTRA.get(arg, [])
    return vals


# ---------------------------------------------------------------- cases

def call_sql(fn, exprs):
    args = ", ".join(exprs)
    if fn["kind"] == "p":
        return "CALL %s(%s)" % (fn["qname"], args)
    if fn["retset"]:
        # functions that report errors in their rows (dry_run, verify): an
        # internal error hidden there fails the case too (HX000)
        for col in ("error", "message"):
            if col in fn["outnames"]:
                return ("SELECT count(*), public.hostile_no_internal(string_agg(t.%s, ' | ') FILTER (WHERE t.%s LIKE '%%XX000%%')) FROM %s(%s) t"
                        % (col, col, fn["qname"], args))
        return "SELECT count(*) FROM %s(%s)" % (fn["qname"], args)
    # evaluated whole, but only a boolean comes back (some results are 10 MB)
    return "SELECT %s(%s) IS NULL" % (fn["qname"], args)


# per-case statement_timeout (default 20s); a 1.2M-statement dry run stops
# only at the timeout, so it gets a short one
TIMEOUTS = {("dry_run", "script:10MB-1.2M-statements"): "3s"}


def gen_cases(catalog):
    cases = []

    def add(fn, label, sql, mode=None, after=None, timeout=None):
        if mode is None:
            mode = "autocommit" if fn["kind"] == "p" else "tx"
        cases.append({
            "id": len(cases) + 1,
            "func": fn["sig"],
            "label": label,
            "mode": mode,
            "timeout": timeout or "20s",
            "sql": sql,
            "after": after,
        })

    for fn in sorted(catalog, key=lambda f: f["sig"]):
        fname = fn["name"]
        fn["qname"] = "migrate." + fname
        types = fn["argtypes"] or []
        allnames = fn.get("proargnames") or []
        modes = fn.get("proargmodes") or ["i"] * len(allnames)
        names = [nm for nm, md in zip(allnames, modes) if md in ("i", "b", "v")]
        names = [nm or "arg%d" % (k + 1) for k, nm in enumerate(names)]
        names += ["arg%d" % (k + 1) for k in range(len(names), len(types))]
        fn["outnames"] = [nm for nm, md in zip(allnames, modes) if md in ("o", "b", "t")]
        after = None
        if fname == "client_migration":
            # it marks the session: clear it after each case
            after = "SELECT migrate.client_migration(NULL)"
        defaults = [default_for(fname, n, t) for n, t in zip(names, types)]

        add(fn, "valid defaults", call_sql(fn, list(defaults)), after=after)
        if not names:
            add(fn, "extra argument", call_sql(fn, ["NULL::text"]))
            continue
        for label, over in COMBOS.get(fname, []):
            exprs = list(defaults)
            for k, v in over.items():
                if k in names:
                    exprs[names.index(k)] = v
            add(fn, "combination: " + label, call_sql(fn, exprs), after=after)
        add(fn, "all arguments NULL", call_sql(fn, ["NULL::%s" % t for t in types]), after=after)
        add(fn, "one argument too many", call_sql(fn, list(defaults) + ["NULL::text"]))
        for i, (n, t) in enumerate(zip(names, types)):
            wl, we = WRONG_TYPE.get(t, ("wrong-type:point", "point '(1,1)'"))
            exprs = list(defaults)
            exprs[i] = we
            add(fn, "%s = %s" % (n, wl), call_sql(fn, exprs), after=after)
            for label, expr in values_for(n, t):
                exprs = list(defaults)
                exprs[i] = expr
                exprs = coupled(fname, names, exprs, n)
                timeout = TIMEOUTS.get((fname, label))
                add(fn, "%s = %s" % (n, label), call_sql(fn, exprs), after=after, timeout=timeout)
                if fname == "record_event" and n != "autonomous":
                    # the same through the background worker
                    ex2 = list(exprs)
                    ex2[names.index("autonomous")] = "true"
                    add(fn, "%s = %s, autonomous" % (n, label), call_sql(fn, ex2))
        if fn["kind"] == "p":
            # inside a transaction block: refused at the first COMMIT
            add(fn, "valid defaults inside BEGIN", call_sql(fn, list(defaults)), mode="tx")
            add(fn, "all arguments NULL inside BEGIN", call_sql(fn, ["NULL::%s" % t for t in types]), mode="tx")
    # procedures commit: give every autocommit case its own job
    for c in cases:
        if c["mode"] == "autocommit":
            c["sql"] = c["sql"].replace("'hostile_job'", "'hostile_job_%d'" % c["id"])
    return cases


def cmd_cases(catalog_path, out_path):
    with open(catalog_path, encoding="utf-8") as f:
        catalog = json.load(f)
    cases = gen_cases(catalog)
    with open(out_path, "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    print(len(cases))


def load_cases(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def batch_script(cases_path, first, last):
    """the psql script of cases first..last: markers on stderr (\\warn) around
    each case, the errors (with their SQLSTATE: VERBOSITY verbose) between"""
    first, last = int(first), int(last)
    out = ["\\set ON_ERROR_STOP off\n\\set VERBOSITY verbose\n\\set SHOW_CONTEXT never\n",
           "SELECT pg_backend_pid() AS hostile_pid \\gset\n\\warn @@pid :hostile_pid\n"]
    for c in load_cases(cases_path):
        if c["id"] < first or c["id"] > last:
            continue
        n = c["id"]
        out.append("\\warn @@begin %d\n" % n)
        if c["mode"] == "tx":
            out.append("BEGIN;\nSET LOCAL statement_timeout = '%s';\n%s;\nROLLBACK;\n" % (c["timeout"], c["sql"]))
        else:
            out.append("SET statement_timeout = '%s';\n%s;\nRESET statement_timeout;\n" % (c["timeout"], c["sql"]))
        out.append("\\warn @@end %d\n" % n)
        if c.get("after"):
            out.append("\\warn @@after %d\n%s;\n\\warn @@after-end %d\n" % (n, c["after"], n))
    return "".join(out)


def cmd_script(cases_path, first, last):
    sys.stdout.write(batch_script(cases_path, first, last))


# ---------------------------------------------------------------- report

def diag(msg):
    """a TAP diagnostic: on stderr, so that prove shows it without -v"""
    sys.stderr.write("# %s\n" % msg)
    sys.stderr.flush()


MSG_RE = re.compile(r"^(?:psql:[^:]*:\d+: )?(ERROR|FATAL|PANIC|WARNING):  ([0-9A-Z]{5}): (.*)$")
LOST_RE = re.compile(r"server closed the connection unexpectedly|connection to server was lost|"
                     r"no connection to the server|terminating connection because of crash")


def cmd_report(cases_path, outs):
    sys.stdout.reconfigure(line_buffering=True)
    cases = load_cases(cases_path)
    res = {}
    for path in outs:
        cur = None
        in_after = False
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                if line.startswith("@@begin "):
                    cur = int(line.split()[1])
                    in_after = False
                    res[cur] = {"state": "running", "ms": None, "code": None, "msg": None,
                                "lost": [], "injection": False, "after": None,
                                "warn_xx000": None}
                    continue
                if line.startswith("@@end "):
                    parts = line.split()
                    n = int(parts[1])
                    if n in res:
                        r = res[n]
                        try:
                            r["ms"] = int(float(parts[2]))
                        except (IndexError, ValueError):
                            r["ms"] = None
                        r["state"] = "done"
                    continue
                if line.startswith("@@after "):
                    in_after = True
                    continue
                if line.startswith("@@after-end "):
                    in_after = False
                    continue
                if line.startswith("@@hang "):
                    n = int(line.split()[1])
                    if n in res:
                        res[n]["state"] = "hang"
                    continue
                if line.startswith("@@log "):
                    if cur in res:
                        res[cur]["lost"].append(line[6:])
                    continue
                if cur is None or cur not in res:
                    continue
                r = res[cur]
                if "HOSTILE-INJECTION" in line:
                    r["injection"] = True
                m = MSG_RE.match(line)
                if m:
                    level, code, msg = m.groups()
                    if in_after:
                        if level != "WARNING" and r["after"] is None:
                            r["after"] = "%s %s: %s" % (level, code, msg[:300])
                        continue
                    if level in ("FATAL", "PANIC"):
                        r["lost"].append("%s %s: %s" % (level, code, msg[:300]))
                    elif level == "WARNING" and code == "XX000" and r["warn_xx000"] is None:
                        r["warn_xx000"] = msg
                    elif level == "ERROR" and r["code"] is None:
                        r["code"], r["msg"] = code, msg
                elif LOST_RE.search(line):
                    r["lost"].append(line.strip()[:300])

    total = len(cases)
    succeeded = 0
    by_code = {}
    crashes = hangs = injections = 0
    failures = []
    slow = []
    n_out = 0
    for c in cases:
        n_out += 1
        r = res.get(c["id"])
        desc = "%s: %s" % (c["func"], c["label"])
        desc = desc.replace("#", "%23")
        bad = None
        if r is None:
            bad = "never ran"
            outcome = "not run"
        elif r["state"] == "hang":
            hangs += 1
            bad = "did not end within the watchdog limit (statement_timeout not honoured)"
            outcome = "hang"
        elif r["state"] != "done" or r["lost"]:
            crashes += 1
            bad = "connection lost: " + "; ".join(r["lost"] or ["(no message)"])
            outcome = "crash"
        else:
            if r["code"] is None:
                succeeded += 1
                outcome = "ok"
            else:
                by_code[r["code"]] = by_code.get(r["code"], 0) + 1
                outcome = r["code"]
                if r["code"] == "XX000":
                    bad = "internal error XX000: " + r["msg"]
                elif r["code"] == "HX000":
                    bad = "internal error XX000 reported in the result rows: " + r["msg"]
        if r is not None and r.get("warn_xx000"):
            bad = (bad + "; " if bad else "") + "internal error XX000 downgraded to a WARNING: " + r["warn_xx000"]
        if r is not None and r["injection"]:
            injections += 1
            bad = (bad + "; " if bad else "") + "an injection ran (HOSTILE-INJECTION)"
        if r is not None and r.get("after"):
            bad = (bad + "; " if bad else "") + "session unusable after the case: " + r["after"]
        if r is not None and r.get("ms") is not None and r["ms"] > 5000:
            slow.append((r["ms"], c))
        if bad:
            print("not ok %d - %s -> %s" % (c["id"], desc, outcome), flush=True)
            diag("  Failed case %d: %s" % (c["id"], bad[:2000]))
            diag("  SQL: %s" % c["sql"][:2000])
            failures.append(c["id"])
        else:
            print("ok %d - %s -> %s" % (c["id"], desc, outcome))
    codes = sorted(k for k in by_code if k != "XX000")
    parts = ["%s %d" % (k, by_code[k]) for k in codes] + ["XX000 %d" % by_code.get("XX000", 0)]
    sys.stdout.flush()
    diag("summary: %d cases, %d succeeded, errors by SQLSTATE: %s, crashes %d, hangs %d, injections %d"
         % (total, succeeded, ", ".join(parts), crashes, hangs, injections))
    for ms, c in sorted(slow, key=lambda x: -x[0]):
        diag("slow (> 5 s): case %d took %.1f s: %s: %s" % (c["id"], ms / 1000.0, c["func"], c["label"]))
    return n_out, failures


def cmd_run(db, cases_path, first, last, out_path, limit):
    """runs cases first..last in one psql session (script in OUT.sql, its
    stderr in OUT, each "@@end N" marker with the case's milliseconds); a case
    running longer than limit seconds is ended (pg_terminate_backend, then the
    client is killed). Prints the id of the last case begun and exits with
    psql's status (2: connection lost, 3: hang, 4: could not connect, nothing
    ran)."""
    import subprocess
    import threading
    import time
    limit = float(limit)
    script = out_path + ".sql"
    with open(script, "w", encoding="utf-8") as f:
        f.write(batch_script(cases_path, first, last))
    env = dict(os.environ, PGAPPNAME="migrate_hostile_cases")
    p = subprocess.Popen(["psql", "-X", "-q", "-d", db, "-o", "/dev/null", "-f", script],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    state = {"cur": None, "since": None, "last": 0, "pid": None}
    out = open(out_path, "ab")

    def reader():
        for raw in p.stderr:
            if len(raw) > 4000:
                raw = raw[:4000] + b"...\n"
            if raw.startswith(b"@@begin "):
                state["cur"] = int(raw.split()[1])
                state["last"] = state["cur"]
                state["since"] = time.monotonic()
            elif raw.startswith(b"@@end "):
                raw = b"@@end %d %d\n" % (int(raw.split()[1]), round(1000 * (time.monotonic() - state["since"])))
                state["cur"] = None
            elif raw.startswith(b"@@pid "):
                try:
                    state["pid"] = int(raw.split()[1])
                except ValueError:
                    pass
            out.write(raw)
            out.flush()

    def connected():
        return state["pid"] is not None

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    hung = None
    terminated_at = None
    while True:
        try:
            p.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if hung is None and state["cur"] is not None and now - state["since"] > limit:
            hung = state["cur"]
            terminated_at = now
            if state["pid"]:
                subprocess.run(["psql", "-X", "-q", "-d", db, "-c",
                                "SELECT pg_terminate_backend(%d)" % state["pid"]],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elif hung is not None and now - terminated_at > 30:
            p.kill()
    t.join(timeout=10)
    rc = p.returncode
    if hung is not None:
        out.write(b"@@hang %d\n" % hung)
        rc = 3
    elif not connected():
        rc = 4   # no session: nothing ran, run.sh tries the batch again
    out.write(b"@@exit %d\n" % rc)
    out.close()
    print(state["last"])
    sys.exit(rc)


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "cases":
        cmd_cases(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "script":
        cmd_script(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 8 and sys.argv[1] == "run":
        cmd_run(*sys.argv[2:8])
    elif len(sys.argv) >= 3 and sys.argv[1] == "report":
        cmd_report(sys.argv[2], sys.argv[3:])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
