-- The limits a flow's code declares (Flow(max_running=...), step(max_running=...)), recorded when
-- the flow is compiled (pgflow-py's compile_flow; a TypeScript compiler never calls it). They
-- replace the limits in force only when they differ from what the code declared last time, so a
-- runtime change (set_flow_limits) survives redeploys of unchanged code and is replaced by a
-- deploy that changes the limits. Checked like set_flow_limits (PF003). Returns the limits in
-- force. PF001 for an unknown flow.
CREATE OR REPLACE FUNCTION pgflow._declare_flow_limits(p_flow_slug text, p_declared jsonb)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_declared jsonb := pgflow._check_flow_limits(p_flow_slug, coalesce(p_declared, '{}'));
    v_row pgflow.flow_controls;
BEGIN
    SELECT c.* INTO v_row FROM pgflow.flow_controls AS c WHERE c.flow_slug = p_flow_slug;
    IF NOT FOUND AND v_declared = '{}' THEN
        RETURN '{}'::jsonb;  -- nothing declared, nothing stored: no write
    END IF;
    v_row := pgflow._flow_control_row(p_flow_slug);
    -- never declared (NULL: set at runtime only) counts as declaring nothing
    IF coalesce(v_row.declared, '{}') IS DISTINCT FROM v_declared THEN
        UPDATE pgflow.flow_controls AS c SET limits = v_declared, declared = v_declared, updated_at = now()
         WHERE c.flow_slug = p_flow_slug
        RETURNING c.* INTO v_row;
        PERFORM pgflow._key_started_runs(p_flow_slug, v_declared);
        PERFORM pgflow._drop_idle_flow_control(p_flow_slug);
    END IF;
    RETURN v_row.limits;
END;
$$;
