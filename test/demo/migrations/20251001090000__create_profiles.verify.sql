-- the table exists with row level security on, and both policies are there
SELECT relrowsecurity FROM pg_class WHERE oid = 'public.profiles'::regclass;
SELECT count(*) = 2 FROM pg_policies WHERE schemaname = 'public' AND tablename = 'profiles';
