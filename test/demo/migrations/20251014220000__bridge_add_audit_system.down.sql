DROP TRIGGER profiles_audit ON public.profiles;
DROP FUNCTION public.log_user_audit();
DROP TABLE public.user_audits;
