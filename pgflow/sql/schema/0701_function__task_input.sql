-- The handler input of a task, as start_tasks computes it: the element task_index of the run
-- input (root map step) or of its dependency's output (dependent map step); otherwise an
-- object {dep_slug: output} of the completed dependencies ({} for a root step).
CREATE OR REPLACE FUNCTION pgflow._task_input(
    p_flow_slug text, p_run_id uuid, p_step_slug text, p_task_index int, p_step_type text, p_deps_count int,
    p_run_input jsonb)
RETURNS jsonb
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT CASE
             WHEN p_step_type = 'map' AND p_deps_count = 0 THEN p_run_input -> p_task_index
             WHEN p_step_type = 'map' THEN (
                 SELECT parent.output -> p_task_index
                   FROM pgflow.deps AS d
                   JOIN pgflow.step_states AS parent ON parent.run_id = p_run_id AND parent.step_slug = d.dep_slug
                  WHERE d.flow_slug = p_flow_slug AND d.step_slug = p_step_slug)
             WHEN p_deps_count = 0 THEN '{}'::jsonb
             ELSE coalesce(
                 (SELECT jsonb_object_agg(d.dep_slug, parent.output)
                    FROM pgflow.deps AS d
                    JOIN pgflow.step_states AS parent ON parent.run_id = p_run_id AND parent.step_slug = d.dep_slug
                   WHERE d.flow_slug = p_flow_slug AND d.step_slug = p_step_slug
                     AND parent.status = 'completed'),
                 '{}'::jsonb)
           END
$$;
