-- pgflow-py addition: a deleted flow takes its schedules (and their pg_cron jobs) with it.
-- Runs at commit (see 0514): a flow deleted and created again in the same transaction, as
-- upsert_flow and a recompile with allow_data_loss do, still exists then and keeps its
-- schedules; a flow that is really gone (delete_flow_and_data, from any client) loses them,
-- instead of leaving schedules whose every tick fails. The pg_cron job of a schedule is named
-- 'pgflow_<schedule_slug>' (pgflow.ops.schedules.pg_cron_job_name); cron.job shows a role
-- only its own jobs, so another role's job is left to pg_cron, where run_cron_schedule
-- finds no schedule and starts nothing.
CREATE OR REPLACE FUNCTION pgflow._drop_schedules_of_deleted_flow()
RETURNS trigger
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pgflow.flows WHERE flow_slug = OLD.flow_slug) THEN
        RETURN NULL;
    END IF;
    IF to_regclass('cron.job') IS NOT NULL THEN
        PERFORM cron.unschedule(j.jobid)
           FROM pgflow.schedules AS s
           JOIN cron.job AS j ON j.jobname = 'pgflow_' || s.schedule_slug
          WHERE s.flow_slug = OLD.flow_slug AND s.backend = 'pg_cron';
    END IF;
    DELETE FROM pgflow.schedules WHERE flow_slug = OLD.flow_slug;
    RETURN NULL;
END;
$$;
