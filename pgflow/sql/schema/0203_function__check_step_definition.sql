-- Validate a step before add_step inserts it; every problem raises PF004 with a hint.
CREATE OR REPLACE FUNCTION pgflow._check_step_definition(
    p_flow_slug text,
    p_step_slug text,
    p_deps text[],
    p_step_type text,
    p_required_input_pattern jsonb,
    p_forbidden_input_pattern jsonb,
    p_when_unmet text,
    p_when_exhausted text
)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_step text := format('step %s.%s', p_flow_slug, p_step_slug);
    v_unknown text[];
BEGIN
    PERFORM pgflow._check_slug('step slug', p_step_slug);
    IF p_step_type IS NULL OR p_step_type NOT IN ('single', 'map') THEN
        PERFORM pgflow._definition_error(format('%s has step_type %L', v_step, p_step_type),
            'Use step_type ''single'' or ''map''.');
    END IF;
    IF p_step_type = 'map' AND cardinality(p_deps) > 1 THEN
        PERFORM pgflow._definition_error(
            -- upstream pgflow's text, which tools match on
            format('Map step "%s" can have at most one dependency, but %s were provided: %s',
                   p_step_slug, cardinality(p_deps), array_to_string(p_deps, ', ')),
            'Map the output array of a single step: give the map step exactly that one dependency, or none to map the run input.');
    END IF;
    IF p_step_slug = ANY (p_deps) THEN
        PERFORM pgflow._definition_error(format('%s depends on itself', v_step),
            'Remove the step from its own dependencies.');
    END IF;
    SELECT array_agg(d ORDER BY d) INTO v_unknown
    FROM unnest(p_deps) AS d
    WHERE NOT EXISTS (SELECT 1 FROM pgflow.steps AS s WHERE s.flow_slug = p_flow_slug AND s.step_slug = d);
    IF v_unknown IS NOT NULL THEN
        PERFORM pgflow._definition_error(
            format('%s depends on unknown step(s) %s', v_step, array_to_string(v_unknown, ', ')),
            'Dependencies must be defined before the step: add them first (steps are added in dependency order).');
    END IF;
    IF p_when_unmet IS NULL OR p_when_unmet NOT IN ('fail', 'skip', 'skip-cascade')
       OR p_when_exhausted IS NULL OR p_when_exhausted NOT IN ('fail', 'skip', 'skip-cascade') THEN
        PERFORM pgflow._definition_error(
            format('%s has when_unmet %L and when_exhausted %L', v_step, p_when_unmet, p_when_exhausted),
            'Use ''fail'', ''skip'' or ''skip-cascade'' for when_unmet and when_exhausted.');
    END IF;
    IF jsonb_typeof(p_required_input_pattern) IS DISTINCT FROM 'object' AND p_required_input_pattern IS NOT NULL
       OR jsonb_typeof(p_forbidden_input_pattern) IS DISTINCT FROM 'object' AND p_forbidden_input_pattern IS NOT NULL THEN
        PERFORM pgflow._definition_error(format('%s has an input pattern that is not a JSON object', v_step),
            'Give required_input_pattern and forbidden_input_pattern as JSON objects (matched with @>), or NULL.');
    END IF;
END;
$$;
