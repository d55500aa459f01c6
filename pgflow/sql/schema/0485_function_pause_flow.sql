-- Pause a flow (pgflow-py addition; client.pause_flow, `pgflow flows pause`, the dashboard): from
-- the next claim on, no task of the flow is claimed, by any worker (start_tasks and claim_tasks
-- both pass through pgflow._start_tasks); tasks already running finish and report as usual, runs
-- can still be started (their tasks wait in the queue). Idempotent: pausing a paused flow keeps
-- its first paused_at and reason. Returns when the flow was paused. PF001 for an unknown flow.
CREATE OR REPLACE FUNCTION pgflow.pause_flow(flow_slug text, reason text DEFAULT NULL)
RETURNS timestamptz
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_row pgflow.flow_controls := pgflow._flow_control_row(pause_flow.flow_slug);
BEGIN
    IF v_row.paused_at IS NULL THEN
        UPDATE pgflow.flow_controls AS c SET paused_at = now(), pause_reason = pause_flow.reason, updated_at = now()
         WHERE c.flow_slug = pause_flow.flow_slug
        RETURNING c.* INTO v_row;
    END IF;
    RETURN v_row.paused_at;
END;
$$;
