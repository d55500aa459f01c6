-- A worker reports a task's output. The task completes (task:completed); when it was the last
-- task of its step the step completes (step:completed) with the output - the task's output
-- for a single step, the outputs of all tasks in task_index order for a map step (nulls kept)
-- - its dependents are released, steps that became ready start, and the run completes when no
-- step is left. The task's message is archived. A single step whose output is not an array
-- although a map step maps it fails the run ('[TYPE_VIOLATION] ...').
-- Late or repeated reports change nothing (see _lock_reported_task). Returns the task row (no
-- row for an unknown task).
-- One implementation: this is complete_tasks with one report (its set-based path for a clean
-- report, _complete_task_apply for any other).
CREATE OR REPLACE FUNCTION pgflow.complete_task(run_id uuid, step_slug text, task_index int, output jsonb)
RETURNS SETOF pgflow.step_tasks
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
BEGIN
    PERFORM 1 FROM pgflow.complete_tasks(ARRAY[complete_task.run_id], ARRAY[complete_task.step_slug],
                                         ARRAY[complete_task.task_index], ARRAY[complete_task.output]);
    RETURN QUERY
        SELECT t.* FROM pgflow.step_tasks AS t
         WHERE t.run_id = complete_task.run_id AND t.step_slug = complete_task.step_slug
           AND t.task_index = complete_task.task_index;
END;
$$;
