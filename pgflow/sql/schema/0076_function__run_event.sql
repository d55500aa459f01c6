-- The payload of a run event for pgflow._emit, built from the run's row as the transition left
-- it: the one place that says which fields run:started, run:completed, run:failed and
-- run:cancelled carry (docs/reference/events.md, pgflow/events.py). run:failed also names the
-- step that failed the run and its error, which the runs table does not hold.
-- No SET clause, so that PostgreSQL inlines it into the emitting statement (it never inlines a
-- function with SET): given a table's row (pgflow._run_event('run:completed', r)) it then reads
-- only the columns it names, and behind CASE WHEN v_events it is not evaluated at all. The body
-- is SQL-standard, its names bound when it is created.
CREATE OR REPLACE FUNCTION pgflow._run_event(
    p_event_type text, p_run pgflow.runs, p_error_message text DEFAULT NULL, p_failed_step_slug text DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql
STABLE
PARALLEL SAFE
RETURN jsonb_build_object('event_type', p_event_type, 'run_id', p_run.run_id, 'flow_slug', p_run.flow_slug,
                          'status', p_run.status)
    || CASE p_event_type
           WHEN 'run:started' THEN jsonb_build_object(
               'input', p_run.input, 'remaining_steps', p_run.remaining_steps, 'started_at', p_run.started_at)
           WHEN 'run:completed' THEN jsonb_build_object(
               'output', p_run.output, 'completed_at', p_run.completed_at)
           WHEN 'run:failed' THEN jsonb_build_object(
               'error_message', p_error_message, 'failed_at', p_run.failed_at,
               'failed_step_slug', p_failed_step_slug)
           WHEN 'run:cancelled' THEN jsonb_build_object(
               'reason', p_run.cancel_reason, 'cancelled_at', p_run.cancelled_at)
       END;
