-- privileges: history written only through the functions
CREATE ROLE migrate_regress_app;
CREATE ROLE migrate_regress_admin;
GRANT CREATE ON SCHEMA public TO migrate_regress_admin;
GRANT EXECUTE ON FUNCTION migrate.apply(text, text, text, text, text[], text),
                          migrate.revert(text), migrate.status() TO migrate_regress_admin;
SET ROLE migrate_regress_app;
SELECT migrate.apply('60', 'app', 'SELECT 1');
SELECT migrate.revert('60');
SELECT migrate.baseline('60');
SELECT migrate.repair('1', 'SELECT 1', 'x');
SELECT * FROM migrate.status();
SELECT * FROM migrate.verify('1');
SELECT count(*) FROM migrate.migrations;
INSERT INTO migrate.history (action, version, session_user_name, current_user_name, backend_pid)
  VALUES ('apply', 'forged', 'x', 'x', 1);
UPDATE migrate.migrations SET checksum = 'forged';
DELETE FROM migrate.history;
-- pure functions are for everyone
SELECT migrate.checksum('SELECT 1') IS NOT NULL AS ok, migrate.version_compare('1', '2'),
       migrate.current_migration() IS NULL AS none_running;
RESET ROLE;
SET ROLE migrate_regress_admin;
SELECT migrate.apply('60', 'by admin', 'CREATE TABLE t60 (a int)', down_script => 'DROP TABLE t60');
SELECT count(*) > 0 AS sees_status FROM migrate.status();
SELECT migrate.revert('60');
SELECT migrate.baseline('60');
RESET ROLE;
SELECT version, state, current_user_name FROM migrate.migrations WHERE version = '60';
-- stored down and verify scripts run as the role that applied the migration,
-- with its search_path: a role cannot plant code that later runs as the DBA
CREATE ROLE migrate_regress_planter;
GRANT CREATE ON SCHEMA public TO migrate_regress_planter;
GRANT EXECUTE ON FUNCTION migrate.apply(text, text, text, text, text[], text) TO migrate_regress_planter;
SET ROLE migrate_regress_planter;
CREATE FUNCTION public.whoami_check() RETURNS boolean LANGUAGE sql AS $$ SELECT current_user = 'migrate_regress_planter' $$;
CREATE FUNCTION public.escalate() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE migrate_regress_planter SUPERUSER';
    END IF;
    RETURN true;
END $$;
SET search_path = public, pg_catalog;
SELECT migrate.apply('61', 'planted', 'CREATE TABLE t61 (a int)',
  down_script => 'SELECT escalate(); DROP TABLE t61;',
  verify_script => E'SELECT whoami_check();\nSELECT escalate();\nSELECT current_setting(''search_path'') = ''public, pg_catalog'';');
RESET search_path;
RESET ROLE;
SET search_path = pg_catalog;
SELECT check_no, passed, message FROM migrate.verify('61');
SELECT migrate.revert('61');
RESET search_path;
SELECT rolsuper AS planter_became_superuser FROM pg_roles WHERE rolname = 'migrate_regress_planter';
SELECT search_path, current_user_name FROM migrate.migrations WHERE version = '61';
SET ROLE migrate_regress_planter;
SELECT migrate.apply('62', 'applier will be dropped', 'CREATE TABLE t62 (a int)', down_script => 'DROP TABLE t62');
RESET ROLE;
DROP FUNCTION public.whoami_check(), public.escalate();
REVOKE ALL ON FUNCTION migrate.apply(text, text, text, text, text[], text) FROM migrate_regress_planter;
REVOKE CREATE ON SCHEMA public FROM migrate_regress_planter;
ALTER TABLE t62 OWNER TO CURRENT_USER;
DROP ROLE migrate_regress_planter;
-- even the owner cannot rewrite history directly
UPDATE migrate.migrations SET checksum = 'forged' WHERE version = '60';
DELETE FROM migrate.history WHERE version = '60';
TRUNCATE migrate.history;
TRUNCATE migrate.migrations;
SELECT count(*) AS history_rows_for_60 FROM migrate.history WHERE version = '60';
DROP TABLE IF EXISTS t60;
REVOKE ALL ON FUNCTION migrate.apply(text, text, text, text, text[], text),
                        migrate.revert(text), migrate.status() FROM migrate_regress_admin;
REVOKE CREATE ON SCHEMA public FROM migrate_regress_admin;
DROP ROLE migrate_regress_app;
DROP ROLE migrate_regress_admin;
-- a migration whose applier role is gone cannot be reverted blindly
SELECT migrate.revert('62');
DROP TABLE t62;
