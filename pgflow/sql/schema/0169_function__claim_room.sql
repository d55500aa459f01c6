-- What claim_tasks may read from queue p_queue_name now (pgflow-py flow control and priorities):
-- room, how many messages:
--   NULL - the queue's flow has no flow-wide limit (no flow control row, or step limits only):
--          read as many as asked; pgflow._start_tasks' admission does the rest;
--   0    - the flow is paused, or its running tasks fill its max_running: read nothing;
--   n    - max_running minus the running tasks (taking the flow's claim lock, as
--          pgflow._admit_claims, which counts again under it - except for a flow without a
--          rate_limit that has 1,000 slots or more free: then without the lock), and at most the
--          starts the flow's rate_limit allows now (pgflow._rate_room);
-- prioritized_flow, the queue's flow when it has started runs with a priority above 0 (their
-- tasks are read first, pgflow._read_prioritized), else NULL;
-- keyed_flow, the queue's flow when it has a max_running_per_key (its messages are read from the
-- concurrency keys in turn, pgflow._read_by_key), else NULL. All come from index probes and the
-- flow control row; a flow with neither flow control nor priorities pays those and nothing else.
CREATE OR REPLACE FUNCTION pgflow._claim_room(p_queue_name text, OUT room int, OUT prioritized_flow text,
                                              OUT keyed_flow text)
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_flow text;
    v_control pgflow.flow_controls;
    v_max int;
BEGIN
    SELECT s.flow_slug INTO v_flow FROM pgflow.steps AS s WHERE s.queue_name = p_queue_name LIMIT 1;
    IF EXISTS (SELECT 1 FROM pgflow.runs AS r
                WHERE r.flow_slug = v_flow AND r.priority > 0 AND r.status = 'started') THEN
        prioritized_flow := v_flow;
    END IF;
    SELECT c.* INTO v_control FROM pgflow.flow_controls AS c WHERE c.flow_slug = v_flow;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF v_control.paused_at IS NOT NULL THEN
        room := 0;
        RETURN;
    END IF;
    IF v_control.limits ? 'max_running_per_key' THEN
        keyed_flow := v_flow;
    END IF;
    v_max := (v_control.limits->>'max_running')::int;
    IF v_max IS NULL AND NOT v_control.limits ? 'rate_limit' THEN
        RETURN;
    END IF;
    IF v_max IS NOT NULL AND NOT v_control.limits ? 'rate_limit' THEN
        -- far below the limit (1,000 slots or more free by a count without the lock) the read
        -- is sized by that count and the lock is left to pgflow._admit_claims, which enforces
        -- the limit under it: taking it here held it across the read too
        SELECT greatest(v_max - count(*), 0)::int INTO room
          FROM pgflow.step_tasks AS t WHERE t.flow_slug = v_flow AND t.status = 'started';
        IF room >= 1000 THEN
            RETURN;
        END IF;
    END IF;
    PERFORM pg_advisory_xact_lock(3, hashtext(v_flow));
    IF v_max IS NOT NULL THEN
        SELECT greatest(v_max - count(*), 0)::int INTO room
          FROM pgflow.step_tasks AS t WHERE t.flow_slug = v_flow AND t.status = 'started';
    END IF;
    IF v_control.limits ? 'rate_limit' THEN
        SELECT least(room, pgflow._rate_room(v_control.limits->'rate_limit', extract(epoch FROM
                   (SELECT r.tat FROM pgflow.flow_rate_state AS r WHERE r.flow_slug = v_flow AND r.step_slug = '')),
                   extract(epoch FROM clock_timestamp())))
          INTO room;
    END IF;
END;
$$;
