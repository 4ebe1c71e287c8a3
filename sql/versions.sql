-- natural version order and out-of-order protection
SELECT a, b, migrate.version_compare(a, b)
  FROM (VALUES ('2', '10'), ('1.2.9', '1.2.10'), ('1.2.10', '1.2.9'), ('20251014220000', '2'),
               ('V2', 'V10'), ('1', '1.0'), ('01', '1'), ('1.10', '1.10'), ('a', 'B'),
               ('2025_01', '2025_1'), ('1.0.0-rc1', '1.0.0-rc10')) AS t(a, b);
SELECT v FROM unnest('{10,2,1.2.10,1.2.9,20251014220000,V3,1,1.2}'::text[]) v
 ORDER BY migrate.version_key(v);
SELECT migrate.checksum(E'a\r\nb') = migrate.checksum(E'a\nb') AS crlf_same,
       migrate.checksum(E'a\nb') = encode(sha256(convert_to(E'a\nb', 'UTF8')), 'hex') AS is_sha256,
       migrate.checksum(E'a\rb') <> migrate.checksum(E'a\nb') AS lone_cr_kept;
SELECT migrate.checksum(NULL) IS NULL AS strict_null;
-- highest applied so far is 3: a lower new version is out of order
SELECT migrate.apply('20', 'twenty', 'CREATE TABLE v20 (a int)');
SELECT migrate.apply('12', 'twelve', 'CREATE TABLE v12 (a int)');
SET migrate.allow_out_of_order = on;
SELECT migrate.apply('12', 'twelve', 'CREATE TABLE v12 (a int)');
RESET migrate.allow_out_of_order;
SELECT version, state, out_of_order FROM migrate.status();
