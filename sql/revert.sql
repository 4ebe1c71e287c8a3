-- revert: down scripts, dependencies, re-apply
SELECT migrate.revert('2');
SELECT migrate.revert('3');
SELECT migrate.revert('1');
SELECT migrate.revert('99');
SELECT migrate.revert(NULL);
SELECT migrate.apply('30', 'with down', 'CREATE TABLE r30 (a int); INSERT INTO r30 VALUES (1), (2);',
                     down_script => E'CREATE TABLE r30_seen AS SELECT migrate.current_migration() AS v;\nDROP TABLE r30;');
SELECT migrate.revert('30');
SELECT to_regclass('r30') IS NULL AS dropped, (SELECT v FROM r30_seen) AS current_migration_in_down;
SELECT migrate.revert('30');
SELECT version, state FROM migrate.status() WHERE version = '30';
-- a reverted version can be applied again, even with another script
SELECT migrate.apply('30', 'with down, v2', 'CREATE TABLE r30 (a int, b int);', down_script => 'DROP TABLE r30');
SELECT version, name, state, reverted_at IS NULL AS cleared FROM migrate.migrations WHERE version = '30';
-- a failing down script leaves everything as it was
SELECT migrate.apply('31', 'bad down', 'CREATE TABLE r31 (a int)', down_script => 'DROP TABLE r31_does_not_exist');
SELECT migrate.revert('31');
SELECT version, state FROM migrate.status() WHERE version = '31';
SELECT action, version, name FROM migrate.history WHERE version IN ('30', '31') ORDER BY id;
