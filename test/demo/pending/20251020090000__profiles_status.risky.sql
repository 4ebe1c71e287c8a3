-- A first draft of a migration: every statement here is a classic outage.
CREATE INDEX profiles_display_name_idx ON public.profiles (display_name);
ALTER TABLE public.profiles ADD COLUMN status text NOT NULL;
ALTER TABLE public.profiles ADD CONSTRAINT profiles_email_format CHECK (email LIKE '%@%');
