-- Create a flow and its steps from a FlowShape (see _get_flow_shape), through create_flow and
-- add_step, so every definition rule applies. Options missing from the shape take the
-- defaults. pgflow-py extension: a top-level "flowType" ('flow' or 'job') sets flows.flow_type.
CREATE OR REPLACE FUNCTION pgflow._create_flow_from_shape(p_flow_slug text, p_shape jsonb)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_step jsonb;
BEGIN
    PERFORM pgflow.create_flow(p_flow_slug,
                               (p_shape #>> '{options,maxAttempts}')::int,
                               (p_shape #>> '{options,baseDelay}')::int,
                               (p_shape #>> '{options,timeout}')::int);
    IF p_shape ? 'flowType' THEN
        IF p_shape->>'flowType' IS DISTINCT FROM 'flow' AND p_shape->>'flowType' IS DISTINCT FROM 'job' THEN
            PERFORM pgflow._definition_error(format('flow %s has flowType %s', p_flow_slug, p_shape->'flowType'),
                                             'Use "flow" or "job" as flowType, or leave it out.');
        END IF;
        UPDATE pgflow.flows SET flow_type = p_shape->>'flowType' WHERE flow_slug = p_flow_slug;
    END IF;

    FOR v_step IN SELECT e FROM jsonb_array_elements(coalesce(p_shape->'steps', '[]')) AS e LOOP
        PERFORM pgflow.add_step(
            flow_slug => p_flow_slug,
            step_slug => v_step->>'slug',
            deps_slugs => ARRAY(SELECT jsonb_array_elements_text(coalesce(v_step->'dependencies', '[]'))),
            max_attempts => (v_step #>> '{options,maxAttempts}')::int,
            base_delay => (v_step #>> '{options,baseDelay}')::int,
            timeout => (v_step #>> '{options,timeout}')::int,
            start_delay => (v_step #>> '{options,startDelay}')::int,
            step_type => coalesce(v_step->>'stepType', 'single'),
            required_input_pattern => pgflow._shape_pattern_value(v_step->'requiredInputPattern'),
            forbidden_input_pattern => pgflow._shape_pattern_value(v_step->'forbiddenInputPattern'),
            when_unmet => coalesce(v_step->>'whenUnmet', 'skip'),
            when_exhausted => coalesce(v_step->>'whenExhausted', 'fail'));
    END LOOP;
END;
$$;
