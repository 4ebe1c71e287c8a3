-- test/hostile/fixtures.sql: the objects the hostile-input cases point at
-- (loaded by test/hostile/run.sh into a fresh database, after CREATE EXTENSION
-- migrate_ext). Everything here is committed; the cases roll back.
\set ON_ERROR_STOP on
SET client_min_messages = warning;

-- The injection canary. Every injection string of the cases tries to drop or
-- empty "victim"; whatever context it ends up running in, the guards below
-- print a WARNING (seen by run.sh even when the caller catches the error or
-- the transaction rolls back) and refuse the change with SQLSTATE IJ001.
-- Nothing may depend on victim: a view on it would make a DROP fail with
-- 2BP01 before the guard sees it.
CREATE TABLE public.victim (id int PRIMARY KEY, note text);
INSERT INTO public.victim SELECT g, 'row ' || g FROM generate_series(1, 10) g;

CREATE FUNCTION public.hostile_victim_dropped() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
	o record;
BEGIN
	FOR o IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
		IF o.object_type = 'table' AND o.object_identity = 'public.victim' THEN
			RAISE WARNING 'HOSTILE-INJECTION: DROP TABLE victim ran';
			RAISE EXCEPTION 'HOSTILE-INJECTION: DROP TABLE victim ran' USING ERRCODE = 'IJ001';
		END IF;
	END LOOP;
END
$$;
CREATE EVENT TRIGGER hostile_victim_dropped ON sql_drop
	EXECUTE FUNCTION public.hostile_victim_dropped();

CREATE FUNCTION public.hostile_victim_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE WARNING 'HOSTILE-INJECTION: % on victim ran', TG_OP;
	RAISE EXCEPTION 'HOSTILE-INJECTION: % on victim ran', TG_OP USING ERRCODE = 'IJ001';
END
$$;
CREATE TRIGGER hostile_victim_truncate BEFORE TRUNCATE ON public.victim
	FOR EACH STATEMENT EXECUTE FUNCTION public.hostile_victim_changed();
CREATE TRIGGER hostile_victim_write BEFORE UPDATE OR DELETE ON public.victim
	FOR EACH STATEMENT EXECUTE FUNCTION public.hostile_victim_changed();
ALTER TABLE public.victim ENABLE ALWAYS TRIGGER hostile_victim_truncate;
ALTER TABLE public.victim ENABLE ALWAYS TRIGGER hostile_victim_write;

-- Tables with odd names (quotes, unicode, 63-byte identifiers, an injection,
-- a dot, a zero-width space), each with an odd key column and a few rows.
CREATE TABLE public."we""ird'name" ("i""d" int PRIMARY KEY, "no'te" text);
CREATE TABLE public."é😀 täble" ("ключ" int PRIMARY KEY, "😀" text);
CREATE TABLE public."t23456789012345678901234567890123456789012345678901234567890123" (id int PRIMARY KEY, note text);
-- 63 bytes: 31 two-byte characters and one ASCII
CREATE TABLE public."ééééééééééééééééééééééééééééééée" (id int PRIMARY KEY, note text);
CREATE TABLE public."victim""; DROP TABLE victim; --" ("id""); DROP TABLE victim; --" int PRIMARY KEY, note text);
CREATE TABLE public."with.dot" ("a.b" int PRIMARY KEY, note text);
CREATE TABLE public."zero​width" (id int PRIMARY KEY, note text);
CREATE SCHEMA "sch""ema $$";
CREATE TABLE "sch""ema $$"."t.a.b" (id int PRIMARY KEY, note text);
DO $do$
DECLARE
	r regclass;
BEGIN
	FOREACH r IN ARRAY ARRAY['public."we""ird''name"', 'public."é😀 täble"',
		'public."t23456789012345678901234567890123456789012345678901234567890123"',
		'public."ééééééééééééééééééééééééééééééée"',
		'public."victim""; DROP TABLE victim; --"', 'public."with.dot"', 'public."zero​width"',
		'"sch""ema $$"."t.a.b"']::regclass[] LOOP
		EXECUTE format('INSERT INTO %s SELECT g, %L || g FROM generate_series(1, 5) g', r, 'it''s "row" ');
	END LOOP;
END
$do$;

-- A table of 1,000 columns (id + c2 .. c1000), audited, with a few rows.
DO $$
BEGIN
	EXECUTE 'CREATE TABLE public.wide1000 (id int PRIMARY KEY, '
		|| (SELECT string_agg(format('c%s int', g), ', ' ORDER BY g) FROM generate_series(2, 1000) g) || ')';
END
$$;
INSERT INTO public.wide1000 (id, c2, c500, c1000) SELECT g, g, g * 2, g * 3 FROM generate_series(1, 3) g;

