-- The payload of a task event for pgflow._emit, built from the task's row as the transition
-- left it: the one place that says which fields task:started, task:completed and task:failed
-- carry (docs/reference/events.md, pgflow/events.py). For task:failed, p_retry_at is when the
-- task's message becomes visible again, NULL when it will not be retried.
-- Inlined like pgflow._run_event (no SET clause; SQL-standard body).
CREATE OR REPLACE FUNCTION pgflow._task_event(p_event_type text, p_task pgflow.step_tasks,
                                              p_retry_at timestamptz DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql
STABLE
PARALLEL SAFE
RETURN jsonb_build_object('event_type', p_event_type, 'run_id', p_task.run_id, 'flow_slug', p_task.flow_slug,
                          'step_slug', p_task.step_slug, 'task_index', p_task.task_index,
                          'status', p_task.status, 'attempt', p_task.attempts_count)
    || CASE p_event_type
           WHEN 'task:started' THEN jsonb_build_object(
               'worker_id', p_task.last_worker_id, 'started_at', p_task.started_at)
           WHEN 'task:completed' THEN jsonb_build_object(
               'output', p_task.output, 'completed_at', p_task.completed_at)
           WHEN 'task:failed' THEN jsonb_build_object(
               'error_message', p_task.error_message, 'will_retry', p_retry_at IS NOT NULL,
               'retry_at', p_retry_at, 'failed_at', coalesce(p_task.failed_at, now()))
       END;
