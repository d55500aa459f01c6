-- The handler input of a task of a single step, as start_tasks computes it: an object
-- {dep_slug: output} of the completed dependencies ({} for a root step). (A map task's input is
-- one element of an array; claim_tasks reads that array once per batch.)
CREATE OR REPLACE FUNCTION pgflow._task_input(p_flow_slug text, p_run_id uuid, p_step_slug text, p_deps_count int)
RETURNS jsonb
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT CASE
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
