-- pgflow-py addition (subflows): start the child run of one task of a subflow step (from
-- _start_wait_steps). The child is a run of wait_steps.child_flow_slug that records its parent
-- run, step and task (runs.parent_*, set through the run options) and continues its trace
-- (the parent's runs.trace_context); its input is the task's
-- input - the step's input for a single step (at input_path, when set), one element of the
-- mapped array for a map step. The task's wait then names the child (waits.child_run_id), and
-- the child's end completes or fails the task (pgflow._on_child_run_ended). A child that ends
-- inside its own start (every step taskless or skipped) ends the task at once. The task fails,
-- with no retry, when the child cannot start: an unknown flow, an input the child refuses, or
-- more than 10 levels of subflows. Under resume_run (setting pgflow.resuming), a task whose item
-- completed in the original run starts no child: resume_run reuses that child's output.
CREATE OR REPLACE FUNCTION pgflow._start_child_run(p_run_id uuid, p_step_slug text, p_task_index int)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_run pgflow.runs;
    v_child_flow text;
    v_input jsonb;
    v_depth int;
    v_child pgflow.runs;
BEGIN
    -- resume_run of a run whose item completed: no new child; resume_run completes the task with
    -- the original's output
    IF EXISTS (SELECT 1 FROM pgflow.step_tasks AS o
                WHERE o.run_id = nullif(current_setting('pgflow.resuming', true), '')::uuid
                  AND o.step_slug = p_step_slug AND o.task_index = p_task_index AND o.status = 'completed') THEN
        DELETE FROM pgflow.waits AS w
         WHERE w.run_id = p_run_id AND w.step_slug = p_step_slug AND w.task_index = p_task_index;
        RETURN;
    END IF;
    SELECT r.* INTO v_run FROM pgflow.runs AS r WHERE r.run_id = p_run_id;
    SELECT ws.child_flow_slug,
           CASE WHEN s.step_type = 'map'
                THEN (CASE WHEN s.deps_count = 0 THEN v_run.input
                           ELSE (SELECT dep.output FROM pgflow.deps AS d
                                   JOIN pgflow.step_states AS dep
                                     ON dep.run_id = p_run_id AND dep.step_slug = d.dep_slug
                                  WHERE d.flow_slug = s.flow_slug AND d.step_slug = s.step_slug) END)
                     -> p_task_index
                ELSE coalesce(pgflow._wait_input(s.flow_slug, p_run_id, s.step_slug, v_run.input)
                              #> ws.input_path,
                              CASE WHEN ws.input_path IS NULL
                                   THEN pgflow._wait_input(s.flow_slug, p_run_id, s.step_slug, v_run.input) END)
           END
      INTO v_child_flow, v_input
      FROM pgflow.wait_steps AS ws
      JOIN pgflow.steps AS s ON s.flow_slug = ws.flow_slug AND s.step_slug = ws.step_slug
     WHERE ws.flow_slug = v_run.flow_slug AND ws.step_slug = p_step_slug;

    WITH RECURSIVE up AS (
        SELECT r.parent_run_id, 1 AS depth FROM pgflow.runs AS r WHERE r.run_id = p_run_id
        UNION ALL
        SELECT r.parent_run_id, up.depth + 1
          FROM up JOIN pgflow.runs AS r ON r.run_id = up.parent_run_id
         WHERE up.depth <= 10
    )
    SELECT max(up.depth) INTO v_depth FROM up;
    IF v_depth > 10 THEN
        PERFORM pgflow._fail_wait(p_run_id, p_step_slug, p_task_index, format(
            'subflow step %L: a child run of flow %L would be more than 10 levels of subflows deep',
            p_step_slug, v_child_flow));
        RETURN;
    END IF;
    IF v_input IS NULL THEN
        PERFORM pgflow._fail_wait(p_run_id, p_step_slug, p_task_index, format(
            'subflow step %L: its input has nothing at the child''s input path', p_step_slug));
        RETURN;
    END IF;

    BEGIN
        PERFORM set_config('pgflow.run_options', jsonb_strip_nulls(jsonb_build_object(
            'parent_run_id', p_run_id, 'parent_step_slug', p_step_slug, 'parent_task_index', p_task_index,
            'trace_context', v_run.trace_context))::text, true);
        SELECT c.* INTO v_child FROM pgflow.start_flow(v_child_flow, v_input) AS c;
    EXCEPTION WHEN sqlstate 'PF001' OR sqlstate 'PF003' THEN
        PERFORM set_config('pgflow.run_options', '', true);
        PERFORM pgflow._fail_wait(p_run_id, p_step_slug, p_task_index, format(
            'subflow step %L could not start a run of flow %L: %s', p_step_slug, v_child_flow, SQLERRM));
        RETURN;
    END;

    UPDATE pgflow.waits AS w SET child_run_id = v_child.run_id
     WHERE w.run_id = p_run_id AND w.step_slug = p_step_slug AND w.task_index = p_task_index;
    IF pgflow._is_terminal(v_child.status) THEN
        PERFORM pgflow._on_child_run_ended(v_child.run_id);
    END IF;
END;
$$;
