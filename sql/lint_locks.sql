-- migrate.lint's lock profile against the locks PostgreSQL really takes
--
-- For each statement kind: the mode of lint's lock-profile row on the target
-- relation (predicted), the strongest mode this backend holds on that
-- relation after running the statement (observed, read from pg_locks inside
-- a subtransaction that is then rolled back), and the strongest mode
-- migrate.dry_run reports for it.  Every row must agree with both.
-- VACUUM (FULL) cannot run in a transaction block and is not compared.
SET client_min_messages = warning;
CREATE SCHEMA ll;
CREATE SCHEMA ll_other;
SET search_path = ll, public;
CREATE TABLE ref (id bigint PRIMARY KEY);
INSERT INTO ref SELECT g FROM generate_series(1, 100) g;
CREATE TABLE t (id bigint PRIMARY KEY, ref_id bigint, a int, b text);
INSERT INTO t SELECT g, 1 + g % 100, g, 'b' || g FROM generate_series(1, 1000) g;
CREATE INDEX t_a_idx ON t (a);
CREATE UNIQUE INDEX t_a_key ON t (a);
ALTER TABLE t ADD CONSTRAINT t_a_check CHECK (a > 0) NOT VALID;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER t_touch BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION touch();
CREATE POLICY t_all ON t USING (true);
CREATE VIEW t_view AS SELECT id FROM t;
CREATE MATERIALIZED VIEW t_mv AS SELECT ref_id, count(*) AS n FROM t GROUP BY ref_id;
CREATE UNIQUE INDEX t_mv_key ON t_mv (ref_id);
CREATE SEQUENCE s;
CREATE TABLE parted (id bigint, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE parted_2024 PARTITION OF parted FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE parted_2025 (id bigint, at date NOT NULL);
CREATE TABLE base (id bigint);
ANALYZE ref, t;

-- lint's predicted mode on the target (NULL: no lock-profile row)
CREATE FUNCTION predicted_lock(stmt text, target text) RETURNS text
LANGUAGE sql AS $$
  SELECT lock_mode FROM migrate.lint(stmt) WHERE rule = 'lock-profile' AND relation = target
$$;

-- the strongest mode held on the target after running stmt, rolled back
CREATE FUNCTION observed_lock(stmt text, target text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  rel oid := to_regclass(target);
  modes text[] := '{AccessShareLock,RowShareLock,RowExclusiveLock,ShareUpdateExclusiveLock,'
                  'ShareLock,ShareRowExclusiveLock,ExclusiveLock,AccessExclusiveLock}';
  result text;
BEGIN
  IF rel IS NULL THEN
    RAISE EXCEPTION 'relation % does not exist', target;
  END IF;
  BEGIN
    EXECUTE stmt;
    SELECT l.mode INTO result FROM pg_locks l
     WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.relation = rel
       AND l.granted
     ORDER BY array_position(modes, l.mode) DESC LIMIT 1;
    RAISE EXCEPTION USING ERRCODE = 'LL001', MESSAGE = 'roll back';
  EXCEPTION WHEN SQLSTATE 'LL001' THEN
    RETURN result;
  END;
END
$$;

-- the strongest mode migrate.dry_run reports on the target for stmt
CREATE FUNCTION dry_run_lock(stmt text, target text) RETURNS text
LANGUAGE sql AS $$
  SELECT substr(l, length(target) + 3)
    FROM migrate.dry_run(stmt) d, unnest(d.locks) l
   WHERE l LIKE target || ': %'
   ORDER BY array_position('{AccessShareLock,RowShareLock,RowExclusiveLock,ShareUpdateExclusiveLock,'
                           'ShareLock,ShareRowExclusiveLock,ExclusiveLock,AccessExclusiveLock}'::text[],
                           substr(l, length(target) + 3)) DESC
   LIMIT 1
$$;

CREATE TABLE cases (no int GENERATED ALWAYS AS IDENTITY, kind text, stmt text, target text);
INSERT INTO cases (kind, stmt, target) VALUES
  -- ALTER TABLE
  ('ALTER TABLE ADD COLUMN', 'ALTER TABLE t ADD COLUMN c int', 'll.t'),
  ('ALTER TABLE ADD COLUMN DEFAULT', 'ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 0', 'll.t'),
  ('ALTER TABLE ADD COLUMN REFERENCES', 'ALTER TABLE t ADD COLUMN c bigint REFERENCES ref', 'll.t'),
  ('ALTER TABLE ADD COLUMN REFERENCES (referenced)', 'ALTER TABLE t ADD COLUMN c bigint REFERENCES ref', 'll.ref'),
  ('ALTER TABLE SET NOT NULL', 'ALTER TABLE t ALTER COLUMN b SET NOT NULL', 'll.t'),
  ('ALTER TABLE DROP NOT NULL', 'ALTER TABLE parted_2025 ALTER COLUMN at DROP NOT NULL', 'll.parted_2025'),
  ('ALTER TABLE ADD FOREIGN KEY', 'ALTER TABLE t ADD CONSTRAINT t_ref_fk FOREIGN KEY (ref_id) REFERENCES ref', 'll.t'),
  ('ALTER TABLE ADD FOREIGN KEY (referenced)', 'ALTER TABLE t ADD CONSTRAINT t_ref_fk FOREIGN KEY (ref_id) REFERENCES ref', 'll.ref'),
  ('ALTER TABLE ADD FOREIGN KEY NOT VALID', 'ALTER TABLE t ADD CONSTRAINT t_ref_fk FOREIGN KEY (ref_id) REFERENCES ref NOT VALID', 'll.t'),
  ('ALTER TABLE ADD CHECK', 'ALTER TABLE t ADD CONSTRAINT t_id_check CHECK (id > 0)', 'll.t'),
  ('ALTER TABLE ADD CHECK NOT VALID', 'ALTER TABLE t ADD CONSTRAINT t_id_check CHECK (id > 0) NOT VALID', 'll.t'),
  ('ALTER TABLE ADD UNIQUE', 'ALTER TABLE t ADD CONSTRAINT t_b_unique UNIQUE (b)', 'll.t'),
  ('ALTER TABLE ADD UNIQUE USING INDEX', 'ALTER TABLE t ADD CONSTRAINT t_a_unique UNIQUE USING INDEX t_a_key', 'll.t'),
  ('ALTER TABLE ADD PRIMARY KEY', 'ALTER TABLE base ADD PRIMARY KEY (id)', 'll.base'),
  ('ALTER TABLE ADD EXCLUDE', 'ALTER TABLE t ADD CONSTRAINT t_a_excl EXCLUDE (a WITH =)', 'll.t'),
  ('ALTER TABLE VALIDATE CONSTRAINT', 'ALTER TABLE t VALIDATE CONSTRAINT t_a_check', 'll.t'),
  ('ALTER TABLE SET STATISTICS', 'ALTER TABLE t ALTER COLUMN a SET STATISTICS 500', 'll.t'),
  ('ALTER TABLE SET DEFAULT', 'ALTER TABLE t ALTER COLUMN a SET DEFAULT 0', 'll.t'),
  ('ALTER TABLE DROP DEFAULT', 'ALTER TABLE t ALTER COLUMN a DROP DEFAULT', 'll.t'),
  ('ALTER TABLE ALTER COLUMN TYPE', 'ALTER TABLE t ALTER COLUMN a TYPE bigint', 'll.t'),
  ('ALTER TABLE DROP COLUMN', 'ALTER TABLE t DROP COLUMN b', 'll.t'),
  ('ALTER TABLE ENABLE ROW LEVEL SECURITY', 'ALTER TABLE t ENABLE ROW LEVEL SECURITY', 'll.t'),
  ('ALTER TABLE SET (fillfactor)', 'ALTER TABLE t SET (fillfactor = 70)', 'll.t'),
  ('ALTER TABLE CLUSTER ON', 'ALTER TABLE t CLUSTER ON t_a_idx', 'll.t'),
  ('ALTER TABLE DISABLE TRIGGER', 'ALTER TABLE t DISABLE TRIGGER t_touch', 'll.t'),
  ('ALTER TABLE OWNER TO', 'ALTER TABLE t OWNER TO CURRENT_USER', 'll.t'),
  ('ALTER TABLE REPLICA IDENTITY', 'ALTER TABLE t REPLICA IDENTITY FULL', 'll.t'),
  ('ALTER TABLE ATTACH PARTITION (parent)', 'ALTER TABLE parted ATTACH PARTITION parted_2025 FOR VALUES FROM (''2025-01-01'') TO (''2026-01-01'')', 'll.parted'),
  ('ALTER TABLE ATTACH PARTITION (partition)', 'ALTER TABLE parted ATTACH PARTITION parted_2025 FOR VALUES FROM (''2025-01-01'') TO (''2026-01-01'')', 'll.parted_2025'),
  ('ALTER TABLE DETACH PARTITION (parent)', 'ALTER TABLE parted DETACH PARTITION parted_2024', 'll.parted'),
  ('ALTER TABLE DETACH PARTITION (partition)', 'ALTER TABLE parted DETACH PARTITION parted_2024', 'll.parted_2024'),
  ('ALTER INDEX SET (fillfactor)', 'ALTER INDEX t_a_idx SET (fillfactor = 70)', 'll.t_a_idx'),
  -- CREATE INDEX
  ('CREATE INDEX', 'CREATE INDEX ON t (b)', 'll.t'),
  ('CREATE UNIQUE INDEX', 'CREATE UNIQUE INDEX ON t (id, b)', 'll.t'),
  ('CREATE INDEX on a partitioned table', 'CREATE INDEX ON parted (id)', 'll.parted'),
  ('CREATE INDEX on a partition', 'CREATE INDEX ON parted_2024 (id)', 'll.parted_2024'),
  ('CREATE INDEX on a materialized view', 'CREATE INDEX ON t_mv (n)', 'll.t_mv'),
  -- DROP
  ('DROP INDEX', 'DROP INDEX t_a_idx', 'll.t_a_idx'),
  ('DROP TABLE', 'DROP TABLE parted_2025', 'll.parted_2025'),
  ('DROP VIEW', 'DROP VIEW t_view', 'll.t_view'),
  ('DROP MATERIALIZED VIEW', 'DROP MATERIALIZED VIEW t_mv', 'll.t_mv'),
  ('DROP SEQUENCE', 'DROP SEQUENCE s', 'll.s'),
  ('DROP TRIGGER', 'DROP TRIGGER t_touch ON t', 'll.t'),
  ('TRUNCATE', 'TRUNCATE t', 'll.t'),
  -- triggers and policies
  ('CREATE TRIGGER', 'CREATE TRIGGER t_touch2 BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION touch()', 'll.t'),
  ('CREATE POLICY', 'CREATE POLICY t_none ON t USING (false)', 'll.t'),
  ('ALTER POLICY', 'ALTER POLICY t_all ON t USING (a > 0)', 'll.t'),
  ('DROP POLICY', 'DROP POLICY t_all ON t', 'll.t'),
  -- renames
  ('RENAME TABLE', 'ALTER TABLE t RENAME TO t2', 'll.t'),
  ('RENAME COLUMN', 'ALTER TABLE t RENAME COLUMN b TO b2', 'll.t'),
  ('RENAME INDEX', 'ALTER INDEX t_a_idx RENAME TO t_a_idx2', 'll.t_a_idx'),
  ('RENAME CONSTRAINT', 'ALTER TABLE t RENAME CONSTRAINT t_a_check TO t_a_check2', 'll.t'),
  ('RENAME TRIGGER', 'ALTER TRIGGER t_touch ON t RENAME TO t_touch2', 'll.t'),
  -- comments
  ('COMMENT ON TABLE', 'COMMENT ON TABLE t IS ''things''', 'll.t'),
  ('COMMENT ON COLUMN', 'COMMENT ON COLUMN t.a IS ''an a''', 'll.t'),
  ('COMMENT ON INDEX', 'COMMENT ON INDEX t_a_idx IS ''by a''', 'll.t_a_idx'),
  -- LOCK TABLE in each mode
  ('LOCK TABLE IN ACCESS SHARE MODE', 'LOCK TABLE t IN ACCESS SHARE MODE', 'll.t'),
  ('LOCK TABLE IN ROW SHARE MODE', 'LOCK TABLE t IN ROW SHARE MODE', 'll.t'),
  ('LOCK TABLE IN ROW EXCLUSIVE MODE', 'LOCK TABLE t IN ROW EXCLUSIVE MODE', 'll.t'),
  ('LOCK TABLE IN SHARE UPDATE EXCLUSIVE MODE', 'LOCK TABLE t IN SHARE UPDATE EXCLUSIVE MODE', 'll.t'),
  ('LOCK TABLE IN SHARE MODE', 'LOCK TABLE t IN SHARE MODE', 'll.t'),
  ('LOCK TABLE IN SHARE ROW EXCLUSIVE MODE', 'LOCK TABLE t IN SHARE ROW EXCLUSIVE MODE', 'll.t'),
  ('LOCK TABLE IN EXCLUSIVE MODE', 'LOCK TABLE t IN EXCLUSIVE MODE', 'll.t'),
  ('LOCK TABLE IN ACCESS EXCLUSIVE MODE', 'LOCK TABLE t IN ACCESS EXCLUSIVE MODE', 'll.t'),
  ('LOCK TABLE (default mode)', 'LOCK TABLE t', 'll.t'),
  -- DML
  ('INSERT', 'INSERT INTO t VALUES (1001, 1, 1001, ''x'')', 'll.t'),
  ('UPDATE', 'UPDATE t SET b = ''y'' WHERE id = 1', 'll.t'),
  ('DELETE', 'DELETE FROM t WHERE id = 1', 'll.t'),
  ('MERGE', 'MERGE INTO t USING ref ON t.id = ref.id WHEN MATCHED THEN UPDATE SET b = ''z''', 'll.t'),
  -- maintenance
  ('REFRESH MATERIALIZED VIEW', 'REFRESH MATERIALIZED VIEW t_mv', 'll.t_mv'),
  ('REFRESH MATERIALIZED VIEW CONCURRENTLY', 'REFRESH MATERIALIZED VIEW CONCURRENTLY t_mv', 'll.t_mv'),
  ('CLUSTER', 'CLUSTER t USING t_a_idx', 'll.t'),
  ('REINDEX TABLE', 'REINDEX TABLE t', 'll.t'),
  ('REINDEX INDEX', 'REINDEX INDEX t_a_idx', 'll.t_a_idx'),
  ('ANALYZE', 'ANALYZE t', 'll.t'),
  -- CREATE TABLE that locks existing tables
  ('CREATE TABLE PARTITION OF (parent)', 'CREATE TABLE parted_2026 PARTITION OF parted FOR VALUES FROM (''2026-01-01'') TO (''2027-01-01'')', 'll.parted'),
  ('CREATE TABLE INHERITS (parent)', 'CREATE TABLE base_child () INHERITS (base)', 'll.base'),
  ('CREATE TABLE REFERENCES (referenced)', 'CREATE TABLE t_child (id bigint, ref_id bigint REFERENCES ref)', 'll.ref');

CREATE TABLE compared AS
  SELECT no, kind, predicted_lock(stmt, target) AS predicted, observed_lock(stmt, target) AS observed,
         dry_run_lock(stmt, target) AS dry_run
    FROM cases ORDER BY no;
SELECT kind, predicted, observed, predicted = observed AS agree,
       predicted = dry_run AS agrees_with_dry_run FROM compared ORDER BY no;
SELECT count(*) AS kinds, count(*) FILTER (WHERE predicted IS DISTINCT FROM observed) AS disagreements,
       count(*) FILTER (WHERE predicted IS DISTINCT FROM dry_run) AS disagreements_with_dry_run
  FROM compared;

-- the predicted lock is the one the linter's findings and lock-timeout-missing use
SELECT statement_no, rule, lock_mode, relation FROM migrate.lint($$
ALTER TABLE t ADD CONSTRAINT t_ref_fk FOREIGN KEY (ref_id) REFERENCES ref;
CREATE INDEX ON t (b);
REFRESH MATERIALIZED VIEW t_mv;
$$) ORDER BY statement_no, rule, relation;

-- statement kinds that take strong locks but have no lock-profile row
-- Regression (fixed): script_statement_locks() returns no lock for these statement kinds, so
-- migrate.lint shows no lock-profile row (and no lock-timeout-missing) for them
SELECT kind, predicted_lock(stmt, target) AS predicted, observed_lock(stmt, target) AS observed,
       predicted_lock(stmt, target) = observed_lock(stmt, target) AS agree
  FROM (VALUES
    ('ALTER TABLE SET SCHEMA', 'ALTER TABLE t SET SCHEMA ll_other', 'll.t'),
    ('CREATE RULE', 'CREATE RULE t_nothing AS ON INSERT TO t DO INSTEAD NOTHING', 'll.t'),
    ('CREATE STATISTICS', 'CREATE STATISTICS t_stats ON a, ref_id FROM t', 'll.t'),
    ('ALTER SEQUENCE', 'ALTER SEQUENCE s RESTART', 'll.s')) v(kind, stmt, target);

-- nothing was changed
SELECT count(*) AS columns FROM pg_attribute WHERE attrelid = 'll.t'::regclass AND attnum > 0 AND NOT attisdropped;
SELECT count(*) AS rows FROM t;
SELECT to_regclass('ll.parted_2026') IS NULL AS no_new_partition;

RESET search_path;
DROP SCHEMA ll, ll_other CASCADE;
