-- A step of a run has just completed with `p_output`: each dependent still waiting has one
-- dependency less, and a dependent map step (which maps this output) learns its task count,
-- the length of the output array. (A single step whose output is not an array never gets here
-- when a map depends on it: complete_task reports a type violation instead.)
-- Returns how many dependents were waiting for it.
CREATE OR REPLACE FUNCTION pgflow._pass_output_to_dependents(p_run_id uuid, p_step_slug text, p_output jsonb)
RETURNS int
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    WITH released AS (
        UPDATE pgflow.step_states AS child
           SET remaining_deps = child.remaining_deps - 1,
               initial_tasks = CASE WHEN s.step_type = 'map' AND jsonb_typeof(p_output) = 'array'
                                    THEN jsonb_array_length(p_output)
                                    ELSE child.initial_tasks END
          FROM pgflow.deps AS d
          JOIN pgflow.steps AS s ON s.flow_slug = d.flow_slug AND s.step_slug = d.step_slug
         WHERE child.run_id = p_run_id
           AND d.flow_slug = child.flow_slug
           AND d.dep_slug = p_step_slug
           AND child.step_slug = d.step_slug
           AND child.status = 'created'
        RETURNING 1
    )
    SELECT count(*)::int FROM released;
$$;
