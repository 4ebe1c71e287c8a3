-- The hand-written alternative that test/bench/audit_bench.sh compares
-- migrate_ext's audit trigger with: a minimal PL/pgSQL AFTER ROW trigger that
-- writes the old and new rows (to_jsonb) of every INSERT, UPDATE and DELETE
-- to a log table, one INSERT per row. No indexes on the log, no diff of
-- changed columns, no session facts: the least such a trigger does.
-- Attach it with:
--   CREATE TRIGGER plpgsql_audit AFTER INSERT OR UPDATE OR DELETE ON t
--       FOR EACH ROW EXECUTE FUNCTION plpgsql_audit();

CREATE TABLE plpgsql_log (
	id bigserial,
	at timestamptz DEFAULT now(),
	tbl text,
	op text,
	old_row jsonb,
	new_row jsonb
);

CREATE FUNCTION plpgsql_audit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO plpgsql_log (tbl, op, old_row, new_row)
	VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, TG_OP,
			CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
			CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);
	RETURN NULL;
END
$$;
