-- claim_tasks' read of a flow with prioritized runs (pgflow-py): up to p_qty visible messages of
-- queue p_queue_name whose tasks belong to started runs of flow p_flow_slug with a priority
-- above 0, highest priority first, then oldest run, then queue order; each read as pgmq.read
-- does, by pgflow._read_listed. Returns the message ids (NULL: none).
-- Planned on each call (dynamic SQL per queue): only flows with prioritized runs pay it.
CREATE OR REPLACE FUNCTION pgflow._read_prioritized(p_flow_slug text, p_queue_name text, p_qty int)
RETURNS bigint[]
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_candidates bigint[];
BEGIN
    v_candidates := ARRAY(
        SELECT t.message_id
          FROM (SELECT r.run_id, r.priority, r.started_at
                  FROM pgflow.runs AS r
                 WHERE r.flow_slug = p_flow_slug AND r.priority > 0 AND r.status = 'started'
                 ORDER BY r.priority DESC, r.started_at
                 LIMIT p_qty * 4) AS r
         CROSS JOIN LATERAL pgflow._queued_in_order(r.run_id, p_queue_name, p_qty * 4) AS t (message_id)
         ORDER BY r.priority DESC, r.started_at, t.message_id
         LIMIT p_qty * 4);
    IF cardinality(v_candidates) = 0 THEN
        RETURN NULL;
    END IF;
    RETURN pgflow._read_listed(p_queue_name, v_candidates, p_qty);
END;
$$;
