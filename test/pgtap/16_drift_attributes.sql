-- Schema drift, attribute by attribute: for every object kind migrate.snapshot
-- models and every attribute of its definition that can be changed in place,
-- one out-of-band change against a freshly saved snapshot, and exactly the
-- drift rows of that attribute (kind|identity|change|attribute), nothing else,
-- from the full check and from the incremental (ledger-driven) check alike.
--
-- Each case is two tests (pg_temp.check): migrate.snapshot_save, the change,
-- then migrate.drift(full_check => true) and migrate.drift() compared with
-- the same expected rows.  A change that fails, or a drift call that raises,
-- becomes a row ('change failed|SQLSTATE|message', 'error|...') so the
-- assertion fails and the file goes on.  The objects are built so that one
-- change touches one attribute (e.g. a sequence with an explicit MAXVALUE so
-- that AS integer leaves max alone, owners changed while the ACL is the
-- default one, grants to a role that is not the owner).
--
-- Attributes that cannot change in place are skipped with the reason: kinds
-- (table, view, function, type), a table's partition_key, a column's position
-- (only by drop and add), a constraint's type and no_inherit, an index's
-- valid (only a failed CREATE INDEX CONCURRENTLY, outside a transaction),
-- a domain's base_type and collation, a range type's range, a publication's
-- all_tables.  The citext cases need the contrib extension citext (1.4 and an
-- update to 1.5); without it they are skipped.
--
-- Roles are created in the transaction, which is rolled back.
--
-- Tests marked "bug:" failed when they were written (see the commit message).
BEGIN;
SET LOCAL client_min_messages = error;
SET LOCAL TimeZone = 'UTC';
SELECT plan(268);

-- the drift rows, 'kind|identity|change|attribute' sorted in the C collation;
-- an error becomes one row 'error|SQLSTATE|message'
CREATE FUNCTION pg_temp.rows_of(full_check boolean) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    r text[];
BEGIN
    SELECT COALESCE(array_agg(x ORDER BY x COLLATE "C"), '{}') INTO r
      FROM (SELECT format('%s|%s|%s|%s', d.kind, d.identity, d.change, COALESCE(d.attribute, '')) AS x
              FROM migrate.drift(full_check => rows_of.full_check) d) q;
    RETURN r;
EXCEPTION WHEN OTHERS THEN
    RETURN ARRAY['error|' || SQLSTATE || '|' || SQLERRM];
END
$$;

-- one out-of-band change against a snapshot saved just before it: the full
-- check and the incremental check each give exactly the rows wanted
CREATE FUNCTION pg_temp.check(change_sql text, want text[], description text, skip_why text DEFAULT NULL) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    full_rows text[];
    incr_rows text[];
BEGIN
    IF skip_why IS NOT NULL THEN
        RETURN NEXT skip(skip_why, 2);
        RETURN;
    END IF;
    PERFORM migrate.snapshot_save('attr');
    BEGIN
        EXECUTE change_sql;
    EXCEPTION WHEN OTHERS THEN
        full_rows := ARRAY['change failed|' || SQLSTATE || '|' || SQLERRM];
        incr_rows := full_rows;
    END;
    IF full_rows IS NULL THEN
        incr_rows := pg_temp.rows_of(false);
        full_rows := pg_temp.rows_of(true);
    END IF;
    RETURN NEXT is(full_rows, want, description || ' (full check)');
    RETURN NEXT is(incr_rows, want, description || ' (incremental check)');
END
$$;

CREATE FUNCTION pg_temp.has_citext() RETURNS boolean LANGUAGE sql AS $$
    SELECT count(*) = 2 FROM pg_available_extension_versions WHERE name = 'citext' AND version IN ('1.4', '1.5')
$$;

--
-- the objects
--
CREATE ROLE drift_attr_r1;
CREATE ROLE drift_attr_r2;
CREATE ROLE drift_attr_su SUPERUSER;

CREATE SCHEMA drift_as;
CREATE SCHEMA drift_a;

CREATE SCHEMA drift_ext;
CREATE SCHEMA drift_ext2;
DO $$ BEGIN
    IF pg_temp.has_citext() THEN
        CREATE EXTENSION citext VERSION '1.4' SCHEMA drift_ext;
    END IF;
END $$;

CREATE TYPE drift_a.en AS ENUM ('a', 'b');
CREATE TYPE drift_a.comp AS (a int, b text);
CREATE DOMAIN drift_a.dom AS int;
CREATE DOMAIN drift_a.dom2 AS int;
ALTER DOMAIN drift_a.dom2 ADD CONSTRAINT dom2_chk CHECK (VALUE < 100) NOT VALID;
CREATE TYPE drift_a.rng AS RANGE (subtype = float8);

