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
