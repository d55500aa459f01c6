-- Start every step of a started run that is ready: created, no pending dependency and a known,
-- non-zero number of tasks. Each becomes 'started' (remaining_tasks = initial_tasks) with
-- step:started, and gets one pgmq message per task on the step's queue (steps.queue_name) -
-- {"flow_slug", "run_id", "step_slug", "task_index"} - sent with the step's start_delay, plus a
-- queued step_tasks row holding the message id and that queue's name. A run that is over
-- (completed or failed) starts nothing. Taskless steps are left to
-- cascade_complete_taskless_steps.
-- pgflow-py: a waiting step (pgflow.wait_steps: signal, sleep, subflow) gets no message; it
-- starts in pgflow._start_wait_steps, called last.
-- Twins: _advance_runs starts the plain ready steps of many runs set-based (guarded by
-- tests/sql/complete_tasks/test_same_result_as_apply.py), and _start_run_directly starts a
-- plain run's root steps in the statement that inserts the run (guarded by
-- tests/sql/start_flow/test_direct_start.py).
CREATE OR REPLACE FUNCTION pgflow.start_ready_steps(run_id uuid)
RETURNS void
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    WITH started AS (
        UPDATE pgflow.step_states AS ss
           SET status = 'started', started_at = now(), remaining_tasks = ss.initial_tasks
          FROM pgflow.runs AS r
         WHERE ss.run_id = start_ready_steps.run_id
           AND r.run_id = start_ready_steps.run_id AND NOT pgflow._is_terminal(r.status)
           AND ss.status = 'created' AND ss.remaining_deps = 0 AND ss.initial_tasks > 0
           AND NOT EXISTS (SELECT 1 FROM pgflow.wait_steps AS w
                            WHERE w.flow_slug = ss.flow_slug AND w.step_slug = ss.step_slug)
        RETURNING ss.flow_slug, ss.run_id, ss.step_slug, ss.initial_tasks,
            pgflow._emit(pgflow._step_event('step:started', ss)) AS emitted
    ),
    sent AS (
        -- one send_batch per step (its own delay); pgmq numbers a batch in array order
        SELECT st.flow_slug, st.run_id, st.step_slug, s.queue_name, m.msg_id,
               (row_number() OVER (PARTITION BY st.step_slug ORDER BY m.msg_id) - 1)::int AS task_index
          FROM started AS st
          JOIN pgflow.steps AS s ON s.flow_slug = st.flow_slug AND s.step_slug = st.step_slug
         CROSS JOIN LATERAL pgmq.send_batch(
                s.queue_name,
                ARRAY(SELECT jsonb_build_object('flow_slug', st.flow_slug, 'run_id', st.run_id,
                                                'step_slug', st.step_slug, 'task_index', i)
                        FROM generate_series(0, st.initial_tasks - 1) AS i
                       ORDER BY i),
                coalesce(s.opt_start_delay, 0)) AS m (msg_id)
    )
    INSERT INTO pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, message_id, queue_name)
    SELECT sent.flow_slug, sent.run_id, sent.step_slug, sent.task_index, sent.msg_id, sent.queue_name
      FROM sent;
    -- pgflow-py: the waiting steps (signal, sleep, subflow) start without messages; only flows
    -- that have some look further
    SELECT pgflow._start_wait_steps(start_ready_steps.run_id)
     WHERE EXISTS (SELECT 1 FROM pgflow.runs AS r JOIN pgflow.wait_steps AS w ON w.flow_slug = r.flow_slug
                    WHERE r.run_id = start_ready_steps.run_id);
$$;