CREATE ACCESS METHOD drift_heap2 TYPE TABLE HANDLER heap_tableam_handler;
CREATE TABLE drift_a.tb (id int CONSTRAINT tb_pkey PRIMARY KEY, v text);
CREATE TABLE drift_a.tb_p (id int);
CREATE TABLE drift_a.pt (k int) PARTITION BY RANGE (k);
CREATE TABLE drift_a.pt_other (k int) PARTITION BY RANGE (k);
CREATE TABLE drift_a.pt1 PARTITION OF drift_a.pt FOR VALUES FROM (0) TO (10);
CREATE TABLE drift_a.par (x int);
CREATE TABLE drift_a.ch (x int, y int);

CREATE TABLE drift_a.col (
    c_type int, c_coll text, c_nn int, c_def int, c_id int NOT NULL,
    c_base int, c_gen int GENERATED ALWAYS AS (c_base * 2) STORED, c_cmt int, c_priv int
);

CREATE TABLE drift_a.kref (id int CONSTRAINT kref_pkey PRIMARY KEY);
CREATE TABLE drift_a.k (
    a int, b int, r int,
    CONSTRAINT k_chk CHECK (a > 0),
    CONSTRAINT k_fk FOREIGN KEY (r) REFERENCES drift_a.kref,
    CONSTRAINT k_fk2 FOREIGN KEY (r) REFERENCES drift_a.kref DEFERRABLE
);
ALTER TABLE drift_a.k ADD CONSTRAINT k_nv CHECK (b > 0) NOT VALID;

CREATE TABLE drift_a.ix (a int, b int);
CREATE INDEX ix_a ON drift_a.ix (a);
CREATE INDEX ix_c ON drift_a.ix (a, b);

CREATE TABLE drift_a.tg (a int);
CREATE FUNCTION drift_a.tgf() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER tg_t BEFORE INSERT ON drift_a.tg FOR EACH ROW EXECUTE FUNCTION drift_a.tgf();

CREATE TABLE drift_a.vt (a int, b int);
GRANT SELECT ON drift_a.vt TO drift_attr_r1;   -- the materialized view's new owner refreshes it
CREATE VIEW drift_a.v AS SELECT a, b FROM drift_a.vt;
CREATE MATERIALIZED VIEW drift_a.mv AS SELECT a FROM drift_a.vt WITH NO DATA;

CREATE SEQUENCE drift_a.sq AS bigint MINVALUE 1 MAXVALUE 1000 START 1 INCREMENT 1 CACHE 1 NO CYCLE;
CREATE SEQUENCE drift_a.sq2;
CREATE TABLE drift_a.sqt (id int);

CREATE FUNCTION drift_a.fn(i int) RETURNS int LANGUAGE sql AS 'SELECT i + 1';
CREATE FUNCTION drift_a.fn2(i int, t text) RETURNS int LANGUAGE sql AS 'SELECT i';
CREATE PROCEDURE drift_a.pr(a int) LANGUAGE sql AS 'SELECT 1';

CREATE TABLE drift_a.pol (a int);
ALTER TABLE drift_a.pol ENABLE ROW LEVEL SECURITY;
CREATE POLICY p1 ON drift_a.pol FOR SELECT USING (true);
CREATE POLICY p2 ON drift_a.pol FOR ALL USING (true) WITH CHECK (true);
CREATE POLICY p3 ON drift_a.pol FOR SELECT USING (a > 0);

CREATE FUNCTION drift_a.evtf() RETURNS event_trigger LANGUAGE plpgsql AS 'BEGIN END';
CREATE FUNCTION drift_a.evtf2() RETURNS event_trigger LANGUAGE plpgsql AS 'BEGIN END';
CREATE EVENT TRIGGER drift_attr_evt ON ddl_command_start EXECUTE FUNCTION drift_a.evtf();

CREATE TABLE drift_a.pubt (id int);
CREATE TABLE drift_a.pubt2 (id int);
CREATE PUBLICATION drift_attr_pub FOR TABLE drift_a.pubt;

-- a snapshot and no change: nothing
SELECT * FROM pg_temp.check('SELECT 1', '{}', 'no change: no drift');

--
-- schema
--
SELECT * FROM pg_temp.check('ALTER SCHEMA drift_as OWNER TO drift_attr_r1', '{schema|drift_as|changed|owner}', 'schema: owner');
SELECT * FROM pg_temp.check($$COMMENT ON SCHEMA drift_as IS 'drift'$$, '{schema|drift_as|changed|comment}', 'schema: comment');
SELECT * FROM pg_temp.check('GRANT USAGE ON SCHEMA drift_as TO drift_attr_r2', '{schema|drift_as|changed|privileges}', 'schema: privileges');

