-- The flow control row of flow p_flow_slug, created (empty) when missing and locked until the
-- transaction ends, for the functions that change it (set_flow_limits, pause_flow, resume_flow,
-- _declare_flow_limits). Raises PF001 for an unknown flow.
CREATE OR REPLACE FUNCTION pgflow._flow_control_row(p_flow_slug text)
RETURNS pgflow.flow_controls
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_row pgflow.flow_controls;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pgflow.flows AS f WHERE f.flow_slug = p_flow_slug) THEN
        RAISE EXCEPTION USING ERRCODE = 'PF001',
            MESSAGE = format('flow %L not found', p_flow_slug),
            HINT = 'Check the slug (pgflow flows list), or compile the flow first.';
    END IF;
    INSERT INTO pgflow.flow_controls AS c (flow_slug) VALUES (p_flow_slug) ON CONFLICT (flow_slug) DO NOTHING;
    SELECT c.* INTO v_row FROM pgflow.flow_controls AS c WHERE c.flow_slug = p_flow_slug FOR UPDATE;
    RETURN v_row;
END;
$$;
