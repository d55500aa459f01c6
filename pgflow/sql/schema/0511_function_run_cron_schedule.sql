-- pgflow-py addition: what a pg_cron job of the 'pg_cron' backend calls at each tick
-- (`SELECT pgflow.run_cron_schedule('nightly')`). pg_cron fires at the start of a minute, so
-- the tick is the current minute. A paused schedule, or one moved back to the built-in
-- scheduler, starts nothing.
CREATE OR REPLACE FUNCTION pgflow.run_cron_schedule(p_schedule_slug text)
RETURNS uuid
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
BEGIN
    PERFORM 1 FROM pgflow.schedules
    WHERE schedule_slug = p_schedule_slug AND enabled AND backend = 'pg_cron'
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN pgflow.start_scheduled_flow(p_schedule_slug, date_trunc('minute', now()));
END;
$$;
