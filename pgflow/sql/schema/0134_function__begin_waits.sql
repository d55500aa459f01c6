-- pgflow-py addition (durable waits): begin the waits of some steps of a run whose waits rows
-- exist but have not begun (due_at = since: the time they begin; pgflow._start_wait_steps makes
-- them). A signal wait gets its timeout (since + timeout; NULL: none), a sleep its wake time
-- (from since, or from the time in its input). Then, in step order then task order: a signal
-- kept for the step is delivered, a wake time already past completes the step, a wake time
-- that is not a timestamp fails it, and each subflow task starts its child run
-- (pgflow._start_child_run). Waits that began already are left alone. Called by
-- _start_wait_steps (a run due now) and by wake_due_steps (a run enqueued for later, once due).
-- The caller holds the run row lock.
CREATE OR REPLACE FUNCTION pgflow._begin_waits(p_run_id uuid, p_steps text[])
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_wait record;
BEGIN
    WITH begun AS (
        UPDATE pgflow.waits AS w
           SET due_at = CASE w.wait_kind
                   WHEN 'signal' THEN w.since + make_interval(secs => ws.timeout_seconds)
                   WHEN 'sleep' THEN pgflow._wake_time(
                       ws.at_path,
                       CASE WHEN ws.at_path IS NOT NULL
                            THEN pgflow._wait_input(r.flow_slug, p_run_id, w.step_slug, r.input) END,
                       w.since, ws.sleep_seconds)
               END
          FROM pgflow.runs AS r, pgflow.wait_steps AS ws
         WHERE w.run_id = p_run_id AND w.step_slug = ANY (p_steps) AND w.due_at = w.since
           AND r.run_id = p_run_id AND ws.flow_slug = r.flow_slug AND ws.step_slug = w.step_slug
        RETURNING w.step_slug, w.task_index
    )
    SELECT array_agg(DISTINCT begun.step_slug) INTO p_steps FROM begun;
    IF p_steps IS NULL THEN
        RETURN;
    END IF;
    -- what happens at once (each call below does nothing when a nested start - a completed wait
    -- starting the next steps - has done it already)
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
         WHERE w.run_id = p_run_id AND w.step_slug = ANY (p_steps)
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
