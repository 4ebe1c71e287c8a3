-- The same change, written to be safe on a busy table.
-- A constant default: no table rewrite since PostgreSQL 11, and no NOT NULL failure.
ALTER TABLE public.profiles ADD COLUMN status text NOT NULL DEFAULT 'active';
-- NOT VALID: no scan under the lock; validated in a later migration.
ALTER TABLE public.profiles ADD CONSTRAINT profiles_email_format CHECK (email LIKE '%@%') NOT VALID;
-- (the index is built with CREATE INDEX CONCURRENTLY in a non-transactional step)
