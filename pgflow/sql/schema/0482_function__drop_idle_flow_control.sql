-- Delete flow p_flow_slug's flow control row when it controls nothing (no limits, not paused,
-- no limits declared by code), so the flow's claims take the fast path again.
CREATE OR REPLACE FUNCTION pgflow._drop_idle_flow_control(p_flow_slug text)
RETURNS void
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    DELETE FROM pgflow.flow_controls AS c
     WHERE c.flow_slug = p_flow_slug AND c.limits = '{}' AND c.paused_at IS NULL
       AND coalesce(c.declared, '{}') = '{}';
$$;
