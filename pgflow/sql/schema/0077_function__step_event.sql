-- The payload of a step event for pgflow._emit, built from the step state's row as the
-- transition left it: the one place that says which fields step:started, step:completed,
-- step:failed and step:skipped carry (docs/reference/events.md, pgflow/events.py). A step
-- skipped because its task used up its attempts (skip_reason 'handler_failed') keeps the error.
-- Inlined like pgflow._run_event (no SET clause; SQL-standard body).
CREATE OR REPLACE FUNCTION pgflow._step_event(p_event_type text, p_state pgflow.step_states)
RETURNS jsonb
LANGUAGE sql
STABLE
PARALLEL SAFE
RETURN jsonb_build_object('event_type', p_event_type, 'run_id', p_state.run_id, 'flow_slug', p_state.flow_slug,
                          'step_slug', p_state.step_slug, 'status', p_state.status)
    || CASE p_event_type
           WHEN 'step:started' THEN jsonb_build_object(
               'started_at', p_state.started_at, 'remaining_tasks', p_state.remaining_tasks,
               'remaining_deps', p_state.remaining_deps, 'initial_tasks', p_state.initial_tasks)
           WHEN 'step:completed' THEN jsonb_build_object(
               'output', p_state.output, 'started_at', p_state.started_at, 'completed_at', p_state.completed_at,
               'remaining_tasks', p_state.remaining_tasks, 'remaining_deps', p_state.remaining_deps)
           WHEN 'step:failed' THEN jsonb_build_object(
               'error_message', p_state.error_message, 'failed_at', p_state.failed_at)
           WHEN 'step:skipped' THEN jsonb_build_object(
               'skip_reason', p_state.skip_reason, 'skipped_at', p_state.skipped_at)
               || CASE WHEN p_state.skip_reason = 'handler_failed'
                       THEN jsonb_build_object('error_message', p_state.error_message)
                       ELSE '{}'::jsonb END
       END;
