-- First step of complete_task and fail_task: lock the task's step state row (so reports of
-- sibling tasks are applied one after another) and decide whether the report counts.
-- Returns one row - the task's flow, step settings and message (with its queue) - when run, step and task are
-- all 'started'. Returns nothing for an unknown task, and for a late report (the run failed or
-- the step is no longer started: then the task's message is archived) or a task that is not
-- started (completed already, or requeued: left alone).
CREATE OR REPLACE FUNCTION pgflow._lock_reported_task(p_run_id uuid, p_step_slug text, p_task_index int)
RETURNS TABLE (flow_slug text, step_type text, remaining_tasks int, message_id bigint, attempts_count int,
               when_exhausted text, max_attempts int, base_delay int, queue_name text)
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_step_status text;
    v_task_status text;
    v_run_status text;
BEGIN
    SELECT ss.flow_slug, s.step_type, ss.status, ss.remaining_tasks, s.when_exhausted,
           coalesce(s.opt_max_attempts, f.opt_max_attempts), coalesce(s.opt_base_delay, f.opt_base_delay)
      INTO flow_slug, step_type, v_step_status, remaining_tasks, when_exhausted, max_attempts, base_delay
      FROM pgflow.step_states AS ss
      JOIN pgflow.steps AS s ON s.flow_slug = ss.flow_slug AND s.step_slug = ss.step_slug
      JOIN pgflow.flows AS f ON f.flow_slug = ss.flow_slug
     WHERE ss.run_id = p_run_id AND ss.step_slug = p_step_slug
       FOR UPDATE OF ss;
    -- a new statement, so it sees what earlier holders of the lock committed
    SELECT t.status, t.message_id, t.attempts_count, t.queue_name, r.status
      INTO v_task_status, message_id, attempts_count, queue_name, v_run_status
      FROM pgflow.step_tasks AS t
      JOIN pgflow.runs AS r ON r.run_id = t.run_id
     WHERE t.run_id = p_run_id AND t.step_slug = p_step_slug AND t.task_index = p_task_index;

    IF v_task_status IS NULL OR v_step_status IS NULL THEN
        RETURN;
    END IF;
    IF pgflow._is_terminal(v_run_status) OR v_step_status <> 'started' THEN
        PERFORM pgmq.archive(queue_name, message_id);
        RETURN;
    END IF;
    IF v_task_status = 'started' THEN
        RETURN NEXT;
    END IF;
END;
$$;
