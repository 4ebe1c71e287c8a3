-- requires: 20251001090000
-- Bridge migration (dev -> prod reconciliation): central error log for
-- failed uploads, optionally linked to the user who uploaded.
CREATE TABLE public.upload_errors (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       uuid REFERENCES public.profiles (id) ON DELETE SET NULL,
    file_name     text,
    error_code    text NOT NULL,
    error_message text NOT NULL,
    context       jsonb NOT NULL DEFAULT '{}',
    occurred_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX upload_errors_occurred_at_idx ON public.upload_errors (occurred_at DESC);
CREATE INDEX upload_errors_user_id_idx ON public.upload_errors (user_id);

ALTER TABLE public.upload_errors ENABLE ROW LEVEL SECURITY;
