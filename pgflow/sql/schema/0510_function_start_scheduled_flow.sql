-- pgflow-py addition: start one run of a schedule for one tick and mark it in scheduled_runs.
-- Returns the run id, or NULL when this tick already has a run, or when the run could not be
-- started (missing flow, input the flow rejects): then the error is kept in
-- schedules.last_error, so a broken schedule is visible and never blocks the others.
-- The caller decides whether the schedule is due; this function takes the row lock, so the
-- built-in scheduler, pg_cron and `run-now` never start the same tick twice.
CREATE OR REPLACE FUNCTION pgflow.start_scheduled_flow(
    p_schedule_slug text,
    p_tick_at timestamptz,
    p_catch_up_from timestamptz DEFAULT NULL,
    p_trigger text DEFAULT 'tick'
)
RETURNS uuid
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_schedule pgflow.schedules%ROWTYPE;
    v_run_id uuid := pgflow._new_run_id();
BEGIN
    SELECT * INTO v_schedule FROM pgflow.schedules WHERE schedule_slug = p_schedule_slug FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'P0002',
            MESSAGE = format('schedule %L does not exist', p_schedule_slug),
            HINT = 'List schedules with `pgflow schedules list`.';
    END IF;
    IF p_trigger = 'tick' AND EXISTS (
        SELECT 1 FROM pgflow.scheduled_runs
        WHERE schedule_slug = p_schedule_slug AND tick_at = p_tick_at AND trigger = 'tick'
    ) THEN
        RETURN NULL;
    END IF;

    BEGIN
        PERFORM pgflow.start_flow(v_schedule.flow_slug, v_schedule.input, v_run_id);
    EXCEPTION WHEN OTHERS THEN
        UPDATE pgflow.schedules
        SET last_error = format('tick %s: could not start flow %L: %s', p_tick_at, v_schedule.flow_slug, SQLERRM),
            updated_at = now()
        WHERE schedule_slug = p_schedule_slug;
        RETURN NULL;
    END;

    INSERT INTO pgflow.scheduled_runs (run_id, schedule_slug, tick_at, catch_up_from, trigger, backend)
    VALUES (v_run_id, p_schedule_slug, p_tick_at, p_catch_up_from, p_trigger, v_schedule.backend);

    UPDATE pgflow.schedules
    SET last_tick_at = CASE WHEN p_trigger = 'tick' THEN p_tick_at ELSE last_tick_at END,
        last_run_at = now(),
        last_run_id = v_run_id,
        last_error = NULL,
        updated_at = now()
    WHERE schedule_slug = p_schedule_slug;
    RETURN v_run_id;
END;
$$;
