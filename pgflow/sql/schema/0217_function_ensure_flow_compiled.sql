-- Make sure the database holds the flow a worker's code declares (`shape`, FlowShape JSON) with
-- the queues it declares (`queue_mode` 'flow': one queue; 'step': a private queue per step,
-- `route_map` optionally naming them as the worker computed them). Answers
-- {"status": ..., "differences": [...], "mismatchKind": ...}:
--   compiled   - the flow did not exist and was created from the shape;
--   verified   - the stored flow has the same structure and the same queues;
--   mismatch   - it differs and nothing was changed: differences say how, mismatchKind is
--                'routing' when only the queue mode or the steps' queues differ, else 'shape';
--   recompiled - it differed and, this being a local Supabase stack (is_local()), the flow was
--                deleted with all its runs and created anew.
-- A route_map that differs from the queues SQL derives raises (the worker's idea of its queues
-- would be wrong). A verified flow with step queues has its queues checked again
-- (pgflow._assert_step_queue_available). Concurrent calls for one flow (from any language's
-- compiler) are serialized by the advisory lock (1, hashtext(lower(flow_slug))).
-- Texts of differences and errors are upstream pgflow's (tools match on them).
CREATE OR REPLACE FUNCTION pgflow.ensure_flow_compiled(
    flow_slug text,
    shape jsonb,
    queue_mode text DEFAULT 'flow',
    route_map jsonb DEFAULT NULL
)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_mode text := coalesce(ensure_flow_compiled.queue_mode, 'flow');
    v_routes jsonb;
    v_stored_mode text;
    v_differences text[];
    v_routing text[] := '{}';
    v_stored text;
    v_expected text;
    v_at int;
BEGIN
    PERFORM pg_advisory_xact_lock(1, hashtext(lower(ensure_flow_compiled.flow_slug)));
    v_routes := pgflow._derive_queue_routes(ensure_flow_compiled.flow_slug, ensure_flow_compiled.shape, v_mode);

    IF ensure_flow_compiled.route_map IS NOT NULL THEN
        IF jsonb_typeof(ensure_flow_compiled.route_map) IS DISTINCT FROM 'array'
           OR jsonb_array_length(ensure_flow_compiled.route_map) <> jsonb_array_length(v_routes) THEN
            RAISE EXCEPTION USING
                MESSAGE = format('supplied route map for flow "%s" has %s entries but %s step(s) was derived',
                                 ensure_flow_compiled.flow_slug,
                                 CASE WHEN jsonb_typeof(ensure_flow_compiled.route_map) = 'array'
                                      THEN jsonb_array_length(ensure_flow_compiled.route_map) END,
                                 jsonb_array_length(v_routes)),
                HINT = 'Pass one {"stepSlug", "queueName"} per step in shape order, or no route map.';
        END IF;
        SELECT i INTO v_at
          FROM jsonb_array_elements(v_routes) WITH ORDINALITY AS d(r, i)
         WHERE (ensure_flow_compiled.route_map->(i::int - 1)->>'stepSlug') IS DISTINCT FROM r->>'stepSlug'
            OR (ensure_flow_compiled.route_map->(i::int - 1)->>'queueName') IS DISTINCT FROM r->>'queueName'
         ORDER BY i
         LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION USING
                MESSAGE = format('supplied route map for flow "%s" disagrees with the derived route at position %s',
                                 ensure_flow_compiled.flow_slug, v_at),
                DETAIL = format('Supplied %s; derived %s.', ensure_flow_compiled.route_map->(v_at - 1),
                                v_routes->(v_at - 1)),
                HINT = 'Queue names derive from the flow slug, the step slugs and their order; fix the route map.';
        END IF;
    END IF;

    SELECT f.queue_mode INTO v_stored_mode FROM pgflow.flows AS f WHERE f.flow_slug = ensure_flow_compiled.flow_slug;
    IF NOT FOUND THEN
        PERFORM pgflow._create_flow_from_shape(ensure_flow_compiled.flow_slug, ensure_flow_compiled.shape, v_mode);
        RETURN jsonb_build_object('status', 'compiled', 'differences', '[]'::jsonb, 'mismatchKind', NULL);
    END IF;

    v_differences := pgflow._compare_flow_shapes(ensure_flow_compiled.shape,
                                                 pgflow._get_flow_shape(ensure_flow_compiled.flow_slug));
    IF v_stored_mode IS DISTINCT FROM v_mode THEN
        v_routing := v_routing || format('Queue mode differs: database has ''%s'', worker expects ''%s''',
                                         v_stored_mode, v_mode);
    END IF;
    SELECT string_agg(s.step_slug || ' -> ' || s.queue_name, ', ' ORDER BY s.step_index) INTO v_stored
      FROM pgflow.steps AS s WHERE s.flow_slug = ensure_flow_compiled.flow_slug;
    SELECT string_agg((r->>'stepSlug') || ' -> ' || (r->>'queueName'), ', ' ORDER BY i) INTO v_expected
      FROM jsonb_array_elements(v_routes) WITH ORDINALITY AS t(r, i);
    IF v_stored IS DISTINCT FROM v_expected THEN
        v_routing := v_routing || format('Step routes differ: database has [%s], worker expects [%s]',
                                         coalesce(v_stored, ''), coalesce(v_expected, ''));
    END IF;

    IF cardinality(v_differences) = 0 AND cardinality(v_routing) = 0 THEN
        IF v_mode = 'step' THEN
            PERFORM pgflow._assert_step_queue_available(ensure_flow_compiled.flow_slug, r->>'queueName')
               FROM jsonb_array_elements(v_routes) AS r;
        END IF;
        RETURN jsonb_build_object('status', 'verified', 'differences', '[]'::jsonb, 'mismatchKind', NULL);
    END IF;

    IF pgflow.is_local() THEN
        PERFORM pgflow.delete_flow_and_data(ensure_flow_compiled.flow_slug);
        PERFORM pgflow._create_flow_from_shape(ensure_flow_compiled.flow_slug, ensure_flow_compiled.shape, v_mode);
        RETURN jsonb_build_object('status', 'recompiled', 'differences', to_jsonb(v_differences || v_routing),
                                  'mismatchKind', NULL);
    END IF;
    RETURN jsonb_build_object('status', 'mismatch', 'differences', to_jsonb(v_differences || v_routing),
                              'mismatchKind', CASE WHEN cardinality(v_differences) = 0 THEN 'routing' ELSE 'shape' END);
END;
$$;
