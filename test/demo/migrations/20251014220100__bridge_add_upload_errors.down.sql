DROP TABLE public.upload_errors;
