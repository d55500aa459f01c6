-- When a single step's output cannot feed a dependent map step (which maps it, so it must be an
-- array) the task's error message, '[TYPE_VIOLATION] Produced <type> instead of array';
-- NULL when the output is fine.
CREATE OR REPLACE FUNCTION pgflow._output_type_violation(p_run_id uuid, p_step_slug text, p_output jsonb)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT format('[TYPE_VIOLATION] Produced %s instead of array', coalesce(jsonb_typeof(p_output), 'null'))
     WHERE jsonb_typeof(p_output) IS DISTINCT FROM 'array'
       AND EXISTS (
            SELECT 1
              FROM pgflow.step_states AS child
              JOIN pgflow.deps AS d ON d.flow_slug = child.flow_slug AND d.step_slug = child.step_slug
              JOIN pgflow.steps AS s ON s.flow_slug = child.flow_slug AND s.step_slug = child.step_slug
             WHERE child.run_id = p_run_id
               AND d.dep_slug = p_step_slug
               AND s.step_type = 'map'
               AND child.status = 'created'
               AND child.initial_tasks IS NULL)
$$;
