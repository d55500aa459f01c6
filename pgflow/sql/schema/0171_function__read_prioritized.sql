-- claim_tasks' read of a flow with prioritized runs (pgflow-py): up to p_qty visible messages of
-- queue p_queue_name whose tasks belong to started runs of flow p_flow_slug with a priority
-- above 0, highest priority first, then oldest run, then queue order; each read as pgmq.read
-- does (FOR UPDATE SKIP LOCKED, read_ct + 1) and hidden for its step's timeout + 2 s, as
-- claim_tasks' own read (its twin for the default lane; tests/sql/flow_control/test_priorities.py
-- checks both hide and count alike). Returns the message ids (NULL: none).
-- Planned on each call (dynamic SQL per queue): only flows with prioritized runs pay it.
CREATE OR REPLACE FUNCTION pgflow._read_prioritized(p_flow_slug text, p_queue_name text, p_qty int)
RETURNS bigint[]
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_candidates bigint[];
    v_ids bigint[];
BEGIN
    v_candidates := ARRAY(
        SELECT t.message_id
          FROM (SELECT r.run_id, r.priority, r.started_at
                  FROM pgflow.runs AS r
                 WHERE r.flow_slug = p_flow_slug AND r.priority > 0 AND r.status = 'started'
                 ORDER BY r.priority DESC, r.started_at
                 LIMIT p_qty * 4) AS r
         CROSS JOIN LATERAL (
               SELECT q.message_id
                 FROM pgflow.step_tasks AS q
                WHERE q.run_id = r.run_id AND q.status = 'queued'
                  AND q.queue_name = p_queue_name AND q.message_id IS NOT NULL
                ORDER BY q.message_id
                LIMIT p_qty * 4) AS t
         ORDER BY r.priority DESC, r.started_at, t.message_id
         LIMIT p_qty * 4);
    IF cardinality(v_candidates) = 0 THEN
        RETURN NULL;
    END IF;
    EXECUTE format($read$
        WITH picked AS (
            SELECT q.msg_id, q.message->>'flow_slug' AS flow_slug, q.message->>'step_slug' AS step_slug
              FROM pgmq.%1$I AS q
             WHERE q.msg_id = ANY ($1) AND q.vt <= clock_timestamp() AND q.enqueued_at <= now()
             ORDER BY array_position($1, q.msg_id)
             LIMIT $2
               FOR UPDATE SKIP LOCKED
        ),
        hidden AS (
            UPDATE pgmq.%1$I AS q
               SET vt = clock_timestamp() + make_interval(secs => coalesce(s.opt_timeout, f.opt_timeout) + 2),
                   read_ct = q.read_ct + 1,
                   last_read_at = clock_timestamp()
              FROM picked AS p
              JOIN pgflow.flows AS f ON f.flow_slug = p.flow_slug
              LEFT JOIN pgflow.steps AS s ON s.flow_slug = f.flow_slug AND s.step_slug = p.step_slug
             WHERE q.msg_id = p.msg_id
            RETURNING q.msg_id
        )
        SELECT array_agg(h.msg_id ORDER BY h.msg_id) FROM hidden AS h
        $read$, pgmq.format_table_name(p_queue_name, 'q'))
      INTO v_ids
      USING v_candidates, p_qty;
    RETURN v_ids;
END;
$$;
