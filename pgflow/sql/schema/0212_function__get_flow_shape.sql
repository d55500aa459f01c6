-- The stored definition of a flow in the FlowShape format the DSLs produce (steps in
-- step_index order, dependencies sorted, patterns wrapped as {"defined": ...}). Numeric
-- options are left out: they do not take part in the comparison.
CREATE OR REPLACE FUNCTION pgflow._get_flow_shape(p_flow_slug text)
RETURNS jsonb
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT jsonb_build_object('steps', coalesce(jsonb_agg(
        jsonb_build_object(
            'slug', s.step_slug,
            'stepType', s.step_type,
            'dependencies', coalesce(
                (SELECT jsonb_agg(d.dep_slug ORDER BY d.dep_slug)
                 FROM pgflow.deps AS d
                 WHERE d.flow_slug = s.flow_slug AND d.step_slug = s.step_slug),
                '[]'::jsonb),
            'whenUnmet', s.when_unmet,
            'whenExhausted', s.when_exhausted,
            'requiredInputPattern', pgflow._shape_pattern(s.required_input_pattern),
            'forbiddenInputPattern', pgflow._shape_pattern(s.forbidden_input_pattern))
        ORDER BY s.step_index), '[]'::jsonb))
    FROM pgflow.steps AS s
    WHERE s.flow_slug = p_flow_slug
$$;
