-- pgflow-py addition (subflows): a child run ended (maybe_complete_run, _fail_run and cancel_run
-- call it for runs that have a parent, in the transaction that ends them): the parent's task
-- that waits for it completes with the child's output, or fails with the child's error (no
-- retry; the parent step's when_exhausted applies). Does nothing when the parent no longer waits
-- for this child (the parent is over, or the task ended before). Returns whether it ended the
-- parent's task.
CREATE OR REPLACE FUNCTION pgflow._on_child_run_ended(p_child_run_id uuid)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_child pgflow.runs;
    v_error text;
BEGIN
    SELECT r.* INTO v_child FROM pgflow.runs AS r WHERE r.run_id = p_child_run_id;
    IF v_child.parent_run_id IS NULL OR NOT EXISTS (
        SELECT 1 FROM pgflow.waits AS w
         WHERE w.run_id = v_child.parent_run_id AND w.step_slug = v_child.parent_step_slug
           AND w.task_index = v_child.parent_task_index AND w.child_run_id = p_child_run_id) THEN
        RETURN false;
    END IF;
    IF v_child.status = 'completed' THEN
        RETURN pgflow._end_wait(v_child.parent_run_id, v_child.parent_step_slug, v_child.parent_task_index,
                                coalesce(v_child.output, 'null'::jsonb));
    END IF;
    SELECT ss.step_slug || ': ' || coalesce(ss.error_message, 'failed') INTO v_error
      FROM pgflow.step_states AS ss
     WHERE ss.run_id = p_child_run_id AND ss.status = 'failed'
     ORDER BY ss.failed_at, ss.step_slug
     LIMIT 1;
    RETURN pgflow._fail_wait(v_child.parent_run_id, v_child.parent_step_slug, v_child.parent_task_index, format(
        'child run %s of flow %L %s: %s', p_child_run_id, v_child.flow_slug,
        CASE WHEN v_child.cancelled_at IS NOT NULL THEN 'was cancelled' ELSE 'failed' END,
        coalesce(v_error, v_child.cancel_reason, 'no step error')));
END;
$$;
