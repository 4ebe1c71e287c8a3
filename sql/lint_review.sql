-- linter regressions found in review: no false errors, no missed hazards,
-- lint never makes migrate.apply fail
SET client_min_messages = warning;
CREATE SCHEMA lrv;
SET search_path = lrv, public;
CREATE TYPE mood AS ENUM ('ok');
CREATE TABLE users (id bigint PRIMARY KEY, email varchar(10) NOT NULL, n text);
INSERT INTO users SELECT g, 'e' || g, 'x' FROM generate_series(1, 500) g;
ANALYZE users;
CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint CONSTRAINT orders_user_fk REFERENCES users);
CREATE TABLE p (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE p1 PARTITION OF p FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE pdef PARTITION OF p DEFAULT;
CREATE VIEW v AS SELECT id FROM users;
-- no false findings: an enum value that already exists, ADD COLUMN IF NOT EXISTS of an
-- existing column, USING the column itself, SET NOT NULL of a NOT NULL column
SELECT statement_no, rule, severity FROM migrate.lint($$
ALTER TYPE mood ADD VALUE IF NOT EXISTS 'ok';
INSERT INTO users (id, email) VALUES (9999, 'ok');
ALTER TABLE users ADD COLUMN IF NOT EXISTS email text NOT NULL;
ALTER TABLE users ALTER COLUMN email TYPE text USING email;
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
$$) WHERE rule NOT IN ('lock-profile', 'lock-timeout-missing') ORDER BY 1, 2;
-- no missed hazards: CREATE TABLE IF NOT EXISTS of an existing table creates nothing,
-- a renamed table is still the same table, and "all" in a comment's prose allows nothing
SELECT statement_no, rule, severity, relation FROM migrate.lint($$
CREATE TABLE IF NOT EXISTS users (id int);
ALTER TABLE users ADD COLUMN z int NOT NULL;
-- migrate:allow drop-column because all readers were removed
ALTER TABLE users ADD COLUMN zz int NOT NULL;
ALTER TABLE users RENAME TO customers;
ALTER TABLE customers ADD COLUMN y int NOT NULL;
$$) WHERE rule NOT IN ('lock-profile', 'lock-timeout-missing', 'prefer-bigint') ORDER BY 1, 2;
-- locks on relations the statement does not name: the other table of a foreign key,
-- the partitions of a partitioned table, the view being replaced, the table of a reindexed index
SELECT statement_no, lock_mode, relation FROM migrate.lint($$
ALTER TABLE orders DROP CONSTRAINT orders_user_fk;
DROP TABLE orders;
ALTER TABLE p ADD COLUMN c int;
ALTER TABLE ONLY p ADD CONSTRAINT p_id_check CHECK (id > 0) NOT VALID;
CREATE OR REPLACE VIEW v AS SELECT id, email FROM users;
REINDEX INDEX users_pkey;
$$) WHERE rule = 'lock-profile' ORDER BY 1, 3;
-- lint cannot look at a schema the applier may not use, but the script switches role:
-- the migration still applies (names are looked up without ACL checks, and any lint
-- failure inside migrate.apply is only a WARNING)
CREATE ROLE lrv_owner NOLOGIN;
CREATE ROLE lrv_deployer NOLOGIN NOINHERIT IN ROLE lrv_owner;
CREATE SCHEMA lrv_priv AUTHORIZATION lrv_owner;
CREATE TABLE lrv_priv.t (a int);
ALTER TABLE lrv_priv.t OWNER TO lrv_owner;
GRANT EXECUTE ON FUNCTION migrate.apply(text, text, text, text, text[], text) TO lrv_deployer;
SET ROLE lrv_deployer;
SELECT migrate.apply('lrv1', 'as the schema owner', 'SET ROLE lrv_owner; ALTER TABLE lrv_priv.t ADD COLUMN b int; RESET ROLE');
RESET ROLE;
SELECT attname FROM pg_attribute WHERE attrelid = 'lrv_priv.t'::regclass AND attnum > 0 ORDER BY attnum;
REVOKE ALL ON FUNCTION migrate.apply(text, text, text, text, text[], text) FROM lrv_deployer;
DROP SCHEMA lrv_priv CASCADE;
DROP ROLE lrv_deployer;
DROP ROLE lrv_owner;
RESET search_path;
DROP SCHEMA lrv CASCADE;
