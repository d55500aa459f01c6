-- pgflow-py addition (durable waits): the input of a waiting step, as a handler of a single step
-- would get it: the run's input for a root step, {dep_slug: output} of its dependencies
-- otherwise (pgflow._task_input). A sleep step reads its wake time in it, a subflow step its
-- child's input.
CREATE OR REPLACE FUNCTION pgflow._wait_input(p_flow_slug text, p_run_id uuid, p_step_slug text, p_run_input jsonb)
RETURNS jsonb
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT CASE WHEN s.deps_count = 0 THEN p_run_input
                ELSE pgflow._task_input(p_flow_slug, p_run_id, p_step_slug, s.deps_count) END
      FROM pgflow.steps AS s
     WHERE s.flow_slug = p_flow_slug AND s.step_slug = p_step_slug
$$;
