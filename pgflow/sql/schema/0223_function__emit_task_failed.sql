-- Emit task:failed for a task fail_task (or a type violation) just updated. `p_retry_at` is
-- when the message becomes visible again, NULL when the task will not be retried.
CREATE OR REPLACE FUNCTION pgflow._emit_task_failed(p_task pgflow.step_tasks, p_retry_at timestamptz)
RETURNS void
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    SELECT pgflow._emit(jsonb_build_object(
        'event_type', 'task:failed', 'run_id', p_task.run_id, 'flow_slug', p_task.flow_slug,
        'step_slug', p_task.step_slug, 'task_index', p_task.task_index, 'status', p_task.status,
        'attempt', p_task.attempts_count, 'error_message', p_task.error_message,
        'will_retry', p_retry_at IS NOT NULL, 'retry_at', p_retry_at,
        'failed_at', coalesce(p_task.failed_at, now())))
$$;