--
-- extension
--
SELECT * FROM pg_temp.check($$ALTER EXTENSION citext UPDATE TO '1.5'$$, '{extension|citext|changed|version}', 'extension: version',
    CASE WHEN NOT pg_temp.has_citext() THEN 'citext 1.4 and 1.5 are not available' END);
SELECT * FROM pg_temp.check('ALTER EXTENSION citext SET SCHEMA drift_ext2', '{extension|citext|changed|schema}', 'extension: schema',
    CASE WHEN NOT pg_temp.has_citext() THEN 'citext 1.4 and 1.5 are not available' END);

--
-- type
--
SELECT * FROM pg_temp.check($$ALTER TYPE drift_a.en ADD VALUE 'c'$$, '{type|drift_a.en|changed|values}', 'enum: a value added');
SELECT * FROM pg_temp.check($$ALTER TYPE drift_a.en RENAME VALUE 'a' TO 'a2'$$, '{type|drift_a.en|changed|values}', 'enum: a value renamed');
SELECT * FROM pg_temp.check('ALTER TYPE drift_a.comp ADD ATTRIBUTE c text', '{type|drift_a.comp|changed|attributes}', 'composite: an attribute added');
SELECT * FROM pg_temp.check('ALTER TYPE drift_a.comp ALTER ATTRIBUTE a TYPE bigint', '{type|drift_a.comp|changed|attributes}',
    'composite: an attribute''s type');
SELECT * FROM pg_temp.check('ALTER DOMAIN drift_a.dom SET NOT NULL', '{type|drift_a.dom|changed|not_null}', 'domain: not_null');
SELECT * FROM pg_temp.check('ALTER DOMAIN drift_a.dom SET DEFAULT 5', '{type|drift_a.dom|changed|default}', 'domain: default');
SELECT * FROM pg_temp.check('ALTER DOMAIN drift_a.dom ADD CONSTRAINT dom_pos CHECK (VALUE > 0)', '{type|drift_a.dom|changed|constraints}',
    'domain: a constraint added');
SELECT * FROM pg_temp.check('ALTER DOMAIN drift_a.dom2 VALIDATE CONSTRAINT dom2_chk', '{type|drift_a.dom2|changed|constraints}',
    'domain: a constraint validated');
SELECT skip('a domain''s base_type and collation cannot change in place', 2);
SELECT skip('a range type''s range (subtype, opclass, canonical, subtype_diff) cannot change in place', 2);
SELECT * FROM pg_temp.check('ALTER TYPE drift_a.en OWNER TO drift_attr_r1', '{type|drift_a.en|changed|owner}', 'enum: owner');
SELECT * FROM pg_temp.check('ALTER TYPE drift_a.comp OWNER TO drift_attr_r1', '{type|drift_a.comp|changed|owner}', 'composite: owner');
SELECT * FROM pg_temp.check('ALTER DOMAIN drift_a.dom OWNER TO drift_attr_r1', '{type|drift_a.dom|changed|owner}', 'domain: owner');
SELECT * FROM pg_temp.check('ALTER TYPE drift_a.rng OWNER TO drift_attr_r1', '{type|drift_a.rng|changed|owner}', 'range: owner');
SELECT * FROM pg_temp.check($$COMMENT ON TYPE drift_a.rng IS 'drift'$$, '{type|drift_a.rng|changed|comment}', 'range: comment');
SELECT * FROM pg_temp.check($$COMMENT ON DOMAIN drift_a.dom IS 'drift'$$, '{type|drift_a.dom|changed|comment}', 'domain: comment');
SELECT * FROM pg_temp.check('GRANT USAGE ON TYPE drift_a.en TO drift_attr_r2', '{type|drift_a.en|changed|privileges}', 'enum: privileges');

