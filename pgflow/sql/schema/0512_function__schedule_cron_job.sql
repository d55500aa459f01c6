-- pgflow-py addition: create or replace the pg_cron job of a 'pg_cron' schedule. pg_cron
-- replaces a job of the same name. Returns NULL when done, or pg_cron's reason for refusing
-- the expression (e.g. "invalid schedule: 0 0 L * *"), so the caller can explain it.
-- Needs the pg_cron extension in this database; the function is resolved only when called.
CREATE OR REPLACE FUNCTION pgflow._schedule_cron_job(p_job_name text, p_schedule text, p_schedule_slug text)
RETURNS text
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
BEGIN
    PERFORM cron.schedule(p_job_name, p_schedule, format('SELECT pgflow.run_cron_schedule(%L)', p_schedule_slug));
    RETURN NULL;
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN SQLERRM;
END;
$$;
