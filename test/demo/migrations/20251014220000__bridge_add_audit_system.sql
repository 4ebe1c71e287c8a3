-- requires: 20251001090000
-- Bridge migration (dev -> prod reconciliation): row-change audit trail
-- for every modification of a user's profile.
CREATE TABLE public.user_audits (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name text NOT NULL,
    record_id  uuid NOT NULL,
    action     text NOT NULL CHECK (action IN ('INSERT', 'UPDATE', 'DELETE')),
    old_data   jsonb,
    new_data   jsonb,
    changed_by uuid,
    changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX user_audits_record_idx ON public.user_audits (table_name, record_id);

ALTER TABLE public.user_audits ENABLE ROW LEVEL SECURITY;

CREATE FUNCTION public.log_user_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
BEGIN
    INSERT INTO public.user_audits (table_name, record_id, action, old_data, new_data, changed_by)
    VALUES (TG_TABLE_NAME,
            CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,
            TG_OP,
            CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE to_jsonb(OLD) END,
            CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE to_jsonb(NEW) END,
            auth.uid());
    RETURN NULL;
END
$$;

CREATE TRIGGER profiles_audit
    AFTER INSERT OR UPDATE OR DELETE ON public.profiles
    FOR EACH ROW EXECUTE FUNCTION public.log_user_audit();
