-- Start a run whose first tasks wait until a given time (pgflow-py addition; enqueue_in and
-- enqueue_at use it). The run and its step states are stored at once, exactly as start_flow
-- stores them; then the messages of the tasks start_flow queued are hidden until p_start_at
-- (plus the step's start_delay, which counts from when the run is due). Both happen in one
-- transaction, so no worker can see a message before it is due. A waiting step (signal, sleep,
-- subflow) started with the run begins its wait at that time too: its timeout, its wake time
-- and its child run count from the due time (pgflow._start_wait_steps, pgflow.wake_due_steps).
-- A p_start_at in the past, or NULL, means now: the call behaves like start_flow.
CREATE OR REPLACE FUNCTION pgflow.start_flow_at(
    p_flow_slug text,
    p_input jsonb,
    p_start_at timestamptz,
    p_run_id uuid DEFAULT NULL
)
RETURNS SETOF pgflow.runs
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_run pgflow.runs;
    v_queue record;
BEGIN
    -- pgflow-py (waiting steps): a waiting step started with the run begins its wait only when
    -- the run is due (pgflow._start_wait_steps reads this; pgflow.wake_due_steps begins it then)
    IF p_start_at IS NOT NULL AND p_start_at > clock_timestamp() THEN
        PERFORM set_config('pgflow.start_at', p_start_at::text, true);
    END IF;
    SELECT * INTO v_run FROM pgflow.start_flow(p_flow_slug, p_input, p_run_id);
    PERFORM set_config('pgflow.start_at', '', true);

    IF p_start_at IS NOT NULL AND p_start_at > clock_timestamp() THEN
        -- one update per queue the run's first tasks went to (one, unless the flow has step queues)
        FOR v_queue IN
            SELECT t.queue_name, array_agg(t.message_id) AS msg_ids,
                   array_agg(p_start_at + make_interval(secs => coalesce(s.opt_start_delay, 0))) AS visible_at
              FROM pgflow.step_tasks AS t
              JOIN pgflow.steps AS s ON s.flow_slug = t.flow_slug AND s.step_slug = t.step_slug
             WHERE t.run_id = v_run.run_id
               AND t.status = 'queued'
               AND t.message_id IS NOT NULL
             GROUP BY t.queue_name
        LOOP
            EXECUTE format(
                'UPDATE pgmq.%I AS q SET vt = due.visible_at '
                'FROM unnest($1::bigint[], $2::timestamptz[]) AS due(msg_id, visible_at) '
                'WHERE q.msg_id = due.msg_id',
                pgmq.format_table_name(v_queue.queue_name, 'q'))
            USING v_queue.msg_ids, v_queue.visible_at;
        END LOOP;
    END IF;

    RETURN NEXT v_run;
END;
$$;
