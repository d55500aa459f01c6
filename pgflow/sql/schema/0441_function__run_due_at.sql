-- pgflow-py: when a started run whose every unfinished task waits for a hidden message (see
-- _task_due_times) can go on: the earliest of those times. NULL when some task is started or
-- visible now (the run is running, not scheduled) or when nothing is unfinished.
CREATE OR REPLACE FUNCTION pgflow._run_due_at(p_run_id uuid)
RETURNS timestamptz
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_due timestamptz;
BEGIN
    IF EXISTS (SELECT 1 FROM pgflow.step_tasks AS t WHERE t.run_id = p_run_id AND t.status = 'started') THEN
        RETURN NULL;
    END IF;
    SELECT CASE WHEN count(*) > 0 AND count(d.due_at) = count(*) THEN min(d.due_at) END
      INTO v_due
      FROM pgflow.step_tasks AS t
      LEFT JOIN pgflow._task_due_times(p_run_id) AS d
        ON d.step_slug = t.step_slug AND d.task_index = t.task_index
     WHERE t.run_id = p_run_id AND t.status = 'queued';
    RETURN v_due;
END;
$$;