--
-- table
--
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.tb_p SET UNLOGGED', '{table|drift_a.tb_p|changed|persistence}', 'table: persistence');
SELECT skip('a table''s kind and partition_key cannot change in place', 2);
-- bug: the incremental check misses all four partition changes (no rows): the
-- ledger records ALTER TABLE on the parent (drift_a.pt) only, and the partition
-- drift_a.pt1, whose partition_of and partition_bound change, is not re-read
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.pt DETACH PARTITION drift_a.pt1',
    '{table|drift_a.pt1|changed|partition_bound,table|drift_a.pt1|changed|partition_of}', 'table: partition detached (partition_of and bound)');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.pt ATTACH PARTITION drift_a.pt1 FOR VALUES FROM (0) TO (10)',
    '{table|drift_a.pt1|changed|partition_bound,table|drift_a.pt1|changed|partition_of}', 'table: partition attached (partition_of and bound)');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.pt DETACH PARTITION drift_a.pt1; ALTER TABLE drift_a.pt ATTACH PARTITION drift_a.pt1 FOR VALUES FROM (0) TO (20)',
    '{table|drift_a.pt1|changed|partition_bound}', 'table: partition_bound');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.pt DETACH PARTITION drift_a.pt1; ALTER TABLE drift_a.pt_other ATTACH PARTITION drift_a.pt1 FOR VALUES FROM (0) TO (20)',
    '{table|drift_a.pt1|changed|partition_of}', 'table: partition_of');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.ch INHERIT drift_a.par', '{table|drift_a.ch|changed|inherits}', 'table: inherits (INHERIT)');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.ch NO INHERIT drift_a.par', '{table|drift_a.ch|changed|inherits}', 'table: inherits (NO INHERIT)');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.tb REPLICA IDENTITY FULL', '{table|drift_a.tb|changed|replica_identity}', 'table: replica_identity full');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.tb REPLICA IDENTITY USING INDEX tb_pkey', '{table|drift_a.tb|changed|replica_identity}',
    'table: replica_identity using an index');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.tb ENABLE ROW LEVEL SECURITY', '{table|drift_a.tb|changed|row_level_security}', 'table: row_level_security');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.tb FORCE ROW LEVEL SECURITY', '{table|drift_a.tb|changed|force_row_level_security}',
    'table: force_row_level_security');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.tb SET (fillfactor = 70)', '{table|drift_a.tb|changed|options}', 'table: options');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.tb SET ACCESS METHOD drift_heap2', '{table|drift_a.tb|changed|access_method}', 'table: access_method');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.tb OWNER TO drift_attr_r1', '{table|drift_a.tb|changed|owner}', 'table: owner');
SELECT * FROM pg_temp.check($$COMMENT ON TABLE drift_a.tb IS 'drift'$$, '{table|drift_a.tb|changed|comment}', 'table: comment');
SELECT * FROM pg_temp.check('GRANT SELECT ON drift_a.tb TO drift_attr_r2', '{table|drift_a.tb|changed|privileges}', 'table: privileges');

--
-- column
--
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.col ALTER COLUMN c_type TYPE bigint', '{column|drift_a.col.c_type|changed|type}', 'column: type');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.col ALTER COLUMN c_coll TYPE text COLLATE "C"', '{column|drift_a.col.c_coll|changed|collation}',
    'column: collation');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.col ALTER COLUMN c_nn SET NOT NULL', '{column|drift_a.col.c_nn|changed|not_null}', 'column: not_null');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.col ALTER COLUMN c_def SET DEFAULT 7', '{column|drift_a.col.c_def|changed|default}', 'column: default');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.col ALTER COLUMN c_id ADD GENERATED ALWAYS AS IDENTITY', '{column|drift_a.col.c_id|changed|identity}',
    'column: identity added');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.col ALTER COLUMN c_id SET GENERATED BY DEFAULT', '{column|drift_a.col.c_id|changed|identity}',
    'column: identity always to by default');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.col ALTER COLUMN c_gen DROP EXPRESSION', '{column|drift_a.col.c_gen|changed|generated}',
    'column: generated (DROP EXPRESSION)');
SELECT skip('a column''s position changes only by drop and add (missing and unexpected, not an attribute)', 2);
SELECT * FROM pg_temp.check($$COMMENT ON COLUMN drift_a.col.c_cmt IS 'drift'$$, '{column|drift_a.col.c_cmt|changed|comment}', 'column: comment');
SELECT * FROM pg_temp.check('GRANT SELECT (c_priv) ON drift_a.col TO drift_attr_r2', '{column|drift_a.col.c_priv|changed|privileges}',
    'column: privileges');

--
-- constraint
--
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.k DROP CONSTRAINT k_chk, ADD CONSTRAINT k_chk CHECK (a > 1)',
    '{constraint|drift_a.k.k_chk|changed|definition}', 'constraint: definition (dropped and added with the same name)');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.k VALIDATE CONSTRAINT k_nv', '{constraint|drift_a.k.k_nv|changed|validated}', 'constraint: validated');
