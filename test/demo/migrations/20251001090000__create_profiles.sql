-- The app's first table: one profile per signed-up user (Supabase style).
-- Rows are visible to their owner only (row level security).
CREATE TABLE public.profiles (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email        text UNIQUE NOT NULL,
    display_name text,
    created_at   timestamptz DEFAULT now()
);

ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;

CREATE POLICY profiles_owner_select ON public.profiles
    FOR SELECT TO authenticated
    USING (id = auth.uid());

CREATE POLICY profiles_owner_update ON public.profiles
    FOR UPDATE TO authenticated
    USING (id = auth.uid())
    WITH CHECK (id = auth.uid());

GRANT SELECT, UPDATE ON public.profiles TO authenticated;
