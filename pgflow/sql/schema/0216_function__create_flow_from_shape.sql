-- Create a flow and its steps from a FlowShape (see _get_flow_shape), so every definition rule
-- of create_flow and add_step applies. Options missing from the shape take the defaults.
-- pgflow-py extension: a top-level "flowType" ('flow' or 'job') sets flows.flow_type.
-- p_queue_mode 'flow' gives the flow one queue, lower(flow_slug) (create_flow); 'step' gives each
-- step a private queue (pgflow._derive_queue_routes): every queue is checked first
-- (pgflow._assert_step_queue_available), then the missing ones are created, so a refused
-- definition leaves no queue behind; such a flow has no default queue.
-- Takes the flow's advisory lock (1, hashtext(lower(flow_slug))), as ensure_flow_compiled does.
CREATE OR REPLACE FUNCTION pgflow._create_flow_from_shape(p_flow_slug text, p_shape jsonb, p_queue_mode text DEFAULT 'flow')
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_mode text := coalesce(p_queue_mode, 'flow');
    v_routes jsonb;
    v_missing text[] := '{}';
    v_step jsonb;
    v_index int;
BEGIN
    PERFORM pg_advisory_xact_lock(1, hashtext(lower(p_flow_slug)));
    v_routes := pgflow._derive_queue_routes(p_flow_slug, p_shape, v_mode);

    IF v_mode = 'step' THEN
        SELECT coalesce(array_agg(r->>'queueName' ORDER BY i), '{}') INTO v_missing
          FROM jsonb_array_elements(v_routes) WITH ORDINALITY AS t(r, i)
         WHERE pgflow._assert_step_queue_available(p_flow_slug, r->>'queueName');
        PERFORM pgflow._check_options('flow ' || p_flow_slug, (p_shape #>> '{options,maxAttempts}')::int,
                                      (p_shape #>> '{options,baseDelay}')::int,
                                      (p_shape #>> '{options,timeout}')::int, NULL);
        PERFORM pgmq.create(q) FROM unnest(v_missing) AS q;
        INSERT INTO pgflow.flows AS f (flow_slug, opt_max_attempts, opt_base_delay, opt_timeout, queue_mode)
        VALUES (p_flow_slug,
                coalesce((p_shape #>> '{options,maxAttempts}')::int, 3),
                coalesce((p_shape #>> '{options,baseDelay}')::int, 5),
                coalesce((p_shape #>> '{options,timeout}')::int, 60),
                'step')
        ON CONFLICT ON CONSTRAINT flows_pkey DO NOTHING;
    ELSE
        PERFORM pgflow.create_flow(p_flow_slug,
                                   (p_shape #>> '{options,maxAttempts}')::int,
                                   (p_shape #>> '{options,baseDelay}')::int,
                                   (p_shape #>> '{options,timeout}')::int);
    END IF;
    IF p_shape ? 'flowType' THEN
        IF p_shape->>'flowType' IS DISTINCT FROM 'flow' AND p_shape->>'flowType' IS DISTINCT FROM 'job' THEN
            PERFORM pgflow._definition_error(format('flow %s has flowType %s', p_flow_slug, p_shape->'flowType'),
                                             'Use "flow" or "job" as flowType, or leave it out.');
        END IF;
        UPDATE pgflow.flows SET flow_type = p_shape->>'flowType' WHERE flow_slug = p_flow_slug;
    END IF;

    -- each step with the queue derived for it (in flow mode lower(flow_slug), as add_step gives)
    FOR v_step, v_index IN
        SELECT e, (i - 1)::int FROM jsonb_array_elements(coalesce(p_shape->'steps', '[]')) WITH ORDINALITY AS t(e, i)
    LOOP
        PERFORM pgflow._add_step(
            p_flow_slug,
            v_step->>'slug',
            v_routes->v_index->>'queueName',
            ARRAY(SELECT jsonb_array_elements_text(coalesce(v_step->'dependencies', '[]'))),
            (v_step #>> '{options,maxAttempts}')::int,
            (v_step #>> '{options,baseDelay}')::int,
            (v_step #>> '{options,timeout}')::int,
            (v_step #>> '{options,startDelay}')::int,
            coalesce(v_step->>'stepType', 'single'),
            pgflow._shape_pattern_value(v_step->'requiredInputPattern'),
            pgflow._shape_pattern_value(v_step->'forbiddenInputPattern'),
            coalesce(v_step->>'whenUnmet', 'skip'),
            coalesce(v_step->>'whenExhausted', 'fail'));
    END LOOP;
END;
$$;
