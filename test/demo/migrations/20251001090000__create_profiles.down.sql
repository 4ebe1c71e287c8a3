DROP TABLE public.profiles;
