SELECT count(*) = 8 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'user_audits';
SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'profiles_audit' AND tgrelid = 'public.profiles'::regclass);