-- bug: the definition (pg_get_constraintdef, with its DEFERRABLE / INITIALLY
-- DEFERRED suffix) is reported changed too, besides deferrable or
-- initially_deferred (as the NOT VALID suffix was before validated)
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.k ALTER CONSTRAINT k_fk DEFERRABLE', '{constraint|drift_a.k.k_fk|changed|deferrable}',
    'constraint: deferrable');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.k ALTER CONSTRAINT k_fk2 DEFERRABLE INITIALLY DEFERRED',
    '{constraint|drift_a.k.k_fk2|changed|initially_deferred}', 'constraint: initially_deferred');
SELECT skip('a constraint''s type and no_inherit cannot change in place', 2);
SELECT * FROM pg_temp.check($$COMMENT ON CONSTRAINT k_chk ON drift_a.k IS 'drift'$$, '{constraint|drift_a.k.k_chk|changed|comment}', 'constraint: comment');

--
-- index
--
SELECT * FROM pg_temp.check('DROP INDEX drift_a.ix_a; CREATE INDEX ix_a ON drift_a.ix (b)', '{index|drift_a.ix_a|changed|definition}',
    'index: definition (dropped and created with the same name)');
SELECT * FROM pg_temp.check('ALTER INDEX drift_a.ix_a SET (fillfactor = 50)', '{index|drift_a.ix_a|changed|definition}', 'index: definition (storage parameter)');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.ix CLUSTER ON ix_c', '{index|drift_a.ix_c|changed|clustered}', 'index: clustered (CLUSTER ON)');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.ix SET WITHOUT CLUSTER', '{index|drift_a.ix_c|changed|clustered}', 'index: clustered (SET WITHOUT CLUSTER)');
-- CLUSTER fires no event trigger, so the DDL ledger never sees it (a blind
-- spot the README documents): the full check finds it, the incremental one cannot
CREATE FUNCTION pg_temp.cluster_case() RETURNS text[] LANGUAGE plpgsql AS $$
BEGIN
    PERFORM migrate.snapshot_save('attr');
    CLUSTER drift_a.ix USING ix_a;
    RETURN pg_temp.rows_of(true);
END
$$;
SELECT is(pg_temp.cluster_case(), '{index|drift_a.ix_a|changed|clustered}'::text[], 'index: clustered (CLUSTER ... USING) (full check)');
SELECT skip('CLUSTER fires no event trigger, so the incremental check cannot see it (documented blind spot; the full check finds it)', 1);
SELECT skip('an index''s valid changes only through a failed CREATE INDEX CONCURRENTLY (outside a transaction)', 2);
SELECT * FROM pg_temp.check($$COMMENT ON INDEX drift_a.ix_c IS 'drift'$$, '{index|drift_a.ix_c|changed|comment}', 'index: comment');

--
-- trigger
--
SELECT * FROM pg_temp.check('DROP TRIGGER tg_t ON drift_a.tg; CREATE TRIGGER tg_t AFTER INSERT ON drift_a.tg FOR EACH ROW EXECUTE FUNCTION drift_a.tgf()',
    '{trigger|drift_a.tg.tg_t|changed|definition}', 'trigger: definition (dropped and created with the same name)');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.tg DISABLE TRIGGER tg_t', '{trigger|drift_a.tg.tg_t|changed|enabled}', 'trigger: enabled (disabled)');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.tg ENABLE REPLICA TRIGGER tg_t', '{trigger|drift_a.tg.tg_t|changed|enabled}', 'trigger: enabled (replica)');
SELECT * FROM pg_temp.check('ALTER TABLE drift_a.tg ENABLE ALWAYS TRIGGER tg_t', '{trigger|drift_a.tg.tg_t|changed|enabled}', 'trigger: enabled (always)');
SELECT * FROM pg_temp.check($$COMMENT ON TRIGGER tg_t ON drift_a.tg IS 'drift'$$, '{trigger|drift_a.tg.tg_t|changed|comment}', 'trigger: comment');

--
-- view
--
SELECT skip('a view''s kind cannot change in place', 2);
SELECT * FROM pg_temp.check('CREATE OR REPLACE VIEW drift_a.v AS SELECT a, b FROM drift_a.vt WHERE a > 0', '{view|drift_a.v|changed|definition}',
    'view: definition');
SELECT * FROM pg_temp.check('ALTER VIEW drift_a.v SET (security_invoker = true)', '{view|drift_a.v|changed|options}', 'view: options');
SELECT * FROM pg_temp.check('ALTER VIEW drift_a.v OWNER TO drift_attr_r1', '{view|drift_a.v|changed|owner}', 'view: owner');
SELECT * FROM pg_temp.check($$COMMENT ON VIEW drift_a.v IS 'drift'$$, '{view|drift_a.v|changed|comment}', 'view: comment');
SELECT * FROM pg_temp.check($$COMMENT ON COLUMN drift_a.v.a IS 'drift'$$, '{view|drift_a.v|changed|column_comments}', 'view: column_comments');
SELECT * FROM pg_temp.check('GRANT SELECT ON drift_a.v TO drift_attr_r2', '{view|drift_a.v|changed|privileges}', 'view: privileges');

