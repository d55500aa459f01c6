-- pgflow-py: which of some started runs (p_run_ids) have a queued task whose message a worker
-- can read now - runs that are running, not waiting for later. The dashboard's overview asks it
-- before _waiting_runs, which must read every queued task's message to prove a run waits: for a
-- run that can be worked on, one visible message answers. Each started step of a run is looked
-- at in its tasks' queue (a step's tasks share one), through the queue's vt index, up to the
-- first visible message of that run. Read-only.
CREATE OR REPLACE FUNCTION pgflow._runs_with_visible_tasks(p_run_ids uuid[])
RETURNS SETOF uuid
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_step record;
    v_found boolean;
    v_last uuid;
BEGIN
    FOR v_step IN
        SELECT ss.run_id, q.queue_name
          FROM pgflow.step_states AS ss
          CROSS JOIN LATERAL (
              SELECT t.queue_name FROM pgflow.step_tasks AS t
               WHERE t.run_id = ss.run_id AND t.step_slug = ss.step_slug AND t.status = 'queued'
                 AND t.message_id IS NOT NULL
               LIMIT 1) AS q
         WHERE ss.run_id = ANY (p_run_ids) AND ss.status = 'started'
         ORDER BY ss.run_id
    LOOP
        CONTINUE WHEN v_step.run_id = v_last;  -- already found running
        EXECUTE format(
            'SELECT EXISTS (SELECT 1 FROM pgmq.%I AS m
                              JOIN pgflow.step_tasks AS t
                                ON t.queue_name = $1 AND t.message_id = m.msg_id
                             WHERE m.vt <= clock_timestamp() AND t.run_id = $2 AND t.status = ''queued'')',
            pgmq.format_table_name(v_step.queue_name, 'q'))
        INTO v_found
        USING v_step.queue_name, v_step.run_id;
        IF v_found THEN
            v_last := v_step.run_id;
            RETURN NEXT v_step.run_id;
        END IF;
    END LOOP;
END;
$$;
