-- Resume a paused flow (pgflow-py addition; client.resume_flow, `pgflow flows resume`, the
-- dashboard): its queued tasks are claimed again from the next read on, in queue order. Returns
-- whether the flow was paused. PF001 for an unknown flow.
CREATE OR REPLACE FUNCTION pgflow.resume_flow(flow_slug text)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_row pgflow.flow_controls := pgflow._flow_control_row(resume_flow.flow_slug);
BEGIN
    UPDATE pgflow.flow_controls AS c SET paused_at = NULL, pause_reason = NULL, updated_at = now()
     WHERE c.flow_slug = resume_flow.flow_slug;
    PERFORM pgflow._drop_idle_flow_control(resume_flow.flow_slug);
    RETURN v_row.paused_at IS NOT NULL;
END;
$$;
