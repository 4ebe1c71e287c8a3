SELECT to_regclass('public.upload_errors') IS NOT NULL;
SELECT count(*) = 1 FROM pg_constraint WHERE conrelid = 'public.upload_errors'::regclass AND contype = 'f';
