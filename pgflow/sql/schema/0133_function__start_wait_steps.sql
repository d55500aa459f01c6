-- pgflow-py addition (durable waits): start the ready waiting steps of a run (signal, sleep and
-- subflow steps, listed in pgflow.wait_steps); start_ready_steps calls it after starting the
-- plain ones. Each becomes 'started' (step:started) with its tasks - one for a single step, one
-- per element for a map of subflows - queued WITHOUT a queue message, so no worker, Python or
-- TypeScript, ever claims them, and one pgflow.waits row per task: a signal step waits until its
-- timeout (NULL: none), a sleep step until its wake time, a subflow task for its child run.
-- Then, in the same transaction: a signal kept for the step is delivered, a wake time already
-- past completes the step, a wake time that is not a timestamp fails it, and each subflow task
-- starts its child run (pgflow._start_child_run). The caller holds the run row lock.
CREATE OR REPLACE FUNCTION pgflow._start_wait_steps(p_run_id uuid)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_started text[];
    v_wait record;
BEGIN
    WITH started AS (
        UPDATE pgflow.step_states AS ss
           SET status = 'started', started_at = now(), remaining_tasks = ss.initial_tasks
          FROM pgflow.runs AS r, pgflow.wait_steps AS w
         WHERE ss.run_id = p_run_id AND r.run_id = p_run_id AND NOT pgflow._is_terminal(r.status)
           AND w.flow_slug = ss.flow_slug AND w.step_slug = ss.step_slug
           AND ss.status = 'created' AND ss.remaining_deps = 0 AND ss.initial_tasks > 0
        RETURNING ss.flow_slug, ss.step_slug, ss.initial_tasks, ss.started_at, w.wait_kind,
            w.timeout_seconds, w.at_path, w.sleep_seconds, r.input AS run_input,
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
        INSERT INTO pgflow.waits (run_id, step_slug, task_index, wait_kind, since, due_at)
        SELECT p_run_id, t.step_slug, t.task_index, st.wait_kind, st.started_at,
               CASE st.wait_kind
                   WHEN 'signal' THEN st.started_at + make_interval(secs => st.timeout_seconds)
                   WHEN 'sleep' THEN pgflow._wake_time(
                       st.at_path,
                       CASE WHEN st.at_path IS NOT NULL
                            THEN pgflow._wait_input(st.flow_slug, p_run_id, st.step_slug, st.run_input) END,
                       st.started_at, st.sleep_seconds)
               END
          FROM tasks AS t
          JOIN started AS st ON st.step_slug = t.step_slug
        RETURNING waits.step_slug
    )
    SELECT array_agg(DISTINCT waits.step_slug) INTO v_started FROM waits;

    IF v_started IS NULL THEN
        RETURN;
    END IF;
    -- what happens at once, in step order then task order (each call below does nothing when a
    -- nested start - a completed wait starting the next steps - has done it already)
    FOR v_wait IN
        SELECT w.step_slug, w.task_index, w.wait_kind, w.due_at, ws.at_path, sig.payload,
               CASE WHEN w.wait_kind = 'sleep' AND w.due_at IS NULL
                    THEN pgflow._wait_input(r.flow_slug, p_run_id, w.step_slug, r.input) #> ws.at_path
               END AS at_value
          FROM pgflow.waits AS w
          JOIN pgflow.runs AS r ON r.run_id = w.run_id
          JOIN pgflow.wait_steps AS ws ON ws.flow_slug = r.flow_slug AND ws.step_slug = w.step_slug
          JOIN pgflow.steps AS s ON s.flow_slug = r.flow_slug AND s.step_slug = w.step_slug
          LEFT JOIN pgflow.signals AS sig
                 ON sig.run_id = w.run_id AND sig.step_slug = w.step_slug AND sig.delivered_at IS NULL
         WHERE w.run_id = p_run_id AND w.step_slug = ANY (v_started)
         ORDER BY s.step_index, w.task_index
    LOOP
        IF v_wait.wait_kind = 'signal' AND v_wait.payload IS NOT NULL THEN
            UPDATE pgflow.signals AS sig SET delivered_at = now()
             WHERE sig.run_id = p_run_id AND sig.step_slug = v_wait.step_slug;
            PERFORM pgflow._end_wait(p_run_id, v_wait.step_slug, v_wait.task_index, v_wait.payload);
        ELSIF v_wait.wait_kind = 'sleep' AND v_wait.due_at IS NULL THEN
            PERFORM pgflow._fail_wait(p_run_id, v_wait.step_slug, v_wait.task_index, format(
                'sleep step %L: its input has no time at %s (got %s); put an ISO 8601 timestamp such as '
                '"2026-01-31T09:00:00Z" (or seconds since 1970) there, or sleep for a fixed duration',
                v_wait.step_slug, array_to_string(v_wait.at_path, '.'), coalesce(v_wait.at_value::text, 'nothing')));
        ELSIF v_wait.wait_kind = 'sleep' AND v_wait.due_at <= now() THEN
            PERFORM pgflow._end_wait(p_run_id, v_wait.step_slug, v_wait.task_index,
                                     jsonb_build_object('slept_until', v_wait.due_at));
        ELSIF v_wait.wait_kind = 'subflow' THEN
            PERFORM pgflow._start_child_run(p_run_id, v_wait.step_slug, v_wait.task_index);
        END IF;
    END LOOP;
END;
$$;
