-- How many messages claim_tasks may read from queue p_queue_name now (pgflow-py flow control),
-- so that a limited or paused flow's backlog is not read only to be refused:
--   NULL - the queue's flow has no flow-wide limit (no flow control row, or step limits only):
--          read as many as asked; pgflow._start_tasks' admission does the rest;
--   0    - the flow is paused, or its running tasks fill its max_running: read nothing;
--   n    - max_running minus the running tasks (taking the flow's claim lock, as
--          pgflow._admit_claims, which counts again under it).
CREATE OR REPLACE FUNCTION pgflow._claim_room(p_queue_name text)
RETURNS int
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_control pgflow.flow_controls;
    v_max int;
    v_running int;
BEGIN
    SELECT c.* INTO v_control
      FROM pgflow.flow_controls AS c
     WHERE c.flow_slug = (SELECT s.flow_slug FROM pgflow.steps AS s WHERE s.queue_name = p_queue_name LIMIT 1);
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF v_control.paused_at IS NOT NULL THEN
        RETURN 0;
    END IF;
    v_max := (v_control.limits->>'max_running')::int;
    IF v_max IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock(3, hashtext(v_control.flow_slug));
    SELECT count(*)::int INTO v_running
      FROM pgflow.step_tasks AS t WHERE t.flow_slug = v_control.flow_slug AND t.status = 'started';
    RETURN greatest(v_max - v_running, 0);
END;
$$;
