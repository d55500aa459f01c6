-- Batch path: move on several runs at once after their steps completed (what _advance_run does
-- for one run). Runs whose ready steps are all plain - no condition to settle, at least one task
-- each, not a waiting step (pgflow-py) - have those steps started set-based: one UPDATE of the step states (step:started each),
-- one pgmq.send_batch per queue (steps.queue_name) and start delay for every task of every step, one INSERT of the
-- queued tasks. Any other run goes through _advance_run (conditions, taskless steps, completion).
-- The caller holds the locks of the runs.
-- Twin: start_ready_steps (through _advance_run) starts the same steps for one run; guarded by
-- tests/sql/complete_tasks/test_same_result_as_apply.py and
-- tests/sql/complete_tasks/test_same_result_as_complete_task.py.
CREATE OR REPLACE FUNCTION pgflow._advance_runs(p_run_ids uuid[])
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_full uuid[];
    v_run uuid;
    v_events boolean := pgflow._events_wanted();
BEGIN
    SELECT array_agg(DISTINCT ss.run_id) INTO v_full
      FROM pgflow.step_states AS ss
      JOIN pgflow.steps AS s ON s.flow_slug = ss.flow_slug AND s.step_slug = ss.step_slug
     WHERE ss.run_id = ANY (p_run_ids)
       AND ss.status = 'created' AND ss.remaining_deps = 0
       AND (s.required_input_pattern IS NOT NULL OR s.forbidden_input_pattern IS NOT NULL
            OR ss.initial_tasks IS NULL OR ss.initial_tasks = 0
            -- pgflow-py: a waiting step (signal, sleep, subflow) starts in start_ready_steps
            OR EXISTS (SELECT 1 FROM pgflow.wait_steps AS w
                        WHERE w.flow_slug = ss.flow_slug AND w.step_slug = ss.step_slug));

    WITH started AS (
        UPDATE pgflow.step_states AS ss
           SET status = 'started', started_at = now(), remaining_tasks = ss.initial_tasks
         WHERE ss.run_id = ANY (p_run_ids) AND NOT (ss.run_id = ANY (coalesce(v_full, '{}')))
           AND ss.status = 'created' AND ss.remaining_deps = 0 AND ss.initial_tasks > 0
        RETURNING ss.flow_slug, ss.run_id, ss.step_slug, ss.initial_tasks,
            CASE WHEN v_events THEN pgflow._emit(pgflow._step_event('step:started', ss)) END AS emitted
    ),
    tasks AS (
        SELECT st.flow_slug, st.run_id, st.step_slug, s.queue_name, i AS task_index,
               coalesce(s.opt_start_delay, 0) AS delay,
               row_number() OVER (PARTITION BY s.queue_name, coalesce(s.opt_start_delay, 0)
                                  ORDER BY st.run_id, st.step_slug, i) AS pos
          FROM started AS st
          JOIN pgflow.steps AS s ON s.flow_slug = st.flow_slug AND s.step_slug = st.step_slug
         CROSS JOIN generate_series(0, st.initial_tasks - 1) AS i
    ),
    sent AS (
        -- pgmq numbers a batch in array order
        SELECT b.queue_name, b.delay, m.msg_id, m.pos
          FROM (SELECT t.queue_name, t.delay,
                       array_agg(jsonb_build_object('flow_slug', t.flow_slug, 'run_id', t.run_id,
                                                    'step_slug', t.step_slug, 'task_index', t.task_index)
                                 ORDER BY t.pos) AS msgs
                  FROM tasks AS t
                 GROUP BY t.queue_name, t.delay) AS b
         CROSS JOIN LATERAL pgmq.send_batch(b.queue_name, b.msgs, b.delay) WITH ORDINALITY AS m (msg_id, pos)
    )
    INSERT INTO pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, message_id, queue_name)
    SELECT t.flow_slug, t.run_id, t.step_slug, t.task_index, sent.msg_id, t.queue_name
      FROM tasks AS t
      JOIN sent ON sent.queue_name = t.queue_name AND sent.delay = t.delay AND sent.pos = t.pos;

    FOR v_run IN SELECT unnest(v_full) ORDER BY 1 LOOP
        PERFORM pgflow._advance_run(v_run);
    END LOOP;
END;
$$;
