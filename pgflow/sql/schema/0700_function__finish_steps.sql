-- Batch path (complete_tasks): steps of runs that have just completed (their state rows hold
-- status 'completed' and the output). For all of them at once: step:completed, their outputs
-- passed to the dependents, remaining_steps of each run lowered; then each run with a released
-- dependent moves on (_advance_runs: ready steps start; conditions, taskless steps and completion
-- as _advance_run); a run with no step left completes.
-- The same end state and events, per run in the same order, as one _on_step_completed per step.
-- Twin: _on_step_completed (one step, _complete_task_apply); guarded by
-- tests/sql/complete_tasks/test_same_result_as_apply.py.
-- The caller holds the locks of the step states and of the runs.
CREATE OR REPLACE FUNCTION pgflow._finish_steps(p_run_ids uuid[], p_step_slugs text[])
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_released uuid[];
    v_children uuid[];
    v_completed int;
    v_events boolean := pgflow._events_wanted();
BEGIN
    IF v_events THEN
        PERFORM pgflow._emit(pgflow._step_event('step:completed', ss))
           FROM unnest(p_run_ids, p_step_slugs) AS d (run_id, step_slug)
           JOIN pgflow.step_states AS ss ON ss.run_id = d.run_id AND ss.step_slug = d.step_slug;
    END IF;

    -- every dependent loses one dependency per completed parent; a dependent map step (one
    -- parent) learns its task count from the parent's array
    WITH released AS (
        UPDATE pgflow.step_states AS child
           SET remaining_deps = child.remaining_deps - x.parents,
               initial_tasks = coalesce(x.map_tasks, child.initial_tasks)
          FROM (SELECT parent.run_id, d.step_slug, count(*)::int AS parents,
                       max(CASE WHEN s.step_type = 'map' AND jsonb_typeof(parent.output) = 'array'
                                THEN jsonb_array_length(parent.output) END) AS map_tasks
                  FROM unnest(p_run_ids, p_step_slugs) AS done (run_id, step_slug)
                  JOIN pgflow.step_states AS parent
                    ON parent.run_id = done.run_id AND parent.step_slug = done.step_slug
                  JOIN pgflow.deps AS d ON d.flow_slug = parent.flow_slug AND d.dep_slug = parent.step_slug
                  JOIN pgflow.steps AS s ON s.flow_slug = d.flow_slug AND s.step_slug = d.step_slug
                 GROUP BY parent.run_id, d.step_slug) AS x
         WHERE child.run_id = x.run_id AND child.step_slug = x.step_slug AND child.status = 'created'
        RETURNING child.run_id
    )
    SELECT array_agg(DISTINCT released.run_id) INTO v_released FROM released;

    -- each run loses its completed steps; a run left with none completes in the same update
    -- (what maybe_complete_run does: output = the completed leaf steps' outputs, run:completed)
    WITH lowered AS (
        UPDATE pgflow.runs AS r
           SET remaining_steps = r.remaining_steps - x.steps,
               status = CASE WHEN r.remaining_steps = x.steps THEN 'completed' ELSE r.status END,
               completed_at = CASE WHEN r.remaining_steps = x.steps THEN now() ELSE r.completed_at END,
               output = CASE WHEN r.remaining_steps > x.steps THEN r.output ELSE (
                   SELECT jsonb_object_agg(ss.step_slug, ss.output)
                     FROM pgflow.step_states AS ss
                    WHERE ss.run_id = r.run_id
                      AND ss.status = 'completed'
                      AND NOT EXISTS (SELECT 1 FROM pgflow.deps AS d
                                       WHERE d.flow_slug = ss.flow_slug AND d.dep_slug = ss.step_slug)) END
          FROM (SELECT d.run_id, count(*)::int AS steps FROM unnest(p_run_ids) AS d (run_id) GROUP BY d.run_id) AS x
         WHERE r.run_id = x.run_id AND NOT pgflow._is_terminal(r.status)
           AND r.run_id = ANY (p_run_ids)  -- probe runs by key, never scan them
        RETURNING CASE WHEN v_events AND r.status = 'completed'
                       THEN pgflow._emit(pgflow._run_event('run:completed', r)) END AS emitted,
                  CASE WHEN r.status = 'completed' AND r.parent_run_id IS NOT NULL THEN r.run_id END AS child
    )
    SELECT count(l.emitted), array_agg(l.child) FILTER (WHERE l.child IS NOT NULL)
      INTO v_completed, v_children
      FROM lowered AS l;
    -- pgflow-py: a completed child run of a subflow step ends its parent's task (as in
    -- maybe_complete_run)
    PERFORM pgflow._on_child_run_ended(c.run_id) FROM unnest(v_children) AS c (run_id);

    IF v_released IS NOT NULL THEN
        PERFORM pgflow._advance_runs(v_released);
    END IF;
END;
$$;
