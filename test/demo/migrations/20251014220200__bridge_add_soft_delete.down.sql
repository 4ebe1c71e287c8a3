ALTER TABLE public.profiles
    DROP COLUMN deletion_reason,
    DROP COLUMN deleted_by;
