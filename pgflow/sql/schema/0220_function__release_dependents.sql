-- After a step of a run finished without failing the run (completed, or skipped by fail_task):
-- each dependent still waiting has one dependency less, a dependent map step learns how many
-- tasks it gets (`p_map_tasks`: the length of the finished step's output array, 0 when it was
-- skipped), and the run has one step less to go. The caller holds the run row lock.
CREATE OR REPLACE FUNCTION pgflow._release_dependents(p_run_id uuid, p_step_slug text, p_map_tasks int)
RETURNS void
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    UPDATE pgflow.step_states AS child
       SET remaining_deps = child.remaining_deps - 1,
           initial_tasks = CASE WHEN s.step_type = 'map' THEN p_map_tasks ELSE child.initial_tasks END
      FROM pgflow.deps AS d
      JOIN pgflow.steps AS s ON s.flow_slug = d.flow_slug AND s.step_slug = d.step_slug
     WHERE child.run_id = p_run_id
       AND d.flow_slug = child.flow_slug
       AND d.dep_slug = p_step_slug
       AND child.step_slug = d.step_slug
       AND child.status = 'created';

    UPDATE pgflow.runs AS r
       SET remaining_steps = r.remaining_steps - 1
     WHERE r.run_id = p_run_id;
$$;
