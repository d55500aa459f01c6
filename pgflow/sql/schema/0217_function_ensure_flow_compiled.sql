-- Make sure the database holds the flow a worker's code declares (`shape`, FlowShape JSON).
-- Answers {"status": ..., "differences": [...]}:
--   compiled   - the flow did not exist and was created from the shape;
--   verified   - the stored flow has the same structure;
--   mismatch   - the structure differs and nothing was changed (differences say how);
--   recompiled - it differed and, because allow_data_loss is true or this is a local Supabase
--                stack (is_local()), the flow was deleted with all its runs and created anew.
-- Concurrent calls for one flow are serialized by a transaction-level advisory lock.
CREATE OR REPLACE FUNCTION pgflow.ensure_flow_compiled(
    flow_slug text,
    shape jsonb,
    allow_data_loss boolean DEFAULT false
)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_differences text[];
BEGIN
    PERFORM pg_advisory_xact_lock(1, hashtext(ensure_flow_compiled.flow_slug));

    IF NOT EXISTS (SELECT 1 FROM pgflow.flows AS f WHERE f.flow_slug = ensure_flow_compiled.flow_slug) THEN
        PERFORM pgflow._create_flow_from_shape(ensure_flow_compiled.flow_slug, ensure_flow_compiled.shape);
        RETURN jsonb_build_object('status', 'compiled', 'differences', '[]'::jsonb);
    END IF;

    v_differences := pgflow._compare_flow_shapes(ensure_flow_compiled.shape,
                                                 pgflow._get_flow_shape(ensure_flow_compiled.flow_slug));
    IF cardinality(v_differences) = 0 THEN
        RETURN jsonb_build_object('status', 'verified', 'differences', '[]'::jsonb);
    END IF;

    IF ensure_flow_compiled.allow_data_loss OR pgflow.is_local() THEN
        PERFORM pgflow.delete_flow_and_data(ensure_flow_compiled.flow_slug);
        PERFORM pgflow._create_flow_from_shape(ensure_flow_compiled.flow_slug, ensure_flow_compiled.shape);
        RETURN jsonb_build_object('status', 'recompiled', 'differences', to_jsonb(v_differences));
    END IF;
    RETURN jsonb_build_object('status', 'mismatch', 'differences', to_jsonb(v_differences));
END;
$$;