--
-- materialized view
--
SELECT * FROM pg_temp.check('DROP MATERIALIZED VIEW drift_a.mv; CREATE MATERIALIZED VIEW drift_a.mv AS SELECT a, b FROM drift_a.vt WITH NO DATA',
    '{view|drift_a.mv|changed|definition}', 'materialized view: definition (dropped and created with the same name)');
SELECT * FROM pg_temp.check('ALTER MATERIALIZED VIEW drift_a.mv SET (fillfactor = 60)', '{view|drift_a.mv|changed|options}', 'materialized view: options');
SELECT * FROM pg_temp.check('ALTER MATERIALIZED VIEW drift_a.mv OWNER TO drift_attr_r1', '{view|drift_a.mv|changed|owner}', 'materialized view: owner');
SELECT * FROM pg_temp.check($$COMMENT ON MATERIALIZED VIEW drift_a.mv IS 'drift'$$, '{view|drift_a.mv|changed|comment}', 'materialized view: comment');
SELECT * FROM pg_temp.check($$COMMENT ON COLUMN drift_a.mv.a IS 'drift'$$, '{view|drift_a.mv|changed|column_comments}',
    'materialized view: column_comments');
SELECT * FROM pg_temp.check('GRANT SELECT ON drift_a.mv TO drift_attr_r2', '{view|drift_a.mv|changed|privileges}', 'materialized view: privileges');
SELECT * FROM pg_temp.check('REFRESH MATERIALIZED VIEW drift_a.mv', '{}', 'materialized view: populated is not modelled, a REFRESH is no drift');

--
-- sequence
--
SELECT * FROM pg_temp.check('ALTER SEQUENCE drift_a.sq AS integer', '{sequence|drift_a.sq|changed|type}', 'sequence: type');
SELECT * FROM pg_temp.check('ALTER SEQUENCE drift_a.sq START WITH 5', '{sequence|drift_a.sq|changed|start}', 'sequence: start');
SELECT * FROM pg_temp.check('ALTER SEQUENCE drift_a.sq INCREMENT BY 2', '{sequence|drift_a.sq|changed|increment}', 'sequence: increment');
SELECT * FROM pg_temp.check('ALTER SEQUENCE drift_a.sq MINVALUE 0', '{sequence|drift_a.sq|changed|min}', 'sequence: min');
SELECT * FROM pg_temp.check('ALTER SEQUENCE drift_a.sq MAXVALUE 2000', '{sequence|drift_a.sq|changed|max}', 'sequence: max');
SELECT * FROM pg_temp.check('ALTER SEQUENCE drift_a.sq CACHE 10', '{sequence|drift_a.sq|changed|cache}', 'sequence: cache');
SELECT * FROM pg_temp.check('ALTER SEQUENCE drift_a.sq CYCLE', '{sequence|drift_a.sq|changed|cycle}', 'sequence: cycle');
SELECT * FROM pg_temp.check('ALTER SEQUENCE drift_a.sq OWNED BY drift_a.sqt.id', '{sequence|drift_a.sq|changed|owned_by}', 'sequence: owned_by');
SELECT * FROM pg_temp.check('ALTER SEQUENCE drift_a.sq2 OWNER TO drift_attr_r1', '{sequence|drift_a.sq2|changed|owner}', 'sequence: owner');
SELECT * FROM pg_temp.check($$COMMENT ON SEQUENCE drift_a.sq2 IS 'drift'$$, '{sequence|drift_a.sq2|changed|comment}', 'sequence: comment');
SELECT * FROM pg_temp.check('GRANT USAGE ON SEQUENCE drift_a.sq2 TO drift_attr_r2', '{sequence|drift_a.sq2|changed|privileges}', 'sequence: privileges');

--
-- function
--
SELECT skip('a function''s kind cannot change in place', 2);
SELECT * FROM pg_temp.check('CREATE OR REPLACE FUNCTION drift_a.fn(i int) RETURNS int LANGUAGE sql AS ''SELECT i + 2''',
    '{function|drift_a.fn(integer)|changed|definition}', 'function: definition (body)');
SELECT * FROM pg_temp.check('ALTER FUNCTION drift_a.fn(int) SET search_path = pg_catalog', '{function|drift_a.fn(integer)|changed|definition}',
    'function: definition (SET clause)');
