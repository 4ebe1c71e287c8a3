-- requires: 20251001090000
-- Case-insensitive e-mail lookups (sign-in). Built without blocking writes:
-- CREATE INDEX CONCURRENTLY cannot run in a transaction, so pg_migrate runs
-- this file statement by statement outside one and records it afterwards.
-- migrate:up
CREATE INDEX CONCURRENTLY IF NOT EXISTS profiles_email_lower_idx ON public.profiles (lower(email));

-- migrate:down
DROP INDEX CONCURRENTLY IF EXISTS public.profiles_email_lower_idx;

-- migrate:verify
SELECT indisvalid FROM pg_index WHERE indexrelid = 'public.profiles_email_lower_idx'::regclass;
