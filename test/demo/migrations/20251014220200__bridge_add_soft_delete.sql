-- requires: 20251001090000
-- Bridge migration (dev -> prod reconciliation): soft deletes on profiles.
-- Both columns are nullable, so existing rows and writers are unaffected.
ALTER TABLE public.profiles
    ADD COLUMN deleted_by uuid,
    ADD COLUMN deletion_reason text;

COMMENT ON COLUMN public.profiles.deleted_by IS 'user who soft-deleted the profile (NULL: not deleted)';
COMMENT ON COLUMN public.profiles.deletion_reason IS 'why the profile was soft-deleted';