SELECT * FROM pg_temp.check('ALTER FUNCTION drift_a.fn(int) STABLE', '{function|drift_a.fn(integer)|changed|definition}', 'function: definition (volatility)');
SELECT * FROM pg_temp.check('ALTER FUNCTION drift_a.fn(int) SECURITY DEFINER', '{function|drift_a.fn(integer)|changed|definition}',
    'function: definition (SECURITY DEFINER)');
SELECT * FROM pg_temp.check('ALTER FUNCTION drift_a.fn(int) PARALLEL SAFE', '{function|drift_a.fn(integer)|changed|definition}',
    'function: definition (PARALLEL SAFE)');
SELECT * FROM pg_temp.check('ALTER FUNCTION drift_a.fn(int) STRICT', '{function|drift_a.fn(integer)|changed|definition}', 'function: definition (STRICT)');
SELECT * FROM pg_temp.check('ALTER FUNCTION drift_a.fn(int) COST 500', '{function|drift_a.fn(integer)|changed|definition}', 'function: definition (COST)');
-- bug: the incremental check returns no rows: the ledger identity is
-- drift_a.fn2(integer,pg_catalog.text) (types qualified), the snapshot's
-- drift_a.fn2(integer, text) (oidvectortypes); ledger_touched only adds spaces
SELECT * FROM pg_temp.check('ALTER FUNCTION drift_a.fn2(int, text) STABLE', '{"function|drift_a.fn2(integer, text)|changed|definition"}',
    'function of two arguments: definition');
SELECT * FROM pg_temp.check('ALTER FUNCTION drift_a.fn(int) OWNER TO drift_attr_r1', '{function|drift_a.fn(integer)|changed|owner}', 'function: owner');
SELECT * FROM pg_temp.check($$COMMENT ON FUNCTION drift_a.fn(int) IS 'drift'$$, '{function|drift_a.fn(integer)|changed|comment}', 'function: comment');
SELECT * FROM pg_temp.check('REVOKE EXECUTE ON FUNCTION drift_a.fn(int) FROM PUBLIC', '{function|drift_a.fn(integer)|changed|privileges}',
    'function: privileges');

--
-- procedure
--
SELECT * FROM pg_temp.check('CREATE OR REPLACE PROCEDURE drift_a.pr(a int) LANGUAGE sql AS ''SELECT 2''',
    '{function|drift_a.pr(integer)|changed|definition}', 'procedure: definition (body)');
SELECT * FROM pg_temp.check($$ALTER PROCEDURE drift_a.pr(int) SET work_mem = '64kB'$$, '{function|drift_a.pr(integer)|changed|definition}',
    'procedure: definition (SET clause)');
SELECT * FROM pg_temp.check('ALTER PROCEDURE drift_a.pr(int) OWNER TO drift_attr_r1', '{function|drift_a.pr(integer)|changed|owner}', 'procedure: owner');
SELECT * FROM pg_temp.check($$COMMENT ON PROCEDURE drift_a.pr(int) IS 'drift'$$, '{function|drift_a.pr(integer)|changed|comment}', 'procedure: comment');
SELECT * FROM pg_temp.check('REVOKE EXECUTE ON PROCEDURE drift_a.pr(int) FROM PUBLIC', '{function|drift_a.pr(integer)|changed|privileges}',
    'procedure: privileges');

--
-- policy
--
SELECT * FROM pg_temp.check('DROP POLICY p1 ON drift_a.pol; CREATE POLICY p1 ON drift_a.pol FOR ALL USING (true)',
    '{policy|p1 on drift_a.pol|changed|command}', 'policy: command');
SELECT * FROM pg_temp.check('DROP POLICY p3 ON drift_a.pol; CREATE POLICY p3 ON drift_a.pol AS RESTRICTIVE FOR SELECT USING (a > 0)',
    '{policy|p3 on drift_a.pol|changed|permissive}', 'policy: permissive');
SELECT * FROM pg_temp.check('ALTER POLICY p3 ON drift_a.pol TO drift_attr_r1', '{policy|p3 on drift_a.pol|changed|roles}', 'policy: roles');
SELECT * FROM pg_temp.check('ALTER POLICY p3 ON drift_a.pol USING (a > 5)', '{policy|p3 on drift_a.pol|changed|using}', 'policy: using');
SELECT * FROM pg_temp.check('ALTER POLICY p2 ON drift_a.pol WITH CHECK (a > 1)', '{policy|p2 on drift_a.pol|changed|with_check}', 'policy: with_check');
SELECT * FROM pg_temp.check($$COMMENT ON POLICY p2 ON drift_a.pol IS 'drift'$$, '{policy|p2 on drift_a.pol|changed|comment}', 'policy: comment');

