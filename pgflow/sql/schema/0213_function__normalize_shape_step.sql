-- One step of a FlowShape with the defaults filled in (stepType 'single', no dependencies,
-- whenUnmet 'skip', whenExhausted 'fail', patterns {"defined": false}) and the dependencies
-- sorted, so shapes written by different DSL versions compare equal when they mean the same.
CREATE OR REPLACE FUNCTION pgflow._normalize_shape_step(p_step jsonb)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT jsonb_build_object(
        'slug', p_step->'slug',
        'stepType', coalesce(p_step->'stepType', '"single"'),
        'dependencies', coalesce(
            (SELECT jsonb_agg(d ORDER BY d)
             FROM jsonb_array_elements_text(coalesce(p_step->'dependencies', '[]')) AS d),
            '[]'),
        'whenUnmet', coalesce(p_step->'whenUnmet', '"skip"'),
        'whenExhausted', coalesce(p_step->'whenExhausted', '"fail"'),
        'requiredInputPattern', coalesce(p_step->'requiredInputPattern', '{"defined": false}'),
        'forbiddenInputPattern', coalesce(p_step->'forbiddenInputPattern', '{"defined": false}'))
$$;
