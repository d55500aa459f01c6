-- Flow control at claim time (pgflow-py addition), called by pgflow._start_tasks only for a
-- flow that has a pgflow.flow_controls row: which of the tasks behind messages p_msg_ids (read
-- from queue p_queue_name) may start now. A paused flow starts none. Otherwise, under the
-- flow's claim lock (transaction-level advisory lock (3, hashtext(flow_slug)), taken only for
-- limited flows, so concurrent claims of one limited flow by any workers are serialised), the
-- flow's running tasks (status 'started': slots come from task state, a killed worker's task
-- holds its slot until it is requeued) are counted, in all and per step, and the queued tasks
-- are admitted in message order while the flow's max_running and their step's max_running
-- leave room. A refused task is not started: its message becomes visible again 250 ms later,
-- so no worker spins on it and a TypeScript worker reads it again on a later poll.
-- Returns the admitted message ids; messages without a queued task are not returned (the claim
-- gives them no row either way) and their visibility is left alone.
CREATE OR REPLACE FUNCTION pgflow._admit_claims(p_flow_slug text, p_msg_ids bigint[], p_queue_name text)
RETURNS bigint[]
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_control pgflow.flow_controls;
    v_flow_max int;
    v_step_max int;
    v_running int := 0;
    v_by_step jsonb := '{}';
    v_step_running int;
    v_task record;
    v_admitted bigint[] := '{}';
    v_refused bigint[] := '{}';
BEGIN
    SELECT c.* INTO v_control FROM pgflow.flow_controls AS c WHERE c.flow_slug = p_flow_slug;
    IF NOT FOUND OR (v_control.paused_at IS NULL AND v_control.limits = '{}') THEN
        RETURN p_msg_ids;
    END IF;
    v_flow_max := (v_control.limits->>'max_running')::int;
    IF v_control.paused_at IS NULL THEN
        PERFORM pg_advisory_xact_lock(3, hashtext(p_flow_slug));
        -- a statement after the lock: it sees every claim its previous holders committed
        SELECT coalesce(sum(running.n), 0)::int, coalesce(jsonb_object_agg(running.step_slug, running.n), '{}')
          INTO v_running, v_by_step
          FROM (SELECT t.step_slug, count(*)::int AS n
                  FROM pgflow.step_tasks AS t
                 WHERE t.flow_slug = p_flow_slug AND t.status = 'started'
                 GROUP BY t.step_slug) AS running;
    END IF;
    FOR v_task IN
        SELECT t.message_id, t.step_slug
          FROM unnest(p_msg_ids) AS m (msg_id)
          JOIN pgflow.step_tasks AS t ON t.queue_name = p_queue_name AND t.message_id = m.msg_id
         WHERE t.status = 'queued' AND t.flow_slug = p_flow_slug
         ORDER BY m.msg_id
    LOOP
        v_step_max := (v_control.limits #>> ARRAY['steps', v_task.step_slug, 'max_running'])::int;
        v_step_running := coalesce((v_by_step->>v_task.step_slug)::int, 0);
        IF v_control.paused_at IS NULL
           AND (v_flow_max IS NULL OR v_running < v_flow_max)
           AND (v_step_max IS NULL OR v_step_running < v_step_max) THEN
            v_admitted := v_admitted || v_task.message_id;
            v_running := v_running + 1;
            v_by_step := jsonb_set(v_by_step, ARRAY[v_task.step_slug], to_jsonb(v_step_running + 1));
        ELSE
            v_refused := v_refused || v_task.message_id;
        END IF;
    END LOOP;
    IF cardinality(v_refused) > 0 THEN
        EXECUTE format('UPDATE pgmq.%I SET vt = clock_timestamp() + interval ''250 milliseconds'' '
                       'WHERE msg_id = ANY ($1)', pgmq.format_table_name(p_queue_name, 'q'))
          USING v_refused;
    END IF;
    RETURN v_admitted;
END;
$$;
