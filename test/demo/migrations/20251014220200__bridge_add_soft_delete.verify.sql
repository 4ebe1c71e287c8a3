SELECT count(*) = 2 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'profiles' AND column_name IN ('deleted_by', 'deletion_reason');
SELECT is_nullable = 'YES' FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'profiles' AND column_name = 'deleted_by';