--
-- event trigger
--
-- bug: every incremental check here returns no rows: CREATE, ALTER, DROP and
-- COMMENT ON EVENT TRIGGER fire no event trigger, so the ledger has nothing
SELECT * FROM pg_temp.check($$DROP EVENT TRIGGER drift_attr_evt;
    CREATE EVENT TRIGGER drift_attr_evt ON ddl_command_start WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION drift_a.evtf()$$,
    '{event trigger|drift_attr_evt|changed|tags}', 'event trigger: tags (dropped and created with the same name)');
SELECT * FROM pg_temp.check($$DROP EVENT TRIGGER drift_attr_evt;
    CREATE EVENT TRIGGER drift_attr_evt ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION drift_a.evtf()$$,
    '{event trigger|drift_attr_evt|changed|event}', 'event trigger: event (dropped and created with the same name)');
SELECT * FROM pg_temp.check($$DROP EVENT TRIGGER drift_attr_evt;
    CREATE EVENT TRIGGER drift_attr_evt ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION drift_a.evtf2()$$,
    '{event trigger|drift_attr_evt|changed|function}', 'event trigger: function (dropped and created with the same name)');
SELECT * FROM pg_temp.check('ALTER EVENT TRIGGER drift_attr_evt DISABLE', '{event trigger|drift_attr_evt|changed|enabled}', 'event trigger: enabled (disabled)');
SELECT * FROM pg_temp.check('ALTER EVENT TRIGGER drift_attr_evt ENABLE REPLICA', '{event trigger|drift_attr_evt|changed|enabled}',
    'event trigger: enabled (replica)');
SELECT * FROM pg_temp.check('ALTER EVENT TRIGGER drift_attr_evt ENABLE ALWAYS', '{event trigger|drift_attr_evt|changed|enabled}',
    'event trigger: enabled (always)');
SELECT * FROM pg_temp.check('ALTER EVENT TRIGGER drift_attr_evt OWNER TO drift_attr_su', '{event trigger|drift_attr_evt|changed|owner}', 'event trigger: owner');
SELECT * FROM pg_temp.check($$COMMENT ON EVENT TRIGGER drift_attr_evt IS 'drift'$$, '{event trigger|drift_attr_evt|changed|comment}',
    'event trigger: comment');

--
-- publication
--
SELECT skip('a publication''s all_tables cannot change in place', 2);
SELECT * FROM pg_temp.check($$ALTER PUBLICATION drift_attr_pub SET (publish = 'update, delete, truncate')$$, '{publication|drift_attr_pub|changed|insert}',
    'publication: insert');
SELECT * FROM pg_temp.check($$ALTER PUBLICATION drift_attr_pub SET (publish = 'delete, truncate')$$, '{publication|drift_attr_pub|changed|update}',
    'publication: update');
SELECT * FROM pg_temp.check($$ALTER PUBLICATION drift_attr_pub SET (publish = 'truncate')$$, '{publication|drift_attr_pub|changed|delete}',
    'publication: delete');
SELECT * FROM pg_temp.check($$ALTER PUBLICATION drift_attr_pub SET (publish = '')$$, '{publication|drift_attr_pub|changed|truncate}',
    'publication: truncate');
-- bug: the incremental check returns no rows for ADD TABLE and DROP TABLE: the
-- ledger identity is 'drift_a.pubt2 in publication drift_attr_pub' (object
-- type publication relation), which names neither the publication nor a table
SELECT * FROM pg_temp.check('ALTER PUBLICATION drift_attr_pub ADD TABLE drift_a.pubt2', '{publication|drift_attr_pub|changed|tables}',
    'publication: tables (a table added)');
SELECT * FROM pg_temp.check('ALTER PUBLICATION drift_attr_pub DROP TABLE drift_a.pubt', '{publication|drift_attr_pub|changed|tables}',
    'publication: tables (a table dropped)');
SELECT * FROM pg_temp.check('ALTER PUBLICATION drift_attr_pub SET (publish_via_partition_root = true)', '{publication|drift_attr_pub|changed|via_root}',
    'publication: via_root');
SELECT * FROM pg_temp.check($$COMMENT ON PUBLICATION drift_attr_pub IS 'drift'$$, '{publication|drift_attr_pub|changed|comment}', 'publication: comment');
SELECT * FROM pg_temp.check('ALTER PUBLICATION drift_attr_pub OWNER TO drift_attr_su', '{publication|drift_attr_pub|changed|owner}', 'publication: owner');

SELECT * FROM finish();
ROLLBACK;