-- Copy sources and targets.
CREATE TABLE public.src_rows (id int, note text, odd "é😀 täble");
INSERT INTO public.src_rows (id, note) SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'n' || g END FROM generate_series(1, 50) g;
INSERT INTO public.src_rows (id, note) VALUES (NULL, 'null key');
CREATE TABLE public.dst_rows (id int PRIMARY KEY, note text NOT NULL CHECK (note <> 'n13'));

-- Relations that are not plain tables, to pass as regclass.
CREATE VIEW public.v_hostile AS SELECT id, note FROM public.src_rows;
CREATE SEQUENCE public.s_hostile;
CREATE MATERIALIZED VIEW public.mv_hostile AS SELECT id FROM public.src_rows;
CREATE TYPE public.ct_hostile AS (a int, b text);
CREATE TABLE public.parted (id int, logged_at timestamptz NOT NULL DEFAULT now(), note text) PARTITION BY RANGE (id);
CREATE TABLE public.parted_1 PARTITION OF public.parted FOR VALUES FROM (0) TO (1000);
CREATE UNLOGGED TABLE public.unlogged_t (id int PRIMARY KEY);
CREATE TABLE public.nokey (a int, b text);
INSERT INTO public.nokey VALUES (1, 'x'), (1, 'x'), (NULL, NULL);
-- a table remove_log_partition / retention_* may be pointed at
CREATE TABLE public.scratch_part (id bigint, logged_at timestamptz, severity text);

-- The audited tables, with logged changes.
CREATE TABLE public.audited (id int PRIMARY KEY, v text, secret text, at timestamptz DEFAULT now());
INSERT INTO public.audited SELECT g, 'v' || g, 's' || g FROM generate_series(1, 20) g;
SELECT migrate.audit_enable('public.audited', exclude_columns => '{secret}');
SELECT migrate.audit_enable('public."we""ird''name"', options => '{"full_rows": true}');
SELECT migrate.audit_enable('public.wide1000');
UPDATE public.audited SET v = v || '!' WHERE id <= 5;
DELETE FROM public.audited WHERE id = 20;
INSERT INTO public.audited (id, v) VALUES (21, 'é😀 ''quoted''');
UPDATE public."we""ird'name" SET "no'te" = 'changed' WHERE "i""d" = 1;
UPDATE public.wide1000 SET c500 = 0, c999 = 9 WHERE id = 1;

-- Applied, reverted, dependent migrations with odd names.
SELECT migrate.apply('1', 'first', 'CREATE TABLE public.m1 (id int)', down_script => 'DROP TABLE public.m1',
	verify_script => $$SELECT to_regclass('public.m1') IS NOT NULL; SELECT count(*) = 0 FROM public.m1$$);
SELECT migrate.apply('2', 'needs 1', 'CREATE TABLE public.m2 (id int)', down_script => 'DROP TABLE public.m2',
	requires => '{1}');
SELECT migrate.apply('3', $$quote's "name" é😀 $x$ /* -- $$, 'SELECT 1', down_script => 'SELECT 1',
	verify_script => 'SELECT true');
SELECT migrate.apply('4', 'reverted', 'SELECT 1', down_script => 'SELECT 1');
SELECT migrate.revert('4');
SELECT migrate.apply('5', 'no down script', 'SELECT 1; SELECT 2');
SELECT migrate.record_applied('6', 'recorded outside', migrate.checksum('CREATE INDEX CONCURRENTLY m1_id ON public.m1 (id)'),
	'CREATE INDEX CONCURRENTLY m1_id ON public.m1 (id)', down_script => 'DROP INDEX CONCURRENTLY public.m1_id');

-- Events, partitions, an expected schema.
SELECT migrate.record_event('hostile_fixture', s, 'fixture event ' || s, jsonb_build_object('s', s))
  FROM unnest(ARRAY['debug', 'info', 'notice', 'warning', 'error', 'critical']) s;
SELECT migrate.maintain();
SELECT migrate.snapshot_save('hostile fixtures');

-- Documents the jsonb cases derive their wrong shapes from.
CREATE TABLE public.hostile_docs (name text PRIMARY KEY, doc jsonb);
INSERT INTO public.hostile_docs VALUES ('snapshot', migrate.snapshot()), ('history', migrate.history_export());

-- Functions that report errors in their result rows (dry_run, verify) are
-- called through this: an internal error (XX000) among them fails the case.
CREATE FUNCTION public.hostile_no_internal(msgs text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	IF msgs IS NOT NULL THEN
		RAISE EXCEPTION 'HOSTILE-SWALLOWED-XX000: %', left(msgs, 2000) USING ERRCODE = 'HX000';
	END IF;
	RETURN true;
END
$$;
