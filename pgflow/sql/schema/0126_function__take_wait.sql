-- pgflow-py addition (durable waits): the first part of ending a wait (_end_wait, _fail_wait):
-- lock the step state, then the run (the lock order of complete_task and cancel_run), and
-- delete the task's pgflow.waits row. True when the wait was there and its run is still going;
-- false otherwise (the wait ended before, or the run is over: then its row is dropped).
CREATE OR REPLACE FUNCTION pgflow._take_wait(p_run_id uuid, p_step_slug text, p_task_index int)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_going boolean;
BEGIN
    PERFORM 1 FROM pgflow.step_states AS ss
     WHERE ss.run_id = p_run_id AND ss.step_slug = p_step_slug
       FOR UPDATE;
    v_going := pgflow._lock_started_run(p_run_id);
    DELETE FROM pgflow.waits AS w
     WHERE w.run_id = p_run_id AND w.step_slug = p_step_slug AND w.task_index = p_task_index;
    RETURN FOUND AND v_going;
END;
$$;
