-- A worker reports a task's output. The task completes (task:completed); when it was the last
-- task of its step the step completes (step:completed) with the output - the task's output
-- for a single step, the outputs of all tasks in task_index order for a map step (nulls kept)
-- - its dependents are released, steps that became ready start, and the run completes when no
-- step is left. The task's message is archived. A single step whose output is not an array
-- although a map step maps it fails the run ('[TYPE_VIOLATION] ...').
-- Late or repeated reports change nothing (see _lock_reported_task). Returns the task row (no
-- row for an unknown task).
-- This is what a TypeScript worker calls, once per task, so it applies its one report directly
-- instead of through complete_tasks (whose set handling costs about twice as much for a single
-- report): _complete_task_apply, the per-report twin of complete_tasks' set-based path. One
-- shortcut before it: a clean report of a map task that leaves other tasks of its step (run,
-- step and task started) is applied here in three keyed statements - task, step state,
-- message - because every report of a map step waits for the same step state row lock until
-- the previous one commits (10,000 reports in a row for a 10,000-item map), so the time under
-- that lock bounds the map. Both paths leave what complete_tasks leaves for the same report:
-- guarded by tests/sql/complete_tasks/test_same_result_as_complete_task.py.
CREATE OR REPLACE FUNCTION pgflow.complete_task(run_id uuid, step_slug text, task_index int, output jsonb)
RETURNS SETOF pgflow.step_tasks
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_step_status text;
    v_remaining int;
    v_task pgflow.step_tasks;
BEGIN
    -- the step state row lock, taken first as everywhere (_complete_task_apply takes it again:
    -- a no-op)
    SELECT ss.status, ss.remaining_tasks INTO v_step_status, v_remaining
      FROM pgflow.step_states AS ss
     WHERE ss.run_id = complete_task.run_id AND ss.step_slug = complete_task.step_slug
       FOR UPDATE;
    IF v_step_status = 'started' AND v_remaining > 1 THEN
        -- a new statement, so it sees what earlier holders of the lock committed; a step with
        -- more than one task left is a map step (a single step has one), so no type check
        UPDATE pgflow.step_tasks AS t
           SET status = 'completed', output = complete_task.output, completed_at = now()
         WHERE t.run_id = complete_task.run_id AND t.step_slug = complete_task.step_slug
           AND t.task_index = complete_task.task_index AND t.status = 'started'
           AND EXISTS (SELECT 1 FROM pgflow.runs AS r
                        WHERE r.run_id = complete_task.run_id AND NOT pgflow._is_terminal(r.status))
        RETURNING t.* INTO v_task;
        IF FOUND THEN
            IF pgflow._events_wanted() THEN
                PERFORM pgflow._emit(pgflow._task_event('task:completed', v_task));
            END IF;
            UPDATE pgflow.step_states AS ss
               SET remaining_tasks = ss.remaining_tasks - 1, completed_at = NULL, output = NULL
             WHERE ss.run_id = complete_task.run_id AND ss.step_slug = complete_task.step_slug;
            PERFORM pgmq.archive(v_task.queue_name, v_task.message_id);
            RETURN NEXT v_task;
            RETURN;
        END IF;
    END IF;

    PERFORM pgflow._complete_task_apply(complete_task.run_id, complete_task.step_slug, complete_task.task_index,
                                        complete_task.output);
    RETURN QUERY
        SELECT t.* FROM pgflow.step_tasks AS t
         WHERE t.run_id = complete_task.run_id AND t.step_slug = complete_task.step_slug
           AND t.task_index = complete_task.task_index;
END;
$$;
