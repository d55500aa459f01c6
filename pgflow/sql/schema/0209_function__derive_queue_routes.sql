-- The queue of every step of a shape, in shape order: [{"stepSlug", "queueName"}, ...]. In flow
-- mode every step routes to lower(flow_slug); in step mode each to its private queue
-- (pgflow._resolve_step_queue_name). Checks first that the mode is known, that every slug is
-- valid, that step slugs differ in more than case and that no two steps share a private queue
-- (the messages are upstream pgflow's).
CREATE OR REPLACE FUNCTION pgflow._derive_queue_routes(p_flow_slug text, p_shape jsonb, p_queue_mode text)
RETURNS jsonb
LANGUAGE plpgsql
IMMUTABLE
SET search_path = ''
AS $$
DECLARE
    v_rules constant text := 'Slugs are 1-128 characters of letters, digits and single underscores, start with '
        || 'a letter, end with a letter or a digit and are not the reserved word "run".';
    v_steps jsonb := coalesce(p_shape->'steps', '[]'::jsonb);
    v_slug text;
    v_index int;
    v_queue text;
    v_routes jsonb := '[]'::jsonb;
    v_earlier jsonb;
BEGIN
    IF p_queue_mode IS NULL OR p_queue_mode NOT IN ('flow', 'step') THEN
        RAISE EXCEPTION USING MESSAGE = format('Unknown queue mode "%s".', p_queue_mode),
            HINT = 'Queue mode must be ''flow'' or ''step''.';
    END IF;
    IF p_queue_mode = 'step' AND jsonb_array_length(v_steps) = 0 THEN
        RAISE EXCEPTION USING MESSAGE = format('Flow "%s" cannot use per-step queues: it has no steps.', p_flow_slug),
            HINT = 'Add a step, or keep the flow on one queue.';
    END IF;
    IF NOT pgflow.is_valid_slug(p_flow_slug) THEN
        RAISE EXCEPTION USING MESSAGE = format('Flow slug "%s" is not valid.', p_flow_slug), DETAIL = v_rules,
            HINT = 'Fix the flow slug in the flow definition.';
    END IF;
    SELECT e->>'slug' INTO v_slug
      FROM jsonb_array_elements(v_steps) WITH ORDINALITY AS t(e, i)
     WHERE NOT pgflow.is_valid_slug(e->>'slug')
     ORDER BY i
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING MESSAGE = format('Step slug "%s" in flow "%s" is not valid.', v_slug, p_flow_slug),
            DETAIL = v_rules, HINT = 'Fix the step slug in the flow definition.';
    END IF;

    FOR v_slug, v_index IN
        SELECT e->>'slug', (i - 1)::int FROM jsonb_array_elements(v_steps) WITH ORDINALITY AS t(e, i) ORDER BY i
    LOOP
        SELECT r INTO v_earlier FROM jsonb_array_elements(v_routes) AS r
         WHERE lower(r->>'stepSlug') = lower(v_slug) LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION USING
                MESSAGE = format('Steps "%s" and "%s" in flow "%s" conflict case-insensitively.',
                                 v_earlier->>'stepSlug', v_slug, p_flow_slug),
                HINT = 'Rename one of the two steps.';
        END IF;
        v_queue := CASE WHEN p_queue_mode = 'step'
                        THEN pgflow._resolve_step_queue_name(p_flow_slug, v_slug, v_index)
                        ELSE lower(p_flow_slug) END;
        IF p_queue_mode = 'step' THEN
            SELECT r INTO v_earlier FROM jsonb_array_elements(v_routes) AS r WHERE r->>'queueName' = v_queue LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION USING
                    MESSAGE = format('Steps "%s" and "%s" in flow "%s" both resolve to queue "%s".',
                                     v_earlier->>'stepSlug', v_slug, p_flow_slug, v_queue),
                    HINT = 'Rename one of the two steps.';
            END IF;
        END IF;
        v_routes := v_routes || jsonb_build_array(jsonb_build_object('stepSlug', v_slug, 'queueName', v_queue));
    END LOOP;
    RETURN v_routes;
END;
$$;
