-- Steps of a started run that are ready (created, no pending dependency) and whose condition is
-- not met. The condition is checked against the run input for root steps and against
-- {dep_slug: output} over the completed dependencies for the others (skipped dependencies are
-- absent): met = (required_input_pattern IS NULL OR input @> required_input_pattern)
--            AND (forbidden_input_pattern IS NULL OR NOT input @> forbidden_input_pattern).
CREATE OR REPLACE FUNCTION pgflow._unmet_condition_steps(p_run_id uuid)
RETURNS TABLE (step_slug text, step_index int, when_unmet text)
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT ss.step_slug, s.step_index, s.when_unmet
      FROM pgflow.step_states AS ss
      JOIN pgflow.runs AS r ON r.run_id = ss.run_id
      JOIN pgflow.steps AS s ON s.flow_slug = ss.flow_slug AND s.step_slug = ss.step_slug
     CROSS JOIN LATERAL (
            SELECT CASE
                     WHEN s.deps_count = 0 THEN r.input
                     ELSE coalesce(
                            (SELECT jsonb_object_agg(d.dep_slug, parent.output)
                               FROM pgflow.deps AS d
                               JOIN pgflow.step_states AS parent
                                 ON parent.run_id = ss.run_id AND parent.step_slug = d.dep_slug
                              WHERE d.flow_slug = ss.flow_slug AND d.step_slug = ss.step_slug
                                AND parent.status = 'completed'),
                            '{}'::jsonb)
                   END AS input
         ) AS i
     WHERE ss.run_id = p_run_id
       AND NOT pgflow._is_terminal(r.status)
       AND ss.status = 'created'
       AND ss.remaining_deps = 0
       AND (s.required_input_pattern IS NOT NULL OR s.forbidden_input_pattern IS NOT NULL)
       AND NOT ((s.required_input_pattern IS NULL OR i.input @> s.required_input_pattern)
                AND (s.forbidden_input_pattern IS NULL OR NOT i.input @> s.forbidden_input_pattern))
$$;
