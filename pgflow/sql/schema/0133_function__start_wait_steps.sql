-- pgflow-py addition (durable waits): start the ready waiting steps of a run (signal, sleep and
-- subflow steps, listed in pgflow.wait_steps); start_ready_steps calls it after starting the
-- plain ones. Each becomes 'started' (step:started) with its tasks - one for a single step, one
-- per element for a map of subflows - queued WITHOUT a queue message, so no worker, Python or
-- TypeScript, ever claims them, and one pgflow.waits row per task: a signal step waits until its
-- timeout (NULL: none), a sleep step until its wake time, a subflow task for its child run.
-- The waits begin now (pgflow._begin_waits, in this transaction: a kept signal is delivered, a
-- past wake time completes the step, a child run starts), or, for a run that start_flow_at
-- enqueues for later (setting pgflow.start_at, set while it starts the run), at the run's due
-- time: until then each waits row has since = due_at = that time, and pgflow.wake_due_steps
-- begins them once it comes. The caller holds the run row lock.
CREATE OR REPLACE FUNCTION pgflow._start_wait_steps(p_run_id uuid)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_begin timestamptz := greatest(now(), nullif(current_setting('pgflow.start_at', true), '')::timestamptz);
    v_started text[];
BEGIN
    WITH started AS (
        UPDATE pgflow.step_states AS ss
           SET status = 'started', started_at = now(), remaining_tasks = ss.initial_tasks
          FROM pgflow.runs AS r, pgflow.wait_steps AS w
         WHERE ss.run_id = p_run_id AND r.run_id = p_run_id AND NOT pgflow._is_terminal(r.status)
           AND w.flow_slug = ss.flow_slug AND w.step_slug = ss.step_slug
           AND ss.status = 'created' AND ss.remaining_deps = 0 AND ss.initial_tasks > 0
        RETURNING ss.flow_slug, ss.step_slug, ss.initial_tasks, w.wait_kind,
            pgflow._emit(pgflow._step_event('step:started', ss)) AS emitted
    ),
    tasks AS (
        INSERT INTO pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, queue_name)
        SELECT st.flow_slug, p_run_id, st.step_slug, i, s.queue_name
          FROM started AS st
          JOIN pgflow.steps AS s ON s.flow_slug = st.flow_slug AND s.step_slug = st.step_slug
         CROSS JOIN generate_series(0, st.initial_tasks - 1) AS i
        RETURNING step_tasks.step_slug, step_tasks.task_index
    ),
    waits AS (
        -- not begun yet: due_at = since, the time they begin (_begin_waits sets their deadline)
        INSERT INTO pgflow.waits (run_id, step_slug, task_index, wait_kind, since, due_at)
        SELECT p_run_id, t.step_slug, t.task_index, st.wait_kind, v_begin, v_begin
          FROM tasks AS t
          JOIN started AS st ON st.step_slug = t.step_slug
        RETURNING waits.step_slug
    )
    SELECT array_agg(DISTINCT waits.step_slug) INTO v_started FROM waits;

    IF v_started IS NOT NULL AND v_begin <= now() THEN
        PERFORM pgflow._begin_waits(p_run_id, v_started);
    END IF;
END;
$$;
